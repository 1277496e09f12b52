/* cross.c - /analytics/returns and /analytics/correlation: the bars of several symbols
 * through the read path (md_query_history, as /historical answers them), returns aligned by
 * timestamp and the statistics across them (analytics/cross.h), JSON or CSV out. */
#include "query/query.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WINDOW 100000

/* -- parameters ------------------------------------------------------------------------------ */

static int add_symbol(md_cross_req *r, const char *text, size_t len, size_t max, md_error *err)
{
    char in[64], sym[MD_SYMBOL_MAX + 1];
    if (len == 0) return 0;
    if (len >= sizeof in)
        return md_error_set(err, MD_ESYMBOL, "symbols: '%.20s...' too long", text);
    memcpy(in, text, len);
    in[len] = 0;
    int rc = md_symbol_normalize_str(in, sym, err);
    if (rc) return rc;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->symbols[i].s, sym) == 0) return 0;
    if (r->n == max)
        return md_error_set(err, MD_EPARAM, "symbols: at most %zu symbols in one request", max);
    snprintf(r->symbols[r->n++].s, sizeof r->symbols[0].s, "%s", sym);
    return 0;
}

static int add_list(md_cross_req *r, const char *v, size_t max, md_error *err)
{
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",");
        while (len && (*p == ' ')) p++, len--;
        int rc = add_symbol(r, p, len, max, err);
        if (rc) return rc;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

static size_t index_of(const md_cross_req *r, const char *sym)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->symbols[i].s, sym) == 0) return i;
    return (size_t)-1;
}

int md_cross_req_parse(md_cross_req *r, int correlation,
                       const char *(*get)(void *ctx, const char *name), void *ctx,
                       const md_config *cfg, md_error *err)
{
    memset(r, 0, sizeof *r);
    size_t max = cfg ? (size_t)cfg->max_symbols : 100;
    r->symbols = md_calloc(max + 2, sizeof *r->symbols); /* room for a pair and a benchmark */
    r->iv = MD_IV_1D;
    r->start = MD_TS_MIN;
    r->end = MD_TS_MAX;
    r->benchmark = (size_t)-1;
    r->pair[0] = r->pair[1] = (size_t)-1;
    const char *v;
    int rc;
    if ((v = get(ctx, "symbols")) && (rc = add_list(r, v, max, err))) return rc;
    if ((v = get(ctx, "interval")) && (rc = md_interval_parse(v, &r->iv, err))) return rc;
    if ((rc = md_query_time_range(get, ctx, &r->start, &r->end, NULL, err))) return rc;
    if ((v = get(ctx, "kind"))) {
        if (strcasecmp(v, "simple") == 0)
            r->kind = MD_RET_SIMPLE;
        else if (strcasecmp(v, "log") == 0)
            r->kind = MD_RET_LOG;
        else
            return md_error_set(err, MD_EPARAM, "kind: '%.20s' is not simple or log", v);
    }
    if ((v = get(ctx, "align"))) {
        if (strcasecmp(v, "inner") == 0)
            r->align = MD_ALIGN_INNER;
        else if (strcasecmp(v, "outer") == 0 && !correlation)
            r->align = MD_ALIGN_OUTER;
        else
            return md_error_set(err, MD_EPARAM,
                                correlation ? "align: correlation always aligns inner (rows where "
                                              "every symbol has a bar)"
                                            : "align: '%.20s' is not inner or outer",
                                v);
    }
    if ((rc = md_query_cached_only_parse(get(ctx, "cached_only"), &r->cached_only, err))) return rc;
    /* returns across a split of raw closes would be a crash that never happened */
    if ((rc = md_query_adjust_parse(get(ctx, "adjust"), &r->adjust, err))) return rc;
    if ((v = get(ctx, "format"))) {
        if (strcasecmp(v, "csv") == 0)
            r->csv = 1;
        else if (strcasecmp(v, "json") != 0)
            return md_error_set(err, MD_EPARAM, "format: '%.20s' is not json or csv", v);
    }
    if (!correlation) {
        if (!r->n) return md_error_set(err, MD_EPARAM, "symbols: give symbols, e.g. AAPL,MSFT");
        return 0;
    }
    if ((v = get(ctx, "window"))) {
        char *end;
        errno = 0;
        long long w = strtoll(v, &end, 10);
        if (errno || end == v || *end || w < 2 || w > MAX_WINDOW)
            return md_error_set(err, MD_EPARAM, "window: '%.20s' is not an integer 2..%d", v,
                                MAX_WINDOW);
        r->window = (size_t)w;
    }
    if ((v = get(ctx, "pair"))) {
        md_cross_req two;
        memset(&two, 0, sizeof two);
        md_symbol syms[4];
        two.symbols = syms;
        if ((rc = add_list(&two, v, 3, err))) return rc;
        if (two.n != 2)
            return md_error_set(err, MD_EPARAM, "pair: two different symbols, e.g. pair=AAPL,MSFT");
        for (int k = 0; k < 2; k++) {
            if (index_of(r, syms[k].s) == (size_t)-1)
                snprintf(r->symbols[r->n++].s, sizeof r->symbols[0].s, "%s", syms[k].s);
            r->pair[k] = index_of(r, syms[k].s);
        }
        r->has_pair = 1;
        if (!r->window)
            return md_error_set(err, MD_EPARAM,
                                "pair: a rolling correlation needs window=N (bars)");
    }
    if ((v = get(ctx, "benchmark"))) {
        char sym[MD_SYMBOL_MAX + 1];
        if ((rc = md_symbol_normalize_str(v, sym, err))) {
            md_error_prefix(err, "benchmark");
            return rc;
        }
        if (index_of(r, sym) == (size_t)-1) {
            snprintf(r->symbols[r->n++].s, sizeof r->symbols[0].s, "%s", sym);
            r->benchmark_extra = 1; /* not one of the symbols asked */
        }
        r->benchmark = index_of(r, sym);
    }
    if (r->window && !r->has_pair && r->benchmark == (size_t)-1)
        return md_error_set(err, MD_EPARAM,
                            "window: rolling values need pair=A,B (correlation) or benchmark=SYM "
                            "(beta and volatility)");
    size_t listed = r->n - (size_t)r->benchmark_extra;
    if (!r->has_pair && listed < 2 && r->benchmark == (size_t)-1)
        return md_error_set(err, MD_EPARAM,
                            "symbols: a correlation needs two symbols or more (or pair=A,B, or "
                            "benchmark=SYM)");
    if (!listed) return md_error_set(err, MD_EPARAM, "symbols: give symbols, e.g. AAPL,MSFT");
    return 0;
}

void md_cross_req_deinit(md_cross_req *r)
{
    md_free(r->symbols);
    memset(r, 0, sizeof *r);
}

/* -- the data -------------------------------------------------------------------------------- */

/* One symbol of load_returns: its bars through the read path, or its error. */
typedef struct load_job {
    md_services *svc;
    const md_cross_req *r;
    md_bar_vec *bars;
    int *rc;
    md_error *err;
} load_job;

static void load_one(void *ctx, size_t i)
{
    load_job *j = ctx;
    const md_cross_req *r = j->r;
    md_history_req hr;
    memset(&hr, 0, sizeof hr);
    snprintf(hr.symbol, sizeof hr.symbol, "%s", r->symbols[i].s);
    hr.iv = r->iv;
    hr.start = r->start;
    hr.end = r->end;
    hr.limit = 0; /* the whole range */
    hr.source = -1;
    hr.cached_only = r->cached_only;
    hr.adjust = r->adjust;
    md_history h;
    md_history_init(&h);
    md_error_clear(&j->err[i]);
    j->rc[i] = md_query_history(j->svc, &hr, &h, &j->err[i]);
    if (j->rc[i]) md_error_prefix(&j->err[i], "%s", r->symbols[i].s);
    md_bar_vec keep = j->bars[i]; /* the answer's bars move to bars[i] */
    j->bars[i] = h.bars;
    h.bars = keep;
    md_history_deinit(&h);
}

/* Each symbol's closes through the read path (the symbols side by side, md_query_each: one
 * whose sources hang does not spend the others' budget); the returns of the request's
 * alignment. The first symbol in the request's order that failed gives the error. */
static int load_returns(md_services *svc, const md_cross_req *r, md_align align, md_returns *out,
                        md_error *err)
{
    md_bar_vec *bars = md_calloc(r->n, sizeof *bars);
    md_close_series *s = md_calloc(r->n, sizeof *s);
    int *rcs = md_calloc(r->n, sizeof *rcs);
    md_error *errs = md_calloc(r->n, sizeof *errs);
    for (size_t i = 0; i < r->n; i++) md_bar_vec_init(&bars[i]);
    load_job job = {svc, r, bars, rcs, errs};
    md_query_each(svc, r->n, load_one, &job);
    int rc = 0;
    for (size_t i = 0; i < r->n && rc == 0; i++)
        if (rcs[i]) rc = md_error_set(err, rcs[i], "%s", errs[i].msg);
    md_free(rcs);
    md_free(errs);
    int64_t *ts = NULL;
    double *c = NULL;
    if (rc == 0) {
        size_t total = 0;
        for (size_t i = 0; i < r->n; i++) total += bars[i].n;
        ts = md_malloc((total ? total : 1) * sizeof *ts);
        c = md_malloc((total ? total : 1) * sizeof *c);
        size_t at = 0;
        for (size_t i = 0; i < r->n; i++) {
            s[i].ts = ts + at;
            s[i].close = c + at;
            for (size_t k = 0; k < bars[i].n; k++) {
                /* the read path answers in time order, one bar per bucket */
                ts[at] = bars[i].v[k].ts;
                c[at++] = bars[i].v[k].close;
            }
            s[i].n = bars[i].n;
        }
        md_returns_compute(s, r->n, r->kind, align, out);
    }
    for (size_t i = 0; i < r->n; i++) md_bar_vec_deinit(&bars[i]);
    md_free(bars);
    md_free(s);
    md_free(ts);
    md_free(c);
    return rc;
}

/* -- rendering ------------------------------------------------------------------------------- */

/* {"<symbol>":stat(its column, the benchmark's column), ...} over the listed symbols but the
 * benchmark. */
static void to_benchmark(md_buf *out, const md_cross_req *r, size_t listed, double **cols,
                         const double *b, size_t n,
                         double (*stat)(const double *, const double *, size_t))
{
    md_buf_putc(out, '{');
    for (size_t j = 0, c = 0; j < listed; j++) {
        if (j == r->benchmark) continue;
        if (c++) md_buf_putc(out, ',');
        md_buf_json_str(out, r->symbols[j].s);
        md_buf_putc(out, ':');
        md_buf_num(out, stat(cols[j], b, n));
    }
    md_buf_putc(out, '}');
}

static void head(md_buf *b, const md_cross_req *r, const md_returns *m, size_t n_listed)
{
    md_buf_puts(b, "{\"symbols\":[");
    for (size_t i = 0; i < n_listed; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_json_str(b, r->symbols[i].s);
    }
    md_buf_puts(b, "],\"interval\":\"");
    md_buf_puts(b, md_interval_name(r->iv));
    md_buf_puts(b, r->kind == MD_RET_LOG ? "\",\"kind\":\"log\"" : "\",\"kind\":\"simple\"");
    md_buf_puts(b, r->align == MD_ALIGN_OUTER ? ",\"align\":\"outer\"" : ",\"align\":\"inner\"");
    md_buf_puts(b, ",\"adjust\":\"");
    md_buf_puts(b, md_adjust_name(r->adjust));
    md_buf_putc(b, '"');
    md_buf_puts(b, ",\"count\":");
    md_buf_int(b, (int64_t)m->rows);
    /* the first and last row; null (never left out, API.md) when there is none */
    if (m->rows) {
        md_buf_puts(b, ",\"start\":");
        md_buf_ts(b, m->ts[0], 1);
        md_buf_puts(b, ",\"end\":");
        md_buf_ts(b, m->ts[m->rows - 1], 1);
    } else {
        md_buf_puts(b, ",\"start\":null,\"end\":null");
    }
}

static void timestamps(md_buf *b, const int64_t *ts, size_t n)
{
    md_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_ts(b, ts[i], 1);
    }
    md_buf_putc(b, ']');
}

static void series(md_buf *b, const double *x, size_t n)
{
    md_buf_reserve(b, n * 20 + 2);
    md_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_num(b, x[i]); /* NAN is null */
    }
    md_buf_putc(b, ']');
}

int md_query_returns(md_services *svc, const md_cross_req *r, md_buf *out, md_error *err)
{
    md_returns m;
    int rc = load_returns(svc, r, r->align, &m, err);
    if (rc) return rc;
    if (r->csv) { /* wide: timestamp, then one column per symbol; an empty cell is null */
        md_buf_puts(out, "timestamp");
        for (size_t j = 0; j < r->n; j++) {
            md_buf_putc(out, ',');
            md_buf_puts(out, r->symbols[j].s);
        }
        md_buf_putc(out, '\n');
        for (size_t i = 0; i < m.rows; i++) {
            md_buf_ts(out, m.ts[i], 0);
            for (size_t j = 0; j < r->n; j++) {
                md_buf_putc(out, ',');
                if (!isnan(m.r[i * r->n + j])) md_buf_num(out, m.r[i * r->n + j]);
            }
            md_buf_putc(out, '\n');
        }
        md_returns_deinit(&m);
        return 0;
    }
    head(out, r, &m, r->n);
    md_buf_puts(out, ",\"timestamps\":");
    timestamps(out, m.ts, m.rows);
    md_buf_puts(out, ",\"returns\":{");
    double *col = md_malloc((m.rows ? m.rows : 1) * sizeof *col);
    for (size_t j = 0; j < r->n; j++) {
        if (j) md_buf_putc(out, ',');
        md_buf_json_str(out, r->symbols[j].s);
        md_buf_putc(out, ':');
        md_returns_column(&m, j, col);
        series(out, col, m.rows);
    }
    md_buf_puts(out, "}}");
    md_free(col);
    md_returns_deinit(&m);
    return 0;
}

/* Rolling values of the request's window: pair correlation, or beta and volatility against
 * the benchmark. cols[j] is column j of m. */
static void rolling(md_buf *out, const md_cross_req *r, const md_returns *m, double **cols,
                    size_t n_listed)
{
    size_t n = m->rows, w = r->window;
    double *v = md_malloc((n ? n : 1) * sizeof *v);
    md_buf_puts(out, ",\"rolling\":{\"window\":");
    md_buf_int(out, (int64_t)w);
    md_buf_puts(out, ",\"timestamps\":");
    timestamps(out, m->ts, n);
    if (r->has_pair) {
        md_stat_rolling_corr(cols[r->pair[0]], cols[r->pair[1]], n, w, v);
        md_buf_puts(out, ",\"pair\":[");
        md_buf_json_str(out, r->symbols[r->pair[0]].s);
        md_buf_putc(out, ',');
        md_buf_json_str(out, r->symbols[r->pair[1]].s);
        md_buf_puts(out, "],\"correlation\":");
        series(out, v, n);
    }
    if (r->benchmark != (size_t)-1) {
        const double *b = cols[r->benchmark];
        md_buf_puts(out, ",\"benchmark\":");
        md_buf_json_str(out, r->symbols[r->benchmark].s);
        md_buf_puts(out, ",\"beta\":{");
        for (size_t j = 0, k = 0; j < n_listed; j++) {
            if (j == r->benchmark) continue;
            if (k++) md_buf_putc(out, ',');
            md_stat_rolling_beta(cols[j], b, n, w, v);
            md_buf_json_str(out, r->symbols[j].s);
            md_buf_putc(out, ':');
            series(out, v, n);
        }
        md_buf_puts(out, "},\"volatility\":{");
        for (size_t j = 0; j < r->n; j++) {
            if (j) md_buf_putc(out, ',');
            md_stat_rolling_std(cols[j], n, w, v);
            md_buf_json_str(out, r->symbols[j].s);
            md_buf_putc(out, ':');
            series(out, v, n);
        }
        md_buf_putc(out, '}');
    }
    md_buf_putc(out, '}');
    md_free(v);
}

int md_query_correlation(md_services *svc, const md_cross_req *r, md_buf *out, md_error *err)
{
    md_returns m;
    int rc = load_returns(svc, r, MD_ALIGN_INNER, &m, err);
    if (rc) return rc;
    size_t n = m.rows, k = r->n, listed = k - (size_t)r->benchmark_extra;
    double **cols = md_malloc(k * sizeof *cols);
    for (size_t j = 0; j < k; j++) {
        cols[j] = md_malloc((n ? n : 1) * sizeof **cols);
        md_returns_column(&m, j, cols[j]);
    }
    /* the matrix of the symbols asked (the benchmark too when it is one of them) */
    double *mat = md_malloc((listed * listed > 0 ? listed * listed : 1) * sizeof *mat);
    double *rows = md_malloc((n * listed > 0 ? n * listed : 1) * sizeof *rows);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < listed; j++) rows[i * listed + j] = m.r[i * k + j];
    md_stat_corr_matrix(rows, n, listed, mat);
    if (r->csv) {
        for (size_t j = 0; j < listed; j++) {
            md_buf_putc(out, ',');
            md_buf_puts(out, r->symbols[j].s);
        }
        md_buf_putc(out, '\n');
        for (size_t a = 0; a < listed; a++) {
            md_buf_puts(out, r->symbols[a].s);
            for (size_t b = 0; b < listed; b++) {
                md_buf_putc(out, ',');
                if (!isnan(mat[a * listed + b])) md_buf_num(out, mat[a * listed + b]);
            }
            md_buf_putc(out, '\n');
        }
    } else {
        head(out, r, &m, listed);
        md_buf_puts(out, ",\"observations\":");
        md_buf_int(out, (int64_t)n);
        md_buf_puts(out, ",\"matrix\":[");
        for (size_t a = 0; a < listed; a++) {
            if (a) md_buf_putc(out, ',');
            series(out, mat + a * listed, listed);
        }
        md_buf_putc(out, ']');
        if (r->benchmark != (size_t)-1) {
            const double *b = cols[r->benchmark];
            md_buf_puts(out, ",\"benchmark\":");
            md_buf_json_str(out, r->symbols[r->benchmark].s);
            md_buf_puts(out, ",\"beta\":");
            to_benchmark(out, r, listed, cols, b, n, md_stat_beta);
            md_buf_puts(out, ",\"correlation_to_benchmark\":");
            to_benchmark(out, r, listed, cols, b, n, md_stat_corr);
            md_buf_puts(out, ",\"volatility\":{");
            for (size_t j = 0; j < k; j++) {
                if (j) md_buf_putc(out, ',');
                md_buf_json_str(out, r->symbols[j].s);
                md_buf_putc(out, ':');
                md_buf_num(out, md_stat_std(cols[j], n));
            }
            md_buf_putc(out, '}');
        }
        if (r->window) rolling(out, r, &m, cols, listed);
        md_buf_putc(out, '}');
    }
    for (size_t j = 0; j < k; j++) md_free(cols[j]);
    md_free(cols);
    md_free(mat);
    md_free(rows);
    md_returns_deinit(&m);
    return 0;
}
