/* test_agents — population assembly, determinism, stream independence, forecasts, roles. */
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

#include "core/config.h"
#include "grid/agents.h"

struct fx {
    struct cfg cfg;
    struct err e;
    char csv[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    cfg_init(&f->cfg);
    snprintf(f->csv, sizeof f->csv, "/tmp/setm-test-agents-%d.csv", (int)getpid());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cfg_fini(&f->cfg);
    unlink(f->csv);
    free(f);
    return 0;
}

static void set(struct fx *f, const char *kv)
{
    if (cfg_set(&f->cfg, kv, &f->e) != 0)
        fail_msg("%s", f->e.msg);
}

static struct agent_pop *build(struct fx *f, int64_t slots)
{
    struct agent_pop *p;
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
    p = agent_pop_new(&f->cfg, slots, &f->e);
    if (!p)
        fail_msg("agent_pop_new: %s", f->e.msg);
    return p;
}

static size_t find(const struct agent_pop *p, const char *name)
{
    for (size_t i = 0; i < agent_count(p); i++)
        if (!strcmp(agent_name(p, i), name))
            return i;
    fail_msg("no agent %s", name);
    return 0;
}

static void test_agents_roster_from_groups_and_population(void **state)
{
    struct fx *f = *state;
    struct agent_pop *p;
    set(f, "agent.house.count=3");
    set(f, "agent.plant.type=solar_system");
    set(f, "population.count=10");
    set(f, "population.home_solar=1");
    set(f, "population.wearable=1");
    set(f, "population.smart_device=1");
    p = build(f, 96);
    assert_int_equal(agent_count(p), 14);
    assert_string_equal(agent_name(p, 0), "house-0");
    assert_string_equal(agent_name(p, 2), "house-2");
    assert_string_equal(agent_name(p, 3), "plant");
    assert_int_equal(agent_type(p, 3), CFG_AGENT_SOLAR_SYSTEM);
    assert_true(agent_min_bid(p, 3) == 40 && agent_max_bid(p, 3) == 52); /* Table 1 via preset */
    /* largest remainder: 10 * 1/3 each = 3.33 -> 4, 3, 3 (tie to the first type) */
    assert_string_equal(agent_name(p, 4), "pop-home_solar-0");
    assert_string_equal(agent_name(p, 7), "pop-home_solar-3");
    assert_string_equal(agent_name(p, 8), "pop-wearable-0");
    assert_string_equal(agent_name(p, 11), "pop-smart_device-0");
    /* population bids: the type's, shifted together by at most bid_spread (2) */
    for (size_t i = 4; i < 14; i++) {
        double lo = agent_min_bid(p, i), hi = agent_max_bid(p, i);
        double base_lo = f->cfg.types[agent_type(p, i)].min_bid;
        assert_true(fabs(lo - base_lo) <= 2.0);
        assert_true(fabs((hi - lo) - (f->cfg.types[agent_type(p, i)].max_bid - base_lo)) < 1e-9);
    }
    agent_pop_free(p);
}

static void test_agents_duplicate_names_rejected(void **state)
{
    struct fx *f = *state;
    set(f, "agent.pop-home_solar-0.count=1");
    set(f, "population.count=2");
    set(f, "population.home_solar=1");
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
    assert_null(agent_pop_new(&f->cfg, 96, &f->e));
    assert_int_equal(f->e.code, ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "pop-home_solar-0"));
}

/* Run `slots` slots and write every agent's generation, load and forecast into buf. */
static void trace(struct agent_pop *p, int64_t slots, double *buf)
{
    struct agent_slot_stats st;
    size_t n = agent_count(p), j = 0;
    for (int64_t s = 0; s < slots; s++) {
        agent_slot_step(p, s, &st);
        assert_int_equal(st.sellers + st.buyers + st.idle, (int32_t)n);
        for (size_t i = 0; i < n; i++) {
            buf[j++] = agent_generation_kwh(p, i);
            buf[j++] = agent_load_kwh(p, i);
            buf[j++] = agent_forecast_kwh(p, i);
        }
    }
}

static void test_agents_deterministic_per_seed(void **state)
{
    struct fx *f = *state;
    enum { SLOTS = 192, N = 5 };
    double *a = malloc(SLOTS * N * 3 * sizeof *a), *b = malloc(SLOTS * N * 3 * sizeof *b);
    struct agent_pop *p;
    set(f, "agent.h.count=3");
    set(f, "agent.ev.type=smart_vehicle");
    set(f, "agent.f.type=smart_device");
    p = build(f, SLOTS);
    trace(p, SLOTS, a);
    agent_pop_free(p);
    p = build(f, SLOTS);
    trace(p, SLOTS, b);
    agent_pop_free(p);
    assert_memory_equal(a, b, SLOTS * N * 3 * sizeof *a);
    set(f, "scenario.seed=2");
    p = build(f, SLOTS);
    trace(p, SLOTS, b);
    agent_pop_free(p);
    assert_memory_not_equal(a, b, SLOTS * N * 3 * sizeof *a);
    free(a);
    free(b);
}

/* An agent's draws depend on its own name only: adding another group before it changes nothing,
 * and agents of one group draw differently. */
static void test_agents_streams_are_independent(void **state)
{
    struct fx *f = *state;
    struct agent_pop *p, *q;
    struct agent_slot_stats st;
    double same = 0, diff = 0;
    struct cfg other;
    set(f, "agent.house.count=2");
    p = build(f, 96);
    cfg_init(&other);
    assert_int_equal(cfg_set(&other, "agent.first.type=smart_factory", &f->e), 0);
    assert_int_equal(cfg_set(&other, "agent.house.count=2", &f->e), 0);
    q = agent_pop_new(&other, 96, &f->e);
    assert_non_null(q);
    for (int64_t s = 0; s < 96; s++) {
        agent_slot_step(p, s, &st);
        agent_slot_step(q, s, &st);
        same += fabs(agent_load_kwh(p, 0) - agent_load_kwh(q, find(q, "house-0")));
        same += fabs(agent_forecast_kwh(p, 1) - agent_forecast_kwh(q, find(q, "house-1")));
        diff += fabs(agent_load_kwh(p, 0) - agent_load_kwh(p, 1));
    }
    assert_true(same == 0.0);
    assert_true(diff > 0.0);
    agent_pop_free(p);
    agent_pop_free(q);
    cfg_fini(&other);
}

/* With a CSV load and no PV, the forecast is exactly the mean of the last forecast_days days of
 * the same slot; the history before day 0 is day 0 repeated. */
static void test_agents_forecast_is_window_mean(void **state)
{
    struct fx *f = *state;
    FILE *fp = fopen(f->csv, "w");
    struct agent_pop *p;
    struct agent_slot_stats st;
    char kv[128];
    /* 1-hour slots: 24 per day, 3 days; value = day * 10 + hour */
    for (int d = 0; d < 3; d++)
        for (int h = 0; h < 24; h++)
            fprintf(fp, "%d\n", d * 10 + h);
    fclose(fp);
    set(f, "market.slot_minutes=60");
    set(f, "agent.x.type=smart_device");
    set(f, "agent.x.pv_kwp=0");
    set(f, "agent.x.forecast_days=2");
    snprintf(kv, sizeof kv, "agent.x.load_csv=%s", f->csv);
    set(f, kv);
    p = build(f, 72);
    for (int64_t s = 0; s < 72; s++) {
        int d = (int)(s / 24), h = (int)(s % 24);
        double expect = d < 2 ? -(double)h : -((d - 1) * 10 + h + (d - 2) * 10 + h) / 2.0;
        agent_slot_step(p, s, &st);
        assert_true(agent_load_kwh(p, 0) == d * 10 + h);
        assert_true(agent_generation_kwh(p, 0) == 0);
        if (fabs(agent_forecast_kwh(p, 0) - expect) > 1e-5)
            fail_msg("slot %d: forecast %g, expected %g", (int)s, agent_forecast_kwh(p, 0), expect);
        assert_int_equal(agent_role(p, 0), h == 0 && d < 2 ? AGENT_IDLE : AGENT_BUYER);
        assert_true(fabs(st.imbalance_kwh - (-(double)(d * 10 + h) - expect)) < 1e-5);
    }
    agent_pop_free(p);
}

/* A home with PV sells around noon and buys in the evening, every day: roles switch by slot. */
static void test_agents_role_switching(void **state)
{
    struct fx *f = *state;
    struct agent_pop *p;
    struct agent_slot_stats st;
    int noon_sell = 0, evening_buy = 0, night_buy = 0;
    set(f, "agent.home.type=home_solar");
    set(f, "agent.home.pv_kwp=6");
    set(f, "weather.clearness_sd=0");
    p = build(f, 96 * 7);
    for (int64_t s = 0; s < 96 * 7; s++) {
        int k = (int)(s % 96);
        agent_slot_step(p, s, &st);
        if (k == 48)
            noon_sell += agent_role(p, 0) == AGENT_SELLER;
        if (k == 80)
            evening_buy += agent_role(p, 0) == AGENT_BUYER;
        if (k == 8)
            night_buy += agent_role(p, 0) == AGENT_BUYER;
    }
    assert_int_equal(noon_sell, 7);
    assert_int_equal(evening_buy, 7);
    assert_int_equal(night_buy, 7);
    agent_pop_free(p);
}

static void test_agents_csv_errors_name_the_group(void **state)
{
    struct fx *f = *state;
    FILE *fp;
    set(f, "agent.x.load_csv=/nonexistent/x.csv");
    assert_null(agent_pop_new(&f->cfg, 96, &f->e));
    assert_int_equal(f->e.code, ERR_NOTFOUND);
    assert_non_null(strstr(f->e.msg, "[agent.x] load_csv"));
    assert_non_null(strstr(f->e.msg, "/nonexistent/x.csv"));
    fp = fopen(f->csv, "w");
    fputs("1\n2\n", fp);
    fclose(fp);
    {
        char kv[128];
        snprintf(kv, sizeof kv, "agent.x.load_csv=%s", f->csv);
        set(f, kv);
    }
    assert_null(agent_pop_new(&f->cfg, 96, &f->e));
    assert_int_equal(f->e.code, ERR_FORMAT);
    assert_non_null(strstr(f->e.msg, "2 values, but the run has 96 slots"));
}

static void test_agents_history_too_large_is_refused(void **state)
{
    struct fx *f = *state;
    set(f, "population.count=10000");
    set(f, "population.smart_factory=1"); /* 10,000 x 1393 days x 96 slots */
    assert_int_equal(cfg_validate(&f->cfg, &f->e), 0);
    assert_null(agent_pop_new(&f->cfg, 96, &f->e));
    assert_int_equal(f->e.code, ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "forecast history"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_agents_roster_from_groups_and_population),
        T(test_agents_duplicate_names_rejected),
        T(test_agents_deterministic_per_seed),
        T(test_agents_streams_are_independent),
        T(test_agents_forecast_is_window_mean),
        T(test_agents_role_switching),
        T(test_agents_csv_errors_name_the_group),
        T(test_agents_history_too_large_is_refused),
    };
    return cmocka_run_group_tests_name("agents", tests, NULL, NULL);
}
