/* history.c - /historical and `mdagent query`: parameters, store read, rendering. */
#include "query/query.h"

#include "core/render.h"
#include "core/timefmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) return *out = 1, 0;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) return *out = 0, 0;
    return -1;
}

int md_history_req_parse(md_history_req *req, const char *symbol,
                         const char *(*get)(void *ctx, const char *name), void *ctx,
                         const md_config *cfg, md_error *err)
{
    memset(req, 0, sizeof *req);
    req->source = -1;
    int rc = md_symbol_normalize_str(symbol, req->symbol, err);
    if (rc) return rc;
    const char *v = get(ctx, "interval");
    req->iv = MD_IV_1D;
    if (v && (rc = md_interval_parse(v, &req->iv, err))) return rc;
    req->start = MD_TS_MIN;
    req->end = MD_TS_MAX;
    if ((v = get(ctx, "start")) && (rc = md_time_parse_str(v, &req->start, err))) {
        md_error_prefix(err, "start");
        return rc;
    }
    if ((v = get(ctx, "end")) && (rc = md_time_parse_str(v, &req->end, err))) {
        md_error_prefix(err, "end");
        return rc;
    }
    if (req->end <= req->start)
        return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    req->limit = cfg ? (size_t)cfg->default_limit : 10000;
    if ((v = get(ctx, "limit"))) {
        char *end;
        errno = 0;
        long long l = strtoll(v, &end, 10);
        long long max = cfg ? (long long)cfg->max_limit : 1000000;
        if (errno || end == v || *end || l < 1 || l > max)
            return md_error_set(err, MD_EPARAM, "limit: '%.20s' is not an integer 1..%lld", v, max);
        req->limit = (size_t)l;
    }
    if ((v = get(ctx, "format"))) {
        if (strcmp(v, "csv") == 0)
            req->csv = 1;
        else if (strcmp(v, "json") != 0)
            return md_error_set(err, MD_EPARAM, "format: '%.20s' is not json or csv", v);
    }
    if ((v = get(ctx, "cached_only")) && parse_bool(v, &req->cached_only))
        return md_error_set(err, MD_EPARAM, "cached_only: '%.20s' is not true or false", v);
    if ((v = get(ctx, "source"))) {
        req->source = md_source_parse(v);
        if (req->source < 0 || req->source == MD_SRC_UNKNOWN)
            return md_error_set(err, MD_EPARAM, "source: unknown source '%.20s'", v);
    }
    return 0;
}

int md_query_symbol_known(md_services *svc, const char *symbol)
{
    md_bar b;
    md_quote q;
    if (md_store_latest_bar(svc->store, symbol, &b, NULL, NULL) == 0) return 1;
    return md_store_get_quote(svc->store, symbol, &q, NULL) == 0;
}

int md_query_history(md_services *svc, const md_history_req *req, md_bar_vec *out,
                     const char **from, md_error *err)
{
    *from = "store";
    int rc = md_store_get_bars_agg(svc->store, req->symbol, req->iv, req->start, req->end,
                                   req->limit, out, NULL, err);
    if (rc < 0) return rc;
    if (rc == 0 && !md_query_symbol_known(svc, req->symbol))
        return md_error_set(err, MD_ENOTFOUND, "no data for symbol %s", req->symbol);
    return 0;
}

void md_render_history_json(md_buf *b, const md_history_req *req, const md_bar *bars, size_t n,
                            const char *from)
{
    md_buf_puts(b, "{\"symbol\":");
    md_buf_json_str(b, req->symbol);
    md_buf_puts(b, ",\"interval\":\"");
    md_buf_puts(b, md_interval_name(req->iv));
    md_buf_puts(b, "\",\"bars\":");
    md_render_bars_json_array(b, bars, n);
    md_buf_puts(b, ",\"count\":");
    md_buf_int(b, (int64_t)n);
    md_buf_puts(b, ",\"from\":\"");
    md_buf_puts(b, from);
    md_buf_puts(b, "\"}");
}
