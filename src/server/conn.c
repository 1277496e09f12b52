/* conn.c - HTTP/1.1 connections on an event loop: reading heads and bodies, answering what
 * the head alone settles, writing responses, keep-alive, deadlines.
 *
 * Connection states (one deadline each; the loop's timer heap enforces it):
 *
 *   accept -> HEAD --head complete--> checks on the head alone: target, route (404/405),
 *     ^   idle: server.idle_timeout_ms        API key (401/403), length (411/413), body budget
 *     |   partial: server.header_timeout_ms   (503), draining: upgrades 503, others served
 *     |                                        with Connection: close  --fail--> WRITE, close
 *     |   -> 408, close                          | body announced
 *     |                                          v
 *     |                   BODY (deadline grows with every byte: header_timeout_ms + the
 *     |                         bytes at server.min_body_rate_bytes_per_s) -> 408, close
 *     |                                          | body complete (or none)
 *     |                                          v
 *     |               dispatch: inline answer now, or BUSY while a worker runs it
 *     |                                          v
 *     +---- keep-alive <-- WRITE (writev head + body; EPOLLOUT resumes a full socket;
 *                                 idle_timeout_ms without progress closes)
 *                                  | close after (error with a body pending, HTTP/1.0,
 *                                  v               Connection: close, draining)
 *                          LINGER (when a body or other input is left unread; else the
 *                                  close is at once): our side shut, input discarded for 2 s
 *                                  so the client reads the answer before the socket goes away
 *
 * Sockets are registered once, edge-triggered, for input and output, so nothing changes in
 * epoll per request; `readable` remembers that input may be waiting while a request runs.
 * A request's head is parsed from the loop's scratch buffer when it arrives whole; only a head
 * split over reads (or pipelined bytes) is kept per connection. Bodies go straight from the
 * socket into their final buffer: malloc'd when small, mmap'd from 64 KiB (unmapped after the
 * request, so memory goes back to the system after a burst). */
#include "server/server_int.h"

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BODY_MMAP_MIN (64 * 1024)
#define LINGER_MS 2000
#define MAX_HEAD_BUFFER (64 * 1024) /* > max_url_bytes (<= 30000) + MD_HTTP_MAX_HEADER_BYTES */

#define CONN_OF(p, field) ((md_conn *)((char *)(p)-offsetof(md_conn, field)))

static void http_input(md_conn *c);
static void finish(md_conn *c);

static const md_config *cfg_of(const md_conn *c)
{
    return c->sl->srv->svc->cfg;
}

/* -- deadlines ----------------------------------------------------------------------------- */

static void arm(md_conn *c)
{
    const md_config *cfg = cfg_of(c);
    int64_t due = 0;
    switch (c->state) {
    case CS_HEAD:
        if (c->in.len > c->in_off || c->scan.fields)
            due = c->since_ms + cfg->header_timeout_ms;
        else
            due = c->since_ms + cfg->idle_timeout_ms;
        break;
    case CS_BODY: {
        int64_t rate = cfg->min_body_rate > 0 ? cfg->min_body_rate : 1;
        due = c->since_ms + cfg->header_timeout_ms + (int64_t)(c->body_got * 1000 / (size_t)rate);
        break;
    }
    case CS_WRITE: due = md_loop_now(c->sl->loop) + cfg->idle_timeout_ms; break;
    case CS_LINGER: due = c->since_ms + LINGER_MS; break;
    default: due = 0;
    }
    md_loop_timer(c->sl->loop, &c->timer, due);
}

static void set_state(md_conn *c, int state)
{
    c->state = state;
    c->since_ms = md_loop_now(c->sl->loop);
    arm(c);
}

/* -- closing ------------------------------------------------------------------------------- */

/* c joins / leaves its loop's list of open connections. */
static void link_conn(srv_loop *sl, md_conn *c)
{
    sl->n_conns++;
    c->sl = sl;
    c->prev = NULL;
    c->next = sl->conns;
    if (sl->conns) sl->conns->prev = c;
    sl->conns = c;
}

static void unlink_conn(srv_loop *sl, md_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        sl->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    sl->n_conns--;
}

void md_conn_close(md_conn *c)
{
    if (c->state == CS_DEAD) return;
    srv_loop *sl = c->sl;
    if (c->state == CS_WS) md_ws_conn_free(c);
    if (c->state == CS_MOVING) md_ws_unreserve();
    c->state = CS_DEAD;
    md_loop_timer_remove(sl->loop, &c->timer);
    md_loop_del(sl->loop, &c->ev);
    close(c->ev.fd);
    c->ev.fd = -1;
    md_task *t = c->t;
    c->t = NULL;
    if (t) {
        t->c = NULL;
        if (!t->in_worker) md_srv_task_free(t); /* else the completion frees it */
    }
    unlink_conn(sl, c);
    c->next = sl->dead;
    sl->dead = c;
    md_metric_add(MD_M_HTTP_CONNECTIONS, -1);
    md_srv_conn_closed(sl);
}

/* Hands the connections upgraded during this iteration to the stream loop: out of this
 * loop's epoll and list, pushed as one chain onto the stream loop's incoming stack (the
 * atomic exchange orders everything this thread wrote into them before the stream loop
 * reads them). */
static void hand_over(srv_loop *sl)
{
    md_conn *head = NULL, *tail = NULL;
    while (sl->moving) {
        md_conn *c = sl->moving;
        sl->moving = c->move_next;
        c->move_next = head;
        if (c->state != CS_MOVING) continue; /* closed meanwhile (shutdown) */
        md_loop_del(sl->loop, &c->ev);
        unlink_conn(sl, c);
        if (!tail) tail = c;
        head = c;
    }
    if (!head) return;
    srv_loop *to = sl->stream;
    md_conn *old = atomic_load(&to->incoming);
    do tail->move_next = old;
    while (!atomic_compare_exchange_weak(&to->incoming, &old, head));
    md_loop_wake(to->loop);
    md_srv_conn_closed(sl); /* descriptors left this loop: the listener may resume */
}

void md_conn_adopt(srv_loop *sl)
{
    for (md_conn *c = atomic_exchange(&sl->incoming, NULL), *next; c; c = next) {
        next = c->move_next;
        c->move_next = NULL;
        link_conn(sl, c);
        /* edge-triggered: adding reports what is already waiting */
        if (md_loop_add(sl->loop, &c->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
            md_conn_close(c);
            continue;
        }
        c->readable = 1;
        md_ws_begin(c);
    }
}

void md_conn_reap(srv_loop *sl)
{
    if (sl->moving) hand_over(sl);
    while (sl->dead) {
        md_conn *c = sl->dead;
        sl->dead = c->next;
        md_buf_deinit(&c->in);
        md_buf_deinit(&c->out);
        md_free(c);
    }
}

void md_conn_close_if_idle(md_conn *c)
{
    /* a connection no request came on yet is left open (its first request may be on its
     * way: closing it would fail that request, which a client does not retry on a new
     * connection); so is one whose next request is already here, unread. Both are answered
     * with Connection: close, or closed when the drain ends. */
    if (c->state != CS_HEAD || c->t || c->in.len != c->in_off || c->scan.fields || !c->used) return;
    char b;
    if (recv(c->ev.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return;
    md_conn_close(c);
}

/* The answer is out but the client may still be sending (a body we did not read): shut our
 * side and drain for a while, so its kernel does not answer our close with a reset that
 * discards the answer before the client read it. */
static void linger(md_conn *c)
{
    shutdown(c->ev.fd, SHUT_WR);
    md_buf_deinit(&c->in);
    c->in_off = 0;
    set_state(c, CS_LINGER);
    c->readable = 1;
    if (!c->in_input) http_input(c);
}

/* 1 when the client sent bytes we have not consumed (pipelined after a Connection: close, or
 * more than one read took): closing now would answer them with a reset that can discard the
 * response before the client read it (RFC 9112 9.6), so the close lingers. */
static int unread_input(md_conn *c)
{
    if (c->in.len > c->in_off) return 1;
    char b;
    return recv(c->ev.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* -- writing ------------------------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* "Date: ..." of this second, cached per thread. */
static const char *date_line(void)
{
    static _Thread_local time_t last;
    static _Thread_local char line[48];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        last = now;
    }
    return line;
}

static void put_uint(md_buf *b, size_t v)
{
    char d[24];
    int n = 0;
    do d[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 24);
    md_buf_reserve(b, (size_t)n);
    while (n) b->data[b->len++] = d[--n];
    b->data[b->len] = 0;
}

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* Answers held for clients that do not read them are bounded in total
 * (server.max_unsent_answer_bytes): an answer over this size that would pass the bound is
 * dropped for a 503 (small ones always go: health checks, errors; so does one alone, whatever
 * its size). A cache entry's bytes count
 * too: a held entry stays in memory after the cache let it go. */
#define ANSWER_ALWAYS_BYTES 65536

static void answer_budget(md_conn *c, md_task *t)
{
    md_http_resp *rs = &t->resp;
    size_t own = rs->ext ? rs->ext_len : rs->body.len;
    if (t->answer_reserved || own <= ANSWER_ALWAYS_BYTES) return;
    md_server *srv = c->sl->srv;
    long long was = atomic_fetch_add(&srv->answer_bytes, (long long)own);
    if (was == 0 || was + (long long)own <= cfg_of(c)->max_unsent_answer_bytes) { /* one goes */
        t->answer_reserved = own;
        return;
    }
    atomic_fetch_sub(&srv->answer_bytes, (long long)own);
    if (rs->ext_release) rs->ext_release(rs->ext_ctx);
    rs->ext = NULL, rs->ext_len = 0, rs->ext_release = NULL;
    md_buf_deinit(&rs->body);
    rs->headers[0] = 0; /* the answer's Link, X-Symbol-Errors... */
    md_http_header(rs, "Retry-After", "1");
    md_http_error(rs, MD_EBUSY,
                  "answers not yet read by their clients fill server.max_unsent_answer_bytes; "
                  "retry later");
}

void md_conn_render_head(md_conn *c, md_task *t)
{
    md_http_resp *rs = &t->resp;
    answer_budget(c, t);
    if (!rs->status) rs->status = 200;
    size_t len = rs->ext ? rs->ext_len : rs->body.len;
    md_buf *b = &c->out;
    md_buf_reset(b);
    c->out_off = 0;
    if (c->continue_sent) { /* the rest of a 100 Continue the socket took only part of */
        md_buf_puts(b, continue_line + c->continue_sent);
        c->continue_sent = 0;
    }
    md_buf_puts(b, "HTTP/1.1 ");
    put_uint(b, (size_t)rs->status);
    md_buf_putc(b, ' ');
    md_buf_puts(b, reason(rs->status));
    md_buf_puts(b, "\r\nServer: mdagent\r\n");
    md_buf_puts(b, date_line());
    if (rs->status != 204 && rs->status != 304) {
        md_buf_puts(b, "Content-Type: ");
        md_buf_puts(b, rs->content_type ? rs->content_type : "application/json");
        md_buf_puts(b, "\r\nContent-Length: ");
        put_uint(b, len);
        md_buf_puts(b, "\r\n");
    }
    md_buf_puts(b, rs->headers);
    md_buf_puts(b, "Cache-Control: no-store\r\n");
    if (c->close_after)
        md_buf_puts(b, "Connection: close\r\n");
    else if (c->http10)
        md_buf_puts(b, "Connection: keep-alive\r\n");
    md_buf_puts(b, "\r\n");
    int head = t->req.method == MD_HTTP_HEAD || rs->status == 204 || rs->status == 304;
    c->body = head ? NULL : rs->ext ? rs->ext : rs->body.data;
    c->body_len = head ? 0 : len;
    c->body_off = 0;
}

int md_conn_flush(md_conn *c)
{
    for (;;) {
        struct iovec iov[2];
        int n = 0;
        if (c->out_off < c->out.len) {
            iov[n].iov_base = c->out.data + c->out_off;
            iov[n++].iov_len = c->out.len - c->out_off;
        }
        if (c->body_off < c->body_len) {
            iov[n].iov_base = (char *)c->body + c->body_off;
            iov[n++].iov_len = c->body_len - c->body_off;
        }
        if (!n) return 1;
        ssize_t w = writev(c->ev.fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            md_conn_close(c);
            return -1;
        }
        size_t k = (size_t)w, h = c->out.len - c->out_off;
        if (k >= h) {
            c->out_off = c->out.len;
            c->body_off += k - h;
        } else {
            c->out_off += k;
        }
    }
}

static void write_response(md_conn *c)
{
    set_state(c, CS_WRITE);
    int rc = md_conn_flush(c);
    if (rc == 1) finish(c);
    /* 0: EPOLLOUT resumes; -1: closed */
}

/* The request is over (answer written): metrics, then the next request or the close. */
static void finish(md_conn *c)
{
    md_task *t = c->t;
    c->t = NULL;
    c->body = NULL;
    c->body_len = c->body_off = 0;
    if (t) {
        char status[4] = {(char)('0' + t->resp.status / 100 % 10),
                          (char)('0' + t->resp.status / 10 % 10), (char)('0' + t->resp.status % 10),
                          0};
        const char *route = t->req.route ? t->req.route : "(none)";
        md_metric_add(MD_M_HTTP_REQUESTS, 1, route, status);
        md_metric_observe(MD_M_HTTP_DURATION, (double)(md_mono_ns() - t->req.start_ns) / 1e9,
                          route);
        md_srv_task_free(t);
    }
    if (c->out.cap > 16384) md_buf_deinit(&c->out); /* keep idle connections small */
    if (c->close_after) {
        if (c->discard || c->state == CS_BODY || unread_input(c)) {
            linger(c);
            return;
        }
        md_conn_close(c);
        return;
    }
    if (c->sl->closing) {
        md_conn_close(c);
        return;
    }
    memset(&c->scan, 0, sizeof c->scan);
    set_state(c, CS_HEAD);
    /* inside http_input (an answer written at once) its loop goes on by itself */
    if (!c->in_input && (c->in.len > c->in_off || c->readable)) http_input(c);
}

/* Answers t at once with the error rc (the request goes no further). */
static void answer_error(md_conn *c, md_task *t, int rc, const char *msg, const char *route)
{
    md_http_error(&t->resp, rc, msg);
    if (!t->req.route) t->req.route = route;
    md_conn_render_head(c, t);
    write_response(c);
}

void md_conn_complete(md_conn *c)
{
    md_conn_render_head(c, c->t);
    write_response(c);
}

/* -- reading ------------------------------------------------------------------------------- */

/* recv into dst; returns bytes (> 0), 0 at EOF, -1 when nothing more is waiting (readable
 * cleared), -2 on an error (connection closed). */
static ssize_t rd(md_conn *c, void *dst, size_t n)
{
    for (;;) {
        ssize_t r = recv(c->ev.fd, dst, n, 0);
        if (r > 0) {
            if ((size_t)r < n) c->readable = 0; /* short read: drained (a new edge will come) */
            return r;
        }
        if (r == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            c->readable = 0;
            return -1;
        }
        md_conn_close(c);
        return -2;
    }
}

/* rd, and the end of the client's input closes the connection: > 0 bytes read, < 0 nothing
 * more to do now (drained, or closed). */
static ssize_t rd_open(md_conn *c, void *dst, size_t n)
{
    ssize_t r = rd(c, dst, n);
    if (r == 0) {
        md_conn_close(c);
        return -2;
    }
    return r;
}

static int body_alloc(md_task *t, size_t n)
{
    size_t cap = n + 1;
    if (cap >= BODY_MMAP_MIN) {
        void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        t->req.body = p;
        t->body_mapped = 1;
    } else {
        t->req.body = md_malloc(cap);
    }
    t->body_cap = cap;
    t->req.body_len = n;
    t->req.body[n] = 0;
    return 0;
}

static void body_done(md_conn *c)
{
    md_task *t = c->t;
    set_state(c, CS_BUSY);
    md_srv_dispatch(t);
    if (!t->in_worker) {
        int owed = t->flush_owed;
        t->flush_owed = 0;
        srv_loop *sl = c->sl;
        if (c->state == CS_BUSY) {
            md_conn_render_head(c, t);
            write_response(c); /* may free t and c */
        }
        md_srv_flush_owed(sl, owed);
    }
}

/* Checks everything the head settles; returns 1 when a body is to be read, 0 when the request
 * was answered or dispatched. */
static int on_head(md_conn *c, md_http_head *h)
{
    srv_loop *sl = c->sl;
    md_server *srv = sl->srv;
    const md_config *cfg = srv->svc->cfg;
    md_task *t = md_srv_task_new(sl, c);
    c->t = t;
    t->req.start_ns = md_mono_ns();
    c->used = 1;
    if (!h->keep_alive || sl->closing) c->close_after = 1;
    c->http10 = h->http_minor == 0;
    int body_pending = h->content_length > 0 || h->chunked;
    md_error err;
    md_error_clear(&err);
    int rc = md_http_req_from_head(&t->req, h, &err);
    if (rc < 0) {
        if (body_pending) c->close_after = 1, c->discard = 1;
        answer_error(c, t, rc, err.msg, "(bad_request)");
        return 0;
    }
    if (atomic_load(&srv->draining)) {
        /* Shutting down: /health/ready already says 503 (md_services_stop), so balancers
         * stop sending; a request that still comes is served within the grace, on a
         * connection closed after it. Only new streams are refused: open ones are being
         * closed with 1001. */
        c->close_after = 1;
        if (h->upgrade_ws) {
            if (body_pending) c->discard = 1;
            answer_error(c, t, MD_EUNAVAIL, "server is shutting down", "(draining)");
            return 0;
        }
    }
    if (h->asterisk) { /* OPTIONS *: what the server as a whole supports */
        t->resp.status = 204;
        md_http_header(&t->resp, "Allow", "GET, HEAD, POST, OPTIONS");
        t->req.route = "*";
        if (body_pending) c->close_after = 1, c->discard = 1;
        md_conn_render_head(c, t);
        write_response(c);
        return 0;
    }
    md_ws_loop *wl = sl->stream ? sl->stream->ws : sl->ws;
    if (h->upgrade_ws && strcmp(t->req.path, "/stream") == 0 && wl) {
        int status, allowed; /* the query is checked as for a plain GET /stream */
        const md_route *rt = md_route_match(&t->req, &status, &allowed);
        rc = rt ? md_route_check_params(rt, &t->req, &err) : 0;
        if (rc == 0) {
            c->t = NULL; /* the connection stops being HTTP if the upgrade succeeds */
            rc = md_ws_upgrade(wl, c, h, &err);
            if (rc == 0) {
                md_srv_task_free(t);
                if (c->state == CS_MOVING) { /* to the stream loop at this iteration's end */
                    c->move_next = sl->moving;
                    sl->moving = c;
                }
                return 0;
            }
            c->t = t;
        }
        if (body_pending) c->close_after = 1, c->discard = 1;
        if (rc == MD_EUPGRADE) md_http_header(&t->resp, "Sec-WebSocket-Version", "13");
        if (rc == MD_EBUSY) md_http_header(&t->resp, "Retry-After", "1");
        answer_error(c, t, rc, err.msg, "/stream");
        return 0;
    }
    if (h->chunked) {
        c->close_after = 1, c->discard = 1; /* the unread chunked body cannot be skipped */
        answer_error(c, t, MD_ELENGTH,
                     "chunked request bodies are not supported: send the body with a "
                     "Content-Length",
                     "(no_length)");
        return 0;
    }
    int status, allowed;
    const md_route *rt = md_route_match(&t->req, &status, &allowed);
    if (!rt && t->req.method == MD_HTTP_OPTIONS && status == 405) {
        status = 204; /* OPTIONS on a resource: its methods */
    }
    if (!rt) {
        if (body_pending) c->close_after = 1, c->discard = 1;
        if (status == 405 || status == 204) {
            char allow[80];
            if (allowed & MD_HTTP_GET) allowed |= MD_HTTP_HEAD; /* HEAD is served as GET */
            allowed |= MD_HTTP_OPTIONS; /* OPTIONS on any route answers 204 with this list */
            md_http_methods_str(allowed, ", ", allow, sizeof allow);
            md_http_header(&t->resp, "Allow", allow);
            if (status == 204) {
                t->resp.status = 204;
                t->req.route = "(options)";
                md_conn_render_head(c, t);
                write_response(c);
                return 0;
            }
            answer_error(c, t, MD_EMETHOD, "method not allowed", "(method)");
        } else {
            md_buf *b = md_http_json(&t->resp, 404);
            md_buf_puts(b, "{\"error\":{\"code\":\"not_found\",\"message\":");
            md_buf msg = MD_BUF_INIT;
            md_buf_puts(&msg, "no route for ");
            md_buf_append(&msg, t->req.path, md_utf8_prefix(t->req.path, 100));
            md_buf_json_str(b, msg.data);
            md_buf_deinit(&msg);
            md_buf_puts(b, "}}");
            t->req.route = "(unknown)";
            md_conn_render_head(c, t);
            write_response(c);
        }
        return 0;
    }
    t->rt = rt;
    if (rt->flags & MD_RT_AUTH) {
        rc = md_http_check_auth(srv->svc, &t->req, &err);
        if (rc < 0) {
            if (body_pending) c->close_after = 1, c->discard = 1;
            answer_error(c, t, rc, err.msg, t->req.route);
            return 0;
        }
    }
    if (h->content_length > 0 && !(rt->flags & MD_RT_BODY)) { /* as the router says, unread */
        c->close_after = 1, c->discard = 1;
        char m[160];
        snprintf(m, sizeof m, "%s takes no request body (%lld bytes announced)", rt->pattern,
                 h->content_length);
        answer_error(c, t, MD_EINVAL, m, t->req.route);
        return 0;
    }
    if (h->content_length > cfg->max_body_bytes) {
        c->close_after = 1, c->discard = 1;
        answer_error(c, t, MD_ETOOBIG, "request body larger than server.max_body_bytes",
                     "(too_big)");
        return 0;
    }
    if (h->content_length > 0) {
        size_t n = (size_t)h->content_length;
        long long was = atomic_fetch_add(&srv->body_bytes, (long long)n);
        t->body_reserved = n;
        if (was + (long long)n > cfg->max_inflight_body_bytes) {
            c->close_after = 1, c->discard = 1;
            md_http_header(&t->resp, "Retry-After", "1");
            answer_error(c, t, MD_EBUSY,
                         "too many request bodies in flight (server.max_inflight_body_bytes); "
                         "retry later",
                         "(busy)");
            return 0;
        }
        if (body_alloc(t, n) < 0) {
            c->close_after = 1, c->discard = 1;
            answer_error(c, t, MD_EBUSY, "no memory for the request body", "(busy)");
            return 0;
        }
        if (h->expect_continue && h->http_minor >= 1) { /* HTTP/1.0: ignored (RFC 9110 10.1.1) */
            ssize_t w = send(c->ev.fd, continue_line, sizeof continue_line - 1, MSG_NOSIGNAL);
            /* Nothing written (a full socket): the client sends anyway after its wait. Part of
             * it: the rest goes before the answer's head, or the stream would be corrupt. */
            if (w > 0 && (size_t)w < sizeof continue_line - 1) c->continue_sent = (size_t)w;
        }
        c->body_got = 0;
        set_state(c, CS_BODY);
        return 1;
    }
    body_done(c);
    return 0;
}

/* HEAD when the request line in data[0..n) starts with it: the answer to a head refused before
 * it was parsed carries no body either (RFC 9110 9.3.2). */
static md_http_method method_before_parse(const char *data, size_t n)
{
    size_t i = 0;
    while (i < n && (data[i] == '\r' || data[i] == '\n')) i++;
    return n - i >= 5 && memcmp(data + i, "HEAD ", 5) == 0 ? MD_HTTP_HEAD : MD_HTTP_OTHER;
}

/* A complete head sits in data[0..n). */
static void head_complete(md_conn *c, const char *data, size_t n)
{
    md_http_head h;
    md_error err;
    md_error_clear(&err);
    int rc = md_http_head_parse(data, n, &h, &err);
    memset(&c->scan, 0, sizeof c->scan);
    if (rc < 0) {
        md_task *t = md_srv_task_new(c->sl, c);
        c->t = t;
        t->req.start_ns = md_mono_ns();
        t->req.method = method_before_parse(data, n);
        c->close_after = 1;
        c->discard = 1;
        answer_error(c, t, rc, err.msg,
                     rc == MD_EHEADERS ? "(headers_too_large)" : "(bad_request)");
    } else {
        on_head(c, &h);
    }
    md_http_head_deinit(&h);
}

/* Looks for a head in data[0..n) (from the scratch buffer when !buffered, else c->in);
 * returns the bytes consumed, 0 when more are needed (they were kept), -1 when answered. */
static long try_head(md_conn *c, const char *data, size_t n, int buffered)
{
    md_error err;
    md_error_clear(&err);
    if (!c->scan.fields && !buffered && c->in.len == c->in_off) {
        /* first bytes of a head: its header deadline starts */
        c->since_ms = md_loop_now(c->sl->loop);
    }
    long hl = md_http_head_scan(data, n, (size_t)cfg_of(c)->max_url_bytes, &c->scan, &err);
    if (hl < 0) {
        md_task *t = md_srv_task_new(c->sl, c);
        c->t = t;
        t->req.start_ns = md_mono_ns();
        t->req.method = method_before_parse(data, n);
        c->close_after = 1;
        c->discard = 1;
        int rc = (int)hl;
        answer_error(c, t, rc, err.msg,
                     rc == MD_EURILONG   ? "(uri_too_long)"
                     : rc == MD_EHEADERS ? "(headers_too_large)"
                     : rc == MD_ENOTIMPL ? "(not_implemented)"
                     : rc == MD_EVERSION ? "(version)"
                                         : "(bad_request)");
        return -1;
    }
    if (hl == 0) {
        if (!buffered) {
            md_buf_reset(&c->in);
            c->in_off = 0;
            md_buf_append(&c->in, data, n);
        }
        arm(c);
        return 0;
    }
    head_complete(c, data, (size_t)hl);
    return hl;
}

/* Returns 1 when the body is complete (dispatched) and input may go on, 0 when it waits. */
static int body_input(md_conn *c)
{
    md_task *t = c->t;
    size_t want = t->req.body_len;
    if (c->in.len > c->in_off) { /* body bytes that came with the head */
        size_t k = c->in.len - c->in_off;
        if (k > want - c->body_got) k = want - c->body_got;
        memcpy(t->req.body + c->body_got, c->in.data + c->in_off, k);
        c->body_got += k;
        c->in_off += k;
    }
    while (c->body_got < want) {
        if (!c->readable) {
            arm(c); /* the deadline moved with the bytes received */
            return 0;
        }
        ssize_t r = rd(c, t->req.body + c->body_got, want - c->body_got);
        if (r == -2) return 0;
        if (r == 0) {
            md_conn_close(c); /* the client gave up */
            return 0;
        }
        if (r < 0) {
            arm(c);
            return 0;
        }
        c->body_got += (size_t)r;
    }
    body_done(c);
    return 1;
}

static void linger_input(md_conn *c)
{
    srv_loop *sl = c->sl;
    for (int i = 0; i < 64; i++) {
        ssize_t r = rd_open(c, sl->rbuf, sl->rbuf_cap);
        if (r < 0) return;
    }
}

static void input_loop(md_conn *c);

static void http_input(md_conn *c)
{
    c->in_input = 1;
    input_loop(c);
    c->in_input = 0;
}

static void input_loop(md_conn *c)
{
    srv_loop *sl = c->sl;
    for (;;) {
        switch (c->state) {
        case CS_HEAD: break;
        case CS_BODY:
            if (!body_input(c)) return;
            continue;
        case CS_LINGER: linger_input(c); return;
        default: return; /* BUSY, WRITE: the input waits; WS, DEAD */
        }
        /* a head: first whatever is buffered */
        if (c->in.len > c->in_off) {
            const char *d = c->in.data + c->in_off;
            size_t n = c->in.len - c->in_off;
            size_t before = c->in_off;
            long hl = try_head(c, d, n, 1);
            if (hl < 0 || c->state == CS_DEAD) return;
            if (hl > 0) {
                if (c->in_off == before) c->in_off += (size_t)hl;
                if (c->in_off >= c->in.len) {
                    md_buf_reset(&c->in);
                    c->in_off = 0;
                }
                continue;
            }
            /* incomplete: read more into the buffer */
            if (!c->readable) return;
            if (c->in.len - c->in_off >= MAX_HEAD_BUFFER) return; /* the scan answered */
            if (c->in_off) {                                      /* compact */
                memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
                c->in.len -= c->in_off;
                c->in_off = 0;
                memset(&c->scan, 0, sizeof c->scan);
            }
            md_buf_reserve(&c->in, 4096);
            ssize_t r = rd_open(c, c->in.data + c->in.len, c->in.cap - c->in.len - 1);
            if (r < 0) return;
            c->in.len += (size_t)r;
            c->in.data[c->in.len] = 0;
            continue;
        }
        if (!c->readable) return;
        ssize_t r = rd_open(c, sl->rbuf, sl->rbuf_cap);
        if (r < 0) return;
        long hl = try_head(c, sl->rbuf, (size_t)r, 0);
        if (hl <= 0) return; /* answered, or kept for more */
        if ((size_t)hl < (size_t)r) {
            /* body bytes or pipelined requests after the head: keep them; the request may
             * still be running (BUSY), so they wait in c->in */
            if (c->state == CS_DEAD || c->state == CS_LINGER) continue;
            if (c->in.len == c->in_off) {
                md_buf_reset(&c->in);
                c->in_off = 0;
            }
            md_buf_append(&c->in, sl->rbuf + hl, (size_t)r - (size_t)hl);
        }
        if (c->state == CS_DEAD) return;
    }
}

/* -- events -------------------------------------------------------------------------------- */

static void on_event(md_ev *ev, uint32_t events)
{
    md_conn *c = CONN_OF(ev, ev);
    if (c->state == CS_DEAD || c->state == CS_MOVING) return;
    if (c->state == CS_WS) {
        md_ws_on_event(c, events);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
    if (c->state == CS_WRITE && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int rc = md_conn_flush(c);
        if (rc < 0) return;
        if (rc == 1)
            finish(c);
        else
            arm(c); /* progress pushes the deadline */
        if (c->state == CS_DEAD) return;
    }
    if (c->readable) http_input(c);
}

static void on_timer(md_timer *tm)
{
    md_conn *c = CONN_OF(tm, timer);
    switch (c->state) {
    case CS_WS: md_ws_on_timer(c); return;
    case CS_HEAD:
        if (c->in.len > c->in_off || c->scan.fields) {
            md_task *t = md_srv_task_new(c->sl, c);
            c->t = t;
            t->req.start_ns = md_mono_ns();
            if (c->in.len > c->in_off)
                t->req.method = method_before_parse(c->in.data + c->in_off, c->in.len - c->in_off);
            c->close_after = 1;
            c->discard = 1;
            answer_error(c, t, MD_EREQTIMEOUT,
                         "request head not received within server.header_timeout_ms", "(timeout)");
            return;
        }
        md_conn_close(c); /* idle keep-alive */
        return;
    case CS_BODY:
        c->close_after = 1;
        c->discard = 1;
        answer_error(c, c->t, MD_EREQTIMEOUT,
                     "request body slower than server.min_body_rate_bytes_per_s", "(timeout)");
        return;
    default: md_conn_close(c); return; /* a stalled write, the end of a linger */
    }
}

void md_conn_accept(srv_loop *sl, int fd)
{
    md_conn *c = md_calloc(1, sizeof *c);
    c->sl = sl;
    c->ev.fd = fd;
    c->ev.fn = on_event;
    c->timer.fn = on_timer;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (md_loop_add(sl->loop, &c->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        close(fd);
        md_free(c);
        return;
    }
    link_conn(sl, c);
    md_metric_add(MD_M_HTTP_CONNECTIONS, 1);
    c->readable = 1; /* the request often arrives with the connection */
    set_state(c, CS_HEAD);
    http_input(c);
}
