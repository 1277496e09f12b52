/* store_pg.c - the server store: PostgreSQL 15 through libpq (TimescaleDB when installed).
 *
 * Chosen by a postgresql:// (or postgres://) URL. The schema and its two layouts are in
 * pg_schema.c, writes in pg_write.c; this file holds the session pool, reconnects, error
 * translation and the reads.
 *
 * Sessions: a pool of pool_size connections, each used by one thread at a time, each with
 * the hot reads prepared (binary parameters and results). A call takes a session, runs, and
 * gives it back. When the server went away (restart, failover, idle kill) the call fails
 * with the session marked lost; the session is then reset (a new connection, statements
 * prepared again) and the call run once more. While the server is down the reset fails and
 * the call returns MD_EUNAVAIL (HTTP 503 store_unavailable).
 *
 *   idle --get--> in use --ok--> idle
 *                   |  lost (08xxx, 57P0x, socket closed)
 *                   v
 *                 reset --ok--> run again (once) --> idle
 *                   | refused
 *                   v
 *                 MD_EUNAVAIL (session stays lost; the next call tries again)
 *
 * Secrets: the password comes only from the URL or libpq's environment (PGPASSWORD,
 * PGPASSFILE). It is registered with md_log_add_secret, and every libpq message is redacted
 * before it reaches an md_error or a log line. */
#include "store/pg_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -- errors ----------------------------------------------------------------------------------- */

const char *md_pg__state(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* One line of libpq text, redacted, without the "ERROR:  " prefix or trailing newline. */
static void clean_msg(const char *src, char *dst, size_t n)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", src ? src : "");
    char *nl = strchr(tmp, '\n');
    if (nl) *nl = 0;
    const char *p = tmp;
    if (strncmp(p, "ERROR:  ", 8) == 0) p += 8;
    if (strncmp(p, "FATAL:  ", 8) == 0) p += 8;
    md_log_redact(p, dst, n);
}

int md_pg__fail(md_pg_conn *c, const PGresult *res, const char *what, md_error *err)
{
    const char *state = md_pg__state(res);
    snprintf(c->state, sizeof c->state, "%s", state);
    const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    /* a session the server ended with FATAL: libpq's result says only "server closed the
     * connection unexpectedly"; the server's reason is in the connection's message */
    const char *fatal = !prim && c->pc ? strstr(PQerrorMessage(c->pc), "FATAL:  ") : NULL;
    char msg[300];
    clean_msg(prim                                  ? prim
              : fatal                               ? fatal
              : (res && *PQresultErrorMessage(res)) ? PQresultErrorMessage(res)
                                                    : PQerrorMessage(c->pc),
              msg, sizeof msg);
    int lost = !c->pc || PQstatus(c->pc) != CONNECTION_OK || strncmp(state, "08", 2) == 0 ||
               strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
               strcmp(state, "57P03") == 0;
    int code;
    if (lost) {
        c->lost = 1;
        code = MD_EUNAVAIL;
    } else if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0) {
        code = MD_EAGAIN;
    } else if (strcmp(state, "55P03") == 0 || strcmp(state, "53300") == 0 ||
               strcmp(state, "57014") == 0 || strncmp(state, "53", 2) == 0) {
        code = MD_EUNAVAIL; /* lock timeout, too many connections, canceled, out of resources */
    } else {
        code = MD_ESTORE;
    }
    if (*state) return md_error_set(err, code, "postgresql %s: %s (%s)", what, msg, state);
    return md_error_set(err, code, "postgresql %s: %s", what, msg);
}

static int check(md_pg_conn *c, PGresult *r, ExecStatusType want, const char *what, md_error *err)
{
    if (r && PQresultStatus(r) == want) return 0;
    return md_pg__fail(c, r, what, err);
}

/* The end of every statement run: a failed result (or none) is translated and cleared; a
 * successful one goes to *out, or is cleared when out is NULL. */
static int took(md_pg_conn *c, PGresult *r, PGresult **out, const char *what, md_error *err)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? 0 : md_pg__fail(c, r, what, err);
    if (rc == 0 && out)
        *out = r;
    else
        PQclear(r);
    return rc;
}

int md_pg__exec(md_pg_conn *c, const char *sql, const char *what, md_error *err)
{
    return took(c, PQexec(c->pc, sql), NULL, what, err);
}

int md_pg__run(md_pg_conn *c, const char *stmt, const md_pg_params *p, PGresult **out,
               const char *what, md_error *err)
{
    return took(c,
                PQexecPrepared(c->pc, stmt, p ? p->n : 0, p ? p->val : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, 1),
                out, what, err);
}

int md_pg__run_sql(md_pg_conn *c, const char *sql, const md_pg_params *p, PGresult **out,
                   const char *what, md_error *err)
{
    return took(c,
                PQexecParams(c->pc, sql, p ? p->n : 0, NULL, p ? p->val : NULL, p ? p->len : NULL,
                             p ? p->fmt : NULL, 1),
                out, what, err);
}

/* A prepared statement whose one parameter is a text key (a symbol, a meta key, a path). */
static int run_key(md_pg_conn *c, const char *stmt, const char *key, PGresult **out,
                   const char *what, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_text(&p, key);
    return md_pg__run(c, stmt, &p, out, what, err);
}

void md_pg__rollback(md_pg_conn *c)
{
    if (c->pc && PQstatus(c->pc) == CONNECTION_OK) PQclear(PQexec(c->pc, "ROLLBACK"));
}

/* -- prepared statements ------------------------------------------------------------------------ */

#define BAR_COLS "ts, open, high, low, close, volume, vwap, trades, source, quality"
#define SYMBOL_ID "(SELECT id FROM symbols WHERE symbol = $1)"
#define BAR_INS_LIST                                                                               \
    "symbol_id, iv, ts, open, high, low, close, volume, vwap, trades, source, quality"
#define BAR_INS_COLS "(" BAR_INS_LIST ")"

typedef struct stmt_def {
    const char *name, *sql;
    int n;
    Oid types[MD_PG_MAX_PARAMS];
} stmt_def;

/* Aggregation of one stored interval into coarser buckets (see md_store_get_bars_agg): the
 * same rules as md_bars_aggregate, with sums taken in time order so every double matches
 * the C path bit for bit. vwap is returned as sum(vwap*volume) (pv) and divided in C. The
 * outer query returns the newest buckets first (ORDER DESC) or the oldest first (ORDER ASC),
 * at most $6 of them. A bucket that starts before $3 aggregates the bars from $3 on (the
 * caller marks it partial). */
#define AGG_SQL(BUCKET, ORDER)                                                                     \
    "SELECT b, open, high, low, close, volume, pv, trades, source, quality FROM (SELECT " BUCKET   \
    " AS b, (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high, min(low) AS low,"         \
    " (array_agg(close ORDER BY ts DESC))[1] AS close, sum(volume ORDER BY ts) AS volume,"         \
    " CASE WHEN count(vwap) = count(*) THEN sum(vwap * volume ORDER BY ts) END AS pv,"             \
    " CASE WHEN count(trades) = count(*) THEN sum(trades)::int8 END AS trades,"                    \
    " (array_agg(source ORDER BY ts DESC))[1] AS source, min(quality) AS quality"                  \
    " FROM bars WHERE symbol_id = " SYMBOL_ID " AND iv = $2 AND ts >= $3 AND ts < $4"              \
    " GROUP BY 1) g ORDER BY b " ORDER " LIMIT $6"

#define AGG_TYPES                                                                                  \
    {                                                                                              \
        MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID, MD_PG_INTERVALOID,             \
            MD_PG_INT8OID                                                                          \
    }

static const stmt_def read_stmts[] = {
    {"get_range",
     "SELECT " BAR_COLS " FROM bars WHERE symbol_id = " SYMBOL_ID
     " AND iv = $2 AND ts >= $3 AND ts < $4 ORDER BY ts LIMIT $5",
     5,
     {MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID, MD_PG_INT8OID}},
    {"get_range_desc",
     "SELECT " BAR_COLS " FROM bars WHERE symbol_id = " SYMBOL_ID
     " AND iv = $2 AND ts >= $3 AND ts < $4 ORDER BY ts DESC LIMIT $5",
     5,
     {MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID, MD_PG_INT8OID}},
    {"scan",
     "SELECT " BAR_COLS " FROM bars WHERE symbol_id = " SYMBOL_ID
     " AND iv = $2 AND ts >= $3 ORDER BY ts LIMIT $4",
     4,
     {MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_INT8OID}},
    {"count",
     "SELECT count(*) FROM bars WHERE symbol_id = " SYMBOL_ID
     " AND iv = $2 AND ts >= $3 AND ts < $4",
     4,
     {MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID}},
    /* the series rows say which intervals a symbol has and when its newest bar is: one
     * primary-key lookup each (no scan that would plan over every chunk or partition) */
    {"latest",
     "SELECT r.iv, b.* FROM series r JOIN symbols s ON s.id = r.symbol_id"
     " CROSS JOIN LATERAL (SELECT " BAR_COLS " FROM bars WHERE symbol_id = r.symbol_id"
     " AND iv = r.iv AND ts = r.last_ts) b WHERE s.symbol = $1 AND r.n > 0 ORDER BY r.iv",
     1,
     {MD_PG_TEXTOID}},
    {"series_of",
     "SELECT r.iv, r.first_ts, r.last_ts, r.n FROM series r JOIN symbols s ON s.id = r.symbol_id"
     " WHERE s.symbol = $1 AND r.n > 0",
     1,
     {MD_PG_TEXTOID}},
    {"get_quote",
     "SELECT q.ts, q.price, q.volume, q.bid, q.ask, q.source, q.quality FROM quotes q"
     " JOIN symbols s ON s.id = q.symbol_id WHERE s.symbol = $1",
     1,
     {MD_PG_TEXTOID}},
    {"list",
     "SELECT s.symbol, r.iv, r.first_ts, r.last_ts, r.n FROM series r"
     " JOIN symbols s ON s.id = r.symbol_id WHERE r.n > 0 ORDER BY s.symbol, r.iv",
     0,
     {0}},
    {"list_quotes",
     "SELECT s.symbol, q.ts, q.price, q.volume, q.bid, q.ask, q.source, q.quality"
     " FROM quotes q JOIN symbols s ON s.id = q.symbol_id ORDER BY s.symbol",
     0,
     {0}},
    {"meta_get", "SELECT value FROM meta WHERE key = $1", 1, {MD_PG_TEXTOID}},
    {"mark_get",
     "SELECT size, mtime_ns, byte_offset, lines, row_count, rejected, iv, done"
     " FROM load_marks WHERE path = $1",
     1,
     {MD_PG_TEXTOID}},
};

/* The native layout's rollups table (pg_rollup.c). */
#define ROLL_COLS "iv, ts, open, high, low, close, volume, pv, trades, source, quality, last_ts, n"
static const stmt_def native_read_stmts[] = {
    {"roll_range",
     "SELECT " ROLL_COLS " FROM rollups WHERE symbol_id = " SYMBOL_ID
     " AND iv = $2 AND from_iv = $3 AND ts >= $4 AND ts < $5 ORDER BY ts",
     5,
     {MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID}},
    {"roll_range_desc",
     "SELECT " ROLL_COLS " FROM rollups WHERE symbol_id = " SYMBOL_ID
     " AND iv = $2 AND from_iv = $3 AND ts >= $4 AND ts < $5 ORDER BY ts DESC LIMIT $6",
     6,
     {MD_PG_TEXTOID, MD_PG_INT2OID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID, MD_PG_INT8OID}},
};
static const stmt_def native_write_stmts[] = {
    {"range_sid",
     "SELECT " BAR_COLS " FROM bars WHERE symbol_id = $1 AND iv = $2 AND ts >= $3 AND ts < $4"
     " ORDER BY ts",
     4,
     {MD_PG_INT4OID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID}},
    {"roll_get",
     "SELECT " ROLL_COLS " FROM rollups WHERE symbol_id = $1 AND from_iv = $2 AND (iv, ts) IN"
     " (SELECT * FROM unnest($3::int2[], $4::timestamptz[]))",
     4,
     {MD_PG_INT4OID, MD_PG_INT2OID, MD_PG_INT2ARRAYOID, MD_PG_TSTZARRAYOID}},
};

/* Buckets: 1970-01-05 is a Monday and a multiple of every fixed interval up to a week. */
#define DATE_BIN "date_bin($5, ts, TIMESTAMPTZ '1970-01-05 00:00:00+00')"
#define MONTH "date_trunc('month', ts, 'UTC')"
static const stmt_def agg_plain[] = {
    {"agg_fixed", AGG_SQL(DATE_BIN, "DESC"), 6, AGG_TYPES},
    {"agg_month", AGG_SQL(MONTH, "DESC"), 6, AGG_TYPES},
    {"agg_fixed_asc", AGG_SQL(DATE_BIN, "ASC"), 6, AGG_TYPES},
    {"agg_month_asc", AGG_SQL(MONTH, "ASC"), 6, AGG_TYPES},
};
/* time_bucket's default origin (2000-01-03, a Monday) aligns weeks; months start on the 1st.
 * "@ts@" is the extension's schema (pg_timescale.c). */
static const stmt_def agg_timescale[] = {
    {"agg_fixed", AGG_SQL("@ts@.time_bucket($5, ts)", "DESC"), 6, AGG_TYPES},
    {"agg_month", AGG_SQL("@ts@.time_bucket($5, ts)", "DESC"), 6, AGG_TYPES},
    {"agg_fixed_asc", AGG_SQL("@ts@.time_bucket($5, ts)", "ASC"), 6, AGG_TYPES},
    {"agg_month_asc", AGG_SQL("@ts@.time_bucket($5, ts)", "ASC"), 6, AGG_TYPES},
};

static const stmt_def write_stmts[] = {
    {"sym_ins",
     "INSERT INTO symbols(symbol) VALUES($1) ON CONFLICT (symbol) DO NOTHING RETURNING id",
     1,
     {MD_PG_TEXTOID}},
    {"sym_get", "SELECT id FROM symbols WHERE symbol = $1", 1, {MD_PG_TEXTOID}},
    {"put_quote",
     "INSERT INTO quotes AS q (symbol_id, ts, price, volume, bid, ask, source, quality)"
     " VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (symbol_id) DO UPDATE SET"
     " ts = EXCLUDED.ts, price = EXCLUDED.price, volume = EXCLUDED.volume,"
     " bid = EXCLUDED.bid, ask = EXCLUDED.ask, source = EXCLUDED.source,"
     " quality = EXCLUDED.quality, updated_at = now() WHERE EXCLUDED.ts >= q.ts",
     8,
     {MD_PG_INT4OID, MD_PG_TSTZOID, MD_PG_FLOAT8OID, MD_PG_FLOAT8OID, MD_PG_FLOAT8OID,
      MD_PG_FLOAT8OID, MD_PG_INT2OID, MD_PG_FLOAT4OID}},
    /* what the series table says about the batch's series (pg_write.c read_series): the
     * span mdagent stored, which decides the direct COPY and plans the rollups */
    {"series_get",
     "SELECT r.symbol_id, r.iv, r.first_ts, r.last_ts FROM series r JOIN unnest($1::int4[],"
     " $2::int2[]) AS u(sid, iv) ON r.symbol_id = u.sid AND r.iv = u.iv WHERE r.n > 0",
     2,
     {MD_PG_INT4ARRAYOID, MD_PG_INT2ARRAYOID}},
    {"series_lock",
     "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::int8[]) WITH ORDINALITY AS u(k, o)",
     1,
     {MD_PG_INT8ARRAYOID}},
    {"series_add",
     "INSERT INTO series AS r (symbol_id, iv, first_ts, last_ts, n)"
     " SELECT * FROM unnest($1::int4[], $2::int2[], $3::timestamptz[],"
     " $4::timestamptz[], $5::int8[]) ORDER BY 1, 2"
     " ON CONFLICT (symbol_id, iv) DO UPDATE SET first_ts = CASE WHEN r.n > 0 THEN"
     " least(r.first_ts, EXCLUDED.first_ts) ELSE EXCLUDED.first_ts END, last_ts = CASE"
     " WHEN r.n > 0 THEN greatest(r.last_ts, EXCLUDED.last_ts) ELSE EXCLUDED.last_ts END,"
     " n = r.n + EXCLUDED.n",
     5,
     {MD_PG_INT4ARRAYOID, MD_PG_INT2ARRAYOID, MD_PG_TSTZARRAYOID, MD_PG_TSTZARRAYOID,
      MD_PG_INT8ARRAYOID}},
    /* the upsert: one statement per batch from the staging table; rev = 0 tells rows
     * inserted from rows updated, so the series counts stay exact */
    {"merge",
     "WITH up AS (INSERT INTO bars AS b " BAR_INS_COLS " SELECT " BAR_INS_LIST
     " FROM md_stage ON CONFLICT (symbol_id, iv, ts) DO UPDATE SET open = EXCLUDED.open,"
     " high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,"
     " volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, trades = EXCLUDED.trades,"
     " source = EXCLUDED.source, quality = EXCLUDED.quality,"
     " rev = CASE WHEN b.rev >= 32000 THEN 1 ELSE b.rev + 1 END"
     " WHERE (b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trades, b.source,"
     " b.quality) IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low,"
     " EXCLUDED.close, EXCLUDED.volume, EXCLUDED.vwap, EXCLUDED.trades,"
     " EXCLUDED.source, EXCLUDED.quality)"
     " RETURNING b.symbol_id, b.iv, b.ts, (b.rev = 0) AS fresh)"
     " INSERT INTO series AS r (symbol_id, iv, first_ts, last_ts, n)"
     " SELECT symbol_id, iv, min(ts), max(ts), count(*) FILTER (WHERE fresh) FROM up"
     " GROUP BY symbol_id, iv ORDER BY symbol_id, iv"
     " ON CONFLICT (symbol_id, iv) DO UPDATE SET first_ts = CASE WHEN r.n > 0 THEN"
     " least(r.first_ts, EXCLUDED.first_ts) ELSE EXCLUDED.first_ts END, last_ts = CASE"
     " WHEN r.n > 0 THEN greatest(r.last_ts, EXCLUDED.last_ts) ELSE EXCLUDED.last_ts END,"
     " n = r.n + EXCLUDED.n",
     0,
     {0}},
    {"meta_set",
     "INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT (key) DO UPDATE"
     " SET value = EXCLUDED.value",
     2,
     {MD_PG_TEXTOID, MD_PG_TEXTOID}},
    {"meta_del", "DELETE FROM meta WHERE key = $1", 1, {MD_PG_TEXTOID}},
    {"mark_put",
     "INSERT INTO load_marks(path, size, mtime_ns, byte_offset, lines, row_count,"
     " rejected, iv, done) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)"
     " ON CONFLICT (path) DO UPDATE SET size = EXCLUDED.size,"
     " mtime_ns = EXCLUDED.mtime_ns, byte_offset = EXCLUDED.byte_offset,"
     " lines = EXCLUDED.lines, row_count = EXCLUDED.row_count,"
     " rejected = EXCLUDED.rejected, iv = EXCLUDED.iv, done = EXCLUDED.done,"
     " updated_at = now()",
     9,
     {MD_PG_TEXTOID, MD_PG_INT8OID, MD_PG_INT8OID, MD_PG_INT8OID, MD_PG_INT8OID, MD_PG_INT8OID,
      MD_PG_INT8OID, MD_PG_INT2OID, MD_PG_INT2OID}},
};

/* Prepares defs on c; "@ts@" in their SQL stands for tsx (the TimescaleDB schema). */
static int prepare_ts(md_pg_conn *c, const stmt_def *defs, size_t n, const char *tsx, md_error *err)
{
    for (size_t i = 0; i < n; i++) {
        char sql[4096];
        const char *at = strstr(defs[i].sql, "@ts@");
        if (at)
            snprintf(sql, sizeof sql, "%.*s%s%s", (int)(at - defs[i].sql), defs[i].sql, tsx,
                     at + 4);
        PGresult *r = PQprepare(c->pc, defs[i].name, at ? sql : defs[i].sql, defs[i].n,
                                defs[i].n ? defs[i].types : NULL);
        int rc = check(c, r, PGRES_COMMAND_OK, "prepare", err);
        PQclear(r);
        if (rc) {
            md_error_prefix(err, "statement %s", defs[i].name);
            return rc;
        }
    }
    return 0;
}

static int prepare_all(md_pg_conn *c, const stmt_def *defs, size_t n, md_error *err)
{
    return prepare_ts(c, defs, n, "", err);
}

/* -- sessions --------------------------------------------------------------------------------- */

/* Server notices ("relation already exists, skipping") go to the debug log, redacted. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    char msg[300];
    clean_msg(message, msg, sizeof msg);
    MD_DEBUG("store", "postgresql notice: %s", msg);
}

int md_pg__connect(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", st->opt.pg_connect_timeout_s);
    /* defaults first: a later keyword wins, so the URL overrides any of them */
    const char *kw[] = {"connect_timeout",
                        "fallback_application_name",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "dbname",
                        NULL};
    const char *val[] = {timeout, "mdagent", "30", "10", "3", st->url, NULL};
    if (c->pc) PQfinish(c->pc);
    c->pc = PQconnectdbParams(kw, val, 1);
    c->ready = 0;
    c->lost = 0;
    if (!c->pc || PQstatus(c->pc) != CONNECTION_OK) {
        char msg[300];
        clean_msg(c->pc ? PQerrorMessage(c->pc) : "out of memory", msg, sizeof msg);
        if (c->pc) PQfinish(c->pc);
        c->pc = NULL;
        c->lost = 1;
        return md_error_set(err, MD_EUNAVAIL, "cannot connect to postgresql %s: %s",
                            st->base.url_redacted ? st->base.url_redacted : "", msg);
    }
    PQsetNoticeProcessor(c->pc, on_notice, NULL);
    return md_pg__exec(c, "SET TIME ZONE 'UTC'; SET temp_buffers = '64MB'", "session", err);
}

/* Prepares the statements of a connected session (the schema must exist). */
static int conn_setup(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    int rc = prepare_all(c, read_stmts, MD_ARRAY_LEN(read_stmts), err);
    if (rc == 0) {
        rc = st->timescale ? prepare_ts(c, agg_timescale, MD_ARRAY_LEN(agg_timescale), st->tsx, err)
                           : prepare_all(c, agg_plain, MD_ARRAY_LEN(agg_plain), err);
    }
    if (rc == 0)
        rc = st->timescale
                 ? md_pg__cagg_prepare(st, c, err)
                 : prepare_all(c, native_read_stmts, MD_ARRAY_LEN(native_read_stmts), err);
    if (rc == 0 && !st->opt.read_only) {
        rc = md_pg__setup_stage(c, !st->timescale, err);
        if (rc == 0) rc = prepare_all(c, write_stmts, MD_ARRAY_LEN(write_stmts), err);
        if (rc == 0 && !st->timescale)
            rc = prepare_all(c, native_write_stmts, MD_ARRAY_LEN(native_write_stmts), err);
    }
    if (rc == 0) c->ready = 1;
    return rc;
}

static int conn_reset(md_pg_store *st, md_pg_conn *c, md_error *err)
{
    int rc = md_pg__connect(st, c, err);
    if (rc == 0) rc = conn_setup(st, c, err);
    if (rc) {
        c->lost = 1;
        if (rc != MD_EUNAVAIL && c->pc && PQstatus(c->pc) != CONNECTION_OK) rc = MD_EUNAVAIL;
    }
    return rc;
}

static md_pg_conn *conn_get(md_pg_store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    while (st->n_free == 0) pthread_cond_wait(&st->pool_cond, &st->pool_lock);
    md_pg_conn *c = st->free_conns[--st->n_free];
    pthread_mutex_unlock(&st->pool_lock);
    return c;
}

static void conn_put(md_pg_store *st, md_pg_conn *c)
{
    pthread_mutex_lock(&st->pool_lock);
    st->free_conns[st->n_free++] = c;
    pthread_cond_signal(&st->pool_cond);
    pthread_mutex_unlock(&st->pool_lock);
}

int md_pg__with_conn(md_pg_store *st, md_pg_work fn, void *arg, md_error *err)
{
    md_pg_conn *c = conn_get(st);
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!c->pc || !c->ready || c->lost || PQstatus(c->pc) != CONNECTION_OK) {
            if (attempt == 0 && c->pc) MD_INFO("store", "postgresql session reset");
            rc = conn_reset(st, c, err);
            if (rc) break;
        }
        rc = fn(st, c, arg, err);
        if (rc >= 0 || !(c->lost || rc == MD_EAGAIN)) break;
        if (attempt == 0)
            MD_WARN("store", "postgresql call failed (%s); retrying once", err ? err->msg : "");
    }
    conn_put(st, c);
    return rc;
}

/* -- open / close ------------------------------------------------------------------------------ */

static void register_password(const char *url)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
    if (opts) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) md_log_add_secret(o->val);
        PQconninfoFree(opts);
    }
    PQfreemem(errmsg);
    const char *envpw = getenv("PGPASSWORD");
    if (envpw && *envpw) md_log_add_secret(envpw);
}

static void pg_close(md_store *base);

static int pg_open(const char *url, const md_store_options *opt, md_store **out, md_error *err)
{
    register_password(url);
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(url, &perr);
    if (!parsed) {
        char msg[200];
        clean_msg(perr ? perr : "cannot parse", msg, sizeof msg);
        PQfreemem(perr);
        return md_error_set(err, MD_ECONFIG, "bad postgresql URL: %s", msg);
    }
    PQconninfoFree(parsed);

    md_pg_store *st = md_calloc(1, sizeof *st);
    st->url = md_strdup(url);
    st->opt = *opt;
    char red[512];
    md_log_redact(url, red, sizeof red);
    st->base.url_redacted = md_strdup(red);
    pthread_mutex_init(&st->written_lock, NULL);
    for (int i = 0; i < MD_IV_COUNT; i++) st->written_lo[i] = 1, st->written_hi[i] = 0;
    pthread_mutex_init(&st->pool_lock, NULL);
    pthread_cond_init(&st->pool_cond, NULL);
    pthread_mutex_init(&st->sym_lock, NULL);
    md_dict_init(&st->sym_ids, sizeof(int32_t));
    pthread_mutex_init(&st->part_lock, NULL);
    size_t n = opt->pool_size > 0 ? (size_t)opt->pool_size : 1;
    st->conns = md_calloc(n, sizeof *st->conns);
    st->free_conns = md_calloc(n, sizeof *st->free_conns);
    st->n_conns = n;

    md_pg_conn *c0 = &st->conns[0];
    int rc = md_pg__connect(st, c0, err);
    if (rc == 0) rc = md_pg__schema(st, c0, err);
    if (rc == 0) rc = md_pg__timescale_setup(st, c0, err);
    if (rc == 0) rc = conn_setup(st, c0, err);
    if (rc == 0 && !st->timescale) rc = md_pg__load_partitions(st, c0, err);
    if (rc == 0 && !st->timescale && !opt->read_only)
        rc = md_pg__ensure_partitions(st, c0, NULL, 0, err);
    for (size_t i = 1; rc == 0 && i < n; i++) rc = conn_reset(st, &st->conns[i], err);
    if (rc) {
        md_free(st->base.url_redacted);
        pg_close(&st->base);
        return rc;
    }
    for (size_t i = 0; i < n; i++) st->free_conns[st->n_free++] = &st->conns[n - 1 - i];
    MD_DEBUG("store", "opened kind=postgresql url=%s layout=%s pool=%zu", st->base.url_redacted,
             st->timescale ? "hypertable" : "partitioned", n);
    *out = &st->base;
    return 0;
}

static int w_refresh(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)arg;
    return md_pg__refresh_written(st, c, err);
}

static void pg_close(md_store *base)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->ts_managed && st->n_free == st->n_conns && st->n_conns > 0) {
        md_error e;
        if (md_pg__with_conn(st, w_refresh, NULL, &e) < 0)
            MD_WARN("store", "continuous aggregates not refreshed at close: %s", e.msg);
    }
    for (size_t i = 0; i < st->n_conns; i++)
        if (st->conns[i].pc) PQfinish(st->conns[i].pc);
    md_free(st->conns);
    md_free(st->free_conns);
    md_dict_deinit(&st->sym_ids);
    md_free(st->parts);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_cond_destroy(&st->pool_cond);
    pthread_mutex_destroy(&st->sym_lock);
    pthread_mutex_destroy(&st->part_lock);
    pthread_mutex_destroy(&st->written_lock);
    md_free(st->url);
    /* url_redacted belongs to store.c's md_store_close */
    md_free(st);
}

/* -- reads -------------------------------------------------------------------------------------- */

static int w_ping(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    return md_pg__exec(c, "SELECT 1", "ping", err);
}

static int pg_ping(md_store *base, md_error *err)
{
    return md_pg__with_conn((md_pg_store *)base, w_ping, NULL, err);
}

typedef struct i64_args {
    const char *sql;
    int64_t v;
} i64_args;

static int w_query_i64(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    i64_args *a = arg;
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, a->sql, NULL, &r, "query", err);
    if (rc == 0 && (PQntuples(r) != 1 || PQnfields(r) != 1))
        rc = md_error_set(err, MD_ESTORE, "query: %d rows of %d columns, want one", PQntuples(r),
                          PQnfields(r));
    else if (rc == 0)
        a->v = md_pg__get_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_query_i64(md_store *base, const char *sql, int64_t *out, md_error *err)
{
    i64_args a = {sql, 0};
    int rc = md_pg__with_conn((md_pg_store *)base, w_query_i64, &a, err);
    if (rc == 0) *out = a.v;
    return rc;
}

typedef struct read_args {
    const char *symbol;
    md_interval iv, from_iv;
    int64_t start, end;
    size_t limit;
    md_bar_vec *out;
    md_bar *bar;
    md_quote *quote;
    int64_t count;
    int had_input;
    int oldest; /* a limited aggregation keeps the oldest buckets (else the newest) */
    void *list;
} read_args;

/* The parameters $1..$4 of a range statement: symbol, interval, [lo, hi). */
static void range_params(md_pg_params *p, const char *symbol, md_interval iv, int64_t lo,
                         int64_t hi)
{
    md_pg__p_text(p, symbol);
    md_pg__p_i16(p, (int)iv);
    md_pg__p_ts(p, md_pg__clamp_ts(lo));
    md_pg__p_ts(p, md_pg__clamp_ts(hi));
}

/* A LIMIT parameter: NULL (no limit) for 0. */
static void limit_param(md_pg_params *p, size_t limit)
{
    if (limit)
        md_pg__p_i64(p, (int64_t)limit);
    else
        md_pg__p_null(p);
}

/* Runs a bar-reading statement (get_range, get_range_desc with desc set, scan) and appends
 * its rows to out, oldest first. Returns the row count. */
static int read_rows(md_pg_conn *c, const char *stmt, const md_pg_params *p, int desc,
                     const char *what, md_bar_vec *out, md_error *err)
{
    PGresult *r = NULL;
    int rc = md_pg__run(c, stmt, p, &r, what, err);
    if (rc) return rc;
    int n = PQntuples(r);
    md_bar_vec_reserve(out, out->n + (size_t)n);
    for (int i = 0; i < n; i++) {
        md_bar b;
        md_pg__get_bar(r, desc ? n - 1 - i : i, 0, &b);
        md_bar_vec_push(out, &b);
    }
    PQclear(r);
    return n;
}

static int range_desc(md_pg_conn *c, const read_args *a, int64_t lo, int64_t hi, size_t limit,
                      md_bar_vec *out, md_error *err)
{
    md_pg_params p = {0};
    range_params(&p, a->symbol, a->iv, lo, hi);
    md_pg__p_i64(&p, (int64_t)limit);
    return read_rows(c, "get_range_desc", &p, 1, "read bars", out, err);
}

/* The newest `limit` bars of [start, end), read in time windows going back from end: a read
 * without a lower bound (the writer's context, "the bars before this batch") would visit every
 * chunk or partition of the table, compressed ones decompressed. The first window is wide
 * enough for limit bars across a weekend; when it holds fewer, the series' first bar bounds
 * the rest. */
static int get_newest(md_pg_store *st, md_pg_conn *c, read_args *a, md_error *err)
{
    int64_t iv_s = md_interval_seconds(a->iv);
    int64_t span = (int64_t)a->limit * iv_s * 8;
    if (span < 4 * 86400 + (int64_t)a->limit * iv_s) span = 4 * 86400 + (int64_t)a->limit * iv_s;
    int64_t lo = a->end - span;
    if (lo <= a->start || a->end - a->start <= span) {
        return range_desc(c, a, a->start, a->end, a->limit, a->out, err);
    }
    md_bar_vec v;
    md_bar_vec_init(&v);
    int rc = range_desc(c, a, lo, a->end, a->limit, &v, err);
    if (rc >= 0 && v.n < a->limit) {
        /* older bars: between the series' first bar (or start) and the window */
        PGresult *r = NULL;
        rc = run_key(c, "series_of", a->symbol, &r, "read series", err);
        int64_t first = a->start;
        for (int i = 0; rc == 0 && i < PQntuples(r); i++)
            if (md_pg__get_i16(r, i, 0) == (int)a->iv) {
                int64_t f = md_pg__get_ts(r, i, 1);
                if (f > first) first = f;
            }
        PQclear(r);
        if (rc == 0 && first < lo) {
            md_bar_vec older;
            md_bar_vec_init(&older);
            rc = range_desc(c, a, first, lo, a->limit - v.n, &older, err);
            if (rc >= 0) {
                for (size_t i = 0; i < v.n; i++) md_bar_vec_push(&older, &v.v[i]);
                md_bar_vec_deinit(&v);
                v = older;
            } else {
                md_bar_vec_deinit(&older);
            }
        }
    }
    if (rc >= 0) {
        md_bar_vec_reserve(a->out, a->out->n + v.n);
        for (size_t i = 0; i < v.n; i++) md_bar_vec_push(a->out, &v.v[i]);
        rc = (int)v.n;
    }
    md_bar_vec_deinit(&v);
    (void)st;
    return rc;
}

static int w_get_bars(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    read_args *a = arg;
    /* the newest `limit` in time windows; the oldest `limit` are bounded by start */
    if (a->limit && !a->oldest) return get_newest(st, c, a, err);
    md_pg_params p = {0};
    range_params(&p, a->symbol, a->iv, a->start, a->end);
    limit_param(&p, a->limit);
    return read_rows(c, "get_range", &p, 0, "read bars", a->out, err);
}

/* get_bars (fn w_get_bars) and get_bars_agg (fn w_agg, with from_iv and had_input, which may
 * be NULL): an empty range reads nothing; a failed read leaves out as it was. */
static int read_bars(md_store *base, md_pg_work fn, const char *symbol, md_interval iv,
                     md_interval from_iv, int64_t start, int64_t end, size_t limit, int oldest,
                     md_bar_vec *out, int *had_input, md_error *err)
{
    if (had_input) *had_input = 0;
    if (md_pg__clamp_ts(start) >= md_pg__clamp_ts(end)) return 0;
    read_args a = {.symbol = symbol,
                   .iv = iv,
                   .from_iv = from_iv,
                   .start = start,
                   .end = end,
                   .limit = limit,
                   .oldest = oldest != 0,
                   .out = out};
    size_t before = out->n;
    int rc = md_pg__with_conn((md_pg_store *)base, fn, &a, err);
    if (rc < 0)
        out->n = before;
    else if (had_input)
        *had_input = a.had_input;
    return rc;
}

static int pg_get_bars(md_store *base, const char *symbol, md_interval iv, int64_t start,
                       int64_t end, size_t limit, int oldest, md_bar_vec *out, md_error *err)
{
    return read_bars(base, w_get_bars, symbol, iv, iv, start, end, limit, oldest, out, NULL, err);
}

static int w_scan(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    read_args *a = arg;
    md_pg_params p = {0};
    md_pg__p_text(&p, a->symbol);
    md_pg__p_i16(&p, (int)a->iv);
    md_pg__p_ts(&p, md_pg__clamp_ts(a->start));
    limit_param(&p, a->limit);
    return read_rows(c, "scan", &p, 0, "scan bars", a->out, err);
}

static int pg_scan_bars(md_store *base, const char *symbol, md_interval iv, int64_t from,
                        size_t limit, md_bar_vec *out, md_error *err)
{
    read_args a = {.symbol = symbol, .iv = iv, .start = from, .limit = limit, .out = out};
    return md_pg__with_conn((md_pg_store *)base, w_scan, &a, err);
}

static int w_agg(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    read_args *a = arg;
    md_pg_params p = {0};
    range_params(&p, a->symbol, a->from_iv, a->start, a->end);
    if (a->iv == MD_IV_1MO)
        md_pg__p_interval(&p, 0, 0, 1);
    else
        md_pg__p_interval(&p, md_interval_seconds(a->iv) * 1000000LL, 0, 0);
    limit_param(&p, a->limit);
    static const char *const names[2][2] = {{"agg_fixed", "agg_month"},
                                            {"agg_fixed_asc", "agg_month_asc"}};
    PGresult *r = NULL;
    int rc = md_pg__run(c, names[a->oldest][a->iv == MD_IV_1MO], &p, &r, "aggregate bars", err);
    if (rc) return rc;
    int n = PQntuples(r);
    a->had_input = n > 0;
    md_bar_vec_reserve(a->out, a->out->n + (size_t)n);
    for (int k = 0; k < n; k++) { /* oldest first */
        md_bar b;
        md_pg__get_bar(r, a->oldest ? k : n - 1 - k, 0, &b);
        double pv = b.vwap; /* the query returns sum(vwap * volume) here */
        b.vwap = (isnan(pv) || b.volume <= 0) ? NAN : pv / b.volume;
        md_bar_vec_push(a->out, &b);
    }
    PQclear(r);
    return n;
}

static int pg_get_bars_agg(md_store *base, const char *symbol, md_interval iv, md_interval from_iv,
                           int64_t start, int64_t end, size_t limit, int oldest, md_bar_vec *out,
                           int *had_input, md_error *err)
{
    return read_bars(base, w_agg, symbol, iv, from_iv, start, end, limit, oldest, out, had_input,
                     err);
}

static int w_latest(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    read_args *a = arg;
    PGresult *r = NULL;
    int rc = run_key(c, "latest", a->symbol, &r, "latest bar", err);
    if (rc) return rc;
    int found = 0;
    int64_t end_best = 0;
    for (int i = 0; i < PQntuples(r); i++) { /* finest interval first */
        md_bar b;
        md_interval iv = (md_interval)md_pg__get_i16(r, i, 0);
        md_pg__get_bar(r, i, 1, &b);
        /* compare by the end of the bar so a daily bar does not hide newer minutes */
        int64_t end_b = md_interval_next(iv, b.ts);
        if (!found || end_b > end_best) {
            *a->bar = b;
            a->iv = iv;
            end_best = end_b;
            found = 1;
        }
    }
    PQclear(r);
    return found;
}

static int pg_latest_bar(md_store *base, const char *symbol, md_bar *out, md_interval *iv,
                         md_error *err)
{
    md_bar b;
    read_args a = {.symbol = symbol, .bar = &b};
    int rc = md_pg__with_conn((md_pg_store *)base, w_latest, &a, err);
    if (rc < 0) return rc;
    if (rc == 0) return md_error_set(err, MD_ENODATA, "no bars stored for %s", symbol);
    *out = b;
    if (iv) *iv = a.iv;
    return 0;
}

static void read_quote(const PGresult *r, int row, int col, md_quote *q)
{
    q->ts = md_pg__get_ts(r, row, col);
    q->price = md_pg__get_f64(r, row, col + 1);
    q->volume = md_pg__get_f64(r, row, col + 2);
    q->bid = md_pg__get_f64(r, row, col + 3);
    q->ask = md_pg__get_f64(r, row, col + 4);
    q->source = (uint8_t)md_pg__get_i16(r, row, col + 5);
    q->quality = md_pg__get_f32(r, row, col + 6);
}

static int w_get_quote(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    read_args *a = arg;
    PGresult *r = NULL;
    int rc = run_key(c, "get_quote", a->symbol, &r, "read quote", err);
    if (rc) return rc;
    int found = PQntuples(r) == 1;
    if (found) {
        md_quote_init(a->quote);
        snprintf(a->quote->symbol, sizeof a->quote->symbol, "%s", a->symbol);
        read_quote(r, 0, 0, a->quote);
    }
    PQclear(r);
    return found;
}

static int pg_get_quote(md_store *base, const char *symbol, md_quote *out, md_error *err)
{
    md_quote q;
    read_args a = {.symbol = symbol, .quote = &q};
    int rc = md_pg__with_conn((md_pg_store *)base, w_get_quote, &a, err);
    if (rc < 0) return rc;
    if (rc == 0) return md_error_set(err, MD_ENODATA, "no quote stored for %s", symbol);
    *out = q;
    return 0;
}

typedef struct list_args {
    md_pg_runner run;
    const char *stmt, *what;
    size_t size;
    md_pg_row row;
    void *v;
} list_args;

static int w_list(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    list_args *a = arg;
    PGresult *r = NULL;
    int rc = a->run(c, a->stmt, NULL, &r, a->what, err);
    if (rc) return rc;
    int n = PQntuples(r);
    char *v = md_calloc(n ? (size_t)n : 1, a->size);
    for (int i = 0; i < n; i++) a->row(r, i, v + (size_t)i * a->size);
    PQclear(r);
    a->v = v;
    return n;
}

int md_pg__list(md_store *base, md_pg_runner run, const char *stmt, const char *what, size_t size,
                md_pg_row row, void *out, md_error *err)
{
    list_args a = {run, stmt, what, size, row, NULL};
    int rc = md_pg__with_conn((md_pg_store *)base, w_list, &a, err);
    if (rc >= 0) md_store__list_out(out, a.v);
    return rc;
}

void md_pg__symbol_info_row(const PGresult *r, int row, void *elem)
{
    md_symbol_info *s = elem;
    md_pg__get_text(r, row, 0, s->symbol, sizeof s->symbol);
    s->iv = (md_interval)md_pg__get_i16(r, row, 1);
    s->first_ts = md_pg__get_ts(r, row, 2);
    s->last_ts = md_pg__get_ts(r, row, 3);
    s->count = md_pg__get_i64(r, row, 4);
}

static int pg_list_symbols(md_store *base, md_symbol_info **out, md_error *err)
{
    return md_pg__list(base, md_pg__run, "list", "list symbols", sizeof **out,
                       md_pg__symbol_info_row, out, err);
}

static void quote_row(const PGresult *r, int row, void *elem)
{
    md_quote *q = elem;
    md_quote_init(q);
    md_pg__get_text(r, row, 0, q->symbol, sizeof q->symbol);
    read_quote(r, row, 1, q);
}

static int pg_list_quotes(md_store *base, md_quote **out, md_error *err)
{
    return md_pg__list(base, md_pg__run, "list_quotes", "list quotes", sizeof **out, quote_row, out,
                       err);
}

static int w_count(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    read_args *a = arg;
    md_pg_params p = {0};
    range_params(&p, a->symbol, a->iv, a->start, a->end);
    PGresult *r = NULL;
    int rc = md_pg__run(c, "count", &p, &r, "count bars", err);
    if (rc) return rc;
    a->count = md_pg__get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int64_t pg_count_bars(md_store *base, const char *symbol, md_interval iv, int64_t start,
                             int64_t end, md_error *err)
{
    if (md_pg__clamp_ts(start) >= md_pg__clamp_ts(end)) return 0;
    read_args a = {.symbol = symbol, .iv = iv, .start = start, .end = end};
    int rc = md_pg__with_conn((md_pg_store *)base, w_count, &a, err);
    return rc < 0 ? rc : a.count;
}

typedef struct meta_args {
    const char *key;
    char *val;
    size_t n;
} meta_args;

static int w_meta_get(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    meta_args *a = arg;
    PGresult *r = NULL;
    int rc = run_key(c, "meta_get", a->key, &r, "read meta", err);
    if (rc) return rc;
    int found = PQntuples(r) == 1;
    if (found) md_pg__get_text(r, 0, 0, a->val, a->n);
    PQclear(r);
    return found;
}

static int pg_meta_get(md_store *base, const char *key, char *val, size_t n, md_error *err)
{
    meta_args a = {key, val, n};
    return md_pg__with_conn((md_pg_store *)base, w_meta_get, &a, err);
}

typedef struct mark_args {
    const char *path;
    md_load_mark *out;
} mark_args;

static int w_mark_get(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    mark_args *a = arg;
    PGresult *r = NULL;
    int rc = run_key(c, "mark_get", a->path, &r, "read load mark", err);
    if (rc) return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return md_error_set(err, MD_ENODATA, "no load mark for %s", a->path);
    }
    md_load_mark *m = a->out;
    memset(m, 0, sizeof *m);
    m->path = a->path;
    m->size = md_pg__get_i64(r, 0, 0);
    m->mtime_ns = md_pg__get_i64(r, 0, 1);
    m->offset = md_pg__get_i64(r, 0, 2);
    m->lines = md_pg__get_i64(r, 0, 3);
    m->rows = md_pg__get_i64(r, 0, 4);
    m->rejected = md_pg__get_i64(r, 0, 5);
    m->interval = md_pg__get_i16(r, 0, 6);
    m->done = md_pg__get_i16(r, 0, 7);
    PQclear(r);
    return 0;
}

static int pg_get_load_mark(md_store *base, const char *path, md_load_mark *out, md_error *err)
{
    mark_args a = {path, out};
    return md_pg__with_conn((md_pg_store *)base, w_mark_get, &a, err);
}

static int w_series_of(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    read_args *a = arg;
    md_symbol_info *out = a->list;
    PGresult *r = NULL;
    int rc = run_key(c, "series_of", a->symbol, &r, "read series", err);
    if (rc) return rc;
    for (int i = 0; i < MD_IV_COUNT; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].iv = (md_interval)i;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int iv = md_pg__get_i16(r, i, 0);
        if (iv < 0 || iv >= MD_IV_COUNT) continue;
        out[iv].first_ts = md_pg__get_ts(r, i, 1);
        out[iv].last_ts = md_pg__get_ts(r, i, 2);
        out[iv].count = md_pg__get_i64(r, i, 3);
    }
    PQclear(r);
    return 0;
}

static int pg_series_of(md_store *base, const char *symbol, md_symbol_info out[MD_IV_COUNT],
                        md_error *err)
{
    read_args a = {.symbol = symbol, .list = out};
    return md_pg__with_conn((md_pg_store *)base, w_series_of, &a, err);
}

typedef struct roll_args {
    const char *symbol;
    md_interval iv, from_iv;
    int64_t lo, hi;
    size_t limit;
    md_bar_vec *out;
    md_range *holes;
    size_t *n_holes;
} roll_args;

static int w_rollups(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    roll_args *a = arg;
    size_t before = a->out->n;
    *a->n_holes = 0;
    int rc = st->timescale ? md_pg__cagg_rollups(st, c, a->symbol, a->iv, a->from_iv, a->lo, a->hi,
                                                 a->limit, a->out, a->holes, a->n_holes, err)
                           : md_pg__table_rollups(c, a->symbol, a->iv, a->from_iv, a->lo, a->hi,
                                                  a->limit, a->out, err);
    if (rc < 0) a->out->n = before;
    return rc;
}

static int pg_get_rollups(md_store *base, const char *symbol, md_interval iv, md_interval from_iv,
                          int64_t lo, int64_t hi, size_t limit, md_bar_vec *out, md_range *holes,
                          size_t *n_holes, md_error *err)
{
    *n_holes = 0;
    if (md_pg__clamp_ts(lo) >= md_pg__clamp_ts(hi)) return 0;
    roll_args a = {symbol, iv, from_iv, lo, hi, limit, out, holes, n_holes};
    return md_pg__with_conn((md_pg_store *)base, w_rollups, &a, err);
}

static int w_jobs(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    return md_pg__jobs(st, c, arg, err);
}

static int pg_jobs(md_store *base, md_store_job **out, md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (!st->timescale) {
        *out = md_calloc(1, sizeof **out);
        return 0;
    }
    return md_pg__with_conn(st, w_jobs, out, err);
}

const md_store_ops md_store_pg_ops = {
    .kind = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .query_i64 = pg_query_i64,
    .put_bars = md_pg__put_bars,
    .get_bars = pg_get_bars,
    .latest_bar = pg_latest_bar,
    .put_quote = md_pg__put_quote,
    .get_quote = pg_get_quote,
    .list_symbols = pg_list_symbols,
    .count_bars = pg_count_bars,
    .get_bars_agg = pg_get_bars_agg,
    .series_of = pg_series_of,
    .get_rollups = pg_get_rollups,
    .jobs = pg_jobs,
    .scan_bars = pg_scan_bars,
    .list_quotes = pg_list_quotes,
    .meta_get = pg_meta_get,
    .meta_set = md_pg__meta_set,
    .put_bars_marked = md_pg__put_bars_marked,
    .get_load_mark = pg_get_load_mark,
    .put_quality_events = md_pg__put_quality_events,
    .get_quality_events = md_pg__get_quality_events,
    .count_quality_events = md_pg__count_quality_events,
    .list_quality_series = md_pg__list_quality_series,
    .mark_live = md_pg__mark_live,
    .get_live = md_pg__get_live,
    .put_actions = md_pg__put_actions,
    .get_actions = md_pg__get_actions,
    .put_symbol_ref = md_pg__put_symbol_ref,
    .get_symbol_ref = md_pg__get_symbol_ref,
    .list_symbol_refs = md_pg__list_symbol_refs,
};
