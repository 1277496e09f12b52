/* http.h - requests and responses as route handlers see them (no socket or parser types).
 *
 * The server parses a request into md_http_req (path and query decoded), picks the route
 * from routes.def and calls its handler, which fills md_http_resp. A handler that fails
 * returns a negative MD_E* code with err filled; the server renders the error JSON
 * ({"error":{"code","message"}}) with the status from errors.def. */
#ifndef MD_SERVER_HTTP_H
#define MD_SERVER_HTTP_H

#include "core/buf.h"
#include "core/error.h"
#include "query/query.h"

#include <stddef.h>

typedef enum {
    MD_HTTP_GET = 1,
    MD_HTTP_POST = 2,
    MD_HTTP_PUT = 4,
    MD_HTTP_DELETE = 8,
    MD_HTTP_HEAD = 16,
    MD_HTTP_OPTIONS = 32,
    MD_HTTP_OTHER = 64
} md_http_method;

/* Writes the names of the bits of methods joined by sep ("GET, HEAD") into out. */
void md_http_methods_str(int methods, const char *sep, char *out, size_t n);

#define MD_HTTP_MAX_PARAMS 64

/* Room for the extra response headers: a Link to the next page repeats the request's URL. */
#define MD_HTTP_HEADERS_MAX 10240

typedef struct md_http_param {
    char *name, *value; /* decoded */
} md_http_param;

typedef struct md_http_req {
    md_http_method method;
    char *path;        /* decoded, without the query */
    const char *route; /* the matched pattern, for metrics ("/price/{symbol}") */
    char *capture;     /* the {symbol} part of the path, decoded */
    md_http_param params[MD_HTTP_MAX_PARAMS];
    int n_params;
    char *api_key; /* from Authorization: Bearer or X-API-Key, NULL when absent */
    char *content_type;
    char *host; /* the Host header (links to the next page are absolute); NULL when absent */
    char *body; /* NUL-terminated; NULL when none */
    size_t body_len;
    int64_t start_ns; /* monotonic, when the request arrived */
    int on_loop;      /* 1 while a MD_RT_TRY_INLINE handler runs on the event loop */
    int tried_inline; /* 1 when it ran there already and asked for a worker */
} md_http_req;

typedef struct md_http_resp {
    int status;
    const char *content_type; /* static string */
    md_buf body;
    char headers[MD_HTTP_HEADERS_MAX]; /* extra header lines "Name: value\r\n" */
    /* A body owned elsewhere (cache entries): when ext is set it is sent instead of body
     * and ext_release(ext_ctx) runs after the response is written. */
    const char *ext;
    size_t ext_len;
    void (*ext_release)(void *ctx);
    void *ext_ctx;
} md_http_resp;

/* Sends a query answer (md_answer): a cached body goes out as ext without a copy (the
 * reference moves to resp), a built body is moved into resp->body. Adds X-Cache, and Link
 * when the answer has a next page. A cacheable answer names its next page by path (the same
 * body serves every Host): a JSON body's "next" is made absolute here for this request, at
 * the cost of one copy of that page. */
void md_http_answer(const md_http_req *req, md_http_resp *resp, md_answer *a);

/* Query parameter value, or NULL. */
const char *md_http_param_get(const md_http_req *req, const char *name);
/* Adapter for md_history_req_parse(). */
const char *md_http_param_getter(void *req, const char *name);

/* Starts a JSON response with status; returns the body buffer to append to. */
md_buf *md_http_json(md_http_resp *resp, int status);
/* Adds "Name: value" to the extra headers (dropped, with a warning, when it does not fit). */
void md_http_header(md_http_resp *resp, const char *name, const char *value);

/* Appends to out the absolute URL of this request ("http://<Host><path>?<query>", or from
 * the path on when the request had no Host) with parameter `name` set to `value` (replacing
 * it, or added), every name and value percent-encoded again. */
void md_http_self_url(const md_http_req *req, const char *name, const char *value, md_buf *out);
/* "http://<Host>" of this request; nothing when it has no (usable) Host. */
void md_http_origin(const md_http_req *req, md_buf *out);
/* Link builders (query.h md_link) for this request: absolute URLs (md_http_self_url), or
 * from the path on (cached answers; md_http_answer makes them absolute). */
md_link md_http_link(const md_http_req *req);
md_link md_http_link_path(const md_http_req *req);
/* Paging: adds `Link: <next_url>; rel="next"` (nothing when next_url is NULL or empty). */
void md_http_link_next(md_http_resp *resp, const char *next_url);
/* Replaces the response with the error JSON for rc. */
void md_http_error(md_http_resp *resp, int rc, const char *message);

/* Checks the request's API key against MDAGENT_API_KEYS. 0 when allowed; MD_EUNAUTH
 * (missing/wrong key) or MD_ENOAUTHCFG (no keys configured and not --insecure-dev). */
int md_http_check_auth(const md_services *svc, const md_http_req *req, md_error *err);

/* Frees what a parsed request owns (path, capture, parameters, key, content type, body) and
 * zeroes those fields. */
void md_http_req_deinit(md_http_req *req);

#endif
