/* config.c - the key table, YAML/env/flag loaders and printers. */
#include "core/config.h"

#include "core/bar.h"
#include "core/config_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/redisurl.h"
#include "core/render.h"
#include "core/symconf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

typedef enum { T_STR, T_SECRET, T_LIST, T_INT, T_DBL, T_BOOL, T_SOURCES, T_MAP } ctype_t;

typedef struct {
    ctype_t type;
    const char *yaml, *env, *flag, *def;
    double min, max;
    const char *help;
    size_t off;
} row_t;

/* ",yahoo,alphavantage,...": every provider in providers.def order, the default of
 * sources.priority (MD_CONF_PROVIDER_NAMES skips the first comma). */
static const char provider_names[] =
#define MD_PROVIDER(ID, num, name, ...) "," #name
#include "sources/providers.def"
#undef MD_PROVIDER
    ;
#define MD_CONF_PROVIDER_NAMES (provider_names + 1)

static const row_t rows[] = {
#define MD_CONF(type, field, yaml, env, flag, def, min, max, help)                                 \
    {T_##type, yaml, env, flag, def, min, max, help, offsetof(md_config, field)},
#include "core/config.def"
#undef MD_CONF
};
#define NROWS MD_ARRAY_LEN(rows)

static const char *type_name[] = {"string",  "secret",          "list",   "integer", "number",
                                  "boolean", "list of sources", "mapping"};

static int is_str(ctype_t t)
{
    return t == T_STR || t == T_SECRET || t == T_LIST || t == T_SOURCES || t == T_MAP;
}

static const char *row_name(const row_t *r)
{
    return r->yaml ? r->yaml : r->env;
}

/* The sources a SOURCES list may name: every provider and the offline sources. A typo is
 * reported where it was written (file and line, variable or flag), like any bad value. */
static int check_sources(const char *list, const char *origin, const char *name, md_error *err)
{
    char **items;
    size_t n = md_config_split_list(list, &items);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char lower[32];
        snprintf(lower, sizeof lower, "%s", items[i]);
        for (char *c = lower; *c; c++) *c = (char)tolower((unsigned char)*c);
        int id = strlen(items[i]) < sizeof lower ? md_source_parse(lower) : -1;
        int known = id == MD_SRC_REPLAY || id == MD_SRC_SIMULATOR;
        char word[40];
        snprintf(word, sizeof word, ",%s,", md_source_name(id));
        char all[sizeof provider_names + 1];
        snprintf(all, sizeof all, "%s,", provider_names);
        if (id > 0 && strstr(all, word)) known = 1;
        if (!known)
            rc = md_error_set(err, MD_ECONFIG,
                              "%s: %s: unknown source '%s' (known: %s, replay, simulator)", origin,
                              name, items[i], MD_CONF_PROVIDER_NAMES);
    }
    md_config_free_list(items, n);
    return rc;
}

static int set_row(md_config *cfg, const row_t *r, const char *val, const char *origin,
                   md_error *err)
{
    char *base = (char *)cfg + r->off;
    const char *name = row_name(r);
    switch (r->type) {
    case T_MAP: { /* the lines the YAML reader made (config.h); checked by their reader */
        char **slot = (char **)base;
        md_free(*slot);
        *slot = md_strdup(val);
        return 0;
    }
    case T_STR:
    case T_SECRET:
    case T_LIST:
    case T_SOURCES: {
        if (r->type == T_SOURCES) {
            int rc = check_sources(val, origin, name, err);
            if (rc) return rc;
        }
        char **slot = (char **)base;
        /* trim surrounding space */
        while (isspace((unsigned char)*val)) val++;
        size_t n = strlen(val);
        while (n && isspace((unsigned char)val[n - 1])) n--;
        md_free(*slot);
        *slot = md_strndup(val, n);
        if (r->type == T_SECRET) {
            char **items;
            size_t k = md_config_split_list(*slot, &items);
            for (size_t i = 0; i < k; i++) md_log_add_secret(items[i]);
            md_config_free_list(items, k);
        }
        return 0;
    }
    case T_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        while (isspace((unsigned char)*end)) end++;
        if (errno || end == val || *end)
            return md_error_set(err, MD_ECONFIG, "%s: %s: '%.40s' is not an integer", origin, name,
                                val);
        if (v < r->min || v > r->max)
            return md_error_set(err, MD_ECONFIG, "%s: %s: must be %.0f..%.0f (got %lld)", origin,
                                name, r->min, r->max, v);
        *(int64_t *)base = v;
        return 0;
    }
    case T_DBL: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        while (isspace((unsigned char)*end)) end++;
        if (errno || end == val || *end || !isfinite(v))
            return md_error_set(err, MD_ECONFIG, "%s: %s: '%.40s' is not a number", origin, name,
                                val);
        if (v < r->min || v > r->max)
            return md_error_set(err, MD_ECONFIG, "%s: %s: must be %g..%g (got %g)", origin, name,
                                r->min, r->max, v);
        *(double *)base = v;
        return 0;
    }
    case T_BOOL: {
        static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(val, yes[i]) == 0) return *(int *)base = 1, 0;
            if (strcasecmp(val, no[i]) == 0) return *(int *)base = 0, 0;
        }
        return md_error_set(err, MD_ECONFIG, "%s: %s: '%.40s' is not a boolean (true/false)",
                            origin, name, val);
    }
    }
    return md_error_set(err, MD_EINTERNAL, "bad config row");
}

void md_config_init(md_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NROWS; i++) {
        md_error err;
        int rc = set_row(cfg, &rows[i], rows[i].def, "default", &err);
        md_assert(rc == 0, "config.def: bad default: %s", err.msg); /* a bug in the table */
    }
}

void md_config_deinit(md_config *cfg)
{
    for (size_t i = 0; i < NROWS; i++) {
        if (is_str(rows[i].type)) {
            char **slot = (char **)((char *)cfg + rows[i].off);
            md_free(*slot);
            *slot = NULL;
        }
    }
    md_free(cfg->config_path);
    cfg->config_path = NULL;
    md_config__free_jobs(cfg);
}

static md_config defaults;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void init_defaults(void)
{
    md_config_init(&defaults);
}

const md_config *md_config_defaults(void)
{
    pthread_once(&defaults_once, init_defaults);
    return &defaults;
}

static const row_t *find_yaml(const char *key)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].yaml && strcmp(rows[i].yaml, key) == 0) return &rows[i];
    return NULL;
}

static int is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].yaml && strncmp(rows[i].yaml, prefix, n) == 0 && rows[i].yaml[n] == '.')
            return 1;
    return 0;
}

int md_config_set(md_config *cfg, const char *key, const char *value, const char *origin,
                  md_error *err)
{
    const row_t *r = find_yaml(key);
    if (!r) {
        for (size_t i = 0; i < NROWS; i++)
            if (!rows[i].yaml && rows[i].env && strcasecmp(rows[i].env, key) == 0)
                return md_error_set(err, MD_ECONFIG, "%s: %s: may only be set in the environment",
                                    origin, key);
        return md_error_set(err, MD_ECONFIG, "%s: %s: unknown configuration key", origin, key);
    }
    return set_row(cfg, r, value, origin, err);
}

/* -- YAML -------------------------------------------------------------------------------- */

#define MAX_DEPTH 8

static int yaml_fail(md_error *err, const char *path, size_t line, const char *key, const char *msg)
{
    if (key) return md_error_set(err, MD_ECONFIG, "%s:%zu: %s: %s", path, line, key, msg);
    return md_error_set(err, MD_ECONFIG, "%s:%zu: %s", path, line, msg);
}

static void join_key(char *dst, size_t n, char **keys, int depth)
{
    dst[0] = 0;
    for (int i = 0; i < depth; i++) {
        if (!keys[i]) break;
        if (i) strncat(dst, ".", n - strlen(dst) - 1);
        strncat(dst, keys[i], n - strlen(dst) - 1);
    }
}

/* A mapping row (T_MAP, e.g. `symbols:`) being read: every value below it becomes one line
 * "LINE<TAB>key<TAB>...<TAB>value" (the keys under the row's own, a list joined with ','),
 * which the section's own reader checks (config.h). */
typedef struct map_capture {
    const row_t *row;
    int depth;   /* depth inside the row's mapping: keys[depth - 1] is its first key */
    size_t line; /* where the mapping starts, for the origin */
    char *text;
} map_capture;

static void map_append(map_capture *mc, const char *s)
{
    size_t a = strlen(mc->text), b = strlen(s);
    mc->text = md_realloc(mc->text, a + b + 1);
    for (size_t i = 0; i < b; i++) /* the separators never come from the file */
        mc->text[a + i] = s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
    mc->text[a + b] = 0;
}

static void map_line(map_capture *mc, char **keys, int depth, size_t line, const char *value)
{
    char num[24];
    snprintf(num, sizeof num, "%zu", line);
    map_append(mc, num);
    for (int i = mc->depth - 1; i < depth; i++) {
        size_t n = strlen(mc->text);
        mc->text = md_realloc(mc->text, n + 2);
        mc->text[n] = '\t';
        mc->text[n + 1] = 0;
        map_append(mc, keys[i] ? keys[i] : "");
    }
    size_t n = strlen(mc->text);
    mc->text = md_realloc(mc->text, n + 2);
    mc->text[n] = '\t';
    mc->text[n + 1] = 0;
    map_append(mc, value);
    n = strlen(mc->text);
    mc->text = md_realloc(mc->text, n + 2);
    mc->text[n] = '\n';
    mc->text[n + 1] = 0;
}

/* A value at the current key keys[0..depth) (a scalar, or with list a sequence joined with
 * commas): into the mapping being captured, or the config row the key names. The key is done
 * afterwards. */
static int put_value(md_config *cfg, map_capture *mc, char **keys, int depth, const char *path,
                     size_t line, const char *v, int list, md_error *err)
{
    int rc = 0;
    if (mc->row) {
        map_line(mc, keys, depth, line, v);
    } else {
        char full[256], origin[MD_ERROR_MSG_MAX];
        join_key(full, sizeof full, keys, depth);
        snprintf(origin, sizeof origin, "%s:%zu", path, line);
        const row_t *r = find_yaml(full);
        if (!r) {
            int env_only = strcmp(full, "api_keys") == 0;
            for (size_t i = 0; i < NROWS; i++)
                if (!rows[i].yaml && rows[i].env && strcasecmp(rows[i].env, full) == 0)
                    env_only = 1;
            rc = yaml_fail(err, path, line, full,
                           env_only           ? "secrets may only come from the environment"
                           : is_section(full) ? "expects a mapping"
                                              : "unknown configuration key");
        } else if (list && r->type != T_LIST && r->type != T_SOURCES) {
            rc = yaml_fail(err, path, line, full, "expects a single value, not a list");
        } else if (!list && r->type == T_MAP && *v) {
            rc = yaml_fail(err, path, line, full, "expects a mapping");
        } else {
            rc = set_row(cfg, r, v, origin, err);
        }
    }
    md_free(keys[depth - 1]);
    keys[depth - 1] = NULL;
    return rc;
}

int md_config_load_file(md_config *cfg, const char *path, md_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return md_error_set(err, MD_EIO, "cannot read config %s: %s", path, strerror(errno));
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);

    char *keys[MAX_DEPTH] = {0};
    size_t key_line[MAX_DEPTH] = {0};
    int depth = 0, rc = 0, done = 0;
    char *seq = NULL; /* accumulating a sequence value for keys[depth-1] */
    size_t seq_line = 0;
    map_capture mc = {NULL, 0, 0, NULL};
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_fail(err, path, p.problem_mark.line + 1, NULL,
                           p.problem ? p.problem : "YAML syntax error");
            break;
        }
        size_t line = ev.start_mark.line + 1;
        char full[256];
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_MAPPING_START_EVENT:
            if (seq) {
                rc = yaml_fail(err, path, line, NULL, "a list may only hold plain values");
                break;
            }
            if (depth > 0 && !keys[depth - 1]) {
                rc = yaml_fail(err, path, line, NULL, "a mapping cannot be a key");
                break;
            }
            if (depth > 0 && !mc.row) {
                join_key(full, sizeof full, keys, depth);
                const row_t *mr = find_yaml(full);
                if (mr && mr->type == T_MAP && depth < MAX_DEPTH) { /* its lines from here */
                    mc = (map_capture){mr, depth + 1, line, md_strdup("")};
                    keys[depth++] = NULL;
                    break;
                }
                if (!is_section(full)) {
                    rc = yaml_fail(err, path, key_line[depth - 1], full,
                                   find_yaml(full) ? "expects a value, not a mapping"
                                                   : "unknown configuration section");
                    break;
                }
            }
            if (depth == MAX_DEPTH) {
                rc = yaml_fail(err, path, line, NULL, "nesting too deep");
                break;
            }
            keys[depth++] = NULL;
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            md_free(keys[depth]);
            keys[depth] = NULL;
            if (mc.row && depth == mc.depth - 1) { /* the mapping's own end: set it */
                char origin[300];
                snprintf(origin, sizeof origin, "%s:%zu", path, mc.line);
                rc = set_row(cfg, mc.row, mc.text, origin, err);
                md_free(mc.text);
                mc = (map_capture){NULL, 0, 0, NULL};
            }
            if (depth > 0) {
                md_free(keys[depth - 1]);
                keys[depth - 1] = NULL;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 0 || !keys[depth - 1] || seq) {
                rc = yaml_fail(err, path, line, NULL, "unexpected list");
                break;
            }
            seq = md_strdup("");
            seq_line = line;
            break;
        case YAML_SEQUENCE_END_EVENT:
            rc = put_value(cfg, &mc, keys, depth, path, seq_line, seq, 1, err);
            md_free(seq);
            seq = NULL;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (seq) {
                size_t a = strlen(seq), b = strlen(v);
                seq = md_realloc(seq, a + b + 2);
                if (a) seq[a++] = ',';
                memcpy(seq + a, v, b + 1);
                break;
            }
            if (depth == 0) {
                /* an empty document or a bare scalar */
                if (*v) rc = yaml_fail(err, path, line, NULL, "expected a mapping of keys");
                break;
            }
            if (!keys[depth - 1]) {
                keys[depth - 1] = md_strdup(v);
                key_line[depth - 1] = line;
                join_key(full, sizeof full, keys, depth);
                if (strcmp(full, "pipeline.jobs") == 0) { /* a structured value: its own reader */
                    rc = md_config__parse_jobs(&p, path, cfg, err);
                    md_free(keys[depth - 1]);
                    keys[depth - 1] = NULL;
                }
                break;
            }
            rc = put_value(cfg, &mc, keys, depth, path, line, v, 0, err);
            break;
        }
        case YAML_ALIAS_EVENT:
            rc = yaml_fail(err, path, line, NULL, "YAML aliases are not supported");
            break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    for (int i = 0; i < MAX_DEPTH; i++) md_free(keys[i]);
    md_free(seq);
    md_free(mc.text);
    yaml_parser_delete(&p);
    fclose(f);
    if (rc == 0) {
        md_free(cfg->config_path);
        cfg->config_path = md_strdup(path);
    }
    return rc;
}

/* -- environment and flags ---------------------------------------------------------------- */

int md_config_load_env(md_config *cfg, md_error *err)
{
    for (size_t i = 0; i < NROWS; i++) {
        if (!rows[i].env) continue;
        const char *v = getenv(rows[i].env);
        if (!v) continue;
        char origin[96];
        snprintf(origin, sizeof origin, "environment %s", rows[i].env);
        int rc = set_row(cfg, &rows[i], v, origin, err);
        if (rc) return rc;
    }
    static const char *other[] = {"MDAGENT_CONFIG"};
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "MDAGENT_", 8) != 0) continue;
        size_t n = strcspn(*e, "=");
        int known = 0;
        for (size_t i = 0; i < NROWS && !known; i++)
            if (rows[i].env && strlen(rows[i].env) == n && strncmp(rows[i].env, *e, n) == 0)
                known = 1;
        for (size_t i = 0; i < MD_ARRAY_LEN(other) && !known; i++)
            if (strlen(other[i]) == n && strncmp(other[i], *e, n) == 0) known = 1;
        if (!known) MD_WARN("config", "unknown environment variable %.*s ignored", (int)n, *e);
    }
    return 0;
}

int md_config_apply_flag(md_config *cfg, const char *flag, const char *value, int *uses_value,
                         md_error *err)
{
    *uses_value = 0;
    for (size_t i = 0; i < NROWS; i++) {
        if (!rows[i].flag || strcmp(rows[i].flag, flag) != 0) continue;
        char origin[96];
        snprintf(origin, sizeof origin, "flag %s", flag);
        if (rows[i].type == T_BOOL) {
            int rc = set_row(cfg, &rows[i], "true", origin, err);
            return rc ? rc : 1;
        }
        if (!value) return md_error_set(err, MD_ECONFIG, "%s needs a value", flag);
        *uses_value = 1;
        int rc = set_row(cfg, &rows[i], value, origin, err);
        return rc ? rc : 1;
    }
    if (strcmp(flag, "--set") == 0) {
        if (!value) return md_error_set(err, MD_ECONFIG, "--set needs KEY=VALUE");
        *uses_value = 1;
        const char *eq = strchr(value, '=');
        if (!eq) return md_error_set(err, MD_ECONFIG, "--set needs KEY=VALUE, got '%.60s'", value);
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - value), value);
        int rc = md_config_set(cfg, key, eq + 1, "flag --set", err);
        return rc ? rc : 1;
    }
    return 0;
}

int md_config_validate(const md_config *cfg, md_error *err)
{
    md_log_level lvl;
    if (md_log_parse_level(cfg->log_level, &lvl) != 0)
        return md_error_set(err, MD_ECONFIG, "log_level: '%.20s' is not debug|info|warn|error|off",
                            cfg->log_level);
    const char *colon = strrchr(cfg->listen, ':');
    if (!colon || !colon[1])
        return md_error_set(err, MD_ECONFIG, "listen: '%.60s' is not HOST:PORT", cfg->listen);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return md_error_set(err, MD_ECONFIG, "listen: port '%.10s' is not 0..65535", colon + 1);
    if (strncmp(cfg->db, "sqlite:", 7) != 0 && strncmp(cfg->db, "postgresql://", 13) != 0 &&
        strncmp(cfg->db, "postgres://", 11) != 0)
        return md_error_set(err, MD_ECONFIG, "db: '%.60s' is not sqlite:PATH or postgresql://...",
                            cfg->db);
    if (strcmp(cfg->sqlite_synchronous, "normal") != 0 &&
        strcmp(cfg->sqlite_synchronous, "full") != 0)
        return md_error_set(err, MD_ECONFIG,
                            "store.sqlite_synchronous: '%.20s' is not normal or full",
                            cfg->sqlite_synchronous);
    md_redis_url ru;
    if (cfg->redis[0]) {
        if (md_redis_url_parse(cfg->redis, &ru, err) != 0) {
            md_error_prefix(err, "redis.url");
            return MD_ECONFIG;
        }
        if (ru.password[0]) md_log_add_secret(ru.password); /* masked from here on */
    }
    md_symconf sc; /* the `symbols:` section: its one reader says what is wrong */
    if (md_symconf_parse(cfg, &sc, err) != 0) return MD_ECONFIG;
    md_symconf_deinit(&sc);
    double t[MD_GRADE_STEPS];
    if (md_grade_parse_thresholds(cfg->q_grades, t, err) != 0) {
        md_error_prefix(err, "quality.grades");
        return MD_ECONFIG;
    }
    if (cfg->q_weight_completeness + cfg->q_weight_accuracy + cfg->q_weight_timeliness +
            cfg->q_weight_consistency + cfg->q_weight_validity + cfg->q_weight_uniqueness <=
        0)
        return md_error_set(err, MD_ECONFIG, "quality.weight_*: at least one weight must be > 0");
    if (cfg->cluster_ttl_ms <= cfg->cluster_heartbeat_ms) /* the record would lapse between beats */
        return md_error_set(err, MD_ECONFIG,
                            "cluster.ttl_ms: %lld must be longer than cluster.heartbeat_ms (%lld), "
                            "or a live agent drops out of GET /cluster between heartbeats",
                            (long long)cfg->cluster_ttl_ms, (long long)cfg->cluster_heartbeat_ms);
    return 0;
}

int md_config_load(md_config *cfg, const char *config_path, md_error *err)
{
    md_config_init(cfg);
    const char *path = config_path;
    if (!path) path = getenv("MDAGENT_CONFIG");
    if (!path && access("mdagent.yaml", R_OK) == 0) path = "mdagent.yaml";
    int rc = 0;
    if (path) rc = md_config_load_file(cfg, path, err);
    if (rc == 0) rc = md_config_load_env(cfg, err);
    return rc;
}

/* -- printing ------------------------------------------------------------------------------ */

/* A mapping row's lines as a YAML flow mapping: {"BRK.B": {"yahoo": "BRK-B"}}. */
static void print_map(const char *text, FILE *f)
{
    char first[128] = "";
    int open = 0;
    fputc('{', f);
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p = eol ? eol + 1 : p + len;
        char *k1 = strchr(line, '\t');
        if (!k1) continue;
        *k1++ = 0;
        char *rest = strchr(k1, '\t');
        if (!rest) continue;
        *rest++ = 0;
        char *val = strrchr(rest, '\t');
        if (val) {
            *val++ = 0;
            for (char *t = rest; *t; t++)
                if (*t == '\t') *t = '.';
        }
        if (!open || strcmp(first, k1) != 0) {
            fprintf(f, "%s\"%s\": {", open ? "}, " : "", k1);
            snprintf(first, sizeof first, "%s", k1);
            open = 1;
        } else {
            fputs(", ", f);
        }
        if (val)
            fprintf(f, "\"%s\": \"%s\"", rest, val);
        else
            fprintf(f, "\"\": \"%s\"", rest);
    }
    fputs(open ? "}}" : "}", f);
}

static void print_value(const row_t *r, const md_config *cfg, FILE *f)
{
    const char *base = (const char *)cfg + r->off;
    switch (r->type) {
    case T_STR:
    case T_LIST:
    case T_SOURCES: { /* a URL's password (redis.url, db) is never printed */
        char safe[1024];
        md_log_redact(*(char *const *)base, safe, sizeof safe);
        fprintf(f, "\"%s\"", safe);
        break;
    }
    case T_SECRET: fprintf(f, "\"%s\"", (*(char *const *)base)[0] ? "***" : ""); break;
    case T_MAP: print_map(*(char *const *)base, f); break;
    case T_INT: fprintf(f, "%lld", (long long)*(const int64_t *)base); break;
    case T_DBL: fprintf(f, "%g", *(const double *)base); break;
    case T_BOOL: fprintf(f, "%s", *(const int *)base ? "true" : "false"); break;
    }
}

void md_config_print(const md_config *cfg, FILE *f)
{
    if (cfg->config_path)
        fprintf(f, "# effective configuration (file: %s)\n", cfg->config_path);
    else
        fprintf(f, "# effective configuration\n");
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &rows[i];
        fprintf(f, "%s: ", r->yaml ? r->yaml : r->env);
        print_value(r, cfg, f);
        fprintf(f, "    # %s%s\n", r->help, r->yaml ? "" : " [env only]");
    }
    md_config__print_jobs(cfg, f);
}

void md_config_print_flags(FILE *f)
{
    static const char *placeholder[] = {"VALUE", "VALUE", "LIST", "N", "X", "", "LIST", "MAP"};
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &rows[i];
        if (!r->flag) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", r->flag, r->type == T_BOOL ? "" : " ",
                 placeholder[r->type]);
        if (strlen(left) > 24)
            fprintf(f, "  %s\n  %-24s %s (%s)\n", left, "", r->help, row_name(r));
        else
            fprintf(f, "  %-24s %s (%s)\n", left, r->help, row_name(r));
    }
}

void md_config_print_table(FILE *f)
{
    fprintf(f,
            "| key | environment | flag | type | default | meaning |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &rows[i];
        fprintf(f, "| `%s` | %s%s%s | %s%s%s | %s | `%s` | %s", r->yaml ? r->yaml : "-",
                r->env ? "`" : "", r->env ? r->env : "-", r->env ? "`" : "", r->flag ? "`" : "",
                r->flag ? r->flag : "-", r->flag ? "`" : "", type_name[r->type], r->def, r->help);
        /* integer bounds exactly (1073741824, not 1.07374e+09), as the error messages say them */
        if (r->type == T_INT) fprintf(f, " (%.0f..%.0f)", r->min, r->max);
        if (r->type == T_DBL) fprintf(f, " (%g..%g)", r->min, r->max);
        fprintf(f, " |\n");
    }
}

size_t md_config_split_list(const char *value, char ***items)
{
    size_t n = 0, cap = 0;
    char **v = NULL;
    const char *p = value ? value : "";
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (b > a) {
            if (n == cap) v = md_realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
            v[n++] = md_strndup(a, (size_t)(b - a));
        }
        p = *e ? e + 1 : e;
    }
    *items = v;
    return n;
}

void md_config_free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) md_free(items[i]);
    md_free(items);
}
