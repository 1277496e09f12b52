/* server.h - the REST and WebSocket server on mdagent's own event loops (server.c).
 *
 * One epoll loop per thread, each with its own listen socket on the same port
 * (SO_REUSEPORT), so the kernel spreads connections over the cores. Routes flagged
 * MD_RT_INLINE run on the loop; every other
 * handler runs on the worker pool (svc->workers) and its response is written when it
 * completes, so no store or provider call ever blocks a loop. */
#ifndef MD_SERVER_SERVER_H
#define MD_SERVER_SERVER_H

#include "core/error.h"
#include "query/query.h"

typedef struct md_server md_server;

/* Binds cfg->listen and starts the loop threads. Port 0 takes a free port from the kernel:
 * the log line "listening addr=HOST:PORT" names it, and so does the file
 * cfg->server_port_file when set (written whole, by rename, once the loops run: a test or
 * supervisor waits for it instead of picking a port that someone may take first). MD_EIO
 * when the address cannot be bound or the port file cannot be written. The server does not
 * own svc. */
int md_server_start(md_services *svc, md_server **out, md_error *err);
/* "HOST:PORT" the server listens on, with the bound port ("127.0.0.1:43817" for
 * --listen 127.0.0.1:0). Owned by the server. */
const char *md_server_addr(const md_server *srv);
/* Graceful stop: new requests get 503 while in-flight ones (uploads included) finish, up to
 * grace_ms; then the loops stop, their threads are joined and the listen sockets closed (new
 * connections are refused from then on). Free the worker pool after this (its
 * pending jobs complete into the still-existing loops), then md_server_free(). */
void md_server_shutdown(md_server *srv, int grace_ms);
/* Frees the server (shutting it down first, without grace, if needed). */
void md_server_free(md_server *srv);

#endif
