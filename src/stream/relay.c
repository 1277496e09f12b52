/* relay.c - Redis pub/sub relay between instances (see relay.h). Connections come from the
 * Redis adapter (cache/redis.h: URL, timeouts, AUTH/SELECT, breaker); a lost connection is
 * turned into a log line and a reconnect here. */
#include "stream/relay.h"

#include "cache/redis.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"
#include "stream/proto.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct md_relay {
    md_hub *hub;
    char *channel;
    char *log_key;     /* "<channel>:log": the numbered messages, a Redis stream */
    char *pub_key;     /* "<log_key>:pub:<instance>:<nonce>": the last message id numbered */
    char log_len[24];  /* its length (XADD MAXLEN ~) */
    size_t catch_up_n; /* messages read back from it at most on (re)connect */
    md_redis *redis;   /* both threads' connections, one breaker */
    size_t max_pending;

    pthread_mutex_t lock; /* pending, sub_fd, wake */
    md_waiter wake;       /* publisher: a message is queued; both threads: stop */
    char **pending;
    size_t *pending_len;
    uint64_t *pending_id; /* this process's message ids, 1, 2, ... in queue order */
    uint64_t next_id;
    size_t head, n, cap; /* ring */
    int sub_fd;
    int pub_check; /* the subscriber lost Redis: the publisher's connection is suspect too */

    pthread_t pub_thread, sub_thread;
    atomic_uint_fast64_t sent, received, echoes, dropped, bad;
    atomic_int pub_up, sub_up;
    atomic_llong last_ok_ms; /* the publisher's last reply from Redis (PUBLISH or PING) */
};

#define STALL_MS 2000 /* a reply later than this: the relay counts as stalled */
#define IDLE_PING_MS 1000

/* -- wire form ----------------------------------------------------------------------------- */

/* {"i":instance,"k":kind,"s":symbol: the head of every message. */
static void head(md_buf *b, const char *instance, const char *kind, const char *symbol)
{
    md_buf_puts(b, "{\"i\":");
    md_buf_json_str(b, instance);
    md_json_str(b, "k", kind);
    md_json_str(b, "s", symbol ? symbol : "");
}

/* ,"ql":quality (when scored),"src":source} : the end of a tick. */
static void tail(md_buf *b, float quality, int source)
{
    if (quality >= 0) md_json_num_opt(b, "ql", quality);
    md_json_str(b, "src", md_source_name(source));
    md_buf_putc(b, '}');
}

void md_relay_encode_quote(md_buf *b, const char *instance, const md_quote *q, int snapshot)
{
    head(b, instance, "q", q->symbol);
    md_json_int(b, "t", q->ts);
    md_json_num(b, "p", q->price);
    md_json_num_opt(b, "v", q->volume);
    md_json_num_opt(b, "b", q->bid);
    md_json_num_opt(b, "a", q->ask);
    if (snapshot) md_json_int(b, "x", 1);
    tail(b, q->quality, q->source);
}

void md_relay_encode_bar(md_buf *b, const char *instance, const char *symbol, md_interval iv,
                         const md_bar *bar)
{
    head(b, instance, "b", symbol);
    md_json_str(b, "iv", md_interval_name(iv));
    md_json_int(b, "t", bar->ts);
    md_json_num(b, "o", bar->open);
    md_json_num(b, "h", bar->high);
    md_json_num(b, "l", bar->low);
    md_json_num(b, "c", bar->close);
    md_json_num_opt(b, "v", bar->volume);
    md_json_num_opt(b, "vw", bar->vwap);
    if (bar->trades >= 0) md_json_int(b, "n", bar->trades);
    tail(b, bar->quality, bar->source);
}

void md_relay_encode_ext(md_buf *b, const char *instance, const char *channel, const char *symbol,
                         const char *type, const char *fields, size_t fields_len)
{
    head(b, instance, "e", symbol);
    md_json_str(b, "c", channel);
    md_json_str(b, "ty", type);
    (void)fields_len; /* fields is NUL-terminated (an md_buf) */
    md_json_str(b, "f", fields);
    md_buf_putc(b, '}');
}

/* How a decoded message is published: its origin here and the deployment's number (0: none,
 * the hub numbers it). */
typedef struct {
    md_origin origin;
    uint64_t seq;
    int defer;
} as_published;

/* An extension channel's message ({"k":"e"}): published here as sent, under this hub's
 * number for the channel. */
static int decode_ext(md_hub *hub, json_t *root, const as_published *ap, md_error *err)
{
    const char *c = json_string_value(json_object_get(root, "c"));
    const char *sym = json_string_value(json_object_get(root, "s"));
    const char *type = json_string_value(json_object_get(root, "ty"));
    json_t *f = json_object_get(root, "f");
    if (!c || !sym || !type || !json_is_string(f))
        return md_error_set(err, MD_EJSON, "relay: event lacks c, s, ty or f");
    char name[MD_XCH_NAME_MAX], symbol[MD_SYMBOL_MAX + 1] = "";
    int rc = md_xchannel_parse(c, strlen(c), name, err);
    if (rc == 0 && strcmp(name, c) != 0)
        rc = md_error_set(err, MD_EJSON, "relay: channel '%.60s' is not canonical", c);
    if (rc == 0 && *sym) rc = md_symbol_normalize_str(sym, symbol, err);
    if (rc == 0 && (!*type || strlen(type) > 32 ||
                    strspn(type, "abcdefghijklmnopqrstuvwxyz_") != strlen(type)))
        rc = md_error_set(err, MD_EJSON, "relay: bad event type");
    const char *fs = json_string_value(f);
    size_t fl = json_string_length(f);
    if (rc == 0 && fl && fs[0] != ',') rc = md_error_set(err, MD_EJSON, "relay: bad event fields");
    int ch = rc == 0 ? md_hub_xchannel(hub, name, 1, err) : rc;
    if (ch < 0) return ch;
    md_hub_publish_ext_at(hub, ch, symbol, type, fs, fl, ap->origin, ap->seq, ap->defer);
    return 0;
}

static int get_num(json_t *o, const char *key, double *out, int required)
{
    json_t *v = json_object_get(o, key);
    if (!v) return required ? -1 : 0;
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return 0;
}

/* The deployment's number in front of a message ("<seq> {...}", relay.h), 0 when there is
 * none; *msg and *len then point past it. */
static uint64_t take_seq(const char **msg, size_t *len)
{
    const char *p = *msg, *end = p + *len;
    uint64_t seq = 0;
    while (p < end && *p >= '0' && *p <= '9' && seq < UINT64_MAX / 10)
        seq = seq * 10 + (uint64_t)(*p++ - '0');
    if (p == *msg || p == end || *p != ' ') return 0;
    *len -= (size_t)(p + 1 - *msg);
    *msg = p + 1;
    return seq;
}

static int decode(md_hub *hub, const char *instance, const char *msg, size_t len, int defer,
                  md_origin extra, md_error *err)
{
    uint64_t seq = take_seq(&msg, &len);
    json_error_t je;
    json_t *root = json_loadb(msg, len, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return md_error_set(err, MD_EJSON, "relay: not a JSON object");
    }
    int rc = 0;
    const char *from = json_string_value(json_object_get(root, "i"));
    const char *kind = json_string_value(json_object_get(root, "k"));
    const char *sym = json_string_value(json_object_get(root, "s"));
    const char *src = json_string_value(json_object_get(root, "src"));
    json_t *jt = json_object_get(root, "t");
    char symbol[MD_SYMBOL_MAX + 1];
    /* our own message, back from Redis: published now when the deployment numbered it (it
     * was handed to the relay instead), else it was published already */
    int own = from && strcmp(from, instance) == 0;
    as_published ap = {(md_origin)((own ? MD_ORIGIN_LOCAL : MD_ORIGIN_REMOTE) | extra), seq, defer};
    if (from && kind && strcmp(kind, "e") == 0) {
        rc = own && !seq ? 1 : decode_ext(hub, root, &ap, err);
    } else if (!from || !kind || !sym || !json_is_integer(jt)) {
        rc = md_error_set(err, MD_EJSON, "relay: message lacks i, k, s or t");
    } else if (own && !seq) {
        rc = 1;
    } else if ((rc = md_symbol_normalize_str(sym, symbol, err)) == 0) {
        int source = src ? md_source_parse(src) : -1;
        double ql = -1;
        if (strcmp(kind, "q") == 0) {
            md_quote q;
            md_quote_init(&q);
            snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
            q.ts = json_integer_value(jt);
            q.source = (uint8_t)(source >= 0 ? source : MD_SRC_UNKNOWN);
            if (get_num(root, "p", &q.price, 1) || get_num(root, "v", &q.volume, 0) ||
                get_num(root, "b", &q.bid, 0) || get_num(root, "a", &q.ask, 0) ||
                get_num(root, "ql", &ql, 0)) {
                rc = md_error_set(err, MD_EJSON, "relay: bad quote fields");
            } else {
                q.quality = (float)ql;
                int snap = json_is_true(json_object_get(root, "x")) ||
                           json_integer_value(json_object_get(root, "x")) == 1;
                md_hub_publish_quote_at(
                    hub, &q, (md_origin)(ap.origin | (snap ? MD_ORIGIN_SNAPSHOT : 0)), seq, defer);
            }
        } else if (strcmp(kind, "b") == 0) {
            md_bar b;
            md_bar_init(&b);
            md_interval iv;
            const char *ivs = json_string_value(json_object_get(root, "iv"));
            double trades = -1;
            b.ts = json_integer_value(jt);
            b.source = (uint8_t)(source >= 0 ? source : MD_SRC_UNKNOWN);
            if (!ivs || (rc = md_interval_parse(ivs, &iv, err)) != 0) {
                if (!rc) rc = md_error_set(err, MD_EJSON, "relay: bar without interval");
            } else if (get_num(root, "o", &b.open, 1) || get_num(root, "h", &b.high, 1) ||
                       get_num(root, "l", &b.low, 1) || get_num(root, "c", &b.close, 1) ||
                       get_num(root, "v", &b.volume, 0) || get_num(root, "vw", &b.vwap, 0) ||
                       get_num(root, "n", &trades, 0) || get_num(root, "ql", &ql, 0)) {
                rc = md_error_set(err, MD_EJSON, "relay: bad bar fields");
            } else {
                b.trades = (int64_t)trades;
                b.quality = (float)ql;
                md_hub_publish_bar_at(hub, symbol, iv, &b, ap.origin, seq, defer);
            }
        } else {
            rc = md_error_set(err, MD_EJSON, "relay: unknown kind '%.8s'", kind);
        }
    }
    json_decref(root);
    return rc == 0 && own ? 1 : rc;
}

int md_relay_decode(md_hub *hub, const char *instance, const char *msg, size_t len, int defer,
                    md_error *err)
{
    return decode(hub, instance, msg, len, defer, 0, err);
}

/* -- connections --------------------------------------------------------------------------- */

static const char *safe_url(const md_relay *r)
{
    return md_redis_safe_url(r->redis);
}

/* How long to wait before connecting again: the rest of the breaker's cool-down while it is
 * open, else a short pause. */
static int retry_delay_ms(md_relay *r)
{
    int64_t w = md_redis_retry_in_ms(r->redis);
    return w > 100 ? (int)w : 100;
}

/* Sleeps ms unless stopping (queued messages do not cut it short); returns 1 when
 * stopping. */
static int backoff(md_relay *r, int ms)
{
    int64_t until = md_mono_ms() + ms;
    int stop;
    while (!(stop = md_waiter_wait_until(&r->wake, until)) && md_mono_ms() < until) {
    }
    return stop;
}

/* The deployment's numbering (hub.h), one script so that numbering, logging and publishing
 * are one step and messages are published in the order of their numbers. The number is one
 * more than the log's newest entry, or than the sender's last seq when that is higher:
 * after a Redis restart lost the log, numbers go on above what the instances hold.
 * A message is numbered at most once: a batch whose replies were lost (a paused or slow
 * Redis, past redis.timeout_ms) is sent again on the next connection, and Redis may still
 * run the first copy it had read; KEYS[3] holds the highest id of this process's messages
 * already numbered, and a copy at or below it is skipped (answered 0). Ids go out in order
 * and a batch sent again starts at its first unanswered one, so an id is skipped only when
 * one of its copies was numbered.
 * KEYS: the log (entry ids "<seq>-0", field m), the channel, the sender's last id; ARGV: the
 * message, the sender's last seq, the log's length, the message's id. Published and logged
 * as "<seq> <message>". */
static const char SEQ_SCRIPT[] =
    "local done = tonumber(redis.call('GET', KEYS[3]) or '0') "
    "if tonumber(ARGV[4]) <= done then return 0 end "
    "redis.call('SET', KEYS[3], ARGV[4], 'PX', 3600000) "
    "local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1) "
    "local s = tonumber(ARGV[2]) "
    "if top[1] then local t = tonumber(string.match(top[1][1], '^%d+')) "
    "if t > s then s = t end end "
    "local n = string.format('%d', s + 1) "
    "local m = n .. ' ' .. ARGV[1] "
    "redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], n .. '-0', 'm', m) "
    "redis.call('PUBLISH', KEYS[2], m) "
    "return s + 1";

/* Loads SEQ_SCRIPT into sha (41 bytes); 0, or -1 when Redis did not take it. */
static int load_script(redisContext *c, char *sha)
{
    redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", SEQ_SCRIPT);
    int ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
    if (ok) memcpy(sha, rep->str, 41);
    if (rep) freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* Records one connection's state and the hub's health from both, under the lock: two
 * threads changing their halves at once must not leave a stale "degraded" written last.
 * Wakes md_relay_start, which waits for both at start. */
static void set_up(md_relay *r, atomic_int *half, int up)
{
    pthread_mutex_lock(&r->lock);
    atomic_store(half, up);
    md_hub_set_degraded(r->hub, !(atomic_load(&r->pub_up) && atomic_load(&r->sub_up)));
    md_waiter_notify_locked(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

/* Drops the publisher's connection after a failure: the hub turns degraded until both
 * connections are up again. */
static void pub_lost(md_relay *r, redisContext **c, const char *why)
{
    MD_WARN("stream", "relay publisher lost redis=%s: %s", safe_url(r), why);
    md_redis_report(r->redis, 0);
    redisFree(*c);
    *c = NULL;
    set_up(r, &r->pub_up, 0);
}

/* Messages are taken from the queue in batches and sent pipelined. A batch whose connection
 * fails part-way keeps the messages no reply came for and sends them again on the next
 * connection (a Redis restart loses the connection, not them); only a message that Redis
 * answered with an error is dropped. */
static void *pub_main(void *arg)
{
    md_relay *r = arg;
    redisContext *c = NULL;
    char sha[41] = "";
    char **batch = NULL;
    size_t *lens = NULL, cap = 0;
    uint64_t *ids = NULL;
    size_t first = 0, n = 0; /* batch[first..n): taken, not yet answered */
    for (;;) {
        if (!c) {
            md_error err;
            c = md_redis_connect(r->redis, &err);
            if (c && load_script(c, sha) != 0) {
                md_error_set(&err, MD_EIO, "redis: SCRIPT LOAD failed: %s",
                             c->err ? c->errstr : "refused");
                redisFree(c);
                c = NULL;
            }
            if (!c) {
                MD_DEBUG("stream", "relay publisher: %s", err.msg);
                if (backoff(r, retry_delay_ms(r))) break;
                continue;
            }
            pthread_mutex_lock(&r->lock);
            r->pub_check = 0;
            pthread_mutex_unlock(&r->lock);
            set_up(r, &r->pub_up, 1);
            MD_INFO("stream", "relay publisher connected redis=%s channel=%s", safe_url(r),
                    r->channel);
        }
        if (first == n) {
            pthread_mutex_lock(&r->lock);
            if (!r->n && !r->pub_check && !md_waiter_stopped(&r->wake)) /* idle: a PING now */
                md_waiter_wait_until_locked(&r->wake, md_mono_ms() + IDLE_PING_MS); /* and then */
            if (md_waiter_stopped(&r->wake) && !r->n) {
                pthread_mutex_unlock(&r->lock);
                break;
            }
            if (!r->n) {
                r->pub_check = 0;
                pthread_mutex_unlock(&r->lock);
                redisReply *rep = redisCommand(c, "PING"); /* so that a stall shows */
                if (rep) {
                    atomic_store(&r->last_ok_ms, md_mono_ms());
                    freeReplyObject(rep);
                } else {
                    pub_lost(r, &c, c->errstr);
                }
                continue;
            }
            n = r->n;
            first = 0;
            if (n > cap) {
                cap = n;
                batch = md_realloc(batch, cap * sizeof *batch);
                lens = md_realloc(lens, cap * sizeof *lens);
                ids = md_realloc(ids, cap * sizeof *ids);
            }
            for (size_t i = 0; i < n; i++) {
                size_t k = (r->head + i) % r->cap;
                batch[i] = r->pending[k];
                lens[i] = r->pending_len[k];
                ids[i] = r->pending_id[k];
                r->pending[k] = NULL;
            }
            r->head = (r->head + n) % r->cap;
            r->n = 0;
            pthread_mutex_unlock(&r->lock);
        } else if (md_waiter_stopped(&r->wake)) {
            break;
        }
        char floor[24];
        snprintf(floor, sizeof floor, "%" PRIu64, md_hub_last_seq(r->hub));
        for (size_t i = first; i < n; i++)
            redisAppendCommand(c, "EVALSHA %s 3 %s %s %s %b %s %s %" PRIu64, sha, r->log_key,
                               r->channel, r->pub_key, batch[i], lens[i], floor, r->log_len,
                               ids[i]);
        size_t ok = 0, bad = 0, again = 0, sent = n - first;
        int noscript = 0;
        for (size_t i = 0; i < sent; i++) {
            redisReply *rep = NULL;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK) break;
            if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8))
                noscript = 1; /* the script cache was emptied: loaded again, sent again */
            if (!noscript) {
                if (rep->type == REDIS_REPLY_ERROR)
                    bad++;
                else if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0)
                    again++; /* a copy sent before was numbered already */
                else
                    ok++;
                md_free(batch[first++]);
            }
            freeReplyObject(rep);
        }
        if (ok || again) atomic_store(&r->last_ok_ms, md_mono_ms());
        atomic_fetch_add(&r->sent, ok);
        if (bad) {
            atomic_fetch_add(&r->dropped, bad);
            MD_WARN("stream", "relay publisher: redis=%s refused %zu message(s)", safe_url(r), bad);
        }
        if (first < n) pub_lost(r, &c, noscript ? "script not loaded" : c->errstr);
    }
    if (c) redisFree(c);
    atomic_fetch_add(&r->dropped, n - first); /* stopped while Redis was away */
    for (size_t i = first; i < n; i++) md_free(batch[i]);
    md_free(batch);
    md_free(lens);
    md_free(ids);
    atomic_store(&r->pub_up, 0);
    return NULL;
}

static void handle_reply(md_relay *r, redisReply *rep, int defer)
{
    const char *msg;
    size_t len;
    if (!md_redis_message(rep, NULL, &msg, &len)) return; /* subscribe confirmations */
    md_error err;
    int rc = md_relay_decode(r->hub, md_hub_instance(r->hub), msg, len, defer, &err);
    if (rc == 1)
        atomic_fetch_add(&r->echoes, 1);
    else if (rc == 0)
        atomic_fetch_add(&r->received, 1);
    else {
        atomic_fetch_add(&r->bad, 1);
        MD_DEBUG("stream", "relay: dropped a bad message: %s", err.msg);
    }
}

/* Reads back from the log what the hub lacks (numbers above its last), oldest first, and
 * publishes it: what was published while this instance was away from Redis, or, when it
 * starts (nothing held yet), the log's tail into the replay buffer only (history). Called
 * once subscribed, so nothing published later is missed; what both bring is dropped by the
 * hub as held already. 0, or -1 when Redis did not answer. */
static int catch_up(md_relay *r)
{
    md_error err;
    redisContext *c = md_redis_connect(r->redis, &err);
    if (!c) return -1;
    uint64_t last = md_hub_last_seq(r->hub);
    char min[32] = "-";
    if (last) snprintf(min, sizeof min, "%" PRIu64 "-0", last + 1);
    char count[24];
    snprintf(count, sizeof count, "%zu", r->catch_up_n);
    redisReply *rep = redisCommand(c, "XREVRANGE %s + %s COUNT %s", r->log_key, min, count);
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        MD_DEBUG("stream", "relay: XREVRANGE %s: %s", r->log_key,
                 !rep                             ? c->errstr
                 : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                  : "not an array");
    int rc = rep && rep->type == REDIS_REPLY_ARRAY ? 0 : -1;
    md_origin extra = last ? (md_origin)0 : MD_ORIGIN_HISTORY;
    for (size_t i = rc == 0 ? rep->elements : 0; i-- > 0;) {
        redisReply *e = rep->element[i], *kv;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            (kv = e->element[1])->type != REDIS_REPLY_ARRAY || kv->elements != 2 ||
            kv->element[1]->type != REDIS_REPLY_STRING)
            continue;
        int d = decode(r->hub, md_hub_instance(r->hub), kv->element[1]->str, kv->element[1]->len, 1,
                       extra, &err);
        atomic_fetch_add(d == 1 ? &r->echoes : d == 0 ? &r->received : &r->bad, 1);
    }
    if (rep) freeReplyObject(rep);
    redisFree(c);
    md_hub_flush(r->hub);
    return rc;
}

static void *sub_main(void *arg)
{
    md_relay *r = arg;
    for (;;) {
        md_error err;
        redisContext *c = md_redis_subscribe(r->redis, r->channel, &err);
        if (!c) {
            MD_DEBUG("stream", "relay subscriber: %s", err.msg);
            if (backoff(r, retry_delay_ms(r))) break;
            continue;
        }
        redisReply *rep;
        pthread_mutex_lock(&r->lock);
        int stop = md_waiter_stopped(&r->wake);
        if (!stop) r->sub_fd = c->fd;
        pthread_mutex_unlock(&r->lock);
        if (stop) {
            redisFree(c);
            break;
        }
        if (catch_up(r) != 0) {
            MD_DEBUG("stream", "relay subscriber: could not read the log back");
            pthread_mutex_lock(&r->lock);
            r->sub_fd = -1;
            pthread_mutex_unlock(&r->lock);
            redisFree(c);
            if (backoff(r, retry_delay_ms(r))) break;
            continue;
        }
        set_up(r, &r->sub_up, 1);
        MD_INFO("stream", "relay subscriber connected redis=%s channel=%s", safe_url(r),
                r->channel);
        for (;;) {
            /* blocking read, then whatever else is already buffered; one wake per burst */
            if (redisGetReply(c, (void **)&rep) != REDIS_OK) break;
            handle_reply(r, rep, 1);
            freeReplyObject(rep);
            void *more = NULL;
            while (redisReaderGetReply(c->reader, &more) == REDIS_OK && more) {
                handle_reply(r, more, 1);
                freeReplyObject(more);
                more = NULL;
            }
            md_hub_flush(r->hub);
        }
        set_up(r, &r->sub_up, 0);
        pthread_mutex_lock(&r->lock);
        r->sub_fd = -1;
        r->pub_check = 1; /* the publisher's connection went with it, most likely: it */
        md_waiter_notify_locked(&r->wake); /* finds out now, not at its next message */
        stop = md_waiter_stopped(&r->wake);
        pthread_mutex_unlock(&r->lock);
        if (!stop) {
            MD_WARN("stream", "relay subscriber lost redis=%s: %s", safe_url(r), c->errstr);
            md_redis_report(r->redis, 0);
        }
        redisFree(c);
        if (stop || backoff(r, retry_delay_ms(r))) break;
    }
    return NULL;
}

/* -- outbound ------------------------------------------------------------------------------ */

static void enqueue(md_relay *r, md_buf *b)
{
    size_t len;
    char *data = md_buf_steal(b, &len);
    pthread_mutex_lock(&r->lock);
    if (r->n == r->cap) { /* full: drop the oldest */
        md_free(r->pending[r->head]);
        r->head = (r->head + 1) % r->cap;
        r->n--;
        atomic_fetch_add(&r->dropped, 1);
    }
    size_t k = (r->head + r->n) % r->cap;
    r->pending[k] = data;
    r->pending_len[k] = len;
    r->pending_id[k] = ++r->next_id;
    r->n++;
    md_waiter_notify_locked(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

/* The hub's sequencer (hub.h): a LOCAL message goes to Redis to be numbered, and comes back
 * to every instance, this one included. Declined while either connection is down: the hub
 * then publishes it here only (other instances' clients miss it; /health is degraded). */
static int take(void *ctx, const md_hub_seq_msg *m)
{
    md_relay *r = ctx;
    if (!atomic_load(&r->pub_up) || !atomic_load(&r->sub_up)) return 0;
    md_buf b = MD_BUF_INIT;
    const char *me = md_hub_instance(r->hub);
    if (m->kind == 'q')
        md_relay_encode_quote(&b, me, m->quote, (m->origin & MD_ORIGIN_SNAPSHOT) != 0);
    else if (m->kind == 'b')
        md_relay_encode_bar(&b, me, m->symbol, m->iv, m->bar);
    else
        md_relay_encode_ext(&b, me, m->channel, m->symbol, m->type, m->fields, m->fields_len);
    enqueue(r, &b);
    return 1;
}

int md_relay_stalled(md_relay *r)
{
    /* the subscriber's connection still stands (a lost server closes it) but nothing has
     * answered the publisher for a while: a stopped or wedged server */
    return atomic_load(&r->sub_up) && md_mono_ms() - atomic_load(&r->last_ok_ms) > STALL_MS;
}

static int stalled_probe(void *ctx)
{
    return md_relay_stalled(ctx);
}

/* -- life cycle ---------------------------------------------------------------------------- */

static void render_health(void *ctx, md_buf *b)
{
    md_relay *r = ctx;
    md_relay_stats st;
    md_relay_get_stats(r, &st);
    md_buf_puts(b, ",\"relay\":{\"status\":");
    md_buf_puts(b, md_relay_stalled(r) ? "\"stalled\""
                   : !st.connected     ? "\"disconnected\""
                                       : "\"connected\"");
    md_json_str(b, "channel", r->channel);
    md_json_str(b, "log", r->log_key);
    const struct {
        const char *key;
        uint64_t v;
    } counts[] = {{"sent", st.sent},
                  {"received", st.received},
                  {"echoes", st.echoes},
                  {"dropped", st.dropped},
                  {"bad", st.bad}};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        md_json_int(b, counts[i].key, (int64_t)counts[i].v);
    md_buf_putc(b, '}');
}

int md_relay_start(const md_relay_options *o, md_relay **out, md_error *err)
{
    md_redis_options ro = o->redis;
    if (!ro.log_module) ro.log_module = "stream";
    md_redis *redis;
    int rc = md_redis_new(&ro, &redis, err);
    if (rc) return rc;
    md_relay *r = md_calloc(1, sizeof *r);
    r->redis = redis;
    r->hub = o->hub;
    const char *ch = o->channel && *o->channel ? o->channel : "mdagent:stream";
    if (o->ns && *o->ns) {
        size_t n = strlen(ch) + strlen(o->ns) + 2;
        r->channel = md_malloc(n);
        snprintf(r->channel, n, "%s@%s", ch, o->ns);
    } else {
        r->channel = md_strdup(ch);
    }
    size_t n = strlen(r->channel) + 5;
    r->log_key = md_malloc(n);
    snprintf(r->log_key, n, "%s:log", r->channel);
    /* the instance id may be configured (stream.instance) and so be the same after a
     * restart, whose ids start at 1 again: a nonce makes the key this process's */
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
        nonce = (uint64_t)md_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)md_now_ms();
    n = strlen(r->log_key) + strlen(md_hub_instance(r->hub)) + 32;
    r->pub_key = md_malloc(n);
    snprintf(r->pub_key, n, "%s:pub:%s:%016" PRIx64, r->log_key, md_hub_instance(r->hub), nonce);
    size_t replay = md_hub_opts(r->hub)->replay_size;
    r->catch_up_n = replay ? replay : 1000;
    snprintf(r->log_len, sizeof r->log_len, "%zu", r->catch_up_n > 1000 ? r->catch_up_n : 1000);
    r->max_pending = o->max_pending ? o->max_pending : 100000;
    r->cap = r->max_pending;
    r->pending = md_calloc(r->cap, sizeof *r->pending);
    r->pending_len = md_calloc(r->cap, sizeof *r->pending_len);
    r->pending_id = md_calloc(r->cap, sizeof *r->pending_id);
    r->sub_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    md_waiter_init(&r->wake, &r->lock);
    md_hub_sequencer sq = {take, r};
    md_hub_set_sequencer(r->hub, &sq);
    md_hub_set_health_ext(r->hub, render_health, r);
    md_hub_set_stall_probe(r->hub, stalled_probe);
    md_hub_set_degraded(r->hub, 1); /* until both connections are up */
    atomic_store(&r->last_ok_ms, md_mono_ms());
    pthread_create(&r->pub_thread, NULL, pub_main, r);
    pthread_setname_np(r->pub_thread, "relay-pub");
    pthread_create(&r->sub_thread, NULL, sub_main, r);
    pthread_setname_np(r->sub_thread, "relay-sub");
    /* give both connections a moment, so a healthy start is not reported degraded (by
     * /health or the first cluster heartbeat); an unreachable Redis is told by the log */
    int64_t until = md_mono_ms() + (ro.connect_timeout_ms > 0 ? ro.connect_timeout_ms : 200) + 300;
    pthread_mutex_lock(&r->lock);
    while (!(atomic_load(&r->pub_up) && atomic_load(&r->sub_up)) && md_mono_ms() < until)
        if (md_waiter_wait_until_locked(&r->wake, until)) break;
    pthread_mutex_unlock(&r->lock);
    *out = r;
    return 0;
}

void md_relay_free(md_relay *r)
{
    if (!r) return;
    md_hub_set_sequencer(r->hub, NULL);
    md_hub_set_health_ext(r->hub, NULL, NULL);
    md_hub_set_stall_probe(r->hub, NULL);
    md_hub_set_degraded(r->hub, 0);
    pthread_mutex_lock(&r->lock);
    md_waiter_stop_locked(&r->wake);
    if (r->sub_fd >= 0) shutdown(r->sub_fd, SHUT_RDWR); /* unblocks the subscriber's read */
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->pub_thread, NULL);
    pthread_join(r->sub_thread, NULL);
    for (size_t i = 0; i < r->n; i++) md_free(r->pending[(r->head + i) % r->cap]);
    md_free(r->pending);
    md_free(r->pending_len);
    md_free(r->pending_id);
    md_free(r->channel);
    md_free(r->log_key);
    md_free(r->pub_key);
    md_waiter_deinit(&r->wake);
    md_redis_free(r->redis);
    pthread_mutex_destroy(&r->lock);
    md_free(r);
}

void md_relay_get_stats(md_relay *r, md_relay_stats *st)
{
    st->sent = atomic_load(&r->sent);
    st->received = atomic_load(&r->received);
    st->echoes = atomic_load(&r->echoes);
    st->dropped = atomic_load(&r->dropped);
    st->bad = atomic_load(&r->bad);
    st->connected = atomic_load(&r->pub_up) && atomic_load(&r->sub_up);
}
