/* rollup.h - materialised coarse bars ("rollups") and the maths the backends share (internal
 * to store/).
 *
 * A rollup row is one bucket of a coarse interval (iv) aggregated over the stored bars of one
 * finer interval (from_iv) of a series, by the rule of md_bars_aggregate (core/bar.c): open
 * the first bar's, high the highest, low the lowest, close the last bar's, volume and
 * vwap * volume summed in time order, trades summed when every bar has them, quality the
 * lowest score, source the last bar's. md_store_get_bars_agg (store.c) reads them for the
 * whole buckets of a range and builds the partial buckets at its edges from the fine bars,
 * so an answer is the same, bit for bit, whether it comes from a rollup or from the fine
 * bars (tests/unit/store_suite.h compares them).
 *
 * Where they live: SQLite and native PostgreSQL keep a rollups table up to date in every
 * write transaction (this file plans and computes the rows); TimescaleDB keeps them as
 * continuous aggregates (pg_timescale.c) with the same expressions in SQL.
 *
 * Why sums in time order: floating-point addition is not associative, and the on-the-fly
 * answer adds a bucket's volumes oldest first. A rollup row is therefore only ever
 *   - built from all the bars of its bucket, oldest first, or
 *   - extended by bars newer than every bar it holds (an append: the running sums go on
 *     exactly as a scan would).
 * Anything else - a bar before or among its bars, a rewritten bar - rebuilds the bucket from
 * the stored bars. The write plans which case each touched bucket is in (md_rollup__plan),
 * the backend reads what the plan asks for, and md_rollup__build gives the rows to upsert.
 *
 * Buckets come from one function, md_rollup__bucket (UTC buckets of core/interval.h). A
 * daily or coarser bar of a symbol whose exchange sessions are not UTC days is its sessions
 * instead (store.c, md_store_set_calendars): those reads aggregate the intraday bars and
 * never use these rows. */
#ifndef MD_STORE_ROLLUP_H
#define MD_STORE_ROLLUP_H

#include "core/bar.h"
#include "store/store_int.h"

#include <stddef.h>
#include <stdint.h>

/* The coarse intervals that are materialised, from every stored finer interval that divides
 * them. 5m, 15m and 30m are left to on-the-fly aggregation (a day of them is a few hundred
 * fine bars; materialising them would cost 30% more rows on a 1m load). */
#define MD_ROLLUP_IVS(X) X(MD_IV_1H) X(MD_IV_4H) X(MD_IV_1D) X(MD_IV_1W) X(MD_IV_1MO)

/* 1 when iv is materialised. */
int md_rollup__is_target(md_interval iv);
/* The materialised intervals built from bars of from_iv, finest first; returns how many. */
int md_rollup__targets(md_interval from_iv, md_interval out[MD_IV_COUNT]);

/* The start of the bucket of iv holding ts, and the start of the next bucket after the one
 * starting at b. The one bucketing function of the rollups and of md_store_get_bars_agg. */
int64_t md_rollup__bucket(md_interval iv, int64_t ts);
int64_t md_rollup__next(md_interval iv, int64_t b);

/* One bucket while it is being built. */
typedef struct md_rollup {
    md_interval iv;  /* the coarse interval */
    md_bar bar;      /* ts = bucket start; bar.vwap is not used until md_rollup__final */
    double pv;       /* vwap * volume summed in time order; NAN once a bar lacks vwap */
    int64_t last_ts; /* the newest bar folded in */
    int64_t n;       /* bars folded in */
} md_rollup;

/* Starts bucket b of iv with its first bar. */
void md_rollup__start(md_rollup *r, md_interval iv, int64_t b, const md_bar *first);
/* Folds in a bar newer than every bar folded in so far (md_bars_aggregate's step). */
void md_rollup__fold(md_rollup *r, const md_bar *b);
/* The bar a reader gets (vwap = pv / volume when known and volume > 0). */
void md_rollup__final(const md_rollup *r, md_bar *out);

MD_VEC_TYPE(md_rollup_vec, md_rollup);
void md_rollup_vec_push(md_rollup_vec *v, const md_rollup *r);
void md_rollup_vec_deinit(md_rollup_vec *v);

/* What one write of a series needs read before its rollups can be computed. */
typedef struct md_rollup_plan {
    md_interval from_iv;
    int n_targets;
    md_interval targets[MD_IV_COUNT];
    /* stored bars of the series to read, [read_lo, read_hi) (none when read_lo >= read_hi):
     * the buckets the batch does not simply extend, and the batch's overlap with the stored
     * range (to count the rows it replaces) */
    int64_t read_lo, read_hi;
    /* existing rollup rows the batch extends (an append), as (iv, bucket) pairs */
    md_interval *want_iv;
    int64_t *want_ts;
    size_t n_want;
} md_rollup_plan;

/* Plans the write of bars b[0..n) (sorted by ts, no repeats) of one series of interval from_iv
 * whose stored bars span [first, last] (stored = 0: the series has no bars yet). */
void md_rollup__plan(md_rollup_plan *p, md_interval from_iv, const md_bar *b, size_t n, int stored,
                     int64_t first, int64_t last);
void md_rollup__plan_free(md_rollup_plan *p);

/* The rollup rows to upsert for the planned write, given the stored bars of
 * [read_lo, read_hi) in time order (before the write) and the existing rows that were found
 * for the plan's want list (in any order). *replaced receives how many of b[] replace a
 * stored bar. Returns 0, or 1 when a row the plan meant to extend is missing (then
 * p->read_lo/read_hi have been widened to cover its bucket: read again and call again). */
int md_rollup__build(md_rollup_plan *p, const md_bar *b, size_t n, const md_bar *stored,
                     size_t n_stored, const md_rollup *have, size_t n_have, md_rollup_vec *out,
                     int64_t *replaced);

/* Every rollup row of a series built from all its bars (sorted by ts), for filling the
 * rollups of data stored before they existed. */
void md_rollup__all(md_interval from_iv, const md_bar *b, size_t n, md_rollup_vec *out);

#endif
