/* cache_int.h - what the cache's files share: the L1 table (cache_mem.c) and the Redis
 * client (cache_redis.c), combined into the two-level cache by cache.c. */
#ifndef MD_CACHE_CACHE_INT_H
#define MD_CACHE_CACHE_INT_H

#include "cache/cache.h"

#include <stdint.h>

/* -- L1: striped, bounded, TTL + LRU (cache_mem.c) ------------------------------------------- */

typedef struct md_cmem md_cmem;

md_cmem *md_cache__mem_new(size_t max_bytes, int shards, int64_t (*clock_ms)(void));
void md_cache__mem_free(md_cmem *m);
/* Current epoch + generation of symbol (taken before reading the data a fill will hold). */
uint64_t md_cache__mem_token(md_cmem *m, const char *symbol);
/* Milliseconds since symbol was last invalidated here (INT64_MAX: never). */
int64_t md_cache__mem_changed_ago(md_cmem *m, const char *symbol);
/* A live entry for k (reference taken), or NULL. Counts the hit, and the miss when
 * count_miss. max_age_ms < 0: any age. */
md_cache_entry *md_cache__mem_get(md_cmem *m, const md_cache_key *k, int64_t max_age_ms,
                                  int count_miss);
/* Inserts (or replaces) k unless token is no longer current or the entry cannot fit.
 * age_ms: how old the answer already is (an L2 copy). tag, when tag_off >= 0, is written
 * at tag_off in the copy. Returns 1 when stored. */
int md_cache__mem_put(md_cmem *m, const md_cache_key *k, uint64_t token, const char *body,
                      size_t len, long tag_off, const char *tag, const char *content_type,
                      int64_t ttl_ms, int64_t age_ms);
/* An entry outside the table (one reference, freed by md_cache_entry_release). */
md_cache_entry *md_cache__mem_detached(const char *body, size_t len, const char *content_type);
/* Bumps symbol's generation and drops its entries; see md_cache_invalidate(). */
size_t md_cache__mem_invalidate(md_cmem *m, const char *symbol, uint64_t *token_after,
                                char hot_kind, md_cache_key *hot, size_t max_hot);
/* New epoch, every entry dropped. */
void md_cache__mem_clear(md_cmem *m);
void md_cache__mem_stats(md_cmem *m, md_cache_level_stats *out);

/* -- L2: Redis behind a breaker (cache_redis.c) ---------------------------------------------- */

typedef struct md_credis md_credis;

/* Runs on the subscriber thread when another agent invalidated symbol (NULL: everything,
 * also after the subscription was lost and regained). */
typedef void (*md_credis_remote_fn)(void *ctx, const char *symbol);

int md_cache__redis_new(const md_cache_options *opt, md_credis_remote_fn remote, void *ctx,
                        md_credis **out, md_error *err);
void md_cache__redis_free(md_credis *r);

/* A value read from Redis; body points into reply (md_cache__redis_value_free). */
typedef struct md_l2_value {
    int64_t created_ms; /* wall clock */
    int64_t ttl_ms;
    long tag_off;
    char ctype; /* 'j' JSON, 'c' CSV */
    const char *body;
    size_t len;
    void *reply;
} md_l2_value;

/* 1 hit (v filled), 0 miss, < 0 Redis unusable. On 0 (and on a hit) fill->l2/epoch/gen are
 * set from the same round trip. */
int md_cache__redis_get(md_credis *r, const md_cache_key *k, int64_t max_age_ms,
                        md_cache_fill *fill, md_l2_value *v);
void md_cache__redis_value_free(md_l2_value *v);
/* SET with expiry; the value is tagged with fill's epoch and generation. */
int md_cache__redis_set(md_credis *r, const md_cache_key *k, const md_cache_fill *fill,
                        const char *body, size_t len, long tag_off, char ctype, int64_t ttl_ms);
/* INCR the symbol's generation and PUBLISH it; fill gets the new (epoch, gen). When Redis
 * cannot be told, a flush of the whole L2 is owed and done before L2 is read again. */
int md_cache__redis_invalidate(md_credis *r, const char *symbol, md_cache_fill *after);
/* New epoch, PUBLISH "clear", then delete the prefix's answer keys (bounded scan). */
int md_cache__redis_clear(md_credis *r, md_error *err);
/* Counts answer keys and their bytes under the prefix (bounded scan). */
int md_cache__redis_scan(md_credis *r, uint64_t *keys, uint64_t *bytes);
void md_cache__redis_stats(md_credis *r, md_cache_stats *out);
/* SET <prefix>lease:<name> <agent> NX PX ttl_ms: 1 taken, 0 held by another agent, -1 error. */
int md_cache__redis_lease(md_credis *r, const char *name, int64_t ttl_ms);
/* Renews (PEXPIRE ttl_ms) or releases (DEL) the lease if this agent holds it: 1 done, 0 not
 * ours, -1 error. */
int md_cache__redis_lease_op(md_credis *r, const char *name, int64_t ttl_ms, int release_it);
/* 1 when Redis is usable right now (breaker closed and subscribed). */
int md_cache__redis_healthy(md_credis *r);

#endif
