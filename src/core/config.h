/* config.h - the agent's configuration: one table of keys (config.def), one struct.
 *
 * Values are applied in the order: defaults, mdagent.yaml (--config FILE, MDAGENT_CONFIG,
 * or ./mdagent.yaml when present), MDAGENT_* environment, command-line flags. An unknown
 * key or a bad value is an error naming the key and where it came from:
 *   mdagent.yaml:12: price.max_age_s: must be 0..31536000
 * The struct is read-only once loaded; pass it down by const pointer. */
#ifndef MD_CORE_CONFIG_H
#define MD_CORE_CONFIG_H

#include "core/error.h"

#include <stdint.h>
#include <stdio.h>

/* One job of the `pipeline.jobs` section (docs/pipeline.md): a screen run on a schedule.
 * core checks the shape and the words (name, schedule, interval, symbols); the condition is
 * checked by pipeline/ when the agent starts, with the same "path:line: key:" prefix. */
typedef struct md_config_job {
    char *name;      /* letters, digits, '_' and '-', at most 48 */
    char *schedule;  /* "every <N>s|m|h" or "close <interval>" */
    char *symbols;   /* "watchlist", "all", or a comma-separated list */
    char *interval;  /* of the bars the condition reads; NULL: the schedule's, else 1d */
    char *condition; /* analytics/expr.h */
    char *path;      /* the file and the lines each part came from, for error messages */
    int line, line_schedule, line_symbols, line_interval, line_condition;
} md_config_job;

typedef struct md_config {
#define MD_CONF_STR char *
#define MD_CONF_SECRET char *
#define MD_CONF_LIST char *
#define MD_CONF_MAP char * /* a YAML mapping, kept as lines for its own reader (core/symconf.h) */
#define MD_CONF_INT int64_t
#define MD_CONF_DBL double
#define MD_CONF_BOOL int
#define MD_CONF(type, field, yaml, env, flag, def, min, max, help) MD_CONF_##type field;
#include "core/config.def"
#undef MD_CONF
    char *config_path;            /* the file that was read, NULL when none */
    md_config_job *pipeline_jobs; /* the pipeline.jobs section, in file order */
    size_t n_pipeline_jobs;
} md_config;

/* Fills cfg with the defaults. Free with md_config_deinit. */
void md_config_init(md_config *cfg);
void md_config_deinit(md_config *cfg);
/* The defaults of config.def, filled once (thread-safe) and never freed: where a module's
 * md_<x>_options_default() takes its numbers, so that each default is written only in
 * config.def. */
const md_config *md_config_defaults(void);

/* Reads a YAML file into cfg. MD_ECONFIG with "path:line: key: reason" on error;
 * MD_EIO when the file cannot be read. */
int md_config_load_file(md_config *cfg, const char *path, md_error *err);
/* Applies every MDAGENT_* (and provider key) variable present in the environment.
 * Unknown MDAGENT_* variables are logged as warnings. */
int md_config_load_env(md_config *cfg, md_error *err);
/* Applies one command-line flag. Returns 1 when flag is a config flag (value consumed),
 * 0 when it is not one, or a negative error for a bad value. For BOOL flags value may be
 * NULL (meaning true); *uses_value tells the caller whether value was consumed. */
int md_config_apply_flag(md_config *cfg, const char *flag, const char *value, int *uses_value,
                         md_error *err);
/* Sets a key by its YAML name ("server.threads") from text (used by --set k=v). */
int md_config_set(md_config *cfg, const char *key, const char *value, const char *origin,
                  md_error *err);
/* Checks cross-key rules after everything is applied (log level name, listen address, the
 * Redis URL, whose password it registers with the log's redaction). */
int md_config_validate(const md_config *cfg, md_error *err);

/* Convenience for every subcommand: defaults, then the file named by config_path (or
 * MDAGENT_CONFIG or ./mdagent.yaml when config_path is NULL), then the environment. */
int md_config_load(md_config *cfg, const char *config_path, md_error *err);

/* Writes the effective configuration as YAML (secrets shown as "***"). */
void md_config_print(const md_config *cfg, FILE *f);
/* Writes the key table as a Markdown table (README). */
void md_config_print_table(FILE *f);

/* Parses a job's schedule: "every 30s", "every 5m", "every 1h" (*every_s > 0) or
 * "close 1d" (at each close of a bar of that interval: *every_s = 0, *iv set). MD_ECONFIG
 * saying what is wrong (no prefix). */
int md_config_job_schedule(const char *text, int64_t *every_s, int *iv, md_error *err);

/* Splits a LIST/SECRET value into trimmed items; returns the count. *items is an array of
 * heap strings owned by the caller (md_config_free_list). */
size_t md_config_split_list(const char *value, char ***items);
void md_config_free_list(char **items, size_t n);

#endif
