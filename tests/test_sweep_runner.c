/* test_sweep_runner — the library side of sweeps without the command: the run table's invariant
 * (each run in one state, a duplicate or stray report never counted, an interrupted run back to
 * todo), the resume rule across two runners and the foreign-sweep refusal. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli_harness.h"
#include "core/err.h"
#include "io/h5.h"
#include "run/sweep_runner.h"

struct fx {
    char dir[64];
    char scenario[128];
    char out[160];
    volatile sig_atomic_t stop;
    struct err e;
};

/* 3 points x 1 seed of a tiny population over a quarter day. */
static const char small[] = "[scenario]\nname = lib\nseed = 9\n[sim]\ndays = 0.25\n"
                            "[population]\ncount = 4\nhome_solar = 2\nsmart_device = 1\n"
                            "solar_system = 0.3\n[sweep]\npopulation.count = 3, 4, 5\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->dir, "swr") != 0 ||
        tu_put(f->dir, "s.ini", small, f->scenario, sizeof f->scenario) != 0)
        return -1;
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static struct swr *runner(struct fx *f, const char *const *sets, size_t n_sets)
{
    struct swr *r = swr_new(f->scenario, f->out, sets, n_sets, &f->stop, &f->e);
    if (!r)
        fail_msg("swr_new: %s", f->e.msg);
    return r;
}

/* Run every planned run in this process and record it. */
static void run_all(struct swr *r)
{
    for (size_t k = 0; k < r->n_todo; k++) {
        struct swr_result res;
        swr_start(r, r->todo[k]);
        swr_run_one(r, r->todo[k], NULL, NULL, &res);
        if (res.rc)
            fail_msg("run %zu: %s", r->todo[k], res.msg);
        assert_int_equal(swr_record(r, &res), SWR_DONE_OK);
    }
}

static void test_swr_table_counts_each_run_once(void **state)
{
    struct fx *f = *state;
    struct swr *r = runner(f, NULL, 0);
    struct swr_result res = {0};
    assert_int_equal(swr_prepare(r, 0, &f->e), 0);
    assert_int_equal(r->sw->n_runs, 3);
    assert_int_equal(r->n_todo, 3);
    assert_int_equal(swr_left(r), 3);
    /* a report for a run that is not running is ignored */
    res.run = 0;
    assert_int_equal(swr_record(r, &res), SWR_IGNORED);
    res.run = 99;
    assert_int_equal(swr_record(r, &res), SWR_IGNORED);
    res.run = -1;
    assert_int_equal(swr_record(r, &res), SWR_IGNORED);
    /* interrupted: back to todo, nothing counted */
    swr_start(r, 1);
    assert_int_equal(r->n_running, 1);
    res.run = 1;
    res.rc = ERR_INTERRUPTED;
    assert_int_equal(swr_record(r, &res), SWR_REQUEUED);
    assert_int_equal(r->runs[1].status, SWR_TODO);
    assert_int_equal(r->n_running, 0);
    assert_int_equal(r->n_done_now, 0);
    /* failed once, and the duplicate report of it is not counted again */
    swr_start(r, 2);
    res.run = 2;
    res.rc = ERR_RUNTIME;
    snprintf(res.msg, sizeof res.msg, "broken on purpose");
    assert_int_equal(swr_record(r, &res), SWR_DONE_FAILED);
    assert_int_equal(swr_record(r, &res), SWR_IGNORED);
    assert_int_equal(r->n_failed, 1);
    assert_string_equal(r->runs[2].error, "broken on purpose");
    assert_int_equal(swr_left(r), 2);
    swr_free(r);
}

static void test_swr_second_runner_keeps_finished_runs(void **state)
{
    struct fx *f = *state;
    struct swr *r = runner(f, NULL, 0);
    char path[256];
    struct stat st;
    assert_int_equal(swr_prepare(r, 0, &f->e), 0);
    run_all(r);
    assert_int_equal(r->n_ok, 3);
    assert_int_equal(swr_write_h5(r, &f->e), 0);
    swr_free(r);
    snprintf(path, sizeof path, "%s/sweep.h5", f->out);
    assert_int_equal(stat(path, &st), 0);

    r = runner(f, NULL, 0);
    assert_int_equal(swr_prepare(r, 0, &f->e), 0);
    assert_int_equal(r->n_kept, 3);
    assert_int_equal(r->n_todo, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r->runs[i].status, SWR_OK);
        assert_int_equal(r->runs[i].kept, 1);
    }
    swr_free(r);
}

static void test_swr_other_base_scenario_is_refused_unless_forced(void **state)
{
    struct fx *f = *state;
    const char *const sets[] = {"sim.days=0.5"};
    struct swr *r = runner(f, NULL, 0);
    assert_int_equal(swr_prepare(r, 0, &f->e), 0);
    run_all(r);
    assert_int_equal(swr_write_h5(r, &f->e), 0);
    swr_free(r);

    r = runner(f, sets, 1);
    assert_int_equal(swr_prepare(r, 0, &f->e), ERR_USAGE);
    assert_non_null(strstr(f->e.msg, f->scenario));
    assert_non_null(strstr(f->e.msg, "scenario.name lib"));
    assert_null(r->runs); /* refused before the plan */
    swr_free(r);

    r = runner(f, sets, 1);
    assert_int_equal(swr_prepare(r, 1, &f->e), 0);
    assert_int_equal(r->n_kept, 0); /* every run differs in sim.days */
    assert_int_equal(r->n_todo, 3);
    swr_free(r);
}

static void test_swr_bad_scenario_is_config_error(void **state)
{
    struct fx *f = *state;
    char path[128];
    assert_int_equal(tu_put(f->dir, "bad.ini", "[sweep]\nno.such_key = 1, 2\n", path,
                            sizeof path),
                     0);
    assert_null(swr_new(path, f->out, NULL, 0, &f->stop, &f->e));
    assert_int_equal(err_exit_code(f->e.code), 2);
    assert_non_null(strstr(f->e.msg, "no.such_key"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_swr_table_counts_each_run_once),
        T(test_swr_second_runner_keeps_finished_runs),
        T(test_swr_other_base_scenario_is_refused_unless_forced),
        T(test_swr_bad_scenario_is_config_error),
    };
    h5_lib_init();
    return cmocka_run_group_tests_name("sweep_runner", tests, NULL, NULL);
}
