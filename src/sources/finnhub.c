/* finnhub.c - Finnhub (key: FINNHUB_API_KEY, sent as the token parameter).
 *
 *   GET {base}/quote?symbol=AAPL&token=K
 *       {"c":261.74,"d":0.28,"dp":0.107,"h":263.31,"l":260.68,"o":261.07,"pc":261.46,
 *        "t":1582641000}                     (an unknown symbol: every field 0 or null)
 *   GET {base}/stock/candle?symbol=AAPL&resolution=D&from=S&to=E&token=K
 *       {"c":[..],"h":[..],"l":[..],"o":[..],"s":"ok","t":[..],"v":[..]} or {"s":"no_data"}
 *
 *   GET {base}/forex/candle?symbol=OANDA:EUR_USD&..., {base}/crypto/candle?symbol=BINANCE:BTCUSDT&...
 *       the same answer for FX and crypto (sources/symbolmap.h spells the symbols; /quote
 *       is for stocks only, so FX and crypto quotes are not asked here)
 *
 * Times are epoch seconds. Resolutions 1 5 15 30 60 D W M (no 4h). Daily candles are
 * moved to their New York trading date (a stamp at 00:00 UTC is taken as that date).
 * Errors: 401 {"error":"Invalid API key."}, 403 {"error":"You don't have access to this
 * resource."} (candles need a paid plan: the manager opens that endpoint class's circuit
 * only, quotes go on), 429 {"error":"API limit reached..."}. "no_data" is an empty range,
 * for which failover asks the next source.
 *
 * Corporate actions (bare arrays, all dates "YYYY-MM-DD"):
 *   GET {base}/stock/split?symbol=AAPL&from=1970-01-01&to=D&token=K
 *       [{"symbol":"AAPL","date":"2020-08-31","fromFactor":1,"toFactor":4}]
 *       toFactor new shares for fromFactor old: AAPL's 4-for-1 is 4/1 as it stands
 *   GET {base}/stock/dividend?symbol=AAPL&from=1970-01-01&to=D&token=K
 *       [{"symbol":"AAPL","date":"2020-08-07","amount":0.82,"adjustedAmount":0.205,
 *         "payDate":"2020-08-13","recordDate":..,"declarationDate":..,"currency":"USD"}]
 *       date is the ex-date; amount as paid (adjustedAmount, divided by later splits, is
 *       not read); a pence currency (GBp) becomes GBP and the amount / 100.
 * Dividends need a premium plan (403 "You don't have access to this resource."): the
 * splits are then the answer and the refusal is logged (sources_int.h md_sources__actions2).
 * Then, once per actions call, the company profile for the symbol's exchange:
 *   GET {base}/stock/profile2?symbol=AAPL&token=K
 *       {"country":"US","currency":"USD","exchange":"NASDAQ NMS - GLOBAL MARKET",
 *        "ipo":"1980-12-12","name":"Apple Inc","ticker":"AAPL","finnhubIndustry":..,..}
 *       exchange, as given, is the actions' ref->exchange (currency is the one of the
 *       company's filings, not of its quotes: not read); an unknown symbol is {} (exchange
 *       unknown, not an error). */
#include "sources/providers.h"
#include "sources/sources_int.h"

#include "core/buf.h"
#include "core/symconf.h"
#include "core/timefmt.h"

#include <math.h>
#include <string.h>

#define NAME "finnhub"
#define ZONE "America/New_York"

static const char *fh_resolution(md_interval iv)
{
    static const char *names[MD_IV_COUNT] = {"1", "5", "15", "30", "60", NULL, "D", "W", "M"};
    return (unsigned)iv < MD_IV_COUNT ? names[iv] : NULL;
}

/* {"error": "..."} inside a 2xx answer; 0 when there is none. */
static int body_error(const json_t *root, md_error *err)
{
    const char *e = json_string_value(json_object_get(root, "error"));
    if (!e) return 0;
    char d[160];
    md_sources__excerpt(e, strlen(e), d, sizeof d);
    if (strcasestr(e, "limit"))
        return md_error_set(err, MD_ERATELIMIT, NAME ": rate limited: %s", d);
    if (strcasestr(e, "access") || strcasestr(e, "api key") || strcasestr(e, "token"))
        return md_error_set(err, MD_EUNAUTHSRC, NAME ": refused: %s", d);
    if (strcasestr(e, "not found") || strcasestr(e, "not supported") || strcasestr(e, "symbol"))
        return md_error_set(err, MD_ENOTFOUND, NAME ": %s", d);
    return md_error_set(err, MD_EMALFORMED, NAME ": error in a 200 answer: %s", d);
}

static int parse_candles_root(const json_t *root, md_interval iv, md_bar_vec *out, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, err);
    if (rc) return rc;
    const char *s = json_string_value(json_object_get(root, "s"));
    if (!s) return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no status \"s\"");
    if (strcmp(s, "no_data") == 0) return 0;
    if (strcmp(s, "ok") != 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: status '%.20s'", s);
    static const char *keys[6] = {"t", "o", "h", "l", "c", "v"};
    const json_t *arr[6];
    for (int k = 0; k < 6; k++) {
        arr[k] = json_object_get(root, keys[k]);
        if (!json_is_array(arr[k]))
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: \"%s\" is not an array", keys[k]);
    }
    size_t n = json_array_size(arr[0]);
    for (int k = 1; k < 6; k++)
        if (json_array_size(arr[k]) != n)
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: \"%s\" has %zu values for %zu times",
                                keys[k], json_array_size(arr[k]), n);
    md_bar_vec tmp;
    md_sources__bars_init(&tmp, n);
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        double x[5];
        int nulls = 0, bad = md_sources__int(json_array_get(arr[0], i), &t) != 0;
        for (int k = 1; k < 6 && !bad; k++) {
            const json_t *v = json_array_get(arr[k], i);
            if (json_is_null(v))
                nulls++;
            else if (md_sources__num(v, &x[k - 1]) != 0)
                bad = 1;
        }
        if (bad) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: candle %zu", i);
        }
        if (nulls) continue;
        md_bar b = md_sources__bar(MD_SRC_FINNHUB);
        b.open = x[0], b.high = x[1], b.low = x[2], b.close = x[3], b.volume = x[4];
        if (md_sources__push_stamped(&tmp, &b, t, iv, ZONE, -18000) != 0) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: candle %zu out of range", i);
        }
    }
    return md_sources__emit_all(&tmp, out);
}

int md_finnhub_parse_candles(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                             md_error *err)
{
    return md_sources__parse_bars(NAME, parse_candles_root, body, len, iv, out, err);
}

static int parse_quote_root(const json_t *root, md_quote *out, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, err);
    if (rc) return rc;
    double c;
    int64_t t;
    const json_t *jc = json_object_get(root, "c"), *jt = json_object_get(root, "t");
    if (!jc || !jt)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no \"c\"/\"t\" fields");
    if (json_is_null(jt) || json_is_null(jc))
        return md_error_set(err, MD_ENOTFOUND, NAME ": no quote for this symbol");
    if (md_sources__num(jc, &c) != 0 || md_sources__int(jt, &t) != 0)
        return md_error_set(err, MD_EMALFORMED,
                            NAME ": malformed response: \"c\"/\"t\" not numbers");
    if (t == 0 && c == 0) return md_error_set(err, MD_ENOTFOUND, NAME ": no quote for this symbol");
    if (t <= 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: quote time %lld",
                            (long long)t);
    md_quote q;
    md_quote_init(&q);
    q.price = c;
    q.ts = t;
    q.source = MD_SRC_FINNHUB;
    *out = q;
    return 0;
}

int md_finnhub_parse_quote(const char *body, size_t len, md_quote *out, md_error *err)
{
    return md_sources__parse_quote(NAME, parse_quote_root, body, len, out, err);
}

/* A non-2xx answer's {"error": "..."} is the detail of the status error. */
static int fh_refusal(const json_t *body, long status, void *ctx, md_error *err)
{
    const char *e = json_string_value(json_object_get(body, "error"));
    if (!e) return 0;
    char ex[160];
    md_sources__excerpt(e, strlen(e), ex, sizeof ex);
    return md_sources__status_error(NAME, status, ex, err);
}

static int fh_fetch(md_provider *p, const char *url, md_interval iv, md_bar_vec *bars, md_quote *q,
                    md_fetch_meta *meta, md_error *err)
{
    json_t *root;
    int rc = md_sources__get_json(p, url, fh_refusal, NULL, &root, NULL, meta, err);
    if (rc == 0)
        rc = bars ? parse_candles_root(root, iv, bars, err) : parse_quote_root(root, q, err);
    json_decref(root);
    return rc;
}

static int fh_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    return md_sources__quote1((md_provider *)src, fh_fetch, "/quote?symbol=", symbol, NULL,
                              "&token=", out, meta, err);
}

static int fh_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    const char *res = fh_resolution(iv);
    int rc = md_sources__bars_ready(p, res != NULL, iv, err);
    if (rc) return rc;
    int64_t from = start, to = end - 1; /* Finnhub's to is inclusive */
    if (md_interval_is_daily(iv)) {
        from = start - (iv == MD_IV_1D ? 2 : iv == MD_IV_1W ? 8 : 32) * 86400LL;
        to = end + 2 * 86400LL;
    }
    if (from < 0) from = 0;
    /* FX and crypto candles have endpoints of their own (OANDA:EUR_USD, BINANCE:BTCUSDT) */
    const char *path = "/stock/candle?symbol=";
    if (meta && meta->asset == MD_AS_BIT_FX) path = "/forex/candle?symbol=";
    if (meta && meta->asset == MD_AS_BIT_CRYPTO) path = "/crypto/candle?symbol=";
    char rest[96];
    snprintf(rest, sizeof rest, "&resolution=%s&from=%lld&to=%lld", res, (long long)from,
             (long long)to);
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, src, path, symbol, rest, "&token=");
    rc = md_sources__bars1(p, fh_fetch, url.data, symbol, iv, start, end, out, meta, err);
    md_buf_deinit(&url);
    return rc;
}

static int64_t fh_max_range(const md_source *src, md_interval iv)
{
    /* Intraday candles come one month per request at most. */
    return md_interval_is_daily(iv) ? 0 : 30 * 86400;
}

/* -- corporate actions --------------------------------------------------------------------- */

/* /stock/split and /stock/dividend (sources_int.h md_sources__act_form) */
static const md_sources__act_form act_forms[2] = {
    {MD_ACT_SPLIT, NULL, "date", "toFactor", "fromFactor", NULL, NULL, NULL},
    {MD_ACT_DIVIDEND, NULL, "date", NULL, NULL, "amount", "currency", "payDate"},
};

static int parse_actions_root(const json_t *root, long status, int dividends, md_action_vec *out,
                              md_source_ref *ref, md_error *err)
{
    (void)status; /* refusals come with 4xx (fh_refusal) */
    int rc = json_is_object(root) ? body_error(root, err) : 0;
    if (rc == 0 && ref) snprintf(ref->zone, sizeof ref->zone, "%s", ZONE);
    return rc ? rc
              : md_sources__read_actions(NAME, MD_SRC_FINNHUB, &act_forms[dividends], root, NULL,
                                         out, err);
}

MD_SOURCES_ACTIONS_PARSER(md_finnhub_parse_actions, NAME, parse_actions_root)

/* /stock/profile2's answer: exchange into ref->exchange ("" for {}, an unknown symbol). */
static int parse_profile_root(const json_t *root, md_source_ref *ref, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    int rc = body_error(root, err);
    if (rc) return rc;
    return md_sources__ref_exchange(NAME, root, "exchange", ref, err);
}

int md_finnhub_parse_profile(const char *body, size_t len, md_source_ref *ref, md_error *err)
{
    return md_sources__parse_profile(NAME, parse_profile_root, body, len, ref, err);
}

/* One kind of actions (0 splits, 1 dividends) or the company profile (2: its exchange)
 * (md_sources__actions2). */
static int fh_act_fetch(md_provider *p, int kind, const char *symbol, md_action_vec *out,
                        md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    if (kind == MD_SOURCES_ACT_PROFILE)
        return md_sources__profile_get(p, "/stock/profile2?symbol=", symbol, "&token=", fh_refusal,
                                       parse_profile_root, ref, meta, err);
    char to[MD_TIME_STR_MAX], rest[64];
    md_date_format(md_now() + 366 * 86400LL, to); /* announced ones too */
    snprintf(rest, sizeof rest, "&from=1970-01-01&to=%s", to);
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, &p->base,
                    kind ? "/stock/dividend?symbol=" : "/stock/split?symbol=", symbol, rest,
                    "&token=");
    int rc =
        md_sources__act_get(p, url.data, fh_refusal, parse_actions_root, kind, out, ref, meta, err);
    md_buf_deinit(&url);
    return rc;
}

MD_SOURCES_ACTIONS2(fh_actions, fh_act_fetch)

MD_SOURCES_PROVIDER(finnhub, FINNHUB, .quote = fh_quote, .bars = fh_bars,
                    .max_range_s = fh_max_range, .actions = fh_actions);
