/*
 * stop_harness — a stop request raised from another thread after a delay, and a monotonic clock
 * to time how long the stopped work took to end (the suites that test "a stop is honoured within
 * a second": test_mine, test_chain_roll, test_cli_robust).
 */
#ifndef SETM_TESTS_STOP_HARNESS_H
#define SETM_TESTS_STOP_HARNESS_H

#include <signal.h>
#include <time.h>
#include <unistd.h>

/* Seconds on the monotonic clock. */
static inline double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The flag a backend or the chain polls; raise_later sets it delay_ms after it starts and notes
 * when in raised_at. */
struct stopper {
    volatile sig_atomic_t flag;
    unsigned delay_ms;
    double raised_at;
};

/* pthread start routine.  From another thread (a signal handler would run in the searching one):
 * an atomic store, as the backends read the flag with an atomic load. */
static inline void *raise_later(void *arg)
{
    struct stopper *s = arg;
    usleep(s->delay_ms * 1000);
    s->raised_at = mono();
    __atomic_store_n(&s->flag, 1, __ATOMIC_RELAXED);
    return NULL;
}

#endif
