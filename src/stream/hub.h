/* hub.h - the stream hub: every accepted quote and bar is published here once, after the
 * store accepted it, and fanned out to every subscribed WebSocket client.
 *
 *   writer (after commit) --\                       /--> shard (loop 0) --> client queues
 *   Redis relay (remote) ----+--> md_hub_publish --+---> shard (loop 1) --> client queues
 *   live bars (derived) ----/    seq, encode once,  \--> replay buffer (since_seq)
 *                                 observers (relay, live bars)
 *
 * Publishing (any thread) assigns the next sequence number, renders the message once into
 * a shared frame (frame.h), appends it to the bounded replay buffer and to the inbox of every
 * shard, and wakes the shards. A shard belongs to one event loop; it moves its inbox into the
 * queues of the loop's sessions (session.h) when the loop wakes.
 *
 * Sequence numbers: one sequence shared by every channel, so `seq` increases within each
 * channel and across them, and one `since_seq` (the last seq a client saw) is enough to replay
 * a gap over any mix of symbols and channels. Alone (no Redis), the hub numbers its messages
 * itself, each one more than the last. In a deployment, the Redis relay is the hub's
 * sequencer (md_hub_set_sequencer): a LOCAL message is not published here but handed to it,
 * Redis numbers it once for every instance, and it comes back through md_hub_publish_*_at
 * with that number, on every instance alike (its own included), in the same order. So a
 * seq means the same message on every instance and a client resumes with since_seq on any
 * of them. Messages without a deployment's number then carry the seq of the message before
 * them: DERIVED ones (every instance computes its own), and LOCAL ones the sequencer
 * declined (Redis away: they reach this instance's clients only). seq never decreases, and
 * since_seq still means "what came after". The replay is complete when everything after
 * since_seq is held: nothing after it left the ring, and no number after it was missed (a
 * jump in the deployment's numbers: this instance was cut off from Redis longer than the
 * log reaches back).
 *
 * Origins: LOCAL messages were accepted by this instance's writer (the Redis relay sends them
 * to other instances); REMOTE came from another instance through Redis (not sent back);
 * DERIVED were computed here from other messages (live bars; every instance computes its own,
 * so they are not relayed either). */
#ifndef MD_STREAM_HUB_H
#define MD_STREAM_HUB_H

#include "core/bar.h"
#include "core/buf.h"
#include "core/config.h"
#include "ingest/writer.h"
#include "stream/frame.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_hub md_hub;

typedef enum {
    MD_ORIGIN_LOCAL = 0,
    MD_ORIGIN_REMOTE,
    MD_ORIGIN_DERIVED,
    /* Or'ed into a quote's origin: a snapshot asked of a provider (/price, the watchlist's
     * polls), not a tick - its volume is the day's so far, not a trade's size - so live
     * bars never fold it in. The relay carries it to the other instances. */
    MD_ORIGIN_SNAPSHOT = 0x10,
    /* Or'ed into a numbered message (md_hub_publish_*_at) of the past: the relay's catch-up
     * when an instance starts. It goes into the replay buffer only (for since_seq), not to
     * clients or observers (live bars must not fold old ticks in again). */
    MD_ORIGIN_HISTORY = 0x20,
} md_origin;
/* The origin without the flag bits. */
#define MD_ORIGIN_BASE(o) ((md_origin)((int)(o)&0x0f))

typedef struct md_hub_options {
    size_t replay_size;       /* messages kept for since_seq (0 = no replay) */
    size_t queue_size;        /* messages queued per client before conflation starts */
    size_t max_subscriptions; /* (symbol, channel) pairs per client */
    const char *instance;     /* instance id; NULL = random */
    int64_t xch_idle_ms;      /* an extension channel number nobody read for this long may be given
                            to a new name once every number is taken (30 s) */
} md_hub_options;

/* The defaults of the stream.* keys (md_config_defaults), a random instance id. */
void md_hub_options_default(md_hub_options *o);
/* From the stream.* keys (queue_size, replay_size, max_subscriptions, instance). */
void md_hub_options_from_config(md_hub_options *o, const md_config *cfg);

/* A new hub (the caller owns it; free after every shard is freed). */
md_hub *md_hub_new(const md_hub_options *o);
void md_hub_free(md_hub *h);
const md_hub_options *md_hub_opts(const md_hub *h);
/* This instance's id (16 hex digits unless given). */
const char *md_hub_instance(const md_hub *h);
/* The last sequence number assigned (0 before the first message). */
uint64_t md_hub_last_seq(md_hub *h);
/* 1 when the deployment numbers the messages (a sequencer was set: agents on one Redis), so
 * that a seq means the same on every agent; 0 when this instance numbers its own. */
int md_hub_sequenced(md_hub *h);

/* Publishes one message (thread-safe). With defer, shards are not woken until the next
 * md_hub_flush() (a batch of ticks then goes out in one write per client). */
void md_hub_publish_quote(md_hub *h, const md_quote *q, md_origin origin, int defer);
void md_hub_publish_bar(md_hub *h, const char *symbol, md_interval iv, const md_bar *b,
                        md_origin origin, int defer);
/* Publishes a message numbered by the deployment (seq > 0; 0 = as above): dropped when seq
 * is not above the last (held already); a jump past last + 1 marks the numbers between as
 * missing for since_seq. Never offered to the sequencer. */
void md_hub_publish_quote_at(md_hub *h, const md_quote *q, md_origin origin, uint64_t seq,
                             int defer);
void md_hub_publish_bar_at(md_hub *h, const char *symbol, md_interval iv, const md_bar *b,
                           md_origin origin, uint64_t seq, int defer);
void md_hub_publish_ext_at(md_hub *h, int ch, const char *symbol, const char *type,
                           const char *fields, size_t fields_len, md_origin origin, uint64_t seq,
                           int defer);

/* A LOCAL message offered to the sequencer: kind 'q' (quote), 'b' (symbol, iv, bar) or 'e'
 * (channel, symbol, type, fields). The pointers live for the call only. */
typedef struct md_hub_seq_msg {
    char kind;
    md_origin origin;
    const md_quote *quote;
    const char *symbol;
    md_interval iv;
    const md_bar *bar;
    const char *channel, *type, *fields;
    size_t fields_len;
} md_hub_seq_msg;
typedef struct md_hub_sequencer {
    /* 1: taken (it comes back numbered); 0: declined (Redis away), the hub numbers and
     * publishes it itself. Called on the publishing thread without the hub lock. */
    int (*take)(void *ctx, const md_hub_seq_msg *m);
    void *ctx;
} md_hub_sequencer;
/* Sets (NULL: clears) the sequencer of LOCAL messages. Once set, the hub never numbers
 * messages itself again (cleared: LOCAL ones take the last number, as when declined). */
void md_hub_set_sequencer(md_hub *h, const md_hub_sequencer *sq);

/* Wakes every shard that has deferred messages. */
void md_hub_flush(md_hub *h);
/* Holds this thread's md_hub_flush() calls (owed non-NULL) or ends the hold (NULL): while
 * held, a flush only sets *owed to 1 and leaves the shards' wakes due for the next flush. The
 * server holds them while a request runs and flushes once its answer is written, so an
 * ingest's acknowledgement never waits for the stream loop that its ticks woke (issue 20: on
 * a shared core the woken fan-out preempted the answer for a scheduler tick). A hold lasts
 * MD_HUB_HOLD_MAX_NS: a long request (a bulk ingest committing chunk after chunk) streams its
 * chunks as they are stored rather than all at its end. */
#define MD_HUB_HOLD_MAX_NS 5000000
void md_hub_hold_flushes(int *owed);
/* The same with a hold of max_ns (tests: a bound a loaded machine cannot outrun). */
void md_hub_hold_flushes_for(int *owed, int64_t max_ns);

/* -- extension channels ("ind.<spec>@<interval>", "screen.<name>": stream/proto.h) ----------
 *
 * Messages the layers above compute (live indicators, screen events) travel on channels
 * named by text. The hub numbers each name the first time it is named (from MD_CH_COUNT on;
 * a number is never given to another name while the hub lives, so the replay buffer never
 * mixes two channels up) and publishes their messages like quotes and bars. Who computes a
 * channel's messages registers a handler for its prefix: the sessions acquire a (channel,
 * symbol) when a shard gets its first subscriber to it, and release it when the shard's last
 * one leaves, so the handler computes only what someone reads. */

/* The number of the extension channel name (canonical, stream/proto.h), given on first use
 * when create is set (MD_XCH_PIN: and never given to another name, for a channel published
 * whether read or not, such as a screen's). Returns it (>= MD_CH_COUNT), MD_ENOTFOUND when
 * not known and not created, or MD_ECHANNEL when every number is read now. A number no shard
 * has had a subscriber on for xch_idle_ms (and not named meanwhile) goes to a new name when
 * every number is taken. */
#define MD_XCH_PIN 2
int md_hub_xchannel(md_hub *h, const char *name, int create, md_error *err);
/* The name of extension channel ch, or NULL. The string stays readable as long as the hub
 * lives (the name of a number given to another name after xch_idle_ms). */
const char *md_hub_xchannel_name(md_hub *h, int ch);

typedef struct md_hub_xhandler {
    const char *prefix; /* "ind.", "screen." (a static string) */
    /* A shard has its first subscriber to (channel, symbol): 0, or an error that refuses the
     * subscription (the whole subscribe request fails and nothing changes). Called on the
     * shard's event loop: it must not block. symbol is "" for channels that are not per
     * symbol. */
    int (*acquire)(void *ctx, const char *channel, const char *symbol, md_error *err);
    /* The shard's last subscriber to (channel, symbol) left. Event loop, must not block. */
    void (*release)(void *ctx, const char *channel, const char *symbol);
    void *ctx;
    /* For a since_seq replay: 1 when every message of (channel, symbol) after since_seq was
     * computed, that is when some shard has read it without a break since a seq at or before
     * since_seq (md_hub_last_seq when its first subscriber came); 0 makes the replay say it is
     * not complete. NULL: the channel's messages are computed whether read or not. Called on
     * the shard's event loop after acquire: it must not block. */
    int (*covers)(void *ctx, const char *channel, const char *symbol, uint64_t since_seq);
} md_hub_xhandler;
/* Registers a handler (at most 4); channels whose prefix has none are refused at subscribe
 * (MD_ECHANNEL: not served by this agent). */
void md_hub_add_xhandler(md_hub *h, const md_hub_xhandler *x);
/* Removes the handlers registered with ctx (after every session that could release is
 * gone). */
void md_hub_remove_xhandler(md_hub *h, void *ctx);

/* Publishes a message of extension channel ch (md_hub_xchannel): md_proto_ext(type, seq,
 * name, symbol, fields). Observers hear it through on_ext. */
void md_hub_publish_ext(md_hub *h, int ch, const char *symbol, const char *type, const char *fields,
                        size_t fields_len, md_origin origin, int defer);

/* Something that wants to hear every published message, on the publishing thread, after the
 * message was handed to the shards (the relay, live bars, live indicators). Register before
 * publishing. Any callback may be NULL. */
typedef struct md_hub_observer {
    void (*on_quote)(void *ctx, const md_quote *q, md_origin origin);
    void (*on_bar)(void *ctx, const char *symbol, md_interval iv, const md_bar *b,
                   md_origin origin);
    void *ctx;
    void (*on_ext)(void *ctx, const char *channel, const char *symbol, const char *type,
                   const char *fields, size_t fields_len, md_origin origin);
} md_hub_observer;
void md_hub_add_observer(md_hub *h, const md_hub_observer *ob);
/* Removes the observers registered with ctx (when nothing publishes any more). */
void md_hub_remove_observer(md_hub *h, void *ctx);

/* Registers the hub as a PUBLISH-stage listener of w: what w stores is published after each
 * commit, with origin DERIVED when the write's origin is MD_WRITE_DERIVED (live bars), LOCAL
 * otherwise; quotes written as MD_WRITE_FETCH or MD_WRITE_POLL are LOCAL | SNAPSHOT. */
void md_hub_attach_writer(md_hub *h, md_writer *w);

/* The "stream" object of GET /health: status, clients, last seq, replay window, and what the
 * extension (the relay) adds. */
void md_hub_render_health(md_hub *h, md_buf *out);
/* Marks the stream degraded (the relay lost Redis: other instances' ticks do not arrive) or
 * healthy again; /health reports it. Thread-safe. */
void md_hub_set_degraded(md_hub *h, int degraded);
int md_hub_degraded(md_hub *h);
/* Sets (NULL: clears) a probe asked by md_hub_degraded() with the health extension's ctx:
 * 1 when the extension is stalled though connected (the relay's Redis stopped answering). */
void md_hub_set_stall_probe(md_hub *h, int (*stalled)(void *ctx));
/* Sets (fn NULL: clears) a renderer that appends ",\"name\":{...}" members to the health
 * object. */
void md_hub_set_health_ext(md_hub *h, void (*fn)(void *ctx, md_buf *out), void *ctx);

typedef struct md_hub_stats {
    uint64_t published, sessions, last_seq, replay_first, replay_n;
    uint64_t complete_from; /* the lowest since_seq replayed completely */
    int sequenced;          /* numbered by the deployment (a sequencer is set) */
} md_hub_stats;
void md_hub_get_stats(md_hub *h, md_hub_stats *st);

#endif
