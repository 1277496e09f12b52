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
 * for which failover asks the next source. */
#include "sources/providers.h"
#include "sources/sources_int.h"

#include "core/buf.h"
#include "core/symconf.h"

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
    md_bar_vec_init(&tmp);
    md_bar_vec_reserve(&tmp, n);
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
        md_bar b;
        md_bar_init(&b);
        b.source = MD_SRC_FINNHUB;
        b.open = x[0], b.high = x[1], b.low = x[2], b.close = x[3], b.volume = x[4];
        b.ts = md_interval_is_daily(iv)
                   ? md_sources__day_bucket(md_sources__exchange_day(t, ZONE, -18000), iv)
                   : t;
        if (!md_sources__bar_sane(&b)) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: candle %zu out of range", i);
        }
        md_bar_vec_push(&tmp, &b);
    }
    int count = md_sources__emit(&tmp, INT64_MIN, INT64_MAX, out);
    md_bar_vec_deinit(&tmp);
    return count;
}

int md_finnhub_parse_candles(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                             md_error *err)
{
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_candles_root(root, iv, out, err);
    json_decref(root);
    return rc;
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
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_quote_root(root, out, err);
    json_decref(root);
    return rc;
}

static int fh_fetch(md_provider *p, const char *url, md_interval iv, md_bar_vec *bars, md_quote *q,
                    md_fetch_meta *meta, md_error *err)
{
    md_sources__resp r;
    int rc = md_sources__get(p, url, &r, meta, err);
    if (rc) return rc;
    if (r.status < 200 || r.status > 299) {
        md_error jerr;
        json_t *root = md_sources__json(NAME, &r, &jerr);
        const char *e = json_string_value(json_object_get(root, "error"));
        char ex[160];
        if (e)
            md_sources__excerpt(e, strlen(e), ex, sizeof ex);
        else
            md_sources__excerpt(r.body, r.len, ex, sizeof ex);
        rc = md_sources__status_error(NAME, r.status, ex, err);
        json_decref(root);
    } else {
        json_t *root = md_sources__json(NAME, &r, err);
        if (!root)
            rc = MD_EMALFORMED;
        else
            rc = bars ? parse_candles_root(root, iv, bars, err) : parse_quote_root(root, q, err);
        json_decref(root);
    }
    md_sources__resp_deinit(&r);
    return rc;
}

static void url_key(md_buf *url, const md_source *src)
{
    md_buf_puts(url, "&token=");
    md_sources__esc(url, src->api_key);
}

static int fh_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    md_provider *p = (md_provider *)src;
    int rc = md_sources__need_key(p, err);
    if (rc) return rc;
    md_buf url = MD_BUF_INIT;
    md_buf_printf(&url, "%s/quote?symbol=", src->base_url);
    md_sources__esc(&url, symbol);
    url_key(&url, src);
    md_quote q;
    rc = fh_fetch(p, url.data, MD_IV_1D, NULL, &q, meta, err);
    md_buf_deinit(&url);
    if (rc < 0) return rc;
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    *out = q;
    return 0;
}

static int fh_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    const char *res = fh_resolution(iv);
    if (!res)
        return md_error_set(err, MD_EINTERVAL, NAME ": interval %s is not offered",
                            md_interval_name(iv));
    int rc = md_sources__need_key(p, err);
    if (rc) return rc;
    int64_t from = start, to = end - 1; /* Finnhub's to is inclusive */
    if (md_interval_is_daily(iv)) {
        from = start - (iv == MD_IV_1D ? 2 : iv == MD_IV_1W ? 8 : 32) * 86400LL;
        to = end + 2 * 86400LL;
    }
    if (from < 0) from = 0;
    /* FX and crypto candles have endpoints of their own (OANDA:EUR_USD, BINANCE:BTCUSDT) */
    const char *path = "/stock/candle";
    if (meta && meta->asset == MD_AS_BIT_FX) path = "/forex/candle";
    if (meta && meta->asset == MD_AS_BIT_CRYPTO) path = "/crypto/candle";
    md_buf url = MD_BUF_INIT;
    md_buf_printf(&url, "%s%s?symbol=", src->base_url, path);
    md_sources__esc(&url, symbol);
    md_buf_printf(&url, "&resolution=%s&from=%lld&to=%lld", res, (long long)from, (long long)to);
    url_key(&url, src);
    md_bar_vec tmp;
    md_bar_vec_init(&tmp);
    rc = fh_fetch(p, url.data, iv, &tmp, NULL, meta, err);
    md_buf_deinit(&url);
    if (rc >= 0) rc = md_sources__emit(&tmp, start, end, out);
    md_bar_vec_deinit(&tmp);
    return rc;
}

static int64_t fh_max_range(const md_source *src, md_interval iv)
{
    /* Intraday candles come one month per request at most. */
    return md_interval_is_daily(iv) ? 0 : 30 * 86400;
}

static const md_source_vtable fh_vt = {
    .name = NAME,
    .id = MD_SRC_FINNHUB,
    .quote = fh_quote,
    .bars = fh_bars,
    .supports = md_sources__provider_supports,
    .max_range_s = fh_max_range,
    .free = md_sources__provider_free,
};

int md_finnhub_create(const md_config *cfg, md_source **out, md_error *err)
{
    return md_sources__provider_create(&fh_vt, cfg, out);
}
