/* Configuration: defaults, YAML file, environment, flags, and errors naming the key. */
#include "core/config.h"
#include "testutil.h"

#include <criterion/criterion.h>

static void clear_env(void)
{
    unsetenv("MDAGENT_LISTEN");
    unsetenv("MDAGENT_DB");
    unsetenv("MDAGENT_SERVER_THREADS");
    unsetenv("MDAGENT_API_KEYS");
}

TestSuite(config, .init = clear_env);

Test(config, defaults)
{
    md_config c;
    md_config_init(&c);
    cr_assert_str_eq(c.listen, "127.0.0.1:8080");
    cr_assert_str_eq(c.db, "sqlite:data/mdagent.db");
    cr_assert_str_eq(c.redis, "");
    cr_assert_eq(c.server_threads, 0);
    cr_assert_eq(c.insecure_dev, 0);
    md_error err;
    cr_assert_eq(md_config_validate(&c, &err), 0, "%s", err.msg);
    md_config_deinit(&c);
}

Test(config, file_then_env_then_flags)
{
    const char *p = md_test_path("cfg1.yaml");
    md_test_write(
        p, "listen: 0.0.0.0:9000\nserver:\n  threads: 3\n  workers: 5\ndb: sqlite:/tmp/x.db\n");
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_str_eq(c.listen, "0.0.0.0:9000");
    cr_assert_eq(c.server_threads, 3);
    cr_assert_eq(c.server_workers, 5);
    setenv("MDAGENT_SERVER_THREADS", "7", 1);
    cr_assert_eq(md_config_load_env(&c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.server_threads, 7);
    int uses;
    cr_assert_eq(md_config_apply_flag(&c, "--listen", "127.0.0.1:1", &uses, &err), 1);
    cr_assert_eq(uses, 1);
    cr_assert_str_eq(c.listen, "127.0.0.1:1");
    cr_assert_eq(md_config_apply_flag(&c, "--insecure-dev", NULL, &uses, &err), 1);
    cr_assert_eq(uses, 0);
    cr_assert_eq(c.insecure_dev, 1);
    cr_assert_eq(md_config_apply_flag(&c, "--set", "server.workers=9", &uses, &err), 1);
    cr_assert_eq(c.server_workers, 9);
    cr_assert_eq(md_config_apply_flag(&c, "--nope", "x", &uses, &err), 0);
    md_config_deinit(&c);
    unsetenv("MDAGENT_SERVER_THREADS");
}

Test(config, unknown_key_names_file_line_and_key)
{
    const char *p = md_test_path("cfg2.yaml");
    md_test_write(p, "listen: 127.0.0.1:1\n\nserver:\n  threads: 2\n  bogus: 1\n");
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, ":5: server.bogus: unknown") != NULL, "%s", err.msg);
    md_config_deinit(&c);
}

Test(config, bad_values_name_the_key_and_bounds)
{
    const char *p = md_test_path("cfg3.yaml");
    md_test_write(p, "server:\n  threads: 999\n");
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, ":2: server.threads: must be 0..64") != NULL, "%s", err.msg);
    md_test_write(p, "insecure_dev: maybe\n");
    cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "insecure_dev") != NULL, "%s", err.msg);
    md_test_write(p, "server:\n  threads: [1, 2]\n");
    cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG);
    md_test_write(p, "listen: [unclosed\n");
    cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG);
    md_test_write(p, "api_keys: secret-in-file\n");
    cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "environment") != NULL, "%s", err.msg);
    setenv("MDAGENT_SERVER_THREADS", "lots", 1);
    cr_assert_eq(md_config_load_env(&c, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "MDAGENT_SERVER_THREADS") != NULL, "%s", err.msg);
    unsetenv("MDAGENT_SERVER_THREADS");
    int uses;
    cr_assert_lt(md_config_apply_flag(&c, "--threads", "-1", &uses, &err), 0);
    cr_assert_lt(md_config_apply_flag(&c, "--listen", NULL, &uses, &err), 0);
    md_config_deinit(&c);
}

Test(config, validate_catches_bad_urls_and_levels)
{
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_set(&c, "db", "mysql://x", "test", &err), 0);
    cr_assert_eq(md_config_validate(&c, &err), MD_ECONFIG);
    cr_assert(strstr(err.msg, "db:") != NULL);
    md_config_set(&c, "db", "sqlite:x.db", "test", &err);
    md_config_set(&c, "log_level", "loud", "test", &err);
    cr_assert_eq(md_config_validate(&c, &err), MD_ECONFIG);
    md_config_set(&c, "log_level", "debug", "test", &err);
    md_config_set(&c, "listen", "nohost", "test", &err);
    cr_assert_eq(md_config_validate(&c, &err), MD_ECONFIG);
    md_config_deinit(&c);
}

Test(config, secrets_from_env_are_split_and_hidden)
{
    setenv("MDAGENT_API_KEYS", " k1-abcdef , k2-ghijkl ", 1);
    md_config c;
    md_config_init(&c);
    cr_assert_eq(md_config_load_env(&c, NULL), 0);
    char **items;
    size_t n = md_config_split_list(c.api_keys, &items);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(items[0], "k1-abcdef");
    cr_assert_str_eq(items[1], "k2-ghijkl");
    md_config_free_list(items, n);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    md_config_print(&c, f);
    fclose(f);
    cr_assert(strstr(out, "k1-abcdef") == NULL, "a secret was printed");
    free(out);
    md_config_deinit(&c);
    unsetenv("MDAGENT_API_KEYS");
}

Test(config, one_redis_section_for_the_url_and_the_client)
{
    const char *p = md_test_path("redis.yaml");
    md_test_write(p, "redis:\n  url: redis://app:Kx7-secret@cache:6380/2\n  timeout_ms: 250\n"
                     "  connect_timeout_ms: 900\n  pool_size: 4\n  breaker_failures: 5\n"
                     "  breaker_cooldown_ms: 700\n");
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_str_eq(c.redis, "redis://app:Kx7-secret@cache:6380/2");
    cr_assert_eq(c.redis_timeout_ms, 250);
    cr_assert_eq(c.redis_connect_timeout_ms, 900);
    cr_assert_eq(c.redis_pool_size, 4);
    cr_assert_eq(c.redis_breaker_failures, 5);
    cr_assert_eq(c.redis_breaker_cooldown_ms, 700);
    cr_assert_eq(md_config_validate(&c, &err), 0, "%s", err.msg);
    /* --print-config shows the URL without its password */
    const char *out = md_test_path("redis-print.yaml");
    FILE *f = fopen(out, "w+");
    md_config_print(&c, f);
    rewind(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    cr_assert_not_null(strstr(buf, "redis.url: \"redis://app:***@cache:6380/2\""));
    cr_assert_null(strstr(buf, "Kx7-secret"));
    /* the keys the cache had for itself are gone (one set for cache, relay and leases) */
    cr_assert_eq(md_config_set(&c, "cache.redis_timeout_ms", "5", "test", &err), MD_ECONFIG);
    cr_assert_eq(md_config_set(&c, "cache.breaker_failures", "5", "test", &err), MD_ECONFIG);
    md_config_deinit(&c);
}

Test(config, validate_reads_the_redis_url_as_the_adapter_does)
{
    const char *bad[] = {"redis://h:6379abc/0", "redis://", "rediss://h", "redis://h/x",
                         "http://h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        md_config c;
        md_config_init(&c);
        md_error err;
        cr_assert_eq(md_config_set(&c, "redis.url", bad[i], "test", &err), 0);
        cr_assert_eq(md_config_validate(&c, &err), MD_ECONFIG, "%s", bad[i]);
        cr_assert(strncmp(err.msg, "redis.url: ", 11) == 0, "%s", err.msg);
        md_config_deinit(&c);
    }
    md_config c;
    md_config_init(&c);
    md_error err;
    int uses;
    cr_assert_eq(md_config_apply_flag(&c, "--redis", "unix:///run/redis.sock?db=1", &uses, &err),
                 1);
    cr_assert_eq(md_config_validate(&c, &err), 0, "%s", err.msg);
    md_config_deinit(&c);
}

Test(config, a_cluster_record_must_outlive_its_heartbeat)
{
    /* a record that expires before the next heartbeat renews it takes a live agent out of
     * GET /cluster for part of every period (and readers drop its id from the set) */
    const char *bad[][2] = {{"2000", "2000"}, {"2000", "1500"}, {"500", "200"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        md_config c;
        md_config_init(&c);
        md_error err;
        cr_assert_eq(md_config_set(&c, "cluster.heartbeat_ms", bad[i][0], "test", &err), 0);
        cr_assert_eq(md_config_set(&c, "cluster.ttl_ms", bad[i][1], "test", &err), 0);
        cr_assert_eq(md_config_validate(&c, &err), MD_ECONFIG, "%s/%s", bad[i][0], bad[i][1]);
        cr_assert(strncmp(err.msg, "cluster.ttl_ms: ", 16) == 0, "%s", err.msg);
        md_config_deinit(&c);
    }
    md_config c;
    md_config_init(&c); /* the defaults: 2000 and 10000 */
    md_error err;
    cr_assert_eq(md_config_validate(&c, &err), 0, "%s", err.msg);
    cr_assert_eq(md_config_set(&c, "cluster.heartbeat_ms", "300", "test", &err), 0);
    cr_assert_eq(md_config_set(&c, "cluster.ttl_ms", "301", "test", &err), 0);
    cr_assert_eq(md_config_validate(&c, &err), 0, "%s", err.msg);
    md_config_deinit(&c);
}

Test(config, pipeline_jobs_are_read_as_a_mapping_or_a_list_with_their_lines)
{
    const char *p = md_test_path("jobs1.yaml");
    md_test_write(p, "listen: 127.0.0.1:1\n"
                     "pipeline:\n"
                     "  max_live_indicators: 50\n"
                     "  jobs:\n"
                     "    oversold:\n"
                     "      schedule: close 1d\n"
                     "      symbols: [AAPL, msft]\n"
                     "      condition: rsi:14 < 30 and close > sma:200\n"
                     "    momentum:\n"
                     "      schedule: every 5m\n"
                     "      interval: 1h\n"
                     "      condition: \"macd:12:26:9.histogram > 0\"\n");
    md_config c;
    md_config_init(&c);
    md_error err;
    cr_assert_eq(md_config_load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_eq(c.pipeline_max_live, 50);
    cr_assert_eq(c.n_pipeline_jobs, 2);
    md_config_job *j = &c.pipeline_jobs[0];
    cr_assert_str_eq(j->name, "oversold");
    cr_assert_eq(j->line, 5);
    cr_assert_str_eq(j->schedule, "close 1d");
    cr_assert_str_eq(j->symbols, "AAPL,msft");
    cr_assert_null(j->interval);
    cr_assert_str_eq(j->condition, "rsi:14 < 30 and close > sma:200");
    cr_assert_eq(j->line_condition, 8);
    j = &c.pipeline_jobs[1];
    cr_assert_str_eq(j->name, "momentum");
    cr_assert_str_eq(j->symbols, "watchlist", "the default set");
    cr_assert_str_eq(j->interval, "1h");
    cr_assert_eq(j->line_condition, 12);

    md_test_write(p, "pipeline:\n  jobs:\n    - name: a\n      schedule: every 30s\n"
                     "      symbols: all\n      condition: close > 1\n");
    cr_assert_eq(md_config_load_file(&c, p, &err), 0, "%s", err.msg);
    cr_assert_eq(c.n_pipeline_jobs, 1, "a file read again replaces the jobs");
    cr_assert_str_eq(c.pipeline_jobs[0].name, "a");
    cr_assert_eq(c.pipeline_jobs[0].line, 3);
    md_config_deinit(&c);
    cr_assert_eq(c.n_pipeline_jobs, 0);
}

Test(config, pipeline_job_errors_name_the_file_line_and_key)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"pipeline:\n  jobs:\n    x:\n      schedule: every 5q\n      condition: close > 1\n",
         ":4: pipeline.jobs.x.schedule: 'every 5q'"},
        {"pipeline:\n  jobs:\n    x:\n      schedule: close 2d\n      condition: close > 1\n",
         ":4: pipeline.jobs.x.schedule:"},
        {"pipeline:\n  jobs:\n    x:\n      schedule: every 1m\n",
         ":3: pipeline.jobs.x: needs a condition"},
        {"pipeline:\n  jobs:\n    x:\n      condition: close > 1\n",
         ":3: pipeline.jobs.x: needs a schedule"},
        {"pipeline:\n  jobs:\n    x:\n      schedule: every 1m\n      interval: 7m\n"
         "      condition: close > 1\n",
         ":5: pipeline.jobs.x.interval:"},
        {"pipeline:\n  jobs:\n    x:\n      schedule: every 1m\n      symbols: [\"A B\"]\n"
         "      condition: close > 1\n",
         ":5: pipeline.jobs.x.symbols:"},
        {"pipeline:\n  jobs:\n    x:\n      schedule: every 1m\n      colour: red\n",
         ":5: pipeline.jobs.x.colour: unknown key"},
        {"pipeline:\n  jobs:\n    bad name:\n      schedule: every 1m\n      condition: close > "
         "1\n",
         ":3: pipeline.jobs.bad name: a job's name"},
        {"pipeline:\n  jobs:\n    x:\n      schedule: every 1m\n      condition: close > 1\n"
         "    x:\n      schedule: every 2m\n      condition: close > 2\n",
         ":6: pipeline.jobs.x: a second job of that name (the first is on line 3)"},
        {"pipeline:\n  jobs: 3\n", ":2: pipeline.jobs: a mapping"},
        {"pipeline:\n  jobs:\n    - schedule: every 1m\n      condition: close > 1\n",
         ":3: pipeline.jobs: a job needs a name"},
    };
    const char *p = md_test_path("jobs2.yaml");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        md_test_write(p, cases[i].yaml);
        md_config c;
        md_config_init(&c);
        md_error err;
        cr_assert_eq(md_config_load_file(&c, p, &err), MD_ECONFIG, "case %zu accepted", i);
        cr_assert(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
        cr_assert_eq(c.n_pipeline_jobs, 0, "nothing kept from a bad section");
        md_config_deinit(&c);
    }
}
