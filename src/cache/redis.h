/* redis.h - the agent's one Redis adapter: the cache (L2, invalidations, leases) and the
 * stream relay all reach Redis through it, so a URL, a timeout or a failing server means
 * the same thing to each of them.
 *
 * What it does: parses the URL (core/redisurl.h), connects with a connect timeout and a
 * command timeout, authenticates (AUTH [user] password) and selects the database, keeps a
 * small pool of idle connections, puts every connection attempt and pooled command behind
 * one circuit breaker, makes pub/sub connections, runs Lua scripts by their SHA1 (EVALSHA,
 * loading them again after a SCRIPT FLUSH or a restart), and writes the URL into logs and
 * errors only with its password masked. What it does not do: key layout, retries of a
 * failed command beyond replacing a dead pooled connection once (see md_redis_exec), TLS
 * (see MD_REDIS_TLS). Commands themselves are hiredis calls on the connections it hands
 * out; hiredis errors are turned into MD_E* codes here.
 *
 * The breaker (one per md_redis; connects and pooled commands both report to it):
 *
 *   CLOSED ──breaker_failures consecutive failures──> OPEN ──cool-down──> HALF_OPEN
 *     ^                                                 ^                    │ one trial
 *     └────────────────── trial succeeds ───────────────┼────────────────────┤
 *                                                       └── trial fails ─────┘
 * While OPEN (and while the trial is in flight) every call is refused at once with
 * MD_EUNAVAIL: nobody waits on a dead server. A failure also drops the idle connections
 * (after a restart they are all dead). A command slower than timeout_ms fails, so a slow
 * Redis is a failing Redis.
 *
 * Thread-safe: one md_redis serves any number of threads; a connection it hands out belongs
 * to the caller until it is released (pooled) or freed (redisFree). */
#ifndef MD_CACHE_REDIS_H
#define MD_CACHE_REDIS_H

#include "core/error.h"
#include "core/redisurl.h"

#include <stddef.h>
#include <stdint.h>

/* hiredis' types (C11 allows the same typedef twice): who issues commands includes
 * <hiredis/hiredis.h>; who only configures Redis (cache.h, the CLI) does not need to. */
typedef struct redisContext redisContext;
typedef struct redisReply redisReply;

/* TLS settings for rediss:// (read only once MD_REDIS_TLS is 1). */
typedef struct md_redis_tls {
    const char *ca_file;     /* CA bundle that signs the server's certificate; NULL = system */
    const char *cert_file;   /* client certificate (mutual TLS), or NULL */
    const char *key_file;    /* its private key */
    const char *server_name; /* SNI and certificate name; NULL = the URL's host */
} md_redis_tls;

typedef struct md_redis_options {
    const char *url; /* see core/redisurl.h */
    /* 0 in any of the five below: the default of its redis.* key in config.def
     * (200, 100, 8, 3, 2000) */
    int connect_timeout_ms;    /* TCP/socket connect */
    int timeout_ms;            /* each command (and AUTH/SELECT) */
    int pool_size;             /* idle connections kept, at most 64 */
    int breaker_failures;      /* consecutive failures that open the breaker */
    int breaker_cooldown_ms;   /* open -> half-open after this long */
    const char *log_module;    /* module name of its log lines; NULL = "redis" */
    int64_t (*clock_ms)(void); /* the breaker's monotonic clock; NULL = md_mono_ms */
    md_redis_tls tls;
} md_redis_options;

/* The defaults of the redis.* keys (md_config_defaults), no URL (NULL). */
void md_redis_options_default(md_redis_options *o);
struct md_config;
/* The redis.* config keys (redis.url, redis.connect_timeout_ms, ...); the rest zero. */
void md_redis_options_from_config(md_redis_options *o, const struct md_config *cfg);

typedef struct md_redis md_redis;

/* Parses the URL and keeps the options; connects nothing yet. MD_ECONFIG ("redis: ...") for
 * a bad URL. The password is registered with the log's redaction (md_log_add_secret). *out
 * is the caller's (md_redis_free, after every connection it handed out is freed). */
int md_redis_new(const md_redis_options *o, md_redis **out, md_error *err);
void md_redis_free(md_redis *r);
/* The URL with its password masked, for log lines and messages. */
const char *md_redis_safe_url(const md_redis *r);

/* -- connections ----------------------------------------------------------------------------- */

/* A new connection, through the breaker: connected within connect_timeout_ms, AUTH and
 * SELECT done, commands bounded by timeout_ms. The outcome is reported to the breaker.
 * NULL and MD_EUNAVAIL while the breaker refuses, MD_ETIMEOUT when Redis did not answer in
 * time, MD_ECONFIG when AUTH or SELECT was refused (the credentials or the database of the
 * URL are wrong), MD_EIO otherwise (the message has the
 * safe URL and hiredis' reason). The caller owns the connection (redisFree). */
redisContext *md_redis_connect(md_redis *r, md_error *err);
/* Reports how a connection from md_redis_connect ended up: ok = 0 when it broke (a read
 * failed, a command timed out), so long-lived connections count towards the breaker too. */
void md_redis_report(md_redis *r, int ok);
/* Milliseconds until md_redis_connect may try again (0 = now): the rest of the cool-down
 * while the breaker is open. For reconnect loops. */
int64_t md_redis_retry_in_ms(md_redis *r);

/* A SUBSCRIBEd connection (md_redis_connect, then SUBSCRIBE channel, then no read timeout:
 * the owner waits for messages as long as it likes). NULL as md_redis_connect. */
redisContext *md_redis_subscribe(md_redis *r, const char *channel, md_error *err);
/* 1 when rep is a pub/sub "message" (channel and payload point into rep), 0 for anything
 * else (subscribe confirmations). */
int md_redis_message(const redisReply *rep, const char **channel, const char **data, size_t *len);

/* -- pooled commands ------------------------------------------------------------------------- */

/* A connection for a few commands (idle from the pool, else a new one), through the
 * breaker; NULL while it refuses or when Redis cannot be reached. Give it back with
 * md_redis_release: ok = 1 keeps it pooled, ok = 0 frees it and counts a failure. */
redisContext *md_redis_acquire(md_redis *r);
void md_redis_release(md_redis *r, redisContext *c, int ok);

/* Runs n pipelined commands (argv[i] with argc[i] arguments of lens[i] bytes) on a pooled
 * connection; replies[i] receives each reply (the caller frees them with freeReplyObject;
 * an error reply is a reply, not a failure). A pooled connection found closed (Redis
 * restarted) is replaced once and the commands sent again, so a command whose reply was
 * lost that way may run twice; a timeout is never retried. 0, or MD_EUNAVAIL (refused,
 * nothing sent), MD_ETIMEOUT or MD_EIO (outcome unknown; replies[] all NULL). */
int md_redis_exec(md_redis *r, int n, const int argc[], const char **const argv[],
                  const size_t *const lens[], redisReply *replies[]);
/* One command: md_redis_exec with n = 1. */
int md_redis_command(md_redis *r, redisReply **reply, int argc, const char **argv,
                     const size_t *lens);

/* -- scripts --------------------------------------------------------------------------------- */

/* A Lua script run by SHA1. Define one per script, statically:
 *   static md_redis_script renew = MD_REDIS_SCRIPT("if redis.call('get', KEYS[1]) ...");
 * The SHA1 is learnt from SCRIPT LOAD the first time and kept (any md_redis may use it). */
typedef struct md_redis_script {
    const char *src;
    char sha[41]; /* guarded by a lock in redis.c */
} md_redis_script;
#define MD_REDIS_SCRIPT(source)                                                                    \
    {                                                                                              \
        (source), ""                                                                               \
    }

/* Runs s with nkeys keys then the other arguments (args[0..nargs), keys first, lens[i]
 * bytes each) as EVALSHA on a pooled connection; NOSCRIPT (after SCRIPT FLUSH, a restart,
 * a failover) loads the script and runs it again. *reply as md_redis_command (a script's
 * own error is an error reply). 0, MD_EUNAVAIL, MD_ETIMEOUT or MD_EIO. */
int md_redis_eval(md_redis *r, md_redis_script *s, int nkeys, int nargs, const char **args,
                  const size_t *lens, redisReply **reply);

/* -- state ----------------------------------------------------------------------------------- */

typedef enum md_redis_state {
    MD_REDIS_CLOSED = 0,
    MD_REDIS_OPEN = 1,
    MD_REDIS_HALF_OPEN = 2
} md_redis_state;

md_redis_state md_redis_get_state(md_redis *r);
/* "closed", "open", "half_open". */
const char *md_redis_state_name(md_redis_state s);

#endif
