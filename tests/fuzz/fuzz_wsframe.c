/* Fuzzes the WebSocket frame parser: the input parsed whole and in pieces of a size taken from
 * its first byte must give the same events; messages stay within the limit and text messages
 * are valid UTF-8; after an error nothing more is consumed. Also the handshake key. */
#include "server/wsframe.h"

#include <stdint.h>
#include <string.h>

#define MAX_EVENTS 64
#define LIMIT 256

typedef struct {
    int kind, code, opcode;
    size_t len;
    uint32_t sum;
} rec;

static size_t run(const unsigned char *d, size_t n, size_t piece, rec *out)
{
    md_ws_parser p;
    md_ws_parser_init(&p, LIMIT);
    size_t k = 0, off = 0;
    while (off < n && k < MAX_EVENTS) {
        size_t take = n - off < piece ? n - off : piece;
        md_ws_event ev;
        size_t used = md_ws_parse(&p, d + off, take, &ev);
        if (used > take) __builtin_trap();
        off += used;
        if (ev.kind) {
            if (ev.kind == MD_WS_EV_MESSAGE) {
                if (ev.len > LIMIT) __builtin_trap();
                if (ev.opcode == 1 && !md_utf8_valid(ev.data, ev.len)) __builtin_trap();
            }
            uint32_t sum = 0;
            for (size_t i = 0; i < ev.len; i++) sum = sum * 31 + ev.data[i];
            out[k++] = (rec){ev.kind, ev.code, ev.opcode, ev.len, sum};
            if (ev.kind == MD_WS_EV_ERROR) {
                md_ws_event again;
                if (md_ws_parse(&p, d + off, n - off, &again) != 0) __builtin_trap();
                break;
            }
        } else if (used == 0) {
            break;
        }
    }
    md_ws_parser_deinit(&p);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t piece = 1 + data[0] % 17;
    rec a[MAX_EVENTS], b[MAX_EVENTS];
    size_t na = run(data + 1, size - 1, size, a);
    size_t nb = run(data + 1, size - 1, piece, b);
    if (na < MAX_EVENTS && nb < MAX_EVENTS) {
        if (na != nb) __builtin_trap();
        for (size_t i = 0; i < na; i++)
            if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) __builtin_trap();
    }
    char key[25], acc[29];
    size_t kl = size - 1 < 24 ? size - 1 : 24;
    memcpy(key, data + 1, kl);
    key[kl] = 0;
    if (md_ws_accept_key(key, acc) == 0 && strlen(acc) != 28) __builtin_trap();
    return 0;
}
