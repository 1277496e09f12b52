/* waiter.c - monotonic-clock sleeps that a notification or a stop cuts short (waiter.h). */
#include "core/waiter.h"

#include "core/timefmt.h"

#include <errno.h>
#include <time.h>

void md_waiter_init(md_waiter *w, pthread_mutex_t *lock)
{
    if (!lock) {
        pthread_mutex_init(&w->own, NULL);
        lock = &w->own;
    }
    w->lock = lock;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    w->notified = 0;
    atomic_init(&w->stop, 0);
}

void md_waiter_deinit(md_waiter *w)
{
    pthread_cond_destroy(&w->cond);
    if (w->lock == &w->own) pthread_mutex_destroy(&w->own);
}

int md_waiter_wait_until_locked(md_waiter *w, int64_t deadline_ms)
{
    uint64_t seen = w->notified;
    /* md_mono_ms is CLOCK_MONOTONIC in milliseconds: the deadline converts directly */
    struct timespec ts = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
    while (!atomic_load(&w->stop) && w->notified == seen) {
        if (deadline_ms == MD_WAIT_FOREVER) {
            pthread_cond_wait(&w->cond, w->lock);
        } else {
            if (md_mono_ms() >= deadline_ms) break;
            if (pthread_cond_timedwait(&w->cond, w->lock, &ts) == ETIMEDOUT) break;
        }
    }
    return atomic_load(&w->stop);
}

int md_waiter_wait_until(md_waiter *w, int64_t deadline_ms)
{
    pthread_mutex_lock(w->lock);
    int stopped = md_waiter_wait_until_locked(w, deadline_ms);
    pthread_mutex_unlock(w->lock);
    return stopped;
}

void md_waiter_notify_locked(md_waiter *w)
{
    w->notified++;
    pthread_cond_broadcast(&w->cond);
}

void md_waiter_notify(md_waiter *w)
{
    pthread_mutex_lock(w->lock);
    md_waiter_notify_locked(w);
    pthread_mutex_unlock(w->lock);
}

void md_waiter_stop_locked(md_waiter *w)
{
    atomic_store(&w->stop, 1);
    pthread_cond_broadcast(&w->cond);
}

void md_waiter_stop(md_waiter *w)
{
    pthread_mutex_lock(w->lock);
    md_waiter_stop_locked(w);
    pthread_mutex_unlock(w->lock);
}
