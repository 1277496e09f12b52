/* ws.c - WebSocket /stream on one event loop: the opening handshake, client frames (through
 * wsframe.c) and messages with their limits, keep-alive pings, and the fan-out writes of the
 * hub's queues.
 *
 * Connection life cycle (all on the loop thread):
 *
 *   GET /stream + Upgrade (conn.c) ─> 101, session, welcome queued ─> OPEN
 *     OPEN: frames in ─> message (rate limit, max_message_bytes) ─> op ─> answer queued
 *           hub wake ─> shard drain ─> queues ─> ready list ─> writev of each ready client
 *           timer ─> ping when silent ping_interval_s, 1001 when silent idle_timeout_s
 *     close_with(code): abuse (max_violations in a minute), overflow (1008), protocol error
 *           (1002/1007/1009), binary data (1003), shutdown (1001), peer close (echoed)
 *           ─> one last batch (the errors that explain it; after a peer close the messages
 *              queued when it came; after a protocol error none)
 *           ─> the rest of a frame written in part (frames go out whole, RFC 6455 5.2)
 *           ─> close frame ─> our side shut ─> EOF from the peer or 2 s ─> closed, session freed
 *
 * Fan-out (issue 20): the hub hands each loop's shard one shared frame per message; a drain
 * appends a reference to every subscribed session's queue and lists the sessions that got
 * something. Each listed client whose socket is not full is written at once, all its queued
 * frames in one writev straight from the shared frames (no copy, no per-client allocation);
 * a client whose socket filled up waits for EPOLLOUT (its queue grows and conflates per
 * session.h) and only such clients get output events. All of this runs on a stream loop
 * (server.c), never on the loop that reads HTTP requests, so an ingest acknowledgement never
 * waits behind a fan-out to thousands of clients; the writes of one drain still go in slices
 * of about half a millisecond, with a look at the loop's other sockets between slices. */
#include "server/server_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "server/wsframe.h"
#include "stream/proto.h"
#include "stream/session.h"

#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define VIOLATION_WINDOW_MS 60000
#define CLOSE_LINGER_MS 2000
#define MAX_IOV 256
#define SLICE_NS 500000 /* fan-out writes between looks at completions and sockets */
#define URING_BATCH 64  /* clients written per io_uring_enter */

typedef struct ws_out ws_out_batch;

struct md_ws_loop {
    srv_loop *sl;
    md_services *svc;
    const md_config *cfg;
    md_hub_shard *shard;
    md_ws_conn *conns;
    atomic_int n_conns;
    atomic_int closing_all;
    int closed_all;
    md_conn *ready_head, *ready_tail; /* clients to write */
    uint64_t delivered;               /* messages written, not yet added to the metric */
    int uring;                        /* the ring below writes the fan-out (else writev) */
    struct io_uring ring;
    ws_out_batch *outs; /* URING_BATCH writes being made */
};

struct md_ws_conn {
    md_conn *c;
    md_session *sess;
    md_ws_parser parser;
    double tokens;
    int64_t tokens_ms;
    int strikes;
    int64_t strikes_since_ms;
    int64_t last_rx_ms, last_ping_ms;
    int blocked;  /* the socket is full: EPOLLOUT resumes */
    int in_ready; /* on the loop's ready list */
    md_conn *ready_next;
    int close_code;         /* set: closing */
    int close_flushed;      /* the last batch before the close frame went out */
    size_t close_after;     /* messages still to write before the close frame (peer close) */
    int close_queued;       /* the close frame is in c->out */
    int close_sent;         /* ... and written; our side is shut */
    int64_t close_since_ms; /* when the timer first found the close pending */
    char close_reason[64];
    md_ws_conn *prev, *next;
};

static atomic_int total_conns; /* across loops, for stream.max_clients */

static void flush(md_conn *c);

/* -- writing ------------------------------------------------------------------------------- */

static void want_write(md_conn *c)
{
    md_ws_conn *w = c->ws;
    md_ws_loop *wl = c->sl->ws;
    if (w->in_ready || w->blocked) return;
    w->in_ready = 1;
    w->ready_next = NULL;
    if (wl->ready_tail)
        wl->ready_tail->ws->ready_next = c;
    else
        wl->ready_head = c;
    wl->ready_tail = c;
    md_loop_want_more(c->sl->loop);
}

static void close_with(md_conn *c, int code, const char *reason)
{
    md_ws_conn *w = c->ws;
    if (w->close_code) return;
    w->close_code = code;
    snprintf(w->close_reason, sizeof w->close_reason, "%s", reason);
    want_write(c);
}

/* Something was queued for c: written soon, or c is closed when its queue went past the
 * hard bound (session.h), whatever filled it. */
static void queued(md_conn *c)
{
    if (md_session_overflowed(c->ws->sess))
        close_with(c, 1008, "too slow: queue overflow");
    else
        want_write(c);
}

static void push(md_conn *c, md_frame *f)
{
    md_session_push(c->ws->sess, f);
    queued(c);
}

static void push_error(md_conn *c, int rc, const char *msg)
{
    push(c, md_proto_error(rc, msg));
}

static void queue_close_frame(md_conn *c)
{
    md_ws_conn *w = c->ws;
    unsigned char payload[2 + sizeof w->close_reason];
    size_t rl = strlen(w->close_reason);
    payload[0] = (unsigned char)(w->close_code >> 8);
    payload[1] = (unsigned char)w->close_code;
    memcpy(payload + 2, w->close_reason, rl);
    unsigned char hdr[10];
    size_t h = md_frame_header(hdr, 0x8, 2 + rl);
    if (c->out_off >= c->out.len) {
        md_buf_reset(&c->out);
        c->out_off = 0;
    }
    md_buf_append(&c->out, hdr, h);
    md_buf_append(&c->out, payload, 2 + rl);
    w->close_queued = 1;
}

/* Takes the first client off the ready list (there is one). */
static md_conn *ready_pop(md_ws_loop *wl)
{
    md_conn *c = wl->ready_head;
    md_ws_conn *w = c->ws;
    wl->ready_head = w->ready_next;
    if (!wl->ready_head) wl->ready_tail = NULL;
    w->in_ready = 0;
    w->ready_next = NULL;
    return c;
}

/* One write of a client: bytes in c->out first (the 101 answer, a close frame), then its
 * queue, straight from the shared frames. */
typedef struct ws_out {
    struct iovec iov[MAX_IOV];
    struct msghdr mh;
    int n;
    size_t total, out_left;
} ws_out;

/* Fills o with what c has to write; 0 when there is nothing (or c cannot be written now).
 * Once the last batch before a close went out, only the rest of a frame written in part
 * may precede the close frame: a frame is never cut (RFC 6455 5.2). */
static int out_prep(md_conn *c, ws_out *o)
{
    md_ws_conn *w = c->ws;
    md_ws_loop *wl = c->sl->ws;
    if (c->state != CS_WS || w->blocked || w->close_sent) return 0;
    int last = w->close_code && !w->close_queued &&
               (w->close_flushed || !md_session_pending(w->sess)); /* the close is next */
    if (last && !md_session_head_started(w->sess)) queue_close_frame(c);
    int n = 0;
    size_t total = 0;
    o->out_left = c->out.len - c->out_off;
    if (o->out_left) {
        o->iov[n].iov_base = c->out.data + c->out_off;
        o->iov[n++].iov_len = o->out_left;
        total += o->out_left;
    }
    if (!w->close_queued) { /* last: the head's rest alone (md_session_iov puts it first) */
        int k = md_session_iov(w->sess, o->iov + n, last ? 1 : MAX_IOV - n,
                               (size_t)wl->cfg->stream_write_batch_bytes);
        for (int i = n; i < n + k; i++) total += o->iov[i].iov_len;
        n += k;
    }
    o->n = n;
    o->total = total;
    if (n == 0 && w->close_queued) { /* the close frame is out: wait for the peer's EOF */
        w->close_sent = 1;
        shutdown(c->ev.fd, SHUT_WR);
        md_loop_timer(c->sl->loop, &c->timer, md_loop_now(c->sl->loop) + CLOSE_LINGER_MS);
    }
    return n > 0;
}

/* Takes the outcome of writing o (bytes, or -errno); 1 when c may have more to write now. */
static int out_done(md_conn *c, const ws_out *o, ssize_t k)
{
    md_ws_conn *w = c->ws;
    md_ws_loop *wl = c->sl->ws;
    if (k < 0) {
        if (k == -EINTR) return 1;
        if (k == -EAGAIN) {
            w->blocked = 1;
            return 0;
        }
        md_conn_close(c);
        return 0;
    }
    size_t done = (size_t)k;
    size_t from_out = done < o->out_left ? done : o->out_left;
    c->out_off += from_out;
    if (c->out_off >= c->out.len && c->out.len) {
        md_buf_reset(&c->out);
        c->out_off = 0;
    }
    if (done > from_out) {
        size_t msgs = md_session_consume(w->sess, done - from_out);
        wl->delivered += msgs;
        if (w->close_code) { /* one batch after the close decision, or what a peer close waits for */
            w->close_after = msgs < w->close_after ? w->close_after - msgs : 0;
            if (!w->close_after) w->close_flushed = 1;
        }
    }
    if (done < o->total) { /* the socket is full: EPOLLOUT (edge) comes when it drains */
        w->blocked = 1;
        return 0;
    }
    return 1;
}

/* Writes what c has, in one writev per round, until everything is written or the socket is
 * full. */
static void flush(md_conn *c)
{
    ws_out o;
    while (out_prep(c, &o)) {
        ssize_t k = writev(c->ev.fd, o.iov, o.n);
        if (!out_done(c, &o, k < 0 ? -(ssize_t)errno : k)) return;
    }
}

/* The fan-out's writes of up to URING_BATCH ready clients go to the kernel in one
 * io_uring_enter (issue 20: at one message per client per tick, the system call around each
 * send was a fifth of the time). Every send is non-blocking (MSG_DONTWAIT): the kernel does it
 * during the call, as writev would, and a full socket answers -EAGAIN instead of waiting, so
 * all completions are there when the call returns and the frames need to live no longer. */
static int uring_round(md_ws_loop *wl)
{
    md_conn *cs[URING_BATCH] = {0};
    int m = 0;
    while (m < URING_BATCH && wl->ready_head) {
        md_conn *c = ready_pop(wl);
        ws_out *o = &wl->outs[m];
        if (!out_prep(c, o)) continue;
        struct io_uring_sqe *sqe = io_uring_get_sqe(&wl->ring);
        if (o->n == 1) {
            io_uring_prep_send(sqe, c->ev.fd, o->iov[0].iov_base, o->iov[0].iov_len,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            memset(&o->mh, 0, sizeof o->mh);
            o->mh.msg_iov = o->iov;
            o->mh.msg_iovlen = (size_t)o->n;
            io_uring_prep_sendmsg(sqe, c->ev.fd, &o->mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        io_uring_sqe_set_data64(sqe, (uint64_t)m);
        cs[m++] = c;
    }
    if (m == 0) return 0;
    int sub = 0; /* the kernel takes the entries in order: these are cs[0 .. sub - 1] */
    while (sub < m) {
        int r = io_uring_submit(&wl->ring);
        if (r > 0)
            sub = r < m - sub ? sub + r : m;
        else if (r != -EINTR)
            break;
    }
    unsigned char got[URING_BATCH] = {0};
    for (int seen = 0; seen < sub;) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&wl->ring, &cqe); /* they are there: no system call */
        if (r == -EINTR) continue;
        if (r < 0) { /* what these clients got is unknown: close rather than repeat it */
            MD_WARN("stream", "io_uring completions lost (%s): closing %d clients", strerror(-r),
                    sub - seen);
            for (int i = 0; i < sub; i++)
                if (!got[i] && cs[i]) md_conn_close(cs[i]);
            break;
        }
        uint64_t i = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&wl->ring, cqe);
        if (i >= (uint64_t)sub || got[i]) continue; /* not one of ours */
        seen++;
        got[i] = 1;
        md_conn *c = cs[i];
        if (out_done(c, &wl->outs[i], res) && c->state == CS_WS &&
            (md_session_pending(c->ws->sess) || c->ws->close_code))
            want_write(c); /* more than one write's worth: its next turn */
    }
    if (sub < m) { /* not expected: the rest with writev, and writev from now on */
        MD_WARN("stream", "io_uring took %d of %d sends: writing with writev from now on", sub, m);
        wl->uring = 0;
        io_uring_queue_exit(&wl->ring);
        for (int i = sub; i < m; i++) {
            ws_out *o = &wl->outs[i];
            ssize_t k = writev(cs[i]->ev.fd, o->iov, o->n);
            if (out_done(cs[i], o, k < 0 ? -(ssize_t)errno : k)) flush(cs[i]);
        }
    }
    return m;
}

static void session_ready(md_session *s, void *ctx)
{
    (void)ctx;
    queued(md_session_user(s));
}

int md_ws_more(md_ws_loop *wl)
{
    int64_t start = md_mono_ns();
    int n = 0;
    while (wl->ready_head) {
        if (wl->uring) {
            n += uring_round(wl);
            if (md_mono_ns() - start > SLICE_NS) break;
            continue;
        }
        flush(ready_pop(wl));
        if (++n % 32 == 0 && md_mono_ns() - start > SLICE_NS) break;
    }
    /* Between slices the core goes to whatever else is waiting for it (sched_yield returns
     * at once when nothing is): an ingest being stored or answered, and the threads that
     * will read that answer and these messages. The fan-out is bulk work; with a stream loop
     * per core it would otherwise hold every core for its whole scheduler slice after each
     * tick (bench/README.md: the acknowledgement's tail with clients on the same machine). */
    if (wl->ready_head) sched_yield();
    if (wl->delivered) {
        md_metric_add(MD_M_STREAM_MESSAGES, (double)wl->delivered);
        wl->delivered = 0;
    }
    return wl->ready_head != NULL;
}

/* -- limits -------------------------------------------------------------------------------- */

/* Counts a limit violation; past stream.max_violations within a minute the connection is
 * closed. Returns 1 when it is being closed. */
static int strike(md_conn *c, int64_t now)
{
    md_ws_conn *w = c->ws;
    if (now - w->strikes_since_ms > VIOLATION_WINDOW_MS) {
        w->strikes = 0;
        w->strikes_since_ms = now;
    }
    if (++w->strikes >= c->sl->ws->cfg->stream_max_violations) {
        close_with(c, 1008, "too many limit violations");
        return 1;
    }
    return 0;
}

static int take_token(md_conn *c, int64_t now)
{
    md_ws_conn *w = c->ws;
    double rate = (double)c->sl->ws->cfg->stream_max_messages_per_s;
    w->tokens += (double)(now - w->tokens_ms) * rate / 1000.0;
    if (w->tokens > rate) w->tokens = rate;
    w->tokens_ms = now;
    if (w->tokens < 1.0) return 0;
    w->tokens -= 1.0;
    return 1;
}

/* -- messages ------------------------------------------------------------------------------ */

static void handle_message(md_conn *c, const char *msg, size_t len, int64_t now)
{
    md_ws_conn *w = c->ws;
    const md_config *cfg = c->sl->ws->cfg;
    if (!take_token(c, now)) {
        char m[96];
        snprintf(m, sizeof m, "more than %lld messages per second; message ignored",
                 (long long)cfg->stream_max_messages_per_s);
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
            rc = md_session_subscribe(w->sess, &op, &err);
            if (rc == MD_ESUBLIMIT && strike(c, now)) rc = 0; /* closing anyway */
            break;
        case MD_OP_UNSUBSCRIBE: rc = md_session_unsubscribe(w->sess, &op, &err); break;
        case MD_OP_PING: md_session_push(w->sess, md_proto_pong(md_now())); break;
        }
        md_op_deinit(&op);
    }
    if (rc) md_session_push(w->sess, md_proto_error(rc, err.msg));
    queued(c);
}

/* A message past stream.max_message_bytes was skipped: an error, or a strike. */
static void too_big(md_conn *c, int64_t now)
{
    char m[96];
    snprintf(m, sizeof m, "message larger than %lld bytes; ignored",
             (long long)c->sl->ws->cfg->stream_max_message_bytes);
    if (!strike(c, now)) push_error(c, MD_ETOOBIG, m);
}

/* Fails the connection with code: what is not started is dropped, a started frame finished. */
static int fail_with(md_conn *c, int code, const char *why)
{
    close_with(c, code, why);
    c->ws->close_flushed = 1;
    return -1;
}

/* Handles one parser event; returns -1 when reading should stop. */
static int on_frame_event(md_conn *c, const md_ws_event *ev, int64_t now)
{
    md_ws_conn *w = c->ws;
    switch (ev->kind) {
    case MD_WS_EV_MESSAGE:
    case MD_WS_EV_TOOBIG:
        if (w->close_code) return 0;
        if (ev->opcode == 2) /* the protocol is JSON text: binary data is not understood */
            return fail_with(c, 1003, "binary frames are not supported: send JSON text");
        if (ev->kind == MD_WS_EV_TOOBIG)
            too_big(c, now);
        else
            handle_message(c, (const char *)ev->data, ev->len, now);
        return 0;
    case MD_WS_EV_PING: /* one unsent pong at most: a ping flood costs no memory */
        if (!w->close_code) {
            md_session_push_pong(w->sess, md_frame_control(0xA, ev->data, ev->len));
            queued(c);
        }
        return 0;
    case MD_WS_EV_PONG: return 0;
    case MD_WS_EV_CLOSE:
        if (w->close_code) return -1; /* ours is on its way */
        /* echo the peer's code (RFC 6455 5.5.1) after the messages queued when it came (not
         * after fan-out that arrives later), then close */
        close_with(c, ev->code == 1005 ? 1000 : ev->code, "");
        w->close_after = md_session_queued(w->sess);
        w->close_flushed = !w->close_after;
        return -1;
    case MD_WS_EV_ERROR: return fail_with(c, ev->code, ev->why ? ev->why : "protocol error");
    default: return 0;
    }
}

/* Feeds data to the parser; returns -1 when the connection stopped taking input. */
static int feed(md_conn *c, const unsigned char *data, size_t n, int64_t now)
{
    md_ws_conn *w = c->ws;
    while (n) {
        md_ws_event ev;
        size_t used = md_ws_parse(&w->parser, data, n, &ev);
        data += used;
        n -= used;
        if (ev.kind && on_frame_event(c, &ev, now) < 0) return -1;
        if (!used && !ev.kind) return -1;
        if (c->state != CS_WS) return -1;
    }
    return 0;
}

static void ws_input(md_conn *c)
{
    md_ws_conn *w = c->ws;
    srv_loop *sl = c->sl;
    int64_t now = md_loop_now(sl->loop);
    while (c->readable && c->state == CS_WS) {
        ssize_t r = recv(c->ev.fd, sl->rbuf, sl->rbuf_cap, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                c->readable = 0;
                break;
            }
            md_conn_close(c);
            return;
        }
        if (r == 0) { /* EOF: after our close frame that is the end; before it, a lost peer */
            md_conn_close(c);
            return;
        }
        if ((size_t)r < sl->rbuf_cap) c->readable = 0;
        w->last_rx_ms = now;
        if (w->parser.failed || w->close_sent) continue; /* closing: input is dropped */
        feed(c, (const unsigned char *)sl->rbuf, (size_t)r, now);
    }
}

void md_ws_on_event(md_conn *c, uint32_t events)
{
    md_ws_conn *w = c->ws;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && w->blocked) {
        w->blocked = 0;
        flush(c);
    }
    if (c->state == CS_WS && c->readable) ws_input(c);
    /* answers to this client's own messages go at once, not after a fan-out slice (the ready
     * list then finds nothing left to write) */
    if (c->state == CS_WS && w->in_ready && !w->blocked) flush(c);
}

/* Pings the silent, drops the dead; re-arms itself for the next thing due. */
void md_ws_on_timer(md_conn *c)
{
    md_ws_conn *w = c->ws;
    const md_config *cfg = c->sl->ws->cfg;
    int64_t now = md_loop_now(c->sl->loop);
    if (w->close_sent) { /* the peer did not close in time */
        md_conn_close(c);
        return;
    }
    int64_t ping_ms = cfg->stream_ping_interval_s * 1000,
            idle_ms = cfg->stream_idle_timeout_s * 1000;
    int64_t silent = now - w->last_rx_ms;
    if (!w->close_code) {
        if (idle_ms && silent >= idle_ms) {
            close_with(c, 1001, "idle timeout");
        } else if (ping_ms && silent >= ping_ms && now - w->last_ping_ms >= ping_ms) {
            static const unsigned char payload[] = "mdagent";
            w->last_ping_ms = now;
            push(c, md_frame_control(0x9, payload, sizeof payload - 1));
        }
    }
    int64_t due = 0;
    if (w->close_code) { /* a close that cannot be written (a full socket): give up on it */
        if (w->close_since_ms && now - w->close_since_ms >= CLOSE_LINGER_MS * 5) {
            md_conn_close(c);
            return;
        }
        if (!w->close_since_ms) w->close_since_ms = now;
        due = w->close_since_ms + CLOSE_LINGER_MS * 5;
    } else {
        if (idle_ms) due = w->last_rx_ms + idle_ms;
        if (ping_ms) {
            int64_t p = w->last_rx_ms + ping_ms;
            if (p <= now) p = w->last_ping_ms + ping_ms;
            if (!due || p < due) due = p;
        }
        if (due && due <= now) due = now + 1000;
    }
    md_loop_timer(c->sl->loop, &c->timer, due);
}

/* -- connections --------------------------------------------------------------------------- */

int md_ws_upgrade(md_ws_loop *wl, md_conn *c, const md_http_head *h, md_error *err)
{
    const md_config *cfg = wl->cfg;
    if (h->http_minor < 1) /* RFC 6455 4.1 */
        return md_error_set(err, MD_EBADREQ, "a WebSocket upgrade needs HTTP/1.1");
    /* bytes after the head are the client's first frames: a body would be read as frames */
    if (h->content_length > 0 || h->chunked)
        return md_error_set(err, MD_EBADREQ, "a WebSocket upgrade takes no request body");
    if (!h->ws_version || strcmp(h->ws_version, "13") != 0)
        return md_error_set(err, MD_EUPGRADE,
                            "unsupported Sec-WebSocket-Version: this server speaks version 13");
    if (md_ws_accept_key(h->ws_key, c->ws_accept) != 0)
        return md_error_set(err, MD_EBADREQ, "missing or malformed Sec-WebSocket-Key");
    if (atomic_load(&wl->closing_all))
        return md_error_set(err, MD_EUNAVAIL, "server is shutting down");
    /* the place is taken here, on the loop that checks, so that upgrades on their way to a
     * stream loop count against the limit too */
    if (atomic_fetch_add(&total_conns, 1) >= cfg->stream_max_clients) {
        atomic_fetch_sub(&total_conns, 1);
        MD_WARN("stream", "upgrade refused: stream.max_clients=%lld reached",
                (long long)cfg->stream_max_clients);
        return md_error_set(err, MD_EBUSY, "too many stream clients (stream.max_clients)");
    }
    c->ws_proto = 0;
    if (h->ws_protocol) { /* a client may name "mdagent" (none is needed) */
        const char *p = h->ws_protocol;
        for (;;) {
            while (*p == ' ' || *p == ',') p++;
            size_t n = strcspn(p, ", ");
            if (!n) break;
            if (n == 7 && strncmp(p, "mdagent", 7) == 0) {
                c->ws_proto = 1;
                break;
            }
            p += n;
        }
    }
    c->state = CS_MOVING;
    if (wl->sl == c->sl)
        md_ws_begin(c);
    else /* nothing of c is touched here any more: md_conn_reap hands it over */
        md_loop_timer_remove(c->sl->loop, &c->timer);
    return 0;
}

void md_ws_unreserve(void)
{
    atomic_fetch_sub(&total_conns, 1);
}

void md_ws_begin(md_conn *c)
{
    md_ws_loop *wl = c->sl->ws;
    const md_config *cfg = wl->cfg;
    md_ws_conn *w = md_calloc(1, sizeof *w);
    w->c = c;
    c->ws = w;
    c->state = CS_WS;
    md_ws_parser_init(&w->parser, (size_t)cfg->stream_max_message_bytes);
    w->sess = md_session_new(wl->shard, c);
    int64_t now = md_loop_now(c->sl->loop);
    w->last_rx_ms = w->tokens_ms = w->strikes_since_ms = now;
    w->tokens = (double)cfg->stream_max_messages_per_s;
    w->next = wl->conns;
    if (wl->conns) wl->conns->prev = w;
    wl->conns = w;
    atomic_fetch_add(&wl->n_conns, 1);
    md_metric_add(MD_M_STREAM_CLIENTS, 1);
    if (cfg->stream_send_buffer_bytes > 0) {
        int sz = (int)cfg->stream_send_buffer_bytes;
        setsockopt(c->ev.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    /* the 101 answer goes out first, ahead of the welcome */
    md_buf_reset(&c->out);
    c->out_off = 0;
    md_buf_puts(&c->out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    md_buf_puts(&c->out, c->ws_accept);
    md_buf_puts(&c->out, "\r\n");
    if (c->ws_proto) md_buf_puts(&c->out, "Sec-WebSocket-Protocol: mdagent\r\n");
    md_buf_puts(&c->out, "\r\n");
    md_hub *hub = wl->svc->hub;
    char session[64];
    snprintf(session, sizeof session, "%s-%llu", md_hub_instance(hub),
             (unsigned long long)md_session_id(w->sess));
    md_welcome wel = {
        .session = session,
        .instance = md_hub_instance(hub),
        .server_time = md_now(),
        .seq = md_hub_last_seq(hub),
        .sequence = md_hub_sequenced(hub) ? "deployment" : "instance",
        .max_message_bytes = (size_t)cfg->stream_max_message_bytes,
        .max_subscriptions = (size_t)cfg->stream_max_subscriptions,
        .max_messages_per_s = (size_t)cfg->stream_max_messages_per_s,
    };
    md_session_push(w->sess, md_proto_welcome(&wel));
    MD_DEBUG("stream", "client connected session=%s", session);
    md_loop_timer(c->sl->loop, &c->timer, now + 1000);
    /* adopted while the loop closes every stream: this one goes the same way */
    if (wl->closed_all) close_with(c, 1001, "server shutting down");
    flush(c);
    if (c->state != CS_WS) return;
    /* frames the client sent right behind its handshake */
    if (c->in.len > c->in_off) {
        md_buf rest = c->in;
        size_t off = c->in_off;
        memset(&c->in, 0, sizeof c->in);
        c->in_off = 0;
        feed(c, (const unsigned char *)rest.data + off, rest.len - off, now);
        md_buf_deinit(&rest);
    } else {
        md_buf_deinit(&c->in);
        c->in_off = 0;
    }
    if (c->state == CS_WS && c->readable) ws_input(c);
}

void md_ws_conn_free(md_conn *c)
{
    md_ws_conn *w = c->ws;
    if (!w) return;
    md_ws_loop *wl = c->sl->ws;
    if (w->in_ready) { /* unlink from the ready list */
        md_conn *prev = NULL;
        for (md_conn *x = wl->ready_head; x; prev = x, x = x->ws->ready_next) {
            if (x != c) continue;
            if (prev)
                prev->ws->ready_next = w->ready_next;
            else
                wl->ready_head = w->ready_next;
            if (wl->ready_tail == c) wl->ready_tail = prev;
            break;
        }
    }
    if (w->prev)
        w->prev->next = w->next;
    else
        wl->conns = w->next;
    if (w->next) w->next->prev = w->prev;
    md_session_stats st;
    md_session_get_stats(w->sess, &st);
    MD_DEBUG("stream", "client closed session=%llu delivered=%llu dropped=%llu",
             (unsigned long long)md_session_id(w->sess), (unsigned long long)st.delivered,
             (unsigned long long)st.dropped);
    md_session_free(w->sess);
    md_ws_parser_deinit(&w->parser);
    md_free(w);
    c->ws = NULL;
    atomic_fetch_sub(&wl->n_conns, 1);
    atomic_fetch_sub(&total_conns, 1);
    md_metric_add(MD_M_STREAM_CLIENTS, -1);
}

/* -- the loop ------------------------------------------------------------------------------ */

static void wake(void *ctx)
{
    md_loop_wake(ctx);
}

md_ws_loop *md_ws_loop_new(srv_loop *sl, md_services *svc)
{
    md_ws_loop *wl = md_calloc(1, sizeof *wl);
    wl->sl = sl;
    wl->svc = svc;
    wl->cfg = svc->cfg;
    wl->shard = md_hub_shard_new(svc->hub, wake, sl->loop);
    if (svc->cfg->stream_io_uring) {
        int r = io_uring_queue_init(URING_BATCH, &wl->ring, 0);
        if (r == 0) {
            wl->uring = 1;
            wl->outs = md_calloc(URING_BATCH, sizeof *wl->outs);
        } else {
            MD_INFO("stream", "io_uring unavailable (%s): the fan-out writes with writev",
                    strerror(-r));
        }
    }
    return wl;
}

void md_ws_loop_free(md_ws_loop *wl)
{
    if (!wl) return;
    if (wl->uring) io_uring_queue_exit(&wl->ring);
    md_free(wl->outs);
    md_hub_shard_free(wl->shard);
    md_free(wl);
}

void md_ws_wake(md_ws_loop *wl)
{
    if (atomic_load(&wl->closing_all) && !wl->closed_all) {
        wl->closed_all = 1;
        for (md_ws_conn *w = wl->conns; w; w = w->next)
            close_with(w->c, 1001, "server shutting down");
    }
    md_hub_shard_drain(wl->shard, session_ready, wl);
    if (wl->ready_head) md_ws_more(wl); /* the first slice now */
    if (wl->ready_head) md_loop_want_more(wl->sl->loop);
}

void md_ws_close_all(md_ws_loop *wl)
{
    atomic_store(&wl->closing_all, 1);
}

int md_ws_count(md_ws_loop *wl)
{
    return atomic_load(&wl->n_conns);
}
