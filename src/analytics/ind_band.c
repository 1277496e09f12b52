/* ind_band.c - bands, channels and volatility: bbands, keltner, donchian, psar, atr, stddev.
 * Definitions: TTR's (docs/indicators.md). */
#include "analytics/ind_int.h"

/* TTR::BBands on the close: SMA(n) +- k * population standard deviation (runSD, sample =
 * FALSE), which is what TTR::BBands uses. */
void md_ind__bbands(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    ind_mom *s = ind_state(r, sizeof *s, &fresh);
    size_t p = ind_period(r, 0);
    if (fresh) ind_mom_init(s, ind_buf(r, 0, p), p);
    double k = r->p[1];
    for (size_t i = 0; i < n; i++) {
        double mean, m2;
        if (!ind_mom_push(s, in->close[i], &mean, &m2)) {
            ind_band_put(out, i, NAN, NAN, NAN);
            continue;
        }
        double sd = sqrt(m2 / (double)p);
        ind_band_put(out, i, mean, mean + k * sd, mean - k * sd);
    }
}

/* TTR::runSD(close, n): the sample standard deviation (n - 1) of the last n closes. */
void md_ind__stddev(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    ind_mom *s = ind_state(r, sizeof *s, &fresh);
    size_t p = ind_period(r, 0);
    if (fresh) ind_mom_init(s, ind_buf(r, 0, p), p);
    for (size_t i = 0; i < n; i++) {
        double mean, m2;
        out[0][i] = ind_mom_push(s, in->close[i], &mean, &m2) ? sqrt(m2 / (double)(p - 1)) : NAN;
    }
}

/* TTR::ATR: Wilder's EMA (ratio 1/n) of the true range, which is null on the first bar, so
 * the first ATR is the mean of true ranges 1..n, at bar n. */
typedef struct {
    ind_tr tr;
    ind_ema e;
} atr_state;

void md_ind__atr(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    atr_state *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) ind_ema_init(&s->e, ind_period(r, 0), 1);
    for (size_t i = 0; i < n; i++)
        out[0][i] = ind_ema_step(&s->e, ind_tr_step(&s->tr, in->high[i], in->low[i], in->close[i]));
}

/* TTR::keltnerChannels: middle = EMA(n) of the typical price, bands = middle +- k * ATR(n). */
typedef struct {
    ind_ema mid;
    atr_state atr;
} keltner_state;

void md_ind__keltner(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    keltner_state *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) {
        ind_ema_init(&s->mid, ind_period(r, 0), 0);
        ind_ema_init(&s->atr.e, ind_period(r, 0), 1);
    }
    double k = r->p[1];
    for (size_t i = 0; i < n; i++) {
        double h = in->high[i], l = in->low[i], c = in->close[i];
        double m = ind_ema_step(&s->mid, ind_typical(h, l, c));
        double a = ind_ema_step(&s->atr.e, ind_tr_step(&s->atr.tr, h, l, c));
        ind_band_put(out, i, m, m + k * a, m - k * a);
    }
}

/* TTR::DonchianChannel: highest high and lowest low of the last n bars, and their mean. */
void md_ind__donchian(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    ind_range *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) ind_range_init(r, s, ind_period(r, 0));
    for (size_t i = 0; i < n; i++) {
        double hh, ll;
        if (ind_range_push(s, in->high[i], in->low[i], &hh, &ll))
            ind_band_put(out, i, (hh + ll) / 2, hh, ll);
        else
            ind_band_put(out, i, NAN, NAN, NAN);
    }
}

/* TTR::SAR, step for step as TTR 0.24's C code: the series opens long with SAR = first low -
 * sd(high - low) of the whole series (r->hl_sd). The acceleration factor grows by af on each
 * new extreme and stops growing only when it equals af_max exactly (so 0.02 steps, whose
 * binary sum never lands on 0.2, keep growing: TTR does the same). */
typedef struct {
    int started, sig;
    double xpt, af, sar, prev_h, prev_l;
} psar_state;

void md_ind__psar(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    psar_state *s = ind_state(r, sizeof *s, &fresh);
    double step = r->p[0], cap = r->p[1];
    for (size_t i = 0; i < n; i++) {
        double h = in->high[i], l = in->low[i];
        if (!s->started) {
            s->started = 1, s->sig = 1, s->xpt = h, s->af = step, s->sar = l - r->hl_sd;
        } else {
            int sig1 = s->sig;
            double xpt1 = s->xpt, af1 = s->af, prev = s->sar;
            double lmin = fmin(s->prev_l, l), lmax = fmax(s->prev_h, h);
            if (sig1 == 1) {
                s->sig = l > prev ? 1 : -1;
                s->xpt = fmax(lmax, xpt1);
            } else {
                s->sig = h < prev ? -1 : 1;
                s->xpt = fmin(lmin, xpt1);
            }
            if (s->sig == sig1) {
                s->sar = prev + (xpt1 - prev) * af1;
                s->af = af1 == cap ? cap : step + af1;
                if (s->sig == 1) {
                    s->af = s->xpt > xpt1 ? s->af : af1;
                    s->sar = fmin(s->sar, lmin);
                } else {
                    s->af = s->xpt < xpt1 ? s->af : af1;
                    s->sar = fmax(s->sar, lmax);
                }
            } else {
                s->af = step;
                s->sar = s->xpt;
            }
        }
        s->prev_h = h, s->prev_l = l;
        out[0][i] = s->sar;
    }
}
