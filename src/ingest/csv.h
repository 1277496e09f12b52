/* csv.h - reading OHLCV bars from CSV text (API.md "CSV input").
 *
 * Header-detected and case-insensitive: a time column (date, datetime, time, timestamp, or
 * date + time), open, high, low, close, volume, optional symbol, adj close, vwap, trades.
 * Yahoo download CSV and Stooq files (web CSV, and the <TICKER>,<PER>,<DATE>,<TIME>,...
 * bulk form) load as they come. The parser works on one line at a time so that callers
 * can split a file on line boundaries and parse blocks in parallel; it does no I/O and
 * never allocates. */
#ifndef MD_INGEST_CSV_H
#define MD_INGEST_CSV_H

#include "core/bar.h"
#include "core/error.h"

#include <stddef.h>

typedef enum { MD_CSV_AUTO = 0, MD_CSV_GENERIC, MD_CSV_YAHOO, MD_CSV_STOOQ } md_csv_format;

/* Parses "auto|generic|yahoo|stooq"; MD_EPARAM otherwise. */
int md_csv_format_parse(const char *s, md_csv_format *out, md_error *err);

#define MD_CSV_MAX_COLS 64
#define MD_CSV_MAX_LINE (1 << 20) /* longer lines are rejected as a whole */

typedef struct md_csv_layout {
    md_csv_format format;
    char delim;
    int ncols;
    /* column indexes, -1 when absent */
    int c_time;  /* combined date-time, or the date when c_clock is set */
    int c_clock; /* separate time-of-day column */
    int c_open, c_high, c_low, c_close, c_volume;
    int c_symbol, c_vwap, c_trades, c_per;
    int compact_date; /* Stooq <DATE> YYYYMMDD + <TIME> HHMMSS */
    int date_named;   /* time column is called "date": 8 digits mean YYYYMMDD */
} md_csv_layout;

/* Detects the layout from the header line (without its line end). MD_ECSV naming what is
 * missing ("no close column") when the header is not usable. */
int md_csv_detect(const char *line, size_t len, md_csv_format want, md_csv_layout *out,
                  md_error *err);

typedef struct md_csv_row {
    md_bar bar;
    char symbol[MD_SYMBOL_MAX + 1]; /* "" when the layout has no symbol column */
    int per_iv;                     /* from an interval or Stooq <PER> column, -1 when none */
} md_csv_row;

/* Parses one data line (without its line end; a trailing '\r' is ignored). Returns 0,
 * 1 for a blank line (nothing to do), or MD_ECSV with the reason ("close: 'abc' is not a
 * number", "7 fields, header has 6"). Only parsing is checked here: value rules belong to
 * quality/. */
int md_csv_parse_row(const md_csv_layout *l, const char *line, size_t len, md_csv_row *row,
                     md_error *err);

/* Symbol from a file name: basename without .gz/.csv/.txt; a Stooq ".us" market suffix is
 * dropped ("aapl.us.txt" -> "AAPL"). MD_ESYMBOL when the name is not a valid symbol. */
int md_csv_symbol_from_path(const char *path, char *out, md_error *err);

/* Fast decimal parser used for prices: exact (same double as strtod) for every input;
 * MD_ECSV when s[0..len) is not a number. */
int md_parse_double(const char *s, size_t len, double *out);

#endif
