/* Finnhub client: /quote and /stock/candle parsers on the fixture files (every field,
 * s:"no_data", all-zero quote for an unknown symbol, malformed arrays) and the client
 * over HTTP (resolutions, token parameter, 401/403/429, timeout, key never shown). */
#include "sourcetest.h"

#define KEY "test-finnhub-key-0042"

static int candles(const char *file, md_interval iv, md_bar_vec *out, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = md_finnhub_parse_candles(body, len, iv, out, err);
    free(body);
    return rc;
}

Test(finnhub_parse, daily_candles_midnight_new_york_to_trading_date)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(candles("finnhub/candle_AAPL_D.json", MD_IV_1D, &bv, &err), 5, "%s", err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-04", 176.15, 176.9, 173.79, 175.1, 81510101);
    CHECK_BAR(&bv.v[1], "2024-03-05", 170.76, 172.04, 169.62, 170.12, 95132355);
    CHECK_BAR(&bv.v[2], "2024-03-06", 171.06, 171.24, 168.68, 169.12, 68587707);
    CHECK_BAR(&bv.v[3], "2024-03-07", 169.15, 170.73, 168.49, 169, 71765061);
    CHECK_BAR(&bv.v[4], "2024-03-08", 169, 173.7, 168.94, 170.73, 76267041);
    for (size_t i = 0; i < bv.n; i++) cr_expect_eq(bv.v[i].source, MD_SRC_FINNHUB);
    md_bar_vec_deinit(&bv);
}

Test(finnhub_parse, intraday_and_weekly_candles)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_assert_eq(candles("finnhub/candle_AAPL_5.json", MD_IV_5M, &bv, &err), 3, "%s", err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-08T20:30:00Z", 170.52, 170.7, 170.45, 170.61, 612345);
    CHECK_BAR(&bv.v[1], "2024-03-08T20:35:00Z", 170.61, 170.64, 170.33, 170.4, 498210);
    CHECK_BAR(&bv.v[2], "2024-03-08T20:40:00Z", 170.4, 170.58, 170.38, 170.55, 455120);
    md_bar_vec_deinit(&bv);
    md_bar_vec_init(&bv);
    cr_assert_eq(candles("finnhub/candle_AAPL_W.json", MD_IV_1W, &bv, &err), 3, "%s", err.msg);
    CHECK_BAR(&bv.v[0], "2024-02-19", 181.79, 191.05, 179.25, 182.52, 298812300);
    CHECK_BAR(&bv.v[2], "2024-03-04", 176.15, 176.9, 168.49, 170.73, 393109900);
    md_bar_vec_deinit(&bv);
}

Test(finnhub_parse, no_data_malformed_and_errors)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    cr_expect_eq(candles("finnhub/no_data.json", MD_IV_1D, &bv, &err), 0);
    cr_expect_eq(candles("finnhub/candle_WRONGTYPE_D.json", MD_IV_1D, &bv, &err), MD_EMALFORMED);
    cr_expect_eq(candles("finnhub/candle_MISMATCH_D.json", MD_IV_1D, &bv, &err), MD_EMALFORMED);
    cr_expect(strstr(err.msg, "\"h\" has 1 values for 2"), "%s", err.msg);
    cr_expect_eq(candles("finnhub/error_forbidden.json", MD_IV_1D, &bv, &err), MD_EUNAUTHSRC);
    cr_expect_eq(candles("finnhub/error_ratelimit.json", MD_IV_1D, &bv, &err), MD_ERATELIMIT);
    cr_expect_eq(candles("finnhub/quote_AAPL.json", MD_IV_1D, &bv, &err), MD_EMALFORMED);
    static const char *bodies[] = {
        "{\"s\":\"ok\"}",
        "{\"s\":\"ok\",\"t\":[1],\"o\":[1],\"h\":[1],\"l\":[1],\"c\":[1],\"v\":[-5]}",
        "{\"s\":\"ok\",\"t\":[\"x\"],\"o\":[1],\"h\":[1],\"l\":[1],\"c\":[1],\"v\":[1]}",
        "{\"s\":\"maybe\"}",
        "[1,2]",
        "{\"s\":\"ok\",\"t\":[1],\"o\":[1],\"h\":[1],\"l\":[1],\"c\":[1e999],\"v\":[1]}"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bodies); i++)
        cr_expect_eq(md_finnhub_parse_candles(bodies[i], strlen(bodies[i]), MD_IV_1D, &bv, &err),
                     MD_EMALFORMED, "%s", bodies[i]);
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(finnhub_parse, quote_fields_and_unknown_symbol)
{
    size_t len;
    char *body = md_fake_read("finnhub/quote_AAPL.json", &len);
    md_quote q;
    md_error err;
    cr_assert_eq(md_finnhub_parse_quote(body, len, &q, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73);
    cr_expect_eq(q.ts, 1709931601);
    cr_expect(isnan(q.volume));
    cr_expect_eq(q.source, MD_SRC_FINNHUB);
    free(body);
    body = md_fake_read("finnhub/quote_unknown.json", &len);
    cr_expect_eq(md_finnhub_parse_quote(body, len, &q, &err), MD_ENOTFOUND);
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
    src = mk("finnhub", &cfg);
}

static void teardown(void)
{
    md_source_free(src);
    md_config_deinit(&cfg);
    md_fake_stop(&fake);
}

TestSuite(finnhub_http, .init = setup, .fini = teardown, .timeout = 60);

Test(finnhub_http, candles_with_resolution_and_token)
{
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n =
        md_source_bars(src, "AAPL", MD_IV_1D, T("2024-03-05"), T("2024-03-08"), &bv, NULL, &err);
    cr_assert_eq(n, 3, "rc %d: %s", n, err.msg);
    CHECK_BAR(&bv.v[0], "2024-03-05", 170.76, 172.04, 169.62, 170.12, 95132355);
    CHECK_BAR(&bv.v[2], "2024-03-07", 169.15, 170.73, 168.49, 169, 71765061);
    cr_expect(fake_saw(&fake, "/finnhub/stock/candle?symbol=AAPL&resolution=D&from="));
    cr_expect(fake_saw(&fake, "&token=" KEY));
    n = md_source_bars(src, "AAPL", MD_IV_5M, T("2024-03-08T20:30:00Z"), T("2024-03-08T20:40:00Z"),
                       &bv, NULL, &err);
    cr_assert_eq(n, 2, "rc %d: %s", n, err.msg);
    cr_expect(fake_saw(&fake, "resolution=5&from=1709929800&to=1709930399"));
    /* an unknown symbol answers no_data: no bars, not an error */
    cr_expect_eq(md_source_bars(src, "ZZZZ", MD_IV_1D, 0, 86400 * 10, &bv, NULL, &err), 0);
    cr_expect_eq(md_source_bars(src, "AAPL", MD_IV_4H, 0, 86400, &bv, NULL, &err), MD_EINTERVAL);
    md_bar_vec_deinit(&bv);
}

Test(finnhub_http, quote)
{
    md_quote q;
    md_error err;
    cr_assert_eq(md_source_quote(src, "AAPL", &q, NULL, &err), 0, "%s", err.msg);
    cr_expect(q.price == 170.73);
    cr_expect_eq(q.ts, 1709931601);
    cr_expect_str_eq(q.symbol, "AAPL");
    cr_expect_eq(md_source_quote(src, "ZZZZ", &q, NULL, &err), MD_ENOTFOUND);
}

Test(finnhub_http, status_errors)
{
    static const struct {
        const char *sym;
        int rc, status;
    } cases[] = {{"FORBIDDEN", MD_EUNAUTHSRC, 403}, {"RATELIMIT", MD_ERATELIMIT, 429},
                 {"E500", MD_ETRANSIENT, 500},      {"TRUNC", MD_EMALFORMED, 200},
                 {"HTML", MD_EMALFORMED, 200},      {"RESET", MD_ETRANSIENT, 0},
                 {"SLOW", MD_ETIMEOUT, 0}};
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_error err;
        md_fetch_meta meta;
        int rc = md_source_bars(src, cases[i].sym, MD_IV_1D, T("2024-03-01"), T("2024-03-09"), &bv,
                                &meta, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].sym, md_error_name(rc), err.msg);
        cr_expect_eq(meta.http_status, cases[i].status, "%s", cases[i].sym);
        if (cases[i].status == 429) {
            cr_expect_eq(meta.retry_after_s, 7);
            cr_expect(strstr(err.msg, "API limit reached"), "%s", err.msg);
        }
    }
    cr_expect_eq(bv.n, 0);
    md_bar_vec_deinit(&bv);
}

Test(finnhub_http, bad_or_missing_token)
{
    md_config c2;
    md_fake_config(&fake, &c2, 400);
    md_fake_set_secret(&c2.finnhub_api_key, "invalid-finnhub-token-9");
    md_source *s2 = mk("finnhub", &c2);
    md_quote q;
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(md_source_quote(s2, "AAPL", &q, &meta, &err), MD_EUNAUTHSRC);
    cr_expect_eq(meta.http_status, 401);
    cr_expect(strstr(err.msg, "Invalid API key"), "%s", err.msg);
    cr_expect(strstr(err.msg, "invalid-finnhub-token-9") == NULL, "%s", err.msg);
    md_source_free(s2);
    md_free(c2.finnhub_api_key);
    c2.finnhub_api_key = md_strdup("");
    s2 = mk("finnhub", &c2);
    cr_expect_eq(md_source_quote(s2, "AAPL", &q, &meta, &err), MD_EUNAUTHSRC);
    cr_expect(strstr(err.msg, "set FINNHUB_API_KEY"), "%s", err.msg);
    cr_expect_eq(meta.requests, 0);
    md_source_free(s2);
    md_config_deinit(&c2);
}

Test(finnhub_http, key_never_in_logs_or_errors)
{
    md_log_capture cap;
    md_log_capture_start(&cap);
    char msgs[2048] = "";
    static const char *syms[] = {"AAPL", "ZZZZ", "FORBIDDEN", "RATELIMIT", "SLOW", "RESET"};
    for (size_t i = 0; i < MD_ARRAY_LEN(syms); i++) {
        md_quote q;
        md_error err;
        md_error_clear(&err);
        if (md_source_quote(src, syms[i], &q, NULL, &err) != 0)
            strncat(msgs, err.msg, sizeof msgs - strlen(msgs) - 1);
    }
    md_log_capture_stop(&cap);
    cr_expect(strstr(cap.text, KEY) == NULL, "%s", cap.text);
    cr_expect(strstr(msgs, KEY) == NULL, "%s", msgs);
    cr_expect(strstr(cap.text, "token=***"), "%s", cap.text);
    free(cap.text);
}
