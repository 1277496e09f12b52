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

static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";
static const uint64_t pow10u[20] = {1ULL,
                                    10ULL,
                                    100ULL,
                                    1000ULL,
                                    10000ULL,
                                    100000ULL,
                                    1000000ULL,
                                    10000000ULL,
                                    100000000ULL,
                                    1000000000ULL,
                                    10000000000ULL,
                                    100000000000ULL,
                                    1000000000000ULL,
                                    10000000000000ULL,
                                    100000000000000ULL,
                                    1000000000000000ULL,
                                    10000000000000000ULL,
                                    100000000000000000ULL,
                                    1000000000000000000ULL,
                                    10000000000000000000ULL};

/* Writes the last n decimal digits of u (zero-padded) so that they end just before end.
 * Straight into the destination, two at a time: no scratch copy (reading back bytes just
 * stored one by one stalls store-to-load forwarding; it was half of this function). */
static void put_digits(char *end, uint64_t u, int n)
{
    for (; n >= 2; n -= 2) {
        unsigned k = (unsigned)(u % 100) * 2;
        u /= 100;
        end -= 2;
        memcpy(end, digit_pairs + k, 2);
    }
    if (n) *--end = (char)('0' + u % 10);
}

/* Writes the decimal digits of u at dst; returns the count. */
static int fmt_u64(char *dst, uint64_t u)
{
    int n = 1;
    while (n < 20 && u >= pow10u[n]) n++;
    put_digits(dst + n, u, n);
    return n;
}

/* The slow, always-right form: the fewest of 15..17 significant digits that parse back. */
static int fmt_num_slow(char *dst, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(dst, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(dst, NULL) == v) return n;
    }
    return 0;
}

int md_fmt_num(char *dst, double v)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    if (!isfinite(v)) return (int)(memcpy(dst, "null", 5), 4);
    char *p = dst;
    double a = fabs(v);
    /* Integers (volumes, counts, round prices) print without exponent or decimals, up to
     * 1e21 like JavaScript's Number#toString: a volume above 2^53 is still an integer to a
     * reader (its exact decimal value, which parses back to the same double). */
    if (v == floor(v) && a < 1e21) {
        if (a >= 18446744073709551616.0) return snprintf(dst, 32, "%.0f", v);
        if (signbit(v)) *p++ = '-';
        p += fmt_u64(p, (uint64_t)a);
        *p = 0;
        return (int)(p - dst);
    }
    /* Fast path for prices: the fewest decimals d with round(a * 10^d) / 10^d == a. Both
     * operands of that division are exact doubles (integer < 2^53, power of ten <= 1e15), so
     * it is the correctly rounded value of the decimal - exactly what parsing the decimal
     * gives back: the string round-trips. Same notation as %g in this range. */
    if (a >= 1e-4 && a < 1e15) {
        for (int d = 1; d <= 15; d++) {
            double x = a * p10[d];
            if (x >= 9007199254740992.0) break;
            double r = nearbyint(x);
            /* far from an integer: no need for the (slow) exact test */
            if (fabs(x - r) > x * 1e-12 || r / p10[d] != a) continue;
            uint64_t u = (uint64_t)r;
            while (d > 0 && u % 10 == 0) u /= 10, d--; /* never a trailing zero */
            if (v < 0) *p++ = '-';
            p += fmt_u64(p, u / pow10u[d]);
            if (d > 0) {
                *p++ = '.';
                put_digits(p + d, u % pow10u[d], d);
                p += d;
            }
            *p = 0;
            return (int)(p - dst);
        }
    }
    return fmt_num_slow(dst, v);
}

void md_buf_num(md_buf *b, double v)
{
    md_buf_reserve(b, 32);
    b->len += (size_t)md_fmt_num(b->data + b->len, v);
}

void md_buf_int(md_buf *b, int64_t v)
{
    md_buf_reserve(b, 24);
    char *p = b->data + b->len;
    if (v < 0) *p++ = '-';
    p += fmt_u64(p, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    *p = 0;
    b->len = (size_t)(p - b->data);
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (n < k || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return k;
}

static void json_strn(md_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    md_buf_reserve(b, n + 2);
    md_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) { /* JSON is UTF-8: a byte that is not part of a valid sequence (a
                          * client's bytes quoted in an error, a cut message) becomes U+FFFD */
            size_t k = utf8_len((const unsigned char *)s + i, n - i);
            if (k) {
                md_buf_append(b, s + i, k);
                i += k - 1;
            } else {
                md_buf_append(b, "\\ufffd", 6);
            }
            continue;
        }
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

void md_buf_json_strn(md_buf *b, const char *s, size_t n)
{
    json_strn(b, s, n);
}

/* 1 when s[0..n) (n >= 1) is the start of a well-formed UTF-8 sequence cut short. */
static int utf8_partial(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (!k || n >= k) return 0;
    for (size_t j = 1; j < n; j++)
        if ((s[j] & 0xc0) != 0x80) return 0;
    return 1;
}

size_t md_utf8_prefix(const char *s, size_t n)
{
    size_t len = strnlen(s, n), i = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_len(u + i, len - i);
        if (k) {
            i += k;
            continue;
        }
        if (utf8_partial(u + i, len - i)) break; /* a character cut at the end: leave it out */
        i++; /* an invalid byte: kept (md_buf_json_strn replaces it) */
    }
    return i;
}

void md_buf_json_str(md_buf *b, const char *s)
{
    json_strn(b, s ? s : "", s ? strlen(s) : 0);
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
