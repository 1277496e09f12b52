/* cmd_query.c - `mdagent query SYMBOL...`: bars from the store as CSV or JSON on stdout.
 *
 * Without --limit the whole range is written, page by page (md_query_history pages of
 * PAGE_BARS, each continuing where the previous one stopped), so memory stays bounded
 * however long the range. With --limit N one page of N bars is written; when the range holds
 * more, JSON says "truncated": true and stderr says where the range goes on.
 *
 * --adjust none|splits|all (default splits) is the same parameter, parsed and applied by the
 * same code, as REST's adjust= (md_history_req_parse, md_query_history). The CLI never asks a
 * source: the actions are those the store holds, and an answer whose symbol's actions were
 * never checked says so (JSON "adjustment", and a line on stderr).
 *
 * Several symbols are written in the long format of GET /historical?symbols= (a "symbol"
 * column first; rows by symbol in the order given, then time), walked by the same code
 * (md_query_history_multi) in pages of PAGE_BARS rows, each continuing at its cursor. A
 * symbol that fails is said on stderr (and in JSON "errors"), the others are written, and
 * the exit status is 1. */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/render.h"
#include "core/timefmt.h"
#include "query/query.h"

#include <stdio.h>
#include <string.h>

#define PAGE_BARS 65536

typedef struct {
    const char *interval, *start, *end, *limit, *format, *order, *partial, *adjust, *cursor;
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
    if (!strcmp(name, "cursor")) return a->cursor;
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
    if (rc == 0 && h.adj.mode == MD_ADJUST_ALL && h.adj.checked && h.adj.dividends_refused)
        fprintf(stderr,
                "mdagent query: adjust=all: %s's dividends were not offered by %s (its plan gave "
                "the splits alone, and no source after it had them); the series holds only "
                "ingested or loaded dividends\n",
                hr->symbol, md_source_name(h.adj.dividends_refused));
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

/* -- several symbols ------------------------------------------------------------------- */

typedef struct multi_out {
    int csv;
    md_buf b;
    md_buf errors;    /* JSON "errors" items */
    md_buf adjusted;  /* JSON "adjustments" members */
    md_buf unchecked; /* symbols whose actions no source was asked for */
    size_t rows, failed;
    int out_rc;
    char
        last[MD_SYMBOL_MAX + 1]; /* the symbol of the last rows: one spanning pages is noted once */
} multi_out;

static int multi_rows(void *ctx, const char *symbol, const md_history *h, md_error *err)
{
    multi_out *o = ctx;
    if (o->csv) {
        md_render_symbol_bars_csv_rows(&o->b, symbol, h->bars.v, h->bars.n, &h->span);
    } else {
        for (size_t i = 0; i < h->bars.n; i++) {
            if (o->rows + i) md_buf_putc(&o->b, ',');
            md_render_symbol_bar_json(&o->b, symbol, &h->bars.v[i], &h->span);
        }
        if (h->adj.mode != MD_ADJUST_NONE && strcmp(o->last, symbol) != 0) {
            if (o->adjusted.len) md_buf_putc(&o->adjusted, ',');
            md_buf_json_str(&o->adjusted, symbol);
            md_buf_putc(&o->adjusted, ':');
            md_render_adjustment_json(&o->adjusted, &h->adj);
        }
    }
    if (h->adj.mode != MD_ADJUST_NONE && h->adj.checked == 0 && strcmp(o->last, symbol) != 0) {
        if (o->unchecked.len) md_buf_puts(&o->unchecked, ", ");
        md_buf_puts(&o->unchecked, symbol);
    }
    snprintf(o->last, sizeof o->last, "%s", symbol);
    o->rows += h->bars.n;
    if ((o->out_rc = flush(&o->b)) != 0) /* each call holds at most a page: bounded memory */
        return md_error_set(err, MD_EIO, "cannot write to stdout");
    return 0;
}

static void multi_error(void *ctx, const char *symbol, int rc, const char *message)
{
    multi_out *o = ctx;
    o->failed++;
    fprintf(stderr, "mdagent query: %s: %s\n", symbol, message);
    if (o->errors.len) md_buf_putc(&o->errors, ',');
    md_buf_puts(&o->errors, "{\"symbol\":");
    md_buf_json_str(&o->errors, symbol);
    md_buf_puts(&o->errors, ",\"code\":");
    md_buf_json_str(&o->errors, md_error_code(rc));
    md_buf_puts(&o->errors, ",\"message\":");
    md_buf_json_str(&o->errors, message);
    md_buf_putc(&o->errors, '}');
}

/* Every page of the list (all = 1) or the first one. 1 when a symbol failed. */
static int run_multi(md_services *svc, md_multi_req *r, int all, md_error *err)
{
    multi_out o = {.csv = r->base.csv};
    md_multi_sink sink = {multi_rows, multi_error, &o};
    md_multi_page p = {0};
    if (o.csv) {
        md_render_symbol_bars_csv_header(&o.b);
    } else {
        md_buf_puts(&o.b, "{\"symbols\":[");
        size_t k = 0;
        for (size_t i = 0; i < r->n; i++) {
            if (r->item[i].invalid || r->item[i].repeat) continue;
            if (k++) md_buf_putc(&o.b, ',');
            md_buf_json_str(&o.b, r->item[i].symbol);
        }
        md_buf_puts(&o.b, "],\"interval\":\"");
        md_buf_puts(&o.b, md_interval_name(r->base.iv));
        md_buf_putc(&o.b, '"');
        if (r->base.desc) md_buf_puts(&o.b, ",\"order\":\"desc\"");
        md_buf_puts(&o.b, ",\"bars\":[");
    }
    int rc = (o.out_rc = flush(&o.b)) ? md_error_set(err, MD_EIO, "cannot write to stdout") : 0;
    while (rc == 0) {
        rc = md_query_history_multi(svc, r, &sink, &p, err);
        if (rc || !all || !p.truncated) break;
        r->from = p.next;
        r->has_from_ts = p.has_next_ts;
        r->from_ts = p.next_ts;
    }
    if (rc == 0 && !o.csv) {
        md_buf_puts(&o.b, "],\"count\":");
        md_buf_int(&o.b, (int64_t)o.rows);
        md_buf_puts(&o.b, ",\"from\":\"store\",\"adjust\":\"");
        md_buf_puts(&o.b, md_adjust_name(r->base.adjust));
        md_buf_putc(&o.b, '"');
        if (r->base.adjust != MD_ADJUST_NONE) {
            md_buf_puts(&o.b, ",\"adjustments\":{");
            if (o.adjusted.len) md_buf_append(&o.b, o.adjusted.data, o.adjusted.len);
            md_buf_putc(&o.b, '}');
        }
        md_buf_puts(&o.b, ",\"errors\":[");
        if (o.errors.len) md_buf_append(&o.b, o.errors.data, o.errors.len);
        md_buf_puts(&o.b, p.truncated ? "],\"truncated\":true}\n" : "],\"truncated\":false}\n");
        if ((o.out_rc = flush(&o.b)) != 0) rc = md_error_set(err, MD_EIO, "cannot write to stdout");
    }
    if (rc == 0 && o.unchecked.len)
        fprintf(stderr,
                "mdagent query: adjust=%s: the actions of %s were never asked of a source (the "
                "factors rest on ingested or loaded records); the series may be unadjusted\n",
                md_adjust_name(r->base.adjust), o.unchecked.data);
    if (rc == 0 && p.truncated) {
        md_buf cur = MD_BUF_INIT;
        md_multi_cursor(&p, &cur);
        fprintf(stderr,
                "mdagent query: %zu rows written (--limit); the list goes on: --cursor %s for "
                "the next page\n",
                o.rows, cur.data);
        md_buf_deinit(&cur);
    }
    if (rc == 0 && fflush(stdout) != 0) rc = md_error_set(err, MD_EIO, "cannot write to stdout");
    md_buf_deinit(&o.b);
    md_buf_deinit(&o.errors);
    md_buf_deinit(&o.adjusted);
    md_buf_deinit(&o.unchecked);
    if (rc == 0 && o.failed) return 1;
    return rc;
}

enum { O_INTERVAL, O_START, O_END, O_LIMIT, O_ORDER, O_PARTIAL, O_FORMAT, O_ADJUST, O_CURSOR, O_N };
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
    {"--cursor", "I[,T]",
     "several symbols with --limit: the page starting at symbol I (from T), as the last page said"},
    {NULL, NULL, NULL}};

int md_cmd_query(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return MD_EXIT_USAGE;
    const char *v[O_N];
    const char **pos = md_calloc((size_t)argc + 1, sizeof *pos);
    int n = md_cli_parse(argc, argv, md_cmd_query_opts, v, &cfg, pos, argc);
    qargs a = {.interval = v[O_INTERVAL],
               .start = v[O_START],
               .end = v[O_END],
               .limit = v[O_LIMIT],
               .format = v[O_FORMAT],
               .order = v[O_ORDER],
               .partial = v[O_PARTIAL],
               .adjust = v[O_ADJUST],
               .cursor = v[O_CURSOR]};
    if (n < 0 || md_cli_finish_config(&cfg) != 0) {
        md_free(pos);
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (n < 1 || (n == 1 && a.cursor)) {
        fprintf(stderr, n < 1 ? "mdagent query: give a SYMBOL (or several)\n"
                              : "mdagent query: --cursor pages a list of several symbols\n");
        md_free(pos);
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    if (!a.format) a.format = "csv";
    md_error err;
    md_history_req hr;
    md_multi_req mr = {0};
    /* --limit may go past server.max_limit: the CLI has no response to bound (nor a bound
     * on the symbols) */
    md_config lim = cfg;
    lim.max_limit = INT64_MAX / 2;
    int multi = n > 1;
    int prc = multi ? md_multi_req_parse(&mr, pos, (size_t)n, get, &a, &lim, 0, &err)
                    : md_history_req_parse(&hr, pos[0], get, &a, &lim, &err);
    md_free(pos);
    if (prc != 0) {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
        md_multi_req_deinit(&mr);
        md_config_deinit(&cfg);
        return MD_EXIT_USAGE;
    }
    int all = a.limit == NULL; /* the whole range, page by page */
    if (all) hr.limit = mr.base.limit = PAGE_BARS;
    /* read-only: a query never creates or migrates a store (a mistyped --db is an error) */
    md_services_options so = {.cfg = &cfg, .store_read_only = 1, .store_pool_size = 1};
    md_services svc;
    if (md_services_open(&svc, &so, &err) != 0) {
        fprintf(stderr, "mdagent query: %s\n", err.msg);
        md_multi_req_deinit(&mr);
        md_config_deinit(&cfg);
        return MD_EXIT_FAIL;
    }
    int rc = multi ? run_multi(&svc, &mr, all, &err) : run(&svc, &hr, all, &err);
    if (rc < 0) fprintf(stderr, "mdagent query: %s\n", err.msg);
    md_multi_req_deinit(&mr);
    md_services_close(&svc);
    md_config_deinit(&cfg);
    return rc == 0 ? MD_EXIT_OK : MD_EXIT_FAIL;
}
