/* Buffers, round-trip number formatting, JSON escaping, metrics rendering. */
#include "core/buf.h"
#include "core/metrics.h"
#include "core/render.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(buf, numbers_round_trip_exactly)
{
    double vals[] = {0,
                     1,
                     -1,
                     0.1,
                     63.4375,
                     50.0397819115463,
                     179.660004,
                     1e-7,
                     123456789.125,
                     0.30000000000000004,
                     5e15,
                     1.7976931348623157e308,
                     4.9e-324,
                     2.5e-300};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char s[32];
        md_fmt_num(s, vals[i]);
        cr_assert_eq(strtod(s, NULL), vals[i], "%s", s);
    }
    char s[32];
    md_fmt_num(s, 0.1);
    cr_assert_str_eq(s, "0.1");
    md_fmt_num(s, 40595600);
    cr_assert_str_eq(s, "40595600");
    md_fmt_num(s, NAN);
    cr_assert_str_eq(s, "null");
}

/* The old (always correct, slow) form: fewest of 15..17 significant digits. */
static int ref_num(char *dst, double v)
{
    if (v == floor(v) && fabs(v) < 1e21) return snprintf(dst, 32, "%.0f", v);
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(dst, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(dst, NULL) == v) return n;
    }
    return 0;
}

Test(buf, fast_number_form_round_trips_and_is_never_longer)
{
    unsigned seed = 7;
    for (int i = 0; i < 300000; i++) {
        double v;
        switch (i % 4) {
        case 0: /* prices with 0..6 decimals */
            v = (double)(rand_r(&seed) % 100000000) / pow(10, rand_r(&seed) % 7);
            break;
        case 1: /* arbitrary doubles of moderate size */
            v = (double)rand_r(&seed) / (double)(rand_r(&seed) + 1) *
                pow(10, rand_r(&seed) % 12 - 5);
            break;
        case 2: /* sums that do not have a short form (0.1 + 0.2) */
            v = (double)(rand_r(&seed) % 1000) / 10 + (double)(rand_r(&seed) % 1000) / 100;
            break;
        default: { /* random bit patterns */
            uint64_t u = ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 11) ^
                         (uint64_t)rand_r(&seed);
            memcpy(&v, &u, sizeof v);
            if (!isfinite(v)) continue;
        }
        }
        if (i % 8 == 1) v = -v;
        char s[32], r[32];
        int n = md_fmt_num(s, v), m = ref_num(r, v);
        cr_assert_eq(n, (int)strlen(s));
        cr_assert_eq(strtod(s, NULL), v, "%s does not parse back to %.17g", s, v);
        cr_assert_leq(n, m, "%s longer than %s", s, r);
    }
    char s[32];
    md_fmt_num(s, 0.0001);
    cr_assert_str_eq(s, "0.0001");
    md_fmt_num(s, -63.4375);
    cr_assert_str_eq(s, "-63.4375");
    md_fmt_num(s, 0.30000000000000004);
    cr_assert_str_eq(s, "0.30000000000000004");
}

/* Issue 13: volumes and counts above 2^53 are integers to a reader, never "1e+16". */
Test(buf, integers_above_2_pow_53_print_as_integers)
{
    char s[40];
    md_fmt_num(s, 9007199254740992.0); /* 2^53 */
    cr_assert_str_eq(s, "9007199254740992");
    md_fmt_num(s, 1e16);
    cr_assert_str_eq(s, "10000000000000000");
    md_fmt_num(s, 123456789012345678.0); /* not exact: the double's own decimal value */
    cr_assert_str_eq(s, "123456789012345680");
    md_fmt_num(s, 18446744073709551616.0); /* 2^64: past uint64_t */
    cr_assert_str_eq(s, "18446744073709551616");
    md_fmt_num(s, -3e20);
    cr_assert_str_eq(s, "-300000000000000000000");
    md_fmt_num(s, 1e21); /* JavaScript's threshold: exponent from here on */
    cr_assert_eq(strtod(s, NULL), 1e21);
    cr_assert_not_null(strchr(s, 'e'), "%s", s);
    for (double v = 9007199254740992.0; v < 1e21; v *= 3.7) {
        double x = floor(v);
        md_fmt_num(s, x);
        cr_assert_null(strpbrk(s, "e.E"), "%s", s);
        cr_assert_eq(strtod(s, NULL), x, "%s", s);
    }
}

Test(buf, integers_and_short_decimals_have_their_exact_text)
{
    struct {
        double v;
        const char *s;
    } nums[] = {{0.00012, "0.00012"},
                {0.0101, "0.0101"},
                {1234.5, "1234.5"},
                {-0.5, "-0.5"},
                {100.25, "100.25"},
                {10.01, "10.01"},
                {99.99, "99.99"},
                {1e14 + 0.5, "100000000000000.5"},
                {7, "7"},
                {-0.0, "-0"},
                {999999999999999, "999999999999999"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char s[32];
        md_fmt_num(s, nums[i].v);
        cr_assert_str_eq(s, nums[i].s);
    }
    int64_t ints[] = {0, 9, 10, 99, 100, -1, -10, 1234567, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        md_buf b;
        md_buf_init(&b);
        md_buf_puts(&b, "x=");
        md_buf_int(&b, ints[i]);
        char want[32];
        snprintf(want, sizeof want, "x=%lld", (long long)ints[i]);
        cr_assert_str_eq(b.data, want);
        cr_assert_eq(b.len, strlen(want));
        md_buf_deinit(&b);
    }
}

Test(buf, json_strings_are_escaped)
{
    md_buf b = MD_BUF_INIT;
    md_buf_json_str(&b, "a\"b\\c\n\x01");
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    md_buf_deinit(&b);
}

/* Decodes a JSON string literal with Jansson (an independent parser); NULL when invalid. */
static char *decoded(const char *literal)
{
    json_error_t je;
    json_t *v = json_loads(literal, JSON_DECODE_ANY, &je);
    if (!json_is_string(v)) {
        json_decref(v);
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    json_decref(v);
    return s;
}

Test(buf, json_strings_are_always_valid_utf8)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"a\xde"
         "b",
         "a\xef\xbf\xbd"
         "b"},                                                    /* a lone lead byte */
        {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong NUL */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xf4\x90\x80\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
        {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},     /* a sequence cut short */
        {"\x80\xbf", "\xef\xbf\xbd\xef\xbf\xbd"},             /* continuation bytes alone */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        md_buf b = MD_BUF_INIT;
        md_buf_json_str(&b, cases[i].in);
        md_buf_putc(&b, 0);
        char *d = decoded(b.data);
        cr_expect_not_null(d, "case %zu: %s is not valid JSON", i, b.data);
        if (d) cr_expect_str_eq(d, cases[i].out, "case %zu", i);
        free(d);
        md_buf_deinit(&b);
    }
}

Test(buf, growth_and_printf)
{
    md_buf b = MD_BUF_INIT;
    for (int i = 0; i < 10000; i++) md_buf_printf(&b, "%d,", i);
    cr_assert_eq(strncmp(b.data, "0,1,2,", 6), 0);
    cr_assert_eq(b.data[b.len], 0);
    size_t len;
    char *d = md_buf_steal(&b, &len);
    cr_assert_eq(strlen(d), len);
    cr_assert_null(b.data);
    free(d);
}

Test(buf, error_json_and_grades)
{
    md_buf b = MD_BUF_INIT;
    md_render_error_json(&b, MD_EINTERVAL, "bad \"x\"");
    cr_assert_str_eq(b.data,
                     "{\"error\":{\"code\":\"invalid_interval\",\"message\":\"bad \\\"x\\\"\"}}");
    md_buf_deinit(&b);
    cr_assert_str_eq(md_grade_for_score(97), "A+");
    cr_assert_str_eq(md_grade_for_score(96.99), "A");
    cr_assert_str_eq(md_grade_for_score(60), "D");
    cr_assert_str_eq(md_grade_for_score(59.99), "F");
    cr_assert_eq(md_error_http_status(MD_ETOOBIG), 413);
    cr_assert_eq(md_error_http_status(MD_EUNAVAIL), 503);
}

Test(buf, metrics_render_prometheus_text)
{
    md_metric_add(MD_M_HTTP_REQUESTS, 1, "/price/{symbol}", "200");
    md_metric_add(MD_M_HTTP_REQUESTS, 2, "/price/{symbol}", "200");
    md_metric_observe(MD_M_HTTP_DURATION, 0.003, "/price/{symbol}");
    md_metric_set(MD_M_QUALITY_SCORE, 91.5, "MS\"FT");
    md_buf b = MD_BUF_INIT;
    md_metrics_render(&b);
    cr_assert(strstr(b.data,
                     "mdagent_http_requests_total{route=\"/price/{symbol}\",status=\"200\"} 3\n") !=
                  NULL,
              "%s", b.data);
    cr_assert(strstr(b.data, "# TYPE mdagent_http_request_duration_seconds histogram") != NULL);
    cr_assert(strstr(b.data, "mdagent_http_request_duration_seconds_bucket{route=\"/price/"
                             "{symbol}\",le=\"0.0025\"} 0\n") != NULL,
              "%s", b.data);
    cr_assert(strstr(b.data, "mdagent_http_request_duration_seconds_bucket{route=\"/price/"
                             "{symbol}\",le=\"0.005\"} 1\n") != NULL,
              "%s", b.data);
    cr_assert(strstr(b.data, "mdagent_quality_score{symbol=\"MS\\\"FT\"} 91.5") != NULL, "%s",
              b.data);
    cr_assert(strstr(b.data, "mdagent_store_write_rows_total 0") != NULL);
    cr_assert_eq(md_metric_get(MD_M_HTTP_REQUESTS, "/price/{symbol}", "200"), 3);
    md_buf_deinit(&b);
}
