/* Twelve Data client: /time_series parser (newest first, string numbers, intraday
 * datetimes in meta.exchange_timezone converted to UTC across DST, dates for daily and
 * coarser, forex without volume), /quote, the HTTP-200 error bodies, and the client over
 * HTTP (interval names, default timezone with a widened window, escaped symbols, errors,
 * timeout, key never shown). */
#include "sourcetest.h"

#define KEY "test-twelvedata-key-0042"

static int series(const char *file, md_interval iv, md_bar_vec *out, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = md_twelvedata_parse_series(body, len, iv, out, err);
    free(body);
    return rc;
}

Test(twelvedata_parse, daily_newest_first_reordered)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(series("twelvedata/time_series_AAPL_1day.json", MD_IV_1D, &bv, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-06", 171.06, 171.24001, 168.67999, 169.12, 68587707);
    CHECK_BAR(&bv.v[1], "2024-03-07", 169.14999, 170.73, 168.49001, 169.00, 71765061);
    CHECK_BAR(&bv.v[2], "2024-03-08", 169.00, 173.70, 168.94, 170.73, 76267041);
    cr_expect_eq(bv.v[0].source, MD_SRC_TWELVEDATA);
    md_bar_vec_deinit(&bv);
}

Test(twelvedata_parse, intraday_weekly_monthly_and_forex)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(series("twelvedata/time_series_AAPL_5min.json", MD_IV_5M, &bv, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:45:00Z", 170.39999, 170.58, 170.38, 170.55, 455120);
    CHECK_BAR(&bv.v[1], "2024-03-08T20:50:00Z", 170.55, 170.71001, 170.50, 170.66, 701233);
    CHECK_BAR(&bv.v[2], "2024-03-08T20:55:00Z", 170.66, 170.80, 170.60001, 170.73, 2123456);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(series("twelvedata/time_series_AAPL_1week.json", MD_IV_1W, &bv, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-26", 182.24001, 183.92, 177.38, 179.66, 291453800);
    CHECK_BAR(&bv.v[1], "2024-03-04", 176.14999, 176.89999, 168.49001, 170.73, 393109900);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(series("twelvedata/time_series_AAPL_1month.json", MD_IV_1MO, &bv, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-01", 183.99001, 191.05, 179.25, 180.75, 1161627000);
    CHECK_BAR(&bv.v[1], "2024-03-01", 179.55, 180.53, 168.49001, 170.73, 486005500);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    /* forex has no volume field: volume 0 */
    cr_assert_eq(series("twelvedata/time_series_EUR_USD_1h.json", MD_IV_1H, &bv, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:00:00Z", 1.0941, 1.0945, 1.0937, 1.0938, 0);
    CHECK_BAR(&bv.v[1], "2024-03-08T21:00:00Z", 1.0938, 1.0942, 1.0935, 1.094, 0);
    md_bar_vec_deinit(&bv);
}

Test(twelvedata_parse, intraday_exchange_local_times_become_utc_across_dst)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    /* New York: 15:30 EST on Friday, 09:30 and 10:30 EDT after the switch on 2024-03-10;
     * one value has plain JSON numbers instead of strings. */
    cr_assert_eq(series("twelvedata/time_series_AAPL_1h.json", MD_IV_1H, &bv, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:30:00Z", 170.36, 170.9, 170.25999, 170.73, 7654321);
    CHECK_BAR(&bv.v[1], "2024-03-11T13:30:00Z", 172.94, 174.38, 172.05, 172.51, 9834567);
    CHECK_BAR(&bv.v[2], "2024-03-11T14:30:00Z", 172.5, 173.10001, 172.2, 172.94, 5012345);
    md_bar_vec_deinit(&bv);
    /* crypto: no exchange_timezone in meta means UTC; fractional volume kept */
    md_bar_vec_init(&bv);
    cr_assert_eq(series("twelvedata/time_series_BTC_USD_1min.json", MD_IV_1M, &bv, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-10T07:00:00Z", 68930, 68960, 68910, 68950.01, 12.00809);
    CHECK_BAR(&bv.v[1], "2024-03-10T07:01:00Z", 68950.01, 68990, 68940.5, 68985.12, 3.51244);
    md_bar_vec_deinit(&bv);
    /* an unknown zone name or a date-only value for an intraday interval is malformed */
    static const char bad_zone[] =
        "{\"meta\":{\"exchange_timezone\":\"Mars/Olympus\"},\"values\":"
        "[{\"datetime\":\"2024-03-08 15:30:00\",\"open\":\"1\",\"high\":\"1\","
        "\"low\":\"1\",\"close\":\"1\"}],\"status\":\"ok\"}";
    static const char date_only[] = "{\"meta\":{\"exchange_timezone\":\"UTC\"},\"values\":"
                                    "[{\"datetime\":\"2024-03-08\",\"open\":\"1\",\"high\":\"1\","
                                    "\"low\":\"1\",\"close\":\"1\"}],\"status\":\"ok\"}";
    md_bar_vec_init(&bv);
    cr_expect_eq(md_twelvedata_parse_series(bad_zone, strlen(bad_zone), MD_IV_1H, &bv, &err),
                 MD_EMALFORMED);
    cr_expect_eq(md_twelvedata_parse_series(date_only, strlen(date_only), MD_IV_1H, &bv, &err),
                 MD_EMALFORMED);
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(twelvedata_parse, error_bodies_map_to_the_vocabulary)
{
    static const struct {
        const char *file;
        int rc;
    } cases[] = {{"twelvedata/error_not_found.json", MD_ENOTFOUND},
                 {"twelvedata/error_apikey.json", MD_EUNAUTHSRC},
                 {"twelvedata/error_ratelimit.json", MD_ERATELIMIT},
                 {"twelvedata/error_forbidden.json", MD_EUNAUTHSRC},
                 {"twelvedata/error_no_data.json", 0},
                 {"twelvedata/time_series_WRONGTYPE_1day.json", MD_EMALFORMED},
                 {"twelvedata/time_series_BADDATE_1day.json", MD_EMALFORMED},
                 {"twelvedata/quote_AAPL.json", MD_EMALFORMED}};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        int rc = series(cases[i].file, MD_IV_1D, &bv, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].file, md_error_name(rc), err.msg);
    }
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(twelvedata_parse, quote_fields)
{
    size_t len;
    char *body = md_fake_read("twelvedata/quote_AAPL.json", &len);
    md_quote q;
    md_error err;
    cr_assert_eq(md_twelvedata_parse_quote(body, len, &q, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73);
    cr_expect_eq(q.ts, 1709931600, "last_quote_at wins over the bar's timestamp");
    cr_expect(q.volume == 76267041);
    cr_expect_str_eq(q.symbol, "AAPL");
    free(body);
    body = md_fake_read("twelvedata/error_not_found.json", &len);
    cr_expect_eq(md_twelvedata_parse_quote(body, len, &q, &err), MD_ENOTFOUND);
    free(body);
    /* a London quote in pence (currency GBp), like its series: in pounds */
    body = md_fake_read("twelvedata/quote_VODP.L.json", &len);
    cr_assert_eq(md_twelvedata_parse_quote(body, len, &q, &err), 0, "%s", err.msg);
    cr_expect(q.price == 0.6852, "price %.17g", q.price);
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
    src = mk("twelvedata", &cfg);
}

static void teardown(void)
{
    md_source_free(src);
    md_config_deinit(&cfg);
    md_fake_stop(&fake);
}

TestSuite(twelvedata_http, .init = setup, .fini = teardown, .timeout = 60);

Test(twelvedata_http, series_requests_in_exchange_time)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n = md_source_bars(src, "AAPL", MD_IV_5M, T("2024-03-08T20:50:00Z"),
                           T("2024-03-08T21:00:00Z"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:50:00Z", 170.55, 170.71001, 170.50, 170.66, 701233);
    /* no timezone parameter (answers come in exchange time, as meta says); the window is
     * widened by 14 h each side because start/end are read in that zone */
    cr_expect(fake_saw(&fake,
                       "/twelvedata/time_series?symbol=AAPL&interval=5min"
                       "&start_date=2024-03-08%2006%3A50%3A00&end_date=2024-03-09%2011%3A00%3A00"
                       "&outputsize=5000&adjust=none&apikey=" KEY));
    char *seen = md_fake_requests(&fake);
    cr_expect(strstr(seen, "timezone=") == NULL, "%s", seen);
    free(seen);
    /* 1h bars of a New York stock start at 09:30 (13:30 UTC), each across two UTC hours: the
     * hours are built from the 30min bars (API.md: buckets aligned in UTC) */
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    n = md_source_bars(src, "AAPL", MD_IV_1H, T("2024-03-11"), T("2024-03-12"), &bv, &meta, &err);
    cr_assert_eq(n, 3, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-11T13:00:00Z", 172.94, 173.50, 172.05, 173.20, 5000000);
    CHECK_BAR(&bv.v[1], "2024-03-11T14:00:00Z", 173.20, 174.38, 172.20, 172.50, 5500000);
    CHECK_BAR(&bv.v[2], "2024-03-11T15:00:00Z", 172.50, 173.10001, 172.30, 172.94, 2000000);
    cr_expect_eq(meta.requests, 2, "the 1h answer, then the 30min one");
    cr_expect(fake_saw(&fake, "symbol=AAPL&interval=30min"));
    /* one 1h bar at 09:30:00 alone (a narrow range) is a session's open too, not a live row
     * to fold into 13:00: its two UTC hours come from the 30min bars */
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    n = md_source_bars(src, "ONEBAR", MD_IV_1H, T("2024-03-11"), T("2024-03-12"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-11T13:00:00Z", 10.0, 10.6, 9.0, 10.5, 2000);
    CHECK_BAR(&bv.v[1], "2024-03-11T14:00:00Z", 10.5, 12.0, 10.4, 11.0, 1000);
    cr_expect_lt(src->vt->max_range_s(src, MD_IV_1M), 5000 * 60);
    cr_expect_gt(src->vt->max_range_s(src, MD_IV_1M), 86400);
    n = md_source_bars(src, "AAPL", MD_IV_1D, T("2024-03-07"), T("2024-03-09"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "interval=1day&start_date=2024-03-06&end_date=2024-03-10"));
    n = md_source_bars(src, "EUR/USD", MD_IV_1H, T("2024-03-08"), T("2024-03-09"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "symbol=EUR%2FUSD&interval=1h"));
    n = md_source_bars(src, "AAPL", MD_IV_1MO, T("2024-02-01"), T("2024-04-01"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "interval=1month"));
    /* no data in the range is an empty answer */
    cr_expect_eq(
        md_source_bars(src, "NODATA", MD_IV_1D, T("2024-03-07"), T("2024-03-09"), &bv, NULL, &err),
        0);
    cr_expect_eq(src->vt->supports(src, MD_IV_4H), 1);
    md_bar_vec_deinit(&bv);
}

Test(twelvedata_http, quote)
{
    md_quote q;
    md_error err;
    cr_assert_eq(md_source_quote(src, "AAPL", &q, NULL, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73);
    cr_expect_eq(q.ts, 1709931600);
    cr_expect(fake_saw(&fake, "/twelvedata/quote?symbol=AAPL&apikey=" KEY));
    cr_expect_eq(md_source_quote(src, "ZZZZ", &q, NULL, &err), MD_ENOTFOUND, "%s", err.msg);
    cr_expect(strstr(err.msg, "ZZZZ"), "%s", err.msg);
}

Test(twelvedata_http, errors)
{
    static const struct {
        const char *sym;
        int rc, status;
    } cases[] = {{"LIMIT200", MD_ERATELIMIT, 200},  {"RATELIMIT", MD_ERATELIMIT, 429},
                 {"FORBIDDEN", MD_EUNAUTHSRC, 200}, {"ZZZZ", MD_ENOTFOUND, 200},
                 {"TRUNC", MD_EMALFORMED, 200},     {"HTML", MD_EMALFORMED, 200},
                 {"RESET", MD_ETRANSIENT, 0},       {"E500", MD_ETRANSIENT, 500},
                 {"SLOW", MD_ETIMEOUT, 0},          {"DAYCREDITS", MD_ERATELIMIT, 200}};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        md_fetch_meta meta;
        int rc = md_source_bars(src, cases[i].sym, MD_IV_1D, T("2024-03-01"), T("2024-03-09"), &bv,
                                &meta, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].sym, md_error_name(rc), err.msg);
        cr_expect_eq(meta.http_status, cases[i].status, "%s", cases[i].sym);
        if (cases[i].status == 429) cr_expect_eq(meta.retry_after_s, 7);
        if (strcmp(cases[i].sym, "LIMIT200") == 0) cr_expect_eq(meta.retry_after_s, 60);
        /* the day's credits spent: the manager pauses it until 00:00 UTC, not a minute */
        cr_expect_eq(meta.day_exhausted, strcmp(cases[i].sym, "DAYCREDITS") == 0, "%s",
                     cases[i].sym);
    }
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(twelvedata_http, bad_key_and_key_never_shown)
{
    md_config c2;
    md_fake_config(&fake, &c2, 400);
    md_fake_set_secret(&c2.twelvedata_api_key, "invalid-td-key-31");
    md_source *s2 = mk("twelvedata", &c2);
    md_log_capture cap;
    md_log_capture_start(&cap);
    md_quote q;
    md_error err;
    cr_expect_eq(md_source_quote(s2, "AAPL", &q, NULL, &err), MD_EUNAUTHSRC, "%s", err.msg);
    char msgs[1024];
    snprintf(msgs, sizeof msgs, "%s", err.msg);
    cr_expect_eq(md_source_quote(src, "SLOW", &q, NULL, &err), MD_ETIMEOUT);
    strncat(msgs, err.msg, sizeof msgs - strlen(msgs) - 1);
    cr_expect_eq(md_source_quote(src, "AAPL", &q, NULL, &err), 0);
    md_log_capture_stop(&cap);
    cr_expect(strstr(cap.text, KEY) == NULL && strstr(cap.text, "invalid-td-key-31") == NULL, "%s",
              cap.text);
    cr_expect(strstr(msgs, KEY) == NULL && strstr(msgs, "invalid-td-key-31") == NULL, "%s", msgs);
    cr_expect(strstr(cap.text, "apikey=***"), "%s", cap.text);
    free(cap.text);
    md_source_free(s2);
    md_config_deinit(&c2);
}
