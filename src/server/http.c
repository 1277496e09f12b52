/* http.c - request/response helpers and API-key checks. */
#include "server/http.h"

#include "cache/cache.h"
#include "core/config.h"
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
    md_free(r->body);
    r->path = r->capture = r->api_key = r->content_type = r->body = NULL;
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

void md_http_answer(md_http_resp *resp, md_answer *a)
{
    resp->status = 200;
    resp->content_type = a->content_type ? a->content_type : "application/json";
    if (a->entry) {
        resp->ext = md_cache_entry_body(a->entry, &resp->ext_len);
        resp->ext_release = md_cache_entry_release;
        resp->ext_ctx = a->entry;
        a->entry = NULL;
    } else {
        md_buf tmp = resp->body;
        resp->body = a->body;
        a->body = tmp;
    }
    if (a->cache) {
        size_t n = strlen(resp->headers), cl = strlen(a->cache);
        if (n + 9 + cl + 3 <= sizeof resp->headers) { /* "X-Cache: l1\r\n" */
            memcpy(resp->headers + n, "X-Cache: ", 9);
            memcpy(resp->headers + n + 9, a->cache, cl);
            memcpy(resp->headers + n + 9 + cl, "\r\n", 3);
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
    size_t n = strlen(resp->headers);
    snprintf(resp->headers + n, sizeof resp->headers - n, "%s: %s\r\n", name, value);
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
