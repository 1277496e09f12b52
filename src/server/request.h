/* request.h - HTTP/1.1 request heads: framing, RFC 9112 checks and the md_http_req a route
 * sees (server-internal; no sockets, so the fuzzers drive it directly).
 *
 * The connection buffers a request's head until it is complete (md_http_head_scan), then
 * parses it in one go (md_http_head_parse: nodejs http-parser for the syntax, plus the checks
 * it leaves out), then builds the route's request (md_http_req_from_head: target form, path
 * and query decoding). Every rejection is an MD_E* code whose errors.def row gives the status:
 *
 *   request line longer than max_url (URL)            414 MD_EURILONG
 *   header section >= max_header bytes, > 100 fields  431 MD_EHEADERS
 *   method no route serves (CONNECT, PATCH, BREW...)  501 MD_ENOTIMPL
 *   HTTP/2 preface, a version other than 1.0 / 1.1    505 MD_EVERSION
 *   obsolete line folding, white space before ':', bad syntax, duplicate or invalid
 *   Content-Length, Content-Length with Transfer-Encoding, several Host fields, none
 *   (HTTP/1.1) or one that is not host[:port] (RFC 9112 3.2),
 *   a target that is not origin-, absolute- or asterisk-form (OPTIONS only), bad
 *   percent-encoding, %00, more query parameters than MD_HTTP_MAX_PARAMS  400 MD_EBADREQ
 *   Transfer-Encoding (chunked) without Content-Length                  411 MD_ELENGTH */
#ifndef MD_SERVER_REQUEST_H
#define MD_SERVER_REQUEST_H

#include "core/error.h"
#include "server/http.h"

#include <stddef.h>

#define MD_HTTP_MAX_HEADER_BYTES 32768
#define MD_HTTP_MAX_FIELDS 100

/* What the server needs from a request head. Strings are owned (md_http_head_deinit). */
typedef struct md_http_head {
    md_http_method method;
    int http_minor;
    int keep_alive;           /* per the version and Connection */
    long long content_length; /* -1 when absent */
    int chunked;              /* Transfer-Encoding given (only 411 follows) */
    int upgrade_ws;           /* Upgrade: websocket with Connection: upgrade */
    int expect_continue;      /* Expect: 100-continue */
    int asterisk;             /* request-target "*" */
    char *target;             /* origin-form path?query (absolute-form reduced to it) */
    char *authorization, *x_api_key, *content_type;
    char *host; /* the first Host field (links to the next page are absolute) */
    char *ws_key, *ws_version, *ws_protocol;
} md_http_head;

/* Where a scan of a head that is still arriving stopped (zero it for a new head). */
typedef struct md_http_scan {
    size_t fields; /* offset of the field lines (0: request line not complete yet) */
    size_t pos;    /* the last '\n' looked at */
} md_http_scan;

/* Looks for the end of a request head in buf[0..len). Returns its length (the empty line
 * included) when complete, 0 when more bytes are needed, or a negative MD_E* (414, 431, 501,
 * 505, 400) as soon as the bytes so far settle it; err gets the message. A later call with
 * more bytes of the same head (and the same sc) skips what was scanned. */
long md_http_head_scan(const char *buf, size_t len, size_t max_url, md_http_scan *sc,
                       md_error *err);

/* Parses a complete head (as md_http_head_scan delimited it). 0, or a negative MD_E* with err
 * set; h is filled in either case as far as parsed (deinit it). */
int md_http_head_parse(const char *buf, size_t len, md_http_head *h, md_error *err);
void md_http_head_deinit(md_http_head *h);

/* Fills r (method, decoded path and query, API key, content type, Host) from h. 0, or MD_EBADREQ
 * with err set. r's strings are owned by r (md_http_req_deinit). */
int md_http_req_from_head(md_http_req *r, const md_http_head *h, md_error *err);
/* Splits and decodes a query string ("a=1&b=x+y") into r->params. 0 or MD_EBADREQ. */
int md_http_parse_query(md_http_req *r, const char *q, size_t n, md_error *err);

#endif
