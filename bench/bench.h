/* bench.h — what every benchmark program in bench/ needs (header-only: each bench_*.c is its
 * own executable). */
#ifndef FL_BENCH_BENCH_H
#define FL_BENCH_BENCH_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC, for timing a run. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
