/* main.c - `mdagent <command>`: the subcommand table. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static int cmd_config(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--markdown") == 0) {
        md_config_print_table(stdout);
        return 0;
    }
    md_config cfg;
    if (md_cli_load_config(argc, argv, &cfg) != 0) return 2;
    const char *pos[1];
    int n = md_cli_parse(argc, argv, NULL, &cfg, pos, 0);
    if (n < 0) {
        md_config_deinit(&cfg);
        return 2;
    }
    md_config_print(&cfg, stdout);
    md_config_deinit(&cfg);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} commands[] = {
    {"serve", md_cmd_serve,
     "serve   [--config FILE] [--db URL] [--redis URL] [--listen HOST:PORT] [--print-config]"},
    {"load", md_cmd_load,
     "load    FILE|DIR... [--symbol S] [--interval I] [--format auto|yahoo|stooq|generic] "
     "[--validate-only] [--db URL]"},
    {"config", cmd_config,
     "config  [--markdown]   effective configuration (or the key table as Markdown)"},
    {"fetch", md_cmd_fetch,
     "fetch   SYMBOL... [--interval I] [--start T] [--end T] [--source NAME] [--db URL]   fetch "
     "from the sources and store"},
    {"query", md_cmd_query,
     "query   SYMBOL [--interval I] [--start T] [--end T] [--limit N] [--format csv|json] "
     "[--adjust none|splits|all] [--db URL]"},
    {"migrate", md_cmd_migrate,
     "migrate --from URL --to URL [--batch-rows N] [--max-rows N] [--restart] [--verify-only] "
     "[--quiet]"},
};

static void usage(FILE *f)
{
    fprintf(f, "mdagent " MD_VERSION " - market data agent\n\nusage:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  mdagent %s\n", commands[i].usage);
    fprintf(f, "\nEvery command also takes --config FILE, --set KEY=VALUE and the config flags\n"
               "(--db, --redis, --listen, --log-level, ...). `mdagent serve --print-config`\n"
               "shows every key. Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mdagent %s\n", MD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        for (int k = 2; k < argc; k++) {
            if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
                printf("usage: mdagent %s\n", commands[i].usage);
                return 0;
            }
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "mdagent: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
