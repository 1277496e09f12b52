/* query.h - the read path shared by the REST server, the CLI and the stream:
 *
 *   request -> cache (when configured) -> store -> sources (when configured)
 *
 * md_services bundles the long-lived parts a request needs; every command builds it with
 * md_services_open (query/services.h) from the parts it asks for. The optional parts
 * (cache, source manager, stream hub, ...) are pointers: NULL means "not configured", and the
 * read path skips that step. */
#ifndef MD_QUERY_QUERY_H
#define MD_QUERY_QUERY_H

#include "analytics/adjust.h"
#include "analytics/cross.h"
#include "analytics/indicators.h"
#include "core/bar.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/workq.h"
#include "ingest/writer.h"
#include "sources/offline.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct md_cache;
struct md_srcmgr;
struct md_hub;
struct md_backfill;
struct md_quality_gauge;
struct md_services_run;
struct md_pipeline;

typedef struct md_services {
    const md_config *cfg;
    md_store *store;
    md_writer *writer;
    md_workq *workers;            /* blocking work off the event loops */
    md_workq *fetchers;           /* requests that may call providers (server/routes.h,
                                         MD_RT_FETCH); NULL without sources: workers */
    int64_t started_ms;           /* monotonic */
    atomic_int ready;             /* start-up done (read by the health route and the heartbeat) */
    struct md_cache *cache;       /* NULL: no cache */
    struct md_srcmgr *sources;    /* NULL: store only */
    struct md_hub *hub;           /* NULL: no streaming */
    struct md_backfill *backfill; /* backfill jobs (ingest/backfill.h); NULL without sources */
    struct md_quality_gauge *quality; /* NULL: the quality gauge is set only on request */
    struct md_pipeline *pipeline;     /* live indicators and screens (pipeline/); set by the
                                         command that runs it (serve), NULL otherwise */
    struct md_services_run *run;      /* what services.c started, and its life-cycle step */
} md_services;

/* -- latest price ---------------------------------------------------------------------- */

typedef struct md_price {
    md_quote q;         /* symbol, price, ts, source, quality (as stored) */
    const char *cache;  /* "l1", "l2" or "miss" */
    const char *origin; /* "quote" (a stored quote), "bar" (last close), "source" */
    int64_t as_of;      /* the time the price refers to: a quote's time, a close's end of
                         * bucket (never after the clock) */
    int64_t max_age_s;  /* the request's bound: a price older than this is stale */
    double t_weight;    /* the timeliness share of a score (quality weights, 0..1) */
} md_price;

/* Age and timeliness of a price as md_render_price_json writes them, at clock now: its age
 * in seconds (>= 0), whether it is stale (older than p->max_age_s, the client's bound), and
 * its score - the stored quality score with the timeliness share (p->t_weight) judged on
 * the market's clock: whole while the price is at most four days old (a weekend and a
 * holiday), fading to nothing over the next ten days, so an old close never grades above
 * B- with the default weights. Negative when the price has no score. */
int64_t md_price_age_s(const md_price *p, int64_t now);
int md_price_stale(const md_price *p, int64_t now);
double md_price_score(const md_price *p, int64_t now);

/* Latest price of a normalised symbol: a stored quote younger than max_age_s, else (when
 * sources are configured) a fresh one fetched, validated and stored, else the newest stored
 * quote or the last stored close. MD_ENOTFOUND for a symbol with nothing stored and nothing
 * fetched. */
int md_query_price(md_services *svc, const char *symbol, int64_t max_age_s, md_price *out,
                   md_error *err);
/* Same, and with source >= 0 (an md_source_id, ?source=NAME) that source alone is asked,
 * whatever the age of the stored quote, and its error is returned when it fails (no
 * failover, no fallback to the store). When every source fails, the stored value is the
 * answer if there is one; otherwise MD_ERATELIMIT (429), MD_ENOTFOUND, MD_ENOSOURCE (503)
 * with each source's reason. */
int md_query_price_from(md_services *svc, const char *symbol, int64_t max_age_s, int source,
                        md_price *out, md_error *err);

/* Where fetched and pushed data goes: a sink (sources/offline.h) that hands quotes and
 * bars to k->svc->writer (validated, stored, then cache and stream) as writes of the given
 * origin, counting the rows it accepted and rejected. The callbacks return 0 when every row
 * was accepted, MD_EBAR when some were rejected (logged), or a store error. One keep per
 * thread that uses it. */
typedef struct md_query_keep {
    md_services *svc;
    md_write_origin origin;
    size_t accepted, rejected;
} md_query_keep;
void md_query_sink(md_query_keep *k, md_services *svc, md_write_origin origin, md_tick_sink *out);

/* Fetches the latest quote through the source manager (source: md_source_id alone, or
 * -1 for failover) and stores it through the writer. The manager's errors, or
 * MD_EMALFORMED when the quote fails validation. MD_ENOSOURCE without sources. */
int md_query_fetch_quote(md_services *svc, const char *symbol, int source, md_quote *out,
                         md_error *err);
/* Fetches bars of iv in [start, end) through the manager, in chunks the sources accept
 * (at most 32 of them, the newest when the range is longer), and stores them through the
 * writer. *fetched = bars received, *stored = bars accepted by the writer, *answered_by =
 * the source of the last chunk (each may be NULL). Stops at the first failing chunk and
 * returns its error (what earlier chunks brought stays stored). */
int md_query_fetch_bars(md_services *svc, const char *symbol, md_interval iv, int64_t start,
                        int64_t end, int source, size_t *fetched, size_t *stored, int *answered_by,
                        md_error *err);

/* Calls fn(ctx, i) for every i in [0, n) - one symbol of a request that reads several -
 * with up to sources.request_concurrency of them at once: on the calling thread and on
 * svc->fetchers threads that are free (core/workq.h md_workq_each), each under the calling
 * thread's time budget (md_srcmgr_budget_begin), so that a symbol whose sources hang spends
 * the request's budget alongside the others rather than before them. Returns when every
 * call has returned. fn must be thread-safe; results go to ctx, one slot per i. */
void md_query_each(md_services *svc, size_t n, md_item_fn fn, void *ctx);

/* Same without asking the sources: the stored quote or the last stored close. */
int md_query_price_stored(md_services *svc, const char *symbol, md_price *out, md_error *err);

/* Writes the /price JSON object for p: {"symbol","price","timestamp","as_of","age_s",
 * "stale","source","quality":{"score","grade"}[,"volume","bid","ask"],"cache"}. */
void md_render_price_json(md_buf *b, const md_price *p);

/* -- paging ------------------------------------------------------------------------------
 *
 * Every list answer is complete or says how to continue: a limited answer takes the OLDEST
 * end of its range (order=desc: the newest) and, when the range holds more rows, carries
 * "truncated": true and "next": the URL of the same request whose `start` (order=desc:
 * `end`) is where this page stopped; the server adds `Link: <next>; rel="next"`. Following
 * the links returns every row of the range exactly once, in order. */

/* Builds the URL of the request being answered with one parameter set to another value
 * (the server's md_http_link); url appends it to out. */
typedef struct md_link {
    void (*url)(void *ctx, const char *name, const char *value, md_buf *out);
    void *ctx;
} md_link;

/* Where a limited answer stopped. */
typedef struct md_page {
    int truncated;     /* the range holds rows after this answer */
    const char *param; /* with truncated: the parameter the next page sets ("start", "end") */
    int64_t next;      /* and its value, a timestamp */
} md_page;

/* Appends ,"truncated":true|false and, when truncated and link is given, ,"next":"<url>";
 * the URL also goes to next_url (may be NULL). */
void md_render_page_json(md_buf *b, const md_page *p, const md_link *link, md_buf *next_url);
/* Opens a series' JSON object: {"symbol":"<symbol>","interval":"<iv>" (the caller appends
 * its own fields and the closing brace). */
void md_render_series_head(md_buf *b, const char *symbol, md_interval iv);

/* -- historical bars ------------------------------------------------------------------- */

/* Which hours of an intraday series a request keeps (session=): every bar (all, the
 * default), the bars of its calendar's extended hours (extended: pre-market, regular
 * session, post-market), or of its regular sessions (regular: a lunch break left out). A bar
 * is kept when its bucket overlaps those hours. Daily and coarser bars are whole sessions
 * (store.h md_store_set_calendars) whatever it says. */
typedef enum md_session_sel {
    MD_SESSION_ALL = 0,
    MD_SESSION_EXTENDED,
    MD_SESSION_REGULAR,
} md_session_sel;

/* The parameter's word for sel ("all", "extended", "regular"). */
const char *md_session_name(md_session_sel sel);

/* Leaves in bars[0..n) (sorted) only those of sel for the symbol's calendar (calendar/
 * symbols.c); returns how many are left. Everything stays for MD_SESSION_ALL, a daily or
 * coarser iv, or a configuration whose calendars cannot be read. */
size_t md_query_session_filter(const md_services *svc, const char *symbol, md_interval iv,
                               md_session_sel sel, md_bar *bars, size_t n);

typedef struct md_history_req {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    int64_t start, end;     /* [start, end) */
    size_t limit;           /* at most this many bars (0 = no limit): see "paging" above */
    int desc;               /* order=desc: the newest end first, newest bar first */
    int partial_exclude;    /* partial=exclude: leave partial bars out (md_bar_partial) */
    int cached_only;        /* never ask the sources */
    int source;             /* md_source_id to ask alone, or -1 */
    int csv;                /* format=csv */
    const md_link *link;    /* URLs of other pages; NULL: none (the CLI) */
    md_adjust adjust;       /* adjust=none|splits|all (md_history_req_parse: splits) */
    md_session_sel session; /* session=all|extended|regular (intraday) */
} md_history_req;

/* The start and end parameters of a range (md_time_parse_str forms), read through get: each
 * one given replaces *start or *end and sets bit 1 (start) or 2 (end) of *given (may be
 * NULL). MD_ETIMERANGE unless end > start; errors name the parameter. */
int md_query_time_range(const char *(*get)(void *ctx, const char *name), void *ctx, int64_t *start,
                        int64_t *end, int *given, md_error *err);

/* Fills req from request parameters: get(ctx, "start") returns the raw value or NULL.
 * Names: interval, start, end, limit, order (asc|desc), partial (include|exclude), format,
 * cached_only, source, adjust, session (all|extended|regular). Errors name the parameter (MD_EINTERVAL, MD_ETIMERANGE, MD_EPARAM).
 * symbol NULL: req->symbol is left empty (the multi-symbol request sets it per symbol). */
int md_history_req_parse(md_history_req *req, const char *symbol,
                         const char *(*get)(void *ctx, const char *name), void *ctx,
                         const md_config *cfg, md_error *err);

/* What an adjusted answer rests on, said in every adjusted answer (docs/API.md
 * "Adjustment"): a quant must be able to tell "no split" from "never asked". */
typedef struct md_adj_note {
    md_adjust mode;
    int64_t checked; /* when the sources were last asked for the symbol's actions; 0: never */
    uint8_t dividends_refused; /* the source that answered then without dividends; 0: none */
    size_t applied;            /* actions in the factors */
    size_t skipped;            /* dividends left out (no close before the ex-date) */
} md_adj_note;

/* One page of bars. */
typedef struct md_history {
    md_bar_vec bars;  /* oldest first (also for order=desc: reverse to render) */
    md_bar_span span; /* judges which bars are partial (md_bar_span_partial) */
    md_page page;
    const char *from; /* "store", "sources" or "mixed" */
    md_adj_note adj;  /* what the adjustment of the bars rested on */
} md_history;

void md_history_init(md_history *h);
void md_history_deinit(md_history *h);

/* Whether ?source=NAME (an md_source_id; -1: none) can be asked when the request may ask the
 * sources (not cached_only): MD_ENOSOURCE without sources or when it is disabled (the reason
 * said), MD_EPARAM when it is not a provider; 0 otherwise. */
int md_query_source_check(md_services *svc, int source, int cached_only, md_error *err);

/* Bars for the request (aggregated from finer stored bars when needed; missing ranges
 * fetched from the sources when configured), at most req->limit of them from the end of
 * the range the request's order takes, and where the next page starts. MD_ENOTFOUND for a
 * symbol that has no data at all. */
int md_query_history(md_services *svc, const md_history_req *req, md_history *out, md_error *err);

/* Reverses bars in place (order=desc answers are rendered newest first). */
void md_bars_reverse(md_bar *v, size_t n);

/* The /historical JSON document ({"symbol","interval","bars","count","from","truncated"
 * [,"next"]}); the next page's URL also goes to next_url (may be NULL). */
void md_render_history_json(md_buf *b, const md_history_req *req, const md_history *h,
                            md_buf *next_url);

/* -- several symbols' bars (history_multi.c) ----------------------------------------------
 *
 * GET /historical?symbols=A,B,C and `mdagent query A B C`: long-format rows ordered by symbol
 * (in the order asked) then time. A symbol's rows are what md_query_history answers it with
 * the request's range, order, partial rule and adjustment - its /historical/{symbol} bars -
 * and `limit` bounds the rows of the whole page. A page that stops before the end of the
 * list says where the next one starts with a cursor: "I" (at symbol I of the list, from the
 * start of its range) or "I,T" (at symbol I from T: its `start`, order=desc its `end`), the
 * `cursor` parameter of the next page's URL. A symbol that fails (not a symbol, no data, its
 * sources failing) is reported by the page that reached it, so following the pages gives
 * every row and every error once. */

typedef struct md_multi_item {
    char *asked;                    /* as given (heap) */
    char symbol[MD_SYMBOL_MAX + 1]; /* normalised; "" when not a symbol */
    int invalid;                    /* not a symbol (MD_ESYMBOL) */
    int repeat;                     /* the same symbol as an earlier item: left out */
} md_multi_item;

typedef struct md_multi_req {
    md_history_req base; /* range, page size (limit), order, partial, format, adjust, link
                              (the next page's URL sets "cursor"); base.symbol is unused */
    md_multi_item *item; /* heap (md_multi_req_deinit) */
    size_t n;            /* items */
    size_t valid;        /* distinct valid symbols */
    size_t from;         /* the cursor: the item the page starts at */
    int has_from_ts;     /* and where in its range it starts */
    int64_t from_ts;
} md_multi_req;

/* Fills r from the symbols symbols[0..n) (copied) and the request parameters of
 * md_history_req_parse plus `cursor`. MD_EPARAM for an empty list, more than max_symbols
 * (0: no bound) or a bad cursor, MD_ESYMBOL when no item is a symbol, and the errors of
 * md_history_req_parse. r is always to be md_multi_req_deinit'ed. */
int md_multi_req_parse(md_multi_req *r, const char *const *symbols, size_t n,
                       const char *(*get)(void *ctx, const char *name), void *ctx,
                       const md_config *cfg, size_t max_symbols, md_error *err);
void md_multi_req_deinit(md_multi_req *r);

/* Where the walk over the symbols goes: rows gets each answered symbol's page of bars in
 * the answer's order (a non-zero return stops the walk and is returned), error each item
 * that failed (symbol: the normalised form, or the item as given when it is not a symbol). */
typedef struct md_multi_sink {
    int (*rows)(void *ctx, const char *symbol, const md_history *h, md_error *err);
    void (*error)(void *ctx, const char *symbol, int rc, const char *message);
    void *ctx;
} md_multi_sink;

typedef struct md_multi_page {
    size_t count;  /* rows given to the sink */
    int truncated; /* the list goes on after this page */
    size_t next;   /* with truncated: the cursor of the next page */
    int has_next_ts;
    int64_t next_ts;
    const char *from; /* "store", "sources" or "mixed" over the rows */
} md_multi_page;

/* One page of r (from its cursor, at most r->base.limit rows; 0: every row). Errors that
 * concern every symbol (the store, a bad parameter) end the walk and are returned; the
 * others go to sink->error. */
int md_query_history_multi(md_services *svc, const md_multi_req *r, const md_multi_sink *sink,
                           md_multi_page *out, md_error *err);
/* The cursor of the page after p ("I" or "I,T") into out. */
void md_multi_cursor(const md_multi_page *p, md_buf *out);

/* The /historical?symbols= answer of one page: JSON {"symbols","interval","order"?,"bars":
 * [{"symbol",...Bar}],"count","from","adjust","adjustments"?,"errors","truncated","next"?} or
 * CSV (symbol,timestamp,...) into body, its content type into *ct, the next page's URL
 * (r->base.link) into next, and for CSV the failed items as "SYMBOL:code, ..." (characters
 * outside a symbol's percent-encoded) into csv_errors. */
int md_query_history_multi_render(md_services *svc, const md_multi_req *r, md_buf *body,
                                  const char **ct, md_buf *next, md_buf *csv_errors, md_error *err);

/* -- adjustment on read (adjust.c; analytics/adjust.h has the formulas) -------------------- */

/* The factors of symbol's series of interval iv under mode, from its stored actions and
 * bars (anchored at its newest stored bar). out is owned by the caller (md_adj_plan_deinit);
 * empty (identity) for MD_ADJUST_NONE or a symbol without actions in effect. */
int md_query_adjust_plan(md_services *svc, const char *symbol, md_interval iv, md_adjust mode,
                         md_adj_plan *out, md_error *err);
/* Adjusts raw bars[0..n) of (symbol, iv) in place with plan p; a bar that spans an ex-date is
 * rebuilt from the finer stored bars inside it when there are any. */
void md_query_adjust_with(md_services *svc, const char *symbol, md_interval iv,
                          const md_adj_plan *p, md_bar *bars, size_t n);
/* The note of an answer asked with mode and adjusted by p (the symbol's reference read from
 * the store). */
void md_query_adjust_note(md_services *svc, const char *symbol, md_adjust mode,
                          const md_adj_plan *p, md_adj_note *out);
/* ,"adjust":"<mode>","adjustment":{...} (the object only for splits and all). */
void md_render_adjust_json(md_buf *b, const md_adj_note *n);
/* The object alone: {"mode","actions":"checked"|"unchecked","checked_at","applied","skipped"},
 * and for mode all what its dividends rest on (md_render_dividends_json). */
void md_render_adjustment_json(md_buf *b, const md_adj_note *n);
/* ,"dividends":"checked"|"not_offered"|"unchecked"[,"dividends_source":"<name>"]: whether the
 * last actions check (at checked, 0: never) had the dividends, or the source that answered it
 * did not offer them (refused_by: its plan refused them; the splits came alone). */
void md_render_dividends_json(md_buf *b, int64_t checked, uint8_t refused_by);
/* The two above in one call: the one step the read paths add after reading raw bars; note
 * (may be NULL) says what the adjustment rested on. */
int md_query_adjust_bars(md_services *svc, const char *symbol, md_interval iv, md_adjust mode,
                         md_bar *bars, size_t n, md_adj_note *note, md_error *err);
/* Adjusted bars on the stream (stream_adjust.c): serves the channels bar.<interval>@splits
 * and @all of hub (a handler and an observer on it): each bar published on bar.<interval>,
 * adjusted as md_query_adjust_bars does, with "adjust" and "adjustment". Free it before the
 * hub, after every session is gone. */
typedef struct md_stream_adjust md_stream_adjust;
md_stream_adjust *md_stream_adjust_new(md_services *svc, struct md_hub *hub);
void md_stream_adjust_free(md_stream_adjust *sa);
/* The adjust parameter, in any case: NULL is the default (splits); MD_EPARAM for another
 * word. */
int md_query_adjust_parse(const char *v, md_adjust *out, md_error *err);
/* The cached_only parameter (history.c): NULL is false (ask the sources), a bare
 * "?cached_only" and true/1/yes are true, false/0/no false, in any case; MD_EPARAM for
 * another word. */
int md_query_cached_only_parse(const char *v, int *out, md_error *err);

/* -- corporate actions (actions.c) ------------------------------------------------------- */

struct md_source_ref;

/* Stores actions a[0..n) (sorted by symbol in place), then for each symbol whose records
 * changed: findings where another provider reports an action otherwise (action_disagreement),
 * and its cached answers invalidated in every agent. *changed (may be NULL) = new or changed
 * records. Store errors. */
int md_query_put_actions(md_services *svc, md_action *a, size_t n, size_t *changed, md_error *err);
/* Asks the sources for symbol's actions when configured and not asked within
 * sources.actions_refresh_s (a failed ask: not again for a minute), stores them and notes
 * when (md_symbol_ref.actions_checked; the symbol's cached answers are invalidated, since they
 * say when). Runs on a fetch worker, within the request's time budget. Returns 0 (asked, or
 * no need), or the sources' error (in err, may be NULL). */
int md_query_actions_refresh(md_services *svc, const char *symbol, md_error *err);
/* The stored actions of symbol with start <= ex_date < end (every source's record), after
 * asking the sources when configured and the symbol's were not asked within
 * sources.actions_refresh_s (never with cached_only; their failure, if they were asked and
 * failed, in *src_err, may be NULL). Appends to out; returns the count. */
int md_query_actions(md_services *svc, const char *symbol, int64_t start, int64_t end,
                     int cached_only, md_action_vec *out, md_error *src_err, md_error *err);
/* Copies what a source said of a symbol (currency as its major unit and as reported, zone)
 * into ref. */
void md_query_symbol_ref_note(md_symbol_ref *ref, const struct md_source_ref *sr, uint8_t source);
/* The /actions JSON document: every record, "applied" on those the adjustment uses, and
 * whether the dividends were checked (md_render_dividends_json). */
void md_render_actions_json(md_buf *b, const char *symbol, const md_action *a, size_t n,
                            const md_symbol_ref *ref);
/* The symbol's data changed in a way the writer did not see (its actions): its cached answers
 * are invalidated here and in every agent, and the hot ones rendered again. */
void md_query_cache_symbol_changed(md_services *svc, const char *symbol);

/* -- analytics ---------------------------------------------------------------------------- */

/* /analytics/{symbol}/indicators: bars of the request's range (paged like /historical: the
 * next page's URL goes to next_url, may be NULL), then each indicator named in
 * names ("sma:20,rsi:14,...", see analytics/indicators.def) as a series aligned with the bars
 * (null during warm-up), computed over the stored series from its first bar (the stored bars
 * before the range are streamed through the indicators in bounded memory), so a value does
 * not depend on the range, the limit or the other names. MD_EPARAM for a bad list. */
int md_query_indicators(md_services *svc, const md_history_req *req, const char *names, md_buf *out,
                        md_buf *next_url, md_error *err);
/* The stored series of (symbol, iv) as the indicators read it (the one path for REST, live
 * indicators and screens): its bars are stored at iv or aggregated from a finer interval
 * that divides it, and it begins at its first stored bar. */
typedef struct md_series_extent {
    int64_t first, last;    /* the buckets of iv of the first and last stored bar over iv and
                             * those finer intervals (md_store_bucket_of) */
    md_interval finest;     /* the finest of them holding bars (bounds a read window's bars) */
    int any;                /* 0: nothing stored */
    md_session_sel session; /* the hours a scan keeps (md_query_session_filter); set by the
                             * caller after md_query_series_extent, which sets all */
} md_series_extent;
int md_query_series_extent(md_services *svc, const char *symbol, md_interval iv,
                           md_series_extent *out, md_error *err);

typedef void (*md_query_bars_fn)(void *ctx, const md_bar *bars, size_t n);
/* Calls fn with the series' bars of iv whose buckets start in [from, to) (from before the
 * first bar: from the first), oldest first, as the read path answers them
 * (md_store_get_bars_agg), adjusted by plan (md_query_adjust_plan; NULL: as stored), in
 * windows of at most 65536 bars of the finest stored interval (bounded memory over any
 * history). The store's errors. */
int md_query_scan_series(md_services *svc, const char *symbol, md_interval iv,
                         const md_series_extent *x, const md_adj_plan *plan, int64_t from,
                         int64_t to, md_query_bars_fn fn, void *ctx, md_error *err);

/* The values of specs[0..n) at the newest bar of (symbol, iv) whose bucket starts before
 * `before` (MD_TS_MAX: the newest stored), computed as /analytics/{symbol}/indicators
 * answers them by default (from the first stored bar, adjusted for the recorded splits as
 * adjust=splits; psar seeded over the whole series): out[i][k] is
 * output k of specs[i]; *bar gets that bar. MD_ENODATA when there is no such bar. */
int md_query_ind_at(md_services *svc, const char *symbol, md_interval iv, const md_ind_spec *specs,
                    int n, int64_t before, md_bar *bar, double (*out)[MD_IND_MAX_OUTPUTS],
                    md_error *err);

/* -- cross-symbol analytics (cross.c; definitions in analytics/cross.h) ------------------------ */

typedef struct md_cross_req {
    md_symbol *symbols; /* heap (md_cross_req_deinit): the symbols asked, then a pair's and the
                           benchmark when not among them */
    size_t n;
    md_interval iv;
    int64_t start, end;
    md_ret_kind kind;
    md_align align;
    int csv;
    int cached_only;  /* never ask the sources (as /historical's cached_only) */
    md_adjust adjust; /* of every symbol's closes (as /historical; default splits) */
    size_t window;    /* rolling window in rows; 0: none */
    int has_pair;     /* pair[0], pair[1]: indices into symbols */
    size_t pair[2];
    size_t benchmark;    /* index into symbols, (size_t)-1: none */
    int benchmark_extra; /* the benchmark is the last symbol and was not asked for itself */
} md_cross_req;

/* Fills r from request parameters: symbols, interval, start, end, kind (simple, log), format
 * (json, csv), cached_only, adjust, and align (inner, outer) for returns, or window, pair and benchmark for
 * correlation (correlation set). MD_EPARAM, MD_ESYMBOL, MD_EINTERVAL, MD_ETIMERANGE naming
 * the parameter. r is always to be md_cross_req_deinit'ed. */
int md_cross_req_parse(md_cross_req *r, int correlation,
                       const char *(*get)(void *ctx, const char *name), void *ctx,
                       const md_config *cfg, md_error *err);
void md_cross_req_deinit(md_cross_req *r);
/* GET /analytics/returns: the aligned returns matrix (JSON columns, or wide CSV). The read
 * path's errors, prefixed with the symbol (a symbol without data: MD_ENOTFOUND). */
int md_query_returns(md_services *svc, const md_cross_req *r, md_buf *out, md_error *err);
/* GET /analytics/correlation: the Pearson matrix over the inner-aligned returns, with
 * beta, correlation and volatility against a benchmark, and rolling values over a window. */
int md_query_correlation(md_services *svc, const md_cross_req *r, md_buf *out, md_error *err);

/* /analytics/{symbol}/summary: returns, volatility (annualised), max drawdown, average
 * volume over the whole range asked (streamed over the store in bounded memory; req->limit
 * does not apply). */
int md_query_summary(md_services *svc, const md_history_req *req, md_buf *out, md_error *err);

/* 1 when the store knows the symbol (any bar or quote). */
int md_query_symbol_known(md_services *svc, const char *symbol);

/* -- answers: the cache-aware read path (cached.c) -------------------------------------- */

struct md_cache_entry;

/* A ready-to-send answer: either a cached body (entry, shared and immutable) or one built
 * for this request (body). */
typedef struct md_answer {
    const char *content_type;     /* static string */
    md_buf body;                  /* the answer when entry is NULL */
    md_buf next;                  /* the URL of the next page (paging); empty when none */
    struct md_cache_entry *entry; /* a cached answer; a reference this answer holds */
    const char *cache;            /* "l1", "l2", "miss"; NULL when the cache is off */
} md_answer;

void md_answer_init(md_answer *a);
void md_answer_deinit(md_answer *a); /* releases entry, frees body */
/* The bytes to send. */
const char *md_answer_body(const md_answer *a, size_t *len);

enum {
    MD_Q_NONBLOCK = 1, /* on an event loop: answer from L1 or return MD_EAGAIN */
    MD_Q_RETRY = 2,    /* a NONBLOCK attempt already missed L1 (count the miss once) */
};

/* The /price/{symbol} answer: L1 -> L2 -> store (md_query_price), cached on the way back;
 * the body's "cache" field tells which. max_age_s bounds the age of a cached answer. */
int md_query_price_answer(md_services *svc, const char *symbol, int64_t max_age_s, int flags,
                          md_answer *out, md_error *err);

/* The /historical/{symbol} answer (JSON or CSV as req asks), same path. */
int md_query_history_answer(md_services *svc, const md_history_req *req, int flags, md_answer *out,
                            md_error *err);

/* Wires svc->cache to svc->writer: after every committed write of a symbol its cached
 * answers are invalidated (here, in Redis, in the other agents) and written through: the
 * /price answer and the /historical answers clients were reading are rendered again from
 * the store and stored at both levels. */
void md_query_cache_attach(md_services *svc);

/* Warms the cache: for each of cfg->cache_warm_symbols (empty: cfg->sources_watchlist;
 * "*": every stored symbol) the
 * /price answer and the /historical answers of cfg->cache_warm_queries. Returns how many
 * answers are now cached. */
int md_query_cache_warm(md_services *svc);

#endif
