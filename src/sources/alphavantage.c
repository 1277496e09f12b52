/* alphavantage.c - Alpha Vantage (key: ALPHA_VANTAGE_API_KEY).
 *
 *   GET {base}/query?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min
 *                    &outputsize=full&adjusted=false[&month=YYYY-MM]&apikey=K
 *       {base}/query?function=TIME_SERIES_DAILY|WEEKLY|MONTHLY&symbol=IBM[&outputsize=..]
 *       {base}/query?function=GLOBAL_QUOTE&symbol=IBM
 *   {"Meta Data":{"1. Information":..,"2. Symbol":"IBM",..,"6. Time Zone":"US/Eastern"},
 *    "Time Series (5min)":{"2024-01-05 19:55:00":{"1. open":"159.1100","2. high":..,
 *      "3. low":..,"4. close":..,"5. volume":"15"},...}}        (newest first)
 *
 * Intraday bars are asked raw (adjusted=false: the documented default adjusts them for splits
 * and dividends); the store keeps bars as traded and adjusts on read (store/actions).
 *
 * Every answer is HTTP 200, errors included: {"Error Message": ...} (invalid symbol or
 * call; a missing key), {"Note": ...} / {"Information": ...} (call frequency, daily
 * quota, premium-only features). Intraday keys are wall-clock times of Meta Data's
 * "Time Zone" (US/Eastern, DST included) and become UTC; daily keys are trading dates
 * (00:00 UTC of that date); weekly and monthly keys are the last trading day of the
 * period and go to its Monday / 1st. Intervals: 1m 5m 15m 30m 1h(60min) 1d 1w 1mo.
 * Intraday history comes one calendar month per request (month=YYYY-MM). outputsize=full
 * of TIME_SERIES_DAILY is premium-only for free keys (an "Information" refusal that names
 * outputsize): the request is then repeated with outputsize=compact (the latest 100), a
 * second request that takes its own token. An intraday range across months reserves one
 * request per month before the first is sent, or sends none. The notice that the key's
 * daily requests are used up ("... 25 requests per day") sets meta->day_exhausted: the
 * manager pauses the source until the provider's day resets (sources.alphavantage.day_zone),
 * not for a minute. The burst notice ("... more sparingly (1 request per second) ...", which
 * names the daily limit too) is not that one: the source is asked again after a second.
 *
 * Corporate actions (free keys included; "None" where a date is unknown):
 *   GET {base}/query?function=SPLITS&symbol=IBM&apikey=K
 *       {"symbol":"IBM","data":[{"effective_date":"2021-11-04","split_factor":"1.0460"},..]}
 *       split_factor is new shares per old one as a decimal: "4.0000" is 4/1, "0.1000" a
 *       1-for-10 reverse split, read as the smallest fraction (1.0460: 523/500)
 *   GET {base}/query?function=DIVIDENDS&symbol=IBM&apikey=K
 *       {"symbol":"IBM","data":[{"ex_dividend_date":"2024-11-12","declaration_date":..,
 *         "record_date":..,"payment_date":"2024-12-10","amount":"1.67"},..]}
 *       amounts as paid; no currency is said (recorded as unknown). */
#include "sources/providers.h"
#include "sources/sources_int.h"

#include "core/buf.h"
#include "core/timefmt.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define NAME "alphavantage"
#define KEY_PARAM "&apikey="

static const char *av_interval(md_interval iv)
{
    static const char *names[MD_IV_COUNT] = {"1min", "5min", "15min", "30min", "60min",
                                             NULL,   "",     "",      ""};
    return (unsigned)iv < MD_IV_COUNT ? names[iv] : NULL;
}

static int contains(const char *s, const char *word)
{
    return s && strcasestr(s, word) != NULL;
}

/* The errors Alpha Vantage sends with HTTP 200. Returns 0 when root holds none. */
static int av_error(const json_t *root, md_error *err)
{
    const char *em = json_string_value(json_object_get(root, "Error Message"));
    const char *note = json_string_value(json_object_get(root, "Note"));
    const char *info = json_string_value(json_object_get(root, "Information"));
    const char *text = em ? em : note ? note : info;
    if (!text) return 0;
    char d[200];
    md_sources__excerpt(text, strlen(text), d, sizeof d);
    if (contains(text, "rate limit") || contains(text, "call frequency") ||
        contains(text, "requests per") || contains(text, "calls per") ||
        contains(text, "sparingly"))
        return md_error_set(err, MD_ERATELIMIT, NAME ": rate limited: %s", d);
    if (contains(text, "premium") || contains(text, "apikey") || contains(text, "api key") ||
        contains(text, "demo"))
        return md_error_set(err, MD_EUNAUTHSRC, NAME ": refused: %s", d);
    if (em) return md_error_set(err, MD_ENOTFOUND, NAME ": %s", d);
    /* An unclassified Note/Information is how Alpha Vantage throttles. */
    return md_error_set(err, MD_ERATELIMIT, NAME ": %s", d);
}

/* Value of the field whose name is "N. <name>" (or just <name>). */
static const json_t *field(const json_t *obj, const char *name)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const char *p = k;
        while (isdigit((unsigned char)*p)) p++;
        if (p != k && *p == '.') p++;
        while (*p == ' ') p++;
        if (strcmp(p, name) == 0) return v;
    }
    return NULL;
}

static int parse_series_root(const json_t *root, md_interval iv, md_bar_vec *out, md_error *err)
{
    int rc = av_error(root, err);
    if (rc) return rc;
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    const json_t *series = NULL;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)root, k, v)
    {
        if (strstr(k, "Time Series") && json_is_object(v)) series = v;
    }
    if (!series)
        return md_error_set(err, MD_EMALFORMED,
                            NAME ": malformed response: no \"Time Series\" object");
    const char *zone = json_string_value(field(json_object_get(root, "Meta Data"), "Time Zone"));
    if (!zone) zone = "US/Eastern";
    int daily = md_interval_is_daily(iv);

    md_bar_vec tmp;
    md_bar_vec_init(&tmp);
    static const char *names[5] = {"open", "high", "low", "close", "volume"};
    json_object_foreach((json_t *)series, k, v)
    {
        md_error terr;
        int64_t t;
        size_t klen = strlen(k);
        if ((daily ? klen != 10 : klen != 19) || md_time_parse(k, klen, &t, &terr) != 0) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: bad time key '%.30s'", k);
        }
        double x[5];
        for (int i = 0; i < 5; i++) {
            if (md_sources__num(field(v, names[i]), &x[i]) != 0) {
                md_bar_vec_deinit(&tmp);
                return md_error_set(err, MD_EMALFORMED,
                                    NAME
                                    ": malformed response: %s of %.30s is missing or not a number",
                                    names[i], k);
            }
        }
        md_bar b = md_sources__bar(MD_SRC_ALPHAVANTAGE);
        b.open = x[0], b.high = x[1], b.low = x[2], b.close = x[3], b.volume = x[4];
        if (daily) {
            b.ts = md_sources__day_bucket(t, iv);
        } else if (md_sources__tz_local_to_utc(zone, t, &b.ts) != 0) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED, NAME ": unknown time zone '%.40s'", zone);
        }
        if (!md_sources__bar_sane(&b)) {
            md_bar_vec_deinit(&tmp);
            return md_error_set(err, MD_EMALFORMED,
                                NAME ": malformed response: bar %.30s out of range", k);
        }
        md_bar_vec_push(&tmp, &b);
    }
    return md_sources__emit_all(&tmp, out);
}

int md_alphavantage_parse_series(const char *body, size_t len, md_interval iv, md_bar_vec *out,
                                 md_error *err)
{
    return md_sources__parse_bars(NAME, parse_series_root, body, len, iv, out, err);
}

static int parse_quote_root(const json_t *root, md_quote *out, md_error *err)
{
    int rc = av_error(root, err);
    if (rc) return rc;
    const json_t *gq = json_object_get(root, "Global Quote");
    if (!json_is_object(gq))
        return md_error_set(err, MD_EMALFORMED,
                            NAME ": malformed response: no \"Global Quote\" object");
    if (json_object_size(gq) == 0)
        return md_error_set(err, MD_ENOTFOUND, NAME ": no quote for this symbol");
    double price, vol;
    if (md_sources__num(field(gq, "price"), &price) != 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no price");
    const char *day = json_string_value(field(gq, "latest trading day"));
    int64_t t;
    md_error terr;
    if (!day || strlen(day) != 10 || md_time_parse(day, 10, &t, &terr) != 0)
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: no latest trading day");
    /* Only the day is given: the price is as of that day's close, or now during the day. */
    int64_t close_utc;
    if (md_sources__tz_local_to_utc("America/New_York", t + 16 * 3600, &close_utc) != 0)
        close_utc = t + 21 * 3600;
    int64_t now = md_now();
    md_quote q;
    md_quote_init(&q);
    const char *sym = json_string_value(field(gq, "symbol"));
    if (sym) snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    q.price = price;
    q.ts = close_utc < now ? close_utc : now;
    if (md_sources__num(field(gq, "volume"), &vol) == 0 && vol >= 0) q.volume = vol;
    q.source = MD_SRC_ALPHAVANTAGE;
    *out = q;
    return 0;
}

int md_alphavantage_parse_quote(const char *body, size_t len, md_quote *out, md_error *err)
{
    return md_sources__parse_quote(NAME, parse_quote_root, body, len, out, err);
}

/* 1 when root is the notice that the key's daily requests are used up ("... rate limit is
 * 25 requests per day ..."), not the older per-minute one ("5 calls per minute and 500
 * calls per day") nor the burst one, which names the daily limit too ("... spreading out
 * your free API requests more sparingly (1 request per second) ... lift the free key rate
 * limit (25 requests per day), raise the per-second burst limit ..."). */
static int burst_notice(const char *t)
{
    return contains(t, "per second") || contains(t, "sparingly");
}

static int day_notice(const json_t *root)
{
    const char *t = json_string_value(json_object_get(root, "Information"));
    if (!t) t = json_string_value(json_object_get(root, "Note"));
    return t && contains(t, "per day") && !contains(t, "per minute") && !burst_notice(t);
}

/* What a rate-limit notice tells the manager: the daily requests are spent (pause until the
 * provider's day resets), or the per-second burst limit was hit (ask again in a second). */
static void limit_notice(int rc, const json_t *root, md_fetch_meta *meta)
{
    if (rc != MD_ERATELIMIT || !meta) return;
    const char *t = json_string_value(json_object_get(root, "Information"));
    if (!t) t = json_string_value(json_object_get(root, "Note"));
    if (day_notice(root))
        meta->day_exhausted = 1;
    else if (burst_notice(t) && meta->retry_after_s < 0)
        meta->retry_after_s = 1;
}

/* One request: bars or a quote out of a 2xx JSON body (every answer of Alpha Vantage's,
 * its refusals included, is one). */
static int av_fetch(md_provider *p, const char *url, md_interval iv, md_bar_vec *bars, md_quote *q,
                    md_fetch_meta *meta, md_error *err)
{
    json_t *root;
    int rc = md_sources__get_json(p, url, NULL, NULL, &root, NULL, meta, err);
    if (rc == 0)
        rc = bars ? parse_series_root(root, iv, bars, err) : parse_quote_root(root, q, err);
    limit_notice(rc, root, meta);
    json_decref(root);
    return rc;
}

static void url_start(md_buf *url, const md_source *src, const char *function, const char *symbol)
{
    md_buf_printf(url, "%s/query?function=%s&symbol=", src->base_url, function);
    md_sources__esc(url, symbol);
}

static int av_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    return md_sources__quote1((md_provider *)src, av_fetch,
                              "/query?function=GLOBAL_QUOTE&symbol=", symbol, NULL, KEY_PARAM, out,
                              meta, err);
}

#define MAX_MONTHS 240

static int av_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_provider *p = (md_provider *)src;
    const char *aiv = av_interval(iv);
    int rc = md_sources__bars_ready(p, aiv != NULL, iv, err);
    if (rc) return rc;
    int64_t now = md_now();
    md_bar_vec tmp;
    md_bar_vec_init(&tmp);
    md_buf url = MD_BUF_INIT;
    if (md_interval_is_daily(iv)) {
        static const char *fn[] = {"TIME_SERIES_DAILY", "TIME_SERIES_WEEKLY",
                                   "TIME_SERIES_MONTHLY"};
        url_start(&url, src, fn[iv - MD_IV_1D], symbol);
        /* compact = the latest 100 trading days (about 140 calendar days). */
        int full = iv == MD_IV_1D && start < now - 140 * 86400LL;
        if (iv == MD_IV_1D) md_buf_puts(&url, full ? "&outputsize=full" : "&outputsize=compact");
        md_sources__put_key(&url, src, KEY_PARAM);
        md_error ferr;
        rc = av_fetch(p, url.data, iv, &tmp, NULL, meta, &ferr);
        if (full && rc == MD_EUNAUTHSRC && strcasestr(ferr.msg, "outputsize")) {
            /* "The outputsize=full parameter value is a premium feature": a free key gets
             * the latest 100 days, which is what the range holds, if anything. */
            md_buf_reset(&url);
            url_start(&url, src, fn[0], symbol);
            md_buf_puts(&url, "&outputsize=compact");
            md_sources__put_key(&url, src, KEY_PARAM);
            rc = av_fetch(p, url.data, iv, &tmp, NULL, meta, &ferr);
        }
        if (rc < 0) md_error_set(err, rc, "%s", ferr.msg);
    } else if (start >= now - 29 * 86400LL) {
        /* The trailing 30 days come without a month. */
        url_start(&url, src, "TIME_SERIES_INTRADAY", symbol);
        md_buf_printf(&url, "&interval=%s&outputsize=full&adjusted=false", aiv);
        md_sources__put_key(&url, src, KEY_PARAM);
        rc = av_fetch(p, url.data, iv, &tmp, NULL, meta, err);
    } else {
        int64_t y, ye;
        unsigned m, me, d;
        md_civil_from_days((start >= 0 ? start : 0) / 86400, &y, &m, &d);
        md_civil_from_days((end - 1 > start ? end - 1 : start) / 86400, &ye, &me, &d);
        int months = (int)((ye - y) * 12 + (int)me - (int)m + 1);
        if (months > MAX_MONTHS)
            rc = md_error_set(err, MD_EINVAL, NAME ": range of %d months is too long (max %d)",
                              months, MAX_MONTHS);
        else /* one request per month: all of them reserved before the first goes out */
            rc = md_sources__reserve(p, meta, months, "an intraday range across months", err);
        for (int i = 0; i < months && rc >= 0; i++) {
            md_buf_reset(&url);
            url_start(&url, src, "TIME_SERIES_INTRADAY", symbol);
            md_buf_printf(&url, "&interval=%s&outputsize=full&adjusted=false&month=%04lld-%02u",
                          aiv, (long long)y, m);
            md_sources__put_key(&url, src, KEY_PARAM);
            rc = av_fetch(p, url.data, iv, &tmp, NULL, meta, err);
            if (++m > 12) m = 1, y++;
        }
    }
    md_buf_deinit(&url);
    if (rc >= 0) rc = md_sources__on_grid(p, symbol, iv, start, end, NULL, &tmp, meta, err);
    if (rc >= 0) rc = md_sources__emit(&tmp, start, end, out);
    md_bar_vec_deinit(&tmp);
    return rc;
}

static int64_t av_max_range(const md_source *src, md_interval iv)
{
    return md_interval_is_daily(iv) ? 0 : 31 * 86400;
}

/* -- corporate actions --------------------------------------------------------------------- */

/* SPLITS and DIVIDENDS (sources_int.h md_sources__act_form) */
static const md_sources__act_form act_forms[2] = {
    {MD_ACT_SPLIT, "data", "effective_date", "split_factor", NULL, NULL, NULL, NULL},
    {MD_ACT_DIVIDEND, "data", "ex_dividend_date", NULL, NULL, "amount", NULL, "payment_date"},
};

static int parse_actions_root(const json_t *root, long status, int dividends, md_action_vec *out,
                              md_source_ref *ref, md_error *err)
{
    (void)status, (void)ref; /* every answer is a 200; they say nothing of the symbol */
    int rc = av_error(root, err);
    if (rc) return rc;
    if (!json_is_object(root))
        return md_error_set(err, MD_EMALFORMED, NAME ": malformed response: not an object");
    return md_sources__read_actions(NAME, MD_SRC_ALPHAVANTAGE, &act_forms[dividends], root, NULL,
                                    out, err);
}

MD_SOURCES_ACTIONS_PARSER(md_alphavantage_parse_actions, NAME, parse_actions_root)

static int av_act_fetch(md_provider *p, int kind, const char *symbol, md_action_vec *out,
                        md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    if (kind == MD_SOURCES_ACT_PROFILE) return 0; /* no reference profile asked (no exchange) */
    md_buf url = MD_BUF_INIT;
    url_start(&url, &p->base, kind ? "DIVIDENDS" : "SPLITS", symbol);
    md_sources__put_key(&url, &p->base, KEY_PARAM);
    json_t *root;
    int rc = md_sources__get_json(p, url.data, NULL, NULL, &root, NULL, meta, err);
    md_buf_deinit(&url);
    if (rc == 0) rc = parse_actions_root(root, 200, kind, out, ref, err);
    /* the daily notice pauses the source until its day resets, as for bars */
    limit_notice(rc, root, meta);
    json_decref(root);
    return rc;
}

MD_SOURCES_ACTIONS2(av_actions, av_act_fetch)

MD_SOURCES_PROVIDER(alphavantage, ALPHAVANTAGE, .quote = av_quote, .bars = av_bars,
                    .max_range_s = av_max_range, .actions = av_actions);
