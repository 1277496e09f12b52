/* services_cluster.c - the agents of one deployment, seen from any of them (GET /cluster,
 * the dashboard's agents panel).
 *
 * Each agent `serve` runs announces itself on the deployment's Redis (redis.url, under the
 * namespace of md_services__redis_namespace, so two deployments on one server never see each
 * other) every cluster.heartbeat_ms, from a thread of its own:
 *
 *   <ns>:agents        set of agent ids
 *   <ns>:agent:<id>    the agent's record (JSON below), expiring after cluster.ttl_ms
 *
 *   starting --md_services_start--> ready --SIGTERM (md_services_stop)--> draining
 *      (announced at once, so a reader sees it turn)          --drained--> record and id removed
 *   any state --killed-->  the record is no longer renewed and expires after cluster.ttl_ms
 *
 * A reader lists the set and reads the records; an id whose record expired is skipped and
 * removed from the set. The record carries the agent's own figures, taken where the agent
 * keeps them (the metrics registry, its worker queues), so every agent's row means the same:
 *   {"id","url","state","version","pid","started","seen","health","requests","request_rate",
 *    "stream_clients","queue_depth"}
 * request_rate is the requests answered per second over the last 10 s (the heartbeats' samples
 * of the request count; since start when younger), so one slow reader still sees it. Without
 * Redis (or while it is unreachable) the deployment is this agent alone ("shared": false).
 * Every REPORTED_EVERY heartbeats the thread also reads the exchanges providers reported to
 * any agent of the store (a symbol's calendar, services.c), so a report reaches the other
 * agents while they run.
 * What it does not do: route requests, elect anything, or decide who runs what (leases do). */
#include "query/services_int.h"

#include "cache/cache.h"
#include "cache/redis.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "core/waiter.h"
#include "core/workq.h"
#include "sources/manager.h"
#include "stream/hub.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { RATE_WINDOW_MS = 10000, RATE_N = 64 };
/* heartbeats between two reads of the exchanges providers reported to any agent of the store
 * (a symbol's calendar: services.c md_services__note_reported_exchanges) */
enum { REPORTED_EVERY = 10 };

struct md_svc_cluster {
    md_services *svc;
    md_redis *redis; /* NULL: this agent alone */
    char set_key[256];
    char rec_prefix[256]; /* "<ns>:agent:" */
    char id[200];
    char url[300];
    int64_t started_s;
    atomic_int draining;
    md_waiter wake;
    pthread_t thread;
    int has_thread;
    pthread_mutex_t lock; /* guards record (the last one built) */
    md_buf record;
    /* the heartbeat thread's last samples of the request count (a ring of RATE_N), for a
     * rate over RATE_WINDOW_MS */
    int64_t sample_ms[RATE_N];
    double sample_requests[RATE_N];
    int n_samples, next_sample, keep_samples;
};

/* -- this agent's record ---------------------------------------------------------------------- */

/* 1 when the last run of one of the store's background jobs (TimescaleDB policies) failed. */
static int jobs_failing(md_services *svc)
{
    md_store_job *jobs = NULL;
    md_error e;
    int n = md_store_jobs(svc->store, &jobs, &e), failing = 0;
    for (int i = 0; i < n; i++) failing |= jobs[i].last_failed;
    md_free(jobs);
    return failing;
}

/* ok, degraded (a part it depends on is failing: Redis, every source, the stream relay, a
 * store job) or down (the store does not answer): the same reading as GET /health's status. */
static const char *health_of(md_services *svc)
{
    md_error e;
    if (md_store_ping(svc->store, &e) != 0) return "down";
    if (jobs_failing(svc)) return "degraded";
    if (svc->cache && strcmp(md_cache_status(svc->cache), "degraded") == 0) return "degraded";
    if (svc->hub && md_hub_degraded(svc->hub)) return "degraded";
    if (svc->sources) {
        size_t on = 0, open = 0;
        for (size_t i = 0; i < md_srcmgr_count(svc->sources); i++) {
            md_srcmgr_info in;
            if (md_srcmgr_info_at(svc->sources, i, &in) != 0 || !in.enabled) continue;
            on++;
            open += in.circuit == MD_CIRCUIT_OPEN;
        }
        if (on > 0 && open == on) return "degraded";
    }
    return "ok";
}

static const char *state_of(md_svc_cluster *c)
{
    if (atomic_load(&c->draining)) return "draining";
    return c->svc->ready ? "ready" : "starting";
}

/* Builds the record of now into c->record (heartbeat thread, or the announce call before the
 * thread runs). */
static void build_record(md_svc_cluster *c)
{
    md_services *svc = c->svc;
    int64_t now_ms = md_mono_ms();
    double requests = md_metric_sum(MD_M_HTTP_REQUESTS);
    double rate = 0;
    if (c->n_samples) { /* the oldest sample kept: about RATE_WINDOW_MS ago */
        int oldest = c->n_samples < c->keep_samples ? 0 : c->next_sample;
        int64_t dt = now_ms - c->sample_ms[oldest];
        if (dt > 0) rate = (requests - c->sample_requests[oldest]) * 1000.0 / (double)dt;
    }
    c->sample_ms[c->next_sample] = now_ms;
    c->sample_requests[c->next_sample] = requests;
    c->next_sample = (c->next_sample + 1) % c->keep_samples;
    if (c->n_samples < c->keep_samples) c->n_samples++;
    size_t queued = 0;
    if (svc->workers) queued += md_workq_pending(svc->workers);
    if (svc->fetchers) queued += md_workq_pending(svc->fetchers);

    md_buf b = MD_BUF_INIT;
    md_buf_puts(&b, "{\"id\":");
    md_buf_json_str(&b, c->id);
    md_json_str(&b, "url", c->url);
    md_json_str(&b, "state", state_of(c));
    md_json_str(&b, "version", MD_VERSION);
    md_json_int(&b, "pid", (int64_t)getpid());
    md_json_ts(&b, "started", c->started_s);
    md_json_ts(&b, "seen", md_now());
    md_json_str(&b, "health", health_of(svc));
    md_json_int(&b, "requests", (int64_t)requests);
    md_json_num(&b, "request_rate", (double)(int64_t)(rate * 100) / 100);
    md_json_int(&b, "stream_clients", (int64_t)md_metric_get(MD_M_STREAM_CLIENTS));
    md_json_int(&b, "queue_depth", (int64_t)queued);
    md_buf_putc(&b, '}');
    pthread_mutex_lock(&c->lock);
    md_buf_deinit(&c->record);
    c->record = b;
    pthread_mutex_unlock(&c->lock);
}

/* -- Redis ------------------------------------------------------------------------------------ */

static void rec_key(const md_svc_cluster *c, const char *id, char *dst, size_t n)
{
    snprintf(dst, n, "%s%s", c->rec_prefix, id);
}

static void free_replies(redisReply **r, int n)
{
    for (int i = 0; i < n; i++)
        if (r[i]) freeReplyObject(r[i]);
}

/* SET the record with its TTL and add the id to the set (which itself outlives a day
 * without any agent only if one comes back). */
static void announce(md_svc_cluster *c)
{
    char key[512], ttl[24];
    rec_key(c, c->id, key, sizeof key);
    snprintf(ttl, sizeof ttl, "%lld", (long long)c->svc->cfg->cluster_ttl_ms);
    pthread_mutex_lock(&c->lock);
    md_buf rec = MD_BUF_INIT;
    md_buf_append(&rec, c->record.data, c->record.len);
    pthread_mutex_unlock(&c->lock);
    const char *set[] = {"SET", key, rec.data, "PX", ttl};
    size_t set_l[] = {3, strlen(key), rec.len, 2, strlen(ttl)};
    const char *add[] = {"SADD", c->set_key, c->id};
    size_t add_l[] = {4, strlen(c->set_key), strlen(c->id)};
    const char *exp[] = {"PEXPIRE", c->set_key, "86400000"};
    size_t exp_l[] = {7, strlen(c->set_key), 8};
    const int argc[] = {5, 3, 3};
    const char **const argv[] = {set, add, exp};
    const size_t *const lens[] = {set_l, add_l, exp_l};
    redisReply *rep[3] = {0};
    int rc = md_redis_exec(c->redis, 3, argc, argv, lens, rep);
    if (rc) MD_DEBUG("cluster", "announce failed rc=%d", rc);
    free_replies(rep, 3);
    md_buf_deinit(&rec);
}

static void goodbye(md_svc_cluster *c)
{
    char key[512];
    rec_key(c, c->id, key, sizeof key);
    const char *del[] = {"DEL", key};
    size_t del_l[] = {3, strlen(key)};
    const char *rem[] = {"SREM", c->set_key, c->id};
    size_t rem_l[] = {4, strlen(c->set_key), strlen(c->id)};
    const int argc[] = {2, 3};
    const char **const argv[] = {del, rem};
    const size_t *const lens[] = {del_l, rem_l};
    redisReply *rep[2] = {0};
    if (md_redis_exec(c->redis, 2, argc, argv, lens, rep) != 0)
        MD_WARN("cluster", "could not remove this agent's record: it expires in %lld ms",
                (long long)c->svc->cfg->cluster_ttl_ms);
    free_replies(rep, 2);
}

static void *heartbeat(void *arg)
{
    md_svc_cluster *c = arg;
    int64_t period = c->svc->cfg->cluster_heartbeat_ms;
    for (unsigned beat = 1;; beat++) {
        build_record(c);
        if (c->redis) announce(c);
        if (beat % REPORTED_EVERY == 0) md_services__note_reported_exchanges(c->svc, 1);
        if (md_waiter_wait_until(&c->wake, md_mono_ms() + period)) break;
    }
    return NULL;
}

/* -- life cycle ------------------------------------------------------------------------------- */

/* HOST:PORT of a listening address; the host name instead of a wildcard host. */
static void public_addr(const char *listen, char *dst, size_t n)
{
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : "";
    size_t hl = colon ? (size_t)(colon - listen) : strlen(listen);
    char host[180]; /* a host name is at most 64 (HOST_NAME_MAX), a literal address 45 */
    snprintf(host, sizeof host, "%.*s", (int)hl, listen);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0 ||
        strcmp(host, "::") == 0) {
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = 0;
    }
    snprintf(dst, n, "%s:%.7s", host, port);
}

int md_services__cluster_open(md_services *svc, const char *listen_addr, md_svc_cluster **out,
                              md_error *err)
{
    const md_config *cfg = svc->cfg;
    md_svc_cluster *c = md_calloc(1, sizeof *c);
    c->svc = svc;
    c->started_s = md_now() - (md_mono_ms() - svc->started_ms) / 1000;
    int64_t per_window = RATE_WINDOW_MS / cfg->cluster_heartbeat_ms;
    c->keep_samples = per_window < 1 ? 1 : per_window >= RATE_N ? RATE_N : (int)per_window;
    char addr[190]; /* HOST:PORT; fits c->id and "http://" + it c->url */
    public_addr(listen_addr ? listen_addr : "", addr, sizeof addr);
    snprintf(c->id, sizeof c->id, "%s",
             cfg->cluster_id && *cfg->cluster_id ? cfg->cluster_id : addr);
    if (cfg->cluster_url && *cfg->cluster_url)
        snprintf(c->url, sizeof c->url, "%s", cfg->cluster_url);
    else
        snprintf(c->url, sizeof c->url, "http://%s", addr);
    char ns[200];
    md_services__redis_namespace(cfg, ns, sizeof ns);
    snprintf(c->set_key, sizeof c->set_key, "%s:agents", ns);
    snprintf(c->rec_prefix, sizeof c->rec_prefix, "%s:agent:", ns);
    pthread_mutex_init(&c->lock, NULL);
    md_buf_init(&c->record);
    md_waiter_init(&c->wake, NULL);
    int rc = md_services__redis_open(cfg, "cluster", &c->redis, err);
    if (rc) {
        md_services__cluster_close(c);
        return rc;
    }
    build_record(c); /* readable at once, before the first heartbeat */
    c->has_thread = pthread_create(&c->thread, NULL, heartbeat, c) == 0;
    md_assert(c->has_thread, "cluster: cannot start the heartbeat thread");
    MD_INFO("cluster", "announced id=%s url=%s redis=%s", c->id, c->url,
            c->redis ? md_redis_safe_url(c->redis) : "none");
    *out = c;
    return 0;
}

void md_services__cluster_drain(md_svc_cluster *c)
{
    if (!c || atomic_exchange(&c->draining, 1)) return;
    md_waiter_notify(&c->wake); /* say it now: a load balancer or a reader sees it turn */
}

void md_services__cluster_stop(md_svc_cluster *c)
{
    if (!c || !c->has_thread) return;
    md_waiter_stop(&c->wake);
    pthread_join(c->thread, NULL);
    c->has_thread = 0;
    if (c->redis) goodbye(c);
}

void md_services__cluster_close(md_svc_cluster *c)
{
    if (!c) return;
    md_services__cluster_stop(c);
    md_redis_free(c->redis);
    md_waiter_deinit(&c->wake);
    md_buf_deinit(&c->record);
    pthread_mutex_destroy(&c->lock);
    md_free(c);
}

/* -- the listing ------------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A record read back is spliced into the answer as it is: only a JSON object with a string
 * "id" is taken (anything else on the key is not ours). */
static int record_ok(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, 0, NULL);
    int ok = json_is_object(j) && json_is_string(json_object_get(j, "id"));
    json_decref(j);
    return ok;
}

/* Appends the records of every agent in the set, sorted by id, to b ("," between them);
 * ids whose record expired are removed from the set. 0 or the Redis error. */
static int list_shared(md_svc_cluster *c, md_buf *b, int *count)
{
    redisReply *members = NULL;
    const char *smem[] = {"SMEMBERS", c->set_key};
    size_t smem_l[] = {8, strlen(c->set_key)};
    int rc = md_redis_command(c->redis, &members, 2, smem, smem_l);
    if (rc) return rc;
    if (members->type != REDIS_REPLY_ARRAY || members->elements == 0) {
        rc = members->type == REDIS_REPLY_ARRAY ? 0 : MD_EIO;
        freeReplyObject(members);
        return rc;
    }
    size_t n = members->elements;
    const char **ids = md_calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = members->element[i]->str ? members->element[i]->str : "";
    qsort(ids, n, sizeof *ids, cmp_str);
    const char **mget = md_calloc(n + 1, sizeof *mget);
    size_t *mget_l = md_calloc(n + 1, sizeof *mget_l);
    char(*keys)[512] = md_calloc(n, sizeof *keys);
    mget[0] = "MGET";
    mget_l[0] = 4;
    for (size_t i = 0; i < n; i++) {
        rec_key(c, ids[i], keys[i], sizeof keys[i]);
        mget[i + 1] = keys[i];
        mget_l[i + 1] = strlen(keys[i]);
    }
    redisReply *recs = NULL;
    rc = md_redis_command(c->redis, &recs, (int)n + 1, mget, mget_l);
    if (rc == 0 && (recs->type != REDIS_REPLY_ARRAY || recs->elements != n)) rc = MD_EIO;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        redisReply *r = recs->element[i];
        if (r->type == REDIS_REPLY_STRING && record_ok(r->str, r->len)) {
            if ((*count)++) md_buf_putc(b, ',');
            md_buf_append(b, r->str, r->len);
            continue;
        }
        if (r->type != REDIS_REPLY_NIL) continue;
        redisReply *gone = NULL; /* expired: the agent died without a goodbye */
        const char *srem[] = {"SREM", c->set_key, ids[i]};
        size_t srem_l[] = {4, strlen(c->set_key), strlen(ids[i])};
        if (md_redis_command(c->redis, &gone, 3, srem, srem_l) == 0) freeReplyObject(gone);
    }
    if (recs) freeReplyObject(recs);
    md_free(keys);
    md_free(mget_l);
    md_free(mget);
    md_free(ids);
    freeReplyObject(members);
    return rc;
}

int md_services_cluster_render(md_services *svc, md_buf *b, md_error *err)
{
    md_svc_cluster *c = md_services__cluster(svc);
    md_buf_puts(b, "{\"self\":");
    if (c)
        md_buf_json_str(b, c->id);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"agents\":[");
    size_t start = b->len;
    int count = 0, rc = c && c->redis ? list_shared(c, b, &count) : MD_EUNAVAIL;
    if (rc) { /* this agent alone */
        b->len = start;
        count = 0;
        if (c) {
            pthread_mutex_lock(&c->lock);
            md_buf_append(b, c->record.data, c->record.len);
            pthread_mutex_unlock(&c->lock);
            count = 1;
        }
    }
    md_buf_puts(b, "]");
    md_json_bool(b, "shared", rc == 0);
    if (c && c->redis && rc) md_json_str(b, "error", "redis unavailable: this agent alone");
    md_json_int(b, "count", count);
    md_buf_putc(b, '}');
    return 0;
}
