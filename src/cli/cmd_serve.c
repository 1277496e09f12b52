/* cmd_serve.c - `mdagent serve`: open the store, build the source manager, start the
 * server, the offline feeds and the watchlist scheduler, wait for a signal. */
#include "cli/cli.h"

#include "cache/cache.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/workq.h"
#include "ingest/backfill.h"
#include "ingest/writer.h"
#include "query/quality.h"
#include "query/query.h"
#include "server/server.h"
#include "sources/manager.h"
#include "store/store.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void on_bars_quality(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                            const md_bar *bars, size_t n)
{
    md_quality_gauge_touch(ctx, symbol);
}

/* Backfill job leases through the cache's Redis (md_backfill_lease). */
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

int md_cmd_serve(int argc, char **argv)
{
    /* Signals are taken by sigwait() below; every thread started from here inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    const char *print_config = NULL;
    md_cli_opt opts[] = {{"--print-config", 0, &print_config}, {NULL, 0, NULL}};
    const char *pos[1];
    int npos = md_cli_parse(argc, argv, opts, &cfg, pos, 0);
    if (npos < 0 || md_cli_finish_config(&cfg) != 0) {
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (print_config) {
        md_config_print(&cfg, stdout);
        md_config_deinit(&cfg);
        return MD_EXIT_OK;
    }

    md_error err;
    md_store_options so;
    md_store *st = NULL;
    if (md_store_options_from_config(&so, &cfg, &err) != 0 ||
        md_store_open(cfg.db, &so, &st, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    md_services svc;
    memset(&svc, 0, sizeof svc);
    svc.cfg = &cfg;
    svc.store = st;
    svc.writer = md_writer_new(st);
    md_quality_params qp;
    md_quality_params_from_config(&qp, &cfg);
    md_writer_set_quality(svc.writer, &qp);
    svc.workers = md_workq_new((int)cfg.server_workers, "worker");
    svc.started_ms = md_mono_ms();
    if (cfg.cache_enabled) {
        md_cache_options co;
        md_cache_options_from_config(&co, &cfg);
        if (md_cache_new(&co, &svc.cache, &err) != 0) {
            fprintf(stderr, "mdagent: %s\n", err.msg);
            md_workq_free(svc.workers);
            md_writer_free(svc.writer);
            md_store_close(st);
            md_config_deinit(&cfg);
            return MD_EXIT_FAIL;
        }
        md_query_cache_attach(&svc);
    } else if (cfg.redis && *cfg.redis) {
        MD_INFO("cache", "cache.enabled is false: redis is not used for caching");
    }
    /* the mdagent_quality_score gauge follows every write */
    svc.quality = md_quality_gauge_new(&svc);
    md_writer_listener ql = {
        .on_bars = on_bars_quality, .ctx = svc.quality, .stage = MD_LISTEN_REFRESH};
    md_writer_add_listener(svc.writer, &ql);

    /* after the cache: its listener invalidates before the hub streams */
    md_cli_stream *cst = NULL;
    md_cli_sources *cs = NULL;
    if (md_cli_stream_open(&svc, &cst, &err) != 0 || md_cli_sources_open(&svc, &cs, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_cli_stream_close(cst);
        md_cache_free(svc.cache);
        md_quality_gauge_stop(svc.quality);
        md_workq_free(svc.workers);
        md_quality_gauge_free(svc.quality);
        md_writer_free(svc.writer);
        md_store_close(st);
        md_config_deinit(&cfg);
        return err.rc == MD_ECONFIG ? MD_EXIT_USAGE : MD_EXIT_FAIL;
    }

    md_server *srv = NULL;
    if (md_server_start(&svc, &srv, &err) != 0 || md_cli_sources_start(cs, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_cli_sources_stop(cs);
        if (srv) {
            md_server_shutdown(srv, 0);
            md_server_free(srv);
        }
        md_quality_gauge_stop(svc.quality);
        md_workq_free(svc.workers);
        md_quality_gauge_free(svc.quality);
        md_cli_sources_close(cs);
        md_cli_stream_close(cst);
        md_cache_free(svc.cache);
        md_writer_free(svc.writer);
        md_store_close(st);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    md_query_cache_warm(&svc);
    if (svc.sources) { /* backfill jobs, and those an earlier run left unfinished */
        md_backfill_opts bo;
        md_backfill_opts_from_config(&bo, &cfg);
        svc.backfill = md_backfill_new(st, svc.writer, svc.sources, &bo);
        if (svc.cache) { /* agents on one Redis run each job on one agent at a time */
            md_backfill_lease l = {lease_claim, lease_renew, lease_release, svc.cache,
                                   cfg.backfill_lease_ms};
            md_backfill_set_lease(svc.backfill, &l);
        }
        int resumed = md_backfill_resume_all(svc.backfill, &err);
        if (resumed < 0) MD_WARN("backfill", "cannot resume jobs: %s", err.msg);
    }
    svc.ready = 1;
    fprintf(stderr, "mdagent: serving http://%s (store %s, %zu sources enabled)\n", cfg.listen,
            md_store_url_redacted(st), svc.sources ? md_srcmgr_enabled(svc.sources) : 0);

    int sig = 0;
    sigwait(&set, &sig);
    MD_INFO("server", "shutting down signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    svc.ready = 0;
    md_cli_sources_stop(cs);            /* no more pushed ticks */
    md_quality_gauge_stop(svc.quality); /* writes from here on schedule no grading */
    md_server_shutdown(srv, (int)cfg.shutdown_grace_ms);
    md_workq_free(svc.workers);
    md_backfill_free(svc.backfill); /* chunks in flight finish; unfinished jobs are saved */
    svc.backfill = NULL;
    md_cli_stream_stop(cst); /* relay and live bars; the hub lives until the server is freed */
    md_quality_gauge_free(svc.quality);
    md_server_free(srv);
    md_cli_sources_close(cs); /* after the workers: they may be inside the manager */
    md_cli_stream_close(cst);
    md_writer_free(svc.writer);
    md_cache_free(svc.cache);
    md_store_close(st);
    md_config_deinit(&cfg);
    MD_INFO("server", "stopped");
    return MD_EXIT_OK;
}
