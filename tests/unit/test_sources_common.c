/* What every provider client shares: Retry-After parsing, time zone offsets (DST, the
 * southern hemisphere, past the last transition, no zone files), strict numbers, price
 * rounding, trading-date buckets, the registry, and the configuration rows. */
#include "sources/sources_int.h"
#include "sourcetest.h"

#include <curl/curl.h>

Test(sources_common, retry_after_seconds_dates_and_garbage)
{
    int64_t now = 1709931600;
    cr_expect_eq(md_sources__retry_after_parse("120", now), 120);
    cr_expect_eq(md_sources__retry_after_parse("  7 ", now), 7);
    cr_expect_eq(md_sources__retry_after_parse("0", now), 0);
    /* Fri, 08 Mar 2024 21:01:00 GMT is 60 s after now */
    cr_expect_eq(md_sources__retry_after_parse("Fri, 08 Mar 2024 21:01:00 GMT", now), 60);
    cr_expect_eq(md_sources__retry_after_parse("Fri, 08 Mar 2024 20:00:00 GMT", now), 0,
                 "past: now");
    cr_expect_eq(md_sources__retry_after_parse("soon", now), -1);
    cr_expect_eq(md_sources__retry_after_parse("12abc", now), -1);
    cr_expect_eq(md_sources__retry_after_parse("", now), -1);
    cr_expect_eq(md_sources__retry_after_parse("99999999999", now), 7 * 86400, "capped at a week");
}

static int32_t off(const char *zone, const char *when)
{
    int32_t o = 99;
    cr_assert_eq(md_sources__tz_offset(zone, T(when), &o), 0, "%s unknown", zone);
    return o;
}

Test(sources_common, zone_offsets_follow_dst)
{
    cr_expect_eq(off("America/New_York", "2024-03-10T06:59:59Z"), -18000);
    cr_expect_eq(off("America/New_York", "2024-03-10T07:00:00Z"), -14400);
    cr_expect_eq(off("America/New_York", "2024-11-03T05:59:59Z"), -14400);
    cr_expect_eq(off("America/New_York", "2024-11-03T06:00:00Z"), -18000);
    cr_expect_eq(off("US/Eastern", "2024-07-01"), -14400);
    cr_expect_eq(off("Asia/Tokyo", "2024-07-01"), 32400);
    cr_expect_eq(off("Europe/London", "2024-01-15"), 0);
    cr_expect_eq(off("Europe/London", "2024-07-15"), 3600);
    cr_expect_eq(off("Australia/Sydney", "2024-01-15"), 39600);
    cr_expect_eq(off("Australia/Sydney", "2024-07-15"), 36000);
    cr_expect_eq(off("Asia/Kolkata", "2024-07-15"), 19800);
    cr_expect_eq(off("UTC", "2024-07-15"), 0);
    /* far past the last transition in the file: the footer rule */
    cr_expect_eq(off("America/New_York", "2100-07-01"), -14400);
    cr_expect_eq(off("America/New_York", "2100-12-01"), -18000);
    int32_t o;
    cr_expect_eq(md_sources__tz_offset("Mars/Olympus_Mons", 0, &o), MD_ENOTFOUND);
    cr_expect_eq(md_sources__tz_offset("../../etc/passwd", 0, &o), MD_ENOTFOUND);
    cr_expect_eq(md_sources__tz_offset("/etc/passwd", 0, &o), MD_ENOTFOUND);
    cr_expect_eq(md_sources__tz_offset("", 0, &o), MD_ENOTFOUND);
    cr_expect_eq(md_sources__tz_offset(NULL, 0, &o), MD_ENOTFOUND);
}

Test(sources_common, wall_clock_to_utc)
{
    int64_t u;
    cr_assert_eq(md_sources__tz_local_to_utc("America/New_York", T("2024-03-11T09:30:00Z"), &u), 0);
    cr_expect_eq(u, T("2024-03-11T13:30:00Z"));
    cr_assert_eq(md_sources__tz_local_to_utc("America/New_York", T("2024-01-02T09:30:00Z"), &u), 0);
    cr_expect_eq(u, T("2024-01-02T14:30:00Z"));
    cr_assert_eq(md_sources__tz_local_to_utc("Asia/Tokyo", T("2024-03-04T09:00:00Z"), &u), 0);
    cr_expect_eq(u, T("2024-03-04T00:00:00Z"));
    cr_expect_eq(md_sources__tz_local_to_utc("Nowhere/Land", 0, &u), MD_ENOTFOUND);
}

Test(sources_common, new_york_and_utc_built_in_without_zone_files)
{
    setenv("TZDIR", md_test_path("no-zoneinfo"), 1);
    cr_expect_eq(off("America/New_York", "2024-03-10T07:00:00Z"), -14400);
    cr_expect_eq(off("America/New_York", "2024-01-10"), -18000);
    cr_expect_eq(off("UTC", "2024-01-10"), 0);
    int32_t o;
    cr_expect_eq(md_sources__tz_offset("Asia/Tokyo", 0, &o), MD_ENOTFOUND);
}

Test(sources_common, corrupt_zone_files_are_unknown_zones)
{
    const char *dir = md_test_path("zoneinfo");
    mkdir(dir, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/Bad", dir);
    md_test_write(p, "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0garbage");
    snprintf(p, sizeof p, "%s/Short", dir);
    md_test_write(p, "TZ");
    setenv("TZDIR", dir, 1);
    int32_t o;
    cr_expect_eq(md_sources__tz_offset("Bad", 0, &o), MD_ENOTFOUND);
    cr_expect_eq(md_sources__tz_offset("Short", 0, &o), MD_ENOTFOUND);
}

Test(sources_common, strict_numbers)
{
    double d;
    int64_t i;
    json_t *v;
#define NUM_OK(js, want)                                                                           \
    v = json_loads(js, JSON_DECODE_ANY, NULL);                                                     \
    cr_expect_eq(md_sources__num(v, &d), 0, "%s", js);                                             \
    cr_expect(d == (want), "%s -> %.17g", js, d);                                                  \
    json_decref(v)
#define NUM_BAD(js)                                                                                \
    v = json_loads(js, JSON_DECODE_ANY, NULL);                                                     \
    cr_expect_eq(md_sources__num(v, &d), -1, "%s accepted", js);                                   \
    json_decref(v)
    NUM_OK("\"148.73500\"", 148.735);
    NUM_OK("\"1e3\"", 1000);
    NUM_OK("\"-0.5\"", -0.5);
    NUM_OK("12", 12);
    NUM_OK("170.72999572753906", 170.72999572753906);
    NUM_BAD("\"NaN\"");
    NUM_BAD("\"inf\"");
    NUM_BAD("\"\"");
    NUM_BAD("\"1,5\"");
    NUM_BAD("\"0x10\"");
    NUM_BAD("\"12abc\"");
    NUM_BAD("\"1e999\"");
    NUM_BAD("true");
    NUM_BAD("null");
    NUM_BAD("[1]");
    v = json_loads("1709931600000", JSON_DECODE_ANY, NULL);
    cr_expect_eq(md_sources__int(v, &i), 0);
    cr_expect_eq(i, 1709931600000LL);
    json_decref(v);
    v = json_loads("1.5", JSON_DECODE_ANY, NULL);
    cr_expect_eq(md_sources__int(v, &i), -1);
    json_decref(v);
    cr_expect_eq(md_sources__int(NULL, &i), -1);
}

Test(sources_common, rounding_removes_float_noise)
{
    cr_expect(md_sources__round(185.63999938964844, 2) == 185.64);
    cr_expect(md_sources__round(170.72999572753906, 2) == 170.73);
    cr_expect(md_sources__round(0.1 + 0.2, 1) == 0.3);
    cr_expect(md_sources__round(1.0937999486923218, 4) == 1.0938);
    cr_expect(md_sources__round(3602.5, 0) == 3603.0 || md_sources__round(3602.5, 0) == 3602.0);
    cr_expect(md_sources__round(1.23456, -1) == 1.23456, "no hint: unchanged");
    cr_expect(md_sources__round(1.23456, 11) == 1.23456);
}

Test(sources_common, trading_date_buckets)
{
    /* 14:30 UTC New York open, 15:00 UTC the day before for Tokyo, midnight UTC as is */
    cr_expect_eq(md_sources__exchange_day(T("2024-03-04T14:30:00Z"), "America/New_York", 0),
                 T("2024-03-04"));
    cr_expect_eq(md_sources__exchange_day(T("2024-03-03T15:00:00Z"), "Asia/Tokyo", 0),
                 T("2024-03-04"));
    cr_expect_eq(md_sources__exchange_day(T("2024-03-04"), "America/New_York", 0), T("2024-03-04"));
    cr_expect_eq(md_sources__exchange_day(T("2024-03-03T15:00:00Z"), "Unknown/Zone", 32400),
                 T("2024-03-04"), "fallback offset");
    cr_expect_eq(md_sources__day_bucket(T("2024-03-08"), MD_IV_1W), T("2024-03-04"), "Friday");
    cr_expect_eq(md_sources__day_bucket(T("2024-03-03"), MD_IV_1W), T("2024-03-04"),
                 "Sunday starts a week");
    cr_expect_eq(md_sources__day_bucket(T("2024-03-09"), MD_IV_1W), T("2024-03-04"), "Saturday");
    cr_expect_eq(md_sources__day_bucket(T("2024-02-29"), MD_IV_1MO), T("2024-02-01"));
    cr_expect_eq(md_sources__day_bucket(T("2024-02-29"), MD_IV_1D), T("2024-02-29"));
}

Test(sources_common, registry_names_keys_and_unknown)
{
    static const char *names[] = {"yahoo", "alphavantage", "finnhub", "polygon", "twelvedata"};
    cr_assert(md_source_count() >= 5);
    for (size_t i = 0; i < 5; i++) cr_expect_str_eq(md_source_info_at(i)->name, names[i]);
    cr_expect_null(md_source_info_at(md_source_count()));
    cr_expect_null(md_source_find("nope"));
    cr_expect_null(md_source_find(NULL));
    cr_expect_null(md_source_find("yahoo")->key_env);
    cr_expect_str_eq(md_source_find("alphavantage")->key_env, "ALPHA_VANTAGE_API_KEY");
    cr_expect_str_eq(md_source_find("FINNHUB")->key_env, "FINNHUB_API_KEY");
    cr_expect_str_eq(md_source_find("polygon")->key_env, "POLYGON_API_KEY");
    cr_expect_str_eq(md_source_find("twelvedata")->key_env, "TWELVE_DATA_API_KEY");

    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    md_source *s = NULL;
    cr_expect_eq(md_source_create("bloomberg", &cfg, &s, &err), MD_EINVAL);
    cr_expect(strstr(err.msg, "known: yahoo, alphavantage, finnhub, polygon, twelvedata"), "%s",
              err.msg);
    cr_expect_null(s);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(md_source_create(names[i], &cfg, &s, &err), 0, "%s", err.msg);
        cr_expect_str_eq(md_source_name_of(s), names[i]);
        cr_expect_eq(s->vt->id, md_source_parse(names[i]));
        cr_expect_eq(s->timeout_ms, 10000);
        cr_expect_eq(md_source_configured(s), i == 0, "%s: only yahoo needs no key", names[i]);
        cr_expect(strncmp(s->base_url, "https://", 8) == 0, "%s", s->base_url);
        md_source_free(s);
    }
    md_source_free(NULL);
    cr_assert_eq(md_source_create("Yahoo", &cfg, &s, &err), 0);
    cr_expect_str_eq(s->base_url, "https://query1.finance.yahoo.com");
    md_bar_vec bv;
    md_bar_vec_init(&bv);
    cr_expect_eq(md_source_bars(s, "AAPL", MD_IV_1D, 100, 100, &bv, NULL, &err), MD_ETIMERANGE);
    md_source_free(s);
    md_config_deinit(&cfg);
}

Test(sources_common, config_rows_from_environment_and_yaml)
{
    setenv("MDAGENT_YAHOO_URL", "http://127.0.0.1:9/yahoo/", 1);
    setenv("MDAGENT_POLYGON_URL", "http://127.0.0.1:9/pg", 1);
    setenv("MDAGENT_SOURCES_TIMEOUT_MS", "1234", 1);
    setenv("FINNHUB_API_KEY", "fh-env-key-123456", 1);
    setenv("ALPHA_VANTAGE_API_KEY", "av-env-key-123456", 1);
    setenv("POLYGON_API_KEY", "pg-env-key-123456", 1);
    setenv("TWELVE_DATA_API_KEY", "td-env-key-123456", 1);
    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    cr_assert_eq(md_config_load_env(&cfg, &err), 0, "%s", err.msg);
    cr_expect_str_eq(cfg.yahoo_url, "http://127.0.0.1:9/yahoo/");
    cr_expect_str_eq(cfg.polygon_url, "http://127.0.0.1:9/pg");
    cr_expect_str_eq(cfg.alphavantage_url, "https://www.alphavantage.co");
    cr_expect_str_eq(cfg.finnhub_url, "https://finnhub.io/api/v1");
    cr_expect_str_eq(cfg.twelvedata_url, "https://api.twelvedata.com");
    cr_expect_eq(cfg.sources_timeout_ms, 1234);
    cr_expect_str_eq(cfg.finnhub_api_key, "fh-env-key-123456");
    md_source *s = mk("yahoo", &cfg);
    cr_expect_str_eq(s->base_url, "http://127.0.0.1:9/yahoo", "trailing slash dropped");
    cr_expect_eq(s->timeout_ms, 1234);
    md_source_free(s);
    s = mk("finnhub", &cfg);
    cr_expect_eq(md_source_configured(s), 1);
    md_source_free(s);
    /* printed config hides the keys */
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    md_config_print(&cfg, f);
    fclose(f);
    cr_expect(strstr(out, "env-key") == NULL, "%s", out);
    free(out);

    const char *path = md_test_path("sources.yaml");
    md_test_write(path,
                  "sources:\n  timeout_ms: 2500\n  twelvedata:\n    url: http://td.example/\n");
    cr_assert_eq(md_config_load_file(&cfg, path, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.sources_timeout_ms, 2500);
    cr_expect_str_eq(cfg.twelvedata_url, "http://td.example/");
    md_test_write(path, "sources:\n  timeout_ms: 5\n");
    cr_expect_eq(md_config_load_file(&cfg, path, &err), MD_ECONFIG);
    cr_expect(strstr(err.msg, "sources.timeout_ms"), "%s", err.msg);
    md_test_write(path, "FINNHUB_API_KEY: abc\n");
    cr_expect_eq(md_config_load_file(&cfg, path, &err), MD_ECONFIG);
    cr_expect(strstr(err.msg, "environment"), "%s", err.msg);
    md_config_deinit(&cfg);
}

Test(sources_common, http_status_vocabulary)
{
    md_error err;
    cr_expect_eq(md_sources__status_error("x", 429, NULL, &err), MD_ERATELIMIT);
    cr_expect_eq(md_sources__status_error("x", 401, "bad key", &err), MD_EUNAUTHSRC);
    cr_expect(strstr(err.msg, "x: credentials refused (HTTP 401): bad key"), "%s", err.msg);
    cr_expect_eq(md_sources__status_error("x", 403, NULL, &err), MD_EUNAUTHSRC);
    cr_expect_eq(md_sources__status_error("x", 404, NULL, &err), MD_ENOTFOUND);
    cr_expect_eq(md_sources__status_error("x", 410, NULL, &err), MD_ENOTFOUND);
    cr_expect_eq(md_sources__status_error("x", 408, NULL, &err), MD_ETRANSIENT);
    cr_expect_eq(md_sources__status_error("x", 500, NULL, &err), MD_ETRANSIENT);
    cr_expect_eq(md_sources__status_error("x", 502, NULL, &err), MD_ETRANSIENT);
    cr_expect_eq(md_sources__status_error("x", 504, NULL, &err), MD_ETRANSIENT);
    cr_expect_eq(md_sources__status_error("x", 418, NULL, &err), MD_EMALFORMED);
    /* a detail quoting a URL with a key shows it redacted */
    cr_expect_eq(md_sources__status_error("x", 500, "GET /q?apikey=abcdef123 failed", &err),
                 MD_ETRANSIENT);
    cr_expect(strstr(err.msg, "abcdef123") == NULL && strstr(err.msg, "apikey=***"), "%s", err.msg);
}
