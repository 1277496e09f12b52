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
 * Messages never contain API keys (md_log_redact is applied to every URL shown). */
#ifndef MD_SOURCES_SOURCE_H
#define MD_SOURCES_SOURCE_H

#include "core/bar.h"
#include "core/error.h"
#include "core/interval.h"

#include <stdint.h>

/* What a call learned besides its result; filled on success and on failure. */
typedef struct md_fetch_meta {
    int http_status;    /* last HTTP status, 0 when no response */
    int retry_after_s;  /* from a 429's Retry-After (seconds or HTTP date); 60 for a
                          * "per minute" throttle sent without one; -1 when absent */
    int64_t latency_ms; /* total time of the call, all pages included */
    int requests;       /* HTTP requests made (pagination) */
} md_fetch_meta;

typedef struct md_source md_source;

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
} md_source_vtable;

/* Common state; a provider's own struct begins with it. */
struct md_source {
    const md_source_vtable *vt;
    char *base_url; /* MDAGENT_<NAME>_URL or the provider's real address */
    char *api_key;  /* NULL for providers that need none; never logged */
    int timeout_ms;
};

/* Thin wrappers that also fill meta->latency_ms. */
int md_source_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err);
int md_source_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err);
const char *md_source_name_of(const md_source *src);
void md_source_free(md_source *src);

#endif
