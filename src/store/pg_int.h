/* pg_int.h - the PostgreSQL backend's state, shared by the store_pg*.c / pg_*.c files.
 *
 * Files: store_pg.c (open/close, the connection pool, reconnects, reads), pg_schema.c
 * (versioned schema, TimescaleDB set-up, native partitions), pg_write.c (COPY-based bar
 * upserts, quotes, symbol ids, meta rows), pg_wire.c (binary parameters, results, COPY
 * rows), pg_quality.c (quality findings, live marks). Nothing here leaves store/. */
#ifndef MD_STORE_PG_INT_H
#define MD_STORE_PG_INT_H

#include "core/dict.h"
#include "core/timefmt.h"
#include "store/rollup.h"
#include "store/store_int.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

/* One pooled session: used by one thread at a time. */
typedef struct md_pg_conn {
    PGconn *pc;
    int ready;     /* session set up and statements prepared */
    int lost;      /* the last call found the session gone: reset before the next use */
    char state[6]; /* SQLSTATE of the last failure on this session */
} md_pg_conn;

/* A known native partition of bars: [lo, hi) in epoch seconds. */
typedef struct md_pg_part {
    int64_t lo, hi;
    char name[64];
} md_pg_part;

typedef struct md_pg_store {
    md_store base;
    char *url; /* holds the password when the URL has one: used to reconnect, never logged */
    md_store_options opt;
    int timescale; /* layout chosen when the schema was created: 1 hypertable, 0 partitions */
    /* TimescaleDB (pg_timescale.c) */
    char tsx[80];     /* the extension's schema as a quoted identifier, "" when not created */
    int ts_managed;   /* this open applies the TimescaleDB settings (manage, not off) */
    int32_t raw_htid; /* bars' hypertable id */
    int32_t mat_htid[MD_IV_COUNT]; /* continuous aggregate of each rollup interval, 0: none */
    pthread_mutex_t written_lock;  /* guards written_* */
    /* per aggregate (by its interval): the span written since open of the bars it aggregates
     * (lo > hi: none) */
    int64_t written_lo[MD_IV_COUNT], written_hi[MD_IV_COUNT];

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    md_pg_conn *conns;
    md_pg_conn **free_conns;
    size_t n_conns, n_free;

    pthread_mutex_t sym_lock; /* guards sym_ids */
    md_dict sym_ids;          /* symbol -> int32_t id; ids never change */

    pthread_mutex_t part_lock; /* known partitions, sorted by lo */
    md_pg_part *parts;
    size_t n_parts;
    int64_t retention_checked; /* epoch day of the last retention pass */
} md_pg_store;

/* -- pg_wire.c: binary parameters and results ------------------------------------------------ */

#define MD_PG_MAX_PARAMS 16

typedef struct md_pg_params {
    int n;
    const char *val[MD_PG_MAX_PARAMS];
    int len[MD_PG_MAX_PARAMS];
    int fmt[MD_PG_MAX_PARAMS];
    char buf[MD_PG_MAX_PARAMS][16];
} md_pg_params;

void md_pg__p_text(md_pg_params *p, const char *s);
void md_pg__p_i16(md_pg_params *p, int v);
void md_pg__p_i32(md_pg_params *p, int32_t v);
void md_pg__p_i64(md_pg_params *p, int64_t v);
void md_pg__p_ts(md_pg_params *p, int64_t epoch_s);
void md_pg__p_f64(md_pg_params *p, double v); /* NULL when NaN */
void md_pg__p_f32(md_pg_params *p, float v);  /* NULL when negative (unscored) */
void md_pg__p_interval(md_pg_params *p, int64_t usecs, int32_t days, int32_t months);
void md_pg__p_null(md_pg_params *p);
/* A binary array parameter whose bytes live in the caller's buffer (kept until the call). */
void md_pg__p_bytes(md_pg_params *p, const char *data, int len);

/* A timestamp bound into the store's range [MD_TS_MIN, MD_TS_MAX + 1], so that an open end
 * (INT64_MAX) is a valid timestamptz parameter and an empty range is seen before the query. */
static inline int64_t md_pg__clamp_ts(int64_t t)
{
    return t < MD_TS_MIN ? MD_TS_MIN : t > MD_TS_MAX + 1 ? MD_TS_MAX + 1 : t;
}

/* Epoch seconds <-> PostgreSQL timestamptz (microseconds since 2000-01-01 UTC). */
int64_t md_pg__ts_to_pg(int64_t epoch_s);
int64_t md_pg__ts_from_pg(int64_t pg_us);

/* Binary result fields (NULL-safe versions give the md_bar "unknown" values). */
int64_t md_pg__get_i64(const PGresult *r, int row, int col);
int32_t md_pg__get_i32(const PGresult *r, int row, int col);
int md_pg__get_i16(const PGresult *r, int row, int col);
double md_pg__get_f64(const PGresult *r, int row, int col); /* NAN when NULL */
float md_pg__get_f32(const PGresult *r, int row, int col);  /* -1 when NULL */
int64_t md_pg__get_ts(const PGresult *r, int row, int col); /* epoch seconds */
/* A text field into dst (n bytes, truncated, always terminated); "" when NULL. */
void md_pg__get_text(const PGresult *r, int row, int col, char *dst, size_t n);
/* Reads the 10 bar columns starting at col: ts,open,high,low,close,volume,vwap,trades,source,quality. */
void md_pg__get_bar(const PGresult *r, int row, int col, md_bar *b);

/* Growable byte buffer for COPY data and array parameters. */
typedef struct md_pg_buf {
    char *d;
    size_t n, cap;
} md_pg_buf;
void md_pg__buf_reserve(md_pg_buf *b, size_t extra);
void md_pg__buf_free(md_pg_buf *b);
void md_pg__put16(md_pg_buf *b, uint16_t v);
void md_pg__put32(md_pg_buf *b, uint32_t v);
void md_pg__put64(md_pg_buf *b, uint64_t v);
void md_pg__put_f64(md_pg_buf *b, double v);
/* Binary COPY stream header and trailer. */
void md_pg__copy_header(md_pg_buf *b);
void md_pg__copy_trailer(md_pg_buf *b);
/* One bars row in binary COPY form. */
void md_pg__copy_bar(md_pg_buf *b, int32_t sid, int iv, const md_bar *bar);
/* One-dimensional binary array of n elements of elem_len bytes (4: int4, 2: int2, 8: int8 or
 * timestamptz) read from vals as int64 and converted; ts != 0 converts epoch seconds. */
void md_pg__array(md_pg_buf *b, unsigned elem_oid, int elem_len, const int64_t *vals, size_t n,
                  int ts);

/* Type oids used by the prepared statements. */
enum {
    MD_PG_BOOLOID = 16,
    MD_PG_INT8OID = 20,
    MD_PG_INT2OID = 21,
    MD_PG_INT4OID = 23,
    MD_PG_TEXTOID = 25,
    MD_PG_FLOAT4OID = 700,
    MD_PG_FLOAT8OID = 701,
    MD_PG_TSTZOID = 1184,
    MD_PG_INTERVALOID = 1186,
    MD_PG_INT2ARRAYOID = 1005,
    MD_PG_INT4ARRAYOID = 1007,
    MD_PG_INT8ARRAYOID = 1016,
    MD_PG_TSTZARRAYOID = 1185,
    MD_PG_TEXTARRAYOID = 1009
};

/* -- store_pg.c: errors and sessions ----------------------------------------------------------- */

/* Translates a failed call into err (message redacted): MD_EUNAVAIL when the session or the
 * server is gone (and marks c lost), MD_EAGAIN for deadlocks and serialization failures,
 * MD_ESTORE otherwise. res may be NULL (the message then comes from the connection). */
int md_pg__fail(md_pg_conn *c, const PGresult *res, const char *what, md_error *err);
/* SQLSTATE of a failed result, "" when none. */
const char *md_pg__state(const PGresult *res);
/* Runs a statement without parameters and checks it succeeded. */
int md_pg__exec(md_pg_conn *c, const char *sql, const char *what, md_error *err);
/* Runs a prepared statement (binary results). *out is owned by the caller (PQclear) on
 * success; with out NULL the result is discarded. */
int md_pg__run(md_pg_conn *c, const char *stmt, const md_pg_params *p, PGresult **out,
               const char *what, md_error *err);
/* Runs SQL text with parameters (binary results); for statements run once. out as above. */
int md_pg__run_sql(md_pg_conn *c, const char *sql, const md_pg_params *p, PGresult **out,
                   const char *what, md_error *err);
/* md_pg__run or md_pg__run_sql: a statement by its prepared name or by its text. */
typedef int (*md_pg_runner)(md_pg_conn *c, const char *stmt, const md_pg_params *p, PGresult **out,
                            const char *what, md_error *err);
/* ROLLBACK if the session is still there (errors ignored). */
void md_pg__rollback(md_pg_conn *c);

/* A unit of work run on a pooled session. The runner resets a lost session and runs the
 * work again once (every write is an idempotent upsert, so a retry cannot duplicate). */
typedef int (*md_pg_work)(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err);
int md_pg__with_conn(md_pg_store *st, md_pg_work fn, void *arg, md_error *err);

/* -- pg_schema.c ---------------------------------------------------------------------------------- */

/* What a throwaway session found out about TimescaleDB on this database (md_pg__probe). */
typedef struct md_pg_probe {
    int available;  /* the server has the extension's files */
    int created;    /* the extension exists in this database (tsx is its schema) */
    int loadable;   /* and the server preloads it: its functions can be called */
    int schema;     /* mdagent's schema exists here */
    int hypertable; /* ... in the hypertable layout */
    char tsx[80];
    char why[256]; /* why it is not loadable, from the server */
} md_pg_probe;

/* Creates or migrates the schema on c (advisory-locked against other agents), choosing the
 * layout on first creation; sets st->timescale. With read_only only checks it. */
int md_pg__schema(md_pg_store *st, md_pg_conn *c, md_error *err);
/* -- pg_timescale.c ----------------------------------------------------------------------------- */

/* Inspects TimescaleDB on a throwaway session (CREATE EXTENSION, or the first call of one of
 * its functions, ends the session with FATAL when the server does not preload it), creating
 * the extension there when create is set and it is installable. */
int md_pg__probe(md_pg_store *st, int create, md_pg_probe *out, md_error *err);
/* Brings the TimescaleDB settings (chunk interval, compression, retention, continuous
 * aggregates) in line with st->opt, changing only what differs; only with ts_managed. Then
 * reads the ids the reads need (mat_htid). */
int md_pg__timescale_setup(md_pg_store *st, md_pg_conn *c, md_error *err);
/* Migration 4, hypertable layout: the md_retention procedure its retention job runs. */
int md_pg__timescale_schema(md_pg_store *st, md_pg_conn *c, md_error *err);
/* Prepares on c the statements md_pg__cagg_rollups runs (for the aggregates that exist). */
int md_pg__cagg_prepare(md_pg_store *st, md_pg_conn *c, md_error *err);
/* store_int.h get_rollups for the hypertable layout: the continuous aggregates. */
int md_pg__cagg_rollups(md_pg_store *st, md_pg_conn *c, const char *symbol, md_interval iv,
                        md_interval from_iv, int64_t lo, int64_t hi, size_t limit, md_bar_vec *out,
                        md_range *holes, size_t *n_holes, md_error *err);
/* Notes that bars of iv were written over [lo, hi] (continuous aggregates refreshed at close). */
void md_pg__note_written(md_pg_store *st, md_interval iv, int64_t lo, int64_t hi);
/* Refreshes the continuous aggregates over what was written since open (manage only). */
int md_pg__refresh_written(md_pg_store *st, md_pg_conn *c, md_error *err);
/* store.h md_store_jobs: the TimescaleDB jobs of bars and its aggregates. */
int md_pg__jobs(md_pg_store *st, md_pg_conn *c, md_store_job **out, md_error *err);

/* -- pg_rollup.c: rollups and retention in the native layout --------------------------------------- */

/* One series of a write, as pg_write.c hands it over. */
typedef struct md_pg_wseries {
    int32_t sid;
    md_interval iv;
    const md_bar *bars; /* sorted, one per timestamp */
    size_t n;
    int stored; /* the series had bars before: they span [first, last] */
    int64_t first, last;
    md_rollup_vec rows; /* the rollup rows this write upserts */
} md_pg_wseries;
/* Before the bars are written (inside the write transaction, series locked): computes each
 * series' rollup rows, reading the stored bars and rows the plan needs. */
int md_pg__rollups_plan(md_pg_conn *c, md_pg_wseries *s, size_t n, md_error *err);
/* After the bars are written: upserts the planned rows. */
int md_pg__rollups_write(md_pg_conn *c, const md_pg_wseries *s, size_t n, md_error *err);
/* store_int.h get_rollups for the partitioned layout: the rollups table. */
int md_pg__table_rollups(md_pg_conn *c, const char *symbol, md_interval iv, md_interval from_iv,
                         int64_t lo, int64_t hi, size_t limit, md_bar_vec *out, md_error *err);
/* Fills rollups from the stored bars (the migration that adds the table). */
int md_pg__rollups_fill(md_pg_conn *c, md_error *err);
/* Retention, native layout: before partitions wholly older than cutoff are dropped (same
 * transaction): takes their rows off the series counts. After: moves first_ts of the series
 * to their oldest remaining bar and rebuilds the rollups of the buckets the drop cut. */
int md_pg__retention_before_drop(md_pg_conn *c, const char *partition, md_error *err);
int md_pg__retention_after_drop(md_pg_conn *c, int64_t cutoff, md_error *err);
/* Loads the partitions of bars from the catalog into st->parts. */
int md_pg__load_partitions(md_pg_store *st, md_pg_conn *c, md_error *err);
/* Makes sure partitions exist for every timestamp in ts[0..n) (and partitions_ahead after
 * each; with n == 0 around the current time), creating the missing ones in their own short
 * transaction, and drops partitions past the retention age once a day. No-op with
 * TimescaleDB. */
int md_pg__ensure_partitions(md_pg_store *st, md_pg_conn *c, const int64_t *ts, size_t n,
                             md_error *err);
int md_pg_schema_version(void);
/* Start of the partition (per opt.pg_partition_span) holding ts, and the start of the next. */
int64_t md_pg__span_floor(int span, int64_t ts);
int64_t md_pg__span_next(int span, int64_t lo);

/* -- pg_write.c ------------------------------------------------------------------------------- */

int md_pg__put_bars(md_store *base, const md_series *series, size_t n_series, md_error *err);
/* put_bars plus bulk-load marks upserted in the same transaction. */
int md_pg__put_bars_marked(md_store *base, const md_series *series, size_t n_series,
                           const md_load_mark *marks, size_t n_marks, md_error *err);
int md_pg__put_quote(md_store *base, const md_quote *q, md_error *err);
/* Makes sure symbol has a row in symbols (its id is then resolved in SQL). */
int md_pg__ensure_symbol(md_pg_conn *c, const char *symbol, md_error *err);
int md_pg__meta_set(md_store *base, const char *const *keys, const char *const *vals, size_t n,
                    md_error *err);
/* Session set-up for writers: the temporary staging tables (ON COMMIT DELETE ROWS) of bars
 * and, with rollups (native layout), of rollup rows. */
int md_pg__setup_stage(md_pg_conn *c, int rollups, md_error *err);

/* -- pg_quality.c: quality findings and live marks (store.h) ------------------------------------ */

int md_pg__put_quality_events(md_store *base, const char *symbol, md_interval iv,
                              const md_qevent *ev, size_t n, const int64_t *clear_ts,
                              size_t n_clear, md_error *err);
int md_pg__get_quality_events(md_store *base, const char *symbol, md_interval iv, int64_t start,
                              int64_t end, int rule, size_t limit, md_qevent_vec *out,
                              md_error *err);
int md_pg__count_quality_events(md_store *base, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int64_t count[], double severity_sum[], md_error *err);
int md_pg__list_quality_series(md_store *base, md_symbol_info **out, md_error *err);
int md_pg__mark_live(md_store *base, const char *symbol, md_interval iv, int64_t bar_ts,
                     md_error *err);
int md_pg__get_live(md_store *base, const char *symbol, md_interval iv, int64_t *bar_ts,
                    md_error *err);

/* -- pg_actions.c: corporate actions and symbol references (store.h) ----------------------------- */

int md_pg__put_actions(md_store *base, const md_action *a, size_t n, md_error *err);
int md_pg__get_actions(md_store *base, const char *symbol, int64_t start, int64_t end,
                       md_action_vec *out, md_error *err);
int md_pg__put_symbol_ref(md_store *base, const md_symbol_ref *r, md_error *err);
int md_pg__get_symbol_ref(md_store *base, const char *symbol, md_symbol_ref *out, md_error *err);
int md_pg__list_symbol_refs(md_store *base, md_symbol_ref **out, md_error *err);

/* -- store_pg.c: listings ---------------------------------------------------------------------- */

/* Reads row `row` of a result into elem (zeroed memory of the listing's element type). */
typedef void (*md_pg_row)(const PGresult *r, int row, void *elem);
/* A listing: the rows of stmt (without parameters, run by run) on a pooled session, each read
 * by row into a heap array of size-byte elements (at least one element, owned by the caller).
 * out is the address of the caller's element pointer (md_quote **, ...), written on success
 * (store_int.h md_store__list_out). Returns the row count or a negative MD_E* code. */
int md_pg__list(md_store *base, md_pg_runner run, const char *stmt, const char *what, size_t size,
                md_pg_row row, void *out, md_error *err);
/* A row of (symbol, iv, first ts, last ts, count) as md_symbol_info: the listing of symbols
 * and of quality findings. */
void md_pg__symbol_info_row(const PGresult *r, int row, void *elem);

/* Opens (or reopens) session c on st's URL with the session defaults (UTC, temp buffers).
 * MD_EUNAVAIL when the server cannot be reached. */
int md_pg__connect(md_pg_store *st, md_pg_conn *c, md_error *err);

#endif
