/* pgtest.h - the test fixture's PostgreSQL for the unit tests (scripts/test-services.sh
 * starts it; its URL is in $MDTEST_STATE/env): a fresh database per test, admin SQL. */
#ifndef MD_PGTEST_H
#define MD_PGTEST_H

#include "store/store.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *pg_base_url(void)
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
static inline void url_for(const char *db, const char *password, char *out, size_t n)
{
    const char *base = pg_base_url();
    const char *slash = strrchr(base, '/');
    const char *at = strchr(base, '@');
    if (password) /* postgresql://user@host -> postgresql://user:password@host */
        snprintf(out, n, "%.*s:%s%.*s/%s", (int)(at - base), base, password, (int)(slash - at), at,
                 db);
    else
        snprintf(out, n, "%.*s/%s", (int)(slash - base), base, db);
}

/* Runs SQL on the fixture's maintenance database (db NULL) or on db; returns the first
 * value of the first row as a static string ("" when none). */
static inline const char *admin(const char *db, const char *sql)
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
            off += (size_t)snprintf(val + off, sizeof val - off, "%s%s", i ? "\n" : "",
                                    PQgetvalue(r, i, 0));
    }
    PQclear(r);
    PQfinish(c);
    return val;
}

static int db_seq;

static inline void new_db(char *name, size_t n)
{
    snprintf(name, n, "mdt_%d_%d", (int)getpid(), db_seq++);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin(NULL, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    admin(NULL, sql);
}

static inline void drop_db(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin(NULL, sql);
}

static inline const char *db_of(const char *u)
{
    return strrchr(u, '/') + 1;
}

static inline void suite_url(char *u, size_t n)
{
    char db[64];
    new_db(db, sizeof db);
    url_for(db, NULL, u, n);
}

static inline void suite_drop(const char *u)
{
    drop_db(db_of(u));
}

#endif
