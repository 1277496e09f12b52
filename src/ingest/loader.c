/* loader.c - file reading, blocks, interval inference and reporting. */
#include "ingest/loader.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "ingest/progress.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#define BLOCK_BYTES (4u << 20)

void md_load_options_default(md_load_options *o)
{
    memset(o, 0, sizeof *o);
    o->interval = -1;
    o->format = MD_CSV_AUTO;
    o->progress = 2;
    o->max_reports = 1000;
    o->batch_rows = 50000;
}

/* -- interval inference ------------------------------------------------------------------- */

int md_infer_interval(const int64_t *ts, size_t n)
{
    if (n == 0) return -1;
    int64_t min_gap = INT64_MAX;
    for (size_t i = 1; i < n; i++) {
        int64_t g = ts[i] - ts[i - 1];
        if (g < 0) g = -g;
        if (g > 0 && g < min_gap) min_gap = g;
    }
    for (int iv = MD_IV_COUNT - 1; iv >= 0; iv--) {
        int64_t len = iv == MD_IV_1MO ? 28 * 86400 : md_interval_seconds((md_interval)iv);
        if (n == 1 && iv > MD_IV_1D) continue;
        if (min_gap != INT64_MAX && len > min_gap) continue;
        int aligned = 1;
        for (size_t i = 0; i < n && aligned; i++)
            if (md_interval_floor((md_interval)iv, ts[i]) != ts[i]) aligned = 0;
        if (aligned) return iv;
    }
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* -- per-file state ------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    const md_load_options *opt;
    md_writer *w;
    md_load_stats *stats;
    md_progress *prog;
    md_csv_layout layout;
    char file_symbol[MD_SYMBOL_MAX + 1];
    int iv; /* -1 until known */
    size_t reports;

    md_csv_row *rows;
    uint64_t *lines;
    size_t n, cap;
    /* grouping scratch */
    md_bar *bars;
    uint64_t *bar_lines;
    size_t *order;
} file_ctx;

static void report(file_ctx *c, uint64_t line, md_rule rule, const char *msg)
{
    c->stats->rejected++;
    c->stats->by_rule[rule]++;
    if (rule == MD_RULE_PARSE) md_metric_add(MD_M_INGEST_REJECTED, 1, "parse_error");
    if (c->opt->max_reports && c->reports >= c->opt->max_reports) {
        if (c->reports == c->opt->max_reports) {
            md_progress_clear(c->prog);
            fprintf(c->opt->report ? c->opt->report : stderr,
                    "%s: more bad rows; only the first %zu are shown\n", c->path,
                    c->opt->max_reports);
        }
        c->reports++;
        return;
    }
    c->reports++;
    md_progress_clear(c->prog);
    fprintf(c->opt->report ? c->opt->report : stderr, "%s:%llu: %s\n", c->path,
            (unsigned long long)line, msg);
}

/* Soft findings: counted, tallied for the grade summary, printed when asked. The writer's
 * indexes run over the block's bars in order (base is the block's first). */
static void on_findings(file_ctx *c, const md_series *series, size_t ns,
                        const md_ingest_result *res, size_t base)
{
    md_load_grades *g = c->opt->grades;
    size_t first[64]; /* grade entry of each series */
    for (size_t k = 0; g && k < ns; k++) {
        size_t j = 0;
        while (j < g->n && (g->v[j].iv != series[k].iv || strcmp(g->v[j].symbol, series[k].symbol)))
            j++;
        if (j == g->n) {
            if (g->n == g->cap) g->v = md_realloc(g->v, (g->cap = g->cap ? g->cap * 2 : 8) * sizeof *g->v);
            memset(&g->v[j], 0, sizeof g->v[j]);
            snprintf(g->v[j].symbol, sizeof g->v[j].symbol, "%s", series[k].symbol);
            g->v[j].iv = series[k].iv;
            md_quality_tally_init(&g->v[j].tally);
            g->n++;
        }
        first[k] = j;
        g->v[j].tally.bars += (int64_t)series[k].n;
    }
    for (size_t f = 0; f < res->n_findings; f++) {
        const md_ingest_finding *fi = &res->findings[f];
        if (g) md_quality_tally_add(&g->v[first[fi->series]].tally, &fi->ev);
        if (md_qrule_is_hard(fi->ev.rule)) continue; /* reported as a rejected row */
        c->stats->findings++;
        c->stats->by_check[fi->ev.rule - MD_RULE_COUNT]++;
        if (!c->opt->report_findings) continue;
        FILE *out = c->opt->report ? c->opt->report : stderr;
        if (c->opt->max_reports && c->reports >= c->opt->max_reports) {
            if (c->reports++ == c->opt->max_reports)
                fprintf(out, "%s: more findings; only the first %zu are shown\n", c->path,
                        c->opt->max_reports);
            continue;
        }
        c->reports++;
        md_progress_clear(c->prog);
        if (fi->index == SIZE_MAX)
            fprintf(out, "%s: %s: %s\n", c->path, md_qrule_code(fi->ev.rule), fi->ev.detail);
        else
            fprintf(out, "%s:%llu: %s: %s\n", c->path,
                    (unsigned long long)c->bar_lines[base + fi->index], md_qrule_code(fi->ev.rule),
                    fi->ev.detail);
    }
}

static const char *row_symbol(const file_ctx *c, const md_csv_row *r)
{
    return r->symbol[0] ? r->symbol : c->file_symbol;
}

static int cmp_order_ctx_sym(const file_ctx *c, size_t a, size_t b)
{
    int s = strcmp(row_symbol(c, &c->rows[a]), row_symbol(c, &c->rows[b]));
    if (s) return s;
    return (a > b) - (a < b);
}

static const file_ctx *sort_ctx; /* qsort has no context argument; loads are one thread */
static int cmp_order(const void *a, const void *b)
{
    return cmp_order_ctx_sym(sort_ctx, *(const size_t *)a, *(const size_t *)b);
}

static int decide_interval(file_ctx *c, md_error *err)
{
    if (c->opt->interval >= 0) return c->iv = c->opt->interval, 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->rows[i].per_iv >= 0) return c->iv = c->rows[i].per_iv, 0;
    }
    /* infer from the spacing of the first symbol's timestamps in this block */
    const char *sym = row_symbol(c, &c->rows[0]);
    int64_t *ts = md_malloc(c->n * sizeof *ts);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(row_symbol(c, &c->rows[i]), sym) == 0) ts[k++] = c->rows[i].bar.ts;
    qsort(ts, k, sizeof *ts, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || ts[u - 1] != ts[i]) ts[u++] = ts[i];
    int iv = md_infer_interval(ts, u);
    md_free(ts);
    if (iv < 0)
        return md_error_set(err, MD_ECSV, "%s: cannot infer the interval from the timestamps; "
                                          "pass --interval", c->path);
    c->iv = iv;
    MD_DEBUG("load", "inferred interval=%s file=%s", md_interval_name((md_interval)iv), c->path);
    return 0;
}

/* Validates and writes the rows collected so far. */
static int flush_block(file_ctx *c, md_error *err)
{
    if (c->n == 0) return 0;
    if (c->iv < 0) {
        int rc = decide_interval(c, err);
        if (rc) return rc;
    }
    /* group rows by symbol (stable); most files hold one symbol and skip the sort */
    int one = 1;
    for (size_t i = 1; i < c->n && one; i++)
        if (strcmp(row_symbol(c, &c->rows[i]), row_symbol(c, &c->rows[0])) != 0) one = 0;
    for (size_t i = 0; i < c->n; i++) c->order[i] = i;
    if (!one) {
        sort_ctx = c;
        qsort(c->order, c->n, sizeof *c->order, cmp_order);
    }
    md_series series[64];
    size_t ns = 0, start = 0;
    int rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        c->bars[i] = c->rows[c->order[i]].bar;
        c->bar_lines[i] = c->lines[c->order[i]];
    }
    while (start < c->n && rc == 0) {
        /* one writer call per up to 64 series */
        size_t base = start;
        ns = 0;
        while (start < c->n && ns < 64) {
            const char *sym = row_symbol(c, &c->rows[c->order[start]]);
            size_t e = start + 1;
            while (e < c->n && strcmp(row_symbol(c, &c->rows[c->order[e]]), sym) == 0) e++;
            series[ns].symbol = sym;
            series[ns].iv = (md_interval)c->iv;
            series[ns].bars = c->bars + start;
            series[ns].n = e - start;
            ns++;
            start = e;
        }
        md_ingest_result res;
        md_ingest_result_init(&res, 0);
        res.collect_findings = c->opt->grades || c->opt->report_findings;
        rc = md_writer_ingest_bars(c->w, series, ns, c->opt->validate_only, &res, err);
        if (rc == 0) {
            for (size_t r = 0; r < res.n_rejects; r++)
                report(c, c->bar_lines[base + res.rejects[r].index], res.rejects[r].rule,
                       res.rejects[r].msg);
            on_findings(c, series, ns, &res, base);
            c->stats->accepted += res.accepted;
            c->stats->stored += res.stored;
        }
        md_ingest_result_deinit(&res);
    }
    c->n = 0;
    return rc;
}

static void add_row(file_ctx *c, const md_csv_row *row, uint64_t line)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->rows = md_realloc(c->rows, c->cap * sizeof *c->rows);
        c->lines = md_realloc(c->lines, c->cap * sizeof *c->lines);
        c->bars = md_realloc(c->bars, c->cap * sizeof *c->bars);
        c->bar_lines = md_realloc(c->bar_lines, c->cap * sizeof *c->bar_lines);
        c->order = md_realloc(c->order, c->cap * sizeof *c->order);
    }
    c->rows[c->n] = *row;
    c->lines[c->n] = line;
    c->n++;
}

/* Handles one complete line (no line end). Returns a file-level error or 0. */
static int on_line(file_ctx *c, const char *line, size_t len, uint64_t lineno, int *have_header,
                   md_error *err)
{
    if (!*have_header) {
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
        if (k == len) return 0; /* leading blank lines */
        int rc = md_csv_detect(line, len, c->opt->format, &c->layout, err);
        if (rc) {
            md_error_prefix(err, "%s:%llu", c->path, (unsigned long long)lineno);
            return rc;
        }
        if (c->layout.c_symbol < 0 && !c->file_symbol[0]) {
            rc = md_csv_symbol_from_path(c->path, c->file_symbol, err);
            if (rc) return rc;
        }
        *have_header = 1;
        return 0;
    }
    md_csv_row row;
    md_error e;
    int rc = md_csv_parse_row(&c->layout, line, len, &row, &e);
    if (rc == 1) return 0;
    c->stats->rows++;
    if (rc < 0) {
        report(c, lineno, MD_RULE_PARSE, e.msg);
        return 0;
    }
    if (c->opt->symbol && c->layout.c_symbol < 0) row.symbol[0] = 0;
    add_row(c, &row, lineno);
    if (c->n >= (c->opt->batch_rows ? c->opt->batch_rows : 50000)) return flush_block(c, err);
    return 0;
}

int md_load_file(md_writer *w, const char *path, const md_load_options *opt,
                 md_load_stats *stats, md_error *err)
{
    file_ctx c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.opt = opt;
    c.w = w;
    c.stats = stats;
    c.iv = -1;
    if (opt->symbol) {
        int rc = md_symbol_normalize_str(opt->symbol, c.file_symbol, err);
        if (rc) return rc;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return md_error_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    gzFile gz = gzopen(path, "rb");
    if (!gz) return md_error_set(err, MD_EIO, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(gz, 1 << 20);

    md_progress prog;
    md_progress_start(&prog, opt->report ? opt->report : stderr, opt->progress, path,
                      (uint64_t)sb.st_size);
    c.prog = &prog;

    char *buf = md_malloc(BLOCK_BYTES + 1);
    size_t have = 0;
    uint64_t lineno = 0;
    int have_header = 0, rc = 0, skipping_long = 0;
    uint64_t rows_before = stats->rows;
    for (;;) {
        int got = gzread(gz, buf + have, (unsigned)(BLOCK_BYTES - have));
        if (got < 0) {
            int zerr;
            const char *m = gzerror(gz, &zerr);
            rc = md_error_set(err, MD_EIO, "%s: read error after line %llu: %s", path,
                              (unsigned long long)lineno, m);
            break;
        }
        int eof = got == 0;
        have += (size_t)got;
        size_t pos = 0;
        for (;;) {
            char *nl = memchr(buf + pos, '\n', have - pos);
            if (!nl) break;
            size_t len = (size_t)(nl - (buf + pos));
            lineno++;
            if (skipping_long) {
                skipping_long = 0;
            } else {
                rc = on_line(&c, buf + pos, len, lineno, &have_header, err);
                if (rc) break;
            }
            pos += len + 1;
        }
        if (rc) break;
        if (eof) {
            if (pos < have && !skipping_long) { /* last line without a newline */
                lineno++;
                rc = on_line(&c, buf + pos, have - pos, lineno, &have_header, err);
            }
            have = 0;
            break;
        }
        if (pos == 0 && have == BLOCK_BYTES) {
            /* a line longer than the block: report it once and skip to its end */
            if (!skipping_long) {
                lineno++;
                if (have_header) {
                    stats->rows++;
                    report(&c, lineno, MD_RULE_PARSE, "line longer than the 4 MiB limit; skipped");
                } else {
                    rc = md_error_set(err, MD_ECSV, "%s:%llu: header line longer than 4 MiB", path,
                                      (unsigned long long)lineno);
                    break;
                }
                lineno--; /* counted again when its newline arrives */
                skipping_long = 1;
            }
            have = 0;
            continue;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        md_progress_update(&prog, (uint64_t)gzoffset(gz), stats->rows - rows_before);
    }
    if (rc == 0) rc = flush_block(&c, err);
    if (rc == 0 && !have_header)
        rc = md_error_set(err, MD_ECSV, "%s: empty file (no header line)", path);
    gzclose(gz);
    md_progress_update(&prog, prog.total, stats->rows - rows_before);
    if (opt->progress != -1 && prog.tty == 1) md_progress_finish(&prog);
    md_progress_clear(&prog);
    md_free(buf);
    md_free(c.rows);
    md_free(c.lines);
    md_free(c.bars);
    md_free(c.bar_lines);
    md_free(c.order);
    return rc;
}

static int is_data_file(const char *name)
{
    static const char *exts[] = {".csv", ".txt", ".tsv", ".csv.gz", ".txt.gz", ".tsv.gz"};
    size_t n = strlen(name);
    if (name[0] == '.') return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcasecmp(name + n - e, exts[i]) == 0) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_one(md_writer *w, const char *path, const md_load_options *opt,
                    md_load_stats *stats, md_error *first_err, int *first_rc)
{
    md_error e;
    md_error_clear(&e);
    int rc = md_load_file(w, path, opt, stats, &e);
    stats->files++;
    if (rc) {
        stats->files_failed++;
        fprintf(opt->report ? opt->report : stderr, "%s\n", e.msg);
        if (!*first_rc) {
            *first_rc = rc;
            if (first_err) *first_err = e;
        }
    }
    return rc;
}

int md_load_paths(md_writer *w, const char *const *paths, size_t n_paths,
                  const md_load_options *opt, md_load_stats *stats, md_error *err)
{
    int64_t t0 = md_mono_ms();
    int first_rc = 0;
    for (size_t i = 0; i < n_paths; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            md_error e;
            md_error_set(&e, MD_EIO, "%s: %s", paths[i], strerror(errno));
            fprintf(opt->report ? opt->report : stderr, "%s\n", e.msg);
            stats->files_failed++;
            if (!first_rc) first_rc = MD_EIO, *err = e;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            load_one(w, paths[i], opt, stats, err, &first_rc);
            continue;
        }
        DIR *d = opendir(paths[i]);
        if (!d) {
            md_error e;
            md_error_set(&e, MD_EIO, "%s: %s", paths[i], strerror(errno));
            fprintf(opt->report ? opt->report : stderr, "%s\n", e.msg);
            if (!first_rc) first_rc = MD_EIO, *err = e;
            continue;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!is_data_file(de->d_name)) continue;
            if (n == cap) names = md_realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            size_t len = strlen(paths[i]) + strlen(de->d_name) + 2;
            names[n] = md_malloc(len);
            snprintf(names[n], len, "%s/%s", paths[i], de->d_name);
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t k = 0; k < n; k++) {
            load_one(w, names[k], opt, stats, err, &first_rc);
            md_free(names[k]);
        }
        md_free(names);
    }
    stats->seconds = (double)(md_mono_ms() - t0) / 1000.0;
    return first_rc;
}

void md_load_grades_init(md_load_grades *g)
{
    memset(g, 0, sizeof *g);
}

void md_load_grades_deinit(md_load_grades *g)
{
    md_free(g->v);
    memset(g, 0, sizeof *g);
}

void md_load_grades_print(const md_load_grades *g, const md_quality_params *p, FILE *f)
{
    for (size_t i = 0; i < g->n; i++) {
        md_quality_score sc;
        md_quality_score_tally(p, &g->v[i].tally, 100, &sc);
        fprintf(f, "quality %s %s: %s", g->v[i].symbol, md_interval_name(g->v[i].iv), sc.grade);
        if (sc.score >= 0) fprintf(f, " (%.1f)", sc.score);
        fprintf(f, " over %lld bars:", (long long)g->v[i].tally.bars);
        for (int d = 0; d < MD_QDIM_COUNT; d++)
            fprintf(f, "%s %s %.1f", d ? "," : "", md_qdim_name((md_qdim)d), sc.dim[d]);
        int any = 0;
        for (int r = 0; r < MD_QRULE_COUNT; r++)
            if (g->v[i].tally.count[r])
                fprintf(f, "%s %s %lld", any++ ? "," : "; findings:", md_qrule_code(r),
                        (long long)g->v[i].tally.count[r]);
        fputc('\n', f);
    }
}

void md_load_stats_print(const md_load_stats *s, FILE *f)
{
    double rate = s->seconds > 0 ? (double)s->stored / s->seconds : 0;
    fprintf(f, "loaded %llu rows from %llu file%s: %llu stored, %llu rejected, in %.2f s (%.0f rows/s)\n",
            (unsigned long long)s->rows, (unsigned long long)s->files, s->files == 1 ? "" : "s",
            (unsigned long long)s->stored, (unsigned long long)s->rejected, s->seconds, rate);
    for (int r = 0; r < MD_RULE_COUNT; r++)
        if (s->by_rule[r])
            fprintf(f, "  rejected %s: %llu\n", md_rule_code((md_rule)r),
                    (unsigned long long)s->by_rule[r]);
    for (int k = 0; k < MD_CHECK_COUNT; k++)
        if (s->by_check[k])
            fprintf(f, "  finding %s: %llu\n", md_qrule_code(MD_QRULE_SOFT(k)),
                    (unsigned long long)s->by_check[k]);
    if (s->files_failed)
        fprintf(f, "  files that could not be loaded: %llu\n", (unsigned long long)s->files_failed);
}
