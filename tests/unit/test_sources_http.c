/* A provider call's terms against the fake provider server: the deadline ends a hanging
 * request, a cancellation aborts it at once, a request past the reserved ones needs its own
 * token (Polygon's second page, its free-plan fallback), a range of Alpha Vantage months is
 * reserved before anything is sent; messages carry neither the URL nor the host, and a key
 * quoted back by a provider is redacted before the message is cut. */
#include "sources/sources_int.h"
#include "sourcetest.h"

#include <pthread.h>
#include <unistd.h>

static md_fake fake;

static void start(void)
{
    md_fake_start(&fake, 3000);
}

static void stop(void)
{
    md_fake_stop(&fake);
}

TestSuite(sources_http, .init = start, .fini = stop);

/* A config whose provider `name` plays `mode` (the server's /_mode/<MODE> base URL). */
static void config_mode(md_config *cfg, const char *name, const char *mode)
{
    md_fake_config(&fake, cfg, 5000);
    char key[64], url[128];
    snprintf(key, sizeof key, "sources.%s.url", name);
    snprintf(url, sizeof url, "%s/_mode/%s", md_fake_url(&fake, name), mode);
    md_error err;
    cr_assert_eq(md_config_set(cfg, key, url, "test", &err), 0, "%s", err.msg);
}

static void terms(md_fetch_meta *m, int64_t deadline_ms, md_cancel *c)
{
    memset(m, 0, sizeof *m);
    m->retry_after_s = -1;
    m->deadline_ms = deadline_ms;
    m->cancel = c;
}

static void no_address(const char *msg)
{
    cr_expect(strstr(msg, "127.0.0.1") == NULL, "a host in '%s'", msg);
    cr_expect(strstr(msg, "http") == NULL, "a URL in '%s'", msg);
    cr_expect(strstr(msg, "/v8/") == NULL && strstr(msg, "/query") == NULL, "a path in '%s'", msg);
}

Test(sources_http, the_deadline_ends_a_hanging_request)
{
    md_config cfg;
    config_mode(&cfg, "yahoo", "HANG");
    md_source *src = mk("yahoo", &cfg);
    md_fetch_meta meta;
    terms(&meta, md_mono_ms() + 300, NULL);
    md_quote q;
    md_error err;
    int64_t t0 = md_mono_ms();
    cr_assert_eq(src->vt->quote(src, "AAPL", &q, &meta, &err), MD_ETIMEOUT, "%s", err.msg);
    int64_t took = md_mono_ms() - t0;
    cr_expect(took >= 280 && took < 1500, "%lld ms", (long long)took);
    cr_expect(strstr(err.msg, "yahoo: no answer within") == err.msg, "%s", err.msg);
    cr_expect(strstr(err.msg, "time budget") != NULL, "%s", err.msg);
    no_address(err.msg);
    /* past the deadline nothing is sent at all */
    terms(&meta, md_mono_ms() - 1, NULL);
    cr_assert_eq(src->vt->quote(src, "AAPL", &q, &meta, &err), MD_ETIMEOUT);
    cr_expect_eq(meta.requests, 0);
    md_source_free(src);
    md_config_deinit(&cfg);
}

typedef struct later {
    md_cancel *c;
    int ms;
} later;

static void *cancel_later(void *arg)
{
    later *l = arg;
    usleep((useconds_t)l->ms * 1000);
    md_cancel_request(l->c);
    return NULL;
}

Test(sources_http, a_cancellation_aborts_the_transfer_at_once)
{
    md_config cfg;
    config_mode(&cfg, "finnhub", "HANG");
    md_source *src = mk("finnhub", &cfg);
    md_cancel c;
    md_cancel_init(&c);
    md_fetch_meta meta;
    terms(&meta, 0, &c);
    later l = {&c, 200};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &l);
    md_quote q;
    md_error err;
    int64_t t0 = md_mono_ms();
    cr_assert_eq(src->vt->quote(src, "AAPL", &q, &meta, &err), MD_ECANCELED, "%s", err.msg);
    int64_t took = md_mono_ms() - t0;
    pthread_join(th, NULL);
    cr_expect(took >= 190 && took < 400, "woken at once, not at the next progress call: %lld ms",
              (long long)took);
    cr_expect_str_eq(err.msg, "finnhub: cancelled");
    md_cancel_deinit(&c);
    md_source_free(src);
    md_config_deinit(&cfg);
}

Test(sources_http, transport_errors_name_no_host)
{
    md_config cfg;
    md_fake_config(&fake, &cfg, 2000);
    md_error err;
    cr_assert_eq(md_config_set(&cfg, "sources.yahoo.url", "http://127.0.0.1:9/yahoo", "t", &err),
                 0);
    md_source *src = mk("yahoo", &cfg);
    md_quote q;
    cr_assert_eq(md_source_quote(src, "AAPL", &q, NULL, &err), MD_ETRANSIENT);
    cr_expect_str_eq(err.msg, "yahoo: connection refused");
    md_source_free(src);
    md_config_deinit(&cfg);
}

/* meta->more of a test: grants `left` requests, then refuses. */
typedef struct grants {
    int left, asked;
} grants;

static int more(void *ctx, int n, md_error *err)
{
    grants *g = ctx;
    g->asked += n;
    if (n <= g->left) {
        g->left -= n;
        return 1;
    }
    md_error_set(err, MD_ERATELIMIT, "rate limited (next request allowed in 42 s)");
    return 0;
}

Test(sources_http, a_page_past_the_budget_is_not_asked)
{
    md_config cfg;
    md_fake_config(&fake, &cfg, 5000);
    md_source *src = mk("polygon", &cfg);
    grants g = {1, 0}; /* one more request: page 2 of 3 */
    md_fetch_meta meta;
    terms(&meta, 0, NULL);
    meta.granted = 1;
    meta.more = more;
    meta.more_ctx = &g;
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    int n = src->vt->bars(src, "PAGED", MD_IV_1M, T("2024-03-08T14:30:00Z"),
                          T("2024-03-08T14:40:00Z"), &bv, &meta, &err);
    cr_assert_eq(n, MD_ERATELIMIT, "%s", err.msg);
    cr_expect_eq(bv.n, 0, "never half an answer");
    cr_expect_eq(meta.requests, 2, "pages 1 and 2; page 3 not sent");
    cr_expect_str_eq(err.msg, "polygon: stopped after 2 requests: rate limited (next request "
                              "allowed in 42 s)");
    cr_expect(!fake_saw(&fake, "cursor=PAGE3"), "page 3 was asked");
    /* the free plan's fallback (no last trade: the previous close) is a second request */
    g = (grants){0, 0};
    terms(&meta, 0, NULL);
    meta.granted = 1;
    meta.more = more;
    meta.more_ctx = &g;
    md_quote q;
    cr_assert_eq(src->vt->quote(src, "MSFT", &q, &meta, &err), MD_ERATELIMIT, "%s", err.msg);
    cr_expect_eq(meta.requests, 1);
    md_bar_vec_deinit(&bv);
    md_source_free(src);
    md_config_deinit(&cfg);
}

Test(sources_http, a_range_of_months_is_reserved_before_anything_is_sent)
{
    md_config cfg;
    md_fake_config(&fake, &cfg, 5000);
    md_source *src = mk("alphavantage", &cfg);
    grants g = {4, 0}; /* five months need four more requests than the one granted */
    md_fetch_meta meta;
    terms(&meta, 0, NULL);
    meta.granted = 1;
    meta.more = more;
    meta.more_ctx = &g;
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    md_error err;
    char *before = md_fake_requests(&fake);
    int n = src->vt->bars(src, "IBM", MD_IV_5M, T("2023-01-10"), T("2023-06-10"), &bv, &meta, &err);
    cr_assert_eq(n, MD_ERATELIMIT, "%s", err.msg);
    cr_expect_eq(g.asked, 5, "six months: five more asked at once");
    cr_expect_eq(meta.requests, 0, "nothing sent");
    char *after = md_fake_requests(&fake);
    cr_expect_str_eq(after, before);
    cr_expect(strstr(err.msg, "alphavantage: an intraday range across months needs 6 requests, "
                              "not sent") == err.msg,
              "%s", err.msg);
    free(before);
    free(after);
    md_bar_vec_deinit(&bv);
    md_source_free(src);
    md_config_deinit(&cfg);
}

/* Alpha Vantage's daily-limit notice quotes the key back. A key placed across the 96th
 * character of the message must not leave any piece of itself in the error. */
Test(sources_http, a_quoted_key_is_redacted_before_the_message_is_cut)
{
    md_config cfg;
    md_fake_config(&fake, &cfg, 5000);
    /* the notice's text: "We have detected your API key as <key> and ...": 33 + 70 > 96 */
    const char *key = "avKEY0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-01234";
    const md_source_info *info = md_source_find("alphavantage");
    md_fake_set_secret((char **)((char *)&cfg + info->key_off), key);
    char url[128];
    snprintf(url, sizeof url, "%s/_mode/DAYLIMIT", md_fake_url(&fake, "alphavantage"));
    md_error err;
    cr_assert_eq(md_config_set(&cfg, "sources.alphavantage.url", url, "t", &err), 0);
    md_source *src = mk("alphavantage", &cfg);
    md_fetch_meta meta;
    terms(&meta, 0, NULL);
    md_quote q;
    cr_assert_eq(src->vt->quote(src, "IBM", &q, &meta, &err), MD_ERATELIMIT, "%s", err.msg);
    cr_expect_eq(meta.day_exhausted, 1, "the daily notice is told apart");
    for (size_t i = 0; i + 8 <= strlen(key); i++) {
        char piece[9];
        memcpy(piece, key + i, 8);
        piece[8] = 0;
        cr_expect(strstr(err.msg, piece) == NULL, "'%s' of the key in: %s", piece, err.msg);
    }
    cr_expect(strstr(err.msg, "***") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "alphavantage: alphavantage") == NULL, "%s", err.msg);
    no_address(err.msg); /* the notice's link to the pricing page is not passed on */
    md_source_free(src);
    md_config_deinit(&cfg);
}

Test(sources_http, excerpts_redact_then_cut_and_drop_links)
{
    md_log_add_secret("SECRETKEY-0123456789");
    char text[256], out[200];
    /* the key begins at 90: cut first, ten of its characters would be left */
    char filler[91];
    memset(filler, 'x', 90);
    filler[90] = 0;
    snprintf(text, sizeof text, "%sSECRETKEY-0123456789 and more text after it", filler);
    md_sources__excerpt(text, strlen(text), out, sizeof out);
    cr_expect(strstr(out, "SECRET") == NULL && strstr(out, "0123456789") == NULL, "%s", out);
    cr_expect_leq(strlen(out), 96);
    md_sources__excerpt("see https://example.com/pricing. Thanks", 39, out, sizeof out);
    cr_expect_str_eq(out, "see [link]. Thanks");
}
