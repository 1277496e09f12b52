/* analytics.c - /analytics/{symbol}/indicators and /summary: bars through the read path,
 * kernels from analytics/, JSON out.
 *
 * Indicators are computed over the symbol's stored series from its first bar: the stored
 * bars before the answer's first bar are read window by window (bounded memory) and
 * streamed through the indicator runs, then the answer's bars. Every value therefore
 * depends only on the stored series, never on start, end, limit or the other names asked. */
#include "query/query.h"

#include "analytics/indicators.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <string.h>

typedef struct {
    double *h, *l, *c, *v;
    int64_t *ts;
} columns;

static void split(const md_bar_vec *bars, columns *col)
{
    size_t n = bars->n ? bars->n : 1;
    col->h = md_malloc(n * sizeof(double));
    col->l = md_malloc(n * sizeof(double));
    col->c = md_malloc(n * sizeof(double));
    col->v = md_malloc(n * sizeof(double));
    col->ts = md_malloc(n * sizeof(int64_t));
    for (size_t i = 0; i < bars->n; i++) {
        col->h[i] = bars->v[i].high;
        col->l[i] = bars->v[i].low;
        col->c[i] = bars->v[i].close;
        col->v[i] = bars->v[i].volume;
        col->ts[i] = bars->v[i].ts;
    }
}

static void free_columns(columns *col)
{
    md_free(col->h), md_free(col->l), md_free(col->c), md_free(col->v), md_free(col->ts);
    memset(col, 0, sizeof *col);
}

static void series(md_buf *b, const double *x, size_t n)
{
    md_buf_reserve(b, n * 20 + 2);
    md_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_num(b, x[i]); /* NAN renders as null */
    }
    md_buf_putc(b, ']');
}

/* -- the stored series, oldest first, in bounded memory --------------------------------- */

/* Bars per store read while streaming a history through the indicators (at most this many
 * bars of the finest stored interval are held at once). */
#define PAGE_BARS 65536

/* Where the stored series of (symbol, iv) begins and ends: over iv itself and every finer
 * interval it can be aggregated from (the read path answers from either). finest is the
 * finest of those holding bars: a window of PAGE_BARS of its length holds at most
 * PAGE_BARS stored bars. */
typedef struct extent {
    int64_t first, last;
    md_interval finest;
    int any;
} extent;

static int series_extent(md_services *svc, const char *symbol, md_interval iv, extent *x,
                         md_error *err)
{
    memset(x, 0, sizeof *x);
    for (int f = (int)iv; f >= 0; f--) {
        if (f != (int)iv && !md_interval_divides((md_interval)f, iv)) continue;
        md_bar_vec v;
        md_bar_vec_init(&v);
        int rc = md_store_scan_bars(svc->store, symbol, (md_interval)f, MD_TS_MIN, 1, &v, err);
        if (rc > 0)
            rc = md_store_get_bars(svc->store, symbol, (md_interval)f, MD_TS_MIN, MD_TS_MAX, 1, &v,
                                   err);
        if (rc < 0) {
            md_bar_vec_deinit(&v);
            return rc;
        }
        if (v.n == 2) {
            if (!x->any || v.v[0].ts < x->first) x->first = v.v[0].ts;
            if (!x->any || v.v[1].ts > x->last) x->last = v.v[1].ts;
            x->finest = (md_interval)f;
            x->any = 1;
        }
        md_bar_vec_deinit(&v);
    }
    return 0;
}

typedef void (*chunk_fn)(void *ctx, const md_bar *bars, size_t n);

/* Calls fn with the series' bars in [from, to), oldest first, as the read path would answer
 * them (md_store_get_bars_agg), one window of whole iv buckets at a time. */
static int scan_series(md_services *svc, const char *symbol, md_interval iv, const extent *x,
                       int64_t from, int64_t to, chunk_fn fn, void *ctx, md_error *err)
{
    int64_t span = md_interval_seconds(x->finest) * PAGE_BARS;
    md_bar_vec v;
    md_bar_vec_init(&v);
    int rc = 0;
    for (int64_t t = md_interval_floor(iv, from); t < to;) {
        int64_t we = t + span < to ? md_interval_floor(iv, t + span) : to;
        if (we <= t) we = md_interval_next(iv, t);
        if (we > to) we = to;
        v.n = 0;
        rc = md_store_get_bars_agg(svc->store, symbol, iv, t, we, 0, &v, NULL, err);
        if (rc < 0) break;
        rc = 0;
        if (v.n) fn(ctx, v.v, v.n);
        t = we;
    }
    md_bar_vec_deinit(&v);
    return rc;
}

/* -- feeding the runs ---------------------------------------------------------------------- */

typedef struct feeder {
    md_ind_run *runs[MD_IND_MAX];
    int n_runs;
    columns col;
    size_t cap;
    double *scratch[MD_IND_MAX_OUTPUTS]; /* outputs of history bars, thrown away */
    md_ind_hl_sd sd;
} feeder;

static void col_fill(feeder *f, const md_bar *bars, size_t n)
{
    if (n > f->cap) {
        free_columns(&f->col);
        for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) md_free(f->scratch[k]);
        md_bar_vec tmp = {(md_bar *)bars, n, n};
        split(&tmp, &f->col);
        for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) f->scratch[k] = md_malloc(n * sizeof(double));
        f->cap = n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        f->col.h[i] = bars[i].high;
        f->col.l[i] = bars[i].low;
        f->col.c[i] = bars[i].close;
        f->col.v[i] = bars[i].volume;
        f->col.ts[i] = bars[i].ts;
    }
}

static md_ind_cols cols_of(const columns *c)
{
    return (md_ind_cols){c->h, c->l, c->c, c->v, c->ts};
}

/* History: every run is fed, its outputs dropped. */
static void feed_history(void *ctx, const md_bar *bars, size_t n)
{
    feeder *f = ctx;
    col_fill(f, bars, n);
    md_ind_cols in = cols_of(&f->col);
    for (int s = 0; s < f->n_runs; s++) md_ind_run_feed(f->runs[s], &in, n, f->scratch);
}

static void feed_hl_sd(void *ctx, const md_bar *bars, size_t n)
{
    feeder *f = ctx;
    col_fill(f, bars, n);
    md_ind_hl_sd_add(&f->sd, f->col.h, f->col.l, n);
}

int md_query_indicators(md_services *svc, const md_history_req *req, const char *names, md_buf *out,
                        md_error *err)
{
    md_ind_spec specs[MD_IND_MAX];
    int ns = md_ind_parse(names, specs, MD_IND_MAX, err);
    if (ns < 0) return ns;
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    const char *from;
    int rc = md_query_history(svc, req, &bars, &from, err);
    if (rc) {
        md_bar_vec_deinit(&bars);
        return rc;
    }
    /* Every series is computed from the first stored bar of the symbol's series on, so the
     * value at a timestamp is the same whatever range, limit or companions were asked:
     * the stored bars before the answer are streamed through the runs first. */
    feeder f;
    memset(&f, 0, sizeof f);
    extent x = {0};
    int need_sd = 0;
    for (int s = 0; s < ns; s++) need_sd |= (specs[s].def->flags & MD_IND_HL_SD) != 0;
    if (bars.n) rc = series_extent(svc, req->symbol, req->iv, &x, err);
    if (!rc && bars.n && need_sd) {
        /* psar's seed (as TTR::SAR) uses the whole series, bars after the answer included */
        int64_t last = x.any && x.last > bars.v[bars.n - 1].ts ? x.last : bars.v[bars.n - 1].ts;
        int64_t first = x.any && x.first < bars.v[0].ts ? x.first : bars.v[0].ts;
        rc = scan_series(svc, req->symbol, req->iv, &x, first, md_interval_next(req->iv, last),
                         feed_hl_sd, &f, err);
    }
    for (int s = 0; s < ns; s++)
        f.runs[f.n_runs++] = md_ind_run_new(&specs[s], req->iv, md_ind_hl_sd_value(&f.sd));
    if (!rc && bars.n && x.any && x.first < bars.v[0].ts)
        rc = scan_series(svc, req->symbol, req->iv, &x, x.first, bars.v[0].ts, feed_history, &f,
                         err);
    free_columns(&f.col);
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) md_free(f.scratch[k]);
    if (rc < 0) {
        for (int s = 0; s < f.n_runs; s++) md_ind_run_free(f.runs[s]);
        md_bar_vec_deinit(&bars);
        return rc;
    }

    columns col;
    split(&bars, &col);
    size_t n = bars.n;
    md_buf_puts(out, "{\"symbol\":");
    md_buf_json_str(out, req->symbol);
    md_buf_puts(out, ",\"interval\":\"");
    md_buf_puts(out, md_interval_name(req->iv));
    md_buf_puts(out, "\",\"count\":");
    md_buf_int(out, (int64_t)n);
    if (n) {
        md_buf_puts(out, ",\"series_start\":");
        md_buf_ts(out, x.any && x.first < col.ts[0] ? x.first : col.ts[0], 1);
    }
    md_buf_puts(out, ",\"timestamps\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(out, ',');
        md_buf_ts(out, col.ts[i], 1);
    }
    md_buf_puts(out, "],\"close\":");
    series(out, col.c, n);
    md_buf_puts(out, ",\"indicators\":{");
    double *o[MD_IND_MAX_OUTPUTS];
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) o[k] = md_malloc((n ? n : 1) * sizeof(double));
    md_ind_cols in = cols_of(&col);
    for (int s = 0; s < ns; s++) {
        const md_ind_def *d = specs[s].def;
        md_ind_run_feed(f.runs[s], &in, n, o);
        if (s) md_buf_putc(out, ',');
        md_buf_json_str(out, specs[s].name);
        md_buf_putc(out, ':');
        if (d->noutputs == 1) {
            series(out, o[0], n);
            continue;
        }
        md_buf_putc(out, '{');
        for (int k = 0; k < d->noutputs; k++) {
            if (k) md_buf_putc(out, ',');
            md_buf_json_str(out, d->outputs[k]);
            md_buf_putc(out, ':');
            series(out, o[k], n);
        }
        md_buf_putc(out, '}');
    }
    md_buf_puts(out, "}}");
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) md_free(o[k]);
    for (int s = 0; s < f.n_runs; s++) md_ind_run_free(f.runs[s]);
    free_columns(&col);
    md_bar_vec_deinit(&bars);
    return 0;
}

int md_query_summary(md_services *svc, const md_history_req *req, md_buf *out, md_error *err)
{
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    const char *from;
    int rc = md_query_history(svc, req, &bars, &from, err);
    if (rc) {
        md_bar_vec_deinit(&bars);
        return rc;
    }
    columns col;
    split(&bars, &col);
    md_summary s;
    md_summary_compute(col.c, col.h, col.l, col.v, col.ts, bars.n, req->iv, &s);
    md_buf_puts(out, "{\"symbol\":");
    md_buf_json_str(out, req->symbol);
    md_buf_puts(out, ",\"interval\":\"");
    md_buf_puts(out, md_interval_name(req->iv));
    md_buf_puts(out, "\",\"count\":");
    md_buf_int(out, (int64_t)s.count);
    if (bars.n) {
        md_buf_puts(out, ",\"start\":");
        md_buf_ts(out, col.ts[0], 1);
        md_buf_puts(out, ",\"end\":");
        md_buf_ts(out, col.ts[bars.n - 1], 1);
    }
#define NUM(key, val) md_buf_puts(out, ",\"" key "\":"), md_buf_num(out, val)
    NUM("first_close", s.first_close);
    NUM("last_close", s.last_close);
    NUM("return", s.total_return);
    NUM("mean_return", s.mean_return);
    /* API.md: "volatility (annualised)"; the per-bar figure is period_volatility */
    NUM("volatility", s.annualized_volatility);
    NUM("annualized_volatility", s.annualized_volatility);
    NUM("period_volatility", s.volatility);
    NUM("max_drawdown", s.max_drawdown);
    NUM("average_volume", s.avg_volume);
    NUM("high", s.high);
    NUM("low", s.low);
    NUM("periods_per_year", s.periods_per_year);
#undef NUM
    if (bars.n && s.max_drawdown < 0) {
        md_buf_puts(out, ",\"max_drawdown_peak\":");
        md_buf_ts(out, s.max_drawdown_peak_ts, 1);
        md_buf_puts(out, ",\"max_drawdown_trough\":");
        md_buf_ts(out, s.max_drawdown_trough_ts, 1);
    }
    md_buf_putc(out, '}');
    free_columns(&col);
    md_bar_vec_deinit(&bars);
    return 0;
}
