/* wsframe.h - RFC 6455 on the server side, without sockets: the opening handshake's key and a
 * strict incremental parser of client frames (server-internal; fuzzed by fuzz_ws).
 *
 * The parser takes bytes as they arrive and stops at each event: a complete message (text or
 * binary, fragments joined), a ping, a pong, a close, a message that went past the size
 * limit (its bytes were skipped; the connection may stay), or a protocol error, which names
 * the close code the connection must be failed with:
 *
 *   unmasked frame, RSV bits, unknown opcode, fragmented or long (> 125) control frame,
 *   continuation without a message, a new message inside one, non-minimal or 2^63 length,
 *   close payload of 1 byte or a close code a peer may not send (valid: 1000-1003,
 *   1007-1014, 3000-4999)                                                   1002
 *   text message or close reason that is not UTF-8                          1007
 *   a message (one frame, or its fragments together) longer than 16 x the message limit,
 *   as soon as its frame headers say so (not worth skipping)                1009 */
#ifndef MD_SERVER_WSFRAME_H
#define MD_SERVER_WSFRAME_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define MD_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (which must be the base64 form of 16
 * bytes): 0 with out (29 bytes) filled, or -1 for a malformed key. */
int md_ws_accept_key(const char *key, char out[29]);

typedef enum {
    MD_WS_EV_NONE = 0,
    MD_WS_EV_MESSAGE, /* data/len: the message (opcode 1 text or 2 binary in .opcode) */
    MD_WS_EV_PING,    /* data/len: its payload */
    MD_WS_EV_PONG,
    MD_WS_EV_CLOSE,  /* .code (1005 when none was given), data/len: the reason */
    MD_WS_EV_TOOBIG, /* a message past max_message bytes was skipped (.opcode: 1 or 2) */
    MD_WS_EV_ERROR,  /* .code: close code to fail the connection with; .why: text */
} md_ws_ev_kind;

typedef struct md_ws_event {
    md_ws_ev_kind kind;
    int opcode;
    int code;
    const char *why;
    const unsigned char *data; /* valid until the next md_ws_parse call */
    size_t len;
} md_ws_event;

typedef struct md_ws_parser {
    size_t max_message;
    /* the frame being read */
    unsigned char hdr[14];
    size_t hdr_len, hdr_need;
    int fin, opcode;
    unsigned char mask[4];
    uint64_t len, got;
    /* the message being assembled */
    int msg_opcode;     /* 0: none in progress */
    int skipping;       /* past max_message: bytes dropped until its last fragment */
    uint64_t msg_total; /* payload bytes of its frames so far, skipped ones included */
    md_buf msg;
    unsigned char ctl[125];
    int failed;
} md_ws_parser;

void md_ws_parser_init(md_ws_parser *p, size_t max_message);
void md_ws_parser_deinit(md_ws_parser *p);

/* Consumes up to n bytes of in; returns how many. *ev is set when an event completed (the
 * call stops right after it; call again with the rest). After MD_WS_EV_ERROR nothing more is
 * consumed. */
size_t md_ws_parse(md_ws_parser *p, const unsigned char *in, size_t n, md_ws_event *ev);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int md_utf8_valid(const unsigned char *s, size_t n);

#endif
