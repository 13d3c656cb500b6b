/* test_strategy — every strategy stays within the bounds it is given; linear/fixed paths exact;
 * zi_u is uniform over its bounds for both sides and ignores the market. */
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

/* ZI-U (Gode & Sunder 1993): bids and asks uniform over the whole range it is given, the same
 * for buyers and sellers, whatever the market showed: the sample mean is the midpoint within
 * 4 standard errors (sd of U(lo, hi) = (hi - lo) / sqrt(12)), and each tenth of the range gets
 * 10 % of the draws within 4 binomial standard errors. */
static void test_strategy_zi_u_uniform_over_range(void **state)
{
    gsl_rng *r = rng_stream_new(4, "s", 0);
    struct mkt_strat_state st;
    const double lo = 20, hi = 80;
    const int n = 20000;
    (void)state;
    assert_string_equal(mkt_strategy_name(MKT_ZIU), "zi_u");
    for (int seller = 0; seller <= 1; seller++) {
        double sum = 0, sd = (hi - lo) / sqrt(12.0), p = 50;
        int bins[10] = {0};
        for (int k = 0; k < n; k++) {
            struct mkt_market_view v = {gsl_rng_uniform(r) < 0.5 ? NAN : 50, 49, 51};
            p = k == 0 ? mkt_strategy_open(MKT_ZIU, seller, lo, hi, 8, &st, r)
                       : mkt_strategy_next(MKT_ZIU, seller, lo, hi, 1 + k % 7, 8, p, k & 1, &v,
                                           &st, r);
            assert_true(p >= lo && p <= hi);
            sum += p;
            bins[(int)((p - lo) / (hi - lo) * 10.0) % 10]++;
        }
        assert_true(fabs(sum / n - (lo + hi) / 2) < 4 * sd / sqrt((double)n));
        for (int b = 0; b < 10; b++)
            assert_true(fabs(bins[b] - n / 10.0) < 4 * sqrt(n * 0.1 * 0.9));
    }
    rng_free(r);
}

/* Unlike zic, zi_u's next price does not depend on its current price, whether it traded, or the
 * market view: two streams in the same state give the same draw under different histories. */
static void test_strategy_zi_u_ignores_history(void **state)
{
    gsl_rng *r1 = rng_stream_new(5, "s", 0), *r2 = rng_stream_new(5, "s", 0);
    struct mkt_strat_state st;
    struct mkt_market_view v1 = {NAN, NAN, NAN}, v2 = {70, 69, 71};
    (void)state;
    for (int k = 1; k < 50; k++) {
        double a = mkt_strategy_next(MKT_ZIU, 0, 10, 90, k, 50, 20, 0, &v1, &st, r1);
        double b = mkt_strategy_next(MKT_ZIU, 0, 10, 90, k, 50, 85, 1, &v2, &st, r2);
        assert_true(a == b);
    }
    rng_free(r1);
    rng_free(r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_linear_and_fixed_paths),
        cmocka_unit_test(test_strategy_prices_within_limits),
        cmocka_unit_test(test_strategy_zip_learns_toward_market),
        cmocka_unit_test(test_strategy_zi_u_uniform_over_range),
        cmocka_unit_test(test_strategy_zi_u_ignores_history),
    };
    return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
