/* loader.c - the bulk loader's entry points: the list of files, the pipeline's set-up and
 * tear-down, interval inference and the summary. The stages are load_read.c (reader),
 * load_parse.c (workers) and load_write.c (writer); load_int.h draws them. */
#include "ingest/load_int.h"

#include "core/action.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "ingest/actions.h"
#include "ingest/csv.h"
#include "ingest/writer.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

/* -- the list of files ---------------------------------------------------------------------- */

typedef struct {
    ld_file *v;
    size_t n, cap;
} file_list;

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

static void path_error(const md_load_options *opt, md_load_stats *stats, md_error *first,
                       int *first_rc, const char *path, const char *why)
{
    md_error e;
    md_error_set(&e, MD_EIO, "%s: %s", path, why);
    fprintf(opt->report ? opt->report : stderr, "%s\n", e.msg);
    stats->files_failed++;
    if (!*first_rc) *first_rc = MD_EIO, *first = e;
}

static void add_file(file_list *fl, const char *path, const struct stat *sb)
{
    char abs[PATH_MAX];
    const char *key = realpath(path, abs) ? abs : path;
    for (size_t i = 0; i < fl->n; i++) /* the same file named twice loads once */
        if (strcmp(fl->v[i].key, key) == 0) return;
    MD_ARRAY_GROW(fl->v, fl->n, fl->cap, 16);
    ld_file *f = &fl->v[fl->n++];
    memset(f, 0, sizeof *f);
    f->path = md_strdup(path);
    f->key = md_strdup(key);
    f->size = (int64_t)sb->st_size;
    f->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
    f->iv = -1;
}

/* Adds the data files under dir, recursively, sorted by name at each level. */
static void add_dir(file_list *fl, const char *dir, int depth, const md_load_options *opt,
                    md_load_stats *stats, md_error *first, int *first_rc)
{
    DIR *d = opendir(dir);
    if (!d) {
        path_error(opt, stats, first, first_rc, dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        MD_ARRAY_GROW(names, n, cap, 64);
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[n] = md_malloc(len);
        snprintf(names[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* names is NULL in an empty directory */
    for (size_t k = 0; k < n; k++) {
        struct stat sb;
        const char *base = strrchr(names[k], '/') + 1;
        if (stat(names[k], &sb) == 0) {
            if (S_ISDIR(sb.st_mode) && depth < 32)
                add_dir(fl, names[k], depth + 1, opt, stats, first, first_rc);
            else if (S_ISREG(sb.st_mode) && is_data_file(base))
                add_file(fl, names[k], &sb);
        }
        md_free(names[k]);
    }
    md_free(names);
}

/* -- actions files ------------------------------------------------------------------------- */

#define ACTIONS_FILE_MAX (64u << 20) /* an actions file is read whole */

/* 1 when the file's first non-blank line is an actions header (ingest/actions.h);
 * *has_symbol: it has a symbol column. */
static int is_actions_file(const char *path, int *has_symbol)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) return 0;
    char line[4096];
    int yes = 0;
    while (gzgets(gz, line, sizeof line)) {
        size_t n = strcspn(line, "\r\n");
        if (n == strspn(line, " \t")) continue; /* blank */
        const char *h = line;
        if (n >= 3 && memcmp(h, "\xEF\xBB\xBF", 3) == 0) h += 3, n -= 3; /* a UTF-8 BOM */
        yes = md_actions_csv_header(h, n, has_symbol);
        break;
    }
    gzclose(gz);
    return yes;
}

/* Loads an actions file (source csv: API.md "Which record" ranks it after ingested records):
 * every record checked as POST /ingest/actions checks it, the bad ones reported as
 * "file: item N: reason" and counted as rejected rows, the good ones stored in one
 * transaction (nothing stored with --validate-only). Returns 0 or the file's error. */
static int load_actions_file(md_writer *w, const ld_file *f, int has_symbol,
                             const md_load_options *opt, md_load_stats *stats, md_error *err)
{
    FILE *rep = opt->report ? opt->report : stderr;
    /* the symbol of a file without a symbol column (Yahoo's events downloads): --symbol, else
     * the file name, as for bars */
    char symbol[MD_SYMBOL_MAX + 1] = "";
    if (!has_symbol) {
        md_error e;
        int src = opt->symbol ? md_symbol_normalize_str(opt->symbol, symbol, &e)
                              : md_csv_symbol_from_path(f->path, symbol, &e);
        if (src != 0) {
            md_error_set(err, MD_ESYMBOL, "%s: no symbol column, and %s", f->path, e.msg);
            fprintf(rep, "%s\n", err->msg);
            return err->rc;
        }
    }
    gzFile gz = gzopen(f->path, "rb");
    if (!gz) return md_error_set(err, MD_EIO, "%s: cannot open: %s", f->path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *text = md_malloc(cap);
    int n, rc = 0;
    while ((n = gzread(gz, text + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len == cap) {
            if (cap >= ACTIONS_FILE_MAX) {
                rc = md_error_set(err, MD_ECSV, "%s: an actions file larger than %u MiB", f->path,
                                  ACTIONS_FILE_MAX >> 20);
                break;
            }
            text = md_realloc(text, cap *= 2);
        }
    }
    if (rc == 0 && n < 0) {
        int zerr;
        rc = md_error_set(err, MD_EIO, "%s: %s", f->path, gzerror(gz, &zerr));
    }
    gzclose(gz);
    md_bar_batch errs;
    md_bar_batch_init(&errs);
    md_action_vec a;
    md_action_vec_init(&a);
    if (rc == 0 && md_actions_parse_csv(text, len, symbol, MD_SRC_CSV, &a, NULL, &errs, err) != 0)
        rc = err->rc;
    if (rc == 0) {
        for (size_t i = 0; i < errs.n_errors; i++)
            if (i < opt->max_reports)
                fprintf(rep, "%s: item %zu (data line %zu): %s: %s\n", f->path,
                        errs.errors[i].index, errs.errors[i].index + 1, errs.errors[i].code,
                        errs.errors[i].msg);
        stats->rows += errs.n_items;
        stats->accepted += a.n;
        stats->rejected += errs.n_errors;
        if (a.n && !opt->validate_only) {
            if (md_store_put_actions(md_writer_store(w), a.v, a.n, err) < 0)
                rc = err->rc ? err->rc : MD_ESTORE;
            else
                stats->stored += a.n;
        }
    }
    if (rc) fprintf(rep, "%s\n", err->msg);
    md_action_vec_deinit(&a);
    md_bar_batch_deinit(&errs);
    md_free(text);
    return rc;
}

/* -- the pipeline --------------------------------------------------------------------------- */

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int md_load_paths(md_writer *w, const char *const *paths, size_t n_paths,
                  const md_load_options *opt, md_load_stats *stats, md_error *err)
{
    int64_t t0 = md_mono_ms();
    int first_rc = 0;
    md_error first;
    md_error_clear(&first);

    file_list fl = {0};
    for (size_t i = 0; i < n_paths; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            path_error(opt, stats, &first, &first_rc, paths[i], strerror(errno));
            continue;
        }
        if (S_ISDIR(sb.st_mode))
            add_dir(&fl, paths[i], 0, opt, stats, &first, &first_rc);
        else
            add_file(&fl, paths[i], &sb);
    }

    /* actions files (a type and an ex_date column, no close) are records, not bars: loaded
     * here, whole, and left out of the bars pipeline */
    size_t kept = 0;
    for (size_t i = 0; i < fl.n; i++) {
        int has_symbol = 1;
        if (!is_actions_file(fl.v[i].path, &has_symbol)) {
            fl.v[kept++] = fl.v[i];
            continue;
        }
        md_error e;
        stats->files++;
        if (load_actions_file(w, &fl.v[i], has_symbol, opt, stats, &e) != 0) {
            stats->files_failed++;
            if (!first_rc) first_rc = e.rc, first = e;
        }
        md_free(fl.v[i].path);
        md_free(fl.v[i].key);
    }
    fl.n = kept;

    ld_pipe p;
    memset(&p, 0, sizeof p);
    p.opt = opt;
    p.w = w;
    p.stats = stats;
    p.now = md_now();
    p.marks = !opt->validate_only && md_store_has_load_marks(md_writer_store(w));
    p.files = fl.v;
    p.nfiles = fl.n;
    for (size_t i = 0; i < fl.n; i++) p.total_bytes += (uint64_t)fl.v[i].size;
    int threads = opt->threads > 0 ? opt->threads : cpu_count();
    p.max_inflight = 4 * (size_t)threads + 8;
    p.max_bytes = p.max_inflight * MD_LOAD_BUF_BYTES;
    p.ring = md_calloc(p.max_inflight, sizeof *p.ring);
    pthread_mutex_init(&p.mu, NULL);
    md_dict_init(&p.pieces, sizeof(uint64_t));
    pthread_cond_init(&p.credit_cond, NULL);
    pthread_cond_init(&p.ready_cond, NULL);
    pthread_cond_init(&p.iv_cond, NULL);
    pthread_mutex_init(&p.st_mu, NULL);
    pthread_cond_init(&p.st_cond, NULL);

    int rc = 0;
    if (opt->reject_file) {
        p.rej = fopen(opt->reject_file, "w");
        if (!p.rej) {
            rc = md_error_set(err, MD_EIO, "--reject-file %s: %s", opt->reject_file,
                              strerror(errno));
            fprintf(opt->report ? opt->report : stderr, "%s\n", err->msg);
            goto out;
        }
        fputs("file,line,reason,message,row\n", p.rej);
    }
    if (fl.n) {
        md_progress_start(&p.prog, opt->report ? opt->report : stderr, opt->progress, "load",
                          p.total_bytes);
        p.wq = md_workq_new(threads, "load");
        pthread_t writer, storer;
        if (pthread_create(&storer, NULL, md_load__store_main, &p) != 0) {
            md_workq_free(p.wq);
            rc = md_error_set(err, MD_EINTERNAL, "cannot start the store thread");
            goto out;
        }
        if (pthread_create(&writer, NULL, md_load__writer_main, &p) != 0) {
            pthread_mutex_lock(&p.st_mu);
            p.st_stop = 1;
            pthread_cond_broadcast(&p.st_cond);
            pthread_mutex_unlock(&p.st_mu);
            pthread_join(storer, NULL);
            md_workq_free(p.wq);
            rc = md_error_set(err, MD_EINTERNAL, "cannot start the writer thread");
            goto out;
        }
        md_load__read_all(&p);
        pthread_mutex_lock(&p.mu);
        p.reader_done = 1;
        pthread_cond_signal(&p.ready_cond);
        pthread_mutex_unlock(&p.mu);
        md_workq_free(p.wq); /* runs what is queued */
        pthread_join(writer, NULL);
        pthread_mutex_lock(&p.st_mu); /* the last batch is stored before the store thread ends */
        p.st_stop = 1;
        pthread_cond_broadcast(&p.st_cond);
        pthread_mutex_unlock(&p.st_mu);
        pthread_join(storer, NULL);
        if (opt->progress != -1 && p.prog.tty == 1) md_progress_finish(&p.prog);
        md_progress_clear(&p.prog);
    }
    stats->files += fl.n;
    if (p.rej && fclose(p.rej) != 0 && !p.abort) {
        p.rej = NULL;
        rc = md_error_set(err, MD_EIO, "--reject-file %s: %s", opt->reject_file, strerror(errno));
        fprintf(opt->report ? opt->report : stderr, "%s\n", err->msg);
        goto out;
    }
    p.rej = NULL;
    if (p.abort) {
        rc = p.abort_rc;
        *err = p.abort_err;
    } else if (stats->interrupted) {
        rc = md_error_set(err, MD_ECANCELED,
                          "interrupted; what was read is stored and "
                          "checkpointed: run the same load again to continue");
    } else if (first_rc) {
        rc = first_rc;
        *err = first;
    } else if (p.file_rc) {
        rc = p.file_rc;
        *err = p.file_err;
    }
out:
    if (p.rej) fclose(p.rej);
    for (size_t i = 0; i < fl.n; i++) {
        md_free(fl.v[i].path);
        md_free(fl.v[i].key);
    }
    md_free(fl.v);
    md_free(p.ring);
    md_dict_deinit(&p.pieces);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.credit_cond);
    pthread_cond_destroy(&p.ready_cond);
    pthread_cond_destroy(&p.iv_cond);
    pthread_mutex_destroy(&p.st_mu);
    pthread_cond_destroy(&p.st_cond);
    stats->seconds = (double)(md_mono_ms() - t0) / 1000.0;
    return rc;
}

/* -- quality grades of a load -------------------------------------------------------------- */

void md_load_grades_init(md_load_grades *g)
{
    memset(g, 0, sizeof *g);
}

void md_load_grades_deinit(md_load_grades *g)
{
    md_free(g->v);
    memset(g, 0, sizeof *g);
}

md_quality_tally *md_load_grades_get(md_load_grades *g, const char *symbol, md_interval iv)
{
    for (size_t j = g->n; j-- > 0;)
        if (g->v[j].iv == iv && strcmp(g->v[j].symbol, symbol) == 0) return &g->v[j].tally;
    MD_ARRAY_GROW(g->v, g->n, g->cap, 8);
    md_load_grade *x = &g->v[g->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->symbol, sizeof x->symbol, "%s", symbol);
    x->iv = iv;
    md_quality_tally_init(&x->tally);
    return &x->tally;
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
    fprintf(
        f,
        "loaded %llu rows from %llu file%s: %llu stored, %llu rejected, in %.2f s (%.0f rows/s)\n",
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
    if (s->unjudged)
        fprintf(f,
                "  quality: soft rules judged %llu of %llu stored bars (sampled validation;"
                " --validation full judges every bar)\n",
                (unsigned long long)s->judged, (unsigned long long)s->judged + s->unjudged);
    if (s->files_skipped)
        fprintf(f, "  files skipped, already loaded (--restart loads them again): %llu\n",
                (unsigned long long)s->files_skipped);
    if (s->files_resumed)
        fprintf(f, "  files continued from a checkpoint: %llu\n",
                (unsigned long long)s->files_resumed);
    if (s->files_failed)
        fprintf(f, "  files that could not be loaded: %llu\n", (unsigned long long)s->files_failed);
    if (s->interrupted)
        fprintf(f, "  interrupted: run the same command again to continue from the checkpoint\n");
}
