/* Soft quality rules (quality/scan.c) on plain arrays: each rule at its threshold edges,
 * the bar it names, and what it must not flag. */
#include "core/mem.h"
#include "quality/quality.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define DAY 86400
#define MON_2024_01_01 1704067200 /* a Monday */

static md_quality_params P(void)
{
    md_quality_params p;
    md_quality_params_default(&p);
    return p;
}

static md_bar bar_at(int64_t ts, double close, double volume)
{
    md_bar b;
    md_bar_init(&b);
    b.ts = ts;
    b.open = b.high = b.low = b.close = close;
    b.volume = volume;
    b.source = MD_SRC_CSV;
    return b;
}

/* n consecutive calendar days starting Monday 2024-01-01 (weekends included). */
static void daily_series(md_bar_vec *v, size_t n, double close, double volume)
{
    md_bar_vec_init(v);
    for (size_t i = 0; i < n; i++) {
        md_bar b = bar_at(MON_2024_01_01 + (int64_t)i * DAY, close, volume);
        md_bar_vec_push(v, &b);
    }
}

static size_t count_rule(const md_qevent_vec *ev, md_check c)
{
    size_t k = 0;
    for (size_t i = 0; i < ev->n; i++)
        if (ev->v[i].rule == MD_QRULE_SOFT(c)) k++;
    return k;
}

static const md_qevent *first_rule(const md_qevent_vec *ev, md_check c)
{
    for (size_t i = 0; i < ev->n; i++)
        if (ev->v[i].rule == MD_QRULE_SOFT(c)) return &ev->v[i];
    return NULL;
}

static void scan(const md_quality_params *p, md_interval iv, const md_bar_vec *v, md_qevent_vec *ev)
{
    md_qevent_vec_init(ev);
    md_quality_scan(p, iv, v->v, v->n, NULL, ev);
}

/* -- price_jump ------------------------------------------------------------------------- */

/* 21 closes with log returns alternating +1%, -1% (20 returns), then one bar whose log
 * return is z standard deviations of those 20 returns. */
static void jump_series(md_bar_vec *v, double z)
{
    daily_series(v, 22, 100, 1000);
    double lc = log(100.0), sum = 0, rets[20];
    for (int i = 1; i <= 20; i++) {
        double r = (i % 2) ? 0.01 : -0.01;
        rets[i - 1] = r;
        sum += r;
        lc += r;
        v->v[i].close = v->v[i].open = v->v[i].high = v->v[i].low = exp(lc);
    }
    double mu = sum / 20, q = 0;
    for (int i = 0; i < 20; i++) q += (rets[i] - mu) * (rets[i] - mu);
    double sd = sqrt(q / 19);
    double c = exp(lc + mu + z * sd);
    v->v[21].close = v->v[21].open = v->v[21].high = v->v[21].low = c;
}

Test(quality_jump, just_below_k_is_not_flagged)
{
    md_quality_params p = P();
    md_bar_vec v;
    jump_series(&v, 5.99);
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, just_above_k_is_flagged_on_that_bar)
{
    md_quality_params p = P();
    md_bar_vec v;
    jump_series(&v, 6.01);
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    const md_qevent *e = first_rule(&ev, MD_CHECK_PRICE_JUMP);
    cr_assert_eq(e->ts, v.v[21].ts);
    cr_assert_float_eq(e->value, 6.01, 0.01);
    cr_assert_eq(e->limit, 6);
    cr_assert_float_eq(e->severity, 0.5, 0.01);
    cr_assert(strstr(e->detail, "standard deviations"), "%s", e->detail);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, k_is_configurable)
{
    md_quality_params p = P();
    p.jump_sigma = 4;
    md_bar_vec v;
    jump_series(&v, 4.5);
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    md_qevent_vec_deinit(&ev);
    p.jump_sigma = 5;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, severity_grows_to_one_at_twice_k)
{
    md_quality_params p = P();
    md_bar_vec v;
    jump_series(&v, 12.5);
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    cr_assert_float_eq(first_rule(&ev, MD_CHECK_PRICE_JUMP)->severity, 1.0, 1e-6);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* jump_series' quiet bars, bar 21 a spike of factor x the level, and a bar back at it. */
static void spike_series(md_bar_vec *v, double factor)
{
    jump_series(v, 0);
    double base = v->v[20].close;
    v->v[21].close = v->v[21].high = base * factor;
    md_bar back = bar_at(v->v[21].ts + DAY, base * 1.001, 1000);
    md_bar_vec_push(v, &back);
}

Test(quality_jump, a_lone_bad_print_is_flagged_once_not_the_bar_after)
{
    md_quality_params p = P();
    md_bar_vec v;
    spike_series(&v, 1.5);
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_PRICE_JUMP)->ts, v.v[21].ts);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, a_level_shift_is_flagged_once)
{
    md_quality_params p = P();
    md_bar_vec v;
    jump_series(&v, 0);
    double level = v.v[20].close * 0.6; /* a level no split ratio explains */
    v.v[21].close = v.v[21].open = v.v[21].high = v.v[21].low = level;
    for (int i = 0; i < 5; i++) {
        md_bar b = bar_at(v.v[v.n - 1].ts + DAY, level * (i % 2 ? 1.005 : 0.995), 1000);
        md_bar_vec_push(&v, &b);
    }
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_PRICE_JUMP)->ts, v.v[21].ts);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* -- splits: known ones are no jump, split-sized jumps without one are findings ---------- */

/* jump_series' 21 quiet bars, then bar 21 and 5 more at the old level / ratio (a split of
 * ratio on bar 21; ratio < 1 a reverse one), volumes x ratio from bar 21 on. */
static void split_series(md_bar_vec *v, double ratio)
{
    jump_series(v, 0);
    double level = v->v[20].close / ratio;
    v->v[21] = bar_at(v->v[21].ts, level, 1000 * ratio);
    for (int i = 0; i < 5; i++) {
        md_bar b = bar_at(v->v[v->n - 1].ts + DAY, level * (i % 2 ? 1.005 : 0.995), 1000 * ratio);
        md_bar_vec_push(v, &b);
    }
}

static void scan_split(const md_bar_vec *v, const md_qsplit *sp, size_t ns, md_qevent_vec *ev)
{
    md_quality_params p = P();
    static const md_qsplit none[1]; /* the splits are known: none recorded */
    md_qevent_vec_init(ev);
    md_quality_scan_splits(&p, MD_IV_1D, NULL, sp ? sp : none, ns, v->v, v->n, NULL, ev);
}

Test(quality_split, common_ratios_without_a_recorded_split_are_findings)
{
    static const double ratios[] = {2, 3, 1.5, 4, 5, 10, 20, 0.5, 1 / 3.0, 0.25, 0.2, 0.1, 0.05};
    for (size_t i = 0; i < MD_ARRAY_LEN(ratios); i++) {
        md_bar_vec v;
        split_series(&v, ratios[i]);
        md_qevent_vec ev;
        scan_split(&v, NULL, 0, &ev);
        cr_expect_eq(count_rule(&ev, MD_CHECK_UNRECORDED_SPLIT), 1, "ratio %g", ratios[i]);
        cr_expect_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 0, "ratio %g", ratios[i]);
        const md_qevent *e = first_rule(&ev, MD_CHECK_UNRECORDED_SPLIT);
        if (e) {
            cr_expect_eq(e->ts, v.v[21].ts);
            cr_expect_float_eq(e->limit, ratios[i], 1e-9, "ratio %g: %s", ratios[i], e->detail);
            cr_expect(strstr(e->detail, "no split is recorded on 2024-01-22"), "%s", e->detail);
        }
        md_qevent_vec_deinit(&ev);
        md_bar_vec_deinit(&v);
    }
}

Test(quality_split, without_the_splits_known_a_jump_is_a_price_jump)
{
    md_bar_vec v;
    split_series(&v, 4);
    md_qevent_vec ev;
    md_quality_params p = P();
    scan(&p, MD_IV_1D, &v, &ev); /* md_quality_scan: the writer's, no splits read */
    cr_expect_eq(count_rule(&ev, MD_CHECK_UNRECORDED_SPLIT), 0);
    cr_expect_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_split, the_ratio_tolerance_edges)
{
    /* 10% (log) around 2:1 is a split day's own move; 11% is not a split, but a jump */
    static const struct {
        double move;
        size_t split, jump;
    } cases[] = {{2 * 1.094, 1, 0}, {2 / 1.094, 1, 0}, {2 * 1.117, 0, 1}, {2 / 1.117, 0, 1}};
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_bar_vec v;
        split_series(&v, cases[i].move);
        md_qevent_vec ev;
        scan_split(&v, NULL, 0, &ev);
        cr_expect_eq(count_rule(&ev, MD_CHECK_UNRECORDED_SPLIT), cases[i].split, "%g",
                     cases[i].move);
        cr_expect_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), cases[i].jump, "%g", cases[i].move);
        md_qevent_vec_deinit(&ev);
        md_bar_vec_deinit(&v);
    }
}

Test(quality_split, a_known_split_is_no_finding_on_its_ex_date)
{
    static const double ratios[] = {4, 20, 0.1};
    for (size_t i = 0; i < MD_ARRAY_LEN(ratios); i++) {
        md_bar_vec v;
        split_series(&v, ratios[i]); /* volumes x 20 too: no volume_outlier either */
        md_qsplit sp = {v.v[21].ts, ratios[i]};
        md_qevent_vec ev;
        scan_split(&v, &sp, 1, &ev);
        cr_expect_eq(ev.n, 0, "ratio %g: %zu findings, first %s", ratios[i], ev.n,
                     ev.n ? ev.v[0].detail : "");
        md_qevent_vec_deinit(&ev);
        /* the same split recorded a day late explains nothing on the day it happened */
        sp.cutoff = v.v[22].ts;
        scan_split(&v, &sp, 1, &ev);
        cr_expect_gt(ev.n, 0, "ratio %g", ratios[i]);
        md_qevent_vec_deinit(&ev);
        md_bar_vec_deinit(&v);
    }
}

Test(quality_split, a_bad_print_that_comes_back_is_a_jump_not_a_split)
{
    md_bar_vec v;
    spike_series(&v, 2); /* a 2:1-sized print, then the old level */
    md_qevent_vec ev;
    scan_split(&v, NULL, 0, &ev);
    cr_expect_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    cr_expect_eq(count_rule(&ev, MD_CHECK_UNRECORDED_SPLIT), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_split, before_the_window_fills_only_a_split_sized_move_counts)
{
    md_bar_vec v;
    daily_series(&v, 6, 100, 1000);
    for (size_t i = 3; i < v.n; i++) v.v[i] = bar_at(v.v[i].ts, 100 / 3.0, 3000);
    md_qevent_vec ev;
    scan_split(&v, NULL, 0, &ev);
    cr_expect_eq(count_rule(&ev, MD_CHECK_UNRECORDED_SPLIT), 1);
    md_qevent_vec_deinit(&ev);
    for (size_t i = 3; i < v.n; i++) v.v[i] = bar_at(v.v[i].ts, 100 / 1.5, 1000);
    scan_split(&v, NULL, 0, &ev); /* a 3:2-sized fall this early is not judged */
    cr_expect_eq(ev.n, 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, needs_a_filled_window_before_judging)
{
    md_quality_params p = P();
    md_bar_vec v;
    daily_series(&v, 6, 100, 1000);
    for (size_t i = 1; i < 5; i++) v.v[i].close = 100 + (double)(i % 2) * 0.1;
    v.v[5].close = 300; /* a tripling, but only 4 returns seen */
    md_qevent_vec ev;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, context_bars_feed_the_window_but_get_no_finding)
{
    md_quality_params p = P();
    md_bar_vec v;
    jump_series(&v, 20);
    uint8_t emit[22] = {0};
    md_qevent_vec ev;
    md_qevent_vec_init(&ev);
    md_quality_scan(&p, MD_IV_1D, v.v, v.n, emit, &ev);
    cr_assert_eq(ev.n, 0);
    emit[21] = 1;
    md_quality_scan(&p, MD_IV_1D, v.v, v.n, emit, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_jump, intraday_overnight_move_is_not_a_jump)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_bar_vec_init(&v);
    /* two sessions of 1m bars 14:30-15:00 UTC on Mon and Tue, calm, Tuesday opens +5% */
    for (int d = 0; d < 2; d++)
        for (int m = 0; m < 30; m++) {
            double c = (d ? 105 : 100) * (1 + (m % 2) * 0.0005);
            md_bar b = bar_at(MON_2024_01_01 + d * DAY + 14 * 3600 + 1800 + m * 60, c, 100);
            md_bar_vec_push(&v, &b);
        }
    md_qevent_vec ev;
    scan(&p, MD_IV_1M, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 0);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 0);
    /* the same +5% inside the session is a jump */
    v.v[45].close = v.v[45].high = v.v[45].close * 1.05;
    scan(&p, MD_IV_1M, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_PRICE_JUMP), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_PRICE_JUMP)->ts, v.v[45].ts);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* -- volume_outlier ---------------------------------------------------------------------- */

static void volume_series(md_bar_vec *v, double last_volume)
{
    daily_series(v, 21, 100, 1000);
    for (size_t i = 0; i < 20; i++) v->v[i].close = v->v[i].high = 100 + (double)(i % 3);
    v->v[20].volume = last_volume;
}

Test(quality_volume, at_the_ratio_is_flagged_just_below_is_not)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    volume_series(&v, 9999);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_VOLUME_OUTLIER), 0);
    md_qevent_vec_deinit(&ev);
    v.v[20].volume = 10000;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_VOLUME_OUTLIER), 1);
    const md_qevent *e = first_rule(&ev, MD_CHECK_VOLUME_OUTLIER);
    cr_assert_eq(e->ts, v.v[20].ts);
    cr_assert_float_eq(e->value, 10.0, 1e-9);
    cr_assert_eq(e->limit, 10);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_volume, thin_bars_pass_zero_volume_is_flagged)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    volume_series(&v, 1);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_VOLUME_OUTLIER), 0, "a thin bar is not a fault");
    md_qevent_vec_deinit(&ev);
    v.v[20].volume = 0;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_VOLUME_OUTLIER), 1);
    const md_qevent *e = first_rule(&ev, MD_CHECK_VOLUME_OUTLIER);
    cr_assert_float_eq(e->severity, 1.0, 1e-6);
    cr_assert_eq(e->value, 0);
    cr_assert(strstr(e->detail, "no volume"), "%s", e->detail);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_volume, series_without_volume_is_not_judged)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    volume_series(&v, 0);
    for (size_t i = 0; i < v.n; i++) v.v[i].volume = 0; /* close-only index data */
    v.v[20].volume = 5000;                              /* first real volume ever */
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_VOLUME_OUTLIER), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* -- implausible_price ------------------------------------------------------------------ */

/* The hostile series: 100 daily closes gliding from 1e308 down to 1e-300 at a steady rate.
 * Every return is like the ones before it, so no jump stands out; the bars whose price no
 * market quotes are findings, and the range does not grade A+. */
Test(quality_implausible, a_series_from_1e308_to_1e_300_is_not_a_plus)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    daily_series(&v, 100, 1, 1000);
    size_t outside = 0;
    for (size_t i = 0; i < v.n; i++) {
        double c = pow(10, 308 - (308.0 + 300.0) * (double)i / 99);
        v.v[i].open = v.v[i].high = v.v[i].low = v.v[i].close = c;
        if (c < 1e-12 || c > 1e12) outside++;
    }
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_IMPLAUSIBLE), outside);
    cr_assert_eq(first_rule(&ev, MD_CHECK_IMPLAUSIBLE)->ts, v.v[0].ts);
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = (int64_t)v.n;
    for (size_t i = 0; i < ev.n; i++) md_quality_tally_add(&t, &ev.v[i]);
    md_quality_score sc;
    md_quality_score_tally(&p, &t, 100, &sc);
    cr_assert_lt(sc.dim[MD_QDIM_ACCURACY], 1, "accuracy %g", sc.dim[MD_QDIM_ACCURACY]);
    cr_assert_lt(sc.score, 97, "score %g grade %s", sc.score, sc.grade);
    cr_assert_str_neq(sc.grade, "A+");
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* The bounds themselves pass; the next representable price beyond either is flagged, with
 * the price and the bound as value and limit, whichever of open, high, low, close it is. */
Test(quality_implausible, bounds_are_inclusive_and_configurable)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    daily_series(&v, 6, 100, 1000);
    v.v[1].low = 1e-12;
    v.v[2].low = nextafter(1e-12, 0);
    v.v[3].high = 1e12;
    v.v[4].high = nextafter(1e12, INFINITY);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_IMPLAUSIBLE), 2);
    const md_qevent *e = first_rule(&ev, MD_CHECK_IMPLAUSIBLE);
    cr_assert_eq(e->ts, v.v[2].ts);
    cr_assert_eq(e->value, v.v[2].low);
    cr_assert_eq(e->limit, 1e-12);
    cr_assert_float_eq(e->severity, 1, 1e-9);
    cr_assert(strstr(e->detail, "below quality.price_min"), "%s", e->detail);
    const md_qevent *last = NULL;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].rule == MD_QRULE_SOFT(MD_CHECK_IMPLAUSIBLE)) last = &ev.v[i];
    cr_assert_eq(last->ts, v.v[4].ts);
    cr_assert_eq(last->value, v.v[4].high);
    cr_assert_eq(last->limit, 1e12);
    cr_assert(strstr(last->detail, "above quality.price_max"), "%s", last->detail);
    md_qevent_vec_deinit(&ev);
    p.price_max = 99; /* every bar's 100 is now above */
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_IMPLAUSIBLE), 6);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* -- stale_price ------------------------------------------------------------------------- */

Test(quality_stale, n_minus_one_equal_closes_pass_n_is_flagged)
{
    md_quality_params p = P(); /* stale_bars 5 */
    md_bar_vec v;
    md_qevent_vec ev;
    daily_series(&v, 10, 100, 1000);
    for (size_t i = 0; i < 10; i++) v.v[i].close = v.v[i].high = 100 + (double)i;
    for (size_t i = 4; i < 8; i++) v.v[i].close = v.v[i].high = 50; /* 4 equal: bars 4..7 */
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_STALE_PRICE), 0);
    md_qevent_vec_deinit(&ev);
    v.v[8].close = v.v[8].high = 50; /* the 5th */
    v.v[9].close = v.v[9].high = 50; /* and a 6th */
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_STALE_PRICE), 2);
    const md_qevent *e = first_rule(&ev, MD_CHECK_STALE_PRICE);
    cr_assert_eq(e->ts, v.v[8].ts);
    cr_assert_eq(e->value, 5);
    cr_assert(strstr(e->detail, "unchanged for 5 bars"), "%s", e->detail);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_stale, repeated_closes_without_volume_are_not_stale)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    daily_series(&v, 12, 100, 0); /* close-only data: a holiday carries the close forward */
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_STALE_PRICE), 0);
    /* with volume on only 4 of the 12 bars of the run: not enough traded bars */
    for (size_t i = 0; i < 4; i++) v.v[i * 3].volume = 10;
    md_qevent_vec_deinit(&ev);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_STALE_PRICE), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_stale, stale_bars_is_configurable)
{
    md_quality_params p = P();
    p.stale_bars = 3;
    md_bar_vec v;
    md_qevent_vec ev;
    daily_series(&v, 3, 100, 10);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_STALE_PRICE), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_STALE_PRICE)->ts, v.v[2].ts);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* -- gap --------------------------------------------------------------------------------- */

/* Weekday bars from Monday 2024-01-01 for `weeks` weeks, skipping the weekdays listed. */
static void weekday_series(md_bar_vec *v, int weeks, const int *skip, int n_skip)
{
    md_bar_vec_init(v);
    for (int d = 0; d < weeks * 7; d++) {
        if (d % 7 >= 5) continue;
        int s = 0;
        for (int k = 0; k < n_skip; k++) s |= skip[k] == d;
        if (s) continue;
        md_bar b = bar_at(MON_2024_01_01 + (int64_t)d * DAY, 100 + d % 3, 1000);
        md_bar_vec_push(v, &b);
    }
}

Test(quality_gap, weekends_of_a_weekday_series_are_not_gaps)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    weekday_series(&v, 8, NULL, 0);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, one_missing_weekday_is_a_holiday_two_are_a_gap)
{
    md_quality_params p = P(); /* gap_min_bars 2 */
    md_bar_vec v;
    md_qevent_vec ev;
    int one[] = {17}; /* Thursday of week 3 */
    weekday_series(&v, 8, one, 1);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);

    int two[] = {18, 21}; /* Friday and the next Monday: consecutive trading days */
    weekday_series(&v, 8, two, 2);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 1);
    const md_qevent *e = first_rule(&ev, MD_CHECK_GAP);
    cr_assert_eq(e->ts, MON_2024_01_01 + 22 * DAY, "reported on the bar after the gap");
    cr_assert_eq(e->value, 2);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, a_week_missing_counts_five_bars)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    int week[] = {14, 15, 16, 17, 18};
    weekday_series(&v, 8, week, 5);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_GAP)->value, 5);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, a_series_with_weekend_rows_expects_every_day)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    daily_series(&v, 60, 100, 0);
    for (size_t i = 0; i < v.n; i++) v.v[i].close = 100 + (double)(i % 4);
    /* drop Saturday and Sunday of week 5 (days 33, 34) */
    memmove(&v.v[33], &v.v[35], (v.n - 35) * sizeof *v.v);
    v.n -= 2;
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_GAP)->value, 2);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, a_series_missing_most_days_still_shows_its_gaps)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    /* 12 weeks of weekdays, each week keeping only 2 of its 5 days (60% missing): the
     * missing days are gaps, not a calendar of two trading days a week */
    int skip[12 * 3], n = 0;
    for (int w = 0; w < 12; w++)
        for (int d = 0; d < 5; d++)
            if ((d + w) % 5 >= 2) skip[n++] = w * 7 + d;
    weekday_series(&v, 12, skip, n);
    cr_assert_eq(v.n, 24);
    scan(&p, MD_IV_1D, &v, &ev);
    int64_t missing = 0;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].rule == MD_QRULE_SOFT(MD_CHECK_GAP)) missing += (int64_t)ev.v[i].value;
    cr_assert(missing >= 30, "missing %lld", (long long)missing);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, a_stray_weekend_bar_does_not_make_weekends_expected)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_qevent_vec ev;
    weekday_series(&v, 8, NULL, 0);
    md_bar sat = bar_at(MON_2024_01_01 + 26 * DAY, 100, 1000); /* Saturday of week 4 */
    md_bar_vec_push(&v, &sat);
    md_bar_vec_sort_dedup(&v);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, gap_min_bars_is_configurable)
{
    md_quality_params p = P();
    p.gap_min_bars = 1;
    md_bar_vec v;
    md_qevent_vec ev;
    int one[] = {17};
    weekday_series(&v, 8, one, 1);
    scan(&p, MD_IV_1D, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 1);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, intraday_missing_minutes_inside_the_session)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_bar_vec_init(&v);
    /* Mon-Fri sessions 14:30-20:59 UTC for two weeks; on the 2nd Wednesday minutes
     * 15:00 (one) and 16:00-16:02 (three) are missing */
    for (int d = 0; d < 12; d++) {
        if (d % 7 >= 5) continue;
        for (int m = 0; m < 390; m++) {
            if (d == 9 && (m == 30 || (m >= 90 && m < 93))) continue;
            md_bar b =
                bar_at(MON_2024_01_01 + d * DAY + 14 * 3600 + 1800 + m * 60, 100 + m % 2, 10);
            md_bar_vec_push(&v, &b);
        }
    }
    md_qevent_vec ev;
    scan(&p, MD_IV_1M, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 1, "nights and the weekend are not gaps");
    const md_qevent *e = first_rule(&ev, MD_CHECK_GAP);
    cr_assert_eq(e->value, 3);
    cr_assert_eq(e->ts, MON_2024_01_01 + 9 * DAY + 14 * 3600 + 1800 + 93 * 60);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_gap, weekly_series_counts_every_missing_week)
{
    md_quality_params p = P();
    md_bar_vec v;
    md_bar_vec_init(&v);
    for (int w = 0; w < 10; w++) {
        if (w == 4) continue;
        md_bar b = bar_at(MON_2024_01_01 + w * 7 * DAY, 100 + w % 2, 10);
        md_bar_vec_push(&v, &b);
    }
    md_qevent_vec ev;
    scan(&p, MD_IV_1W, &v, &ev);
    cr_assert_eq(count_rule(&ev, MD_CHECK_GAP), 1);
    cr_assert_eq(first_rule(&ev, MD_CHECK_GAP)->value, 1);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

/* -- duplicates and cross-source disagreement ---------------------------------------------- */

Test(quality_compare, same_values_from_another_source_agree)
{
    md_quality_params p = P();
    md_bar a = bar_at(MON_2024_01_01, 100, 10), b = a;
    b.source = MD_SRC_YAHOO;
    md_qevent e;
    cr_assert_eq(md_quality_compare(&p, &a, &b, 0, &e), 0);
}

Test(quality_compare, a_revision_from_the_same_source_is_not_a_conflict)
{
    md_quality_params p = P();
    md_bar a = bar_at(MON_2024_01_01, 100, 10), b = bar_at(MON_2024_01_01, 120, 10);
    md_qevent e;
    cr_assert_eq(md_quality_compare(&p, &a, &b, 0, &e), 0);
    cr_assert_eq(md_quality_compare(&p, &a, &b, 1, &e), 1, "but twice in one batch is");
}

Test(quality_compare, disagreement_threshold_edges)
{
    md_quality_params p = P(); /* 1% */
    md_bar a = bar_at(MON_2024_01_01, 100, 10), b = bar_at(MON_2024_01_01, 100, 10);
    b.source = MD_SRC_YAHOO;
    b.close = 100.99; /* 0.98% of the larger */
    b.high = 100.99;
    md_qevent e;
    cr_assert_eq(md_quality_compare(&p, &a, &b, 0, &e), 1);
    cr_assert_eq(e.rule, MD_QRULE_SOFT(MD_CHECK_DUPLICATE));
    cr_assert_eq(e.other_source, MD_SRC_CSV);
    cr_assert_eq(e.source, MD_SRC_YAHOO);
    b.close = b.high = 101.1; /* 1.09% */
    cr_assert_eq(md_quality_compare(&p, &a, &b, 0, &e), 1);
    cr_assert_eq(e.rule, MD_QRULE_SOFT(MD_CHECK_DISAGREEMENT));
    cr_assert_float_eq(e.value, 100 * 1.1 / 101.1, 1e-9);
    cr_assert(strstr(e.detail, "yahoo") && strstr(e.detail, "csv"), "%s", e.detail);
}

Test(quality_compare, volume_only_difference_is_a_duplicate_conflict)
{
    md_quality_params p = P();
    md_bar a = bar_at(MON_2024_01_01, 100, 10), b = bar_at(MON_2024_01_01, 100, 11);
    b.source = MD_SRC_POLYGON;
    md_qevent e;
    cr_assert_eq(md_quality_compare(&p, &a, &b, 0, &e), 1);
    cr_assert_eq(e.rule, MD_QRULE_SOFT(MD_CHECK_DUPLICATE));
    cr_assert(strstr(e.detail, "volume"), "%s", e.detail);
}

/* -- codes ---------------------------------------------------------------------------------- */

Test(quality_codes, every_rule_has_a_code_that_parses_back)
{
    for (int r = 0; r < MD_QRULE_COUNT; r++) {
        const char *c = md_qrule_code(r);
        cr_assert_neq(strcmp(c, "unknown"), 0);
        cr_assert_eq(md_qrule_parse(c), r, "%s", c);
    }
    cr_assert_eq(md_qrule_parse("nope"), -1);
    cr_assert_eq(md_qrule_dim(MD_RULE_HIGH_LOW), MD_QDIM_VALIDITY);
    cr_assert_eq(md_qrule_dim(MD_QRULE_SOFT(MD_CHECK_GAP)), MD_QDIM_COMPLETENESS);
    cr_assert_eq(md_qrule_dim(MD_QRULE_SOFT(MD_CHECK_STALE_PRICE)), MD_QDIM_CONSISTENCY);
    cr_assert_str_eq(md_qdim_name(MD_QDIM_UNIQUENESS), "uniqueness");
}

/* -- quotes ---------------------------------------------------------------------------------- */

static md_quote quote_of(double price, double bid, double ask)
{
    md_quote q;
    md_quote_init(&q);
    snprintf(q.symbol, sizeof q.symbol, "AAPL");
    q.ts = 1700000000;
    q.price = price;
    q.bid = bid;
    q.ask = ask;
    return q;
}

Test(quality_quote, a_move_at_the_limit_passes_just_over_is_a_jump)
{
    md_quality_params p = P(); /* quote_jump_pct 10 */
    md_qevent ev[2];
    float score;
    md_quote q = quote_of(110, NAN, NAN);
    cr_assert_eq(md_quality_quote(&p, &q, 100, ev, &score), 0);
    cr_assert_float_eq(score, 100, 1e-6);
    q.price = 110.02;
    cr_assert_eq(md_quality_quote(&p, &q, 100, ev, &score), 1);
    cr_assert_str_eq(md_qrule_code(ev[0].rule), "quote_jump");
    cr_assert_eq(md_qrule_dim(ev[0].rule), MD_QDIM_ACCURACY);
    cr_assert_float_eq(ev[0].value, 10.02, 1e-9);
    cr_assert_float_eq(ev[0].limit, 10, 1e-9);
    cr_assert_lt(score, 100);
    cr_assert_geq(score, 89.9); /* severity 0.5 of accuracy's 0.20 */
    /* down moves count the same; twice the limit is the full accuracy penalty */
    q.price = 75;
    cr_assert_eq(md_quality_quote(&p, &q, 100, ev, &score), 1);
    cr_assert_float_eq(ev[0].value, 25, 1e-9);
    cr_assert_float_eq(ev[0].severity, 1, 1e-6);
    cr_assert_float_eq(score, 80, 1e-4);
    cr_assert(strstr(ev[0].detail, "-25%") != NULL, "%s", ev[0].detail);
    /* no reference, no judgement */
    cr_assert_eq(md_quality_quote(&p, &q, NAN, ev, &score), 0);
    cr_assert_eq(md_quality_quote(&p, &q, 0, ev, &score), 0);
    cr_assert_float_eq(score, 100, 1e-6);
}

Test(quality_quote, a_wide_spread_lowers_consistency)
{
    md_quality_params p = P(); /* quote_spread_pct 5 */
    md_qevent ev[2];
    float score;
    md_quote q = quote_of(100, 97.5, 102.5); /* 5% of the mid exactly */
    cr_assert_eq(md_quality_quote(&p, &q, 100, ev, &score), 0);
    q.bid = 97.4;
    cr_assert_eq(md_quality_quote(&p, &q, 100, ev, &score), 1);
    cr_assert_str_eq(md_qrule_code(ev[0].rule), "wide_spread");
    cr_assert_eq(md_qrule_dim(ev[0].rule), MD_QDIM_CONSISTENCY);
    cr_assert_lt(score, 100);
    /* both at once: two findings, two dimensions down */
    md_quote both = quote_of(150, 120, 180);
    float s2;
    cr_assert_eq(md_quality_quote(&p, &both, 100, ev, &s2), 2);
    cr_assert_lt(s2, score);
    cr_assert_float_eq(s2, 100 - 20 - 15, 1e-4);
    /* thresholds come from the parameters */
    p.quote_spread_pct = 50;
    p.quote_jump_pct = 60;
    cr_assert_eq(md_quality_quote(&p, &both, 100, ev, &s2), 0);
}
