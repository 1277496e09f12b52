/* ind_volume.c - volume indicators: vwap, obv, mfi. Definitions: docs/indicators.md. */
#include "analytics/ind_int.h"

#include <float.h>

/* Session VWAP: sum(typical price * volume) / sum(volume) since the session began; null
 * while the session has no volume. Intraday bars: a session is a UTC day. Daily and coarser
 * bars: each bar is its own session (its typical price when it has volume), so the value
 * never depends on which bars came before. */
typedef struct {
    int64_t day;
    int started;
    ind_ksum pv, v;
} vwap_state;

void md_ind__vwap(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    vwap_state *s = ind_state(r, sizeof *s, &fresh);
    int intraday = md_interval_seconds(r->iv) < 86400;
    for (size_t i = 0; i < n; i++) {
        int64_t day = in->ts[i] >= 0 ? in->ts[i] / 86400 : -((-in->ts[i] + 86399) / 86400);
        if (!intraday || !s->started || day != s->day) {
            s->pv = (ind_ksum){0, 0}, s->v = (ind_ksum){0, 0};
            s->day = day, s->started = 1;
        }
        double v = in->volume[i];
        ind_kadd(&s->pv, (in->high[i] + in->low[i] + in->close[i]) / 3 * v);
        ind_kadd(&s->v, v);
        out[0][i] = s->v.s > 0 ? s->pv.s / s->v.s : NAN;
    }
}

/* TTR::OBV: starts at the first bar's volume; then adds the volume on a bar whose close
 * rose, subtracts it when it fell, and counts a bar as unchanged when |log(close / previous
 * close)| < sqrt(DBL_EPSILON), as TTR does (its ROC is the log difference). Cumulative from
 * the first stored bar. */
typedef struct {
    int started;
    double prev_log, obv;
} obv_state;

void md_ind__obv(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    obv_state *s = ind_state(r, sizeof *s, &fresh);
    const double tiny = sqrt(DBL_EPSILON);
    for (size_t i = 0; i < n; i++) {
        double c = in->close[i], v = in->volume[i];
        double lc = log(c);
        if (!s->started) {
            s->obv = v, s->started = 1;
        } else {
            double d = lc - s->prev_log;
            s->obv += fabs(d) < tiny ? 0 : (d > 0 ? v : -v);
        }
        s->prev_log = lc;
        out[0][i] = s->obv;
    }
}

/* TTR::MFI: typical price tp; money flow tp * volume counts as positive on a bar whose tp
 * rose, negative when it fell (the first bar has neither); over the last n bars MFI =
 * 100 - 100 / (1 + positive / negative): 100 with no negative flow, 50 with no flow at all. */
typedef struct {
    int started;
    double prev;
    ind_rsum pos, neg;
} mfi_state;

void md_ind__mfi(md_ind_run *r, const md_ind_cols *in, size_t n, double **out)
{
    int fresh;
    mfi_state *s = ind_state(r, sizeof *s, &fresh);
    size_t p = ind_period(r, 0);
    if (fresh)
        ind_rsum_init(&s->pos, ind_buf(r, 0, p), p), ind_rsum_init(&s->neg, ind_buf(r, 1, p), p);
    for (size_t i = 0; i < n; i++) {
        double tp = ind_typical(in->high[i], in->low[i], in->close[i]);
        double mf = tp * in->volume[i], pmf = NAN, nmf = NAN;
        if (s->started) pmf = tp > s->prev ? mf : 0, nmf = tp < s->prev ? mf : 0;
        s->started = 1, s->prev = tp;
        int full = ind_rsum_push(&s->pos, pmf);
        ind_rsum_push(&s->neg, nmf);
        if (!full) {
            out[0][i] = NAN;
            continue;
        }
        double num = s->pos.sum, den = s->neg.sum;
        double v = 100 - 100 / (1 + num / den);
        if (den == 0) v = num == 0 ? 50 : 100;
        out[0][i] = v;
    }
}
