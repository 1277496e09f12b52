/* test_cache.c - the answer cache: L1 (TTL with an injected clock, LRU order, the memory
 * bound, generations, clears, references, threads) and L2 against the real Redis of the
 * test services (another agent's L2 hit, pub/sub invalidation, the breaker). */
#include "cache/cache.h"
#include "core/timefmt.h"

#include "testutil.h"

#include <hiredis/hiredis.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static md_cache *new_cache(size_t max_bytes, int shards)
{
    md_cache_options o;
    md_cache_options_default(&o);
    o.max_bytes = max_bytes;
    o.shards = shards;
    o.clock_ms = fake_clock;
    md_cache *c = NULL;
    cr_assert_eq(md_cache_new(&o, &c, NULL), 0);
    return c;
}

static md_cache_key key(const char *sym, const char *params)
{
    md_cache_key k;
    cr_assert_eq(md_cache_key_init(&k, params ? 'h' : 'p', sym, params), 0);
    return k;
}

/* Looks k up in L1 only; returns the body (static copy) or NULL. */
static const char *get(md_cache *c, const md_cache_key *k)
{
    static char out[4096];
    md_cache_entry *e;
    md_cache_fill f;
    if (md_cache_lookup(c, k, -1, 0, &e, &f) != MD_CACHE_L1) return NULL;
    size_t n;
    const char *b = md_cache_entry_body(e, &n);
    snprintf(out, sizeof out, "%.*s", (int)n, b);
    md_cache_entry_release(e);
    return out;
}

/* Misses, then stores body under the fill of that miss. */
static void fill(md_cache *c, const md_cache_key *k, const char *body, int64_t ttl)
{
    md_cache_entry *e;
    md_cache_fill f;
    md_cache_lookup(c, k, -1, 0, &e, &f);
    md_cache_entry_release(e);
    md_cache_put(c, k, &f, body, strlen(body), -1, "application/json", ttl);
}

Test(cache, hit_after_put_and_keys_are_distinct)
{
    md_cache *c = new_cache(1 << 20, 4);
    md_cache_key a = key("AAPL", NULL), b = key("AAPL", "1d"), m = key("MSFT", NULL);
    cr_assert_null(get(c, &a));
    fill(c, &a, "{\"a\":1}", 1000);
    fill(c, &b, "{\"b\":1}", 1000);
    cr_assert_str_eq(get(c, &a), "{\"a\":1}");
    cr_assert_str_eq(get(c, &b), "{\"b\":1}");
    cr_assert_null(get(c, &m));
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_eq(s.l1.entries, 2);
    cr_assert_eq(s.l1.hits, 2);
    cr_assert_eq(s.l1.misses, 4); /* AAPL before the fill, two fills, MSFT */
    cr_assert_str_eq(md_cache_status(c), "ok");
    md_cache_free(c);
}

Test(cache, key_too_long_is_refused)
{
    md_cache_key k;
    char params[400];
    memset(params, 'x', sizeof params - 1);
    params[sizeof params - 1] = 0;
    cr_assert_eq(md_cache_key_init(&k, 'h', "AAPL", params), MD_EINVAL);
    cr_assert_eq(md_cache_key_init(&k, 'p', "THIS_SCOPE_IS_FAR_TOO_LONG_FOR_A_KEY", NULL),
                 MD_EINVAL);
}

Test(cache, ttl_expiry_follows_the_clock)
{
    fake_now = 1000;
    md_cache *c = new_cache(1 << 20, 1);
    md_cache_key k = key("AAPL", NULL);
    fill(c, &k, "x", 500);
    fake_now = 1499;
    cr_assert_not_null(get(c, &k));
    fake_now = 1500;
    cr_assert_null(get(c, &k), "an entry is gone when its TTL has passed");
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_eq(s.l1.expirations, 1);
    cr_assert_eq(s.l1.entries, 0);
    cr_assert_eq(s.l1.bytes, 0);
    md_cache_free(c);
}

Test(cache, max_age_refuses_older_answers_without_dropping_them)
{
    fake_now = 0;
    md_cache *c = new_cache(1 << 20, 1);
    md_cache_key k = key("AAPL", NULL);
    fill(c, &k, "x", 10000);
    fake_now = 3000;
    md_cache_entry *e;
    md_cache_fill f;
    cr_assert_eq(md_cache_lookup(c, &k, 2000, 0, &e, &f), MD_CACHE_MISS);
    cr_assert_eq(md_cache_lookup(c, &k, 5000, 0, &e, &f), MD_CACHE_L1);
    md_cache_entry_release(e);
    md_cache_free(c);
}

Test(cache, lru_evicts_the_least_recently_used)
{
    fake_now = 0;
    char body[1000];
    memset(body, 'b', sizeof body - 1);
    body[sizeof body - 1] = 0;
    /* room for three entries of ~1.2 KB in one stripe */
    md_cache *c = new_cache(3 * 1300, 1);
    md_cache_key a = key("A", NULL), b = key("B", NULL), k3 = key("C", NULL), d = key("D", NULL);
    fill(c, &a, body, 100000);
    fill(c, &b, body, 100000);
    fill(c, &k3, body, 100000);
    cr_assert_not_null(get(c, &a)); /* A is now the most recent; B the least */
    fill(c, &d, body, 100000);
    cr_assert_null(get(c, &b), "B was least recently used");
    cr_assert_not_null(get(c, &a));
    cr_assert_not_null(get(c, &k3));
    cr_assert_not_null(get(c, &d));
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_eq(s.l1.evictions, 1);
    cr_assert_eq(s.l1.entries, 3);
    md_cache_free(c);
}

Test(cache, memory_bound_is_never_exceeded)
{
    fake_now = 0;
    const size_t max = 64 * 1024;
    md_cache *c = new_cache(max, 4);
    char body[9000];
    unsigned seed = 42;
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(rand_r(&seed) % (sizeof body - 1));
        memset(body, 'a' + i % 26, n);
        body[n] = 0;
        char sym[16];
        snprintf(sym, sizeof sym, "S%d", rand_r(&seed) % 200);
        md_cache_key k = key(sym, i % 3 ? "1d" : NULL);
        fill(c, &k, body, 100000);
        md_cache_stats s;
        md_cache_get_stats(c, 0, &s);
        cr_assert_leq(s.l1.bytes, max, "after put %d: %llu bytes > %zu", i,
                      (unsigned long long)s.l1.bytes, max);
    }
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_gt(s.l1.evictions, 0);
    cr_assert_gt(s.l1.entries, 0);
    /* an entry larger than a stripe's share is not kept at all */
    char *big = malloc(max);
    memset(big, 'z', max - 1);
    big[max - 1] = 0;
    md_cache_key bk = key("BIG", NULL);
    fill(c, &bk, big, 100000);
    cr_assert_null(get(c, &bk));
    free(big);
    md_cache_free(c);
}

Test(cache, a_write_drops_answers_and_refuses_fills_from_before_it)
{
    fake_now = 0;
    md_cache *c = new_cache(1 << 20, 4);
    md_cache_key p = key("AAPL", NULL), h1 = key("AAPL", "1d:x"), h2 = key("AAPL", "1m:y"),
                 other = key("MSFT", NULL);
    fill(c, &p, "old price", 100000);
    fill(c, &h1, "old bars", 100000);
    fill(c, &h2, "old bars 2", 100000);
    fill(c, &other, "msft", 100000);

    /* a reader misses and reads the store BEFORE the write ... */
    md_cache_key q = key("AAPL", "1w:z");
    md_cache_entry *e;
    md_cache_fill before;
    cr_assert_eq(md_cache_lookup(c, &q, -1, 0, &e, &before), MD_CACHE_MISS);

    md_cache_key hot[8];
    md_cache_fill after;
    size_t n = md_cache_invalidate(c, "AAPL", &after, 'h', hot, 8);
    cr_assert_eq(n, 2, "the two /historical answers are handed back for write-through");
    cr_assert(strcmp(hot[0].s, h1.s) == 0 || strcmp(hot[1].s, h1.s) == 0);
    cr_assert_str_eq(hot[0].symbol, "AAPL");
    cr_assert_null(get(c, &p));
    cr_assert_null(get(c, &h1));
    cr_assert_null(get(c, &h2));
    cr_assert_str_eq(get(c, &other), "msft", "other symbols keep their answers");

    /* ... and stores its (pre-write) answer afterwards: refused */
    md_cache_put(c, &q, &before, "stale", 5, -1, "application/json", 100000);
    cr_assert_null(get(c, &q), "an answer read before the write is never cached after it");
    /* the write-through (taken after the write) is accepted */
    md_cache_put(c, &p, &after, "new price", 9, -1, "application/json", 100000);
    cr_assert_str_eq(get(c, &p), "new price");
    md_cache_free(c);
}

Test(cache, clear_drops_everything_and_refuses_earlier_fills)
{
    md_cache *c = new_cache(1 << 20, 8);
    md_cache_key a = key("A", NULL), b = key("B", NULL);
    fill(c, &a, "a", 100000);
    md_cache_entry *e;
    md_cache_fill f;
    md_cache_lookup(c, &b, -1, 0, &e, &f);
    cr_assert_eq(md_cache_clear(c, MD_CACHE_CLEAR_L1, NULL), 0);
    cr_assert_null(get(c, &a));
    md_cache_put(c, &b, &f, "b", 1, -1, "application/json", 100000);
    cr_assert_null(get(c, &b), "a fill begun before the clear is refused");
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_eq(s.l1.entries, 0);
    cr_assert_eq(s.l1.bytes, 0);
    md_cache_free(c);
}

Test(cache, level_tag_is_written_into_the_l1_copy)
{
    md_cache *c = new_cache(1 << 20, 1);
    md_cache_key k = key("AAPL", NULL);
    const char *body = "{\"price\":1,\"cache\":\"xx\"}";
    md_cache_entry *e;
    md_cache_fill f;
    md_cache_lookup(c, &k, -1, 0, &e, &f);
    md_cache_put(c, &k, &f, body, strlen(body), (long)(strstr(body, "xx") - body),
                 "application/json", 100000);
    cr_assert_str_eq(get(c, &k), "{\"price\":1,\"cache\":\"l1\"}");
    cr_assert_eq(md_cache_lookup(c, &k, -1, 0, &e, &f), MD_CACHE_L1);
    cr_assert_str_eq(md_cache_entry_content_type(e), "application/json");
    md_cache_entry_release(e);
    md_cache_free(c);
}

Test(cache, a_referenced_entry_outlives_its_eviction)
{
    md_cache *c = new_cache(1 << 20, 1);
    md_cache_key k = key("AAPL", NULL);
    fill(c, &k, "still here", 100000);
    md_cache_entry *e;
    md_cache_fill f;
    cr_assert_eq(md_cache_lookup(c, &k, -1, 0, &e, &f), MD_CACHE_L1);
    md_cache_invalidate(c, "AAPL", NULL, 0, NULL, 0);
    md_cache_clear(c, MD_CACHE_CLEAR_L1, NULL);
    size_t n;
    const char *b = md_cache_entry_body(e, &n);
    cr_assert_eq(n, 10);
    cr_assert_eq(memcmp(b, "still here", 10), 0); /* ASan would catch a use after free */
    md_cache_entry_release(e);
    md_cache_free(c);
}

Test(cache, l1_only_lookup_hits_and_misses_without_a_fill)
{
    md_cache *c = new_cache(1 << 20, 2);
    md_cache_key k = key("AAPL", NULL);
    fill(c, &k, "x", 100000);
    md_cache_entry *e;
    md_cache_fill f;
    cr_assert_eq(md_cache_lookup(c, &k, -1, MD_CACHE_L1_ONLY, &e, &f), MD_CACHE_L1);
    md_cache_entry_release(e);
    md_cache_key m = key("MSFT", NULL);
    cr_assert_eq(md_cache_lookup(c, &m, -1, MD_CACHE_L1_ONLY, &e, &f), MD_CACHE_MISS);
    cr_assert_null(e);
    md_cache_free(c);
}

Test(cache, no_cache_means_always_a_miss)
{
    md_cache_key k = key("AAPL", NULL);
    md_cache_entry *e;
    md_cache_fill f;
    cr_assert_eq(md_cache_lookup(NULL, &k, -1, 0, &e, &f), MD_CACHE_MISS);
    md_cache_put(NULL, &k, &f, "x", 1, -1, "application/json", 1000);
    cr_assert_eq(md_cache_invalidate(NULL, "AAPL", &f, 0, NULL, 0), 0);
    cr_assert_str_eq(md_cache_status(NULL), "disabled");
}

/* -- threads --------------------------------------------------------------------------------- */

typedef struct {
    md_cache *c;
    int id;
    atomic_int *bad;
} worker_arg;

static void *hammer(void *p)
{
    worker_arg *w = p;
    unsigned seed = (unsigned)w->id * 7919u;
    char body[600], sym[8];
    for (int i = 0; i < 20000; i++) {
        snprintf(sym, sizeof sym, "S%d", rand_r(&seed) % 50);
        md_cache_key k;
        md_cache_key_init(&k, 'p', sym, NULL);
        int op = rand_r(&seed) % 10;
        md_cache_entry *e;
        md_cache_fill f;
        if (op < 7) {
            if (md_cache_lookup(w->c, &k, -1, 0, &e, &f) == MD_CACHE_L1) {
                size_t n;
                const char *b = md_cache_entry_body(e, &n);
                /* every body starts with the key it was stored under */
                if (n < k.len || memcmp(b, k.s, k.len) != 0) atomic_fetch_add(w->bad, 1);
                md_cache_entry_release(e);
            } else {
                int n = snprintf(body, sizeof body, "%s|%d|", k.s, i);
                size_t len = (size_t)n + (size_t)(rand_r(&seed) % 400);
                memset(body + n, 'x', len - (size_t)n);
                md_cache_put(w->c, &k, &f, body, len, -1, "application/json", 1000000);
            }
        } else if (op < 9) {
            md_cache_invalidate(w->c, sym, NULL, 0, NULL, 0);
        } else if (i % 1000 == 0) {
            md_cache_clear(w->c, MD_CACHE_CLEAR_L1, NULL);
        }
    }
    return NULL;
}

Test(cache, concurrent_use_keeps_entries_whole_and_within_bounds)
{
    md_cache_options o;
    md_cache_options_default(&o);
    o.max_bytes = 32 * 1024;
    o.shards = 4;
    md_cache *c = NULL;
    cr_assert_eq(md_cache_new(&o, &c, NULL), 0);
    atomic_int bad = 0;
    pthread_t t[4];
    worker_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg){c, i + 1, &bad};
        pthread_create(&t[i], NULL, hammer, &a[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&bad), 0);
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_leq(s.l1.bytes, o.max_bytes);
    cr_assert_gt(s.l1.hits, 0);
    md_cache_free(c);
}

/* -- L2 against the test services' Redis ---------------------------------------------------- */

/* The services' Redis (MDTEST_STATE) with a database of its own: .../0 -> .../5 */
static const char *redis_url(void)
{
    static char url[512];
    const char *base = md_test_service("MDTEST_REDIS_URL");
    if (!base) return NULL;
    snprintf(url, sizeof url, "%s", base);
    char *slash = strrchr(url, '/');
    if (slash && slash > url + 8) snprintf(slash, 4, "/5");
    return url;
}

static md_cache *new_l2(const char *url, const char *prefix)
{
    md_cache_options o;
    md_cache_options_default(&o);
    o.redis.url = url;
    o.prefix = prefix;
    o.redis.connect_timeout_ms = 500;
    o.redis.timeout_ms = 500;
    md_cache *c = NULL;
    cr_assert_eq(md_cache_new(&o, &c, NULL), 0);
    return c;
}

static char prefix_buf[64];
static const char *unique_prefix(const char *name)
{
    snprintf(prefix_buf, sizeof prefix_buf, "ut:%d:%s:", (int)getpid(), name);
    return prefix_buf;
}

Test(cache_l2, another_agent_hits_l2_and_hears_invalidations)
{
    const char *url = redis_url();
    if (!url) cr_skip_test("no test Redis (run through ctest)");
    const char *prefix = unique_prefix("two");
    md_cache *a = new_l2(url, prefix), *b = new_l2(url, prefix);
    cr_assert_str_eq(md_cache_status(a), "ok");
    md_cache_key k = key("AAPL", NULL);
    md_cache_entry *e;
    md_cache_fill f;
    cr_assert_eq(md_cache_lookup(a, &k, -1, 0, &e, &f), MD_CACHE_MISS);
    cr_assert_eq(f.l2, 1, "Redis answered the miss");
    const char *body = "{\"p\":1,\"cache\":\"xx\"}";
    md_cache_put(a, &k, &f, body, strlen(body), 16, "application/json", 60000);

    /* agent b: L1 miss, L2 hit tagged l2; then L1 */
    cr_assert_eq(md_cache_lookup(b, &k, -1, 0, &e, &f), MD_CACHE_L2);
    size_t n;
    const char *got = md_cache_entry_body(e, &n);
    cr_assert_eq(n, strlen(body));
    cr_assert_eq(memcmp(got, "{\"p\":1,\"cache\":\"l2\"}", n), 0);
    md_cache_entry_release(e);
    cr_assert_eq(md_cache_lookup(b, &k, -1, 0, &e, &f), MD_CACHE_L1);
    md_cache_entry_release(e);

    /* a write at agent a: b's L1 copy goes (pub/sub), and L2 no longer answers */
    md_cache_fill after;
    md_cache_invalidate(a, "AAPL", &after, 0, NULL, 0);
    cr_assert_eq(after.l2, 1);
    int dropped = 0;
    for (int i = 0; i < 500 && !dropped; i++) {
        md_cache_stats s;
        md_cache_get_stats(b, 0, &s);
        dropped = s.l1.entries == 0;
        if (!dropped) usleep(10000);
    }
    cr_assert(dropped, "the invalidation reached the other agent");
    cr_assert_eq(md_cache_lookup(b, &k, -1, 0, &e, &f), MD_CACHE_MISS);

    /* the write-through with the fill taken after the write is visible to b */
    md_cache_put(a, &k, &after, "{\"p\":2,\"cache\":\"xx\"}", 20, 16, "application/json", 60000);
    cr_assert_eq(md_cache_lookup(b, &k, -1, 0, &e, &f), MD_CACHE_L2);
    got = md_cache_entry_body(e, &n);
    cr_assert_eq(memcmp(got, "{\"p\":2", 6), 0);
    md_cache_entry_release(e);

    /* a clear of both levels empties the prefix in Redis */
    cr_assert_eq(md_cache_clear(a, MD_CACHE_CLEAR_L1 | MD_CACHE_CLEAR_L2, NULL), 0);
    cr_assert_eq(md_cache_lookup(a, &k, -1, 0, &e, &f), MD_CACHE_MISS);
    md_cache_stats s;
    md_cache_get_stats(a, 1, &s);
    cr_assert_eq(s.l2.entries, 0, "clear deleted the answers under the prefix");
    cr_assert_eq(s.l2_enabled, 1);
    md_cache_free(a);
    md_cache_free(b);
}

/* Sets key (under prefix) to value in Redis, as another program sharing it could. */
static void redis_set(const char *url, const char *prefix, const char *key, const char *value)
{
    md_redis_options o;
    md_redis_options_default(&o);
    o.url = url;
    md_redis *r = NULL;
    cr_assert_eq(md_redis_new(&o, &r, NULL), 0);
    char k[256];
    snprintf(k, sizeof k, "%s%s", prefix, key);
    const char *argv[3] = {"SET", k, value};
    size_t lens[3] = {3, strlen(k), strlen(value)};
    redisReply *rep = NULL;
    cr_assert_eq(md_redis_command(r, &rep, 3, argv, lens), 0);
    cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    md_redis_free(r);
}

static md_cache_level lookup_body(md_cache *c, const md_cache_key *k, md_cache_fill *f, char *body,
                                  size_t cap)
{
    md_cache_entry *e;
    md_cache_level lvl = md_cache_lookup(c, k, -1, 0, &e, f);
    body[0] = 0;
    if (lvl != MD_CACHE_MISS) {
        size_t n;
        const char *b = md_cache_entry_body(e, &n);
        snprintf(body, cap, "%.*s", (int)n, b);
        md_cache_entry_release(e);
    }
    return lvl;
}

Test(cache_l2, foreign_values_under_our_keys_never_keep_an_old_answer)
{
    const char *url = redis_url();
    if (!url) cr_skip_test("no test Redis (run through ctest)");
    const char *prefix = unique_prefix("foreign");
    md_cache *a = new_l2(url, prefix), *b = new_l2(url, prefix);
    md_cache_key k = key("AAPL", NULL);
    md_cache_fill f;
    char got[64];

    /* the generation key holds something INCR refuses: the answer stored meanwhile... */
    redis_set(url, prefix, "g:AAPL", "not-a-number");
    cr_assert_eq(lookup_body(a, &k, &f, got, sizeof got), MD_CACHE_MISS);
    cr_assert_eq(f.l2, 1);
    md_cache_put(a, &k, &f, "{\"v\":1}", 7, -1, "application/json", 60000);
    cr_assert_eq(lookup_body(b, &k, &f, got, sizeof got), MD_CACHE_L2);
    cr_assert_str_eq(got, "{\"v\":1}");
    /* ...is no answer any more once a write was committed, at either agent */
    md_cache_fill after;
    md_cache_invalidate(a, "AAPL", &after, 0, NULL, 0);
    cr_assert_eq(md_cache_clear(b, MD_CACHE_CLEAR_L1, NULL), 0);
    cr_assert_eq(lookup_body(a, &k, &f, got, sizeof got), MD_CACHE_MISS, "a served %s", got);
    cr_assert_eq(lookup_body(b, &k, &f, got, sizeof got), MD_CACHE_MISS, "b served %s", got);
    md_cache_stats s;
    md_cache_get_stats(a, 0, &s);
    cr_assert_geq(s.l2.errors, 1, "the refused INCR is an L2 error");
    /* and the key counts generations again: the next write retires the next answer */
    md_cache_put(a, &k, &f, "{\"v\":2}", 7, -1, "application/json", 60000);
    cr_assert_eq(lookup_body(b, &k, &f, got, sizeof got), MD_CACHE_L2);
    cr_assert_str_eq(got, "{\"v\":2}");
    md_cache_invalidate(a, "AAPL", &after, 0, NULL, 0);
    cr_assert_eq(after.l2, 1, "INCR accepted again");
    cr_assert_eq(md_cache_clear(b, MD_CACHE_CLEAR_L1, NULL), 0);
    cr_assert_eq(lookup_body(b, &k, &f, got, sizeof got), MD_CACHE_MISS, "b served %s", got);

    /* a foreign epoch: clearing L2 still works (it is not "unreachable") and retires it all */
    md_cache_put(b, &k, &f, "{\"v\":3}", 7, -1, "application/json", 60000);
    redis_set(url, prefix, "epoch", "foreign");
    cr_assert_eq(lookup_body(a, &k, &f, got, sizeof got), MD_CACHE_MISS);
    md_cache_put(a, &k, &f, "{\"v\":4}", 7, -1, "application/json", 60000);
    md_error err;
    cr_assert_eq(md_cache_clear(a, MD_CACHE_CLEAR_L1 | MD_CACHE_CLEAR_L2, &err), 0, "%s", err.msg);
    cr_assert_eq(md_cache_clear(b, MD_CACHE_CLEAR_L1, NULL), 0);
    cr_assert_eq(lookup_body(b, &k, &f, got, sizeof got), MD_CACHE_MISS, "b served %s", got);
    md_cache_put(b, &k, &f, "{\"v\":5}", 7, -1, "application/json", 60000);
    cr_assert_eq(md_cache_clear(a, MD_CACHE_CLEAR_L1, NULL), 0);
    cr_assert_eq(lookup_body(a, &k, &f, got, sizeof got), MD_CACHE_L2, "L2 works again");
    cr_assert_str_eq(got, "{\"v\":5}");
    md_cache_free(a);
    md_cache_free(b);
}

Test(cache_l2, a_lease_is_held_by_one_agent_renewed_by_it_and_released)
{
    const char *url = redis_url();
    if (!url) cr_skip_test("no test Redis (run through ctest)");
    const char *prefix = unique_prefix("lease");
    md_cache *a = new_l2(url, prefix), *b = new_l2(url, prefix);
    cr_assert_eq(md_cache_lease(a, "job:1", 60000), 1);
    cr_assert_eq(md_cache_lease(b, "job:1", 60000), 0, "held by a");
    cr_assert_eq(md_cache_lease(a, "job:1", 60000), 0, "a claim is not a renewal");
    cr_assert_eq(md_cache_lease_renew(a, "job:1", 60000), 1);
    cr_assert_eq(md_cache_lease_renew(b, "job:1", 60000), 0, "not b's to renew");
    md_cache_lease_release(b, "job:1"); /* not b's to release either */
    cr_assert_eq(md_cache_lease(b, "job:1", 60000), 0);
    md_cache_lease_release(a, "job:1");
    cr_assert_eq(md_cache_lease(b, "job:1", 60000), 1, "free after a released it");
    /* an expired lease is anyone's, and its old holder cannot renew it */
    cr_assert_eq(md_cache_lease(a, "job:2", 50), 1);
    usleep(120000);
    cr_assert_eq(md_cache_lease_renew(a, "job:2", 60000), 0);
    cr_assert_eq(md_cache_lease(b, "job:2", 60000), 1);
    md_cache_free(a);
    md_cache_free(b);
    /* no Redis: -1, the caller does the work itself */
    md_cache_options o;
    md_cache_options_default(&o);
    md_cache *local = NULL;
    cr_assert_eq(md_cache_new(&o, &local, NULL), 0);
    cr_assert_eq(md_cache_lease(local, "job:1", 1000), -1);
    cr_assert_eq(md_cache_lease_renew(local, "job:1", 1000), -1);
    md_cache_free(local);
}

Test(cache_l2, unreachable_redis_degrades_and_answers_from_l1)
{
    /* a port nobody listens on: the breaker opens, lookups return at once */
    md_cache_options o;
    md_cache_options_default(&o);
    o.redis.url = "redis://127.0.0.1:1/0";
    o.redis.connect_timeout_ms = 50;
    o.redis.breaker_failures = 2;
    o.redis.breaker_cooldown_ms = 60000;
    md_cache *c = NULL;
    cr_assert_eq(md_cache_new(&o, &c, NULL), 0, "an unreachable Redis is not a start-up error");
    cr_assert_str_eq(md_cache_status(c), "degraded");
    md_cache_key k = key("AAPL", NULL);
    md_cache_entry *e;
    md_cache_fill f;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(md_cache_lookup(c, &k, -1, 0, &e, &f), MD_CACHE_MISS);
        cr_assert_eq(f.l2, 0);
    }
    md_cache_put(c, &k, &f, "x", 1, -1, "application/json", 60000);
    cr_assert_eq(md_cache_lookup(c, &k, -1, 0, &e, &f), MD_CACHE_L1);
    md_cache_entry_release(e);
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    cr_assert_str_eq(s.breaker, "open");
    cr_assert_str_eq(s.l2_state, "down");
    cr_assert_leq(s.l2.errors, 3, "an open breaker stops further attempts");
    cr_assert_eq(md_cache_clear(c, MD_CACHE_CLEAR_L2, NULL), MD_ECACHEDOWN); /* not the store */
    md_cache_free(c);
}

Test(cache_l2, bad_urls_are_config_errors)
{
    const char *bad[] = {"http://x", "redis://host:99999/0", "redis://host:1/abc", "rediss://h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        md_cache_options o;
        md_cache_options_default(&o);
        o.redis.url = bad[i];
        md_cache *c = NULL;
        md_error err;
        cr_assert_eq(md_cache_new(&o, &c, &err), MD_ECONFIG, "%s", bad[i]);
        cr_assert_null(c);
    }
}
