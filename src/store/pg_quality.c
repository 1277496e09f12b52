/* pg_quality.c - quality findings and live marks in PostgreSQL (store.h "quality findings").
 *
 * quality_events(symbol_id, iv, ts, rule, ...) is keyed like the bars plus the rule code;
 * quality_live(symbol_id, iv, bar_ts) keeps the newest bar a series received while it was
 * current. Every statement takes bound parameters (the symbol as text, resolved to its id
 * in SQL); a put is one transaction: clear the rewritten bars' findings, then upsert the new
 * ones in one statement (columns as arrays, unnested). */
#include "store/pg_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYM "(SELECT id FROM symbols WHERE symbol = $1)"

typedef struct qargs {
    const char *symbol;
    md_interval iv;
    const md_qevent *ev;
    size_t n;
    const int64_t *clear;
    size_t n_clear;
    int64_t start, end;
    int rule;
    size_t limit;
    md_qevent_vec *out;
    int64_t *count;
    double *sev;
    int64_t bar_ts;
} qargs;

static void key_params(md_pg_params *p, const qargs *a)
{
    md_pg__p_text(p, a->symbol);
    md_pg__p_i16(p, (int)a->iv);
}

/* 1 when findings are stored for the series in [t0, t1]. */
static int any_findings(md_pg_conn *c, const qargs *a, int64_t t0, int64_t t1, md_error *err)
{
    md_pg_params p = {0};
    key_params(&p, a);
    md_pg__p_ts(&p, t0);
    md_pg__p_ts(&p, t1);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c,
                            "SELECT 1 FROM quality_events WHERE symbol_id = " SYM
                            " AND iv = $2::int2 AND ts >= $3::timestamptz AND ts <= $4::timestamptz"
                            " LIMIT 1",
                            &p, &r, "find findings", err);
    if (rc) return rc;
    int any = PQntuples(r) > 0;
    PQclear(r);
    return any;
}

/* The findings of a call go in one statement: each column as a binary array, unnested.
 * (One statement a finding made a bulk load of 20 million bars with 155,000 findings spend
 * most of its time in round trips.) Repeated (ts, rule) keys are resolved before sending,
 * the last one winning as the row-by-row upsert did. */
static const char *SQL_PUT =
    "INSERT INTO quality_events(symbol_id, iv, ts, rule, severity, value, threshold, source,"
    " other_source, detail) SELECT " SYM ", $2::int2, u.ts, u.rule, u.sev, u.val, u.thr, u.src,"
    " u.osrc, u.det FROM unnest($3::timestamptz[], $4::text[], $5::float4[], $6::float8[],"
    " $7::float8[], $8::int2[], $9::int2[], $10::text[])"
    " AS u(ts, rule, sev, val, thr, src, osrc, det)"
    " ON CONFLICT (symbol_id, iv, ts, rule) DO UPDATE SET"
    " severity = EXCLUDED.severity, value = EXCLUDED.value, threshold = EXCLUDED.threshold,"
    " source = EXCLUDED.source, other_source = EXCLUDED.other_source, detail = EXCLUDED.detail,"
    " recorded_at = now()";

/* One-dimensional binary array header; elements follow (length, bytes; -1 for NULL). */
static void arr_head(md_pg_buf *b, unsigned oid, size_t n, int nulls)
{
    md_pg__put32(b, 1);
    md_pg__put32(b, nulls ? 1 : 0);
    md_pg__put32(b, oid);
    md_pg__put32(b, (uint32_t)n);
    md_pg__put32(b, 1);
}

static void arr_f8(md_pg_buf *b, double v)
{
    if (isnan(v)) {
        md_pg__put32(b, (uint32_t)-1);
        return;
    }
    md_pg__put32(b, 8);
    md_pg__put_f64(b, v);
}

static void arr_text(md_pg_buf *b, const char *s)
{
    size_t n = strlen(s);
    md_pg__put32(b, (uint32_t)n);
    md_pg__buf_reserve(b, n);
    memcpy(b->d + b->n, s, n);
    b->n += n;
}

static const md_qevent *cmp_ev_base;
static int cmp_ev(const void *x, const void *y)
{
    const md_qevent *a = &cmp_ev_base[*(const size_t *)x], *b = &cmp_ev_base[*(const size_t *)y];
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    if (a->rule != b->rule) return a->rule < b->rule ? -1 : 1;
    return (*(const size_t *)x > *(const size_t *)y) - (*(const size_t *)x < *(const size_t *)y);
}

static pthread_mutex_t cmp_lock = PTHREAD_MUTEX_INITIALIZER;

/* Inserts (upserts) the findings in one statement. */
static int put_findings(md_pg_conn *c, const qargs *a, md_error *err)
{
    /* input order, then keep the last of each (ts, rule) */
    size_t *ord = md_malloc(a->n * sizeof *ord), m = 0;
    for (size_t i = 0; i < a->n; i++) ord[i] = i;
    pthread_mutex_lock(&cmp_lock); /* qsort has no context argument */
    cmp_ev_base = a->ev;
    qsort(ord, a->n, sizeof *ord, cmp_ev);
    pthread_mutex_unlock(&cmp_lock);
    for (size_t i = 0; i < a->n; i++) {
        const md_qevent *e = &a->ev[ord[i]];
        if (i + 1 < a->n && a->ev[ord[i + 1]].ts == e->ts && a->ev[ord[i + 1]].rule == e->rule)
            continue;
        ord[m++] = ord[i];
    }
    md_pg_buf col[8] = {{0}};
    int nulls_val = 0, nulls_thr = 0;
    for (size_t i = 0; i < m; i++) {
        nulls_val |= isnan(a->ev[ord[i]].value);
        nulls_thr |= isnan(a->ev[ord[i]].limit);
    }
    arr_head(&col[0], MD_PG_TSTZOID, m, 0);
    arr_head(&col[1], MD_PG_TEXTOID, m, 0);
    arr_head(&col[2], MD_PG_FLOAT4OID, m, 0);
    arr_head(&col[3], MD_PG_FLOAT8OID, m, nulls_val);
    arr_head(&col[4], MD_PG_FLOAT8OID, m, nulls_thr);
    arr_head(&col[5], MD_PG_INT2OID, m, 0);
    arr_head(&col[6], MD_PG_INT2OID, m, 0);
    arr_head(&col[7], MD_PG_TEXTOID, m, 0);
    for (size_t i = 0; i < m; i++) {
        const md_qevent *e = &a->ev[ord[i]];
        md_pg__put32(&col[0], 8);
        md_pg__put64(&col[0], (uint64_t)md_pg__ts_to_pg(e->ts));
        arr_text(&col[1], md_qrule_code(e->rule));
        float sev = e->severity < 0 ? 0 : e->severity;
        uint32_t bits;
        memcpy(&bits, &sev, 4);
        md_pg__put32(&col[2], 4);
        md_pg__put32(&col[2], bits);
        arr_f8(&col[3], e->value);
        arr_f8(&col[4], e->limit);
        md_pg__put32(&col[5], 2);
        md_pg__put16(&col[5], (uint16_t)e->source);
        md_pg__put32(&col[6], 2);
        md_pg__put16(&col[6], (uint16_t)e->other_source);
        arr_text(&col[7], e->detail);
    }
    md_pg_params p = {0};
    key_params(&p, a);
    for (int k = 0; k < 8; k++) md_pg__p_bytes(&p, col[k].d, (int)col[k].n);
    int rc = md_pg__run_sql(c, SQL_PUT, &p, NULL, "insert findings", err);
    for (int k = 0; k < 8; k++) md_pg__buf_free(&col[k]);
    md_free(ord);
    return rc;
}

static int w_put(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    qargs *a = arg;
    if (a->n == 0) { /* only clearing: most writes have nothing to clear */
        int any = any_findings(c, a, a->clear[0], a->clear[a->n_clear - 1], err);
        if (any <= 0) return any;
    }
    int rc = md_pg__ensure_symbol(c, a->symbol, err);
    if (rc == 0) rc = md_pg__exec(c, "BEGIN", "begin", err);
    if (rc) return rc;
    if (a->n_clear) {
        md_pg_buf arr = {0};
        md_pg__array(&arr, MD_PG_TSTZOID, 8, a->clear, a->n_clear, 1);
        md_pg_params p = {0};
        key_params(&p, a);
        md_pg__p_bytes(&p, arr.d, (int)arr.n);
        rc = md_pg__run_sql(c,
                            "DELETE FROM quality_events WHERE symbol_id = " SYM " AND iv = $2::int2"
                            " AND ts = ANY($3::timestamptz[])",
                            &p, NULL, "clear findings", err);
        md_pg__buf_free(&arr);
    }
    if (rc == 0 && a->n) rc = put_findings(c, a, err);
    if (rc == 0) rc = md_pg__exec(c, "COMMIT", "commit", err);
    if (rc) md_pg__rollback(c);
    return rc ? rc : (int)a->n;
}

int md_pg__put_quality_events(md_store *base, const char *symbol, md_interval iv,
                              const md_qevent *ev, size_t n, const int64_t *clear_ts,
                              size_t n_clear, md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    qargs a = {.symbol = symbol, .iv = iv, .ev = ev, .n = n, .clear = clear_ts, .n_clear = n_clear};
    return md_pg__with_conn(st, w_put, &a, err);
}

static int w_get(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    qargs *a = arg;
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT ts, rule, severity, value, threshold, source, other_source, detail"
             " FROM quality_events WHERE symbol_id = " SYM " AND iv = $2::int2"
             " AND ts >= $3::timestamptz AND ts < $4::timestamptz%s ORDER BY ts%s, rule%s",
             a->rule >= 0 ? " AND rule = $5" : "", a->limit ? " DESC" : "",
             a->limit ? (a->rule >= 0 ? " LIMIT $6::int8" : " LIMIT $5::int8") : "");
    md_pg_params p = {0};
    key_params(&p, a);
    md_pg__p_ts(&p, md_pg__clamp_ts(a->start));
    md_pg__p_ts(&p, md_pg__clamp_ts(a->end));
    if (a->rule >= 0) md_pg__p_text(&p, md_qrule_code(a->rule));
    if (a->limit) md_pg__p_i64(&p, (int64_t)a->limit);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c, sql, &p, &r, "read findings", err);
    if (rc) return rc;
    int n = PQntuples(r);
    size_t before = a->out->n;
    for (int k = 0; k < n; k++) {
        int i = a->limit ? n - 1 - k : k; /* newest first with a limit */
        md_qevent e;
        memset(&e, 0, sizeof e);
        char code[64];
        snprintf(code, sizeof code, "%.*s", PQgetlength(r, i, 1), PQgetvalue(r, i, 1));
        int rule = md_qrule_parse(code);
        if (rule < 0) continue; /* a rule this build does not know */
        e.ts = md_pg__get_ts(r, i, 0);
        e.rule = (int16_t)rule;
        e.severity = md_pg__get_f32(r, i, 2);
        e.value = md_pg__get_f64(r, i, 3);
        e.limit = md_pg__get_f64(r, i, 4);
        if (isnan(e.value)) e.value = 0;
        if (isnan(e.limit)) e.limit = 0;
        e.source = (uint8_t)md_pg__get_i16(r, i, 5);
        e.other_source = (uint8_t)md_pg__get_i16(r, i, 6);
        snprintf(e.detail, sizeof e.detail, "%.*s", PQgetlength(r, i, 7), PQgetvalue(r, i, 7));
        md_qevent_vec_push(a->out, &e);
    }
    PQclear(r);
    return (int)(a->out->n - before);
}

int md_pg__get_quality_events(md_store *base, const char *symbol, md_interval iv, int64_t start,
                              int64_t end, int rule, size_t limit, md_qevent_vec *out,
                              md_error *err)
{
    if (md_pg__clamp_ts(start) >= md_pg__clamp_ts(end)) return 0;
    qargs a = {.symbol = symbol,
               .iv = iv,
               .start = start,
               .end = end,
               .rule = rule,
               .limit = limit,
               .out = out};
    return md_pg__with_conn((md_pg_store *)base, w_get, &a, err);
}

static int w_count(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    qargs *a = arg;
    md_pg_params p = {0};
    key_params(&p, a);
    md_pg__p_ts(&p, md_pg__clamp_ts(a->start));
    md_pg__p_ts(&p, md_pg__clamp_ts(a->end));
    PGresult *r = NULL;
    int rc = md_pg__run_sql(c,
                            "SELECT rule, count(*)::int8, sum(severity)::float8 FROM quality_events"
                            " WHERE symbol_id = " SYM " AND iv = $2::int2"
                            " AND ts >= $3::timestamptz AND ts < $4::timestamptz GROUP BY rule",
                            &p, &r, "count findings", err);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        char code[64];
        snprintf(code, sizeof code, "%.*s", PQgetlength(r, i, 0), PQgetvalue(r, i, 0));
        int rule = md_qrule_parse(code);
        if (rule < 0) continue;
        a->count[rule] = md_pg__get_i64(r, i, 1);
        a->sev[rule] = md_pg__get_f64(r, i, 2);
    }
    PQclear(r);
    return 0;
}

int md_pg__count_quality_events(md_store *base, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int64_t count[], double severity_sum[], md_error *err)
{
    for (int i = 0; i < MD_QRULE_COUNT; i++) count[i] = 0, severity_sum[i] = 0;
    if (md_pg__clamp_ts(start) >= md_pg__clamp_ts(end)) return 0;
    qargs a = {.symbol = symbol,
               .iv = iv,
               .start = start,
               .end = end,
               .count = count,
               .sev = severity_sum};
    return md_pg__with_conn((md_pg_store *)base, w_count, &a, err);
}

int md_pg__list_quality_series(md_store *base, md_symbol_info **out, md_error *err)
{
    return md_pg__list(base, md_pg__run_sql,
                       "SELECT s.symbol, q.iv, min(q.ts), max(q.ts), count(*)::int8"
                       " FROM quality_events q JOIN symbols s ON s.id = q.symbol_id"
                       " GROUP BY s.symbol, q.iv ORDER BY s.symbol, q.iv",
                       "list findings", sizeof **out, md_pg__symbol_info_row, out, err);
}

static int w_mark(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    qargs *a = arg;
    int rc = md_pg__ensure_symbol(c, a->symbol, err);
    if (rc) return rc;
    md_pg_params p = {0};
    key_params(&p, a);
    md_pg__p_ts(&p, a->bar_ts);
    return md_pg__run_sql(c,
                          "INSERT INTO quality_live AS l (symbol_id, iv, bar_ts) VALUES(" SYM
                          ", $2::int2,"
                          " $3::timestamptz) ON CONFLICT (symbol_id, iv) DO UPDATE SET"
                          " bar_ts = greatest(l.bar_ts, EXCLUDED.bar_ts), marked_at = now()",
                          &p, NULL, "mark live", err);
}

int md_pg__mark_live(md_store *base, const char *symbol, md_interval iv, int64_t bar_ts,
                     md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    qargs a = {.symbol = symbol, .iv = iv, .bar_ts = bar_ts};
    return md_pg__with_conn(st, w_mark, &a, err);
}

static int w_live(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    qargs *a = arg;
    md_pg_params p = {0};
    key_params(&p, a);
    PGresult *r = NULL;
    int rc = md_pg__run_sql(
        c, "SELECT bar_ts FROM quality_live WHERE symbol_id = " SYM " AND iv = $2::int2", &p, &r,
        "read live mark", err);
    if (rc) return rc;
    int found = PQntuples(r) == 1;
    if (found) a->bar_ts = md_pg__get_ts(r, 0, 0);
    PQclear(r);
    return found;
}

int md_pg__get_live(md_store *base, const char *symbol, md_interval iv, int64_t *bar_ts,
                    md_error *err)
{
    qargs a = {.symbol = symbol, .iv = iv};
    int rc = md_pg__with_conn((md_pg_store *)base, w_live, &a, err);
    if (rc < 0) return rc;
    if (rc == 0)
        return md_error_set(err, MD_ENODATA, "%s %s was never live", symbol, md_interval_name(iv));
    *bar_ts = a.bar_ts;
    return 0;
}
