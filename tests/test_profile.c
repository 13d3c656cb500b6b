/* test_profile — solar geometry, weather, daily shapes, per-slot draws, CSV profiles. */
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
#include "core/rng.h"
#include "grid/csvprof.h"
#include "grid/profile.h"

static void test_profile_clear_sky_zero_at_night_peak_at_noon(void **state)
{
    double best = 0, best_h = -1;
    (void)state;
    for (double h = 0; h < 24; h += 0.25) {
        double g = prof_clear_sky_ghi(37.5, 172, h);
        if (h < 4.5 || h > 19.5)
            assert_true(g == 0.0);
        if (g > best)
            best = g, best_h = h;
    }
    assert_true(fabs(best_h - 12.0) <= 0.25);
    assert_true(best > 850 && best < 1100); /* summer noon, mid latitude */
    /* winter is weaker and shorter */
    assert_true(prof_clear_sky_ghi(37.5, 355, 12.0) < 0.75 * best);
    assert_true(prof_clear_sky_ghi(37.5, 355, 7.0) == 0.0);
    /* polar night */
    assert_true(prof_clear_sky_ghi(66.0, 355, 12.0) < 50.0);
}

static void test_profile_shapes_average_one(void **state)
{
    (void)state;
    for (int sh = 0; sh < CFG_NSHAPES; sh++)
        for (int shifts = 1; shifts <= 3; shifts++) {
            double acc = 0;
            for (int k = 0; k < 96; k++)
                acc += prof_shape_mean(sh, shifts, k * 0.25, (k + 1) * 0.25);
            assert_true(fabs(acc / 96 - 1.0) < 1e-9);
            assert_true(fabs(prof_shape_mean(sh, shifts, 0, 24) - 1.0) < 1e-9);
            /* a two-hour slot is the mean of its hours */
            assert_true(fabs(prof_shape_mean(sh, shifts, 18, 20) -
                             0.5 * (prof_shape_mean(sh, shifts, 18, 19) +
                                    prof_shape_mean(sh, shifts, 19, 20))) < 1e-12);
        }
    /* residential evening peak above the night */
    assert_true(prof_shape_mean(CFG_SHAPE_RESIDENTIAL, 1, 19, 20) >
                3 * prof_shape_mean(CFG_SHAPE_RESIDENTIAL, 1, 3, 4));
    /* one industrial shift: on from 06 to 14 */
    assert_true(prof_shape_mean(CFG_SHAPE_INDUSTRIAL, 1, 10, 11) >
                4 * prof_shape_mean(CFG_SHAPE_INDUSTRIAL, 1, 20, 21));
}

static void test_profile_ev_arrival_shares_sum_to_one(void **state)
{
    double acc = 0, late = 0;
    (void)state;
    for (int k = 0; k < 96; k++)
        acc += prof_ev_arrival_share(23.0, k * 0.25, 0.25);
    assert_true(fabs(acc - 1.0) < 1e-6); /* wraps around midnight */
    for (int k = 0; k < 8; k++)
        late += prof_ev_arrival_share(23.0, k * 0.25, 0.25);
    assert_true(late > 0.2);
}

static void test_profile_weather_in_range_persistent_and_history_independent(void **state)
{
    struct cfg c;
    struct prof_weather *a, *b;
    struct err e = {0};
    double lag1 = 0, var = 0, mean = 0;
    int n = 400;
    (void)state;
    cfg_init(&c);
    a = prof_weather_new(&c, -5, n, &e);
    b = prof_weather_new(&c, -300, n, &e);
    assert_non_null(a);
    assert_non_null(b);
    for (int d = 0; d <= n; d++) {
        double x = prof_weather_clearness(a, d);
        assert_true(x >= 0.05 && x <= 1.0);
        /* the run's weather does not depend on how much history is drawn */
        assert_true(x == prof_weather_clearness(b, d));
        mean += x;
    }
    mean /= n + 1;
    for (int d = 0; d < n; d++) {
        lag1 += (prof_weather_clearness(a, d) - mean) * (prof_weather_clearness(a, d + 1) - mean);
        var += (prof_weather_clearness(a, d) - mean) * (prof_weather_clearness(a, d) - mean);
    }
    assert_true(fabs(mean - 0.7) < 0.05);
    assert_true(lag1 / var > 0.4 && lag1 / var < 0.8); /* persistence 0.6 */
    assert_true(prof_weather_clearness(b, -300) >= 0.05);
    prof_weather_free(a);
    prof_weather_free(b);
    cfg_fini(&c);
}

/* Draw many days of one agent's profile; return mean daily generation and load. */
static double clear_sky_per_day; /* mean clear-sky kWh/kWp over the days simulate() drew */

static void simulate(const struct cfg *c, const struct cfg_profile *p, int days, uint64_t seed,
                     double *gen_day, double *load_day, double *night_gen, int *peak_k)
{
    struct prof_weather *w = prof_weather_new(c, 0, days, NULL);
    gsl_rng *r = rng_stream_new(seed, "test", 0);
    struct prof_state st = {0};
    double g_tot = 0, l_tot = 0, night = 0, by_k[96] = {0}, cs = 0;
    for (int d = 0; d < days; d++)
        for (int k = 0; k < 96; k++)
            cs += prof_weather_clear_sky_kwh(w, d, k);
    clear_sky_per_day = cs / days;
    for (int d = 0; d < days; d++)
        for (int k = 0; k < 96; k++) {
            struct prof_slot s = {0.25, prof_weekday(c, d) >= 5,
                                  prof_weather_clearness(w, d) * prof_weather_clear_sky_kwh(w, d, k),
                                  prof_shape_mean(p->load_shape, p->shifts, k * 0.25, (k + 1) * 0.25),
                                  prof_ev_arrival_share(p->ev_arrival_h, k * 0.25, 0.25)};
            double g, l;
            prof_sample(p, &s, c->weather.cloud_sigma, &st, r, &g, &l);
            assert_true(g >= 0 && l >= 0);
            g_tot += g;
            l_tot += l;
            by_k[k] += g;
            if (prof_weather_clear_sky_kwh(w, d, k) == 0)
                night += g;
        }
    *gen_day = g_tot / days;
    *load_day = l_tot / days;
    *night_gen = night;
    *peak_k = 0;
    for (int k = 1; k < 96; k++)
        if (by_k[k] > by_k[*peak_k])
            *peak_k = k;
    rng_free(r);
    prof_weather_free(w);
}

static void test_profile_pv_statistics(void **state)
{
    struct cfg c;
    struct cfg_profile p;
    double g, l, night, clear_day = 0;
    int peak;
    (void)state;
    cfg_init(&c);
    p = c.types[CFG_AGENT_HOME_SOLAR];
    {
        struct prof_weather *w = prof_weather_new(&c, 0, 0, NULL);
        for (int k = 0; k < 96; k++)
            clear_day += prof_weather_clear_sky_kwh(w, 0, k);
        prof_weather_free(w);
    }
    assert_true(clear_day > 6.0 && clear_day < 9.0); /* kWh/kWp on a clear June day at 37.5 N */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        c.scenario.seed = (int64_t)seed;
        simulate(&c, &p, 200, seed, &g, &l, &night, &peak);
        assert_true(night == 0.0);
        assert_true(peak >= 44 && peak <= 51); /* 11:00 .. 12:45 */
        /* mean daily energy: kWp x clear-sky x mean clearness, within sampling error */
        assert_true(g > 0.85 * 5 * clear_sky_per_day * 0.7 &&
                    g < 1.15 * 5 * clear_sky_per_day * 0.7);
        assert_true(g < 5 * clear_day * 1.2);
    }
    cfg_fini(&c);
}

static void test_profile_load_mean_matches_parameter(void **state)
{
    struct cfg c;
    double g, l, night;
    int peak;
    (void)state;
    cfg_init(&c);
    c.weather.start_weekday = 0;
    for (int t = 0; t < CFG_AGENT_NTYPES; t++) {
        struct cfg_profile p = c.types[t];
        double expect;
        p.weekend_factor = 1.0; /* isolate the daily mean */
        expect = p.load_kwh_day + p.burst_prob * p.burst_kwh * 96 + p.ev_sessions_day * p.ev_kwh;
        simulate(&c, &p, 4000, 7 + (uint64_t)t, &g, &l, &night, &peak);
        if (fabs(l / expect - 1.0) > 0.05)
            fail_msg("%s: mean daily load %.4f, expected %.4f", cfg_agent_type_name(t), l, expect);
    }
    cfg_fini(&c);
}

static void test_profile_weekend_factor(void **state)
{
    struct cfg c;
    struct cfg_profile p;
    double g, l_week, l_wkend, night;
    int peak;
    (void)state;
    cfg_init(&c);
    p = c.types[CFG_AGENT_PERSONAL_OFFICE];
    p.load_sigma = 0;
    c.weather.start_weekday = 0;
    simulate(&c, &p, 5, 1, &g, &l_week, &night, &peak); /* Mon-Fri */
    c.weather.start_weekday = 5;
    simulate(&c, &p, 2, 1, &g, &l_wkend, &night, &peak); /* Sat-Sun */
    assert_true(fabs(l_week - 25.0) < 1e-9);
    assert_true(fabs(l_wkend - 25.0 * 0.3) < 1e-9);
    cfg_fini(&c);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static const char *csv_file(const char *text)
{
    static char path[64];
    FILE *f;
    snprintf(path, sizeof path, "/tmp/setm-test-csv-%d.csv", (int)getpid());
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_profile_csv_reads_values_with_header_and_comments(void **state)
{
    double *v;
    struct err e = {0};
    (void)state;
    assert_int_equal(prof_csv_load(csv_file("load_kwh\n1.5\n# note\n\n2\n 0.25 \n"), 3, 3, &v, &e), 0);
    assert_true(v[0] == 1.5 && v[1] == 2.0 && v[2] == 0.25);
    free(v);
    unlink(csv_file(""));
}

static void test_profile_csv_errors(void **state)
{
    double *v = (double *)1;
    struct err e = {0};
    (void)state;
    assert_int_equal(prof_csv_load("/nonexistent/p.csv", 3, 3, &v, &e), ERR_NOTFOUND);
    assert_null(v);
    assert_non_null(strstr(e.msg, "/nonexistent/p.csv"));
    assert_int_equal(prof_csv_load(csv_file("1\n2\n"), 3, 3, &v, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "2 values, but the run has 3 slots"));
    assert_int_equal(prof_csv_load(csv_file("1\n2\n3\n4\n"), 3, 3, &v, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "more than the 3 values"));
    assert_int_equal(prof_csv_load(csv_file("1\nabc\n3\n"), 3, 3, &v, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, ":2: 'abc' is not a number"));
    assert_int_equal(prof_csv_load(csv_file("1\n2,5\n3\n"), 3, 3, &v, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, ":2:"));
    assert_int_equal(prof_csv_load(csv_file("1\n2\n-3\n"), 3, 3, &v, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, ":3: -3 kWh is negative"));
    assert_int_equal(prof_csv_load(csv_file("1\nnan\n3\n"), 3, 3, &v, &e), ERR_FORMAT);
    assert_int_equal(prof_csv_load(csv_file("1\n2\nx3\n"), 3, 3, &v, &e), ERR_FORMAT); /* header only on line 1 */
    unlink(csv_file(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_clear_sky_zero_at_night_peak_at_noon),
        cmocka_unit_test(test_profile_shapes_average_one),
        cmocka_unit_test(test_profile_ev_arrival_shares_sum_to_one),
        cmocka_unit_test(test_profile_weather_in_range_persistent_and_history_independent),
        cmocka_unit_test(test_profile_pv_statistics),
        cmocka_unit_test(test_profile_load_mean_matches_parameter),
        cmocka_unit_test(test_profile_weekend_factor),
        cmocka_unit_test(test_profile_csv_reads_values_with_header_and_comments),
        cmocka_unit_test(test_profile_csv_errors),
    };
    return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
