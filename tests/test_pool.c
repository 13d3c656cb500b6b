/* test_pool — the worker pool (order of results, errors, early stop, edge sizes) and a whole run
 * giving the same chain and tables with 1, 2 and 4 threads; a larger one with every message
 * attack, whose MAC, wire-form and signature batches all run on the pool, with 1 and 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli_harness.h"
#include <hdf5.h>

#include "core/config.h"
#include "core/pool.h"
#include "run/sim.h"
#include "io/h5.h"
#include "run_compare.h"

/* ---- the pool ------------------------------------------------------------------------------- */

struct items {
    size_t n;
    uint64_t *out;        /* out[i] = what item i computed */
    atomic_int *runs;     /* how often item i ran */
    size_t fail_a, fail_b; /* items that return rc_a / rc_b (n = none) */
    int rc_a, rc_b;
};

/* A value that needs real work and depends on i only (a few rounds of a 64-bit mix). */
static uint64_t mix(uint64_t x)
{
    for (int r = 0; r < 200; r++) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 29;
    }
    return x;
}

static int item_task(void *ctx, size_t i)
{
    struct items *it = ctx;
    atomic_fetch_add(&it->runs[i], 1);
    it->out[i] = mix(i + 1);
    if (i == it->fail_a)
        return it->rc_a;
    if (i == it->fail_b)
        return it->rc_b;
    return 0;
}

static struct items *items_new(size_t n)
{
    struct items *it = calloc(1, sizeof *it);
    assert_non_null(it);
    it->n = n;
    it->out = calloc(n ? n : 1, sizeof *it->out);
    it->runs = calloc(n ? n : 1, sizeof *it->runs);
    assert_non_null(it->out);
    assert_non_null(it->runs);
    it->fail_a = it->fail_b = n;
    return it;
}

static void items_free(struct items *it)
{
    free(it->out);
    free((void *)it->runs);
    free(it);
}

static void test_pool_results_in_item_order(void **state)
{
    struct err e = {0};
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        struct pool *p = pool_new(threads, &e);
        struct items *it = items_new(5000);
        size_t at = 0;
        assert_non_null(p);
        assert_int_equal(pool_threads(p), threads);
        assert_int_equal(pool_run(p, it->n, item_task, it, &at), 0);
        assert_int_equal(at, it->n);
        for (size_t i = 0; i < it->n; i++) {
            assert_int_equal(atomic_load(&it->runs[i]), 1); /* each item exactly once */
            assert_true(it->out[i] == mix(i + 1));           /* in its own slot */
        }
        items_free(it);
        pool_free(p);
    }
}

/* Threads are started once: many batches on one pool, each complete before pool_run returns. */
static void test_pool_reused_for_many_batches(void **state)
{
    struct err e = {0};
    struct pool *p = pool_new(3, &e);
    (void)state;
    assert_non_null(p);
    for (size_t b = 0; b < 300; b++) {
        struct items *it = items_new(1 + b % 37);
        assert_int_equal(pool_run(p, it->n, item_task, it, NULL), 0);
        for (size_t i = 0; i < it->n; i++) {
            assert_int_equal(atomic_load(&it->runs[i]), 1);
            assert_true(it->out[i] == mix(i + 1));
        }
        items_free(it);
    }
    pool_free(p);
}

/* Two failing items: the batch reports the lower one's error, and every item below it ran. */
static void test_pool_error_of_lowest_failing_item(void **state)
{
    struct err e = {0};
    (void)state;
    for (int threads = 1; threads <= 4; threads += 3) {
        struct pool *p = pool_new(threads, &e);
        struct items *it = items_new(2000);
        size_t at = 0;
        assert_non_null(p);
        it->fail_a = 1500;
        it->rc_a = ERR_IO;
        it->fail_b = 700;
        it->rc_b = ERR_RUNTIME;
        assert_int_equal(pool_run(p, it->n, item_task, it, &at), ERR_RUNTIME);
        assert_int_equal(at, 700);
        for (size_t i = 0; i <= 700; i++)
            assert_int_equal(atomic_load(&it->runs[i]), 1);
        items_free(it);
        pool_free(p);
    }
}

/* A search: the first hit in item order wins, whichever thread finds which hit first. */
struct search {
    atomic_int *runs;
    size_t n;
};

static int search_task(void *ctx, size_t i)
{
    struct search *s = ctx;
    atomic_fetch_add(&s->runs[i], 1);
    (void)mix(i);
    return i >= 333 && i % 111 == 0 ? 7 : 0; /* hits at 333, 444, ... */
}

static void test_pool_early_stop_reports_first_hit(void **state)
{
    struct err e = {0};
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        struct pool *p = pool_new(threads, &e);
        struct search s = {calloc(4000, sizeof(atomic_int)), 4000};
        size_t at = 0;
        assert_non_null(p);
        assert_non_null(s.runs);
        assert_int_equal(pool_run(p, s.n, search_task, &s, &at), 7);
        assert_int_equal(at, 333);
        for (size_t i = 0; i <= 333; i++)
            assert_int_equal(atomic_load(&s.runs[i]), 1);
        free((void *)s.runs);
        pool_free(p);
    }
}

static void test_pool_zero_and_one_item(void **state)
{
    struct err e = {0};
    struct pool *p = pool_new(4, &e);
    struct items *it = items_new(1);
    size_t at = 99;
    (void)state;
    assert_non_null(p);
    assert_int_equal(pool_run(p, 0, item_task, it, &at), 0);
    assert_int_equal(at, 0);
    assert_int_equal(atomic_load(&it->runs[0]), 0);
    assert_int_equal(pool_run(p, 1, item_task, it, &at), 0);
    assert_int_equal(at, 1);
    assert_int_equal(atomic_load(&it->runs[0]), 1);
    assert_true(it->out[0] == mix(1));
    it->fail_a = 0;
    it->rc_a = ERR_NOMEM;
    assert_int_equal(pool_run(p, 1, item_task, it, &at), ERR_NOMEM);
    assert_int_equal(at, 0);
    items_free(it);
    pool_free(p);
}

static void test_pool_thread_count_checked(void **state)
{
    struct err e = {0};
    struct pool *p;
    (void)state;
    assert_null(pool_new(-1, &e));
    assert_int_equal(e.code, ERR_USAGE);
    assert_non_null(strstr(e.msg, "threads"));
    assert_null(pool_new(POOL_MAX_THREADS + 1, &e));
    assert_int_equal(e.code, ERR_USAGE);
    p = pool_new(0, &e); /* every core */
    assert_non_null(p);
    assert_true(pool_cores() >= 1);
    assert_int_equal(pool_threads(p), pool_cores());
    pool_free(p);
    pool_free(NULL);
}

/* ---- a whole run with 1, 2 and 4 threads ---------------------------------------------------- */

static const char *const THREAD_KEYS[] = {
    "population.count=150",          "sim.days=0.25",
    "mine.backend=cpu",              "chain.difficulty_bits=8",
    "attacks.tamper_rate=0.05",      "attacks.forged_mac_rate=0.05",
    "attacks.replay_rate=0.05",      "attacks.double_spend_rate=0.1",
    "attacks.tampered_block_rate=0.05"};

static void run_with_threads(const char *dir, int threads, char *path, size_t cap)
{
    snprintf(path, cap, "%s/t%d.h5", dir, threads);
    run_attacks(path, THREAD_KEYS, sizeof THREAD_KEYS / sizeof THREAD_KEYS[0], threads);
}

static void test_pool_run_same_for_any_thread_count(void **state)
{
    char dir[64], p1[128], pn[128];
    hid_t f1;
    (void)state;
    assert_int_equal(tu_mkdtemp(dir, "pool"), 0);
    run_with_threads(dir, 1, p1, sizeof p1);
    f1 = H5Fopen(p1, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f1 >= 0);
    /* not a vacuous comparison: trades, chain transactions and caught attacks are there */
    assert_true(summary_i64(f1, "/summary/trades") > 100);
    assert_true(summary_i64(f1, "/summary/chain_txs_main") > 50);
    assert_true(summary_i64(f1, "/summary/attacks_detected") > 0);
    assert_true(summary_i64(f1, "/summary/chain_double_spends_detected") > 0);
    H5Fclose(f1);
    for (int threads = 2; threads <= 4; threads += 2) {
        char what[32];
        run_with_threads(dir, threads, pn, sizeof pn);
        snprintf(what, sizeof what, "%d threads against 1", threads);
        assert_true(runs_same(p1, pn, what) > 100);
    }
    assert_int_equal(tu_rmrf(dir), 0);
}

/* The largest value of a 1-D dataset (read as doubles). */
static double max_of(hid_t f, const char *name)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp;
    hssize_t n;
    double *v, m = -1;
    assert_true(d >= 0);
    sp = H5Dget_space(d);
    n = H5Sget_simple_extent_npoints(sp);
    v = calloc((size_t)n + 1, sizeof *v);
    assert_non_null(v);
    if (n > 0)
        assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    for (hssize_t i = 0; i < n; i++)
        if (v[i] > m)
            m = v[i];
    free(v);
    H5Sclose(sp);
    H5Dclose(d);
    return m;
}

/* A run large enough that every batch of a clearing runs on the pool: the slot's orders and a
 * round's revisions sealed in one batch, every message in flight checked in one, replies sealed
 * in one (all well above the market's inline threshold of 32), the chain's wire forms and
 * signatures; every message attack and double spends on.  3 threads (an odd split) give the
 * same tip and datasets as 1. */
static const char *const BATCH_KEYS[] = {
    "population.count=300",            "sim.days=0.5",
    "mine.backend=cpu",                "chain.difficulty_bits=8",
    "attacks.tamper_rate=0.03",        "attacks.forged_mac_rate=0.03",
    "attacks.replay_rate=0.03",        "attacks.impersonation_rate=0.03",
    "attacks.unregistered_rate=0.03",  "attacks.double_spend_rate=0.05",
    "weather.start_weekday=2"};

static void run_batches(const char *dir, int threads, char *path, size_t cap)
{
    snprintf(path, cap, "%s/b%d.h5", dir, threads);
    run_attacks(path, BATCH_KEYS, sizeof BATCH_KEYS / sizeof BATCH_KEYS[0], threads);
}

static void test_pool_run_message_and_chain_batches_same_for_any_thread_count(void **state)
{
    char dir[64], p1[128], p3[128];
    hid_t f1;
    (void)state;
    assert_int_equal(tu_mkdtemp(dir, "poolb"), 0);
    run_batches(dir, 1, p1, sizeof p1);
    run_batches(dir, 3, p3, sizeof p3);
    f1 = H5Fopen(p1, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f1 >= 0);
    /* the batches were big: a slot's messages, a round's trades (two replies each) */
    assert_true(max_of(f1, "/slots/messages") >= 128);
    assert_true(max_of(f1, "/rounds/trades") >= 32);
    assert_true(summary_i64(f1, "/summary/attacks_detected") > 20);
    assert_true(summary_i64(f1, "/summary/chain_double_spends_detected") > 0);
    H5Fclose(f1);
    assert_true(runs_same(p1, p3, "3 threads against 1") > 100);
    assert_int_equal(tu_rmrf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_results_in_item_order),
        cmocka_unit_test(test_pool_reused_for_many_batches),
        cmocka_unit_test(test_pool_error_of_lowest_failing_item),
        cmocka_unit_test(test_pool_early_stop_reports_first_hit),
        cmocka_unit_test(test_pool_zero_and_one_item),
        cmocka_unit_test(test_pool_thread_count_checked),
        cmocka_unit_test(test_pool_run_same_for_any_thread_count),
        cmocka_unit_test(test_pool_run_message_and_chain_batches_same_for_any_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
