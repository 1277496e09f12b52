/* calendar.c - evaluates the calendar rows (calendar_int.h) into a table of days and
 * answers sessions from it (calendar.h).
 *
 * Building a calendar's table (once, on first use) goes year by year, in passes whose
 * order is what makes substitute holidays right:
 *   1. public holidays (CAL_HOLIDAY) whose date needs no moving are marked;
 *   2. the ones that must move (a weekend, a collision) move, in row order, to the next
 *      free day - so the UK's Christmas-on-Saturday lands on Monday and Boxing Day on
 *      Tuesday, and Hong Kong's Ching Ming on Easter Monday moves to the Tuesday;
 *   3. special rules (Japan's citizens' holidays, which need every national holiday);
 *   4. the exchange's own closures (CAL_CLOSE, CAL_CLOSED), which never move a substitute;
 *   5. early closes, on days that are still sessions.
 * A session's times are then the hours of its era (CAL_HOURS...), local to the zone,
 * turned into UTC through core/tz.c when asked for. */
#include "calendar/calendar_int.h"

#include "core/error.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/tz.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define DAY 86400

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday). */
static int weekday(int64_t day)
{
    int64_t w = (day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int64_t ymd_day(int32_t ymd)
{
    return md_days_from_civil(ymd / 10000, (unsigned)(ymd / 100 % 100), (unsigned)(ymd % 100));
}

static int32_t day_ymd(int64_t day)
{
    int64_t y;
    unsigned m, d;
    md_civil_from_days(day, &y, &m, &d);
    return (int32_t)(y * 10000 + m * 100 + d);
}

/* hhmm (possibly negative: the eve) -> minutes from the session date's midnight. */
static int hhmm_min(int hhmm)
{
    int sign = hhmm < 0 ? -1 : 1, v = hhmm * sign;
    return sign * (v / 100 * 60 + v % 100);
}

/* -- dates of rules ------------------------------------------------------------------------ */

/* Easter Sunday (Gregorian, the anonymous algorithm of Meeus, Astronomical Algorithms). */
static int64_t easter(int y)
{
    int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25,
        g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4,
        l = (32 + 2 * e + 2 * i - h - k) % 7, m = (a + 11 * h + 22 * l) / 451,
        month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
    return md_days_from_civil(y, (unsigned)month, (unsigned)day);
}

/* Japan's equinox days, by the approximation the National Astronomical Observatory of
 * Japan publishes for 1980-2099 (its almanac gives the official dates each February; the
 * tests compare every year with @holiday-jp/holiday_jp, which lists the gazetted ones). */
static int64_t equinox(int y, int autumn)
{
    double base = autumn ? 23.2488 : 20.8431;
    int d = (int)(base + 0.242194 * (y - 1980)) - (int)floor_div(y - 1980, 4);
    return md_days_from_civil(y, autumn ? 9 : 3, (unsigned)d);
}

/* The date a rule names in year y, before observance; -1 when it names none. */
static int64_t rule_date(const md_cal__row *r, int y)
{
    switch (r->date) {
    case MD_CAL__D_FIXED:
        if (r->b > md_days_in_month(y, (unsigned)r->a)) return -1;
        return md_days_from_civil(y, (unsigned)r->a, (unsigned)r->b) + r->off;
    case MD_CAL__D_NTH: {
        if (r->c > 0) {
            int64_t first = md_days_from_civil(y, (unsigned)r->a, 1);
            return first + (r->b - weekday(first) + 7) % 7 + 7 * (r->c - 1) + r->off;
        }
        int64_t last =
            md_days_from_civil(y, (unsigned)r->a, (unsigned)md_days_in_month(y, (unsigned)r->a));
        return last - (weekday(last) - r->b + 7) % 7 - 7 * (-r->c - 1) + r->off;
    }
    case MD_CAL__D_EASTER: return easter(y) + r->off;
    case MD_CAL__D_TABLE: {
        int64_t t[LUNAR_NCOLS];
        if (!md_cal__lunar(y, t) || !t[r->a]) return -1;
        return t[r->a] + r->off;
    }
    case MD_CAL__D_EQUINOX: return equinox(y, r->a);
    case MD_CAL__D_ONCE: return r->a / 10000 == y ? ymd_day(r->a) : -1;
    default: return -1;
    }
}

/* -- the table ----------------------------------------------------------------------------- */

static int in_table(const md_cal *c, int64_t d)
{
    return d >= c->day0 && d < c->day0 + c->ndays;
}

static int is_flag(const md_cal *c, int64_t d, int f)
{
    return in_table(c, d) && (c->flags[d - c->day0] & f);
}

static void mark(md_cal *c, int64_t d, int f, size_t row)
{
    if (!in_table(c, d)) return;
    uint8_t *p = &c->flags[d - c->day0];
    if (!(*p & MD_CAL__F_CLOSED)) c->why[d - c->day0] = (uint16_t)row; /* the first reason */
    *p |= (uint8_t)f;
}

static int trading_weekday(const md_cal *c, int64_t d)
{
    return (c->week >> weekday(d)) & 1;
}

/* Whether observance obs moves date d later (to be resolved in pass 2). */
static int deferred(const md_cal *c, int obs, int64_t d, int y)
{
    int w = weekday(d);
    switch (obs) {
    case OBS_SUBST: return !trading_weekday(c, d) || is_flag(c, d, MD_CAL__F_PUBLIC);
    case OBS_SUN_SUBST: return w == 6 || is_flag(c, d, MD_CAL__F_PUBLIC);
    case OBS_JP_SUBST: return w == 6;
    default: (void)y; return 0;
    }
}

/* A date moved by a fixed observance; -1 when the rule drops it. */
static int64_t observe_fixed(int obs, int64_t d)
{
    int w = weekday(d);
    switch (obs) {
    case OBS_NEAREST: return w == 5 ? d - 1 : w == 6 ? d + 1 : d;
    case OBS_SUN_MON: return w == 6 ? d + 1 : d;
    case OBS_WKND_MON: return w == 5 ? d + 2 : w == 6 ? d + 1 : d;
    case OBS_PREV_FRI: return w == 5 ? d - 1 : w == 6 ? d - 2 : d;
    default: return d;
    }
}

/* Pass 2: where a deferred date lands. */
static int64_t observe_moved(const md_cal *c, int obs, int64_t d, int y)
{
    switch (obs) {
    case OBS_SUBST:
        do d++;
        while (!trading_weekday(c, d) || is_flag(c, d, MD_CAL__F_PUBLIC));
        return d;
    case OBS_JP_SUBST:
        /* Act on National Holidays art. 3(2): before the 2005 amendment (in force 2007)
         * only the Monday after a Sunday holiday, when it is not a holiday itself */
        if (y < 2007) return is_flag(c, d + 1, MD_CAL__F_PUBLIC) ? -1 : d + 1;
        /* fall through */
    case OBS_SUN_SUBST:
        do d++;
        while (is_flag(c, d, MD_CAL__F_PUBLIC));
        return d;
    default: return d;
    }
}

static int applies(const md_cal__row *r, int y, int64_t d)
{
    return y >= r->y0 && y <= r->y1 && d >= 0 && ((r->days >> weekday(d)) & 1);
}

/* Japan: a day between two national holidays (not a substitute) is a holiday (Act on
 * National Holidays art. 3(3), since 1985-12-27). */
static void special_jp_citizens(md_cal *c, int y, size_t row)
{
    int64_t d0 = md_days_from_civil(y, 1, 1), d1 = md_days_from_civil(y + 1, 1, 1);
    for (int64_t d = d0; d < d1; d++) {
        if (weekday(d) == 6 || is_flag(c, d, MD_CAL__F_PUBLIC)) continue;
        int before = is_flag(c, d - 1, MD_CAL__F_PUBLIC) && !is_flag(c, d - 1, MD_CAL__F_SUBST);
        int after = is_flag(c, d + 1, MD_CAL__F_PUBLIC) && !is_flag(c, d + 1, MD_CAL__F_SUBST);
        if (before && after) mark(c, d, MD_CAL__F_CLOSED | MD_CAL__F_PUBLIC, row);
    }
}

static void build_year(md_cal *c, int y)
{
    size_t n = c->n_rows;
    int64_t *later = md_calloc(n, sizeof *later);
    for (size_t i = 0; i < n; i++) later[i] = -1;
    /* 1-2: public holidays */
    for (size_t i = 0; i < n; i++) {
        const md_cal__row *r = &c->rows[i];
        if (r->op != MD_CAL__HOLIDAY) continue;
        int64_t d = rule_date(r, y);
        if (!applies(r, y, d)) continue;
        if (deferred(c, r->obs, d, y)) {
            later[i] = d;
            mark(c, d, MD_CAL__F_PUBLIC, i); /* the day itself is still a holiday */
            continue;
        }
        mark(c, observe_fixed(r->obs, d), MD_CAL__F_CLOSED | MD_CAL__F_PUBLIC, i);
    }
    for (size_t i = 0; i < n; i++) {
        if (later[i] < 0) continue;
        int64_t d = observe_moved(c, c->rows[i].obs, later[i], y);
        if (d >= 0) mark(c, d, MD_CAL__F_CLOSED | MD_CAL__F_PUBLIC | MD_CAL__F_SUBST, i);
    }
    /* 3: special rules */
    for (size_t i = 0; i < n; i++) {
        const md_cal__row *r = &c->rows[i];
        if (r->op != MD_CAL__SPECIAL || y < r->y0 || y > r->y1) continue;
        if (r->a == SPECIAL_JP_CITIZENS) special_jp_citizens(c, y, i);
    }
    /* 4: the exchange's closures */
    for (size_t i = 0; i < n; i++) {
        const md_cal__row *r = &c->rows[i];
        if (r->op != MD_CAL__CLOSE) continue;
        int64_t d = rule_date(r, y);
        if (!applies(r, y, d)) continue;
        d = deferred(c, r->obs, d, y) ? observe_moved(c, r->obs, d, y) : observe_fixed(r->obs, d);
        if (d >= 0) mark(c, d, MD_CAL__F_CLOSED, i);
    }
    /* 5: early closes (the first rule that names a day wins) */
    for (size_t i = 0; i < n; i++) {
        const md_cal__row *r = &c->rows[i];
        if (r->op != MD_CAL__EARLY) continue;
        int64_t d = rule_date(r, y);
        if (!applies(r, y, d)) continue;
        d = observe_fixed(r->obs, d);
        if (!in_table(c, d) || (c->flags[d - c->day0] & (MD_CAL__F_CLOSED | MD_CAL__F_EARLY)))
            continue;
        mark(c, d, MD_CAL__F_EARLY, i);
        c->hhmm[d - c->day0] = r->t1;
    }
    md_free(later);
}

static void build(md_cal *c)
{
    c->week = ANYDAY;
    for (size_t i = 0; i < c->n_rows; i++) {
        const md_cal__row *r = &c->rows[i];
        if (r->op == MD_CAL__INFO) {
            c->name = r->name;
            c->zone = r->zone;
            c->first_year = r->y0;
            c->last_year = r->y1;
        } else if (r->op == MD_CAL__WEEK) {
            c->week = r->days;
        }
    }
    c->day0 = md_days_from_civil(c->first_year - 1, 1, 1);
    c->ndays = (int)(md_days_from_civil(c->last_year + 2, 1, 1) - c->day0);
    c->flags = md_calloc((size_t)c->ndays, 1);
    c->hhmm = md_calloc((size_t)c->ndays, sizeof *c->hhmm);
    c->why = md_calloc((size_t)c->ndays, sizeof *c->why);
    for (int i = 0; i < c->ndays; i++)
        if (!trading_weekday(c, c->day0 + i)) c->flags[i] = MD_CAL__F_CLOSED | MD_CAL__F_WEEKEND;
    for (int y = c->first_year - 1; y <= c->last_year + 1; y++) build_year(c, y);
}

/* The table is built by the first caller of any function (workers race to it); it is
 * never freed (static data, like the rows). */
static md_cal *ready(const md_cal *cc)
{
    md_cal *c = (md_cal *)cc;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    if (__atomic_load_n(&c->built, __ATOMIC_ACQUIRE)) return c;
    pthread_mutex_lock(&lock);
    if (!c->built) {
        build(c);
        __atomic_store_n(&c->built, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    return c;
}

/* -- the calendars ------------------------------------------------------------------------- */

size_t md_cal_count(void)
{
    return md_cal__n;
}

const md_cal *md_cal_at(size_t i)
{
    return i < md_cal__n ? ready(&md_cal__all[i]) : NULL;
}

const md_cal *md_cal_find(const char *name)
{
    if (!name || !*name || strlen(name) > 40) return NULL;
    char key[48];
    size_t k = 0;
    key[k++] = '|';
    for (const char *p = name; *p; p++) key[k++] = (char)toupper((unsigned char)*p);
    key[k++] = '|';
    key[k] = 0;
    for (size_t i = 0; i < md_cal__n; i++) {
        const md_cal *c = &md_cal__all[i];
        if (strcasecmp(name, c->mic) == 0 || (c->aliases && strstr(c->aliases, key)))
            return ready(c);
    }
    return NULL;
}

const char *md_cal_mic(const md_cal *c)
{
    return c->mic;
}

const char *md_cal_name(const md_cal *c)
{
    return ready(c)->name;
}

const char *md_cal_zone(const md_cal *c)
{
    return ready(c)->zone;
}

void md_cal_range(const md_cal *cc, int64_t *first_day, int64_t *last_day)
{
    const md_cal *c = ready(cc);
    *first_day = md_days_from_civil(c->first_year, 1, 1);
    *last_day = md_days_from_civil(c->last_year, 12, 31);
}

const char *md_cal_phase_name(md_cal_phase p)
{
    static const char *names[] = {"closed", "pre", "open", "break", "post"};
    return (unsigned)p < MD_ARRAY_LEN(names) ? names[p] : "closed";
}

/* -- sessions ------------------------------------------------------------------------------ */

/* The row of kind op whose date range holds ymd (the last one wins), or NULL. */
static const md_cal__row *era(const md_cal *c, int op, int32_t ymd)
{
    const md_cal__row *found = NULL;
    for (size_t i = 0; i < c->n_rows; i++) {
        const md_cal__row *r = &c->rows[i];
        if (r->op == op && ymd >= r->a && ymd <= r->b) found = r;
    }
    return found;
}

static int local_utc(const md_cal *c, int64_t day, int minutes, int64_t *out)
{
    return md_tz_local_to_utc(c->zone, day * DAY + (int64_t)minutes * 60, out);
}

int md_cal_day(const md_cal *cc, int64_t day, md_cal_session *s, const char **why)
{
    const md_cal *c = ready(cc);
    int flags = 0, f;
    int64_t first = md_days_from_civil(c->first_year, 1, 1),
            last = md_days_from_civil(c->last_year, 12, 31);
    if (day < first || day > last) {
        flags = MD_CAL_ESTIMATED;
        f = trading_weekday(c, day) ? 0 : MD_CAL__F_CLOSED | MD_CAL__F_WEEKEND;
    } else {
        f = c->flags[day - c->day0];
    }
    if (f & MD_CAL__F_CLOSED) {
        if (why)
            *why =
                (f & MD_CAL__F_WEEKEND) || flags ? "weekend" : c->rows[c->why[day - c->day0]].name;
        return 0;
    }
    /* outside the range, the hours of the nearest era */
    int32_t ymd = day_ymd(day), lo = c->first_year * 10000 + 101, hi = c->last_year * 10000 + 1231;
    ymd = ymd < lo ? lo : ymd > hi ? hi : ymd;
    const md_cal__row *h = era(c, MD_CAL__HOURS, ymd), *b = era(c, MD_CAL__BREAK, ymd),
                      *x = era(c, MD_CAL__EXT, ymd);
    if (!h) return 0; /* no hours for this era: the data says the venue did not trade */
    int open = hhmm_min(h->t1), close = hhmm_min(h->t2), reg_close = close;
    if (f & MD_CAL__F_EARLY) {
        close = hhmm_min(c->hhmm[day - c->day0]);
        flags |= MD_CAL_EARLY_CLOSE;
    }
    md_cal_session out = {.day = day, .flags = flags};
    if (local_utc(c, day, open, &out.open) != 0 || local_utc(c, day, close, &out.close) != 0)
        return MD_ENOTFOUND;
    if (b && hhmm_min(b->t1) < close) {
        local_utc(c, day, hhmm_min(b->t1), &out.break_start);
        local_utc(c, day, hhmm_min(b->t2), &out.break_end);
        if (out.break_end > out.close) out.break_end = out.close;
    }
    out.ext_open = out.open;
    out.ext_close = out.close;
    if (x) {
        local_utc(c, day, hhmm_min(x->t1), &out.ext_open);
        /* post-market runs as long after an early close as after a regular one */
        local_utc(c, day, close + hhmm_min(x->t2) - reg_close, &out.ext_close);
    }
    *s = out;
    return 1;
}

/* The local date of ts in the calendar's zone. */
static int64_t local_day(const md_cal *c, int64_t ts)
{
    int32_t off = 0;
    md_tz_offset(c->zone, ts, &off);
    return floor_div(ts + off, DAY);
}

int md_cal_session_at(const md_cal *cc, int64_t ts, int extended, md_cal_session *s)
{
    const md_cal *c = ready(cc);
    int64_t ld = local_day(c, ts);
    for (int64_t d = ld - 1; d <= ld + 1; d++) {
        md_cal_session x;
        if (md_cal_day(c, d, &x, NULL) != 1) continue;
        int64_t a = extended ? x.ext_open : x.open, b = extended ? x.ext_close : x.close;
        if (ts >= a && ts < b) {
            *s = x;
            return 1;
        }
    }
    return 0;
}

int md_cal_next(const md_cal *cc, int64_t ts, md_cal_session *s)
{
    const md_cal *c = ready(cc);
    int64_t ld = local_day(c, ts);
    for (int64_t d = ld - 1; d <= ld + 366; d++) {
        md_cal_session x;
        if (md_cal_day(c, d, &x, NULL) == 1 && x.close > ts) {
            *s = x;
            return 1;
        }
    }
    return 0;
}

int md_cal_prev(const md_cal *cc, int64_t ts, md_cal_session *s)
{
    const md_cal *c = ready(cc);
    int64_t ld = local_day(c, ts);
    for (int64_t d = ld + 1; d >= ld - 366; d--) {
        md_cal_session x;
        if (md_cal_day(c, d, &x, NULL) == 1 && x.open <= ts) {
            *s = x;
            return 1;
        }
    }
    return 0;
}

int md_cal_status(const md_cal *cc, int64_t now, md_cal_state *st)
{
    const md_cal *c = ready(cc);
    md_cal_state out = {0};
    md_cal_session s, nx;
    if (md_tz_offset(c->zone, now, &(int32_t){0}) != 0) return MD_ENOTFOUND;
    if (md_cal_session_at(c, now, 1, &s)) {
        out.session = s;
        out.has_session = 1;
        if (now < s.open)
            out.phase = MD_CAL_PRE;
        else if (now >= s.close)
            out.phase = MD_CAL_POST;
        else if (s.break_start && now >= s.break_start && now < s.break_end)
            out.phase = MD_CAL_BREAK;
        else
            out.phase = MD_CAL_OPEN;
        if (out.phase == MD_CAL_PRE) {
            out.next_open = s.open;
            out.next_close = s.close;
        } else {
            if (out.phase != MD_CAL_POST) out.next_close = s.close;
            if (md_cal_next(c, s.close, &nx)) {
                out.next_open = nx.open;
                if (out.phase == MD_CAL_POST) out.next_close = nx.close;
            }
        }
    } else if (md_cal_next(c, now, &nx)) {
        out.phase = MD_CAL_CLOSED;
        out.session = nx;
        out.has_session = 1;
        out.next_open = nx.open;
        out.next_close = nx.close;
    }
    *st = out;
    return 0;
}

int64_t md_cal_session_day(const md_cal *c, int64_t ts)
{
    md_cal_session s;
    if (md_cal_session_at(c, ts, 1, &s) || md_cal_next(c, ts, &s)) return s.day;
    return floor_div(ts, DAY);
}

int64_t md_cal_count_sessions(const md_cal *cc, int64_t day0, int64_t day1)
{
    const md_cal *c = ready(cc);
    int64_t n = 0;
    for (int64_t d = day0; d < day1; d++) {
        if (in_table(c, d) && d >= md_days_from_civil(c->first_year, 1, 1) &&
            d <= md_days_from_civil(c->last_year, 12, 31)) {
            if (!(c->flags[d - c->day0] & MD_CAL__F_CLOSED) && era(c, MD_CAL__HOURS, day_ymd(d)))
                n++;
        } else if (trading_weekday(c, d)) {
            n++;
        }
    }
    return n;
}

/* -- symbols ------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

/* Currency and crypto codes the default recognises in pairs (the common ones). */
static int is_code(const char *p, size_t n, const char *const *set)
{
    for (size_t i = 0; set[i]; i++)
        if (strlen(set[i]) == n && strncasecmp(p, set[i], n) == 0) return 1;
    return 0;
}

static const char *const fiat[] = {"USD", "EUR", "JPY", "GBP", "CHF", "AUD", "CAD", "NZD",
                                   "CNY", "CNH", "HKD", "SEK", "NOK", "DKK", "SGD", "MXN",
                                   "ZAR", "TRY", "PLN", "INR", "KRW", "BRL", NULL};
static const char *const crypto[] = {"BTC", "ETH", "XRP",  "SOL",   "ADA",  "DOGE", "LTC",
                                     "BNB", "DOT", "AVAX", "LINK",  "USDT", "USDC", "XBT",
                                     "TRX", "BCH", "XLM",  "MATIC", "SHIB", NULL};

const md_cal *md_cal_default_for(const char *symbol)
{
    static const struct {
        const char *suffix, *mic;
    } suffixes[] = {{".L", "XLON"},  {".DE", "XETR"}, {".F", "XETR"}, {".PA", "XPAR"},
                    {".SW", "XSWX"}, {".T", "XTKS"},  {".HK", "XHKG"}};
    const char *s = symbol ? symbol : "";
    if (!strncasecmp(s, "X:", 2)) return md_cal_find("24/7"); /* Polygon's crypto tickers */
    if (!strncasecmp(s, "C:", 2) || ends_with(s, "=X")) return md_cal_find("24/5");
    for (size_t i = 0; i < MD_ARRAY_LEN(suffixes); i++)
        if (ends_with(s, suffixes[i].suffix)) return md_cal_find(suffixes[i].mic);
    const char *sep = strpbrk(s, "-/");
    size_t a = sep ? (size_t)(sep - s) : 0;
    if (sep && (is_code(s, a, crypto) || is_code(sep + 1, strlen(sep + 1), crypto)))
        return md_cal_find("24/7");
    if (sep && is_code(s, a, fiat) && is_code(sep + 1, strlen(sep + 1), fiat))
        return md_cal_find("24/5");
    return md_cal_find("XNYS");
}

int md_cal_open_near(const md_cal *c, int64_t now, int64_t margin_s)
{
    md_cal_session s;
    if (md_cal_session_at(c, now, 1, &s)) return 1;
    if (md_cal_next(c, now, &s) && s.ext_open - margin_s <= now) return 1;
    return md_cal_prev(c, now, &s) && s.ext_close + margin_s > now;
}
