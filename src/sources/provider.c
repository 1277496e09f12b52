/* provider.c - what the five HTTP providers share: their struct's life cycle, the key
 * check, one GET with its bookkeeping, and turning a body into JSON or a clear
 * MD_EMALFORMED (HTML, empty, truncated). */
#include "sources/sources_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
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
    const char *name = p->base.vt->name;
    if (meta && md_cancel_requested(meta->cancel))
        return md_error_set(err, MD_ECANCELED, "%s: cancelled", name);
    if (meta && meta->deadline_ms > 0 && md_mono_ms() >= meta->deadline_ms)
        return md_error_set(err, MD_ETIMEOUT, "%s: no time left for request %d", name,
                            meta->requests + 1);
    if (meta && meta->more && meta->granted > 0 && meta->requests >= meta->granted) {
        /* one more request than reserved (a page, a fallback): it needs its own token */
        md_error e;
        md_error_clear(&e);
        if (meta->more(meta->more_ctx, 1, &e) != 1)
            return md_error_set(err, MD_ERATELIMIT, "%s: stopped after %d request%s: %s", name,
                                meta->requests, meta->requests == 1 ? "" : "s",
                                e.msg[0] ? e.msg : "no budget left");
        meta->granted++;
    }
    int rc = md_sources__http_get(p->http, name, url, meta ? meta->deadline_ms : 0,
                                  meta ? meta->cancel : NULL, r, err);
    if (meta) {
        meta->requests++;
        meta->http_status = rc == 0 ? (int)r->status : 0;
        if (rc == 0 && r->retry_after_s >= 0) meta->retry_after_s = r->retry_after_s;
    }
    if (md_log_min_level <= MD_LOG_DEBUG) {
        char shown[512];
        md_log_redact(url, shown, sizeof shown);
        if (rc == 0)
            MD_DEBUG("sources", "%s GET %s -> %ld bytes=%zu", name, shown, r->status, r->len);
        else
            MD_DEBUG("sources", "%s GET %s failed: %s", name, shown,
                     err ? err->msg : md_error_default(rc));
    }
    return rc;
}

int md_sources__reserve(md_provider *p, md_fetch_meta *meta, int total, const char *what,
                        md_error *err)
{
    if (!meta || !meta->more || meta->granted <= 0 || total <= meta->granted) return 0;
    md_error e;
    md_error_clear(&e);
    if (meta->more(meta->more_ctx, total - meta->granted, &e) != 1)
        return md_error_set(err, MD_ERATELIMIT, "%s: %s needs %d requests, not sent: %s",
                            p->base.vt->name, what, total, e.msg[0] ? e.msg : "no budget left");
    meta->granted = total;
    return 0;
}

/* Replaces every http:// or https:// link in s (in place) by "[link]": provider messages
 * point at their pricing pages, and client-facing errors carry no upstream address. */
static void scrub_links(char *s)
{
    char *p;
    while ((p = strstr(s, "http://")) != NULL || (p = strstr(s, "https://")) != NULL) {
        char *e = p;
        while (*e && *e != ' ' && *e != '"' && *e != '\'' && *e != ')') e++;
        while (e > p && (e[-1] == '.' || e[-1] == ',')) e--; /* the sentence's, not the link's */
        static const char mark[] = "[link]";
        size_t tail = strlen(e);
        memmove(p + sizeof mark - 1, e, tail + 1);
        memcpy(p, mark, sizeof mark - 1);
    }
}

#define EXCERPT_MAX 96

void md_sources__excerpt(const char *s, size_t len, char *dst, size_t n)
{
    if (!n) return;
    /* Redact the whole text first, then cut it: a key that straddles the cut is never half
     * shown. Text past 4 KiB is never shown, so it is not looked at. */
    size_t take = len < 4096 ? len : 4096;
    char *raw = md_malloc(take + 1);
    for (size_t i = 0; i < take; i++) raw[i] = s[i] ? s[i] : ' ';
    raw[take] = 0;
    size_t cap = take * 3 + 16;
    char *clean = md_malloc(cap);
    md_log_redact(raw, clean, cap);
    scrub_links(clean);
    size_t k = 0, max = n - 1 < EXCERPT_MAX ? n - 1 : EXCERPT_MAX;
    unsigned char prev = ' '; /* the last one written: no leading or doubled spaces */
    for (size_t i = 0; clean[i] && k < max; i++) {
        unsigned char c = (unsigned char)clean[i];
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        if (c < 0x20 || c >= 0x7f) c = '?';
        if (c == ' ' && prev == ' ') continue;
        dst[k++] = (char)c;
        prev = c;
    }
    if (k && prev == ' ') k--; /* one space at most: doubled ones were never written */
    dst[k] = 0;
    md_free(clean);
    md_free(raw);
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

static void esc(md_buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c && strchr(keep, c))) {
            md_buf_putc(b, (char)c);
        } else {
            md_buf_putc(b, '%');
            md_buf_putc(b, hex[c >> 4]);
            md_buf_putc(b, hex[c & 15]);
        }
    }
}

void md_sources__esc(md_buf *b, const char *s)
{
    esc(b, s, "");
}

void md_sources__esc_seg(md_buf *b, const char *s)
{
    esc(b, s, ":=@");
}
