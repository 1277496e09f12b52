/* routes_cluster.c - GET /cluster: every agent of the deployment, as each announces itself
 * in Redis (query/services_cluster.c). */
#include "server/routes.h"

#include "query/services.h"

int md_route_cluster(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return md_services_cluster_render(svc, md_http_json(resp, 200), err);
}
