/* routes_ingest.c - POST /ingest/bars and /ingest/quotes (API key required). */
#include "server/routes.h"

#include "ingest/batch.h"

#include <string.h>
#include <strings.h>

static int is_csv(const md_http_req *req)
{
    return req->content_type && (strncasecmp(req->content_type, "text/csv", 8) == 0 ||
                                 strncasecmp(req->content_type, "application/csv", 15) == 0);
}

int md_route_ingest_bars(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!req->body || !req->body_len) return md_error_set(err, MD_EJSON, "empty request body");
    md_bar_batch b;
    md_bar_batch_init(&b);
    int rc;
    if (is_csv(req)) {
        int iv = -1;
        const char *ivs = md_http_param_get(req, "interval");
        if (ivs) {
            md_interval x;
            if ((rc = md_interval_parse(ivs, &x, err))) return rc;
            iv = (int)x;
        }
        rc = md_batch_parse_csv_bars(&b, req->body, req->body_len, md_http_param_get(req, "symbol"),
                                     iv, MD_SRC_INGEST, err);
    } else {
        rc = md_batch_parse_json_bars(&b, req->body, req->body_len, MD_SRC_INGEST, err);
    }
    if (rc == 0) rc = md_batch_ingest(svc->writer, &b, md_http_json(resp, 200), err);
    md_bar_batch_deinit(&b);
    return rc;
}

int md_route_ingest_quotes(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!req->body || !req->body_len) return md_error_set(err, MD_EJSON, "empty request body");
    md_bar_batch b;
    md_bar_batch_init(&b);
    int rc = md_batch_parse_json_quotes(&b, req->body, req->body_len, MD_SRC_INGEST, err);
    if (rc == 0) rc = md_batch_ingest(svc->writer, &b, md_http_json(resp, 200), err);
    md_bar_batch_deinit(&b);
    return rc;
}
