/* Live indicators (pipeline/live.c) over real parts: a SQLite store, the writer, the hub with
 * one shard and sessions, live bars on an injected clock, and the pipeline's own worker.
 * What a session receives is compared with md_query_indicators (the /analytics/{symbol}/
 * indicators answer) computed afterwards over the same store: every value, bit for bit. */
#include "core/log.h"
#include "core/timefmt.h"
#include "pipeline/pipeline_int.h"
#include "query/services.h"
#include "stream/livebar.h"
#include "streamutil.h"
#include "testutil.h"

#include <unistd.h>

#define T0 1709251200 /* 2024-03-01T00:00:00Z */

static md_config cfg;
static md_services svc;
static md_hub_shard *sh;
static md_livebar *lb;
static md_workq *wq;
static md_live *lv;
static int64_t clock_ms;

static int64_t fake_clock(void *ctx)
{
    return clock_ms;
}

static void open_all(size_t max_series)
{
    md_log_set_level(MD_LOG_ERROR);
    md_config_init(&cfg);
    const char *p = md_test_path("live.db");
    char url[600];
    unlink(p);
    snprintf(url, sizeof url, "%s-wal", p);
    unlink(url);
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_free(cfg.db);
    cfg.db = md_strdup(url);
    cfg.stream_live_bars = 0; /* made here, on the test's clock */
    md_services_options o = {.cfg = &cfg, .writer = 1, .stream = 1, .store_create = 1};
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    sh = md_hub_shard_new(svc.hub, su_wake, NULL);
    clock_ms = T0 * 1000LL;
    md_livebar_options lo = {
        .hub = svc.hub, .writer = svc.writer, .delay_ms = 0, .now_ms = fake_clock};
    lb = md_livebar_new(&lo);
    wq = md_workq_new(1, "ut-pipeline");
    md_live_options vo = {.svc = &svc,
                          .workers = wq,
                          .max_series = max_series,
                          .partial_ms = 0,
                          .livebars = lb,
                          .now_ms = fake_clock};
    lv = md_live_new(&vo);
}

static void close_all(void)
{
    md_live_stop(lv);
    md_workq_free(wq);
    md_livebar_free(lb);
    md_hub_shard_free(sh);
    md_live_free(lv);
    md_services_close(&svc);
    md_config_deinit(&cfg);
}

/* A deterministic walk: the close of 1m bar i. */
static double px(int i)
{
    unsigned s = 2166136261u ^ (unsigned)i * 16777619u;
    s ^= s >> 13, s *= 0x5bd1e995u, s ^= s >> 15;
    return 100 + 10 * sin(i / 17.0) + (double)(s % 1000) / 500.0;
}

static void write_bars(const char *symbol, int from, int to)
{
    int n = to - from;
    md_bar *v = md_calloc((size_t)n, sizeof *v);
    for (int i = 0; i < n; i++) {
        md_bar_init(&v[i]);
        v[i].ts = T0 + (int64_t)(from + i) * 60;
        v[i].close = px(from + i);
        v[i].open = px(from + i - 1);
        v[i].high = fmax(v[i].open, v[i].close) + 0.25;
        v[i].low = fmin(v[i].open, v[i].close) - 0.25;
        v[i].volume = 100 + (from + i) % 7;
        v[i].source = MD_SRC_CSV;
    }
    md_series s = {symbol, MD_IV_1M, v, (size_t)n};
    md_write req = {.origin = MD_WRITE_INGEST, .series = &s, .n_series = 1};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    cr_assert_eq(md_writer_write(svc.writer, &req, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.accepted, (size_t)n);
    md_write_result_deinit(&res);
    md_free(v);
    clock_ms = (T0 + (int64_t)to * 60) * 1000LL;
    md_livebar_tick(lb); /* coarse bars completed by these minutes are published */
}

/* Waits until the pipeline has nothing queued or warming. */
static void settle(void)
{
    for (int i = 0; i < 2000; i++) {
        md_pipeline_stats st;
        md_live_get_stats(lv, &st);
        /* busy counts the job running, not only the queued ones: a slow job (a loaded
         * machine, ASan) is waited for, however long it takes */
        if (!st.warming && md_workq_busy(wq) == 0) {
            usleep(5000);
            md_live_get_stats(lv, &st);
            if (!st.warming && md_workq_busy(wq) == 0) return;
        }
        usleep(5000);
    }
    cr_assert_fail("the pipeline did not settle");
}

static json_t *take(md_session *s)
{
    md_hub_shard_drain(sh, NULL, NULL);
    return su_take(s);
}

static void subscribe(md_session *s, const char *json)
{
    md_error err;
    cr_assert_eq(su_op(s, json, &err), 0, "%s: %s", json, err.msg);
}

/* The REST answer for symbol's whole series at iv. */
static json_t *rest(const char *symbol, md_interval iv, const char *names)
{
    md_history_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.iv = iv;
    r.start = MD_TS_MIN;
    r.end = MD_TS_MAX;
    r.source = -1;
    md_buf b = MD_BUF_INIT;
    md_error err;
    cr_assert_eq(md_query_indicators(&svc, &r, names, &b, NULL, &err), 0, "%s", err.msg);
    json_error_t je;
    json_t *v = json_loads(b.data, 0, &je);
    cr_assert_not_null(v);
    md_buf_deinit(&b);
    return v;
}

/* Index of timestamp ts in the REST answer. */
static size_t rest_index(json_t *r, const char *ts)
{
    json_t *t = json_object_get(r, "timestamps");
    for (size_t i = 0; i < json_array_size(t); i++)
        if (strcmp(json_string_value(json_array_get(t, i)), ts) == 0) return i;
    cr_assert_fail("%s is not in the REST answer", ts);
    return 0;
}

/* The same number, or both null. */
static void same(json_t *live, json_t *want, const char *what)
{
    if (json_is_null(want)) {
        cr_assert(json_is_null(live), "%s: want null", what);
        return;
    }
    cr_assert(json_is_number(live), "%s: want %.17g, got null", what, json_number_value(want));
    cr_assert_eq(json_number_value(live), json_number_value(want), "%s: live %.17g rest %.17g",
                 what, json_number_value(live), json_number_value(want));
}

/* Checks every indicator message of msgs against the REST answer; returns how many. */
static size_t check_against_rest(json_t *msgs, const char *symbol, md_interval iv, const char *spec,
                                 const char **outputs, int n_out)
{
    json_t *r = rest(symbol, iv, spec);
    json_t *ind = json_object_get(json_object_get(r, "indicators"), spec);
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (strcmp(su_type(m), "indicator") || json_is_true(json_object_get(m, "partial")) ||
            strcmp(json_string_value(json_object_get(m, "indicator")), spec) ||
            strcmp(json_string_value(json_object_get(m, "interval")), md_interval_name(iv)))
            continue;
        const char *ts = json_string_value(json_object_get(m, "timestamp"));
        size_t k = rest_index(r, ts);
        char what[96];
        if (n_out == 1) {
            snprintf(what, sizeof what, "%s at %s", spec, ts);
            same(json_object_get(m, "value"), json_array_get(ind, k), what);
        } else {
            for (int o = 0; o < n_out; o++) {
                snprintf(what, sizeof what, "%s.%s at %s", spec, outputs[o], ts);
                same(json_object_get(json_object_get(m, "values"), outputs[o]),
                     json_array_get(json_object_get(ind, outputs[o]), k), what);
            }
        }
        n++;
    }
    json_decref(r);
    return n;
}

Test(pipeline_live, test_every_value_pushed_equals_the_rest_answer_for_its_bar)
{
    open_all(100);
    write_bars("LIV", 0, 300); /* history before anyone subscribes */
    md_session *s = md_session_new(sh, NULL);
    subscribe(s, "{\"op\":\"subscribe\",\"symbols\":[\"LIV\"],\"channels\":[\"ind.rsi:14@1m\","
                 "\"ind.macd:12:26:9@1m\",\"ind.bbands:20:2@1m\",\"ind.sma:5@5m\","
                 "\"ind.vwap@1m\"]}");
    settle();
    json_t *m = take(s);
    cr_assert_eq(su_count(m, "indicator"), 0, "warming up publishes nothing");
    json_decref(m);
    for (int i = 300; i < 420; i++) { /* bar by bar, as they close live */
        write_bars("LIV", i, i + 1);
        if (i % 25 == 0) settle();
    }
    settle();
    m = take(s);
    static const char *macd[] = {"macd", "signal", "histogram"};
    static const char *bb[] = {"middle", "upper", "lower"};
    /* the history (0..299) is complete at warm-up: a value for each of 300..419 */
    cr_assert_eq(check_against_rest(m, "LIV", MD_IV_1M, "rsi:14", NULL, 1), 120);
    cr_assert_eq(check_against_rest(m, "LIV", MD_IV_1M, "macd:12:26:9", macd, 3), 120);
    cr_assert_eq(check_against_rest(m, "LIV", MD_IV_1M, "bbands:20:2", bb, 3), 120);
    cr_assert_eq(check_against_rest(m, "LIV", MD_IV_1M, "vwap", NULL, 1), 120);
    /* 5m: aggregated from the stored 1m bars; buckets 300..415 close live (each when its last
     * minute arrives) */
    cr_assert_eq(check_against_rest(m, "LIV", MD_IV_5M, "sma:5", NULL, 1), 24);
    json_decref(m);
    md_pipeline_stats st;
    md_live_get_stats(lv, &st);
    cr_assert_eq(st.live_series, 5);
    cr_assert_eq(st.warmups, 5);
    md_session_free(s);
    md_live_get_stats(lv, &st);
    cr_assert_eq(st.live_series, 0, "the last reader left: freed");
    close_all();
}

Test(pipeline_live, test_one_state_is_shared_and_a_rewritten_past_bar_warms_it_up_again)
{
    open_all(100);
    write_bars("SHR", 0, 100);
    md_session *a = md_session_new(sh, NULL), *b = md_session_new(sh, NULL);
    subscribe(a, "{\"op\":\"subscribe\",\"symbols\":[\"SHR\"],\"channels\":[\"ind.ema:10@1m\"]}");
    subscribe(b, "{\"op\":\"subscribe\",\"symbols\":[\"SHR\"],\"channels\":[\"ind.ema@1m\"]}");
    settle();
    md_pipeline_stats st;
    md_live_get_stats(lv, &st);
    cr_assert_eq(st.live_series, 2, "ema:10 and ema:20");
    subscribe(b, "{\"op\":\"subscribe\",\"symbols\":[\"SHR\"],\"channels\":[\"ind.ema:10@1m\"]}");
    md_live_get_stats(lv, &st);
    cr_assert_eq(st.live_series, 2, "a second reader of ema:10 shares its state");
    write_bars("SHR", 100, 110);
    settle();
    json_t *ma = take(a), *mb = take(b);
    cr_assert_eq(check_against_rest(ma, "SHR", MD_IV_1M, "ema:10", NULL, 1), 10);
    cr_assert_eq(check_against_rest(mb, "SHR", MD_IV_1M, "ema:10", NULL, 1), 10);
    json_decref(ma);
    json_decref(mb);
    /* a bar far back is corrected: every later value changes, and the live state follows */
    md_bar fix;
    md_bar_init(&fix);
    fix.ts = T0 + 50 * 60, fix.open = fix.high = 150, fix.low = fix.close = 149, fix.volume = 1;
    fix.source = MD_SRC_CSV;
    md_series s = {"SHR", MD_IV_1M, &fix, 1};
    md_write req = {.origin = MD_WRITE_INGEST, .series = &s, .n_series = 1};
    md_error err;
    cr_assert_eq(md_writer_write(svc.writer, &req, NULL, &err), 0, "%s", err.msg);
    settle();
    md_live_get_stats(lv, &st);
    cr_assert_geq(st.rewarms, 1);
    write_bars("SHR", 110, 120);
    settle();
    ma = take(a);
    cr_assert_eq(check_against_rest(ma, "SHR", MD_IV_1M, "ema:10", NULL, 1), 10,
                 "after the correction too");
    json_decref(ma);
    md_session_free(a);
    md_session_free(b);
    close_all();
}

Test(pipeline_live, test_the_limit_counts_series_and_frees_with_the_last_reader)
{
    open_all(2);
    md_session *s = md_session_new(sh, NULL);
    subscribe(s,
              "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\"],\"channels\":[\"ind.sma:3@1m\"]}");
    md_error err;
    int rc = su_op(s, "{\"op\":\"subscribe\",\"symbols\":[\"C\"],\"channels\":[\"ind.sma:3@1m\"]}",
                   &err);
    cr_assert_eq(rc, MD_ELIVELIMIT);
    cr_assert_str_eq(md_error_code(rc), "too_many_live_indicators");
    cr_assert(strstr(err.msg, "pipeline.max_live_indicators") != NULL, "%s", err.msg);
    subscribe(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.sma:3@1m\"]}");
    subscribe(s, "{\"op\":\"unsubscribe\",\"symbols\":[\"B\"]}");
    subscribe(s, "{\"op\":\"subscribe\",\"symbols\":[\"C\"],\"channels\":[\"ind.sma:3@1m\"]}");
    settle();
    md_session_free(s);
    close_all();
}

Test(pipeline_live, test_forming_bar_values_are_partial_and_go_to_those_who_asked)
{
    open_all(10);
    write_bars("PRT", 0, 61); /* minutes 0..60 */
    md_session *plain = md_session_new(sh, NULL), *part = md_session_new(sh, NULL);
    subscribe(plain,
              "{\"op\":\"subscribe\",\"symbols\":[\"PRT\"],\"channels\":[\"ind.sma:3@1m\"]}");
    subscribe(part, "{\"op\":\"subscribe\",\"symbols\":[\"PRT\"],\"channels\":[\"ind.sma:3@1m\"],"
                    "\"partial\":true}");
    settle();
    /* ticks of minute 61 (60 is the last stored one, closed: no tick of it will come) */
    int64_t m61 = T0 + 61 * 60;
    clock_ms = (m61 + 5) * 1000LL;
    double prices[] = {120, 121.5, 119};
    for (int i = 0; i < 3; i++) {
        md_quote q = su_quote("PRT", prices[i], m61 + 5 + i);
        q.volume = 1;
        md_write req = {.origin = MD_WRITE_INGEST, .quotes = &q, .n_quotes = 1};
        md_error err;
        cr_assert_eq(md_writer_write(svc.writer, &req, NULL, &err), 0, "%s", err.msg);
        settle();
    }
    json_t *mp = take(part), *mn = take(plain);
    size_t n_part = 0, i;
    json_t *m, *last = NULL;
    json_array_foreach(mp, i, m)
    {
        if (strcmp(su_type(m), "indicator") || !json_is_true(json_object_get(m, "partial")))
            continue;
        n_part++;
        cr_assert_str_eq(json_string_value(json_object_get(m, "timestamp")), "2024-03-01T01:01:00Z",
                         "the forming bar's timestamp");
        last = m;
    }
    cr_assert_eq(n_part, 3, "one per tick (no throttle here)");
    /* sma:3 over minutes 59, 60 (stored, complete: fed at warm-up) and the forming 61 */
    double want = (px(59) + px(60) + 119) / 3;
    cr_assert_float_eq(json_number_value(json_object_get(last, "value")), want, 1e-9,
                       "got %.17g want %.17g (px59 %g px60 %g)",
                       json_number_value(json_object_get(last, "value")), want, px(59), px(60));
    cr_assert_eq(check_against_rest(mp, "PRT", MD_IV_1M, "sma:3", NULL, 1), 0,
                 "minute 60 closed before anyone subscribed");
    size_t n_plain = 0;
    json_array_foreach(mn, i, m) n_plain += strcmp(su_type(m), "indicator") == 0;
    cr_assert_eq(n_plain, 0, "no partial values without asking");
    json_decref(mp);
    json_decref(mn);
    /* the minute closes: its value is the last partial one (no tick since) */
    clock_ms = (m61 + 61) * 1000LL;
    md_livebar_tick(lb);
    settle();
    mp = take(part);
    cr_assert_eq(check_against_rest(mp, "PRT", MD_IV_1M, "sma:3", NULL, 1), 1);
    json_array_foreach(mp, i, m) if (strcmp(su_type(m), "indicator") == 0)
        cr_assert_float_eq(json_number_value(json_object_get(m, "value")), want, 1e-12);
    json_decref(mp);
    md_session_free(plain);
    md_session_free(part);
    close_all();
}

/* The pipeline's worker is busy when a client subscribes (another series' job): the warm-up
 * starts only after more bars were stored and announced. Their closes came after the
 * subscription: each has its value pushed (the warm-up used to feed them silently, and their
 * announcements then found the state already past them). */
static int blocked;

static void block_job(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&blocked, __ATOMIC_ACQUIRE)) usleep(1000);
}

Test(pipeline_live, test_closes_announced_while_the_warm_up_waited_are_pushed)
{
    open_all(10);
    write_bars("LATE", 0, 100); /* announced before anyone subscribes: history */
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    md_workq_submit(wq, block_job, NULL);
    md_session *s = md_session_new(sh, NULL);
    subscribe(s, "{\"op\":\"subscribe\",\"symbols\":[\"LATE\"],\"channels\":[\"ind.ema:10@1m\","
                 "\"ind.sma:3@5m\"]}");
    for (int i = 100; i < 130; i++) write_bars("LATE", i, i + 1); /* the warm-up waits */
    md_pipeline_stats st;
    md_live_get_stats(lv, &st);
    cr_assert_eq(st.warming, 2, "not warmed up yet");
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    settle();
    json_t *m = take(s);
    cr_assert_eq(check_against_rest(m, "LATE", MD_IV_1M, "ema:10", NULL, 1), 30,
                 "a value for each minute closed after the subscription");
    /* 5m buckets 100..125: closed by minutes 104..129 */
    cr_assert_eq(check_against_rest(m, "LATE", MD_IV_5M, "sma:3", NULL, 1), 6);
    json_decref(m);
    /* and later closes as usual, each once */
    write_bars("LATE", 130, 135);
    settle();
    m = take(s);
    cr_assert_eq(check_against_rest(m, "LATE", MD_IV_1M, "ema:10", NULL, 1), 5);
    cr_assert_eq(check_against_rest(m, "LATE", MD_IV_5M, "sma:3", NULL, 1), 1);
    json_decref(m);
    md_session_free(s);
    close_all();
}

/* A replay that pauses longer than the live-bar delay gets its 5m bar closed early (by the
 * clock, with the minutes so far); the minutes that come after change the stored aggregate
 * of a bucket the 5m series was fed: it warms up again and its later values are the REST
 * answer's. */
Test(pipeline_live, test_minutes_after_their_coarse_bar_closed_warm_the_coarse_series_again)
{
    open_all(10);
    write_bars("GAP", 0, 100);
    md_session *s = md_session_new(sh, NULL);
    subscribe(s, "{\"op\":\"subscribe\",\"symbols\":[\"GAP\"],\"channels\":[\"ind.ema:4@5m\"]}");
    settle();
    write_bars("GAP", 100, 103); /* minutes 0..2 of bucket 100 */
    clock_ms += 3600 * 1000LL;   /* the pause: the clock closes the 5m bar as it is */
    md_livebar_tick(lb);
    settle();
    write_bars("GAP", 103, 130); /* the rest of bucket 100 arrives late, then more */
    clock_ms += 3600 * 1000LL;
    md_livebar_tick(lb);
    settle();
    md_pipeline_stats st;
    md_live_get_stats(lv, &st);
    json_t *m = take(s);
    char *dump = json_dumps(m, JSON_COMPACT);
    cr_assert_geq(st.rewarms, 1, "%s", dump);
    free(dump);
    json_t *r = rest("GAP", MD_IV_5M, "ema:4");
    json_t *ind = json_object_get(json_object_get(r, "indicators"), "ema:4");
    size_t i, checked = 0;
    json_t *x;
    json_array_foreach(m, i, x)
    {
        if (strcmp(su_type(x), "indicator")) continue;
        const char *ts = json_string_value(json_object_get(x, "timestamp"));
        if (strcmp(ts, "2024-03-01T01:45:00Z") <= 0) continue; /* the early one and before */
        same(json_object_get(x, "value"), json_array_get(ind, rest_index(r, ts)), ts);
        checked++;
    }
    cr_assert_geq(checked, 4, "buckets 105..125 after the correction");
    json_decref(r);
    json_decref(m);
    md_session_free(s);
    close_all();
}
