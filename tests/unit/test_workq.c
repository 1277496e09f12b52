/* core/workq.h md_workq_each: every item runs once, side by side on the caller and free
 * threads of the pool, at most `width` at once, and never waits on a job still queued. */
#include "core/timefmt.h"
#include "core/workq.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

typedef struct items {
    atomic_int calls[64];
    atomic_int running, most;
    int sleep_ms[64];
    pthread_t thread[64];
} items;

static void item(void *ctx, size_t i)
{
    items *it = ctx;
    int now = atomic_fetch_add(&it->running, 1) + 1;
    int most = atomic_load(&it->most);
    while (now > most && !atomic_compare_exchange_weak(&it->most, &most, now)) {
    }
    it->thread[i] = pthread_self();
    if (it->sleep_ms[i]) sleep_ms(it->sleep_ms[i]);
    atomic_fetch_add(&it->calls[i], 1);
    atomic_fetch_sub(&it->running, 1);
}

Test(workq, each_runs_every_item_once)
{
    md_workq *q = md_workq_new(4, "ut-each");
    static items it;
    for (int i = 0; i < 40; i++) it.sleep_ms[i] = i % 3;
    md_workq_each(q, 40, 4, item, &it);
    for (int i = 0; i < 40; i++) cr_assert_eq(atomic_load(&it.calls[i]), 1, "item %d", i);
    cr_assert_eq(atomic_load(&it.running), 0, "every call returned before each did");
    md_workq_free(q);
}

Test(workq, each_item_that_blocks_does_not_hold_the_others)
{
    /* the regression of /prices: one item blocking 600 ms, the others done meanwhile */
    md_workq *q = md_workq_new(4, "ut-each");
    static items it;
    it.sleep_ms[0] = 600;
    for (int i = 1; i < 9; i++) it.sleep_ms[i] = 50;
    int64_t t0 = md_mono_ms();
    md_workq_each(q, 9, 3, item, &it);
    int64_t took = md_mono_ms() - t0;
    /* one after another: 600 + 8 x 50 = 1000 ms; side by side the blocked item is the whole */
    cr_assert_lt(took, 900, "took %lld ms", (long long)took);
    cr_assert_geq(took, 600);
    cr_assert_leq(atomic_load(&it.most), 3, "at most width at once (%d)", atomic_load(&it.most));
    cr_assert_geq(atomic_load(&it.most), 2, "side by side");
    md_workq_free(q);
}

static void block(void *arg)
{
    sleep_ms(*(int *)arg);
}

Test(workq, each_with_every_thread_busy_runs_on_the_caller)
{
    /* its helper jobs wait behind busy threads: the caller does the items itself, and does
     * not wait for the helpers to start */
    md_workq *q = md_workq_new(1, "ut-each");
    int ms = 800;
    md_workq_submit(q, block, &ms);
    sleep_ms(50);
    static items it;
    for (int i = 0; i < 5; i++) it.sleep_ms[i] = 10;
    int64_t t0 = md_mono_ms();
    md_workq_each(q, 5, 4, item, &it);
    cr_assert_lt(md_mono_ms() - t0, 400);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(atomic_load(&it.calls[i]), 1);
        cr_assert(pthread_equal(it.thread[i], pthread_self()), "item %d on the caller", i);
    }
    md_workq_free(q); /* the late helpers find nothing left and free what they share */
}

Test(workq, each_without_a_pool_runs_in_order_on_the_caller)
{
    static items it;
    md_workq_each(NULL, 6, 4, item, &it);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(atomic_load(&it.calls[i]), 1);
        cr_assert(pthread_equal(it.thread[i], pthread_self()));
    }
    cr_assert_eq(atomic_load(&it.most), 1);
}
