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

/* -- the fixture's server ----------------------------------------------------------------------- */

static const char *pg_base_url(void)
{
    static char base[512];
    if (base[0]) return base;
    const char *state = getenv("MDTEST_STATE");
    char path[600];
    snprintf(path, sizeof path, "%s/env", state ? state : ".");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s: run under ctest (fixture 'services' starts PostgreSQL)", path);
    char line[400];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "MDTEST_PG_URL=", 14) == 0) {
            snprintf(base, sizeof base, "%s", line + 14);
            base[strcspn(base, "\r\n")] = 0;
        }
    }
    fclose(f);
    cr_assert(base[0], "MDTEST_PG_URL missing from %s", path);
    return base;
}

/* The fixture URL with another database name (and an optional password). */
static void url_for(const char *db, const char *password, char *out, size_t n)
{
    const char *base = pg_base_url();
    const char *slash = strrchr(base, '/');
    const char *at = strchr(base, '@');
    if (password) /* postgresql://user@host -> postgresql://user:password@host */
        snprintf(out, n, "%.*s:%s%.*s/%s", (int)(at - base), base, password, (int)(slash - at), at, db);
    else
        snprintf(out, n, "%.*s/%s", (int)(slash - base), base, db);
}

/* Runs SQL on the fixture's maintenance database (db NULL) or on db; returns the first
 * value of the first row as a static string ("" when none). */
static const char *admin(const char *db, const char *sql)
{
    static char val[4096];
    char u[600];
    if (db)
        url_for(db, NULL, u, sizeof u);
    else
        snprintf(u, sizeof u, "%s", pg_base_url());
    PGconn *c = PQconnectdb(u);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    cr_assert(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    val[0] = 0;
    if (s == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        /* all rows, one value per line */
        size_t off = 0;
        for (int i = 0; i < PQntuples(r) && off < sizeof val - 1; i++)
            off += (size_t)snprintf(val + off, sizeof val - off, "%s%s", i ? "\n" : "", PQgetvalue(r, i, 0));
    }
    PQclear(r);
    PQfinish(c);
    return val;
}

static int db_seq;

static void new_db(char *name, size_t n)
{
    snprintf(name, n, "mdt_%d_%d", (int)getpid(), db_seq++);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin(NULL, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    admin(NULL, sql);
}

static void drop_db(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin(NULL, sql);
}

static const char *db_of(const char *u)
{
    return strrchr(u, '/') + 1;
}

static void suite_url(char *u, size_t n)
{
    char db[64];
    new_db(db, sizeof db);
    url_for(db, NULL, u, n);
}

static void suite_drop(const char *u)
{
    drop_db(db_of(u));
}

#include "store_quality_suite.h"

Test(store_quality_pg_only, a_database_from_before_the_quality_tables_is_migrated)
{
    suite_url(url, sizeof url);
    md_store *s = NULL;
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &s, &err), 0, "%s", err.msg);
    md_store_close(s);
    /* back to the schema before the quality tables (the migration before the last) */
    char sql[200], want[16];
    snprintf(sql, sizeof sql, "DROP TABLE quality_events; DROP TABLE quality_live;"
                              " UPDATE schema_version SET version = %d", md_pg_schema_version() - 1);
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
