/* routes_dashboard.c - the monitoring page: GET /dashboard (web/index.html),
 * /dashboard/{path} (the page's own files under web/, the chart libraries' dist files as
 * /dashboard/lib/lightweight-charts/... and /dashboard/lib/uplot/...), and
 * /dashboard/routes.json (the routes this agent serves and which libraries are installed,
 * so the page asks only for what exists and shows "not available" for the rest).
 *
 * The files come from dashboard.dir; when it is empty, from the source tree's web/ (the
 * MD_SOURCE_DIR compile definition), else web/ beside or above the binary, else
 * share/mdagent/web. Cached files are answered on the event loop; a first read or a
 * recheck runs on a worker (MD_RT_TRY_INLINE). Nothing here downloads anything. */
#include "server/routes.h"

#include "core/config.h"
#include "core/mem.h"
#include "server/assets.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const md_assets_alias aliases[] = {
    {"lib/lightweight-charts/", "node_modules/lightweight-charts/dist"},
    {"lib/uplot/", "node_modules/uplot/dist"},
};
/* Under web/ but not part of the page. */
static const char *const hidden[] = {"node_modules", "package.json", "package-lock.json", NULL};

/* The library files the page loads (relative to /dashboard/). */
#define LWC_FILE "lib/lightweight-charts/lightweight-charts.standalone.production.mjs"
#define UPLOT_FILE "lib/uplot/uPlot.esm.js"

/* lightweight-charts adds a <style> element, hence 'unsafe-inline' for styles only. */
#define CSP                                                                                        \
    "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "                   \
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

/* One opened file set per configured directory (the agent has one; tests may use more).
 * Sets live until the process ends, so a pointer taken under the lock stays valid. */
typedef struct dash_set {
    char *configured;
    md_assets *assets;
    struct dash_set *next;
} dash_set;

static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static dash_set *sets;

static int has_index(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/index.html", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The default directory: the source tree's web/, else web/ near the binary. */
static int default_dir(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *exe_dir = ".";
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        exe_dir = exe;
    }
    const char *under_exe[] = {"web", "../web", "../share/mdagent/web"};
    if (snprintf(out, n, "%s/web", MD_SOURCE_DIR) < (int)n && has_index(out)) return 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(under_exe); i++)
        if (snprintf(out, n, "%s/%s", exe_dir, under_exe[i]) < (int)n && has_index(out)) return 0;
    return -1;
}

/* The file set for cfg. On the loop (no I/O allowed) a set not opened yet gives MD_EAGAIN. */
static int get_set(const md_config *cfg, int on_loop, md_assets **out, md_error *err)
{
    const char *want = cfg->dashboard_dir ? cfg->dashboard_dir : "";
    pthread_mutex_lock(&sets_lock);
    for (dash_set *s = sets; s; s = s->next) {
        if (strcmp(s->configured, want) == 0) {
            *out = s->assets;
            pthread_mutex_unlock(&sets_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&sets_lock);
    if (on_loop) return MD_EAGAIN;

    char dir[PATH_MAX];
    if (*want) {
        snprintf(dir, sizeof dir, "%s", want);
    } else if (default_dir(dir, sizeof dir) != 0) {
        return md_error_set(err, MD_ENOTFOUND,
                            "dashboard files not found: set dashboard.dir "
                            "(MDAGENT_DASHBOARD_DIR) to mdagent's web/ directory");
    }
    md_assets *a;
    int rc = md_assets_open(dir, aliases, MD_ARRAY_LEN(aliases), hidden, &a, err);
    if (rc) return rc;
    pthread_mutex_lock(&sets_lock);
    for (dash_set *s = sets; s; s = s->next) { /* another thread was quicker */
        if (strcmp(s->configured, want) == 0) {
            pthread_mutex_unlock(&sets_lock);
            md_assets_free(a);
            *out = s->assets;
            return 0;
        }
    }
    dash_set *s = md_calloc(1, sizeof *s);
    s->configured = md_strdup(want);
    s->assets = a;
    s->next = sets;
    sets = s;
    pthread_mutex_unlock(&sets_lock);
    *out = a;
    return 0;
}

static void release_asset(void *ctx)
{
    md_asset_release(ctx);
}

/* GET /dashboard/routes.json */
static int routes_json(md_assets *a, md_http_resp *resp)
{
    static const struct {
        int methods;
        const char *pattern, *params;
    } table[] = {
#define MD_ROUTE(methods, pattern, fn, flags, params) {methods, pattern, params},
#include "server/routes.def"
#undef MD_ROUTE
    };
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"version\":\"" MD_VERSION "\",\"routes\":[");
    for (size_t i = 0; i < MD_ARRAY_LEN(table); i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_puts(b, "{\"path\":");
        md_buf_json_str(b, table[i].pattern);
        md_buf_puts(b, ",\"methods\":[");
        char methods[64];
        md_http_methods_str(table[i].methods, "\",\"", methods, sizeof methods);
        md_buf_printf(b, "\"%s\"]", methods);
        /* the query parameters it takes (routes.def); ["*"]: any */
        md_buf_puts(b, ",\"params\":[");
        int first = 1;
        for (const char *p = table[i].params; *p;) {
            while (*p == ' ') p++;
            size_t len = strcspn(p, " ");
            if (!len) break;
            if (!first) md_buf_putc(b, ',');
            md_buf_putc(b, '"');
            md_buf_append(b, p, len);
            md_buf_putc(b, '"');
            first = 0;
            p += len;
        }
        md_buf_puts(b, "]}");
    }
    md_buf_puts(b, "],\"libs\":{\"lightweight-charts\":");
    md_buf_puts(b, md_assets_exists(a, LWC_FILE) ? "\"/dashboard/" LWC_FILE "\"" : "null");
    md_buf_puts(b, ",\"uplot\":");
    md_buf_puts(b, md_assets_exists(a, UPLOT_FILE) ? "\"/dashboard/" UPLOT_FILE "\"" : "null");
    md_buf_puts(b, "}}");
    return 0;
}

static int serve(md_services *svc, md_http_req *req, md_http_resp *resp, const char *rel,
                 md_error *err)
{
    if (!svc->cfg->dashboard_enabled)
        return md_error_set(err, MD_ENOTFOUND, "the dashboard is off (dashboard.enabled: false)");
    md_assets *a;
    int rc = get_set(svc->cfg, req->on_loop, &a, err);
    if (rc) return rc;
    if (strcmp(rel, "routes.json") == 0) {
        if (req->on_loop) return MD_EAGAIN; /* looks at the disk for the libraries */
        return routes_json(a, resp);
    }
    md_asset *f;
    rc = md_assets_get(a, rel, req->on_loop, &f, err);
    if (rc == MD_EAGAIN) return rc;
    if (rc == MD_ENOTFOUND) {
        char reason[MD_ERROR_MSG_MAX];
        snprintf(reason, sizeof reason, "%s", err->msg);
        return md_error_set(err, MD_ENOTFOUND, "no dashboard file '%.120s' (%s)", rel, reason);
    }
    if (rc) return rc;
    resp->status = 200;
    resp->content_type = f->content_type;
    resp->ext = f->data;
    resp->ext_len = f->len;
    resp->ext_release = release_asset;
    resp->ext_ctx = f;
    md_http_header(resp, "X-Content-Type-Options", "nosniff");
    if (strncmp(f->content_type, "text/html", 9) == 0)
        md_http_header(resp, "Content-Security-Policy", CSP);
    return 0;
}

int md_route_dashboard(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return serve(svc, req, resp, "index.html", err);
}

int md_route_dashboard_file(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    return serve(svc, req, resp, req->capture ? req->capture : "", err);
}
