/* store_sqlite.c - the embedded store: SQLite 3 in WAL mode.
 *
 * Layout: symbols(id, symbol) gives each symbol a small integer; bars is a WITHOUT ROWID
 * table keyed by (symbol_id, interval, ts), so a series is one contiguous range of the
 * primary key and range reads are index scans. quotes keeps the latest quote per symbol.
 *
 * Threads: one writer connection behind a mutex (SQLite allows one writer at a time) and
 * a pool of reader connections; WAL lets readers run while the writer commits. */
#include "store/rollup.h"
#include "store/sqlite_int.h"
#include "store/store_int.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int md_sqlite__fail(md_error *err, sqlite3 *db, int rc, const char *what)
{
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_CANTOPEN ||
                rc == SQLITE_IOERR || rc == SQLITE_FULL)
                   ? MD_EUNAVAIL
                   : MD_ESTORE;
    return md_error_set(err, code, "sqlite %s: %s", what,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* -- schema --------------------------------------------------------------------------------- */

/* Migrations, applied in order; schema_version holds how many have run. Append only. */
static const char *migrations[] = {
    /* 1: the foundation schema */
    "CREATE TABLE symbols(id INTEGER PRIMARY KEY, symbol TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE bars(symbol_id INTEGER NOT NULL, interval INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,"
    " volume REAL NOT NULL, vwap REAL, trades INTEGER, source INTEGER NOT NULL, quality REAL,"
    " PRIMARY KEY(symbol_id, interval, ts)) WITHOUT ROWID;"
    "CREATE TABLE quotes(symbol_id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, price REAL NOT NULL,"
    " volume REAL, bid REAL, ask REAL, source INTEGER NOT NULL, quality REAL,"
    " updated_at INTEGER NOT NULL);",
    /* 2: key/value rows kept in the store (migration checkpoints) */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    /* 3: bulk-load checkpoints (store.h md_load_mark), written with the rows they cover */
    "CREATE TABLE load_marks(path TEXT NOT NULL PRIMARY KEY, size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL, offset INTEGER NOT NULL, lines INTEGER NOT NULL,"
    " rows INTEGER NOT NULL, rejected INTEGER NOT NULL, interval INTEGER NOT NULL,"
    " done INTEGER NOT NULL, updated_at INTEGER NOT NULL);",
    /* 4: quality findings (one per bar and rule) and live marks */
    "CREATE TABLE quality_events(symbol_id INTEGER NOT NULL, interval INTEGER NOT NULL,"
    " ts INTEGER NOT NULL, rule TEXT NOT NULL, severity REAL NOT NULL, value REAL, threshold REAL,"
    " source INTEGER NOT NULL, other_source INTEGER NOT NULL, detail TEXT NOT NULL,"
    " recorded_at INTEGER NOT NULL, PRIMARY KEY(symbol_id, interval, ts, rule)) WITHOUT ROWID;"
    "CREATE TABLE quality_live(symbol_id INTEGER NOT NULL, interval INTEGER NOT NULL,"
    " bar_ts INTEGER NOT NULL, marked_at INTEGER NOT NULL, PRIMARY KEY(symbol_id, interval))"
    " WITHOUT ROWID;",
    /* 5: corporate actions (one row per source's record of an event) and what the sources
     * said about each symbol (quote currency, exchange zone); IF NOT EXISTS so that the step
     * may be renumbered when branches merge */
    "CREATE TABLE IF NOT EXISTS actions(symbol_id INTEGER NOT NULL, ex_date INTEGER NOT NULL,"
    " type TEXT NOT NULL, source INTEGER NOT NULL, numerator REAL, denominator REAL, amount REAL,"
    " currency TEXT, pay_date INTEGER, recorded_at INTEGER NOT NULL,"
    " PRIMARY KEY(symbol_id, ex_date, type, source)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS symbol_refs(symbol_id INTEGER PRIMARY KEY, currency TEXT NOT NULL,"
    " reported TEXT NOT NULL, zone TEXT NOT NULL, source INTEGER NOT NULL,"
    " actions_checked INTEGER NOT NULL, updated_at INTEGER NOT NULL);",
    /* 6: series bounds and counts, and the rollups (store_sqlite_rollup.c), filled from the
     * stored bars in the same transaction */
    NULL,
    /* 7: the exchange a provider named for the symbol (its calendar, calendar/symbols.c) */
    "ALTER TABLE symbol_refs ADD COLUMN exchange TEXT NOT NULL DEFAULT '';",
    /* 8: the source whose plan refused the symbol's dividends at the last actions check */
    "ALTER TABLE symbol_refs ADD COLUMN dividends_refused INTEGER NOT NULL DEFAULT 0;",
};
#define MIGRATION_DERIVED 5 /* index of the one above: its SQL is md_sqlite__derived_schema */

int md_sqlite__exec(sqlite3 *db, const char *sql, md_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : md_sqlite__fail(err, db, rc, "exec");
}

int md_sqlite__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, md_error *err)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : md_sqlite__fail(err, db, rc, "prepare");
}

int md_sqlite__tx_begin(md_sqlite_store *st, md_error *err)
{
    pthread_mutex_lock(&st->wlock);
    int rc = md_sqlite__exec(st->wdb, "BEGIN IMMEDIATE", err);
    if (rc) pthread_mutex_unlock(&st->wlock);
    return rc;
}

int md_sqlite__tx_end(md_sqlite_store *st, int rc, md_error *err)
{
    if (rc >= 0) {
        int c = md_sqlite__exec(st->wdb, "COMMIT", err);
        if (c) rc = c;
    }
    if (rc < 0) {
        md_sqlite__exec(st->wdb, "ROLLBACK", NULL);
        md_sqlite__symbol_ids_forget(st); /* ids created in the transaction are gone */
    }
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

int md_sqlite__list(md_store *base, const char *sql, const char *what, size_t size,
                    md_sqlite_row row, void *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = md_sqlite__prepare(r->db, sql, &s, err);
    size_t n = 0, cap = 16;
    char *v = md_calloc(cap, size);
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            v = md_realloc(v, 2 * cap * size);
            memset(v + cap * size, 0, cap * size);
            cap *= 2;
        }
        row(s, v + n++ * size);
    }
    if (rc == 0 && step != SQLITE_DONE) rc = md_sqlite__fail(err, r->db, step, what);
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    if (rc) {
        md_free(v);
        return rc;
    }
    md_store__list_out(out, v);
    return (int)n;
}

void md_sqlite__symbol_info_row(sqlite3_stmt *s, void *elem)
{
    md_symbol_info *x = elem;
    md_sqlite__column_text(s, 0, x->symbol, sizeof x->symbol);
    x->iv = (md_interval)sqlite3_column_int(s, 1);
    x->first_ts = sqlite3_column_int64(s, 2);
    x->last_ts = sqlite3_column_int64(s, 3);
    x->count = sqlite3_column_int64(s, 4);
}

static int migrate(md_sqlite_store *st, md_error *err)
{
    sqlite3 *db = st->wdb;
    int rc = md_sqlite__exec(
        db, "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
        err);
    if (rc) return rc;
    sqlite3_stmt *s;
    int version = 0, have_row = 0;
    sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &s, NULL);
    if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0), have_row = 1;
    sqlite3_finalize(s);
    int target = (int)MD_ARRAY_LEN(migrations);
    if (version > target) {
        md_sqlite__exec(db, "ROLLBACK", NULL);
        return md_error_set(
            err, MD_ESTORE,
            "store schema version %d is newer than this mdagent (%d); upgrade mdagent", version,
            target);
    }
    for (int v = version; v < target; v++) {
        rc = md_sqlite__exec(db, v == MIGRATION_DERIVED ? md_sqlite__derived_schema : migrations[v],
                             err);
        if (rc == 0 && v == MIGRATION_DERIVED) {
            rc = md_sqlite__derived_prepare(st) == 0
                     ? md_sqlite__fill_derived(st, err)
                     : md_error_set(err, MD_ESTORE, "cannot prepare series statements");
        }
        if (rc) {
            md_sqlite__exec(db, "ROLLBACK", NULL);
            md_error_prefix(err, "schema migration %d", v + 1);
            return rc;
        }
    }
    if (version != target) {
        char sql[96];
        snprintf(sql, sizeof sql,
                 have_row ? "UPDATE schema_version SET version=%d"
                          : "INSERT INTO schema_version VALUES(%d)",
                 target);
        rc = md_sqlite__exec(db, sql, err);
        if (rc) return md_sqlite__exec(db, "ROLLBACK", NULL), rc;
        MD_INFO("store", "schema migrated from=%d to=%d", version, target);
    }
    return md_sqlite__exec(db, "COMMIT", err);
}

/* A read-only open cannot migrate: a store of another schema version is refused with what
 * to do, rather than failing later on a table or column it does not have yet. */
static int check_version(sqlite3 *db, const char *path, md_error *err)
{
    sqlite3_stmt *s = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    const int target = (int)MD_ARRAY_LEN(migrations);
    if (version == target) return 0;
    if (version < 0)
        return md_error_set(err, MD_ESTORE, "%s is not an mdagent store (no schema version)", path);
    if (version < target)
        return md_error_set(err, MD_ESTORE,
                            "store %s has schema version %d, this mdagent reads %d: open it once "
                            "with `mdagent serve` or `mdagent load` to migrate it",
                            path, version, target);
    return md_error_set(err, MD_ESTORE,
                        "store schema version %d is newer than this mdagent (%d); upgrade mdagent",
                        version, target);
}

/* -- connections ---------------------------------------------------------------------------- */

/* Opens one connection. Durability (store.sqlite_synchronous): in WAL mode NORMAL syncs the
 * WAL only at checkpoints, so a commit survives a crash of the agent but a power loss or OS
 * crash may take the last acknowledged ones; FULL syncs the WAL at every commit. */
static int open_conn(const char *path, const md_store_options *opt, int readonly, sqlite3 **out,
                     md_error *err)
{
    const int busy_ms = opt->busy_timeout_ms;
    sqlite3 *db = NULL;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        md_error_set(err, MD_EUNAVAIL, "cannot open sqlite store %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return MD_EUNAVAIL;
    }
    sqlite3_busy_timeout(db, busy_ms);
    sqlite3_extended_result_codes(db, 0);
    if (!readonly) {
        /* 16 KiB pages for a new store (no effect on an existing one): bulk loads of
         * minute bars write ~13% less CPU per row than with 4 KiB pages, and range reads
         * touch fewer pages (bench/README.md) */
        rc = md_sqlite__exec(
            db,
            opt->sqlite_sync_full
                ? "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                : "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            err);
        if (rc) {
            sqlite3_close(db);
            return rc;
        }
    }
    md_sqlite__exec(
        db, "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;",
        NULL);
    *out = db;
    return 0;
}

sqlite3_stmt *md_sqlite__prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        MD_ERROR("store", "prepare failed: %s sql=%.80s", sqlite3_errmsg(db), sql);
        return NULL;
    }
    return s;
}

static const char *SQL_GET_RANGE =
    "SELECT ts,open,high,low,close,volume,vwap,trades,source,quality FROM bars"
    " WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 AND ts<?4 ORDER BY ts LIMIT ?5";
static const char *SQL_GET_RANGE_DESC =
    "SELECT ts,open,high,low,close,volume,vwap,trades,source,quality FROM bars"
    " WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 AND ts<?4 ORDER BY ts DESC LIMIT ?5";
static const char *SQL_LATEST =
    "SELECT ts,open,high,low,close,volume,vwap,trades,source,quality FROM bars"
    " WHERE symbol_id=?1 AND interval=?2 ORDER BY ts DESC LIMIT 1";
static const char *SQL_GET_QUOTE =
    "SELECT ts,price,volume,bid,ask,source,quality FROM quotes WHERE symbol_id=?1";
static const char *SQL_COUNT =
    "SELECT count(*) FROM bars WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 AND ts<?4";

static void reader_free(md_sqlite_reader *r)
{
    sqlite3_finalize(r->series_of);
    sqlite3_finalize(r->rollups);
    sqlite3_finalize(r->rollups_desc);
    sqlite3_finalize(r->get_range);
    sqlite3_finalize(r->get_range_desc);
    sqlite3_finalize(r->latest);
    sqlite3_finalize(r->get_quote);
    sqlite3_finalize(r->count);
    sqlite3_close(r->db);
}

static int reader_open(md_sqlite_store *st, md_sqlite_reader *r, md_error *err)
{
    memset(r, 0, sizeof *r);
    int rc = open_conn(st->path, &st->opt, 0, &r->db, err);
    if (rc) return rc;
    r->get_range = md_sqlite__prep(r->db, SQL_GET_RANGE);
    r->get_range_desc = md_sqlite__prep(r->db, SQL_GET_RANGE_DESC);
    r->latest = md_sqlite__prep(r->db, SQL_LATEST);
    r->get_quote = md_sqlite__prep(r->db, SQL_GET_QUOTE);
    r->count = md_sqlite__prep(r->db, SQL_COUNT);
    if (!r->get_range || !r->get_range_desc || !r->latest || !r->get_quote || !r->count) {
        reader_free(r);
        return md_error_set(err, MD_ESTORE, "cannot prepare read statements");
    }
    /* missing only in a read-only open of a store older than them (then NULL: not used) */
    if (st->derived) {
        r->series_of = md_sqlite__prep(r->db, md_sqlite__sql_series_of);
        r->rollups = md_sqlite__prep(r->db, md_sqlite__sql_rollups);
        r->rollups_desc = md_sqlite__prep(r->db, md_sqlite__sql_rollups_desc);
        if (!r->series_of || !r->rollups || !r->rollups_desc) {
            reader_free(r);
            return md_error_set(err, MD_ESTORE, "cannot prepare read statements");
        }
    }
    return 0;
}

md_sqlite_reader *md_sqlite__reader_get(md_sqlite_store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    while (st->n_free == 0) pthread_cond_wait(&st->pool_cond, &st->pool_lock);
    md_sqlite_reader *r = st->free_readers[--st->n_free];
    pthread_mutex_unlock(&st->pool_lock);
    return r;
}

void md_sqlite__reader_put(md_sqlite_store *st, md_sqlite_reader *r)
{
    pthread_mutex_lock(&st->pool_lock);
    st->free_readers[st->n_free++] = r;
    pthread_cond_signal(&st->pool_cond);
    pthread_mutex_unlock(&st->pool_lock);
}

md_sqlite_reader *md_sqlite__reader_for(md_sqlite_store *st, const char *symbol, int64_t *sid)
{
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    *sid = md_sqlite__symbol_id(st, r->db, symbol);
    if (*sid) return r;
    md_sqlite__reader_put(st, r);
    return NULL;
}

/* -- symbol ids ----------------------------------------------------------------------------- */

/* The cached id of a symbol (caller holds sym_lock). 0 when unknown. */
static int64_t symmap_get(md_sqlite_store *st, const char *symbol)
{
    const int64_t *id = md_dict_find_str(&st->sym_ids, symbol);
    return id ? *id : 0;
}

void md_sqlite__symbol_ids_forget(md_sqlite_store *st)
{
    pthread_mutex_lock(&st->sym_lock);
    md_dict_clear(&st->sym_ids);
    pthread_mutex_unlock(&st->sym_lock);
}

/* Id of a symbol for reading: 0 when the symbol was never stored. */
int64_t md_sqlite__symbol_id(md_sqlite_store *st, sqlite3 *db, const char *symbol)
{
    pthread_mutex_lock(&st->sym_lock);
    int64_t id = symmap_get(st, symbol);
    pthread_mutex_unlock(&st->sym_lock);
    if (id) return id;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id FROM symbols WHERE symbol=?1", -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, symbol, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (id) {
        pthread_mutex_lock(&st->sym_lock);
        *(int64_t *)md_dict_put_str(&st->sym_ids, symbol, NULL) = id;
        pthread_mutex_unlock(&st->sym_lock);
    }
    return id;
}

/* Id of a symbol for writing (caller holds the writer and is inside a transaction):
 * created when missing. Negative on error. */
int64_t md_sqlite__symbol_id_create(md_sqlite_store *st, const char *symbol, md_error *err)
{
    int64_t id = md_sqlite__symbol_id(st, st->wdb, symbol);
    if (id) return id;
    sqlite3_stmt *s = st->w_ins_symbol;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, symbol, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, md_now());
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) return md_sqlite__fail(err, st->wdb, rc, "insert symbol");
    id = sqlite3_last_insert_rowid(st->wdb);
    /* The id becomes visible to readers only after COMMIT; the map is filled then too. */
    return id;
}

/* -- open/close ----------------------------------------------------------------------------- */

static void mkdirs_for(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    mkdir(dir, 0755);
}

static const char *SQL_UPSERT_BAR =
    "INSERT INTO bars(symbol_id,interval,ts,open,high,low,close,volume,vwap,trades,source,quality)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
    " ON CONFLICT(symbol_id,interval,ts) DO UPDATE SET open=excluded.open,high=excluded.high,"
    "low=excluded.low,close=excluded.close,volume=excluded.volume,vwap=excluded.vwap,"
    "trades=excluded.trades,source=excluded.source,quality=excluded.quality";

/* The bulk path. A series is written MD_SQLITE_MULTI rows per statement,
 *   INSERT INTO bars(...) VALUES(?1,?2,?4,...),(?1,?2,?10,...),... ON CONFLICT ... DO UPDATE
 * which pays the per-statement cost (reset, step, VDBE start) once per 64 rows: about 1.7x
 * the rows/s of one statement per row (bench/README.md). The "lean" form shares symbol_id,
 * interval and source between its rows and writes NULL for vwap, trades and quality, so a
 * row binds 6 values instead of 12 - an unscored CSV load; the "scored" form is the same
 * with the quality score bound (7 values: a scored CSV load); the "full" form binds every
 * column. What is left of a series (< 64 rows) goes through the single-row upsert. The
 * conflict clause is the single-row one, so both paths have the same upsert semantics. The
 * SQL text is generated once at open from placeholders only: values are always bound. */
#define UPSERT_SET                                                                                 \
    " ON CONFLICT(symbol_id,interval,ts) DO UPDATE SET open=excluded.open,high=excluded.high,"     \
    "low=excluded.low,close=excluded.close,volume=excluded.volume,vwap=excluded.vwap,"             \
    "trades=excluded.trades,source=excluded.source,quality=excluded.quality"

enum { MULTI_FULL = 0, MULTI_LEAN = 1, MULTI_SCORED = 2 };

static sqlite3_stmt *prep_multi(sqlite3 *db, int form)
{
    md_buf b;
    md_buf_init(&b);
    md_buf_puts(&b, "INSERT INTO bars(symbol_id,interval,ts,open,high,low,close,volume,vwap,"
                    "trades,source,quality) VALUES");
    for (int k = 0; k < MD_SQLITE_MULTI; k++) {
        if (form == MULTI_LEAN) {
            int p = 4 + 6 * k;
            md_buf_printf(&b, "%s(?1,?2,?%d,?%d,?%d,?%d,?%d,?%d,NULL,NULL,?3,NULL)", k ? "," : "",
                          p, p + 1, p + 2, p + 3, p + 4, p + 5);
        } else if (form == MULTI_SCORED) {
            int p = 4 + 7 * k;
            md_buf_printf(&b, "%s(?1,?2,?%d,?%d,?%d,?%d,?%d,?%d,NULL,NULL,?3,?%d)", k ? "," : "", p,
                          p + 1, p + 2, p + 3, p + 4, p + 5, p + 6);
        } else {
            int p = 3 + 10 * k;
            md_buf_printf(&b, "%s(?1,?2,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d,?%d)", k ? "," : "", p,
                          p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9);
        }
    }
    md_buf_puts(&b, UPSERT_SET);
    md_buf_putc(&b, 0);
    sqlite3_stmt *s = md_sqlite__prep(db, b.data);
    md_buf_deinit(&b);
    return s;
}

static void sqlite_close(md_store *base);

/* Process-wide SQLite settings, before its first use: no memory statistics (they take a
 * global mutex on every allocation; nothing here reads them). */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sqlite_open(const char *url, const md_store_options *opt, md_store **out, md_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite://path */
    if (!*path) return md_error_set(err, MD_ECONFIG, "sqlite URL has no path");
    if ((opt->must_exist || opt->read_only) && access(path, F_OK) != 0 && errno == ENOENT)
        return md_error_set(err, MD_ENOTFOUND,
                            "no store at %s: `mdagent load` or `mdagent migrate` creates one%s",
                            path, opt->read_only ? "" : " (or pass --create for an empty one)");
    md_sqlite_store *st = md_calloc(1, sizeof *st);
    st->path = md_strdup(path);
    st->opt = *opt;
    pthread_mutex_init(&st->wlock, NULL);
    pthread_mutex_init(&st->pool_lock, NULL);
    pthread_cond_init(&st->pool_cond, NULL);
    pthread_mutex_init(&st->sym_lock, NULL);
    md_dict_init(&st->sym_ids, sizeof(int64_t));
    if (!opt->read_only) mkdirs_for(path);

    int rc = open_conn(path, opt, opt->read_only, &st->wdb, err);
    if (rc == 0 && !opt->read_only) rc = migrate(st, err);
    if (rc == 0 && opt->read_only) rc = check_version(st->wdb, path, err);
    if (rc) {
        sqlite_close(&st->base);
        return rc;
    }
    st->w_upsert = md_sqlite__prep(st->wdb, SQL_UPSERT_BAR);
    st->w_ins_symbol =
        md_sqlite__prep(st->wdb, "INSERT INTO symbols(symbol, created_at) VALUES(?1, ?2)");
    st->w_put_quote = md_sqlite__prep(
        st->wdb, "INSERT INTO quotes(symbol_id,ts,price,volume,bid,ask,source,quality,updated_at)"
                 " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(symbol_id) DO UPDATE SET"
                 " ts=excluded.ts,price=excluded.price,volume=excluded.volume,bid=excluded.bid,"
                 "ask=excluded.ask,source=excluded.source,quality=excluded.quality,"
                 "updated_at=excluded.updated_at WHERE excluded.ts>=quotes.ts");
    st->w_multi_lean = prep_multi(st->wdb, MULTI_LEAN);
    st->w_multi_scored = prep_multi(st->wdb, MULTI_SCORED);
    st->w_multi_full = prep_multi(st->wdb, MULTI_FULL);
    st->w_put_mark = md_sqlite__prep(
        st->wdb,
        "INSERT INTO load_marks(path,size,mtime_ns,offset,lines,rows,rejected,interval,done,"
        "updated_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10) ON CONFLICT(path) DO UPDATE SET"
        " size=excluded.size,mtime_ns=excluded.mtime_ns,offset=excluded.offset,"
        "lines=excluded.lines,rows=excluded.rows,rejected=excluded.rejected,"
        "interval=excluded.interval,done=excluded.done,updated_at=excluded.updated_at");
    if (!st->w_upsert || !st->w_ins_symbol || !st->w_put_quote || !st->w_multi_lean ||
        !st->w_multi_scored || !st->w_multi_full || !st->w_put_mark) {
        sqlite_close(&st->base);
        return md_error_set(err, MD_ESTORE, "cannot prepare write statements");
    }
    if (!st->w_series_get && md_sqlite__derived_prepare(st) != 0) {
        if (!opt->read_only) {
            sqlite_close(&st->base);
            return md_error_set(err, MD_ESTORE, "cannot prepare series statements");
        }
        md_sqlite__derived_finalize(st); /* an older schema, read-only: aggregate on the fly */
        st->w_series_get = st->w_series_put = st->w_range = st->w_roll_get = st->w_roll_put = NULL;
    }
    st->derived = st->w_series_get != NULL;
    if (!opt->read_only) {
        sqlite3 *ckdb = NULL;
        md_error ce;
        if (open_conn(path, opt, 0, &ckdb, &ce) != 0 || md_sqlite__ckpt_start(st, ckdb) != 0) {
            sqlite3_close(ckdb);
            MD_DEBUG("store", "checkpoints stay in the committing thread path=%s", path);
        }
    }
    int n = opt->pool_size > 0 ? opt->pool_size : 1;
    st->readers = md_calloc((size_t)n, sizeof *st->readers);
    st->free_readers = md_calloc((size_t)n, sizeof *st->free_readers);
    for (int i = 0; i < n; i++) {
        rc = reader_open(st, &st->readers[i], err);
        if (rc) {
            sqlite_close(&st->base);
            return rc;
        }
        st->n_readers++;
        st->free_readers[st->n_free++] = &st->readers[i];
    }
    MD_DEBUG("store", "opened kind=sqlite path=%s readers=%d", path, n);
    *out = &st->base;
    return 0;
}

static void sqlite_close(md_store *base)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    for (size_t i = 0; i < st->n_readers; i++) reader_free(&st->readers[i]);
    md_free(st->readers);
    md_free(st->free_readers);
    sqlite3_finalize(st->w_upsert);
    sqlite3_finalize(st->w_ins_symbol);
    sqlite3_finalize(st->w_put_quote);
    sqlite3_finalize(st->w_multi_lean);
    sqlite3_finalize(st->w_multi_scored);
    sqlite3_finalize(st->w_multi_full);
    sqlite3_finalize(st->w_put_mark);
    md_sqlite__derived_finalize(st);
    md_sqlite__ckpt_stop(st);
    if (st->wdb) {
        /* fold the WAL back into the database file on a clean close */
        sqlite3_wal_checkpoint_v2(st->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(st->wdb);
    }
    md_dict_deinit(&st->sym_ids);
    pthread_mutex_destroy(&st->wlock);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_cond_destroy(&st->pool_cond);
    pthread_mutex_destroy(&st->sym_lock);
    md_free(st->path);
    md_free(st);
}

static int sqlite_ping(md_store *base, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int rc = md_sqlite__exec(r->db, "SELECT 1", err);
    md_sqlite__reader_put(st, r);
    return rc;
}

/* -- writes --------------------------------------------------------------------------------- */

static void bind_bar_full(sqlite3_stmt *s, int p, const md_bar *b)
{
    sqlite3_bind_int64(s, p, b->ts);
    sqlite3_bind_double(s, p + 1, b->open);
    sqlite3_bind_double(s, p + 2, b->high);
    sqlite3_bind_double(s, p + 3, b->low);
    sqlite3_bind_double(s, p + 4, b->close);
    sqlite3_bind_double(s, p + 5, b->volume);
    md_sqlite__bind_opt_double(s, p + 6, b->vwap);
    if (b->trades >= 0)
        sqlite3_bind_int64(s, p + 7, b->trades);
    else
        sqlite3_bind_null(s, p + 7);
    sqlite3_bind_int(s, p + 8, b->source);
    if (b->quality >= 0)
        sqlite3_bind_double(s, p + 9, b->quality);
    else
        sqlite3_bind_null(s, p + 9);
}

/* Which multi-row form fits these rows. */
static int multi_form(const md_bar *b, size_t n)
{
    int scored = b[0].quality >= 0;
    for (size_t k = 0; k < n; k++)
        if (!isnan(b[k].vwap) || b[k].trades >= 0 || (b[k].quality >= 0) != scored ||
            b[k].source != b[0].source)
            return MULTI_FULL;
    return scored ? MULTI_SCORED : MULTI_LEAN;
}

/* Writes one series inside the caller's transaction. */
static int write_series(md_sqlite_store *st, const md_series *se, int64_t sid, md_error *err)
{
    size_t i = 0;
    while (se->n - i >= MD_SQLITE_MULTI) {
        const md_bar *b = se->bars + i;
        sqlite3_stmt *s;
        int form = multi_form(b, MD_SQLITE_MULTI);
        if (form != MULTI_FULL) {
            int per = form == MULTI_SCORED ? 7 : 6;
            s = form == MULTI_SCORED ? st->w_multi_scored : st->w_multi_lean;
            sqlite3_bind_int64(s, 1, sid);
            sqlite3_bind_int(s, 2, (int)se->iv);
            sqlite3_bind_int(s, 3, b[0].source);
            for (int k = 0, p = 4; k < MD_SQLITE_MULTI; k++, p += per) {
                sqlite3_bind_int64(s, p, b[k].ts);
                sqlite3_bind_double(s, p + 1, b[k].open);
                sqlite3_bind_double(s, p + 2, b[k].high);
                sqlite3_bind_double(s, p + 3, b[k].low);
                sqlite3_bind_double(s, p + 4, b[k].close);
                sqlite3_bind_double(s, p + 5, b[k].volume);
                if (form == MULTI_SCORED) sqlite3_bind_double(s, p + 6, b[k].quality);
            }
        } else {
            s = st->w_multi_full;
            sqlite3_bind_int64(s, 1, sid);
            sqlite3_bind_int(s, 2, (int)se->iv);
            for (int k = 0; k < MD_SQLITE_MULTI; k++) bind_bar_full(s, 3 + 10 * k, &b[k]);
        }
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src != SQLITE_DONE) return md_sqlite__fail(err, st->wdb, src, "upsert bars");
        i += MD_SQLITE_MULTI;
    }
    sqlite3_stmt *s = st->w_upsert;
    for (; i < se->n; i++) {
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, (int)se->iv);
        bind_bar_full(s, 3, &se->bars[i]);
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src != SQLITE_DONE) return md_sqlite__fail(err, st->wdb, src, "upsert bar");
    }
    return 0;
}

static int write_mark(md_sqlite_store *st, const md_load_mark *m, md_error *err)
{
    sqlite3_stmt *s = st->w_put_mark;
    sqlite3_bind_text(s, 1, m->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, m->size);
    sqlite3_bind_int64(s, 3, m->mtime_ns);
    sqlite3_bind_int64(s, 4, m->offset);
    sqlite3_bind_int64(s, 5, m->lines);
    sqlite3_bind_int64(s, 6, m->rows);
    sqlite3_bind_int64(s, 7, m->rejected);
    sqlite3_bind_int(s, 8, m->interval);
    sqlite3_bind_int(s, 9, m->done ? 1 : 0);
    sqlite3_bind_int64(s, 10, md_now());
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return src == SQLITE_DONE ? 0 : md_sqlite__fail(err, st->wdb, src, "write load mark");
}

/* Bars and marks in one transaction. */
static int put_tx(md_sqlite_store *st, const md_series *series, size_t n_series,
                  const md_load_mark *marks, size_t n_marks, md_error *err)
{
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    int64_t written = 0;
    for (size_t k = 0; k < n_series && rc == 0; k++) {
        const md_series *se = &series[k];
        if (se->n == 0) continue;
        int64_t sid = md_sqlite__symbol_id_create(st, se->symbol, err);
        if (sid < 0) {
            rc = (int)sid;
            break;
        }
        rc = md_sqlite__write_derived(st, se, sid, write_series, err);
        if (rc == 0) written += (int64_t)se->n;
    }
    for (size_t k = 0; k < n_marks && rc == 0; k++) rc = write_mark(st, &marks[k], err);
    return md_sqlite__tx_end(st, rc ? rc : (int)written, err);
}

static int sqlite_put_bars(md_store *base, const md_series *series, size_t n_series, md_error *err)
{
    return put_tx((md_sqlite_store *)base, series, n_series, NULL, 0, err);
}

static int sqlite_put_bars_marked(md_store *base, const md_series *series, size_t n_series,
                                  const md_load_mark *marks, size_t n_marks, md_error *err)
{
    return put_tx((md_sqlite_store *)base, series, n_series, marks, n_marks, err);
}

static int sqlite_get_load_mark(md_store *base, const char *path, md_load_mark *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(r->db,
                                "SELECT size,mtime_ns,offset,lines,rows,rejected,interval,"
                                "done FROM load_marks WHERE path=?1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rc = md_sqlite__fail(err, r->db, rc, "read load mark");
        md_sqlite__reader_put(st, r);
        return rc;
    }
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->path = path;
        out->size = sqlite3_column_int64(s, 0);
        out->mtime_ns = sqlite3_column_int64(s, 1);
        out->offset = sqlite3_column_int64(s, 2);
        out->lines = sqlite3_column_int64(s, 3);
        out->rows = sqlite3_column_int64(s, 4);
        out->rejected = sqlite3_column_int64(s, 5);
        out->interval = sqlite3_column_int(s, 6);
        out->done = sqlite3_column_int(s, 7);
        rc = 0;
    } else if (src == SQLITE_DONE) {
        rc = md_error_set(err, MD_ENODATA, "no load mark for %s", path);
    } else {
        rc = md_sqlite__fail(err, r->db, src, "read load mark");
    }
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    return rc;
}

static int sqlite_put_quote(md_store *base, const md_quote *q, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    int stored = 0;
    int64_t sid = md_sqlite__symbol_id_create(st, q->symbol, err);
    if (sid < 0) {
        rc = (int)sid;
    } else {
        sqlite3_stmt *s = st->w_put_quote;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int64(s, 2, q->ts);
        sqlite3_bind_double(s, 3, q->price);
        md_sqlite__bind_opt_double(s, 4, q->volume);
        md_sqlite__bind_opt_double(s, 5, q->bid);
        md_sqlite__bind_opt_double(s, 6, q->ask);
        sqlite3_bind_int(s, 7, q->source);
        if (q->quality >= 0)
            sqlite3_bind_double(s, 8, q->quality);
        else
            sqlite3_bind_null(s, 8);
        sqlite3_bind_int64(s, 9, md_now());
        int src = sqlite3_step(s);
        if (src != SQLITE_DONE)
            rc = md_sqlite__fail(err, st->wdb, src, "upsert quote");
        else
            stored = sqlite3_changes(st->wdb) > 0;
        sqlite3_reset(s);
    }
    return md_sqlite__tx_end(st, rc ? rc : stored, err);
}

/* -- reads ---------------------------------------------------------------------------------- */

static void read_bar(sqlite3_stmt *s, md_bar *b)
{
    b->ts = sqlite3_column_int64(s, 0);
    b->open = sqlite3_column_double(s, 1);
    b->high = sqlite3_column_double(s, 2);
    b->low = sqlite3_column_double(s, 3);
    b->close = sqlite3_column_double(s, 4);
    b->volume = sqlite3_column_double(s, 5);
    b->vwap = sqlite3_column_type(s, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 6);
    b->trades = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 7);
    b->source = (uint8_t)sqlite3_column_int(s, 8);
    b->quality =
        sqlite3_column_type(s, 9) == SQLITE_NULL ? -1.0f : (float)sqlite3_column_double(s, 9);
}

static int sqlite_get_bars(md_store *base, const char *symbol, md_interval iv, int64_t start,
                           int64_t end, size_t limit, int oldest, md_bar_vec *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    int64_t sid;
    md_sqlite_reader *r = md_sqlite__reader_for(st, symbol, &sid);
    if (!r) return 0;
    int newest = limit && !oldest; /* the newest `limit`: read backwards, then reversed */
    sqlite3_stmt *s = newest ? r->get_range_desc : r->get_range;
    md_sqlite__bind_range(s, sid, iv, start, end);
    sqlite3_bind_int64(s, 5, limit ? (int64_t)limit : -1);
    size_t before = out->n;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        md_bar b;
        read_bar(s, &b);
        md_bar_vec_push(out, &b);
    }
    int ret = (int)(out->n - before);
    if (rc != SQLITE_DONE) ret = md_sqlite__fail(err, r->db, rc, "read bars");
    sqlite3_reset(s);
    md_sqlite__reader_put(st, r);
    if (ret > 0 && newest) { /* newest-first from the query: reverse to oldest-first */
        for (size_t i = before, j = out->n - 1; i < j; i++, j--) {
            md_bar t = out->v[i];
            out->v[i] = out->v[j];
            out->v[j] = t;
        }
    }
    return ret;
}

static int sqlite_latest_bar(md_store *base, const char *symbol, md_bar *out, md_interval *iv_out,
                             md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = md_sqlite__symbol_id(st, r->db, symbol);
    int found = 0, rc = 0;
    md_bar best;
    md_interval best_iv = MD_IV_1D;
    for (int iv = 0; sid && iv < MD_IV_COUNT && rc == 0; iv++) {
        sqlite3_stmt *s = r->latest;
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, iv);
        int src = sqlite3_step(s);
        if (src == SQLITE_ROW) {
            md_bar b;
            read_bar(s, &b);
            /* compare by the end of the bar so a daily bar does not hide newer minutes */
            int64_t end_b = md_interval_next((md_interval)iv, b.ts);
            int64_t end_best = found ? md_interval_next(best_iv, best.ts) : 0;
            if (!found || end_b > end_best) best = b, best_iv = (md_interval)iv, found = 1;
        } else if (src != SQLITE_DONE) {
            rc = md_sqlite__fail(err, r->db, src, "latest bar");
        }
        sqlite3_reset(s);
    }
    md_sqlite__reader_put(st, r);
    if (rc) return rc;
    if (!found) return md_error_set(err, MD_ENODATA, "no bars stored for %s", symbol);
    *out = best;
    if (iv_out) *iv_out = best_iv;
    return 0;
}

/* The quote columns from column c on: ts, price, volume, bid, ask, source, quality. */
static void read_quote(sqlite3_stmt *s, int c, md_quote *q)
{
    q->ts = sqlite3_column_int64(s, c);
    q->price = sqlite3_column_double(s, c + 1);
    q->volume =
        sqlite3_column_type(s, c + 2) == SQLITE_NULL ? NAN : sqlite3_column_double(s, c + 2);
    q->bid = sqlite3_column_type(s, c + 3) == SQLITE_NULL ? NAN : sqlite3_column_double(s, c + 3);
    q->ask = sqlite3_column_type(s, c + 4) == SQLITE_NULL ? NAN : sqlite3_column_double(s, c + 4);
    q->source = (uint8_t)sqlite3_column_int(s, c + 5);
    q->quality = sqlite3_column_type(s, c + 6) == SQLITE_NULL
                     ? -1.0f
                     : (float)sqlite3_column_double(s, c + 6);
}

static int sqlite_get_quote(md_store *base, const char *symbol, md_quote *q, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = md_sqlite__symbol_id(st, r->db, symbol);
    int rc = MD_ENODATA;
    if (sid) {
        sqlite3_stmt *s = r->get_quote;
        sqlite3_bind_int64(s, 1, sid);
        int src = sqlite3_step(s);
        if (src == SQLITE_ROW) {
            md_quote_init(q);
            snprintf(q->symbol, sizeof q->symbol, "%s", symbol);
            read_quote(s, 0, q);
            rc = 0;
        } else if (src != SQLITE_DONE) {
            rc = md_sqlite__fail(err, r->db, src, "read quote");
        }
        sqlite3_reset(s);
    }
    md_sqlite__reader_put(st, r);
    if (rc == MD_ENODATA) md_error_set(err, rc, "no quote stored for %s", symbol);
    return rc;
}

/* From the series table (kept by the writes); an older store opened read-only (no series
 * table yet) is counted. */
static int sqlite_list_symbols(md_store *base, md_symbol_info **out, md_error *err)
{
    const md_sqlite_store *st = (const md_sqlite_store *)base;
    return md_sqlite__list(
        base,
        st->derived ? "SELECT s.symbol, r.interval, r.first_ts, r.last_ts, r.n FROM series r"
                      " JOIN symbols s ON s.id=r.symbol_id WHERE r.n > 0"
                      " ORDER BY s.symbol, r.interval"
                    : "SELECT s.symbol, b.interval, min(b.ts), max(b.ts), count(*) FROM bars b"
                      " JOIN symbols s ON s.id=b.symbol_id GROUP BY b.symbol_id, b.interval"
                      " ORDER BY s.symbol, b.interval",
        "list symbols", sizeof **out, md_sqlite__symbol_info_row, out, err);
}

static int64_t sqlite_count_bars(md_store *base, const char *symbol, md_interval iv, int64_t start,
                                 int64_t end, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = md_sqlite__symbol_id(st, r->db, symbol), n = 0;
    if (sid) {
        sqlite3_stmt *s = r->count;
        md_sqlite__bind_range(s, sid, iv, start, end);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
        else
            n = md_sqlite__fail(err, r->db, rc, "count bars");
        sqlite3_reset(s);
    }
    md_sqlite__reader_put(st, r);
    return n;
}

/* -- migration support ---------------------------------------------------------------------- */

static int sqlite_scan_bars(md_store *base, const char *symbol, md_interval iv, int64_t from,
                            size_t limit, md_bar_vec *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = md_sqlite__symbol_id(st, r->db, symbol);
    int ret = 0;
    if (sid) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(
            r->db,
            "SELECT ts,open,high,low,close,volume,vwap,trades,source,quality FROM bars"
            " WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 ORDER BY ts LIMIT ?4",
            -1, &s, NULL);
        if (rc != SQLITE_OK) {
            ret = md_sqlite__fail(err, r->db, rc, "scan bars");
        } else {
            sqlite3_bind_int64(s, 1, sid);
            sqlite3_bind_int(s, 2, (int)iv);
            sqlite3_bind_int64(s, 3, from);
            sqlite3_bind_int64(s, 4, limit ? (int64_t)limit : -1);
            size_t before = out->n;
            while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                md_bar b;
                read_bar(s, &b);
                md_bar_vec_push(out, &b);
            }
            ret = rc == SQLITE_DONE ? (int)(out->n - before)
                                    : md_sqlite__fail(err, r->db, rc, "scan bars");
            if (ret < 0) out->n = before;
            sqlite3_finalize(s);
        }
    }
    md_sqlite__reader_put(st, r);
    return ret;
}

static void quote_row(sqlite3_stmt *s, void *elem)
{
    md_quote *q = elem;
    md_quote_init(q);
    md_sqlite__column_text(s, 0, q->symbol, sizeof q->symbol);
    read_quote(s, 1, q);
}

static int sqlite_list_quotes(md_store *base, md_quote **out, md_error *err)
{
    return md_sqlite__list(
        base,
        "SELECT s.symbol,q.ts,q.price,q.volume,q.bid,q.ask,q.source,q.quality FROM quotes q"
        " JOIN symbols s ON s.id=q.symbol_id ORDER BY s.symbol",
        "list quotes", sizeof **out, quote_row, out, err);
}

static int sqlite_meta_get(md_store *base, const char *key, char *val, size_t n, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(r->db, "SELECT value FROM meta WHERE key=?1", -1, &s, NULL);
    int ret = 0;
    if (rc != SQLITE_OK) {
        ret = md_sqlite__fail(err, r->db, rc, "read meta");
    } else {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            snprintf(val, n, "%s", (const char *)sqlite3_column_text(s, 0));
            ret = 1;
        } else if (rc != SQLITE_DONE) {
            ret = md_sqlite__fail(err, r->db, rc, "read meta");
        }
        sqlite3_finalize(s);
    }
    md_sqlite__reader_put(st, r);
    return ret;
}

static int sqlite_meta_set(md_store *base, const char *const *keys, const char *const *vals,
                           size_t n, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    sqlite3_stmt *set = NULL, *del = NULL;
    sqlite3_prepare_v2(st->wdb,
                       "INSERT INTO meta(key,value) VALUES(?1,?2)"
                       " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       -1, &set, NULL);
    sqlite3_prepare_v2(st->wdb, "DELETE FROM meta WHERE key=?1", -1, &del, NULL);
    if (!set || !del) rc = md_sqlite__fail(err, st->wdb, SQLITE_ERROR, "prepare meta");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *s = vals[i] ? set : del;
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, keys[i], -1, SQLITE_STATIC);
        if (vals[i]) sqlite3_bind_text(s, 2, vals[i], -1, SQLITE_STATIC);
        int src = sqlite3_step(s);
        if (src != SQLITE_DONE) rc = md_sqlite__fail(err, st->wdb, src, "write meta");
    }
    sqlite3_finalize(set);
    sqlite3_finalize(del);
    return md_sqlite__tx_end(st, rc, err);
}

const md_store_ops md_store_sqlite_ops = {
    .kind = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .put_bars = sqlite_put_bars,
    .get_bars = sqlite_get_bars,
    .latest_bar = sqlite_latest_bar,
    .put_quote = sqlite_put_quote,
    .get_quote = sqlite_get_quote,
    .list_symbols = sqlite_list_symbols,
    .count_bars = sqlite_count_bars,
    .get_bars_agg = NULL,
    .series_of = md_sqlite_series_of,
    .get_rollups = md_sqlite_get_rollups,
    .scan_bars = sqlite_scan_bars,
    .list_quotes = sqlite_list_quotes,
    .meta_get = sqlite_meta_get,
    .meta_set = sqlite_meta_set,
    .put_bars_marked = sqlite_put_bars_marked,
    .get_load_mark = sqlite_get_load_mark,
    .put_quality_events = md_sqlite_put_quality_events,
    .get_quality_events = md_sqlite_get_quality_events,
    .count_quality_events = md_sqlite_count_quality_events,
    .list_quality_series = md_sqlite_list_quality_series,
    .mark_live = md_sqlite_mark_live,
    .get_live = md_sqlite_get_live,
    .put_actions = md_sqlite_put_actions,
    .get_actions = md_sqlite_get_actions,
    .put_symbol_ref = md_sqlite_put_symbol_ref,
    .get_symbol_ref = md_sqlite_get_symbol_ref,
    .list_symbol_refs = md_sqlite_list_symbol_refs,
};
