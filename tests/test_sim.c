/* test_sim — one run through the API: tables written, progress reported, stop honoured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
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

static double summary_value(hid_t file, const char *name)
{
    double v = NAN;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
    H5Dclose(d);
    return v;
}

/* The trades of a run under one mutual-key model, as (seller, buyer, kWh, price) columns. */
static double *run_trades(struct fx *f, const char *model, hsize_t *n, double *failures)
{
    struct sim_opts o = {.output = f->path};
    struct sim_summary sum;
    char set[64];
    const char *cols[] = {"trades/seller", "trades/buyer", "trades/kwh", "trades/price"};
    double *v;
    hid_t file;
    snprintf(set, sizeof set, "security.mutual_key=%s", model);
    assert_int_equal(cfg_set(&f->cfg, set, &f->e), 0);
    assert_int_equal(sim_run(&f->cfg, &o, &sum, &f->e), 0);
    file = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    read_col(file, "trades/price", H5T_NATIVE_DOUBLE, NULL, n);
    v = calloc(4 * *n + 1, sizeof *v);
    assert_non_null(v);
    for (int c = 0; c < 4; c++) {
        hsize_t m;
        read_col(file, cols[c], H5T_NATIVE_DOUBLE, v + c * *n, &m);
        assert_int_equal(m, *n);
    }
    *failures = summary_value(file, "summary/mutual_key_failures");
    H5Fclose(file);
    return v;
}

/* Both mutual-key models confirm every honest trade (no mutual_key failure) and leave the market
 * the same: the key decides whether a confirmation holds, never a price or a match. */
static void test_sim_mutual_key_models_same_market(void **state)
{
    struct fx *f = *state;
    hsize_t nb, nk;
    double fb = -1, fk = -1, *b, *k;
    assert_int_equal(cfg_set(&f->cfg, "population.count=40", &f->e), 0);
    assert_int_equal(cfg_set(&f->cfg, "sim.days=0.25", &f->e), 0);
    b = run_trades(f, "bestowed", &nb, &fb);
    k = run_trades(f, "kx", &nk, &fk);
    assert_true(nb > 20);
    assert_int_equal(nb, nk);
    assert_memory_equal(b, k, 4 * nb * sizeof *b);
    assert_true(fb == 0 && fk == 0);
    free(b);
    free(k);
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
        T(test_sim_mutual_key_models_same_market),
    };
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
