/* quality_gauge.c - keeps mdagent_quality_score{symbol} current.
 *
 *   writer commit --touch(symbol)--> dirty set --(one job at a time)--> worker: grade
 *   GET /metrics  --poke----------------------^                        each dirty symbol
 *
 * A symbol graded less than REFRESH_MS ago is deferred: it stays dirty, and further writes to
 * it schedule nothing; the next scrape of /metrics (the only place the gauge is seen) picks
 * it up. A busy live feed thus costs at most one grading per symbol per REFRESH_MS. Grading reads the symbol's stored bars: it runs on the worker pool,
 * never on the writer's or an event loop's thread. */
#include "query/quality.h"

#include "core/dict.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"

#include <pthread.h>
#include <string.h>

#define REFRESH_MS 5000
#define MAX_DIRTY 1024 /* more than this at once: grade everything in one report */

struct md_quality_gauge {
    md_services *svc;
    pthread_mutex_t lock;
    char **dirty;
    size_t n_dirty, cap_dirty;
    int all;           /* grade every stored symbol */
    int pending;       /* a job is queued or running */
    int fresh;         /* something was touched since the running job took its list */
    int stopped;       /* shutting down: schedule nothing */
    md_dict graded_ms; /* symbol -> int64_t: when it was last graded (monotonic) */
};

static void graded(md_quality_gauge *g, const char *symbol, int64_t now_ms)
{
    pthread_mutex_lock(&g->lock);
    *(int64_t *)md_dict_put_str(&g->graded_ms, symbol, NULL) = now_ms;
    pthread_mutex_unlock(&g->lock);
}

/* Caller holds lock. Returns 1 when the symbol was not dirty yet. */
static int add_dirty(md_quality_gauge *g, const char *symbol)
{
    if (g->all) return 0;
    for (size_t i = 0; i < g->n_dirty; i++)
        if (strcmp(g->dirty[i], symbol) == 0) return 0;
    if (g->n_dirty >= MAX_DIRTY) {
        for (size_t i = 0; i < g->n_dirty; i++) md_free(g->dirty[i]);
        g->n_dirty = 0;
        g->all = 1;
        return 1;
    }
    MD_ARRAY_GROW(g->dirty, g->n_dirty, g->cap_dirty, 16);
    g->dirty[g->n_dirty++] = md_strdup(symbol);
    return 1;
}

static void job(void *arg);

/* Caller holds lock. */
static void schedule(md_quality_gauge *g)
{
    if (g->stopped || g->pending || (!g->all && !g->n_dirty) || !g->svc->workers) return;
    g->pending = 1;
    g->fresh = 0;
    md_workq_submit(g->svc->workers, job, g);
}

static void job(void *arg)
{
    md_quality_gauge *g = arg;
    pthread_mutex_lock(&g->lock);
    char **list = g->dirty;
    size_t n = g->n_dirty;
    int all = g->all;
    g->dirty = NULL;
    g->n_dirty = g->cap_dirty = 0;
    g->all = 0;
    pthread_mutex_unlock(&g->lock);

    md_quality_req req;
    memset(&req, 0, sizeof req);
    req.start = MD_TS_MIN;
    req.end = MD_TS_MAX;
    md_error err;
    if (all) {
        md_quality_grade *grades = NULL;
        size_t ng = 0;
        if (md_query_quality_report(g->svc, &req, &grades, &ng, &err) == 0) {
            int64_t now = md_mono_ms();
            for (size_t i = 0; i < ng; i++) graded(g, grades[i].symbol, now);
            md_quality_grades_free(grades, ng);
        } else {
            MD_WARN("quality", "grading every symbol failed err=\"%s\"", err.msg);
        }
    }
    for (size_t i = 0; i < n; i++) {
        int64_t now = md_mono_ms();
        pthread_mutex_lock(&g->lock);
        const int64_t *at = md_dict_find_str(&g->graded_ms, list[i]);
        int wait = at && now - *at < REFRESH_MS;
        if (wait) add_dirty(g, list[i]);
        pthread_mutex_unlock(&g->lock);
        if (!wait) {
            snprintf(req.symbol, sizeof req.symbol, "%s", list[i]);
            md_quality_grade gr;
            if (md_query_quality(g->svc, &req, &gr, &err) == 0) md_quality_grade_deinit(&gr);
            graded(g, list[i], now);
        }
        md_free(list[i]);
    }
    md_free(list);
    pthread_mutex_lock(&g->lock);
    g->pending = 0;
    /* run again for symbols touched meanwhile; deferred ones wait for the next poke */
    if (g->fresh || g->all) schedule(g);
    pthread_mutex_unlock(&g->lock);
}

md_quality_gauge *md_quality_gauge_new(md_services *svc)
{
    md_quality_gauge *g = md_calloc(1, sizeof *g);
    g->svc = svc;
    pthread_mutex_init(&g->lock, NULL);
    md_dict_init(&g->graded_ms, sizeof(int64_t));
    pthread_mutex_lock(&g->lock);
    g->all = 1;
    schedule(g);
    pthread_mutex_unlock(&g->lock);
    return g;
}

void md_quality_gauge_stop(md_quality_gauge *g)
{
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    g->stopped = 1;
    pthread_mutex_unlock(&g->lock);
}

void md_quality_gauge_free(md_quality_gauge *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_dirty; i++) md_free(g->dirty[i]);
    md_free(g->dirty);
    md_dict_deinit(&g->graded_ms);
    pthread_mutex_destroy(&g->lock);
    md_free(g);
}

void md_quality_gauge_touch(md_quality_gauge *g, const char *symbol)
{
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    if (add_dirty(g, symbol)) {
        g->fresh = 1;
        schedule(g);
    }
    pthread_mutex_unlock(&g->lock);
}

void md_quality_gauge_poke(md_quality_gauge *g)
{
    if (!g) return;
    pthread_mutex_lock(&g->lock);
    schedule(g);
    pthread_mutex_unlock(&g->lock);
}
