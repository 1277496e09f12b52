/* workq.h - a fixed pool of worker threads running submitted jobs in FIFO order.
 *
 * Used wherever blocking work (store queries, provider calls) must stay off an event
 * loop. The job owns its argument; md_workq_free() runs every queued job before joining. */
#ifndef MD_CORE_WORKQ_H
#define MD_CORE_WORKQ_H

#include <stddef.h>

typedef struct md_workq md_workq;
typedef void (*md_job_fn)(void *arg);

/* Starts n threads named "<name>-<i>". */
md_workq *md_workq_new(int n, const char *name);
/* The same, each thread asking for a time slice of slice_us (core/sched.h; 0: the default). */
md_workq *md_workq_new_sliced(int n, const char *name, unsigned slice_us);
/* Queues fn(arg); never blocks. */
void md_workq_submit(md_workq *q, md_job_fn fn, void *arg);
/* Jobs queued and not yet started. */
size_t md_workq_pending(md_workq *q);
/* Jobs queued or running: 0 when the pool is idle (a test waiting for work to finish). */
size_t md_workq_busy(md_workq *q);
/* Calls fn(ctx, i) once for every i in [0, n) and returns when every call has returned:
 * on the calling thread and on at most width - 1 of q's threads at once (fewer when they are
 * busy: the caller takes every item no thread has started, so it never waits on a queued
 * job and calling it from one of q's own threads cannot deadlock). Items start in index
 * order. With q NULL or width <= 1 the calls run one after another on the caller. ctx
 * stays the caller's: no call touches it after md_workq_each returns. */
typedef void (*md_item_fn)(void *ctx, size_t i);
void md_workq_each(md_workq *q, size_t n, int width, md_item_fn fn, void *ctx);
/* Runs what is queued, stops the threads and frees the pool (NULL is fine). */
void md_workq_free(md_workq *q);

#endif
