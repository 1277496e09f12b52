/* router.c - matching paths against routes.def and running handlers (the rules are in
 * routes.def's header). */
#include "server/routes.h"

#include "core/error.h"
#include "core/mem.h"
#include "sources/manager.h"

#include <string.h>
#include <strings.h>

static const md_route routes[] = {
#define MD_ROUTE(methods, pattern, fn, flags, params) {methods, pattern, fn, flags, params},
#include "server/routes.def"
#undef MD_ROUTE
};

const md_route *md_route_table(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* Matches path against pattern; on success cap and cap_len give the capture (if any). */
static int match(const char *pattern, const char *path, const char **cap, size_t *cap_len)
{
    const char *open = strchr(pattern, '{');
    *cap = NULL;
    *cap_len = 0;
    if (!open) return strcmp(pattern, path) == 0;
    size_t pre = (size_t)(open - pattern);
    const char *close = strchr(open, '}');
    md_assert(close && !strchr(close, '{'), "route %s: one {name} per pattern", pattern);
    const char *suffix = close + 1;
    size_t plen = strlen(path), slen = strlen(suffix);
    if (strncmp(path, pattern, pre) != 0) return 0;
    if (plen < pre + slen + 1) return 0;
    if (strcmp(path + plen - slen, suffix) != 0) return 0;
    *cap = path + pre;
    *cap_len = plen - pre - slen;
    return 1;
}

const md_route *md_route_match(md_http_req *req, int *status, int *allowed)
{
    *allowed = 0;
    *status = 404;
    for (size_t i = 0; i < MD_ARRAY_LEN(routes); i++) {
        const char *cap;
        size_t cap_len;
        if (!match(routes[i].pattern, req->path, &cap, &cap_len)) continue;
        if (!(routes[i].methods & req->method) &&
            !(req->method == MD_HTTP_HEAD && (routes[i].methods & MD_HTTP_GET))) {
            *allowed |= routes[i].methods;
            if (routes[i].methods & MD_HTTP_GET) *allowed |= MD_HTTP_HEAD; /* served as GET */
            *status = 405;
            continue;
        }
        req->route = routes[i].pattern;
        md_free(req->capture);
        req->capture = cap ? md_strndup(cap, cap_len) : NULL;
        *status = 200;
        return &routes[i];
    }
    return NULL;
}

/* 1 when name is one of the space-separated words of list. */
static int declared(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ' ') p++;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && len == n && memcmp(p, name, n) == 0) return 1;
        p += len;
    }
    return 0;
}

int md_route_check_params(const md_route *rt, const md_http_req *req, md_error *err)
{
    if (!rt->params || strcmp(rt->params, "*") == 0) return 0;
    for (int i = 0; i < req->n_params; i++) {
        const char *name = req->params[i].name;
        if (declared(rt->params, name)) {
            /* one value each: a repeated parameter (?limit=1&limit=3, or symbols=A&symbols=B
             * as some clients encode a list) is refused, not answered for its first value.
             * Every earlier name is declared too, so this stays within the route's few names. */
            for (int j = 0; j < i; j++)
                if (strcmp(req->params[j].name, name) == 0)
                    return md_error_set(err, MD_EPARAM,
                                        "parameter '%.40s' is given more than once (one value; "
                                        "a list is one comma-separated value)",
                                        name);
            continue;
        }
        if (!*rt->params)
            return md_error_set(err, MD_EPARAM, "unknown parameter '%.40s': %s takes none", name,
                                rt->pattern);
        return md_error_set(err, MD_EPARAM, "unknown parameter '%.40s' (%s takes: %s)", name,
                            rt->pattern, rt->params);
    }
    return 0;
}

/* cached_only true: the request never asks the providers (a word that is not a boolean is
 * refused by the handler; it needs no fetch worker either). */
static int cached_only(const md_http_req *req)
{
    int yes;
    return md_query_cached_only_parse(md_http_param_get(req, "cached_only"), &yes, NULL) != 0 ||
           yes;
}

md_workq *md_route_queue(const md_route *rt, md_services *svc, const md_http_req *req)
{
    if ((rt->flags & MD_RT_FETCH) && svc->fetchers && !cached_only(req)) return svc->fetchers;
    return svc->workers;
}

/* What every handler may assume: the key was checked (MD_RT_AUTH), a body came only where
 * one is taken (MD_RT_BODY), every query parameter is one the route declares. */
static int admit(const md_route *rt, md_services *svc, md_http_req *req, md_error *err)
{
    if (rt->flags & MD_RT_AUTH) {
        int rc = md_http_check_auth(svc, req, err);
        if (rc) return rc;
    }
    if (req->body_len && !(rt->flags & MD_RT_BODY))
        return md_error_set(err, MD_EINVAL, "%s takes no request body (%zu bytes sent)",
                            rt->pattern, req->body_len);
    return md_route_check_params(rt, req, err);
}

void md_route_run(const md_route *rt, md_services *svc, md_http_req *req, md_http_resp *resp)
{
    md_error err;
    md_error_clear(&err);
    int budget = (rt->flags & MD_RT_FETCH) && svc->cfg && svc->cfg->sources_deadline_ms > 0;
    if (budget) /* one budget for the request, counted from its arrival */
        md_srcmgr_budget_begin(req->start_ns / 1000000 + svc->cfg->sources_deadline_ms);
    int rc = admit(rt, svc, req, &err);
    if (rc == 0) rc = rt->fn(svc, req, resp, &err);
    if (budget) md_srcmgr_budget_end();
    if (rc < 0) md_http_error(resp, rc, err.msg);
}

int md_route_try_inline(const md_route *rt, md_services *svc, md_http_req *req, md_http_resp *resp)
{
    md_error err;
    md_error_clear(&err);
    int rc = admit(rt, svc, req, &err);
    if (rc == 0) {
        req->on_loop = 1;
        rc = rt->fn(svc, req, resp, &err);
        req->on_loop = 0;
        if (rc == MD_EAGAIN) {
            req->tried_inline = 1;
            md_buf_reset(&resp->body);
            resp->status = 0;
            resp->headers[0] = 0;
            return MD_EAGAIN;
        }
    }
    if (rc < 0) md_http_error(resp, rc, err.msg);
    return 0;
}
