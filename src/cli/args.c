/* args.c - argument parsing shared by the subcommands. */
#include "cli/cli.h"

#include "core/render.h"

#include "core/log.h"

#include <stdio.h>
#include <string.h>

int md_cli_load_config(int argc, char **argv, md_config *cfg)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    md_error err;
    if (md_config_load(cfg, path, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        md_config_deinit(cfg);
        return -1;
    }
    return 0;
}

int md_cli_finish_config(md_config *cfg)
{
    md_error err;
    if (md_config_validate(cfg, &err) != 0) {
        fprintf(stderr, "mdagent: %s\n", err.msg);
        return -1;
    }
    md_log_level lvl;
    md_log_parse_level(cfg->log_level, &lvl);
    md_log_set_level(lvl);
    double grades[MD_GRADE_STEPS];
    if (md_grade_parse_thresholds(cfg->q_grades, grades, &err) == 0)
        md_grade_set_thresholds(grades);
    return 0;
}

void md_cli_print_opts(const md_cli_opt *opts, FILE *f)
{
    for (const md_cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (strlen(left) > 24)
            fprintf(f, "  %s\n  %-24s %s\n", left, "", o->help);
        else
            fprintf(f, "  %-24s %s\n", left, o->help);
    }
}

void md_cli_print_common(FILE *f)
{
    fprintf(f, "  %-24s %s\n  %-24s %s\n", "--config FILE",
            "configuration file (default: MDAGENT_CONFIG, else ./mdagent.yaml)", "--set KEY=VALUE",
            "any configuration key (mdagent config lists them)");
    md_config_print_flags(f);
}

void md_cli_print_help(const md_cli_cmd *c, FILE *f)
{
    fprintf(f, "usage: mdagent %s%s%s [options]\n\n%s\n", c->name, *c->args ? " " : "", c->args,
            c->summary);
    if (c->opts && c->opts->name) {
        fprintf(f, "\noptions:\n");
        md_cli_print_opts(c->opts, f);
    }
    fprintf(f, "\nevery command also takes:\n");
    md_cli_print_common(f);
}

void md_cli_quiet(const md_config *cfg)
{
    md_log_level lvl;
    if (md_log_parse_level(cfg->log_level, &lvl) == 0 && lvl < MD_LOG_WARN)
        md_log_set_level(MD_LOG_WARN);
}

int md_cli_parse(int argc, char **argv, const md_cli_opt *opts, const char **vals, md_config *cfg,
                 const char **pos, int max_pos)
{
    int npos = 0;
    for (int k = 0; opts && opts[k].name; k++) vals[k] = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (npos == max_pos) goto too_many;
                pos[npos++] = argv[i];
            }
            break;
        }
        if (strncmp(a, "--", 2) != 0 || strlen(a) == 2) {
            if (npos == max_pos) goto too_many;
            pos[npos++] = a;
            continue;
        }
        char name[128];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        const char *next = (!val && i + 1 < argc) ? argv[i + 1] : NULL;
        if (strcmp(name, "--config") == 0) { /* handled by md_cli_load_config */
            if (!val) {
                if (!next) goto need_value;
                i++;
            }
            continue;
        }
        int matched = 0;
        for (int k = 0; opts && opts[k].name; k++) {
            if (strcmp(opts[k].name, name) != 0) continue;
            matched = 1;
            if (opts[k].arg) {
                if (!val) {
                    if (!next) goto need_value;
                    val = next;
                    i++;
                }
                vals[k] = val;
            } else {
                if (val) {
                    fprintf(stderr, "mdagent: %s takes no value\n", name);
                    return -1;
                }
                vals[k] = "1";
            }
            break;
        }
        if (matched) continue;
        int uses = 0;
        md_error err;
        int rc = md_config_apply_flag(cfg, name, val ? val : next, &uses, &err);
        if (rc < 0) {
            fprintf(stderr, "mdagent: %s\n", err.msg);
            return -1;
        }
        if (rc == 1) {
            if (uses && !val) i++;
            continue;
        }
        fprintf(stderr, "mdagent: unknown option %s (see mdagent %s --help)\n", name, argv[0]);
        return -1;
    need_value:
        fprintf(stderr, "mdagent: %s needs a value\n", name);
        return -1;
    }
    return npos;
too_many:
    fprintf(stderr, "mdagent: too many arguments\n");
    return -1;
}
