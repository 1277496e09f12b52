/* Alpha Vantage client: the parser on the fixture files (US/Eastern wall-clock keys to
 * UTC across the DST change, newest-first objects reordered, daily/weekly/monthly keys
 * to buckets, the HTTP-200 errors Note/Information/Error Message) and the client over
 * HTTP (month requests, missing key, rate limits, timeout, the key never shown). */
#include "sourcetest.h"

#define KEY "test-alphavantage-key-0042"

static int series(const char *file, md_interval iv, md_bar_vec *out, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = md_alphavantage_parse_series(body, len, iv, out, err);
    free(body);
    return rc;
}

static int quote(const char *file, md_quote *q, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = md_alphavantage_parse_quote(body, len, q, err);
    free(body);
    return rc;
}

Test(alphavantage_parse, intraday_eastern_wall_clock_to_utc_across_dst)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(series("alphavantage/TIME_SERIES_INTRADAY_IBM_5min.json", MD_IV_5M, &bv, &err), 4,
                 "%s", err.msg);
    /* newest first in the file; EST (UTC-5) on Mar 8, EDT (UTC-4) from Mar 10 */
    CHECK_BAR(&bv.v[0], "2024-03-08T20:50:00Z", 195.77, 195.98, 195.73, 195.93, 88120);
    CHECK_BAR(&bv.v[1], "2024-03-08T20:55:00Z", 195.94, 196.00, 195.82, 195.95, 310244);
    CHECK_BAR(&bv.v[2], "2024-03-11T13:30:00Z", 195.09, 195.60, 194.70, 195.08, 245873);
    CHECK_BAR(&bv.v[3], "2024-03-11T13:35:00Z", 195.09, 195.44, 194.81, 195.21, 98012);
    for (size_t i = 0; i < bv.n; i++) cr_expect_eq(bv.v[i].source, MD_SRC_ALPHAVANTAGE);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(series("alphavantage/TIME_SERIES_INTRADAY_IBM_60min.json", MD_IV_1H, &bv, &err),
                 2);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:00:00Z", 195.30, 196.00, 195.10, 195.95, 1210433);
    CHECK_BAR(&bv.v[1], "2024-03-09T00:00:00Z", 195.95, 196.05, 195.90, 196.00, 1520);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_parse, daily_weekly_monthly_keys_to_buckets)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(series("alphavantage/TIME_SERIES_DAILY_IBM.json", MD_IV_1D, &bv, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-06", 193.50, 198.13, 192.96, 197.68, 6001227);
    CHECK_BAR(&bv.v[1], "2024-03-07", 197.58, 198.73, 196.14, 196.54, 4604405);
    CHECK_BAR(&bv.v[2], "2024-03-08", 196.06, 197.77, 194.38, 195.95, 3943159);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    /* weekly keys are the week's last trading day (Friday): the bucket is its Monday */
    cr_assert_eq(series("alphavantage/TIME_SERIES_WEEKLY_IBM.json", MD_IV_1W, &bv, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-19", 187.64, 188.95, 181.68, 185.72, 17820377);
    CHECK_BAR(&bv.v[1], "2024-02-26", 187.76, 188.41, 183.61, 185.03, 18945238);
    CHECK_BAR(&bv.v[2], "2024-03-04", 185.49, 198.73, 185.18, 195.95, 27553547);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(series("alphavantage/TIME_SERIES_MONTHLY_IBM.json", MD_IV_1MO, &bv, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-01-01", 162.83, 196.90, 157.885, 183.66, 128121557);
    CHECK_BAR(&bv.v[1], "2024-02-01", 187.51, 188.95, 180.49, 185.03, 84012319);
    CHECK_BAR(&bv.v[2], "2024-03-01", 185.49, 198.73, 185.18, 195.95, 27553547);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_parse, global_quote)
{
    md_quote q;
    md_error err;
    cr_assert_eq(quote("alphavantage/GLOBAL_QUOTE_IBM.json", &q, &err), 0, "%s", err.msg);
    cr_expect(q.price == 195.95, "%.17g", q.price);
    cr_expect(q.volume == 3943159);
    cr_expect_eq(q.ts, T("2024-03-08T21:00:00Z"), "stamped at the close, 16:00 New York");
    cr_expect_str_eq(q.symbol, "IBM");
    cr_expect_eq(q.source, MD_SRC_ALPHAVANTAGE);
    cr_expect_eq(quote("alphavantage/global_quote_empty.json", &q, &err), MD_ENOTFOUND);
}

Test(alphavantage_parse, http_200_errors_map_to_the_vocabulary)
{
    static const struct {
        const char *file;
        int rc;
    } cases[] = {
        {"alphavantage/error_message.json", MD_ENOTFOUND},
        {"alphavantage/error_apikey.json", MD_EUNAUTHSRC},
        {"alphavantage/note.json", MD_ERATELIMIT},
        {"alphavantage/information_ratelimit.json", MD_ERATELIMIT},
        {"alphavantage/information_burst.json", MD_ERATELIMIT},
        {"alphavantage/information_premium.json", MD_EUNAUTHSRC},
        {"alphavantage/TIME_SERIES_DAILY_WRONGTYPE.json", MD_EMALFORMED},
        {"alphavantage/TIME_SERIES_DAILY_BADKEY.json", MD_EMALFORMED},
        {"alphavantage/GLOBAL_QUOTE_IBM.json", MD_EMALFORMED}, /* no time series in it */
    };
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        int rc = series(cases[i].file, MD_IV_1D, &bv, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].file, md_error_name(rc), err.msg);
        cr_expect_eq(bv.n, 0);
    }
    md_quote q;
    md_error err;
    cr_expect_eq(quote("alphavantage/note.json", &q, &err), MD_ERATELIMIT);
    cr_expect_eq(quote("alphavantage/information_premium.json", &q, &err), MD_EUNAUTHSRC);
    /* intraday keys on a daily request (and the reverse) are not the format */
    cr_expect_eq(series("alphavantage/TIME_SERIES_INTRADAY_IBM_5min.json", MD_IV_1D, &bv, &err),
                 MD_EMALFORMED);
    cr_expect_eq(series("alphavantage/TIME_SERIES_DAILY_IBM.json", MD_IV_5M, &bv, &err),
                 MD_EMALFORMED);
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_parse, every_truncation_is_malformed)
{
    size_t len;
    char *body = md_fake_read("alphavantage/TIME_SERIES_INTRADAY_IBM_5min.json", &len);
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t cut = 0; cut + 2 < len; cut++) {
        md_error err;
        cr_assert_eq(md_alphavantage_parse_series(body, cut, MD_IV_5M, &bv, &err), MD_EMALFORMED,
                     "cut %zu", cut);
    }
    cr_assert_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
    free(body);
}

/* -- client over HTTP --------------------------------------------------------------------- */

static md_fake fake;
static md_config cfg;
static md_source *src;

static void setup(void)
{
    md_fake_start(&fake, 1500);
    md_fake_config(&fake, &cfg, 400);
    src = mk("alphavantage", &cfg);
}

static void teardown(void)
{
    md_source_free(src);
    md_config_deinit(&cfg);
    md_fake_stop(&fake);
}

TestSuite(alphavantage_http, .init = setup, .fini = teardown, .timeout = 60);

Test(alphavantage_http, daily_bars_in_range)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    int n =
        md_source_bars(src, "IBM", MD_IV_1D, T("2024-03-06"), T("2024-03-08"), &bv, &meta, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-06", 193.50, 198.13, 192.96, 197.68, 6001227);
    CHECK_BAR(&bv.v[1], "2024-03-07", 197.58, 198.73, 196.14, 196.54, 4604405);
    cr_expect(fake_saw(&fake, "function=TIME_SERIES_DAILY&symbol=IBM&outputsize=full&apikey=" KEY));
    cr_expect_eq(meta.requests, 1);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_http, full_daily_history_refused_as_premium_falls_back_to_compact)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    /* a free key: "The **outputsize=full** parameter value is a premium feature" */
    size_t len;
    char *body = md_fake_read("alphavantage/information_premium_outputsize.json", &len);
    cr_expect_eq(md_alphavantage_parse_series(body, len, MD_IV_1D, &bv, &err), MD_EUNAUTHSRC, "%s",
                 err.msg);
    free(body);
    int n = md_source_bars(src, "COMPACTONLY", MD_IV_1D, T("2024-03-06"), T("2024-03-08"), &bv,
                           &meta, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-06", 193.50, 198.13, 192.96, 197.68, 6001227);
    CHECK_BAR(&bv.v[1], "2024-03-07", 197.58, 198.73, 196.14, 196.54, 4604405);
    cr_expect_eq(meta.requests, 2);
    cr_expect(fake_saw(&fake, "symbol=COMPACTONLY&outputsize=full&apikey="));
    cr_expect(fake_saw(&fake, "symbol=COMPACTONLY&outputsize=compact&apikey="));
    /* a premium-only endpoint is still a refusal (no retry loop) */
    cr_expect_eq(md_source_bars(src, "PREMIUM", MD_IV_1D, T("2020-03-06"), T("2020-03-08"), &bv,
                                &meta, &err),
                 MD_EUNAUTHSRC);
    cr_expect_eq(meta.requests, 1);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_http, intraday_history_one_request_per_month)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    int n =
        md_source_bars(src, "IBM", MD_IV_5M, T("2024-02-28"), T("2024-03-12"), &bv, &meta, &err);
    cr_assert_eq(n, 4, "rc %d: %s", n, err.msg);
    cr_expect_eq(meta.requests, 2);
    cr_expect(
        fake_saw(&fake, "interval=5min&outputsize=full&adjusted=false&month=2024-02&apikey="));
    cr_expect(
        fake_saw(&fake, "interval=5min&outputsize=full&adjusted=false&month=2024-03&apikey="));
    CHECK_BAR(&bv.v[2], "2024-03-11T13:30:00Z", 195.09, 195.60, 194.70, 195.08, 245873);
    n = md_source_bars(src, "IBM", MD_IV_1H, T("2024-03-08"), T("2024-03-09"), &bv, &meta, &err);
    cr_assert_eq(n, 1, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "interval=60min"));
    cr_expect_eq(src->vt->supports(src, MD_IV_4H), 0);
    cr_expect_eq(md_source_bars(src, "IBM", MD_IV_4H, 0, 86400, &bv, NULL, &err), MD_EINTERVAL);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_http, quote)
{
    md_quote q;
    md_error err;
    cr_assert_eq(md_source_quote(src, "IBM", &q, NULL, &err), 0, "%s", err.msg);
    cr_expect(q.price == 195.95);
    cr_expect_str_eq(q.symbol, "IBM");
    cr_expect(fake_saw(&fake, "function=GLOBAL_QUOTE&symbol=IBM&apikey=" KEY));
    cr_expect_eq(md_source_quote(src, "ZZZZ", &q, NULL, &err), MD_ENOTFOUND, "%s", err.msg);
}

Test(alphavantage_http, errors_in_200_answers)
{
    static const struct {
        const char *sym;
        int rc;
    } cases[] = {{"NOTE", MD_ERATELIMIT}, {"INFO", MD_ERATELIMIT},      {"PREMIUM", MD_EUNAUTHSRC},
                 {"ZZZZ", MD_ENOTFOUND},  {"RATELIMIT", MD_ERATELIMIT}, {"TRUNC", MD_EMALFORMED},
                 {"HTML", MD_EMALFORMED}, {"RESET", MD_ETRANSIENT},     {"E503", MD_ETRANSIENT},
                 {"SLOW", MD_ETIMEOUT},   {"BURST", MD_ERATELIMIT}};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        md_fetch_meta meta;
        int rc = md_source_bars(src, cases[i].sym, MD_IV_1D, T("2024-03-01"), T("2024-03-09"), &bv,
                                &meta, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].sym, md_error_name(rc), err.msg);
        if (strcmp(cases[i].sym, "RATELIMIT") == 0) cr_expect_eq(meta.retry_after_s, 7);
        /* "5 calls per minute" without Retry-After: the next minute is the hint */
        if (strcmp(cases[i].sym, "NOTE") == 0) cr_expect_eq(meta.retry_after_s, 60);
        if (strcmp(cases[i].sym, "INFO") == 0)
            cr_expect_eq(meta.retry_after_s, -1, "a daily quota");
        /* only the daily notice pauses the source until its day resets; the burst notice
         * ("1 request per second"), which names the daily limit too, is a second's wait */
        cr_expect_eq(meta.day_exhausted, strcmp(cases[i].sym, "INFO") == 0, "%s", cases[i].sym);
        if (strcmp(cases[i].sym, "BURST") == 0) cr_expect_eq(meta.retry_after_s, 1);
    }
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(alphavantage_http, missing_key_is_unconfigured_without_a_request)
{
    md_config c2;
    md_fake_config(&fake, &c2, 400);
    md_free(c2.alphavantage_api_key);
    c2.alphavantage_api_key = md_strdup("");
    md_source *s2 = mk("alphavantage", &c2);
    cr_expect_eq(md_source_configured(s2), 0);
    cr_expect_eq(md_source_configured(src), 1);
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(md_source_quote(s2, "IBM", &q, &meta, &err), MD_EUNAUTHSRC);
    cr_expect(strstr(err.msg, "set ALPHA_VANTAGE_API_KEY"), "%s", err.msg);
    cr_expect_eq(meta.requests, 0);
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    cr_expect_eq(md_source_bars(s2, "IBM", MD_IV_1D, 0, 86400, &bv, &meta, &err), MD_EUNAUTHSRC);
    md_bar_vec_deinit(&bv);
    md_source_free(s2);
    /* a key the provider refuses */
    md_fake_set_secret(&c2.alphavantage_api_key, "invalid-av-key-77");
    s2 = mk("alphavantage", &c2);
    cr_expect_eq(md_source_quote(s2, "IBM", &q, &meta, &err), MD_EUNAUTHSRC, "%s", err.msg);
    md_source_free(s2);
    md_config_deinit(&c2);
}

Test(alphavantage_http, key_never_in_logs_or_errors)
{
    md_log_capture cap;
    md_log_capture_start(&cap);
    static const char *syms[] = {"IBM", "INFO", "NOTE", "ZZZZ", "SLOW", "RESET", "HTML"};
    char msgs[2048] = "";
    for (size_t i = 0; i < MD_ARRAY_LEN(syms); i++) {
        md_quote q;
        md_bar_vec bv;
        md_bar_vec_init(&bv);
        md_error err;
        md_error_clear(&err);
        if (md_source_quote(src, syms[i], &q, NULL, &err) != 0)
            strncat(msgs, err.msg, sizeof msgs - strlen(msgs) - 1);
        md_error_clear(&err);
        if (md_source_bars(src, syms[i], MD_IV_5M, T("2024-03-08"), T("2024-03-12"), &bv, NULL,
                           &err) < 0)
            strncat(msgs, err.msg, sizeof msgs - strlen(msgs) - 1);
        md_bar_vec_deinit(&bv);
    }
    md_log_capture_stop(&cap);
    cr_expect(strstr(cap.text, KEY) == NULL, "key in the log:\n%s", cap.text);
    cr_expect(strstr(msgs, KEY) == NULL, "key in an error: %s", msgs);
    cr_expect(strstr(cap.text, "apikey=***"), "URLs are logged, redacted:\n%s", cap.text);
    /* the INFO answer quotes the key back: the message shows *** instead */
    cr_expect(strstr(msgs, "API key as ***"), "%s", msgs);
    free(cap.text);
}
