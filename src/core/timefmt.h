/* timefmt.h - time parsing and formatting (all UTC, epoch seconds as int64_t).
 *
 * Accepted forms (API.md "Time parameters"):
 *   YYYY-MM-DD                       midnight UTC of that date
 *   YYYY-MM-DDTHH:MM[:SS[.fff]]Z     RFC 3339; 'T' may be a space; the zone may be Z,
 *   ... +HH:MM, -HHMM, +HH           an offset, or absent (UTC)
 *   [-]DIGITS                        epoch seconds
 * Sub-second fractions are truncated to the second. No I/O, no locale. */
#ifndef MD_CORE_TIMEFMT_H
#define MD_CORE_TIMEFMT_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

#define MD_TS_MIN (-62135596800LL) /* 0001-01-01 */
#define MD_TS_MAX (253402300799LL) /* 9999-12-31T23:59:59Z */
#define MD_TIME_STR_MAX 32

/* Parses s[0..len) (no surrounding space) into *out. MD_ETIMERANGE with a message naming
 * the text when it is not one of the forms above or names an impossible date. */
int md_time_parse(const char *s, size_t len, int64_t *out, md_error *err);
/* Same for a NUL-terminated string. */
int md_time_parse_str(const char *s, int64_t *out, md_error *err);
/* Parses a compact date "YYYYMMDD" and optional time "HHMMSS" (Stooq); time may be NULL. */
int md_time_parse_compact(const char *date, size_t dlen, const char *tm, size_t tlen, int64_t *out);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (no quotes) into dst (>= MD_TIME_STR_MAX); returns length. */
int md_time_format(int64_t ts, char *dst);
/* Writes "YYYY-MM-DD" into dst (>= 11 bytes); returns length. */
int md_date_format(int64_t ts, char *dst);

int64_t md_days_from_civil(int64_t y, unsigned m, unsigned d);
void md_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
int md_days_in_month(int64_t y, unsigned m);

int64_t md_now(void);     /* wall clock, seconds */
int64_t md_now_ms(void);  /* wall clock, milliseconds */
int64_t md_mono_ms(void); /* monotonic clock, milliseconds */
int64_t md_mono_ns(void); /* monotonic clock, nanoseconds */

#endif
