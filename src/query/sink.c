/* sink.c - the writer as a sink for fetched and pushed data (md_query_sink), the two
 * fetch-and-store calls the read path, `mdagent fetch` and the backfill share, and
 * md_query_each, the symbols of one request read and fetched side by side. */
#include "query/query.h"

#include "core/log.h"
#include "sources/manager.h"

static int sink_quotes(void *ctx, md_quote *q, size_t n)
{
    md_query_keep *k = ctx;
    md_services *svc = k->svc;
    if (!svc->writer) return 0;
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    md_write req = {.origin = k->origin, .quotes = q, .n_quotes = n};
    int rc = md_writer_write(svc->writer, &req, &res, &err);
    k->accepted += res.accepted;
    k->rejected += res.rejected;
    if (rc == 0 && res.rejected) {
        MD_WARN("sources", "quote rejected symbol=%s source=%s reason=\"%s\"",
                q[res.rejects[0].index].symbol, md_source_name(q[res.rejects[0].index].source),
                res.rejects[0].msg);
        rc = MD_EBAR;
    } else if (rc < 0) {
        MD_WARN("sources", "quotes not stored code=%s error=\"%s\"", md_error_code(rc), err.msg);
    }
    md_write_result_deinit(&res);
    return rc;
}

static int sink_bars(void *ctx, const char *symbol, md_interval iv, md_bar *bars, size_t n)
{
    md_query_keep *k = ctx;
    md_services *svc = k->svc;
    if (!svc->writer || n == 0) return 0;
    md_series s = {symbol, iv, bars, n};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    md_write req = {.origin = k->origin, .series = &s, .n_series = 1};
    int rc = md_writer_write(svc->writer, &req, &res, &err);
    k->accepted += res.accepted;
    k->rejected += res.rejected;
    if (rc == 0 && res.rejected) {
        MD_WARN("sources",
                "bars rejected symbol=%s interval=%s rejected=%zu accepted=%zu "
                "first_reason=\"%s\"",
                symbol, md_interval_name(iv), res.rejected, res.accepted,
                res.n_rejects ? res.rejects[0].msg : "");
        rc = MD_EBAR;
    } else if (rc < 0) {
        MD_WARN("sources", "bars not stored symbol=%s code=%s error=\"%s\"", symbol,
                md_error_code(rc), err.msg);
    }
    md_write_result_deinit(&res);
    return rc;
}

void md_query_sink(md_query_keep *k, md_services *svc, md_write_origin origin, md_tick_sink *out)
{
    k->svc = svc;
    k->origin = origin;
    k->accepted = k->rejected = 0;
    out->quotes = sink_quotes;
    out->bars = sink_bars;
    out->ctx = k;
}

int md_query_fetch_quote(md_services *svc, const char *symbol, int source, md_quote *out,
                         md_error *err)
{
    if (!svc->sources) return md_error_set(err, MD_ENOSOURCE, "no sources are configured");
    md_query_keep k;
    md_tick_sink keep;
    md_query_sink(&k, svc, MD_WRITE_FETCH, &keep);
    md_fetch_opts fo = {source, 0, &keep};
    md_fetch_result res;
    md_quote q;
    int rc = md_srcmgr_quote(svc->sources, symbol, &fo, &q, &res, err);
    if (rc) return rc;
    if (res.kept_rc == MD_EBAR)
        return md_error_set(err, MD_EMALFORMED, "%s sent a quote for %s that failed validation",
                            md_source_name(res.source), symbol);
    char key[MD_SYMBOL_MAX + 4];
    snprintf(key, sizeof key, "q|%s", symbol);
    md_srcmgr_mark(svc->sources, key);
    *out = q;
    return 0;
}

#define MAX_CHUNKS 32

int md_query_fetch_bars(md_services *svc, const char *symbol, md_interval iv, int64_t start,
                        int64_t end, int source, size_t *fetched, size_t *stored, int *answered_by,
                        md_error *err)
{
    if (fetched) *fetched = 0;
    if (stored) *stored = 0;
    if (!svc->sources) return md_error_set(err, MD_ENOSOURCE, "no sources are configured");
    md_query_keep k;
    md_tick_sink keep;
    md_query_sink(&k, svc, MD_WRITE_FETCH, &keep);
    md_fetch_opts fo = {source, 0, &keep};
    int64_t chunk = md_srcmgr_max_range_s(svc->sources, source, iv);
    int64_t from = start;
    if (chunk > 0 && end - start > chunk * MAX_CHUNKS) from = end - chunk * MAX_CHUNKS;
    md_bar_vec v;
    md_bar_vec_init(&v);
    int rc = 0;
    size_t got = 0;
    for (int64_t a = from; a < end;) {
        int64_t b = chunk > 0 && end - a > chunk ? a + chunk : end;
        v.n = 0;
        md_fetch_result res;
        rc = md_srcmgr_bars(svc->sources, symbol, iv, a, b, &fo, &v, &res, err);
        if (rc < 0) break;
        got += (size_t)rc;
        if (answered_by) *answered_by = res.source;
        rc = 0;
        a = b;
    }
    md_bar_vec_deinit(&v);
    if (fetched) *fetched = got;
    if (stored) *stored = k.accepted;
    return rc;
}

/* -- several symbols of one request side by side ------------------------------------------- */

typedef struct each_ctx {
    md_item_fn fn;
    void *ctx;
    int64_t deadline_ms; /* the request's budget (md_srcmgr_budget_get), 0: none */
} each_ctx;

static void each_item(void *arg, size_t i)
{
    each_ctx *c = arg;
    int64_t mine = md_srcmgr_budget_get();
    md_srcmgr_budget_begin(c->deadline_ms); /* a helper thread fetches in the request's */
    c->fn(c->ctx, i);
    md_srcmgr_budget_begin(mine);
}

void md_query_each(md_services *svc, size_t n, md_item_fn fn, void *ctx)
{
    each_ctx c = {fn, ctx, md_srcmgr_budget_get()};
    int width = svc->cfg ? (int)svc->cfg->sources_request_concurrency : 1;
    /* without sources nothing waits on a provider: one after another, on this thread */
    md_workq_each(svc->sources ? svc->fetchers : NULL, n, width, each_item, &c);
}
