/* http.c - request/response helpers and API-key checks. */
#include "server/http.h"

#include "cache/cache.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/render.h"

#include <string.h>

static const char *const method_names[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"};
_Static_assert(MD_HTTP_OTHER == 1 << MD_ARRAY_LEN(method_names), "one name per method bit");

void md_http_methods_str(int methods, const char *sep, char *out, size_t n)
{
    size_t len = 0;
    if (n) out[0] = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(method_names); i++) {
        if (!(methods & (1 << i))) continue;
        int k = snprintf(out + len, n - len, "%s%s", len ? sep : "", method_names[i]);
        if (k < 0 || (size_t)k >= n - len) return;
        len += (size_t)k;
    }
}

void md_http_req_deinit(md_http_req *r)
{
    md_free(r->path);
    md_free(r->capture);
    for (int i = 0; i < r->n_params; i++) {
        md_free(r->params[i].name);
        md_free(r->params[i].value);
    }
    md_free(r->api_key);
    md_free(r->content_type);
    md_free(r->host);
    md_free(r->body);
    r->path = r->capture = r->api_key = r->content_type = r->host = r->body = NULL;
    r->n_params = 0;
    r->body_len = 0;
}

const char *md_http_param_get(const md_http_req *req, const char *name)
{
    for (int i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0) return req->params[i].value;
    return NULL;
}

const char *md_http_param_getter(void *req, const char *name)
{
    return md_http_param_get(req, name);
}

/* The "next" of a cached JSON page: md_render_history_json writes it before the bars, by
 * path; *at is the offset of its first character. NULL when the page is the last one. */
static const char *path_next(const char *body, size_t len, size_t *at, size_t *n)
{
    static const char mark[] = ",\"truncated\":true,\"next\":\"/";
    size_t scan = len < 512 ? len : 512;
    const char *m = memmem(body, scan, mark, sizeof mark - 2);
    if (!m) return NULL;
    const char *u = m + sizeof mark - 2, *e = memchr(u, '"', (size_t)(body + len - u));
    if (!e) return NULL;
    *at = (size_t)(u - body);
    *n = (size_t)(e - u);
    return u;
}

void md_http_answer(const md_http_req *req, md_http_resp *resp, md_answer *a)
{
    resp->status = 200;
    resp->content_type = a->content_type ? a->content_type : "application/json";
    size_t len;
    const char *body = md_answer_body(a, &len), *next = NULL;
    size_t at = 0, n = 0;
    md_buf origin = MD_BUF_INIT;
    md_http_origin(req, &origin);
    if (resp->content_type && strncmp(resp->content_type, "application/json", 16) == 0)
        next = path_next(body, len, &at, &n);
    else if (a->next.len) /* a CSV page has it in the header only */
        next = a->next.data, n = a->next.len;
    md_buf link = MD_BUF_INIT;
    if (next) {
        if (next[0] == '/') md_buf_append(&link, origin.data ? origin.data : "", origin.len);
        md_buf_append(&link, next, n);
    }
    if (next && at && origin.len) { /* the body's "next", absolute: one copy of the page */
        md_buf_reset(&resp->body);
        md_buf_reserve(&resp->body, len + origin.len);
        md_buf_append(&resp->body, body, at);
        md_buf_append(&resp->body, origin.data, origin.len);
        md_buf_append(&resp->body, body + at, len - at);
    } else if (a->entry) {
        resp->ext = md_cache_entry_body(a->entry, &resp->ext_len);
        resp->ext_release = md_cache_entry_release;
        resp->ext_ctx = a->entry;
        a->entry = NULL;
    } else {
        md_buf tmp = resp->body;
        resp->body = a->body;
        a->body = tmp;
    }
    if (link.len) md_http_link_next(resp, link.data);
    md_buf_deinit(&link);
    md_buf_deinit(&origin);
    if (a->cache) {
        size_t hn = strlen(resp->headers), cl = strlen(a->cache);
        if (hn + 9 + cl + 3 <= sizeof resp->headers) { /* "X-Cache: l1\r\n" */
            memcpy(resp->headers + hn, "X-Cache: ", 9);
            memcpy(resp->headers + hn + 9, a->cache, cl);
            memcpy(resp->headers + hn + 9 + cl, "\r\n", 3);
        }
    }
}

md_buf *md_http_json(md_http_resp *resp, int status)
{
    resp->status = status;
    resp->content_type = "application/json";
    md_buf_reset(&resp->body);
    return &resp->body;
}

void md_http_header(md_http_resp *resp, const char *name, const char *value)
{
    size_t n = strlen(resp->headers), need = strlen(name) + strlen(value) + 4;
    if (n + need >= sizeof resp->headers) {
        MD_WARN("http", "response header %s dropped: %zu bytes do not fit", name, need);
        return;
    }
    snprintf(resp->headers + n, sizeof resp->headers - n, "%s: %s\r\n", name, value);
}

/* Percent-encodes s into out: RFC 3986 unreserved characters stay, and those of keep. */
static void put_encoded(md_buf *out, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c && strchr(keep, c))) {
            md_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            md_buf_append(out, e, 3);
        }
    }
}

/* 1 when h is a plausible URI authority host[:port]: letters, digits, "-._~" and ":[]" (IPv6,
 * a port) only. Anything else - a path, quotes, bytes that are not ASCII - would put the
 * client's bytes into a link (and non-UTF-8 into a JSON answer): the link is then relative. */
static int host_ok(const char *h)
{
    if (!*h || *h == ':' || strlen(h) > 255) return 0; /* ":80" names no host */
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("-._~:[]", *p)))
            return 0;
    return 1;
}

void md_http_origin(const md_http_req *req, md_buf *out)
{
    if (req->host && host_ok(req->host)) {
        md_buf_puts(out, "http://");
        md_buf_puts(out, req->host);
    }
}

/* The URL from the path on. */
static void path_url(const md_http_req *req, const char *name, const char *value, md_buf *out)
{
    put_encoded(out, req->path ? req->path : "/", "/");
    int n = 0, set = 0;
    for (int i = 0; i < req->n_params; i++) {
        const md_http_param *p = &req->params[i];
        int same = strcmp(p->name, name) == 0;
        if (same && set) continue; /* a repeated name: the first one counts (md_http_param_get) */
        md_buf_putc(out, n++ ? '&' : '?');
        put_encoded(out, p->name, "");
        md_buf_putc(out, '=');
        put_encoded(out, same ? value : p->value, ":,");
        set |= same;
    }
    if (!set) {
        md_buf_putc(out, n ? '&' : '?');
        put_encoded(out, name, "");
        md_buf_putc(out, '=');
        put_encoded(out, value, ":,");
    }
}

void md_http_self_url(const md_http_req *req, const char *name, const char *value, md_buf *out)
{
    md_http_origin(req, out);
    path_url(req, name, value, out);
}

static void link_url(void *ctx, const char *name, const char *value, md_buf *out)
{
    md_http_self_url(ctx, name, value, out);
}

static void link_path(void *ctx, const char *name, const char *value, md_buf *out)
{
    path_url(ctx, name, value, out);
}

md_link md_http_link(const md_http_req *req)
{
    return (md_link){link_url, (void *)req};
}

md_link md_http_link_path(const md_http_req *req)
{
    return (md_link){link_path, (void *)req};
}

void md_http_link_next(md_http_resp *resp, const char *next_url)
{
    if (!next_url || !*next_url) return;
    md_buf v = MD_BUF_INIT;
    md_buf_putc(&v, '<');
    md_buf_puts(&v, next_url);
    md_buf_puts(&v, ">; rel=\"next\"");
    md_http_header(resp, "Link", v.data);
    md_buf_deinit(&v);
}

void md_http_error(md_http_resp *resp, int rc, const char *message)
{
    md_buf *b = md_http_json(resp, md_error_http_status(rc));
    md_render_error_json(b, rc, message);
}

/* Compares in time independent of where the first difference is. */
static int key_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int md_http_check_auth(const md_services *svc, const md_http_req *req, md_error *err)
{
    const md_config *cfg = svc->cfg;
    char **keys;
    size_t n = md_config_split_list(cfg->api_keys, &keys);
    int rc;
    if (n == 0) {
        rc = cfg->insecure_dev ? 0
                               : md_error_set(err, MD_ENOAUTHCFG,
                                              "no API keys configured: set MDAGENT_API_KEYS "
                                              "(or run with --insecure-dev for development)");
    } else if (!req->api_key || !*req->api_key) {
        rc = md_error_set(err, MD_EUNAUTH,
                          "missing API key: send Authorization: Bearer <key> or X-API-Key");
    } else {
        rc = md_error_set(err, MD_EUNAUTH, "invalid API key");
        for (size_t i = 0; i < n; i++)
            if (key_equal(keys[i], req->api_key)) rc = 0;
    }
    md_config_free_list(keys, n);
    return rc;
}
