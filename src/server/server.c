/* server.c - libwebsockets glue: request parsing, dispatch to loop or workers, writing.
 *
 * Request life cycle (all on the connection's loop thread except "run"):
 *
 *   HTTP ──> [body?] ──> dispatch ──┬─ inline route: run now ──────────┐
 *                                   └─ worker: run on pool ─> done queue ─> wake loop
 *                                                                        │
 *                        WRITEABLE: headers, body chunks, complete <─────┘
 *
 * A connection that closes while its request runs on a worker leaves the task orphaned;
 * the loop frees it when the completion arrives. */
#include "server/server.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "server/http.h"
#include "server/routes.h"
#include "server/ws.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

typedef struct loop loop;

typedef struct task {
    md_http_req req;
    md_http_resp resp;
    struct lws *wsi; /* NULL once the connection closed */
    loop *lp;
    const md_route *rt;
    int in_worker; /* running (or queued) on the pool */
    int ready;     /* response complete, waiting for WRITEABLE */
    int headers_sent;
    size_t sent;
    size_t body_limit;
    int too_big;   /* 1 body over max_body_bytes, 2 URL over max_url_bytes */
    int no_length; /* a body without Content-Length (chunked): 411, then close */
    struct task *next;
} task;

struct loop {
    md_server *srv;
    struct lws_context *ctx;
    pthread_t thread;
    pthread_mutex_t lock; /* guards done */
    task *done;
    unsigned char *scratch; /* LWS_PRE + CHUNK */
    int listen_fd;
    int adopted;    /* lws owns (and closes) listen_fd */
    md_ws_loop *ws; /* WebSocket /stream (ws.c); NULL without a hub */
};

struct md_server {
    md_services *svc;
    loop *loops;
    int n_loops;
    int port;
    char addr[300];      /* HOST:PORT with the bound port */
    atomic_int draining; /* answer new requests with 503 while in-flight ones finish */
    atomic_int stopping; /* loops exit */
    atomic_int inflight; /* tasks alive */
    int joined;
};

typedef struct pss {
    task *t;
    void *ws; /* the WebSocket connection (ws.c) after an upgrade to /stream */
} pss;

/* -- tasks ---------------------------------------------------------------------------------- */

static void task_free(task *t)
{
    if (!t) return;
    atomic_fetch_sub(&t->lp->srv->inflight, 1);
    md_http_req_deinit(&t->req);
    md_buf_deinit(&t->resp.body);
    if (t->resp.ext_release) t->resp.ext_release(t->resp.ext_ctx);
    md_free(t);
}

static void task_ready(task *t)
{
    t->ready = 1;
    if (t->wsi) lws_callback_on_writable(t->wsi);
}

/* Worker side: run the handler, hand the task back to its loop. */
static void run_job(void *arg)
{
    task *t = arg;
    md_route_run(t->rt, t->lp->srv->svc, &t->req, &t->resp);
    loop *lp = t->lp;
    pthread_mutex_lock(&lp->lock);
    t->next = lp->done;
    lp->done = t;
    pthread_mutex_unlock(&lp->lock);
    lws_cancel_service(lp->ctx);
}

static void drain_done(loop *lp)
{
    pthread_mutex_lock(&lp->lock);
    task *t = lp->done;
    lp->done = NULL;
    pthread_mutex_unlock(&lp->lock);
    while (t) {
        task *next = t->next;
        t->in_worker = 0;
        if (t->wsi)
            task_ready(t);
        else
            task_free(t); /* the connection went away meanwhile */
        t = next;
    }
}

/* Routes the request: answers it at once (t->ready: inline routes, cache hits, errors), or
 * hands it to a worker, whose completion asks for WRITEABLE. */
static void dispatch(task *t)
{
    md_services *svc = t->lp->srv->svc;
    int status, allowed;
    if (atomic_load(&t->lp->srv->draining)) {
        md_http_header(&t->resp, "Connection", "close");
        md_http_error(&t->resp, MD_EUNAVAIL, "server is shutting down");
        t->req.route = "(draining)";
        t->ready = 1; /* written by the caller, now */
        return;
    }
    if (t->too_big) {
        md_http_error(&t->resp, MD_ETOOBIG,
                      t->too_big == 2 ? "request URL longer than server.max_url_bytes"
                                      : "request body larger than server.max_body_bytes");
        t->req.route = "(too_big)";
        t->ready = 1; /* written by the caller, now */
        return;
    }
    if (t->no_length) {
        md_http_header(&t->resp, "Connection", "close");
        md_http_error(&t->resp, MD_ELENGTH,
                      "chunked request bodies are not supported: send the body with a "
                      "Content-Length");
        t->req.route = "(no_length)";
        t->ready = 1; /* written by the caller, now */
        return;
    }
    const md_route *rt = md_route_match(&t->req, &status, &allowed);
    if (!rt) {
        if (status == 405) {
            char allow[64];
            md_http_methods_str(allowed, ", ", allow, sizeof allow);
            md_http_header(&t->resp, "Allow", allow);
            md_http_error(&t->resp, MD_EMETHOD, "method not allowed");
            t->req.route = "(method)";
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "no route for %.100s", t->req.path);
            md_http_error(&t->resp, MD_ENOTFOUND, msg);
            t->req.route = "(unknown)";
        }
        t->ready = 1; /* written by the caller, now */
        return;
    }
    t->rt = rt;
    if ((rt->flags & MD_RT_TRY_INLINE) && svc->workers &&
        md_route_try_inline(rt, svc, &t->req, &t->resp) == 0) {
        t->ready = 1; /* written by the caller, now */
        return;
    }
    if ((rt->flags & MD_RT_INLINE) || !svc->workers) {
        md_route_run(rt, svc, &t->req, &t->resp);
        t->ready = 1; /* written by the caller, now */
        return;
    }
    t->in_worker = 1;
    md_workq_submit(md_route_queue(rt, svc, &t->req), run_job, t);
}

/* -- parsing -------------------------------------------------------------------------------- */

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes h)
{
    int n = lws_hdr_total_length(wsi, h);
    if (n <= 0) return NULL;
    char *s = md_malloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, h) < 0) {
        md_free(s);
        return NULL;
    }
    return s;
}

/* Strips leading and trailing blanks in place (header values may carry them). */
static char *trim_ws(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static md_http_method method_of(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) return MD_HTTP_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) return MD_HTTP_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) return MD_HTTP_HEAD;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI)) return MD_HTTP_PUT;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI)) return MD_HTTP_DELETE;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI)) return MD_HTTP_OPTIONS;
    return MD_HTTP_OTHER;
}

static void parse_request(task *t, struct lws *wsi, const char *uri, size_t uri_len)
{
    md_http_req *r = &t->req;
    r->start_ns = md_mono_ns();
    r->method = method_of(wsi);
    r->path = md_strndup(uri, uri_len);
    /* lws has already %-decoded the path; strip a trailing slash except for "/" */
    size_t pl = strlen(r->path);
    if (pl > 1 && r->path[pl - 1] == '/') r->path[pl - 1] = 0;
    char frag[4096];
    for (int i = 0; r->n_params < MD_HTTP_MAX_PARAMS; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        md_http_req_add_param(r, frag, strnlen(frag, sizeof frag));
    }
    /* the key: "Authorization: Bearer KEY" (or a bare "Authorization: KEY"), else
     * "X-API-Key: KEY"; another scheme (Basic ...) leaves the choice to X-API-Key */
    char *auth = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (auth) {
        char *k = auth;
        while (*k == ' ' || *k == '\t') k++;
        int other_scheme = 0;
        if (strncasecmp(k, "Bearer", 6) == 0 && (k[6] == ' ' || k[6] == '\t'))
            k += 7;
        else
            other_scheme = strpbrk(k, " \t") != NULL;
        if (!other_scheme) r->api_key = md_strdup(trim_ws(k));
        md_free(auth);
    }
    if (!r->api_key || !*r->api_key) {
        int n = lws_hdr_custom_length(wsi, "x-api-key:", 10);
        if (n > 0) {
            char *x = md_malloc((size_t)n + 1);
            if (lws_hdr_custom_copy(wsi, x, n + 1, "x-api-key:", 10) < 0) x[0] = 0;
            md_free(r->api_key);
            r->api_key = md_strdup(trim_ws(x));
            md_free(x);
        }
    }
    r->content_type = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    r->host = hdr_dup(wsi, WSI_TOKEN_HOST);
}

/* -- writing -------------------------------------------------------------------------------- */

static int write_response(task *t, struct lws *wsi)
{
    md_http_resp *rs = &t->resp;
    const char *body = rs->ext ? rs->ext : rs->body.data;
    size_t len = rs->ext ? rs->ext_len : rs->body.len;
    int head = t->req.method == MD_HTTP_HEAD; /* headers as for GET (length too), no body */
    unsigned char *start = t->lp->scratch + LWS_PRE, *p = start, *end = start + CHUNK;
    if (!t->headers_sent) {
        if (!rs->status) rs->status = 200;
        if (lws_add_http_common_headers(wsi, (unsigned)rs->status,
                                        rs->content_type ? rs->content_type : "application/json",
                                        (lws_filepos_t)len, &p, end))
            return -1;
        /* extra header lines "Name: value\r\n" */
        for (char *h = rs->headers; *h;) {
            char *colon = strchr(h, ':'), *eol = strstr(h, "\r\n");
            if (!colon || !eol) break;
            char name[64];
            size_t nl =
                (size_t)(colon - h) < sizeof name - 2 ? (size_t)(colon - h) : sizeof name - 2;
            memcpy(name, h, nl); /* "Name:" as lws wants it */
            name[nl] = ':';
            name[nl + 1] = 0;
            const char *v = colon + 1;
            while (*v == ' ') v++;
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                            (const unsigned char *)v, (int)(eol - v), &p, end))
                return -1;
            h = eol + 2;
        }
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)"no-store", 8, &p, end))
            return -1;
        if (lws_finalize_http_header(wsi, &p, end)) return -1;
        t->headers_sent = 1;
        char status[4] = {(char)('0' + rs->status / 100 % 10), (char)('0' + rs->status / 10 % 10),
                          (char)('0' + rs->status % 10), 0};
        md_metric_add(MD_M_HTTP_REQUESTS, 1, t->req.route ? t->req.route : "(none)", status);
        /* headers and as much of the body as fits go out in one write (one send) */
        size_t blen = head ? 0 : len; /* HEAD: the length as for GET, no body */
        size_t room = (size_t)(end - p), n = blen < room ? blen : room;
        if (n) memcpy(p, body, n);
        p += n;
        t->sent = n;
        int last = n == blen;
        int total = (int)(p - start);
        if (lws_write(wsi, start, (size_t)total,
                      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP_HEADERS) != total)
            return -1;
        if (last) return 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    size_t n = len - t->sent;
    if (n > CHUNK) n = CHUNK;
    memcpy(start, body + t->sent, n);
    int final = t->sent + n == len;
    if (lws_write(wsi, start, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    t->sent += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return 1;
}

/* -- the lws callback ------------------------------------------------------------------------ */

static loop *loop_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static int finish(struct lws *wsi, pss *ps)
{
    task *t = ps->t;
    ps->t = NULL;
    double secs = (double)(md_mono_ns() - t->req.start_ns) / 1e9;
    md_metric_observe(MD_M_HTTP_DURATION, secs);
    int close = t->no_length; /* the unread chunked body cannot be skipped: close */
    task_free(t);
    if (close) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* After dispatch: a response that is ready is written now, in this callback, instead of
 * on a later WRITEABLE round of the loop. */
static int respond(struct lws *wsi, pss *ps)
{
    task *t = ps->t;
    if (!t || !t->ready) return 0;
    int rc = write_response(t, wsi);
    if (rc < 0) return -1;
    if (rc == 1) return finish(wsi, ps);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss *ps = user;
    if (md_ws_handles(reason)) {
        loop *lp = loop_of(wsi);
        return lp->ws && ps ? md_ws_callback(lp->ws, wsi, reason, &ps->ws, in, len) : -1;
    }
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        loop *lp = loop_of(wsi);
        if (ps->t) task_free(ps->t), ps->t = NULL; /* should not happen */
        task *t = md_calloc(1, sizeof *t);
        atomic_fetch_add(&lp->srv->inflight, 1);
        t->lp = lp;
        t->wsi = wsi;
        ps->t = t;
        parse_request(t, wsi, in, len);
        if (len + (size_t)lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) >
            (size_t)lp->srv->svc->cfg->max_url_bytes) {
            t->too_big = 2;
            dispatch(t);
            return respond(wsi, ps);
        }
        t->body_limit = (size_t)lp->srv->svc->cfg->max_body_bytes;
        if (t->req.method == MD_HTTP_POST || t->req.method == MD_HTTP_PUT) {
            char cl[32];
            if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
                long long n = strtoll(cl, NULL, 10); /* saturates: a huge length is too big */
                if (n > (long long)t->body_limit) {
                    t->too_big = 1;
                    dispatch(t);
                    return respond(wsi, ps);
                }
                if (n > 0) return 0; /* wait for LWS_CALLBACK_HTTP_BODY */
            } else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
                /* lws does not decode chunked request bodies (the body would never
                 * arrive and the request would hang): ask for a Content-Length */
                t->no_length = 1;
                dispatch(t);
                return respond(wsi, ps);
            }
        }
        dispatch(t);
        return respond(wsi, ps);
    }
    case LWS_CALLBACK_HTTP_BODY: {
        task *t = ps->t;
        if (!t || t->too_big || len == 0) return 0;
        if (t->req.body_len + len > t->body_limit) {
            t->too_big = 1;
            md_free(t->req.body);
            t->req.body = NULL;
            t->req.body_len = 0;
            return 0;
        }
        t->req.body = md_realloc(t->req.body, t->req.body_len + len + 1);
        memcpy(t->req.body + t->req.body_len, in, len);
        t->req.body_len += len;
        t->req.body[t->req.body_len] = 0;
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (ps->t && !ps->t->ready && !ps->t->in_worker) {
            dispatch(ps->t);
            return respond(wsi, ps);
        }
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        task *t = ps->t;
        if (!t || !t->ready) return 0;
        int rc = write_response(t, wsi);
        if (rc < 0) return -1;
        if (rc == 1) return finish(wsi, ps);
        return 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ps && ps->t) {
            task *t = ps->t;
            ps->t = NULL;
            t->wsi = NULL;
            if (!t->in_worker) task_free(t);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        loop *lp = lws_context_user(lws_get_context(wsi));
        if (lp) drain_done(lp);
        if (lp && lp->ws) md_ws_wake(lp->ws);
        return 0;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        loop *lp = loop_of(wsi);
        return lp->ws ? md_ws_filter(lp->ws, wsi) : -1; /* only /stream, only with a hub */
    }
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The "mdagent" subprotocol: the same connections as "http" after an upgrade; loop wake-ups
 * are delivered to every protocol, and "http" already handles them. */
static int callback_subprotocol(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                void *in, size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) return 0;
    return callback(wsi, reason, user, in, len);
}

/* The listen socket is ours (SO_REUSEPORT, one per loop); lws watches it as a raw file
 * and every accepted connection is adopted into this loop's vhost as HTTP. */
static int accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    if (reason != LWS_CALLBACK_RAW_RX_FILE) return 0;
    loop *lp = loop_of(wsi);
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!lws_adopt_socket_vhost(lws_get_vhost(wsi), fd)) close(fd);
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* tx_packet_size: lws sends at most this per write (default 4 KiB: a 34 KB answer
     * would go out in nine sends over as many loop rounds) */
    {"http", callback, sizeof(pss), 0, 0, NULL, LWS_PRE + CHUNK + 1024},
    /* a WebSocket client may name "mdagent" as its subprotocol (none is needed) */
    {"mdagent", callback_subprotocol, sizeof(pss), 0, 0, NULL, LWS_PRE + CHUNK + 1024},
    {"mdagent-accept", accept_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const lws_retry_bo_t no_validity = {0};

/* Opens a non-blocking SO_REUSEPORT listen socket; *port is updated when it was 0. */
/* 1 when something (another agent, another program) already listens on the address. The
 * loops' own sockets share the port through SO_REUSEPORT, which would also let a second
 * agent on the same port silently take half of the connections; a plain bind, done before
 * our first socket exists, tells the two cases apart. */
static int address_taken(const struct addrinfo *a)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int taken = bind(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE;
    close(fd);
    return taken;
}

static int open_listener(const char *host, int *port, int first, md_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", *port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0)
        return md_error_set(err, MD_ECONFIG, "listen: cannot resolve '%s': %s", host ? host : "*",
                            gai_strerror(gai));
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (first && *port != 0 && address_taken(a)) {
            e = EADDRINUSE;
            continue;
        }
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4096) == 0) break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return md_error_set(err, MD_EIO, "cannot listen on %s:%d: %s", host ? host : "*", *port,
                            strerror(e));
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } bound;
    memset(&bound, 0, sizeof bound);
    socklen_t sl = sizeof bound;
    if (getsockname(fd, &bound.sa, &sl) == 0)
        *port = ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port : bound.in.sin_port);
    return fd;
}

/* Writes "PORT\n" to path through a temporary file and rename(), so a reader never sees a
 * partial file. */
static int write_port_file(const char *path, int port, md_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%d\n", port) > 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) return 0;
    int e = errno;
    unlink(tmp);
    return md_error_set(err, MD_EIO, "server.port_file: cannot write %s: %s", path, strerror(e));
}

/* -- loops ---------------------------------------------------------------------------------- */

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    if (level & LLL_ERR)
        MD_ERROR("lws", "%s", buf);
    else
        MD_DEBUG("lws", "%s", buf);
}

static void *loop_main(void *arg)
{
    loop *lp = arg;
    while (!atomic_load(&lp->srv->stopping)) {
        if (lws_service(lp->ctx, 0) < 0) break;
    }
    return NULL;
}

int md_server_start(md_services *svc, md_server **out, md_error *err)
{
    const md_config *cfg = svc->cfg;
    char host[256];
    snprintf(host, sizeof host, "%s", cfg->listen);
    char *colon = strrchr(host, ':');
    if (!colon) return md_error_set(err, MD_ECONFIG, "listen: '%s' is not HOST:PORT", cfg->listen);
    *colon = 0;
    int port = (int)strtol(colon + 1, NULL, 10); /* md_config_validate: 0..65535 */
    char *h = host;
    if (*h == '[') { /* [::1]:8080 */
        h++;
        char *rb = strchr(h, ']');
        if (rb) *rb = 0;
    }
    if (!*h || strcmp(h, "*") == 0) h = NULL;

    lws_set_log_level(LLL_ERR, lws_log_emit);
    md_server *srv = md_calloc(1, sizeof *srv);
    srv->svc = svc;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    srv->n_loops =
        cfg->server_threads > 0 ? (int)cfg->server_threads : (int)(cores > 0 ? cores : 1);
    srv->loops = md_calloc((size_t)srv->n_loops, sizeof *srv->loops);
    for (int i = 0; i < srv->n_loops; i++) srv->loops[i].listen_fd = -1;
    for (int i = 0; i < srv->n_loops; i++) {
        loop *lp = &srv->loops[i];
        lp->srv = srv;
        pthread_mutex_init(&lp->lock, NULL);
        lp->scratch = md_malloc(LWS_PRE + CHUNK);
        lp->listen_fd = open_listener(h, &port, i == 0, err);
        if (lp->listen_fd < 0) {
            srv->n_loops = i + 1;
            md_server_free(srv);
            return err ? err->rc : MD_EIO;
        }
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
        info.protocols = protocols;
        info.user = lp;
        info.max_http_header_data =
            32768; /* larger requests are cut by lws; up to here we answer 413 */
        info.max_http_header_pool = 4096;
        info.keepalive_timeout = 60;
        info.timeout_secs = 30;
        info.vhost_name = "mdagent";
        info.server_string = "mdagent";
        /* no lws "validity" timers: /stream pings idle clients itself (ws.c), and lws keeps
         * one sorted timer per connection, walked on every insert (slow with 10k clients) */
        info.retry_and_idle_policy = &no_validity;
        lp->ctx = lws_create_context(&info);
        struct lws_vhost *vh = lp->ctx ? lws_get_vhost_by_name(lp->ctx, "mdagent") : NULL;
        lws_sock_file_fd_type fdt;
        fdt.filefd = lp->listen_fd;
        if (!vh ||
            !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fdt, "mdagent-accept", NULL)) {
            srv->n_loops = i + 1;
            md_server_free(srv);
            return md_error_set(err, MD_EIO, "cannot start the HTTP event loop");
        }
        lp->adopted = 1;
        if (svc->hub && cfg->stream_enabled) lp->ws = md_ws_loop_new(svc, lp->ctx);
    }
    srv->port = port;
    snprintf(srv->addr, sizeof srv->addr, "%s%s%s:%d", h && strchr(h, ':') ? "[" : "", h ? h : "*",
             h && strchr(h, ':') ? "]" : "", port);
    for (int i = 0; i < srv->n_loops; i++) {
        pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]);
        char tn[16];
        snprintf(tn, sizeof tn, "http-%d", i);
        pthread_setname_np(srv->loops[i].thread, tn);
    }
    MD_INFO("server", "listening addr=%s loops=%d", srv->addr, srv->n_loops);
    if (cfg->server_port_file && *cfg->server_port_file &&
        write_port_file(cfg->server_port_file, port, err) != 0) {
        md_server_free(srv);
        return err ? err->rc : MD_EIO;
    }
    *out = srv;
    return 0;
}

const char *md_server_addr(const md_server *srv)
{
    return srv->addr;
}

static void stop_loops(md_server *srv)
{
    atomic_store(&srv->stopping, 1);
    for (int i = 0; i < srv->n_loops; i++)
        if (srv->loops[i].ctx) lws_cancel_service(srv->loops[i].ctx);
}

static int ws_open(md_server *srv)
{
    int n = 0;
    for (int i = 0; i < srv->n_loops; i++)
        if (srv->loops[i].ws) n += md_ws_count(srv->loops[i].ws);
    return n;
}

void md_server_shutdown(md_server *srv, int grace_ms)
{
    atomic_store(&srv->draining, 1);
    for (int i = 0; i < srv->n_loops; i++) { /* WebSockets get a 1001 close */
        if (!srv->loops[i].ws) continue;
        md_ws_close_all(srv->loops[i].ws);
        lws_cancel_service(srv->loops[i].ctx);
    }
    int64_t until = md_mono_ms() + grace_ms;
    while ((atomic_load(&srv->inflight) > 0 || ws_open(srv) > 0) && md_mono_ms() < until)
        usleep(10000);
    stop_loops(srv);
    for (int i = 0; i < srv->n_loops; i++)
        if (srv->loops[i].thread) pthread_join(srv->loops[i].thread, NULL);
    srv->joined = 1;
}

void md_server_free(md_server *srv)
{
    if (!srv) return;
    if (!srv->joined) md_server_shutdown(srv, 0);
    for (int i = 0; i < srv->n_loops; i++) {
        loop *lp = &srv->loops[i];
        drain_done(lp); /* completions that arrived after the loop stopped */
        if (lp->ctx) lws_context_destroy(lp->ctx);
        drain_done(lp);
        md_ws_loop_free(lp->ws);
        if (lp->listen_fd >= 0 && !lp->adopted) close(lp->listen_fd);
        pthread_mutex_destroy(&lp->lock);
        md_free(lp->scratch);
    }
    md_free(srv->loops);
    md_free(srv);
}
