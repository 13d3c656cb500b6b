/* test_clear — mechanisms against hand-computed books; invariants on random books; sorting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/rng.h"
#include "market/clear.h"

/* Book A: bids 10@50, 5@45, 5@40; asks 8@38, 10@44, 5@48 (agents: bids 0-2, asks 10-12). */
static const struct mkt_order bids_a[] = {{0, 10, 50, 1}, {1, 5, 45, 2}, {2, 5, 40, 3}};
static const struct mkt_order asks_a[] = {{10, 8, 38, 4}, {11, 10, 44, 5}, {12, 5, 48, 6}};

struct fx {
    struct mkt_clear_ws *ws;
    gsl_rng *r;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->ws = mkt_clear_ws_new();
    f->r = rng_stream_new(1, "test", 0);
    *state = f;
    return f->ws && f->r ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mkt_clear_ws_free(f->ws);
    rng_free(f->r);
    free(f);
    return 0;
}

static void expect_match(const struct mkt_match *m, uint32_t seller, uint32_t buyer, double kwh,
                         double price)
{
    assert_int_equal(m->seller, seller);
    assert_int_equal(m->buyer, buyer);
    assert_true(fabs(m->kwh - kwh) < 1e-12);
    assert_true(fabs(m->price - price) < 1e-12);
}

static void test_clear_pay_as_clear_uniform_price_at_intersection(void **state)
{
    struct fx *f = *state;
    const struct mkt_match *m;
    size_t n;
    double p;
    assert_int_equal(mkt_clear(f->ws, MKT_PAY_AS_CLEAR, bids_a, 3, asks_a, 3, f->r, &m, &n, &p), 0);
    assert_int_equal(n, 3);
    expect_match(&m[0], 10, 0, 8, 44.5);
    expect_match(&m[1], 11, 0, 2, 44.5);
    expect_match(&m[2], 11, 1, 5, 44.5); /* marginal pair: bid 45, ask 44 */
    assert_true(p == 44.5);
}

static void test_clear_pay_as_bid_prices_at_bids(void **state)
{
    struct fx *f = *state;
    const struct mkt_match *m;
    size_t n;
    double p;
    assert_int_equal(mkt_clear(f->ws, MKT_PAY_AS_BID, bids_a, 3, asks_a, 3, f->r, &m, &n, &p), 0);
    assert_int_equal(n, 3);
    expect_match(&m[0], 10, 0, 8, 50);
    expect_match(&m[1], 11, 0, 2, 50);
    expect_match(&m[2], 11, 1, 5, 45);
    assert_true(fabs(p - (8 * 50 + 2 * 50 + 5 * 45) / 15.0) < 1e-12);
}

static void test_clear_negotiation_buyer_takes_cheapest_offers(void **state)
{
    struct fx *f = *state;
    const struct mkt_match *m;
    size_t n;
    double p;
    const struct mkt_order one[] = {{0, 15, 46, 1}};
    assert_int_equal(mkt_clear(f->ws, MKT_NEGOTIATION, one, 1, asks_a, 3, f->r, &m, &n, &p), 0);
    assert_int_equal(n, 2);
    expect_match(&m[0], 10, 0, 8, 38); /* at the offer's price */
    expect_match(&m[1], 11, 0, 7, 44); /* partial fill of the 44 offer; 48 is too dear */
    assert_true(fabs(p - (8 * 38 + 7 * 44) / 15.0) < 1e-12);
}

static void test_clear_ties_by_arrival(void **state)
{
    struct fx *f = *state;
    const struct mkt_match *m;
    size_t n;
    double p;
    const struct mkt_order bids[] = {{0, 5, 50, 9}};
    const struct mkt_order asks[] = {{10, 5, 40, 7}, {11, 5, 40, 3}, {12, 5, 40, 5}};
    for (int mech = MKT_NEGOTIATION; mech <= MKT_PAY_AS_CLEAR; mech++) {
        assert_int_equal(mkt_clear(f->ws, mech, bids, 1, asks, 3, f->r, &m, &n, &p), 0);
        assert_int_equal(n, 1);
        assert_int_equal(m[0].seller, 11); /* the earliest of the equal asks */
    }
}

static void test_clear_no_crossing_and_empty_sides(void **state)
{
    struct fx *f = *state;
    const struct mkt_match *m;
    size_t n;
    double p;
    const struct mkt_order low[] = {{0, 5, 30, 1}};
    for (int mech = MKT_NEGOTIATION; mech <= MKT_PAY_AS_CLEAR; mech++) {
        assert_int_equal(mkt_clear(f->ws, mech, low, 1, asks_a, 3, f->r, &m, &n, &p), 0);
        assert_int_equal(n, 0);
        assert_true(isnan(p));
        assert_int_equal(mkt_clear(f->ws, mech, NULL, 0, asks_a, 3, f->r, &m, &n, &p), 0);
        assert_int_equal(n, 0);
        assert_int_equal(mkt_clear(f->ws, mech, bids_a, 3, NULL, 0, f->r, &m, &n, &p), 0);
        assert_int_equal(n, 0);
    }
}

static void test_clear_max_surplus(void **state)
{
    struct fx *f = *state;
    double s;
    assert_int_equal(mkt_max_surplus(f->ws, bids_a, 3, asks_a, 3, &s), 0);
    assert_true(fabs(s - (8 * 12 + 2 * 6 + 5 * 1)) < 1e-9);
}

/* Random books of every size the radix path sees: limits respected, no overfill, pay-as-clear
 * and pay-as-bid reach the competitive volume, negotiation never beats the maximum surplus. */
static void test_clear_random_books_invariants(void **state)
{
    struct fx *f = *state;
    for (int trial = 0; trial < 60; trial++) {
        size_t nb = (size_t)gsl_rng_uniform_int(f->r, 400), na = (size_t)gsl_rng_uniform_int(f->r, 400);
        struct mkt_order *b = malloc((nb + 1) * sizeof *b), *a = malloc((na + 1) * sizeof *a);
        double *fill_b = calloc(nb + 1, sizeof *fill_b), *fill_a = calloc(na + 1, sizeof *fill_a);
        double max_s, vol_ref = -1;
        for (size_t k = 0; k < nb; k++)
            b[k] = (struct mkt_order){(uint32_t)k, 0.1 + gsl_rng_uniform(f->r) * 10,
                                      30 + (double)gsl_rng_uniform_int(f->r, 25), 2 * k};
        for (size_t k = 0; k < na; k++)
            a[k] = (struct mkt_order){(uint32_t)(1000 + k), 0.1 + gsl_rng_uniform(f->r) * 10,
                                      30 + (double)gsl_rng_uniform_int(f->r, 25), 2 * k + 1};
        assert_int_equal(mkt_max_surplus(f->ws, b, nb, a, na, &max_s), 0);
        for (int mech = MKT_NEGOTIATION; mech <= MKT_PAY_AS_CLEAR; mech++) {
            const struct mkt_match *m;
            size_t n;
            double p, vol = 0, surplus = 0;
            memset(fill_b, 0, (nb + 1) * sizeof *fill_b);
            memset(fill_a, 0, (na + 1) * sizeof *fill_a);
            assert_int_equal(mkt_clear(f->ws, mech, b, nb, a, na, f->r, &m, &n, &p), 0);
            for (size_t k = 0; k < n; k++) {
                assert_true(m[k].kwh > 0);
                assert_true(b[m[k].bid].price >= m[k].price - 1e-12);
                assert_true(m[k].price >= a[m[k].ask].price - 1e-12);
                fill_b[m[k].bid] += m[k].kwh;
                fill_a[m[k].ask] += m[k].kwh;
                vol += m[k].kwh;
                surplus += m[k].kwh * (b[m[k].bid].price - a[m[k].ask].price);
            }
            for (size_t k = 0; k < nb; k++)
                assert_true(fill_b[k] <= b[k].kwh + 1e-9);
            for (size_t k = 0; k < na; k++)
                assert_true(fill_a[k] <= a[k].kwh + 1e-9);
            assert_true(surplus <= max_s + 1e-6);
            if (mech != MKT_NEGOTIATION) {
                assert_true(fabs(surplus - max_s) < 1e-6 * (1 + max_s)); /* efficient */
                if (vol_ref < 0)
                    vol_ref = vol;
                assert_true(fabs(vol - vol_ref) < 1e-9);
            }
        }
        free(b);
        free(a);
        free(fill_b);
        free(fill_a);
    }
}

static int cmp_ref(const void *x, const void *y)
{
    const struct mkt_order *a = x, *b = y;
    if (a->price != b->price)
        return a->price < b->price ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void test_clear_sort_matches_qsort(void **state)
{
    struct fx *f = *state;
    enum { N = 5000 };
    struct mkt_order *o = malloc(N * sizeof *o), *ref = malloc(N * sizeof *ref);
    uint32_t *idx = malloc(N * sizeof *idx);
    for (size_t k = 0; k < N; k++)
        o[k] = (struct mkt_order){(uint32_t)k, 1, 20 + gsl_rng_uniform(f->r) * 40 * (k % 3 != 0),
                                  rng_u64(f->r) >> (k % 40)};
    memcpy(ref, o, N * sizeof *o);
    qsort(ref, N, sizeof *ref, cmp_ref);
    assert_int_equal(mkt_sort_orders(f->ws, o, N, 0, idx), 0);
    for (size_t k = 0; k < N; k++)
        assert_int_equal(o[idx[k]].agent, ref[k].agent);
    assert_int_equal(mkt_sort_orders(f->ws, o, N, 1, idx), 0);
    for (size_t k = 1; k < N; k++) {
        const struct mkt_order *x = &o[idx[k - 1]], *y = &o[idx[k]];
        assert_true(x->price > y->price || (x->price == y->price && x->seq < y->seq));
    }
    free(o);
    free(ref);
    free(idx);
}

static void test_clear_cda_matches_on_arrival_at_standing_price(void **state)
{
    struct mkt_cda *b = mkt_cda_new(10);
    const struct mkt_match *m;
    size_t n;
    struct mkt_order o;
    (void)state;
    assert_non_null(b);
    /* asks rest: agent 1: 4 @ 42 (seq 1), agent 2: 3 @ 40 (seq 2), agent 3: 5 @ 40 (seq 3) */
    o = (struct mkt_order){1, 4, 42, 1};
    assert_int_equal(mkt_cda_submit(b, 1, &o, &m, &n), 0);
    assert_int_equal(n, 0);
    o = (struct mkt_order){2, 3, 40, 2};
    assert_int_equal(mkt_cda_submit(b, 1, &o, &m, &n), 0);
    o = (struct mkt_order){3, 5, 40, 3};
    assert_int_equal(mkt_cda_submit(b, 1, &o, &m, &n), 0);
    /* a bid for 10 @ 41 takes 40s in time order, at their price, then rests 2 @ 41 */
    o = (struct mkt_order){5, 10, 41, 4};
    assert_int_equal(mkt_cda_submit(b, 0, &o, &m, &n), 0);
    assert_int_equal(n, 2);
    assert_true(m[0].seller == 2 && m[0].buyer == 5 && m[0].kwh == 3 && m[0].price == 40);
    assert_true(m[1].seller == 3 && m[1].kwh == 5 && m[1].price == 40);
    assert_true(mkt_cda_resting(b, 5) == 2);
    assert_true(mkt_cda_resting(b, 1) == 4);
    /* a seller at 41 meets the resting bid at the bid's price */
    o = (struct mkt_order){4, 1, 41, 5};
    assert_int_equal(mkt_cda_submit(b, 1, &o, &m, &n), 0);
    assert_int_equal(n, 1);
    assert_true(m[0].buyer == 5 && m[0].kwh == 1 && m[0].price == 41);
    /* replacing agent 1's ask by a cheaper one: the old 42 order is gone */
    o = (struct mkt_order){1, 2, 39, 6};
    assert_int_equal(mkt_cda_submit(b, 1, &o, &m, &n), 0);
    assert_int_equal(n, 1); /* crosses the resting bid (1 kWh left @ 41) */
    assert_true(m[0].seller == 1 && m[0].kwh == 1 && m[0].price == 41);
    assert_true(mkt_cda_resting(b, 1) == 1);
    o = (struct mkt_order){6, 5, 45, 7};
    assert_int_equal(mkt_cda_submit(b, 0, &o, &m, &n), 0);
    assert_int_equal(n, 1); /* only agent 1's replacement remains; 42 was withdrawn */
    assert_true(m[0].seller == 1 && m[0].kwh == 1 && m[0].price == 39);
    mkt_cda_reset(b);
    assert_true(mkt_cda_resting(b, 6) == 0);
    o = (struct mkt_order){11, 1, 1, 8};
    assert_int_equal(mkt_cda_submit(b, 0, &o, &m, &n), ERR_RUNTIME); /* unknown agent */
    mkt_cda_free(b);
    mkt_cda_free(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_clear_pay_as_clear_uniform_price_at_intersection),
        T(test_clear_pay_as_bid_prices_at_bids),
        T(test_clear_negotiation_buyer_takes_cheapest_offers),
        T(test_clear_ties_by_arrival),
        T(test_clear_no_crossing_and_empty_sides),
        T(test_clear_max_surplus),
        T(test_clear_random_books_invariants),
        T(test_clear_sort_matches_qsort),
        T(test_clear_cda_matches_on_arrival_at_standing_price),
    };
    return cmocka_run_group_tests_name("clear", tests, NULL, NULL);
}
