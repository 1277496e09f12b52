/* sqlite_int.h - the SQLite backend's state, shared by the store_sqlite*.c files. */
#ifndef MD_STORE_SQLITE_INT_H
#define MD_STORE_SQLITE_INT_H

#include "core/dict.h"
#include "store/store_int.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* A reader connection with its prepared statements (one thread at a time). */
typedef struct md_sqlite_reader {
    sqlite3 *db;
    sqlite3_stmt *get_range, *get_range_desc, *latest, *get_quote, *count;
    sqlite3_stmt *series_of, *rollups, *rollups_desc; /* store_sqlite_rollup.c */
} md_sqlite_reader;

typedef struct md_sqlite_store {
    md_store base;
    char *path;
    md_store_options opt;

    pthread_mutex_t wlock; /* guards wdb and the w_* statements */
    sqlite3 *wdb;
    sqlite3_stmt *w_upsert, *w_ins_symbol, *w_put_quote;
    /* bulk path: MD_SQLITE_MULTI rows per statement (store_sqlite.c "writes") */
    sqlite3_stmt *w_multi_lean, *w_multi_scored, *w_multi_full, *w_put_mark;
    /* series and rollups kept by the writes (store_sqlite_rollup.c) */
    sqlite3_stmt *w_series_get, *w_series_put, *w_range, *w_roll_get, *w_roll_put;
    int derived; /* the schema has them (always, except a read-only open of an older store) */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    md_sqlite_reader *readers;
    md_sqlite_reader **free_readers;
    size_t n_readers, n_free;

    pthread_mutex_t sym_lock; /* guards sym_ids */
    md_dict sym_ids;          /* symbol -> int64_t id */

    /* background WAL checkpoints (sqlite_ckpt.c) */
    sqlite3 *ckdb;
    pthread_t ck_thread;
    pthread_mutex_t ck_lock;
    pthread_cond_t ck_wake, ck_idle;
    int ck_running, ck_pending, ck_busy, ck_stop;

} md_sqlite_store;

/* Rows per multi-row upsert statement of the bulk write path. */
#define MD_SQLITE_MULTI 64

/* A failed SQLite call as an md_error: MD_EUNAVAIL for busy, locked, I/O, full and cannot-open
 * (worth retrying later), MD_ESTORE otherwise; the message names what failed. db may be NULL. */
int md_sqlite__fail(md_error *err, sqlite3 *db, int rc, const char *what);
/* Runs SQL without results (statements separated by ';'). err may be NULL. */
int md_sqlite__exec(sqlite3 *db, const char *sql, md_error *err);
/* A statement kept for the connection's life (SQLITE_PREPARE_PERSISTENT); NULL (logged) when
 * it does not prepare. */
sqlite3_stmt *md_sqlite__prep(sqlite3 *db, const char *sql);
/* A statement run once (caller finalizes *s, also on failure). */
int md_sqlite__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, md_error *err);

/* A write transaction: begin takes the writer (wlock) and BEGIN IMMEDIATE (on failure the
 * writer is released); end takes rc, the result of the work (>= 0 success), commits or rolls
 * back (forgetting the symbol ids the transaction created), releases the writer and returns
 * rc or the commit's error. */
int md_sqlite__tx_begin(md_sqlite_store *st, md_error *err);
int md_sqlite__tx_end(md_sqlite_store *st, int rc, md_error *err);

/* Reads the current row of s into elem (zeroed memory of the listing's element type). */
typedef void (*md_sqlite_row)(sqlite3_stmt *s, void *elem);
/* A listing on a reader connection: the rows of sql, each read by row into a heap array of
 * size-byte elements (owned by the caller); out is the address of the caller's element
 * pointer, written on success (store_int.h md_store__list_out). Returns the row count or a
 * negative MD_E* code. */
int md_sqlite__list(md_store *base, const char *sql, const char *what, size_t size,
                    md_sqlite_row row, void *out, md_error *err);
/* A row of (symbol, interval, first ts, last ts, count) as md_symbol_info. */
void md_sqlite__symbol_info_row(sqlite3_stmt *s, void *elem);

md_sqlite_reader *md_sqlite__reader_get(md_sqlite_store *st);
void md_sqlite__reader_put(md_sqlite_store *st, md_sqlite_reader *r);
/* A reader for a read of symbol, with its id in *sid; NULL (nothing taken) when the symbol was
 * never stored, so there is nothing to read. */
md_sqlite_reader *md_sqlite__reader_for(md_sqlite_store *st, const char *symbol, int64_t *sid);
int64_t md_sqlite__symbol_id(md_sqlite_store *st, sqlite3 *db, const char *symbol);
int64_t md_sqlite__symbol_id_create(md_sqlite_store *st, const char *symbol, md_error *err);
/* Forgets the cached symbol ids (those created by a transaction that rolled back are gone). */
void md_sqlite__symbol_ids_forget(md_sqlite_store *st);
/* Moves WAL checkpoints of the writer connection to a thread with its own connection ckdb
 * (owned from now on). -1 when the thread cannot start (SQLite's own checkpoints stay). */
int md_sqlite__ckpt_start(md_sqlite_store *st, sqlite3 *ckdb);
/* Stops that thread and closes its connection (no-op when not started). */
void md_sqlite__ckpt_stop(md_sqlite_store *st);

/* -- store_sqlite_rollup.c: the series and rollups tables ------------------------------------ */

/* Their CREATE statements (a migration of store_sqlite.c) and the read statements of a reader
 * connection (prepared by reader_open). */
extern const char *md_sqlite__derived_schema;
extern const char *md_sqlite__sql_series_of, *md_sqlite__sql_rollups, *md_sqlite__sql_rollups_desc;
/* Prepares / finalizes the writer connection's statements for them. -1 when one fails. */
int md_sqlite__derived_prepare(md_sqlite_store *st);
void md_sqlite__derived_finalize(md_sqlite_store *st);
/* Writes one series (write_bars upserts its bars, sorted and de-duplicated) and keeps its
 * series row and rollups; inside the caller's write transaction. */
int md_sqlite__write_derived(md_sqlite_store *st, const md_series *se, int64_t sid,
                             int (*write_bars)(md_sqlite_store *, const md_series *, int64_t,
                                               md_error *),
                             md_error *err);
/* Fills both tables from the stored bars (when the migration adds them). */
int md_sqlite__fill_derived(md_sqlite_store *st, md_error *err);
/* store_int.h's series_of and get_rollups. */
int md_sqlite_series_of(md_store *base, const char *symbol, md_symbol_info out[MD_IV_COUNT],
                        md_error *err);
int md_sqlite_get_rollups(md_store *base, const char *symbol, md_interval iv, md_interval from_iv,
                          int64_t lo, int64_t hi, size_t limit, md_bar_vec *out, md_range *holes,
                          size_t *n_holes, md_error *err);

/* Column i as text into dst (n bytes, truncated); "" when NULL. */
static inline void md_sqlite__column_text(sqlite3_stmt *s, int i, char *dst, size_t n)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    snprintf(dst, n, "%s", t ? t : "");
}

/* Binds ?1..?4 of a range statement: symbol id, interval, [lo, hi). */
static inline void md_sqlite__bind_range(sqlite3_stmt *s, int64_t sid, md_interval iv, int64_t lo,
                                         int64_t hi)
{
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int(s, 2, (int)iv);
    sqlite3_bind_int64(s, 3, lo);
    sqlite3_bind_int64(s, 4, hi);
}

/* Binds v, or NULL when v is NaN (a value the bar or quote does not have). */
static inline void md_sqlite__bind_opt_double(sqlite3_stmt *s, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, v);
}

#endif
