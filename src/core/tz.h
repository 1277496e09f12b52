/* tz.h - UTC offsets of IANA time zones (tz.c reads the system's TZif files; New York and
 * UTC are built in). Thread-safe; loaded zones stay cached for the life of the process.
 * Providers use it for exchange-local dates, calendar/ for session times. */
#ifndef MD_CORE_TZ_H
#define MD_CORE_TZ_H

#include <stdint.h>

/* Offset (seconds east of UTC) of zone at the instant utc_ts. MD_ENOTFOUND for an unknown
 * zone or a name that is not a zone name; *off is then untouched. */
int md_tz_offset(const char *zone, int64_t utc_ts, int32_t *off);

/* Converts a wall-clock time of zone (epoch seconds of that wall time read as if it were
 * UTC) to UTC. In a repeated hour the first instant wins; a time inside a skipped hour maps
 * with the offset in force before the change. MD_ENOTFOUND for an unknown zone. */
int md_tz_local_to_utc(const char *zone, int64_t local_ts, int64_t *utc_ts);

#endif
