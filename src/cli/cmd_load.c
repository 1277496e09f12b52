/* cmd_load.c - `mdagent load FILE|DIR...`. */
#include "cli/cli.h"

#include "core/interval.h"
#include "core/log.h"
#include "ingest/loader.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PATHS 4096

/* Ctrl-C asks the loader to stop at the next block, store what it read and save the
 * checkpoint; a second Ctrl-C ends the process at once (the store stays consistent: every
 * transaction carries its own checkpoint). */
static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* --validate-only stores nothing, so it creates no store either: where the store does not
 * exist, the files are judged against an empty throwaway SQLite store in a temporary
 * directory, removed afterwards (scratch_remove). */
static int scratch_store(md_config *cfg, char *dir, size_t dirsz, md_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, dirsz, "%s/mdagent-validate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return md_error_set(err, MD_EIO, "cannot create a scratch directory: %s", strerror(errno));
    }
    char url[PATH_MAX + 32];
    snprintf(url, sizeof url, "sqlite:%s/validate.db", dir);
    return md_config_set(cfg, "db", url, "--validate-only", err);
}

static void scratch_remove(const char *dir)
{
    static const char *files[] = {"validate.db", "validate.db-wal", "validate.db-shm",
                                  "validate.db-journal"};
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int parse_count(const char *name, const char *v, long min, long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        fprintf(stderr, "mdagent load: %s: want a whole number %ld..%ld, got '%s'\n", name, min,
                max, v);
        return -1;
    }
    *out = n;
    return 0;
}

enum {
    O_SYMBOL,
    O_INTERVAL,
    O_FORMAT,
    O_VALIDATE_ONLY,
    O_QUIET,
    O_BATCH_ROWS,
    O_THREADS,
    O_REJECT_FILE,
    O_RESTART,
    O_VALIDATION,
    O_N
};
const md_cli_opt md_cmd_load_opts[] = {
    {"--symbol", "S", "the symbol of every file (default: a symbol column, else the file name)"},
    {"--interval", "I", "1m 5m 15m 30m 1h 4h 1d 1w 1mo (default: Stooq's <PER>, else inferred)"},
    {"--format", "auto|yahoo|stooq|generic", "the CSV dialect (default: auto, from the header)"},
    {"--validate-only", NULL, "read and grade the files; store nothing"},
    {"--quiet", NULL, "no progress and no summary: only errors"},
    {"--batch-rows", "N", "rows per write transaction (default: store.batch_rows)"},
    {"--threads", "N", "parser threads, 0 = one per core"},
    {"--reject-file", "PATH", "write each rejected row there with its reason"},
    {"--restart", NULL, "ignore the saved checkpoints and read every file from its start"},
    {"--validation", "sampled|full", "validate a sample of large files (default) or every row"},
    {NULL, NULL, NULL}};

int md_cmd_load(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    const char *v[O_N];
    static const char *paths[MAX_PATHS];
    int n = md_cli_parse(argc, argv, md_cmd_load_opts, v, &cfg, paths, MAX_PATHS);
    const char *symbol = v[O_SYMBOL], *interval = v[O_INTERVAL], *format = v[O_FORMAT],
               *validate_only = v[O_VALIDATE_ONLY], *quiet = v[O_QUIET], *batch = v[O_BATCH_ROWS],
               *threads = v[O_THREADS], *reject = v[O_REJECT_FILE], *restart = v[O_RESTART],
               *validation = v[O_VALIDATION];
    if (n < 0 || md_cli_finish_config(&cfg) != 0) goto usage;
    if (n == 0) {
        fprintf(stderr, "mdagent load: give at least one FILE or DIR\n");
        goto usage;
    }
    md_load_options lo;
    md_load_options_default(&lo);
    md_error err;
    lo.symbol = symbol;
    lo.validate_only = validate_only != NULL;
    lo.batch_rows = (size_t)cfg.store_batch_rows;
    long num;
    if (batch) {
        if (parse_count("--batch-rows", batch, 1, 10000000, &num) != 0) goto usage;
        lo.batch_rows = (size_t)num;
    }
    if (threads) {
        if (parse_count("--threads", threads, 0, 64, &num) != 0) goto usage;
        lo.threads = (int)num;
    }
    lo.reject_file = reject;
    lo.restart = restart != NULL;
    if (validation) {
        if (strcmp(validation, "full") == 0) {
            lo.full_validation = 1;
        } else if (strcmp(validation, "sampled") != 0) {
            fprintf(stderr, "mdagent load: --validation: want full or sampled, got '%s'\n",
                    validation);
            goto usage;
        }
    }
    lo.stop = &stop_flag;
    if (quiet) { /* errors only: no progress, no summary, no info log lines */
        lo.progress = -1;
        md_cli_quiet(&cfg);
    }
    if (interval) {
        md_interval iv;
        if (md_interval_parse(interval, &iv, &err) != 0) {
            fprintf(stderr, "mdagent load: --interval: %s\n", err.msg);
            goto usage;
        }
        lo.interval = (int)iv;
    }
    if (format && md_csv_format_parse(format, &lo.format, &err) != 0) {
        fprintf(stderr, "mdagent load: --format: %s\n", err.msg);
        goto usage;
    }
    if (symbol) {
        char s[MD_SYMBOL_MAX + 1];
        if (md_symbol_normalize_str(symbol, s, &err) != 0) {
            fprintf(stderr, "mdagent load: --symbol: %s\n", err.msg);
            goto usage;
        }
    }

    md_services_options so = {.cfg = &cfg,
                              .store_pool_size = 1,
                              .store_manage = 1,
                              .writer = 1,
                              .store_create = !lo.validate_only};
    md_services svc;
    char scratch[PATH_MAX] = "";
    int orc = md_services_open(&svc, &so, &err);
    if (orc == MD_ENOTFOUND && lo.validate_only) { /* no store: judge against an empty one */
        so.store_create = 1;
        orc = scratch_store(&cfg, scratch, sizeof scratch, &err);
        if (orc == 0) orc = md_services_open(&svc, &so, &err);
    }
    if (orc != 0) {
        fprintf(stderr, "mdagent load: %s\n", err.msg);
        if (scratch[0]) scratch_remove(scratch);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    md_load_grades grades;
    md_load_grades_init(&grades);
    lo.grades = &grades;
    lo.report_findings = lo.validate_only;
    md_load_stats stats;
    memset(&stats, 0, sizeof stats);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* the second Ctrl-C is the default action */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    int rc = md_load_paths(svc.writer, paths, (size_t)n, &lo, &stats, &err);
    sigaction(SIGINT, &old_sa, NULL);
    if (!quiet) {
        md_load_stats_print(&stats, stderr);
        md_load_grades_print(&grades, md_writer_quality(svc.writer), stderr);
    } else if (stats.interrupted) { /* a failure, so said under --quiet too */
        fprintf(stderr, "mdagent load: interrupted: run the same command again to continue from "
                        "the checkpoint\n");
    }
    if (lo.validate_only) fprintf(stderr, "validate-only: nothing was stored\n");
    /* file errors, store errors and the interruption were reported as they happened */
    md_load_grades_deinit(&grades);
    md_services_close(&svc);
    if (scratch[0]) scratch_remove(scratch);
    md_config_deinit(&cfg);
    return rc == 0 ? MD_EXIT_OK : MD_EXIT_FAIL;
usage:
    md_config_deinit(&cfg);
    return MD_EXIT_USAGE;
}
