/* Cross-symbol statistics (analytics/cross.h): how returns are aligned (inner, outer), and
 * the statistics on cases whose answer follows from the definition (a series against a
 * linear function of itself). The comparison with numpy and pandas on real data is
 * tests/e2e/test_cross_analytics.py. */
#include "analytics/cross.h"

#include <criterion/criterion.h>
#include <math.h>

#define D 86400

Test(cross, test_inner_keeps_common_timestamps_and_takes_returns_between_them)
{
    /* B misses day 2, C starts on day 1 */
    int64_t ta[] = {0, D, 2 * D, 3 * D, 4 * D}, tb[] = {0, D, 3 * D, 4 * D},
            tc[] = {D, 2 * D, 3 * D, 4 * D};
    double ca[] = {10, 11, 12, 13, 14}, cb[] = {20, 22, 18, 27}, cc[] = {5, 6, 7, 8};
    md_close_series s[] = {{ta, ca, 5}, {tb, cb, 4}, {tc, cc, 4}};
    md_returns m;
    md_returns_compute(s, 3, MD_RET_SIMPLE, MD_ALIGN_INNER, &m);
    /* common: D, 3D, 4D -> returns at 3D (from D) and 4D (from 3D) */
    cr_assert_eq(m.rows, 2);
    cr_assert_eq(m.cols, 3);
    cr_assert_eq(m.ts[0], 3 * D);
    cr_assert_eq(m.ts[1], 4 * D);
    cr_assert_eq(m.r[0 * 3 + 0], 13.0 / 11.0 - 1, "A from day 1 to 3, across day 2");
    cr_assert_eq(m.r[0 * 3 + 1], 18.0 / 22.0 - 1);
    cr_assert_eq(m.r[0 * 3 + 2], 7.0 / 5.0 - 1);
    cr_assert_eq(m.r[1 * 3 + 1], 27.0 / 18.0 - 1);
    md_returns_deinit(&m);
    md_returns_compute(s, 3, MD_RET_LOG, MD_ALIGN_INNER, &m);
    cr_assert_eq(m.r[1 * 3 + 2], log(8.0 / 7.0));
    md_returns_deinit(&m);
}

Test(cross, test_outer_keeps_each_series_own_returns_on_the_union)
{
    int64_t ta[] = {0, D, 2 * D, 3 * D}, tb[] = {0, 2 * D, 3 * D, 5 * D};
    double ca[] = {10, 11, 12, 13}, cb[] = {20, 22, 18, 27};
    md_close_series s[] = {{ta, ca, 4}, {tb, cb, 4}};
    md_returns m;
    md_returns_compute(s, 2, MD_RET_SIMPLE, MD_ALIGN_OUTER, &m);
    /* return timestamps: A at D, 2D, 3D; B at 2D, 3D, 5D */
    cr_assert_eq(m.rows, 4);
    int64_t want_ts[] = {D, 2 * D, 3 * D, 5 * D};
    for (int i = 0; i < 4; i++) cr_assert_eq(m.ts[i], want_ts[i]);
    cr_assert_eq(m.r[0 * 2 + 0], 11.0 / 10.0 - 1);
    cr_assert(isnan(m.r[0 * 2 + 1]), "B has no bar on day 1");
    cr_assert_eq(m.r[1 * 2 + 1], 22.0 / 20.0 - 1, "B's return over its own gap");
    cr_assert(isnan(m.r[3 * 2 + 0]), "A has no bar on day 5");
    cr_assert_eq(m.r[3 * 2 + 1], 27.0 / 18.0 - 1);
    md_returns_deinit(&m);
}

Test(cross, test_nothing_in_common_gives_no_rows)
{
    int64_t ta[] = {0, D}, tb[] = {2 * D, 3 * D};
    double c[] = {1, 2};
    md_close_series s[] = {{ta, c, 2}, {tb, c, 2}};
    md_returns m;
    md_returns_compute(s, 2, MD_RET_SIMPLE, MD_ALIGN_INNER, &m);
    cr_assert_eq(m.rows, 0);
    md_returns_deinit(&m);
    md_close_series one[] = {{ta, c, 1}};
    md_returns_compute(one, 1, MD_RET_SIMPLE, MD_ALIGN_OUTER, &m);
    cr_assert_eq(m.rows, 0, "one bar has no return");
    md_returns_deinit(&m);
}

/* A pseudo-random series (deterministic). */
static void series(double *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = ((double)(seed >> 8) / 16777216.0 - 0.5) * 0.04;
    }
}

Test(cross, test_linear_relations_give_their_coefficients)
{
    enum { N = 300 };
    double x[N], y[N], z[N], b[N];
    series(x, N, 7);
    for (int i = 0; i < N; i++) y[i] = 3 * x[i] + 0.001, z[i] = -0.5 * x[i], b[i] = x[i];
    cr_assert_float_eq(md_stat_corr(x, y, N), 1.0, 1e-12);
    cr_assert_float_eq(md_stat_corr(x, z, N), -1.0, 1e-12);
    cr_assert_float_eq(md_stat_beta(y, b, N), 3.0, 1e-12, "y = 3b + c has beta 3");
    cr_assert_float_eq(md_stat_beta(z, b, N), -0.5, 1e-12);
    cr_assert_float_eq(md_stat_std(y, N), 3 * md_stat_std(x, N), 1e-15);
    double c[N];
    for (int i = 0; i < N; i++) c[i] = 0; /* a price that did not move */
    cr_assert(isnan(md_stat_corr(x, c, N)), "a constant series has no correlation");
    cr_assert(isnan(md_stat_beta(x, c, N)), "nor a beta against it");
    cr_assert(isnan(md_stat_std(x, 1)));
}

Test(cross, test_matrix_is_symmetric_with_a_unit_diagonal_and_matches_pairs)
{
    enum { N = 250, K = 5 };
    double cols[K][N], rows[N * K], m[K * K];
    for (int j = 0; j < K; j++) series(cols[j], N, 100 + (unsigned)j);
    for (int i = 0; i < N; i++) cols[3][i] += cols[0][i]; /* some real correlation */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++) rows[i * K + j] = cols[j][i];
    md_stat_corr_matrix(rows, N, K, m);
    for (int a = 0; a < K; a++) {
        cr_assert_eq(m[a * K + a], 1.0);
        for (int b = 0; b < K; b++) {
            cr_assert_eq(m[a * K + b], m[b * K + a]);
            if (a != b) cr_assert_float_eq(m[a * K + b], md_stat_corr(cols[a], cols[b], N), 1e-14);
        }
    }
    cr_assert_gt(m[0 * K + 3], 0.5);
}

Test(cross, test_rolling_values_are_the_statistics_of_each_window)
{
    enum { N = 120, W = 20 };
    double x[N], y[N], v[N];
    series(x, N, 3);
    series(y, N, 4);
    md_stat_rolling_corr(x, y, N, W, v);
    for (int i = 0; i < N; i++) {
        if (i < W - 1) {
            cr_assert(isnan(v[i]), "row %d: the window is not full", i);
            continue;
        }
        cr_assert_eq(v[i], md_stat_corr(x + i - W + 1, y + i - W + 1, W), "row %d", i);
    }
    md_stat_rolling_beta(x, y, N, W, v);
    cr_assert_eq(v[N - 1], md_stat_beta(x + N - W, y + N - W, W));
    md_stat_rolling_std(x, N, W, v);
    cr_assert(isnan(v[W - 2]));
    cr_assert_eq(v[W - 1], md_stat_std(x, W));
}
