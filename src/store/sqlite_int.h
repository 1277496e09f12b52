/* sqlite_int.h - the SQLite backend's state, shared by the store_sqlite*.c files. */
#ifndef MD_STORE_SQLITE_INT_H
#define MD_STORE_SQLITE_INT_H

#include "core/dict.h"
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

/* A reader connection with its prepared statements (one thread at a time). */
typedef struct md_sqlite_reader {
    sqlite3 *db;
    sqlite3_stmt *get_range, *get_range_desc, *latest, *get_quote, *count;
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

    uint64_t write_gen; /* bumped on every committed write (atomic) */
    pthread_mutex_t list_lock;
    md_symbol_info *list_cache;
    size_t list_n;
    uint64_t list_gen;
} md_sqlite_store;

/* Rows per multi-row upsert statement of the bulk write path. */
#define MD_SQLITE_MULTI 64

md_sqlite_reader *md_sqlite__reader_get(md_sqlite_store *st);
void md_sqlite__reader_put(md_sqlite_store *st, md_sqlite_reader *r);
int64_t md_sqlite__symbol_id(md_sqlite_store *st, sqlite3 *db, const char *symbol);
int64_t md_sqlite__symbol_id_create(md_sqlite_store *st, const char *symbol, md_error *err);
/* Forgets the cached symbol ids (those created by a transaction that rolled back are gone). */
void md_sqlite__symbol_ids_forget(md_sqlite_store *st);
/* Moves WAL checkpoints of the writer connection to a thread with its own connection ckdb
 * (owned from now on). -1 when the thread cannot start (SQLite's own checkpoints stay). */
int md_sqlite__ckpt_start(md_sqlite_store *st, sqlite3 *ckdb);
/* Stops that thread and closes its connection (no-op when not started). */
void md_sqlite__ckpt_stop(md_sqlite_store *st);

#endif
