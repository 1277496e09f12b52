/* batch.h - request bodies of POST /ingest/bars and /ingest/quotes into writer input.
 *
 * JSON: {"bars":[{"symbol","interval","timestamp","open","high","low","close","volume",
 *                 "vwap"?,"trades"?,"source"?}]}
 *       {"quotes":[{"symbol","price","timestamp","volume"?,"bid"?,"ask"?,"source"?}]}
 * CSV (bars only): the loader's CSV forms; symbol from a column or the default given,
 * interval from the default given or inferred from the timestamps.
 * Items that cannot be parsed become per-index errors; the rest is grouped into series
 * (one per symbol + interval) for md_writer_write(). */
#ifndef MD_INGEST_BATCH_H
#define MD_INGEST_BATCH_H

#include "core/buf.h"
#include "ingest/writer.h"

typedef struct md_item_error {
    size_t index;
    const char *code; /* API error code or rule code (static string) */
    char msg[160];
} md_item_error;

typedef struct md_bar_batch {
    md_series *series; /* series[i].bars point into bars below */
    size_t n_series;
    md_bar *bars;  /* grouped by series */
    size_t *index; /* input index of each bar, same order as bars */
    size_t n_bars;
    md_quote *quotes;
    size_t *qindex;
    size_t n_quotes;
    md_item_error *errors;
    size_t n_errors, cap_errors;
    size_t n_items;                     /* items in the input */
    char (*symbols)[MD_SYMBOL_MAX + 1]; /* storage for series symbols */
} md_bar_batch;

void md_bar_batch_init(md_bar_batch *b);
void md_bar_batch_deinit(md_bar_batch *b);
/* Records item index's error in b->errors: code from API.md ("invalid_bar"), the message
 * from fmt (cut to md_item_error.msg). Used by every parser of an ingest body. */
void md_batch_item_error(md_bar_batch *b, size_t index, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct json_t;
/* The array under key of a JSON body {"key":[...]} (a new reference: json_decref it), its
 * length recorded as b->n_items; NULL with MD_EJSON in err when the body is not such an
 * object. The bars, quotes and actions bodies. */
struct json_t *md_batch_json_items(md_bar_batch *b, const char *body, size_t len, const char *key,
                                   md_error *err);

/* Parses a JSON bars body. MD_EJSON (whole body unusable) or 0 with per-item errors. */
int md_batch_parse_json_bars(md_bar_batch *b, const char *body, size_t len, md_source_id source,
                             md_error *err);
/* Parses a CSV bars body. def_symbol / def_iv (-1 = infer) apply when the CSV lacks them. */
int md_batch_parse_csv_bars(md_bar_batch *b, const char *body, size_t len, const char *def_symbol,
                            int def_iv, md_source_id source, md_error *err);
/* Parses a JSON quotes body. */
int md_batch_parse_json_quotes(md_bar_batch *b, const char *body, size_t len, md_source_id source,
                               md_error *err);

/* Runs the writer on the parsed batch (origin MD_WRITE_INGEST) and writes the answer
 * {"accepted":N,"rejected":N,"errors":[{"index","code","message"}]} into out. */
int md_batch_ingest(md_writer *w, md_bar_batch *b, md_buf *out, md_error *err);

#endif
