/* manager.c - priority failover over the sources, with a circuit breaker, a rate limit,
 * retries and a health score per source, and coalescing of identical in-flight fetches.
 *
 * Locks: m->lock guards the in-flight list and the "last fetched" table; each entry's
 * lock guards its circuit, rate limit, health and counters. No lock is held while a
 * provider is called or while a retry sleeps. Provider calls run on the caller's thread. */
#include "sources/manager.h"

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "sources/registry.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    char name[24];
    int id;
    md_source *src; /* NULL when disabled */
    int priority;   /* order key; -1 = not in the failover order */
    char reason[120];
    pthread_mutex_t lock;
    md_circuit circ;
    md_ratelimit rl;                  /* every request */
    md_ratelimit cls_rl[MD_EP_COUNT]; /* on top, per endpoint class (unlimited unless set) */
    md_health health;
    int64_t requests, failures;
    char last_error[200];
    int64_t last_error_at, last_success; /* epoch seconds */
} entry;

typedef struct inflight {
    char key[112];
    int done, rc, waiters;
    md_error err;
    md_quote q;
    md_bar_vec bars;
    md_fetch_result res;
    pthread_cond_t cv;
    struct inflight *next;
} inflight;

#define MARKS 4096

typedef struct mark {
    uint64_t hash;
    int64_t at_ms; /* monotonic */
} mark;

struct md_srcmgr {
    md_srcmgr_opts o;
    entry **e;
    size_t n, cap;
    pthread_mutex_t lock;
    inflight *flying;
    mark marks[MARKS];
    md_srcmgr_clock clk;
    uint64_t rng;
};

/* -- clock ----------------------------------------------------------------------------- */

static int64_t real_mono(void *ctx)
{
    (void)ctx;
    return md_mono_ms();
}

static int64_t real_wall(void *ctx)
{
    (void)ctx;
    return md_now_ms();
}

static void real_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void md_srcmgr_set_clock(md_srcmgr *m, const md_srcmgr_clock *clk, uint64_t seed)
{
    m->clk = *clk;
    pthread_mutex_lock(&m->lock);
    m->rng = seed ? seed : 1;
    pthread_mutex_unlock(&m->lock);
}

static int64_t mono(md_srcmgr *m)
{
    return m->clk.mono_ms(m->clk.ctx);
}

static int64_t wall(md_srcmgr *m)
{
    return m->clk.wall_ms(m->clk.ctx);
}

static void drop(md_source *src)
{
    md_source_free(src);
}

/* -- life cycle ------------------------------------------------------------------------ */

void md_srcmgr_opts_from_config(md_srcmgr_opts *o, const md_config *cfg)
{
    memset(o, 0, sizeof *o);
    o->circuit.failures = (int)cfg->circuit_failures;
    o->circuit.failure_ratio = cfg->circuit_ratio;
    o->circuit.window = (int)cfg->circuit_window;
    o->circuit.min_calls = (int)cfg->circuit_min_calls;
    o->circuit.cooldown_ms = cfg->circuit_cooldown_ms;
    o->max_retries = (int)cfg->sources_max_retries;
    o->retry_base_ms = cfg->sources_retry_base_ms;
    o->retry_max_ms = cfg->sources_retry_max_ms;
    o->pause_ms = cfg->sources_pause_s * 1000;
    o->health_latency_ms = cfg->sources_health_latency_ms;
    o->background_reserve = cfg->sources_reserve;
}

md_srcmgr *md_srcmgr_new(const md_srcmgr_opts *o)
{
    md_srcmgr *m = md_calloc(1, sizeof *m);
    m->o = *o;
    pthread_mutex_init(&m->lock, NULL);
    m->clk = (md_srcmgr_clock){real_mono, real_wall, real_sleep, NULL};
    m->rng = (uint64_t)md_mono_ns() ^ ((uint64_t)md_now_ms() << 20) ^ 0x5DEECE66DULL;
    if (!m->rng) m->rng = 1;
    return m;
}

void md_srcmgr_free(md_srcmgr *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        drop(e->src);
        md_circuit_deinit(&e->circ);
        md_ratelimit_deinit(&e->rl);
        for (int c = 0; c < MD_EP_COUNT; c++) md_ratelimit_deinit(&e->cls_rl[c]);
        pthread_mutex_destroy(&e->lock);
        md_free(e);
    }
    md_free(m->e);
    pthread_mutex_destroy(&m->lock);
    md_free(m);
}

static entry *find_name(md_srcmgr *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i]->name, name) == 0) return m->e[i];
    return NULL;
}

static entry *find_id(md_srcmgr *m, int id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i]->id == id) return m->e[i];
    return NULL;
}

static int by_priority(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    /* the sources of sources.priority in its order, then the others in insertion order */
    int xa = x->priority >= 0, ya = y->priority >= 0;
    if (xa != ya) return ya - xa;
    if (xa && x->priority != y->priority) return x->priority < y->priority ? -1 : 1;
    return 0;
}

int md_srcmgr_add(md_srcmgr *m, const char *name, md_source *src, int priority, int per_minute,
                  int per_day, const char *reason)
{
    if (find_name(m, name)) {
        drop(src);
        return MD_EINVAL;
    }
    entry *e = md_calloc(1, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    int id = md_source_parse(name);
    e->id = src ? (int)src->vt->id : (id >= 0 ? id : MD_SRC_UNKNOWN);
    e->src = src;
    e->priority = priority;
    if (!src) snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "disabled");
    pthread_mutex_init(&e->lock, NULL);
    md_circuit_init(&e->circ, &m->o.circuit);
    md_ratelimit_init(&e->rl, per_minute, per_day);
    for (int c = 0; c < MD_EP_COUNT; c++) md_ratelimit_init(&e->cls_rl[c], 0, 0);
    if (src && src->api_key) md_log_add_secret(src->api_key);
    if (m->n == m->cap) m->e = md_realloc(m->e, (m->cap = m->cap ? m->cap * 2 : 8) * sizeof *m->e);
    m->e[m->n++] = e;
    /* stable order: insertion sort keeps equal keys in insertion order */
    for (size_t i = m->n - 1; i > 0 && by_priority(&m->e[i - 1], &m->e[i]) > 0; i--) {
        entry *t = m->e[i];
        m->e[i] = m->e[i - 1];
        m->e[i - 1] = t;
    }
    if (src) {
        md_metric_set(MD_M_SOURCE_CIRCUIT, 0, e->name);
        md_metric_set(MD_M_SOURCE_HEALTH, 1, e->name);
    }
    return 0;
}

int md_srcmgr_set_class_limit(md_srcmgr *m, const char *name, md_endpoint_class cls, int per_minute,
                              int per_day)
{
    entry *e = find_name(m, name);
    if (!e || (unsigned)cls >= MD_EP_COUNT) return MD_EINVAL;
    pthread_mutex_lock(&e->lock);
    md_ratelimit_deinit(&e->cls_rl[cls]);
    md_ratelimit_init(&e->cls_rl[cls], per_minute, per_day);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* Adds a registry source with its budgets from the sources.<name>.* keys of cfg. */
static void add_with_limits(md_srcmgr *m, const md_config *cfg, const md_source_info *info,
                            md_source *src, int priority, const char *reason)
{
    md_source_limits lim;
    md_source_limits_of(info, cfg, &lim);
    md_srcmgr_add(m, info->name, src, priority, lim.all.per_minute, lim.all.per_day, reason);
    for (int c = 0; c < MD_EP_COUNT; c++)
        md_srcmgr_set_class_limit(m, info->name, (md_endpoint_class)c, lim.cls[c].per_minute,
                                  lim.cls[c].per_day);
}

int md_srcmgr_from_config(const md_config *cfg, md_source_ctor ctor, md_srcmgr **out, md_error *err)
{
    *out = NULL;
    char **names;
    size_t n = md_config_split_list(cfg->sources_priority, &names);
    if (n == 0) {
        md_config_free_list(names, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char lower[24];
        snprintf(lower, sizeof lower, "%s", names[i]);
        for (char *p = lower; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        md_free(names[i]);
        names[i] = md_strdup(lower);
        if (!md_source_find(names[i])) {
            char known[256];
            md_source_list_names(known, sizeof known);
            int rc = md_error_set(err, MD_ECONFIG,
                                  "sources.priority: unknown source '%.24s' (known: %s)", names[i],
                                  known);
            md_config_free_list(names, n);
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[j], names[i]) == 0) {
                int rc = md_error_set(err, MD_ECONFIG, "sources.priority: '%s' is listed twice",
                                      names[i]);
                md_config_free_list(names, n);
                return rc;
            }
        }
    }
    md_srcmgr_opts o;
    md_srcmgr_opts_from_config(&o, cfg);
    md_srcmgr *m = md_srcmgr_new(&o);
    for (size_t i = 0; i < n; i++) {
        md_source *src = NULL;
        md_error e;
        md_error_clear(&e);
        const md_source_info *info = md_source_find(names[i]);
        int rc = ctor(names[i], cfg, &src, &e);
        if (rc == MD_ECONFIG) { /* a configuration mistake stops start-up */
            md_error_set(err, rc, "%s", e.msg);
            md_config_free_list(names, n);
            md_srcmgr_free(m);
            return rc;
        }
        if (rc != 0) {
            char clean[MD_ERROR_MSG_MAX];
            md_log_redact(e.msg, clean, sizeof clean);
            MD_WARN("sources", "source disabled name=%s reason=\"%s\"", names[i], clean);
            add_with_limits(m, cfg, info, NULL, (int)i, clean);
        } else {
            add_with_limits(m, cfg, info, src, (int)i, NULL);
        }
    }
    for (size_t k = 0; k < md_source_count(); k++) {
        const md_source_info *info = md_source_info_at(k);
        if (find_name(m, info->name)) continue;
        add_with_limits(m, cfg, info, NULL, -1, "not in sources.priority");
    }
    md_config_free_list(names, n);
    *out = m;
    return 0;
}

/* -- lookups --------------------------------------------------------------------------- */

static int usable(const entry *e)
{
    return e->src != NULL && e->priority >= 0;
}

int md_srcmgr_has(md_srcmgr *m, int source)
{
    return find_id(m, source) != NULL;
}

md_source *md_srcmgr_source(md_srcmgr *m, int source)
{
    entry *e = find_id(m, source);
    return e && usable(e) ? e->src : NULL;
}

static int entry_supports(const entry *e, md_interval iv)
{
    return e->src && (!e->src->vt->supports || e->src->vt->supports(e->src, iv));
}

int md_srcmgr_supports(md_srcmgr *m, int source, md_interval iv)
{
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        if (!usable(e) || (source >= 0 && e->id != source)) continue;
        if (entry_supports(e, iv)) return 1;
    }
    return 0;
}

int64_t md_srcmgr_max_range_s(md_srcmgr *m, int source, md_interval iv)
{
    int64_t best = 0;
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        if (!usable(e) || (source >= 0 && e->id != source) || !entry_supports(e, iv)) continue;
        int64_t r = e->src->vt->max_range_s ? e->src->vt->max_range_s(e->src, iv) : 0;
        if (r > 0 && (best == 0 || r < best)) best = r;
    }
    return best;
}

size_t md_srcmgr_count(md_srcmgr *m)
{
    return m->n;
}

size_t md_srcmgr_enabled(md_srcmgr *m)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) k += usable(m->e[i]);
    return k;
}

/* -- "last fetched" marks -------------------------------------------------------------- */

/* 0 marks an empty slot, so no key hashes to it. */
static uint64_t mark_hash(const char *key)
{
    uint64_t h = md_hash_str(key);
    return h ? h : 1;
}

void md_srcmgr_mark(md_srcmgr *m, const char *key)
{
    uint64_t h = mark_hash(key);
    pthread_mutex_lock(&m->lock);
    m->marks[h % MARKS] = (mark){h, mono(m)};
    pthread_mutex_unlock(&m->lock);
}

int64_t md_srcmgr_since_ms(md_srcmgr *m, const char *key)
{
    uint64_t h = mark_hash(key);
    pthread_mutex_lock(&m->lock);
    mark k = m->marks[h % MARKS];
    int64_t now = mono(m);
    pthread_mutex_unlock(&m->lock);
    return k.hash == h ? now - k.at_ms : -1;
}

/* -- one fetch ------------------------------------------------------------------------- */

enum { K_QUOTE, K_BARS };

typedef struct fetch {
    int kind;
    const char *symbol;
    md_interval iv;
    int64_t start, end;
    md_fetch_opts fo;
} fetch;

/* Why each source gave nothing, for the final error message. */
typedef struct reasons {
    char text[MD_ERROR_MSG_MAX];
    size_t len;
} reasons;

static void add_reason(reasons *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_reason(reasons *r, const char *name, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char clean[160];
    md_log_redact(what, clean, sizeof clean);
    if (r->len >= sizeof r->text - 1) return;
    int k = snprintf(r->text + r->len, sizeof r->text - r->len, "%s%s: %s", r->len ? "; " : "",
                     name, clean);
    if (k > 0) r->len += (size_t)k;
    if (r->len >= sizeof r->text) r->len = sizeof r->text - 1;
}

static const char *result_label(int rc)
{
    return rc == 0 ? "ok" : md_error_code(rc);
}

static void publish_gauges(entry *e, int64_t now_ms, int64_t ref_ms)
{
    md_metric_set(MD_M_SOURCE_CIRCUIT, (double)md_circuit_state_at(&e->circ, now_ms), e->name);
    md_metric_set(MD_M_SOURCE_HEALTH, md_health_score(&e->health, ref_ms), e->name);
}

/* After a call: counters, circuit, rate limit, health, metrics. */
static void record(md_srcmgr *m, entry *e, md_endpoint_class cls, int rc, const md_fetch_meta *meta,
                   int64_t latency_ms, const md_error *err)
{
    int failed = md_source_error_is_failure(rc);
    pthread_mutex_lock(&e->lock);
    int64_t now = mono(m), now_wall = wall(m);
    e->requests += meta->requests > 1 ? meta->requests : 1;
    if (meta->requests > 1) {
        md_ratelimit_charge(&e->rl, meta->requests - 1, now_wall);
        md_ratelimit_charge(&e->cls_rl[cls], meta->requests - 1, now_wall);
    }
    md_circuit_record(&e->circ, failed, now);
    md_health_record(&e->health, !failed, latency_ms);
    if (rc == 0) e->last_success = now_wall / 1000;
    if (failed) {
        e->failures++;
        e->last_error_at = now_wall / 1000;
        char msg[MD_ERROR_MSG_MAX + 40];
        snprintf(msg, sizeof msg, "%s: %s", md_error_code(rc), err->msg);
        md_log_redact(msg, e->last_error, sizeof e->last_error);
    }
    if (rc == MD_ERATELIMIT) {
        int64_t wait =
            meta->retry_after_s >= 0 ? (int64_t)meta->retry_after_s * 1000 : m->o.pause_ms;
        md_ratelimit_pause(&e->rl, now_wall + wait);
    }
    publish_gauges(e, now, m->o.health_latency_ms);
    pthread_mutex_unlock(&e->lock);
    md_metric_add(MD_M_SOURCE_REQUESTS, 1, e->name, result_label(rc));
}

/* Asks one source, retrying transient errors. Returns the call's rc, or 1 when the source
 * was skipped (circuit open, no rate-limit token): *skip_rc then says which. */
static int ask(md_srcmgr *m, entry *e, const fetch *f, md_quote *q, md_bar_vec *bars, reasons *why,
               int *skip_rc, md_error *err)
{
    md_endpoint_class cls = f->kind == K_QUOTE ? MD_EP_QUOTE : md_endpoint_class_of_bars(f->iv);
    md_ratelimit *const budgets[] = {&e->rl, &e->cls_rl[cls]};
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&e->lock);
        int64_t now = mono(m), now_wall = wall(m);
        if (!md_circuit_allow(&e->circ, now)) {
            int64_t in = md_circuit_retry_in_ms(&e->circ, now);
            pthread_mutex_unlock(&e->lock);
            add_reason(why, e->name, "circuit open (next probe in %lld s)",
                       (long long)((in + 999) / 1000));
            *skip_rc = MD_ENOSOURCE;
            md_error_set(err, MD_ENOSOURCE, "%s: circuit open", e->name);
            return 1;
        }
        int64_t retry_in = 0;
        if (!md_ratelimit_acquire_all(budgets, 2, now_wall,
                                      f->fo.background ? m->o.background_reserve : 0, &retry_in)) {
            md_circuit_cancel(&e->circ);
            pthread_mutex_unlock(&e->lock);
            add_reason(why, e->name, "rate limited (next request allowed in %lld s)",
                       (long long)((retry_in + 999) / 1000));
            *skip_rc = MD_ERATELIMIT;
            md_error_set(err, MD_ERATELIMIT,
                         "%s: rate limit reached, next request allowed in %lld s", e->name,
                         (long long)((retry_in + 999) / 1000));
            return 1;
        }
        pthread_mutex_unlock(&e->lock);

        md_fetch_meta meta = {0, -1, 0, 0};
        md_error cerr;
        md_error_clear(&cerr);
        size_t n0 = bars ? bars->n : 0;
        int64_t t0 = mono(m);
        int rc;
        if (f->kind == K_QUOTE) {
            rc = e->src->vt->quote(e->src, f->symbol, q, &meta, &cerr);
        } else {
            rc = e->src->vt->bars(e->src, f->symbol, f->iv, f->start, f->end, bars, &meta, &cerr);
            if (rc > 0) rc = 0;
        }
        int64_t latency = mono(m) - t0;
        if (rc < 0 && cerr.rc == 0) md_error_set(&cerr, rc, "%s", md_error_default(rc));
        if (rc != 0 && bars) bars->n = n0; /* never half an answer */
        if (meta.requests < 1) meta.requests = 1;
        record(m, e, cls, rc, &meta, latency, &cerr);
        if (rc == 0) return 0;

        char clean[MD_ERROR_MSG_MAX];
        md_log_redact(cerr.msg, clean, sizeof clean);
        if (md_source_error_retryable(rc) && attempt < m->o.max_retries) {
            int64_t d;
            pthread_mutex_lock(&m->lock);
            d = md_backoff_delay_ms(attempt, m->o.retry_base_ms, m->o.retry_max_ms, &m->rng);
            pthread_mutex_unlock(&m->lock);
            MD_DEBUG("sources", "retry source=%s symbol=%s attempt=%d delay_ms=%lld error=\"%s\"",
                     e->name, f->symbol, attempt + 1, (long long)d, clean);
            m->clk.sleep_ms(m->clk.ctx, d);
            continue;
        }
        if (md_source_error_is_failure(rc))
            MD_WARN("sources", "source failed source=%s symbol=%s code=%s error=\"%s\"", e->name,
                    f->symbol, md_error_code(rc), clean);
        add_reason(why, e->name, "%s", clean);
        md_error_set(err, rc, "%s: %s", e->name, clean);
        return rc;
    }
}

static void describe(const fetch *f, char *dst, size_t n)
{
    if (f->kind == K_QUOTE)
        snprintf(dst, n, "%s quote", f->symbol);
    else
        snprintf(dst, n, "%s %s bars", f->symbol, md_interval_name(f->iv));
}

/* Failover over the candidates; fills q or bars and res on success. */
static int run(md_srcmgr *m, const fetch *f, md_quote *q, md_bar_vec *bars, md_fetch_result *res,
               md_error *err)
{
    reasons why = {{0}, 0};
    char what[64];
    describe(f, what, sizeof what);
    int considered = 0, rate_limited = 0, not_found = 0, unsupported = 0, tried_enabled = 0;
    int only = f->fo.source;
    if (only >= 0) {
        entry *e = find_id(m, only);
        if (!e)
            return md_error_set(err, MD_EPARAM, "source: '%s' is not a configured source",
                                md_source_name(only));
        if (!e->src)
            return md_error_set(err, MD_ENOSOURCE, "source %s is disabled: %s", e->name, e->reason);
    }
    md_error last;
    md_error_clear(&last);
    int last_rc = 0;
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        if (only >= 0 ? e->id != only : !usable(e)) continue;
        tried_enabled++;
        if (f->kind == K_BARS && !entry_supports(e, f->iv)) {
            unsupported++;
            add_reason(&why, e->name, "does not offer %s bars", md_interval_name(f->iv));
            continue;
        }
        considered++;
        int skip_rc = 0;
        md_error e_err;
        md_error_clear(&e_err);
        int rc = ask(m, e, f, q, bars, &why, &skip_rc, &e_err);
        if (rc == 0) {
            if (f->kind == K_QUOTE) {
                if (q->source == MD_SRC_UNKNOWN) q->source = (uint8_t)e->id;
                snprintf(q->symbol, sizeof q->symbol, "%s", f->symbol);
            } else {
                for (size_t k = 0; k < bars->n; k++)
                    if (bars->v[k].source == MD_SRC_UNKNOWN) bars->v[k].source = (uint8_t)e->id;
            }
            res->source = e->id;
            return 0;
        }
        int eff = rc == 1 ? skip_rc : rc;
        if (eff == MD_ERATELIMIT) rate_limited++;
        if (eff == MD_ENOTFOUND || eff == MD_ENODATA) not_found++;
        last = e_err;
        last_rc = eff;
    }
    if (only >= 0) {
        if (unsupported)
            return md_error_set(err, MD_EINTERVAL, "%s does not offer %s bars",
                                md_source_name(only), md_interval_name(f->iv));
        return md_error_set(err, last_rc, "%s", last.msg);
    }
    if (tried_enabled == 0) return md_error_set(err, MD_ENOSOURCE, "no source is enabled");
    if (considered == 0)
        return md_error_set(err, MD_EINTERVAL, "no source offers %s bars", md_interval_name(f->iv));
    if (not_found) return md_error_set(err, MD_ENOTFOUND, "no source has %s (%s)", what, why.text);
    if (rate_limited == considered)
        return md_error_set(err, MD_ERATELIMIT, "every source is rate limited for %s (%s)", what,
                            why.text);
    return md_error_set(err, MD_ENOSOURCE, "no healthy source for %s (%s)", what, why.text);
}

/* -- coalescing ------------------------------------------------------------------------ */

static void fetch_key(const fetch *f, char *dst, size_t n)
{
    /* background work has a smaller budget: it never answers an interactive request */
    if (f->kind == K_QUOTE)
        snprintf(dst, n, "q|%s|%d|%d", f->symbol, f->fo.source, f->fo.background);
    else
        snprintf(dst, n, "b|%s|%d|%lld|%lld|%d|%d", f->symbol, (int)f->iv, (long long)f->start,
                 (long long)f->end, f->fo.source, f->fo.background);
}

static void inflight_free(inflight *x)
{
    md_bar_vec_deinit(&x->bars);
    pthread_cond_destroy(&x->cv);
    md_free(x);
}

static int coalesced(md_srcmgr *m, const fetch *f, md_quote *q, md_bar_vec *bars,
                     md_fetch_result *res, md_error *err)
{
    char key[112];
    fetch_key(f, key, sizeof key);
    pthread_mutex_lock(&m->lock);
    for (inflight *x = m->flying; x; x = x->next) {
        if (strcmp(x->key, key) != 0) continue;
        x->waiters++;
        while (!x->done) pthread_cond_wait(&x->cv, &m->lock);
        int rc = x->rc;
        if (rc == 0) {
            if (f->kind == K_QUOTE)
                *q = x->q;
            else
                for (size_t k = 0; k < x->bars.n; k++) md_bar_vec_push(bars, &x->bars.v[k]);
            *res = x->res;
            res->coalesced = 1;
        } else if (err) {
            *err = x->err;
        }
        int last = --x->waiters == 0;
        pthread_mutex_unlock(&m->lock);
        if (last) inflight_free(x);
        return rc;
    }
    inflight *me = md_calloc(1, sizeof *me);
    snprintf(me->key, sizeof me->key, "%s", key);
    pthread_cond_init(&me->cv, NULL);
    md_bar_vec_init(&me->bars);
    me->next = m->flying;
    m->flying = me;
    pthread_mutex_unlock(&m->lock);

    size_t n0 = f->kind == K_BARS ? bars->n : 0; /* a bars fetch always has bars */
    md_error e;
    md_error_clear(&e);
    int rc = run(m, f, q, bars, res, &e);
    if (rc == 0 && f->fo.keep) { /* stored before anyone waiting is woken */
        const md_tick_sink *k = f->fo.keep;
        if (f->kind == K_QUOTE && k->quotes)
            res->kept_rc = k->quotes(k->ctx, q, 1);
        else if (f->kind == K_BARS && k->bars && bars->n > n0)
            res->kept_rc = k->bars(k->ctx, f->symbol, f->iv, bars->v + n0, bars->n - n0);
    }

    pthread_mutex_lock(&m->lock);
    for (inflight **p = &m->flying; *p; p = &(*p)->next) {
        if (*p == me) {
            *p = me->next;
            break;
        }
    }
    me->done = 1;
    me->rc = rc;
    me->err = e;
    if (rc == 0 && me->waiters) {
        me->res = *res;
        if (f->kind == K_QUOTE)
            me->q = *q;
        else
            for (size_t k = n0; k < bars->n; k++) md_bar_vec_push(&me->bars, &bars->v[k]);
    }
    int nobody = me->waiters == 0;
    pthread_cond_broadcast(&me->cv);
    pthread_mutex_unlock(&m->lock);
    if (nobody) inflight_free(me);
    if (rc != 0 && err) *err = e;
    return rc;
}

int md_srcmgr_waiting(md_srcmgr *m)
{
    int n = 0;
    pthread_mutex_lock(&m->lock);
    for (inflight *x = m->flying; x; x = x->next) n += x->waiters;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static const md_fetch_opts default_fo = {-1, 0, NULL};

int md_srcmgr_quote(md_srcmgr *m, const char *symbol, const md_fetch_opts *fo, md_quote *out,
                    md_fetch_result *res, md_error *err)
{
    fetch f = {K_QUOTE, symbol, MD_IV_1D, 0, 0, fo ? *fo : default_fo};
    md_fetch_result r = {MD_SRC_UNKNOWN, 0, 0};
    md_quote q;
    md_quote_init(&q);
    int rc = coalesced(m, &f, &q, NULL, &r, err);
    if (rc != 0) return rc;
    *out = q;
    if (res) *res = r;
    return 0;
}

int md_srcmgr_bars(md_srcmgr *m, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   const md_fetch_opts *fo, md_bar_vec *out, md_fetch_result *res, md_error *err)
{
    if (end <= start) return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    fetch f = {K_BARS, symbol, iv, start, end, fo ? *fo : default_fo};
    md_fetch_result r = {MD_SRC_UNKNOWN, 0, 0};
    size_t n0 = out->n;
    int rc = coalesced(m, &f, NULL, out, &r, err);
    if (rc != 0) {
        out->n = n0;
        return rc;
    }
    if (res) *res = r;
    return (int)(out->n - n0);
}

/* -- status ---------------------------------------------------------------------------- */

int md_srcmgr_info_at(md_srcmgr *m, size_t i, md_srcmgr_info *out)
{
    if (i >= m->n) return MD_EINVAL;
    entry *e = m->e[i];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", e->name);
    out->id = e->id;
    out->enabled = usable(e);
    out->priority = e->priority >= 0 ? e->priority + 1 : 0;
    snprintf(out->reason, sizeof out->reason, "%s", e->reason);
    pthread_mutex_lock(&e->lock);
    int64_t now = mono(m), now_wall = wall(m);
    out->circuit = md_circuit_state_at(&e->circ, now);
    out->health = md_health_score(&e->health, m->o.health_latency_ms);
    out->requests = e->requests;
    out->failures = e->failures;
    out->rl_remaining = md_ratelimit_remaining(&e->rl, now_wall, &out->rl_reset_ms);
    out->per_minute = e->rl.per_minute;
    out->per_day = e->rl.per_day;
    for (int c = 0; c < MD_EP_COUNT; c++)
        out->cls[c] = (md_rate_limit){e->cls_rl[c].per_minute, e->cls_rl[c].per_day};
    snprintf(out->last_error, sizeof out->last_error, "%s", e->last_error);
    out->last_error_at = e->last_error_at;
    out->last_success = e->last_success;
    pthread_mutex_unlock(&e->lock);
    return 0;
}

void md_srcmgr_update_metrics(md_srcmgr *m)
{
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        if (!e->src) continue;
        pthread_mutex_lock(&e->lock);
        publish_gauges(e, mono(m), m->o.health_latency_ms);
        pthread_mutex_unlock(&e->lock);
    }
}
