/* render.h - the wire forms of bars, quotes and errors (JSON per API.md, and CSV).
 *
 * Shared by the REST server, the CLI (`mdagent query`) and the stream, so every edge
 * writes the same shapes. Numbers round-trip (md_buf_num); timestamps are RFC 3339 UTC. */
#ifndef MD_CORE_RENDER_H
#define MD_CORE_RENDER_H

#include "core/bar.h"
#include "core/buf.h"
#include "core/error.h"

/* {"timestamp":..,"open":..,"high":..,"low":..,"close":..,"volume":..,"source":..,
 *  "quality":..,"partial":true|false[,"vwap":..][,"trades":..]}: partial as span judges it
 * (md_bar_span_partial; span NULL: false). */
void md_render_bar_json(md_buf *b, const md_bar *bar, const md_bar_span *span);
/* The same object with "symbol" first (long-format answers of several symbols); symbol NULL:
 * md_render_bar_json. */
void md_render_symbol_bar_json(md_buf *b, const char *symbol, const md_bar *bar,
                               const md_bar_span *span);
/* The fields every bar object starts with, without braces (REST bars and stream frames):
 * "timestamp":"...","open":..,"high":..,"low":..,"close":..,"volume":.. (0 when unknown). */
void md_render_ohlcv_fields(md_buf *b, const md_bar *bar);
/* A JSON array of bars. */
void md_render_bars_json_array(md_buf *b, const md_bar *bars, size_t n, const md_bar_span *span);
/* CSV: the header line "timestamp,open,high,low,close,volume,source,quality,partial", then
 * one row per bar (partial is true or false). */
void md_render_bars_csv_header(md_buf *b);
void md_render_bars_csv_rows(md_buf *b, const md_bar *bars, size_t n, const md_bar_span *span);
/* Long format (several symbols): the header with a "symbol" column first, and rows led by
 * symbol (NULL: md_render_bars_csv_rows). */
void md_render_symbol_bars_csv_header(md_buf *b);
void md_render_symbol_bars_csv_rows(md_buf *b, const char *symbol, const md_bar *bars, size_t n,
                                    const md_bar_span *span);
/* Header and rows. */
void md_render_bars_csv(md_buf *b, const md_bar *bars, size_t n, const md_bar_span *span);
/* {"error":{"code":"..","message":".."}} for rc (API code from errors.def). */
void md_render_error_json(md_buf *b, int rc, const char *message);
/* Letter grade for a 0..100 score: by default A+ 97, A 93, A- 90, B+ 87, B 83, B- 80,
 * C+ 77, C 73, C- 70, D+ 67, D 60, F below (quality.grades); "N/A" for a negative score. */
const char *md_grade_for_score(double score);

#define MD_GRADE_STEPS 11 /* A+ .. D; F is below the last */
/* Parses quality.grades ("97,93,...,60": 11 descending numbers 0..100) into out.
 * MD_ECONFIG saying what is wrong. */
int md_grade_parse_thresholds(const char *list, double out[MD_GRADE_STEPS], md_error *err);
/* Replaces the process-wide thresholds (called once at start-up, before threads). */
void md_grade_set_thresholds(const double t[MD_GRADE_STEPS]);

#endif
