/* interval.h - bar intervals and UTC bucket alignment.
 *
 * Intervals are 1m 5m 15m 30m 1h 4h 1d 1w 1mo (API.md). Buckets are aligned in UTC:
 * fixed intervals on multiples of their length since the epoch, 1w on Monday 00:00,
 * 1mo on the 1st 00:00. A bar's timestamp is the start of its bucket. */
#ifndef MD_CORE_INTERVAL_H
#define MD_CORE_INTERVAL_H

#include "core/error.h"

#include <stdint.h>

typedef enum md_interval {
    MD_IV_1M = 0,
    MD_IV_5M,
    MD_IV_15M,
    MD_IV_30M,
    MD_IV_1H,
    MD_IV_4H,
    MD_IV_1D,
    MD_IV_1W,
    MD_IV_1MO,
    MD_IV_COUNT
} md_interval;

/* Parses a name ("5m"); MD_EINTERVAL naming the text otherwise. */
int md_interval_parse(const char *s, md_interval *out, md_error *err);
const char *md_interval_name(md_interval iv);
/* Nominal length in seconds (1mo: 30 days; use the bucket functions for calendars). */
int64_t md_interval_seconds(md_interval iv);
/* Start of the bucket containing ts. */
int64_t md_interval_floor(md_interval iv, int64_t ts);
/* Start of the bucket after the one starting at (or containing) ts. */
int64_t md_interval_next(md_interval iv, int64_t ts);
/* 1 when every bucket of coarse is a whole number of buckets of fine (fine != coarse). */
int md_interval_divides(md_interval fine, md_interval coarse);
/* The interval whose length is exactly secs, for inference from timestamp spacing;
 * -1 when none matches. */
int md_interval_from_seconds(int64_t secs);
/* 1 for 1d and coarser. */
int md_interval_is_daily(md_interval iv);

#endif
