/* wsframe.c - the WebSocket handshake key and the client frame parser (see wsframe.h). */
#include "server/wsframe.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

/* -- handshake ----------------------------------------------------------------------------- */

int md_ws_accept_key(const char *key, char out[29])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=') return -1;
    for (int i = 0; i < 22; i++)
        if (!strchr(alphabet, key[i])) return -1;
    struct sha1_ctx c;
    unsigned char d[SHA1_DIGEST_SIZE];
    sha1_init(&c);
    sha1_update(&c, 24, (const uint8_t *)key);
    sha1_update(&c, sizeof MD_WS_GUID - 1, (const uint8_t *)MD_WS_GUID);
    sha1_digest(&c, sizeof d, d);
    base64_encode_raw((char *)out, sizeof d, d); /* 28 characters */
    out[28] = 0;
    return 0;
}

/* -- UTF-8 --------------------------------------------------------------------------------- */

int md_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            k = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f; /* past U+10FFFF */
        } else
            return 0;
        if (i + k >= n) return 0; /* truncated */
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

/* -- frames -------------------------------------------------------------------------------- */

void md_ws_parser_init(md_ws_parser *p, size_t max_message)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
    p->hdr_need = 2;
}

void md_ws_parser_deinit(md_ws_parser *p)
{
    md_buf_deinit(&p->msg);
}

static size_t fail(md_ws_parser *p, md_ws_event *ev, int code, const char *why, size_t used)
{
    p->failed = 1;
    ev->kind = MD_WS_EV_ERROR;
    ev->code = code;
    ev->why = why;
    return used;
}

/* The header is complete: checks it. Returns 0, or the close code to fail with (*why set). */
static int header_done(md_ws_parser *p, const char **why)
{
    unsigned char b0 = p->hdr[0], b1 = p->hdr[1];
    p->fin = b0 >> 7;
    p->opcode = b0 & 0x0f;
    size_t at = 2;
    uint64_t len = b1 & 0x7f;
    if (len == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        at = 4;
        if (len < 126) return *why = "non-minimal frame length", 1002;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | p->hdr[2 + i];
        at = 10;
        if (len >> 63) return *why = "frame length with the top bit set", 1002;
        if (len < 65536) return *why = "non-minimal frame length", 1002;
    }
    memcpy(p->mask, p->hdr + at, 4);
    p->len = len;
    p->got = 0;
    if (b0 & 0x70) return *why = "reserved bits set (no extension was negotiated)", 1002;
    int control = p->opcode >= 8;
    switch (p->opcode) {
    case 0:
        if (!p->msg_opcode) return *why = "continuation frame without a message", 1002;
        break;
    case 1:
    case 2:
        if (p->msg_opcode) return *why = "new message before the last one ended", 1002;
        p->msg_opcode = p->opcode;
        p->skipping = 0;
        p->msg_total = 0;
        md_buf_reset(&p->msg);
        break;
    case 8:
    case 9:
    case 10: break;
    default: return *why = "unknown opcode", 1002;
    }
    if (control && !p->fin) return *why = "fragmented control frame", 1002;
    if (control && len > 125) return *why = "control frame longer than 125 bytes", 1002;
    if (control) return 0;
    /* one frame or the fragments together: skipped up to 16 x the limit, then not worth it */
    if (len > (uint64_t)p->max_message * 16 - p->msg_total)
        return *why = "message far larger than the message limit", 1009;
    p->msg_total += len;
    if (!p->skipping && p->msg.len + len > p->max_message) {
        p->skipping = 1;
        md_buf_deinit(&p->msg);
    }
    return 0;
}

/* The frame's payload is complete: the event it makes, if any. */
static int frame_done(md_ws_parser *p, md_ws_event *ev)
{
    p->hdr_len = 0;
    p->hdr_need = 2;
    if (p->opcode >= 8) {
        ev->data = p->ctl;
        ev->len = (size_t)p->len;
        if (p->opcode == 9) {
            ev->kind = MD_WS_EV_PING;
        } else if (p->opcode == 10) {
            ev->kind = MD_WS_EV_PONG;
        } else {
            ev->kind = MD_WS_EV_CLOSE;
            ev->code = 1005;
            if (p->len == 1) return fail(p, ev, 1002, "close frame with a 1-byte payload", 0), 1;
            if (p->len >= 2) {
                int code = p->ctl[0] << 8 | p->ctl[1];
                /* the codes a peer may send (IANA registry; 1004-1006 and 1015 never) */
                int ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                         (code >= 3000 && code <= 4999);
                if (!ok) return fail(p, ev, 1002, "invalid close code", 0), 1;
                if (!md_utf8_valid(p->ctl + 2, (size_t)p->len - 2))
                    return fail(p, ev, 1007, "close reason is not UTF-8", 0), 1;
                ev->code = code;
                ev->data = p->ctl + 2;
                ev->len = (size_t)p->len - 2;
            }
        }
        return 1;
    }
    if (!p->fin) return 0;
    int op = p->msg_opcode;
    p->msg_opcode = 0;
    if (p->skipping) {
        p->skipping = 0;
        ev->kind = MD_WS_EV_TOOBIG;
        ev->opcode = op;
        return 1;
    }
    if (op == 1 && !md_utf8_valid((const unsigned char *)p->msg.data, p->msg.len))
        return fail(p, ev, 1007, "text message is not UTF-8", 0), 1;
    ev->kind = MD_WS_EV_MESSAGE;
    ev->opcode = op;
    ev->data = (const unsigned char *)(p->msg.data ? p->msg.data : "");
    ev->len = p->msg.len;
    return 1;
}

size_t md_ws_parse(md_ws_parser *p, const unsigned char *in, size_t n, md_ws_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (p->failed) return 0;
    size_t used = 0;
    while (used < n) {
        if (p->hdr_len < p->hdr_need) { /* header bytes */
            p->hdr[p->hdr_len++] = in[used++];
            if (p->hdr_len == 2) {
                if (!(p->hdr[1] & 0x80)) return fail(p, ev, 1002, "client frame not masked", used);
                int l = p->hdr[1] & 0x7f;
                p->hdr_need = 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + 4;
            }
            if (p->hdr_len < p->hdr_need) continue;
            const char *why = NULL;
            int code = header_done(p, &why);
            if (code) return fail(p, ev, code, why, used);
            if (p->len == 0 && frame_done(p, ev)) return used;
            continue;
        }
        size_t take = n - used;
        if ((uint64_t)take > p->len - p->got) take = (size_t)(p->len - p->got);
        const unsigned char *src = in + used;
        if (p->opcode >= 8) {
            for (size_t i = 0; i < take; i++)
                p->ctl[p->got + i] = src[i] ^ p->mask[(p->got + i) & 3];
        } else if (!p->skipping) {
            md_buf_reserve(&p->msg, take);
            unsigned char *dst = (unsigned char *)p->msg.data + p->msg.len;
            for (size_t i = 0; i < take; i++) dst[i] = src[i] ^ p->mask[(p->got + i) & 3];
            p->msg.len += take;
            p->msg.data[p->msg.len] = 0;
        }
        p->got += take;
        used += take;
        if (p->got == p->len && frame_done(p, ev)) return used;
    }
    return used;
}
