/* workq.c - mutex + condvar job queue, and md_workq_each: items shared out between the
 * caller and helper jobs on the queue. */
#include "core/workq.h"

#include "core/mem.h"
#include "core/sched.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct job {
    md_job_fn fn;
    void *arg;
    struct job *next;
} job;

struct md_workq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job *head, *tail;
    size_t pending;
    size_t running; /* jobs started and not finished */
    int stop;
    int n;
    unsigned slice_us;
    pthread_t *threads;
};

static void *run(void *arg)
{
    md_workq *q = arg;
    if (q->slice_us) (void)md_thread_slice(q->slice_us); /* a hint: refused changes nothing */
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stop) pthread_cond_wait(&q->cond, &q->lock);
        if (!q->head) break; /* stopping and drained */
        job *j = q->head;
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        q->pending--;
        q->running++;
        pthread_mutex_unlock(&q->lock);
        j->fn(j->arg);
        md_free(j);
        pthread_mutex_lock(&q->lock);
        q->running--;
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

md_workq *md_workq_new(int n, const char *name)
{
    return md_workq_new_sliced(n, name, 0);
}

md_workq *md_workq_new_sliced(int n, const char *name, unsigned slice_us)
{
    md_workq *q = md_calloc(1, sizeof *q);
    q->slice_us = slice_us;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->n = n > 0 ? n : 1;
    q->threads = md_calloc((size_t)q->n, sizeof *q->threads);
    for (int i = 0; i < q->n; i++) {
        pthread_create(&q->threads[i], NULL, run, q);
        char tn[16];
        snprintf(tn, sizeof tn, "%.8s-%d", name ? name : "work", i % 1000);
        pthread_setname_np(q->threads[i], tn);
    }
    return q;
}

void md_workq_submit(md_workq *q, md_job_fn fn, void *arg)
{
    job *j = md_malloc(sizeof *j);
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->pending++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t md_workq_pending(md_workq *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->pending;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t md_workq_busy(md_workq *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->pending + q->running;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* One md_workq_each: the caller and its helpers take items in turn. Reference-counted: a
 * helper that starts after the caller returned (every item taken) still reads it. */
typedef struct each {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    size_t n, next, done;
    int refs;
    md_item_fn fn;
    void *ctx;
} each;

static void each_unref(each *e)
{
    pthread_mutex_lock(&e->lock);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&e->lock);
    if (!last) return;
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->done_cond);
    md_free(e);
}

/* Takes items until none is left. */
static void each_work(each *e)
{
    pthread_mutex_lock(&e->lock);
    while (e->next < e->n) {
        size_t i = e->next++;
        pthread_mutex_unlock(&e->lock);
        e->fn(e->ctx, i);
        pthread_mutex_lock(&e->lock);
        if (++e->done == e->n) pthread_cond_broadcast(&e->done_cond);
    }
    pthread_mutex_unlock(&e->lock);
}

static void each_helper(void *arg)
{
    each *e = arg;
    each_work(e);
    each_unref(e);
}

void md_workq_each(md_workq *q, size_t n, int width, md_item_fn fn, void *ctx)
{
    if (!q || width <= 1 || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    each *e = md_calloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->done_cond, NULL);
    e->n = n;
    e->fn = fn;
    e->ctx = ctx;
    size_t helpers = (size_t)width - 1 < n - 1 ? (size_t)width - 1 : n - 1;
    e->refs = 1 + (int)helpers;
    for (size_t k = 0; k < helpers; k++) md_workq_submit(q, each_helper, e);
    each_work(e);
    pthread_mutex_lock(&e->lock);
    while (e->done < e->n) pthread_cond_wait(&e->done_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
    each_unref(e);
}

void md_workq_free(md_workq *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->n; i++) pthread_join(q->threads[i], NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    md_free(q->threads);
    md_free(q);
}
