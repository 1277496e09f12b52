/* The embedded store (store/store_sqlite via store.h): upsert, ranges at the edges,
 * latest bar and quote, symbol listing, and aggregation against hand-computed bars. */
#include "store/store.h"
#include "core/timefmt.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <math.h>

static md_store *st;
static char url[600];

static void setup(void)
{
    const char *p = md_test_path("store.db");
    unlink(p);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", p);
    unlink(wal);
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    md_store_close(st);
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

TestSuite(store, .init = setup, .fini = teardown);

Test(store, upsert_replaces_never_duplicates)
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
}

Test(store, ranges_are_start_inclusive_end_exclusive)
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
    /* other interval, other symbol: nothing */
    cr_assert_eq(md_store_get_bars(st, "BBB", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 0);
    cr_assert_eq(md_store_get_bars(st, "NOPE", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 0);
    md_bar_vec_deinit(&v);
}

Test(store, aggregation_matches_hand_computed_bars)
{
    /* ten 1m bars from 09:58 to 10:07 -> 5m buckets 09:55 (2 bars), 10:00 (5), 10:05 (3) */
    int64_t t0 = 1709287080; /* 2024-03-01T09:58:00Z */
    md_bar a[10];
    for (int i = 0; i < 10; i++) a[i] = B(t0 + i * 60, 10 + i, 11 + i + (i == 3 ? 5 : 0), 9 + i - (i == 6 ? 4 : 0), 10.5 + i, 100 + i);
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
    /* a start inside a bucket drops that partial bucket */
    n = md_store_get_bars_agg(st, "CCC", MD_IV_5M, 1709287080 + 60, MD_TS_MAX, 0, &v, NULL, NULL);
    cr_assert_eq(n, 2);
    cr_assert_eq(v.v[0].ts, 1709287200);
    v.n = 0;
    /* limit keeps the newest aggregated bars */
    n = md_store_get_bars_agg(st, "CCC", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, 1, &v, NULL, NULL);
    cr_assert_eq(n, 1);
    cr_assert_eq(v.v[0].ts, 1709287500);
    v.n = 0;
    /* 1h and 1d from the same minutes */
    cr_assert_eq(md_store_get_bars_agg(st, "CCC", MD_IV_1H, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 2);
    cr_assert_eq(v.v[0].volume, 201);
    cr_assert_eq(v.v[1].volume, 102 + 103 + 104 + 105 + 106 + 107 + 108 + 109);
    md_bar_vec_deinit(&v);
}

Test(store, weekly_and_monthly_from_daily)
{
    md_bar d[14];
    int64_t mon = 1709510400; /* 2024-03-04, a Monday */
    for (int i = 0; i < 14; i++) d[i] = B(mon - 5 * 86400 + i * 86400, 100 + i, 101 + i, 99 + i, 100.5 + i, 1);
    put("DDD", MD_IV_1D, d, 14);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars_agg(st, "DDD", MD_IV_1W, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 3);
    cr_assert_eq(v.v[0].ts, mon - 7 * 86400);
    cr_assert_eq(v.v[0].volume, 5);
    cr_assert_eq(v.v[1].ts, mon);
    cr_assert_eq(v.v[1].open, 105);
    cr_assert_eq(v.v[1].close, 111.5);
    cr_assert_eq(v.v[1].volume, 7);
    cr_assert_eq(v.v[2].volume, 2);
    v.n = 0;
    cr_assert_eq(md_store_get_bars_agg(st, "DDD", MD_IV_1MO, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL, NULL), 2);
    cr_assert_eq(v.v[0].ts, 1706745600); /* 2024-02-01 */
    cr_assert_eq(v.v[0].volume, 2);      /* Feb 28, 29 */
    cr_assert_eq(v.v[0].close, 101.5);
    cr_assert_eq(v.v[1].ts, 1709251200); /* 2024-03-01 */
    cr_assert_eq(v.v[1].open, 102);
    cr_assert_eq(v.v[1].high, 114);
    md_bar_vec_deinit(&v);
}

Test(store, latest_bar_and_quotes)
{
    md_bar d = B(1709251200, 1, 2, 0.5, 1.5, 10);   /* 2024-03-01 daily */
    md_bar m = B(1709303400, 3, 4, 2.5, 3.5, 1);    /* 2024-03-01T14:30 minute */
    put("EEE", MD_IV_1D, &d, 1);
    put("EEE", MD_IV_1M, &m, 1);
    md_bar out;
    md_interval iv;
    cr_assert_eq(md_store_latest_bar(st, "EEE", &out, &iv, NULL), 0);
    cr_assert_eq(iv, MD_IV_1D); /* the day ends after the minute */
    md_error err;
    cr_assert_eq(md_store_latest_bar(st, "NOPE", &out, &iv, &err), MD_ENODATA);

    md_quote q;
    md_quote_init(&q);
    strcpy(q.symbol, "EEE");
    q.ts = 1000, q.price = 5, q.source = MD_SRC_INGEST;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 1);
    q.ts = 999, q.price = 4;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 0, "an older quote must not replace a newer one");
    q.ts = 1001, q.price = 6, q.bid = 5.9, q.ask = 6.1;
    cr_assert_eq(md_store_put_quote(st, &q, NULL), 1);
    md_quote got;
    cr_assert_eq(md_store_get_quote(st, "EEE", &got, NULL), 0);
    cr_assert_eq(got.price, 6);
    cr_assert_eq(got.ts, 1001);
    cr_assert_eq(got.bid, 5.9);
    cr_assert_eq(got.source, MD_SRC_INGEST);
    cr_assert(isnan(got.volume));
    cr_assert_eq(md_store_get_quote(st, "NOPE", &got, NULL), MD_ENODATA);
}

Test(store, list_symbols_counts_and_bounds)
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
    /* the cached listing follows writes */
    put("MMM", MD_IV_1H, a, 1);
    n = md_store_list_symbols(st, &v, NULL);
    cr_assert_eq(n, 3);
    free(v);
}

Test(store, data_survives_reopen)
{
    md_bar a = B(86400, 1, 2, 0.5, 1.5, 10);
    a.vwap = 1.25, a.trades = 42, a.quality = 97.5f;
    put("PPP", MD_IV_1D, &a, 1);
    md_store_close(st);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "PPP", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 1);
    cr_assert_eq(v.v[0].vwap, 1.25);
    cr_assert_eq(v.v[0].trades, 42);
    cr_assert_float_eq(v.v[0].quality, 97.5f, 1e-6);
    md_bar_vec_deinit(&v);
}

Test(store, unreadable_path_is_an_error_not_a_crash)
{
    md_store *bad = NULL;
    md_error err;
    int rc = md_store_open("sqlite:/proc/nonexistent/dir/x.db", NULL, &bad, &err);
    cr_assert_lt(rc, 0);
    cr_assert_null(bad);
    cr_assert(strlen(err.msg) > 0);
    rc = md_store_open("mysql://x", NULL, &bad, &err);
    cr_assert_eq(rc, MD_ECONFIG);
}

/* -- the bulk path and load marks ----------------------------------------------------------- */

Test(store, bulk_chunks_keep_every_field_lean_and_full)
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

Test(store, bulk_chunk_with_a_repeated_timestamp_keeps_the_later_row)
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

Test(store, load_marks_round_trip_with_their_rows)
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

Test(store, a_failed_mark_takes_its_rows_with_it)
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
