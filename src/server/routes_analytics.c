/* routes_analytics.c - /analytics/indicators (the indicator table), /analytics/{symbol}/
 * indicators and /analytics/{symbol}/summary. */
#include "server/routes.h"

#include "analytics/indicators.h"

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
    const char *names = md_http_param_get(req, "names");
    if (!names) names = md_http_param_get(req, "indicators");
    if (!names)
        return md_error_set(err, MD_EPARAM,
                            "names: give indicators, e.g. "
                            "?names=sma:20,ema:50,rsi:14");
    return md_query_indicators(svc, &hr, names, md_http_json(resp, 200), err);
}

int md_route_summary(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_history_req hr;
    int rc = md_history_req_parse(&hr, req->capture, md_http_param_getter, req, svc->cfg, err);
    if (rc) return rc;
    return md_query_summary(svc, &hr, md_http_json(resp, 200), err);
}
