/* cache_mem.c - L1: the in-process answer cache.
 *
 * Layout. The table is split into stripes (shards), each with its own mutex, hash table,
 * LRU list, byte budget (max_bytes / shards) and symbol records. A symbol and all its
 * entries live in one stripe (chosen by the symbol's hash), so invalidating a symbol
 * touches one lock and walks only that symbol's entries.
 *
 *   stripe ── buckets[] ──> entry ─hnext─> entry          (lookup by key)
 *          └─ lru: head (most recent) <-> ... <-> tail    (eviction from the tail)
 *          └─ syms (core/dict) ──> sym {gen, entries} ──> entry <-> entry (per-symbol list)
 *
 * The entry table is chained through the entries themselves rather than a core/dict: an
 * entry is one refcounted allocation (header, key, body) that a response may still hold
 * after the table dropped it, and it sits on three intrusive lists (hash chain, LRU,
 * symbol) so eviction and invalidation unlink it through its own pointers. A dict would
 * cost each put a second allocation and a copy of the key, and each eviction a lookup by
 * key (a dict remove + put of a cache key: ~120 ns, against ~150 ns for a whole L1 put;
 * measured 2026-12-05 on the 2-core machine); the symbol records, which are small and
 * looked up only on puts, tokens and invalidations, live in a dict.
 *
 * An entry is ONE allocation (header, key, body) shared by reference: a hit takes a
 * reference under the stripe lock and the caller sends entry->body without copying; the
 * table's own reference is dropped when the entry is evicted, expires, is replaced or
 * invalidated, and the memory goes when the last response using it is written.
 *
 * Tokens. token(symbol) = epoch + sym->gen. Both only grow, so any invalidation (gen++) or
 * clear (epoch++) changes every token it affects; a put whose token is not current is
 * refused, which is what keeps an answer computed from pre-write data out of the cache.
 *
 * Accounting. An entry is charged its whole allocation; a stripe never holds more than
 * its budget (the put evicts from the LRU tail first, and refuses an entry larger than the
 * budget). Symbol records are small and never freed (their generation must not go back). */
#include "cache/cache_int.h"

#include "core/dict.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct msym;

struct md_cache_entry {
    atomic_int refs;
    struct md_cache_entry *hnext;         /* hash chain */
    struct md_cache_entry *lprev, *lnext; /* LRU list */
    struct md_cache_entry *sprev, *snext; /* the symbol's entries */
    struct msym *sym;
    uint64_t hash;
    int64_t created_ms, expires_ms;
    size_t charge;
    const char *ctype;
    char *body;
    size_t body_len;
    uint32_t klen;
    char key[]; /* key NUL body NUL */
};

typedef struct md_cache_entry entry;

typedef struct msym { /* the key (in the stripe's syms) is the symbol */
    uint64_t gen;
    int64_t changed_ms; /* clock_ms() of the last invalidation (0: none yet) */
    entry *entries;
} msym;

typedef struct shard {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, n;
    entry lru;    /* sentinel: lru.lnext = most recent, lru.lprev = least recent */
    md_dict syms; /* symbol -> msym */
    size_t bytes, max_bytes;
    uint64_t hits, misses, evictions, expirations, invalidations;
} shard;

struct md_cmem {
    shard *shards;
    unsigned nshards; /* power of two */
    atomic_uint_fast64_t epoch;
    int64_t (*clock_ms)(void);
    size_t max_bytes;
};

/* FNV-1a with its high bits folded down: buckets and stripes are picked by low bits. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = md_hash_bytes(s, n);
    return h ^ (h >> 29);
}

int md_cache_key_init(md_cache_key *k, char kind, const char *symbol, const char *params)
{
    size_t sl = strlen(symbol), pl = params ? strlen(params) : 0;
    if (sl > MD_CACHE_SCOPE_MAX) return MD_EINVAL;
    size_t n = 2 + sl + (params ? 1 + pl : 0);
    if (n >= sizeof k->s) return MD_EINVAL;
    k->s[0] = kind; /* "<kind>:<symbol>[:<params>]" */
    k->s[1] = ':';
    memcpy(k->s + 2, symbol, sl);
    if (params) {
        k->s[2 + sl] = ':';
        memcpy(k->s + 3 + sl, params, pl);
    }
    k->s[n] = 0;
    memcpy(k->symbol, symbol, sl + 1);
    k->len = n;
    k->hash = hash_bytes(k->s, k->len);
    return 0;
}

static shard *shard_of(md_cmem *m, uint64_t symhash)
{
    return &m->shards[(symhash >> 7) & (m->nshards - 1)];
}

md_cmem *md_cache__mem_new(size_t max_bytes, int shards, int64_t (*clock_ms)(void))
{
    unsigned n = 1;
    while ((int)n < (shards > 0 ? shards : 16) && n < 1024) n <<= 1;
    md_cmem *m = md_calloc(1, sizeof *m);
    m->nshards = n;
    m->clock_ms = clock_ms ? clock_ms : md_mono_ms;
    m->max_bytes = max_bytes;
    m->shards = md_calloc(n, sizeof *m->shards);
    for (unsigned i = 0; i < n; i++) {
        shard *s = &m->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->nbuckets = 64;
        s->buckets = md_calloc(s->nbuckets, sizeof *s->buckets);
        md_dict_init(&s->syms, sizeof(msym));
        s->lru.lnext = s->lru.lprev = &s->lru;
        s->max_bytes = max_bytes / n;
    }
    return m;
}

/* -- entries --------------------------------------------------------------------------------- */

const char *md_cache_entry_body(const md_cache_entry *e, size_t *len)
{
    *len = e->body_len;
    return e->body;
}

const char *md_cache_entry_content_type(const md_cache_entry *e)
{
    return e->ctype;
}

void md_cache_entry_release(void *p)
{
    entry *e = p;
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) md_free(e);
}

/* -- symbols --------------------------------------------------------------------------------- */

static msym *sym_find(shard *s, const char *name, int create)
{
    return create ? md_dict_put_str(&s->syms, name, NULL) : md_dict_find_str(&s->syms, name);
}

/* -- table operations (caller holds the stripe lock) ----------------------------------------- */

static void unlink_entry(shard *s, entry *e)
{
    entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->lprev->lnext = e->lnext;
    e->lnext->lprev = e->lprev;
    if (e->sprev)
        e->sprev->snext = e->snext;
    else
        e->sym->entries = e->snext;
    if (e->snext) e->snext->sprev = e->sprev;
    s->n--;
    s->bytes -= e->charge;
    md_cache_entry_release(e); /* the table's reference */
}

static entry *find(shard *s, const md_cache_key *k)
{
    for (entry *e = s->buckets[k->hash & (s->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == k->hash && e->klen == k->len && memcmp(e->key, k->s, k->len) == 0) return e;
    return NULL;
}

static void grow(shard *s)
{
    size_t nb = s->nbuckets * 2;
    entry **b = md_calloc(nb, sizeof *b);
    for (size_t i = 0; i < s->nbuckets; i++)
        for (entry *e = s->buckets[i], *nx; e; e = nx) {
            nx = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    md_free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static uint64_t token_of(md_cmem *m, msym *y)
{
    return atomic_load(&m->epoch) + (y ? y->gen : 0);
}

uint64_t md_cache__mem_token(md_cmem *m, const char *symbol)
{
    uint64_t h = hash_bytes(symbol, strlen(symbol));
    shard *s = shard_of(m, h);
    pthread_mutex_lock(&s->lock);
    uint64_t t = token_of(m, sym_find(s, symbol, 0));
    pthread_mutex_unlock(&s->lock);
    return t;
}

int64_t md_cache__mem_changed_ago(md_cmem *m, const char *symbol)
{
    uint64_t h = hash_bytes(symbol, strlen(symbol));
    shard *s = shard_of(m, h);
    pthread_mutex_lock(&s->lock);
    msym *y = sym_find(s, symbol, 0);
    int64_t at = y ? y->changed_ms : 0;
    pthread_mutex_unlock(&s->lock);
    return at ? m->clock_ms() - at : INT64_MAX;
}

md_cache_entry *md_cache__mem_get(md_cmem *m, const md_cache_key *k, int64_t max_age_ms,
                                  int count_miss)
{
    shard *s = shard_of(m, hash_bytes(k->symbol, strlen(k->symbol)));
    int64_t now = m->clock_ms();
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, k);
    if (e && now >= e->expires_ms) {
        unlink_entry(s, e);
        s->expirations++;
        e = NULL;
    }
    if (e && max_age_ms >= 0 && now - e->created_ms > max_age_ms) e = NULL;
    if (e) {
        /* most recently used: to the head */
        e->lprev->lnext = e->lnext;
        e->lnext->lprev = e->lprev;
        e->lnext = s->lru.lnext;
        e->lprev = &s->lru;
        s->lru.lnext->lprev = e;
        s->lru.lnext = e;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        s->hits++;
    } else if (count_miss) {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

int md_cache__mem_put(md_cmem *m, const md_cache_key *k, uint64_t token, const char *body,
                      size_t len, long tag_off, const char *tag, const char *content_type,
                      int64_t ttl_ms, int64_t age_ms)
{
    if (ttl_ms <= 0 || age_ms >= ttl_ms) return 0;
    size_t charge = sizeof(entry) + k->len + 1 + len + 1;
    uint64_t sh = hash_bytes(k->symbol, strlen(k->symbol));
    shard *s = shard_of(m, sh);
    if (charge > s->max_bytes) return 0;
    /* build outside the lock */
    entry *e = md_malloc(charge);
    memset(e, 0, sizeof *e);
    atomic_init(&e->refs, 1);
    e->hash = k->hash;
    e->klen = (uint32_t)k->len;
    memcpy(e->key, k->s, k->len);
    e->key[k->len] = 0;
    e->body = e->key + k->len + 1;
    memcpy(e->body, body, len);
    e->body[len] = 0;
    if (tag_off >= 0 && tag && (size_t)tag_off + 2 <= len) memcpy(e->body + tag_off, tag, 2);
    e->body_len = len;
    e->ctype = content_type;
    e->charge = charge;
    int64_t now = m->clock_ms();
    e->created_ms = now - age_ms;
    e->expires_ms = now + (ttl_ms - age_ms);

    pthread_mutex_lock(&s->lock);
    msym *y = sym_find(s, k->symbol, 0);
    if (token != token_of(m, y)) { /* written (or cleared) since the data was read */
        pthread_mutex_unlock(&s->lock);
        md_free(e);
        return 0;
    }
    if (!y) y = sym_find(s, k->symbol, 1);
    entry *old = find(s, k);
    if (old) unlink_entry(s, old);
    while (s->bytes + charge > s->max_bytes && s->lru.lprev != &s->lru) {
        entry *victim = s->lru.lprev;
        if (victim->expires_ms <= now)
            s->expirations++;
        else
            s->evictions++;
        unlink_entry(s, victim);
    }
    if (s->n >= s->nbuckets) grow(s);
    e->sym = y;
    entry **b = &s->buckets[e->hash & (s->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    e->lnext = s->lru.lnext;
    e->lprev = &s->lru;
    s->lru.lnext->lprev = e;
    s->lru.lnext = e;
    e->snext = y->entries;
    if (y->entries) y->entries->sprev = e;
    y->entries = e;
    s->n++;
    s->bytes += charge;
    pthread_mutex_unlock(&s->lock);
    return 1;
}

md_cache_entry *md_cache__mem_detached(const char *body, size_t len, const char *content_type)
{
    entry *e = md_malloc(sizeof(entry) + 1 + len + 1);
    memset(e, 0, sizeof *e);
    atomic_init(&e->refs, 1);
    e->key[0] = 0;
    e->body = e->key + 1;
    memcpy(e->body, body, len);
    e->body[len] = 0;
    e->body_len = len;
    e->ctype = content_type;
    return e;
}

size_t md_cache__mem_invalidate(md_cmem *m, const char *symbol, uint64_t *token_after,
                                char hot_kind, md_cache_key *hot, size_t max_hot)
{
    uint64_t h = hash_bytes(symbol, strlen(symbol));
    shard *s = shard_of(m, h);
    size_t nhot = 0;
    pthread_mutex_lock(&s->lock);
    msym *y = sym_find(s, symbol, 1);
    y->gen++;
    y->changed_ms = m->clock_ms();
    while (y->entries) {
        entry *e = y->entries;
        if (hot && nhot < max_hot && e->key[0] == hot_kind && e->klen < MD_CACHE_KEY_MAX) {
            md_cache_key *hk = &hot[nhot++];
            memcpy(hk->s, e->key, e->klen + 1);
            hk->len = e->klen;
            hk->hash = e->hash;
            snprintf(hk->symbol, sizeof hk->symbol, "%s", md_dict_key(&s->syms, y, NULL));
        }
        unlink_entry(s, e);
        s->invalidations++;
    }
    if (token_after) *token_after = token_of(m, y);
    pthread_mutex_unlock(&s->lock);
    return nhot;
}

void md_cache__mem_clear(md_cmem *m)
{
    atomic_fetch_add(&m->epoch, 1);
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        pthread_mutex_lock(&s->lock);
        while (s->lru.lnext != &s->lru) {
            unlink_entry(s, s->lru.lnext);
            s->invalidations++;
        }
        pthread_mutex_unlock(&s->lock);
    }
}

void md_cache__mem_stats(md_cmem *m, md_cache_level_stats *out)
{
    memset(out, 0, sizeof *out);
    out->max_bytes = m->max_bytes;
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        pthread_mutex_lock(&s->lock);
        out->hits += s->hits;
        out->misses += s->misses;
        out->entries += s->n;
        out->bytes += s->bytes;
        out->evictions += s->evictions;
        out->expirations += s->expirations;
        out->invalidations += s->invalidations;
        pthread_mutex_unlock(&s->lock);
    }
}

void md_cache__mem_free(md_cmem *m)
{
    if (!m) return;
    for (unsigned i = 0; i < m->nshards; i++) {
        shard *s = &m->shards[i];
        while (s->lru.lnext != &s->lru) unlink_entry(s, s->lru.lnext);
        md_dict_deinit(&s->syms);
        md_free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    md_free(m->shards);
    md_free(m);
}
