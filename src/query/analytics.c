/* analytics.c - /analytics/{symbol}/indicators and /summary: bars through the read path,
 * kernels from analytics/, JSON out.
 *
 * Indicators are computed over the symbol's stored series from its first bar: the stored
 * bars before the answer's first bar are read window by window (bounded memory) and
 * streamed through the indicator runs, then the answer's bars. Every value therefore
 * depends only on the stored series, never on start, end, limit or the other names asked;
 * for that the range is widened to whole buckets (a start or end inside a bucket of an
 * aggregated interval takes the whole bucket), so only a bar still forming is partial.
 *
 * The summary streams the range through md_summary_add window by window: it covers the
 * whole range asked, however long, in bounded memory. */
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

int md_query_series_extent(md_services *svc, const char *symbol, md_interval iv,
                           md_series_extent *x, md_error *err)
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
            /* as buckets of iv: a session's bar begins at its date, which may be before the
             * instant of its first intraday bar (US post-market past midnight UTC) */
            int64_t first = md_store_bucket_of(svc->store, symbol, iv, (md_interval)f, v.v[0].ts);
            int64_t last = md_store_bucket_of(svc->store, symbol, iv, (md_interval)f, v.v[1].ts);
            if (!x->any || first < x->first) x->first = first;
            if (!x->any || last > x->last) x->last = last;
            x->finest = (md_interval)f;
            x->any = 1;
        }
        md_bar_vec_deinit(&v);
    }
    return 0;
}

/* md_query_scan_series with the bars adjusted by plan (NULL: as stored) as the read path
 * would answer them. */
static int scan_adjusted(md_services *svc, const char *symbol, md_interval iv,
                         const md_series_extent *x, const md_adj_plan *plan, int64_t from,
                         int64_t to, md_query_bars_fn fn, void *ctx, md_error *err)
{
    if (!x->any) return 0;
    if (from < x->first) from = x->first;
    int64_t past_last = md_interval_next(iv, x->last); /* nothing is stored after it */
    if (to > past_last) to = past_last;
    int64_t span = md_interval_seconds(x->finest) * PAGE_BARS;
    md_bar_vec v;
    md_bar_vec_init(&v);
    int rc = 0;
    for (int64_t t = from; t < to;) {
        int64_t we = t + span < to ? md_interval_floor(iv, t + span) : to;
        if (we <= t) we = md_interval_next(iv, md_interval_floor(iv, t));
        if (we > to) we = to;
        v.n = 0;
        rc = md_store_get_bars_agg(svc->store, symbol, iv, t, we, 0, &v, NULL, err);
        if (rc < 0) break;
        rc = 0;
        v.n = md_query_session_filter(svc, symbol, iv, x->session, v.v, v.n);
        if (plan) md_query_adjust_with(svc, symbol, iv, plan, v.v, v.n);
        if (v.n) fn(ctx, v.v, v.n);
        t = we;
    }
    md_bar_vec_deinit(&v);
    return rc;
}

int md_query_scan_series(md_services *svc, const char *symbol, md_interval iv,
                         const md_series_extent *x, const md_adj_plan *plan, int64_t from,
                         int64_t to, md_query_bars_fn fn, void *ctx, md_error *err)
{
    return scan_adjusted(svc, symbol, iv, x, plan, from, to, fn, ctx, err);
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

/* md_query_ind_at: every run fed, the outputs of each chunk's last bar kept. */
typedef struct at_feeder {
    feeder f;
    double (*out)[MD_IND_MAX_OUTPUTS];
    md_bar last;
    int have;
} at_feeder;

static void feed_at(void *ctx, const md_bar *bars, size_t n)
{
    at_feeder *a = ctx;
    feeder *f = &a->f;
    col_fill(f, bars, n);
    md_ind_cols in = cols_of(&f->col);
    for (int s = 0; s < f->n_runs; s++) {
        md_ind_run_feed(f->runs[s], &in, n, f->scratch);
        for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) a->out[s][k] = f->scratch[k][n - 1];
    }
    a->last = bars[n - 1];
    a->have = 1;
}

int md_query_ind_at(md_services *svc, const char *symbol, md_interval iv, const md_ind_spec *specs,
                    int n, int64_t before, md_bar *bar, double (*out)[MD_IND_MAX_OUTPUTS],
                    md_error *err)
{
    md_series_extent x;
    int rc = md_query_series_extent(svc, symbol, iv, &x, err);
    if (rc) return rc;
    if (!x.any)
        return md_error_set(err, MD_ENODATA, "%s: no %s bars stored", symbol, md_interval_name(iv));
    at_feeder a;
    memset(&a, 0, sizeof a);
    a.out = out;
    md_adj_plan plan; /* the REST answer's default adjustment */
    rc = md_query_adjust_plan(svc, symbol, iv, MD_ADJUST_DEFAULT, &plan, err);
    if (rc) return rc;
    int need_sd = 0;
    for (int s = 0; s < n; s++) need_sd |= (specs[s].def->flags & MD_IND_HL_SD) != 0;
    if (need_sd) /* as the REST answer: over the whole stored series */
        rc = md_query_scan_series(svc, symbol, iv, &x, &plan, x.first, md_interval_next(iv, x.last),
                                  feed_hl_sd, &a.f, err);
    for (int s = 0; s < n && s < MD_IND_MAX; s++)
        a.f.runs[a.f.n_runs++] = md_ind_run_new(&specs[s], iv, md_ind_hl_sd_value(&a.f.sd));
    if (rc == 0)
        rc = md_query_scan_series(svc, symbol, iv, &x, &plan, x.first, before, feed_at, &a, err);
    md_adj_plan_deinit(&plan);
    for (int s = 0; s < a.f.n_runs; s++) md_ind_run_free(a.f.runs[s]);
    free_columns(&a.f.col);
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) md_free(a.f.scratch[k]);
    if (rc == 0 && !a.have)
        rc = md_error_set(err, MD_ENODATA, "%s: no %s bars stored before the time asked", symbol,
                          md_interval_name(iv));
    if (rc == 0) *bar = a.last;
    return rc;
}

/* The indicators' range: whole buckets of iv (see the top of the file). */
static md_history_req whole_buckets(const md_history_req *req)
{
    md_history_req r = *req;
    if (r.start > MD_TS_MIN) r.start = md_interval_floor(r.iv, r.start);
    if (r.end < MD_TS_MAX) r.end = md_interval_next(r.iv, md_interval_floor(r.iv, r.end - 1));
    return r;
}

/* A JSON array of x in answer order (newest first for order=desc). */
static void series_ordered(md_buf *b, const double *x, size_t n, int desc)
{
    if (!desc) {
        series(b, x, n);
        return;
    }
    md_buf_reserve(b, n * 20 + 2);
    md_buf_putc(b, '[');
    for (size_t i = n; i-- > 0;) {
        md_buf_num(b, x[i]);
        if (i) md_buf_putc(b, ',');
    }
    md_buf_putc(b, ']');
}

int md_query_indicators(md_services *svc, const md_history_req *asked, const char *names,
                        md_buf *out, md_buf *next_url, md_error *err)
{
    md_ind_spec specs[MD_IND_MAX];
    int ns = md_ind_parse(names, specs, MD_IND_MAX, err);
    if (ns < 0) return ns;
    md_history_req whole = whole_buckets(asked);
    const md_history_req *req = &whole;
    md_history h;
    md_history_init(&h);
    int rc = md_query_history(svc, req, &h, err);
    if (rc) {
        md_history_deinit(&h);
        return rc;
    }
    md_bar_vec bars = h.bars;
    /* Every series is computed from the first stored bar of the symbol's series on, so the
     * value at a timestamp is the same whatever range, limit or companions were asked:
     * the stored bars before the answer are streamed through the runs first. */
    feeder f;
    memset(&f, 0, sizeof f);
    md_series_extent x = {0};
    md_adj_plan plan; /* the history before the answer, adjusted as the answer is */
    md_adj_plan_build(MD_ADJUST_NONE, NULL, 0, 0, &plan);
    int need_sd = 0;
    for (int s = 0; s < ns; s++) need_sd |= (specs[s].def->flags & MD_IND_HL_SD) != 0;
    if (bars.n) rc = md_query_series_extent(svc, req->symbol, req->iv, &x, err);
    x.session = req->session; /* the history before the page keeps the page's hours */
    if (!rc && bars.n)
        rc = md_query_adjust_plan(svc, req->symbol, req->iv, req->adjust, &plan, err);
    if (!rc && bars.n && need_sd) {
        /* psar's seed (as TTR::SAR) uses the whole series, bars after the answer included */
        int64_t last = x.any && x.last > bars.v[bars.n - 1].ts ? x.last : bars.v[bars.n - 1].ts;
        int64_t first = x.any && x.first < bars.v[0].ts ? x.first : bars.v[0].ts;
        rc = scan_adjusted(svc, req->symbol, req->iv, &x, &plan, first,
                           md_interval_next(req->iv, last), feed_hl_sd, &f, err);
    }
    for (int s = 0; s < ns; s++)
        f.runs[f.n_runs++] = md_ind_run_new(&specs[s], req->iv, md_ind_hl_sd_value(&f.sd));
    if (!rc && bars.n && x.any && x.first < bars.v[0].ts)
        rc = scan_adjusted(svc, req->symbol, req->iv, &x, &plan, x.first, bars.v[0].ts,
                           feed_history, &f, err);
    md_adj_plan_deinit(&plan);
    free_columns(&f.col);
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) md_free(f.scratch[k]);
    if (rc < 0) {
        for (int s = 0; s < f.n_runs; s++) md_ind_run_free(f.runs[s]);
        md_history_deinit(&h);
        return rc;
    }

    columns col;
    split(&bars, &col);
    size_t n = bars.n;
    int desc = req->desc;
    md_render_series_head(out, req->symbol, req->iv);
    md_render_adjust_json(out, &h.adj);
    md_buf_puts(out, ",\"count\":");
    md_buf_int(out, (int64_t)n);
    if (n) {
        md_buf_puts(out, ",\"series_start\":");
        md_buf_ts(out, x.any && x.first < col.ts[0] ? x.first : col.ts[0], 1);
    }
    if (desc) md_buf_puts(out, ",\"order\":\"desc\"");
    md_render_page_json(out, &h.page, asked->link, next_url);
    md_buf_puts(out, ",\"timestamps\":[");
    for (size_t j = 0; j < n; j++) {
        size_t i = desc ? n - 1 - j : j;
        if (j) md_buf_putc(out, ',');
        md_buf_ts(out, col.ts[i], 1);
    }
    md_buf_puts(out, "],\"partial\":[");
    for (size_t j = 0; j < n; j++) {
        size_t i = desc ? n - 1 - j : j;
        if (j) md_buf_putc(out, ',');
        md_buf_puts(out, md_bar_span_partial(&h.span, col.ts[i]) ? "true" : "false");
    }
    md_buf_puts(out, "],\"close\":");
    series_ordered(out, col.c, n, desc);
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
            series_ordered(out, o[0], n, desc);
            continue;
        }
        md_buf_putc(out, '{');
        for (int k = 0; k < d->noutputs; k++) {
            if (k) md_buf_putc(out, ',');
            md_buf_json_str(out, d->outputs[k]);
            md_buf_putc(out, ':');
            series_ordered(out, o[k], n, desc);
        }
        md_buf_putc(out, '}');
    }
    md_buf_puts(out, "}}");
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) md_free(o[k]);
    for (int s = 0; s < f.n_runs; s++) md_ind_run_free(f.runs[s]);
    free_columns(&col);
    md_history_deinit(&h);
    return 0;
}

/* The summary's window feed. */
typedef struct summer {
    md_summary_acc acc;
    columns col;
    size_t cap;
    int exclude; /* partial=exclude */
    md_bar_span span;
    md_bar_vec keep;
    int64_t first_ts, last_ts; /* of the bars summarised */
} summer;

static void feed_summary(void *ctx, const md_bar *bars, size_t n)
{
    summer *s = ctx;
    if (s->exclude) { /* only the edges can be partial: filter into a copy */
        s->keep.n = 0;
        for (size_t i = 0; i < n; i++)
            if (!md_bar_span_partial(&s->span, bars[i].ts)) md_bar_vec_push(&s->keep, &bars[i]);
        bars = s->keep.v;
        n = s->keep.n;
    }
    if (n == 0) return;
    if (s->acc.s.count == 0) s->first_ts = bars[0].ts;
    s->last_ts = bars[n - 1].ts;
    if (n > s->cap) {
        free_columns(&s->col);
        md_bar_vec tmp = {(md_bar *)bars, n, n};
        split(&tmp, &s->col);
        s->cap = n;
    } else {
        for (size_t i = 0; i < n; i++) {
            s->col.h[i] = bars[i].high;
            s->col.l[i] = bars[i].low;
            s->col.c[i] = bars[i].close;
            s->col.v[i] = bars[i].volume;
            s->col.ts[i] = bars[i].ts;
        }
    }
    md_summary_add(&s->acc, s->col.c, s->col.h, s->col.l, s->col.v, s->col.ts, n);
}

int md_query_summary(md_services *svc, const md_history_req *req, md_buf *out, md_error *err)
{
    /* The read path first, for what it does besides reading: 404 for an unknown symbol and
     * the backfill of the range's ends from the sources (a one-bar page from each end). */
    md_history h;
    md_history_init(&h);
    md_history_req probe = *req;
    probe.limit = 1;
    probe.partial_exclude = 0;
    int rc = md_query_history(svc, &probe, &h, err);
    int64_t first = h.bars.n ? h.bars.v[0].ts : 0;
    if (rc == 0 && h.bars.n) {
        probe.desc = 1;
        rc = md_query_history(svc, &probe, &h, err);
    }
    int64_t last = h.bars.n ? h.bars.v[h.bars.n - 1].ts : 0;
    md_bar_span span = h.span;
    md_adj_note adj = h.adj;
    size_t have = h.bars.n;
    md_history_deinit(&h);
    if (rc) return rc;
    summer s;
    memset(&s, 0, sizeof s);
    md_summary_begin(&s.acc, req->iv);
    s.exclude = req->partial_exclude;
    s.span = span;
    md_bar_vec_init(&s.keep);
    if (have) {
        md_series_extent x;
        rc = md_query_series_extent(svc, req->symbol, req->iv, &x, err);
        x.session = req->session;
        /* from the first bar (or from start, inside its bucket) to the end of the last */
        int64_t from = first > req->start ? first : req->start;
        int64_t to = md_interval_next(req->iv, last);
        if (to > req->end) to = req->end;
        /* adjusted as the answer says: a raw scan would count a split as a crash */
        md_adj_plan plan;
        md_adj_plan_build(MD_ADJUST_NONE, NULL, 0, 0, &plan);
        if (rc == 0 && x.any)
            rc = md_query_adjust_plan(svc, req->symbol, req->iv, req->adjust, &plan, err);
        if (rc == 0 && x.any)
            rc = scan_adjusted(svc, req->symbol, req->iv, &x, &plan, from, to, feed_summary, &s,
                               err);
        md_adj_plan_deinit(&plan);
    }
    free_columns(&s.col);
    md_bar_vec_deinit(&s.keep);
    if (rc < 0) return rc;
    md_summary sm;
    md_summary_end(&s.acc, &sm);
    md_render_series_head(out, req->symbol, req->iv);
    md_render_adjust_json(out, &adj);
    md_buf_puts(out, ",\"count\":");
    md_buf_int(out, (int64_t)sm.count);
    /* the first and last bar; null (never left out, API.md) when the range has none */
    if (sm.count) {
        md_buf_puts(out, ",\"start\":");
        md_buf_ts(out, s.first_ts, 1);
        md_buf_puts(out, ",\"end\":");
        md_buf_ts(out, s.last_ts, 1);
    } else {
        md_buf_puts(out, ",\"start\":null,\"end\":null");
    }
#define NUM(key, val) md_buf_puts(out, ",\"" key "\":"), md_buf_num(out, val)
    NUM("first_close", sm.first_close);
    NUM("last_close", sm.last_close);
    NUM("return", sm.total_return);
    NUM("mean_return", sm.mean_return);
    /* API.md: "volatility (annualised)"; the per-bar figure is period_volatility */
    NUM("volatility", sm.annualized_volatility);
    NUM("annualized_volatility", sm.annualized_volatility);
    NUM("period_volatility", sm.volatility);
    NUM("max_drawdown", sm.max_drawdown);
    NUM("average_volume", sm.avg_volume);
    NUM("high", sm.high);
    NUM("low", sm.low);
    NUM("periods_per_year", sm.periods_per_year);
#undef NUM
    if (sm.count && sm.max_drawdown < 0) {
        md_buf_puts(out, ",\"max_drawdown_peak\":");
        md_buf_ts(out, sm.max_drawdown_peak_ts, 1);
        md_buf_puts(out, ",\"max_drawdown_trough\":");
        md_buf_ts(out, sm.max_drawdown_trough_ts, 1);
    }
    md_buf_putc(out, '}');
    return 0;
}
