/* cmd_fetch.c - `mdagent fetch SYMBOL...`: asks the sources (failover, or --source alone)
 * through the source manager and stores what they return through the writer - the path
 * the REST read takes - then prints what was stored, one line per symbol.
 *
 *   no --interval/--start/--end   the latest quote
 *   otherwise                     bars of --interval (1d) in [--start, --end), end = now,
 *                                 start = 100 bars before the end: a backfill job
 *                                 (ingest/backfill.h) cut in the chunks the sources accept,
 *                                 with a progress bar; its state is kept in the store, so
 *                                 after Ctrl-C or a crash the same command continues it */
#include "cli/cli.h"

#include "core/timefmt.h"
#include "ingest/backfill.h"
#include "ingest/progress.h"
#include "sources/manager.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_SYMBOLS 1000
#define DEFAULT_BARS 100

typedef struct fargs {
    const char *interval, *start, *end, *source;
} fargs;

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int fetch_quote(md_services *svc, const char *sym, int source)
{
    md_quote q;
    md_error err;
    int rc = md_query_fetch_quote(svc, sym, source, &q, &err);
    if (rc) {
        fprintf(stderr, "mdagent fetch: %s: %s\n", sym, err.msg);
        return rc;
    }
    char ts[MD_TIME_STR_MAX];
    md_time_format(q.ts, ts);
    char price[40];
    md_fmt_num(price, q.price);
    printf("%s quote %s at %s from %s: stored\n", sym, price, ts, md_source_name(q.source));
    return 0;
}

static void show_progress(void *ctx, const md_job_info *i)
{
    md_progress *p = ctx;
    md_progress_update(p, (uint64_t)(i->chunks_done + i->chunks_failed), (uint64_t)i->stored);
}

/* Bars of every symbol in one backfill job; one line per symbol. */
static int fetch_bars(md_services *svc, const char *const *syms, int n, md_interval iv,
                      int64_t start, int64_t end, int source)
{
    md_backfill *b = svc->backfill; /* MD_SVC_BACKFILL_WAIT: not background work */
    md_job_spec spec = {syms, (size_t)n, iv, start, end, source};
    char want[MD_JOB_ID_MAX], id[MD_JOB_ID_MAX];
    md_backfill_spec_id(&spec, want);
    md_error err;
    int rc = md_backfill_submit(b, &spec, want, id, &err);
    if (rc) {
        fprintf(stderr, "mdagent fetch: %s\n", err.msg);
        return rc;
    }
    md_job_info info;
    if (md_backfill_get(b, id, &info, &err) == 0) {
        if (info.chunks_done + info.chunks_failed > 0)
            fprintf(stderr, "mdagent fetch: continuing job %s: %lld of %lld chunks already done\n",
                    id, (long long)info.chunks_done + info.chunks_failed,
                    (long long)info.chunks_total);
        md_progress prog;
        md_progress_start(&prog, stderr, 2, "fetch", (uint64_t)info.chunks_total);
        md_job_info_deinit(&info);
        struct sigaction sa, old_sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_sa);
        rc = md_backfill_wait(b, id, &stop_flag, show_progress, &prog, &err);
        sigaction(SIGINT, &old_sa, NULL);
        if (prog.tty == 1) md_progress_finish(&prog);
        md_progress_clear(&prog);
    }
    if (rc == MD_ECANCELED) { /* md_services_close saves what was done */
        fprintf(stderr, "mdagent fetch: interrupted: run the same command again to continue\n");
        return rc;
    }
    if (rc == 0) rc = md_backfill_get(b, id, &info, &err);
    if (rc) {
        fprintf(stderr, "mdagent fetch: %s\n", err.msg);
        return rc;
    }
    if (info.state == MD_JOB_CANCELLED) /* DELETE /jobs/{id} on an agent of the store */
        fprintf(stderr, "mdagent fetch: job %s was cancelled: %lld of %lld chunks done\n", id,
                (long long)info.chunks_done, (long long)info.chunks_total);
    char a[MD_TIME_STR_MAX], z[MD_TIME_STR_MAX];
    md_time_format(start, a);
    md_time_format(end, z);
    for (size_t i = 0; i < info.n_symbols; i++) {
        const md_job_symbol *s = &info.symbols[i];
        if (s->chunks_failed) {
            if (s->fetched)
                printf("%s %s %s..%s: %lld bars fetched, %lld stored before the error\n", s->symbol,
                       md_interval_name(iv), a, z, (long long)s->fetched, (long long)s->stored);
            fprintf(stderr, "mdagent fetch: %s: %s\n", s->symbol, s->last_error);
            rc = MD_ENOSOURCE;
            continue;
        }
        printf("%s %s %s..%s: %lld bars from %s, %lld stored, %lld rejected\n", s->symbol,
               md_interval_name(iv), a, z, (long long)s->fetched,
               s->last_source >= 0 ? md_source_name(s->last_source) : "-", (long long)s->stored,
               (long long)(s->fetched - s->stored));
    }
    if (rc == 0 && info.state == MD_JOB_CANCELLED) rc = MD_ECANCELED;
    md_job_info_deinit(&info);
    return rc;
}

enum { O_INTERVAL, O_START, O_END, O_SOURCE, O_N };
const md_cli_opt md_cmd_fetch_opts[] = {
    {"--interval", "I", "fetch bars of this interval (1m ... 1mo) instead of the latest quote"},
    {"--start", "T", "bars from T (YYYY-MM-DD, RFC 3339 or epoch seconds; default: 100 bars back)"},
    {"--end", "T", "bars until T, exclusive (default: now)"},
    {"--source", "NAME", "ask this source alone (no failover)"},
    {NULL, NULL, NULL}};

int md_cmd_fetch(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    const char *v[O_N];
    static const char *pos[MAX_SYMBOLS];
    int n = md_cli_parse(argc, argv, md_cmd_fetch_opts, v, &cfg, pos, MAX_SYMBOLS);
    fargs a = {
        .interval = v[O_INTERVAL], .start = v[O_START], .end = v[O_END], .source = v[O_SOURCE]};
    if (n < 0 || md_cli_finish_config(&cfg) != 0) {
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    md_error err;
    int usage = 0;
    if (n == 0) {
        fprintf(stderr, "mdagent fetch: give at least one SYMBOL\n");
        usage = 1;
    }
    /* arguments first: a usage error never touches the store or the network */
    char syms[MAX_SYMBOLS][MD_SYMBOL_MAX + 1];
    for (int i = 0; i < n && !usage; i++) {
        if (md_symbol_normalize_str(pos[i], syms[i], &err) != 0) {
            fprintf(stderr, "mdagent fetch: %s\n", err.msg);
            usage = 1;
        }
    }
    int bars = a.interval || a.start || a.end;
    md_interval iv = MD_IV_1D;
    int64_t end = md_now(), start = 0;
    if (!usage && a.interval && md_interval_parse(a.interval, &iv, &err) != 0) {
        fprintf(stderr, "mdagent fetch: --interval: %s\n", err.msg);
        usage = 1;
    }
    if (!usage && a.end && md_time_parse_str(a.end, &end, &err) != 0) {
        fprintf(stderr, "mdagent fetch: --end: %s\n", err.msg);
        usage = 1;
    }
    start = end - DEFAULT_BARS * md_interval_seconds(iv);
    if (!usage && a.start && md_time_parse_str(a.start, &start, &err) != 0) {
        fprintf(stderr, "mdagent fetch: --start: %s\n", err.msg);
        usage = 1;
    }
    if (!usage && bars && end <= start) {
        fprintf(stderr, "mdagent fetch: --end must be after --start\n");
        usage = 1;
    }
    int source = -1;
    if (!usage && a.source) {
        source = md_source_parse(a.source);
        if (source < 0 || source == MD_SRC_UNKNOWN || source == MD_SRC_CSV ||
            source == MD_SRC_INGEST) {
            fprintf(stderr, "mdagent fetch: --source: unknown source '%s'\n", a.source);
            usage = 1;
        }
    }
    if (usage) {
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }

    md_services_options so = {.cfg = &cfg,
                              .store_pool_size = 1,
                              .writer = 1,
                              .sources = 1,
                              .backfill = bars ? MD_SVC_BACKFILL_WAIT : MD_SVC_BACKFILL_NONE};
    md_services svc;
    int exit_code = MD_EXIT_OK;
    if (md_services_open(&svc, &so, &err) != 0) {
        fprintf(stderr, "mdagent fetch: %s\n", err.msg);
        exit_code = err.rc == MD_ECONFIG ? MD_EXIT_USAGE : MD_EXIT_FAIL;
    } else if (!svc.sources) {
        fprintf(stderr, "mdagent fetch: no sources are configured (sources.priority is empty)\n");
        exit_code = MD_EXIT_FAIL;
    } else if (source >= 0 && !md_srcmgr_has(svc.sources, source)) {
        fprintf(stderr, "mdagent fetch: --source: '%s' is not a provider\n", a.source);
        exit_code = MD_EXIT_USAGE;
    } else {
        if (bars) {
            const char *ptrs[MAX_SYMBOLS];
            for (int i = 0; i < n; i++) ptrs[i] = syms[i];
            if (fetch_bars(&svc, ptrs, n, iv, start, end, source) != 0) exit_code = MD_EXIT_FAIL;
        } else {
            for (int i = 0; i < n; i++)
                if (fetch_quote(&svc, syms[i], source) != 0) exit_code = MD_EXIT_FAIL;
        }
    }
    md_services_close(&svc);
    md_config_deinit(&cfg);
    return exit_code;
}
