/* timefmt.c - calendar arithmetic (Howard Hinnant's civil algorithms) and the parsers. */
#include "core/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t md_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void md_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int md_days_in_month(int64_t y, unsigned m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2) return ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : 28;
    return m >= 1 && m <= 12 ? dm[m - 1] : 0;
}

/* Reads exactly n digits at *p; returns -1 when any is not a digit. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i] - '0';
        if (c > 9) return -1;
        v = v * 10 + (int)c;
    }
    return v;
}

static int bad(md_error *err, const char *s, size_t len)
{
    return md_error_set(err, MD_ETIMERANGE,
                        "cannot parse time '%.*s' (want YYYY-MM-DD, RFC 3339 or epoch seconds)",
                        (int)(len > 64 ? 64 : len), s);
}

int md_time_parse(const char *s, size_t len, int64_t *out, md_error *err)
{
    if (len == 0) return md_error_set(err, MD_ETIMERANGE, "empty time");
    /* Epoch seconds: optional sign then digits only. */
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i < len) {
        size_t j = i;
        while (j < len && s[j] >= '0' && s[j] <= '9') j++;
        if (j == len) {
            if (len - i > 12) return bad(err, s, len);
            int64_t v = 0;
            for (size_t k = i; k < len; k++) v = v * 10 + (s[k] - '0');
            if (s[0] == '-') v = -v;
            if (v < MD_TS_MIN || v > MD_TS_MAX) return bad(err, s, len);
            *out = v;
            return 0;
        }
    }
    if (len < 10 || s[4] != '-' || s[7] != '-') return bad(err, s, len);
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > md_days_in_month(y, (unsigned)mo))
        return bad(err, s, len);
    int64_t ts = md_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
    if (len == 10) {
        *out = ts;
        return 0;
    }
    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || len < 16 || s[13] != ':')
        return bad(err, s, len);
    int hh = digits(s + 11, 2), mm = digits(s + 14, 2), ss = 0;
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return bad(err, s, len);
    size_t p = 16;
    if (p < len && s[p] == ':') {
        if (p + 3 > len) return bad(err, s, len);
        ss = digits(s + p + 1, 2);
        if (ss < 0 || ss > 59) return bad(err, s, len);
        p += 3;
        if (p < len && (s[p] == '.' || s[p] == ',')) {
            p++;
            size_t f = p;
            while (p < len && s[p] >= '0' && s[p] <= '9') p++;
            if (p == f) return bad(err, s, len);
        }
    }
    ts += hh * 3600 + mm * 60 + ss;
    if (p < len && s[p] == ' ') {
        /* "09:30:00 -05:00", or "+05:00" whose '+' a URL query decoded into a space */
        p++;
        if (p < len && s[p] >= '0' && s[p] <= '9') {
            char fixed[64];
            if (len >= sizeof fixed) return bad(err, s, len);
            memcpy(fixed, s, len);
            fixed[p - 1] = '+';
            return md_time_parse(fixed, len, out, err) == 0 ? 0 : bad(err, s, len);
        }
    }
    if (p == len) {
        *out = ts;
        return 0;
    }
    if ((s[p] == 'Z' || s[p] == 'z') && p + 1 == len) {
        *out = ts;
        return 0;
    }
    if (s[p] != '+' && s[p] != '-') return bad(err, s, len);
    int sign = s[p] == '-' ? -1 : 1;
    p++;
    int oh, om = 0;
    if (len - p == 2) {
        oh = digits(s + p, 2);
    } else if (len - p == 4) {
        oh = digits(s + p, 2), om = digits(s + p + 2, 2);
    } else if (len - p == 5 && s[p + 2] == ':') {
        oh = digits(s + p, 2), om = digits(s + p + 3, 2);
    } else {
        return bad(err, s, len);
    }
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return bad(err, s, len);
    *out = ts - sign * (oh * 3600 + om * 60);
    return 0;
}

int md_time_parse_str(const char *s, int64_t *out, md_error *err)
{
    return md_time_parse(s, strlen(s), out, err);
}

int md_time_parse_compact(const char *date, size_t dlen, const char *tm, size_t tlen, int64_t *out)
{
    if (dlen != 8) return MD_ETIMERANGE;
    int y = digits(date, 4), mo = digits(date + 4, 2), d = digits(date + 6, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > md_days_in_month(y, (unsigned)mo))
        return MD_ETIMERANGE;
    int64_t ts = md_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
    if (tm && tlen) {
        if (tlen != 6 && tlen != 4) return MD_ETIMERANGE;
        int hh = digits(tm, 2), mm = digits(tm + 2, 2), ss = tlen == 6 ? digits(tm + 4, 2) : 0;
        if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59) return MD_ETIMERANGE;
        ts += hh * 3600 + mm * 60 + ss;
    }
    *out = ts;
    return 0;
}

static void two(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

int md_date_format(int64_t ts, char *dst)
{
    int64_t days = ts >= 0 ? ts / 86400 : -((-ts + 86399) / 86400);
    int64_t y;
    unsigned m, d;
    md_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) return snprintf(dst, 11, "0000-00-00");
    dst[0] = (char)('0' + y / 1000);
    dst[1] = (char)('0' + y / 100 % 10);
    dst[2] = (char)('0' + y / 10 % 10);
    dst[3] = (char)('0' + y % 10);
    dst[4] = '-';
    two(dst + 5, m);
    dst[7] = '-';
    two(dst + 8, d);
    dst[10] = 0;
    return 10;
}

int md_time_format(int64_t ts, char *dst)
{
    int64_t days = ts >= 0 ? ts / 86400 : -((-ts + 86399) / 86400);
    int64_t sec = ts - days * 86400;
    md_date_format(ts, dst);
    dst[10] = 'T';
    two(dst + 11, (unsigned)(sec / 3600));
    dst[13] = ':';
    two(dst + 14, (unsigned)(sec / 60 % 60));
    dst[16] = ':';
    two(dst + 17, (unsigned)(sec % 60));
    dst[19] = 'Z';
    dst[20] = 0;
    return 20;
}

int64_t md_now(void)
{
    return (int64_t)time(NULL);
}

int64_t md_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t md_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t md_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
