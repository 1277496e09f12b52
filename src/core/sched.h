/* sched.h - per-thread scheduling hints.
 *
 * The threads that answer requests (the HTTP loops, the request workers) do little work per
 * wake-up and someone waits for each: on a busy machine what an answer costs is mostly the
 * wait for a core after the wake-up. Linux's EEVDF scheduler (6.12 and later) lets a thread
 * ask for a shorter time slice: it then runs sooner when it wakes, preempting threads with
 * longer slices (bulk work: the fan-out, other processes), and gets the same CPU share. No
 * privilege is needed. Older kernels take the request and ignore it. */
#ifndef MD_CORE_SCHED_H
#define MD_CORE_SCHED_H

/* Asks for a time slice of us microseconds (the kernel clamps it to 100..100000) for the
 * calling thread, keeping its policy and nice value; 0 leaves the kernel's default. Returns
 * 0, or -1 with errno set when the kernel refused (nothing changed then). */
int md_thread_slice(unsigned us);

#endif
