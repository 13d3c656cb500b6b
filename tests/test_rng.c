/* test_rng — stream reproducibility and independence, the generator's known answers, banks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <gsl/gsl_randist.h>

#include "core/rng.h"

static void draws(gsl_rng *r, uint64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = gsl_rng_get(r);
}

/* Reference outputs of xoshiro256** from state {1, 2, 3, 4} (its authors' algorithm). */
static void test_rng_xoshiro_known_answer(void **state)
{
    gsl_rng *r = rng_stream_new(0, "x", 0);
    uint64_t *s = ((struct rng_xoshiro_state *)r->state)->s;
    (void)state;
    s[0] = 1, s[1] = 2, s[2] = 3, s[3] = 4;
    assert_int_equal(rng_u64(r), 11520ULL);
    assert_int_equal(rng_u64(r), 0ULL);
    assert_int_equal(rng_u64(r), 1509978240ULL);
    rng_free(r);
}

static void test_rng_same_key_same_sequence(void **state)
{
    uint64_t a[64], b[64];
    gsl_rng *x = rng_stream_new(123, "agents.load", 5);
    gsl_rng *y = rng_stream_new(123, "agents.load", 5);
    (void)state;
    draws(x, a, 64);
    draws(y, b, 64);
    assert_memory_equal(a, b, sizeof a);
    rng_stream_reset(x, 123, "agents.load", 5);
    draws(x, b, 64);
    assert_memory_equal(a, b, sizeof a);
    rng_free(x);
    rng_free(y);
}

static void test_rng_different_keys_differ(void **state)
{
    uint64_t base[16], other[16];
    gsl_rng *r = rng_stream_new(1, "market", 0);
    const struct {
        uint64_t seed;
        const char *name;
        uint64_t id;
    } keys[] = {{2, "market", 0}, {1, "marked", 0}, {1, "market", 1}, {1, "", 0}, {0, "market", 0}};
    (void)state;
    draws(r, base, 16);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        gsl_rng *o = rng_stream_new(keys[k].seed, keys[k].name, keys[k].id);
        draws(o, other, 16);
        assert_memory_not_equal(base, other, sizeof base);
        rng_free(o);
    }
    rng_free(r);
}

/* Adding a component (a new stream) or creating streams in another order changes nothing. */
static void test_rng_independent_of_creation_order(void **state)
{
    uint64_t a1[8], a2[8];
    gsl_rng *a = rng_stream_new(9, "grid", 3);
    gsl_rng *extra, *b;
    (void)state;
    draws(a, a1, 8);
    rng_free(a);
    extra = rng_stream_new(9, "chain", 0);
    (void)gsl_rng_get(extra);
    b = rng_stream_new(9, "grid", 3);
    draws(b, a2, 8);
    assert_memory_equal(a1, a2, sizeof a1);
    rng_free(extra);
    rng_free(b);
}

/* 10,000 per-agent streams: no two start with the same 64-bit state. */
static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_rng_many_entity_streams_are_distinct(void **state)
{
    enum { N = 10000 };
    uint64_t *first = malloc(N * sizeof *first);
    (void)state;
    for (uint64_t i = 0; i < N; i++)
        first[i] = rng_stream_key(1, "agent", i);
    qsort(first, N, sizeof *first, cmp_u64);
    for (size_t i = 1; i < N; i++)
        assert_true(first[i] != first[i - 1]);
    free(first);
}

static void test_rng_bank_matches_single_streams(void **state)
{
    struct rng_bank *bank = rng_bank_new(5, "phold", 100);
    (void)state;
    assert_non_null(bank);
    for (size_t i = 0; i < 100; i += 33) {
        gsl_rng *single = rng_stream_new(5, "phold", i);
        uint64_t a[8], b[8];
        draws(rng_bank_get(bank, i), a, 8);
        draws(single, b, 8);
        assert_memory_equal(a, b, sizeof a);
        rng_free(single);
    }
    assert_null(rng_bank_get(bank, 100));
    rng_bank_free(bank);
    rng_bank_free(NULL);
}

/* The inline fast paths draw from the same state as GSL's entry points. */
static void test_rng_fast_paths_match_gsl(void **state)
{
    gsl_rng *a = rng_stream_new(3, "fast", 0), *b = rng_stream_new(3, "fast", 0);
    (void)state;
    for (int i = 0; i < 1000; i++)
        assert_true(rng_uniform(a) == gsl_rng_uniform(b));
    for (int i = 0; i < 1000; i++) {
        double u = gsl_rng_uniform(a);
        assert_true(u >= 0.0 && u < 1.0);
    }
    rng_free(a);
    rng_free(b);
}

static void test_rng_below_in_range_and_unbiased(void **state)
{
    gsl_rng *r = rng_stream_new(11, "below", 0);
    enum { K = 7, N = 70000 };
    long counts[K] = {0};
    double chi2 = 0;
    (void)state;
    for (int i = 0; i < N; i++) {
        uint64_t v = rng_below(r, K);
        assert_true(v < K);
        counts[v]++;
    }
    for (int k = 0; k < K; k++)
        chi2 += (counts[k] - N / K) * (double)(counts[k] - N / K) / (N / K);
    assert_true(chi2 < 22.5); /* p = 0.001 critical value for 6 degrees of freedom */
    assert_int_equal(rng_below(r, 1), 0);
    for (int i = 0; i < 100; i++)
        assert_true(rng_below(r, (1ULL << 40) + 3) < (1ULL << 40) + 3);
    rng_free(r);
}

static void test_rng_exponential_mean(void **state)
{
    gsl_rng *r = rng_stream_new(2, "exp", 0);
    double sum = 0;
    (void)state;
    for (int i = 0; i < 100000; i++) {
        double x = rng_exponential(r, 2.0);
        assert_true(x >= 0.0 && x < 1e3);
        sum += x;
    }
    assert_true(sum / 100000 > 1.97 && sum / 100000 < 2.03);
    /* GSL distributions work on the stream. */
    assert_true(gsl_ran_gaussian(r, 1.0) > -10.0);
    rng_free(r);
}

static void test_rng_fill_is_the_stream_bytes(void **state)
{
    gsl_rng *a = rng_stream_new(4, "fill", 0), *b = rng_stream_new(4, "fill", 0);
    unsigned char buf[21], want[24];
    (void)state;
    rng_fill(a, buf, sizeof buf);
    for (int k = 0; k < 3; k++) {
        uint64_t x = rng_u64(b);
        memcpy(want + 8 * k, &x, 8);
    }
    assert_memory_equal(buf, want, sizeof buf); /* a partial last word takes its low bytes */
    rng_free(a);
    rng_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_xoshiro_known_answer),
        cmocka_unit_test(test_rng_same_key_same_sequence),
        cmocka_unit_test(test_rng_different_keys_differ),
        cmocka_unit_test(test_rng_independent_of_creation_order),
        cmocka_unit_test(test_rng_many_entity_streams_are_distinct),
        cmocka_unit_test(test_rng_bank_matches_single_streams),
        cmocka_unit_test(test_rng_fast_paths_match_gsl),
        cmocka_unit_test(test_rng_below_in_range_and_unbiased),
        cmocka_unit_test(test_rng_exponential_mean),
        cmocka_unit_test(test_rng_fill_is_the_stream_bytes),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
