/* pg_rollup.c - the rollups table of the native (partitioned) layout, and what retention does
 * to it and to the series table.
 *
 *   rollups(symbol_id, iv, from_iv, ts, open, high, low, close, volume, pv, trades, source,
 *           quality, last_ts, n)     PRIMARY KEY (symbol_id, iv, from_iv, ts)
 *
 * Kept in the write transactions (pg_write.c): with the series of the batch locked, each
 * series' write is planned (store/rollup.h), the stored bars and rows the plan needs are read
 * before the bars are written, and the new rows are upserted after (binary COPY into a
 * per-session staging table, one INSERT ... ON CONFLICT). Where rows are built in SQL - the
 * migration that adds the table, and the buckets a retention drop cuts - the expressions are
 * those of the on-the-fly aggregation (store_pg.c AGG_SQL: ordered sums), so the rows are the
 * same bit for bit as those computed in C. */
#include "store/pg_int.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void read_rollup(const PGresult *r, int row, md_rollup *o)
{
    o->iv = (md_interval)md_pg__get_i16(r, row, 0);
    md_pg__get_bar(r, row, 1, &o->bar);
    o->pv = o->bar.vwap;
    o->bar.vwap = NAN;
    o->last_ts = md_pg__get_ts(r, row, 11);
    o->n = md_pg__get_i32(r, row, 12);
}

static int read_stored(md_pg_conn *c, int32_t sid, md_interval iv, int64_t lo, int64_t hi,
                       md_bar_vec *out, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_i32(&p, sid);
    md_pg__p_i16(&p, (int)iv);
    md_pg__p_ts(&p, lo);
    md_pg__p_ts(&p, hi);
    PGresult *r = NULL;
    int rc = md_pg__run(c, "range_sid", &p, &r, "read stored bars", err);
    if (rc) return rc;
    int n = PQntuples(r);
    md_bar_vec_reserve(out, out->n + (size_t)n);
    for (int i = 0; i < n; i++) {
        md_bar b;
        md_pg__get_bar(r, i, 0, &b);
        md_bar_vec_push(out, &b);
    }
    PQclear(r);
    return 0;
}

static int read_wanted(md_pg_conn *c, const md_pg_wseries *s, const md_rollup_plan *p,
                       md_rollup_vec *have, md_error *err)
{
    if (p->n_want == 0) return 0;
    int64_t *v = md_malloc(p->n_want * sizeof *v);
    for (size_t i = 0; i < p->n_want; i++) v[i] = p->want_iv[i];
    md_pg_buf ivs = {0}, tss = {0};
    md_pg__array(&ivs, MD_PG_INT2OID, 2, v, p->n_want, 0);
    md_pg__array(&tss, MD_PG_TSTZOID, 8, p->want_ts, p->n_want, 1);
    md_free(v);
    md_pg_params q = {0};
    md_pg__p_i32(&q, s->sid);
    md_pg__p_i16(&q, (int)s->iv);
    md_pg__p_bytes(&q, ivs.d, (int)ivs.n);
    md_pg__p_bytes(&q, tss.d, (int)tss.n);
    PGresult *r = NULL;
    int rc = md_pg__run(c, "roll_get", &q, &r, "read rollups", err);
    md_pg__buf_free(&ivs);
    md_pg__buf_free(&tss);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        md_rollup ro;
        read_rollup(r, i, &ro);
        md_rollup_vec_push(have, &ro);
    }
    PQclear(r);
    return 0;
}

int md_pg__rollups_plan(md_pg_conn *c, md_pg_wseries *s, size_t n, md_error *err)
{
    int rc = 0;
    md_bar_vec stored;
    md_bar_vec_init(&stored);
    for (size_t i = 0; i < n && rc == 0; i++) {
        md_pg_wseries *w = &s[i];
        w->rows.n = 0;
        md_rollup_plan p;
        md_rollup__plan(&p, w->iv, w->bars, w->n, w->stored, w->first, w->last);
        if (p.n_targets == 0) {
            md_rollup__plan_free(&p);
            continue;
        }
        md_rollup_vec have = {0};
        rc = read_wanted(c, w, &p, &have, err);
        for (int round = 0; rc == 0 && round < 2; round++) {
            stored.n = 0;
            if (p.read_lo < p.read_hi)
                rc = read_stored(c, w->sid, w->iv, p.read_lo, p.read_hi, &stored, err);
            if (rc) break;
            int64_t replaced;
            if (md_rollup__build(&p, w->bars, w->n, stored.v, stored.n, have.v, have.n, &w->rows,
                                 &replaced) == 0)
                break;
            if (round == 1) rc = md_error_set(err, MD_ESTORE, "rollup plan did not settle");
        }
        md_rollup_vec_deinit(&have);
        md_rollup__plan_free(&p);
    }
    md_bar_vec_deinit(&stored);
    return rc;
}

/* One rollups row in binary COPY form (the staging table has the rollups columns). */
static void copy_rollup(md_pg_buf *b, int32_t sid, md_interval from_iv, const md_rollup *r)
{
    md_pg_buf tmp = {0};
    md_bar x = r->bar;
    x.vwap = r->pv; /* the pv column sits where bars have vwap */
    md_pg__copy_bar(&tmp, sid, (int)r->iv, &x);
    /* copy_bar writes 12 fields: sid, iv, ts, o, h, l, c, v, vwap(pv), trades, source,
     * quality; rollups has from_iv after iv and last_ts, n at the end */
    const char *p = tmp.d;
    md_pg__buf_reserve(b, tmp.n + 64);
    md_pg__put16(b, 15);
    p += 2;
    memcpy(b->d + b->n, p, 8 + 6); /* sid (4+4), iv (4+2) */
    b->n += 14;
    p += 14;
    md_pg__put32(b, 2);
    md_pg__put16(b, (uint16_t)from_iv);
    size_t rest = tmp.n - (size_t)(p - tmp.d);
    memcpy(b->d + b->n, p, rest);
    b->n += rest;
    md_pg__put32(b, 8);
    md_pg__put64(b, (uint64_t)md_pg__ts_to_pg(r->last_ts));
    md_pg__put32(b, 4);
    md_pg__put32(b, (uint32_t)r->n);
    md_pg__buf_free(&tmp);
}

int md_pg__rollups_write(md_pg_conn *c, const md_pg_wseries *s, size_t n, md_error *err)
{
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) rows += s[i].rows.n;
    if (rows == 0) return 0;
    md_pg_buf b = {0};
    md_pg__copy_header(&b);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].rows.n; k++)
            copy_rollup(&b, s[i].sid, s[i].iv, &s[i].rows.v[k]);
    md_pg__copy_trailer(&b);
    PGresult *r = PQexec(c->pc, "COPY md_rollstage FROM STDIN (FORMAT binary)");
    int rc = 0;
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        rc = md_pg__fail(c, r, "copy rollups", err);
        PQclear(r);
        md_pg__buf_free(&b);
        return rc;
    }
    PQclear(r);
    if (PQputCopyData(c->pc, b.d, (int)b.n) != 1 || PQputCopyEnd(c->pc, NULL) != 1)
        rc = md_pg__fail(c, NULL, "copy rollups", err);
    while ((r = PQgetResult(c->pc)) != NULL) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = md_pg__fail(c, r, "copy rollups", err);
        PQclear(r);
    }
    md_pg__buf_free(&b);
    if (rc) return rc;
    return md_pg__exec(c,
                       "INSERT INTO rollups SELECT * FROM md_rollstage ORDER BY 1, 2, 3, 4"
                       " ON CONFLICT (symbol_id, iv, from_iv, ts) DO UPDATE SET"
                       " open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,"
                       " close = EXCLUDED.close, volume = EXCLUDED.volume, pv = EXCLUDED.pv,"
                       " trades = EXCLUDED.trades, source = EXCLUDED.source,"
                       " quality = EXCLUDED.quality, last_ts = EXCLUDED.last_ts, n = EXCLUDED.n",
                       "upsert rollups", err);
}

int md_pg__table_rollups(md_pg_conn *c, const char *symbol, md_interval iv, md_interval from_iv,
                         int64_t lo, int64_t hi, size_t limit, md_bar_vec *out, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_text(&p, symbol);
    md_pg__p_i16(&p, (int)iv);
    md_pg__p_i16(&p, (int)from_iv);
    md_pg__p_ts(&p, lo);
    md_pg__p_ts(&p, hi);
    if (limit) md_pg__p_i64(&p, (int64_t)limit);
    PGresult *r = NULL;
    int rc = md_pg__run(c, limit ? "roll_range_desc" : "roll_range", &p, &r, "read rollups", err);
    if (rc) return rc;
    int n = PQntuples(r);
    md_bar_vec_reserve(out, out->n + (size_t)n);
    for (int i = 0; i < n; i++) {
        md_rollup ro;
        read_rollup(r, limit ? n - 1 - i : i, &ro);
        md_bar b;
        md_rollup__final(&ro, &b);
        md_bar_vec_push(out, &b);
    }
    PQclear(r);
    return n;
}

/* -- rows built in SQL -------------------------------------------------------------------------- */

/* Rollup rows of target iv from every finer interval in bars, over the whole table or
 * ts >= $1 AND ts < $2 (ranged). Bucket expressions as store_pg.c's agg_plain. */
static void fill_sql(md_interval iv, int ranged, md_buf *b)
{
    int bound = 0;
    for (int f = 0; f < (int)iv; f++)
        if (md_interval_divides((md_interval)f, iv)) bound = f + 1;
    md_buf_reset(b);
    md_buf_puts(b, "INSERT INTO rollups SELECT symbol_id, ");
    md_buf_int(b, (int)iv);
    md_buf_puts(b, ", iv, ");
    if (iv == MD_IV_1MO) {
        md_buf_puts(b, "date_trunc('month', ts, 'UTC')");
    } else {
        md_buf_puts(b, "date_bin(INTERVAL '");
        md_buf_int(b, md_interval_seconds(iv));
        md_buf_puts(b, " seconds', ts, TIMESTAMPTZ '1970-01-05 00:00:00+00')");
    }
    md_buf_puts(b, " AS b, (array_agg(open ORDER BY ts))[1], max(high), min(low),"
                   " (array_agg(close ORDER BY ts DESC))[1], sum(volume ORDER BY ts),"
                   " CASE WHEN count(vwap) = count(*) THEN sum(vwap * volume ORDER BY ts) END,"
                   " CASE WHEN count(trades) = count(*) THEN sum(trades)::int8 END,"
                   " (array_agg(source ORDER BY ts DESC))[1], min(quality), max(ts),"
                   " count(*) FROM bars WHERE iv < ");
    md_buf_int(b, bound);
    if (ranged) md_buf_puts(b, " AND ts >= $1 AND ts < $2");
    md_buf_puts(b, " GROUP BY symbol_id, iv, b ON CONFLICT (symbol_id, iv, from_iv, ts) DO UPDATE"
                   " SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,"
                   " close = EXCLUDED.close, volume = EXCLUDED.volume, pv = EXCLUDED.pv,"
                   " trades = EXCLUDED.trades, source = EXCLUDED.source,"
                   " quality = EXCLUDED.quality, last_ts = EXCLUDED.last_ts, n = EXCLUDED.n");
    md_buf_putc(b, 0);
}

static const md_interval targets[] = {
#define X(iv) iv,
    MD_ROLLUP_IVS(X)
#undef X
};

int md_pg__rollups_fill(md_pg_conn *c, md_error *err)
{
    md_buf b;
    md_buf_init(&b);
    int rc = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(targets) && rc == 0; i++) {
        fill_sql(targets[i], 0, &b);
        rc = md_pg__exec(c, b.data, "fill rollups", err);
    }
    md_buf_deinit(&b);
    return rc;
}

/* -- retention ----------------------------------------------------------------------------------- */

int md_pg__retention_before_drop(md_pg_conn *c, const char *partition, md_error *err)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE;"
             "UPDATE series r SET n = r.n - c.n FROM (SELECT symbol_id, iv, count(*) AS n"
             " FROM %s GROUP BY 1, 2) c WHERE r.symbol_id = c.symbol_id AND r.iv = c.iv",
             partition, partition);
    return md_pg__exec(c, sql, "retention counts", err);
}

int md_pg__retention_after_drop(md_pg_conn *c, int64_t cutoff, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_ts(&p, cutoff);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c,
                            "UPDATE series r SET n = greatest(r.n, 0), first_ts = coalesce((SELECT"
                            " b.ts FROM bars b WHERE b.symbol_id = r.symbol_id AND b.iv = r.iv"
                            " AND b.ts >= $1::timestamptz ORDER BY b.ts LIMIT 1), r.first_ts)"
                            " WHERE r.first_ts < $1::timestamptz",
                            &p, &r, "retention bounds", err);
    PQclear(r);
    if (rc == 0)
        rc = md_pg__run_sql(c, "DELETE FROM rollups WHERE ts < $1::timestamptz", &p, &r,
                            "retention rollups", err);
    PQclear(r);
    /* the buckets that started before the cut and go on after it: from what is left */
    md_buf b;
    md_buf_init(&b);
    for (size_t i = 0; i < MD_ARRAY_LEN(targets) && rc == 0; i++) {
        int64_t k = md_rollup__bucket(targets[i], cutoff);
        if (k >= cutoff) continue;
        md_pg_params q = {0};
        md_pg__p_ts(&q, cutoff);
        md_pg__p_ts(&q, md_rollup__next(targets[i], k));
        fill_sql(targets[i], 1, &b);
        r = NULL;
        rc = md_pg__run_sql(c, b.data, &q, &r, "retention rollups", err);
        PQclear(r);
    }
    md_buf_deinit(&b);
    return rc;
}
