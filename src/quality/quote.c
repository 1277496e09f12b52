/* quote.c - the soft checks of one quote (quality.h md_quality_quote). A quote has no
 * series of its own to be judged against, so its checks are simple ones: how far it moved
 * from the symbol's previous price, and how wide its bid-ask spread is. */
#include "quality/quality.h"

#include "core/buf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* 0.5 at the limit, 1 at twice the limit (as the bar checks score theirs). */
static float severity_over(double value, double limit)
{
    double s = 0.5 + 0.5 * (value - limit) / limit;
    return (float)(s > 1 ? 1 : s < 0.5 ? 0.5 : s);
}

static md_qevent *add(md_qevent *ev, size_t *n, const md_quote *q, md_check c, double value,
                      double limit)
{
    md_qevent *e = &ev[(*n)++];
    memset(e, 0, sizeof *e);
    e->ts = q->ts;
    e->rule = (int16_t)MD_QRULE_SOFT(c);
    e->source = q->source;
    e->severity = severity_over(value, limit);
    e->value = value;
    e->limit = limit;
    return e;
}

size_t md_quality_quote(const md_quality_params *p, const md_quote *q, double ref_price,
                        md_qevent ev[2], float *score)
{
    size_t n = 0;
    char a[32], b[32];
    if (ref_price > 0 && isfinite(ref_price) && p->quote_jump_pct > 0) {
        double pct = fabs(q->price / ref_price - 1) * 100;
        if (pct > p->quote_jump_pct * (1 + 1e-9)) { /* at the limit (110 vs 100) passes */
            md_qevent *e = add(ev, &n, q, MD_CHECK_QUOTE_JUMP, pct, p->quote_jump_pct);
            md_fmt_num(a, q->price);
            md_fmt_num(b, ref_price);
            snprintf(e->detail, sizeof e->detail, "price %s moved %+.3g%% from %s (limit %g%%)", a,
                     (q->price / ref_price - 1) * 100, b, p->quote_jump_pct);
        }
    }
    if (isfinite(q->bid) && isfinite(q->ask) && q->bid > 0 && q->ask >= q->bid &&
        p->quote_spread_pct > 0) {
        double pct = (q->ask - q->bid) / ((q->ask + q->bid) / 2) * 100;
        if (pct > p->quote_spread_pct * (1 + 1e-9)) {
            md_qevent *e = add(ev, &n, q, MD_CHECK_WIDE_SPREAD, pct, p->quote_spread_pct);
            md_fmt_num(a, q->bid);
            md_fmt_num(b, q->ask);
            snprintf(e->detail, sizeof e->detail,
                     "bid %s ask %s: spread %.3g%% of the mid (limit %g%%)", a, b, pct,
                     p->quote_spread_pct);
        }
    }
    *score = md_quality_bar_score(p, ev, n);
    return n;
}
