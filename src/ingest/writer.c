/* writer.c - validate, store, then notify. */
#include "ingest/writer.h"

#include "core/dict.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define MAX_LISTENERS 8
#define QUOTE_REF_S (4 * 86400) /* a previous price older than this is no reference (weekends) */

/* Stored bars read before a batch for the rolling windows and the calendar. */
static size_t context_bars(const md_quality_params *p)
{
    size_t k = (size_t)p->jump_window;
    if ((size_t)p->volume_window > k) k = (size_t)p->volume_window;
    if ((size_t)p->stale_bars > k) k = (size_t)p->stale_bars;
    k = 3 * k + 4;
    return k < 64 ? 64 : k;
}

/* The newest bars of a series seen by validate-only calls (they are not in the store). */
typedef struct {
    md_bar_vec bars;
} tail_entry;

struct md_writer {
    md_store *st;
    md_writer_listener listeners[MAX_LISTENERS];
    int n_listeners;
    int64_t future_tol_s;
    md_quality_params qp;
    md_cal_map *cals; /* the symbols' exchange calendars; NULL: learned from each series */
    pthread_mutex_t tail_lock;
    md_dict tails; /* "SYMBOL\n<iv>" -> tail_entry */
};

void md_write_result_init(md_write_result *r, size_t max_rejects)
{
    memset(r, 0, sizeof *r);
    r->max_rejects = max_rejects;
}

void md_write_result_deinit(md_write_result *r)
{
    md_free(r->rejects);
    md_free(r->findings);
    memset(r, 0, sizeof *r);
}

static void add_reject(md_write_result *r, size_t index, md_rule rule, const char *msg)
{
    r->rejected++;
    md_metric_add(MD_M_INGEST_REJECTED, 1, md_rule_code(rule));
    if (r->max_rejects && r->n_rejects >= r->max_rejects) return;
    MD_ARRAY_GROW(r->rejects, r->n_rejects, r->cap_rejects, 16);
    md_reject *x = &r->rejects[r->n_rejects++];
    x->index = index;
    x->rule = rule;
    snprintf(x->msg, sizeof x->msg, "%s", msg);
}

static void add_finding(md_write_result *r, size_t series, size_t index, const md_qevent *ev)
{
    if (!r->collect_findings) return;
    MD_ARRAY_GROW(r->findings, r->n_findings, r->cap_findings, 16);
    md_write_finding *f = &r->findings[r->n_findings++];
    f->series = series;
    f->index = index;
    f->ev = *ev;
}

md_writer *md_writer_new(md_store *st)
{
    md_writer *w = md_calloc(1, sizeof *w);
    w->st = st;
    md_quality_params_default(&w->qp);
    w->future_tol_s = MD_FUTURE_TOLERANCE_S;
    pthread_mutex_init(&w->tail_lock, NULL);
    md_dict_init(&w->tails, sizeof(tail_entry));
    return w;
}

void md_writer_free(md_writer *w)
{
    if (!w) return;
    size_t at = 0;
    for (tail_entry *t; (t = md_dict_next(&w->tails, &at));) md_bar_vec_deinit(&t->bars);
    md_dict_deinit(&w->tails);
    pthread_mutex_destroy(&w->tail_lock);
    md_cal_map_free(w->cals);
    md_free(w);
}

md_store *md_writer_store(md_writer *w)
{
    return w->st;
}

void md_writer_add_listener(md_writer *w, const md_writer_listener *l)
{
    /* a caller that cannot be right whatever the input: a programming error */
    md_assert(w->n_listeners < MAX_LISTENERS, "writer: more than %d listeners", MAX_LISTENERS);
    md_assert(!w->n_listeners || l->stage >= w->listeners[w->n_listeners - 1].stage,
              "writer: a REFRESH listener added after a PUBLISH one (cache after stream: a "
              "client could read a stale cached answer after a streamed bar)");
    w->listeners[w->n_listeners++] = *l;
}

static void notify_commit(md_writer *w)
{
    for (int l = 0; l < w->n_listeners; l++)
        if (w->listeners[l].on_commit) w->listeners[l].on_commit(w->listeners[l].ctx);
}

void md_writer_set_quality(md_writer *w, const md_quality_params *p)
{
    w->qp = *p;
    w->future_tol_s = p->future_tolerance_s;
}

void md_writer_set_calendars(md_writer *w, md_cal_map *m)
{
    md_cal_map_free(w->cals);
    w->cals = m;
}

const md_cal *md_writer_calendar(const md_writer *w, const char *symbol)
{
    return w->cals ? md_cal_map_find(w->cals, symbol, NULL) : NULL;
}

const md_quality_params *md_writer_quality(const md_writer *w)
{
    return &w->qp;
}

/* -- validate-only context ------------------------------------------------------------------ */

/* The tail entry for key (created when create is set; NULL otherwise). Caller holds
 * tail_lock. */
static tail_entry *tail_find(md_writer *w, const char *key, int create)
{
    if (!create) return md_dict_find_str(&w->tails, key);
    int created;
    tail_entry *t = md_dict_put_str(&w->tails, key, &created);
    if (created) md_bar_vec_init(&t->bars);
    return t;
}

static void tail_key(const md_series *s, char *key, size_t n)
{
    snprintf(key, n, "%s\n%d", s->symbol, (int)s->iv);
}

/* Adds the remembered bars of the series older than `before` to ctx (sorted, unique),
 * keeping the newest `keep`. */
static void tail_merge(md_writer *w, const md_series *s, int64_t before, size_t keep,
                       md_bar_vec *ctx)
{
    char key[MD_SYMBOL_MAX + 16];
    tail_key(s, key, sizeof key);
    pthread_mutex_lock(&w->tail_lock);
    tail_entry *t = tail_find(w, key, 0);
    if (t)
        for (size_t i = 0; i < t->bars.n; i++)
            if (t->bars.v[i].ts < before) md_bar_vec_push(ctx, &t->bars.v[i]);
    pthread_mutex_unlock(&w->tail_lock);
    if (!t) return;
    md_bar_vec_sort_dedup(ctx);
    if (ctx->n > keep) {
        memmove(ctx->v, ctx->v + ctx->n - keep, keep * sizeof *ctx->v);
        ctx->n = keep;
    }
}

static void tail_remember(md_writer *w, const md_series *s, const md_bar *tl, size_t n, size_t keep)
{
    char key[MD_SYMBOL_MAX + 16];
    tail_key(s, key, sizeof key);
    pthread_mutex_lock(&w->tail_lock);
    tail_entry *t = tail_find(w, key, 1);
    size_t from = n > keep ? n - keep : 0;
    t->bars.n = 0;
    for (size_t i = from; i < n; i++) md_bar_vec_push(&t->bars, &tl[i]);
    pthread_mutex_unlock(&w->tail_lock);
}

/* -- scoring ------------------------------------------------------------------------------ */

typedef struct {
    int64_t ts;
    size_t pos;
} tspos;

static int cmp_tspos(const void *a, const void *b)
{
    const tspos *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Judges the accepted bars of one series (s->bars[0..n), in input order; the last of equal
 * timestamps is the one stored) and fills their quality. Soft findings go to out (sorted by
 * ts); *win receives the winning bar of each timestamp, sorted (heap, caller frees). */
static void score_series(md_writer *w, const md_series *s, int validate_only, md_qevent_vec *out,
                         tspos **win, size_t *n_win)
{
    md_bar *bars = (md_bar *)s->bars;
    size_t n = s->n;
    tspos *o = md_malloc(n * sizeof *o);
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        o[i].ts = bars[i].ts;
        o[i].pos = i;
        if (i && o[i].ts < o[i - 1].ts) sorted = 0;
    }
    if (!sorted) qsort(o, n, sizeof *o, cmp_tspos);

    md_qevent_vec cmp;
    md_qevent_vec_init(&cmp);
    tspos *u = md_malloc(n * sizeof *u);
    size_t nu = 0;
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n && o[j + 1].ts == o[j].ts) { /* the same bar twice in one delivery */
            md_qevent e;
            if (md_quality_compare(&w->qp, &bars[o[j].pos], &bars[o[j + 1].pos], 1, &e))
                md_qevent_vec_push(&cmp, &e);
            continue;
        }
        u[nu++] = o[j];
    }

    /* context: stored bars before the batch, and stored versions of the batch's bars */
    size_t keep = context_bars(&w->qp);
    md_bar_vec ctx, over;
    md_bar_vec_init(&ctx);
    md_bar_vec_init(&over);
    md_error e;
    int64_t first = u[0].ts, last = u[nu - 1].ts;
    if (md_store_get_bars(w->st, s->symbol, s->iv, MD_TS_MIN, first, keep, &ctx, &e) < 0) {
        /* the store write that follows reports an outage; judge without context */
        MD_DEBUG("writer", "no context for quality symbol=%s err=\"%s\"", s->symbol, e.msg);
        ctx.n = 0;
    }
    if (validate_only) tail_merge(w, s, first, keep, &ctx);
    if (md_store_get_bars(w->st, s->symbol, s->iv, first, last + 1, 0, &over, &e) < 0) {
        MD_DEBUG("writer", "cannot read stored versions symbol=%s err=\"%s\"", s->symbol, e.msg);
        over.n = 0;
    }

    size_t cap = ctx.n + over.n + nu, tn = 0;
    md_bar *tl = md_malloc(cap * sizeof *tl);
    uint8_t *emit = md_calloc(cap, 1);
    if (ctx.n) memcpy(tl, ctx.v, ctx.n * sizeof *tl);
    tn = ctx.n;
    size_t i = 0, j = 0;
    while (i < over.n || j < nu) {
        if (j == nu || (i < over.n && over.v[i].ts < u[j].ts)) {
            tl[tn++] = over.v[i++];
            continue;
        }
        const md_bar *b = &bars[u[j].pos];
        if (i < over.n && over.v[i].ts == u[j].ts) {
            md_qevent ce;
            if (md_quality_compare(&w->qp, &over.v[i], b, 0, &ce)) md_qevent_vec_push(&cmp, &ce);
            i++;
        }
        emit[tn] = 1;
        tl[tn++] = *b;
        j++;
    }
    /* the same calendar /quality judges by, so a holiday is never a gap here either */
    md_quality_scan_cal(&w->qp, s->iv, md_writer_calendar(w, s->symbol), tl, tn, emit, out);
    for (size_t k = 0; k < cmp.n; k++) md_qevent_vec_push(out, &cmp.v[k]);
    md_qevent_sort_by_ts(out->v, out->n);

    /* each bar's score from its own findings */
    size_t k = 0;
    for (size_t x = 0; x < nu; x++) {
        while (k < out->n && out->v[k].ts < u[x].ts) k++;
        size_t k2 = k;
        while (k2 < out->n && out->v[k2].ts == u[x].ts) k2++;
        bars[u[x].pos].quality = md_quality_bar_score(&w->qp, out->v + k, k2 - k);
        k = k2;
    }
    for (size_t x = 0, y = 0; x < n; x++) { /* superseded duplicates get the winner's score */
        while (u[y].ts < o[x].ts) y++;
        bars[o[x].pos].quality = bars[u[y].pos].quality;
    }
    if (validate_only) tail_remember(w, s, tl, tn, keep);

    md_free(tl);
    md_free(emit);
    md_free(o);
    md_bar_vec_deinit(&ctx);
    md_bar_vec_deinit(&over);
    md_qevent_vec_deinit(&cmp);
    *win = u;
    *n_win = nu;
}

/* Position of the winner with timestamp ts in u (sorted), or SIZE_MAX. */
static size_t find_ts(const tspos *u, size_t n, int64_t ts)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && u[lo].ts == ts ? u[lo].pos : SIZE_MAX;
}

/* Records the findings of one series and its live mark, after its bars were stored. */
static void record_findings(md_writer *w, const md_series *s, const md_qevent_vec *found,
                            int64_t now)
{
    static int warned;
    int64_t *clear = md_malloc((s->n ? s->n : 1) * sizeof *clear);
    int64_t live_ts = MD_TS_MIN;
    for (size_t i = 0; i < s->n; i++) {
        clear[i] = s->bars[i].ts;
        if (s->bars[i].ts > live_ts && md_quality_is_live_bar(&w->qp, s->iv, s->bars[i].ts, now))
            live_ts = s->bars[i].ts;
    }
    int sorted = 1;
    for (size_t i = 1; i < s->n && sorted; i++) sorted = clear[i] >= clear[i - 1];
    if (!sorted) {
        tspos *t = md_malloc(s->n * sizeof *t);
        for (size_t i = 0; i < s->n; i++) t[i].ts = clear[i], t[i].pos = i;
        qsort(t, s->n, sizeof *t, cmp_tspos);
        for (size_t i = 0; i < s->n; i++) clear[i] = t[i].ts;
        md_free(t);
    }
    md_error e;
    if (md_store_put_quality_events(w->st, s->symbol, s->iv, found->v, found->n, clear, s->n, &e) <
        0) {
        md_metric_add(MD_M_STORE_ERRORS, 1, "put_quality_events");
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            MD_WARN("writer", "quality findings not recorded symbol=%s err=\"%s\"", s->symbol,
                    e.msg);
    }
    if (live_ts != MD_TS_MIN && md_store_mark_live(w->st, s->symbol, s->iv, live_ts, &e) < 0)
        md_metric_add(MD_M_STORE_ERRORS, 1, "mark_live");
    md_free(clear);
}

/* Judges series[k] (bars that passed the hard rules) and appends the soft findings to
 * found[k] (when found) and to res (collected with input[k][position] as the index when input
 * is given, the bar's position in its series otherwise). */
static void judge(md_writer *w, md_series *series, size_t n_series, int validate_only,
                  md_qevent_vec *found, md_write_result *res, size_t *const *input)
{
    for (size_t k = 0; k < n_series; k++) {
        if (!series[k].n) continue;
        md_qevent_vec soft;
        md_qevent_vec_init(&soft);
        tspos *win;
        size_t n_win;
        score_series(w, &series[k], validate_only, &soft, &win, &n_win);
        for (size_t f = 0; f < soft.n; f++) {
            if (found) md_qevent_vec_push(&found[k], &soft.v[f]);
            size_t pos = find_ts(win, n_win, soft.v[f].ts);
            add_finding(res, k,
                        pos == SIZE_MAX ? SIZE_MAX
                        : input         ? input[k][pos]
                                        : pos,
                        &soft.v[f]);
        }
        md_free(win);
        md_qevent_vec_deinit(&soft);
    }
}

/* The live mark of a series stored without being judged here. */
static void mark_live(md_writer *w, const md_series *s, int64_t now)
{
    int64_t live_ts = MD_TS_MIN;
    for (size_t i = 0; i < s->n; i++)
        if (s->bars[i].ts > live_ts && md_quality_is_live_bar(&w->qp, s->iv, s->bars[i].ts, now))
            live_ts = s->bars[i].ts;
    md_error e;
    if (live_ts != MD_TS_MIN && md_store_mark_live(w->st, s->symbol, s->iv, live_ts, &e) < 0)
        md_metric_add(MD_M_STORE_ERRORS, 1, "mark_live");
}

/* Findings the caller judged (MD_WRITE_JUDGED), recorded as they are: they replace stored
 * findings of the same rule on the same bar and clear nothing else. */
static void record_judged(md_writer *w, const md_series *s, const md_qevent_vec *ev)
{
    static int warned;
    md_error e;
    if (md_store_put_quality_events(w->st, s->symbol, s->iv, ev->v, ev->n, NULL, 0, &e) < 0) {
        md_metric_add(MD_M_STORE_ERRORS, 1, "put_quality_events");
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            MD_WARN("writer", "quality findings not recorded symbol=%s err=\"%s\"", s->symbol,
                    e.msg);
    }
}

/* Stores the series (with the write's marks), records the findings - found[k] judged here,
 * or with found NULL the caller's judged_findings - notifies the listeners. */
static int store_and_record(md_writer *w, const md_write *req, const md_qevent_vec *found,
                            int64_t now, size_t *stored, md_error *err)
{
    const md_series *series = req->series;
    size_t n_series = req->n_series, total = 0;
    for (size_t k = 0; k < n_series; k++) total += series[k].n;
    *stored = 0;
    if (total > 0 || req->n_marks > 0) {
        int rc = req->n_marks ? md_store_put_bars_marked(w->st, series, n_series, req->marks,
                                                         req->n_marks, err)
                              : md_store_put_bars(w->st, series, n_series, err);
        if (rc < 0) {
            md_metric_add(MD_M_STORE_ERRORS, 1, "put_bars");
            return rc;
        }
        *stored = (size_t)rc;
        if (total) {
            md_metric_add(MD_M_STORE_WRITE_ROWS, (double)rc);
            md_metric_add(MD_M_INGEST_ACCEPTED, (double)total, "bar");
        }
    }
    for (size_t k = 0; k < n_series; k++) {
        if (found) {
            record_findings(w, &series[k], &found[k], now);
            continue;
        }
        mark_live(w, &series[k], now);
        if (req->judged_findings && req->judged_findings[k].n)
            record_judged(w, &series[k], &req->judged_findings[k]);
    }
    for (int l = 0; total > 0 && l < w->n_listeners; l++) {
        if (!w->listeners[l].on_bars) continue;
        for (size_t k = 0; k < n_series; k++)
            if (series[k].n)
                w->listeners[l].on_bars(w->listeners[l].ctx, req->origin, series[k].symbol,
                                        series[k].iv, series[k].bars, series[k].n);
    }
    if (total > 0) notify_commit(w);
    return 0;
}

static void free_found(md_qevent_vec *found, size_t n)
{
    for (size_t k = 0; k < n; k++) md_qevent_vec_deinit(&found[k]);
    md_free(found);
}

/* The hard rules on every bar (rejected bars leave their series; input[k][i] = the flattened
 * input index of the i-th kept bar of series k), then judge, then store unless validate-only. */
static int write_bars(md_writer *w, const md_write *req, md_write_result *res, md_error *err)
{
    md_series *series = req->series;
    size_t n_series = req->n_series;
    int validate_only = (req->flags & MD_WRITE_VALIDATE_ONLY) != 0;
    int64_t now = md_now();
    size_t index = 0;
    md_qevent_vec *found = md_calloc(n_series ? n_series : 1, sizeof *found);
    size_t **input = md_calloc(n_series ? n_series : 1, sizeof *input);
    for (size_t k = 0; k < n_series; k++) {
        md_bar *bars = (md_bar *)series[k].bars;
        size_t keep = 0, n = series[k].n;
        input[k] = md_malloc((n ? n : 1) * sizeof *input[k]);
        for (size_t i = 0; i < n; i++, index++) {
            md_rule rule;
            md_error e;
            if (md_validate_bar(&bars[i], series[k].iv, now, w->future_tol_s, &rule, &e) != 0) {
                add_reject(res, index, rule, e.msg);
                md_qevent r;
                md_qevent_reject(&r, &bars[i], rule, e.msg);
                md_qevent_vec_push(&found[k], &r);
                add_finding(res, k, index, &r);
                continue;
            }
            input[k][keep] = index;
            if (keep != i) bars[keep] = bars[i];
            keep++;
        }
        series[k].n = keep;
        res->accepted += keep;
    }
    judge(w, series, n_series, validate_only, found, res, input);
    int rc = 0;
    if (!validate_only) {
        size_t stored = 0;
        rc = store_and_record(w, req, found, now, &stored, err);
        res->stored += stored;
    }
    for (size_t k = 0; k < n_series; k++) md_free(input[k]);
    md_free(input);
    free_found(found, n_series);
    return rc;
}

/* Bars that passed md_writer_check_bar already: judged here unless JUDGED, stored unless
 * VALIDATE_ONLY. */
static int write_checked(md_writer *w, const md_write *req, md_write_result *res, md_error *err)
{
    size_t n_series = req->n_series;
    if (req->flags & MD_WRITE_VALIDATE_ONLY) {
        judge(w, req->series, n_series, 1, NULL, res, NULL);
        for (size_t k = 0; k < n_series; k++) res->accepted += req->series[k].n;
        return 0;
    }
    md_qevent_vec *found = NULL;
    if (!(req->flags & MD_WRITE_JUDGED)) {
        found = md_calloc(n_series ? n_series : 1, sizeof *found);
        judge(w, req->series, n_series, 0, found, res, NULL);
    }
    size_t stored = 0;
    int rc = store_and_record(w, req, found, md_now(), &stored, err);
    if (found) free_found(found, n_series);
    if (rc == 0) {
        for (size_t k = 0; k < n_series; k++) res->accepted += req->series[k].n;
        res->stored += stored;
    }
    return rc;
}

static int write_quotes(md_writer *w, const md_write *req, md_write_result *res, md_error *err);

int md_writer_write(md_writer *w, const md_write *req, md_write_result *res, md_error *err)
{
    unsigned f = req->flags;
    /* writes no caller can mean: programming errors, not conditions to report */
    md_assert(!(req->n_series && req->n_quotes), "writer: bars and quotes in one write");
    md_assert(!(req->n_quotes && f), "writer: flags on a write of quotes");
    md_assert(!req->judged_findings || (f & MD_WRITE_JUDGED),
              "writer: judged_findings without JUDGED");
    md_assert(!(f & MD_WRITE_VALIDATE_ONLY) || !((f & MD_WRITE_JUDGED) || req->n_marks),
              "writer: VALIDATE_ONLY with JUDGED or marks (nothing would be stored)");
    md_write_result own = {0};
    if (!res) md_write_result_init(res = &own, 1);
    int rc;
    if (req->n_quotes)
        rc = write_quotes(w, req, res, err);
    else if (f & (MD_WRITE_CHECKED | MD_WRITE_JUDGED))
        rc = write_checked(w, req, res, err);
    else
        rc = write_bars(w, req, res, err);
    if (res == &own) md_write_result_deinit(&own);
    return rc;
}

int md_writer_check_bar(const md_writer *w, const md_bar *b, md_interval iv, int64_t now,
                        md_rule *rule, md_error *err)
{
    return md_validate_bar(b, iv, now, w->future_tol_s, rule, err);
}

/* The symbol's previous price for the quote checks: the last quote stored through this
 * writer (remembered in the tails as a one-bar series "SYMBOL\nq", close = price), else the
 * stored quote, else the close of the newest stored bar; NaN when there is none within
 * QUOTE_REF_S of q. */
static double quote_ref(md_writer *w, const md_quote *q)
{
    char key[MD_SYMBOL_MAX + 4];
    snprintf(key, sizeof key, "%s\nq", q->symbol);
    int64_t ts = 0;
    double px = NAN;
    pthread_mutex_lock(&w->tail_lock);
    tail_entry *t = tail_find(w, key, 0);
    if (t && t->bars.n) ts = t->bars.v[0].ts, px = t->bars.v[0].close;
    pthread_mutex_unlock(&w->tail_lock);
    if (!t) {
        md_quote prev;
        md_bar bar;
        if (md_store_get_quote(w->st, q->symbol, &prev, NULL) == 0)
            ts = prev.ts, px = prev.price;
        else if (md_store_latest_bar(w->st, q->symbol, &bar, NULL, NULL) == 0)
            ts = bar.ts, px = bar.close;
    }
    return llabs(q->ts - ts) <= QUOTE_REF_S ? px : NAN;
}

static void quote_remember(md_writer *w, const md_quote *q)
{
    char key[MD_SYMBOL_MAX + 4];
    snprintf(key, sizeof key, "%s\nq", q->symbol);
    md_bar b;
    md_bar_init(&b);
    b.ts = q->ts;
    b.open = b.high = b.low = b.close = q->price;
    pthread_mutex_lock(&w->tail_lock);
    tail_entry *t = tail_find(w, key, 1);
    if (t->bars.n == 0)
        md_bar_vec_push(&t->bars, &b);
    else if (t->bars.v[0].ts <= q->ts)
        t->bars.v[0] = b;
    pthread_mutex_unlock(&w->tail_lock);
}

static int write_quotes(md_writer *w, const md_write *req, md_write_result *res, md_error *err)
{
    md_quote *quotes = req->quotes;
    int64_t now = md_now();
    size_t notified = 0;
    for (size_t i = 0; i < req->n_quotes; i++) {
        md_rule rule;
        md_error e;
        if (md_validate_quote(&quotes[i], now, w->future_tol_s, &rule, &e) != 0) {
            add_reject(res, i, rule, e.msg);
            continue;
        }
        md_qevent ev[2];
        size_t nev =
            md_quality_quote(&w->qp, &quotes[i], quote_ref(w, &quotes[i]), ev, &quotes[i].quality);
        for (size_t k = 0; k < nev; k++)
            MD_DEBUG("quality", "quote finding symbol=%s rule=%s source=%s: %s", quotes[i].symbol,
                     md_qrule_code(ev[k].rule), md_source_name(quotes[i].source), ev[k].detail);
        int rc = md_store_put_quote(w->st, &quotes[i], err);
        if (rc < 0) {
            md_metric_add(MD_M_STORE_ERRORS, 1, "put_quote");
            if (notified) notify_commit(w); /* what was stored before the error still goes out */
            return rc;
        }
        res->accepted++;
        md_metric_add(MD_M_INGEST_ACCEPTED, 1, "quote");
        if (rc == 0) continue; /* an equal or newer quote is already stored */
        res->stored++;
        notified++;
        quote_remember(w, &quotes[i]);
        for (int l = 0; l < w->n_listeners; l++)
            if (w->listeners[l].on_quote)
                w->listeners[l].on_quote(w->listeners[l].ctx, req->origin, &quotes[i]);
    }
    if (notified) notify_commit(w);
    return 0;
}
