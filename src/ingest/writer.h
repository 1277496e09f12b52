/* writer.h - the one path every bar and quote takes into the store.
 *
 *   parse (csv, provider, POST /ingest) -> md_writer_write: validate + score -> store
 *                                                          -> listeners (cache, stream)
 *
 * Whatever its origin, data enters through md_writer_write(), which says where the rows come
 * from (md_write_origin) and what is already done with them (MD_WRITE_* flags): the hard
 * rules reject bad rows (reported with their index, rule and reason, counted in
 * mdagent_ingest_rejected_total{reason}); the soft rules (quality/quality.h) judge the rest
 * against the batch and the series' recent stored bars (rolling windows, calendar, another
 * source's version of the same bar), and each bar gets its 0-100 `quality` score; the bars
 * are upserted in one transaction per call, then the findings (rejections included) are
 * recorded in the store, and every listener hears about what was stored (cache
 * invalidation, stream fan-out), with the write's origin, after the store has accepted it.
 * Thread-safe. */
#ifndef MD_INGEST_WRITER_H
#define MD_INGEST_WRITER_H

#include "calendar/calendar.h"
#include "core/bar.h"
#include "quality/quality.h"
#include "quality/validate.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_writer md_writer;

/* Where written rows come from. Listeners act on it: the stream hub publishes DERIVED rows
 * as its own computation, which the Redis relay does not send to other instances (they
 * derive their own from the same ticks). */
typedef enum md_write_origin {
    MD_WRITE_INGEST = 0, /* POST /ingest */
    MD_WRITE_FETCH,      /* asked of a source on request (/price, /historical, mdagent fetch) */
    MD_WRITE_POLL,       /* the watchlist scheduler's polls */
    MD_WRITE_FEED,       /* pushed by an offline source (simulator, replay) */
    MD_WRITE_DERIVED,    /* computed here from other ticks (1m live bars) */
    MD_WRITE_LOAD,       /* the bulk loader (mdagent load) */
    MD_WRITE_BACKFILL,   /* a backfill job's chunk (POST /backfill, mdagent fetch --start) */
} md_write_origin;

/* The order listeners run in after a commit, declared by each listener: every REFRESH
 * listener (bring what readers see up to date: the cache's invalidation and write-through,
 * the quality gauge) runs before any PUBLISH listener (tell clients: the stream hub), so a
 * client that receives a streamed bar and then asks /historical never gets the cached
 * answer from before that bar. md_writer_add_listener aborts when a listener is added after
 * one of a later stage (query/services.c registers them, in this order, in one place). */
typedef enum md_listen_stage {
    MD_LISTEN_REFRESH = 0,
    MD_LISTEN_PUBLISH,
} md_listen_stage;

/* Listener callbacks run on the writing thread after a successful commit, with the origin of
 * the write. on_commit (may be NULL) runs once at the end of every write that notified
 * anything, so a listener can act on the write's records as one batch (the stream hub wakes
 * its clients once). */
typedef struct md_writer_listener {
    void (*on_bars)(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                    const md_bar *bars, size_t n);
    void (*on_quote)(void *ctx, md_write_origin origin, const md_quote *q);
    void *ctx;
    void (*on_commit)(void *ctx);
    md_listen_stage stage;
} md_writer_listener;

/* A rejected input row: index into the flattened input, the rule and the reason. */
typedef struct md_reject {
    size_t index;
    md_rule rule;
    char msg[160];
} md_reject;

/* A quality finding of this write: series index, the bar it concerns (the input index
 * flattened over the series, as for md_reject; with MD_WRITE_CHECKED the bar's position in
 * its series; SIZE_MAX when none), and the finding. */
typedef struct md_write_finding {
    size_t series;
    size_t index;
    md_qevent ev;
} md_write_finding;

typedef struct md_write_result {
    size_t accepted, rejected, stored;
    md_reject *rejects; /* heap, owned by the result (md_write_result_deinit) */
    size_t n_rejects, cap_rejects;
    size_t max_rejects; /* keep at most this many details (0 = unlimited) */
    /* Set collect_findings before the call to receive every finding (soft rules and
     * rejections) in findings[] (heap, owned by the result). */
    int collect_findings;
    md_write_finding *findings;
    size_t n_findings, cap_findings;
} md_write_result;

void md_write_result_init(md_write_result *r, size_t max_rejects);
void md_write_result_deinit(md_write_result *r);

/* What a write has already been through. */
enum {
    /* Judge, store nothing. The series' bars of earlier validate-only writes on this writer
     * serve as context instead, so a file checked block by block is judged as a whole. */
    MD_WRITE_VALIDATE_ONLY = 1u << 0,
    /* Every bar already passed md_writer_check_bar (the bulk loader validates in its parse
     * workers): the hard rules are not run again, and findings are indexed by the bar's
     * position in its series. */
    MD_WRITE_CHECKED = 1u << 1,
    /* The caller judged the bars before (a validate-only write, while the previous batch was
     * being stored): they are stored as they are - scored or not - and judged_findings are
     * recorded after the commit; the series' live marks are still kept. Implies CHECKED. */
    MD_WRITE_JUDGED = 1u << 2,
};

/* One write: bars (series) or quotes, never both. */
typedef struct md_write {
    md_write_origin origin;
    unsigned flags; /* MD_WRITE_* */
    /* Bars. series[i].bars are modified in place: rejected bars are removed (series[i].n
     * shrinks) and every bar's `quality` is filled. A series may be empty (n = 0): with
     * JUDGED, to record findings of a series none of whose bars are in this write. */
    md_series *series;
    size_t n_series;
    /* Quotes, each the latest for its symbol unless an equal or newer one is stored. A quote
     * has no series to be judged against: one that passes the hard rules and the quote checks
     * scores 100. No flag applies to quotes. */
    md_quote *quotes;
    size_t n_quotes;
    /* Load marks (store.h) written in the same transaction as the bars (may be given with no
     * bars: marks only). */
    const md_load_mark *marks;
    size_t n_marks;
    /* With JUDGED: findings per series (n_series vectors; may be NULL), recorded as they are
     * after the commit (the loader's judgement and the hard-rule findings of rows it
     * rejected, so they count against the series' validity). */
    const md_qevent_vec *judged_findings;
} md_write;

/* The writer does not own the store. */
md_writer *md_writer_new(md_store *st);
void md_writer_free(md_writer *w);
md_store *md_writer_store(md_writer *w);
/* Adds a listener (at most 8). Call before the writer is shared between threads, in stage
 * order: aborts when l->stage is lower than the stage of a listener added before. */
void md_writer_add_listener(md_writer *w, const md_writer_listener *l);
/* Quality parameters (default: md_quality_params_default). Also sets the future tolerance
 * from p->future_tolerance_s. Call before the writer is shared between threads. */
void md_writer_set_quality(md_writer *w, const md_quality_params *p);
const md_quality_params *md_writer_quality(const md_writer *w);
/* The symbols' exchange calendars (calendar/calendar.h), which the soft rules judge each
 * series against as /quality does: gaps are missing sessions, holidays never are, a bar
 * where the exchange does not trade is off_session. The writer takes m (may be NULL: each
 * series' calendar is learned from its own timestamps, as for a writer that has none).
 * Call before the writer is shared between threads. */
void md_writer_set_calendars(md_writer *w, md_cal_map *m);
/* The exchange calendar of an upper-case symbol (md_cal_map_find), NULL when the writer has
 * none: the one resolver the writer's callers (backfill) share with it. */
const md_cal *md_writer_calendar(const md_writer *w, const char *symbol);

/* Validates, scores and stores what req holds (see md_write). res (may be NULL) receives
 * accepted (rows that passed the hard rules), rejected (with details up to max_rejects),
 * stored (rows written: a quote older than the stored one is accepted, not stored) and, when
 * collecting, the findings. Returns 0 (the result says what happened) or a store error, in
 * which case no bar of this write was stored (quotes are stored one by one: those before the
 * failing one stay stored, and are notified). Findings that cannot be recorded after the
 * bars were stored are logged and counted (mdagent_store_errors_total{op="put_quality_events"}),
 * not returned. Aborts on a request no caller can mean: bars and quotes in one write, flags
 * on quotes, judged_findings without JUDGED, VALIDATE_ONLY with JUDGED or marks. */
int md_writer_write(md_writer *w, const md_write *req, md_write_result *res, md_error *err);

/* The hard rules of the writer for one bar of interval iv at wall-clock time now, with the
 * writer's clock tolerance, for callers that validate on their own threads before an
 * MD_WRITE_CHECKED write. 0, or MD_EBAR with *rule and err->msg. Thread-safe, touches no
 * store. */
int md_writer_check_bar(const md_writer *w, const md_bar *b, md_interval iv, int64_t now,
                        md_rule *rule, md_error *err);

#endif
