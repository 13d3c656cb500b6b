/*
 * wallclock — wall-clock seconds, for measuring how long the host takes (benchmarks, the run's
 * wall_time_s, nonce-search time).  Never used for anything inside the simulation: simulated
 * time is the engine's.
 */
#ifndef SETM_CORE_WALLCLOCK_H
#define SETM_CORE_WALLCLOCK_H

#include <time.h>

/* Monotonic seconds since an arbitrary start. */
static inline double wallclock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
