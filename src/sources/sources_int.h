/* sources_int.h - helpers shared by the provider clients inside sources/ (not a contract
 * for other modules: they use source.h and registry.h).
 *
 *   md_provider         the common struct of the five HTTP providers (md_source + client)
 *   md_sources__http_*  the libcurl wrapper: GET with timeout, size cap, Retry-After, and
 *                       transport errors mapped to the source.h vocabulary
 *   md_sources__tz_*    IANA zone offsets (core/tz.c) for exchange-local dates
 *   md_sources__num...  strict JSON number readers and bar post-processing
 *
 * Every URL that reaches an error message or a log line goes through md_log_redact. */
#ifndef MD_SOURCES_INT_H
#define MD_SOURCES_INT_H

#include "core/buf.h"
#include "core/config.h"
#include "core/tz.h"
#include "sources/source.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* -- HTTP client (http_client.c) ----------------------------------------------------------- */

typedef struct md_sources__http md_sources__http;

typedef struct md_sources__resp {
    long status; /* HTTP status of the final response */
    char *body;  /* NUL-terminated, heap */
    size_t len;
    int retry_after_s; /* Retry-After in seconds (delta or HTTP date), -1 when absent */
    char content_type[96];
} md_sources__resp;

/* A client with its own connection cache (shared by the threads that use it, with locks).
 * timeout_ms bounds each request end to end; bodies past max_bytes are refused. */
md_sources__http *md_sources__http_new(int timeout_ms, size_t max_bytes, const char *user_agent);
void md_sources__http_free(md_sources__http *h);
/* GETs url within the client's timeout and by deadline_ms (md_mono_ms time; 0 = none),
 * unless cancel (may be NULL) is requested first or meanwhile. Returns 0 when a response
 * arrived, whatever its status (r filled; free with md_sources__resp_deinit), else
 * MD_ETIMEOUT (no answer in time, or no time left), MD_ETRANSIENT (DNS, connect, reset,
 * truncated transfer), MD_EMALFORMED (body over max_bytes) or MD_ECANCELED, with a message
 * "provider: what happened" that names no URL or host (the debug log has the URL). */
int md_sources__http_get(md_sources__http *h, const char *provider, const char *url,
                         int64_t deadline_ms, md_cancel *cancel, md_sources__resp *r,
                         md_error *err);
void md_sources__resp_deinit(md_sources__resp *r);
/* Parses a Retry-After value: delta seconds or an HTTP date (relative to now_s).
 * Returns the seconds (>= 0) or -1 when unparseable. */
int md_sources__retry_after_parse(const char *v, int64_t now_s);
/* Maps a non-2xx status: 429 MD_ERATELIMIT, 401/403 MD_EUNAUTHSRC, 404/410 MD_ENOTFOUND,
 * 408/5xx MD_ETRANSIENT, anything else MD_EMALFORMED. detail (may be NULL) is the
 * provider's own explanation, appended to the message. Returns the code. */
int md_sources__status_error(const char *provider, long status, const char *detail, md_error *err);

/* -- the common provider struct (provider.c) ----------------------------------------------- */

typedef struct md_provider {
    md_source base;
    md_sources__http *http;
    const char *key_env; /* environment variable of the key, NULL when none is needed */
    unsigned intervals;  /* MD_IV_BIT set it fetches (its providers.def row) */
} md_provider;

/* Allocates the provider of vt (vt->id names its providers.def row): base URL (trailing
 * '/' removed), key (unset or "" = none; registered with md_log_add_secret) and intervals
 * as its row says, timeout/size/user agent from cfg. */
md_provider *md_sources__provider_new(const md_source_vtable *vt, const md_config *cfg);
/* md_<name>_create of every HTTP provider: the provider of vt into *out (never fails: a
 * missing key is reported by each call). Returns 0. */
int md_sources__provider_create(const md_source_vtable *vt, const md_config *cfg, md_source **out);
void md_sources__provider_free(md_source *src);
/* The vtable's `supports` of every HTTP provider: the intervals of its providers.def row. */
int md_sources__provider_supports(const md_source *src, md_interval iv);
/* Defines the vtable of the HTTP provider nm (its providers.def row MD_SRC_ID, its name
 * #nm) and md_<nm>_create (providers.h); supports and free are provider.c's, the members
 * given after ID (.quote, .bars, .max_range_s, .actions) the provider file's own. Ends
 * without its ';'. */
#define MD_SOURCES_PROVIDER(nm, ID, ...)                                                           \
    static const md_source_vtable nm##_vt;                                                         \
    int md_##nm##_create(const md_config *cfg, md_source **out, md_error *err)                     \
    {                                                                                              \
        return md_sources__provider_create(&nm##_vt, cfg, out);                                    \
    }                                                                                              \
    static const md_source_vtable nm##_vt = {.name = #nm,                                          \
                                             .id = MD_SRC_##ID,                                    \
                                             .supports = md_sources__provider_supports,            \
                                             .free = md_sources__provider_free,                    \
                                             __VA_ARGS__}
/* MD_EUNAUTHSRC "<name>: not configured: set <KEY_ENV>" when a needed key is missing. */
int md_sources__need_key(const md_provider *p, md_error *err);
/* md_sources__http_get on meta's terms (deadline, cancellation, budget) plus bookkeeping
 * in meta (requests, http_status, retry_after_s) and a debug log line with the redacted
 * URL. A request beyond the ones meta->granted must get a token from meta->more first:
 * refused, nothing is sent and MD_ERATELIMIT "<name>: stopped after N requests: ..." comes
 * back (the caller stops there). meta may be NULL (no terms). */
int md_sources__get(md_provider *p, const char *url, md_sources__resp *r, md_fetch_meta *meta,
                    md_error *err);
/* Reserves the requests an operation needs before it sends the first (total, counting the
 * ones already granted): 0, or MD_ERATELIMIT "<name>: <what> needs N requests, not sent:
 * ..." when the budget cannot give them now. No-op without a budget (meta->more NULL). */
int md_sources__reserve(md_provider *p, md_fetch_meta *meta, int total, const char *what,
                        md_error *err);
/* What a provider reads in the JSON body of a non-2xx answer (status): its own error
 * (a negative MD_E* code, err set), or 0 when the body says nothing it knows. ctx is the
 * caller's, passed through. */
typedef int (*md_sources__refusal_fn)(const json_t *body, long status, void *ctx, md_error *err);
/* One request of a provider (md_sources__get) and the answer's first reading: a 2xx body
 * as JSON into *root (the caller json_decrefs it; MD_EMALFORMED when it is not JSON), any
 * other status as an error: refusal's (may be NULL) when its JSON body names one, else
 * md_sources__status_error with an excerpt of the body. *root is NULL unless 0 comes back;
 * *status (may be NULL) receives the HTTP status of any answer. */
int md_sources__get_json(md_provider *p, const char *url, md_sources__refusal_fn refusal, void *ctx,
                         json_t **root, long *status, md_fetch_meta *meta, md_error *err);
/* Parses r's body as a JSON value (object or array). NULL with MD_EMALFORMED and a
 * message that says what came instead (HTML, empty, truncated at line:col). */
json_t *md_sources__json(const char *provider, const md_sources__resp *r, md_error *err);
/* Same for a bare buffer (parser entry points used by the tests). */
json_t *md_sources__json_buf(const char *provider, const char *body, size_t len,
                             const char *content_type, md_error *err);
/* A provider's reading of a quote, or of bars of iv, in a parsed answer. */
typedef int (*md_sources__quote_root_fn)(const json_t *root, md_quote *out, md_error *err);
typedef int (*md_sources__bars_root_fn)(const json_t *root, md_interval iv, md_bar_vec *out,
                                        md_error *err);
/* The parser entry points of providers.h: body as JSON (md_sources__json_buf), then read. */
int md_sources__parse_quote(const char *provider, md_sources__quote_root_fn read, const char *body,
                            size_t len, md_quote *out, md_error *err);
int md_sources__parse_bars(const char *provider, md_sources__bars_root_fn read, const char *body,
                           size_t len, md_interval iv, md_bar_vec *out, md_error *err);
/* Copies a short (at most 96 characters), printable excerpt of s into dst for an error
 * message: redacted (keys, secrets) before it is cut, links replaced by "[link]". */
void md_sources__excerpt(const char *s, size_t len, char *dst, size_t n);

/* -- URLs ---------------------------------------------------------------------------------- */

/* Appends s percent-encoded for a query value (RFC 3986 unreserved characters kept:
 * EUR/USD -> EUR%2FUSD, ^GSPC -> %5EGSPC). */
void md_sources__esc(md_buf *b, const char *s);
/* The same for one path segment, where ':' '=' '@' may stay (C:EURUSD, EURUSD=X). */
void md_sources__esc_seg(md_buf *b, const char *s);
/* Appends the key parameter (param as "&apikey=", "?apiKey=") and src's key, encoded. */
void md_sources__put_key(md_buf *url, const md_source *src, const char *param);
/* Appends {base}{path}{symbol}{rest}{key_param}{key} to url: symbol encoded as a query value
 * when path ends in '=' ("/quote?symbol="), else as a path segment ("/v8/finance/chart/");
 * rest (may be NULL) as it is; the key part only when key_param is not NULL. */
void md_sources__url(md_buf *url, const md_source *src, const char *path, const char *symbol,
                     const char *rest, const char *key_param);

/* -- one request, one answer --------------------------------------------------------------- */

/* A provider's request of one URL read as bars of iv (appended to bars) or, with bars
 * NULL, as one quote into *q: >= 0 or MD_E*. Each provider file has one. */
typedef int (*md_sources__fetch_fn)(md_provider *p, const char *url, md_interval iv,
                                    md_bar_vec *bars, md_quote *q, md_fetch_meta *meta,
                                    md_error *err);
/* The checks before a bars request: MD_EINTERVAL "<name>: interval X is not offered" unless
 * offered (the provider has a name for iv), then md_sources__need_key. 0 when it may go. */
int md_sources__bars_ready(md_provider *p, int offered, md_interval iv, md_error *err);
/* A quote in one request (md_sources__url's parts): the key checked, fetch run, the quote
 * named symbol into *out. 0 or MD_E*. */
int md_sources__quote1(md_provider *p, md_sources__fetch_fn fetch, const char *path,
                       const char *symbol, const char *rest, const char *key_param, md_quote *out,
                       md_fetch_meta *meta, md_error *err);
/* Bars in one request: fetch of url, put on the UTC grid (md_sources__on_grid), then the
 * bars with start <= ts < end appended to out (md_sources__emit). The count or MD_E*. */
int md_sources__bars1(md_provider *p, md_sources__fetch_fn fetch, const char *url,
                      const char *symbol, md_interval iv, int64_t start, int64_t end,
                      md_bar_vec *out, md_fetch_meta *meta, md_error *err);
/* A provider's live row b folded into the bar a of the same bucket before it: the same
 * values twice are one bar; else a's open, the high and low over both, b's close, volumes
 * summed (yfinance's merge of Yahoo's live row: the period so far, then today). */
void md_sources__merge_live(md_bar *a, const md_bar *b);
/* Intraday bars on the interval's UTC grid (API.md: buckets are aligned in UTC), for one
 * answer's bars in tmp (for [start, end) of symbol; any order, sorted here). Two kinds of
 * bar are off it:
 * - the live row: during a session Yahoo ends an answer with a row stamped at the last
 *   trade. A LAST bar off the grid, stamped off the minute or sharing its bucket with the
 *   bar before it, is folded into its bucket (into that bar, as yfinance merges it: first
 *   open, high and low over both, its close, volumes summed; else it becomes that bucket's
 *   bar);
 * - bars stamped at the session open: Yahoo's 60m bars and Twelve Data's 1h and 4h bars of
 *   a New York stock start at 09:30 (13:30 or 14:30 UTC), each straddling two UTC buckets,
 *   so none can be placed. When any other bar is off the grid, tmp is replaced by the bars
 *   of the coarsest finer interval on whose grid they all lie (30m for :30), asked again
 *   through the provider's bars function in chunks of its max range, aggregated into iv
 *   (md_bars_aggregate). kept_from (may be NULL: any time) gives the oldest time the
 *   provider keeps bars of that finer interval (Yahoo: 30m for 60 days); a range starting
 *   before it is MD_EINTERVAL, the message saying why, and the caller's failover goes on.
 * Daily and coarser intervals are left alone. 0 or MD_E*. */
int md_sources__on_grid(md_provider *p, const char *symbol, md_interval iv, int64_t start,
                        int64_t end, int64_t (*kept_from)(md_interval g, int64_t now),
                        md_bar_vec *tmp, md_fetch_meta *meta, md_error *err);

/* -- corporate actions (actions.c) --------------------------------------------------------- */

/* How one provider endpoint spells its splits or dividends (a row of the provider's table):
 * list    the key of the array in the answer's object; NULL: the answer is the array
 * date    the ex-date field, "YYYY-MM-DD"
 * num/den splits: the new-share and old-share fields; den NULL: num is one decimal factor,
 *         new shares per old ("4.0000", "0.1000"), read as the smallest fraction
 * amount  dividends: the amount as paid (not adjusted for later splits)
 * currency, pay  dividends: the item's currency and pay-date fields, NULL when it has none */
typedef struct md_sources__act_form {
    uint8_t type; /* MD_ACT_SPLIT or MD_ACT_DIVIDEND */
    const char *list, *date, *num, *den, *amount, *currency, *pay;
} md_sources__act_form;
/* Appends the actions of root written in form f to out in core/action.h's conventions
 * (source id, amounts in the major unit of the item's currency, else of `currency`, which
 * may be NULL; 1:1 splits and zero amounts skipped). The count, or MD_EMALFORMED naming
 * provider and item with out unchanged. A null list is an empty one. */
int md_sources__read_actions(const char *provider, md_source_id id, const md_sources__act_form *f,
                             const json_t *root, const char *currency, md_action_vec *out,
                             md_error *err);
/* A provider's reading of one actions answer (dividends 0: the splits endpoint's) with the
 * HTTP status it came with: appended to out, what it says of the symbol into *ref (may be
 * NULL). The count or MD_E*. */
typedef int (*md_sources__act_root_fn)(const json_t *root, long status, int dividends,
                                       md_action_vec *out, md_source_ref *ref, md_error *err);
/* The actions parser entry points of providers.h: body as JSON, then read. */
int md_sources__parse_actions(const char *provider, md_sources__act_root_fn read, const char *body,
                              size_t len, int dividends, md_action_vec *out, md_error *err);
/* obj's field key (a string; absent or null: "") into ref->exchange, or MD_EMALFORMED
 * naming the field when it is another type. */
int md_sources__ref_exchange(const char *provider, const json_t *obj, const char *key,
                             md_source_ref *ref, md_error *err);
/* The profile parser entry points of providers.h: body as JSON, then read (*ref cleared). */
int md_sources__parse_profile(const char *provider,
                              int (*read)(const json_t *, md_source_ref *, md_error *),
                              const char *body, size_t len, md_source_ref *ref, md_error *err);
/* One actions request: url fetched (md_sources__get_json with refusal), its answer read. */
int md_sources__act_get(md_provider *p, const char *url, md_sources__refusal_fn refusal,
                        md_sources__act_root_fn read, int dividends, md_action_vec *out,
                        md_source_ref *ref, md_fetch_meta *meta, md_error *err);
/* The kinds of request of a provider's actions (md_sources__act_fetch_fn). */
#define MD_SOURCES_ACT_SPLITS 0
#define MD_SOURCES_ACT_DIVIDENDS 1
#define MD_SOURCES_ACT_PROFILE 2 /* the symbol's reference data (its exchange), no actions */
/* A reader of a profile answer: what it says of the symbol into *ref. 0 or MD_EMALFORMED. */
typedef int (*md_sources__profile_fn)(const json_t *root, md_source_ref *ref, md_error *err);
/* The profile request of kind 2: {base}{path}{symbol}{key_param}{key} (md_sources__url)
 * fetched with refusal, its answer read by read. 0 or MD_E*. */
int md_sources__profile_get(md_provider *p, const char *path, const char *symbol,
                            const char *key_param, md_sources__refusal_fn refusal,
                            md_sources__profile_fn read, md_source_ref *ref, md_fetch_meta *meta,
                            md_error *err);
/* One endpoint of a provider's actions: kind 0 splits, 1 dividends, appended to out (and
 * what the answer says of the symbol into *ref); kind 2 (MD_SOURCES_ACT_PROFILE) the
 * provider's reference data of the symbol, into *ref only (ref->exchange), or 0 at once,
 * with no request, when the provider has nothing to ask there. The count or MD_E*. */
typedef int (*md_sources__act_fetch_fn)(md_provider *p, int kind, const char *symbol,
                                        md_action_vec *out, md_source_ref *ref, md_fetch_meta *meta,
                                        md_error *err);
/* The vtable's `actions` of a provider with a splits and a dividends endpoint: the key
 * checked, splits then dividends fetched, those with start <= ex_date < end appended to out
 * with symbol set. A refusal of the dividends by the plan (MD_EUNAUTHSRC) leaves the splits
 * as the answer and is logged with the provider's words; any other error, or a refusal of
 * the splits, is the call's (the manager then asks the next source). Once both answered (a
 * plan refusal of the dividends included), fetch is called once more with kind 2 (the
 * reference profile): its failure, whatever it is (not found, refused, rate limited,
 * malformed, timeout), never fails the call; it is logged at INFO and ref->exchange stays
 * "". Its request goes through meta as the others (meta->requests counts it, so the manager
 * charges it to the provider's and the reference class's budgets; meta->http_status is the
 * last request's, the profile's). */
int md_sources__actions2(md_provider *p, md_sources__act_fetch_fn fetch, const char *symbol,
                         int64_t start, int64_t end, md_action_vec *out, md_source_ref *ref,
                         md_fetch_meta *meta, md_error *err);
/* Defines a providers.h actions parser fn reading with read (md_sources__parse_actions). */
#define MD_SOURCES_ACTIONS_PARSER(fn, name, read)                                                  \
    int fn(const char *body, size_t len, int dividends, md_action_vec *out, md_error *err)         \
    {                                                                                              \
        return md_sources__parse_actions(name, read, body, len, dividends, out, err);              \
    }
/* Appends the actions of tmp with start <= ex_date < end to out, named symbol. The count. */
int md_sources__emit_actions(md_action_vec *tmp, const char *symbol, int64_t start, int64_t end,
                             md_action_vec *out);
/* Defines the vtable's `actions` function fn of a provider as md_sources__actions2 with its
 * fetch (a static function of the provider's file). */
#define MD_SOURCES_ACTIONS2(fn, fetch)                                                             \
    static int fn(md_source *src, const char *symbol, int64_t start, int64_t end,                  \
                  md_action_vec *out, md_source_ref *ref, md_fetch_meta *meta, md_error *err)      \
    {                                                                                              \
        return md_sources__actions2((md_provider *)src, fetch, symbol, start, end, out, ref, meta, \
                                    err);                                                          \
    }

/* -- numbers, times and bars (util.c) ------------------------------------------------------ */

/* A finite JSON number, or a string holding a plain decimal number ("148.7350",
 * "1.5e3"): 0 and *out, else -1 (null, other types, "NaN", "", "1,5", hex...). */
int md_sources__num(const json_t *v, double *out);
/* An integral JSON number (or integral real, or digit string) into *out; else -1. */
int md_sources__int(const json_t *v, int64_t *out);
/* Rounds v to `decimals` places so that the double is the one nearest the decimal
 * (removes float noise like 185.63999938964844 -> 185.64). decimals outside 0..10:
 * v unchanged. */
double md_sources__round(double v, int decimals);
/* 1 when every price is finite, volume finite and >= 0, vwap NAN or finite. */
int md_sources__bar_sane(const md_bar *b);

/* The exchange-local trading date of a daily stamp ts, as 00:00 UTC of that date:
 * stamps already at 00:00 UTC are taken as that date; others are moved into zone
 * (fallback_off seconds east of UTC when the zone is unknown or NULL). */
int64_t md_sources__exchange_day(int64_t ts, const char *zone, int32_t fallback_off);
/* The bucket start of a daily/weekly/monthly bar dated day (00:00 UTC of a date):
 * 1d itself; 1w the Monday of its week (a Sunday stamp, the start of a week for some
 * providers, goes to the next day); 1mo the 1st of its month. */
int64_t md_sources__day_bucket(int64_t day, md_interval iv);
/* Stamps b for iv from its epoch time t (intraday: t; daily and coarser: the bucket of its
 * trading date in zone, md_sources__exchange_day) and pushes it onto tmp: 0, or -1 with
 * nothing pushed when b is not sane (md_sources__bar_sane). */
int md_sources__push_stamped(md_bar_vec *tmp, md_bar *b, int64_t t, md_interval iv,
                             const char *zone, int32_t fallback_off);
/* Sorts and dedups tmp, then appends to out the bars with start <= ts < end. Returns
 * the count appended. */
int md_sources__emit(md_bar_vec *tmp, int64_t start, int64_t end, md_bar_vec *out);
/* The last step of a parser: every bar of tmp sorted, deduplicated and appended to out, and
 * tmp freed. Returns the count appended. */
int md_sources__emit_all(md_bar_vec *tmp, md_bar_vec *out);
/* An empty vector with room for the n bars a parser is about to read. */
void md_sources__bars_init(md_bar_vec *tmp, size_t n);
/* An empty bar (md_bar_init) of source id, for a parser to fill. */
md_bar md_sources__bar(md_source_id id);

/* -- time zones (core/tz.c) ---------------------------------------------------------------- */

/* The zone reader moved to core/ (calendars need it below sources/); these names stay for
 * the provider files. */
static inline int md_sources__tz_offset(const char *zone, int64_t utc_ts, int32_t *off)
{
    return md_tz_offset(zone, utc_ts, off);
}
static inline int md_sources__tz_local_to_utc(const char *zone, int64_t local_ts, int64_t *utc_ts)
{
    return md_tz_local_to_utc(zone, local_ts, utc_ts);
}

#endif
