/* routes_actions.c - GET /actions/{symbol} and POST /ingest/actions (API key required). */
#include "server/routes.h"

#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "ingest/actions.h"

#include <string.h>
#include <strings.h>

int md_route_actions(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    char sym[MD_SYMBOL_MAX + 1];
    int rc = md_symbol_normalize_str(req->capture, sym, err);
    if (rc) return rc;
    int64_t start = MD_TS_MIN, end = MD_TS_MAX;
    const char *v;
    if ((v = md_http_param_get(req, "start")) && (rc = md_time_parse_str(v, &start, err))) {
        md_error_prefix(err, "start");
        return rc;
    }
    if ((v = md_http_param_get(req, "end")) && (rc = md_time_parse_str(v, &end, err))) {
        md_error_prefix(err, "end");
        return rc;
    }
    if (end <= start) return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    int cached_only; /* as /historical */
    if ((rc = md_query_cached_only_parse(md_http_param_get(req, "cached_only"), &cached_only, err)))
        return rc;
    md_action_vec a;
    md_action_vec_init(&a);
    md_error src_err;
    md_error_clear(&src_err);
    rc = md_query_actions(svc, sym, start, end, cached_only, &a, &src_err, err);
    if (rc >= 0) {
        md_symbol_ref ref;
        md_error e;
        int have = md_store_get_symbol_ref(svc->store, sym, &ref, &e) == 0;
        if (a.n == 0 && !have && !md_query_symbol_known(svc, sym)) {
            /* nothing here: the sources' failure says why, unless they said "no such data" */
            if (src_err.rc && src_err.rc != MD_ENOTFOUND && src_err.rc != MD_ENODATA)
                rc = md_error_set(err, src_err.rc, "%s", src_err.msg);
            else
                rc = md_error_set(err, MD_ENOTFOUND, "no data for symbol %s", sym);
        } else {
            md_render_actions_json(md_http_json(resp, 200), sym, a.v, a.n, have ? &ref : NULL);
            rc = 0;
        }
    }
    md_action_vec_deinit(&a);
    return rc;
}

static int is_csv(const md_http_req *req)
{
    return req->content_type && (strncasecmp(req->content_type, "text/csv", 8) == 0 ||
                                 strncasecmp(req->content_type, "application/csv", 15) == 0);
}

int md_route_ingest_actions(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!req->body || !req->body_len) return md_error_set(err, MD_EJSON, "empty request body");
    md_bar_batch errs;
    md_bar_batch_init(&errs);
    md_action_vec a;
    md_action_vec_init(&a);
    int rc =
        is_csv(req)
            ? md_actions_parse_csv(req->body, req->body_len, md_http_param_get(req, "symbol"),
                                   MD_SRC_INGEST, &a, NULL, &errs, err)
            : md_actions_parse_json(req->body, req->body_len, MD_SRC_INGEST, &a, NULL, &errs, err);
    size_t changed = 0;
    if (rc == 0) rc = md_query_put_actions(svc, a.v, a.n, &changed, err);
    if (rc == 0) {
        md_buf *out = md_http_json(resp, 200);
        md_buf_puts(out, "{\"accepted\":");
        md_buf_int(out, (int64_t)a.n);
        md_buf_puts(out, ",\"changed\":");
        md_buf_int(out, (int64_t)changed);
        md_buf_puts(out, ",\"rejected\":");
        md_buf_int(out, (int64_t)errs.n_errors);
        md_buf_puts(out, ",\"errors\":[");
        for (size_t i = 0; i < errs.n_errors; i++) {
            if (i) md_buf_putc(out, ',');
            md_buf_puts(out, "{\"index\":");
            md_buf_int(out, (int64_t)errs.errors[i].index);
            md_buf_puts(out, ",\"code\":");
            md_buf_json_str(out, errs.errors[i].code);
            md_buf_puts(out, ",\"message\":");
            md_buf_json_str(out, errs.errors[i].msg);
            md_buf_putc(out, '}');
        }
        md_buf_puts(out, "]}");
    }
    md_action_vec_deinit(&a);
    md_bar_batch_deinit(&errs);
    return rc;
}
