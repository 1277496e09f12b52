/* The latest-price read path (query/price.c, query/cached.c for /price): which answer wins
 * - a fresh stored quote, the sources, the stored quote or last close when they fail - when
 * the sources are asked and when not, ?source=NAME, and the cache levels of the answer. Real
 * store, writer, cache and source manager; the one source is scripted (querytest.h). */
#include "querytest.h"

#include <string.h>

static void fini(void)
{
    qt_close();
}

TestSuite(query_price, .fini = fini);

static int quote_calls(void)
{
    int n = 0;
    for (int i = 0; i < qt.n_calls; i++) n += qt.calls[i].kind == 'q';
    return n;
}

static md_price ask(const char *symbol, int64_t max_age_s, int source, int want_rc)
{
    md_price p;
    md_error err;
    memset(&err, 0, sizeof err);
    int rc = md_query_price_from(&qt.svc, symbol, max_age_s, source, &p, &err);
    cr_assert_eq(rc, want_rc, "rc %s (%s), want %s", md_error_name(rc), err.msg,
                 md_error_name(want_rc));
    return p;
}

Test(query_price, without_sources_the_stored_quote_answers_whatever_its_age)
{
    qt_open(0);
    qt_put_quote("AAPL", 187.5, -86400 * 30);
    md_price p = ask("AAPL", 60, -1, 0);
    cr_expect(p.q.price == 187.5);
    cr_expect_str_eq(p.origin, "quote");
    cr_expect_str_eq(p.cache, "miss");
    ask("MSFT", 60, -1, MD_ENOTFOUND);
}

Test(query_price, the_newer_of_stored_quote_and_last_close_answers)
{
    qt_open(0);
    int64_t day = md_interval_floor(MD_IV_1D, md_now()) - 10 * 86400;
    qt_put_bars("AAPL", MD_IV_1D, &day, 1, 150);
    qt_put_quote("AAPL", 151, -86400 * 20); /* older than the bar */
    md_price p = ask("AAPL", 60, -1, 0);
    cr_expect_str_eq(p.origin, "bar");
    cr_expect(p.q.price == 150);
    cr_expect_eq(p.q.ts, day);
    qt_put_quote("AAPL", 152, -5); /* newer than the bar */
    p = ask("AAPL", 60, -1, 0);
    cr_expect_str_eq(p.origin, "quote");
    cr_expect(p.q.price == 152);
}

Test(query_price, a_fresh_stored_quote_is_served_without_asking_the_sources)
{
    qt_open(QT_SOURCES);
    qt_put_quote("AAPL", 187.5, -5);
    md_price p = ask("AAPL", 60, -1, 0);
    cr_expect_eq(quote_calls(), 0, "fresh: no provider call");
    cr_expect_str_eq(p.origin, "quote");
    cr_expect(p.q.price == 187.5);
}

Test(query_price, a_stale_quote_is_fetched_validated_and_stored)
{
    qt_open(QT_SOURCES);
    qt_put_quote("AAPL", 187.5, -3600);
    md_price p = ask("AAPL", 60, -1, 0);
    cr_expect_eq(quote_calls(), 1);
    cr_expect_str_eq(qt.calls[0].symbol, "AAPL");
    cr_expect_str_eq(p.origin, "source");
    cr_expect(p.q.price == 123.25);
    md_price stored;
    md_error err;
    cr_assert_eq(md_query_price_stored(&qt.svc, "AAPL", &stored, &err), 0, "%s", err.msg);
    cr_expect(stored.q.price == 123.25, "the fetched quote went through the writer");
    cr_expect_eq(stored.q.source, MD_SRC_YAHOO);
}

Test(query_price, a_closed_market_is_not_asked_again_within_max_age)
{
    qt_open(QT_SOURCES);
    qt.quote_age_s = -7200; /* the provider's newest quote is two hours old */
    md_price p = ask("AAPL", 60, -1, 0);
    cr_expect_str_eq(p.origin, "source");
    cr_expect_eq(quote_calls(), 1);
    qt_advance_ms(30 * 1000);
    p = ask("AAPL", 60, -1, 0);
    cr_expect_eq(quote_calls(), 1, "asked 30 s ago: the stored (old) quote answers");
    cr_expect_str_eq(p.origin, "quote");
    qt_advance_ms(31 * 1000);
    ask("AAPL", 60, -1, 0);
    cr_expect_eq(quote_calls(), 2, "past max_age: asked again");
}

Test(query_price, failing_sources_fall_back_to_the_stored_value)
{
    qt_open(QT_SOURCES);
    qt.quote_rc = MD_ETRANSIENT;
    qt_put_quote("AAPL", 187.5, -3600);
    md_price p = ask("AAPL", 60, -1, 0);
    cr_expect_eq(quote_calls(), 1);
    cr_expect_str_eq(p.origin, "quote", "every source failed: the stored value still answers");
    cr_expect(p.q.price == 187.5);
    /* nothing stored: the sources' error is the answer (a 5xx, not a 404) */
    md_price none;
    md_error err;
    int rc = md_query_price_from(&qt.svc, "MSFT", 60, -1, &none, &err);
    cr_expect(rc < 0 && md_error_http_status(rc) >= 500, "%s: %s", md_error_name(rc), err.msg);
}

Test(query_price, unknown_everywhere_is_not_found)
{
    qt_open(QT_SOURCES);
    qt.quote_rc = MD_ENOTFOUND;
    ask("ZZZZ", 60, -1, MD_ENOTFOUND);
}

Test(query_price, a_named_source_is_asked_alone_and_its_error_is_the_answer)
{
    qt_open(QT_SOURCES);
    qt_put_quote("AAPL", 187.5, -5);
    md_price p = ask("AAPL", 60, MD_SRC_YAHOO, 0);
    cr_expect_eq(quote_calls(), 1, "?source= asks even when the stored quote is fresh");
    cr_expect_str_eq(p.origin, "source");
    qt.quote_rc = MD_ETIMEOUT;
    ask("AAPL", 60, MD_SRC_YAHOO, MD_ETIMEOUT); /* no fallback to the store */
    ask("AAPL", 60, MD_SRC_FINNHUB, MD_EPARAM); /* not one of the configured sources */
}

Test(query_price, a_named_source_without_sources_configured_is_no_source)
{
    qt_open(0);
    qt_put_quote("AAPL", 187.5, -5);
    ask("AAPL", 60, MD_SRC_YAHOO, MD_ENOSOURCE);
}

Test(query_price, a_quote_failing_validation_is_malformed_and_not_stored)
{
    qt_open(QT_SOURCES);
    qt.quote_price = -5;
    ask("AAPL", 60, -1, MD_EMALFORMED);
    md_price stored;
    cr_expect_eq(md_query_price_stored(&qt.svc, "AAPL", &stored, NULL), MD_ENOTFOUND);
}

/* -- the cached answer (/price) --------------------------------------------------------- */

static char *answer(int flags, int want_rc, const char **level)
{
    md_answer a;
    md_answer_init(&a);
    md_error err;
    int rc = md_query_price_answer(&qt.svc, "AAPL", 60, flags, &a, &err);
    cr_assert_eq(rc, want_rc, "%s", md_error_name(rc));
    size_t len;
    const char *body = md_answer_body(&a, &len);
    char *copy = md_strndup(body, len);
    if (level) *level = a.cache;
    md_answer_deinit(&a);
    return copy;
}

Test(query_price, the_answer_is_cached_and_then_served_from_l1_on_the_loop)
{
    qt_open(QT_CACHE);
    char *b = answer(MD_Q_NONBLOCK, MD_EAGAIN, NULL);
    md_free(b);
    qt_put_quote("AAPL", 187.5, -5); /* the writer writes the answer through */
    const char *lvl;
    b = answer(MD_Q_NONBLOCK, 0, &lvl);
    cr_expect_str_eq(lvl, "l1");
    cr_expect(strstr(b, "\"price\":187.5") != NULL, "%s", b);
    cr_expect(strstr(b, "\"cache\":\"l1\"") != NULL, "%s", b);
    md_free(b);
}

Test(query_price, a_miss_is_read_from_the_store_and_cached)
{
    qt_open(QT_CACHE);
    qt_put_quote("AAPL", 187.5, -5);
    md_cache_clear(qt.cache, MD_CACHE_CLEAR_L1, NULL);
    const char *lvl;
    char *b = answer(0, 0, &lvl);
    cr_expect_str_eq(lvl, "miss");
    cr_expect(strstr(b, "\"cache\":\"miss\"") != NULL, "%s", b);
    md_free(b);
    b = answer(MD_Q_NONBLOCK, 0, &lvl);
    cr_expect_str_eq(lvl, "l1");
    md_free(b);
}

Test(query_price, a_new_quote_replaces_the_cached_answer)
{
    qt_open(QT_CACHE);
    qt_put_quote("AAPL", 187.5, -5);
    char *b = answer(0, 0, NULL);
    md_free(b);
    qt_put_quote("AAPL", 190.25, -1);
    b = answer(MD_Q_NONBLOCK, 0, NULL);
    cr_expect(strstr(b, "\"price\":190.25") != NULL, "%s", b);
    md_free(b);
}
