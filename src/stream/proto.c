/* proto.c - parsing client messages (jansson) and rendering server messages (md_buf). */
#include "stream/proto.h"

#include "core/mem.h"
#include "core/render.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* -- channels ------------------------------------------------------------------------------ */

static const char *const ch_names[] = {
    "quote",  "bar.1m", "bar.5m", "bar.15m", "bar.30m",
    "bar.1h", "bar.4h", "bar.1d", "bar.1w",  "bar.1mo",
};
_Static_assert(sizeof ch_names / sizeof ch_names[0] == MD_CH_COUNT, "a name per channel");
_Static_assert(MD_CH_COUNT == MD_CH_BAR + MD_IV_COUNT, "one bar channel per interval");

const char *md_channel_name(int ch)
{
    return ch >= 0 && ch < MD_CH_COUNT ? ch_names[ch] : "?";
}

int md_channel_parse(const char *s, size_t n, int *out, md_error *err)
{
    for (int i = 0; i < MD_CH_COUNT; i++) {
        if (strlen(ch_names[i]) == n && memcmp(ch_names[i], s, n) == 0) {
            *out = i;
            return 0;
        }
    }
    return md_error_set(err, MD_ECHANNEL,
                        "unknown channel '%.32s' (want quote or bar.<interval>: bar.1m, bar.5m, "
                        "bar.15m, bar.30m, bar.1h, bar.4h, bar.1d, bar.1w, bar.1mo)",
                        n > 32 ? "(long)" : s);
}

/* -- parsing ------------------------------------------------------------------------------- */

void md_op_deinit(md_op *op)
{
    md_free(op->symbols);
    memset(op, 0, sizeof *op);
}

static int parse_symbols(json_t *v, size_t max, md_op *op, md_error *err)
{
    if (!json_is_array(v))
        return md_error_set(err, MD_EPARAM, "'symbols' must be an array of strings");
    size_t n = json_array_size(v);
    if (n > max)
        return md_error_set(err, MD_EPARAM, "'symbols' lists %zu symbols, at most %zu allowed", n,
                            max);
    op->symbols = md_malloc((n ? n : 1) * sizeof *op->symbols);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s))
            return md_error_set(err, MD_EPARAM, "'symbols' must be an array of strings");
        md_symbol sym = {0}; /* written by md_symbol_normalize (cppcheck cannot tell) */
        int rc = md_symbol_normalize(json_string_value(s), json_string_length(s), sym.s, err);
        if (rc) return rc;
        size_t k = 0;
        while (k < op->n_symbols && strcmp(op->symbols[k].s, sym.s) != 0) k++;
        if (k == op->n_symbols) op->symbols[op->n_symbols++] = sym;
    }
    return 0;
}

static int parse_channels(json_t *v, md_op *op, md_error *err)
{
    if (json_is_string(v)) { /* "channels":"quote" is forgiven */
        int ch;
        int rc = md_channel_parse(json_string_value(v), json_string_length(v), &ch, err);
        if (rc) return rc;
        op->channels = 1u << ch;
        return 0;
    }
    if (!json_is_array(v))
        return md_error_set(err, MD_EPARAM, "'channels' must be an array of strings");
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c)
    {
        if (!json_is_string(c))
            return md_error_set(err, MD_EPARAM, "'channels' must be an array of strings");
        int ch;
        int rc = md_channel_parse(json_string_value(c), json_string_length(c), &ch, err);
        if (rc) return rc;
        op->channels |= 1u << ch;
    }
    return 0;
}

static int parse_fields(json_t *root, size_t max_symbols, md_op *op, md_error *err)
{
    if (!json_is_object(root))
        return md_error_set(err, MD_EJSON, "a message must be a JSON object");
    json_t *jop = json_object_get(root, "op");
    if (!jop) jop = json_object_get(root, "type"); /* {"type":"ping"} is a common spelling */
    if (!json_is_string(jop))
        return md_error_set(err, MD_EOP, "missing 'op' (subscribe, unsubscribe or ping)");
    const char *name = json_string_value(jop);
    if (strcmp(name, "subscribe") == 0)
        op->kind = MD_OP_SUBSCRIBE;
    else if (strcmp(name, "unsubscribe") == 0)
        op->kind = MD_OP_UNSUBSCRIBE;
    else if (strcmp(name, "ping") == 0)
        op->kind = MD_OP_PING;
    else
        return md_error_set(err, MD_EOP, "unknown op '%.40s' (subscribe, unsubscribe or ping)",
                            name);
    if (op->kind == MD_OP_PING) return 0;

    json_t *v = json_object_get(root, "symbols");
    if (!v) v = json_object_get(root, "symbol");
    if (json_is_string(v)) { /* a single symbol as a string */
        json_t *arr = json_array();
        json_array_append(arr, v);
        int rc = parse_symbols(arr, max_symbols, op, err);
        json_decref(arr);
        if (rc) return rc;
    } else if (v && !json_is_null(v)) {
        int rc = parse_symbols(v, max_symbols, op, err);
        if (rc) return rc;
    }
    v = json_object_get(root, "channels");
    if (!v) v = json_object_get(root, "channel");
    if (v && !json_is_null(v)) {
        int rc = parse_channels(v, op, err);
        if (rc) return rc;
    }
    if (op->kind == MD_OP_SUBSCRIBE) {
        if (op->n_symbols == 0)
            return md_error_set(err, MD_EPARAM,
                                "subscribe needs 'symbols' with at least one symbol");
        v = json_object_get(root, "since_seq");
        if (v && !json_is_null(v)) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return md_error_set(err, MD_EPARAM, "'since_seq' must be a non-negative integer");
            op->has_since = 1;
            op->since_seq = (uint64_t)json_integer_value(v);
        }
    }
    return 0;
}

int md_proto_parse(const char *msg, size_t len, size_t max_symbols, md_op *op, md_error *err)
{
    memset(op, 0, sizeof *op);
    json_error_t je;
    json_t *root = json_loadb(msg, len, 0, &je);
    if (!root)
        return md_error_set(err, MD_EJSON, "invalid JSON at line %d column %d: %.120s", je.line,
                            je.column, je.text);
    int rc = parse_fields(root, max_symbols, op, err);
    json_decref(root);
    if (rc) md_op_deinit(op);
    return rc;
}

/* -- rendering ----------------------------------------------------------------------------- */

/* Every renderer writes into a local buffer b and ends with finish(b). */
static md_frame *finish(md_buf *b)
{
    md_frame *f = md_frame_text(b->data, b->len);
    md_buf_deinit(b);
    return f;
}

static void num_field(md_buf *b, const char *name, double v)
{
    if (isnan(v)) return;
    md_buf_puts(b, name);
    md_buf_num(b, v);
}

md_frame *md_proto_quote(const md_quote *q, uint64_t seq)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"quote\",\"seq\":");
    md_buf_int(b, (int64_t)seq);
    md_buf_puts(b, ",\"symbol\":");
    md_buf_json_str(b, q->symbol);
    md_buf_puts(b, ",\"price\":");
    md_buf_num(b, q->price);
    md_buf_puts(b, ",\"timestamp\":");
    md_buf_ts(b, q->ts, 1);
    md_buf_puts(b, ",\"source\":");
    md_buf_json_str(b, md_source_name(q->source));
    num_field(b, ",\"volume\":", q->volume);
    num_field(b, ",\"bid\":", q->bid);
    num_field(b, ",\"ask\":", q->ask);
    md_buf_putc(b, '}');
    md_frame *f = finish(b);
    f->seq = seq;
    f->channel = MD_CH_QUOTE;
    snprintf(f->symbol, sizeof f->symbol, "%s", q->symbol);
    return f;
}

md_frame *md_proto_bar(const char *symbol, md_interval iv, const md_bar *bar, uint64_t seq)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"bar\",\"seq\":");
    md_buf_int(b, (int64_t)seq);
    md_buf_puts(b, ",\"interval\":\"");
    md_buf_puts(b, md_interval_name(iv));
    md_buf_puts(b, "\",\"symbol\":");
    md_buf_json_str(b, symbol);
    md_buf_putc(b, ',');
    md_render_ohlcv_fields(b, bar);
    num_field(b, ",\"vwap\":", bar->vwap);
    if (bar->trades >= 0) {
        md_buf_puts(b, ",\"trades\":");
        md_buf_int(b, bar->trades);
    }
    md_buf_puts(b, ",\"source\":");
    md_buf_json_str(b, md_source_name(bar->source));
    md_buf_putc(b, '}');
    md_frame *f = finish(b);
    f->seq = seq;
    f->channel = (uint8_t)(MD_CH_BAR + iv);
    snprintf(f->symbol, sizeof f->symbol, "%s", symbol);
    return f;
}

md_frame *md_proto_welcome(const md_welcome *w)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"welcome\",\"server_time\":");
    md_buf_ts(b, w->server_time, 1);
    md_buf_puts(b, ",\"session\":");
    md_buf_json_str(b, w->session);
    md_buf_puts(b, ",\"instance\":");
    md_buf_json_str(b, w->instance);
    md_buf_puts(b, ",\"seq\":");
    md_buf_int(b, (int64_t)w->seq);
    md_buf_puts(b, ",\"channels\":[");
    for (int i = 0; i < MD_CH_COUNT; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_json_str(b, ch_names[i]);
    }
    md_buf_puts(b, "],\"limits\":{\"max_message_bytes\":");
    md_buf_int(b, (int64_t)w->max_message_bytes);
    md_buf_puts(b, ",\"max_subscriptions\":");
    md_buf_int(b, (int64_t)w->max_subscriptions);
    md_buf_puts(b, ",\"max_messages_per_s\":");
    md_buf_int(b, (int64_t)w->max_messages_per_s);
    md_buf_puts(b, "}}");
    return finish(b);
}

static void lists(md_buf *b, const md_op *op, uint32_t channels)
{
    md_buf_puts(b, ",\"symbols\":[");
    for (size_t i = 0; i < op->n_symbols; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_json_str(b, op->symbols[i].s);
    }
    md_buf_puts(b, "],\"channels\":[");
    int first = 1;
    for (int i = 0; i < MD_CH_COUNT; i++) {
        if (!(channels & (1u << i))) continue;
        if (!first) md_buf_putc(b, ',');
        first = 0;
        md_buf_json_str(b, ch_names[i]);
    }
    md_buf_putc(b, ']');
}

md_frame *md_proto_subscribed(const md_op *op, uint32_t channels, uint64_t seq, size_t replayed,
                              int complete)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"subscribed\"");
    lists(b, op, channels);
    md_buf_puts(b, ",\"seq\":");
    md_buf_int(b, (int64_t)seq);
    if (op->has_since) {
        md_buf_puts(b, ",\"replayed\":");
        md_buf_int(b, (int64_t)replayed);
        md_buf_puts(b, complete ? ",\"replay_complete\":true" : ",\"replay_complete\":false");
    }
    md_buf_putc(b, '}');
    return finish(b);
}

md_frame *md_proto_unsubscribed(const md_op *op, uint32_t channels, size_t remaining)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"unsubscribed\"");
    lists(b, op, channels);
    md_buf_puts(b, ",\"subscriptions\":");
    md_buf_int(b, (int64_t)remaining);
    md_buf_putc(b, '}');
    return finish(b);
}

md_frame *md_proto_error(int rc, const char *message)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"error\",\"code\":");
    md_buf_json_str(b, md_error_code(rc));
    md_buf_puts(b, ",\"message\":");
    md_buf_json_str(b, message && *message ? message : md_error_default(rc));
    md_buf_putc(b, '}');
    return finish(b);
}

md_frame *md_proto_pong(int64_t server_time)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"pong\",\"server_time\":");
    md_buf_ts(b, server_time, 1);
    md_buf_putc(b, '}');
    return finish(b);
}

md_frame *md_proto_lagged_frame(uint64_t dropped)
{
    char payload[64];
    int n = snprintf(payload, sizeof payload, "{\"type\":\"lagged\",\"dropped\":%llu}",
                     (unsigned long long)dropped);
    return md_frame_text(payload, (size_t)n);
}

void md_proto_lagged(md_buf *out, uint64_t dropped)
{
    char payload[64];
    int n = snprintf(payload, sizeof payload, "{\"type\":\"lagged\",\"dropped\":%llu}",
                     (unsigned long long)dropped);
    unsigned char hdr[10];
    size_t h = md_frame_header(hdr, 0x1, (size_t)n);
    md_buf_append(out, hdr, h);
    md_buf_append(out, payload, (size_t)n);
}
