/* bar.h - the domain records: OHLCV bars, quotes, and where they came from.
 *
 * A bar belongs to one (symbol, interval); collections of bars of one series are held
 * in an md_bar_vec, oldest first. Prices are doubles kept exactly as received; volume is
 * a double so fractional crypto volume survives. Unknown optional fields: vwap = NAN,
 * trades = -1, quality = -1 (not scored yet). */
#ifndef MD_CORE_BAR_H
#define MD_CORE_BAR_H

#include "core/interval.h"
#include "core/mem.h"
#include "core/symbol.h"

#include <stddef.h>
#include <stdint.h>

/* Where data came from (API.md "Source names"), stored with every bar as the small
 * integer: a number never changes and is never reused (bar.c pins the ones in use). The
 * HTTP providers are the rows of sources/providers.def, each with its number; the
 * other origins are listed here as X(ID, number, "name"). */
#define MD_SOURCES_OTHER(X)                                                                        \
    X(UNKNOWN, 0, "unknown")                                                                       \
    X(CSV, 6, "csv")                                                                               \
    X(REPLAY, 7, "replay")                                                                         \
    X(SIMULATOR, 8, "simulator")                                                                   \
    X(INGEST, 9, "ingest")

typedef enum md_source_id {
#define X(ID, num, name) MD_SRC_##ID = num,
    MD_SOURCES_OTHER(X)
#undef X
#define MD_PROVIDER(ID, num, ...) MD_SRC_##ID = num,
#include "sources/providers.def"
#undef MD_PROVIDER
} md_source_id;

/* MD_SRC_COUNT is one more than the largest number (the size of a union whose members
 * are char[number + 1]); bar.c checks that the numbers run 0..MD_SRC_COUNT-1 without a
 * hole or a repeat, so it is also the number of origins. */
union md_source_id_span {
#define X(ID, num, name) char ID##_[num + 1];
    MD_SOURCES_OTHER(X)
#undef X
#define MD_PROVIDER(ID, num, ...) char ID##_[num + 1];
#include "sources/providers.def"
#undef MD_PROVIDER
};
#define MD_SRC_COUNT ((int)sizeof(union md_source_id_span))

const char *md_source_name(int id);
/* Returns the id for a name in any case ("yahoo", "Yahoo"), or -1. */
int md_source_parse(const char *name);

typedef struct md_bar {
    int64_t ts; /* bucket start, epoch seconds UTC */
    double open, high, low, close;
    double volume;
    double vwap;    /* NAN when unknown */
    int64_t trades; /* -1 when unknown */
    float quality;  /* 0..100, -1 when not scored */
    uint8_t source; /* md_source_id */
} md_bar;

typedef struct md_quote {
    char symbol[MD_SYMBOL_MAX + 1];
    int64_t ts; /* epoch seconds of the price */
    double price;
    double volume;   /* NAN when unknown */
    double bid, ask; /* NAN when unknown */
    float quality;
    uint8_t source;
} md_quote;

/* Initialises optional fields to "unknown". */
void md_bar_init(md_bar *b);
void md_quote_init(md_quote *q);

MD_VEC_TYPE(md_bar_vec, md_bar);

void md_bar_vec_init(md_bar_vec *bv);
void md_bar_vec_deinit(md_bar_vec *bv);
void md_bar_vec_push(md_bar_vec *bv, const md_bar *b);
void md_bar_vec_reserve(md_bar_vec *bv, size_t n);
/* Sorts by ts and keeps the last of equal timestamps (upsert order). */
void md_bar_vec_sort_dedup(md_bar_vec *bv);

/* Aggregates bars (sorted by ts, any finer interval) into buckets of iv:
 * open = first, high = max, low = min, close = last, volume = sum, vwap volume-weighted
 * when every input has one, trades summed when every input has them. quality is the
 * minimum of the inputs. Appends to out. */
void md_bars_aggregate(const md_bar *in, size_t n, md_interval iv, md_bar_vec *out);

/* Partial bars (API.md "partial"): 1 when the bar of interval iv whose bucket starts at ts
 * does not stand for its whole period - its bucket is not wholly inside [start, end) (an
 * aggregate of the finer bars inside the range only), or the period has not ended at now
 * (still forming). A stored bar of the interval asked is whole whatever the range: pass
 * MD_TS_MIN / MD_TS_MAX for start and end, and only the clock decides. The one rule every
 * read path uses (SQLite, PostgreSQL, roll-ups, the stream). */
int md_bar_partial(md_interval iv, int64_t ts, int64_t start, int64_t end, int64_t now);

/* What md_bar_partial needs to judge the bars of one answer. */
typedef struct md_bar_span {
    md_interval iv;
    int64_t start, end; /* the range the bars were aggregated for; MD_TS_MIN / MD_TS_MAX
                         * for stored bars of iv (whole whatever the range) */
    int64_t now;
} md_bar_span;

/* md_bar_partial for a bar of the span; 0 when span is NULL. */
int md_bar_span_partial(const md_bar_span *span, int64_t ts);

#endif
