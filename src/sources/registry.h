/* registry.h - every source by name: create one from the configuration, list them, read
 * its limits, intervals and asset classes.
 *
 * The HTTP providers come from sources/providers.def (one row each: adding a provider is
 * that row plus its client file); the offline "replay" and "simulator" follow them in
 * the same table (registry.c). Names are API.md's, and the table order is the documented
 * default priority.
 *
 * Missing API keys: md_source_create() still succeeds for a provider that needs a key
 * and has none, so the source can be listed (/sources shows it as not configured);
 * md_source_configured() returns 0 for it, and every call answers MD_EUNAUTHSRC with
 * "<name>: not configured: set <KEY_ENV>" without touching the network. */
#ifndef MD_SOURCES_REGISTRY_H
#define MD_SOURCES_REGISTRY_H

#include "core/config.h"
#include "core/interval.h"
#include "core/symconf.h"
#include "sources/source.h"

#include <stddef.h>

/* Interval sets (bit MD_IV_x), as providers.def writes them. */
#define MD_IV_BIT(iv) (1u << (iv))
#define MD_IVS_ALL (MD_IV_BIT(MD_IV_COUNT) - 1u)
#define MD_IVS_ALL_BUT(x) (MD_IVS_ALL & ~MD_IV_BIT(MD_IV_##x))

/* Asset classes (MD_AS_*, md_asset_class_name) are core/symconf.h's: the configuration's
 * `symbols:` section names them too. */

/* What kind of call a request is. A provider's budget counts every request; a class may
 * have its own budget on top (providers.def, keys sources.<name>.<class>.per_minute). */
typedef enum md_endpoint_class {
    MD_EP_QUOTE,    /* latest price */
    MD_EP_INTRADAY, /* bars finer than 1d */
    MD_EP_DAILY,    /* bars of 1d and coarser */
    MD_EP_REFERENCE, /* reference data: corporate actions and the profile calls that name a symbol's exchange */
    MD_EP_COUNT
} md_endpoint_class;

/* "quote", "intraday", "daily", "reference" (the word in the config keys). */
const char *md_endpoint_class_name(md_endpoint_class c);
/* The class of a bars request of interval iv. */
md_endpoint_class md_endpoint_class_of_bars(md_interval iv);

/* A request budget: requests per minute and per day, 0 = no limit of that kind. */
typedef struct md_rate_limit {
    int per_minute, per_day;
} md_rate_limit;

/* A source's budgets as configured. */
typedef struct md_source_limits {
    md_rate_limit all;              /* every request: sources.<name>.per_minute / per_day */
    md_rate_limit cls[MD_EP_COUNT]; /* on top, per class: sources.<name>.<class>.per_* */
    int per_second;                 /* every request: sources.<name>.per_second (0 = none) */
    const char *day_zone;           /* sources.<name>.day_zone: its day starts at midnight
                                       there ("UTC" for the offline sources); cfg's string */
} md_source_limits;

typedef struct md_source_info {
    const char *name;    /* API.md source name */
    md_source_id id;     /* the number stored with bars */
    const char *display; /* "Alpha Vantage" */
    const char *key_env; /* environment variable holding its API key; NULL when none */
    int offline;         /* 1 when it needs no network (replay, simulator) */
    unsigned intervals;  /* MD_IV_BIT set of the intervals it fetches (offline sources: all,
                          * narrowed by their own supports(): replay has what its data has) */
    unsigned assets;     /* MD_AS_* bits it documents (offline: 0) */
    /* where its settings live in md_config (HTTP providers only) */
    size_t url_off, key_off;              /* char *; key_off 0 when it needs no key */
    size_t sec_off, zone_off;             /* int64_t per second; char * day zone */
    size_t limit_off[1 + MD_EP_COUNT][2]; /* int64_t per minute, per day: all, then classes */
    int (*create)(const md_config *cfg, md_source **out, md_error *err);
} md_source_info;

/* Creates the source called name (case-insensitive) from cfg (base URL, key, timeout).
 * MD_EINVAL naming the known sources for an unknown name. *out is owned by the caller:
 * free it with md_source_free(). */
int md_source_create(const char *name, const md_config *cfg, md_source **out, md_error *err);

/* The known sources, in table order (the HTTP providers in providers.def order, then
 * replay and simulator). */
size_t md_source_count(void);
const md_source_info *md_source_info_at(size_t i);
/* The entry for name (case-insensitive), NULL when unknown. */
const md_source_info *md_source_find(const char *name);
/* The entry for an md_source_id, NULL when it is not a registered source (csv, ingest). */
const md_source_info *md_source_find_id(int id);
/* Writes "yahoo, alphavantage, ..., simulator" into dst (for "unknown source" errors). */
void md_source_list_names(char *dst, size_t n);

/* The budgets of info's source in cfg (all zero for the offline sources). */
void md_source_limits_of(const md_source_info *info, const md_config *cfg, md_source_limits *out);

/* 1 when src can make calls: it needs no key or has one; 0 when its key is missing. */
int md_source_configured(const md_source *src);

#endif
