/* Fuzzes a request's path capture and query string the way the server takes them apart
 * (server/request.c: md_http_parse_query splits at '&' and percent-decodes), then
 * every parser of request parameters behind the read routes: /historical and /analytics
 * (md_history_req_parse), /quality and /validate (md_quality_req_parse), the analytics
 * indicator list (md_ind_parse). Input: "CAPTURE\nQUERY". Checks: a parse either fails
 * with a code and a message, or yields a request within its documented bounds. */
#include "analytics/indicators.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "query/quality.h"
#include "query/query.h"
#include "server/http.h"
#include "server/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static md_config cfg;

static void check_failed(int rc, const md_error *err, const char *what)
{
    md_assert(rc < 0 && err->rc == rc && err->msg[0], "%s: rc %d without an error", what, rc);
    md_assert(md_error_http_status(rc) == 400, "%s: %s for bad input is not a 400", what,
              md_error_name(rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg.listen) {
        md_log_set_level(MD_LOG_OFF);
        md_config_init(&cfg);
    }
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = 0;
    char *nl = memchr(in, '\n', size);
    const char *query = nl ? nl + 1 : "";
    if (nl) *nl = 0;

    md_http_req req;
    memset(&req, 0, sizeof req);
    req.capture = in[0] ? md_strdup(in) : NULL;
    size_t qlen = size - (size_t)(query - in);
    if (!nl) qlen = 0;
    md_error err;
    int qrc = md_http_parse_query(&req, query, qlen, &err);
    if (qrc < 0) { /* the server answers 400 */
        check_failed(qrc, &err, "query string");
        md_http_req_deinit(&req);
        free(in);
        return 0;
    }
    md_assert(req.n_params >= 0 && req.n_params <= MD_HTTP_MAX_PARAMS, "%d params", req.n_params);

    md_history_req hr;
    /* /historical and /analytics always have a capture (the router never matches an empty
     * one); /quality/report has none */
    int rc = req.capture
                 ? md_history_req_parse(&hr, req.capture, md_http_param_getter, &req, &cfg, &err)
                 : 0;
    if (rc)
        check_failed(rc, &err, "history");
    else if (req.capture) {
        md_assert(hr.start < hr.end, "empty range");
        md_assert(hr.limit >= 1 && hr.limit <= (size_t)cfg.max_limit, "limit %zu", hr.limit);
        md_assert((unsigned)hr.iv < MD_IV_COUNT, "interval %d", (int)hr.iv);
        md_assert(hr.symbol[0] && strlen(hr.symbol) <= MD_SYMBOL_MAX, "symbol");
    }

    md_quality_req qr;
    rc = md_quality_req_parse(&qr, req.capture, md_http_param_getter, &req, &err);
    if (rc) check_failed(rc, &err, "quality");

    const char *names = md_http_param_get(&req, "indicators");
    if (names) {
        md_ind_spec specs[MD_IND_MAX];
        int n = md_ind_parse(names, specs, MD_IND_MAX, &err);
        if (n < 0)
            check_failed(n, &err, "indicators");
        else
            md_assert(n <= MD_IND_MAX, "%d indicators", n);
    }
    md_http_req_deinit(&req);
    free(in);
    return 0;
}
