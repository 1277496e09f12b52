/* cli.h - `mdagent` subcommands and the argument parsing they share.
 *
 * Every subcommand takes --config, --db, --redis (and any config flag, or --set KEY=VALUE)
 * where they apply. Exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef MD_CLI_CLI_H
#define MD_CLI_CLI_H

#include "core/config.h"
#include "query/services.h"

#include <stdio.h>

#define MD_EXIT_OK 0
#define MD_EXIT_FAIL 1
#define MD_EXIT_USAGE 2

/* A subcommand's own option: "--symbol S" taking a value (arg names it) or a switch
 * (arg NULL). Each command keeps its options in one table ending with {NULL}; the parser
 * reads it and `mdagent help` / `mdagent COMMAND --help` print it, so every flag a command
 * takes is in its help. */
typedef struct md_cli_opt {
    const char *name; /* "--symbol" */
    const char *arg;  /* placeholder of the value ("S"), NULL for a switch */
    const char *help;
} md_cli_opt;

/* A subcommand: its name, its positional arguments, one line saying what it does, its own
 * options (NULL-terminated table) and its function (argv[0] is the command name). */
typedef struct md_cli_cmd {
    const char *name;
    const char *args;    /* "FILE|DIR...", "" when none */
    const char *summary; /* one line */
    const md_cli_opt *opts;
    int (*fn)(int argc, char **argv);
} md_cli_cmd;

/* The subcommand table (main.c). */
extern const md_cli_cmd md_cli_commands[];
extern const size_t md_cli_n_commands;

/* Prints options as "  --name ARG   help" lines; the flags every command takes. */
void md_cli_print_opts(const md_cli_opt *opts, FILE *f);
void md_cli_print_common(FILE *f);
/* Prints the help of one command: usage line, summary, each of its options, then the flags
 * every command takes (--config, --set, --create and the config table's flags). */
void md_cli_print_help(const md_cli_cmd *c, FILE *f);

/* Parses argv[1..] (argv[0] is the subcommand): command options (their values go to
 * vals[i] for opts[i]: the value, "1" for a switch, NULL when absent), then config flags
 * (applied onto cfg, which must already hold defaults + file + environment), positional
 * arguments collected into pos (at most max_pos). --config is pre-scanned by
 * md_cli_load_config. Returns the number of positionals, or -1 after printing a usage
 * error to stderr. */
int md_cli_parse(int argc, char **argv, const md_cli_opt *opts, const char **vals, md_config *cfg,
                 const char **pos, int max_pos);

/* Loads defaults, the --config file (or MDAGENT_CONFIG / ./mdagent.yaml) and the
 * environment. Prints the error and returns -1 on failure. */
int md_cli_load_config(int argc, char **argv, md_config *cfg);

/* Applies log_level from cfg and validates it; prints and returns -1 on error. */
int md_cli_finish_config(md_config *cfg);
/* --quiet: warnings and errors only (a log level above warn is kept). */
void md_cli_quiet(const md_config *cfg);

/* Each command's options, indexed by its own enum in cmd_<name>.c. */
extern const md_cli_opt md_cmd_serve_opts[], md_cmd_load_opts[], md_cmd_fetch_opts[],
    md_cmd_query_opts[], md_cmd_migrate_opts[];

int md_cmd_serve(int argc, char **argv);
int md_cmd_fetch(int argc, char **argv);
int md_cmd_load(int argc, char **argv);
int md_cmd_query(int argc, char **argv);
int md_cmd_migrate(int argc, char **argv);

#endif
