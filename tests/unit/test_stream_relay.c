/* The Redis relay's pure parts (stream/relay.h): refusal of a bad URL, the wire form of
 * ticks, echo suppression by instance id and refusal of malformed messages. The end-to-end test
 * (tests/e2e/test_stream.py) runs two agents on a real Redis. */
#include "streamutil.h"
#include "stream/relay.h"

static md_quote last_q;
static md_bar last_b;
static md_interval last_iv;
static int n_q, n_b;
static md_origin last_origin;

static void on_q(void *ctx, const md_quote *q, md_origin o)
{
    last_q = *q;
    last_origin = o;
    n_q++;
}

static void on_b(void *ctx, const char *sym, md_interval iv, const md_bar *b, md_origin o)
{
    last_b = *b;
    last_iv = iv;
    last_origin = o;
    n_b++;
}

static md_hub *mkhub(void)
{
    md_hub *h = su_hub_new(16, 0, 10);
    md_hub_observer ob = {on_q, on_b, NULL, NULL};
    md_hub_add_observer(h, &ob);
    n_q = n_b = 0;
    return h;
}

Test(stream_relay, test_a_bad_redis_url_is_refused_at_start)
{
    /* the relay reads URLs through the Redis adapter (tests/unit/test_redis.c has the
     * grammar): a port with trailing junk used to be read as 6379 here */
    const char *bad[] = {"redis://h:6379abc/0", "redis://", "rediss://h:6379", "http://h"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_hub *h = mkhub();
        md_relay_options o = {.channel = "ut", .hub = h};
        md_redis_options_default(&o.redis);
        o.redis.url = bad[i];
        md_relay *r = NULL;
        md_error err;
        cr_assert_eq(md_relay_start(&o, &r, &err), MD_ECONFIG, "%s", bad[i]);
        cr_assert_null(r);
        cr_assert(strncmp(err.msg, "redis: ", 7) == 0, "%s", err.msg);
        md_hub_free(h);
    }
}

Test(stream_relay, test_quote_round_trip_from_another_instance)
{
    md_hub *h = mkhub();
    md_quote q = su_quote("BTC-USD", 64123.5, 1709303400);
    q.volume = 0.25;
    q.ask = 64124;
    md_buf b = MD_BUF_INIT;
    md_relay_encode_quote(&b, "other", &q, 0);
    md_error err;
    cr_assert_eq(md_relay_decode(h, md_hub_instance(h), b.data, b.len, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(n_q, 1);
    cr_assert_eq(last_origin, MD_ORIGIN_REMOTE);
    cr_assert_str_eq(last_q.symbol, "BTC-USD");
    cr_assert_eq(last_q.price, 64123.5);
    cr_assert_eq(last_q.volume, 0.25);
    cr_assert_eq(last_q.ask, 64124);
    cr_assert(isnan(last_q.bid));
    cr_assert_eq(last_q.ts, 1709303400);
    cr_assert_eq(last_q.source, MD_SRC_INGEST);
    cr_assert_eq(md_hub_last_seq(h), 1);
    md_buf_deinit(&b);
    md_hub_free(h);
}

Test(stream_relay, test_bar_round_trip_and_own_echo_dropped)
{
    md_hub *h = mkhub();
    md_bar bar;
    md_bar_init(&bar);
    bar.ts = 1709303400, bar.open = 1, bar.high = 2, bar.low = 0.5, bar.close = 1.5;
    bar.volume = 10, bar.trades = 7, bar.source = MD_SRC_POLYGON;
    md_buf b = MD_BUF_INIT;
    md_relay_encode_bar(&b, md_hub_instance(h), "MSFT", MD_IV_15M, &bar);
    md_error err;
    cr_assert_eq(md_relay_decode(h, md_hub_instance(h), b.data, b.len, 0, &err), 1, "echo");
    cr_assert_eq(n_b, 0);
    cr_assert_eq(md_relay_decode(h, "someone-else", b.data, b.len, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(n_b, 1);
    cr_assert_eq(last_iv, MD_IV_15M);
    cr_assert_eq(last_b.close, 1.5);
    cr_assert_eq(last_b.trades, 7);
    cr_assert_eq(last_b.source, MD_SRC_POLYGON);
    md_buf_deinit(&b);
    md_hub_free(h);
}

Test(stream_relay, test_malformed_messages_are_refused)
{
    md_hub *h = mkhub();
    const char *bad[] = {
        "",
        "nope",
        "[]",
        "{}",
        "{\"i\":\"x\",\"k\":\"q\",\"s\":\"A\"}",
        "{\"i\":\"x\",\"k\":\"q\",\"s\":\"A\",\"t\":1}",
        "{\"i\":\"x\",\"k\":\"q\",\"s\":\"A\",\"t\":1,\"p\":\"1\"}",
        "{\"i\":\"x\",\"k\":\"q\",\"s\":\"bad symbol\",\"t\":1,\"p\":1}",
        "{\"i\":\"x\",\"k\":\"b\",\"s\":\"A\",\"t\":1,\"iv\":\"7m\",\"o\":1,\"h\":1,\"l\":1,\"c\":"
        "1}",
        "{\"i\":\"x\",\"k\":\"b\",\"s\":\"A\",\"t\":1,\"o\":1,\"h\":1,\"l\":1,\"c\":1}",
        "{\"i\":\"x\",\"k\":\"z\",\"s\":\"A\",\"t\":1}",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_error err;
        int rc = md_relay_decode(h, "me", bad[i], strlen(bad[i]), 0, &err);
        cr_assert_lt(rc, 0, "%s", bad[i]);
    }
    cr_assert_eq(n_q + n_b, 0);
    md_hub_free(h);
}

static int n_x;
static char last_x[256];
static md_origin last_x_origin;

static void on_x(void *ctx, const char *channel, const char *symbol, const char *type,
                 const char *fields, size_t fields_len, md_origin origin)
{
    n_x++;
    snprintf(last_x, sizeof last_x, "%s|%s|%s|%.*s", channel, symbol, type, (int)fields_len,
             fields);
    last_x_origin = origin;
}

Test(stream_relay, test_extension_messages_round_trip_and_bad_ones_are_refused)
{
    md_hub *h = mkhub();
    md_hub_observer ob = {.on_ext = on_x, .ctx = &n_x};
    md_hub_add_observer(h, &ob);
    n_x = 0;
    md_buf b = MD_BUF_INIT;
    const char *f = ",\"screen\":\"up\",\"event\":\"enter\",\"symbol\":\"AAPL\"";
    md_relay_encode_ext(&b, "other", "screen.up", "", "screen", f, strlen(f));
    md_error err;
    cr_assert_eq(md_relay_decode(h, "other", b.data, b.len, 0, &err), 1, "its own echo");
    cr_assert_eq(md_relay_decode(h, md_hub_instance(h), b.data, b.len, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(n_x, 1);
    cr_assert_eq(last_x_origin, MD_ORIGIN_REMOTE);
    cr_assert_str_eq(last_x, "screen.up||screen|,\"screen\":\"up\",\"event\":\"enter\","
                             "\"symbol\":\"AAPL\"");
    cr_assert_geq(md_hub_xchannel(h, "screen.up", 0, NULL), MD_CH_COUNT, "named on arrival");
    const char *bad[] = {
        "{\"i\":\"x\",\"k\":\"e\"}",
        "{\"i\":\"x\",\"k\":\"e\",\"c\":\"quote\",\"s\":\"\",\"ty\":\"screen\",\"f\":\"\"}",
        "{\"i\":\"x\",\"k\":\"e\",\"c\":\"ind.rsi@1m\",\"s\":\"A\",\"ty\":\"indicator\",\"f\":"
        "\"\"}",
        "{\"i\":\"x\",\"k\":\"e\",\"c\":\"screen.up\",\"s\":\"\",\"ty\":\"Bad Type\",\"f\":\"\"}",
        "{\"i\":\"x\",\"k\":\"e\",\"c\":\"screen.up\",\"s\":\"\",\"ty\":\"screen\",\"f\":\"}\"}",
        "{\"i\":\"x\",\"k\":\"e\",\"c\":\"screen.up\",\"s\":\"bad "
        "sym\",\"ty\":\"screen\",\"f\":\"\"}",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        cr_assert_lt(md_relay_decode(h, "me", bad[i], strlen(bad[i]), 0, &err), 0, "%s", bad[i]);
    cr_assert_eq(n_x, 1);
    md_buf_deinit(&b);
    md_hub_free(h);
}

Test(stream_relay, test_numbered_messages_are_published_under_the_deployments_number)
{
    md_hub *h = mkhub();
    md_quote q = su_quote("ETH-USD", 3000, 1709303400);
    md_buf b = MD_BUF_INIT, own = MD_BUF_INIT;
    md_buf_puts(&b, "41 ");
    md_relay_encode_quote(&b, "other", &q, 0);
    md_buf_puts(&own, "42 ");
    md_relay_encode_quote(&own, md_hub_instance(h), &q, 1);
    md_error err;
    cr_assert_eq(md_relay_decode(h, md_hub_instance(h), b.data, b.len, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(md_hub_last_seq(h), 41);
    cr_assert_eq(last_origin, MD_ORIGIN_REMOTE);
    /* the same number again (the catch-up overlapping the live messages): dropped */
    cr_assert_eq(md_relay_decode(h, md_hub_instance(h), b.data, b.len, 0, &err), 0);
    cr_assert_eq(n_q, 1);
    /* our own, numbered: it was handed to Redis instead of published, so it is published
     * now (LOCAL, still a snapshot), and counted as an echo */
    cr_assert_eq(md_relay_decode(h, md_hub_instance(h), own.data, own.len, 0, &err), 1);
    cr_assert_eq(n_q, 2);
    cr_assert_eq(md_hub_last_seq(h), 42);
    cr_assert_eq(last_origin, MD_ORIGIN_LOCAL | MD_ORIGIN_SNAPSHOT);
    /* not a number in front: refused as JSON */
    cr_assert_lt(md_relay_decode(h, "me", "4x {}", 5, 0, &err), 0);
    md_buf_deinit(&b);
    md_buf_deinit(&own);
    md_hub_free(h);
}
