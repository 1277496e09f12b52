/* core/bar.h: the partial-bar rule (md_bar_partial) every read path shares, and
 * analytics' streamed summary (md_summary_add chunk by chunk equals md_summary_compute). */
#include "analytics/indicators.h"
#include "core/bar.h"
#include "core/timefmt.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define MON 1709510400 /* 2024-03-04T00:00:00Z, a Monday */

Test(bar, a_bucket_wholly_inside_a_closed_range_is_whole)
{
    cr_assert_not(md_bar_partial(MD_IV_1W, MON, MON, MON + 7 * 86400, MON + 30 * 86400));
    cr_assert_not(md_bar_partial(MD_IV_1H, MON + 3600, MD_TS_MIN, MD_TS_MAX, MON + 7200));
}

Test(bar, a_start_inside_the_bucket_makes_it_partial)
{
    /* the bucket starts Monday, the range Wednesday */
    cr_assert(md_bar_partial(MD_IV_1W, MON, MON + 2 * 86400, MD_TS_MAX, MON + 30 * 86400));
    cr_assert(md_bar_partial(MD_IV_5M, MON, MON + 60, MON + 3600, MON + 7200));
}

Test(bar, an_end_inside_the_bucket_makes_it_partial)
{
    cr_assert(md_bar_partial(MD_IV_1W, MON, MON, MON + 5 * 86400, MON + 30 * 86400));
    /* end exactly at the bucket's end: whole */
    cr_assert_not(md_bar_partial(MD_IV_1W, MON, MON, MON + 7 * 86400, MON + 30 * 86400));
}

Test(bar, a_period_that_has_not_ended_is_partial)
{
    cr_assert(md_bar_partial(MD_IV_1D, MON, MD_TS_MIN, MD_TS_MAX, MON + 86399));
    cr_assert_not(md_bar_partial(MD_IV_1D, MON, MD_TS_MIN, MD_TS_MAX, MON + 86400));
    /* months have their own lengths */
    int64_t feb = 1706745600; /* 2024-02-01 */
    cr_assert(md_bar_partial(MD_IV_1MO, feb, MD_TS_MIN, MD_TS_MAX, feb + 28 * 86400));
    cr_assert_not(md_bar_partial(MD_IV_1MO, feb, MD_TS_MIN, MD_TS_MAX, feb + 29 * 86400));
}

Test(bar, a_span_judges_its_bars_and_none_means_whole)
{
    md_bar_span sp = {MD_IV_1W, MON + 86400, MD_TS_MAX, MON + 60 * 86400};
    cr_assert(md_bar_span_partial(&sp, MON));
    cr_assert_not(md_bar_span_partial(&sp, MON + 7 * 86400));
    cr_assert_not(md_bar_span_partial(NULL, MON));
}

/* The summary streamed in chunks of any size equals the one-shot computation bit for bit:
 * /analytics/{symbol}/summary covers any range in bounded memory without changing a digit. */
Test(bar, summary_in_chunks_equals_summary_at_once)
{
    enum { N = 5000 };
    static double c[N], h[N], l[N], v[N];
    static int64_t ts[N];
    double p = 100;
    unsigned seed = 11;
    for (int i = 0; i < N; i++) {
        p *= 1 + ((double)(rand_r(&seed) % 2001) - 1000) / 40000.0;
        c[i] = p, h[i] = p * 1.01, l[i] = p * 0.99, v[i] = 1e16 + rand_r(&seed) % 1000;
        ts[i] = MON + (int64_t)i * 86400;
    }
    md_summary whole, parts;
    md_summary_compute(c, h, l, v, ts, N, MD_IV_1D, &whole);
    const size_t sizes[] = {1, 7, 999, 4999, 5000};
    for (size_t k = 0; k < 5; k++) {
        md_summary_acc a;
        md_summary_begin(&a, MD_IV_1D);
        for (size_t i = 0; i < N; i += sizes[k]) {
            size_t n = N - i < sizes[k] ? N - i : sizes[k];
            md_summary_add(&a, c + i, h + i, l + i, v + i, ts + i, n);
        }
        md_summary_end(&a, &parts);
        cr_assert_eq(memcmp(&whole, &parts, sizeof whole), 0, "chunks of %zu differ", sizes[k]);
    }
    cr_assert_eq(whole.count, N);
    cr_assert_eq(whole.first_close, c[0]);
    cr_assert_eq(whole.last_close, c[N - 1]);
    md_summary empty;
    md_summary_compute(c, h, l, v, ts, 0, MD_IV_1D, &empty);
    cr_assert(isnan(empty.first_close));
}
