/* ind_oscillator.c - oscillators and momentum: rsi, stoch, willr, cci, roc, mom, adx, aroon.
 * Definitions: TTR's (docs/indicators.md). */
#include "analytics/ind_int.h"

/* TTR::RSI: Wilder EMAs (ratio 1/n) of the up and down moves, the first at bar n (the mean of
 * moves 1..n); RSI = 100 * up / (up + down). A series that has not moved since its first bar
 * has no RSI (0/0, null, as in TTR). */
typedef struct {
    double prev;
    int started;
    ind_ema up, dn;
} rsi_state;

void md_ind__rsi(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    rsi_state *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) ind_ema_init(&s->up, ind_period(r, 0), 1), ind_ema_init(&s->dn, ind_period(r, 0), 1);
    const double *c = in->close;
    double *o = out[0];
    size_t i = 0;
    if (n && !s->started) {
        o[0] = NAN;
        s->prev = c[0];
        s->started = 1;
        i = 1;
    }
    for (; i < n && s->up.cnt < s->up.n; i++) {
        double d = c[i] - s->prev;
        s->prev = c[i];
        double u = ind_ema_step(&s->up, d > 0 ? d : 0), v = ind_ema_step(&s->dn, d < 0 ? -d : 0);
        o[i] = 100 * u / (u + v);
    }
    if (i >= n) return;
    double u = s->up.e, v = s->dn.e, a = s->up.ratio, b = 1 - a, prev = s->prev;
    for (; i < n; i++) {
        double d = c[i] - prev;
        prev = c[i];
        u = (d > 0 ? d : 0) * a + u * b;
        v = (d < 0 ? -d : 0) * a + v * b;
        o[i] = 100 * u / (u + v);
    }
    s->up.e = u, s->dn.e = v, s->prev = prev;
}

/* Where the close sits in the range of the last k bars: (close - lowest low) / (highest
 * high - lowest low), or from the top (highest high - close) / (...) with from_top; NAN
 * while fewer than k bars were seen, `flat` when the range is empty. */
static double range_pos(ind_range *s, double h, double l, double c, double flat, int from_top)
{
    double hh, ll;
    if (!ind_range_push(s, h, l, &hh, &ll)) return NAN;
    if (hh == ll) return flat;
    return (from_top ? hh - c : c - ll) / (hh - ll);
}

/* TTR::stoch(nFastK = k, nFastD = s, nSlowD = d), the slow stochastic: our %K is TTR's
 * fastD (SMA(s) of fastK), our %D its slowD (SMA(d) of that), both times 100. A bar whose
 * k-bar range is empty gets fastK = 0.5 (TTR leaves 0/0 and then cannot average). */
typedef struct {
    ind_range rg;
    ind_rsum k, d;
} stoch_state;

void md_ind__stoch(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    stoch_state *s = ind_state(r, sizeof *s, &fresh);
    size_t k = ind_period(r, 0), ks = ind_period(r, 1), d = ind_period(r, 2);
    if (fresh) {
        ind_range_init(r, &s->rg, k);
        ind_rsum_init(&s->k, ind_buf(r, 4, ks), ks);
        ind_rsum_init(&s->d, ind_buf(r, 5, d), d);
    }
    for (size_t i = 0; i < n; i++) {
        double fk = range_pos(&s->rg, in->high[i], in->low[i], in->close[i], 0.5, 0);
        double fd = ind_rsum_push(&s->k, fk) ? s->k.sum / (double)ks : NAN;
        double sd = ind_rsum_push(&s->d, fd) ? s->d.sum / (double)d : NAN;
        out[0][i] = 100 * fd;
        out[1][i] = 100 * sd;
    }
}

/* Williams %R on the usual -100..0 scale: -100 * TTR::WPR (TTR returns (HH - close) /
 * (HH - LL) in 0..1, 0.5 for an empty range, so -50 here). */
void md_ind__willr(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    ind_range *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) ind_range_init(r, s, ind_period(r, 0));
    for (size_t i = 0; i < n; i++) {
        out[0][i] = -100 * range_pos(s, in->high[i], in->low[i], in->close[i], 0.5, 1);
    }
}

/* TTR::CCI: (tp - SMA(tp)) / (0.015 * mean absolute deviation of tp around that SMA), tp
 * the typical price. The deviation needs the whole window each bar (as TTR computes it).
 * A window with no deviation (every tp equal) has no CCI (null). */
typedef struct {
    ind_rsum sum;
} cci_state;

void md_ind__cci(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    cci_state *s = ind_state(r, sizeof *s, &fresh);
    size_t p = ind_period(r, 0);
    if (fresh) ind_rsum_init(&s->sum, ind_buf(r, 0, p), p);
    for (size_t i = 0; i < n; i++) {
        double tp = ind_typical(in->high[i], in->low[i], in->close[i]);
        if (!ind_rsum_push(&s->sum, tp)) {
            out[0][i] = NAN;
            continue;
        }
        double m = s->sum.sum / (double)p, dev = 0, lo = tp, hi = tp;
        for (size_t j = 0; j < p; j++) {
            double x = s->sum.ring[j];
            dev += fabs(x - m) / (double)p;
            lo = x < lo ? x : lo, hi = x > hi ? x : hi;
        }
        /* a flat window has no deviation, whatever rounding left in its mean (TTR answers
         * +-66.67 there from 0/0's residues) */
        out[0][i] = dev > 0 && lo < hi ? (tp - m) / (0.015 * dev) : NAN;
    }
}

/* The close against the close n bars earlier: their ratio - 1 (ratio), else their difference. */
static void close_change(md_ind_run *r, const md_ind_cols *in, size_t n, double *out, int ratio)
{
    int fresh;
    ind_lag *s = ind_state(r, sizeof *s, &fresh);
    size_t p = ind_period(r, 0);
    if (fresh) ind_lag_init(s, ind_buf(r, 0, p + 1), p);
    for (size_t i = 0; i < n; i++) {
        double c = in->close[i];
        ind_lag_push(s, c);
        out[i] = s->cnt <= p ? NAN : ratio ? c / ind_lag_get(s, p) - 1 : c - ind_lag_get(s, p);
    }
}

/* TTR::ROC(type = "discrete"): close / close n bars earlier - 1 (a fraction, 0.05 = +5%). */
void md_ind__roc(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    close_change(r, in, n, out[0], 1);
}

/* TTR::momentum: close - close n bars earlier. */
void md_ind__mom(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    close_change(r, in, n, out[0], 0);
}

/* TTR::ADX: directional moves (+DM when the high rose more than the low fell, -DM the other
 * way, neither on a tie or when both fell), Wilder sums (TTR::wilderSum: its first value is
 * the n-th term plus (n-1)/n of the n-1 before) of +DM, -DM and the true range give +DI and
 * -DI; DX = 100 |+DI - -DI| / (+DI + -DI); ADX = Wilder EMA(n) of DX. */
typedef struct {
    int started;
    double ph, pl;
    ind_tr tr;
    ind_wsum sp, sn, st;
    ind_ema adx;
} adx_state;

void md_ind__adx(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    adx_state *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) {
        size_t p = ind_period(r, 0);
        s->sp.n = s->sn.n = s->st.n = p;
        ind_ema_init(&s->adx, p, 1);
    }
    for (size_t i = 0; i < n; i++) {
        double h = in->high[i], l = in->low[i];
        double dmp = NAN, dmn = NAN;
        if (s->started) {
            double dh = h - s->ph, dl = s->pl - l;
            int none = dh == dl || (dh < 0 && dl < 0);
            dmp = none ? 0 : (dh > dl ? dh : 0);
            dmn = none ? 0 : (dh < dl ? dl : 0);
        }
        s->started = 1, s->ph = h, s->pl = l;
        double tr = ind_wsum_step(&s->st, ind_tr_step(&s->tr, h, l, in->close[i]));
        double dip = 100 * ind_wsum_step(&s->sp, dmp) / tr;
        double din = 100 * ind_wsum_step(&s->sn, dmn) / tr;
        double dx = 100 * (fabs(dip - din) / (dip + din));
        out[0][i] = ind_ema_step(&s->adx, dx);
        out[1][i] = dip;
        out[2][i] = din;
    }
}

/* TTR::aroon, as its C code walks: 100 * (n - bars since the highest high of the last n + 1
 * bars) / n (ties: the latest), the first value at bar n - 1 from the first n bars. Down is
 * the same on -low; the oscillator is up - down. */
typedef struct {
    ind_lag win;
    double max;
    size_t loc;
} aroon_side;

static double aroon_step(aroon_side *s, double x)
{
    size_t n = s->win.n;
    ind_lag_push(&s->win, x);
    if (s->win.cnt == 1) s->max = x;
    if (s->win.cnt < n) { /* the first n - 1 bars: find the running max */
        if (x >= s->max) s->max = x, s->loc = 0;
        s->loc++;
        return NAN;
    }
    if (s->loc > n) { /* the max left the window: look again over the last n + 1 bars */
        s->max = x, s->loc = 0;
        for (size_t j = 1; j <= n; j++) {
            double v = ind_lag_get(&s->win, j);
            if (v > s->max) s->max = v, s->loc = j;
        }
    } else if (x >= s->max) {
        s->max = x, s->loc = 0;
    }
    double v = 100.0 * (double)(n - s->loc) / (double)n;
    s->loc++;
    return v;
}

typedef struct {
    aroon_side up, dn;
} aroon_state;

void md_ind__aroon(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    aroon_state *s = ind_state(r, sizeof *s, &fresh);
    size_t p = ind_period(r, 0);
    if (fresh) {
        ind_lag_init(&s->up.win, ind_buf(r, 0, p + 1), p);
        ind_lag_init(&s->dn.win, ind_buf(r, 1, p + 1), p);
    }
    for (size_t i = 0; i < n; i++) {
        double u = aroon_step(&s->up, in->high[i]), d = aroon_step(&s->dn, -in->low[i]);
        out[0][i] = u;
        out[1][i] = d;
        out[2][i] = u - d;
    }
}
