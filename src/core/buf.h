/* buf.h - a growable byte buffer and the formatting helpers built on it.
 *
 * Response bodies, CSV and JSON output are appended into an md_buf. Growth is visible:
 * every append may reallocate b->data. Numbers are written so that they round-trip:
 * md_buf_num() prints the shortest decimal that parses back to the same double; integral
 * values below 1e21 (volumes, counts) print as plain integers, never in exponent form. */
#ifndef MD_CORE_BUF_H
#define MD_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct md_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} md_buf;

#define MD_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void md_buf_init(md_buf *b);
void md_buf_deinit(md_buf *b); /* frees data; b may be reused after md_buf_init */
void md_buf_reset(md_buf *b);  /* len = 0, keeps the allocation */
void md_buf_reserve(md_buf *b, size_t extra);
void md_buf_append(md_buf *b, const void *p, size_t n);
void md_buf_puts(md_buf *b, const char *s);
void md_buf_putc(md_buf *b, char c);
void md_buf_printf(md_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Transfers ownership of the data to the caller (NUL-terminated); b is left empty. */
char *md_buf_steal(md_buf *b, size_t *len);

/* Shortest decimal that round-trips the double; "null" for NaN/inf (JSON has neither). */
void md_buf_num(md_buf *b, double v);
/* Formats v like md_buf_num into dst (>= 32 bytes); returns the length. */
int md_fmt_num(char *dst, double v);
void md_buf_int(md_buf *b, int64_t v);
/* A JSON string literal with quotes and escapes. Bytes that are not well-formed UTF-8
 * become \ufffd: JSON text (and a WebSocket text frame) must be valid UTF-8, whatever
 * bytes a client sent that an error message quotes. */
void md_buf_json_str(md_buf *b, const char *s);
/* The same for s[0..n) (NUL bytes escaped). */
void md_buf_json_strn(md_buf *b, const char *s, size_t n);
/* The length of the longest prefix of s (at most n bytes, stopping at a NUL) that does not end
 * inside a UTF-8 character: where to cut a text without splitting one. */
size_t md_utf8_prefix(const char *s, size_t n);
/* RFC 3339 UTC timestamp "2024-03-01T14:30:00Z", with quotes when quoted != 0. */
void md_buf_ts(md_buf *b, int64_t ts, int quoted);

#endif
