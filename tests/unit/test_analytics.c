/* Indicators and summary statistics (analytics/): the kernels against naive reference
 * implementations written out the textbook way (as TTR defines them, docs/indicators.md),
 * within 1e-9 relative; the table of indicators.def against what the kernels do (warm-up
 * rules, output counts); runs fed in chunks against one run over the whole series. The
 * comparison with TTR itself is tests/e2e/test_indicators_ttr.py. */
#include "analytics/indicators.h"

#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 5000

static double close_[N], high_[N], low_[N], vol_[N];
static int64_t ts_[N];

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
        ts_[i] = 1700000000 + (int64_t)i * 3600; /* hourly: vwap sessions are UTC days */
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

static md_ind_spec spec(const char *name)
{
    md_ind_spec s;
    md_error err;
    cr_assert_eq(md_ind_parse(name, &s, 1, &err), 1, "%s: %s", name, err.msg);
    return s;
}

/* Runs the indicator named name over the test series (interval iv); out[k] gets N values. */
static void run_iv(const char *name, md_interval iv, double **out)
{
    md_ind_spec s = spec(name);
    md_ind_cols in = {high_, low_, close_, vol_, ts_};
    md_ind_compute(&s, iv, &in, N, out);
}

static void run(const char *name, double *o0, double *o1, double *o2)
{
    double *out[3] = {o0, o1, o2};
    run_iv(name, MD_IV_1H, out);
}

Test(analytics, sma_matches_direct_sum)
{
    static double out[N];
    run("sma:20", out, NULL, NULL);
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

static void ref_ema(const double *x, int n, int p, int wilder, double *out)
{
    int from = 0;
    while (from < n && isnan(x[from])) out[from++] = NAN;
    for (int i = from; i < n; i++) out[i] = NAN;
    if (n < from + p) return;
    double s = 0;
    for (int i = from; i < from + p; i++) s += x[i];
    double e = s / p, a = wilder ? 1.0 / p : 2.0 / (p + 1);
    out[from + p - 1] = e;
    for (int i = from + p; i < n; i++) out[i] = e = a * x[i] + (1 - a) * e;
}

Test(analytics, ema_dema_tema_match_recursive_definition)
{
    static double out[N], e1[N], e2[N], e3[N];
    run("ema:50", out, NULL, NULL);
    ref_ema(close_, N, 50, 0, e1);
    for (int i = 0; i < N; i++) near(out[i], e1[i], "ema", i);
    run("dema:10", out, NULL, NULL);
    ref_ema(close_, N, 10, 0, e1);
    ref_ema(e1, N, 10, 0, e2);
    ref_ema(e2, N, 10, 0, e3);
    for (int i = 0; i < N; i++) near(out[i], 2 * e1[i] - e2[i], "dema", i);
    cr_assert(isnan(out[17]) && !isnan(out[18]), "dema:10 starts at bar 2n-2");
    run("tema:10", out, NULL, NULL);
    for (int i = 0; i < N; i++) near(out[i], 3 * e1[i] - 3 * e2[i] + e3[i], "tema", i);
}

Test(analytics, wma_matches_direct_weights)
{
    static double out[N];
    run("wma:30", out, NULL, NULL);
    for (int i = 0; i < N; i++) {
        double want = NAN;
        if (i >= 29) {
            want = 0;
            for (int k = 1; k <= 30; k++) want += k * close_[i - 30 + k];
            want /= 30 * 31 / 2;
        }
        near(out[i], want, "wma", i);
    }
}

Test(analytics, rsi_is_ttr_wilder)
{
    static double out[N], up[N], dn[N], mu[N], md[N];
    int p = 14;
    run("rsi:14", out, NULL, NULL);
    up[0] = dn[0] = NAN;
    for (int i = 1; i < N; i++) {
        double d = close_[i] - close_[i - 1];
        up[i] = d > 0 ? d : 0;
        dn[i] = d < 0 ? -d : 0;
    }
    ref_ema(up, N, p, 1, mu);
    ref_ema(dn, N, p, 1, md);
    for (int i = 0; i < N; i++) {
        near(out[i], 100 * mu[i] / (mu[i] + md[i]), "rsi", i);
        cr_assert(i < p || (out[i] >= 0 && out[i] <= 100));
    }
    cr_assert(isnan(out[p - 1]) && !isnan(out[p]), "the first RSI is at bar n");
}

Test(analytics, rsi_edges_no_losses_and_flat)
{
    double x[20], o[20];
    double *out[1] = {o};
    for (int i = 0; i < 20; i++) x[i] = i + 1;
    md_ind_spec s = spec("rsi:14");
    md_ind_cols in = {x, x, x, x, NULL};
    md_ind_compute(&s, MD_IV_1D, &in, 20, out);
    cr_assert_eq(o[19], 100.0, "no losses gives 100");
    for (int i = 0; i < 20; i++) x[i] = 7;
    md_ind_compute(&s, MD_IV_1D, &in, 20, out);
    for (int i = 0; i < 20; i++) cr_assert(isnan(o[i]), "a series that never moved has no RSI");
    x[19] = 6; /* the first move, down: RSI 0 from here on */
    md_ind_compute(&s, MD_IV_1D, &in, 20, out);
    cr_assert_eq(o[19], 0.0);
}

Test(analytics, macd_signal_starts_where_macd_does)
{
    static double m[N], sg[N], h[N], ef[N], es[N], sig_ref[N], macd_ref[N];
    run("macd:12:26:9", m, sg, h);
    ref_ema(close_, N, 12, 0, ef);
    ref_ema(close_, N, 26, 0, es);
    for (int i = 0; i < N; i++) macd_ref[i] = ef[i] - es[i];
    ref_ema(macd_ref, N, 9, 0, sig_ref);
    for (int i = 0; i < N; i++) {
        near(m[i], macd_ref[i], "macd", i);
        near(sg[i], sig_ref[i], "signal", i);
        near(h[i], macd_ref[i] - sig_ref[i], "hist", i);
    }
    cr_assert(isnan(sg[32]) && !isnan(sg[33]));
}

static void window_stats(const double *x, int i, int p, double *mean, double *ss)
{
    double m = 0, v = 0;
    for (int j = i - p + 1; j <= i; j++) m += x[j];
    m /= p;
    for (int j = i - p + 1; j <= i; j++) v += (x[j] - m) * (x[j] - m);
    *mean = m, *ss = v;
}

Test(analytics, bbands_population_and_stddev_sample)
{
    static double mid[N], up[N], lo[N], sd[N];
    run("bbands:20:2", mid, up, lo);
    run("stddev:20", sd, NULL, NULL);
    for (int i = 19; i < N; i++) {
        double mean, ss;
        window_stats(close_, i, 20, &mean, &ss);
        double pop = sqrt(ss / 20);
        near(mid[i], mean, "bb.mid", i);
        /* the band offset itself must be accurate, not just the sum with a large mean */
        cr_assert(fabs((up[i] - mid[i]) - 2 * pop) <= 1e-7 * pop + 1e-12,
                  "bb.width[%d] %.17g vs %.17g", i, up[i] - mid[i], 2 * pop);
        near(lo[i], mean - 2 * pop, "bb.lo", i);
        cr_assert(fabs(sd[i] - sqrt(ss / 19)) <= 1e-9 * sd[i], "stddev[%d]", i);
    }
    cr_assert(isnan(sd[18]));
}

/* True range as TTR::ATR: none on the first bar. */
static double tr_at(int i)
{
    if (i == 0) return NAN;
    return fmax(high_[i], close_[i - 1]) - fmin(low_[i], close_[i - 1]);
}

Test(analytics, atr_seeded_after_n_true_ranges)
{
    static double atr[N], tr[N], want[N];
    run("atr:14", atr, NULL, NULL);
    for (int i = 0; i < N; i++) tr[i] = tr_at(i);
    ref_ema(tr, N, 14, 1, want);
    for (int i = 0; i < N; i++) near(atr[i], want[i], "atr", i);
    /* regression: the first ATR is the mean of true ranges 1..14 at bar 14, not the mean of
     * bars 0..13 with the first taken as high - low */
    double first = 0;
    for (int i = 1; i <= 14; i++) first += tr[i];
    near(atr[14], first / 14, "atr.first", 14);
    cr_assert(isnan(atr[13]));
}

Test(analytics, stoch_is_ttr_slow_stochastic)
{
    static double k[N], d[N], raw[N], w[N];
    run("stoch:14:3:3", k, d, NULL);
    run("willr:14", w, NULL, NULL);
    for (int i = 0; i < N; i++) {
        raw[i] = NAN;
        if (i < 13) continue;
        double hh = high_[i], ll = low_[i];
        for (int j = i - 13; j <= i; j++) hh = fmax(hh, high_[j]), ll = fmin(ll, low_[j]);
        raw[i] = 100 * (close_[i] - ll) / (hh - ll);
        near(w[i], -100 * (hh - close_[i]) / (hh - ll), "willr", i);
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
}

Test(analytics, obv_starts_at_first_volume_and_vwap_resets_each_day)
{
    static double obv[N], vw[N];
    run("obv", obv, NULL, NULL);
    run("vwap", vw, NULL, NULL);
    double o = vol_[0], pv = 0, vv = 0;
    int64_t day = -1;
    for (int i = 0; i < N; i++) {
        if (i && close_[i] > close_[i - 1]) o += vol_[i];
        if (i && close_[i] < close_[i - 1]) o -= vol_[i];
        near(obv[i], o, "obv", i);
        if (ts_[i] / 86400 != day) pv = vv = 0, day = ts_[i] / 86400;
        pv += (high_[i] + low_[i] + close_[i]) / 3 * vol_[i];
        vv += vol_[i];
        near(vw[i], pv / vv, "vwap", i);
    }
    /* daily bars: every bar is its own session */
    double *out[1] = {vw};
    run_iv("vwap", MD_IV_1D, out);
    for (int i = 0; i < N; i++) near(vw[i], (high_[i] + low_[i] + close_[i]) / 3, "vwap.1d", i);
}

Test(analytics, oscillators_match_direct_definitions)
{
    static double roc[N], mom[N], cci[N], mfi[N], dc[3][N], ar[3][N];
    run("roc:7", roc, NULL, NULL);
    run("mom:7", mom, NULL, NULL);
    run("cci:20", cci, NULL, NULL);
    run("mfi:14", mfi, NULL, NULL);
    run("donchian:20", dc[0], dc[1], dc[2]);
    run("aroon:25", ar[0], ar[1], ar[2]);
    static double tp[N];
    for (int i = 0; i < N; i++) tp[i] = (high_[i] + low_[i] + close_[i]) / 3;
    for (int i = 0; i < N; i++) {
        near(roc[i], i >= 7 ? close_[i] / close_[i - 7] - 1 : NAN, "roc", i);
        near(mom[i], i >= 7 ? close_[i] - close_[i - 7] : NAN, "mom", i);
        double want = NAN;
        if (i >= 19) {
            double m, ss, dev = 0;
            window_stats(tp, i, 20, &m, &ss);
            for (int j = i - 19; j <= i; j++) dev += fabs(tp[j] - m) / 20;
            want = (tp[i] - m) / (0.015 * dev);
        }
        near(cci[i], want, "cci", i);
        want = NAN;
        if (i >= 14) {
            double pos = 0, neg = 0;
            for (int j = i - 13; j <= i; j++) {
                if (tp[j] > tp[j - 1]) pos += tp[j] * vol_[j];
                if (tp[j] < tp[j - 1]) neg += tp[j] * vol_[j];
            }
            want = 100 - 100 / (1 + pos / neg);
        }
        near(mfi[i], want, "mfi", i);
        if (i >= 19) {
            double hh = high_[i], ll = low_[i];
            for (int j = i - 19; j <= i; j++) hh = fmax(hh, high_[j]), ll = fmin(ll, low_[j]);
            near(dc[1][i], hh, "donchian.upper", i);
            near(dc[2][i], ll, "donchian.lower", i);
            near(dc[0][i], (hh + ll) / 2, "donchian.middle", i);
        }
        if (i >= 25) { /* aroon: bars since the highest high / lowest low of 26 bars */
            int hi = i, lo = i;
            for (int j = i; j >= i - 25; j--) {
                if (high_[j] > high_[hi]) hi = j;
                if (low_[j] < low_[lo]) lo = j;
            }
            near(ar[0][i], 100.0 * (25 - (i - hi)) / 25, "aroon.up", i);
            near(ar[1][i], 100.0 * (25 - (i - lo)) / 25, "aroon.down", i);
            near(ar[2][i], ar[0][i] - ar[1][i], "aroon.osc", i);
        }
    }
}

Test(analytics, adx_keltner_psar_match_ttr_recursions)
{
    static double adx[3][N], kc[3][N], sar[N];
    run("adx:14", adx[0], adx[1], adx[2]);
    run("keltner:20:1.5", kc[0], kc[1], kc[2]);
    run("psar", sar, NULL, NULL);
    /* ADX: Wilder sums as TTR::wilderSum, then a Wilder EMA of DX */
    static double dmp[N], dmn[N], tr[N], dx[N], want[N];
    double sp = 0, sn = 0, st = 0;
    for (int i = 0; i < N; i++) {
        tr[i] = tr_at(i);
        dx[i] = NAN;
        if (i == 0) continue;
        double dh = high_[i] - high_[i - 1], dl = low_[i - 1] - low_[i];
        int none = dh == dl || (dh < 0 && dl < 0);
        dmp[i] = none ? 0 : (dh > dl ? dh : 0);
        dmn[i] = none ? 0 : (dh < dl ? dl : 0);
        if (i < 14) {
            sp += dmp[i], sn += dmn[i], st += tr[i];
            continue;
        }
        if (i == 14)
            sp = dmp[i] + sp * 13 / 14, sn = dmn[i] + sn * 13 / 14, st = tr[i] + st * 13 / 14;
        else
            sp = dmp[i] + sp * 13 / 14, sn = dmn[i] + sn * 13 / 14, st = tr[i] + st * 13 / 14;
        double p = 100 * sp / st, m = 100 * sn / st;
        near(adx[1][i], p, "+di", i);
        near(adx[2][i], m, "-di", i);
        dx[i] = 100 * fabs(p - m) / (p + m);
    }
    ref_ema(dx, N, 14, 1, want);
    for (int i = 0; i < N; i++) near(adx[0][i], want[i], "adx", i);
    cr_assert(isnan(adx[0][26]) && !isnan(adx[0][27]), "adx starts at 2n-1");
    /* Keltner: EMA of the typical price +- k * ATR */
    static double tp[N], mid[N], atr[N];
    for (int i = 0; i < N; i++) tp[i] = (high_[i] + low_[i] + close_[i]) / 3;
    ref_ema(tp, N, 20, 0, mid);
    ref_ema(tr, N, 20, 1, atr);
    for (int i = 0; i < N; i++) {
        near(kc[0][i], mid[i], "keltner.middle", i);
        near(kc[1][i], mid[i] + 1.5 * atr[i], "keltner.upper", i);
        near(kc[2][i], mid[i] - 1.5 * atr[i], "keltner.lower", i);
    }
    /* PSAR: long from the first bar at low - sd(high - low); stays below the lows while long */
    double m = 0, ss = 0;
    for (int i = 0; i < N; i++) m += (high_[i] - low_[i]) / N;
    for (int i = 0; i < N; i++) ss += (high_[i] - low_[i] - m) * (high_[i] - low_[i] - m);
    near(sar[0], low_[0] - sqrt(ss / (N - 1)), "psar[0]", 0);
    for (int i = 1; i < N; i++) cr_assert(isfinite(sar[i]));
}

/* Every row of indicators.def: the kernel's leading nulls are what the row's warm-up rule
 * says, for each output, at the defaults and at other parameters; values after them are
 * numbers. */
Test(analytics, warmup_rules_of_the_table_hold)
{
    size_t nd;
    const md_ind_def *defs = md_ind_defs(&nd);
    cr_assert_geq(nd, 23);
    static double o[3][N];
    double *out[3] = {o[0], o[1], o[2]};
    const char *suffix[] = {"", ":5", ":3:7", ":2:9:4"};
    for (size_t t = 0; t < nd; t++) {
        for (int v = 0; v < 4; v++) {
            char name[64];
            snprintf(name, sizeof name, "%s%s", defs[t].name, suffix[v]);
            md_ind_spec s;
            md_error err;
            if (md_ind_parse(name, &s, 1, &err) != 1) continue; /* not valid for this one */
            md_ind_cols in = {high_, low_, close_, vol_, ts_};
            md_ind_compute(&s, MD_IV_1H, &in, N, out);
            cr_assert_eq(s.def, &defs[t]);
            for (int k = 0; k < defs[t].noutputs; k++) {
                int w = md_ind_warmup(&s, k), lead = 0;
                while (lead < N && isnan(o[k][lead])) lead++;
                cr_assert_eq(lead, w, "%s output %s: %d leading nulls, the rule says %d (%s)",
                             s.name, defs[t].outputs[k], lead, w, defs[t].warmup_expr[k]);
                for (int i = lead; i < N; i++)
                    cr_assert(isfinite(o[k][i]), "%s.%s[%d] is %g", s.name, defs[t].outputs[k], i,
                              o[k][i]);
            }
        }
    }
}

/* A run fed in chunks (as the read path streams a stored history) gives the same bits as
 * one run over the whole series, for every indicator. */
Test(analytics, chunked_runs_equal_one_run)
{
    size_t nd;
    const md_ind_def *defs = md_ind_defs(&nd);
    static double whole[3][N], part[3][N];
    for (size_t t = 0; t < nd; t++) {
        md_ind_spec s = spec(defs[t].name);
        md_ind_cols in = {high_, low_, close_, vol_, ts_};
        double *w[3] = {whole[0], whole[1], whole[2]};
        md_ind_compute(&s, MD_IV_1H, &in, N, w);
        md_ind_hl_sd sd = {0, 0, 0};
        md_ind_hl_sd_add(&sd, high_, low_, N);
        md_ind_run *r = md_ind_run_new(&s, MD_IV_1H, md_ind_hl_sd_value(&sd));
        unsigned seed = 7;
        for (size_t i = 0; i < N;) {
            seed = seed * 1103515245u + 12345u;
            size_t len = 1 + (seed >> 16) % 97;
            if (len > N - i) len = N - i;
            md_ind_cols c = {high_ + i, low_ + i, close_ + i, vol_ + i, ts_ + i};
            double *o[3] = {part[0] + i, part[1] + i, part[2] + i};
            md_ind_run_feed(r, &c, len, o);
            i += len;
        }
        md_ind_run_free(r);
        for (int k = 0; k < defs[t].noutputs; k++)
            cr_assert(memcmp(whole[k], part[k], sizeof whole[k]) == 0, "%s output %d differs",
                      s.name, k);
    }
}

Test(analytics, flat_windows)
{
    double flat[30], zero[30], o0[30], o1[30], o2[30];
    double *out[3] = {o0, o1, o2};
    int64_t ts[30];
    for (int i = 0; i < 30; i++) flat[i] = 7, zero[i] = 0, ts[i] = i * 86400;
    md_ind_cols in = {flat, flat, flat, zero, ts};
    md_ind_spec s = spec("stoch:3:1:1");
    md_ind_compute(&s, MD_IV_1D, &in, 30, out);
    cr_assert_eq(o0[29], 50.0, "an empty range puts %%K in the middle");
    s = spec("willr:3");
    md_ind_compute(&s, MD_IV_1D, &in, 30, out);
    cr_assert_eq(o0[29], -50.0);
    s = spec("mfi:5");
    md_ind_compute(&s, MD_IV_1D, &in, 30, out);
    cr_assert_eq(o0[29], 50.0, "no money flow at all gives 50");
    s = spec("cci:5");
    md_ind_compute(&s, MD_IV_1D, &in, 30, out);
    cr_assert(isnan(o0[29]), "no deviation: no CCI");
    s = spec("vwap");
    md_ind_compute(&s, MD_IV_1D, &in, 30, out);
    cr_assert(isnan(o0[29]), "no volume: no VWAP");
}

Test(analytics, spec_parsing)
{
    md_ind_spec s[MD_IND_MAX];
    md_error err;
    int n = md_ind_parse("sma:20,ema:50,rsi:14,macd:12:26:9,bbands:20:2.5,atr:14,vwap,obv,"
                         "stoch:14:3:3,ema,psar,adx",
                         s, MD_IND_MAX, &err);
    cr_assert_eq(n, 12, "%s", err.msg);
    cr_assert_str_eq(s[3].name, "macd:12:26:9");
    cr_assert_str_eq(s[4].name, "bbands:20:2.5");
    cr_assert_eq(s[4].p[1], 2.5);
    cr_assert_str_eq(s[9].name, "ema:20");
    cr_assert_str_eq(s[10].name, "psar:0.02:0.2");
    cr_assert_str_eq(s[6].name, "vwap");
    cr_assert_eq(md_ind_parse("sma,sma:20,sma:21", s, MD_IND_MAX, &err), 2, "repeats kept once");
    /* a canonical name reads back as the parameters computed with: two that differ past the
     * tenth digit are two indicators, each named exactly (both were "psar:0.0123456789:0.2") */
    cr_assert_eq(md_ind_parse("psar:0.012345678901:0.2,psar:0.012345678902:0.2,"
                              "bbands:20:2.000000000001,bbands:20:0.1,sma:1e1",
                              s, MD_IND_MAX, &err),
                 5, "%s", err.msg);
    cr_assert_str_eq(s[0].name, "psar:0.012345678901:0.2");
    cr_assert_str_eq(s[1].name, "psar:0.012345678902:0.2");
    cr_assert_str_eq(s[2].name, "bbands:20:2.000000000001");
    cr_assert_str_eq(s[3].name, "bbands:20:0.1");
    cr_assert_str_eq(s[4].name, "sma:10");
    for (int i = 0; i < 3; i++) {
        const char *colon = strrchr(s[i].name, ':');
        const char *p = i < 2 ? strchr(s[i].name, ':') + 1 : colon + 1;
        cr_assert_eq(strtod(p, NULL), s[i].p[i < 2 ? 0 : 1], "%s", s[i].name);
    }
    const char *bad[] = {"",
                         "foo",
                         "sma:0",
                         "sma:-3",
                         "sma:abc",
                         "sma:1.5",
                         "macd:26:12:9",
                         "sma:1:2",
                         "sma:20,,ema:3",
                         "rsi:100001",
                         "psar:0.3:0.2",
                         "obv:3",
                         "stddev:1",
                         "bbands:20:-1",
                         "sma:0x14", /* strtod reads hex: decimal only */
                         "bbands:20:0x1p1",
                         "sma: 20",
                         "bbands:20:infinity",
                         "sma:20:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(md_ind_parse(bad[i], s, MD_IND_MAX, &err), MD_EPARAM, "'%s'", bad[i]);
    md_ind_parse("macd:26:12", s, MD_IND_MAX, &err);
    cr_assert(strstr(err.msg, "fast < slow"), "%s", err.msg);
}

Test(analytics, table_as_json_names_every_indicator)
{
    md_buf b;
    md_buf_init(&b);
    md_ind_defs_json(&b);
    size_t nd;
    const md_ind_def *defs = md_ind_defs(&nd);
    for (size_t t = 0; t < nd; t++) {
        char key[64];
        snprintf(key, sizeof key, "{\"name\":\"%s\"", defs[t].name);
        cr_assert(strstr(b.data, key), "%s missing", defs[t].name);
    }
    cr_assert(strstr(b.data, "\"+di\""));
    md_buf_deinit(&b);
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
