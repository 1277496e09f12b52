/* server_int.h - what server.c (loops, listeners, dispatch), conn.c (HTTP connections) and
 * ws.c (WebSocket /stream) share. Everything here is owned by one loop thread unless marked. */
#ifndef MD_SERVER_SERVER_INT_H
#define MD_SERVER_SERVER_INT_H

#include "server/http.h"
#include "server/loop.h"
#include "server/request.h"
#include "server/routes.h"
#include "server/server.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct srv_loop srv_loop;
typedef struct md_conn md_conn;
typedef struct md_task md_task;
typedef struct md_ws_loop md_ws_loop;
typedef struct md_ws_conn md_ws_conn;

/* One request from its head to the end of its response. A handler on a worker owns the task
 * while it runs; the loop owns it otherwise. */
struct md_task {
    md_http_req req;
    md_http_resp resp;
    md_conn *c; /* NULL once the connection closed (the completion then frees the task) */
    srv_loop *sl;
    const md_route *rt;
    int in_worker;
    int flush_owed;         /* the handler published with its wakes held (md_srv_flush_owed) */
    size_t body_cap;        /* bytes allocated for req.body (+1 for the NUL) */
    int body_mapped;        /* req.body is an mmap'd region of body_cap bytes */
    size_t body_reserved;   /* counted in the server's in-flight body bytes */
    size_t answer_reserved; /* counted in the server's unsent answer bytes */
    md_task *next;          /* in the loop's completion list */
};

struct md_server {
    md_services *svc;
    srv_loop *loops;
    int n_loops;
    int port;
    char addr[300];            /* HOST:PORT with the bound port */
    atomic_int draining;       /* new requests get 503; requests already started finish */
    atomic_int stopping;       /* loops exit */
    atomic_int inflight;       /* tasks alive (any thread) */
    atomic_llong body_bytes;   /* request body bytes reserved across connections */
    atomic_llong answer_bytes; /* answer bytes held until written, across connections */
    int joined;
};

struct srv_loop {
    md_server *srv;
    int idx;
    md_loop *loop;
    pthread_t thread;
    md_ev listen_ev; /* fd -1 once closed */
    int listen_paused;
    int backoff_ms;
    md_timer accept_timer;
    int reserve_fd;       /* kept to accept-and-refuse at the descriptor limit */
    pthread_mutex_t lock; /* guards done */
    md_task *done;
    atomic_int has_done;
    md_conn *conns; /* every open connection of this loop */
    md_conn *dead;  /* closed this iteration, freed at its end */
    int n_conns;
    char *rbuf; /* read scratch */
    size_t rbuf_cap;
    md_ws_loop *ws; /* NULL without a hub, and on HTTP loops that have a stream loop */
    int closing;    /* shutdown: idle connections are closed as they become idle */
    /* Stream loops (issue 20): WebSockets live on loops of their own, so the fan-out never
     * holds the core that reads and answers HTTP requests (an ingest acknowledgement then
     * waits for neither the fan-out nor the scheduler's turn of a busy thread). An HTTP loop
     * checks an upgrade, then hands the connection to its stream loop. */
    int is_stream;               /* a stream loop: no listener, only WebSockets */
    srv_loop *stream;            /* HTTP loop: where its upgraded connections go (NULL: itself) */
    md_conn *moving;             /* HTTP loop: upgraded this iteration, handed over at its end */
    _Atomic(md_conn *) incoming; /* stream loop, any thread: handed over, not adopted */
};

enum {
    CS_HEAD,   /* reading a request head (idle keep-alive when nothing is buffered) */
    CS_BODY,   /* reading a body of known length */
    CS_BUSY,   /* the request runs (worker) */
    CS_WRITE,  /* writing the response */
    CS_LINGER, /* response sent, our side shut: discard input until EOF or a deadline */
    CS_WS,     /* WebSocket (ws.c) */
    CS_MOVING, /* upgrade accepted, on its way to the stream loop (untouched until adopted) */
    CS_DEAD,
};

struct md_conn {
    md_ev ev;
    md_timer timer;
    srv_loop *sl;
    int state;
    int readable;     /* edge-triggered: data may be waiting (cleared at EAGAIN or a short read) */
    int close_after;  /* close once the response is written */
    int http10;       /* the request is HTTP/1.0: a keep-alive is confirmed in the answer */
    int in_input;     /* inside http_input (answers written there do not recurse into it) */
    int used;         /* a request head came on it (shutdown closes idle keep-alive ones) */
    int64_t since_ms; /* when the current state (or the head's first byte) began */
    md_buf in;        /* unparsed input: a partial head, pipelined requests */
    size_t in_off;
    md_http_scan scan;
    md_task *t;
    md_buf out; /* response head (and small bodies) to write */
    size_t out_off;
    const char *body; /* response body written from the task, without a copy */
    size_t body_len, body_off;
    size_t body_got;      /* CS_BODY: bytes of the request body received */
    size_t discard;       /* body bytes to read and drop (an answered request's unread body) */
    size_t continue_sent; /* bytes of a 100 Continue written, when not all (the rest: first) */
    md_ws_conn *ws;
    md_conn *prev, *next;
    md_conn *move_next; /* in the HTTP loop's moving or the stream loop's incoming list */
    char ws_accept[29]; /* CS_MOVING: the handshake's Sec-WebSocket-Accept */
    int ws_proto;       /* CS_MOVING: the client named the "mdagent" subprotocol */
};

/* -- server.c ---------------------------------------------------------------------------- */
/* Routes and runs the request of t (its head and body are complete). Inline answers are ready
 * on return (t->in_worker 0); worker answers come back through the completion list. */
void md_srv_dispatch(md_task *t);
/* Wakes the stream loops for what a finished request published (its flush_owed), once its
 * answer is written. */
void md_srv_flush_owed(srv_loop *sl, int owed);
/* Frees a task (its request, response and body memory). NULL is fine. */
void md_srv_task_free(md_task *t);
md_task *md_srv_task_new(srv_loop *sl, md_conn *c);
/* Writes the answers of the requests workers finished (oldest first); cheap when none. */
void md_srv_drain_done(srv_loop *sl);
/* A connection closed (descriptor freed): the listener may resume. */
void md_srv_conn_closed(srv_loop *sl);

/* -- conn.c ------------------------------------------------------------------------------ */
/* Takes over an accepted descriptor. */
void md_conn_accept(srv_loop *sl, int fd);
/* A worker finished c's request: write the answer. */
void md_conn_complete(md_conn *c);
/* Closes the connection now (its task is orphaned if a worker still runs it). */
void md_conn_close(md_conn *c);
/* Frees the connections closed during this iteration, hands the upgraded ones to the stream
 * loop. */
void md_conn_reap(srv_loop *sl);
/* Stream loop: takes over the connections handed to it (md_conn_reap of an HTTP loop). */
void md_conn_adopt(srv_loop *sl);
/* Shutdown: closes c if it is idle between requests. */
void md_conn_close_if_idle(md_conn *c);
/* Renders t's response head into c->out. */
void md_conn_render_head(md_conn *c, md_task *t);
/* Tries to write c->out then c->body; returns 1 when all is written, 0 when the socket is
 * full (EPOLLOUT will resume), -1 when the connection failed (closed). */
int md_conn_flush(md_conn *c);

/* -- ws.c -------------------------------------------------------------------------------- */
md_ws_loop *md_ws_loop_new(srv_loop *sl, md_services *svc);
void md_ws_loop_free(md_ws_loop *wl);
/* GET /stream with an upgrade, on c's loop: checks the handshake against wl (the loop that
 * will own the WebSocket) and, when wl is c's own loop, answers it and turns c into a
 * WebSocket (0); when wl is another loop's, c becomes CS_MOVING (0) and md_ws_begin answers
 * it there once adopted. Or leaves c as it is and returns the refusal for conn.c to answer:
 * MD_EBADREQ (HTTP/1.0, a request body, a bad key), MD_EUPGRADE (426: not version 13),
 * MD_EUNAVAIL (shutting down), MD_EBUSY (max_clients). */
int md_ws_upgrade(md_ws_loop *wl, md_conn *c, const md_http_head *h, md_error *err);
/* On the stream loop that adopted c (CS_MOVING): the 101 answer, session and welcome. */
void md_ws_begin(md_conn *c);
/* A CS_MOVING connection closed before it began: gives back its place in max_clients. */
void md_ws_unreserve(void);
/* Events on a WebSocket connection. */
void md_ws_on_event(md_conn *c, uint32_t events);
void md_ws_on_timer(md_conn *c);
/* The connection is being freed. */
void md_ws_conn_free(md_conn *c);
/* Loop wake-up: take published messages, start writing. */
void md_ws_wake(md_ws_loop *wl);
/* Deferred fan-out writes; 1 while clients remain to be written. */
int md_ws_more(md_ws_loop *wl);
/* Any thread: close every WebSocket with 1001 and refuse new ones (wake the loop after). */
void md_ws_close_all(md_ws_loop *wl);
/* Any thread: open WebSockets on this loop. */
int md_ws_count(md_ws_loop *wl);

#endif
