/* redis.c - connections, the breaker, the pool, pub/sub and scripts (see redis.h). This is
 * where hiredis connection errors become MD_E* codes; the cache and the relay only issue
 * commands on the connections handed out here. */
#include "cache/redis.h"

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define POOL_MAX 64

struct md_redis {
    md_redis_url url;
    const char *mod; /* log module */
    struct timeval connect_tv, cmd_tv;
    int64_t (*clock)(void);

    pthread_mutex_t lock; /* the pool and the breaker */
    redisContext *idle[POOL_MAX];
    int nidle, pool_max;
    md_redis_state state;
    int failures, threshold;
    int64_t opened_ms, cooldown_ms;
};

static const char *const state_names[] = {"closed", "open", "half_open"};

void md_redis_options_default(md_redis_options *o)
{
    md_redis_options_from_config(o, md_config_defaults());
    o->url = NULL;
}

void md_redis_options_from_config(md_redis_options *o, const md_config *cfg)
{
    memset(o, 0, sizeof *o);
    o->url = cfg->redis;
    o->connect_timeout_ms = (int)cfg->redis_connect_timeout_ms;
    o->timeout_ms = (int)cfg->redis_timeout_ms;
    o->pool_size = (int)cfg->redis_pool_size;
    o->breaker_failures = (int)cfg->redis_breaker_failures;
    o->breaker_cooldown_ms = (int)cfg->redis_breaker_cooldown_ms;
}

static struct timeval tv_of(int ms)
{
    return (struct timeval){ms / 1000, (ms % 1000) * 1000};
}

int md_redis_new(const md_redis_options *o, md_redis **out, md_error *err)
{
    md_redis_url u;
    int rc = md_redis_url_parse(o->url, &u, err);
    if (rc) {
        md_error_prefix(err, "redis");
        return rc;
    }
    md_redis *r = md_calloc(1, sizeof *r);
    r->url = u;
    if (u.password[0]) md_log_add_secret(u.password);
    r->mod = o->log_module ? o->log_module : "redis";
    md_redis_options d; /* what a field left 0 means */
    md_redis_options_default(&d);
    r->connect_tv = tv_of(o->connect_timeout_ms > 0 ? o->connect_timeout_ms : d.connect_timeout_ms);
    r->cmd_tv = tv_of(o->timeout_ms > 0 ? o->timeout_ms : d.timeout_ms);
    r->clock = o->clock_ms ? o->clock_ms : md_mono_ms;
    r->pool_max =
        o->pool_size > 0 ? (o->pool_size < POOL_MAX ? o->pool_size : POOL_MAX) : d.pool_size;
    r->threshold = o->breaker_failures > 0 ? o->breaker_failures : d.breaker_failures;
    r->cooldown_ms = o->breaker_cooldown_ms > 0 ? o->breaker_cooldown_ms : d.breaker_cooldown_ms;
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return 0;
}

void md_redis_free(md_redis *r)
{
    if (!r) return;
    for (int i = 0; i < r->nidle; i++) redisFree(r->idle[i]);
    pthread_mutex_destroy(&r->lock);
    md_free(r);
}

const char *md_redis_safe_url(const md_redis *r)
{
    return r->url.safe;
}

const char *md_redis_state_name(md_redis_state s)
{
    return (unsigned)s < MD_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

md_redis_state md_redis_get_state(md_redis *r)
{
    pthread_mutex_lock(&r->lock);
    md_redis_state s = r->state;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* -- the breaker ----------------------------------------------------------------------------- */

/* 1 when a call may go ahead now; the call that ends a cool-down becomes the trial. */
static int admit(md_redis *r)
{
    int ok = 1;
    pthread_mutex_lock(&r->lock);
    if (r->state == MD_REDIS_OPEN) {
        if (r->clock() - r->opened_ms < r->cooldown_ms)
            ok = 0;
        else
            r->state = MD_REDIS_HALF_OPEN;
    } else if (r->state == MD_REDIS_HALF_OPEN) {
        ok = 0; /* the trial is in flight */
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* Records an outcome; c (may be NULL) goes back to the pool on success and is freed on a
 * failure, which also drops the idle connections: after a restart they are all dead. why
 * (may be NULL) is the failure's reason, logged when it opens the breaker. */
static void record_why(md_redis *r, redisContext *c, int ok, const char *why)
{
    redisContext *dead[POOL_MAX];
    int ndead = 0;
    const char *change = NULL;
    pthread_mutex_lock(&r->lock);
    if (ok) {
        r->failures = 0;
        if (r->state != MD_REDIS_CLOSED) change = "reachable again, breaker closed";
        r->state = MD_REDIS_CLOSED;
        if (c && r->nidle < r->pool_max) r->idle[r->nidle++] = c, c = NULL;
    } else {
        r->failures++;
        if (r->state == MD_REDIS_HALF_OPEN ||
            (r->state == MD_REDIS_CLOSED && r->failures >= r->threshold)) {
            if (r->state == MD_REDIS_CLOSED) change = "unreachable, breaker open";
            r->state = MD_REDIS_OPEN;
            r->opened_ms = r->clock();
        }
        ndead = r->nidle;
        memcpy(dead, r->idle, (size_t)ndead * sizeof *dead);
        r->nidle = 0;
    }
    pthread_mutex_unlock(&r->lock);
    if (c) redisFree(c);
    for (int i = 0; i < ndead; i++) redisFree(dead[i]);
    if (change && ok)
        MD_INFO(r->mod, "redis %s url=%s", change, r->url.safe);
    else if (change) {
        /* the reason without the "redis <url>: " its message starts with */
        size_t ul = strlen(r->url.safe);
        if (why && strncmp(why, "redis ", 6) == 0 && strncmp(why + 6, r->url.safe, ul) == 0 &&
            strncmp(why + 6 + ul, ": ", 2) == 0)
            why += 6 + ul + 2;
        MD_WARN(r->mod, "redis %s url=%s%s%s", change, r->url.safe, why ? " reason=" : "",
                why ? why : "");
    }
}

static void record(md_redis *r, redisContext *c, int ok)
{
    record_why(r, c, ok, NULL);
}

void md_redis_report(md_redis *r, int ok)
{
    record(r, NULL, ok);
}

int64_t md_redis_retry_in_ms(md_redis *r)
{
    int64_t wait = 0;
    pthread_mutex_lock(&r->lock);
    if (r->state == MD_REDIS_OPEN)
        wait = r->cooldown_ms - (r->clock() - r->opened_ms);
    else if (r->state == MD_REDIS_HALF_OPEN)
        wait = 50; /* someone else's trial: its outcome comes soon */
    pthread_mutex_unlock(&r->lock);
    return wait > 0 ? wait : 0;
}

/* -- connecting ------------------------------------------------------------------------------ */

/* The MD_E* code of a hiredis failure; e is errno right after the failing call (a blocking
 * socket that hit SO_RCVTIMEO reports EAGAIN, a connect that hit its limit ETIMEDOUT). */
static int failure_code(const redisContext *c, int e)
{
    if (c && c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT))
        return MD_ETIMEOUT;
    if (c && strstr(c->errstr, "timed out")) return MD_ETIMEOUT;
    return MD_EIO;
}

/* A command on a fresh connection during the handshake; 0 or an MD_E* code with err set. */
static int handshake(md_redis *r, redisContext *c, int argc, const char **argv, const size_t *lens,
                     md_error *err)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    int e = errno;
    if (!rep)
        return md_error_set(err, failure_code(c, e), "redis %s: no answer to %s: %s", r->url.safe,
                            argv[0], c->errstr);
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR)
        rc = md_error_set(err, MD_ECONFIG, "redis %s: %s refused: %.120s", r->url.safe, argv[0],
                          rep->str);
    freeReplyObject(rep);
    return rc;
}

/* A connection made outside the breaker (its callers report the outcome). */
static redisContext *dial(md_redis *r, md_error *err)
{
    const md_redis_url *u = &r->url;
    redisContext *c = u->unix_socket ? redisConnectUnixWithTimeout(u->host, r->connect_tv)
                                     : redisConnectWithTimeout(u->host, u->port, r->connect_tv);
    int e = errno;
    if (!c) {
        md_error_set(err, MD_EIO, "redis %s: cannot connect: out of memory", u->safe);
        return NULL;
    }
    int rc = 0;
    if (c->err)
        rc = md_error_set(err, failure_code(c, e), "redis %s: cannot connect: %s", u->safe,
                          c->errstr);
    else if (redisSetTimeout(c, r->cmd_tv) != REDIS_OK ||
             (!u->unix_socket && redisEnableKeepAlive(c) != REDIS_OK))
        rc = md_error_set(err, MD_EIO, "redis %s: socket options: %s", u->safe, c->errstr);
    if (!rc && u->password[0]) {
        const char *argv[3] = {"AUTH", u->user, u->password};
        size_t lens[3] = {4, strlen(u->user), strlen(u->password)};
        if (!u->user[0]) argv[1] = u->password, lens[1] = lens[2]; /* the default user */
        rc = handshake(r, c, u->user[0] ? 3 : 2, argv, lens, err);
    }
    if (!rc && u->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        rc = handshake(r, c, 2, argv, lens, err);
    }
    if (rc) {
        /* refused credentials or database are a configuration problem: say so each time
         * (the breaker spaces the attempts); an absent server is the breaker's to report */
        if (rc == MD_ECONFIG)
            MD_WARN(r->mod, "%s", err->msg);
        else
            MD_DEBUG(r->mod, "%s", err->msg);
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *md_redis_connect(md_redis *r, md_error *err)
{
    if (!admit(r)) {
        md_error_set(err, MD_EUNAVAIL, "redis %s: breaker open (recent failures)", r->url.safe);
        return NULL;
    }
    md_error local = {0}, *e = err ? err : &local;
    redisContext *c = dial(r, e);
    record_why(r, NULL, c != NULL, c ? NULL : e->msg);
    return c;
}

redisContext *md_redis_subscribe(md_redis *r, const char *channel, md_error *err)
{
    redisContext *c = md_redis_connect(r, err);
    if (!c) return NULL;
    const char *argv[2] = {"SUBSCRIBE", channel};
    size_t lens[2] = {9, strlen(channel)};
    redisReply *rep = redisCommandArgv(c, 2, argv, lens);
    int e = errno;
    int ok = rep && rep->type == REDIS_REPLY_ARRAY;
    if (!ok)
        md_error_set(err, rep ? MD_EIO : failure_code(c, e), "redis %s: SUBSCRIBE %s failed: %s",
                     r->url.safe, channel, rep && rep->str ? rep->str : c->errstr);
    if (rep) freeReplyObject(rep);
    /* a listener waits for messages as long as it likes: no read timeout from here on */
    if (ok && redisSetTimeout(c, (struct timeval){0, 0}) != REDIS_OK) ok = 0;
    if (!ok) {
        redisFree(c);
        record(r, NULL, 0);
        return NULL;
    }
    return c;
}

int md_redis_message(const redisReply *rep, const char **channel, const char **data, size_t *len)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) return 0;
    const redisReply *kind = rep->element[0], *chan = rep->element[1], *msg = rep->element[2];
    if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message") != 0) return 0;
    if (chan->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING) return 0;
    if (channel) *channel = chan->str;
    *data = msg->str;
    *len = msg->len;
    return 1;
}

/* -- the pool -------------------------------------------------------------------------------- */

/* A connection to use now: 0 with *c (*reused says it came from the pool and may have died
 * since), MD_EUNAVAIL when the breaker refuses, or the dial's failure (counted). */
static int take(md_redis *r, redisContext **c, int *reused)
{
    *reused = 0;
    if (!admit(r)) return MD_EUNAVAIL;
    pthread_mutex_lock(&r->lock);
    *c = r->nidle ? r->idle[--r->nidle] : NULL;
    pthread_mutex_unlock(&r->lock);
    if (*c) {
        *reused = 1;
        return 0;
    }
    md_error err;
    if ((*c = dial(r, &err)) != NULL) return 0;
    record_why(r, NULL, 0, err.msg);
    return err.rc;
}

redisContext *md_redis_acquire(md_redis *r)
{
    redisContext *c = NULL;
    int reused;
    return take(r, &c, &reused) == 0 ? c : NULL;
}

void md_redis_release(md_redis *r, redisContext *c, int ok)
{
    record(r, c, ok);
}

typedef struct exec_args {
    int n;
    const int *argc;
    const char **const *argv;
    const size_t *const *lens;
    redisReply **replies;
} exec_args;

/* Sends the pipeline and reads every reply. 0 or the failure's code (replies freed). */
static int pipeline(redisContext *c, const exec_args *a)
{
    for (int i = 0; i < a->n; i++) a->replies[i] = NULL;
    for (int i = 0; i < a->n; i++)
        if (redisAppendCommandArgv(c, a->argc[i], a->argv[i], a->lens[i]) != REDIS_OK)
            return MD_EIO;
    for (int i = 0; i < a->n; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK || !rep) {
            int rc = failure_code(c, errno);
            for (int j = 0; j < i; j++) freeReplyObject(a->replies[j]), a->replies[j] = NULL;
            return rc;
        }
        a->replies[i] = rep;
    }
    return 0;
}

typedef int (*conn_fn)(redisContext *c, void *ctx);

/* Runs fn on a pooled connection through the breaker; a pooled connection that turns out
 * closed (not slow) is replaced by a fresh one once before the call counts as failed. */
static int with_conn(md_redis *r, conn_fn fn, void *ctx)
{
    redisContext *c;
    int reused;
    int rc = take(r, &c, &reused);
    if (rc) return rc;
    rc = fn(c, ctx);
    if (rc == MD_EIO && reused) {
        redisFree(c);
        md_error err;
        if (!(c = dial(r, &err))) {
            record_why(r, NULL, 0, err.msg);
            return err.rc;
        }
        rc = fn(c, ctx);
    }
    record(r, c, rc == 0);
    return rc;
}

static int exec_fn(redisContext *c, void *ctx)
{
    return pipeline(c, ctx);
}

int md_redis_exec(md_redis *r, int n, const int argc[], const char **const argv[],
                  const size_t *const lens[], redisReply *replies[])
{
    exec_args a = {n, argc, argv, lens, replies};
    for (int i = 0; i < n; i++) replies[i] = NULL;
    return with_conn(r, exec_fn, &a);
}

int md_redis_command(md_redis *r, redisReply **reply, int argc, const char **argv,
                     const size_t *lens)
{
    const int ac[1] = {argc};
    const char **const av[1] = {argv};
    const size_t *const ls[1] = {lens};
    return md_redis_exec(r, 1, ac, av, ls, reply);
}

/* -- scripts --------------------------------------------------------------------------------- */

static pthread_mutex_t script_lock = PTHREAD_MUTEX_INITIALIZER;

static void get_sha(md_redis_script *s, char sha[41])
{
    pthread_mutex_lock(&script_lock);
    memcpy(sha, s->sha, sizeof s->sha);
    pthread_mutex_unlock(&script_lock);
}

static void set_sha(md_redis_script *s, const char sha[41])
{
    pthread_mutex_lock(&script_lock);
    memcpy(s->sha, sha, sizeof s->sha);
    pthread_mutex_unlock(&script_lock);
}

/* SCRIPT LOAD: 0 with sha filled, 0 with *refused holding Redis' error reply (the script
 * does not compile: the caller sees it as the script's answer), or a failure code. */
static int script_load(redisContext *c, md_redis_script *s, char sha[41], redisReply **refused)
{
    const char *argv[3] = {"SCRIPT", "LOAD", s->src};
    size_t lens[3] = {6, 4, strlen(s->src)};
    redisReply *rep = redisCommandArgv(c, 3, argv, lens);
    if (!rep) return failure_code(c, errno);
    if (rep->type == REDIS_REPLY_STRING && rep->len == 40) {
        memcpy(sha, rep->str, 40);
        sha[40] = 0;
        set_sha(s, sha);
        freeReplyObject(rep);
        return 0;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        *refused = rep;
        return 0;
    }
    freeReplyObject(rep);
    return MD_EIO; /* not an answer SCRIPT LOAD gives */
}

/* md_redis_eval on a connection the caller holds. */
static int eval_on(redisContext *c, md_redis_script *s, int nkeys, int nargs, const char **args,
                   const size_t *lens, redisReply **reply)
{
    *reply = NULL;
    char sha[41], nk[16];
    get_sha(s, sha);
    int rc = sha[0] ? 0 : script_load(c, s, sha, reply);
    if (rc || *reply) return rc;
    snprintf(nk, sizeof nk, "%d", nkeys);
    const char **argv = md_malloc((size_t)(nargs + 3) * sizeof *argv);
    size_t *alen = md_malloc((size_t)(nargs + 3) * sizeof *alen);
    argv[0] = "EVALSHA", alen[0] = 7;
    argv[1] = sha, alen[1] = 40;
    argv[2] = nk, alen[2] = strlen(nk);
    for (int i = 0; i < nargs; i++) argv[i + 3] = args[i], alen[i + 3] = lens[i];
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *rep = redisCommandArgv(c, nargs + 3, argv, alen);
        if (!rep) {
            rc = failure_code(c, errno);
            break;
        }
        if (attempt == 0 && rep->type == REDIS_REPLY_ERROR && rep->str &&
            strncmp(rep->str, "NOSCRIPT", 8) == 0) {
            /* flushed, restarted or failed over since we learnt the SHA1 */
            freeReplyObject(rep);
            if ((rc = script_load(c, s, sha, reply)) != 0 || *reply) break;
            continue;
        }
        *reply = rep;
        break;
    }
    md_free(argv);
    md_free(alen);
    return rc;
}

typedef struct eval_args {
    md_redis_script *s;
    int nkeys, nargs;
    const char **args;
    const size_t *lens;
    redisReply **reply;
} eval_args;

static int eval_fn(redisContext *c, void *ctx)
{
    eval_args *a = ctx;
    return eval_on(c, a->s, a->nkeys, a->nargs, a->args, a->lens, a->reply);
}

int md_redis_eval(md_redis *r, md_redis_script *s, int nkeys, int nargs, const char **args,
                  const size_t *lens, redisReply **reply)
{
    eval_args a = {s, nkeys, nargs, args, lens, reply};
    *reply = NULL;
    return with_conn(r, eval_fn, &a);
}
