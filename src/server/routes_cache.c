/* routes_cache.c - GET /cache/stats, POST /cache/clear (API key). */
#include "server/routes.h"

#include "cache/cache.h"
#include "core/json.h"

#include <string.h>
#include <strings.h>

/* hits / total, cut (not rounded) to four decimals; 0 when nothing was asked */
static double hit_ratio(uint64_t hits, uint64_t total)
{
    return total ? (double)(int64_t)((double)hits / (double)total * 10000) / 10000 : 0;
}

static void level_json(md_buf *b, const md_cache_level_stats *l, int with_max)
{
    md_buf_puts(b, "{\"hits\":");
    md_buf_int(b, (int64_t)l->hits);
    md_json_int(b, "misses", (int64_t)l->misses);
    md_json_num(b, "hit_ratio", hit_ratio(l->hits, l->hits + l->misses));
    md_json_int(b, "entries", (int64_t)l->entries);
    md_json_int(b, "bytes", (int64_t)l->bytes);
    if (with_max) {
        md_json_int(b, "max_bytes", (int64_t)l->max_bytes);
        md_json_int(b, "evictions", (int64_t)l->evictions);
        md_json_int(b, "expirations", (int64_t)l->expirations);
        md_json_int(b, "invalidations", (int64_t)l->invalidations);
    }
}

int md_route_cache_stats(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_cache_stats s;
    md_cache_get_stats(svc->cache, 1, &s);
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"enabled\":");
    md_buf_puts(b, svc->cache ? "true" : "false");
    md_json_str(b, "status", md_cache_status(svc->cache));
    /* every L1 miss goes on to L2 when there is one: a request misses when no level hit */
    uint64_t hits = s.l1.hits + s.l2.hits;
    uint64_t total = s.l1.hits + s.l1.misses;
    if (total < hits) total = hits;
    md_json_int(b, "hits", (int64_t)hits);
    md_json_int(b, "misses", (int64_t)(total - hits));
    md_json_num(b, "hit_ratio", hit_ratio(hits, total));
    md_buf_puts(b, ",\"levels\":{\"l1\":");
    level_json(b, &s.l1, 1);
    md_buf_puts(b, "},\"l2\":");
    level_json(b, &s.l2, 0);
    md_json_bool(b, "enabled", s.l2_enabled);
    md_json_str(b, "status", s.l2_state);
    md_json_str(b, "breaker", s.breaker);
    md_json_bool(b, "subscribed", s.subscribed);
    md_json_int(b, "errors", (int64_t)s.l2.errors);
    md_buf_puts(b, "}}}");
    md_cache_sync_metrics(svc->cache);
    return 0;
}

int md_route_cache_clear(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    const char *lv = md_http_param_get(req, "level");
    int levels = MD_CACHE_CLEAR_L1 | MD_CACHE_CLEAR_L2;
    if (lv && strcasecmp(lv, "l1") == 0)
        levels = MD_CACHE_CLEAR_L1;
    else if (lv && strcasecmp(lv, "l2") == 0)
        levels = MD_CACHE_CLEAR_L2;
    else if (lv && strcasecmp(lv, "all") != 0)
        return md_error_set(err, MD_EPARAM, "level: '%.20s' is not l1, l2 or all", lv);
    md_cache_stats before;
    md_cache_get_stats(svc->cache, 0, &before);
    int rc = md_cache_clear(svc->cache, levels, err);
    if (rc) return rc;
    md_buf *b = md_http_json(resp, 200);
    /* what was cleared: L1 in any case (it holds copies of L2's answers), L2 when there is
     * one */
    md_buf_puts(b, "{\"cleared\":[\"l1\"");
    if ((levels & MD_CACHE_CLEAR_L2) && before.l2_enabled) md_buf_puts(b, ",\"l2\"");
    md_buf_puts(b, "],\"l1_entries_dropped\":");
    md_buf_int(b, (int64_t)before.l1.entries);
    md_buf_puts(b, "}");
    return 0;
}
