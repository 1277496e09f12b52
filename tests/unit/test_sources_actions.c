/* Corporate actions of Alpha Vantage (SPLITS, DIVIDENDS), Finnhub (/stock/split,
 * /stock/dividend) and Twelve Data (/splits, /dividends): each parser on fixtures written
 * from the provider's documentation (AAPL's 7-for-1 of 2014 and 4-for-1 of 2020, its 0.82 USD
 * dividends before the split, IBM's 1.046 of 2021, a 1-for-10 reverse split, a dividend
 * quoted in pence), the ratio conventions (Finnhub toFactor/fromFactor, Twelve Data
 * from_factor/to_factor with the inverted `ratio` beside them, Alpha Vantage's one decimal
 * factor), and each client over HTTP against the fake provider server: the requests they
 * send, the range filter, and plan refusals - Finnhub's dividends refused leave the splits as
 * the answer, Twelve Data's free plan refuses both (the call fails, so the manager asks the
 * next source), Alpha Vantage's premium notice is a refusal. Then each provider's exchange
 * (md_source_ref.exchange): Polygon's and Finnhub's one more request (Ticker Details,
 * /stock/profile2), asked only once the actions answered, whose failure of any kind (404,
 * plan refusal, rate limit, malformed body, timeout) leaves the exchange "" and the actions
 * standing; Twelve Data's from the splits meta and Alpha Vantage's none, with no request. */
#include "sourcetest.h"

static int parse(int (*fn)(const char *, size_t, int, md_action_vec *, md_error *),
                 const char *file, int dividends, md_action_vec *out, md_error *err)
{
    size_t len;
    char *body = md_fake_read(file, &len);
    int rc = fn(body, len, dividends, out, err);
    free(body);
    return rc;
}

typedef int (*parse_fn)(const char *, size_t, int, md_action_vec *, md_error *);

/* A refusal body (MD_EUNAUTHSRC, its message naming word) and a body of another endpoint
 * (MD_EMALFORMED) append nothing. */
static void refused_and_malformed(parse_fn fn, const char *refusal, const char *word,
                                  const char *other)
{
    md_action_vec v;
    md_action_vec_init(&v);
    md_error err;
    cr_expect_eq(parse(fn, refusal, 1, &v, &err), MD_EUNAUTHSRC, "%s", refusal);
    cr_expect(strstr(err.msg, word), "%s", err.msg);
    cr_expect_eq(parse(fn, other, 0, &v, &err), MD_EMALFORMED, "%s", other);
    cr_expect_eq(v.n, 0);
    md_action_vec_deinit(&v);
}

/* file read by fn into v (emptied first): want actions, sorted by ex-date. */
static void parsed(parse_fn fn, const char *file, int dividends, int want, md_action_vec *v)
{
    md_error err;
    v->n = 0;
    cr_assert_eq(parse(fn, file, dividends, v, &err), want, "%s: %s", file, err.msg);
    md_action_vec_sort_dedup(v);
}

#define SPLIT(a, day, num, den)                                                                    \
    do {                                                                                           \
        cr_expect_eq((a)->type, MD_ACT_SPLIT);                                                     \
        cr_expect_eq((a)->ex_date, T(day), "%s", day);                                             \
        cr_expect((a)->numerator == (num) && (a)->denominator == (den), "%s: %g/%g", day,          \
                  (a)->numerator, (a)->denominator);                                               \
    } while (0)

Test(actions_parse, finnhub_splits_and_dividends)
{
    md_action_vec v;
    md_action_vec_init(&v);
    parsed(md_finnhub_parse_actions, "finnhub/split_AAPL20.json", 0, 2, &v);
    SPLIT(&v.v[0], "2014-06-09", 7, 1); /* toFactor new shares for fromFactor old */
    SPLIT(&v.v[1], "2020-08-31", 4, 1);
    cr_expect_eq(v.v[1].source, MD_SRC_FINNHUB);
    parsed(md_finnhub_parse_actions, "finnhub/dividend_AAPL20.json", 1, 3, &v);
    /* amount as paid (0.82 before the split), not adjustedAmount (0.205) */
    cr_expect_eq(v.v[1].ex_date, T("2020-08-07"));
    cr_expect(v.v[1].amount == 0.82);
    cr_expect_eq(v.v[1].pay_date, T("2020-08-13"));
    cr_expect_str_eq(v.v[1].currency, "USD");
    cr_expect(v.v[2].amount == 0.205);
    /* pence: 4.5 GBp is 0.045 GBP */
    parsed(md_finnhub_parse_actions, "finnhub/dividend_VOD.L.json", 1, 1, &v);
    cr_expect_str_eq(v.v[0].currency, "GBP");
    cr_expect_float_eq(v.v[0].amount, 0.045, 1e-12);
    md_action_vec_deinit(&v);
    refused_and_malformed(md_finnhub_parse_actions, "finnhub/error_forbidden.json", "access",
                          "finnhub/quote_AAPL.json");
}

/* The profile parsers at their edges: the documented answers, an unknown symbol, an
 * exchange that is not a string, a body that is not JSON or not an object. */
Test(actions_parse, profiles_name_the_exchange_or_fail_clearly)
{
    typedef int (*profile_fn)(const char *, size_t, md_source_ref *, md_error *);
    static const struct {
        profile_fn fn;
        const char *body, *exchange;
        int rc;
    } cases[] = {
        {md_finnhub_parse_profile, "{}", "", 0},
        {md_finnhub_parse_profile, "{\"exchange\":\"NASDAQ NMS - GLOBAL MARKET\"}",
         "NASDAQ NMS - GLOBAL MARKET", 0},
        {md_finnhub_parse_profile, "{\"exchange\":null}", "", 0},
        {md_finnhub_parse_profile, "{\"exchange\":42}", "", MD_EMALFORMED},
        {md_finnhub_parse_profile, "[1,2]", "", MD_EMALFORMED},
        {md_finnhub_parse_profile, "{\"exchange\":\"NAS", "", MD_EMALFORMED},
        {md_polygon_parse_ticker, "{\"status\":\"OK\",\"results\":{\"primary_exchange\":\"XNAS\"}}",
         "XNAS", 0},
        {md_polygon_parse_ticker, "{\"status\":\"OK\",\"results\":{}}", "", 0},
        {md_polygon_parse_ticker, "{\"status\":\"OK\",\"results\":[]}", "", MD_EMALFORMED},
        {md_polygon_parse_ticker,
         "{\"status\":\"OK\",\"results\":{\"primary_exchange\":[\"XNAS\"]}}", "", MD_EMALFORMED},
        {md_polygon_parse_ticker, "<html>", "", MD_EMALFORMED},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_source_ref ref;
        md_error err;
        int rc = cases[i].fn(cases[i].body, strlen(cases[i].body), &ref, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: %d %s", cases[i].body, rc, rc ? err.msg : "");
        if (rc == 0)
            cr_expect_str_eq(ref.exchange, cases[i].exchange, "%s", cases[i].body);
        else
            cr_expect(err.msg[0], "%s: an error says why", cases[i].body);
    }
    size_t len;
    char *body = md_fake_read("polygon/tickers_AAPL.json", &len);
    md_source_ref ref;
    md_error err;
    cr_expect_eq(md_polygon_parse_ticker(body, len, &ref, &err), 0, "%s", err.msg);
    cr_expect_str_eq(ref.exchange, "XNAS");
    free(body);
    body = md_fake_read("polygon/tickers_not_found.json", &len);
    cr_expect_eq(md_polygon_parse_ticker(body, len, &ref, &err), MD_ENOTFOUND, "%s", err.msg);
    free(body);
}

Test(actions_parse, twelvedata_factors_are_from_over_to)
{
    md_action_vec v;
    md_action_vec_init(&v);
    parsed(md_twelvedata_parse_actions, "twelvedata/splits_AAPL20.json", 0, 2, &v);
    /* {"ratio":0.25,"from_factor":4,"to_factor":1} is a 4-for-1: ratio is not the factor */
    SPLIT(&v.v[0], "2014-06-09", 7, 1);
    SPLIT(&v.v[1], "2020-08-31", 4, 1);
    cr_expect_eq(v.v[0].source, MD_SRC_TWELVEDATA);
    parsed(md_twelvedata_parse_actions, "twelvedata/splits_REVERSE.json", 0, 1, &v);
    SPLIT(&v.v[0], "2023-03-01", 1, 10);
    parsed(md_twelvedata_parse_actions, "twelvedata/dividends_AAPL20.json", 1, 3, &v);
    cr_expect_eq(v.v[1].ex_date, T("2020-08-07"));
    cr_expect(v.v[1].amount == 0.82);
    cr_expect_str_eq(v.v[1].currency, "USD"); /* from meta.currency */
    cr_expect_eq(v.v[1].pay_date, 0);
    parsed(md_twelvedata_parse_actions, "twelvedata/dividends_VOD.json", 1, 1, &v);
    cr_expect_str_eq(v.v[0].currency, "GBP");
    cr_expect_float_eq(v.v[0].amount, 0.045, 1e-12);
    md_action_vec_deinit(&v);
    refused_and_malformed(md_twelvedata_parse_actions, "twelvedata/error_forbidden_splits.json",
                          "grow", "twelvedata/quote_AAPL.json");
}

Test(actions_parse, alphavantage_decimal_factors)
{
    md_action_vec v;
    md_action_vec_init(&v);
    parsed(md_alphavantage_parse_actions, "alphavantage/SPLITS_IBM.json", 0, 3, &v);
    SPLIT(&v.v[0], "1997-05-28", 2, 1);
    SPLIT(&v.v[2], "2021-11-04", 523, 500); /* 1.0460 */
    cr_expect_eq(v.v[2].source, MD_SRC_ALPHAVANTAGE);
    parsed(md_alphavantage_parse_actions, "alphavantage/SPLITS_REVERSE.json", 0, 2, &v);
    SPLIT(&v.v[0], "2019-01-02", 3, 2);  /* 1.5000 */
    SPLIT(&v.v[1], "2023-03-01", 1, 10); /* 0.1000 */
    parsed(md_alphavantage_parse_actions, "alphavantage/DIVIDENDS_AAPL20.json", 1, 3, &v);
    cr_expect_eq(v.v[0].pay_date, 0); /* "None" */
    cr_expect_eq(v.v[1].ex_date, T("2020-08-07"));
    cr_expect_eq(v.v[1].pay_date, T("2020-08-13"));
    cr_expect(v.v[1].amount == 0.82);
    cr_expect_str_eq(v.v[1].currency, ""); /* not said */
    parsed(md_alphavantage_parse_actions, "alphavantage/DIVIDENDS_EMPTY.json", 1, 0, &v);
    md_action_vec_deinit(&v);
    refused_and_malformed(md_alphavantage_parse_actions, "alphavantage/information_premium.json",
                          "premium", "alphavantage/GLOBAL_QUOTE_IBM.json");
}

/* -- clients over HTTP --------------------------------------------------------------------- */

static md_fake fake;

static void start(void)
{
    md_fake_start(&fake, 3000);
}

static void stop(void)
{
    md_fake_stop(&fake);
}

TestSuite(actions_http, .init = start, .fini = stop, .timeout = 60);

/* The source `name`, playing `mode` when not NULL (the server's /_mode/<MODE> base URL),
 * with a client timeout of timeout_ms. */
static md_source *source_t(md_config *cfg, const char *name, const char *mode, int timeout_ms)
{
    md_fake_config(&fake, cfg, timeout_ms);
    if (mode) {
        char key[64], url[128];
        snprintf(key, sizeof key, "sources.%s.url", name);
        snprintf(url, sizeof url, "%s/_mode/%s", md_fake_url(&fake, name), mode);
        md_error err;
        cr_assert_eq(md_config_set(cfg, key, url, "test", &err), 0, "%s", err.msg);
    }
    return mk(name, cfg);
}

static md_source *source(md_config *cfg, const char *name, const char *mode)
{
    return source_t(cfg, name, mode, 5000);
}

/* The vtable's actions call, with what it says of the symbol into *ref and its bookkeeping
 * into *meta (both cleared first). */
static int actions_ref(md_source *src, const char *symbol, int64_t start, int64_t end,
                       md_action_vec *out, md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    memset(ref, 0, sizeof *ref);
    memset(meta, 0, sizeof *meta);
    meta->retry_after_s = -1;
    md_error_clear(err);
    return src->vt->actions(src, symbol, start, end, out, ref, meta, err);
}

static int actions(md_source *src, const char *symbol, int64_t start, int64_t end,
                   md_action_vec *out, md_error *err)
{
    md_source_ref ref;
    md_fetch_meta meta;
    return actions_ref(src, symbol, start, end, out, &ref, &meta, err);
}

/* How many of the requests the fake server saw contain needle. */
static int fake_count(const char *needle)
{
    char *r = md_fake_requests(&fake);
    int n = 0;
    for (const char *p = strstr(r, needle); p; p = strstr(p + 1, needle)) n++;
    free(r);
    return n;
}

Test(actions_http, each_client_asks_both_endpoints_and_filters_the_range)
{
    static const char *names[] = {"finnhub", "twelvedata", "alphavantage"};
    static const char *seen[][2] = {
        {"/finnhub/stock/split?symbol=AAPL20&from=1970-01-01&to=", "/finnhub/stock/dividend?"},
        {"/twelvedata/splits?symbol=AAPL20&range=full&apikey=",
         "/twelvedata/dividends?symbol=AAPL20&range=full&adjust=false&apikey="},
        {"function=SPLITS&symbol=AAPL20&apikey=", "function=DIVIDENDS&symbol=AAPL20&apikey="}};
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
        md_config cfg;
        md_source *src = source(&cfg, names[i], NULL);
        md_action_vec v;
        md_action_vec_init(&v);
        md_error err;
        /* 2020: the 4-for-1 and three dividends; the 2014 split is outside */
        int n = actions(src, "AAPL20", T("2020-01-01"), T("2021-01-01"), &v, &err);
        cr_expect_eq(n, 4, "%s: %d %s", names[i], n, err.msg);
        md_action_vec_sort_dedup(&v);
        size_t splits = 0;
        for (size_t k = 0; k < v.n; k++) {
            cr_expect_str_eq(v.v[k].symbol, "AAPL20");
            if (v.v[k].type == MD_ACT_SPLIT) {
                splits++;
                SPLIT(&v.v[k], "2020-08-31", 4, 1);
            }
        }
        cr_expect_eq(splits, 1, "%s", names[i]);
        cr_expect(fake_saw(&fake, seen[i][0]), "%s", names[i]);
        cr_expect(fake_saw(&fake, seen[i][1]), "%s", names[i]);
        md_action_vec_deinit(&v);
        md_source_free(src);
        md_config_deinit(&cfg);
    }
}

Test(actions_http, finnhub_dividends_refused_by_the_plan_leave_the_splits)
{
    md_config cfg;
    md_source *src = source(&cfg, "finnhub", "NODIVIDENDS");
    md_action_vec v;
    md_action_vec_init(&v);
    md_error err;
    md_log_capture cap;
    md_log_capture_start(&cap);
    md_source_ref ref;
    md_fetch_meta meta;
    int n = actions_ref(src, "AAPL20", 0, T("2030-01-01"), &v, &ref, &meta, &err);
    md_log_capture_stop(&cap);
    const char *log = cap.text;
    cr_expect_eq(n, 2, "%d %s", n, err.msg);
    for (size_t k = 0; k < v.n; k++) cr_expect_eq(v.v[k].type, MD_ACT_SPLIT);
    cr_expect(ref.dividends_refused, "the answer says the dividends are missing");
    cr_expect(strstr(log, "dividends refused by the plan source=finnhub"), "%s", log);
    cr_expect(strstr(log, "access"), "%s", log);
    free(cap.text);
    md_action_vec_deinit(&v);
    md_source_free(src);
    md_config_deinit(&cfg);
}

Test(actions_http, refused_splits_fail_the_call)
{
    static const struct {
        const char *name, *mode, *symbol, *word;
    } cases[] = {{"twelvedata", "GROWONLY", "AAPL20", "grow"},
                 {"finnhub", NULL, "FORBIDDEN", "access"},
                 {"alphavantage", NULL, "PREMIUM", "premium"}};
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_config cfg;
        md_source *src = source(&cfg, cases[i].name, cases[i].mode);
        md_action_vec v;
        md_action_vec_init(&v);
        md_error err;
        int rc = actions(src, cases[i].symbol, 0, T("2030-01-01"), &v, &err);
        cr_expect_eq(rc, MD_EUNAUTHSRC, "%s: %s", cases[i].name, err.msg);
        cr_expect(strstr(err.msg, cases[i].word), "%s: %s", cases[i].name, err.msg);
        cr_expect(strstr(err.msg, cases[i].name) == err.msg, "%s", err.msg);
        cr_expect_eq(v.n, 0);
        md_action_vec_deinit(&v);
        md_source_free(src);
        md_config_deinit(&cfg);
    }
}

/* -- the symbol's exchange ----------------------------------------------------------------- */

/* symbol's actions of [start, end) from src, with the log they wrote. */
typedef struct logged_actions {
    md_action_vec v;
    md_source_ref ref;
    md_fetch_meta meta;
    md_error err;
    char *log;
    int n;
} logged_actions;

static void logged_actions_run(md_source *src, const char *symbol, int64_t start, int64_t end,
                               logged_actions *r)
{
    md_action_vec_init(&r->v);
    md_log_capture cap;
    md_log_capture_start(&cap);
    r->n = actions_ref(src, symbol, start, end, &r->v, &r->ref, &r->meta, &r->err);
    md_log_capture_stop(&cap);
    r->log = cap.text;
}

static void logged_actions_deinit(logged_actions *r)
{
    free(r->log);
    md_action_vec_deinit(&r->v);
}

Test(actions_http, each_provider_reports_the_exchange_it_names)
{
    /* Polygon and Finnhub: one more request (Ticker Details, /stock/profile2) after the
     * splits and dividends; Twelve Data: the splits' meta.mic_code; Alpha Vantage: none. */
    static const struct {
        const char *name, *symbol, *exchange, *seen;
        int requests;
    } cases[] = {
        {"polygon", "AAPL", "XNAS", "/polygon/v3/reference/tickers/AAPL?apiKey=", 3},
        {"finnhub", "AAPL", "NASDAQ NMS - GLOBAL MARKET",
         "/finnhub/stock/profile2?symbol=AAPL&token=", 3},
        {"twelvedata", "AAPL20", "XNGS", NULL, 2},
        {"alphavantage", "AAPL20", "", NULL, 2},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_config cfg;
        md_source *src = source(&cfg, cases[i].name, NULL);
        logged_actions r;
        logged_actions_run(src, cases[i].symbol, 0, T("2030-01-01"), &r);
        cr_expect_geq(r.n, 0, "%s: %s", cases[i].name, r.err.msg);
        cr_expect_str_eq(r.ref.exchange, cases[i].exchange, "%s", cases[i].name);
        cr_expect_str_eq(r.ref.zone, cases[i].name[0] == 'a' ? "" : "America/New_York", "%s",
                         cases[i].name);
        /* the extra request is made and counted like the others (the manager charges
         * meta.requests to the reference class's budget) */
        cr_expect_eq(r.meta.requests, cases[i].requests, "%s", cases[i].name);
        if (cases[i].seen) cr_expect(fake_saw(&fake, cases[i].seen), "%s", cases[i].name);
        logged_actions_deinit(&r);
        md_source_free(src);
        md_config_deinit(&cfg);
    }
    cr_expect_eq(fake_count("/twelvedata/") + fake_count("function="), 4, "no third request");
}

Test(actions_http, twelvedata_exchange_falls_back_to_the_exchange_name_without_a_mic)
{
    md_config cfg;
    md_source *src = source(&cfg, "twelvedata", NULL);
    md_action_vec v;
    md_action_vec_init(&v);
    md_source_ref ref;
    md_fetch_meta meta;
    md_error err;
    cr_expect_eq(actions_ref(src, "NOMIC", 0, T("2030-01-01"), &v, &ref, &meta, &err), 1, "%s",
                 err.msg);
    cr_expect_str_eq(ref.exchange, "NYSE");
    /* the Grow plan refused: the call fails, nothing said of the symbol */
    md_source_free(src);
    md_config_deinit(&cfg);
    src = source(&cfg, "twelvedata", "GROWONLY");
    cr_expect_eq(actions_ref(src, "AAPL20", 0, T("2030-01-01"), &v, &ref, &meta, &err),
                 MD_EUNAUTHSRC);
    cr_expect_str_eq(ref.exchange, "");
    md_action_vec_deinit(&v);
    md_source_free(src);
    md_config_deinit(&cfg);
}

Test(actions_http, a_failed_profile_leaves_the_exchange_unknown_and_the_actions_standing)
{
    static const struct {
        const char *name, *mode, *code, *word;
        int want; /* actions of AAPL20 in 2020 */
    } cases[] = {
        {"polygon", NULL, "not_found", "Ticker not found", 2}, /* 404 NOT_FOUND */
        {"polygon", "NOPROFILE", "source_unauthorized", "not entitled", 2},
        {"polygon", "PROFILERATELIMIT", "rate_limited", "exceeded", 2},
        {"polygon", "PROFILETRUNC", "malformed_response", "", 2},
        {"polygon", "PROFILEHANG", "timeout", "", 2},
        {"finnhub", "NOPROFILE", "source_unauthorized", "access", 4},
        {"finnhub", "PROFILERATELIMIT", "rate_limited", "API limit", 4},
        {"finnhub", "PROFILETRUNC", "malformed_response", "", 4},
        {"finnhub", "PROFILEHANG", "timeout", "", 4},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_config cfg;
        md_source *src = source_t(&cfg, cases[i].name, cases[i].mode, 1000);
        logged_actions r;
        logged_actions_run(src, "AAPL20", T("2020-01-01"), T("2021-01-01"), &r);
        const char *what = cases[i].mode ? cases[i].mode : "404";
        cr_expect_eq(r.n, cases[i].want, "%s %s: %d %s", cases[i].name, what, r.n, r.err.msg);
        cr_expect_eq(r.v.n, (size_t)cases[i].want, "%s %s", cases[i].name, what);
        cr_expect_str_eq(r.ref.exchange, "", "%s %s", cases[i].name, what);
        cr_expect_str_eq(r.ref.zone, "America/New_York", "%s %s", cases[i].name, what);
        cr_expect_eq(r.meta.requests, 3, "%s %s: the failed request is counted", cases[i].name,
                     what);
        char line[160];
        snprintf(line, sizeof line,
                 "INFO sources reference profile not read source=%s symbol=AAPL20 code=%s",
                 cases[i].name, cases[i].code);
        cr_expect(strstr(r.log, line), "%s %s: no '%s' in\n%s", cases[i].name, what, line, r.log);
        cr_expect(strstr(r.log, cases[i].word), "%s %s: %s", cases[i].name, what, r.log);
        logged_actions_deinit(&r);
        md_source_free(src);
        md_config_deinit(&cfg);
    }
}

Test(actions_http, finnhub_empty_profile_is_an_unknown_exchange_not_an_error)
{
    md_config cfg;
    md_source *src = source(&cfg, "finnhub", NULL);
    logged_actions r;
    logged_actions_run(src, "AAPL20", T("2020-01-01"), T("2021-01-01"), &r);
    cr_expect_eq(r.n, 4, "%d %s", r.n, r.err.msg);
    cr_expect_str_eq(r.ref.exchange, ""); /* profile2 answered {} */
    cr_expect_eq(r.meta.requests, 3);
    cr_expect(fake_saw(&fake, "/finnhub/stock/profile2?symbol=AAPL20&token="));
    cr_expect(strstr(r.log, "reference profile not read") == NULL, "%s", r.log);
    /* a plan without dividends still reads the exchange after the splits */
    md_source_free(src);
    md_config_deinit(&cfg);
    src = source(&cfg, "finnhub", "NODIVIDENDS");
    cr_expect_eq(actions_ref(src, "AAPL", 0, T("2030-01-01"), &r.v, &r.ref, &r.meta, &r.err), 0,
                 "%s", r.err.msg);
    cr_expect_str_eq(r.ref.exchange, "NASDAQ NMS - GLOBAL MARKET");
    cr_expect_eq(r.meta.requests, 3);
    logged_actions_deinit(&r);
    md_source_free(src);
    md_config_deinit(&cfg);
}

Test(actions_http, no_profile_request_when_the_actions_failed)
{
    /* a symbol the provider refused or a rate limit: no quota spent on its profile */
    static const struct {
        const char *name, *symbol, *profile;
        int rc;
    } cases[] = {
        {"polygon", "NOTAUTH", "/v3/reference/tickers/NOTAUTH", MD_EUNAUTHSRC},
        {"polygon", "RATELIMIT", "/v3/reference/tickers/RATELIMIT", MD_ERATELIMIT},
        {"finnhub", "FORBIDDEN", "/stock/profile2?symbol=FORBIDDEN", MD_EUNAUTHSRC},
        {"finnhub", "RATELIMIT", "/stock/profile2?symbol=RATELIMIT", MD_ERATELIMIT},
        {"finnhub", "E500", "/stock/profile2?symbol=E500", MD_ETRANSIENT},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_config cfg;
        md_source *src = source(&cfg, cases[i].name, NULL);
        logged_actions r;
        logged_actions_run(src, cases[i].symbol, 0, T("2030-01-01"), &r);
        cr_expect_eq(r.n, cases[i].rc, "%s %s: %s", cases[i].name, cases[i].symbol, r.err.msg);
        cr_expect_eq(r.meta.requests, 1, "%s %s", cases[i].name, cases[i].symbol);
        cr_expect_eq(fake_count(cases[i].profile), 0, "%s", cases[i].profile);
        cr_expect_str_eq(r.ref.exchange, "");
        logged_actions_deinit(&r);
        md_source_free(src);
        md_config_deinit(&cfg);
    }
    /* Polygon's indices, FX and crypto have no primary exchange: not asked */
    md_config cfg;
    md_source *src = source(&cfg, "polygon", NULL);
    logged_actions r;
    logged_actions_run(src, "X:BTCUSD", 0, T("2030-01-01"), &r);
    cr_expect_eq(r.n, 0, "%s", r.err.msg);
    cr_expect_eq(r.meta.requests, 2);
    cr_expect_eq(fake_count("/v3/reference/tickers/"), 0);
    logged_actions_deinit(&r);
    md_source_free(src);
    md_config_deinit(&cfg);
}
