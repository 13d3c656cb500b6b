/*
 * sweep — a scenario's [sweep] section read as a numbered list of runs.
 *
 * The config loader keeps [sweep] raw (cfg->sweep); this module gives each key its values and
 * each run its configuration.  Forms of a value (items separated by commas, expanded in order):
 *
 *   a, b, c            a list of numbers or words, applied as written
 *   lo:hi:step         lo, lo+step, ... up to hi (hi included when it lands on a step within
 *                      1e-9 of a step); integers when lo, hi and step are all integers
 *   log:lo:hi:n        n points spaced evenly in log between lo and hi, both included (lo, hi
 *                      > 0, n >= 2); rounded to integers for integer keys (duplicates are an error)
 *   "text"             taken literally (a word holding ',' or ':'; "" is the empty value)
 *
 * Items may be mixed: `1:3:1, 10` is 1, 2, 3, 10.  `seeds = N` (1..100000) repeats every point
 * N times.  Every other key is "section.key" or "agent.NAME.key" / "type.NAME.key" exactly as
 * --set takes it; each value is checked by applying it to the base scenario with cfg_set, so
 * the accepted keys are the schema's, whatever components define them.
 *
 * Numbering: points form the Cartesian product of the keys' values in the order the keys appear,
 * the first key varying slowest; run = point * seeds + rep.  It depends on nothing but the
 * scenario, so any number of workers, ranks or resumed invocations agree on it.
 *
 * Seeds: repetition 0 keeps the point's scenario.seed (swept or not), so a sweep with one seed
 * reproduces `setm run --set ...` exactly; repetition r >= 1 uses
 * rng_stream_key(seed, "sweep.seeds", r) masked to 53 bits (the schema's seed range).  Every
 * point shares the same seeds (common random numbers across parameter values).
 */
#ifndef SETM_RUN_SWEEP_H
#define SETM_RUN_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

#define SWEEP_MAX_RUNS 1000000
#define SWEEP_MAX_SEEDS 100000

/* What every value of a swept key is, which decides its column type in sweep.h5. */
enum sweep_kind {
    SWEEP_INT,  /* every value an integer */
    SWEEP_NUM,  /* every value a (finite) number */
    SWEEP_WORD  /* anything else: kept as text */
};

/* One swept key. */
struct sweep_param {
    char key[2 * CFG_NAME_MAX]; /* "population.count", as written in [sweep] */
    char origin[CFG_STR_MAX];   /* file and line of the [sweep] entry, for messages */
    int line;
    int kind;                   /* enum sweep_kind */
    size_t n;                   /* number of values (>= 1) */
    char **values;              /* owned; each as applied with cfg_set */
};

/* Produce the base scenario (files, overrides) in `cfg`, which the caller has cfg_init'ed.
 * 0 or a negative ERR_* with `e` filled.  Called once per sweep_new and per sweep_run_cfg. */
typedef int (*sweep_load_fn)(struct cfg *cfg, void *ctx, struct err *e);

struct sweep {
    struct sweep_param *params; /* owned; in the order the keys appear */
    size_t n_params;
    int64_t seeds;              /* repetitions per point (1 without a seeds key) */
    size_t n_points;            /* product of the params' value counts (1 without params) */
    size_t n_runs;              /* n_points * seeds */
    int name_digits;            /* digits of the run number in file names (>= 4) */
    sweep_load_fn load;         /* borrowed, with load_ctx, for sweep_run_cfg */
    void *load_ctx;
};

/* Read the [sweep] section of the scenario that `load` produces and check every value of every
 * key against it.  Returns the sweep (free with sweep_free) or NULL with `e` filled: ERR_CONFIG
 * naming the [sweep] entry's file and line, the key, the value and what is accepted; the loader's
 * own error; ERR_NOMEM.  A scenario without [sweep] gives one run.  `load_ctx` is borrowed and
 * must outlive the sweep. */
struct sweep *sweep_new(sweep_load_fn load, void *load_ctx, struct err *e);
void sweep_free(struct sweep *sw);

/* Point and repetition of run `run` (< n_runs). */
void sweep_run_point(const struct sweep *sw, size_t run, size_t *point, int64_t *rep);

/* Index into params[p].values of run `run`'s value of parameter `p`. */
size_t sweep_run_value(const struct sweep *sw, size_t run, size_t p);

/* The seed of repetition `rep` of a point whose scenario.seed is `seed` (see the file comment). */
int64_t sweep_seed_derive(int64_t seed, int64_t rep);

/* The full configuration of run `run`: the base scenario, the point's values in key order, the
 * derived seed, then cfg_validate.  `cfg` must be cfg_init'ed by the caller (and cfg_fini'ed
 * after, also on failure).  0, ERR_CONFIG (the point's values contradict each other or the
 * scenario; the message names the run and its values), or the loader's error. */
int sweep_run_cfg(const struct sweep *sw, size_t run, struct cfg *cfg, struct err *e);

/* File name of run `run`: "run-0007.h5" (wider when n_runs needs it).  Returns `buf`. */
char *sweep_run_name(const struct sweep *sw, size_t run, char *buf, size_t n);

/* "population.count=100, sim.days=1, seed#2" style description of run `run`, for messages. */
char *sweep_run_describe(const struct sweep *sw, size_t run, char *buf, size_t n);

#endif
