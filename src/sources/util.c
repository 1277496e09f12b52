/* util.c - strict number readers, price rounding, trading dates and the last step every
 * provider's bars go through (sort, dedup, range filter). */
#include "sources/sources_int.h"

#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plain decimal: [-+]digits[.digits][e[-+]digits] (leading/trailing spaces allowed). */
static int plain_decimal(const char *s)
{
    while (*s == ' ') s++;
    if (*s == '-' || *s == '+') s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9') s++, digits++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') s++, digits++;
    }
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    while (*s == ' ') s++;
    return *s == 0;
}

int md_sources__num(const json_t *v, double *out)
{
    double d;
    if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (json_string_length(v) > 64 || strlen(s) != json_string_length(v) || !plain_decimal(s))
            return -1;
        d = strtod(s, NULL);
    } else {
        return -1;
    }
    if (!isfinite(d)) return -1;
    *out = d;
    return 0;
}

int md_sources__int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    double d;
    if (md_sources__num(v, &d) != 0 || d != floor(d) || fabs(d) > 9.0e15) return -1;
    *out = (int64_t)d;
    return 0;
}

double md_sources__round(double v, int decimals)
{
    if (decimals < 0 || decimals > 10 || !isfinite(v)) return v;
    char buf[64];
    if (fabs(v) >= 1e15) return v;
    snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return strtod(buf, NULL);
}

int md_sources__bar_sane(const md_bar *b)
{
    return isfinite(b->open) && isfinite(b->high) && isfinite(b->low) && isfinite(b->close) &&
           isfinite(b->volume) && b->volume >= 0 && (isnan(b->vwap) || isfinite(b->vwap));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t md_sources__exchange_day(int64_t ts, const char *zone, int32_t fallback_off)
{
    if (ts % 86400 == 0) return ts;
    int32_t off = fallback_off;
    if (zone && *zone) md_sources__tz_offset(zone, ts, &off);
    return floor_div(ts + off, 86400) * 86400;
}

int64_t md_sources__day_bucket(int64_t day, md_interval iv)
{
    if (iv == MD_IV_1W) {
        int64_t days = floor_div(day, 86400);
        int dow = (int)(((days + 4) % 7 + 7) % 7); /* Sunday = 0 */
        if (dow == 0) day += 86400;
        return md_interval_floor(MD_IV_1W, day);
    }
    if (iv == MD_IV_1MO) return md_interval_floor(MD_IV_1MO, day);
    return floor_div(day, 86400) * 86400;
}

int md_sources__emit(md_bar_vec *tmp, int64_t start, int64_t end, md_bar_vec *out)
{
    md_bar_vec_sort_dedup(tmp);
    int n = 0;
    for (size_t i = 0; i < tmp->n; i++) {
        if (tmp->v[i].ts < start || tmp->v[i].ts >= end) continue;
        md_bar_vec_push(out, &tmp->v[i]);
        n++;
    }
    return n;
}

int md_sources__push_stamped(md_bar_vec *tmp, md_bar *b, int64_t t, md_interval iv,
                             const char *zone, int32_t fallback_off)
{
    b->ts = md_interval_is_daily(iv)
                ? md_sources__day_bucket(md_sources__exchange_day(t, zone, fallback_off), iv)
                : t;
    if (!md_sources__bar_sane(b)) return -1;
    md_bar_vec_push(tmp, b);
    return 0;
}

int md_sources__emit_all(md_bar_vec *tmp, md_bar_vec *out)
{
    int count = md_sources__emit(tmp, INT64_MIN, INT64_MAX, out);
    md_bar_vec_deinit(tmp);
    return count;
}

md_bar md_sources__bar(md_source_id id)
{
    md_bar b;
    md_bar_init(&b);
    b.source = (uint8_t)id;
    return b;
}

void md_sources__bars_init(md_bar_vec *tmp, size_t n)
{
    md_bar_vec_init(tmp);
    md_bar_vec_reserve(tmp, n);
}

void md_sources__merge_live(md_bar *a, const md_bar *b)
{
    if (a->open == b->open && a->high == b->high && a->low == b->low && a->close == b->close &&
        a->volume == b->volume)
        return; /* the period sent twice */
    if (b->high > a->high) a->high = b->high;
    if (b->low < a->low) a->low = b->low;
    a->close = b->close;
    a->volume += b->volume;
    a->vwap = NAN;
    a->trades = -1;
}
