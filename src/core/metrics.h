/* metrics.h - counters, gauges and histograms rendered in Prometheus text format.
 *
 * Every metric is declared once in metrics.def and addressed by its MD_M_* id. Labels
 * are passed as values in the order the row names them:
 *   md_metric_add(MD_M_HTTP_REQUESTS, 1, "/price/{symbol}", "200");
 * All functions are thread-safe. An unlabelled counter or gauge is one C11 atomic
 * read-modify-write (an _Atomic double: no lock, no lookup; exact under concurrency, see
 * tests/unit/test_metrics.c); a labelled series or a histogram is found and updated under
 * its metric's mutex. An unknown id is a bug (md_assert). */
#ifndef MD_CORE_METRICS_H
#define MD_CORE_METRICS_H

#include "core/buf.h"

typedef enum md_metric_id {
#define MD_METRIC(id, kind, name, labels, help) MD_M_##id,
#include "core/metrics.def"
#undef MD_METRIC
    MD_M_COUNT
} md_metric_id;

/* Adds v to a counter or gauge series (label values follow, as many as the row names). */
void md_metric_add(md_metric_id id, double v, ...);
/* Sets a gauge series. */
void md_metric_set(md_metric_id id, double v, ...);
/* Records one observation in a histogram. */
void md_metric_observe(md_metric_id id, double v, ...);
/* Reads a series back (tests, /health); 0 when the series does not exist. */
double md_metric_get(md_metric_id id, ...);
/* The sum over every series of a metric: the values of a counter or gauge, the observation
 * counts of a histogram (mdagent_http_requests_total over all routes and statuses is the
 * agent's request count). */
double md_metric_sum(md_metric_id id);
/* Appends the text exposition of every metric. */
void md_metrics_render(md_buf *out);

#endif
