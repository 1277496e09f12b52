/* ind_int.h - what the indicator kernels share inside analytics/: the run they carry their
 * state in, and the streaming building blocks (TTR's EMA and Wilder sum, rolling sums,
 * window extremes, lags) each kernel is assembled from.
 *
 * Every block is fed one value at a time and keeps what the next value needs, so a kernel
 * gives the same numbers whether a series comes in one chunk or in many. Blocks treat NAN
 * before their first number as TTR treats leading NAs: skipped, the warm-up starting at the
 * first number (this is how a signal line's EMA starts where the MACD starts). */
#ifndef MD_ANALYTICS_IND_INT_H
#define MD_ANALYTICS_IND_INT_H

#include "analytics/indicators.h"
#include "core/mem.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define MD_IND_RUN_BUFS 6

struct md_ind_run {
    const md_ind_def *def;
    double p[MD_IND_MAX_PARAMS];
    md_interval iv;
    double hl_sd;
    void *st;                   /* the kernel's state: allocated on its first call */
    void *buf[MD_IND_RUN_BUFS]; /* arrays the state points into; all freed with the run */
    size_t st_size;             /* bytes of st and of each buf (md_ind_run_peek copies them) */
    size_t buf_size[MD_IND_RUN_BUFS];
};

/* The kernels, one per row of indicators.def (analytics/ind_*.c). */
#define MD_IND(name, scale, flags, params, outputs, check, reference)                              \
    void md_ind__##name(md_ind_run *r, const md_ind_cols *in, size_t n, double **out);
#include "analytics/indicators.def"
#undef MD_IND

/* The kernel's state struct, zeroed, allocated on the first call and kept in r->st. */
static inline void *ind_state(md_ind_run *r, size_t size, int *fresh)
{
    *fresh = r->st == NULL;
    if (!r->st) r->st = md_calloc(1, size), r->st_size = size;
    return r->st;
}

/* A zeroed array of n doubles owned by the run (slot k of MD_IND_RUN_BUFS). */
static inline double *ind_buf(md_ind_run *r, int k, size_t n)
{
    r->buf[k] = md_calloc(n ? n : 1, sizeof(double));
    r->buf_size[k] = (n ? n : 1) * sizeof(double);
    return r->buf[k];
}

static inline size_t ind_period(const md_ind_run *r, int k)
{
    return (size_t)r->p[k];
}

/* -- Kahan-compensated sum ---------------------------------------------------------------- */

typedef struct {
    double s, c;
} ind_ksum;

static inline void ind_kadd(ind_ksum *k, double x)
{
    double y = x - k->c;
    double t = k->s + y;
    k->c = (t - k->s) - y;
    k->s = t;
}

/* -- TTR::EMA: seeded with the mean of the first n numbers (summed as x/n, as TTR does),
 *    then e = x * ratio + e * (1 - ratio); ratio 2/(n+1), or 1/n with wilder. ----------- */

typedef struct {
    double ratio, seed, e;
    size_t n, cnt;
} ind_ema;

static inline void ind_ema_init(ind_ema *s, size_t n, int wilder)
{
    s->n = n;
    s->ratio = wilder ? 1.0 / (double)n : 2.0 / ((double)n + 1.0);
}

static inline double ind_ema_step(ind_ema *s, double x)
{
    if (s->cnt >= s->n) return s->e = x * s->ratio + s->e * (1 - s->ratio);
    if (s->cnt == 0 && isnan(x)) return NAN; /* leading null */
    s->seed += x / (double)s->n;
    if (++s->cnt < s->n) return NAN;
    return s->e = s->seed;
}

/* -- TTR::wilderSum: the n-th number plus (n-1)/n of the sum of the n-1 before it, then
 *    r = x + r * (n-1)/n. --------------------------------------------------------------- */

typedef struct {
    double sum, r;
    size_t n, cnt;
} ind_wsum;

static inline double ind_wsum_step(ind_wsum *s, double x)
{
    double k = (double)(s->n - 1);
    if (s->cnt >= s->n) return s->r = x + s->r * k / (double)s->n;
    if (s->cnt == 0 && isnan(x)) return NAN;
    if (++s->cnt < s->n) {
        s->sum += x;
        return NAN;
    }
    return s->r = x + s->sum * k / (double)s->n;
}

/* -- rolling sum of the last n numbers (TTR::runSum): each step adds x - (the value leaving),
 *    and every n values the sum is recomputed from the window (compensated), so rounding
 *    never builds up over a long series. A window holding only zeros sums to exactly 0 (a
 *    count of its non-zero values says so), where a running sum could keep a residue. ----- */

typedef struct {
    double *ring;
    size_t n, cnt, head, nonzero;
    double sum;
} ind_rsum;

static inline void ind_rsum_init(ind_rsum *s, double *ring, size_t n)
{
    s->ring = ring;
    s->n = n;
}

static inline void ind_rsum_refresh(ind_rsum *s)
{
    ind_ksum k = {0, 0};
    for (size_t i = 0; i < s->n; i++) ind_kadd(&k, s->ring[i]);
    s->sum = k.s;
}

/* Returns 1 when the window is full (s->sum then holds its sum). */
static inline int ind_rsum_push(ind_rsum *s, double x)
{
    if (s->cnt == 0 && isnan(x)) return 0; /* leading null */
    double old = s->cnt >= s->n ? s->ring[s->head] : 0;
    s->nonzero = s->nonzero + (x != 0) - (old != 0);
    s->ring[s->head] = x;
    s->sum += x - old;
    if (++s->head == s->n) {
        s->head = 0;
        ind_rsum_refresh(s);
    }
    if (s->nonzero == 0) s->sum = 0;
    return ++s->cnt >= s->n;
}

/* -- the last n+1 numbers, to look back up to n bars (x[i-n] .. x[i]) ----------------------- */

typedef struct {
    double *ring; /* n + 1 slots */
    size_t n, cnt, head;
} ind_lag;

static inline void ind_lag_init(ind_lag *s, double *ring, size_t n)
{
    s->ring = ring;
    s->n = n;
}

static inline void ind_lag_push(ind_lag *s, double x)
{
    s->ring[s->head] = x;
    if (++s->head == s->n + 1) s->head = 0;
    s->cnt++;
}

/* x[i-j] for the newest i, 0 <= j <= n and j < cnt. */
static inline double ind_lag_get(const ind_lag *s, size_t j)
{
    size_t k = s->head + s->n + 1 - 1 - j;
    return s->ring[k >= s->n + 1 ? k - (s->n + 1) : k];
}

/* -- the highest (or lowest) of the last n numbers: a monotonic deque -------------------- */

typedef struct {
    double *v, *at; /* values and their positions, n slots each, used as a circular deque */
    size_t n, head, len;
    uint64_t i; /* position of the next number */
    int max;    /* 1: highest, 0: lowest */
} ind_ext;

static inline void ind_ext_init(ind_ext *s, double *v, double *at, size_t n, int max)
{
    s->v = v, s->at = at, s->n = n, s->max = max;
}

/* Returns the extreme of the window ending at x (meaningful once n numbers were pushed). */
static inline size_t ind_ext_slot(const ind_ext *s, size_t k)
{
    size_t t = s->head + k;
    return t >= s->n ? t - s->n : t;
}

static inline double ind_ext_push(ind_ext *s, double x)
{
    while (s->len) {
        size_t b = ind_ext_slot(s, s->len - 1);
        if (s->max ? s->v[b] <= x : s->v[b] >= x)
            s->len--;
        else
            break;
    }
    if (s->len && (uint64_t)s->at[s->head] + s->n <= s->i) { /* front left the window */
        s->head = ind_ext_slot(s, 1);
        s->len--;
    }
    size_t t = ind_ext_slot(s, s->len);
    s->v[t] = x;
    s->at[t] = (double)s->i;
    s->len++;
    s->i++;
    return s->v[s->head];
}

/* A band's three outputs at bar i: middle, upper, lower. */
static inline void ind_band_put(double **out, size_t i, double mid, double up, double lo)
{
    out[0][i] = mid, out[1][i] = up, out[2][i] = lo;
}

/* -- the highest high and lowest low of the last n bars (buffers 0..3 of the run) ------------ */

typedef struct {
    ind_ext hi, lo;
    size_t cnt; /* bars seen, up to n */
} ind_range;

static inline void ind_range_init(md_ind_run *r, ind_range *s, size_t n)
{
    ind_ext_init(&s->hi, ind_buf(r, 0, n), ind_buf(r, 1, n), n, 1);
    ind_ext_init(&s->lo, ind_buf(r, 2, n), ind_buf(r, 3, n), n, 0);
}

/* Pushes a bar's high and low; *hh, *ll are the window's extremes. 1 once n bars were seen. */
static inline int ind_range_push(ind_range *s, double h, double l, double *hh, double *ll)
{
    *hh = ind_ext_push(&s->hi, h), *ll = ind_ext_push(&s->lo, l);
    if (s->cnt < s->hi.n) s->cnt++;
    return s->cnt >= s->hi.n;
}

/* -- mean and variance of the last n numbers: sums of (x - K) and (x - K)^2 around an anchor
 *    K moved to the window's mean every n values, so the variance keeps its digits however
 *    far prices wander from where the series started. ----------------------------------- */

typedef struct {
    double *ring;
    size_t n, cnt, head;
    double K;
    ind_ksum s1, s2;
} ind_mom;

static inline void ind_mom_init(ind_mom *s, double *ring, size_t n)
{
    s->ring = ring;
    s->n = n;
}

/* Returns 1 when the window is full; *mean and *m2 (sum of squared deviations) are set. */
static inline int ind_mom_push(ind_mom *s, double x, double *mean, double *m2)
{
    if (s->cnt == 0) s->K = x;
    if (s->cnt >= s->n) {
        double o = s->ring[s->head] - s->K;
        ind_kadd(&s->s1, -o);
        ind_kadd(&s->s2, -o * o);
    }
    s->ring[s->head] = x;
    double d = x - s->K;
    ind_kadd(&s->s1, d);
    ind_kadd(&s->s2, d * d);
    s->cnt++;
    if (++s->head == s->n) {
        s->head = 0;
        /* re-anchor on the window's own mean (two passes, as TTR::runSD computes it) */
        double m = 0;
        for (size_t i = 0; i < s->n; i++) m += s->ring[i] / (double)s->n;
        ind_ksum a = {0, 0}, b = {0, 0};
        for (size_t i = 0; i < s->n; i++) {
            double e = s->ring[i] - m;
            ind_kadd(&a, e);
            ind_kadd(&b, e * e);
        }
        s->K = m, s->s1 = a, s->s2 = b;
    }
    if (s->cnt < s->n) return 0;
    double mm = s->s1.s / (double)s->n;
    *mean = s->K + mm;
    double v = s->s2.s - mm * s->s1.s;
    *m2 = v > 0 ? v : 0;
    return 1;
}

/* -- true range (TTR::ATR's tr): null on the first bar, then max(high, previous close) -
 *    min(low, previous close). ------------------------------------------------------------ */

typedef struct {
    double prev_close;
    int started;
} ind_tr;

static inline double ind_tr_step(ind_tr *s, double h, double l, double c)
{
    double tr = NAN;
    if (s->started) {
        double th = h > s->prev_close ? h : s->prev_close;
        double tl = l < s->prev_close ? l : s->prev_close;
        tr = th - tl;
    }
    s->started = 1;
    s->prev_close = c;
    return tr;
}

/* Typical price (high + low + close) / 3 computed as R's mean() does it, which TTR uses:
 * summed and divided in long double, then corrected by the mean residual. Bit for bit the
 * same value matters where typical prices are compared (MFI counts a bar as up or down). */
static inline double ind_typical(double h, double l, double c)
{
    long double s = (long double)h + l + c;
    s /= 3;
    long double t = (h - s) + (l - s) + (c - s);
    s += t / 3;
    return (double)s;
}

#endif
