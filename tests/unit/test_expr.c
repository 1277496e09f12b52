/* The screens' condition language (analytics/expr.h): what parses and into which terms,
 * errors with their column, types, three-valued evaluation, and the canonical form. */
#include "analytics/expr.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static md_expr *parse_ok(const char *text)
{
    md_expr *e = NULL;
    md_error err;
    int rc = md_expr_parse(text, &e, &err);
    cr_assert_eq(rc, 0, "%s: %s", text, err.msg);
    return e;
}

static void parse_fails(const char *text, const char *want)
{
    md_expr *e = NULL;
    md_error err;
    err.msg[0] = 0;
    int rc = md_expr_parse(text, &e, &err);
    cr_assert_eq(rc, MD_EPARAM, "'%s' parsed", text);
    cr_assert_null(e);
    cr_assert(strstr(err.msg, want) != NULL, "'%s': got \"%s\", want \"%s\"", text, err.msg, want);
}

static const char *term(const md_expr *e, size_t i)
{
    const md_expr_term *t;
    size_t n = md_expr_terms(e, &t);
    cr_assert_lt(i, n);
    return t[i].name;
}

Test(expr, test_terms_are_canonical_and_distinct)
{
    md_expr *e = parse_ok("RSI:14 < 30 and Close > sma:200 and rsi < 40 or macd.signal > 0");
    const md_expr_term *t;
    size_t n = md_expr_terms(e, &t);
    cr_assert_eq(n, 4, "rsi and rsi:14 are one term");
    cr_assert_str_eq(term(e, 0), "rsi:14");
    cr_assert_str_eq(term(e, 1), "close");
    cr_assert(t[1].is_field);
    cr_assert_eq(t[1].field, MD_FIELD_CLOSE);
    cr_assert_str_eq(term(e, 2), "sma:200");
    cr_assert_str_eq(term(e, 3), "macd:12:26:9.signal");
    cr_assert_eq(t[3].output, 1);
    md_expr_free(e);
}

Test(expr, test_outputs_parameters_and_numbers)
{
    md_expr *e = parse_ok("bbands:20:2.5.upper < close and adx:14.+di > adx:14.-di and "
                          "volume >= 1e6 and .5 < 1");
    cr_assert_str_eq(term(e, 0), "bbands:20:2.5.upper");
    cr_assert_str_eq(term(e, 2), "adx:14.+di");
    cr_assert_str_eq(term(e, 3), "adx:14.-di");
    cr_assert_str_eq(term(e, 4), "volume");
    md_expr_free(e);
    e = parse_ok("close > 1.02 * sma:20 - (high - low) / 2");
    const md_expr_term *t;
    cr_assert_eq(md_expr_terms(e, &t), 4);
    double vals[4] = {103, 100, 10, 6}; /* close, sma:20, high, low: 103 > 102 - 2 */
    cr_assert_eq(md_expr_eval(e, vals), 1);
    vals[0] = 99;
    cr_assert_eq(md_expr_eval(e, vals), 0);
    md_expr_free(e);
}

Test(expr, test_errors_say_where_and_what)
{
    parse_fails("", "empty condition");
    parse_fails("rsx:14 < 30", "column 1: unknown name 'rsx'");
    parse_fails("close > sma:200 and rsi:0 < 30",
                "column 21: rsi: n '0' is not an integer 1..10000");
    parse_fails("macd > 0", "column 1: macd has 3 outputs (macd, signal, histogram): name one");
    parse_fails("bbands.top > close", "bbands has no output 'top'");
    parse_fails("close > ", "column 9: unexpected end");
    parse_fails("close", "must compare");
    parse_fails("close + 1", "must compare");
    parse_fails("rsi < 30 and", "unexpected end");
    parse_fails("(close > 1", "expected ')'");
    parse_fails("close > 1 close", "expected 'and', 'or' or the end, found 'close'");
    parse_fails("1 < close < 3", "do not chain");
    parse_fails("not close", "'not' needs a condition");
    parse_fails("close and open > 1", "'and' needs a condition");
    parse_fails("(close > 1) + 2 > 3", "'+' needs a number, not a condition");
    parse_fails("close > 1 $ 2", "column 11: unexpected character '$'");
    parse_fails("close > \x01", "unexpected byte 0x01");
    parse_fails("sma: > 1", "expected a number after ':'");
    parse_fails("sma:1:2 > 1", "sma takes at most 1 parameter");
    parse_fails("psar:0.3:0.1 > 1", "af <= af_max");
}

Test(expr, test_limits_bound_the_text_nesting_and_size)
{
    char deep[200];
    memset(deep, '(', 100);
    strcpy(deep + 100, "close > 1");
    parse_fails(deep, "nested too deeply");
    char big[1100];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "close > 1", 9);
    parse_fails(big, "longer than 1024");
    char many[1024] = "close > 0";
    for (int i = 0; i < 70; i++) strcat(many, " or close > 1"); /* 283 nodes, 919 chars */
    parse_fails(many, "condition too long");
    char terms[1024] = "close > 0";
    for (int i = 1; i <= 33; i++)
        snprintf(terms + strlen(terms), sizeof terms - strlen(terms), " or sma:%d > 0", i);
    parse_fails(terms, "at most 32 distinct");
}

Test(expr, test_three_valued_logic)
{
    md_expr *e = parse_ok("rsi:14 < 30 and close > 10");
    double v[2] = {NAN, 20};
    cr_assert_eq(md_expr_eval(e, v), -1, "unknown and true is unknown");
    v[1] = 5;
    cr_assert_eq(md_expr_eval(e, v), 0, "unknown and false is false");
    v[0] = 20, v[1] = 20;
    cr_assert_eq(md_expr_eval(e, v), 1);
    md_expr_free(e);
    e = parse_ok("rsi:14 < 30 or close > 10");
    double w[2] = {NAN, 20};
    cr_assert_eq(md_expr_eval(e, w), 1, "unknown or true is true");
    w[1] = 5;
    cr_assert_eq(md_expr_eval(e, w), -1, "unknown or false is unknown");
    md_expr_free(e);
    e = parse_ok("not rsi:14 < 30");
    double u[1] = {NAN};
    cr_assert_eq(md_expr_eval(e, u), -1, "not unknown is unknown");
    u[0] = 40;
    cr_assert_eq(md_expr_eval(e, u), 1);
    md_expr_free(e);
}

Test(expr, test_division_by_zero_is_unknown)
{
    md_expr *e = parse_ok("close / volume > 1");
    double z[2] = {1, 0};
    cr_assert_eq(md_expr_eval(e, z), -1);
    md_expr_free(e);
}

Test(expr, test_precedence_and_the_canonical_form_round_trips)
{
    static const char *const texts[] = {
        "rsi:14 < 30 and close > sma:200",
        "not rsi < 30 or close >= 2 * sma - 1 and volume != 0",
        "-close + 3 > -(open - 1) / 2",
        "(close > 1 or close < -1) and not (high == low)",
        "macd:12:26:9.histogram > 0 and adx.+di >= adx.-di",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        md_expr *e = parse_ok(texts[i]);
        md_buf a = MD_BUF_INIT, b = MD_BUF_INIT;
        md_expr_render(e, &a);
        md_expr *e2 = parse_ok(a.data);
        md_expr_render(e2, &b);
        cr_assert_str_eq(a.data, b.data, "%s", texts[i]);
        md_expr_free(e);
        md_expr_free(e2);
        md_buf_deinit(&a);
        md_buf_deinit(&b);
    }
    md_expr *e = parse_ok("not rsi < 30 or close > 1 and volume > 0");
    md_buf a = MD_BUF_INIT;
    md_expr_render(e, &a);
    cr_assert_str_eq(a.data, "((not (rsi:14 < 30)) or ((close > 1) and (volume > 0)))");
    md_buf_deinit(&a);
    md_expr_free(e);
    e = parse_ok("close - 1 - 2 > 0");
    double v[1] = {3.5};
    cr_assert_eq(md_expr_eval(e, v), 1, "left-associative: (3.5 - 1) - 2 > 0");
    md_expr_free(e);
}
