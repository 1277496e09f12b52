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
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    sqlite3 *db = st->wdb;
    sqlite3_stmt *s = NULL;
    rc = md_sqlite__prepare(db, SQL_PUT, &s, err);
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
            rc = md_sqlite__fail(err, db, step, "insert action");
        else
            changed += sqlite3_changes(db) > 0;
    }
    sqlite3_finalize(s);
    return md_sqlite__tx_end(st, rc ? rc : changed, err);
}

static void read_action(sqlite3_stmt *s, md_action *a)
{
    memset(a, 0, sizeof *a);
    md_sqlite__column_text(s, 0, a->symbol, sizeof a->symbol);
    a->ex_date = sqlite3_column_int64(s, 1);
    int t = md_action_type_parse((const char *)sqlite3_column_text(s, 2));
    a->type = (uint8_t)(t > 0 ? t : 0);
    a->source = (uint8_t)sqlite3_column_int(s, 3);
    a->numerator = sqlite3_column_double(s, 4);
    a->denominator = sqlite3_column_double(s, 5);
    a->amount = sqlite3_column_double(s, 6);
    md_sqlite__column_text(s, 7, a->currency, sizeof a->currency);
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
    int rc = md_sqlite__prepare(r->db, sql, &s, err);
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
    int ret = step == SQLITE_DONE ? (int)(out->n - before)
                                  : md_sqlite__fail(err, r->db, step, "read actions");
    if (ret < 0) out->n = before;
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    return ret;
}

int md_sqlite_put_symbol_ref(md_store *base, const md_symbol_ref *x, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    int rc = md_sqlite__tx_begin(st, err);
    if (rc) return rc;
    sqlite3 *db = st->wdb;
    sqlite3_stmt *s = NULL;
    int64_t sid = md_sqlite__symbol_id_create(st, x->symbol, err);
    if (sid < 0) rc = (int)sid;
    if (rc == 0)
        rc = md_sqlite__prepare(
            db,
            "INSERT INTO symbol_refs(symbol_id,currency,reported,zone,source,"
            "actions_checked,updated_at,exchange,dividends_refused)"
            " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"
            " ON CONFLICT(symbol_id) DO UPDATE SET currency=excluded.currency,"
            "reported=excluded.reported,zone=excluded.zone,source=excluded.source,"
            "actions_checked=excluded.actions_checked,updated_at=excluded.updated_at,"
            "exchange=excluded.exchange,dividends_refused=excluded.dividends_refused",
            &s, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, sid);
        sqlite3_bind_text(s, 2, x->currency, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, x->reported, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, x->zone, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, x->source);
        sqlite3_bind_int64(s, 6, x->actions_checked);
        sqlite3_bind_int64(s, 7, md_now());
        sqlite3_bind_text(s, 8, x->exchange, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 9, x->dividends_refused);
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE) rc = md_sqlite__fail(err, db, step, "write symbol reference");
    }
    sqlite3_finalize(s);
    return md_sqlite__tx_end(st, rc, err);
}

static void read_ref(sqlite3_stmt *s, void *elem)
{
    md_symbol_ref *x = elem;
    memset(x, 0, sizeof *x);
    md_sqlite__column_text(s, 0, x->symbol, sizeof x->symbol);
    md_sqlite__column_text(s, 1, x->currency, sizeof x->currency);
    md_sqlite__column_text(s, 2, x->reported, sizeof x->reported);
    md_sqlite__column_text(s, 3, x->zone, sizeof x->zone);
    x->source = (uint8_t)sqlite3_column_int(s, 4);
    x->actions_checked = sqlite3_column_int64(s, 5);
    md_sqlite__column_text(s, 6, x->exchange, sizeof x->exchange);
    x->dividends_refused = (uint8_t)sqlite3_column_int(s, 7);
}

#define SQL_REFS                                                                                   \
    "SELECT y.symbol,r.currency,r.reported,r.zone,r.source,r.actions_checked,r.exchange,"          \
    "r.dividends_refused FROM symbol_refs r JOIN symbols y ON y.id=r.symbol_id"

int md_sqlite_get_symbol_ref(md_store *base, const char *symbol, md_symbol_ref *out, md_error *err)
{
    md_sqlite_store *st = (md_sqlite_store *)base;
    md_sqlite_reader *r = md_sqlite__reader_get(st);
    sqlite3_stmt *s = NULL;
    int rc = md_sqlite__prepare(r->db, SQL_REFS " WHERE y.symbol=?1", &s, err);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, symbol, -1, SQLITE_STATIC);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            read_ref(s, out);
        else if (step == SQLITE_DONE)
            rc = md_error_set(err, MD_ENODATA, "no reference data for %s", symbol);
        else
            rc = md_sqlite__fail(err, r->db, step, "read symbol reference");
    }
    sqlite3_finalize(s);
    md_sqlite__reader_put(st, r);
    return rc;
}

int md_sqlite_list_symbol_refs(md_store *base, md_symbol_ref **out, md_error *err)
{
    return md_sqlite__list(base, SQL_REFS " ORDER BY y.symbol", "list symbol references",
                           sizeof **out, read_ref, out, err);
}
