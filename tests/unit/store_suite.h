/* store_suite.h - the storage test suite, run against every backend.
 *
 * Included by test_store_sqlite.c and test_store_pg.c: same inputs, same assertions, so the
 * backends give the same answers (aggregation is compared bit for bit with the C
 * aggregation of the same input). Before including, the file defines:
 *   STORE_SUITE                    the Criterion suite name
 *   static void suite_url(char *url, size_t n)   a fresh, empty store URL for one test
 *   static void suite_drop(const char *url)      removes it after the test
 *   static void suite_options(md_store_options *o)   backend options (may be empty) */
#ifndef MD_STORE_SUITE_H
#define MD_STORE_SUITE_H

#include "core/mem.h"
#include "core/timefmt.h"
#include "store/store.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>

#define SUITE_TEST_(suite, name, ...) Test(suite, name, __VA_ARGS__)
#define SUITE_TEST(name, ...)                                                                      \
    SUITE_TEST_(STORE_SUITE, name, .init = setup, .fini = teardown, ##__VA_ARGS__)

static md_store *st;
static char url[600];

static md_store *open_store(void)
{
    md_store_options o;
    md_store_options_default(&o);
    suite_options(&o);
    md_store *s = NULL;
    md_error err;
    cr_assert_eq(md_store_open(url, &o, &s, &err), 0, "%s", err.msg);
    return s;
}

static void setup(void)
{
    suite_url(url, sizeof url);
    st = open_store();
}

static void teardown(void)
{
    md_store_close(st);
    suite_drop(url);
}

static md_bar B(int64_t ts, double o, double h, double l, double c, double v)
{
    md_bar b;
    md_bar_init(&b);
    b.ts = ts, b.open = o, b.high = h, b.low = l, b.close = c, b.volume = v;
    b.source = MD_SRC_CSV;
    return b;
}

static void put(const char *sym, md_interval iv, const md_bar *bars, size_t n)
{
    md_series s = {sym, iv, bars, n};
    md_error err;
    int rc = md_store_put_bars(st, &s, 1, &err);
    cr_assert_eq(rc, (int)n, "put: %s", err.msg);
}

/* Exact equality of two bars, NaN equal to NaN. */
static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void assert_same_bar(const md_bar *got, const md_bar *want, const char *what, size_t i)
{
    cr_assert_eq(got->ts, want->ts, "%s[%zu].ts %lld != %lld", what, i, (long long)got->ts,
                 (long long)want->ts);
    cr_assert(same_double(got->open, want->open), "%s[%zu].open %.17g != %.17g", what, i, got->open,
              want->open);
    cr_assert(same_double(got->high, want->high), "%s[%zu].high %.17g != %.17g", what, i, got->high,
              want->high);
    cr_assert(same_double(got->low, want->low), "%s[%zu].low", what, i);
    cr_assert(same_double(got->close, want->close), "%s[%zu].close %.17g != %.17g", what, i,
              got->close, want->close);
    cr_assert(same_double(got->volume, want->volume), "%s[%zu].volume %.17g != %.17g", what, i,
              got->volume, want->volume);
    cr_assert(same_double(got->vwap, want->vwap), "%s[%zu].vwap %.17g != %.17g", what, i, got->vwap,
              want->vwap);
    cr_assert_eq(got->trades, want->trades, "%s[%zu].trades %lld != %lld", what, i,
                 (long long)got->trades, (long long)want->trades);
    cr_assert_eq(got->source, want->source, "%s[%zu].source", what, i);
    cr_assert(got->quality == want->quality, "%s[%zu].quality %g != %g", what, i,
              (double)got->quality, (double)want->quality);
}

/* -- upserts and ranges --------------------------------------------------------------------- */

SUITE_TEST(upsert_replaces_never_duplicates)
{
    md_bar a[3] = {B(86400, 1, 2, 0.5, 1.5, 10), B(2 * 86400, 2, 3, 1, 2.5, 20),
                   B(3 * 86400, 3, 4, 2, 3.5, 30)};
    put("AAA", MD_IV_1D, a, 3);
    put("AAA", MD_IV_1D, a, 3);
    md_bar changed = B(2 * 86400, 2, 9, 1, 8, 99);
    put("AAA", MD_IV_1D, &changed, 1);
    cr_assert_eq(md_store_count_bars(st, "AAA", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 3);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "AAA", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 3);
    cr_assert_eq(v.v[1].close, 8);
    cr_assert_eq(v.v[1].high, 9);
    cr_assert_eq(v.v[1].volume, 99);
    cr_assert_eq(v.v[0].close, 1.5);
    cr_assert(isnan(v.v[0].vwap));
    cr_assert_eq(v.v[0].trades, -1);
    cr_assert_eq(v.v[0].source, MD_SRC_CSV);
    md_bar_vec_deinit(&v);
    md_symbol_info *info;
    cr_assert_eq(md_store_list_symbols(st, &info, NULL), 1);
    cr_assert_eq(info[0].count, 3, "listing counts rows, not writes");
    free(info);
}

SUITE_TEST(duplicates_in_one_call_last_wins_and_unsorted_input_is_sorted)
{
    md_bar a[4] = {B(3 * 60, 3, 3, 3, 3, 3), B(60, 1, 1, 1, 1, 1), B(3 * 60, 7, 7, 7, 7, 7),
                   B(2 * 60, 2, 2, 2, 2, 2)};
    md_bar b[1] = {B(60, 9, 9, 9, 9, 9)};
    md_series s[2] = {{"DUP", MD_IV_1M, a, 4}, {"DUP", MD_IV_1M, b, 1}};
    md_error err;
    cr_assert_eq(md_store_put_bars(st, s, 2, &err), 5, "%s", err.msg);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "DUP", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 3);
    cr_assert_eq(v.v[0].ts, 60);
    cr_assert_eq(v.v[0].close, 9, "the later series in the call wins");
    cr_assert_eq(v.v[2].close, 7, "the later duplicate in a series wins");
    md_bar_vec_deinit(&v);
    cr_assert_eq(md_store_count_bars(st, "DUP", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 3);
}

SUITE_TEST(optional_fields_round_trip)
{
    md_bar a[3] = {B(86400, 1.1, 2.2, 0.5, 1.5, 10.25), B(2 * 86400, 2, 3, 1, 2.5, 0),
                   B(3 * 86400, 1e-9, 1e15, 1e-12, 123456789.123456789, 1e20)};
    a[0].vwap = 1.2345678901234567, a[0].trades = 42, a[0].quality = 97.25f;
    a[0].source = MD_SRC_YAHOO;
    a[1].trades = 0, a[1].quality = 0;
    a[2].source = MD_SRC_INGEST;
    put("OPT", MD_IV_1D, a, 3);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "OPT", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 3);
    for (size_t i = 0; i < 3; i++) assert_same_bar(&v.v[i], &a[i], "opt", i);
    md_bar_vec_deinit(&v);
}

SUITE_TEST(ranges_are_start_inclusive_end_exclusive)
{
    md_bar a[5];
    for (int i = 0; i < 5; i++) a[i] = B(i * 60, 1 + i, 2 + i, 0.5 + i, 1.5 + i, i);
    put("BBB", MD_IV_1M, a, 5);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_1M, 60, 180, 0, &v, NULL), 2);
    cr_assert_eq(v.v[0].ts, 60);
    cr_assert_eq(v.v[1].ts, 120);
    v.n = 0;
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_1M, 61, 120, 0, &v, NULL), 0);
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_1M, 0, 1, 0, &v, NULL), 1);
    cr_assert_eq(v.v[0].ts, 0);
    v.n = 0;
    /* limit returns the newest bars, oldest first */
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 2, &v, NULL), 2);
    cr_assert_eq(v.v[0].ts, 180);
    cr_assert_eq(v.v[1].ts, 240);
    v.n = 0;
    /* empty and inverted ranges */
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_1M, 120, 120, 0, &v, NULL), 0);
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_1M, 180, 60, 0, &v, NULL), 0);
    cr_assert_eq(md_store_count_bars(st, "BBB", MD_IV_1M, 60, 240, NULL), 3);
    cr_assert_eq(md_store_count_bars(st, "BBB", MD_IV_1M, 240, 60, NULL), 0);
    /* other interval, other symbol: nothing */
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 0);
    cr_assert_eq(md_store_get_bars(st, "NOPE", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 0);
    cr_assert_eq(md_store_count_bars(st, "NOPE", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 0);
    md_bar_vec_deinit(&v);
}

SUITE_TEST(extreme_timestamps)
{
    md_bar a[3] = {B(MD_TS_MIN, 1, 1, 1, 1, 1), B(-86400 * 365 * 50, 2, 2, 2, 2, 2),
                   B(MD_TS_MAX - 59, 3, 3, 3, 3, 3)};
    put("EDGE", MD_IV_1M, a, 3);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "EDGE", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 3);
    cr_assert_eq(v.v[0].ts, MD_TS_MIN);
    cr_assert_eq(v.v[2].ts, MD_TS_MAX - 59);
    md_bar_vec_deinit(&v);
    md_bar out;
    cr_assert_eq(md_store_latest_bar(st, "EDGE", &out, NULL, NULL), 0);
    cr_assert_eq(out.ts, MD_TS_MAX - 59);
}

SUITE_TEST(large_batch_of_many_series)
{
    enum { NS = 7, PER = 20000 };
    static md_bar bars[NS][PER];
    md_series s[NS];
    char names[NS][8];
    for (int k = 0; k < NS; k++) {
        snprintf(names[k], sizeof names[k], "L%d", k);
        for (int i = 0; i < PER; i++)
            bars[k][i] = B(1700000000 + (int64_t)i * 60, 10 + k, 11 + k, 9 + k, 10.5 + i * 1e-3, i);
        s[k] = (md_series){names[k], MD_IV_1M, bars[k], PER};
    }
    md_error err;
    cr_assert_eq(md_store_put_bars(st, s, NS, &err), NS * PER, "%s", err.msg);
    /* again, with one value changed in every series: nothing grows */
    for (int k = 0; k < NS; k++) bars[k][PER / 2].close = -1;
    cr_assert_eq(md_store_put_bars(st, s, NS, &err), NS * PER, "%s", err.msg);
    md_symbol_info *info;
    cr_assert_eq(md_store_list_symbols(st, &info, &err), NS, "%s", err.msg);
    for (int k = 0; k < NS; k++) {
        cr_assert_str_eq(info[k].symbol, names[k]);
        cr_assert_eq(info[k].count, PER);
        cr_assert_eq(info[k].first_ts, 1700000000);
        cr_assert_eq(info[k].last_ts, 1700000000 + (int64_t)(PER - 1) * 60);
    }
    free(info);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(
        md_store_get_bars(st, "L3", MD_IV_1M, 1700000000 + (PER / 2) * 60, MD_TS_MAX, 1, &v, NULL),
        1);
    cr_assert_eq(v.v[0].ts, 1700000000 + (int64_t)(PER - 1) * 60);
    v.n = 0;
    cr_assert_eq(md_store_get_bars(st, "L3", MD_IV_1M, 1700000000 + (PER / 2) * 60,
                                   1700000000 + (PER / 2 + 1) * 60, 0, &v, NULL),
                 1);
    cr_assert_eq(v.v[0].close, -1);
    md_bar_vec_deinit(&v);
}

/* -- aggregation -------------------------------------------------------------------------- */

SUITE_TEST(aggregation_matches_hand_computed_bars)
{
    /* ten 1m bars from 09:58 to 10:07 -> 5m buckets 09:55 (2 bars), 10:00 (5), 10:05 (3) */
    int64_t t0 = 1709287080; /* 2024-03-01T09:58:00Z */
    md_bar a[10];
    for (int i = 0; i < 10; i++)
        a[i] = B(t0 + i * 60, 10 + i, 11 + i + (i == 3 ? 5 : 0), 9 + i - (i == 6 ? 4 : 0), 10.5 + i,
                 100 + i);
    put("CCC", MD_IV_1M, a, 10);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_interval used;
    int n = md_store_get_bars_agg(st, "CCC", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, 0, &v, &used, NULL);
    cr_assert_eq(n, 3);
    cr_assert_eq(used, MD_IV_1M);
    cr_assert_eq(v.v[0].ts, 1709286900); /* 09:55 */
    cr_assert_eq(v.v[0].open, 10);
    cr_assert_eq(v.v[0].close, 11.5);
    cr_assert_eq(v.v[0].high, 12);
    cr_assert_eq(v.v[0].low, 9);
    cr_assert_eq(v.v[0].volume, 201);
    cr_assert_eq(v.v[1].ts, 1709287200); /* 10:00: bars 2..6 */
    cr_assert_eq(v.v[1].open, 12);
    cr_assert_eq(v.v[1].high, 19); /* bar 3: 11+3+5 */
    cr_assert_eq(v.v[1].low, 11);  /* bar 2: 9+2; bar 6 low is 11 too */
    cr_assert_eq(v.v[1].close, 16.5);
    cr_assert_eq(v.v[1].volume, 102 + 103 + 104 + 105 + 106);
    cr_assert_eq(v.v[2].ts, 1709287500);
    cr_assert_eq(v.v[2].volume, 107 + 108 + 109);
    v.n = 0;
    /* a start inside a bucket keeps that bucket, aggregated from the start on (issue 13: it
     * was dropped silently); the caller marks it partial */
    n = md_store_get_bars_agg(st, "CCC", MD_IV_5M, 1709287080 + 60, MD_TS_MAX, 0, &v, NULL, NULL);
    cr_assert_eq(n, 3);
    cr_assert_eq(v.v[0].ts, 1709286900); /* 09:55, from the 09:59 bar alone */
    cr_assert_eq(v.v[0].open, 11);
    cr_assert_eq(v.v[0].close, 11.5);
    cr_assert_eq(v.v[0].volume, 101);
    cr_assert(md_bar_partial(MD_IV_5M, v.v[0].ts, 1709287080 + 60, MD_TS_MAX, 1709287080 + 86400));
    cr_assert_not(
        md_bar_partial(MD_IV_5M, v.v[1].ts, 1709287080 + 60, MD_TS_MAX, 1709287080 + 86400));
    cr_assert_eq(v.v[1].ts, 1709287200);
    v.n = 0;
    /* an end inside a bucket: the bucket aggregates the bars before the end */
    n = md_store_get_bars_agg(st, "CCC", MD_IV_5M, MD_TS_MIN, 1709287200 + 120, 0, &v, NULL, NULL);
    cr_assert_eq(n, 2);
    cr_assert_eq(v.v[1].ts, 1709287200);
    cr_assert_eq(v.v[1].volume, 102 + 103);
    v.n = 0;
    /* limit keeps the newest aggregated bars */
    n = md_store_get_bars_agg(st, "CCC", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, 1, &v, NULL, NULL);
    cr_assert_eq(n, 1);
    cr_assert_eq(v.v[0].ts, 1709287500);
    v.n = 0;
    /* or the oldest */
    n = md_store_read_bars(st, "CCC", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, 2, MD_STORE_OLDEST, &v, NULL,
                           NULL);
    cr_assert_eq(n, 2);
    cr_assert_eq(v.v[0].ts, 1709286900);
    cr_assert_eq(v.v[1].ts, 1709287200);
    v.n = 0;
    /* 1h and 1d from the same minutes */
    cr_assert_eq(
        md_store_get_bars_agg(st, "CCC", MD_IV_1H, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 2);
    cr_assert_eq(v.v[0].volume, 201);
    cr_assert_eq(v.v[1].volume, 102 + 103 + 104 + 105 + 106 + 107 + 108 + 109);
    v.n = 0;
    /* stored bars of the asked interval win over aggregation */
    md_bar h = B(1709287200, 1, 1, 1, 1, 1);
    put("CCC", MD_IV_1H, &h, 1);
    cr_assert_eq(
        md_store_get_bars_agg(st, "CCC", MD_IV_1H, MD_TS_MIN, MD_TS_MAX, 0, &v, &used, NULL), 1);
    cr_assert_eq(used, MD_IV_1H);
    cr_assert_eq(v.v[0].volume, 1);
    md_bar_vec_deinit(&v);
}

SUITE_TEST(weekly_and_monthly_from_daily)
{
    md_bar d[14];
    int64_t mon = 1709510400; /* 2024-03-04, a Monday */
    for (int i = 0; i < 14; i++)
        d[i] = B(mon - 5 * 86400 + i * 86400, 100 + i, 101 + i, 99 + i, 100.5 + i, 1);
    put("DDD", MD_IV_1D, d, 14);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(
        md_store_get_bars_agg(st, "DDD", MD_IV_1W, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 3);
    cr_assert_eq(v.v[0].ts, mon - 7 * 86400);
    cr_assert_eq(v.v[0].volume, 5);
    cr_assert_eq(v.v[1].ts, mon);
    cr_assert_eq(v.v[1].open, 105);
    cr_assert_eq(v.v[1].close, 111.5);
    cr_assert_eq(v.v[1].volume, 7);
    cr_assert_eq(v.v[2].volume, 2);
    v.n = 0;
    cr_assert_eq(
        md_store_get_bars_agg(st, "DDD", MD_IV_1MO, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 2);
    cr_assert_eq(v.v[0].ts, 1706745600); /* 2024-02-01 */
    cr_assert_eq(v.v[0].volume, 2);      /* Feb 28, 29 */
    cr_assert_eq(v.v[0].close, 101.5);
    cr_assert_eq(v.v[1].ts, 1709251200); /* 2024-03-01 */
    cr_assert_eq(v.v[1].open, 102);
    cr_assert_eq(v.v[1].high, 114);
    md_bar_vec_deinit(&v);
}

SUITE_TEST(weeks_and_months_before_1970)
{
    /* 1969-12-22 was a Monday: weeks must start on Mondays before the epoch too */
    md_bar d[20];
    int64_t mon = -10 * 86400; /* 1969-12-22 */
    for (int i = 0; i < 20; i++) d[i] = B(mon - 3 * 86400 + i * 86400, i, i + 1, i - 1, i + 0.5, i);
    put("OLD", MD_IV_1D, d, 20);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(
        md_store_get_bars_agg(st, "OLD", MD_IV_1W, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 4);
    cr_assert_eq(v.v[0].ts, mon - 7 * 86400);
    cr_assert_eq(v.v[1].ts, mon);
    cr_assert_eq(v.v[1].open, 3);
    cr_assert_eq(v.v[2].ts, mon + 7 * 86400);
    v.n = 0;
    cr_assert_eq(
        md_store_get_bars_agg(st, "OLD", MD_IV_1MO, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 2);
    cr_assert_eq(v.v[0].ts, -31 * 86400); /* 1969-12-01 */
    cr_assert_eq(v.v[1].ts, 0);
    md_bar_vec_deinit(&v);
}

SUITE_TEST(a_range_that_starts_inside_a_bucket_answers_it_from_that_interval)
{
    /* 1h bars on Wednesday and 1m bars later: asking 1w from Wednesday finds 1h bars in the
     * range; their week starts on Monday (before the range), so the answer is that week
     * aggregated from Wednesday on (partial) and comes from 1h - never from the minutes */
    int64_t wed = 1709683200; /* 2024-03-06 */
    md_bar h[3] = {B(wed, 1, 1, 1, 1, 1), B(wed + 3600, 1, 1, 1, 1, 1),
                   B(wed + 7200, 1, 1, 1, 1, 1)};
    md_bar m[2] = {B(wed + 7 * 86400, 2, 2, 2, 2, 2), B(wed + 7 * 86400 + 60, 2, 2, 2, 2, 2)};
    put("WED", MD_IV_1H, h, 3);
    put("WED", MD_IV_1M, m, 2);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_interval used = MD_IV_1M;
    cr_assert_eq(
        md_store_get_bars_agg(st, "WED", MD_IV_1W, wed, wed + 5 * 86400, 0, &v, &used, NULL), 1);
    cr_assert_eq(used, MD_IV_1H);
    cr_assert_eq(v.v[0].ts, wed - 2 * 86400);
    cr_assert_eq(v.v[0].volume, 3);
    cr_assert(md_bar_partial(MD_IV_1W, v.v[0].ts, wed, wed + 5 * 86400, MD_TS_MAX));
    v.n = 0;
    /* over the later week only the minutes exist: they answer */
    cr_assert_eq(
        md_store_get_bars_agg(st, "WED", MD_IV_1W, wed + 5 * 86400, MD_TS_MAX, 0, &v, &used, NULL),
        1);
    cr_assert_eq(used, MD_IV_1M);
    cr_assert_eq(v.v[0].ts, wed - 2 * 86400 + 7 * 86400);
    md_bar_vec_deinit(&v);
}

/* Deterministic pseudo-random numbers (xorshift). */
static uint64_t rng_state = 88172645463325252ULL;
static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* What md_store_read_bars must answer, computed in C from the input bars: every bucket with
 * a bar in [start, end), aggregated from those bars; the oldest or newest `limit`. */
static void expected_agg(const md_bar *in, size_t n, md_interval iv, int64_t start, int64_t end,
                         size_t limit, md_store_end keep, md_bar_vec *out)
{
    md_bar_vec fine;
    md_bar_vec_init(&fine);
    for (size_t i = 0; i < n; i++)
        if (in[i].ts >= start && in[i].ts < end) md_bar_vec_push(&fine, &in[i]);
    md_bar_vec all;
    md_bar_vec_init(&all);
    md_bars_aggregate(fine.v, fine.n, iv, &all);
    size_t first = 0, cnt = all.n;
    if (limit && cnt > limit) first = keep == MD_STORE_OLDEST ? 0 : cnt - limit, cnt = limit;
    for (size_t i = 0; i < cnt; i++) md_bar_vec_push(out, &all.v[first + i]);
    md_bar_vec_deinit(&fine);
    md_bar_vec_deinit(&all);
}

SUITE_TEST(aggregation_equals_c_aggregation_bit_for_bit)
{
    /* irregular 1m bars over ~75 days: fractional volumes (sum order matters in the last
     * bit), vwap and trades missing on some bars, mixed sources and quality scores */
    enum { N = 30000 };
    static md_bar in[N];
    int64_t t = 1706745600 - 3 * 86400; /* late January 2024 */
    for (int i = 0; i < N; i++) {
        t += 60 * (1 + (int64_t)(rnd() * 6));
        double o = 100 + rnd() * 10, c = 100 + rnd() * 10;
        in[i] = B(t, o, fmax(o, c) + rnd(), fmin(o, c) - rnd(), c, rnd() * 1000 / 3);
        in[i].vwap = (i % 97 == 5) ? NAN : (o + c) / 2 + rnd() / 7;
        in[i].trades = (i % 89 == 3) ? -1 : (int64_t)(rnd() * 500);
        in[i].quality = (i % 7 == 0) ? -1.0f : (float)(50 + rnd() * 50);
        in[i].source = (uint8_t)(i % 3 == 0 ? MD_SRC_POLYGON : MD_SRC_YAHOO);
        if (i % 1013 == 0) in[i].volume = 0;
    }
    put("RND", MD_IV_1M, in, N);
    const md_interval ivs[] = {MD_IV_5M, MD_IV_15M, MD_IV_30M, MD_IV_1H,
                               MD_IV_4H, MD_IV_1D,  MD_IV_1W,  MD_IV_1MO};
    const int64_t starts[] = {MD_TS_MIN, in[0].ts, in[N / 3].ts + 17, in[N / 2].ts};
    const int64_t ends[] = {MD_TS_MAX, in[N - 1].ts, in[2 * N / 3].ts + 1};
    const size_t limits[] = {0, 1, 7, 100000};
    md_bar_vec got, want;
    md_bar_vec_init(&got);
    md_bar_vec_init(&want);
    for (size_t a = 0; a < sizeof ivs / sizeof ivs[0]; a++)
        for (size_t s = 0; s < 4; s++)
            for (size_t e = 0; e < 3; e++)
                for (size_t l = 0; l < 4; l++)
                    for (int k = 0; k < 2; k++) {
                        md_store_end keep = k ? MD_STORE_OLDEST : MD_STORE_NEWEST;
                        got.n = want.n = 0;
                        md_error err;
                        md_interval used;
                        int n = md_store_read_bars(st, "RND", ivs[a], starts[s], ends[e], limits[l],
                                                   keep, &got, &used, &err);
                        cr_assert_geq(n, 0, "%s", err.msg);
                        expected_agg(in, N, ivs[a], starts[s], ends[e], limits[l], keep, &want);
                        cr_assert_eq((size_t)n, want.n,
                                     "%s s=%zu e=%zu limit=%zu keep=%d: %d buckets, want %zu",
                                     md_interval_name(ivs[a]), s, e, limits[l], k, n, want.n);
                        cr_assert_eq(used, MD_IV_1M);
                        for (size_t i = 0; i < want.n; i++)
                            assert_same_bar(&got.v[i], &want.v[i], md_interval_name(ivs[a]), i);
                    }
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&want);
}

/* More finer bars than one read brings (store.c reads them in chunks of 65536): buckets cut
 * by a chunk's edge are carried to the next chunk, from either end, and memory stays bounded
 * by the answer. */
SUITE_TEST(aggregation_over_more_bars_than_one_chunk)
{
    enum { N = 150000 };
    md_bar *in = md_malloc(N * sizeof *in);
    int64_t t = 1577836800; /* 2020-01-01 */
    for (int i = 0; i < N; i++) {
        t += 60 * (1 + (i % 5 == 0));
        in[i] = B(t, 100 + i % 7, 110 + i % 13, 90 - i % 11, 100 + i % 5, 1 + i % 3);
    }
    put("CHK", MD_IV_1M, in, N);
    const md_interval ivs[] = {MD_IV_1H, MD_IV_1D, MD_IV_1W};
    const size_t limits[] = {0, 3, 500};
    md_bar_vec got, want;
    md_bar_vec_init(&got);
    md_bar_vec_init(&want);
    for (size_t a = 0; a < 3; a++)
        for (size_t l = 0; l < 3; l++)
            for (int k = 0; k < 2; k++) {
                md_store_end keep = k ? MD_STORE_OLDEST : MD_STORE_NEWEST;
                got.n = want.n = 0;
                int64_t start = in[7].ts + 30, end = in[N - 9].ts;
                int n = md_store_read_bars(st, "CHK", ivs[a], start, end, limits[l], keep, &got,
                                           NULL, NULL);
                expected_agg(in, N, ivs[a], start, end, limits[l], keep, &want);
                cr_assert_eq((size_t)n, want.n, "%s limit=%zu keep=%d: %d, want %zu",
                             md_interval_name(ivs[a]), limits[l], k, n, want.n);
                for (size_t i = 0; i < want.n; i++)
                    assert_same_bar(&got.v[i], &want.v[i], md_interval_name(ivs[a]), i);
            }
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&want);
    md_free(in);
}

/* -- latest bar, quotes, listing ------------------------------------------------------------ */

SUITE_TEST(latest_bar_and_quotes)
{
    md_bar d = B(1709251200, 1, 2, 0.5, 1.5, 10); /* 2024-03-01 daily */
    md_bar m = B(1709303400, 3, 4, 2.5, 3.5, 1);  /* 2024-03-01T14:30 minute */
    put("EEE", MD_IV_1D, &d, 1);
    put("EEE", MD_IV_1M, &m, 1);
    md_bar out;
    md_interval iv;
    cr_assert_eq(md_store_latest_bar(st, "EEE", &out, &iv, NULL), 0);
    cr_assert_eq(iv, MD_IV_1D);               /* the day ends after the minute */
    md_bar m2 = B(1709337540, 5, 5, 5, 5, 5); /* 23:59: ends with the day: the finer one wins */
    put("EEE", MD_IV_1M, &m2, 1);
    cr_assert_eq(md_store_latest_bar(st, "EEE", &out, &iv, NULL), 0);
    cr_assert_eq(iv, MD_IV_1M, "a tie on the end goes to the finest interval");
    cr_assert_eq(out.close, 5);
    md_bar m3 = B(1709337600, 6, 6, 6, 6, 6); /* next day's first minute */
    put("EEE", MD_IV_1M, &m3, 1);
    cr_assert_eq(md_store_latest_bar(st, "EEE", &out, &iv, NULL), 0);
    cr_assert_eq(iv, MD_IV_1M);
    cr_assert_eq(out.close, 6);
    md_error err;
    cr_assert_eq(md_store_latest_bar(st, "NOPE", &out, &iv, &err), MD_ENODATA);

    md_quote q;
    md_quote_init(&q);
    strcpy(q.symbol, "EEE");
    q.ts = 1000, q.price = 5, q.source = MD_SRC_INGEST;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 1);
    q.ts = 999, q.price = 4;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 0,
                 "an older quote must not replace a newer one");
    q.ts = 1001, q.price = 6, q.bid = 5.9, q.ask = 6.1;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 1);
    q.price = 6.5, q.quality = 88.5f;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 1, "an equal timestamp replaces");
    md_quote got;
    cr_assert_eq(md_store_get_quote(st, "EEE", &got, NULL), 0);
    cr_assert_eq(got.price, 6.5);
    cr_assert_eq(got.ts, 1001);
    cr_assert_eq(got.bid, 5.9);
    cr_assert_eq(got.ask, 6.1);
    cr_assert_eq(got.quality, 88.5f);
    cr_assert_str_eq(got.symbol, "EEE");
    cr_assert_eq(got.source, MD_SRC_INGEST);
    cr_assert(isnan(got.volume));
    cr_assert_eq(md_store_get_quote(st, "NOPE", &got, &err), MD_ENODATA);
    /* a quote alone makes no listed series */
    md_quote_init(&q);
    strcpy(q.symbol, "QONLY");
    q.ts = 5, q.price = 1;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 1);
    md_symbol_info *info;
    int n = md_store_list_symbols(st, &info, NULL);
    cr_assert_eq(n, 2); /* EEE 1m and 1d */
    free(info);
}

SUITE_TEST(list_symbols_counts_and_bounds)
{
    md_bar a[3] = {B(0, 1, 1, 1, 1, 0), B(86400, 1, 1, 1, 1, 0), B(5 * 86400, 1, 1, 1, 1, 0)};
    put("ZZZ", MD_IV_1D, a, 3);
    put("AAA", MD_IV_1D, a, 2);
    md_symbol_info *v;
    int n = md_store_list_symbols(st, &v, NULL);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[0].symbol, "AAA");
    cr_assert_eq(v[0].count, 2);
    cr_assert_str_eq(v[1].symbol, "ZZZ");
    cr_assert_eq(v[1].count, 3);
    cr_assert_eq(v[1].first_ts, 0);
    cr_assert_eq(v[1].last_ts, 5 * 86400);
    free(v);
    /* the listing follows writes: a new series, an earlier bar, a later bar */
    put("MMM", MD_IV_1H, a, 1);
    md_bar early = B(-86400, 1, 1, 1, 1, 0), late = B(9 * 86400, 1, 1, 1, 1, 0);
    put("ZZZ", MD_IV_1D, &early, 1);
    put("ZZZ", MD_IV_1D, &late, 1);
    n = md_store_list_symbols(st, &v, NULL);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[2].symbol, "ZZZ");
    cr_assert_eq(v[2].count, 5);
    cr_assert_eq(v[2].first_ts, -86400);
    cr_assert_eq(v[2].last_ts, 9 * 86400);
    free(v);
}

SUITE_TEST(list_symbols_orders_by_bytes_then_interval)
{
    const char *names[] = {"BRK.B", "BRK-B", "^GSPC", "A", "AA", "EURUSD=X", "B"};
    md_bar a = B(86400, 1, 1, 1, 1, 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        put(names[i], MD_IV_1D, &a, 1);
        put(names[i], MD_IV_1M, &a, 1);
    }
    md_symbol_info *v;
    int n = md_store_list_symbols(st, &v, NULL);
    cr_assert_eq(n, 14);
    const char *want[] = {"A", "AA", "B", "BRK-B", "BRK.B", "EURUSD=X", "^GSPC"};
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq(v[2 * i].symbol, want[i]);
        cr_assert_eq(v[2 * i].iv, MD_IV_1M);
        cr_assert_eq(v[2 * i + 1].iv, MD_IV_1D);
    }
    free(v);
}

SUITE_TEST(data_survives_reopen)
{
    md_bar a = B(86400, 1, 2, 0.5, 1.5, 10);
    a.vwap = 1.25, a.trades = 42, a.quality = 97.5f;
    put("PPP", MD_IV_1D, &a, 1);
    md_store_close(st);
    st = open_store();
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "PPP", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 1);
    cr_assert_eq(v.v[0].vwap, 1.25);
    cr_assert_eq(v.v[0].trades, 42);
    cr_assert_float_eq(v.v[0].quality, 97.5f, 1e-6);
    md_bar_vec_deinit(&v);
    /* writing after a reopen reuses the symbol */
    md_bar b = B(2 * 86400, 1, 2, 0.5, 1.5, 10);
    put("PPP", MD_IV_1D, &b, 1);
    md_symbol_info *info;
    cr_assert_eq(md_store_list_symbols(st, &info, NULL), 1);
    cr_assert_eq(info[0].count, 2);
    free(info);
}

SUITE_TEST(ping_and_kind)
{
    md_error err;
    cr_assert_eq(md_store_ping(st, &err), 0, "%s", err.msg);
    cr_assert(strcmp(md_store_kind(st), "sqlite") == 0 ||
              strcmp(md_store_kind(st), "postgresql") == 0);
    cr_assert_not_null(md_store_url_redacted(st));
}

/* -- threads ------------------------------------------------------------------------------- */

enum { T_THREADS = 8, T_ROUNDS = 25, T_BARS = 40 };

static void *writer_reader(void *arg)
{
    int k = (int)(intptr_t)arg;
    char sym[16];
    snprintf(sym, sizeof sym, "T%d", k % 4); /* two threads per symbol: overlapping upserts */
    md_bar bars[T_BARS];
    for (int r = 0; r < T_ROUNDS; r++) {
        for (int i = 0; i < T_BARS; i++)
            bars[i] = B(1700000000 + (int64_t)(r * T_BARS + i) * 60, k, k + 1, k - 1, r, i);
        md_series s = {sym, MD_IV_1M, bars, T_BARS};
        md_error err;
        if (md_store_put_bars(st, &s, 1, &err) != T_BARS) return (void *)strdup(err.msg);
        md_bar_vec v;
        md_bar_vec_init(&v);
        int n = md_store_get_bars(st, sym, MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 10, &v, &err);
        md_bar_vec_deinit(&v);
        if (n != 10) return (void *)strdup(n < 0 ? err.msg : "short read");
        md_quote q;
        md_quote_init(&q);
        snprintf(q.symbol, sizeof q.symbol, "%s", sym);
        q.ts = 1700000000 + r, q.price = k;
        if (md_store_put_quote(st, &q, &err) < 0) return (void *)strdup(err.msg);
        md_symbol_info *info;
        if (md_store_list_symbols(st, &info, &err) < 0) return (void *)strdup(err.msg);
        free(info);
    }
    return NULL;
}

SUITE_TEST(concurrent_writers_and_readers)
{
    pthread_t th[T_THREADS];
    for (int k = 0; k < T_THREADS; k++)
        pthread_create(&th[k], NULL, writer_reader, (void *)(intptr_t)k);
    for (int k = 0; k < T_THREADS; k++) {
        void *res;
        pthread_join(th[k], &res);
        cr_assert_null(res, "thread %d: %s", k, res ? (char *)res : "");
    }
    md_symbol_info *info;
    cr_assert_eq(md_store_list_symbols(st, &info, NULL), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(info[i].count, T_ROUNDS * T_BARS, "%s", info[i].symbol);
    free(info);
    for (int i = 0; i < 4; i++) {
        char sym[8];
        snprintf(sym, sizeof sym, "T%d", i);
        cr_assert_eq(md_store_count_bars(st, sym, MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL),
                     T_ROUNDS * T_BARS);
        md_quote q;
        cr_assert_eq(md_store_get_quote(st, sym, &q, NULL), 0);
        cr_assert_eq(q.ts, 1700000000 + T_ROUNDS - 1);
    }
}

/* -- the bulk path and load marks ----------------------------------------------------------- */

SUITE_TEST(bulk_chunks_keep_every_field_lean_and_full)
{
    /* 200 bars: three 64-row statements and a tail of 8 single rows */
    md_bar a[200];
    for (int i = 0; i < 200; i++) a[i] = B(i * 60, 10 + i, 11 + i, 9 + i, 10.5 + i, i);
    put("BULK", MD_IV_1M, a, 200);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "BULK", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 200);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(v.v[i].ts, i * 60);
        cr_assert_eq(v.v[i].open, 10 + i);
        cr_assert_eq(v.v[i].high, 11 + i);
        cr_assert_eq(v.v[i].low, 9 + i);
        cr_assert_eq(v.v[i].close, 10.5 + i);
        cr_assert_eq(v.v[i].volume, i);
        cr_assert(isnan(v.v[i].vwap));
        cr_assert_eq(v.v[i].trades, -1);
        cr_assert_eq(v.v[i].quality, -1);
        cr_assert_eq(v.v[i].source, MD_SRC_CSV);
    }
    /* scored bars (quality only): the scored multi-row form */
    for (int i = 0; i < 200; i++) a[i].quality = (float)(50 + i % 50) + 0.5f;
    put("BULK", MD_IV_1M, a, 200);
    v.n = 0;
    cr_assert_eq(md_store_get_bars(st, "BULK", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 200);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(v.v[i].quality, (float)(50 + i % 50) + 0.5f, "bar %d", i);
        cr_assert(isnan(v.v[i].vwap));
        cr_assert_eq(v.v[i].close, 10.5 + i);
    }
    /* the same keys again with every optional field set: upserted, never duplicated */
    for (int i = 0; i < 200; i++) {
        a[i].vwap = 10.25 + i;
        a[i].trades = 1000 + i;
        a[i].quality = 90;
        a[i].source = i % 2 ? MD_SRC_YAHOO : MD_SRC_POLYGON;
        a[i].close = 10.75 + i;
    }
    put("BULK", MD_IV_1M, a, 200);
    v.n = 0;
    cr_assert_eq(md_store_get_bars(st, "BULK", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 200);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(v.v[i].close, 10.75 + i);
        cr_assert_eq(v.v[i].vwap, 10.25 + i);
        cr_assert_eq(v.v[i].trades, 1000 + i);
        cr_assert_eq(v.v[i].quality, 90);
        cr_assert_eq(v.v[i].source, i % 2 ? MD_SRC_YAHOO : MD_SRC_POLYGON);
    }
    md_bar_vec_deinit(&v);
}

SUITE_TEST(bulk_chunk_with_a_repeated_timestamp_keeps_the_later_row)
{
    md_bar a[64];
    for (int i = 0; i < 64; i++) a[i] = B(i < 63 ? i * 60 : 60, 1, 2, 0.5, 1.5, i);
    md_series s = {"DUP", MD_IV_1M, a, 64};
    md_error err;
    cr_assert_eq(md_store_put_bars(st, &s, 1, &err), 64, "%s", err.msg);
    cr_assert_eq(md_store_count_bars(st, "DUP", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 63);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, "DUP", MD_IV_1M, 60, 120, 0, &v, NULL);
    cr_assert_eq(v.v[0].volume, 63);
    md_bar_vec_deinit(&v);
}

SUITE_TEST(load_marks_round_trip_with_their_rows)
{
    cr_assert(md_store_has_load_marks(st));
    md_load_mark m, got;
    md_error err;
    cr_assert_eq(md_store_get_load_mark(st, "/data/a.csv", &got, &err), MD_ENODATA);
    md_bar a[2] = {B(0, 1, 2, 0.5, 1.5, 1), B(60, 1, 2, 0.5, 1.5, 2)};
    md_series s = {"MARK", MD_IV_1M, a, 2};
    m = (md_load_mark){"/data/a.csv", 1234, 5678000000001LL, 100, 3, 2, 0, MD_IV_1M, 0};
    cr_assert_eq(md_store_put_bars_marked(st, &s, 1, &m, 1, &err), 2, "%s", err.msg);
    cr_assert_eq(md_store_get_load_mark(st, "/data/a.csv", &got, &err), 0, "%s", err.msg);
    cr_assert_str_eq(got.path, "/data/a.csv");
    cr_assert_eq(got.size, 1234);
    cr_assert_eq(got.mtime_ns, 5678000000001LL);
    cr_assert_eq(got.offset, 100);
    cr_assert_eq(got.lines, 3);
    cr_assert_eq(got.rows, 2);
    cr_assert_eq(got.rejected, 0);
    cr_assert_eq(got.interval, MD_IV_1M);
    cr_assert_eq(got.done, 0);
    m.offset = 200, m.lines = 5, m.rows = 4, m.rejected = 1, m.done = 1;
    cr_assert_eq(md_store_put_bars_marked(st, NULL, 0, &m, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_get_load_mark(st, "/data/a.csv", &got, &err), 0);
    cr_assert_eq(got.offset, 200);
    cr_assert_eq(got.rejected, 1);
    cr_assert_eq(got.done, 1);
}

SUITE_TEST(a_failed_mark_takes_its_rows_with_it)
{
    /* a mark the store refuses (no path) rolls back the rows of its transaction */
    md_bar a[100];
    for (int i = 0; i < 100; i++) a[i] = B(i * 60, 1, 2, 0.5, 1.5, i);
    md_series s = {"ATOM", MD_IV_1M, a, 100};
    md_load_mark m = {NULL, 1, 1, 1, 1, 1, 0, MD_IV_1M, 0};
    md_error err;
    cr_assert_lt(md_store_put_bars_marked(st, &s, 1, &m, 1, &err), 0);
    cr_assert_eq(md_store_count_bars(st, "ATOM", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 0);
    /* and the store goes on working */
    m.path = "/data/atom.csv";
    cr_assert_eq(md_store_put_bars_marked(st, &s, 1, &m, 1, &err), 100, "%s", err.msg);
    cr_assert_eq(md_store_count_bars(st, "ATOM", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 100);
}

#endif
