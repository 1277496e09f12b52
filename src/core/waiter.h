/* waiter.h - a thread's sleep until a deadline, a notification or a stop.
 *
 * Every background loop (backfill workers and lease keeper, offline feeds, the watchlist
 * scheduler, the live-bar timer, the stream relay's reconnect back-off) sleeps on one of
 * these. Deadlines are md_mono_ms() times (core/timefmt.h) and the condition variable
 * times out on CLOCK_MONOTONIC, so setting the wall clock (NTP step, operator) neither
 * stalls a sleeper nor wakes it early.
 *
 *   sleeping --deadline passed---------> returns 0
 *            --md_waiter_notify*-------> returns 0 (the loop looks at its state again)
 *            --md_waiter_stop*---------> returns 1, and every later wait returns 1 at once
 *
 * Spurious wake-ups are absorbed: a wait returns only for one of the three reasons.
 *
 * Locking. A waiter is guarded by a mutex: its own (md_waiter_init(w, NULL)) or its
 * owner's (md_waiter_init(w, &owner->lock)), when the loop sleeps while holding the lock
 * that guards the state it waits on (a queue, a job list). The plain functions take the
 * lock themselves; the _locked ones expect the caller to hold it. A notification is only
 * guaranteed to be seen when given under the lock (that is what the _locked form is for,
 * after changing the guarded state). md_waiter_stopped reads an atomic and needs no lock.
 * The waiter itself is not a queue: it remembers a stop, not how many notifications came. */
#ifndef MD_CORE_WAITER_H
#define MD_CORE_WAITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct md_waiter {
    pthread_mutex_t *lock; /* the owner's, or &own */
    pthread_mutex_t own;
    pthread_cond_t cond; /* times out on CLOCK_MONOTONIC */
    uint64_t notified;   /* notifications so far (under *lock) */
    atomic_int stop;
} md_waiter;

/* Deadline for "no deadline": wait for a notification or the stop only. */
#define MD_WAIT_FOREVER INT64_MAX

/* Initialises w, guarded by lock (the caller's mutex, which must outlive w) or, when lock
 * is NULL, by a mutex of its own. */
void md_waiter_init(md_waiter *w, pthread_mutex_t *lock);
/* Releases what init made. No thread may be waiting. */
void md_waiter_deinit(md_waiter *w);

/* Sleeps until the monotonic time deadline_ms (md_mono_ms), a notification or the stop;
 * returns 1 when stopped (also when stopped before the call), 0 otherwise. A deadline
 * already past returns at once. Takes the lock. */
int md_waiter_wait_until(md_waiter *w, int64_t deadline_ms);
/* The same with the lock held by the caller (released while sleeping, as
 * pthread_cond_wait does). */
int md_waiter_wait_until_locked(md_waiter *w, int64_t deadline_ms);

/* Wakes every thread sleeping on w now (not later ones). Takes the lock. */
void md_waiter_notify(md_waiter *w);
void md_waiter_notify_locked(md_waiter *w);

/* Stops w for good: sleepers wake and every wait from now on returns 1 at once. Takes the
 * lock (the _locked form: the caller holds it, to make the stop and its own state change
 * one step). */
void md_waiter_stop(md_waiter *w);
void md_waiter_stop_locked(md_waiter *w);

/* 1 once md_waiter_stop* was called. */
static inline int md_waiter_stopped(md_waiter *w)
{
    return atomic_load(&w->stop);
}

#endif
