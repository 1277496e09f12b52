/* routes_analytics.c - /analytics/indicators (the indicator table), /analytics/{symbol}/
 * indicators and /analytics/{symbol}/summary, the cross-symbol /analytics/returns and
 * /analytics/correlation, and the screens' results /analytics/screens[/{name}]. */
#include "server/routes.h"

#include "analytics/indicators.h"
#include "pipeline/pipeline.h"

/* GET /analytics/indicators: every indicator, its parameters and outputs, from
 * analytics/indicators.def (no I/O: answered on the event loop). */
int md_route_indicator_defs(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    (void)svc, (void)req, (void)err;
    md_ind_defs_json(md_http_json(resp, 200));
    return 0;
}

int md_route_indicators(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_history_req hr;
    int rc = md_history_req_parse(&hr, req->capture, md_http_param_getter, req, svc->cfg, err);
    if (rc) return rc;
    const char *names = md_http_param_get(req, "names"),
               *alias = md_http_param_get(req, "indicators");
    if (names && alias) /* never answer one and drop the other */
        return md_error_set(
            err, MD_EPARAM,
            "names and indicators: give one of them (indicators is an alias of names)");
    if (!names) names = alias;
    if (!names)
        return md_error_set(err, MD_EPARAM,
                            "names: give indicators, e.g. "
                            "?names=sma:20,ema:50,rsi:14");
    if (hr.csv) return md_error_set(err, MD_EPARAM, "format: indicators are answered in JSON only");
    md_link link = md_http_link(req);
    hr.link = &link;
    md_buf next = MD_BUF_INIT;
    rc = md_query_indicators(svc, &hr, names, md_http_json(resp, 200), &next, err);
    if (rc == 0) md_http_link_next(resp, next.data);
    md_buf_deinit(&next);
    return rc;
}

int md_route_summary(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_history_req hr;
    int rc = md_history_req_parse(&hr, req->capture, md_http_param_getter, req, svc->cfg, err);
    if (rc) return rc;
    return md_query_summary(svc, &hr, md_http_json(resp, 200), err);
}

/* GET /analytics/returns and /analytics/correlation (query/cross.c). Literal patterns: a
 * symbol named RETURNS is /analytics/RETURNS/indicators, never these (routes.def). */
static int cross(md_services *svc, md_http_req *req, md_http_resp *resp, int correlation,
                 md_error *err)
{
    md_cross_req r;
    int rc = md_cross_req_parse(&r, correlation, md_http_param_getter, req, svc->cfg, err);
    md_buf *out = &resp->body;
    if (rc == 0) {
        if (r.csv) {
            resp->status = 200;
            resp->content_type = "text/csv; charset=utf-8";
        } else {
            out = md_http_json(resp, 200);
        }
        rc = correlation ? md_query_correlation(svc, &r, out, err)
                         : md_query_returns(svc, &r, out, err);
    }
    md_cross_req_deinit(&r);
    return rc;
}

int md_route_returns(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return cross(svc, req, resp, 0, err);
}

int md_route_correlation(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return cross(svc, req, resp, 1, err);
}

/* GET /analytics/screens and /analytics/screens/{name} (pipeline/screen.c): the stored
 * results, the same on every agent of a deployment. */
int md_route_screens(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return md_pipeline_screens_json(svc->pipeline, svc->cfg, md_http_json(resp, 200), err);
}

int md_route_screen(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return md_pipeline_screen_json(svc->pipeline, req->capture, md_http_json(resp, 200), err);
}
