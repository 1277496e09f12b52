/* The embedded store (store/store_sqlite.c) through store.h: the shared storage suite
 * (store_suite.h, also run against PostgreSQL) plus what only a file store has. */
#include "core/config.h"
#include "store/sqlite_int.h"
#include "store/store.h"
#include "testutil.h"

#include <criterion/criterion.h>

#define STORE_SUITE store_sqlite

static void suite_url(char *u, size_t n)
{
    const char *p = md_test_path("store.db");
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

static void suite_options(md_store_options *o)
{
    (void)o;
}

#include "store_suite.h"
#include "store_actions_suite.h"

Test(store_sqlite_only, unreadable_path_is_an_error_not_a_crash)
{
    md_store *bad = NULL;
    md_error err;
    int rc = md_store_open("sqlite:/proc/nonexistent/dir/x.db", NULL, &bad, &err);
    cr_assert_lt(rc, 0);
    cr_assert_null(bad);
    cr_assert(strlen(err.msg) > 0);
    rc = md_store_open("mysql://x", NULL, &bad, &err);
    cr_assert_eq(rc, MD_ECONFIG);
}

/* Checkpoints run on their own thread: many transactions past the WAL threshold (1000
 * pages) stay readable while they are written, and everything is in the database file
 * once the store is closed. */
Test(store_sqlite_only, checkpoints_beside_the_writer_keep_every_row)
{
    const char *p = md_test_path("ckpt.db");
    char u[600], side[600];
    unlink(p);
    snprintf(side, sizeof side, "%s-wal", p);
    unlink(side);
    snprintf(u, sizeof u, "sqlite:%s", p);
    md_store *s = NULL;
    md_error err;
    cr_assert_eq(md_store_open(u, NULL, &s, &err), 0, "%s", err.msg);
    enum { BATCH = 20000, BATCHES = 30 }; /* ~40 MB of pages: several checkpoints */
    md_bar *bars = calloc(BATCH, sizeof *bars);
    for (int k = 0; k < BATCHES; k++) {
        for (int i = 0; i < BATCH; i++) {
            md_bar_init(&bars[i]);
            bars[i].ts = (int64_t)(k * BATCH + i) * 60;
            bars[i].open = bars[i].high = bars[i].low = bars[i].close = 100 + i % 50;
            bars[i].volume = i;
            bars[i].source = MD_SRC_CSV;
        }
        md_series se = {"CKPT", MD_IV_1M, bars, BATCH};
        cr_assert_eq(md_store_put_bars(s, &se, 1, &err), BATCH, "%s", err.msg);
        cr_assert_eq(md_store_count_bars(s, "CKPT", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL),
                     (int64_t)(k + 1) * BATCH);
    }
    free(bars);
    md_store_close(s);
    struct stat sb;
    cr_assert(stat(side, &sb) != 0 || sb.st_size == 0, "the WAL is folded back on close");
    cr_assert_eq(md_store_open(u, NULL, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_count_bars(s, "CKPT", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL),
                 (int64_t)BATCHES * BATCH);
    md_store_close(s);
}

static int pragma_synchronous(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* store.sqlite_synchronous: the setting SQLite itself reports on the writer and on a
 * reader connection (SQLite's numbering: 1 NORMAL, 2 FULL); anything but normal or full is
 * a configuration error. */
Test(store_sqlite_only, sqlite_synchronous_reaches_every_connection)
{
    static const struct {
        const char *value;
        int pragma;
    } cases[] = {{"normal", 1}, {"full", 2}};
    for (size_t i = 0; i < 2; i++) {
        md_config c;
        md_config_init(&c);
        md_error err;
        cr_assert_eq(md_config_set(&c, "store.sqlite_synchronous", cases[i].value, "test", &err),
                     0);
        cr_assert_eq(md_config_validate(&c, &err), 0, "%s", err.msg);
        md_store_options o;
        cr_assert_eq(md_store_options_from_config(&o, &c, &err), 0, "%s", err.msg);
        md_config_deinit(&c);
        char u[600];
        snprintf(u, sizeof u, "sqlite:%s", md_test_path("sync.db"));
        md_store *s = NULL;
        cr_assert_eq(md_store_open(u, &o, &s, &err), 0, "%s", err.msg);
        md_sqlite_store *sq = (md_sqlite_store *)s;
        cr_expect_eq(pragma_synchronous(sq->wdb), cases[i].pragma, "%s: writer", cases[i].value);
        md_sqlite_reader *r = md_sqlite__reader_get(sq);
        cr_expect_eq(pragma_synchronous(r->db), cases[i].pragma, "%s: reader", cases[i].value);
        md_sqlite__reader_put(sq, r);
        md_store_close(s);
    }
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_set(&c, "store.sqlite_synchronous", "off", "test", &err), 0);
    cr_assert_eq(md_config_validate(&c, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "store.sqlite_synchronous") != NULL, "%s", err.msg);
    md_store_options o;
    cr_assert_eq(md_store_options_from_config(&o, &c, &err), MD_ECONFIG);
    md_config_deinit(&c);
}
