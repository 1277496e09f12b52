/* streamutil.h - helpers for the stream unit tests: a hub with one shard, sessions,
 * subscriptions from JSON text, and decoding what a session would write. */
#ifndef MD_STREAMUTIL_H
#define MD_STREAMUTIL_H

#include "core/buf.h"
#include "core/mem.h"
#include "stream/hub.h"
#include "stream/proto.h"
#include "stream/session.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

static int su_wakes;
static inline void su_wake(void *ctx)
{
    (void)ctx;
    su_wakes++;
}

static inline md_hub *su_hub_new(size_t queue, size_t replay, size_t max_subs)
{
    md_hub_options o;
    md_hub_options_default(&o);
    o.queue_size = queue;
    o.replay_size = replay;
    o.max_subscriptions = max_subs;
    o.instance = "test";
    su_wakes = 0;
    return md_hub_new(&o);
}

static inline md_quote su_quote(const char *sym, double price, int64_t ts)
{
    md_quote q;
    md_quote_init(&q);
    strcpy(q.symbol, sym);
    q.price = price;
    q.ts = ts;
    q.source = MD_SRC_INGEST;
    return q;
}

static inline void su_publish(md_hub *h, const char *sym, double price)
{
    static int64_t ts = 1700000000;
    md_quote q = su_quote(sym, price, ts++);
    md_hub_publish_quote(h, &q, MD_ORIGIN_LOCAL, 0);
}

/* Runs a client message through the parser and the session; returns the rc. */
static inline int su_op(md_session *s, const char *json, md_error *err)
{
    md_op op;
    int rc = md_proto_parse(json, strlen(json), 1000, &op, err);
    if (rc) return rc;
    if (op.kind == MD_OP_SUBSCRIBE)
        rc = md_session_subscribe(s, &op, err);
    else if (op.kind == MD_OP_UNSUBSCRIBE)
        rc = md_session_unsubscribe(s, &op, err);
    md_op_deinit(&op);
    return rc;
}

/* Splits a buffer of server frames into a JSON array of their payloads (text frames) or
 * {"opcode":N} objects (control frames). */
static inline json_t *su_frames(const md_buf *b)
{
    json_t *arr = json_array();
    size_t i = 0;
    while (i < b->len) {
        const unsigned char *p = (const unsigned char *)b->data + i;
        cr_assert(p[0] & 0x80, "FIN bit");
        cr_assert_eq(p[1] & 0x80, 0, "server frames are unmasked");
        size_t n = p[1] & 0x7f, h = 2;
        if (n == 126) {
            n = ((size_t)p[2] << 8) | p[3];
            h = 4;
        } else if (n == 127) {
            n = 0;
            for (int k = 0; k < 8; k++) n = (n << 8) | p[2 + k];
            h = 10;
        }
        cr_assert_leq(i + h + n, b->len, "frame within the buffer");
        if ((p[0] & 0x0f) == 1) {
            json_error_t je;
            json_t *v = json_loadb((const char *)p + h, n, 0, &je);
            cr_assert_not_null(v, "payload is JSON: %.*s", (int)n, (const char *)p + h);
            json_array_append_new(arr, v);
        } else {
            json_array_append_new(arr, json_pack("{si}", "opcode", p[0] & 0x0f));
        }
        i += h + n;
    }
    return arr;
}

/* Packs everything the session has queued and decodes it. */
static inline json_t *su_take(md_session *s)
{
    md_buf b = MD_BUF_INIT;
    while (md_session_pack(s, &b, 1 << 20, NULL)) {
    }
    json_t *v = su_frames(&b);
    md_buf_deinit(&b);
    return v;
}

static inline const char *su_type(json_t *msg)
{
    return json_string_value(json_object_get(msg, "type"));
}

static inline double su_num(json_t *msg, const char *key)
{
    json_t *v = json_object_get(msg, key);
    cr_assert(json_is_number(v), "%s is a number", key);
    return json_number_value(v);
}

/* Messages of one type in arr. */
static inline size_t su_count(json_t *arr, const char *type)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(arr, i, m) if (strcmp(su_type(m), type) == 0) n++;
    return n;
}

#endif
