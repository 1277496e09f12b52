/* frame.c - shared, refcounted WebSocket frames (RFC 6455 section 5.2, server side). */
#include "stream/frame.h"

#include "core/mem.h"

#include <string.h>

size_t md_frame_header(unsigned char *hdr, int opcode, size_t n)
{
    hdr[0] = (unsigned char)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        hdr[1] = (unsigned char)n;
        return 2;
    }
    if (n < 65536) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(n >> 8);
        hdr[3] = (unsigned char)n;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++) hdr[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

static md_frame *frame_new(int opcode, const void *payload, size_t n)
{
    unsigned char hdr[10];
    size_t h = md_frame_header(hdr, opcode, n);
    md_frame *f = md_malloc(sizeof *f + h + n);
    atomic_init(&f->refs, 1);
    f->seq = 0;
    f->ord = 0;
    f->channel = MD_CH_NONE;
    f->symbol[0] = 0;
    f->len = (uint32_t)(h + n);
    f->hdr = (uint32_t)h;
    memcpy(f->data, hdr, h);
    if (n) memcpy(f->data + h, payload, n);
    return f;
}

md_frame *md_frame_text(const char *payload, size_t n)
{
    return frame_new(0x1, payload, n);
}

md_frame *md_frame_control(int opcode, const void *payload, size_t n)
{
    if (n > 125) n = 125;
    return frame_new(opcode, payload, n);
}

md_frame *md_frame_ref(md_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void md_frame_unref(md_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) md_free(f);
}
