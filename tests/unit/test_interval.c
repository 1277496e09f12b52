/* Intervals and UTC bucket alignment (core/interval). */
#include "core/interval.h"
#include "core/timefmt.h"

#include <criterion/criterion.h>

static int64_t T(const char *s)
{
    int64_t t;
    cr_assert_eq(md_time_parse_str(s, &t, NULL), 0);
    return t;
}

Test(interval, parses_every_documented_name)
{
    const char *names[] = {"1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w", "1mo"};
    for (int i = 0; i < 9; i++) {
        md_interval iv;
        cr_assert_eq(md_interval_parse(names[i], &iv, NULL), 0);
        cr_assert_eq((int)iv, i);
        cr_assert_str_eq(md_interval_name(iv), names[i]);
    }
}

Test(interval, rejects_unknown_names_with_message)
{
    const char *bad[] = {"", "1M", "2m", "1min", "1 d", "1dd", "mo", "1y", "60m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_interval iv = MD_IV_1D;
        md_error err;
        cr_assert_eq(md_interval_parse(bad[i], &iv, &err), MD_EINTERVAL, "%s", bad[i]);
        cr_assert(strstr(err.msg, "unknown interval") != NULL);
    }
}

Test(interval, fixed_buckets_align_to_epoch_multiples)
{
    cr_assert_eq(md_interval_floor(MD_IV_5M, T("2024-03-01T14:33:59Z")), T("2024-03-01T14:30:00Z"));
    cr_assert_eq(md_interval_floor(MD_IV_4H, T("2024-03-01T14:33:59Z")), T("2024-03-01T12:00:00Z"));
    cr_assert_eq(md_interval_floor(MD_IV_1D, T("2024-03-01T23:59:59Z")), T("2024-03-01"));
    cr_assert_eq(md_interval_floor(MD_IV_1H, -1), -3600);
    cr_assert_eq(md_interval_next(MD_IV_15M, T("2024-03-01T14:30:00Z")), T("2024-03-01T14:45:00Z"));
}

Test(interval, weeks_start_monday_utc)
{
    /* 2024-03-03 is a Sunday: its week started Monday 2024-02-26 */
    cr_assert_eq(md_interval_floor(MD_IV_1W, T("2024-03-03T23:00:00Z")), T("2024-02-26"));
    cr_assert_eq(md_interval_floor(MD_IV_1W, T("2024-03-04")), T("2024-03-04"));
    cr_assert_eq(md_interval_next(MD_IV_1W, T("2024-03-04")), T("2024-03-11"));
    cr_assert_eq(md_interval_floor(MD_IV_1W, T("1970-01-01")), T("1969-12-29"));
}

Test(interval, months_start_on_the_first)
{
    cr_assert_eq(md_interval_floor(MD_IV_1MO, T("2024-02-29T12:00:00Z")), T("2024-02-01"));
    cr_assert_eq(md_interval_next(MD_IV_1MO, T("2024-02-01")), T("2024-03-01"));
    cr_assert_eq(md_interval_next(MD_IV_1MO, T("2023-12-15")), T("2024-01-01"));
}

Test(interval, divides)
{
    cr_assert(md_interval_divides(MD_IV_1M, MD_IV_5M));
    cr_assert(md_interval_divides(MD_IV_1H, MD_IV_4H));
    cr_assert(md_interval_divides(MD_IV_4H, MD_IV_1D));
    cr_assert(md_interval_divides(MD_IV_1D, MD_IV_1W));
    cr_assert(md_interval_divides(MD_IV_1D, MD_IV_1MO));
    cr_assert_not(md_interval_divides(MD_IV_1W, MD_IV_1MO));
    cr_assert_not(md_interval_divides(MD_IV_1D, MD_IV_1D));
    cr_assert_not(md_interval_divides(MD_IV_1D, MD_IV_1H));
}
