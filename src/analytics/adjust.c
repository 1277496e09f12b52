/* adjust.c - cumulative adjustment factors (the formulas are in adjust.h). */
#include "analytics/adjust.h"

#include "core/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"none", "splits", "all"};

const char *md_adjust_name(md_adjust a)
{
    return (unsigned)a < 3 ? names[a] : "splits";
}

int md_adjust_parse(const char *s, md_adjust *out)
{
    for (int i = 0; s && i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (md_adjust)i;
            return 0;
        }
    }
    return -1;
}

static int cmp_cutoff(const void *a, const void *b)
{
    int64_t x = ((const md_adj_event *)a)->cutoff, y = ((const md_adj_event *)b)->cutoff;
    return x < y ? -1 : x > y;
}

void md_adj_plan_build(md_adjust mode, const md_adj_event *ev, size_t n, int64_t anchor,
                       md_adj_plan *out)
{
    memset(out, 0, sizeof *out);
    out->mode = mode;
    if (mode == MD_ADJUST_NONE || n == 0) return;
    md_adj_event *e = md_malloc(n * sizeof *e);
    memcpy(e, ev, n * sizeof *e);
    qsort(e, n, sizeof *e, cmp_cutoff);
    /* one step per distinct cutoff: its own price and volume factor */
    int64_t *cut = md_malloc(n * sizeof *cut);
    double *pf = md_malloc(n * sizeof *pf), *vf = md_malloc(n * sizeof *vf);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].cutoff > anchor) continue;
        double p = 1, v = 1;
        if (e[i].type == MD_ACT_SPLIT) {
            if (!(e[i].ratio > 0) || !isfinite(e[i].ratio)) continue;
            p = v = e[i].ratio;
        } else if (e[i].type == MD_ACT_DIVIDEND) {
            if (mode != MD_ADJUST_ALL) continue;
            double c = e[i].prev_close, d = e[i].amount;
            if (!(c > 0) || !(d > 0) || !(d < c)) {
                out->skipped++;
                continue;
            }
            p = 1.0 / (1.0 - d / c);
        } else {
            continue;
        }
        if (k > 0 && cut[k - 1] == e[i].cutoff) {
            pf[k - 1] *= p;
            vf[k - 1] *= v;
            continue;
        }
        cut[k] = e[i].cutoff;
        pf[k] = p;
        vf[k] = v;
        k++;
    }
    md_free(e);
    /* cumulative from the newest step back: a bar before step i is divided by every step
     * from i on */
    for (size_t i = k; i-- > 1;) {
        pf[i - 1] *= pf[i];
        vf[i - 1] *= vf[i];
    }
    if (k == 0) {
        md_free(cut), md_free(pf), md_free(vf);
        return;
    }
    out->n = k;
    out->cutoff = cut;
    out->price_div = pf;
    out->vol_mul = vf;
}

void md_adj_plan_deinit(md_adj_plan *p)
{
    md_free(p->cutoff);
    md_free(p->price_div);
    md_free(p->vol_mul);
    memset(p, 0, sizeof *p);
}

/* Index of the first cutoff > ts (n when none). */
static size_t step_of(const md_adj_plan *p, int64_t ts)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->cutoff[mid] <= ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double md_adj_price_div(const md_adj_plan *p, int64_t ts)
{
    size_t i = step_of(p, ts);
    return i < p->n ? p->price_div[i] : 1.0;
}

double md_adj_vol_mul(const md_adj_plan *p, int64_t ts)
{
    size_t i = step_of(p, ts);
    return i < p->n ? p->vol_mul[i] : 1.0;
}

void md_adj_apply(const md_adj_plan *p, md_bar *bars, size_t n)
{
    if (p->n == 0 || n == 0) return;
    size_t i = step_of(p, bars[0].ts);
    for (size_t j = 0; j < n; j++) {
        md_bar *b = &bars[j];
        if (j > 0 && b->ts < bars[j - 1].ts) i = step_of(p, b->ts); /* not sorted */
        while (i < p->n && p->cutoff[i] <= b->ts) i++;
        if (i == p->n) continue; /* after every applied action: as traded */
        double d = p->price_div[i];
        b->open /= d;
        b->high /= d;
        b->low /= d;
        b->close /= d;
        if (!isnan(b->vwap)) b->vwap /= d;
        b->volume *= p->vol_mul[i];
    }
}

int md_adj_straddles(const md_adj_plan *p, int64_t from, int64_t to)
{
    size_t i = step_of(p, from); /* first cutoff > from */
    return i < p->n && p->cutoff[i] < to;
}

/* -- one record per event -------------------------------------------------------------------- */

#define SAME_EVENT_S (5 * 86400)

static int user_rank(int source)
{
    if (source == MD_SRC_INGEST) return 2;
    if (source == MD_SRC_CSV) return 1;
    return 0;
}

static int cmp_type_date(const void *a, const void *b)
{
    const md_action *x = a, *y = b;
    if (x->type != y->type) return x->type < y->type ? -1 : 1;
    if (x->ex_date != y->ex_date) return x->ex_date < y->ex_date ? -1 : 1;
    return x->source < y->source ? -1 : x->source > y->source;
}

static int cmp_date(const void *a, const void *b)
{
    const md_action *x = a, *y = b;
    if (x->ex_date != y->ex_date) return x->ex_date < y->ex_date ? -1 : 1;
    return x->type < y->type ? -1 : x->type > y->type;
}

/* The chosen record of one event s[0..n) (same type, distinct sources). */
static const md_action *choose(const md_action *s, size_t n)
{
    const md_action *best = NULL;
    int best_user = 0, best_votes = -1;
    for (size_t i = 0; i < n; i++) {
        int user = user_rank(s[i].source);
        int votes = 0;
        for (size_t j = 0; j < n; j++) votes += md_action_same_values(&s[i], &s[j]);
        if (!best || user > best_user ||
            (user == best_user &&
             (votes > best_votes || (votes == best_votes && s[i].source < best->source)))) {
            best = &s[i];
            best_user = user;
            best_votes = votes;
        }
    }
    return best;
}

size_t md_actions_effective(const md_action *in, size_t n, md_action *out)
{
    if (n == 0) return 0;
    md_action *s = md_malloc(n * sizeof *s);
    memcpy(s, in, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_type_date);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        /* an event: following records of the type, within 5 days of its first, each from a
         * source not yet in it */
        size_t j = i + 1;
        for (; j < n && s[j].type == s[i].type && s[j].ex_date - s[i].ex_date <= SAME_EVENT_S;
             j++) {
            int seen = 0;
            for (size_t m = i; m < j; m++) seen |= s[m].source == s[j].source;
            if (seen) break;
        }
        /* same date for the equal-value test: an event's records may differ by days */
        md_action tmp[16];
        size_t tn = j - i < 16 ? j - i : 16;
        for (size_t m = 0; m < tn; m++) {
            tmp[m] = s[i + m];
            tmp[m].ex_date = s[i].ex_date;
        }
        const md_action *c = choose(tmp, tn);
        out[k++] = s[i + (size_t)(c - tmp)];
        i = j;
    }
    md_free(s);
    qsort(out, k, sizeof *out, cmp_date);
    return k;
}
