/*
 * cli — the `setm` subcommands.  Each takes the arguments after its own name (argv[0] is the
 * subcommand name, as getopt expects) and returns the process exit code: 0 ok, 1 runtime failure,
 * 2 bad input.  Only this layer prints errors and chooses exit codes.
 */
#ifndef SETM_CLI_CLI_H
#define SETM_CLI_CLI_H

#include "core/err.h"

int cli_run(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_mine(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_devices(int argc, char **argv);
int cli_validate(int argc, char **argv); /* execs python3 analysis/validate.py */

/* `setm bench <what>` delegates to these. */
int cli_bench_scale(int argc, char **argv);
int cli_bench_engine(int argc, char **argv);
int cli_bench_mine(int argc, char **argv);
int cli_bench_agents(int argc, char **argv);
int cli_bench_market(int argc, char **argv);

/* Print "setm <cmd>: <e->msg>" on stderr and return err_exit_code(e->code). */
int cli_fail(const char *cmd, const struct err *e);

/* Print "setm <cmd>: <msg>" and the usage text on stderr; return 2. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The scenario file's name without folder and ".ini" ("scenarios/case_study.ini" ->
 * "case_study") into buf; the default name of a run's output file or a sweep's folder. */
void cli_scenario_stem(const char *scenario, char *buf, size_t n);

struct cfg;

/* Whether `out` may receive the run of `cfg`: h5_output_check() (not empty, not an existing
 * directory, link, FIFO or device: ERR_USAGE; a writable directory: ERR_IO with the system's
 * reason), and not any input of the run -- the scenario, its use= files, a CSV profile
 * (ERR_USAGE, naming it).  Call before any work.  0 or the error. */
int cli_output_check(const char *out, const struct cfg *cfg, struct err *e);

/* This binary's own path (/proc/self/exe, else argv0) into out. */
void cli_self_path(const char *argv0, char *out, size_t n);

/* Replace this process with the project's Python running args (its arguments after its own
 * name, NULL-terminated): the interpreter named by the variable first_env when set (NULL: none),
 * else $SETM_PYTHON, else the source tree's .venv (SETM_SOURCE_DIR/.venv/bin/python, made by
 * `make venv`); a bare name is looked up on PATH.  SETM_SOURCE_DIR/analysis goes first on
 * PYTHONPATH and MPLBACKEND defaults to Agg.  Returns only when Python cannot start: prints
 * "setm <cmd>: cannot start Python ..." naming the interpreter and the fix, returns 2. */
int cli_python_exec(const char *cmd, const char *first_env, char *const *args);

/* Parse a whole-string unsigned integer (decimal or 0x-hex) into *out; 0 or ERR_USAGE. */
int cli_parse_u64(const char *s, unsigned long long *out);

#endif
