/* The metric registry (core/metrics.h): exact totals when many threads count at once (the
 * unlabelled counters are lock-free atomics, the labelled ones take the metric's mutex),
 * and the text exposition of what was counted. */
#include "core/metrics.h"

#include "core/mem.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define THREADS 4
#define ADDS 200000

static atomic_int go;

static void *count(void *arg)
{
    (void)arg;
    while (!atomic_load(&go)) {
    }
    for (int i = 0; i < ADDS; i++) {
        md_metric_add(MD_M_STREAM_MESSAGES, 1);                    /* unlabelled: atomic */
        md_metric_add(MD_M_STREAM_DROPPED, 0.5);                   /* unlabelled, fractional */
        md_metric_add(MD_M_INGEST_REJECTED, 1, i & 1 ? "a" : "b"); /* labelled: mutex */
        if (i % 100 == 0) md_metric_observe(MD_M_HTTP_DURATION, 0.003, "/x");
    }
    return NULL;
}

Test(metrics, counters_are_exact_when_threads_count_at_once)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, count, NULL);
    atomic_store(&go, 1); /* all threads start together: the adds really overlap */
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    /* every figure below is exact in a double (integers and halves far below 2^53) */
    cr_expect(md_metric_get(MD_M_STREAM_MESSAGES) == THREADS * ADDS, "%.17g",
              md_metric_get(MD_M_STREAM_MESSAGES));
    cr_expect(md_metric_get(MD_M_STREAM_DROPPED) == THREADS * ADDS * 0.5, "%.17g",
              md_metric_get(MD_M_STREAM_DROPPED));
    cr_expect(md_metric_get(MD_M_INGEST_REJECTED, "a") == THREADS * ADDS / 2);
    cr_expect(md_metric_get(MD_M_INGEST_REJECTED, "b") == THREADS * ADDS / 2);
    cr_expect(md_metric_get(MD_M_HTTP_DURATION, "/x") == THREADS * (ADDS / 100), "histogram count");
    cr_expect(md_metric_sum(MD_M_HTTP_DURATION) == THREADS * (ADDS / 100), "summed over routes");

    md_buf b = MD_BUF_INIT;
    md_metrics_render(&b);
    md_buf_putc(&b, 0);
    cr_expect(strstr(b.data, "\nmdagent_stream_messages_total 800000\n") != NULL, "%s", b.data);
    cr_expect(strstr(b.data, "\nmdagent_stream_dropped_total 400000\n") != NULL);
    cr_expect(strstr(b.data, "mdagent_ingest_rejected_total{reason=\"a\"} 400000\n") != NULL);
    cr_expect(
        strstr(b.data,
               "mdagent_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.0025\"} 0\n") !=
        NULL);
    cr_expect(
        strstr(b.data,
               "mdagent_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.005\"} 8000\n") !=
        NULL);
    cr_expect(strstr(b.data, "mdagent_http_request_duration_seconds_count{route=\"/x\"} 8000\n") !=
              NULL);
    md_buf_deinit(&b);
}

Test(metrics, the_unlabelled_value_is_a_lock_free_atomic)
{
    _Atomic double d = 0;
    cr_expect(atomic_is_lock_free(&d), "an _Atomic double takes a lock here: the header's "
                                       "promise of a lock-free add does not hold");
}

Test(metrics, unlabelled_metrics_render_at_zero_and_gauges_are_set)
{
    md_metric_set(MD_M_WORKER_QUEUE, 7);
    md_metric_set(MD_M_WORKER_QUEUE, 3);
    cr_expect(md_metric_get(MD_M_WORKER_QUEUE) == 3);
    md_buf b = MD_BUF_INIT;
    md_metrics_render(&b);
    md_buf_putc(&b, 0);
    cr_expect(strstr(b.data, "# TYPE mdagent_stream_clients gauge\nmdagent_stream_clients 0\n") !=
              NULL);
    cr_expect(strstr(b.data, "\nmdagent_worker_queue_depth 3\n") != NULL);
    cr_expect(strstr(b.data, "# TYPE mdagent_store_write_rows_total counter\n"
                             "mdagent_store_write_rows_total 0\n") != NULL);
    md_buf_deinit(&b);
}

Test(metrics, a_sum_adds_every_labelled_series_and_histogram_counts)
{
    md_metric_add(MD_M_CACHE_REQUESTS, 2, "l1", "hit");
    md_metric_add(MD_M_CACHE_REQUESTS, 3, "l1", "miss");
    md_metric_add(MD_M_CACHE_REQUESTS, 5, "l2", "hit");
    cr_expect(md_metric_sum(MD_M_CACHE_REQUESTS) == 10);
    md_metric_observe(MD_M_STORE_DURATION, 0.001, "sqlite", "get_bars");
    md_metric_observe(MD_M_STORE_DURATION, 2.0, "sqlite", "put_bars");
    md_metric_observe(MD_M_STORE_DURATION, 0.5, "postgresql", "get_bars");
    cr_expect(md_metric_sum(MD_M_STORE_DURATION) == 3, "observations, not their sum of seconds");
    cr_expect(md_metric_get(MD_M_STORE_DURATION, "sqlite", "get_bars") == 1);
}
