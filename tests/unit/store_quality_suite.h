/* store_quality_suite.h - the quality findings and live marks of store.h, run against every
 * backend (test_store_quality.c: sqlite, test_store_quality_pg.c: PostgreSQL). Before
 * including, the file defines QSUITE (the Criterion suite name) and
 *   static void suite_url(char *url, size_t n)   a fresh, empty store URL for one test
 *   static void suite_drop(const char *url)      removes it after the test */
#ifndef MD_STORE_QUALITY_SUITE_H
#define MD_STORE_QUALITY_SUITE_H

#include "core/mem.h"
#include "core/timefmt.h"
#include "store/store.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <math.h>

#define QSUITE_TEST_(suite, name) Test(suite, name, .init = setup, .fini = teardown)
#define QSUITE_TEST__(suite, name) QSUITE_TEST_(suite, name)
#define QSUITE_TEST(name) QSUITE_TEST__(QSUITE, name)

static md_store *st;
static char url[600];

static void setup(void)
{
    suite_url(url, sizeof url);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    md_store_close(st);
    suite_drop(url);
}

static md_qevent E(int64_t ts, int rule, float sev, const char *detail)
{
    md_qevent e;
    memset(&e, 0, sizeof e);
    e.ts = ts;
    e.rule = (int16_t)rule;
    e.severity = sev;
    e.value = 7.5;
    e.limit = 6;
    e.source = MD_SRC_CSV;
    e.other_source = MD_SRC_YAHOO;
    snprintf(e.detail, sizeof e.detail, "%s", detail);
    return e;
}

#define JUMP MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP)
#define GAP MD_QRULE_SOFT(MD_CHECK_GAP)

QSUITE_TEST(findings_round_trip_in_order)
{
    md_qevent ev[3] = {E(300, GAP, 0.4, "gap"), E(100, JUMP, 0.7, "jump one"),
                       E(100, MD_RULE_HIGH_LOW, 1, "high 9 < low 10")};
    md_error err;
    cr_assert_eq(md_store_put_quality_events(st, "AAA", MD_IV_1D, ev, 3, NULL, 0, &err), 3, "%s",
                 err.msg);
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    cr_assert_eq(
        md_store_get_quality_events(st, "AAA", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, -1, 0, &v, &err), 3);
    cr_assert_eq(v.v[0].ts, 100);
    cr_assert_eq(v.v[2].ts, 300);
    cr_assert_eq(v.v[2].rule, GAP);
    const md_qevent *j = v.v[0].rule == JUMP ? &v.v[0] : &v.v[1];
    cr_assert_eq(j->rule, JUMP);
    cr_assert_float_eq(j->severity, 0.7, 1e-6);
    cr_assert_eq(j->value, 7.5);
    cr_assert_eq(j->limit, 6);
    cr_assert_eq(j->source, MD_SRC_CSV);
    cr_assert_eq(j->other_source, MD_SRC_YAHOO);
    cr_assert_str_eq(j->detail, "jump one");
    md_qevent_vec_deinit(&v);
    /* range edges, one rule, the newest with a limit, other intervals and symbols apart */
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 100, 300, -1, 0, &v, NULL), 2);
    md_qevent_vec_deinit(&v);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, GAP, 0, &v, NULL), 1);
    md_qevent_vec_deinit(&v);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, -1, 1, &v, NULL), 1);
    cr_assert_eq(v.v[0].ts, 300);
    md_qevent_vec_deinit(&v);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1H, 0, 1000, -1, 0, &v, NULL), 0);
    cr_assert_eq(md_store_get_quality_events(st, "BBB", MD_IV_1D, 0, 1000, -1, 0, &v, NULL), 0);
}

QSUITE_TEST(same_rule_on_same_bar_replaces)
{
    md_qevent a = E(100, JUMP, 0.6, "first"), b = E(100, JUMP, 0.9, "second");
    cr_assert_eq(md_store_put_quality_events(st, "AAA", MD_IV_1D, &a, 1, NULL, 0, NULL), 1);
    cr_assert_eq(md_store_put_quality_events(st, "AAA", MD_IV_1D, &b, 1, NULL, 0, NULL), 1);
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, -1, 0, &v, NULL), 1);
    cr_assert_str_eq(v.v[0].detail, "second");
    md_qevent_vec_deinit(&v);
    /* twice in one call: the later one wins */
    md_qevent two[3] = {E(200, GAP, 0.3, "earlier"), E(100, JUMP, 0.2, "jump"),
                        E(200, GAP, 0.8, "later")};
    cr_assert_geq(md_store_put_quality_events(st, "AAA", MD_IV_1D, two, 3, NULL, 0, NULL), 0);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, -1, 0, &v, NULL), 2);
    cr_assert_str_eq(v.v[0].detail, "jump");
    cr_assert_str_eq(v.v[1].detail, "later");
    cr_assert_float_eq(v.v[1].severity, 0.8, 1e-6);
    cr_assert_eq(v.v[1].limit, 6);
    md_qevent_vec_deinit(&v);
}

QSUITE_TEST(rewritten_bars_lose_their_old_findings)
{
    md_qevent ev[4] = {E(100, JUMP, 0.6, "a"), E(200, JUMP, 0.6, "b"),
                       E(200, MD_RULE_FUTURE, 1, "c"), E(300, GAP, 0.2, "d")};
    cr_assert_eq(md_store_put_quality_events(st, "AAA", MD_IV_1D, ev, 4, NULL, 0, NULL), 4);
    int64_t clear[2] = {200, 300};
    md_qevent again = E(300, JUMP, 0.5, "new");
    cr_assert_eq(md_store_put_quality_events(st, "AAA", MD_IV_1D, &again, 1, clear, 2, NULL), 1);
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, -1, 0, &v, NULL), 2);
    cr_assert_eq(v.v[0].ts, 100);
    cr_assert_str_eq(v.v[1].detail, "new");
    md_qevent_vec_deinit(&v);
    /* clearing alone */
    int64_t c1 = 100;
    cr_assert_eq(md_store_put_quality_events(st, "AAA", MD_IV_1D, NULL, 0, &c1, 1, NULL), 0);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, -1, 0, &v, NULL), 1);
    md_qevent_vec_deinit(&v);
}

QSUITE_TEST(counts_per_rule_and_series_list)
{
    md_qevent ev[4] = {E(100, JUMP, 0.5, ""), E(200, JUMP, 1, ""), E(200, MD_RULE_HIGH_LOW, 1, ""),
                       E(900, JUMP, 1, "")};
    md_store_put_quality_events(st, "BBB", MD_IV_1M, ev, 4, NULL, 0, NULL);
    md_store_put_quality_events(st, "AAA", MD_IV_1D, ev, 1, NULL, 0, NULL);
    int64_t count[MD_QRULE_COUNT];
    double sev[MD_QRULE_COUNT];
    md_error err;
    cr_assert_eq(md_store_count_quality_events(st, "BBB", MD_IV_1M, 0, 900, count, sev, &err), 0);
    cr_assert_eq(count[JUMP], 2);
    cr_assert_float_eq(sev[JUMP], 1.5, 1e-9);
    cr_assert_eq(count[MD_RULE_HIGH_LOW], 1);
    cr_assert_eq(count[GAP], 0);
    md_symbol_info *s = NULL;
    int n = md_store_list_quality_series(st, &s, &err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(s[0].symbol, "AAA");
    cr_assert_str_eq(s[1].symbol, "BBB");
    cr_assert_eq(s[1].iv, MD_IV_1M);
    cr_assert_eq(s[1].count, 4);
    cr_assert_eq(s[1].first_ts, 100);
    cr_assert_eq(s[1].last_ts, 900);
    md_free(s);
}

QSUITE_TEST(live_marks_keep_the_newest)
{
    int64_t ts = 0;
    md_error err;
    cr_assert_eq(md_store_get_live(st, "AAA", MD_IV_1M, &ts, &err), MD_ENODATA);
    cr_assert_eq(md_store_mark_live(st, "AAA", MD_IV_1M, 6000, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_mark_live(st, "AAA", MD_IV_1M, 3000, &err), 0);
    cr_assert_eq(md_store_get_live(st, "AAA", MD_IV_1M, &ts, &err), 0);
    cr_assert_eq(ts, 6000);
    cr_assert_eq(md_store_get_live(st, "AAA", MD_IV_1D, &ts, &err), MD_ENODATA);
}

QSUITE_TEST(findings_survive_reopening)
{
    md_qevent e = E(100, GAP, 0.4, "kept");
    md_store_put_quality_events(st, "AAA", MD_IV_1D, &e, 1, NULL, 0, NULL);
    md_store_close(st);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    cr_assert_eq(md_store_get_quality_events(st, "AAA", MD_IV_1D, 0, 1000, -1, 0, &v, NULL), 1);
    cr_assert_str_eq(v.v[0].detail, "kept");
    md_qevent_vec_deinit(&v);
}

#endif
