/* config_jobs.c - the `pipeline.jobs` section of mdagent.yaml: named jobs (screens), each a
 * small mapping, which the flat key table of config.def cannot hold.
 *
 *   pipeline:
 *     jobs:
 *       oversold:                        # or a list: - name: oversold
 *         schedule: close 1d             # or every 30s / every 5m / every 1h
 *         symbols: watchlist             # or all, or [AAPL, MSFT], or "AAPL,MSFT"
 *         interval: 1d                   # the bars the condition reads
 *         condition: rsi:14 < 30 and close > sma:200
 *
 * Everything but the condition is checked here; pipeline/ parses the condition when the agent
 * starts and reports its errors with the line kept here. */
#include "core/config_int.h"

#include "core/buf.h"
#include "core/interval.h"
#include "core/mem.h"
#include "core/symbol.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JOBS 256

__attribute__((format(printf, 5, 6))) static int
job_fail(md_error *err, const char *path, size_t line, const char *key, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return md_error_set(err, MD_ECONFIG, "%s:%zu: %s: %s", path, line, key, msg);
}

int md_config_job_schedule(const char *text, int64_t *every_s, int *iv, md_error *err)
{
    while (isspace((unsigned char)*text)) text++;
    if (strncmp(text, "every", 5) == 0 && isspace((unsigned char)text[5])) {
        const char *p = text + 5;
        while (isspace((unsigned char)*p)) p++;
        char *end;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        int64_t unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
        if (errno || end == p || n < 1 || !unit || end[1])
            return md_error_set(err, MD_ECONFIG,
                                "'%.40s': want every <N>s, every <N>m or every <N>h", text);
        if (n * unit > 86400 * 7)
            return md_error_set(err, MD_ECONFIG, "'%.40s': at most once a week", text);
        *every_s = n * unit;
        return 0;
    }
    if (strncmp(text, "close", 5) == 0 && isspace((unsigned char)text[5])) {
        const char *p = text + 5;
        while (isspace((unsigned char)*p)) p++;
        md_interval v;
        md_error e2;
        if (md_interval_parse(p, &v, &e2) != 0)
            return md_error_set(err, MD_ECONFIG, "'%.40s': %s", text, e2.msg);
        *every_s = 0;
        *iv = (int)v;
        return 0;
    }
    return md_error_set(err, MD_ECONFIG,
                        "'%.40s': want every <N>s|m|h (every 5m) or close <interval> (close 1d)",
                        text);
}

static void job_free(md_config_job *j)
{
    md_free(j->name), md_free(j->schedule), md_free(j->symbols), md_free(j->interval);
    md_free(j->condition), md_free(j->path);
}

void md_config__free_jobs(md_config *cfg)
{
    for (size_t i = 0; i < cfg->n_pipeline_jobs; i++) job_free(&cfg->pipeline_jobs[i]);
    md_free(cfg->pipeline_jobs);
    cfg->pipeline_jobs = NULL;
    cfg->n_pipeline_jobs = 0;
}

/* -- reading -------------------------------------------------------------------------------- */

typedef struct reader {
    yaml_parser_t *p;
    const char *path;
    md_error *err;
} reader;

/* The next event into *ev (the caller deletes it). */
static int next_event(reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(r->p, ev)) return 0;
    return md_error_set(r->err, MD_ECONFIG, "%s:%zu: %s", r->path, r->p->problem_mark.line + 1,
                        r->p->problem ? r->p->problem : "YAML syntax error");
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 48) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

/* A value: a scalar, or (for symbols) a sequence of scalars joined with commas. */
static int read_value(reader *r, const char *key, size_t key_line, char **out, size_t *line)
{
    yaml_event_t ev;
    int rc = next_event(r, &ev);
    if (rc) return rc;
    *line = ev.start_mark.line + 1;
    if (ev.type == YAML_SCALAR_EVENT) {
        md_free(*out);
        *out = md_strdup((const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
        return 0;
    }
    if (ev.type != YAML_SEQUENCE_START_EVENT || strcmp(key, "symbols") != 0) {
        yaml_event_delete(&ev);
        return md_error_set(r->err, MD_ECONFIG, "%s:%zu: %s: expects a single value", r->path,
                            key_line, key);
    }
    yaml_event_delete(&ev);
    md_buf b = MD_BUF_INIT;
    for (;;) {
        if ((rc = next_event(r, &ev)) != 0) break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = md_error_set(r->err, MD_ECONFIG, "%s:%zu: symbols: a list of symbols", r->path,
                              (size_t)ev.start_mark.line + 1);
            yaml_event_delete(&ev);
            break;
        }
        if (b.len) md_buf_putc(&b, ',');
        md_buf_puts(&b, (const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
    }
    if (rc == 0) {
        md_free(*out);
        *out = md_strdup(b.data ? b.data : "");
    }
    md_buf_deinit(&b);
    return rc;
}

/* Checks a job once read; key is "pipeline.jobs.<name>". */
static int check_job(reader *r, md_config_job *j, const char *key)
{
    char k[160];
    if (!j->name)
        return md_error_set(r->err, MD_ECONFIG, "%s:%d: pipeline.jobs: a job needs a name", r->path,
                            j->line);
    if (strcmp(j->name, "indicators") == 0 || strcmp(j->name, "summary") == 0)
        return job_fail(r->err, r->path, (size_t)j->line, key,
                        "the name is taken by /analytics/{symbol}/%s: choose another", j->name);
    if (!valid_name(j->name))
        return job_fail(r->err, r->path, (size_t)j->line, key,
                        "a job's name has 1 to 48 letters, digits, '_' or '-'");
    if (!j->schedule)
        return job_fail(r->err, r->path, (size_t)j->line, key,
                        "needs a schedule (every 5m, or close 1d)");
    if (!j->condition || !*j->condition)
        return job_fail(r->err, r->path, (size_t)j->line, key,
                        "needs a condition (e.g. rsi:14 < 30 and close > sma:200)");
    int64_t every;
    int civ = -1;
    md_error e2;
    snprintf(k, sizeof k, "%s.schedule", key);
    if (md_config_job_schedule(j->schedule, &every, &civ, &e2) != 0)
        return job_fail(r->err, r->path, (size_t)j->line_schedule, k, "%s", e2.msg);
    if (j->interval) {
        md_interval iv;
        snprintf(k, sizeof k, "%s.interval", key);
        if (md_interval_parse(j->interval, &iv, &e2) != 0)
            return job_fail(r->err, r->path, (size_t)j->line_interval, k, "%s", e2.msg);
    }
    if (!j->symbols) j->symbols = md_strdup("watchlist"), j->line_symbols = j->line;
    snprintf(k, sizeof k, "%s.symbols", key);
    if (strcmp(j->symbols, "watchlist") != 0 && strcmp(j->symbols, "all") != 0) {
        char **items;
        size_t n = md_config_split_list(j->symbols, &items);
        int rc = n ? 0
                   : job_fail(r->err, r->path, (size_t)j->line_symbols, k,
                              "watchlist, all, or a list of symbols");
        for (size_t i = 0; i < n && rc == 0; i++) {
            char sym[MD_SYMBOL_MAX + 1];
            if (md_symbol_normalize_str(items[i], sym, &e2) != 0)
                rc = job_fail(r->err, r->path, (size_t)j->line_symbols, k, "%s", e2.msg);
        }
        md_config_free_list(items, n);
        if (rc) return rc;
    }
    return 0;
}

/* One job: its mapping (the start event was read). name_line is where its name was. */
static int read_job(reader *r, md_config_job *j, size_t start_line)
{
    j->path = md_strdup(r->path);
    if (!j->line) j->line = (int)start_line;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(r, &ev);
        if (rc) return rc;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        size_t line = ev.start_mark.line + 1;
        if (ev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&ev);
            return md_error_set(r->err, MD_ECONFIG, "%s:%zu: pipeline.jobs: expected a key",
                                r->path, line);
        }
        char key[32];
        snprintf(key, sizeof key, "%s", (const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
        size_t vline = line;
        if (strcmp(key, "name") == 0 && !j->name) {
            rc = read_value(r, key, line, &j->name, &vline);
            j->line = (int)vline;
        } else if (strcmp(key, "schedule") == 0) {
            rc = read_value(r, key, line, &j->schedule, &vline);
            j->line_schedule = (int)vline;
        } else if (strcmp(key, "symbols") == 0) {
            rc = read_value(r, key, line, &j->symbols, &vline);
            j->line_symbols = (int)vline;
        } else if (strcmp(key, "interval") == 0) {
            rc = read_value(r, key, line, &j->interval, &vline);
            j->line_interval = (int)vline;
        } else if (strcmp(key, "condition") == 0) {
            rc = read_value(r, key, line, &j->condition, &vline);
            j->line_condition = (int)vline;
        } else {
            return md_error_set(r->err, MD_ECONFIG,
                                "%s:%zu: pipeline.jobs.%s.%s: unknown key (schedule, symbols, "
                                "interval, condition)",
                                r->path, line, j->name ? j->name : "?", key);
        }
        if (rc) return rc;
    }
    char key[96];
    snprintf(key, sizeof key, "pipeline.jobs.%.48s", j->name ? j->name : "?");
    return check_job(r, j, key);
}

static md_config_job *new_job(md_config_job **v, size_t *n)
{
    *v = md_realloc(*v, (*n + 1) * sizeof **v);
    md_config_job *j = &(*v)[(*n)++];
    memset(j, 0, sizeof *j);
    return j;
}

int md_config__parse_jobs(yaml_parser_t *p, const char *path, md_config *cfg, md_error *err)
{
    reader r = {p, path, err};
    yaml_event_t ev;
    int rc = next_event(&r, &ev);
    if (rc) return rc;
    size_t line = ev.start_mark.line + 1;
    int list = ev.type == YAML_SEQUENCE_START_EVENT;
    if (ev.type == YAML_SCALAR_EVENT && !ev.data.scalar.value[0]) { /* "jobs:" left empty */
        yaml_event_delete(&ev);
        md_config__free_jobs(cfg);
        return 0;
    }
    if (!list && ev.type != YAML_MAPPING_START_EVENT) {
        yaml_event_delete(&ev);
        return md_error_set(err, MD_ECONFIG,
                            "%s:%zu: pipeline.jobs: a mapping of job names to jobs, or a list "
                            "of jobs",
                            path, line);
    }
    yaml_event_delete(&ev);
    md_config_job *jobs = NULL;
    size_t n = 0;
    for (;;) {
        if ((rc = next_event(&r, &ev)) != 0) break;
        line = ev.start_mark.line + 1;
        if (ev.type == (list ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT)) {
            yaml_event_delete(&ev);
            break;
        }
        if (n == MAX_JOBS) {
            yaml_event_delete(&ev);
            rc = md_error_set(err, MD_ECONFIG, "%s:%zu: pipeline.jobs: at most %d jobs", path, line,
                              MAX_JOBS);
            break;
        }
        md_config_job *j = new_job(&jobs, &n);
        if (list) {
            int ok = ev.type == YAML_MAPPING_START_EVENT;
            yaml_event_delete(&ev);
            if (!ok) {
                rc = md_error_set(err, MD_ECONFIG, "%s:%zu: pipeline.jobs: each job is a mapping",
                                  path, line);
                break;
            }
            if ((rc = read_job(&r, j, line)) != 0) break;
            if (!j->name) {
                rc = md_error_set(err, MD_ECONFIG, "%s:%zu: pipeline.jobs: a job needs a name",
                                  path, line);
                break;
            }
        } else {
            int ok = ev.type == YAML_SCALAR_EVENT;
            if (ok) j->name = md_strdup((const char *)ev.data.scalar.value), j->line = (int)line;
            yaml_event_delete(&ev);
            if (!ok || (rc = next_event(&r, &ev)) != 0) {
                if (!rc)
                    rc = md_error_set(err, MD_ECONFIG, "%s:%zu: pipeline.jobs: expected a name",
                                      path, line);
                break;
            }
            ok = ev.type == YAML_MAPPING_START_EVENT;
            yaml_event_delete(&ev);
            if (!ok) {
                rc = md_error_set(err, MD_ECONFIG,
                                  "%s:%zu: pipeline.jobs.%.48s: a job is a mapping (schedule, "
                                  "symbols, interval, condition)",
                                  path, line, j->name);
                break;
            }
            if ((rc = read_job(&r, j, line)) != 0) break;
        }
        for (size_t i = 0; i + 1 < n && rc == 0; i++)
            if (strcmp(jobs[i].name, j->name) == 0)
                rc = md_error_set(err, MD_ECONFIG,
                                  "%s:%d: pipeline.jobs.%s: a second job of that "
                                  "name (the first is on line %d)",
                                  path, j->line, j->name, jobs[i].line);
        if (rc) break;
    }
    if (rc) {
        for (size_t i = 0; i < n; i++) job_free(&jobs[i]);
        md_free(jobs);
        return rc;
    }
    md_config__free_jobs(cfg);
    cfg->pipeline_jobs = jobs;
    cfg->n_pipeline_jobs = n;
    return 0;
}

/* -- printing ------------------------------------------------------------------------------- */

static void yaml_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void md_config__print_jobs(const md_config *cfg, FILE *f)
{
    if (!cfg->n_pipeline_jobs) {
        fprintf(f, "pipeline.jobs: {}    # screens run on a schedule (docs/pipeline.md)\n");
        return;
    }
    fprintf(f, "pipeline.jobs:    # screens run on a schedule (docs/pipeline.md)\n");
    for (size_t i = 0; i < cfg->n_pipeline_jobs; i++) {
        const md_config_job *j = &cfg->pipeline_jobs[i];
        fprintf(f, "  %s:\n    schedule: ", j->name);
        yaml_str(f, j->schedule);
        fprintf(f, "\n    symbols: ");
        yaml_str(f, j->symbols);
        if (j->interval) {
            fprintf(f, "\n    interval: ");
            yaml_str(f, j->interval);
        }
        fprintf(f, "\n    condition: ");
        yaml_str(f, j->condition);
        fputc('\n', f);
    }
}
