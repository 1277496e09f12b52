/* cache_redis.c - L2: answers in Redis (hiredis), shared by every agent on that Redis.
 *
 * Keys (P = the configured prefix):
 *   P epoch          L2 epoch; INCR clears the whole L2 at once (values of older epochs miss)
 *   P g:<SYM>        the symbol's generation; INCR on every committed write
 *   P p:<SYM>        /price answer      P h:<SYM>:<params>   /historical answer
 *   P inval          pub/sub channel: "i <agent> <SYM>" (symbol written), "c <agent>" (clear)
 * A value is "<epoch> <gen> <created_ms> <ttl_ms> <tag_off> <ctype>\n<body>"; it is a hit
 * only when epoch and gen equal the current ones, read in the same MGET round trip.
 *
 * Every command goes through the adapter's pool and breaker (cache/redis.h): while the
 * breaker is open L2 is skipped at once, and a slow Redis counts as a failing one.
 *
 * If an invalidation cannot be sent (Redis down during a write), L2 may hold answers older
 * than that write: a flush (new epoch) is owed and done before L2 is read again.
 *
 * The subscriber thread holds its own connection, reconnects with a short back-off, and
 * on every re-subscription tells the cache to clear L1 (invalidations may have been
 * missed while it was away). */
#include "cache/cache_int.h"
#include "cache/redis.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define SCAN_MAX_KEYS 100000

struct md_credis {
    md_redis *redis; /* connections, pool, breaker */
    char prefix[128];
    size_t plen;
    char chan[160];
    char agent[24];
    atomic_int need_flush;
    pthread_mutex_t settle_lock; /* one payer of an owed flush at a time */

    md_credis_remote_fn remote;
    void *rctx;
    pthread_t sub;
    int sub_started;
    md_waiter naps; /* the subscriber's reconnect pauses; its stop ends the thread */
    atomic_int subscribed, sub_rounds;

    atomic_uint_fast64_t hits, misses, errors;
    atomic_uint_fast64_t scan_keys, scan_bytes;
    atomic_int scanned;
};

/* -- commands -------------------------------------------------------------------------------- */

static redisReply *cmdv(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    if (!rep || c->err) {
        if (rep) freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* Counts an attempt that failed (not one the open breaker refused) as an L2 error. */
static int counted(md_credis *r, int rc)
{
    if (rc != 0 && rc != MD_EUNAVAIL) atomic_fetch_add(&r->errors, 1);
    return rc ? -1 : 0;
}

/* A pipeline on a pooled connection, through the breaker. 0 or -1. */
static int exec(md_credis *r, int n, const int argc[], const char **const argv[],
                const size_t *const lens[], redisReply *replies[])
{
    return counted(r, md_redis_exec(r->redis, n, argc, argv, lens, replies));
}

static void free_replies(redisReply **v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i]) freeReplyObject(v[i]);
}

static uint64_t reply_u64(const redisReply *rep)
{
    if (!rep) return 0;
    if (rep->type == REDIS_REPLY_INTEGER) return (uint64_t)rep->integer;
    if (rep->type == REDIS_REPLY_STRING) return strtoull(rep->str, NULL, 10);
    return 0;
}

/* -- the owed flush -------------------------------------------------------------------------- */

/* One command whose reply only needs to be an answer (not a failure). 0 or -1. */
static int run1(md_credis *r, int argc, const char **argv, const size_t *lens)
{
    const int ac[] = {argc};
    const char **const av[] = {argv};
    const size_t *const ls[] = {lens};
    redisReply *rep;
    if (exec(r, 1, ac, av, ls, &rep) != 0) return -1;
    int ok = rep->type != REDIS_REPLY_ERROR;
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* New epoch + "clear" to the other agents. 0 or -1. An epoch key holding a value that is
 * not ours (INCR refuses it) would leave L2 unusable - it could never be flushed again - so
 * it is replaced by the clock in milliseconds: above any count of clears, so every value
 * stored under an earlier epoch (or under the foreign value read as a number) misses. */
static int new_epoch(md_credis *r)
{
    char ek[160], msg[48];
    snprintf(ek, sizeof ek, "%sepoch", r->prefix);
    snprintf(msg, sizeof msg, "c %s", r->agent);
    const char *a1[] = {"INCR", ek}, *a2[] = {"PUBLISH", r->chan, msg};
    size_t l1[] = {4, strlen(ek)}, l2[] = {7, strlen(r->chan), strlen(msg)};
    int argc[] = {2, 3};
    const char **argv[] = {a1, a2};
    const size_t *lens[] = {l1, l2};
    redisReply *rep[2];
    if (exec(r, 2, argc, argv, lens, rep) != 0) return -1;
    int ok = rep[0]->type == REDIS_REPLY_INTEGER;
    free_replies(rep, 2);
    if (ok) return 0;
    atomic_fetch_add(&r->errors, 1);
    MD_WARN("cache", "redis: %s holds a value that is not an epoch; replaced", ek);
    char now[24];
    int nl = snprintf(now, sizeof now, "%lld", (long long)md_now_ms());
    const char *a3[] = {"SET", ek, now};
    size_t l3[] = {3, strlen(ek), (size_t)nl};
    return run1(r, 3, a3, l3);
}

/* Pays an owed flush; 0 when nothing is owed (any more). One thread pays it: two
 * concurrent payers would move the epoch twice, and an answer stored between the two
 * (with the first new epoch) would never be a hit. */
static int settle(md_credis *r)
{
    if (!atomic_load(&r->need_flush)) return 0;
    pthread_mutex_lock(&r->settle_lock);
    int rc = 0;
    if (atomic_load(&r->need_flush)) { /* not paid while we waited */
        rc = new_epoch(r);
        if (rc == 0) {
            atomic_store(&r->need_flush, 0);
            MD_INFO("cache", "redis: L2 flushed after missed invalidations");
        }
    }
    pthread_mutex_unlock(&r->settle_lock);
    return rc;
}

/* -- reads and writes ------------------------------------------------------------------------ */

int md_cache__redis_get(md_credis *r, const md_cache_key *k, int64_t max_age_ms,
                        md_cache_fill *fill, md_l2_value *v)
{
    if (settle(r) != 0) return -1;
    char ek[160], gk[200], vk[400];
    int el = snprintf(ek, sizeof ek, "%sepoch", r->prefix);
    int gl = snprintf(gk, sizeof gk, "%sg:%s", r->prefix, k->symbol);
    int vl = snprintf(vk, sizeof vk, "%s%s", r->prefix, k->s);
    const char *a[4] = {"MGET", ek, gk, vk};
    size_t l[4] = {4, (size_t)el, (size_t)gl, (size_t)vl};
    int argc[] = {4};
    const char **argv[] = {a};
    const size_t *lens[] = {l};
    redisReply *rep;
    if (exec(r, 1, argc, argv, lens, &rep) != 0) return -1;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        freeReplyObject(rep);
        return -1;
    }
    fill->l2 = 1;
    fill->epoch = reply_u64(rep->element[0]);
    fill->gen = reply_u64(rep->element[1]);
    redisReply *val = rep->element[2];
    if (val->type == REDIS_REPLY_STRING) {
        uint64_t e = 0, g = 0;
        long long created = 0, ttl = 0;
        long tag = -1;
        char ct = 0;
        int hl = 0;
        const char *nl = memchr(val->str, '\n', val->len);
        /* the header is ours (md_cache__redis_set writes it); a foreign value fails the count, the
         * newline position or the epoch and generation, so no overflow goes unnoticed */
        if (nl &&
            /* NOLINTNEXTLINE(cert-err34-c) */
            sscanf(val->str, "%" SCNu64 " %" SCNu64 " %lld %lld %ld %c%n", &e, &g, &created, &ttl,
                   &tag, &ct, &hl) == 6 &&
            val->str + hl == nl && e == fill->epoch && g == fill->gen) {
            int64_t age = md_now_ms() - created;
            if (max_age_ms < 0 || age <= max_age_ms) {
                v->created_ms = created;
                v->ttl_ms = ttl;
                v->tag_off = tag;
                v->ctype = ct;
                v->body = nl + 1;
                v->len = val->len - (size_t)(nl + 1 - val->str);
                v->reply = rep;
                atomic_fetch_add(&r->hits, 1);
                return 1;
            }
        }
    }
    freeReplyObject(rep);
    atomic_fetch_add(&r->misses, 1);
    return 0;
}

void md_cache__redis_value_free(md_l2_value *v)
{
    if (v && v->reply) freeReplyObject(v->reply);
    if (v) v->reply = NULL;
}

int md_cache__redis_set(md_credis *r, const md_cache_key *k, const md_cache_fill *fill,
                        const char *body, size_t len, long tag_off, char ctype, int64_t ttl_ms)
{
    if (!fill->l2 || ttl_ms <= 0 || atomic_load(&r->need_flush)) return 0;
    char head[128], vk[400], px[24];
    int hl = snprintf(head, sizeof head, "%" PRIu64 " %" PRIu64 " %lld %lld %ld %c\n", fill->epoch,
                      fill->gen, (long long)md_now_ms(), (long long)ttl_ms, tag_off, ctype);
    char *val = md_malloc((size_t)hl + len);
    memcpy(val, head, (size_t)hl);
    memcpy(val + hl, body, len);
    /* patches two bytes inside the body ("l1" -> "l2"), no string is made here */
    if (tag_off >= 0 && (size_t)tag_off + 2 <= len)
        memcpy(val + hl + tag_off, "l2", 2); // NOLINT(bugprone-not-null-terminated-result)
    int vl = snprintf(vk, sizeof vk, "%s%s", r->prefix, k->s);
    int pl = snprintf(px, sizeof px, "%lld", (long long)ttl_ms);
    const char *a[5] = {"SET", vk, val, "PX", px};
    size_t l[5] = {3, (size_t)vl, (size_t)hl + len, 2, (size_t)pl};
    int argc[] = {5};
    const char **argv[] = {a};
    const size_t *lens[] = {l};
    redisReply *rep;
    int rc = exec(r, 1, argc, argv, lens, &rep);
    md_free(val);
    if (rc == 0) freeReplyObject(rep);
    return rc;
}

int md_cache__redis_invalidate(md_credis *r, const char *symbol, md_cache_fill *after)
{
    after->l2 = 0;
    char ek[160], gk[200], msg[64];
    snprintf(ek, sizeof ek, "%sepoch", r->prefix);
    snprintf(gk, sizeof gk, "%sg:%s", r->prefix, symbol);
    snprintf(msg, sizeof msg, "i %s %s", r->agent, symbol);
    const char *a1[] = {"GET", ek}, *a2[] = {"INCR", gk}, *a3[] = {"PUBLISH", r->chan, msg};
    size_t l1[] = {3, strlen(ek)}, l2[] = {4, strlen(gk)}, l3[] = {7, strlen(r->chan), strlen(msg)};
    int argc[] = {2, 2, 3};
    const char **argv[] = {a1, a2, a3};
    const size_t *lens[] = {l1, l2, l3};
    redisReply *rep[3];
    int rc = exec(r, 3, argc, argv, lens, rep);
    if (rc != 0) {
        atomic_store(&r->need_flush, 1);
        return -1;
    }
    int counted_up = rep[1]->type == REDIS_REPLY_INTEGER;
    if (counted_up && !atomic_load(&r->need_flush)) {
        after->l2 = 1;
        after->epoch = reply_u64(rep[0]);
        after->gen = (uint64_t)rep[1]->integer;
    }
    free_replies(rep, 3);
    if (!counted_up) {
        /* INCR refused: the generation key holds a value that is not ours (read as 0 by a
         * lookup), so the symbol's answers in L2 would keep matching after this write. Move
         * L2 to a new epoch first (a lookup pays the flush before it reads), then drop the
         * key so that its generations count again. */
        atomic_fetch_add(&r->errors, 1);
        MD_WARN("cache", "redis: %s holds a value that is not a generation; L2 flushed", gk);
        atomic_store(&r->need_flush, 1);
        settle(r);
        const char *a4[] = {"DEL", gk};
        size_t l4[] = {3, strlen(gk)};
        run1(r, 2, a4, l4);
    }
    return 0;
}

int md_cache__redis_lease(md_credis *r, const char *name, int64_t ttl_ms)
{
    char k[300], px[24];
    int kl = snprintf(k, sizeof k, "%slease:%s", r->prefix, name);
    if (kl < 0 || (size_t)kl >= sizeof k) return -1;
    int pl = snprintf(px, sizeof px, "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 1));
    const char *a[6] = {"SET", k, r->agent, "NX", "PX", px};
    size_t l[6] = {3, (size_t)kl, strlen(r->agent), 2, 2, (size_t)pl};
    int argc[] = {6};
    const char **argv[] = {a};
    const size_t *lens[] = {l};
    redisReply *rep;
    if (exec(r, 1, argc, argv, lens, &rep) != 0) return -1;
    int rc = rep->type == REDIS_REPLY_STATUS ? 1 : rep->type == REDIS_REPLY_NIL ? 0 : -1;
    freeReplyObject(rep);
    return rc;
}

/* Scripts that touch a lease only while this agent holds it (run by SHA1, cache/redis.h). */
static md_redis_script lease_renew = MD_REDIS_SCRIPT(
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
    "else return 0 end");
static md_redis_script lease_release = MD_REDIS_SCRIPT(
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end");

int md_cache__redis_lease_op(md_credis *r, const char *name, int64_t ttl_ms, int release_it)
{
    char k[300], px[24];
    int kl = snprintf(k, sizeof k, "%slease:%s", r->prefix, name);
    if (kl < 0 || (size_t)kl >= sizeof k) return -1;
    int pl = snprintf(px, sizeof px, "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 1));
    const char *a[3] = {k, r->agent, px};
    size_t l[3] = {(size_t)kl, strlen(r->agent), (size_t)pl};
    redisReply *rep;
    int rc = md_redis_eval(r->redis, release_it ? &lease_release : &lease_renew, 1,
                           release_it ? 2 : 3, a, l, &rep);
    if (counted(r, rc) != 0) return -1;
    rc = rep->type == REDIS_REPLY_INTEGER ? (rep->integer > 0) : -1;
    if (rc < 0) MD_WARN("cache", "lease script failed: %.200s", rep->str ? rep->str : "?");
    freeReplyObject(rep);
    return rc;
}

/* Visits the prefix's answer keys ("P p:*", "P h:*"), at most SCAN_MAX_KEYS of them;
 * with del they are UNLINKed, else counted with their sizes. */
static int walk(md_credis *r, int del, uint64_t *nkeys, uint64_t *nbytes)
{
    redisContext *c = md_redis_acquire(r->redis);
    if (!c) return -1;
    /* MATCH pattern: the prefix with glob characters escaped, then [ph]:* */
    char pat[300];
    size_t n = 0;
    for (size_t i = 0; i < r->plen && n + 3 < sizeof pat - 8; i++) {
        if (strchr("*?[]\\", r->prefix[i])) pat[n++] = '\\';
        pat[n++] = r->prefix[i];
    }
    memcpy(pat + n, "[ph]:*", 7);
    char cursor[32] = "0";
    uint64_t keys = 0, bytes = 0;
    int ok = 1;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pat, "COUNT", "1000"};
        size_t lens[6] = {4, strlen(cursor), 5, strlen(pat), 5, 4};
        redisReply *rep = cmdv(c, 6, argv, lens);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            if (rep) freeReplyObject(rep);
            ok = 0;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str ? rep->element[0]->str : "0");
        redisReply *ks = rep->element[1];
        for (size_t i = 0; i < ks->elements; i++) {
            const char *a[2] = {del ? "UNLINK" : "STRLEN", ks->element[i]->str};
            size_t l[2] = {strlen(a[0]), ks->element[i]->len};
            if (redisAppendCommandArgv(c, 2, a, l) != REDIS_OK) ok = 0;
        }
        for (size_t i = 0; ok && i < ks->elements; i++) {
            void *x = NULL;
            if (redisGetReply(c, &x) != REDIS_OK || !x) {
                ok = 0;
                break;
            }
            keys++;
            if (!del) bytes += reply_u64(x) + ks->element[i]->len;
            freeReplyObject(x);
        }
        freeReplyObject(rep);
    } while (ok && strcmp(cursor, "0") != 0 && keys < SCAN_MAX_KEYS);
    if (!ok) atomic_fetch_add(&r->errors, 1);
    md_redis_release(r->redis, c, ok);
    if (!ok) return -1;
    if (nkeys) *nkeys = keys;
    if (nbytes) *nbytes = bytes;
    return 0;
}

int md_cache__redis_clear(md_credis *r, md_error *err)
{
    if (new_epoch(r) != 0) return md_error_set(err, MD_ECACHEDOWN, "redis is unreachable");
    atomic_store(&r->need_flush, 0);
    walk(r, 1, NULL, NULL); /* frees the memory; correctness came from the epoch */
    atomic_store(&r->scan_keys, 0);
    atomic_store(&r->scan_bytes, 0);
    return 0;
}

int md_cache__redis_scan(md_credis *r, uint64_t *keys, uint64_t *bytes)
{
    uint64_t k = 0, b = 0;
    if (walk(r, 0, &k, &b) != 0) return -1;
    atomic_store(&r->scan_keys, k);
    atomic_store(&r->scan_bytes, b);
    atomic_store(&r->scanned, 1);
    if (keys) *keys = k;
    if (bytes) *bytes = b;
    return 0;
}

void md_cache__redis_stats(md_credis *r, md_cache_stats *out)
{
    out->l2.hits = atomic_load(&r->hits);
    out->l2.misses = atomic_load(&r->misses);
    out->l2.errors = atomic_load(&r->errors);
    out->l2.entries = atomic_load(&r->scan_keys);
    out->l2.bytes = atomic_load(&r->scan_bytes);
    out->l2_sampled = atomic_load(&r->scanned);
    md_redis_state st = md_redis_get_state(r->redis);
    out->breaker = md_redis_state_name(st);
    out->subscribed = atomic_load(&r->subscribed);
    out->l2_state = st == MD_REDIS_CLOSED && out->subscribed ? "ok" : "down";
}

int md_cache__redis_healthy(md_credis *r)
{
    return md_redis_get_state(r->redis) == MD_REDIS_CLOSED && atomic_load(&r->subscribed);
}

/* -- the subscriber -------------------------------------------------------------------------- */

static void on_message(md_credis *r, redisReply *rep)
{
    const char *msg;
    size_t len;
    if (!md_redis_message(rep, NULL, &msg, &len) || len < 2) return;
    char op, agent[32] = "", sym[64] = "";
    if (sscanf(msg, "%c %31s %63s", &op, agent, sym) < 2) return;
    if (strcmp(agent, r->agent) == 0) return; /* our own */
    if (op == 'i' && sym[0])
        r->remote(r->rctx, sym);
    else if (op == 'c')
        r->remote(r->rctx, NULL);
}

static void nap(md_credis *r, int ms)
{
    md_waiter_wait_until(&r->naps, md_mono_ms() + ms);
}

static void *sub_main(void *arg)
{
    md_credis *r = arg;
    int64_t next_scan = 0;
    while (!md_waiter_stopped(&r->naps)) {
        md_error err;
        redisContext *c = md_redis_subscribe(r->redis, r->chan, &err);
        if (!c) {
            nap(r, 250);
            continue;
        }
        /* everything we cached before this point may have missed invalidations */
        if (atomic_fetch_add(&r->sub_rounds, 1) > 0) {
            MD_INFO("cache", "redis subscription restored url=%s; L1 cleared",
                    md_redis_safe_url(r->redis));
            r->remote(r->rctx, NULL);
        }
        atomic_store(&r->subscribed, 1);
        int alive = 1;
        while (alive && !md_waiter_stopped(&r->naps)) {
            void *m = NULL;
            while (redisGetReplyFromReader(c, &m) == REDIS_OK && m) {
                on_message(r, m);
                freeReplyObject(m);
                m = NULL;
            }
            struct pollfd pfd = {c->fd, POLLIN, 0};
            int pr = poll(&pfd, 1, 100);
            if (pr > 0 && redisBufferRead(c) != REDIS_OK) alive = 0;
            if (pr < 0 && errno != EINTR) alive = 0;
            settle(r);
            int64_t now = md_mono_ms();
            if (now >= next_scan) { /* keeps the l2 gauges roughly current */
                next_scan = now + 10000;
                md_cache__redis_scan(r, NULL, NULL);
            }
        }
        atomic_store(&r->subscribed, 0);
        redisFree(c);
        if (!md_waiter_stopped(&r->naps)) {
            md_redis_report(r->redis, 0);
            MD_WARN("cache", "redis subscription lost url=%s; reconnecting",
                    md_redis_safe_url(r->redis));
            nap(r, 100);
        }
    }
    return NULL;
}

/* -- life cycle ------------------------------------------------------------------------------ */

int md_cache__redis_new(const md_cache_options *opt, md_credis_remote_fn remote, void *ctx,
                        md_credis **out, md_error *err)
{
    md_redis_options ro = opt->redis;
    if (!ro.log_module) ro.log_module = "cache";
    md_redis *redis;
    int rc = md_redis_new(&ro, &redis, err);
    if (rc) return rc;
    md_credis *r = md_calloc(1, sizeof *r);
    r->redis = redis;
    pthread_mutex_init(&r->settle_lock, NULL);
    md_waiter_init(&r->naps, NULL);
    snprintf(r->prefix, sizeof r->prefix, "%s", opt->prefix ? opt->prefix : "mdagent:");
    r->plen = strlen(r->prefix);
    snprintf(r->chan, sizeof r->chan, "%sinval", r->prefix);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(r->agent, sizeof r->agent, "%08x%06x",
             (unsigned)((uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec),
             (unsigned)getpid() & 0xffffff);
    r->remote = remote;
    r->rctx = ctx;
    if (pthread_create(&r->sub, NULL, sub_main, r) == 0) {
        r->sub_started = 1;
        pthread_setname_np(r->sub, "cache-redis");
    }
    /* give the first subscription a moment, so a healthy start is not reported degraded */
    int cto = ro.connect_timeout_ms > 0 ? ro.connect_timeout_ms : 200;
    for (int i = 0; i < cto / 10 + 5 && !atomic_load(&r->subscribed); i++) usleep(10000);
    int zero = 0; /* not subscribed yet: the first subscription must clear L1 too */
    if (atomic_compare_exchange_strong(&r->sub_rounds, &zero, 1))
        MD_WARN("cache", "redis not reachable at start url=%s; serving from L1 and the store",
                md_redis_safe_url(r->redis));
    else
        MD_INFO("cache", "redis connected url=%s prefix=%s", md_redis_safe_url(r->redis),
                r->prefix);
    *out = r;
    return 0;
}

void md_cache__redis_free(md_credis *r)
{
    if (!r) return;
    md_waiter_stop(&r->naps);
    if (r->sub_started) pthread_join(r->sub, NULL);
    md_waiter_deinit(&r->naps);
    md_redis_free(r->redis);
    pthread_mutex_destroy(&r->settle_lock);
    md_free(r);
}
