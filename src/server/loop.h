/* loop.h - one event loop: epoll, a wake-up eventfd, timers and deferred work (server-internal).
 *
 * Each of the server's loop threads owns one md_loop; every function here runs on that thread
 * except md_loop_wake() and md_loop_stop(), which any thread may call.
 *
 *   iteration:  epoll_wait(timeout: 0 with deferred work, else the nearest timer)
 *               -> descriptor events (md_ev.fn)      the wake eventfd -> on_wake(ctx)
 *               -> due timers (md_timer.fn)
 *               -> deferred work (more(ctx)), one bounded slice per iteration
 *
 * Timers live in a binary min-heap keyed by the time they were armed for. Pushing a timer
 * later (a connection that made progress) only rewrites its due time: the heap entry fires
 * at the old key, finds the new due time and sinks back, so the common case costs nothing.
 * Descriptors are registered edge-triggered by their owners; the loop never reads or writes
 * them itself. */
#ifndef MD_SERVER_LOOP_H
#define MD_SERVER_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct md_loop md_loop;

/* A descriptor watched by the loop; embed it in the owner's struct (container_of). */
typedef struct md_ev md_ev;
typedef void (*md_ev_fn)(md_ev *ev, uint32_t events);
struct md_ev {
    int fd;
    md_ev_fn fn;
};

/* A timer; embed it in the owner's struct. Zero-initialised means not armed. */
typedef struct md_timer md_timer;
typedef void (*md_timer_fn)(md_timer *t);
struct md_timer {
    int64_t due_ms; /* 0: not armed */
    int64_t key_ms; /* where it sits in the heap */
    size_t idx;     /* heap index + 1, 0 when not in the heap */
    md_timer_fn fn;
};

/* A loop; on_wake(ctx) runs on the loop thread after md_loop_wake() (at least once per call,
 * several calls may be folded into one). */
md_loop *md_loop_new(void (*on_wake)(void *ctx), void *ctx);
/* Frees the loop (its timers and descriptors must be gone or abandoned). NULL is fine. */
void md_loop_free(md_loop *lp);

/* Runs until md_loop_stop(). */
void md_loop_run(md_loop *lp);
/* Any thread: the loop returns from md_loop_run() after its current iteration. */
void md_loop_stop(md_loop *lp);
/* Any thread: calls on_wake on the loop thread soon; cheap when a wake is already pending. */
void md_loop_wake(md_loop *lp);

/* Registers, changes and removes a descriptor (events: EPOLLIN, EPOLLOUT, EPOLLET...).
 * Return 0 or -errno. */
int md_loop_add(md_loop *lp, md_ev *ev, uint32_t events);
int md_loop_mod(md_loop *lp, md_ev *ev, uint32_t events);
void md_loop_del(md_loop *lp, md_ev *ev);

/* Arms t to fire at due_ms (md_loop_now() clock); 0 disarms. Re-arming an armed timer is fine. */
void md_loop_timer(md_loop *lp, md_timer *t, int64_t due_ms);
/* Removes t from the heap (call before freeing its owner). */
void md_loop_timer_remove(md_loop *lp, md_timer *t);

/* The monotonic time in ms, read once per iteration (and refreshed by md_loop_refresh). */
int64_t md_loop_now(const md_loop *lp);
int64_t md_loop_refresh(md_loop *lp);

/* Deferred work: more(ctx) runs once per iteration while it returns 1 (work remains); the
 * loop then polls without sleeping, so descriptor events and wake-ups interleave with it. */
void md_loop_set_more(md_loop *lp, int (*more)(void *ctx), void *ctx);
/* Asks for more() to run in the next iteration. */
void md_loop_want_more(md_loop *lp);
/* reap(ctx) runs at the end of every iteration, after its events: owners free there what they
 * closed during the iteration (a later event of the same batch may still point at it). */
void md_loop_set_reap(md_loop *lp, void (*reap)(void *ctx), void *ctx);

#endif
