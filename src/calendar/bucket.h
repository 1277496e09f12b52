/* bucket.h - daily, weekly and monthly buckets made of exchange sessions (calendar.h): the
 * one rule the store's aggregation (store.c) and the live bars (stream/livebar.c) share.
 *
 * A bar belongs to the session of md_cal_session_day (the session whose extended hours hold
 * it, else the coming one); a 1d bucket is one session, labelled with its date at 00:00 UTC;
 * a 1w or 1mo bucket gathers the sessions whose dates fall in that UTC week or month. Session
 * dates only grow with time, so a bucket is an interval of time: [md_cal_day_start(first
 * date), md_cal_day_start(first date of the next bucket)). */
#ifndef MD_CALENDAR_BUCKET_H
#define MD_CALENDAR_BUCKET_H

#include "calendar/calendar.h"
#include "core/interval.h"

#include <stdint.h>

/* The first instant whose session date is day (days since the epoch) or later: the end of
 * the extended hours of the last session before that date. */
int64_t md_cal_day_start(const md_cal *c, int64_t day);

/* The label of the bucket of iv (daily or coarser) holding a bar that starts at ts, and in
 * *end (may be NULL) the instant the bucket ends. */
int64_t md_cal_bucket(const md_cal *c, md_interval iv, int64_t ts, int64_t *end);

#endif
