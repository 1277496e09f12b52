/* routes_sources.c - GET /sources: every source, its place in the failover order, circuits
 * (per endpoint class), health, counters, bulkhead and rate-limit budget; GET
 * /symbols/{symbol}: how each provider spells a symbol and which exchange calendar it trades
 * on (API.md). Error texts are already
 * redacted by the manager; API keys and upstream addresses never appear. */
#include "server/routes.h"

#include "calendar/calendar.h"
#include "core/render.h"
#include "core/symconf.h"
#include "sources/manager.h"
#include "sources/registry.h"
#include "sources/symbolmap.h"

#include <math.h>

static void render_null_or_str(md_buf *b, const char *s)
{
    if (s && *s)
        md_buf_json_str(b, s);
    else
        md_buf_puts(b, "null");
}

static void render_row(md_buf *b, const md_srcmgr_info *in)
{
    md_buf_puts(b, "{\"name\":");
    md_buf_json_str(b, in->name);
    md_buf_puts(b, in->enabled ? ",\"enabled\":true" : ",\"enabled\":false");
    md_buf_puts(b, ",\"priority\":");
    if (in->priority > 0)
        md_buf_int(b, in->priority);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"circuit\":\"");
    md_buf_puts(b, md_circuit_state_name(in->circuit));
    md_buf_puts(b, "\",\"circuits\":{");
    for (int c = 0; c < MD_EP_COUNT; c++) {
        md_buf_puts(b, c ? ",\"" : "\"");
        md_buf_puts(b, md_endpoint_class_name((md_endpoint_class)c));
        md_buf_puts(b, "\":\"");
        md_buf_puts(b, md_circuit_state_name(in->circuits[c]));
        md_buf_putc(b, '"');
    }
    md_buf_puts(b, "},\"in_flight\":");
    md_buf_int(b, in->in_flight);
    md_buf_puts(b, ",\"queued\":");
    md_buf_int(b, in->queued);
    md_buf_puts(b, ",\"health_score\":");
    md_buf_num(b, round(in->health * 1000) / 1000);
    md_buf_puts(b, ",\"requests\":");
    md_buf_int(b, in->requests);
    md_buf_puts(b, ",\"failures\":");
    md_buf_int(b, in->failures);
    md_buf_puts(b, ",\"rate_limit\":{\"remaining\":");
    if (in->rl_remaining >= 0)
        md_buf_int(b, in->rl_remaining);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"reset_s\":");
    md_buf_int(b, (in->rl_reset_ms + 999) / 1000);
    md_buf_puts(b, ",\"per_second\":");
    if (in->per_second)
        md_buf_int(b, in->per_second);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"per_minute\":");
    if (in->per_minute)
        md_buf_int(b, in->per_minute);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"per_day\":");
    if (in->per_day)
        md_buf_int(b, in->per_day);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, in->shared ? ",\"shared\":true" : ",\"shared\":false");
    md_buf_puts(b, "},\"last_error\":");
    render_null_or_str(b, in->last_error);
    md_buf_puts(b, ",\"last_error_at\":");
    if (in->last_error_at)
        md_buf_ts(b, in->last_error_at, 1);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"last_success\":");
    if (in->last_success)
        md_buf_ts(b, in->last_success, 1);
    else
        md_buf_puts(b, "null");
    if (!in->enabled) {
        md_buf_puts(b, ",\"reason\":");
        render_null_or_str(b, in->reason);
    }
    md_buf_putc(b, '}');
}

int md_route_sources(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"sources\":[");
    size_t n = 0;
    if (svc->sources) {
        n = md_srcmgr_count(svc->sources);
        for (size_t i = 0; i < n; i++) {
            md_srcmgr_info in;
            if (md_srcmgr_info_at(svc->sources, i, &in) != 0) continue;
            if (i) md_buf_putc(b, ',');
            render_row(b, &in);
        }
    } else {
        /* no manager: every registry source, none enabled */
        for (; n < md_source_count(); n++) {
            md_srcmgr_info in = {0};
            snprintf(in.name, sizeof in.name, "%s", md_source_info_at(n)->name);
            in.rl_remaining = -1;
            in.health = 1;
            snprintf(in.reason, sizeof in.reason, "sources.priority is empty");
            if (n) md_buf_putc(b, ',');
            render_row(b, &in);
        }
    }
    md_buf_puts(b, "],\"count\":");
    md_buf_int(b, (int64_t)n);
    md_buf_puts(b, ",\"enabled\":");
    md_buf_int(b, svc->sources ? (int64_t)md_srcmgr_enabled(svc->sources) : 0);
    md_buf_putc(b, '}');
    return 0;
}

/* -- GET /symbols/{symbol} ------------------------------------------------------------------ */

int md_route_symbol(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    char sym[MD_SYMBOL_MAX + 1];
    int rc = md_symbol_normalize_str(req->capture ? req->capture : "", sym, err);
    if (rc) return rc;
    const md_cal *cal;
    md_cal_from from;
    if ((rc = md_cal_for_symbol(svc->cfg, sym, &cal, &from, err)) != 0) return rc;
    /* the manager's map; without sources one made from the configuration for this answer */
    const md_symbolmap *map = svc->sources ? md_srcmgr_symbolmap(svc->sources) : NULL;
    md_symbolmap *own = NULL;
    if (!map) {
        if ((rc = md_symbolmap_new(svc->cfg, &own, err)) != 0) return rc;
        map = own;
    }
    md_symbol_class c;
    md_symbolmap_classify(map, sym, &c);
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"symbol\":");
    md_buf_json_str(b, c.symbol);
    md_buf_puts(b, ",\"canonical\":");
    md_buf_json_str(b, c.canonical);
    md_buf_puts(b, ",\"asset_class\":\"");
    md_buf_puts(b, md_asset_class_name(c.asset));
    md_buf_puts(b, "\"");
    if (c.base[0]) {
        md_buf_puts(b, ",\"base\":");
        md_buf_json_str(b, c.base);
        md_buf_puts(b, ",\"quote\":");
        md_buf_json_str(b, c.quote);
    }
    md_buf_puts(b, c.configured ? ",\"configured\":true" : ",\"configured\":false");
    md_buf_puts(b, ",\"calendar\":");
    md_buf_json_str(b, md_cal_mic(cal));
    md_buf_puts(b, ",\"calendar_from\":");
    md_buf_json_str(b, md_cal_from_name(from));
    /* the exchange a provider named (what calendar_from "provider" read), null when none */
    md_symbol_ref ref;
    md_error re;
    md_buf_puts(b, ",\"exchange\":");
    if (md_store_get_symbol_ref(svc->store, sym, &ref, &re) == 0 && ref.exchange[0])
        md_buf_json_str(b, ref.exchange);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"providers\":{");
    for (size_t i = 0, k = 0; i < md_source_count(); i++) {
        const md_source_info *info = md_source_info_at(i);
        if (info->offline) continue;
        char qs[MD_SYMCONF_SPELLING_MAX], bs[MD_SYMCONF_SPELLING_MAX], qwhy[160], bwhy[160];
        int q = md_symbolmap_spell(map, (int)info->id, &c, 1, qs, sizeof qs, qwhy, sizeof qwhy);
        int bars = md_symbolmap_spell(map, (int)info->id, &c, 0, bs, sizeof bs, bwhy, sizeof bwhy);
        if (k++) md_buf_putc(b, ',');
        md_buf_json_str(b, info->name);
        md_buf_puts(b, ":{\"symbol\":");
        if (q || bars)
            md_buf_json_str(b, q ? qs : bs);
        else
            md_buf_puts(b, "null");
        md_buf_puts(b, q ? ",\"quotes\":true" : ",\"quotes\":false");
        md_buf_puts(b, bars ? ",\"bars\":true" : ",\"bars\":false");
        if (svc->sources) {
            md_source *src = md_srcmgr_source(svc->sources, (int)info->id);
            md_buf_puts(b, src ? ",\"enabled\":true" : ",\"enabled\":false");
        }
        if (!q || !bars) {
            md_buf_puts(b, ",\"reason\":");
            md_buf_json_str(b, !bars ? bwhy : qwhy);
        }
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "}}");
    md_symbolmap_free(own);
    return 0;
}
