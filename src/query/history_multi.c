/* history_multi.c - several symbols' bars in one long-format answer: GET
 * /historical?symbols=A,B,C and `mdagent query A B C` (query.h "several symbols' bars").
 *
 * No read path of its own: every symbol's rows come from md_query_history with the request's
 * range, order, partial rule and adjustment, so they are its /historical/{symbol} bars bit
 * for bit. A page walks the symbols from its cursor in the order asked and gives each the
 * rows the page has left (limit minus the rows already written). It stops
 *   - inside a symbol's range, when md_query_history cut that symbol's page: the next page
 *     starts at the same symbol, where its own next page would ("I,T");
 *   - at the end of a symbol, when the page is full: the next page starts at the next
 *     symbol ("I");
 *   - at the end of the list: the last page.
 * Each item is reached by exactly one page (the one that starts at it or walks past it), so
 * its error, when it fails, is reported once, as each row is. */
#include "query/query.h"

#include "core/mem.h"
#include "core/render.h"
#include "core/timefmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CSV "text/csv; charset=utf-8"
#define JSON "application/json"

static int parse_cursor(md_multi_req *r, const char *v, md_error *err)
{
    char *end;
    errno = 0;
    unsigned long long i = strtoull(v, &end, 10);
    if (errno || end == v || (*end && *end != ',') || v[0] == '-' || i >= r->n)
        return md_error_set(err, MD_EPARAM,
                            "cursor: '%.40s' is not I or I,TIME with I an index into symbols "
                            "(0..%zu); take it from the answer's next",
                            v, r->n - 1);
    r->from = (size_t)i;
    if (*end == ',') {
        md_error e;
        if (md_time_parse_str(end + 1, &r->from_ts, &e) != 0)
            return md_error_set(err, MD_EPARAM, "cursor: %s", e.msg);
        r->has_from_ts = 1;
    }
    return 0;
}

int md_multi_req_parse(md_multi_req *r, const char *const *symbols, size_t n,
                       const char *(*get)(void *ctx, const char *name), void *ctx,
                       const md_config *cfg, size_t max_symbols, md_error *err)
{
    memset(r, 0, sizeof *r);
    if (n == 0)
        return md_error_set(err, MD_EPARAM,
                            "symbols: give a comma-separated list, e.g. ?symbols=AAPL,MSFT");
    if (max_symbols && n > max_symbols)
        return md_error_set(err, MD_EPARAM,
                            "symbols: at most %zu symbols per request "
                            "(server.max_symbols_per_request; got %zu)",
                            max_symbols, n);
    int rc = md_history_req_parse(&r->base, NULL, get, ctx, cfg, err);
    if (rc) return rc;
    r->item = md_calloc(n, sizeof *r->item);
    r->n = n;
    md_error first_bad = {0};
    for (size_t i = 0; i < n; i++) {
        md_multi_item *it = &r->item[i];
        it->asked = md_strdup(symbols[i]);
        md_error e;
        if (md_symbol_normalize_str(symbols[i], it->symbol, &e) != 0) {
            it->invalid = 1;
            it->symbol[0] = '\0';
            if (!first_bad.rc) first_bad = e;
            continue;
        }
        for (size_t j = 0; j < i && !it->repeat; j++)
            it->repeat = !r->item[j].invalid && strcmp(r->item[j].symbol, it->symbol) == 0;
        if (!it->repeat) r->valid++;
    }
    if (r->valid == 0)
        return md_error_set(err, MD_ESYMBOL, "symbols: none is a valid symbol (%s)", first_bad.msg);
    const char *v = get(ctx, "cursor");
    return v ? parse_cursor(r, v, err) : 0;
}

void md_multi_req_deinit(md_multi_req *r)
{
    for (size_t i = 0; i < r->n; i++) md_free(r->item[i].asked);
    md_free(r->item);
    r->item = NULL;
    r->n = 0;
}

/* Errors that concern every symbol of the request end it: the store, a parameter. */
static int fatal(int rc)
{
    return rc == MD_EPARAM || rc == MD_EUNAVAIL || rc == MD_ESTORE || rc == MD_EIO ||
           rc == MD_EINTERNAL || rc == MD_ECANCELED;
}

static size_t next_item(const md_multi_req *r, size_t i)
{
    while (i < r->n && r->item[i].repeat) i++;
    return i;
}

int md_query_history_multi(md_services *svc, const md_multi_req *r, const md_multi_sink *sink,
                           md_multi_page *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    size_t limit = r->base.limit; /* 0: every row */
    int from_store = 0, from_sources = 0, rc = 0;
    md_history h;
    md_history_init(&h);
    for (size_t i = next_item(r, r->from); i < r->n; i = next_item(r, i + 1)) {
        const md_multi_item *it = &r->item[i];
        md_error e;
        if (it->invalid) { /* its message again, as parsing said it */
            char tmp[MD_SYMBOL_MAX + 1];
            md_symbol_normalize_str(it->asked, tmp, &e);
            if (sink->error) sink->error(sink->ctx, it->asked, MD_ESYMBOL, e.msg);
            continue;
        }
        md_history_req q = r->base;
        memcpy(q.symbol, it->symbol, sizeof q.symbol);
        q.link = NULL;
        if (i == r->from && r->has_from_ts) { /* the rest of a symbol cut by the last page */
            if (q.desc && r->from_ts < q.end) q.end = r->from_ts;
            if (!q.desc && r->from_ts > q.start) q.start = r->from_ts;
            if (q.end <= q.start) continue;
        }
        q.limit = limit ? limit - out->count : 0;
        int qrc = md_query_history(svc, &q, &h, &e);
        if (qrc && fatal(qrc)) {
            rc = md_error_set(err, qrc, "%s: %s", it->symbol, e.msg);
            break;
        }
        if (qrc) {
            if (sink->error) sink->error(sink->ctx, it->symbol, qrc, e.msg);
            continue;
        }
        if (q.desc) md_bars_reverse(h.bars.v, h.bars.n);
        if (h.bars.n) {
            if (strcmp(h.from, "store") == 0)
                from_store = 1;
            else if (strcmp(h.from, "sources") == 0)
                from_sources = 1;
            else
                from_store = from_sources = 1;
        }
        if (sink->rows && (rc = sink->rows(sink->ctx, it->symbol, &h, err)) != 0) break;
        out->count += h.bars.n;
        if (h.page.truncated) {
            out->truncated = 1;
            out->next = i;
            out->has_next_ts = 1;
            out->next_ts = h.page.next;
            break;
        }
        if (limit && out->count >= limit) { /* full: the next symbol starts the next page */
            size_t k = next_item(r, i + 1);
            if (k < r->n) {
                out->truncated = 1;
                out->next = k;
            }
            break;
        }
    }
    md_history_deinit(&h);
    out->from = from_sources ? (from_store ? "mixed" : "sources") : "store";
    return rc;
}

void md_multi_cursor(const md_multi_page *p, md_buf *out)
{
    md_buf_printf(out, "%zu", p->next);
    if (p->has_next_ts) {
        char ts[40];
        md_time_format(p->next_ts, ts);
        md_buf_putc(out, ',');
        md_buf_puts(out, ts);
    }
}

/* -- the REST answer ---------------------------------------------------------------------- */

typedef struct render {
    const md_multi_req *r;
    md_buf *body;
    md_buf errors;      /* JSON: the "errors" items; CSV: the X-Symbol-Errors value */
    md_buf adjustments; /* JSON: the "adjustments" members */
    size_t rows;
} render;

static int put_rows(void *ctx, const char *symbol, const md_history *h, md_error *err)
{
    (void)err;
    render *x = ctx;
    if (x->r->base.csv) {
        md_render_symbol_bars_csv_rows(x->body, symbol, h->bars.v, h->bars.n, &h->span);
    } else {
        md_buf_reserve(x->body, h->bars.n * 210);
        for (size_t i = 0; i < h->bars.n; i++) {
            if (x->rows + i) md_buf_putc(x->body, ',');
            md_render_symbol_bar_json(x->body, symbol, &h->bars.v[i], &h->span);
        }
        if (h->adj.mode != MD_ADJUST_NONE) {
            if (x->adjustments.len) md_buf_putc(&x->adjustments, ',');
            md_buf_json_str(&x->adjustments, symbol);
            md_buf_putc(&x->adjustments, ':');
            md_render_adjustment_json(&x->adjustments, &h->adj);
        }
    }
    x->rows += h->bars.n;
    return 0;
}

/* A header value carries only symbol characters: the rest (of an item that is not a
 * symbol) percent-encoded, so no item can break the header. */
static void put_header_symbol(md_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr(".-^=/_", *p))
            md_buf_putc(b, (char)*p);
        else
            md_buf_printf(b, "%%%02X", *p);
    }
}

static void put_error(void *ctx, const char *symbol, int rc, const char *message)
{
    render *x = ctx;
    if (x->r->base.csv) {
        if (x->errors.len) md_buf_puts(&x->errors, ", ");
        put_header_symbol(&x->errors, symbol);
        md_buf_putc(&x->errors, ':');
        md_buf_puts(&x->errors, md_error_code(rc));
        return;
    }
    if (x->errors.len) md_buf_putc(&x->errors, ',');
    md_buf_puts(&x->errors, "{\"symbol\":");
    md_buf_json_str(&x->errors, symbol);
    md_buf_puts(&x->errors, ",\"code\":");
    md_buf_json_str(&x->errors, md_error_code(rc));
    md_buf_puts(&x->errors, ",\"message\":");
    md_buf_json_str(&x->errors, message && *message ? message : md_error_default(rc));
    md_buf_putc(&x->errors, '}');
}

/* The next page's URL: the same request with cursor set. */
static void next_url(const md_multi_req *r, const md_multi_page *p, md_buf *out)
{
    if (!p->truncated || !r->base.link) return;
    md_buf cur = MD_BUF_INIT;
    md_multi_cursor(p, &cur);
    r->base.link->url(r->base.link->ctx, "cursor", cur.data, out);
    md_buf_deinit(&cur);
}

int md_query_history_multi_render(md_services *svc, const md_multi_req *r, md_buf *body,
                                  const char **ct, md_buf *next, md_buf *csv_errors, md_error *err)
{
    render x = {.r = r, .body = body, .errors = MD_BUF_INIT, .adjustments = MD_BUF_INIT};
    md_multi_sink sink = {put_rows, put_error, &x};
    md_multi_page p;
    if (r->base.csv) {
        *ct = CSV;
        md_render_symbol_bars_csv_header(body);
    } else {
        *ct = JSON;
        md_buf_puts(body, "{\"symbols\":[");
        size_t k = 0;
        for (size_t i = 0; i < r->n; i++) {
            if (r->item[i].invalid || r->item[i].repeat) continue;
            if (k++) md_buf_putc(body, ',');
            md_buf_json_str(body, r->item[i].symbol);
        }
        md_buf_puts(body, "],\"interval\":\"");
        md_buf_puts(body, md_interval_name(r->base.iv));
        md_buf_putc(body, '"');
        if (r->base.desc) md_buf_puts(body, ",\"order\":\"desc\"");
        md_buf_puts(body, ",\"bars\":[");
    }
    int rc = md_query_history_multi(svc, r, &sink, &p, err);
    if (rc == 0) {
        md_buf_reset(next);
        next_url(r, &p, next);
        if (r->base.csv) {
            md_buf_reset(csv_errors);
            if (x.errors.len) md_buf_append(csv_errors, x.errors.data, x.errors.len);
        } else {
            md_buf_puts(body, "],\"count\":");
            md_buf_int(body, (int64_t)p.count);
            md_buf_puts(body, ",\"from\":\"");
            md_buf_puts(body, p.from);
            md_buf_puts(body, "\",\"adjust\":\"");
            md_buf_puts(body, md_adjust_name(r->base.adjust));
            md_buf_putc(body, '"');
            if (r->base.adjust != MD_ADJUST_NONE) {
                md_buf_puts(body, ",\"adjustments\":{");
                if (x.adjustments.len) md_buf_append(body, x.adjustments.data, x.adjustments.len);
                md_buf_putc(body, '}');
            }
            md_buf_puts(body, ",\"errors\":[");
            if (x.errors.len) md_buf_append(body, x.errors.data, x.errors.len);
            md_buf_putc(body, ']');
            md_buf_puts(body, p.truncated ? ",\"truncated\":true" : ",\"truncated\":false");
            if (next->len) {
                md_buf_puts(body, ",\"next\":");
                md_buf_json_str(body, next->data);
            }
            md_buf_putc(body, '}');
        }
    }
    md_buf_deinit(&x.errors);
    md_buf_deinit(&x.adjustments);
    return rc;
}
