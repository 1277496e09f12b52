/* session=all|extended|regular on the read path (query/history.c, md_query_session_filter):
 * intraday bars of the symbol's regular session or extended hours only, pages still filled
 * up to the limit. The reference is the C library's New York time (TZ=America/New_York):
 * XNYS's regular session is 09:30-16:00 and its extended hours 04:00-20:00 on a trading
 * day, and 2024-12-02..03 are plain trading days. */
#include "querytest.h"

#include <stdlib.h>
#include <time.h>

static void setup(void)
{
    qt_open(0);
    setenv("TZ", "America/New_York", 1);
    tzset();
}

static void teardown(void)
{
    qt_close();
}

TestSuite(query_session, .init = setup, .fini = teardown);

/* 1 when the 30-minute bucket from ts overlaps [from, to) minutes of a New York weekday. */
static int overlaps_local(int64_t ts, int from, int to)
{
    time_t t = (time_t)ts;
    struct tm lt;
    localtime_r(&t, &lt);
    int m = lt.tm_hour * 60 + lt.tm_min;
    return lt.tm_wday >= 1 && lt.tm_wday <= 5 && m < to && m + 30 > from;
}

static void history(const char *session, const char *limit, const char *order, md_history *h)
{
    params p = {{"interval", "start", "session", limit ? "limit" : NULL},
                {"30m", "2024-12-02T00:00:00Z", session, limit}};
    if (order) {
        p.k[3] = "order";
        p.v[3] = order;
    }
    md_history_req req;
    md_error err;
    cr_assert_eq(md_history_req_parse(&req, "AAPL", get, &p, &qt.cfg, &err), 0, "%s", err.msg);
    req.end = qt_t("2024-12-04T00:00:00Z");
    if (limit && order) req.limit = (size_t)atoi(limit);
    md_history_init(h);
    cr_assert_eq(md_query_history(&qt.svc, &req, h, &err), 0, "%s", err.msg);
}

Test(query_session, regular_and_extended_keep_their_hours_and_pages_stay_full)
{
    int64_t a = qt_t("2024-12-02T00:00:00Z"), z = qt_t("2024-12-04T00:00:00Z");
    qt_put_range("AAPL", MD_IV_30M, a, z);
    struct {
        const char *name;
        int from, to;
    } cases[] = {{"regular", 9 * 60 + 30, 16 * 60}, {"extended", 4 * 60, 20 * 60}};
    for (int c = 0; c < 2; c++) {
        int64_t want[96];
        size_t n = 0;
        for (int64_t t = a; t < z; t += 1800)
            if (overlaps_local(t, cases[c].from, cases[c].to)) want[n++] = t;
        md_history h;
        history(cases[c].name, NULL, NULL, &h);
        cr_assert_eq(h.bars.n, n, "%s: %zu bars, want %zu", cases[c].name, h.bars.n, n);
        for (size_t i = 0; i < n; i++) cr_assert_eq(h.bars.v[i].ts, want[i]);
        md_history_deinit(&h);
        /* a page of 5 holds 5 of those bars, and the next page starts at the 6th */
        history(cases[c].name, "5", NULL, &h);
        cr_assert_eq(h.bars.n, 5);
        for (size_t i = 0; i < 5; i++) cr_assert_eq(h.bars.v[i].ts, want[i]);
        cr_assert(h.page.truncated);
        cr_assert_eq(h.page.next, want[5]);
        md_history_deinit(&h);
        /* newest first: the last 5 */
        history(cases[c].name, "5", "desc", &h);
        cr_assert_eq(h.bars.n, 5);
        for (size_t i = 0; i < 5; i++) cr_assert_eq(h.bars.v[i].ts, want[n - 5 + i]);
        md_history_deinit(&h);
    }
    md_history h;
    history("all", NULL, NULL, &h);
    cr_assert_eq(h.bars.n, 96, "all: every bar");
    md_history_deinit(&h);
    history(NULL, NULL, NULL, &h);
    cr_assert_eq(h.bars.n, 96, "the default is all");
    md_history_deinit(&h);
}

Test(query_session, an_unknown_session_is_a_parameter_error)
{
    params p = {{"session"}, {"overnight"}};
    md_history_req req;
    md_error err;
    cr_assert_eq(md_history_req_parse(&req, "AAPL", get, &p, &qt.cfg, &err), MD_EPARAM);
    cr_assert(strstr(err.msg, "session") != NULL, "%s", err.msg);
}
