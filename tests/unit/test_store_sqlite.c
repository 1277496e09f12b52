/* The embedded store (store/store_sqlite.c) through store.h: the shared storage suite
 * (store_suite.h, also run against PostgreSQL) plus what only a file store has. */
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
