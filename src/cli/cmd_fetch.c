/* cmd_fetch.c - `mdagent fetch SYMBOL...`: asks the sources (failover, or --source alone)
 * through the source manager and stores what they return through the writer - the path
 * the REST read takes - then prints what was stored, one line per symbol.
 *
 *   no --interval/--start/--end   the latest quote
 *   otherwise                     bars of --interval (1d) in [--start, --end), end = now,
 *                                 start = 100 bars before the end */
#include "cli/cli.h"

#include "core/timefmt.h"
#include "core/workq.h"
#include "sources/manager.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#define MAX_SYMBOLS 1000
#define DEFAULT_BARS 100

typedef struct fargs {
    const char *interval, *start, *end, *source;
} fargs;

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

static int fetch_bars(md_services *svc, const char *sym, md_interval iv, int64_t start,
                      int64_t end, int source)
{
    size_t got = 0, stored = 0;
    int by = -1;
    md_error err;
    int rc = md_query_fetch_bars(svc, sym, iv, start, end, source, &got, &stored, &by, &err);
    char a[MD_TIME_STR_MAX], b[MD_TIME_STR_MAX];
    md_time_format(start, a);
    md_time_format(end, b);
    if (rc) {
        if (got) printf("%s %s %s..%s: %zu bars fetched, %zu stored before the error\n", sym,
                        md_interval_name(iv), a, b, got, stored);
        fprintf(stderr, "mdagent fetch: %s: %s\n", sym, err.msg);
        return rc;
    }
    printf("%s %s %s..%s: %zu bars from %s, %zu stored, %zu rejected\n", sym, md_interval_name(iv),
           a, b, got, by >= 0 ? md_source_name(by) : "-", stored, got - stored);
    return 0;
}

int md_cmd_fetch(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    fargs a = {0};
    md_cli_opt opts[] = {{"--interval", 1, &a.interval}, {"--start", 1, &a.start},
                         {"--end", 1, &a.end},           {"--source", 1, &a.source},
                         {NULL, 0, NULL}};
    static const char *pos[MAX_SYMBOLS];
    int n = md_cli_parse(argc, argv, opts, &cfg, pos, MAX_SYMBOLS);
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

    md_store_options so;
    md_store_options_default(&so);
    so.pool_size = 1;
    md_store *st = NULL;
    if (md_store_open(cfg.db, &so, &st, &err) != 0) {
        fprintf(stderr, "mdagent fetch: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    md_services svc;
    memset(&svc, 0, sizeof svc);
    svc.cfg = &cfg;
    svc.store = st;
    svc.writer = md_writer_new(st);
    md_cli_sources *cs = NULL;
    int exit_code = MD_EXIT_OK;
    if (md_cli_sources_open(&svc, &cs, &err) != 0) {
        fprintf(stderr, "mdagent fetch: %s\n", err.msg);
        exit_code = err.rc == MD_ECONFIG ? MD_EXIT_USAGE : MD_EXIT_FAIL;
    } else if (!svc.sources) {
        fprintf(stderr, "mdagent fetch: no sources are configured (sources.priority is empty)\n");
        exit_code = MD_EXIT_FAIL;
    } else if (source >= 0 && !md_srcmgr_has(svc.sources, source)) {
        fprintf(stderr, "mdagent fetch: --source: '%s' is not a provider\n", a.source);
        exit_code = MD_EXIT_USAGE;
    } else {
        for (int i = 0; i < n; i++) {
            int rc = bars ? fetch_bars(&svc, syms[i], iv, start, end, source)
                          : fetch_quote(&svc, syms[i], source);
            if (rc) exit_code = MD_EXIT_FAIL;
        }
    }
    md_cli_sources_close(cs);
    md_writer_free(svc.writer);
    md_store_close(st);
    md_config_deinit(&cfg);
    return exit_code;
}
