/* stream_client.c - load client for bench/stream_fanout.sh.
 *
 * Opens N WebSocket clients to a server speaking the /stream protocol (mdagent, or the
 * Python / Node reference servers), subscribes each to a set of symbols, then feeds ticks at
 * a fixed rate from a second thread (batches of B ticks: POST /ingest/quotes over HTTP for
 * mdagent, one text message per batch on a /feed WebSocket for the references; the same JSON
 * body either way). Every tick's price is its id, so each delivered message gives its
 * tick-to-client latency (same process, same monotonic clock). Over the measurement window
 * it counts delivered messages and reads the server's CPU time (utime + stime from
 * /proc/<pid>/stat), so CPU per delivered message does not depend on this client's speed.
 *
 * One thread, epoll, non-blocking sockets, frames parsed in place: the client must cost less
 * than the servers it measures. Prints one "RESULT key=value ..." line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_CONNECTING, C_HANDSHAKE, C_WELCOME, C_SUBSCRIBING, C_READY, C_DEAD };

typedef struct conn {
    int fd;
    int state;
    char *pend; /* bytes of an incomplete frame (or handshake) */
    size_t npend, cap;
} conn;

static struct {
    int port, feed_port, clients, symbols, per_client, rate, batch, concurrency;
    double warmup, duration;
    const char *feed; /* "http" or "ws" */
    const char *feed_path, *api_key, *label, *path;
    const char *sent_file; /* where the feeder leaves every tick's send time for other clients */
    int server_pid;
} opt = {.clients = 1000,
         .symbols = 20,
         .rate = 200,
         .batch = 20,
         .concurrency = 64,
         .warmup = 3,
         .duration = 10,
         .feed = "http",
         .feed_path = "/ingest/quotes",
         .api_key = "benchkey",
         .label = "server",
         .path = "/stream"};

static conn *conns;
static int ep;
static int n_ready, n_dead, n_open;
static int *subscribers; /* per symbol */

/* ticks */
static int64_t *sent_ns; /* by tick id */
static uint64_t max_ticks;
static atomic_uint_fast64_t ticks_sent;
static atomic_int feeding_done;
static int64_t feed_start, t_window_start, t_window_end; /* monotonic ns, set before feeding */
static atomic_uint_fast64_t window_first_tick, window_last_tick;

/* results */
static uint64_t msgs_in_window, msgs_total, lagged_msgs, lagged_dropped, bytes_total;
static uint32_t *lat_us;
static size_t n_lat, cap_lat;
static uint64_t delivered_window_ticks; /* deliveries of ticks sent inside the window */
static uint32_t *ack_us; /* POST /ingest/quotes: send to acknowledgement, per batch */
static size_t n_ack, cap_ack;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *msg)
{
    fprintf(stderr, "stream_client: %s: %s\n", msg, strerror(errno));
    exit(1);
}

static double server_cpu_s(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* -- frames ------------------------------------------------------------------------------- */

static size_t frame_client(unsigned char *out, int opcode, const char *payload, size_t n)
{
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        out[h++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) out[h + i] = (unsigned char)payload[i] ^ mask[i & 3];
    return h + n;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
                continue;
            }
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void send_text(conn *c, const char *text)
{
    unsigned char buf[1024];
    size_t n = frame_client(buf, 1, text, strlen(text));
    if (send_all(c->fd, buf, n)) c->state = C_DEAD;
}

static void subscribe(conn *c, int idx)
{
    char msg[900];
    int n = snprintf(msg, sizeof msg, "{\"op\":\"subscribe\",\"symbols\":[");
    for (int j = 0; j < opt.per_client; j++) {
        int s = (idx + j) % opt.symbols;
        n += snprintf(msg + n, sizeof msg - (size_t)n, "%s\"BS%03d\"", j ? "," : "", s);
    }
    snprintf(msg + n, sizeof msg - (size_t)n, "],\"channels\":[\"quote\"]}");
    send_text(c, msg);
    c->state = C_SUBSCRIBING;
}

static void on_text(conn *c, int idx, const char *p, size_t n, int64_t now)
{
    if (n > 16 && memcmp(p, "{\"type\":\"quote\"", 15) == 0) {
        const char *pr = memmem(p, n, "\"price\":", 8);
        if (!pr) return;
        uint64_t id = strtoull(pr + 8, NULL, 10);
        msgs_total++;
        if (now >= t_window_start && now < t_window_end) msgs_in_window++;
        uint64_t first = atomic_load(&window_first_tick), last = atomic_load(&window_last_tick);
        if (id && id < max_ticks && sent_ns[id] && first && id >= first && (!last || id <= last)) {
            delivered_window_ticks++;
            if (n_lat == cap_lat) {
                cap_lat = cap_lat ? cap_lat * 2 : 1 << 20;
                lat_us = realloc(lat_us, cap_lat * sizeof *lat_us);
            }
            int64_t d = (now - sent_ns[id]) / 1000;
            lat_us[n_lat++] = (uint32_t)(d < 0 ? 0 : d);
        }
        return;
    }
    if (memmem(p, n, "\"type\":\"welcome\"", 16)) {
        if (c->state == C_WELCOME) subscribe(c, idx);
    } else if (memmem(p, n, "\"type\":\"subscribed\"", 19)) {
        if (c->state == C_SUBSCRIBING) {
            c->state = C_READY;
            n_ready++;
        }
    } else if (memmem(p, n, "\"type\":\"lagged\"", 15)) {
        const char *d = memmem(p, n, "\"dropped\":", 10);
        lagged_msgs++;
        if (d) lagged_dropped += strtoull(d + 10, NULL, 10);
    }
}

/* Parses complete frames in p[0..n); returns bytes consumed. */
static size_t parse_frames(conn *c, int idx, char *p, size_t n, int64_t now)
{
    size_t off = 0;
    for (;;) {
        if (n - off < 2) break;
        unsigned char *h = (unsigned char *)p + off;
        size_t len = h[1] & 0x7f, hl = 2;
        if (len == 126) {
            if (n - off < 4) break;
            len = ((size_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (len == 127) {
            if (n - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (n - off < hl + len) break;
        int opcode = h[0] & 0x0f;
        char *payload = p + off + hl;
        if (opcode == 1 || opcode == 2) {
            on_text(c, idx, payload, len, now);
        } else if (opcode == 9) { /* ping: answer */
            unsigned char buf[256];
            size_t m = frame_client(buf, 10, payload, len > 125 ? 125 : len);
            send_all(c->fd, buf, m);
        } else if (opcode == 8) {
            c->state = C_DEAD;
        }
        off += hl + len;
    }
    return off;
}

static void conn_kill(conn *c)
{
    if (c->state != C_DEAD) c->state = C_DEAD;
    if (c->fd >= 0) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        n_dead++;
        n_open--;
    }
}

static void keep(conn *c, const char *p, size_t n)
{
    if (c->cap < n) {
        c->cap = n < 4096 ? 4096 : n;
        c->pend = realloc(c->pend, c->cap);
    }
    memmove(c->pend, p, n);
    c->npend = n;
}

static char rbuf[1 << 18];

static void on_readable(conn *c, int idx)
{
    for (int rounds = 0; rounds < 4; rounds++) {
        char *p;
        size_t room;
        if (c->npend) { /* append to the pending bytes */
            if (c->cap - c->npend < 65536) {
                c->cap = c->npend + 65536;
                c->pend = realloc(c->pend, c->cap);
            }
            p = c->pend;
            room = c->cap - c->npend;
        } else {
            p = rbuf;
            room = sizeof rbuf;
        }
        ssize_t r = recv(c->fd, p + (c->npend ? c->npend : 0), room, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_kill(c);
            return;
        }
        if (r < 0) return;
        bytes_total += (size_t)r;
        size_t n = (c->npend ? c->npend : 0) + (size_t)r;
        int64_t now = now_ns();
        size_t off = 0;
        if (c->state == C_HANDSHAKE) {
            char *end = memmem(p, n, "\r\n\r\n", 4);
            if (!end) {
                if (p == rbuf)
                    keep(c, p, n);
                else
                    c->npend = n;
                continue;
            }
            if (n < 12 || memcmp(p + 9, "101", 3) != 0) {
                fprintf(stderr, "stream_client: upgrade refused: %.40s\n", p);
                conn_kill(c);
                return;
            }
            off = (size_t)(end + 4 - p);
            c->state = C_WELCOME;
        }
        off += parse_frames(c, idx, p + off, n - off, now);
        if (c->state == C_DEAD) {
            conn_kill(c);
            return;
        }
        if (off < n)
            keep(c, p + off, n - off);
        else
            c->npend = 0;
        if ((size_t)r < room) return;
    }
}

static void start_connect(int idx)
{
    conn *c = &conns[idx];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket (raise the file limit)");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        die("connect");
    c->state = C_CONNECTING;
    n_open++;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)idx};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void on_connected(int idx)
{
    conn *c = &conns[idx];
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        conn_kill(c);
        return;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.port);
    if (send_all(c->fd, req, (size_t)n)) {
        conn_kill(c);
        return;
    }
    c->state = C_HANDSHAKE;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* -- feeder ------------------------------------------------------------------------------- */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("feed connect");
    return fd;
}

static void read_http_response(int fd)
{
    static char buf[65536];
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0) die("feed response");
        n += (size_t)r;
        buf[n] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        if (strncmp(buf + 9, "200", 3) != 0) {
            fprintf(stderr, "stream_client: feed answered %.200s\n", buf);
            exit(1);
        }
        char *cl = strcasestr(buf, "content-length:");
        size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (n >= (size_t)(end + 4 - buf) + body) return;
    }
}

/* Answers the pings a server sends on the feed WebSocket (the Python reference pings every
 * 20 s and drops a connection that does not answer); nothing else is expected there. */
static void feed_answer_pings(int fd)
{
    static unsigned char in[4096];
    static size_t n;
    ssize_t r = recv(fd, in + n, sizeof in - n, MSG_DONTWAIT);
    if (r <= 0) return;
    n += (size_t)r;
    size_t off = 0;
    while (n - off >= 2) {
        size_t len = in[off + 1] & 0x7f, hl = 2;
        if (len >= 126) { /* not a control frame: skip what we have */
            off = n;
            break;
        }
        if (n - off < hl + len) break;
        if ((in[off] & 0x0f) == 9) {
            unsigned char out[256];
            size_t m = frame_client(out, 10, (const char *)in + off + hl, len);
            send_all(fd, out, m);
        }
        off += hl + len;
    }
    memmove(in, in + off, n - off);
    n -= off;
}

/* The send times for a load client in another process (bench/ref/ws_clients.js): int64 little
 * endian, the window's first and last tick ids, then sent_ns[0 .. last tick] (CLOCK_MONOTONIC,
 * the clock Node's process.hrtime reads). Written whole under another name, then renamed. */
static void write_sent_file(void)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.part", opt.sent_file);
    FILE *f = fopen(tmp, "wb");
    if (!f) die("sent file");
    int64_t head[2] = {(int64_t)atomic_load(&window_first_tick),
                       (int64_t)atomic_load(&window_last_tick)};
    uint64_t n = atomic_load(&ticks_sent) + 1;
    if (fwrite(head, sizeof head, 1, f) != 1 || fwrite(sent_ns, sizeof *sent_ns, n, f) != n ||
        fclose(f) != 0 || rename(tmp, opt.sent_file) != 0)
        die("sent file");
}

static void *feeder(void *arg)
{
    int fd = dial(opt.feed_port);
    int ws = strcmp(opt.feed, "ws") == 0;
    if (ws) {
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         opt.feed_path);
        send_all(fd, req, (size_t)n);
        char buf[4096];
        size_t got = 0;
        while (!memmem(buf, got, "\r\n\r\n", 4)) {
            ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
            if (r <= 0) die("feed handshake");
            got += (size_t)r;
        }
        if (memcmp(buf + 9, "101", 3) != 0) die("feed upgrade refused");
        /* the reference servers' answers on this socket are never read: they send none */
    }
    size_t body_cap = 64 + (size_t)opt.batch * 96;
    char *body = malloc(body_cap);
    unsigned char *frame = malloc(body_cap + 512);
    char *req = malloc(body_cap + 512);
    int64_t interval = (int64_t)(1e9 * opt.batch / opt.rate);
    int64_t start = feed_start, next = start;
    int64_t total_ns = (int64_t)((opt.warmup + opt.duration) * 1e9);
    uint64_t id = 1;
    int sym = 0;
    while (next - start < total_ns && id + (uint64_t)opt.batch < max_ticks) {
        for (int64_t now = now_ns(); now < next; now = now_ns()) {
            int64_t until = ws && next - now > 500000000LL ? now + 500000000LL : next;
            struct timespec ts = {(time_t)(until / 1000000000LL), (long)(until % 1000000000LL)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            if (ws) feed_answer_pings(fd);
        }
        long ts = (long)time(NULL);
        size_t n = (size_t)snprintf(body, body_cap, "{\"quotes\":[");
        uint64_t first = id;
        for (int i = 0; i < opt.batch; i++, id++) {
            n += (size_t)snprintf(body + n, body_cap - n,
                                  "%s{\"symbol\":\"BS%03d\",\"price\":%llu,\"timestamp\":%ld}",
                                  i ? "," : "", sym, (unsigned long long)id, ts);
            sym = (sym + 1) % opt.symbols;
        }
        n += (size_t)snprintf(body + n, body_cap - n, "]}");
        int64_t t = now_ns();
        if (t >= t_window_start && !atomic_load(&window_first_tick))
            atomic_store(&window_first_tick, first);
        if (t < t_window_end) atomic_store(&window_last_tick, id - 1);
        for (uint64_t k = first; k < id; k++) sent_ns[k] = t;
        atomic_store(&ticks_sent, id - 1);
        if (ws) {
            size_t m = frame_client(frame, 1, body, n);
            if (send_all(fd, frame, m)) die("feed send");
            feed_answer_pings(fd);
        } else {
            int h =
                snprintf(req, body_cap + 512,
                         "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "X-API-Key: %s\r\nContent-Length: %zu\r\n\r\n",
                         opt.feed_path, opt.api_key, n);
            memcpy(req + h, body, n);
            if (send_all(fd, req, (size_t)h + n)) die("feed send");
            read_http_response(fd);
            if (t >= t_window_start && t < t_window_end) {
                if (n_ack == cap_ack)
                    ack_us =
                        realloc(ack_us, (cap_ack = cap_ack ? cap_ack * 2 : 1024) * sizeof *ack_us);
                ack_us[n_ack++] = (uint32_t)((now_ns() - t) / 1000);
            }
        }
        next += interval;
    }
    atomic_store(&feeding_done, 1);
    if (opt.sent_file) write_sent_file();
    /* let the server take the last batch before the connection goes (a server reading a
     * WebSocket may drop what arrived with an abrupt end of the stream) */
    struct timespec linger = {2, 0};
    nanosleep(&linger, NULL);
    close(fd);
    free(body);
    free(frame);
    free(req);
    return NULL;
}

/* -- main --------------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: stream_client --port P --feed-port P [--feed http|ws] [--feed-path PATH]\n"
            "       [--clients N] [--symbols S] [--per-client K] [--rate TICKS_PER_S] [--batch B]\n"
            "       [--warmup S] [--duration S] [--server-pid PID] [--label NAME] [--api-key K]\n"
            "       [--sent-file PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--port"))
            opt.port = atoi(v);
        else if (!strcmp(a, "--feed-port"))
            opt.feed_port = atoi(v);
        else if (!strcmp(a, "--feed"))
            opt.feed = v;
        else if (!strcmp(a, "--feed-path"))
            opt.feed_path = v;
        else if (!strcmp(a, "--path"))
            opt.path = v;
        else if (!strcmp(a, "--clients"))
            opt.clients = atoi(v);
        else if (!strcmp(a, "--symbols"))
            opt.symbols = atoi(v);
        else if (!strcmp(a, "--per-client"))
            opt.per_client = atoi(v);
        else if (!strcmp(a, "--rate"))
            opt.rate = atoi(v);
        else if (!strcmp(a, "--batch"))
            opt.batch = atoi(v);
        else if (!strcmp(a, "--warmup"))
            opt.warmup = atof(v);
        else if (!strcmp(a, "--duration"))
            opt.duration = atof(v);
        else if (!strcmp(a, "--server-pid"))
            opt.server_pid = atoi(v);
        else if (!strcmp(a, "--label"))
            opt.label = v;
        else if (!strcmp(a, "--api-key"))
            opt.api_key = v;
        else if (!strcmp(a, "--sent-file"))
            opt.sent_file = v;
        else if (!strcmp(a, "--concurrency"))
            opt.concurrency = atoi(v);
        else
            usage();
    }
    if (!opt.port || !opt.feed_port || opt.clients < 1 || opt.rate < 1 || opt.batch < 1) usage();
    if (opt.symbols < 1 || opt.symbols > 999) usage();
    if (opt.per_client <= 0 || opt.per_client > opt.symbols) opt.per_client = opt.symbols;

    subscribers = calloc((size_t)opt.symbols, sizeof *subscribers);
    for (int i = 0; i < opt.clients; i++)
        for (int j = 0; j < opt.per_client; j++) subscribers[(i + j) % opt.symbols]++;
    max_ticks =
        (uint64_t)((opt.warmup + opt.duration + 2) * opt.rate) + (uint64_t)opt.batch * 4 + 16;
    sent_ns = calloc(max_ticks, sizeof *sent_ns);
    conns = calloc((size_t)opt.clients, sizeof *conns);
    ep = epoll_create1(0);
    if (ep < 0) die("epoll");

    /* connect everyone, a window of `concurrency` handshakes at a time */
    int next = 0;
    int64_t t0 = now_ns();
    struct epoll_event evs[1024];
    while (n_ready + n_dead < opt.clients) {
        while (next < opt.clients && next - n_ready - n_dead < opt.concurrency)
            start_connect(next++);
        int k = epoll_wait(ep, evs, 1024, 100);
        for (int e = 0; e < k; e++) {
            int idx = (int)evs[e].data.u32;
            conn *c = &conns[idx];
            if (c->state == C_CONNECTING)
                on_connected(idx);
            else if (c->state != C_DEAD)
                on_readable(c, idx);
        }
        if (now_ns() - t0 > 120LL * 1000000000LL) {
            fprintf(stderr, "stream_client: only %d of %d clients subscribed after 120 s\n",
                    n_ready, opt.clients);
            return 1;
        }
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    if (n_dead) fprintf(stderr, "stream_client: %d clients failed to connect\n", n_dead);

    struct rusage ru0, ru1, rt0, rt1; /* the process; the reading thread (this one) */
    getrusage(RUSAGE_SELF, &ru0);
    getrusage(RUSAGE_THREAD, &rt0);
    uint64_t msgs0 = msgs_total;
    pthread_t th;
    feed_start = now_ns();
    t_window_start = feed_start + (int64_t)(opt.warmup * 1e9);
    t_window_end = t_window_start + (int64_t)(opt.duration * 1e9);
    pthread_create(&th, NULL, feeder, NULL);
    double cpu0 = -1, cpu1 = -1;
    int sampled0 = 0, sampled1 = 0;
    /* after the window and the last tick: read until 3 s pass without a message (a slow
     * server still delivers its backlog and those latencies count), at most 120 s */
    int64_t last_msg = 0, give_up = 0;
    uint64_t seen = 0;
    for (;;) {
        int k = epoll_wait(ep, evs, 1024, 5);
        for (int e = 0; e < k; e++) {
            int idx = (int)evs[e].data.u32;
            if (conns[idx].state != C_DEAD) on_readable(&conns[idx], idx);
        }
        int64_t now = now_ns();
        if (!sampled0 && now >= t_window_start) cpu0 = server_cpu_s(), sampled0 = 1;
        if (!sampled1 && now >= t_window_end) cpu1 = server_cpu_s(), sampled1 = 1;
        if (msgs_total != seen) {
            seen = msgs_total;
            last_msg = now;
        }
        if (!atomic_load(&feeding_done) || !sampled1) continue;
        if (!give_up) give_up = now + 120000000000LL;
        if (now - last_msg > 3000000000LL || now >= give_up) break;
    }
    getrusage(RUSAGE_THREAD, &rt1);
    uint64_t msgs_read = msgs_total - msgs0;
    pthread_join(th, NULL);
    getrusage(RUSAGE_SELF, &ru1);

    uint64_t first = atomic_load(&window_first_tick), last = atomic_load(&window_last_tick);
    uint64_t expected = 0;
    for (uint64_t id = first; first && id <= last; id++)
        expected += (uint64_t)subscribers[(id - 1) % (uint64_t)opt.symbols];
    qsort(lat_us, n_lat, sizeof *lat_us, cmp_u32);
    double p50 = n_lat ? lat_us[n_lat / 2] / 1000.0 : -1;
    double p99 = n_lat ? lat_us[(size_t)((double)n_lat * 0.99)] / 1000.0 : -1;
    double mx = n_lat ? lat_us[n_lat - 1] / 1000.0 : -1;
    double window_s = opt.duration;
    double cpu = cpu1 - cpu0;
    double client_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                        (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                        (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                        (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    /* the reading thread's own CPU per message it read: reading one tick's messages takes it
     * about subscribers x this, which bounds the p99 it can see from below */
    double reader_cpu = (double)(rt1.ru_utime.tv_sec - rt0.ru_utime.tv_sec) +
                        (double)(rt1.ru_stime.tv_sec - rt0.ru_stime.tv_sec) +
                        (double)(rt1.ru_utime.tv_usec - rt0.ru_utime.tv_usec) / 1e6 +
                        (double)(rt1.ru_stime.tv_usec - rt0.ru_stime.tv_usec) / 1e6;
    double ack_p50 = 0, ack_p99 = 0, ack_max = 0;
    if (n_ack) {
        qsort(ack_us, n_ack, sizeof *ack_us, cmp_u32);
        ack_p50 = ack_us[n_ack / 2] / 1000.0;
        ack_p99 = ack_us[(size_t)((double)(n_ack - 1) * 0.99)] / 1000.0;
        ack_max = ack_us[n_ack - 1] / 1000.0;
    }
    printf("RESULT label=%s clients=%d connected=%d symbols=%d per_client=%d rate=%d batch=%d "
           "window_s=%.1f ticks=%llu expected=%llu delivered=%llu missing=%lld lagged_msgs=%llu "
           "lagged_dropped=%llu msgs_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
           "server_cpu_s=%.2f cpu_us_per_msg=%.3f client_cpu_s=%.2f connect_s=%.1f acks=%zu "
           "ack_p50_ms=%.3f ack_p99_ms=%.3f ack_max_ms=%.3f reader_us_per_msg=%.3f\n",
           opt.label, opt.clients, opt.clients - n_dead, opt.symbols, opt.per_client, opt.rate,
           opt.batch, window_s, (unsigned long long)(first ? last - first + 1 : 0),
           (unsigned long long)expected, (unsigned long long)delivered_window_ticks,
           (long long)expected - (long long)delivered_window_ticks, (unsigned long long)lagged_msgs,
           (unsigned long long)lagged_dropped, (double)msgs_in_window / window_s, p50, p99, mx, cpu,
           msgs_in_window ? cpu * 1e6 / (double)msgs_in_window : -1, client_cpu, connect_s, n_ack,
           ack_p50, ack_p99, ack_max, msgs_read ? reader_cpu * 1e6 / (double)msgs_read : -1);
    return 0;
}
