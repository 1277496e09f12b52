/* metrics.c - the metric registry. An unlabelled counter or gauge is one _Atomic double
 * (no lock, no lookup: the hot per-message counters are of this kind); labelled series
 * and histograms sit in a small array per metric, searched under the metric's mutex. */
#include "core/metrics.h"

#include "core/error.h"
#include "core/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

enum { K_COUNTER, K_GAUGE, K_HISTOGRAM, K_COUNT };
static const char *const kind_names[] = {"counter", "gauge", "histogram"};
_Static_assert(MD_ARRAY_LEN(kind_names) == K_COUNT, "one name per kind");

static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NB (sizeof buckets / sizeof buckets[0])

typedef struct series {
    char *key; /* label values joined by \x1f; "" for none */
    double value;
    uint64_t count;          /* histogram */
    double sum;              /* histogram */
    uint64_t bucket[NB + 1]; /* histogram, non-cumulative; last = +Inf */
} series;

typedef struct {
    int kind;
    const char *name, *labels, *help;
    pthread_mutex_t lock; /* guards s, n, cap */
    series *s;            /* labelled series, and the one series of a histogram */
    size_t n, cap;
    _Atomic double value; /* an unlabelled counter or gauge */
} metric;

static metric metrics[] = {
#define MD_METRIC(id, kind, name, labels, help)                                                    \
    [MD_M_##id] = {K_##kind, name, labels, help, PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0},
#include "core/metrics.def"
#undef MD_METRIC
};
_Static_assert(MD_ARRAY_LEN(metrics) == MD_M_COUNT, "one row per metric id");

/* The metric of id; an unlabelled counter or gauge has its value in m->value. */
static metric *at(md_metric_id id, int *atomic_value)
{
    md_assert((unsigned)id < MD_M_COUNT, "metric id %d", (int)id);
    metric *m = &metrics[id];
    *atomic_value = m->labels[0] == 0 && m->kind != K_HISTOGRAM;
    return m;
}

/* Counted each time: caching it in the shared table was a data race between threads
 * (ThreadSanitizer), and the label lists are a few characters long. */
static int nlabels(const metric *m)
{
    int n = m->labels[0] ? 1 : 0;
    for (const char *p = m->labels; *p; p++) n += *p == ',';
    return n;
}

static void make_key(metric *m, va_list ap, char *key, size_t n)
{
    size_t len = 0;
    key[0] = 0;
    int k = nlabels(m);
    for (int i = 0; i < k; i++) {
        const char *v = va_arg(ap, const char *);
        if (!v) v = "";
        if (i && len + 1 < n) key[len++] = '\x1f';
        size_t vl = strlen(v);
        if (len + vl >= n) vl = n - len - 1;
        memcpy(key + len, v, vl);
        len += vl;
        key[len] = 0;
    }
}

/* Finds or creates the series (caller holds m->lock). */
static series *get(metric *m, const char *key, int create)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].key, key) == 0) return &m->s[i];
    if (!create) return NULL;
    MD_ARRAY_GROW(m->s, m->n, m->cap, 8);
    series *s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    s->key = md_strdup(key);
    return s;
}

/* Adds v to (add) or sets to v (!add) the series of a labelled counter or gauge whose
 * label values ap holds. */
static void update_labelled(metric *m, va_list ap, double v, int add)
{
    char key[512];
    make_key(m, ap, key, sizeof key);
    pthread_mutex_lock(&m->lock);
    series *s = get(m, key, 1);
    s->value = add ? s->value + v : v;
    pthread_mutex_unlock(&m->lock);
}

/* md_metric_add (add) and md_metric_set: ap holds the label values of a labelled metric. */
static void update(md_metric_id id, double v, va_list ap, int add)
{
    int plain;
    metric *m = at(id, &plain);
    if (!plain) {
        update_labelled(m, ap, v, add);
    } else if (add) {
        /* one atomic read-modify-write; `m->value += v` would be the same loop, but GCC
         * makes it call libatomic for the floating-point exception flags */
        double cur = atomic_load_explicit(&m->value, memory_order_relaxed);
        while (!atomic_compare_exchange_weak(&m->value, &cur, cur + v)) {
        }
    } else {
        atomic_store(&m->value, v);
    }
}

void md_metric_add(md_metric_id id, double v, ...)
{
    va_list ap;
    va_start(ap, v);
    update(id, v, ap, 1);
    va_end(ap);
}

void md_metric_set(md_metric_id id, double v, ...)
{
    va_list ap;
    va_start(ap, v);
    update(id, v, ap, 0);
    va_end(ap);
}

void md_metric_observe(md_metric_id id, double v, ...)
{
    int plain;
    metric *m = at(id, &plain);
    md_assert(m->kind == K_HISTOGRAM, "%s is not a histogram", m->name);
    char key[512];
    va_list ap;
    va_start(ap, v);
    make_key(m, ap, key, sizeof key);
    va_end(ap);
    size_t b = 0;
    while (b < NB && v > buckets[b]) b++;
    pthread_mutex_lock(&m->lock);
    series *s = get(m, key, 1);
    s->count++;
    s->sum += v;
    s->bucket[b]++;
    pthread_mutex_unlock(&m->lock);
}

double md_metric_get(md_metric_id id, ...)
{
    int plain;
    metric *m = at(id, &plain);
    if (plain) return atomic_load(&m->value);
    char key[512];
    va_list ap;
    va_start(ap, id);
    make_key(m, ap, key, sizeof key);
    va_end(ap);
    pthread_mutex_lock(&m->lock);
    series *s = get(m, key, 0);
    double v = s ? (m->kind == K_HISTOGRAM ? (double)s->count : s->value) : 0;
    pthread_mutex_unlock(&m->lock);
    return v;
}

double md_metric_sum(md_metric_id id)
{
    int plain;
    metric *m = at(id, &plain);
    if (plain) return atomic_load(&m->value);
    double v = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        v += m->kind == K_HISTOGRAM ? (double)m->s[i].count : m->s[i].value;
    pthread_mutex_unlock(&m->lock);
    return v;
}

static void label_escape(md_buf *out, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' || v[i] == '"') md_buf_putc(out, '\\');
        if (v[i] == '\n') {
            md_buf_puts(out, "\\n");
            continue;
        }
        md_buf_putc(out, v[i]);
    }
}

/* Writes {a="x",b="y"[,extra]} for a series key. */
static void labels(md_buf *out, metric *m, const char *key, const char *extra)
{
    int k = nlabels(m);
    if (k == 0 && !extra) return;
    md_buf_putc(out, '{');
    const char *names = m->labels, *val = key;
    for (int i = 0; i < k; i++) {
        const char *ne = strchr(names, ',');
        size_t nl = ne ? (size_t)(ne - names) : strlen(names);
        const char *ve = strchr(val, '\x1f');
        size_t vl = ve ? (size_t)(ve - val) : strlen(val);
        if (i) md_buf_putc(out, ',');
        md_buf_append(out, names, nl);
        md_buf_puts(out, "=\"");
        label_escape(out, val, vl);
        md_buf_putc(out, '"');
        names = ne ? ne + 1 : names + nl;
        val = ve ? ve + 1 : val + vl;
    }
    if (extra) {
        if (k) md_buf_putc(out, ',');
        md_buf_puts(out, extra);
    }
    md_buf_putc(out, '}');
}

void md_metrics_render(md_buf *out)
{
    for (int id = 0; id < MD_M_COUNT; id++) {
        int plain;
        metric *m = at((md_metric_id)id, &plain);
        md_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                      kind_names[m->kind]);
        if (plain) { /* an unlabelled counter or gauge is always present, at zero at first */
            md_buf_puts(out, m->name);
            md_buf_putc(out, ' ');
            md_buf_num(out, atomic_load(&m->value));
            md_buf_putc(out, '\n');
            continue;
        }
        pthread_mutex_lock(&m->lock);
        if (m->n == 0 && nlabels(m) == 0) /* an unlabelled histogram, nothing observed yet */
            md_buf_printf(out, "%s_bucket{le=\"+Inf\"} 0\n%s_sum 0\n%s_count 0\n", m->name, m->name,
                          m->name);
        for (size_t i = 0; i < m->n; i++) {
            series *s = &m->s[i];
            if (m->kind != K_HISTOGRAM) {
                md_buf_puts(out, m->name);
                labels(out, m, s->key, NULL);
                md_buf_putc(out, ' ');
                md_buf_num(out, s->value);
                md_buf_putc(out, '\n');
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b <= NB; b++) {
                cum += s->bucket[b];
                char le[48];
                if (b < NB)
                    snprintf(le, sizeof le, "le=\"%g\"", buckets[b]);
                else
                    snprintf(le, sizeof le, "le=\"+Inf\"");
                md_buf_printf(out, "%s_bucket", m->name);
                labels(out, m, s->key, le);
                md_buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            md_buf_printf(out, "%s_sum", m->name);
            labels(out, m, s->key, NULL);
            md_buf_putc(out, ' ');
            md_buf_num(out, s->sum);
            md_buf_printf(out, "\n%s_count", m->name);
            labels(out, m, s->key, NULL);
            md_buf_printf(out, " %llu\n", (unsigned long long)s->count);
        }
        pthread_mutex_unlock(&m->lock);
    }
}
