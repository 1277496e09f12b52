/* indicators.h - technical indicators and summary statistics on plain arrays (no I/O).
 *
 * The indicators are the rows of analytics/indicators.def: name, parameters (defaults and
 * bounds), outputs, warm-up rule and the reference definition each one follows (R's TTR
 * package; docs/indicators.md says which function and each quirk kept). Every output has one
 * value per input bar, NAN while it warms up or where it is undefined (rendered as null).
 *
 * A series is computed by a run: md_ind_run_new, then md_ind_run_feed over the bars oldest
 * first, in as many chunks as the caller likes (the values do not depend on where the chunks
 * are cut: a run carries its whole state, so a caller can stream a long history in bounded
 * memory), then md_ind_run_free. md_ind_compute does the three over one array.
 *
 * The value at a bar depends on every bar fed before it (recursive indicators such as EMA,
 * RSI, ATR never forget their seed), so the read path feeds each series from its first
 * stored bar: the answer at a timestamp is then the same whatever range was asked. */
#ifndef MD_ANALYTICS_INDICATORS_H
#define MD_ANALYTICS_INDICATORS_H

#include "core/buf.h"
#include "core/error.h"
#include "core/interval.h"

#include <stddef.h>
#include <stdint.h>

#define MD_IND_MAX 16 /* indicators in one request */
#define MD_IND_MAX_PARAMS 3
#define MD_IND_MAX_OUTPUTS 3
#define MD_IND_MAX_PERIOD 10000

enum { MD_IND_INT, MD_IND_REAL };             /* parameter types */
enum { MD_IND_PRICE, MD_IND_OWN };            /* scales */
enum { MD_IND_VOLUME = 1, MD_IND_HL_SD = 2 }; /* flags */

typedef struct md_ind_param {
    const char *name;
    double def, min, max; /* bounds inclusive */
    int type;             /* MD_IND_INT or MD_IND_REAL */
} md_ind_param;

/* Input columns of a chunk of bars, oldest first. ts is needed by vwap (sessions). */
typedef struct md_ind_cols {
    const double *high, *low, *close, *volume;
    const int64_t *ts;
} md_ind_cols;

typedef struct md_ind_run md_ind_run;
typedef void (*md_ind_kernel)(md_ind_run *r, const md_ind_cols *in, size_t n, double **out);

/* One row of indicators.def. */
typedef struct md_ind_def {
    const char *name;
    int scale, flags;
    int nparams;
    md_ind_param params[MD_IND_MAX_PARAMS];
    int noutputs;
    const char *outputs[MD_IND_MAX_OUTPUTS];
    const char *warmup_expr[MD_IND_MAX_OUTPUTS]; /* the rule as written in the .def */
    const char *check_expr;                      /* "1" when none */
    const char *reference;
    int (*warmup)(const double *p, int out); /* leading nulls of output `out` */
    int (*check)(const double *p);           /* 1 when the parameters are acceptable */
    md_ind_kernel kernel;
} md_ind_def;

/* The table, in .def order; *n = its length. */
const md_ind_def *md_ind_defs(size_t *n);
/* The row named name, or NULL. */
const md_ind_def *md_ind_find(const char *name);

/* One requested indicator ("macd:12:26:9"). */
typedef struct md_ind_spec {
    const md_ind_def *def;
    double p[MD_IND_MAX_PARAMS]; /* every parameter, defaults filled in */
    char name[64];               /* canonical text, e.g. "bbands:20:2", "psar:0.02:0.2" */
} md_ind_spec;

/* Parses "sma:20,ema,rsi:14,macd:12:26:9,bbands:20:2.5,obv" (omitted trailing parameters
 * take their defaults; a repeated canonical name is kept once). Returns the count, or
 * MD_EPARAM naming the bad item, the parameter and its bounds. */
int md_ind_parse(const char *list, md_ind_spec *out, int max, md_error *err);

/* Leading null values of output `out` of s on a series that starts at its first bar. */
int md_ind_warmup(const md_ind_spec *s, int out);

/* Starts a run of s on bars of interval iv. hl_sd is the sample standard deviation of
 * high - low over the whole series, read only by indicators flagged MD_IND_HL_SD (psar; 0
 * otherwise). Owned by the caller: md_ind_run_free. */
md_ind_run *md_ind_run_new(const md_ind_spec *s, md_interval iv, double hl_sd);
/* Feeds the next n bars; out[k] receives n values of output k (k < def->noutputs). */
void md_ind_run_feed(md_ind_run *r, const md_ind_cols *in, size_t n, double **out);
void md_ind_run_free(md_ind_run *r);
/* The values the run would give for one more bar in[0] (a bar still forming) without taking
 * it in: out[k][0] for each output; the run is left as it was. Costs a copy of the run's
 * state (O(period) bytes), so it is for occasional looks, not for every bar. */
void md_ind_run_peek(md_ind_run *r, const md_ind_cols *in, double **out);
/* 1 when the value at a bar depends only on that bar and the bars before it, so a run fed
 * bar by bar as bars close gives the values /analytics/{symbol}/indicators answers later.
 * Not so for MD_IND_HL_SD indicators (psar: its seed is computed over the whole series, later
 * bars included). */
int md_ind_streamable(const md_ind_def *d);

/* Running sample standard deviation of high - low (Welford), fed bar by bar or by chunk, for
 * MD_IND_HL_SD indicators. */
typedef struct md_ind_hl_sd {
    size_t n;
    double mean, m2;
} md_ind_hl_sd;
void md_ind_hl_sd_add(md_ind_hl_sd *s, const double *high, const double *low, size_t n);
double md_ind_hl_sd_value(const md_ind_hl_sd *s); /* NAN for fewer than 2 bars */

/* One run over the whole arrays (hl_sd computed from them when the indicator needs it). */
void md_ind_compute(const md_ind_spec *s, md_interval iv, const md_ind_cols *in, size_t n,
                    double **out);

/* The table as JSON (GET /analytics/indicators): {"indicators":[{"name","default",
 * "scale","volume","reference","params":[...],"outputs":[{"name","warmup"}],"check"}]}. */
void md_ind_defs_json(md_buf *b);

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

/* The summary of a series fed in chunks (bounded memory over any range): begin, add each
 * chunk oldest first, end. The result equals md_summary_compute over the concatenation,
 * bit for bit (the same operations in the same order). */
typedef struct md_summary_acc {
    md_summary s;
    double vol_s, vol_c, rs_s, rs_c; /* compensated sums of volume and simple returns */
    double mean, m2;                 /* Welford on log returns */
    size_t k;
    double peak, prev;
    int64_t peak_ts;
} md_summary_acc;
void md_summary_begin(md_summary_acc *a, md_interval iv);
/* high, low, vol and ts may be NULL (close stands for high and low, volume 0). */
void md_summary_add(md_summary_acc *a, const double *close, const double *high, const double *low,
                    const double *vol, const int64_t *ts, size_t n);
void md_summary_end(md_summary_acc *a, md_summary *out);

/* close, vol and ts have n entries (ts for the drawdown dates, may be NULL). */
void md_summary_compute(const double *close, const double *high, const double *low,
                        const double *vol, const int64_t *ts, size_t n, md_interval iv,
                        md_summary *out);

#endif
