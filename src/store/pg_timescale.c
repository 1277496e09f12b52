/* pg_timescale.c - what the PostgreSQL store does with TimescaleDB: finding out whether it can
 * be used, applying the configuration to it, reading its continuous aggregates, refreshing
 * them, and reporting its background jobs.
 *
 * Installed is not usable: without shared_preload_libraries = 'timescaledb' the server ends
 * a session with FATAL at CREATE EXTENSION, and - once the extension exists in a database - at
 * the first statement that touches it (an event trigger fires on every CREATE TABLE). So the
 * first look is taken on a throwaway session (md_pg__probe) and the real ones only see the
 * outcome.
 *
 * Every TimescaleDB function is called through the schema the extension lives in (st->tsx,
 * "@ts@." in the SQL below), so a URL with ?options=-csearch_path%3Dmd works when the
 * extension is in public.
 *
 * Settings (md_pg__timescale_setup, only for stores opened with manage - `serve`, `load`,
 * `migrate` - and postgresql.timescaledb not off): each is read back and changed only where it
 * differs from the configuration, under the schema lock, so starting an agent twice changes
 * nothing and recreates no job.
 *   chunk interval     set_chunk_time_interval
 *   compression        the compression policy (compress_after)
 *   retention          a job running md_retention (created by migration 4): it takes the rows
 *                      of the chunks it drops off the series counts and moves first_ts, so
 *                      /symbols stays true without counting rows. A TimescaleDB retention
 *                      policy left by an older mdagent is removed.
 *   rollups            continuous aggregates bars_1h, bars_4h, bars_1d, bars_1w, bars_1mo of
 *                      every finer interval (store/rollup.h), with the expressions of the
 *                      on-the-fly aggregation (sums ordered by ts: bit-for-bit the same), and
 *                      their refresh policies; continuous_aggregates=false drops the ones
 *                      mdagent made (meta 'cagg:NAME').
 *
 * Reading an aggregate (md_pg__cagg_rollups): it is only trusted where it is known to be
 * current. TimescaleDB logs the time ranges written since a refresh: the hypertable's
 * invalidation log (writes below the invalidation threshold, not yet moved) and each
 * aggregate's materialization log (what it still has to recompute, including everything past
 * its last refresh window). Those ranges, widened to whole buckets, and the first bucket of
 * the series (retention may have dropped part of it) are the holes store.c fills from the
 * fine bars. The logs are internal catalog tables (_timescaledb_catalog, readable by every
 * role); times there are microseconds since 1970. */
#include "store/pg_int.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_SCHEMA "SELECT pg_advisory_xact_lock(7236497265101)"

/* sql with every "@ts@" replaced by the extension's schema, into b (NUL-terminated). */
static const char *with_tsx(const md_pg_store *st, const char *sql, md_buf *b)
{
    md_buf_reset(b);
    for (const char *p = sql; *p;) {
        const char *at = strstr(p, "@ts@");
        if (!at) {
            md_buf_puts(b, p);
            break;
        }
        md_buf_append(b, p, (size_t)(at - p));
        md_buf_puts(b, st->tsx);
        p = at + 4;
    }
    md_buf_putc(b, 0);
    return b->data;
}

static int run_ts(md_pg_store *st, md_pg_conn *c, const char *sql, const md_pg_params *p,
                  PGresult **out, const char *what, md_error *err)
{
    md_buf b;
    md_buf_init(&b);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, with_tsx(st, sql, &b), p, &r, what, err);
    md_buf_deinit(&b);
    if (out)
        *out = r;
    else
        PQclear(r);
    return rc;
}

/* -- the probe --------------------------------------------------------------------------------- */

/* The first line of the server's FATAL message on a session it ended, else of msg. */
static void why_from(PGconn *pc, const char *msg, char *dst, size_t n)
{
    const char *m = pc ? PQerrorMessage(pc) : "";
    const char *f = strstr(m, "FATAL:");
    const char *src = f ? f + 6 : msg;
    while (*src == ' ') src++;
    size_t len = strcspn(src, "\n");
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(len < sizeof tmp - 1 ? len : sizeof tmp - 1), src);
    md_log_redact(tmp, dst, n);
}

/* Text of the first value of a query on the probe session; NULL on failure or none. */
static const char *probe_value(PGconn *pc, const char *sql, PGresult **keep)
{
    PGresult *r = PQexec(pc, sql);
    *keep = r;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1 || PQgetisnull(r, 0, 0))
        return NULL;
    return PQgetvalue(r, 0, 0);
}

int md_pg__probe(md_pg_store *st, int create, md_pg_probe *o, md_error *err)
{
    memset(o, 0, sizeof *o);
    md_pg_conn p = {0};
    int rc = md_pg__connect(st, &p, err);
    if (rc) {
        if (p.pc) PQfinish(p.pc);
        return rc;
    }
    PGresult *r = PQexec(p.pc, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions"
                               " WHERE name = 'timescaledb'),"
                               " (SELECT quote_ident(n.nspname) FROM pg_extension e JOIN"
                               " pg_namespace n ON n.oid = e.extnamespace WHERE e.extname ="
                               " 'timescaledb'),"
                               " to_regclass('schema_version') IS NOT NULL AND"
                               " to_regclass('meta') IS NOT NULL");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = md_pg__fail(&p, r, "timescaledb probe", err);
        PQclear(r);
        PQfinish(p.pc);
        return rc;
    }
    o->available = PQgetvalue(r, 0, 0)[0] == 't';
    o->created = !PQgetisnull(r, 0, 1);
    if (o->created) snprintf(o->tsx, sizeof o->tsx, "%s", PQgetvalue(r, 0, 1));
    o->schema = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    if (o->schema) {
        const char *v = probe_value(p.pc, "SELECT value FROM meta WHERE key = 'layout'", &r);
        o->hypertable = v && strcmp(v, "hypertable") == 0;
        o->schema = v != NULL; /* schema_version without a layout: a first migration failed */
        PQclear(r);
    }
    if (o->created) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT %s.time_bucket(INTERVAL '1 day', TIMESTAMPTZ '2000-01-02 12:00+00')",
                 o->tsx);
        r = PQexec(p.pc, sql);
        o->loadable = r && PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!o->loadable) why_from(p.pc, r ? PQresultErrorMessage(r) : "", o->why, sizeof o->why);
        PQclear(r);
    } else if (o->available && create && !o->schema) {
        r = PQexec(p.pc, "CREATE EXTENSION IF NOT EXISTS timescaledb");
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) why_from(p.pc, r ? PQresultErrorMessage(r) : "", o->why, sizeof o->why);
        PQclear(r);
        if (!ok && PQstatus(p.pc) == CONNECTION_OK) {
            /* another agent created it at the same moment (unique violation): look again */
            const char *v = probe_value(p.pc,
                                        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN"
                                        " pg_namespace n ON n.oid = e.extnamespace"
                                        " WHERE e.extname = 'timescaledb'",
                                        &r);
            if (v) snprintf(o->tsx, sizeof o->tsx, "%s", v), ok = 1, o->why[0] = 0;
            PQclear(r);
        } else if (ok) {
            const char *v = probe_value(p.pc,
                                        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN"
                                        " pg_namespace n ON n.oid = e.extnamespace"
                                        " WHERE e.extname = 'timescaledb'",
                                        &r);
            if (v) snprintf(o->tsx, sizeof o->tsx, "%s", v);
            PQclear(r);
        }
        o->created = o->loadable = ok;
    }
    if (o->why[0]) MD_DEBUG("store", "timescaledb probe: %s", o->why);
    PQfinish(p.pc);
    return 0;
}

/* -- schema objects (migration 4) ------------------------------------------------------------- */

/* Retention for the hypertable layout, run by a TimescaleDB job (config {"drop_after": "N
 * days"}). Writers are held off (SHARE ROW EXCLUSIVE on bars) while the rows of the chunks to
 * drop are taken off the series counts, the chunks dropped, and first_ts moved to the oldest
 * remaining bar. SET search_path FROM CURRENT: a job's session has the default search_path,
 * not the one of mdagent's URL. */
static const char *RETENTION_PROC =
    "CREATE OR REPLACE PROCEDURE md_retention(job_id integer, config jsonb) LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $proc$\n"
    "DECLARE\n"
    "  cutoff timestamptz := now() - (config->>'drop_after')::interval;\n"
    "  hi timestamptz;\n"
    "  ch record;\n"
    "BEGIN\n"
    "  LOCK TABLE bars IN SHARE ROW EXCLUSIVE MODE;\n"
    "  FOR ch IN SELECT format('%I.%I', c.chunk_schema, c.chunk_name) AS name, c.range_end\n"
    "      FROM timescaledb_information.chunks c JOIN pg_namespace n\n"
    "        ON n.nspname = c.hypertable_schema\n"
    "      WHERE n.oid = (SELECT relnamespace FROM pg_class WHERE oid = 'bars'::regclass)\n"
    "        AND c.hypertable_name = 'bars' AND c.range_end <= cutoff LOOP\n"
    "    EXECUTE format('UPDATE series r SET n = r.n - c.n FROM (SELECT symbol_id, iv,'\n"
    "      ' count(*) AS n FROM %s GROUP BY 1, 2) c WHERE r.symbol_id = c.symbol_id'\n"
    "      ' AND r.iv = c.iv', ch.name);\n"
    "    hi := greatest(hi, ch.range_end);\n"
    "  END LOOP;\n"
    "  IF hi IS NULL THEN RETURN; END IF;\n"
    "  PERFORM @ts@.drop_chunks('bars', older_than => hi);\n"
    "  UPDATE series r SET n = greatest(r.n, 0), first_ts = coalesce((SELECT b.ts FROM bars b\n"
    "    WHERE b.symbol_id = r.symbol_id AND b.iv = r.iv AND b.ts >= hi ORDER BY b.ts\n"
    "    LIMIT 1), r.first_ts) WHERE r.first_ts < hi;\n"
    "END\n"
    "$proc$";

int md_pg__timescale_schema(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    return run_ts(st, c, RETENTION_PROC, NULL, NULL, "retention procedure", err);
}

/* -- settings ---------------------------------------------------------------------------------- */

typedef struct cagg_def {
    md_interval iv;
    const char *name, *width;
    const char *start_offset, *schedule; /* of its refresh policy */
} cagg_def;

/* A policy's window must hold two buckets; weeks and months are refreshed less often. */
static const cagg_def caggs[] = {
    {MD_IV_1H, "bars_1h", "1 hour", "3 days", "30 minutes"},
    {MD_IV_4H, "bars_4h", "4 hours", "3 days", "30 minutes"},
    {MD_IV_1D, "bars_1d", "1 day", "3 days", "30 minutes"},
    {MD_IV_1W, "bars_1w", "1 week", "3 weeks", "2 hours"},
    {MD_IV_1MO, "bars_1mo", "1 month", "3 months", "6 hours"},
};

/* One past the largest stored interval a cagg of iv aggregates (every finer one divides). */
static int iv_bound(md_interval iv)
{
    int b = 0;
    for (int f = 0; f < (int)iv; f++)
        if (md_interval_divides((md_interval)f, iv)) b = f + 1;
    return b;
}

/* The same expressions as the on-the-fly aggregation (store_pg.c AGG_SQL), so the buckets are
 * equal bit for bit; pv is sum(vwap * volume), divided by volume when read. */
#define CAGG_SQL                                                                                   \
    "CREATE MATERIALIZED VIEW %s WITH (timescaledb.continuous,"                                    \
    " timescaledb.materialized_only = true) AS SELECT symbol_id, iv,"                              \
    " @ts@.time_bucket(INTERVAL '%s', ts) AS bucket, @ts@.first(open, ts) AS open,"                \
    " max(high) AS high, min(low) AS low, @ts@.last(close, ts) AS close,"                          \
    " sum(volume ORDER BY ts) AS volume,"                                                          \
    " CASE WHEN count(vwap) = count(*) THEN sum(vwap * volume ORDER BY ts) END AS pv,"             \
    " CASE WHEN count(trades) = count(*) THEN sum(trades)::int8 END AS trades,"                    \
    " @ts@.last(source, ts) AS source, min(quality) AS quality, max(ts) AS last_ts,"               \
    " count(*) AS n FROM bars WHERE iv < %d GROUP BY symbol_id, iv, bucket WITH NO DATA"

/* 1 when name is one of our aggregates (a continuous aggregate over bars with a pv column);
 * its materialization hypertable id in *mat. */
static int cagg_exists(md_pg_conn *c, const char *name, int32_t *mat, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_text(&p, name);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(
        c,
        "SELECT ca.mat_hypertable_id FROM _timescaledb_catalog.continuous_agg ca"
        " JOIN pg_namespace n ON n.nspname = ca.user_view_schema"
        " WHERE ca.user_view_name = $1::text AND n.oid = (SELECT relnamespace FROM pg_class"
        " WHERE oid = 'bars'::regclass) AND EXISTS (SELECT 1 FROM pg_attribute"
        " WHERE attrelid = to_regclass($1::text) AND attname = 'pv')",
        &p, &r, "continuous aggregate", err);
    if (rc) return rc;
    int found = PQntuples(r) == 1;
    if (found && mat) *mat = md_pg__get_i32(r, 0, 0);
    PQclear(r);
    return found;
}

static int meta_key(md_pg_conn *c, const char *key, const char *val, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_text(&p, key);
    if (val) md_pg__p_text(&p, val);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c,
                            val ? "INSERT INTO meta VALUES($1::text, $2::text) ON CONFLICT (key)"
                                  " DO UPDATE SET value = EXCLUDED.value"
                                : "DELETE FROM meta WHERE key = $1::text",
                            &p, &r, "meta", err);
    PQclear(r);
    return rc;
}

static int has_meta_key(md_pg_conn *c, const char *key, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_text(&p, key);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, "SELECT 1 FROM meta WHERE key = $1::text", &p, &r, "meta", err);
    if (rc) return rc;
    int found = PQntuples(r) == 1;
    PQclear(r);
    return found;
}

/* The aggregates: made (and their policies) when wanted, dropped when not and ours.
 * created[i] is set for those made now (refreshed after the transaction). */
static int setup_caggs(md_pg_store *st, md_pg_conn *c, int created[], md_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < MD_ARRAY_LEN(caggs); i++) {
        const cagg_def *d = &caggs[i];
        char key[64];
        snprintf(key, sizeof key, "cagg:%s", d->name);
        int ours = cagg_exists(c, d->name, NULL, err);
        if (ours < 0) return ours;
        if (!st->opt.pg_continuous_aggs) {
            int made = has_meta_key(c, key, err);
            if (made < 0) return made;
            if (ours && made) {
                char sql[128];
                snprintf(sql, sizeof sql, "DROP MATERIALIZED VIEW %s CASCADE", d->name);
                rc = md_pg__exec(c, sql, "drop continuous aggregate", err);
                if (rc == 0) MD_INFO("store", "continuous aggregate dropped name=%s", d->name);
            }
            if (rc == 0 && made) rc = meta_key(c, key, NULL, err);
            continue;
        }
        if (!ours) {
            md_pg_params p = {0};
            md_pg__p_text(&p, d->name);
            PGresult *r = NULL;
            rc = md_pg__run_sql(c, "SELECT to_regclass($1::text) IS NOT NULL", &p, &r, "schema",
                                err);
            int taken = rc == 0 && PQgetvalue(r, 0, 0)[0] == 1;
            PQclear(r);
            if (rc) return rc;
            if (taken) {
                MD_WARN("store",
                        "a relation named %s exists and is not mdagent's continuous aggregate:"
                        " %s buckets are aggregated from the finer bars",
                        d->name, md_interval_name(d->iv));
                continue;
            }
            char sql[1400];
            snprintf(sql, sizeof sql, CAGG_SQL, d->name, d->width, iv_bound(d->iv));
            rc = run_ts(st, c, sql, NULL, NULL, "create continuous aggregate", err);
            if (rc == 0) {
                snprintf(sql, sizeof sql, "CREATE INDEX ON %s (symbol_id, iv, bucket)", d->name);
                rc = md_pg__exec(c, sql, "continuous aggregate index", err);
            }
            if (rc == 0) rc = meta_key(c, key, "2", err);
            if (rc == 0) created[i] = 1;
        }
        if (rc == 0) {
            char sql[400];
            snprintf(sql, sizeof sql,
                     "SELECT @ts@.add_continuous_aggregate_policy('%s',"
                     " start_offset => INTERVAL '%s', end_offset => INTERVAL '1 hour',"
                     " schedule_interval => INTERVAL '%s', if_not_exists => true)",
                     d->name, d->start_offset, d->schedule);
            rc = run_ts(st, c, sql, NULL, NULL, "continuous aggregate policy", err);
        }
    }
    return rc;
}

/* The bars schema's name, as a text parameter for the information views. */
#define BARS_SCHEMA                                                                                \
    "(SELECT n.nspname FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace WHERE k.oid " \
    "= 'bars'::regclass)"

static int setup_chunks(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_i64(&p, (int64_t)st->opt.pg_chunk_days * 86400);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c,
                            "SELECT extract(epoch FROM d.time_interval)::int8 = $1::int8"
                            " FROM timescaledb_information.dimensions d"
                            " WHERE d.hypertable_schema = " BARS_SCHEMA
                            " AND d.hypertable_name = 'bars' AND d.dimension_number = 1",
                            &p, &r, "chunk interval", err);
    if (rc) return rc;
    int same = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
    PQclear(r);
    if (same) return 0;
    md_pg_params q = {0};
    md_pg__p_interval(&q, 0, st->opt.pg_chunk_days, 0);
    MD_INFO("store", "timescaledb chunk interval set days=%d", st->opt.pg_chunk_days);
    return run_ts(st, c, "SELECT @ts@.set_chunk_time_interval('bars', $1::interval)", &q, NULL,
                  "chunk interval", err);
}

/* The job of proc_name on bars (or of our procedure): its id, and whether its config key
 * equals days (as an interval). 0 when none. */
static int find_job(md_pg_conn *c, const char *where, const char *key, int days, int32_t *id,
                    int *same, md_error *err)
{
    char sql[700];
    snprintf(sql, sizeof sql,
             "SELECT j.job_id, (j.config->>'%s')::interval = $1::interval"
             " FROM timescaledb_information.jobs j WHERE %s ORDER BY j.job_id",
             key, where);
    md_pg_params p = {0};
    md_pg__p_interval(&p, 0, days, 0);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, sql, &p, &r, "timescaledb jobs", err);
    if (rc) return rc;
    int n = PQntuples(r);
    if (n > 0) {
        *id = md_pg__get_i32(r, 0, 0);
        *same = !PQgetisnull(r, 0, 1) && PQgetvalue(r, 0, 1)[0] == 1;
    }
    PQclear(r);
    return n > 0;
}

static int setup_compression(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    int days = st->opt.pg_compress_after_days, same = 0;
    int32_t id = 0;
    int have = find_job(c,
                        "j.proc_name = 'policy_compression' AND j.hypertable_schema = " BARS_SCHEMA
                        " AND j.hypertable_name = 'bars'",
                        "compress_after", days > 0 ? days : 1, &id, &same, err);
    if (have < 0) return have;
    if (have && days > 0 && same) return 0;
    int rc = 0;
    if (have) {
        rc = run_ts(st, c, "SELECT @ts@.remove_compression_policy('bars', if_exists => true)", NULL,
                    NULL, "compression policy", err);
        if (rc == 0 && days == 0) MD_INFO("store", "timescaledb compression policy removed");
    }
    if (rc == 0 && days > 0) {
        md_pg_params p = {0};
        md_pg__p_interval(&p, 0, days, 0);
        rc = run_ts(st, c,
                    "SELECT @ts@.add_compression_policy('bars', compress_after => $1::interval)",
                    &p, NULL, "compression policy", err);
        if (rc == 0)
            MD_INFO("store", "timescaledb compression policy set compress_after_days=%d", days);
    }
    return rc;
}

static int setup_retention(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    int days = st->opt.pg_retention_days, same = 0;
    int32_t id = 0;
    /* a TimescaleDB retention policy (older mdagent) drops chunks behind the series counts */
    int old = find_job(c,
                       "j.proc_name = 'policy_retention' AND j.hypertable_schema = " BARS_SCHEMA
                       " AND j.hypertable_name = 'bars'",
                       "drop_after", 1, &id, &same, err);
    if (old < 0) return old;
    int rc = 0;
    if (old) {
        rc = run_ts(st, c, "SELECT @ts@.remove_retention_policy('bars', if_exists => true)", NULL,
                    NULL, "retention policy", err);
        if (rc) return rc;
        MD_INFO("store", "timescaledb retention policy replaced by mdagent's md_retention job");
    }
    int have = find_job(c, "j.proc_name = 'md_retention' AND j.proc_schema = " BARS_SCHEMA,
                        "drop_after", days > 0 ? days : 1, &id, &same, err);
    if (have < 0) return have;
    md_pg_params p = {0};
    if (have && days > 0 && same) return 0;
    if (have && days == 0) {
        md_pg__p_i32(&p, id);
        rc = run_ts(st, c, "SELECT @ts@.delete_job($1::int4)", &p, NULL, "retention job", err);
        if (rc == 0) MD_INFO("store", "retention job removed");
        return rc;
    }
    if (days == 0) return 0;
    if (have) {
        md_pg__p_i32(&p, id);
        md_pg__p_interval(&p, 0, days, 0);
        rc = run_ts(st, c,
                    "SELECT @ts@.alter_job($1::int4, config => jsonb_build_object('drop_after',"
                    " $2::interval::text))",
                    &p, NULL, "retention job", err);
    } else {
        md_pg__p_interval(&p, 0, days, 0);
        rc = run_ts(st, c,
                    "SELECT @ts@.add_job(format('%I.md_retention', " BARS_SCHEMA ")::regproc,"
                    " INTERVAL '1 day', config => jsonb_build_object('drop_after',"
                    " $1::interval::text))",
                    &p, NULL, "retention job", err);
    }
    if (rc == 0) MD_INFO("store", "retention job set retention_days=%d", days);
    return rc;
}

/* The ids the reads need: bars' hypertable and each of our aggregates' materialization. */
static int read_ids(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c,
                            "SELECT h.id FROM _timescaledb_catalog.hypertable h"
                            " JOIN pg_namespace n ON n.nspname = h.schema_name"
                            " WHERE h.table_name = 'bars' AND n.oid = (SELECT relnamespace"
                            " FROM pg_class WHERE oid = 'bars'::regclass)",
                            NULL, &r, "hypertable id", err);
    if (rc) return rc;
    st->raw_htid = PQntuples(r) == 1 ? md_pg__get_i32(r, 0, 0) : 0;
    PQclear(r);
    memset(st->mat_htid, 0, sizeof st->mat_htid);
    for (size_t i = 0; rc == 0 && i < MD_ARRAY_LEN(caggs); i++) {
        int32_t mat = 0;
        int found = cagg_exists(c, caggs[i].name, &mat, err);
        if (found < 0) return found;
        if (found) st->mat_htid[caggs[i].iv] = mat;
    }
    return rc;
}

/* Refreshes run as one pass (buckets_per_batch 0): TimescaleDB's default of 10 buckets a batch
 * makes one query per 10 hours of a 1h aggregate (19 s for 36 years of daily bars), and a
 * batched refresh of 2.28.3 was seen to leave ranges of its window in the invalidation log
 * (they then read from the fine bars until the next refresh). */
#define REFRESH_OPTIONS "options => '{\"buckets_per_batch\": 0}'"

int md_pg__timescale_setup(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    if (!st->timescale) return 0;
    int created[MD_ARRAY_LEN(caggs)] = {0};
    if (st->ts_managed) {
        int rc = md_pg__exec(c, "BEGIN", "timescaledb settings", err);
        if (rc == 0) rc = md_pg__exec(c, LOCK_SCHEMA, "timescaledb settings", err);
        if (rc == 0) rc = setup_chunks(st, c, err);
        if (rc == 0) rc = setup_compression(st, c, err);
        if (rc == 0) rc = setup_retention(st, c, err);
        if (rc == 0) rc = setup_caggs(st, c, created, err);
        if (rc == 0) rc = md_pg__exec(c, "COMMIT", "timescaledb settings", err);
        if (rc) {
            md_pg__rollback(c);
            return rc;
        }
    }
    int rc = read_ids(st, c, err);
    /* a new aggregate over stored bars: materialise them now (one pass), or reads would
     * aggregate from the fine bars until the next load */
    for (size_t i = 0; rc == 0 && i < MD_ARRAY_LEN(caggs); i++) {
        if (!created[i]) continue;
        int64_t t0 = md_mono_ms();
        char sql[200];
        snprintf(sql, sizeof sql,
                 "CALL @ts@.refresh_continuous_aggregate('%s', NULL, NULL, " REFRESH_OPTIONS ")",
                 caggs[i].name);
        rc = run_ts(st, c, sql, NULL, NULL, "refresh continuous aggregate", err);
        if (rc == 0)
            MD_INFO("store", "continuous aggregate created name=%s refreshed_ms=%lld",
                    caggs[i].name, (long long)(md_mono_ms() - t0));
    }
    return rc;
}

/* -- reading the aggregates -------------------------------------------------------------------- */

static const cagg_def *cagg_of(md_interval iv)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(caggs); i++)
        if (caggs[i].iv == iv) return &caggs[i];
    return NULL;
}

/* Adds [lo, hi) to the sorted, disjoint holes (merging); past MD_STORE_MAX_HOLES the last two
 * are merged (a hole only costs a read of the fine bars). */
static void add_hole(md_range *h, size_t *n, int64_t lo, int64_t hi)
{
    if (lo >= hi) return;
    size_t i = 0;
    while (i < *n && h[i].hi < lo) i++;
    if (i < *n && h[i].lo <= hi) { /* overlaps or touches: merge with every hole it reaches */
        if (lo < h[i].lo) h[i].lo = lo;
        if (hi > h[i].hi) h[i].hi = hi;
        size_t j = i + 1;
        while (j < *n && h[j].lo <= h[i].hi) {
            if (h[j].hi > h[i].hi) h[i].hi = h[j].hi;
            j++;
        }
        memmove(h + i + 1, h + j, (*n - j) * sizeof *h);
        *n -= j - i - 1;
        return;
    }
    if (*n == MD_STORE_MAX_HOLES) {
        /* no room: join it to its neighbour */
        size_t k = i < *n ? i : *n - 1;
        if (lo < h[k].lo) h[k].lo = lo;
        if (hi > h[k].hi) h[k].hi = hi;
        return;
    }
    memmove(h + i + 1, h + i, (*n - i) * sizeof *h);
    h[i].lo = lo;
    h[i].hi = hi;
    (*n)++;
}

/* Microseconds since 1970 (the invalidation logs) to seconds, saturating. */
static int64_t us_to_s(int64_t us, int up)
{
    if (us <= MD_TS_MIN * 1000000LL) return MD_TS_MIN;
    if (us >= (MD_TS_MAX + 1) * 1000000LL) return MD_TS_MAX + 1;
    int64_t s = us / 1000000, r = us % 1000000;
    if (r < 0) s--, r += 1000000;
    return (up && r) ? s + 1 : s;
}

int md_pg__cagg_rollups(md_pg_store *st, md_pg_conn *c, const char *symbol, md_interval iv,
                        md_interval from_iv, int64_t lo, int64_t hi, size_t limit, md_bar_vec *out,
                        md_range *holes, size_t *n_holes, md_error *err)
{
    *n_holes = 0;
    const cagg_def *d = cagg_of(iv);
    int32_t mat = st->mat_htid[iv];
    if (!d || !mat) { /* no aggregate: the fine bars answer all of it */
        holes[(*n_holes)++] = (md_range){lo, hi};
        return 0;
    }
    /* what the aggregate does not have right yet, and the series' first bucket */
    md_pg_params p = {0};
    md_pg__p_i32(&p, mat);
    md_pg__p_i32(&p, st->raw_htid);
    md_pg__p_i64(&p, lo * 1000000LL);
    md_pg__p_i64(&p, hi * 1000000LL);
    md_pg__p_text(&p, symbol);
    md_pg__p_i16(&p, (int)from_iv);
    PGresult *r = NULL;
    int rc = md_pg__run(c, "cagg_stale", &p, &r, "continuous aggregate state", err);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t a = md_pg__get_i64(r, i, 0), b = md_pg__get_i64(r, i, 1);
        int64_t ka = md_rollup__bucket(iv, us_to_s(a, 0) < lo ? lo : us_to_s(a, 0));
        int64_t last = us_to_s(b, 0) >= hi ? hi - 1 : us_to_s(b, 0);
        if (last < ka) continue;
        add_hole(holes, n_holes, ka < lo ? lo : ka,
                 md_rollup__next(iv, md_rollup__bucket(iv, last)));
    }
    PQclear(r);
    for (size_t i = 0; i < *n_holes; i++) /* clip to [lo, hi) */
        if (holes[i].hi > hi) holes[i].hi = hi;
    /* the rows outside the holes */
    md_pg_buf hlo = {0}, hhi = {0};
    int64_t *v = md_malloc((*n_holes + 1) * sizeof *v);
    for (size_t i = 0; i < *n_holes; i++) v[i] = holes[i].lo;
    md_pg__array(&hlo, MD_PG_TSTZOID, 8, v, *n_holes, 1);
    for (size_t i = 0; i < *n_holes; i++) v[i] = holes[i].hi;
    md_pg__array(&hhi, MD_PG_TSTZOID, 8, v, *n_holes, 1);
    md_free(v);
    md_pg_params q = {0};
    md_pg__p_text(&q, symbol);
    md_pg__p_i16(&q, (int)from_iv);
    md_pg__p_ts(&q, lo);
    md_pg__p_ts(&q, hi);
    md_pg__p_bytes(&q, hlo.d, (int)hlo.n);
    md_pg__p_bytes(&q, hhi.d, (int)hhi.n);
    if (limit)
        md_pg__p_i64(&q, (int64_t)limit);
    else
        md_pg__p_null(&q);
    char stmt[32];
    snprintf(stmt, sizeof stmt, "cagg_%s", md_interval_name(iv));
    rc = md_pg__run(c, stmt, &q, &r, "read continuous aggregate", err);
    md_pg__buf_free(&hlo);
    md_pg__buf_free(&hhi);
    if (rc) return rc;
    int n = PQntuples(r);
    md_bar_vec_reserve(out, out->n + (size_t)n);
    for (int i = n - 1; i >= 0; i--) { /* newest first from the query */
        md_bar b;
        md_pg__get_bar(r, i, 0, &b);
        double pv = b.vwap;
        b.vwap = (pv != pv || b.volume <= 0) ? NAN : pv / b.volume;
        md_bar_vec_push(out, &b);
    }
    PQclear(r);
    return n;
}

/* The statements md_pg__cagg_rollups runs (prepared per session by store_pg.c). */
int md_pg__cagg_prepare(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    int any = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(caggs); i++) any |= st->mat_htid[caggs[i].iv] != 0;
    if (!any) return 0;
    static const Oid stale_types[] = {MD_PG_INT4OID, MD_PG_INT4OID, MD_PG_INT8OID,
                                      MD_PG_INT8OID, MD_PG_TEXTOID, MD_PG_INT2OID};
    PGresult *r = PQprepare(
        c->pc, "cagg_stale",
        "SELECT lowest_modified_value, greatest_modified_value FROM"
        " _timescaledb_catalog.continuous_aggs_materialization_invalidation_log"
        " WHERE materialization_id = $1 AND lowest_modified_value < $4"
        " AND greatest_modified_value >= $3"
        " UNION ALL SELECT lowest_modified_value, greatest_modified_value FROM"
        " _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log"
        " WHERE hypertable_id = $2 AND lowest_modified_value < $4"
        " AND greatest_modified_value >= $3"
        " UNION ALL SELECT x, x FROM (SELECT (extract(epoch FROM r.first_ts) * 1000000)::int8 AS x"
        " FROM series r JOIN symbols s ON s.id = r.symbol_id WHERE s.symbol = $5 AND r.iv = $6) f",
        6, stale_types);
    int rc = (r && PQresultStatus(r) == PGRES_COMMAND_OK) ? 0 : md_pg__fail(c, r, "prepare", err);
    PQclear(r);
    static const Oid types[] = {MD_PG_TEXTOID, MD_PG_INT2OID,      MD_PG_TSTZOID,
                                MD_PG_TSTZOID, MD_PG_TSTZARRAYOID, MD_PG_TSTZARRAYOID,
                                MD_PG_INT8OID};
    for (size_t i = 0; rc == 0 && i < MD_ARRAY_LEN(caggs); i++) {
        if (!st->mat_htid[caggs[i].iv]) continue;
        char name[32], sql[900];
        snprintf(name, sizeof name, "cagg_%s", md_interval_name(caggs[i].iv));
        snprintf(sql, sizeof sql,
                 "SELECT bucket, open, high, low, close, volume, pv, trades, source, quality"
                 " FROM %s WHERE symbol_id = (SELECT id FROM symbols WHERE symbol = $1)"
                 " AND iv = $2 AND bucket >= $3 AND bucket < $4 AND NOT EXISTS (SELECT 1"
                 " FROM unnest($5::timestamptz[], $6::timestamptz[]) h(lo, hi)"
                 " WHERE bucket >= h.lo AND bucket < h.hi) ORDER BY bucket DESC LIMIT $7",
                 caggs[i].name);
        r = PQprepare(c->pc, name, sql, 7, types);
        rc = (r && PQresultStatus(r) == PGRES_COMMAND_OK) ? 0 : md_pg__fail(c, r, "prepare", err);
        PQclear(r);
    }
    return rc;
}

/* -- refreshing what was written --------------------------------------------------------------- */

void md_pg__note_written(md_pg_store *st, md_interval iv, int64_t lo, int64_t hi)
{
    if (!st->timescale) return;
    pthread_mutex_lock(&st->written_lock);
    for (size_t i = 0; i < MD_ARRAY_LEN(caggs); i++) {
        int t = caggs[i].iv;
        if ((int)iv >= iv_bound(caggs[i].iv)) continue; /* not aggregated by this one */
        if (st->written_lo[t] > st->written_hi[t]) {
            st->written_lo[t] = lo;
            st->written_hi[t] = hi;
        } else {
            if (lo < st->written_lo[t]) st->written_lo[t] = lo;
            if (hi > st->written_hi[t]) st->written_hi[t] = hi;
        }
    }
    pthread_mutex_unlock(&st->written_lock);
}

int md_pg__refresh_written(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    if (!st->ts_managed) return 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < MD_ARRAY_LEN(caggs); i++) {
        md_interval t = caggs[i].iv;
        pthread_mutex_lock(&st->written_lock);
        int64_t lo = st->written_lo[t], hi = st->written_hi[t];
        st->written_lo[t] = 1, st->written_hi[t] = 0;
        pthread_mutex_unlock(&st->written_lock);
        if (lo > hi || !st->mat_htid[t]) continue;
        int64_t t0 = md_mono_ms();
        int64_t a = md_rollup__bucket(t, lo);
        int64_t b = md_rollup__next(t, md_rollup__bucket(t, hi));
        md_pg_params p = {0};
        md_pg__p_ts(&p, a);
        md_pg__p_ts(&p, b);
        char sql[300];
        snprintf(sql, sizeof sql,
                 "CALL @ts@.refresh_continuous_aggregate('%s', $1::timestamptz, "
                 "$2::timestamptz, " REFRESH_OPTIONS ")",
                 caggs[i].name);
        rc = run_ts(st, c, sql, &p, NULL, "refresh continuous aggregate", err);
        if (rc == 0)
            MD_INFO("store", "continuous aggregate refreshed name=%s ms=%lld", caggs[i].name,
                    (long long)(md_mono_ms() - t0));
    }
    return rc;
}

/* -- jobs -------------------------------------------------------------------------------------- */

int md_pg__jobs(md_pg_store *st, md_pg_conn *c, md_store_job **out, md_error *err)
{
    if (!st->timescale) {
        *out = md_calloc(1, sizeof **out);
        return 0;
    }
    PGresult *r = NULL;
    int rc = md_pg__run_sql(
        c,
        "SELECT j.job_id, j.proc_name::text, coalesce(j.hypertable_name::text, ''),"
        " CASE WHEN s.last_run_started_at > '-infinity' AND s.last_run_started_at < 'infinity'"
        " THEN extract(epoch FROM s.last_run_started_at)::int8 END,"
        " CASE WHEN s.last_successful_finish > '-infinity' AND s.last_successful_finish <"
        " 'infinity' THEN extract(epoch FROM s.last_successful_finish)::int8 END,"
        " coalesce(s.last_run_status = 'Failed', false), coalesce(s.total_runs, 0)::int8,"
        " coalesce(s.total_failures, 0)::int8,"
        " coalesce((SELECT e.err_message FROM timescaledb_information.job_errors e"
        " WHERE e.job_id = j.job_id ORDER BY e.start_time DESC LIMIT 1), '')"
        " FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.job_stats s"
        " ON s.job_id = j.job_id WHERE (j.hypertable_schema = " BARS_SCHEMA
        " AND (j.hypertable_name = 'bars' OR j.hypertable_name::text LIKE 'bars\\_%'))"
        " OR (j.proc_name = 'md_retention' AND j.proc_schema = " BARS_SCHEMA ")"
        " ORDER BY j.job_id",
        NULL, &r, "timescaledb jobs", err);
    if (rc) return rc;
    int n = PQntuples(r);
    md_store_job *v = md_calloc(n ? (size_t)n : 1, sizeof *v);
    for (int i = 0; i < n; i++) {
        v[i].id = md_pg__get_i32(r, i, 0);
        const char *proc = PQgetvalue(r, i, 1), *on = PQgetvalue(r, i, 2);
        if (strcmp(proc, "policy_compression") == 0)
            snprintf(v[i].name, sizeof v[i].name, "compression");
        else if (strcmp(proc, "md_retention") == 0)
            snprintf(v[i].name, sizeof v[i].name, "retention");
        else if (strcmp(proc, "policy_retention") == 0)
            snprintf(v[i].name, sizeof v[i].name, "retention_policy");
        else if (strcmp(proc, "policy_refresh_continuous_aggregate") == 0)
            snprintf(v[i].name, sizeof v[i].name, "refresh_%.50s", on);
        else
            snprintf(v[i].name, sizeof v[i].name, "%.30s_%.30s", proc, on);
        v[i].last_start = PQgetisnull(r, i, 3) ? 0 : md_pg__get_i64(r, i, 3);
        v[i].last_success = PQgetisnull(r, i, 4) ? 0 : md_pg__get_i64(r, i, 4);
        v[i].last_failed = PQgetvalue(r, i, 5)[0] == 1;
        v[i].runs = md_pg__get_i64(r, i, 6);
        v[i].failures = md_pg__get_i64(r, i, 7);
        char msg[512];
        snprintf(msg, sizeof msg, "%.*s", PQgetlength(r, i, 8), PQgetvalue(r, i, 8));
        md_log_redact(msg, v[i].last_error, sizeof v[i].last_error);
    }
    PQclear(r);
    *out = v;
    return n;
}
