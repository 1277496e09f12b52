/* registry.h - every source by name: create one from the configuration, list them.
 *
 * Adding a source is one file implementing md_source_vtable (source.h) and one row in the
 * table in registry.c. Names are API.md's ("yahoo", "alphavantage", "finnhub",
 * "polygon", "twelvedata"; the offline "replay" and "simulator" join the same table).
 *
 * Missing API keys: md_source_create() still succeeds for a provider that needs a key
 * and has none, so the source can be listed (/sources shows it as not configured);
 * md_source_configured() returns 0 for it, and every call answers MD_EUNAUTHSRC with
 * "<name>: not configured: set <KEY_ENV>" without touching the network. */
#ifndef MD_SOURCES_REGISTRY_H
#define MD_SOURCES_REGISTRY_H

#include "core/config.h"
#include "sources/source.h"

#include <stddef.h>

typedef struct md_source_info {
    const char *name;    /* API.md source name */
    const char *key_env; /* environment variable holding its API key; NULL when none */
    int offline;         /* 1 when it needs no network (replay, simulator) */
    int (*create)(const md_config *cfg, md_source **out, md_error *err);
} md_source_info;

/* Creates the source called name (case-insensitive) from cfg (base URL, key, timeout).
 * MD_EINVAL naming the known sources for an unknown name. *out is owned by the caller:
 * free it with md_source_free(). */
int md_source_create(const char *name, const md_config *cfg, md_source **out, md_error *err);

/* The known sources, in table order (a stable, documented default priority). */
size_t md_source_count(void);
const md_source_info *md_source_info_at(size_t i);
/* The entry for name (case-insensitive), NULL when unknown. */
const md_source_info *md_source_find(const char *name);

/* 1 when src can make calls: it needs no key or has one; 0 when its key is missing. */
int md_source_configured(const md_source *src);

#endif
