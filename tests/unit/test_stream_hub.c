/* The stream hub and sessions (stream/hub.h, stream/session.h) on plain data: fan-out in
 * seq order, the bounded conflating queue, lagged counts, replay with since_seq, limits,
 * wake-ups and coalesced packing. */
#include "streamutil.h"

#include <time.h>

static md_hub *hub;
static md_hub_shard *sh;

static void mk(size_t queue, size_t replay, size_t max_subs)
{
    hub = su_hub_new(queue, replay, max_subs);
    sh = md_hub_shard_new(hub, su_wake, NULL);
}

static void done(void)
{
    md_hub_shard_free(sh);
    md_hub_free(hub);
    hub = NULL;
    sh = NULL;
}

static void sub_ok(md_session *s, const char *json)
{
    md_error err;
    cr_assert_eq(su_op(s, json, &err), 0, "%s: %s", json, err.msg);
}

TestSuite(stream_hub, .fini = done);

Test(stream_hub, test_subscribers_get_their_topics_in_seq_order)
{
    mk(256, 100, 100);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"aapl\"],\"channels\":[\"quote\"]}");
    su_publish(hub, "AAPL", 1);
    su_publish(hub, "MSFT", 2);
    su_publish(hub, "AAPL", 3);
    md_bar b;
    md_bar_init(&b);
    b.ts = 1700000040, b.open = b.high = b.low = b.close = 5, b.volume = 1;
    md_hub_publish_bar(hub, "AAPL", MD_IV_1M, &b, MD_ORIGIN_LOCAL, 0); /* not subscribed */
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert_eq(json_array_size(m), 3);
    cr_assert_str_eq(su_type(json_array_get(m, 0)), "subscribed");
    cr_assert_str_eq(su_type(json_array_get(m, 1)), "quote");
    cr_assert_eq(su_num(json_array_get(m, 1), "price"), 1);
    cr_assert_eq(su_num(json_array_get(m, 1), "seq"), 1);
    cr_assert_eq(su_num(json_array_get(m, 2), "price"), 3);
    cr_assert_eq(su_num(json_array_get(m, 2), "seq"), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "symbol")), "AAPL");
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_bar_channels_are_separate_topics)
{
    mk(256, 100, 100);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"X\"],\"channels\":[\"bar.5m\"]}");
    md_bar b;
    md_bar_init(&b);
    b.ts = 1700000100, b.open = 1, b.high = 2, b.low = 0.5, b.close = 1.5, b.volume = 10;
    md_hub_publish_bar(hub, "X", MD_IV_1M, &b, MD_ORIGIN_LOCAL, 0);
    md_hub_publish_bar(hub, "X", MD_IV_5M, &b, MD_ORIGIN_LOCAL, 0);
    su_publish(hub, "X", 9);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert_eq(json_array_size(m), 2);
    json_t *bar = json_array_get(m, 1);
    cr_assert_str_eq(su_type(bar), "bar");
    cr_assert_str_eq(json_string_value(json_object_get(bar, "interval")), "5m");
    cr_assert_eq(su_num(bar, "high"), 2);
    cr_assert_eq(su_num(bar, "volume"), 10);
    cr_assert_eq(su_num(bar, "seq"), 2);
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_messages_published_before_subscribing_are_not_delivered)
{
    mk(256, 100, 100);
    md_session *s = md_session_new(sh, NULL);
    su_publish(hub, "A", 1); /* sits in the shard's inbox, not drained yet */
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}");
    su_publish(hub, "A", 2);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert_eq(json_array_size(m), 2);
    cr_assert_eq(su_num(json_array_get(m, 1), "price"), 2);
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_slow_session_is_conflated_to_latest_per_topic_with_lagged_count)
{
    mk(4, 100, 100);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\"]}");
    json_decref(su_take(s));         /* the answer */
    for (int i = 0; i < 1000; i++) { /* never read while publishing: a stalled client */
        su_publish(hub, i % 2 ? "B" : "A", i);
        if (i % 7 == 0) md_hub_shard_drain(sh, NULL, NULL);
    }
    md_hub_shard_drain(sh, NULL, NULL);
    cr_assert_leq(md_session_queued(s), 4 + 2, "queue bounded by queue_size + topics");
    md_session_stats st;
    md_session_get_stats(s, &st);
    json_t *m = su_take(s);
    cr_assert_str_eq(su_type(json_array_get(m, 0)), "lagged");
    uint64_t dropped = (uint64_t)su_num(json_array_get(m, 0), "dropped");
    cr_assert_eq(dropped, st.dropped);
    size_t quotes = su_count(m, "quote");
    cr_assert_eq(quotes + dropped, 1000, "every message is delivered or counted as dropped");
    double last_seq = 0, last_a = -1, last_b = -1;
    for (size_t i = 1; i < json_array_size(m); i++) {
        json_t *q = json_array_get(m, i);
        cr_assert(su_num(q, "seq") > last_seq, "seq increases");
        last_seq = su_num(q, "seq");
        if (strcmp(json_string_value(json_object_get(q, "symbol")), "A") == 0)
            last_a = su_num(q, "price");
        else
            last_b = su_num(q, "price");
    }
    cr_assert_eq(last_a, 998, "the latest A is kept");
    cr_assert_eq(last_b, 999, "the latest B is kept");
    json_decref(m);
    /* caught up: no more lagged */
    su_publish(hub, "A", 5000);
    md_hub_shard_drain(sh, NULL, NULL);
    m = su_take(s);
    cr_assert_eq(json_array_size(m), 1);
    cr_assert_str_eq(su_type(json_array_get(m, 0)), "quote");
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_a_slow_session_does_not_affect_a_fast_one)
{
    mk(8, 0, 100);
    md_session *slow = md_session_new(sh, NULL), *fast = md_session_new(sh, NULL);
    sub_ok(slow, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}");
    sub_ok(fast, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}");
    json_decref(su_take(fast));
    size_t got = 0;
    for (int i = 0; i < 500; i++) {
        su_publish(hub, "A", i);
        md_hub_shard_drain(sh, NULL, NULL);
        json_t *m = su_take(fast);
        cr_assert_eq(json_array_size(m), 1);
        cr_assert_eq(su_num(json_array_get(m, 0), "price"), i);
        got++;
        json_decref(m);
    }
    cr_assert_eq(got, 500);
    md_session_stats st;
    md_session_get_stats(slow, &st);
    cr_assert_gt(st.dropped, 0);
    cr_assert_leq(md_session_queued(slow), 8 + 1 + 1);
    md_session_get_stats(fast, &st);
    cr_assert_eq(st.dropped, 0);
    md_session_free(slow);
    md_session_free(fast);
}

Test(stream_hub, test_since_seq_replays_held_messages_of_the_requested_topics)
{
    mk(256, 100, 100);
    for (int i = 1; i <= 6; i++) su_publish(hub, i % 2 ? "A" : "B", i); /* seq 1..6 */
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":2}");
    su_publish(hub, "A", 7); /* live, seq 7 */
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    json_t *ans = json_array_get(m, 0);
    cr_assert_str_eq(su_type(ans), "subscribed");
    cr_assert_eq(su_num(ans, "replayed"), 2);
    cr_assert(json_is_true(json_object_get(ans, "replay_complete")));
    cr_assert_eq(su_num(ans, "seq"), 6);
    cr_assert_eq(json_array_size(m), 4);
    cr_assert_eq(su_num(json_array_get(m, 1), "seq"), 3);
    cr_assert_eq(su_num(json_array_get(m, 2), "seq"), 5);
    cr_assert_eq(su_num(json_array_get(m, 3), "seq"), 7);
    json_decref(m);
    md_session_free(s);
}

/* Replayed messages are queued whole (not conflated by the live ones after them), and stay
 * queued when their subscription goes away: nothing in the queue points at it then (a
 * sanitizer build catches a use after free here). */
Test(stream_hub, test_a_replay_is_not_conflated_and_outlives_an_unsubscribe)
{
    mk(4, 100, 100);
    for (int i = 1; i <= 20; i++) su_publish(hub, "A", i); /* seq 1..20 */
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":0}");
    for (int i = 21; i <= 30; i++) su_publish(hub, "A", i); /* live, behind a queue of 20 */
    md_hub_shard_drain(sh, NULL, NULL);
    sub_ok(s, "{\"op\":\"unsubscribe\",\"symbols\":[\"A\"]}");
    json_t *m = su_take(s);
    size_t at = 0; /* the live messages behind the replay were conflated: lagged says so */
    if (strcmp(su_type(json_array_get(m, 0)), "lagged") == 0) at = 1;
    cr_assert_str_eq(su_type(json_array_get(m, at)), "subscribed");
    cr_assert_eq(su_num(json_array_get(m, at), "replayed"), 20);
    for (int i = 1; i <= 20; i++)
        cr_assert_eq(su_num(json_array_get(m, at + (size_t)i), "seq"), i,
                     "replayed whole, in order");
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_replay_reports_a_gap_larger_than_the_buffer)
{
    mk(256, 3, 100);
    for (int i = 1; i <= 10; i++) su_publish(hub, "A", i);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":1}");
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert(json_is_false(json_object_get(json_array_get(m, 0), "replay_complete")));
    cr_assert_eq(su_count(m, "quote"), 3);
    cr_assert_eq(su_num(json_array_get(m, 1), "seq"), 8);
    json_decref(m);
    /* a since_seq from the future (the server restarted): incomplete, nothing replayed */
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"B\"],\"since_seq\":99}");
    m = su_take(s);
    cr_assert_eq(json_array_size(m), 1);
    cr_assert(json_is_false(json_object_get(json_array_get(m, 0), "replay_complete")));
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_replay_and_undrained_inbox_deliver_each_message_once)
{
    mk(256, 100, 100);
    md_session *s = md_session_new(sh, NULL);
    for (int i = 1; i <= 3; i++) su_publish(hub, "A", i); /* in the inbox, not drained */
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":0}");
    md_hub_shard_drain(sh, NULL, NULL);
    su_publish(hub, "A", 4);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert_eq(su_count(m, "quote"), 4);
    for (int i = 1; i <= 4; i++) cr_assert_eq(su_num(json_array_get(m, (size_t)i), "seq"), i);
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_unsubscribe_stops_delivery)
{
    mk(256, 100, 100);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s,
           "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\"],\"channels\":[\"quote\",\"bar.1m\"]}");
    cr_assert_eq(md_session_subscriptions(s), 4);
    sub_ok(s, "{\"op\":\"unsubscribe\",\"symbols\":[\"A\"]}");
    cr_assert_eq(md_session_subscriptions(s), 2);
    su_publish(hub, "A", 1);
    su_publish(hub, "B", 2);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert_str_eq(su_type(json_array_get(m, 1)), "unsubscribed");
    cr_assert_eq(su_num(json_array_get(m, 1), "subscriptions"), 2);
    cr_assert_eq(su_count(m, "quote"), 1);
    cr_assert_eq(su_num(json_array_get(m, 2), "price"), 2);
    json_decref(m);
    sub_ok(s, "{\"op\":\"unsubscribe\"}"); /* everything */
    cr_assert_eq(md_session_subscriptions(s), 0);
    su_publish(hub, "B", 3);
    md_hub_shard_drain(sh, NULL, NULL);
    m = su_take(s);
    cr_assert_eq(su_count(m, "quote"), 0);
    json_decref(m);
    md_session_free(s);
}

Test(stream_hub, test_subscription_limit_rejects_the_whole_request)
{
    mk(256, 100, 3);
    md_session *s = md_session_new(sh, NULL);
    md_error err;
    int rc = su_op(
        s, "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\"],\"channels\":[\"quote\",\"bar.1m\"]}",
        &err);
    cr_assert_eq(rc, MD_ESUBLIMIT);
    cr_assert_str_eq(md_error_code(rc), "too_many_subscriptions");
    cr_assert_eq(md_session_subscriptions(s), 0);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\",\"C\"]}");
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}"); /* already held: no new pair */
    cr_assert_eq(md_session_subscriptions(s), 3);
    md_session_free(s);
}

Test(stream_hub, test_wake_once_per_drain_and_deferred_until_flush)
{
    mk(256, 0, 100);
    md_quote q = su_quote("A", 1, 1700000000);
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 1);
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 1);
    cr_assert_eq(su_wakes, 0, "deferred");
    md_hub_flush(hub);
    cr_assert_eq(su_wakes, 1);
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 0);
    cr_assert_eq(su_wakes, 1, "already woken, not drained yet");
    cr_assert_eq(md_hub_shard_drain(sh, NULL, NULL), 3);
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 0);
    cr_assert_eq(su_wakes, 2);
}

/* The server holds a request's flushes until its answer is written (issue 20): a held flush
 * wakes nothing and says it is owed; the next flush after the hold wakes the shard once. */
Test(stream_hub, test_held_flush_is_owed_not_lost)
{
    mk(256, 0, 100);
    md_quote q = su_quote("A", 1, 1700000000);
    int owed = 0;
    md_hub_hold_flushes_for(&owed, 60000000000LL); /* no machine outruns a minute */
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 1);
    md_hub_flush(hub);
    md_hub_flush(hub);
    md_hub_hold_flushes(NULL);
    cr_assert_eq(su_wakes, 0, "held: the stream loop is not woken before the answer");
    cr_assert_eq(owed, 1);
    md_hub_flush(hub);
    cr_assert_eq(su_wakes, 1, "the owed flush wakes the shard");
    cr_assert_eq(md_hub_shard_drain(sh, NULL, NULL), 1);
    owed = 0;
    md_hub_hold_flushes_for(&owed, 60000000000LL);
    md_hub_hold_flushes(NULL);
    md_hub_flush(hub);
    cr_assert_eq(owed, 0, "a hold without a flush owes nothing");
    cr_assert_eq(su_wakes, 1, "nothing due: no wake");
    /* a request that outlasts the hold (a bulk ingest) streams what it commits after that */
    md_hub_hold_flushes(&owed); /* the server's hold: MD_HUB_HOLD_MAX_NS */
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 1);
    struct timespec ts = {0, MD_HUB_HOLD_MAX_NS + 1000000};
    nanosleep(&ts, NULL);
    md_hub_flush(hub);
    md_hub_hold_flushes(NULL);
    cr_assert_eq(su_wakes, 2, "past the hold: woken at once");
}

static int ready_calls;
static void on_ready(md_session *s, void *ctx)
{
    ready_calls++;
}

Test(stream_hub, test_ready_once_per_session_per_drain_and_batches_pack_together)
{
    mk(256, 0, 100);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}");
    json_decref(su_take(s));
    for (int i = 0; i < 50; i++) su_publish(hub, "A", i);
    ready_calls = 0;
    md_hub_shard_drain(sh, on_ready, NULL);
    cr_assert_eq(ready_calls, 1);
    /* all 50 frames leave in one buffer (one send), in order */
    md_buf b = MD_BUF_INIT;
    size_t n = 0;
    cr_assert_eq(md_session_pack(s, &b, 1 << 20, &n), 0);
    cr_assert_eq(n, 50);
    json_t *m = su_frames(&b);
    cr_assert_eq(json_array_size(m), 50);
    cr_assert_eq(su_num(json_array_get(m, 49), "price"), 49);
    json_decref(m);
    /* a small max_bytes splits it into several writes, losing nothing */
    for (int i = 0; i < 10; i++) su_publish(hub, "A", i);
    md_hub_shard_drain(sh, NULL, NULL);
    md_buf_reset(&b);
    int more = md_session_pack(s, &b, 1, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(more, 1);
    while (md_session_pack(s, &b, 1, &n)) {
    }
    m = su_frames(&b);
    cr_assert_eq(json_array_size(m), 10);
    json_decref(m);
    md_buf_deinit(&b);
    md_session_free(s);
}

Test(stream_hub, test_control_message_flood_overflows_the_session)
{
    mk(4, 0, 2);
    md_session *s = md_session_new(sh, NULL);
    for (int i = 0; i < 2000 && !md_session_overflowed(s); i++)
        md_session_push(s, md_proto_pong(1700000000));
    cr_assert(md_session_overflowed(s));
    md_session_free(s);
}

Test(stream_hub, test_sessions_on_two_shards_share_one_encoding)
{
    mk(256, 10, 100);
    md_hub_shard *sh2 = md_hub_shard_new(hub, su_wake, NULL);
    md_session *a = md_session_new(sh, NULL), *b = md_session_new(sh2, NULL);
    sub_ok(a, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}");
    sub_ok(b, "{\"op\":\"subscribe\",\"symbols\":[\"A\"]}");
    su_publish(hub, "A", 42);
    md_hub_shard_drain(sh, NULL, NULL);
    md_hub_shard_drain(sh2, NULL, NULL);
    json_t *ma = su_take(a), *mb = su_take(b);
    cr_assert(json_equal(json_array_get(ma, 1), json_array_get(mb, 1)));
    json_decref(ma);
    json_decref(mb);
    md_hub_stats st;
    md_hub_get_stats(hub, &st);
    cr_assert_eq(st.sessions, 2);
    cr_assert_eq(st.published, 1);
    md_session_free(a);
    md_session_free(b);
    md_hub_shard_free(sh2);
}

Test(stream_hub, test_a_burst_to_a_caught_up_client_is_not_conflated_but_the_next_one_is)
{
    mk(8, 0, 100);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\"]}");
    json_decref(su_take(s)); /* caught up: nothing queued */
    for (int i = 0; i < 100; i++) su_publish(hub, i % 2 ? "B" : "A", i); /* one large ingest */
    md_hub_shard_drain(sh, NULL, NULL);
    md_session_stats st;
    md_session_get_stats(s, &st);
    cr_assert_eq(st.dropped, 0, "a client that keeps up takes a burst of 16 x queue_size");
    cr_assert_eq(md_session_queued(s), 100);
    /* not written yet: the next burst finds it behind */
    for (int i = 0; i < 100; i++) su_publish(hub, i % 2 ? "B" : "A", 1000 + i);
    md_hub_shard_drain(sh, NULL, NULL);
    md_session_get_stats(s, &st);
    cr_assert_gt(st.dropped, 0);
    json_t *m = su_take(s);
    cr_assert_str_eq(su_type(json_array_get(m, 0)), "lagged");
    cr_assert_eq(su_count(m, "quote") + st.dropped, 200);
    json_decref(m);
    /* a burst past 16 x queue_size is conflated even for a client that keeps up */
    for (int i = 0; i < 300; i++) su_publish(hub, i % 2 ? "B" : "A", 5000 + i);
    md_hub_shard_drain(sh, NULL, NULL);
    cr_assert_leq(md_session_queued(s), 8 * 16 + 2);
    md_session_free(s);
}

/* -- extension channels --------------------------------------------------------------------- */

/* A handler that records what it is told and refuses past `limit` live pairs. */
typedef struct xrec {
    char log[2048];
    int live, limit;
} xrec;

static int x_acquire(void *ctx, const char *channel, const char *symbol, md_error *err)
{
    xrec *x = ctx;
    if (x->live == x->limit) return md_error_set(err, MD_ELIVELIMIT, "full");
    x->live++;
    snprintf(x->log + strlen(x->log), sizeof x->log - strlen(x->log), "+%s/%s ", channel, symbol);
    return 0;
}

static void x_release(void *ctx, const char *channel, const char *symbol)
{
    xrec *x = ctx;
    x->live--;
    snprintf(x->log + strlen(x->log), sizeof x->log - strlen(x->log), "-%s/%s ", channel, symbol);
}

static void publish_x(const char *channel, const char *symbol, const char *fields)
{
    int ch = md_hub_xchannel(hub, channel, 1, NULL);
    cr_assert_geq(ch, MD_CH_COUNT);
    md_hub_publish_ext(hub, ch, symbol, "indicator", fields, strlen(fields), MD_ORIGIN_DERIVED, 0);
}

Test(stream_hub, test_extension_channels_are_acquired_once_per_shard_and_released_by_the_last)
{
    mk(256, 100, 100);
    xrec x = {.limit = 100};
    md_hub_xhandler h = {"ind.", x_acquire, x_release, &x, NULL};
    md_hub_add_xhandler(hub, &h);
    md_session *a = md_session_new(sh, NULL), *b = md_session_new(sh, NULL);
    sub_ok(a,
           "{\"op\":\"subscribe\",\"symbols\":[\"AAPL\",\"MSFT\"],\"channels\":[\"ind.rsi@1m\"]}");
    sub_ok(b, "{\"op\":\"subscribe\",\"symbols\":[\"AAPL\"],\"channels\":[\"ind.rsi:14@1m\"],"
              "\"partial\":true}");
    cr_assert_str_eq(x.log, "+ind.rsi:14@1m/AAPL +ind.rsi:14@1m/MSFT "
                            "+ind.rsi:14@1m" MD_XCH_PARTIAL_SUFFIX "/AAPL ");
    cr_assert_eq(md_session_subscriptions(b), 1, "one pair: its forming-bar values are part of it");
    publish_x("ind.rsi:14@1m", "AAPL", ",\"value\":1");
    publish_x("ind.rsi:14@1m" MD_XCH_PARTIAL_SUFFIX, "AAPL", ",\"value\":2");
    publish_x("ind.rsi:14@1m", "MSFT", ",\"value\":3");
    publish_x("ind.rsi:14@1m", "IBM", ",\"value\":4");
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *ma = su_take(a), *mb = su_take(b);
    cr_assert_eq(su_count(ma, "indicator"), 2, "closes of AAPL and MSFT, not the partial");
    cr_assert_eq(su_count(mb, "indicator"), 2, "AAPL's close and partial");
    cr_assert_eq(su_num(json_array_get(mb, 2), "value"), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(mb, 2), "channel")),
                     "ind.rsi:14@1m");
    json_decref(ma);
    json_decref(mb);
    x.log[0] = 0;
    sub_ok(b, "{\"op\":\"unsubscribe\",\"channels\":[\"ind.rsi:14@1m\"]}");
    cr_assert_eq(md_session_subscriptions(b), 0, "the twin goes with the channel");
    cr_assert_str_eq(x.log, "-ind.rsi:14@1m" MD_XCH_PARTIAL_SUFFIX "/AAPL ",
                     "a still reads AAPL's closes");
    md_session_free(a);
    cr_assert_eq(x.live, 0, "%s", x.log);
    md_session_free(b);
    md_hub_remove_xhandler(hub, &x);
}

/* A handler computing a channel only while it is read says from which seq it has; a replay
 * from before that is not complete, one from after it is. */
static uint64_t x_from;
static int x_covers(void *ctx, const char *channel, const char *symbol, uint64_t since_seq)
{
    (void)ctx, (void)channel, (void)symbol;
    return x_from <= since_seq;
}

Test(stream_hub, test_a_replay_of_a_channel_nobody_read_for_a_while_is_not_complete)
{
    mk(256, 100, 100);
    xrec x = {.limit = 100};
    md_hub_xhandler h = {"ind.", x_acquire, x_release, &x, x_covers};
    md_hub_add_xhandler(hub, &h);
    for (int i = 1; i <= 4; i++) su_publish(hub, "A", i); /* seq 1..4 */
    publish_x("ind.rsi:14@1m", "A", ",\"value\":1");      /* seq 4: derived, the seq before */
    x_from = 3;
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.rsi@1m\"],"
              "\"since_seq\":2}");
    json_t *m = su_take(s);
    cr_assert_str_eq(su_type(json_array_get(m, 0)), "subscribed");
    cr_assert(json_is_false(json_object_get(json_array_get(m, 0), "replay_complete")),
              "computed only from seq 3 on: what came after 2 may be missing");
    json_decref(m);
    md_session *t = md_session_new(sh, NULL);
    sub_ok(t, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.rsi@1m\"],"
              "\"since_seq\":3}");
    m = su_take(t);
    cr_assert(json_is_true(json_object_get(json_array_get(m, 0), "replay_complete")));
    cr_assert_eq(su_count(m, "indicator"), 1, "the value after 3 is replayed");
    json_decref(m);
    md_session_free(s);
    md_session_free(t);
    md_hub_remove_xhandler(hub, &x);
}

Test(stream_hub, test_a_refused_extension_channel_leaves_nothing_subscribed)
{
    mk(256, 100, 100);
    xrec x = {.limit = 2};
    md_hub_xhandler h = {"ind.", x_acquire, x_release, &x, NULL};
    md_hub_add_xhandler(hub, &h);
    md_session *s = md_session_new(sh, NULL);
    md_error err;
    int rc = su_op(s,
                   "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\",\"C\"],\"channels\":"
                   "[\"quote\",\"ind.sma:5@1m\"]}",
                   &err);
    cr_assert_eq(rc, MD_ELIVELIMIT);
    cr_assert_eq(md_session_subscriptions(s), 0, "all or nothing");
    cr_assert_eq(x.live, 0, "what this request acquired was given back: %s", x.log);
    sub_ok(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\",\"B\"],\"channels\":[\"ind.sma:5@1m\"]}");
    cr_assert_eq(x.live, 2);
    rc = su_op(s, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"screen.x\"]}", &err);
    cr_assert_eq(rc, MD_ECHANNEL, "no handler for screen.: not served");
    cr_assert(strstr(err.msg, "not served by this agent") != NULL, "%s", err.msg);
    md_session_free(s);
    cr_assert_eq(x.live, 0);
    md_hub_remove_xhandler(hub, &x);
}

/* A client naming ever new channels (subscribed, then dropped) must not use up the agent's
 * channel numbers: one nobody reads (after xch_idle_ms, 0 here) goes to a new name, while a
 * channel still read keeps its number and its messages. */
Test(stream_hub, test_channel_numbers_nobody_reads_go_to_new_names)
{
    md_hub_options o;
    md_hub_options_default(&o);
    o.instance = "test";
    o.xch_idle_ms = 0;
    hub = md_hub_new(&o);
    sh = md_hub_shard_new(hub, su_wake, NULL);
    xrec x = {.limit = 1000};
    md_hub_xhandler h = {"ind.", x_acquire, x_release, &x, NULL};
    md_hub_add_xhandler(hub, &h);
    md_session *reader = md_session_new(sh, NULL), *churn = md_session_new(sh, NULL);
    sub_ok(reader, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.rsi:14@1m\"]}");
    int kept = md_hub_xchannel(hub, "ind.rsi:14@1m", 0, NULL);
    static const char *ivs[] = {"1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w", "1mo"};
    char op[160];
    int named = 0;
    for (int n = 2; n <= 4000 && named <= MD_CH_MAX; n++)
        for (int k = 0; k < 9; k++)
            for (int e = 0; e < 2; e++, named++) {
                snprintf(op, sizeof op,
                         "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":"
                         "[\"ind.%s:%d@%s\"]}",
                         e ? "ema" : "sma", n, ivs[k]);
                sub_ok(churn, op);
                sub_ok(churn, "{\"op\":\"unsubscribe\"}");
            }
    cr_assert_gt(named, MD_CH_MAX, "more names than numbers: %d", named);
    cr_assert_eq(md_hub_xchannel(hub, "ind.rsi:14@1m", 0, NULL), kept, "a read channel keeps it");
    publish_x("ind.rsi:14@1m", "A", ",\"value\":7");
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(reader);
    cr_assert_eq(su_count(m, "indicator"), 1);
    json_t *last = json_array_get(m, json_array_size(m) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "channel")), "ind.rsi:14@1m");
    cr_assert_eq(su_num(last, "value"), 7);
    json_decref(m);
    md_session_free(churn);
    md_session_free(reader);
    cr_assert_eq(x.live, 0);
    md_hub_remove_xhandler(hub, &x);
}

Test(stream_hub, test_screen_channels_are_not_per_symbol_and_replay_with_since_seq)
{
    mk(256, 100, 100);
    xrec x = {.limit = 100};
    md_hub_xhandler h = {"screen.", x_acquire, x_release, &x, NULL};
    md_hub_add_xhandler(hub, &h);
    md_session *s = md_session_new(sh, NULL);
    sub_ok(s, "{\"op\":\"subscribe\",\"channels\":[\"screen.up\"]}");
    cr_assert_str_eq(x.log, "+screen.up/ ");
    int ch = md_hub_xchannel(hub, "screen.up", 0, NULL);
    const char *f = ",\"event\":\"enter\",\"symbol\":\"AAPL\"";
    md_hub_publish_ext(hub, ch, "", "screen", f, strlen(f), MD_ORIGIN_LOCAL, 0);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(s);
    cr_assert_eq(su_count(m, "screen"), 1);
    json_t *ev = json_array_get(m, 1);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "symbol")), "AAPL");
    uint64_t seq = (uint64_t)su_num(ev, "seq");
    json_decref(m);
    md_session_free(s);
    /* a client that reconnects with since_seq gets the held event again */
    md_session *r = md_session_new(sh, NULL);
    char msg[128];
    snprintf(msg, sizeof msg,
             "{\"op\":\"subscribe\",\"channels\":[\"screen.up\"],\"since_seq\":%llu}",
             (unsigned long long)(seq - 1));
    sub_ok(r, msg);
    m = su_take(r);
    cr_assert_eq(su_count(m, "screen"), 1, "replayed");
    json_decref(m);
    sub_ok(r, "{\"op\":\"unsubscribe\"}");
    cr_assert_eq(md_session_subscriptions(r), 0, "unsubscribe with no lists drops it too");
    cr_assert_eq(x.live, 0);
    md_session_free(r);
    md_hub_remove_xhandler(hub, &x);
}

Test(stream_hub, test_extension_channel_numbers_are_never_reused)
{
    mk(16, 0, 10);
    int a = md_hub_xchannel(hub, "ind.sma:5@1m", 1, NULL);
    int b = md_hub_xchannel(hub, "ind.sma:6@1m", 1, NULL);
    cr_assert_geq(a, MD_CH_COUNT);
    cr_assert_neq(a, b);
    cr_assert_eq(md_hub_xchannel(hub, "ind.sma:5@1m", 0, NULL), a);
    cr_assert_eq(md_hub_xchannel(hub, "ind.sma:7@1m", 0, NULL), MD_ENOTFOUND);
    cr_assert_str_eq(md_hub_xchannel_name(hub, b), "ind.sma:6@1m");
    cr_assert_null(md_hub_xchannel_name(hub, MD_CH_QUOTE));
}

/* -- numbers of the deployment (a sequencer: the Redis relay in production) ---------------- */

typedef struct {
    int accept, taken;
} seqrec;

static int seq_take(void *ctx, const md_hub_seq_msg *m)
{
    seqrec *r = ctx;
    cr_assert_eq(MD_ORIGIN_BASE(m->origin), MD_ORIGIN_LOCAL, "only LOCAL messages are offered");
    r->taken += r->accept;
    return r->accept;
}

static json_t *resume(md_session **s, uint64_t since)
{
    if (*s) md_session_free(*s);
    *s = md_session_new(sh, NULL);
    char msg[128];
    snprintf(msg, sizeof msg,
             "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"quote\",\"bar.1m\"],"
             "\"since_seq\":%llu}",
             (unsigned long long)since);
    sub_ok(*s, msg);
    return su_take(*s);
}

Test(stream_hub,
     test_a_sequenced_hub_publishes_the_deployments_numbers_once_and_says_when_it_lacks_some)
{
    mk(256, 100, 100);
    seqrec rec = {.accept = 1};
    md_hub_sequencer sq = {seq_take, &rec};
    md_hub_set_sequencer(hub, &sq);
    md_session *live = md_session_new(sh, NULL);
    sub_ok(live, "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"quote\",\"bar.1m\"]}");
    md_quote q = su_quote("A", 1, 1700000000);
    /* LOCAL: handed to the sequencer, not published here */
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 0);
    cr_assert_eq(rec.taken, 1);
    cr_assert_eq(md_hub_last_seq(hub), 0);
    /* numbered by the deployment: published under its number; the first one this hub
     * hears is 5, so 1..4 are not held */
    md_hub_publish_quote_at(hub, &q, MD_ORIGIN_LOCAL, 5, 0);
    md_hub_publish_quote_at(hub, &q, MD_ORIGIN_REMOTE, 5, 0); /* twice: dropped */
    md_hub_publish_quote_at(hub, &q, MD_ORIGIN_REMOTE, 6, 0);
    md_hub_publish_quote_at(hub, &q, MD_ORIGIN_REMOTE, 3, 0); /* older: dropped */
    /* DERIVED (a live bar) shares the number of the message before it */
    md_bar b;
    md_bar_init(&b);
    b.ts = 1700000000 - 20, b.open = b.high = b.low = b.close = 1;
    md_hub_publish_bar(hub, "A", MD_IV_1M, &b, MD_ORIGIN_DERIVED, 0);
    cr_assert_eq(md_hub_last_seq(hub), 6);
    md_hub_shard_drain(sh, NULL, NULL);
    json_t *m = su_take(live);
    cr_assert_eq(json_array_size(m), 4, "subscribed, quotes 5 and 6, the bar");
    cr_assert_eq(su_num(json_array_get(m, 1), "seq"), 5);
    cr_assert_eq(su_num(json_array_get(m, 2), "seq"), 6);
    cr_assert_str_eq(su_type(json_array_get(m, 3)), "bar");
    cr_assert_eq(su_num(json_array_get(m, 3), "seq"), 6);
    json_decref(m);

    md_session *s = NULL;
    m = resume(&s, 4);
    cr_assert(json_is_true(json_object_get(json_array_get(m, 0), "replay_complete")));
    cr_assert_eq(su_num(json_array_get(m, 0), "replayed"), 3);
    json_decref(m);
    m = resume(&s, 3); /* 4 never came here */
    cr_assert(json_is_false(json_object_get(json_array_get(m, 0), "replay_complete")));
    json_decref(m);
    m = resume(&s, 6);
    cr_assert(json_is_true(json_object_get(json_array_get(m, 0), "replay_complete")));
    cr_assert_eq(su_num(json_array_get(m, 0), "replayed"), 0, "the bar at 6 was seen with 6");
    json_decref(m);

    /* Redis away: the sequencer declines, the hub publishes LOCAL under the last number
     * (a number of its own would be one the deployment gives another message); the
     * deployment's next number this hub hears is 9, so 7 and 8 are not held */
    rec.accept = 0;
    md_hub_publish_quote(hub, &q, MD_ORIGIN_LOCAL, 0);
    cr_assert_eq(md_hub_last_seq(hub), 6);
    md_hub_shard_drain(sh, NULL, NULL);
    m = su_take(live);
    cr_assert_eq(json_array_size(m), 1);
    cr_assert_eq(su_num(json_array_get(m, 0), "seq"), 6);
    json_decref(m);
    md_hub_publish_quote_at(hub, &q, MD_ORIGIN_REMOTE, 9, 0);
    m = resume(&s, 7);
    cr_assert(json_is_false(json_object_get(json_array_get(m, 0), "replay_complete")));
    json_decref(m);
    m = resume(&s, 8);
    cr_assert(json_is_true(json_object_get(json_array_get(m, 0), "replay_complete")));
    json_decref(m);

    /* history (an instance starting reads the log's tail): replay buffer only */
    md_hub_shard_drain(sh, NULL, NULL);
    json_decref(su_take(live));
    md_hub_publish_quote_at(hub, &q, (md_origin)(MD_ORIGIN_REMOTE | MD_ORIGIN_HISTORY), 10, 0);
    md_hub_shard_drain(sh, NULL, NULL);
    m = su_take(live);
    cr_assert_eq(json_array_size(m), 0, "not sent live");
    json_decref(m);
    m = resume(&s, 9);
    cr_assert_eq(su_num(json_array_get(m, 0), "replayed"), 1);
    cr_assert_eq(su_num(json_array_get(m, 1), "seq"), 10);
    json_decref(m);
    md_hub_stats st;
    md_hub_get_stats(hub, &st);
    cr_assert(st.sequenced);
    cr_assert_eq(st.complete_from, 8);
    md_session_free(s);
    md_session_free(live);
    md_hub_set_sequencer(hub, NULL);
}

/* Regression: every client ping queued a pong, so a client pinging without reading grew the
 * agent's memory without bound (and was never closed). */
Test(stream_hub, test_a_ping_flood_keeps_one_unsent_pong_and_a_started_one_whole)
{
    mk(4, 0, 2);
    md_session *s = md_session_new(sh, NULL);
    char p[16];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(p, sizeof p, "ping %d", i);
        md_session_push_pong(s, md_frame_control(0xA, p, (size_t)n));
    }
    cr_assert_eq(md_session_queued(s), 1);
    cr_assert_not(md_session_overflowed(s));
    struct iovec iov[4];
    cr_assert_eq(md_session_iov(s, iov, 4, 1 << 20), 1);
    cr_assert_eq(iov[0].iov_len, 2 + 9);
    cr_assert_eq(memcmp((char *)iov[0].iov_base + 2, "ping 4999", 9), 0, "the latest ping's");
    /* written in part: it goes out as it is, and the next ping gets a pong of its own */
    cr_assert_eq(md_session_consume(s, 3), 0);
    cr_assert(md_session_head_started(s));
    md_session_push_pong(s, md_frame_control(0xA, "b", 1));
    md_session_push_pong(s, md_frame_control(0xA, "c", 1));
    cr_assert_eq(md_session_queued(s), 2);
    cr_assert_eq(md_session_iov(s, iov, 4, 1 << 20), 2);
    cr_assert_eq(iov[0].iov_len, 2 + 9 - 3);
    cr_assert_eq(memcmp(iov[0].iov_base, "ing 4999", 8), 0, "the started pong, unchanged");
    cr_assert_eq(((const char *)iov[1].iov_base)[2], 'c');
    cr_assert_eq(md_session_consume(s, iov[0].iov_len + iov[1].iov_len), 2);
    cr_assert_not(md_session_head_started(s));
    cr_assert_not(md_session_pending(s));
    /* other per-client messages are still each queued */
    md_session_push(s, md_proto_pong(1700000000));
    md_session_push(s, md_proto_pong(1700000000));
    md_session_push_pong(s, md_frame_control(0xA, "d", 1));
    md_session_push_pong(s, md_frame_control(0xA, "e", 1));
    cr_assert_eq(md_session_queued(s), 3);
    md_session_free(s);
}
