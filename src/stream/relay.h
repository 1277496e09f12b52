/* relay.h - live ticks across instances over Redis pub/sub.
 *
 *   instance A: writer -> hub (LOCAL) -> relay out -> PUBLISH <channel> {"i":"A",...}
 *   instance B: SUBSCRIBE <channel> -> {"i":"A",...} -> hub (REMOTE) -> B's clients
 *   instance A: its own message comes back from Redis -> "i" is A -> dropped (echo)
 *
 * The channel carries the deployment's namespace (md_relay_options.ns): two deployments on
 * one Redis server (other databases, other prefixes) never hear each other's ticks.
 * Every instance publishes what its own writer accepted (origin LOCAL; relayed and derived
 * messages are never sent back out) and publishes into its hub what the others sent, so a
 * client on any instance sees every tick once. Pub/sub delivers at most once: ticks published
 * while an instance is disconnected from Redis do not reach it (it reconnects with backoff).
 * Two threads, each with its own blocking connection from the Redis adapter (cache/redis.h:
 * the redis.* timeouts and one breaker for both): one publishes (pipelining whatever queued
 * up meanwhile; a batch whose replies do not come within redis.timeout_ms is sent again on
 * the next connection, and Redis numbers each message once however many copies reach it),
 * one subscribes (no read timeout). The outbound queue is bounded: when Redis is
 * unreachable, the oldest pending ticks are dropped (counted). */
#ifndef MD_STREAM_RELAY_H
#define MD_STREAM_RELAY_H

#include "cache/redis.h"
#include "core/error.h"
#include "stream/hub.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_relay md_relay;

typedef struct md_relay_options {
    md_redis_options redis; /* url (core/redisurl.h), timeouts, breaker */
    const char *channel;    /* pub/sub channel shared by the instances */
    const char *ns;         /* the deployment on a shared Redis server (redis.namespace): the
                               channel used is "<channel>@<ns>", since pub/sub ignores the
                               database number; NULL or "": the channel as given */
    md_hub *hub;
    size_t max_pending; /* outbound ticks queued while Redis is slow or away (0 = 100000) */
} md_relay_options;

/* Starts relaying (the connections are made in the background and retried). MD_ECONFIG for a
 * bad URL. The caller owns the relay and frees it before the hub. */
int md_relay_start(const md_relay_options *o, md_relay **out, md_error *err);
/* Stops both threads and frees. NULL is fine. */
void md_relay_free(md_relay *r);

typedef struct md_relay_stats {
    uint64_t sent, received, echoes, dropped, bad;
    int connected; /* both connections up */
} md_relay_stats;
void md_relay_get_stats(md_relay *r, md_relay_stats *st);
/* 1 while the subscriber's connection stands but Redis has answered none of the publisher's
 * commands (PUBLISH, or the PING it sends every second when idle) for 2 s: a stopped or
 * wedged server, which /health reports as a degraded stream ("stalled") like a lost one.
 * Thread-safe. */
int md_relay_stalled(md_relay *r);

/* The wire form of one tick (tests). Appends it to the buffer; snapshot: a provider's quote
 * (MD_ORIGIN_SNAPSHOT), which live bars never fold in. */
void md_relay_encode_quote(md_buf *out, const char *instance, const md_quote *q, int snapshot);
void md_relay_encode_bar(md_buf *b, const char *instance, const char *symbol, md_interval iv,
                         const md_bar *bar);
/* An extension channel's message (stream/hub.h md_hub_publish_ext). */
void md_relay_encode_ext(md_buf *b, const char *instance, const char *channel, const char *symbol,
                         const char *type, const char *fields, size_t fields_len);
/* Decodes one message and publishes it into hub unless it came from `instance` (returns 1
 * then). 0 when published, MD_EJSON (or a symbol/interval error) for a bad message. */
int md_relay_decode(md_hub *hub, const char *instance, const char *msg, size_t len, int defer,
                    md_error *err);

#endif
