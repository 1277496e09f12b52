/* Fuzzes the HTTP request path without sockets: the head scan (fed whole and in two pieces,
 * which must agree), the head parse with the RFC 9112 checks, the route's request (target,
 * path and query decoding, API key), and the error JSON a rejection renders (always valid
 * UTF-8). */
#include "core/buf.h"
#include "core/render.h"
#include "server/request.h"
#include "server/wsframe.h"

#include <stdint.h>
#include <string.h>

static void check_error_json(int rc, const char *msg)
{
    md_buf b = MD_BUF_INIT;
    md_render_error_json(&b, rc, msg);
    if (!md_utf8_valid((const unsigned char *)b.data, b.len)) __builtin_trap();
    md_buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t split = data[0] % 64;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    md_error err;
    md_http_scan sc = {0};
    long whole = md_http_head_scan(s, n, 8192, &sc, &err);
    if (whole > (long)n) __builtin_trap();
    if (whole < 0) check_error_json((int)whole, err.msg);
    /* the same bytes in two reads: the resumed scan must find the same end */
    if (split < n) {
        md_http_scan sc2 = {0};
        long first = md_http_head_scan(s, split, 8192, &sc2, &err);
        if (first == 0) {
            long second = md_http_head_scan(s, n, 8192, &sc2, &err);
            if ((second > 0) != (whole > 0) || (second > 0 && second != whole)) __builtin_trap();
        }
    }
    if (whole <= 0) return 0;
    md_http_head h;
    int rc = md_http_head_parse(s, (size_t)whole, &h, &err);
    if (rc < 0) {
        check_error_json(rc, err.msg);
    } else {
        md_http_req r;
        memset(&r, 0, sizeof r);
        rc = md_http_req_from_head(&r, &h, &err);
        if (rc < 0) {
            check_error_json(rc, err.msg);
        } else {
            if (!r.path || r.n_params > MD_HTTP_MAX_PARAMS) __builtin_trap();
            md_buf b = MD_BUF_INIT; /* what a 404 echoes */
            md_buf_json_strn(&b, r.path, md_utf8_prefix(r.path, 100));
            if (!md_utf8_valid((const unsigned char *)b.data, b.len)) __builtin_trap();
            md_buf_deinit(&b);
        }
        md_http_req_deinit(&r);
    }
    md_http_head_deinit(&h);
    /* the query parser alone, on the raw bytes */
    md_http_req q;
    memset(&q, 0, sizeof q);
    if (md_http_parse_query(&q, s, n, &err) < 0) check_error_json(MD_EBADREQ, err.msg);
    md_http_req_deinit(&q);
    return 0;
}
