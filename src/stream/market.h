/* market.h - the stream's "market.<MIC>" channels (API.md "WebSocket /stream"): the opens
 * and closes of an exchange calendar's sessions (calendar/calendar.h), announced when they
 * happen.
 *
 *   subscribe market.XNYS --> acquire (the hub's extension handler) --> the thread's table
 *   thread: per acquired calendar, the next boundary (md_market_next) --> sleep on the
 *   monotonic clock until the earliest --> "market" message(s) at that instant --> again
 *
 * A subscriber also gets the calendar's status at once (md_market_status_frame, pushed by
 * the session after "subscribed"), so it never waits for a boundary to learn the phase.
 * The channel is not per symbol. Messages are DERIVED (hub.h): every instance computes its
 * own, so they are not relayed. */
#ifndef MD_STREAM_MARKET_H
#define MD_STREAM_MARKET_H

#include "calendar/calendar.h"
#include "core/buf.h"
#include "stream/frame.h"

#include <stdint.h>

struct md_hub;
typedef struct md_market md_market;

/* A session boundary: what happens ("pre_open", "open", "break_start", "break_end",
 * "close", "post_close") and the session it belongs to. */
typedef struct md_market_event {
    const char *event;
    int64_t at;
    md_cal_session session;
} md_market_event;

/* The boundaries of c at the earliest instant after now (strictly), in the order they
 * happen (a 24/7 close and the next open share an instant: close first). Returns how many
 * (<= 4), 0 when none (a zone not available). */
int md_market_next(const md_cal *c, int64_t now, md_market_event out[4]);

/* The "market" fields (after "symbol") of an event, or of the status at now when ev is
 * NULL ("event":"status"): ,"calendar","event","phase","at","session","next_open",
 * "next_close". */
void md_market_fields(md_buf *b, const md_cal *c, const md_market_event *ev, int64_t now);

/* The status message of channel (market.<MIC>) numbered seq, at the wall clock plus the
 * clock offset of the running md_market (0 when none); NULL when the name is not a
 * calendar. */
md_frame *md_market_status_frame(const char *channel, uint64_t seq);

/* Starts the thread and registers the "market." handler on hub. offset_s shifts the clock
 * the boundaries are computed on (stream.market_clock_offset_s; tests), never the sleep. */
md_market *md_market_new(struct md_hub *hub, int64_t offset_s);
/* Stops the thread and removes the handler (after the sessions are gone). NULL is fine. */
void md_market_free(md_market *m);

#endif
