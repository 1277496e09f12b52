/* calendar.c - the bars a series should have (see calendar.h).
 *
 * Learned: counting works on buckets of the UTC day: prefix[w][s] is the number of
 * expected buckets of weekday w before bucket s, so a count over any span is a few lookups
 * per day, and a full week is one addition.
 * Exchange: counting walks the sessions of the span (md_cal_day), each a range of bucket
 * indices; the few days a scan asks about again and again sit in a small cache. */
#include "quality/calendar.h"

#include "core/mem.h"
#include "core/timefmt.h"
#include "core/tz.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DAY 86400

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int md_calendar_weekday(int64_t day)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0) */
    int64_t w = (day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return -floor_div(-a, b);
}

/* -- exchange calendars ------------------------------------------------------------------ */

#define XCACHE 16 /* days remembered (direct-mapped by day) */

typedef struct md_calendar__xday {
    int64_t day;
    int open; /* md_cal_day's answer: 1 session, else closed */
    md_cal_session s;
} xday;

/* md_cal_day through the cache (an md_calendar is one caller's alone, so a const one may
 * still fill its cache). */
static int xsession(const md_calendar *c, int64_t day, md_cal_session *s)
{
    xday *e = &c->xdays[(uint64_t)day % XCACHE];
    if (e->day != day) {
        e->day = day;
        e->open = md_cal_day(c->x, day, &e->s, NULL) == 1;
    }
    if (e->open) *s = e->s;
    return e->open;
}

/* Expected bucket starts in [t0, t1) of an exchange calendar. */
static int64_t xcount(const md_calendar *c, int64_t t0, int64_t t1)
{
    if (t1 <= t0) return 0;
    if (c->slots == 1) return md_cal_count_sessions(c->x, ceil_div(t0, DAY), ceil_div(t1, DAY));
    /* bucket i starts at i * step: those with t0 <= start < t1 overlapping a session */
    int64_t lo = ceil_div(t0, c->step), hi = ceil_div(t1, c->step), last = lo - 1, k = 0;
    for (int64_t d = floor_div(t0, DAY) - 1; d <= floor_div(t1 - 1, DAY) + 2; d++) {
        md_cal_session s;
        if (!xsession(c, d, &s)) continue;
        int64_t part[2][2] = {{s.open, s.close}, {0, 0}};
        if (s.break_start && s.break_end > s.break_start) {
            part[0][1] = s.break_start;
            part[1][0] = s.break_end;
            part[1][1] = s.close;
        }
        for (int j = 0; j < 2; j++) {
            if (part[j][1] <= part[j][0]) continue;
            int64_t i0 = floor_div(part[j][0], c->step), i1 = ceil_div(part[j][1], c->step);
            if (i0 <= last) i0 = last + 1; /* a bucket across a break or two sessions: once */
            if (i0 < lo) i0 = lo;
            if (i1 > hi) i1 = hi;
            if (i1 > i0) {
                k += i1 - i0;
                last = i1 - 1;
            }
        }
    }
    return k;
}

int md_calendar_off_session(const md_calendar *c, int64_t ts, char *why, size_t n)
{
    if (!c->x || c->slots == 0) return 0;
    md_cal_session s;
    const char *reason = NULL;
    char when[MD_TIME_STR_MAX];
    int64_t d = floor_div(ts, DAY);
    if (c->slots == 1) {
        if (md_cal_day(c->x, d, &s, &reason) == 1) return 0;
        md_date_format(ts, when);
        snprintf(why, n, "a bar on %s: %s is closed (%s)", when, md_cal_mic(c->x),
                 reason ? reason : "no session");
        return 1;
    }
    for (int64_t k = d - 1; k <= d + 2; k++)
        if (xsession(c, k, &s) && ts < s.ext_close && ts + c->step > s.ext_open) return 0;
    md_time_format(ts, when);
    /* the reason is the exchange's day, not the UTC one: 00:00Z on a Saturday is Friday
     * 19:00 in New York, after its post-market, not "closed (weekend)" */
    int32_t off = 0;
    md_tz_offset(md_cal_zone(c->x), ts, &off);
    d = floor_div(ts + off, DAY);
    if (md_cal_day(c->x, d, &s, &reason) == 0)
        snprintf(why, n, "a bar at %s: %s is closed that day (%s)", when, md_cal_mic(c->x),
                 reason ? reason : "no session");
    else
        snprintf(why, n, "a bar at %s, outside %s's trading hours (extended hours included)", when,
                 md_cal_mic(c->x));
    return 1;
}

/* -- learned calendars -------------------------------------------------------------------- */

static int expected_slot(const md_calendar *c, int w, int s)
{
    if (!c->day_on[w] || s < c->lo[w] || s > c->hi[w]) return 0;
    /* a time of day never seen on a weekday seen often is a break, not a hole */
    if (c->days_seen[w] >= 3 && c->seen[w * c->slots + s] == 0) return 0;
    return 1;
}

/* Weekdays seen on fewer than 2 days: is the day open (all day) for timeliness? */
static int young_open(const md_calendar *c, int w)
{
    if (c->days_seen[w] == 1) return c->day_on[w];
    if (c->occurrences[w] >= 2) return 0; /* never seen in two chances: not a trading day */
    return w < 5;                         /* no evidence: Monday-Friday trade */
}

static void build_prefix(md_calendar *c)
{
    int S = c->slots;
    c->prefix = md_calloc((size_t)7 * (size_t)(S + 1), sizeof *c->prefix);
    c->prefix_open = md_calloc((size_t)7 * (size_t)(S + 1), sizeof *c->prefix_open);
    c->week_sum = c->week_sum_open = 0;
    /* a young weekday's session: the span of every session seen, once there are two days
     * of them; before that the whole day */
    int glo = S, ghi = -1, days = 0;
    for (int w = 0; w < 7; w++) {
        days += c->days_seen[w];
        if (c->lo[w] < glo) glo = c->lo[w];
        if (c->hi[w] > ghi) ghi = c->hi[w];
    }
    if (days < 2) glo = 0, ghi = S - 1;
    for (int w = 0; w < 7; w++) {
        int32_t *p = c->prefix + w * (S + 1), *po = c->prefix_open + w * (S + 1);
        int young = c->days_seen[w] < 2, open = young && young_open(c, w);
        for (int s = 0; s < S; s++) {
            int e = expected_slot(c, w, s);
            p[s + 1] = p[s] + e;
            po[s + 1] = po[s] + (young ? (open && s >= glo && s <= ghi) : e);
        }
        c->week_sum += p[S];
        c->week_sum_open += po[S];
    }
}

void md_calendar_learn(md_calendar *c, md_interval iv, const md_bar *bars, size_t n)
{
    memset(c, 0, sizeof *c);
    c->iv = iv;
    if (iv == MD_IV_1W || iv == MD_IV_1MO) return; /* every bucket is expected */
    c->step = md_interval_seconds(iv);
    c->slots = (int)(DAY / c->step);
    c->seen = md_calloc((size_t)7 * (size_t)c->slots, 1);
    for (int w = 0; w < 7; w++) c->lo[w] = c->slots, c->hi[w] = -1;
    if (n == 0) {
        /* nothing learned: Monday-Friday, all day */
        for (int w = 0; w < 5; w++) c->day_on[w] = 1, c->lo[w] = 0, c->hi[w] = c->slots - 1;
        build_prefix(c);
        return;
    }
    c->first_day = floor_div(bars[0].ts, DAY);
    c->last_day = floor_div(bars[n - 1].ts, DAY);
    int64_t prev_day = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = floor_div(bars[i].ts, DAY);
        int w = md_calendar_weekday(d);
        int s = (int)((bars[i].ts - d * DAY) / c->step);
        if (i == 0 || d != prev_day) c->days_seen[w]++;
        prev_day = d;
        uint8_t *x = &c->seen[w * c->slots + s];
        if (*x < 255) (*x)++;
        if (s < c->lo[w]) c->lo[w] = s;
        if (s > c->hi[w]) c->hi[w] = s;
    }
    int64_t total = c->last_day - c->first_day + 1;
    int w0 = md_calendar_weekday(c->first_day);
    for (int k = 0; k < 7; k++) {
        int w = (w0 + k) % 7;
        c->occurrences[w] = (int)(total / 7 + (k < total % 7 ? 1 : 0));
    }
    /* relative to the busiest weekday, so a sparse series (many days missing) keeps its
     * trading days and shows its holes as gaps instead of learning them as closures */
    int busiest = 0;
    for (int w = 0; w < 7; w++)
        if (c->days_seen[w] > busiest) busiest = c->days_seen[w];
    for (int w = 0; w < 7; w++)
        c->day_on[w] = c->days_seen[w] >= 1 && 2 * c->days_seen[w] >= busiest;
    build_prefix(c);
}

void md_calendar_init(md_calendar *c, md_interval iv, const md_cal *x, const md_bar *bars, size_t n)
{
    if (!x) {
        md_calendar_learn(c, iv, bars, n);
        return;
    }
    memset(c, 0, sizeof *c);
    c->iv = iv;
    c->x = x;
    if (n) {
        c->first_day = floor_div(bars[0].ts, DAY);
        c->last_day = floor_div(bars[n - 1].ts, DAY);
    }
    if (iv == MD_IV_1W || iv == MD_IV_1MO) return; /* every bucket is expected */
    c->step = md_interval_seconds(iv);
    c->slots = (int)(DAY / c->step);
    c->xdays = md_calloc(XCACHE, sizeof *c->xdays);
    for (int i = 0; i < XCACHE; i++) c->xdays[i].day = INT64_MIN;
}

void md_calendar_deinit(md_calendar *c)
{
    md_free(c->seen);
    md_free(c->prefix);
    md_free(c->prefix_open);
    md_free(c->xdays);
    memset(c, 0, sizeof *c);
}

int64_t md_calendar_next(const md_calendar *c, int64_t ts)
{
    return c->slots ? ts + c->step : md_interval_next(c->iv, ts);
}

int64_t md_calendar_count(const md_calendar *c, int64_t t0, int64_t t1, int open_session)
{
    if (t1 <= t0) return 0;
    if (c->x && c->slots) return xcount(c, t0, t1);
    if (c->slots == 0) {
        int64_t s = md_interval_floor(c->iv, t0);
        if (s < t0) s = md_interval_next(c->iv, s);
        if (s >= t1) return 0;
        if (c->iv == MD_IV_1W) return (t1 - 1 - s) / (7 * DAY) + 1;
        int64_t k = 0;
        for (; s < t1; s = md_interval_next(c->iv, s)) k++;
        return k;
    }
    const int S = c->slots;
    const int32_t *pre = open_session ? c->prefix_open : c->prefix;
    int64_t week = open_session ? c->week_sum_open : c->week_sum;
    int64_t s0 = floor_div(t0 + c->step - 1, c->step) * c->step;
    if (s0 >= t1) return 0;
    int64_t d0 = floor_div(s0, DAY), d1 = floor_div(t1 - 1, DAY);
    int from = (int)((s0 - d0 * DAY) / c->step);
    int to = (int)((t1 - d1 * DAY + c->step - 1) / c->step);
    int w0 = md_calendar_weekday(d0), w1 = md_calendar_weekday(d1);
    const int32_t *p0 = pre + w0 * (S + 1), *p1 = pre + w1 * (S + 1);
    if (d0 == d1) return p0[to] - p0[from];
    int64_t k = (p0[S] - p0[from]) + p1[to];
    int64_t mid = d1 - d0 - 1;
    k += (mid / 7) * week;
    for (int64_t d = d0 + 1 + (mid / 7) * 7; d < d1; d++)
        k += pre[md_calendar_weekday(d) * (S + 1) + S];
    return k;
}

int64_t md_calendar_missing(const md_calendar *c, int64_t a, int64_t b, int gap_min)
{
    if (b <= a) return 0;
    int64_t raw = md_calendar_count(c, md_calendar_next(c, a), b, 0);
    if (c->slots == 0) return raw;
    if (c->x) return raw >= (c->slots == 1 ? 1 : gap_min) ? raw : 0;
    if (c->slots > 1) {
        int64_t da = floor_div(a, DAY), db = floor_div(b, DAY);
        if (db - da >= 2) {
            /* whole trading days without a bar: fewer than gap_min of them is a holiday */
            int64_t days = 0;
            for (int64_t d = da + 1; d < db && days < gap_min; d++) {
                int w = md_calendar_weekday(d);
                if (c->prefix[w * (c->slots + 1) + c->slots] > 0) days++;
            }
            if (days > 0 && days < gap_min)
                raw -= md_calendar_count(c, (da + 1) * DAY, db * DAY, 0);
        }
    }
    return raw >= gap_min ? raw : 0;
}
