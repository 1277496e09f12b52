/* score.c - dimensions, weights and grades.
 *
 * A range is judged by rates, not by averaging bar scores: averaging would let one bad
 * print in a year of bars vanish (99.6% "accurate"), and a grade that looks perfect on
 * faulty data is the failure this module exists to prevent. Each dimension is
 *
 *   100 * max(0, 1 - rate / tolerance)
 *
 * where rate is the share of the range that is defective in that dimension and tolerance
 * (quality.defect_tolerance, quality.gap_tolerance for completeness) is the share at which
 * the dimension reaches 0. With the default 3%, one bad bar in 250 (0.4%) costs a
 * dimension 13 points. */
#include "quality/quality.h"

#include "core/render.h"

#include <math.h>
#include <string.h>

void md_quality_tally_init(md_quality_tally *t)
{
    memset(t, 0, sizeof *t);
}

void md_quality_tally_add(md_quality_tally *t, const md_qevent *e)
{
    if (e->rule < 0 || e->rule >= MD_QRULE_COUNT) return;
    t->count[e->rule]++;
    if (md_qrule_is_hard(e->rule)) {
        t->rejected++;
        return;
    }
    if (e->rule == MD_QRULE_SOFT(MD_CHECK_GAP)) {
        t->missing += (int64_t)e->value;
        t->defects[MD_QDIM_COMPLETENESS] += e->value;
        return;
    }
    t->defects[md_qrule_dim(e->rule)] += e->severity;
}

static double dim_from_rate(double rate, double tolerance)
{
    double s = 100.0 * (1.0 - rate / tolerance);
    return s < 0 ? 0 : s > 100 ? 100 : s;
}

static double weighted(const md_quality_params *p, const double dim[MD_QDIM_COUNT])
{
    double sw = 0, s = 0;
    for (int d = 0; d < MD_QDIM_COUNT; d++) {
        sw += p->weight[d];
        s += p->weight[d] * dim[d];
    }
    return sw > 0 ? s / sw : 0;
}

void md_quality_score_tally(const md_quality_params *p, const md_quality_tally *t,
                            double timeliness, md_quality_score *out)
{
    memset(out, 0, sizeof *out);
    if (t->bars <= 0) {
        out->score = t->rejected > 0 ? 0 : -1;
        out->grade = md_grade_for_score(out->score);
        if (t->rejected > 0) out->dim[MD_QDIM_TIMELINESS] = timeliness;
        return;
    }
    double n = (double)t->bars;
    out->dim[MD_QDIM_COMPLETENESS] =
        dim_from_rate((double)t->missing / (n + (double)t->missing), p->gap_tolerance);
    out->dim[MD_QDIM_ACCURACY] =
        dim_from_rate(t->defects[MD_QDIM_ACCURACY] / n, p->defect_tolerance);
    out->dim[MD_QDIM_TIMELINESS] = timeliness < 0 ? 0 : timeliness > 100 ? 100 : timeliness;
    out->dim[MD_QDIM_CONSISTENCY] =
        dim_from_rate(t->defects[MD_QDIM_CONSISTENCY] / n, p->defect_tolerance);
    out->dim[MD_QDIM_VALIDITY] =
        dim_from_rate((double)t->rejected / (n + (double)t->rejected), p->defect_tolerance);
    out->dim[MD_QDIM_UNIQUENESS] =
        dim_from_rate(t->defects[MD_QDIM_UNIQUENESS] / n, p->defect_tolerance);
    out->score = weighted(p, out->dim);
    /* graded as it is reported (two decimals): a 96.997 shown as 97 is an A+, as the table
     * of minimum scores says */
    out->grade = md_grade_for_score(round(out->score * 100) / 100);
}

float md_quality_bar_score(const md_quality_params *p, const md_qevent *ev, size_t n)
{
    double worst[MD_QDIM_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        md_qdim d = md_qrule_dim(ev[i].rule);
        double s = ev[i].severity < 0 ? 0 : ev[i].severity > 1 ? 1 : ev[i].severity;
        if (s > worst[d]) worst[d] = s;
    }
    double dim[MD_QDIM_COUNT];
    for (int d = 0; d < MD_QDIM_COUNT; d++) dim[d] = 100.0 * (1.0 - worst[d]);
    double s = weighted(p, dim);
    return (float)(round(s * 100) / 100);
}

int md_quality_is_live_bar(const md_quality_params *p, md_interval iv, int64_t ts, int64_t now)
{
    int64_t end = md_interval_next(iv, ts);
    return end >= now - (int64_t)p->live_window_bars * md_interval_seconds(iv);
}

double md_quality_timeliness(const md_quality_params *p, const md_calendar *cal, int live,
                             int64_t newest_ts, int64_t ref, int64_t *lag_bars)
{
    if (lag_bars) *lag_bars = 0;
    if (!live) return 100;
    /* buckets that ended by ref, after the newest bar */
    int64_t from = md_calendar_next(cal, newest_ts);
    int64_t to = md_interval_floor(cal->iv, ref);
    int64_t lag = md_calendar_count(cal, from, to, 1);
    if (lag_bars) *lag_bars = lag;
    double over = (double)(lag - p->timeliness_grace_bars);
    if (over <= 0) return 100;
    double s = 100.0 * (1.0 - over / p->timeliness_zero_bars);
    return s < 0 ? 0 : s;
}
