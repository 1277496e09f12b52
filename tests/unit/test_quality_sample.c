/* The rules and scores on the real sample data (data/sample): clean files grade well, and
 * each injected fault is caught by the right rule, on the right bar, and lowers the score
 * through the dimension it belongs to - and only that one. */
#include "quality/quality.h"
#include "sample_bars.h"

#include <criterion/criterion.h>
#include <math.h>

typedef struct {
    md_quality_tally t;
    md_quality_score s;
    md_qevent_vec ev;
} graded;

/* Scans bars (historical: timeliness 100), adds rejected findings, scores. */
static void grade(const md_bar_vec *v, const md_qevent *rejects, size_t n_rejects, graded *g)
{
    md_quality_params p;
    md_quality_params_default(&p);
    md_qevent_vec_init(&g->ev);
    md_quality_scan(&p, MD_IV_1D, v->v, v->n, NULL, &g->ev);
    md_quality_tally_init(&g->t);
    g->t.bars = (int64_t)v->n;
    for (size_t i = 0; i < g->ev.n; i++) md_quality_tally_add(&g->t, &g->ev.v[i]);
    for (size_t i = 0; i < n_rejects; i++) md_quality_tally_add(&g->t, &rejects[i]);
    md_quality_score_tally(&p, &g->t, 100, &g->s);
}

static size_t count(const graded *g, int rule)
{
    size_t k = 0;
    for (size_t i = 0; i < g->ev.n; i++) k += g->ev.v[i].rule == rule;
    return k;
}

static const md_qevent *find(const graded *g, int rule, int64_t ts)
{
    for (size_t i = 0; i < g->ev.n; i++)
        if (g->ev.v[i].rule == rule && g->ev.v[i].ts == ts) return &g->ev.v[i];
    return NULL;
}

/* Asserts that `faulty` lost points in dimension d and nowhere else (removing bars may
 * move the other dimensions' rates a little: less than a point). */
static void assert_only_dim_dropped(const graded *clean, const graded *faulty, md_qdim d)
{
    cr_assert(faulty->s.score < clean->s.score - 1, "score %g -> %g", clean->s.score,
              faulty->s.score);
    cr_assert(faulty->s.dim[d] < clean->s.dim[d], "%s %g -> %g", md_qdim_name(d), clean->s.dim[d],
              faulty->s.dim[d]);
    for (int k = 0; k < MD_QDIM_COUNT; k++)
        if (k != (int)d)
            cr_assert_float_eq(faulty->s.dim[k], clean->s.dim[k], 1.0, "%s moved",
                               md_qdim_name((md_qdim)k));
}

static void graded_free(graded *g)
{
    md_qevent_vec_deinit(&g->ev);
}

Test(quality_sample, every_sample_file_grades_well)
{
    static const char *names[] = {"MSFT", "DAX", "CAC", "FTSE", "SMI", "XTSSIM"};
    for (size_t i = 0; i < 6; i++) {
        md_bar_vec v;
        md_bar_vec_init(&v);
        md_test_sample_bars(names[i], &v);
        graded g;
        grade(&v, NULL, 0, &g);
        cr_assert(g.s.score >= 93, "%s scored %g (%s)", names[i], g.s.score, g.s.grade);
        cr_assert_eq(g.s.dim[MD_QDIM_VALIDITY], 100);
        cr_assert_eq(g.s.dim[MD_QDIM_UNIQUENESS], 100);
        cr_assert_eq(g.s.dim[MD_QDIM_CONSISTENCY], 100, "%s: no stale runs", names[i]);
        graded_free(&g);
        md_bar_vec_deinit(&v);
    }
}

Test(quality_sample, close_only_indices_raise_no_volume_or_stale_finding)
{
    /* O=H=L=C and volume 0: repeated closes (holidays carried forward, runs up to 4 in
     * the data) and the absence of volume are not faults */
    static const char *names[] = {"DAX", "CAC", "FTSE", "SMI"};
    for (size_t i = 0; i < 4; i++) {
        md_bar_vec v;
        md_bar_vec_init(&v);
        md_test_sample_bars(names[i], &v);
        graded g;
        grade(&v, NULL, 0, &g);
        cr_assert_eq(count(&g, MD_QRULE_SOFT(MD_CHECK_VOLUME_OUTLIER)), 0, "%s", names[i]);
        cr_assert_eq(count(&g, MD_QRULE_SOFT(MD_CHECK_STALE_PRICE)), 0, "%s", names[i]);
        cr_assert_eq(count(&g, MD_QRULE_SOFT(MD_CHECK_GAP)), 0, "%s: Monday-Friday dates",
                     names[i]);
        graded_free(&g);
        md_bar_vec_deinit(&v);
    }
}

Test(quality_sample, weekend_rows_of_the_simulated_series_are_its_calendar)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_test_sample_bars("XTSSIM", &v);
    graded g;
    grade(&v, NULL, 0, &g);
    cr_assert_eq(g.ev.n, 0);
    cr_assert_eq(g.s.score, 100);
    graded_free(&g);
    /* removing a Saturday and its Sunday is a gap there */
    long sat = md_test_find_day(&v, "2007-03-10");
    cr_assert(sat > 0);
    memmove(&v.v[sat], &v.v[sat + 2], (v.n - (size_t)sat - 2) * sizeof *v.v);
    v.n -= 2;
    grade(&v, NULL, 0, &g);
    int64_t mon;
    md_time_parse_str("2007-03-12", &mon, NULL);
    cr_assert_not_null(find(&g, MD_QRULE_SOFT(MD_CHECK_GAP), mon));
    graded_free(&g);
    md_bar_vec_deinit(&v);
}

Test(quality_sample, msft_real_closure_is_the_only_gap)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_test_sample_bars("MSFT", &v);
    graded g;
    grade(&v, NULL, 0, &g);
    /* 2001-09-11..14 (the market closure) is 4 trading days; single holidays are not gaps */
    cr_assert_eq(count(&g, MD_QRULE_SOFT(MD_CHECK_GAP)), 1);
    int64_t ts;
    md_time_parse_str("2001-09-17", &ts, NULL);
    const md_qevent *e = find(&g, MD_QRULE_SOFT(MD_CHECK_GAP), ts);
    cr_assert_not_null(e);
    cr_assert_eq(e->value, 4);
    cr_assert_eq(g.t.missing, 4);
    graded_free(&g);
    md_bar_vec_deinit(&v);
}

static void load_msft(md_bar_vec *v, graded *clean)
{
    md_bar_vec_init(v);
    md_test_sample_bars("MSFT", v);
    grade(v, NULL, 0, clean);
}

Test(quality_sample, injected_spike)
{
    md_bar_vec v;
    graded clean, bad;
    load_msft(&v, &clean);
    long i = md_test_find_day(&v, "2001-03-01");
    v.v[i].close *= 1.5;
    v.v[i].high = v.v[i].close;
    grade(&v, NULL, 0, &bad);
    const md_qevent *e = find(&bad, MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP), v.v[i].ts);
    cr_assert_not_null(e, "spike not caught on its bar");
    cr_assert(e->value > 6);
    cr_assert_null(find(&bad, MD_QRULE_SOFT(MD_CHECK_PRICE_JUMP), v.v[i + 1].ts),
                   "the bar after the spike is back to normal");
    assert_only_dim_dropped(&clean, &bad, MD_QDIM_ACCURACY);
    cr_assert_str_neq(bad.s.grade, clean.s.grade, "the grade moves (%s)", bad.s.grade);
    graded_free(&clean);
    graded_free(&bad);
    md_bar_vec_deinit(&v);
}

Test(quality_sample, injected_stale_run)
{
    md_bar_vec v;
    graded clean, bad;
    load_msft(&v, &clean);
    long i = md_test_find_day(&v, "2001-05-01");
    for (long k = i; k < i + 6; k++) { /* six sessions at one close, volume still traded */
        v.v[k].close = v.v[i].close;
        if (v.v[k].high < v.v[k].close) v.v[k].high = v.v[k].close;
        if (v.v[k].low > v.v[k].close) v.v[k].low = v.v[k].close;
    }
    grade(&v, NULL, 0, &bad);
    cr_assert_not_null(find(&bad, MD_QRULE_SOFT(MD_CHECK_STALE_PRICE), v.v[i + 4].ts),
                       "flagged on the 5th equal close");
    cr_assert_not_null(find(&bad, MD_QRULE_SOFT(MD_CHECK_STALE_PRICE), v.v[i + 5].ts));
    cr_assert_null(find(&bad, MD_QRULE_SOFT(MD_CHECK_STALE_PRICE), v.v[i + 3].ts));
    assert_only_dim_dropped(&clean, &bad, MD_QDIM_CONSISTENCY);
    cr_assert_str_neq(bad.s.grade, clean.s.grade);
    graded_free(&clean);
    graded_free(&bad);
    md_bar_vec_deinit(&v);
}

Test(quality_sample, injected_gap)
{
    md_bar_vec v;
    graded clean, bad;
    load_msft(&v, &clean);
    long i = md_test_find_day(&v, "2001-06-04"); /* drop two weeks: 10 trading days */
    int64_t after = v.v[i + 10].ts;
    memmove(&v.v[i], &v.v[i + 10], (v.n - (size_t)i - 10) * sizeof *v.v);
    v.n -= 10;
    grade(&v, NULL, 0, &bad);
    const md_qevent *e = find(&bad, MD_QRULE_SOFT(MD_CHECK_GAP), after);
    cr_assert_not_null(e);
    cr_assert_eq(e->value, 10);
    assert_only_dim_dropped(&clean, &bad, MD_QDIM_COMPLETENESS);
    cr_assert_str_neq(bad.s.grade, clean.s.grade);
    graded_free(&clean);
    graded_free(&bad);
    md_bar_vec_deinit(&v);
}

/* Hard faults never reach the store: the validator rejects them and the rejection is a
 * validity finding. The rest of the series is unchanged. */
static void reject_fault(md_bar_vec *v, long i, md_bar bad_bar, md_rule want, graded *clean,
                         graded *bad)
{
    md_rule rule;
    md_error err;
    int64_t now = 1800000000;
    cr_assert_eq(md_validate_bar(&bad_bar, MD_IV_1D, now, 300, &rule, &err), MD_EBAR);
    cr_assert_eq(rule, want, "%s", md_rule_code(rule));
    md_qevent r;
    md_qevent_reject(&r, &bad_bar, rule, err.msg);
    cr_assert_eq(r.ts, bad_bar.ts);
    (void)i;
    grade(v, &r, 1, bad);
    assert_only_dim_dropped(clean, bad, MD_QDIM_VALIDITY);
    cr_assert_str_neq(bad->s.grade, clean->s.grade);
}

Test(quality_sample, injected_broken_ohlc)
{
    md_bar_vec v;
    graded clean, bad;
    load_msft(&v, &clean);
    long i = md_test_find_day(&v, "2001-02-01");
    md_bar b = v.v[i];
    b.low = b.high + 1; /* a second delivery of this bar, broken */
    reject_fault(&v, i, b, MD_RULE_HIGH_LOW, &clean, &bad);
    graded_free(&clean);
    graded_free(&bad);
    md_bar_vec_deinit(&v);
}

Test(quality_sample, injected_future_timestamp)
{
    md_bar_vec v;
    graded clean, bad;
    load_msft(&v, &clean);
    md_bar b = v.v[v.n - 1];
    b.ts = 1800000000 / 86400 * 86400 + 2 * 86400; /* two days after "now" */
    reject_fault(&v, (long)v.n, b, MD_RULE_FUTURE, &clean, &bad);
    graded_free(&clean);
    graded_free(&bad);
    md_bar_vec_deinit(&v);
}

Test(quality_sample, injected_volume_outlier)
{
    md_bar_vec v;
    graded clean, bad;
    load_msft(&v, &clean);
    long i = md_test_find_day(&v, "2001-04-02");
    v.v[i].volume *= 40;
    grade(&v, NULL, 0, &bad);
    cr_assert_not_null(find(&bad, MD_QRULE_SOFT(MD_CHECK_VOLUME_OUTLIER), v.v[i].ts));
    cr_assert_eq(count(&bad, MD_QRULE_SOFT(MD_CHECK_VOLUME_OUTLIER)), 1);
    assert_only_dim_dropped(&clean, &bad, MD_QDIM_ACCURACY);
    graded_free(&clean);
    graded_free(&bad);
    md_bar_vec_deinit(&v);
}
