/* The source manager (sources/manager.h) over small in-test sources on a fake clock:
 * failover order, ?source=NAME, circuit breaking, rate limits and Retry-After, retries of
 * transient errors only, error selection, coalescing of identical in-flight fetches. */
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
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

static int fake_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                      md_error *err)
{
    fake *f = (fake *)src;
    maybe_block(f);
    int rc = next_rc(f);
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
    maybe_block(f);
    /* a failure after a partial page must not leave bars behind */
    md_bar b;
    md_bar_init(&b);
    b.ts = start;
    b.open = b.high = b.low = b.close = f->price;
    md_bar_vec_push(out, &b);
    int rc = next_rc(f);
    meta->requests = 2; /* two pages */
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
                                          fake_supports, NULL,         fake_free};
static const md_source_vtable vt_finnhub = {"finnhub",     MD_SRC_FINNHUB, fake_quote, fake_bars,
                                            fake_supports, NULL,           fake_free};
static const md_source_vtable vt_polygon = {"polygon",     MD_SRC_POLYGON, fake_quote, fake_bars,
                                            fake_supports, NULL,           fake_free};

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
    md_srcmgr_opts o = {{3, 0, 20, 10, 30000}, 0, 100, 1000, 60000, 1000, 0.2};
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

    cr_assert_eq(md_config_set(&cfg, "sources.priority", "yahoo,nosuch", "test", &e), 0);
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), MD_ECONFIG);
    cr_assert(strstr(e.msg, "nosuch") != NULL);
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "yahoo,yahoo", "test", &e), 0);
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), MD_ECONFIG);
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "", "test", &e), 0);
    cr_assert_eq(md_srcmgr_from_config(&cfg, ctor, &m, &e), 0);
    cr_assert_null(m, "no sources: store only");
    md_config_deinit(&cfg);
}
