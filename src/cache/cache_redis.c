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
 * Breaker (every command goes through acquire/release):
 *
 *   CLOSED ──N consecutive failures──> OPEN ──cool-down──> HALF_OPEN (one trial command)
 *     ^                                  ^                     │
 *     └──────────── trial succeeds ──────┼─────────────────────┤
 *                                        └── trial fails ──────┘
 * While OPEN every call fails at once (no waiting on a dead server). A failure drops the
 * idle connections too (after a restart they are all dead). Commands have short socket
 * timeouts, so a slow Redis is a failing Redis.
 *
 * If an invalidation cannot be sent (Redis down during a write), L2 may hold answers older
 * than that write: a flush (new epoch) is owed and done before L2 is read again.
 *
 * The subscriber thread holds its own connection, reconnects with a short back-off, and
 * on every re-subscription tells the cache to clear L1 (invalidations may have been
 * missed while it was away). */
#include "cache/cache_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

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

#define POOL_MAX 64
#define SCAN_MAX_KEYS 100000

enum { CLOSED, OPEN, HALF_OPEN };
static const char *breaker_names[] = {"closed", "open", "half_open"};

struct md_credis {
    char host[256];
    int port, db;
    char *user, *pass;
    char url_redacted[512];
    char prefix[128];
    size_t plen;
    char chan[160];
    char agent[24];
    struct timeval connect_tv, cmd_tv;

    pthread_mutex_t lock; /* pool and breaker */
    redisContext *idle[POOL_MAX];
    int nidle, pool_max;
    int state, failures, trial;
    int64_t opened_ms;
    int breaker_failures, cooldown_ms;
    atomic_int need_flush;

    md_credis_remote_fn remote;
    void *rctx;
    pthread_t sub;
    int sub_started;
    atomic_int stop, subscribed, sub_rounds;

    atomic_uint_fast64_t hits, misses, errors;
    atomic_uint_fast64_t scan_keys, scan_bytes;
    atomic_int scanned;
};

/* -- URL ------------------------------------------------------------------------------------- */

static int parse_url(md_credis *r, const char *url, md_error *err)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return md_error_set(err, MD_ECONFIG, "redis: '%.40s...' is not redis://host:port/db",
                            strncmp(p, "rediss://", 9) == 0 ? "rediss://" : "");
    p += 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (colon > p) r->user = md_strndup(p, (size_t)(colon - p));
            r->pass = md_strndup(colon + 1, (size_t)(at - colon - 1));
        } else {
            r->pass = md_strndup(p, (size_t)(at - p));
        }
        if (r->pass) md_log_add_secret(r->pass);
        p = at + 1;
    }
    const char *hend;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend) return md_error_set(err, MD_ECONFIG, "redis: unclosed '[' in the host");
        snprintf(r->host, sizeof r->host, "%.*s", (int)(hend - p - 1), p + 1);
        hend++;
    } else {
        hend = p + strcspn(p, ":/");
        snprintf(r->host, sizeof r->host, "%.*s", (int)(hend - p), p);
    }
    if (!r->host[0]) snprintf(r->host, sizeof r->host, "127.0.0.1");
    r->port = 6379;
    p = hend;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return md_error_set(err, MD_ECONFIG, "redis: bad port in the URL");
        r->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 100000)
            return md_error_set(err, MD_ECONFIG, "redis: the path must be a database number");
        r->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        return md_error_set(err, MD_ECONFIG, "redis: unexpected '%.20s' in the URL", p);
    }
    md_log_redact(url, r->url_redacted, sizeof r->url_redacted);
    return 0;
}

/* -- connections and the breaker ------------------------------------------------------------- */

static redisReply *cmdv(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    if (!rep || c->err) {
        if (rep) freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

static redisContext *dial(md_credis *r)
{
    redisContext *c = redisConnectWithTimeout(r->host, r->port, r->connect_tv);
    if (!c || c->err) {
        MD_DEBUG("cache", "redis connect failed url=%s err=%s", r->url_redacted,
                 c ? c->errstr : "no memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, r->cmd_tv);
    redisEnableKeepAlive(c);
    if (r->pass) {
        const char *argv[3] = {"AUTH", r->user ? r->user : r->pass, r->pass};
        size_t lens[3] = {4, strlen(argv[1]), strlen(r->pass)};
        redisReply *rep = cmdv(c, r->user ? 3 : 2, argv, lens);
        int ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (rep && !ok) MD_WARN("cache", "redis AUTH refused url=%s", r->url_redacted);
        if (rep) freeReplyObject(rep);
        if (!ok) return redisFree(c), NULL;
    }
    if (r->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        redisReply *rep = cmdv(c, 2, argv, lens);
        int ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (rep) freeReplyObject(rep);
        if (!ok) return redisFree(c), NULL;
    }
    return c;
}

static void drop_idle_locked(md_credis *r, redisContext **out, int *nout)
{
    *nout = r->nidle;
    memcpy(out, r->idle, (size_t)r->nidle * sizeof *out);
    r->nidle = 0;
}

static void release(md_credis *r, redisContext *c, int ok);

/* A connection to use now, or NULL when the breaker is open or Redis cannot be reached.
 * *reused tells whether it came from the pool (it may have died since). */
static redisContext *acquire2(md_credis *r, int *reused)
{
    *reused = 0;
    pthread_mutex_lock(&r->lock);
    if (r->state == OPEN) {
        if (md_mono_ms() - r->opened_ms < r->cooldown_ms) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        r->state = HALF_OPEN;
        r->trial = 1;
    } else if (r->state == HALF_OPEN) {
        pthread_mutex_unlock(&r->lock);
        return NULL; /* the trial is in flight */
    }
    redisContext *c = r->nidle ? r->idle[--r->nidle] : NULL;
    pthread_mutex_unlock(&r->lock);
    if (c) {
        *reused = 1;
    } else if (!(c = dial(r))) {
        release(r, NULL, 0);
        return NULL;
    }
    return c;
}

static redisContext *acquire(md_credis *r)
{
    int reused;
    return acquire2(r, &reused);
}

static void release(md_credis *r, redisContext *c, int ok)
{
    redisContext *dead[POOL_MAX];
    int ndead = 0;
    pthread_mutex_lock(&r->lock);
    if (ok) {
        r->failures = 0;
        if (r->state != CLOSED) {
            MD_INFO("cache", "redis reachable again url=%s", r->url_redacted);
            r->state = CLOSED;
        }
        if (c && r->nidle < r->pool_max) r->idle[r->nidle++] = c, c = NULL;
    } else {
        atomic_fetch_add(&r->errors, 1);
        r->failures++;
        if (r->state == HALF_OPEN || (r->state == CLOSED && r->failures >= r->breaker_failures)) {
            if (r->state == CLOSED)
                MD_WARN("cache", "redis unreachable, breaker open url=%s", r->url_redacted);
            r->state = OPEN;
            r->opened_ms = md_mono_ms();
        }
        drop_idle_locked(r, dead, &ndead);
    }
    pthread_mutex_unlock(&r->lock);
    if (c) redisFree(c);
    for (int i = 0; i < ndead; i++) redisFree(dead[i]);
}

/* Runs a pipeline of n commands on c; replies[] receives them (free each). 0 or -1. */
static int pipeline(md_credis *r, redisContext *c, int n, int argc[], const char **argv[],
                    const size_t *lens[], redisReply *replies[])
{
    for (int i = 0; i < n; i++) replies[i] = NULL;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(c, argc[i], argv[i], lens[i]) != REDIS_OK) return -1;
    for (int i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK || !rep) {
            for (int j = 0; j < i; j++) freeReplyObject(replies[j]), replies[j] = NULL;
            return -1;
        }
        replies[i] = rep;
    }
    return 0;
}

/* Runs a pipeline on a pooled connection, through the breaker. A pooled connection that
 * turns out dead (Redis restarted) is retried once on a fresh one before it counts as a
 * failure. 0 or -1. */
static int exec(md_credis *r, int n, int argc[], const char **argv[], const size_t *lens[],
                redisReply *replies[])
{
    int reused;
    redisContext *c = acquire2(r, &reused);
    if (!c) return -1;
    int rc = pipeline(r, c, n, argc, argv, lens, replies);
    if (rc != 0 && reused) {
        redisFree(c);
        if (!(c = dial(r))) {
            release(r, NULL, 0);
            return -1;
        }
        rc = pipeline(r, c, n, argc, argv, lens, replies);
    }
    release(r, c, rc == 0);
    return rc;
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

/* New epoch + "clear" to the other agents. 0 or -1. */
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
    return ok ? 0 : -1;
}

/* Pays an owed flush; 0 when nothing is owed (any more). */
static int settle(md_credis *r)
{
    if (!atomic_load(&r->need_flush)) return 0;
    int rc = new_epoch(r);
    if (rc == 0) {
        atomic_store(&r->need_flush, 0);
        MD_INFO("cache", "redis: L2 flushed after missed invalidations");
    }
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
    if (rep[1]->type == REDIS_REPLY_INTEGER && !atomic_load(&r->need_flush)) {
        after->l2 = 1;
        after->epoch = reply_u64(rep[0]);
        after->gen = (uint64_t)rep[1]->integer;
    }
    free_replies(rep, 3);
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

/* Scripts that touch a lease only while this agent holds it. */
static const char LEASE_RENEW_LUA[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
    "else return 0 end";
static const char LEASE_RELEASE_LUA[] = "if redis.call('get', KEYS[1]) == ARGV[1] then return "
                                        "redis.call('del', KEYS[1]) else return 0 end";

int md_cache__redis_lease_op(md_credis *r, const char *name, int64_t ttl_ms, int release_it)
{
    char k[300], px[24];
    int kl = snprintf(k, sizeof k, "%slease:%s", r->prefix, name);
    if (kl < 0 || (size_t)kl >= sizeof k) return -1;
    int pl = snprintf(px, sizeof px, "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 1));
    const char *script = release_it ? LEASE_RELEASE_LUA : LEASE_RENEW_LUA;
    const char *a[6] = {"EVAL", script, "1", k, r->agent, px};
    size_t l[6] = {4, strlen(script), 1, (size_t)kl, strlen(r->agent), (size_t)pl};
    int argc[] = {release_it ? 5 : 6};
    const char **argv[] = {a};
    const size_t *lens[] = {l};
    redisReply *rep;
    if (exec(r, 1, argc, argv, lens, &rep) != 0) return -1;
    int rc = rep->type == REDIS_REPLY_INTEGER ? (rep->integer > 0) : -1;
    freeReplyObject(rep);
    return rc;
}

/* Visits the prefix's answer keys ("P p:*", "P h:*"), at most SCAN_MAX_KEYS of them;
 * with del they are UNLINKed, else counted with their sizes. */
static int walk(md_credis *r, int del, uint64_t *nkeys, uint64_t *nbytes)
{
    redisContext *c = acquire(r);
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
    release(r, c, ok);
    if (!ok) return -1;
    if (nkeys) *nkeys = keys;
    if (nbytes) *nbytes = bytes;
    return 0;
}

int md_cache__redis_clear(md_credis *r, md_error *err)
{
    if (new_epoch(r) != 0) return md_error_set(err, MD_EUNAVAIL, "redis is unreachable");
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
    pthread_mutex_lock(&r->lock);
    int st = r->state;
    pthread_mutex_unlock(&r->lock);
    out->breaker = breaker_names[st];
    out->subscribed = atomic_load(&r->subscribed);
    out->l2_state = st == CLOSED && out->subscribed ? "ok" : "down";
}

int md_cache__redis_healthy(md_credis *r)
{
    pthread_mutex_lock(&r->lock);
    int st = r->state;
    pthread_mutex_unlock(&r->lock);
    return st == CLOSED && atomic_load(&r->subscribed);
}

/* -- the subscriber -------------------------------------------------------------------------- */

static void on_message(md_credis *r, redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3) return;
    redisReply *kind = rep->element[0], *msg = rep->element[2];
    if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0) return;
    if (msg->type != REDIS_REPLY_STRING || msg->len < 2) return;
    char op, agent[32] = "", sym[64] = "";
    if (sscanf(msg->str, "%c %31s %63s", &op, agent, sym) < 2) return;
    if (strcmp(agent, r->agent) == 0) return; /* our own */
    if (op == 'i' && sym[0])
        r->remote(r->rctx, sym);
    else if (op == 'c')
        r->remote(r->rctx, NULL);
}

static void nap(md_credis *r, int ms)
{
    for (int i = 0; i < ms / 20 && !atomic_load(&r->stop); i++) usleep(20000);
}

static void *sub_main(void *arg)
{
    md_credis *r = arg;
    int64_t next_scan = 0;
    while (!atomic_load(&r->stop)) {
        redisContext *c = dial(r);
        if (!c) {
            nap(r, 250);
            continue;
        }
        const char *argv[2] = {"SUBSCRIBE", r->chan};
        size_t lens[2] = {9, strlen(r->chan)};
        redisReply *rep = cmdv(c, 2, argv, lens);
        if (!rep || rep->type != REDIS_REPLY_ARRAY) {
            if (rep) freeReplyObject(rep);
            redisFree(c);
            nap(r, 250);
            continue;
        }
        freeReplyObject(rep);
        /* everything we cached before this point may have missed invalidations */
        if (atomic_fetch_add(&r->sub_rounds, 1) > 0) {
            MD_INFO("cache", "redis subscription restored url=%s; L1 cleared", r->url_redacted);
            r->remote(r->rctx, NULL);
        }
        atomic_store(&r->subscribed, 1);
        int alive = 1;
        while (alive && !atomic_load(&r->stop)) {
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
        if (!atomic_load(&r->stop)) {
            MD_WARN("cache", "redis subscription lost url=%s; reconnecting", r->url_redacted);
            nap(r, 100);
        }
    }
    return NULL;
}

/* -- life cycle ------------------------------------------------------------------------------ */

int md_cache__redis_new(const md_cache_options *opt, md_credis_remote_fn remote, void *ctx,
                        md_credis **out, md_error *err)
{
    md_credis *r = md_calloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    int rc = parse_url(r, opt->redis_url, err);
    if (rc) {
        md_cache__redis_free(r);
        return rc;
    }
    snprintf(r->prefix, sizeof r->prefix, "%s", opt->prefix ? opt->prefix : "mdagent:");
    r->plen = strlen(r->prefix);
    snprintf(r->chan, sizeof r->chan, "%sinval", r->prefix);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(r->agent, sizeof r->agent, "%08x%06x",
             (unsigned)((uint64_t)tv.tv_sec * 1000003u ^ (uint64_t)tv.tv_usec),
             (unsigned)getpid() & 0xffffff);
    int cto = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : 200;
    int to = opt->timeout_ms > 0 ? opt->timeout_ms : 100;
    r->connect_tv = (struct timeval){cto / 1000, (cto % 1000) * 1000};
    r->cmd_tv = (struct timeval){to / 1000, (to % 1000) * 1000};
    r->pool_max = opt->pool_size > 0 ? (opt->pool_size < POOL_MAX ? opt->pool_size : POOL_MAX) : 8;
    r->breaker_failures = opt->breaker_failures > 0 ? opt->breaker_failures : 3;
    r->cooldown_ms = opt->breaker_cooldown_ms > 0 ? opt->breaker_cooldown_ms : 2000;
    r->remote = remote;
    r->rctx = ctx;
    if (pthread_create(&r->sub, NULL, sub_main, r) == 0) {
        r->sub_started = 1;
        pthread_setname_np(r->sub, "cache-redis");
    }
    /* give the first subscription a moment, so a healthy start is not reported degraded */
    for (int i = 0; i < cto / 10 + 5 && !atomic_load(&r->subscribed); i++) usleep(10000);
    int zero = 0; /* not subscribed yet: the first subscription must clear L1 too */
    if (atomic_compare_exchange_strong(&r->sub_rounds, &zero, 1))
        MD_WARN("cache", "redis not reachable at start url=%s; serving from L1 and the store",
                r->url_redacted);
    else
        MD_INFO("cache", "redis connected url=%s prefix=%s", r->url_redacted, r->prefix);
    *out = r;
    return 0;
}

void md_cache__redis_free(md_credis *r)
{
    if (!r) return;
    atomic_store(&r->stop, 1);
    if (r->sub_started) pthread_join(r->sub, NULL);
    for (int i = 0; i < r->nidle; i++) redisFree(r->idle[i]);
    pthread_mutex_destroy(&r->lock);
    md_free(r->user);
    md_free(r->pass);
    md_free(r);
}
