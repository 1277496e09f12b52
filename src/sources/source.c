/* source.c - the thin wrappers of source.h: meta bookkeeping around a vtable call. */
#include "sources/source.h"

#include "core/timefmt.h"

#include <string.h>
#include <strings.h>
#include <time.h>

/* Providers that throttle with a 200 answer (Alpha Vantage "5 calls per minute", Twelve
 * Data "API credits for the current minute") send no Retry-After: a per-minute limit
 * means the next minute, so the caller gets 60 s as its hint. */
static void retry_hint(int rc, const md_error *err, md_fetch_meta *m)
{
    if (rc == MD_ERATELIMIT && m->retry_after_s < 0 && err && strcasestr(err->msg, "minute"))
        m->retry_after_s = 60;
}

/* The wrappers make calls without terms (no deadline, no budget): meta is all output. */
static void meta_start(md_fetch_meta *m)
{
    memset(m, 0, sizeof *m);
    m->retry_after_s = -1;
}

int md_source_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    md_fetch_meta local;
    if (!meta) meta = &local;
    meta_start(meta);
    int64_t t0 = md_mono_ms();
    int rc = src->vt->quote(src, symbol, out, meta, err);
    meta->latency_ms = md_mono_ms() - t0;
    retry_hint(rc, err, meta);
    return rc;
}

int md_source_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    md_fetch_meta local;
    if (!meta) meta = &local;
    meta_start(meta);
    int64_t t0 = md_mono_ms();
    int rc;
    if (end <= start)
        rc = md_error_set(err, MD_ETIMERANGE, "%s: empty range", src->vt->name);
    else if (src->vt->supports && !src->vt->supports(src, iv))
        rc = md_error_set(err, MD_EINTERVAL, "%s: interval %s is not offered", src->vt->name,
                          md_interval_name(iv));
    else
        rc = src->vt->bars(src, symbol, iv, start, end, out, meta, err);
    meta->latency_ms = md_mono_ms() - t0;
    retry_hint(rc, err, meta);
    return rc;
}

const char *md_source_name_of(const md_source *src)
{
    return src && src->vt ? src->vt->name : "unknown";
}

void md_source_free(md_source *src)
{
    if (src && src->vt && src->vt->free) src->vt->free(src);
}

/* -- cancellation ------------------------------------------------------------------------- */

void md_cancel_init(md_cancel *c)
{
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &a);
    pthread_condattr_destroy(&a);
    atomic_init(&c->requested, 0);
    c->wake = NULL;
    c->wake_ctx = NULL;
}

void md_cancel_deinit(md_cancel *c)
{
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
}

void md_cancel_request(md_cancel *c)
{
    pthread_mutex_lock(&c->lock);
    atomic_store(&c->requested, 1);
    if (c->wake) c->wake(c->wake_ctx);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

int md_cancel_requested(md_cancel *c)
{
    return c && atomic_load(&c->requested);
}

int md_cancel_set_wake(md_cancel *c, void (*wake)(void *ctx), void *ctx)
{
    if (!c) return 0;
    pthread_mutex_lock(&c->lock);
    c->wake = wake;
    c->wake_ctx = ctx;
    int req = atomic_load(&c->requested);
    pthread_mutex_unlock(&c->lock);
    return req;
}

int md_cancel_sleep(md_cancel *c, int64_t ms)
{
    if (ms <= 0) return md_cancel_requested(c);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000LL;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    if (!c) {
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
        }
        return 0;
    }
    pthread_mutex_lock(&c->lock);
    while (!atomic_load(&c->requested))
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0) break;
    int req = atomic_load(&c->requested);
    pthread_mutex_unlock(&c->lock);
    return req;
}
