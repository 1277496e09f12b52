/* core/waiter.h: sleeps end at the monotonic deadline, on a notification or on the stop,
 * and for no other reason. */
#include "core/timefmt.h"
#include "core/waiter.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

Test(waiter, sleeps_until_a_deadline_on_the_monotonic_clock)
{
    /* A deadline is a md_mono_ms() time (seconds since boot). Read as a CLOCK_REALTIME
     * time it would lie in 1970, and the wait would return at once. */
    md_waiter w;
    md_waiter_init(&w, NULL);
    int64_t t0 = md_mono_ms();
    cr_assert_eq(md_waiter_wait_until(&w, t0 + 150), 0);
    int64_t took = md_mono_ms() - t0;
    cr_assert_geq(took, 150);
    cr_assert_lt(took, 2000);
    md_waiter_deinit(&w);
}

Test(waiter, a_past_deadline_returns_at_once)
{
    md_waiter w;
    md_waiter_init(&w, NULL);
    int64_t t0 = md_mono_ms();
    cr_assert_eq(md_waiter_wait_until(&w, t0 - 1000), 0);
    cr_assert_eq(md_waiter_wait_until(&w, -5), 0);
    cr_assert_lt(md_mono_ms() - t0, 100);
    md_waiter_deinit(&w);
}

typedef struct {
    md_waiter *w;
    int delay_ms;
    int stop; /* stop rather than notify */
} poke;

static void *poker(void *arg)
{
    poke *p = arg;
    sleep_ms(p->delay_ms);
    if (p->stop)
        md_waiter_stop(p->w);
    else
        md_waiter_notify(p->w);
    return NULL;
}

Test(waiter, stop_wakes_a_sleeper_and_every_later_wait)
{
    md_waiter w;
    md_waiter_init(&w, NULL);
    poke p = {&w, 50, 1};
    pthread_t t;
    pthread_create(&t, NULL, poker, &p);
    int64_t t0 = md_mono_ms();
    cr_assert_eq(md_waiter_wait_until(&w, MD_WAIT_FOREVER), 1);
    cr_assert_lt(md_mono_ms() - t0, 2000);
    pthread_join(t, NULL);
    cr_assert(md_waiter_stopped(&w));
    t0 = md_mono_ms();
    cr_assert_eq(md_waiter_wait_until(&w, t0 + 5000), 1);
    cr_assert_eq(md_waiter_wait_until(&w, MD_WAIT_FOREVER), 1);
    cr_assert_lt(md_mono_ms() - t0, 100);
    md_waiter_deinit(&w);
}

Test(waiter, notify_wakes_a_sleeper_before_its_deadline)
{
    md_waiter w;
    md_waiter_init(&w, NULL);
    poke p = {&w, 50, 0};
    pthread_t t;
    pthread_create(&t, NULL, poker, &p);
    int64_t t0 = md_mono_ms();
    cr_assert_eq(md_waiter_wait_until(&w, t0 + 10000), 0);
    int64_t took = md_mono_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_geq(took, 40);
    cr_assert_lt(took, 5000);
    cr_assert_not(md_waiter_stopped(&w));
    md_waiter_deinit(&w);
}

Test(waiter, a_notification_before_the_wait_does_not_cut_it_short)
{
    md_waiter w;
    md_waiter_init(&w, NULL);
    md_waiter_notify(&w);
    int64_t t0 = md_mono_ms();
    cr_assert_eq(md_waiter_wait_until(&w, t0 + 100), 0);
    cr_assert_geq(md_mono_ms() - t0, 100);
    md_waiter_deinit(&w);
}

/* A queue guarded by its owner's lock, the waiter sharing that lock (as the backfill
 * workers and the live-bar timer use it). */
typedef struct {
    pthread_mutex_t lock;
    md_waiter w;
    int items;
    int taken;
} queue;

static void *consumer(void *arg)
{
    queue *q = arg;
    pthread_mutex_lock(&q->lock);
    while (!md_waiter_stopped(&q->w)) {
        if (q->items) {
            q->items--;
            q->taken++;
            continue;
        }
        md_waiter_wait_until_locked(&q->w, md_mono_ms() + 10000);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

Test(waiter, shares_its_owners_lock)
{
    queue q = {.items = 0};
    pthread_mutex_init(&q.lock, NULL);
    md_waiter_init(&q.w, &q.lock);
    pthread_t t;
    pthread_create(&t, NULL, consumer, &q);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&q.lock);
        q.items++;
        md_waiter_notify_locked(&q.w);
        pthread_mutex_unlock(&q.lock);
        if (i % 10 == 0) sleep_ms(1);
    }
    /* every item is taken long before the consumer's 10 s deadline: notifications work */
    int64_t until = md_mono_ms() + 5000;
    for (;;) {
        pthread_mutex_lock(&q.lock);
        int taken = q.taken;
        pthread_mutex_unlock(&q.lock);
        if (taken == 100 || md_mono_ms() > until) break;
        sleep_ms(5);
    }
    pthread_mutex_lock(&q.lock);
    cr_assert_eq(q.taken, 100);
    md_waiter_stop_locked(&q.w);
    pthread_mutex_unlock(&q.lock);
    pthread_join(t, NULL);
    md_waiter_deinit(&q.w);
    pthread_mutex_destroy(&q.lock);
}
