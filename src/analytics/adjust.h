/* adjust.h - split- and dividend-adjusted prices from raw bars and corporate actions (no I/O).
 *
 * Bars are stored raw (as traded). An adjusted series divides each price by a cumulative
 * factor, in the CRSP style, anchored at the newest bar (the newest price is the traded
 * price; an action whose ex-date is after the newest bar is not applied yet):
 *
 *   split k      r_k = numerator / denominator                          (4-for-1: 4)
 *   dividend k   d_k = 1 - D_k / C_k, C_k the raw close of the last daily bar before the
 *                ex-date (skipped when C_k is unknown or D_k >= C_k)
 *
 *   S(t) = product of r_k over the splits with t < cutoff_k <= anchor
 *   Q(t) = product of d_k over the dividends with t < cutoff_k <= anchor
 *
 *   adjust=none     price, volume as stored
 *   adjust=splits   price / S(t), volume * S(t)
 *   adjust=all      price * Q(t) / S(t), volume * S(t)   (dividends never touch volume)
 *
 * open, high, low, close and vwap are prices; trades is left alone. cutoff_k is the instant
 * the ex-date begins for a bar of that series: 00:00 UTC of the ex-date for daily and coarser
 * bars (stamped with their trading date), 00:00 of the ex-date in the exchange's zone for
 * intraday bars (query/adjust.c computes it). docs/API.md "Adjustment" states the same. */
#ifndef MD_ANALYTICS_ADJUST_H
#define MD_ANALYTICS_ADJUST_H

#include "core/action.h"
#include "core/bar.h"

#include <stddef.h>
#include <stdint.h>

typedef enum md_adjust {
    MD_ADJUST_NONE = 0,
    MD_ADJUST_SPLITS = 1,
    MD_ADJUST_ALL = 2,
} md_adjust;

#define MD_ADJUST_DEFAULT MD_ADJUST_SPLITS

/* "none", "splits", "all". */
const char *md_adjust_name(md_adjust a);
/* 0 and *out for one of those names, -1 otherwise. */
int md_adjust_parse(const char *s, md_adjust *out);

/* One action as the factors see it. */
typedef struct md_adj_event {
    int64_t cutoff;    /* bars with ts < cutoff are before the ex-date */
    int type;          /* MD_ACT_SPLIT or MD_ACT_DIVIDEND */
    double ratio;      /* split: numerator / denominator */
    double amount;     /* dividend per share, raw */
    double prev_close; /* dividend: raw close before the ex-date; <= 0 or NAN when unknown */
} md_adj_event;

/* The factors of one series: for a bar with cutoff[i-1] <= ts < cutoff[i] (cutoff[-1] =
 * -inf), price / price_div[i] and volume * vol_mul[i]; past the last cutoff, 1 and 1. */
typedef struct md_adj_plan {
    md_adjust mode;
    size_t n;
    int64_t *cutoff; /* ascending, distinct */
    double *price_div;
    double *vol_mul;
    size_t skipped; /* dividends left out (no close before them, or larger than it) */
} md_adj_plan;

/* Builds the plan of events ev[0..n) (any order) for mode, applying those with cutoff <=
 * anchor. With MD_ADJUST_NONE, or no event applied, the plan is empty (n = 0: identity).
 * out is owned by the caller (md_adj_plan_deinit). */
void md_adj_plan_build(md_adjust mode, const md_adj_event *ev, size_t n, int64_t anchor,
                       md_adj_plan *out);
void md_adj_plan_deinit(md_adj_plan *p);

/* The divisor of a price at ts, and the multiplier of a volume. */
double md_adj_price_div(const md_adj_plan *p, int64_t ts);
double md_adj_vol_mul(const md_adj_plan *p, int64_t ts);

/* Adjusts bars[0..n) in place (any order; a sorted run is walked without searching). */
void md_adj_apply(const md_adj_plan *p, md_bar *bars, size_t n);

/* 1 when some cutoff c of the plan falls strictly inside (from, to): a bar spanning that
 * time mixes prices from both sides of an action. */
int md_adj_straddles(const md_adj_plan *p, int64_t from, int64_t to);

/* The actions to apply, one per event, from the records of every source in[0..n) (one
 * symbol): records of the same type whose ex-dates are within 5 days of each other and come
 * from different sources are one event. Of an event's records the one chosen is, in order:
 * a user's (ingest, then a loaded file), the value the most sources agree on
 * (md_action_same_values), the lowest source number. Writes them to out (room for n),
 * sorted by ex_date; returns how many. */
size_t md_actions_effective(const md_action *in, size_t n, md_action *out);

#endif
