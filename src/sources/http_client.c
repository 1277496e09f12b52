/* http_client.c - the libcurl wrapper every provider uses: one GET, bounded in time and
 * size, cancellable, with the status, the Content-Type and Retry-After read, and libcurl's
 * errors translated once into the source.h vocabulary:
 *
 *   no answer within the timeout, or by the caller's deadline   MD_ETIMEOUT
 *   DNS, connect, reset, truncated body                          MD_ETRANSIENT
 *   body larger than max_bytes                                   MD_EMALFORMED
 *   the caller cancelled (md_cancel_request)                     MD_ECANCELED
 *   a response (any status)                                      0, status in resp->status
 *
 * Each transfer runs on a multi handle of its own, polled by the calling thread: a
 * cancellation wakes the poll (curl_multi_wakeup) and the transfer is dropped at once,
 * instead of when libcurl next calls a progress callback (up to a second later while a
 * provider sends nothing). Each client keeps a CURLSH (DNS cache, TLS sessions) shared by
 * the threads that call it, and a small pool of idle easy+multi pairs: a pair, with the
 * connections its multi handle keeps open, serves one request at a time (libcurl does not
 * support one connection cache used by concurrent threads) and goes back to the pool, so a
 * provider's connections are reused across requests.
 *
 * Messages name the provider and what went wrong, never the URL or the host: they reach
 * clients. The URL (redacted: it carries API keys) and libcurl's own detail go to the
 * debug log only. */
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

typedef struct handle {
    CURL *easy;
    CURLM *multi; /* holds the connections between requests */
} handle;

struct md_sources__http {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    handle pool[POOL_MAX]; /* idle pairs */
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
    for (int i = 0; i < c->n_pool; i++) {
        curl_multi_cleanup(c->pool[i].multi);
        curl_easy_cleanup(c->pool[i].easy);
    }
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

/* An idle pair from the pool (its connections still open), or a new one. 0 or -1. */
static int handle_get(md_sources__http *c, handle *out)
{
    handle h = {NULL, NULL};
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool) h = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pool_lock);
    if (!h.easy) {
        h.easy = curl_easy_init();
        h.multi = curl_multi_init();
        if (!h.easy || !h.multi) {
            if (h.easy) curl_easy_cleanup(h.easy);
            if (h.multi) curl_multi_cleanup(h.multi);
            return -1;
        }
    }
    *out = h;
    return 0;
}

static void handle_put(md_sources__http *c, handle h)
{
    curl_easy_reset(h.easy); /* options back to defaults; the multi keeps the connections */
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool < POOL_MAX) {
        c->pool[c->n_pool++] = h;
        h.easy = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h.easy) {
        curl_multi_cleanup(h.multi);
        curl_easy_cleanup(h.easy);
    }
}

static void handle_drop(handle h)
{
    curl_multi_cleanup(h.multi); /* a failed transfer's connection is not worth keeping */
    curl_easy_cleanup(h.easy);
}

static void wake_multi(void *multi)
{
    curl_multi_wakeup(multi);
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

/* libcurl's failure in words that name neither the URL nor the host. */
static int map_curl_error(CURLcode rc, const char *provider, int timeout_ms, int by_deadline,
                          md_error *err)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return md_error_set(err, MD_ETIMEOUT, "%s: no answer within %d ms%s", provider, timeout_ms,
                            by_deadline ? " (the request's time budget)" : "");
    case CURLE_COULDNT_RESOLVE_HOST:
        return md_error_set(err, MD_ETRANSIENT, "%s: its host name does not resolve", provider);
    case CURLE_COULDNT_CONNECT:
        return md_error_set(err, MD_ETRANSIENT, "%s: connection refused", provider);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return md_error_set(err, MD_ETRANSIENT, "%s: connection reset", provider);
    case CURLE_GOT_NOTHING: return md_error_set(err, MD_ETRANSIENT, "%s: empty reply", provider);
    case CURLE_PARTIAL_FILE:
        return md_error_set(err, MD_ETRANSIENT, "%s: answer cut short", provider);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return md_error_set(err, MD_ETRANSIENT, "%s: bad base URL (see sources.%s.url)", provider,
                            provider);
    default:
        return md_error_set(err, MD_ETRANSIENT, "%s: request failed: %s", provider,
                            curl_easy_strerror(rc));
    }
}

int md_sources__http_get(md_sources__http *c, const char *provider, const char *url,
                         int64_t deadline_ms, md_cancel *cancel, md_sources__resp *r, md_error *err)
{
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
    int timeout = c->timeout_ms, by_deadline = 0;
    if (deadline_ms > 0) {
        int64_t left = deadline_ms - md_mono_ms();
        if (left <= 0)
            return md_error_set(err, MD_ETIMEOUT, "%s: no time left for the request", provider);
        if (left < timeout) timeout = (int)left, by_deadline = 1;
    }
    if (md_cancel_requested(cancel))
        return md_error_set(err, MD_ECANCELED, "%s: cancelled", provider);
    handle h;
    if (handle_get(c, &h) != 0)
        return md_error_set(err, MD_ETRANSIENT, "%s: cannot create an HTTP handle", provider);
    CURL *e = h.easy;
    xfer x = {MD_BUF_INIT, c->max_bytes, 0, r};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (c->share) curl_easy_setopt(e, CURLOPT_SHARE, c->share);

    CURLcode rc = CURLE_OK;
    int cancelled = 0, running = 1;
    if (curl_multi_add_handle(h.multi, e) != CURLM_OK) {
        handle_drop(h);
        md_buf_deinit(&x.body);
        return md_error_set(err, MD_ETRANSIENT, "%s: cannot start the request", provider);
    }
    cancelled = md_cancel_set_wake(cancel, wake_multi, h.multi);
    while (running && !cancelled) {
        if (curl_multi_perform(h.multi, &running) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        if (!running) break;
        /* libcurl's own timeout ends the transfer; the poll wakes for data or a cancel */
        curl_multi_poll(h.multi, NULL, 0, 1000, NULL);
        cancelled = md_cancel_requested(cancel);
    }
    if (cancel) md_cancel_set_wake(cancel, NULL, NULL);
    if (!cancelled && rc == CURLE_OK) {
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h.multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE && m->easy_handle == e) rc = m->data.result;
    }
    curl_multi_remove_handle(h.multi, e);

    int ret = 0;
    if (cancelled) {
        ret = md_error_set(err, MD_ECANCELED, "%s: cancelled", provider);
    } else if (rc == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        md_buf_putc(&x.body, 0); /* make sure there is an allocation */
        x.body.len--;
        r->body = md_buf_steal(&x.body, &r->len);
    } else if (x.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        ret = md_error_set(err, MD_EMALFORMED, "%s: response larger than %zu bytes", provider,
                           c->max_bytes);
    } else {
        ret = map_curl_error(rc, provider, timeout, by_deadline, err);
    }
    if (ret && md_log_min_level <= MD_LOG_DEBUG) { /* the detail, for the operator only */
        char shown[512], detail[CURL_ERROR_SIZE + 64];
        md_log_redact(url, shown, sizeof shown);
        md_log_redact(errbuf[0] ? errbuf : curl_easy_strerror(rc), detail, sizeof detail);
        MD_DEBUG("sources", "%s GET %s: %s", provider, shown, cancelled ? "cancelled" : detail);
    }
    md_buf_deinit(&x.body);
    if (ret == 0)
        handle_put(c, h);
    else
        handle_drop(h);
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
    md_sources__excerpt(detail ? detail : "", detail ? strlen(detail) : 0, clean, sizeof clean);
    if (clean[0])
        return md_error_set(err, rc, "%s: %s (HTTP %ld): %s", provider, what, status, clean);
    return md_error_set(err, rc, "%s: %s (HTTP %ld)", provider, what, status);
}
