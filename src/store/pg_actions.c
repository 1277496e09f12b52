/* pg_actions.c - corporate actions and symbol reference rows in PostgreSQL (store.h).
 *
 * actions(symbol_id, ex_date, type, source, ...) is keyed by one source's record of one
 * event; an upsert that changes nothing returns no row (the WHERE of its conflict clause),
 * so a put counts only new or changed records. symbol_refs keeps one row per symbol. A
 * symbol's actions are few (tens): one statement per record, in one transaction. */
#include "store/pg_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <stdio.h>
#include <string.h>

#define SYM "(SELECT id FROM symbols WHERE symbol = $1)"

typedef struct aargs {
    const md_action *a;
    size_t n;
    const char *symbol;
    int64_t start, end;
    md_action_vec *out;
    const md_symbol_ref *ref;
    md_symbol_ref *ref_out;
    md_symbol_ref *list;
    int found;
} aargs;

static const char *SQL_PUT =
    "INSERT INTO actions AS a (symbol_id, ex_date, type, source, numerator, denominator, amount,"
    " currency, pay_date) VALUES(" SYM ", $2::timestamptz, $3, $4::int2, $5::float8, $6::float8,"
    " $7::float8, $8, $9::timestamptz)"
    " ON CONFLICT (symbol_id, ex_date, type, source) DO UPDATE SET"
    " numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,"
    " amount = EXCLUDED.amount, currency = EXCLUDED.currency, pay_date = EXCLUDED.pay_date,"
    " recorded_at = now()"
    " WHERE a.numerator IS DISTINCT FROM EXCLUDED.numerator"
    " OR a.denominator IS DISTINCT FROM EXCLUDED.denominator"
    " OR a.amount IS DISTINCT FROM EXCLUDED.amount OR a.currency IS DISTINCT FROM EXCLUDED.currency"
    " OR a.pay_date IS DISTINCT FROM EXCLUDED.pay_date RETURNING 1";

static int w_put(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    aargs *x = arg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < x->n; i++)
        if (i == 0 || strcmp(x->a[i].symbol, x->a[i - 1].symbol) != 0)
            rc = md_pg__ensure_symbol(c, x->a[i].symbol, err);
    if (rc == 0) rc = md_pg__exec(c, "BEGIN", "begin", err);
    if (rc) return rc;
    int changed = 0;
    for (size_t i = 0; rc == 0 && i < x->n; i++) {
        const md_action *a = &x->a[i];
        int split = a->type == MD_ACT_SPLIT;
        md_pg_params p = {0};
        md_pg__p_text(&p, a->symbol);
        md_pg__p_ts(&p, a->ex_date);
        md_pg__p_text(&p, md_action_type_name(a->type));
        md_pg__p_i16(&p, a->source);
        if (split) {
            md_pg__p_f64(&p, a->numerator);
            md_pg__p_f64(&p, a->denominator);
            md_pg__p_null(&p);
            md_pg__p_null(&p);
            md_pg__p_null(&p);
        } else {
            md_pg__p_null(&p);
            md_pg__p_null(&p);
            md_pg__p_f64(&p, a->amount);
            md_pg__p_text(&p, a->currency);
            if (a->pay_date)
                md_pg__p_ts(&p, a->pay_date);
            else
                md_pg__p_null(&p);
        }
        PGresult *r = NULL;
        rc = md_pg__run_sql(c, SQL_PUT, &p, &r, "insert action", err);
        if (rc == 0) changed += PQntuples(r) > 0;
        PQclear(r);
    }
    if (rc == 0) rc = md_pg__exec(c, "COMMIT", "commit", err);
    if (rc) md_pg__rollback(c);
    return rc ? rc : changed;
}

int md_pg__put_actions(md_store *base, const md_action *a, size_t n, md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    aargs x = {.a = a, .n = n};
    return md_pg__with_conn(st, w_put, &x, err);
}

static int w_get(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    aargs *x = arg;
    const char *sql =
        x->symbol
            ? "SELECT y.symbol, a.ex_date, a.type, a.source, a.numerator, a.denominator,"
              " a.amount, a.currency, a.pay_date FROM actions a JOIN symbols y"
              " ON y.id = a.symbol_id WHERE y.symbol = $1 AND a.ex_date >= $2::timestamptz"
              " AND a.ex_date < $3::timestamptz ORDER BY a.ex_date, a.type, a.source"
            : "SELECT y.symbol, a.ex_date, a.type, a.source, a.numerator, a.denominator,"
              " a.amount, a.currency, a.pay_date FROM actions a JOIN symbols y"
              " ON y.id = a.symbol_id WHERE $1::text IS NULL AND a.ex_date >= $2::timestamptz"
              " AND a.ex_date < $3::timestamptz ORDER BY y.symbol, a.ex_date, a.type, a.source";
    md_pg_params p = {0};
    if (x->symbol)
        md_pg__p_text(&p, x->symbol);
    else
        md_pg__p_null(&p);
    md_pg__p_ts(&p, md_pg__clamp_ts(x->start));
    md_pg__p_ts(&p, md_pg__clamp_ts(x->end));
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, sql, &p, &r, "read actions", err);
    if (rc) return rc;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        md_action a;
        memset(&a, 0, sizeof a);
        md_pg__get_text(r, i, 0, a.symbol, sizeof a.symbol);
        a.ex_date = md_pg__get_ts(r, i, 1);
        char type[16];
        md_pg__get_text(r, i, 2, type, sizeof type);
        int t = md_action_type_parse(type);
        a.type = (uint8_t)(t > 0 ? t : 0);
        a.source = (uint8_t)md_pg__get_i16(r, i, 3);
        if (!PQgetisnull(r, i, 4)) a.numerator = md_pg__get_f64(r, i, 4);
        if (!PQgetisnull(r, i, 5)) a.denominator = md_pg__get_f64(r, i, 5);
        if (!PQgetisnull(r, i, 6)) a.amount = md_pg__get_f64(r, i, 6);
        md_pg__get_text(r, i, 7, a.currency, sizeof a.currency);
        if (!PQgetisnull(r, i, 8)) a.pay_date = md_pg__get_ts(r, i, 8);
        md_action_vec_push(x->out, &a);
    }
    PQclear(r);
    return n;
}

int md_pg__get_actions(md_store *base, const char *symbol, int64_t start, int64_t end,
                       md_action_vec *out, md_error *err)
{
    aargs x = {.symbol = symbol, .start = start, .end = end, .out = out};
    size_t before = out->n;
    int rc = md_pg__with_conn((md_pg_store *)base, w_get, &x, err);
    if (rc < 0) out->n = before;
    return rc;
}

static int w_put_ref(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    const md_symbol_ref *x = ((aargs *)arg)->ref;
    int rc = md_pg__ensure_symbol(c, x->symbol, err);
    if (rc) return rc;
    md_pg_params p = {0};
    md_pg__p_text(&p, x->symbol);
    md_pg__p_text(&p, x->currency);
    md_pg__p_text(&p, x->reported);
    md_pg__p_text(&p, x->zone);
    md_pg__p_i16(&p, x->source);
    md_pg__p_i64(&p, x->actions_checked);
    md_pg__p_text(&p, x->exchange);
    md_pg__p_i16(&p, x->dividends_refused);
    return md_pg__run_sql(
        c,
        "INSERT INTO symbol_refs(symbol_id, currency, reported, zone, source,"
        " actions_checked, exchange, dividends_refused) VALUES(" SYM ", $2, $3, $4, $5::int2,"
        " $6::int8, $7, $8::int2)"
        " ON CONFLICT (symbol_id) DO UPDATE SET currency = EXCLUDED.currency,"
        " reported = EXCLUDED.reported, zone = EXCLUDED.zone, source = EXCLUDED.source,"
        " actions_checked = EXCLUDED.actions_checked, exchange = EXCLUDED.exchange,"
        " dividends_refused = EXCLUDED.dividends_refused, updated_at = now()",
        &p, NULL, "write symbol reference", err);
}

int md_pg__put_symbol_ref(md_store *base, const md_symbol_ref *r, md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    aargs x = {.ref = r};
    return md_pg__with_conn(st, w_put_ref, &x, err);
}

static void read_ref(const PGresult *r, int i, md_symbol_ref *x)
{
    memset(x, 0, sizeof *x);
    md_pg__get_text(r, i, 0, x->symbol, sizeof x->symbol);
    md_pg__get_text(r, i, 1, x->currency, sizeof x->currency);
    md_pg__get_text(r, i, 2, x->reported, sizeof x->reported);
    md_pg__get_text(r, i, 3, x->zone, sizeof x->zone);
    x->source = (uint8_t)md_pg__get_i16(r, i, 4);
    x->actions_checked = md_pg__get_i64(r, i, 5);
    md_pg__get_text(r, i, 6, x->exchange, sizeof x->exchange);
    x->dividends_refused = (uint8_t)md_pg__get_i16(r, i, 7);
}

static int w_refs(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    (void)st;
    aargs *x = arg;
    md_pg_params p = {0};
    md_pg__p_text(&p, x->symbol ? x->symbol : "");
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT y.symbol, r.currency, r.reported, r.zone, r.source, r.actions_checked,"
             " r.exchange, r.dividends_refused FROM symbol_refs r JOIN symbols y ON y.id = "
             "r.symbol_id WHERE %s"
             " ORDER BY y.symbol",
             x->symbol ? "y.symbol = $1" : "$1::text IS NOT NULL");
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, sql, &p, &r, "read symbol references", err);
    if (rc) return rc;
    int n = PQntuples(r);
    if (x->symbol) {
        if (n) read_ref(r, 0, x->ref_out);
    } else {
        x->list = md_malloc((size_t)(n ? n : 1) * sizeof *x->list);
        for (int i = 0; i < n; i++) read_ref(r, i, &x->list[i]);
    }
    PQclear(r);
    return n;
}

int md_pg__get_symbol_ref(md_store *base, const char *symbol, md_symbol_ref *out, md_error *err)
{
    aargs x = {.symbol = symbol, .ref_out = out};
    int rc = md_pg__with_conn((md_pg_store *)base, w_refs, &x, err);
    if (rc < 0) return rc;
    return rc ? 0 : md_error_set(err, MD_ENODATA, "no reference data for %s", symbol);
}

int md_pg__list_symbol_refs(md_store *base, md_symbol_ref **out, md_error *err)
{
    aargs x = {0};
    int rc = md_pg__with_conn((md_pg_store *)base, w_refs, &x, err);
    if (rc >= 0) *out = x.list;
    return rc;
}
