/* twelvedata.c - Twelve Data (key: TWELVE_DATA_API_KEY, sent as the apikey parameter).
 *
 *   GET {base}/time_series?symbol=AAPL&interval=5min&start_date=..&end_date=..
 *           &outputsize=5000&apikey=K
 *       {"meta":{"symbol":"AAPL","interval":"5min","exchange_timezone":"America/New_York",..},
 *        "values":[{"datetime":"2024-03-01 15:55:00","open":"179.6600","high":..,"low":..,
 *                   "close":..,"volume":"1234"},...],"status":"ok"}          (newest first)
 *   GET {base}/quote?symbol=AAPL&apikey=K
 *       {"symbol":"AAPL",..,"timestamp":1709323200,"last_quote_at":1709326800,
 *        "close":"179.66000","volume":"73488000",..}
 *
 * Bars are asked as traded (adjust=none: the documented default, splits, divides the bars
 * before a split); a series quoted in a minor unit (meta.currency "GBp") is divided into
 * the major one (GBP) like every source's. Numbers are strings (plain JSON numbers are
 * accepted too). Intraday datetimes are
 * wall-clock times of meta.exchange_timezone (the documented default, timezone=Exchange;
 * forex and crypto: UTC, also when the field is absent) and become UTC here, DST
 * included. The request leaves timezone at its default so that the answer's times are
 * always in the zone meta names; start_date/end_date are then read in that zone, so
 * intraday requests are widened by TZ_PAD on each side and the bars filtered after
 * conversion. Daily and coarser values carry a trading date (00:00 UTC of that date). Errors usually come with HTTP 200: {"code":400|401|403|404|429,
 * "message":"...","status":"error"}. Intervals: 1min 5min 15min 30min 1h 4h 1day 1week
 * 1month; at most 5000 values per request.
 *
 * Corporate actions (the Grow plan and above; a free key gets {"code":403,"message":
 * "/splits is available exclusively with grow or ...","status":"error"}):
 *   GET {base}/splits?symbol=AAPL&range=full&apikey=K
 *       {"meta":{"symbol":"AAPL","name":"Apple Inc","currency":"USD","exchange":"NASDAQ",
 *                "mic_code":"XNGS","exchange_timezone":"America/New_York"},
 *        "splits":[{"date":"2020-08-31","description":"4-for-1 split","ratio":0.25,
 *                   "from_factor":4,"to_factor":1}]}
 *       from_factor new shares for to_factor old (ratio is its inverse, not read)
 *   GET {base}/dividends?symbol=AAPL&range=full&adjust=false&apikey=K
 *       {"meta":{..},"dividends":[{"ex_date":"2020-08-07","amount":0.82}]}
 *       range=full: the default is the last one only; adjust=false: amounts as paid (the
 *       default divides them by later splits); in meta.currency, a pence unit (GBp) made
 *       GBP with the amount / 100.
 * The symbol's exchange is read from either answer's meta: mic_code ("XNGS"), else exchange
 * ("NASDAQ") when an answer has no mic_code; no other request is made for it. */
#include "sources/providers.h"
#include "sources/sources_int.h"

#include "core/buf.h"
#include "core/timefmt.h"

#include <string.h>
#include <strings.h>

#define NAME "twelvedata"
#define MAX_VALUES 5000
/* Largest distance of an exchange's wall clock from UTC (+14:00), for request windows. */
#define TZ_PAD (14 * 3600LL)

static const char *td_interval(md_interval iv)
{
    static const char *names[MD_IV_COUNT] = {"1min", "5min", "15min", "30min", "1h",
                                             "4h",   "1day", "1week", "1month"};
    return (unsigned)iv < MD_IV_COUNT ? names[iv] : NULL;
}

/* {"status":"error","code":..,"message":..}; 0 when root is not an error. *no_data is set
 * for "No data is available on the specified dates" and "Data not found" (an empty range
 * of a valid symbol, not a failure: an unknown symbol is "**symbol** not found: ..."). An
 * "invalid interval" answer is MD_EINTERVAL (the client asked for what Twelve Data does
 * not offer: a 400 for the caller, not a sick provider). */
static int body_error(const json_t *root, long http_status, int *no_data, md_error *err)
{
    const char *st = json_string_value(json_object_get(root, "status"));
    if (no_data) *no_data = 0;
    if (!st || strcasecmp(st, "error") != 0) return 0;
    int64_t code = http_status;
    md_sources__int(json_object_get(root, "code"), &code);
    const char *msg = json_string_value(json_object_get(root, "message"));
    char d[200];
    md_sources__excerpt(msg ? msg : "", msg ? strlen(msg) : 0, d, sizeof d);
    if (code == 429 || strcasestr(d, "run out of API credits"))
        return md_error_set(err, MD_ERATELIMIT, NAME ": rate limited: %s", d);
    if (code == 401 || code == 403)
        return md_error_set(err, MD_EUNAUTHSRC, NAME ": refused (%lld): %s", (long long)code, d);
    if (code >= 500)
        return md_error_set(err, MD_ETRANSIENT, NAME ": server error (%lld): %s", (long long)code,
                            d);
    if (strcasestr(d, "interval") &&
        (strcasestr(d, "invalid") || strcasestr(d, "not valid") || strcasestr(d, "supported")))
        return md_error_set(err, MD_EINTERVAL, NAME ": %s", d);
    if ((code == 400 || code == 404) &&
        (strcasestr(d, "no data is available") || strcasestr(d, "data not found"))) {
        if (no_data) *no_data = 1;
        return md_error_set(err, MD_ENOTFOUND, NAME ": %s", d);
    }
    if (code == 400 || code == 404) return md_error_set(err, MD_ENOTFOUND, NAME ": %s", d);
    return md_error_set(err, MD_EMALFORMED, NAME ": error %lld: %s", (long long)code, d);
}

/* A price in a minor unit (pence) in the major one, without the division's float noise
 * (68.52 / 100 is 0.6852, not 0.6852000000000001). */
static double minor(double v, double unit)
{
    return md_sources__round(v / unit, 10);
}

static int parse_series_root(const json_t *root, long http_status, md_interval iv, md_bar_vec *out,
                             md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int no_data;
    int rc = body_error(root, http_status, &no_data, err);
    if (no_data) {
        md_error_clear(err);
        return 0;
    }
    if (rc) return rc;
    const json_t *values = json_object_get(root, "values");
    if (!json_is_array(values))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no \"values\" array");
    int daily = md_interval_is_daily(iv);
    const char *zone =
        json_string_value(json_object_get(json_object_get(root, "meta"), "exchange_timezone"));
    if (!zone || !*zone) zone = "UTC";
    int32_t probe;
    if (!daily && md_sources__tz_offset(zone, 0, &probe) != 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": unknown exchange_timezone '%.40s'", zone);
    /* a quote in a minor unit (GBp for London) is stored in the major one, as every source's */
    const char *cur = json_string_value(json_object_get(json_object_get(root, "meta"), "currency"));
    char major[MD_CURRENCY_MAX];
    double unit = 1;
    if (cur && md_currency_major(cur, major, &unit) != 0) unit = 1;
    size_t n = json_array_size(values);
    md_bar_vec tmp;
    md_sources__bars_init(&tmp, n);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(values, i);
        const char *dt = json_string_value(json_object_get(v, "datetime"));
        md_bar b = md_sources__bar(MD_SRC_TWELVEDATA);
        int64_t t;
        md_error terr;
        size_t dlen = dt ? strlen(dt) : 0;
        const json_t *vol = json_object_get(v, "volume");
        if (!dt || (dlen != 10 && dlen != 19) || md_time_parse(dt, dlen, &t, &terr) != 0 ||
            md_sources__num(json_object_get(v, "open"), &b.open) != 0 ||
            md_sources__num(json_object_get(v, "high"), &b.high) != 0 ||
            md_sources__num(json_object_get(v, "low"), &b.low) != 0 ||
            md_sources__num(json_object_get(v, "close"), &b.close) != 0 ||
            (vol && md_sources__num(vol, &b.volume) != 0)) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(
                err, MD_EMALFORMED,
                NAME ": malformed response: values[%zu] lacks datetime/open/high/low/close", i);
        }
        if (unit != 1) {
            b.open = minor(b.open, unit), b.high = minor(b.high, unit);
            b.low = minor(b.low, unit), b.close = minor(b.close, unit);
        }
        if (daily && dlen == 19) t -= t % 86400; /* a daily value stamped with a time */
        if (daily)
            b.ts = md_sources__day_bucket(t, iv);
        else if (dlen != 19 || md_sources__tz_local_to_utc(zone, t, &b.ts) != 0) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(
                err, MD_EMALFORMED,
                NAME ": malformed response: values[%zu] datetime '%.20s' for an intraday interval",
                i, dt);
        }
        if (!md_sources__bar_sane(&b)) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: values[%zu] out of range", i);
        }
        md_bar_vec_push(&tmp, &b);
    }
    return md_sources__emit_all(&tmp, out);
}

int md_twelvedata_parse_series(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                               md_error *err)
{
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_series_root(root, 200, iv, out, err);
    json_decref(root);
    return rc;
}

static int parse_quote_root(const json_t *root, long http_status, md_quote *out, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, http_status, NULL, err);
    if (rc) return rc;
    double price, vol;
    int64_t t;
    if (md_sources__num(json_object_get(root, "close"), &price) != 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no close price");
    if (md_sources__int(json_object_get(root, "last_quote_at"), &t) != 0 &&
        md_sources__int(json_object_get(root, "timestamp"), &t) != 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no timestamp");
    if (t <= 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: timestamp %lld",
                            (long long)t);
    md_quote q;
    md_quote_init(&q);
    const char *sym = json_string_value(json_object_get(root, "symbol"));
    if (sym) snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    /* a quote in a minor unit (GBp), like the series: in the major one */
    const char *cur = json_string_value(json_object_get(root, "currency"));
    char major[MD_CURRENCY_MAX];
    double unit = 1;
    if (cur && md_currency_major(cur, major, &unit) != 0) unit = 1;
    q.price = unit != 1 ? minor(price, unit) : price;
    q.ts = t;
    if (md_sources__num(json_object_get(root, "volume"), &vol) == 0 && vol >= 0) q.volume = vol;
    q.source = MD_SRC_TWELVEDATA;
    *out = q;
    return 0;
}

int md_twelvedata_parse_quote(const char *body, size_t len, md_quote *out, md_error *err)
{
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_quote_root(root, 200, out, err);
    json_decref(root);
    return rc;
}

/* "You have run out of API credits for the day. ... Wait for the next day ..." (not "for
 * the current minute"): the plan's daily credits are spent until 00:00 UTC, so the manager
 * pauses the source until then rather than asking again every minute. */
static void day_notice(int rc, md_fetch_meta *meta, const md_error *err)
{
    if (rc == MD_ERATELIMIT && meta && strcasestr(err->msg, "credits for the day"))
        meta->day_exhausted = 1;
}

/* A status "error" body sent with a non-2xx status; ctx (may be NULL) is body_error's
 * no_data flag. */
static int td_refusal(const json_t *body, long status, void *ctx, md_error *err)
{
    return body_error(body, status, ctx, err);
}

static int td_fetch(md_provider *p, const char *url, md_interval iv, md_bar_vec *bars, md_quote *q,
                    md_fetch_meta *meta, md_error *err)
{
    json_t *root;
    long status = 0;
    int no_data = 0;
    int rc =
        md_sources__get_json(p, url, td_refusal, bars ? &no_data : NULL, &root, &status, meta, err);
    if (no_data) {
        md_error_clear(err);
        rc = 0; /* an empty range, sent with a 404 status: 0 bars */
    } else if (rc == 0) {
        rc = bars ? parse_series_root(root, status, iv, bars, err)
                  : parse_quote_root(root, status, q, err);
    }
    json_decref(root);
    day_notice(rc, meta, err);
    return rc;
}

static int td_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    return md_sources__quote1((md_provider *)src, td_fetch, "/quote?symbol=", symbol, NULL,
                              "&apikey=", out, meta, err);
}

static void put_time(md_buf *url, const char *param, int64_t ts, int daily)
{
    char s[MD_TIME_STR_MAX];
    if (daily) {
        md_date_format(ts, s);
    } else {
        md_time_format(ts, s); /* 2024-03-01T14:30:00Z -> 2024-03-01 14:30:00 */
        s[10] = ' ';
        s[19] = 0;
    }
    md_buf_printf(url, "&%s=", param);
    md_sources__esc(url, s);
}

static int td_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    const char *tiv = td_interval(iv);
    int rc = md_sources__bars_ready(p, tiv != NULL, iv, err);
    if (rc) return rc;
    int daily = md_interval_is_daily(iv);
    int64_t from = start - TZ_PAD, to = end + TZ_PAD; /* wall clock of an unknown zone */
    if (daily) {
        from = start - (iv == MD_IV_1D ? 1 : iv == MD_IV_1W ? 8 : 32) * 86400LL;
        to = end + 86400;
    }
    if (from < 0) from = 0;
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, src, "/time_series?symbol=", symbol, NULL, NULL);
    md_buf_printf(&url, "&interval=%s", tiv);
    put_time(&url, "start_date", from, daily);
    put_time(&url, "end_date", to, daily);
    /* as traded: the documented default is adjust=splits */
    md_buf_printf(&url, "&outputsize=%d&adjust=none", MAX_VALUES);
    md_sources__put_key(&url, src, "&apikey=");
    rc = md_sources__bars1(p, td_fetch, url.data, symbol, iv, start, end, out, meta, err);
    md_buf_deinit(&url);
    return rc;
}

static int64_t td_max_range(const md_source *src, md_interval iv)
{
    /* One request holds at most 5000 values; intraday requests are 2 * TZ_PAD wider. */
    if (iv == MD_IV_1MO) return 0;
    int64_t span = (int64_t)MAX_VALUES * md_interval_seconds(iv);
    return md_interval_is_daily(iv) ? span : span - 2 * TZ_PAD;
}

/* -- corporate actions --------------------------------------------------------------------- */

/* /splits and /dividends (sources_int.h md_sources__act_form) */
static const md_sources__act_form act_forms[2] = {
    {MD_ACT_SPLIT, "splits", "date", "from_factor", "to_factor", NULL, NULL, NULL},
    {MD_ACT_DIVIDEND, "dividends", "ex_date", NULL, NULL, "amount", NULL, NULL},
};

static int parse_actions_root(const json_t *root, long http_status, int dividends,
                              md_action_vec *out, md_source_ref *ref, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, http_status, NULL, err);
    if (rc) return rc;
    const json_t *meta = json_object_get(root, "meta");
    const char *cur = json_string_value(json_object_get(meta, "currency"));
    const char *zone = json_string_value(json_object_get(meta, "exchange_timezone"));
    const char *mic = json_string_value(json_object_get(meta, "mic_code"));
    const char *exch = json_string_value(json_object_get(meta, "exchange"));
    rc = md_sources__read_actions(NAME, MD_SRC_TWELVEDATA, &act_forms[dividends], root, cur, out,
                                  err);
    if (rc >= 0 && ref) {
        if (cur) snprintf(ref->currency, sizeof ref->currency, "%s", cur);
        if (zone) snprintf(ref->zone, sizeof ref->zone, "%s", zone);
        /* the MIC when given (whichever answer gave it), else the exchange's name */
        if (mic && *mic)
            snprintf(ref->exchange, sizeof ref->exchange, "%s", mic);
        else if (exch && *exch && !ref->exchange[0])
            snprintf(ref->exchange, sizeof ref->exchange, "%s", exch);
    }
    return rc;
}

MD_SOURCES_ACTIONS_PARSER(md_twelvedata_parse_actions, NAME, parse_actions_root)

static int td_act_fetch(md_provider *p, int kind, const char *symbol, md_action_vec *out,
                        md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    if (kind == MD_SOURCES_ACT_PROFILE) return 0; /* the exchange came with the splits' meta */
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, &p->base, kind ? "/dividends?symbol=" : "/splits?symbol=", symbol,
                    kind ? "&range=full&adjust=false" : "&range=full", "&apikey=");
    int rc =
        md_sources__act_get(p, url.data, td_refusal, parse_actions_root, kind, out, ref, meta, err);
    md_buf_deinit(&url);
    day_notice(rc, meta, err);
    return rc;
}

MD_SOURCES_ACTIONS2(td_actions, td_act_fetch)

MD_SOURCES_PROVIDER(twelvedata, TWELVEDATA, .quote = td_quote, .bars = td_bars,
                    .max_range_s = td_max_range, .actions = td_actions);
