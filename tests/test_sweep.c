/* test_sweep — [sweep] parsing (every form and every error), run numbering, seeds, run configs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/config.h"
#include "run/sweep.h"

/* The scenario text a test sweeps over; the loader reads it as file "t.ini". */
struct fx {
    const char *text;
    int loads;     /* calls of the loader so far */
    int fail_from; /* the loader fails from this call on (0: never) */
    struct sweep *sw;
    struct cfg cfg;
    struct err e;
};

static int load_text(struct cfg *cfg, void *vctx, struct err *e)
{
    struct fx *f = vctx;
    if (f->fail_from && ++f->loads >= f->fail_from)
        return err_set(e, ERR_NOTFOUND, "t.ini: gone");
    return cfg_load_string(cfg, f->text, "t.ini", e);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    cfg_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sweep_free(f->sw);
    cfg_fini(&f->cfg);
    free(f);
    return 0;
}

#define BASE                                                                                      \
    "[scenario]\nname = t\nseed = 7\n[sim]\ndays = 0.25\n[population]\ncount = 10\n"         \
    "home_solar = 1\n[agent.house]\ncount = 2\nmin_bid = 30\nmax_bid = 50\n"

/* Parse BASE + "[sweep]\n" + `sweep`; expect success. */
static struct sweep *parse(struct fx *f, const char *sweep)
{
    static char text[4096];
    snprintf(text, sizeof text, "%s[sweep]\n%s", BASE, sweep);
    f->text = text;
    sweep_free(f->sw);
    err_clear(&f->e);
    f->sw = sweep_new(load_text, f, &f->e);
    if (!f->sw)
        fail_msg("sweep_new failed: %s", f->e.msg);
    return f->sw;
}

/* Expect failure with `code` and every NULL-terminated fragment in the message. */
static void expect_error(struct fx *f, const char *sweep, int code, ...)
{
    static char text[4096];
    va_list ap;
    snprintf(text, sizeof text, "%s[sweep]\n%s", BASE, sweep);
    f->text = text;
    err_clear(&f->e);
    assert_null(sweep_new(load_text, f, &f->e));
    assert_int_equal(f->e.code, code);
    va_start(ap, code);
    for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;)
        if (!strstr(f->e.msg, frag))
            fail_msg("error '%s' lacks '%s'", f->e.msg, frag);
    va_end(ap);
}

static void assert_values(const struct sweep_param *p, const char *const *want, size_t n)
{
    if (p->n != n)
        fail_msg("%s: %zu values, expected %zu", p->key, p->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(p->values[i], want[i]);
}

#define VALUES(p, ...)                                                                            \
    do {                                                                                          \
        static const char *const want_[] = {__VA_ARGS__};                                         \
        assert_values((p), want_, sizeof want_ / sizeof want_[0]);                                \
    } while (0)

/* ---- forms ---- */

static void test_sweep_without_section_is_one_run(void **state)
{
    struct fx *f = *state;
    f->text = BASE;
    f->sw = sweep_new(load_text, f, &f->e);
    assert_non_null(f->sw);
    assert_int_equal(f->sw->n_params, 0);
    assert_int_equal(f->sw->n_runs, 1);
    assert_int_equal(f->sw->seeds, 1);
}

static void test_sweep_list_of_integers(void **state)
{
    struct sweep *sw = parse(*state, "population.count = 10, 20 ,30\n");
    assert_int_equal(sw->n_params, 1);
    assert_string_equal(sw->params[0].key, "population.count");
    VALUES(&sw->params[0], "10", "20", "30");
    assert_int_equal(sw->params[0].kind, SWEEP_INT);
    assert_int_equal(sw->n_runs, 3);
}

static void test_sweep_list_of_words(void **state)
{
    struct sweep *sw = parse(*state, "mine.backend = cpu, auto\n");
    VALUES(&sw->params[0], "cpu", "auto");
    assert_int_equal(sw->params[0].kind, SWEEP_WORD);
}

static void test_sweep_numbers_with_a_fraction_are_numbers(void **state)
{
    struct sweep *sw = parse(*state, "sim.days = 0.25, 1\n");
    assert_int_equal(sw->params[0].kind, SWEEP_NUM);
}

static void test_sweep_integer_range_includes_hi_on_a_step(void **state)
{
    struct sweep *sw = parse(*state, "market.rounds_per_slot = 2:10:4\n");
    VALUES(&sw->params[0], "2", "6", "10");
    assert_int_equal(sw->params[0].kind, SWEEP_INT);
}

static void test_sweep_integer_range_stops_before_hi_off_step(void **state)
{
    struct sweep *sw = parse(*state, "market.rounds_per_slot = 1:6:2\n");
    VALUES(&sw->params[0], "1", "3", "5");
}

static void test_sweep_descending_range(void **state)
{
    struct sweep *sw = parse(*state, "market.rounds_per_slot = 5:1:-2\n");
    VALUES(&sw->params[0], "5", "3", "1");
}

static void test_sweep_range_of_one_value(void **state)
{
    struct sweep *sw = parse(*state, "market.rounds_per_slot = 3:3:1\n");
    VALUES(&sw->params[0], "3");
}

static void test_sweep_float_range_without_rounding_noise(void **state)
{
    struct sweep *sw = parse(*state, "weather.clearness_mean = 0.1:0.3:0.1\n");
    VALUES(&sw->params[0], "0.1", "0.2", "0.3");
    assert_int_equal(sw->params[0].kind, SWEEP_NUM);
}

static void test_sweep_log_range_of_numbers(void **state)
{
    struct sweep *sw = parse(*state, "population.bid_spread = log:1:100:3\n");
    VALUES(&sw->params[0], "1", "10", "100");
}

static void test_sweep_log_range_rounds_for_integer_keys(void **state)
{
    struct sweep *sw = parse(*state, "population.count = log:100:10000:5\n");
    VALUES(&sw->params[0], "100", "316", "1000", "3162", "10000");
    assert_int_equal(sw->params[0].kind, SWEEP_INT);
}

static void test_sweep_items_mix_ranges_and_values(void **state)
{
    struct sweep *sw = parse(*state, "market.rounds_per_slot = 1:3:1, 10, log:20:80:3\n");
    VALUES(&sw->params[0], "1", "2", "3", "10", "20", "40", "80");
}

static void test_sweep_quoted_item_is_literal(void **state)
{
    struct sweep *sw = parse(*state, "scenario.description = \"a:b, c\", plain\n");
    VALUES(&sw->params[0], "a:b, c", "plain");
}

static void test_sweep_agent_group_key(void **state)
{
    struct sweep *sw = parse(*state, "agent.house.count = 1, 4\nagent.house.max_bid = 60\n");
    VALUES(&sw->params[0], "1", "4");
    VALUES(&sw->params[1], "60");
}

static void test_sweep_type_preset_key(void **state)
{
    struct sweep *sw = parse(*state, "type.home_solar.pv_kwp = 2, 4\n");
    VALUES(&sw->params[0], "2", "4");
}

static void test_sweep_entry_keeps_origin_and_line(void **state)
{
    struct sweep *sw = parse(*state, "seeds = 2\npopulation.count = 5\n");
    assert_string_equal(sw->params[0].origin, "t.ini");
    assert_int_equal(sw->params[0].line, 15);
}

/* ---- numbering ---- */

static void test_sweep_product_first_key_slowest(void **state)
{
    struct sweep *sw = parse(*state, "population.count = 10, 20\nsim.days = 0.25, 0.5, 1\n");
    static const char *const count[] = {"10", "10", "10", "20", "20", "20"};
    static const char *const days[] = {"0.25", "0.5", "1", "0.25", "0.5", "1"};
    assert_int_equal(sw->n_points, 6);
    assert_int_equal(sw->n_runs, 6);
    for (size_t r = 0; r < 6; r++) {
        assert_string_equal(sw->params[0].values[sweep_run_value(sw, r, 0)], count[r]);
        assert_string_equal(sw->params[1].values[sweep_run_value(sw, r, 1)], days[r]);
    }
}

static void test_sweep_seeds_repeat_each_point(void **state)
{
    struct sweep *sw = parse(*state, "population.count = 10, 20\nseeds = 3\n");
    size_t point;
    int64_t rep;
    assert_int_equal(sw->n_points, 2);
    assert_int_equal(sw->n_runs, 6);
    sweep_run_point(sw, 4, &point, &rep);
    assert_int_equal(point, 1);
    assert_int_equal(rep, 1);
    assert_string_equal(sw->params[0].values[sweep_run_value(sw, 2, 0)], "10");
    assert_string_equal(sw->params[0].values[sweep_run_value(sw, 3, 0)], "20");
}

static void test_sweep_seeds_alone_repeat_the_base(void **state)
{
    struct sweep *sw = parse(*state, "seeds = 4\n");
    assert_int_equal(sw->n_params, 0);
    assert_int_equal(sw->n_points, 1);
    assert_int_equal(sw->n_runs, 4);
}

static void test_sweep_run_names(void **state)
{
    char buf[64];
    struct sweep *sw = parse(*state, "population.count = 10, 20\n");
    assert_string_equal(sweep_run_name(sw, 1, buf, sizeof buf), "run-0001.h5");
}

static void test_sweep_run_names_widen_past_9999(void **state)
{
    char buf[64];
    struct sweep *sw = parse(*state, "seeds = 10001\n");
    assert_string_equal(sweep_run_name(sw, 0, buf, sizeof buf), "run-00000.h5");
    assert_string_equal(sweep_run_name(sw, 10000, buf, sizeof buf), "run-10000.h5");
}

static void test_sweep_describe_names_values_and_repetition(void **state)
{
    char buf[256];
    struct sweep *sw = parse(*state, "population.count = 10, 20\nseeds = 2\n");
    assert_string_equal(sweep_run_describe(sw, 3, buf, sizeof buf),
                        "population.count=20, seed #1");
}

/* ---- seeds ---- */

static void test_sweep_seed_rep0_is_the_scenario_seed(void **state)
{
    (void)state;
    assert_int_equal(sweep_seed_derive(7, 0), 7);
}

static void test_sweep_seeds_are_distinct_deterministic_and_in_range(void **state)
{
    (void)state;
    for (int64_t r = 1; r < 100; r++) {
        int64_t s = sweep_seed_derive(7, r);
        assert_true(s >= 0 && s < (INT64_C(1) << 53));
        assert_int_equal(s, sweep_seed_derive(7, r));
        assert_int_not_equal(s, sweep_seed_derive(7, r + 1));
        assert_int_not_equal(s, sweep_seed_derive(8, r));
    }
}

static void test_sweep_run_cfg_applies_point_and_seed(void **state)
{
    struct fx *f = *state;
    struct sweep *sw = parse(f, "population.count = 10, 20\nagent.house.max_bid = 55, 60\n"
                                "seeds = 2\n");
    /* run 5 = point 2 (count 20, max_bid 55), repetition 1 */
    assert_int_equal(sweep_run_cfg(sw, 5, &f->cfg, &f->e), 0);
    assert_int_equal(f->cfg.population.count, 20);
    assert_true(f->cfg.agents[0].p.max_bid == 55);
    assert_int_equal(f->cfg.scenario.seed, sweep_seed_derive(7, 1));
}

static void test_sweep_run_cfg_points_share_seeds(void **state)
{
    struct fx *f = *state;
    struct cfg other;
    struct sweep *sw = parse(f, "population.count = 10, 20\nseeds = 2\n");
    cfg_init(&other);
    assert_int_equal(sweep_run_cfg(sw, 1, &f->cfg, &f->e), 0);
    assert_int_equal(sweep_run_cfg(sw, 3, &other, &f->e), 0);
    assert_int_equal(f->cfg.scenario.seed, other.scenario.seed);
    cfg_fini(&other);
}

static void test_sweep_swept_seed_is_the_base_of_derivation(void **state)
{
    struct fx *f = *state;
    struct sweep *sw = parse(f, "scenario.seed = 1, 2\nseeds = 2\n");
    assert_int_equal(sweep_run_cfg(sw, 3, &f->cfg, &f->e), 0);
    assert_int_equal(f->cfg.scenario.seed, sweep_seed_derive(2, 1));
}

static void test_sweep_run_cfg_reports_contradicting_point(void **state)
{
    struct fx *f = *state;
    struct sweep *sw = parse(f, "agent.house.min_bid = 40, 70\n");
    assert_int_equal(sweep_run_cfg(sw, 0, &f->cfg, &f->e), 0);
    cfg_fini(&f->cfg);
    cfg_init(&f->cfg);
    assert_int_equal(sweep_run_cfg(sw, 1, &f->cfg, &f->e), ERR_CONFIG);
    assert_non_null(strstr(f->e.msg, "run 1"));
    assert_non_null(strstr(f->e.msg, "agent.house.min_bid=70"));
}

static void test_sweep_run_cfg_reports_loader_failure(void **state)
{
    struct fx *f = *state;
    struct sweep *sw = parse(f, "population.count = 10, 20\n");
    f->loads = 0;
    f->fail_from = 1;
    assert_int_equal(sweep_run_cfg(sw, 0, &f->cfg, &f->e), ERR_NOTFOUND);
    assert_non_null(strstr(f->e.msg, "gone"));
}

/* ---- errors ---- */

static void test_sweep_error_loader_failure(void **state)
{
    struct fx *f = *state;
    f->text = BASE;
    f->fail_from = 1;
    assert_null(sweep_new(load_text, f, &f->e));
    assert_int_equal(f->e.code, ERR_NOTFOUND);
}

static void test_sweep_error_unknown_key_names_entry(void **state)
{
    expect_error(*state, "seeds = 1\npopulation.cuont = 1, 2\n", ERR_CONFIG, "t.ini:15:",
                 "[sweep] population.cuont", "unknown key 'cuont'", "count", NULL);
}

static void test_sweep_error_unknown_section(void **state)
{
    expect_error(*state, "chian.difficulty_bits = 12\n", ERR_CONFIG, "t.ini:14:",
                 "unknown section [chian]", NULL);
}

static void test_sweep_error_bad_value_says_what_is_accepted(void **state)
{
    expect_error(*state, "population.count = 10, lots\n", ERR_CONFIG, "t.ini:14:", "'lots'",
                 "accepted: integer in [0, 1000000]", NULL);
}

static void test_sweep_error_value_out_of_range(void **state)
{
    expect_error(*state, "weather.clearness_mean = 0.5:1.5:0.5\n", ERR_CONFIG, "'1.5'",
                 "accepted", NULL);
}

static void test_sweep_error_word_for_a_choice(void **state)
{
    expect_error(*state, "mine.backend = cpu, cuda\n", ERR_CONFIG, "'cuda'", "opencl", NULL);
}

static void test_sweep_error_fraction_for_an_integer_key(void **state)
{
    expect_error(*state, "market.rounds_per_slot = 1:2:0.5\n", ERR_CONFIG, "'1.5'", NULL);
}

static void test_sweep_error_key_without_section(void **state)
{
    expect_error(*state, "count = 1\n", ERR_CONFIG, "unknown [sweep] key 'count'", NULL);
}

static void test_sweep_error_unknown_agent_group(void **state)
{
    expect_error(*state, "agent.flat.count = 1, 2\n", ERR_CONFIG, "no [agent.flat] group", NULL);
}

static void test_sweep_error_seeds_zero(void **state)
{
    expect_error(*state, "seeds = 0\n", ERR_CONFIG, "t.ini:14:", "[1, 100000]", NULL);
}

static void test_sweep_error_seeds_not_an_integer(void **state)
{
    expect_error(*state, "seeds = 2, 3\n", ERR_CONFIG, "seeds takes one integer", NULL);
}

static void test_sweep_error_range_step_zero(void **state)
{
    expect_error(*state, "market.rounds_per_slot = 1:5:0\n", ERR_CONFIG, "step must not be 0",
                 NULL);
}

static void test_sweep_error_float_range_step_zero(void **state)
{
    expect_error(*state, "sim.days = 0.5:1:0.0\n", ERR_CONFIG, "step must not be 0", NULL);
}

static void test_sweep_error_range_step_moves_away(void **state)
{
    expect_error(*state, "market.rounds_per_slot = 5:1:1\n", ERR_CONFIG, "moves away from hi",
                 NULL);
}

static void test_sweep_error_float_range_step_moves_away(void **state)
{
    expect_error(*state, "sim.days = 1:0.5:0.25\n", ERR_CONFIG, "moves away from hi", NULL);
}

static void test_sweep_error_range_not_numbers(void **state)
{
    expect_error(*state, "sim.days = a:2:1\n", ERR_CONFIG, "must be numbers", NULL);
}

static void test_sweep_error_range_field_count(void **state)
{
    expect_error(*state, "sim.days = 1:2\n", ERR_CONFIG, "'1:2' is not a range lo:hi:step",
                 NULL);
}

static void test_sweep_error_range_too_long(void **state)
{
    expect_error(*state, "population.count = 0:2000000:1\n", ERR_CONFIG, "more than 1000000",
                 NULL);
}

static void test_sweep_error_integer_range_beyond_2_53(void **state)
{
    expect_error(*state, "scenario.seed = 1:99999999999999999:1\n", ERR_CONFIG, "2^53", NULL);
}

static void test_sweep_error_log_range_field_count(void **state)
{
    expect_error(*state, "sim.days = log:1:2\n", ERR_CONFIG, "not a log range log:lo:hi:n",
                 NULL);
}

static void test_sweep_error_log_range_nonpositive(void **state)
{
    expect_error(*state, "sim.days = log:0:2:3\n", ERR_CONFIG, "numbers > 0", NULL);
}

static void test_sweep_error_log_range_n(void **state)
{
    expect_error(*state, "sim.days = log:1:2:1\n", ERR_CONFIG, "n must be an integer", NULL);
}

static void test_sweep_error_log_range_integer_duplicates(void **state)
{
    expect_error(*state, "market.rounds_per_slot = log:1:3:5\n", ERR_CONFIG,
                 "rounds to the integer", NULL);
}

static void test_sweep_error_empty_item(void **state)
{
    expect_error(*state, "population.count = 1, , 2\n", ERR_CONFIG, "empty item", NULL);
}

static void test_sweep_error_trailing_comma(void **state)
{
    expect_error(*state, "population.count = 1, 2,\n", ERR_CONFIG, "empty item", NULL);
}

static void test_sweep_error_unclosed_quote(void **state)
{
    expect_error(*state, "scenario.description = \"abc\n", ERR_CONFIG, "no closing", NULL);
}

static void test_sweep_error_text_after_quote(void **state)
{
    expect_error(*state, "scenario.description = \"abc\" d\n", ERR_CONFIG,
                 "text after a quoted item", NULL);
}

static void test_sweep_empty_quote_is_the_empty_value(void **state)
{
    struct sweep *sw = parse(*state, "agent.house.load_csv = \"\", x.csv\n");
    VALUES(&sw->params[0], "", "x.csv");
    assert_int_equal(sw->params[0].kind, SWEEP_WORD);
}

static void test_sweep_error_duplicate_value(void **state)
{
    expect_error(*state, "population.count = 1:3:1, 2\n", ERR_CONFIG, "'2' appears twice", NULL);
}

static void test_sweep_error_too_many_runs(void **state)
{
    expect_error(*state, "population.count = 0:999:1\npopulation.bid_spread = 0:1000:1\n",
                 ERR_CONFIG, "more than 1000000 runs", NULL);
}

static void test_sweep_error_too_many_runs_with_seeds(void **state)
{
    expect_error(*state, "population.count = 0:999:1\nseeds = 1001\n", ERR_CONFIG,
                 "more than 1000000 runs", NULL);
}

static void test_sweep_error_use_cannot_be_swept(void **state)
{
    expect_error(*state, "scenario.use = a.ini\n", ERR_CONFIG, "use", NULL);
}

static void test_sweep_free_null_is_noop(void **state)
{
    (void)state;
    sweep_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sweep_without_section_is_one_run),
        T(test_sweep_list_of_integers),
        T(test_sweep_list_of_words),
        T(test_sweep_numbers_with_a_fraction_are_numbers),
        T(test_sweep_integer_range_includes_hi_on_a_step),
        T(test_sweep_integer_range_stops_before_hi_off_step),
        T(test_sweep_descending_range),
        T(test_sweep_range_of_one_value),
        T(test_sweep_float_range_without_rounding_noise),
        T(test_sweep_log_range_of_numbers),
        T(test_sweep_log_range_rounds_for_integer_keys),
        T(test_sweep_items_mix_ranges_and_values),
        T(test_sweep_quoted_item_is_literal),
        T(test_sweep_agent_group_key),
        T(test_sweep_empty_quote_is_the_empty_value),
        T(test_sweep_type_preset_key),
        T(test_sweep_entry_keeps_origin_and_line),
        T(test_sweep_product_first_key_slowest),
        T(test_sweep_seeds_repeat_each_point),
        T(test_sweep_seeds_alone_repeat_the_base),
        T(test_sweep_run_names),
        T(test_sweep_run_names_widen_past_9999),
        T(test_sweep_describe_names_values_and_repetition),
        T(test_sweep_seed_rep0_is_the_scenario_seed),
        T(test_sweep_seeds_are_distinct_deterministic_and_in_range),
        T(test_sweep_run_cfg_applies_point_and_seed),
        T(test_sweep_run_cfg_points_share_seeds),
        T(test_sweep_swept_seed_is_the_base_of_derivation),
        T(test_sweep_run_cfg_reports_contradicting_point),
        T(test_sweep_run_cfg_reports_loader_failure),
        T(test_sweep_error_loader_failure),
        T(test_sweep_error_unknown_key_names_entry),
        T(test_sweep_error_unknown_section),
        T(test_sweep_error_bad_value_says_what_is_accepted),
        T(test_sweep_error_value_out_of_range),
        T(test_sweep_error_word_for_a_choice),
        T(test_sweep_error_fraction_for_an_integer_key),
        T(test_sweep_error_key_without_section),
        T(test_sweep_error_unknown_agent_group),
        T(test_sweep_error_seeds_zero),
        T(test_sweep_error_seeds_not_an_integer),
        T(test_sweep_error_range_step_zero),
        T(test_sweep_error_float_range_step_zero),
        T(test_sweep_error_range_step_moves_away),
        T(test_sweep_error_float_range_step_moves_away),
        T(test_sweep_error_range_not_numbers),
        T(test_sweep_error_range_field_count),
        T(test_sweep_error_range_too_long),
        T(test_sweep_error_integer_range_beyond_2_53),
        T(test_sweep_error_log_range_field_count),
        T(test_sweep_error_log_range_nonpositive),
        T(test_sweep_error_log_range_n),
        T(test_sweep_error_log_range_integer_duplicates),
        T(test_sweep_error_empty_item),
        T(test_sweep_error_trailing_comma),
        T(test_sweep_error_unclosed_quote),
        T(test_sweep_error_text_after_quote),
        T(test_sweep_error_duplicate_value),
        T(test_sweep_error_too_many_runs),
        T(test_sweep_error_too_many_runs_with_seeds),
        T(test_sweep_error_use_cannot_be_swept),
        T(test_sweep_free_null_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
