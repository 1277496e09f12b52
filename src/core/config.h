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

typedef struct md_config {
#define MD_CONF_STR char *
#define MD_CONF_SECRET char *
#define MD_CONF_LIST char *
#define MD_CONF_INT int64_t
#define MD_CONF_DBL double
#define MD_CONF_BOOL int
#define MD_CONF(type, field, yaml, env, flag, def, min, max, help) MD_CONF_##type field;
#include "core/config.def"
#undef MD_CONF
    char *config_path; /* the file that was read, NULL when none */
} md_config;

/* Fills cfg with the defaults. Free with md_config_deinit. */
void md_config_init(md_config *cfg);
void md_config_deinit(md_config *cfg);

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

/* Splits a LIST/SECRET value into trimmed items; returns the count. *items is an array of
 * heap strings owned by the caller (md_config_free_list). */
size_t md_config_split_list(const char *value, char ***items);
void md_config_free_list(char **items, size_t n);

#endif
