/* pg_write.c - writes to PostgreSQL: bar batches through COPY, quotes, symbol ids, meta.
 *
 * A put_bars call is one transaction:
 *   1. symbol ids (cached; new symbols inserted in their own statement - an id row without
 *      bars is invisible to every read)
 *   2. the partitions the batch needs, created beforehand in a short transaction of their
 *      own (pg_schema.c)
 *   3. BEGIN; binary COPY of the batch into the session's temporary staging table; one
 *      INSERT ... SELECT ... ON CONFLICT DO UPDATE into bars that also adds the newly
 *      inserted rows to the series counts; COMMIT.
 * Fast path (postgresql.direct_copy): when no series of the batch holds any row inside the
 * batch's time range (per the series table: a first load, or appending after the last bar)
 * the COPY goes straight into bars and the series counts grow by the batch size; nothing
 * can conflict, so it is the same upsert at COPY speed. Should a row be there anyway - a
 * concurrent writer between the check and the COPY, or rows written behind mdagent's back -
 * the primary key rejects the COPY (23505) and the batch goes through the staging path. Duplicate keys inside one call are resolved before
 * sending, the last one winning as in the sqlite backend. Bulk-load marks (store.h) given
 * with a batch are upserted before its COMMIT, so they hold exactly when its rows do. */
#include "store/pg_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (1 << 20)

static const char *BAR_COLUMNS =
    "(symbol_id, iv, ts, open, high, low, close, volume, vwap, trades, source, quality)";

int md_pg__setup_stage(md_pg_conn *c, int rollups, md_error *err)
{
    int rc = md_pg__exec(c,
                         "CREATE TEMP TABLE IF NOT EXISTS md_stage (LIKE bars INCLUDING DEFAULTS)"
                         " ON COMMIT DELETE ROWS",
                         "staging table", err);
    if (rc == 0 && rollups)
        rc = md_pg__exec(c,
                         "CREATE TEMP TABLE IF NOT EXISTS md_rollstage (LIKE rollups)"
                         " ON COMMIT DELETE ROWS",
                         "staging table", err);
    return rc;
}

/* -- symbol ids ------------------------------------------------------------------------------- */

int md_pg__ensure_symbol(md_pg_conn *c, const char *symbol, md_error *err)
{
    md_pg_params p = {0};
    md_pg__p_text(&p, symbol);
    return md_pg__run_sql(c,
                          "INSERT INTO symbols(symbol) VALUES($1) ON CONFLICT (symbol) DO NOTHING",
                          &p, NULL, "symbol id", err);
}

static int32_t sym_lookup(md_pg_store *st, const char *symbol)
{
    pthread_mutex_lock(&st->sym_lock);
    const int32_t *id = md_dict_find_str(&st->sym_ids, symbol);
    int32_t found = id ? *id : 0;
    pthread_mutex_unlock(&st->sym_lock);
    return found;
}

static void sym_store(md_pg_store *st, const char *symbol, int32_t id)
{
    pthread_mutex_lock(&st->sym_lock);
    int created;
    int32_t *v = md_dict_put_str(&st->sym_ids, symbol, &created);
    if (created) *v = id;
    pthread_mutex_unlock(&st->sym_lock);
}

/* The id of symbol, inserting the symbol when it is new (autocommit, outside any batch). */
static int symbol_id(md_pg_store *st, md_pg_conn *c, const char *symbol, int32_t *out,
                     md_error *err)
{
    int32_t id = sym_lookup(st, symbol);
    /* a row inserted by a concurrent writer after this statement's snapshot is invisible to
     * it: ON CONFLICT DO NOTHING returns nothing, so look again in a new statement */
    for (int attempt = 0; !id && attempt < 3; attempt++) {
        md_pg_params p = {0};
        md_pg__p_text(&p, symbol);
        PGresult *r = NULL;
        int rc = md_pg__run(c, attempt ? "sym_get" : "sym_ins", &p, &r, "symbol id", err);
        if (rc) return rc;
        if (PQntuples(r) == 1) id = md_pg__get_i32(r, 0, 0);
        PQclear(r);
    }
    if (!id) return md_error_set(err, MD_ESTORE, "postgresql: no id for symbol %s", symbol);
    sym_store(st, symbol, id);
    *out = id;
    return 0;
}

/* -- bars --------------------------------------------------------------------------------------- */

typedef struct wseries {
    const char *symbol;
    int iv;
    size_t order; /* position in the call, so the last duplicate wins */
    const md_bar *bars;
    size_t n;
    int32_t sid;
    md_bar_vec own; /* merged and de-duplicated bars when the input needed it */
} wseries;

typedef struct put_args {
    wseries *ws;
    size_t n_ws;
    int64_t *spans; /* partition starts the batch touches */
    size_t n_spans;
    md_pg_buf copy;
    md_pg_wseries *pw; /* the same series as handed to pg_rollup.c */
    int direct_failed;
    int reloaded;
    const md_load_mark *marks;
    size_t n_marks;
} put_args;

static int cmp_ws(const void *a, const void *b)
{
    const wseries *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    if (c) return c;
    if (x->iv != y->iv) return x->iv < y->iv ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int increasing(const md_bar *b, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (b[i].ts <= b[i - 1].ts) return 0;
    return 1;
}

/* Sorts the series by (symbol, interval) - one lock order for every writer - and merges
 * repeated keys and unsorted series. Returns the number of series left. */
static size_t normalize(wseries *ws, size_t n)
{
    qsort(ws, n, sizeof *ws, cmp_ws);
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ws[j].iv == ws[i].iv && strcmp(ws[j].symbol, ws[i].symbol) == 0) j++;
        wseries g = ws[i];
        if (j - i > 1 || !increasing(g.bars, g.n)) {
            md_bar_vec_init(&g.own);
            for (size_t k = i; k < j; k++)
                for (size_t m = 0; m < ws[k].n; m++) md_bar_vec_push(&g.own, &ws[k].bars[m]);
            md_bar_vec_sort_dedup(&g.own);
            g.bars = g.own.v;
            g.n = g.own.n;
        }
        if (g.n)
            ws[w++] = g;
        else
            md_bar_vec_deinit(&g.own);
        i = j;
    }
    return w;
}

static int copy_in(md_pg_conn *c, const char *sql, const md_pg_buf *buf, char state[6],
                   md_error *err)
{
    state[0] = 0;
    PGresult *r = PQexec(c->pc, sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        snprintf(state, 6, "%s", md_pg__state(r));
        int rc = md_pg__fail(c, r, "copy", err);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    for (size_t off = 0; off < buf->n; off += COPY_CHUNK) {
        size_t len = buf->n - off < COPY_CHUNK ? buf->n - off : COPY_CHUNK;
        if (PQputCopyData(c->pc, buf->d + off, (int)len) != 1) break;
    }
    PQputCopyEnd(c->pc, NULL);
    int rc = 0;
    while ((r = PQgetResult(c->pc)) != NULL) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(state, 6, "%s", md_pg__state(r));
            rc = md_pg__fail(c, r, "copy", err);
        }
        PQclear(r);
        if (PQstatus(c->pc) != CONNECTION_OK) break;
    }
    if (rc == 0 && PQstatus(c->pc) != CONNECTION_OK) rc = md_pg__fail(c, NULL, "copy", err);
    return rc;
}

/* Array parameters describing each series of the batch. */
static void series_arrays(const put_args *a, md_pg_buf bufs[5], md_pg_params *p, int with_counts)
{
    size_t n = a->n_ws;
    int64_t *v = md_malloc(n * sizeof *v);
    for (int col = 0; col < (with_counts ? 5 : 4); col++) {
        for (size_t i = 0; i < n; i++) {
            const wseries *s = &a->ws[i];
            v[i] = col == 0   ? s->sid
                   : col == 1 ? s->iv
                   : col == 2 ? s->bars[0].ts
                   : col == 3 ? s->bars[s->n - 1].ts
                              : (int64_t)s->n;
        }
        static const unsigned oid[] = {MD_PG_INT4OID, MD_PG_INT2OID, MD_PG_TSTZOID, MD_PG_TSTZOID,
                                       MD_PG_INT8OID};
        static const int len[] = {4, 2, 8, 8, 8};
        md_pg__array(&bufs[col], oid[col], len[col], v, n, col == 2 || col == 3);
        md_pg__p_bytes(p, bufs[col].d, (int)bufs[col].n);
    }
    md_free(v);
}

/* Locks the batch's series against other mdagent writers (native layout: the rollups are
 * computed from what is stored) and reads what the series table says about each. */
static int read_series(md_pg_store *st, put_args *a, md_pg_conn *c, md_error *err)
{
    size_t n = a->n_ws;
    int64_t *v = md_malloc(n * sizeof *v);
    int rc = 0;
    if (!st->timescale) {
        /* one lock key per series, taken in ascending order by every writer */
        for (size_t i = 0; i < n; i++) v[i] = (int64_t)a->ws[i].sid * 16 + a->ws[i].iv;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
                int64_t t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
            }
        md_pg_buf kb = {0};
        md_pg__array(&kb, MD_PG_INT8OID, 8, v, n, 0);
        md_pg_params p = {0};
        md_pg__p_bytes(&p, kb.d, (int)kb.n);
        PGresult *r = NULL;
        rc = md_pg__run(c, "series_lock", &p, &r, "lock series", err);
        PQclear(r);
        md_pg__buf_free(&kb);
    }
    md_free(v);
    if (rc) return rc;
    md_pg_buf bufs[5] = {{0}};
    md_pg_params p = {0};
    series_arrays(a, bufs, &p, 0);
    p.n = 2; /* symbol ids and intervals */
    PGresult *r = NULL;
    rc = md_pg__run(c, "series_get", &p, &r, "read series", err);
    for (int i = 0; i < 5; i++) md_pg__buf_free(&bufs[i]);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) a->pw[i].stored = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        int32_t sid = md_pg__get_i32(r, row, 0);
        int iv = md_pg__get_i16(r, row, 1);
        for (size_t i = 0; i < n; i++) {
            if (a->ws[i].sid != sid || a->ws[i].iv != iv) continue;
            a->pw[i].stored = 1;
            a->pw[i].first = md_pg__get_ts(r, row, 2);
            a->pw[i].last = md_pg__get_ts(r, row, 3);
        }
    }
    PQclear(r);
    return 0;
}

/* 1 when no series of the batch holds a bar inside the batch's time range (per the series
 * table, read by read_series): nothing can conflict. */
static int ranges_empty(const put_args *a)
{
    for (size_t i = 0; i < a->n_ws; i++) {
        const md_pg_wseries *w = &a->pw[i];
        if (w->stored && w->bars[0].ts <= w->last && w->bars[w->n - 1].ts >= w->first) return 0;
    }
    return 1;
}

static int series_add(put_args *a, md_pg_conn *c, md_error *err)
{
    md_pg_buf bufs[5] = {{0}};
    md_pg_params p = {0};
    series_arrays(a, bufs, &p, 1);
    PGresult *r = NULL;
    int rc = md_pg__run(c, "series_add", &p, &r, "series counts", err);
    for (int i = 0; i < 5; i++) md_pg__buf_free(&bufs[i]);
    PQclear(r);
    return rc;
}

static int write_marks(md_pg_conn *c, const put_args *a, md_error *err)
{
    for (size_t i = 0; i < a->n_marks; i++) {
        const md_load_mark *m = &a->marks[i];
        md_pg_params p = {0};
        md_pg__p_text(&p, m->path);
        md_pg__p_i64(&p, m->size);
        md_pg__p_i64(&p, m->mtime_ns);
        md_pg__p_i64(&p, m->offset);
        md_pg__p_i64(&p, m->lines);
        md_pg__p_i64(&p, m->rows);
        md_pg__p_i64(&p, m->rejected);
        md_pg__p_i16(&p, m->interval);
        md_pg__p_i16(&p, m->done ? 1 : 0);
        PGresult *r = NULL;
        int rc = md_pg__run(c, "mark_put", &p, &r, "write load mark", err);
        PQclear(r);
        if (rc) return rc;
    }
    return 0;
}

/* One attempt at the batch's transaction. A direct COPY that meets a row (a writer outside
 * mdagent got into the range) sets direct_failed and returns MD_EAGAIN: the caller runs it
 * again through the staging table. */
static int write_tx(md_pg_store *st, md_pg_conn *c, put_args *a, md_error *err)
{
    char state[6] = "";
    int rc = md_pg__exec(c, "BEGIN", "begin", err);
    if (rc) return rc;
    if (a->n_ws == 0) { /* marks only */
        rc = write_marks(c, a, err);
        if (rc == 0) rc = md_pg__exec(c, "COMMIT", "commit", err);
        if (rc) md_pg__rollback(c);
        return rc;
    }
    rc = read_series(st, a, c, err);
    if (rc) goto fail;
    int direct = st->opt.pg_direct_copy && !a->direct_failed && ranges_empty(a);
    if (!st->timescale && (rc = md_pg__rollups_plan(c, a->pw, a->n_ws, err)) != 0) goto fail;
    char sql[160];
    snprintf(sql, sizeof sql, "COPY %s %s FROM STDIN (FORMAT binary)", direct ? "bars" : "md_stage",
             BAR_COLUMNS);
    rc = copy_in(c, sql, &a->copy, state, err);
    if (rc == 0 && direct) rc = series_add(a, c, err);
    if (rc && direct && strcmp(state, "23505") == 0) {
        MD_DEBUG("store", "direct copy met existing rows; using the staging table");
        md_pg__rollback(c);
        a->direct_failed = 1;
        return MD_EAGAIN;
    }
    if (rc) goto fail;
    if (!direct) {
        PGresult *r = NULL;
        rc = md_pg__run(c, "merge", NULL, &r, "upsert bars", err);
        PQclear(r);
        if (rc) goto fail;
    }
    if (!st->timescale && (rc = md_pg__rollups_write(c, a->pw, a->n_ws, err)) != 0) goto fail;
    rc = write_marks(c, a, err);
    if (rc) goto fail;
    rc = md_pg__exec(c, "COMMIT", "commit", err);
    if (rc == 0) {
        for (size_t i = 0; i < a->n_ws; i++)
            md_pg__note_written(st, (md_interval)a->ws[i].iv, a->ws[i].bars[0].ts,
                                a->ws[i].bars[a->ws[i].n - 1].ts);
        return 0;
    }
fail:
    md_pg__rollback(c);
    return rc;
}

static int write_batch(md_pg_store *st, md_pg_conn *c, put_args *a, md_error *err)
{
    int rc = write_tx(st, c, a, err);
    if (rc == MD_EAGAIN && a->direct_failed && !c->lost) rc = write_tx(st, c, a, err);
    return rc;
}

static int w_put_bars(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    put_args *a = arg;
    for (size_t i = 0; i < a->n_ws; i++) {
        if (a->ws[i].sid) continue;
        int rc = symbol_id(st, c, a->ws[i].symbol, &a->ws[i].sid, err);
        if (rc) return rc;
    }
    for (size_t i = 0; i < a->n_ws; i++) {
        a->pw[i].sid = a->ws[i].sid;
        a->pw[i].iv = (md_interval)a->ws[i].iv;
        a->pw[i].bars = a->ws[i].bars;
        a->pw[i].n = a->ws[i].n;
    }
    int rc = md_pg__ensure_partitions(st, c, a->spans, a->n_spans, err);
    if (rc) return rc;
    if (!a->copy.n) {
        size_t rows = 0;
        for (size_t i = 0; i < a->n_ws; i++) rows += a->ws[i].n;
        md_pg__buf_reserve(&a->copy, 32 + rows * 140);
        md_pg__copy_header(&a->copy);
        for (size_t i = 0; i < a->n_ws; i++)
            for (size_t k = 0; k < a->ws[i].n; k++)
                md_pg__copy_bar(&a->copy, a->ws[i].sid, a->ws[i].iv, &a->ws[i].bars[k]);
        md_pg__copy_trailer(&a->copy);
    }
    rc = write_batch(st, c, a, err);
    if (rc < 0 && !c->lost && !a->reloaded && strcmp(c->state, "23514") == 0) {
        /* no partition for a row: someone dropped one behind the cache; reload and retry */
        a->reloaded = 1;
        md_pg__load_partitions(st, c, NULL);
        rc = MD_EAGAIN;
    }
    return rc;
}

static int put_bars(md_store *base, const md_series *series, size_t n_series,
                    const md_load_mark *marks, size_t n_marks, md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    size_t total = 0;
    for (size_t i = 0; i < n_series; i++) {
        for (size_t k = 0; k < series[i].n; k++) {
            int64_t ts = series[i].bars[k].ts;
            if (ts < MD_TS_MIN || ts > MD_TS_MAX)
                return md_error_set(err, MD_EINVAL, "bar timestamp %lld of %s is out of range",
                                    (long long)ts, series[i].symbol);
        }
        if ((unsigned)series[i].iv >= MD_IV_COUNT)
            return md_error_set(err, MD_EINVAL, "bad interval for %s", series[i].symbol);
        total += series[i].n;
    }
    if (total == 0 && n_marks == 0) return 0;
    put_args a = {0};
    a.marks = marks;
    a.n_marks = n_marks;
    a.ws = md_calloc(n_series ? n_series : 1, sizeof *a.ws);
    for (size_t i = 0; i < n_series; i++) {
        a.ws[i].symbol = series[i].symbol;
        a.ws[i].iv = (int)series[i].iv;
        a.ws[i].order = i;
        a.ws[i].bars = series[i].bars;
        a.ws[i].n = series[i].n;
    }
    a.n_ws = normalize(a.ws, n_series);
    a.pw = md_calloc(a.n_ws ? a.n_ws : 1, sizeof *a.pw);
    /* the partition starts the batch touches, deduplicated along sorted series */
    size_t cap = 16;
    a.spans = md_malloc(cap * sizeof *a.spans);
    for (size_t i = 0; i < a.n_ws; i++) {
        int64_t prev = INT64_MIN;
        for (size_t k = 0; k < a.ws[i].n; k++) {
            int64_t lo = md_pg__span_floor(st->opt.pg_partition_span, a.ws[i].bars[k].ts);
            if (lo == prev) continue;
            prev = lo;
            size_t j = 0;
            while (j < a.n_spans && a.spans[j] != lo) j++;
            if (j < a.n_spans) continue;
            if (a.n_spans == cap) a.spans = md_realloc(a.spans, (cap *= 2) * sizeof *a.spans);
            a.spans[a.n_spans++] = lo;
        }
    }
    int rc = md_pg__with_conn(st, w_put_bars, &a, err);
    for (size_t i = 0; i < a.n_ws; i++) {
        md_bar_vec_deinit(&a.ws[i].own);
        md_rollup_vec_deinit(&a.pw[i].rows);
    }
    md_free(a.pw);
    md_free(a.ws);
    md_free(a.spans);
    md_pg__buf_free(&a.copy);
    return rc < 0 ? rc : (int)total;
}

int md_pg__put_bars(md_store *base, const md_series *series, size_t n_series, md_error *err)
{
    return put_bars(base, series, n_series, NULL, 0, err);
}

int md_pg__put_bars_marked(md_store *base, const md_series *series, size_t n_series,
                           const md_load_mark *marks, size_t n_marks, md_error *err)
{
    return put_bars(base, series, n_series, marks, n_marks, err);
}

/* -- quotes ------------------------------------------------------------------------------------- */

typedef struct quote_args {
    const md_quote *q;
    int stored;
} quote_args;

static int w_put_quote(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    quote_args *a = arg;
    int32_t sid = 0;
    int rc = symbol_id(st, c, a->q->symbol, &sid, err);
    if (rc) return rc;
    md_pg_params p = {0};
    md_pg__p_i32(&p, sid);
    md_pg__p_ts(&p, a->q->ts);
    md_pg__p_f64(&p, a->q->price);
    md_pg__p_f64(&p, a->q->volume);
    md_pg__p_f64(&p, a->q->bid);
    md_pg__p_f64(&p, a->q->ask);
    md_pg__p_i16(&p, a->q->source);
    md_pg__p_f32(&p, a->q->quality);
    PGresult *r = NULL;
    rc = md_pg__run(c, "put_quote", &p, &r, "upsert quote", err);
    if (rc) return rc;
    a->stored = strtol(PQcmdTuples(r), NULL, 10) > 0; /* "" for no count: not stored */
    PQclear(r);
    return 0;
}

int md_pg__put_quote(md_store *base, const md_quote *q, md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    if (q->ts < MD_TS_MIN || q->ts > MD_TS_MAX)
        return md_error_set(err, MD_EINVAL, "quote timestamp of %s is out of range", q->symbol);
    quote_args a = {q, 0};
    int rc = md_pg__with_conn(st, w_put_quote, &a, err);
    return rc < 0 ? rc : a.stored;
}

/* -- meta --------------------------------------------------------------------------------------- */

typedef struct metaset_args {
    const char *const *keys, *const *vals;
    size_t n;
} metaset_args;

static int w_meta_set(md_pg_store *st, md_pg_conn *c, void *arg, md_error *err)
{
    metaset_args *a = arg;
    int rc = md_pg__exec(c, "BEGIN", "begin", err);
    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        md_pg_params p = {0};
        md_pg__p_text(&p, a->keys[i]);
        if (a->vals[i]) md_pg__p_text(&p, a->vals[i]);
        PGresult *r = NULL;
        rc = md_pg__run(c, a->vals[i] ? "meta_set" : "meta_del", &p, &r, "write meta", err);
        PQclear(r);
    }
    if (rc == 0) rc = md_pg__exec(c, "COMMIT", "commit", err);
    if (rc) md_pg__rollback(c);
    return rc;
}

int md_pg__meta_set(md_store *base, const char *const *keys, const char *const *vals, size_t n,
                    md_error *err)
{
    md_pg_store *st = (md_pg_store *)base;
    if (st->opt.read_only) return md_error_set(err, MD_ESTORE, "store opened read-only");
    metaset_args a = {keys, vals, n};
    return md_pg__with_conn(st, w_meta_set, &a, err);
}
