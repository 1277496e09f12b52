/* quality.c (query) - /quality/{symbol}, /quality/report, /validate/{symbol}: parameters,
 * the store reads, the grading and the JSON answers (see quality.h for the rules). */
#include "query/quality.h"

#include "calendar/calendar.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT_BARS 64

static int parse_count(const char *name, const char *v, size_t min, size_t max, size_t *out,
                       md_error *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || (unsigned long long)x < min ||
        (unsigned long long)x > max)
        return md_error_set(err, MD_EPARAM, "%s: '%.20s' is not an integer %zu..%zu", name, v, min,
                            max);
    *out = (size_t)x;
    return 0;
}

int md_quality_req_parse(md_quality_req *req, const char *symbol,
                         const char *(*get)(void *ctx, const char *name), void *ctx, md_error *err)
{
    memset(req, 0, sizeof *req);
    int rc;
    if (symbol && (rc = md_symbol_normalize_str(symbol, req->symbol, err))) return rc;
    const char *v;
    req->iv = MD_IV_1D;
    if ((v = get(ctx, "interval"))) {
        if ((rc = md_interval_parse(v, &req->iv, err))) return rc;
        req->iv_given = 1;
    }
    req->start = MD_TS_MIN;
    req->end = MD_TS_MAX;
    int given = 0;
    rc = md_query_time_range(get, ctx, &req->start, &req->end, &given, err);
    req->start_given = (given & 1) != 0;
    req->end_given = (given & 2) != 0;
    if (rc) return rc;
    req->max_issues = 20;
    if ((v = get(ctx, "issues")) &&
        (rc = parse_count("issues", v, 0, 10000, &req->max_issues, err)))
        return rc;
    req->max_failures = 1000;
    /* a page lists at least one bar's failures: limit=0 could not be kept (as /historical) */
    if ((v = get(ctx, "limit")) &&
        (rc = parse_count("limit", v, 1, 1000000, &req->max_failures, err)))
        return rc;
    return 0;
}

/* -- which stored interval to grade ---------------------------------------------------------- */

/* Intervals with bars (mask bit per interval) and with findings only, for one symbol. */
static int stored_intervals(md_services *svc, const char *symbol, unsigned *bars,
                            unsigned *findings, md_error *err)
{
    *bars = *findings = 0;
    md_symbol_info *v = NULL;
    int n = md_store_list_symbols(svc->store, &v, err);
    if (n < 0) return n;
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].symbol, symbol) == 0) *bars |= 1u << v[i].iv;
    md_free(v);
    md_error e;
    v = NULL;
    n = md_store_list_quality_series(svc->store, &v, &e);
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].symbol, symbol) == 0) *findings |= 1u << v[i].iv;
    if (n >= 0) md_free(v);
    return 0;
}

static int pick_interval(md_services *svc, const md_quality_req *req, md_interval *out,
                         md_error *err)
{
    unsigned bars, findings;
    int rc = stored_intervals(svc, req->symbol, &bars, &findings, err);
    if (rc) return rc;
    if (!bars && !findings) {
        if (md_query_symbol_known(svc, req->symbol)) /* quotes only */
            return md_error_set(err, MD_ENODATA, "no bars stored for %s (quotes are not graded)",
                                req->symbol);
        return md_error_set(err, MD_ENOTFOUND, "no data for symbol %s", req->symbol);
    }
    if (!req->iv_given) {
        unsigned m = bars ? bars : findings;
        if (m & (1u << MD_IV_1D)) return *out = MD_IV_1D, 0;
        for (int i = 0; i < MD_IV_COUNT; i++)
            if (m & (1u << i)) return *out = (md_interval)i, 0;
    }
    if ((bars | findings) & (1u << req->iv)) return *out = req->iv, 0;
    for (int f = (int)req->iv - 1; f >= 0; f--) /* aggregated from the coarsest finer one */
        if ((bars & (1u << f)) && md_interval_divides((md_interval)f, req->iv))
            return *out = (md_interval)f, 0;
    return md_error_set(err, MD_ENODATA, "no %s bars stored for %s (nor finer ones to aggregate)",
                        md_interval_name(req->iv), req->symbol);
}

/* -- grading ------------------------------------------------------------------------------- */

void md_quality_grade_deinit(md_quality_grade *g)
{
    md_qevent_vec_deinit(&g->issues);
}

/* The writer's findings that the stored bars cannot show again. */
static int stored_only(int rule)
{
    return md_qrule_is_hard(rule) || rule == MD_QRULE_SOFT(MD_CHECK_DUPLICATE) ||
           rule == MD_QRULE_SOFT(MD_CHECK_DISAGREEMENT) ||
           rule == MD_QRULE_SOFT(MD_CHECK_ACTION_DISAGREEMENT); /* query/actions.c's */
}

/* Reads the bars of the range (newest max_bars) with stored context before them into tl;
 * emit marks the range's bars. Returns the number of range bars or an error. */
static int read_series(md_services *svc, const char *symbol, md_interval iv, int64_t start,
                       int64_t end, size_t max_bars, md_bar_vec *tl, uint8_t **emit, md_error *err)
{
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    int n = md_store_get_bars(svc->store, symbol, iv, start, end, max_bars, &bars, err);
    if (n < 0) {
        md_bar_vec_deinit(&bars);
        return n;
    }
    md_bar_vec_init(tl);
    if (n > 0 && md_store_get_bars(svc->store, symbol, iv, MD_TS_MIN, bars.v[0].ts, CONTEXT_BARS,
                                   tl, err) < 0)
        tl->n = 0;
    size_t ctx = tl->n;
    for (size_t i = 0; i < bars.n; i++) md_bar_vec_push(tl, &bars.v[i]);
    *emit = md_calloc(tl->n ? tl->n : 1, 1);
    memset(*emit + ctx, 1, tl->n - ctx);
    md_bar_vec_deinit(&bars);
    return n;
}

/* The soft rules over tl knowing the symbol's recorded splits (one per event, in the time of
 * iv's bars: the adjustment's cutoffs, query/adjust.c), so a split is no price_jump and a
 * split-sized jump without one is possible_unrecorded_split. */
static void scan_series(md_services *svc, const char *symbol, const md_quality_params *p,
                        md_interval iv, const md_cal *xcal, const md_bar_vec *tl,
                        const uint8_t *emit, md_qevent_vec *out)
{
    md_adj_plan plan;
    md_error e;
    md_qsplit *sp = NULL;
    size_t ns = 0;
    if (md_query_adjust_plan(svc, symbol, iv, MD_ADJUST_SPLITS, &plan, &e) == 0 && plan.n) {
        sp = md_malloc(plan.n * sizeof *sp);
        for (; ns < plan.n; ns++) { /* bars before cutoff[i] are divided by price_div[i] */
            double after = ns + 1 < plan.n ? plan.price_div[ns + 1] : 1;
            sp[ns].cutoff = plan.cutoff[ns];
            sp[ns].ratio = plan.price_div[ns] / after;
        }
    }
    md_adj_plan_deinit(&plan);
    static const md_qsplit none[1]; /* known: none recorded */
    md_quality_scan_splits(p, iv, xcal, sp ? sp : none, ns, tl->v, tl->n, emit, out);
    md_free(sp);
}

static int grade_series(md_services *svc, const char *symbol, md_interval iv,
                        const md_quality_req *req, md_quality_grade *g, md_error *err)
{
    const md_config *cfg = svc->cfg;
    md_quality_params p;
    md_quality_params_default(&p);
    if (cfg) md_quality_params_from_config(&p, cfg);
    memset(g, 0, sizeof *g);
    snprintf(g->symbol, sizeof g->symbol, "%s", symbol);
    g->iv = g->asked_iv = iv;
    memcpy(g->weight, p.weight, sizeof g->weight);
    /* a gap across the range's start counts the missing bars in the range only (/validate
     * keeps the whole gap: its next page starts at a bar, so the gap before it is no page's) */
    p.gaps_from = req->start;
    p.gaps_from_set = req->start_given;
    g->start = req->start, g->end = req->end;
    g->start_given = req->start_given, g->end_given = req->end_given;
    md_qevent_vec_init(&g->issues);
    md_quality_tally_init(&g->tally);

    /* the symbol's exchange calendar says which bars it should have (calendar/symbols.c) */
    const md_cal *xcal;
    int rc = md_cal_for_symbol(cfg, symbol, &xcal, NULL, err);
    if (rc) return rc;
    md_bar_vec tl;
    uint8_t *emit = NULL;
    int n = read_series(svc, symbol, iv, req->start, req->end, p.max_bars, &tl, &emit, err);
    if (n < 0) return n;
    size_t ctx = tl.n - (size_t)n;
    g->tally.bars = n;
    g->truncated = (size_t)n == p.max_bars &&
                   md_store_count_bars(svc->store, symbol, iv, req->start, req->end, NULL) > n;
    if (g->truncated) { /* the older rest of the range: up to the first bar graded here */
        g->page.truncated = 1;
        g->page.param = "end";
        g->page.next = tl.v[ctx].ts;
    }
    /* soft findings from the bars as they are now */
    scan_series(svc, symbol, &p, iv, xcal, &tl, emit, &g->issues);
    for (size_t i = 0; i < g->issues.n; i++) md_quality_tally_add(&g->tally, &g->issues.v[i]);
    /* what only the writer saw: counted from the store, listed up to a bound */
    int64_t count[MD_QRULE_COUNT];
    double sev[MD_QRULE_COUNT];
    md_error e;
    int64_t from = n > 0 && g->truncated ? tl.v[ctx].ts : req->start;
    if (md_store_count_quality_events(svc->store, symbol, iv, from, req->end, count, sev, &e) ==
        0) {
        for (int r = 0; r < MD_QRULE_COUNT; r++) {
            if (!stored_only(r) || !count[r]) continue;
            g->tally.count[r] += count[r];
            if (md_qrule_is_hard(r))
                g->tally.rejected += count[r];
            else
                g->tally.defects[md_qrule_dim(r)] += sev[r];
        }
        md_qevent_vec st;
        md_qevent_vec_init(&st);
        md_store_get_quality_events(svc->store, symbol, iv, from, req->end, -1, 5000, &st, &e);
        for (size_t i = 0; i < st.n; i++)
            if (stored_only(st.v[i].rule)) md_qevent_vec_push(&g->issues, &st.v[i]);
        md_qevent_vec_deinit(&st);
    } else {
        MD_WARN("quality", "stored findings unavailable symbol=%s err=\"%s\"", symbol, e.msg);
    }
    md_qevent_sort_by_severity(g->issues.v, g->issues.n);

    /* timeliness */
    double timeliness = 100;
    if (n > 0) {
        g->first_ts = tl.v[ctx].ts;
        g->last_ts = tl.v[tl.n - 1].ts;
        int64_t live_ts;
        g->live = md_store_get_live(svc->store, symbol, iv, &live_ts, &e) == 0;
        int64_t now = md_now(), ref = req->end_given && req->end < now ? req->end : now;
        md_calendar cal;
        md_calendar_init(&cal, iv, xcal, tl.v, tl.n);
        timeliness = md_quality_timeliness(&p, &cal, g->live, g->last_ts, ref, &g->lag_bars);
        md_calendar_deinit(&cal);
    }
    md_quality_score_tally(&p, &g->tally, timeliness, &g->score);
    md_free(emit);
    md_bar_vec_deinit(&tl);
    return 0;
}

int md_query_quality(md_services *svc, const md_quality_req *req, md_quality_grade *out,
                     md_error *err)
{
    md_interval iv;
    int rc = pick_interval(svc, req, &iv, err);
    if (rc) return rc;
    rc = grade_series(svc, req->symbol, iv, req, out, err);
    if (rc) return rc;
    if (req->iv_given) out->asked_iv = req->iv;
    if (!req->iv_given && !req->start_given && !req->end_given && out->score.score >= 0)
        md_metric_set(MD_M_QUALITY_SCORE, out->score.score, req->symbol);
    return 0;
}

/* -- rendering ------------------------------------------------------------------------------- */

static void put_score(md_buf *b, double s)
{
    if (s < 0)
        md_buf_puts(b, "null");
    else
        md_buf_num(b, round(s * 100) / 100);
}

static void put_time_or_null(md_buf *b, int given, int64_t ts)
{
    if (given)
        md_buf_ts(b, ts, 1);
    else
        md_buf_puts(b, "null");
}

/* What every finding carries, in the issues of a grade and the failures of a validation
 * alike: how bad, the value, the limit it broke, the source of the bar. */
static void put_measure(md_buf *b, const md_qevent *e)
{
    md_json_num(b, "severity", round((double)e->severity * 1000) / 1000);
    md_json_num(b, "value", e->value);
    md_json_num(b, "threshold", e->limit);
    md_json_str(b, "source", md_source_name(e->source));
}

static void put_issue(md_buf *b, const md_qevent *e)
{
    md_buf_puts(b, "{\"rule\":");
    md_buf_json_str(b, md_qrule_code(e->rule));
    md_json_str(b, "dimension", md_qdim_name(md_qrule_dim(e->rule)));
    md_json_ts(b, "timestamp", e->ts);
    put_measure(b, e);
    if (e->other_source) md_json_str(b, "other_source", md_source_name(e->other_source));
    md_json_str(b, "message", e->detail);
    md_buf_putc(b, '}');
}

static void put_dimensions(md_buf *b, const md_quality_score *s)
{
    md_buf_putc(b, '{');
    for (int d = 0; d < MD_QDIM_COUNT; d++) {
        if (d) md_buf_putc(b, ',');
        md_buf_json_str(b, md_qdim_name((md_qdim)d));
        md_buf_putc(b, ':');
        md_buf_num(b, round(s->dim[d] * 100) / 100);
    }
    md_buf_putc(b, '}');
}

void md_render_quality_json(md_buf *b, const md_quality_grade *g, size_t max_issues,
                            const md_link *link, md_buf *next_url)
{
    md_render_series_head(b, g->symbol, g->iv);
    if (g->asked_iv != g->iv) {
        md_buf_puts(b, ",\"requested_interval\":\"");
        md_buf_puts(b, md_interval_name(g->asked_iv));
        md_buf_putc(b, '"');
    }
    md_buf_puts(b, ",\"start\":");
    put_time_or_null(b, g->start_given, g->start);
    md_buf_puts(b, ",\"end\":");
    put_time_or_null(b, g->end_given, g->end);
    md_buf_puts(b, ",\"grade\":");
    md_buf_json_str(b, g->score.grade);
    md_buf_puts(b, ",\"score\":");
    put_score(b, g->score.score);
    md_buf_puts(b, ",\"dimensions\":");
    put_dimensions(b, &g->score);
    md_buf_puts(b, ",\"weights\":{");
    double sw = 0;
    for (int d = 0; d < MD_QDIM_COUNT; d++) sw += g->weight[d];
    for (int d = 0; d < MD_QDIM_COUNT; d++) {
        if (d) md_buf_putc(b, ',');
        md_buf_json_str(b, md_qdim_name((md_qdim)d));
        md_buf_putc(b, ':');
        md_buf_num(b, sw > 0 ? round(g->weight[d] / sw * 10000) / 10000 : 0);
    }
    md_buf_putc(b, '}');
    md_buf_puts(b, ",\"bars\":");
    md_buf_int(b, g->tally.bars);
    md_buf_puts(b, ",\"expected_bars\":");
    md_buf_int(b, g->tally.bars + g->tally.missing);
    md_buf_puts(b, ",\"missing_bars\":");
    md_buf_int(b, g->tally.missing);
    md_buf_puts(b, ",\"rejected_bars\":");
    md_buf_int(b, g->tally.rejected);
    md_buf_puts(b, ",\"first\":");
    put_time_or_null(b, g->tally.bars > 0, g->first_ts);
    md_buf_puts(b, ",\"last\":");
    put_time_or_null(b, g->tally.bars > 0, g->last_ts);
    md_buf_puts(b, ",\"live\":");
    md_buf_puts(b, g->live ? "true" : "false");
    md_buf_puts(b, ",\"lag_bars\":");
    md_buf_int(b, g->lag_bars);
    md_render_page_json(b, &g->page, link, next_url);
    md_buf_puts(b, ",\"issue_counts\":{");
    int first = 1;
    for (int r = 0; r < MD_QRULE_COUNT; r++) {
        if (!g->tally.count[r]) continue;
        if (!first) md_buf_putc(b, ',');
        first = 0;
        md_buf_json_str(b, md_qrule_code(r));
        md_buf_putc(b, ':');
        md_buf_int(b, g->tally.count[r]);
    }
    /* the issues are a summary, most severe first: issue_counts has every one, a larger
     * ?issues= (or /validate, every failing bar in time order) the rest */
    size_t n = g->issues.n < max_issues ? g->issues.n : max_issues;
    md_buf_puts(b, "},\"issues_total\":");
    md_buf_int(b, (int64_t)g->issues.n);
    md_buf_puts(b, n < g->issues.n ? ",\"issues_truncated\":true" : ",\"issues_truncated\":false");
    md_buf_puts(b, ",\"issues\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        put_issue(b, &g->issues.v[i]);
    }
    md_buf_puts(b, "]}");
}

/* -- report ---------------------------------------------------------------------------------- */

void md_quality_grades_free(md_quality_grade *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) md_quality_grade_deinit(&g[i]);
    md_free(g);
}

static int cmp_grade(const void *a, const void *b)
{
    const md_quality_grade *x = a, *y = b;
    double sx = x->score.score < 0 ? 1000 : x->score.score;
    double sy = y->score.score < 0 ? 1000 : y->score.score;
    if (sx != sy) return sx < sy ? -1 : 1;
    int c = strcmp(x->symbol, y->symbol);
    return c ? c : (int)x->iv - (int)y->iv;
}

int md_query_quality_report(md_services *svc, const md_quality_req *req, md_quality_grade **out,
                            size_t *n_out, md_error *err)
{
    md_symbol_info *s1 = NULL, *s2 = NULL;
    int n1 = md_store_list_symbols(svc->store, &s1, err);
    if (n1 < 0) return n1;
    md_error e;
    int n2 = md_store_list_quality_series(svc->store, &s2, &e);
    if (n2 < 0) n2 = 0, s2 = NULL;
    /* (symbol, interval) pairs from both lists; both are sorted by symbol, interval */
    size_t cap = (size_t)n1 + (size_t)n2, n = 0;
    md_quality_grade *g = md_calloc(cap ? cap : 1, sizeof *g);
    int i = 0, j = 0, rc = 0;
    while (rc == 0 && (i < n1 || j < n2)) {
        const md_symbol_info *x;
        int c = i == n1 ? 1 : j == n2 ? -1 : strcmp(s1[i].symbol, s2[j].symbol);
        if (c == 0) c = (int)s1[i].iv - (int)s2[j].iv;
        if (c < 0)
            x = &s1[i++];
        else if (c > 0)
            x = &s2[j++];
        else
            x = &s1[i++], j++;
        if (req->iv_given && x->iv != req->iv) continue;
        rc = grade_series(svc, x->symbol, x->iv, req, &g[n], err);
        if (rc) break;
        if (g[n].tally.bars == 0 && g[n].tally.rejected == 0) { /* nothing in the range */
            md_quality_grade_deinit(&g[n]);
            continue;
        }
        n++;
    }
    if (rc == 0 && !req->start_given && !req->end_given && !req->iv_given) {
        /* the gauge holds each symbol's default grade: the interval /quality/{symbol} picks */
        for (size_t k = 0; k < n; k++) {
            unsigned bars = 0, any = 0;
            for (size_t m = 0; m < n; m++)
                if (strcmp(g[m].symbol, g[k].symbol) == 0) {
                    any |= 1u << g[m].iv;
                    if (g[m].tally.bars > 0) bars |= 1u << g[m].iv;
                }
            unsigned mask = bars ? bars : any;
            int def = (mask & (1u << MD_IV_1D)) ? MD_IV_1D : __builtin_ctz(mask);
            if ((int)g[k].iv == def && g[k].score.score >= 0)
                md_metric_set(MD_M_QUALITY_SCORE, g[k].score.score, g[k].symbol);
        }
    }
    md_free(s1);
    md_free(s2);
    if (rc) {
        md_quality_grades_free(g, n);
        return rc;
    }
    qsort(g, n, sizeof *g, cmp_grade);
    *out = g;
    *n_out = n;
    return 0;
}

void md_render_quality_report_json(md_buf *b, const md_quality_grade *g, size_t n)
{
    md_buf_puts(b, "{\"symbols\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        md_render_series_head(b, g[i].symbol, g[i].iv);
        md_buf_puts(b, ",\"grade\":");
        md_buf_json_str(b, g[i].score.grade);
        md_buf_puts(b, ",\"score\":");
        put_score(b, g[i].score.score);
        md_buf_puts(b, ",\"bars\":");
        md_buf_int(b, g[i].tally.bars);
        md_buf_puts(b, ",\"rejected_bars\":");
        md_buf_int(b, g[i].tally.rejected);
        md_buf_puts(b, ",\"issues\":");
        int64_t k = 0;
        for (int r = 0; r < MD_QRULE_COUNT; r++) k += g[i].tally.count[r];
        md_buf_int(b, k);
        md_buf_puts(b, ",\"dimensions\":");
        put_dimensions(b, &g[i].score);
        md_buf_puts(b, ",\"top_issue\":");
        if (g[i].issues.n)
            put_issue(b, &g[i].issues.v[0]);
        else
            md_buf_puts(b, "null");
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "],\"count\":");
    md_buf_int(b, (int64_t)n);
    md_buf_putc(b, '}');
}

/* -- validate -------------------------------------------------------------------------------- */

void md_validate_result_deinit(md_validate_result *r)
{
    md_free(r->v);
    r->v = NULL;
    r->n = 0;
}

static int cmp_failure(const void *a, const void *b)
{
    const md_validate_failure *x = a, *y = b;
    if (x->ev.ts != y->ev.ts) return x->ev.ts < y->ev.ts ? -1 : 1;
    return (int)x->ev.rule - (int)y->ev.rule;
}

/* The end of a validate page: at most max failures of all[0..n) (sorted by time) lie before
 * it, and the failures of one bar are never split. Returns how many are listed. */
static size_t cut_failures(const md_validate_failure *all, size_t n, size_t max, int64_t *at)
{
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && all[k - 1].ev.ts == all[max].ev.ts) k--;
    if (k == 0) { /* the first bar alone has more than max: list it whole */
        while (k < n && all[k].ev.ts == all[0].ev.ts) k++;
        if (k == n) return n;
    }
    *at = all[k].ev.ts;
    return k;
}

int md_query_validate(md_services *svc, const md_quality_req *req, md_validate_result *out,
                      md_error *err)
{
    memset(out, 0, sizeof *out);
    md_interval iv;
    int rc = pick_interval(svc, req, &iv, err);
    if (rc) return rc;
    md_quality_params p;
    md_quality_params_default(&p);
    if (svc->cfg) md_quality_params_from_config(&p, svc->cfg);
    const md_cal *xcal;
    if ((rc = md_cal_for_symbol(svc->cfg, req->symbol, &xcal, NULL, err)) != 0) return rc;
    snprintf(out->symbol, sizeof out->symbol, "%s", req->symbol);
    out->iv = iv;
    out->start = req->start, out->end = req->end;
    out->start_given = req->start_given, out->end_given = req->end_given;

    /* the oldest max_bars bars of the range (one more tells whether it goes on), with the
     * stored context before them */
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    int n = md_store_get_bars_oldest(svc->store, req->symbol, iv, req->start, req->end,
                                     p.max_bars + 1, &bars, err);
    if (n < 0) {
        md_bar_vec_deinit(&bars);
        return n;
    }
    int64_t page_end = req->end; /* P: the answer covers [start, P) */
    int more = 0;
    if (bars.n > p.max_bars) {
        page_end = bars.v[p.max_bars].ts;
        bars.n = p.max_bars;
        more = 1;
    }
    md_bar_vec tl;
    md_bar_vec_init(&tl);
    if (bars.n && md_store_get_bars(svc->store, req->symbol, iv, MD_TS_MIN, bars.v[0].ts,
                                    CONTEXT_BARS, &tl, err) < 0)
        tl.n = 0;
    size_t ctx = tl.n;
    for (size_t i = 0; i < bars.n; i++) md_bar_vec_push(&tl, &bars.v[i]);
    md_bar_vec_deinit(&bars);
    uint8_t *emit = md_calloc(tl.n ? tl.n : 1, 1);
    memset(emit + ctx, 1, tl.n - ctx);

    md_qevent_vec found;
    md_qevent_vec_init(&found);
    /* hard rules again (stored before a rule existed, or moved here from another store) */
    int64_t now = md_now();
    for (size_t i = ctx; i < tl.n; i++) {
        md_rule rule;
        md_error e;
        if (md_validate_bar(&tl.v[i], iv, now, p.future_tolerance_s, &rule, &e) != 0) {
            md_qevent r;
            md_qevent_reject(&r, &tl.v[i], rule, e.msg);
            md_qevent_vec_push(&found, &r);
        }
    }
    scan_series(svc, req->symbol, &p, iv, xcal, &tl, emit, &found);
    /* the writer's findings on stored bars (duplicates, disagreements) and rejected deliveries */
    md_qevent_vec st;
    md_qevent_vec_init(&st);
    md_error e;
    md_store_get_quality_events(svc->store, req->symbol, iv, req->start, page_end, -1, 0, &st, &e);
    size_t total = found.n;
    for (size_t i = 0; i < st.n; i++) total += stored_only(st.v[i].rule);
    md_validate_failure *all = md_malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < found.n; i++) all[k].ev = found.v[i], all[k++].stored = 0;
    for (size_t i = 0; i < st.n; i++)
        if (stored_only(st.v[i].rule)) {
            all[k].ev = st.v[i];
            all[k++].stored = md_qrule_is_hard(st.v[i].rule);
        }
    qsort(all, k, sizeof *all, cmp_failure);
    out->total = total;
    int64_t cut = page_end;
    size_t listed = cut_failures(all, k, req->max_failures, &cut);
    if (listed < k || more) {
        out->page.truncated = 1;
        out->page.param = "start";
        out->page.next = cut;
        page_end = cut;
    }
    /* the counts of [start, page_end) */
    for (size_t i = ctx; i < tl.n && tl.v[i].ts < page_end; i++) out->checked++;
    /* stored bars with a failure: timestamps with one that is not a rejected delivery */
    int64_t counted = 0;
    int any = 0;
    for (size_t i = 0; i < listed; i++) {
        const md_validate_failure *f = &all[i];
        if (f->stored) {
            out->rejected++;
            continue;
        }
        if (!any || f->ev.ts != counted) out->failed_bars++;
        counted = f->ev.ts;
        any = 1;
    }
    out->v = all;
    out->n = listed;
    md_qevent_vec_deinit(&st);
    md_qevent_vec_deinit(&found);
    md_free(emit);
    md_bar_vec_deinit(&tl);
    return 0;
}

void md_render_validate_json(md_buf *b, const md_validate_result *r, const md_link *link,
                             md_buf *next_url)
{
    md_render_series_head(b, r->symbol, r->iv);
    md_buf_puts(b, ",\"start\":");
    put_time_or_null(b, r->start_given, r->start);
    md_buf_puts(b, ",\"end\":");
    put_time_or_null(b, r->end_given, r->end);
    md_buf_puts(b, ",\"checked\":");
    md_buf_int(b, (int64_t)r->checked);
    md_buf_puts(b, ",\"passed\":");
    md_buf_int(b, (int64_t)(r->checked > r->failed_bars ? r->checked - r->failed_bars : 0));
    md_buf_puts(b, ",\"failed\":");
    md_buf_int(b, (int64_t)r->failed_bars);
    md_buf_puts(b, ",\"rejected\":");
    md_buf_int(b, (int64_t)r->rejected);
    md_buf_puts(b, ",\"failures\":[");
    for (size_t i = 0; i < r->n; i++) {
        const md_qevent *e = &r->v[i].ev;
        if (i) md_buf_putc(b, ',');
        md_buf_puts(b, "{\"timestamp\":");
        md_buf_ts(b, e->ts, 1);
        md_json_str(b, "rule", md_qrule_code(e->rule));
        md_json_str(b, "kind",
                    r->v[i].stored              ? "rejected"
                    : md_qrule_is_hard(e->rule) ? "hard"
                                                : "soft");
        md_json_str(b, "dimension", md_qdim_name(md_qrule_dim(e->rule)));
        put_measure(b, e);
        md_json_str(b, "reason", e->detail);
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "],\"total\":");
    md_buf_int(b, (int64_t)r->total);
    md_render_page_json(b, &r->page, link, next_url);
    md_buf_putc(b, '}');
}
