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

#include "core/bar.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "core/workq.h"
#include "ingest/writer.h"
#include "sources/offline.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

struct md_cache;
struct md_srcmgr;
struct md_hub;
struct md_backfill;
struct md_quality_gauge;
struct md_services_run;

typedef struct md_services {
    const md_config *cfg;
    md_store *store;
    md_writer *writer;
    md_workq *workers;                /* blocking work off the event loops */
    int64_t started_ms;               /* monotonic */
    int ready;                        /* start-up done */
    struct md_cache *cache;           /* NULL: no cache */
    struct md_srcmgr *sources;        /* NULL: store only */
    struct md_hub *hub;               /* NULL: no streaming */
    struct md_backfill *backfill;     /* backfill jobs (ingest/backfill.h); NULL without sources */
    struct md_quality_gauge *quality; /* NULL: the quality gauge is set only on request */
    struct md_services_run *run;      /* what services.c started, and its life-cycle step */
} md_services;

/* -- latest price ---------------------------------------------------------------------- */

typedef struct md_price {
    md_quote q;         /* symbol, price, ts, source, quality */
    const char *cache;  /* "l1", "l2" or "miss" */
    const char *origin; /* "quote" (a stored quote), "bar" (last close), "source" */
} md_price;

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

/* Same without asking the sources: the stored quote or the last stored close. */
int md_query_price_stored(md_services *svc, const char *symbol, md_price *out, md_error *err);

/* Writes the /price JSON object for p. */
void md_render_price_json(md_buf *b, const md_price *p);

/* -- historical bars ------------------------------------------------------------------- */

typedef struct md_history_req {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    int64_t start, end; /* [start, end) */
    size_t limit;       /* newest `limit` bars of the range; 0 = no limit */
    int cached_only;    /* never ask the sources */
    int source;         /* md_source_id to ask alone, or -1 */
    int csv;            /* format=csv */
} md_history_req;

/* Fills req from request parameters: get(ctx, "start") returns the raw value or NULL.
 * Names: interval, start, end, limit, format, cached_only, source. Errors name the
 * parameter (MD_EINTERVAL, MD_ETIMERANGE, MD_EPARAM). */
int md_history_req_parse(md_history_req *req, const char *symbol,
                         const char *(*get)(void *ctx, const char *name), void *ctx,
                         const md_config *cfg, md_error *err);

/* Bars for the request (aggregated from finer stored bars when needed; missing ranges
 * fetched from the sources when configured). *from is "store", "sources" or "mixed".
 * MD_ENOTFOUND for a symbol that has no data at all. */
int md_query_history(md_services *svc, const md_history_req *req, md_bar_vec *out,
                     const char **from, md_error *err);

/* The /historical JSON document. */
void md_render_history_json(md_buf *b, const md_history_req *req, const md_bar *bars, size_t n,
                            const char *from);

/* -- analytics ---------------------------------------------------------------------------- */

/* /analytics/{symbol}/indicators: bars of the request's range, then each indicator named in
 * names ("sma:20,rsi:14,...", see analytics/indicators.def) as a series aligned with the bars
 * (null during warm-up), computed over the stored series from its first bar (the stored bars
 * before the range are streamed through the indicators in bounded memory), so a value does
 * not depend on the range, the limit or the other names. MD_EPARAM for a bad list. */
int md_query_indicators(md_services *svc, const md_history_req *req, const char *names, md_buf *out,
                        md_error *err);
/* /analytics/{symbol}/summary: returns, volatility (annualised), max drawdown, average
 * volume over the range. */
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
