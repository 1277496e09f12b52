/* scan.c - the soft rules over one series, in one pass, oldest first.
 *
 *   price_jump      |log return - mean| > k rolling standard deviations (jump_window
 *                   returns before the bar), against BOTH the previous close and the last
 *                   close that was not itself a jump. A lone bad print is flagged once (the
 *                   bar after it, back at the old level, is not); a real level shift is
 *                   flagged once (the next bar is near the new level). Returns over missing
 *                   bars are scaled by sqrt(1 + missing); flagged returns stay out of the
 *                   window. Intraday, the first bar after a break of more than 2 hours
 *                   outside the session (overnight, weekend) starts afresh.
 *   volume_outlier  volume >= r x the median of the previous volume_window volumes, or
 *                   volume 0 on a bar of a series whose median is > 0 (a lost volume). Thin
 *                   bars are not faults (a lunchtime minute trades a tenth of the median);
 *                   a series without volume (close only, volume 0) is not judged.
 *   stale_price     the same close on stale_bars bars in a row that each traded (volume
 *                   > 0); every further bar of the run is flagged too. Bars with volume 0
 *                   carry a price forward (a holiday in a close-only index) and are not.
 *   gap             missing expected bars between two bars (calendar.h), when at least
 *                   gap_min_bars of them (with an exchange calendar, daily: any missing
 *                   session); reported on the bar after the gap.
 *   off_session     (exchange calendars) a bar on a date without a session, or outside
 *                   every session's extended hours; severity 1.
 *   possible_unrecorded_split  a price_jump whose size is a common split ratio (the
 *                   previous close over this bar's close or open within 10% of 3:2, 2, 3, 4,
 *                   5, 10 or 20 to 1, or of a reverse one) with no split known between the two
 *                   bars, unless the next bar goes back to the old level (a lone bad print):
 *                   reported instead of the price_jump (severity 1: an adjusted series is
 *                   wrong from there back). Before the jump window is full (the first bars of a
 *                   series), a move of 2:1 or more that matches is reported too.
 *                   Only when the caller knows the symbol's splits (md_quality_scan_splits
 *                   with a list, maybe empty): without it a jump is a price_jump.
 *   known splits    (md_quality_scan_splits) across a split's cutoff, the closes and volumes
 *                   before it are taken in post-split units (prices / ratio, volumes x ratio),
 *                   so the split itself is no jump and no volume outlier.
 *   implausible_price  a price outside [price_min, price_max] (1e308, 1e-300): judged on
 *                   the bar alone, from the first bar on. The jump check cannot see a series
 *                   that glides over hundreds of orders of magnitude at a steady rate (each
 *                   return is like the ones before it); no market quotes such prices.
 *
 * Severity is 0.5 at the limit and grows to 1 (at twice the limit for jumps, volume and
 * stale runs; at 5 x gap_min_bars missing bars for gaps); an implausible price is 1. */
#include "quality/quality.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Details are human text in a fixed field: a long one is cut, by design. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define SIGMA_FLOOR 1e-4     /* returns: never judge against less than 0.01% */
#define SESSION_BREAK_S 7200 /* intraday: this much time outside the session restarts jumps */

static float sev_over(double value, double limit)
{
    if (!(limit > 0)) return 1;
    double s = 0.5 + 0.5 * (value - limit) / limit;
    return (float)(s > 1 ? 1 : s < 0.5 ? 0.5 : s);
}

static md_qevent *emit(md_qevent_vec *out, const md_bar *x, md_check c, float sev, double value,
                       double limit)
{
    md_qevent e;
    memset(&e, 0, sizeof e);
    e.ts = x->ts;
    e.rule = (int16_t)MD_QRULE_SOFT(c);
    e.source = x->source;
    e.severity = sev;
    e.value = value;
    e.limit = limit;
    return md_qevent_vec_push(out, &e);
}

static void fmt_when(const md_calendar *cal, int64_t ts, char *dst)
{
    if (cal->slots > 1)
        md_time_format(ts, dst);
    else
        md_date_format(ts, dst);
}

/* Rolling window of normalised returns, with running sums (recomputed every cap additions
 * so rounding cannot drift). */
typedef struct {
    double *v;
    int n, cap, pos, adds;
    double sum, sq;
} ring;

static void ring_add(ring *r, double x)
{
    if (r->n == r->cap) {
        double old = r->v[r->pos];
        r->sum -= old;
        r->sq -= old * old;
    } else {
        r->n++;
    }
    r->v[r->pos] = x;
    r->pos = (r->pos + 1) % r->cap;
    r->sum += x;
    r->sq += x * x;
    if (++r->adds >= r->cap) {
        r->adds = 0;
        r->sum = r->sq = 0;
        for (int i = 0; i < r->n; i++) r->sum += r->v[i], r->sq += r->v[i] * r->v[i];
    }
}

static void ring_stats(const ring *r, double *mean, double *sd)
{
    double m = r->sum / r->n;
    double q = r->sq - r->sum * m; /* sum of squared deviations */
    *mean = m;
    *sd = r->n > 1 && q > 0 ? sqrt(q / (r->n - 1)) : 0;
}

/* Rolling window of volumes kept sorted beside the ring, for the median. */
typedef struct {
    double *ring, *sorted;
    int n, cap, pos;
} medwin;

static int lower_bound(const double *v, int n, double x)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void med_add(medwin *m, double x)
{
    if (m->n == m->cap) { /* drop the oldest */
        double old = m->ring[m->pos];
        int k = lower_bound(m->sorted, m->n, old);
        memmove(m->sorted + k, m->sorted + k + 1, (size_t)(m->n - k - 1) * sizeof(double));
        m->n--;
    }
    m->ring[m->pos] = x;
    m->pos = (m->pos + 1) % m->cap;
    int k = lower_bound(m->sorted, m->n, x);
    memmove(m->sorted + k + 1, m->sorted + k, (size_t)(m->n - k) * sizeof(double));
    m->sorted[k] = x;
    m->n++;
}

/* A known split: every volume in the window x ratio (the order is kept). */
static void med_scale(medwin *m, double ratio)
{
    for (int i = 0; i < m->n; i++) m->ring[i] *= ratio, m->sorted[i] *= ratio;
}

static double med_get(const medwin *m)
{
    if (m->n == 0) return 0;
    return (m->n & 1) ? m->sorted[m->n / 2] : (m->sorted[m->n / 2 - 1] + m->sorted[m->n / 2]) / 2;
}

/* "2001-09-17" for a daily gap of one session, else "between A and B". */
static void gap_detail(md_qevent *ev, const md_calendar *cal, md_interval iv, int64_t a, int64_t b,
                       int64_t missing, int gap_min)
{
    char t1[MD_TIME_STR_MAX], t2[MD_TIME_STR_MAX];
    if (cal->x && cal->slots == 1) {
        /* name the sessions: the first and last missing dates */
        md_cal_session s;
        int64_t first = -1, last = -1;
        /* daily bars are aligned on UTC days (a hard rule), so the division is exact */
        for (int64_t d = a / 86400 + 1; d < b / 86400; d++)
            if (md_cal_day(cal->x, d, &s, NULL) == 1) {
                if (first < 0) first = d;
                last = d;
            }
        if (first < 0) first = last = a / 86400 + 1;
        md_date_format(first * 86400, t1);
        md_date_format(last * 86400, t2);
        if (missing == 1)
            snprintf(ev->detail, sizeof ev->detail, "missing %s session %s", md_cal_mic(cal->x),
                     t1);
        else
            snprintf(ev->detail, sizeof ev->detail, "%lld missing %s sessions, %s to %s",
                     (long long)missing, md_cal_mic(cal->x), t1, t2);
        return;
    }
    fmt_when(cal, a, t1);
    fmt_when(cal, b, t2);
    snprintf(ev->detail, sizeof ev->detail,
             "%lld expected %s bar%s missing between %s and %s (gap from %d)", (long long)missing,
             md_interval_name(iv), missing == 1 ? "" : "s", t1, t2, gap_min);
}

/* The common split ratios a jump is compared with (n:1; reverse ones are 1:n). */
static const double split_ratios[] = {1.5, 2, 3, 4, 5, 10, 20};
#define SPLIT_TOLERANCE 0.1 /* |log(move / ratio)|: a split day's own move fits in it */

/* The common ratio nearest the move prev -> now (either way), or 0 when none is within
 * SPLIT_TOLERANCE; *off gets the log distance. */
static double split_match(double prev, double now, double *off)
{
    if (!(prev > 0) || !(now > 0)) return 0;
    double m = fabs(log(prev / now)), best = 0;
    *off = INFINITY;
    for (size_t i = 0; i < sizeof split_ratios / sizeof *split_ratios; i++) {
        double d = fabs(m - log(split_ratios[i]));
        if (d < *off) *off = d, best = split_ratios[i];
    }
    return *off <= SPLIT_TOLERANCE ? best : 0;
}

/* Product of the ratios of the splits with from < cutoff <= to. */
static double splits_between(const md_qsplit *sp, size_t ns, int64_t from, int64_t to)
{
    double f = 1;
    for (size_t i = 0; i < ns; i++)
        if (sp[i].cutoff > from && sp[i].cutoff <= to && sp[i].ratio > 0) f *= sp[i].ratio;
    return f;
}

/* possible_unrecorded_split on x when the move from the previous close (pclose) to x's close
 * or open is a common split ratio and the next bar (NULL: none yet) does not go back to the
 * old level (a lone bad print does, a split does not): 1 when reported. */
static int unrecorded_split(md_qevent_vec *out, const md_bar *x, const md_bar *next, double pclose,
                            int e)
{
    if (next && next->close > 0 &&
        fabs(log(next->close / pclose)) < fabs(log(next->close / x->close)))
        return 0;
    double off_c, off_o;
    double rc = split_match(pclose, x->close, &off_c), ro = split_match(pclose, x->open, &off_o);
    double r = rc && (!ro || off_c <= off_o) ? rc : ro;
    if (!r) return 0;
    if (!e) return 1;
    double at = r == rc && rc ? x->close : x->open;
    int reverse = at > pclose;
    md_qevent *ev = emit(out, x, MD_CHECK_UNRECORDED_SPLIT, 1, pclose / at, reverse ? 1 / r : r);
    char a[32], b[32], d[16];
    md_fmt_num(a, at);
    md_fmt_num(b, pclose);
    md_date_format(x->ts - x->ts % 86400, d);
    double num = r == 1.5 ? 3 : r, den = r == 1.5 ? 2 : 1; /* 3:2, not 1.5:1 */
    snprintf(ev->detail, sizeof ev->detail,
             "%s %s is %.3gx %s the previous close %s, near a %s%g:%g split; no split is "
             "recorded on %s",
             at == x->close ? "close" : "open", a, reverse ? at / pclose : pclose / at,
             reverse ? "above" : "below", b, reverse ? "reverse " : "", reverse ? den : num,
             reverse ? num : den, d);
    return 1;
}

void md_quality_scan(const md_quality_params *p, md_interval iv, const md_bar *bars, size_t n,
                     const uint8_t *emit_mask, md_qevent_vec *out)
{
    md_quality_scan_splits(p, iv, NULL, NULL, 0, bars, n, emit_mask, out);
}

void md_quality_scan_cal(const md_quality_params *p, md_interval iv, const md_cal *xcal,
                         const md_bar *bars, size_t n, const uint8_t *emit_mask, md_qevent_vec *out)
{
    md_quality_scan_splits(p, iv, xcal, NULL, 0, bars, n, emit_mask, out);
}

void md_quality_scan_splits(const md_quality_params *p, md_interval iv, const md_cal *xcal,
                            const md_qsplit *splits, size_t n_splits, const md_bar *bars, size_t n,
                            const uint8_t *emit_mask, md_qevent_vec *out)
{
    if (n == 0) return;
    md_calendar cal;
    md_calendar_init(&cal, iv, xcal, bars, n);
    const int intraday = cal.slots > 1;
    const double k = p->jump_sigma;

    ring rw = {md_malloc((size_t)p->jump_window * sizeof(double)), 0, p->jump_window, 0, 0, 0, 0};
    const int rmin = p->jump_window / 2 > 5 ? p->jump_window / 2 : 5;
    medwin vw = {md_malloc((size_t)p->volume_window * sizeof(double)),
                 md_malloc((size_t)p->volume_window * sizeof(double)), 0, p->volume_window, 0};
    const int vmin = p->volume_window / 2 > 5 ? p->volume_window / 2 : 5;

    double ref_close = bars[0].close;
    int64_t ref_ts = bars[0].ts;
    int run = bars[0].volume > 0 ? 1 : 0;
    char a[32], b[32];

    for (size_t i = 0; i < n; i++) {
        const md_bar *x = &bars[i];
        const int e = emit_mask ? emit_mask[i] : 1;

        /* off_session: where the exchange does not trade */
        char why[sizeof out->v->detail];
        if (e && md_calendar_off_session(&cal, x->ts, why, sizeof why)) {
            md_qevent *ev = emit(out, x, MD_CHECK_OFF_SESSION, 1, 1, 0);
            snprintf(ev->detail, sizeof ev->detail, "%s", why);
        }

        /* implausible_price: the bar's lowest and highest price against the bounds */
        double lo = fmin(fmin(x->open, x->high), fmin(x->low, x->close));
        double hi = fmax(fmax(x->open, x->high), fmax(x->low, x->close));
        if (e && (lo < p->price_min || hi > p->price_max)) {
            int below = lo < p->price_min;
            double v = below ? lo : hi, lim = below ? p->price_min : p->price_max;
            md_qevent *ev = emit(out, x, MD_CHECK_IMPLAUSIBLE, 1, v, lim);
            md_fmt_num(a, v);
            md_fmt_num(b, lim);
            snprintf(ev->detail, sizeof ev->detail, "price %s is %s quality.price_%s %s", a,
                     below ? "below" : "above", below ? "min" : "max", b);
        }

        /* a known split since the previous bar: what came before, in post-split units */
        double fs = i ? splits_between(splits, n_splits, bars[i - 1].ts, x->ts) : 1;
        if (fs != 1) {
            med_scale(&vw, fs);
            ref_close /= fs;
        }

        /* volume_outlier: judged against the window before the bar */
        double med = med_get(&vw);
        if (vw.n >= vmin && med > 0 && isfinite(x->volume)) {
            double ratio = x->volume / med;
            if (e && ratio >= p->volume_ratio) {
                md_qevent *ev =
                    emit(out, x, MD_CHECK_VOLUME_OUTLIER,
                         sev_over(log(ratio), log(p->volume_ratio)), ratio, p->volume_ratio);
                md_fmt_num(a, x->volume);
                md_fmt_num(b, med);
                snprintf(ev->detail, sizeof ev->detail,
                         "volume %s is %.3gx the median %s of the previous %d bars (limit %gx)", a,
                         ratio, b, vw.n, p->volume_ratio);
            } else if (e && x->volume == 0) {
                md_qevent *ev = emit(out, x, MD_CHECK_VOLUME_OUTLIER, 1, 0, 0);
                md_fmt_num(b, med);
                snprintf(ev->detail, sizeof ev->detail,
                         "no volume on a bar of a series that trades (median %s of the previous "
                         "%d bars)",
                         b, vw.n);
            }
        }
        if (isfinite(x->volume)) med_add(&vw, x->volume);
        if (i == 0) continue;

        const md_bar *pv = &bars[i - 1];
        /* the next bucket: nothing missing, no calendar work (most bars) */
        int adjacent = md_calendar_next(&cal, pv->ts) == x->ts;
        int64_t raw =
            adjacent ? 0 : md_calendar_count(&cal, md_calendar_next(&cal, pv->ts), x->ts, 0);

        /* gap */
        int64_t missing = adjacent ? 0 : md_calendar_missing(&cal, pv->ts, x->ts, p->gap_min_bars);
        int64_t gap_a = pv->ts; /* where the gap named in the finding starts */
        int clipped = 0;
        if (missing > 0 && p->gaps_from_set && pv->ts < p->gaps_from && x->ts >= p->gaps_from) {
            /* a gap across the range's start: the expected bars before it are not the range's */
            int64_t before =
                md_calendar_count(&cal, md_calendar_next(&cal, pv->ts), p->gaps_from, 0);
            missing = missing > before ? missing - before : 0;
            clipped = 1;
            /* exchange sessions: the ones named are the range's (the first day at or after it) */
            int64_t day = (p->gaps_from + 86399) / 86400 * 86400;
            if (cal.x && cal.slots == 1 && day - 86400 > gap_a) gap_a = day - 86400;
        }
        if (missing > 0 && e) {
            md_qevent *ev = emit(out, x, MD_CHECK_GAP,
                                 (float)fmin(1.0, (double)missing / (5.0 * p->gap_min_bars)),
                                 (double)missing, (double)p->gap_min_bars);
            gap_detail(ev, &cal, iv, gap_a, x->ts, missing, p->gap_min_bars);
            if (clipped && !(cal.x && cal.slots == 1)) { /* the span named is the bars' */
                char t[MD_TIME_STR_MAX];
                fmt_when(&cal, p->gaps_from, t);
                size_t l = strlen(ev->detail);
                snprintf(ev->detail + l, sizeof ev->detail - l,
                         ", counted from the range's start %s", t);
            }
        }

        /* stale_price */
        if (x->close == pv->close) {
            if (x->volume > 0) run++;
        } else {
            run = x->volume > 0 ? 1 : 0;
        }
        if (e && x->volume > 0 && run >= p->stale_bars) {
            md_qevent *ev = emit(out, x, MD_CHECK_STALE_PRICE, sev_over(run, p->stale_bars), run,
                                 p->stale_bars);
            md_fmt_num(a, x->close);
            snprintf(ev->detail, sizeof ev->detail,
                     "close %s unchanged for %d bars with volume > 0 (limit %d)", a, run,
                     p->stale_bars);
        }

        /* price_jump */
        int brk = 0;
        if (!adjacent && intraday && (x->ts - pv->ts) - cal.step * (raw + 1) > SESSION_BREAK_S)
            brk = 1;
        if (brk || !(x->close > 0) || !(pv->close > 0) || !(ref_close > 0)) {
            ref_close = x->close;
            ref_ts = x->ts;
            continue;
        }
        const double pclose = pv->close / fs; /* in post-split units */
        double steps_prev = (double)(raw + 1);
        double steps_ref =
            ref_ts == pv->ts
                ? steps_prev
                : (double)(md_calendar_count(&cal, md_calendar_next(&cal, ref_ts), x->ts, 0) + 1);
        double r_prev = log(x->close / pclose);
        double r_ref = ref_ts == pv->ts ? r_prev : log(x->close / ref_close);
        if (rw.n >= rmin) {
            double mu, sd;
            ring_stats(&rw, &mu, &sd);
            if (sd < SIGMA_FLOOR) sd = SIGMA_FLOOR;
            double z_prev = fabs(r_prev - mu * steps_prev) / (sd * sqrt(steps_prev));
            double z_ref = fabs(r_ref - mu * steps_ref) / (sd * sqrt(steps_ref));
            double z = z_prev < z_ref ? z_prev : z_ref;
            if (z > k) {
                if (splits && fs == 1 &&
                    unrecorded_split(out, x, i + 1 < n ? &bars[i + 1] : NULL, pclose, e))
                    continue;
                if (e) {
                    md_qevent *ev = emit(out, x, MD_CHECK_PRICE_JUMP, sev_over(z, k), z, k);
                    md_fmt_num(a, x->close);
                    md_fmt_num(b, ref_close);
                    snprintf(ev->detail, sizeof ev->detail,
                             "close %s moved %+.2f%% from %s: %.1f standard deviations of the "
                             "last %d returns (limit %g)",
                             a, (exp(r_ref) - 1) * 100, b, z, rw.n, k);
                }
                continue; /* a jump stays out of the window and is no reference */
            }
        } else if (splits && fs == 1 && fabs(r_prev) >= log(2) - SPLIT_TOLERANCE &&
                   unrecorded_split(out, x, i + 1 < n ? &bars[i + 1] : NULL, pclose, e)) {
            continue; /* too few returns to judge a jump, but a split-sized move */
        }
        ring_add(&rw, r_ref / sqrt(steps_ref));
        ref_close = x->close;
        ref_ts = x->ts;
    }
    md_free(rw.v);
    md_free(vw.ring);
    md_free(vw.sorted);
    md_calendar_deinit(&cal);
}

int md_quality_compare(const md_quality_params *p, const md_bar *held, const md_bar *incoming,
                       int same_batch, md_qevent *out)
{
    if (!same_batch && held->source == incoming->source) return 0; /* a revision */
    static const char *names[4] = {"open", "high", "low", "close"};
    const double h[4] = {held->open, held->high, held->low, held->close};
    const double x[4] = {incoming->open, incoming->high, incoming->low, incoming->close};
    double worst = 0;
    int wi = 3;
    for (int i = 0; i < 4; i++) {
        double m = fmax(fabs(h[i]), fabs(x[i]));
        double d = m > 0 ? fabs(h[i] - x[i]) / m : 0;
        if (d > worst) worst = d, wi = i;
    }
    double vm = fmax(fabs(held->volume), fabs(incoming->volume));
    double vd = vm > 0 ? fabs(held->volume - incoming->volume) / vm : 0;
    if (worst <= 1e-12 && vd <= 1e-12) return 0;
    memset(out, 0, sizeof *out);
    out->ts = incoming->ts;
    out->source = incoming->source;
    out->other_source = held->source;
    char a[32], b[32];
    const char *sa = md_source_name(incoming->source), *sb = md_source_name(held->source);
    double pct = worst * 100;
    if (pct > p->disagreement_pct) {
        out->rule = (int16_t)MD_QRULE_SOFT(MD_CHECK_DISAGREEMENT);
        out->severity = sev_over(pct, p->disagreement_pct);
        out->value = pct;
        out->limit = p->disagreement_pct;
        md_fmt_num(a, x[wi]);
        md_fmt_num(b, h[wi]);
        snprintf(out->detail, sizeof out->detail,
                 "%s %s from %s differs by %.3g%% from %s from %s (limit %g%%)", names[wi], a, sa,
                 pct, b, sb, p->disagreement_pct);
        return 1;
    }
    out->rule = (int16_t)MD_QRULE_SOFT(MD_CHECK_DUPLICATE);
    out->severity = 1;
    out->value = (worst > vd ? worst : vd) * 100;
    out->limit = 0;
    if (worst > 1e-12) {
        md_fmt_num(a, x[wi]);
        md_fmt_num(b, h[wi]);
        snprintf(out->detail, sizeof out->detail,
                 "the bar came again from %s with other values than from %s (%s %s vs %s)", sa, sb,
                 names[wi], a, b);
    } else {
        md_fmt_num(a, incoming->volume);
        md_fmt_num(b, held->volume);
        snprintf(out->detail, sizeof out->detail,
                 "the bar came again from %s with other values than from %s (volume %s vs %s)", sa,
                 sb, a, b);
    }
    return 1;
}
