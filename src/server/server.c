/* server.c - the server's event loops: listeners, dispatch to the loop or the workers,
 * completions, shutdown. Connections are conn.c (HTTP) and ws.c (WebSocket /stream).
 *
 * Threads: N loop threads ("http-N"), each with its own epoll (loop.c), its own SO_REUSEPORT
 * listen socket (the kernel spreads connections over them) and its own connections; with
 * the stream on, S more ("stream-K", stream.loops, by default as many), each with its
 * own shard of the stream hub and the WebSockets that the HTTP loops K, K + S, ... upgraded
 * and handed over (conn.c, md_conn_reap): a fan-out to
 * thousands of clients keeps a stream loop busy for tens of milliseconds, and the loop
 * that reads and answers POST /ingest must not be that thread (its acknowledgement would
 * wait for the fan-out's slices).
 * Nothing a loop owns is touched by another thread; workers hand finished requests back
 * through the loop's completion list and its eventfd, HTTP loops hand upgraded connections
 * over through the stream loop's incoming list and its eventfd.
 *
 * Request life cycle (on the connection's loop thread except "run"):
 *
 *   head ──> checks (conn.c) ──> [body] ──> dispatch ──┬─ inline route: run now ─────────┐
 *                                                      └─ worker: run on pool ─> done list
 *                                                                   ─> eventfd ─> loop  │
 *                                          write head + body in one writev <───────────┘
 *
 * A connection that closes while its request runs on a worker leaves the task orphaned;
 * the loop frees it when the completion arrives.
 *
 * Accepting: at the descriptor limit (EMFILE, ENFILE) accept() fails with the connection left
 * in the backlog, and a level-triggered listener would spin. The loop then takes the one
 * connection with a reserved descriptor, answers 503 and closes it, and stops watching the
 * listener for a back-off (50 ms doubling to 1 s), or until one of its connections closes. */
#include "server/server.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/sched.h"
#include "core/timefmt.h"
#include "core/workq.h"
#include "query/services.h"
#include "server/server_int.h"
#include "stream/hub.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF (64 * 1024)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

/* -- tasks ----------------------------------------------------------------------------------- */

md_task *md_srv_task_new(srv_loop *sl, md_conn *c)
{
    md_task *t = md_calloc(1, sizeof *t);
    t->sl = sl;
    t->c = c;
    atomic_fetch_add(&sl->srv->inflight, 1);
    return t;
}

void md_srv_task_free(md_task *t)
{
    if (!t) return;
    md_server *srv = t->sl->srv;
    if (t->req.body && t->body_mapped) { /* md_http_req_deinit frees a malloc'd one */
        munmap(t->req.body, t->body_cap);
        t->req.body = NULL;
    }
    md_http_req_deinit(&t->req);
    if (t->body_reserved) atomic_fetch_sub(&srv->body_bytes, (long long)t->body_reserved);
    if (t->answer_reserved) atomic_fetch_sub(&srv->answer_bytes, (long long)t->answer_reserved);
    md_buf_deinit(&t->resp.body);
    if (t->resp.ext_release) t->resp.ext_release(t->resp.ext_ctx);
    md_free(t);
    atomic_fetch_sub(&srv->inflight, 1);
}

/* Worker side: run the handler, hand the task back to its loop. */
static void run_job(void *arg)
{
    md_task *t = arg;
    srv_loop *sl = t->sl;
    md_hub_hold_flushes(&t->flush_owed);
    md_route_run(t->rt, sl->srv->svc, &t->req, &t->resp);
    md_hub_hold_flushes(NULL);
    pthread_mutex_lock(&sl->lock);
    t->next = sl->done;
    sl->done = t;
    atomic_store(&sl->has_done, 1);
    pthread_mutex_unlock(&sl->lock);
    md_loop_wake(sl->loop);
}

void md_srv_drain_done(srv_loop *sl)
{
    if (!atomic_load(&sl->has_done)) return;
    pthread_mutex_lock(&sl->lock);
    md_task *t = sl->done, *rev = NULL;
    sl->done = NULL;
    atomic_store(&sl->has_done, 0);
    pthread_mutex_unlock(&sl->lock);
    while (t) { /* the list is newest first */
        md_task *next = t->next;
        t->next = rev;
        rev = t;
        t = next;
    }
    int owed = 0;
    for (t = rev; t;) {
        md_task *next = t->next;
        t->in_worker = 0;
        owed |= t->flush_owed;
        t->flush_owed = 0;
        if (t->c)
            md_conn_complete(t->c);
        else
            md_srv_task_free(t); /* the connection went away meanwhile */
        t = next;
    }
    md_srv_flush_owed(sl, owed); /* the answers are out: now the fan-out may take the core */
}

void md_srv_flush_owed(srv_loop *sl, int owed)
{
    if (owed && sl->srv->svc->hub) md_hub_flush(sl->srv->svc->hub);
}

void md_srv_dispatch(md_task *t)
{
    md_services *svc = t->sl->srv->svc;
    const md_route *rt = t->rt;
    /* What an inline handler publishes wakes the stream loops after its answer is written
     * (body_done); a worker's, after md_srv_drain_done wrote it. */
    md_hub_hold_flushes(&t->flush_owed);
    int done = (rt->flags & MD_RT_TRY_INLINE) && svc->workers &&
               md_route_try_inline(rt, svc, &t->req, &t->resp) == 0;
    if (!done && ((rt->flags & MD_RT_INLINE) || !svc->workers)) {
        md_route_run(rt, svc, &t->req, &t->resp);
        done = 1;
    }
    md_hub_hold_flushes(NULL);
    if (done) return;
    t->in_worker = 1;
    md_workq_submit(md_route_queue(rt, svc, &t->req), run_job, t);
}

/* -- listening ------------------------------------------------------------------------------- */

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

/* Opens a non-blocking SO_REUSEPORT listen socket; *port is updated when it was 0. */
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

static void listen_resume(srv_loop *sl)
{
    if (!sl->listen_paused || sl->listen_ev.fd < 0) return;
    sl->listen_paused = 0;
    md_loop_mod(sl->loop, &sl->listen_ev, EPOLLIN);
}

static void on_accept_timer(md_timer *tm)
{
    srv_loop *sl = (srv_loop *)((char *)tm - offsetof(srv_loop, accept_timer));
    listen_resume(sl);
}

/* Out of descriptors: answer one waiting client with 503 through the reserved descriptor
 * (so clients learn something instead of hanging in the backlog), then stop polling the
 * listener for a while. */
static void accept_backoff(srv_loop *sl, int e)
{
    if (sl->reserve_fd >= 0) {
        close(sl->reserve_fd);
        sl->reserve_fd = -1;
        int fd = accept4(sl->listen_ev.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            static const char body[] =
                "{\"error\":{\"code\":\"overloaded\",\"message\":\"too many open connections; "
                "retry later\"}}";
            char msg[512];
            int n =
                snprintf(msg, sizeof msg,
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                         sizeof body - 1, body);
            ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(fd);
        }
        sl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (!sl->listen_paused) {
        sl->listen_paused = 1;
        md_loop_mod(sl->loop, &sl->listen_ev, 0);
        if (sl->backoff_ms == BACKOFF_MIN_MS)
            MD_WARN("server", "accept paused: %s (open connections on this loop: %d)", strerror(e),
                    sl->n_conns);
    }
    md_loop_timer(sl->loop, &sl->accept_timer, md_loop_now(sl->loop) + sl->backoff_ms);
    sl->backoff_ms = sl->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sl->backoff_ms * 2;
}

static void on_listen(md_ev *ev, uint32_t events)
{
    (void)events;
    srv_loop *sl = (srv_loop *)((char *)ev - offsetof(srv_loop, listen_ev));
    for (int i = 0; i < 64; i++) {
        int fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_backoff(sl, errno);
            return;
        }
        sl->backoff_ms = BACKOFF_MIN_MS;
        md_conn_accept(sl, fd);
    }
}

void md_srv_conn_closed(srv_loop *sl)
{
    if (sl->listen_paused) listen_resume(sl); /* a descriptor came free */
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

/* -- loops ----------------------------------------------------------------------------------- */

static void on_wake(void *ctx)
{
    srv_loop *sl = ctx;
    md_srv_drain_done(sl); /* answers first: they must not wait behind a fan-out */
    if (sl->is_stream) md_conn_adopt(sl);
    if (sl->ws) md_ws_wake(sl->ws);
    if (atomic_load(&sl->srv->draining) && !sl->closing) {
        sl->closing = 1;
        for (md_conn *c = sl->conns, *next; c; c = next) {
            next = c->next;
            md_conn_close_if_idle(c);
        }
    }
}

static int on_more(void *ctx)
{
    srv_loop *sl = ctx;
    return sl->ws ? md_ws_more(sl->ws) : 0;
}

static void on_reap(void *ctx)
{
    md_conn_reap(ctx);
}

static void *loop_main(void *arg)
{
    srv_loop *sl = arg;
    int nice = (int)sl->srv->svc->cfg->stream_nice;
    if (sl->is_stream && nice > 0) {
        /* the fan-out is bulk work: the HTTP loops (ingest acknowledgements, REST answers)
         * and the workers go first when they share a core with it. Per thread on Linux. */
        id_t tid = (id_t)gettid();
        errno = 0;
        int cur = getpriority(PRIO_PROCESS, tid);
        if (errno == 0 && setpriority(PRIO_PROCESS, tid, cur + nice) != 0)
            MD_WARN("server", "stream.nice=%d not applied: %s", nice, strerror(errno));
    }
    /* the HTTP loops answer: a short slice runs them as soon as a request wakes them */
    unsigned slice = (unsigned)sl->srv->svc->cfg->server_slice_us;
    if (!sl->is_stream && slice && md_thread_slice(slice) != 0)
        MD_INFO("server", "server.slice_us=%u not applied: %s", slice, strerror(errno));
    md_loop_run(sl->loop);
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

    md_services_raise_fd_limit();

    md_server *srv = md_calloc(1, sizeof *srv);
    srv->svc = svc;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n_http = cfg->server_threads > 0 ? (int)cfg->server_threads : (int)(cores > 0 ? cores : 1);
    /* loops [0, n_http) take connections; with the stream on, the stream loops follow
     * (stream.loops, by default as many; never more: a stream loop no HTTP loop hands
     * WebSockets to would stay empty) */
    int n_stream = 0;
    if (svc->hub && cfg->stream_enabled)
        n_stream =
            cfg->stream_loops > 0 && cfg->stream_loops < n_http ? (int)cfg->stream_loops : n_http;
    srv->n_loops = n_http + n_stream;
    srv->loops = md_calloc((size_t)srv->n_loops, sizeof *srv->loops);
    for (int i = 0; i < srv->n_loops; i++) {
        srv->loops[i].listen_ev.fd = -1;
        srv->loops[i].reserve_fd = -1;
    }
    for (int i = 0; i < srv->n_loops; i++) {
        srv_loop *sl = &srv->loops[i];
        sl->srv = srv;
        sl->idx = i;
        sl->is_stream = i >= n_http;
        pthread_mutex_init(&sl->lock, NULL);
        sl->rbuf_cap = READ_BUF;
        sl->rbuf = md_malloc(READ_BUF);
        sl->backoff_ms = BACKOFF_MIN_MS;
        sl->accept_timer.fn = on_accept_timer;
        sl->loop = md_loop_new(on_wake, sl);
        if (sl->loop && !sl->is_stream) sl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int fd = !sl->loop ? -1 : sl->is_stream ? 0 : open_listener(h, &port, i == 0, err);
        if (fd < 0) {
            srv->n_loops = i + 1;
            md_server_free(srv);
            return fd < 0 && err && err->rc ? err->rc : MD_EIO;
        }
        md_loop_set_more(sl->loop, on_more, sl);
        md_loop_set_reap(sl->loop, on_reap, sl);
        if (sl->is_stream) {
            sl->ws = md_ws_loop_new(sl, svc);
            for (int j = i - n_http; j < n_http; j += n_stream) srv->loops[j].stream = sl;
            continue;
        }
        sl->listen_ev.fd = fd;
        sl->listen_ev.fn = on_listen;
        md_loop_add(sl->loop, &sl->listen_ev, EPOLLIN);
    }
    srv->port = port;
    snprintf(srv->addr, sizeof srv->addr, "%s%s%s:%d", h && strchr(h, ':') ? "[" : "", h ? h : "*",
             h && strchr(h, ':') ? "]" : "", port);
    for (int i = 0; i < srv->n_loops; i++) {
        pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]);
        char tn[16];
        int k = (i >= n_http ? i - n_http : i) & 0xffff;
        snprintf(tn, sizeof tn, "%s-%d", srv->loops[i].is_stream ? "stream" : "http", k);
        pthread_setname_np(srv->loops[i].thread, tn);
    }
    MD_INFO("server", "listening addr=%s loops=%d stream_loops=%d", srv->addr, n_http,
            srv->n_loops - n_http);
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
        if (srv->loops[i].loop) md_loop_stop(srv->loops[i].loop);
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
        srv_loop *sl = &srv->loops[i];
        if (sl->ws) md_ws_close_all(sl->ws);
        if (sl->loop) md_loop_wake(sl->loop);
    }
    int64_t until = md_mono_ms() + grace_ms;
    while ((atomic_load(&srv->inflight) > 0 || ws_open(srv) > 0) && md_mono_ms() < until)
        usleep(10000);
    stop_loops(srv);
    for (int i = 0; i < srv->n_loops; i++)
        if (srv->loops[i].thread) pthread_join(srv->loops[i].thread, NULL);
    /* from here on a connection attempt is refused at once instead of waiting in a backlog
     * nobody accepts from any more */
    for (int i = 0; i < srv->n_loops; i++) {
        srv_loop *sl = &srv->loops[i];
        if (sl->listen_ev.fd >= 0) close(sl->listen_ev.fd);
        sl->listen_ev.fd = -1;
    }
    srv->joined = 1;
}

void md_server_free(md_server *srv)
{
    if (!srv) return;
    if (!srv->joined) md_server_shutdown(srv, 0);
    for (int i = 0; i < srv->n_loops; i++) {
        srv_loop *sl = &srv->loops[i];
        /* completions that arrived after the loop stopped: nobody writes them any more */
        pthread_mutex_lock(&sl->lock);
        md_task *t = sl->done;
        sl->done = NULL;
        pthread_mutex_unlock(&sl->lock);
        while (t) {
            md_task *next = t->next;
            t->in_worker = 0;
            if (t->c) t->c->t = NULL;
            md_srv_task_free(t);
            t = next;
        }
        md_conn *c = atomic_exchange(&sl->incoming, NULL), *next;
        for (; c; c = next) { /* handed over, never adopted */
            next = c->move_next;
            close(c->ev.fd); /* in no loop's epoll or list any more */
            md_ws_unreserve();
            md_buf_deinit(&c->in);
            md_buf_deinit(&c->out);
            md_free(c);
        }
        while (sl->conns) md_conn_close(sl->conns);
        md_conn_reap(sl);
        md_ws_loop_free(sl->ws);
        if (sl->listen_ev.fd >= 0) close(sl->listen_ev.fd);
        if (sl->reserve_fd >= 0) close(sl->reserve_fd);
        md_loop_free(sl->loop);
        pthread_mutex_destroy(&sl->lock);
        md_free(sl->rbuf);
    }
    md_free(srv->loops);
    md_free(srv);
}
