/* actions.c - corporate action items from JSON bodies and CSV files (actions.h). */
#include "ingest/actions.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A date field: "YYYY-MM-DD" (or any time md_time_parse takes, at 00:00 UTC). A time of day
 * after the date is the exchange's local time of that date (pandas writes Yahoo's events as
 * "2020-08-31 00:00:00-04:00"): the date is kept as it is written. */
static int parse_date(const char *s, size_t len, int64_t *out)
{
    int64_t t, whole;
    if (len > 10 && (s[10] == ' ' || s[10] == 'T') && md_time_parse(s, 10, &t, NULL) == 0 &&
        md_time_parse(s, len, &whole, NULL) == 0) {
        *out = t;
        return 0;
    }
    if (md_time_parse(s, len, &t, NULL) != 0) return -1;
    *out = t;
    return 0;
}

/* "4:1", "4/1", "4-for-1" into numerator and denominator; a number alone is N:1 (pandas
 * writes Yahoo's 4:1 as 4.0 and 1:10 as 0.1, read as 1:10). */
static int parse_ratio(const char *s, double *num, double *den)
{
    char *end;
    double a = strtod(s, &end);
    if (end == s) return -1;
    while (*end == ' ') end++;
    if (!*end) {
        if (!(a > 0) || !isfinite(a)) return -1;
        double inv = 1 / a, r = round(inv);
        if (a < 1 && r >= 2 && fabs(inv - r) <= 1e-9 * r)
            *num = 1, *den = r;
        else
            *num = a, *den = 1;
        return 0;
    }
    if (*end == ':' || *end == '/')
        end++;
    else if (strncasecmp(end, "-for-", 5) == 0)
        end += 5;
    else if (strncasecmp(end, "for", 3) == 0)
        end += 3;
    else
        return -1;
    char *e2;
    double b = strtod(end, &e2);
    if (e2 == end) return -1;
    *num = a, *den = b;
    return 0;
}

/* Fills a (symbol, type, values) from named text fields; get(ctx, name) returns the value or
 * NULL. Returns 0 or an error code with *code and msg. */
typedef const char *(*field_fn)(void *ctx, const char *name, size_t *len);

static int item(field_fn get, void *ctx, int source, md_action *a, const char **code, char *msg,
                size_t msg_n)
{
    memset(a, 0, sizeof *a);
    a->source = (uint8_t)source;
    size_t n;
    const char *v = get(ctx, "symbol", &n);
    md_error e;
    if (!v || md_symbol_normalize(v, n, a->symbol, &e) != 0) {
        *code = "invalid_symbol";
        snprintf(msg, msg_n, "%.150s", v ? e.msg : "missing symbol");
        return -1;
    }
    char tbuf[16];
    v = get(ctx, "type", &n);
    snprintf(tbuf, sizeof tbuf, "%.*s", (int)(v ? n : 0), v ? v : "");
    int t = md_action_type_parse(tbuf);
    if (t < 0) {
        *code = "invalid_argument";
        snprintf(msg, msg_n, "type: '%s' is not split or dividend", tbuf);
        return -1;
    }
    a->type = (uint8_t)t;
    v = get(ctx, "ex_date", &n);
    if (!v) v = get(ctx, "date", &n);
    if (!v || parse_date(v, n, &a->ex_date) != 0) {
        *code = "invalid_argument";
        snprintf(msg, msg_n, "ex_date: %s", v ? "not a date (YYYY-MM-DD)" : "missing");
        return -1;
    }
    struct {
        const char *name;
        double *dst;
    } nums[] = {
        {"numerator", &a->numerator}, {"denominator", &a->denominator}, {"amount", &a->amount}};
    for (size_t k = 0; k < 3; k++) {
        v = get(ctx, nums[k].name, &n);
        if (!v || n == 0) continue;
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < 63 ? n : 63), v);
        char *end;
        *nums[k].dst = strtod(buf, &end);
        if (end == buf || *end) {
            *code = "invalid_argument";
            snprintf(msg, msg_n, "%s: '%s' is not a number", nums[k].name, buf);
            return -1;
        }
    }
    if (a->type == MD_ACT_SPLIT && a->numerator == 0 && a->denominator == 0 &&
        (v = get(ctx, "ratio", &n))) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < 63 ? n : 63), v);
        if (parse_ratio(buf, &a->numerator, &a->denominator) != 0) {
            *code = "invalid_argument";
            snprintf(msg, msg_n, "ratio: '%s' is not N:M", buf);
            return -1;
        }
    }
    if (a->type == MD_ACT_DIVIDEND) {
        v = get(ctx, "currency", &n);
        if (v && n) snprintf(a->currency, sizeof a->currency, "%.*s", (int)(n < 7 ? n : 7), v);
        if (a->currency[0]) {
            char major[MD_CURRENCY_MAX];
            double f = 1;
            if (md_currency_major(a->currency, major, &f) == 0) {
                a->amount /= f; /* amounts in the major unit: 25 GBp is 0.25 GBP */
                memcpy(a->currency, major, sizeof major);
            }
        }
        v = get(ctx, "pay_date", &n);
        if (v && n && parse_date(v, n, &a->pay_date) != 0) {
            *code = "invalid_argument";
            snprintf(msg, msg_n, "pay_date: not a date (YYYY-MM-DD)");
            return -1;
        }
    }
    if (md_action_validate(a, &e) != 0) {
        *code = "invalid_argument";
        snprintf(msg, msg_n, "%.150s", e.msg);
        return -1;
    }
    return 0;
}

/* -- JSON ---------------------------------------------------------------------------------- */

typedef struct jctx {
    json_t *o;
    char num[8][48];
    int used;
} jctx;

static const char *jget(void *ctx, const char *name, size_t *len)
{
    jctx *c = ctx;
    json_t *v = json_object_get(c->o, name);
    if (!v || json_is_null(v)) return NULL;
    if (json_is_string(v)) {
        *len = json_string_length(v);
        return json_string_value(v);
    }
    if (json_is_number(v) && c->used < 8) {
        char *b = c->num[c->used++];
        int n = snprintf(b, 48, "%.17g", json_number_value(v));
        *len = (size_t)n;
        return b;
    }
    *len = 0;
    return ""; /* present but not usable: fails as "not a number" / "not a date" */
}

/* Item i of a body, read through get: appended to out with its position in *idx (grown as
 * needed, *cap slots), or its error recorded in errs. */
static void take(field_fn get, void *ctx, int source, size_t i, md_action_vec *out, size_t **idx,
                 size_t *cap, md_bar_batch *errs)
{
    md_action a;
    const char *code = NULL;
    char msg[160];
    if (item(get, ctx, source, &a, &code, msg, sizeof msg) != 0) {
        md_batch_item_error(errs, i, code, "%s", msg);
        return;
    }
    MD_ARRAY_GROW(*idx, out->n, *cap, 16);
    (*idx)[out->n] = i;
    md_action_vec_push(out, &a);
}

/* The end of a parse: the item positions go to the caller when it asked for them. */
static void give_index(size_t *idx, size_t **index)
{
    if (index)
        *index = idx;
    else
        md_free(idx);
}

int md_actions_parse_json(const char *body, size_t len, int source, md_action_vec *out,
                          size_t **index, md_bar_batch *errs, md_error *err)
{
    json_t *arr = md_batch_json_items(errs, body, len, "actions", err);
    if (!arr) return MD_EJSON;
    size_t n = errs->n_items, cap = n ? n : 1;
    size_t *idx = md_malloc(cap * sizeof *idx);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        jctx c = {.o = o};
        if (json_is_object(o))
            take(jget, &c, source, i, out, &idx, &cap, errs);
        else
            md_batch_item_error(errs, i, "invalid_json", "action must be an object");
    }
    json_decref(arr);
    give_index(idx, index);
    return 0;
}

/* -- CSV ------------------------------------------------------------------------------------ */

#define MAX_COLS 16

/* The two layouts: ours (a type column), or Yahoo Finance's events downloads, one type per
 * file and no symbol column ("Date,Stock Splits" with "4:1", or a number as pandas writes
 * it; "Date,Dividends" with the amount). */
enum { CSV_NONE, CSV_ACTIONS, CSV_YAHOO_SPLITS, CSV_YAHOO_DIVIDENDS };

typedef struct cctx {
    char names[MAX_COLS][16];
    const char *field[MAX_COLS];
    size_t flen[MAX_COLS];
    int ncols;
    int kind;
    const char *symbol; /* for a file without a symbol column, or NULL */
} cctx;

/* Splits line[0..len) at commas into c->field (no quoting: actions files have none). */
static int split_line(const char *line, size_t len, const char **f, size_t *fl)
{
    int n = 0;
    size_t s = 0;
    if (len && line[len - 1] == '\r') len--;
    for (size_t i = 0; i <= len && n < MAX_COLS; i++) {
        if (i == len || line[i] == ',') {
            size_t a = s, b = i;
            while (a < b && (line[a] == ' ' || line[a] == '"')) a++;
            while (b > a && (line[b - 1] == ' ' || line[b - 1] == '"')) b--;
            f[n] = line + a;
            fl[n] = b - a;
            n++;
            s = i + 1;
        }
    }
    return n;
}

static const char *col(cctx *c, const char *name, size_t *len)
{
    for (int i = 0; i < c->ncols; i++) {
        if (strcmp(c->names[i], name) == 0) {
            *len = c->flen[i];
            return c->flen[i] ? c->field[i] : NULL;
        }
    }
    return NULL;
}

static const char *cget(void *ctx, const char *name, size_t *len)
{
    cctx *c = ctx;
    const char *v;
    if (strcmp(name, "symbol") == 0 && c->symbol && !col(c, "symbol", len)) {
        *len = strlen(c->symbol);
        return c->symbol;
    }
    if (c->kind == CSV_YAHOO_SPLITS || c->kind == CSV_YAHOO_DIVIDENDS) {
        if (strcmp(name, "type") == 0) {
            v = c->kind == CSV_YAHOO_SPLITS ? "split" : "dividend";
            *len = strlen(v);
            return v;
        }
        if (c->kind == CSV_YAHOO_SPLITS && strcmp(name, "ratio") == 0)
            return col(c, "stock_splits", len);
        if (c->kind == CSV_YAHOO_DIVIDENDS && strcmp(name, "amount") == 0)
            return col(c, "dividends", len);
    }
    for (int i = 0; i < c->ncols; i++) {
        if (strcmp(c->names[i], name) == 0) {
            *len = c->flen[i];
            return c->flen[i] ? c->field[i] : NULL;
        }
    }
    return NULL;
}

static int read_header(const char *line, size_t len, cctx *c)
{
    const char *f[MAX_COLS];
    size_t fl[MAX_COLS];
    c->ncols = split_line(line, len, f, fl);
    int type = 0, date = 0, close = 0, splits = 0, divs = 0;
    for (int i = 0; i < c->ncols; i++) {
        size_t n = fl[i] < 15 ? fl[i] : 15;
        for (size_t k = 0; k < n; k++) {
            char ch = f[i][k];
            c->names[i][k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch == ' ' ? '_' : ch);
        }
        c->names[i][n] = 0;
        type |= strcmp(c->names[i], "type") == 0;
        date |= strcmp(c->names[i], "ex_date") == 0 || strcmp(c->names[i], "date") == 0;
        close |= strcmp(c->names[i], "close") == 0;
        splits |= strcmp(c->names[i], "stock_splits") == 0;
        divs |= strcmp(c->names[i], "dividends") == 0;
    }
    c->kind = !date || close    ? CSV_NONE
              : type            ? CSV_ACTIONS
              : splits && !divs ? CSV_YAHOO_SPLITS
              : divs && !splits ? CSV_YAHOO_DIVIDENDS
                                : CSV_NONE;
    return c->kind != CSV_NONE;
}

int md_actions_csv_header(const char *line, size_t len, int *has_symbol)
{
    cctx c;
    if (!read_header(line, len, &c)) return 0;
    if (has_symbol) {
        *has_symbol = 0;
        for (int i = 0; i < c.ncols; i++) *has_symbol |= strcmp(c.names[i], "symbol") == 0;
    }
    return 1;
}

int md_actions_parse_csv(const char *text, size_t len, const char *symbol, int source,
                         md_action_vec *out, size_t **index, md_bar_batch *errs, md_error *err)
{
    const char *p = text, *end = text + len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t hl = nl ? (size_t)(nl - p) : (size_t)(end - p);
    cctx c;
    memset(&c, 0, sizeof c);
    if (hl >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, hl -= 3; /* a UTF-8 BOM */
    if (!read_header(p, hl, &c))
        return md_error_set(err, MD_ECSV,
                            "not an actions file: the header needs type and ex_date columns "
                            "(or Yahoo's Date,Stock Splits or Date,Dividends)");
    c.symbol = symbol && *symbol ? symbol : NULL;
    p = nl ? nl + 1 : end;
    size_t cap = 16, n_items = 0;
    size_t *idx = md_malloc(cap * sizeof *idx);
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        if (ll == 0 || (ll == 1 && line[0] == '\r')) continue;
        size_t i = n_items++;
        int nf = split_line(line, ll, c.field, c.flen);
        if (nf == c.ncols)
            take(cget, &c, source, i, out, &idx, &cap, errs);
        else
            md_batch_item_error(errs, i, "invalid_csv", "%d fields, header has %d", nf, c.ncols);
    }
    errs->n_items = n_items;
    give_index(idx, index);
    return 0;
}
