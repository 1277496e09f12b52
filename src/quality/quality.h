/* quality.h - soft rules, findings and A-F scoring of bar series (no I/O).
 *
 * The hard rules (validate.h) decide whether a bar may be stored at all. Everything here
 * judges bars that were stored:
 *
 *   md_quality_scan()     soft rules over one series, oldest first: price jumps, volume
 *                         outliers, stale prices, gaps (checks.def) -> findings (md_qevent)
 *   md_quality_compare()  two versions of one bar (another source, the same batch)
 *                         -> duplicate_conflict or source_disagreement
 *   md_quality_bar_score()  one bar's 0-100 score from its own findings
 *   md_quality_tally / md_quality_score_tally()  a range's score from the counts of bars,
 *                         rejected bars, missing bars and findings
 *
 * Six dimensions, each 0-100, weighted into the score (weights and grade thresholds come
 * from the "quality" section of the configuration; README "Data quality" has the rules and
 * formulas). Findings name their rule, the bar, the measured value and the limit it broke,
 * so a user can see why a grade is what it is. Everything here works on plain arrays. */
#ifndef MD_QUALITY_QUALITY_H
#define MD_QUALITY_QUALITY_H

#include "core/bar.h"
#include "core/config.h"
#include "quality/calendar.h"
#include "quality/validate.h"

#include <stddef.h>
#include <stdint.h>

/* -- dimensions and rules --------------------------------------------------------------- */

typedef enum md_qdim {
    MD_QDIM_COMPLETENESS,
    MD_QDIM_ACCURACY,
    MD_QDIM_TIMELINESS,
    MD_QDIM_CONSISTENCY,
    MD_QDIM_VALIDITY,
    MD_QDIM_UNIQUENESS,
    MD_QDIM_COUNT
} md_qdim;

const char *md_qdim_name(md_qdim d); /* "completeness" */

typedef enum md_check {
#define MD_CHECK(id, code, dim) MD_CHECK_##id,
#include "quality/checks.def"
#undef MD_CHECK
    MD_CHECK_COUNT
} md_check;

/* One id space for every rule: the hard rules (md_rule, 0..MD_RULE_COUNT-1) then the soft
 * checks. Codes are what is stored and shown ("high_below_low", "price_jump"). */
#define MD_QRULE_SOFT(check) ((int)MD_RULE_COUNT + (int)(check))
#define MD_QRULE_COUNT ((int)MD_RULE_COUNT + (int)MD_CHECK_COUNT)
const char *md_qrule_code(int rule);
/* The rule id for a code, or -1. */
int md_qrule_parse(const char *code);
md_qdim md_qrule_dim(int rule);
int md_qrule_is_hard(int rule);

/* -- findings ----------------------------------------------------------------------------- */

/* One finding on one bar of a series (the series' symbol and interval are known to the
 * holder). value is what was measured, limit the threshold it broke (see checks.def and
 * README for each rule's units). severity 0..1 says how far past the limit it is. */
typedef struct md_qevent {
    int64_t ts;           /* the bar's timestamp */
    int16_t rule;         /* md_qrule id */
    uint8_t source;       /* source of the bar judged */
    uint8_t other_source; /* the other version's source (duplicate, disagreement), else 0 */
    float severity;
    double value, limit;
    char detail[160]; /* human reason: "close 91.5 moved +40.2% from 65.2 (13.4 sigma...)" */
} md_qevent;

MD_VEC_TYPE(md_qevent_vec, md_qevent);

void md_qevent_vec_init(md_qevent_vec *ev);
void md_qevent_vec_deinit(md_qevent_vec *ev);
/* Appends a copy and returns it. */
md_qevent *md_qevent_vec_push(md_qevent_vec *ev, const md_qevent *e);
/* Stable sort by timestamp. */
void md_qevent_sort_by_ts(md_qevent *ev, size_t n);
/* Sort: most severe first, then oldest first. */
void md_qevent_sort_by_severity(md_qevent *ev, size_t n);

/* -- parameters --------------------------------------------------------------------------- */

typedef struct md_quality_params {
    double weight[MD_QDIM_COUNT];
    double defect_tolerance;     /* defect share at which a dimension reaches 0 */
    double gap_tolerance;        /* missing share at which completeness reaches 0 */
    double jump_sigma;           /* price_jump k */
    int jump_window;             /* returns in the rolling window */
    int stale_bars;              /* stale_price N */
    double volume_ratio;         /* volume_outlier multiple of the rolling median */
    int volume_window;           /* volumes in the rolling median */
    double price_min, price_max; /* implausible_price: prices outside [min, max] */
    int gap_min_bars;            /* missing bars in a row that make a gap */
    double disagreement_pct;     /* source_disagreement threshold, percent */
    double quote_jump_pct;       /* quote_jump threshold, percent */
    double quote_spread_pct;     /* wide_spread threshold, percent of the mid */
    int64_t future_tolerance_s;
    int live_window_bars;      /* a bar this recent makes its series live */
    int timeliness_grace_bars; /* lag a live series may have for free */
    int timeliness_zero_bars;  /* lag past the grace at which timeliness is 0 */
    size_t max_bars;           /* newest bars of a range that /quality looks at */
    /* a graded range's start (set: gaps_from_set): of a gap between a context bar before it
     * and the range's first bar, only the bars missing at or after it count */
    int64_t gaps_from;
    int gaps_from_set;
} md_quality_params;

/* The documented defaults (the same as config.def). */
void md_quality_params_default(md_quality_params *p);
/* From the "quality" section of a loaded configuration. */
void md_quality_params_from_config(md_quality_params *p, const md_config *cfg);

/* -- rules ---------------------------------------------------------------------------------- */

/* Runs the soft rules over one series of interval iv: bars sorted by ts, unique. Bars with
 * emit[i] == 0 are context only (they feed the rolling windows and the calendar but get no
 * findings); emit may be NULL (every bar). Findings are appended to out in bar order. */
void md_quality_scan(const md_quality_params *p, md_interval iv, const md_bar *bars, size_t n,
                     const uint8_t *emit, md_qevent_vec *out);

/* The same, judged against the exchange calendar x (quality/calendar.h; NULL: learned from
 * the bars, which is md_quality_scan): gaps are missing sessions (daily) or missing bars
 * inside sessions (intraday), holidays and closures never are, and a bar where the
 * exchange does not trade is an off_session finding. */
void md_quality_scan_cal(const md_quality_params *p, md_interval iv, const md_cal *x,
                         const md_bar *bars, size_t n, const uint8_t *emit, md_qevent_vec *out);

/* A split the scan knows of (the symbol's recorded splits, one per event): bars with
 * ts < cutoff trade before it (00:00 UTC of the ex-date for daily bars; for intraday bars,
 * 00:00 of the ex-date in the exchange's zone); prices after it are ratio times lower
 * (numerator / denominator: 4 for a 4-for-1). */
typedef struct md_qsplit {
    int64_t cutoff;
    double ratio;
} md_qsplit;

/* md_quality_scan_cal knowing the splits sp[0..n_splits) (any order; sp NULL: the splits are
 * not known, and nothing is said of unrecorded ones; a non-NULL sp with 0: none recorded): a
 * move across a known split is judged after the split's ratio (no price_jump, no
 * volume_outlier for the split itself), and a jump the size of a common split ratio with
 * no known split between its bars is possible_unrecorded_split (scan.c has the ratios). */
void md_quality_scan_splits(const md_quality_params *p, md_interval iv, const md_cal *x,
                            const md_qsplit *sp, size_t n_splits, const md_bar *bars, size_t n,
                            const uint8_t *emit, md_qevent_vec *out);

/* Compares a bar already held (stored, or earlier in the same batch) with a new version
 * of the same (symbol, interval, ts). Returns 1 and fills *out when they conflict:
 * source_disagreement when a price differs by more than disagreement_pct, otherwise
 * duplicate_conflict when any value differs. Versions from the same source are revisions
 * and never conflict unless same_batch is set (one delivery holding one bar twice). */
int md_quality_compare(const md_quality_params *p, const md_bar *held, const md_bar *incoming,
                       int same_batch, md_qevent *out);

/* A finding for a bar that failed hard rule `rule` with message msg. */
void md_qevent_reject(md_qevent *out, const md_bar *bar, md_rule rule, const char *msg);

/* -- scores ----------------------------------------------------------------------------------- */

/* The counts a range's score is made of. */
typedef struct md_quality_tally {
    int64_t bars;                  /* bars present (stored, or accepted) */
    int64_t rejected;              /* bars rejected by a hard rule */
    int64_t missing;               /* expected bars missing inside gaps */
    double defects[MD_QDIM_COUNT]; /* severity sums of the findings of each dimension */
    int64_t count[MD_QRULE_COUNT]; /* findings per rule */
} md_quality_tally;

void md_quality_tally_init(md_quality_tally *t);
/* Counts one finding (a hard-rule finding counts as one rejected bar). */
void md_quality_tally_add(md_quality_tally *t, const md_qevent *e);

typedef struct md_quality_score {
    double score;              /* 0..100, -1 when there is nothing to grade */
    double dim[MD_QDIM_COUNT]; /* 0..100 each */
    const char *grade;         /* "A+" .. "F", "N/A" */
} md_quality_score;

/* The score of a range: each dimension from the tally (timeliness is given, see
 * md_quality_timeliness), weighted. A range with no bar present scores 0 (F) when bars
 * were rejected, and -1 ("N/A") when there is nothing at all. */
void md_quality_score_tally(const md_quality_params *p, const md_quality_tally *t,
                            double timeliness, md_quality_score *out);

/* One bar's score from its findings ev[0..n) (all of the same bar): each dimension is
 * 100 * (1 - worst severity among its findings), weighted. 100 for a clean bar. */
float md_quality_bar_score(const md_quality_params *p, const md_qevent *ev, size_t n);

/* The soft checks of one quote: quote_jump (accuracy) when its price is more than
 * quote_jump_pct away from ref_price (the symbol's previous price; <= 0 or NaN: no
 * reference), wide_spread (consistency) when ask - bid is more than quote_spread_pct of the
 * mid. Fills ev[0..1] and returns how many; *score gets the quote's 0-100 score (as
 * md_quality_bar_score). */
size_t md_quality_quote(const md_quality_params *p, const md_quote *q, double ref_price,
                        md_qevent ev[2], float *score);

/* Timeliness of a series whose newest bar starts at newest_ts, judged at ref (now, or the
 * end of a historical range): 100 when the series is not live (historical data is not
 * judged by age) or when it lags by no more than timeliness_grace_bars expected bars
 * (the series' own calendar: weekends of a weekday series, nights outside its session do
 * not count); then falling linearly to 0 at grace + timeliness_zero_bars. *lag_bars (may
 * be NULL) receives the lag. */
double md_quality_timeliness(const md_quality_params *p, const md_calendar *cal, int live,
                             int64_t newest_ts, int64_t ref, int64_t *lag_bars);

/* 1 when a bar starting at ts, received at now, makes its series live (it ends less than
 * live_window_bars intervals before now). */
int md_quality_is_live_bar(const md_quality_params *p, md_interval iv, int64_t ts, int64_t now);

#endif
