/* indicators.h - technical indicators and summary statistics on plain arrays (no I/O).
 *
 * Every indicator writes one output per input, NAN while it warms up (rendered as null).
 * Conventions follow the common references (TA-Lib, Wilder):
 *   sma:p         simple moving average of close
 *   ema:p         exponential, alpha = 2/(p+1), seeded with the SMA of the first p values
 *   rsi:p         Wilder's RSI: first averages are simple means of the first p changes,
 *                 then avg = (avg*(p-1) + x)/p; 100 when there is no loss
 *   macd:f:s:g    ema(f) - ema(s); signal = ema(g) of macd; histogram = macd - signal
 *   bbands:p:k    middle = sma(p); upper/lower = middle +- k * population std. dev.
 *   atr:p         Wilder's average true range; TR[0] = high-low; first ATR = mean of TR[0..p)
 *   vwap          cumulative sum(typical price * volume) / sum(volume) over the range
 *   obv           on-balance volume, starting at 0
 *   stoch:k:s:d   %K = sma(s) of 100*(close-LL(k))/(HH(k)-LL(k)) (50 when HH == LL); %D = sma(d) of %K
 * Running sums are compensated (Kahan), so long series keep 1e-12 relative accuracy. */
#ifndef MD_ANALYTICS_INDICATORS_H
#define MD_ANALYTICS_INDICATORS_H

#include "core/error.h"
#include "core/interval.h"

#include <stddef.h>

void md_ind_sma(const double *x, size_t n, int period, double *out);
void md_ind_ema(const double *x, size_t n, int period, double *out);
void md_ind_rsi(const double *close, size_t n, int period, double *out);
void md_ind_macd(const double *close, size_t n, int fast, int slow, int signal, double *macd,
                 double *sig, double *hist);
void md_ind_bbands(const double *close, size_t n, int period, double k, double *mid, double *up,
                   double *lo);
void md_ind_atr(const double *high, const double *low, const double *close, size_t n, int period,
                double *out);
void md_ind_vwap(const double *high, const double *low, const double *close, const double *vol,
                 size_t n, double *out);
void md_ind_obv(const double *close, const double *vol, size_t n, double *out);
void md_ind_stoch(const double *high, const double *low, const double *close, size_t n, int k,
                  int smooth, int d, double *pk, double *pd);

/* One requested indicator ("macd:12:26:9"). */
typedef enum {
    MD_IND_SMA,
    MD_IND_EMA,
    MD_IND_RSI,
    MD_IND_MACD,
    MD_IND_BBANDS,
    MD_IND_ATR,
    MD_IND_VWAP,
    MD_IND_OBV,
    MD_IND_STOCH
} md_ind_kind;

typedef struct md_ind_spec {
    md_ind_kind kind;
    int p[3];      /* periods */
    double k;      /* bbands width */
    char name[48]; /* canonical text, e.g. "bbands:20:2" */
} md_ind_spec;

#define MD_IND_MAX 16
#define MD_IND_MAX_PERIOD 10000

/* Parses "sma:20,ema:50,rsi:14,macd:12:26:9,bbands:20:2,atr:14,vwap,obv,stoch:14:3:3"
 * (defaults when periods are omitted: sma/ema 20, rsi 14, macd 12:26:9, bbands 20:2,
 * atr 14, stoch 14:3:3). Returns the count, or MD_EPARAM naming the bad item. */
int md_ind_parse(const char *list, md_ind_spec *out, int max, md_error *err);

/* Number of output series of an indicator (macd 3, bbands 3, stoch 2, others 1) and their
 * names ("macd","signal","histogram"). */
int md_ind_outputs(const md_ind_spec *s, const char **names);

/* Computes one indicator over bars given as columns; outs[i] has n doubles for each output. */
void md_ind_compute(const md_ind_spec *s, const double *high, const double *low,
                    const double *close, const double *vol, size_t n, double **outs);

/* Summary statistics of a close series. */
typedef struct md_summary {
    size_t count;
    double first_close, last_close;
    double total_return; /* last/first - 1 */
    double mean_return;  /* mean simple return per bar */
    double volatility;   /* std. dev. of log returns per bar (sample) */
    double annualized_volatility;
    double max_drawdown; /* as a fraction, <= 0 */
    int64_t max_drawdown_peak_ts, max_drawdown_trough_ts;
    double avg_volume;
    double high, low;
    double periods_per_year;
} md_summary;

/* Bars per year used to annualise: 1d 252, 1w 52, 1mo 12, intraday 252 * 6.5 h / length. */
double md_periods_per_year(md_interval iv);

/* close, vol and ts have n entries (ts for the drawdown dates, may be NULL). */
void md_summary_compute(const double *close, const double *high, const double *low,
                        const double *vol, const int64_t *ts, size_t n, md_interval iv,
                        md_summary *out);

#endif
