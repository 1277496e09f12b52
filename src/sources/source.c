/* source.c - the thin wrappers of source.h: meta bookkeeping around a vtable call. */
#include "sources/source.h"

#include "core/timefmt.h"

#include <string.h>
#include <strings.h>

/* Providers that throttle with a 200 answer (Alpha Vantage "5 calls per minute", Twelve
 * Data "API credits for the current minute") send no Retry-After: a per-minute limit
 * means the next minute, so the caller gets 60 s as its hint. */
static void retry_hint(int rc, const md_error *err, md_fetch_meta *m)
{
    if (rc == MD_ERATELIMIT && m->retry_after_s < 0 && err && strcasestr(err->msg, "minute"))
        m->retry_after_s = 60;
}

static void meta_start(md_fetch_meta *m)
{
    m->http_status = 0;
    m->retry_after_s = -1;
    m->latency_ms = 0;
    m->requests = 0;
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
