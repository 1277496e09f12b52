/* bench.h - what the C benchmarks share: a seeded generator, so every run measures the same
 * data, and a monotonic clock. Header-only; each benchmark is one translation unit. */
#ifndef MD_BENCH_H
#define MD_BENCH_H

#include <stdint.h>
#include <time.h>

/* Uniform in [0, 1): xorshift64 from a fixed seed (the same sequence in every run). */
static inline double bench_uniform(void)
{
    static uint64_t rng = 88172645463325252ULL;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
