/* store_sqlite_actions.c - corporate actions and symbol reference rows in the embedded store.
 *
 * actions is keyed by (symbol_id, ex_date, type, source): a symbol's actions are one range of
 * the primary key, in date order; the type is stored by its name ("split") like the rule
 * codes of quality_events. An upsert that changes nothing is not counted (the WHERE of the
 * conflict clause), which tells the caller whether cached answers went stale. symbol_refs
 * keeps one row per symbol. Writes go through the writer connection, reads through the
 * reader pool. */
#include "store/sqlite_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <stdio.h>
#include <string.h>

static int fail(md_error *err, sqlite3 *db, int rc, const char *what)
{
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR ||
                rc == SQLITE_FULL || rc == SQLITE_CANTOPEN)
                   ? MD_EUNAVAIL
                   : MD_ESTORE;
    return md_error_set(err, code, "sqlite %s: %s", what, sqlite3_errmsg(db));
}

static int run(sqlite3 *db, const char *sql, md_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(err, db, rc, sql);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, md_error *err)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : fail(err, db, rc, "prepare");
}

static const char *SQL_PUT =
    "INSERT INTO actions(symbol_id,ex_date,type,source,numerator,denominator,amount,currency,"
    "pay_date,recorded_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
    " ON CONFLICT(symbol_id,ex_date,type,source) DO UPDATE SET numerator=excluded.numerator,"
    "denominator=excluded.denominator,amount=excluded.amount,currency=excluded.currency,"
    "pay_date=excluded.pay_date,recorded_at=excluded.recorded_at"
    " WHERE actions.numerator IS NOT excluded.numerator"
    " OR actions.denominator IS NOT excluded.denominator OR actions.amount IS NOT excluded.amount"
    " OR actions.currency IS NOT excluded.currency OR actions.pay_date IS NOT excluded.pay_date";

int md_sqlite_put_actions(md_store *base, const md_action *a, size_t n, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    pthread_mutex_lock(&st->wlock);
    sqlite3 *db = st->wdb;
    int rc = run(db, "BEGIN IMMEDIATE", err);
    if (rc) {
        pthread_mutex_unlock(&st->wlock);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = prepare(db, SQL_PUT, &s, err);
    int changed = 0;
    int64_t now = md_now();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const md_action *x = &a[i];
        int64_t sid = md_sqlite__symbol_id_create(st, x->symbol, err);
        if (sid < 0) {
            rc = (int)sid;
            break;
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_int64(s, 2, x->ex_date);
        sqlite3_bind_text(s, 3, md_action_type_name(x->type), -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, x->source);
        if (x->type == MD_ACT_SPLIT) {
            sqlite3_bind_double(s, 5, x->numerator);
            sqlite3_bind_double(s, 6, x->denominator);
        } else {
            sqlite3_bind_double(s, 7, x->amount);
            sqlite3_bind_text(s, 8, x->currency, -1, SQLITE_STATIC);
            if (x->pay_date) sqlite3_bind_int64(s, 9, x->pay_date);
        }
        sqlite3_bind_int64(s, 10, now);
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE)
            rc = fail(err, db, step, "insert action");
        else
            changed += sqlite3_changes(db) > 0;
    }
    sqlite3_finalize(s);
    if (rc == 0) rc = run(db, "COMMIT", err);
    if (rc) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        md_sqlite__symbol_ids_forget(st);
    }
    pthread_mutex_unlock(&st->wlock);
    return rc ? rc : changed;
}

static void read_action(sqlite3_stmt *s, md_action *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->symbol, sizeof a->symbol, "%s", (const char *)sqlite3_column_text(s, 0));
    a->ex_date = sqlite3_column_int64(s, 1);
    int t = md_action_type_parse((const char *)sqlite3_column_text(s, 2));
    a->type = (uint8_t)(t > 0 ? t : 0);
    a->source = (uint8_t)sqlite3_column_int(s, 3);
    a->numerator = sqlite3_column_double(s, 4);
    a->denominator = sqlite3_column_double(s, 5);
    a->amount = sqlite3_column_double(s, 6);
    const char *c = (const char *)sqlite3_column_text(s, 7);
    snprintf(a->currency, sizeof a->currency, "%s", c ? c : "");
    a->pay_date = sqlite3_column_int64(s, 8);
}

int md_sqlite_get_actions(md_store *base, const char *symbol, int64_t start, int64_t end,
                          md_action_vec *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    int64_t sid = symbol ? md_sqlite__symbol_id(st, r->db, symbol) : 0;
    if (symbol && !sid) {
        md_sqlite__reader_put(st, r);
        return 0;
    }
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT y.symbol,a.ex_date,a.type,a.source,a.numerator,a.denominator,a.amount,"
             "a.currency,a.pay_date FROM actions a JOIN symbols y ON y.id=a.symbol_id"
             " WHERE a.ex_date>=?2 AND a.ex_date<?3%s ORDER BY %sa.ex_date,a.type,a.source",
             symbol ? " AND a.symbol_id=?1" : "", symbol ? "" : "y.symbol,");
    sqlite3_stmt *s = NULL;
    int rc = prepare(r->db, sql, &s, err);
    if (rc) {
        md_sqlite__reader_put(st, r);
        return rc;
    }
    if (symbol) sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int64(s, 2, start);
    sqlite3_bind_int64(s, 3, end);
    size_t before = out->n;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        md_action a;
        read_action(s, &a);
        md_action_vec_push(out, &a);
    }
    int ret = step == SQLITE_DONE ? (int)(out->n - before) : fail(err, r->db, step, "read actions");
    if (ret < 0) out->n = before;
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    return ret;
}

int md_sqlite_put_symbol_ref(md_store *base, const md_symbol_ref *x, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    pthread_mutex_lock(&st->wlock);
    sqlite3 *db = st->wdb;
    int rc = run(db, "BEGIN IMMEDIATE", err);
    sqlite3_stmt *s = NULL;
    int64_t sid = 0;
    if (rc == 0) {
        sid = md_sqlite__symbol_id_create(st, x->symbol, err);
        if (sid < 0) rc = (int)sid;
    }
    if (rc == 0)
        rc = prepare(db,
                     "INSERT INTO symbol_refs(symbol_id,currency,reported,zone,source,"
                     "actions_checked,updated_at) VALUES(?1,?2,?3,?4,?5,?6,?7)"
                     " ON CONFLICT(symbol_id) DO UPDATE SET currency=excluded.currency,"
                     "reported=excluded.reported,zone=excluded.zone,source=excluded.source,"
                     "actions_checked=excluded.actions_checked,updated_at=excluded.updated_at",
                     &s, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_text(s, 2, x->currency, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, x->reported, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, x->zone, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, x->source);
        sqlite3_bind_int64(s, 6, x->actions_checked);
        sqlite3_bind_int64(s, 7, md_now());
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE) rc = fail(err, db, step, "write symbol reference");
    }
    sqlite3_finalize(s);
    if (rc == 0) rc = run(db, "COMMIT", err);
    if (rc) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        md_sqlite__symbol_ids_forget(st);
    }
    pthread_mutex_unlock(&st->wlock);
    return rc;
}

static void read_ref(sqlite3_stmt *s, md_symbol_ref *x)
{
    memset(x, 0, sizeof *x);
    snprintf(x->symbol, sizeof x->symbol, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(x->currency, sizeof x->currency, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(x->reported, sizeof x->reported, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(x->zone, sizeof x->zone, "%s", (const char *)sqlite3_column_text(s, 3));
    x->source = (uint8_t)sqlite3_column_int(s, 4);
    x->actions_checked = sqlite3_column_int64(s, 5);
}

static const char *SQL_REFS = "SELECT y.symbol,r.currency,r.reported,r.zone,r.source,"
                              "r.actions_checked FROM symbol_refs r JOIN symbols y"
                              " ON y.id=r.symbol_id";

int md_sqlite_get_symbol_ref(md_store *base, const char *symbol, md_symbol_ref *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    char sql[256];
    snprintf(sql, sizeof sql, "%s WHERE y.symbol=?1", SQL_REFS);
    sqlite3_stmt *s = NULL;
    int rc = prepare(r->db, sql, &s, err);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, symbol, -1, SQLITE_STATIC);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            read_ref(s, out);
        else if (step == SQLITE_DONE)
            rc = md_error_set(err, MD_ENODATA, "no reference data for %s", symbol);
        else
            rc = fail(err, r->db, step, "read symbol reference");
    }
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    return rc;
}

int md_sqlite_list_symbol_refs(md_store *base, md_symbol_ref **out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    char sql[256];
    snprintf(sql, sizeof sql, "%s ORDER BY y.symbol", SQL_REFS);
    sqlite3_stmt *s = NULL;
    int rc = prepare(r->db, sql, &s, err);
    size_t n = 0, cap = 8;
    md_symbol_ref *v = md_malloc(cap * sizeof *v);
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) v = md_realloc(v, (cap *= 2) * sizeof *v);
        read_ref(s, &v[n++]);
    }
    if (rc == 0 && step != SQLITE_DONE) rc = fail(err, r->db, step, "list symbol references");
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    if (rc) {
        md_free(v);
        return rc;
    }
    *out = v;
    return (int)n;
}
