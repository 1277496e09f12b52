/* ws.h - WebSocket /stream on the server's event loops (server-internal).
 *
 * server.c owns the lws contexts and hands every WebSocket callback of a loop to that
 * loop's md_ws_loop; the protocol logic (limits, ops, writing) lives in ws.c, the fan-out in
 * stream/. */
#ifndef MD_SERVER_WS_H
#define MD_SERVER_WS_H

#include "query/query.h"

#include <libwebsockets.h>

typedef struct md_ws_loop md_ws_loop;

/* The /stream state of one event loop (svc->hub must be set). Runs on any thread; every other
 * function runs on the loop's thread unless said otherwise. */
md_ws_loop *md_ws_loop_new(md_services *svc, struct lws_context *ctx);
/* Frees it after lws_context_destroy() closed its connections. NULL is fine. */
void md_ws_loop_free(md_ws_loop *wl);

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: 0 accepts the upgrade (path /stream, under
 * stream.max_clients, not shutting down), -1 refuses it. */
int md_ws_filter(md_ws_loop *wl, struct lws *wsi);
/* 1 for the callback reasons md_ws_callback() handles. */
int md_ws_handles(enum lws_callback_reasons reason);
/* Handles a WebSocket callback; *conn is the connection's slot in the per-session data. */
int md_ws_callback(md_ws_loop *wl, struct lws *wsi, enum lws_callback_reasons reason, void **conn,
                   void *in, size_t len);
/* LWS_CALLBACK_EVENT_WAIT_CANCELLED: take published messages, honour close_all. */
void md_ws_wake(md_ws_loop *wl);

/* Any thread: close every connection with 1001 (going away) and refuse new ones; the loop
 * must be woken with lws_cancel_service() afterwards. */
void md_ws_close_all(md_ws_loop *wl);
/* Any thread: connections still open on this loop. */
int md_ws_count(md_ws_loop *wl);

#endif
