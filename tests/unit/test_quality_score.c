/* Scores, grades and timeliness (quality/score.c, quality/calendar.c) on plain arrays. */
#include "core/render.h"
#include "quality/quality.h"

#include <criterion/criterion.h>
#include <math.h>

#define DAY 86400
#define MON_2024_01_01 1704067200

static md_quality_params P(void)
{
    md_quality_params p;
    md_quality_params_default(&p);
    return p;
}

static md_qevent ev(int rule, float sev, double value)
{
    md_qevent e;
    memset(&e, 0, sizeof e);
    e.rule = (int16_t)rule;
    e.severity = sev;
    e.value = value;
    return e;
}

Test(quality_grade, default_table_edges)
{
    static const struct {
        double s;
        const char *g;
    } t[] = {{100, "A+"},   {97, "A+"},   {96.999, "A"}, {93, "A"},  {92.99, "A-"},
             {90, "A-"},    {89.9, "B+"}, {87, "B+"},    {83, "B"},  {80, "B-"},
             {79.99, "C+"}, {77, "C+"},   {73, "C"},     {70, "C-"}, {67, "D+"},
             {66.9, "D"},   {60, "D"},    {59.99, "F"},  {0, "F"},   {-1, "N/A"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_assert_str_eq(md_grade_for_score(t[i].s), t[i].g, "score %g", t[i].s);
}

Test(quality_grade, thresholds_parse_and_apply)
{
    double t[MD_GRADE_STEPS], def[MD_GRADE_STEPS];
    md_error err;
    cr_assert_eq(md_grade_parse_thresholds("97,93,90,87,83,80,77,73,70,67,60", def, &err), 0);
    cr_assert_eq(md_grade_parse_thresholds("99, 95,90,85,80,75,70,65,60,55,50", t, &err), 0);
    md_grade_set_thresholds(t);
    cr_assert_str_eq(md_grade_for_score(97), "A");
    cr_assert_str_eq(md_grade_for_score(52), "D");
    cr_assert_str_eq(md_grade_for_score(49), "F");
    md_grade_set_thresholds(def);
    cr_assert_str_eq(md_grade_for_score(97), "A+");
    cr_assert_eq(md_grade_parse_thresholds("97,93,90", t, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "11"), "%s", err.msg);
    cr_assert_eq(md_grade_parse_thresholds("97,93,95,87,83,80,77,73,70,67,60", t, &err),
                 MD_ECONFIG);
    cr_assert(strstr(err.msg, "descend"), "%s", err.msg);
    cr_assert_eq(md_grade_parse_thresholds("101,93,90,87,83,80,77,73,70,67,60", t, &err),
                 MD_ECONFIG);
    cr_assert_eq(md_grade_parse_thresholds("97,93,x,87,83,80,77,73,70,67,60", t, &err), MD_ECONFIG);
    cr_assert_eq(md_grade_parse_thresholds("97,93,90,87,83,80,77,73,70,67,60,50", t, &err),
                 MD_ECONFIG);
    cr_assert_eq(md_grade_parse_thresholds("", t, &err), MD_ECONFIG);
}

Test(quality_score, clean_range_is_100)
{
    md_quality_params p = P();
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = 250;
    md_quality_score s;
    md_quality_score_tally(&p, &t, 100, &s);
    cr_assert_float_eq(s.score, 100, 1e-9);
    cr_assert_str_eq(s.grade, "A+");
    for (int d = 0; d < MD_QDIM_COUNT; d++) cr_assert_float_eq(s.dim[d], 100, 1e-9);
}

Test(quality_score, each_dimension_formula)
{
    md_quality_params p = P(); /* defect tolerance 3%, gap tolerance 10% */
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = 100;
    md_qevent e = ev(MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP), 1, 20);
    md_quality_tally_add(&t, &e); /* accuracy 1% */
    e = ev(MD_QRULE_SOFT(MD_CHECK_STALE_PRICE), 0.5, 5);
    md_quality_tally_add(&t, &e); /* consistency 0.5% */
    e = ev(MD_QRULE_SOFT(MD_CHECK_GAP), 0.4, 4);
    md_quality_tally_add(&t, &e); /* 4 missing of 104 */
    e = ev(MD_RULE_HIGH_LOW, 1, 0);
    md_quality_tally_add(&t, &e); /* 1 rejected of 101 */
    e = ev(MD_QRULE_SOFT(MD_CHECK_DUPLICATE), 1, 0);
    md_quality_tally_add(&t, &e);
    md_quality_tally_add(&t, &e); /* 2% */
    cr_assert_eq(t.rejected, 1);
    cr_assert_eq(t.missing, 4);
    cr_assert_eq(t.count[MD_QRULE_SOFT(MD_CHECK_DUPLICATE)], 2);
    md_quality_score s;
    md_quality_score_tally(&p, &t, 50, &s);
    cr_assert_float_eq(s.dim[MD_QDIM_ACCURACY], 100 * (1 - 0.01 / 0.03), 1e-9);
    cr_assert_float_eq(s.dim[MD_QDIM_CONSISTENCY], 100 * (1 - 0.005 / 0.03), 1e-9);
    cr_assert_float_eq(s.dim[MD_QDIM_COMPLETENESS], 100 * (1 - (4.0 / 104) / 0.10), 1e-9);
    cr_assert_float_eq(s.dim[MD_QDIM_VALIDITY], 100 * (1 - (1.0 / 101) / 0.03), 1e-9);
    cr_assert_float_eq(s.dim[MD_QDIM_UNIQUENESS], 100 * (1 - 0.02 / 0.03), 1e-9);
    cr_assert_float_eq(s.dim[MD_QDIM_TIMELINESS], 50, 1e-9);
    double want = 0.25 * s.dim[0] + 0.20 * s.dim[1] + 0.20 * s.dim[2] + 0.15 * s.dim[3] +
                  0.15 * s.dim[4] + 0.05 * s.dim[5];
    cr_assert_float_eq(s.score, want, 1e-9);
    cr_assert_str_eq(s.grade, md_grade_for_score(want));
}

Test(quality_score, the_grade_is_that_of_the_score_as_reported)
{
    md_quality_params p = P();
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = 331;
    md_qevent e = ev(MD_RULE_HIGH_LOW, 1, 0);
    md_quality_tally_add(&t, &e);
    md_quality_tally_add(&t, &e); /* validity 100 * (1 - (2 / 333) / 0.03): 79.98 */
    md_quality_score s;
    md_quality_score_tally(&p, &t, 100, &s);
    double want = 100 - 0.15 * 100 * (2.0 / 333) / 0.03; /* 96.997 */
    cr_assert_float_eq(s.score, want, 1e-9);
    cr_assert_float_eq(round(s.score * 100) / 100, 97, 1e-12, "reported as 97");
    cr_assert_str_eq(s.grade, "A+", "97 is the minimum of A+");
}

Test(quality_score, a_dimension_bottoms_out_at_the_tolerance)
{
    md_quality_params p = P();
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = 100;
    md_qevent e = ev(MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP), 1, 20);
    for (int i = 0; i < 3; i++) md_quality_tally_add(&t, &e);
    md_quality_score s;
    md_quality_score_tally(&p, &t, 100, &s);
    cr_assert_float_eq(s.dim[MD_QDIM_ACCURACY], 0, 1e-9);
    for (int i = 0; i < 10; i++) md_quality_tally_add(&t, &e);
    md_quality_score_tally(&p, &t, 100, &s);
    cr_assert_float_eq(s.dim[MD_QDIM_ACCURACY], 0, 1e-9, "never below 0");
    cr_assert_float_eq(s.score, 80, 1e-9);
}

Test(quality_score, weights_are_configurable_and_normalised)
{
    md_quality_params p = P();
    for (int d = 0; d < MD_QDIM_COUNT; d++) p.weight[d] = 0;
    p.weight[MD_QDIM_ACCURACY] = 0.5; /* alone: the score is accuracy */
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = 100;
    md_qevent e = ev(MD_QRULE_SOFT(MD_CHECK_VOLUME_OUTLIER), 1, 20);
    md_quality_tally_add(&t, &e);
    md_quality_score s;
    md_quality_score_tally(&p, &t, 100, &s);
    cr_assert_float_eq(s.score, s.dim[MD_QDIM_ACCURACY], 1e-9);
    cr_assert(s.score < 70);
}

Test(quality_score, nothing_present)
{
    md_quality_params p = P();
    md_quality_tally t;
    md_quality_tally_init(&t);
    md_quality_score s;
    md_quality_score_tally(&p, &t, 100, &s);
    cr_assert_eq(s.score, -1);
    cr_assert_str_eq(s.grade, "N/A");
    md_qevent e = ev(MD_RULE_FUTURE, 1, 0);
    md_quality_tally_add(&t, &e);
    md_quality_score_tally(&p, &t, 100, &s);
    cr_assert_eq(s.score, 0, "only rejected bars: F");
    cr_assert_str_eq(s.grade, "F");
}

Test(quality_score, bar_score_from_its_findings)
{
    md_quality_params p = P();
    cr_assert_float_eq(md_quality_bar_score(&p, NULL, 0), 100, 1e-6);
    md_qevent e[3] = {ev(MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP), 1, 20),
                      ev(MD_QRULE_SOFT(MD_CHECK_VOLUME_OUTLIER), 0.5, 10),
                      ev(MD_QRULE_SOFT(MD_CHECK_GAP), 0.4, 4)};
    cr_assert_float_eq(md_quality_bar_score(&p, e, 1), 80, 1e-4);
    cr_assert_float_eq(md_quality_bar_score(&p, e + 1, 1), 90, 1e-4);
    /* worst per dimension, not summed: accuracy 0, completeness 60 */
    cr_assert_float_eq(md_quality_bar_score(&p, e, 3), 100 - 20 - 10, 1e-4);
}

/* -- timeliness -------------------------------------------------------------------------- */

static void weekday_bars(md_bar_vec *v, int days)
{
    md_bar_vec_init(v);
    for (int d = 0; d < days; d++) {
        if (d % 7 >= 5) continue;
        md_bar b;
        md_bar_init(&b);
        b.ts = MON_2024_01_01 + (int64_t)d * DAY;
        b.open = b.high = b.low = b.close = 100;
        md_bar_vec_push(v, &b);
    }
}

Test(quality_timeliness, historical_data_is_not_judged_by_age)
{
    md_quality_params p = P();
    md_bar_vec v;
    weekday_bars(&v, 60);
    md_calendar c;
    md_calendar_learn(&c, MD_IV_1D, v.v, v.n);
    int64_t lag;
    cr_assert_eq(md_quality_timeliness(&p, &c, 0, v.v[v.n - 1].ts, 1900000000, &lag), 100);
    md_calendar_deinit(&c);
    md_bar_vec_deinit(&v);
}

Test(quality_timeliness, live_daily_series_lag_counts_trading_days_only)
{
    md_quality_params p = P(); /* grace 1, zero at 1 + 10 */
    md_bar_vec v;
    weekday_bars(&v, 61); /* ends Friday day 60 */
    int64_t fri = v.v[v.n - 1].ts;
    cr_assert_eq(md_calendar_weekday(fri / DAY), 4);
    md_calendar c;
    md_calendar_learn(&c, MD_IV_1D, v.v, v.n);
    int64_t lag;
    /* Monday noon: Saturday and Sunday do not count, Monday has not ended */
    cr_assert_eq(md_quality_timeliness(&p, &c, 1, fri, fri + 3 * DAY + 43200, &lag), 100);
    cr_assert_eq(lag, 0);
    /* Wednesday 00:00: Monday and Tuesday ended without bars */
    double t = md_quality_timeliness(&p, &c, 1, fri, fri + 5 * DAY, &lag);
    cr_assert_eq(lag, 2);
    cr_assert_float_eq(t, 90, 1e-9);
    /* three weeks later: 0 */
    cr_assert_eq(md_quality_timeliness(&p, &c, 1, fri, fri + 21 * DAY, &lag), 0);
    cr_assert_eq(lag, 14, "two weeks and Monday-Thursday of the third");
    md_calendar_deinit(&c);
    md_bar_vec_deinit(&v);
}

Test(quality_timeliness, live_intraday_nights_do_not_count)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_bar_vec_init(&v);
    for (int d = 0; d < 3; d++) /* Mon-Wed 14:30-20:59 */
        for (int m = 0; m < 390; m++) {
            md_bar b;
            md_bar_init(&b);
            b.ts = MON_2024_01_01 + d * DAY + 52200 + m * 60;
            b.open = b.high = b.low = b.close = 100;
            md_bar_vec_push(&v, &b);
        }
    md_calendar c;
    md_calendar_learn(&c, MD_IV_1M, v.v, v.n);
    int64_t last = v.v[v.n - 1].ts, lag;
    /* Thursday 14:00 UTC, before the open: nothing expected yet */
    cr_assert_eq(md_quality_timeliness(&p, &c, 1, last, MON_2024_01_01 + 3 * DAY + 50400, &lag),
                 100);
    cr_assert_eq(lag, 0);
    /* Thursday 14:35: five minutes of the session ended without bars (Thursday was never
     * seen: it takes the sessions seen on other days) */
    cr_assert_float_eq(
        md_quality_timeliness(&p, &c, 1, last, MON_2024_01_01 + 3 * DAY + 52500, &lag), 60, 1e-9);
    cr_assert_eq(lag, 5);
    /* Saturday: not a trading day for a series without weekend bars */
    md_quality_timeliness(&p, &c, 1, last, MON_2024_01_01 + 5 * DAY + 52500, &lag);
    cr_assert_eq(lag, 390 * 2, "Thursday and Friday sessions only");
    md_calendar_deinit(&c);
    md_bar_vec_deinit(&v);
    /* one day of data: a feed that stopped at 16:00 on its first day is late all evening */
    md_bar_vec_init(&v);
    for (int m = 0; m < 90; m++) {
        md_bar b;
        md_bar_init(&b);
        b.ts = MON_2024_01_01 + 52200 + m * 60;
        b.open = b.high = b.low = b.close = 100;
        md_bar_vec_push(&v, &b);
    }
    md_calendar_learn(&c, MD_IV_1M, v.v, v.n);
    last = v.v[v.n - 1].ts;
    md_quality_timeliness(&p, &c, 1, last, MON_2024_01_01 + 20 * 3600, &lag);
    cr_assert_eq(lag, 4 * 60);
    md_calendar_deinit(&c);
    md_bar_vec_deinit(&v);
}

Test(quality_timeliness, live_bar_window)
{
    md_quality_params p = P(); /* 10 bars */
    int64_t now = MON_2024_01_01 + 7 * DAY;
    cr_assert(md_quality_is_live_bar(&p, MD_IV_1D, now - 11 * DAY, now));
    cr_assert(!md_quality_is_live_bar(&p, MD_IV_1D, now - 12 * DAY, now));
    cr_assert(md_quality_is_live_bar(&p, MD_IV_1M, now - 600, now));
    cr_assert(!md_quality_is_live_bar(&p, MD_IV_1M, now - 700, now));
}

Test(quality_calendar, counts_and_weekdays)
{
    cr_assert_eq(md_calendar_weekday(0), 3); /* 1970-01-01 Thursday */
    cr_assert_eq(md_calendar_weekday(MON_2024_01_01 / DAY), 0);
    cr_assert_eq(md_calendar_weekday(-1), 2);
    md_bar_vec v;
    weekday_bars(&v, 28);
    md_calendar c;
    md_calendar_learn(&c, MD_IV_1D, v.v, v.n);
    cr_assert_eq(c.day_on[5], 0);
    cr_assert_eq(c.day_on[0], 1);
    /* four weeks: 20 trading days */
    cr_assert_eq(md_calendar_count(&c, MON_2024_01_01, MON_2024_01_01 + 28 * DAY, 0), 20);
    /* a year: 52 weeks of 5 + 1 */
    cr_assert_eq(md_calendar_count(&c, MON_2024_01_01, MON_2024_01_01 + 365 * DAY, 0), 261);
    cr_assert_eq(md_calendar_count(&c, MON_2024_01_01 + DAY, MON_2024_01_01, 0), 0);
    md_calendar_deinit(&c);
    md_bar_vec_deinit(&v);
    /* no data: Monday-Friday */
    md_calendar_learn(&c, MD_IV_1D, NULL, 0);
    cr_assert_eq(md_calendar_count(&c, MON_2024_01_01, MON_2024_01_01 + 14 * DAY, 0), 10);
    md_calendar_deinit(&c);
    md_calendar_learn(&c, MD_IV_1MO, NULL, 0);
    cr_assert_eq(md_calendar_count(&c, MON_2024_01_01, MON_2024_01_01 + 366 * DAY, 0), 12);
    md_calendar_deinit(&c);
}
