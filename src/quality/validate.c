/* validate.c - the hard rules. */
#include "quality/validate.h"

#include "core/buf.h"
#include "core/timefmt.h"

#include <math.h>

/* The helpers below take message formats from this file only. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static const char *codes[] = {
#define MD_RULE(id, code) code,
#include "quality/rules.def"
#undef MD_RULE
};
_Static_assert(sizeof codes / sizeof codes[0] == MD_RULE_COUNT, "one code per rule");

const char *md_rule_code(md_rule r)
{
    return (unsigned)r < MD_RULE_COUNT ? codes[r] : "unknown";
}

static int fail1(md_rule *rule, md_rule r, md_error *err, const char *fmt, double a)
{
    if (rule) *rule = r;
    char x[32];
    md_fmt_num(x, a);
    return md_error_set(err, MD_EBAR, fmt, x);
}

static int fail(md_rule *rule, md_rule r, md_error *err, const char *fmt, double a, double b)
{
    if (rule) *rule = r;
    char x[32], y[32];
    md_fmt_num(x, a);
    md_fmt_num(y, b);
    return md_error_set(err, MD_EBAR, fmt, x, y);
}

/* A rule about the bar's time: the message names the timestamp (and arg, when fmt has a
 * second %s). */
static int fail_ts(md_rule *rule, md_rule r, md_error *err, const char *fmt, int64_t ts,
                   const char *arg)
{
    if (rule) *rule = r;
    char t[MD_TIME_STR_MAX];
    md_time_format(ts, t);
    return md_error_set(err, MD_EBAR, fmt, t, arg);
}

int md_validate_bar(const md_bar *b, md_interval iv, int64_t now, int64_t tol, md_rule *rule,
                    md_error *err)
{
    const double p[4] = {b->open, b->high, b->low, b->close};
    static const char *names[4] = {"open", "high", "low", "close"};
    for (int i = 0; i < 4; i++) {
        if (!isfinite(p[i])) {
            if (rule) *rule = MD_RULE_NONFINITE;
            return md_error_set(err, MD_EBAR, "%s is not a finite number", names[i]);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (p[i] <= 0) {
            if (rule) *rule = MD_RULE_NONPOSITIVE;
            char x[32];
            md_fmt_num(x, p[i]);
            return md_error_set(err, MD_EBAR, "%s %s is not positive", names[i], x);
        }
    }
    if (!isfinite(b->volume) || b->volume < 0)
        return fail1(rule, MD_RULE_NEG_VOLUME, err, "volume %s is negative", b->volume);
    if (!isnan(b->vwap)) { /* optional (NaN: not given); a price when given */
        if (!isfinite(b->vwap)) {
            if (rule) *rule = MD_RULE_NONFINITE;
            return md_error_set(err, MD_EBAR, "vwap is not a finite number");
        }
        if (b->vwap <= 0)
            return fail1(rule, MD_RULE_NONPOSITIVE, err, "vwap %s is not positive", b->vwap);
    }
    if (b->high < b->low)
        return fail(rule, MD_RULE_HIGH_LOW, err, "high %s < low %s", b->high, b->low);
    if (b->open < b->low || b->open > b->high)
        return fail(rule, MD_RULE_OPEN_RANGE, err, "open %s outside [low, high] (%s)", b->open,
                    b->open < b->low ? b->low : b->high);
    if (b->close < b->low || b->close > b->high)
        return fail(rule, MD_RULE_CLOSE_RANGE, err, "close %s outside [low, high] (%s)", b->close,
                    b->close < b->low ? b->low : b->high);
    if (md_interval_floor(iv, b->ts) != b->ts)
        return fail_ts(rule, MD_RULE_UNALIGNED, err, "timestamp %s is not aligned to %s", b->ts,
                       md_interval_name(iv));
    if (b->ts > now + tol)
        return fail_ts(rule, MD_RULE_FUTURE, err, "timestamp %s is in the future", b->ts, NULL);
    return 0;
}

int md_validate_quote(const md_quote *q, int64_t now, int64_t tol, md_rule *rule, md_error *err)
{
    if (!isfinite(q->price)) {
        if (rule) *rule = MD_RULE_NONFINITE;
        return md_error_set(err, MD_EBAR, "price is not a finite number");
    }
    if (q->price <= 0)
        return fail1(rule, MD_RULE_NONPOSITIVE, err, "price %s is not positive", q->price);
    if (!isnan(q->volume) && (!isfinite(q->volume) || q->volume < 0))
        return fail1(rule, MD_RULE_NEG_VOLUME, err, "volume %s is negative", q->volume);
    if (!isnan(q->bid) && !isnan(q->ask) && q->bid > q->ask)
        return fail(rule, MD_RULE_CROSSED, err, "crossed quote: bid %s > ask %s", q->bid, q->ask);
    if (q->ts > now + tol)
        return fail_ts(rule, MD_RULE_FUTURE, err, "timestamp %s is in the future", q->ts, NULL);
    return 0;
}
