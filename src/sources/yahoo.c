/* yahoo.c - Yahoo Finance chart API (no key).
 *
 *   GET {base}/v8/finance/chart/{symbol}?interval=5m&period1=S&period2=E
 *   {"chart":{"result":[{"meta":{...,"regularMarketPrice":185.64,"regularMarketTime":...,
 *     "exchangeTimezoneName":"America/New_York","gmtoffset":-18000,"priceHint":2},
 *     "timestamp":[...],"indicators":{"quote":[{"open":[...],"high":[...],"low":[...],
 *     "close":[...],"volume":[...]}]}}],"error":null}}
 *   errors: {"chart":{"result":null,"error":{"code":"Not Found","description":"..."}}}
 *
 * Prices are float32 noise in the JSON (185.63999938964844); meta.priceHint says how many
 * decimals the instrument trades in, so prices are rounded to it. Arrays carry nulls for
 * minutes or days without trades: those bars are skipped; an instrument without volume
 * (indices) may have no volume array at all (volume 0). Daily bars are stamped with
 * the session open (US: 14:30 UTC) or local midnight (Tokyo: 15:00 UTC the day before):
 * both become 00:00 UTC of the exchange-local date. Intervals: 1m 5m 15m 30m 1h(60m) 1d
 * 1w(1wk) 1mo; no 4h. Yahoo keeps 1m for 30 days (7 per request), 5m-30m for 60 days,
 * 60m for 730 days. 60m bars start at the session's open: on the hour in London or
 * Frankfurt, at :30 in New York or Hong Kong, where they straddle two UTC hours; those
 * hours are then built from 30m bars (md_sources__on_grid), which reach back 60 days only.
 * During a session an intraday answer ends with a row stamped at the last trade (folded
 * into its bucket), and a weekly or monthly one sends the period so far and today as two
 * rows (merged into one bar). The quote is the chart meta's regular market price and time (the
 * last bar's close and stamp when meta has none).
 *
 * Corporate actions (events=div,splits):
 *   "events":{"splits":{"1598880600":{"date":1598880600,"numerator":4,"denominator":1,
 *     "splitRatio":"4:1"}},"dividends":{"1604673000":{"amount":0.205,"date":1604673000}}}
 * Yahoo's OHLC and volumes are split-adjusted (every bar before a split divided by its ratio,
 * volumes multiplied), and its dividend amounts too. Bars are stored raw, so the bars call
 * asks for the split events with the bars and, when the range ends in the past, for the
 * splits from its end to now in a second, small request (interval 3mo): every bar before a
 * split is multiplied back by its ratio (before rounding to priceHint, so 124.8075 x 4 gives
 * the traded 499.23) and its volume divided by it; dividend amounts are multiplied by the
 * ratios of the later splits. meta.currency "GBp" (pence; "ZAc", "ILA" likewise) is
 * normalised to the major unit: every price / 100, and the currency reported as it came.
 * The actions call also reports meta.exchangeName ("NMS", "NYQ", "LSE", "GER", "CCC") as the
 * symbol's exchange, from the same answer. */
#include "sources/providers.h"
#include "sources/sources_int.h"

#include "core/buf.h"
#include "core/timefmt.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#define NAME "yahoo"
#define CHART "/v8/finance/chart/"

static const char *yahoo_interval(md_interval iv)
{
    static const char *names[MD_IV_COUNT] = {"1m", "5m", "15m", "30m", "60m",
                                             NULL, "1d", "1wk", "1mo"};
    return (unsigned)iv < MD_IV_COUNT ? names[iv] : NULL;
}

/* chart.error -> the vocabulary; status is the HTTP status (200 when none). */
static int chart_error(const json_t *e, long status, md_error *err)
{
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *desc = json_string_value(json_object_get(e, "description"));
    char d[200];
    md_sources__excerpt(desc ? desc : "", desc ? strlen(desc) : 0, d, sizeof d);
    if (!code) code = "";
    if (status == 429 || strcasecmp(code, "Too Many Requests") == 0)
        return md_error_set(err, MD_ERATELIMIT, NAME ": rate limited: %s", d);
    if (status == 401 || status == 403 || strcasecmp(code, "Unauthorized") == 0 ||
        strcasecmp(code, "Forbidden") == 0)
        return md_error_set(err, MD_EUNAUTHSRC, NAME ": refused: %s %s", code, d);
    if (status >= 500)
        return md_error_set(err, MD_ETRANSIENT, NAME ": server error (HTTP %ld): %s", status, d);
    if (desc && strstr(desc, "interval") && strstr(desc, "Valid intervals"))
        return md_error_set(err, MD_EINTERVAL, NAME ": %s", d);
    return md_error_set(err, MD_ENOTFOUND, NAME ": %s: %s", code[0] ? code : "error", d);
}

/* One price array element: 1 value, 0 null, -1 wrong type. */
static int elem(const json_t *arr, size_t i, double *out)
{
    const json_t *v = json_array_get(arr, i);
    if (!v || json_is_null(v)) return 0;
    return md_sources__num(v, out) == 0 ? 1 : -1;
}

/* The minor-unit factor of meta.currency (100 for GBp), 1 when none or unknown. */
static double currency_factor(const json_t *meta)
{
    const char *c = json_string_value(json_object_get(meta, "currency"));
    char major[MD_CURRENCY_MAX];
    double f = 1;
    if (!c || md_currency_major(c, major, &f) != 0) return 1;
    return f;
}

/* The exchange day (00:00 UTC) of an event stamp. */
static int64_t event_day(const json_t *meta, int64_t t)
{
    const char *zone = json_string_value(json_object_get(meta, "exchangeTimezoneName"));
    int64_t gmtoff = 0;
    md_sources__int(json_object_get(meta, "gmtoffset"), &gmtoff);
    return md_sources__exchange_day(t, zone, (int32_t)gmtoff);
}

/* events.splits and events.dividends as actions (dividends still split-adjusted and in the
 * quoted unit: parse_events_raw's caller fixes them once every split is known). */
static int parse_events_raw(const json_t *res, const json_t *meta, md_action_vec *out,
                            md_error *err)
{
    const json_t *ev = json_object_get(res, "events");
    if (!ev || json_is_null(ev)) return 0;
    static const char *kinds[2] = {"splits", "dividends"};
    for (int k = 0; k < 2; k++) {
        const json_t *o = json_object_get(ev, kinds[k]);
        if (!o || json_is_null(o)) continue;
        if (!json_is_object(o))
            return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: events.%s",
                                kinds[k]);
        const char *key;
        const json_t *x;
        json_object_foreach((json_t *)o, key, x)
        {
            md_action a;
            memset(&a, 0, sizeof a);
            a.source = MD_SRC_YAHOO;
            int64_t t;
            if (md_sources__int(json_object_get(x, "date"), &t) != 0)
                return md_error_set(err, MD_EMALFORMED, NAME ": malformed event %s", key);
            a.ex_date = event_day(meta, t);
            if (k == 0) {
                a.type = MD_ACT_SPLIT;
                if (md_sources__num(json_object_get(x, "numerator"), &a.numerator) != 0 ||
                    md_sources__num(json_object_get(x, "denominator"), &a.denominator) != 0)
                    return md_error_set(err, MD_EMALFORMED, NAME ": malformed split %s", key);
            } else {
                a.type = MD_ACT_DIVIDEND;
                if (md_sources__num(json_object_get(x, "amount"), &a.amount) != 0)
                    return md_error_set(err, MD_EMALFORMED, NAME ": malformed dividend %s", key);
            }
            if (md_action_validate(&a, NULL) == 0) md_action_vec_push(out, &a);
        }
    }
    md_action_vec_sort_dedup(out);
    return 0;
}

/* Product of the ratios of the splits in s with ex_date > day. */
static double later_splits(const md_action_vec *s, int64_t day)
{
    double r = 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].type == MD_ACT_SPLIT && s->v[i].ex_date > day)
            r *= md_action_split_ratio(&s->v[i]);
    return r;
}

static int parse_bars(const json_t *res, const json_t *meta, md_interval iv,
                      const md_action_vec *splits, md_bar_vec *out, md_error *err)
{
    const json_t *ts = json_object_get(res, "timestamp");
    if (!ts || json_is_null(ts)) return 0; /* no bars in the range */
    if (!json_is_array(ts))
        return md_error_set(err, MD_EMALFORMED,
                            NAME ": malformed response: timestamp is not an array");
    size_t n = json_array_size(ts);
    const json_t *qs = json_object_get(json_object_get(res, "indicators"), "quote");
    const json_t *q = json_array_get(qs, 0);
    if (!json_is_object(q))
        return n ? md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: no indicators.quote")
                 : 0;
    static const char *keys[5] = {"open", "high", "low", "close", "volume"};
    const json_t *arr[5];
    for (int k = 0; k < 5; k++) {
        arr[k] = json_object_get(q, keys[k]);
        if (!arr[k] && n == 0) return 0;
        if (k == 4 && (!arr[k] || json_is_null(arr[k]))) continue; /* no volume: 0 */
        if (!json_is_array(arr[k]) || json_array_size(arr[k]) != n)
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: %s has %zu values for %zu timestamps",
                                keys[k], json_array_size(arr[k]), n);
    }
    json_int_t hint = -1;
    const json_t *ph = json_object_get(meta, "priceHint");
    if (json_is_integer(ph)) hint = json_integer_value(ph);
    const char *zone = json_string_value(json_object_get(meta, "exchangeTimezoneName"));
    int64_t gmtoff = 0;
    md_sources__int(json_object_get(meta, "gmtoffset"), &gmtoff);
    double cf = currency_factor(meta);
    if (cf != 1 && hint >= 0) hint += 2; /* pence to pounds: two more decimals */

    md_bar_vec tmp;
    md_sources__bars_init(&tmp, n);
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        if (md_sources__int(json_array_get(ts, i), &t) != 0) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: timestamp[%zu]", i);
        }
        double v[5];
        int have[5], nulls = 0;
        for (int k = 0; k < 5; k++) {
            have[k] = elem(arr[k], i, &v[k]);
            if (have[k] < 0) {
                md_bar_vec_deinit(&tmp);
                return md_error_set(err, MD_EMALFORMED,
                                    NAME ": malformed response: %s[%zu] is not a number", keys[k],
                                    i);
            }
            if (!have[k] && k < 4) nulls++;
        }
        if (nulls) continue; /* no trade in this bucket */
        md_bar b = md_sources__bar(MD_SRC_YAHOO);
        int64_t day = md_sources__exchange_day(t, zone, (int32_t)gmtoff);
        /* raw as traded: Yahoo divided this bar by the ratios of the splits after its day
         * (a weekly or monthly bar spanning a split mixes both sides either way) */
        double r = splits ? later_splits(splits, day) : 1;
        b.open = md_sources__round(v[0] * r / cf, (int)hint);
        b.high = md_sources__round(v[1] * r / cf, (int)hint);
        b.low = md_sources__round(v[2] * r / cf, (int)hint);
        b.close = md_sources__round(v[3] * r / cf, (int)hint);
        b.volume = have[4] ? (r != 1 ? round(v[4] / r) : v[4]) : 0;
        b.ts = md_interval_is_daily(iv) ? md_sources__day_bucket(day, iv) : t;
        if (!md_sources__bar_sane(&b)) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: bar %zu out of range", i);
        }
        md_bar_vec_push(&tmp, &b);
    }
    if (iv == MD_IV_1W || iv == MD_IV_1MO) {
        /* During the period Yahoo sends the period so far and today as two rows of the
         * same bucket: one bar of both (yfinance merges them too), not the last row alone */
        size_t w = 0;
        for (size_t i = 0; i < tmp.n; i++) {
            if (w > 0 && tmp.v[w - 1].ts == tmp.v[i].ts)
                md_sources__merge_live(&tmp.v[w - 1], &tmp.v[i]);
            else
                tmp.v[w++] = tmp.v[i];
        }
        tmp.n = w;
    }
    return md_sources__emit_all(&tmp, out);
}

/* The last bar with a close (its exact timestamp): the quote when meta has no regular
 * market price. 0, or MD_ENOTFOUND when there is none. */
static int last_close(const json_t *res, const json_t *meta, double *price, int64_t *t, double *vol)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error e;
    int n = parse_bars(res, meta, MD_IV_1M, NULL, &bv, &e); /* intraday: stamps as sent */
    if (n > 0) {
        *price = bv.v[bv.n - 1].close;
        *t = bv.v[bv.n - 1].ts;
        *vol = bv.v[bv.n - 1].volume;
    }
    md_bar_vec_deinit(&bv);
    return n > 0 ? 0 : MD_ENOTFOUND;
}

static int parse_quote(const json_t *res, const json_t *meta, md_quote *q, md_error *err)
{
    double price, vol = -1;
    int64_t t;
    if ((md_sources__num(json_object_get(meta, "regularMarketPrice"), &price) != 0 ||
         md_sources__int(json_object_get(meta, "regularMarketTime"), &t) != 0) &&
        last_close(res, meta, &price, &t, &vol) != 0)
        return md_error_set(err, MD_ENOTFOUND, NAME ": no regular market price in the answer");
    json_int_t hint = -1;
    const json_t *ph = json_object_get(meta, "priceHint");
    if (json_is_integer(ph)) hint = json_integer_value(ph);
    md_quote_init(q);
    const char *sym = json_string_value(json_object_get(meta, "symbol"));
    if (sym) snprintf(q->symbol, sizeof q->symbol, "%s", sym);
    double cf = currency_factor(meta);
    if (cf != 1 && hint >= 0) hint += 2;
    q->price = md_sources__round(price / cf, (int)hint);
    q->ts = t;
    /* regularMarketVolume, else the last bar's (last_close), else none */
    (void)md_sources__num(json_object_get(meta, "regularMarketVolume"), &vol);
    if (vol >= 0) q->volume = vol;
    q->source = MD_SRC_YAHOO;
    return 0;
}

/* What one chart answer holds besides bars: its events (raw: see parse_events_raw) and
 * meta's currency, zone and exchange (exchangeName: "NMS", "NYQ", "LSE"). */
typedef struct chart_extra {
    md_action_vec *events;      /* NULL: not wanted */
    const md_action_vec *later; /* splits after the answer's range (undo too), may be NULL */
    md_source_ref ref;
} chart_extra;

static int parse_root(json_t *root, long status, md_interval iv, md_bar_vec *bars, md_quote *quote,
                      chart_extra *x, md_error *err)
{
    const json_t *chart = json_object_get(root, "chart");
    if (!json_is_object(chart)) {
        /* Some refusals come as {"finance":{"error":{...}}}. */
        const json_t *fe = json_object_get(json_object_get(root, "finance"), "error");
        if (json_is_object(fe)) return chart_error(fe, status, err);
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no \"chart\" object");
    }
    const json_t *e = json_object_get(chart, "error");
    if (json_is_object(e)) return chart_error(e, status, err);
    const json_t *res = json_array_get(json_object_get(chart, "result"), 0);
    if (!json_is_object(res))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no chart.result");
    const json_t *meta = json_object_get(res, "meta");
    if (!json_is_object(meta))
        return md_error_set(err, MD_EMALFORMED,
                            NAME ": malformed response: no chart.result[0].meta");
    if (quote) {
        int rc = parse_quote(res, meta, quote, err);
        if (rc) return rc;
    }
    if (!x) return bars ? parse_bars(res, meta, iv, NULL, bars, err) : 0;
    const char *cur = json_string_value(json_object_get(meta, "currency"));
    const char *zone = json_string_value(json_object_get(meta, "exchangeTimezoneName"));
    const char *exch = json_string_value(json_object_get(meta, "exchangeName"));
    snprintf(x->ref.currency, sizeof x->ref.currency, "%s", cur ? cur : "");
    snprintf(x->ref.zone, sizeof x->ref.zone, "%s", zone ? zone : "");
    snprintf(x->ref.exchange, sizeof x->ref.exchange, "%s", exch ? exch : "");
    md_action_vec own;
    md_action_vec_init(&own);
    md_action_vec *ev = x->events ? x->events : &own;
    int rc = parse_events_raw(res, meta, ev, err);
    if (rc == 0 && x->later)
        for (size_t i = 0; i < x->later->n; i++) md_action_vec_push(ev, &x->later->v[i]);
    if (rc == 0) md_action_vec_sort_dedup(ev);
    if (rc == 0 && bars) rc = parse_bars(res, meta, iv, ev, bars, err);
    md_action_vec_deinit(&own);
    return rc;
}

int md_yahoo_parse_chart(const char *body, size_t len, md_interval iv, md_bar_vec *bars,
                         md_quote *quote, md_error *err)
{
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = parse_root(root, 200, iv, bars, quote, NULL, err);
    json_decref(root);
    return rc;
}

/* Turns raw events (dividends split-adjusted, in the quoted unit) into core/action.h's
 * conventions: each dividend times the ratios of the splits after it, / the unit factor. */
static void normalise_events(md_action_vec *ev, const char *currency)
{
    char major[MD_CURRENCY_MAX] = "";
    double cf = 1;
    if (!currency || md_currency_major(currency, major, &cf) != 0) major[0] = 0, cf = 1;
    for (size_t i = 0; i < ev->n; i++) {
        md_action *a = &ev->v[i];
        if (a->type != MD_ACT_DIVIDEND) continue;
        a->amount = a->amount * later_splits(ev, a->ex_date) / cf;
        memcpy(a->currency, major, sizeof major);
    }
}

int md_yahoo_parse_chart_full(const char *body, size_t len, md_interval iv,
                              const md_action_vec *later, md_bar_vec *bars, md_action_vec *actions,
                              md_error *err)
{
    json_t *root = md_sources__json_buf(NAME, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    md_action_vec ev;
    md_action_vec_init(&ev);
    chart_extra x = {.events = &ev, .later = later};
    memset(&x.ref, 0, sizeof x.ref);
    int rc = parse_root(root, 200, iv, bars, NULL, &x, err);
    json_decref(root);
    if (rc >= 0 && actions) {
        normalise_events(&ev, x.ref.currency);
        for (size_t i = 0; i < ev.n; i++) md_action_vec_push(actions, &ev.v[i]);
    }
    md_action_vec_deinit(&ev);
    return rc;
}

/* A non-2xx answer's chart.error or finance.error object. */
static int yahoo_refusal(const json_t *body, long status, void *ctx, md_error *err)
{
    const json_t *e = json_object_get(json_object_get(body, "chart"), "error");
    if (!json_is_object(e)) e = json_object_get(json_object_get(body, "finance"), "error");
    return json_is_object(e) ? chart_error(e, status, err) : 0;
}

/* GET + error mapping + parse of one chart URL. */
static int fetch_chart(md_provider *p, const char *url, md_interval iv, md_bar_vec *bars,
                       md_quote *quote, chart_extra *x, md_fetch_meta *meta, md_error *err)
{
    json_t *root;
    long status = 0;
    int rc = md_sources__get_json(p, url, yahoo_refusal, NULL, &root, &status, meta, err);
    if (rc == 0) rc = parse_root(root, status, iv, bars, quote, x, err);
    json_decref(root);
    return rc;
}

/* fetch_chart without events (md_sources__fetch_fn). */
static int fetch_plain(md_provider *p, const char *url, md_interval iv, md_bar_vec *bars,
                       md_quote *quote, md_fetch_meta *meta, md_error *err)
{
    return fetch_chart(p, url, iv, bars, quote, NULL, meta, err);
}

static int yahoo_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                       md_error *err)
{
    return md_sources__quote1((md_provider *)src, fetch_plain, CHART, symbol,
                              "?interval=1d&range=1d", NULL, out, meta, err);
}

/* How far back Yahoo keeps intraday bars (md_sources__on_grid): 1m 30 days, 2m-30m 60 days,
 * 60m 730 days (a day less each, for the request's own time). */
static int64_t yahoo_kept_from(md_interval g, int64_t now)
{
    int days = g == MD_IV_1M ? 29 : g == MD_IV_1H ? 729 : 59;
    return now - days * 86400LL;
}

static int yahoo_bars(md_source *src, const char *symbol, md_interval iv, int64_t start,
                      int64_t end, md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    const char *yiv = yahoo_interval(iv);
    int rc = md_sources__bars_ready(p, yiv != NULL, iv, err);
    if (rc) return rc;
    /* Daily stamps may lie up to a day before the trading date (Asia) and weekly/monthly
     * stamps inside their period: ask a wider range and filter after alignment. */
    int64_t p1 = start, p2 = end;
    if (md_interval_is_daily(iv)) {
        p1 = start - (iv == MD_IV_1D ? 2 : iv == MD_IV_1W ? 8 : 32) * 86400LL;
        p2 = end + 2 * 86400LL;
    }
    if (p1 < 0) p1 = 0;
    md_buf url = MD_BUF_INIT;
    md_action_vec later;
    md_action_vec_init(&later);
    int64_t now = md_now();
    if (p2 < now - 2 * 86400) {
        /* the splits after the range: Yahoo's bars are divided by them too */
        md_sources__url(&url, src, CHART, symbol, NULL, NULL);
        md_buf_printf(&url, "?interval=3mo&period1=%lld&period2=%lld&events=split", (long long)p2,
                      (long long)now);
        chart_extra lx = {.events = &later};
        rc = fetch_chart(p, url.data, MD_IV_1MO, NULL, NULL, &lx, meta, err);
        size_t w = 0; /* only splits after the range's start: the answer has the others */
        for (size_t i = 0; i < later.n; i++)
            if (later.v[i].type == MD_ACT_SPLIT && later.v[i].ex_date > p1)
                later.v[w++] = later.v[i];
        later.n = w;
        md_buf_reset(&url);
    }
    md_sources__url(&url, src, CHART, symbol, NULL, NULL);
    md_buf_printf(
        &url, "?interval=%s&period1=%lld&period2=%lld&includePrePost=false&events=div%%2Csplits",
        yiv, (long long)p1, (long long)p2);
    md_bar_vec tmp;
    md_bar_vec_init(&tmp);
    chart_extra x = {.events = NULL, .later = &later};
    if (rc >= 0) rc = fetch_chart(p, url.data, iv, &tmp, NULL, &x, meta, err);
    md_action_vec_deinit(&later);
    md_buf_deinit(&url);
    if (rc >= 0)
        rc = md_sources__on_grid(p, symbol, iv, start, end, yahoo_kept_from, &tmp, meta, err);
    if (rc >= 0) rc = md_sources__emit(&tmp, start, end, out);
    md_bar_vec_deinit(&tmp);
    return rc;
}

static int64_t yahoo_max_range(const md_source *src, md_interval iv)
{
    switch (iv) {
    case MD_IV_1M: return 7 * 86400;
    case MD_IV_5M:
    case MD_IV_15M:
    case MD_IV_30M: return 60 * 86400;
    case MD_IV_1H: return 730 * 86400;
    default: return 0;
    }
}

static int yahoo_actions(md_source *src, const char *symbol, int64_t start, int64_t end,
                         md_action_vec *out, md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    int64_t now = md_now();
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, src, CHART, symbol, NULL, NULL);
    /* every split to now: dividends are normalised with the splits after them */
    md_buf_printf(&url, "?interval=1mo&period1=%lld&period2=%lld&events=div%%2Csplits",
                  (long long)(start > 0 ? start : 0), (long long)(end > now ? end : now));
    md_action_vec ev;
    md_action_vec_init(&ev);
    chart_extra x = {.events = &ev};
    memset(&x.ref, 0, sizeof x.ref);
    int rc = fetch_chart(p, url.data, MD_IV_1MO, NULL, NULL, &x, meta, err);
    md_buf_deinit(&url);
    if (rc >= 0) {
        normalise_events(&ev, x.ref.currency);
        rc = md_sources__emit_actions(&ev, symbol, start, end, out);
        if (ref) *ref = x.ref;
    }
    md_action_vec_deinit(&ev);
    return rc;
}

MD_SOURCES_PROVIDER(yahoo, YAHOO, .quote = yahoo_quote, .bars = yahoo_bars,
                    .max_range_s = yahoo_max_range, .actions = yahoo_actions);
