/* writer.h - the one path every bar and quote takes into the store.
 *
 *   parse (csv, provider, POST /ingest) -> md_writer: validate + score -> store
 *                                                    -> listeners (cache, stream)
 *
 * Whatever its origin, data enters through md_writer_ingest_bars()/..._quotes(): the hard
 * rules reject bad rows (reported with their index, rule and reason, counted in
 * mdagent_ingest_rejected_total{reason}); the soft rules (quality/quality.h) judge the rest
 * against the batch and the series' recent stored bars (rolling windows, calendar, another
 * source's version of the same bar), and each bar gets its 0-100 `quality` score; the bars
 * are upserted in one transaction per call, then the findings (rejections included) are
 * recorded in the store, and every listener hears about what was stored (cache
 * invalidation, stream fan-out), after the store has accepted it. Thread-safe. */
#ifndef MD_INGEST_WRITER_H
#define MD_INGEST_WRITER_H

#include "core/bar.h"
#include "quality/quality.h"
#include "quality/validate.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_writer md_writer;

/* Listener callbacks run on the writing thread after a successful commit. on_commit (may be
 * NULL) runs once at the end of every ingest call that notified anything, so a listener can
 * act on the call's records as one batch (the stream hub wakes its clients once). */
typedef struct md_writer_listener {
    void (*on_bars)(void *ctx, const char *symbol, md_interval iv, const md_bar *bars, size_t n);
    void (*on_quote)(void *ctx, const md_quote *q);
    void *ctx;
    void (*on_commit)(void *ctx);
} md_writer_listener;

/* A rejected input row: index into the flattened input, the rule and the reason. */
typedef struct md_reject {
    size_t index;
    md_rule rule;
    char msg[160];
} md_reject;

/* A quality finding of this call: series index, the bar it concerns (md_writer_ingest_bars:
 * the input index flattened over the series, as for md_reject; md_writer_judge: the bar's
 * position in its series; SIZE_MAX when none), and the finding. */
typedef struct md_ingest_finding {
    size_t series;
    size_t index;
    md_qevent ev;
} md_ingest_finding;

typedef struct md_ingest_result {
    size_t accepted, rejected, stored;
    md_reject *rejects; /* heap, owned by the result (md_ingest_result_deinit) */
    size_t n_rejects, cap_rejects;
    size_t max_rejects; /* keep at most this many details (0 = unlimited) */
    /* Set collect_findings before the call to receive every finding (soft rules and
     * rejections) in findings[] (heap, owned by the result). */
    int collect_findings;
    md_ingest_finding *findings;
    size_t n_findings, cap_findings;
} md_ingest_result;

void md_ingest_result_init(md_ingest_result *r, size_t max_rejects);
void md_ingest_result_deinit(md_ingest_result *r);

/* The writer does not own the store. */
md_writer *md_writer_new(md_store *st);
void md_writer_free(md_writer *w);
md_store *md_writer_store(md_writer *w);
void md_writer_add_listener(md_writer *w, const md_writer_listener *l);
/* Tolerance for timestamps ahead of the wall clock (default MD_FUTURE_TOLERANCE_S). */
void md_writer_set_future_tolerance(md_writer *w, int64_t seconds);
/* Quality parameters (default: md_quality_params_default). Also sets the future tolerance
 * from p->future_tolerance_s. Call before the writer is shared between threads. */
void md_writer_set_quality(md_writer *w, const md_quality_params *p);
const md_quality_params *md_writer_quality(const md_writer *w);

/* Validates, scores and stores bars. series[i].bars are modified in place: rejected bars are
 * removed (series[i].n shrinks) and every bar's `quality` is filled. With validate_only
 * nothing is stored (the series' bars of earlier validate-only calls on this writer serve as
 * context instead, so a file checked block by block is judged as a whole). Returns 0 (the
 * result says what happened) or a store error, in which case no bar of this call was
 * stored. Findings that cannot be recorded after the bars were stored are logged and
 * counted (mdagent_store_errors_total{op="put_quality_events"}), not returned. */
int md_writer_ingest_bars(md_writer *w, md_series *series, size_t n_series, int validate_only,
                          md_ingest_result *res, md_error *err);

/* The halves of md_writer_ingest_bars, for callers that validate on their own threads
 * (the bulk loader validates in its parse workers, then one thread judges and stores in
 * order).
 *
 * md_writer_check_bar: the writer's hard rules for one bar of interval iv at wall-clock time
 * now, with the writer's clock tolerance. 0, or MD_EBAR with *rule and err->msg. Thread-safe,
 * touches no store. */
int md_writer_check_bar(const md_writer *w, const md_bar *b, md_interval iv, int64_t now,
                        md_rule *rule, md_error *err);
/* md_writer_judge: the soft rules for series whose bars all passed md_writer_check_bar:
 * fills every bar's `quality` and, when res->collect_findings is set, adds the findings to
 * res (index = the bar's position in its series). Stores nothing: for validate-only runs,
 * where the series' earlier validate-only calls on this writer serve as context. */
void md_writer_judge(md_writer *w, md_series *series, size_t n_series, int validate_only,
                     md_ingest_result *res);
/* md_writer_judge_and_store: md_writer_judge, then stores the series with the load marks
 * (store.h) in one transaction, records the findings, counts the metrics and notifies the
 * listeners after the commit. res (may be NULL) receives accepted, stored and, when
 * collecting, the findings. Returns 0 or a store error, in which case no bar of this call
 * was stored. */
int md_writer_judge_and_store(md_writer *w, md_series *series, size_t n_series,
                              const md_load_mark *marks, size_t n_marks, md_ingest_result *res,
                              md_error *err);
/* md_writer_judge_some_and_store: md_writer_judge_and_store where only the series with
 * judge_mask[k] set are judged (scored, findings recorded); the others are stored as they
 * are - unscored (quality -1 stays null) and without findings - though their live mark is
 * kept. judge_mask NULL judges every series. The bulk loader's sampled validation. */
int md_writer_judge_some_and_store(md_writer *w, md_series *series, size_t n_series,
                                   const uint8_t *judge_mask, const md_load_mark *marks,
                                   size_t n_marks, md_ingest_result *res, md_error *err);
/* md_writer_store_checked: md_writer_judge_and_store without collecting; *stored (may be
 * NULL) receives the rows written. */
int md_writer_store_checked(md_writer *w, md_series *series, size_t n_series,
                            const md_load_mark *marks, size_t n_marks, size_t *stored,
                            md_error *err);
/* Records hard-rule findings (md_qevent_reject) of bars a caller rejected with
 * md_writer_check_bar, so they count against the series' validity. */
int md_writer_record_rejections(md_writer *w, const char *symbol, md_interval iv,
                                const md_qevent *ev, size_t n, md_error *err);

/* Validates and stores quotes (each the latest for its symbol unless an equal or newer one
 * is stored). A quote has no series to be judged against: one that passes the hard rules
 * scores 100. */
int md_writer_ingest_quotes(md_writer *w, md_quote *quotes, size_t n, md_ingest_result *res,
                            md_error *err);

#endif
