/* expr.c - the condition language (expr.h): a hand-written recursive-descent parser into a
 * flat array of typed nodes, and a tree-walking evaluator.
 *
 * Types are checked while parsing: arithmetic and comparisons take numbers, and/or/not
 * take conditions, and the whole text must be a condition. Recursion is bounded by
 * MD_EXPR_MAX_DEPTH (nesting) and the node count by MD_EXPR_MAX_NODES, so no input can
 * exhaust the stack of the parser or of the evaluator (tests/fuzz/fuzz_expr.c). */
#include "analytics/expr.h"

#include "core/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    N_NUM,
    N_TERM,
    N_NEG,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_EQ,
    N_NE,
    N_AND,
    N_OR,
    N_NOT
} node_kind;

typedef struct node {
    node_kind kind;
    int a, b;    /* operand nodes */
    double num;  /* N_NUM */
    int term;    /* N_TERM */
    int is_bool; /* the node is a condition (else a number) */
} node;

struct md_expr {
    node nodes[MD_EXPR_MAX_NODES];
    int n_nodes, root;
    md_expr_term terms[MD_EXPR_MAX_TERMS];
    int n_terms;
};

static const char *const field_names[] = {"open", "high", "low", "close", "volume"};

/* -- lexer ------------------------------------------------------------------------------- */

typedef enum { T_END, T_NUM, T_NAME, T_OP, T_LPAREN, T_RPAREN } tok_kind;

typedef struct parser {
    const char *text;
    size_t pos;       /* next character */
    tok_kind tok;     /* current token */
    size_t tok_start; /* its position */
    size_t tok_len;
    double num;
    char op[3];
    int depth;
    md_expr *e;
    md_error *err;
} parser;

__attribute__((format(printf, 3, 4))) static int fail(parser *p, size_t at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return md_error_set(p->err, MD_EPARAM, "column %zu: %s", at + 1, msg);
}

/* Length of a number at s (digits, an optional fraction, an optional exponent), 0 if none.
 * A '.' belongs to the number only when a digit follows ("20.upper" is 20 then ".upper"). */
static size_t number_len(const char *s)
{
    size_t i = 0;
    while (isdigit((unsigned char)s[i])) i++;
    if (s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
        i++;
        while (isdigit((unsigned char)s[i])) i++;
    }
    if (i == 0) return 0;
    if ((s[i] == 'e' || s[i] == 'E') &&
        (isdigit((unsigned char)s[i + 1]) ||
         ((s[i + 1] == '+' || s[i + 1] == '-') && isdigit((unsigned char)s[i + 2])))) {
        i += 2;
        while (isdigit((unsigned char)s[i])) i++;
    }
    return i;
}

/* Length of a name with its indicator parameters and output: rsi:14, bbands:20:2.5.upper,
 * adx:14.+di. */
static size_t name_len(const char *s)
{
    size_t i = 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '_') i++;
    while (s[i] == ':') {
        size_t n = number_len(s + i + 1);
        if (!n) return i + 1; /* "rsi:" - the parser names the missing number */
        i += 1 + n;
    }
    if (s[i] == '.') {
        size_t j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        size_t k = j;
        while (isalnum((unsigned char)s[k]) || s[k] == '_') k++;
        if (k > j) i = k;
    }
    return i;
}

static int next(parser *p)
{
    const char *s = p->text;
    while (isspace((unsigned char)s[p->pos])) p->pos++;
    p->tok_start = p->pos;
    char c = s[p->pos];
    if (!c) {
        p->tok = T_END;
        p->tok_len = 0;
        return 0;
    }
    size_t n = number_len(s + p->pos);
    if (!n && c == '.' && isdigit((unsigned char)s[p->pos + 1])) /* ".5" */
        for (n = 1; isdigit((unsigned char)s[p->pos + n]);) n++;
    if (n) {
        char buf[64];
        if (n >= sizeof buf) return fail(p, p->pos, "number too long");
        memcpy(buf, s + p->pos, n);
        buf[n] = 0;
        p->num = strtod(buf, NULL);
        if (!isfinite(p->num)) return fail(p, p->pos, "number out of range");
        p->tok = T_NUM;
        p->tok_len = n;
        p->pos += n;
        return 0;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        p->tok = T_NAME;
        p->tok_len = name_len(s + p->pos);
        p->pos += p->tok_len;
        return 0;
    }
    if (c == '(' || c == ')') {
        p->tok = c == '(' ? T_LPAREN : T_RPAREN;
        p->tok_len = 1;
        p->pos++;
        return 0;
    }
    static const char *const ops[] = {"<=", ">=", "==", "!=", "<", ">", "=", "+", "-", "*", "/"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t k = strlen(ops[i]);
        if (strncmp(s + p->pos, ops[i], k) == 0) {
            p->tok = T_OP;
            memcpy(p->op, ops[i], k + 1);
            p->tok_len = k;
            p->pos += k;
            return 0;
        }
    }
    if (isprint((unsigned char)c)) return fail(p, p->pos, "unexpected character '%c'", c);
    return fail(p, p->pos, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
}

/* 1 when the current token is the name kw (case-insensitive). */
static int is_word(const parser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->tok == T_NAME && p->tok_len == n && strncasecmp(p->text + p->tok_start, kw, n) == 0;
}

static int is_op(const parser *p, const char *op)
{
    return p->tok == T_OP && strcmp(p->op, op) == 0;
}

/* -- nodes and terms ------------------------------------------------------------------------ */

static int add_node(parser *p, node_kind k, int a, int b, int is_bool)
{
    md_expr *e = p->e;
    if (e->n_nodes == MD_EXPR_MAX_NODES) {
        fail(p, p->tok_start, "condition too long (at most %d operators and operands)",
             MD_EXPR_MAX_NODES);
        return -1;
    }
    node *n = &e->nodes[e->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = k, n->a = a, n->b = b, n->is_bool = is_bool;
    return e->n_nodes++;
}

/* The term named by the current T_NAME token: a field or an indicator output. */
static int parse_term(parser *p, md_expr_term *t)
{
    size_t at = p->tok_start, len = p->tok_len;
    char text[128];
    if (len >= sizeof text) return fail(p, at, "name too long");
    for (size_t i = 0; i < len; i++) text[i] = (char)tolower((unsigned char)p->text[at + i]);
    text[len] = 0;
    memset(t, 0, sizeof *t);
    for (int f = 0; f < (int)(sizeof field_names / sizeof field_names[0]); f++) {
        if (strcmp(text, field_names[f]) == 0) {
            t->is_field = 1;
            t->field = (md_field)f;
            snprintf(t->name, sizeof t->name, "%s", field_names[f]);
            return 0;
        }
    }
    char *dot = NULL;
    for (char *c = text; *c; c++) /* the output's '.' is the first not inside a number */
        if (*c == '.' && !isdigit((unsigned char)c[1])) {
            dot = c;
            break;
        }
    if (dot) *dot = 0;
    if (text[strlen(text) - 1] == ':')
        return fail(p, at + strlen(text), "expected a number after ':'");
    char base[64];
    snprintf(base, sizeof base, "%.*s", (int)strcspn(text, ":"), text);
    if (!md_ind_find(base)) {
        size_t nd;
        const md_ind_def *defs = md_ind_defs(&nd);
        char known[400] = "";
        for (size_t i = 0; i < nd; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? " " : "",
                     defs[i].name);
        return md_error_set(p->err, MD_EPARAM,
                            "column %zu: unknown name '%.40s' (fields: open high low close "
                            "volume; indicators: %s)",
                            at + 1, base, known);
    }
    md_error e2;
    if (md_ind_parse(text, &t->spec, 1, &e2) != 1) /* its message starts "names: " */
        return md_error_set(p->err, MD_EPARAM, "column %zu: %s", at + 1,
                            strncmp(e2.msg, "names: ", 7) == 0 ? e2.msg + 7 : e2.msg);
    const md_ind_def *d = t->spec.def;
    if (dot) {
        const char *out = dot + 1;
        for (t->output = 0; t->output < d->noutputs; t->output++)
            if (strcmp(d->outputs[t->output], out) == 0) break;
        if (t->output == d->noutputs) {
            char outs[120] = "";
            for (int k = 0; k < d->noutputs; k++)
                snprintf(outs + strlen(outs), sizeof outs - strlen(outs), "%s%s", k ? ", " : "",
                         d->outputs[k]);
            return md_error_set(p->err, MD_EPARAM, "column %zu: %s has no output '%.20s' (%s)",
                                at + 1, d->name, out, outs);
        }
    } else if (d->noutputs > 1) {
        char outs[120] = "";
        for (int k = 0; k < d->noutputs; k++)
            snprintf(outs + strlen(outs), sizeof outs - strlen(outs), "%s%s", k ? ", " : "",
                     d->outputs[k]);
        return md_error_set(p->err, MD_EPARAM,
                            "column %zu: %s has %d outputs (%s): name one, e.g. %s.%s", at + 1,
                            d->name, d->noutputs, outs, t->spec.name, d->outputs[1]);
    }
    if (d->noutputs > 1)
        snprintf(t->name, sizeof t->name, "%s.%s", t->spec.name, d->outputs[t->output]);
    else
        snprintf(t->name, sizeof t->name, "%s", t->spec.name);
    return 0;
}

static int term_index(parser *p, const md_expr_term *t)
{
    md_expr *e = p->e;
    for (int i = 0; i < e->n_terms; i++)
        if (strcmp(e->terms[i].name, t->name) == 0) return i;
    if (e->n_terms == MD_EXPR_MAX_TERMS) {
        fail(p, p->tok_start, "at most %d distinct fields and indicators", MD_EXPR_MAX_TERMS);
        return -1;
    }
    e->terms[e->n_terms] = *t;
    return e->n_terms++;
}

/* -- parser --------------------------------------------------------------------------------- */

static int parse_or(parser *p);
static int parse_sum(parser *p);

static int enter(parser *p)
{
    if (++p->depth > MD_EXPR_MAX_DEPTH) {
        fail(p, p->tok_start, "nested too deeply (at most %d levels)", MD_EXPR_MAX_DEPTH);
        return -1;
    }
    return 0;
}

static int need_num(parser *p, int n, size_t at, const char *what)
{
    if (n >= 0 && p->e->nodes[n].is_bool) {
        fail(p, at, "%s needs a number, not a condition", what);
        return -1;
    }
    return n;
}

static int need_bool(parser *p, int n, size_t at, const char *what)
{
    if (n >= 0 && !p->e->nodes[n].is_bool) {
        fail(p, at, "%s needs a condition (a comparison such as rsi:14 < 30), not a number", what);
        return -1;
    }
    return n;
}

static int parse_factor(parser *p)
{
    if (enter(p)) return -1;
    int n = -1;
    size_t at = p->tok_start;
    if (p->tok == T_NUM) {
        n = add_node(p, N_NUM, -1, -1, 0);
        if (n >= 0) p->e->nodes[n].num = p->num;
        if (n >= 0 && next(p)) n = -1;
    } else if (is_op(p, "-")) {
        if (next(p)) return -1;
        int a = need_num(p, parse_factor(p), at, "'-'");
        n = a < 0 ? -1 : add_node(p, N_NEG, a, -1, 0);
    } else if (p->tok == T_LPAREN) {
        if (next(p)) return -1;
        n = parse_or(p);
        if (n >= 0 && p->tok != T_RPAREN) {
            fail(p, p->tok_start, "expected ')'");
            n = -1;
        }
        if (n >= 0 && next(p)) n = -1;
    } else if (p->tok == T_NAME && !is_word(p, "and") && !is_word(p, "or") && !is_word(p, "not")) {
        md_expr_term t;
        if (parse_term(p, &t)) return -1;
        int ti = term_index(p, &t);
        n = ti < 0 ? -1 : add_node(p, N_TERM, -1, -1, 0);
        if (n >= 0) p->e->nodes[n].term = ti;
        if (n >= 0 && next(p)) n = -1;
    } else if (p->tok == T_END) {
        fail(p, at, "unexpected end: expected a number, a field or an indicator");
    } else {
        char what[24];
        snprintf(what, sizeof what, "%.*s", (int)(p->tok_len < 20 ? p->tok_len : 20),
                 p->text + p->tok_start);
        fail(p, at, "expected a number, a field or an indicator, found '%s'", what);
    }
    p->depth--;
    return n;
}

static int parse_product(parser *p)
{
    int a = parse_factor(p);
    while (a >= 0 && (is_op(p, "*") || is_op(p, "/"))) {
        size_t at = p->tok_start;
        node_kind k = is_op(p, "*") ? N_MUL : N_DIV;
        if (need_num(p, a, at, k == N_MUL ? "'*'" : "'/'") < 0 || next(p)) return -1;
        int b = need_num(p, parse_factor(p), at, k == N_MUL ? "'*'" : "'/'");
        a = b < 0 ? -1 : add_node(p, k, a, b, 0);
    }
    return a;
}

static int parse_sum(parser *p)
{
    int a = parse_product(p);
    while (a >= 0 && (is_op(p, "+") || is_op(p, "-"))) {
        size_t at = p->tok_start;
        node_kind k = is_op(p, "+") ? N_ADD : N_SUB;
        if (need_num(p, a, at, k == N_ADD ? "'+'" : "'-'") < 0 || next(p)) return -1;
        int b = need_num(p, parse_product(p), at, k == N_ADD ? "'+'" : "'-'");
        a = b < 0 ? -1 : add_node(p, k, a, b, 0);
    }
    return a;
}

static int parse_compare(parser *p)
{
    int a = parse_sum(p);
    if (a < 0 || p->tok != T_OP) return a;
    static const struct {
        const char *op;
        node_kind k;
    } cmp[] = {{"<", N_LT},  {"<=", N_LE}, {">", N_GT}, {">=", N_GE},
               {"==", N_EQ}, {"=", N_EQ},  {"!=", N_NE}};
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        if (!is_op(p, cmp[i].op)) continue;
        size_t at = p->tok_start;
        char what[8];
        snprintf(what, sizeof what, "'%s'", cmp[i].op);
        if (need_num(p, a, at, what) < 0 || next(p)) return -1;
        int b = need_num(p, parse_sum(p), at, what);
        if (b < 0) return -1;
        if (p->tok == T_OP && strchr("<>=!", p->op[0])) {
            fail(p, p->tok_start, "comparisons do not chain: join them with 'and'");
            return -1;
        }
        return add_node(p, cmp[i].k, a, b, 1);
    }
    return a;
}

static int parse_unary(parser *p)
{
    if (!is_word(p, "not")) return parse_compare(p);
    size_t at = p->tok_start;
    if (enter(p) || next(p)) return -1;
    int a = need_bool(p, parse_unary(p), at, "'not'");
    p->depth--;
    return a < 0 ? -1 : add_node(p, N_NOT, a, -1, 1);
}

static int parse_and(parser *p)
{
    int a = parse_unary(p);
    while (a >= 0 && is_word(p, "and")) {
        size_t at = p->tok_start;
        if (need_bool(p, a, at, "'and'") < 0 || next(p)) return -1;
        int b = need_bool(p, parse_unary(p), at, "'and'");
        a = b < 0 ? -1 : add_node(p, N_AND, a, b, 1);
    }
    return a;
}

static int parse_or(parser *p)
{
    if (enter(p)) return -1;
    int a = parse_and(p);
    while (a >= 0 && is_word(p, "or")) {
        size_t at = p->tok_start;
        if (need_bool(p, a, at, "'or'") < 0 || next(p)) return -1;
        int b = need_bool(p, parse_and(p), at, "'or'");
        a = b < 0 ? -1 : add_node(p, N_OR, a, b, 1);
    }
    p->depth--;
    return a;
}

int md_expr_parse(const char *text, md_expr **out, md_error *err)
{
    if (!text || !*text) return md_error_set(err, MD_EPARAM, "empty condition");
    size_t len = strlen(text);
    if (len > MD_EXPR_MAX_TEXT)
        return md_error_set(err, MD_EPARAM, "condition longer than %d characters",
                            MD_EXPR_MAX_TEXT);
    parser p = {.text = text, .err = err};
    p.e = md_calloc(1, sizeof *p.e);
    int root = next(&p) ? -1 : parse_or(&p);
    if (root >= 0 && p.tok != T_END) {
        char what[24];
        snprintf(what, sizeof what, "%.*s", (int)(p.tok_len < 20 ? p.tok_len : 20),
                 text + p.tok_start);
        fail(&p, p.tok_start, "expected 'and', 'or' or the end, found '%s'", what);
        root = -1;
    }
    if (root >= 0 && !p.e->nodes[root].is_bool) {
        md_error_set(err, MD_EPARAM,
                     "column 1: a condition must compare, e.g. rsi:14 < 30 (this is a number)");
        root = -1;
    }
    if (root < 0) {
        md_free(p.e);
        return err ? err->rc : MD_EPARAM;
    }
    p.e->root = root;
    *out = p.e;
    return 0;
}

void md_expr_free(md_expr *e)
{
    md_free(e);
}

size_t md_expr_terms(const md_expr *e, const md_expr_term **terms)
{
    *terms = e->terms;
    return (size_t)e->n_terms;
}

/* -- evaluation ----------------------------------------------------------------------------- */

static double eval_num(const md_expr *e, int i, const double *vals)
{
    const node *n = &e->nodes[i];
    switch (n->kind) {
    case N_NUM: return n->num;
    case N_TERM: return vals[n->term];
    case N_NEG: return -eval_num(e, n->a, vals);
    case N_ADD: return eval_num(e, n->a, vals) + eval_num(e, n->b, vals);
    case N_SUB: return eval_num(e, n->a, vals) - eval_num(e, n->b, vals);
    case N_MUL: return eval_num(e, n->a, vals) * eval_num(e, n->b, vals);
    case N_DIV: return eval_num(e, n->a, vals) / eval_num(e, n->b, vals);
    default: return NAN;
    }
}

static int eval_bool(const md_expr *e, int i, const double *vals)
{
    const node *n = &e->nodes[i];
    switch (n->kind) {
    case N_NOT: {
        int a = eval_bool(e, n->a, vals);
        return a < 0 ? -1 : !a;
    }
    case N_AND: {
        int a = eval_bool(e, n->a, vals), b = eval_bool(e, n->b, vals);
        if (a == 0 || b == 0) return 0;
        return a < 0 || b < 0 ? -1 : 1;
    }
    case N_OR: {
        int a = eval_bool(e, n->a, vals), b = eval_bool(e, n->b, vals);
        if (a == 1 || b == 1) return 1;
        return a < 0 || b < 0 ? -1 : 0;
    }
    default: break;
    }
    double x = eval_num(e, n->a, vals), y = eval_num(e, n->b, vals);
    if (!isfinite(x) || !isfinite(y)) return -1;
    switch (n->kind) {
    case N_LT: return x < y;
    case N_LE: return x <= y;
    case N_GT: return x > y;
    case N_GE: return x >= y;
    case N_EQ: return x == y;
    case N_NE: return x != y;
    default: return -1;
    }
}

int md_expr_eval(const md_expr *e, const double *vals)
{
    return eval_bool(e, e->root, vals);
}

/* -- rendering ------------------------------------------------------------------------------ */

static void render(const md_expr *e, int i, md_buf *b)
{
    static const char *const sym[] = {
        [N_ADD] = "+", [N_SUB] = "-", [N_MUL] = "*", [N_DIV] = "/", [N_LT] = "<",    [N_LE] = "<=",
        [N_GT] = ">",  [N_GE] = ">=", [N_EQ] = "==", [N_NE] = "!=", [N_AND] = "and", [N_OR] = "or"};
    const node *n = &e->nodes[i];
    switch (n->kind) {
    case N_NUM:
        if (n->num < 0) md_buf_putc(b, '(');
        md_buf_num(b, n->num);
        if (n->num < 0) md_buf_putc(b, ')');
        return;
    case N_TERM: md_buf_puts(b, e->terms[n->term].name); return;
    case N_NEG:
        md_buf_puts(b, "(-");
        render(e, n->a, b);
        md_buf_putc(b, ')');
        return;
    case N_NOT:
        md_buf_puts(b, "(not ");
        render(e, n->a, b);
        md_buf_putc(b, ')');
        return;
    default:
        md_buf_putc(b, '(');
        render(e, n->a, b);
        md_buf_putc(b, ' ');
        md_buf_puts(b, sym[n->kind]);
        md_buf_putc(b, ' ');
        render(e, n->b, b);
        md_buf_putc(b, ')');
    }
}

void md_expr_render(const md_expr *e, md_buf *out)
{
    render(e, e->root, out);
}

double md_field_value(md_field f, double open, double high, double low, double close, double volume)
{
    switch (f) {
    case MD_FIELD_OPEN: return open;
    case MD_FIELD_HIGH: return high;
    case MD_FIELD_LOW: return low;
    case MD_FIELD_CLOSE: return close;
    case MD_FIELD_VOLUME: return volume;
    }
    return NAN;
}
