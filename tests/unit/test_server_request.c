/* HTTP request heads (server/request.h) and WebSocket frames (server/wsframe.h): what RFC 9112
 * and RFC 6455 say a server must refuse, refused with the right code; the handshake key from
 * RFC 6455's own example; the timer heap of the event loop (server/loop.h) firing in order. */
#include "server/loop.h"
#include "server/request.h"
#include "server/wsframe.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static int head_rc(const char *raw)
{
    md_error err;
    md_http_scan sc = {0};
    long n = md_http_head_scan(raw, strlen(raw), 8192, &sc, &err);
    if (n <= 0) return (int)n;
    md_http_head h;
    int rc = md_http_head_parse(raw, (size_t)n, &h, &err);
    if (rc == 0) {
        md_http_req r;
        memset(&r, 0, sizeof r);
        rc = md_http_req_from_head(&r, &h, &err);
        md_http_req_deinit(&r);
    }
    md_http_head_deinit(&h);
    return rc;
}

Test(request, a_plain_get_parses)
{
    cr_assert_eq(head_rc("GET /price/MSFT?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
}

Test(request, smuggling_forms_are_400)
{
    cr_assert_eq(
        head_rc("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n"),
        MD_EBADREQ);
    cr_assert_eq(head_rc("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n"),
                 MD_EBADREQ);
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"), MD_EBADREQ);
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\nHost : a\r\n\r\n"), MD_EBADREQ);
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), MD_EBADREQ);
}

Test(request, host_is_required_once_and_must_be_a_host)
{
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\n\r\n"), MD_EBADREQ); /* RFC 9112 3.2: MUST 400 */
    cr_assert_eq(head_rc("GET /x HTTP/1.0\r\n\r\n"), 0);          /* 1.0 has no Host */
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), 0);
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\nHost:\r\n\r\n"), 0); /* empty: no authority */
    cr_assert_eq(head_rc("GET /x HTTP/1.1\r\nHost: a%2Db.example\r\n\r\n"), 0);
    const char *bad[] = {"a/b", "user@h", "a\"b", "a b", "h\xc3\xb4te", "a\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char raw[128];
        snprintf(raw, sizeof raw, "GET /x HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        cr_expect_eq(head_rc(raw), MD_EBADREQ, "Host: %s", bad[i]);
    }
}

Test(request, methods_versions_and_targets)
{
    cr_assert_eq(head_rc("BREW /x HTTP/1.1\r\nHost: a\r\n\r\n"), MD_ENOTIMPL);
    cr_assert_eq(head_rc("CONNECT a:443 HTTP/1.1\r\n"), MD_ENOTIMPL); /* at its first line */
    cr_assert_eq(head_rc("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), MD_EVERSION);
    cr_assert_eq(head_rc("GET /x HTTP/2.0\r\n\r\n"), MD_EVERSION);
    cr_assert_eq(head_rc("GET http://h:1/x?y HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    cr_assert_eq(head_rc("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    cr_assert_eq(head_rc("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), MD_EBADREQ);
    cr_assert_eq(head_rc("GET x HTTP/1.1\r\nHost: a\r\n\r\n"), MD_EBADREQ);
}

Test(request, decoding)
{
    cr_assert_eq(head_rc("GET /price/%zz HTTP/1.1\r\nHost: a\r\n\r\n"), MD_EBADREQ);
    cr_assert_eq(head_rc("GET /price/A%00 HTTP/1.1\r\nHost: a\r\n\r\n"), MD_EBADREQ);
    cr_assert_eq(head_rc("GET /x?a=%0 HTTP/1.1\r\nHost: a\r\n\r\n"), MD_EBADREQ);
    char raw[2048] = "GET /x?";
    for (int i = 0; i <= MD_HTTP_MAX_PARAMS; i++) strcat(raw, "a=1&");
    strcat(raw, " HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(head_rc(raw), MD_EBADREQ);
}

Test(request, sizes)
{
    static char raw[70000];
    strcpy(raw, "GET /x?");
    memset(raw + 7, 'a', 8192);
    strcpy(raw + 7 + 8192, " HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(head_rc(raw), MD_EURILONG);
    strcpy(raw, "GET /x HTTP/1.1\r\nHost: a\r\nX: ");
    size_t n = strlen(raw);
    memset(raw + n, 'v', MD_HTTP_MAX_HEADER_BYTES);
    raw[n + MD_HTTP_MAX_HEADER_BYTES] = 0;
    cr_assert_eq(head_rc(raw), MD_EHEADERS); /* refused before the head ends */
}

Test(request, a_head_split_over_reads_is_found_once_complete)
{
    const char *raw = "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y";
    md_http_scan sc = {0};
    md_error err;
    for (size_t i = 1; i < 28; i++) cr_assert_eq(md_http_head_scan(raw, i, 8192, &sc, &err), 0);
    cr_assert_eq(md_http_head_scan(raw, strlen(raw), 8192, &sc, &err), 28);
}

Test(wsframe, rfc6455_example_key)
{
    char acc[29];
    cr_assert_eq(md_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
    cr_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    cr_assert_eq(md_ws_accept_key("short", acc), -1);
}

static md_ws_event parse_all(const unsigned char *d, size_t n)
{
    md_ws_parser p;
    md_ws_parser_init(&p, 64);
    md_ws_event ev = {0};
    size_t off = 0;
    while (off < n) {
        off += md_ws_parse(&p, d + off, n - off, &ev);
        if (ev.kind) break;
    }
    md_ws_parser_deinit(&p);
    return ev;
}

Test(wsframe, protocol_errors_name_their_close_code)
{
    const unsigned char unmasked[] = {0x81, 0x02, 'h', 'i'};
    cr_assert_eq(parse_all(unmasked, sizeof unmasked).code, 1002);
    const unsigned char rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    cr_assert_eq(parse_all(rsv, sizeof rsv).code, 1002);
    const unsigned char frag_ping[] = {0x09, 0x80, 0, 0, 0, 0};
    cr_assert_eq(parse_all(frag_ping, sizeof frag_ping).code, 1002);
    const unsigned char bad_utf8[] = {0x81, 0x81, 0, 0, 0, 0, 0xff};
    cr_assert_eq(parse_all(bad_utf8, sizeof bad_utf8).code, 1007);
    const unsigned char ok[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    md_ws_event ev = parse_all(ok, sizeof ok);
    cr_assert_eq(ev.kind, MD_WS_EV_MESSAGE);
}

static int order[8], n_order;
static md_timer timers[5];
static md_loop *g_lp;

static void fired(md_timer *t)
{
    order[n_order++] = (int)(t - timers);
}

static void stop_loop(md_timer *t)
{
    (void)t;
    md_loop_stop(g_lp);
}

Test(loop, timers_fire_in_due_order_and_moves_are_honoured)
{
    md_loop *lp = g_lp = md_loop_new(NULL, NULL);
    int64_t now = md_loop_now(lp);
    for (int i = 0; i < 4; i++) timers[i].fn = fired;
    timers[4].fn = stop_loop;
    md_loop_timer(lp, &timers[0], now + 30);
    md_loop_timer(lp, &timers[1], now + 10);
    md_loop_timer(lp, &timers[2], now + 20);
    md_loop_timer(lp, &timers[3], now + 5);
    md_loop_timer(lp, &timers[3], now + 40); /* pushed later: fires last */
    md_loop_timer(lp, &timers[2], 0);        /* disarmed: never fires */
    md_loop_timer(lp, &timers[4], now + 80);
    md_loop_run(lp);
    md_loop_free(lp);
    cr_assert_eq(n_order, 3);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 0);
    cr_assert_eq(order[2], 3);
}

/* A masked frame (zero mask: the payload as is) with a 7- or 16-bit length into out. */
static size_t masked(unsigned char *out, int b0, const void *payload, size_t n)
{
    size_t h = 0;
    out[h++] = (unsigned char)b0;
    if (n < 126) {
        out[h++] = (unsigned char)(0x80 | n);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)n;
    }
    memset(out + h, 0, 4);
    memcpy(out + h + 4, payload, n);
    return h + 4 + n;
}

Test(wsframe, registered_close_codes_are_accepted_and_the_others_refused)
{
    for (int code = 1000; code <= 5000; code++) {
        unsigned char cp[2] = {(unsigned char)(code >> 8), (unsigned char)code}, f[16];
        md_ws_event ev = parse_all(f, masked(f, 0x88, cp, 2));
        int ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                 (code >= 3000 && code <= 4999);
        if (ok) {
            cr_assert_eq(ev.kind, MD_WS_EV_CLOSE, "close code %d", code);
            cr_assert_eq(ev.code, code);
        } else {
            cr_assert_eq(ev.kind, MD_WS_EV_ERROR, "close code %d", code);
            cr_assert_eq(ev.code, 1002);
        }
    }
}

/* Regression: the fragments of a message past the limit were skipped for ever. */
Test(wsframe, fragmented_message_past_16_times_the_limit_fails_with_1009)
{
    md_ws_parser p;
    md_ws_parser_init(&p, 64);
    unsigned char chunk[100], f[128];
    memset(chunk, 'x', sizeof chunk);
    md_ws_event ev = {0};
    size_t n = masked(f, 0x01, chunk, sizeof chunk); /* text, not FIN */
    cr_assert_eq(md_ws_parse(&p, f, n, &ev), n);
    cr_assert_eq(ev.kind, MD_WS_EV_NONE);
    int frames = 1;
    for (; frames < 100; frames++) {
        n = masked(f, 0x00, chunk, sizeof chunk); /* continuation, not FIN */
        md_ws_parse(&p, f, n, &ev);
        if (ev.kind) break;
    }
    cr_assert_eq(ev.kind, MD_WS_EV_ERROR);
    cr_assert_eq(ev.code, 1009);
    cr_assert_eq(frames, 64 * 16 / 100, "fails with the frame that goes past 16 x 64 bytes");
    md_ws_parser_deinit(&p);
    /* up to 16 x the limit, the message is skipped and the connection stays */
    md_ws_parser_init(&p, 64);
    n = masked(f, 0x02, chunk, sizeof chunk);
    md_ws_parse(&p, f, n, &ev);
    n = masked(f, 0x80, chunk, sizeof chunk); /* the last fragment */
    md_ws_parse(&p, f, n, &ev);
    cr_assert_eq(ev.kind, MD_WS_EV_TOOBIG);
    cr_assert_eq(ev.opcode, 2, "the skipped message says it was binary");
    md_ws_parser_deinit(&p);
}
