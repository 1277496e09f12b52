/* The market.<MIC> channels' next-boundary computation (stream/market.c) and their channel
 * names (stream/proto.c). Expected instants are the exchanges' published hours (NYSE: pre
 * 04:00, open 09:30, close 16:00, post 20:00 New York; 13:00 on the day after
 * Thanksgiving; TSE lunch 11:30-12:30 Tokyo), converted by hand, not by our code. */
#include "calendar/calendar.h"
#include "core/buf.h"
#include "core/timefmt.h"
#include "stream/market.h"
#include "stream/proto.h"

#include <criterion/criterion.h>
#include <string.h>

static int64_t T(const char *s)
{
    int64_t t;
    cr_assert_eq(md_time_parse_str(s, &t, NULL), 0, "%s", s);
    return t;
}

static void expect_next(const char *cal, const char *now, const char *event, const char *at)
{
    md_market_event ev[4];
    int n = md_market_next(md_cal_find(cal), T(now), ev);
    cr_assert_geq(n, 1, "%s after %s", cal, now);
    cr_assert_str_eq(ev[0].event, event, "%s after %s", cal, now);
    cr_assert_eq(ev[0].at, T(at), "%s after %s: %s", cal, now, event);
}

Test(market, early_close_the_day_after_thanksgiving)
{
    expect_next("XNYS", "2024-11-29T15:00:00Z", "close", "2024-11-29T18:00:00Z");
    md_market_event ev[4];
    cr_assert_eq(md_market_next(md_cal_find("XNYS"), T("2024-11-29T15:00:00Z"), ev), 1);
    cr_assert(ev[0].session.flags & MD_CAL_EARLY_CLOSE);
    cr_assert_eq(ev[0].session.day, T("2024-11-29") / 86400);
    /* the next boundary is after the early close, never the regular 21:00Z one before it */
    cr_assert_eq(md_market_next(md_cal_find("XNYS"), T("2024-11-29T18:00:00Z"), ev), 1);
    cr_assert_gt(ev[0].at, T("2024-11-29T18:00:00Z"));
    cr_assert_str_eq(ev[0].event, "post_close");
}

Test(market, across_the_spring_dst_change)
{
    /* Friday 8 March 2024 is EST (UTC-5); Monday 11 March is EDT (UTC-4) */
    expect_next("XNYS", "2024-03-08T20:00:00Z", "close", "2024-03-08T21:00:00Z");
    expect_next("XNYS", "2024-03-08T21:00:00Z", "post_close", "2024-03-09T01:00:00Z");
    expect_next("XNYS", "2024-03-09T01:00:00Z", "pre_open", "2024-03-11T08:00:00Z");
    expect_next("XNYS", "2024-03-11T08:00:00Z", "open", "2024-03-11T13:30:00Z");
}

Test(market, lunch_break_and_back_to_back_sessions)
{
    expect_next("XTKS", "2024-01-09T01:00:00Z", "break_start", "2024-01-09T02:30:00Z");
    expect_next("XTKS", "2024-01-09T02:30:00Z", "break_end", "2024-01-09T03:30:00Z");
    /* 24/7: one session per UTC day, the close and the next open at the same instant */
    md_market_event ev[4];
    cr_assert_eq(md_market_next(md_cal_find("24/7"), T("2024-01-01T23:59:59Z"), ev), 2);
    cr_assert_str_eq(ev[0].event, "close");
    cr_assert_str_eq(ev[1].event, "open");
    cr_assert_eq(ev[0].at, T("2024-01-02T00:00:00Z"));
    cr_assert_eq(ev[1].at, ev[0].at);
    cr_assert_eq(ev[1].session.day, T("2024-01-02") / 86400);
}

Test(market, channel_names_and_messages)
{
    md_op op;
    md_error e;
    const char *m =
        "{\"op\":\"subscribe\",\"channels\":[\"market\"],\"calendars\":[\"nyse\",\"24/7\"]}";
    cr_assert_eq(md_proto_parse(m, strlen(m), 100, &op, &e), 0, "%s", e.msg);
    cr_assert_eq(op.n_xch, 2);
    cr_assert_str_eq(op.xch[0].name, "market.XNYS");
    cr_assert_str_eq(op.xch[1].name, "market.24/7");
    cr_assert_eq(op.n_symbols, 0);
    md_op_deinit(&op);
    m = "{\"op\":\"subscribe\",\"channels\":[\"market\"]}";
    cr_assert_eq(md_proto_parse(m, strlen(m), 100, &op, &e), MD_EPARAM);
    m = "{\"op\":\"subscribe\",\"channels\":[\"market.NOPE\"]}";
    cr_assert_eq(md_proto_parse(m, strlen(m), 100, &op, &e), MD_ECHANNEL);

    md_frame *f = md_market_status_frame("market.XNYS", 7);
    cr_assert_not_null(f);
    const char *json = (const char *)f->data + f->hdr;
    cr_assert(strstr(json, "\"type\":\"market\",\"seq\":7,\"channel\":\"market.XNYS\""), "%s",
              json);
    cr_assert(strstr(json, "\"event\":\"status\""), "%s", json);
    md_frame_unref(f);
    cr_assert_null(md_market_status_frame("screen.x", 1));

    md_buf b = MD_BUF_INIT;
    md_market_event ev[4];
    cr_assert_eq(md_market_next(md_cal_find("XNYS"), T("2024-03-11T08:00:00Z"), ev), 1);
    md_market_fields(&b, md_cal_find("XNYS"), &ev[0], T("2024-03-11T13:30:00Z"));
    md_buf_putc(&b, '\0');
    cr_assert(strstr(b.data,
                     "\"event\":\"open\",\"phase\":\"open\",\"at\":\"2024-03-11T13:30:00Z\","
                     "\"session\":\"2024-03-11\""),
              "%s", b.data);
    cr_assert(strstr(b.data, "\"next_close\":\"2024-03-11T20:00:00Z\""), "%s", b.data);
    md_buf_deinit(&b);
}
