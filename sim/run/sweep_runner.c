/*
 * sweep_runner — directory, plan, run table, one run and DIR/sweep.h5 of a sweep (the contract,
 * resume rule and table invariant are in sweep_runner.h).  Processes and ranks are the caller's:
 * nothing here forks, signals or prints.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/grow.h"
#include "run/sweep_runner.h"

#include "core/config.h"
#include "core/pool.h"
#include "core/wallclock.h"
#include "io/h5.h"

static const char *const status_names[] = {"todo", "running", "ok", "failed"};

static int load_source(struct cfg *cfg, void *vctx, struct err *e)
{
    const struct swr_source *s = vctx;
    int rc = cfg_load_file(cfg, s->path, e);
    for (size_t i = 0; !rc && i < s->n_sets; i++)
        rc = cfg_set(cfg, s->sets[i], e);
    return rc;
}

/* DIR/name; the buffers are sized for any dir (4096) plus a name, so nothing is cut. */
char *swr_path(const struct swr *c, const char *name, char *buf, size_t n)
{
    if (snprintf(buf, n, "%s/%s", c->dir, name) >= (int)n)
        buf[n - 1] = '\0';
    return buf;
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

void swr_run_one(const struct swr *c, size_t run, sim_progress_fn progress, void *pctx,
                 struct swr_result *res)
{
    struct cfg cfg;
    struct err e = {0};
    struct sim_summary sum;
    struct sim_opts so;
    char name[64], path[4200];
    double t0 = wallclock_now();

    memset(res, 0, sizeof *res);
    res->run = (int64_t)run;
    res->rss_kib = -1;
    res->rank = c->rank;
    rss_peak_reset();
    cfg_init(&cfg);
    res->rc = sweep_run_cfg(c->sw, run, &cfg, &e);
    if (!res->rc) {
        swr_path(c, sweep_run_name(c->sw, run, name, sizeof name), path, sizeof path);
        memset(&so, 0, sizeof so);
        so.output = path;
        so.scenario_path = c->scenario;
        so.progress = progress;
        so.progress_ctx = pctx;
        so.stop = c->stop;
        /* sim.threads = 0 (every core) shares the cores among the runs going at once; passed
         * beside the scenario, not in it, so a run's stored scenario (what a rerun compares)
         * does not depend on how many ran together */
        if (cfg.sim.threads == 0 && c->jobs > 1)
            so.threads = pool_cores() / c->jobs > 1 ? pool_cores() / c->jobs : 1;
        res->rc = sim_run(&cfg, &so, &sum, &e);
    }
    cfg_fini(&cfg);
    res->wall_s = res->rc ? wallclock_now() - t0 : sum.wall_seconds;
    res->rss_kib = rss_peak_kib();
    if (res->rc) /* a message longer than the record is cut */
        memcpy(res->msg, e.msg[0] ? e.msg : err_text(res->rc), sizeof res->msg - 1);
}


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
static int dir_lock(struct swr *c, struct err *e)
{
    char path[4200];
    int waited = 0;
    swr_path(c, ".sweep.lock", path, sizeof path);
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
static size_t dir_clean(struct swr *c)
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
        swr_path(c, de->d_name, path, sizeof path);
        if (unlink(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Peak memory of runs finished by earlier invocations: the journal's last line for a file whose
 * wall time matches the file's own attribute (so a stale line never describes a newer file). */
static void journal_apply(struct swr *c)
{
    char path[4200], name[64];
    double wall;
    long long rss;
    FILE *fp;
    swr_path(c, "sweep.journal", path, sizeof path);
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
static int run_is_done(struct swr *c, size_t run, const struct cfg *cfg, double *wall)
{
    char name[64], path[4200];
    struct h5_reader *r;
    int64_t complete = 0;
    char *stored = NULL, *want;
    int keep = 0;
    swr_path(c, sweep_run_name(c->sw, run, name, sizeof name), path, sizeof path);
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
static int plan(struct swr *c, int check_files, struct err *e)
{
    c->runs = calloc(c->sw->n_runs, sizeof *c->runs);
    c->todo = calloc(c->sw->n_runs, sizeof *c->todo);
    if (!c->runs || !c->todo)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->sw->n_runs; i++) {
        struct cfg cfg;
        struct swr_run *r = &c->runs[i];
        int rc;
        cfg_init(&cfg);
        rc = sweep_run_cfg(c->sw, i, &cfg, e);
        r->seed = cfg.scenario.seed;
        r->rss_kib = -1;
        r->rank = -1;
        r->wall_s = NAN;
        if (!rc && check_files && run_is_done(c, i, &cfg, &r->wall_s)) {
            r->status = SWR_OK;
            r->kept = 1;
            c->n_kept++;
        } else if (!rc) {
            char name[64], path[4200];
            swr_path(c, sweep_run_name(c->sw, i, name, sizeof name), path, sizeof path);
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
        size_t cap = s->cap; /* parallel arrays: each grows to the same new capacity */
        if (grow_array(&s->meta, &cap, s->n + 1, sizeof *s->meta) ||
            grow_array(&s->vals, &(size_t){s->cap}, s->n + 1, sizeof *s->vals))
            return ERR_NOMEM;
        s->cap = cap;
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

static int gather_summaries(struct swr *c, struct sum_cols *s, struct err *e)
{
    for (size_t i = 0; i < c->sw->n_runs; i++) {
        char name[64], path[4200];
        struct h5_reader *r;
        struct h5_scalar *v = NULL;
        size_t n = 0;
        int rc = 0;
        if (c->runs[i].status != SWR_OK)
            continue;
        swr_path(c, sweep_run_name(c->sw, i, name, sizeof name), path, sizeof path);
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
    {
        size_t cap = t->cap; /* parallel arrays: each grows to the same new capacity */
        if (grow_array(&t->cols, &cap, t->n + 1, sizeof *t->cols) ||
            grow_array(&t->names, &(size_t){t->cap}, t->n + 1, sizeof *t->names) ||
            grow_array(&t->descs, &(size_t){t->cap}, t->n + 1, sizeof *t->descs))
            return ERR_NOMEM;
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
static int write_runs(struct swr *c, struct h5_file *f, struct dyn_table *tp,
                      struct err *e)
{
    const struct sweep *sw = c->sw;
    struct dyn_table t = {0};
    struct h5_table *tab = NULL;
    unsigned char *row = NULL;
    size_t errlen = 2;
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
    tab = row ? h5_table_new(f, "runs", t.cols, t.n, e) : NULL;
    if (!row)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else if (!tab)
        rc = e->code;
    for (size_t i = 0; !rc && i < sw->n_runs; i++) {
        const struct swr_run *r = &c->runs[i];
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
static int write_summary(struct swr *c, struct h5_file *f, const struct sum_cols *s,
                         struct dyn_table *t, struct err *e)
{
    size_t n_runs = c->sw->n_runs;
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
    tab = h5_table_new(f, "summary", t->cols, t->n, e);
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

static int write_attrs(struct swr *c, struct h5_file *f, struct err *e)
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
    rc = rc ? rc : h5_attr_f64(f, "wall_time_s", wallclock_now() - c->t0, e);
    free(resolved);
    free(swtext);
    cfg_fini(&base);
    return rc;
}

int swr_write_h5(struct swr *c, struct err *e)
{
    char path[4200];
    struct sum_cols s = {0};
    struct dyn_table runs_cols = {0}, sum_cols = {0};
    struct h5_file *f;
    int rc;

    swr_path(c, "sweep.h5", path, sizeof path);
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
    /* one chunk per 1024 runs (a small sweep's tables are one chunk), deflate 4 */
    rc = h5_file_set_layout(f, c->sw->n_runs < 1024 ? c->sw->n_runs : 1024, 4, e);
    rc = rc ? rc : write_attrs(c, f, e);
    rc = rc ? rc : write_runs(c, f, &runs_cols, e);
    rc = rc ? rc : write_summary(c, f, &s, &sum_cols, e);
    for (size_t i = 0; !rc && i < c->sw->n_runs; i++) {
        char name[64], link[80];
        if (c->runs[i].status != SWR_OK)
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


/* Every point must make a valid scenario before anything is created (seeds cannot change that). */
static int validate_points(struct swr *c, struct err *e)
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


/* ---- a finished sweep of another scenario ---- */

/* The first line where two resolved scenarios differ, as "[section] key = a" / "... = b" into
 * `there` and `here` (cut to fit). */
static void first_difference(const char *a, const char *b, char *there, char *here, size_t n)
{
    char section[128] = "";
    for (;;) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la)) {
            snprintf(there, n, "%s%s%.*s", section, section[0] ? " " : "", (int)la, a);
            snprintf(here, n, "%s%s%.*s", section, section[0] ? " " : "", (int)lb, b);
            if (!la)
                snprintf(there, n, "%s (absent)", section[0] ? section : "a line");
            if (!lb)
                snprintf(here, n, "%s (absent)", section[0] ? section : "a line");
            return;
        }
        if (!a[la])
            break;
        if (la && a[0] == '[')
            snprintf(section, sizeof section, "%.*s", (int)la, a);
        a += la + 1;
        b += lb + 1;
    }
    there[0] = here[0] = '\0';
}

/* scenario.name of a resolved scenario into buf ("?" when absent). */
static void scenario_name(const char *resolved, char *buf, size_t n)
{
    const char *sec = strstr(resolved, "[scenario]\n"), *p = sec ? strstr(sec, "\nname = ") : NULL;
    snprintf(buf, n, "?");
    if (p)
        snprintf(buf, n, "%.*s", (int)strcspn(p + 8, "\n"), p + 8);
}

/* DIR/sweep.h5 of another base scenario (resolved, without [sweep]): ERR_USAGE naming the scenario
 * found there, unless forced.  A changed [sweep] section of the same scenario is a resume (runs
 * whose scenario still matches are kept).  A sweep.h5 that cannot be read is refused the same
 * way: it cannot be shown to be this scenario's. */
static int refuse_foreign(struct swr *c, int force, struct err *e)
{
    char path[4200], there[160], here[160], name[128];
    struct stat st;
    struct h5_reader *rd;
    struct cfg base;
    char *file = NULL, *scn = NULL, *want = NULL;
    int rc = 0;
    swr_path(c, "sweep.h5", path, sizeof path);
    if (force || lstat(path, &st) != 0)
        return 0;
    rd = h5_reader_open(path, NULL);
    if (!rd || h5_reader_attr_str(rd, "scenario", &scn, NULL) != 0) {
        h5_reader_close(rd);
        return err_set(e, ERR_USAGE,
                       "%s holds a sweep.h5 that cannot be read as a finished sweep; choose "
                       "another -o DIR, move it away, or pass --force to replace it",
                       c->dir);
    }
    if (h5_reader_attr_str(rd, "scenario_file", &file, NULL) != 0)
        file = NULL;
    h5_reader_close(rd);
    cfg_init(&base);
    rc = load_source(&base, &c->src, e);
    if (!rc && !(want = cfg_to_string(&base)))
        rc = err_set(e, ERR_NOMEM, "out of memory");
    if (!rc && strcmp(scn, want)) {
        first_difference(scn, want, there, here, sizeof there);
        scenario_name(scn, name, sizeof name);
        rc = err_set(e, ERR_USAGE,
                     "%s holds a finished sweep of another scenario: %s (scenario.name %s; "
                     "there `%s`, here `%s`); its runs would be replaced: choose another -o DIR, "
                     "or pass --force",
                     c->dir, file && file[0] ? file : "(file not recorded)",
                     name, there, here);
    }
    cfg_fini(&base);
    free(file);
    free(scn);
    free(want);
    return rc;
}

/* ---- the runner ---- */

struct swr *swr_new(const char *scenario, const char *dir, const char *const *sets,
                    size_t n_sets, volatile sig_atomic_t *stop, struct err *e)
{
    struct swr *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->lock_fd = -1;
    c->rank = -1;
    c->t0 = wallclock_now();
    c->stop = stop;
    c->scenario = scenario;
    c->workers = "";
    c->src.path = scenario;
    c->src.sets = calloc(n_sets + 1, sizeof *c->src.sets);
    if (!c->src.sets) {
        err_set(e, ERR_NOMEM, "out of memory");
        swr_free(c);
        return NULL;
    }
    for (size_t i = 0; i < n_sets; i++)
        c->src.sets[i] = sets[i];
    c->src.n_sets = n_sets;
    if (strlen(dir) >= sizeof c->dir) {
        err_set(e, ERR_USAGE, "-o: path too long");
        swr_free(c);
        return NULL;
    }
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    c->sw = sweep_new(load_source, &c->src, e);
    if (!c->sw) {
        swr_free(c);
        return NULL;
    }
    return c;
}

void swr_free(struct swr *c)
{
    if (!c)
        return;
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
    free(c);
}

int swr_prepare(struct swr *c, int force, struct err *e)
{
    char path[4200];
    int rc = validate_points(c, e);
    rc = rc ? rc : dir_make(c->dir, e);
    rc = rc ? rc : dir_lock(c, e);
    rc = rc ? rc : refuse_foreign(c, force, e);
    if (rc)
        return rc;
    c->n_cleaned = dir_clean(c);
    swr_path(c, "sweep.h5", path, sizeof path);
    unlink(path); /* present only once every run of this sweep has finished */
    rc = plan(c, 1, e);
    if (rc)
        return rc;
    swr_path(c, "sweep.journal", path, sizeof path);
    c->journal = fopen(path, "a");
    if (!c->journal)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    return 0;
}

void swr_start(struct swr *c, size_t run)
{
    c->runs[run].status = SWR_RUNNING;
    c->n_running++;
}

enum swr_outcome swr_record(struct swr *c, const struct swr_result *res)
{
    struct swr_run *r;
    char name[64];
    if (res->run < 0 || (size_t)res->run >= c->sw->n_runs)
        return SWR_IGNORED;
    r = &c->runs[res->run];
    if (r->status != SWR_RUNNING)
        return SWR_IGNORED; /* a duplicate report: never count a run twice */
    c->n_running--;
    if (res->rc == ERR_INTERRUPTED) {
        r->status = SWR_TODO; /* unfinished, not failed: a resume redoes it */
        return SWR_REQUEUED;
    }
    c->n_done_now++;
    r->wall_s = res->wall_s;
    r->rss_kib = res->rss_kib;
    r->rank = res->rank;
    if (res->rc == 0) {
        r->status = SWR_OK;
        c->n_ok++;
        if (c->journal) {
            sweep_run_name(c->sw, (size_t)res->run, name, sizeof name);
            fprintf(c->journal, "%s %.17g %lld\n", name, res->wall_s, (long long)res->rss_kib);
            fflush(c->journal);
        }
        return SWR_DONE_OK;
    }
    r->status = SWR_FAILED;
    c->n_failed++;
    free(r->error);
    r->error = strdup(res->msg);
    return SWR_DONE_FAILED;
}

size_t swr_left(const struct swr *c)
{
    size_t left = 0;
    for (size_t i = 0; i < c->sw->n_runs; i++)
        left += c->runs[i].status == SWR_TODO;
    return left;
}
