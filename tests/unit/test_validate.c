/* Hard validation rules (quality/validate), each at its edge. */
#include "quality/validate.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static md_bar B(double o, double h, double l, double c, double v)
{
    md_bar b;
    md_bar_init(&b);
    b.ts = 1709251200, b.open = o, b.high = h, b.low = l, b.close = c, b.volume = v;
    return b;
}

static md_rule check(md_bar b, md_interval iv, int64_t now)
{
    md_rule r = MD_RULE_COUNT;
    md_error err;
    int rc = md_validate_bar(&b, iv, now, 300, &r, &err);
    if (rc == 0) return MD_RULE_COUNT;
    cr_assert_eq(rc, MD_EBAR);
    cr_assert(strlen(err.msg) > 0);
    return r;
}

#define NOW 1800000000

Test(validate, valid_bars_pass_including_equal_edges)
{
    cr_assert_eq(check(B(10, 11, 9, 10.5, 0), MD_IV_1D, NOW), MD_RULE_COUNT);
    cr_assert_eq(check(B(10, 10, 10, 10, 0), MD_IV_1D, NOW), MD_RULE_COUNT); /* flat bar */
    cr_assert_eq(check(B(9, 11, 9, 11, 5), MD_IV_1D, NOW),
                 MD_RULE_COUNT); /* open=low, close=high */
}

Test(validate, each_rule_fires)
{
    cr_assert_eq(check(B(NAN, 11, 9, 10, 0), MD_IV_1D, NOW), MD_RULE_NONFINITE);
    cr_assert_eq(check(B(10, INFINITY, 9, 10, 0), MD_IV_1D, NOW), MD_RULE_NONFINITE);
    cr_assert_eq(check(B(0, 11, 9, 10, 0), MD_IV_1D, NOW), MD_RULE_NONPOSITIVE);
    cr_assert_eq(check(B(10, 11, -1, 10, 0), MD_IV_1D, NOW), MD_RULE_NONPOSITIVE);
    cr_assert_eq(check(B(10, 11, 9, 10, -0.0001), MD_IV_1D, NOW), MD_RULE_NEG_VOLUME);
    cr_assert_eq(check(B(10, 9, 11, 10, 0), MD_IV_1D, NOW), MD_RULE_HIGH_LOW);
    cr_assert_eq(check(B(8.99, 11, 9, 10, 0), MD_IV_1D, NOW), MD_RULE_OPEN_RANGE);
    cr_assert_eq(check(B(11.01, 11, 9, 10, 0), MD_IV_1D, NOW), MD_RULE_OPEN_RANGE);
    cr_assert_eq(check(B(10, 11, 9, 11.01, 0), MD_IV_1D, NOW), MD_RULE_CLOSE_RANGE);
    cr_assert_eq(check(B(10, 11, 9, 8.99, 0), MD_IV_1D, NOW), MD_RULE_CLOSE_RANGE);
}

/* vwap is optional (NaN when not given); when given it is a price: finite and > 0. */
Test(validate, vwap_when_given_is_a_positive_price)
{
    static const struct {
        double vwap;
        md_rule want;
    } cases[] = {{NAN, MD_RULE_COUNT},          {10.2, MD_RULE_COUNT},
                 {1e-9, MD_RULE_COUNT},         {-3, MD_RULE_NONPOSITIVE},
                 {-0.0, MD_RULE_NONPOSITIVE},   {0, MD_RULE_NONPOSITIVE},
                 {INFINITY, MD_RULE_NONFINITE}, {-INFINITY, MD_RULE_NONFINITE}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        md_bar b = B(10, 11, 9, 10, 100);
        b.vwap = cases[i].vwap;
        cr_expect_eq(check(b, MD_IV_1D, NOW), cases[i].want, "vwap %g", cases[i].vwap);
    }
}

Test(validate, alignment_to_interval)
{
    md_bar b = B(10, 11, 9, 10, 0);
    b.ts = 1709251200 + 60;
    cr_assert_eq(check(b, MD_IV_1D, NOW), MD_RULE_UNALIGNED);
    cr_assert_eq(check(b, MD_IV_1M, NOW), MD_RULE_COUNT);
    cr_assert_eq(check(b, MD_IV_5M, NOW), MD_RULE_UNALIGNED);
}

Test(validate, future_tolerance_edge)
{
    md_bar b = B(10, 11, 9, 10, 0);
    b.ts = 1709251200;
    cr_assert_eq(check(b, MD_IV_1M, b.ts - 300), MD_RULE_COUNT); /* exactly at tolerance */
    cr_assert_eq(check(b, MD_IV_1M, b.ts - 301), MD_RULE_FUTURE);
}

Test(validate, quotes)
{
    md_quote q;
    md_quote_init(&q);
    q.ts = 1000, q.price = 10;
    md_rule r;
    cr_assert_eq(md_validate_quote(&q, NOW, 300, &r, NULL), 0);
    q.price = 0;
    cr_assert_eq(md_validate_quote(&q, NOW, 300, &r, NULL), MD_EBAR);
    cr_assert_eq(r, MD_RULE_NONPOSITIVE);
    q.price = 10, q.bid = 10.1, q.ask = 10;
    md_error err;
    cr_assert_eq(md_validate_quote(&q, NOW, 300, &r, &err), MD_EBAR);
    cr_assert_eq(r, MD_RULE_CROSSED, "a crossed quote is no bar's high below its low");
    cr_assert_str_eq(md_rule_code(r), "crossed_quote");
    cr_assert(strstr(err.msg, "bid 10.1 > ask 10"), "%s", err.msg);
    q.bid = 10, q.ask = 10; /* locked: allowed */
    cr_assert_eq(md_validate_quote(&q, NOW, 300, &r, NULL), 0);
    q.bid = 9.9, q.volume = -1;
    cr_assert_eq(md_validate_quote(&q, NOW, 300, &r, NULL), MD_EBAR);
    cr_assert_eq(r, MD_RULE_NEG_VOLUME);
}
