/*
 * cmd_sweep — `setm sweep SCENARIO [-o DIR] [-j N]`: every run of the scenario's [sweep]
 * (sim/core/sweep.h numbers them) into DIR/run-NNNN.h5, then DIR/sweep.h5.
 *
 * Workers: locally, N forked processes, each running one sim_run in the child (no exec: the child
 * computes its configuration with the same sweep_run_cfg as the resume check, so the two cannot
 * disagree).  Built with -DSETM_MPI and started under an MPI launcher, ranks share the runs
 * instead: rank 0 hands out run indices one at a time to whichever rank asks, computes runs
 * itself between answering (it services requests from sim_run's per-slot progress callback), and
 * alone writes sweep.h5.  Without a launcher an MPI build behaves like the local one.
 *
 * Resume rule: run file DIR/run-NNNN.h5 is kept when it has root attribute complete = 1 and its
 * stored resolved scenario equals the run's (cfg_to_string after applying the point and seed);
 * anything else is redone.  Files only ever reach their final name complete (h5 writes under
 * NAME.tmp.PID and renames), so a run killed half-way leaves a temp file, removed at start.
 * One invocation at a time per DIR: DIR/.sweep.lock is flock'ed by the parent and, inherited,
 * by its workers until they are gone.
 *
 * Invariant of the run table: each run index is in exactly one state (todo, running, ok,
 * failed); an interrupted run returns to todo, so nothing is counted twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SETM_MPI
#include <mpi.h>
#endif

#include "cli/cli.h"
#include "core/config.h"
#include "core/sim.h"
#include "core/sweep.h"
#include "io/h5.h"

static const char sweep_usage[] =
    "usage: setm sweep SCENARIO [-o DIR] [-j N] [--set section.key=value]... [--quiet]\n"
    "  -o, --output DIR    directory for run-NNNN.h5 and sweep.h5 (default: out/<scenario>)\n"
    "  -j, --jobs N        local worker processes (default: the number of cores)\n"
    "  -s, --set K=V       override a base scenario key before the [sweep] values (repeatable)\n"
    "  -q, --quiet         print nothing but errors\n"
    "  -h, --help          this text\n"
    "Runs every point of the scenario's [sweep] section (lists a, b, c; ranges lo:hi:step; log\n"
    "ranges log:lo:hi:n; seeds = N repetitions).  The same command again resumes: complete runs\n"
    "whose scenario matches are kept, the rest redone.  Built with `make MPI=1` and started with\n"
    "mpirun -n K, ranks share the runs (-j is then ignored).  Exit: 0 all runs ok, 1 a run\n"
    "failed or the sweep was interrupted, 2 bad input.\n";

/* The one piece of process state a signal handler may touch; workers inherit it. */
static volatile sig_atomic_t sweep_stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    sweep_stop_requested = 1;
}

enum run_status { RUN_TODO, RUN_RUNNING, RUN_OK, RUN_FAILED };
static const char *const status_names[] = {"todo", "running", "ok", "failed"};

/* What a worker reports for one run (sent through a pipe or an MPI message: plain bytes). */
struct run_result {
    int64_t run;
    int32_t rc;       /* 0 or ERR_* */
    int32_t rank;     /* MPI rank that ran it; -1 for a local worker */
    double wall_s;    /* sim_run's wall time (as in the run file) */
    int64_t rss_kib;  /* the worker's peak resident set size during the run; -1 unknown */
    char msg[448];
};

struct run {
    int status;      /* enum run_status */
    int kept;        /* finished by an earlier invocation */
    int64_t seed;
    double wall_s;
    int64_t rss_kib; /* -1 unknown */
    int rank;        /* MPI rank that ran it; -1 local worker or unknown */
    char *error;     /* owned; failure text */
};

/* The base scenario: file plus --set overrides (sweep_load_fn context). */
struct source {
    const char *path;
    const char **sets;
    size_t n_sets;
};

/* One invocation. */
struct sweep_cli {
    const char *scenario;
    char dir[4096];
    struct source src;
    struct sweep *sw;
    struct run *runs;
    size_t *todo;     /* run indices to do in this invocation, ascending */
    size_t n_todo;
    size_t n_kept, n_done_now, n_ok, n_failed, n_running;
    int jobs;
    int quiet;
    int silent;  /* an MPI worker rank: rank 0 reports */
    int rank;    /* MPI rank, -1 without MPI */
    int tty;
    const char *workers; /* description for sweep.h5 */
    double t0, last_draw;
    FILE *journal;
    int lock_fd;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load_source(struct cfg *cfg, void *vctx, struct err *e)
{
    const struct source *s = vctx;
    int rc = cfg_load_file(cfg, s->path, e);
    for (size_t i = 0; !rc && i < s->n_sets; i++)
        rc = cfg_set(cfg, s->sets[i], e);
    return rc;
}

/* DIR/name; the buffers are sized for any dir (4096) plus a name, so nothing is cut. */
static void path_in(const struct sweep_cli *c, const char *name, char *buf, size_t n)
{
    if (snprintf(buf, n, "%s/%s", c->dir, name) >= (int)n)
        buf[n - 1] = '\0';
}

/* ---- peak memory of the current process ---- */

/* Linux: writing 5 to clear_refs resets VmHWM to the current RSS, so the peak after a run is the
 * run's own (plus the process's baseline: libraries and the sweep's bookkeeping). */
static void rss_peak_reset(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) {
            /* older kernels: VmHWM then covers the whole process life */
        }
        close(fd);
    }
}

static int64_t rss_peak_kib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;
    struct rusage ru;
    if (fp) {
        while (fgets(line, sizeof line, fp))
            if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
                break;
        fclose(fp);
    }
    if (kib < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
        kib = ru.ru_maxrss;
    return kib;
}

/* ---- one run, in this process ---- */

static void run_one(const struct sweep_cli *c, size_t run, sim_progress_fn progress, void *pctx,
                    struct run_result *res)
{
    struct cfg cfg;
    struct err e = {0};
    struct sim_summary sum;
    struct sim_opts so;
    char name[64], path[4200];
    double t0 = now_s();

    memset(res, 0, sizeof *res);
    res->run = (int64_t)run;
    res->rss_kib = -1;
    res->rank = c->rank;
    rss_peak_reset();
    cfg_init(&cfg);
    res->rc = sweep_run_cfg(c->sw, run, &cfg, &e);
    if (!res->rc) {
        path_in(c, sweep_run_name(c->sw, run, name, sizeof name), path, sizeof path);
        memset(&so, 0, sizeof so);
        so.output = path;
        so.scenario_path = c->scenario;
        so.progress = progress;
        so.progress_ctx = pctx;
        so.stop = &sweep_stop_requested;
        res->rc = sim_run(&cfg, &so, &sum, &e);
    }
    cfg_fini(&cfg);
    res->wall_s = res->rc ? now_s() - t0 : sum.wall_seconds;
    res->rss_kib = rss_peak_kib();
    if (res->rc) /* a message longer than the record is cut */
        memcpy(res->msg, e.msg[0] ? e.msg : err_text(res->rc), sizeof res->msg - 1);
}

/* ---- bookkeeping and progress (the scheduler's side) ---- */

static void progress_clear(struct sweep_cli *c)
{
    if (c->tty)
        fputs("\r\033[K", stderr);
}

static void progress_draw(struct sweep_cli *c, int force)
{
    double t = now_s(), elapsed = t - c->t0;
    size_t done = c->n_kept + c->n_ok + c->n_failed, total = c->sw->n_runs;
    int width = 30, filled = total ? (int)((double)done / (double)total * width) : width;
    char eta[32] = "--";
    if (!c->tty || (!force && t - c->last_draw < 0.2))
        return;
    c->last_draw = t;
    if (c->n_done_now > 0) {
        size_t left = c->n_todo - c->n_done_now;
        double s = elapsed / (double)c->n_done_now * (double)left;
        snprintf(eta, sizeof eta, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60),
                 (int)fmod(s, 60));
    }
    fprintf(stderr, "\r\033[K[%.*s%*s] %zu/%zu runs  %zu running", filled,
            "##############################", width - filled, "", done, total, c->n_running);
    if (c->n_failed)
        fprintf(stderr, "  %zu failed", c->n_failed);
    if (c->n_done_now > 0 && elapsed > 0)
        fprintf(stderr, "  %.3g runs/min", (double)c->n_done_now / elapsed * 60.0);
    fprintf(stderr, "  ETA %s", eta);
    fflush(stderr);
}

/* Take a worker's report for `res->run`. */
static void record(struct sweep_cli *c, const struct run_result *res)
{
    struct run *r;
    char name[64];
    if (res->run < 0 || (size_t)res->run >= c->sw->n_runs)
        return;
    r = &c->runs[res->run];
    if (r->status != RUN_RUNNING)
        return; /* a duplicate report: never count a run twice */
    c->n_running--;
    sweep_run_name(c->sw, (size_t)res->run, name, sizeof name);
    if (res->rc == ERR_INTERRUPTED) {
        r->status = RUN_TODO; /* unfinished, not failed: a resume redoes it */
        return;
    }
    c->n_done_now++;
    r->wall_s = res->wall_s;
    r->rss_kib = res->rss_kib;
    r->rank = res->rank;
    if (res->rc == 0) {
        r->status = RUN_OK;
        c->n_ok++;
        if (c->journal) {
            fprintf(c->journal, "%s %.17g %lld\n", name, res->wall_s, (long long)res->rss_kib);
            fflush(c->journal);
        }
        return;
    }
    r->status = RUN_FAILED;
    c->n_failed++;
    free(r->error);
    r->error = strdup(res->msg);
    if (!c->quiet) {
        progress_clear(c);
        fprintf(stderr, "setm sweep: %s failed: %s\n", name, res->msg);
    }
}

/* ---- local workers ---- */

struct worker {
    pid_t pid; /* 0 when free */
    int fd;    /* read end of the result pipe */
    size_t run;
};

static void worker_child(struct sweep_cli *c, size_t run, int fd, pid_t parent)
{
    struct run_result res;
    /* A parent killed outright must not leave workers computing into its directory. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
    run_one(c, run, NULL, NULL, &res);
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
    c->runs[run].status = RUN_RUNNING;
    c->n_running++;
    return 0;
}

/* A worker exited: read its report, or make one when it died without reporting. */
static void worker_reap(struct sweep_cli *c, struct worker *w, int status)
{
    struct run_result res;
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
        path_in(c, sweep_run_name(c->sw, w->run, name, sizeof name), tmp, sizeof tmp);
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
    int n = c->jobs;
    struct worker *ws = calloc((size_t)n, sizeof *ws);
    size_t next = 0;
    double term_sent = 0;
    if (!ws)
        return ERR_NOMEM;
    for (;;) {
        int reaped = 0, status;
        pid_t pid;
        for (int i = 0; i < n && !sweep_stop_requested && next < c->n_todo; i++)
            if (ws[i].pid == 0) {
                if (worker_start(c, &ws[i], c->todo[next]) != 0) {
                    struct run_result res = {.run = (int64_t)c->todo[next], .rc = ERR_RUNTIME,
                                             .rank = -1, .rss_kib = -1};
                    snprintf(res.msg, sizeof res.msg, "cannot start a worker: %s",
                             strerror(errno));
                    c->runs[c->todo[next]].status = RUN_RUNNING;
                    c->n_running++;
                    record(c, &res);
                }
                next++;
            }
        if (c->n_running == 0)
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
    if (!sweep_stop_requested && m->next < m->c->n_todo) {
        job = (int64_t)m->c->todo[m->next++];
        m->c->runs[job].status = RUN_RUNNING;
        m->c->n_running++;
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
        struct run_result res;
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
        if (!sweep_stop_requested && m.next < c->n_todo) {
            struct run_result res;
            size_t run = c->todo[m.next++];
            c->runs[run].status = RUN_RUNNING;
            c->n_running++;
            run_one(c, run, mpi_on_slot, &m, &res);
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
        struct run_result res;
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
            run_one(c, (size_t)job, NULL, NULL, &res);
        }
        MPI_Send(&res, (int)sizeof res, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
    }
}
#endif

/* ---- directory: lock, stale temp files, resume ---- */

static int dir_make(const char *dir, struct err *e)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return err_set(e, ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
    return 0;
}

/* Only one invocation per directory; waits a little for one that is shutting down. */
static int dir_lock(struct sweep_cli *c, struct err *e)
{
    char path[4200];
    int waited = 0;
    path_in(c, ".sweep.lock", path, sizeof path);
    c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lock_fd < 0)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    while (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (errno != EWOULDBLOCK && errno != EINTR)
            return err_set(e, ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
        if (waited++ == 100)
            return err_set(e, ERR_RUNTIME,
                           "another setm sweep is using %s (it holds %s); wait for it or stop it",
                           c->dir, path);
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Remove temporary files left by killed runs: "<run>.h5.tmp.PID", "sweep.h5.tmp.PID". */
static size_t dir_clean(struct sweep_cli *c)
{
    DIR *d = opendir(c->dir);
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".h5.tmp.");
        char path[4200];
        if (!t || (strncmp(de->d_name, "run-", 4) && strncmp(de->d_name, "sweep.h5", 8)))
            continue;
        path_in(c, de->d_name, path, sizeof path);
        if (unlink(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Peak memory of runs finished by earlier invocations: the journal's last line for a file whose
 * wall time matches the file's own attribute (so a stale line never describes a newer file). */
static void journal_apply(struct sweep_cli *c)
{
    char path[4200], name[64];
    double wall;
    long long rss;
    FILE *fp;
    path_in(c, "sweep.journal", path, sizeof path);
    fp = fopen(path, "r");
    if (!fp)
        return;
    while (fscanf(fp, "%63s %lf %lld", name, &wall, &rss) == 3) {
        size_t run;
        char tail;
        if (sscanf(name, "run-%zu.h5%c", &run, &tail) != 1 || run >= c->sw->n_runs)
            continue;
        if (c->runs[run].kept && c->runs[run].wall_s == wall)
            c->runs[run].rss_kib = rss;
    }
    fclose(fp);
}

/* Compare run `run`'s existing file with its configuration: 1 keep, 0 redo. */
static int run_is_done(struct sweep_cli *c, size_t run, const struct cfg *cfg, double *wall)
{
    char name[64], path[4200];
    struct h5_reader *r;
    int64_t complete = 0;
    char *stored = NULL, *want;
    int keep = 0;
    path_in(c, sweep_run_name(c->sw, run, name, sizeof name), path, sizeof path);
    r = h5_reader_open(path, NULL);
    if (!r)
        return 0;
    if (h5_reader_attr_i64(r, "complete", &complete, NULL) == 0 && complete == 1 &&
        h5_reader_attr_str(r, "scenario", &stored, NULL) == 0) {
        want = cfg_to_string(cfg);
        keep = want && !strcmp(want, stored);
        free(want);
        if (keep && h5_reader_attr_f64(r, "wall_time_s", wall, NULL) != 0)
            *wall = NAN;
    }
    free(stored);
    h5_reader_close(r);
    return keep;
}

/* Configure every run (bad input stops everything before any work), keep the finished ones. */
static int plan(struct sweep_cli *c, int check_files, struct err *e)
{
    c->runs = calloc(c->sw->n_runs, sizeof *c->runs);
    c->todo = calloc(c->sw->n_runs, sizeof *c->todo);
    if (!c->runs || !c->todo)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->sw->n_runs; i++) {
        struct cfg cfg;
        struct run *r = &c->runs[i];
        int rc;
        cfg_init(&cfg);
        rc = sweep_run_cfg(c->sw, i, &cfg, e);
        r->seed = cfg.scenario.seed;
        r->rss_kib = -1;
        r->rank = -1;
        r->wall_s = NAN;
        if (!rc && check_files && run_is_done(c, i, &cfg, &r->wall_s)) {
            r->status = RUN_OK;
            r->kept = 1;
            c->n_kept++;
        } else if (!rc) {
            char name[64], path[4200];
            path_in(c, sweep_run_name(c->sw, i, name, sizeof name), path, sizeof path);
            unlink(path); /* incomplete or another scenario's: never link it from sweep.h5 */
            c->todo[c->n_todo++] = i;
        }
        cfg_fini(&cfg);
        if (rc)
            return rc;
    }
    if (check_files)
        journal_apply(c);
    return 0;
}

/* ---- sweep.h5 ---- */

/* Growing set of summary columns, one double per run (NaN where a run has no value). */
struct sum_cols {
    struct h5_scalar *meta; /* name and units */
    double **vals;
    size_t n, cap;
};

static int sum_cols_add(struct sum_cols *s, size_t n_runs, size_t run, const struct h5_scalar *sc)
{
    size_t k;
    for (k = 0; k < s->n; k++)
        if (!strcmp(s->meta[k].name, sc->name))
            break;
    if (k == s->n) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 16;
            struct h5_scalar *m = realloc(s->meta, cap * sizeof *m);
            double **v = m ? realloc(s->vals, cap * sizeof *v) : NULL;
            if (m)
                s->meta = m;
            if (!v)
                return ERR_NOMEM;
            s->vals = v;
            s->cap = cap;
        }
        s->vals[k] = malloc(n_runs * sizeof **s->vals);
        if (!s->vals[k])
            return ERR_NOMEM;
        for (size_t i = 0; i < n_runs; i++)
            s->vals[k][i] = NAN;
        s->meta[k] = *sc;
        s->n++;
    }
    s->vals[k][run] = sc->f;
    return 0;
}

static void sum_cols_fini(struct sum_cols *s)
{
    for (size_t k = 0; k < s->n; k++)
        free(s->vals[k]);
    free(s->vals);
    free(s->meta);
}

static int gather_summaries(struct sweep_cli *c, struct sum_cols *s, struct err *e)
{
    for (size_t i = 0; i < c->sw->n_runs; i++) {
        char name[64], path[4200];
        struct h5_reader *r;
        struct h5_scalar *v = NULL;
        size_t n = 0;
        int rc = 0;
        if (c->runs[i].status != RUN_OK)
            continue;
        path_in(c, sweep_run_name(c->sw, i, name, sizeof name), path, sizeof path);
        r = h5_reader_open(path, NULL);
        if (!r || h5_reader_summary(r, &v, &n, NULL) != 0) {
            h5_reader_close(r);
            continue; /* removed meanwhile: its columns stay NaN */
        }
        h5_reader_close(r);
        for (size_t k = 0; k < n && !rc; k++)
            rc = sum_cols_add(s, c->sw->n_runs, i, &v[k]);
        free(v);
        if (rc)
            return err_set(e, rc, "out of memory");
    }
    return 0;
}

/* A table whose columns are known only at run time: heap column list over a byte row. */
struct dyn_table {
    struct h5_col *cols;
    size_t n, cap, row_size;
    char (*names)[160];
    char (*descs)[256];
};

static int dyn_add(struct dyn_table *t, const char *name, enum h5_type type, size_t size,
                   const char *units, const char *desc)
{
    size_t elem = type == H5_COL_STR ? size : type == H5_COL_U8 ? 1 : 8;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        struct h5_col *c = realloc(t->cols, cap * sizeof *c);
        char(*nm)[160] = c ? realloc(t->names, cap * sizeof *nm) : NULL;
        char(*ds)[256] = nm ? realloc(t->descs, cap * sizeof *ds) : NULL;
        if (c)
            t->cols = c;
        if (nm)
            t->names = nm;
        if (!ds)
            return ERR_NOMEM;
        t->descs = ds;
        t->cap = cap;
    }
    if (elem == 8)
        t->row_size = (t->row_size + 7) & ~(size_t)7;
    snprintf(t->names[t->n], sizeof t->names[0], "%s", name);
    snprintf(t->descs[t->n], sizeof t->descs[0], "%s", desc);
    t->cols[t->n] = (struct h5_col){NULL, type, t->row_size, size, units, NULL};
    t->row_size += elem;
    t->n++;
    return 0;
}

/* Point names and descriptions into their arrays (stable once every column is added). */
static void dyn_finish(struct dyn_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        t->cols[i].name = t->names[i];
        t->cols[i].description = t->descs[i];
    }
}

static void dyn_fini(struct dyn_table *t)
{
    free(t->cols);
    free(t->names);
    free(t->descs);
}

static void put_i64(unsigned char *row, const struct h5_col *col, int64_t v)
{
    memcpy(row + col->offset, &v, sizeof v);
}

static void put_f64(unsigned char *row, const struct h5_col *col, double v)
{
    memcpy(row + col->offset, &v, sizeof v);
}

static void put_str(unsigned char *row, const struct h5_col *col, const char *s)
{
    memset(row + col->offset, 0, col->size);
    strncpy((char *)row + col->offset, s, col->size - 1);
}

/* The /runs table: one row per run.  `t` (the column list) must live until `f` is committed. */
static int write_runs(struct sweep_cli *c, struct h5_file *f, struct dyn_table *tp,
                      struct err *e)
{
    const struct sweep *sw = c->sw;
    struct dyn_table t = {0};
    struct h5_table *tab = NULL;
    unsigned char *row = NULL;
    size_t errlen = 2, chunk = sw->n_runs < 1024 ? sw->n_runs : 1024;
    int rc = 0;
    char desc[256];

    for (size_t i = 0; i < sw->n_runs; i++)
        if (c->runs[i].error && strlen(c->runs[i].error) + 1 > errlen)
            errlen = strlen(c->runs[i].error) + 1;
    rc = dyn_add(&t, "run", H5_COL_I64, 0, "", "run index (file run-NNNN.h5)");
    rc = rc ? rc : dyn_add(&t, "point", H5_COL_I64, 0, "", "index of the parameter point");
    rc = rc ? rc : dyn_add(&t, "rep", H5_COL_I64, 0, "", "repetition of the point (seeds)");
    rc = rc ? rc : dyn_add(&t, "seed", H5_COL_I64, 0, "", "scenario.seed of the run");
    for (size_t p = 0; !rc && p < sw->n_params; p++) {
        const struct sweep_param *sp = &sw->params[p];
        size_t len = 2;
        for (size_t k = 0; k < sp->n; k++)
            if (strlen(sp->values[k]) + 1 > len)
                len = strlen(sp->values[k]) + 1;
        if (snprintf(desc, sizeof desc, "swept %s ([sweep] at %s:%d)", sp->key, sp->origin,
                     sp->line) >= (int)sizeof desc)
            desc[sizeof desc - 1] = '\0';
        rc = dyn_add(&t, sp->key,
                     sp->kind == SWEEP_INT   ? H5_COL_I64
                     : sp->kind == SWEEP_NUM ? H5_COL_F64
                                             : H5_COL_STR,
                     len, "", desc);
    }
    rc = rc ? rc : dyn_add(&t, "file", H5_COL_STR, (size_t)sw->name_digits + 8, "",
                           "run file, beside sweep.h5 (also linked under /files)");
    rc = rc ? rc : dyn_add(&t, "status", H5_COL_STR, 8, "", "ok or failed");
    rc = rc ? rc : dyn_add(&t, "kept", H5_COL_U8, 0, "",
                           "1: finished by an earlier invocation and kept (resume)");
    rc = rc ? rc : dyn_add(&t, "wall_time_s", H5_COL_F64, 0, "s", "the run's wall time");
    rc = rc ? rc : dyn_add(&t, "peak_rss_kib", H5_COL_I64, 0, "KiB",
                           "worker's peak resident memory during the run (-1 unknown)");
    rc = rc ? rc : dyn_add(&t, "rank", H5_COL_I64, 0, "",
                           "MPI rank that ran it (-1: a local worker, or kept from earlier)");
    rc = rc ? rc : dyn_add(&t, "error", H5_COL_STR, errlen, "", "why a run failed");
    if (rc)
        return err_set(e, rc, "out of memory");
    dyn_finish(&t);
    row = calloc(1, t.row_size);
    tab = row ? h5_table_new(f, "runs", t.cols, t.n, chunk, 4, e) : NULL;
    if (!row)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else if (!tab)
        rc = e->code;
    for (size_t i = 0; !rc && i < sw->n_runs; i++) {
        const struct run *r = &c->runs[i];
        size_t point, k = 0;
        int64_t rep;
        char name[64];
        sweep_run_point(sw, i, &point, &rep);
        put_i64(row, &t.cols[k++], (int64_t)i);
        put_i64(row, &t.cols[k++], (int64_t)point);
        put_i64(row, &t.cols[k++], rep);
        put_i64(row, &t.cols[k++], r->seed);
        for (size_t p = 0; p < sw->n_params; p++, k++) {
            const char *v = sw->params[p].values[sweep_run_value(sw, i, p)];
            if (t.cols[k].type == H5_COL_I64)
                put_i64(row, &t.cols[k], strtoll(v, NULL, 10));
            else if (t.cols[k].type == H5_COL_F64)
                put_f64(row, &t.cols[k], strtod(v, NULL));
            else
                put_str(row, &t.cols[k], v);
        }
        put_str(row, &t.cols[k++], sweep_run_name(sw, i, name, sizeof name));
        put_str(row, &t.cols[k++], status_names[r->status]);
        row[t.cols[k++].offset] = (unsigned char)r->kept;
        put_f64(row, &t.cols[k++], r->wall_s);
        put_i64(row, &t.cols[k++], r->rss_kib);
        put_i64(row, &t.cols[k++], r->rank);
        put_str(row, &t.cols[k++], r->error ? r->error : "");
        rc = h5_table_append(tab, row, e);
    }
    if (!rc)
        rc = h5_table_flush(tab, e);
    free(row);
    *tp = t;
    return rc;
}

/* The /summary table: column k holds every run's /summary scalar k (NaN where it has none). */
static int write_summary(struct sweep_cli *c, struct h5_file *f, const struct sum_cols *s,
                         struct dyn_table *t, struct err *e)
{
    size_t n_runs = c->sw->n_runs, chunk = n_runs < 1024 ? n_runs : 1024;
    struct h5_table *tab;
    unsigned char *row;
    int rc = 0;
    if (s->n == 0)
        return 0;
    for (size_t k = 0; k < s->n && !rc; k++)
        rc = dyn_add(t, s->meta[k].name, H5_COL_F64, 0, s->meta[k].units,
                     "the run's /summary scalar (NaN: failed run, or the run had none)");
    if (rc)
        return err_set(e, rc, "out of memory");
    dyn_finish(t);
    row = calloc(1, t->row_size);
    if (!row)
        return err_set(e, ERR_NOMEM, "out of memory");
    tab = h5_table_new(f, "summary", t->cols, t->n, chunk, 4, e);
    if (!tab)
        rc = e->code;
    for (size_t i = 0; !rc && i < n_runs; i++) {
        for (size_t k = 0; k < s->n; k++)
            put_f64(row, &t->cols[k], s->vals[k][i]);
        rc = h5_table_append(tab, row, e);
    }
    free(row);
    return rc;
}

/* "[sweep]" as read: one "key = value" line per entry. */
static char *sweep_text(const struct sweep *sw)
{
    size_t cap = 64, len = 0;
    char *s;
    for (size_t p = 0; p < sw->n_params; p++)
        cap += strlen(sw->params[p].key) + 8;
    for (size_t p = 0; p < sw->n_params; p++)
        for (size_t k = 0; k < sw->params[p].n; k++)
            cap += strlen(sw->params[p].values[k]) + 2;
    s = malloc(cap);
    if (!s)
        return NULL;
    len += (size_t)snprintf(s + len, cap - len, "seeds = %lld\n", (long long)sw->seeds);
    for (size_t p = 0; p < sw->n_params; p++) {
        len += (size_t)snprintf(s + len, cap - len, "%s = ", sw->params[p].key);
        for (size_t k = 0; k < sw->params[p].n; k++)
            len += (size_t)snprintf(s + len, cap - len, "%s%s", k ? ", " : "",
                                    sw->params[p].values[k]);
        len += (size_t)snprintf(s + len, cap - len, "\n");
    }
    return s;
}

static int write_attrs(struct sweep_cli *c, struct h5_file *f, struct err *e)
{
    struct cfg base;
    char *resolved = NULL, *swtext = sweep_text(c->sw), keys[2048];
    size_t len = 0;
    int rc;
    cfg_init(&base);
    rc = load_source(&base, &c->src, e);
    if (!rc && (!(resolved = cfg_to_string(&base)) || !swtext))
        rc = err_set(e, ERR_NOMEM, "out of memory");
    keys[0] = '\0';
    for (size_t p = 0; p < c->sw->n_params && len < sizeof keys; p++)
        len += (size_t)snprintf(keys + len, sizeof keys - len, "%s%s", p ? "," : "",
                                c->sw->params[p].key);
    rc = rc ? rc : h5_attr_str(f, "version", SETM_VERSION, e);
    rc = rc ? rc : h5_attr_str(f, "scenario_file", c->scenario, e);
    rc = rc ? rc : h5_attr_str(f, "scenario", resolved, e);
    rc = rc ? rc : h5_attr_str(f, "sweep", swtext, e);
    rc = rc ? rc : h5_attr_str(f, "keys", keys, e);
    rc = rc ? rc : h5_attr_str(f, "workers", c->workers, e);
    rc = rc ? rc : h5_attr_i64(f, "n_runs", (int64_t)c->sw->n_runs, e);
    rc = rc ? rc : h5_attr_i64(f, "n_points", (int64_t)c->sw->n_points, e);
    rc = rc ? rc : h5_attr_i64(f, "seeds", c->sw->seeds, e);
    rc = rc ? rc : h5_attr_i64(f, "runs_ok", (int64_t)(c->n_kept + c->n_ok), e);
    rc = rc ? rc : h5_attr_i64(f, "runs_failed", (int64_t)c->n_failed, e);
    rc = rc ? rc : h5_attr_i64(f, "runs_kept", (int64_t)c->n_kept, e);
    rc = rc ? rc : h5_attr_f64(f, "wall_time_s", now_s() - c->t0, e);
    free(resolved);
    free(swtext);
    cfg_fini(&base);
    return rc;
}

static int write_sweep_h5(struct sweep_cli *c, struct err *e)
{
    char path[4200];
    struct sum_cols s = {0};
    struct dyn_table runs_cols = {0}, sum_cols = {0};
    struct h5_file *f;
    int rc;

    path_in(c, "sweep.h5", path, sizeof path);
    rc = gather_summaries(c, &s, e);
    if (rc) {
        sum_cols_fini(&s);
        return rc;
    }
    f = h5_file_create(path, e);
    if (!f) {
        sum_cols_fini(&s);
        return e->code;
    }
    rc = write_attrs(c, f, e);
    rc = rc ? rc : write_runs(c, f, &runs_cols, e);
    rc = rc ? rc : write_summary(c, f, &s, &sum_cols, e);
    for (size_t i = 0; !rc && i < c->sw->n_runs; i++) {
        char name[64], link[80];
        if (c->runs[i].status != RUN_OK)
            continue;
        sweep_run_name(c->sw, i, name, sizeof name);
        snprintf(link, sizeof link, "files/%.*s", (int)(strlen(name) - 3), name);
        rc = h5_link_external(f, link, name, "/", e);
    }
    if (rc)
        h5_file_abort(f);
    else
        rc = h5_file_commit(f, e);
    dyn_fini(&runs_cols);
    dyn_fini(&sum_cols);
    sum_cols_fini(&s);
    return rc;
}

/* ---- the command ---- */

static int default_dir(const char *scenario, char *buf, size_t n)
{
    char stem[256];
    cli_scenario_stem(scenario, stem, sizeof stem);
    return snprintf(buf, n, "out/%s", stem) >= (int)n ? -1 : 0;
}

static void cli_free(struct sweep_cli *c)
{
    if (c->runs)
        for (size_t i = 0; i < c->sw->n_runs; i++)
            free(c->runs[i].error);
    free(c->runs);
    free(c->todo);
    sweep_free(c->sw);
    if (c->journal)
        fclose(c->journal);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    free(c->src.sets);
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
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int ch;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->jobs = cores > 0 ? (int)cores : 1;
    c->src.sets = calloc((size_t)argc + 1, sizeof *c->src.sets);
    if (!c->src.sets) {
        *exit_code = 1;
        return -1;
    }
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:j:s:qh", opts, NULL)) != -1) {
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
        case 's': c->src.sets[c->src.n_sets++] = optarg; break;
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
    c->src.path = c->scenario;
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

/* Every point must make a valid scenario before anything is created (seeds cannot change that). */
static int validate_points(struct sweep_cli *c, struct err *e)
{
    for (size_t p = 0; p < c->sw->n_points; p++) {
        struct cfg cfg;
        int rc;
        cfg_init(&cfg);
        rc = sweep_run_cfg(c->sw, p * (size_t)c->sw->seeds, &cfg, e);
        cfg_fini(&cfg);
        if (rc)
            return rc;
    }
    return 0;
}

/* Directory, lock, clean-up, plan: everything before the first run.  0 or ERR_*. */
static int prepare(struct sweep_cli *c, struct err *e)
{
    char path[4200];
    size_t cleaned;
    int rc = validate_points(c, e);
    rc = rc ? rc : dir_make(c->dir, e);
    rc = rc ? rc : dir_lock(c, e);
    if (rc)
        return rc;
    cleaned = dir_clean(c);
    path_in(c, "sweep.h5", path, sizeof path);
    unlink(path); /* present only once every run of this sweep has finished */
    rc = plan(c, 1, e);
    if (rc)
        return rc;
    path_in(c, "sweep.journal", path, sizeof path);
    c->journal = fopen(path, "a");
    if (!c->journal)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    if (!c->quiet) {
        printf("setm sweep: %s: %zu runs (%zu points x %lld seeds) into %s/\n", c->scenario,
               c->sw->n_runs, c->sw->n_points, (long long)c->sw->seeds, c->dir);
        if (c->n_kept)
            printf("  resuming: %zu runs already complete, %zu to do\n", c->n_kept, c->n_todo);
        if (cleaned)
            printf("  removed %zu temporary files of interrupted runs\n", cleaned);
        fflush(stdout);
    }
    return 0;
}

/* After the runs: sweep.h5, the report, the exit code. */
static int finish(struct sweep_cli *c)
{
    struct err e = {0};
    progress_draw(c, 1);
    if (c->tty)
        fputc('\n', stderr);
    if (sweep_stop_requested) {
        size_t left = 0;
        for (size_t i = 0; i < c->sw->n_runs; i++)
            left += c->runs[i].status == RUN_TODO;
        fprintf(stderr,
                "setm sweep: interrupted: %zu of %zu runs finished, %zu left; run the same command "
                "again to resume\n",
                c->sw->n_runs - left, c->sw->n_runs, left);
        return 1;
    }
    if (write_sweep_h5(c, &e) != 0)
        return cli_fail("sweep", &e);
    if (c->n_failed) {
        char name[64], desc[512];
        fprintf(stderr, "setm sweep: %zu of %zu runs failed:\n", c->n_failed, c->sw->n_runs);
        for (size_t i = 0; i < c->sw->n_runs; i++)
            if (c->runs[i].status == RUN_FAILED)
                fprintf(stderr, "  %s (%s): %s\n", sweep_run_name(c->sw, i, name, sizeof name),
                        sweep_run_describe(c->sw, i, desc, sizeof desc), c->runs[i].error);
    }
    if (!c->quiet) {
        printf("setm sweep: %zu ok (%zu kept from an earlier invocation), %zu failed, wall %.2f s\n",
               c->n_kept + c->n_ok, c->n_kept, c->n_failed, now_s() - c->t0);
        printf("  output: %s/sweep.h5\n", c->dir);
    }
    return c->n_failed ? 1 : 0;
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
    c.lock_fd = -1;
    c.t0 = now_s();
    c.silent = rank != 0;
    c.rank = -1;
#ifdef SETM_MPI
    if (mpi)
        c.rank = rank;
#endif
    ready = parse_args(&c, argc, argv, &code) == 0;
    if (ready) {
        c.sw = sweep_new(load_source, &c.src, &e);
        if (!c.sw) {
            ready = 0;
            code = c.silent ? err_exit_code(e.code) : cli_fail("sweep", &e);
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
            c.workers = workers;
            run_mpi_root(&c, size);
            code = finish(&c);
        } else if (go == -1) {
            run_mpi_worker(&c, c.sw ? 0 : (e.code ? e.code : ERR_USAGE),
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
        if ((size_t)c.jobs > c.n_todo && c.n_todo > 0)
            c.jobs = (int)c.n_todo;
        snprintf(workers, sizeof workers, "local: %d processes", c.jobs);
        c.workers = workers;
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
