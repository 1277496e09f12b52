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
/* Starts the polling thread. */
int md_scheduler_start(md_scheduler *s, md_error *err);
/* Stops (if running) and frees. NULL is fine. */
void md_scheduler_free(md_scheduler *s);

/* Polls symbol number i of the watchlist now (tests, and the thread). Returns 0 when its
 * quote was fetched and handed on, or the fetch error. */
int md_scheduler_poll(md_scheduler *s, size_t i, md_error *err);
size_t md_scheduler_count(const md_scheduler *s);
/* Polls made and failed so far. */
void md_scheduler_stats(const md_scheduler *s, uint64_t *polls, uint64_t *failures);

#endif
