/* history.c - /historical and `mdagent query`: parameters, store read, backfill of the
 * missing ranges from the sources (when configured), rendering. */
#include "query/query.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/render.h"
#include "calendar/calendar.h"
#include "core/timefmt.h"
#include "quality/calendar.h"
#include "sources/manager.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int md_query_cached_only_parse(const char *v, int *out, md_error *err)
{
    *out = 0;
    if (!v) return 0;
    if (!*v || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
        return *out = 1, 0;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) return 0;
    return md_error_set(err, MD_EPARAM, "cached_only: '%.20s' is not true or false", v);
}

static const char *const session_names[] = {"all", "extended", "regular"};

const char *md_session_name(md_session_sel sel)
{
    return (unsigned)sel < MD_ARRAY_LEN(session_names) ? session_names[sel] : "all";
}

int md_query_time_range(const char *(*get)(void *ctx, const char *name), void *ctx, int64_t *start,
                        int64_t *end, int *given, md_error *err)
{
    static const char *const names[2] = {"start", "end"};
    int64_t *at[2] = {start, end};
    for (int k = 0; k < 2; k++) {
        const char *v = get(ctx, names[k]);
        if (!v) continue;
        int rc = md_time_parse_str(v, at[k], err);
        if (rc) {
            md_error_prefix(err, "%s", names[k]);
            return rc;
        }
        if (given) *given |= 1 << k;
    }
    if (*end <= *start) return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    return 0;
}

int md_history_req_parse(md_history_req *req, const char *symbol,
                         const char *(*get)(void *ctx, const char *name), void *ctx,
                         const md_config *cfg, md_error *err)
{
    memset(req, 0, sizeof *req);
    req->source = -1;
    int rc = symbol ? md_symbol_normalize_str(symbol, req->symbol, err) : 0;
    if (rc) return rc;
    const char *v = get(ctx, "interval");
    req->iv = MD_IV_1D;
    if (v && (rc = md_interval_parse(v, &req->iv, err))) return rc;
    req->start = MD_TS_MIN;
    req->end = MD_TS_MAX;
    if ((rc = md_query_time_range(get, ctx, &req->start, &req->end, NULL, err))) return rc;
    req->limit = cfg ? (size_t)cfg->default_limit : 10000;
    if ((v = get(ctx, "limit"))) {
        char *end;
        errno = 0;
        long long l = strtoll(v, &end, 10);
        long long max = cfg ? (long long)cfg->max_limit : 1000000;
        if (errno || end == v || *end || l < 1 || l > max)
            return md_error_set(err, MD_EPARAM, "limit: '%.20s' is not an integer 1..%lld", v, max);
        req->limit = (size_t)l;
    }
    if ((v = get(ctx, "order"))) {
        if (strcasecmp(v, "desc") == 0)
            req->desc = 1;
        else if (strcasecmp(v, "asc") != 0)
            return md_error_set(err, MD_EPARAM, "order: '%.20s' is not asc or desc", v);
    }
    if ((v = get(ctx, "partial"))) {
        if (strcasecmp(v, "exclude") == 0)
            req->partial_exclude = 1;
        else if (strcasecmp(v, "include") != 0)
            return md_error_set(err, MD_EPARAM, "partial: '%.20s' is not include or exclude", v);
    }
    if ((v = get(ctx, "format"))) {
        if (strcasecmp(v, "csv") == 0)
            req->csv = 1;
        else if (strcasecmp(v, "json") != 0)
            return md_error_set(err, MD_EPARAM, "format: '%.20s' is not json or csv", v);
    }
    if ((rc = md_query_cached_only_parse(get(ctx, "cached_only"), &req->cached_only, err)))
        return rc;
    if ((rc = md_query_adjust_parse(get(ctx, "adjust"), &req->adjust, err))) return rc;
    if ((v = get(ctx, "session"))) {
        size_t k = 0;
        while (k < MD_ARRAY_LEN(session_names) && strcasecmp(v, session_names[k]) != 0) k++;
        if (k == MD_ARRAY_LEN(session_names))
            return md_error_set(err, MD_EPARAM, "session: '%.20s' is not all, extended or regular",
                                v);
        req->session = (md_session_sel)k;
    }
    if ((v = get(ctx, "source"))) {
        req->source = md_source_parse(v);
        if (req->source < 0 || req->source == MD_SRC_UNKNOWN)
            return md_error_set(err, MD_EPARAM, "source: unknown source '%.20s'", v);
    }
    return 0;
}

int md_query_symbol_known(md_services *svc, const char *symbol)
{
    md_bar b;
    md_quote q;
    if (md_store_latest_bar(svc->store, symbol, &b, NULL, NULL) == 0) return 1;
    return md_store_get_quote(svc->store, symbol, &q, NULL) == 0;
}

/* -- backfill on read ----------------------------------------------------------------- */

#define START_GAP_TTL_S 86400 /* history before the first stored bar rarely appears later */
#define MID_GAPS_MAX 2        /* holes inside the stored range asked per request */

/* A range asked from the sources and whether it brought bars. */
typedef struct fetched {
    int64_t start, end;
    size_t bars;
} fetched;

typedef struct backfill {
    md_services *svc;
    const md_history_req *req;
    fetched got[4];
    int n_got;
    int err_rc; /* first fetch error, 0 when none */
    md_error err;
} backfill;

/* Fetches [start, end) of interval fiv and stores it (md_query_fetch_bars). Skipped when
 * the same gap (key) was asked less than ttl_s ago. */
static void fetch_gap(backfill *bf, md_interval fiv, int64_t start, int64_t end, const char *kind,
                      int64_t ttl_s)
{
    md_srcmgr *m = bf->svc->sources;
    const md_history_req *req = bf->req;
    if (end <= start || bf->n_got == (int)MD_ARRAY_LEN(bf->got)) return;
    /* failover quietly skips an interval no source offers; one named source says so */
    if (req->source < 0 && !md_srcmgr_supports(m, -1, fiv)) return;
    char key[200];
    snprintf(key, sizeof key, "g|%s|%s|%s|%d|%lld|%lld|%lld", req->symbol, md_interval_name(fiv),
             kind, req->source, (long long)req->start, (long long)req->end,
             (long long)(strcmp(kind, "mid") == 0 ? start : 0));
    int64_t since = md_srcmgr_since_ms(m, key);
    if (req->source < 0 && since >= 0 && since < ttl_s * 1000) return;
    fetched *g = &bf->got[bf->n_got++];
    g->start = start;
    g->end = end;
    md_error e;
    int rc = md_query_fetch_bars(bf->svc, req->symbol, fiv, start, end, req->source, &g->bars, NULL,
                                 NULL, &e);
    if (rc < 0) {
        if (!bf->err_rc) {
            bf->err_rc = rc;
            bf->err = e;
        }
        MD_INFO("query", "backfill failed symbol=%s interval=%s code=%s", req->symbol,
                md_interval_name(fiv), md_error_code(rc));
    }
    if (g->bars || rc == 0) md_srcmgr_mark(m, key);
}

/* "store", "sources" or "mixed": whether the answer's bars fall in ranges that brought
 * bars from the sources. */
static const char *origin_of(const backfill *bf, const md_bar_vec *out, md_interval iv)
{
    size_t from_src = 0;
    for (size_t i = 0; i < out->n; i++) {
        int64_t a = out->v[i].ts, b = md_interval_next(iv, a);
        for (int k = 0; k < bf->n_got; k++) {
            if (bf->got[k].bars && a < bf->got[k].end && b > bf->got[k].start) {
                from_src++;
                break;
            }
        }
    }
    if (from_src == 0) return "store";
    return from_src == out->n ? "sources" : "mixed";
}

/* Reads the page: the oldest (order=desc: newest) rows of the range, `extra` more than the
 * limit so the caller can tell whether the range goes on. */
static int read_store(md_services *svc, const md_history_req *req, size_t extra, md_bar_vec *out,
                      md_interval *used, md_error *err)
{
    out->n = 0;
    *used = req->iv;
    size_t want = req->limit ? req->limit + extra : 0;
    md_store_end keep = req->desc ? MD_STORE_NEWEST : MD_STORE_OLDEST;
    if (req->session == MD_SESSION_ALL || md_interval_is_daily(req->iv))
        return md_store_read_bars(svc->store, req->symbol, req->iv, req->start, req->end, want,
                                  keep, out, used, err);
    /* session=: the hours left out make room for more bars of the range, read on from where
     * the last read stopped until the page is full or the range ends */
    md_bar_vec got, both;
    md_bar_vec_init(&got);
    md_bar_vec_init(&both);
    int64_t lo = req->start, hi = req->end;
    int rc = 0;
    while (lo < hi) {
        got.n = 0;
        md_interval u;
        rc =
            md_store_read_bars(svc->store, req->symbol, req->iv, lo, hi, want, keep, &got, &u, err);
        if (rc <= 0) break;
        *used = u;
        int more = want && (size_t)rc == want;
        if (req->desc)
            hi = got.v[0].ts;
        else
            lo = md_interval_next(req->iv, got.v[got.n - 1].ts);
        got.n = md_query_session_filter(svc, req->symbol, req->iv, req->session, got.v, got.n);
        md_bar_vec *first = req->desc ? &got : out, *second = req->desc ? out : &got;
        both.n = 0;
        for (size_t i = 0; i < first->n; i++) md_bar_vec_push(&both, &first->v[i]);
        for (size_t i = 0; i < second->n; i++) md_bar_vec_push(&both, &second->v[i]);
        md_bar_vec t = *out;
        *out = both;
        both = t;
        if (!more || out->n >= want) break;
    }
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&both);
    if (rc < 0) return rc;
    if (want && out->n > want) { /* the end the order keeps */
        if (req->desc) memmove(out->v, out->v + out->n - want, want * sizeof *out->v);
        out->n = want;
    }
    return (int)out->n;
}

size_t md_query_session_filter(const md_services *svc, const char *symbol, md_interval iv,
                               md_session_sel sel, md_bar *bars, size_t n)
{
    const md_cal *c;
    md_error e;
    if (sel == MD_SESSION_ALL || md_interval_is_daily(iv) ||
        md_cal_for_symbol(svc->cfg, symbol, &c, NULL, &e) != 0)
        return n;
    const int64_t step = md_interval_seconds(iv);
    size_t w = 0;
    md_cal_session s;
    for (size_t i = 0; i < n; i++) {
        int64_t a = bars[i].ts, z = a + step; /* the bar's bucket [a, z) */
        int keep;
        if (sel == MD_SESSION_REGULAR) /* the first session closing after a */
            keep = md_cal_next(c, a, &s) == 1 && s.open < z &&
                   !(s.break_end > s.break_start && a >= s.break_start && z <= s.break_end);
        else /* the last session opened by a, whose post-market may hold it, or the next */
            keep = (md_cal_prev(c, a, &s) == 1 && a < s.ext_close) ||
                   (md_cal_next(c, a, &s) == 1 && s.ext_open < z);
        if (keep) bars[w++] = bars[i];
    }
    return w;
}

/* Holes inside the stored range: runs of missing bars the symbol's exchange calendar
 * expects (quality/calendar.h, the calendar of calendar/symbols.c: weekends, holidays,
 * closures and off-session hours are not holes; a daily series' single missing session
 * is), intraday at least quality.gap_min_bars long. The MID_GAPS_MAX largest inside
 * [start, end) are asked from the sources (in the stored interval fiv), a daily one
 * trimmed to its first and last missing session so that no closed day is asked; one that
 * brought nothing is not asked again for a day. */
typedef struct hole {
    int64_t a, b, missing; /* the bars around it, and the expected bars between them */
} hole;

/* A daily hole [*a, *b) narrowed to [first missing session, last missing session + 1 day):
 * the closed days at its edges (a long weekend after the last bar) are not asked. */
static void trim_to_sessions(const md_cal *x, int64_t *a, int64_t *b)
{
    int64_t d0 = *a / 86400, d1 = *b / 86400, first = -1, last = -1;
    md_cal_session s;
    for (int64_t d = d0; d < d1; d++)
        if (md_cal_day(x, d, &s, NULL) == 1) {
            if (first < 0) first = d;
            last = d;
        }
    if (first < 0) return; /* cannot be: the hole had missing sessions */
    *a = first * 86400;
    *b = (last + 1) * 86400;
}

static void fetch_mid_gaps(backfill *bf, const md_bar_vec *have, md_interval fiv, int64_t start,
                           int64_t end)
{
    if (have->n < 2) return;
    md_interval iv = bf->req->iv; /* the answer's bars; fiv is the stored interval asked */
    hole top[MID_GAPS_MAX];
    int n_top = 0;
    md_calendar cal;
    const md_cal *xcal = NULL;
    md_error e;
    if (md_cal_for_symbol(bf->svc->cfg, bf->req->symbol, &xcal, NULL, &e) != 0)
        MD_WARN("query", "no calendar symbol=%s err=\"%s\"", bf->req->symbol, e.msg);
    md_calendar_init(&cal, iv, xcal, have->v, have->n); /* learned when none */
    int gap_min = (int)bf->svc->cfg->q_gap_min_bars;
    for (size_t i = 1; i < have->n; i++) {
        int64_t a = have->v[i - 1].ts, b = have->v[i].ts;
        if (b <= start || a >= end || md_calendar_next(&cal, a) == b) continue;
        int64_t missing = md_calendar_missing(&cal, a, b, gap_min);
        if (missing <= 0) continue;
        int k;
        if (n_top < MID_GAPS_MAX)
            k = n_top++;
        else if (missing > top[MID_GAPS_MAX - 1].missing)
            k = MID_GAPS_MAX - 1;
        else
            continue;
        top[k].a = a, top[k].b = b, top[k].missing = missing;
        for (; k > 0 && top[k].missing > top[k - 1].missing; k--) { /* largest first */
            hole t = top[k];
            top[k] = top[k - 1];
            top[k - 1] = t;
        }
    }
    for (int k = 0; k < n_top; k++) {
        int64_t a = md_interval_next(iv, top[k].a);
        if (xcal && iv == MD_IV_1D) trim_to_sessions(xcal, &a, &top[k].b);
        fetch_gap(bf, fiv, a < start ? start : a, top[k].b < end ? top[k].b : end, "mid",
                  START_GAP_TTL_S);
    }
    md_calendar_deinit(&cal);
}

/* Asks the sources for what the store lacks: the whole range when nothing is stored,
 * else the gaps before the first and after the last stored bar - each only when this page
 * reaches that end of the range (a page cut by the limit leaves the far end to the page
 * that reaches it) - and the largest holes between them (in the stored interval, so
 * aggregation keeps working). With ?source=NAME the whole range is asked from it. */
static void backfill_gaps(backfill *bf, const md_bar_vec *have, md_interval used, int cut)
{
    const md_history_req *req = bf->req;
    const md_config *cfg = bf->svc->cfg;
    int64_t now = md_now();
    int64_t end = req->end < now ? req->end : now;
    int64_t len = md_interval_seconds(req->iv);
    int64_t reach = (int64_t)cfg->sources_backfill_max_bars * len;
    int64_t start = req->start;
    if (end - start > reach || start <= MD_TS_MIN) start = end - reach;
    start = md_interval_floor(req->iv, start);
    if (end <= start) return;
    int64_t recheck = cfg->sources_recheck_s < len ? cfg->sources_recheck_s : len;
    if (req->source >= 0 || have->n == 0) {
        fetch_gap(bf, req->iv, start, end, "all", cfg->sources_recheck_s);
        return;
    }
    md_interval fiv = used;
    int64_t first = have->v[0].ts, last = have->v[have->n - 1].ts;
    int reaches_end = req->desc || !cut, reaches_start = !req->desc || !cut;
    /* after the last stored bucket (for aggregated answers, its finer bars again) */
    int64_t tail = used == req->iv ? md_interval_next(req->iv, last) : last;
    if (tail < start) tail = start;
    if (reaches_end && tail < end) fetch_gap(bf, fiv, tail, end, "end", recheck);
    if (reaches_start && first - start >= len)
        fetch_gap(bf, fiv, start, first, "start", START_GAP_TTL_S);
    fetch_mid_gaps(bf, have, fiv, start, end);
}

void md_history_init(md_history *h)
{
    memset(h, 0, sizeof *h);
    md_bar_vec_init(&h->bars);
    h->from = "store";
}

void md_history_deinit(md_history *h)
{
    md_bar_vec_deinit(&h->bars);
}

void md_bars_reverse(md_bar *v, size_t n)
{
    for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
        md_bar t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* Rows read beyond the limit: one tells whether the range goes on; partial=exclude may
 * drop two more (the bucket cut by `start` and the one cut by `end` or the clock). */
static size_t extra_rows(const md_history_req *req)
{
    return req->partial_exclude ? 3 : 1;
}

/* Leaves out partial bars (partial=exclude), keeps req->limit bars from the end the order
 * takes, and says where the next page starts. */
static void cut_page(const md_history_req *req, md_history *h)
{
    md_bar_vec *v = &h->bars;
    if (req->partial_exclude) {
        size_t w = 0;
        for (size_t i = 0; i < v->n; i++)
            if (!md_bar_span_partial(&h->span, v->v[i].ts)) v->v[w++] = v->v[i];
        v->n = w;
    }
    memset(&h->page, 0, sizeof h->page);
    if (!req->limit || v->n <= req->limit) return;
    h->page.truncated = 1;
    if (req->desc) { /* the newest `limit`: the next page ends where this one begins */
        size_t drop = v->n - req->limit;
        memmove(v->v, v->v + drop, req->limit * sizeof *v->v);
        v->n = req->limit;
        h->page.param = "end";
        h->page.next = v->v[0].ts;
    } else { /* the oldest `limit`: the next page starts at the first bar left out */
        h->page.param = "start";
        h->page.next = v->v[req->limit].ts;
        v->n = req->limit;
    }
}

int md_query_source_check(md_services *svc, int source, int cached_only, md_error *err)
{
    if (source < 0 || cached_only) return 0;
    if (!svc->sources)
        return md_error_set(err, MD_ENOSOURCE, "source %s: no sources are configured",
                            md_source_name(source));
    if (!md_srcmgr_has(svc->sources, source))
        return md_error_set(err, MD_EPARAM, "source: '%s' is not a provider",
                            md_source_name(source));
    return md_srcmgr_check_alone(svc->sources, source, err);
}

int md_query_history(md_services *svc, const md_history_req *req, md_history *out, md_error *err)
{
    out->from = "store";
    out->bars.n = 0;
    memset(&out->page, 0, sizeof out->page);
    /* a manager with no enabled source behaves like none, unless one is asked by name */
    int ask = svc->sources && !req->cached_only &&
              (req->source >= 0 || md_srcmgr_enabled(svc->sources) > 0);
    int rc0 = md_query_source_check(svc, req->source, req->cached_only, err);
    if (rc0) return rc0;
    md_interval used;
    size_t extra = extra_rows(req);
    md_bar_vec *bars = &out->bars;
    int rc = read_store(svc, req, extra, bars, &used, err);
    if (rc < 0) return rc;
    if (ask) {
        backfill bf;
        memset(&bf, 0, sizeof bf);
        bf.svc = svc;
        bf.req = req;
        backfill_gaps(&bf, bars, used, req->limit && bars->n > req->limit);
        if (req->source >= 0 && bf.err_rc) /* one source asked, no fallback */
            return md_error_set(err, bf.err_rc, "%s", bf.err.msg);
        size_t got = 0;
        for (int k = 0; k < bf.n_got; k++) got += bf.got[k].bars;
        if (got) {
            rc = read_store(svc, req, extra, bars, &used, err);
            if (rc < 0) return rc;
            out->from = origin_of(&bf, bars, req->iv);
        }
        if (bars->n == 0 && bf.err_rc && bf.err_rc != MD_ENOTFOUND)
            return md_error_set(err, bf.err_rc, "%s", bf.err.msg);
    }
    if (bars->n == 0 && !md_query_symbol_known(svc, req->symbol))
        return md_error_set(err, MD_ENOTFOUND, "no data for symbol %s", req->symbol);
    /* stored bars of the interval asked are whole; aggregated ones are judged by the range */
    md_store_bar_span(svc->store, req->symbol, req->iv, used, req->start, req->end, md_now(),
                      &out->span);
    cut_page(req, out);
    /* bars are stored raw: the request's adjustment is applied to the page read, with the
     * symbol's actions asked of the sources first when they were not lately (an adjusted
     * series of bars whose splits were never asked for would be silently raw) */
    if (ask && req->adjust != MD_ADJUST_NONE) md_query_actions_refresh(svc, req->symbol, NULL);
    return md_query_adjust_bars(svc, req->symbol, req->iv, req->adjust, bars->v, bars->n, &out->adj,
                                err);
}

void md_render_series_head(md_buf *b, const char *symbol, md_interval iv)
{
    md_buf_puts(b, "{\"symbol\":");
    md_buf_json_str(b, symbol);
    md_buf_puts(b, ",\"interval\":\"");
    md_buf_puts(b, md_interval_name(iv));
    md_buf_putc(b, '"');
}

void md_render_page_json(md_buf *b, const md_page *p, const md_link *link, md_buf *next_url)
{
    md_buf_puts(b, p->truncated ? ",\"truncated\":true" : ",\"truncated\":false");
    if (!p->truncated || !link) return;
    char ts[40];
    md_time_format(p->next, ts);
    md_buf url = MD_BUF_INIT;
    link->url(link->ctx, p->param, ts, &url);
    md_buf_puts(b, ",\"next\":");
    md_buf_json_str(b, url.data ? url.data : "");
    if (next_url) {
        md_buf_reset(next_url);
        md_buf_append(next_url, url.data ? url.data : "", url.len);
    }
    md_buf_deinit(&url);
}

void md_render_history_json(md_buf *b, const md_history_req *req, const md_history *h,
                            md_buf *next_url)
{
    /* the page's fields before the bars: the server finds "next" there without a scan */
    md_render_series_head(b, req->symbol, req->iv);
    md_render_page_json(b, &h->page, req->link, next_url);
    if (req->desc) md_buf_puts(b, ",\"order\":\"desc\"");
    md_buf_puts(b, ",\"bars\":");
    md_render_bars_json_array(b, h->bars.v, h->bars.n, &h->span);
    md_buf_puts(b, ",\"count\":");
    md_buf_int(b, (int64_t)h->bars.n);
    md_buf_puts(b, ",\"from\":\"");
    md_buf_puts(b, h->from);
    md_buf_putc(b, '"');
    md_render_adjust_json(b, &h->adj);
    md_buf_putc(b, '}');
}
