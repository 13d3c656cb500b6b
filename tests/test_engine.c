/* test_engine — event ordering (incl. ties and cancel), run-until/stop, errors, PHOLD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/engine.h"
#include "core/events.h"
#include "core/phold.h"
#include "core/rng.h"

#define MAXLOG 200000

struct trace {
    size_t n;
    double times[MAXLOG];
    uint64_t tags[MAXLOG];
    int fail_at;      /* return an error from the handler on this call (1-based), 0 = never */
    int stop_at;      /* call eng_stop() on this call, 0 = never */
    int spawn;        /* each event schedules one successor this far ahead (0 = none) */
};

static int on_log(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct trace *t = vctx;
    t->times[t->n] = ev->time;
    t->tags[t->n] = ev->data.u64[0];
    t->n++;
    if (t->fail_at && (int)t->n == t->fail_at)
        return err_set(eng_err(eng), ERR_RUNTIME, "handler failed on purpose");
    if (t->stop_at && (int)t->n == t->stop_at)
        eng_stop(eng);
    if (t->spawn) {
        union eng_payload p = {.u64 = {ev->data.u64[0] + 1000}};
        return eng_schedule_in(eng, t->spawn, 0, 0, &p, NULL);
    }
    return 0;
}

static int setup(void **state)
{
    struct trace *t = calloc(1, sizeof *t);
    *state = t;
    return t ? 0 : -1;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static struct eng *engine_with_log(struct trace *t, size_t cap)
{
    struct eng *eng = eng_new(cap);
    assert_non_null(eng);
    assert_int_equal(eng_handler_set(eng, 0, on_log, t), 0);
    return eng;
}

static void sched(struct eng *eng, double time, uint64_t tag, eng_handle *h)
{
    union eng_payload p = {.u64 = {tag}};
    assert_int_equal(eng_schedule(eng, time, 0, 0, &p, h), 0);
}

static void test_engine_orders_by_time(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 4);
    double times[] = {5.0, 1.0, 3.0, 0.5, 4.0, 2.0};
    for (size_t i = 0; i < 6; i++)
        sched(eng, times[i], i, NULL);
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->n, 6);
    for (size_t i = 1; i < t->n; i++)
        assert_true(t->times[i - 1] <= t->times[i]);
    assert_int_equal(t->tags[0], 3);
    assert_int_equal(t->tags[5], 0);
    eng_free(eng);
}

static void test_engine_ties_run_in_schedule_order(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    for (uint64_t i = 0; i < 50; i++)
        sched(eng, (i % 2) ? 7.0 : 3.0, i, NULL);
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->n, 50);
    /* all even tags (t=3) first, in increasing order; then odd tags (t=7) in increasing order */
    for (size_t i = 0; i < 25; i++) {
        assert_int_equal(t->tags[i], 2 * i);
        assert_int_equal(t->tags[25 + i], 2 * i + 1);
    }
    eng_free(eng);
}

static void test_engine_negative_zero_time_is_zero(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    sched(eng, 0.0, 1, NULL);
    sched(eng, -0.0, 2, NULL);
    sched(eng, 1e-300, 3, NULL);
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->tags[0], 1);
    assert_int_equal(t->tags[1], 2);
    assert_int_equal(t->tags[2], 3);
    eng_free(eng);
}

static int cmp_ref(const void *a, const void *b)
{
    const double *x = a, *y = b; /* (time, seq) pairs */
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

/* Random times with many exact ties and random cancels, against a sort of the survivors. */
static void test_engine_matches_reference_order_with_cancels(void **state)
{
    struct trace *t = *state;
    enum { N = 20000 };
    struct eng *eng = engine_with_log(t, 8);
    gsl_rng *r = rng_stream_new(42, "test", 0);
    eng_handle *h = malloc(N * sizeof *h);
    double(*ref)[2] = malloc(N * sizeof *ref);
    char *cancelled = calloc(N, 1);
    size_t nref = 0;
    assert_non_null(r);
    for (uint64_t i = 0; i < N; i++)
        sched(eng, (double)gsl_rng_uniform_int(r, 500) * 0.25, i, &h[i]);
    for (uint64_t i = 0; i < N; i += 1 + gsl_rng_uniform_int(r, 7)) {
        assert_int_equal(eng_cancel(eng, h[i]), 0);
        cancelled[i] = 1;
    }
    for (uint64_t i = 0; i < N; i++)
        if (!cancelled[i]) {
            ref[nref][0] = 0; /* filled below */
            ref[nref][1] = (double)i;
            nref++;
        }
    assert_int_equal(eng_pending(eng), nref);
    /* Rebuild the reference times from the same draws. */
    rng_stream_reset(r, 42, "test", 0);
    {
        double *times = malloc(N * sizeof *times);
        for (uint64_t i = 0; i < N; i++)
            times[i] = (double)gsl_rng_uniform_int(r, 500) * 0.25;
        for (size_t k = 0; k < nref; k++)
            ref[k][0] = times[(size_t)ref[k][1]];
        free(times);
    }
    qsort(ref, nref, sizeof ref[0], cmp_ref);
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->n, nref);
    for (size_t k = 0; k < nref; k++) {
        assert_true(t->times[k] == ref[k][0]);
        assert_int_equal(t->tags[k], (uint64_t)ref[k][1]);
    }
    assert_int_equal(eng_pending(eng), 0);
    free(h);
    free(ref);
    free(cancelled);
    rng_free(r);
    eng_free(eng);
}

static void test_engine_cancel_rejects_stale_and_unknown_handles(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    eng_handle a, b;
    sched(eng, 1.0, 1, &a);
    assert_int_equal(eng_cancel(eng, 0), ERR_NOTFOUND);
    assert_int_equal(eng_cancel(eng, (uint64_t)1 << 40 | 999), ERR_NOTFOUND);
    assert_int_equal(eng_cancel(eng, a), 0);
    assert_int_equal(eng_cancel(eng, a), ERR_NOTFOUND); /* twice */
    assert_int_equal(eng_run_until(eng, 2.0), 0);
    assert_int_equal(t->n, 0);
    sched(eng, 3.0, 2, &b); /* reuses a's slot */
    assert_int_equal(eng_cancel(eng, a), ERR_NOTFOUND); /* stale handle must not hit b */
    assert_int_equal(eng_run_until(eng, 5.0), 0);
    assert_int_equal(t->n, 1);
    assert_int_equal(eng_cancel(eng, b), ERR_NOTFOUND); /* already run */
    eng_free(eng);
}

static void test_engine_run_until_is_inclusive_and_advances_clock(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    sched(eng, 1.0, 1, NULL);
    sched(eng, 2.0, 2, NULL);
    sched(eng, 2.5, 3, NULL);
    assert_int_equal(eng_run_until(eng, 2.0), 0);
    assert_int_equal(t->n, 2);
    assert_true(eng_now(eng) == 2.0);
    assert_int_equal(eng_pending(eng), 1);
    assert_int_equal(eng_run_until(eng, 10.0), 0);
    assert_int_equal(t->n, 3);
    assert_true(eng_now(eng) == 10.0);
    assert_int_equal(eng_executed(eng), 3);
    eng_free(eng);
}

static void test_engine_stop_returns_interrupted_and_resumes(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    t->stop_at = 3;
    for (int i = 0; i < 10; i++)
        sched(eng, i, i, NULL);
    assert_int_equal(eng_run_until(eng, INFINITY), ERR_INTERRUPTED);
    assert_int_equal(t->n, 3);
    assert_true(eng_now(eng) == 2.0);
    t->stop_at = 0;
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->n, 10);
    eng_free(eng);
}

static void test_engine_rejects_past_nonfinite_and_unregistered(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    sched(eng, 5.0, 1, NULL);
    assert_int_equal(eng_run_until(eng, 5.0), 0);
    assert_int_equal(eng_schedule(eng, 4.0, 0, 0, NULL, NULL), ERR_RUNTIME);
    assert_non_null(strstr(eng_err(eng)->msg, "before now"));
    assert_int_equal(eng_schedule(eng, NAN, 0, 0, NULL, NULL), ERR_RUNTIME);
    assert_int_equal(eng_schedule(eng, INFINITY, 0, 0, NULL, NULL), ERR_RUNTIME);
    assert_int_equal(eng_schedule_in(eng, -1.0, 0, 0, NULL, NULL), ERR_RUNTIME);
    assert_int_equal(eng_schedule(eng, 6.0, 7, 0, NULL, NULL), ERR_RUNTIME);
    assert_non_null(strstr(eng_err(eng)->msg, "no handler"));
    assert_int_equal(eng_schedule(eng, 6.0, ENG_MAX_TYPES, 0, NULL, NULL), ERR_RUNTIME);
    assert_int_equal(eng_handler_set(eng, ENG_MAX_TYPES, on_log, t), ERR_RUNTIME);
    assert_int_equal(eng_pending(eng), 0);
    eng_free(eng);
}

static int on_other(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    (void)eng;
    (void)ev;
    (*(int *)vctx)++;
    return 0;
}

/* A second registration of a type used to replace the first silently. */
static void test_engine_second_handler_for_a_type_is_an_error(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 4);
    int other_calls = 0;
    assert_int_equal(eng_handler_set(eng, 0, on_other, &other_calls), ERR_RUNTIME);
    assert_non_null(strstr(eng_err(eng)->msg, "already has a handler"));
    assert_non_null(strstr(eng_err(eng)->msg, "PHOLD_EV")); /* type 0 by its registry name */
    assert_int_equal(eng_handler_set(eng, 0, on_log, t), ERR_RUNTIME); /* the same one too */
    assert_int_equal(eng_handler_set(eng, 1, NULL, NULL), ERR_RUNTIME);
    /* the first registration stays in force */
    sched(eng, 1.0, 7, NULL);
    assert_int_equal(eng_run_until(eng, 2.0), 0);
    assert_int_equal(t->n, 1);
    assert_int_equal(other_calls, 0);
    /* other types are still free */
    assert_int_equal(eng_handler_set(eng, CHAIN_EV_RACE, on_other, &other_calls), 0);
    eng_free(eng);
}

static void test_engine_registry_names_the_model_types(void **state)
{
    (void)state;
    assert_true(EV_TYPE_COUNT <= ENG_MAX_TYPES);
    assert_string_equal(ev_type_name(SIM_EV_SLOT_START), "SIM_EV_SLOT_START");
    assert_string_equal(ev_type_name(MKT_EV_REPLY), "MKT_EV_REPLY");
    assert_string_equal(ev_type_name(CHAIN_EV_DELIVER), "CHAIN_EV_DELIVER");
    assert_string_equal(ev_type_name(EV_TYPE_COUNT), "unknown");
    for (uint32_t a = 0; a < EV_TYPE_COUNT; a++)
        for (uint32_t b = a + 1; b < EV_TYPE_COUNT; b++)
            assert_string_not_equal(ev_type_name(a), ev_type_name(b));
}

static void test_engine_handler_error_aborts_run(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    t->fail_at = 2;
    for (int i = 0; i < 5; i++)
        sched(eng, i, i, NULL);
    assert_int_equal(eng_run_until(eng, INFINITY), ERR_RUNTIME);
    assert_int_equal(t->n, 2);
    assert_string_equal(eng_err(eng)->msg, "handler failed on purpose");
    eng_free(eng);
}

static void test_engine_payload_is_copied(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 2);
    union eng_payload p = {.u64 = {77}};
    assert_int_equal(eng_schedule(eng, 1.0, 0, 0, &p, NULL), 0);
    p.u64[0] = 99; /* the engine must have its own copy */
    assert_int_equal(eng_schedule(eng, 2.0, 0, 0, NULL, NULL), 0);
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->tags[0], 77);
    assert_int_equal(t->tags[1], 0); /* NULL payload is zero */
    eng_free(eng);
}

/* Steady state: an event that schedules its successor never grows the pool. */
static void test_engine_steady_state_does_not_grow_pool(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 64);
    size_t cap;
    t->spawn = 1;
    for (int i = 0; i < 64; i++)
        sched(eng, i * 0.01, i, NULL);
    cap = eng_capacity(eng);
    assert_int_equal(eng_run_until(eng, 1000.0), 0);
    assert_true(t->n > 60000);
    assert_int_equal(eng_capacity(eng), cap);
    assert_int_equal(eng_pending(eng), 64);
    eng_free(eng);
}

static void test_engine_pool_grows_and_keeps_order(void **state)
{
    struct trace *t = *state;
    struct eng *eng = engine_with_log(t, 1);
    for (int i = 100000; i > 0; i--)
        sched(eng, i, (uint64_t)i, NULL);
    assert_true(eng_capacity(eng) >= 100000);
    assert_int_equal(eng_run_until(eng, INFINITY), 0);
    assert_int_equal(t->n, 100000);
    for (size_t i = 0; i < t->n; i++)
        assert_int_equal(t->tags[i], i + 1);
    eng_free(eng);
}

static void test_phold_is_deterministic_per_seed(void **state)
{
    struct phold_result a, b, c;
    struct err e = {0};
    (void)state;
    assert_int_equal(phold_run(100, 50000, 2, 1.0, 7, &a, &e), 0);
    assert_int_equal(phold_run(100, 50000, 2, 1.0, 7, &b, &e), 0);
    assert_int_equal(phold_run(100, 50000, 2, 1.0, 8, &c, &e), 0);
    assert_int_equal(a.events, 50000);
    assert_int_equal(a.checksum, b.checksum);
    assert_true(a.sim_time == b.sim_time);
    assert_true(a.checksum != c.checksum);
    /* 200 events in flight, mean delay 1: about 250 time units for 50000 events. */
    assert_true(a.sim_time > 200 && a.sim_time < 300);
}

static void test_phold_rejects_bad_parameters(void **state)
{
    struct phold_result r;
    struct err e = {0};
    (void)state;
    assert_int_equal(phold_run(0, 10, 1, 1.0, 1, &r, &e), ERR_USAGE);
    assert_int_equal(phold_run(10, 0, 1, 1.0, 1, &r, &e), ERR_USAGE);
    assert_int_equal(phold_run(10, 10, 0, 1.0, 1, &r, &e), ERR_USAGE);
    assert_int_equal(phold_run(10, 10, 1, 0.0, 1, &r, &e), ERR_USAGE);
    assert_int_equal(phold_run(10, 10, 1, NAN, 1, &r, &e), ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_engine_orders_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_ties_run_in_schedule_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_negative_zero_time_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_matches_reference_order_with_cancels, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_cancel_rejects_stale_and_unknown_handles,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_run_until_is_inclusive_and_advances_clock,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_stop_returns_interrupted_and_resumes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_rejects_past_nonfinite_and_unregistered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_handler_error_aborts_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_second_handler_for_a_type_is_an_error, setup,
                                        teardown),
        cmocka_unit_test(test_engine_registry_names_the_model_types),
        cmocka_unit_test_setup_teardown(test_engine_payload_is_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_steady_state_does_not_grow_pool, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_pool_grows_and_keeps_order, setup, teardown),
        cmocka_unit_test(test_phold_is_deterministic_per_seed),
        cmocka_unit_test(test_phold_rejects_bad_parameters),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
