/* Polygon client: aggregates parser (t in milliseconds, vw and n, daily/weekly/monthly
 * stamps to buckets, status errors), last trade (nanoseconds) and previous close, and the
 * client over HTTP: next_url pagination with the key appended and kept on our base URL,
 * the free-plan quote fallback, 401/403/429, and the key never shown. */
#include "sourcetest.h"

#define KEY "test-polygon-key-0042"

static int aggs(const char *file, md_interval iv, md_bar_vec *out, char **next, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = md_polygon_parse_aggs(body, len, iv, out, next, err);
    free(body);
    return rc;
}

Test(polygon_parse, daily_aggregates_milliseconds_vwap_trades)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    char *next = (char *)"unset";
    cr_assert_eq(aggs("polygon/aggs_AAPL_1_day.json", MD_IV_1D, &bv, &next, &err), 3, "%s",
                 err.msg);
    cr_expect_null(next);
    CHECK_BAR(&bv.v[0], "2024-03-04", 176.15, 176.9, 173.79, 175.1, 81510101);
    CHECK_BAR(&bv.v[1], "2024-03-05", 170.76, 172.04, 169.62, 170.12, 95132355);
    CHECK_BAR(&bv.v[2], "2024-03-06", 171.06, 171.24, 168.68, 169.12, 68587707);
    cr_expect(bv.v[0].vwap == 174.9351);
    cr_expect_eq(bv.v[0].trades, 1058521);
    cr_expect(bv.v[2].vwap == 169.7862);
    cr_expect_eq(bv.v[2].trades, 869011);
    cr_expect_eq(bv.v[1].source, MD_SRC_POLYGON);
    md_bar_vec_deinit(&bv);
}

Test(polygon_parse, intraday_weekly_monthly)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(aggs("polygon/aggs_AAPL_5_minute.json", MD_IV_5M, &bv, NULL, &err), 3, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:30:00Z", 170.52, 170.7, 170.45, 170.61, 612345);
    CHECK_BAR(&bv.v[2], "2024-03-08T20:40:00Z", 170.4, 170.58, 170.38, 170.55, 455120.5);
    cr_expect_eq(bv.v[1].trades, 6120);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(aggs("polygon/aggs_AAPL_4_hour.json", MD_IV_4H, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T12:00:00Z", 169.0, 171.2, 168.94, 170.9, 2.1e7);
    CHECK_BAR(&bv.v[1], "2024-03-08T16:00:00Z", 170.9, 173.7, 170.5, 170.73, 3.4e7);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    /* Polygon's weeks start Sunday midnight New York: API.md's on Monday */
    cr_assert_eq(aggs("polygon/aggs_AAPL_1_week.json", MD_IV_1W, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-26", 182.24, 183.92, 177.38, 179.66, 2.914538e+08);
    CHECK_BAR(&bv.v[1], "2024-03-04", 176.15, 176.9, 168.49, 170.73, 3.931099e+08);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(aggs("polygon/aggs_AAPL_1_month.json", MD_IV_1MO, &bv, NULL, &err), 2, "%s",
                 err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-01", 183.985, 191.05, 179.25, 180.75, 1.161627e+09);
    CHECK_BAR(&bv.v[1], "2024-03-01", 179.55, 180.53, 168.49, 170.73, 4.860055e+08);
    md_bar_vec_deinit(&bv);
}

Test(polygon_parse, next_url_is_returned)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    char *next = NULL;
    cr_assert_eq(aggs("polygon/aggs_PAGED_1_minute.json", MD_IV_1M, &bv, &next, &err), 2, "%s",
                 err.msg);
    cr_assert_not_null(next);
    cr_expect(
        strstr(next,
               "/v2/aggs/ticker/PAGED/range/1/minute/1709908320000/1709909999999?cursor=PAGE2"),
        "%s", next);
    md_free(next);
    md_bar_vec_deinit(&bv);
}

Test(polygon_parse, status_errors_and_malformed)
{
    static const struct {
        const char *file;
        int rc;
    } cases[] = {{"polygon/aggs_empty.json", 0},
                 {"polygon/error_unauthorized.json", MD_EUNAUTHSRC},
                 {"polygon/error_not_authorized.json", MD_EUNAUTHSRC},
                 {"polygon/error_ratelimit.json", MD_ERATELIMIT},
                 {"polygon/error_not_found.json", MD_ENOTFOUND},
                 {"polygon/aggs_WRONGTYPE_1_day.json", MD_EMALFORMED},
                 {"polygon/aggs_NOTIME_1_day.json", MD_EMALFORMED}};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        int rc = aggs(cases[i].file, MD_IV_1D, &bv, NULL, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].file, md_error_name(rc), err.msg);
    }
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(polygon_parse, last_trade_nanoseconds_and_previous_close)
{
    size_t len;
    md_quote q;
    md_error err;
    char *body = md_fake_read("polygon/last_trade_AAPL.json", &len);
    cr_assert_eq(md_polygon_parse_last_trade(body, len, &q, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73);
    cr_expect_eq(q.ts, T("2024-03-08T20:59:59Z"));
    cr_expect(q.volume == 100);
    cr_expect_str_eq(q.symbol, "AAPL");
    free(body);
    body = md_fake_read("polygon/prev_MSFT.json", &len);
    cr_assert_eq(md_polygon_parse_prev(body, len, &q, &err), 0, "%s", err.msg);
    cr_expect(q.price == 406.22);
    cr_expect_eq(q.ts, T("2024-03-08T21:00:00Z"), "the close of 2024-03-08 in New York");
    cr_expect(q.volume == 1.8296e+07);
    free(body);
    body = md_fake_read("polygon/aggs_empty.json", &len);
    cr_expect_eq(md_polygon_parse_prev(body, len, &q, &err), MD_ENOTFOUND);
    cr_expect_eq(md_polygon_parse_last_trade(body, len, &q, &err), MD_ENOTFOUND);
    free(body);
}

Test(polygon_parse, index_aggregates_without_volume)
{
    /* "Indices - Custom Bars": results[] carry c h l o t only (no v, vw, n) */
    size_t len;
    md_error err;
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    char *body = md_fake_read("polygon/aggs_I_NDX_1_day.json", &len);
    cr_assert_eq(md_polygon_parse_aggs(body, len, MD_IV_1D, &bv, NULL, &err), 2, "%s", err.msg);
    free(body);
    CHECK_BAR(&bv.v[0], "2023-03-09", 12230.83658266843, 12340.44936267155, 11970.34221717375,
              11995.88235998666, 0);
    CHECK_BAR(&bv.v[1], "2023-03-10", 12001.69552583921, 12069.62262033557, 11789.85923449393,
              11830.28178808306, 0);
    cr_expect(isnan(bv.v[0].vwap));
    cr_expect_eq(bv.v[0].trades, -1);
    md_bar_vec_deinit(&bv);
    /* the previous day's bar of an index (the quote of I:SPX): no v either */
    md_quote q;
    body = md_fake_read("polygon/prev_I_SPX.json", &len);
    cr_assert_eq(md_polygon_parse_prev(body, len, &q, &err), 0, "%s", err.msg);
    free(body);
    cr_expect(q.price == 5123.69);
}

Test(polygon_parse, reference_splits_and_dividends)
{
    size_t len;
    md_error err;
    md_action_vec v;
    md_action_vec_init(&v);
    char *next = NULL;
    char *body = md_fake_read("polygon/splits_AAPL20.json", &len);
    cr_assert_eq(md_polygon_parse_splits(body, len, &v, &next, &err), 2, "%s", err.msg);
    free(body);
    cr_expect_null(next);
    md_action_vec_sort_dedup(&v);
    /* split_to new shares for split_from old */
    cr_expect_eq(v.v[0].ex_date, T("2014-06-09"));
    cr_expect(v.v[0].numerator == 7 && v.v[0].denominator == 1);
    cr_expect_eq(v.v[1].ex_date, T("2020-08-31"));
    cr_expect(v.v[1].numerator == 4 && v.v[1].denominator == 1);
    cr_expect_eq(v.v[1].type, MD_ACT_SPLIT);
    v.n = 0;
    body = md_fake_read("polygon/dividends_AAPL20.json", &len);
    cr_assert_eq(md_polygon_parse_dividends(body, len, &v, &next, &err), 1, "%s", err.msg);
    free(body);
    cr_expect_eq(v.v[0].type, MD_ACT_DIVIDEND);
    cr_expect_eq(v.v[0].ex_date, T("2020-08-07"));
    cr_expect_eq(v.v[0].pay_date, T("2020-08-13"));
    cr_expect(v.v[0].amount == 0.82);
    cr_expect_str_eq(v.v[0].currency, "USD");
    v.n = 0;
    body = md_fake_read("polygon/error_not_authorized.json", &len);
    cr_expect_lt(md_polygon_parse_dividends(body, len, &v, &next, &err), 0, "premium refusal");
    cr_expect_eq(v.n, 0);
    free(body);
    md_action_vec_deinit(&v);
}

/* -- client over HTTP --------------------------------------------------------------------- */

static md_fake fake;
static md_config cfg;
static md_source *src;

static void setup(void)
{
    md_fake_start(&fake, 1500);
    md_fake_config(&fake, &cfg, 400);
    src = mk("polygon", &cfg);
}

static void teardown(void)
{
    md_source_free(src);
    md_config_deinit(&cfg);
    md_fake_stop(&fake);
}

TestSuite(polygon_http, .init = setup, .fini = teardown, .timeout = 60);

Test(polygon_http, pages_followed_with_key_on_our_host)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_meta meta;
    md_error err;
    int n = md_source_bars(src, "PAGED", MD_IV_1M, T("2024-03-08T14:30:00Z"),
                           T("2024-03-08T15:00:00Z"), &bv, &meta, &err);
    cr_assert_eq(n, 4, "rc %d: %s", n, err.msg);
    cr_expect_eq(meta.requests, 3);
    CHECK_BAR(&bv.v[0], "2024-03-08T14:30:00Z", 169.0, 169.5, 168.94, 169.4, 1234567);
    CHECK_BAR(&bv.v[1], "2024-03-08T14:31:00Z", 169.4, 169.8, 169.3, 169.75, 456789);
    CHECK_BAR(&bv.v[2], "2024-03-08T14:32:00Z", 169.75, 170.1, 169.7, 170.05, 345678);
    CHECK_BAR(&bv.v[3], "2024-03-08T14:33:00Z", 170.05, 170.2, 169.95, 170.0, 234567);
    cr_expect(fake_saw(&fake,
                       "/polygon/v2/aggs/ticker/PAGED/range/1/minute/1709908200000/1709909999999"
                       "?adjusted=false&sort=asc&limit=50000&apiKey=" KEY));
    /* next_url's cursor keeps limit and sort, not adjusted (default true): it is added back,
     * or a long raw series would turn split-adjusted from page 2 on */
    cr_expect(fake_saw(&fake, "?cursor=PAGE2&adjusted=false&apiKey=" KEY));
    /* page 2 pointed at api.polygon.io: followed on the configured base instead */
    cr_expect(fake_saw(&fake,
                       "/polygon/v2/aggs/ticker/PAGED/range/1/minute/1709908380000/1709909999999"
                       "?cursor=PAGE3&adjusted=false&apiKey=" KEY));
    md_bar_vec_deinit(&bv);
}

Test(polygon_http, daily_and_four_hour_requests)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n =
        md_source_bars(src, "AAPL", MD_IV_1D, T("2024-03-05"), T("2024-03-07"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-05", 170.76, 172.04, 169.62, 170.12, 95132355);
    cr_expect(fake_saw(&fake, "/range/1/day/2024-03-03/2024-03-08?adjusted=false"));
    n = md_source_bars(src, "AAPL", MD_IV_4H, T("2024-03-08"), T("2024-03-09"), &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "/range/4/hour/1709856000000/1709942399999?"));
    cr_expect_eq(md_source_bars(src, "ZZZZ", MD_IV_1D, 0, 86400 * 5, &bv, NULL, &err), 0);
    md_bar_vec_deinit(&bv);
}

Test(polygon_http, quote_last_trade_then_previous_close_fallback)
{
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_assert_eq(md_source_quote(src, "AAPL", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73);
    cr_expect_eq(q.ts, T("2024-03-08T20:59:59Z"));
    cr_expect_eq(meta.requests, 1);
    cr_assert_eq(md_source_quote(src, "MSFT", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect(q.price == 406.22);
    cr_expect_str_eq(q.symbol, "MSFT");
    cr_expect_eq(meta.requests, 2);
    cr_expect(fake_saw(&fake, "/polygon/v2/aggs/ticker/MSFT/prev?adjusted=false&apiKey=" KEY));
    /* unknown ticker: last trade 404 NOT_FOUND, then /prev with resultsCount 0 */
    cr_expect_eq(md_source_quote(src, "ZZZZ", &q, &meta, &err), MD_ENOTFOUND, "%s", err.msg);
    cr_expect_eq(meta.requests, 2);
    cr_expect(fake_saw(&fake, "/polygon/v2/aggs/ticker/ZZZZ/prev?"));
}

Test(polygon_http, quote_falls_back_to_prev_on_404_or_not_authorized_in_200)
{
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    /* no last-trade endpoint (plain 404): the documented /prev example answers; its t is
     * 16:00 New York (21:00 UTC) of 2020-11-10 */
    cr_assert_eq(md_source_quote(src, "NOLAST", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect(q.price == 115.97);
    cr_expect(q.volume == 131704427);
    cr_expect_eq(q.ts, T("2020-11-10T21:00:00Z"));
    cr_expect_eq(q.source, MD_SRC_POLYGON);
    cr_expect_eq(meta.requests, 2);
    /* NOT_AUTHORIZED sent with HTTP 200 */
    cr_assert_eq(md_source_quote(src, "NOTAUTH200", &q, &meta, &err), 0, "%s", err.msg);
    cr_expect(q.price == 115.97);
    cr_expect_eq(meta.requests, 2);
    /* a bad key (401) is final: no second request */
    md_config c2;
    md_fake_config(&fake, &c2, 400);
    md_fake_set_secret(&c2.polygon_api_key, "invalid-pg-key-77");
    md_source *s2 = mk("polygon", &c2);
    cr_expect_eq(md_source_quote(s2, "NOLAST", &q, &meta, &err), MD_EUNAUTHSRC, "%s", err.msg);
    cr_expect_eq(meta.requests, 1);
    cr_expect(strstr(err.msg, "invalid-pg-key-77") == NULL, "%s", err.msg);
    md_source_free(s2);
    md_config_deinit(&c2);
}

Test(polygon_http, status_errors)
{
    static const struct {
        const char *sym;
        int rc, status;
    } cases[] = {{"NOTAUTH", MD_EUNAUTHSRC, 403}, {"RATELIMIT", MD_ERATELIMIT, 429},
                 {"E503", MD_ETRANSIENT, 503},    {"TRUNC", MD_EMALFORMED, 200},
                 {"HTML", MD_EMALFORMED, 200},    {"EMPTY", MD_EMALFORMED, 200},
                 {"RESET", MD_ETRANSIENT, 0},     {"SLOW", MD_ETIMEOUT, 0}};
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
    }
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(polygon_http, unknown_key_and_key_never_shown)
{
    md_config c2;
    md_fake_config(&fake, &c2, 400);
    md_fake_set_secret(&c2.polygon_api_key, "invalid-polygon-key-5");
    md_source *s2 = mk("polygon", &c2);
    md_log_capture cap;
    md_log_capture_start(&cap);
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(md_source_quote(s2, "AAPL", &q, &meta, &err), MD_EUNAUTHSRC);
    cr_expect_eq(meta.http_status, 401);
    cr_expect(strstr(err.msg, "Unknown API Key"), "%s", err.msg);
    char msgs[1024];
    snprintf(msgs, sizeof msgs, "%s", err.msg);
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    cr_expect_eq(md_source_bars(src, "PAGED", MD_IV_1M, T("2024-03-08T14:30:00Z"),
                                T("2024-03-08T15:00:00Z"), &bv, NULL, &err),
                 4);
    cr_expect_eq(md_source_bars(src, "SLOW", MD_IV_1M, T("2024-03-08T14:30:00Z"),
                                T("2024-03-08T15:00:00Z"), &bv, NULL, &err),
                 MD_ETIMEOUT);
    strncat(msgs, err.msg, sizeof msgs - strlen(msgs) - 1);
    md_log_capture_stop(&cap);
    cr_expect(strstr(cap.text, KEY) == NULL && strstr(cap.text, "invalid-polygon-key-5") == NULL,
              "%s", cap.text);
    cr_expect(strstr(msgs, KEY) == NULL && strstr(msgs, "invalid-polygon-key-5") == NULL, "%s",
              msgs);
    cr_expect(strstr(cap.text, "apiKey=***"), "%s", cap.text);
    free(cap.text);
    md_bar_vec_deinit(&bv);
    md_source_free(s2);
    md_config_deinit(&c2);
}
