/* bench_quality: what judging every bar costs on the way in.
 *
 *   bench_quality [BARS] [RUNS]
 *
 * Builds BARS synthetic 1m bars (Monday-Friday sessions of 390 minutes, a random walk), then,
 * best of RUNS:
 *   scan    md_quality_scan over the bars in 50,000-bar blocks (the soft rules alone)
 *   store   md_store_put_bars of the blocks into a fresh SQLite store (the reference: the
 *           write the writer does anyway)
 *   writer  md_writer_write of the same blocks into a fresh store (hard rules, soft
 *           rules with stored context, scores, findings, store write)
 * and prints bars/s for each and the writer's cost over the bare store write. */
#include "bench.h"
#include "core/timefmt.h"
#include "ingest/writer.h"
#include "quality/quality.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 50000

static md_bar *make_bars(size_t n)
{
    md_bar *b = malloc(n * sizeof *b);
    double c = 100;
    size_t k = 0;
    for (int64_t day = 16076; k < n; day++) { /* 2014-01-06, a Monday */
        int w = (int)((day + 3) % 7);
        if (w >= 5) continue;
        for (int m = 0; m < 390 && k < n; m++, k++) {
            md_bar_init(&b[k]);
            double o = c;
            c *= 1 + (bench_uniform() - 0.5) * 0.002;
            b[k].ts = day * 86400 + 52200 + m * 60;
            b[k].open = o;
            b[k].close = c;
            b[k].high = (o > c ? o : c) * 1.0002;
            b[k].low = (o < c ? o : c) * 0.9998;
            b[k].volume = 100 + (double)(int)(bench_uniform() * 5000);
            b[k].source = MD_SRC_CSV;
        }
    }
    return b;
}

static md_store *fresh_store(const char *path)
{
    char url[600], side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    snprintf(url, sizeof url, "sqlite:%s", path);
    md_store *st = NULL;
    md_error err;
    if (md_store_open(url, NULL, &st, &err) != 0) {
        fprintf(stderr, "bench_quality: %s\n", err.msg);
        exit(1);
    }
    return st;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 2000000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    const char *path = "/tmp/mdagent-bench-quality.db";
    md_bar *bars = make_bars(n);
    md_bar *work = malloc(n * sizeof *work);
    md_quality_params p;
    md_quality_params_default(&p);
    double best_scan = 1e30, best_store = 1e30, best_writer = 1e30;
    for (int r = 0; r < runs; r++) {
        md_qevent_vec ev;
        md_qevent_vec_init(&ev);
        int64_t t0 = md_mono_ns();
        for (size_t off = 0; off < n; off += BLOCK)
            md_quality_scan(&p, MD_IV_1M, bars + off, n - off < BLOCK ? n - off : BLOCK, NULL, &ev);
        double s = (double)(md_mono_ns() - t0) / 1e9;
        if (s < best_scan) best_scan = s;
        md_qevent_vec_deinit(&ev);

        md_store *st = fresh_store(path);
        md_error err;
        t0 = md_mono_ns();
        for (size_t off = 0; off < n; off += BLOCK) {
            md_series se = {"BENCH", MD_IV_1M, bars + off, n - off < BLOCK ? n - off : BLOCK};
            if (md_store_put_bars(st, &se, 1, &err) < 0) return fprintf(stderr, "%s\n", err.msg), 1;
        }
        s = (double)(md_mono_ns() - t0) / 1e9;
        if (s < best_store) best_store = s;
        md_store_close(st);

        st = fresh_store(path);
        md_writer *w = md_writer_new(st);
        memcpy(work, bars, n * sizeof *work);
        t0 = md_mono_ns();
        for (size_t off = 0; off < n; off += BLOCK) {
            md_series se = {"BENCH", MD_IV_1M, work + off, n - off < BLOCK ? n - off : BLOCK};
            md_write_result res;
            md_write_result_init(&res, 0);
            md_write req = {.origin = MD_WRITE_LOAD, .series = &se, .n_series = 1};
            if (md_writer_write(w, &req, &res, &err) != 0)
                return fprintf(stderr, "%s\n", err.msg), 1;
            md_write_result_deinit(&res);
        }
        s = (double)(md_mono_ns() - t0) / 1e9;
        if (s < best_writer) best_writer = s;
        md_writer_free(w);
        md_store_close(st);
    }
    printf("bars: %zu (1m, blocks of %d), best of %d\n", n, BLOCK, runs);
    printf("scan (soft rules only)   %8.2f M bars/s\n", (double)n / best_scan / 1e6);
    printf("store (put_bars only)    %8.2f M bars/s   reference\n", (double)n / best_store / 1e6);
    printf("writer (validate+score+store) %5.2f M bars/s   %.2fx the reference's time\n",
           (double)n / best_writer / 1e6, best_writer / best_store);
    unlink(path);
    free(bars);
    free(work);
    return 0;
}
