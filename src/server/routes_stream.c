/* routes_stream.c - GET /stream without a WebSocket upgrade (upgrades never reach the
 * routes: ws.c takes them). Tells a curl user what the endpoint is. */
#include "server/routes.h"

int md_route_stream(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!svc->hub)
        return md_error_set(err, MD_ENOTFOUND, "streaming is disabled (stream.enabled is false)");
    md_http_header(resp, "Upgrade", "websocket");
    return md_error_set(err, MD_EUPGRADE,
                        "/stream is a WebSocket endpoint: connect with a WebSocket client "
                        "(ws://HOST:PORT/stream)");
}
