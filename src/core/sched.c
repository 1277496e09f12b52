/* sched.c - per-thread scheduling hints (see sched.h). */
#include "core/sched.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct sched_attr (uapi linux/sched/types.h, which cannot be included beside
 * glibc's <sched.h>); glibc 2.36 has no wrapper for the calls. */
struct md_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; /* SCHED_OTHER: the slice asked for, in ns (6.12+) */
    uint64_t sched_deadline;
    uint64_t sched_period;
};

int md_thread_slice(unsigned us)
{
    if (!us) return 0;
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
    struct md_sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0) != 0) return -1;
    if (a.sched_policy != 0) return 0; /* SCHED_OTHER only: leave a real-time policy alone */
    a.size = (uint32_t)sizeof a;
    a.sched_flags = 0;
    a.sched_runtime = (uint64_t)us * 1000u;
    return syscall(SYS_sched_setattr, 0, &a, 0) == 0 ? 0 : -1;
#else
    errno = ENOSYS;
    return -1;
#endif
}
