/* cmd_migrate.c - `mdagent migrate --from URL --to URL`: copy a store into another and
 * verify it (store/migrate.h does the work; this file parses, draws progress, reports).
 *
 * Ctrl-C (SIGINT) or SIGTERM stops after the current batch with the checkpoint written; the
 * same command then resumes. Exit status: 0 only when the copy is complete and verified,
 * 1 on a failure, an interruption or a difference, 2 on bad usage. */
#include "cli/cli.h"

#include "core/log.h"
#include "ingest/progress.h"
#include "store/migrate.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct draw_ctx {
    md_progress p;
    int mode;
    int started;
} draw_ctx;

static void draw(void *ctx, const char *phase, uint64_t done, uint64_t total, int final)
{
    draw_ctx *d = ctx;
    if (!d->started || strcmp(d->p.label, phase) != 0) {
        md_progress_start(&d->p, stderr, d->mode, phase, total);
        d->started = 1;
    }
    if (final) {
        md_progress_update(&d->p, done, done);
        md_progress_finish(&d->p);
        d->started = 0;
        return;
    }
    md_progress_update(&d->p, done, done);
}

static int parse_count(const char *s, const char *name, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-') {
        fprintf(stderr, "mdagent migrate: %s: '%s' is not a whole number\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

int md_cmd_migrate(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    const char *from = NULL, *to = NULL, *batch = NULL, *max_rows = NULL, *restart = NULL,
               *verify_only = NULL, *quiet = NULL;
    md_cli_opt opts[] = {{"--from", 1, &from},        {"--to", 1, &to},
                         {"--batch-rows", 1, &batch}, {"--max-rows", 1, &max_rows},
                         {"--restart", 0, &restart},  {"--verify-only", 0, &verify_only},
                         {"--quiet", 0, &quiet},      {NULL, 0, NULL}};
    const char *pos[1];
    int n = md_cli_parse(argc, argv, opts, &cfg, pos, 0);
    if (n < 0 || md_cli_finish_config(&cfg) != 0) goto usage;
    if (!from || !to) {
        fprintf(stderr, "mdagent migrate: give --from URL and --to URL\n");
        goto usage;
    }
    if (strcmp(from, to) == 0) {
        fprintf(stderr, "mdagent migrate: --from and --to name the same store\n");
        goto usage;
    }
    md_migrate_options mo;
    md_migrate_options_default(&mo);
    md_error err;
    uint64_t v;
    if (batch) {
        if (parse_count(batch, "--batch-rows", &v) != 0) goto usage;
        if (v == 0 || v > 10000000) {
            fprintf(stderr, "mdagent migrate: --batch-rows: must be 1..10000000\n");
            goto usage;
        }
        mo.batch_rows = (size_t)v;
    } else {
        mo.batch_rows = (size_t)cfg.store_batch_rows;
    }
    if (max_rows) {
        if (parse_count(max_rows, "--max-rows", &v) != 0) goto usage;
        mo.max_rows = v;
    }
    mo.restart = restart != NULL;
    mo.verify_only = verify_only != NULL;
    /* both stores as every command opens its store (store/migrate.c makes the source
     * read-only) */
    md_services_options so = {.cfg = &cfg, .store_pool_size = 1};
    if (md_services_store_options(&so, &mo.source, &err) != 0) {
        fprintf(stderr, "mdagent migrate: %s\n", err.msg);
        goto usage;
    }
    mo.target = mo.source;
    draw_ctx dc = {.mode = quiet ? -1 : 2};
    mo.on_progress = draw;
    mo.progress_ctx = &dc;
    mo.stop = &stop_flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    md_migrate_report rep;
    int rc = md_store_migrate(from, to, &mo, &rep, &err);
    if (dc.started) md_progress_clear(&dc.p);
    md_migrate_report_print(&rep, stdout);
    if (rc != 0) fprintf(stderr, "mdagent migrate: %s\n", err.msg);
    md_migrate_report_deinit(&rep);
    md_config_deinit(&cfg);
    return rc == 0 ? MD_EXIT_OK : MD_EXIT_FAIL;
usage:
    md_config_deinit(&cfg);
    return MD_EXIT_USAGE;
}
