/* The /stream wire protocol (stream/proto.h, stream/frame.h): client messages parsed or
 * refused with the right code, server messages rendered to the shapes of API.md, frame
 * headers at the length boundaries. */
#include "streamutil.h"

#include "core/timefmt.h"

/* The JSON payload of a frame as a string (frames are not NUL-terminated). */
static const char *payload_of(const md_frame *f)
{
    static char text[4096];
    snprintf(text, sizeof text, "%.*s", (int)(f->len - f->hdr), (const char *)f->data + f->hdr);
    return text;
}

static int parse(const char *json, md_op *op)
{
    md_error err;
    return md_proto_parse(json, strlen(json), 100, op, &err);
}

static void expect_error(const char *json, int rc_expected)
{
    md_op op;
    md_error err;
    int rc = md_proto_parse(json, strlen(json), 100, &op, &err);
    cr_assert_eq(rc, rc_expected, "%s -> %s (%s)", json, md_error_code(rc), err.msg);
    cr_assert(err.msg[0], "an error has a message");
}

Test(stream_proto, test_subscribe_is_parsed_and_normalised)
{
    md_op op;
    cr_assert_eq(parse("{\"op\":\"subscribe\",\"symbols\":[\"aapl\",\"brk.b\",\"AAPL\"],"
                       "\"channels\":[\"quote\",\"bar.1m\",\"bar.1mo\"],\"since_seq\":123}",
                       &op),
                 0);
    cr_assert_eq(op.kind, MD_OP_SUBSCRIBE);
    cr_assert_eq(op.n_symbols, 2, "duplicates dropped");
    cr_assert_str_eq(op.symbols[0].s, "AAPL");
    cr_assert_str_eq(op.symbols[1].s, "BRK.B");
    cr_assert_eq(op.channels, (1u << MD_CH_QUOTE) | (1u << (MD_CH_BAR + MD_IV_1M)) |
                                  (1u << (MD_CH_BAR + MD_IV_1MO)));
    cr_assert(op.has_since);
    cr_assert_eq(op.since_seq, 123);
    md_op_deinit(&op);
}

Test(stream_proto, test_ping_and_unsubscribe_without_lists)
{
    md_op op;
    cr_assert_eq(parse("{\"op\":\"ping\"}", &op), 0);
    cr_assert_eq(op.kind, MD_OP_PING);
    md_op_deinit(&op);
    cr_assert_eq(parse("{\"op\":\"unsubscribe\"}", &op), 0);
    cr_assert_eq(op.kind, MD_OP_UNSUBSCRIBE);
    cr_assert_eq(op.n_symbols, 0);
    cr_assert_eq(op.channels, 0);
    md_op_deinit(&op);
}

Test(stream_proto, test_bad_messages_get_precise_errors)
{
    expect_error("", MD_EJSON);
    expect_error("not json", MD_EJSON);
    expect_error("{\"op\":\"subscribe\"", MD_EJSON);
    expect_error("[1,2]", MD_EJSON);
    expect_error("\"subscribe\"", MD_EJSON);
    expect_error("{}", MD_EOP);
    expect_error("{\"op\":42}", MD_EOP);
    expect_error("{\"op\":\"subscribe_all\"}", MD_EOP);
    expect_error("{\"op\":\"subscribe\"}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[]}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":\"\"}", MD_ESYMBOL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":{\"a\":1}}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[1]}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"BAD SYMBOL\"]}", MD_ESYMBOL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"]}", MD_ESYMBOL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"trades\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"bar.7m\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[null]}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":-1}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":\"5\"}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"since_seq\":1.5}", MD_EPARAM);
    /* more symbols than allowed in one message */
    char big[4096] = "{\"op\":\"subscribe\",\"symbols\":[";
    for (int i = 0; i < 101; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s\"S%d\"", i ? "," : "", i);
    strcat(big, "]}");
    expect_error(big, MD_EPARAM);
    /* NUL bytes inside the message are not JSON */
    md_op op;
    md_error err;
    cr_assert_eq(md_proto_parse("{\"op\":\"ping\"}\0xx", 16, 100, &op, &err), MD_EJSON);
}

Test(stream_proto, test_error_codes_are_the_api_ones)
{
    cr_assert_str_eq(md_error_code(MD_EOP), "unknown_op");
    cr_assert_str_eq(md_error_code(MD_ECHANNEL), "invalid_channel");
    cr_assert_str_eq(md_error_code(MD_ESUBLIMIT), "too_many_subscriptions");
    md_frame *f = md_proto_error(MD_EJSON, "bad \"thing\"");
    md_buf b = MD_BUF_INIT;
    md_buf_append(&b, f->data, f->len);
    json_t *m = su_frames(&b);
    json_t *e = json_array_get(m, 0);
    cr_assert_str_eq(su_type(e), "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "invalid_json");
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")), "bad \"thing\"");
    json_decref(m);
    md_buf_deinit(&b);
    md_frame_unref(f);
}

Test(stream_proto, test_channel_names_round_trip)
{
    for (int ch = 0; ch < MD_CH_COUNT; ch++) {
        int back;
        md_error err;
        const char *name = md_channel_name(ch);
        cr_assert_eq(md_channel_parse(name, strlen(name), &back, &err), 0, "%s", name);
        cr_assert_eq(back, ch);
    }
    cr_assert_str_eq(md_channel_name(MD_CH_BAR + MD_IV_4H), "bar.4h");
}

Test(stream_proto, test_quote_and_bar_messages_have_the_api_fields)
{
    md_quote q = su_quote("EURUSD=X", 1.0842, 1709303400);
    q.bid = 1.0841;
    md_frame *f = md_proto_quote(&q, 77);
    cr_assert_eq(f->seq, 77);
    cr_assert_eq(f->channel, MD_CH_QUOTE);
    cr_assert_str_eq(f->symbol, "EURUSD=X");
    cr_assert_str_eq(
        payload_of(f),
        "{\"type\":\"quote\",\"seq\":77,\"symbol\":\"EURUSD=X\",\"price\":1.0842,"
        "\"timestamp\":\"2024-03-01T14:30:00Z\",\"source\":\"ingest\",\"bid\":1.0841}");
    md_frame_unref(f);
    md_bar b;
    md_bar_init(&b);
    b.ts = 1709303400, b.open = 10, b.high = 11.5, b.low = 9.25, b.close = 11, b.volume = 1234;
    b.source = MD_SRC_POLYGON;
    f = md_proto_bar("MSFT", MD_IV_5M, &b, 78, 0);
    cr_assert_eq(f->channel, MD_CH_BAR + MD_IV_5M);
    cr_assert_str_eq(
        payload_of(f),
        "{\"type\":\"bar\",\"seq\":78,\"interval\":\"5m\",\"symbol\":\"MSFT\","
        "\"timestamp\":\"2024-03-01T14:30:00Z\",\"open\":10,\"high\":11.5,\"low\":9.25,"
        "\"close\":11,\"volume\":1234,\"source\":\"polygon\",\"partial\":false}");
    md_frame_unref(f);
}

/* Issue 13: a bar whose period has not ended when it is published says so, with the name and
 * the rule /historical uses. */
Test(stream_proto, a_bar_of_the_current_period_is_partial)
{
    md_bar b;
    md_bar_init(&b);
    b.ts = md_interval_floor(MD_IV_1D, md_now());
    b.open = b.high = b.low = b.close = 5;
    md_frame *f = md_proto_bar("MSFT", MD_IV_1D, &b, 1, 0);
    cr_assert(strstr(payload_of(f), "\"partial\":true"), "%s", payload_of(f));
    md_frame_unref(f);
    b.ts = md_interval_floor(MD_IV_1D, md_now()) - 86400; /* yesterday: ended */
    f = md_proto_bar("MSFT", MD_IV_1D, &b, 2, 0);
    cr_assert(strstr(payload_of(f), "\"partial\":false"), "%s", payload_of(f));
    md_frame_unref(f);
    /* a live bar closed by a tick of the next minute stamped a little ahead of this clock:
     * published at its close, so whole ("live bars built from ticks are published once
     * closed, false") */
    b.ts = md_interval_floor(MD_IV_1M, md_now());
    f = md_proto_bar("MSFT", MD_IV_1M, &b, 3, 1);
    cr_assert(strstr(payload_of(f), "\"partial\":false"), "%s", payload_of(f));
    md_frame_unref(f);
}

Test(stream_proto, test_frame_headers_at_length_boundaries)
{
    static char payload[70000];
    memset(payload, 'x', sizeof payload);
    size_t lens[] = {0, 125, 126, 65535, 65536, 69999};
    size_t hdrs[] = {2, 2, 4, 4, 10, 10};
    for (size_t i = 0; i < 6; i++) {
        md_frame *f = md_frame_text(payload, lens[i]);
        cr_assert_eq(f->hdr, hdrs[i], "len %zu", lens[i]);
        cr_assert_eq(f->len, hdrs[i] + lens[i]);
        cr_assert_eq(f->data[0], 0x81);
        md_frame_unref(f);
    }
    md_frame *p = md_frame_control(0x9, "hi", 2);
    cr_assert_eq(p->data[0], 0x89);
    cr_assert_eq(p->data[1], 2);
    md_frame_unref(p);
}

Test(stream_proto, test_lagged_frame)
{
    md_buf b = MD_BUF_INIT;
    md_proto_lagged(&b, 12345);
    json_t *m = su_frames(&b);
    cr_assert_str_eq(su_type(json_array_get(m, 0)), "lagged");
    cr_assert_eq(su_num(json_array_get(m, 0), "dropped"), 12345);
    json_decref(m);
    md_buf_deinit(&b);
}

Test(stream_proto, test_extension_channels_are_checked_and_made_canonical)
{
    md_op op;
    cr_assert_eq(
        parse("{\"op\":\"subscribe\",\"symbols\":[\"AAPL\"],\"channels\":[\"quote\","
              "\"ind.rsi@1m\",\"ind.rsi:14@1m\",\"ind.macd:12:26:9@5m\",\"ind.bbands:20:2.5@1d\"],"
              "\"partial\":true}",
              &op),
        0);
    cr_assert_eq(op.channels, 1u << MD_CH_QUOTE);
    cr_assert_eq(op.n_xch, 3, "ind.rsi@1m is ind.rsi:14@1m");
    cr_assert_str_eq(op.xch[0].name, "ind.rsi:14@1m");
    cr_assert_str_eq(op.xch[1].name, "ind.macd:12:26:9@5m");
    cr_assert_str_eq(op.xch[2].name, "ind.bbands:20:2.5@1d");
    cr_assert(op.partial);
    md_op_deinit(&op);

    cr_assert_eq(parse("{\"op\":\"subscribe\",\"channels\":[\"screen.over_sold-2\"]}", &op), 0,
                 "a screen is not per symbol: no symbols needed");
    cr_assert_eq(op.n_symbols, 0);
    cr_assert_str_eq(op.xch[0].name, "screen.over_sold-2");
    cr_assert(md_xchannel_symbolless(op.xch[0].name));
    md_op_deinit(&op);

    expect_error("{\"op\":\"subscribe\",\"channels\":[\"ind.rsi:14@1m\"]}", MD_EPARAM);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.rsi:0@1m\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.rsi:14@2m\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.rsi:14\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.nope@1m\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.sma:5,ema@1m\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"screen.\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"screen.a b\"]}",
                 MD_ECHANNEL);
    expect_error("{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"quote\"],"
                 "\"partial\":1}",
                 MD_EPARAM);
    md_error err;
    const char *psar = "{\"op\":\"subscribe\",\"symbols\":[\"A\"],\"channels\":[\"ind.psar@1m\"]}";
    cr_assert_eq(md_proto_parse(psar, strlen(psar), 100, &op, &err), MD_ECHANNEL);
    cr_assert(strstr(err.msg, "psar cannot be computed live") != NULL, "%s", err.msg);

    md_ind_spec spec;
    md_interval iv;
    int partial = -1;
    cr_assert_eq(md_xchannel_ind("ind.macd:12:26:9@5m" MD_XCH_PARTIAL_SUFFIX, &spec, &iv, &partial),
                 0);
    cr_assert_str_eq(spec.name, "macd:12:26:9");
    cr_assert_eq(iv, MD_IV_5M);
    cr_assert_eq(partial, 1);
    cr_assert_neq(md_xchannel_ind("screen.x", &spec, &iv, NULL), 0);
}

Test(stream_proto, test_indicator_messages_have_the_shape_of_api_md)
{
    md_ind_spec spec[2];
    md_error err;
    cr_assert_eq(md_ind_parse("rsi:14,macd", spec, 2, &err), 2);
    md_buf f = MD_BUF_INIT;
    double one[3] = {42.5, 0, 0};
    md_proto_indicator_fields(&f, MD_IV_1M, &spec[0], 1709303400, one, 0);
    md_frame *fr =
        md_proto_ext("indicator", 7, "ind.rsi:14@1m" MD_XCH_PARTIAL_SUFFIX, "AAPL", f.data, f.len);
    json_error_t je;
    json_t *m = json_loads(payload_of(fr), 0, &je);
    cr_assert_not_null(m, "%s", payload_of(fr));
    cr_assert_str_eq(su_type(m), "indicator");
    cr_assert_eq(su_num(m, "seq"), 7);
    cr_assert_str_eq(json_string_value(json_object_get(m, "channel")), "ind.rsi:14@1m",
                     "the partial twin is named as the channel the client subscribed to");
    cr_assert_str_eq(json_string_value(json_object_get(m, "symbol")), "AAPL");
    cr_assert_str_eq(json_string_value(json_object_get(m, "interval")), "1m");
    cr_assert_str_eq(json_string_value(json_object_get(m, "indicator")), "rsi:14");
    cr_assert_str_eq(json_string_value(json_object_get(m, "timestamp")), "2024-03-01T14:30:00Z");
    cr_assert_eq(su_num(m, "value"), 42.5);
    cr_assert(json_is_false(json_object_get(m, "partial")));
    cr_assert_str_eq(fr->symbol, "AAPL");
    json_decref(m);
    md_frame_unref(fr);

    md_buf_reset(&f);
    double three[3] = {1.5, NAN, NAN};
    md_proto_indicator_fields(&f, MD_IV_5M, &spec[1], 1709303400, three, 1);
    fr = md_proto_ext("indicator", 8, "ind.macd:12:26:9@5m", "MSFT", f.data, f.len);
    m = json_loads(payload_of(fr), 0, &je);
    json_t *v = json_object_get(m, "values");
    cr_assert(json_is_object(v), "several outputs: an object");
    cr_assert_eq(json_number_value(json_object_get(v, "macd")), 1.5);
    cr_assert(json_is_null(json_object_get(v, "signal")), "warming up: null");
    cr_assert(json_is_null(json_object_get(v, "histogram")));
    cr_assert(json_is_true(json_object_get(m, "partial")));
    json_decref(m);
    md_frame_unref(fr);
    md_buf_deinit(&f);
}
