/*
 * sweep_runner — the library side of `setm sweep`: a sweep's directory (lock, stale temporary
 * files, the refusal to replace another scenario's finished sweep), the plan (which runs to do,
 * which finished runs to keep), one run computed in this process, the run table, and DIR/sweep.h5.
 * The command (sim/cli/cmd_sweep.c) keeps the arguments, the transport (forked workers or MPI
 * ranks, which call swr_run_one wherever the run is computed and hand the result to swr_record in
 * the scheduling process) and the progress display.
 *
 * Resume rule: run file DIR/run-NNNN.h5 is kept when it has root attribute complete = 1 and its
 * stored resolved scenario equals the run's (cfg_to_string after applying the point and seed);
 * anything else is removed and redone.  Files only ever reach their final name complete (h5 writes
 * under NAME.tmp.PID and renames), so a run killed half-way leaves a temp file, removed by
 * swr_prepare.  One runner at a time per DIR: DIR/.sweep.lock is flock'ed by swr_prepare and held
 * (inherited by forked workers) until swr_free.
 *
 * A finished sweep (DIR/sweep.h5) of another base scenario or another [sweep] section is never
 * replaced unless the caller passes force: its runs would all be removed or mixed with this one's.
 *
 * Invariant of the run table: each run index is in exactly one state (todo, running, ok, failed);
 * an interrupted run returns to todo, so nothing is counted twice.
 */
#ifndef SETM_RUN_SWEEP_RUNNER_H
#define SETM_RUN_SWEEP_RUNNER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "run/sim.h"
#include "run/sweep.h"

enum swr_status { SWR_TODO, SWR_RUNNING, SWR_OK, SWR_FAILED };

/* What a worker reports for one run (sent through a pipe or an MPI message: plain bytes). */
struct swr_result {
    int64_t run;
    int32_t rc;       /* 0 or ERR_* */
    int32_t rank;     /* MPI rank that ran it; -1 for a local worker */
    double wall_s;    /* sim_run's wall time (as in the run file) */
    int64_t rss_kib;  /* the worker's peak resident set size during the run; -1 unknown */
    char msg[448];
};

/* One row of the run table. */
struct swr_run {
    int status;      /* enum swr_status */
    int kept;        /* finished by an earlier invocation */
    int64_t seed;
    double wall_s;
    int64_t rss_kib; /* -1 unknown */
    int rank;        /* MPI rank that ran it; -1 local worker or unknown */
    char *error;     /* owned; failure text */
};

/* The base scenario: file plus --set overrides (borrowed strings). */
struct swr_source {
    const char *path;
    const char **sets;
    size_t n_sets;
};

/* One sweep.  Callers read the counters and the table; only swr_* functions change them. */
struct swr {
    const char *scenario;          /* borrowed: the scenario file as given */
    char dir[4096];
    struct swr_source src;         /* strings borrowed, the array copied */
    struct sweep *sw;              /* owned */
    struct swr_run *runs;          /* n_runs rows, after swr_prepare */
    size_t *todo;                  /* run indices to do in this invocation, ascending */
    size_t n_todo;
    size_t n_kept, n_done_now, n_ok, n_failed, n_running;
    size_t n_cleaned;              /* temporary files of killed runs removed by swr_prepare */
    int rank;                      /* MPI rank of this process, -1 without MPI */
    int jobs;                      /* runs going at once in this process (>= 1; set by the
                                      caller): sim.threads = 0 shares the cores among them */
    const char *workers;           /* description for sweep.h5 (borrowed) */
    double t0;                     /* monotonic seconds at swr_new */
    volatile sig_atomic_t *stop;   /* borrowed; non-zero asks runs to stop */
    FILE *journal;
    int lock_fd;
};

/* Read the sweep of `src` (file plus overrides) to be run into `dir` (no trailing '/').  Nothing
 * is created yet.  `stop` (may be NULL) is polled by every run.  Returns the sweep runner or NULL
 * with `e` filled (the scenario's or [sweep]'s error, ERR_USAGE for a dir too long, ERR_NOMEM). */
struct swr *swr_new(const char *scenario, const char *dir, const char *const *sets,
                    size_t n_sets, volatile sig_atomic_t *stop, struct err *e);
void swr_free(struct swr *r);

/* Everything before the first run: every point must make a valid scenario, then the directory is
 * created and locked, a finished sweep of another scenario refused (ERR_USAGE naming the
 * scenario found there) unless `force`, stale temporary files removed, DIR/sweep.h5 removed (it
 * is present only once every run of this sweep has finished), the plan made (n_kept, todo) and
 * the journal opened.  0 or ERR_*. */
int swr_prepare(struct swr *r, int force, struct err *e);

/* Mark run `run` as running (the caller hands it to a worker). */
void swr_start(struct swr *r, size_t run);

/* Compute run `run` in this process into its file; `progress` (may be NULL) is called after every
 * slot.  Fills `res` (never fails otherwise).  Safe in a forked child. */
void swr_run_one(const struct swr *r, size_t run, sim_progress_fn progress, void *pctx,
                 struct swr_result *res);

/* What swr_record made of a report. */
enum swr_outcome {
    SWR_IGNORED,     /* not a running run: a duplicate or a stray report */
    SWR_REQUEUED,    /* interrupted: back to todo, for a resume */
    SWR_DONE_OK,
    SWR_DONE_FAILED  /* runs[res->run].error holds why */
};

/* Take a worker's report for `res->run`. */
enum swr_outcome swr_record(struct swr *r, const struct swr_result *res);

/* Runs still to do (todo state). */
size_t swr_left(const struct swr *r);

/* DIR/name into buf (cut only when n is too small for any dir plus a name).  Returns buf. */
char *swr_path(const struct swr *r, const char *name, char *buf, size_t n);

/* Write DIR/sweep.h5: attributes (scenario, sweep, counts), /runs (one row per run), /summary
 * (every run's /summary scalars, NaN where missing) and /files links to the ok runs.  0 or ERR_*. */
int swr_write_h5(struct swr *r, struct err *e);

#endif
