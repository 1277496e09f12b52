/* Yahoo Finance chart client: the parser on the fixture files (every field, nulls,
 * priceHint rounding, exchange-local trading dates, weekly/monthly buckets, broken
 * bodies) and the client over HTTP against the fake provider (ranges, errors, 429 with
 * Retry-After, timeout, reset, HTML), and what the actions call says of the symbol (its
 * exchange and zone, from the chart meta). */
#include "sourcetest.h"

#include <pthread.h>

/* -- parser ------------------------------------------------------------------------------- */

static int parse_file(const char *file, md_interval iv, md_bar_vec *out, md_quote *q, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = md_yahoo_parse_chart(body, len, iv, out, q, err);
    free(body);
    return rc;
}

Test(yahoo_parse, daily_bars_every_field_nulls_skipped_dates_at_midnight_utc)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n = parse_file("yahoo/chart_AAPL_1d.json", MD_IV_1D, &bv, NULL, &err);
    cr_assert_eq(n, 4, "rc %d: %s", n, err.msg);
    cr_assert_eq(bv.n, 4);
    /* stamped 14:30 UTC (the open), float32 noise removed with priceHint 2; 03-06 is nulls */
    CHECK_BAR(&bv.v[0], "2024-03-04", 176.15, 176.90, 173.79, 175.10, 81510100);
    CHECK_BAR(&bv.v[1], "2024-03-05", 170.76, 172.04, 169.62, 170.12, 95132400);
    CHECK_BAR(&bv.v[2], "2024-03-07", 169.15, 170.73, 168.49, 169.00, 71765100);
    CHECK_BAR(&bv.v[3], "2024-03-08", 169.00, 173.70, 168.94, 170.73, 76114600);
    for (size_t i = 0; i < bv.n; i++) {
        cr_expect_eq(bv.v[i].source, MD_SRC_YAHOO);
        cr_expect(isnan(bv.v[i].vwap));
        cr_expect_eq(bv.v[i].trades, -1);
    }
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, quote_from_meta_rounded_to_price_hint)
{
    md_quote q;
    md_error err;
    cr_assert_eq(parse_file("yahoo/chart_AAPL_1d.json", MD_IV_1D, NULL, &q, &err), 0, "%s",
                 err.msg);
    cr_expect(q.price == 170.73, "price %.17g", q.price);
    cr_expect_eq(q.ts, T("2024-03-08T21:00:00Z"));
    cr_expect(q.volume == 76114600);
    cr_expect_str_eq(q.symbol, "AAPL");
    cr_expect_eq(q.source, MD_SRC_YAHOO);
    cr_expect(isnan(q.bid) && isnan(q.ask));
}

Test(yahoo_parse, index_without_volume_array_and_price_hint_3)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    /* an index: indicators.quote[0] has no volume key; priceHint 3 rounds to 3 decimals */
    cr_assert_eq(parse_file("yahoo/chart_NOVOL_1d.json", MD_IV_1D, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-07", 103.334, 103.433, 102.721, 102.782, 0);
    CHECK_BAR(&bv.v[1], "2024-03-08", 102.786, 102.844, 102.34, 102.714, 0);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, quote_without_regular_market_price_is_the_last_close)
{
    md_quote q;
    md_error err;
    /* meta without regularMarketPrice/Time: the last bar with a close, at its own stamp */
    cr_assert_eq(parse_file("yahoo/chart_LASTBAR_5m.json", MD_IV_5M, NULL, &q, &err), 0, "%s",
                 err.msg);
    cr_expect(q.price == 170.73, "price %.17g", q.price);
    cr_expect_eq(q.ts, T("2024-03-08T20:50:00Z"));
    cr_expect(q.volume == 1733871);
}

Test(yahoo_parse, intraday_bars_keep_exact_start_and_skip_null_minutes)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(parse_file("yahoo/chart_AAPL_5m.json", MD_IV_5M, &bv, NULL, &err), 5, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:30:00Z", 170.52, 170.70, 170.45, 170.61, 612345);
    CHECK_BAR(&bv.v[1], "2024-03-08T20:35:00Z", 170.61, 170.64, 170.33, 170.40, 498210);
    CHECK_BAR(&bv.v[2], "2024-03-08T20:40:00Z", 170.40, 170.58, 170.38, 170.55, 455120);
    CHECK_BAR(&bv.v[3], "2024-03-08T20:50:00Z", 170.55, 170.71, 170.50, 170.66, 701233);
    CHECK_BAR(&bv.v[4], "2024-03-08T20:55:00Z", 170.66, 170.80, 170.60, 170.73, 2123456);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(parse_file("yahoo/chart_AAPL_60m.json", MD_IV_1H, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T14:30:00Z", 169.00, 172.16, 168.94, 171.93, 18334722);
    CHECK_BAR(&bv.v[1], "2024-03-08T15:30:00Z", 171.92, 173.70, 171.50, 172.80, 9012345);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, asian_exchange_midnight_local_is_the_local_trading_date)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    /* 7203.T days are stamped 00:00 JST = 15:00 UTC of the previous day; priceHint 1 */
    cr_assert_eq(parse_file("yahoo/chart_7203.T_1d.json", MD_IV_1D, &bv, NULL, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-04", 3650.0, 3657.0, 3593.0, 3602.5, 24870400);
    CHECK_BAR(&bv.v[1], "2024-03-05", 3601.0, 3622.0, 3533.5, 3555.0, 28519200);
    CHECK_BAR(&bv.v[2], "2024-03-06", 3540.0, 3569.0, 3514.0, 3546.0, 21458700);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(parse_file("yahoo/chart_BTC-USD_1d.json", MD_IV_1D, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-04", 63137.00, 68537.03, 62386.27, 68330.41, 70670471105.0);
    CHECK_BAR(&bv.v[1], "2024-03-05", 68341.05, 69170.63, 59323.91, 63801.20, 102802940877.0);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, weekly_on_monday_monthly_on_the_first_live_row_merged)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(parse_file("yahoo/chart_AAPL_1wk.json", MD_IV_1W, &bv, NULL, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-19", 181.79, 191.05, 179.25, 182.52, 298812300);
    CHECK_BAR(&bv.v[1], "2024-02-26", 182.24, 183.92, 177.38, 179.66, 291453800);
    CHECK_BAR(&bv.v[2], "2024-03-04", 176.15, 176.90, 168.49, 170.73, 393109900);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(parse_file("yahoo/chart_AAPL_1mo.json", MD_IV_1MO, &bv, NULL, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-01-01", 187.15, 196.38, 180.17, 184.40, 1187219300);
    CHECK_BAR(&bv.v[1], "2024-02-01", 183.99, 191.05, 179.25, 180.75, 1161627000);
    CHECK_BAR(&bv.v[2], "2024-03-01", 179.55, 180.53, 168.49, 170.73, 486005500);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, weekly_live_row_of_today_merged_into_the_week)
{
    /* mid-week: the week so far (Monday 03-04) and today (03-06) as two rows: one bar, the
     * first open, high and low over both, today's close, volumes summed */
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(parse_file("yahoo/chart_LIVEW_1wk.json", MD_IV_1W, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-26", 182.0, 183.0, 178.0, 179.66, 300000000);
    CHECK_BAR(&bv.v[1], "2024-03-04", 176.0, 177.0, 168.5, 172.0, 190000000);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, error_objects_map_to_the_vocabulary)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_expect_eq(parse_file("yahoo/error_not_found.json", MD_IV_1D, &bv, NULL, &err), MD_ENOTFOUND);
    cr_expect(strstr(err.msg, "delisted"), "%s", err.msg);
    cr_expect_eq(parse_file("yahoo/error_bad_interval.json", MD_IV_1D, &bv, NULL, &err),
                 MD_EINTERVAL);
    cr_expect_eq(parse_file("yahoo/error_unauthorized.json", MD_IV_1D, &bv, NULL, &err),
                 MD_EUNAUTHSRC);
    cr_expect_eq(parse_file("yahoo/chart_EMPTY_1d.json", MD_IV_1D, &bv, NULL, &err), 0, "%s",
                 err.msg);
    md_quote q;
    cr_expect_eq(parse_file("yahoo/chart_NOPRICE_1d.json", MD_IV_1D, NULL, &q, &err), MD_ENOTFOUND);
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, malformed_bodies_are_errors_and_append_nothing)
{
    static const char *files[] = {"yahoo/chart_WRONGTYPE_1d.json", "yahoo/chart_MISMATCH_1d.json",
                                  "yahoo/chart_NOMETA_1d.json"};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(parse_file(files[i], MD_IV_1D, &bv, NULL, &err), MD_EMALFORMED, "%s",
                     files[i]);
        cr_expect_eq(bv.n, 0, "%s appended bars", files[i]);
    }
    static const char *bodies[] = {
        "",
        "   ",
        "<html><body>Oops</body></html>",
        "{\"chart\":",
        "[]",
        "{\"chart\":{\"result\":[],\"error\":null}}",
        "{\"chart\":{\"result\":[{\"meta\":{},\"timestamp\":\"x\"}]}}",
        "null",
        "{\"chart\":{\"result\":[{\"meta\":{},\"timestamp\":[1e300],"
        "\"indicators\":{\"quote\":[{\"open\":[1],\"high\":[1],\"low\":[1],"
        "\"close\":[1],\"volume\":[1]}]}}]}}"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bodies); i++) {
        int rc = md_yahoo_parse_chart(bodies[i], strlen(bodies[i]), MD_IV_1D, &bv, NULL, &err);
        cr_expect_eq(rc, MD_EMALFORMED, "'%s' gave %d", bodies[i], rc);
        cr_expect_eq(bv.n, 0);
    }
    md_bar_vec_deinit(&bv);
}

Test(yahoo_parse, every_truncation_of_a_real_answer_is_malformed_never_a_crash)
{
    size_t len;
    char *body = md_fake_read("yahoo/chart_AAPL_5m.json", &len);
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t cut = 0; cut < len - 1; cut++) {
        md_error err;
        md_quote q;
        int rc = md_yahoo_parse_chart(body, cut, MD_IV_5M, &bv, &q, &err);
        cr_assert_eq(rc, MD_EMALFORMED, "cut at %zu gave %d", cut, rc);
        cr_assert_eq(bv.n, 0);
    }
    md_bar_vec_deinit(&bv);
    free(body);
}

Test(yahoo_parse, split_adjusted_bars_made_raw_with_events)
{
    size_t len;
    md_error err;
    md_bar_vec bars;
    md_action_vec acts;
    md_bar_vec_init(&bars);
    md_action_vec_init(&acts);
    char *body = md_fake_read("yahoo/chart_AAPL20_1d.json", &len);
    cr_assert_eq(md_yahoo_parse_chart_full(body, len, MD_IV_1D, NULL, &bars, &acts, &err), 12, "%s",
                 err.msg);
    free(body);
    /* AAPL as traded (exchange records): 2020-08-28 before the 4:1 split, 08-31 after */
    CHECK_BAR(&bars.v[6], "2020-08-28", 504.05, 505.77, 498.31, 499.23, 46907500);
    CHECK_BAR(&bars.v[7], "2020-08-31", 127.58, 131.00, 126.00, 129.04, 225702700);
    cr_assert_eq(acts.n, 2);
    md_action_vec_sort_dedup(&acts);
    cr_expect_eq(acts.v[0].type, MD_ACT_DIVIDEND);
    cr_expect_eq(acts.v[0].ex_date, T("2020-08-07"));
    cr_expect(fabs(acts.v[0].amount - 0.82) < 1e-12, "0.205 after the split is 0.82 as paid: %.17g",
              acts.v[0].amount);
    cr_expect_eq(acts.v[1].type, MD_ACT_SPLIT);
    cr_expect_eq(acts.v[1].ex_date, T("2020-08-31"));
    cr_expect(acts.v[1].numerator == 4 && acts.v[1].denominator == 1);
    md_bar_vec_deinit(&bars);
    md_action_vec_deinit(&acts);
}

/* -- client over HTTP --------------------------------------------------------------------- */

static md_fake fake;
static md_config cfg;
static md_source *src;

static void setup(void)
{
    md_fake_start(&fake, 1500);
    md_fake_config(&fake, &cfg, 400);
    src = mk("yahoo", &cfg);
}

static void teardown(void)
{
    md_source_free(src);
    md_config_deinit(&cfg);
    md_fake_stop(&fake);
}

TestSuite(yahoo_http, .init = setup, .fini = teardown, .timeout = 60);

Test(yahoo_http, daily_bars_in_range_oldest_first)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    int n =
        md_source_bars(src, "AAPL", MD_IV_1D, T("2024-03-05"), T("2024-03-08"), &bv, &meta, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-05", 170.76, 172.04, 169.62, 170.12, 95132400);
    CHECK_BAR(&bv.v[1], "2024-03-07", 169.15, 170.73, 168.49, 169.00, 71765100);
    cr_expect_eq(meta.http_status, 200);
    cr_expect_eq(meta.requests, 2, "a past range: the splits after it, then the bars");
    cr_expect_eq(meta.retry_after_s, -1);
    cr_expect(fake_saw(&fake, "/yahoo/v8/finance/chart/AAPL?interval=3mo&period1="));
    cr_expect(fake_saw(&fake, "/yahoo/v8/finance/chart/AAPL?interval=1d&period1="));
    md_bar_vec_deinit(&bv);
}

Test(yahoo_http, intraday_bars_and_interval_names)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n = md_source_bars(src, "AAPL", MD_IV_5M, T("2024-03-08T20:35:00Z"),
                           T("2024-03-08T21:00:00Z"), &bv, NULL, &err);
    cr_assert_eq(n, 4, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:35:00Z", 170.61, 170.64, 170.33, 170.40, 498210);
    CHECK_BAR(&bv.v[3], "2024-03-08T20:55:00Z", 170.66, 170.80, 170.60, 170.73, 2123456);
    cr_expect(fake_saw(&fake, "interval=5m&period1=1709930100&period2=1709931600"));
    /* 60m bars of a New York stock start at 09:30 (14:30 UTC), across two UTC hours; the 30m
     * bars to build the hours from are kept 60 days: older ranges are refused, saying why */
    n = md_source_bars(src, "AAPL", MD_IV_1H, T("2024-03-08"), T("2024-03-09"), &bv, NULL, &err);
    cr_assert_eq(n, MD_EINTERVAL, "rc %d: %s", n, err.msg);
    cr_expect(strstr(err.msg, "session's open (2024-03-08T14:30:00Z)") &&
                  strstr(err.msg, "the 30m bars"),
              "%s", err.msg);
    cr_expect(fake_saw(&fake, "interval=60m"));
    n = md_source_bars(src, "AAPL", MD_IV_1W, T("2024-02-19"), T("2024-03-11"), &bv, NULL, &err);
    cr_assert_eq(n, 3, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "interval=1wk"));
    md_bar_vec_deinit(&bv);
}

Test(yahoo_http, hours_off_the_utc_grid_built_from_30m_bars)
{
    /* RECENT (the fake's chart of the last 5 days): 60m bars at 13:30, 14:30 ... UTC; 30m
     * bar k of a day: open 100+k, high 101+k, low 99+k, close 100.5+k, volume 1000(k+1) */
    int64_t day = md_now() / 86400 * 86400 - 86400;
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    int n = md_source_bars(src, "RECENT", MD_IV_1H, day, day + 86400, &bv, &meta, &err);
    cr_assert_eq(n, 7, "rc %d: %s", n, err.msg);
    cr_expect_eq(meta.requests, 2, "the 60m answer, then the 30m one");
    cr_expect(fake_saw(&fake, "/yahoo/v8/finance/chart/RECENT?interval=30m"));
    /* 13:00 holds 13:30 alone; then each hour two 30m bars */
    cr_expect_eq(bv.v[0].ts, day + 13 * 3600);
    cr_expect(bv.v[0].open == 100 && bv.v[0].high == 101 && bv.v[0].low == 99 &&
              bv.v[0].close == 100.5 && bv.v[0].volume == 1000);
    for (int h = 1; h < 7; h++) {
        const md_bar *b = &bv.v[h];
        int k = 2 * h - 1;
        cr_expect_eq(b->ts, day + (13 + h) * 3600);
        cr_expect(b->open == 100 + k && b->high == 102 + k && b->low == 99 + k &&
                      b->close == 101.5 + k && b->volume == 1000 * (k + 1) + 1000 * (k + 2),
                  "hour %d: %g %g %g %g %g", 13 + h, b->open, b->high, b->low, b->close, b->volume);
    }
    md_bar_vec_deinit(&bv);
}

Test(yahoo_http, live_row_folded_into_its_bucket)
{
    /* during the session the last row is stamped at the last trade (20:57:17): one bar of
     * 20:55 with it (yfinance's merge), no bar off the grid for validation to reject */
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n = md_source_bars(src, "LIVE5", MD_IV_5M, T("2024-03-08T20:30:00Z"),
                           T("2024-03-08T21:00:00Z"), &bv, NULL, &err);
    cr_assert_eq(n, 5, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[3], "2024-03-08T20:50:00Z", 170.55, 170.71, 170.50, 170.66, 701233);
    CHECK_BAR(&bv.v[4], "2024-03-08T20:55:00Z", 170.66, 170.85, 170.60, 170.80, 2133456);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_http, actions_report_the_exchange_from_chart_meta)
{
    /* meta.exchangeName as given, from the actions' own chart request (no other) */
    static const struct {
        const char *symbol, *exchange, *zone;
    } cases[] = {{"AAPL20", "NMS", "America/New_York"},
                 {"VOD.L", "LSE", "Europe/London"},
                 {"7203.T", "JPX", "Asia/Tokyo"},
                 {"BTC-USD", "CCC", "UTC"},
                 {"NOPRICE", "", "America/New_York"}}; /* a meta without exchangeName */
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_action_vec v;
        md_action_vec_init(&v);
        md_source_ref ref;
        memset(&ref, 0, sizeof ref);
        strcpy(ref.exchange, "stale");
        md_fetch_meta meta;
        memset(&meta, 0, sizeof meta);
        md_error err;
        int n = src->vt->actions(src, cases[i].symbol, 0, T("2030-01-01"), &v, &ref, &meta, &err);
        cr_expect_geq(n, 0, "%s: %s", cases[i].symbol, err.msg);
        cr_expect_str_eq(ref.exchange, cases[i].exchange, "%s", cases[i].symbol);
        cr_expect_str_eq(ref.zone, cases[i].zone, "%s", cases[i].symbol);
        cr_expect_eq(meta.requests, 1, "%s", cases[i].symbol);
        md_action_vec_deinit(&v);
    }
}

Test(yahoo_http, quote_from_chart_meta)
{
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_assert_eq(md_source_quote(src, "AAPL", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73, "%.17g", q.price);
    cr_expect_eq(q.ts, T("2024-03-08T21:00:00Z"));
    cr_expect_str_eq(q.symbol, "AAPL");
    cr_expect_eq(meta.http_status, 200);
    cr_expect(meta.latency_ms >= 0);
    cr_assert_eq(md_source_quote(src, "LASTBAR", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73, "%.17g", q.price);
    cr_expect_eq(q.ts, T("2024-03-08T20:50:00Z"));
    cr_expect_str_eq(q.symbol, "LASTBAR");
}

Test(yahoo_http, four_hour_interval_is_not_offered)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_expect_eq(src->vt->supports(src, MD_IV_4H), 0);
    cr_expect_eq(src->vt->supports(src, MD_IV_1M), 1);
    cr_expect_eq(md_source_bars(src, "AAPL", MD_IV_4H, 0, 86400, &bv, NULL, &err), MD_EINTERVAL);
    cr_expect_eq(src->vt->bars(src, "AAPL", MD_IV_4H, 0, 86400, &bv, NULL, &err), MD_EINTERVAL);
    cr_expect_eq(src->vt->max_range_s(src, MD_IV_1M), 7 * 86400);
    cr_expect_eq(src->vt->max_range_s(src, MD_IV_1D), 0);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_http, unknown_symbol_not_found_and_symbols_are_escaped)
{
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(md_source_quote(src, "^NOPE", &q, &meta, &err), MD_ENOTFOUND, "%s", err.msg);
    cr_expect_eq(meta.http_status, 404);
    cr_expect(fake_saw(&fake, "/chart/%5ENOPE?"));
    /* an index and an FX pair in Yahoo's spelling: '^' escaped, '=' kept in the path */
    cr_expect_eq(md_source_quote(src, "^GSPC", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect_float_eq(q.price, 5123.69, 1e-9);
    cr_expect_eq(md_source_quote(src, "EURUSD=X", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect_float_eq(q.price, 1.0856, 1e-9, "rounded to priceHint 4");
    cr_expect(fake_saw(&fake, "/chart/EURUSD=X?"));
}

Test(yahoo_http, rate_limit_reads_retry_after_seconds_and_date)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(md_source_bars(src, "RATELIMIT", MD_IV_1D, 0, 86400 * 30, &bv, &meta, &err),
                 MD_ERATELIMIT, "%s", err.msg);
    cr_expect_eq(meta.http_status, 429);
    cr_expect_eq(meta.retry_after_s, 7);
    cr_expect_eq(md_source_bars(src, "RATEDATE", MD_IV_1D, 0, 86400 * 30, &bv, &meta, &err),
                 MD_ERATELIMIT);
    cr_expect(meta.retry_after_s >= 100 && meta.retry_after_s <= 121, "%d", meta.retry_after_s);
    md_bar_vec_deinit(&bv);
}

Test(yahoo_http, timeout_is_honoured)
{
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(md_source_quote(src, "SLOW", &q, &meta, &err), MD_ETIMEOUT, "%s", err.msg);
    cr_expect(strstr(err.msg, "400 ms"), "%s", err.msg);
    cr_expect_eq(meta.http_status, 0);
}

Test(yahoo_http, broken_answers_map_to_malformed_or_transient)
{
    static const struct {
        const char *sym;
        int rc;
    } cases[] = {{"TRUNC", MD_EMALFORMED}, {"HTML", MD_EMALFORMED}, {"EMPTY", MD_EMALFORMED},
                 {"RESET", MD_ETRANSIENT}, {"E500", MD_ETRANSIENT}, {"E503", MD_ETRANSIENT},
                 {"CRUMB", MD_EUNAUTHSRC}};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        int rc = md_source_bars(src, cases[i].sym, MD_IV_1D, 0, 86400 * 30, &bv, NULL, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: got %s (%s)", cases[i].sym, md_error_name(rc), err.msg);
        cr_expect_eq(bv.n, 0, "%s appended bars", cases[i].sym);
    }
    md_error err;
    md_bar_vec_deinit(&bv);
    md_quote q;
    cr_expect_eq(md_source_quote(src, "HTML", &q, NULL, &err), MD_EMALFORMED);
    cr_expect(strstr(err.msg, "not JSON") && strstr(err.msg, "text/html"), "%s", err.msg);
}

Test(yahoo_http, connection_refused_is_transient)
{
    md_config c2;
    md_fake_config(&fake, &c2, 400);
    md_error err;
    cr_assert_eq(md_config_set(&c2, "sources.yahoo.url", "http://127.0.0.1:1/yahoo", "test", &err),
                 0);
    md_source *s2 = mk("yahoo", &c2);
    md_quote q;
    cr_expect_eq(md_source_quote(s2, "AAPL", &q, NULL, &err), MD_ETRANSIENT, "%s", err.msg);
    md_source_free(s2);
    md_config_deinit(&c2);
}

Test(yahoo_http, body_over_the_size_limit_is_refused)
{
    md_config c2;
    md_fake_config(&fake, &c2, 2000);
    md_error err;
    cr_assert_eq(md_config_set(&c2, "sources.max_body_bytes", "4096", "test", &err), 0);
    md_source *s2 = mk("yahoo", &c2);
    md_quote q;
    cr_expect_eq(md_source_quote(s2, "BIG", &q, NULL, &err), MD_EMALFORMED, "%s", err.msg);
    cr_expect(strstr(err.msg, "larger than 4096"), "%s", err.msg);
    md_source_free(s2);
    md_config_deinit(&c2);
}

static void *quote_loop(void *arg)
{
    long ok = 0;
    for (int i = 0; i < 15; i++) {
        md_quote q;
        md_error err;
        if (md_source_quote(src, (i % 3) ? "AAPL" : "7203.T", &q, NULL, &err) == 0 &&
            (q.price == 170.73 || q.price == 3546.0))
            ok++;
    }
    return (void *)ok;
}

Test(yahoo_http, one_source_used_by_many_threads_at_once)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, quote_loop, NULL);
    long total = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        total += (long)r;
    }
    cr_expect_eq(total, 60);
}
