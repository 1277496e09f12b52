/* manager.h - the source manager: which provider to ask, and whether to ask at all.
 *
 *   md_srcmgr_quote/bars -> coalesce identical in-flight fetches
 *                        -> one time budget for the fetch (the request's, md_srcmgr_budget_begin,
 *                           or sources.deadline_ms): no provider call outlives it
 *                        -> the candidates in priority order (or the one asked for): skipped
 *                           when disabled, the interval or the symbol's asset class is not
 *                           offered (symbolmap.h spells the symbol for each), the circuit of
 *                           the endpoint class is open, its rate limit (the provider's, the
 *                           endpoint class's, shared with the other agents through
 *                           md_srcmgr_quota) has no token, or its bulkhead is full
 *                        -> ask the first on the provider's own threads (at most
 *                           sources.max_concurrent calls per provider, sources.max_queued
 *                           waiting); retry transient errors with back-off and jitter within
 *                           the budget; when it has not answered within the hedge delay,
 *                           ask the next one too (hedging)
 *                        -> the first good answer wins and the others are cancelled; an empty
 *                           range (no bars) is not a good answer: the next source is asked
 *                        -> otherwise one error naming every source's reason
 *
 * The manager only fetches: callers hand what it returns to the writer (ingest/writer.h),
 * which validates and stores it. Every call blocks the calling thread (a worker, the
 * scheduler, the CLI) and must never run on an HTTP event loop. Thread-safe.
 *
 * Errors of a fetch:
 *   MD_ENOTFOUND   a source answered that the symbol is unknown (and none had data), or
 *                  no configured source offers the symbol's asset class
 *   MD_ERATELIMIT  every usable source was out of budget (or answered 429)
 *   MD_EINTERVAL   no source offers the interval, or the one that answered refused it
 *   MD_ETIMEOUT    the time budget ran out before any source answered
 *   MD_ENOSOURCE   nothing usable: the message lists each source and why
 *   with ?source=NAME (one source, no failover) that source's own error is returned
 *   (MD_EPARAM when it does not offer the symbol's asset class).
 * An empty answer (0 bars) is returned only when every source that answered had none. */
#ifndef MD_SOURCES_MANAGER_H
#define MD_SOURCES_MANAGER_H

#include "core/bar.h"
#include "core/config.h"
#include "core/error.h"
#include "sources/source.h"
#include "sources/manager_int.h"
#include "sources/offline.h"
#include "sources/registry.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_srcmgr md_srcmgr;

typedef struct md_srcmgr_opts {
    md_circuit_cfg circuit; /* one breaker per source and endpoint class */
    int max_retries;        /* retries of a transient failure on the same source */
    int64_t retry_base_ms, retry_max_ms;
    int64_t pause_ms;          /* pause after a 429 that carries no Retry-After */
    int64_t health_latency_ms; /* latency at which the health score's latency factor is 0.75 */
    double background_reserve; /* share of each rate limit background fetches leave alone */
    /* zero below: the defaults in brackets, or "none" */
    int64_t deadline_ms;  /* time budget of a fetch without a request's (none) */
    int64_t hedge_ms;     /* hedge delay, and its most (no hedging) */
    int hedge_percentile; /* with >= 10 answers the delay is this latency percentile (off) */
    int max_concurrent;   /* provider calls in flight per provider [4] */
    int max_queued;       /* calls waiting for them [8] */
} md_srcmgr_opts;

/* Options from the sources.* keys of cfg. */
void md_srcmgr_opts_from_config(md_srcmgr_opts *o, const md_config *cfg);

/* An empty manager (sources are added with md_srcmgr_add). */
md_srcmgr *md_srcmgr_new(const md_srcmgr_opts *o);
/* Stops nothing (feeds are stopped by md_feeds_stop) and frees every source. NULL is fine. */
void md_srcmgr_free(md_srcmgr *m);

/* Adds a source under its vtable name and takes ownership of src. priority is its place in
 * the failover order (lower first; -1 = listed but not in the order). With src NULL the
 * source is listed as disabled for `reason` (e.g. its API key is not set). per_minute and
 * per_day are its rate limits (0 = none). MD_EINVAL when the name is already present. */
int md_srcmgr_add(md_srcmgr *m, const char *name, md_source *src, int priority, int per_minute,
                  int per_day, const char *reason);

/* Gives the listed source `name` a budget for one endpoint class on top of its own
 * (per_minute / per_day, 0 = none; a fetch needs a token from both). MD_EINVAL when name
 * is not listed. */
int md_srcmgr_set_class_limit(md_srcmgr *m, const char *name, md_endpoint_class cls, int per_minute,
                              int per_day);

/* Gives a listed source its per-second limit and the zone whose midnight starts its day
 * (NULL or "" = UTC; an unknown zone is UTC too). MD_EINVAL when name is not listed. */
int md_srcmgr_set_day(md_srcmgr *m, const char *name, int per_second, const char *zone);

/* -- budgets kept outside the process -------------------------------------------------------- */

/* One budget of a request: the provider's ("all") or an endpoint class's. */
typedef struct md_quota_budget {
    const char *scope; /* "all", "quote", "intraday", "daily", "reference" */
    int per_second, per_minute, per_day;
} md_quota_budget;

/* `n` requests to take from every budget of provider (with the API key whose hash is
 * key_tag: two keys are two budgets) at once, or from none. */
typedef struct md_quota_ask {
    const char *provider;
    const char *key_tag;
    md_quota_budget b[2];
    int nb;
    int n;
    double reserve;      /* background work: share of each limit to leave (0..1) */
    int64_t day;         /* the provider's day now (its number) ... */
    int64_t day_ends_ms; /* ... and when it ends (wall clock): per-day counts reset then */
} md_quota_ask;

/* A budget shared by every agent that sees the same store of it (query/ wires Redis). The
 * manager still keeps its own view and falls back on it alone while the shared one is
 * unavailable (a negative return): each agent then keeps within the whole budget itself. */
typedef struct md_srcmgr_quota {
    /* 1 taken, 0 refused (*retry_in_ms: when it might work, -1 never), < 0 unavailable */
    int (*take)(void *ctx, const md_quota_ask *a, int64_t *retry_in_ms);
    /* no request of provider/key_tag until until_ms (wall clock); never shortens a pause */
    void (*pause)(void *ctx, const char *provider, const char *key_tag, int64_t until_ms);
    /* requests that could go out now (*left, -1 unlimited) and when one comes back; < 0
     * unavailable */
    int (*remaining)(void *ctx, const md_quota_ask *a, int *left, int64_t *reset_ms);
    void *ctx;
} md_srcmgr_quota;
/* Shares the budgets through q (copied; ctx must outlive m). */
void md_srcmgr_set_quota(md_srcmgr *m, const md_srcmgr_quota *q);

/* Where the local budgets are kept across restarts when nothing shares them (query/ wires
 * the store): documents of one line each, keyed "quota:<provider>:<key tag>:<scope>". */
typedef struct md_srcmgr_persist {
    int (*load)(void *ctx, const char *key, char **text); /* 1 found (heap text), 0, < 0 */
    int (*save)(void *ctx, const char *key, const char *text);
    void *ctx;
} md_srcmgr_persist;
/* Reads the saved budgets of every listed source now, and saves them after every change
 * from here on. */
void md_srcmgr_set_persist(md_srcmgr *m, const md_srcmgr_persist *p);

/* -- the request's time budget ---------------------------------------------------------------- */

/* Every fetch the calling thread makes until md_srcmgr_budget_end stops at deadline_ms
 * (md_mono_ms time): the server sets it for a request that may call providers, counted
 * from the request's arrival, so that one request gets one budget however many fetches
 * it makes (/prices, the gaps of /historical). 0 = none. */
void md_srcmgr_budget_begin(int64_t deadline_ms);
void md_srcmgr_budget_end(void);
/* The calling thread's budget (0: none), for work it hands to other threads that fetch for
 * the same request (md_query_each). */
int64_t md_srcmgr_budget_get(void);

/* Creates a source by name (the registry: md_source_create). */
typedef int (*md_source_ctor)(const char *name, const md_config *cfg, md_source **out,
                              md_error *err);

/* Builds the manager from cfg: every name of sources.priority in that order (a source
 * whose constructor fails - e.g. a missing API key - is listed disabled with the reason;
 * MD_ECONFIG from a constructor is returned),
 * and the other registry sources listed as not enabled. Rate limits from
 * sources.<name>.per_minute / per_day and, per endpoint class,
 * sources.<name>.<class>.per_minute / per_day. *out is NULL (and 0 returned) when
 * sources.priority is empty. MD_ECONFIG for an unknown or repeated name (the message
 * lists the registry's names). */
int md_srcmgr_from_config(const md_config *cfg, md_source_ctor ctor, md_srcmgr **out,
                          md_error *err);

/* Test hooks: replace the clocks (monotonic and wall, milliseconds) and the sleep used
 * between retries, and seed the jitter. */
typedef struct md_srcmgr_clock {
    int64_t (*mono_ms)(void *ctx);
    int64_t (*wall_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *ctx;
} md_srcmgr_clock;
void md_srcmgr_set_clock(md_srcmgr *m, const md_srcmgr_clock *clk, uint64_t seed);

/* What a successful fetch tells besides its data. */
typedef struct md_fetch_result {
    int source;    /* md_source_id of the source that answered */
    int coalesced; /* 1: this call joined an identical fetch in flight (whose keep sink,
                    * not this call's, received the data) */
    int kept_rc;   /* what the keep sink returned (0 when there is none) */
} md_fetch_result;

/* source: -1, or the md_source_id to ask alone (no failover). background = 1 for
 * scheduled work, which leaves opts.background_reserve of every rate limit to interactive
 * requests. keep (may be NULL): where the data goes (the writer) - called once per fetch,
 * by the caller that made it, BEFORE callers that joined it are woken, so that they find
 * it stored. */
typedef struct md_fetch_opts {
    int source;
    int background;
    const md_tick_sink *keep;
} md_fetch_opts;
/* (A fetch's time budget is the thread's, md_srcmgr_budget_begin, or sources.deadline_ms
 * from its start, whichever ends first.) */

/* Latest quote of a normalised symbol. */
int md_srcmgr_quote(md_srcmgr *m, const char *symbol, const md_fetch_opts *fo, md_quote *out,
                    md_fetch_result *res, md_error *err);
/* Bars of iv with start <= ts < end, appended to out oldest first (0 appended is an
 * answer: the source has none in the range). */
int md_srcmgr_bars(md_srcmgr *m, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   const md_fetch_opts *fo, md_bar_vec *out, md_fetch_result *res, md_error *err);

/* Corporate actions of symbol with ex-dates in [start, end) (sources/source.h `actions`),
 * appended to out, from the first source in the failover order that reports actions (or
 * fo->source alone), through the reference endpoint class's budget; *ref (may be NULL)
 * gets what it said of the symbol. When that source's plan refused the dividends (its
 * splits alone, ref->dividends_refused), the sources after it are asked and the first that
 * has dividends adds them (its dividends only; ref->dividends_refused then 0); otherwise the
 * splits stand alone and ref says so. MD_ENOSOURCE when no enabled source reports actions. */
int md_srcmgr_actions(md_srcmgr *m, const char *symbol, int64_t start, int64_t end,
                      const md_fetch_opts *fo, md_action_vec *out, md_source_ref *ref,
                      md_fetch_result *res, md_error *err);
/* Shutdown: every fetch running now gives up at once (its calls cancelled, MD_ETIMEOUT to
 * its caller, who answers from the store when it can) and no later one asks a provider.
 * Before joining the threads that may be inside the manager, so that a provider that hangs
 * does not hold the shutdown for the rest of a time budget. */
void md_srcmgr_cancel_all(md_srcmgr *m);

/* 1 when source id (or any enabled source, for -1) can be asked for interval iv. */
int md_srcmgr_supports(md_srcmgr *m, int source, md_interval iv);
/* 1 when the source id is listed (enabled or not). */
int md_srcmgr_has(md_srcmgr *m, int source);
/* 0 when source id (an md_source_id; -1: any) can be asked alone, as ?source=NAME does;
 * MD_EPARAM when it is not configured, MD_ENOSOURCE when it is disabled (the reason said). */
int md_srcmgr_check_alone(md_srcmgr *m, int source, md_error *err);
/* Longest range one bars() call of source id should cover for iv (0 = any; for -1 the
 * smallest over the enabled sources). */
int64_t md_srcmgr_max_range_s(md_srcmgr *m, int source, md_interval iv);
/* The enabled source of that id, or NULL (the feeds use it). Owned by the manager. */
md_source *md_srcmgr_source(md_srcmgr *m, int source);
/* The symbol map the manager spells symbols with (sources.* and symbols: of its
 * configuration). Owned by the manager. */
const struct md_symbolmap *md_srcmgr_symbolmap(md_srcmgr *m);

/* Callers waiting on an identical fetch in flight (diagnostics and tests). */
int md_srcmgr_waiting(md_srcmgr *m);

/* Remembers when `key` was last fetched (the read path uses it so that a closed market,
 * whose newest quote stays old, is not asked again on every request). Keys in use:
 * "q|SYMBOL" a quote; "g|SYMBOL|iv|..." a /historical gap. */
void md_srcmgr_mark(md_srcmgr *m, const char *key);
/* Milliseconds since md_srcmgr_mark(key), or -1 when not remembered. */
int64_t md_srcmgr_since_ms(md_srcmgr *m, const char *key);

/* One row of GET /sources. */
typedef struct md_srcmgr_info {
    char name[24];
    int id;
    int enabled;
    int priority;             /* 1-based place in sources.priority, 0 when not in it */
    md_circuit_state circuit; /* the worst of the endpoint classes' */
    md_circuit_state circuits[MD_EP_COUNT]; /* per endpoint class */
    int in_flight, queued;                  /* calls running and waiting (its bulkhead) */
    int per_second;                         /* every request; 0 = none */
    int shared;                             /* the budget is shared with other agents */
    double health;                          /* 0..1 */
    int64_t requests, failures;
    int rl_remaining; /* -1 = unlimited */
    int64_t rl_reset_ms;
    int per_minute, per_day;        /* every request; 0 = none */
    md_rate_limit cls[MD_EP_COUNT]; /* per endpoint class, on top; 0 = none */
    char last_error[200];           /* redacted, no upstream address, "" when none */
    int64_t last_error_at;          /* epoch seconds, 0 = never */
    int64_t last_success;           /* epoch seconds, 0 = never */
    char reason[120];               /* why it is disabled, "" when enabled */
} md_srcmgr_info;

/* Number of listed sources; rows follow sources.priority, then the unlisted ones. */
size_t md_srcmgr_count(md_srcmgr *m);
int md_srcmgr_info_at(md_srcmgr *m, size_t i, md_srcmgr_info *out);
/* Enabled sources in the failover order. */
size_t md_srcmgr_enabled(md_srcmgr *m);
/* Refreshes the circuit-state and health-score gauges (called before /metrics renders,
 * since an open circuit turns half-open by the clock alone). */
void md_srcmgr_update_metrics(md_srcmgr *m);

#endif
