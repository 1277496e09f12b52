/* The router (server/router.c) against the real route table (routes.def): literal and
 * {capture} patterns, the order rows are tried in, 404 versus 405 with the allowed methods,
 * HEAD served by GET routes, and what md_route_run checks before a handler runs (API key,
 * body only where a route takes one, query parameters only those the route declares), with
 * the real handlers behind. */
#include "core/config.h"
#include "core/mem.h"
#include "server/routes.h"

#include <criterion/criterion.h>
#include <string.h>

static md_http_req req;

static void fini(void)
{
    md_http_req_deinit(&req);
}

TestSuite(router, .fini = fini);

/* Matches method + path; returns the route (or NULL) with status and allowed. */
static const md_route *match(md_http_method m, const char *path, int *status, int *allowed)
{
    md_http_req_deinit(&req);
    memset(&req, 0, sizeof req);
    req.method = m;
    req.path = md_strdup(path);
    return md_route_match(&req, status, allowed);
}

/* The pattern of the route matching method + path ("404"/"405" when none), and the capture
 * in cap (may be NULL). */
static const char *route_of(md_http_method m, const char *path, const char **cap)
{
    int status, allowed;
    const md_route *rt = match(m, path, &status, &allowed);
    if (cap) *cap = req.capture;
    if (rt) {
        cr_expect_eq(status, 200);
        cr_expect_str_eq(req.route, rt->pattern);
        return rt->pattern;
    }
    return status == 405 ? "405" : "404";
}

Test(router, literal_paths_match_exactly)
{
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/health", NULL), "/health");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/health/live", NULL), "/health/live");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/healthz", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/health/liv", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "", NULL), "404");
    const char *cap = "unset";
    route_of(MD_HTTP_GET, "/metrics", &cap);
    cr_expect_null(cap, "a literal route captures nothing");
}

Test(router, capture_takes_the_rest_of_the_path_up_to_the_suffix)
{
    const char *cap;
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/price/BRK.B", &cap), "/price/{symbol}");
    cr_expect_str_eq(cap, "BRK.B");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/price/EUR/USD", &cap), "/price/{symbol}");
    cr_expect_str_eq(cap, "EUR/USD", "a symbol may contain '/'");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/EUR/USD/indicators", &cap),
                     "/analytics/{symbol}/indicators");
    cr_expect_str_eq(cap, "EUR/USD");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/AAPL/summary", &cap),
                     "/analytics/{symbol}/summary");
    cr_expect_str_eq(cap, "AAPL");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/dashboard/js/app.js", &cap), "/dashboard/{path}");
    cr_expect_str_eq(cap, "js/app.js");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/jobs/bf-1", &cap), "/jobs/{id}");
    cr_expect_str_eq(cap, "bf-1");
}

Test(router, an_empty_capture_or_a_missing_suffix_is_no_match)
{
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/price/", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/price", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics//summary", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/AAPL", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/AAPL/other", NULL), "404");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/pricex/AAPL", NULL), "404");
}

Test(router, rows_are_tried_in_order)
{
    const char *cap;
    /* "/quality/report" comes before "/quality/{symbol}", which would also match it */
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/quality/report", &cap), "/quality/report");
    cr_expect_null(cap);
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/quality/REPORTS", &cap), "/quality/{symbol}");
    cr_expect_str_eq(cap, "REPORTS");
    /* "/dashboard" itself is its own row, "/dashboard/x" the {path} one */
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/dashboard", NULL), "/dashboard");
}

Test(router, wrong_method_is_405_with_the_methods_the_path_takes)
{
    int status, allowed;
    cr_expect_null(match(MD_HTTP_POST, "/price/AAPL", &status, &allowed));
    cr_expect_eq(status, 405);
    cr_expect_eq(allowed, MD_HTTP_GET | MD_HTTP_HEAD, "GET routes also take HEAD");
    char s[64];
    md_http_methods_str(allowed, ", ", s, sizeof s);
    cr_expect_str_eq(s, "GET, HEAD", "the Allow header's text");

    cr_expect_null(match(MD_HTTP_GET, "/ingest/bars", &status, &allowed));
    cr_expect_eq(status, 405);
    cr_expect_eq(allowed, MD_HTTP_POST, "no HEAD for a POST-only route");
    cr_expect_null(match(MD_HTTP_DELETE, "/cache/clear", &status, &allowed));
    cr_expect_eq(status, 405);
    cr_expect_eq(allowed, MD_HTTP_POST);
    cr_expect_null(match(MD_HTTP_OTHER, "/health", &status, &allowed));
    cr_expect_eq(status, 405);

    cr_expect_null(match(MD_HTTP_POST, "/nowhere", &status, &allowed));
    cr_expect_eq(status, 404, "no row matches the path: 404, whatever the method");
    cr_expect_eq(allowed, 0);
}

Test(router, head_is_answered_by_get_routes)
{
    cr_expect_str_eq(route_of(MD_HTTP_HEAD, "/price/AAPL", NULL), "/price/{symbol}");
    cr_expect_str_eq(route_of(MD_HTTP_HEAD, "/health", NULL), "/health");
    cr_expect_str_eq(route_of(MD_HTTP_HEAD, "/ingest/bars", NULL), "405");
}

Test(router, every_pattern_in_the_table_is_well_formed)
{
    static const struct {
        int methods;
        const char *pattern;
        int flags;
        const char *params;
    } rows[] = {
#define MD_ROUTE(methods, pattern, fn, flags, params) {methods, pattern, flags, params},
#include "server/routes.def"
#undef MD_ROUTE
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const char *p = rows[i].pattern;
        cr_expect_eq(p[0], '/', "%s", p);
        cr_expect(strlen(p) == 1 || p[strlen(p) - 1] != '/', "%s: trailing '/' never matches", p);
        const char *open = strchr(p, '{'), *close = strchr(p, '}');
        cr_expect((open == NULL) == (close == NULL), "%s", p);
        if (open) {
            cr_expect(close > open + 1, "%s: empty {name}", p);
            cr_expect_null(strchr(open + 1, '{'), "%s: one capture per pattern", p);
            cr_expect_eq(open[-1], '/', "%s: a capture starts a segment", p);
        }
        cr_expect(rows[i].methods && !(rows[i].methods & ~(MD_HTTP_OTHER - 1)), "%s", p);
        cr_expect(!((rows[i].flags & MD_RT_INLINE) && (rows[i].flags & MD_RT_TRY_INLINE)), "%s", p);
        if (rows[i].flags & MD_RT_BODY)
            cr_expect(rows[i].methods & (MD_HTTP_POST | MD_HTTP_PUT), "%s: a body needs POST", p);
        /* params: "*" or lower-case words separated by single spaces */
        const char *w = rows[i].params;
        cr_assert_not_null(w, "%s", p);
        if (strcmp(w, "*") != 0)
            for (const char *c = w; *c; c++)
                cr_expect((*c >= 'a' && *c <= 'z') || *c == '_' ||
                              (*c == ' ' && c > w && c[-1] != ' ' && c[1]),
                          "%s: params \"%s\"", p, w);
        /* the row itself is what the router finds for it */
        char path[128];
        snprintf(path, sizeof path, "%.*s%s%s", open ? (int)(open - p) : (int)strlen(p), p,
                 open ? "X" : "", open ? close + 1 : "");
        int m = rows[i].methods & -rows[i].methods;
        cr_expect_str_eq(route_of(m, path, NULL), p, "%s", path);
    }
}

/* -- running handlers ------------------------------------------------------------------- */

static md_config cfg;
static md_services svc;

static void svc_init(const char *keys)
{
    md_config_init(&cfg);
    md_free(cfg.api_keys);
    cfg.api_keys = md_strdup(keys);
    memset(&svc, 0, sizeof svc);
    svc.cfg = &cfg;
}

/* Runs method + path (+ body, + key) through match and md_route_run; the response. */
static md_http_resp run(md_http_method m, const char *path, const char *body, const char *key)
{
    int status, allowed;
    const md_route *rt = match(m, path, &status, &allowed);
    cr_assert_not_null(rt, "%s: %d", path, status);
    if (body) {
        req.body = md_strdup(body);
        req.body_len = strlen(body);
    }
    req.api_key = key ? md_strdup(key) : NULL;
    md_http_resp resp;
    memset(&resp, 0, sizeof resp);
    md_route_run(rt, &svc, &req, &resp);
    md_buf_putc(&resp.body, 0);
    return resp;
}

Test(router, a_body_is_refused_where_the_route_takes_none)
{
    svc_init("k1,k2");
    md_http_resp r = run(MD_HTTP_POST, "/cache/clear", "{\"level\":\"l1\"}", "k2");
    cr_expect_eq(r.status, 400);
    cr_expect(strstr(r.body.data, "\"invalid_argument\"") != NULL, "%s", r.body.data);
    cr_expect(strstr(r.body.data, "/cache/clear takes no request body") != NULL, "%s", r.body.data);
    md_buf_deinit(&r.body);
    r = run(MD_HTTP_POST, "/cache/clear", NULL, "k2");
    cr_expect_eq(r.status, 200, "%s", r.body.data);
    /* no Redis here: L1 alone was cleared, and the answer says so */
    cr_expect(strstr(r.body.data, "\"cleared\":[\"l1\"]") != NULL, "%s", r.body.data);
    md_buf_deinit(&r.body);
    md_config_deinit(&cfg);
}

Test(router, the_key_is_checked_before_anything_else)
{
    svc_init("k1");
    md_http_resp r = run(MD_HTTP_POST, "/cache/clear", "x", NULL);
    cr_expect_eq(r.status, 401, "no key: 401 even with a body the route refuses");
    md_buf_deinit(&r.body);
    r = run(MD_HTTP_POST, "/cache/clear", NULL, "k2");
    cr_expect_eq(r.status, 401, "%s", r.body.data);
    cr_expect(strstr(r.body.data, "invalid API key") != NULL, "%s", r.body.data);
    md_buf_deinit(&r.body);
    md_config_deinit(&cfg);
    svc_init("");
    r = run(MD_HTTP_POST, "/cache/clear", NULL, "k1");
    cr_expect_eq(r.status, 403, "no keys configured");
    cr_expect(strstr(r.body.data, "\"auth_not_configured\"") != NULL, "%s", r.body.data);
    md_buf_deinit(&r.body);
    md_config_deinit(&cfg);
}

static void add_param(const char *name, const char *value)
{
    req.params[req.n_params].name = md_strdup(name);
    req.params[req.n_params++].value = md_strdup(value);
}

Test(router, an_undeclared_parameter_is_refused_naming_it)
{
    svc_init("k1");
    int status, allowed;
    const md_route *rt = match(MD_HTTP_GET, "/health/live", &status, &allowed);
    cr_assert_not_null(rt);
    add_param("limt", "5");
    md_http_resp r;
    memset(&r, 0, sizeof r);
    md_route_run(rt, &svc, &req, &r);
    md_buf_putc(&r.body, 0);
    cr_expect_eq(r.status, 400, "%s", r.body.data);
    cr_expect(strstr(r.body.data, "\"invalid_parameter\"") != NULL, "%s", r.body.data);
    cr_expect(strstr(r.body.data, "'limt'") != NULL, "%s", r.body.data);
    md_buf_deinit(&r.body);
    /* a declared one passes (the check is by name; values are the handler's) */
    rt = match(MD_HTTP_POST, "/cache/clear", &status, &allowed);
    cr_assert_not_null(rt);
    add_param("level", "l1");
    req.api_key = md_strdup("k1");
    memset(&r, 0, sizeof r);
    md_route_run(rt, &svc, &req, &r);
    md_buf_putc(&r.body, 0);
    cr_expect_eq(r.status, 200, "%s", r.body.data);
    md_buf_deinit(&r.body);
    /* the key is checked first: no key, an unknown parameter: 401 */
    rt = match(MD_HTTP_POST, "/cache/clear", &status, &allowed);
    add_param("levle", "l1");
    memset(&r, 0, sizeof r);
    md_route_run(rt, &svc, &req, &r);
    cr_expect_eq(r.status, 401);
    md_buf_deinit(&r.body);
    /* and with the key the unknown one is named */
    rt = match(MD_HTTP_POST, "/cache/clear", &status, &allowed);
    add_param("levle", "l1");
    req.api_key = md_strdup("k1");
    memset(&r, 0, sizeof r);
    md_route_run(rt, &svc, &req, &r);
    md_buf_putc(&r.body, 0);
    cr_expect_eq(r.status, 400, "%s", r.body.data);
    cr_expect(strstr(r.body.data, "'levle'") != NULL, "%s", r.body.data);
    md_buf_deinit(&r.body);
    md_config_deinit(&cfg);
}

Test(router, routes_without_auth_run_without_a_key)
{
    svc_init("k1");
    md_http_resp r = run(MD_HTTP_GET, "/health/live", NULL, NULL);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body.data, "{\"status\":\"ok\"}");
    md_buf_deinit(&r.body);
    md_config_deinit(&cfg);
}

Test(router, try_inline_hands_a_cache_miss_to_a_worker_untouched)
{
    svc_init("");
    int status, allowed;
    const md_route *rt = match(MD_HTTP_GET, "/price/aapl", &status, &allowed);
    cr_assert(rt && (rt->flags & MD_RT_TRY_INLINE));
    md_http_resp resp;
    memset(&resp, 0, sizeof resp);
    cr_expect_eq(md_route_try_inline(rt, &svc, &req, &resp), MD_EAGAIN, "no cache: a miss");
    cr_expect_eq(resp.status, 0);
    cr_expect_eq(resp.body.len, 0);
    cr_expect_eq(req.tried_inline, 1);
    cr_expect_eq(req.on_loop, 0);
    /* bad input is answered on the loop */
    rt = match(MD_HTTP_GET, "/price/no way", &status, &allowed);
    cr_expect_eq(md_route_try_inline(rt, &svc, &req, &resp), 0);
    cr_expect_eq(resp.status, 400);
    md_buf_deinit(&resp.body);
    md_config_deinit(&cfg);
}

Test(router, analytics_literals_come_first_and_never_take_a_symbol)
{
    const char *cap;
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/returns", &cap), "/analytics/returns");
    cr_expect_null(cap);
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/correlation", NULL),
                     "/analytics/correlation");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/screens", NULL), "/analytics/screens");
    /* a symbol named RETURNS (or returns, or SCREENS) is reached through its own routes */
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/RETURNS/indicators", &cap),
                     "/analytics/{symbol}/indicators");
    cr_expect_str_eq(cap, "RETURNS");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/returns/summary", &cap),
                     "/analytics/{symbol}/summary");
    cr_expect_str_eq(cap, "returns");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/correlation/indicators", &cap),
                     "/analytics/{symbol}/indicators");
    /* screens: a name, unless the path is a symbol route (names indicators and summary are
     * refused by the config) */
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/screens/oversold", &cap),
                     "/analytics/screens/{name}");
    cr_expect_str_eq(cap, "oversold");
    cr_expect_str_eq(route_of(MD_HTTP_GET, "/analytics/screens/indicators", &cap),
                     "/analytics/{symbol}/indicators");
    cr_expect_str_eq(cap, "screens");
    cr_expect_str_eq(route_of(MD_HTTP_POST, "/analytics/returns", NULL), "405");
}
