/* load_parse.c - the workers: one block of lines into checked bars grouped by symbol.
 *
 * Per block: parse every line (csv.c), take the file's interval (the first block with rows
 * decides it; later blocks of the file wait for that decision, which is never more than a
 * few blocks away because workers take blocks in order), check every bar against the hard
 * rules, group the bars by symbol (order of first appearance) and sort each group by time
 * when the file was not already in order. Sorting is stable, so when a block holds the same
 * timestamp twice the later line is still written last and wins, as an upsert should. */
#include "ingest/load_int.h"

#include "core/dict.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

/* Where a parsed row came from (rejects found after parsing need its line). */
typedef struct {
    uint32_t line, off, len;
} rowref;

/* The block's symbols: name -> uint32_t index into b->syms (order of first appearance). */
typedef struct {
    md_dict index;
    size_t cap; /* of b->syms */
} symtab;

static uint32_t intern(ld_block *b, symtab *t, const char *s)
{
    int created;
    uint32_t *ix = md_dict_put_str(&t->index, s, &created);
    if (!created) return *ix;
    MD_ARRAY_GROW(b->syms, b->nsyms, t->cap, 8);
    snprintf(b->syms[b->nsyms], sizeof b->syms[0], "%s", s);
    *ix = b->nsyms;
    return b->nsyms++;
}

static void add_reject(ld_block *b, size_t *cap, uint32_t line, uint32_t off, uint32_t len,
                       md_rule rule)
{
    MD_ARRAY_GROW(b->rej, b->nrej, *cap, 16);
    b->rej[b->nrej++] = (ld_reject){line, off, len, (uint32_t)rule};
}

typedef struct {
    uint32_t *sym; /* symbol index of each bar */
    rowref *ref;
    int8_t *riv; /* each bar's own interval (its interval or <PER> column), -1: the file's */
    int per_iv;  /* interval from a Stooq <PER> column, -1 */
    size_t rej_cap;
} scratch;

static void parse_lines(ld_block *b, scratch *sc)
{
    const ld_file *f = b->file;
    const char *s = b->data, *end = b->data + b->len;
    uint32_t line = 0;
    size_t cap = b->len / 40 + 16;
    b->bars = md_malloc(cap * sizeof *b->bars);
    sc->sym = md_malloc(cap * sizeof *sc->sym);
    sc->ref = md_malloc(cap * sizeof *sc->ref);
    sc->riv = md_malloc(cap * sizeof *sc->riv);
    /* --interval takes precedence over the column */
    int own_iv = b->pipe->opt->interval < 0;
    symtab tab = {.cap = 0};
    md_dict_init(&tab.index, sizeof(uint32_t));
    uint32_t last_sym = UINT32_MAX;
    const char *last_name = NULL;
    if (b->long_line) {
        add_reject(b, &sc->rej_cap, 0, UINT32_MAX, 0, MD_RULE_PARSE);
        b->rows++;
        line = 1;
    }
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        md_csv_row row;
        md_error e;
        int rc = md_csv_parse_row(&f->layout, s, len, &row, &e);
        if (rc == 0) {
            if (b->nbars == cap) {
                cap *= 2;
                b->bars = md_realloc(b->bars, cap * sizeof *b->bars);
                sc->sym = md_realloc(sc->sym, cap * sizeof *sc->sym);
                sc->ref = md_realloc(sc->ref, cap * sizeof *sc->ref);
                sc->riv = md_realloc(sc->riv, cap * sizeof *sc->riv);
            }
            const char *name = row.symbol[0] ? row.symbol : f->symbol;
            if (last_name == NULL || strcmp(name, last_name) != 0) {
                last_sym = intern(b, &tab, name);
                last_name = b->syms[last_sym];
            }
            b->bars[b->nbars] = row.bar;
            sc->sym[b->nbars] = last_sym;
            sc->ref[b->nbars] = (rowref){line, (uint32_t)(s - b->data), (uint32_t)len};
            sc->riv[b->nbars] = (int8_t)(own_iv ? row.per_iv : -1);
            b->nbars++;
            b->rows++;
            if (row.per_iv >= 0 && sc->per_iv < 0) sc->per_iv = row.per_iv;
        } else if (rc < 0) {
            add_reject(b, &sc->rej_cap, line, (uint32_t)(s - b->data), (uint32_t)len,
                       MD_RULE_PARSE);
            b->rows++;
        }
        line++;
        s = nl ? nl + 1 : end;
    }
    b->nlines = line;
    md_dict_deinit(&tab.index);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The interval of the file, inferred from the spacing of the first symbol's timestamps. */
static int infer(const ld_block *b, const scratch *sc)
{
    if (sc->per_iv >= 0) return sc->per_iv;
    int64_t *ts = md_malloc(b->nbars * sizeof *ts);
    size_t k = 0;
    for (size_t i = 0; i < b->nbars; i++)
        if (sc->sym[i] == sc->sym[0]) ts[k++] = b->bars[i].ts;
    qsort(ts, k, sizeof *ts, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || ts[u - 1] != ts[i]) ts[u++] = ts[i];
    int iv = md_infer_interval(ts, u);
    md_free(ts);
    return iv;
}

/* Waits for the file's interval; decides it when this block has the turn. -1 when the
 * file failed (this block or an earlier one could not infer it). */
static int file_interval(ld_pipe *p, ld_block *b, const scratch *sc)
{
    ld_file *f = b->file;
    int cand = -2; /* inferred outside the lock when this block will likely decide */
    if (b->nbars && __atomic_load_n(&f->iv, __ATOMIC_ACQUIRE) < 0 &&
        __atomic_load_n(&f->iv_turn, __ATOMIC_ACQUIRE) == b->index)
        cand = infer(b, sc);
    pthread_mutex_lock(&p->mu);
    while (f->iv < 0 && !f->iv_failed && f->iv_turn < b->index)
        pthread_cond_wait(&p->iv_cond, &p->mu);
    if (f->iv < 0 && !f->iv_failed) { /* this block's turn */
        if (b->nbars) {
            int iv = cand != -2 ? cand : infer(b, sc);
            if (iv < 0) {
                __atomic_store_n(&f->iv_failed, 1, __ATOMIC_RELEASE);
                snprintf(f->iv_msg, sizeof f->iv_msg,
                         "cannot infer the interval from the timestamps; pass --interval");
                b->fail_rc = MD_ECSV; /* the writer reports the file here */
            } else {
                __atomic_store_n(&f->iv, iv, __ATOMIC_RELEASE);
            }
        } else {
            __atomic_store_n(&f->iv_turn, b->index + 1, __ATOMIC_RELEASE);
        }
        pthread_cond_broadcast(&p->iv_cond);
    }
    int iv = f->iv_failed ? -1 : f->iv;
    pthread_mutex_unlock(&p->mu);
    return iv;
}

static int cmp_reject(const void *a, const void *b)
{
    uint32_t x = ((const ld_reject *)a)->line, y = ((const ld_reject *)b)->line;
    return (x > y) - (x < y);
}

/* A bar's interval: its row's own, else the file's. */
static md_interval bar_iv(const scratch *sc, size_t i, md_interval iv)
{
    return sc->riv[i] >= 0 ? (md_interval)sc->riv[i] : iv;
}

/* Checks every bar against the hard rules; rejected bars leave the block. */
static void check_rules(ld_pipe *p, ld_block *b, scratch *sc, md_interval iv)
{
    size_t parse_rejects = b->nrej, keep = 0;
    for (size_t i = 0; i < b->nbars; i++) {
        md_rule rule;
        md_error e;
        if (md_writer_check_bar(p->w, &b->bars[i], bar_iv(sc, i, iv), p->now, &rule, &e) != 0) {
            add_reject(b, &sc->rej_cap, sc->ref[i].line, sc->ref[i].off, sc->ref[i].len, rule);
            continue;
        }
        if (keep != i) {
            b->bars[keep] = b->bars[i];
            sc->sym[keep] = sc->sym[i];
            sc->riv[keep] = sc->riv[i];
        }
        keep++;
    }
    b->nbars = keep;
    if (parse_rejects && b->nrej > parse_rejects) /* interleave the two kinds by line */
        qsort(b->rej, b->nrej, sizeof *b->rej, cmp_reject);
}

/* Stable merge sort of bars by time. */
static void sort_by_time(md_bar *v, size_t n, md_bar *tmp)
{
    if (n < 2) return;
    size_t h = n / 2;
    sort_by_time(v, h, tmp);
    sort_by_time(v + h, n - h, tmp);
    if (v[h - 1].ts <= v[h].ts) return;
    memcpy(tmp, v, h * sizeof *v);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) v[k++] = tmp[i].ts <= v[j].ts ? tmp[i++] : v[j++];
    while (i < h) v[k++] = tmp[i++];
}

static void order_series(md_bar *v, size_t n)
{
    size_t i = 1;
    while (i < n && v[i - 1].ts <= v[i].ts) i++;
    if (i >= n) return; /* already in order: the usual case */
    int strictly_desc = 1;
    for (size_t k = 1; k < n && strictly_desc; k++)
        if (v[k - 1].ts <= v[k].ts) strictly_desc = 0;
    if (strictly_desc) { /* newest first: reverse */
        for (size_t a = 0, z = n - 1; a < z; a++, z--) {
            md_bar t = v[a];
            v[a] = v[z];
            v[z] = t;
        }
        return;
    }
    md_bar *tmp = md_malloc((n / 2 + 1) * sizeof *tmp);
    sort_by_time(v, n, tmp);
    md_free(tmp);
}

/* Groups the bars by symbol into series, in order of first appearance; rows whose interval
 * column names another interval than the file's are series of their own. */
static void group(ld_block *b, const scratch *sc, md_interval iv)
{
    if (b->nbars == 0) return;
    int mixed = 0;
    for (size_t i = 0; i < b->nbars && !mixed; i++) mixed = bar_iv(sc, i, iv) != iv;
    /* series key: symbol index, times MD_IV_COUNT plus the interval when mixed */
    size_t per = mixed ? MD_IV_COUNT : 1, nkeys = b->nsyms * per;
    b->series = md_malloc(nkeys * sizeof *b->series);
    if (nkeys == 1) {
        order_series(b->bars, b->nbars);
        b->series[0] = (md_series){b->syms[0], iv, b->bars, b->nbars};
        b->nseries = 1;
        return;
    }
    size_t *count = md_calloc(nkeys + 1, sizeof *count);
#define KEY(i) (sc->sym[i] * per + (mixed ? (size_t)bar_iv(sc, i, iv) : 0))
    for (size_t i = 0; i < b->nbars; i++) count[KEY(i) + 1]++;
    for (size_t s = 0; s < nkeys; s++) count[s + 1] += count[s];
    md_bar *out = md_malloc(b->nbars * sizeof *out);
    size_t *at = md_malloc(nkeys * sizeof *at);
    memcpy(at, count, nkeys * sizeof *at);
    for (size_t i = 0; i < b->nbars; i++) out[at[KEY(i)]++] = b->bars[i];
#undef KEY
    md_free(b->bars);
    b->bars = out;
    for (size_t s = 0; s < nkeys; s++) {
        size_t n = count[s + 1] - count[s];
        if (!n) continue; /* every bar of this series was rejected */
        order_series(out + count[s], n);
        md_interval siv = mixed ? (md_interval)(s % per) : iv;
        b->series[b->nseries++] = (md_series){b->syms[s / per], siv, out + count[s], n};
    }
    md_free(at);
    md_free(count);
}

/* Hands a parsed block to the writer, which takes the blocks in sequence order. */
static void block_ready(ld_pipe *p, ld_block *b)
{
    pthread_mutex_lock(&p->mu);
    p->ring[b->seq % p->max_inflight] = b;
    if (b->seq == p->write_seq) pthread_cond_signal(&p->ready_cond);
    pthread_mutex_unlock(&p->mu);
}

void md_load__parse_job(void *arg)
{
    ld_block *b = arg;
    ld_pipe *p = b->pipe;
    scratch sc = {NULL, NULL, NULL, -1, 0};
    if (b->kind == LD_DATA) parse_lines(b, &sc);
    int iv = file_interval(p, b, &sc);
    if (iv < 0) {
        b->nbars = 0; /* the file failed: its rows are not stored */
    } else if (b->nbars) {
        check_rules(p, b, &sc, (md_interval)iv);
        group(b, &sc, (md_interval)iv);
    }
    md_free(sc.sym);
    md_free(sc.ref);
    md_free(sc.riv);
    block_ready(p, b);
}

void md_load__block_free(ld_pipe *p, ld_block *b)
{
    pthread_mutex_lock(&p->mu);
    p->inflight--;
    p->inflight_bytes -= b->bytes;
    pthread_cond_broadcast(&p->credit_cond);
    pthread_mutex_unlock(&p->mu);
    md_free(b->data);
    md_free(b->long_head);
    md_free(b->fail_msg);
    md_free(b->bars);
    md_free(b->syms);
    md_free(b->series);
    md_free(b->rej);
    md_free(b);
}
