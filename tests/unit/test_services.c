/* md_services from the configuration (query/services.h): the store and the writer take their
 * settings from the config, the writer's listeners run cache first and stream last (a client
 * told of a quote finds the cache already answering with it), a bad setting fails the open
 * and leaves nothing behind, and a life-cycle step out of order aborts. */
#include "core/timefmt.h"
#include "query/services.h"
#include "stream/hub.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <signal.h>

static md_config cfg;

static void setup(void)
{
    md_config_init(&cfg);
    const char *p = md_test_path("services.db");
    unlink(p);
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_error err;
    cr_assert_eq(md_config_set(&cfg, "db", url, "test", &err), 0, "%s", err.msg);
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "", "test", &err), 0, "%s", err.msg);
    cr_assert_eq(md_config_set(&cfg, "stream.live_bars", "false", "test", &err), 0);
}

static void teardown(void)
{
    md_config_deinit(&cfg);
}

TestSuite(services, .init = setup, .fini = teardown);

static void set(const char *key, const char *value)
{
    md_error err;
    cr_assert_eq(md_config_set(&cfg, key, value, "test", &err), 0, "%s", err.msg);
}

Test(services, store_and_writer_take_their_settings_from_the_config)
{
    set("store.busy_timeout_ms", "321");
    set("store.pool_size", "7");
    set("postgresql.partition_span", "day");
    set("quality.jump_sigma", "3");
    set("quality.future_tolerance_s", "17");
    md_services_options o = {.cfg = &cfg, .store_read_only = 1, .store_pool_size = 1};
    md_store_options so;
    md_error err;
    cr_assert_eq(md_services_store_options(&o, &so, &err), 0, "%s", err.msg);
    cr_assert_eq(so.busy_timeout_ms, 321);
    cr_assert_eq(so.pg_partition_span, MD_PG_SPAN_DAY);
    cr_assert_eq(so.pool_size, 1, "the command's own pool size wins");
    cr_assert_eq(so.read_only, 1);
    o = (md_services_options){.cfg = &cfg, .writer = 1};
    cr_assert_eq(md_services_store_options(&o, &so, &err), 0);
    cr_assert_eq(so.pool_size, 7);
    cr_assert_eq(so.read_only, 0);

    md_services svc;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    cr_assert_not_null(svc.store);
    cr_assert_not_null(svc.writer);
    cr_assert_null(svc.cache, "not asked for");
    cr_assert_null(svc.hub);
    cr_assert_eq(md_writer_quality(svc.writer)->jump_sigma, 3);
    cr_assert_eq(md_writer_quality(svc.writer)->future_tolerance_s, 17);
    md_services_close(&svc);
    cr_assert_null(svc.store);
}

Test(services, a_bad_setting_fails_the_open_and_leaves_nothing)
{
    set("postgresql.partition_span", "fortnight");
    md_services_options o = {.cfg = &cfg, .writer = 1, .workers = 1, .cache = 1};
    md_services svc;
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "postgresql.partition_span"), "%s", err.msg);
    cr_assert_null(svc.store);
    cr_assert_null(svc.writer);
    cr_assert_null(svc.run);
    md_services_close(&svc); /* a zeroed svc is fine */
}

/* -- listener order: the cache is written through before the hub publishes ----------------- */

typedef struct {
    md_services *svc;
    int quotes;
    char body[512]; /* the cached /price answer when the hub published the quote */
    int rc;
} probe;

static void on_hub_quote(void *ctx, const md_quote *q, md_origin origin)
{
    probe *p = ctx;
    md_answer a;
    md_answer_init(&a);
    md_error err;
    p->quotes++;
    p->rc = md_query_price_answer(p->svc, q->symbol, 3600, MD_Q_NONBLOCK, &a, &err);
    if (p->rc == 0) {
        size_t n;
        const char *b = md_answer_body(&a, &n);
        snprintf(p->body, sizeof p->body, "%.*s", (int)n, b);
    }
    md_answer_deinit(&a);
}

static void write_quote(md_services *svc, double price, int64_t ts)
{
    md_quote q;
    md_quote_init(&q);
    snprintf(q.symbol, sizeof q.symbol, "ORDR");
    q.price = price;
    q.ts = ts;
    md_write req = {.origin = MD_WRITE_INGEST, .quotes = &q, .n_quotes = 1};
    md_error err;
    cr_assert_eq(md_writer_write(svc->writer, &req, NULL, &err), 0, "%s", err.msg);
}

Test(services, a_streamed_quote_is_already_the_cached_answer)
{
    md_services_options o = {
        .cfg = &cfg, .writer = 1, .workers = 1, .cache = 1, .quality_gauge = 1, .stream = 1};
    md_services svc;
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    cr_assert_not_null(svc.cache);
    cr_assert_not_null(svc.hub);
    probe p = {.svc = &svc};
    md_hub_observer ob = {.on_quote = on_hub_quote, .ctx = &p};
    md_hub_add_observer(svc.hub, &ob);
    int64_t now = md_now();
    write_quote(&svc, 50.25, now - 60);
    md_answer a; /* the /price answer is now cached */
    md_answer_init(&a);
    cr_assert_eq(md_query_price_answer(&svc, "ORDR", 3600, 0, &a, &err), 0, "%s", err.msg);
    md_answer_deinit(&a);
    write_quote(&svc, 51.75, now - 30);
    cr_assert_eq(p.quotes, 2);
    cr_assert_eq(p.rc, 0, "the cache had an answer when the hub published");
    cr_assert(strstr(p.body, "51.75"), "stale answer while streaming 51.75: %s", p.body);
    md_services_close(&svc);
}

Test(services, a_refresh_listener_after_the_stream_aborts, .signal = SIGABRT)
{
    md_services_options o = {.cfg = &cfg, .writer = 1, .stream = 1};
    md_services svc;
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    md_writer_listener late = {.stage = MD_LISTEN_REFRESH};
    md_writer_add_listener(svc.writer, &late); /* what a cache attached now would do */
}

Test(services, start_after_stop_aborts, .signal = SIGABRT)
{
    md_services_options o = {.cfg = &cfg, .writer = 1};
    md_services svc;
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    md_services_stop(&svc);
    md_services_start(&svc, &err);
}

Test(services, stop_quiesce_and_close_may_be_repeated_or_left_out)
{
    md_services_options o = {.cfg = &cfg, .writer = 1, .workers = 1, .stream = 1};
    md_services svc;
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    cr_assert_eq(md_services_start(&svc, &err), 0, "%s", err.msg);
    cr_assert_eq(svc.ready, 1);
    md_services_stop(&svc);
    cr_assert_eq(svc.ready, 0);
    md_services_stop(&svc);
    md_services_quiesce(&svc);
    cr_assert_null(svc.workers, "joined");
    md_services_quiesce(&svc);
    md_services_close(&svc);
    md_services_close(&svc);
}
