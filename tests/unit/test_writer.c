/* The writer's one entry point (ingest/writer.h): the write's origin reaches every listener
 * (and, through the stream hub, becomes DERIVED or LOCAL), listeners run in their declared
 * stages and one added out of order aborts, a JUDGED write stores bars as they are and records
 * the caller's findings, a write no caller can mean aborts. */
#include "core/timefmt.h"
#include "ingest/writer.h"
#include "stream/hub.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <signal.h>

static md_store *st;
static md_writer *w;

static void setup(void)
{
    const char *p = md_test_path("writer.db");
    unlink(p);
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    w = md_writer_new(st);
}

static void teardown(void)
{
    md_writer_free(w);
    md_store_close(st);
}

TestSuite(writer, .init = setup, .fini = teardown);

static md_bar day_bar(const char *date, double close)
{
    md_bar b;
    md_bar_init(&b);
    md_time_parse_str(date, &b.ts, NULL);
    b.open = b.high = b.low = b.close = close;
    b.high += 1;
    b.volume = 1000;
    return b;
}

/* -- listeners ---------------------------------------------------------------------------- */

typedef struct {
    char calls[16];
    int n;
    md_write_origin origins[16];
} trace;

static void trace_bars(trace *t, char who, md_write_origin origin)
{
    if (t->n < 16) t->origins[t->n] = origin, t->calls[t->n++] = who;
}

static void on_bars_a(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                      const md_bar *bars, size_t n)
{
    trace_bars(ctx, 'a', origin);
}

static void on_bars_b(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                      const md_bar *bars, size_t n)
{
    trace_bars(ctx, 'b', origin);
}

static void on_quote_a(void *ctx, md_write_origin origin, const md_quote *q)
{
    trace_bars(ctx, 'q', origin);
}

static int write_bar(md_write_origin origin, const char *symbol, md_bar *b)
{
    md_series s = {symbol, MD_IV_1D, b, 1};
    md_write req = {.origin = origin, .series = &s, .n_series = 1};
    md_error err;
    return md_writer_write(w, &req, NULL, &err);
}

Test(writer, listeners_hear_the_origin_of_each_write_in_stage_order)
{
    trace t = {0};
    md_writer_listener pub = {.on_bars = on_bars_b, .ctx = &t, .stage = MD_LISTEN_PUBLISH};
    md_writer_listener ref = {
        .on_bars = on_bars_a, .on_quote = on_quote_a, .ctx = &t, .stage = MD_LISTEN_REFRESH};
    md_writer_add_listener(w, &ref);
    md_writer_add_listener(w, &pub);
    md_bar b = day_bar("2024-03-04", 10);
    cr_assert_eq(write_bar(MD_WRITE_BACKFILL, "ORG", &b), 0);
    b = day_bar("2024-03-05", 10.1);
    cr_assert_eq(write_bar(MD_WRITE_DERIVED, "ORG", &b), 0);
    md_quote q;
    md_quote_init(&q);
    snprintf(q.symbol, sizeof q.symbol, "ORG");
    q.price = 10.2;
    q.ts = md_now() - 5;
    md_write qr = {.origin = MD_WRITE_POLL, .quotes = &q, .n_quotes = 1};
    md_error err;
    cr_assert_eq(md_writer_write(w, &qr, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(t.n, 5);
    cr_assert_arr_eq(t.calls, "ababq", 5);
    md_write_origin want[] = {MD_WRITE_BACKFILL, MD_WRITE_BACKFILL, MD_WRITE_DERIVED,
                              MD_WRITE_DERIVED, MD_WRITE_POLL};
    for (int i = 0; i < 5; i++) cr_assert_eq(t.origins[i], want[i], "call %d", i);
}

Test(writer, a_refresh_listener_after_a_publish_one_aborts, .signal = SIGABRT)
{
    trace t = {0};
    md_writer_listener pub = {.on_bars = on_bars_b, .ctx = &t, .stage = MD_LISTEN_PUBLISH};
    md_writer_listener ref = {.on_bars = on_bars_a, .ctx = &t, .stage = MD_LISTEN_REFRESH};
    md_writer_add_listener(w, &pub);
    md_writer_add_listener(w, &ref); /* a cache after the stream: refused */
}

Test(writer, bars_and_quotes_in_one_write_abort, .signal = SIGABRT)
{
    md_bar b = day_bar("2024-03-04", 10);
    md_series s = {"MIX", MD_IV_1D, &b, 1};
    md_quote q;
    md_quote_init(&q);
    md_write req = {.series = &s, .n_series = 1, .quotes = &q, .n_quotes = 1};
    md_writer_write(w, &req, NULL, NULL);
}

/* -- the hub's origin comes from the write, not from the writing thread ---------------------- */

typedef struct {
    int n;
    md_origin origins[8];
} seen;

static void on_hub_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *b,
                       md_origin origin)
{
    seen *s = ctx;
    if (s->n < 8) s->origins[s->n++] = origin;
}

Test(writer, the_hub_relays_what_was_stored_and_keeps_derived_bars_its_own)
{
    md_hub *h = md_hub_new(NULL);
    seen s = {0};
    md_hub_observer ob = {.on_bar = on_hub_bar, .ctx = &s};
    md_hub_add_observer(h, &ob);
    md_hub_attach_writer(h, w);
    md_bar b = day_bar("2024-03-04", 10);
    cr_assert_eq(write_bar(MD_WRITE_DERIVED, "HUB", &b), 0);
    b = day_bar("2024-03-05", 10.1);
    cr_assert_eq(write_bar(MD_WRITE_INGEST, "HUB", &b), 0); /* same thread, next write */
    b = day_bar("2024-03-06", 10.2);
    cr_assert_eq(write_bar(MD_WRITE_FEED, "HUB", &b), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.origins[0], MD_ORIGIN_DERIVED);
    cr_assert_eq(s.origins[1], MD_ORIGIN_LOCAL);
    cr_assert_eq(s.origins[2], MD_ORIGIN_LOCAL);
    md_hub_free(h);
}

/* -- flags ----------------------------------------------------------------------------------- */

Test(writer, a_judged_write_stores_bars_as_they_are_and_records_the_callers_findings)
{
    md_bar bars[3] = {day_bar("2024-03-04", 10), day_bar("2024-03-05", 10.1),
                      day_bar("2024-03-06", 10.2)};
    bars[1].quality = 42; /* judged by the caller */
    md_series s[2] = {{"JDG", MD_IV_1D, bars, 3}, {"REJ", MD_IV_1D, NULL, 0}};
    md_qevent_vec ev[2];
    md_qevent_vec_init(&ev[0]);
    md_qevent_vec_init(&ev[1]);
    md_qevent e;
    md_bar bad = day_bar("2024-03-07", 5);
    bad.high = 1; /* below low */
    md_qevent_reject(&e, &bad, MD_RULE_HIGH_LOW, "high 1 < low 5");
    md_qevent_vec_push(&ev[1], &e); /* a rejected row of a series with nothing stored */
    md_write req = {.origin = MD_WRITE_LOAD,
                    .flags = MD_WRITE_JUDGED,
                    .series = s,
                    .n_series = 2,
                    .judged_findings = ev};
    md_write_result res;
    md_write_result_init(&res, 0);
    md_error err;
    cr_assert_eq(md_writer_write(w, &req, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.stored, 3);
    cr_assert_eq(res.accepted, 3);
    md_write_result_deinit(&res);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "JDG", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, &err), 3);
    cr_assert_eq(v.v[1].quality, 42, "not judged again");
    cr_assert_lt(v.v[0].quality, 0, "stored unscored, as given");
    md_bar_vec_deinit(&v);
    md_qevent_vec got;
    md_qevent_vec_init(&got);
    cr_assert_geq(
        md_store_get_quality_events(st, "REJ", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, -1, 0, &got, &err),
        0, "%s", err.msg);
    cr_assert_eq(got.n, 1);
    cr_assert_eq(got.v[0].rule, MD_RULE_HIGH_LOW);
    md_qevent_vec_deinit(&got);
    md_qevent_vec_deinit(&ev[0]);
    md_qevent_vec_deinit(&ev[1]);
}

Test(writer, a_validate_only_checked_write_judges_and_stores_nothing)
{
    md_bar bars[2] = {day_bar("2024-03-04", 10), day_bar("2024-03-05", 10.1)};
    md_series s = {"VAL", MD_IV_1D, bars, 2};
    md_write req = {.origin = MD_WRITE_LOAD,
                    .flags = MD_WRITE_VALIDATE_ONLY | MD_WRITE_CHECKED,
                    .series = &s,
                    .n_series = 1};
    md_write_result res;
    md_write_result_init(&res, 0);
    md_error err;
    cr_assert_eq(md_writer_write(w, &req, &res, &err), 0);
    cr_assert_eq(res.stored, 0);
    cr_assert_geq(bars[0].quality, 0, "scored");
    md_write_result_deinit(&res);
    md_bar_vec v;
    md_bar_vec_init(&v);
    cr_assert_eq(md_store_get_bars(st, "VAL", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, &err), 0);
    md_bar_vec_deinit(&v);
}
