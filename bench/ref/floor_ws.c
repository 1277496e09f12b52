/* The floor for bench/stream_fanout.sh: the least a WebSocket broadcast server can do for the
 * benchmark's /stream subset, to show how much of a latency or CPU figure is the kernel's and
 * the load client's rather than the server's. One thread, one epoll; a tick fed on /feed
 * ({"quotes":[...]}, the references' feed) is encoded once and written with one write() to
 * every subscriber of its symbol: no validation, no storage, no queues, no sequence per
 * client. A subscriber whose socket is full is dropped and counted (stderr), so a run where
 * the floor falls behind shows it as missing messages instead of hiding it.
 *
 *   floor_ws PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_FD = 1 << 17, MAX_SYMS = 256, IN_CAP = 1 << 16 };

typedef struct {
    int open, upgraded, feed;
    size_t n; /* bytes in in */
    char *in;
} conn;

typedef struct {
    char name[16];
    int *fds;
    size_t n, cap;
} sym;

static conn conns[MAX_FD];
static sym syms[MAX_SYMS];
static size_t n_syms;
static unsigned long long seq, dropped, sessions;

static sym *find_sym(const char *s, size_t len, int create)
{
    for (size_t i = 0; i < n_syms; i++)
        if (strlen(syms[i].name) == len && memcmp(syms[i].name, s, len) == 0) return &syms[i];
    if (!create || n_syms == MAX_SYMS || len >= sizeof syms[0].name) return NULL;
    sym *y = &syms[n_syms++];
    memcpy(y->name, s, len);
    y->name[len] = 0;
    return y;
}

static void drop(int ep, int fd)
{
    for (size_t i = 0; i < n_syms; i++)
        for (size_t j = 0; j < syms[i].n; j++)
            if (syms[i].fds[j] == fd) syms[i].fds[j--] = syms[i].fds[--syms[i].n];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd].in);
    memset(&conns[fd], 0, sizeof conns[fd]);
}

/* One unmasked server text frame of p[0..n) into out; returns its length. */
static size_t frame(unsigned char *out, const char *p, size_t n)
{
    size_t h = 2;
    out[0] = 0x81;
    if (n < 126) {
        out[1] = (unsigned char)n;
    } else {
        out[1] = 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        h = 4;
    }
    memcpy(out + h, p, n);
    return h + n;
}

static void send_text(int fd, const char *p, size_t n)
{
    unsigned char buf[1024];
    if (n > sizeof buf - 4) return;
    size_t m = frame(buf, p, n);
    if (write(fd, buf, m) != (ssize_t)m) dropped++;
}

/* The next JSON string after key in p[0..n), or NULL; *len is its length. */
static const char *json_str(const char *p, size_t n, const char *key, size_t *len)
{
    const char *k = memmem(p, n, key, strlen(key));
    if (!k) return NULL;
    const char *q = memchr(k + strlen(key), '"', (size_t)(p + n - k) - strlen(key));
    if (!q) return NULL;
    const char *e = memchr(q + 1, '"', (size_t)(p + n - q - 1));
    if (!e) return NULL;
    *len = (size_t)(e - q - 1);
    return q + 1;
}

static void publish(int ep, const char *s, size_t slen, const char *price, size_t plen, long ts)
{
    seq++;
    sym *y = find_sym(s, slen, 0);
    if (!y || !y->n) return;
    char iso[32], msg[256];
    struct tm tm;
    time_t t = (time_t)ts;
    gmtime_r(&t, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(msg, sizeof msg,
                     "{\"type\":\"quote\",\"seq\":%llu,\"symbol\":\"%.*s\",\"price\":%.*s,"
                     "\"timestamp\":\"%s\",\"source\":\"ingest\"}",
                     seq, (int)slen, s, (int)plen, price, iso);
    unsigned char buf[300];
    size_t m = frame(buf, msg, (size_t)n);
    for (size_t j = 0; j < y->n; j++) {
        int fd = y->fds[j];
        if (write(fd, buf, m) != (ssize_t)m) {
            dropped++;
            fprintf(stderr, "floor_ws: subscriber %d behind, dropped (%llu)\n", fd, dropped);
            drop(ep, fd);
            j--;
        }
    }
}

/* {"quotes":[{"symbol":"BS000","price":123,"timestamp":1700000000},...]} */
static void on_feed(int ep, const char *p, size_t n)
{
    const char *end = p + n;
    for (const char *q = memmem(p, n, "\"symbol\"", 8); q;
         q = memmem(q, (size_t)(end - q), "\"symbol\"", 8)) {
        size_t slen;
        const char *s = json_str(q, (size_t)(end - q), "\"symbol\"", &slen);
        const char *pr = s ? memmem(s, (size_t)(end - s), "\"price\":", 8) : NULL;
        const char *ts = pr ? memmem(pr, (size_t)(end - pr), "\"timestamp\":", 12) : NULL;
        if (!ts) return;
        pr += 8;
        size_t plen = strspn(pr, "0123456789.-eE");
        publish(ep, s, slen, pr, plen, strtol(ts + 12, NULL, 10));
        q = ts;
    }
}

static void on_client(int fd, const char *p, size_t n)
{
    if (!memmem(p, n, "\"subscribe\"", 11)) {
        if (memmem(p, n, "\"ping\"", 6)) send_text(fd, "{\"type\":\"pong\"}", 15);
        return;
    }
    const char *a = memmem(p, n, "\"symbols\"", 9);
    const char *open = a ? memchr(a, '[', (size_t)(p + n - a)) : NULL;
    const char *close = open ? memchr(open, ']', (size_t)(p + n - open)) : NULL;
    if (!close) return;
    char out[1024];
    int o = snprintf(out, sizeof out, "{\"type\":\"subscribed\",\"symbols\":[");
    int first = 1;
    for (const char *q = open; q < close;) {
        const char *s = memchr(q, '"', (size_t)(close - q));
        const char *e = s ? memchr(s + 1, '"', (size_t)(close - s - 1)) : NULL;
        if (!e) break;
        sym *y = find_sym(s + 1, (size_t)(e - s - 1), 1);
        if (y) {
            if (y->n == y->cap) {
                y->cap = y->cap ? y->cap * 2 : 64;
                y->fds = realloc(y->fds, y->cap * sizeof *y->fds);
            }
            y->fds[y->n++] = fd;
            if (o < (int)sizeof out - 40)
                o += snprintf(out + o, sizeof out - (size_t)o, "%s\"%s\"", first ? "" : ",",
                              y->name);
            first = 0;
        }
        q = e + 1;
    }
    o += snprintf(out + o, sizeof out - (size_t)o, "],\"channels\":[\"quote\"]}");
    send_text(fd, out, (size_t)o);
}

static int handshake(int fd, conn *c)
{
    char *end = memmem(c->in, c->n, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t klen;
    const char *key = NULL;
    char *k = memmem(c->in, (size_t)(end - c->in), "Sec-WebSocket-Key:", 18);
    if (k) {
        k += 18;
        while (*k == ' ') k++;
        key = k;
        klen = strcspn(k, "\r");
    }
    if (!key || klen > 64) return -1;
    struct sha1_ctx h;
    uint8_t dig[SHA1_DIGEST_SIZE];
    char acc[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 1];
    sha1_init(&h);
    sha1_update(&h, klen, (const uint8_t *)key);
    sha1_update(&h, 36, (const uint8_t *)"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    sha1_digest(&h, sizeof dig, dig);
    base64_encode_raw(acc, sizeof dig, dig);
    acc[sizeof acc - 1] = 0;
    c->feed = memcmp(c->in, "GET /feed", 9) == 0;
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    if (write(fd, resp, (size_t)n) != n) return -1;
    c->upgraded = 1;
    size_t used = (size_t)(end + 4 - c->in);
    memmove(c->in, c->in + used, c->n - used);
    c->n -= used;
    if (!c->feed) {
        char w[128];
        int m = snprintf(w, sizeof w,
                         "{\"type\":\"welcome\",\"server_time\":\"-\",\"session\":\"%llu\"}",
                         ++sessions);
        send_text(fd, w, (size_t)m);
    }
    return 1;
}

/* Handles the complete client frames in c->in; returns -1 on close or a bad frame. */
static int frames(int ep, int fd, conn *c)
{
    size_t off = 0;
    while (c->n - off >= 2) {
        unsigned char *b = (unsigned char *)c->in + off;
        int op = b[0] & 0x0f, masked = b[1] & 0x80;
        uint64_t len = b[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (c->n - off < 4) break;
            len = (uint64_t)b[2] << 8 | b[3];
            h = 4;
        } else if (len == 127) {
            if (c->n - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | b[2 + i];
            h = 10;
        }
        if (!masked || len > IN_CAP - 14) return -1;
        if (c->n - off < h + 4 + len) break;
        unsigned char *m = b + h, *p = b + h + 4;
        for (uint64_t i = 0; i < len; i++) p[i] ^= m[i & 3];
        if (op == 8) return -1;
        if (op == 9) { /* ping -> pong */
            unsigned char pong[130];
            if (len <= 125) {
                pong[0] = 0x8a;
                pong[1] = (unsigned char)len;
                memcpy(pong + 2, p, len);
                if (write(fd, pong, 2 + len) < 0) return -1;
            }
        } else if (op == 1 || op == 2) {
            if (c->feed)
                on_feed(ep, (const char *)p, len);
            else
                on_client(fd, (const char *)p, len);
        }
        off += h + 4 + len;
        if (!conns[fd].open) return -1;
    }
    memmove(c->in, c->in + off, c->n - off);
    c->n -= off;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: floor_ws PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 4096)) {
        perror("floor_ws: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAX_FD) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[c] = (conn){.open = 1, .in = malloc(IN_CAP)};
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            conn *c = &conns[fd];
            if (!c->open) continue;
            ssize_t r = read(fd, c->in + c->n, IN_CAP - c->n);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                drop(ep, fd);
                continue;
            }
            c->n += (size_t)r;
            int ok = c->upgraded ? 0 : handshake(fd, c);
            if (ok < 0 || (c->upgraded && frames(ep, fd, c) < 0) || c->n == IN_CAP) {
                if (conns[fd].open) drop(ep, fd);
            }
        }
    }
}
