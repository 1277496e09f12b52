/* routes.h - the route table (routes.def) and the handlers' signature. */
#ifndef MD_SERVER_ROUTES_H
#define MD_SERVER_ROUTES_H

#include "server/http.h"

enum {
    MD_RT_INLINE = 1,     /* always runs on the event loop */
    MD_RT_AUTH = 2,       /* needs an API key */
    MD_RT_BODY = 4,       /* takes a body (others refuse one) */
    MD_RT_TRY_INLINE = 8, /* first tried on the loop with req->on_loop = 1; the handler
                           * returns MD_EAGAIN to be run again on a worker (cache hits are
                           * answered on the loop, misses go to the store on a worker) */
    MD_RT_FETCH = 16,     /* may call the providers: its own workers and time budget */
};

/* A handler fills resp, or returns a negative MD_E* code with err set. It may block
 * unless its route is MD_RT_INLINE. */
typedef int (*md_route_fn)(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err);

typedef struct md_route {
    int methods;
    const char *pattern;
    md_route_fn fn;
    int flags;
    const char *params; /* the query parameters it takes, space-separated; "*": any */
} md_route;

#define MD_ROUTE(methods, pattern, fn, flags, params)                                              \
    int fn(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err);
#include "server/routes.def"
#undef MD_ROUTE

/* Finds the route for a path and method (HEAD matches GET routes). Returns the route, or
 * NULL with *status set to 404 (no such path) or 405 (path exists, method does not;
 * *allowed = the MD_HTTP_* bits of the methods it takes, HEAD included with GET).
 * On a match req->route and req->capture are set. */
const md_route *md_route_match(md_http_req *req, int *status, int *allowed);

/* 0 when every query parameter of req is one the route declares (routes.def), else
 * MD_EPARAM naming the first unknown one and listing the route's parameters. */
int md_route_check_params(const md_route *rt, const md_http_req *req, md_error *err);

/* The work queue a matched request runs on when it leaves the event loop. Every transport
 * hands its blocking requests to this queue and to no other: a route that may call the
 * providers (MD_RT_FETCH) goes to svc->fetchers, unless its request asks for stored data
 * only (cached_only=true), so that requests needing no provider never wait behind one that
 * hangs; everything else, and every request when there are no fetchers (no sources), goes
 * to svc->workers. */
md_workq *md_route_queue(const md_route *rt, md_services *svc, const md_http_req *req);

/* Runs the handler for a matched route (API key, body and parameter checks included: routes.def) and
 * renders errors. A MD_RT_FETCH route runs within sources.deadline_ms from req->start_ns:
 * every provider call it makes stops there (md_srcmgr_budget_begin). */
void md_route_run(const md_route *rt, md_services *svc, md_http_req *req, md_http_resp *resp);
/* For MD_RT_TRY_INLINE routes on the loop: runs the handler with req->on_loop = 1. Returns
 * MD_EAGAIN (response untouched) when the handler asks for a worker, else 0. */
int md_route_try_inline(const md_route *rt, md_services *svc, md_http_req *req, md_http_resp *resp);

#endif
