/* frame.h - an encoded WebSocket text frame, shared by every client that receives it.
 *
 * A tick is rendered to JSON once and framed once (server frames are unmasked, so the
 * bytes on the wire are the same for every client); the frame is then referenced from the
 * replay buffer and from each event loop's client queues. The reference count is atomic
 * because frames cross threads (publisher -> loops); loops keep their own non-atomic
 * counts on top (see session.c) so fan-out to thousands of clients costs no atomics. */
#ifndef MD_STREAM_FRAME_H
#define MD_STREAM_FRAME_H

#include "core/symbol.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Channels a client subscribes to: "quote" and "bar.<interval>" for every interval; the
 * extension channels ("ind.<spec>@<interval>", "screen.<name>") get numbers from
 * MD_CH_COUNT on, handed out by the hub as they are first named (md_hub_xchannel). */
enum { MD_CH_QUOTE = 0, MD_CH_BAR = 1 /* + md_interval */, MD_CH_COUNT = 1 + 9 };
#define MD_CH_NONE 0xffff
#define MD_CH_MAX 0xfff0 /* highest extension channel number */

typedef struct md_frame {
    atomic_uint refs;
    uint64_t seq;     /* 0 for per-client messages (welcome, error, ...) */
    uint64_t ord;     /* the hub's publishing order: unique and increasing, unlike seq (in a
                         deployment, messages without a number of their own share one) */
    uint16_t channel; /* MD_CH_* or an extension channel; MD_CH_NONE for per-client messages */
    char symbol[MD_SYMBOL_MAX + 1];
    uint32_t len; /* bytes of data: WebSocket header + payload */
    uint32_t hdr; /* header bytes; the JSON payload starts at data + hdr */
    unsigned char data[];
} md_frame;

/* A text frame (FIN, opcode 1, unmasked) holding payload[0..n). One reference, owned by
 * the caller. */
md_frame *md_frame_text(const char *payload, size_t n);
/* A control frame (opcode 0x8 close, 0x9 ping, 0xA pong) with a payload of at most 125
 * bytes. */
md_frame *md_frame_control(int opcode, const void *payload, size_t n);
md_frame *md_frame_ref(md_frame *f);
/* Drops one reference; frees on the last. NULL is fine. */
void md_frame_unref(md_frame *f);

/* Writes the header of an unmasked frame with opcode and payload length n into hdr
 * (>= 10 bytes); returns the header length. */
size_t md_frame_header(unsigned char *hdr, int opcode, size_t n);

#endif
