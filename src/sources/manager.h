/* manager.h - the source manager: which provider to ask, and whether to ask at all.
 *
 *   md_srcmgr_quote/bars -> coalesce identical in-flight fetches
 *                        -> for each source in priority order (or the one asked for):
 *                             skip when disabled, interval not offered, circuit open,
 *                             or its rate limit (the provider's, or the one of the
 *                             endpoint class: quote, intraday, daily) has no token left
 *                             call it; retry transient errors with back-off and jitter
 *                             record: circuit, rate limit (429 Retry-After), health, metrics
 *                        -> first answer wins; otherwise one error naming every reason
 *
 * The manager only fetches: callers hand what it returns to the writer (ingest/writer.h),
 * which validates and stores it. Every call blocks the calling thread (a worker, the
 * scheduler, the CLI) and must never run on an HTTP event loop. Thread-safe.
 *
 * Errors of a fetch:
 *   MD_ENOTFOUND   a source answered that the symbol is unknown (and none had data)
 *   MD_ERATELIMIT  every usable source was out of budget (or answered 429)
 *   MD_EINTERVAL   no source offers the interval
 *   MD_ENOSOURCE   nothing usable: the message lists each source and why
 *   with ?source=NAME (one source, no failover) that source's own error is returned. */
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
    md_circuit_cfg circuit;
    int max_retries; /* retries of a transient failure on the same source */
    int64_t retry_base_ms, retry_max_ms;
    int64_t pause_ms;          /* pause after a 429 that carries no Retry-After */
    int64_t health_latency_ms; /* latency at which the health score's latency factor is 0.75 */
    double background_reserve; /* share of each rate limit background fetches leave alone */
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

/* Latest quote of a normalised symbol. */
int md_srcmgr_quote(md_srcmgr *m, const char *symbol, const md_fetch_opts *fo, md_quote *out,
                    md_fetch_result *res, md_error *err);
/* Bars of iv with start <= ts < end, appended to out oldest first (0 appended is an
 * answer: the source has none in the range). */
int md_srcmgr_bars(md_srcmgr *m, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   const md_fetch_opts *fo, md_bar_vec *out, md_fetch_result *res, md_error *err);

/* 1 when source id (or any enabled source, for -1) can be asked for interval iv. */
int md_srcmgr_supports(md_srcmgr *m, int source, md_interval iv);
/* 1 when the source id is listed (enabled or not). */
int md_srcmgr_has(md_srcmgr *m, int source);
/* Longest range one bars() call of source id should cover for iv (0 = any; for -1 the
 * smallest over the enabled sources). */
int64_t md_srcmgr_max_range_s(md_srcmgr *m, int source, md_interval iv);
/* The enabled source of that id, or NULL (the feeds use it). Owned by the manager. */
md_source *md_srcmgr_source(md_srcmgr *m, int source);

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
    int priority; /* 1-based place in sources.priority, 0 when not in it */
    md_circuit_state circuit;
    double health; /* 0..1 */
    int64_t requests, failures;
    int rl_remaining; /* -1 = unlimited */
    int64_t rl_reset_ms;
    int per_minute, per_day;        /* every request; 0 = none */
    md_rate_limit cls[MD_EP_COUNT]; /* per endpoint class, on top; 0 = none */
    char last_error[200];           /* redacted, "" when none */
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
