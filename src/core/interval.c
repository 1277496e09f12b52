/* interval.c - interval names and bucket arithmetic. */
#include "core/interval.h"

#include "core/timefmt.h"

#include <string.h>

static const struct {
    const char *name;
    int64_t secs;
} ivs[] = {
    [MD_IV_1M] = {"1m", 60},     [MD_IV_5M] = {"5m", 300},    [MD_IV_15M] = {"15m", 900},
    [MD_IV_30M] = {"30m", 1800}, [MD_IV_1H] = {"1h", 3600},   [MD_IV_4H] = {"4h", 14400},
    [MD_IV_1D] = {"1d", 86400},  [MD_IV_1W] = {"1w", 604800}, [MD_IV_1MO] = {"1mo", 2592000},
};
_Static_assert(sizeof ivs / sizeof ivs[0] == MD_IV_COUNT, "one row per interval");

int md_interval_parse(const char *s, md_interval *out, md_error *err)
{
    for (int i = 0; i < MD_IV_COUNT; i++) {
        if (strcmp(s, ivs[i].name) == 0) {
            *out = (md_interval)i;
            return 0;
        }
    }
    return md_error_set(err, MD_EINTERVAL,
                        "unknown interval '%.32s' (want one of 1m 5m 15m 30m 1h 4h 1d 1w 1mo)", s);
}

const char *md_interval_name(md_interval iv)
{
    return (unsigned)iv < MD_IV_COUNT ? ivs[iv].name : "?";
}

int64_t md_interval_seconds(md_interval iv)
{
    return (unsigned)iv < MD_IV_COUNT ? ivs[iv].secs : 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t md_interval_floor(md_interval iv, int64_t ts)
{
    if (iv == MD_IV_1W) {
        int64_t days = floor_div(ts, 86400);
        int64_t dow = ((days + 3) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
        return (days - dow) * 86400;
    }
    if (iv == MD_IV_1MO) {
        int64_t y;
        unsigned m, d;
        md_civil_from_days(floor_div(ts, 86400), &y, &m, &d);
        return md_days_from_civil(y, m, 1) * 86400;
    }
    int64_t len = md_interval_seconds(iv);
    return floor_div(ts, len) * len;
}

int64_t md_interval_next(md_interval iv, int64_t ts)
{
    int64_t start = md_interval_floor(iv, ts);
    if (iv == MD_IV_1MO) {
        int64_t y;
        unsigned m, d;
        md_civil_from_days(floor_div(start, 86400), &y, &m, &d);
        if (++m > 12) m = 1, y++;
        return md_days_from_civil(y, m, 1) * 86400;
    }
    return start + md_interval_seconds(iv);
}

int md_interval_divides(md_interval fine, md_interval coarse)
{
    if (fine >= coarse) return 0;
    if (coarse == MD_IV_1MO) return fine <= MD_IV_1D; /* months hold whole days, not weeks */
    return md_interval_seconds(coarse) % md_interval_seconds(fine) == 0;
}

int md_interval_from_seconds(int64_t secs)
{
    for (int i = 0; i < MD_IV_COUNT; i++)
        if (ivs[i].secs == secs) return i;
    return -1;
}

int md_interval_is_daily(md_interval iv)
{
    return iv >= MD_IV_1D;
}
