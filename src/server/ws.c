/* ws.c - the WebSocket /stream protocol on one event loop: upgrades, client messages with
 * their limits, keep-alive pings, and coalesced writes of the hub's queues.
 *
 * Connection life cycle (all on the loop thread):
 *
 *   upgrade ─filter─> ESTABLISHED: session + welcome
 *        RECEIVE ──> fragments joined (max_message_bytes) ─> rate limit ─> op ─> answer queued
 *        hub wake ──> shard drain ─> queue ─> want writable
 *        WRITEABLE ─> pack queue (lagged first) into one buffer ─> one raw write of N frames
 *        sweep (1 s) ─> ping when silent ping_interval_s, close when silent idle_timeout_s
 *        abuse (max_violations limit errors within a minute) / overflow / shutdown
 *                   ─> close_code set ─> WRITEABLE ─> close frame ─> CLOSED: session freed
 *
 * Frames are pre-encoded by the hub (unmasked server frames are the same bytes for every
 * client), so a batch is the concatenation of shared frames, written with LWS_WRITE_RAW:
 * lws sends it and keeps whatever the socket did not take, and we write again only from the
 * next WRITEABLE callback (which lws gives once its own buffer is empty), so lws never holds
 * more than one batch per client and control frames (pong, close) never split a frame. */
#include "server/ws.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "stream/proto.h"
#include "stream/session.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define SWEEP_US (1000 * 1000)
#define VIOLATION_WINDOW_MS 60000

typedef struct conn conn;

struct md_ws_loop {
    md_services *svc;
    const md_config *cfg;
    struct lws_context *ctx;
    md_hub_shard *shard;
    md_buf out; /* the batch being written */
    conn *conns;
    atomic_int n_conns;
    atomic_int closing_all;
    int closed_all; /* close_all handled on the loop */
    lws_sorted_usec_list_t sweep;
};

struct conn {
    md_ws_loop *wl;
    struct lws *wsi;
    md_session *sess;
    md_buf rx;
    int rx_too_big;
    double tokens;
    int64_t tokens_ms;
    int strikes;
    int64_t strikes_since_ms;
    int64_t last_rx_ms, last_ping_ms;
    int want_write;
    int peer_closed;
    int close_code;
    int close_flushed;
    char close_reason[64];
    conn *prev, *next;
};

static atomic_int total_conns; /* across loops, for stream.max_clients */

/* -- writing ------------------------------------------------------------------------------- */

static void want_write(conn *c)
{
    if (c->want_write) return;
    c->want_write = 1;
    lws_callback_on_writable(c->wsi);
}

static void close_with(conn *c, int code, const char *reason)
{
    if (c->close_code) return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    want_write(c);
}

static void push(conn *c, md_frame *f)
{
    md_session_push(c->sess, f);
    want_write(c);
}

static void push_error(conn *c, int rc, const char *msg)
{
    push(c, md_proto_error(rc, msg));
}

static int on_writeable(conn *c)
{
    md_ws_loop *wl = c->wl;
    c->want_write = 0;
    if (c->peer_closed) return 0; /* lws answers the close */
    if (c->close_code && (c->close_flushed || !md_session_queued(c->sess))) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    md_buf_reset(&wl->out);
    size_t n = 0;
    int more = md_session_pack(c->sess, &wl->out, (size_t)wl->cfg->stream_write_batch_bytes, &n);
    if (wl->out.len) {
        if (lws_write(c->wsi, (unsigned char *)wl->out.data, wl->out.len, LWS_WRITE_RAW) < 0)
            return -1;
        md_metric_add(MD_M_STREAM_MESSAGES, (double)n);
    }
    if (c->close_code) { /* one last batch (the errors that explain the close), then close */
        c->close_flushed = 1;
        want_write(c);
    } else if (more) {
        want_write(c);
    }
    return 0;
}

static void session_ready(md_session *s, void *ctx)
{
    conn *c = md_session_user(s);
    if (md_session_overflowed(s))
        close_with(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too slow: queue overflow");
    else
        want_write(c);
}

/* -- limits -------------------------------------------------------------------------------- */

/* Counts a limit violation; past stream.max_violations within a minute the connection is
 * closed. Returns 1 when it is being closed. */
static int strike(conn *c, int64_t now)
{
    if (now - c->strikes_since_ms > VIOLATION_WINDOW_MS) {
        c->strikes = 0;
        c->strikes_since_ms = now;
    }
    if (++c->strikes >= c->wl->cfg->stream_max_violations) {
        close_with(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many limit violations");
        return 1;
    }
    return 0;
}

static int take_token(conn *c, int64_t now)
{
    double rate = (double)c->wl->cfg->stream_max_messages_per_s;
    c->tokens += (double)(now - c->tokens_ms) * rate / 1000.0;
    if (c->tokens > rate) c->tokens = rate;
    c->tokens_ms = now;
    if (c->tokens < 1.0) return 0;
    c->tokens -= 1.0;
    return 1;
}

/* -- messages ------------------------------------------------------------------------------ */

static void handle_message(conn *c, const char *msg, size_t len, int64_t now)
{
    md_ws_loop *wl = c->wl;
    if (!take_token(c, now)) {
        char m[96];
        snprintf(m, sizeof m, "more than %lld messages per second; message ignored",
                 (long long)wl->cfg->stream_max_messages_per_s);
        if (!strike(c, now)) push_error(c, MD_ERATELIMIT, m);
        return;
    }
    md_op op;
    md_error err;
    /* the message size bounds the symbol count; the session enforces max_subscriptions */
    int rc = md_proto_parse(msg, len, (size_t)-1, &op, &err);
    if (rc == 0) {
        switch (op.kind) {
        case MD_OP_SUBSCRIBE:
            rc = md_session_subscribe(c->sess, &op, &err);
            if (rc == MD_ESUBLIMIT && strike(c, now)) rc = 0; /* closing anyway */
            break;
        case MD_OP_UNSUBSCRIBE: rc = md_session_unsubscribe(c->sess, &op, &err); break;
        case MD_OP_PING: md_session_push(c->sess, md_proto_pong(md_now())); break;
        }
        md_op_deinit(&op);
    }
    if (rc) push_error(c, rc, err.msg);
    want_write(c);
}

static void on_receive(conn *c, const char *in, size_t len)
{
    md_ws_loop *wl = c->wl;
    int64_t now = md_mono_ms();
    c->last_rx_ms = now;
    if (c->close_code) return; /* closing: nothing more is answered */
    size_t max = (size_t)wl->cfg->stream_max_message_bytes;
    if (!c->rx_too_big) {
        if (c->rx.len + len > max) {
            c->rx_too_big = 1;
            md_buf_deinit(&c->rx);
        } else {
            md_buf_append(&c->rx, in, len);
        }
    }
    if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi)) return;
    if (c->rx_too_big) {
        c->rx_too_big = 0;
        char m[96];
        snprintf(m, sizeof m, "message larger than %zu bytes; ignored", max);
        if (!strike(c, now)) push_error(c, MD_ETOOBIG, m);
        return;
    }
    handle_message(c, c->rx.data ? c->rx.data : "", c->rx.len, now);
    md_buf_reset(&c->rx);
}

/* -- connections --------------------------------------------------------------------------- */

static conn *conn_open(md_ws_loop *wl, struct lws *wsi)
{
    conn *c = md_calloc(1, sizeof *c);
    c->wl = wl;
    c->wsi = wsi;
    c->sess = md_session_new(wl->shard, c);
    int64_t now = md_mono_ms();
    c->last_rx_ms = c->tokens_ms = c->strikes_since_ms = now;
    c->tokens = (double)wl->cfg->stream_max_messages_per_s;
    c->next = wl->conns;
    if (wl->conns) wl->conns->prev = c;
    wl->conns = c;
    atomic_fetch_add(&wl->n_conns, 1);
    atomic_fetch_add(&total_conns, 1);
    md_metric_add(MD_M_STREAM_CLIENTS, 1);
    if (wl->cfg->stream_send_buffer_bytes > 0) {
        int sz = (int)wl->cfg->stream_send_buffer_bytes;
        setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    md_hub *hub = wl->svc->hub;
    char session[64];
    snprintf(session, sizeof session, "%s-%llu", md_hub_instance(hub),
             (unsigned long long)md_session_id(c->sess));
    md_welcome w = {
        .session = session,
        .instance = md_hub_instance(hub),
        .server_time = md_now(),
        .seq = md_hub_last_seq(hub),
        .max_message_bytes = (size_t)wl->cfg->stream_max_message_bytes,
        .max_subscriptions = (size_t)wl->cfg->stream_max_subscriptions,
        .max_messages_per_s = (size_t)wl->cfg->stream_max_messages_per_s,
    };
    push(c, md_proto_welcome(&w));
    if (atomic_load(&wl->closing_all))
        close_with(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    MD_DEBUG("stream", "client connected session=%s", session);
    return c;
}

static void conn_close(conn *c)
{
    md_ws_loop *wl = c->wl;
    if (c->prev)
        c->prev->next = c->next;
    else
        wl->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    md_session_stats st;
    md_session_get_stats(c->sess, &st);
    MD_DEBUG("stream", "client closed session=%llu delivered=%llu dropped=%llu",
             (unsigned long long)md_session_id(c->sess), (unsigned long long)st.delivered,
             (unsigned long long)st.dropped);
    md_session_free(c->sess);
    md_buf_deinit(&c->rx);
    md_free(c);
    atomic_fetch_sub(&wl->n_conns, 1);
    atomic_fetch_sub(&total_conns, 1);
    md_metric_add(MD_M_STREAM_CLIENTS, -1);
}

/* Every second: ping the silent, drop the dead. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    md_ws_loop *wl = lws_container_of(sul, md_ws_loop, sweep);
    int64_t now = md_mono_ms();
    int64_t ping_ms = wl->cfg->stream_ping_interval_s * 1000;
    int64_t idle_ms = wl->cfg->stream_idle_timeout_s * 1000;
    static const unsigned char payload[] = "mdagent";
    for (conn *c = wl->conns; c; c = c->next) {
        if (c->close_code) continue;
        int64_t silent = now - c->last_rx_ms;
        if (idle_ms && silent >= idle_ms) {
            close_with(c, LWS_CLOSE_STATUS_GOINGAWAY, "idle timeout");
        } else if (ping_ms && silent >= ping_ms && now - c->last_ping_ms >= ping_ms) {
            c->last_ping_ms = now;
            push(c, md_frame_control(0x9, payload, sizeof payload - 1));
        }
    }
    lws_sul_schedule(wl->ctx, 0, &wl->sweep, sweep, SWEEP_US);
}

/* -- the loop ------------------------------------------------------------------------------ */

static void wake(void *ctx)
{
    lws_cancel_service(ctx);
}

md_ws_loop *md_ws_loop_new(md_services *svc, struct lws_context *ctx)
{
    md_ws_loop *wl = md_calloc(1, sizeof *wl);
    wl->svc = svc;
    wl->cfg = svc->cfg;
    wl->ctx = ctx;
    wl->shard = md_hub_shard_new(svc->hub, wake, ctx);
    lws_sul_schedule(ctx, 0, &wl->sweep, sweep, SWEEP_US);
    return wl;
}

void md_ws_loop_free(md_ws_loop *wl)
{
    if (!wl) return;
    while (wl->conns) conn_close(wl->conns); /* only if lws did not close them */
    md_hub_shard_free(wl->shard);
    md_buf_deinit(&wl->out);
    md_free(wl);
}

int md_ws_filter(md_ws_loop *wl, struct lws *wsi)
{
    char uri[64];
    if (atomic_load(&wl->closing_all)) return -1;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) return -1;
    size_t n = strlen(uri);
    if (n > 1 && uri[n - 1] == '/') uri[--n] = 0;
    if (strcmp(uri, "/stream") != 0) return -1;
    if (atomic_load(&total_conns) >= wl->cfg->stream_max_clients) {
        MD_WARN("stream", "upgrade refused: stream.max_clients=%lld reached",
                (long long)wl->cfg->stream_max_clients);
        return -1;
    }
    return 0;
}

int md_ws_handles(enum lws_callback_reasons reason)
{
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED: return 1;
    default: return 0;
    }
}

int md_ws_callback(md_ws_loop *wl, struct lws *wsi, enum lws_callback_reasons reason, void **slot,
                   void *in, size_t len)
{
    conn *c = *slot;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: *slot = conn_open(wl, wsi); return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c) on_receive(c, in, len);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c) c->last_rx_ms = md_mono_ms();
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: return c ? on_writeable(c) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c) c->peer_closed = 1; /* lws answers; stop writing */
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            *slot = NULL;
            conn_close(c);
        }
        return 0;
    default: return 0;
    }
}

void md_ws_wake(md_ws_loop *wl)
{
    if (atomic_load(&wl->closing_all) && !wl->closed_all) {
        wl->closed_all = 1;
        for (conn *c = wl->conns; c; c = c->next)
            close_with(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
    md_hub_shard_drain(wl->shard, session_ready, wl);
}

void md_ws_close_all(md_ws_loop *wl)
{
    atomic_store(&wl->closing_all, 1);
}

int md_ws_count(md_ws_loop *wl)
{
    return atomic_load(&wl->n_conns);
}
