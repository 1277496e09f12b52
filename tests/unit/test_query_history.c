/* The historical read path (query/history.c, cached.c for /historical, analytics.c): the
 * request parameters, what the store answers, which missing ranges are asked from the
 * sources (exactly), when they are not asked, "from", errors, and the analytics glue
 * (indicator warm-up on the stored bars before the range). Real store, writer, cache and
 * source manager; the one source is scripted and records its calls (querytest.h). */
#include "querytest.h"

#include <math.h>
#include <string.h>

static void fini(void)
{
    qt_close();
}

TestSuite(query_history, .fini = fini);

/* -- parameters ---------------------------------------------------------------------------- */

static int parse(md_history_req *r, const char *symbol, params p, md_error *err)
{
    md_config cfg;
    md_config_init(&cfg);
    int rc = md_history_req_parse(r, symbol, get, &p, &cfg, err);
    md_config_deinit(&cfg);
    return rc;
}

Test(query_history, parameters_default_to_daily_bars_of_all_time)
{
    md_history_req r;
    md_error err;
    cr_assert_eq(parse(&r, "brk.b", (params){{NULL}, {NULL}}, &err), 0, "%s", err.msg);
    cr_expect_str_eq(r.symbol, "BRK.B");
    cr_expect_eq(r.iv, MD_IV_1D);
    cr_expect_eq(r.start, MD_TS_MIN);
    cr_expect_eq(r.end, MD_TS_MAX);
    cr_expect_eq(r.limit, 10000, "server.default_limit");
    cr_expect_eq(r.source, -1);
    cr_expect_eq(r.cached_only, 0);
    cr_expect_eq(r.csv, 0);
}

Test(query_history, parameters_are_parsed_and_bad_ones_named)
{
    md_history_req r;
    md_error err;
    params p = {{"interval", "start", "end", "limit", "format", "cached_only", "source"},
                {"1h", "2024-03-01", "2024-03-02T12:00:00+01:00", "24", "CSV", "", "yahoo"}};
    cr_assert_eq(parse(&r, "AAPL", p, &err), 0, "%s", err.msg);
    cr_expect_eq(r.iv, MD_IV_1H);
    cr_expect_eq(r.start, qt_t("2024-03-01"));
    cr_expect_eq(r.end, qt_t("2024-03-02T11:00:00Z"));
    cr_expect_eq(r.limit, 24);
    cr_expect_eq(r.csv, 1);
    cr_expect_eq(r.cached_only, 1, "a bare ?cached_only is true");
    cr_expect_eq(r.source, MD_SRC_YAHOO);

    cr_expect_eq(parse(&r, "AAPL", (params){{"interval"}, {"2m"}}, &err), MD_EINTERVAL);
    cr_expect_eq(parse(&r, "AAPL", (params){{"start"}, {"yesterday"}}, &err), MD_ETIMERANGE);
    cr_expect(strncmp(err.msg, "start: ", 7) == 0, "%s", err.msg);
    cr_expect_eq(parse(&r, "AAPL", (params){{"start", "end"}, {"2024-03-02", "2024-03-02"}}, &err),
                 MD_ETIMERANGE, "end must be after start");
    cr_expect_eq(parse(&r, "AAPL", (params){{"limit"}, {"0"}}, &err), MD_EPARAM);
    cr_expect_eq(parse(&r, "AAPL", (params){{"limit"}, {"1000001"}}, &err), MD_EPARAM);
    cr_expect_eq(parse(&r, "AAPL", (params){{"limit"}, {"12x"}}, &err), MD_EPARAM);
    cr_expect_eq(parse(&r, "AAPL", (params){{"format"}, {"xml"}}, &err), MD_EPARAM);
    cr_expect_eq(parse(&r, "AAPL", (params){{"cached_only"}, {"maybe"}}, &err), MD_EPARAM);
    cr_expect_eq(parse(&r, "AAPL", (params){{"source"}, {"nasdaq"}}, &err), MD_EPARAM);
    cr_expect_eq(parse(&r, "no way", (params){{NULL}, {NULL}}, &err), MD_ESYMBOL);
}

/* -- the store and the sources -------------------------------------------------------------- */

static md_history_req req_of(const char *symbol, md_interval iv, const char *start, const char *end)
{
    md_history_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.iv = iv;
    r.start = start ? qt_t(start) : MD_TS_MIN;
    r.end = end ? qt_t(end) : MD_TS_MAX;
    r.limit = 10000;
    r.source = -1;
    return r;
}

/* Runs the query; returns the bars (caller frees) with *from. */
static md_bar_vec history(const md_history_req *r, int want_rc, const char **from)
{
    md_history h;
    md_history_init(&h);
    md_error err;
    int rc = md_query_history(&qt.svc, r, &h, &err);
    cr_assert_eq(rc, want_rc, "%s: %s", md_error_name(rc), err.msg);
    if (from) *from = h.from;
    md_bar_vec v = h.bars; /* the caller owns the bars */
    md_bar_vec_init(&h.bars);
    md_history_deinit(&h);
    return v;
}

#define EXPECT_CALL(k, iv_, start_, end_)                                                          \
    do {                                                                                           \
        const qt_call *c_ = qt_bars_call(k);                                                       \
        cr_assert_not_null(c_, "no bars call %d", k);                                              \
        cr_expect_eq(c_->iv, iv_, "call %d interval %s", k, md_interval_name(c_->iv));             \
        cr_expect_eq(c_->start, qt_t(start_), "call %d start %lld", k, (long long)c_->start);      \
        cr_expect_eq(c_->end, qt_t(end_), "call %d end %lld", k, (long long)c_->end);              \
    } while (0)

Test(query_history, without_sources_the_store_answers)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-01"), qt_t("2024-03-11"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-04", "2024-03-08");
    const char *from;
    md_bar_vec v = history(&r, 0, &from);
    cr_expect_eq(v.n, 4);
    cr_expect_eq(v.v[0].ts, qt_t("2024-03-04"));
    cr_expect_str_eq(from, "store");
    md_bar_vec_deinit(&v);
    /* a known symbol with nothing in the range is an empty answer; an unknown one, 404 */
    r = req_of("AAPL", MD_IV_1D, "2023-01-01", "2023-02-01");
    v = history(&r, 0, NULL);
    cr_expect_eq(v.n, 0);
    md_bar_vec_deinit(&v);
    r = req_of("MSFT", MD_IV_1D, NULL, NULL);
    v = history(&r, MD_ENOTFOUND, NULL);
    md_bar_vec_deinit(&v);
}

Test(query_history, nothing_stored_asks_the_whole_range_once_and_stores_it)
{
    qt_open(QT_SOURCES);
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    const char *from;
    md_bar_vec v = history(&r, 0, &from);
    cr_expect_eq(qt_bars_calls(), 1);
    EXPECT_CALL(0, MD_IV_1D, "2024-03-01", "2024-03-11");
    cr_expect_eq(v.n, 10);
    cr_expect_str_eq(from, "sources");
    cr_expect(v.v[3].close == qt_close_at(MD_IV_1D, qt_t("2024-03-04")));
    md_bar_vec_deinit(&v);
    /* the same request again: all stored, nothing asked */
    v = history(&r, 0, &from);
    cr_expect_eq(qt_bars_calls(), 1);
    cr_expect_eq(v.n, 10);
    cr_expect_str_eq(from, "store");
    md_bar_vec_deinit(&v);
}

Test(query_history, only_the_gaps_before_and_after_the_stored_bars_are_asked)
{
    qt_open(QT_SOURCES);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-05"), qt_t("2024-03-08"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    const char *from;
    md_bar_vec v = history(&r, 0, &from);
    cr_assert_eq(qt_bars_calls(), 2);
    EXPECT_CALL(0, MD_IV_1D, "2024-03-08", "2024-03-11"); /* after the last stored bar */
    EXPECT_CALL(1, MD_IV_1D, "2024-03-01", "2024-03-05"); /* before the first */
    cr_expect_eq(v.n, 10);
    cr_expect_str_eq(from, "mixed");
    md_bar_vec_deinit(&v);
}

Test(query_history, a_hole_inside_the_stored_range_is_asked)
{
    qt_open(QT_SOURCES);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-01"), qt_t("2024-03-06"));
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-12"), qt_t("2024-03-15"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-15");
    md_bar_vec v = history(&r, 0, NULL);
    cr_assert_eq(qt_bars_calls(), 1, "the range's ends are stored: only the hole");
    EXPECT_CALL(0, MD_IV_1D, "2024-03-06", "2024-03-12");
    cr_expect_eq(v.n, 14);
    md_bar_vec_deinit(&v);
}

Test(query_history, a_range_that_brought_nothing_is_not_asked_again_at_once)
{
    qt_open(QT_SOURCES);
    qt.history_from = qt_t("2024-06-01"); /* the source has nothing before June */
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-01"), qt_t("2024-03-02"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    md_bar_vec v = history(&r, 0, NULL);
    int asked = qt_bars_calls();
    cr_expect_eq(asked, 1);
    md_bar_vec_deinit(&v);
    qt_advance_ms(60 * 1000);
    v = history(&r, 0, NULL);
    cr_expect_eq(qt_bars_calls(), asked, "asked a minute ago (sources.recheck_s = 300)");
    md_bar_vec_deinit(&v);
    qt_advance_ms(300 * 1000);
    v = history(&r, 0, NULL);
    cr_expect_eq(qt_bars_calls(), asked + 1, "past the recheck period: asked again");
    md_bar_vec_deinit(&v);
}

Test(query_history, cached_only_never_asks)
{
    qt_open(QT_SOURCES);
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    r.cached_only = 1;
    md_bar_vec v = history(&r, MD_ENOTFOUND, NULL);
    cr_expect_eq(qt.n_calls, 0);
    md_bar_vec_deinit(&v);
}

Test(query_history, an_interval_no_source_offers_is_skipped_quietly)
{
    qt_open(QT_SOURCES);
    qt_put_range("AAPL", MD_IV_1H, qt_t("2024-03-04T00:00:00Z"), qt_t("2024-03-04T08:00:00Z"));
    md_history_req r = req_of("AAPL", MD_IV_4H, "2024-03-04", "2024-03-05");
    md_bar_vec v = history(&r, 0, NULL);
    /* the gap after the stored bars is asked in the stored interval (1h), not in 4h, from
     * the start of the last aggregated bucket (its finer bars again) */
    cr_assert_eq(qt_bars_calls(), 1);
    EXPECT_CALL(0, MD_IV_1H, "2024-03-04T04:00:00Z", "2024-03-05");
    cr_expect_eq(v.n, 6, "4h aggregated from the stored and fetched 1h bars");
    md_bar_vec_deinit(&v);
    md_history_req r2 = req_of("MSFT", MD_IV_4H, "2024-03-04", "2024-03-05");
    v = history(&r2, MD_ENOTFOUND, NULL);
    cr_expect_eq(qt_bars_calls(), 1, "nothing stored and 4h offered by no source: not asked");
    md_bar_vec_deinit(&v);
}

Test(query_history, a_long_range_is_cut_to_the_backfill_reach)
{
    qt_open(QT_SOURCES);
    qt.cfg.sources_backfill_max_bars = 10;
    md_history_req r = req_of("AAPL", MD_IV_1D, "2020-01-01", "2024-03-11");
    md_bar_vec v = history(&r, 0, NULL);
    cr_assert_eq(qt_bars_calls(), 1);
    EXPECT_CALL(0, MD_IV_1D, "2024-03-01", "2024-03-11"); /* the newest 10 days */
    cr_expect_eq(v.n, 10);
    md_bar_vec_deinit(&v);
}

Test(query_history, a_named_source_is_asked_for_the_whole_range_and_its_error_returned)
{
    qt_open(QT_SOURCES);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-01"), qt_t("2024-03-11"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    r.source = MD_SRC_YAHOO;
    md_bar_vec v = history(&r, 0, NULL);
    cr_assert_eq(qt_bars_calls(), 1, "asked although everything is stored");
    EXPECT_CALL(0, MD_IV_1D, "2024-03-01", "2024-03-11");
    md_bar_vec_deinit(&v);
    qt.bars_rc = MD_EUNAUTHSRC;
    qt_advance_ms(3600 * 1000);
    v = history(&r, MD_EUNAUTHSRC, NULL); /* no fallback to the stored bars */
    md_bar_vec_deinit(&v);
    r.source = MD_SRC_POLYGON;
    v = history(&r, MD_EPARAM, NULL); /* not a configured provider */
    md_bar_vec_deinit(&v);
}

Test(query_history, failing_sources_leave_the_stored_answer_or_their_error)
{
    qt_open(QT_SOURCES);
    qt.bars_rc = MD_ETRANSIENT;
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-01"), qt_t("2024-03-05"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    const char *from;
    md_bar_vec v = history(&r, 0, &from);
    cr_expect_eq(v.n, 4);
    cr_expect_str_eq(from, "store");
    md_bar_vec_deinit(&v);
    md_history_req r2 = req_of("MSFT", MD_IV_1D, "2024-03-01", "2024-03-11");
    md_history h;
    md_history_init(&h);
    md_error err;
    int rc = md_query_history(&qt.svc, &r2, &h, &err);
    cr_expect(rc < 0 && md_error_http_status(rc) >= 500, "nothing stored: %s", md_error_name(rc));
    md_history_deinit(&h);
}

/* -- the cached answer (/historical) ------------------------------------------------------- */

Test(query_history, the_answer_is_cached_and_rewritten_after_a_write)
{
    qt_open(QT_CACHE);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-03-01"), qt_t("2024-03-05"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-03-01", "2024-03-11");
    md_answer a;
    md_answer_init(&a);
    md_error err;
    cr_expect_eq(md_query_history_answer(&qt.svc, &r, MD_Q_NONBLOCK, &a, &err), MD_EAGAIN);
    cr_assert_eq(md_query_history_answer(&qt.svc, &r, 0, &a, &err), 0, "%s", err.msg);
    cr_expect_str_eq(a.cache, "miss");
    md_answer_deinit(&a);
    cr_assert_eq(md_query_history_answer(&qt.svc, &r, MD_Q_NONBLOCK, &a, &err), 0);
    cr_expect_str_eq(a.cache, "l1");
    size_t len;
    cr_expect(strstr(md_answer_body(&a, &len), "\"count\":4") != NULL);
    md_answer_deinit(&a);
    /* a new bar: the cached answer is rendered again (write-through), still on L1 */
    int64_t t = qt_t("2024-03-06");
    qt_put_bars("AAPL", MD_IV_1D, &t, 1, 0);
    cr_assert_eq(md_query_history_answer(&qt.svc, &r, MD_Q_NONBLOCK, &a, &err), 0);
    cr_expect(strstr(md_answer_body(&a, &len), "\"count\":5") != NULL, "%s",
              md_answer_body(&a, &len));
    md_answer_deinit(&a);
}

/* -- analytics glue ------------------------------------------------------------------------- */

Test(query_history, indicators_warm_up_on_the_stored_bars_before_the_range)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-03-01"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-02-20", "2024-03-01");
    md_buf b = MD_BUF_INIT;
    md_error err;
    cr_assert_eq(md_query_indicators(&qt.svc, &r, "sma:5", &b, NULL, &err), 0, "%s", err.msg);
    md_buf_putc(&b, 0);
    /* the first bar of the range gets a real SMA from the four stored days before it */
    double sum = 0;
    for (int k = 0; k < 5; k++) sum += qt_close_at(MD_IV_1D, qt_t("2024-02-20") - k * 86400);
    md_buf want = MD_BUF_INIT; /* the number as the agent renders doubles */
    md_buf_puts(&want, "\"sma:5\":[");
    md_buf_num(&want, sum / 5);
    md_buf_putc(&want, 0);
    cr_expect(strstr(b.data, want.data) != NULL, "want %s in %s", want.data, b.data);
    md_buf_deinit(&want);
    cr_expect(strstr(b.data, "\"count\":10") != NULL, "%s", b.data);
    md_buf_deinit(&b);
    /* at the start of the stored history there is nothing to warm up on */
    md_buf b2 = MD_BUF_INIT;
    r = req_of("AAPL", MD_IV_1D, "2024-01-01", "2024-01-10");
    cr_assert_eq(md_query_indicators(&qt.svc, &r, "sma:5", &b2, NULL, &err), 0, "%s", err.msg);
    md_buf_putc(&b2, 0);
    cr_expect(strstr(b2.data, "\"sma:5\":[null,null,null,null,") != NULL, "%s", b2.data);
    md_buf_deinit(&b2);
}

Test(query_history, a_bad_indicator_list_is_refused_before_reading)
{
    qt_open(QT_SOURCES);
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-02-20", "2024-03-01");
    md_buf b = MD_BUF_INIT;
    md_error err;
    cr_expect_eq(md_query_indicators(&qt.svc, &r, "sma:0", &b, NULL, &err), MD_EPARAM);
    cr_expect_eq(md_query_indicators(&qt.svc, &r, "nope:3", &b, NULL, &err), MD_EPARAM);
    cr_expect_eq(qt.n_calls, 0, "no source asked for a request that cannot be answered");
    md_buf_deinit(&b);
}

Test(query_history, summary_covers_the_bars_of_the_range)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-03-01"));
    md_history_req r = req_of("AAPL", MD_IV_1D, "2024-02-01", "2024-02-11");
    md_buf b = MD_BUF_INIT;
    md_error err;
    cr_assert_eq(md_query_summary(&qt.svc, &r, &b, &err), 0, "%s", err.msg);
    md_buf_putc(&b, 0);
    char want[96];
    snprintf(want, sizeof want, "\"count\":10,\"start\":\"2024-02-01T00:00:00Z\"");
    cr_expect(strstr(b.data, want) != NULL, "%s", b.data);
    double first = qt_close_at(MD_IV_1D, qt_t("2024-02-01")),
           last = qt_close_at(MD_IV_1D, qt_t("2024-02-10"));
    md_buf w2 = MD_BUF_INIT;
    md_buf_puts(&w2, "\"first_close\":");
    md_buf_num(&w2, first);
    md_buf_puts(&w2, ",\"last_close\":");
    md_buf_num(&w2, last);
    md_buf_putc(&w2, 0);
    cr_expect(strstr(b.data, w2.data) != NULL, "want %s in %s", w2.data, b.data);
    md_buf_deinit(&w2);
    md_buf_deinit(&b);
}
