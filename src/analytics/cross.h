/* cross.h - statistics across symbols on plain arrays (no I/O): returns aligned by
 * timestamp, Pearson correlation, beta, and their rolling forms.
 *
 * Definitions follow pandas, which the tests compare with (tests/e2e/test_cross_analytics.py,
 * within 1e-9):
 *   simple return   close[t] / close[t-1] - 1           (DataFrame.pct_change)
 *   log return      log(close[t] / close[t-1])
 *   correlation     Pearson, sums of products of deviations from the means (two passes):
 *                   DataFrame.corr(); null when a column does not vary
 *   beta            cov(x, b) / var(b), both sample (n - 1): Series.cov / Series.var
 *   volatility      sample standard deviation of returns (n - 1): Series.std
 *   rolling         over the last `window` rows, the first window - 1 rows null:
 *                   Series.rolling(window).corr / .cov(b) / b.rolling(window).var / .std
 * Rolling values are computed window by window from their definition (two passes each),
 * not by sliding sums, so no rounding builds up along a long series. */
#ifndef MD_ANALYTICS_CROSS_H
#define MD_ANALYTICS_CROSS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MD_RET_SIMPLE, MD_RET_LOG } md_ret_kind;
typedef enum { MD_ALIGN_INNER, MD_ALIGN_OUTER } md_align;

/* The closes of one symbol, oldest first, timestamps strictly increasing. */
typedef struct md_close_series {
    const int64_t *ts;
    const double *close;
    size_t n;
} md_close_series;

/* A returns matrix: rows timestamps, one column per symbol, row-major. */
typedef struct md_returns {
    size_t rows, cols;
    int64_t *ts; /* rows entries */
    double *r;   /* rows * cols; NAN where a symbol has no return at that row */
} md_returns;

/* Returns of k series aligned by timestamp (docs/API.md "Cross-symbol analytics"):
 *   inner  the timestamps where every series has a bar; a return is taken between two
 *          consecutive such timestamps, so every row covers the same period for every
 *          symbol and has no nulls (pandas: concat(closes, join="inner").pct_change()
 *          without its first row);
 *   outer  each series' returns between its own consecutive bars, on the union of their
 *          timestamps, null where a series has no bar (pandas: concat([c.pct_change()
 *          .iloc[1:] for c in closes], axis=1, join="outer")).
 * The first timestamp of a series starts it and has no return. out is zeroed first and
 * owned by the caller (md_returns_deinit). */
void md_returns_compute(const md_close_series *s, size_t k, md_ret_kind kind, md_align align,
                        md_returns *out);
void md_returns_deinit(md_returns *m);

/* Column c of m into out (m->rows values). */
void md_returns_column(const md_returns *m, size_t c, double *out);

/* Pearson correlation of x and y (n values each); NAN for n < 2 or a series that does not
 * vary. */
double md_stat_corr(const double *x, const double *y, size_t n);
/* Sample covariance and variance (n - 1); NAN for n < 2. */
double md_stat_cov(const double *x, const double *y, size_t n);
/* cov(x, b) / var(b); NAN when b does not vary. */
double md_stat_beta(const double *x, const double *b, size_t n);
/* Sample standard deviation; NAN for n < 2. */
double md_stat_std(const double *x, size_t n);

/* The k x k correlation matrix of the columns of a complete matrix (no NAN), row-major into
 * out (k * k values); the diagonal is 1 (NAN for a column that does not vary). */
void md_stat_corr_matrix(const double *r, size_t rows, size_t k, double *out);

/* Rolling forms over the last w values (w >= 2); out[i] NAN for i < w - 1. */
void md_stat_rolling_corr(const double *x, const double *y, size_t n, size_t w, double *out);
void md_stat_rolling_beta(const double *x, const double *b, size_t n, size_t w, double *out);
void md_stat_rolling_std(const double *x, size_t n, size_t w, double *out);

#endif
