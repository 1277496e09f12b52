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

int md_sources__get_json(md_provider *p, const char *url, md_sources__refusal_fn refusal, void *ctx,
                         json_t **root, long *status, md_fetch_meta *meta, md_error *err)
{
    const char *name = p->base.vt->name;
    md_sources__resp r;
    *root = NULL;
    int rc = md_sources__get(p, url, &r, meta, err);
    if (rc) return rc;
    if (status) *status = r.status;
    if (r.status < 200 || r.status > 299) {
        md_error jerr;
        json_t *body = md_sources__json(name, &r, &jerr);
        rc = body && refusal ? refusal(body, r.status, ctx, err) : 0;
        if (!rc) {
            char ex[120];
            md_sources__excerpt(r.body, r.len, ex, sizeof ex);
            rc = md_sources__status_error(name, r.status, ex, err);
        }
        json_decref(body);
    } else {
        *root = md_sources__json(name, &r, err);
        if (!*root) rc = MD_EMALFORMED;
    }
    md_sources__resp_deinit(&r);
    return rc;
}

void md_sources__put_key(md_buf *url, const md_source *src, const char *param)
{
    md_buf_puts(url, param);
    md_sources__esc(url, src->api_key);
}

void md_sources__url(md_buf *url, const md_source *src, const char *path, const char *symbol,
                     const char *rest, const char *key_param)
{
    md_buf_puts(url, src->base_url);
    md_buf_puts(url, path);
    size_t n = strlen(path);
    if (n && path[n - 1] == '=')
        md_sources__esc(url, symbol);
    else
        md_sources__esc_seg(url, symbol);
    if (rest) md_buf_puts(url, rest);
    if (key_param) md_sources__put_key(url, src, key_param);
}

int md_sources__bars_ready(md_provider *p, int offered, md_interval iv, md_error *err)
{
    if (!offered)
        return md_error_set(err, MD_EINTERVAL, "%s: interval %s is not offered", p->base.vt->name,
                            md_interval_name(iv));
    return md_sources__need_key(p, err);
}

int md_sources__quote1(md_provider *p, md_sources__fetch_fn fetch, const char *path,
                       const char *symbol, const char *rest, const char *key_param, md_quote *out,
                       md_fetch_meta *meta, md_error *err)
{
    int rc = md_sources__need_key(p, err);
    if (rc) return rc;
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, &p->base, path, symbol, rest, key_param);
    md_quote q;
    rc = fetch(p, url.data, MD_IV_1D, NULL, &q, meta, err);
    md_buf_deinit(&url);
    if (rc < 0) return rc;
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    *out = q;
    return 0;
}

int md_sources__bars1(md_provider *p, md_sources__fetch_fn fetch, const char *url,
                      const char *symbol, md_interval iv, int64_t start, int64_t end,
                      md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_bar_vec tmp;
    md_bar_vec_init(&tmp);
    int rc = fetch(p, url, iv, &tmp, NULL, meta, err);
    if (rc >= 0) rc = md_sources__on_grid(p, symbol, iv, start, end, NULL, &tmp, meta, err);
    if (rc >= 0) rc = md_sources__emit(&tmp, start, end, out);
    md_bar_vec_deinit(&tmp);
    return rc;
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

int md_sources__parse_quote(const char *provider, md_sources__quote_root_fn read, const char *body,
                            size_t len, md_quote *out, md_error *err)
{
    json_t *root = md_sources__json_buf(provider, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = read(root, out, err);
    json_decref(root);
    return rc;
}

int md_sources__parse_bars(const char *provider, md_sources__bars_root_fn read, const char *body,
                           size_t len, md_interval iv, md_bar_vec *out, md_error *err)
{
    json_t *root = md_sources__json_buf(provider, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = read(root, iv, out, err);
    json_decref(root);
    return rc;
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

static int on_iv_grid(int64_t ts, md_interval iv)
{
    return md_interval_floor(iv, ts) == ts;
}

/* The last bar of tmp (sorted), off iv's grid: folded into its bucket (sources_int.h). */
static void fold_last(md_bar_vec *tmp, md_interval iv)
{
    md_bar *last = &tmp->v[tmp->n - 1];
    int64_t bucket = md_interval_floor(iv, last->ts);
    if (tmp->n > 1 && tmp->v[tmp->n - 2].ts == bucket) {
        md_sources__merge_live(&tmp->v[tmp->n - 2], last);
        tmp->n--;
    } else {
        last->ts = bucket;
    }
}

int md_sources__on_grid(md_provider *p, const char *symbol, md_interval iv, int64_t start,
                        int64_t end, int64_t (*kept_from)(md_interval g, int64_t now),
                        md_bar_vec *tmp, md_fetch_meta *meta, md_error *err)
{
    if (md_interval_is_daily(iv) || tmp->n == 0) return 0;
    md_bar_vec_sort_dedup(tmp);
    /* the last bar is a live row when it is off the grid and stamped at a trade (off the
     * minute), or shares its bucket with the bar before it; a bar alone in its bucket on a
     * minute (13:30:00) is a session's open, even when it is the only one */
    const md_bar *last = &tmp->v[tmp->n - 1];
    int live = !on_iv_grid(last->ts, iv) &&
               (!on_iv_grid(last->ts, MD_IV_1M) ||
                (tmp->n > 1 && tmp->v[tmp->n - 2].ts == md_interval_floor(iv, last->ts)));
    size_t judged = tmp->n - (size_t)live; /* the bars that must be on the grid */
    size_t off = judged;                   /* the first of them off it */
    for (size_t i = 0; i < judged && off == judged; i++)
        if (!on_iv_grid(tmp->v[i].ts, iv)) off = i;
    if (off == judged) {
        if (live) fold_last(tmp, iv);
        return 0;
    }
    const char *name = p->base.vt->name;
    /* the coarsest finer interval on whose grid every judged bar lies */
    int g = (int)iv - 1;
    for (; g >= 0; g--) {
        size_t i = 0;
        while (i < judged && on_iv_grid(tmp->v[i].ts, (md_interval)g)) i++;
        if (i >= judged) break;
    }
    char at[MD_TIME_STR_MAX];
    md_time_format(tmp->v[off].ts, at);
    if (g < 0)
        return md_error_set(err, MD_EMALFORMED,
                            "%s: malformed response: a %s bar of %s at %s is not on a minute", name,
                            md_interval_name(iv), symbol, at);
    md_interval fine_iv = (md_interval)g;
    int64_t from = kept_from ? kept_from(fine_iv, md_now()) : 0;
    if (start < from) {
        char kept[MD_TIME_STR_MAX];
        md_time_format(from, kept);
        return md_error_set(err, MD_EINTERVAL,
                            "%s: its %s bars of %s start at the session's open (%s), off the UTC "
                            "hour, and the %s bars to build them from are kept from %s only",
                            name, md_interval_name(iv), symbol, at, md_interval_name(fine_iv),
                            kept);
    }
    MD_DEBUG("sources", "%s %s bars of %s off the UTC grid (%s): built from %s bars", name,
             md_interval_name(iv), symbol, at, md_interval_name(fine_iv));
    int64_t step = p->base.vt->max_range_s ? p->base.vt->max_range_s(&p->base, fine_iv) : 0;
    md_bar_vec fine;
    md_bar_vec_init(&fine);
    int rc = 0;
    for (int64_t s = start, e; s < end && rc >= 0; s = e) {
        e = step > 0 && end - s > step ? s + step : end;
        rc = p->base.vt->bars(&p->base, symbol, fine_iv, s, e, &fine, meta, err);
    }
    if (rc >= 0) {
        md_bar_vec_sort_dedup(&fine);
        tmp->n = 0;
        md_bars_aggregate(fine.v, fine.n, iv, tmp);
        rc = 0;
    }
    md_bar_vec_deinit(&fine);
    return rc;
}
