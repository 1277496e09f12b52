/* analytics.c - /analytics/{symbol}/indicators and /summary: bars through the read path,
 * kernels from analytics/, JSON out. */
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

int md_query_indicators(md_services *svc, const md_history_req *req, const char *names, md_buf *out,
                        md_error *err)
{
    md_ind_spec specs[MD_IND_MAX];
    int ns = md_ind_parse(names, specs, MD_IND_MAX, err);
    if (ns < 0) return ns;
    md_bar_vec main_bars, bars;
    md_bar_vec_init(&main_bars);
    md_bar_vec_init(&bars);
    const char *from;
    int rc = md_query_history(svc, req, &main_bars, &from, err);
    if (rc) {
        md_bar_vec_deinit(&main_bars);
        return rc;
    }
    /* Warm the indicators up on the stored bars just before the range, so the first values
     * of the answer are real values rather than nulls wherever history exists. */
    size_t warm = 0;
    for (int s = 0; s < ns; s++) {
        size_t w = 4 * (size_t)(specs[s].p[0] + specs[s].p[1] + specs[s].p[2]);
        if (w > warm) warm = w;
    }
    if (warm > 100000) warm = 100000;
    if (main_bars.n && warm) {
        md_history_req w = *req;
        w.start = MD_TS_MIN;
        w.end = main_bars.v[0].ts;
        w.limit = warm;
        w.cached_only = 1;
        md_error e2;
        const char *f2;
        if (md_query_history(svc, &w, &bars, &f2, &e2) < 0) bars.n = 0;
    }
    size_t skip = bars.n;
    for (size_t i = 0; i < main_bars.n; i++) md_bar_vec_push(&bars, &main_bars.v[i]);
    md_bar_vec_deinit(&main_bars);
    columns col;
    split(&bars, &col);
    size_t total = bars.n, n = total - skip;
    md_buf_puts(out, "{\"symbol\":");
    md_buf_json_str(out, req->symbol);
    md_buf_puts(out, ",\"interval\":\"");
    md_buf_puts(out, md_interval_name(req->iv));
    md_buf_puts(out, "\",\"count\":");
    md_buf_int(out, (int64_t)n);
    md_buf_puts(out, ",\"timestamps\":[");
    for (size_t i = skip; i < total; i++) {
        if (i > skip) md_buf_putc(out, ',');
        md_buf_ts(out, col.ts[i], 1);
    }
    md_buf_puts(out, "],\"close\":");
    series(out, col.c + skip, n);
    md_buf_puts(out, ",\"indicators\":{");
    double *o[3];
    for (int k = 0; k < 3; k++) o[k] = md_malloc((total ? total : 1) * sizeof(double));
    for (int s = 0; s < ns; s++) {
        const char *onames[3];
        int no = md_ind_outputs(&specs[s], onames);
        md_ind_compute(&specs[s], col.h, col.l, col.c, col.v, total, o);
        if (s) md_buf_putc(out, ',');
        md_buf_json_str(out, specs[s].name);
        md_buf_putc(out, ':');
        if (no == 1) {
            series(out, o[0] + skip, n);
            continue;
        }
        md_buf_putc(out, '{');
        for (int k = 0; k < no; k++) {
            if (k) md_buf_putc(out, ',');
            md_buf_json_str(out, onames[k]);
            md_buf_putc(out, ':');
            series(out, o[k] + skip, n);
        }
        md_buf_putc(out, '}');
    }
    md_buf_puts(out, "}}");
    for (int k = 0; k < 3; k++) md_free(o[k]);
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
