/*
 * sim — one simulation run: builds the agents, identities, market and chain a scenario asks
 * for, drives the event engine slot by slot over the simulated duration, and writes the run's
 * HDF5 file.
 *
 * A run owns everything it creates (engine, random streams, output file) and shares nothing with
 * other runs, so several runs may execute in one process one after another (sweeps, tests).
 */
#ifndef SETM_RUN_SIM_H
#define SETM_RUN_SIM_H

#include <signal.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/events.h" /* SIM_EV_*: the slot clock's event types */

/* Called after every simulated slot with the fraction done (0..1); may be NULL. */
typedef void (*sim_progress_fn)(double fraction, void *ctx);

struct sim_opts {
    const char *output;            /* HDF5 path to write (required) */
    const char *scenario_path;     /* stored as a root attribute; may be NULL */
    sim_progress_fn progress;
    void *progress_ctx;
    const volatile sig_atomic_t *stop; /* when it becomes non-zero the run stops; may be NULL */
    int threads; /* > 0: worker threads instead of cfg sim.threads (a sweep sharing the cores
                    among its runs; results do not depend on it); 0: sim.threads */
};

/* What a finished run reports (also written under /summary). */
struct sim_summary {
    int64_t agents;
    int64_t slots;
    int64_t rounds;
    uint64_t events;
    double sim_seconds;
    double wall_seconds;
    double generation_kwh; /* realised, all agents */
    double load_kwh;
    uint64_t trades;
    double traded_kwh;
    double mean_price;     /* EUR/MWh, NaN without trades */
    double efficiency;     /* realised / maximum surplus */
    uint64_t attacks_injected, attacks_detected, honest_rejected;
    char mine_backend[32];  /* the backend that mined the last block */
    char mine_note[600];    /* a warning about the mining backend, "" if none */
};

/* Run the scenario `cfg` (already validated with cfg_validate) and write opts->output.
 * Returns 0 and fills *out; ERR_IO when the output cannot be written (no file is left under
 * its name); ERR_INTERRUPTED when *opts->stop was raised; ERR_NOMEM. */
int sim_run(const struct cfg *cfg, const struct sim_opts *opts, struct sim_summary *out,
            struct err *e);

#endif
