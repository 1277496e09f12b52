/* manager.c - priority failover over the sources: per source and endpoint class a circuit
 * breaker and a rate limit, per source a health score and a bulkhead of its own threads;
 * hedged requests within one time budget; coalescing of identical in-flight fetches.
 *
 * One fetch ("race"):
 *
 *   requester thread                         a provider's call threads (its bulkhead)
 *   ----------------                         ----------------------------------------
 *   launch candidate 1 ------------------->  ask: circuit, budget, call, retries, record
 *   wait: an answer, the hedge delay, the deadline
 *     hedge delay passed: launch candidate 2 ->  ask ...
 *     an answer: a good one wins, every other call is cancelled (its transfer aborted);
 *                an empty range or a failure: launch the next candidate
 *     deadline: cancel everything, MD_ETIMEOUT
 *
 * The race is reference-counted: a call that was cancelled may still be finishing on its
 * thread after the requester returned, and frees the race when it is the last one out.
 *
 * Locks: m->lock guards the in-flight list, the marks and the jitter; each entry's lock
 * guards its circuits, budgets, health, latencies, counters and bulkhead count; a race's
 * lock its attempts. No lock is held while a provider is called, while a retry sleeps or
 * while a shared budget (Redis) or a saved one (the store) is asked. */
#include "sources/manager.h"

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "core/workq.h"
#include "sources/registry.h"
#include "sources/sources_int.h"
#include "sources/symbolmap.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LAT_N 32        /* recent successful latencies kept per endpoint class (hedge delay) */
#define HEDGE_MIN_MS 50 /* the hedge delay never goes below this */

typedef struct entry {
    char name[24];
    int id;
    md_source *src; /* NULL when disabled */
    int priority;   /* order key; -1 = not in the failover order */
    char reason[120];
    pthread_mutex_t lock;
    md_circuit circ[MD_EP_COUNT];     /* one breaker per endpoint class */
    md_ratelimit rl;                  /* every request */
    md_ratelimit cls_rl[MD_EP_COUNT]; /* on top, per endpoint class (unlimited unless set) */
    char day_zone[48];                /* its day starts at midnight there */
    char key_tag[24];                 /* a hash of its API key: budgets are per provider and key */
    md_health health;
    int32_t lat[MD_EP_COUNT][LAT_N];
    int lat_n[MD_EP_COUNT], lat_pos[MD_EP_COUNT];
    int64_t requests, failures;
    char last_error[200];
    int64_t last_error_at, last_success; /* epoch seconds */
    md_workq *calls;                     /* its bulkhead: max_concurrent threads */
    int busy, running;                   /* calls submitted and not finished; running now */
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
    int fake_clock; /* md_srcmgr_set_clock was called: sleeps go through clk */
    uint64_t rng;
    md_symbolmap *map;
    struct race *live; /* the fetches running now (md_srcmgr_cancel_all) */
    int stopping;      /* set by md_srcmgr_cancel_all: no fetch starts */
    md_srcmgr_quota quota;
    md_srcmgr_persist persist;
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
    md_cancel_sleep(NULL, ms);
}

void md_srcmgr_set_clock(md_srcmgr *m, const md_srcmgr_clock *clk, uint64_t seed)
{
    m->clk = *clk;
    m->fake_clock = 1;
    pthread_mutex_lock(&m->lock);
    m->rng = seed ? seed : 1;
    pthread_mutex_unlock(&m->lock);
}

/* Waits on cv (its clock CLOCK_MONOTONIC, as every condition variable here) at most left_ms. */
static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *lock, int64_t left_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (left_ms % 1000) * 1000000LL;
    ts.tv_sec += (time_t)(left_ms / 1000 + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(cv, lock, &ts);
}

static int64_t mono(md_srcmgr *m)
{
    return m->clk.mono_ms(m->clk.ctx);
}

static int64_t wall(md_srcmgr *m)
{
    return m->clk.wall_ms(m->clk.ctx);
}

static _Thread_local int64_t tls_deadline_ms;

void md_srcmgr_budget_begin(int64_t deadline_ms)
{
    tls_deadline_ms = deadline_ms;
}

void md_srcmgr_budget_end(void)
{
    tls_deadline_ms = 0;
}

int64_t md_srcmgr_budget_get(void)
{
    return tls_deadline_ms;
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
    o->deadline_ms = cfg->sources_deadline_ms;
    o->hedge_ms = cfg->sources_hedge_ms;
    o->hedge_percentile = (int)cfg->sources_hedge_percentile;
    o->max_concurrent = (int)cfg->sources_max_concurrent;
    o->max_queued = (int)cfg->sources_max_queued;
}

md_srcmgr *md_srcmgr_new(const md_srcmgr_opts *o)
{
    md_srcmgr *m = md_calloc(1, sizeof *m);
    m->o = *o;
    if (m->o.max_concurrent < 1) m->o.max_concurrent = 4;
    if (m->o.max_queued < 0) m->o.max_queued = 0;
    if (!o->max_concurrent && !o->max_queued) m->o.max_queued = 8;
    pthread_mutex_init(&m->lock, NULL);
    m->clk = (md_srcmgr_clock){real_mono, real_wall, real_sleep, NULL};
    m->rng = (uint64_t)md_mono_ns() ^ ((uint64_t)md_now_ms() << 20) ^ 0x5DEECE66DULL;
    if (!m->rng) m->rng = 1;
    md_error e;
    md_symbolmap_new(NULL, &m->map, &e);
    return m;
}

void md_srcmgr_free(md_srcmgr *m)
{
    if (!m) return;
    /* the call threads first: a cancelled call still finishing uses its entry */
    for (size_t i = 0; i < m->n; i++) {
        md_workq_free(m->e[i]->calls);
        m->e[i]->calls = NULL;
    }
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        md_source_free(e->src);
        for (int c = 0; c < MD_EP_COUNT; c++) {
            md_circuit_deinit(&e->circ[c]);
            md_ratelimit_deinit(&e->cls_rl[c]);
        }
        md_ratelimit_deinit(&e->rl);
        pthread_mutex_destroy(&e->lock);
        md_free(e);
    }
    md_free(m->e);
    md_symbolmap_free(m->map);
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

/* The provider's day at now_ms in its zone (md_rl_day_fn). */
static void zone_day(void *ctx, int64_t now_ms, int64_t *day, int64_t *ends_ms)
{
    const char *zone = ctx;
    int32_t off = 0;
    if (md_sources__tz_offset(zone, now_ms / 1000, &off) != 0) off = 0;
    int64_t local = now_ms / 1000 + off;
    int64_t d = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t next_utc;
    if (md_sources__tz_local_to_utc(zone, (d + 1) * 86400, &next_utc) != 0)
        next_utc = (d + 1) * 86400 - off;
    *day = d;
    *ends_ms = next_utc * 1000;
}

int md_srcmgr_add(md_srcmgr *m, const char *name, md_source *src, int priority, int per_minute,
                  int per_day, const char *reason)
{
    if (find_name(m, name)) {
        md_source_free(src);
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
    for (int c = 0; c < MD_EP_COUNT; c++) {
        md_circuit_init(&e->circ[c], &m->o.circuit);
        md_ratelimit_init(&e->cls_rl[c], 0, 0);
    }
    md_ratelimit_init(&e->rl, per_minute, per_day);
    snprintf(e->day_zone, sizeof e->day_zone, "UTC");
    snprintf(e->key_tag, sizeof e->key_tag, "%016" PRIx64,
             src && src->api_key ? md_hash_str(src->api_key) : (uint64_t)0);
    if (src && src->api_key) md_log_add_secret(src->api_key);
    if (src) {
        char tn[16];
        snprintf(tn, sizeof tn, "%.7s", name);
        e->calls = md_workq_new(m->o.max_concurrent, tn);
    }
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
    if (strcmp(e->day_zone, "UTC") != 0)
        md_ratelimit_set_day(&e->cls_rl[cls], zone_day, e->day_zone);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

int md_srcmgr_set_day(md_srcmgr *m, const char *name, int per_second, const char *zone)
{
    entry *e = find_name(m, name);
    if (!e) return MD_EINVAL;
    int32_t off;
    pthread_mutex_lock(&e->lock);
    md_ratelimit_set_per_second(&e->rl, per_second);
    if (zone && *zone && strcmp(zone, "UTC") != 0 && md_sources__tz_offset(zone, 0, &off) == 0) {
        snprintf(e->day_zone, sizeof e->day_zone, "%s", zone);
        md_ratelimit_set_day(&e->rl, zone_day, e->day_zone);
        for (int c = 0; c < MD_EP_COUNT; c++)
            md_ratelimit_set_day(&e->cls_rl[c], zone_day, e->day_zone);
    } else if (zone && *zone && strcmp(zone, "UTC") != 0) {
        MD_WARN("sources", "unknown day zone source=%s zone=%s: days start at 00:00 UTC", name,
                zone);
    }
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
    md_srcmgr_set_day(m, info->name, lim.per_second, lim.day_zone);
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
    md_symbolmap *map = NULL;
    int rc = md_symbolmap_new(cfg, &map, err);
    if (rc) {
        md_config_free_list(names, n);
        return rc;
    }
    md_srcmgr_opts o;
    md_srcmgr_opts_from_config(&o, cfg);
    md_srcmgr *m = md_srcmgr_new(&o);
    md_symbolmap_free(m->map);
    m->map = map;
    for (size_t i = 0; i < n; i++) {
        md_source *src = NULL;
        md_error e;
        md_error_clear(&e);
        const md_source_info *info = md_source_find(names[i]);
        rc = ctor(names[i], cfg, &src, &e);
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

const md_symbolmap *md_srcmgr_symbolmap(md_srcmgr *m)
{
    return m->map;
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

/* -- budgets: local, shared, saved ------------------------------------------------------- */

void md_srcmgr_set_quota(md_srcmgr *m, const md_srcmgr_quota *q)
{
    m->quota = *q;
}

static const char *scope_name(int k)
{
    return k == 0 ? "all" : md_endpoint_class_name((md_endpoint_class)(k - 1));
}

static md_ratelimit *budget_at(entry *e, int k)
{
    return k == 0 ? &e->rl : &e->cls_rl[k - 1];
}

static void persist_key(const entry *e, int k, char *dst, size_t n)
{
    snprintf(dst, n, "quota:%s:%s:%s", e->name, e->key_tag, scope_name(k));
}

/* Saves the budgets of e that a request touched (the provider's and class cls's). */
static void persist_save(md_srcmgr *m, entry *e, md_endpoint_class cls)
{
    if (!m->persist.save) return;
    char text[2][4096];
    int ks[2] = {0, 1 + (int)cls};
    pthread_mutex_lock(&e->lock);
    int64_t now = wall(m);
    for (int i = 0; i < 2; i++)
        md_ratelimit_save(budget_at(e, ks[i]), now, text[i], sizeof text[i]);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < 2; i++) {
        if (!budget_at(e, ks[i])->per_minute && !budget_at(e, ks[i])->per_day &&
            !budget_at(e, ks[i])->paused_until_ms)
            continue; /* nothing to keep */
        char key[128];
        persist_key(e, ks[i], key, sizeof key);
        if (m->persist.save(m->persist.ctx, key, text[i]) != 0)
            MD_DEBUG("sources", "cannot save the budget key=%s", key);
    }
}

void md_srcmgr_set_persist(md_srcmgr *m, const md_srcmgr_persist *p)
{
    m->persist = *p;
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        if (!e->src) continue;
        for (int k = 0; k < 1 + MD_EP_COUNT; k++) {
            char key[128], *text = NULL;
            persist_key(e, k, key, sizeof key);
            if (p->load(p->ctx, key, &text) != 1) continue;
            pthread_mutex_lock(&e->lock);
            if (md_ratelimit_load(budget_at(e, k), text, wall(m)) != 0)
                MD_WARN("sources", "saved budget not readable key=%s", key);
            pthread_mutex_unlock(&e->lock);
            md_free(text);
        }
    }
}

static void fill_ask(entry *e, md_endpoint_class cls, int n, double reserve, int64_t now_wall,
                     md_quota_ask *a)
{
    memset(a, 0, sizeof *a);
    a->provider = e->name;
    a->key_tag = e->key_tag;
    a->n = n;
    a->reserve = reserve;
    a->nb = 0;
    a->b[a->nb++] = (md_quota_budget){"all", e->rl.per_second, e->rl.per_minute, e->rl.per_day};
    md_ratelimit *c = &e->cls_rl[cls];
    if (c->per_minute || c->per_day)
        a->b[a->nb++] =
            (md_quota_budget){md_endpoint_class_name(cls), 0, c->per_minute, c->per_day};
    a->day_ends_ms = md_ratelimit_day_end(&e->rl, now_wall);
    a->day = e->rl.day;
}

/* Takes n requests from e's budget and its class's: from the shared budget when there is
 * one (the local view follows it; while it is unavailable the local budget alone decides),
 * else from the local budgets (then saved). 1 taken; 0 refused with *retry_in_ms (-1: the
 * budget never holds n). */
static int take(md_srcmgr *m, entry *e, md_endpoint_class cls, int n, double reserve,
                int64_t *retry_in_ms)
{
    md_ratelimit *const b[] = {&e->rl, &e->cls_rl[cls]};
    pthread_mutex_lock(&e->lock);
    int64_t now = wall(m);
    if (!m->quota.take) {
        int ok = md_ratelimit_acquire_n(b, 2, n, now, reserve, retry_in_ms);
        pthread_mutex_unlock(&e->lock);
        if (ok) persist_save(m, e, cls);
        return ok;
    }
    if (!md_ratelimit_can(b, 2, n, now, reserve, retry_in_ms)) {
        pthread_mutex_unlock(&e->lock);
        return 0;
    }
    md_quota_ask a;
    fill_ask(e, cls, n, reserve, now, &a);
    pthread_mutex_unlock(&e->lock);
    int q = m->quota.take(m->quota.ctx, &a, retry_in_ms);
    if (q == 0) return 0; /* the other agents spent it */
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < 2; i++) md_ratelimit_charge(b[i], n, wall(m));
    pthread_mutex_unlock(&e->lock);
    return 1;
}

/* No request of e until until_ms (wall clock), here, in the shared budget and the saved one. */
static void pause_source(md_srcmgr *m, entry *e, md_endpoint_class cls, int64_t until_ms)
{
    pthread_mutex_lock(&e->lock);
    md_ratelimit_pause(&e->rl, until_ms);
    pthread_mutex_unlock(&e->lock);
    if (m->quota.pause) m->quota.pause(m->quota.ctx, e->name, e->key_tag, until_ms);
    persist_save(m, e, cls);
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

/* Why each source gave nothing, for the final error message: one entry per source, cut to
 * an equal share of the message at the end, so that every source is named. */
#define REASONS_MAX 16
typedef struct reasons {
    struct {
        char name[24];
        char text[160];
    } e[REASONS_MAX];
    int n;
    char text[MD_ERROR_MSG_MAX];
} reasons;

/* msg without a leading "<name>: " (the message then names the provider once). */
static const char *after_name(const char *name, const char *msg)
{
    size_t n = strlen(name);
    if (strncmp(msg, name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg;
}

static void add_reason(reasons *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_reason(reasons *r, const char *name, const char *fmt, ...)
{
    char what[MD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (r->n == REASONS_MAX) return;
    snprintf(r->e[r->n].name, sizeof r->e[r->n].name, "%s", name);
    /* redacted whole, cut afterwards */
    md_log_redact(after_name(name, what), r->e[r->n].text, sizeof r->e[r->n].text);
    r->n++;
}

/* "yahoo: ...; finnhub: ..." in at most `room` bytes: each reason gets an equal share. */
static const char *reasons_text(reasons *r, size_t room)
{
    if (room >= sizeof r->text) room = sizeof r->text - 1;
    size_t fixed = 0;
    for (int i = 0; i < r->n; i++) fixed += strlen(r->e[i].name) + 2 + (i ? 2 : 0);
    size_t share = r->n && room > fixed ? (room - fixed) / (size_t)r->n : 0;
    if (share < 16) share = 16;
    size_t len = 0;
    r->text[0] = 0;
    for (int i = 0; i < r->n && len + 1 < sizeof r->text; i++) {
        const char *t = r->e[i].text;
        size_t tl = strlen(t);
        int cut = tl > share;
        int k = snprintf(r->text + len, sizeof r->text - len, "%s%s: %.*s%s", i ? "; " : "",
                         r->e[i].name, (int)(cut ? share - 3 : tl), t, cut ? "..." : "");
        if (k < 0) break;
        len += (size_t)k;
        if (len >= sizeof r->text) len = sizeof r->text - 1;
    }
    return r->text;
}

static const char *result_label(int rc)
{
    return rc == 0 ? "ok" : md_error_code(rc);
}

static md_circuit_state worst_circuit(const entry *e, int64_t now_ms)
{
    md_circuit_state w = MD_CIRCUIT_CLOSED;
    for (int c = 0; c < MD_EP_COUNT; c++) {
        md_circuit_state s = md_circuit_state_at(&e->circ[c], now_ms);
        if (s == MD_CIRCUIT_OPEN || (s == MD_CIRCUIT_HALF_OPEN && w == MD_CIRCUIT_CLOSED)) w = s;
    }
    return w;
}

static void publish_gauges(entry *e, int64_t now_ms, int64_t ref_ms)
{
    md_metric_set(MD_M_SOURCE_CIRCUIT, (double)worst_circuit(e, now_ms), e->name);
    md_metric_set(MD_M_SOURCE_HEALTH, md_health_score(&e->health, ref_ms), e->name);
}

/* After a call: counters, circuit, rate limit, health, latencies, metrics. neutral: the
 * call was cancelled because another source answered (or the request gave up) before it
 * had been running for its hedge delay: it says nothing about the source. */
static void record(md_srcmgr *m, entry *e, md_endpoint_class cls, int rc, const md_fetch_meta *meta,
                   int64_t latency_ms, int neutral, const md_error *err)
{
    int failed = !neutral && md_source_error_is_failure(rc);
    int extra = meta->requests - (meta->granted > 0 ? meta->granted : 1);
    pthread_mutex_lock(&e->lock);
    int64_t now = mono(m), now_wall = wall(m);
    e->requests += meta->requests > 1 ? meta->requests : 1;
    if (extra > 0) { /* made without a token (a source that keeps no budget): charged now */
        md_ratelimit_charge(&e->rl, extra, now_wall);
        md_ratelimit_charge(&e->cls_rl[cls], extra, now_wall);
    }
    if (!neutral) {
        md_circuit_record(&e->circ[cls], failed, now);
        md_health_record(&e->health, !failed, latency_ms);
    } else {
        md_circuit_cancel(&e->circ[cls]);
    }
    if (rc == 0) {
        e->last_success = now_wall / 1000;
        e->lat[cls][e->lat_pos[cls]] = (int32_t)(latency_ms < INT32_MAX ? latency_ms : INT32_MAX);
        e->lat_pos[cls] = (e->lat_pos[cls] + 1) % LAT_N;
        if (e->lat_n[cls] < LAT_N) e->lat_n[cls]++;
    }
    if (failed) {
        e->failures++;
        e->last_error_at = now_wall / 1000;
        char msg[MD_ERROR_MSG_MAX + 40];
        snprintf(msg, sizeof msg, "%s: %s", md_error_code(rc), err->msg);
        md_log_redact(msg, e->last_error, sizeof e->last_error);
    }
    publish_gauges(e, now, m->o.health_latency_ms);
    pthread_mutex_unlock(&e->lock);
    if (rc == MD_ERATELIMIT) {
        int64_t wait = m->o.pause_ms;
        if (meta->retry_after_s >= 0)
            wait = (int64_t)meta->retry_after_s * 1000;
        else if (strcasestr(err->msg, "minute")) /* a per-minute throttle without Retry-After */
            wait = 60000;
        int64_t until = now_wall + wait;
        if (meta->day_exhausted) { /* "... requests per day": not before the provider's day ends */
            pthread_mutex_lock(&e->lock);
            until = md_ratelimit_day_end(&e->rl, now_wall);
            pthread_mutex_unlock(&e->lock);
            MD_WARN("sources", "daily limit reached source=%s paused_until_s=%" PRId64, e->name,
                    until / 1000);
        }
        pause_source(m, e, cls, until);
    }
    md_metric_add(MD_M_SOURCE_REQUESTS, 1, e->name, neutral ? "canceled" : result_label(rc));
    if (!neutral) md_metric_observe(MD_M_SOURCE_DURATION, (double)latency_ms / 1000.0, e->name);
}

/* The hedge delay of e for class cls: the configured one, or the percentile of its recent
 * successful latencies when that is shorter (at least HEDGE_MIN_MS). Under e->lock. */
static int64_t hedge_delay(const md_srcmgr *m, const entry *e, md_endpoint_class cls)
{
    int64_t h = m->o.hedge_ms;
    int n = e->lat_n[cls];
    if (m->o.hedge_percentile > 0 && n >= 10) {
        int32_t v[LAT_N];
        memcpy(v, e->lat[cls], (size_t)n * sizeof *v);
        for (int i = 1; i < n; i++) /* insertion sort: 32 values */
            for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
                int32_t t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
            }
        int k = (int)((int64_t)m->o.hedge_percentile * (n - 1) / 100);
        int64_t p = v[k];
        if (p < HEDGE_MIN_MS) p = HEDGE_MIN_MS;
        if (p < h) h = p;
    }
    return h;
}

/* -- the race: attempts on the providers' threads ------------------------------------------ */

#define MAX_ATTEMPTS 16

enum { SKIPPED = 1 };

typedef struct attempt {
    struct race *race;
    entry *e;
    md_endpoint_class cls;
    char spelled[MD_SYMCONF_SPELLING_MAX];
    md_quote q;
    md_bar_vec bars;
    md_cancel cancel;
    int64_t hedge_ms;    /* its hedge delay when launched */
    int64_t launched_ms; /* md_mono_ms when it was launched (its hedge delay counts from
                          * here, however long its thread took to pick it up) */
    int done, handled;   /* under race->lock */
    int rc;              /* 0, SKIPPED (skip_rc says why) or MD_E* */
    int skip_rc;
    md_error err;
    atomic_int cancel_why; /* CANCEL_*: why the requester cancelled it */
} attempt;

enum { CANCEL_LOST = 1, CANCEL_DEADLINE = 2 };

typedef struct race {
    md_srcmgr *m;
    fetch f;
    char symbol[MD_SYMBOL_MAX + 1];
    md_symbol_class cls;
    int64_t deadline_ms; /* md_mono_ms; 0 = none */
    double reserve;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    int refs;
    attempt *a[MAX_ATTEMPTS];
    int n;
    atomic_int stopping;    /* md_srcmgr_cancel_all: give up now, launch nothing more */
    struct race *next_live; /* m->live, under m->lock */
} race;

static race *race_new(md_srcmgr *m, const fetch *f, int64_t deadline_ms)
{
    race *r = md_calloc(1, sizeof *r);
    r->m = m;
    r->f = *f;
    snprintf(r->symbol, sizeof r->symbol, "%s", f->symbol);
    r->f.symbol = r->symbol;
    r->f.fo.keep = NULL; /* the requester stores; attempts never do */
    r->deadline_ms = deadline_ms;
    r->reserve = f->fo.background ? m->o.background_reserve : 0;
    md_symbolmap_classify(m->map, r->symbol, &r->cls);
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    r->refs = 1;
    return r;
}

static void race_unref(race *r)
{
    pthread_mutex_lock(&r->lock);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last) return;
    for (int i = 0; i < r->n; i++) {
        md_bar_vec_deinit(&r->a[i]->bars);
        md_cancel_deinit(&r->a[i]->cancel);
        md_free(r->a[i]);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    md_free(r);
}

/* meta->more of a call: one more token (a page, a fallback) or several (reserved). */
static int more_tokens(void *ctx, int n, md_error *err)
{
    attempt *a = ctx;
    int64_t retry = 0;
    if (take(a->race->m, a->e, a->cls, n, a->race->reserve, &retry)) return 1;
    if (retry < 0)
        md_error_set(err, MD_ERATELIMIT, "its budget never holds %d requests at once", n);
    else
        md_error_set(err, MD_ERATELIMIT, "rate limit reached, next request allowed in %lld s",
                     (long long)((retry + 999) / 1000));
    return 0;
}

/* Sleeps d ms before a retry, unless cancelled or past the deadline; 1 to stop. */
static int retry_sleep(md_srcmgr *m, attempt *a, int64_t d)
{
    if (m->fake_clock) {
        m->clk.sleep_ms(m->clk.ctx, d);
        return md_cancel_requested(&a->cancel);
    }
    int64_t dl = a->race->deadline_ms;
    if (dl > 0 && md_mono_ms() + d >= dl) return 1; /* the retry could not finish in time */
    return md_cancel_sleep(&a->cancel, d);
}

/* Asks one source, retrying transient errors: sets a->rc (SKIPPED with a->skip_rc when the
 * circuit or the budget refused it), a->err, and the answer. Runs on e's call thread. */
static void ask(md_srcmgr *m, attempt *a)
{
    race *r = a->race;
    entry *e = a->e;
    const fetch *f = &r->f;
    md_endpoint_class cls = a->cls;
    for (int attempt_no = 0;; attempt_no++) {
        if (md_cancel_requested(&a->cancel)) {
            a->rc = MD_ECANCELED;
            md_error_set(&a->err, MD_ECANCELED, "%s: cancelled", e->name);
            return;
        }
        if (r->deadline_ms > 0 && md_mono_ms() >= r->deadline_ms) {
            a->rc = MD_ETIMEOUT;
            md_error_set(&a->err, MD_ETIMEOUT, "%s: no time left (the request's time budget)",
                         e->name);
            return;
        }
        pthread_mutex_lock(&e->lock);
        int64_t now = mono(m);
        if (!md_circuit_allow(&e->circ[cls], now)) {
            int64_t in = md_circuit_retry_in_ms(&e->circ[cls], now);
            pthread_mutex_unlock(&e->lock);
            a->rc = SKIPPED;
            a->skip_rc = MD_ENOSOURCE;
            md_error_set(&a->err, MD_ENOSOURCE,
                         "%s: circuit open for %s calls (next probe in %lld s)", e->name,
                         md_endpoint_class_name(cls), (long long)((in + 999) / 1000));
            return;
        }
        pthread_mutex_unlock(&e->lock);
        int64_t retry_in = 0;
        if (!take(m, e, cls, 1, r->reserve, &retry_in)) {
            pthread_mutex_lock(&e->lock);
            md_circuit_cancel(&e->circ[cls]);
            pthread_mutex_unlock(&e->lock);
            a->rc = SKIPPED;
            a->skip_rc = MD_ERATELIMIT;
            md_error_set(&a->err, MD_ERATELIMIT,
                         "%s: rate limited (next request allowed in %lld s)", e->name,
                         (long long)((retry_in + 999) / 1000));
            return;
        }

        md_fetch_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.retry_after_s = -1;
        meta.deadline_ms = r->deadline_ms;
        meta.cancel = &a->cancel;
        meta.asset = r->cls.asset;
        meta.granted = 1;
        meta.more = more_tokens;
        meta.more_ctx = a;
        md_error cerr;
        md_error_clear(&cerr);
        a->bars.n = 0;
        int64_t t0 = mono(m);
        int rc;
        if (f->kind == K_QUOTE) {
            rc = e->src->vt->quote(e->src, a->spelled, &a->q, &meta, &cerr);
        } else {
            rc = e->src->vt->bars(e->src, a->spelled, f->iv, f->start, f->end, &a->bars, &meta,
                                  &cerr);
            if (rc > 0) rc = 0;
        }
        int64_t latency = mono(m) - t0;
        if (rc < 0 && cerr.rc == 0)
            md_error_set(&cerr, rc, "%s: %s", e->name, md_error_default(rc));
        if (rc != 0) a->bars.n = 0; /* never half an answer */
        if (meta.requests < 1) meta.requests = 1;
        /* a call cut short after its hedge delay was too slow: a failure, as a timeout */
        int neutral = 0;
        if (rc == MD_ECANCELED) {
            int64_t ran = md_mono_ms() - a->launched_ms;
            int why = atomic_load(&a->cancel_why);
            if (why == CANCEL_DEADLINE || (a->hedge_ms > 0 && ran >= a->hedge_ms)) {
                rc = MD_ETIMEOUT;
                md_error_set(&cerr, MD_ETIMEOUT, "%s: no answer within %lld ms (%s)", e->name,
                             (long long)ran,
                             why == CANCEL_DEADLINE ? "the request's time budget"
                                                    : "another source answered");
            } else {
                neutral = 1;
            }
        }
        record(m, e, cls, rc, &meta, latency, neutral, &cerr);
        if (rc == 0) {
            a->rc = 0;
            return;
        }
        char clean[MD_ERROR_MSG_MAX];
        md_log_redact(cerr.msg, clean, sizeof clean);
        if (!neutral && md_source_error_retryable(rc) && attempt_no < m->o.max_retries) {
            int64_t d;
            pthread_mutex_lock(&m->lock);
            d = md_backoff_delay_ms(attempt_no, m->o.retry_base_ms, m->o.retry_max_ms, &m->rng);
            pthread_mutex_unlock(&m->lock);
            MD_DEBUG("sources", "retry source=%s symbol=%s attempt=%d delay_ms=%lld error=\"%s\"",
                     e->name, r->symbol, attempt_no + 1, (long long)d, clean);
            if (!retry_sleep(m, a, d)) continue;
        }
        if (!neutral && md_source_error_is_failure(rc))
            MD_WARN("sources", "source failed source=%s symbol=%s code=%s error=\"%s\"", e->name,
                    r->symbol, md_error_code(rc), clean);
        a->rc = rc;
        md_error_set(&a->err, rc, "%s: %s", e->name, after_name(e->name, clean));
        return;
    }
}

static void attempt_job(void *arg)
{
    attempt *a = arg;
    race *r = a->race;
    entry *e = a->e;
    pthread_mutex_lock(&e->lock);
    e->running++;
    pthread_mutex_unlock(&e->lock);
    ask(r->m, a);
    pthread_mutex_lock(&e->lock);
    e->running--;
    e->busy--;
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_lock(&r->lock);
    a->done = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    race_unref(r);
}

/* Starts asking e: 1 launched; 0 skipped at once (circuit open, no token, bulkhead full:
 * *skip_rc and the reason filled). */
static int launch(race *r, entry *e, const char *spelled, md_endpoint_class cls, int *skip_rc,
                  md_error *why)
{
    md_srcmgr *m = r->m;
    pthread_mutex_lock(&e->lock);
    int64_t now = mono(m), now_wall = wall(m);
    /* what is refused now is refused without a thread: an open circuit, an empty budget */
    if (md_circuit_state_at(&e->circ[cls], now) == MD_CIRCUIT_OPEN) {
        int64_t in = md_circuit_retry_in_ms(&e->circ[cls], now);
        pthread_mutex_unlock(&e->lock);
        *skip_rc = MD_ENOSOURCE;
        md_error_set(why, MD_ENOSOURCE, "%s: circuit open for %s calls (next probe in %lld s)",
                     e->name, md_endpoint_class_name(cls), (long long)((in + 999) / 1000));
        return 0;
    }
    md_ratelimit *const b[] = {&e->rl, &e->cls_rl[cls]};
    int64_t retry_in = 0;
    if (!md_ratelimit_can(b, 2, 1, now_wall, r->reserve, &retry_in)) {
        pthread_mutex_unlock(&e->lock);
        *skip_rc = MD_ERATELIMIT;
        md_error_set(why, MD_ERATELIMIT, "%s: rate limited (next request allowed in %lld s)",
                     e->name, (long long)((retry_in + 999) / 1000));
        return 0;
    }
    if (e->busy >= m->o.max_concurrent + m->o.max_queued) {
        int running = e->running, queued = e->busy - e->running;
        pthread_mutex_unlock(&e->lock);
        *skip_rc = MD_ENOSOURCE;
        md_error_set(why, MD_ENOSOURCE, "%s: busy (%d calls in flight, %d waiting)", e->name,
                     running, queued);
        return 0;
    }
    e->busy++;
    int64_t hedge = hedge_delay(m, e, cls);
    pthread_mutex_unlock(&e->lock);
    attempt *a = md_calloc(1, sizeof *a);
    a->race = r;
    a->e = e;
    a->cls = cls;
    a->hedge_ms = hedge;
    a->launched_ms = md_mono_ms();
    snprintf(a->spelled, sizeof a->spelled, "%s", spelled);
    md_quote_init(&a->q);
    md_bar_vec_init(&a->bars);
    md_cancel_init(&a->cancel);
    pthread_mutex_lock(&r->lock);
    r->a[r->n++] = a;
    r->refs++;
    pthread_mutex_unlock(&r->lock);
    md_workq_submit(e->calls, attempt_job, a);
    return 1;
}

static void describe(const fetch *f, char *dst, size_t n)
{
    if (f->kind == K_QUOTE)
        snprintf(dst, n, "%s quote", f->symbol);
    else
        snprintf(dst, n, "%s %s bars", f->symbol, md_interval_name(f->iv));
}

/* Waits until an attempt is done, `until` (md_mono_ms; 0 = no limit) or both. Returns the
 * first done attempt not handled yet (marked handled), or NULL at `until`. */
static attempt *wait_any(race *r, int64_t until)
{
    pthread_mutex_lock(&r->lock);
    attempt *got = NULL;
    for (;;) {
        for (int i = 0; i < r->n && !got; i++)
            if (r->a[i]->done && !r->a[i]->handled) got = r->a[i];
        if (got) {
            got->handled = 1;
            break;
        }
        if (atomic_load(&r->stopping)) break;
        if (until > 0) {
            int64_t left = until - md_mono_ms();
            if (left <= 0) break;
            wait_ms(&r->cond, &r->lock, left);
        } else {
            pthread_cond_wait(&r->cond, &r->lock);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return got;
}

/* Tally of what the candidates said, for the final answer. */
typedef struct tally {
    reasons why;
    int considered, rate_limited, not_found, unsupported, not_offered, tried_enabled;
    int empty, interval_refused, timed_out;
    int stopped; /* the agent is shutting down (md_srcmgr_cancel_all) */
    int last_rc;
    md_error last;
} tally;

static void note(tally *t, entry *e, int rc, const md_error *err)
{
    if (rc == MD_ERATELIMIT) t->rate_limited++;
    if (rc == MD_ENOTFOUND || rc == MD_ENODATA) t->not_found++;
    if (rc == MD_EINTERVAL) t->interval_refused++;
    add_reason(&t->why, e->name, "%s", err->msg);
    t->last = *err;
    t->last_rc = rc;
}

int md_srcmgr_check_alone(md_srcmgr *m, int source, md_error *err)
{
    if (source < 0) return 0;
    entry *e = find_id(m, source);
    if (!e)
        return md_error_set(err, MD_EPARAM, "source: '%s' is not a configured source",
                            md_source_name(source));
    if (!e->src)
        return md_error_set(err, MD_ENOSOURCE, "source %s is disabled: %s", e->name, e->reason);
    return 0;
}

/* What the final message leaves for the reasons ("no healthy source for SYMBOL 1m bars (").*/
#define ROOM (MD_ERROR_MSG_MAX - 72)

/* Failover (and hedging) over the candidates; fills q or bars and res on success. */
static int run(md_srcmgr *m, const fetch *f, int64_t deadline_ms, md_quote *q, md_bar_vec *bars,
               md_fetch_result *res, md_error *err)
{
    char what[64];
    describe(f, what, sizeof what);
    int only = f->fo.source;
    int alone = md_srcmgr_check_alone(m, only, err);
    if (alone) return alone;
    tally *t = md_calloc(1, sizeof *t);
    race *r = race_new(m, f, deadline_ms);
    pthread_mutex_lock(&m->lock);
    r->next_live = m->live;
    m->live = r;
    atomic_store(&r->stopping, m->stopping);
    pthread_mutex_unlock(&m->lock);
    md_endpoint_class cls = f->kind == K_QUOTE ? MD_EP_QUOTE : md_endpoint_class_of_bars(f->iv);

    /* the candidates, spelled for each */
    entry *cand[32];
    char spelled[32][MD_SYMCONF_SPELLING_MAX];
    int nc = 0;
    for (size_t i = 0; i < m->n && nc < 32; i++) {
        entry *e = m->e[i];
        if (only >= 0 ? e->id != only : !usable(e)) continue;
        t->tried_enabled++;
        if (f->kind == K_BARS && !entry_supports(e, f->iv)) {
            t->unsupported++;
            add_reason(&t->why, e->name, "does not offer %s bars", md_interval_name(f->iv));
            continue;
        }
        char why[160];
        if (!md_symbolmap_spell(m->map, e->id, &r->cls, f->kind == K_QUOTE, spelled[nc],
                                sizeof spelled[nc], why, sizeof why)) {
            t->not_offered++;
            add_reason(&t->why, e->name, "%s", why);
            md_error_set(&t->last, MD_EPARAM, "source: %s %s (%s)", e->name, why, r->symbol);
            continue;
        }
        cand[nc++] = e;
    }
    t->considered = nc;

    int hedging = only < 0 && m->o.hedge_ms > 0;
    int next = 0, active = 0;
    int64_t hedge_at = 0;
    attempt *winner = NULL;
    for (;;) {
        /* launch when nothing runs, or when the one running is past its hedge delay */
        while (next < nc && !atomic_load(&r->stopping) &&
               (active == 0 || (hedging && hedge_at && md_mono_ms() >= hedge_at))) {
            entry *e = cand[next++];
            int skip_rc = 0;
            md_error why;
            md_error_clear(&why);
            if (!launch(r, e, spelled[next - 1], cls, &skip_rc, &why)) {
                note(t, e, skip_rc, &why);
                continue;
            }
            attempt *a = r->a[r->n - 1];
            active++;
            hedge_at = hedging ? md_mono_ms() + a->hedge_ms : 0;
            if (active > 1) MD_DEBUG("sources", "hedge symbol=%s source=%s", r->symbol, e->name);
            break;
        }
        if (atomic_load(&r->stopping)) { /* shutdown: what runs is cancelled below */
            t->stopped = 1;
            break;
        }
        if (active == 0) break;
        int64_t until = deadline_ms;
        if (next < nc && hedge_at && (!until || hedge_at < until)) until = hedge_at;
        attempt *a = wait_any(r, until);
        if (!a) {
            if (atomic_load(&r->stopping)) {
                t->stopped = 1;
                break;
            }
            if (deadline_ms && md_mono_ms() >= deadline_ms) {
                t->timed_out = 1;
                break;
            }
            continue; /* the hedge delay passed: the loop launches the next */
        }
        active--;
        if (a->rc == 0 && (f->kind == K_QUOTE || a->bars.n > 0)) {
            winner = a;
            break;
        }
        if (a->rc == 0) { /* an empty range: the next source may have it */
            t->empty++;
            add_reason(&t->why, a->e->name, "no bars in the range");
            hedge_at = 0;
            continue;
        }
        int eff = a->rc == SKIPPED ? a->skip_rc : a->rc;
        note(t, a->e, eff, &a->err);
        if (eff == MD_ETIMEOUT && deadline_ms && md_mono_ms() >= deadline_ms) {
            /* the call stopped at the request's deadline a moment before this wait did: the
             * budget ran out, whatever the other sources said (one that does not know the
             * symbol does not make it unknown while another was still to answer) */
            t->timed_out = 1;
            break;
        }
        hedge_at = 0; /* the next one is launched at once */
    }
    /* every other call is cancelled: its transfer aborts, its thread is free again */
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        if (!winner && t->timed_out && !r->a[i]->done) /* each source asked is named */
            add_reason(&t->why, r->a[i]->e->name, "no answer within %" PRId64 " ms (%s)",
                       md_mono_ms() - r->a[i]->launched_ms, "the request's time budget");
        if (r->a[i] == winner || r->a[i]->done) continue;
        atomic_store(&r->a[i]->cancel_why, winner ? CANCEL_LOST : CANCEL_DEADLINE);
        md_cancel_request(&r->a[i]->cancel);
    }
    pthread_mutex_unlock(&r->lock);

    int rc = 0;
    if (winner) {
        entry *e = winner->e;
        if (f->kind == K_QUOTE) {
            *q = winner->q;
            if (q->source == MD_SRC_UNKNOWN) q->source = (uint8_t)e->id;
            snprintf(q->symbol, sizeof q->symbol, "%s", f->symbol);
        } else {
            for (size_t k = 0; k < winner->bars.n; k++) {
                md_bar b = winner->bars.v[k];
                if (b.source == MD_SRC_UNKNOWN) b.source = (uint8_t)e->id;
                md_bar_vec_push(bars, &b);
            }
        }
        res->source = e->id;
    } else if (t->empty) {
        res->source = MD_SRC_UNKNOWN; /* every source that answered had no bars */
    } else if (t->stopped) { /* not the sources' fault: a backfill chunk runs again later */
        rc = md_error_set(err, MD_ECANCELED, "the agent is shutting down");
    } else if (t->timed_out) {
        rc = md_error_set(err, MD_ETIMEOUT, "no source answered for %s in time (%s)", what,
                          t->why.n ? reasons_text(&t->why, ROOM) : "no answer yet");
    } else if (only >= 0) {
        if (t->unsupported)
            rc = md_error_set(err, MD_EINTERVAL, "%s does not offer %s bars", md_source_name(only),
                              md_interval_name(f->iv));
        else if (t->not_offered)
            rc = md_error_set(err, MD_EPARAM, "%s", t->last.msg);
        else
            rc = md_error_set(err, t->last_rc ? t->last_rc : MD_ENOSOURCE, "%s", t->last.msg);
    } else if (t->tried_enabled == 0) {
        rc = md_error_set(err, MD_ENOSOURCE, "no source is enabled");
    } else if (t->considered == 0 && t->unsupported && !t->not_offered) {
        rc = md_error_set(err, MD_EINTERVAL, "no source offers %s bars", md_interval_name(f->iv));
    } else if (t->considered == 0) {
        rc =
            md_error_set(err, MD_ENOTFOUND, "no configured source offers %s %s (%s)",
                         md_asset_class_name(r->cls.asset), r->symbol, reasons_text(&t->why, ROOM));
    } else if (t->not_found) {
        rc = md_error_set(err, MD_ENOTFOUND, "no source has %s (%s)", what,
                          reasons_text(&t->why, ROOM));
    } else if (t->interval_refused) {
        rc = md_error_set(err, MD_EINTERVAL, "%s (%s)", "the interval was refused",
                          reasons_text(&t->why, ROOM));
    } else if (t->rate_limited == t->considered) {
        rc = md_error_set(err, MD_ERATELIMIT, "every source is rate limited for %s (%s)", what,
                          reasons_text(&t->why, ROOM));
    } else if (deadline_ms && md_mono_ms() >= deadline_ms) {
        /* the sources were not broken: the budget ran out (a later symbol of /prices) */
        rc = md_error_set(err, MD_ETIMEOUT, "no source answered for %s in time (%s)", what,
                          reasons_text(&t->why, ROOM));
    } else {
        rc = md_error_set(err, MD_ENOSOURCE, "no healthy source for %s (%s)", what,
                          reasons_text(&t->why, ROOM));
    }
    pthread_mutex_lock(&m->lock);
    for (race **p = &m->live; *p; p = &(*p)->next_live) {
        if (*p == r) {
            *p = r->next_live;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    race_unref(r);
    md_free(t);
    return rc;
}

void md_srcmgr_cancel_all(md_srcmgr *m)
{
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    for (race *r = m->live; r; r = r->next_live) {
        pthread_mutex_lock(&r->lock);
        atomic_store(&r->stopping, 1);
        for (int i = 0; i < r->n; i++) {
            if (r->a[i]->done) continue;
            atomic_store(&r->a[i]->cancel_why, CANCEL_DEADLINE);
            md_cancel_request(&r->a[i]->cancel);
        }
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&m->lock);
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

/* The fetch's deadline (md_mono_ms): the earlier of the thread's (the request's) and
 * sources.deadline_ms from now; 0 when none applies. */
static int64_t deadline_of(md_srcmgr *m, const fetch *f)
{
    (void)f;
    int64_t d = tls_deadline_ms;
    if (m->o.deadline_ms > 0) {
        int64_t own = md_mono_ms() + m->o.deadline_ms;
        if (!d || own < d) d = own;
    }
    return d;
}

static int coalesced(md_srcmgr *m, const fetch *f, md_quote *q, md_bar_vec *bars,
                     md_fetch_result *res, md_error *err)
{
    char key[112];
    fetch_key(f, key, sizeof key);
    int64_t deadline = deadline_of(m, f);
    pthread_mutex_lock(&m->lock);
    for (inflight *x = m->flying; x; x = x->next) {
        if (strcmp(x->key, key) != 0) continue;
        x->waiters++;
        int timed_out = 0;
        while (!x->done && !timed_out) {
            if (!deadline) {
                pthread_cond_wait(&x->cv, &m->lock);
                continue;
            }
            int64_t left = deadline - md_mono_ms();
            if (left <= 0) {
                timed_out = 1;
                break;
            }
            wait_ms(&x->cv, &m->lock, left);
        }
        int rc;
        if (timed_out) {
            rc = md_error_set(err, MD_ETIMEOUT,
                              "no source answered in time (joined a fetch in flight)");
        } else {
            rc = x->rc;
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
        }
        int last = --x->waiters == 0 && x->done;
        pthread_mutex_unlock(&m->lock);
        if (last) inflight_free(x);
        return rc;
    }
    inflight *me = md_calloc(1, sizeof *me);
    snprintf(me->key, sizeof me->key, "%s", key);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&me->cv, &ca);
    pthread_condattr_destroy(&ca);
    md_bar_vec_init(&me->bars);
    me->next = m->flying;
    m->flying = me;
    pthread_mutex_unlock(&m->lock);

    size_t n0 = f->kind == K_BARS ? bars->n : 0; /* a bars fetch always has bars */
    md_error e;
    md_error_clear(&e);
    int rc = run(m, f, deadline, q, bars, res, &e);
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
    out->circuit = worst_circuit(e, now);
    for (int c = 0; c < MD_EP_COUNT; c++) out->circuits[c] = md_circuit_state_at(&e->circ[c], now);
    out->health = md_health_score(&e->health, m->o.health_latency_ms);
    out->requests = e->requests;
    out->failures = e->failures;
    out->rl_remaining = md_ratelimit_remaining(&e->rl, now_wall, &out->rl_reset_ms);
    out->per_second = e->rl.per_second;
    out->per_minute = e->rl.per_minute;
    out->per_day = e->rl.per_day;
    for (int c = 0; c < MD_EP_COUNT; c++)
        out->cls[c] = (md_rate_limit){e->cls_rl[c].per_minute, e->cls_rl[c].per_day};
    snprintf(out->last_error, sizeof out->last_error, "%s", e->last_error);
    out->last_error_at = e->last_error_at;
    out->last_success = e->last_success;
    out->in_flight = e->running;
    out->queued = e->busy - e->running;
    md_quota_ask a;
    int shared =
        m->quota.remaining && e->src && (e->rl.per_minute || e->rl.per_day || e->rl.per_second);
    if (shared) fill_ask(e, MD_EP_QUOTE, 1, 0, now_wall, &a);
    pthread_mutex_unlock(&e->lock);
    if (shared) { /* what every agent together has left */
        int left;
        int64_t reset;
        if (m->quota.remaining(m->quota.ctx, &a, &left, &reset) >= 0) {
            out->shared = 1;
            if (left >= 0 && (out->rl_remaining < 0 || left < out->rl_remaining)) {
                out->rl_remaining = left;
                if (reset > out->rl_reset_ms) out->rl_reset_ms = reset;
            }
        }
    }
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

/* -- corporate actions (reference data) ------------------------------------------------------
 * One entry point of its own beside quote/bars: the same circuit, budgets (the provider's and
 * its reference class's), time budget (the request's, or sources.deadline_ms: a provider
 * that hangs costs an adjusted /historical no more than its deadline) and bookkeeping, no
 * coalescing (actions are asked rarely: once a day per symbol at most), no retry of a
 * transient error (the read path asks again later). */

int md_srcmgr_actions(md_srcmgr *m, const char *symbol, int64_t start, int64_t end,
                      const md_fetch_opts *fo, md_action_vec *out, md_source_ref *ref,
                      md_fetch_result *res, md_error *err)
{
    if (!fo) fo = &default_fo;
    memset(res, 0, sizeof *res);
    reasons why;
    memset(&why, 0, sizeof why);
    int considered = 0, last_rc = MD_ENOSOURCE;
    /* an answer whose plan refused the dividends (its splits alone): the sources after it
     * are asked for the dividends, and the first that has them adds them */
    int answered = 0;
    md_source_ref first;
    memset(&first, 0, sizeof first);
    int64_t deadline = deadline_of(m, NULL);
    for (size_t i = 0; i < m->n; i++) {
        entry *e = m->e[i];
        if (fo->source >= 0 ? e->id != fo->source || !e->src : !usable(e)) continue;
        if (!e->src->vt->actions) continue;
        considered++;
        if (deadline > 0 && md_mono_ms() >= deadline) {
            if (answered) break; /* the first answer stands, without the dividends */
            add_reason(&why, e->name, "no time left");
            last_rc = MD_ETIMEOUT;
            break;
        }
        md_ratelimit *const budgets[] = {&e->rl, &e->cls_rl[MD_EP_REFERENCE]};
        pthread_mutex_lock(&e->lock);
        int64_t now = mono(m), now_wall = wall(m), retry_in = 0;
        int allowed = md_circuit_allow(&e->circ[MD_EP_REFERENCE], now);
        if (allowed &&
            !md_ratelimit_acquire_all(budgets, 2, now_wall,
                                      fo->background ? m->o.background_reserve : 0, &retry_in)) {
            md_circuit_cancel(&e->circ[MD_EP_REFERENCE]);
            allowed = 0;
            last_rc = MD_ERATELIMIT;
        }
        pthread_mutex_unlock(&e->lock);
        if (!allowed) {
            add_reason(&why, e->name, "%s",
                       last_rc == MD_ERATELIMIT ? "rate limited" : "circuit open");
            continue;
        }
        md_fetch_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.retry_after_s = -1;
        meta.granted = 1;
        meta.deadline_ms = deadline;
        md_error cerr;
        md_error_clear(&cerr);
        size_t n0 = out->n;
        md_source_ref r;
        memset(&r, 0, sizeof r);
        int64_t t0 = mono(m);
        int rc = e->src->vt->actions(e->src, symbol, start, end, out, &r, &meta, &cerr);
        if (rc > 0) rc = 0;
        if (rc < 0 && cerr.rc == 0) md_error_set(&cerr, rc, "%s", md_error_default(rc));
        if (meta.requests < 1) meta.requests = 1;
        record(m, e, MD_EP_REFERENCE, rc, &meta, mono(m) - t0, 0, &cerr);
        if (rc == 0 && answered) { /* asked for the dividends the first answer lacked */
            size_t kept = n0;
            for (size_t k = n0; k < out->n && !r.dividends_refused; k++)
                if (out->v[k].type == MD_ACT_DIVIDEND) {
                    out->v[k].source = (uint8_t)e->id;
                    out->v[kept++] = out->v[k];
                }
            out->n = kept;
            if (r.dividends_refused) continue;
            MD_INFO("sources", "dividends from the next source symbol=%s source=%s dividends=%zu",
                    symbol, e->name, kept - n0);
            first.dividends_refused = 0;
            break;
        }
        if (rc == 0) {
            for (size_t k = n0; k < out->n; k++) out->v[k].source = (uint8_t)e->id;
            first = r;
            res->source = e->id;
            answered = 1;
            if (r.dividends_refused && fo->source < 0) continue;
            break;
        }
        out->n = n0;
        if (answered) continue; /* the first answer stands */
        last_rc = rc;
        add_reason(&why, e->name, "%s", cerr.msg);
        if (fo->source >= 0) return md_error_set(err, rc, "%s", cerr.msg);
    }
    if (answered) {
        if (ref) *ref = first;
        return 0;
    }
    if (!considered)
        return md_error_set(err, MD_ENOSOURCE, "no enabled source reports corporate actions");
    return md_error_set(err, last_rc, "no source answered %s actions (%s)", symbol,
                        reasons_text(&why, ROOM));
}
