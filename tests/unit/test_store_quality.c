/* Quality findings and live marks in the embedded store: the shared suite
 * (store_quality_suite.h, also run against PostgreSQL) and the migration of a store created
 * before they existed. */
#include "core/mem.h"
#include "core/timefmt.h"
#include "store/store.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <sqlite3.h>

#define QSUITE store_quality_sqlite

static void suite_url(char *u, size_t n)
{
    const char *p = md_test_path("quality.db");
    char side[600];
    unlink(p);
    snprintf(side, sizeof side, "%s-wal", p);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", p);
    unlink(side);
    snprintf(u, n, "sqlite:%s", p);
}

static void suite_drop(const char *u)
{
    unlink(u + 7);
}

#include "store_quality_suite.h"

/* A store written by the foundation (schema 1) gains the quality tables, keeping its bars. */
Test(store_quality_migration, version_1_store_is_migrated)
{
    suite_url(url, sizeof url);
    const char *path = url + 7;
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    const char *v1 =
        "CREATE TABLE schema_version(version INTEGER NOT NULL); INSERT INTO schema_version "
        "VALUES(1);"
        "CREATE TABLE symbols(id INTEGER PRIMARY KEY, symbol TEXT NOT NULL UNIQUE,"
        " created_at INTEGER NOT NULL);"
        "CREATE TABLE bars(symbol_id INTEGER NOT NULL, interval INTEGER NOT NULL, ts INTEGER NOT "
        "NULL,"
        " open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,"
        " volume REAL NOT NULL, vwap REAL, trades INTEGER, source INTEGER NOT NULL, quality REAL,"
        " PRIMARY KEY(symbol_id, interval, ts)) WITHOUT ROWID;"
        "CREATE TABLE quotes(symbol_id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, price REAL NOT "
        "NULL,"
        " volume REAL, bid REAL, ask REAL, source INTEGER NOT NULL, quality REAL,"
        " updated_at INTEGER NOT NULL);"
        "INSERT INTO symbols VALUES(1,'OLD',0);"
        "INSERT INTO bars VALUES(1,6,86400,1,2,0.5,1.5,10,NULL,NULL,6,NULL);";
    cr_assert_eq(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    md_store *s2;
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &s2, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_count_bars(s2, "OLD", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 1);
    md_qevent e = E(86400, JUMP, 0.5, "after migration");
    cr_assert_eq(md_store_put_quality_events(s2, "OLD", MD_IV_1D, &e, 1, NULL, 0, &err), 1, "%s",
                 err.msg);
    cr_assert_eq(md_store_mark_live(s2, "OLD", MD_IV_1D, 86400, &err), 0);
    md_store_close(s2);
}
