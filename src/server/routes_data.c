/* routes_data.c - /symbols, /price/{symbol}, /prices, /historical/{symbol}, /historical. */
#include "server/routes.h"

#include "core/config.h"
#include "core/mem.h"
#include "core/render.h"
#include "core/timefmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int md_route_symbols(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_symbol_info *v = NULL;
    int n = md_store_list_symbols(svc->store, &v, err);
    if (n < 0) return n;
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"symbols\":[");
    int i = 0, first = 1;
    while (i < n) {
        /* one entry per symbol with its intervals */
        int j = i;
        int64_t first_ts = v[i].first_ts, last_ts = v[i].last_ts, count = 0;
        while (j < n && strcmp(v[j].symbol, v[i].symbol) == 0) {
            if (v[j].first_ts < first_ts) first_ts = v[j].first_ts;
            if (v[j].last_ts > last_ts) last_ts = v[j].last_ts;
            count += v[j].count;
            j++;
        }
        if (!first) md_buf_putc(b, ',');
        first = 0;
        md_buf_puts(b, "{\"symbol\":");
        md_buf_json_str(b, v[i].symbol);
        md_buf_puts(b, ",\"intervals\":[");
        for (int k = i; k < j; k++) {
            if (k > i) md_buf_putc(b, ',');
            md_buf_puts(b, "{\"interval\":\"");
            md_buf_puts(b, md_interval_name(v[k].iv));
            md_buf_puts(b, "\",\"first\":");
            md_buf_ts(b, v[k].first_ts, 1);
            md_buf_puts(b, ",\"last\":");
            md_buf_ts(b, v[k].last_ts, 1);
            md_buf_puts(b, ",\"count\":");
            md_buf_int(b, v[k].count);
            md_buf_putc(b, '}');
        }
        md_buf_puts(b, "],\"first\":");
        md_buf_ts(b, first_ts, 1);
        md_buf_puts(b, ",\"last\":");
        md_buf_ts(b, last_ts, 1);
        md_buf_puts(b, ",\"count\":");
        md_buf_int(b, count);
        md_buf_putc(b, '}');
        i = j;
    }
    md_buf_puts(b, "],\"count\":");
    int nsym = 0;
    for (int k = 0; k < n; k++)
        if (k == 0 || strcmp(v[k].symbol, v[k - 1].symbol) != 0) nsym++;
    md_buf_int(b, nsym);
    md_buf_putc(b, '}');
    md_free(v);
    return 0;
}

static int query_flags(const md_http_req *req)
{
    return (req->on_loop ? MD_Q_NONBLOCK : 0) | (req->tried_inline ? MD_Q_RETRY : 0);
}

static int parse_max_age(const md_services *svc, const md_http_req *req, int64_t *out,
                         md_error *err)
{
    *out = svc->cfg->price_max_age_s;
    const char *v = md_http_param_get(req, "max_age");
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > 31536000)
        return md_error_set(err, MD_EPARAM, "max_age: '%.20s' is not seconds 0..31536000", v);
    *out = x;
    return 0;
}

int md_route_price(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    char sym[MD_SYMBOL_MAX + 1];
    int rc = md_symbol_normalize_str(req->capture, sym, err);
    if (rc) return rc;
    int64_t max_age;
    if ((rc = parse_max_age(svc, req, &max_age, err))) return rc;
    /* the newest price is the traded price under every adjustment (docs/API.md): the
     * parameter is checked, and changes nothing */
    md_adjust adj;
    if ((rc = md_query_adjust_parse(md_http_param_get(req, "adjust"), &adj, err))) return rc;
    const char *sv = md_http_param_get(req, "source");
    if (sv) { /* one named source: never cached, never on the loop */
        int source = md_source_parse(sv);
        if (source < 0 || source == MD_SRC_UNKNOWN)
            return md_error_set(err, MD_EPARAM, "source: unknown source '%.20s'", sv);
        if (req->on_loop) return MD_EAGAIN;
        md_price p;
        rc = md_query_price_from(svc, sym, max_age, source, &p, err);
        if (rc) return rc;
        md_render_price_json(md_http_json(resp, 200), &p);
        return 0;
    }
    md_answer a;
    md_answer_init(&a);
    rc = md_query_price_answer(svc, sym, max_age, query_flags(req), &a, err);
    if (rc == 0) md_http_answer(req, resp, &a);
    md_answer_deinit(&a);
    return rc;
}

/* One item of /prices: the symbol asked, and its answer or error. */
typedef struct price_item {
    const char *asked;
    char sym[MD_SYMBOL_MAX + 1];
    int skip; /* a repeat of an earlier item: answered there */
    int rc;
    md_error err;
    md_answer a;
} price_item;

typedef struct price_job {
    md_services *svc;
    price_item *it;
    size_t *to_answer; /* indices into it of the symbols to answer */
    int64_t max_age;
} price_job;

static void answer_price(void *ctx, size_t k)
{
    price_job *j = ctx;
    price_item *it = &j->it[j->to_answer[k]];
    it->rc = md_query_price_answer(j->svc, it->sym, j->max_age, 0, &it->a, &it->err);
}

int md_route_prices(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    const char *list = md_http_param_get(req, "symbols");
    if (!list || !*list)
        return md_error_set(err, MD_EPARAM,
                            "symbols: give a comma-separated list, "
                            "e.g. /prices?symbols=AAPL,MSFT");
    int64_t max_age;
    int rc = parse_max_age(svc, req, &max_age, err);
    if (rc) return rc;
    char **items;
    size_t n = md_config_split_list(list, &items);
    if (n == 0) {
        md_config_free_list(items, n);
        return md_error_set(err, MD_EPARAM, "symbols: empty list");
    }
    if (n > (size_t)svc->cfg->max_symbols) {
        md_config_free_list(items, n);
        return md_error_set(err, MD_EPARAM, "symbols: at most %lld symbols per call (got %zu)",
                            (long long)svc->cfg->max_symbols, n);
    }
    price_item *it = md_calloc(n, sizeof *it);
    size_t *to_answer = md_calloc(n, sizeof *to_answer), nt = 0;
    for (size_t i = 0; i < n; i++) {
        it[i].asked = items[i];
        md_answer_init(&it[i].a);
        it[i].rc = md_symbol_normalize_str(items[i], it[i].sym, &it[i].err);
        if (it[i].rc) continue; /* not a symbol: listed in errors each time */
        /* a repeated symbol (AAPL,aapl) is answered once, at its first place, as /historical */
        for (size_t k = 0; k < i && !it[i].skip; k++)
            it[i].skip = it[k].rc == 0 && !it[k].skip && strcmp(it[k].sym, it[i].sym) == 0;
        if (!it[i].skip) to_answer[nt++] = i;
    }
    /* the symbols side by side: one whose sources hang does not spend the others' budget */
    price_job job = {svc, it, to_answer, max_age};
    md_query_each(svc, nt, answer_price, &job);
    md_buf prices = MD_BUF_INIT, errors = MD_BUF_INIT;
    int np = 0, ne = 0;
    for (size_t i = 0; i < n; i++) {
        if (it[i].skip) continue;
        if (it[i].rc == 0) {
            if (np++) md_buf_putc(&prices, ',');
            size_t len;
            const char *body = md_answer_body(&it[i].a, &len);
            md_buf_append(&prices, body, len);
        } else {
            if (ne++) md_buf_putc(&errors, ',');
            md_buf_puts(&errors, "{\"symbol\":");
            md_buf_json_str(&errors, it[i].rc == MD_ESYMBOL ? it[i].asked : it[i].sym);
            md_buf_puts(&errors, ",\"code\":");
            md_buf_json_str(&errors, md_error_code(it[i].rc));
            md_buf_puts(&errors, ",\"message\":");
            md_buf_json_str(&errors, it[i].err.msg);
            md_buf_putc(&errors, '}');
        }
    }
    for (size_t i = 0; i < n; i++) md_answer_deinit(&it[i].a);
    md_free(to_answer);
    md_free(it);
    md_config_free_list(items, n);
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"prices\":[");
    if (prices.len) md_buf_append(b, prices.data, prices.len);
    md_buf_puts(b, "],\"errors\":[");
    if (errors.len) md_buf_append(b, errors.data, errors.len);
    md_buf_puts(b, "]}");
    md_buf_deinit(&prices);
    md_buf_deinit(&errors);
    return 0;
}

int md_route_historical(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_history_req hr;
    int rc = md_history_req_parse(&hr, req->capture, md_http_param_getter, req, svc->cfg, err);
    if (rc) return rc;
    md_answer a; /* its next page by path (cacheable): md_http_answer makes it absolute */
    md_answer_init(&a);
    rc = md_query_history_answer(svc, &hr, query_flags(req), &a, err);
    if (rc == 0) md_http_answer(req, resp, &a);
    md_answer_deinit(&a);
    return rc;
}

/* GET /historical?symbols=A,B,C: the long format of several symbols (query/history_multi.c),
 * each symbol's rows those of /historical/{symbol}. */
int md_route_historical_multi(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    const char *list = md_http_param_get(req, "symbols");
    char **items = NULL;
    size_t n = list ? md_config_split_list(list, &items) : 0;
    md_multi_req r;
    int rc = md_multi_req_parse(&r, (const char *const *)items, n, md_http_param_getter, req,
                                svc->cfg, (size_t)svc->cfg->max_symbols, err);
    if (items) md_config_free_list(items, n);
    /* a ?source= that cannot be asked fails every symbol alike: the request's error, as for
     * /historical/{symbol}, not one per symbol */
    if (rc == 0) rc = md_query_source_check(svc, r.base.source, r.base.cached_only, err);
    if (rc == 0) {
        md_link link = md_http_link(req);
        r.base.link = &link;
        md_buf next = MD_BUF_INIT, errors = MD_BUF_INIT;
        const char *ct = NULL;
        md_buf *b = md_http_json(resp, 200);
        rc = md_query_history_multi_render(svc, &r, b, &ct, &next, &errors, err);
        if (rc == 0) {
            resp->content_type = ct;
            md_http_link_next(resp, next.data);
            if (errors.len) md_http_header(resp, "X-Symbol-Errors", errors.data);
        }
        md_buf_deinit(&next);
        md_buf_deinit(&errors);
    }
    md_multi_req_deinit(&r);
    return rc;
}
