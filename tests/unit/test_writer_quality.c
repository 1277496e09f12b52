/* The writer judges every bar on the way in (ingest/writer.c with quality/): scores stored
 * with the bars, findings recorded in the store with the right rule on the right bar, also
 * when a series arrives bar by bar, rejections recorded, versions from another source
 * compared, and validate-only storing nothing. */
#include "core/metrics.h"
#include "core/timefmt.h"
#include "ingest/writer.h"
#include "sample_bars.h"
#include "testutil.h"

#include <criterion/criterion.h>

static md_store *st;
static md_writer *w;

static void setup(void)
{
    const char *p = md_test_path("writer_quality.db");
    unlink(p);
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    w = md_writer_new(st);
}

static void teardown(void)
{
    md_writer_free(w);
    md_store_close(st);
}

TestSuite(writer_quality, .init = setup, .fini = teardown);

static void ingest(const char *sym, md_bar *bars, size_t n, int validate_only, md_write_result *res)
{
    md_series s = {sym, MD_IV_1D, bars, n};
    md_error err;
    md_write_result_init(res, 0);
    res->collect_findings = 1;
    md_write req = {.origin = MD_WRITE_INGEST,
                    .flags = validate_only ? MD_WRITE_VALIDATE_ONLY : 0,
                    .series = &s,
                    .n_series = 1};
    cr_assert_eq(md_writer_write(w, &req, res, &err), 0, "%s", err.msg);
}

static int64_t day(const char *d)
{
    int64_t ts;
    md_time_parse_str(d, &ts, NULL);
    return ts;
}

static size_t stored_findings(const char *sym, int rule, int64_t ts)
{
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    md_store_get_quality_events(st, sym, MD_IV_1D, ts, ts + 1, rule, 0, &v, NULL);
    size_t n = v.n;
    md_qevent_vec_deinit(&v);
    return n;
}

static float stored_quality(const char *sym, int64_t ts)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, sym, MD_IV_1D, ts, ts + 1, 0, &v, NULL), 1);
    float q = v.v[0].quality;
    md_bar_vec_deinit(&v);
    return q;
}

#define JUMP MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP)
#define GAP MD_QRULE_SOFT(MD_CHECK_GAP)

static void msft_with_spike(md_bar_vec *v, long *spike)
{
    md_bar_vec_init(v);
    md_test_sample_bars("MSFT", v);
    *spike = md_test_find_day(v, "2001-03-01");
    v->v[*spike].close *= 1.5;
    v->v[*spike].high = v->v[*spike].close;
}

Test(writer_quality, every_stored_bar_carries_its_score_and_findings_are_recorded)
{
    md_bar_vec v;
    long spike;
    msft_with_spike(&v, &spike);
    md_write_result res;
    ingest("MSFT", v.v, v.n, 0, &res);
    cr_assert_eq(res.stored, 249);
    md_bar_vec got;
    md_bar_vec_init(&got);
    md_store_get_bars(st, "MSFT", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &got, NULL);
    size_t clean = 0;
    for (size_t i = 0; i < got.n; i++) {
        cr_assert(got.v[i].quality >= 0 && got.v[i].quality <= 100);
        clean += got.v[i].quality == 100;
    }
    cr_assert(clean >= 245, "%zu clean bars", clean);
    cr_assert(stored_quality("MSFT", v.v[spike].ts) <= 80, "the spike bar scores low");
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike].ts), 1);
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike + 1].ts), 0);
    cr_assert_eq(stored_findings("MSFT", GAP, day("2001-09-17")), 1);
    cr_assert(stored_quality("MSFT", day("2001-09-17")) < 100);
    /* the findings came back to the caller too, with the input index of their bar */
    int seen = 0;
    for (size_t i = 0; i < res.n_findings; i++)
        if (res.findings[i].ev.rule == JUMP && res.findings[i].ev.ts == v.v[spike].ts) {
            cr_assert_eq(res.findings[i].index, (size_t)spike);
            seen = 1;
        }
    cr_assert(seen);
    md_write_result_deinit(&res);
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&v);
}

Test(writer_quality, a_series_arriving_bar_by_bar_is_judged_against_the_stored_bars)
{
    md_bar_vec v;
    long spike;
    msft_with_spike(&v, &spike);
    for (size_t i = 0; i < v.n; i++) {
        md_write_result res;
        md_bar b = v.v[i];
        ingest("MSFT", &b, 1, 0, &res);
        md_write_result_deinit(&res);
    }
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike].ts), 1);
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike + 1].ts), 0);
    cr_assert_eq(stored_findings("MSFT", GAP, day("2001-09-17")), 1);
    cr_assert(stored_quality("MSFT", v.v[spike].ts) <= 80);
    md_bar_vec_deinit(&v);
}

Test(writer_quality, a_corrected_bar_loses_its_old_finding)
{
    md_bar_vec v;
    long spike;
    msft_with_spike(&v, &spike);
    md_write_result res;
    ingest("MSFT", v.v, v.n, 0, &res);
    md_write_result_deinit(&res);
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike].ts), 1);
    md_bar_vec clean;
    md_bar_vec_init(&clean);
    md_test_sample_bars("MSFT", &clean);
    md_bar fixed = clean.v[spike];
    ingest("MSFT", &fixed, 1, 0, &res);
    md_write_result_deinit(&res);
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike].ts), 0);
    cr_assert_float_eq(stored_quality("MSFT", v.v[spike].ts), 100, 1e-6);
    md_bar_vec_deinit(&clean);
    md_bar_vec_deinit(&v);
}

Test(writer_quality, rejected_bars_are_recorded_for_validity)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_test_sample_bars("MSFT", &v);
    long i = md_test_find_day(&v, "2001-02-01");
    v.v[i].low = v.v[i].high + 1;
    double before = md_metric_get(MD_M_INGEST_REJECTED, "high_below_low");
    md_write_result res;
    ingest("MSFT", v.v, v.n, 0, &res);
    cr_assert_eq(res.rejected, 1);
    cr_assert_eq(res.stored, 248);
    cr_assert_eq(md_metric_get(MD_M_INGEST_REJECTED, "high_below_low"), before + 1);
    cr_assert_eq(stored_findings("MSFT", MD_RULE_HIGH_LOW, day("2001-02-01")), 1);
    md_write_result_deinit(&res);
    md_bar_vec_deinit(&v);
}

Test(writer_quality, a_series_with_every_bar_rejected_is_still_recorded)
{
    md_bar b;
    md_bar_init(&b);
    b.ts = day("2001-02-01");
    b.open = b.high = b.low = b.close = -5;
    md_write_result res;
    ingest("BAD", &b, 1, 0, &res);
    cr_assert_eq(res.stored, 0);
    cr_assert_eq(stored_findings("BAD", MD_RULE_NONPOSITIVE, b.ts), 1);
    md_write_result_deinit(&res);
}

static md_bar flat(const char *d, double c, int src)
{
    md_bar b;
    md_bar_init(&b);
    b.ts = day(d);
    b.open = b.high = b.low = b.close = c;
    b.volume = 100;
    b.source = (uint8_t)src;
    return b;
}

Test(writer_quality, another_sources_version_is_compared)
{
    md_bar a = flat("2024-03-01", 100, MD_SRC_CSV);
    md_write_result res;
    ingest("CMP", &a, 1, 0, &res);
    md_write_result_deinit(&res);
    md_bar same = flat("2024-03-01", 100, MD_SRC_YAHOO);
    ingest("CMP", &same, 1, 0, &res);
    cr_assert_eq(res.n_findings, 0, "agreeing sources");
    md_write_result_deinit(&res);
    md_bar far = flat("2024-03-01", 103, MD_SRC_POLYGON);
    ingest("CMP", &far, 1, 0, &res);
    md_write_result_deinit(&res);
    cr_assert_eq(stored_findings("CMP", MD_QRULE_SOFT(MD_CHECK_DISAGREEMENT), a.ts), 1);
    cr_assert(stored_quality("CMP", a.ts) < 100);
    md_bar near = flat("2024-03-01", 103.1, MD_SRC_FINNHUB);
    ingest("CMP", &near, 1, 0, &res);
    md_write_result_deinit(&res);
    cr_assert_eq(stored_findings("CMP", MD_QRULE_SOFT(MD_CHECK_DUPLICATE), a.ts), 1);
    cr_assert_eq(stored_findings("CMP", MD_QRULE_SOFT(MD_CHECK_DISAGREEMENT), a.ts), 0,
                 "the bar was rewritten: the older finding went with it");
}

Test(writer_quality, the_same_bar_twice_in_one_delivery_is_a_duplicate)
{
    md_bar b[3] = {flat("2024-03-01", 100, MD_SRC_INGEST), flat("2024-03-04", 101, MD_SRC_INGEST),
                   flat("2024-03-01", 100.5, MD_SRC_INGEST)};
    md_write_result res;
    ingest("DUP", b, 3, 0, &res);
    cr_assert_eq(res.stored, 3, "upserted: the last one wins");
    md_write_result_deinit(&res);
    cr_assert_eq(md_store_count_bars(st, "DUP", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 2);
    cr_assert_eq(stored_findings("DUP", MD_QRULE_SOFT(MD_CHECK_DUPLICATE), b[0].ts), 1);
    cr_assert_float_eq(stored_quality("DUP", b[0].ts), 95, 1e-4);
}

Test(writer_quality, validate_only_stores_nothing_and_judges_blocks_as_a_whole)
{
    md_bar_vec v;
    long spike;
    msft_with_spike(&v, &spike);
    size_t half = (size_t)spike - 2; /* the spike lands in the second block */
    md_write_result r1, r2;
    ingest("MSFT", v.v, half, 1, &r1);
    ingest("MSFT", v.v + half, v.n - half, 1, &r2);
    cr_assert_eq(md_store_count_bars(st, "MSFT", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 0);
    cr_assert_eq(r1.stored + r2.stored, 0);
    cr_assert_eq(stored_findings("MSFT", JUMP, v.v[spike].ts), 0, "nothing recorded");
    int seen = 0;
    for (size_t i = 0; i < r2.n_findings; i++)
        if (r2.findings[i].ev.rule == JUMP) {
            cr_assert_eq(r2.findings[i].ev.ts, v.v[spike].ts);
            cr_assert_eq(r2.findings[i].index, (size_t)spike - half);
            seen = 1;
        }
    cr_assert(seen, "the second block was judged with the first as context");
    cr_assert(v.v[spike].quality <= 80, "scores are filled in validate-only mode too");
    md_write_result_deinit(&r1);
    md_write_result_deinit(&r2);
    md_bar_vec_deinit(&v);
}

Test(writer_quality, a_current_bar_makes_the_series_live)
{
    int64_t now = md_now();
    md_bar b;
    md_bar_init(&b);
    b.ts = md_interval_floor(MD_IV_1M, now) - 120;
    b.open = b.high = b.low = b.close = 10;
    md_series s = {"LIVE", MD_IV_1M, &b, 1};
    md_write_result res;
    md_write_result_init(&res, 0);
    md_error err;
    md_write req = {.origin = MD_WRITE_FEED, .series = &s, .n_series = 1};
    cr_assert_eq(md_writer_write(w, &req, &res, &err), 0);
    md_write_result_deinit(&res);
    int64_t ts;
    cr_assert_eq(md_store_get_live(st, "LIVE", MD_IV_1M, &ts, &err), 0);
    cr_assert_eq(ts, b.ts);
    /* history loaded from a file does not */
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_test_sample_bars("MSFT", &v);
    ingest("MSFT", v.v, v.n, 0, &res);
    md_write_result_deinit(&res);
    cr_assert_eq(md_store_get_live(st, "MSFT", MD_IV_1D, &ts, &err), MD_ENODATA);
    md_bar_vec_deinit(&v);
}

#define OFF_SESSION MD_QRULE_SOFT(MD_CHECK_OFF_SESSION)

static size_t count_rule(const md_write_result *res, int rule)
{
    size_t k = 0;
    for (size_t i = 0; i < res->n_findings; i++) k += res->findings[i].ev.rule == rule;
    return k;
}

/* With the symbols' exchange calendars (as services gives the writer) the 2001 closure
 * after September 11 is no gap - the same year's bars that the learned calendar above
 * flags on 2001-09-17 - while a session really missing is, and a bar on a holiday is
 * off_session. */
Test(writer_quality, with_exchange_calendars_a_closure_is_no_gap_and_a_missing_session_is)
{
    md_cal_map *cals;
    md_error err;
    cr_assert_eq(md_cal_map_new(NULL, &cals, &err), 0, "%s", err.msg);
    md_writer_set_calendars(w, cals);

    md_bar_vec v;
    md_bar_vec_init(&v);
    md_test_sample_bars("MSFT", &v);
    /* drop three real sessions: 2001-06-05..07 */
    long a = md_test_find_day(&v, "2001-06-05");
    cr_assert_eq(md_test_find_day(&v, "2001-06-07"), a + 2);
    memmove(v.v + a, v.v + a + 3, (v.n - (size_t)a - 3) * sizeof *v.v);
    v.n -= 3;
    /* and add a bar on Independence Day, a copy of July 3rd's */
    long j3 = md_test_find_day(&v, "2001-07-03");
    md_bar copy = v.v[j3];
    md_bar_vec_push(&v, &copy);
    memmove(v.v + j3 + 2, v.v + j3 + 1, (v.n - (size_t)j3 - 2) * sizeof *v.v);
    copy.ts = day("2001-07-04");
    v.v[j3 + 1] = copy;

    md_write_result res;
    ingest("MSFT", v.v, v.n, 0, &res);
    cr_assert_eq(stored_findings("MSFT", GAP, day("2001-09-17")), 0, "the closure is no gap");
    cr_assert_eq(stored_quality("MSFT", day("2001-09-17")), 100);
    cr_assert_eq(stored_findings("MSFT", GAP, day("2001-06-08")), 1, "three sessions missing");
    cr_assert_eq(count_rule(&res, GAP), 1, "no other gap: every holiday of 2001 is known");
    cr_assert_eq(stored_findings("MSFT", OFF_SESSION, day("2001-07-04")), 1);
    cr_assert_eq(count_rule(&res, OFF_SESSION), 1);
    md_write_result_deinit(&res);
    md_bar_vec_deinit(&v);
}
