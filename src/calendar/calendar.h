/* calendar.h - exchange calendars: when a market trades (no I/O but the zone files).
 *
 * A calendar says, for each date of its range, whether the venue holds a session and
 * when: the regular session [open, close), a lunch break inside it (Tokyo, Hong Kong),
 * the extended hours around it (US pre/post-market), early closes. Every calendar is one
 * declarative file compiled in (data/<MIC>.def: holiday rules, one-off closures, hours by
 * era, each citing the exchange notice it was written from); calendar.c turns the rules
 * into a table of days once, on first use, and answers from the table. Times come out in
 * UTC, converted through the zone reader (core/tz.h), so DST is the zone's own.
 *
 * A session is labelled with its date: the exchange-local date it trades on, except for
 * 24/5 FX, whose session for date D runs from 17:00 New York on the eve of D to 17:00 on
 * D (the FX value-date roll), so Monday's session opens Sunday evening. 24/7 has one
 * session per UTC day.
 *
 * Inside [first_day, last_day] (md_cal_range) the calendar is what the exchange published;
 * outside it md_cal_day answers the regular weekly pattern with no holidays and says so
 * (MD_CAL_ESTIMATED), so callers on old or far-future data still get sessions but can
 * tell they are guessed.
 *
 * Calendars are static data: pointers from md_cal_find/md_cal_at stay valid for the life
 * of the process, and every function is thread-safe. */
#ifndef MD_CALENDAR_CALENDAR_H
#define MD_CALENDAR_CALENDAR_H

#include "core/config.h"
#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_cal md_cal;

enum {
    MD_CAL_EARLY_CLOSE = 1, /* closes before its regular time */
    MD_CAL_LATE_OPEN = 2,   /* opens after its regular time */
    MD_CAL_ESTIMATED = 4,   /* outside the calendar's range: weekly pattern, no holidays */
};

/* One session, all instants UTC epoch seconds. */
typedef struct md_cal_session {
    int64_t day;                    /* the session date: days since 1970-01-01 */
    int64_t open, close;            /* the regular session [open, close) */
    int64_t break_start, break_end; /* a break inside it; both 0 when none */
    int64_t ext_open, ext_close;    /* extended hours, [ext_open, ext_close) contains the
                                     * regular session; equal to open/close when none */
    int flags;                      /* MD_CAL_EARLY_CLOSE | MD_CAL_LATE_OPEN | ... */
} md_cal_session;

/* Where a calendar is at an instant. */
typedef enum md_cal_phase {
    MD_CAL_CLOSED = 0, /* no session, or outside its extended hours */
    MD_CAL_PRE,        /* extended hours before the open */
    MD_CAL_OPEN,       /* regular session */
    MD_CAL_BREAK,      /* lunch break */
    MD_CAL_POST,       /* extended hours after the close */
} md_cal_phase;

typedef struct md_cal_state {
    md_cal_phase phase;
    int64_t next_open;      /* the next regular open after now (or the current session's when
                         * in pre-market); 0 when none within the calendar's range */
    int64_t next_close;     /* the close of the current session, or of the next one */
    md_cal_session session; /* the session now is in or, when closed, the next one */
    int has_session;        /* session is set */
} md_cal_state;

/* -- the calendars -------------------------------------------------------------------------- */

/* Number of calendars and the i-th (i < md_cal_count()), in the order of data/. */
size_t md_cal_count(void);
const md_cal *md_cal_at(size_t i);

/* Finds a calendar by MIC ("XNYS") or alias ("NYSE", "NASDAQ", "24/7", "crypto", "FX",
 * "24/5"), case-insensitive. NULL when unknown. */
const md_cal *md_cal_find(const char *name);

const char *md_cal_mic(const md_cal *c);  /* "XNYS", "24/7", "24/5" */
const char *md_cal_name(const md_cal *c); /* "New York Stock Exchange" */
const char *md_cal_zone(const md_cal *c); /* IANA zone: "America/New_York" */
/* Days (since the epoch) of the first and last date the data is accurate for. */
void md_cal_range(const md_cal *c, int64_t *first_day, int64_t *last_day);

/* -- sessions -------------------------------------------------------------------------------- */

/* The session of date day. Returns 1 and fills *s when the venue trades that day, 0 when
 * it is closed (*why, when why is not NULL, is the holiday's name or "weekend"), or
 * MD_ENOTFOUND when the calendar's zone cannot be loaded. Outside md_cal_range the
 * weekly pattern answers, with MD_CAL_ESTIMATED set. */
int md_cal_day(const md_cal *c, int64_t day, md_cal_session *s, const char **why);

/* The session whose regular hours (extended = 0) or extended hours (extended = 1) contain
 * ts, a break included. Returns 1 with *s set, 0 when none does. */
int md_cal_session_at(const md_cal *c, int64_t ts, int extended, md_cal_session *s);

/* The first session whose regular close is after ts (the one in progress, or the next).
 * Returns 1 with *s set, 0 when none within 366 days (never for these calendars). */
int md_cal_next(const md_cal *c, int64_t ts, md_cal_session *s);

/* The last session whose regular open is at or before ts. Returns 1 or 0 like md_cal_next. */
int md_cal_prev(const md_cal *c, int64_t ts, md_cal_session *s);

/* The phase at now and the next open and close. 0, or MD_ENOTFOUND (zone). */
int md_cal_status(const md_cal *c, int64_t now, md_cal_state *st);

/* The session date (days since the epoch) a bar starting at ts belongs to: the session
 * whose extended hours contain ts, else the next session (a bar in the night belongs to
 * the coming day). Used to label daily bars built from intraday ones. */
int64_t md_cal_session_day(const md_cal *c, int64_t ts);

/* Number of sessions with a date in [day0, day1). */
int64_t md_cal_count_sessions(const md_cal *c, int64_t day0, int64_t day1);

const char *md_cal_phase_name(md_cal_phase p);

/* -- symbols --------------------------------------------------------------------------------- */

/* The calendar a symbol trades on when nothing better is known (no configuration), from
 * its spelling, classified as sources/symbolmap.h does: crypto pairs ("BTC-USD",
 * "ETH/USDT", "X:BTCUSD", any BASE-QUOTE quoted in a currency or stable coin) -> 24/7; FX
 * pairs ("EURUSD", "EURUSD=X", "EUR/USD", "C:EURUSD") -> 24/5; Yahoo's exchange suffixes
 * (.L XLON, .DE/.F XETR, .PA XPAR, .SW XSWX, .T XTKS, .HK XHKG); anything else, US equity
 * -> XNYS. Never NULL. */
const md_cal *md_cal_default_for(const char *symbol);

/* Where a symbol's calendar came from (md_cal_map_find). */
typedef enum md_cal_from {
    MD_CAL_FROM_CONFIG,   /* a calendar.symbols pair */
    MD_CAL_FROM_SYMBOLS,  /* symbols.<SYM>.calendar */
    MD_CAL_FROM_CLASS,    /* symbols.<SYM>.class: fx -> 24/5, crypto -> 24/7 */
    MD_CAL_FROM_PROVIDER, /* the exchange a provider reported (md_cal_note_reported) */
    MD_CAL_FROM_DEFAULT,  /* md_cal_default_for */
} md_cal_from;

/* "config", "symbols", "class", "provider", "default" */
const char *md_cal_from_name(md_cal_from f);

/* The calendar of an exchange as a provider names it: a MIC ("XNAS", "XNGS"), a code
 * (Yahoo's "NMS", "NYQ", "LSE", "CCC") or a name ("NASDAQ NMS - GLOBAL MARKET", "NEW YORK
 * STOCK EXCHANGE, INC.", "Euronext Paris"), tried whole, then up to " - " or ",", then its
 * first word. NULL when none of the calendars is known by that name. */
const md_cal *md_cal_for_exchange(const char *name);

/* What the providers reported, process-wide (every resolver below reads it): symbol (upper
 * case, normalised) trades on the calendar of exchange (md_cal_for_exchange). Returns the
 * calendar, or NULL (and nothing noted) when the name maps to none; a later note for the
 * same symbol replaces the earlier one. *changed (may be NULL) = 1 when the symbol's reported
 * calendar was another one or none before. Thread-safe. The store keeps the reports
 * (symbol_refs.exchange) and the services note them again at start and while they run. */
const md_cal *md_cal_note_reported(const char *symbol, const char *exchange, int *changed);
/* Forgets every report (tests). */
void md_cal_reported_clear(void);

/* The symbol -> calendar resolver of a configuration (symbols.c has the order): read once,
 * then read-only (any thread). MD_ECONFIG naming the key for a calendar.symbols item that
 * is not SYMBOL:CALENDAR with a known calendar, a `symbols:` section md_symconf_parse
 * refuses, or a symbols.<SYM>.calendar that names no calendar. cfg may be NULL (defaults
 * only). *out is the caller's (md_cal_map_free, which accepts NULL). */
typedef struct md_cal_map md_cal_map;
int md_cal_map_new(const md_config *cfg, md_cal_map **out, md_error *err);
void md_cal_map_free(md_cal_map *m);

/* The calendar of an upper-case (normalised) symbol; never NULL. *from (may be NULL) says
 * which rule gave it. m may be NULL (the default of the spelling). */
const md_cal *md_cal_map_find(const md_cal_map *m, const char *symbol, md_cal_from *from);

/* md_cal_map_new + md_cal_map_find + md_cal_map_free, for a caller that resolves one symbol
 * per request. 0 with *out set, or md_cal_map_new's error. */
int md_cal_for_symbol(const md_config *cfg, const char *symbol, const md_cal **out,
                      md_cal_from *from, md_error *err);

/* Whether the calendar's market is open at now, counting its extended hours and margin_s
 * before and after them. */
int md_cal_open_near(const md_cal *c, int64_t now,
                     int64_t margin_s); /* "closed", "pre", "open", "break", "post" */

#endif
