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
