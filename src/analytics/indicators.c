/* indicators.c - O(n) indicator kernels with compensated running sums. */
#include "analytics/indicators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kahan-compensated accumulator. */
typedef struct {
    double s, c;
} ksum;

static inline void kadd(ksum *k, double x)
{
    double y = x - k->c;
    double t = k->s + y;
    k->c = (t - k->s) - y;
    k->s = t;
}

static void fill_nan(double *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = NAN;
}

void md_ind_sma(const double *x, size_t n, int period, double *out)
{
    size_t p = (size_t)period;
    if (p == 0 || n < p) return fill_nan(out, n);
    ksum k = {0, 0};
    for (size_t i = 0; i < p - 1; i++) out[i] = NAN, kadd(&k, x[i]);
    double inv = 1.0 / (double)p;
    kadd(&k, x[p - 1]);
    out[p - 1] = k.s * inv;
    for (size_t i = p; i < n; i++) {
        kadd(&k, x[i]);
        kadd(&k, -x[i - p]);
        out[i] = k.s * inv;
    }
}

/* EMA over x starting at index `from` (earlier entries NAN); seeds with the SMA. */
static void ema_from(const double *x, size_t n, size_t from, int period, double *out)
{
    size_t p = (size_t)period;
    for (size_t i = 0; i < n && i < from; i++) out[i] = NAN;
    if (p == 0 || n < from + p) {
        for (size_t i = from; i < n; i++) out[i] = NAN;
        return;
    }
    ksum k = {0, 0};
    for (size_t i = from; i < from + p - 1; i++) out[i] = NAN, kadd(&k, x[i]);
    kadd(&k, x[from + p - 1]);
    double e = k.s / (double)p, a = 2.0 / ((double)p + 1.0);
    out[from + p - 1] = e;
    for (size_t i = from + p; i < n; i++) {
        e += a * (x[i] - e);
        out[i] = e;
    }
}

void md_ind_ema(const double *x, size_t n, int period, double *out)
{
    ema_from(x, n, 0, period, out);
}

void md_ind_rsi(const double *c, size_t n, int period, double *out)
{
    size_t p = (size_t)period;
    fill_nan(out, n);
    if (p == 0 || n <= p) return;
    double gain = 0, loss = 0;
    for (size_t i = 1; i <= p; i++) {
        double d = c[i] - c[i - 1];
        if (d > 0)
            gain += d;
        else
            loss -= d;
    }
    gain /= (double)p;
    loss /= (double)p;
    out[p] = loss == 0 ? 100.0 : 100.0 - 100.0 / (1.0 + gain / loss);
    for (size_t i = p + 1; i < n; i++) {
        double d = c[i] - c[i - 1];
        gain = (gain * (double)(p - 1) + (d > 0 ? d : 0)) / (double)p;
        loss = (loss * (double)(p - 1) + (d < 0 ? -d : 0)) / (double)p;
        out[i] = loss == 0 ? 100.0 : 100.0 - 100.0 / (1.0 + gain / loss);
    }
}

void md_ind_macd(const double *c, size_t n, int fast, int slow, int signal, double *macd,
                 double *sig, double *hist)
{
    double *ef = malloc((n ? n : 1) * sizeof *ef);
    if (!ef) abort();
    md_ind_ema(c, n, fast, ef);
    md_ind_ema(c, n, slow, macd);
    size_t first = (size_t)(fast > slow ? fast : slow) - 1;
    for (size_t i = 0; i < n; i++) macd[i] = i >= first ? ef[i] - macd[i] : NAN;
    free(ef);
    ema_from(macd, n, first, signal, sig);
    for (size_t i = 0; i < n; i++) hist[i] = isnan(sig[i]) ? NAN : macd[i] - sig[i];
}

void md_ind_bbands(const double *c, size_t n, int period, double k, double *mid, double *up,
                   double *lo)
{
    size_t p = (size_t)period;
    if (p == 0 || n < p) {
        fill_nan(mid, n), fill_nan(up, n), fill_nan(lo, n);
        return;
    }
    /* running sums of (x - K) and (x - K)^2 with K near the data, so the variance does not
     * cancel away (prices are large next to their spread) */
    double K = c[0];
    ksum s1 = {0, 0}, s2 = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double d = c[i] - K;
        kadd(&s1, d);
        kadd(&s2, d * d);
        if (i >= p) {
            double o = c[i - p] - K;
            kadd(&s1, -o);
            kadd(&s2, -o * o);
        }
        if (i + 1 < p) {
            mid[i] = up[i] = lo[i] = NAN;
            continue;
        }
        double m = s1.s / (double)p;
        double var = s2.s / (double)p - m * m;
        double sd = var > 0 ? sqrt(var) : 0;
        mid[i] = K + m;
        up[i] = mid[i] + k * sd;
        lo[i] = mid[i] - k * sd;
    }
}

void md_ind_atr(const double *h, const double *l, const double *c, size_t n, int period,
                double *out)
{
    size_t p = (size_t)period;
    fill_nan(out, n);
    if (p == 0 || n < p) return;
    double sum = 0, atr = 0;
    for (size_t i = 0; i < n; i++) {
        double tr = h[i] - l[i];
        if (i > 0) {
            double a = fabs(h[i] - c[i - 1]), b = fabs(l[i] - c[i - 1]);
            if (a > tr) tr = a;
            if (b > tr) tr = b;
        }
        if (i < p) {
            sum += tr;
            if (i == p - 1) out[i] = atr = sum / (double)p;
        } else {
            atr = (atr * (double)(p - 1) + tr) / (double)p;
            out[i] = atr;
        }
    }
}

void md_ind_vwap(const double *h, const double *l, const double *c, const double *v, size_t n,
                 double *out)
{
    ksum pv = {0, 0}, vv = {0, 0};
    for (size_t i = 0; i < n; i++) {
        kadd(&pv, (h[i] + l[i] + c[i]) / 3.0 * v[i]);
        kadd(&vv, v[i]);
        out[i] = vv.s > 0 ? pv.s / vv.s : NAN;
    }
}

void md_ind_obv(const double *c, const double *v, size_t n, double *out)
{
    double obv = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            if (c[i] > c[i - 1])
                obv += v[i];
            else if (c[i] < c[i - 1])
                obv -= v[i];
        }
        out[i] = obv;
    }
}

void md_ind_stoch(const double *h, const double *l, const double *c, size_t n, int k, int smooth,
                  int d, double *pk, double *pd)
{
    size_t kp = (size_t)k;
    double *raw = malloc((n ? n : 1) * sizeof *raw);
    /* zeroed: clang-analyzer cannot see that the front of a deque is always a pushed index */
    size_t *qh = calloc(n ? n : 1, sizeof *qh), *ql = calloc(n ? n : 1, sizeof *ql);
    if (!raw || !qh || !ql) abort();
    /* monotonic deques give the window's highest high and lowest low in O(n) */
    size_t hh0 = 0, hh1 = 0, ll0 = 0, ll1 = 0;
    for (size_t i = 0; i < n; i++) {
        while (hh1 > hh0 && h[qh[hh1 - 1]] <= h[i]) hh1--;
        qh[hh1++] = i;
        while (ll1 > ll0 && l[ql[ll1 - 1]] >= l[i]) ll1--;
        ql[ll1++] = i;
        while (kp && qh[hh0] + kp <= i) hh0++;
        while (kp && ql[ll0] + kp <= i) ll0++;
        if (kp == 0 || i + 1 < kp) {
            raw[i] = NAN;
            continue;
        }
        double hh = h[qh[hh0]], ll = l[ql[ll0]];
        raw[i] = hh == ll ? 50.0 : 100.0 * (c[i] - ll) / (hh - ll);
    }
    free(qh);
    free(ql);
    /* smoothing starts where raw is defined */
    size_t from = kp ? kp - 1 : n;
    for (size_t i = 0; i < n; i++) pk[i] = pd[i] = NAN;
    if (from < n) {
        md_ind_sma(raw + from, n - from, smooth, pk + from);
        size_t from2 = from + (size_t)smooth - 1;
        if (smooth > 0 && from2 < n) md_ind_sma(pk + from2, n - from2, d, pd + from2);
    }
    free(raw);
}

/* -- specs ----------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    md_ind_kind kind;
    int nparams;
    int def[3];
} kinds[] = {
    {"sma", MD_IND_SMA, 1, {20, 0, 0}},       {"ema", MD_IND_EMA, 1, {20, 0, 0}},
    {"rsi", MD_IND_RSI, 1, {14, 0, 0}},       {"macd", MD_IND_MACD, 3, {12, 26, 9}},
    {"bbands", MD_IND_BBANDS, 2, {20, 2, 0}}, {"atr", MD_IND_ATR, 1, {14, 0, 0}},
    {"vwap", MD_IND_VWAP, 0, {0, 0, 0}},      {"obv", MD_IND_OBV, 0, {0, 0, 0}},
    {"stoch", MD_IND_STOCH, 3, {14, 3, 3}},
};

int md_ind_parse(const char *list, md_ind_spec *out, int max, md_error *err)
{
    int n = 0;
    const char *p = list;
    if (!p || !*p)
        return md_error_set(err, MD_EPARAM, "names: give indicators, e.g. sma:20,rsi:14");
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return md_error_set(err, MD_EPARAM, "names: empty or too long item");
        memcpy(item, p, len);
        item[len] = 0;
        if (n == max) return md_error_set(err, MD_EPARAM, "names: at most %d indicators", max);
        char *parts[5] = {0}; /* strsep gives at least one: item is not empty */
        int np = 0;
        for (char *s = item, *tok; np < 5 && (tok = strsep(&s, ":")) != NULL;) parts[np++] = tok;
        int k = -1;
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (strcmp(parts[0], kinds[i].name) == 0) k = (int)i;
        if (k < 0)
            return md_error_set(err, MD_EPARAM,
                                "names: unknown indicator '%.20s' (known: sma ema "
                                "rsi macd bbands atr vwap obv stoch)",
                                parts[0]);
        if (np - 1 > kinds[k].nparams)
            return md_error_set(err, MD_EPARAM, "names: %s takes at most %d parameters",
                                kinds[k].name, kinds[k].nparams);
        md_ind_spec *s = &out[n];
        memset(s, 0, sizeof *s);
        s->kind = kinds[k].kind;
        for (int i = 0; i < 3; i++) s->p[i] = kinds[k].def[i];
        s->k = kinds[k].def[1];
        for (int i = 1; i < np; i++) {
            char *end;
            double v = strtod(parts[i], &end);
            int is_width = s->kind == MD_IND_BBANDS && i == 2;
            if (end == parts[i] || *end || !isfinite(v) || v <= 0 || v > MD_IND_MAX_PERIOD ||
                (!is_width && v != floor(v)))
                return md_error_set(err, MD_EPARAM, "names: %s: bad parameter '%.20s'",
                                    kinds[k].name, parts[i]);
            if (is_width)
                s->k = v;
            else
                s->p[i - 1] = (int)v;
        }
        if (s->kind == MD_IND_MACD && s->p[0] >= s->p[1])
            return md_error_set(err, MD_EPARAM, "names: macd fast period must be below slow");
        switch (s->kind) {
        case MD_IND_VWAP:
        case MD_IND_OBV: snprintf(s->name, sizeof s->name, "%s", kinds[k].name); break;
        case MD_IND_MACD:
        case MD_IND_STOCH:
            snprintf(s->name, sizeof s->name, "%s:%d:%d:%d", kinds[k].name, s->p[0], s->p[1],
                     s->p[2]);
            break;
        case MD_IND_BBANDS: snprintf(s->name, sizeof s->name, "bbands:%d:%g", s->p[0], s->k); break;
        default: snprintf(s->name, sizeof s->name, "%s:%d", kinds[k].name, s->p[0]);
        }
        n++;
        p = e ? e + 1 : p + len;
    }
    return n;
}

int md_ind_outputs(const md_ind_spec *s, const char **names)
{
    switch (s->kind) {
    case MD_IND_MACD: names[0] = "macd", names[1] = "signal", names[2] = "histogram"; return 3;
    case MD_IND_BBANDS: names[0] = "middle", names[1] = "upper", names[2] = "lower"; return 3;
    case MD_IND_STOCH: names[0] = "k", names[1] = "d"; return 2;
    default: names[0] = "value"; return 1;
    }
}

void md_ind_compute(const md_ind_spec *s, const double *h, const double *l, const double *c,
                    const double *v, size_t n, double **o)
{
    switch (s->kind) {
    case MD_IND_SMA: md_ind_sma(c, n, s->p[0], o[0]); break;
    case MD_IND_EMA: md_ind_ema(c, n, s->p[0], o[0]); break;
    case MD_IND_RSI: md_ind_rsi(c, n, s->p[0], o[0]); break;
    case MD_IND_MACD: md_ind_macd(c, n, s->p[0], s->p[1], s->p[2], o[0], o[1], o[2]); break;
    case MD_IND_BBANDS: md_ind_bbands(c, n, s->p[0], s->k, o[0], o[1], o[2]); break;
    case MD_IND_ATR: md_ind_atr(h, l, c, n, s->p[0], o[0]); break;
    case MD_IND_VWAP: md_ind_vwap(h, l, c, v, n, o[0]); break;
    case MD_IND_OBV: md_ind_obv(c, v, n, o[0]); break;
    case MD_IND_STOCH: md_ind_stoch(h, l, c, n, s->p[0], s->p[1], s->p[2], o[0], o[1]); break;
    }
}

/* -- summary --------------------------------------------------------------------------------- */

double md_periods_per_year(md_interval iv)
{
    switch (iv) {
    case MD_IV_1D: return 252;
    case MD_IV_1W: return 52;
    case MD_IV_1MO: return 12;
    default: return 252.0 * 23400.0 / (double)md_interval_seconds(iv);
    }
}

void md_summary_compute(const double *c, const double *h, const double *l, const double *v,
                        const int64_t *ts, size_t n, md_interval iv, md_summary *s)
{
    memset(s, 0, sizeof *s);
    s->count = n;
    s->periods_per_year = md_periods_per_year(iv);
    if (n == 0) {
        s->first_close = s->last_close = s->total_return = s->mean_return = NAN;
        s->volatility = s->annualized_volatility = s->avg_volume = s->high = s->low = NAN;
        return;
    }
    s->first_close = c[0];
    s->last_close = c[n - 1];
    s->total_return = c[n - 1] / c[0] - 1.0;
    ksum vol = {0, 0}, rs = {0, 0};
    double mean = 0, m2 = 0; /* Welford on log returns */
    size_t k = 0;
    double peak = c[0], dd = 0;
    int64_t peak_ts = ts ? ts[0] : 0;
    s->high = h ? h[0] : c[0];
    s->low = l ? l[0] : c[0];
    for (size_t i = 0; i < n; i++) {
        kadd(&vol, v ? v[i] : 0);
        if (h && h[i] > s->high) s->high = h[i];
        if (l && l[i] < s->low) s->low = l[i];
        if (i > 0) {
            kadd(&rs, c[i] / c[i - 1] - 1.0);
            double r = log(c[i] / c[i - 1]);
            k++;
            double d = r - mean;
            mean += d / (double)k;
            m2 += d * (r - mean);
        }
        if (c[i] > peak) peak = c[i], peak_ts = ts ? ts[i] : 0;
        double draw = c[i] / peak - 1.0;
        if (draw < dd) {
            dd = draw;
            s->max_drawdown_peak_ts = peak_ts;
            s->max_drawdown_trough_ts = ts ? ts[i] : 0;
        }
    }
    s->avg_volume = vol.s / (double)n;
    s->mean_return = k ? rs.s / (double)k : NAN;
    s->volatility = k > 1 ? sqrt(m2 / (double)(k - 1)) : NAN;
    s->annualized_volatility = s->volatility * sqrt(s->periods_per_year);
    s->max_drawdown = dd;
}
