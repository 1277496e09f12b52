/* calendar.h - the bars a series should have: from its exchange calendar (calendar/), or,
 * for a caller that knows no market, learned from the series' own timestamps (no I/O).
 *
 * With an exchange calendar (md_calendar_init with x != NULL), which is what /quality,
 * /validate and /historical's hole finder use (every symbol has one, calendar/symbols.c):
 *
 *   - 1d: one bar per session, stamped 00:00 UTC of the session date. Holidays, one-off
 *     closures and weekends are not expected, so a missing session is a gap of its own.
 *   - intraday: a bucket is expected when it overlaps the regular session of a session
 *     (a lunch break excluded); pre/post-market buckets are allowed but not expected
 *     (providers differ on whether they deliver them).
 *   - a bar is off-session (md_calendar_off_session) when its date has no session (1d) or
 *     its bucket overlaps no session's extended hours (intraday).
 *   - 1w and 1mo: every bucket is expected.
 *
 * Learned (x == NULL: the writer, which judges a batch without knowing the symbol's
 * market, and tests):
 *
 *   - trading weekdays: a weekday (UTC) is a trading day when the series has bars on at
 *     least half as many days of it as of its busiest weekday. A stock's daily series (no
 *     weekend rows) trades Monday-Friday; a crypto or simulated series with weekend rows
 *     trades every day; a stray Saturday bar does not make Saturdays expected; and a
 *     series missing most of its days keeps its trading days, so the holes count as gaps.
 *   - intraday sessions: on a trading weekday the session runs from the earliest to the
 *     latest time of day seen on that weekday; once a weekday has been seen on 3 days or
 *     more, times of day never seen inside that span (a daily maintenance break) are not
 *     expected either.
 *   - 1w and 1mo: every bucket is expected.
 *
 * Buckets are UTC (API.md). */
#ifndef MD_QUALITY_CALENDAR_H
#define MD_QUALITY_CALENDAR_H

#include "calendar/calendar.h"
#include "core/bar.h"
#include "core/interval.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_calendar {
    md_interval iv;
    int slots;    /* buckets per UTC day: 1 for 1d, 1440/288/... intraday, 0 for 1w/1mo */
    int64_t step; /* seconds per bucket (1d and intraday) */
    int64_t first_day, last_day; /* days since the epoch of the first and last bar */
    int days_seen[7];            /* distinct days with bars, per weekday (0 = Monday) */
    int occurrences[7];          /* days of each weekday in [first_day, last_day] */
    int day_on[7];               /* the weekday is a trading day */
    int lo[7], hi[7];            /* session [lo, hi] in buckets of the day; lo > hi when unknown */
    uint8_t *seen;               /* [7][slots]: days on which the bucket had a bar (saturating) */
    int32_t *prefix;             /* [7][slots + 1]: expected buckets before each bucket */
    int32_t *prefix_open;        /* same, with young weekdays open all day (timeliness) */
    int64_t week_sum, week_sum_open; /* expected buckets in one full week */
    const md_cal *x;                 /* the exchange calendar, NULL when learned */
    struct md_calendar__xday *xdays; /* exchange: the sessions of recently asked days */
} md_calendar;

/* Learns the calendar of interval iv from bars sorted by ts (n may be 0: then every
 * weekday and every bucket of the day is expected). Free with md_calendar_deinit. */
void md_calendar_learn(md_calendar *c, md_interval iv, const md_bar *bars, size_t n);
void md_calendar_deinit(md_calendar *c);

/* The calendar of interval iv: the exchange calendar x, or learned from bars (as
 * md_calendar_learn) when x is NULL. Free with md_calendar_deinit. */
void md_calendar_init(md_calendar *c, md_interval iv, const md_cal *x, const md_bar *bars,
                      size_t n);

/* 1 when a bar starting at ts lies where its exchange does not trade at all: a date without
 * a session (1d), or a bucket overlapping no session's extended hours (intraday); why (n
 * bytes) then says which ("2001-09-15 is a weekend day: XNYS is closed"). Always 0 for a
 * learned calendar, 1w and 1mo. */
int md_calendar_off_session(const md_calendar *c, int64_t ts, char *why, size_t n);

/* 0 = Monday .. 6 = Sunday for a day number (days since 1970-01-01, a Thursday). */
int md_calendar_weekday(int64_t day);

/* Expected bucket starts s with t0 <= s < t1. With open_session (timeliness), a weekday
 * seen on fewer than 2 days is not trusted to show where its session ends: it trades
 * (unless it never had a bar in two chances; with no evidence, Monday-Friday do) during
 * the span of all sessions seen, or all day while fewer than 2 days were seen at all. */
int64_t md_calendar_count(const md_calendar *c, int64_t t0, int64_t t1, int open_session);

/* The start of the bucket after the one starting at ts. */
int64_t md_calendar_next(const md_calendar *c, int64_t ts);

/* Missing bars that make a gap between two consecutive bars starting at a < b: the
 * expected buckets strictly between them, or 0 when they are fewer than gap_min (a minute
 * without trades intraday; learned daily: a holiday). With an exchange calendar a daily
 * series' missing session is always a gap (holidays are not expected in the first place).
 * Learned intraday series: a run of whole trading days without bars shorter than gap_min
 * days is a holiday and does not count. 1w and 1mo count every missing bucket. */
int64_t md_calendar_missing(const md_calendar *c, int64_t a, int64_t b, int gap_min);

#endif
