/* ind_average.c - moving averages of the close: sma, ema, wma, dema, tema, macd.
 * Definitions: TTR's (docs/indicators.md); each kernel keeps its state in the run. */
#include "analytics/ind_int.h"

/* TTR::SMA: runSum / n. Once the window is full the loop keeps the rolling sum in locals
 * (the state is written back at the end), the same arithmetic as ind_rsum_push. */
void md_ind__sma(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    ind_rsum *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) ind_rsum_init(s, ind_buf(r, 0, ind_period(r, 0)), ind_period(r, 0));
    const double *x = in->close;
    double *o = out[0], inv = 1.0 / (double)s->n;
    size_t i = 0;
    for (; i < n && s->cnt < s->n; i++) o[i] = ind_rsum_push(s, x[i]) ? s->sum * inv : NAN;
    double *ring = s->ring, sum = s->sum;
    size_t head = s->head, p = s->n, nonzero = s->nonzero, i0 = i;
    for (; i < n; i++) {
        double v = x[i], old = ring[head];
        nonzero = nonzero + (v != 0) - (old != 0);
        ring[head] = v;
        sum += v - old;
        if (++head == p) {
            head = 0;
            s->sum = sum;
            ind_rsum_refresh(s);
            sum = s->sum;
        }
        if (nonzero == 0) sum = 0;
        o[i] = sum * inv;
    }
    s->cnt += n - i0;
    s->sum = sum, s->head = head, s->nonzero = nonzero;
}

void md_ind__ema(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    ind_ema *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) ind_ema_init(s, ind_period(r, 0), 0);
    const double *x = in->close;
    double *o = out[0];
    size_t i = 0;
    for (; i < n && s->cnt < s->n; i++) o[i] = ind_ema_step(s, x[i]);
    double e = s->e, a = s->ratio, b = 1 - s->ratio;
    for (; i < n; i++) o[i] = e = x[i] * a + e * b;
    s->e = e;
}

/* TTR::WMA with weights 1..n: W = sum of k * x over the window, S = its plain sum; a step
 * takes W - S + n * x. Both are rebuilt from the window every n bars. */
typedef struct {
    double *ring;
    size_t n, cnt, head;
    ind_ksum w, s;
} wma_state;

static void wma_rebuild(wma_state *s)
{
    ind_ksum w = {0, 0}, t = {0, 0};
    for (size_t k = 0; k < s->n; k++) { /* oldest is at head */
        double x = s->ring[(s->head + k) % s->n];
        ind_kadd(&w, (double)(k + 1) * x);
        ind_kadd(&t, x);
    }
    s->w = w, s->s = t;
}

void md_ind__wma(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    wma_state *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) s->n = ind_period(r, 0), s->ring = ind_buf(r, 0, s->n);
    double div = (double)s->n * ((double)s->n + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        double x = in->close[i];
        if (s->cnt >= s->n) {
            double old = s->ring[s->head];
            ind_kadd(&s->w, (double)s->n * x);
            ind_kadd(&s->w, -s->s.s);
            ind_kadd(&s->s, x - old);
        }
        s->ring[s->head] = x;
        if (++s->head == s->n) s->head = 0;
        s->cnt++;
        if (s->cnt < s->n) {
            out[0][i] = NAN;
            continue;
        }
        if (s->head == 0 || s->cnt == s->n) wma_rebuild(s);
        out[0][i] = s->w.s / div;
    }
}

/* TTR::DEMA: 2 * EMA(x) - EMA(EMA(x)); TEMA the same idea one level deeper. */
typedef struct {
    ind_ema e[3];
} ema_chain;

static ema_chain *chain(md_ind_run *r)
{
    int fresh;
    ema_chain *s = ind_state(r, sizeof *s, &fresh);
    if (fresh)
        for (int k = 0; k < 3; k++) ind_ema_init(&s->e[k], ind_period(r, 0), 0);
    return s;
}

void md_ind__dema(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    ema_chain *s = chain(r);
    for (size_t i = 0; i < n; i++) {
        double e1 = ind_ema_step(&s->e[0], in->close[i]);
        double e2 = ind_ema_step(&s->e[1], e1);
        out[0][i] = 2 * e1 - e2;
    }
}

void md_ind__tema(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    ema_chain *s = chain(r);
    for (size_t i = 0; i < n; i++) {
        double e1 = ind_ema_step(&s->e[0], in->close[i]);
        double e2 = ind_ema_step(&s->e[1], e1);
        double e3 = ind_ema_step(&s->e[2], e2);
        out[0][i] = 3 * e1 - 3 * e2 + e3;
    }
}

/* TTR::MACD(percent = FALSE): EMA(fast) - EMA(slow); the signal is the EMA of the MACD,
 * seeded on its first `signal` values; the histogram (not in TTR) is macd - signal. */
typedef struct {
    ind_ema fast, slow, sig;
} macd_state;

void md_ind__macd(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    macd_state *s = ind_state(r, sizeof *s, &fresh);
    if (fresh) {
        ind_ema_init(&s->fast, ind_period(r, 0), 0);
        ind_ema_init(&s->slow, ind_period(r, 1), 0);
        ind_ema_init(&s->sig, ind_period(r, 2), 0);
    }
    for (size_t i = 0; i < n; i++) {
        double f = ind_ema_step(&s->fast, in->close[i]);
        double m = f - ind_ema_step(&s->slow, in->close[i]);
        double g = ind_ema_step(&s->sig, m);
        out[0][i] = m;
        out[1][i] = g;
        out[2][i] = m - g;
    }
}
