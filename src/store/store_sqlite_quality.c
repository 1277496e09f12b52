/* store_sqlite_quality.c - quality findings and live marks in the embedded store.
 *
 * quality_events is keyed by (symbol_id, interval, ts, rule), so a series' findings are one
 * range of the primary key; the rule is stored as its code ("price_jump") so that stored
 * findings survive changes to the order of the rule tables. quality_live keeps, per series,
 * the newest bar that arrived while it was current. Writes go through the writer
 * connection, reads through the reader pool, like the bars. */
#include "store/sqlite_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <stdio.h>
#include <string.h>

/* 1 when findings are stored for the series in [t0, t1], 0 when not, or an error. */
static int any_findings(sqlite3 *db, int64_t sid, md_interval iv, int64_t t0, int64_t t1,
                        md_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = md_sqlite__prepare(
        db,
        "SELECT 1 FROM quality_events WHERE symbol_id=?1 AND interval=?2 AND ts>=?3"
        " AND ts<=?4 LIMIT 1",
        &s, err);
    if (rc) return rc;
    md_sqlite__bind_range(s, sid, iv, t0, t1);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    if (step == SQLITE_ROW) return 1;
    return step == SQLITE_DONE ? 0 : md_sqlite__fail(err, db, step, "find findings");
}

/* Deletes the findings at the timestamps ts (sorted), when there are any there. */
static int clear_findings(sqlite3 *db, int64_t sid, md_interval iv, const int64_t *ts, size_t n,
                          md_error *err)
{
    int rc = any_findings(db, sid, iv, ts[0], ts[n - 1], err);
    if (rc <= 0) return rc; /* nothing stored in the span: the common bulk case */
    sqlite3_stmt *s = NULL;
    rc = md_sqlite__prepare(
        db, "DELETE FROM quality_events WHERE symbol_id=?1 AND interval=?2 AND ts=?3", &s, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i && ts[i] == ts[i - 1]) continue;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, (int)iv);
        sqlite3_bind_int64(s, 3, ts[i]);
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE) rc = md_sqlite__fail(err, db, step, "clear findings");
    }
    sqlite3_finalize(s);
    return rc;
}

int md_sqlite_put_quality_events(md_store *base, const char *symbol, md_interval iv,
                                 const md_qevent *ev, size_t n, const int64_t *clear_ts,
                                 size_t n_clear, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    sqlite3 *db = st->wdb;
    if (n == 0) { /* only clearing: most writes have nothing to clear, and need no transaction */
        pthread_mutex_lock(&st->wlock);
        int64_t id = md_sqlite__symbol_id(st, db, symbol);
        int any = id ? any_findings(db, id, iv, clear_ts[0], clear_ts[n_clear - 1], err) : 0;
        pthread_mutex_unlock(&st->wlock);
        if (any <= 0) return any;
    }
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    sqlite3_stmt *s = NULL;
    int64_t sid = md_sqlite__symbol_id_create(st, symbol, err);
    if (sid < 0) rc = (int)sid;
    if (rc == 0 && n_clear) rc = clear_findings(db, sid, iv, clear_ts, n_clear, err);
    if (rc == 0 && n)
        rc = md_sqlite__prepare(
            db,
            "INSERT INTO quality_events(symbol_id,interval,ts,rule,severity,value,"
            "threshold,source,other_source,detail,recorded_at)"
            " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
            " ON CONFLICT(symbol_id,interval,ts,rule) DO UPDATE SET"
            " severity=excluded.severity,value=excluded.value,"
            "threshold=excluded.threshold,source=excluded.source,"
            "other_source=excluded.other_source,detail=excluded.detail,"
            "recorded_at=excluded.recorded_at",
            &s, err);
    int64_t now = md_now();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const md_qevent *e = &ev[i];
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, (int)iv);
        sqlite3_bind_int64(s, 3, e->ts);
        sqlite3_bind_text(s, 4, md_qrule_code(e->rule), -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 5, e->severity);
        md_sqlite__bind_opt_double(s, 6, e->value);
        md_sqlite__bind_opt_double(s, 7, e->limit);
        sqlite3_bind_int(s, 8, e->source);
        sqlite3_bind_int(s, 9, e->other_source);
        sqlite3_bind_text(s, 10, e->detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 11, now);
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE) rc = md_sqlite__fail(err, db, step, "insert finding");
    }
    sqlite3_finalize(s);
    return md_sqlite__tx_end(st, rc ? rc : (int)n, err);
}

static void read_event(sqlite3_stmt *s, md_qevent *e)
{
    memset(e, 0, sizeof *e);
    e->ts = sqlite3_column_int64(s, 0);
    const char *code = (const char *)sqlite3_column_text(s, 1);
    int r = code ? md_qrule_parse(code) : -1;
    e->rule = (int16_t)r;
    e->severity = (float)sqlite3_column_double(s, 2);
    e->value = sqlite3_column_type(s, 3) == SQLITE_NULL ? 0 : sqlite3_column_double(s, 3);
    e->limit = sqlite3_column_type(s, 4) == SQLITE_NULL ? 0 : sqlite3_column_double(s, 4);
    e->source = (uint8_t)sqlite3_column_int(s, 5);
    e->other_source = (uint8_t)sqlite3_column_int(s, 6);
    md_sqlite__column_text(s, 7, e->detail, sizeof e->detail);
}

int md_sqlite_get_quality_events(md_store *base, const char *symbol, md_interval iv, int64_t start,
                                 int64_t end, int rule, size_t limit, md_qevent_vec *out,
                                 md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    int64_t sid;
    md_sqlite_reader *r = md_sqlite__reader_for(st, symbol, &sid);
    if (!r) return 0;
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT ts,rule,severity,value,threshold,source,other_source,detail"
             " FROM quality_events WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 AND ts<?4"
             "%s ORDER BY ts %s, rule%s",
             rule >= 0 ? " AND rule=?5" : "", limit ? "DESC" : "", limit ? " LIMIT ?6" : "");
    sqlite3_stmt *s = NULL;
    int rc = md_sqlite__prepare(r->db, sql, &s, err);
    if (rc) {
        md_sqlite__reader_put(st, r);
        return rc;
    }
    md_sqlite__bind_range(s, sid, iv, start, end);
    if (rule >= 0) sqlite3_bind_text(s, 5, md_qrule_code(rule), -1, SQLITE_STATIC);
    if (limit) sqlite3_bind_int64(s, 6, (int64_t)limit);
    size_t before = out->n;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        md_qevent e;
        read_event(s, &e);
        if (e.rule < 0) continue; /* a rule this build does not know */
        md_qevent_vec_push(out, &e);
    }
    int ret = step == SQLITE_DONE ? (int)(out->n - before)
                                  : md_sqlite__fail(err, r->db, step, "read findings");
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    if (ret > 0 && limit) /* newest first from the query: back to oldest first */
        for (size_t i = before, j = out->n - 1; i < j; i++, j--) {
            md_qevent t = out->v[i];
            out->v[i] = out->v[j];
            out->v[j] = t;
        }
    return ret;
}

int md_sqlite_count_quality_events(md_store *base, const char *symbol, md_interval iv,
                                   int64_t start, int64_t end, int64_t count[],
                                   double severity_sum[], md_error *err)
{
    for (int i = 0; i < MD_QRULE_COUNT; i++) count[i] = 0, severity_sum[i] = 0;
    md_sqlite_store *st = (md_sqlite_store *)base;
    int64_t sid;
    md_sqlite_reader *r = md_sqlite__reader_for(st, symbol, &sid);
    if (!r) return 0;
    sqlite3_stmt *s = NULL;
    int rc =
        md_sqlite__prepare(r->db,
                           "SELECT rule, count(*), total(severity) FROM quality_events"
                           " WHERE symbol_id=?1 AND interval=?2 AND ts>=?3 AND ts<?4 GROUP BY rule",
                           &s, err);
    if (rc) {
        md_sqlite__reader_put(st, r);
        return rc;
    }
    md_sqlite__bind_range(s, sid, iv, start, end);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *code = (const char *)sqlite3_column_text(s, 0);
        int rule = code ? md_qrule_parse(code) : -1;
        if (rule < 0) continue;
        count[rule] = sqlite3_column_int64(s, 1);
        severity_sum[rule] = sqlite3_column_double(s, 2);
    }
    rc = step == SQLITE_DONE ? 0 : md_sqlite__fail(err, r->db, step, "count findings");
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    return rc;
}

int md_sqlite_list_quality_series(md_store *base, md_symbol_info **out, md_error *err)
{
    return md_sqlite__list(base,
                           "SELECT s.symbol, q.interval, min(q.ts), max(q.ts), count(*)"
                           " FROM quality_events q JOIN symbols s ON s.id=q.symbol_id"
                           " GROUP BY q.symbol_id, q.interval ORDER BY s.symbol, q.interval",
                           "list findings", sizeof **out, md_sqlite__symbol_info_row, out, err);
}

int md_sqlite_mark_live(md_store *base, const char *symbol, md_interval iv, int64_t bar_ts,
                        md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    sqlite3 *db = st->wdb;
    int64_t sid = md_sqlite__symbol_id_create(st, symbol, err);
    if (sid < 0) rc = (int)sid;
    sqlite3_stmt *s = NULL;
    if (rc == 0)
        rc = md_sqlite__prepare(db,
                                "INSERT INTO quality_live(symbol_id,interval,bar_ts,marked_at)"
                                " VALUES(?1,?2,?3,?4) ON CONFLICT(symbol_id,interval) DO UPDATE SET"
                                " bar_ts=max(bar_ts,excluded.bar_ts),marked_at=excluded.marked_at",
                                &s, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int(s, 2, (int)iv);
        sqlite3_bind_int64(s, 3, bar_ts);
        sqlite3_bind_int64(s, 4, md_now());
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE) rc = md_sqlite__fail(err, db, step, "mark live");
    }
    sqlite3_finalize(s);
    return md_sqlite__tx_end(st, rc, err);
}

int md_sqlite_get_live(md_store *base, const char *symbol, md_interval iv, int64_t *bar_ts,
                       md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = md_sqlite__symbol_id(st, r->db, symbol);
    int rc = MD_ENODATA;
    if (sid) {
        sqlite3_stmt *s = NULL;
        rc = md_sqlite__prepare(
            r->db, "SELECT bar_ts FROM quality_live WHERE symbol_id=?1 AND interval=?2", &s, err);
        if (rc == 0) {
            sqlite3_bind_int64(s, 1, sid);
            sqlite3_bind_int(s, 2, (int)iv);
            int step = sqlite3_step(s);
            if (step == SQLITE_ROW) {
                *bar_ts = sqlite3_column_int64(s, 0);
                rc = 0;
            } else {
                rc = step == SQLITE_DONE ? MD_ENODATA
                                         : md_sqlite__fail(err, r->db, step, "read live mark");
            }
        }
        sqlite3_finalize(s);
    }
    md_sqlite__reader_put(st, r);
    if (rc == MD_ENODATA)
        md_error_set(err, rc, "%s %s was never live", symbol, md_interval_name(iv));
    return rc;
}
