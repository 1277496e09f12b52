/* proto.c - parsing client messages (jansson) and rendering server messages (md_buf). */
#include "stream/proto.h"

#include "calendar/calendar.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/render.h"
#include "core/timefmt.h"

#include <ctype.h>
#include <jansson.h>
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
                        "unknown channel '%.*s' (want quote, bar.<interval> (bar.1m, bar.5m, "
                        "bar.15m, bar.30m, bar.1h, bar.4h, bar.1d, bar.1w, bar.1mo), "
                        "ind.<indicator>@<interval>, screen.<name> or market.<MIC>)",
                        n > 32 ? 6 : (int)n, n > 32 ? "(long)" : s);
}

/* -- extension channels -------------------------------------------------------------------- */

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static int xch_ind(const char *s, size_t n, md_ind_spec *spec, md_interval *iv, md_error *err)
{
    const char *body = s + 4, *at = NULL;
    size_t len = n - 4;
    for (size_t i = len; i-- > 0;)
        if (body[i] == '@') {
            at = body + i;
            break;
        }
    if (!at || at == body || at + 1 == body + len || memchr(body, ',', len))
        return md_error_set(err, MD_ECHANNEL,
                            "channel '%.*s': want ind.<indicator>@<interval>, e.g. "
                            "ind.rsi:14@1m or ind.macd:12:26:9@5m",
                            (int)(n < 60 ? n : 60), s);
    char text[64], ivs[16];
    size_t sl = (size_t)(at - body), il = len - sl - 1;
    if (sl >= sizeof text || il >= sizeof ivs)
        return md_error_set(err, MD_ECHANNEL, "channel '%.*s': too long", (int)(n < 60 ? n : 60),
                            s);
    memcpy(text, body, sl), text[sl] = 0;
    memcpy(ivs, at + 1, il), ivs[il] = 0;
    md_error e2;
    if (md_ind_parse(text, spec, 1, &e2) != 1)
        return md_error_set(err, MD_ECHANNEL, "channel '%.*s': %s", (int)(n < 60 ? n : 60), s,
                            strncmp(e2.msg, "names: ", 7) == 0 ? e2.msg + 7 : e2.msg);
    if (!md_ind_streamable(spec->def))
        return md_error_set(err, MD_ECHANNEL,
                            "channel '%.*s': %s cannot be computed live (its value at a bar "
                            "depends on later bars); ask /analytics/{symbol}/indicators",
                            (int)(n < 60 ? n : 60), s, spec->def->name);
    if (md_interval_parse(ivs, iv, &e2) != 0)
        return md_error_set(err, MD_ECHANNEL, "channel '%.*s': %s", (int)(n < 60 ? n : 60), s,
                            e2.msg);
    return 0;
}

int md_xchannel_parse(const char *s, size_t n, char out[MD_XCH_NAME_MAX], md_error *err)
{
    if (starts(s, n, "ind.")) {
        md_ind_spec spec;
        md_interval iv;
        int rc = xch_ind(s, n, &spec, &iv, err);
        if (rc) return rc;
        snprintf(out, MD_XCH_NAME_MAX, "ind.%s@%s", spec.name, md_interval_name(iv));
        return 0;
    }
    if (starts(s, n, "market.")) { /* an exchange calendar, by MIC or alias: the MIC */
        char name[48];
        snprintf(name, sizeof name, "%.*s", (int)(n - 7 < 47 ? n - 7 : 47), s + 7);
        const md_cal *c = n - 7 < 47 ? md_cal_find(name) : NULL;
        if (!c)
            return md_error_set(err, MD_ECHANNEL,
                                "channel '%.*s': no calendar named so (GET /calendars lists them)",
                                (int)(n < 60 ? n : 60), s);
        snprintf(out, MD_XCH_NAME_MAX, "market.%s", md_cal_mic(c));
        return 0;
    }
    if (starts(s, n, "screen.")) {
        size_t k = n - 7;
        int ok = k >= 1 && k <= 48;
        for (size_t i = 7; ok && i < n; i++)
            ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-';
        if (!ok)
            return md_error_set(err, MD_ECHANNEL,
                                "channel '%.*s': a screen's name has 1 to 48 letters, digits, "
                                "'_' or '-'",
                                (int)(n < 60 ? n : 60), s);
        snprintf(out, MD_XCH_NAME_MAX, "%.*s", (int)n, s);
        return 0;
    }
    const char *at = memchr(s, '@', n);
    int ch;
    if (starts(s, n, "bar.") && at) { /* bar.1m@splits: bars adjusted as the mode says */
        int rc = md_channel_parse(s, (size_t)(at - s), &ch, err);
        if (rc) return rc;
        char mode[16];
        md_adjust m;
        size_t k = n - (size_t)(at - s) - 1;
        snprintf(mode, sizeof mode, "%.*s", (int)(k < sizeof mode ? k : sizeof mode - 1), at + 1);
        if (k >= sizeof mode || md_adjust_parse(mode, &m) != 0)
            return md_error_set(err, MD_ECHANNEL,
                                "channel '%.*s': the adjustment after '@' is none, splits or all",
                                (int)(n < 60 ? n : 60), s);
        snprintf(out, MD_XCH_NAME_MAX, "%s@%s", md_channel_name(ch), md_adjust_name(m));
        return 0;
    }
    return md_channel_parse(s, n, &ch, err); /* its message lists every form */
}

int md_xchannel_bar(const char *name, md_interval *iv, md_adjust *mode)
{
    const char *at = strchr(name, '@');
    int ch;
    if (strncmp(name, "bar.", 4) != 0 || !at ||
        md_channel_parse(name, (size_t)(at - name), &ch, NULL) != 0 || ch < MD_CH_BAR ||
        md_adjust_parse(at + 1, mode) != 0)
        return MD_ECHANNEL;
    *iv = (md_interval)(ch - MD_CH_BAR);
    return 0;
}

int md_xchannel_symbolless(const char *name)
{
    return strncmp(name, "screen.", 7) == 0 || strncmp(name, "market.", 7) == 0;
}

int md_xchannel_ind(const char *name, md_ind_spec *spec, md_interval *iv, int *partial)
{
    size_t n = strlen(name), k = strlen(MD_XCH_PARTIAL_SUFFIX);
    int part = n > k && strcmp(name + n - k, MD_XCH_PARTIAL_SUFFIX) == 0;
    if (part) n -= k;
    if (!starts(name, n, "ind.")) return MD_ECHANNEL;
    int rc = xch_ind(name, n, spec, iv, NULL);
    if (rc == 0 && partial) *partial = part;
    return rc;
}

/* -- parsing ------------------------------------------------------------------------------- */

void md_op_deinit(md_op *op)
{
    md_free(op->symbols);
    md_free(op->xch);
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

/* One channel name: a fixed one into the bit mask, an extension one into op->xch. */
static int add_channel(const char *s, size_t n, md_op *op, size_t max, md_error *err)
{
    int ch;
    int adjusted = starts(s, n, "bar.") && memchr(s, '@', n);
    if (n == 6 && memcmp(s, "market", 6) == 0) { /* the calendars come in "calendars" */
        op->market = 1;
        return 0;
    }
    if (!starts(s, n, "ind.") && !starts(s, n, "screen.") && !starts(s, n, "market.") &&
        !adjusted) {
        int rc = md_channel_parse(s, n, &ch, err);
        if (rc) return rc;
        op->channels |= 1u << ch;
        return 0;
    }
    md_xchan x;
    int rc = md_xchannel_parse(s, n, x.name, err);
    if (rc) return rc;
    size_t k = strlen(x.name);
    if (adjusted && k > 5 && strcmp(x.name + k - 5, "@none") == 0) /* raw: the plain channel */
        return add_channel(x.name, k - 5, op, max, err);
    for (size_t i = 0; i < op->n_xch; i++)
        if (strcmp(op->xch[i].name, x.name) == 0) return 0;
    if (op->n_xch == max) return md_error_set(err, MD_EPARAM, "too many channels");
    if (!op->xch) op->xch = md_malloc(max * sizeof *op->xch);
    op->xch[op->n_xch++] = x;
    return 0;
}

static int parse_channels(json_t *v, md_op *op, md_error *err)
{
    if (json_is_string(v)) /* "channels":"quote" is forgiven */
        return add_channel(json_string_value(v), json_string_length(v), op, 1, err);
    if (!json_is_array(v))
        return md_error_set(err, MD_EPARAM, "'channels' must be an array of strings");
    size_t i, max = json_array_size(v);
    json_t *c;
    json_array_foreach(v, i, c)
    {
        if (!json_is_string(c))
            return md_error_set(err, MD_EPARAM, "'channels' must be an array of strings");
        int rc = add_channel(json_string_value(c), json_string_length(c), op, max, err);
        if (rc) return rc;
    }
    return 0;
}

/* "calendars":["XNYS",..] with channel "market": the channels market.<MIC> of each. */
static int market_calendars(json_t *v, md_op *op, md_error *err)
{
    if (!v || json_is_null(v)) {
        if (op->market)
            return md_error_set(err, MD_EPARAM,
                                "channel 'market' needs 'calendars' (MICs such as XNYS), or "
                                "name a channel market.<MIC>");
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 64)
        return md_error_set(err, MD_EPARAM, "'calendars' must be an array of 1 to 64 strings");
    size_t i, max = op->n_xch + json_array_size(v);
    op->xch = md_realloc(op->xch, max * sizeof *op->xch);
    json_t *c;
    json_array_foreach(v, i, c)
    {
        if (!json_is_string(c))
            return md_error_set(err, MD_EPARAM, "'calendars' must be an array of strings");
        char name[64];
        snprintf(name, sizeof name, "market.%.50s", json_string_value(c));
        int rc = add_channel(name, strlen(name), op, max, err);
        if (rc) return rc;
    }
    return 0;
}

/* "adjust":"none|splits|all" (default none: raw): the bar channels of the request become
 * their adjusted twins (bar.1m -> bar.1m@splits), so the hub serves each mode's messages on
 * a channel of its own and a raw subscriber's frames are untouched. */
static int adjust_bars(json_t *v, md_op *op, md_error *err)
{
    if (!v || json_is_null(v)) return 0;
    md_adjust mode;
    if (!json_is_string(v) || md_adjust_parse(json_string_value(v), &mode) != 0)
        return md_error_set(err, MD_EPARAM, "'adjust' must be none, splits or all");
    op->adjust = mode;
    if (mode == MD_ADJUST_NONE) return 0;
    /* room for every bar channel beside the extension channels named (add_channel sized
     * the array for those) */
    op->xch = md_realloc(op->xch, (op->n_xch + MD_IV_COUNT) * sizeof *op->xch);
    for (int ch = MD_CH_BAR; ch < MD_CH_COUNT; ch++) {
        if (!(op->channels & (1u << ch))) continue;
        op->channels &= ~(1u << ch);
        md_xchan x;
        snprintf(x.name, sizeof x.name, "%s@%s", md_channel_name(ch), md_adjust_name(mode));
        size_t i = 0;
        while (i < op->n_xch && strcmp(op->xch[i].name, x.name) != 0) i++;
        if (i == op->n_xch) op->xch[op->n_xch++] = x;
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
    if (op->market || json_object_get(root, "calendars")) {
        int rc = market_calendars(json_object_get(root, "calendars"), op, err);
        if (rc) return rc;
        op->market = 0;
    }
    if (op->kind == MD_OP_SUBSCRIBE) {
        int per_symbol = op->channels != 0 || op->n_xch == 0;
        for (size_t i = 0; i < op->n_xch; i++)
            per_symbol |= !md_xchannel_symbolless(op->xch[i].name);
        if (op->n_symbols == 0 && per_symbol)
            return md_error_set(err, MD_EPARAM,
                                "subscribe needs 'symbols' with at least one symbol");
        v = json_object_get(root, "partial");
        if (v && !json_is_null(v)) {
            if (!json_is_boolean(v))
                return md_error_set(err, MD_EPARAM, "'partial' must be true or false");
            op->partial = json_is_true(v);
        }
        v = json_object_get(root, "since_seq");
        if (v && !json_is_null(v)) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return md_error_set(err, MD_EPARAM, "'since_seq' must be a non-negative integer");
            op->has_since = 1;
            op->since_seq = (uint64_t)json_integer_value(v);
        }
    }
    return adjust_bars(json_object_get(root, "adjust"), op, err);
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

md_frame *md_proto_quote(const md_quote *q, uint64_t seq)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"quote\",\"seq\":");
    md_buf_int(b, (int64_t)seq);
    md_json_str(b, "symbol", q->symbol);
    md_json_num(b, "price", q->price);
    md_json_ts(b, "timestamp", q->ts);
    md_json_str(b, "source", md_source_name(q->source));
    md_json_num_opt(b, "volume", q->volume);
    md_json_num_opt(b, "bid", q->bid);
    md_json_num_opt(b, "ask", q->ask);
    md_buf_putc(b, '}');
    md_frame *f = finish(b);
    f->seq = seq;
    f->channel = MD_CH_QUOTE;
    snprintf(f->symbol, sizeof f->symbol, "%s", q->symbol);
    return f;
}

/* A bar's members from the timestamp on: ,"timestamp",..,"partial". */
static void bar_members(md_buf *b, md_interval iv, const md_bar *bar, int closed)
{
    md_buf_putc(b, ',');
    md_render_ohlcv_fields(b, bar);
    md_json_num_opt(b, "vwap", bar->vwap);
    if (bar->trades >= 0) md_json_int(b, "trades", bar->trades);
    md_json_str(b, "source", md_source_name(bar->source));
    /* the REST rule (md_bar_partial) at the time of publishing: a bar whose period has not
     * ended yet (an ingested or fetched bar of the current period) is partial; live bars
     * are published once closed - by the clock, or by a tick of a later bucket, which may
     * come a little before this clock says the period is over (a source's clock ahead) */
    md_buf_puts(b, !closed && md_bar_partial(iv, bar->ts, MD_TS_MIN, MD_TS_MAX, md_now())
                       ? ",\"partial\":true"
                       : ",\"partial\":false");
}

md_frame *md_proto_bar(const char *symbol, md_interval iv, const md_bar *bar, uint64_t seq,
                       int closed)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"bar\",\"seq\":");
    md_buf_int(b, (int64_t)seq);
    md_json_str(b, "interval", md_interval_name(iv));
    md_json_str(b, "symbol", symbol);
    bar_members(b, iv, bar, closed);
    md_buf_putc(b, '}');
    md_frame *f = finish(b);
    f->seq = seq;
    f->channel = (uint8_t)(MD_CH_BAR + iv);
    snprintf(f->symbol, sizeof f->symbol, "%s", symbol);
    return f;
}

void md_proto_bar_fields(md_buf *out, md_interval iv, const md_bar *b, int closed)
{
    md_json_str(out, "interval", md_interval_name(iv));
    bar_members(out, iv, b, closed);
}

md_frame *md_proto_ext(const char *type, uint64_t seq, const char *channel, const char *symbol,
                       const char *fields, size_t fields_len)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":");
    md_buf_json_str(b, type);
    md_buf_puts(b, ",\"seq\":");
    md_buf_int(b, (int64_t)seq);
    md_buf_puts(b, ",\"channel\":");
    size_t n = strlen(channel), k = strlen(MD_XCH_PARTIAL_SUFFIX);
    if (n > k && strcmp(channel + n - k, MD_XCH_PARTIAL_SUFFIX) == 0) { /* the public name */
        char base[MD_XCH_NAME_MAX];
        snprintf(base, sizeof base, "%.*s", (int)(n - k), channel);
        md_buf_json_str(b, base);
    } else {
        md_buf_json_str(b, channel);
    }
    if (symbol && *symbol) {
        md_buf_puts(b, ",\"symbol\":");
        md_buf_json_str(b, symbol);
    }
    md_buf_append(b, fields, fields_len);
    md_buf_putc(b, '}');
    md_frame *f = finish(b);
    f->seq = seq;
    snprintf(f->symbol, sizeof f->symbol, "%s", symbol ? symbol : "");
    return f;
}

void md_proto_indicator_fields(md_buf *b, md_interval iv, const md_ind_spec *spec, int64_t ts,
                               const double *values, int partial)
{
    md_buf_puts(b, ",\"interval\":\"");
    md_buf_puts(b, md_interval_name(iv));
    md_buf_puts(b, "\",\"indicator\":");
    md_buf_json_str(b, spec->name);
    md_buf_puts(b, ",\"timestamp\":");
    md_buf_ts(b, ts, 1);
    const md_ind_def *d = spec->def;
    if (d->noutputs == 1) {
        md_buf_puts(b, ",\"value\":");
        md_buf_num(b, values[0]); /* NAN (warming up) is null */
    } else {
        md_buf_puts(b, ",\"values\":{");
        for (int k = 0; k < d->noutputs; k++) {
            if (k) md_buf_putc(b, ',');
            md_buf_json_str(b, d->outputs[k]);
            md_buf_putc(b, ':');
            md_buf_num(b, values[k]);
        }
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, partial ? ",\"partial\":true" : ",\"partial\":false");
}

md_frame *md_proto_welcome(const md_welcome *w)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"welcome\",\"server_time\":");
    md_buf_ts(b, w->server_time, 1);
    md_json_str(b, "session", w->session);
    md_json_str(b, "instance", w->instance);
    md_json_int(b, "seq", (int64_t)w->seq);
    if (w->sequence) md_json_str(b, "sequence", w->sequence);
    md_buf_puts(b, ",\"channels\":[");
    for (int i = 0; i < MD_CH_COUNT; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_json_str(b, ch_names[i]);
    }
    md_buf_puts(b, "],\"channel_patterns\":[\"ind.<indicator>@<interval>\",\"screen.<name>\","
                   "\"market.<MIC>\"]");
    md_buf_puts(b, ",\"limits\":{\"max_message_bytes\":");
    md_buf_int(b, (int64_t)w->max_message_bytes);
    md_json_int(b, "max_subscriptions", (int64_t)w->max_subscriptions);
    md_json_int(b, "max_messages_per_s", (int64_t)w->max_messages_per_s);
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
    for (size_t i = 0; i < op->n_xch; i++) {
        if (!first) md_buf_putc(b, ',');
        first = 0;
        md_buf_json_str(b, op->xch[i].name);
    }
    md_buf_putc(b, ']');
    if (op->partial) md_buf_puts(b, ",\"partial\":true");
}

md_frame *md_proto_subscribed(const md_op *op, uint32_t channels, uint64_t seq, size_t replayed,
                              int complete)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"subscribed\"");
    lists(b, op, channels);
    md_json_int(b, "seq", (int64_t)seq);
    if (op->has_since) {
        md_json_int(b, "replayed", (int64_t)replayed);
        md_json_bool(b, "replay_complete", complete);
    }
    md_buf_putc(b, '}');
    return finish(b);
}

md_frame *md_proto_unsubscribed(const md_op *op, uint32_t channels, size_t remaining)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"unsubscribed\"");
    lists(b, op, channels);
    md_json_int(b, "subscriptions", (int64_t)remaining);
    md_buf_putc(b, '}');
    return finish(b);
}

md_frame *md_proto_error(int rc, const char *message)
{
    md_buf b_ = MD_BUF_INIT, *b = &b_;
    md_buf_puts(b, "{\"type\":\"error\",\"code\":");
    md_buf_json_str(b, md_error_code(rc));
    md_json_str(b, "message", message && *message ? message : md_error_default(rc));
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
