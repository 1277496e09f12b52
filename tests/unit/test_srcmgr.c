/* The source manager (sources/manager.h) over small in-test sources on a fake clock:
 * failover order, ?source=NAME, circuit breaking, rate limits and Retry-After, retries of
 * transient errors only, error selection, coalescing of identical in-flight fetches; and on
 * the real clock, hedging, time budgets and bulkheads, with sources that hang until their
 * call is cancelled. */
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "sources/manager.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* -- a scripted source ----------------------------------------------------------------- */

typedef struct fake {
    md_source base;
    int script[32]; /* rc of each successive call; past the end: `dflt` */
    int n_script, dflt;
    int calls;
    int retry_after_s;
    double price;
    int supports_1m;
    int block; /* calls wait until released */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_call;
    int empty;       /* bars: answer the range with no bars */
    int hang;        /* calls wait for their cancellation (meta->cancel) */
    int need;        /* bars: requests the call needs, reserved through meta->more */
    int day_limit;   /* 429 with the "daily requests used up" flag */
    int cancelled;   /* calls that saw their cancellation */
    const char *msg; /* error message, when not the scripted one */
} fake;

static int next_rc(fake *f)
{
    int i = f->calls++;
    return i < f->n_script ? f->script[i] : f->dflt;
}

static void maybe_block(fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->in_call++;
    pthread_cond_broadcast(&f->cv);
    while (f->block) pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

/* A hanging provider: waits until the call is cancelled (or 10 s). */
static int hang(fake *f, md_fetch_meta *meta, md_error *err)
{
    __atomic_add_fetch(&f->in_call, 1, __ATOMIC_SEQ_CST);
    int c = md_cancel_sleep(meta->cancel, 10000);
    __atomic_sub_fetch(&f->in_call, 1, __ATOMIC_SEQ_CST);
    if (c) __atomic_add_fetch(&f->cancelled, 1, __ATOMIC_SEQ_CST);
    meta->requests = 1;
    return md_error_set(err, c ? MD_ECANCELED : MD_ETIMEOUT, "%s: %s", f->base.vt->name,
                        c ? "cancelled" : "no answer");
}

static int fake_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                      md_error *err)
{
    fake *f = (fake *)src;
    if (f->hang) return hang(f, meta, err);
    maybe_block(f);
    int rc = next_rc(f);
    if (rc && f->day_limit) meta->day_exhausted = 1;
    if (rc && f->msg) {
        meta->requests = 1;
        return md_error_set(err, rc, "%s", f->msg);
    }
    meta->requests = 1;
    if (rc == MD_ERATELIMIT) {
        meta->http_status = 429;
        meta->retry_after_s = f->retry_after_s;
    }
    if (rc)
        return md_error_set(err, rc, "scripted %s for %s (key SECRETKEY123)", md_error_code(rc),
                            symbol);
    md_quote_init(out);
    out->price = f->price;
    out->ts = 1700000000;
    out->source = (uint8_t)src->vt->id;
    return 0;
}

static int fake_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                     md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    fake *f = (fake *)src;
    if (f->hang) return hang(f, meta, err);
    maybe_block(f);
    if (f->need > 1) { /* an operation of several requests reserves them first */
        meta->requests = 0;
        if (meta->more && meta->more(meta->more_ctx, f->need - meta->granted, err) != 1) {
            f->calls++;
            return err->rc;
        }
        meta->granted = f->need;
        meta->requests = f->need;
    }
    if (f->empty) {
        f->calls++;
        meta->requests = 1;
        return 0;
    }
    /* a failure after a partial page must not leave bars behind */
    md_bar b;
    md_bar_init(&b);
    b.ts = start;
    b.open = b.high = b.low = b.close = f->price;
    md_bar_vec_push(out, &b);
    int rc = next_rc(f);
    if (f->need <= 1) meta->requests = 2; /* two pages, the second charged after the fact */
    if (rc) return md_error_set(err, rc, "scripted %s", md_error_code(rc));
    b.ts = start + md_interval_seconds(iv);
    if (b.ts < end) md_bar_vec_push(out, &b);
    return 2;
}

static int fake_supports(const md_source *src, md_interval iv)
{
    return iv != MD_IV_1M || ((const fake *)src)->supports_1m;
}

static void fake_free(md_source *src)
{
    fake *f = (fake *)src;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    md_free(f);
}

static const md_source_vtable vt_yahoo = {"yahoo",       MD_SRC_YAHOO, fake_quote, fake_bars,
                                          fake_supports, NULL,         fake_free,  NULL};
static const md_source_vtable vt_finnhub = {"finnhub",     MD_SRC_FINNHUB, fake_quote, fake_bars,
                                            fake_supports, NULL,           fake_free,  NULL};
static const md_source_vtable vt_polygon = {"polygon",     MD_SRC_POLYGON, fake_quote, fake_bars,
                                            fake_supports, NULL,           fake_free,  NULL};
static const md_source_vtable vt_av = {
    "alphavantage", MD_SRC_ALPHAVANTAGE, fake_quote, fake_bars, fake_supports,
    NULL,           fake_free,           NULL};

static fake *mkfake(const md_source_vtable *vt, double price)
{
    fake *f = md_calloc(1, sizeof *f);
    f->base.vt = vt;
    f->price = price;
    f->retry_after_s = -1;
    f->base.api_key = (char *)"SECRETKEY123"; /* the manager registers it as a secret */
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return f;
}

static void script(fake *f, int dflt, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) f->script[i] = va_arg(ap, int);
    va_end(ap);
    f->n_script = n;
    f->dflt = dflt;
}

/* -- fake clock ------------------------------------------------------------------------ */

static int64_t now_ms = 1700000000000LL;
static int64_t slept_ms;
static int n_sleeps;

static int64_t clk_mono(void *ctx)
{
    (void)ctx;
    return __atomic_load_n(&now_ms, __ATOMIC_SEQ_CST);
}

static void clk_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    __atomic_add_fetch(&now_ms, ms, __ATOMIC_SEQ_CST);
    slept_ms += ms;
    n_sleeps++;
}

static md_srcmgr_opts default_opts(void)
{
    md_srcmgr_opts o = {.circuit = {3, 0, 20, 10, 30000},
                        .max_retries = 0,
                        .retry_base_ms = 100,
                        .retry_max_ms = 1000,
                        .pause_ms = 60000,
                        .health_latency_ms = 1000,
                        .background_reserve = 0.2};
    return o;
}

static md_srcmgr *mkmgr(md_srcmgr_opts o)
{
    md_srcmgr *m = md_srcmgr_new(&o);
    md_srcmgr_clock c = {clk_mono, clk_mono, clk_sleep, NULL};
    md_srcmgr_set_clock(m, &c, 12345);
    slept_ms = 0;
    n_sleeps = 0;
    return m;
}

static md_fetch_opts only(int id)
{
    md_fetch_opts fo = {id, 0, NULL};
    return fo;
}

static int quote(md_srcmgr *m, md_quote *q, md_fetch_result *r, md_error *e)
{
    return md_srcmgr_quote(m, "AAPL", NULL, q, r, e);
}

/* -- tests ----------------------------------------------------------------------------- */

Test(srcmgr, first_source_in_priority_answers)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(q.price, 10);
    cr_assert_eq(r.source, MD_SRC_YAHOO);
    cr_assert_str_eq(q.symbol, "AAPL");
    cr_assert_eq(b->calls, 0);
    md_srcmgr_free(m);
}

Test(srcmgr, fails_over_in_priority_order)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20), *c = mkfake(&vt_polygon, 30);
    script(a, MD_ETRANSIENT, 0);
    script(b, MD_EMALFORMED, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_srcmgr_add(m, "polygon", &c->base, 2, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(q.price, 30);
    cr_assert_eq(r.source, MD_SRC_POLYGON);
    cr_assert_eq(a->calls, 1);
    cr_assert_eq(b->calls, 1);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_str_eq(info.name, "yahoo");
    cr_assert_eq(info.failures, 1);
    cr_assert(strstr(info.last_error, "source_unavailable") != NULL, "%s", info.last_error);
    cr_assert(strstr(info.last_error, "SECRETKEY123") == NULL, "key leaked: %s", info.last_error);
    md_srcmgr_info_at(m, 2, &info);
    cr_assert_gt(info.last_success, 0);
    md_srcmgr_free(m);
}

Test(srcmgr, explicit_source_is_asked_alone_without_failover)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(b, MD_ETIMEOUT, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_error e;
    md_fetch_opts fo = only(MD_SRC_FINNHUB);
    cr_assert_eq(md_srcmgr_quote(m, "AAPL", &fo, &q, NULL, &e), MD_ETIMEOUT);
    cr_assert(strstr(e.msg, "finnhub") != NULL, "%s", e.msg);
    cr_assert_eq(a->calls, 0, "no failover with an explicit source");
    fo = only(MD_SRC_POLYGON);
    cr_assert_eq(md_srcmgr_quote(m, "AAPL", &fo, &q, NULL, &e), MD_EPARAM, "not configured");
    md_srcmgr_free(m);
}

Test(srcmgr, disabled_sources_are_listed_but_never_asked)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10);
    md_srcmgr_add(m, "polygon", NULL, 0, 5, 0, "POLYGON_API_KEY is not set");
    md_srcmgr_add(m, "yahoo", &a->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_YAHOO);
    cr_assert_eq(md_srcmgr_count(m), 2);
    cr_assert_eq(md_srcmgr_enabled(m), 1);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_str_eq(info.name, "polygon");
    cr_assert_eq(info.enabled, 0);
    cr_assert_str_eq(info.reason, "POLYGON_API_KEY is not set");
    md_fetch_opts fo = only(MD_SRC_POLYGON);
    cr_assert_eq(md_srcmgr_quote(m, "AAPL", &fo, &q, NULL, &e), MD_ENOSOURCE);
    cr_assert(strstr(e.msg, "POLYGON_API_KEY") != NULL, "%s", e.msg);
    md_srcmgr_free(m);
}

Test(srcmgr, circuit_opens_skips_the_source_then_probes_after_cooldown)
{
    md_srcmgr *m = mkmgr(default_opts()); /* 3 failures open, 30 s cooldown */
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, 0, 3, MD_ETRANSIENT, MD_ETRANSIENT, MD_ETRANSIENT);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    for (int i = 0; i < 3; i++) cr_assert_eq(quote(m, &q, &r, &e), 0);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.circuit, MD_CIRCUIT_OPEN);
    cr_assert_eq(md_metric_get(MD_M_SOURCE_CIRCUIT, "yahoo"), 2.0);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(quote(m, &q, &r, &e), 0);
        cr_assert_eq(r.source, MD_SRC_FINNHUB);
    }
    cr_assert_eq(a->calls, 3, "an open circuit sends nothing");
    now_ms += 30000;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.circuit, MD_CIRCUIT_HALF_OPEN);
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_YAHOO, "the probe succeeded");
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.circuit, MD_CIRCUIT_CLOSED);
    md_srcmgr_update_metrics(m);
    cr_assert_eq(md_metric_get(MD_M_SOURCE_CIRCUIT, "yahoo"), 0.0);
    md_srcmgr_free(m);
}

Test(srcmgr, not_found_fails_over_but_never_opens_the_circuit)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, MD_ENOTFOUND, 0);
    script(b, MD_ENOTFOUND, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_error e;
    for (int i = 0; i < 10; i++) cr_assert_eq(quote(m, &q, NULL, &e), MD_ENOTFOUND);
    cr_assert_eq(a->calls, 10);
    cr_assert_eq(b->calls, 10);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.circuit, MD_CIRCUIT_CLOSED);
    cr_assert_eq(info.failures, 0);
    cr_assert_float_eq(info.health, 1.0, 1e-9);
    md_srcmgr_free(m);
}

Test(srcmgr, empty_rate_limit_skips_the_source_without_calling_it)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 2, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    for (int i = 0; i < 5; i++) cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(a->calls, 2, "never a request over the limit");
    cr_assert_eq(b->calls, 3);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.rl_remaining, 0);
    cr_assert_gt(info.rl_reset_ms, 0);
    md_srcmgr_free(m);
}

Test(srcmgr, an_endpoint_class_budget_applies_on_top_of_the_providers)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 3, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    cr_assert_eq(md_srcmgr_set_class_limit(m, "yahoo", MD_EP_QUOTE, 1, 0), 0);
    cr_assert_eq(md_srcmgr_set_class_limit(m, "nosuch", MD_EP_QUOTE, 1, 0), MD_EINVAL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_YAHOO);
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_FINNHUB, "yahoo's quote budget is spent: failover");
    /* daily bars are another class: yahoo still answers, from its shared budget */
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_fetch_opts fo = only(MD_SRC_YAHOO);
    cr_assert_eq(md_srcmgr_bars(m, "AAPL", MD_IV_1D, 0, 86400 * 2, &fo, &bv, &r, &e), 2, "%s",
                 e.msg);
    cr_assert_eq(a->calls, 2);
    /* the bars call made two requests (pages): the shared budget of 3 is spent */
    cr_assert_lt(md_srcmgr_bars(m, "AAPL", MD_IV_1H, 0, 7200, &fo, &bv, &r, &e), 0);
    cr_assert_eq(e.rc, MD_ERATELIMIT, "%s", e.msg);
    cr_assert_eq(a->calls, 2, "never a request over either budget");
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.per_minute, 3);
    cr_assert_eq(info.cls[MD_EP_QUOTE].per_minute, 1);
    cr_assert_eq(info.cls[MD_EP_DAILY].per_minute, 0);
    md_bar_vec_deinit(&bv);
    md_srcmgr_free(m);
}

Test(srcmgr, rate_limited_everywhere_is_429)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 1, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 1, NULL);
    md_quote q;
    md_error e;
    cr_assert_eq(quote(m, &q, NULL, &e), 0);
    cr_assert_eq(quote(m, &q, NULL, &e), 0);
    cr_assert_eq(quote(m, &q, NULL, &e), MD_ERATELIMIT);
    cr_assert(strstr(e.msg, "yahoo: rate limited") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "finnhub: rate limited") != NULL, "%s", e.msg);
    cr_assert_eq(a->calls + b->calls, 2);
    md_srcmgr_free(m);
}

Test(srcmgr, provider_429_with_retry_after_pauses_the_source)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, 0, 1, MD_ERATELIMIT);
    a->retry_after_s = 20;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 100, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    cr_assert_eq(n_sleeps, 0, "a 429 is not retried");
    now_ms += 19000;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_FINNHUB, "still paused");
    cr_assert_eq(a->calls, 1);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.rl_remaining, 0);
    cr_assert_eq(info.rl_reset_ms, 1000);
    now_ms += 1000;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_YAHOO, "pause over");
    md_srcmgr_free(m);
}

Test(srcmgr, transient_errors_are_retried_with_backoff_then_fail_over)
{
    md_srcmgr_opts o = default_opts();
    o.max_retries = 2;
    o.circuit.failures = 10;
    md_srcmgr *m = mkmgr(o);
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, MD_ETRANSIENT, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(a->calls, 3, "first try + 2 retries");
    cr_assert_eq(n_sleeps, 2);
    /* delays: retry 0 in [50,100], retry 1 in [100,200] */
    cr_assert_geq(slept_ms, 150);
    cr_assert_leq(slept_ms, 300);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    md_srcmgr_free(m);
}

Test(srcmgr, a_retry_that_succeeds_answers_from_the_same_source)
{
    md_srcmgr_opts o = default_opts();
    o.max_retries = 1;
    md_srcmgr *m = mkmgr(o);
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, 0, 1, MD_ETIMEOUT);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_YAHOO);
    cr_assert_eq(a->calls, 2);
    cr_assert_eq(b->calls, 0);
    md_srcmgr_free(m);
}

Test(srcmgr, malformed_and_unauthorized_are_not_retried)
{
    md_srcmgr_opts o = default_opts();
    o.max_retries = 3;
    md_srcmgr *m = mkmgr(o);
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20), *c = mkfake(&vt_polygon, 30);
    script(a, MD_EMALFORMED, 0);
    script(b, MD_EUNAUTHSRC, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_srcmgr_add(m, "polygon", &c->base, 2, 0, 0, NULL);
    md_quote q;
    md_error e;
    cr_assert_eq(quote(m, &q, NULL, &e), 0);
    cr_assert_eq(a->calls, 1);
    cr_assert_eq(b->calls, 1);
    cr_assert_eq(n_sleeps, 0);
    md_srcmgr_free(m);
}

Test(srcmgr, every_source_failing_is_no_healthy_source_with_reasons)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, MD_ETRANSIENT, 0);
    script(b, MD_EMALFORMED, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_error e;
    cr_assert_eq(quote(m, &q, NULL, &e), MD_ENOSOURCE);
    cr_assert(strstr(e.msg, "yahoo: scripted source_unavailable") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "finnhub: scripted malformed_response") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "SECRETKEY123") == NULL, "%s", e.msg);
    md_srcmgr_free(m);
}

Test(srcmgr, bars_failover_never_keeps_half_an_answer)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, MD_EMALFORMED, 0);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 10, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_fetch_result r;
    md_error e;
    int n = md_srcmgr_bars(m, "AAPL", MD_IV_1D, 86400 * 100, 86400 * 110, NULL, &v, &r, &e);
    cr_assert_eq(n, 2, "%s", e.msg);
    cr_assert_eq(v.n, 2);
    cr_assert_eq(v.v[0].close, 20, "only finnhub's bars");
    cr_assert_eq(v.v[0].source, MD_SRC_FINNHUB);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.requests, 2, "both pages counted");
    cr_assert_eq(info.rl_remaining, 8, "both pages charged to the rate limit");
    md_bar_vec_deinit(&v);
    md_srcmgr_free(m);
}

Test(srcmgr, intervals_a_source_does_not_offer_skip_it)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    b->supports_1m = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_fetch_result r;
    md_error e;
    cr_assert_eq(md_srcmgr_bars(m, "AAPL", MD_IV_1M, 0, 600, NULL, &v, &r, &e), 2);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    cr_assert_eq(a->calls, 0);
    cr_assert(md_srcmgr_supports(m, -1, MD_IV_1M));
    cr_assert(!md_srcmgr_supports(m, MD_SRC_YAHOO, MD_IV_1M));
    md_fetch_opts fo = only(MD_SRC_YAHOO);
    cr_assert_eq(md_srcmgr_bars(m, "AAPL", MD_IV_1M, 0, 600, &fo, &v, &r, &e), MD_EINTERVAL);
    md_bar_vec_deinit(&v);
    md_srcmgr_free(m);
}

Test(srcmgr, scheduled_fetches_leave_a_reserve_of_the_rate_limit)
{
    md_srcmgr *m = mkmgr(default_opts()); /* reserve 0.2 */
    fake *a = mkfake(&vt_yahoo, 10);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 5, 0, NULL);
    md_quote q;
    md_error e;
    md_fetch_opts bg = {-1, 1, NULL};
    int ok = 0;
    for (int i = 0; i < 5; i++) ok += md_srcmgr_quote(m, "AAPL", &bg, &q, NULL, &e) == 0;
    cr_assert_eq(ok, 4, "background leaves ceil(5 * 0.2) = 1 token");
    cr_assert_eq(quote(m, &q, NULL, &e), 0, "interactive still served");
    md_srcmgr_free(m);
}

/* -- coalescing ------------------------------------------------------------------------ */

typedef struct {
    md_srcmgr *m;
    int rc;
    md_quote q;
    md_fetch_result r;
} req;

static void *run_quote(void *arg)
{
    req *x = arg;
    md_error e;
    x->rc = md_srcmgr_quote(x->m, "AAPL", NULL, &x->q, &x->r, &e);
    return NULL;
}

Test(srcmgr, identical_fetches_in_flight_are_coalesced)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 42);
    a->block = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    req r[4];
    pthread_t th[4];
    memset(r, 0, sizeof r);
    r[0].m = m;
    pthread_create(&th[0], NULL, run_quote, &r[0]);
    pthread_mutex_lock(&a->mu);
    while (a->in_call == 0) pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    for (int i = 1; i < 4; i++) {
        r[i].m = m;
        pthread_create(&th[i], NULL, run_quote, &r[i]);
    }
    /* the followers wait on the manager, not on the source */
    while (md_srcmgr_waiting(m) < 3) usleep(1000);
    cr_assert_eq(a->in_call, 1);
    pthread_mutex_lock(&a->mu);
    a->block = 0;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    int leaders = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(r[i].rc, 0);
        cr_assert_eq(r[i].q.price, 42);
        leaders += !r[i].r.coalesced;
    }
    cr_assert_eq(leaders, 1);
    cr_assert_eq(a->calls, 1, "one provider call for four identical requests");
    cr_assert_eq(r[0].r.coalesced, 0, "the first caller stores the data");
    md_srcmgr_free(m);
}

/* -- from the configuration ------------------------------------------------------------ */

static int ctor(const char *name, const md_config *cfg, md_source **out, md_error *err)
{
    (void)cfg;
    if (strcmp(name, "polygon") == 0)
        return md_error_set(err, MD_EUNAUTHSRC, "POLYGON_API_KEY is not set");
    if (strcmp(name, "yahoo") == 0) {
        *out = &mkfake(&vt_yahoo, 1)->base;
        return 0;
    }
    *out = &mkfake(&vt_finnhub, 2)->base;
    return 0;
}

Test(srcmgr, builds_from_the_priority_list_with_free_tier_limits)
{
    md_config cfg;
    md_config_init(&cfg);
    md_error e;
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "Polygon, finnhub,yahoo", "test", &e), 0);
    md_srcmgr *m = NULL;
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), 0, "%s", e.msg);
    cr_assert_not_null(m);
    cr_assert_eq(md_srcmgr_count(m), 7, "every known source is listed");
    cr_assert_eq(md_srcmgr_enabled(m), 2);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_str_eq(info.name, "polygon");
    cr_assert_eq(info.enabled, 0);
    cr_assert_eq(info.priority, 1);
    cr_assert_eq(info.per_minute, 5);
    md_srcmgr_info_at(m, 1, &info);
    cr_assert_str_eq(info.name, "finnhub");
    cr_assert_eq(info.per_minute, 60);
    cr_assert_eq(info.per_day, 0);
    md_srcmgr_info_at(m, 2, &info);
    cr_assert_str_eq(info.name, "yahoo");
    cr_assert_eq(info.priority, 3);
    md_srcmgr_info_at(m, 3, &info);
    cr_assert_str_eq(info.name, "alphavantage");
    cr_assert_eq(info.enabled, 0);
    cr_assert_eq(info.priority, 0);
    cr_assert_eq(info.per_minute, 5);
    cr_assert_eq(info.per_day, 25);
    md_quote q;
    md_fetch_result r;
    cr_assert_eq(md_srcmgr_quote(m, "X", NULL, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    md_srcmgr_free(m);

    cr_assert_eq(md_config_set(&cfg, "sources.priority", "yahoo,nosuch", "test", &e), MD_ECONFIG);
    cr_assert(strstr(e.msg, "nosuch") != NULL);
    md_free(cfg.sources_priority); /* past the configuration's check: the manager's own */
    cfg.sources_priority = md_strdup("yahoo,nosuch");
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), MD_ECONFIG);
    cr_assert(strstr(e.msg, "nosuch") != NULL);
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "yahoo,yahoo", "test", &e), 0);
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), MD_ECONFIG);
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "", "test", &e), 0);
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), 0);
    cr_assert_null(m, "no sources: store only");
    md_config_deinit(&cfg);
}

/* -- the provider path: empty ranges, endpoint classes, budgets, bulkheads, time -------------- */

Test(srcmgr, an_empty_range_fails_over_to_the_next_source)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20), *c = mkfake(&vt_polygon, 30);
    a->empty = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_srcmgr_add(m, "polygon", &c->base, 2, 0, 0, NULL);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_fetch_result r;
    md_error e;
    cr_assert_eq(md_srcmgr_bars(m, "AAPL", MD_IV_1D, 86400 * 100, 86400 * 110, NULL, &v, &r, &e), 2,
                 "%s", e.msg);
    cr_assert_eq(r.source, MD_SRC_FINNHUB, "yahoo had none: finnhub's bars");
    cr_assert_eq(a->calls, 1);
    cr_assert_eq(c->calls, 0);
    /* every source empty: an empty answer, not an error */
    b->empty = c->empty = 1;
    v.n = 0;
    cr_assert_eq(md_srcmgr_bars(m, "AAPL", MD_IV_1D, 86400 * 200, 86400 * 210, NULL, &v, &r, &e), 0,
                 "%s", e.msg);
    cr_assert_eq(c->calls, 1, "each was asked");
    md_bar_vec_deinit(&v);
    md_srcmgr_free(m);
}

Test(srcmgr, a_refused_endpoint_opens_its_class_circuit_only)
{
    md_srcmgr *m = mkmgr(default_opts()); /* 3 failures open */
    fake *a = mkfake(&vt_finnhub, 20);
    /* candles refused (a free key): every bars call fails; quotes answer */
    md_srcmgr_add(m, "finnhub", &a->base, 0, 0, 0, NULL);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_fetch_result r;
    md_error e;
    script(a, 0, 3, MD_EUNAUTHSRC, MD_EUNAUTHSRC, MD_EUNAUTHSRC);
    for (int i = 0; i < 3; i++)
        cr_assert_lt(
            md_srcmgr_bars(m, "AAPL", MD_IV_1D, 86400 * (i + 1), 86400 * (i + 2), NULL, &v, &r, &e),
            0);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.circuits[MD_EP_DAILY], MD_CIRCUIT_OPEN);
    cr_assert_eq(info.circuits[MD_EP_QUOTE], MD_CIRCUIT_CLOSED);
    cr_assert_eq(info.circuit, MD_CIRCUIT_OPEN, "the worst class shows");
    md_quote q;
    cr_assert_eq(quote(m, &q, &r, &e), 0, "the quote endpoint still answers: %s", e.msg);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    cr_assert_lt(md_srcmgr_bars(m, "AAPL", MD_IV_1D, 86400 * 10, 86400 * 11, NULL, &v, &r, &e), 0);
    cr_assert(strstr(e.msg, "circuit open for daily calls") != NULL, "%s", e.msg);
    cr_assert_eq(a->calls, 4, "no call into the open circuit");
    md_bar_vec_deinit(&v);
    md_srcmgr_free(m);
}

Test(srcmgr, an_operation_of_several_requests_reserves_them_or_sends_none)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_av, 10);
    a->need = 4; /* e.g. four months of intraday bars */
    md_srcmgr_add(m, "alphavantage", &a->base, 0, 5, 25, NULL);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_fetch_result r;
    md_error e;
    cr_assert_eq(md_srcmgr_bars(m, "IBM", MD_IV_1D, 86400 * 10, 86400 * 20, NULL, &v, &r, &e), 2,
                 "%s", e.msg);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.rl_remaining, 1, "four of five spent");
    cr_assert_lt(md_srcmgr_bars(m, "IBM", MD_IV_1D, 86400 * 30, 86400 * 40, NULL, &v, &r, &e), 0);
    cr_assert_eq(e.rc, MD_ERATELIMIT, "%s", e.msg);
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.rl_remaining, 0, "the first request's token; the other three never taken");
    cr_assert_eq(info.requests, 4 + 1);
    md_bar_vec_deinit(&v);
    md_srcmgr_free(m);
}

Test(srcmgr, a_daily_limit_notice_pauses_until_the_providers_day_ends)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_av, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, MD_ERATELIMIT, 0);
    a->day_limit = 1;
    a->msg = "alphavantage: rate limited: our standard API rate limit is 25 requests per day";
    md_srcmgr_add(m, "alphavantage", &a->base, 0, 5, 25, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    cr_assert_eq(md_srcmgr_set_day(m, "alphavantage", 0, "UTC"), 0);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    int64_t to_midnight = 86400000LL - now_ms % 86400000LL;
    cr_assert_eq(info.rl_remaining, 0);
    cr_assert_eq(info.rl_reset_ms, to_midnight, "paused until 00:00 UTC, not for a minute");
    now_ms += 61000;
    cr_assert_eq(quote(m, &q, &r, &e), 0);
    cr_assert_eq(a->calls, 1, "not asked again the same day");
    md_srcmgr_free(m);
}

Test(srcmgr, a_symbol_is_asked_of_the_providers_that_offer_its_class)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_av, 10), *b = mkfake(&vt_polygon, 20);
    md_srcmgr_add(m, "alphavantage", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "polygon", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    cr_assert_eq(md_srcmgr_quote(m, "EURUSD", NULL, &q, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.source, MD_SRC_POLYGON);
    cr_assert_eq(a->calls, 0, "alphavantage offers no FX here: skipped");
    cr_assert_str_eq(q.symbol, "EURUSD", "answered under the symbol asked");
    md_fetch_opts fo = only(MD_SRC_ALPHAVANTAGE);
    cr_assert_eq(md_srcmgr_quote(m, "EURUSD", &fo, &q, &r, &e), MD_EPARAM);
    cr_assert(strstr(e.msg, "does not offer fx") != NULL, "%s", e.msg);
    md_srcmgr_free(m);
}

Test(srcmgr, error_messages_name_each_provider_once)
{
    md_srcmgr *m = mkmgr(default_opts());
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    script(a, MD_EMALFORMED, 0);
    script(b, MD_EMALFORMED, 0);
    a->msg = "yahoo: malformed response: not JSON";
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_error e;
    cr_assert_eq(quote(m, &q, NULL, &e), MD_ENOSOURCE);
    cr_assert(strstr(e.msg, "yahoo: malformed response: not JSON") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "yahoo: yahoo") == NULL, "%s", e.msg);
    md_fetch_opts fo = only(MD_SRC_YAHOO);
    cr_assert_eq(md_srcmgr_quote(m, "AAPL", &fo, &q, NULL, &e), MD_EMALFORMED);
    cr_assert_str_eq(e.msg, "yahoo: malformed response: not JSON");
    md_srcmgr_free(m);
}

/* -- budgets beyond the process ------------------------------------------------------------- */

/* An in-memory stand-in for what services_quota.c keeps in Redis: one minute budget per
 * provider and key, shared by every manager given it. */
typedef struct shared {
    pthread_mutex_t mu;
    int used;
    int64_t paused_until;
} shared;

static int sh_take(void *ctx, const md_quota_ask *a, int64_t *retry)
{
    shared *s = ctx;
    pthread_mutex_lock(&s->mu);
    int ok = s->used + a->n <= a->b[0].per_minute;
    if (ok) s->used += a->n;
    pthread_mutex_unlock(&s->mu);
    if (!ok) *retry = 1000;
    return ok;
}

static void sh_pause(void *ctx, const char *p, const char *k, int64_t until)
{
    shared *s = ctx;
    s->paused_until = until;
}

Test(srcmgr, two_managers_on_one_shared_budget_never_exceed_it)
{
    shared sh = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    md_srcmgr_quota qb = {sh_take, sh_pause, NULL, &sh};
    md_srcmgr *m1 = mkmgr(default_opts()), *m2 = mkmgr(default_opts());
    fake *a1 = mkfake(&vt_av, 10), *a2 = mkfake(&vt_av, 10);
    md_srcmgr_add(m1, "alphavantage", &a1->base, 0, 5, 0, NULL);
    md_srcmgr_add(m2, "alphavantage", &a2->base, 0, 5, 0, NULL);
    md_srcmgr_set_quota(m1, &qb);
    md_srcmgr_set_quota(m2, &qb);
    md_quote q;
    md_error e;
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        ok += md_srcmgr_quote(m1, "IBM", NULL, &q, NULL, &e) == 0;
        ok += md_srcmgr_quote(m2, "IBM", NULL, &q, NULL, &e) == 0;
    }
    cr_assert_eq(ok, 5, "five between the two");
    cr_assert_eq(a1->calls + a2->calls, 5);
    cr_assert_eq(e.rc, MD_ERATELIMIT);
    md_srcmgr_free(m1);
    md_srcmgr_free(m2);
}

typedef struct docs {
    char key[8][128], val[8][4096];
    int n;
} docs;

static int doc_load(void *ctx, const char *key, char **text)
{
    docs *d = ctx;
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->key[i], key) == 0) {
            *text = md_strdup(d->val[i]);
            return 1;
        }
    return 0;
}

static int doc_save(void *ctx, const char *key, const char *text)
{
    docs *d = ctx;
    int i = 0;
    while (i < d->n && strcmp(d->key[i], key) != 0) i++;
    if (i == d->n) {
        if (d->n == 8) return MD_EIO;
        d->n++;
    }
    snprintf(d->key[i], sizeof d->key[i], "%s", key);
    snprintf(d->val[i], sizeof d->val[i], "%s", text);
    return 0;
}

Test(srcmgr, a_restart_reads_the_saved_budget_back)
{
    static docs d;
    memset(&d, 0, sizeof d);
    md_srcmgr_persist p = {doc_load, doc_save, &d};
    for (int restart = 0; restart < 3; restart++) {
        md_srcmgr *m = mkmgr(default_opts());
        fake *a = mkfake(&vt_av, 10);
        md_srcmgr_add(m, "alphavantage", &a->base, 0, 5, 25, NULL);
        md_srcmgr_set_persist(m, &p);
        md_quote q;
        md_error e;
        int ok = 0;
        for (int i = 0; i < 4; i++) ok += md_srcmgr_quote(m, "IBM", NULL, &q, NULL, &e) == 0;
        cr_assert_eq(ok, restart == 0 ? 4 : restart == 1 ? 1 : 0, "restart %d", restart);
        md_srcmgr_free(m);
        now_ms += 1000; /* three restarts within the minute */
    }
    cr_assert(strstr(d.key[0], "quota:alphavantage:") == d.key[0], "%s", d.key[0]);
    now_ms += 60000;
}

/* -- bulkheads, hedging, time budgets (real time) ------------------------------------------- */

static md_srcmgr *realmgr(int64_t hedge_ms, int max_concurrent, int max_queued)
{
    md_srcmgr_opts o = default_opts();
    o.hedge_ms = hedge_ms;
    o.max_concurrent = max_concurrent;
    o.max_queued = max_queued;
    return md_srcmgr_new(&o);
}

Test(srcmgr, a_hanging_primary_is_hedged_and_cancelled)
{
    md_srcmgr *m = realmgr(100, 4, 4);
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    a->hang = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    md_quote q;
    md_fetch_result r;
    md_error e;
    int64_t t0 = md_mono_ms();
    cr_assert_eq(quote(m, &q, &r, &e), 0, "%s", e.msg);
    int64_t took = md_mono_ms() - t0;
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    cr_assert_geq(took, 100, "the hedge delay first");
    cr_assert_lt(took, 1000, "%lld ms", (long long)took);
    for (int i = 0; i < 200 && __atomic_load_n(&a->cancelled, __ATOMIC_SEQ_CST) == 0; i++)
        usleep(5000);
    cr_assert_eq(a->cancelled, 1, "the losing call was cancelled");
    /* the loser records its failure after its cancelled call returns: wait for it */
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    for (int i = 0; i < 200 && info.failures == 0; i++) {
        usleep(5000);
        md_srcmgr_info_at(m, 0, &info);
    }
    cr_assert_eq(info.failures, 1, "too slow counts against the source");
    cr_assert(strstr(info.last_error, "another source answered") != NULL, "%s", info.last_error);
    md_srcmgr_free(m);
}

Test(srcmgr, the_time_budget_ends_the_fetch_and_its_calls)
{
    md_srcmgr *m = realmgr(0, 4, 4);
    fake *a = mkfake(&vt_yahoo, 10);
    a->hang = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_quote q;
    md_error e;
    int64_t t0 = md_mono_ms();
    md_srcmgr_budget_begin(t0 + 200);
    int rc = quote(m, &q, NULL, &e);
    md_srcmgr_budget_end();
    int64_t took = md_mono_ms() - t0;
    cr_assert_eq(rc, MD_ETIMEOUT, "%s", e.msg);
    cr_assert_geq(took, 195);
    cr_assert_lt(took, 600, "%lld ms", (long long)took);
    for (int i = 0; i < 200 && __atomic_load_n(&a->in_call, __ATOMIC_SEQ_CST); i++) usleep(5000);
    cr_assert_eq(a->in_call, 0, "the call was cancelled too");
    md_srcmgr_free(m);
}

Test(srcmgr, a_budget_spent_before_the_fetch_is_a_timeout_naming_the_sources)
{
    /* a later symbol of /prices: the earlier ones used the request's budget. Whether the
     * requester or the calls see the deadline first, it is a timeout (504), not a broken
     * source (503), and the sources are named */
    md_srcmgr *m = realmgr(0, 4, 4);
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    for (int i = 0; i < 50; i++) {
        md_quote q;
        md_error e;
        md_srcmgr_budget_begin(md_mono_ms() - 1);
        int rc = quote(m, &q, NULL, &e);
        md_srcmgr_budget_end();
        cr_assert_eq(rc, MD_ETIMEOUT, "round %d: %s", i, e.msg);
        cr_assert(strstr(e.msg, "yahoo") != NULL, "%s", e.msg);
    }
    cr_assert_eq(a->calls + b->calls, 0, "nothing is asked past the budget");
    md_srcmgr_free(m);
}

typedef struct bg {
    md_srcmgr *m;
    int rc;
    int64_t deadline;
} bg;

static void *hang_quote(void *arg)
{
    bg *x = arg;
    md_quote q;
    md_error e;
    md_fetch_opts fo = only(MD_SRC_YAHOO);
    md_srcmgr_budget_begin(x->deadline);
    x->rc = md_srcmgr_quote(x->m, "HUNG", &fo, &q, NULL, &e);
    md_srcmgr_budget_end();
    return NULL;
}

Test(srcmgr, a_full_bulkhead_is_skipped_at_once)
{
    md_srcmgr *m = realmgr(0, 1, 0); /* one call in flight, none waiting */
    fake *a = mkfake(&vt_yahoo, 10), *b = mkfake(&vt_finnhub, 20);
    a->hang = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    md_srcmgr_add(m, "finnhub", &b->base, 1, 0, 0, NULL);
    bg x = {m, 0, md_mono_ms() + 1500};
    pthread_t th;
    pthread_create(&th, NULL, hang_quote, &x);
    while (__atomic_load_n(&a->in_call, __ATOMIC_SEQ_CST) == 0) usleep(1000);
    md_quote q;
    md_fetch_result r;
    md_error e;
    int64_t t0 = md_mono_ms();
    cr_assert_eq(quote(m, &q, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.source, MD_SRC_FINNHUB);
    cr_assert_lt(md_mono_ms() - t0, 100, "no wait behind the hanging call");
    md_fetch_opts fo = only(MD_SRC_YAHOO);
    cr_assert_eq(md_srcmgr_quote(m, "AAPL", &fo, &q, NULL, &e), MD_ENOSOURCE);
    cr_assert(strstr(e.msg, "yahoo: busy (1 calls in flight, 0 waiting)") != NULL, "%s", e.msg);
    md_srcmgr_info info;
    md_srcmgr_info_at(m, 0, &info);
    cr_assert_eq(info.in_flight, 1);
    pthread_join(th, NULL);
    cr_assert_eq(x.rc, MD_ETIMEOUT);
    md_srcmgr_free(m);
}

Test(srcmgr, cancel_all_ends_a_hanging_fetch_at_once_and_starts_no_other)
{
    md_srcmgr *m = realmgr(0, 4, 4);
    fake *a = mkfake(&vt_yahoo, 10);
    a->hang = 1;
    md_srcmgr_add(m, "yahoo", &a->base, 0, 0, 0, NULL);
    bg x = {m, 0, 0}; /* no time budget: only the cancellation ends it */
    pthread_t th;
    pthread_create(&th, NULL, hang_quote, &x);
    while (__atomic_load_n(&a->in_call, __ATOMIC_SEQ_CST) == 0) usleep(1000);
    int64_t t0 = md_mono_ms();
    md_srcmgr_cancel_all(m);
    pthread_join(th, NULL);
    int64_t took = md_mono_ms() - t0;
    cr_assert_eq(x.rc, MD_ECANCELED, "a shutdown, not the source's timeout");
    cr_assert_lt(took, 500, "%lld ms: the hanging call held the shutdown", (long long)took);
    for (int i = 0; i < 200 && __atomic_load_n(&a->in_call, __ATOMIC_SEQ_CST); i++) usleep(5000);
    cr_assert_eq(a->cancelled, 1, "the provider call was cancelled");
    /* after it, a fetch asks no provider: it would hang again otherwise */
    a->hang = 0;
    int before = a->calls;
    md_quote q;
    md_error e;
    cr_assert_eq(md_srcmgr_quote(m, "AAPL", NULL, &q, NULL, &e), MD_ECANCELED, "%s", e.msg);
    cr_assert_eq(a->calls, before, "no provider was asked");
    md_srcmgr_free(m);
}
