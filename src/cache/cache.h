/* cache.h - the answer cache: L1 in process, L2 in Redis (optional).
 *
 * The cache holds READY-TO-SEND response bodies (the /price and /historical answers), keyed
 * by a normalised request key, so a hit does no store access and no JSON building: an L1
 * hit hands out a reference to an immutable, refcounted entry that the server sends as it
 * is and releases when written (md_http_resp.ext / ext_release).
 *
 *   read:   L1 ──miss──> L2 (Redis) ──miss──> caller reads the store, md_cache_put()
 *   write:  writer commits ──> md_cache_invalidate(symbol) ──> caller re-renders hot answers
 *
 * Consistency. Every symbol has a generation number; every fill carries the generation
 * captured BEFORE its data was read (md_cache_lookup fills an md_cache_fill). A write bumps
 * the generation after the store committed, so an answer computed from older data can
 * never be stored under the new generation, and no answer older than an accepted write is
 * served again by this agent. L1 drops a symbol's entries at once; L2 values carry
 * (epoch, generation) and only count as hits when both match the current ones in Redis.
 * Other agents sharing the Redis hear of the bump over pub/sub and drop their L1 entries;
 * an agent that lost its subscription clears its whole L1 when it gets it back.
 *
 * Failure. Redis sits behind the circuit breaker of the Redis adapter (cache/redis.h), with
 * short timeouts (closed -> open after N failures -> half-open after a cool-down -> closed
 * on one success). While it is open L2 is skipped (answers come from L1 and the store) and
 * md_cache_status() says "degraded".
 *
 * The cache is not a second source of truth: every entry can be rebuilt from the store,
 * and anything that fails here degrades to a miss. All functions are thread-safe. */
#ifndef MD_CACHE_CACHE_H
#define MD_CACHE_CACHE_H

#include "cache/redis.h"
#include "core/error.h"
#include "core/symbol.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_cache md_cache;
typedef struct md_cache_entry md_cache_entry;

typedef enum md_cache_level { MD_CACHE_MISS = 0, MD_CACHE_L1 = 1, MD_CACHE_L2 = 2 } md_cache_level;

typedef struct md_cache_options {
    size_t max_bytes;          /* L1 memory bound (entries, keys and bookkeeping) */
    int shards;                /* L1 lock stripes, a power of two; 0 = 16. Entries of one
                                * symbol share a stripe; each stripe gets max_bytes/shards */
    int64_t (*clock_ms)(void); /* monotonic milliseconds for L1 TTLs; NULL = md_mono_ms */
    const char *prefix;        /* every Redis key and channel starts with this */
    md_redis_options redis;    /* redis.url NULL or "" = no L2; timeouts, pool, breaker */
} md_cache_options;

/* Defaults: the cache.* and redis.* keys' (md_config_defaults: 64 MiB, prefix "mdagent:"),
 * 16 shards, no Redis (redis.url NULL). */
void md_cache_options_default(md_cache_options *o);

struct md_config;
/* The options from the "cache" and "redis" config sections (defaults first). */
void md_cache_options_from_config(md_cache_options *o, const struct md_config *cfg);

/* Creates the cache. With a Redis URL (opt->redis.url), starts the subscriber thread and waits (at most the
 * connect timeout) for it to subscribe; an unreachable Redis is NOT an error (the cache
 * starts degraded and reconnects). MD_ECONFIG for a malformed URL. *out is owned by the
 * caller (md_cache_free). */
int md_cache_new(const md_cache_options *opt, md_cache **out, md_error *err);
void md_cache_free(md_cache *c);

/* -- keys ------------------------------------------------------------------------------------ */

#define MD_CACHE_KEY_MAX 192

/* A normalised request: kind letter, scope and parameters ("p:AAPL~q", "h:AAPL:1d:..."). The
 * scope - a symbol, or a symbol with a suffix for a part of its data - decides which
 * generation (and L1 stripe) the answer belongs to. */
#define MD_CACHE_SCOPE_MAX (MD_SYMBOL_MAX + 3)
typedef struct md_cache_key {
    char symbol[MD_CACHE_SCOPE_MAX + 1]; /* the scope */
    char s[MD_CACHE_KEY_MAX];
    size_t len;
    uint64_t hash;
} md_cache_key;

/* Builds a key "<kind>:<symbol>[:<params>]" (params may be NULL). Returns 0, or MD_EINVAL
 * when it would not fit. */
int md_cache_key_init(md_cache_key *k, char kind, const char *symbol, const char *params);

/* -- reads ----------------------------------------------------------------------------------- */

/* What a miss must carry to its md_cache_put(): the generations seen before the data was
 * read. Filled by md_cache_lookup() on a miss and by md_cache_invalidate(). */
typedef struct md_cache_fill {
    uint64_t l1; /* L1 epoch + symbol generation */
    int l2;      /* 1 when Redis answered: epoch and gen below are valid */
    uint64_t epoch, gen;
} md_cache_fill;

enum {
    MD_CACHE_L1_ONLY = 1,    /* never touch Redis (on an event loop); a miss leaves *fill
                              * empty (no put may follow it) */
    MD_CACHE_NO_L1_MISS = 2, /* this request's L1 miss was already counted */
};

/* Looks key up: L1, then (unless MD_CACHE_L1_ONLY) L2, where a hit is copied into L1.
 * max_age_ms >= 0 refuses answers older than that (the client's ?max_age), -1 = any age.
 * Returns the level that answered with *out holding a reference (md_cache_entry_release),
 * or MD_CACHE_MISS with *fill ready for md_cache_put(). c may be NULL (always a miss). */
md_cache_level md_cache_lookup(md_cache *c, const md_cache_key *k, int64_t max_age_ms, int flags,
                               md_cache_entry **out, md_cache_fill *fill);

/* Stores an answer computed after fill was taken, in L1 and (when fill->l2) in Redis.
 * tag_off >= 0 is the offset of a 2-character level tag inside body ("l1", "l2"), written
 * per level so each level's copy reports itself. ttl_ms bounds the life of the answer at
 * both levels. Silently does nothing when the symbol was written since fill was taken, or
 * when the answer is too large for the memory bound. */
void md_cache_put(md_cache *c, const md_cache_key *k, const md_cache_fill *fill, const char *body,
                  size_t len, long tag_off, const char *content_type, int64_t ttl_ms);

/* The cached body (immutable while a reference is held). */
const char *md_cache_entry_body(const md_cache_entry *e, size_t *len);
const char *md_cache_entry_content_type(const md_cache_entry *e);
/* Drops a reference (void * so it fits md_http_resp.ext_release); NULL is fine. */
void md_cache_entry_release(void *e);

/* -- writes ---------------------------------------------------------------------------------- */

/* Called after data of symbol was committed: drops its L1 entries, bumps its generation in
 * Redis and tells the other agents. Copies up to max_hot keys of the dropped L1 entries of
 * kind `hot_kind` into hot (the answers clients were reading, for write-through) and
 * returns how many; *after receives the fill to store refreshed answers with. */
size_t md_cache_invalidate(md_cache *c, const char *symbol, md_cache_fill *after, char hot_kind,
                           md_cache_key *hot, size_t max_hot);

/* Milliseconds since symbol's data last changed as this agent knows it - its own writes and
 * the invalidations other agents sent (INT64_MAX: not since the cache started). */
int64_t md_cache_changed_ago_ms(md_cache *c, const char *symbol);

enum { MD_CACHE_CLEAR_L1 = 1, MD_CACHE_CLEAR_L2 = 2 };

/* -- leases ---------------------------------------------------------------------------------- */

/* Work that agents sharing one Redis must do once (a scheduled poll of a symbol in one
 * polling slot): the first agent to claim `name` gets it for ttl_ms (Redis SET NX PX under
 * the cache prefix; it simply expires). 1 when this agent holds it now, 0 when another agent
 * does, -1 without Redis or while Redis is unusable: then the caller does the work itself
 * (done twice beats not done). */
int md_cache_lease(md_cache *c, const char *name, int64_t ttl_ms);
/* Extends a lease this agent holds to ttl_ms from now: 1 done, 0 it is not ours (expired, or
 * another agent took it), -1 without Redis or on an error. */
int md_cache_lease_renew(md_cache *c, const char *name, int64_t ttl_ms);
/* Gives a lease this agent holds back at once (shutdown, work finished). */
void md_cache_lease_release(md_cache *c, const char *name);

/* Empties the levels named: L1 here (and in every agent sharing the Redis, through
 * pub/sub), L2 by moving Redis to a new epoch and deleting the prefix's answer keys.
 * MD_EUNAVAIL when L2 was asked for and Redis cannot be reached. */
int md_cache_clear(md_cache *c, int levels, md_error *err);

/* -- state ----------------------------------------------------------------------------------- */

typedef struct md_cache_level_stats {
    uint64_t hits, misses;
    uint64_t entries, bytes, max_bytes;
    uint64_t evictions, expirations, invalidations, errors;
} md_cache_level_stats;

typedef struct md_cache_stats {
    md_cache_level_stats l1, l2;
    int l2_enabled;
    const char *l2_state; /* "ok", "down" or "disabled" */
    const char *breaker;  /* "closed", "open", "half_open" */
    int subscribed;       /* pub/sub link to the other agents is up */
    int l2_sampled;       /* l2.entries/bytes come from a scan of the prefix */
} md_cache_stats;

/* Counters and sizes. With scan_l2 (blocking; workers only) L2 entries and bytes are
 * counted in Redis now (bounded scan), else the last counted figures are reported. */
void md_cache_get_stats(md_cache *c, int scan_l2, md_cache_stats *out);
/* "ok", or "degraded" when a configured Redis cannot be used. */
const char *md_cache_status(md_cache *c);
/* Copies the counters into the mdagent_cache_* metrics (called before /metrics renders,
 * so lookups never touch the metrics registry). */
void md_cache_sync_metrics(md_cache *c);

#endif
