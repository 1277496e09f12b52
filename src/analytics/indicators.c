/* indicators.c - the indicator table generated from indicators.def (definitions, warm-up
 * rules, parameter checks), the parser of ?names=, runs (streaming state over chunks), the
 * table as JSON, and the summary statistics. The kernels live in ind_*.c. */
#include "analytics/ind_int.h"
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ways of reading a row of indicators.def. A parameter p is (name, default, min, max, type),
 * an output o is ("name", warm-up expression). */
#define PNAME(name, def, lo, hi, type) name
#define PINIT(name, def, lo, hi, type)                                                             \
    {                                                                                              \
#name, def, lo, hi, type                                                                   \
    }
#define ONAME(name, warm) name
#define OWARM(name, warm) (warm)
#define OWARM_STR(name, warm) #warm

/* -- warm-up rules and checks: one function each, the parameters bound to their names ---- */

#define MD_P0
#define MD_P1(a)                                                                                   \
    double PNAME a = p_[0];                                                                        \
    (void)PNAME a;
#define MD_P2(a, b)                                                                                \
    MD_P1(a) double PNAME b = p_[1];                                                               \
    (void)PNAME b;
#define MD_P3(a, b, c)                                                                             \
    MD_P2(a, b) double PNAME c = p_[2];                                                            \
    (void)PNAME c;
#define MD_O1(a)                                                                                   \
    if (o_ == 0) return (int)(OWARM a);
#define MD_O2(a, b) MD_O1(a) if (o_ == 1) return (int)(OWARM b);
#define MD_O3(a, b, c) MD_O2(a, b) if (o_ == 2) return (int)(OWARM c);
#define MD_IND(name, scale, flags, params, outputs, check, reference)                              \
    static int warm_##name(const double *p_, int o_)                                               \
    {                                                                                              \
        (void)p_;                                                                                  \
        params outputs return 0;                                                                   \
    }                                                                                              \
    static int check_##name(const double *p_)                                                      \
    {                                                                                              \
        (void)p_;                                                                                  \
        params return (check);                                                                     \
    }
#include "analytics/indicators.def"
#undef MD_IND
#undef MD_P0
#undef MD_P1
#undef MD_P2
#undef MD_P3
#undef MD_O1
#undef MD_O2
#undef MD_O3

/* -- the table ------------------------------------------------------------------------ */

#define MD_P0                                                                                      \
    0,                                                                                             \
    {                                                                                              \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }
#define MD_P1(a)                                                                                   \
    1,                                                                                             \
    {                                                                                              \
        PINIT a                                                                                    \
    }
#define MD_P2(a, b)                                                                                \
    2,                                                                                             \
    {                                                                                              \
        PINIT a, PINIT b                                                                           \
    }
#define MD_P3(a, b, c)                                                                             \
    3,                                                                                             \
    {                                                                                              \
        PINIT a, PINIT b, PINIT c                                                                  \
    }
#define MD_O1(a)                                                                                   \
    1, {ONAME a},                                                                                  \
    {                                                                                              \
        OWARM_STR a                                                                                \
    }
#define MD_O2(a, b)                                                                                \
    2, {ONAME a, ONAME b},                                                                         \
    {                                                                                              \
        OWARM_STR a, OWARM_STR b                                                                   \
    }
#define MD_O3(a, b, c)                                                                             \
    3, {ONAME a, ONAME b, ONAME c},                                                                \
    {                                                                                              \
        OWARM_STR a, OWARM_STR b, OWARM_STR c                                                      \
    }
static const md_ind_def defs[] = {
#define MD_IND(name, scale, flags, params, outputs, check, reference)                              \
    {#name,  scale,     flags,       params,       outputs,                                        \
     #check, reference, warm_##name, check_##name, md_ind__##name},
#include "analytics/indicators.def"
#undef MD_IND
}; /* (MD_P* and MD_O* stay defined: indicators.def is not read again below) */

const md_ind_def *md_ind_defs(size_t *n)
{
    *n = sizeof defs / sizeof defs[0];
    return defs;
}

const md_ind_def *md_ind_find(const char *name)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, name) == 0) return &defs[i];
    return NULL;
}

int md_ind_warmup(const md_ind_spec *s, int out)
{
    return s->def->warmup(s->p, out);
}

/* -- parsing -------------------------------------------------------------------------- */

static int unknown(md_error *err, const char *name)
{
    char known[400];
    size_t len = 0;
    known[0] = 0;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0] && len + 16 < sizeof known; i++)
        len +=
            (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? " " : "", defs[i].name);
    return md_error_set(err, MD_EPARAM, "names: unknown indicator '%.20s' (known: %s)", name,
                        known);
}

/* Appends ":<v>" to name (of size cap, len used) in the fewest digits that read back as v
 * (at least those of %.10g), so two different parameters never share a canonical name and
 * the name says the value computed with. Returns the new length. */
static size_t put_param(char *name, size_t cap, size_t len, double v)
{
    if (len >= cap) return len;
    size_t n = len;
    for (int digits = 10; digits <= 17; digits++) {
        n = len + (size_t)snprintf(name + len, cap - len, ":%.*g", digits, v);
        if (n >= cap || strtod(name + len + 1, NULL) == v) break;
    }
    return n;
}

/* Fills s from "name[:p1[:p2[:p3]]]" (item is modified). */
static int parse_item(char *item, md_ind_spec *s, md_error *err)
{
    char *parts[MD_IND_MAX_PARAMS + 2] = {0}; /* strsep gives at least the first */
    int np = 0;
    for (char *t = item, *tok; np < MD_IND_MAX_PARAMS + 2 && (tok = strsep(&t, ":")) != NULL;)
        parts[np++] = tok;
    const md_ind_def *d = md_ind_find(parts[0]);
    if (!d) return unknown(err, parts[0]);
    if (np - 1 > d->nparams)
        return md_error_set(err, MD_EPARAM, "names: %s takes at most %d parameter%s", d->name,
                            d->nparams, d->nparams == 1 ? "" : "s");
    memset(s, 0, sizeof *s);
    s->def = d;
    for (int i = 0; i < d->nparams; i++) s->p[i] = d->params[i].def;
    for (int i = 1; i < np; i++) {
        const md_ind_param *pd = &d->params[i - 1];
        char *end;
        double v = strtod(parts[i], &end);
        /* decimal only: strtod also reads hex ("0x10"), "inf" and leading blanks */
        int decimal = parts[i][strspn(parts[i], "0123456789.+-eE")] == 0;
        if (end == parts[i] || *end || !decimal || !isfinite(v) || v < pd->min || v > pd->max ||
            (pd->type == MD_IND_INT && v != floor(v)))
            return md_error_set(
                err, MD_EPARAM, "names: %s: %s '%.20s' is not %s %g..%g", d->name, pd->name,
                parts[i], pd->type == MD_IND_INT ? "an integer" : "a number", pd->min, pd->max);
        s->p[i - 1] = v;
    }
    if (!d->check(s->p))
        return md_error_set(err, MD_EPARAM, "names: %s: parameters must satisfy %s", d->name,
                            d->check_expr);
    size_t len = (size_t)snprintf(s->name, sizeof s->name, "%s", d->name);
    for (int i = 0; i < d->nparams && len < sizeof s->name; i++)
        len = put_param(s->name, sizeof s->name, len, s->p[i]);
    return 0;
}

int md_ind_parse(const char *list, md_ind_spec *out, int max, md_error *err)
{
    int n = 0;
    const char *p = list;
    if (!p || !*p)
        return md_error_set(err, MD_EPARAM, "names: give indicators, e.g. sma:20,rsi:14");
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return md_error_set(err, MD_EPARAM, "names: empty or too long item");
        memcpy(item, p, len);
        item[len] = 0;
        md_ind_spec s;
        int rc = parse_item(item, &s, err);
        if (rc) return rc;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = strcmp(out[i].name, s.name) == 0;
        if (!dup) {
            if (n == max) return md_error_set(err, MD_EPARAM, "names: at most %d indicators", max);
            out[n++] = s;
        }
        p = e ? e + 1 : p + len;
    }
    return n;
}

/* -- runs ----------------------------------------------------------------------------- */

md_ind_run *md_ind_run_new(const md_ind_spec *s, md_interval iv, double hl_sd)
{
    md_ind_run *r = md_calloc(1, sizeof *r);
    r->def = s->def;
    memcpy(r->p, s->p, sizeof r->p);
    r->iv = iv;
    r->hl_sd = hl_sd;
    return r;
}

void md_ind_run_feed(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    if (n) r->def->kernel(r, in, n, out);
}

void md_ind_run_free(md_ind_run *r)
{
    if (!r) return;
    for (int k = 0; k < MD_IND_RUN_BUFS; k++) md_free(r->buf[k]);
    md_free(r->st);
    md_free(r);
}

/* A copy of the kernel's state and arrays (the state points into the arrays, which keep
 * their addresses: copying the bytes back restores the run exactly). */
void md_ind_run_peek(md_ind_run *r, const md_ind_cols *in, double **out)
{
    if (!r->st) { /* nothing fed yet: feed, then forget what the first call allocated */
        md_ind_run_feed(r, in, 1, out);
        for (int k = 0; k < MD_IND_RUN_BUFS; k++) md_free(r->buf[k]), r->buf[k] = NULL;
        md_free(r->st);
        r->st = NULL;
        return;
    }
    size_t total = r->st_size;
    for (int k = 0; k < MD_IND_RUN_BUFS; k++) total += r->buf_size[k];
    unsigned char *save = md_malloc(total), *p = save;
    memcpy(p, r->st, r->st_size), p += r->st_size;
    for (int k = 0; k < MD_IND_RUN_BUFS; k++)
        if (r->buf[k]) memcpy(p, r->buf[k], r->buf_size[k]), p += r->buf_size[k];
    md_ind_run_feed(r, in, 1, out);
    p = save;
    memcpy(r->st, p, r->st_size), p += r->st_size;
    for (int k = 0; k < MD_IND_RUN_BUFS; k++)
        if (r->buf[k]) memcpy(r->buf[k], p, r->buf_size[k]), p += r->buf_size[k];
    md_free(save);
}

int md_ind_streamable(const md_ind_def *d)
{
    return !(d->flags & MD_IND_HL_SD);
}

void md_ind_hl_sd_add(md_ind_hl_sd *s, const double *high, const double *low, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double x = high[i] - low[i];
        s->n++;
        double d = x - s->mean;
        s->mean += d / (double)s->n;
        s->m2 += d * (x - s->mean);
    }
}

double md_ind_hl_sd_value(const md_ind_hl_sd *s)
{
    return s->n > 1 ? sqrt(s->m2 / (double)(s->n - 1)) : NAN;
}

void md_ind_compute(const md_ind_spec *s, md_interval iv, const md_ind_cols *in, size_t n,
                    double **out)
{
    md_ind_hl_sd sd = {0, 0, 0};
    if (s->def->flags & MD_IND_HL_SD) md_ind_hl_sd_add(&sd, in->high, in->low, n);
    md_ind_run *r = md_ind_run_new(s, iv, md_ind_hl_sd_value(&sd));
    md_ind_run_feed(r, in, n, out);
    md_ind_run_free(r);
}

/* -- the table as JSON ---------------------------------------------------------------- */

void md_ind_defs_json(md_buf *b)
{
    md_buf_puts(b, "{\"indicators\":[");
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        const md_ind_def *d = &defs[i];
        md_ind_spec s = {.def = d};
        for (int k = 0; k < d->nparams; k++) s.p[k] = d->params[k].def;
        if (i) md_buf_putc(b, ',');
        md_buf_puts(b, "{\"name\":");
        md_buf_json_str(b, d->name);
        char def_name[64];
        size_t len = (size_t)snprintf(def_name, sizeof def_name, "%s", d->name);
        for (int k = 0; k < d->nparams && len < sizeof def_name; k++)
            len = put_param(def_name, sizeof def_name, len, s.p[k]);
        md_json_str(b, "default", def_name);
        md_json_str(b, "scale", d->scale == MD_IND_PRICE ? "price" : "own");
        md_json_bool(b, "volume", (d->flags & MD_IND_VOLUME) != 0);
        md_json_str(b, "reference", d->reference);
        md_buf_puts(b, ",\"params\":[");
        for (int k = 0; k < d->nparams; k++) {
            const md_ind_param *p = &d->params[k];
            if (k) md_buf_putc(b, ',');
            md_buf_puts(b, "{\"name\":");
            md_buf_json_str(b, p->name);
            md_json_num(b, "default", p->def);
            md_json_num(b, "min", p->min);
            md_json_num(b, "max", p->max);
            md_json_str(b, "type", p->type == MD_IND_INT ? "integer" : "number");
            md_buf_putc(b, '}');
        }
        md_buf_puts(b, "],\"outputs\":[");
        for (int k = 0; k < d->noutputs; k++) {
            if (k) md_buf_putc(b, ',');
            md_buf_puts(b, "{\"name\":");
            md_buf_json_str(b, d->outputs[k]);
            md_json_str(b, "warmup", d->warmup_expr[k]);
            md_json_int(b, "warmup_default", d->warmup(s.p, k));
            md_buf_putc(b, '}');
        }
        md_buf_putc(b, ']');
        md_json_str(b, "check", d->check_expr);
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "]}");
}

/* -- summary --------------------------------------------------------------------------------- */

double md_periods_per_year(md_interval iv)
{
    switch (iv) {
    case MD_IV_1D: return 252;
    case MD_IV_1W: return 52;
    case MD_IV_1MO: return 12;
    default: return 252.0 * 23400.0 / (double)md_interval_seconds(iv);
    }
}

void md_summary_begin(md_summary_acc *a, md_interval iv)
{
    memset(a, 0, sizeof *a);
    a->s.periods_per_year = md_periods_per_year(iv);
}

void md_summary_add(md_summary_acc *a, const double *c, const double *h, const double *l,
                    const double *v, const int64_t *ts, size_t n)
{
    md_summary *s = &a->s;
    ind_ksum vol = {a->vol_s, a->vol_c}, rs = {a->rs_s, a->rs_c};
    for (size_t i = 0; i < n; i++) {
        if (s->count == 0) {
            s->first_close = c[i];
            a->peak = c[i];
            a->peak_ts = ts ? ts[i] : 0;
            s->high = h ? h[i] : c[i];
            s->low = l ? l[i] : c[i];
        }
        ind_kadd(&vol, v ? v[i] : 0);
        if (h && h[i] > s->high) s->high = h[i];
        if (l && l[i] < s->low) s->low = l[i];
        if (s->count > 0) {
            ind_kadd(&rs, c[i] / a->prev - 1.0);
            double r = log(c[i] / a->prev);
            a->k++;
            double d = r - a->mean;
            a->mean += d / (double)a->k;
            a->m2 += d * (r - a->mean);
        }
        if (c[i] > a->peak) a->peak = c[i], a->peak_ts = ts ? ts[i] : 0;
        double draw = c[i] / a->peak - 1.0;
        if (draw < s->max_drawdown) {
            s->max_drawdown = draw;
            s->max_drawdown_peak_ts = a->peak_ts;
            s->max_drawdown_trough_ts = ts ? ts[i] : 0;
        }
        a->prev = c[i];
        s->count++;
    }
    a->vol_s = vol.s, a->vol_c = vol.c, a->rs_s = rs.s, a->rs_c = rs.c;
}

void md_summary_end(md_summary_acc *a, md_summary *out)
{
    md_summary *s = &a->s;
    size_t n = s->count;
    if (n == 0) {
        s->first_close = s->last_close = s->total_return = s->mean_return = NAN;
        s->volatility = s->annualized_volatility = s->avg_volume = s->high = s->low = NAN;
        s->max_drawdown = NAN; /* no bar, no drawdown: null like the rest */
        *out = *s;
        return;
    }
    s->last_close = a->prev;
    s->total_return = s->last_close / s->first_close - 1.0;
    s->avg_volume = a->vol_s / (double)n;
    s->mean_return = a->k ? a->rs_s / (double)a->k : NAN;
    s->volatility = a->k > 1 ? sqrt(a->m2 / (double)(a->k - 1)) : NAN;
    s->annualized_volatility = s->volatility * sqrt(s->periods_per_year);
    *out = *s;
}

void md_summary_compute(const double *c, const double *h, const double *l, const double *v,
                        const int64_t *ts, size_t n, md_interval iv, md_summary *s)
{
    md_summary_acc a;
    md_summary_begin(&a, iv);
    md_summary_add(&a, c, h, l, v, ts, n);
    md_summary_end(&a, s);
}
