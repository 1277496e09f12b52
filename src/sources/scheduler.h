/* scheduler.h - keeps the watchlist fresh: polls sources.watchlist for quotes (and 1m bars
 * from the sources that offer them) every sources.poll_interval_s, through the manager as
 * background work (so every rate limit keeps sources.scheduler_reserve for requests), and
 * hands the results to a sink (the writer, in the server). Symbols are spread evenly over
 * the interval rather than polled in a burst. */
#ifndef MD_SOURCES_SCHEDULER_H
#define MD_SOURCES_SCHEDULER_H

#include "core/config.h"
#include "sources/manager.h"
#include "sources/offline.h"

typedef struct md_scheduler md_scheduler;

/* A scheduler for cfg's watchlist (not running yet). MD_ECONFIG for a bad symbol; *out is
 * NULL (and 0 returned) when the watchlist is empty. The manager must outlive it. */
int md_scheduler_new(md_srcmgr *m, const md_config *cfg, const md_tick_sink *sink,
                     md_scheduler **out, md_error *err);
/* Several agents on one Redis poll each symbol once per interval between them: before a
 * poll the thread claims "sched:<SYMBOL>:<slot>" for one interval (slot = wall-clock time
 * divided by the interval, the same in every agent) through claim(ctx, name, ttl_ms); a poll
 * whose slot another agent claimed (0) is skipped, and one that cannot be claimed (-1, no
 * Redis) goes ahead. Without a claim function every poll goes ahead. Call before start. */
typedef int (*md_sched_claim_fn)(void *ctx, const char *name, int64_t ttl_ms);
void md_scheduler_set_claim(md_scheduler *s, md_sched_claim_fn fn, void *ctx);

/* Starts the polling thread. */
int md_scheduler_start(md_scheduler *s, md_error *err);
/* Stops (if running) and frees. NULL is fine. */
void md_scheduler_free(md_scheduler *s);

/* Polls symbol number i of the watchlist now (tests, and the thread). Returns 0 when its
 * quote was fetched and handed on, or the fetch error. */
int md_scheduler_poll(md_scheduler *s, size_t i, md_error *err);
size_t md_scheduler_count(const md_scheduler *s);
/* Polls made and failed so far, and (skipped may be NULL) polls left to another agent. */
void md_scheduler_stats(const md_scheduler *s, uint64_t *polls, uint64_t *failures,
                        uint64_t *skipped);

#endif
