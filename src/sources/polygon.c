/* polygon.c - Polygon.io (key: POLYGON_API_KEY, sent as the apiKey parameter).
 *
 *   GET {base}/v2/aggs/ticker/{T}/range/{mult}/{timespan}/{from}/{to}
 *           ?adjusted=false&sort=asc&limit=50000&apiKey=K   (raw, as traded: bars are
 *           stored unadjusted, whatever the provider; adjusted=true would divide every bar
 *           before a split and multiply its volume)
 *       {"ticker":"AAPL","status":"OK","resultsCount":2,"results":[{"v":70790813,
 *        "vw":131.6292,"o":130.465,"c":130.15,"h":133.41,"l":129.89,"t":1673240400000,
 *        "n":645365},...],"next_url":"https://api.polygon.io/v2/aggs/...?cursor=..."}
 *   GET {base}/v2/last/trade/{T}?apiKey=K   {"results":{"p":126.8,"s":100,"t":<ns>}}
 *   GET {base}/v2/aggs/ticker/{T}/prev?apiKey=K   (previous day's bar)
 *   GET {base}/v3/reference/splits?ticker=T&limit=1000&apiKey=K
 *       {"results":[{"execution_date":"2020-08-31","split_from":1,"split_to":4,
 *        "ticker":"AAPL","id":"..."}],"status":"OK","request_id":"...","next_url":...}
 *       split_to new shares for split_from old: 4:1 is split_to 4, split_from 1
 *   GET {base}/v3/reference/dividends?ticker=T&limit=1000&apiKey=K
 *       {"results":[{"cash_amount":0.25,"currency":"USD","declaration_date":"2024-10-31",
 *        "dividend_type":"CD","ex_dividend_date":"2024-11-08","frequency":4,
 *        "pay_date":"2024-11-14","record_date":"2024-11-11","ticker":"AAPL"}],...}
 *       cash_amount as declared (not adjusted for later splits); every dividend_type (CD
 *       regular, SC special, LT/ST capital gains) is cash paid per share
 *   GET {base}/v3/reference/tickers/{T}?apiKey=K   (Ticker Details v3, once per actions call)
 *       {"request_id":"...","results":{"ticker":"AAPL","name":"Apple Inc.","market":"stocks",
 *        "locale":"us","primary_exchange":"XNAS","type":"CS","active":true,...},"status":"OK"}
 *       primary_exchange is the MIC of the primary listing (XNAS, XNYS, ARCX), the actions'
 *       ref->exchange; indices, FX and crypto have none (not asked); an unknown ticker is
 *       404 {"status":"NOT_FOUND","message":"Ticker not found.",...}
 *
 * Index aggregates (I:SPX) have no v, vw or n ("Indices - Custom Bars"): volume 0.
 * t is in MILLISECONDS (nanoseconds in trades). A long range comes in pages: next_url
 * has no key, so the key is appended, and adjusted=false when it lacks it (its cursor keeps
 * limit and sort, not adjusted, whose default is true); next_url is only ever followed on the configured
 * base URL (its path and query are kept, the host is ours), so the key never goes
 * elsewhere. status "OK" or "DELAYED" is data; "ERROR" (bad key, rate limit) and
 * "NOT_AUTHORIZED" (plan) are errors, as are 401/403/429. Timespans: 1m 5m 15m 30m
 * (minute), 1h 4h (hour), 1d 1w 1mo. Daily stamps are midnight New York (the /prev
 * example: 16:00 New York; both are that trading date); weekly ones the Sunday starting
 * the week (both go to API.md buckets). The free plan has no last trade: on 403 (or a
 * 404 / empty last trade) the quote falls back to the previous close (/prev), stamped
 * 16:00 New York of that day; indices, FX and crypto (I:SPX, C:EURUSD, X:BTCUSD: last
 * trade is for stocks) go there directly. Every request past the first (a page, the
 * fallback) takes its own token from the budget first (md_sources__get): an empty budget
 * stops the call with MD_ERATELIMIT, never with half an answer. resultsCount 0 is an empty
 * range (0 bars), for which failover asks the next source. */
#include "sources/providers.h"
#include "sources/sources_int.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <string.h>
#include <strings.h>

#define NAME "polygon"
#define ZONE "America/New_York"
#define MAX_PAGES 1000

static int pg_timespan(md_interval iv, int *mult, const char **span)
{
    static const struct {
        int mult;
        const char *span;
    } map[MD_IV_COUNT] = {{1, "minute"}, {5, "minute"}, {15, "minute"}, {30, "minute"}, {1, "hour"},
                          {4, "hour"},   {1, "day"},    {1, "week"},    {1, "month"}};
    if ((unsigned)iv >= MD_IV_COUNT) return -1;
    *mult = map[iv].mult;
    *span = map[iv].span;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* status other than OK/DELAYED, or an "error" text. 0 when the body is data. */
static int body_error(const json_t *root, long http_status, md_error *err)
{
    const char *st = json_string_value(json_object_get(root, "status"));
    const char *text = json_string_value(json_object_get(root, "error"));
    if (!text) text = json_string_value(json_object_get(root, "message"));
    if (st && (strcasecmp(st, "OK") == 0 || strcasecmp(st, "DELAYED") == 0) && !text) return 0;
    if (!st && !text) return 0;
    char d[200];
    md_sources__excerpt(text ? text : "", text ? strlen(text) : 0, d, sizeof d);
    if (!st) st = "";
    if (http_status == 429 || strcasestr(d, "exceeded") || strcasestr(d, "maximum requests"))
        return md_error_set(err, MD_ERATELIMIT, NAME ": rate limited: %s", d);
    if (http_status == 401 || http_status == 403 || strcasecmp(st, "NOT_AUTHORIZED") == 0 ||
        strcasestr(d, "API Key") || strcasestr(d, "not entitled") || strcasestr(d, "authoriz"))
        return md_error_set(err, MD_EUNAUTHSRC, NAME ": refused: %s %s", st, d);
    if (http_status == 404 || strcasecmp(st, "NOT_FOUND") == 0)
        return md_error_set(err, MD_ENOTFOUND, NAME ": not found: %s", d);
    if (http_status >= 500)
        return md_error_set(err, MD_ETRANSIENT, NAME ": server error (HTTP %ld): %s", http_status,
                            d);
    if (strcasecmp(st, "OK") == 0 || strcasecmp(st, "DELAYED") == 0) return 0;
    return md_error_set(err, MD_EMALFORMED, NAME ": request refused (%s): %s", st, d);
}

static int parse_aggs_root(const json_t *root, md_interval iv, md_bar_vec *out, char **next_url,
                           md_error *err)
{
    if (next_url) *next_url = NULL;
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, 200, err);
    if (rc) return rc;
    if (!json_object_get(root, "status"))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no status");
    const json_t *res = json_object_get(root, "results");
    if (res && !json_is_array(res) && !json_is_null(res))
        return md_error_set(err, MD_EMALFORMED,
                            NAME ": malformed response: results is not an array");
    size_t n = json_array_size(res);
    md_bar_vec tmp;
    md_sources__bars_init(&tmp, n);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(res, i);
        int64_t tms;
        md_bar b = md_sources__bar(MD_SRC_POLYGON);
        if (!json_is_object(r) || md_sources__int(json_object_get(r, "t"), &tms) != 0 ||
            md_sources__num(json_object_get(r, "o"), &b.open) != 0 ||
            md_sources__num(json_object_get(r, "h"), &b.high) != 0 ||
            md_sources__num(json_object_get(r, "l"), &b.low) != 0 ||
            md_sources__num(json_object_get(r, "c"), &b.close) != 0 ||
            (json_object_get(r, "v") && md_sources__num(json_object_get(r, "v"), &b.volume) != 0)) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: results[%zu] lacks t/o/h/l/c numbers",
                                i);
        }
        const json_t *vw = json_object_get(r, "vw"), *nt = json_object_get(r, "n");
        if (vw && md_sources__num(vw, &b.vwap) != 0) vw = NULL;
        int64_t trades;
        if (nt && md_sources__int(nt, &trades) == 0 && trades >= 0) b.trades = trades;
        int64_t t = floor_div(tms, 1000);
        if (md_sources__push_stamped(&tmp, &b, t, iv, ZONE, -18000) != 0) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: results[%zu] out of range", i);
        }
    }
    const char *next = json_string_value(json_object_get(root, "next_url"));
    if (next && *next && next_url) *next_url = md_strdup(next);
    return md_sources__emit_all(&tmp, out);
}

int md_polygon_parse_aggs(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                          char **next_url, md_error *err)
{
    if (next_url) *next_url = NULL;
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_aggs_root(root, iv, out, next_url, err);
    json_decref(root);
    return rc;
}

static int parse_last_trade_root(const json_t *root, md_quote *out, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, 200, err);
    if (rc) return rc;
    const json_t *r = json_object_get(root, "results");
    if (!r || json_is_null(r)) return md_error_set(err, MD_ENOTFOUND, NAME ": no last trade");
    double p, size;
    int64_t tns;
    if (!json_is_object(r) || md_sources__num(json_object_get(r, "p"), &p) != 0 ||
        md_sources__int(json_object_get(r, "t"), &tns) != 0 || tns <= 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: results lacks p/t");
    md_quote q;
    md_quote_init(&q);
    const char *sym = json_string_value(json_object_get(r, "T"));
    if (sym) snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    q.price = p;
    q.ts = tns / 1000000000;
    if (md_sources__num(json_object_get(r, "s"), &size) == 0 && size >= 0) q.volume = size;
    q.source = MD_SRC_POLYGON;
    *out = q;
    return 0;
}

int md_polygon_parse_last_trade(const char *body, size_t len, md_quote *out, md_error *err)
{
    return md_sources__parse_quote(NAME, parse_last_trade_root, body, len, out, err);
}

static int parse_prev_root(const json_t *root, md_quote *out, md_error *err)
{
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    int rc = parse_aggs_root(root, MD_IV_1D, &bars, NULL, err);
    if (rc == 0) rc = md_error_set(err, MD_ENOTFOUND, NAME ": no previous close for this symbol");
    if (rc > 0) {
        const md_bar *b = &bars.v[bars.n - 1];
        int64_t close_utc;
        if (md_sources__tz_local_to_utc(ZONE, b->ts + 16 * 3600, &close_utc) != 0)
            close_utc = b->ts + 21 * 3600;
        int64_t now = md_now();
        md_quote q;
        md_quote_init(&q);
        const char *sym = json_string_value(json_object_get(root, "ticker"));
        if (sym) snprintf(q.symbol, sizeof q.symbol, "%s", sym);
        q.price = b->close;
        q.volume = b->volume;
        q.ts = close_utc < now ? close_utc : now;
        q.source = MD_SRC_POLYGON;
        *out = q;
        rc = 0;
    }
    md_bar_vec_deinit(&bars);
    return rc;
}

int md_polygon_parse_prev(const char *body, size_t len, md_quote *out, md_error *err)
{
    return md_sources__parse_quote(NAME, parse_prev_root, body, len, out, err);
}

/* -- client -------------------------------------------------------------------------------- */

/* A non-2xx answer's status "ERROR"/"NOT_AUTHORIZED"/... body, read as a 2xx one is. */
static int pg_refusal(const json_t *body, long status, void *ctx, md_error *err)
{
    return body_error(body, status, err);
}

static int pg_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    md_provider *p = (md_provider *)src;
    int rc = md_sources__need_key(p, err);
    if (rc) return rc;
    md_buf url = MD_BUF_INIT;
    json_t *root;
    long status = 0;
    md_quote q;
    /* /v2/last/trade is for stocks: an index, FX pair or crypto (I:, C:, X:) goes to the
     * previous close at once instead of spending a request on a 404 */
    int prefixed = strlen(symbol) > 2 && symbol[1] == ':' && strchr("ICX", symbol[0]);
    if (prefixed) {
        rc = MD_ENOTFOUND;
    } else {
        md_sources__url(&url, src, "/v2/last/trade/", symbol, NULL, "?apiKey=");
        rc = md_sources__get_json(p, url.data, pg_refusal, NULL, &root, &status, meta, err);
        if (rc == 0) rc = parse_last_trade_root(root, &q, err);
        json_decref(root);
    }
    if ((rc == MD_EUNAUTHSRC && status != 401) || rc == MD_ENOTFOUND) {
        /* The plan has no trades (403 NOT_AUTHORIZED, also when sent with 200), or no last
         * trade is known (404 NOT_FOUND, results null): the previous close is what is
         * offered. An unknown ticker then answers resultsCount 0: MD_ENOTFOUND. A bad key
         * (401) is final. */
        md_buf_reset(&url);
        md_sources__url(&url, src, "/v2/aggs/ticker/", symbol, "/prev?adjusted=false", "&apiKey=");
        rc = md_sources__get_json(p, url.data, pg_refusal, NULL, &root, &status, meta, err);
        if (rc == 0) rc = parse_prev_root(root, &q, err);
        json_decref(root);
    }
    md_buf_deinit(&url);
    if (rc < 0) return rc;
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    *out = q;
    return 0;
}

/* The URL to fetch for a next_url: on our base, with the key appended, and `keep` (an
 * aggregates page's "adjusted=false") when the next_url lacks it: Polygon's next_url is
 * the path and a cursor (limit, sort), and adjusted defaults to true. */
static void next_page_url(md_buf *url, const md_source *src, const char *next, const char *keep)
{
    md_buf_reset(url);
    size_t blen = strlen(src->base_url);
    if (strncmp(next, src->base_url, blen) == 0 && (next[blen] == '/' || next[blen] == '?')) {
        md_buf_puts(url, next);
    } else {
        const char *path = next;
        const char *scheme = strstr(next, "://");
        if (scheme) {
            path = strchr(scheme + 3, '/');
            if (!path) path = "/";
        }
        md_buf_puts(url, src->base_url);
        if (*path != '/') md_buf_putc(url, '/');
        md_buf_puts(url, path);
    }
    if (keep && !strstr(url->data, "adjusted=")) {
        md_buf_putc(url, strchr(url->data, '?') ? '&' : '?');
        md_buf_puts(url, keep);
    }
    md_sources__put_key(url, src, strchr(url->data, '?') ? "&apiKey=" : "?apiKey=");
}

/* results[] of /v3/reference/splits or /dividends (parse_ref_root, below). */
static int parse_ref_root(const json_t *root, int dividends, md_action_vec *out, char **next_url,
                          md_error *err);

/* Reads url and then the pages its answers' next_url name, MAX_PAGES at most (url is left
 * at the last one): aggregates of iv into bars, or with bars NULL the splits (dividends 0)
 * or dividends into actions. The last page's count or the first error; *more = 1 when
 * pages were left unread. */
static int pg_pages(md_provider *p, md_buf *url, md_interval iv, md_bar_vec *bars, int dividends,
                    md_action_vec *actions, int *more, md_fetch_meta *meta, md_error *err)
{
    int rc = 0;
    *more = 0;
    for (int page = 0; page < MAX_PAGES; page++) {
        json_t *root;
        char *next = NULL;
        rc = md_sources__get_json(p, url->data, pg_refusal, NULL, &root, NULL, meta, err);
        if (rc == 0)
            rc = bars ? parse_aggs_root(root, iv, bars, &next, err)
                      : parse_ref_root(root, dividends, actions, &next, err);
        json_decref(root);
        if (rc < 0 || !next) {
            md_free(next);
            return rc;
        }
        next_page_url(url, &p->base, next, bars ? "adjusted=false" : NULL);
        md_free(next);
    }
    *more = 1;
    return rc;
}

static int pg_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    int mult = 0;
    const char *span = NULL;
    int rc = md_sources__bars_ready(p, pg_timespan(iv, &mult, &span) == 0, iv, err);
    if (rc) return rc;
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, src, "/v2/aggs/ticker/", symbol, NULL, NULL);
    md_buf_printf(&url, "/range/%d/%s/", mult, span);
    if (md_interval_is_daily(iv)) {
        char from[16], to[16];
        int64_t f = start - (iv == MD_IV_1D ? 2 : iv == MD_IV_1W ? 8 : 32) * 86400LL;
        md_date_format(f > 0 ? f : 0, from);
        md_date_format(end + 86400, to);
        md_buf_printf(&url, "%s/%s", from, to);
    } else {
        int64_t f = start > 0 ? start : 0;
        md_buf_printf(&url, "%lld/%lld", (long long)f * 1000, (long long)end * 1000 - 1);
    }
    md_buf_puts(&url, "?adjusted=false&sort=asc&limit=50000");
    md_sources__put_key(&url, src, "&apiKey=");
    md_bar_vec tmp;
    md_bar_vec_init(&tmp);
    int more;
    rc = pg_pages(p, &url, iv, &tmp, 0, NULL, &more, meta, err);
    if (rc >= 0 && more)
        rc = md_error_set(err, MD_EMALFORMED, NAME ": more than %d pages of results", MAX_PAGES);
    md_buf_deinit(&url);
    if (rc >= 0) rc = md_sources__on_grid(p, symbol, iv, start, end, NULL, &tmp, meta, err);
    if (rc >= 0) rc = md_sources__emit(&tmp, start, end, out);
    md_bar_vec_deinit(&tmp);
    return rc;
}

static int64_t pg_max_range(const md_source *src, md_interval iv)
{
    /* Any range works (pages); these keep one call to a few pages. */
    if (iv == MD_IV_1M) return 30 * 86400;
    if (iv == MD_IV_5M) return 120 * 86400;
    return 0;
}

/* -- corporate actions --------------------------------------------------------------------- */

/* /v3/reference/splits and /v3/reference/dividends (sources_int.h md_sources__act_form) */
static const md_sources__act_form ref_forms[2] = {
    {MD_ACT_SPLIT, "results", "execution_date", "split_to", "split_from", NULL, NULL, NULL},
    {MD_ACT_DIVIDEND, "results", "ex_dividend_date", NULL, NULL, "cash_amount", "currency",
     "pay_date"},
};

/* results[] of /v3/reference/splits or /dividends into out; *next_url as for aggs. */
static int parse_ref_root(const json_t *root, int dividends, md_action_vec *out, char **next_url,
                          md_error *err)
{
    if (next_url) *next_url = NULL;
    int rc = body_error(root, 200, err);
    if (rc) return rc;
    if (!json_is_array(json_object_get(root, "results")))
        return md_error_set(err, MD_EMALFORMED, NAME ": no results array in the %s answer",
                            dividends ? "dividends" : "splits");
    rc =
        md_sources__read_actions(NAME, MD_SRC_POLYGON, &ref_forms[dividends], root, NULL, out, err);
    const char *next = json_string_value(json_object_get(root, "next_url"));
    if (rc >= 0 && next && *next && next_url) *next_url = md_strdup(next);
    return rc;
}

static int parse_ref_buf(const char *body, size_t len, int dividends, md_action_vec *out,
                         char **next_url, md_error *err)
{
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_ref_root(root, dividends, out, next_url, err);
    json_decref(root);
    return rc;
}

int md_polygon_parse_splits(const char *body, size_t len, md_action_vec *out, char **next_url,
                            md_error *err)
{
    return parse_ref_buf(body, len, 0, out, next_url, err);
}

int md_polygon_parse_dividends(const char *body, size_t len, md_action_vec *out, char **next_url,
                               md_error *err)
{
    return parse_ref_buf(body, len, 1, out, next_url, err);
}

/* Ticker Details' answer: results.primary_exchange into ref->exchange ("" when absent). */
static int parse_ticker_root(const json_t *root, md_source_ref *ref, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, 200, err);
    if (rc) return rc;
    const json_t *res = json_object_get(root, "results");
    if (!json_is_object(res))
        return md_error_set(err, MD_EMALFORMED, NAME ": no results object in the ticker details");
    return md_sources__ref_exchange(NAME, res, "primary_exchange", ref, err);
}

int md_polygon_parse_ticker(const char *body, size_t len, md_source_ref *ref, md_error *err)
{
    return md_sources__parse_profile(NAME, parse_ticker_root, body, len, ref, err);
}

/* The symbol's primary exchange from Ticker Details (md_sources__actions2's kind 2). */
static int pg_profile(md_provider *p, const char *symbol, md_source_ref *ref, md_fetch_meta *meta,
                      md_error *err)
{
    /* indices, FX pairs and crypto (I:, C:, X:) have no primary exchange: nothing to ask */
    if (strlen(symbol) > 2 && symbol[1] == ':' && strchr("ICX", symbol[0])) return 0;
    return md_sources__profile_get(p, "/v3/reference/tickers/", symbol, "?apiKey=", pg_refusal,
                                   parse_ticker_root, ref, meta, err);
}

/* One kind of actions (0 splits, 1 dividends), every page of it, or the ticker's details
 * (2: its primary exchange) (md_sources__actions2). */
static int pg_act_fetch(md_provider *p, int kind, const char *symbol, md_action_vec *out,
                        md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    if (kind == MD_SOURCES_ACT_PROFILE) return pg_profile(p, symbol, ref, meta, err);
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, &p->base,
                    kind ? "/v3/reference/dividends?ticker=" : "/v3/reference/splits?ticker=",
                    symbol, "&limit=1000", "&apiKey=");
    int more; /* past MAX_PAGES pages: the actions read so far */
    int rc = pg_pages(p, &url, MD_IV_1D, NULL, kind, out, &more, meta, err);
    md_buf_deinit(&url);
    if (rc >= 0) snprintf(ref->zone, sizeof ref->zone, "%s", ZONE);
    return rc;
}

MD_SOURCES_ACTIONS2(pg_actions, pg_act_fetch)

MD_SOURCES_PROVIDER(polygon, POLYGON, .quote = pg_quote, .bars = pg_bars,
                    .max_range_s = pg_max_range, .actions = pg_actions);
