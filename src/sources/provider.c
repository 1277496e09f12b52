/* provider.c - what the five HTTP providers share: their struct's life cycle, the key
 * check, one GET with its bookkeeping, and turning a body into JSON or a clear
 * MD_EMALFORMED (HTML, empty, truncated). */
#include "sources/sources_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "sources/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

md_provider *md_sources__provider_new(const md_source_vtable *vt, const md_config *cfg)
{
    const md_source_info *info = md_source_find_id((int)vt->id);
    /* a provider file without its providers.def row is a build mistake, not an input */
    if (!info || info->offline || strcmp(info->name, vt->name) != 0) {
        fprintf(stderr, "mdagent: source %s has no providers.def row\n", vt->name);
        abort();
    }
    const char *base_url = *(char *const *)((const char *)cfg + info->url_off);
    const char *api_key =
        info->key_env ? *(char *const *)((const char *)cfg + info->key_off) : NULL;
    md_provider *p = md_calloc(1, sizeof *p);
    p->base.vt = vt;
    size_t n = base_url ? strlen(base_url) : 0;
    while (n && base_url[n - 1] == '/') n--;
    p->base.base_url = md_strndup(base_url ? base_url : "", n);
    if (api_key && *api_key) {
        p->base.api_key = md_strdup(api_key);
        md_log_add_secret(api_key);
    }
    p->base.timeout_ms = (int)cfg->sources_timeout_ms;
    p->key_env = info->key_env;
    p->intervals = info->intervals;
    p->http = md_sources__http_new(p->base.timeout_ms, (size_t)cfg->sources_max_body_bytes,
                                   cfg->sources_user_agent);
    return p;
}

int md_sources__provider_create(const md_source_vtable *vt, const md_config *cfg, md_source **out)
{
    *out = &md_sources__provider_new(vt, cfg)->base;
    return 0;
}

int md_sources__provider_supports(const md_source *src, md_interval iv)
{
    const md_provider *p = (const md_provider *)src;
    return (unsigned)iv < MD_IV_COUNT && (p->intervals & MD_IV_BIT(iv)) != 0;
}

void md_sources__provider_free(md_source *src)
{
    md_provider *p = (md_provider *)src;
    if (!p) return;
    md_sources__http_free(p->http);
    md_free(p->base.base_url);
    md_free(p->base.api_key);
    md_free(p);
}

int md_sources__need_key(const md_provider *p, md_error *err)
{
    if (!p->key_env || p->base.api_key) return 0;
    return md_error_set(err, MD_EUNAUTHSRC, "%s: not configured: set %s", p->base.vt->name,
                        p->key_env);
}

int md_sources__get(md_provider *p, const char *url, md_sources__resp *r, md_fetch_meta *meta,
                    md_error *err)
{
    int rc = md_sources__http_get(p->http, p->base.vt->name, url, r, err);
    if (meta) {
        meta->requests++;
        meta->http_status = rc == 0 ? (int)r->status : 0;
        if (rc == 0 && r->retry_after_s >= 0) meta->retry_after_s = r->retry_after_s;
    }
    if (md_log_min_level <= MD_LOG_DEBUG) {
        char shown[512];
        md_log_redact(url, shown, sizeof shown);
        if (rc == 0)
            MD_DEBUG("sources", "%s GET %s -> %ld bytes=%zu", p->base.vt->name, shown, r->status,
                     r->len);
        else
            MD_DEBUG("sources", "%s GET %s failed: %s", p->base.vt->name, shown,
                     err ? err->msg : md_error_default(rc));
    }
    return rc;
}

void md_sources__excerpt(const char *s, size_t len, char *dst, size_t n)
{
    char raw[96];
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < sizeof raw && k + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        if (c < 0x20 || c >= 0x7f) c = '?';
        if (c == ' ' && k && raw[k - 1] == ' ') continue;
        raw[k++] = (char)c;
    }
    raw[k] = 0;
    md_log_redact(raw, dst, n);
}

json_t *md_sources__json_buf(const char *provider, const char *body, size_t len,
                             const char *content_type, md_error *err)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len) {
        md_error_set(err, MD_EMALFORMED, "%s: malformed response: empty body", provider);
        return NULL;
    }
    char ex[72];
    if (body[i] != '{' && body[i] != '[') {
        md_sources__excerpt(body + i, len - i, ex, sizeof ex);
        md_error_set(err, MD_EMALFORMED, "%s: malformed response: not JSON (%s): '%s'", provider,
                     content_type && *content_type ? content_type : "no content type", ex);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        md_sources__excerpt(je.text, strlen(je.text), ex, sizeof ex);
        md_error_set(err, MD_EMALFORMED, "%s: malformed JSON at line %d column %d: %s", provider,
                     je.line, je.column, ex);
        return NULL;
    }
    return root;
}

json_t *md_sources__json(const char *provider, const md_sources__resp *r, md_error *err)
{
    return md_sources__json_buf(provider, r->body ? r->body : "", r->len, r->content_type, err);
}

void md_sources__esc(md_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            md_buf_putc(b, (char)c);
        } else {
            md_buf_putc(b, '%');
            md_buf_putc(b, hex[c >> 4]);
            md_buf_putc(b, hex[c & 15]);
        }
    }
}
