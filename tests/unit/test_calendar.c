/* Exchange calendars (calendar/): lookups, sessions around an instant, session dates of
 * night bars, counting, the range. The holiday sets themselves are compared with
 * independent references end to end (tests/e2e/test_calendar.py). */
#include "calendar/calendar.h"
#include "core/error.h"
#include "core/timefmt.h"

#include <criterion/criterion.h>
#include <string.h>

static int64_t T(const char *s)
{
    int64_t t;
    cr_assert_eq(md_time_parse_str(s, &t, NULL), 0, "%s", s);
    return t;
}

static int64_t D(const char *s)
{
    return T(s) / 86400;
}

Test(calendar, finds_by_mic_and_alias_case_insensitive)
{
    cr_assert_str_eq(md_cal_mic(md_cal_find("xnys")), "XNYS");
    cr_assert_str_eq(md_cal_mic(md_cal_find("NYSE")), "XNYS");
    cr_assert_str_eq(md_cal_mic(md_cal_find("Nasdaq")), "XNAS");
    cr_assert_str_eq(md_cal_mic(md_cal_find("crypto")), "24/7");
    cr_assert_str_eq(md_cal_mic(md_cal_find("fx")), "24/5");
    cr_assert_null(md_cal_find("XNY"));
    cr_assert_null(md_cal_find("|"));
    cr_assert_null(md_cal_find(""));
    cr_assert_geq(md_cal_count(), 10);
}

Test(calendar, closed_days_say_why)
{
    const md_cal *c = md_cal_find("XNYS");
    md_cal_session s;
    const char *why = NULL;
    cr_assert_eq(md_cal_day(c, D("2001-09-11"), &s, &why), 0);
    cr_assert_str_eq(why, "September 11 attacks");
    cr_assert_eq(md_cal_day(c, D("2024-12-25"), &s, &why), 0);
    cr_assert_str_eq(why, "Christmas Day");
    cr_assert_eq(md_cal_day(c, D("2024-12-28"), &s, &why), 0);
    cr_assert_str_eq(why, "weekend");
    cr_assert_eq(md_cal_day(c, D("2024-12-24"), &s, &why), 1);
    cr_assert(s.flags & MD_CAL_EARLY_CLOSE);
    cr_assert_eq(s.close, T("2024-12-24T18:00:00Z"));
}

Test(calendar, session_at_distinguishes_regular_and_extended_hours)
{
    const md_cal *c = md_cal_find("XNYS");
    md_cal_session s;
    cr_assert_eq(md_cal_session_at(c, T("2024-01-09T14:29:59Z"), 0, &s), 0);
    cr_assert_eq(md_cal_session_at(c, T("2024-01-09T14:29:59Z"), 1, &s), 1);
    cr_assert_eq(md_cal_session_at(c, T("2024-01-09T14:30:00Z"), 0, &s), 1);
    cr_assert_eq(s.day, D("2024-01-09"));
    cr_assert_eq(md_cal_session_at(c, T("2024-01-09T21:00:00Z"), 0, &s), 0); /* close is out */
    cr_assert_eq(md_cal_session_at(c, T("2024-01-10T00:59:59Z"), 1, &s), 1); /* 19:59 ET */
    cr_assert_eq(md_cal_session_at(c, T("2024-01-10T01:00:00Z"), 1, &s), 0);
}

Test(calendar, night_bars_belong_to_their_new_york_session_not_the_utc_day)
{
    const md_cal *c = md_cal_find("XNYS");
    /* 19:30 New York on Tuesday is 00:30 UTC Wednesday: post-market of Tuesday */
    cr_assert_eq(md_cal_session_day(c, T("2024-01-10T00:30:00Z")), D("2024-01-09"));
    /* 03:00 New York is before pre-market: the coming session */
    cr_assert_eq(md_cal_session_day(c, T("2024-01-10T08:00:00Z")), D("2024-01-10"));
    /* Friday night after post-market: the next session, Tuesday (Monday is MLK Day) */
    cr_assert_eq(md_cal_session_day(c, T("2024-01-13T02:00:00Z")), D("2024-01-16"));
    /* FX: Sunday 18:00 New York trades for Monday */
    const md_cal *fx = md_cal_find("24/5");
    cr_assert_eq(md_cal_session_day(fx, T("2024-01-07T23:00:00Z")), D("2024-01-08"));
    cr_assert_eq(md_cal_session_day(fx, T("2024-01-08T21:59:00Z")), D("2024-01-08"));
    cr_assert_eq(md_cal_session_day(fx, T("2024-01-08T22:00:00Z")), D("2024-01-09"));
}

Test(calendar, next_and_prev_skip_holidays_and_weekends)
{
    const md_cal *c = md_cal_find("XNYS");
    md_cal_session s;
    cr_assert_eq(md_cal_next(c, T("2001-09-10T20:00:00Z"), &s), 1);
    cr_assert_eq(s.day, D("2001-09-17"));
    cr_assert_eq(md_cal_next(c, T("2001-09-10T19:59:59Z"), &s), 1);
    cr_assert_eq(s.day, D("2001-09-10"));
    cr_assert_eq(md_cal_prev(c, T("2001-09-16T12:00:00Z"), &s), 1);
    cr_assert_eq(s.day, D("2001-09-10"));
}

Test(calendar, counts_sessions_and_estimates_outside_its_range)
{
    const md_cal *c = md_cal_find("XNYS");
    /* 2024: 262 weekdays, 10 holidays on weekdays */
    cr_assert_eq(md_cal_count_sessions(c, D("2024-01-01"), D("2025-01-01")), 252);
    int64_t first, last;
    md_cal_range(c, &first, &last);
    cr_assert_eq(first, D("1990-01-01"));
    cr_assert_eq(last, D("2030-12-31"));
    md_cal_session s;
    /* outside: the weekly pattern, flagged */
    cr_assert_eq(md_cal_day(c, D("2031-12-25"), &s, NULL), 1);
    cr_assert(s.flags & MD_CAL_ESTIMATED);
    cr_assert_eq(md_cal_day(c, D("2031-12-27"), &s, NULL), 0);
}

Test(calendar, status_in_break_and_weekend)
{
    md_cal_state st;
    cr_assert_eq(md_cal_status(md_cal_find("XHKG"), T("2024-03-05T04:30:00Z"), &st), 0);
    cr_assert_eq(st.phase, MD_CAL_BREAK);
    cr_assert_eq(st.next_close, T("2024-03-05T08:00:00Z"));
    cr_assert_eq(md_cal_status(md_cal_find("XLON"), T("2024-03-30T12:00:00Z"), &st), 0);
    cr_assert_eq(st.phase, MD_CAL_CLOSED);
    cr_assert_eq(st.next_open, T("2024-04-02T07:00:00Z")); /* Easter Monday closed, BST */
    cr_assert_str_eq(md_cal_phase_name(st.phase), "closed");
}

Test(calendar, japan_substitute_and_citizens_holidays)
{
    const md_cal *c = md_cal_find("XTKS");
    md_cal_session s;
    const char *why;
    /* 2009-05-06: Constitution Day on a Sunday moves past two holidays (2007 rule) */
    cr_assert_eq(md_cal_day(c, D("2009-05-06"), &s, &why), 0);
    /* 2009-09-22: between Respect for the Aged Day and the equinox */
    cr_assert_eq(md_cal_day(c, D("2009-09-22"), &s, &why), 0);
    cr_assert_str_eq(why, "Citizens' holiday");
    /* 1998-05-06: before 2007 only the Monday was a substitute */
    cr_assert_eq(md_cal_day(c, D("1998-05-06"), &s, &why), 1);
}

Test(calendar, default_calendar_from_the_symbol_spelling)
{
    const char *cases[][2] = {{"AAPL", "XNYS"},     {"BRK.B", "XNYS"},    {"BTC-USD", "24/7"},
                              {"ETH/USDT", "24/7"}, {"X:BTCUSD", "24/7"}, {"EURUSD=X", "24/5"},
                              {"EUR/USD", "24/5"},  {"C:EURUSD", "24/5"}, {"VOD.L", "XLON"},
                              {"SAP.DE", "XETR"},   {"MC.PA", "XPAR"},    {"NESN.SW", "XSWX"},
                              {"7203.T", "XTKS"},   {"0700.HK", "XHKG"},  {"^GSPC", "XNYS"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_str_eq(md_cal_mic(md_cal_default_for(cases[i][0])), cases[i][1], "%s",
                         cases[i][0]);
}

Test(calendar, open_near_counts_extended_hours_and_the_margin)
{
    const md_cal *c = md_cal_find("XNYS");
    /* Tuesday 2024-01-09: extended hours 09:00Z-01:00Z (04:00-20:00 New York) */
    cr_assert(md_cal_open_near(c, T("2024-01-09T09:00:00Z"), 0));
    cr_assert_not(md_cal_open_near(c, T("2024-01-09T08:59:59Z"), 0));
    cr_assert(md_cal_open_near(c, T("2024-01-09T08:45:00Z"), 900));
    cr_assert(md_cal_open_near(c, T("2024-01-10T01:14:59Z"), 900));
    cr_assert_not(md_cal_open_near(c, T("2024-01-10T01:15:00Z"), 900));
    cr_assert_not(md_cal_open_near(c, T("2024-01-13T15:00:00Z"), 900)); /* Saturday */
    cr_assert(md_cal_open_near(md_cal_find("24/7"), T("2024-01-13T15:00:00Z"), 0));
}
