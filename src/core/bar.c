/* bar.c - bar vectors, source names and aggregation to coarser intervals. */
#include "core/bar.h"

#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The numbers are stored in databases: these must never change. */
_Static_assert(MD_SRC_UNKNOWN == 0 && MD_SRC_YAHOO == 1 && MD_SRC_ALPHAVANTAGE == 2 &&
                   MD_SRC_FINNHUB == 3 && MD_SRC_POLYGON == 4 && MD_SRC_TWELVEDATA == 5 &&
                   MD_SRC_CSV == 6 && MD_SRC_REPLAY == 7 && MD_SRC_SIMULATOR == 8 &&
                   MD_SRC_INGEST == 9,
               "a stored source number changed: give a new source the next free number");
/* As many origins as numbers below MD_SRC_COUNT; with the switch in md_source_name (a
 * repeated number is a duplicate case label) this means no hole and no repeat. */
enum {
    SOURCE_ROWS = 0
#define X(ID, num, name) +1
    MD_SOURCES_OTHER(X)
#undef X
#define MD_PROVIDER(ID, num, ...) +1
#include "sources/providers.def"
#undef MD_PROVIDER
};
_Static_assert(SOURCE_ROWS == MD_SRC_COUNT, "source numbers must run 0..N-1 without a hole");
_Static_assert(MD_SRC_COUNT <= 256, "md_bar.source is a uint8_t");

const char *md_source_name(int id)
{
    switch (id) {
#define X(ID, num, name)                                                                           \
    case num: return name;
        MD_SOURCES_OTHER(X)
#undef X
#define MD_PROVIDER(ID, num, name, ...)                                                            \
    case num:                                                                                      \
        return #name;
#include "sources/providers.def"
#undef MD_PROVIDER
    }
    return "unknown";
}

int md_source_parse(const char *name)
{
    for (int i = 0; i < MD_SRC_COUNT; i++)
        if (strcasecmp(name, md_source_name(i)) == 0) return i;
    return -1;
}

void md_bar_init(md_bar *b)
{
    memset(b, 0, sizeof *b);
    b->vwap = NAN;
    b->trades = -1;
    b->quality = -1;
}

void md_quote_init(md_quote *q)
{
    memset(q, 0, sizeof *q);
    q->volume = q->bid = q->ask = NAN;
    q->quality = -1;
}

MD_VEC_LIFECYCLE(md_bar_vec)

void md_bar_vec_reserve(md_bar_vec *bv, size_t n)
{
    if (n <= bv->cap) return;
    size_t cap = bv->cap ? bv->cap : 64;
    while (cap < n) cap *= 2;
    bv->v = md_realloc(bv->v, cap * sizeof *bv->v);
    bv->cap = cap;
}

void md_bar_vec_push(md_bar_vec *bv, const md_bar *b)
{
    if (bv->n == bv->cap) md_bar_vec_reserve(bv, bv->n + 1);
    bv->v[bv->n++] = *b;
}

static int cmp_ts(const void *a, const void *b)
{
    const md_bar *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    /* stable among equal ts: keep input order so the last one wins */
    return x < y ? -1 : (x > y);
}

void md_bar_vec_sort_dedup(md_bar_vec *bv)
{
    int sorted = 1;
    for (size_t i = 1; i < bv->n && sorted; i++)
        if (bv->v[i].ts <= bv->v[i - 1].ts) sorted = 0;
    if (sorted) return;
    qsort(bv->v, bv->n, sizeof *bv->v, cmp_ts);
    size_t w = 0;
    for (size_t i = 0; i < bv->n; i++) {
        if (w > 0 && bv->v[w - 1].ts == bv->v[i].ts)
            bv->v[w - 1] = bv->v[i];
        else
            bv->v[w++] = bv->v[i];
    }
    bv->n = w;
}

void md_bars_aggregate(const md_bar *in, size_t n, md_interval iv, md_bar_vec *out)
{
    size_t i = 0;
    while (i < n) {
        int64_t start = md_interval_floor(iv, in[i].ts);
        int64_t end = md_interval_next(iv, start);
        md_bar agg = in[i];
        agg.ts = start;
        double pv = isnan(in[i].vwap) ? NAN : in[i].vwap * in[i].volume;
        size_t j = i + 1;
        for (; j < n && in[j].ts < end; j++) {
            const md_bar *b = &in[j];
            if (b->high > agg.high) agg.high = b->high;
            if (b->low < agg.low) agg.low = b->low;
            agg.close = b->close;
            agg.volume += b->volume;
            pv = isnan(b->vwap) ? NAN : pv + b->vwap * b->volume;
            agg.trades = (agg.trades < 0 || b->trades < 0) ? -1 : agg.trades + b->trades;
            if (b->quality >= 0 && (agg.quality < 0 || b->quality < agg.quality))
                agg.quality = b->quality;
            if (b->source != agg.source) agg.source = b->source;
        }
        agg.vwap = (isnan(pv) || agg.volume <= 0) ? NAN : pv / agg.volume;
        md_bar_vec_push(out, &agg);
        i = j;
    }
}

int md_bar_partial(md_interval iv, int64_t ts, int64_t start, int64_t end, int64_t now)
{
    int64_t bucket_end = md_interval_next(iv, ts);
    return ts < start || bucket_end > end || bucket_end > now;
}

int md_bar_span_partial(const md_bar_span *span, int64_t ts)
{
    return span ? md_bar_partial(span->iv, ts, span->start, span->end, span->now) : 0;
}
