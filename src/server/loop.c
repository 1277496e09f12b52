/* loop.c - epoll, the wake-up eventfd, the timer heap and deferred work (see loop.h). */
#include "server/loop.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct md_loop {
    int ep;
    md_ev wake_ev; /* the eventfd */
    atomic_int wake_pending;
    atomic_int stopping;
    void (*on_wake)(void *ctx);
    void *ctx;
    int (*more)(void *ctx);
    void *more_ctx;
    void (*reap)(void *ctx);
    void *reap_ctx;
    int want_more;
    int64_t now_ms;
    md_timer **heap;
    size_t n_heap, cap_heap;
};

/* -- timers --------------------------------------------------------------------------------- */

static void heap_set(md_loop *lp, size_t i, md_timer *t)
{
    lp->heap[i] = t;
    t->idx = i + 1;
}

static void sift_up(md_loop *lp, size_t i)
{
    md_timer *t = lp->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (lp->heap[parent]->key_ms <= t->key_ms) break;
        heap_set(lp, i, lp->heap[parent]);
        i = parent;
    }
    heap_set(lp, i, t);
}

static void sift_down(md_loop *lp, size_t i)
{
    md_timer *t = lp->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t key = t->key_ms;
        if (l < lp->n_heap && lp->heap[l]->key_ms < key) m = l, key = lp->heap[l]->key_ms;
        if (r < lp->n_heap && lp->heap[r]->key_ms < key) m = r;
        if (m == i) break;
        heap_set(lp, i, lp->heap[m]);
        i = m;
    }
    heap_set(lp, i, t);
}

static void heap_remove_at(md_loop *lp, size_t i)
{
    md_timer *t = lp->heap[i];
    t->idx = 0;
    lp->n_heap--;
    if (i == lp->n_heap) return;
    md_timer *moved = lp->heap[lp->n_heap];
    heap_set(lp, i, moved);
    sift_down(lp, i);
    sift_up(lp, moved->idx - 1);
}

void md_loop_timer(md_loop *lp, md_timer *t, int64_t due_ms)
{
    t->due_ms = due_ms;
    if (due_ms == 0) return; /* left in the heap: dropped when its key comes up */
    if (t->idx) {
        if (due_ms >= t->key_ms) return; /* later: found again when the old key fires */
        t->key_ms = due_ms;
        sift_up(lp, t->idx - 1);
        return;
    }
    if (lp->n_heap == lp->cap_heap) {
        lp->cap_heap = lp->cap_heap ? lp->cap_heap * 2 : 256;
        lp->heap = md_realloc(lp->heap, lp->cap_heap * sizeof *lp->heap);
    }
    t->key_ms = due_ms;
    lp->heap[lp->n_heap] = t;
    t->idx = ++lp->n_heap;
    sift_up(lp, lp->n_heap - 1);
}

void md_loop_timer_remove(md_loop *lp, md_timer *t)
{
    t->due_ms = 0;
    if (t->idx) heap_remove_at(lp, t->idx - 1);
}

/* Fires the timers whose due time has come; returns the ms until the next one (-1: none). */
static int run_timers(md_loop *lp)
{
    for (int fired = 0; lp->n_heap; fired++) {
        md_timer *t = lp->heap[0];
        if (t->key_ms > lp->now_ms) {
            int64_t d = t->key_ms - lp->now_ms;
            return d > 60000 ? 60000 : (int)d;
        }
        if (t->due_ms > lp->now_ms) { /* pushed later meanwhile: sink to its new place */
            t->key_ms = t->due_ms;
            sift_down(lp, 0);
            continue;
        }
        heap_remove_at(lp, 0);
        if (t->due_ms == 0) continue; /* disarmed */
        t->due_ms = 0;
        t->fn(t);
        if (fired % 64 == 63) md_loop_refresh(lp);
    }
    return -1;
}

/* -- the loop ------------------------------------------------------------------------------- */

static void on_wake_ev(md_ev *ev, uint32_t events)
{
    (void)events;
    md_loop *lp = (md_loop *)((char *)ev - offsetof(md_loop, wake_ev));
    uint64_t v;
    while (read(ev->fd, &v, sizeof v) > 0) {
    }
    /* cleared before the callback looks at its queues: a wake after this writes again */
    atomic_store(&lp->wake_pending, 0);
    if (lp->on_wake) lp->on_wake(lp->ctx);
}

md_loop *md_loop_new(void (*on_wake)(void *ctx), void *ctx)
{
    md_loop *lp = md_calloc(1, sizeof *lp);
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    lp->wake_ev.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    lp->wake_ev.fn = on_wake_ev;
    lp->on_wake = on_wake;
    lp->ctx = ctx;
    if (lp->ep < 0 || lp->wake_ev.fd < 0) {
        md_loop_free(lp);
        return NULL;
    }
    md_loop_add(lp, &lp->wake_ev, EPOLLIN | EPOLLET);
    md_loop_refresh(lp);
    return lp;
}

void md_loop_free(md_loop *lp)
{
    if (!lp) return;
    if (lp->ep >= 0) close(lp->ep);
    if (lp->wake_ev.fd >= 0) close(lp->wake_ev.fd);
    md_free(lp->heap);
    md_free(lp);
}

int md_loop_add(md_loop *lp, md_ev *ev, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};
    return epoll_ctl(lp->ep, EPOLL_CTL_ADD, ev->fd, &e) == 0 ? 0 : -errno;
}

int md_loop_mod(md_loop *lp, md_ev *ev, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};
    return epoll_ctl(lp->ep, EPOLL_CTL_MOD, ev->fd, &e) == 0 ? 0 : -errno;
}

void md_loop_del(md_loop *lp, md_ev *ev)
{
    struct epoll_event e = {0};
    epoll_ctl(lp->ep, EPOLL_CTL_DEL, ev->fd, &e);
}

void md_loop_wake(md_loop *lp)
{
    if (atomic_exchange(&lp->wake_pending, 1)) return;
    uint64_t one = 1;
    ssize_t n = write(lp->wake_ev.fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is full, a wake is pending anyway */
}

void md_loop_stop(md_loop *lp)
{
    atomic_store(&lp->stopping, 1);
    atomic_store(&lp->wake_pending, 1);
    uint64_t one = 1;
    ssize_t n = write(lp->wake_ev.fd, &one, sizeof one);
    (void)n;
}

int64_t md_loop_now(const md_loop *lp)
{
    return lp->now_ms;
}

int64_t md_loop_refresh(md_loop *lp)
{
    return lp->now_ms = md_mono_ms();
}

void md_loop_set_more(md_loop *lp, int (*more)(void *ctx), void *ctx)
{
    lp->more = more;
    lp->more_ctx = ctx;
}

void md_loop_set_reap(md_loop *lp, void (*reap)(void *ctx), void *ctx)
{
    lp->reap = reap;
    lp->reap_ctx = ctx;
}

void md_loop_want_more(md_loop *lp)
{
    lp->want_more = 1;
}

void md_loop_run(md_loop *lp)
{
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load(&lp->stopping)) {
        md_loop_refresh(lp);
        int timeout = run_timers(lp);
        if (lp->want_more) timeout = 0;
        int n = epoll_wait(lp->ep, evs, MAX_EVENTS, timeout);
        md_loop_refresh(lp);
        for (int i = 0; i < n; i++) {
            md_ev *ev = evs[i].data.ptr;
            ev->fn(ev, evs[i].events);
        }
        if (lp->want_more && lp->more) {
            lp->want_more = 0;
            if (lp->more(lp->more_ctx)) lp->want_more = 1;
        }
        if (lp->reap) lp->reap(lp->reap_ctx);
    }
}
