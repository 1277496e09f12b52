/* pg_wire.c - PostgreSQL binary formats: parameters, result fields, COPY rows and arrays.
 *
 * Everything crosses the wire in binary (network byte order): doubles keep every bit, and
 * neither side formats or parses decimal text. timestamptz is int64 microseconds since
 * 2000-01-01 UTC; bars keep whole seconds, so conversions are exact. */
#include "store/pg_int.h"

#include "core/mem.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PG_EPOCH_OFFSET 946684800LL /* 2000-01-01 in Unix seconds */
#define USECS 1000000LL

int64_t md_pg__ts_to_pg(int64_t s)
{
    /* the store's time range (years 1..9999) keeps this far from overflow; clamp anyway */
    if (s < -9000000000000LL) s = -9000000000000LL;
    if (s > 9000000000000LL) s = 9000000000000LL;
    return (s - PG_EPOCH_OFFSET) * USECS;
}

int64_t md_pg__ts_from_pg(int64_t us)
{
    int64_t q = us / USECS;
    if (us % USECS != 0 && us < 0) q--; /* floor: sub-second parts never come from mdagent */
    return q + PG_EPOCH_OFFSET;
}

static uint64_t be64(uint64_t v)
{
    return ((uint64_t)htonl((uint32_t)v) << 32) | htonl((uint32_t)(v >> 32));
}

/* -- parameters ----------------------------------------------------------------------------- */

static char *slot(md_pg_params *p, int len, int fmt)
{
    int i = p->n++;
    p->len[i] = len;
    p->fmt[i] = fmt;
    p->val[i] = p->buf[i];
    return p->buf[i];
}

void md_pg__p_text(md_pg_params *p, const char *s)
{
    int i = p->n++;
    p->val[i] = s;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void md_pg__p_i16(md_pg_params *p, int v)
{
    uint16_t x = htons((uint16_t)(int16_t)v);
    memcpy(slot(p, 2, 1), &x, 2);
}

void md_pg__p_i32(md_pg_params *p, int32_t v)
{
    uint32_t x = htonl((uint32_t)v);
    memcpy(slot(p, 4, 1), &x, 4);
}

void md_pg__p_i64(md_pg_params *p, int64_t v)
{
    uint64_t x = be64((uint64_t)v);
    memcpy(slot(p, 8, 1), &x, 8);
}

void md_pg__p_ts(md_pg_params *p, int64_t epoch_s)
{
    md_pg__p_i64(p, md_pg__ts_to_pg(epoch_s));
}

void md_pg__p_f64(md_pg_params *p, double v)
{
    if (isnan(v)) {
        md_pg__p_null(p);
        return;
    }
    uint64_t x;
    memcpy(&x, &v, 8);
    md_pg__p_i64(p, (int64_t)x);
}

void md_pg__p_f32(md_pg_params *p, float v)
{
    if (v < 0) {
        md_pg__p_null(p);
        return;
    }
    uint32_t x;
    memcpy(&x, &v, 4);
    md_pg__p_i32(p, (int32_t)x);
}

void md_pg__p_interval(md_pg_params *p, int64_t usecs, int32_t days, int32_t months)
{
    char *d = slot(p, 16, 1);
    uint64_t t = be64((uint64_t)usecs);
    uint32_t dd = htonl((uint32_t)days), mm = htonl((uint32_t)months);
    memcpy(d, &t, 8);
    memcpy(d + 8, &dd, 4);
    memcpy(d + 12, &mm, 4);
}

void md_pg__p_null(md_pg_params *p)
{
    int i = p->n++;
    p->val[i] = NULL;
    p->len[i] = 0;
    p->fmt[i] = 1;
}

void md_pg__p_bytes(md_pg_params *p, const char *data, int len)
{
    int i = p->n++;
    p->val[i] = data;
    p->len[i] = len;
    p->fmt[i] = 1;
}

/* -- results -------------------------------------------------------------------------------- */

int64_t md_pg__get_i64(const PGresult *r, int row, int col)
{
    uint64_t x;
    memcpy(&x, PQgetvalue(r, row, col), 8);
    return (int64_t)be64(x);
}

int32_t md_pg__get_i32(const PGresult *r, int row, int col)
{
    uint32_t x;
    memcpy(&x, PQgetvalue(r, row, col), 4);
    return (int32_t)ntohl(x);
}

int md_pg__get_i16(const PGresult *r, int row, int col)
{
    uint16_t x;
    memcpy(&x, PQgetvalue(r, row, col), 2);
    return (int16_t)ntohs(x);
}

double md_pg__get_f64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return NAN;
    uint64_t x = (uint64_t)md_pg__get_i64(r, row, col);
    double d;
    memcpy(&d, &x, 8);
    return d;
}

float md_pg__get_f32(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) return -1.0f;
    uint32_t x = (uint32_t)md_pg__get_i32(r, row, col);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

int64_t md_pg__get_ts(const PGresult *r, int row, int col)
{
    return md_pg__ts_from_pg(md_pg__get_i64(r, row, col));
}

void md_pg__get_text(const PGresult *r, int row, int col, char *dst, size_t n)
{
    if (PQgetisnull(r, row, col))
        snprintf(dst, n, "%s", "");
    else
        snprintf(dst, n, "%.*s", PQgetlength(r, row, col), PQgetvalue(r, row, col));
}

void md_pg__get_bar(const PGresult *r, int row, int c, md_bar *b)
{
    b->ts = md_pg__get_ts(r, row, c);
    b->open = md_pg__get_f64(r, row, c + 1);
    b->high = md_pg__get_f64(r, row, c + 2);
    b->low = md_pg__get_f64(r, row, c + 3);
    b->close = md_pg__get_f64(r, row, c + 4);
    b->volume = md_pg__get_f64(r, row, c + 5);
    b->vwap = md_pg__get_f64(r, row, c + 6);
    b->trades = PQgetisnull(r, row, c + 7) ? -1 : md_pg__get_i64(r, row, c + 7);
    b->source = (uint8_t)md_pg__get_i16(r, row, c + 8);
    b->quality = md_pg__get_f32(r, row, c + 9);
}

/* -- buffers, COPY rows, arrays -------------------------------------------------------------- */

void md_pg__buf_reserve(md_pg_buf *b, size_t extra)
{
    if (b->n + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra) cap *= 2;
    b->d = md_realloc(b->d, cap);
    b->cap = cap;
}

void md_pg__buf_free(md_pg_buf *b)
{
    md_free(b->d);
    b->d = NULL;
    b->n = b->cap = 0;
}

void md_pg__put16(md_pg_buf *b, uint16_t v)
{
    md_pg__buf_reserve(b, 2);
    v = htons(v);
    memcpy(b->d + b->n, &v, 2);
    b->n += 2;
}

void md_pg__put32(md_pg_buf *b, uint32_t v)
{
    md_pg__buf_reserve(b, 4);
    v = htonl(v);
    memcpy(b->d + b->n, &v, 4);
    b->n += 4;
}

void md_pg__put64(md_pg_buf *b, uint64_t v)
{
    md_pg__buf_reserve(b, 8);
    v = be64(v);
    memcpy(b->d + b->n, &v, 8);
    b->n += 8;
}

void md_pg__put_f64(md_pg_buf *b, double v)
{
    uint64_t x;
    memcpy(&x, &v, 8);
    md_pg__put64(b, x);
}

void md_pg__copy_header(md_pg_buf *b)
{
    static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
    md_pg__buf_reserve(b, 19);
    memcpy(b->d + b->n, sig, 11);
    b->n += 11;
    md_pg__put32(b, 0); /* flags */
    md_pg__put32(b, 0); /* header extension length */
}

void md_pg__copy_trailer(md_pg_buf *b)
{
    md_pg__put16(b, 0xffff);
}

static void field_f64(md_pg_buf *b, double v)
{
    md_pg__put32(b, 8);
    md_pg__put_f64(b, v);
}

void md_pg__copy_bar(md_pg_buf *b, int32_t sid, int iv, const md_bar *x)
{
    md_pg__buf_reserve(b, 2 + 12 * 4 + 96);
    md_pg__put16(b, 12);
    md_pg__put32(b, 4);
    md_pg__put32(b, (uint32_t)sid);
    md_pg__put32(b, 2);
    md_pg__put16(b, (uint16_t)iv);
    md_pg__put32(b, 8);
    md_pg__put64(b, (uint64_t)md_pg__ts_to_pg(x->ts));
    field_f64(b, x->open);
    field_f64(b, x->high);
    field_f64(b, x->low);
    field_f64(b, x->close);
    field_f64(b, x->volume);
    if (isnan(x->vwap))
        md_pg__put32(b, 0xffffffffu);
    else
        field_f64(b, x->vwap);
    if (x->trades < 0) {
        md_pg__put32(b, 0xffffffffu);
    } else {
        md_pg__put32(b, 8);
        md_pg__put64(b, (uint64_t)x->trades);
    }
    md_pg__put32(b, 2);
    md_pg__put16(b, x->source);
    if (x->quality < 0) {
        md_pg__put32(b, 0xffffffffu);
    } else {
        uint32_t f;
        float q = x->quality;
        memcpy(&f, &q, 4);
        md_pg__put32(b, 4);
        md_pg__put32(b, f);
    }
}

void md_pg__array(md_pg_buf *b, unsigned elem_oid, int elem_len, const int64_t *vals, size_t n,
                  int ts)
{
    md_pg__put32(b, 1); /* dimensions */
    md_pg__put32(b, 0); /* no NULLs */
    md_pg__put32(b, elem_oid);
    md_pg__put32(b, (uint32_t)n);
    md_pg__put32(b, 1); /* lower bound */
    for (size_t i = 0; i < n; i++) {
        md_pg__put32(b, (uint32_t)elem_len);
        int64_t v = ts ? md_pg__ts_to_pg(vals[i]) : vals[i];
        if (elem_len == 2)
            md_pg__put16(b, (uint16_t)v);
        else if (elem_len == 4)
            md_pg__put32(b, (uint32_t)v);
        else
            md_pg__put64(b, (uint64_t)v);
    }
}
