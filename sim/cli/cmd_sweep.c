/*
 * cmd_sweep — `setm sweep SCENARIO [-o DIR] [-j N]`: every run of the scenario's [sweep]
 * (sim/run/sweep.h numbers them) into DIR/run-NNNN.h5, then DIR/sweep.h5.
 *
 * Workers: locally, N forked processes, each running one sim_run in the child (no exec: the child
 * computes its configuration with the same sweep_run_cfg as the resume check, so the two cannot
 * disagree).  Built with -DSETM_MPI and started under an MPI launcher, ranks share the runs
 * instead: rank 0 hands out run indices one at a time to whichever rank asks, computes runs
 * itself between answering (it services requests from sim_run's per-slot progress callback), and
 * alone writes sweep.h5.  Without a launcher an MPI build behaves like the local one.
 *
 * Directory, plan, resume rule, run table and sweep.h5 are the library's (sim/run/sweep_runner.h);
 * this file keeps the arguments, the transport (forked workers, MPI ranks) and the progress line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SETM_MPI
#include <mpi.h>
#endif

#include "cli/cli.h"
#include "core/wallclock.h"
#include "run/sweep.h"
#include "run/sweep_runner.h"

static const char sweep_usage[] =
    "usage: setm sweep SCENARIO [-o DIR] [-j N] [--set section.key=value]... [--quiet]\n"
    "  -o, --output DIR    directory for run-NNNN.h5 and sweep.h5 (default: out/<scenario>)\n"
    "  -j, --jobs N        local worker processes (default: the number of cores)\n"
    "  -s, --set K=V       override a base scenario key before the [sweep] values (repeatable)\n"
    "  -f, --force         replace a finished sweep of another scenario in DIR\n"
    "  -q, --quiet         print nothing but errors\n"
    "  -h, --help          this text\n"
    "Runs every point of the scenario's [sweep] section (lists a, b, c; ranges lo:hi:step; log\n"
    "ranges log:lo:hi:n; seeds = N repetitions).  The same command again resumes: complete runs\n"
    "whose scenario matches are kept, the rest redone; a finished sweep of another scenario in\n"
    "DIR is refused unless --force.  Built with `make MPI=1` and started with\n"
    "mpirun -n K, ranks share the runs (-j is then ignored).  Exit: 0 all runs ok, 1 a run\n"
    "failed or the sweep was interrupted, 2 bad input.\n";

/* The one piece of process state a signal handler may touch; workers inherit it. */
static volatile sig_atomic_t sweep_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    sweep_stop_requested = 1;
}

/* One invocation. */
struct sweep_cli {
    const char *scenario;
    char dir[4096];
    const char **sets; /* --set values, in order */
    size_t n_sets;
    struct swr *r;     /* the sweep (NULL until read) */
    int jobs;
    int force;
    int quiet;
    int silent;  /* an MPI worker rank: rank 0 reports */
    int rank;    /* MPI rank, -1 without MPI */
    int tty;
    double last_draw;
};

static double now_s(void)
{
    return wallclock_now();
}

/* ---- bookkeeping and progress (the scheduler's side) ---- */

static void progress_clear(struct sweep_cli *c)
{
    if (c->tty)
        fputs("\r\033[K", stderr);
}

static void progress_draw(struct sweep_cli *c, int force)
{
    const struct swr *r = c->r;
    double t = now_s(), elapsed = t - r->t0;
    size_t done = r->n_kept + r->n_ok + r->n_failed, total = r->sw->n_runs;
    int width = 30, filled = total ? (int)((double)done / (double)total * width) : width;
    char eta[32] = "--";
    if (!c->tty || (!force && t - c->last_draw < 0.2))
        return;
    c->last_draw = t;
    if (r->n_done_now > 0) {
        size_t left = r->n_todo - r->n_done_now;
        double s = elapsed / (double)r->n_done_now * (double)left;
        snprintf(eta, sizeof eta, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60),
                 (int)fmod(s, 60));
    }
    fprintf(stderr, "\r\033[K[%.*s%*s] %zu/%zu runs  %zu running", filled,
            "##############################", width - filled, "", done, total, r->n_running);
    if (r->n_failed)
        fprintf(stderr, "  %zu failed", r->n_failed);
    if (r->n_done_now > 0 && elapsed > 0)
        fprintf(stderr, "  %.3g runs/min", (double)r->n_done_now / elapsed * 60.0);
    fprintf(stderr, "  ETA %s", eta);
    fflush(stderr);
}

/* Hand a worker's report to the run table; say when a run failed. */
static void record(struct sweep_cli *c, const struct swr_result *res)
{
    char name[64];
    if (swr_record(c->r, res) != SWR_DONE_FAILED || c->quiet)
        return;
    progress_clear(c);
    fprintf(stderr, "setm sweep: %s failed: %s\n",
            sweep_run_name(c->r->sw, (size_t)res->run, name, sizeof name), res->msg);
}

/* ---- local workers ---- */

struct worker {
    pid_t pid; /* 0 when free */
    int fd;    /* read end of the result pipe */
    size_t run;
};

static void worker_child(struct sweep_cli *c, size_t run, int fd, pid_t parent)
{
    struct swr_result res;
    /* A parent killed outright must not leave workers computing into its directory. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
    swr_run_one(c->r, run, NULL, NULL, &res);
    if (write(fd, &res, sizeof res) != (ssize_t)sizeof res)
        _exit(1);
    _exit(res.rc ? 1 : 0);
}

static int worker_start(struct sweep_cli *c, struct worker *w, size_t run)
{
    int fds[2];
    pid_t pid, parent = getpid();
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL); /* nothing buffered may be written twice */
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        worker_child(c, run, fds[1], parent);
    }
    close(fds[1]);
    w->pid = pid;
    w->fd = fds[0];
    w->run = run;
    swr_start(c->r, run);
    return 0;
}

/* A worker exited: read its report, or make one when it died without reporting. */
static void worker_reap(struct sweep_cli *c, struct worker *w, int status)
{
    struct swr_result res;
    ssize_t n = read(w->fd, &res, sizeof res);
    if (n != (ssize_t)sizeof res) {
        char name[64], tmp[4300];
        memset(&res, 0, sizeof res);
        res.run = (int64_t)w->run;
        res.rss_kib = -1;
        res.rank = -1;
        res.rc = ERR_RUNTIME;
        if (WIFSIGNALED(status))
            snprintf(res.msg, sizeof res.msg, "the worker was killed by signal %d",
                     WTERMSIG(status));
        else
            snprintf(res.msg, sizeof res.msg, "the worker exited (status %d) without a result",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        if (sweep_stop_requested)
            res.rc = ERR_INTERRUPTED;
        swr_path(c->r, sweep_run_name(c->r->sw, w->run, name, sizeof name), tmp, sizeof tmp);
        snprintf(tmp + strlen(tmp), sizeof tmp - strlen(tmp), ".tmp.%ld", (long)w->pid);
        unlink(tmp); /* its half-written file */
    }
    res.run = (int64_t)w->run;
    close(w->fd);
    w->pid = 0;
    record(c, &res);
}

static void workers_signal(struct worker *ws, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (ws[i].pid > 0)
            kill(ws[i].pid, sig);
}

static int run_local(struct sweep_cli *c)
{
    struct swr *r = c->r;
    int n = c->jobs;
    struct worker *ws = calloc((size_t)n, sizeof *ws);
    size_t next = 0;
    double term_sent = 0;
    if (!ws)
        return ERR_NOMEM;
    for (;;) {
        int reaped = 0, status;
        pid_t pid;
        for (int i = 0; i < n && !sweep_stop_requested && next < r->n_todo; i++)
            if (ws[i].pid == 0) {
                if (worker_start(c, &ws[i], r->todo[next]) != 0) {
                    struct swr_result res = {.run = (int64_t)r->todo[next], .rc = ERR_RUNTIME,
                                             .rank = -1, .rss_kib = -1};
                    snprintf(res.msg, sizeof res.msg, "cannot start a worker: %s",
                             strerror(errno));
                    swr_start(r, r->todo[next]);
                    record(c, &res);
                }
                next++;
            }
        if (r->n_running == 0)
            break;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++)
                if (ws[i].pid == pid)
                    worker_reap(c, &ws[i], status);
            reaped = 1;
        }
        if (sweep_stop_requested) {
            if (term_sent == 0) {
                workers_signal(ws, n, SIGTERM);
                term_sent = now_s();
            } else if (now_s() - term_sent > 10) {
                workers_signal(ws, n, SIGKILL); /* a worker stuck inside one slot */
                term_sent = now_s();
            }
        }
        progress_draw(c, reaped);
        if (!reaped) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    free(ws);
    return 0;
}

/* ---- MPI ranks ---- */

#ifdef SETM_MPI
enum { TAG_WORK = 1, TAG_RESULT = 2 };

static int mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMI_RANK") ||
           getenv("PMIX_RANK");
}

struct mpi_sched {
    struct sweep_cli *c;
    size_t next;
    int active; /* worker ranks not yet told to stop */
};

/* Give rank `rank` its next run, or tell it to stop. */
static void mpi_give(struct mpi_sched *m, int rank)
{
    int64_t job = -1;
    if (!sweep_stop_requested && m->next < m->c->r->n_todo) {
        job = (int64_t)m->c->r->todo[m->next++];
        swr_start(m->c->r, (size_t)job);
    } else {
        m->active--;
    }
    MPI_Send(&job, 1, MPI_INT64_T, rank, TAG_WORK, MPI_COMM_WORLD);
}

/* Answer every result that has arrived. */
static void mpi_service(struct mpi_sched *m)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        struct swr_result res;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            return;
        MPI_Recv(&res, (int)sizeof res, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        record(m->c, &res);
        mpi_give(m, st.MPI_SOURCE);
    }
}

/* Called by rank 0's own sim_run after every slot. */
static void mpi_on_slot(double fraction, void *vctx)
{
    struct mpi_sched *m = vctx;
    (void)fraction;
    mpi_service(m);
    progress_draw(m->c, 0);
}

static void run_mpi_root(struct sweep_cli *c, int size)
{
    struct mpi_sched m = {c, 0, size - 1};
    for (int r = 1; r < size; r++)
        mpi_give(&m, r);
    for (;;) {
        mpi_service(&m);
        if (!sweep_stop_requested && m.next < c->r->n_todo) {
            struct swr_result res;
            size_t run = c->r->todo[m.next++];
            swr_start(c->r, run);
            swr_run_one(c->r, run, mpi_on_slot, &m, &res);
            record(c, &res);
            progress_draw(c, 1);
            continue;
        }
        if (m.active == 0)
            break;
        progress_draw(c, 0);
        {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void run_mpi_worker(struct sweep_cli *c, int setup_rc, const char *setup_msg)
{
    for (;;) {
        int64_t job;
        struct swr_result res;
        MPI_Recv(&job, 1, MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (job < 0)
            return;
        if (setup_rc) { /* this rank could not read the scenario: say so for every run */
            memset(&res, 0, sizeof res);
            res.run = job;
            res.rc = setup_rc;
            res.rss_kib = -1;
            res.rank = c->rank;
            memcpy(res.msg, setup_msg, strnlen(setup_msg, sizeof res.msg - 1));
        } else {
            swr_run_one(c->r, (size_t)job, NULL, NULL, &res);
        }
        MPI_Send(&res, (int)sizeof res, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
    }
}
#endif

/* ---- the command ---- */

static int default_dir(const char *scenario, char *buf, size_t n)
{
    char stem[256];
    cli_scenario_stem(scenario, stem, sizeof stem);
    return snprintf(buf, n, "out/%s", stem) >= (int)n ? -1 : 0;
}

static void cli_free(struct sweep_cli *c)
{
    swr_free(c->r);
    free(c->sets);
}

/* A usage error: printed only by the reporting process (rank 0 under MPI); returns 2. */
static int usage_error(const struct sweep_cli *c, const char *fmt, const char *arg)
{
    if (c->silent)
        return 2;
    return cli_usage_error("sweep", sweep_usage, fmt, arg);
}

/* Parse the command line into `c`; 0, 1 for --help (exit 0), or -1 with an exit code 2. */
static int parse_args(struct sweep_cli *c, int argc, char **argv, int *exit_code)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"jobs", required_argument, NULL, 'j'},
        {"set", required_argument, NULL, 's'},    {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {"force", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int ch;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->jobs = cores > 0 ? (int)cores : 1;
    c->sets = calloc((size_t)argc + 1, sizeof *c->sets);
    if (!c->sets) {
        *exit_code = 1;
        return -1;
    }
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:j:s:qhf", opts, NULL)) != -1) {
        unsigned long long v;
        switch (ch) {
        case 'o': out = optarg; break;
        case 'j':
            if (cli_parse_u64(optarg, &v) != 0 || v < 1 || v > 4096) {
                *exit_code = usage_error(c, "-j %s: expected a number of workers in [1, 4096]",
                                         optarg);
                return -1;
            }
            c->jobs = (int)v;
            break;
        case 's': c->sets[c->n_sets++] = optarg; break;
        case 'f': c->force = 1; break;
        case 'q': c->quiet = 1; break;
        case 'h':
            if (!c->silent)
                fputs(sweep_usage, stdout);
            *exit_code = 0;
            return 1;
        default:
            {
                char opt[3] = {'-', (char)optopt, '\0'};
                *exit_code = usage_error(c, "option '%s' is unknown or needs a value",
                                         optopt ? opt : argv[optind - 1]);
            }
            return -1;
        }
    }
    if (optind != argc - 1) {
        *exit_code = usage_error(c, "%s", optind >= argc ? "missing SCENARIO"
                                                         : "expected one SCENARIO");
        return -1;
    }
    c->scenario = argv[optind];
    if (out) {
        size_t len = strlen(out);
        while (len > 1 && out[len - 1] == '/')
            len--;
        if (len >= sizeof c->dir) {
            *exit_code = usage_error(c, "%s", "-o: path too long");
            return -1;
        }
        snprintf(c->dir, sizeof c->dir, "%.*s", (int)len, out);
    } else if (default_dir(c->scenario, c->dir, sizeof c->dir) != 0) {
        *exit_code = usage_error(c, "%s", "scenario path too long");
        return -1;
    }
    return 0;
}

/* Directory, lock, clean-up, plan (the library's), then the plan's report.  0 or ERR_*. */
static int prepare(struct sweep_cli *c, struct err *e)
{
    const struct swr *r = c->r;
    int rc = swr_prepare(c->r, c->force, e);
    if (rc)
        return rc;
    if (!c->quiet) {
        printf("setm sweep: %s: %zu runs (%zu points x %lld seeds) into %s/\n", c->scenario,
               r->sw->n_runs, r->sw->n_points, (long long)r->sw->seeds, c->dir);
        if (r->n_kept)
            printf("  resuming: %zu runs already complete, %zu to do\n", r->n_kept, r->n_todo);
        if (r->n_cleaned)
            printf("  removed %zu temporary files of interrupted runs\n", r->n_cleaned);
        fflush(stdout);
    }
    return 0;
}

/* After the runs: sweep.h5, the report, the exit code. */
static int finish(struct sweep_cli *c)
{
    struct swr *r = c->r;
    struct err e = {0};
    progress_draw(c, 1);
    if (c->tty)
        fputc('\n', stderr);
    if (sweep_stop_requested) {
        size_t left = swr_left(r);
        fprintf(stderr,
                "setm sweep: interrupted: %zu of %zu runs finished, %zu left; run the same command "
                "again to resume\n",
                r->sw->n_runs - left, r->sw->n_runs, left);
        return 1;
    }
    if (swr_write_h5(r, &e) != 0)
        return cli_fail("sweep", &e);
    if (r->n_failed) {
        char name[64], desc[512];
        fprintf(stderr, "setm sweep: %zu of %zu runs failed:\n", r->n_failed, r->sw->n_runs);
        for (size_t i = 0; i < r->sw->n_runs; i++)
            if (r->runs[i].status == SWR_FAILED)
                fprintf(stderr, "  %s (%s): %s\n", sweep_run_name(r->sw, i, name, sizeof name),
                        sweep_run_describe(r->sw, i, desc, sizeof desc), r->runs[i].error);
    }
    if (!c->quiet) {
        printf("setm sweep: %zu ok (%zu kept from an earlier invocation), %zu failed, wall %.2f s\n",
               r->n_kept + r->n_ok, r->n_kept, r->n_failed, now_s() - r->t0);
        printf("  output: %s/sweep.h5\n", c->dir);
    }
    return r->n_failed ? 1 : 0;
}

int cli_sweep(int argc, char **argv)
{
    struct sweep_cli c;
    struct err e = {0};
    int code = 0, ready, rank = 0;
    char workers[64];
#ifdef SETM_MPI
    int size = 1, mpi = mpi_launched();
    if (mpi) {
        MPI_Init(NULL, NULL);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    }
#endif

    memset(&c, 0, sizeof c);
    c.silent = rank != 0;
    c.rank = -1;
#ifdef SETM_MPI
    if (mpi)
        c.rank = rank;
#endif
    ready = parse_args(&c, argc, argv, &code) == 0;
    if (ready) {
        c.r = swr_new(c.scenario, c.dir, c.sets, c.n_sets, &sweep_stop_requested, &e);
        if (!c.r) {
            ready = 0;
            code = c.silent ? err_exit_code(e.code) : cli_fail("sweep", &e);
        } else {
            c.r->rank = c.rank;
        }
    }
    if (ready) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal); /* terminal closed: stop as for Ctrl-C */
        c.tty = !c.quiet && !c.silent && isatty(STDERR_FILENO);
    }
    if (ready && rank == 0 && prepare(&c, &e) != 0) {
        ready = 0;
        code = cli_fail("sweep", &e);
    }
#ifdef SETM_MPI
    if (mpi) {
        /* Rank 0 decides for all: -1 go, else its exit code (every rank then stops). */
        int go = ready ? -1 : code;
        MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (go == -1 && rank == 0) {
            snprintf(workers, sizeof workers, "mpi: %d ranks", size);
            c.r->workers = workers;
            run_mpi_root(&c, size);
            code = finish(&c);
        } else if (go == -1) {
            run_mpi_worker(&c, c.r ? 0 : (e.code ? e.code : ERR_USAGE),
                           e.msg[0] ? e.msg : "this rank could not read the command line");
        }
        if (rank != 0)
            code = 0; /* rank 0 speaks for the sweep */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        cli_free(&c);
        MPI_Finalize();
        return code;
    }
#endif
    if (ready) {
        if ((size_t)c.jobs > c.r->n_todo && c.r->n_todo > 0)
            c.jobs = (int)c.r->n_todo;
        snprintf(workers, sizeof workers, "local: %d processes", c.jobs);
        c.r->jobs = c.jobs;
        c.r->workers = workers;
        if (run_local(&c) != 0) {
            err_set(&e, ERR_NOMEM, "out of memory");
            code = cli_fail("sweep", &e);
        } else {
            code = finish(&c);
        }
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    cli_free(&c);
    return code;
}
