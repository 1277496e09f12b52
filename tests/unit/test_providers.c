/* The tables generated from sources/providers.def agree with it and with each other: each
 * row is a registry source that can be created, whose number and name round-trip
 * (core/bar.h), whose configuration keys exist with the row's defaults (core/config.def)
 * under the names users already have, whose budgets reach the source manager, and whose
 * client fetches exactly the intervals the row lists; README's provider tables say the
 * same. The rows are expanded here again, independently of registry.c. */
#include "core/bar.h"
#include "core/config.h"
#include "core/mem.h"
#include "sources/manager.h"
#include "sources/registry.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    int enum_id, num;
    const char *name, *display, *url_key, *url_env, *url_def, *key_env;
    int limits[10]; /* per minute, per day: all, quote, intraday, daily, reference */
    int per_second;
    const char *zone, *basis;
    unsigned intervals, assets;
} row;

static const row rows[] = {
#define MD_PROVIDER(ID, number, nm, disp, ukey, uenv, udef, keykind, kenv, sec, a, b, c, d, e, f,  \
                    g, h, i, j, tz, why, ivs, as, ctor)                                            \
    {.enum_id = MD_SRC_##ID,                                                                       \
     .num = number,                                                                                \
     .name = #nm,                                                                                  \
     .display = disp,                                                                              \
     .url_key = ukey,                                                                              \
     .url_env = uenv,                                                                              \
     .url_def = udef,                                                                              \
     .key_env = kenv,                                                                              \
     .limits = {a, b, c, d, e, f, g, h, i, j},                                                     \
     .per_second = sec,                                                                            \
     .zone = tz,                                                                                   \
     .basis = why,                                                                                 \
     .intervals = ivs,                                                                             \
     .assets = as},
#include "sources/providers.def"
#undef MD_PROVIDER
};
#define NROWS MD_ARRAY_LEN(rows)

/* The budget keys of a row, in the order of row.limits. */
static void budget_key(const char *name, int k, char *dst, size_t n)
{
    static const char *cls[] = {"", ".quote", ".intraday", ".daily", ".reference"};
    snprintf(dst, n, "sources.%s%s.%s", name, cls[k / 2], k % 2 ? "per_day" : "per_minute");
}

static int limit_of(const md_srcmgr_info *in, int k)
{
    const md_rate_limit *r = k < 2 ? NULL : &in->cls[k / 2 - 1];
    if (!r) return k % 2 ? in->per_day : in->per_minute;
    return k % 2 ? r->per_day : r->per_minute;
}

Test(providers, every_row_is_a_registry_source_in_table_order)
{
    cr_assert_gt(NROWS, 0);
    cr_assert_eq(md_source_count(), NROWS + 2, "the providers, then replay and simulator");
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &rows[i];
        const md_source_info *info = md_source_info_at(i);
        cr_assert_str_eq(info->name, r->name, "registry order is providers.def order");
        cr_expect_eq(md_source_find(r->name), info);
        cr_expect_eq(md_source_find_id(r->num), info);
        cr_expect_eq((int)info->id, r->num);
        cr_expect_eq(r->enum_id, r->num);
        cr_expect_str_eq(info->display, r->display);
        cr_expect_eq(info->offline, 0);
        cr_expect_eq(info->intervals, r->intervals);
        cr_expect_eq(info->assets, r->assets);
        cr_expect_neq(r->assets, 0u, "%s documents no asset class", r->name);
        if (r->key_env)
            cr_expect_str_eq(info->key_env, r->key_env);
        else
            cr_expect_null(info->key_env);
        /* the number and the name round-trip through core/bar.h */
        cr_expect_str_eq(md_source_name(r->num), r->name);
        cr_expect_eq(md_source_parse(r->name), r->num);
        for (size_t j = 0; j < i; j++) cr_expect_neq(rows[j].num, r->num, "numbers are unique");
    }
    cr_expect_str_eq(md_source_info_at(NROWS)->name, "replay");
    cr_expect_str_eq(md_source_info_at(NROWS + 1)->name, "simulator");
    cr_expect_null(md_source_find_id(MD_SRC_CSV), "csv is an origin, not a source");
    /* every number below MD_SRC_COUNT has a name of its own */
    for (int id = 1; id < MD_SRC_COUNT; id++)
        cr_expect_neq(strcmp(md_source_name(id), "unknown"), 0, "number %d has no name", id);
    cr_expect_str_eq(md_source_name(MD_SRC_COUNT), "unknown");
}

Test(providers, keys_keep_the_names_users_have_and_the_rows_defaults)
{
    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    char want_priority[256] = "";
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &rows[i];
        char key[96], env[96];
        snprintf(key, sizeof key, "sources.%s.url", r->name);
        snprintf(env, sizeof env, "MDAGENT_%s_URL", r->name);
        for (char *p = env; *p; p++) *p = (char)toupper((unsigned char)*p);
        cr_expect_str_eq(r->url_key, key);
        cr_expect_str_eq(r->url_env, env);
        cr_expect_eq(strncmp(r->url_def, "https://", 8), 0, "%s", r->url_def);
        /* the default URL is what a created source uses */
        md_source *s = NULL;
        cr_assert_eq(md_source_create(r->name, &cfg, &s, &err), 0, "%s", err.msg);
        cr_expect_str_eq(s->base_url, r->url_def);
        cr_expect_str_eq(md_source_name_of(s), r->name);
        cr_expect_eq((int)s->vt->id, r->num);
        cr_expect_eq(md_source_configured(s), r->key_env == NULL);
        md_source_free(s);
        /* each budget key exists and defaults to the row's number */
        md_config probe;
        md_config_init(&probe);
        for (int k = 0; k < 10; k++) {
            budget_key(r->name, k, key, sizeof key);
            cr_expect_eq(md_config_set(&probe, key, "x", "test", &err), MD_ECONFIG);
            cr_expect(strstr(err.msg, "not an integer") != NULL, "%s: %s", key, err.msg);
        }
        /* the per-second budget and the zone of its day, with the row's defaults */
        snprintf(key, sizeof key, "sources.%s.per_second", r->name);
        cr_expect_eq(md_config_set(&probe, key, "x", "test", &err), MD_ECONFIG, "%s", key);
        const md_source_info *info = md_source_find(r->name);
        cr_expect_eq(*(const int64_t *)((const char *)&cfg + info->sec_off), r->per_second);
        cr_expect_str_eq(*(char *const *)((const char *)&cfg + info->zone_off), r->zone);
        md_config_deinit(&probe);
        if (i) strcat(want_priority, ",");
        strcat(want_priority, r->name);
    }
    cr_expect_str_eq(cfg.sources_priority, want_priority, "failover order is the table order");

    /* the table printed for README and --print-config lists every key of every row */
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    md_config_print_table(f);
    fclose(f);
    for (size_t i = 0; i < NROWS; i++) {
        char key[96];
        snprintf(key, sizeof key, "| `%s` | `%s` |", rows[i].url_key, rows[i].url_env);
        cr_expect(strstr(out, key) != NULL, "no row for %s", key);
        if (rows[i].key_env) {
            snprintf(key, sizeof key, "| `-` | `%s` | - | secret |", rows[i].key_env);
            cr_expect(strstr(out, key) != NULL, "no row for %s", key);
        }
        for (int k = 0; k < 10; k++) {
            char want[160];
            budget_key(rows[i].name, k, key, sizeof key);
            snprintf(want, sizeof want, "| `%s` | - | - | integer | `%d` |", key,
                     rows[i].limits[k]);
            cr_expect(strstr(out, want) != NULL, "no row %s", want);
        }
    }
    free(out);
    md_config_deinit(&cfg);
}

Test(providers, urls_and_keys_come_from_their_environment_variables)
{
    for (size_t i = 0; i < NROWS; i++) {
        char url[64], secret[64];
        snprintf(url, sizeof url, "http://127.0.0.1:9/%s/", rows[i].name);
        setenv(rows[i].url_env, url, 1);
        snprintf(secret, sizeof secret, "key-of-%s-0123456789", rows[i].name);
        if (rows[i].key_env) setenv(rows[i].key_env, secret, 1);
    }
    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    cr_assert_eq(md_config_load_env(&cfg, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < NROWS; i++) {
        md_source *s = NULL;
        cr_assert_eq(md_source_create(rows[i].name, &cfg, &s, &err), 0, "%s", err.msg);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:9/%s", rows[i].name);
        cr_expect_str_eq(s->base_url, url);
        cr_expect_eq(md_source_configured(s), 1, "%s", rows[i].name);
        if (rows[i].key_env) cr_expect(strstr(s->api_key, rows[i].name) != NULL);
        md_source_free(s);
        unsetenv(rows[i].url_env);
        if (rows[i].key_env) unsetenv(rows[i].key_env);
    }
    md_config_deinit(&cfg);
}

Test(providers, budgets_reach_the_manager_by_default_and_when_set)
{
    for (int set = 0; set < 2; set++) {
        md_config cfg;
        md_config_init(&cfg);
        md_error err;
        for (size_t i = 0; set && i < NROWS; i++) {
            for (int k = 0; k < 10; k++) {
                char key[96], val[16];
                budget_key(rows[i].name, k, key, sizeof key);
                snprintf(val, sizeof val, "%d", (int)(100 * (i + 1) + k));
                cr_assert_eq(md_config_set(&cfg, key, val, "test", &err), 0, "%s", err.msg);
            }
        }
        md_srcmgr *m = NULL;
        cr_assert_eq(md_srcmgr_from_config(&cfg, md_source_create, &m, &err), 0, "%s", err.msg);
        cr_assert_eq(md_srcmgr_count(m), md_source_count(), "every registry source is listed");
        for (size_t n = 0; n < md_srcmgr_count(m); n++) {
            md_srcmgr_info in;
            cr_assert_eq(md_srcmgr_info_at(m, n, &in), 0);
            const row *r = NULL;
            for (size_t i = 0; i < NROWS; i++)
                if (strcmp(rows[i].name, in.name) == 0) r = &rows[i];
            if (!r) {
                cr_expect_eq(in.per_minute, 0, "%s: offline, no budget", in.name);
                continue;
            }
            for (int k = 0; k < 10; k++) {
                int want = set ? (int)(100 * (size_t)(r - rows + 1) + k) : r->limits[k];
                cr_expect_eq(limit_of(&in, k), want, "%s budget %d", in.name, k);
            }
            cr_expect_eq(in.per_second, r->per_second, "%s per second", in.name);
        }
        md_srcmgr_free(m);
        md_config_deinit(&cfg);
    }
}

Test(providers, unknown_names_are_answered_with_the_generated_list)
{
    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    md_source *s = NULL;
    cr_assert_eq(md_source_create("bloomberg", &cfg, &s, &err), MD_EINVAL);
    char known[256];
    md_source_list_names(known, sizeof known);
    cr_expect(strstr(err.msg, known) != NULL, "%s", err.msg);
    cr_assert_eq(md_config_set(&cfg, "sources.priority", "yahoo,bloomberg", "test", &err), 0);
    md_srcmgr *m = NULL;
    cr_assert_eq(md_srcmgr_from_config(&cfg, md_source_create, &m, &err), MD_ECONFIG);
    cr_expect(strstr(err.msg, "'bloomberg'") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, known) != NULL, "%s", err.msg);
    for (size_t i = 0; i < md_source_count(); i++)
        cr_expect(strstr(known, md_source_info_at(i)->name) != NULL);
    md_config_deinit(&cfg);
}

/* The manager asks a provider only for the intervals of its row (`supports`); the client
 * must then know how to spell each of them, and refuse the others itself. Asked against a
 * closed port, a spelled interval fails in the network, an unknown one before it. */
Test(providers, each_client_fetches_exactly_the_intervals_of_its_row)
{
    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    cr_assert_eq(md_config_set(&cfg, "sources.timeout_ms", "2000", "test", &err), 0);
    for (size_t i = 0; i < NROWS; i++) {
        char key[96];
        snprintf(key, sizeof key, "sources.%s.url", rows[i].name);
        cr_assert_eq(md_config_set(&cfg, key, "http://127.0.0.1:9", "test", &err), 0);
        if (rows[i].key_env) {
            const md_source_info *info = md_source_find(rows[i].name);
            char **slot = (char **)((char *)&cfg + info->key_off);
            md_free(*slot);
            *slot = md_strdup("test-key-for-intervals");
        }
    }
    for (size_t i = 0; i < NROWS; i++) {
        md_source *s = NULL;
        cr_assert_eq(md_source_create(rows[i].name, &cfg, &s, &err), 0, "%s", err.msg);
        for (int iv = 0; iv < MD_IV_COUNT; iv++) {
            int listed = (rows[i].intervals >> iv) & 1;
            cr_expect_eq(s->vt->supports(s, (md_interval)iv), listed, "%s %s", rows[i].name,
                         md_interval_name((md_interval)iv));
            md_bar_vec bv;
            md_bar_vec_init(&bv);
            md_fetch_meta meta = {.retry_after_s = -1};
            md_error_clear(&err);
            int64_t end = 1709251200; /* 2024-03-01 */
            int rc =
                s->vt->bars(s, "AAPL", (md_interval)iv, end - 86400 * 3, end, &bv, &meta, &err);
            if (listed)
                cr_expect(rc < 0 && rc != MD_EINTERVAL, "%s %s: %d %s", rows[i].name,
                          md_interval_name((md_interval)iv), rc, err.msg);
            else
                cr_expect_eq(rc, MD_EINTERVAL, "%s %s: %d %s", rows[i].name,
                             md_interval_name((md_interval)iv), rc, err.msg);
            md_bar_vec_deinit(&bv);
        }
        md_source_free(s);
    }
    md_config_deinit(&cfg);
}

/* The line of README.md that starts with `start`, as a heap string (NULL when none). */
static char *readme_line(const char *text, const char *start)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, start, strlen(start)) != 0) continue;
        const char *e = strchr(p, '\n');
        return md_strndup(p, e ? (size_t)(e - p) : strlen(p));
    }
    return NULL;
}

Test(providers, readme_provider_tables_match_the_rows)
{
    FILE *f = fopen(md_test_src("README.md"), "rb");
    cr_assert_not_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &rows[i];
        /* | `name` | key | quote from | intervals | asset classes | history | */
        char start[64], want[512];
        snprintf(start, sizeof start, "| `%s` | ", r->name);
        char *line = readme_line(text, start);
        cr_assert_not_null(line, "README has no provider row for %s", r->name);
        snprintf(want, sizeof want, "| `%s` | %s%s%s | ", r->name, r->key_env ? "`" : "",
                 r->key_env ? r->key_env : "none", r->key_env ? "`" : "");
        cr_expect_eq(strncmp(line, want, strlen(want)), 0, "%s\nwant %s", line, want);
        char ivs[64] = "", as[64] = "";
        for (int iv = 0; iv < MD_IV_COUNT; iv++) {
            if (!((r->intervals >> iv) & 1)) continue;
            if (*ivs) strcat(ivs, " ");
            strcat(ivs, md_interval_name((md_interval)iv));
        }
        for (int b = 0; md_asset_class_name(b); b++) {
            if (!((r->assets >> b) & 1)) continue;
            if (*as) strcat(as, ", ");
            strcat(as, md_asset_class_name(b));
        }
        snprintf(want, sizeof want, " | %s | %s | ", ivs, as);
        cr_expect(strstr(line, want) != NULL, "%s\nwant intervals and assets '%s'", line, want);
        md_free(line);

        /* | name | per second | per minute | per day | day starts | basis | */
        snprintf(start, sizeof start, "| %s | ", r->name);
        line = readme_line(text, start);
        cr_assert_not_null(line, "README has no rate-limit row for %s", r->name);
        char day[16] = "-", sec[16] = "-";
        if (r->limits[1]) snprintf(day, sizeof day, "%d", r->limits[1]);
        if (r->per_second) snprintf(sec, sizeof sec, "%d", r->per_second);
        snprintf(want, sizeof want, "| %s | %s | %d | %s | %s | %s |", r->name, sec, r->limits[0],
                 day, r->zone, r->basis);
        cr_expect_str_eq(line, want);
        md_free(line);
    }
}
