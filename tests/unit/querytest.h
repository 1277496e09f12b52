/* querytest.h - the read path (query/) over real parts: a SQLite store in a temporary file,
 * the writer, optionally the L1 cache, and a real source manager whose one source ("yahoo")
 * is scripted here and records every call, so a test can say which ranges the read path
 * asked for. The manager runs on a fake monotonic clock (qt_advance_ms) for its "asked
 * lately" memory; quotes and bars carry wall-clock times relative to md_now().
 *
 *   qt_open(QT_SOURCES | QT_CACHE);  ... qt.svc ...  qt_close();
 *
 * The source: quote -> qt.quote_rc, else a quote of qt.quote_price at md_now() +
 * qt.quote_age_s (negative: older); bars -> qt.bars_rc, else one bar per bucket of
 * [start, end) from qt.history_from on, close = 100 + bucket index % 50. */
#ifndef MD_QUERYTEST_H
#define MD_QUERYTEST_H

#include "cache/cache.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "ingest/writer.h"
#include "query/query.h"
#include "sources/manager.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

enum { QT_SOURCES = 1, QT_CACHE = 2 };

typedef struct qt_call {
    char kind; /* 'q' quote, 'b' bars */
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    int64_t start, end;
} qt_call;

static struct {
    md_config cfg;
    md_services svc;
    md_store *store;
    md_cache *cache;
    md_srcmgr *mgr;
    int64_t mono_ms;
    /* the scripted source */
    int quote_rc, bars_rc;
    double quote_price;
    int64_t quote_age_s;
    int64_t history_from;
    qt_call calls[64];
    int n_calls;
} qt;

static int qt_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    (void)src, (void)meta;
    qt_call *c = &qt.calls[qt.n_calls++ % 64];
    memset(c, 0, sizeof *c);
    c->kind = 'q';
    snprintf(c->symbol, sizeof c->symbol, "%s", symbol);
    if (qt.quote_rc)
        return md_error_set(err, qt.quote_rc, "scripted %s", md_error_code(qt.quote_rc));
    md_quote_init(out);
    snprintf(out->symbol, sizeof out->symbol, "%s", symbol);
    out->price = qt.quote_price;
    out->ts = md_now() + qt.quote_age_s;
    out->source = MD_SRC_YAHOO;
    return 0;
}

static double qt_close_at(md_interval iv, int64_t ts)
{
    return 100 + (double)((ts / md_interval_seconds(iv)) % 50);
}

static int qt_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    (void)src, (void)meta;
    qt_call *c = &qt.calls[qt.n_calls++ % 64];
    c->kind = 'b';
    snprintf(c->symbol, sizeof c->symbol, "%s", symbol);
    c->iv = iv;
    c->start = start;
    c->end = end;
    if (qt.bars_rc) return md_error_set(err, qt.bars_rc, "scripted %s", md_error_code(qt.bars_rc));
    int n = 0;
    for (int64_t t = md_interval_floor(iv, start); t < end; t = md_interval_next(iv, t)) {
        if (t < start || t < qt.history_from) continue;
        md_bar b;
        md_bar_init(&b);
        b.ts = t;
        b.open = b.close = qt_close_at(iv, t);
        b.high = b.close + 1;
        b.low = b.close - 1;
        b.volume = 1000;
        b.source = MD_SRC_YAHOO;
        md_bar_vec_push(out, &b);
        n++;
    }
    return n;
}

static int qt_supports(const md_source *src, md_interval iv)
{
    (void)src;
    return iv != MD_IV_4H; /* one interval no source offers */
}

static void qt_free(md_source *src)
{
    md_free(src);
}

static const md_source_vtable qt_vt = {
    .name = "yahoo",
    .id = MD_SRC_YAHOO,
    .quote = qt_quote,
    .bars = qt_bars,
    .supports = qt_supports,
    .free = qt_free,
};

static int64_t qt_clock(void *ctx)
{
    (void)ctx;
    return qt.mono_ms;
}

static int64_t qt_wall(void *ctx)
{
    (void)ctx;
    return md_now_ms();
}

static void qt_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    qt.mono_ms += ms;
}

/* Moves the manager's clock (its memory of what was asked when). */
static inline void qt_advance_ms(int64_t ms)
{
    qt.mono_ms += ms;
}

static inline void qt_open(int what)
{
    md_services *svc = &qt.svc;
    memset(svc, 0, sizeof *svc);
    md_log_set_level(MD_LOG_ERROR);
    md_config_init(&qt.cfg);
    qt.quote_rc = qt.bars_rc = 0;
    qt.quote_price = 123.25;
    qt.quote_age_s = 0;
    qt.history_from = MD_TS_MIN;
    qt.n_calls = 0;
    qt.mono_ms = 1000000;
    char url[600];
    md_test_sqlite_url("query.db", url, sizeof url);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &qt.store, &err), 0, "%s", err.msg);
    svc->cfg = &qt.cfg;
    svc->store = qt.store;
    svc->writer = md_writer_new(qt.store);
    if (what & QT_CACHE) {
        md_cache_options o;
        md_cache_options_default(&o);
        cr_assert_eq(md_cache_new(&o, &qt.cache, &err), 0, "%s", err.msg);
        svc->cache = qt.cache;
        md_query_cache_attach(svc);
    }
    if (what & QT_SOURCES) {
        md_srcmgr_opts o;
        md_srcmgr_opts_from_config(&o, &qt.cfg);
        o.max_retries = 0;
        o.circuit.failures = 1000;
        o.circuit.failure_ratio = 0;
        qt.mgr = md_srcmgr_new(&o);
        md_srcmgr_clock clk = {qt_clock, qt_wall, qt_sleep, NULL};
        md_source *src = md_calloc(1, sizeof *src);
        src->vt = &qt_vt;
        cr_assert_eq(md_srcmgr_add(qt.mgr, "yahoo", src, 0, 0, 0, NULL), 0);
        md_srcmgr_set_clock(qt.mgr, &clk, 7);
        svc->sources = qt.mgr;
    }
}

static inline void qt_close(void)
{
    md_writer_free(qt.svc.writer);
    md_srcmgr_free(qt.mgr);
    md_cache_free(qt.cache);
    md_store_close(qt.store);
    md_config_deinit(&qt.cfg);
    qt.mgr = NULL;
    qt.cache = NULL;
    qt.store = NULL;
}

/* Stores bars of iv at the given times through the writer (close from qt_close_at unless
 * close > 0); asserts every one was accepted. */
static inline void qt_put_bars(const char *symbol, md_interval iv, const int64_t *ts, size_t n,
                               double close)
{
    md_bar *v = md_calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        md_bar_init(&v[i]);
        v[i].ts = ts[i];
        v[i].open = v[i].close = close > 0 ? close : qt_close_at(iv, ts[i]);
        v[i].high = v[i].close + 1;
        v[i].low = v[i].close - 1;
        v[i].volume = 500;
        v[i].source = MD_SRC_CSV;
    }
    md_series s = {symbol, iv, v, n};
    md_write req = {.origin = MD_WRITE_INGEST, .series = &s, .n_series = 1};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    cr_assert_eq(md_writer_write(qt.svc.writer, &req, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.accepted, n, "%zu of %zu bars accepted", res.accepted, n);
    md_write_result_deinit(&res);
    md_free(v);
}

/* Stores every bucket of iv in [start, end). */
static inline void qt_put_range(const char *symbol, md_interval iv, int64_t start, int64_t end)
{
    size_t n = 0;
    for (int64_t t = start; t < end; t = md_interval_next(iv, t)) n++;
    int64_t *ts = md_calloc(n ? n : 1, sizeof *ts);
    n = 0;
    for (int64_t t = start; t < end; t = md_interval_next(iv, t)) ts[n++] = t;
    qt_put_bars(symbol, iv, ts, n, 0);
    md_free(ts);
}

/* Stores a quote of price at md_now() + age_s. */
static inline void qt_put_quote(const char *symbol, double price, int64_t age_s)
{
    md_quote q;
    md_quote_init(&q);
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    q.price = price;
    q.ts = md_now() + age_s;
    q.source = MD_SRC_INGEST;
    md_write req = {.origin = MD_WRITE_INGEST, .quotes = &q, .n_quotes = 1};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    cr_assert_eq(md_writer_write(qt.svc.writer, &req, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.accepted, 1);
    md_write_result_deinit(&res);
}

/* Request parameters for md_history_req_parse and the like: get(&p, name). */
typedef struct {
    const char *k[8], *v[8];
} params;

static inline const char *get(void *ctx, const char *name)
{
    params *p = ctx;
    for (int i = 0; i < 8 && p->k[i]; i++)
        if (strcmp(p->k[i], name) == 0) return p->v[i];
    return NULL;
}

/* Epoch seconds of "2024-03-04" or an RFC 3339 time. */
static inline int64_t qt_t(const char *s)
{
    int64_t t;
    md_error err;
    if (md_time_parse_str(s, &t, &err) != 0) abort();
    return t;
}

/* The number of bars calls, and the k-th one. */
static inline int qt_bars_calls(void)
{
    int n = 0;
    for (int i = 0; i < qt.n_calls; i++) n += qt.calls[i].kind == 'b';
    return n;
}

static inline const qt_call *qt_bars_call(int k)
{
    for (int i = 0; i < qt.n_calls; i++)
        if (qt.calls[i].kind == 'b' && k-- == 0) return &qt.calls[i];
    return NULL;
}

#endif
