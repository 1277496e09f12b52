/* The PostgreSQL store (store/store_pg.c and friends) against the real PostgreSQL 15 the
 * test fixture starts (scripts/test-services.sh; URL in $MDTEST_STATE/env). Every test gets
 * a database of its own, so tests and test files can run in parallel.
 *
 * The shared storage suite (store_suite.h) runs first, with the same inputs and assertions
 * as for sqlite; then what only this backend has: partitions created ahead, the COPY
 * staging upsert, the pool under concurrency, reconnects, secrets kept out of errors and
 * logs, schema versioning, retention. */
#include "core/log.h"
#include "store/pg_int.h" /* md_pg_schema_version */
#include "store/store.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#define STORE_SUITE store_pg

#include "pgtest.h"

static void suite_options(md_store_options *o)
{
    o->pool_size = 4;
}

#include "store_suite.h"
#include "store_actions_suite.h"

/* -- PostgreSQL only ---------------------------------------------------------------------------- */

static char pdb[64], purl[600];

static void pg_setup(void)
{
    new_db(pdb, sizeof pdb);
    url_for(pdb, NULL, purl, sizeof purl);
}

static void pg_teardown(void)
{
    drop_db(pdb);
}

TestSuite(store_pg_only, .init = pg_setup, .fini = pg_teardown);

static md_store *pg_open_opts(const char *u, const md_store_options *o)
{
    md_store *s = NULL;
    md_error err;
    cr_assert_eq(md_store_open(u, o, &s, &err), 0, "%s", err.msg);
    return s;
}

static void put1(md_store *s, const char *sym, md_interval iv, const md_bar *bars, size_t n)
{
    md_series se = {sym, iv, bars, n};
    md_error err;
    cr_assert_eq(md_store_put_bars(s, &se, 1, &err), (int)n, "%s", err.msg);
}

static const char *partitions(void)
{
    return admin(pdb, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                      " WHERE i.inhparent = 'bars'::regclass ORDER BY 1");
}

static void month_name(int64_t ts, char *out, size_t n)
{
    int64_t y;
    unsigned m, d;
    md_civil_from_days(md_interval_floor(MD_IV_1MO, ts) / 86400, &y, &m, &d);
    snprintf(out, n, "bars_p%04lld%02u01", (long long)y, m);
}

Test(store_pg_only, partitions_are_created_ahead_of_the_data)
{
    md_store_options o;
    md_store_options_default(&o);
    o.pg_timescaledb = 0;
    o.pg_partitions_ahead = 3;
    md_store *s = pg_open_opts(purl, &o);
    /* at open: the current month and three ahead, before any data */
    char cur[32];
    month_name(md_now(), cur, sizeof cur);
    cr_assert_not_null(strstr(partitions(), cur), "%s not in\n%s", cur, partitions());
    char ahead[32];
    month_name(md_interval_next(MD_IV_1MO,
                                md_interval_next(MD_IV_1MO, md_interval_next(MD_IV_1MO, md_now()))),
               ahead, sizeof ahead);
    cr_assert_not_null(strstr(partitions(), ahead), "%s not in\n%s", ahead, partitions());

    /* one batch across three months of 2024 creates their partitions, and three after */
    md_bar b[3];
    md_bar_init(&b[0]);
    b[0].open = b[0].high = b[0].low = b[0].close = 1;
    b[1] = b[2] = b[0];
    b[0].ts = 1705000000; /* 2024-01-11 */
    b[1].ts = 1709000000; /* 2024-02-27 */
    b[2].ts = 1711000000; /* 2024-03-21 */
    put1(s, "PART", MD_IV_1H, b, 3);
    const char *p = partitions();
    const char *want[] = {"bars_p20240101", "bars_p20240201", "bars_p20240301",
                          "bars_p20240401", "bars_p20240501", "bars_p20240601"};
    for (size_t i = 0; i < 6; i++)
        cr_assert_not_null(strstr(p, want[i]), "%s not in\n%s", want[i], p);
    cr_assert_null(strstr(p, "bars_p20240701"), "only three ahead:\n%s", p);
    cr_assert_null(strstr(p, "bars_p20231201"), "nothing before the data:\n%s", p);
    /* the rows landed in their partitions */
    cr_assert_str_eq(admin(pdb, "SELECT count(*) FROM bars_p20240201"), "1");
    md_store_close(s);
}

Test(store_pg_only, partition_spans_day_week_year_and_a_span_change_fills_gaps)
{
    md_store_options o;
    md_store_options_default(&o);
    o.pg_timescaledb = 0;
    o.pg_partitions_ahead = 1;
    o.pg_partition_span = MD_PG_SPAN_WEEK;
    md_store *s = pg_open_opts(purl, &o);
    md_bar b;
    md_bar_init(&b);
    b.open = b.high = b.low = b.close = 1;
    b.ts = 1709683200 + 3600; /* Wednesday 2024-03-06 -> the week of Monday 03-04 */
    put1(s, "W", MD_IV_1H, &b, 1);
    cr_assert_not_null(strstr(partitions(), "bars_p20240304\nbars_p20240311"), "%s", partitions());
    md_store_close(s);

    /* the span changes to year: a new year gets a year partition; a year overlapping the
     * weekly ones gets partitions for the gaps around them */
    o.pg_partition_span = MD_PG_SPAN_YEAR;
    o.pg_partitions_ahead = 0;
    s = pg_open_opts(purl, &o);
    b.ts = 1420070400 + 86400; /* 2015-01-02 */
    put1(s, "W", MD_IV_1H, &b, 1);
    cr_assert_not_null(strstr(partitions(), "bars_p20150101"), "%s", partitions());
    b.ts = 1709683200 + 7200; /* inside an existing weekly partition: nothing new */
    put1(s, "W", MD_IV_1H, &b, 1);
    b.ts = 1704067200 + 86400; /* 2024-01-02: the gap before the weeks */
    put1(s, "W", MD_IV_1H, &b, 1);
    cr_assert_not_null(strstr(partitions(), "bars_p20240101"), "%s", partitions());
    cr_assert_str_eq(admin(pdb, "SELECT count(*) FROM bars"), "4");
    md_store_close(s);

    o.pg_partition_span = MD_PG_SPAN_DAY;
    s = pg_open_opts(purl, &o);
    b.ts = 946684800 + 5; /* 2000-01-01 */
    put1(s, "W", MD_IV_1M, &b, 1);
    cr_assert_not_null(strstr(partitions(), "bars_p20000101"), "%s", partitions());
    cr_assert_str_eq(admin(pdb, "SELECT upper(pg_get_expr(relpartbound, oid)) LIKE '%2000-01-02%'"
                                " FROM pg_class WHERE relname = 'bars_p20000101'"),
                     "t");
    md_store_close(s);
}

Test(store_pg_only, upsert_goes_through_the_copy_staging_table)
{
    md_store_options o;
    md_store_options_default(&o);
    o.pg_timescaledb = 0;
    o.pg_direct_copy = 0; /* every batch through md_stage + INSERT ... ON CONFLICT */
    md_store *s = pg_open_opts(purl, &o);
    md_bar a[3];
    for (int i = 0; i < 3; i++) {
        md_bar_init(&a[i]);
        a[i].ts = 1709251200 + i * 86400;
        a[i].open = a[i].high = a[i].low = a[i].close = 10 + i;
        a[i].volume = 100;
    }
    put1(s, "STG", MD_IV_1D, a, 3);
    cr_assert_str_eq(admin(pdb, "SELECT string_agg(rev::text, ',' ORDER BY ts) FROM bars"),
                     "0,0,0");
    /* the same rows again: identical rows are not rewritten; one change, one new row */
    md_bar b[4] = {a[0], a[1], a[2], a[2]};
    b[1].close = 99;
    b[3].ts += 86400;
    put1(s, "STG", MD_IV_1D, b, 4);
    cr_assert_str_eq(admin(pdb, "SELECT string_agg(rev::text, ',' ORDER BY ts) FROM bars"),
                     "0,1,0,0");
    cr_assert_str_eq(admin(pdb, "SELECT n FROM series"), "4");
    cr_assert_str_eq(admin(pdb, "SELECT to_regclass('public.md_stage') IS NULL"), "t",
                     "the staging table is temporary, one per session");
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(s, "STG", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL), 4);
    cr_assert_eq(v.v[1].close, 99);
    md_bar_vec_deinit(&v);
    md_store_close(s);

    /* with the direct path on, a batch overlapping stored rows still upserts */
    o.pg_direct_copy = 1;
    s = pg_open_opts(purl, &o);
    b[1].close = 98;
    b[3].ts += 86400; /* a new row after the stored ones, in an overlapping batch */
    put1(s, "STG", MD_IV_1D, b, 4);
    cr_assert_str_eq(admin(pdb, "SELECT string_agg(rev::text, ',' ORDER BY ts) FROM bars"),
                     "0,2,0,0,0");
    cr_assert_str_eq(admin(pdb, "SELECT n FROM series"), "5");
    /* a batch after the last row goes straight in */
    md_bar c = b[3];
    c.ts += 10 * 86400;
    put1(s, "STG", MD_IV_1D, &c, 1);
    cr_assert_str_eq(admin(pdb, "SELECT n FROM series"), "6");
    md_store_close(s);
}

Test(store_pg_only, a_direct_copy_meeting_unknown_rows_falls_back_to_the_upsert)
{
    md_store *s = pg_open_opts(purl, NULL);
    md_bar a[3];
    for (int i = 0; i < 3; i++) {
        md_bar_init(&a[i]);
        a[i].ts = 1709251200 + i * 86400;
        a[i].open = a[i].high = a[i].low = a[i].close = 10 + i;
    }
    put1(s, "GHOST", MD_IV_1D, a, 1); /* the symbol and its series row exist, for one day */
    /* a row written behind mdagent's back, after the series' last bar: the series table
     * does not know it, so the batch looks appendable and is COPYed straight into bars */
    admin(pdb, "INSERT INTO bars(symbol_id, iv, ts, open, high, low, close, volume, source)"
               " SELECT id, 6, '2024-03-02', 1, 1, 1, 1, 1, 0 FROM symbols WHERE symbol = 'GHOST'");
    put1(s, "GHOST", MD_IV_1D, a + 1, 2);
    cr_assert_str_eq(admin(pdb, "SELECT count(*) FROM bars"), "3");
    cr_assert_str_eq(
        admin(pdb, "SELECT string_agg(rev || ':' || close, ',' ORDER BY ts) FROM bars"),
        "0:10,1:11,0:12", "the unknown row was upserted, the others inserted");
    cr_assert_str_eq(admin(pdb, "SELECT n FROM series"), "2", "the unknown row was not mdagent's");
    md_store_close(s);
}

typedef struct pool_arg {
    md_store *s;
    int k;
} pool_arg;

static void *pool_worker(void *arg)
{
    pool_arg *a = arg;
    for (int r = 0; r < 20; r++) {
        md_bar b[25];
        for (int i = 0; i < 25; i++) {
            md_bar_init(&b[i]);
            b[i].ts = 1700000000 + (int64_t)(r * 25 + i) * 300;
            b[i].open = b[i].high = b[i].low = b[i].close = a->k;
            b[i].volume = 1;
        }
        md_series se = {a->k % 2 ? "POOLA" : "POOLB", MD_IV_5M, b, 25};
        md_error err;
        if (md_store_put_bars(a->s, &se, 1, &err) != 25) return strdup(err.msg);
        md_bar_vec v;
        md_bar_vec_init(&v);
        int n = md_store_get_bars_agg(a->s, se.symbol, MD_IV_1H, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL,
                                      &err);
        md_bar_vec_deinit(&v);
        if (n <= 0) return strdup(n < 0 ? err.msg : "no aggregate");
        if (md_store_ping(a->s, &err) != 0) return strdup(err.msg);
    }
    return NULL;
}

Test(store_pg_only, the_pool_serves_many_threads_with_its_own_size)
{
    md_store_options o;
    md_store_options_default(&o);
    o.pool_size = 3;
    md_store *s = pg_open_opts(purl, &o);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"
             " AND application_name = 'mdagent'",
             pdb);
    cr_assert_str_eq(admin(NULL, sql), "3");
    enum { NT = 12 };
    pthread_t th[NT];
    pool_arg args[NT];
    for (int k = 0; k < NT; k++) {
        args[k] = (pool_arg){s, k};
        pthread_create(&th[k], NULL, pool_worker, &args[k]);
    }
    for (int k = 0; k < NT; k++) {
        void *res;
        pthread_join(th[k], &res);
        cr_assert_null(res, "thread %d: %s", k, (char *)res);
    }
    cr_assert_str_eq(admin(NULL, sql), "3", "never more sessions than pool_size");
    cr_assert_eq(md_store_count_bars(s, "POOLA", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, NULL), 500);
    cr_assert_str_eq(admin(pdb, "SELECT string_agg(n::text, ',') FROM series"), "500,500");
    md_store_close(s);
}

Test(store_pg_only, killed_sessions_are_reset_and_the_call_retried)
{
    md_store_options o;
    md_store_options_default(&o);
    o.pool_size = 2;
    md_store *s = pg_open_opts(purl, &o);
    md_bar b;
    md_bar_init(&b);
    b.ts = 1709251200, b.open = b.high = b.low = b.close = 1;
    put1(s, "RC", MD_IV_1D, &b, 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE datname = '%s' AND application_name = 'mdagent'",
             pdb);
    cr_assert_str_eq(admin(NULL, sql), "2");
    md_error err;
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(s, "RC", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, &err), 1, "%s",
                 err.msg);
    md_bar_vec_deinit(&v);
    admin(NULL, sql);
    b.ts += 86400;
    cr_assert_eq(md_store_put_bars(s, &(md_series){"RC", MD_IV_1D, &b, 1}, 1, &err), 1, "%s",
                 err.msg);
    admin(NULL, sql);
    md_quote q;
    md_quote_init(&q);
    strcpy(q.symbol, "RC");
    q.ts = 5, q.price = 2;
    cr_assert_eq(md_store_put_quote(s, &q, &err), 1, "%s", err.msg);
    cr_assert_eq(md_store_ping(s, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_count_bars(s, "RC", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, &err), 2);
    md_store_close(s);
}

static int free_port(void)
{
    /* a port nothing listens on: bind, read it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    return s;
}

Test(store_pg_only, passwords_never_reach_errors_or_logs)
{
    FILE *log = tmpfile();
    md_log_set_file(log);
    md_log_set_level(MD_LOG_DEBUG);
    const char *secret = "Sup3rSecretPw";
    char u[600];
    /* unreachable server: MD_EUNAVAIL, the message names the redacted URL */
    snprintf(u, sizeof u, "postgresql://mdagent:%s@127.0.0.1:%d/nodb", secret, free_port());
    md_store *s = NULL;
    md_error err;
    int rc = md_store_open(u, NULL, &s, &err);
    cr_assert_eq(rc, MD_EUNAVAIL, "%d %s", rc, err.msg);
    cr_assert_null(s);
    cr_assert_null(strstr(err.msg, secret), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "***"), "%s", err.msg);

    /* a server that accepts it (trust auth ignores it): redacted URL, errors and logs clean */
    url_for(pdb, secret, u, sizeof u);
    s = pg_open_opts(u, NULL);
    cr_assert_null(strstr(md_store_url_redacted(s), secret));
    cr_assert_not_null(strstr(md_store_url_redacted(s), "***"));
    admin(pdb, "DROP TABLE quotes"); /* force a server error on the next quote read */
    md_quote q;
    rc = md_store_get_quote(s, "X", &q, &err);
    cr_assert_eq(rc, MD_ESTORE, "%d %s", rc, err.msg);
    cr_assert_null(strstr(err.msg, secret), "%s", err.msg);
    md_store_close(s);

    /* the password from PGPASSWORD: used by libpq, never logged */
    setenv("PGPASSWORD", "EnvSecretPw42", 1);
    url_for("nodb_here", NULL, u, sizeof u);
    rc = md_store_open(u, NULL, &s, &err);
    cr_assert_eq(rc, MD_EUNAVAIL, "%d %s", rc, err.msg);
    cr_assert_null(strstr(err.msg, "EnvSecretPw42"), "%s", err.msg);
    MD_INFO("test", "a line that carries EnvSecretPw42 and %s", secret);
    unsetenv("PGPASSWORD");

    md_log_set_file(NULL);
    char *text = slurp(log);
    fclose(log);
    cr_assert(strlen(text) > 0, "the debug log saw the store");
    cr_assert_null(strstr(text, secret), "log:\n%s", text);
    cr_assert_null(strstr(text, "EnvSecretPw42"), "log:\n%s", text);
    free(text);
}

Test(store_pg_only, schema_is_versioned_and_checked)
{
    md_store_options o;
    md_store_options_default(&o);
    o.read_only = 1;
    md_store *s = NULL;
    md_error err;
    cr_assert_lt(md_store_open(purl, &o, &s, &err), 0, "read-only open of an empty database");
    cr_assert_not_null(strstr(err.msg, "schema"), "%s", err.msg);

    o.read_only = 0;
    o.pg_timescaledb = 1; /* required, and not installed on this server */
    cr_assert_eq(md_store_open(purl, &o, &s, &err), MD_ECONFIG, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "timescaledb"), "%s", err.msg);

    o.pg_timescaledb = -1;
    s = pg_open_opts(purl, &o);
    md_store_close(s);
    char want[16];
    snprintf(want, sizeof want, "%d", md_pg_schema_version());
    cr_assert_str_eq(admin(pdb, "SELECT version FROM schema_version"), want);
    cr_assert_str_eq(admin(pdb, "SELECT value FROM meta WHERE key = 'layout'"), "partitioned");
    cr_assert_str_eq(admin(pdb, "SELECT count(*) FROM schema_version"), "1");
    o.read_only = 1;
    s = pg_open_opts(purl, &o); /* now it opens read-only */
    md_bar b;
    md_bar_init(&b);
    cr_assert_lt(md_store_put_bars(s, &(md_series){"RO", MD_IV_1D, &b, 1}, 1, &err), 0);
    md_store_close(s);

    admin(pdb, "UPDATE schema_version SET version = 99");
    o.read_only = 0;
    cr_assert_eq(md_store_open(purl, &o, &s, &err), MD_ESTORE);
    cr_assert_not_null(strstr(err.msg, "newer"), "%s", err.msg);

    cr_assert_eq(md_store_open("postgresql://127.0.0.1:1:2:3/x?bogus=1", NULL, &s, &err),
                 MD_ECONFIG);
}

static void *open_close(void *arg)
{
    md_store *s = NULL;
    md_error err;
    if (md_store_open((const char *)arg, NULL, &s, &err) != 0) return strdup(err.msg);
    md_store_close(s);
    return NULL;
}

Test(store_pg_only, agents_starting_together_migrate_once)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, open_close, purl);
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_null(res, "%s", (char *)res);
    }
    char want[16];
    snprintf(want, sizeof want, "1:%d", md_pg_schema_version());
    cr_assert_str_eq(admin(pdb, "SELECT count(*) || ':' || max(version) FROM schema_version"),
                     want);
}

Test(store_pg_only, retention_drops_whole_old_partitions)
{
    md_store_options o;
    md_store_options_default(&o);
    md_store *s = pg_open_opts(purl, &o);
    md_bar b;
    md_bar_init(&b);
    b.open = b.high = b.low = b.close = 1;
    b.ts = 978307200; /* 2001-01-01 */
    put1(s, "OLDNEW", MD_IV_1D, &b, 1);
    b.ts = md_interval_floor(MD_IV_1H, md_now()) - 3600;
    put1(s, "OLDNEW", MD_IV_1H, &b, 1);
    md_store_close(s);
    cr_assert_not_null(strstr(partitions(), "bars_p20010101"));

    o.pg_retention_days = 30;
    s = pg_open_opts(purl, &o);
    cr_assert_null(strstr(partitions(), "bars_p20010101"), "%s", partitions());
    md_symbol_info *info;
    cr_assert_eq(md_store_list_symbols(s, &info, NULL), 1, "the listing follows dropped rows");
    cr_assert_eq(info[0].iv, MD_IV_1H);
    free(info);
    /* old data can still be written; the next daily pass drops it */
    b.ts = 978307200;
    put1(s, "OLDNEW", MD_IV_1D, &b, 1);
    cr_assert_eq(md_store_count_bars(s, "OLDNEW", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 1);
    md_store_close(s);
}
