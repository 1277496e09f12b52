/* http_client.c - the libcurl wrapper every provider uses: one GET, bounded in time and
 * size, with the status, the Content-Type and Retry-After read, and libcurl's errors
 * translated once into the source.h vocabulary:
 *
 *   no answer within timeout_ms            MD_ETIMEOUT
 *   DNS, connect, reset, truncated body    MD_ETRANSIENT
 *   body larger than max_bytes             MD_EMALFORMED
 *   a response (any status)                0, status in resp->status
 *
 * Each client keeps a CURLSH (DNS cache, TLS sessions) shared by the worker threads that
 * call it, and a small pool of idle easy handles: a handle, with the connections it keeps
 * open, serves one request at a time (libcurl does not support one connection cache
 * used by concurrent threads), and goes back to the pool after curl_easy_reset(), which
 * keeps its live connections, so a provider's connections are reused across requests.
 * URLs carry API keys (query parameters), so every URL shown is passed through
 * md_log_redact first. */
#include "sources/sources_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_MAX 8

struct md_sources__http {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL *pool[POOL_MAX]; /* idle handles */
    int n_pool;
    int timeout_ms;
    size_t max_bytes;
    char *user_agent;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
    md_sources__http *c = user;
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user)
{
    md_sources__http *c = user;
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&c->locks[data]);
}

md_sources__http *md_sources__http_new(int timeout_ms, size_t max_bytes, const char *user_agent)
{
    pthread_once(&global_once, global_init);
    md_sources__http *c = md_calloc(1, sizeof *c);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&c->locks[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->max_bytes = max_bytes ? max_bytes : (size_t)64 << 20;
    c->user_agent = md_strdup(user_agent && *user_agent ? user_agent : "mdagent/" MD_VERSION);
    c->share = curl_share_init();
    if (c->share) {
        curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    return c;
}

void md_sources__http_free(md_sources__http *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_pool; i++) curl_easy_cleanup(c->pool[i]);
    if (c->share) curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&c->locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    md_free(c->user_agent);
    md_free(c);
}

void md_sources__resp_deinit(md_sources__resp *r)
{
    if (!r) return;
    md_free(r->body);
    r->body = NULL;
    r->len = 0;
}

int md_sources__retry_after_parse(const char *v, int64_t now_s)
{
    while (*v == ' ' || *v == '\t') v++;
    if (!*v) return -1;
    if (isdigit((unsigned char)*v)) {
        char *end;
        long long s = strtoll(v, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (*end) return -1;
        return s > 86400 * 7 ? 86400 * 7 : (int)s;
    }
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1) return -1;
    int64_t d = (int64_t)when - now_s;
    if (d < 0) d = 0;
    return d > 86400 * 7 ? 86400 * 7 : (int)d;
}

/* An idle handle from the pool (its connections still open), or a new one. */
static CURL *handle_get(md_sources__http *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool) h = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pool_lock);
    return h ? h : curl_easy_init();
}

static void handle_put(md_sources__http *c, CURL *h)
{
    curl_easy_reset(h); /* options back to defaults; live connections and caches stay */
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool < POOL_MAX) {
        c->pool[c->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h) curl_easy_cleanup(h);
}

/* -- one transfer -------------------------------------------------------------------------- */

typedef struct {
    md_buf body;
    size_t max_bytes;
    int too_big;
    md_sources__resp *r;
} xfer;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    xfer *x = user;
    size_t len = size * n;
    if (x->body.len + len > x->max_bytes) {
        x->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    md_buf_append(&x->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    xfer *x = user;
    size_t len = size * n;
    /* A new status line (redirects, 100 Continue) resets what earlier responses said. */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->r->retry_after_s = -1;
        x->r->content_type[0] = 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ')) vlen--;
    char val[128];
    snprintf(val, sizeof val, "%.*s", (int)(vlen < sizeof val ? vlen : sizeof val - 1), v);
    if (nlen == 11 && strncasecmp(p, "Retry-After", 11) == 0)
        x->r->retry_after_s = md_sources__retry_after_parse(val, md_now());
    else if (nlen == 12 && strncasecmp(p, "Content-Type", 12) == 0)
        snprintf(x->r->content_type, sizeof x->r->content_type, "%.95s", val);
    return len;
}

static int map_curl_error(CURLcode rc, const char *provider, const char *url, int timeout_ms,
                          const char *detail, md_error *err)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return md_error_set(err, MD_ETIMEOUT, "%s: no answer within %d ms (GET %s)", provider,
                            timeout_ms, url);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return md_error_set(err, MD_ETRANSIENT, "%s: bad URL %s: %s", provider, url, detail);
    default:
        /* DNS, connect, reset, recv/send errors, empty reply, partial file, TLS. */
        return md_error_set(err, MD_ETRANSIENT, "%s: GET %s failed: %s", provider, url, detail);
    }
}

int md_sources__http_get(md_sources__http *c, const char *provider, const char *url,
                         md_sources__resp *r, md_error *err)
{
    char shown[512];
    md_log_redact(url, shown, sizeof shown);
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
    CURL *h = handle_get(c);
    if (!h) return md_error_set(err, MD_ETRANSIENT, "%s: cannot create an HTTP handle", provider);
    xfer x = {MD_BUF_INIT, c->max_bytes, 0, r};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c->share) curl_easy_setopt(h, CURLOPT_SHARE, c->share);

    CURLcode rc = curl_easy_perform(h);
    int ret = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        md_buf_putc(&x.body, 0); /* make sure there is an allocation */
        x.body.len--;
        r->body = md_buf_steal(&x.body, &r->len);
    } else if (x.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        ret = md_error_set(err, MD_EMALFORMED, "%s: response larger than %zu bytes (GET %s)",
                           provider, c->max_bytes, shown);
    } else {
        /* errbuf may quote the URL: redact it too. */
        char detail[CURL_ERROR_SIZE + 64];
        md_log_redact(errbuf[0] ? errbuf : curl_easy_strerror(rc), detail, sizeof detail);
        ret = map_curl_error(rc, provider, shown, c->timeout_ms, detail, err);
    }
    md_buf_deinit(&x.body);
    if (rc == CURLE_OK)
        handle_put(c, h);
    else
        curl_easy_cleanup(h); /* a failed transfer's connection is not worth keeping */
    return ret;
}

int md_sources__status_error(const char *provider, long status, const char *detail, md_error *err)
{
    int rc;
    const char *what;
    if (status == 429)
        rc = MD_ERATELIMIT, what = "rate limited";
    else if (status == 401 || status == 403)
        rc = MD_EUNAUTHSRC, what = "credentials refused";
    else if (status == 404 || status == 410)
        rc = MD_ENOTFOUND, what = "not found";
    else if (status == 408 || status >= 500)
        rc = MD_ETRANSIENT, what = "server error";
    else
        rc = MD_EMALFORMED, what = "unexpected answer";
    char clean[200];
    md_log_redact(detail ? detail : "", clean, sizeof clean);
    if (clean[0])
        return md_error_set(err, rc, "%s: %s (HTTP %ld): %s", provider, what, status, clean);
    return md_error_set(err, rc, "%s: %s (HTTP %ld)", provider, what, status);
}
