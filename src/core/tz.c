/* tz.c - UTC offsets of IANA time zones, for exchange-local dates and wall-clock times
 * (provider timestamps, exchange calendars).
 *
 * Providers stamp daily bars with some time of the exchange's day (Yahoo: the session
 * open, or midnight local; Polygon: midnight New York) and Alpha Vantage gives intraday
 * times as US/Eastern wall-clock text. Turning those into API.md timestamps needs the
 * zone's real offset at that instant, DST included. glibc only offers that through the
 * process-wide TZ variable (not thread-safe), so this file reads the compiled zone files
 * (TZif, RFC 8536) itself: $TZDIR or /usr/share/zoneinfo/<Zone>. Transitions come from
 * the 64-bit block; instants after the last transition use the footer's POSIX TZ rule
 * (`EST5EDT,M3.2.0,M11.1.0`). Loaded zones are cached for the life of the process.
 *
 * When the zone files are missing, New York (US rules since 2007) and UTC are built in,
 * so the US providers still convert correctly on a machine without tzdata. */
#include "core/tz.h"

#include "core/error.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A POSIX TZ rule: std offset, and optionally dst offset with Mm.w.d start/end. */
typedef struct {
    int valid;
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    int sm, sw, sd, em, ew, ed; /* Mm.w.d of start and end */
    int32_t stime, etime;       /* local time of day of the transitions, seconds */
} tz_rule;

typedef struct {
    char name[64];
    size_t n;           /* transitions */
    int64_t *at;        /* transition instants, ascending */
    int32_t *off_at;    /* offset in force from at[i] */
    int32_t off_before; /* offset before the first transition */
    tz_rule rule;       /* for instants after the last transition */
} tz_zone;

#define MAX_ZONES 64
static pthread_mutex_t zlock = PTHREAD_MUTEX_INITIALIZER;
static tz_zone *zones[MAX_ZONES];
static size_t n_zones;

/* -- POSIX TZ rules ------------------------------------------------------------------------ */

static const char *rule_name(const char *p)
{
    if (*p == '<') {
        const char *e = strchr(p, '>');
        return e ? e + 1 : NULL;
    }
    const char *s = p;
    while (isalpha((unsigned char)*p)) p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; returns the end or NULL. */
static const char *rule_time(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p)) return NULL;
    long h = strtol(p, (char **)&p, 10), m = 0, s = 0;
    if (*p == ':') {
        m = strtol(p + 1, (char **)&p, 10);
        if (*p == ':') s = strtol(p + 1, (char **)&p, 10);
    }
    if (h > 167 || m > 59 || s > 59) return NULL;
    *out = (int32_t)(sign * (h * 3600 + m * 60 + s));
    return p;
}

static const char *rule_date(const char *p, int *m, int *w, int *d, int32_t *t)
{
    if (*p != 'M') return NULL; /* Jn and n forms are not used by any current zone */
    char *e;
    *m = (int)strtol(p + 1, &e, 10);
    if (*e != '.') return NULL;
    *w = (int)strtol(e + 1, &e, 10);
    if (*e != '.') return NULL;
    *d = (int)strtol(e + 1, &e, 10);
    if (*m < 1 || *m > 12 || *w < 1 || *w > 5 || *d < 0 || *d > 6) return NULL;
    *t = 7200;
    if (*e == '/') return rule_time(e + 1, t);
    return e;
}

static void rule_parse(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    const char *p = rule_name(s);
    int32_t off;
    if (!p || !(p = rule_time(p, &off))) return;
    r->std_off = -off; /* POSIX offsets are west of UTC */
    if (!*p) {
        r->valid = 1;
        return;
    }
    if (!(p = rule_name(p))) return;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = rule_time(p, &off))) return;
        r->dst_off = -off;
    }
    if (*p != ',' || !(p = rule_date(p + 1, &r->sm, &r->sw, &r->sd, &r->stime))) return;
    if (*p != ',' || !rule_date(p + 1, &r->em, &r->ew, &r->ed, &r->etime)) return;
    r->has_dst = 1;
    r->valid = 1;
}

/* Day number (since the epoch) of the w-th weekday d of month m in year y (w = 5: last). */
static int64_t mwd_day(int64_t y, int m, int w, int d)
{
    int64_t first = md_days_from_civil(y, (unsigned)m, 1);
    int dow = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; Sunday = 0 */
    int day = 1 + (d - dow + 7) % 7 + (w - 1) * 7;
    while (day > md_days_in_month(y, (unsigned)m)) day -= 7;
    return first + day - 1;
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_off;
    int64_t y;
    unsigned mo, dd;
    int64_t days = (t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0);
    md_civil_from_days(days, &y, &mo, &dd);
    int64_t start = mwd_day(y, r->sm, r->sw, r->sd) * 86400 + r->stime - r->std_off;
    int64_t end = mwd_day(y, r->em, r->ew, r->ed) * 86400 + r->etime - r->dst_off;
    int in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return in_dst ? r->dst_off : r->std_off;
}

/* -- TZif files ---------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static int tzif_header(const unsigned char *p, size_t len, tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) return -1;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    if (c->type == 0 || c->type > 256 || c->time > 100000 || c->leap > 10000 || c->chars > 10000 ||
        c->isut > c->type || c->isstd > c->type)
        return -1;
    return 0;
}

static size_t tzif_block_len(const tzif_counts *c, int tsize)
{
    return (size_t)c->time * (size_t)(tsize + 1) + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (size_t)(tsize + 4) + c->isstd + c->isut;
}

/* Parses a TZif image into z; 0 or -1 when it is not a valid file. */
static int tzif_parse(const unsigned char *p, size_t len, tz_zone *z)
{
    tzif_counts c;
    if (tzif_header(p, len, &c) != 0) return -1;
    int tsize = 4;
    size_t off = 44;
    if (p[4] >= '2') {
        off += tzif_block_len(&c, 4);
        if (off > len || tzif_header(p + off, len - off, &c) != 0) return -1;
        off += 44;
        tsize = 8;
    }
    if (off + tzif_block_len(&c, tsize) > len) return -1;
    const unsigned char *times = p + off, *idx = times + (size_t)c.time * (size_t)tsize,
                        *types = idx + c.time;
    z->n = c.time;
    z->at = md_calloc(c.time ? c.time : 1, sizeof *z->at);
    z->off_at = md_calloc(c.time ? c.time : 1, sizeof *z->off_at);
    for (uint32_t i = 0; i < c.time; i++) {
        z->at[i] = tsize == 8 ? be64(times + 8 * (size_t)i) : (int32_t)be32(times + 4 * (size_t)i);
        if (idx[i] >= c.type || (i && z->at[i] <= z->at[i - 1])) return -1;
        z->off_at[i] = (int32_t)be32(types + 6 * (size_t)idx[i]);
    }
    /* Before the first transition: the first standard-time type (RFC 8536 3.2). */
    z->off_before = (int32_t)be32(types);
    for (uint32_t i = 0; i < c.type; i++) {
        if (!types[6 * i + 4]) {
            z->off_before = (int32_t)be32(types + 6 * i);
            break;
        }
    }
    off += tzif_block_len(&c, tsize);
    if (tsize == 8 && off < len && p[off] == '\n') {
        const char *s = (const char *)p + off + 1;
        const char *e = memchr(s, '\n', len - off - 1);
        if (e && e - s < 120) {
            char footer[128];
            memcpy(footer, s, (size_t)(e - s));
            footer[e - s] = 0;
            rule_parse(footer, &z->rule);
        }
    }
    return 0;
}

static int valid_zone_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= 64 || name[0] == '/' || strstr(name, "..")) return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p)) return 0;
    return 1;
}

static void zone_free(tz_zone *z)
{
    if (!z) return;
    md_free(z->at);
    md_free(z->off_at);
    md_free(z);
}

static tz_zone *zone_load_file(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = md_malloc(1 << 16);
    size_t len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    tz_zone *z = md_calloc(1, sizeof *z);
    if (tzif_parse(buf, len, z) != 0) {
        zone_free(z);
        z = NULL;
    }
    md_free(buf);
    return z;
}

/* Zones known without zone files. */
static tz_zone *zone_builtin(const char *name)
{
    static const struct {
        const char *name, *rule;
    } builtin[] = {
        {"America/New_York", "EST5EDT,M3.2.0,M11.1.0"},
        {"US/Eastern", "EST5EDT,M3.2.0,M11.1.0"},
        {"EST5EDT", "EST5EDT,M3.2.0,M11.1.0"},
        {"UTC", "UTC0"},
        {"Etc/UTC", "UTC0"},
        {"GMT", "GMT0"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(builtin); i++) {
        if (strcmp(builtin[i].name, name) != 0) continue;
        tz_zone *z = md_calloc(1, sizeof *z);
        rule_parse(builtin[i].rule, &z->rule);
        return z;
    }
    return NULL;
}

static const tz_zone *zone_get(const char *name)
{
    if (!name || !valid_zone_name(name)) return NULL;
    pthread_mutex_lock(&zlock);
    const tz_zone *found = NULL;
    for (size_t i = 0; i < n_zones && !found; i++)
        if (strcmp(zones[i]->name, name) == 0) found = zones[i];
    if (!found && n_zones < MAX_ZONES) {
        tz_zone *z = zone_load_file(name);
        if (!z) z = zone_builtin(name);
        if (z) {
            snprintf(z->name, sizeof z->name, "%s", name);
            zones[n_zones++] = z;
            found = z;
        }
    }
    pthread_mutex_unlock(&zlock);
    return found;
}

static int32_t zone_offset(const tz_zone *z, int64_t t)
{
    if (z->n == 0) return z->rule.valid ? rule_offset(&z->rule, t) : z->off_before;
    if (t < z->at[0]) return z->off_before;
    if (t >= z->at[z->n - 1] && z->rule.valid) return rule_offset(&z->rule, t);
    size_t lo = 0, hi = z->n; /* last i with at[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->off_at[lo];
}

/* -- exported ------------------------------------------------------------------------------ */

int md_tz_offset(const char *zone, int64_t utc_ts, int32_t *off)
{
    const tz_zone *z = zone_get(zone);
    if (!z) return MD_ENOTFOUND;
    *off = zone_offset(z, utc_ts);
    return 0;
}

int md_tz_local_to_utc(const char *zone, int64_t local_ts, int64_t *utc_ts)
{
    const tz_zone *z = zone_get(zone);
    if (!z) return MD_ENOTFOUND;
    int32_t o1 = zone_offset(z, local_ts);
    int64_t u = local_ts - o1;
    int32_t o2 = zone_offset(z, u);
    if (o2 != o1) {
        /* Near a transition: prefer the offset that maps back to the same wall time. */
        int64_t u2 = local_ts - o2;
        if (zone_offset(z, u2) == o2) u = u2;
    }
    *utc_ts = u;
    return 0;
}
