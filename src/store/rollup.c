/* rollup.c - materialised coarse bars: buckets, the aggregation step, and what a write of a
 * series changes in them (rollup.h has the rules). No I/O: the backends read and write. */
#include "store/rollup.h"

#include "core/mem.h"

#include <math.h>
#include <string.h>

static const md_interval targets_all[] = {
#define X(iv) iv,
    MD_ROLLUP_IVS(X)
#undef X
};

int md_rollup__is_target(md_interval iv)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(targets_all); i++)
        if (targets_all[i] == iv) return 1;
    return 0;
}

int md_rollup__targets(md_interval from_iv, md_interval out[MD_IV_COUNT])
{
    int n = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(targets_all); i++)
        if (md_interval_divides(from_iv, targets_all[i])) out[n++] = targets_all[i];
    return n;
}

int64_t md_rollup__bucket(md_interval iv, int64_t ts)
{
    return md_interval_floor(iv, ts);
}

int64_t md_rollup__next(md_interval iv, int64_t b)
{
    return md_interval_next(iv, b);
}

/* -- the aggregation step (the loop of md_bars_aggregate, one bar at a time) ----------------- */

void md_rollup__start(md_rollup *r, md_interval iv, int64_t b, const md_bar *first)
{
    r->iv = iv;
    r->bar = *first;
    r->bar.ts = b;
    r->pv = isnan(first->vwap) ? NAN : first->vwap * first->volume;
    r->last_ts = first->ts;
    r->n = 1;
}

void md_rollup__fold(md_rollup *r, const md_bar *b)
{
    md_bar *agg = &r->bar;
    if (b->high > agg->high) agg->high = b->high;
    if (b->low < agg->low) agg->low = b->low;
    agg->close = b->close;
    agg->volume += b->volume;
    r->pv = isnan(b->vwap) ? NAN : r->pv + b->vwap * b->volume;
    agg->trades = (agg->trades < 0 || b->trades < 0) ? -1 : agg->trades + b->trades;
    if (b->quality >= 0 && (agg->quality < 0 || b->quality < agg->quality))
        agg->quality = b->quality;
    agg->source = b->source;
    r->last_ts = b->ts;
    r->n++;
}

void md_rollup__final(const md_rollup *r, md_bar *out)
{
    *out = r->bar;
    out->vwap = (isnan(r->pv) || r->bar.volume <= 0) ? NAN : r->pv / r->bar.volume;
}

void md_rollup_vec_push(md_rollup_vec *v, const md_rollup *r)
{
    MD_ARRAY_GROW(v->v, v->n, v->cap, 64);
    v->v[v->n++] = *r;
}

void md_rollup_vec_deinit(md_rollup_vec *v)
{
    md_free(v->v);
    memset(v, 0, sizeof *v);
}

/* -- planning a write -------------------------------------------------------------------------- */

enum { NEW, APPEND, MIXED };

/* How the bucket [kb, ke) whose first bar of the batch is at t0 is changed by the batch,
 * the stored bars spanning [first, last] (none when !stored). */
static int classify(int stored, int64_t first, int64_t last, int64_t kb, int64_t ke, int64_t t0)
{
    if (!stored || ke <= first || kb > last) return NEW;
    return t0 > last ? APPEND : MIXED;
}

static void widen(md_rollup_plan *p, int64_t lo, int64_t hi)
{
    if (lo >= hi) return;
    if (p->read_lo >= p->read_hi) {
        p->read_lo = lo;
        p->read_hi = hi;
        return;
    }
    if (lo < p->read_lo) p->read_lo = lo;
    if (hi > p->read_hi) p->read_hi = hi;
}

/* The end of the run of bars b[i..) in the bucket [.., ke). */
static size_t run_end(const md_bar *b, size_t n, size_t i, int64_t ke)
{
    size_t j = i + 1;
    while (j < n && b[j].ts < ke) j++;
    return j;
}

typedef struct plan_state {
    int stored;
    int64_t first, last;
} plan_state;

void md_rollup__plan(md_rollup_plan *p, md_interval from_iv, const md_bar *b, size_t n, int stored,
                     int64_t first, int64_t last)
{
    memset(p, 0, sizeof *p);
    p->from_iv = from_iv;
    p->n_targets = md_rollup__targets(from_iv, p->targets);
    if (!stored || n == 0) return;
    /* the batch's overlap with the stored range: the bars it may replace, to count them */
    int64_t olo = b[0].ts > first ? b[0].ts : first, ohi = b[n - 1].ts < last ? b[n - 1].ts : last;
    if (olo <= ohi) widen(p, olo, ohi + 1);
    size_t cap = 0;
    for (int t = 0; t < p->n_targets; t++) {
        md_interval iv = p->targets[t];
        for (size_t i = 0; i < n;) {
            int64_t kb = md_rollup__bucket(iv, b[i].ts), ke = md_rollup__next(iv, kb);
            size_t j = run_end(b, n, i, ke);
            int c = classify(stored, first, last, kb, ke, b[i].ts);
            if (c == MIXED) widen(p, kb, ke);
            if (c == APPEND) {
                if (p->n_want == cap) {
                    cap = cap ? cap * 2 : 8;
                    p->want_iv = md_realloc(p->want_iv, cap * sizeof *p->want_iv);
                    p->want_ts = md_realloc(p->want_ts, cap * sizeof *p->want_ts);
                }
                p->want_iv[p->n_want] = iv;
                p->want_ts[p->n_want++] = kb;
            }
            i = j;
        }
    }
}

void md_rollup__plan_free(md_rollup_plan *p)
{
    md_free(p->want_iv);
    md_free(p->want_ts);
    p->want_iv = NULL;
    p->want_ts = NULL;
    p->n_want = 0;
}

/* First index of v[0..n) with ts >= t. */
static size_t lower_bound(const md_bar *v, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].ts < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Bucket [kb, ke) rebuilt from the stored bars s[] and the batch's bars b[] of the bucket
 * (a batch bar replaces a stored one with its timestamp), oldest first. */
static void rebuild(md_rollup *r, md_interval iv, int64_t kb, int64_t ke, const md_bar *s,
                    size_t ns, const md_bar *b, size_t nb)
{
    size_t i = lower_bound(s, ns, kb), j = 0;
    int started = 0;
    while (j < nb || (i < ns && s[i].ts < ke)) {
        const md_bar *next;
        if (j < nb && (i >= ns || s[i].ts >= ke || b[j].ts <= s[i].ts)) {
            if (i < ns && s[i].ts == b[j].ts) i++; /* replaced */
            next = &b[j++];
        } else {
            next = &s[i++];
        }
        if (!started)
            md_rollup__start(r, iv, kb, next), started = 1;
        else
            md_rollup__fold(r, next);
    }
}

int md_rollup__build(md_rollup_plan *p, const md_bar *b, size_t n, const md_bar *stored,
                     size_t n_stored, const md_rollup *have, size_t n_have, md_rollup_vec *out,
                     int64_t *replaced)
{
    /* the plan's bounds are recomputed from what it asked for: the series' stored span is
     * known to the caller only; a bucket's class follows from read range and want list */
    int64_t rep = 0;
    for (size_t i = 0, k = 0; i < n && k < n_stored;) {
        if (stored[k].ts < b[i].ts)
            k++;
        else if (stored[k].ts > b[i].ts)
            i++;
        else
            rep++, i++, k++;
    }
    *replaced = rep;
    int again = 0;
    for (int t = 0; t < p->n_targets; t++) {
        md_interval iv = p->targets[t];
        for (size_t i = 0; i < n;) {
            int64_t kb = md_rollup__bucket(iv, b[i].ts), ke = md_rollup__next(iv, kb);
            size_t j = run_end(b, n, i, ke);
            int in_want = 0;
            for (size_t w = 0; w < p->n_want && !in_want; w++)
                in_want = p->want_iv[w] == iv && p->want_ts[w] == kb;
            int mixed = !in_want && p->read_lo < p->read_hi && kb >= p->read_lo && ke <= p->read_hi;
            md_rollup r;
            if (in_want) {
                const md_rollup *h = NULL;
                for (size_t x = 0; x < n_have && !h; x++)
                    if (have[x].iv == iv && have[x].bar.ts == kb) h = &have[x];
                if (!h || h->last_ts >= b[i].ts) {
                    /* the row to extend is not there (or not older than the batch): rebuild
                     * the bucket from the stored bars instead */
                    for (size_t w = 0; w < p->n_want; w++)
                        if (p->want_iv[w] == iv && p->want_ts[w] == kb) p->want_ts[w] = INT64_MIN;
                    widen(p, kb, ke);
                    again = 1;
                    i = j;
                    continue;
                }
                r = *h;
                for (size_t k = i; k < j; k++) md_rollup__fold(&r, &b[k]);
            } else if (mixed) {
                rebuild(&r, iv, kb, ke, stored, n_stored, b + i, j - i);
            } else {
                md_rollup__start(&r, iv, kb, &b[i]);
                for (size_t k = i + 1; k < j; k++) md_rollup__fold(&r, &b[k]);
            }
            if (!again) md_rollup_vec_push(out, &r);
            i = j;
        }
    }
    if (again) out->n = 0;
    return again;
}

void md_rollup__all(md_interval from_iv, const md_bar *b, size_t n, md_rollup_vec *out)
{
    md_interval t[MD_IV_COUNT];
    int nt = md_rollup__targets(from_iv, t);
    for (int k = 0; k < nt; k++) {
        for (size_t i = 0; i < n;) {
            int64_t kb = md_rollup__bucket(t[k], b[i].ts), ke = md_rollup__next(t[k], kb);
            size_t j = run_end(b, n, i, ke);
            md_rollup r;
            md_rollup__start(&r, t[k], kb, &b[i]);
            for (size_t x = i + 1; x < j; x++) md_rollup__fold(&r, &b[x]);
            md_rollup_vec_push(out, &r);
            i = j;
        }
    }
}
