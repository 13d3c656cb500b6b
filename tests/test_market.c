/* test_market — the market end to end through sim_run: attacks detected, honest traffic
 * untouched, trades within limits and quantities, every mechanism and strategy (zi_u over the
 * market range), determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
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
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->dir, "market") != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/run.h5", f->dir);
    cfg_init(&f->cfg);
    /* A small neighbourhood around noon: homes with PV sell, others buy. */
    const char *kv[] = {"sim.days=0.25",         "weather.start_weekday=2",
                        "agent.home.count=8",    "agent.home.pv_kwp=6",
                        "agent.ev.type=smart_vehicle", "agent.ev.count=3",
                        "agent.office.type=personal_office", "agent.office.count=2",
                        "agent.plant.type=solar_system", "agent.dev.type=smart_device",
                        "agent.dev.count=4",     "output.agent_slots=true",
                        "market.rounds_per_slot=6", "mine.backend=cpu",
                        "chain.difficulty_bits=8"};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (cfg_set(&f->cfg, kv[i], &f->e) != 0)
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

static void set(struct fx *f, const char *kv)
{
    if (cfg_set(&f->cfg, kv, &f->e) != 0)
        fail_msg("%s", f->e.msg);
}

static void run(struct fx *f, const char *path)
{
    struct sim_opts o = {.output = path};
    struct sim_summary s;
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
    if (sim_run(&f->cfg, &o, &s, &f->e) != 0)
        fail_msg("sim_run: %s", f->e.msg);
}

/* Read a whole 1-D dataset as doubles (HDF5 converts integers). */
static double *col(hid_t file, const char *name, size_t *n)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), s;
    hsize_t dims[1];
    double *v;
    if (d < 0)
        fail_msg("no dataset %s", name);
    s = H5Dget_space(d);
    dims[0] = 1; /* a scalar dataset has rank 0 */
    if (H5Sget_simple_extent_ndims(s) == 1)
        H5Sget_simple_extent_dims(s, dims, NULL);
    v = malloc((dims[0] + 1) * sizeof *v);
    if (dims[0])
        assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(s);
    H5Dclose(d);
    *n = (size_t)dims[0];
    return v;
}

static double scalar(hid_t file, const char *name)
{
    size_t n;
    double *v = col(file, name, &n), x = v[0];
    free(v);
    return x;
}

/* Trades respect both limits; no agent trades more than it offered or asked for in a slot. */
static void check_trades(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    size_t nt, na, ns, n2;
    double *price = col(f, "trades/price", &nt), *kwh = col(f, "trades/kwh", &n2);
    double *seller = col(f, "trades/seller", &n2), *buyer = col(f, "trades/buyer", &n2);
    double *slot = col(f, "trades/slot", &n2);
    double *lo = col(f, "agents/min_bid", &na), *hi = col(f, "agents/max_bid", &n2);
    double *fslot = col(f, "agent_slots/slot", &ns), *fagent = col(f, "agent_slots/agent", &n2);
    double *fc = col(f, "agent_slots/forecast_kwh", &n2);
    double *fill = calloc(ns + 1, sizeof *fill);
    assert_true(f >= 0);
    for (size_t k = 0; k < nt; k++) {
        size_t is = (size_t)slot[k] * na + (size_t)seller[k], ib = (size_t)slot[k] * na + (size_t)buyer[k];
        assert_true(price[k] >= lo[(size_t)seller[k]] - 1e-9);
        assert_true(price[k] <= hi[(size_t)buyer[k]] + 1e-9);
        assert_true(kwh[k] > 0);
        assert_true(fslot[is] == slot[k] && fagent[is] == seller[k]);
        assert_true(fc[is] > 0 && fc[ib] < 0); /* seller had a surplus, buyer a deficit */
        fill[is] += kwh[k];
        fill[ib] += kwh[k];
    }
    for (size_t k = 0; k < ns; k++)
        if (fill[k] > fabs(fc[k]) + 1e-9)
            fail_msg("agent %g in slot %g traded %g kWh of %g", fagent[k], fslot[k], fill[k],
                     fabs(fc[k]));
    free(price), free(kwh), free(seller), free(buyer), free(slot), free(lo), free(hi);
    free(fslot), free(fagent), free(fc), free(fill);
    H5Fclose(f);
}

static void test_market_every_mechanism_and_strategy_respects_limits(void **state)
{
    struct fx *f = *state;
    const char *mechs[] = {"negotiation", "pay_as_bid", "pay_as_clear", "cda"};
    const char *strats[] = {"fixed", "linear", "zic", "zip"};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            char kv[64];
            hid_t h;
            snprintf(kv, sizeof kv, "market.mechanism=%s", mechs[i]);
            set(f, kv);
            snprintf(kv, sizeof kv, "market.strategy=%s", strats[j]);
            set(f, kv);
            run(f, f->path);
            check_trades(f->path);
            h = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
            if (!(scalar(h, "summary/trades") > 0))
                fail_msg("%s/%s: no trades", mechs[i], strats[j]);
            assert_true(scalar(h, "summary/efficiency") <= 1.0 + 1e-9);
            assert_true(scalar(h, "summary/honest_rejected") == 0);
            H5Fclose(h);
        }
}

/* zi_u (Gode & Sunder's unconstrained traders) prices over the whole market's range, from the
 * lowest min_bid to the highest max_bid of all agents: trades stay in that range, but some fall
 * outside a party's own limits (a buyer above its ceiling or a seller below its floor), which
 * no other strategy allows. */
static void test_market_zi_u_prices_over_the_market_range(void **state)
{
    struct fx *f = *state;
    const char *mechs[] = {"cda", "pay_as_bid"};
    for (size_t i = 0; i < 2; i++) {
        char kv[64];
        hid_t h;
        size_t nt, na, n2, outside = 0;
        double *price, *seller, *buyer, *lo, *hi, rlo = INFINITY, rhi = -INFINITY;
        snprintf(kv, sizeof kv, "market.mechanism=%s", mechs[i]);
        set(f, kv);
        set(f, "market.strategy=zi_u");
        run(f, f->path);
        h = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(h >= 0);
        price = col(h, "trades/price", &nt);
        seller = col(h, "trades/seller", &n2);
        buyer = col(h, "trades/buyer", &n2);
        lo = col(h, "agents/min_bid", &na);
        hi = col(h, "agents/max_bid", &n2);
        for (size_t a = 0; a < na; a++) {
            rlo = fmin(rlo, lo[a]);
            rhi = fmax(rhi, hi[a]);
        }
        assert_true(nt > 0);
        for (size_t k = 0; k < nt; k++) {
            assert_true(price[k] >= rlo - 1e-9 && price[k] <= rhi + 1e-9);
            outside += price[k] < lo[(size_t)seller[k]] - 1e-9 ||
                       price[k] > hi[(size_t)buyer[k]] + 1e-9;
        }
        if (outside == 0)
            fail_msg("%s: zi_u: all %zu trades within both parties' limits", mechs[i], nt);
        free(price), free(seller), free(buyer), free(lo), free(hi);
        H5Fclose(h);
    }
}

static void test_market_every_attack_detected(void **state)
{
    struct fx *f = *state;
    const struct {
        const char *key, *check, *name;
    } kinds[] = {{"attacks.unregistered_rate", "identification", "unregistered"},
                 {"attacks.forged_mac_rate", "authentication", "forged_mac"},
                 {"attacks.tamper_rate", "authentication", "tampered"},
                 {"attacks.replay_rate", "replay", "replay"},
                 {"attacks.impersonation_rate", "authentication", "impersonation"}};
    for (size_t i = 0; i < 5; i++) {
        char kv[64];
        hid_t h, d, t;
        hsize_t dims[1];
        char (*checks)[32], (*attacks)[32];
        size_t n;
        double *det;
        snprintf(kv, sizeof kv, "%s=0.3", kinds[i].key);
        set(f, kv);
        run(f, f->path);
        h = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(scalar(h, "summary/attacks_injected") > 5);
        assert_true(scalar(h, "summary/attacks_detected") == scalar(h, "summary/attacks_injected"));
        assert_true(scalar(h, "summary/attacks_undetected") == 0);
        assert_true(scalar(h, "summary/honest_rejected") == 0);
        det = col(h, "security/detected", &n);
        d = H5Dopen2(h, "security/check", H5P_DEFAULT);
        t = H5Dget_type(d);
        checks = malloc((n + 1) * 32);
        attacks = malloc((n + 1) * 32);
        assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, checks) >= 0);
        H5Dclose(d);
        d = H5Dopen2(h, "security/attack", H5P_DEFAULT);
        assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, attacks) >= 0);
        H5Dclose(d);
        H5Tclose(t);
        (void)dims;
        for (size_t k = 0; k < n; k++) {
            if (strncmp(checks[k], kinds[i].check, 32) != 0 ||
                strncmp(attacks[k], kinds[i].name, 32) != 0 || det[k] != 1)
                fail_msg("%s: row %zu is check=%.32s attack=%.32s detected=%g", kinds[i].name, k,
                         checks[k], attacks[k], det[k]);
        }
        free(det);
        free(checks);
        free(attacks);
        H5Fclose(h);
        snprintf(kv, sizeof kv, "%s=0", kinds[i].key);
        set(f, kv);
    }
}

/* Extra attack messages never change what honest agents trade. */
static void test_market_honest_traffic_untouched_by_attacks(void **state)
{
    struct fx *f = *state;
    char clean[160], attacked[160];
    const char *cols[] = {"trades/price", "trades/kwh", "trades/seller", "trades/buyer",
                          "trades/t_agree"};
    hid_t a, b;
    snprintf(clean, sizeof clean, "%s/clean.h5", f->dir);
    snprintf(attacked, sizeof attacked, "%s/attacked.h5", f->dir);
    run(f, clean);
    set(f, "attacks.unregistered_rate=0.2");
    set(f, "attacks.forged_mac_rate=0.2");
    set(f, "attacks.replay_rate=0.2");
    set(f, "attacks.impersonation_rate=0.2");
    run(f, attacked);
    a = H5Fopen(clean, H5F_ACC_RDONLY, H5P_DEFAULT);
    b = H5Fopen(attacked, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(scalar(b, "summary/attacks_injected") > 0);
    for (size_t i = 0; i < 5; i++) {
        size_t na, nb;
        double *x = col(a, cols[i], &na), *y = col(b, cols[i], &nb);
        assert_true(na > 0);
        assert_int_equal(na, nb);
        assert_memory_equal(x, y, na * sizeof *x);
        free(x);
        free(y);
    }
    H5Fclose(a);
    H5Fclose(b);
}

static void test_market_deterministic_per_seed(void **state)
{
    struct fx *f = *state;
    char p1[160], p2[160], p3[160];
    hid_t a, b, c;
    size_t n1, n2, n3;
    double *x, *y, *z;
    snprintf(p1, sizeof p1, "%s/1.h5", f->dir);
    snprintf(p2, sizeof p2, "%s/2.h5", f->dir);
    snprintf(p3, sizeof p3, "%s/3.h5", f->dir);
    set(f, "market.strategy=zic");
    set(f, "attacks.tamper_rate=0.1");
    run(f, p1);
    run(f, p2);
    set(f, "scenario.seed=9");
    run(f, p3);
    a = H5Fopen(p1, H5F_ACC_RDONLY, H5P_DEFAULT);
    b = H5Fopen(p2, H5F_ACC_RDONLY, H5P_DEFAULT);
    c = H5Fopen(p3, H5F_ACC_RDONLY, H5P_DEFAULT);
    x = col(a, "trades/price", &n1);
    y = col(b, "trades/price", &n2);
    z = col(c, "trades/price", &n3);
    assert_int_equal(n1, n2);
    assert_memory_equal(x, y, n1 * sizeof *x);
    assert_true(n1 != n3 || memcmp(x, z, n1 * sizeof *x) != 0);
    free(x), free(y), free(z);
    H5Fclose(a), H5Fclose(b), H5Fclose(c);
}

static void test_market_lossy_network(void **state)
{
    struct fx *f = *state;
    hid_t h;
    set(f, "network.loss=0.2");
    set(f, "network.delay=exponential");
    set(f, "attacks.replay_rate=0.3");
    run(f, f->path);
    check_trades(f->path);
    h = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(scalar(h, "summary/messages_lost") > 0);
    assert_true(scalar(h, "summary/honest_rejected") == 0);
    /* detected + lost + undetected account for every injected attack */
    assert_true(scalar(h, "summary/attacks_detected") + scalar(h, "summary/attacks_lost") +
                    scalar(h, "summary/attacks_undetected") ==
                scalar(h, "summary/attacks_injected"));
    H5Fclose(h);
}

/* /trades is streamed as the chain resolves transactions: every trade once, in id order, with
 * request <= agreement <= inclusion <= confirmation wherever the chain got that far. */
static void test_market_trades_streamed_with_chain_latencies(void **state)
{
    struct fx *f = *state;
    hid_t h;
    size_t n, n2, confirmed = 0;
    double *id, *req, *agr, *inc, *con;
    set(f, "sim.days=0.5");
    run(f, f->path);
    h = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    id = col(h, "trades/id", &n);
    req = col(h, "trades/t_request", &n2);
    agr = col(h, "trades/t_agree", &n2);
    inc = col(h, "trades/t_included", &n2);
    con = col(h, "trades/t_confirmed", &n2);
    assert_true(n > 50);
    assert_true(scalar(h, "summary/trades") == (double)n);
    for (size_t k = 0; k < n; k++) {
        assert_true(id[k] == (double)k);
        assert_true(req[k] <= agr[k]);
        if (!isnan(inc[k]))
            assert_true(agr[k] <= inc[k]);
        if (!isnan(con[k])) {
            assert_true(inc[k] <= con[k]);
            confirmed++;
        }
    }
    assert_true(confirmed > n / 2); /* all but the last minutes' trades */
    assert_true(scalar(h, "summary/latency_include_confirm_p50") > 0);
    assert_true(scalar(h, "summary/latency_agree_include_mean") > 0);
    free(id), free(req), free(agr), free(inc), free(con);
    H5Fclose(h);
}

/* More than 1024 transactions in flight at once: the market's window of trades and transactions
 * must compact and grow without losing or mixing any (under `make asan` this also checks every
 * move stays inside its buffers; found by the price-convergence sweep). */
static void test_market_window_of_many_transactions(void **state)
{
    struct fx *f = *state;
    hid_t h;
    size_t n, n2;
    double *id, *group, *inc;
    set(f, "population.count=90");
    set(f, "population.home_solar=4");
    set(f, "population.smart_device=2");
    set(f, "population.solar_system=0.3");
    set(f, "market.mechanism=cda");
    set(f, "market.strategy=fixed");
    set(f, "market.rounds_per_slot=10");
    set(f, "output.agent_slots=false");
    set(f, "sim.days=0.5");
    run(f, f->path);
    h = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    id = col(h, "trades/id", &n);
    group = col(h, "trades/group", &n2);
    inc = col(h, "trades/t_included", &n2);
    assert_true(n > 1100);
    for (size_t k = 0; k < n; k++) {
        assert_true(id[k] == (double)k);
        assert_true(group[k] <= (double)k); /* a transaction is numbered by its first trade */
    }
    assert_true(!isnan(inc[n / 2]));
    free(id), free(group), free(inc);
    H5Fclose(h);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_market_every_mechanism_and_strategy_respects_limits),
        T(test_market_zi_u_prices_over_the_market_range),
        T(test_market_every_attack_detected),
        T(test_market_honest_traffic_untouched_by_attacks),
        T(test_market_deterministic_per_seed),
        T(test_market_lossy_network),
        T(test_market_trades_streamed_with_chain_latencies),
        T(test_market_window_of_many_transactions),
    };
    return cmocka_run_group_tests_name("market", tests, NULL, NULL);
}
