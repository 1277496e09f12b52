/* cli.h - `mdagent` subcommands and the argument parsing they share.
 *
 * Every subcommand takes --config, --db, --redis (and any config flag, or --set KEY=VALUE)
 * where they apply. Exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef MD_CLI_CLI_H
#define MD_CLI_CLI_H

#include "core/config.h"
#include "query/services.h"

#define MD_EXIT_OK 0
#define MD_EXIT_FAIL 1
#define MD_EXIT_USAGE 2

/* A subcommand's own option: "--symbol" taking a value (has_value) or a switch. */
typedef struct md_cli_opt {
    const char *name;
    int has_value;
    const char **value; /* where the value (or "1" for a switch) goes */
} md_cli_opt;

/* Parses argv[1..] (argv[0] is the subcommand): command options, then config flags
 * (applied onto cfg, which must already hold defaults + file + environment), positional
 * arguments collected into pos (at most max_pos). --config is pre-scanned by
 * md_cli_load_config. Returns the number of positionals, or -1 after printing a usage
 * error to stderr. */
int md_cli_parse(int argc, char **argv, const md_cli_opt *opts, md_config *cfg, const char **pos,
                 int max_pos);

/* Loads defaults, the --config file (or MDAGENT_CONFIG / ./mdagent.yaml) and the
 * environment. Prints the error and returns -1 on failure. */
int md_cli_load_config(int argc, char **argv, md_config *cfg);

/* Applies log_level from cfg and validates it; prints and returns -1 on error. */
int md_cli_finish_config(md_config *cfg);

int md_cmd_serve(int argc, char **argv);
int md_cmd_fetch(int argc, char **argv);
int md_cmd_load(int argc, char **argv);
int md_cmd_query(int argc, char **argv);
int md_cmd_migrate(int argc, char **argv);

#endif
