/* livebar.h - live bars: 1m bars built from ticks, coarser bars rolled up from 1m bars.
 *
 * Daily and coarser bars are the symbol's exchange sessions when its calendar is known (see
 * md_livebar_options.cals): a US post-market minute after midnight UTC still belongs to that
 * day's bar, which closes at the end of the post-market.
 *
 * A tick is a quote that reports a trade: one ingested (POST /ingest/quotes) or pushed by a
 * feed (simulator, replay), locally or relayed from another instance; its `volume`, when
 * given, is that trade's size and is summed into the bar. A quote fetched from a provider
 * (/price, the watchlist's polls: MD_ORIGIN_SNAPSHOT) is not a tick - its volume is the
 * day's so far - and never creates or changes a bar.
 *
 *   tick ──> open 1m bar of its symbol ──(minute over: timer, or a quote of a later minute)──>
 *             closed 1m bar ──> writer (stored, then published on bar.1m by the hub)
 *   1m bar (built here or ingested) ──> open 5m, 15m, 30m, 1h, 4h, 1d, 1w, 1mo bars ──(closed)──>
 *             published on bar.<interval> (not stored: /historical aggregates them from 1m)
 *
 * It hears every quote and bar through a hub observer (local, relayed and derived alike, so
 * every instance builds the same bars from the same ticks). A bar of bucket [start, end)
 * closes when a tick of a later bucket arrives, or when the clock passes
 * max(end, time of its last update) + delay: the delay leaves room for late quotes, and a
 * burst of old quotes (a replay) still lands in one bar. Ticks for a bucket that was already
 * closed are ignored (late). A symbol that receives 1m bars from a source directly (not from
 * here) does not get quote-built 1m bars for an hour, and likewise for ingested coarser bars,
 * so live bars never overwrite a source's bars.
 *
 * Closed bars are handed out by md_livebar_tick() (the timer thread calls it; tests call it
 * with an injected clock), never from inside a writer listener. */
#ifndef MD_STREAM_LIVEBAR_H
#define MD_STREAM_LIVEBAR_H

#include "ingest/writer.h"
#include "stream/hub.h"

#include <stdint.h>

typedef struct md_livebar md_livebar;

typedef struct md_livebar_options {
    md_hub *hub;       /* observed, and where coarse bars are published */
    md_writer *writer; /* 1m bars are stored through it (NULL: published directly) */
    int64_t delay_ms;  /* see above */
    /* Wall clock in milliseconds; NULL = md_now_ms(). */
    int64_t (*now_ms)(void *ctx);
    void *clock_ctx;
    int thread; /* run a timer thread that calls md_livebar_tick() */
    /* The symbols' calendars: daily, weekly and monthly bars are their exchange sessions,
     * labelled with the session date and closed when the session's extended hours end
     * (calendar/bucket.h, as /historical builds them from 1m bars). NULL: the writer's
     * (md_writer_calendar); with neither, UTC days. */
    const md_cal_map *cals;
} md_livebar_options;

/* Starts building live bars (registers a hub observer). The caller owns the result and
 * frees it before the hub and the writer. */
md_livebar *md_livebar_new(const md_livebar_options *o);
/* Stops the thread (closing nothing more) and frees. NULL is fine. */
void md_livebar_free(md_livebar *lb);

/* Closes every bar that is due by the clock and hands out every closed bar (1m to the writer,
 * coarse to the hub). Returns the number of bars handed out. */
size_t md_livebar_tick(md_livebar *lb);

/* The bar of interval iv of symbol still forming: the open bar with the open 1m bar of its
 * bucket folded in (what has arrived so far). 1 with *out set, 0 when none is forming.
 * Thread-safe. */
int md_livebar_forming(md_livebar *lb, const char *symbol, md_interval iv, md_bar *out);
/* The start of the newest bar of interval iv of symbol these live bars closed (handed out to
 * the writer and the hub or about to be); INT64_MIN when none. A reader that has seen bars up
 * to an earlier bucket has a closed bar still to come. Thread-safe. */
int64_t md_livebar_last_closed(md_livebar *lb, const char *symbol, md_interval iv);

typedef struct md_livebar_stats {
    uint64_t bars_1m, bars_coarse, late, symbols;
} md_livebar_stats;
void md_livebar_get_stats(md_livebar *lb, md_livebar_stats *st);

#endif
