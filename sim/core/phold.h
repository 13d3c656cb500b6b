/*
 * phold — the classic PHOLD benchmark model on the event engine: N logical processes (LPs), a
 * fixed population of events; each event, when it runs on an LP, schedules one new event at an
 * exponentially distributed delay to an LP drawn uniformly at random.  Each LP owns a random
 * stream keyed by (seed, "phold", lp), so the run is the same whatever the engine's internals.
 */
#ifndef SETM_CORE_PHOLD_H
#define SETM_CORE_PHOLD_H

#include <stdint.h>

#include "core/err.h"

struct phold_result {
    uint64_t events;   /* events executed */
    double sim_time;   /* simulated time reached */
    double wall_s;     /* wall-clock seconds of the event loop alone */
    uint64_t checksum; /* order-sensitive digest of (time, lp) of every event executed */
};

/* Run PHOLD with `lps` processes, `events` executions in all, `population` initial events per
 * LP, exponential delays of mean `mean_delay`.  0, ERR_USAGE for zero counts or a bad mean,
 * ERR_NOMEM. */
int phold_run(uint32_t lps, uint64_t events, uint32_t population, double mean_delay,
              uint64_t seed, struct phold_result *out, struct err *e);

#endif
