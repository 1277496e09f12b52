/* bench_store_read: what a coarse /historical read costs in the store, with and without the
 * materialised rollups, side by side in one run.
 *
 *   bench_store_read URL [RUNS]    (MDAGENT_PG_TIMESCALEDB=auto|on|off: the PostgreSQL layout)
 *
 * Fills the store at URL (once; a store that already holds the series is reused) with one year
 * of 1m bars, around the clock, for 4 symbols (525,600 bars each; fractional volumes and vwap:
 * sums in time order matter), then, median of RUNS (default 20), for one symbol:
 *   on the fly   what md_store_get_bars_agg did before the rollups: the 1m bars of the year
 *                read and aggregated - in C for SQLite (md_store_get_bars + md_bars_aggregate),
 *                in SQL for PostgreSQL (the backend's get_bars_agg, date_bin/time_bucket with
 *                ordered sums)
 *   rollups      md_store_get_bars_agg: the year's whole days from the materialised buckets
 * one year of 1d bars, and one year of 1h bars (8,760 buckets); checks that both give the same
 * bars bit for bit and prints milliseconds per read and the speed-up. */
#include "bench.h"
#include "core/timefmt.h"
#include "store/store.h"
#include "store/store_int.h" /* the backend's own on-the-fly aggregation, for the reference */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYMBOLS 4
#define MINUTES (365 * 1440)
#define T0 1704067200 /* 2024-01-01 */

static double now_ms(void)
{
    return (double)md_mono_ns() / 1e6;
}

static int fill(md_store *st, md_error *err)
{
    md_bar *b = malloc(50000 * sizeof *b);
    for (int s = 0; s < SYMBOLS; s++) {
        char sym[16];
        snprintf(sym, sizeof sym, "RB%d", s);
        double c = 100;
        for (int i = 0; i < MINUTES;) {
            int k = 0;
            for (; k < 50000 && i < MINUTES; k++, i++) {
                md_bar_init(&b[k]);
                b[k].ts = T0 + (int64_t)i * 60;
                b[k].open = c;
                c = fmax(1, c + (bench_uniform() - 0.5));
                b[k].close = c;
                b[k].high = fmax(b[k].open, c) + bench_uniform() * 0.2;
                b[k].low = fmin(b[k].open, c) - bench_uniform() * 0.2;
                b[k].volume = bench_uniform() * 1000 / 3;
                b[k].vwap = (b[k].open + c) / 2;
                b[k].source = MD_SRC_CSV;
            }
            md_series se = {sym, MD_IV_1M, b, (size_t)k};
            if (md_store_put_bars(st, &se, 1, err) < 0) {
                free(b);
                return -1;
            }
        }
    }
    free(b);
    return 0;
}

/* The reads before the rollups: the backend's SQL aggregation, or the fine bars in C. */
static int on_the_fly(md_store *st, md_interval iv, int64_t a, int64_t z, md_bar_vec *out,
                      md_error *err)
{
    if (st->ops->get_bars_agg) {
        int had;
        return st->ops->get_bars_agg(st, "RB1", iv, MD_IV_1M, a, z, 0, 0, out, &had, err);
    }
    md_bar_vec fine;
    md_bar_vec_init(&fine);
    int rc = md_store_get_bars(st, "RB1", MD_IV_1M, a, z, 0, &fine, err);
    if (rc >= 0) md_bars_aggregate(fine.v, fine.n, iv, out);
    md_bar_vec_deinit(&fine);
    return rc < 0 ? rc : (int)out->n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int same(const md_bar *x, const md_bar *y)
{
    return x->ts == y->ts && x->open == y->open && x->high == y->high && x->low == y->low &&
           x->close == y->close && x->volume == y->volume &&
           ((isnan(x->vwap) && isnan(y->vwap)) || x->vwap == y->vwap) && x->trades == y->trades &&
           x->source == y->source && x->quality == y->quality;
}

static int measure(md_store *st, md_interval iv, int runs)
{
    int64_t a = T0, z = T0 + 365 * 86400LL;
    double *t_fly = calloc((size_t)runs, sizeof(double)),
           *t_roll = calloc((size_t)runs, sizeof(double));
    md_bar_vec fly, roll;
    md_bar_vec_init(&fly);
    md_bar_vec_init(&roll);
    md_error err;
    for (int r = 0; r < runs; r++) {
        fly.n = roll.n = 0;
        double t = now_ms();
        if (on_the_fly(st, iv, a, z, &fly, &err) < 0) {
            fprintf(stderr, "on the fly: %s\n", err.msg);
            return 1;
        }
        t_fly[r] = now_ms() - t;
        t = now_ms();
        if (md_store_get_bars_agg(st, "RB1", iv, a, z, 0, &roll, NULL, &err) < 0) {
            fprintf(stderr, "rollups: %s\n", err.msg);
            return 1;
        }
        t_roll[r] = now_ms() - t;
    }
    if (fly.n != roll.n) {
        fprintf(stderr, "%s: %zu buckets on the fly, %zu from the rollups\n", md_interval_name(iv),
                fly.n, roll.n);
        return 1;
    }
    for (size_t i = 0; i < fly.n; i++)
        if (!same(&fly.v[i], &roll.v[i])) {
            fprintf(stderr, "%s: bucket %zu differs\n", md_interval_name(iv), i);
            return 1;
        }
    qsort(t_fly, (size_t)runs, sizeof(double), cmp_d);
    qsort(t_roll, (size_t)runs, sizeof(double), cmp_d);
    double f = t_fly[runs / 2], g = t_roll[runs / 2];
    printf("%-4s one year (%4zu buckets from %d 1m bars): on the fly %8.2f ms, rollups %6.2f ms,"
           " %6.1fx, equal bit for bit\n",
           md_interval_name(iv), fly.n, MINUTES, f, g, f / g);
    free(t_fly);
    free(t_roll);
    md_bar_vec_deinit(&fly);
    md_bar_vec_deinit(&roll);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store_read URL [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    if (runs < 1) runs = 1;
    md_store_options o;
    md_store_options_default(&o);
    o.manage = 1; /* TimescaleDB: aggregates made, refreshed when the fill is closed */
    /* both layouts on one server (scripts/timescaledb-check.sh): as postgresql.timescaledb */
    const char *tsdb = getenv("MDAGENT_PG_TIMESCALEDB");
    if (tsdb) o.pg_timescaledb = strcmp(tsdb, "on") == 0 ? 1 : strcmp(tsdb, "off") == 0 ? 0 : -1;
    md_store *st;
    md_error err;
    if (md_store_open(argv[1], &o, &st, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    if (md_store_count_bars(st, "RB3", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL) != MINUTES) {
        double t = now_ms();
        if (fill(st, &err) != 0) {
            fprintf(stderr, "fill: %s\n", err.msg);
            return 1;
        }
        md_store_close(st); /* TimescaleDB refreshes its aggregates here */
        printf("filled %d x %d 1m bars in %.1f s (with the close)\n", SYMBOLS, MINUTES,
               (now_ms() - t) / 1000);
        if (md_store_open(argv[1], &o, &st, &err) != 0) {
            fprintf(stderr, "open: %s\n", err.msg);
            return 1;
        }
    }
    printf("store %s (%s), median of %d\n", md_store_url_redacted(st), md_store_kind(st), runs);
    int rc = measure(st, MD_IV_1D, runs) || measure(st, MD_IV_1H, runs);
    md_store_close(st);
    return rc;
}
