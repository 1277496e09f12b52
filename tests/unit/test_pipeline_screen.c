/* Screens (pipeline/screen.c) over a real SQLite store, writer and hub: which symbols match
 * (checked against the /analytics/{symbol}/indicators answer for their newest bar), the
 * enter and leave events on screen.<name>, the result stored and read back by a new
 * instance (a restart), the schedules, and the start-up errors naming the file and line. */
#include "core/log.h"
#include "core/timefmt.h"
#include "pipeline/pipeline_int.h"
#include "query/services.h"
#include "streamutil.h"
#include "testutil.h"

#include <unistd.h>

#define T0 1709251200 /* 2024-03-01T00:00:00Z */

static md_config cfg;
static md_services svc;
static md_hub_shard *sh;

static void add_job(const char *name, const char *schedule, const char *symbols,
                    const char *interval, const char *condition)
{
    cfg.pipeline_jobs =
        md_realloc(cfg.pipeline_jobs, (cfg.n_pipeline_jobs + 1) * sizeof *cfg.pipeline_jobs);
    md_config_job *j = &cfg.pipeline_jobs[cfg.n_pipeline_jobs++];
    memset(j, 0, sizeof *j);
    j->name = md_strdup(name);
    j->schedule = md_strdup(schedule);
    j->symbols = md_strdup(symbols);
    j->interval = interval ? md_strdup(interval) : NULL;
    j->condition = md_strdup(condition);
    j->path = md_strdup("test.yaml");
    j->line = 10, j->line_schedule = 11, j->line_condition = 12;
}

static void open_all(void)
{
    md_log_set_level(MD_LOG_ERROR);
    md_config_init(&cfg);
    const char *p = md_test_path("screen.db");
    char url[600];
    unlink(p);
    snprintf(url, sizeof url, "%s-wal", p);
    unlink(url);
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_free(cfg.db);
    cfg.db = md_strdup(url);
    cfg.stream_live_bars = 0;
    md_services_options o = {.cfg = &cfg, .writer = 1, .stream = 1, .store_create = 1};
    md_error err;
    cr_assert_eq(md_services_open(&svc, &o, &err), 0, "%s", err.msg);
    sh = md_hub_shard_new(svc.hub, su_wake, NULL);
}

static void close_all(void)
{
    md_hub_shard_free(sh);
    md_services_close(&svc);
    md_config_deinit(&cfg);
}

/* Daily closes: base + slope * day (a steady trend), n days from T0. */
static void write_days(const char *symbol, int from, int n, double base, double slope)
{
    md_bar *v = md_calloc((size_t)n, sizeof *v);
    for (int i = 0; i < n; i++) {
        md_bar_init(&v[i]);
        v[i].ts = T0 + (int64_t)(from + i) * 86400;
        v[i].open = v[i].close = base + slope * (from + i);
        v[i].high = v[i].close + 1;
        v[i].low = v[i].close - 1;
        v[i].volume = 1000;
        v[i].source = MD_SRC_CSV;
    }
    md_series s = {symbol, MD_IV_1D, v, (size_t)n};
    md_write req = {.origin = MD_WRITE_INGEST, .series = &s, .n_series = 1};
    md_write_result res;
    md_write_result_init(&res, 4);
    md_error err;
    cr_assert_eq(md_writer_write(svc.writer, &req, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.accepted, (size_t)n);
    md_write_result_deinit(&res);
    md_free(v);
}

static json_t *result(md_screens *sc, const char *name)
{
    md_buf b = MD_BUF_INIT;
    md_error err;
    cr_assert_eq(md_screens_get_json(sc, name, &b, &err), 0, "%s", err.msg);
    json_error_t je;
    json_t *v = json_loads(b.data, 0, &je);
    cr_assert_not_null(v, "%s", b.data);
    md_buf_deinit(&b);
    return v;
}

static const char *match_symbol(json_t *res, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(res, "matches"), i), "symbol"));
}

/* The REST value of spec at the newest daily bar of symbol. */
static double rest_last(const char *symbol, const char *spec)
{
    md_history_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.iv = MD_IV_1D;
    r.start = MD_TS_MIN;
    r.end = MD_TS_MAX;
    r.source = -1;
    r.adjust = MD_ADJUST_DEFAULT; /* as GET without adjust= */
    md_buf b = MD_BUF_INIT;
    md_error err;
    cr_assert_eq(md_query_indicators(&svc, &r, spec, &b, NULL, &err), 0, "%s", err.msg);
    json_t *v = json_loads(b.data, 0, NULL);
    json_t *arr = json_object_get(json_object_get(v, "indicators"), spec);
    double x = json_number_value(json_array_get(arr, json_array_size(arr) - 1));
    json_decref(v);
    md_buf_deinit(&b);
    return x;
}

Test(pipeline_screen, test_matches_carry_the_values_of_the_rest_answer_and_events_follow_changes)
{
    open_all();
    add_job("trend", "every 1h", "UP,DOWN,FLAT,NONE", "1d", "close > sma:5 and rsi:3 > 50");
    write_days("UP", 0, 30, 100, 1);
    write_days("DOWN", 0, 30, 100, -1);
    write_days("FLAT", 0, 30, 100, 0);
    md_screens *sc;
    md_error err;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    md_session *s = md_session_new(sh, NULL);
    md_error e2;
    cr_assert_eq(su_op(s, "{\"op\":\"subscribe\",\"channels\":[\"screen.trend\"]}", &e2), 0, "%s",
                 e2.msg);
    cr_assert_eq(md_screens_run(sc, "trend", &err), 0, "%s", err.msg);
    json_t *r = result(sc, "trend");
    cr_assert_eq(json_integer_value(json_object_get(r, "count")), 1, "only UP");
    cr_assert_str_eq(match_symbol(r, 0), "UP");
    json_t *m = json_array_get(json_object_get(r, "matches"), 0);
    json_t *vals = json_object_get(m, "values");
    cr_assert_eq(json_number_value(json_object_get(vals, "close")), 129);
    cr_assert_eq(json_number_value(json_object_get(vals, "sma:5")), rest_last("UP", "sma:5"));
    cr_assert_eq(json_number_value(json_object_get(vals, "rsi:3")), rest_last("UP", "rsi:3"));
    cr_assert_str_eq(json_string_value(json_object_get(m, "timestamp")), "2024-03-30T00:00:00Z");
    json_t *run = json_object_get(r, "last_run");
    cr_assert_eq(json_integer_value(json_object_get(run, "symbols")), 4);
    cr_assert_eq(json_integer_value(json_object_get(run, "no_data")), 1, "NONE has no bars");
    const char *since = json_string_value(json_object_get(m, "since"));
    cr_assert_not_null(since);
    char since_first[32];
    snprintf(since_first, sizeof since_first, "%s", since);
    json_decref(r);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *ev = su_take(s);
    cr_assert_eq(su_count(ev, "screen"), 1);
    json_t *e = json_array_get(ev, 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "event")), "enter");
    cr_assert_str_eq(json_string_value(json_object_get(e, "symbol")), "UP");
    cr_assert_str_eq(json_string_value(json_object_get(e, "channel")), "screen.trend");
    cr_assert_eq(json_number_value(json_object_get(json_object_get(e, "values"), "close")), 129);
    json_decref(ev);

    /* DOWN turns up and UP falls off a cliff */
    write_days("DOWN", 30, 6, 40, 3); /* 130 .. 145 */
    write_days("UP", 30, 1, 0, 1);    /* close 30 */
    sleep(1);                         /* "since" has second resolution */
    cr_assert_eq(md_screens_run(sc, "trend", &err), 0, "%s", err.msg);
    md_hub_shard_drain(sh, NULL, NULL);
    ev = su_take(s);
    cr_assert_eq(su_count(ev, "screen"), 2);
    int entered = 0, left = 0;
    size_t i;
    json_array_foreach(ev, i, e)
    {
        const char *what = json_string_value(json_object_get(e, "event"));
        const char *sym = json_string_value(json_object_get(e, "symbol"));
        if (what && !strcmp(what, "enter")) entered += !strcmp(sym, "DOWN");
        if (what && !strcmp(what, "leave")) left += !strcmp(sym, "UP");
    }
    cr_assert_eq(entered, 1);
    cr_assert_eq(left, 1);
    json_decref(ev);
    md_screens_free(sc);

    /* a restart: the stored matches are the previous ones, nothing enters again */
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    r = result(sc, "trend");
    cr_assert_eq(json_integer_value(json_object_get(r, "count")), 1);
    cr_assert_str_eq(match_symbol(r, 0), "DOWN", "the stored result, before any run");
    json_decref(r);
    cr_assert_eq(md_screens_run(sc, "trend", &err), 0, "%s", err.msg);
    md_hub_shard_drain(sh, NULL, NULL);
    ev = su_take(s);
    cr_assert_eq(su_count(ev, "screen"), 0, "DOWN stayed in");
    json_decref(ev);
    r = result(sc, "trend");
    cr_assert_str_neq(json_string_value(json_object_get(
                          json_array_get(json_object_get(r, "matches"), 0), "since")),
                      "", "kept");
    json_decref(r);
    md_screens_free(sc);
    md_session_free(s);
    close_all();
}

Test(pipeline_screen, test_every_schedule_runs_and_a_restart_resumes_after_the_stored_slot)
{
    open_all();
    add_job("tick", "every 1s", "AAA", NULL, "close > 0");
    write_days("AAA", 0, 3, 10, 1);
    md_screens *sc;
    md_error err;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    cr_assert_eq(md_screens_start(sc, &err), 0, "%s", err.msg);
    json_t *r = NULL;
    for (int i = 0; i < 300; i++) {
        json_decref(r);
        r = result(sc, "tick");
        if (json_integer_value(json_object_get(r, "count")) == 1) break;
        usleep(10000);
    }
    cr_assert_eq(json_integer_value(json_object_get(r, "count")), 1, "ran on its own");
    cr_assert_str_eq(json_string_value(json_object_get(r, "interval")), "1d", "the default");
    json_decref(r);
    md_screens_free(sc);
    /* the slot that ran is stored; a new instance resumes after it */
    char *doc = NULL;
    cr_assert_eq(md_store_doc_get(svc.store, "pipeline/screen/tick", &doc, &err), 1);
    json_t *d = json_loads(doc, 0, NULL);
    int64_t slot = json_integer_value(json_object_get(d, "slot"));
    cr_assert_geq(slot, md_now() - 2);
    json_decref(d);
    md_free(doc);
    close_all();
}

Test(pipeline_screen, test_values_are_split_adjusted_as_the_rest_answer_by_default)
{
    open_all();
    add_job("adj", "every 1h", "SPL", "1d", "close > sma:20");
    write_days("SPL", 0, 15, 200, 2);  /* 200 .. 228 before a 2:1 split */
    write_days("SPL", 15, 15, 100, 1); /* 115 .. 129: the same trend in new shares */
    md_action a;
    memset(&a, 0, sizeof a);
    snprintf(a.symbol, sizeof a.symbol, "SPL");
    a.type = MD_ACT_SPLIT;
    a.source = MD_SRC_INGEST;
    a.ex_date = T0 + 15 * 86400;
    a.numerator = 2, a.denominator = 1;
    md_error err;
    cr_assert_eq(md_store_put_actions(svc.store, &a, 1, &err), 1, "%s", err.msg);
    md_screens *sc;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    cr_assert_eq(md_screens_run(sc, "adj", &err), 0, "%s", err.msg);
    json_t *r = result(sc, "adj");
    /* adjusted, sma:20 is the mean of 110 .. 129 (119.5); on raw prices it would be 147.5
     * and 129 would not be above it */
    cr_assert_eq(json_integer_value(json_object_get(r, "count")), 1, "SPL matches");
    json_t *vals = json_object_get(json_array_get(json_object_get(r, "matches"), 0), "values");
    cr_assert_eq(json_number_value(json_object_get(vals, "sma:20")), rest_last("SPL", "sma:20"));
    cr_assert_float_eq(json_number_value(json_object_get(vals, "sma:20")), 119.5, 1e-9);
    json_decref(r);
    md_screens_free(sc);
    close_all();
}

Test(pipeline_screen, test_close_schedule_runs_after_a_bar_of_its_interval_closes)
{
    open_all();
    add_job("onclose", "close 1d", "BBB", NULL, "close > 100");
    write_days("BBB", 0, 3, 99, 1); /* 99, 100, 101 */
    md_screens *sc;
    md_error err;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    cr_assert_eq(md_screens_start(sc, &err), 0, "%s", err.msg);
    usleep(300000);
    json_t *r = result(sc, "onclose");
    cr_assert(json_is_null(json_object_get(r, "last_run")), "no bar closed yet");
    json_decref(r);
    md_bar b; /* the hub publishes what the writer stores: a daily bar closes */
    md_bar_init(&b);
    write_days("BBB", 3, 1, 99, 1); /* 102 */
    for (int i = 0; i < 500; i++) {
        r = result(sc, "onclose");
        if (!json_is_null(json_object_get(r, "last_run"))) break;
        json_decref(r);
        r = NULL;
        usleep(10000);
    }
    cr_assert_not_null(r, "ran a moment after the close");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "last_run"), "bar")),
                     "2024-03-04T00:00:00Z");
    cr_assert_eq(json_integer_value(json_object_get(r, "count")), 1);
    json_decref(r);
    md_screens_free(sc);
    close_all();
}

/* The screen's last run once it is for `bar` (waits up to 5 s), or NULL. */
static json_t *run_for(md_screens *sc, const char *name, const char *bar)
{
    for (int i = 0; i < 500; i++) {
        json_t *r = result(sc, name);
        const char *at = json_string_value(json_object_get(json_object_get(r, "last_run"), "bar"));
        if (at && strcmp(at, bar) == 0) return r;
        json_decref(r);
        usleep(10000);
    }
    return NULL;
}

Test(pipeline_screen, test_a_bar_of_the_day_in_progress_is_no_close)
{
    open_all();
    add_job("onclose", "close 1d", "CCC", NULL, "close > 0");
    int64_t today = md_now() / 86400 * 86400;
    int day = (int)((today - T0) / 86400);
    write_days("CCC", day - 5, 5, 10, 1); /* up to yesterday */
    md_screens *sc;
    md_error err;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    cr_assert_eq(md_screens_start(sc, &err), 0, "%s", err.msg);
    char tbuf[32], ybuf[32];
    md_time_format(today, tbuf);
    md_time_format(today - 86400, ybuf);
    /* a bar of today, ingested while the day runs: yesterday has closed, today has not */
    write_days("CCC", day, 1, 10, 1);
    json_t *r = run_for(sc, "onclose", ybuf);
    cr_assert_not_null(r, "ran for the day that closed");
    json_t *m = json_array_get(json_object_get(r, "matches"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "timestamp")), ybuf,
                     "evaluated at the closed bar, not the forming one");
    json_decref(r);
    /* today's close (a live bar is announced when its period ends) still runs */
    md_bar b;
    md_bar_init(&b);
    b.ts = today;
    b.open = b.high = b.low = b.close = 20;
    b.volume = 1;
    md_hub_publish_bar(svc.hub, "CCC", MD_IV_1D, &b, MD_ORIGIN_DERIVED, 0);
    r = run_for(sc, "onclose", tbuf);
    cr_assert_not_null(r, "today's close was not taken by the bar ingested during the day");
    json_decref(r);
    md_screens_free(sc);
    close_all();
}

Test(pipeline_screen, test_a_bad_condition_stops_the_start_naming_file_line_and_column)
{
    open_all();
    add_job("bad", "every 5m", "watchlist", NULL, "rsi:14 < 30 and clse > 1");
    md_screens *sc = NULL;
    md_error err;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), MD_ECONFIG);
    cr_assert_null(sc);
    cr_assert(strstr(err.msg, "test.yaml:12: pipeline.jobs.bad.condition: column 17: unknown "
                              "name 'clse'") != NULL,
              "%s", err.msg);
    close_all();
}

Test(pipeline_screen, test_answers_for_unknown_screens_and_the_list)
{
    open_all();
    add_job("a", "every 5m", "watchlist", "1h", "macd.histogram > 0");
    md_screens *sc;
    md_error err;
    cr_assert_eq(md_screens_new(&svc, &sc, &err), 0, "%s", err.msg);
    md_buf b = MD_BUF_INIT;
    cr_assert_eq(md_screens_get_json(sc, "nope", &b, &err), MD_ENOTFOUND);
    md_free(cfg.sources_watchlist);
    cfg.sources_watchlist = md_strdup("aapl, bad sym,MSFT");
    cr_assert_eq(md_screens_list_json(sc, &cfg, &b, &err), 0);
    json_t *v = json_loads(b.data, 0, NULL);
    json_t *wl = json_object_get(v, "watchlist");
    cr_assert_eq(json_array_size(wl), 2, "normalised, the bad one left out");
    cr_assert_str_eq(json_string_value(json_array_get(wl, 0)), "AAPL");
    json_t *one = json_array_get(json_object_get(v, "screens"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(one, "canonical")),
                     "(macd:12:26:9.histogram > 0)");
    cr_assert_str_eq(json_string_value(json_object_get(one, "channel")), "screen.a");
    cr_assert(json_is_null(json_object_get(one, "last_run")));
    json_decref(v);
    md_buf_deinit(&b);
    md_screens_free(sc);
    close_all();
}
