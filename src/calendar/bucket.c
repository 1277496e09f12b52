/* bucket.c - buckets of exchange sessions (see bucket.h). */
#include "calendar/bucket.h"

#define DAY 86400

int64_t md_cal_day_start(const md_cal *c, int64_t day)
{
    md_cal_session s;
    for (int64_t d = day - 1; d > day - 32; d--) /* no calendar closes for a month */
        if (md_cal_day(c, d, &s, NULL) == 1) return s.ext_close;
    return day * DAY;
}

int64_t md_cal_bucket(const md_cal *c, md_interval iv, int64_t ts, int64_t *end)
{
    int64_t label = md_interval_floor(iv, md_cal_session_day(c, ts) * DAY);
    if (end) *end = md_cal_day_start(c, md_interval_next(iv, label) / DAY);
    return label;
}
