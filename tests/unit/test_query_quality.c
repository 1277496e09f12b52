/* Grading stored data (query/quality.c): which stored interval answers a /quality request,
 * 404 versus no_data, grading an aggregated interval on its finer bars, the score gauge
 * (set only for the default request), the writer's rejections counted from the store, and
 * /validate and /quality/report over the same data. Real SQLite store and writer. */
#include "core/metrics.h"
#include "query/quality.h"
#include "querytest.h"

#include <string.h>

static void fini(void)
{
    qt_close();
}

TestSuite(query_quality, .fini = fini);

static md_quality_req qreq(const char *symbol, int iv)
{
    md_quality_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.iv = iv < 0 ? MD_IV_1D : (md_interval)iv;
    r.iv_given = iv >= 0;
    r.start = MD_TS_MIN;
    r.end = MD_TS_MAX;
    r.max_issues = 20;
    r.max_failures = 1000;
    return r;
}

static int grade(md_quality_req r, md_quality_grade *g)
{
    md_error err;
    memset(g, 0, sizeof *g);
    int rc = md_query_quality(&qt.svc, &r, g, &err);
    if (rc) cr_expect(err.msg[0], "an error without a message");
    return rc;
}

/* Offers bars to the writer; returns how many it rejected (recorded as findings). */
static size_t offer(const char *symbol, md_interval iv, md_bar *v, size_t n)
{
    md_series s = {symbol, iv, v, n};
    md_write req = {.origin = MD_WRITE_INGEST, .series = &s, .n_series = 1};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    cr_assert_eq(md_writer_write(qt.svc.writer, &req, &res, &err), 0, "%s", err.msg);
    size_t rejected = res.rejected;
    md_write_result_deinit(&res);
    return rejected;
}

Test(query_quality, the_default_interval_is_daily_else_the_finest_stored)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1H, qt_t("2024-03-04"), qt_t("2024-03-05"));
    qt_put_range("AAPL", MD_IV_5M, qt_t("2024-03-04T14:00:00Z"), qt_t("2024-03-04T15:00:00Z"));
    md_quality_grade g;
    cr_assert_eq(grade(qreq("AAPL", -1), &g), 0);
    cr_expect_eq(g.iv, MD_IV_5M, "no daily bars: the finest stored");
    cr_expect_eq(g.tally.bars, 12);
    md_quality_grade_deinit(&g);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-02-01"), qt_t("2024-03-01"));
    cr_assert_eq(grade(qreq("AAPL", -1), &g), 0);
    cr_expect_eq(g.iv, MD_IV_1D, "daily bars stored: daily");
    cr_expect_eq(g.tally.bars, 29);
    md_quality_grade_deinit(&g);
}

Test(query_quality, an_unknown_symbol_is_not_found_and_quotes_alone_are_no_data)
{
    qt_open(0);
    md_quality_grade g;
    cr_expect_eq(grade(qreq("ZZZZ", -1), &g), MD_ENOTFOUND);
    qt_put_quote("QONLY", 10, -5);
    cr_expect_eq(grade(qreq("QONLY", -1), &g), MD_ENODATA, "quotes are not graded");
}

Test(query_quality, a_coarser_interval_is_graded_on_the_finer_stored_bars)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-03-01"));
    md_quality_grade g;
    cr_assert_eq(grade(qreq("AAPL", MD_IV_1W), &g), 0);
    cr_expect_eq(g.iv, MD_IV_1D, "graded on the stored 1d bars");
    cr_expect_eq(g.asked_iv, MD_IV_1W);
    md_quality_grade_deinit(&g);
    cr_expect_eq(grade(qreq("AAPL", MD_IV_1M), &g), MD_ENODATA,
                 "1m is neither stored nor made from finer bars");
}

Test(query_quality, the_gauge_is_set_by_the_default_request_only)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-03-01"));
    md_quality_grade g;
    md_quality_req r = qreq("AAPL", -1);
    r.start = qt_t("2024-02-01");
    r.start_given = 1;
    cr_assert_eq(grade(r, &g), 0);
    md_quality_grade_deinit(&g);
    cr_expect(md_metric_get(MD_M_QUALITY_SCORE, "AAPL") == 0, "a ranged grade is not the gauge");
    cr_assert_eq(grade(qreq("AAPL", -1), &g), 0);
    cr_expect_gt(g.score.score, 0);
    cr_expect(md_metric_get(MD_M_QUALITY_SCORE, "AAPL") == g.score.score);
    md_quality_grade_deinit(&g);
}

Test(query_quality, the_writers_rejections_count_against_validity_and_are_listed)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-03-01"));
    md_quality_grade clean;
    cr_assert_eq(grade(qreq("AAPL", -1), &clean), 0);
    md_bar bad[2];
    for (int i = 0; i < 2; i++) {
        md_bar_init(&bad[i]);
        bad[i].ts = qt_t("2024-03-01") + i * 86400;
        bad[i].open = bad[i].close = 100;
        bad[i].high = 90; /* high below low: a hard rule */
        bad[i].low = 95;
        bad[i].volume = 10;
        bad[i].source = MD_SRC_CSV;
    }
    cr_assert_eq(offer("AAPL", MD_IV_1D, bad, 2), 2);
    md_quality_grade g;
    cr_assert_eq(grade(qreq("AAPL", -1), &g), 0);
    cr_expect_eq(g.tally.rejected, 2);
    cr_expect_eq(g.tally.bars, clean.tally.bars, "rejected bars are not stored");
    cr_expect_eq(clean.score.dim[MD_QDIM_VALIDITY], 100);
    cr_expect_lt(g.score.dim[MD_QDIM_VALIDITY], 100, "two rejections lower validity");
    cr_expect_lt(g.score.score, clean.score.score);
    md_quality_grade_deinit(&g);
    md_quality_grade_deinit(&clean);

    md_validate_result vr;
    md_error err;
    cr_assert_eq(md_query_validate(&qt.svc,
                                   &(md_quality_req){.symbol = "AAPL",
                                                     .iv = MD_IV_1D,
                                                     .iv_given = 1,
                                                     .start = MD_TS_MIN,
                                                     .end = MD_TS_MAX,
                                                     .max_failures = 1000},
                                   &vr, &err),
                 0, "%s", err.msg);
    cr_expect_eq(vr.checked, 60);
    cr_expect_eq(vr.rejected, 2);
    size_t stored = 0;
    for (size_t i = 0; i < vr.n; i++) stored += vr.v[i].stored;
    cr_expect_eq(stored, 2, "the rejected deliveries are listed");
    md_validate_result_deinit(&vr);
}

Test(query_quality, the_report_grades_every_stored_series)
{
    qt_open(0);
    qt_put_range("AAPL", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-03-01"));
    qt_put_range("AAPL", MD_IV_1H, qt_t("2024-03-04"), qt_t("2024-03-05"));
    qt_put_range("MSFT", MD_IV_1D, qt_t("2024-01-01"), qt_t("2024-02-01"));
    md_quality_req r = qreq("", -1);
    r.symbol[0] = 0;
    md_quality_grade *g = NULL;
    size_t n = 0;
    md_error err;
    cr_assert_eq(md_query_quality_report(&qt.svc, &r, &g, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 3, "one row per symbol and interval");
    for (size_t i = 1; i < n; i++)
        cr_expect_leq(g[i - 1].score.score, g[i].score.score, "worst first");
    md_quality_grades_free(g, n);
    r.iv = MD_IV_1H;
    r.iv_given = 1;
    cr_assert_eq(md_query_quality_report(&qt.svc, &r, &g, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 1, "?interval= filters");
    cr_expect_str_eq(g[0].symbol, "AAPL");
    md_quality_grades_free(g, n);
}
