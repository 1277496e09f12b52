/* relay.c - Redis pub/sub relay between instances (see relay.h). Connections come from the
 * Redis adapter (cache/redis.h: URL, timeouts, AUTH/SELECT, breaker); a lost connection is
 * turned into a log line and a reconnect here. */
#include "stream/relay.h"

#include "cache/redis.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"
#include "stream/proto.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct md_relay {
    md_hub *hub;
    char *channel;
    md_redis *redis; /* both threads' connections, one breaker */
    size_t max_pending;

    pthread_mutex_t lock; /* pending, sub_fd, wake */
    md_waiter wake;       /* publisher: a message is queued; both threads: stop */
    char **pending;
    size_t *pending_len;
    size_t head, n, cap; /* ring */
    int sub_fd;

    pthread_t pub_thread, sub_thread;
    atomic_uint_fast64_t sent, received, echoes, dropped, bad;
    atomic_int pub_up, sub_up;
    atomic_llong last_ok_ms; /* the publisher's last reply from Redis (PUBLISH or PING) */
};

#define STALL_MS 2000 /* a reply later than this: the relay counts as stalled */
#define IDLE_PING_MS 1000

/* -- wire form ----------------------------------------------------------------------------- */

static void opt_num(md_buf *b, const char *key, double v)
{
    if (isnan(v)) return;
    md_buf_puts(b, key);
    md_buf_num(b, v);
}

void md_relay_encode_quote(md_buf *b, const char *instance, const md_quote *q, int snapshot)
{
    md_buf_puts(b, "{\"i\":");
    md_buf_json_str(b, instance);
    md_buf_puts(b, ",\"k\":\"q\",\"s\":");
    md_buf_json_str(b, q->symbol);
    md_buf_puts(b, ",\"t\":");
    md_buf_int(b, q->ts);
    md_buf_puts(b, ",\"p\":");
    md_buf_num(b, q->price);
    opt_num(b, ",\"v\":", q->volume);
    opt_num(b, ",\"b\":", q->bid);
    opt_num(b, ",\"a\":", q->ask);
    if (q->quality >= 0) opt_num(b, ",\"ql\":", q->quality);
    if (snapshot) md_buf_puts(b, ",\"x\":1");
    md_buf_puts(b, ",\"src\":");
    md_buf_json_str(b, md_source_name(q->source));
    md_buf_putc(b, '}');
}

void md_relay_encode_bar(md_buf *b, const char *instance, const char *symbol, md_interval iv,
                         const md_bar *bar)
{
    md_buf_puts(b, "{\"i\":");
    md_buf_json_str(b, instance);
    md_buf_puts(b, ",\"k\":\"b\",\"s\":");
    md_buf_json_str(b, symbol);
    md_buf_puts(b, ",\"iv\":\"");
    md_buf_puts(b, md_interval_name(iv));
    md_buf_puts(b, "\",\"t\":");
    md_buf_int(b, bar->ts);
    md_buf_puts(b, ",\"o\":");
    md_buf_num(b, bar->open);
    md_buf_puts(b, ",\"h\":");
    md_buf_num(b, bar->high);
    md_buf_puts(b, ",\"l\":");
    md_buf_num(b, bar->low);
    md_buf_puts(b, ",\"c\":");
    md_buf_num(b, bar->close);
    opt_num(b, ",\"v\":", bar->volume);
    opt_num(b, ",\"vw\":", bar->vwap);
    if (bar->trades >= 0) {
        md_buf_puts(b, ",\"n\":");
        md_buf_int(b, bar->trades);
    }
    if (bar->quality >= 0) opt_num(b, ",\"ql\":", bar->quality);
    md_buf_puts(b, ",\"src\":");
    md_buf_json_str(b, md_source_name(bar->source));
    md_buf_putc(b, '}');
}

void md_relay_encode_ext(md_buf *b, const char *instance, const char *channel, const char *symbol,
                         const char *type, const char *fields, size_t fields_len)
{
    md_buf_puts(b, "{\"i\":");
    md_buf_json_str(b, instance);
    md_buf_puts(b, ",\"k\":\"e\",\"c\":");
    md_buf_json_str(b, channel);
    md_buf_puts(b, ",\"s\":");
    md_buf_json_str(b, symbol ? symbol : "");
    md_buf_puts(b, ",\"ty\":");
    md_buf_json_str(b, type);
    md_buf_puts(b, ",\"f\":");
    (void)fields_len; /* fields is NUL-terminated (an md_buf) */
    md_buf_json_str(b, fields);
    md_buf_putc(b, '}');
}

/* An extension channel's message ({"k":"e"}): published here as sent, under this hub's
 * number for the channel and its next seq. */
static int decode_ext(md_hub *hub, json_t *root, int defer, md_error *err)
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
    md_hub_publish_ext(hub, ch, symbol, type, fs, fl, MD_ORIGIN_REMOTE, defer);
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

int md_relay_decode(md_hub *hub, const char *instance, const char *msg, size_t len, int defer,
                    md_error *err)
{
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
    if (from && kind && strcmp(kind, "e") == 0) {
        rc = strcmp(from, instance) == 0 ? 1 : decode_ext(hub, root, defer, err);
    } else if (!from || !kind || !sym || !json_is_integer(jt)) {
        rc = md_error_set(err, MD_EJSON, "relay: message lacks i, k, s or t");
    } else if (strcmp(from, instance) == 0) {
        rc = 1; /* our own message, back from Redis */
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
                md_hub_publish_quote(
                    hub, &q, (md_origin)(MD_ORIGIN_REMOTE | (snap ? MD_ORIGIN_SNAPSHOT : 0)),
                    defer);
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
                md_hub_publish_bar(hub, symbol, iv, &b, MD_ORIGIN_REMOTE, defer);
            }
        } else {
            rc = md_error_set(err, MD_EJSON, "relay: unknown kind '%.8s'", kind);
        }
    }
    json_decref(root);
    return rc;
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

static void *pub_main(void *arg)
{
    md_relay *r = arg;
    redisContext *c = NULL;
    char **batch = NULL;
    size_t *lens = NULL, cap = 0;
    for (;;) {
        if (!c) {
            md_error err;
            c = md_redis_connect(r->redis, &err);
            if (!c) {
                MD_DEBUG("stream", "relay publisher: %s", err.msg);
                if (backoff(r, retry_delay_ms(r))) break;
                continue;
            }
            atomic_store(&r->pub_up, 1);
            md_hub_set_degraded(r->hub, !atomic_load(&r->sub_up));
            MD_INFO("stream", "relay publisher connected redis=%s channel=%s", safe_url(r),
                    r->channel);
        }
        pthread_mutex_lock(&r->lock);
        if (!r->n && !md_waiter_stopped(&r->wake)) /* idle: a PING now and then, so a */
            md_waiter_wait_until_locked(&r->wake, md_mono_ms() + IDLE_PING_MS); /* stall shows */
        if (md_waiter_stopped(&r->wake) && !r->n) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        if (!r->n) {
            pthread_mutex_unlock(&r->lock);
            redisReply *rep = redisCommand(c, "PING");
            if (rep) {
                atomic_store(&r->last_ok_ms, md_mono_ms());
                freeReplyObject(rep);
                continue;
            }
            MD_WARN("stream", "relay publisher lost redis=%s: %s", safe_url(r), c->errstr);
            md_redis_report(r->redis, 0);
            redisFree(c);
            c = NULL;
            atomic_store(&r->pub_up, 0);
            md_hub_set_degraded(r->hub, 1);
            continue;
        }
        size_t n = r->n;
        if (n > cap) {
            cap = n;
            batch = md_realloc(batch, cap * sizeof *batch);
            lens = md_realloc(lens, cap * sizeof *lens);
        }
        for (size_t i = 0; i < n; i++) {
            size_t k = (r->head + i) % r->cap;
            batch[i] = r->pending[k];
            lens[i] = r->pending_len[k];
            r->pending[k] = NULL;
        }
        r->head = (r->head + n) % r->cap;
        r->n = 0;
        pthread_mutex_unlock(&r->lock);
        for (size_t i = 0; i < n; i++)
            redisAppendCommand(c, "PUBLISH %s %b", r->channel, batch[i], lens[i]);
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            redisReply *rep = NULL;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK) break;
            if (rep->type != REDIS_REPLY_ERROR) ok++;
            freeReplyObject(rep);
        }
        if (ok) atomic_store(&r->last_ok_ms, md_mono_ms());
        for (size_t i = 0; i < n; i++) md_free(batch[i]);
        atomic_fetch_add(&r->sent, ok);
        if (ok < n) {
            atomic_fetch_add(&r->dropped, n - ok);
            MD_WARN("stream", "relay publisher lost redis=%s: %s", safe_url(r),
                    c->err ? c->errstr : "error reply");
            md_redis_report(r->redis, 0);
            redisFree(c);
            c = NULL;
            atomic_store(&r->pub_up, 0);
            md_hub_set_degraded(r->hub, 1);
        }
    }
    if (c) redisFree(c);
    md_free(batch);
    md_free(lens);
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
        atomic_store(&r->sub_up, 1);
        md_hub_set_degraded(r->hub, !atomic_load(&r->pub_up));
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
        atomic_store(&r->sub_up, 0);
        md_hub_set_degraded(r->hub, 1);
        pthread_mutex_lock(&r->lock);
        r->sub_fd = -1;
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
    r->n++;
    md_waiter_notify_locked(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

static void on_quote(void *ctx, const md_quote *q, md_origin origin)
{
    md_relay *r = ctx;
    if (MD_ORIGIN_BASE(origin) != MD_ORIGIN_LOCAL) return;
    md_buf b = MD_BUF_INIT;
    md_relay_encode_quote(&b, md_hub_instance(r->hub), q, (origin & MD_ORIGIN_SNAPSHOT) != 0);
    enqueue(r, &b);
}

static void on_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *bar,
                   md_origin origin)
{
    md_relay *r = ctx;
    if (origin != MD_ORIGIN_LOCAL) return;
    md_buf b = MD_BUF_INIT;
    md_relay_encode_bar(&b, md_hub_instance(r->hub), symbol, iv, bar);
    enqueue(r, &b);
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

/* Extension channels' messages made here (screen events) go to the other instances, whose
 * clients subscribe on them too; DERIVED ones (live indicators, which every instance computes
 * from the same bars) never do. */
static void on_ext(void *ctx, const char *channel, const char *symbol, const char *type,
                   const char *fields, size_t fields_len, md_origin origin)
{
    md_relay *r = ctx;
    if (origin != MD_ORIGIN_LOCAL) return;
    md_buf b = MD_BUF_INIT;
    md_relay_encode_ext(&b, md_hub_instance(r->hub), channel, symbol, type, fields, fields_len);
    enqueue(r, &b);
}

/* -- life cycle ---------------------------------------------------------------------------- */

static void render_health(void *ctx, md_buf *b)
{
    md_relay_stats st;
    md_relay_get_stats(ctx, &st);
    md_buf_puts(b, ",\"relay\":{\"status\":");
    md_buf_puts(b, md_relay_stalled(ctx) ? "\"stalled\""
                   : !st.connected       ? "\"disconnected\""
                                         : "\"connected\"");
    md_buf_puts(b, ",\"channel\":");
    md_buf_json_str(b, ((md_relay *)ctx)->channel);
    md_buf_puts(b, ",\"sent\":");
    md_buf_int(b, (int64_t)st.sent);
    md_buf_puts(b, ",\"received\":");
    md_buf_int(b, (int64_t)st.received);
    md_buf_puts(b, ",\"echoes\":");
    md_buf_int(b, (int64_t)st.echoes);
    md_buf_puts(b, ",\"dropped\":");
    md_buf_int(b, (int64_t)st.dropped);
    md_buf_puts(b, ",\"bad\":");
    md_buf_int(b, (int64_t)st.bad);
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
    r->max_pending = o->max_pending ? o->max_pending : 100000;
    r->cap = r->max_pending;
    r->pending = md_calloc(r->cap, sizeof *r->pending);
    r->pending_len = md_calloc(r->cap, sizeof *r->pending_len);
    r->sub_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    md_waiter_init(&r->wake, &r->lock);
    md_hub_observer ob = {on_quote, on_bar, r, on_ext};
    md_hub_add_observer(r->hub, &ob);
    md_hub_set_health_ext(r->hub, render_health, r);
    md_hub_set_stall_probe(r->hub, stalled_probe);
    md_hub_set_degraded(r->hub, 1); /* until both connections are up */
    atomic_store(&r->last_ok_ms, md_mono_ms());
    pthread_create(&r->pub_thread, NULL, pub_main, r);
    pthread_setname_np(r->pub_thread, "relay-pub");
    pthread_create(&r->sub_thread, NULL, sub_main, r);
    pthread_setname_np(r->sub_thread, "relay-sub");
    *out = r;
    return 0;
}

void md_relay_free(md_relay *r)
{
    if (!r) return;
    md_hub_remove_observer(r->hub, r);
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
    md_free(r->channel);
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
