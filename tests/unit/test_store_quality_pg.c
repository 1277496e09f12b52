/* Quality findings and live marks in the PostgreSQL store (store/pg_quality.c) against the
 * real PostgreSQL 15 of the test fixture: the shared suite (store_quality_suite.h, also run
 * against sqlite), and the migration of a database created before the quality tables. */
#include "core/mem.h"
#include "store/store.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdlib.h>

#define QSUITE store_quality_pg

int md_pg_schema_version(void); /* store/pg_schema.c */

#include "pgtest.h"

#include "store_quality_suite.h"

Test(store_quality_pg_only, a_database_from_before_the_quality_tables_is_migrated)
{
    suite_url(url, sizeof url);
    md_store *s = NULL;
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &s, &err), 0, "%s", err.msg);
    md_store_close(s);
    /* back to the schema before the quality tables (migration 3; the later ones' tables go
     * too, as a database that old has none of them) */
    char sql[300], want[16];
    snprintf(sql, sizeof sql,
             "DROP TABLE quality_events; DROP TABLE quality_live;"
             " DROP TABLE IF EXISTS actions; DROP TABLE IF EXISTS symbol_refs;"
             " UPDATE schema_version SET version = %d",
             2);
    admin(db_of(url), sql);
    cr_assert_eq(md_store_open(url, NULL, &s, &err), 0, "%s", err.msg);
    snprintf(want, sizeof want, "%d", md_pg_schema_version());
    cr_assert_str_eq(admin(db_of(url), "SELECT version FROM schema_version"), want);
    md_qevent e = E(86400, GAP, 0.5, "after migration");
    cr_assert_eq(md_store_put_quality_events(s, "OLD", MD_IV_1D, &e, 1, NULL, 0, &err), 1, "%s",
                 err.msg);
    int64_t ts;
    cr_assert_eq(md_store_mark_live(s, "OLD", MD_IV_1D, 86400, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_get_live(s, "OLD", MD_IV_1D, &ts, &err), 0);
    md_store_close(s);
    suite_drop(url);
}

Test(store_quality_pg_only, text_is_bound_not_spliced)
{
    suite_url(url, sizeof url);
    md_store *s = NULL;
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &s, &err), 0, "%s", err.msg);
    md_qevent e = E(86400, JUMP, 0.5, "it's a 'quote'); DROP TABLE bars; --");
    cr_assert_eq(md_store_put_quality_events(s, "O'K", MD_IV_1D, &e, 1, NULL, 0, &err), 1, "%s",
                 err.msg);
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    cr_assert_eq(md_store_get_quality_events(s, "O'K", MD_IV_1D, 0, 100000, -1, 0, &v, &err), 1);
    cr_assert_str_eq(v.v[0].detail, "it's a 'quote'); DROP TABLE bars; --");
    md_qevent_vec_deinit(&v);
    cr_assert_str_eq(admin(db_of(url), "SELECT count(*) FROM bars"), "0");
    md_store_close(s);
    suite_drop(url);
}
