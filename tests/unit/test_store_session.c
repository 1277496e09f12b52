/* Daily and coarser bars built from intraday bars are exchange sessions (store.c,
 * md_store_set_calendars): the bars of a session make the bar of its date, whatever UTC day
 * they fall on - US post-market bars after 19:00 New York in winter are 00:00-01:00 UTC of the
 * next day - across a DST change and around a holiday and an early close. The reference is
 * independent of the calendar code: the bars are generated and dated in New York time by the
 * C library's own zone handling (TZ=America/New_York, the system's tzdata), and folded by
 * the test itself. Where a session is a UTC day (24/7) the rollups answer, and the answer is
 * the same, bit for bit, as aggregating the fine bars. */
#include "core/interval.h"
#include "core/timefmt.h"
#include "store/store.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

static md_store *st;

static void setup(void)
{
    char url[600];
    md_test_sqlite_url("store_session.db", url, sizeof url);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    md_cal_map *cals;
    cr_assert_eq(md_cal_map_new(NULL, &cals, &err), 0, "%s", err.msg);
    md_store_set_calendars(st, cals);
    setenv("TZ", "America/New_York", 1);
    tzset();
}

static void teardown(void)
{
    md_store_close(st);
}

TestSuite(store_session, .init = setup, .fini = teardown);

/* Epoch of a New York wall-clock time, by the C library. */
static int64_t ny(int y, int mo, int d, int h, int mi)
{
    struct tm t = {.tm_year = y - 1900,
                   .tm_mon = mo - 1,
                   .tm_mday = d,
                   .tm_hour = h,
                   .tm_min = mi,
                   .tm_isdst = -1};
    return (int64_t)mktime(&t);
}

/* The New York date of an instant as days since the epoch, by the C library. */
static int64_t ny_day(int64_t ts)
{
    time_t t = (time_t)ts;
    struct tm lt;
    localtime_r(&t, &lt);
    return (int64_t)(timegm(&(struct tm){
                         .tm_year = lt.tm_year, .tm_mon = lt.tm_mon, .tm_mday = lt.tm_mday}) /
                     86400);
}

typedef struct {
    int y, mo, d, last_h; /* bars from 04:00 New York to last_h:00 (excluded) */
} trading_day;

/* Trading days of XNYS around the 2024 DST start (Sunday March 10), Thanksgiving (closed
 * Thursday November 28) and the early close the day after (13:00; its bars end there). */
static const trading_day days[] = {
    {2024, 3, 7, 20},   {2024, 3, 8, 20},   {2024, 3, 11, 20},  {2024, 3, 12, 20},
    {2024, 11, 26, 20}, {2024, 11, 27, 20}, {2024, 11, 29, 13}, {2024, 12, 2, 20},
};

/* 1m bars every 30 minutes of each day's extended hours, prices from a seeded generator. */
static void make_bars(md_bar_vec *v)
{
    md_bar_vec_init(v);
    unsigned seed = 7;
    for (size_t i = 0; i < sizeof days / sizeof *days; i++)
        for (int h = 4; h < days[i].last_h; h++)
            for (int mi = 0; mi < 60; mi += 30) {
                md_bar b;
                md_bar_init(&b);
                b.ts = ny(days[i].y, days[i].mo, days[i].d, h, mi);
                b.open = 100 + (double)(rand_r(&seed) % 1000) / 100;
                b.close = 100 + (double)(rand_r(&seed) % 1000) / 100;
                b.high = fmax(b.open, b.close) + 0.25;
                b.low = fmin(b.open, b.close) - 0.25;
                b.volume = 100 + rand_r(&seed) % 5000 + 0.1;
                b.vwap = (b.high + b.low) / 2;
                md_bar_vec_push(v, &b);
            }
}

/* The test's own fold of bars[lo..hi) into one bar labelled ts. */
static md_bar fold(const md_bar *bars, size_t lo, size_t hi, int64_t ts)
{
    md_bar a = bars[lo];
    a.ts = ts;
    double pv = bars[lo].vwap * bars[lo].volume;
    for (size_t i = lo + 1; i < hi; i++) {
        a.high = fmax(a.high, bars[i].high);
        a.low = fmin(a.low, bars[i].low);
        a.close = bars[i].close;
        a.volume += bars[i].volume;
        pv += bars[i].vwap * bars[i].volume;
    }
    a.vwap = pv / a.volume;
    return a;
}

/* Reference daily bars: bars grouped by their New York date. */
static void reference_days(const md_bar_vec *v, md_bar_vec *out)
{
    md_bar_vec_init(out);
    for (size_t i = 0; i < v->n;) {
        size_t j = i;
        int64_t d = ny_day(v->v[i].ts);
        while (j < v->n && ny_day(v->v[j].ts) == d) j++;
        md_bar b = fold(v->v, i, j, d * 86400);
        md_bar_vec_push(out, &b);
        i = j;
    }
}

static void put(const char *sym, md_bar_vec *v)
{
    md_series s = {sym, MD_IV_1M, v->v, v->n};
    md_error err;
    cr_assert_eq(md_store_put_bars(st, &s, 1, &err), (int)v->n, "%s", err.msg);
}

static void assert_same(const md_bar *got, const md_bar *want)
{
    cr_assert_eq(got->ts, want->ts, "ts %lld != %lld", (long long)got->ts, (long long)want->ts);
    cr_assert_eq(got->open, want->open);
    cr_assert_eq(got->high, want->high);
    cr_assert_eq(got->low, want->low);
    cr_assert_eq(got->close, want->close);
    cr_assert_eq(got->volume, want->volume, "%.17g != %.17g", got->volume, want->volume);
    cr_assert_eq(got->vwap, want->vwap, "%.17g != %.17g", got->vwap, want->vwap);
}

Test(store_session, daily_bars_from_intraday_are_new_york_sessions)
{
    md_bar_vec v, want;
    make_bars(&v);
    put("AAPL", &v);
    reference_days(&v, &want);
    cr_assert_eq(want.n, sizeof days / sizeof *days);
    /* the premise: winter post-market bars fall on the next UTC day */
    cr_assert_neq(md_interval_floor(MD_IV_1D, ny(2024, 12, 2, 19, 30)),
                  ny_day(ny(2024, 12, 2, 19, 30)) * 86400);

    int64_t lo = want.v[0].ts, hi = want.v[want.n - 1].ts + 86400;
    for (int keep = 0; keep < 2; keep++) { /* newest and oldest reads agree */
        md_bar_vec got;
        md_bar_vec_init(&got);
        md_interval used;
        md_error err;
        int n = md_store_read_bars(st, "AAPL", MD_IV_1D, lo, hi, 0, (md_store_end)keep, &got, &used,
                                   &err);
        cr_assert_eq(n, (int)want.n, "%d sessions (%s)", n, n < 0 ? err.msg : "");
        cr_assert_eq(used, MD_IV_1M);
        for (size_t i = 0; i < want.n; i++) assert_same(&got.v[i], &want.v[i]);
        /* a limit keeps whole sessions from its end */
        got.n = 0;
        n = md_store_read_bars(st, "AAPL", MD_IV_1D, lo, hi, 3, (md_store_end)keep, &got, NULL,
                               &err);
        cr_assert_eq(n, 3);
        for (size_t i = 0; i < 3; i++) assert_same(&got.v[i], &want.v[keep ? i : want.n - 3 + i]);
        md_bar_vec_deinit(&got);
    }

    /* one date asked: its whole session, the post-market after midnight UTC included */
    int64_t dec2 = want.v[want.n - 1].ts;
    md_bar_vec got;
    md_bar_vec_init(&got);
    cr_assert_eq(md_store_read_bars(st, "AAPL", MD_IV_1D, dec2, dec2 + 86400, 0, MD_STORE_OLDEST,
                                    &got, NULL, NULL),
                 1);
    assert_same(&got.v[0], &want.v[want.n - 1]);

    /* weekly buckets gather the sessions by date: the week of Monday 2024-11-25 */
    got.n = 0;
    int64_t wk = md_interval_floor(MD_IV_1W, want.v[4].ts);
    cr_assert_eq(md_store_read_bars(st, "AAPL", MD_IV_1W, wk, wk + 7 * 86400, 0, MD_STORE_OLDEST,
                                    &got, NULL, NULL),
                 1);
    size_t a = 0;
    while (ny_day(v.v[a].ts) * 86400 < wk) a++;
    size_t z = a;
    while (z < v.n && ny_day(v.v[z].ts) * 86400 < wk + 7 * 86400) z++;
    md_bar w = fold(v.v, a, z, wk);
    assert_same(&got.v[0], &w);
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&want);
    md_bar_vec_deinit(&v);
}

Test(store_session, a_day_is_forming_until_its_post_market_ends)
{
    md_bar_vec v;
    make_bars(&v);
    put("AAPL", &v);
    md_bar_span sp;
    int64_t dec2 = ny_day(ny(2024, 12, 2, 12, 0)) * 86400;
    /* 19:30 New York is 00:30 UTC on December 3rd: the UTC day is over, the session is not */
    md_store_bar_span(st, "AAPL", MD_IV_1D, MD_IV_1M, dec2, dec2 + 86400, ny(2024, 12, 2, 19, 30),
                      &sp);
    cr_assert(md_bar_span_partial(&sp, dec2), "still forming in the post-market");
    md_store_bar_span(st, "AAPL", MD_IV_1D, MD_IV_1M, dec2, dec2 + 86400, ny(2024, 12, 2, 21, 0),
                      &sp);
    cr_assert(!md_bar_span_partial(&sp, dec2), "whole once the post-market closed");
    /* a range ending inside the date still holds the whole session */
    md_store_bar_span(st, "AAPL", MD_IV_1D, MD_IV_1M, dec2, dec2 + 3600, ny(2024, 12, 4, 12, 0),
                      &sp);
    cr_assert(!md_bar_span_partial(&sp, dec2));
    /* a stored daily bar is whole whatever the range */
    md_store_bar_span(st, "AAPL", MD_IV_1D, MD_IV_1D, dec2, dec2 + 3600, ny(2024, 12, 2, 19, 30),
                      &sp);
    cr_assert_eq(sp.start, MD_TS_MIN);
    md_bar_vec_deinit(&v);
}

/* Crypto trades around the clock: its sessions are UTC days, the rollups answer, and they
 * match aggregating the fine bars (md_bars_aggregate) bit for bit. */
Test(store_session, a_24_7_market_keeps_utc_days_and_the_rollups)
{
    md_bar_vec v;
    make_bars(&v);
    put("BTC-USD", &v);
    md_bar_vec want, got;
    md_bar_vec_init(&want);
    md_bar_vec_init(&got);
    md_bars_aggregate(v.v, v.n, MD_IV_1D, &want);
    int64_t lo = md_interval_floor(MD_IV_1D, v.v[0].ts);
    int64_t hi = md_interval_next(MD_IV_1D, v.v[v.n - 1].ts);
    int n =
        md_store_read_bars(st, "BTC-USD", MD_IV_1D, lo, hi, 0, MD_STORE_NEWEST, &got, NULL, NULL);
    cr_assert_eq(n, (int)want.n);
    cr_assert(want.n > sizeof days / sizeof *days, "UTC days split the evening sessions");
    for (size_t i = 0; i < want.n; i++) assert_same(&got.v[i], &want.v[i]);
    md_bar_vec_deinit(&want);
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&v);
}

/* Without calendars (a store used on its own) daily buckets stay UTC days. */
Test(store_session, without_calendars_daily_buckets_are_utc_days)
{
    md_store_set_calendars(st, NULL);
    md_bar_vec v, want, got;
    make_bars(&v);
    put("AAPL", &v);
    md_bar_vec_init(&want);
    md_bar_vec_init(&got);
    md_bars_aggregate(v.v, v.n, MD_IV_1D, &want);
    int64_t lo = md_interval_floor(MD_IV_1D, v.v[0].ts);
    int64_t hi = md_interval_next(MD_IV_1D, v.v[v.n - 1].ts);
    cr_assert_eq(
        md_store_read_bars(st, "AAPL", MD_IV_1D, lo, hi, 0, MD_STORE_OLDEST, &got, NULL, NULL),
        (int)want.n);
    for (size_t i = 0; i < want.n; i++) assert_same(&got.v[i], &want.v[i]);
    md_bar_vec_deinit(&want);
    md_bar_vec_deinit(&got);
    md_bar_vec_deinit(&v);
}
