/* cmd_query.c - `mdagent query SYMBOL`: bars from the store as CSV or JSON on stdout.
 *
 * Without --limit the whole range is written, page by page (md_query_history pages of
 * PAGE_BARS, each continuing where the previous one stopped), so memory stays bounded
 * however long the range. With --limit N one page of N bars is written; when the range holds
 * more, JSON says "truncated": true and stderr says where the range goes on.
 *
 * --adjust none|splits|all (default splits) is the same parameter, parsed and applied by the
 * same code, as REST's adjust= (md_history_req_parse, md_query_history). The CLI never asks a
 * source: the actions are those the store holds, and an answer whose symbol's actions were
 * never checked says so (JSON "adjustment", and a line on stderr). */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/render.h"
#include "core/timefmt.h"
#include "query/query.h"

#include <stdio.h>
#include <string.h>

#define PAGE_BARS 65536

typedef struct {
    const char *interval, *start, *end, *limit, *format, *order, *partial, *adjust;
} qargs;

static const char *get(void *ctx, const char *name)
{
    qargs *a = ctx;
    if (!strcmp(name, "interval")) return a->interval;
    if (!strcmp(name, "start")) return a->start;
    if (!strcmp(name, "end")) return a->end;
    if (!strcmp(name, "limit")) return a->limit;
    if (!strcmp(name, "format")) return a->format;
    if (!strcmp(name, "order")) return a->order;
    if (!strcmp(name, "partial")) return a->partial;
    if (!strcmp(name, "adjust")) return a->adjust;
    return NULL;
}

/* Writes b to stdout and empties it; 0, or -1 when stdout failed (a closed pipe). */
static int flush(md_buf *b)
{
    int ok = b->len == 0 || fwrite(b->data, 1, b->len, stdout) == b->len;
    md_buf_reset(b);
    return ok ? 0 : -1;
}

/* The rows of one page in the answer's order. */
static void put_rows(md_buf *b, const md_history_req *hr, md_history *h, size_t *count)
{
    if (hr->desc) md_bars_reverse(h->bars.v, h->bars.n);
    if (hr->csv) {
        md_render_bars_csv_rows(b, h->bars.v, h->bars.n, &h->span);
    } else {
        for (size_t i = 0; i < h->bars.n; i++) {
            if (*count + i) md_buf_putc(b, ',');
            md_render_bar_json(b, &h->bars.v[i], &h->span);
        }
    }
    *count += h->bars.n;
}

/* Runs the query: every page of the range (all = 1) or the first one. */
static int run(md_services *svc, md_history_req *hr, int all, md_error *err)
{
    md_buf b = MD_BUF_INIT;
    md_history h;
    md_history_init(&h);
    size_t count = 0;
    int rc = 0, out_rc = 0, started = 0;
    md_page last = {0};
    for (;;) {
        rc = md_query_history(svc, hr, &h, err);
        if (rc) break;
        if (!started) {
            if (hr->csv) {
                md_render_bars_csv_header(&b);
            } else {
                md_buf_puts(&b, "{\"symbol\":");
                md_buf_json_str(&b, hr->symbol);
                md_buf_puts(&b, ",\"interval\":\"");
                md_buf_puts(&b, md_interval_name(hr->iv));
                md_buf_puts(&b, "\",\"bars\":[");
            }
            started = 1;
        }
        put_rows(&b, hr, &h, &count);
        last = h.page;
        if ((out_rc = flush(&b)) != 0) break;
        if (!all || !h.page.truncated) break;
        if (hr->desc)
            hr->end = h.page.next;
        else
            hr->start = h.page.next;
    }
    if (rc == 0 && out_rc == 0 && !hr->csv) {
        md_buf_puts(&b, "],\"count\":");
        md_buf_int(&b, (int64_t)count);
        md_buf_puts(&b, ",\"from\":\"store\"");
        if (hr->desc) md_buf_puts(&b, ",\"order\":\"desc\"");
        md_render_adjust_json(&b, &h.adj);
        md_render_page_json(&b, &last, NULL, NULL);
        md_buf_puts(&b, "}\n");
        out_rc = flush(&b);
    }
    if (rc == 0 && h.adj.mode != MD_ADJUST_NONE && h.adj.checked == 0)
        /* said on stderr for CSV too: "adjusted" bars of a symbol whose splits no source was
         * asked for may be raw (docs/API.md "What an adjusted answer rests on") */
        fprintf(stderr,
                "mdagent query: adjust=%s: %s's actions were never asked of a source (%zu "
                "applied, from ingested or loaded records); the series may be unadjusted\n",
                md_adjust_name(h.adj.mode), hr->symbol, h.adj.applied);
    if (rc == 0 && last.truncated) {
        char ts[40];
        md_time_format(last.next, ts);
        fprintf(stderr,
                "mdagent query: %zu bars written (--limit); the range goes on: "
                "--%s %s for the next page\n",
                count, last.param, ts);
    }
    if (rc == 0 && out_rc == 0 && fflush(stdout) != 0) out_rc = -1;
    md_history_deinit(&h);
    md_buf_deinit(&b);
    if (rc == 0 && out_rc) rc = md_error_set(err, MD_EIO, "cannot write to stdout");
    return rc;
}

enum { O_INTERVAL, O_START, O_END, O_LIMIT, O_ORDER, O_PARTIAL, O_FORMAT, O_ADJUST, O_N };
const md_cli_opt md_cmd_query_opts[] = {
    {"--interval", "I", "1m 5m 15m 30m 1h 4h 1d 1w 1mo (default 1d; coarser ones aggregated)"},
    {"--start", "T", "from T, inclusive (YYYY-MM-DD, RFC 3339 or epoch seconds)"},
    {"--end", "T", "until T, exclusive"},
    {"--limit", "N", "one page of at most N bars (default: the whole range, page by page)"},
    {"--order", "asc|desc", "oldest first (default) or newest first"},
    {"--partial", "include|exclude", "bars still forming or cut by the range (default include)"},
    {"--format", "csv|json", "output format (default csv)"},
    {"--adjust", "none|splits|all",
     "raw bars, split-adjusted (default) or split- and dividend-adjusted"},
    {NULL, NULL, NULL}};

int md_cmd_query(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    const char *v[O_N];
    const char *pos[1];
    int n = md_cli_parse(argc, argv, md_cmd_query_opts, v, &cfg, pos, 1);
    qargs a = {.interval = v[O_INTERVAL],
               .start = v[O_START],
               .end = v[O_END],
               .limit = v[O_LIMIT],
               .format = v[O_FORMAT],
               .order = v[O_ORDER],
               .partial = v[O_PARTIAL],
               .adjust = v[O_ADJUST]};
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
    /* --limit may go past server.max_limit: the CLI has no response to bound */
    md_config lim = cfg;
    lim.max_limit = INT64_MAX / 2;
    if (md_history_req_parse(&hr, pos[0], get, &a, &lim, &err) != 0) {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    int all = a.limit == NULL; /* the whole range, page by page */
    if (all) hr.limit = PAGE_BARS;
    /* read-only: a query never creates or migrates a store (a mistyped --db is an error) */
    md_services_options so = {.cfg = &cfg, .store_read_only = 1, .store_pool_size = 1};
    md_services svc;
    if (md_services_open(&svc, &so, &err) != 0) {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    int rc = run(&svc, &hr, all, &err);
    if (rc) fprintf(stderr, "mdagent query: %s\n", err.msg);
    md_services_close(&svc);
    md_config_deinit(&cfg);
    return rc == 0 ? MD_EXIT_OK : MD_EXIT_FAIL;
}
