/* Per-thread scheduling hints (core/sched.h): the slice asked for is the one the kernel
 * reports back for the thread, a worker pool's threads carry theirs, and 0 changes nothing. */
#include "core/sched.h"
#include "core/workq.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

/* The calling thread's slice in ns as the kernel reports it: 0 before Linux 6.12, which
 * has no per-task slice for SCHED_OTHER (the hint is then ignored). */
static struct attr my_attr(void)
{
    struct attr a;
    memset(&a, 0, sizeof a);
    cr_assert_eq(syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0), 0);
    return a;
}

static uint64_t my_slice(void)
{
    return my_attr().runtime;
}

Test(sched, a_thread_gets_the_slice_it_asks_for)
{
    struct attr was = my_attr();
    uint64_t before = was.runtime;
    cr_assert_eq(md_thread_slice(0), 0);
    cr_expect_eq(my_slice(), before, "0 leaves the slice alone");
    cr_assert_eq(md_thread_slice(250), 0);
    if (before == 0) return; /* a kernel without custom slices: accepted, nothing to read */
    cr_expect_eq(my_slice(), 250000);
    cr_assert_eq(md_thread_slice(300), 0);
    cr_expect_eq(my_slice(), 300000);
    struct attr now = my_attr();
    cr_expect_eq(now.nice, was.nice, "the nice value is kept");
    cr_expect_eq(now.policy, was.policy, "the policy is kept");
}

static uint64_t seen;
static void record(void *arg)
{
    (void)arg;
    seen = my_slice();
}

Test(sched, a_sliced_pool_runs_its_jobs_with_the_slice)
{
    uint64_t mine = my_slice();
    md_workq *q = md_workq_new_sliced(1, "ut-slice", 400);
    md_workq_submit(q, record, NULL);
    md_workq_free(q); /* runs what is queued first */
    if (mine == 0) return;
    cr_expect_eq(seen, 400000);
    q = md_workq_new(1, "ut-plain");
    md_workq_submit(q, record, NULL);
    md_workq_free(q);
    cr_expect_neq(seen, 400000, "a pool without a slice keeps the default");
}
