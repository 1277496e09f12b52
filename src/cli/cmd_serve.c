/* cmd_serve.c - `mdagent serve`: build the services (query/services.h), start the server and
 * what runs on its own, wait for a signal, then stop everything in the order services.h
 * gives. */
#include "cli/cli.h"

#include "core/log.h"
#include "pipeline/pipeline.h"
#include "server/server.h"
#include "sources/manager.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

enum { O_PRINT_CONFIG, O_N };
const md_cli_opt md_cmd_serve_opts[] = {
    {"--print-config", NULL, "print the effective configuration and exit"}, {NULL, NULL, NULL}};

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
    const char *vals[O_N];
    const char *pos[1];
    int npos = md_cli_parse(argc, argv, md_cmd_serve_opts, vals, &cfg, pos, 0);
    if (npos < 0 || md_cli_finish_config(&cfg) != 0) {
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (vals[O_PRINT_CONFIG]) {
        md_config_print(&cfg, stdout);
        md_config_deinit(&cfg);
        return MD_EXIT_OK;
    }

    md_services_options so = {.cfg = &cfg,
                              .store_manage = 1,
                              .writer = 1,
                              .workers = 1,
                              .cache = 1,
                              .quality_gauge = 1,
                              .stream = 1,
                              .sources = 1,
                              .feeds = 1,
                              .backfill = MD_SVC_BACKFILL_JOBS};
    md_services svc;
    md_error err;
    if (md_pipeline_check(&cfg, &err) != 0) { /* a bad job before a missing store */
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (md_services_open(&svc, &so, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_config_deinit(&cfg);
        return err.rc == MD_ECONFIG ? MD_EXIT_USAGE : MD_EXIT_FAIL;
    }
    md_pipeline *pl = NULL; /* live indicators and screens (pipeline/pipeline.h) */
    if (md_pipeline_new(&svc, &pl, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_services_close(&svc);
        md_config_deinit(&cfg);
        return err.rc == MD_ECONFIG ? MD_EXIT_USAGE : MD_EXIT_FAIL;
    }
    svc.pipeline = pl;
    md_server *srv = NULL;
    if (md_server_start(&svc, &srv, &err) != 0 || md_services_start(&svc, &err) != 0 ||
        md_pipeline_start(pl, &err) != 0 ||
        md_services_announce(&svc, md_server_addr(srv), &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_services_stop(&svc);
        md_pipeline_stop(pl);
        if (srv) md_server_shutdown(srv, 0);
        md_services_quiesce(&svc);
        md_server_free(srv);
        md_pipeline_free(pl);
        md_services_close(&svc);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    fprintf(stderr, "mdagent: serving http://%s (store %s, %zu sources enabled)\n",
            md_server_addr(srv), md_store_url_redacted(svc.store),
            svc.sources ? md_srcmgr_enabled(svc.sources) : 0);

    int sig = 0;
    sigwait(&set, &sig);
    MD_INFO("server", "shutting down signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    md_services_stop(&svc); /* feeds and scheduler: no more pushed ticks */
    md_pipeline_stop(pl);   /* screens; live work finished (before the live bars go) */
    md_server_shutdown(srv, (int)cfg.shutdown_grace_ms);
    md_services_quiesce(&svc); /* workers, backfill, relay, live bars */
    md_server_free(srv);
    md_pipeline_free(pl); /* after the sessions, which released their channels */
    md_services_close(&svc);
    md_config_deinit(&cfg);
    MD_INFO("server", "stopped");
    return MD_EXIT_OK;
}
