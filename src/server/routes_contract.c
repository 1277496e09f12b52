/* routes_contract.c - GET /openapi.json and /asyncapi.json (server/contract.h): rendered
 * once, then answered from memory on the event loop. */
#include "server/routes.h"

#include "server/contract.h"

static int answer(md_contract_kind kind, md_http_resp *resp, md_error *err)
{
    size_t len;
    const char *doc = md_contract_doc(kind, &len, err);
    if (!doc) return err->rc;
    md_buf_append(md_http_json(resp, 200), doc, len);
    return 0;
}

int md_route_openapi(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    (void)svc, (void)req;
    return answer(MD_CONTRACT_OPENAPI, resp, err);
}

int md_route_asyncapi(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    (void)svc, (void)req;
    return answer(MD_CONTRACT_ASYNCAPI, resp, err);
}
