/* Fuzzes what a WebSocket client sends (stream/proto.c: md_proto_parse), then everything
 * the server renders from a parsed message, and checks the parser's promises: a message is
 * either an op with normalised, distinct symbols and known channels, or an error with a
 * code and a message; every frame rendered from either is valid JSON. */
#include "core/error.h"
#include "core/symbol.h"
#include "stream/proto.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#define MAX_SYMBOLS 50

/* The frame's payload parses as a JSON object. */
static void check_frame(md_frame *f)
{
    md_assert(f && f->hdr < f->len, "frame");
    json_error_t je;
    json_t *v = json_loadb((const char *)f->data + f->hdr, f->len - f->hdr, 0, &je);
    md_assert(json_is_object(v), "rendered frame is not a JSON object: %s", je.text);
    json_decref(v);
    md_frame_unref(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_op op;
    md_error err;
    memset(&err, 0, sizeof err);
    int rc = md_proto_parse((const char *)data, size, MAX_SYMBOLS, &op, &err);
    if (rc != 0) {
        md_assert(rc < 0 && err.rc == rc && err.msg[0], "rc %d without an error", rc);
        md_assert(rc == MD_EJSON || rc == MD_EOP || rc == MD_EPARAM || rc == MD_ESYMBOL ||
                      rc == MD_ECHANNEL,
                  "undocumented error %s", md_error_name(rc));
        md_assert(op.symbols == NULL && op.n_symbols == 0, "a failed parse leaves symbols");
        check_frame(md_proto_error(rc, err.msg));
        return 0;
    }
    md_assert(op.kind >= MD_OP_SUBSCRIBE && op.kind <= MD_OP_PING, "kind %d", (int)op.kind);
    md_assert((op.channels & ~(uint32_t)MD_CH_ALL) == 0, "channels %#x", op.channels);
    md_assert(op.n_symbols <= MAX_SYMBOLS, "%zu symbols", op.n_symbols);
    /* extension channels (screen.<name>) need no symbols */
    md_assert(op.kind != MD_OP_SUBSCRIBE || op.n_symbols > 0 || op.n_xch > 0,
              "subscribe without symbols or extension channels");
    for (size_t i = 0; i < op.n_symbols; i++) {
        char again[MD_SYMBOL_MAX + 1];
        md_assert(md_symbol_normalize_str(op.symbols[i].s, again, &err) == 0 &&
                      strcmp(again, op.symbols[i].s) == 0,
                  "symbol '%s' is not normalised", op.symbols[i].s);
        for (size_t j = 0; j < i; j++)
            md_assert(strcmp(op.symbols[i].s, op.symbols[j].s) != 0, "duplicate %s",
                      op.symbols[i].s);
    }
    uint32_t ch = op.channels ? op.channels : MD_CH_ALL;
    if (op.kind == MD_OP_SUBSCRIBE) check_frame(md_proto_subscribed(&op, ch, 42, 3, 1));
    if (op.kind == MD_OP_UNSUBSCRIBE) check_frame(md_proto_unsubscribed(&op, ch, 7));
    if (op.kind == MD_OP_PING) check_frame(md_proto_pong(1700000000));
    md_op_deinit(&op);
    return 0;
}
