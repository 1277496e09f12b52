/* registry.c - the table of sources: name, key variable, constructor. One row each. */
#include "sources/registry.h"

#include "sources/offline.h"
#include "sources/providers.h"

#include <string.h>
#include <strings.h>

static const md_source_info table[] = {
    /* -- HTTP providers (sources/<name>.c) -- */
    {"yahoo", NULL, 0, md_yahoo_create},
    {"alphavantage", "ALPHA_VANTAGE_API_KEY", 0, md_alphavantage_create},
    {"finnhub", "FINNHUB_API_KEY", 0, md_finnhub_create},
    {"polygon", "POLYGON_API_KEY", 0, md_polygon_create},
    {"twelvedata", "TWELVE_DATA_API_KEY", 0, md_twelvedata_create},
    /* -- offline sources (replay, simulator): one row each below -- */
    {"replay", NULL, 1, md_replay_new},
    {"simulator", NULL, 1, md_simulator_new},
};

size_t md_source_count(void)
{
    return sizeof table / sizeof table[0];
}

const md_source_info *md_source_info_at(size_t i)
{
    return i < md_source_count() ? &table[i] : NULL;
}

const md_source_info *md_source_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < md_source_count(); i++)
        if (strcasecmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

int md_source_create(const char *name, const md_config *cfg, md_source **out, md_error *err)
{
    const md_source_info *info = md_source_find(name);
    if (!info) {
        char known[256] = "";
        for (size_t i = 0; i < md_source_count(); i++) {
            if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, table[i].name, sizeof known - strlen(known) - 1);
        }
        return md_error_set(err, MD_EINVAL, "unknown source '%.40s' (known: %s)", name ? name : "",
                            known);
    }
    md_source *src = NULL;
    int rc = info->create(cfg, &src, err);
    if (rc) return rc;
    *out = src;
    return 0;
}

int md_source_configured(const md_source *src)
{
    if (!src) return 0;
    const md_source_info *info = md_source_find(src->vt->name);
    return !info || !info->key_env || (src->api_key && src->api_key[0]);
}
