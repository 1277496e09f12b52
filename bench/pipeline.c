/* bench_pipeline: the analytics pipeline's three costs side by side in one run.
 *
 *   bench_pipeline [BARS] [RUNS]
 *
 * Best of RUNS for each:
 *   live     a live indicator's update: md_ind_run_feed of one bar, as live.c feeds each
 *            closed bar to a series (BARS bars of a random walk, one call per bar), for
 *            sma:20, ema:20, rsi:14 (the target: < 100 ns) and a few others; beside it the
 *            cost per point of the same run fed the whole array at once (the read path).
 *            The store read and the publish around a live update are not included.
 *   corr     the correlation matrix of 100 symbols over a year of daily bars (252 returns):
 *            md_returns_compute (inner) + md_stat_corr_matrix on arrays, then the whole
 *            GET /analytics/correlation answer (md_query_correlation: 100 series read from a
 *            SQLite store, aligned, the matrix rendered as JSON).
 *   screen   md_screens_run of "rsi:14 < 30 and close > sma:200" over 1,000 stored symbols
 *            (symbols: all) of 300 daily bars each in a SQLite store: the symbols listed,
 *            each series read and both indicators computed, the result stored.
 * The store is a fresh file under /tmp, written through the writer before the timing. */
#include "bench.h"
#include "analytics/cross.h"
#include "analytics/indicators.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "ingest/writer.h"
#include "pipeline/pipeline_int.h"
#include "query/query.h"
#include "query/services.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CORR_SYMBOLS 100
#define CORR_DAYS 253 /* a year of trading days: 252 returns */
#define SCREEN_SYMBOLS 1000
#define SCREEN_DAYS 300
#define DAY0 19725 /* 2024-01-03 (days since the epoch) */

/* -- live: one bar per call ------------------------------------------------------------- */

static void bench_live(size_t n, int runs)
{
    double *h = malloc(n * sizeof *h), *l = malloc(n * sizeof *l), *c = malloc(n * sizeof *c);
    double *v = malloc(n * sizeof *v);
    int64_t *ts = malloc(n * sizeof *ts);
    double p = 100;
    for (size_t i = 0; i < n; i++) {
        p *= 1 + (bench_uniform() - 0.5) * 0.002;
        c[i] = p, h[i] = p * 1.001, l[i] = p * 0.999;
        v[i] = 100 + (double)(int)(bench_uniform() * 5000);
        ts[i] = 1704067200 + (int64_t)i * 60;
    }
    double *outs[MD_IND_MAX_OUTPUTS];
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) outs[k] = malloc(n * sizeof(double));
    static const char *specs[] = {"sma:20",      "ema:20", "rsi:14",      "macd:12:26:9",
                                  "bbands:20:2", "atr:14", "stoch:14:3:3"};
    printf("%-14s %12s %12s %8s\n", "live spec", "ns/bar live", "ns/pt batch", "target");
    for (size_t t = 0; t < sizeof specs / sizeof *specs; t++) {
        md_ind_spec spec;
        md_error err;
        if (md_ind_parse(specs[t], &spec, 1, &err) != 1) {
            fprintf(stderr, "bench_pipeline: %s\n", err.msg);
            exit(1);
        }
        double best_live = 1e30, best_batch = 1e30, sink = 0;
        for (int r = 0; r < runs; r++) {
            md_ind_run *run = md_ind_run_new(&spec, MD_IV_1M, 0);
            double one[MD_IND_MAX_OUTPUTS], *o1[MD_IND_MAX_OUTPUTS];
            for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) o1[k] = &one[k];
            double t0 = bench_now_s();
            for (size_t i = 0; i < n; i++) {
                md_ind_cols in = {h + i, l + i, c + i, v + i, ts + i};
                md_ind_run_feed(run, &in, 1, o1);
                sink += one[0];
            }
            double dt = bench_now_s() - t0;
            md_ind_run_free(run);
            if (dt < best_live) best_live = dt;
            md_ind_cols all = {h, l, c, v, ts};
            t0 = bench_now_s();
            md_ind_compute(&spec, MD_IV_1M, &all, n, outs);
            dt = bench_now_s() - t0;
            sink += outs[0][n - 1];
            if (dt < best_batch) best_batch = dt;
        }
        int target = t < 3;
        printf("%-14s %12.1f %12.1f %8s%s\n", specs[t], best_live / (double)n * 1e9,
               best_batch / (double)n * 1e9, target ? "< 100" : "-",
               isnan(sink) ? "" : " "); /* sink read so the loops are not dropped */
    }
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) free(outs[k]);
    free(h), free(l), free(c), free(v), free(ts);
}

/* -- a store with daily bars ------------------------------------------------------------- */

static md_config cfg;
static md_services svc;

static void open_store(void)
{
    const char *path = "/tmp/mdagent-bench-pipeline.db";
    char url[600];
    const char *side[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "%s%s", path, side[i]);
        unlink(url);
    }
    snprintf(url, sizeof url, "sqlite:%s", path);
    md_config_init(&cfg);
    md_free(cfg.db);
    cfg.db = md_strdup(url);
    cfg.stream_live_bars = 0;
    md_services_options o = {.cfg = &cfg, .writer = 1, .stream = 1, .store_create = 1};
    md_error err;
    if (md_services_open(&svc, &o, &err) != 0) {
        fprintf(stderr, "bench_pipeline: %s\n", err.msg);
        exit(1);
    }
}

/* n weekday bars of a random walk from DAY0 (weekends skipped). */
static void write_days(const char *symbol, int n)
{
    md_bar *b = md_calloc((size_t)n, sizeof *b);
    double p = 50 + bench_uniform() * 100;
    int k = 0;
    for (int64_t day = DAY0; k < n; day++) {
        if ((day + 3) % 7 >= 5) continue;
        md_bar_init(&b[k]);
        double o = p;
        p *= 1 + (bench_uniform() - 0.5) * 0.04;
        b[k].ts = day * 86400;
        b[k].open = o;
        b[k].close = p;
        b[k].high = (o > p ? o : p) * 1.005;
        b[k].low = (o < p ? o : p) * 0.995;
        b[k].volume = 1e5 + (double)(int)(bench_uniform() * 1e6);
        b[k].source = MD_SRC_CSV;
        k++;
    }
    md_series s = {symbol, MD_IV_1D, b, (size_t)n};
    md_write req = {.origin = MD_WRITE_INGEST, .series = &s, .n_series = 1};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    if (md_writer_write(svc.writer, &req, &res, &err) != 0 || res.accepted != (size_t)n) {
        fprintf(stderr, "bench_pipeline: writing %s: %s\n", symbol, err.msg);
        exit(1);
    }
    md_write_result_deinit(&res);
    md_free(b);
}

/* -- corr -------------------------------------------------------------------------------- */

static const char *corr_param(void *ctx, const char *name)
{
    return strcmp(name, "symbols") == 0 ? (const char *)ctx : NULL;
}

static void bench_corr(int runs)
{
    /* arrays: the statistic alone */
    int64_t *ts = malloc(CORR_DAYS * sizeof *ts);
    double *cl = malloc((size_t)CORR_SYMBOLS * CORR_DAYS * sizeof *cl);
    md_close_series s[CORR_SYMBOLS];
    for (int i = 0; i < CORR_DAYS; i++) ts[i] = (int64_t)(DAY0 + i) * 86400;
    for (int k = 0; k < CORR_SYMBOLS; k++) {
        double p = 100;
        for (int i = 0; i < CORR_DAYS; i++) {
            p *= 1 + (bench_uniform() - 0.5) * 0.04;
            cl[k * CORR_DAYS + i] = p;
        }
        s[k] = (md_close_series){ts, cl + k * CORR_DAYS, CORR_DAYS};
    }
    double *m = malloc(CORR_SYMBOLS * CORR_SYMBOLS * sizeof *m);
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_s();
        md_returns ret;
        md_returns_compute(s, CORR_SYMBOLS, MD_RET_SIMPLE, MD_ALIGN_INNER, &ret);
        md_stat_corr_matrix(ret.r, ret.rows, ret.cols, m);
        double dt = bench_now_s() - t0;
        md_returns_deinit(&ret);
        if (dt < best) best = dt;
    }
    printf("corr %dx%d (%d returns), arrays:          %8.2f ms  (m[0][1] = %.4f)\n", CORR_SYMBOLS,
           CORR_SYMBOLS, CORR_DAYS - 1, best * 1e3, m[1]);
    free(ts), free(cl), free(m);

    /* the REST answer from the store */
    md_buf list = MD_BUF_INIT;
    char sym[16];
    for (int k = 0; k < CORR_SYMBOLS; k++) {
        snprintf(sym, sizeof sym, "C%03d", k);
        write_days(sym, CORR_DAYS);
        md_buf_printf(&list, "%s%s", k ? "," : "", sym);
    }
    md_config c1 = cfg;
    c1.max_symbols = CORR_SYMBOLS;
    md_cross_req req;
    md_error err;
    if (md_cross_req_parse(&req, 1, corr_param, list.data, &c1, &err) != 0) {
        fprintf(stderr, "bench_pipeline: %s\n", err.msg);
        exit(1);
    }
    best = 1e30;
    size_t bytes = 0;
    for (int r = 0; r < runs; r++) {
        md_buf out = MD_BUF_INIT;
        double t0 = bench_now_s();
        if (md_query_correlation(&svc, &req, &out, &err) != 0) {
            fprintf(stderr, "bench_pipeline: correlation: %s\n", err.msg);
            exit(1);
        }
        double dt = bench_now_s() - t0;
        bytes = out.len;
        md_buf_deinit(&out);
        if (dt < best) best = dt;
    }
    printf("corr %dx%d, GET /analytics/correlation:   %8.2f ms  (%zu bytes of JSON)\n",
           CORR_SYMBOLS, CORR_SYMBOLS, best * 1e3, bytes);
    md_cross_req_deinit(&req);
    md_buf_deinit(&list);
}

/* -- screen ------------------------------------------------------------------------------ */

static void bench_screen(int runs)
{
    char sym[16];
    for (int k = 0; k < SCREEN_SYMBOLS - CORR_SYMBOLS; k++) { /* the C... symbols count too */
        snprintf(sym, sizeof sym, "S%04d", k);
        write_days(sym, SCREEN_DAYS);
    }
    cfg.pipeline_jobs = md_calloc(1, sizeof *cfg.pipeline_jobs);
    cfg.n_pipeline_jobs = 1;
    md_config_job *j = &cfg.pipeline_jobs[0];
    j->name = md_strdup("oversold");
    j->schedule = md_strdup("every 24h");
    j->symbols = md_strdup("all");
    j->interval = md_strdup("1d");
    j->condition = md_strdup("rsi:14 < 30 and close > sma:200");
    j->path = md_strdup("bench");
    md_screens *sc;
    md_error err;
    if (md_screens_new(&svc, &sc, &err) != 0) {
        fprintf(stderr, "bench_pipeline: %s\n", err.msg);
        exit(1);
    }
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_s();
        if (md_screens_run(sc, "oversold", &err) != 0) {
            fprintf(stderr, "bench_pipeline: screen: %s\n", err.msg);
            exit(1);
        }
        double dt = bench_now_s() - t0;
        if (dt < best) best = dt;
    }
    md_buf b = MD_BUF_INIT;
    md_screens_get_json(sc, "oversold", &b, &err);
    /* the run's own count of symbols evaluated and matched, from its last_run member */
    const char *lr = b.data ? strstr(b.data, "\"last_run\":") : NULL;
    const char *st = lr ? strstr(lr, "\"symbols\":") : NULL;
    const char *mt = lr ? strstr(lr, "\"matched\":") : NULL;
    printf("screen over %d symbols x %d daily bars:   %8.2f ms  (symbols %d, matched %d)\n",
           SCREEN_SYMBOLS, SCREEN_DAYS, best * 1e3, st ? atoi(st + 10) : -1,
           mt ? atoi(mt + 10) : -1);
    md_buf_deinit(&b);
    md_screens_free(sc);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (n < 2 || runs < 1) {
        fprintf(stderr, "usage: bench_pipeline [BARS >= 2] [RUNS >= 1]\n");
        return 2;
    }
    md_log_set_level(MD_LOG_ERROR);
    bench_live(n, runs);
    open_store();
    bench_corr(runs);
    bench_screen(runs);
    md_services_close(&svc);
    md_config_deinit(&cfg);
    return 0;
}
