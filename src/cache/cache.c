/* cache.c - the two levels put together: lookups fall from L1 to L2 (filling L1 on the
 * way back), puts go to both, invalidations and clears reach every level and every agent,
 * counters feed /cache/stats and the mdagent_cache_* metrics. */
#include "cache/cache_int.h"

#include "core/config.h"
#include "core/metrics.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <string.h>

struct md_cache {
    md_cmem *mem;
    md_credis *redis; /* NULL without L2 */
};

static const char *const ctypes[] = {"application/json", "text/csv; charset=utf-8"};

static char ctype_code(const char *ct)
{
    return ct && strcmp(ct, ctypes[1]) == 0 ? 'c' : 'j';
}

static const char *ctype_of(char code)
{
    return code == 'c' ? ctypes[1] : ctypes[0];
}

void md_cache_options_default(md_cache_options *o)
{
    md_cache_options_from_config(o, md_config_defaults());
    o->redis.url = NULL;
}

void md_cache_options_from_config(md_cache_options *o, const md_config *cfg)
{
    memset(o, 0, sizeof *o);
    o->max_bytes = (size_t)cfg->cache_max_bytes;
    o->shards = 16;
    o->prefix = cfg->cache_prefix;
    md_redis_options_from_config(&o->redis, cfg);
}

static void on_remote(void *ctx, const char *symbol)
{
    md_cache *c = ctx;
    if (symbol)
        md_cache__mem_invalidate(c->mem, symbol, NULL, 0, NULL, 0);
    else
        md_cache__mem_clear(c->mem);
}

int64_t md_cache_changed_ago_ms(md_cache *c, const char *symbol)
{
    return c ? md_cache__mem_changed_ago(c->mem, symbol) : INT64_MAX;
}

int md_cache_new(const md_cache_options *opt, md_cache **out, md_error *err)
{
    md_cache *c = md_calloc(1, sizeof *c);
    c->mem = md_cache__mem_new(opt->max_bytes, opt->shards, opt->clock_ms);
    if (opt->redis.url && *opt->redis.url) {
        int rc = md_cache__redis_new(opt, on_remote, c, &c->redis, err);
        if (rc) {
            md_cache_free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

void md_cache_free(md_cache *c)
{
    if (!c) return;
    md_cache__redis_free(c->redis); /* first: its thread calls into mem */
    md_cache__mem_free(c->mem);
    md_free(c);
}

md_cache_level md_cache_lookup(md_cache *c, const md_cache_key *k, int64_t max_age_ms, int flags,
                               md_cache_entry **out, md_cache_fill *fill)
{
    memset(fill, 0, sizeof *fill);
    *out = NULL;
    if (!c) return MD_CACHE_MISS;
    /* the token first: whatever is read after it is at least this new (an L1-only lookup
     * never fills, so the hit path on the loop takes one lock, not two) */
    if (!(flags & MD_CACHE_L1_ONLY)) fill->l1 = md_cache__mem_token(c->mem, k->symbol);
    md_cache_entry *e = md_cache__mem_get(c->mem, k, max_age_ms, !(flags & MD_CACHE_NO_L1_MISS));
    if (e) {
        *out = e;
        return MD_CACHE_L1;
    }
    if ((flags & MD_CACHE_L1_ONLY) || !c->redis) return MD_CACHE_MISS;
    md_l2_value v;
    memset(&v, 0, sizeof v);
    if (md_cache__redis_get(c->redis, k, max_age_ms, fill, &v) != 1) return MD_CACHE_MISS;
    int64_t age = md_now_ms() - v.created_ms;
    if (age < 0) age = 0;
    md_cache__mem_put(c->mem, k, fill->l1, v.body, v.len, v.tag_off, "l1", ctype_of(v.ctype),
                      v.ttl_ms, age);
    /* this answer says "l2" (as stored in Redis); the L1 copy says "l1" */
    e = md_cache__mem_detached(v.body, v.len, ctype_of(v.ctype));
    md_cache__redis_value_free(&v);
    *out = e;
    return MD_CACHE_L2;
}

void md_cache_put(md_cache *c, const md_cache_key *k, const md_cache_fill *fill, const char *body,
                  size_t len, long tag_off, const char *content_type, int64_t ttl_ms)
{
    if (!c) return;
    md_cache__mem_put(c->mem, k, fill->l1, body, len, tag_off, "l1", content_type, ttl_ms, 0);
    if (c->redis && fill->l2)
        md_cache__redis_set(c->redis, k, fill, body, len, tag_off, ctype_code(content_type),
                            ttl_ms);
}

size_t md_cache_invalidate(md_cache *c, const char *symbol, md_cache_fill *after, char hot_kind,
                           md_cache_key *hot, size_t max_hot)
{
    md_cache_fill f;
    memset(&f, 0, sizeof f);
    if (!c) {
        if (after) *after = f;
        return 0;
    }
    size_t n = md_cache__mem_invalidate(c->mem, symbol, &f.l1, hot_kind, hot, max_hot);
    if (c->redis) md_cache__redis_invalidate(c->redis, symbol, &f);
    if (after) *after = f;
    return n;
}

int md_cache_lease(md_cache *c, const char *name, int64_t ttl_ms)
{
    if (!c || !c->redis) return -1;
    return md_cache__redis_lease(c->redis, name, ttl_ms);
}

int md_cache_lease_renew(md_cache *c, const char *name, int64_t ttl_ms)
{
    if (!c || !c->redis) return -1;
    return md_cache__redis_lease_op(c->redis, name, ttl_ms, 0);
}

void md_cache_lease_release(md_cache *c, const char *name)
{
    if (c && c->redis) md_cache__redis_lease_op(c->redis, name, 0, 1);
}

int md_cache_clear(md_cache *c, int levels, md_error *err)
{
    if (!c) return 0;
    int rc = 0;
    if ((levels & MD_CACHE_CLEAR_L2) && c->redis) rc = md_cache__redis_clear(c->redis, err);
    if (levels & (MD_CACHE_CLEAR_L1 | MD_CACHE_CLEAR_L2)) md_cache__mem_clear(c->mem);
    return rc;
}

void md_cache_get_stats(md_cache *c, int scan_l2, md_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    out->l2_state = "disabled";
    out->breaker = "closed";
    if (!c) return;
    md_cache__mem_stats(c->mem, &out->l1);
    if (c->redis) {
        out->l2_enabled = 1;
        if (scan_l2) md_cache__redis_scan(c->redis, NULL, NULL);
        md_cache__redis_stats(c->redis, out);
    }
}

const char *md_cache_status(md_cache *c)
{
    if (!c) return "disabled";
    if (c->redis && !md_cache__redis_healthy(c->redis)) return "degraded";
    return "ok";
}

void md_cache_sync_metrics(md_cache *c)
{
    md_cache_stats s;
    md_cache_get_stats(c, 0, &s);
    md_metric_set(MD_M_CACHE_REQUESTS, (double)s.l1.hits, "l1", "hit");
    md_metric_set(MD_M_CACHE_REQUESTS, (double)s.l1.misses, "l1", "miss");
    md_metric_set(MD_M_CACHE_ENTRIES, (double)s.l1.entries, "l1");
    md_metric_set(MD_M_CACHE_BYTES, (double)s.l1.bytes, "l1");
    if (s.l2_enabled) {
        md_metric_set(MD_M_CACHE_REQUESTS, (double)s.l2.hits, "l2", "hit");
        md_metric_set(MD_M_CACHE_REQUESTS, (double)s.l2.misses, "l2", "miss");
        md_metric_set(MD_M_CACHE_REQUESTS, (double)s.l2.errors, "l2", "error");
        md_metric_set(MD_M_CACHE_ENTRIES, (double)s.l2.entries, "l2");
        md_metric_set(MD_M_CACHE_BYTES, (double)s.l2.bytes, "l2");
    }
}
