/* Indicators and summary statistics (analytics/) against naive reference implementations
 * written out the textbook way, within 1e-9 relative after warm-up. */
#include "analytics/indicators.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#define N 5000

static double close_[N], high_[N], low_[N], vol_[N];

static void make_series(void)
{
    /* deterministic random walk with a large level and small moves (hard for variance) */
    unsigned s = 12345;
    double p = 5000.0;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        double r = ((double)(s >> 8) / 16777216.0 - 0.5) * 0.02;
        p *= 1.0 + r;
        close_[i] = p;
        high_[i] = p * (1.0 + fabs(r) / 2 + 0.001);
        low_[i] = p * (1.0 - fabs(r) / 2 - 0.001);
        vol_[i] = 1000 + (s >> 20);
    }
}

TestSuite(analytics, .init = make_series);

static void near(double got, double want, const char *what, int i)
{
    if (isnan(want)) {
        cr_assert(isnan(got), "%s[%d]: want null, got %g", what, i, got);
        return;
    }
    double tol = 1e-9 * fmax(1.0, fabs(want));
    cr_assert(fabs(got - want) <= tol, "%s[%d]: got %.17g want %.17g", what, i, got, want);
}

Test(analytics, sma_matches_direct_sum)
{
    static double out[N];
    md_ind_sma(close_, N, 20, out);
    for (int i = 0; i < N; i++) {
        double want = NAN;
        if (i >= 19) {
            want = 0;
            for (int j = i - 19; j <= i; j++) want += close_[j];
            want /= 20;
        }
        near(out[i], want, "sma", i);
    }
}

static void ref_ema(const double *x, int n, int from, int p, double *out)
{
    for (int i = 0; i < n; i++) out[i] = NAN;
    if (n < from + p) return;
    double s = 0;
    for (int i = from; i < from + p; i++) s += x[i];
    double e = s / p, a = 2.0 / (p + 1);
    out[from + p - 1] = e;
    for (int i = from + p; i < n; i++) out[i] = e = a * x[i] + (1 - a) * e;
}

Test(analytics, ema_matches_recursive_definition)
{
    static double out[N], want[N];
    md_ind_ema(close_, N, 50, out);
    ref_ema(close_, N, 0, 50, want);
    for (int i = 0; i < N; i++) near(out[i], want[i], "ema", i);
}

Test(analytics, rsi_matches_wilder)
{
    static double out[N];
    int p = 14;
    md_ind_rsi(close_, N, p, out);
    double g = 0, l = 0;
    for (int i = 1; i <= p; i++) {
        double d = close_[i] - close_[i - 1];
        g += d > 0 ? d : 0;
        l += d < 0 ? -d : 0;
    }
    g /= p, l /= p;
    for (int i = 0; i < p; i++) near(out[i], NAN, "rsi", i);
    near(out[p], 100 - 100 / (1 + g / l), "rsi", p);
    for (int i = p + 1; i < N; i++) {
        double d = close_[i] - close_[i - 1];
        g = (g * (p - 1) + (d > 0 ? d : 0)) / p;
        l = (l * (p - 1) + (d < 0 ? -d : 0)) / p;
        near(out[i], 100 - 100 / (1 + g / l), "rsi", i);
        cr_assert(out[i] >= 0 && out[i] <= 100);
    }
    double up[20];
    for (int i = 0; i < 20; i++) up[i] = i + 1;
    double r[20];
    md_ind_rsi(up, 20, 14, r);
    cr_assert_eq(r[19], 100.0, "no losses gives 100");
}

Test(analytics, macd_bbands_atr_stoch_obv_vwap)
{
    static double m[N], sg[N], h[N], ef[N], es[N], sig_ref[N], macd_ref[N];
    md_ind_macd(close_, N, 12, 26, 9, m, sg, h);
    ref_ema(close_, N, 0, 12, ef);
    ref_ema(close_, N, 0, 26, es);
    for (int i = 0; i < N; i++) macd_ref[i] = i >= 25 ? ef[i] - es[i] : NAN;
    ref_ema(macd_ref, N, 25, 9, sig_ref);
    for (int i = 0; i < N; i++) {
        near(m[i], macd_ref[i], "macd", i);
        near(sg[i], sig_ref[i], "signal", i);
        near(h[i], isnan(sig_ref[i]) ? NAN : macd_ref[i] - sig_ref[i], "hist", i);
    }

    static double mid[N], up[N], lo[N];
    md_ind_bbands(close_, N, 20, 2.0, mid, up, lo);
    for (int i = 19; i < N; i++) {
        double mean = 0, var = 0;
        for (int j = i - 19; j <= i; j++) mean += close_[j];
        mean /= 20;
        for (int j = i - 19; j <= i; j++) var += (close_[j] - mean) * (close_[j] - mean);
        double sd = sqrt(var / 20);
        near(mid[i], mean, "bb.mid", i);
        /* the band offset itself must be accurate, not just the sum with a large mean */
        cr_assert(fabs((up[i] - mid[i]) - 2 * sd) <= 1e-7 * sd + 1e-12,
                  "bb.width[%d] %.17g vs %.17g", i, up[i] - mid[i], 2 * sd);
        near(lo[i], mean - 2 * sd, "bb.lo", i);
    }

    static double atr[N];
    md_ind_atr(high_, low_, close_, N, 14, atr);
    double a = 0;
    for (int i = 0; i < N; i++) {
        double tr = high_[i] - low_[i];
        if (i) tr = fmax(tr, fmax(fabs(high_[i] - close_[i - 1]), fabs(low_[i] - close_[i - 1])));
        if (i < 14) {
            a += tr;
            if (i == 13)
                a /= 14, near(atr[i], a, "atr", i);
            else
                near(atr[i], NAN, "atr", i);
        } else {
            a = (a * 13 + tr) / 14;
            near(atr[i], a, "atr", i);
        }
    }

    static double k[N], d[N];
    md_ind_stoch(high_, low_, close_, N, 14, 3, 3, k, d);
    static double raw[N];
    for (int i = 0; i < N; i++) {
        raw[i] = NAN;
        if (i < 13) continue;
        double hh = high_[i], ll = low_[i];
        for (int j = i - 13; j <= i; j++) hh = fmax(hh, high_[j]), ll = fmin(ll, low_[j]);
        raw[i] = 100 * (close_[i] - ll) / (hh - ll);
    }
    for (int i = 0; i < N; i++) {
        double wk = i >= 15 ? (raw[i] + raw[i - 1] + raw[i - 2]) / 3 : NAN;
        near(k[i], wk, "stoch.k", i);
        double wd =
            i >= 17
                ? (((raw[i] + raw[i - 1] + raw[i - 2]) + (raw[i - 1] + raw[i - 2] + raw[i - 3]) +
                    (raw[i - 2] + raw[i - 3] + raw[i - 4])) /
                   9)
                : NAN;
        near(d[i], wd, "stoch.d", i);
    }

    static double obv[N], vw[N];
    md_ind_obv(close_, vol_, N, obv);
    md_ind_vwap(high_, low_, close_, vol_, N, vw);
    double o = 0, pv = 0, vv = 0;
    for (int i = 0; i < N; i++) {
        if (i && close_[i] > close_[i - 1]) o += vol_[i];
        if (i && close_[i] < close_[i - 1]) o -= vol_[i];
        near(obv[i], o, "obv", i);
        pv += (high_[i] + low_[i] + close_[i]) / 3 * vol_[i];
        vv += vol_[i];
        near(vw[i], pv / vv, "vwap", i);
    }
}

Test(analytics, short_series_are_all_warm_up)
{
    double x[3] = {1, 2, 3}, out[3];
    md_ind_sma(x, 3, 5, out);
    for (int i = 0; i < 3; i++) cr_assert(isnan(out[i]));
    md_ind_ema(x, 3, 4, out);
    for (int i = 0; i < 3; i++) cr_assert(isnan(out[i]));
    md_ind_rsi(x, 3, 3, out);
    for (int i = 0; i < 3; i++) cr_assert(isnan(out[i]));
    md_ind_sma(x, 3, 1, out);
    cr_assert_eq(out[2], 3);
    double flat[5] = {7, 7, 7, 7, 7}, k[5], d[5];
    md_ind_stoch(flat, flat, flat, 5, 3, 1, 1, k, d);
    cr_assert_eq(k[4], 50.0);
}

Test(analytics, spec_parsing)
{
    md_ind_spec s[MD_IND_MAX];
    md_error err;
    int n = md_ind_parse(
        "sma:20,ema:50,rsi:14,macd:12:26:9,bbands:20:2.5,atr:14,vwap,obv,stoch:14:3:3,sma", s,
        MD_IND_MAX, &err);
    cr_assert_eq(n, 10, "%s", err.msg);
    cr_assert_str_eq(s[3].name, "macd:12:26:9");
    cr_assert_str_eq(s[4].name, "bbands:20:2.5");
    cr_assert_eq(s[4].k, 2.5);
    cr_assert_str_eq(s[9].name, "sma:20");
    const char *bad[] = {"",        "foo",          "sma:0",   "sma:-3",        "sma:abc",
                         "sma:1.5", "macd:26:12:9", "sma:1:2", "sma:20,,ema:3", "rsi:100001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(md_ind_parse(bad[i], s, MD_IND_MAX, &err), MD_EPARAM, "'%s'", bad[i]);
}

Test(analytics, summary_statistics)
{
    double c[5] = {100, 110, 99, 121, 110}, v[5] = {10, 20, 30, 40, 50};
    int64_t ts[5] = {0, 86400, 2 * 86400, 3 * 86400, 4 * 86400};
    md_summary s;
    md_summary_compute(c, c, c, v, ts, 5, MD_IV_1D, &s);
    near(s.total_return, 0.1, "return", 0);
    near(s.avg_volume, 30, "avgvol", 0);
    near(s.max_drawdown, 99.0 / 110 - 1, "mdd", 0);
    cr_assert_eq(s.max_drawdown_peak_ts, 86400);
    cr_assert_eq(s.max_drawdown_trough_ts, 2 * 86400);
    double lr[4], m = 0;
    for (int i = 0; i < 4; i++) lr[i] = log(c[i + 1] / c[i]), m += lr[i] / 4;
    double var = 0;
    for (int i = 0; i < 4; i++) var += (lr[i] - m) * (lr[i] - m);
    near(s.volatility, sqrt(var / 3), "vol", 0);
    near(s.annualized_volatility, sqrt(var / 3) * sqrt(252), "annvol", 0);
    cr_assert_eq(md_periods_per_year(MD_IV_1W), 52);
    near(md_periods_per_year(MD_IV_1M), 252 * 390, "ppy", 0);
}
