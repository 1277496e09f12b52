/* offline.h - the two sources that need no network, and the feeds that push their ticks.
 *
 *   simulator  random-walk quotes and bars for configured symbols (simulator.*): a price
 *              path that is a pure function of (seed, symbol, time), so a quote, the live
 *              1m bar and a historical bar asked later all agree
 *   replay     stored or CSV bars played back as live ticks at replay.speed market seconds
 *              per wall second (the bars are handed in with md_replay_add_series)
 *
 * Both implement the md_source vtable (quote, bars) for the manager, and both can PUSH:
 * md_feed_start() runs a thread that hands their quotes and completed 1m bars to a sink
 * (the server wires the sink to the writer, so the ticks are validated, stored, cached and
 * streamed like any data). sources/ never includes the writer: the sink is how data leaves. */
#ifndef MD_SOURCES_OFFLINE_H
#define MD_SOURCES_OFFLINE_H

#include "core/bar.h"
#include "core/config.h"
#include "core/error.h"
#include "sources/source.h"

#include <stddef.h>
#include <stdint.h>

/* Where pushed data goes. Both callbacks may modify the arrays (the writer drops rejected
 * rows) and return 0 or a negative MD_E* code (logged by the feed, which goes on). */
typedef struct md_tick_sink {
    int (*quotes)(void *ctx, md_quote *q, size_t n);
    int (*bars)(void *ctx, const char *symbol, md_interval iv, md_bar *bars, size_t n);
    void *ctx;
} md_tick_sink;

/* -- simulator ------------------------------------------------------------------------- */

/* A simulator for simulator.symbols ("AAPL" or "AAPL:190.5", the price at start-up;
 * without one a price of 10..500 derived from the symbol), ticking every
 * simulator.interval_ms with simulator.volatility and simulator.seed. MD_ECONFIG for a bad
 * symbol or price. Symbols it was not given are MD_ENOTFOUND. *out is owned by the caller
 * (vtable free). */
int md_simulator_new(const md_config *cfg, md_source **out, md_error *err);
/* The simulated price at wall time t_ms (0 when symbol is not simulated). */
double md_simulator_price_at(md_source *src, const char *symbol, int64_t t_ms);

/* -- replay ---------------------------------------------------------------------------- */

/* An empty replay source (replay.speed, replay.loop). */
int md_replay_new(const md_config *cfg, md_source **out, md_error *err);
/* Adds (copies) a series to play; bars sorted oldest first. Replaces an earlier series of
 * the same symbol. Playback of every series starts at its first bar when the source is
 * created or the feed starts. MD_EINVAL for an empty series. */
int md_replay_add_series(md_source *src, const char *symbol, md_interval iv, const md_bar *bars,
                         size_t n);
/* Series held. */
size_t md_replay_count(md_source *src);

/* -- feeds ----------------------------------------------------------------------------- */

typedef struct md_feed md_feed;

/* Starts the pushing thread of an offline source (simulator or replay): quotes as they
 * change, and each 1m bar once its minute has ended. MD_EINVAL for any other source.
 * The source must outlive the feed. */
int md_feed_start(md_source *src, const md_tick_sink *sink, md_feed **out, md_error *err);

/* Agents of one deployment relay their ticks to each other, so an offline feed runs on one
 * of them at a time, the one holding its lease ("feed:<source>"): the others wait, and take
 * over when the holder stops or dies (its lease expires). claim/renew answer 1 (ours), 0
 * (another agent's) or -1 (no shared store, or it cannot be reached: the feed runs, since
 * nothing relays its ticks then either). */
typedef struct md_feed_lease {
    int (*claim)(void *ctx, const char *name, int64_t ttl_ms);
    int (*renew)(void *ctx, const char *name, int64_t ttl_ms);
    void (*release)(void *ctx, const char *name);
    void *ctx;
    int64_t ttl_ms; /* renewed every third of it */
} md_feed_lease;
/* md_feed_start under a lease (NULL: none). */
int md_feed_start_leased(md_source *src, const md_tick_sink *sink, const md_feed_lease *lease,
                         md_feed **out, md_error *err);
/* 1 while the feed pushes (it holds its lease, or needs none). */
int md_feed_running(const md_feed *f);
/* Stops and joins the thread. NULL is fine. */
void md_feed_stop(md_feed *f);
/* Ticks pushed so far (quotes + bars), for tests and diagnostics. */
uint64_t md_feed_pushed(const md_feed *f);

/* One step of a feed, for tests: pushes what is due at wall time now_ms and returns the
 * wall time of the next step. */
int64_t md_feed_step(md_source *src, const md_tick_sink *sink, int64_t now_ms);

#endif
