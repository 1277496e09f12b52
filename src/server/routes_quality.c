/* routes_quality.c - GET /quality/{symbol}, /quality/report, /validate/{symbol}.
 * The grading itself lives in query/quality.c (a CLI command can reuse it). */
#include "server/routes.h"

#include "query/quality.h"

int md_route_quality(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_quality_req qr;
    int rc = md_quality_req_parse(&qr, req->capture, md_http_param_getter, req, err);
    if (rc) return rc;
    md_quality_grade g;
    rc = md_query_quality(svc, &qr, &g, err);
    if (rc) return rc;
    md_link link = md_http_link(req);
    md_buf next = MD_BUF_INIT;
    md_render_quality_json(md_http_json(resp, 200), &g, qr.max_issues, &link, &next);
    md_http_link_next(resp, next.data);
    md_buf_deinit(&next);
    md_quality_grade_deinit(&g);
    return 0;
}

int md_route_quality_report(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_quality_req qr;
    int rc = md_quality_req_parse(&qr, NULL, md_http_param_getter, req, err);
    if (rc) return rc;
    md_quality_grade *g = NULL;
    size_t n = 0;
    rc = md_query_quality_report(svc, &qr, &g, &n, err);
    if (rc) return rc;
    md_render_quality_report_json(md_http_json(resp, 200), g, n);
    md_quality_grades_free(g, n);
    return 0;
}

int md_route_validate(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_quality_req qr;
    int rc = md_quality_req_parse(&qr, req->capture, md_http_param_getter, req, err);
    if (rc) return rc;
    md_validate_result r;
    rc = md_query_validate(svc, &qr, &r, err);
    if (rc) return rc;
    md_link link = md_http_link(req);
    md_buf next = MD_BUF_INIT;
    md_render_validate_json(md_http_json(resp, 200), &r, &link, &next);
    md_http_link_next(resp, next.data);
    md_buf_deinit(&next);
    md_validate_result_deinit(&r);
    return 0;
}
