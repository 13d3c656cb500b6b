/* test_sweep_cli — `setm sweep` end to end: the run table, failures, resume after an interrupted
 * or killed sweep, -j 1 and -j 2 giving the same results, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hdf5.h>

#include "cli_harness.h"

static int setup(void **state) { return tu_fx_setup(state, "sweep"); }
static int teardown(void **state) { return tu_fx_teardown(state); }

static pid_t start(struct tu_fx *f, va_list ap)
{
    pid_t pid = tu_start(f->dir, ap);
    assert_true(pid > 0);
    return pid;
}

/* Wait for `pid`; capture its output; return its exit code, or 128 + signal. */
static int finish(struct tu_fx *f, pid_t pid)
{
    return tu_finish(f->dir, pid, f->out, sizeof f->out, f->errtxt, sizeof f->errtxt);
}

static pid_t run_bg(struct tu_fx *f, ...)
{
    va_list ap;
    pid_t pid;
    va_start(ap, f);
    pid = start(f, ap);
    va_end(ap);
    return pid;
}

/* dir/name in a buffer that stays valid until the next call with the same slot (0..3). */
static const char *at(struct tu_fx *f, int slot, const char *name)
{
    static char paths[4][256];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", f->dir, name);
    return paths[slot];
}

static const char *put(struct tu_fx *f, const char *name, const char *text)
{
    char *path = (char *)at(f, 3, name);
    assert_int_equal(tu_put(f->dir, name, text, path, 256), 0);
    return path;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* 2 points x 2 seeds of a tiny population over a quarter day. */
static const char small[] = "[scenario]\nname = small\nseed = 5\n[sim]\ndays = 0.25\n"
                            "[population]\ncount = 6\nhome_solar = 2\nsmart_device = 1\n"
                            "solar_system = 0.3\n"
                            "[sweep]\npopulation.count = 4, 8\nseeds = 2\n";

/* Long enough per run (about 0.05 s) that a test can stop the sweep between runs. */
static const char slow[] = "[scenario]\nname = slow\nseed = 3\n[sim]\ndays = 0.25\n"
                           "[population]\ncount = 200\nhome_solar = 2\nsmart_device = 1\n"
                           "solar_system = 0.3\n"
                           "[sweep]\nweather.clearness_mean = 0.3:0.65:0.05\n";

/* ---- reading sweep.h5 ---- */

static hsize_t column_len(hid_t file, const char *name)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), s;
    hsize_t n = 0;
    if (d < 0)
        fail_msg("no dataset %s", name);
    s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, &n, NULL);
    H5Sclose(s);
    H5Dclose(d);
    return n;
}

static void read_col(hid_t file, const char *name, hid_t memtype, void *buf)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        fail_msg("no dataset %s", name);
    assert_true(H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
}

/* Fixed-length string column: `n` entries of `width` bytes. */
static void read_str_col(hid_t file, const char *name, char *buf, size_t width)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    read_col(file, name, t, buf);
    H5Tclose(t);
}

static int64_t attr_i64(hid_t file, const char *name)
{
    int64_t v = -1;
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    return v;
}

static hid_t open_sweep(struct tu_fx *f, const char *sub)
{
    char path[256];
    hid_t h;
    snprintf(path, sizeof path, "%s/%s/sweep.h5", f->dir, sub);
    h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h < 0)
        fail_msg("cannot open %s", path);
    return h;
}

static size_t count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (strstr(de->d_name, needle))
            n++;
    closedir(d);
    return n;
}

/* Run files in `dir` whose root attribute complete is 1 (an interrupted run leaves complete = 0). */
static size_t count_complete(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        char path[512];
        hid_t h;
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "run-", 4) || len < 3 || strcmp(de->d_name + len - 3, ".h5"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (h < 0)
            continue;
        if (H5Aexists(h, "complete") > 0 && attr_i64(h, "complete") == 1)
            n++;
        H5Fclose(h);
    }
    closedir(d);
    return n;
}

/* Poll until `path` exists or `pid` exits; returns 1 when the file appeared first. */
static int wait_for_file(const char *path, pid_t pid)
{
    for (int i = 0; i < 20000; i++) {
        struct timespec ts = {0, 1000 * 1000};
        if (exists(path))
            return 1;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return 0;
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- tests ---- */

static void test_sweep_cli_help(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, "sweep", "--help", NULL), 0);
    assert_non_null(strstr(f->out, "usage: setm sweep SCENARIO"));
    assert_non_null(strstr(f->out, "log:lo:hi:n"));
}

static void test_sweep_cli_missing_scenario_is_usage_error(void **state)
{
    struct tu_fx *f = *state;
    assert_int_equal(tu_run(f, "sweep", NULL), 2);
    assert_non_null(strstr(f->errtxt, "missing SCENARIO"));
}

static void test_sweep_cli_bad_jobs_is_usage_error(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), "-j", "0", NULL), 2);
    assert_non_null(strstr(f->errtxt, "-j 0"));
}

static void test_sweep_cli_bad_sweep_value_is_bad_input_and_creates_nothing(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", "[scenario]\nname = b\n[sweep]\npopulation.count = 1, x\n");
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 2);
    assert_non_null(strstr(f->errtxt, "s.ini:4:"));
    assert_non_null(strstr(f->errtxt, "'x'"));
    assert_false(exists(at(f, 0, "out")));
}

static void test_sweep_cli_contradicting_point_is_bad_input(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", "[scenario]\nname = b\n[sim]\ndays = 0.25\n[agent.a]\n"
                                    "count = 1\nmin_bid = 30\nmax_bid = 50\n"
                                    "[sweep]\nagent.a.min_bid = 40, 60\n");
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 2);
    assert_non_null(strstr(f->errtxt, "agent.a.min_bid=60"));
    assert_false(exists(at(f, 0, "out")));
}

static void test_sweep_cli_run_table(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", small);
    int64_t run_i[4], count[4], seed[4], rep[4];
    char file[4][16], status[4][8];
    double agents[4];
    hid_t h, link;
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), "-j", "2", NULL), 0);
    assert_non_null(strstr(f->out, "4 runs (2 points x 2 seeds)"));
    h = open_sweep(f, "out");
    assert_int_equal(attr_i64(h, "n_runs"), 4);
    assert_int_equal(attr_i64(h, "runs_ok"), 4);
    assert_int_equal(attr_i64(h, "complete"), 1);
    assert_int_equal(column_len(h, "runs/run"), 4);
    read_col(h, "runs/run", H5T_NATIVE_INT64, run_i);
    read_col(h, "runs/population.count", H5T_NATIVE_INT64, count);
    read_col(h, "runs/seed", H5T_NATIVE_INT64, seed);
    read_col(h, "runs/rep", H5T_NATIVE_INT64, rep);
    read_str_col(h, "runs/file", &file[0][0], sizeof file[0]);
    read_str_col(h, "runs/status", &status[0][0], sizeof status[0]);
    read_col(h, "summary/agents", H5T_NATIVE_DOUBLE, agents);
    for (int i = 0; i < 4; i++) {
        char want[32];
        snprintf(want, sizeof want, "run-%04d.h5", i);
        assert_int_equal(run_i[i], i);
        assert_int_equal(count[i], i < 2 ? 4 : 8);
        assert_int_equal(rep[i], i % 2);
        assert_string_equal(file[i], want);
        assert_string_equal(status[i], "ok");
        assert_true(agents[i] == (double)count[i]);
    }
    assert_int_equal(seed[0], 5);
    assert_int_equal(seed[2], 5);
    assert_int_equal(seed[1], seed[3]);
    assert_int_not_equal(seed[1], 5);
    link = H5Oopen(h, "files/run-0003", H5P_DEFAULT); /* the external link resolves */
    assert_true(link >= 0);
    assert_int_equal(attr_i64(link, "seed"), seed[3]);
    H5Oclose(link);
    H5Fclose(h);
}

static void test_sweep_cli_quiet_and_piped_prints_no_progress(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), "--quiet", NULL), 0);
    assert_string_equal(f->out, "");
    assert_string_equal(f->errtxt, "");
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 1, "out2"), NULL), 0);
    assert_null(strchr(f->errtxt, '\r'));
}

static void test_sweep_cli_failed_run_exits_1_and_is_listed(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", "[scenario]\nname = c\n[sim]\ndays = 0.25\n[agent.a]\n"
                                    "count = 1\n"
                                    "[sweep]\nagent.a.load_csv = \"\", /nonexistent/x.csv\n");
    char status[2][8];
    hid_t h;
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 1);
    assert_non_null(strstr(f->errtxt, "1 of 2 runs failed"));
    assert_non_null(strstr(f->errtxt, "run-0001.h5"));
    assert_non_null(strstr(f->errtxt, "x.csv"));
    h = open_sweep(f, "out");
    read_str_col(h, "runs/status", &status[0][0], sizeof status[0]);
    assert_string_equal(status[0], "ok");
    assert_string_equal(status[1], "failed");
    assert_int_equal(attr_i64(h, "runs_failed"), 1);
    assert_true(H5Lexists(h, "files/run-0000", H5P_DEFAULT) > 0);
    assert_true(H5Lexists(h, "files/run-0001", H5P_DEFAULT) <= 0);
    H5Fclose(h);
}

static void test_sweep_cli_rerun_keeps_every_finished_run(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", small);
    struct stat before, after;
    hid_t h;
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 0);
    assert_int_equal(stat(at(f, 1, "out/run-0002.h5"), &before), 0);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 0);
    assert_non_null(strstr(f->out, "4 runs already complete, 0 to do"));
    assert_int_equal(stat(at(f, 1, "out/run-0002.h5"), &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    h = open_sweep(f, "out");
    assert_int_equal(attr_i64(h, "runs_kept"), 4);
    H5Fclose(h);
}

static void test_sweep_cli_changed_point_is_redone(void **state)
{
    struct tu_fx *f = *state;
    char changed[sizeof small + 8];
    const char *p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 0);
    snprintf(changed, sizeof changed, "%s", small);
    memcpy(strstr(changed, "4, 8"), "4, 9", 4); /* point 1 changes, point 0 stays */
    p = put(f, "s.ini", changed);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 0);
    assert_non_null(strstr(f->out, "2 runs already complete, 2 to do"));
}

/* Interrupt (SIGINT, as Ctrl-C) after two runs, then resume. */
static void test_sweep_cli_resume_after_interrupt(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", slow);
    struct stat first, again;
    size_t done;
    int64_t kept[8];
    pid_t pid;
    hid_t h;

    pid = run_bg(f, "sweep", p, "-o", at(f, 0, "out"), "-j", "1", NULL);
    if (!wait_for_file(at(f, 1, "out/run-0001.h5"), pid))
        fail_msg("the sweep ended before its second run was written");
    kill(pid, SIGINT);
    assert_int_equal(finish(f, pid), 1);
    assert_non_null(strstr(f->errtxt, "interrupted"));
    done = count_complete(at(f, 0, "out"));
    if (done >= 8)
        fail_msg("the sweep finished before the interrupt: make its runs longer");
    assert_int_equal(count_files(at(f, 0, "out"), ".tmp."), 0);
    assert_false(exists(at(f, 1, "out/sweep.h5")));
    assert_int_equal(stat(at(f, 1, "out/run-0000.h5"), &first), 0);

    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), "-j", "1", NULL), 0);
    assert_int_equal(stat(at(f, 1, "out/run-0000.h5"), &again), 0);
    assert_int_equal(first.st_ino, again.st_ino); /* kept, not redone */
    h = open_sweep(f, "out");
    assert_int_equal(attr_i64(h, "runs_ok"), 8);
    assert_int_equal(attr_i64(h, "runs_kept"), (int64_t)done);
    assert_int_equal(column_len(h, "runs/run"), 8);
    read_col(h, "runs/run", H5T_NATIVE_INT64, kept);
    for (int i = 0; i < 8; i++)
        assert_int_equal(kept[i], i); /* each run once */
    H5Fclose(h);
}

/* Kill the sweep outright (SIGKILL: no clean-up), leave a stale temp file, then resume. */
static void test_sweep_cli_resume_after_kill(void **state)
{
    struct tu_fx *f = *state;
    char p[256];
    pid_t pid;
    hid_t h;

    snprintf(p, sizeof p, "%s", put(f, "s.ini", slow));
    pid = run_bg(f, "sweep", p, "-o", at(f, 0, "out"), "-j", "2", NULL);
    if (!wait_for_file(at(f, 1, "out/run-0001.h5"), pid))
        fail_msg("the sweep ended before its second run was written");
    kill(pid, SIGKILL);
    assert_int_equal(finish(f, pid), 128 + SIGKILL);
    put(f, "out/run-0005.h5.tmp.999999", "half a file");

    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 0);
    assert_non_null(strstr(f->out, "already complete"));
    assert_int_equal(count_files(at(f, 0, "out"), ".tmp."), 0);
    h = open_sweep(f, "out");
    assert_int_equal(attr_i64(h, "runs_ok"), 8);
    assert_int_equal(column_len(h, "summary/agents"), 8);
    H5Fclose(h);
}

static void test_sweep_cli_jobs_1_and_2_give_identical_results(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", small);
    static const char *const cols[] = {"summary/generation_kwh", "summary/load_kwh",
                                       "summary/events", "runs/seed"};
    hid_t a, b;
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "j1"), "-j", "1", NULL), 0);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "j2"), "-j", "2", NULL), 0);
    a = open_sweep(f, "j1");
    b = open_sweep(f, "j2");
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        double va[4], vb[4];
        assert_int_equal(column_len(a, cols[c]), 4);
        read_col(a, cols[c], H5T_NATIVE_DOUBLE, va);
        read_col(b, cols[c], H5T_NATIVE_DOUBLE, vb);
        assert_memory_equal(va, vb, sizeof va);
    }
    H5Fclose(a);
    H5Fclose(b);
}

static void test_sweep_cli_scenario_without_sweep_is_one_run(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", "[scenario]\nname = one\n[sim]\ndays = 0.25\n[agent.a]\n"
                                    "count = 1\n");
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), NULL), 0);
    assert_true(exists(at(f, 1, "out/run-0000.h5")));
    assert_true(exists(at(f, 1, "out/sweep.h5")));
}

/* Issue 13: another scenario swept into a directory holding a finished sweep replaced it. */
static const char other[] = "[scenario]\nname = other\nseed = 5\n[sim]\ndays = 0.25\n"
                            "[population]\ncount = 6\nhome_solar = 1\nsmart_device = 1\n"
                            "solar_system = 0.3\n"
                            "[sweep]\npopulation.count = 5, 7\nseeds = 2\n";

static void test_sweep_cli_other_scenario_into_finished_sweep_is_refused(void **state)
{
    struct tu_fx *f = *state;
    char first[256];
    struct stat run_before, run_after, sw_before, sw_after;
    snprintf(first, sizeof first, "%s", put(f, "s.ini", small));
    assert_int_equal(tu_run(f, "sweep", first, "-o", at(f, 0, "out"), "-q", NULL), 0);
    assert_int_equal(stat(at(f, 1, "out/run-0001.h5"), &run_before), 0);
    assert_int_equal(stat(at(f, 1, "out/sweep.h5"), &sw_before), 0);
    assert_int_equal(tu_run(f, "sweep", put(f, "o.ini", other), "-o", at(f, 0, "out"), NULL), 2);
    /* the message names the scenario found there (its file and name) and the way out */
    assert_non_null(strstr(f->errtxt, first));
    assert_non_null(strstr(f->errtxt, "small"));
    assert_non_null(strstr(f->errtxt, "--force"));
    assert_null(strstr(f->out, "runs (")); /* refused before the plan is announced */
    /* nothing of the finished sweep was touched */
    assert_int_equal(stat(at(f, 1, "out/run-0001.h5"), &run_after), 0);
    assert_int_equal(run_before.st_ino, run_after.st_ino);
    assert_int_equal(run_before.st_mtime, run_after.st_mtime);
    assert_int_equal(stat(at(f, 1, "out/sweep.h5"), &sw_after), 0);
    assert_int_equal(sw_before.st_ino, sw_after.st_ino);
    assert_int_equal(count_complete(at(f, 1, "out")), 4);
}

static void test_sweep_cli_changed_base_key_into_finished_sweep_is_refused(void **state)
{
    struct tu_fx *f = *state;
    const char *p = put(f, "s.ini", small);
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), "-q", NULL), 0);
    /* the same file with a --set on a base key is another scenario: every run would be redone */
    assert_int_equal(tu_run(f, "sweep", p, "-o", at(f, 0, "out"), "--set", "sim.days=0.5", NULL), 2);
    assert_non_null(strstr(f->errtxt, "days = 0.25"));
    assert_non_null(strstr(f->errtxt, "days = 0.5"));
    assert_int_equal(count_complete(at(f, 1, "out")), 4);
}

static void test_sweep_cli_force_replaces_other_scenario(void **state)
{
    struct tu_fx *f = *state;
    hid_t h;
    assert_int_equal(tu_run(f, "sweep", put(f, "s.ini", small), "-o", at(f, 0, "out"), "-q", NULL),
                     0);
    assert_int_equal(
        tu_run(f, "sweep", put(f, "o.ini", other), "-o", at(f, 0, "out"), "--force", "-q", NULL), 0);
    h = open_sweep(f, "out");
    assert_int_equal(attr_i64(h, "runs_ok"), 4);
    assert_int_equal(attr_i64(h, "runs_kept"), 0); /* none of the other scenario's runs fit */
    {
        int64_t count[4];
        read_col(h, "runs/population.count", H5T_NATIVE_INT64, count);
        assert_int_equal(count[0], 5);
        assert_int_equal(count[3], 7);
    }
    H5Fclose(h);
}

static void test_sweep_cli_unreadable_sweep_h5_is_refused(void **state)
{
    struct tu_fx *f = *state;
    char text[64];
    assert_int_equal(mkdir(at(f, 0, "out"), 0755), 0);
    put(f, "out/sweep.h5", "not an HDF5 file\n");
    assert_int_equal(tu_run(f, "sweep", put(f, "s.ini", small), "-o", at(f, 0, "out"), NULL), 2);
    assert_non_null(strstr(f->errtxt, "cannot be read"));
    tu_slurp(at(f, 1, "out/sweep.h5"), text, sizeof text);
    assert_string_equal(text, "not an HDF5 file\n");
    assert_int_equal(count_files(at(f, 1, "out"), "run-"), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sweep_cli_help),
        T(test_sweep_cli_missing_scenario_is_usage_error),
        T(test_sweep_cli_bad_jobs_is_usage_error),
        T(test_sweep_cli_bad_sweep_value_is_bad_input_and_creates_nothing),
        T(test_sweep_cli_contradicting_point_is_bad_input),
        T(test_sweep_cli_run_table),
        T(test_sweep_cli_quiet_and_piped_prints_no_progress),
        T(test_sweep_cli_failed_run_exits_1_and_is_listed),
        T(test_sweep_cli_rerun_keeps_every_finished_run),
        T(test_sweep_cli_changed_point_is_redone),
        T(test_sweep_cli_resume_after_interrupt),
        T(test_sweep_cli_resume_after_kill),
        T(test_sweep_cli_jobs_1_and_2_give_identical_results),
        T(test_sweep_cli_scenario_without_sweep_is_one_run),
        T(test_sweep_cli_other_scenario_into_finished_sweep_is_refused),
        T(test_sweep_cli_changed_base_key_into_finished_sweep_is_refused),
        T(test_sweep_cli_force_replaces_other_scenario),
        T(test_sweep_cli_unreadable_sweep_h5_is_refused),
    };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
