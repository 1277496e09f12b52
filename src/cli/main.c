/* main.c - `mdagent <command>`: the subcommand table. */
#include "cli/cli.h"

#include "server/contract.h"

#include <stdio.h>
#include <string.h>

static const md_cli_opt config_opts[] = {
    {"--markdown", NULL, "print the key table as Markdown (the README's) instead of the values"},
    {NULL, NULL, NULL}};

static int cmd_config(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return 2;
    const char *vals[1];
    const char *pos[1];
    int n = md_cli_parse(argc, argv, config_opts, vals, &cfg, pos, 0);
    if (n < 0) {
        md_config_deinit(&cfg);
        return 2;
    }
    if (vals[0])
        md_config_print_table(stdout);
    else
        md_config_print(&cfg, stdout);
    md_config_deinit(&cfg);
    return 0;
}

static int cmd_help(int argc, char **argv);

/* `mdagent contract openapi|asyncapi`: the documents /openapi.json and /asyncapi.json
 * serve (docs/openapi.json and docs/asyncapi.json are this output). */
static int cmd_contract(int argc, char **argv)
{
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return 2;
    const char *pos[2];
    int n = md_cli_parse(argc, argv, NULL, NULL, &cfg, pos, 2);
    md_config_deinit(&cfg);
    md_contract_kind kind;
    if (n == 1 && strcmp(pos[0], "openapi") == 0)
        kind = MD_CONTRACT_OPENAPI;
    else if (n == 1 && strcmp(pos[0], "asyncapi") == 0)
        kind = MD_CONTRACT_ASYNCAPI;
    else {
        fprintf(stderr, "mdagent contract: give openapi or asyncapi\n");
        return 2;
    }
    md_error err;
    size_t len;
    const char *doc = md_contract_doc(kind, &len, &err);
    if (!doc) {
        fprintf(stderr, "mdagent contract: %s\n", err.msg);
        return 1;
    }
    fwrite(doc, 1, len, stdout);
    return 0;
}

const md_cli_cmd md_cli_commands[] = {
    {"serve", "", "serve the REST API, the WebSocket stream and the dashboard", md_cmd_serve_opts,
     md_cmd_serve},
    {"load", "FILE|DIR...", "load CSV files (Yahoo, Stooq, generic; .gz too) into the store",
     md_cmd_load_opts, md_cmd_load},
    {"fetch", "SYMBOL...",
     "fetch quotes (or, with --interval/--start/--end, bars) from the sources and store them",
     md_cmd_fetch_opts, md_cmd_fetch},
    {"query", "SYMBOL...",
     "print stored bars of one symbol, or several in long format, as CSV or JSON (the whole range "
     "by default)",
     md_cmd_query_opts, md_cmd_query},
    {"migrate", "",
     "copy one store into another (SQLite <-> PostgreSQL) and verify what was copied",
     md_cmd_migrate_opts, md_cmd_migrate},
    {"config", "", "print the effective configuration (every key with its value and meaning)",
     config_opts, cmd_config},
    {"contract", "openapi|asyncapi",
     "print the API documents the agent serves at /openapi.json and /asyncapi.json", NULL,
     cmd_contract},
    {"help", "[COMMAND]", "this help, or one command's", NULL, cmd_help},
};
const size_t md_cli_n_commands = sizeof md_cli_commands / sizeof md_cli_commands[0];

static const md_cli_cmd *find(const char *name)
{
    for (size_t i = 0; i < md_cli_n_commands; i++)
        if (strcmp(name, md_cli_commands[i].name) == 0) return &md_cli_commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "mdagent " MD_VERSION " - market data agent\n\nusage: mdagent COMMAND [options]\n\n");
    for (size_t i = 0; i < md_cli_n_commands; i++) {
        const md_cli_cmd *c = &md_cli_commands[i];
        char left[40];
        snprintf(left, sizeof left, "%s %s", c->name, c->args);
        fprintf(f, "  %-22s %s\n", left, c->summary);
    }
    fprintf(f, "\n`mdagent COMMAND --help` (or `mdagent help COMMAND`) shows one command alone.\n"
               "Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

/* `mdagent help`: every command with every option, then the flags all of them take. */
static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        const md_cli_cmd *c = find(argv[1]);
        if (!c) {
            fprintf(stderr, "mdagent: unknown command '%s'\n\n", argv[1]);
            usage(stderr);
            return 2;
        }
        md_cli_print_help(c, stdout);
        return 0;
    }
    usage(stdout);
    for (size_t i = 0; i < md_cli_n_commands; i++) {
        const md_cli_cmd *c = &md_cli_commands[i];
        if (!c->opts || !c->opts->name) continue;
        fprintf(stdout, "\n%s options:\n", c->name);
        md_cli_print_opts(c->opts, stdout);
    }
    fprintf(stdout, "\nevery command also takes:\n");
    md_cli_print_common(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return cmd_help(1, argv + 1);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mdagent %s\n", MD_VERSION);
        return 0;
    }
    const md_cli_cmd *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "mdagent: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    for (int k = 2; k < argc; k++) {
        if (!strcmp(argv[k], "--")) break;
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
            md_cli_print_help(c, stdout);
            return 0;
        }
    }
    return c->fn(argc - 1, argv + 1);
}
