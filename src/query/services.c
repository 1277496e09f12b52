/* services.c - md_services from the configuration, and its life cycle (services.h has the
 * picture). The parts with files of their own: services_sources.c, services_stream.c. */
#include "query/services_int.h"

#include "cache/cache.h"
#include "calendar/calendar.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "ingest/backfill.h"
#include "query/quality.h"
#include "sources/manager.h"
#include "stream/hub.h"

#include <string.h>
#include <sys/resource.h>

/* Where svc is in its life cycle; every step checks it comes after the one before. */
typedef enum { SVC_OPEN = 1, SVC_STARTED, SVC_STOPPED, SVC_QUIESCED } svc_step;

typedef struct md_services_run md_services_run;
struct md_services_run {
    md_services_options opt;
    svc_step step;
    int started; /* md_services_start ran */
    md_svc_sources *sources;
    md_svc_stream *stream;
    /* md_services_announce, after the server started: a GET /cluster before it reads NULL */
    md_svc_cluster *_Atomic cluster;
};

int md_services_store_options(const md_services_options *o, md_store_options *out, md_error *err)
{
    md_store_options so;
    int rc = md_store_options_from_config(&so, o->cfg, err);
    if (rc) return rc;
    if (o->store_pool_size > 0) so.pool_size = o->store_pool_size;
    so.read_only = o->store_read_only != 0;
    so.manage = o->store_manage && !so.read_only;
    so.must_exist = !o->store_create && !o->cfg->store_create;
    *out = so;
    return 0;
}

/* -- writer listeners ---------------------------------------------------------------------- */

static void on_bars_quality(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                            const md_bar *bars, size_t n)
{
    md_quality_gauge_touch(ctx, symbol);
}

/* The one place listeners are added to the writer, in the order services.h gives (the
 * writer aborts on a REFRESH listener after a PUBLISH one). */
static void attach_listeners(md_services *svc)
{
    if (svc->cache) md_query_cache_attach(svc); /* 1: invalidate and write through */
    if (svc->quality) {                         /* 2: the quality gauge */
        md_writer_listener ql = {
            .on_bars = on_bars_quality, .ctx = svc->quality, .stage = MD_LISTEN_REFRESH};
        md_writer_add_listener(svc->writer, &ql);
    }
    if (svc->hub) md_hub_attach_writer(svc->hub, svc->writer); /* 3: stream, last */
}

/* -- backfill leases through the cache's Redis (md_backfill_lease) ------------------------- */

static int lease_claim(void *cache, const char *name, int64_t ttl_ms)
{
    return md_cache_lease(cache, name, ttl_ms);
}

static int lease_renew(void *cache, const char *name, int64_t ttl_ms)
{
    return md_cache_lease_renew(cache, name, ttl_ms);
}

static void lease_release(void *cache, const char *name)
{
    md_cache_lease_release(cache, name);
}

/* -- life cycle ------------------------------------------------------------------------------ */

/* The read replica (postgresql.read_url): one that cannot be reached now is opened when it
 * can be (store.c); a bad URL or store is left out (logged) and the agent reads from the
 * primary. */
static void open_replica(md_services *svc, const md_store_options *so)
{
    md_error e;
    const md_config *cfg = svc->cfg;
    if (md_store_attach_replica(svc->store, cfg->pg_read_url, so, (int)cfg->pg_read_max_lag_ms,
                                (int)cfg->pg_read_check_ms, &e) != 0)
        MD_WARN("store", "postgresql.read_url: %s; reads go to the primary", e.msg);
}

/* The exchanges providers reported earlier (kept in symbol_refs) are the calendars of their
 * symbols again (calendar/symbols.c); a store without references (a backend that keeps
 * none, an error) leaves the defaults, and the log says why (unless quiet: the heartbeat's
 * periodic read, services_cluster.c). A symbol whose calendar this changes has its cached
 * answers invalidated, here and in every agent: its daily bars built from intraday ones and
 * its quality were drawn on the sessions of the calendar before. */
void md_services__note_reported_exchanges(md_services *svc, int quiet)
{
    md_symbol_ref *refs = NULL;
    md_error e;
    int n = md_store_list_symbol_refs(svc->store, &refs, &e);
    if (n < 0) {
        if (!quiet) MD_INFO("services", "reported exchanges not read: %s", e.msg);
        return;
    }
    for (int i = 0; i < n; i++) {
        int changed = 0;
        if (refs[i].exchange[0]) md_cal_note_reported(refs[i].symbol, refs[i].exchange, &changed);
        if (changed && svc->cache) md_query_cache_symbol_changed(svc, refs[i].symbol);
    }
    md_free(refs);
}

int md_services_open(md_services *out, const md_services_options *o, md_error *err)
{
    const md_config *cfg = o->cfg;
    /* options no caller can mean and steps out of order: programming errors */
    md_assert(cfg != NULL, "services: md_services_open without a configuration");
    md_assert(o->writer ||
                  !(o->cache || o->quality_gauge || o->stream || o->sources || o->backfill),
              "services: cache, quality gauge, stream, sources and backfill need the writer");
    md_assert(o->workers || !o->quality_gauge,
              "services: the quality gauge grades on the worker pool");
    md_assert(o->sources || !(o->feeds || o->backfill),
              "services: feeds and backfill need the sources");

    memset(out, 0, sizeof *out);
    md_services *svc = out;
    svc->cfg = cfg;
    svc->started_ms = md_mono_ms();
    md_services_run *run = md_calloc(1, sizeof *run);
    run->opt = *o;
    run->step = SVC_OPEN;
    svc->run = run;

    md_store_options so;
    int rc = md_services_store_options(o, &so, err);
    if (rc == 0) rc = md_store_open(cfg->db, &so, &svc->store, err);
    if (rc) goto fail;
    md_services__note_reported_exchanges(svc, 0);
    md_cal_map *store_cals; /* daily bars from intraday ones are exchange sessions */
    if ((rc = md_cal_map_new(cfg, &store_cals, err)) != 0) goto fail;
    md_store_set_calendars(svc->store, store_cals);
    if (cfg->pg_read_url && *cfg->pg_read_url) open_replica(svc, &so);
    if (o->writer) {
        svc->writer = md_writer_new(svc->store);
        md_quality_params qp;
        md_quality_params_from_config(&qp, cfg);
        md_writer_set_quality(svc->writer, &qp);
        md_cal_map *cals;
        if ((rc = md_cal_map_new(cfg, &cals, err)) != 0) goto fail;
        md_writer_set_calendars(svc->writer, cals);
    }
    if (o->workers)
        svc->workers =
            md_workq_new_sliced((int)cfg->server_workers, "worker", (unsigned)cfg->server_slice_us);
    if (o->cache && cfg->cache_enabled) {
        md_cache_options co;
        md_cache_options_from_config(&co, cfg);
        if ((rc = md_cache_new(&co, &svc->cache, err)) != 0) goto fail;
    } else if (o->cache && cfg->redis && *cfg->redis) {
        MD_INFO("cache", "cache.enabled is false: redis is not used for caching");
    }
    if (o->quality_gauge) svc->quality = md_quality_gauge_new(svc);
    if (o->stream && (rc = md_services__stream_open(svc, &run->stream, err)) != 0) goto fail;
    if (o->sources && (rc = md_services__sources_open(svc, &run->sources, err)) != 0) goto fail;
    if (o->workers && svc->sources) /* a slow provider never holds up the workers */
        svc->fetchers = md_workq_new((int)cfg->sources_fetch_workers, "fetch");
    if (o->backfill && svc->sources) {
        md_backfill_opts bo;
        md_backfill_opts_from_config(&bo, cfg);
        bo.background = o->backfill == MD_SVC_BACKFILL_JOBS;
        svc->backfill = md_backfill_new(svc->store, svc->writer, svc->sources, &bo);
    }
    if (svc->writer) attach_listeners(svc);
    return 0;
fail:
    md_services_close(svc);
    return rc;
}

int md_services_start(md_services *svc, md_error *err)
{
    md_services_run *run = svc->run;
    md_assert(run && run->step == SVC_OPEN && !run->started,
              "services: md_services_start twice or after stop");
    run->step = SVC_STARTED;
    run->started = 1;
    if (run->opt.feeds) {
        int rc = md_services__sources_start(run->sources, err);
        if (rc) return rc;
    }
    if (svc->backfill && run->opt.backfill == MD_SVC_BACKFILL_JOBS) {
        if (svc->cache) { /* agents on one Redis run each job on one agent at a time */
            md_backfill_lease l = {lease_claim, lease_renew, lease_release, svc->cache,
                                   svc->cfg->backfill_lease_ms};
            md_backfill_set_lease(svc->backfill, &l);
        }
        md_error e;
        if (md_backfill_resume_all(svc->backfill, &e) < 0)
            MD_WARN("backfill", "cannot resume jobs: %s", e.msg);
    }
    if (svc->cache) md_query_cache_warm(svc);
    svc->ready = 1;
    return 0;
}

void md_services_stop(md_services *svc)
{
    md_services_run *run = svc->run;
    if (!run || run->step >= SVC_STOPPED) return;
    run->step = SVC_STOPPED;
    svc->ready = 0;
    md_services__cluster_drain(run->cluster); /* the deployment sees it turn now */
    md_services__sources_stop(run->sources);  /* no more pushed ticks or polls */
    md_quality_gauge_stop(svc->quality);      /* writes from here on schedule no grading */
}

void md_services_quiesce(md_services *svc)
{
    md_services_run *run = svc->run;
    if (!run || run->step >= SVC_QUIESCED) return;
    md_services_stop(svc);
    run->step = SVC_QUIESCED;
    md_services__cluster_stop(run->cluster); /* gone from the deployment; reads the pools */
    md_srcmgr_cancel_all(svc->sources);      /* a hanging provider does not hold the shutdown */
    md_workq_free(svc->workers);             /* pending jobs complete (into the server's loops) */
    svc->workers = NULL;
    md_workq_free(svc->fetchers);
    svc->fetchers = NULL;
    md_backfill_free(svc->backfill); /* chunks in flight finish; unfinished jobs are saved */
    svc->backfill = NULL;
    md_services__stream_stop(run->stream); /* relay and live bars; the hub stays */
}

int md_services_announce(md_services *svc, const char *listen_addr, md_error *err)
{
    md_services_run *run = svc->run;
    md_assert(run && run->step == SVC_STARTED && !run->cluster,
              "services: md_services_announce twice or outside start..stop");
    md_svc_cluster *c = NULL;
    int rc = md_services__cluster_open(svc, listen_addr, &c, err);
    run->cluster = c;
    return rc;
}

md_svc_cluster *md_services__cluster(md_services *svc)
{
    return svc->run ? svc->run->cluster : NULL;
}

struct md_livebar *md_services_livebar(md_services *svc)
{
    return svc->run ? md_services__stream_livebar(svc->run->stream) : NULL;
}

void md_services_close(md_services *svc)
{
    md_services_run *run = svc->run;
    if (run) md_services_quiesce(svc);
    md_quality_gauge_free(svc->quality);
    if (run) {
        md_services__sources_close(run->sources); /* the manager: after the workers */
        md_services__stream_close(run->stream);   /* the hub: after the server's shards */
        md_services__cluster_close(run->cluster);
    }
    md_writer_free(svc->writer);
    md_cache_free(svc->cache); /* after the writer, whose listener used it */
    md_store_close(svc->store);
    md_free(run);
    memset(svc, 0, sizeof *svc);
}

void md_services_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}
