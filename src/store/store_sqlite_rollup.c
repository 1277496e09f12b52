/* store_sqlite_rollup.c - what the SQLite store keeps beside the bars, in the same write
 * transaction: the series table (per symbol and interval: first and last time, row count;
 * /symbols and md_store_get_bars_agg read it instead of scanning bars) and the rollups table
 * (store/rollup.h: materialised coarse buckets of every stored finer interval).
 *
 *   series(symbol_id, interval, first_ts, last_ts, n)
 *   rollups(symbol_id, interval, from_interval, ts, open, high, low, close, volume, pv, trades,
 *           source, quality, last_ts, n)     pv = vwap * volume summed in time order
 *
 * A write of one series (md_sqlite__write_derived) runs inside put_tx's transaction, around
 * the bar upserts: it reads the series row, plans the rollups (md_rollup__plan), reads the
 * stored bars and rollup rows the plan asks for, lets the bars be written, then upserts the
 * new rollup rows and the series row. The writer connection is the only one that writes. */
#include "store/rollup.h"
#include "store/sqlite_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *md_sqlite__derived_schema =
    "CREATE TABLE series(symbol_id INTEGER NOT NULL, interval INTEGER NOT NULL,"
    " first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(symbol_id, interval)) WITHOUT ROWID;"
    "CREATE TABLE rollups(symbol_id INTEGER NOT NULL, interval INTEGER NOT NULL,"
    " from_interval INTEGER NOT NULL, ts INTEGER NOT NULL, open REAL NOT NULL,"
    " high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL, pv REAL,"
    " trades INTEGER, source INTEGER NOT NULL, quality REAL, last_ts INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY(symbol_id, interval, from_interval, ts)) WITHOUT ROWID;";

#define ROLL_COLS "ts,open,high,low,close,volume,pv,trades,source,quality,last_ts,n"

int md_sqlite__derived_prepare(md_sqlite_store *st)
{
    sqlite3 *db = st->wdb;
    st->w_series_get = md_sqlite__prep(
        db, "SELECT first_ts,last_ts,n FROM series WHERE symbol_id=?1 AND interval=?2");
    st->w_series_put =
        md_sqlite__prep(db, "INSERT INTO series(symbol_id,interval,first_ts,last_ts,n)"
                            " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(symbol_id,interval) DO UPDATE"
                            " SET first_ts=excluded.first_ts,last_ts=excluded.last_ts,"
                            "n=excluded.n");
    st->w_range =
        md_sqlite__prep(db, "SELECT ts,open,high,low,close,volume,vwap,trades,source,quality FROM"
                            " bars WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 AND ts<?4"
                            " ORDER BY ts");
    st->w_roll_get = md_sqlite__prep(db, "SELECT " ROLL_COLS " FROM rollups WHERE symbol_id=?1 AND"
                                         " interval=?2 AND from_interval=?3 AND ts=?4");
    st->w_roll_put = md_sqlite__prep(
        db, "INSERT INTO rollups(symbol_id,interval,from_interval," ROLL_COLS ")"
            " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"
            " ON CONFLICT(symbol_id,interval,from_interval,ts) DO UPDATE SET"
            " open=excluded.open,high=excluded.high,low=excluded.low,close=excluded.close,"
            "volume=excluded.volume,pv=excluded.pv,trades=excluded.trades,"
            "source=excluded.source,quality=excluded.quality,last_ts=excluded.last_ts,"
            "n=excluded.n");
    return st->w_series_get && st->w_series_put && st->w_range && st->w_roll_get && st->w_roll_put
               ? 0
               : -1;
}

void md_sqlite__derived_finalize(md_sqlite_store *st)
{
    sqlite3_finalize(st->w_series_get);
    sqlite3_finalize(st->w_series_put);
    sqlite3_finalize(st->w_range);
    sqlite3_finalize(st->w_roll_get);
    sqlite3_finalize(st->w_roll_put);
}

/* -- rows ----------------------------------------------------------------------------------- */

static void read_bar(sqlite3_stmt *s, int c, md_bar *b)
{
    b->ts = sqlite3_column_int64(s, c);
    b->open = sqlite3_column_double(s, c + 1);
    b->high = sqlite3_column_double(s, c + 2);
    b->low = sqlite3_column_double(s, c + 3);
    b->close = sqlite3_column_double(s, c + 4);
    b->volume = sqlite3_column_double(s, c + 5);
    b->vwap = sqlite3_column_type(s, c + 6) == SQLITE_NULL ? NAN : sqlite3_column_double(s, c + 6);
    b->trades = sqlite3_column_type(s, c + 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, c + 7);
    b->source = (uint8_t)sqlite3_column_int(s, c + 8);
    b->quality = sqlite3_column_type(s, c + 9) == SQLITE_NULL
                     ? -1.0f
                     : (float)sqlite3_column_double(s, c + 9);
}

/* A rollup row from ROLL_COLS starting at column 0 (bar.vwap carries pv, as stored). */
static void read_rollup(sqlite3_stmt *s, md_interval iv, md_rollup *r)
{
    read_bar(s, 0, &r->bar);
    r->iv = iv;
    r->pv = r->bar.vwap;
    r->bar.vwap = NAN;
    r->last_ts = sqlite3_column_int64(s, 10);
    r->n = sqlite3_column_int64(s, 11);
}

static int put_rollup(md_sqlite_store *st, int64_t sid, md_interval from_iv, const md_rollup *r,
                      md_error *err)
{
    sqlite3_stmt *s = st->w_roll_put;
    const md_bar *b = &r->bar;
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int(s, 2, (int)r->iv);
    sqlite3_bind_int(s, 3, (int)from_iv);
    sqlite3_bind_int64(s, 4, b->ts);
    sqlite3_bind_double(s, 5, b->open);
    sqlite3_bind_double(s, 6, b->high);
    sqlite3_bind_double(s, 7, b->low);
    sqlite3_bind_double(s, 8, b->close);
    sqlite3_bind_double(s, 9, b->volume);
    md_sqlite__bind_opt_double(s, 10, r->pv);
    if (b->trades >= 0)
        sqlite3_bind_int64(s, 11, b->trades);
    else
        sqlite3_bind_null(s, 11);
    sqlite3_bind_int(s, 12, b->source);
    if (b->quality >= 0)
        sqlite3_bind_double(s, 13, b->quality);
    else
        sqlite3_bind_null(s, 13);
    sqlite3_bind_int64(s, 14, r->last_ts);
    sqlite3_bind_int64(s, 15, r->n);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : md_sqlite__fail(err, st->wdb, rc, "upsert rollup");
}

static int read_range(md_sqlite_store *st, int64_t sid, md_interval iv, int64_t lo, int64_t hi,
                      md_bar_vec *out, md_error *err)
{
    sqlite3_stmt *s = st->w_range;
    md_sqlite__bind_range(s, sid, iv, lo, hi);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        md_bar b;
        read_bar(s, 0, &b);
        md_bar_vec_push(out, &b);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : md_sqlite__fail(err, st->wdb, rc, "read stored bars");
}

/* -- writes ---------------------------------------------------------------------------------- */

/* The series row of (sid, iv): 1 found, 0 none, < 0 error. */
static int series_get(md_sqlite_store *st, int64_t sid, md_interval iv, int64_t *first,
                      int64_t *last, int64_t *n, md_error *err)
{
    sqlite3_stmt *s = st->w_series_get;
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int(s, 2, (int)iv);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW) {
        *first = sqlite3_column_int64(s, 0);
        *last = sqlite3_column_int64(s, 1);
        *n = sqlite3_column_int64(s, 2);
        found = *n > 0;
    } else if (rc != SQLITE_DONE) {
        found = md_sqlite__fail(err, st->wdb, rc, "read series");
    }
    sqlite3_reset(s);
    return found;
}

static int series_put(md_sqlite_store *st, int64_t sid, md_interval iv, int64_t first, int64_t last,
                      int64_t n, md_error *err)
{
    sqlite3_stmt *s = st->w_series_put;
    md_sqlite__bind_range(s, sid, iv, first, last);
    sqlite3_bind_int64(s, 5, n);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : md_sqlite__fail(err, st->wdb, rc, "write series");
}

/* Reads the stored bars and rollup rows plan p asks for and builds the rows to upsert. */
static int plan_rows(md_sqlite_store *st, int64_t sid, md_rollup_plan *p, const md_bar *b, size_t n,
                     md_rollup_vec *rows, int64_t *replaced, md_error *err)
{
    md_bar_vec stored;
    md_bar_vec_init(&stored);
    md_rollup_vec have = {0};
    int rc = 0;
    for (size_t w = 0; w < p->n_want && rc == 0; w++) {
        sqlite3_stmt *s = st->w_roll_get;
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, (int)p->want_iv[w]);
        sqlite3_bind_int(s, 3, (int)p->from_iv);
        sqlite3_bind_int64(s, 4, p->want_ts[w]);
        int src = sqlite3_step(s);
        if (src == SQLITE_ROW) {
            md_rollup r;
            read_rollup(s, p->want_iv[w], &r);
            md_rollup_vec_push(&have, &r);
        } else if (src != SQLITE_DONE) {
            rc = md_sqlite__fail(err, st->wdb, src, "read rollup");
        }
        sqlite3_reset(s);
    }
    for (int round = 0; rc == 0 && round < 2; round++) {
        stored.n = 0;
        if (p->read_lo < p->read_hi)
            rc = read_range(st, sid, p->from_iv, p->read_lo, p->read_hi, &stored, err);
        if (rc) break;
        if (md_rollup__build(p, b, n, stored.v, stored.n, have.v, have.n, rows, replaced) == 0)
            break;
        if (round == 1) rc = md_error_set(err, MD_ESTORE, "rollup plan did not settle");
    }
    md_bar_vec_deinit(&stored);
    md_rollup_vec_deinit(&have);
    return rc;
}

int md_sqlite__write_derived(md_sqlite_store *st, const md_series *se, int64_t sid,
                             int (*write_bars)(md_sqlite_store *, const md_series *, int64_t,
                                               md_error *),
                             md_error *err)
{
    /* rollups and counts need the series sorted, one bar per timestamp (the last wins, as in
     * the upsert) */
    const md_bar *b = se->bars;
    size_t n = se->n;
    md_bar_vec own;
    md_bar_vec_init(&own);
    for (size_t i = 1; i < n; i++) {
        if (b[i].ts <= b[i - 1].ts) {
            for (size_t k = 0; k < n; k++) md_bar_vec_push(&own, &se->bars[k]);
            md_bar_vec_sort_dedup(&own);
            b = own.v;
            n = own.n;
            break;
        }
    }
    int64_t first = 0, last = 0, count = 0;
    int rc = series_get(st, sid, se->iv, &first, &last, &count, err);
    int stored = rc > 0;
    md_rollup_plan p;
    md_rollup_vec rows = {0};
    int64_t replaced = 0;
    if (rc >= 0) {
        md_rollup__plan(&p, se->iv, b, n, stored, first, last);
        rc = plan_rows(st, sid, &p, b, n, &rows, &replaced, err);
        md_rollup__plan_free(&p);
    }
    if (rc == 0) {
        md_series sorted = {se->symbol, se->iv, b, n};
        rc = write_bars(st, &sorted, sid, err);
    }
    for (size_t i = 0; rc == 0 && i < rows.n; i++)
        rc = put_rollup(st, sid, se->iv, &rows.v[i], err);
    if (rc == 0) {
        int64_t f = stored && first < b[0].ts ? first : b[0].ts;
        int64_t l = stored && last > b[n - 1].ts ? last : b[n - 1].ts;
        rc = series_put(st, sid, se->iv, f, l, count + (int64_t)n - replaced, err);
    }
    md_rollup_vec_deinit(&rows);
    md_bar_vec_deinit(&own);
    return rc;
}

/* Fills series and rollups from the bars already stored (the migration that adds them). */
int md_sqlite__fill_derived(md_sqlite_store *st, md_error *err)
{
    int rc = 0;
    char *msg = NULL;
    if (sqlite3_exec(st->wdb,
                     "INSERT INTO series SELECT symbol_id, interval, min(ts), max(ts), count(*)"
                     " FROM bars GROUP BY symbol_id, interval",
                     NULL, NULL, &msg) != SQLITE_OK) {
        rc = md_error_set(err, MD_ESTORE, "sqlite fill series: %s", msg ? msg : "");
        sqlite3_free(msg);
        return rc;
    }
    sqlite3_stmt *list = NULL;
    sqlite3_prepare_v2(st->wdb, "SELECT symbol_id, interval FROM series", -1, &list, NULL);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_rollup_vec rows = {0};
    int src = SQLITE_DONE;
    while (rc == 0 && (src = sqlite3_step(list)) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_int64(list, 0);
        md_interval iv = (md_interval)sqlite3_column_int(list, 1);
        md_interval t[MD_IV_COUNT];
        if (md_rollup__targets(iv, t) == 0) continue;
        v.n = 0;
        rows.n = 0;
        rc = read_range(st, sid, iv, MD_TS_MIN, MD_TS_MAX + 1, &v, err);
        if (rc == 0) md_rollup__all(iv, v.v, v.n, &rows);
        for (size_t i = 0; rc == 0 && i < rows.n; i++)
            rc = put_rollup(st, sid, iv, &rows.v[i], err);
    }
    /* a step that failed would otherwise read as "no more series": rollups left unbuilt */
    if (rc == 0 && src != SQLITE_DONE)
        rc = md_error_set(err, MD_ESTORE, "sqlite fill rollups: %s", sqlite3_errmsg(st->wdb));
    sqlite3_finalize(list);
    md_bar_vec_deinit(&v);
    md_rollup_vec_deinit(&rows);
    return rc;
}

/* -- reads ----------------------------------------------------------------------------------- */

int md_sqlite_series_of(md_store *base, const char *symbol, md_symbol_info out[MD_IV_COUNT],
                        md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    if (!st->derived) return 1; /* an older store opened read-only */
    for (int i = 0; i < MD_IV_COUNT; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].iv = (md_interval)i;
    }
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = md_sqlite__symbol_id(st, r->db, symbol);
    int rc = 0;
    if (sid) {
        sqlite3_stmt *s = r->series_of;
        sqlite3_bind_int64(s, 1, sid);
        int src;
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            int iv = sqlite3_column_int(s, 0);
            if (iv < 0 || iv >= MD_IV_COUNT) continue;
            out[iv].first_ts = sqlite3_column_int64(s, 1);
            out[iv].last_ts = sqlite3_column_int64(s, 2);
            out[iv].count = sqlite3_column_int64(s, 3);
        }
        if (src != SQLITE_DONE) rc = md_sqlite__fail(err, r->db, src, "read series");
        sqlite3_reset(s);
    }
    md_sqlite__reader_put(st, r);
    return rc;
}

int md_sqlite_get_rollups(md_store *base, const char *symbol, md_interval iv, md_interval from_iv,
                          int64_t lo, int64_t hi, size_t limit, md_bar_vec *out, md_range *holes,
                          size_t *n_holes, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    (void)holes;
    *n_holes = 0; /* kept in the write transactions: always current */
    int64_t sid;
    md_sqlite_reader *r = md_sqlite__reader_for(st, symbol, &sid);
    if (!r) return 0;
    sqlite3_stmt *s = limit ? r->rollups_desc : r->rollups;
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int(s, 2, (int)iv);
    sqlite3_bind_int(s, 3, (int)from_iv);
    sqlite3_bind_int64(s, 4, lo);
    sqlite3_bind_int64(s, 5, hi);
    if (limit) sqlite3_bind_int64(s, 6, (int64_t)limit);
    size_t before = out->n;
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        md_rollup ro;
        read_rollup(s, iv, &ro);
        md_bar b;
        md_rollup__final(&ro, &b);
        md_bar_vec_push(out, &b);
    }
    int ret = (int)(out->n - before);
    if (src != SQLITE_DONE) ret = md_sqlite__fail(err, r->db, src, "read rollups");
    sqlite3_reset(s);
    md_sqlite__reader_put(st, r);
    if (ret > 0 && limit) {
        for (size_t i = before, j = out->n - 1; i < j; i++, j--) {
            md_bar t = out->v[i];
            out->v[i] = out->v[j];
            out->v[j] = t;
        }
    }
    return ret;
}

const char *md_sqlite__sql_series_of =
    "SELECT interval, first_ts, last_ts, n FROM series WHERE symbol_id=?1 AND n > 0";
const char *md_sqlite__sql_rollups = "SELECT " ROLL_COLS " FROM rollups WHERE symbol_id=?1 AND"
                                     " interval=?2 AND from_interval=?3 AND ts>=?4 AND ts<?5"
                                     " ORDER BY ts";
const char *md_sqlite__sql_rollups_desc =
    "SELECT " ROLL_COLS " FROM rollups WHERE symbol_id=?1 AND interval=?2 AND from_interval=?3"
    " AND ts>=?4 AND ts<?5 ORDER BY ts DESC LIMIT ?6";
