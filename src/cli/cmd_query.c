/* cmd_query.c - `mdagent query SYMBOL`: bars from the store as CSV or JSON on stdout. */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/render.h"
#include "query/query.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *interval, *start, *end, *limit, *format, *cached_only, *source;
} qargs;

static const char *get(void *ctx, const char *name)
{
    qargs *a = ctx;
    if (!strcmp(name, "interval")) return a->interval;
    if (!strcmp(name, "start")) return a->start;
    if (!strcmp(name, "end")) return a->end;
    if (!strcmp(name, "limit")) return a->limit;
    if (!strcmp(name, "format")) return a->format;
    if (!strcmp(name, "cached_only")) return a->cached_only;
    if (!strcmp(name, "source")) return a->source;
    return NULL;
}

int md_cmd_query(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    qargs a = {0};
    md_cli_opt opts[] = {{"--interval", 1, &a.interval}, {"--start", 1, &a.start},
                         {"--end", 1, &a.end},           {"--limit", 1, &a.limit},
                         {"--format", 1, &a.format},     {NULL, 0, NULL}};
    const char *pos[1];
    int n = md_cli_parse(argc, argv, opts, &cfg, pos, 1);
    if (n < 0 || md_cli_finish_config(&cfg) != 0) {
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (n != 1) {
        fprintf(stderr, "mdagent query: give one SYMBOL\n");
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (!a.format) a.format = "csv";
    md_error err;
    md_history_req hr;
    if (md_history_req_parse(&hr, pos[0], get, &a, &cfg, &err) != 0) {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    /* read-only: a query never creates or migrates a store (a mistyped --db is an error) */
    md_services_options so = {.cfg = &cfg, .store_read_only = 1, .store_pool_size = 1};
    md_services svc;
    if (md_services_open(&svc, &so, &err) != 0) {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    const char *from;
    int rc = md_query_history(&svc, &hr, &bars, &from, &err);
    if (rc == 0) {
        md_buf b = MD_BUF_INIT;
        if (hr.csv)
            md_render_bars_csv(&b, bars.v, bars.n);
        else
            md_render_history_json(&b, &hr, bars.v, bars.n, from), md_buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, stdout);
        md_buf_deinit(&b);
    } else {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
    }
    md_bar_vec_deinit(&bars);
    md_services_close(&svc);
    md_config_deinit(&cfg);
    return rc == 0 ? MD_EXIT_OK : MD_EXIT_FAIL;
}
