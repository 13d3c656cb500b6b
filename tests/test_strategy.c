/* test_strategy — every strategy stays within the agent's limits; linear/fixed paths exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "core/rng.h"
#include "market/strategy.h"

static void test_strategy_linear_and_fixed_paths(void **state)
{
    struct mkt_strat_state st;
    gsl_rng *r = rng_stream_new(1, "s", 0);
    struct mkt_market_view v = {NAN, NAN, NAN};
    (void)state;
    /* buyer opens at min_bid, seller at max_bid; both reach their limit in the last round */
    assert_true(mkt_strategy_open(MKT_LINEAR, 0, 34, 46, 5, &st, r) == 34);
    assert_true(mkt_strategy_next(MKT_LINEAR, 0, 34, 46, 2, 5, 34, 0, &v, &st, r) == 40);
    assert_true(mkt_strategy_next(MKT_LINEAR, 0, 34, 46, 4, 5, 40, 0, &v, &st, r) == 46);
    assert_true(mkt_strategy_open(MKT_LINEAR, 1, 40, 52, 5, &st, r) == 52);
    assert_true(mkt_strategy_next(MKT_LINEAR, 1, 40, 52, 4, 5, 52, 0, &v, &st, r) == 40);
    assert_true(mkt_strategy_open(MKT_LINEAR, 1, 40, 52, 1, &st, r) == 40); /* one round: limit */
    assert_true(mkt_strategy_open(MKT_FIXED, 0, 34, 46, 5, &st, r) == 46);
    assert_true(mkt_strategy_open(MKT_FIXED, 1, 40, 52, 5, &st, r) == 40);
    rng_free(r);
}

static void test_strategy_prices_within_limits(void **state)
{
    gsl_rng *r = rng_stream_new(2, "s", 0);
    (void)state;
    for (int s = 0; s < MKT_NSTRATEGIES; s++)
        for (int seller = 0; seller <= 1; seller++)
            for (int trial = 0; trial < 200; trial++) {
                struct mkt_strat_state st;
                double lo = 30 + gsl_rng_uniform(r) * 10, hi = lo + gsl_rng_uniform(r) * 20;
                double p = mkt_strategy_open(s, seller, lo, hi, 8, &st, r);
                assert_true(p >= lo && p <= hi);
                for (int round = 1; round < 8; round++) {
                    struct mkt_market_view v = {gsl_rng_uniform(r) < 0.3 ? NAN : 20 + 50 * gsl_rng_uniform(r),
                                                20 + 50 * gsl_rng_uniform(r), 20 + 50 * gsl_rng_uniform(r)};
                    p = mkt_strategy_next(s, seller, lo, hi, round, 8, p, gsl_rng_uniform(r) < 0.5,
                                          &v, &st, r);
                    if (!(p >= lo && p <= hi))
                        fail_msg("%s %s: %g outside [%g, %g]", mkt_strategy_name(s),
                                 seller ? "seller" : "buyer", p, lo, hi);
                }
            }
    rng_free(r);
}

/* ZIP: a buyer priced out raises its bid toward the market; a seller that sold cheap raises. */
static void test_strategy_zip_learns_toward_market(void **state)
{
    gsl_rng *r = rng_stream_new(3, "s", 0);
    struct mkt_strat_state st;
    struct mkt_market_view v = {45, 44, 46};
    double p;
    (void)state;
    p = mkt_strategy_open(MKT_ZIP, 0, 34, 50, 10, &st, r);
    for (int k = 1; k < 10; k++) {
        double q = mkt_strategy_next(MKT_ZIP, 0, 34, 50, k, 10, p, 0, &v, &st, r);
        assert_true(q >= p);
        p = q;
    }
    assert_true(p > 44);
    p = mkt_strategy_open(MKT_ZIP, 1, 30, 60, 10, &st, r);
    p = 35;
    for (int k = 1; k < 30; k++) {
        double q = mkt_strategy_next(MKT_ZIP, 1, 30, 60, k, 30, p, 1, &v, &st, r);
        if (p <= 45)
            assert_true(q >= p); /* sold at or below the market: ask more */
        p = q;
    }
    assert_true(p > 42 && p < 50); /* settles around the market price, not at the limit */
    assert_string_equal(mkt_strategy_name(MKT_ZIC), "zic");
    rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_linear_and_fixed_paths),
        cmocka_unit_test(test_strategy_prices_within_limits),
        cmocka_unit_test(test_strategy_zip_learns_toward_market),
    };
    return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
