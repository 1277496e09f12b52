/* cross.c - returns aligned across symbols and the statistics between them (cross.h). */
#include "analytics/cross.h"

#include "core/mem.h"

#include <math.h>
#include <string.h>

/* -- returns ------------------------------------------------------------------------------ */

static double ret(md_ret_kind kind, double now, double before)
{
    return kind == MD_RET_LOG ? log(now / before) : now / before - 1;
}

/* The timestamps every series has (each list is strictly increasing): a k-way merge. */
static size_t common_ts(const md_close_series *s, size_t k, int64_t *out, size_t *pos)
{
    size_t n = 0;
    memset(pos, 0, k * sizeof *pos);
    for (;;) {
        int64_t hi = INT64_MIN;
        for (size_t j = 0; j < k; j++) {
            if (pos[j] == s[j].n) return n;
            if (s[j].ts[pos[j]] > hi) hi = s[j].ts[pos[j]];
        }
        int all = 1;
        for (size_t j = 0; j < k; j++) {
            while (pos[j] < s[j].n && s[j].ts[pos[j]] < hi) pos[j]++;
            if (pos[j] == s[j].n) return n;
            all &= s[j].ts[pos[j]] == hi;
        }
        if (!all) continue;
        out[n++] = hi;
        for (size_t j = 0; j < k; j++) pos[j]++;
    }
}

static void inner(const md_close_series *s, size_t k, md_ret_kind kind, md_returns *m)
{
    size_t cap = s[0].n;
    for (size_t j = 1; j < k; j++)
        if (s[j].n < cap) cap = s[j].n;
    int64_t *ts = md_malloc((cap ? cap : 1) * sizeof *ts);
    size_t *pos = md_malloc(k * sizeof *pos);
    size_t n = k ? common_ts(s, k, ts, pos) : 0;
    m->rows = n > 1 ? n - 1 : 0;
    m->ts = md_malloc((m->rows ? m->rows : 1) * sizeof *m->ts);
    m->r = md_malloc((m->rows * k > 0 ? m->rows * k : 1) * sizeof *m->r);
    memcpy(m->ts, ts + 1, m->rows * sizeof *m->ts);
    for (size_t j = 0; j < k; j++) {
        size_t p = 0; /* walks s[j] to each common timestamp in turn */
        double prev = NAN;
        for (size_t i = 0; i < n; i++) {
            while (s[j].ts[p] < ts[i]) p++;
            double c = s[j].close[p];
            if (i) m->r[(i - 1) * k + j] = ret(kind, c, prev);
            prev = c;
        }
    }
    md_free(pos);
    md_free(ts);
}

static void outer(const md_close_series *s, size_t k, md_ret_kind kind, md_returns *m)
{
    /* the union of the timestamps of every return: a k-way merge again */
    size_t total = 0;
    for (size_t j = 0; j < k; j++) total += s[j].n;
    int64_t *ts = md_malloc((total ? total : 1) * sizeof *ts);
    size_t *pos = md_malloc((k ? k : 1) * sizeof *pos), n = 0;
    for (size_t j = 0; j < k; j++) pos[j] = 1; /* a series' first bar has no return */
    for (;;) {
        int64_t lo = INT64_MAX;
        for (size_t j = 0; j < k; j++)
            if (pos[j] < s[j].n && s[j].ts[pos[j]] < lo) lo = s[j].ts[pos[j]];
        if (lo == INT64_MAX) break;
        ts[n++] = lo;
        for (size_t j = 0; j < k; j++)
            if (pos[j] < s[j].n && s[j].ts[pos[j]] == lo) pos[j]++;
    }
    m->rows = n;
    m->ts = ts;
    m->r = md_malloc((n * k > 0 ? n * k : 1) * sizeof *m->r);
    for (size_t i = 0; i < n * k; i++) m->r[i] = NAN;
    for (size_t j = 0; j < k; j++) {
        size_t row = 0;
        for (size_t p = 1; p < s[j].n; p++) {
            while (ts[row] < s[j].ts[p]) row++;
            m->r[row * k + j] = ret(kind, s[j].close[p], s[j].close[p - 1]);
        }
    }
    md_free(pos);
}

void md_returns_compute(const md_close_series *s, size_t k, md_ret_kind kind, md_align align,
                        md_returns *out)
{
    memset(out, 0, sizeof *out);
    out->cols = k;
    if (align == MD_ALIGN_INNER)
        inner(s, k, kind, out);
    else
        outer(s, k, kind, out);
}

void md_returns_deinit(md_returns *m)
{
    md_free(m->ts);
    md_free(m->r);
    memset(m, 0, sizeof *m);
}

void md_returns_column(const md_returns *m, size_t c, double *out)
{
    for (size_t i = 0; i < m->rows; i++) out[i] = m->r[i * m->cols + c];
}

/* -- statistics --------------------------------------------------------------------------- */

static double mean(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

/* Sums of squared deviations and of cross products around the means (the second pass). */
static void moments(const double *x, const double *y, size_t n, double *sxx, double *syy,
                    double *sxy)
{
    double mx = mean(x, n), my = mean(y, n), a = 0, b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        a += dx * dx;
        b += dy * dy;
        c += dx * dy;
    }
    *sxx = a, *syy = b, *sxy = c;
}

double md_stat_corr(const double *x, const double *y, size_t n)
{
    if (n < 2) return NAN;
    double sxx, syy, sxy;
    moments(x, y, n, &sxx, &syy, &sxy);
    if (sxx == 0 || syy == 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

double md_stat_cov(const double *x, const double *y, size_t n)
{
    if (n < 2) return NAN;
    double sxx, syy, sxy;
    moments(x, y, n, &sxx, &syy, &sxy);
    return sxy / (double)(n - 1);
}

double md_stat_beta(const double *x, const double *b, size_t n)
{
    if (n < 2) return NAN;
    double sxx, sbb, sxb;
    moments(x, b, n, &sxx, &sbb, &sxb);
    return sbb == 0 ? NAN : sxb / sbb;
}

double md_stat_std(const double *x, size_t n)
{
    if (n < 2) return NAN;
    double m = mean(x, n), s = 0;
    for (size_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - 1));
}

void md_stat_corr_matrix(const double *r, size_t rows, size_t k, double *out)
{
    /* the columns centred once (contiguous), then one dot product per pair */
    double *c = md_malloc((rows * k > 0 ? rows * k : 1) * sizeof *c);
    double *ss = md_malloc((k ? k : 1) * sizeof *ss);
    for (size_t j = 0; j < k; j++) {
        double *col = c + j * rows, m = 0, s = 0;
        for (size_t i = 0; i < rows; i++) m += r[i * k + j];
        m /= (double)rows;
        for (size_t i = 0; i < rows; i++) {
            col[i] = r[i * k + j] - m;
            s += col[i] * col[i];
        }
        ss[j] = s;
    }
    for (size_t a = 0; a < k; a++) {
        out[a * k + a] = rows >= 2 && ss[a] > 0 ? 1.0 : NAN;
        for (size_t b = a + 1; b < k; b++) {
            const double *x = c + a * rows, *y = c + b * rows;
            double s = 0;
            for (size_t i = 0; i < rows; i++) s += x[i] * y[i];
            double v = rows >= 2 && ss[a] > 0 && ss[b] > 0 ? s / sqrt(ss[a] * ss[b]) : NAN;
            out[a * k + b] = out[b * k + a] = v;
        }
    }
    md_free(ss);
    md_free(c);
}

void md_stat_rolling_corr(const double *x, const double *y, size_t n, size_t w, double *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = w >= 2 && i + 1 >= w ? md_stat_corr(x + i + 1 - w, y + i + 1 - w, w) : NAN;
}

void md_stat_rolling_beta(const double *x, const double *b, size_t n, size_t w, double *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = w >= 2 && i + 1 >= w ? md_stat_beta(x + i + 1 - w, b + i + 1 - w, w) : NAN;
}

void md_stat_rolling_std(const double *x, size_t n, size_t w, double *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = w >= 2 && i + 1 >= w ? md_stat_std(x + i + 1 - w, w) : NAN;
}
