/* test_sim — one run through the API: tables written, progress reported, stop honoured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli_harness.h"
#include <hdf5.h>

#include "core/config.h"
#include "run/sim.h"

struct fx {
    char dir[64];
    char path[128];
    struct cfg cfg;
    struct err e;
    int progress_calls;
    double last_fraction;
    volatile sig_atomic_t stop;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->dir, "sim") != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/run.h5", f->dir);
    cfg_init(&f->cfg);
    /* the chain is exercised by its own suites: keep mining cheap here */
    if (cfg_set(&f->cfg, "mine.backend=cpu", &f->e) || cfg_set(&f->cfg, "chain.difficulty_bits=8", &f->e))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cfg_fini(&f->cfg);
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static void on_progress(double fraction, void *ctx)
{
    struct fx *f = ctx;
    assert_true(fraction > f->last_fraction);
    f->last_fraction = fraction;
    f->progress_calls++;
}

static void on_progress_stop(double fraction, void *ctx)
{
    struct fx *f = ctx;
    (void)fraction;
    if (++f->progress_calls == 10)
        f->stop = 1; /* as the SIGINT handler does */
}

static void read_col(hid_t file, const char *name, hid_t type, void *buf, hsize_t *n)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), s = H5Dget_space(d);
    assert_true(d >= 0);
    H5Sget_simple_extent_dims(s, n, NULL);
    if (buf)
        assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(s);
    H5Dclose(d);
}

static void test_sim_run_writes_slots_and_agents(void **state)
{
    struct fx *f = *state;
    struct sim_opts o = {.output = f->path, .scenario_path = "x.ini", .progress = on_progress,
                         .progress_ctx = f, .stop = &f->stop};
    struct sim_summary sum;
    hid_t file;
    hsize_t n;
    double t_start[96];
    int32_t minute[96], rounds[96];
    char names[5][96];

    assert_int_equal(cfg_set(&f->cfg, "agent.house.count=3", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "agent.plant.type=solar_system", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "market.rounds_per_slot=4", &f->e), 0);
    assert_int_equal(sim_run(&f->cfg, &o, &sum, &f->e), 0);
    assert_int_equal(sum.agents, 4);
    assert_int_equal(sum.slots, 96);
    assert_int_equal(sum.rounds, 96 * 4);
    assert_true(sum.sim_seconds == 86400.0);
    assert_int_equal(f->progress_calls, 96);
    assert_true(f->last_fraction == 1.0);

    file = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    read_col(file, "slots/t_start", H5T_NATIVE_DOUBLE, t_start, &n);
    assert_int_equal(n, 96);
    read_col(file, "slots/minute_of_day", H5T_NATIVE_INT32, minute, &n);
    read_col(file, "slots/rounds", H5T_NATIVE_INT32, rounds, &n);
    for (int i = 0; i < 96; i++) {
        assert_true(t_start[i] == 900.0 * i);
        assert_int_equal(minute[i], 15 * i);
        assert_int_equal(rounds[i], 4);
    }
    {
        hid_t d = H5Dopen2(file, "agents/name", H5P_DEFAULT), t = H5Dget_type(d);
        assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0);
        assert_string_equal(names[0], "house-0");
        assert_string_equal(names[2], "house-2");
        assert_string_equal(names[3], "plant");
        H5Tclose(t);
        H5Dclose(d);
    }
    H5Fclose(file);
}

/* A stop request (what SIGINT/SIGTERM raise) keeps the slots simulated so far, flushed, in a file
 * marked complete = 0. */
static void test_sim_stop_request_keeps_partial_file(void **state)
{
    struct fx *f = *state;
    struct sim_opts o = {.output = f->path, .progress = on_progress_stop, .progress_ctx = f,
                         .stop = &f->stop};
    struct sim_summary sum;
    hid_t file, a;
    hsize_t n;
    int64_t complete = -1;
    assert_int_equal(cfg_set(&f->cfg, "agent.house.count=3", &f->e), 0);
    assert_int_equal(sim_run(&f->cfg, &o, &sum, &f->e), ERR_INTERRUPTED);
    assert_non_null(strstr(f->e.msg, "stopped"));
    assert_non_null(strstr(f->e.msg, "complete = 0"));
    assert_int_equal(f->progress_calls, 10);
    file = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    a = H5Aopen(file, "complete", H5P_DEFAULT);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &complete) >= 0);
    H5Aclose(a);
    assert_int_equal(complete, 0);
    read_col(file, "slots/slot", H5T_NATIVE_INT64, NULL, &n);
    assert_int_equal(n, 10);
    read_col(file, "agents/id", H5T_NATIVE_INT64, NULL, &n);
    assert_int_equal(n, 3);
    H5Fclose(file);
}

static void test_sim_unwritable_output(void **state)
{
    struct fx *f = *state;
    struct sim_opts o = {.output = "/nonexistent-dir/run.h5"};
    struct sim_summary sum;
    assert_int_equal(sim_run(&f->cfg, &o, &sum, &f->e), ERR_IO);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_sim_run_writes_slots_and_agents),
        T(test_sim_stop_request_keeps_partial_file),
        T(test_sim_unwritable_output),
    };
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
