/* buf.c - growable buffer and round-trip number formatting. */
#include "core/buf.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void md_buf_init(md_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void md_buf_deinit(md_buf *b)
{
    md_free(b->data);
    md_buf_init(b);
}

void md_buf_reset(md_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void md_buf_reserve(md_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    b->data = md_realloc(b->data, cap);
    b->cap = cap;
}

void md_buf_append(md_buf *b, const void *p, size_t n)
{
    md_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void md_buf_puts(md_buf *b, const char *s)
{
    md_buf_append(b, s, strlen(s));
}

void md_buf_putc(md_buf *b, char c)
{
    md_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

void md_buf_printf(md_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        md_buf_append(b, tmp, (size_t)n);
        return;
    }
    md_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *md_buf_steal(md_buf *b, size_t *len)
{
    if (!b->data) md_buf_reserve(b, 0), b->data[0] = 0;
    char *d = b->data;
    if (len) *len = b->len;
    md_buf_init(b);
    return d;
}

int md_fmt_num(char *dst, double v)
{
    if (!isfinite(v)) return (int)(memcpy(dst, "null", 5), 4);
    /* Integers (volumes, round prices) print without exponent or decimals. */
    if (v == floor(v) && fabs(v) < 1e15) return snprintf(dst, 32, "%.0f", v);
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(dst, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(dst, NULL) == v) return n;
    }
    return 0;
}

void md_buf_num(md_buf *b, double v)
{
    md_buf_reserve(b, 32);
    b->len += (size_t)md_fmt_num(b->data + b->len, v);
}

void md_buf_int(md_buf *b, int64_t v)
{
    md_buf_reserve(b, 24);
    b->len += (size_t)snprintf(b->data + b->len, 24, "%" PRId64, v);
}

void md_buf_json_strn(md_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    md_buf_reserve(b, n + 2);
    md_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': md_buf_append(b, "\\\"", 2); break;
        case '\\': md_buf_append(b, "\\\\", 2); break;
        case '\n': md_buf_append(b, "\\n", 2); break;
        case '\r': md_buf_append(b, "\\r", 2); break;
        case '\t': md_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                md_buf_append(b, u, 6);
            } else {
                md_buf_putc(b, (char)c);
            }
        }
    }
    md_buf_putc(b, '"');
}

void md_buf_json_str(md_buf *b, const char *s)
{
    md_buf_json_strn(b, s ? s : "", s ? strlen(s) : 0);
}

void md_buf_ts(md_buf *b, int64_t ts, int quoted)
{
    md_buf_reserve(b, 40);
    char *p = b->data + b->len;
    if (quoted) *p++ = '"';
    p += md_time_format(ts, p);
    if (quoted) *p++ = '"';
    *p = 0;
    b->len = (size_t)(p - b->data);
}
