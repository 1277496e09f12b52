/* session.h - the per-event-loop side of the hub: shards, sessions, subscriptions, queues.
 *
 * A shard belongs to one event loop and every function here except the shard's creation
 * runs on that loop's thread (no locks on the fan-out path). The loop calls
 * md_hub_shard_drain() when the hub wakes it: each published message is looked up in the
 * shard's topic table (symbol, channel) and a reference is appended to the queue of every
 * subscribed session; sessions that got something are handed to the ready callback, which
 * asks the socket for a writable event and then packs the queue into one buffer
 * (md_session_pack), so several messages leave in one send.
 *
 * Queue per session (bounded, conflating):
 *
 *     head                                         tail
 *      | old msgs (any topic) ... | at most one msg per topic |
 *
 *   - below queue_size live messages, every message is appended;
 *   - at or above it (a slow client), a new message for a topic that still has a message
 *     queued replaces it: the old one is dropped (counted, reported to the client as
 *     {"type":"lagged","dropped":N} before the next batch) and the new one goes to the tail,
 *     so order by seq is kept and the client gets the latest value per symbol and channel;
 *   - a client that keeps up (its queue was empty when a burst arrived: everything before
 *     was written) may take a burst of 16 x queue_size before conflation starts, so one large
 *     ingest does not cost a fast client ticks;
 *   - so a queue never holds more than 16 x queue_size + subscriptions + control messages;
 *     a session past that (only a flood of control messages could) is flagged overflowed
 *     and the server closes it, whatever filled it; protocol pongs never pile up (one unsent
 *     pong at most, md_session_push_pong). */
#ifndef MD_STREAM_SESSION_H
#define MD_STREAM_SESSION_H

#include "core/buf.h"
#include "core/error.h"
#include "stream/hub.h"
#include "stream/proto.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct md_hub_shard md_hub_shard;
typedef struct md_session md_session;

/* A shard of h for one event loop; wake(ctx) is called (from any thread) when messages
 * arrive for it, at most once until the next drain. */
md_hub_shard *md_hub_shard_new(md_hub *h, void (*wake)(void *ctx), void *ctx);
/* Frees the shard; its sessions must be freed first. */
void md_hub_shard_free(md_hub_shard *sh);

typedef void (*md_ready_fn)(md_session *s, void *ctx);
/* Moves published messages into session queues and calls ready(s, ctx) once for every
 * session that received something. Returns the number of messages taken from the inbox. */
size_t md_hub_shard_drain(md_hub_shard *sh, md_ready_fn ready, void *ctx);

/* A new session on shard sh; user is the caller's pointer (md_session_user). */
md_session *md_session_new(md_hub_shard *sh, void *user);
/* Drops the session's subscriptions and queued messages. NULL is fine. */
void md_session_free(md_session *s);
void *md_session_user(const md_session *s);
uint64_t md_session_id(const md_session *s);

/* Subscribes to every (symbol, channel) pair of op (channels 0 means "quote"), queues the
 * "subscribed" answer and, when op->has_since, replays the held messages of those pairs with
 * seq > since_seq. Messages published before the subscription took effect are not
 * delivered otherwise. MD_ESUBLIMIT when the session would exceed max_subscriptions (nothing
 * changes). */
int md_session_subscribe(md_session *s, const md_op *op, md_error *err);
/* Removes the pairs of op (no symbols = every symbol, no channels = every channel) and
 * queues the "unsubscribed" answer. Messages already queued still go out. */
int md_session_unsubscribe(md_session *s, const md_op *op, md_error *err);
size_t md_session_subscriptions(const md_session *s);

/* Queues a per-client message (welcome, error, pong); takes over the reference to f. Such
 * messages are never conflated. */
void md_session_push(md_session *s, md_frame *f);
/* Queues the answer to a client's protocol ping (a pong control frame); takes over f. At most
 * one such pong waits unsent: one queued and not yet started gets f instead (RFC 6455 5.5.3:
 * answering the most recent ping is enough), so a client that pings without reading costs
 * one queue entry, not one per ping. */
void md_session_push_pong(md_session *s, md_frame *f);
/* Live messages in the queue. */
size_t md_session_queued(const md_session *s);
/* 1 once the queue went past its hard bound (the server should close the connection). */
int md_session_overflowed(const md_session *s);

/* Appends queued frames to out (a "lagged" frame first when messages were dropped) until
 * at least max_bytes were appended or the queue is empty; *n_msgs (may be NULL) gets the number
 * of frames appended. Returns 1 when messages remain queued, 0 otherwise. */
int md_session_pack(md_session *s, md_buf *out, size_t max_bytes, size_t *n_msgs);

/* Zero-copy writing: fills iov (at most max_iov entries, stopping once max_bytes are covered)
 * with the queued frames from the head, the first one from where the last write stopped; a
 * "lagged" frame is put first when messages were dropped. Returns the entries filled (0 when
 * nothing is queued). The frames stay queued until md_session_consume(). */
int md_session_iov(md_session *s, struct iovec *iov, int max_iov, size_t max_bytes);
/* Takes `bytes` written bytes off the head of the queue (a frame written in part stays at
 * the head and is never conflated away); returns the messages completed. */
size_t md_session_consume(md_session *s, size_t bytes);
/* 1 while anything (messages, a lagged notice) waits to be written. */
int md_session_pending(const md_session *s);
/* 1 while the frame at the head of the queue has been written in part: it has to be finished
 * before anything else (a close frame included) goes on the wire. */
int md_session_head_started(const md_session *s);

typedef struct md_session_stats {
    uint64_t delivered, dropped, dropped_pending;
} md_session_stats;
void md_session_get_stats(const md_session *s, md_session_stats *st);

#endif
