/* calendar_int.h - the row vocabulary of the calendar data files (data/<MIC>.def), shared
 * by calendar.c (which evaluates the rows) and registry.c (which compiles them in).
 *
 * A data file is a list of rows, one macro each, in this vocabulary:
 *
 *   CAL_INFO(name, zone, first_year, last_year)   the venue, its IANA zone, and the years
 *                                                 the file is accurate for
 *   CAL_WEEK(days)                                the days of the week with sessions
 *   CAL_HOURS(from, to, open, close)              regular hours for dates from..to
 *   CAL_BREAK(from, to, start, end)               a lunch break, same date range form
 *   CAL_EXT(from, to, pre_open, post_close)       extended hours (pre- and post-market)
 *   CAL_HOLIDAY(name, DATE, obs, days, y0, y1)    a public holiday of years y0..y1
 *   CAL_CLOSE(name, DATE, obs, days, y0, y1)      a closure of the exchange's own (Christmas
 *                                                 Eve in Frankfurt, Jan 2-3 in Tokyo): applied
 *                                                 after the public holidays, so it never
 *                                                 moves a substitute day
 *   CAL_CLOSED(yyyymmdd, name)                    a one-off closure
 *   CAL_EARLY(name, DATE, obs, days, y0, y1, close)  an early close rule
 *   CAL_EARLY_ON(yyyymmdd, close, name)           a one-off early close
 *   CAL_SPECIAL(name, id, y0, y1)                 a rule no row form can say (calendar.c)
 *
 * from/to are dates written yyyymmdd; times are hhmm local (open -700 is 17:00 on the
 * eve of the session date, close 2400 is midnight ending it). DATE is one of
 *   FIXED(month, day)  NTH(month, weekday, n)  (n = -1: the last)  NTH_PLUS(m, wd, n, days)
 *   EASTER(days from Easter Sunday)  TABLE(column of lunar.def, days)  EQUINOX(0 spring, 1 autumn)
 * days is a mask of weekdays (MON|TUE..., WEEKDAYS, ANYDAY) the date must fall on before
 * it is observed; obs says how a date on a weekend (or on another holiday) moves:
 *   OBS_NONE       stays (lost when on a weekend)
 *   OBS_NEAREST    Saturday -> Friday, Sunday -> Monday (US)
 *   OBS_SUN_MON    Sunday -> Monday
 *   OBS_WKND_MON   Saturday or Sunday -> Monday
 *   OBS_SUBST      Saturday or Sunday -> the next weekday that is not a holiday (UK)
 *   OBS_SUN_SUBST  Sunday, or a day already a holiday -> the next day that is not (HK)
 *   OBS_JP_SUBST   Japan's substitute holiday: OBS_SUN_SUBST from 2007, before that only
 *                  the Monday, when it is not a holiday itself
 *   OBS_PREV_FRI   Saturday or Sunday -> the Friday before (early closes) */
#ifndef MD_CALENDAR_INT_H
#define MD_CALENDAR_INT_H

#include "calendar/calendar.h"

#include <pthread.h>
#include <stdint.h>

enum md_cal__op {
    MD_CAL__INFO,
    MD_CAL__WEEK,
    MD_CAL__HOURS,
    MD_CAL__BREAK,
    MD_CAL__EXT,
    MD_CAL__HOLIDAY,
    MD_CAL__CLOSE,
    MD_CAL__EARLY,
    MD_CAL__SPECIAL,
};

enum md_cal__date {
    MD_CAL__D_NONE,
    MD_CAL__D_FIXED,
    MD_CAL__D_NTH,
    MD_CAL__D_EASTER,
    MD_CAL__D_TABLE,
    MD_CAL__D_EQUINOX,
    MD_CAL__D_ONCE
};

enum md_cal__obs {
    OBS_NONE,
    OBS_NEAREST,
    OBS_SUN_MON,
    OBS_WKND_MON,
    OBS_SUBST,
    OBS_SUN_SUBST,
    OBS_JP_SUBST,
    OBS_PREV_FRI
};

/* Rules no row can say (CAL_SPECIAL). */
enum md_cal__special {
    SPECIAL_JP_CITIZENS, /* Japan: a weekday between two national holidays is a holiday */
};

/* lunar.def columns */
enum {
    LUNAR_NEW_YEAR,
    LUNAR_CHING_MING,
    LUNAR_BUDDHA,
    LUNAR_TUEN_NG,
    LUNAR_MID_AUTUMN,
    LUNAR_CHUNG_YEUNG,
    LUNAR_NCOLS
};

typedef struct md_cal__row {
    uint8_t op, date, obs, days;
    int32_t a, b, c, off; /* date parameters (DATE), or from/to dates (HOURS...) */
    int16_t y0, y1;       /* years the rule applies to */
    int16_t t1, t2;       /* hhmm */
    const char *name, *zone;
} md_cal__row;

/* Weekday masks, bit 0 = Monday. */
#define MON 0x01
#define TUE 0x02
#define WED 0x04
#define THU 0x08
#define FRI 0x10
#define SAT 0x20
#define SUN 0x40
#define WEEKDAYS 0x1f
#define ANYDAY 0x7f

/* Weekday numbers for NTH (0 = Monday). */
#define MONDAY 0
#define TUESDAY 1
#define WEDNESDAY 2
#define THURSDAY 3
#define FRIDAY 4

#define FIXED(m, d) MD_CAL__D_FIXED, m, d, 0, 0
#define NTH(m, wd, n) MD_CAL__D_NTH, m, wd, n, 0
#define NTH_PLUS(m, wd, n, days) MD_CAL__D_NTH, m, wd, n, days
#define EASTER(days) MD_CAL__D_EASTER, 0, 0, 0, days
#define TABLE(col, days) MD_CAL__D_TABLE, col, 0, 0, days
#define EQUINOX(which) MD_CAL__D_EQUINOX, which, 0, 0, 0

#define MD_CAL__ROW(op_, date_, a_, b_, c_, off_, obs_, days_, y0_, y1_, t1_, t2_, name_, zone_)   \
    {.op = (op_),                                                                                  \
     .date = (date_),                                                                              \
     .a = (a_),                                                                                    \
     .b = (b_),                                                                                    \
     .c = (c_),                                                                                    \
     .off = (off_),                                                                                \
     .obs = (obs_),                                                                                \
     .days = (days_),                                                                              \
     .y0 = (y0_),                                                                                  \
     .y1 = (y1_),                                                                                  \
     .t1 = (t1_),                                                                                  \
     .t2 = (t2_),                                                                                  \
     .name = (name_),                                                                              \
     .zone = (zone_)},
#define MD_CAL__ROW_(...) MD_CAL__ROW(__VA_ARGS__)

#define CAL_INFO(name, zone, y0, y1)                                                               \
    MD_CAL__ROW(MD_CAL__INFO, 0, 0, 0, 0, 0, 0, 0, y0, y1, 0, 0, name, zone)
#define CAL_WEEK(days) MD_CAL__ROW(MD_CAL__WEEK, 0, 0, 0, 0, 0, 0, days, 0, 0, 0, 0, NULL, NULL)
#define CAL_HOURS(from, to, open, close)                                                           \
    MD_CAL__ROW(MD_CAL__HOURS, 0, from, to, 0, 0, 0, 0, 0, 0, open, close, NULL, NULL)
#define CAL_BREAK(from, to, start, end)                                                            \
    MD_CAL__ROW(MD_CAL__BREAK, 0, from, to, 0, 0, 0, 0, 0, 0, start, end, NULL, NULL)
#define CAL_EXT(from, to, pre, post)                                                               \
    MD_CAL__ROW(MD_CAL__EXT, 0, from, to, 0, 0, 0, 0, 0, 0, pre, post, NULL, NULL)
#define CAL_HOLIDAY(name, date, obs, days, y0, y1)                                                 \
    MD_CAL__ROW_(MD_CAL__HOLIDAY, date, obs, days, y0, y1, 0, 0, name, NULL)
#define CAL_CLOSE(name, date, obs, days, y0, y1)                                                   \
    MD_CAL__ROW_(MD_CAL__CLOSE, date, obs, days, y0, y1, 0, 0, name, NULL)
#define CAL_CLOSED(ymd, name)                                                                      \
    MD_CAL__ROW(MD_CAL__CLOSE, MD_CAL__D_ONCE, ymd, 0, 0, 0, OBS_NONE, ANYDAY, (ymd) / 10000,      \
                (ymd) / 10000, 0, 0, name, NULL)
#define CAL_EARLY(name, date, obs, days, y0, y1, close)                                            \
    MD_CAL__ROW_(MD_CAL__EARLY, date, obs, days, y0, y1, close, 0, name, NULL)
#define CAL_EARLY_ON(ymd, close, name)                                                             \
    MD_CAL__ROW(MD_CAL__EARLY, MD_CAL__D_ONCE, ymd, 0, 0, 0, OBS_NONE, ANYDAY, (ymd) / 10000,      \
                (ymd) / 10000, close, 0, name, NULL)
#define CAL_SPECIAL(name, id, y0, y1)                                                              \
    MD_CAL__ROW(MD_CAL__SPECIAL, 0, id, 0, 0, 0, 0, 0, y0, y1, 0, 0, name, NULL)

/* One calendar: its rows and, built once on first use, its table of days. */
struct md_cal {
    const char *mic;
    const char *aliases; /* "|NYSE|NEW YORK|": upper case, between bars */
    const md_cal__row *rows;
    size_t n_rows;
    int built; /* the table is ready (atomic) */
    /* from the rows */
    const char *name, *zone;
    int first_year, last_year, week;
    /* the table: one entry per day from day0 (Jan 1 of first_year - 1) to the end of
     * last_year + 1, so observances crossing a year end land inside it */
    int64_t day0;
    int ndays;
    uint8_t *flags; /* MD_CAL__F_* */
    int16_t *hhmm;  /* early close (or late open) time of the day */
    uint16_t *why;  /* the row that closed or shortened the day */
};

enum {
    MD_CAL__F_CLOSED = 1,
    MD_CAL__F_PUBLIC = 2, /* a public holiday (counts for substitutes and citizens' days) */
    MD_CAL__F_SUBST = 4,  /* a substitute holiday (not a neighbour for citizens' days) */
    MD_CAL__F_EARLY = 8,
    MD_CAL__F_WEEKEND = 16,
};

/* The lunisolar festival dates of lunar.def for year y: out[LUNAR_*] as days since the
 * epoch. 0 when the year is not in the table. */
int md_cal__lunar(int y, int64_t out[LUNAR_NCOLS]);

/* The calendar table of registry.c. */
extern md_cal md_cal__all[];
extern const size_t md_cal__n;

#endif
