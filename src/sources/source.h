/* source.h - one data provider behind one vtable.
 *
 * Every provider (yahoo, alphavantage, finnhub, polygon, twelvedata) and the offline
 * sources (replay, simulator) implement md_source_vtable in one file each; adding a
 * provider is one file and one row in sources/providers.def (the registry, its config
 * keys and its stored number are generated from it). A source only
 * fetches and parses: it never writes to the store or the cache (the source manager hands
 * what it returns to the writer).
 *
 * Errors use one vocabulary whatever the provider said:
 *   MD_ENOTFOUND   unknown symbol / no data for it
 *   MD_ERATELIMIT  429, or a 200 that says "rate limit" (Alpha Vantage Note/Information)
 *   MD_EUNAUTHSRC  bad or missing API key (401/403, or a 200 saying so)
 *   MD_ETRANSIENT  5xx, connection reset, DNS/connect failure
 *   MD_ETIMEOUT    no answer within the timeout
 *   MD_EMALFORMED  a body that does not parse as the provider's format (never half a bar)
 *   MD_EINTERVAL   the provider does not offer this interval
 *   MD_ECANCELED   the caller cancelled the call (meta->cancel)
 * An empty range is an answer, not an error: bars() returns 0 (Finnhub "no_data", Twelve
 * Data "Data not found" / "No data is available on the specified dates", Polygon's empty
 * results), and the manager goes on to the next source.
 * A message names the provider once, at its start ("finnhub: ..."), and carries neither an
 * API key nor an upstream host or path: clients see these messages (logs may show the
 * URL, redacted, at debug level). */
#ifndef MD_SOURCES_SOURCE_H
#define MD_SOURCES_SOURCE_H

#include "core/action.h"
#include "core/bar.h"
#include "core/error.h"
#include "core/interval.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* A call's cancellation. Whoever no longer wants its answer (another source answered
 * first, the request's time is up) requests it; the call notices at once: its HTTP
 * transfer is woken and aborted (MD_ECANCELED), a retry's sleep ends. Thread-safe. */
typedef struct md_cancel {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* md_cancel_sleep */
    atomic_int requested;
    void (*wake)(void *ctx); /* the transfer in flight (md_cancel_set_wake), NULL when none */
    void *wake_ctx;
} md_cancel;

void md_cancel_init(md_cancel *c);
void md_cancel_deinit(md_cancel *c);
void md_cancel_request(md_cancel *c);
/* 1 once requested; 0 for NULL. */
int md_cancel_requested(md_cancel *c);
/* Sleeps ms milliseconds (monotonic) unless cancelled meanwhile; 1 when cancelled. A NULL c
 * just sleeps. */
int md_cancel_sleep(md_cancel *c, int64_t ms);
/* A transfer registers how to wake it while it runs (wake NULL: it ended). Returns 1 when
 * the cancellation was requested already (the transfer should not start). */
int md_cancel_set_wake(md_cancel *c, void (*wake)(void *ctx), void *ctx);

/* A call's terms (set by the caller before it; zero means "none") and what it learned
 * besides its result (filled on success and on failure). */
typedef struct md_fetch_meta {
    /* -- out -- */
    int http_status;    /* last HTTP status, 0 when no response */
    int retry_after_s;  /* from a 429's Retry-After (seconds or HTTP date); 60 for a
                          * "per minute" throttle sent without one; -1 when absent */
    int64_t latency_ms; /* total time of the call, all pages included */
    int requests;       /* HTTP requests made (pagination, fallbacks) */
    int day_exhausted;  /* the provider said its daily quota is used up (Alpha Vantage's
                           "... requests per day" notice): no use asking before its day resets */
    /* -- in -- */
    int64_t deadline_ms; /* md_mono_ms() time by which the call must be over: no request
                            starts after it and each one's timeout ends there; 0 = none */
    md_cancel *cancel;   /* NULL = never cancelled */
    int asset;           /* the symbol's asset class (MD_AS_BIT_*, core/symconf.h) */
    /* The request budget: `granted` requests were reserved for this call (0 = no budget is
     * kept: tests, tools). A call needing more asks `more` for them before sending any
     * (md_sources__reserve: a range of Alpha Vantage months), or one at a time (a Polygon
     * page, a fallback request): 1 granted, 0 refused with err set (MD_ERATELIMIT). */
    int granted;
    int (*more)(void *ctx, int n, md_error *err);
    void *more_ctx;
} md_fetch_meta;

typedef struct md_source md_source;

/* What a provider says about a symbol besides prices (its reference data). */
typedef struct md_source_ref {
    char currency[MD_CURRENCY_MAX]; /* as quoted ("USD", "GBp"); "" when not said */
    char zone[48];                  /* exchange IANA zone; "" when not said */
    char exchange[48]; /* the provider's name of the symbol's primary exchange, as given
                        * ("NMS", "XNGS", "NASDAQ NMS - GLOBAL MARKET"); "" when not said.
                        * calendar/ maps it to a calendar (md_cal_for_exchange) */
    /* an actions answer without dividends: the plan refused them (splits only;
     * md_sources__actions2) */
    int dividends_refused;
} md_source_ref;

typedef struct md_source_vtable {
    const char *name; /* "yahoo": API.md source name */
    md_source_id id;
    /* Latest quote for a normalised symbol. */
    int (*quote)(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                 md_error *err);
    /* Bars of interval iv with start <= ts < end, appended to out oldest first, each bar's
     * ts aligned to iv (daily bars: 00:00 UTC of the exchange-local trading date). Returns
     * the number appended (0 is a valid answer: no bars in the range). */
    int (*bars)(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                md_bar_vec *out, md_fetch_meta *meta, md_error *err);
    /* 1 when the provider offers interval iv. */
    int (*supports)(const md_source *src, md_interval iv);
    /* Longest range one bars() call should cover for iv (backfill chunking); 0 = any. */
    int64_t (*max_range_s)(const md_source *src, md_interval iv);
    void (*free)(md_source *src);
    /* Optional (NULL: the provider reports none): corporate actions of symbol with ex-dates in
     * [start, end), appended to out in core/action.h's conventions (amounts as paid, not
     * adjusted for later splits, in the major currency unit; source set), and what the
     * provider says of the symbol into *ref (may be NULL). A plan that does not include the
     * endpoint is MD_EUNAUTHSRC saying so. Returns the count appended. */
    int (*actions)(md_source *src, const char *symbol, int64_t start, int64_t end,
                   md_action_vec *out, md_source_ref *ref, md_fetch_meta *meta, md_error *err);
} md_source_vtable;

/* Common state; a provider's own struct begins with it. */
struct md_source {
    const md_source_vtable *vt;
    char *base_url; /* MDAGENT_<NAME>_URL or the provider's real address */
    char *api_key;  /* NULL for providers that need none; never logged */
    int timeout_ms;
};

/* Thin wrappers for tests and tools: a call without terms (meta, which may be NULL, is
 * cleared first and is all output), which also fills meta->latency_ms. */
int md_source_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err);
int md_source_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err);
const char *md_source_name_of(const md_source *src);
void md_source_free(md_source *src);

#endif
