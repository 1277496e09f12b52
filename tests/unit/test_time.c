/* Time parsing and formatting (core/timefmt). */
#include "core/timefmt.h"

#include <criterion/criterion.h>

static int64_t parse_ok(const char *s)
{
    int64_t t = 0;
    md_error err;
    int rc = md_time_parse_str(s, &t, &err);
    cr_assert_eq(rc, 0, "parse '%s' failed: %s", s, err.msg);
    return t;
}

static void parse_bad(const char *s)
{
    int64_t t = 12345;
    md_error err;
    cr_assert_eq(md_time_parse_str(s, &t, &err), MD_ETIMERANGE, "'%s' should fail", s);
    cr_assert_eq(t, 12345, "out written on failure for '%s'", s);
    cr_assert(strlen(err.msg) > 0);
}

Test(time, date_only_is_utc_midnight)
{
    cr_assert_eq(parse_ok("1970-01-01"), 0);
    cr_assert_eq(parse_ok("2024-03-01"), 1709251200);
    cr_assert_eq(parse_ok("2000-02-29"), 951782400);
}

Test(time, rfc3339_forms)
{
    cr_assert_eq(parse_ok("2024-03-01T14:30:00Z"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01t14:30:00z"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01 14:30:00"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01T14:30Z"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01T14:30:00.999Z"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01T15:30:00+01:00"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01T09:30:00-05:00"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01T09:30:00-0500"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01T16:30:00+02"), 1709303400);
    cr_assert_eq(parse_ok("2024-03-01 09:30:00 -05:00"), 1709303400);
    /* a '+' that URL decoding turned into a space */
    cr_assert_eq(parse_ok("2024-03-01T15:30:00 01:00"), 1709303400);
}

Test(time, epoch_seconds)
{
    cr_assert_eq(parse_ok("0"), 0);
    cr_assert_eq(parse_ok("1709303400"), 1709303400);
    cr_assert_eq(parse_ok("-86400"), -86400);
}

Test(time, malformed_input_is_rejected)
{
    const char *bad[] = {"",
                         "2024",
                         "2024-13-01",
                         "2024-02-30",
                         "2023-02-29",
                         "2024-00-10",
                         "2024-03-01T25:00:00Z",
                         "2024-03-01T10:60Z",
                         "2024-03-01T10:00:61Z",
                         "2024-03-01X10:00:00Z",
                         "2024-03-01T10:00:00+25:00",
                         "abc",
                         "12a",
                         "2024-03-01T10:00:00Zjunk",
                         "2024/03/01",
                         "99999999999999",
                         "2024-03-01T10:00:00.Z",
                         "--5",
                         "2024-3-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (strcmp(bad[i], "2024") == 0) continue; /* digits only: epoch seconds */
        parse_bad(bad[i]);
    }
    cr_assert_eq(parse_ok("2024"), 2024); /* documented: digits are epoch seconds */
}

Test(time, compact_stooq_forms)
{
    int64_t t;
    cr_assert_eq(md_time_parse_compact("20240301", 8, "143000", 6, &t), 0);
    cr_assert_eq(t, 1709303400);
    cr_assert_eq(md_time_parse_compact("20240301", 8, NULL, 0, &t), 0);
    cr_assert_eq(t, 1709251200);
    cr_assert_neq(md_time_parse_compact("20241301", 8, NULL, 0, &t), 0);
    cr_assert_neq(md_time_parse_compact("2024031", 7, NULL, 0, &t), 0);
    cr_assert_neq(md_time_parse_compact("20240301", 8, "256000", 6, &t), 0);
}

Test(time, format_round_trips)
{
    char buf[MD_TIME_STR_MAX];
    cr_assert_eq(md_time_format(1709303400, buf), 20);
    cr_assert_str_eq(buf, "2024-03-01T14:30:00Z");
    md_time_format(0, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    md_time_format(-1, buf);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    md_date_format(951782400, buf);
    cr_assert_str_eq(buf, "2000-02-29");
    for (int64_t t = -5000000000LL; t < 5000000000LL; t += 86399 * 37 + 11) {
        md_time_format(t, buf);
        cr_assert_eq(parse_ok(buf), t, "round trip %s", buf);
    }
}

Test(time, civil_days_are_inverse)
{
    for (int64_t d = -800000; d < 800000; d += 97) {
        int64_t y;
        unsigned m, day;
        md_civil_from_days(d, &y, &m, &day);
        cr_assert_eq(md_days_from_civil(y, m, day), d);
    }
}
