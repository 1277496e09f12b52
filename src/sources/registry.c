/* registry.c - the table of sources: the HTTP providers expanded from providers.def, then
 * the offline sources. Nothing here names a provider. */
#include "sources/registry.h"

#include "core/mem.h"
#include "sources/offline.h"
#include "sources/providers.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Where a provider's settings live in md_config: the fields config.def generates from
 * the same row. */
#define LIMIT_OFF(nm, cls)                                                                         \
    {                                                                                              \
        offsetof(md_config, rl_##nm##cls##_min), offsetof(md_config, rl_##nm##cls##_day)           \
    }
#define KEY_OFF_KEY(nm) offsetof(md_config, nm##_api_key)
#define KEY_OFF_NO_KEY(nm) 0

static const md_source_info table[] = {
#define MD_PROVIDER(ID, num, nm, disp, url_key, url_env, url_def, keykind, kenv, all_sec, all_min, \
                    all_day, q_min, q_day, i_min, i_day, d_min, d_day, r_min, r_day, zone, basis,  \
                    ivs, as, ctor)                                                                 \
    {.name = #nm,                                                                                  \
     .id = MD_SRC_##ID,                                                                            \
     .display = disp,                                                                              \
     .key_env = kenv,                                                                              \
     .intervals = ivs,                                                                             \
     .assets = as,                                                                                 \
     .url_off = offsetof(md_config, nm##_url),                                                     \
     .sec_off = offsetof(md_config, rl_##nm##_sec),                                                \
     .zone_off = offsetof(md_config, nm##_day_zone),                                               \
     .key_off = KEY_OFF_##keykind(nm),                                                             \
     .limit_off = {LIMIT_OFF(nm, ), LIMIT_OFF(nm, _quote), LIMIT_OFF(nm, _intraday),               \
                   LIMIT_OFF(nm, _daily), LIMIT_OFF(nm, _reference)},                              \
     .create = ctor},
#include "sources/providers.def"
#undef MD_PROVIDER
/* -- offline sources (offline.h): no network, no key, no budget -- */
#define OFFLINE(nm, ID, disp, ctor)                                                                \
    {                                                                                              \
        .name = nm, .id = MD_SRC_##ID, .display = disp, .offline = 1, .intervals = MD_IVS_ALL,     \
        .create = ctor                                                                             \
    }
    OFFLINE("replay", REPLAY, "Replay", md_replay_new),
    OFFLINE("simulator", SIMULATOR, "Simulator", md_simulator_new),
#undef OFFLINE
};

/* limit_off has one row for every request and one per endpoint class. */
_Static_assert(MD_EP_COUNT == 4, "providers.def and LIMIT_OFF above spell out four classes");

static const char *const class_names[] = {"quote", "intraday", "daily", "reference"};
_Static_assert(MD_ARRAY_LEN(class_names) == MD_EP_COUNT, "one name per endpoint class");

const char *md_endpoint_class_name(md_endpoint_class c)
{
    return (unsigned)c < MD_EP_COUNT ? class_names[c] : "unknown";
}

md_endpoint_class md_endpoint_class_of_bars(md_interval iv)
{
    return md_interval_is_daily(iv) ? MD_EP_DAILY : MD_EP_INTRADAY;
}

size_t md_source_count(void)
{
    return MD_ARRAY_LEN(table);
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

const md_source_info *md_source_find_id(int id)
{
    for (size_t i = 0; i < md_source_count(); i++)
        if ((int)table[i].id == id) return &table[i];
    return NULL;
}

void md_source_list_names(char *dst, size_t n)
{
    if (!n) return;
    dst[0] = 0;
    for (size_t i = 0; i < md_source_count(); i++) {
        if (i) strncat(dst, ", ", n - strlen(dst) - 1);
        strncat(dst, table[i].name, n - strlen(dst) - 1);
    }
}

static int cfg_int(const md_config *cfg, size_t off)
{
    return (int)*(const int64_t *)((const char *)cfg + off);
}

void md_source_limits_of(const md_source_info *info, const md_config *cfg, md_source_limits *out)
{
    memset(out, 0, sizeof *out);
    out->day_zone = "UTC";
    if (info->offline) return;
    out->per_second = cfg_int(cfg, info->sec_off);
    const char *zone = *(char *const *)((const char *)cfg + info->zone_off);
    if (zone && *zone) out->day_zone = zone;
    md_rate_limit *dst[1 + MD_EP_COUNT] = {&out->all};
    for (int c = 0; c < MD_EP_COUNT; c++) dst[1 + c] = &out->cls[c];
    for (int k = 0; k < 1 + MD_EP_COUNT; k++) {
        dst[k]->per_minute = cfg_int(cfg, info->limit_off[k][0]);
        dst[k]->per_day = cfg_int(cfg, info->limit_off[k][1]);
    }
}

int md_source_create(const char *name, const md_config *cfg, md_source **out, md_error *err)
{
    const md_source_info *info = md_source_find(name);
    if (!info) {
        char known[256];
        md_source_list_names(known, sizeof known);
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
