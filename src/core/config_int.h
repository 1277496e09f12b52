/* config_int.h - what config.c shares with config_jobs.c (the pipeline.jobs section). */
#ifndef MD_CORE_CONFIG_INT_H
#define MD_CORE_CONFIG_INT_H

#include "core/config.h"

#include <yaml.h>

/* Reads the value of `pipeline.jobs` (the parser's next event starts it: a mapping of name ->
 * job, or a sequence of jobs with a `name`) into cfg, replacing jobs read before. MD_ECONFIG
 * "path:line: pipeline.jobs...: reason". */
int md_config__parse_jobs(yaml_parser_t *p, const char *path, md_config *cfg, md_error *err);
void md_config__free_jobs(md_config *cfg);
void md_config__print_jobs(const md_config *cfg, FILE *f);

#endif
