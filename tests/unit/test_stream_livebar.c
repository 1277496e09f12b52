/* Live bars (stream/livebar.h) with an injected clock: 1m bars from quotes closed at the
 * minute boundary by the clock (no later quote needed), by a later quote, late quotes
 * ignored, roll-ups to coarser intervals, and sources' own bars taking precedence. */
#include "streamutil.h"
#include "stream/livebar.h"

static int64_t now_ms;
static int64_t fake_clock(void *ctx)
{
    return now_ms;
}

typedef struct {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    md_bar bar;
} seen_bar;

static seen_bar seen[256];
static size_t n_seen;

static void on_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *b, md_origin o)
{
    if (o != MD_ORIGIN_DERIVED || n_seen == 256) return;
    snprintf(seen[n_seen].symbol, sizeof seen[n_seen].symbol, "%s", symbol);
    seen[n_seen].iv = iv;
    seen[n_seen].bar = *b;
    n_seen++;
}

static md_hub *hub;
static md_livebar *lb;

static void setup(void)
{
    hub = su_hub_new(256, 0, 100);
    md_hub_observer ob = {NULL, on_bar, NULL, NULL};
    md_hub_add_observer(hub, &ob);
    md_livebar_options o = {.hub = hub, .delay_ms = 2000, .now_ms = fake_clock};
    lb = md_livebar_new(&o);
    n_seen = 0;
}

static void teardown(void)
{
    md_livebar_free(lb);
    md_hub_free(hub);
}

TestSuite(livebar, .init = setup, .fini = teardown);

#define T0 1709303400 /* 2024-03-01T14:30:00Z, a 30-minute boundary */

static void quote(const char *sym, int64_t ts, double price, double volume)
{
    md_quote q = su_quote(sym, price, ts);
    q.volume = volume;
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 0);
}

static const seen_bar *find(md_interval iv, int64_t ts)
{
    for (size_t i = 0; i < n_seen; i++)
        if (seen[i].iv == iv && seen[i].bar.ts == ts) return &seen[i];
    return NULL;
}

Test(livebar, test_minute_bar_closes_at_the_boundary_by_the_clock)
{
    now_ms = (T0 + 1) * 1000LL;
    quote("AAPL", T0 + 1, 100, 10);
    now_ms = (T0 + 20) * 1000LL;
    quote("AAPL", T0 + 20, 103, 5);
    now_ms = (T0 + 40) * 1000LL;
    quote("AAPL", T0 + 40, 99, NAN);
    quote("AAPL", T0 + 59, 101, 1);
    md_livebar_tick(lb);
    cr_assert_eq(n_seen, 0, "the minute is not over");
    now_ms = (T0 + 60) * 1000LL + 1999;
    md_livebar_tick(lb);
    cr_assert_eq(n_seen, 0, "still inside the delay");
    now_ms = (T0 + 62) * 1000LL;
    md_livebar_tick(lb);
    const seen_bar *b = find(MD_IV_1M, T0);
    cr_assert_not_null(b, "closed without any later quote");
    cr_assert_str_eq(b->symbol, "AAPL");
    cr_assert_eq(b->bar.open, 100);
    cr_assert_eq(b->bar.high, 103);
    cr_assert_eq(b->bar.low, 99);
    cr_assert_eq(b->bar.close, 101);
    cr_assert_eq(b->bar.volume, 16);
    cr_assert_eq(b->bar.source, MD_SRC_INGEST);
    md_livebar_tick(lb);
    cr_assert_eq(n_seen, 1, "closed once");
}

Test(livebar, test_a_quote_of_the_next_minute_closes_the_bar_and_late_ones_are_ignored)
{
    now_ms = (T0 + 5) * 1000LL;
    quote("X", T0 + 5, 1, NAN);
    quote("X", T0 + 61, 2, NAN);
    md_livebar_tick(lb);
    const seen_bar *b = find(MD_IV_1M, T0);
    cr_assert_not_null(b);
    cr_assert_eq(b->bar.close, 1);
    quote("X", T0 + 30, 50, NAN); /* late: its minute was closed */
    now_ms = (T0 + 125) * 1000LL;
    md_livebar_tick(lb);
    b = find(MD_IV_1M, T0 + 60);
    cr_assert_not_null(b);
    cr_assert_eq(b->bar.high, 2, "the late quote did not land in the next bar");
    md_livebar_stats st;
    md_livebar_get_stats(lb, &st);
    cr_assert_eq(st.late, 1);
    size_t minute_bars = 0;
    for (size_t i = 0; i < n_seen; i++) minute_bars += seen[i].iv == MD_IV_1M;
    cr_assert_eq(minute_bars, 2);
}

Test(livebar, test_old_quotes_in_one_burst_make_one_bar_after_the_delay)
{
    now_ms = (T0 + 3600) * 1000LL; /* an hour later: a replay of old quotes */
    quote("R", T0 + 1, 5, NAN);
    md_livebar_tick(lb);
    cr_assert_eq(n_seen, 0, "held for the delay after its last update");
    quote("R", T0 + 2, 7, NAN);
    now_ms += 2000;
    md_livebar_tick(lb);
    const seen_bar *b = find(MD_IV_1M, T0);
    cr_assert_not_null(b);
    cr_assert_eq(b->bar.open, 5);
    cr_assert_eq(b->bar.close, 7);
}

Test(livebar, test_coarser_bars_roll_up_from_minutes)
{
    for (int m = 0; m < 5; m++) {
        now_ms = (T0 + 60 * m + 10) * 1000LL;
        quote("C", T0 + 60 * m + 10, 10 + m, 1);
        quote("C", T0 + 60 * m + 50, 20 - m, 2);
    }
    now_ms = (T0 + 300) * 1000LL + 2000; /* the 5th minute closes: the 5m bucket is complete */
    md_livebar_tick(lb);
    const seen_bar *b5 = find(MD_IV_5M, T0);
    cr_assert_not_null(b5, "5m closes with its last minute");
    cr_assert_eq(b5->bar.open, 10);
    cr_assert_eq(b5->bar.high, 20);
    cr_assert_eq(b5->bar.low, 10);
    cr_assert_eq(b5->bar.close, 16);
    cr_assert_eq(b5->bar.volume, 15);
    cr_assert_null(find(MD_IV_15M, T0), "15m is not over");
    const seen_bar *b1 = find(MD_IV_1M, T0 + 240);
    cr_assert_not_null(b1);
    /* the 15m bar closes by the clock after its end */
    now_ms = (T0 + 900) * 1000LL + 2000;
    md_livebar_tick(lb);
    const seen_bar *b15 = find(MD_IV_15M, T0);
    cr_assert_not_null(b15);
    cr_assert_eq(b15->bar.high, 20);
    cr_assert_eq(b15->bar.volume, 15);
    cr_assert_null(find(MD_IV_1D, md_interval_floor(MD_IV_1D, T0)), "the day is not over");
}

Test(livebar, test_a_source_sending_minute_bars_stops_quote_built_bars)
{
    now_ms = (T0 + 1) * 1000LL;
    quote("S", T0 + 1, 1, NAN);
    md_bar b;
    md_bar_init(&b);
    b.ts = T0, b.open = 1, b.high = 3, b.low = 1, b.close = 2, b.volume = 100;
    md_hub_publish_bar(hub, "S", MD_IV_1M, &b, MD_ORIGIN_LOCAL, 0); /* e.g. POST /ingest/bars */
    quote("S", T0 + 2, 9, NAN);
    now_ms = (T0 + 303) * 1000LL;
    md_livebar_tick(lb);
    cr_assert_null(find(MD_IV_1M, T0), "no quote-built minute next to the source's");
    const seen_bar *b5 = find(MD_IV_5M, T0);
    cr_assert_not_null(b5, "the source's minutes still roll up");
    cr_assert_eq(b5->bar.high, 3);
}

/* Regression: at the end of a feed the timer found the last 1m bar and its 5m bar due at the
 * same instant and closed both in one pass, so the 5m bar went out without its last minute
 * (the roll-up of that minute then came too late and was dropped as late). */
Test(livebar, test_a_coarse_bar_closed_by_the_clock_keeps_its_last_minute)
{
    for (int m = 0; m < 5; m++) {
        now_ms = (T0 + 60 * m + 10) * 1000LL;
        quote("LAST", T0 + 60 * m + 10, 100 + m, 1);
        md_livebar_tick(lb); /* hands out the minute before: the 5m bar is open */
    }
    now_ms = (T0 + 300 + 3) * 1000LL; /* the feed stopped: only the clock closes bars */
    md_livebar_tick(lb);
    const seen_bar *b = find(MD_IV_5M, T0);
    cr_assert_not_null(b, "the 5m bar closed in the same tick");
    cr_assert_eq(b->bar.close, 104, "with its last minute (close %g)", b->bar.close);
    cr_assert_eq(b->bar.high, 104);
    cr_assert_eq(b->bar.volume, 5);
    md_livebar_stats st;
    md_livebar_get_stats(lb, &st);
    cr_assert_eq(st.late, 0, "no minute was turned away as late");
}

Test(livebar, test_forming_bars_fold_in_the_open_minute)
{
    md_bar b;
    cr_assert_eq(md_livebar_forming(lb, "F", MD_IV_5M, &b), 0, "nothing yet");
    now_ms = (T0 + 10) * 1000LL;
    quote("F", T0 + 10, 10, 1);
    quote("F", T0 + 70, 12, 2); /* closes minute 0 (rolled into the 5m bar), opens minute 1 */
    md_livebar_tick(lb);
    quote("F", T0 + 80, 9, 3);
    cr_assert_eq(md_livebar_forming(lb, "F", MD_IV_1M, &b), 1);
    cr_assert_eq(b.ts, T0 + 60);
    cr_assert_eq(b.open, 12);
    cr_assert_eq(b.low, 9);
    cr_assert_eq(md_livebar_forming(lb, "F", MD_IV_5M, &b), 1);
    cr_assert_eq(b.ts, T0);
    cr_assert_eq(b.open, 10);
    cr_assert_eq(b.high, 12);
    cr_assert_eq(b.low, 9);
    cr_assert_eq(b.close, 9);
    cr_assert_eq(b.volume, 6);
    cr_assert_eq(md_livebar_forming(lb, "F", MD_IV_1H, &b), 1, "every coarser interval");
    cr_assert_eq(b.ts, T0 - 30 * 60, "its bucket start");
}

/* Regression: a replay that pauses (its bars' ends are long past, only the clock closes them)
 * had its next tick close the last minute of a 5m bucket, and the timer then closed the 5m bar
 * before that minute was handed out and rolled in. */
Test(livebar, test_a_coarse_bar_waits_for_a_minute_closed_by_a_tick_and_not_yet_rolled_in)
{
    for (int m = 0; m < 5; m++) {
        now_ms = (T0 + 60 * m + 10) * 1000LL;
        quote("GAP", T0 + 60 * m + 10, 100 + m, 1);
        md_livebar_tick(lb);
    }
    now_ms = (T0 + 3600) * 1000LL;  /* the pause: minute 4 and the 5m bar are both due */
    quote("GAP", T0 + 310, 200, 1); /* the next tick closes minute 4 first */
    md_livebar_tick(lb);
    const seen_bar *b = find(MD_IV_5M, T0);
    cr_assert_not_null(b);
    cr_assert_eq(b->bar.close, 104, "with minute 4 (close %g)", b->bar.close);
    cr_assert_eq(b->bar.volume, 5);
}

/* Issue 13: a quote fetched from a provider (/price, a watchlist poll) is a snapshot, not a
 * trade - its volume is the day's so far - and must never create or change a bar; ticks
 * around it build the bar from their own sizes. Locally and when relayed. */
Test(livebar, snapshot_quotes_never_make_or_change_a_bar)
{
    now_ms = (T0 + 5) * 1000LL;
    md_quote snap = su_quote("SNAP", 250, T0 + 5);
    snap.volume = 48000000; /* the day's volume so far */
    md_hub_publish_quote(hub, &snap, (md_origin)(MD_ORIGIN_LOCAL | MD_ORIGIN_SNAPSHOT), 0);
    md_hub_publish_quote(hub, &snap, (md_origin)(MD_ORIGIN_REMOTE | MD_ORIGIN_SNAPSHOT), 0);
    now_ms = (T0 + 200) * 1000LL;
    md_livebar_tick(lb);
    cr_assert_eq(n_seen, 0, "a snapshot alone made a bar");
    /* between two ticks of the next minutes, it changes nothing */
    now_ms = (T0 + 245) * 1000LL;
    quote("SNAP", T0 + 241, 100, 3);
    snap.ts = T0 + 242, snap.price = 999;
    md_hub_publish_quote(hub, &snap, (md_origin)(MD_ORIGIN_LOCAL | MD_ORIGIN_SNAPSHOT), 0);
    quote("SNAP", T0 + 243, 101, 4);
    now_ms = (T0 + 400) * 1000LL;
    md_livebar_tick(lb);
    const seen_bar *b = find(MD_IV_1M, T0 + 240);
    cr_assert_not_null(b);
    cr_assert_eq(b->bar.high, 101);
    cr_assert_eq(b->bar.close, 101);
    cr_assert_eq(b->bar.volume, 7, "volume from the ticks' sizes: %g", b->bar.volume);
    cr_assert_null(find(MD_IV_1M, T0));
}

/* With the symbols' calendars a live daily bar is the exchange session: New York's winter
 * post-market runs to 20:00 EST = 01:00 UTC, so a tick at 19:30 New York (00:30 UTC on the
 * next day) is part of Monday 2024-12-02's bar, which closes after 01:00 UTC, not at
 * midnight. A 24/7 symbol's day is the UTC day. */
/* The suite's live bars again, with the default calendars (a symbol's sessions). */
static md_cal_map *with_calendars(void)
{
    md_livebar_free(lb);
    md_cal_map *cals;
    md_error err;
    cr_assert_eq(md_cal_map_new(NULL, &cals, &err), 0, "%s", err.msg);
    md_livebar_options o = {.hub = hub, .delay_ms = 2000, .now_ms = fake_clock, .cals = cals};
    lb = md_livebar_new(&o);
    return cals;
}

/* Frees them before their calendars (teardown frees lb again: NULL is fine). */
static void without_calendars(md_cal_map *cals)
{
    md_livebar_free(lb);
    lb = NULL;
    md_cal_map_free(cals);
}

Test(livebar, daily_bars_close_at_the_end_of_the_session)
{
    md_cal_map *cals = with_calendars();
    const int64_t mon = 1733097600; /* 2024-12-02T00:00:00Z */
    const int64_t close = mon + 21 * 3600, midnight = mon + 86400, post_end = midnight + 3600;
    const char *syms[] = {"AAPL", "BTC-USD"};
    for (int k = 0; k < 2; k++) {
        now_ms = (close - 30) * 1000LL;
        quote(syms[k], close - 30, 100, 1); /* 15:59:30 New York */
    }
    now_ms = (close + 5) * 1000LL; /* the minutes close and roll up into the days */
    md_livebar_tick(lb);
    now_ms = (midnight + 5) * 1000LL; /* past midnight UTC and the delay */
    md_livebar_tick(lb);
    const seen_bar *d = find(MD_IV_1D, mon);
    cr_assert_not_null(d, "the 24/7 day ended at midnight");
    cr_assert_str_eq(d->symbol, "BTC-USD");
    for (int k = 0; k < 2; k++) {
        now_ms = (midnight + 1800) * 1000LL;
        quote(syms[k], midnight + 1800, 104, 2); /* 19:30 New York */
    }
    now_ms = (midnight + 1900) * 1000LL;
    md_livebar_tick(lb);
    size_t days = 0;
    for (size_t i = 0; i < n_seen; i++) days += seen[i].iv == MD_IV_1D;
    cr_assert_eq(days, 1, "AAPL's session is still in its post-market");
    now_ms = (post_end + 3) * 1000LL;
    md_livebar_tick(lb);
    const seen_bar *a = NULL;
    for (size_t i = 0; i < n_seen; i++)
        if (seen[i].iv == MD_IV_1D && strcmp(seen[i].symbol, "AAPL") == 0) a = &seen[i];
    cr_assert_not_null(a, "closed once the post-market ended");
    cr_assert_eq(a->bar.ts, mon, "labelled with the session date");
    cr_assert_eq(a->bar.close, 104, "the post-market tick is in it");
    cr_assert_eq(a->bar.volume, 3);
    cr_assert_null(find(MD_IV_1D, midnight), "no AAPL bar for Tuesday, no BTC-USD one yet");
    without_calendars(cals);
}

/* 24/5 FX: Monday's session opens at 17:00 New York on Sunday (22:00 UTC in winter) and
 * closes at 17:00 on Monday, so a Sunday-evening tick and a Monday-afternoon one make one
 * daily bar labelled Monday, closed at Monday 22:00 UTC, not at either UTC midnight. */
Test(livebar, an_fx_day_runs_from_sunday_evening_to_monday_evening)
{
    md_cal_map *cals = with_calendars();
    const int64_t mon = 1733097600; /* 2024-12-02T00:00:00Z */
    const int64_t sun_eve = mon - 3600, mon_aft = mon + 21 * 3600, mon_close = mon + 22 * 3600;
    now_ms = sun_eve * 1000LL;
    quote("EURUSD", sun_eve, 1.05, 1); /* Sunday 18:00 New York */
    now_ms = (mon + 5) * 1000LL;       /* past UTC midnight: the FX day goes on */
    md_livebar_tick(lb);
    now_ms = mon_aft * 1000LL;
    quote("EURUSD", mon_aft, 1.06, 2); /* Monday 16:00 New York */
    now_ms = (mon_aft + 600) * 1000LL;
    md_livebar_tick(lb);
    for (size_t i = 0; i < n_seen; i++)
        cr_assert_neq(seen[i].iv, MD_IV_1D, "no daily bar before Monday's 17:00 New York");
    now_ms = (mon_close + 5) * 1000LL;
    md_livebar_tick(lb);
    const seen_bar *d = find(MD_IV_1D, mon);
    cr_assert_not_null(d, "closed at Monday 17:00 New York, labelled Monday");
    cr_assert_eq(d->bar.open, 1.05, "Sunday evening's tick opened it");
    cr_assert_eq(d->bar.close, 1.06);
    cr_assert_eq(d->bar.volume, 3);
    cr_assert_null(find(MD_IV_1D, mon - 86400), "no Sunday bar");
    without_calendars(cals);
}
