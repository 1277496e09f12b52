/* load_write.c - the writer: parsed blocks back into input order, then into the store.
 *
 * The writer takes blocks in sequence, reports their bad rows (file:line: reason, and the
 * reject file), and gathers their series into a batch together with each file's mark
 * (lines and bytes done). A batch is stored in one transaction - bars and marks together -
 * when it reaches batch_rows, when it holds half the blocks the memory budget allows, or
 * when the next block is not parsed yet (so a slow input never holds rows back and the
 * checkpoint stays close behind the reader). Blocks are freed after their commit.
 *
 * Two stages: this thread (load-writer) takes the blocks in order, reports, and judges each
 * batch (sampled: see "sampled validation" below); a store thread (load-store) writes the
 * batch before - bars and marks in one transaction, then the findings and the rejected rows
 * as validity findings - so judging and storing overlap. Findings are tallied per series
 * for the grade summary; with --validate-only each block is judged (a validate-only write) and its
 * findings are printed, in input order, and nothing is stored. */
#include "ingest/load_int.h"

#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"

#include <stdlib.h>
#include <string.h>

/* Rejected rows of a batch, per series, recorded as findings after the commit. */
typedef struct {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    md_qevent_vec ev;
} rej_series;

typedef struct {
    ld_block **held;
    size_t nheld, cap_held;
    md_series *ser;
    size_t nser, cap_ser;
    md_load_mark *marks;
    size_t nmarks, cap_marks;
    size_t rows;
    rej_series *rej;
    size_t nrej, cap_rej;
} batch;

static int want_findings(const ld_pipe *p)
{
    return p->opt->grades || p->opt->report_findings;
}

/* Counts, tallies and (when asked) prints the soft findings of judged series. */
static void on_findings(ld_pipe *p, const md_series *ser, size_t nser, const uint8_t *judged,
                        const md_write_result *res, const char *path)
{
    md_load_grades *g = p->opt->grades;
    for (size_t k = 0; g && k < nser; k++)
        if (ser[k].n && (!judged || judged[k]))
            md_load_grades_get(g, ser[k].symbol, ser[k].iv)->bars += (int64_t)ser[k].n;
    FILE *out = p->opt->report ? p->opt->report : stderr;
    for (size_t i = 0; i < res->n_findings; i++) {
        const md_write_finding *fi = &res->findings[i];
        const md_series *se = &ser[fi->series];
        if (g) md_quality_tally_add(md_load_grades_get(g, se->symbol, se->iv), &fi->ev);
        if (md_qrule_is_hard(fi->ev.rule)) continue;
        p->stats->findings++;
        p->stats->by_check[fi->ev.rule - MD_RULE_COUNT]++;
        if (!p->opt->report_findings || !path) continue;
        if (p->opt->max_reports && p->findings_shown >= p->opt->max_reports) {
            if (p->findings_shown++ == p->opt->max_reports)
                fprintf(out, "%s: more findings; only the first %zu are shown\n", path,
                        p->opt->max_reports);
            continue;
        }
        p->findings_shown++;
        char when[MD_TIME_STR_MAX];
        md_time_format(fi->ev.ts, when);
        md_progress_clear(&p->prog);
        fprintf(out, "%s: %s %s: %s: %s\n", path, se->symbol, when, md_qrule_code(fi->ev.rule),
                fi->ev.detail);
    }
}

static void add_rejection(batch *bt, const char *symbol, md_interval iv, const md_qevent *e)
{
    rej_series *r = NULL;
    for (size_t i = 0; i < bt->nrej && !r; i++)
        if (bt->rej[i].iv == iv && strcmp(bt->rej[i].symbol, symbol) == 0) r = &bt->rej[i];
    if (!r) {
        MD_ARRAY_GROW(bt->rej, bt->nrej, bt->cap_rej, 8);
        r = &bt->rej[bt->nrej++];
        snprintf(r->symbol, sizeof r->symbol, "%s", symbol);
        r->iv = iv;
        md_qevent_vec_init(&r->ev);
    }
    md_qevent_vec_push(&r->ev, e);
}

/* -- sampled validation ----------------------------------------------------------------------
 * The hard rules run on every row in the parse workers. The soft rules and the per-bar score
 * (md_writer judging) read each series' stored context and stored versions of its range: per
 * bar that is cheap on long runs of one series, but a file of many symbols brings each of them
 * a few bars per batch, and the per-series reads and writes would dominate the load (a
 * 2000-symbol daily file loaded 3.3x slower judged in full). So a series' piece of a batch
 * (its bars in one transaction) is judged when it has at least JUDGE_RUN bars, and
 * otherwise when it is the series' first piece of the load and then one piece in
 * JUDGE_EVERY. Bars not judged are stored unscored
 * (quality null) with no findings; GET /quality still grades them (it runs the soft rules
 * over the stored bars). --validation full judges every piece. */
#define JUDGE_RUN 64
#define JUDGE_EVERY 16

/* How many pieces of the series were seen before this one (and counts this one). */
static uint64_t next_piece(ld_pipe *p, const md_series *se)
{
    char key[MD_SYMBOL_MAX + 16];
    snprintf(key, sizeof key, "%s\n%d", se->symbol, (int)se->iv);
    uint64_t *n = md_dict_put_str(&p->pieces, key, NULL);
    return (*n)++;
}

static uint8_t *judge_mask(ld_pipe *p, const md_series *ser, size_t nser)
{
    uint8_t *mask = md_malloc(nser ? nser : 1);
    for (size_t k = 0; k < nser; k++) {
        const md_series *se = &ser[k];
        if (!se->n) {
            mask[k] = 0;
            continue;
        }
        mask[k] =
            p->opt->full_validation || se->n >= JUDGE_RUN || next_piece(p, se) % JUDGE_EVERY == 0;
    }
    return mask;
}

static const md_series *cmp_base;
static int cmp_piece(const void *a, const void *b)
{
    const md_series *x = &cmp_base[*(const size_t *)a], *y = &cmp_base[*(const size_t *)b];
    int c = strcmp(x->symbol, y->symbol);
    if (c) return c;
    if (x->iv != y->iv) return x->iv < y->iv ? -1 : 1;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

/* One series per (symbol, interval) of the batch: the pieces a series has in several blocks
 * are copied, in input order, into *scratch (heap, caller frees). The store then writes, and
 * the writer judges, each series once per transaction - judging reads the series' stored
 * context, which costs milliseconds a query on a partitioned PostgreSQL table. */
static md_series *merge_pieces(const batch *bt, size_t *n_out, md_bar **scratch)
{
    md_series *out = md_malloc((bt->nser ? bt->nser : 1) * sizeof *out);
    size_t *ord = md_malloc((bt->nser ? bt->nser : 1) * sizeof *ord);
    for (size_t k = 0; k < bt->nser; k++) ord[k] = k;
    cmp_base = bt->ser; /* the writer thread is the only caller */
    qsort(ord, bt->nser, sizeof *ord, cmp_piece);
    size_t multi = 0; /* bars of series with several pieces */
    for (size_t i = 0; i < bt->nser;) {
        size_t j = i + 1;
        while (j < bt->nser && strcmp(bt->ser[ord[i]].symbol, bt->ser[ord[j]].symbol) == 0 &&
               bt->ser[ord[i]].iv == bt->ser[ord[j]].iv)
            j++;
        if (j - i > 1)
            for (size_t k = i; k < j; k++) multi += bt->ser[ord[k]].n;
        i = j;
    }
    *scratch = NULL; /* allocated at the first series in several pieces */
    size_t n = 0, used = 0;
    for (size_t i = 0; i < bt->nser;) {
        size_t j = i + 1;
        while (j < bt->nser && strcmp(bt->ser[ord[i]].symbol, bt->ser[ord[j]].symbol) == 0 &&
               bt->ser[ord[i]].iv == bt->ser[ord[j]].iv)
            j++;
        out[n] = bt->ser[ord[i]];
        if (j - i > 1) {
            /* the first pass counted this group's bars in multi */
            if (!*scratch) *scratch = md_malloc((multi ? multi : 1) * sizeof **scratch);
            md_bar *dst = *scratch + used;
            size_t m = 0;
            for (size_t k = i; k < j; k++) {
                memcpy(dst + m, bt->ser[ord[k]].bars, bt->ser[ord[k]].n * sizeof *dst);
                m += bt->ser[ord[k]].n;
            }
            out[n].bars = dst;
            out[n].n = m;
            used += m;
        }
        n++;
        i = j;
    }
    md_free(ord);
    *n_out = n;
    return out;
}

/* -- the store stage --------------------------------------------------------------------------
 * A batch ready to be stored: its blocks (freed once stored), its series (pieces merged),
 * the files' marks, the soft findings of the judged series and the rejected rows. */
typedef struct ld_store_job {
    ld_block **held;
    size_t nheld;
    md_series *ser;
    size_t nser;
    md_bar *scratch;
    md_qevent_vec *found; /* per series */
    md_load_mark *marks;
    size_t nmarks;
    rej_series *rej;
    size_t nrej;
} ld_store_job;

static void job_free(ld_pipe *p, ld_store_job *j)
{
    for (size_t i = 0; i < j->nheld; i++) md_load__block_free(p, j->held[i]);
    for (size_t k = 0; j->found && k < j->nser; k++) md_qevent_vec_deinit(&j->found[k]);
    for (size_t i = 0; i < j->nrej; i++) md_qevent_vec_deinit(&j->rej[i].ev);
    md_free(j->held);
    md_free(j->ser);
    md_free(j->scratch);
    md_free(j->found);
    md_free(j->marks);
    md_free(j->rej);
    md_free(j);
}

static void abort_load(ld_pipe *p, int rc, const md_error *e)
{
    pthread_mutex_lock(&p->mu);
    p->abort_rc = rc;
    p->abort_err = *e;
    __atomic_store_n(&p->abort, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&p->mu);
    md_progress_clear(&p->prog);
    fprintf(p->opt->report ? p->opt->report : stderr, "load: %s\n", e->msg);
}

/* Stores one batch: bars and marks in one transaction (already judged: nothing is judged
 * here), then the findings - the judged series' and, as series without bars, the rejected
 * rows'. */
static void store_job(ld_pipe *p, ld_store_job *j)
{
    if (__atomic_load_n(&p->abort, __ATOMIC_ACQUIRE)) return;
    size_t n = j->nser + j->nrej;
    md_series *ser = md_calloc(n ? n : 1, sizeof *ser);
    md_qevent_vec *ev = md_calloc(n ? n : 1, sizeof *ev);
    for (size_t k = 0; k < j->nser; k++) {
        ser[k] = j->ser[k];
        if (j->found) ev[k] = j->found[k];
    }
    for (size_t i = 0; i < j->nrej; i++) {
        ser[j->nser + i] = (md_series){j->rej[i].symbol, j->rej[i].iv, NULL, 0};
        ev[j->nser + i] = j->rej[i].ev;
    }
    md_write req = {.origin = MD_WRITE_LOAD,
                    .flags = MD_WRITE_JUDGED,
                    .series = ser,
                    .n_series = n,
                    .marks = j->marks,
                    .n_marks = j->nmarks,
                    .judged_findings = ev};
    md_write_result res;
    md_write_result_init(&res, 0);
    md_error e;
    int rc = md_writer_write(p->w, &req, &res, &e);
    md_free(ser);
    md_free(ev); /* the vectors stay the job's */
    size_t stored = res.stored;
    md_write_result_deinit(&res);
    if (rc) {
        abort_load(p, rc, &e);
        return;
    }
    __atomic_add_fetch(&p->stats->stored, stored, __ATOMIC_RELAXED);
}

/* Store thread: takes the batches the writer hands over, one at a time, so the next batch
 * is read, reported and judged while this one is written. */
void *md_load__store_main(void *arg)
{
    ld_pipe *p = arg;
    pthread_setname_np(pthread_self(), "load-store");
    pthread_mutex_lock(&p->st_mu);
    for (;;) {
        while (!p->st_job && !p->st_stop) pthread_cond_wait(&p->st_cond, &p->st_mu);
        ld_store_job *j = p->st_job;
        if (!j) break;
        pthread_mutex_unlock(&p->st_mu);
        store_job(p, j);
        job_free(p, j);
        pthread_mutex_lock(&p->st_mu);
        p->st_job = NULL;
        pthread_cond_broadcast(&p->st_cond);
    }
    pthread_mutex_unlock(&p->st_mu);
    return NULL;
}

static void hand_over(ld_pipe *p, ld_store_job *j)
{
    pthread_mutex_lock(&p->st_mu);
    while (p->st_job) pthread_cond_wait(&p->st_cond, &p->st_mu);
    p->st_job = j;
    pthread_cond_broadcast(&p->st_cond);
    pthread_mutex_unlock(&p->st_mu);
}

/* Judges a batch (the sampled series) and hands it to the store thread. Judging runs as a
 * validate-only judgement: its context is the stored bars plus, kept in memory by the
 * writer, the newest bars of each series judged before - so a batch is judged right even
 * while the previous one is still being written. Its findings are recorded once the bars
 * are stored. */
static void commit(ld_pipe *p, batch *bt)
{
    if (!bt->nheld && !bt->nmarks) return;
    ld_store_job *j = md_calloc(1, sizeof *j);
    j->held = bt->held, j->nheld = bt->nheld;
    j->marks = bt->marks, j->nmarks = bt->nmarks;
    j->rej = bt->rej, j->nrej = bt->nrej;
    bt->held = NULL, bt->cap_held = 0;
    bt->marks = NULL, bt->cap_marks = 0;
    bt->rej = NULL, bt->cap_rej = 0;
    if (!__atomic_load_n(&p->abort, __ATOMIC_ACQUIRE) && !p->opt->validate_only) {
        j->ser = merge_pieces(bt, &j->nser, &j->scratch);
        uint8_t *mask = judge_mask(p, j->ser, j->nser);
        md_series *sub = md_malloc((j->nser ? j->nser : 1) * sizeof *sub);
        size_t *map = md_malloc((j->nser ? j->nser : 1) * sizeof *map), nsub = 0;
        for (size_t k = 0; k < j->nser; k++) {
            if (mask[k]) {
                sub[nsub] = j->ser[k];
                map[nsub++] = k;
                p->stats->judged += j->ser[k].n;
            } else {
                p->stats->unjudged += j->ser[k].n;
            }
        }
        md_write_result res;
        md_write_result_init(&res, 0);
        res.collect_findings = 1;
        md_write req = {.origin = MD_WRITE_LOAD,
                        .flags = MD_WRITE_VALIDATE_ONLY | MD_WRITE_CHECKED,
                        .series = sub,
                        .n_series = nsub};
        md_writer_write(p->w, &req, &res, NULL);
        on_findings(p, sub, nsub, NULL, &res, NULL);
        j->found = md_calloc(j->nser ? j->nser : 1, sizeof *j->found);
        for (size_t i = 0; i < res.n_findings; i++)
            md_qevent_vec_push(&j->found[map[res.findings[i].series]], &res.findings[i].ev);
        md_write_result_deinit(&res);
        md_free(sub);
        md_free(map);
        md_free(mask);
    }
    bt->nheld = bt->nser = bt->nmarks = bt->rows = bt->nrej = 0;
    if (p->opt->validate_only) {
        job_free(p, j);
        return;
    }
    hand_over(p, j);
}

/* CSV field: quoted when it holds a delimiter, a quote or a line end. */
static void csv_field(FILE *f, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') quote = 1;
    if (!quote) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

/* The message of a rejected line, derived again from the line. */
static void reject_msg(const ld_pipe *p, const ld_block *b, const ld_reject *r, char *out, size_t n)
{
    const ld_file *f = b->file;
    if (r->off == UINT32_MAX) {
        snprintf(out, n, "line longer than %u bytes; skipped", (unsigned)MD_LOAD_BUF_BYTES);
        return;
    }
    md_csv_row row;
    md_error e;
    if (md_csv_parse_row(&f->layout, b->data + r->off, r->len, &row, &e) < 0) {
        snprintf(out, n, "%s", e.msg);
        return;
    }
    md_rule rule;
    int iv = p->opt->interval < 0 && row.per_iv >= 0 ? row.per_iv : f->iv;
    if (iv >= 0 && md_writer_check_bar(p->w, &row.bar, (md_interval)iv, p->now, &rule, &e) != 0) {
        snprintf(out, n, "%s", e.msg);
        return;
    }
    snprintf(out, n, "%s", md_rule_code((md_rule)r->rule));
}

/* A rejected row that broke a hard rule, as a finding of its series (validity). */
static void reject_finding(ld_pipe *p, batch *bt, const ld_block *b, const ld_reject *r)
{
    const ld_file *f = b->file;
    if (r->off == UINT32_MAX || r->rule == MD_RULE_PARSE || f->iv < 0) return;
    if (!p->opt->grades && p->opt->validate_only) return;
    md_csv_row row;
    md_error e;
    if (md_csv_parse_row(&f->layout, b->data + r->off, r->len, &row, &e) < 0) return;
    const char *symbol = row.symbol[0] ? row.symbol : f->symbol;
    if (!symbol[0]) return;
    md_rule rule = (md_rule)r->rule;
    md_interval iv = (md_interval)(p->opt->interval < 0 && row.per_iv >= 0 ? row.per_iv : f->iv);
    if (md_writer_check_bar(p->w, &row.bar, iv, p->now, &rule, &e) == 0) return;
    md_qevent ev;
    md_qevent_reject(&ev, &row.bar, rule, e.msg);
    if (p->opt->grades) md_quality_tally_add(md_load_grades_get(p->opt->grades, symbol, iv), &ev);
    if (!p->opt->validate_only) add_rejection(bt, symbol, iv, &ev);
}

static void report_rejects(ld_pipe *p, batch *bt, ld_block *b)
{
    ld_file *f = b->file;
    const md_load_options *opt = p->opt;
    FILE *out = opt->report ? opt->report : stderr;
    for (size_t i = 0; i < b->nrej; i++) {
        const ld_reject *r = &b->rej[i];
        reject_finding(p, bt, b, r);
        long long line = (long long)f->w_lines + r->line + 1;
        p->stats->rejected++;
        p->stats->by_rule[r->rule]++;
        md_metric_add(MD_M_INGEST_REJECTED, 1, md_rule_code((md_rule)r->rule));
        int show = !opt->max_reports || f->w_reports < opt->max_reports;
        if (!show && !p->rej && f->w_reports > opt->max_reports) continue;
        char msg[MD_ERROR_MSG_MAX]; /* e.msg whole: a reject file line is never cut */
        reject_msg(p, b, r, msg, sizeof msg);
        if (show) {
            md_progress_clear(&p->prog);
            fprintf(out, "%s:%lld: %s\n", f->path, line, msg);
        } else if (f->w_reports == opt->max_reports) {
            md_progress_clear(&p->prog);
            fprintf(out, "%s: more bad rows; only the first %zu are shown%s\n", f->path,
                    opt->max_reports, p->rej ? " (the reject file has them all)" : "");
        }
        f->w_reports++;
        if (p->rej) {
            const char *row =
                r->off == UINT32_MAX ? (b->long_head ? b->long_head : "") : b->data + r->off;
            size_t len = r->off == UINT32_MAX ? strlen(row) : r->len;
            while (len && (row[len - 1] == '\r' || row[len - 1] == '\n')) len--;
            csv_field(p->rej, f->path, strlen(f->path));
            fprintf(p->rej, ",%lld,%s,", line, md_rule_code((md_rule)r->rule));
            csv_field(p->rej, msg, strlen(msg));
            fputc(',', p->rej);
            csv_field(p->rej, row, len);
            fputc('\n', p->rej);
        }
    }
}

static void file_failed(ld_pipe *p, ld_file *f, int rc, const char *msg, int after_data)
{
    if (f->w_failed) return;
    f->w_failed = 1;
    p->stats->files_failed++;
    p->files_done++;
    md_progress_clear(&p->prog);
    FILE *out = p->opt->report ? p->opt->report : stderr;
    if (after_data)
        fprintf(out, "%s (after line %lld)\n", msg, (long long)f->w_lines);
    else
        fprintf(out, "%s\n", msg);
    if (!p->file_rc) {
        p->file_rc = rc;
        if (after_data)
            md_error_set(&p->file_err, rc, "%s (after line %lld)", msg, (long long)f->w_lines);
        else
            md_error_set(&p->file_err, rc, "%s", msg);
    }
}

static void set_mark(batch *bt, const ld_file *f, int done)
{
    md_load_mark *m = NULL;
    for (size_t i = bt->nmarks; i-- > 0;)
        if (bt->marks[i].path == f->key) {
            m = &bt->marks[i];
            break;
        }
    if (!m) {
        MD_ARRAY_GROW(bt->marks, bt->nmarks, bt->cap_marks, 16);
        m = &bt->marks[bt->nmarks++];
    }
    m->path = f->key;
    m->size = f->size;
    m->mtime_ns = f->mtime_ns;
    m->offset = f->w_offset;
    m->lines = f->w_lines;
    m->rows = f->w_rows;
    m->rejected = f->w_rejected;
    m->interval = f->iv;
    m->done = done;
}

static void hold(batch *bt, ld_block *b)
{
    MD_ARRAY_GROW(bt->held, bt->nheld, bt->cap_held, 16);
    bt->held[bt->nheld++] = b;
    for (size_t i = 0; i < b->nseries; i++) {
        MD_ARRAY_GROW(bt->ser, bt->nser, bt->cap_ser, 64);
        bt->ser[bt->nser++] = b->series[i];
        bt->rows += b->series[i].n;
    }
}

/* Takes one block, in order. */
static void handle(ld_pipe *p, batch *bt, ld_block *b)
{
    ld_file *f = b->file;
    md_load_stats *st = p->stats;
    if (__atomic_load_n(&p->abort, __ATOMIC_ACQUIRE) || f->w_failed) {
        md_load__block_free(p, b);
        return;
    }
    if (b->kind == LD_SKIP) {
        st->files_skipped++;
        p->files_done++;
        md_load__block_free(p, b);
        return;
    }
    if (b->kind == LD_FAIL) {
        file_failed(p, f, b->fail_rc, b->fail_msg, b->last);
        md_load__block_free(p, b);
        return;
    }
    if (b->fail_rc) { /* the interval could not be inferred from this block */
        char msg[400];
        snprintf(msg, sizeof msg, "%s: %s", f->path, f->iv_msg);
        file_failed(p, f, b->fail_rc, msg, 0);
        md_load__block_free(p, b);
        return;
    }
    if (b->index == 0 && f->resumed) st->files_resumed++;
    report_rejects(p, bt, b);
    st->rows += b->rows;
    st->accepted += b->rows - b->nrej;
    f->w_lines += b->nlines;
    f->w_offset = b->end_offset;
    f->w_rows += (int64_t)b->rows;
    f->w_rejected += (int64_t)b->nrej;
    if (b->last) {
        f->w_finished = 1;
        p->files_done++;
    }
    uint64_t raw_done = b->raw_done;
    if (p->opt->validate_only) {
        md_write_result res;
        md_write_result_init(&res, 0);
        res.collect_findings = want_findings(p);
        md_write req = {.origin = MD_WRITE_LOAD,
                        .flags = MD_WRITE_VALIDATE_ONLY | MD_WRITE_CHECKED,
                        .series = b->series,
                        .n_series = b->nseries};
        md_writer_write(p->w, &req, &res, NULL);
        on_findings(p, b->series, b->nseries, NULL, &res, f->path);
        md_write_result_deinit(&res);
        md_load__block_free(p, b);
    } else {
        if (p->marks) set_mark(bt, f, b->last);
        hold(bt, b);
    }
    md_progress_files(&p->prog, p->files_done, p->nfiles);
    md_progress_update(&p->prog, raw_done, st->rows);
}

void *md_load__writer_main(void *arg)
{
    ld_pipe *p = arg;
    pthread_setname_np(pthread_self(), "load-writer");
    batch bt;
    memset(&bt, 0, sizeof bt);
    size_t max_rows = p->opt->batch_rows ? p->opt->batch_rows : 50000;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        ld_block *b;
        for (;;) {
            b = p->ring[p->write_seq % p->max_inflight];
            if (b) break;
            if (p->reader_done && p->write_seq == p->next_seq) break;
            if (bt.nheld || bt.nmarks) { /* nothing ready: store what we have meanwhile */
                pthread_mutex_unlock(&p->mu);
                commit(p, &bt);
                pthread_mutex_lock(&p->mu);
                continue;
            }
            pthread_cond_wait(&p->ready_cond, &p->mu);
        }
        if (b) {
            p->ring[p->write_seq % p->max_inflight] = NULL;
            p->write_seq++;
        }
        pthread_mutex_unlock(&p->mu);
        if (!b) break;
        handle(p, &bt, b);
        if (bt.rows >= max_rows || bt.nheld >= p->max_inflight / 3) commit(p, &bt);
    }
    commit(p, &bt);
    md_progress_files(&p->prog, p->files_done, p->nfiles);
    md_progress_update(&p->prog, p->total_bytes, p->stats->rows);
    md_free(bt.held);
    md_free(bt.ser);
    md_free(bt.marks);
    md_free(bt.rej);
    return NULL;
}
