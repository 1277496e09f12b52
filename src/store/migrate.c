/* migrate.c - copy every series and quote from one store to another, resumably, then verify.
 *
 *   open source (read-only) and target
 *   copy:   for each source series (symbol, interval), oldest first, from its checkpoint:
 *             scan a batch -> upsert into the target -> checkpoint = last copied ts
 *           small series share one batch (one target transaction, one checkpoint write)
 *   quotes: every source quote upserted (newer-or-equal wins, so a re-run changes nothing)
 *   actions: every corporate action record and symbol reference row upserted (few rows:
 *           no checkpoint; a re-run changes nothing)
 *   quality: every (symbol, interval) with findings, all its findings upserted (one finding
 *           per bar and rule), a checkpoint per series; then every live mark
 *   verify: every source series scanned on both sides over the source series' time range:
 *           row count + FNV-1a checksum of every value; the same for each series of
 *           findings; quotes and live marks field by field; actions and symbol references
 *           of the source's symbols by count and checksum. What only the target holds (a
 *           store that already had other symbols) is counted, not compared: the
 *           verification covers what was copied
 *
 * Checkpoints live in the target's meta table under "migrate.<source-id>.<iv>.<symbol>",
 * where source-id hashes the source URL (password removed), so migrating from another
 * store never trusts them. Writing a batch and then its checkpoint are two transactions: a
 * kill between them copies that batch again on resume, which the upsert makes harmless. */
#include "store/migrate.h"
#include "store/store_int.h"

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "quality/quality.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void md_migrate_options_default(md_migrate_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch_rows = 50000;
    md_store_options_default(&o->source);
    md_store_options_default(&o->target);
    o->source.pool_size = o->target.pool_size = 1;
}

void md_migrate_report_deinit(md_migrate_report *r)
{
    md_free(r->diffs);
    r->diffs = NULL;
    r->n_diffs = 0;
}

/* -- checksums ------------------------------------------------------------------------------ */

/* core/hash.h's FNV-1a over each field; the source id below is persisted with it. */
static uint64_t sum_double(uint64_t h, double v)
{
    if (isnan(v)) v = NAN; /* one NaN pattern for "unknown" */
    return md_hash_more(h, &v, sizeof v);
}

/* Every stored value of a bar, in a fixed order and width. */
static uint64_t bar_sum(uint64_t h, const md_bar *b)
{
    int64_t ts = b->ts, trades = b->trades < 0 ? -1 : b->trades;
    float q = b->quality < 0 ? -1.0f : b->quality;
    uint8_t src = b->source;
    h = md_hash_more(h, &ts, 8);
    h = sum_double(h, b->open);
    h = sum_double(h, b->high);
    h = sum_double(h, b->low);
    h = sum_double(h, b->close);
    h = sum_double(h, b->volume);
    h = sum_double(h, b->vwap);
    h = md_hash_more(h, &trades, 8);
    h = md_hash_more(h, &q, sizeof q);
    return md_hash_more(h, &src, 1);
}

static int same_quote(const md_quote *a, const md_quote *b)
{
#define SAME(x) ((isnan(a->x) && isnan(b->x)) || a->x == b->x)
    return a->ts == b->ts && SAME(price) && SAME(volume) && SAME(bid) && SAME(ask) &&
           a->source == b->source &&
           (a->quality == b->quality || (a->quality < 0 && b->quality < 0));
#undef SAME
}

/* -- helpers -------------------------------------------------------------------------------- */

typedef struct mig {
    const md_migrate_options *opt;
    md_migrate_report *rep;
    md_store *src, *dst;
    char source_id[24];
    size_t batch;
    size_t cap_diffs;
} mig;

static void progress(mig *m, const char *phase, uint64_t done, uint64_t total, int final)
{
    if (m->opt->on_progress) m->opt->on_progress(m->opt->progress_ctx, phase, done, total, final);
}

static int stopped(const mig *m)
{
    return m->opt->stop && *m->opt->stop;
}

static void add_diff(mig *m, char kind, const char *symbol, int iv, int64_t src_n, int64_t dst_n,
                     uint64_t src_sum, uint64_t dst_sum)
{
    md_migrate_report *r = m->rep;
    if (r->n_diffs == m->cap_diffs) {
        m->cap_diffs = m->cap_diffs ? m->cap_diffs * 2 : 16;
        r->diffs = md_realloc(r->diffs, m->cap_diffs * sizeof *r->diffs);
    }
    md_migrate_diff *d = &r->diffs[r->n_diffs++];
    d->kind = kind;
    snprintf(d->symbol, sizeof d->symbol, "%s", symbol);
    d->iv = iv;
    d->src_n = src_n, d->dst_n = dst_n;
    d->src_sum = src_sum, d->dst_sum = dst_sum;
}

static void ckpt_key(const mig *m, const char *symbol, int iv, char *out, size_t n)
{
    snprintf(out, n, "migrate.%s.%s.%s", m->source_id, md_interval_name((md_interval)iv), symbol);
}

/* -- copy ----------------------------------------------------------------------------------- */

/* Bars waiting to be written together, with the checkpoint each series reaches. */
typedef struct pending {
    md_series *series;
    md_bar_vec *bars;
    char **keys, **vals;
    size_t n, cap, rows;
} pending;

static void pending_add(pending *p, const char *symbol, md_interval iv, md_bar_vec *taken,
                        char *key)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->series = md_realloc(p->series, p->cap * sizeof *p->series);
        p->bars = md_realloc(p->bars, p->cap * sizeof *p->bars);
        p->keys = md_realloc(p->keys, p->cap * sizeof *p->keys);
        p->vals = md_realloc(p->vals, p->cap * sizeof *p->vals);
    }
    size_t i = p->n++;
    p->bars[i] = *taken; /* ownership moves in */
    md_bar_vec_init(taken);
    p->series[i] = (md_series){md_strdup(symbol), iv, NULL, 0};
    p->keys[i] = key;
    char v[32];
    snprintf(v, sizeof v, "%" PRId64, p->bars[i].v[p->bars[i].n - 1].ts);
    p->vals[i] = md_strdup(v);
    p->rows += p->bars[i].n;
}

static void pending_clear(pending *p)
{
    for (size_t i = 0; i < p->n; i++) {
        md_free((char *)p->series[i].symbol);
        md_bar_vec_deinit(&p->bars[i]);
        md_free(p->keys[i]);
        md_free(p->vals[i]);
    }
    p->n = p->rows = 0;
}

static void pending_free(pending *p)
{
    pending_clear(p);
    md_free(p->series);
    md_free(p->bars);
    md_free(p->keys);
    md_free(p->vals);
}

static int flush(mig *m, pending *p, md_error *err)
{
    if (p->n == 0) return 0;
    for (size_t i = 0; i < p->n; i++)
        p->series[i].bars = p->bars[i].v, p->series[i].n = p->bars[i].n;
    int rc = md_store_put_bars(m->dst, p->series, p->n, err);
    if (rc < 0) return rc;
    rc = m->dst->ops->meta_set(m->dst, (const char *const *)p->keys, (const char *const *)p->vals,
                               p->n, err);
    if (rc < 0) return rc;
    m->rep->bars_copied += p->rows;
    pending_clear(p);
    return 0;
}

static int copy_bars(mig *m, const md_symbol_info *info, size_t n, md_error *err)
{
    pending p = {0};
    md_bar_vec chunk;
    md_bar_vec_init(&chunk);
    uint64_t done = 0;
    int rc = 0;
    progress(m, "copy", 0, m->rep->bars_total, 0);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *key = md_malloc(MD_SYMBOL_MAX + 64);
        ckpt_key(m, info[i].symbol, info[i].iv, key, MD_SYMBOL_MAX + 64);
        int64_t from = MD_TS_MIN;
        char val[32];
        if (!m->opt->restart) {
            rc = m->dst->ops->meta_get(m->dst, key, val, sizeof val, err);
            if (rc < 0) {
                md_free(key);
                break;
            }
            if (rc == 1) {
                from = strtoll(val, NULL, 10) + 1;
                m->rep->series_resumed++;
                /* what the checkpoint covers counts as done for the progress */
                int64_t had =
                    md_store_count_bars(m->src, info[i].symbol, info[i].iv, MD_TS_MIN, from, err);
                if (had < 0) {
                    rc = (int)had;
                    md_free(key);
                    break;
                }
                done += (uint64_t)had;
            }
        }
        for (;;) {
            chunk.n = 0;
            size_t want = m->batch - p.rows; /* fill the pending batch exactly (p.rows < batch) */
            rc =
                m->src->ops->scan_bars(m->src, info[i].symbol, info[i].iv, from, want, &chunk, err);
            if (rc <= 0) break;
            rc = 0;
            from = chunk.v[chunk.n - 1].ts + 1;
            done += chunk.n;
            int last = chunk.n < want;
            /* the key is shared by every chunk of the series: copy it for all but the last */
            pending_add(&p, info[i].symbol, info[i].iv, &chunk, last ? key : md_strdup(key));
            if (last) key = NULL;
            if (p.rows >= m->batch) {
                rc = flush(m, &p, err);
                if (rc) break;
                progress(m, "copy", done, m->rep->bars_total, 0);
                if (stopped(m) || (m->opt->max_rows && m->rep->bars_copied >= m->opt->max_rows))
                    break;
            }
            if (last) break;
        }
        md_free(key);
        if (rc == 0 &&
            (stopped(m) || (m->opt->max_rows && m->rep->bars_copied >= m->opt->max_rows)))
            break;
    }
    if (rc == 0) rc = flush(m, &p, err);
    pending_free(&p);
    md_bar_vec_deinit(&chunk);
    if (rc) return rc;
    progress(m, "copy", done, m->rep->bars_total, 1);
    return 0;
}

static int copy_quotes(mig *m, md_error *err)
{
    md_quote *q = NULL;
    int n = m->src->ops->list_quotes(m->src, &q, err);
    if (n < 0) return n;
    int rc = 0;
    for (int i = 0; i < n && rc >= 0; i++) {
        rc = md_store_put_quote(m->dst, &q[i], err);
        if (rc > 0) m->rep->quotes_copied++;
    }
    md_free(q);
    return rc < 0 ? rc : 0;
}

/* -- verify --------------------------------------------------------------------------------- */

/* Count and checksum of one series' bars in [first, last], scanned in batches. */
static int series_sum(mig *m, md_store *s, const md_symbol_info *info, int64_t *n_out,
                      uint64_t *sum_out, uint64_t *done, md_error *err)
{
    const char *symbol = info->symbol;
    md_interval iv = info->iv;
    md_bar_vec v;
    md_bar_vec_init(&v);
    int64_t from = info->first_ts, n = 0;
    uint64_t h = MD_HASH_SEED;
    int rc;
    for (;;) {
        v.n = 0;
        rc = s->ops->scan_bars(s, symbol, iv, from, m->batch, &v, err);
        if (rc <= 0) break;
        size_t k = 0;
        for (; k < v.n && v.v[k].ts <= info->last_ts; k++) h = bar_sum(h, &v.v[k]);
        n += (int64_t)k;
        *done += k;
        progress(m, "verify", *done, 2 * m->rep->bars_total, 0);
        from = v.v[v.n - 1].ts + 1;
        if (v.n < m->batch || k < v.n) {
            rc = 0;
            break;
        }
    }
    md_bar_vec_deinit(&v);
    if (rc < 0) return rc;
    *n_out = n;
    *sum_out = h;
    return 0;
}

static int find_info(const md_symbol_info *v, size_t n, const char *symbol, md_interval iv)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].iv == iv && strcmp(v[i].symbol, symbol) == 0) return (int)i;
    return -1;
}

static int verify(mig *m, const md_symbol_info *src, size_t n_src, md_error *err)
{
    md_symbol_info *dst = NULL;
    int n_dst = md_store_list_symbols(m->dst, &dst, err);
    if (n_dst < 0) return n_dst;
    uint64_t done = 0;
    int rc = 0;
    progress(m, "verify", 0, 2 * m->rep->bars_total, 0);
    for (size_t i = 0; i < n_src && rc == 0; i++) {
        int64_t sn, dn;
        uint64_t ssum, dsum;
        rc = series_sum(m, m->src, &src[i], &sn, &ssum, &done, err);
        if (rc == 0) rc = series_sum(m, m->dst, &src[i], &dn, &dsum, &done, err);
        if (rc) break;
        m->rep->verified_bars += (uint64_t)sn;
        if (sn != dn || ssum != dsum)
            add_diff(m, 'b', src[i].symbol, src[i].iv, sn,
                     dn == 0 && find_info(dst, (size_t)n_dst, src[i].symbol, src[i].iv) < 0 ? -1
                                                                                            : dn,
                     ssum, dsum);
    }
    for (int i = 0; rc == 0 && i < n_dst; i++)
        if (find_info(src, n_src, dst[i].symbol, dst[i].iv) < 0) m->rep->target_only_series++;
    md_free(dst);
    if (rc) return rc;

    md_quote *sq = NULL, *dq = NULL;
    int ns = m->src->ops->list_quotes(m->src, &sq, err);
    if (ns < 0) return ns;
    int nd = m->dst->ops->list_quotes(m->dst, &dq, err);
    if (nd < 0) {
        md_free(sq);
        return nd;
    }
    /* both lists are ordered by symbol (byte order) */
    int i = 0, j = 0;
    while (i < ns || j < nd) {
        int c = i >= ns ? 1 : j >= nd ? -1 : strcmp(sq[i].symbol, dq[j].symbol);
        if (c < 0) {
            add_diff(m, 'q', sq[i].symbol, -1, 1, -1, 0, 0);
            i++;
        } else if (c > 0) {
            m->rep->target_only_quotes++;
            j++;
        } else {
            if (!same_quote(&sq[i], &dq[j])) add_diff(m, 'q', sq[i].symbol, -1, 1, 1, 1, 0);
            m->rep->verified_quotes++;
            i++, j++;
        }
    }
    md_free(sq);
    md_free(dq);
    progress(m, "verify", 2 * m->rep->bars_total, 2 * m->rep->bars_total, 1);
    return 0;
}

/* -- quality findings and live marks ------------------------------------------------------- */

static uint64_t event_sum(uint64_t h, const md_qevent *e)
{
    int64_t ts = e->ts;
    int16_t rule = e->rule;
    float sev = e->severity;
    h = md_hash_more(h, &ts, 8);
    h = md_hash_more(h, &rule, 2);
    h = md_hash_more(h, &e->source, 1);
    h = md_hash_more(h, &e->other_source, 1);
    h = md_hash_more(h, &sev, 4);
    h = sum_double(h, e->value);
    h = sum_double(h, e->limit);
    return md_hash_more(h, e->detail, strnlen(e->detail, sizeof e->detail));
}

static int cmp_event(const void *a, const void *b)
{
    const md_qevent *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->rule > y->rule) - (x->rule < y->rule);
}

/* Every finding of one series, ordered by (ts, rule). */
static int read_events(md_store *s, const char *symbol, md_interval iv, md_qevent_vec *v,
                       md_error *err)
{
    v->n = 0;
    int rc = md_store_get_quality_events(s, symbol, iv, MD_TS_MIN, MD_TS_MAX + 1, -1, 0, v, err);
    if (rc >= 0 && v->n > 1) qsort(v->v, v->n, sizeof *v->v, cmp_event);
    return rc < 0 ? rc : 0;
}

static int copy_quality(mig *m, const md_symbol_info *bars, size_t n_bars, md_error *err)
{
    md_symbol_info *q = NULL;
    int n = md_store_list_quality_series(m->src, &q, err);
    if (n < 0) return n;
    md_qevent_vec v;
    md_qevent_vec_init(&v);
    int rc = 0;
    for (int i = 0; i < n && rc == 0 && !stopped(m); i++) {
        char key[MD_SYMBOL_MAX + 64], val[32];
        snprintf(key, sizeof key, "migrate.%s.quality.%s.%s", m->source_id,
                 md_interval_name(q[i].iv), q[i].symbol);
        if (!m->opt->restart) {
            rc = m->dst->ops->meta_get(m->dst, key, val, sizeof val, err);
            if (rc < 0) break;
            if (rc == 1) {
                rc = 0;
                continue; /* copied by an earlier run */
            }
        }
        rc = read_events(m->src, q[i].symbol, q[i].iv, &v, err);
        for (size_t off = 0; rc == 0 && off < v.n; off += m->batch) {
            size_t k = v.n - off < m->batch ? v.n - off : m->batch;
            rc = md_store_put_quality_events(m->dst, q[i].symbol, q[i].iv, v.v + off, k, NULL, 0,
                                             err);
            if (rc > 0) rc = 0;
        }
        if (rc) break;
        const char *keys[1] = {key}, *vals[1] = {"done"};
        rc = m->dst->ops->meta_set(m->dst, keys, vals, 1, err);
        m->rep->events_copied += v.n;
    }
    md_qevent_vec_deinit(&v);
    md_free(q);
    for (size_t i = 0; rc == 0 && i < n_bars; i++) {
        int64_t ts;
        md_error e2;
        int got = md_store_get_live(m->src, bars[i].symbol, bars[i].iv, &ts, &e2);
        if (got == MD_ENODATA) continue;
        if (got < 0) {
            md_error_set(err, got, "%s", e2.msg);
            return got;
        }
        rc = md_store_mark_live(m->dst, bars[i].symbol, bars[i].iv, ts, err);
        if (rc == 0) m->rep->live_copied++;
    }
    return rc < 0 ? rc : 0;
}

static int verify_quality(mig *m, const md_symbol_info *bars, size_t n_bars, md_error *err)
{
    md_symbol_info *sq = NULL, *dq = NULL;
    int ns = md_store_list_quality_series(m->src, &sq, err);
    if (ns < 0) return ns;
    int nd = md_store_list_quality_series(m->dst, &dq, err);
    if (nd < 0) {
        md_free(sq);
        return nd;
    }
    md_qevent_vec a, b;
    md_qevent_vec_init(&a);
    md_qevent_vec_init(&b);
    int rc = 0;
    for (int i = 0; i < ns && rc == 0; i++) {
        rc = read_events(m->src, sq[i].symbol, sq[i].iv, &a, err);
        if (rc == 0) rc = read_events(m->dst, sq[i].symbol, sq[i].iv, &b, err);
        if (rc) break;
        uint64_t ha = MD_HASH_SEED, hb = MD_HASH_SEED;
        for (size_t k = 0; k < a.n; k++) ha = event_sum(ha, &a.v[k]);
        for (size_t k = 0; k < b.n; k++) hb = event_sum(hb, &b.v[k]);
        m->rep->verified_events += a.n;
        if (a.n != b.n || ha != hb)
            add_diff(m, 'e', sq[i].symbol, sq[i].iv, (int64_t)a.n,
                     b.n == 0 && find_info(dq, (size_t)nd, sq[i].symbol, sq[i].iv) < 0
                         ? -1
                         : (int64_t)b.n,
                     ha, hb);
    }
    for (int i = 0; rc == 0 && i < nd; i++)
        if (find_info(sq, (size_t)ns, dq[i].symbol, dq[i].iv) < 0) m->rep->target_only_findings++;
    md_qevent_vec_deinit(&a);
    md_qevent_vec_deinit(&b);
    md_free(sq);
    md_free(dq);
    for (size_t i = 0; rc == 0 && i < n_bars; i++) {
        int64_t ts_s = 0, ts_d = 0;
        md_error e2;
        int gs = md_store_get_live(m->src, bars[i].symbol, bars[i].iv, &ts_s, &e2);
        int gd = gs < 0 && gs != MD_ENODATA
                     ? 0
                     : md_store_get_live(m->dst, bars[i].symbol, bars[i].iv, &ts_d, &e2);
        if ((gs < 0 && gs != MD_ENODATA) || (gd < 0 && gd != MD_ENODATA)) {
            rc = md_error_set(err, gs < 0 && gs != MD_ENODATA ? gs : gd, "%s", e2.msg);
            break;
        }
        if (gs != gd || ts_s != ts_d)
            add_diff(m, 'l', bars[i].symbol, bars[i].iv, gs == 0 ? ts_s : -1, gd == 0 ? ts_d : -1,
                     0, 0);
    }
    return rc;
}

/* -- the command ------------------------------------------------------------------------------ */

/* -- corporate actions and symbol references ----------------------------------------------- */

static uint64_t action_sum(uint64_t h, const md_action *a)
{
    h = md_hash_more(h, a->symbol, strlen(a->symbol));
    h = md_hash_more(h, &a->type, 1);
    h = md_hash_more(h, &a->source, 1);
    h = md_hash_more(h, &a->ex_date, sizeof a->ex_date);
    h = sum_double(h, a->numerator);
    h = sum_double(h, a->denominator);
    h = sum_double(h, a->amount);
    h = md_hash_more(h, a->currency, strlen(a->currency));
    return md_hash_more(h, &a->pay_date, sizeof a->pay_date);
}

static uint64_t ref_sum(uint64_t h, const md_symbol_ref *r)
{
    h = md_hash_more(h, r->symbol, strlen(r->symbol));
    h = md_hash_more(h, r->currency, strlen(r->currency));
    h = md_hash_more(h, r->reported, strlen(r->reported));
    h = md_hash_more(h, r->zone, strlen(r->zone));
    h = md_hash_more(h, r->exchange, strlen(r->exchange));
    h = md_hash_more(h, &r->source, 1);
    return md_hash_more(h, &r->actions_checked, sizeof r->actions_checked);
}

/* The symbols a source's actions and references name (the verification's scope). */
typedef struct {
    const md_action_vec *actions;
    const md_symbol_ref *refs;
    int n_refs;
} action_scope;

static int in_scope(const action_scope *sc, const char *symbol)
{
    if (!sc) return 1;
    for (size_t i = 0; i < sc->actions->n; i++)
        if (strcmp(sc->actions->v[i].symbol, symbol) == 0) return 1;
    for (int i = 0; i < sc->n_refs; i++)
        if (strcmp(sc->refs[i].symbol, symbol) == 0) return 1;
    return 0;
}

/* Count and checksum of every action and reference row of s whose symbol is in sc (NULL:
 * every row); *others (when given) counts the rows left out. */
static int actions_sum(md_store *s, const action_scope *sc, int64_t *n, uint64_t *sum,
                       uint64_t *others, md_action_vec *keep, md_symbol_ref **refs, int *n_refs,
                       md_error *err)
{
    md_action_vec v;
    md_action_vec_init(&v);
    int rc = md_store_get_actions(s, NULL, MD_TS_MIN, MD_TS_MAX + 1, &v, err);
    md_symbol_ref *r = NULL;
    int nr = rc < 0 ? rc : md_store_list_symbol_refs(s, &r, err);
    if ((rc < 0 || nr < 0) &&
        (strstr(err->msg, "no such table") || strstr(err->msg, "does not exist"))) {
        /* a source older than the actions tables (opened read-only, not migrated): none */
        rc = nr = 0;
        md_free(r);
        r = NULL;
    }
    if (rc < 0 || nr < 0) {
        md_action_vec_deinit(&v);
        return rc < 0 ? rc : nr;
    }
    uint64_t h = MD_HASH_SEED, left_out = 0;
    int64_t count = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (!in_scope(sc, v.v[i].symbol)) {
            left_out++;
            continue;
        }
        h = action_sum(h, &v.v[i]);
        count++;
    }
    for (int i = 0; i < nr; i++) {
        if (!in_scope(sc, r[i].symbol)) {
            left_out++;
            continue;
        }
        h = ref_sum(h, &r[i]);
        count++;
    }
    *n = count;
    *sum = h;
    if (others) *others = left_out;
    if (keep) {
        *keep = v;
    } else {
        md_action_vec_deinit(&v);
    }
    if (refs) {
        *refs = r;
        *n_refs = nr;
    } else {
        md_free(r);
    }
    return 0;
}

static int copy_actions(mig *m, md_error *err)
{
    int64_t n;
    uint64_t sum;
    md_action_vec v;
    md_symbol_ref *refs = NULL;
    int nr = 0;
    int rc = actions_sum(m->src, NULL, &n, &sum, NULL, &v, &refs, &nr, err);
    if (rc) return rc;
    if (v.n) rc = md_store_put_actions(m->dst, v.v, v.n, err);
    for (int i = 0; rc >= 0 && i < nr; i++) rc = md_store_put_symbol_ref(m->dst, &refs[i], err);
    m->rep->actions_copied = (uint64_t)n;
    md_action_vec_deinit(&v);
    md_free(refs);
    return rc < 0 ? rc : 0;
}

/* Compares the source's actions and references with the target's rows of the same symbols;
 * the target's rows of other symbols are counted (target_only_actions), not compared. */
static int verify_actions(mig *m, md_error *err)
{
    int64_t sn, dn;
    uint64_t ss, ds;
    md_action_vec sv;
    md_symbol_ref *srefs = NULL;
    int snr = 0;
    int rc = actions_sum(m->src, NULL, &sn, &ss, NULL, &sv, &srefs, &snr, err);
    if (rc) return rc;
    action_scope sc = {&sv, srefs, snr};
    rc = actions_sum(m->dst, &sc, &dn, &ds, &m->rep->target_only_actions, NULL, NULL, NULL, err);
    md_action_vec_deinit(&sv);
    md_free(srefs);
    if (rc) return rc;
    if (sn != dn || ss != ds) add_diff(m, 'a', "*", -1, sn, dn, ss, ds);
    m->rep->verified_actions = (uint64_t)sn;
    return 0;
}

int md_store_migrate(const char *from_url, const char *to_url, const md_migrate_options *opt,
                     md_migrate_report *rep, md_error *err)
{
    memset(rep, 0, sizeof *rep);
    md_log_redact(from_url, rep->from, sizeof rep->from);
    md_log_redact(to_url, rep->to, sizeof rep->to);
    int64_t t0 = md_mono_ms();
    mig m = {.opt = opt, .rep = rep, .batch = opt->batch_rows ? opt->batch_rows : 50000};
    /* the source's identity: its URL without the password */
    snprintf(m.source_id, sizeof m.source_id, "%016" PRIx64, md_hash_str(rep->from));

    md_store_options so = opt->source;
    so.read_only = 1;
    so.manage = 0;
    int rc = md_store_open(from_url, &so, &m.src, err);
    if (rc) {
        md_error_prefix(err, "source");
        return rc;
    }
    md_store_options to = opt->target;
    to.read_only = 0;
    to.manage = 1; /* the target is set up as `serve` would, its aggregates refreshed at close */
    rc = md_store_open(to_url, &to, &m.dst, err);
    if (rc) {
        md_error_prefix(err, "target");
        md_store_close(m.src);
        return rc;
    }
    snprintf(rep->from, sizeof rep->from, "%s", md_store_url_redacted(m.src));
    snprintf(rep->to, sizeof rep->to, "%s", md_store_url_redacted(m.dst));

    md_symbol_info *info = NULL;
    int n = md_store_list_symbols(m.src, &info, err);
    if (n < 0) {
        rc = n;
        goto done;
    }
    rep->series = (uint64_t)n;
    for (int i = 0; i < n; i++) rep->bars_total += (uint64_t)info[i].count;

    if (!opt->verify_only) {
        rc = copy_bars(&m, info, (size_t)n, err);
        if (rc) goto done;
        if (stopped(&m) || (opt->max_rows && rep->bars_copied >= opt->max_rows)) {
            /* stopped at a batch boundary: finished only if nothing is left */
            int left = 0;
            for (int i = 0; i < n && !left; i++) {
                char key[MD_SYMBOL_MAX + 64], val[32];
                ckpt_key(&m, info[i].symbol, info[i].iv, key, sizeof key);
                int got = m.dst->ops->meta_get(m.dst, key, val, sizeof val, err);
                if (got < 0) {
                    rc = got;
                    goto done;
                }
                left = got == 0 || strtoll(val, NULL, 10) < info[i].last_ts;
            }
            if (left) {
                rc = md_error_set(err, MD_ECANCELED,
                                  "stopped after %" PRIu64 " bars; run the"
                                  " same command again to resume",
                                  rep->bars_copied);
                goto done;
            }
        }
        rc = copy_quotes(&m, err);
        if (rc == 0) rc = copy_actions(&m, err);
        if (rc == 0) rc = copy_quality(&m, info, (size_t)n, err);
        if (rc) goto done;
        if (stopped(&m)) {
            rc = md_error_set(err, MD_ECANCELED,
                              "stopped while copying quality findings; run"
                              " the same command again to resume");
            goto done;
        }
        rep->complete = 1;
    }
    rc = verify(&m, info, (size_t)n, err);
    if (rc == 0) rc = verify_quality(&m, info, (size_t)n, err);
    if (rc == 0) rc = verify_actions(&m, err);
    if (rc) goto done;
    rep->verified = rep->n_diffs == 0;
    if (!rep->verified)
        rc = md_error_set(err, MD_ESTORE,
                          "verification failed: %zu difference%s between the"
                          " stores",
                          rep->n_diffs, rep->n_diffs == 1 ? "" : "s");
done:
    md_free(info);
    md_store_close(m.src);
    md_store_close(m.dst);
    rep->seconds = (double)(md_mono_ms() - t0) / 1000.0;
    return rc;
}

void md_migrate_report_print(const md_migrate_report *r, FILE *f)
{
    fprintf(f, "migrate %s -> %s\n", r->from, r->to);
    fprintf(f, "source: %" PRIu64 " series, %" PRIu64 " bars\n", r->series, r->bars_total);
    fprintf(f,
            "copied: %" PRIu64 " bars%s, %" PRIu64 " quotes, %" PRIu64 " quality findings, %" PRIu64
            " live marks, %" PRIu64 " corporate actions and symbol references, in %.2f s\n",
            r->bars_copied, r->series_resumed ? " (resumed from checkpoints)" : "",
            r->quotes_copied, r->events_copied, r->live_copied, r->actions_copied, r->seconds);
    if (r->verified) {
        fprintf(f,
                "verify: %" PRIu64 " series, %" PRIu64 " bars, %" PRIu64 " quotes and %" PRIu64
                " quality findings: row counts and checksums equal\n",
                r->series, r->verified_bars, r->verified_quotes, r->verified_events);
        if (r->target_only_series || r->target_only_quotes || r->target_only_findings ||
            r->target_only_actions)
            fprintf(f,
                    "the target also holds %" PRIu64 " other series, %" PRIu64
                    " other quotes, %" PRIu64 " other series of findings and %" PRIu64
                    " other corporate actions and symbol references, kept as they were\n",
                    r->target_only_series, r->target_only_quotes, r->target_only_findings,
                    r->target_only_actions);
        fprintf(f, "OK\n");
        return;
    }
    if (r->n_diffs == 0) return;
    if (r->target_only_series || r->target_only_quotes || r->target_only_findings ||
        r->target_only_actions)
        fprintf(f,
                "the target also holds %" PRIu64 " other series, %" PRIu64 " other quotes, %" PRIu64
                " other series of findings and %" PRIu64
                " other corporate actions and symbol references (not compared)\n",
                r->target_only_series, r->target_only_quotes, r->target_only_findings,
                r->target_only_actions);
    fprintf(f, "verify: FAILED, %zu difference%s:\n", r->n_diffs, r->n_diffs == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_diffs; i++) {
        const md_migrate_diff *d = &r->diffs[i];
        if (d->kind == 'a') {
            fprintf(f,
                    "  corporate actions and symbol references: source %" PRId64
                    " checksum %016" PRIx64 ", target %" PRId64 " checksum %016" PRIx64 "\n",
                    d->src_n, d->src_sum, d->dst_n, d->dst_sum);
        } else if (d->kind == 'l') {
            fprintf(f, "  %-12s %-4s live mark: source %s, target %s\n", d->symbol,
                    md_interval_name((md_interval)d->iv), d->src_n < 0 ? "none" : "set",
                    d->dst_n < 0           ? "none"
                    : d->src_n == d->dst_n ? "the same"
                                           : "another bar");
        } else if (d->kind == 'e') {
            if (d->src_n < 0)
                fprintf(f, "  %-12s %-4s quality findings only in the target (%" PRId64 ")\n",
                        d->symbol, md_interval_name((md_interval)d->iv), d->dst_n);
            else
                fprintf(f,
                        "  %-12s %-4s quality findings: source %" PRId64 " checksum %016" PRIx64
                        ", target %" PRId64 " checksum %016" PRIx64 "\n",
                        d->symbol, md_interval_name((md_interval)d->iv), d->src_n, d->src_sum,
                        d->dst_n < 0 ? 0 : d->dst_n, d->dst_sum);
        } else if (d->iv < 0) {
            fprintf(f, "  %-12s quote: %s\n", d->symbol,
                    d->src_n < 0   ? "only in the target"
                    : d->dst_n < 0 ? "missing in the target"
                                   : "values differ");
        } else if (d->src_n < 0) {
            fprintf(f, "  %-12s %-4s only in the target (%" PRId64 " bars)\n", d->symbol,
                    md_interval_name((md_interval)d->iv), d->dst_n);
        } else if (d->dst_n < 0) {
            fprintf(f, "  %-12s %-4s missing in the target (%" PRId64 " bars in the source)\n",
                    d->symbol, md_interval_name((md_interval)d->iv), d->src_n);
        } else {
            fprintf(f,
                    "  %-12s %-4s source %" PRId64 " bars checksum %016" PRIx64 ", target %" PRId64
                    " bars checksum %016" PRIx64 "%s\n",
                    d->symbol, md_interval_name((md_interval)d->iv), d->src_n, d->src_sum, d->dst_n,
                    d->dst_sum, d->src_n == d->dst_n ? " (values differ)" : "");
        }
    }
}
