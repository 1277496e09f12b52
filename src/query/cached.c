/* cached.c - the cache-aware read path for /price and /historical, and the cache's hooks
 * on the writer (invalidation, write-through) and at start (warming).
 *
 *   md_query_*_answer:  L1 (on the loop, no allocation) ─miss─> [worker] L1 again ─> L2 ─>
 *                       store ─> render ─> md_cache_put (both levels) ─> answer
 *
 * The cache stores rendered bodies. A /price body names the level that answered in its
 * "cache" field: the copy kept in L1 says "l1", the copy in Redis "l2", the answer built
 * from the store "miss". /historical bodies are the same at every level (the X-Cache
 * header tells the level). Answers for ?source= (one provider, no failover) are not cached,
 * nor CSV pages with a next one (only a header can carry its link); a JSON page's "next" is
 * the request's canonical URL by path (canon_url), the same for every client and Host. A
 * /price answer is cached per max_age (its "stale" flag depends on it).
 *
 * Generations are kept per scope: "<SYM>" for the symbol's bars (/historical) and
 * "<SYM>~q" for its price. A quote changes only the price; a bar changes both (the price
 * may be the last close). */
#include "query/query.h"

#include "cache/cache.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/render.h"
#include "core/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON "application/json"
#define CSV "text/csv; charset=utf-8"
#define HOT_MAX 64

/* The price scope of a symbol ("AAPL~q"); '~' never occurs in a symbol. */
static const char *price_scope(char *buf, const char *symbol)
{
    snprintf(buf, MD_CACHE_SCOPE_MAX + 1, "%s~q", symbol);
    return buf;
}

void md_answer_init(md_answer *a)
{
    memset(a, 0, sizeof *a);
}

void md_answer_deinit(md_answer *a)
{
    md_cache_entry_release(a->entry);
    md_buf_deinit(&a->body);
    md_buf_deinit(&a->next);
    memset(a, 0, sizeof *a);
}

const char *md_answer_body(const md_answer *a, size_t *len)
{
    if (a->entry) return md_cache_entry_body(a->entry, len);
    *len = a->body.len;
    return a->body.data ? a->body.data : "";
}

static int cache_flags(int flags)
{
    return ((flags & MD_Q_NONBLOCK) ? MD_CACHE_L1_ONLY : 0) |
           ((flags & MD_Q_RETRY) ? MD_CACHE_NO_L1_MISS : 0);
}

static int from_cache(md_answer *out, md_cache_level lvl, md_cache_entry *e)
{
    out->entry = e;
    out->cache = lvl == MD_CACHE_L1 ? "l1" : "l2";
    out->content_type = md_cache_entry_content_type(e);
    return 0;
}

/* -- /price ---------------------------------------------------------------------------------- */

/* Renders p with "cache":"l1" and stores it; the tag's offset lets each level rewrite it. A
 * fresh answer is kept no longer than until its price turns stale (the flag must not lie). */
static void put_price(md_services *svc, const md_cache_key *k, const md_cache_fill *fill,
                      md_price *p)
{
    md_buf b = MD_BUF_INIT;
    p->cache = "l1";
    md_render_price_json(&b, p);
    int64_t ttl = svc->cfg->cache_quote_ttl_ms, now = md_now();
    if (!md_price_stale(p, now)) {
        int64_t fresh_ms = (p->as_of + p->max_age_s + 1 - now) * 1000;
        if (fresh_ms < ttl) ttl = fresh_ms > 0 ? fresh_ms : 1;
    }
    const char *tag = memmem(b.data, b.len, "\"cache\":\"l1\"", 12);
    if (tag) md_cache_put(svc->cache, k, fill, b.data, b.len, (long)(tag - b.data) + 9, JSON, ttl);
    md_buf_deinit(&b);
}

/* The key of a /price answer: one per max_age ("stale" depends on it); the configured
 * default's has no parameter. */
static int price_key(md_services *svc, md_cache_key *k, const char *symbol, int64_t max_age_s)
{
    char scope[MD_CACHE_SCOPE_MAX + 1], age[32];
    snprintf(age, sizeof age, "a%lld", (long long)max_age_s);
    int dflt = max_age_s == svc->cfg->price_max_age_s || max_age_s < 0;
    return md_cache_key_init(k, 'p', price_scope(scope, symbol), dflt ? NULL : age);
}

/* The max_age of a price key (write-through). */
static int64_t price_key_age(const md_services *svc, const md_cache_key *k)
{
    const char *p = strstr(k->s, "~q:a");
    return p ? strtoll(p + 4, NULL, 10) : svc->cfg->price_max_age_s;
}

int md_query_price_answer(md_services *svc, const char *symbol, int64_t max_age_s, int flags,
                          md_answer *out, md_error *err)
{
    md_cache_key k;
    md_cache_fill fill;
    int cached = svc->cache && price_key(svc, &k, symbol, max_age_s) == 0;
    if (cached) {
        md_cache_entry *e;
        md_cache_level lvl =
            md_cache_lookup(svc->cache, &k, max_age_s * 1000, cache_flags(flags), &e, &fill);
        if (lvl != MD_CACHE_MISS) return from_cache(out, lvl, e);
    }
    if (flags & MD_Q_NONBLOCK) return MD_EAGAIN;
    md_price p;
    int rc = md_query_price(svc, symbol, max_age_s, &p, err);
    if (rc) return rc;
    if (max_age_s < 0) p.max_age_s = svc->cfg->price_max_age_s; /* "any age" (warming) */
    if (cached) put_price(svc, &k, &fill, &p);
    p.cache = "miss";
    out->content_type = JSON;
    out->cache = svc->cache ? "miss" : NULL;
    md_buf_reset(&out->body);
    md_render_price_json(&out->body, &p);
    return 0;
}

/* -- /historical ----------------------------------------------------------------------------- */

static int history_key(md_cache_key *k, const md_history_req *req)
{
    char params[160];
    snprintf(params, sizeof params, "%s:%" PRId64 ":%" PRId64 ":%zu:%c:%d:%d:%d:%d:%d",
             md_interval_name(req->iv), req->start, req->end, req->limit, req->csv ? 'c' : 'j',
             req->cached_only, req->desc, req->partial_exclude, (int)req->adjust,
             (int)req->session);
    return md_cache_key_init(k, 'h', req->symbol, params);
}

/* The request a history key was made from (write-through). */
static int history_req_of_key(const md_cache_key *k, md_history_req *req)
{
    char iv[8], fmt;
    long long start, end;
    size_t limit;
    int co, desc, px, adj, ses;
    const char *p = strchr(k->s + 2, ':'); /* after "h:<SYM>" */
    /* the key was built by history_key(); one that does not parse back is skipped */
    if (k->s[0] != 'h' || !p ||
        /* NOLINTNEXTLINE(cert-err34-c) */
        sscanf(p + 1, "%7[^:]:%lld:%lld:%zu:%c:%d:%d:%d:%d:%d", iv, &start, &end, &limit, &fmt, &co,
               &desc, &px, &adj, &ses) != 10 ||
        adj < MD_ADJUST_NONE || adj > MD_ADJUST_ALL || ses < MD_SESSION_ALL ||
        ses > MD_SESSION_REGULAR)
        return -1;
    size_t sl = strlen(k->symbol); /* a history key's scope is the bare symbol */
    if (sl > MD_SYMBOL_MAX) return -1;
    memset(req, 0, sizeof *req);
    memcpy(req->symbol, k->symbol, sl + 1);
    if (md_interval_parse(iv, &req->iv, NULL) != 0) return -1;
    req->start = start;
    req->end = end;
    req->limit = limit;
    req->csv = fmt == 'c';
    req->cached_only = co;
    req->desc = desc;
    req->partial_exclude = px;
    req->adjust = (md_adjust)adj;
    req->session = (md_session_sel)ses;
    req->source = -1;
    return 0;
}

/* A closed range keeps longer than one reaching the present; an answer holding a bar that
 * is still forming (partial by the clock) lives at most until that bar's period ends, when
 * it stops being partial. */
static int64_t history_ttl(const md_services *svc, const md_history_req *req, const md_history *h)
{
    int closed = req->end < MD_TS_MAX && md_now() >= req->end + md_interval_seconds(req->iv);
    int64_t ttl = closed ? svc->cfg->cache_history_ttl_ms : svc->cfg->cache_recent_ttl_ms;
    int64_t now = md_now();
    for (size_t i = 0; i < h->bars.n; i++) {
        int64_t end = md_interval_next(req->iv, h->bars.v[i].ts);
        if (end > now && (end - now) * 1000 < ttl) ttl = (end - now) * 1000;
    }
    return ttl > 0 ? ttl : 1;
}

/* The next page of a /historical answer, by path and in canonical form (every parameter of
 * the route, MD_P_BARS in server/routes.def, from the request as parsed; those at their
 * default left out): a cached page is the same for every client and every Host, and is
 * rendered the same again by the write-through (md_http_answer makes it absolute). */
static void canon_url(void *ctx, const char *name, const char *value, md_buf *out)
{
    const md_history_req *req = ctx;
    char ts[40];
    md_buf_puts(out, "/historical/");
    for (const char *p = req->symbol; *p; p++) /* symbols: A-Z 0-9 . - ^ = / _ */
        if (*p == '^' || *p == '=')
            md_buf_printf(out, "%%%02X", (unsigned char)*p);
        else
            md_buf_putc(out, *p);
    md_buf_puts(out, "?interval=");
    md_buf_puts(out, md_interval_name(req->iv));
    int64_t start = strcmp(name, "start") ? req->start : MD_TS_MIN;
    int64_t end = strcmp(name, "end") ? req->end : MD_TS_MAX;
    if (start > MD_TS_MIN) md_time_format(start, ts), md_buf_printf(out, "&start=%s", ts);
    if (end < MD_TS_MAX) md_time_format(end, ts), md_buf_printf(out, "&end=%s", ts);
    md_buf_printf(out, "&%s=%s&limit=%zu", name, value, req->limit);
    if (req->desc) md_buf_puts(out, "&order=desc");
    if (req->partial_exclude) md_buf_puts(out, "&partial=exclude");
    if (req->csv) md_buf_puts(out, "&format=csv");
    if (req->cached_only) md_buf_puts(out, "&cached_only=true");
    if (req->source >= 0) md_buf_printf(out, "&source=%s", md_source_name(req->source));
    if (req->adjust != MD_ADJUST_DEFAULT)
        md_buf_printf(out, "&adjust=%s", md_adjust_name(req->adjust));
    if (req->session != MD_SESSION_ALL)
        md_buf_printf(out, "&session=%s", md_session_name(req->session));
}

/* A cached answer lives up to a minute (an hour for a closed range), far longer than the read
 * replica may lag (postgresql.read_max_lag_ms, measured every read_check_ms): one rendered
 * from the replica right after the symbol changed could miss that change for its whole life.
 * So the write-through below reads from the primary (the writing agent's hot answers hold
 * the write at once), and an answer rendered within that bound after a change this agent saw
 * (another agent's invalidation, or a miss right after a write) is kept only until the bound
 * has passed: how long that is, or 0 when it does not apply. */
static int64_t replica_window_left(md_services *svc, const char *symbol)
{
    const md_config *cfg = svc->cfg;
    if (!svc->cache || !cfg->pg_read_url || !*cfg->pg_read_url) return 0;
    int64_t window = cfg->pg_read_max_lag_ms + cfg->pg_read_check_ms;
    int64_t ago = md_cache_changed_ago_ms(svc->cache, symbol);
    return ago < window ? window - ago : 0;
}

/* Reads and renders req into b (content type into *ct, the next page's URL into next,
 * *ttl_ms how long the answer may be cached, 0 when it must not be: a CSV page with a next
 * one, whose link only a header can carry). store_only: read the store alone (the
 * write-through: a write must not trigger provider calls), and still render the answer
 * that asked would get - its links say what asked said. */
static int render_history(md_services *svc, const md_history_req *asked, int store_only, md_buf *b,
                          const char **ct, md_buf *next, int64_t *ttl_ms, md_error *err)
{
    md_link canon = {canon_url, (void *)asked};
    md_history_req r = *asked;
    r.link = &canon;
    if (store_only) r.cached_only = 1;
    const md_history_req *req = &r;
    md_history h;
    md_history_init(&h);
    int64_t left = replica_window_left(svc, req->symbol);
    int primary = md_store_reads_on_primary(0); /* the write-through's setting */
    md_store_reads_on_primary(primary);
    int rc = md_query_history(svc, req, &h, err);
    if (rc == 0) {
        *ttl_ms = h.page.truncated && req->csv ? 0 : history_ttl(svc, req, &h);
        if (!primary && left > 0 && *ttl_ms > left) *ttl_ms = left;
        if (req->desc) md_bars_reverse(h.bars.v, h.bars.n);
        if (req->csv) {
            *ct = CSV;
            md_render_bars_csv(b, h.bars.v, h.bars.n, &h.span);
            if (h.page.truncated) { /* CSV has no room for it: the Link header says it */
                md_buf tmp = MD_BUF_INIT;
                md_render_page_json(&tmp, &h.page, req->link, next);
                md_buf_deinit(&tmp);
            }
        } else {
            *ct = JSON;
            md_render_history_json(b, req, &h, next);
        }
    }
    md_history_deinit(&h);
    return rc;
}

int md_query_history_answer(md_services *svc, const md_history_req *req, int flags, md_answer *out,
                            md_error *err)
{
    md_cache_key k;
    md_cache_fill fill;
    int cached = svc->cache && req->source < 0 && history_key(&k, req) == 0;
    if (cached) {
        md_cache_entry *e;
        md_cache_level lvl = md_cache_lookup(svc->cache, &k, -1, cache_flags(flags), &e, &fill);
        if (lvl != MD_CACHE_MISS) return from_cache(out, lvl, e);
    }
    if (flags & MD_Q_NONBLOCK) return MD_EAGAIN;
    md_buf_reset(&out->body);
    int64_t ttl = 0;
    int rc = render_history(svc, req, 0, &out->body, &out->content_type, &out->next, &ttl, err);
    if (rc) return rc;
    if (cached && ttl > 0)
        md_cache_put(svc->cache, &k, &fill, out->body.data, out->body.len, -1, out->content_type,
                     ttl);
    out->cache = svc->cache ? "miss" : NULL;
    return 0;
}

/* -- write-through --------------------------------------------------------------------------- */

/* After a write of symbol: invalidate (the price scope, and with bars the bars scope too),
 * then store fresh answers - the price, and the /historical answers that were cached. */
static void refresh(md_services *svc, const char *symbol, int bars)
{
    md_cache_key k, hot[HOT_MAX];
    md_cache_fill after;
    char scope[MD_CACHE_SCOPE_MAX + 1];
    size_t n = 0;
    if (bars) {
        size_t max_hot = (size_t)svc->cfg->cache_write_through_max;
        if (max_hot > HOT_MAX) max_hot = HOT_MAX;
        n = md_cache_invalidate(svc->cache, symbol, &after, 'h', hot, max_hot);
        int was = md_store_reads_on_primary(1); /* the write just made: not on the replica yet */
        for (size_t i = 0; i < n; i++) {
            md_history_req req;
            if (history_req_of_key(&hot[i], &req) != 0) continue;
            md_buf b = MD_BUF_INIT;
            const char *ct = JSON;
            int64_t ttl = 0;
            /* from the store alone, and byte for byte the answer req gets (its next page too) */
            if (render_history(svc, &req, 1, &b, &ct, NULL, &ttl, NULL) == 0 && ttl > 0)
                md_cache_put(svc->cache, &hot[i], &after, b.data, b.len, -1, ct, ttl);
            md_buf_deinit(&b);
        }
        md_store_reads_on_primary(was);
    }
    /* the price answers clients were reading (one per max_age), and always the default's */
    n = md_cache_invalidate(svc->cache, price_scope(scope, symbol), &after, 'p', hot, HOT_MAX);
    md_price p;
    if (md_query_price_stored(svc, symbol, &p, NULL) != 0) return;
    int dflt = 0;
    for (size_t i = 0; i < n; i++) {
        p.max_age_s = price_key_age(svc, &hot[i]);
        dflt |= strstr(hot[i].s, "~q:a") == NULL;
        put_price(svc, &hot[i], &after, &p);
    }
    p.max_age_s = svc->cfg->price_max_age_s;
    if (!dflt && price_key(svc, &k, symbol, p.max_age_s) == 0) put_price(svc, &k, &after, &p);
}

void md_query_cache_symbol_changed(md_services *svc, const char *symbol)
{
    if (svc->cache) refresh(svc, symbol, 1);
}

static void on_bars(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                    const md_bar *bars, size_t n)
{
    refresh(ctx, symbol, 1);
}

static void on_quote(void *ctx, md_write_origin origin, const md_quote *q)
{
    refresh(ctx, q->symbol, 0);
}

void md_query_cache_attach(md_services *svc)
{
    if (!svc->cache || !svc->writer) return;
    md_writer_listener l = {
        .on_bars = on_bars, .on_quote = on_quote, .ctx = svc, .stage = MD_LISTEN_REFRESH};
    md_writer_add_listener(svc->writer, &l);
}

/* -- warming --------------------------------------------------------------------------------- */

typedef struct qs {
    char *names[16], *values[16];
    int n;
} qs;

static const char *qs_get(void *ctx, const char *name)
{
    qs *q = ctx;
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->names[i], name) == 0) return q->values[i];
    return NULL;
}

static int warm_symbol(md_services *svc, const char *symbol, char **queries, size_t nq)
{
    int n = 0;
    md_answer a;
    md_error e;
    md_answer_init(&a);
    if (md_query_price_answer(svc, symbol, -1, 0, &a, &e) == 0) n++;
    md_answer_deinit(&a);
    for (size_t i = 0; i < nq; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", queries[i]);
        qs q = {{0}, {0}, 0};
        for (char *save = NULL, *t = strtok_r(buf, "&", &save); t && q.n < 16;
             t = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(t, '=');
            q.names[q.n] = t;
            q.values[q.n++] = eq ? (*eq = 0, eq + 1) : "";
        }
        md_history_req req;
        if (md_history_req_parse(&req, symbol, qs_get, &q, svc->cfg, &e) != 0) {
            MD_WARN("cache", "warm: bad query '%s': %s", queries[i], e.msg);
            continue;
        }
        md_answer_init(&a);
        if (md_query_history_answer(svc, &req, 0, &a, &e) == 0) n++;
        md_answer_deinit(&a);
    }
    return n;
}

int md_query_cache_warm(md_services *svc)
{
    if (!svc->cache) return 0;
    char **syms, **queries;
    /* cache.warm_symbols, else the sources' watchlist */
    const char *list = svc->cfg->cache_warm_symbols && *svc->cfg->cache_warm_symbols
                           ? svc->cfg->cache_warm_symbols
                           : svc->cfg->sources_watchlist;
    size_t ns = md_config_split_list(list, &syms);
    size_t nq = md_config_split_list(svc->cfg->cache_warm_queries, &queries);
    int n = 0;
    int64_t t0 = md_mono_ms();
    for (size_t i = 0; i < ns; i++) {
        if (strcmp(syms[i], "*") == 0) {
            md_symbol_info *v = NULL;
            int k = md_store_list_symbols(svc->store, &v, NULL);
            for (int j = 0; j < k; j++)
                if (j == 0 || strcmp(v[j].symbol, v[j - 1].symbol) != 0)
                    n += warm_symbol(svc, v[j].symbol, queries, nq);
            md_free(v);
            continue;
        }
        char sym[MD_SYMBOL_MAX + 1];
        md_error e;
        if (md_symbol_normalize_str(syms[i], sym, &e) != 0) {
            MD_WARN("cache", "warm: %s", e.msg);
            continue;
        }
        n += warm_symbol(svc, sym, queries, nq);
    }
    if (ns)
        MD_INFO("cache", "warmed answers=%d symbols=%zu ms=%lld", n, ns,
                (long long)(md_mono_ms() - t0));
    md_config_free_list(syms, ns);
    md_config_free_list(queries, nq);
    return n;
}
