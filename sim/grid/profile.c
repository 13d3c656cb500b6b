/*
 * profile — solar geometry, the weather series, daily shapes and the per-slot draw.
 *
 * Daily shapes are 24 hourly factors, normalised at run time so each averages 1 over a day.
 * The slot's mean of a shape integrates the piecewise-constant hourly factors exactly, so slots
 * longer than an hour keep the daily energy right.
 */
#include "profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_cdf.h>

#include "core/rng.h"

/* Hourly weekday factors before normalisation. */
static const double shape_residential[24] = {0.50, 0.40, 0.35, 0.35, 0.35, 0.45, 0.80, 1.20,
                                             1.10, 0.90, 0.80, 0.80, 0.85, 0.80, 0.80, 0.90,
                                             1.10, 1.50, 1.90, 2.00, 1.80, 1.40, 1.00, 0.70};
static const double shape_office[24] = {0.20, 0.20, 0.20, 0.20, 0.20, 0.20, 0.30, 0.80,
                                        1.50, 1.70, 1.70, 1.70, 1.50, 1.70, 1.70, 1.60,
                                        1.40, 1.00, 0.50, 0.30, 0.25, 0.20, 0.20, 0.20};
static const double shape_device[24] = {0.40, 0.40, 0.40, 0.40, 0.40, 0.40, 0.60, 1.20,
                                        1.30, 1.30, 1.30, 1.30, 1.30, 1.30, 1.30, 1.30,
                                        1.30, 1.30, 1.40, 1.40, 1.40, 1.30, 1.00, 0.60};

static double shape_raw(int shape, int64_t shifts, int hour)
{
    switch (shape) {
    case CFG_SHAPE_RESIDENTIAL: return shape_residential[hour];
    case CFG_SHAPE_OFFICE: return shape_office[hour];
    case CFG_SHAPE_DEVICE: return shape_device[hour];
    case CFG_SHAPE_INDUSTRIAL: {
        /* Shifts of 8 h from 06:00: 06-14, 14-22, 22-06. Off-shift base 20%. */
        int since6 = (hour + 24 - 6) % 24;
        return since6 < 8 * shifts ? 1.0 : 0.2;
    }
    default: return 1.0;
    }
}

static double shape_norm(int shape, int64_t shifts)
{
    double sum = 0;
    for (int h = 0; h < 24; h++)
        sum += shape_raw(shape, shifts, h);
    return sum / 24.0;
}

double prof_shape_mean(int shape, int64_t shifts, double h0, double h1)
{
    double acc = 0, norm = shape_norm(shape, shifts);
    for (int h = (int)floor(h0); h < 24 && h < h1; h++) {
        double a = h0 > h ? h0 : h, b = h1 < h + 1 ? h1 : h + 1;
        if (b > a)
            acc += (b - a) * shape_raw(shape, shifts, h);
    }
    return acc / (h1 - h0) / norm;
}

double prof_clear_sky_ghi(double latitude_deg, int doy, double hour)
{
    const double deg = M_PI / 180.0;
    double decl = 23.45 * deg * sin(2.0 * M_PI * (284.0 + doy) / 365.0);
    double omega = 15.0 * deg * (hour - 12.0);
    double phi = latitude_deg * deg;
    double sin_alt = sin(phi) * sin(decl) + cos(phi) * cos(decl) * cos(omega);
    if (sin_alt <= 0.0)
        return 0.0;
    return 1098.0 * sin_alt * exp(-0.057 / sin_alt); /* Haurwitz (1945) */
}

struct prof_weather {
    int64_t first_day, last_day, slots_per_day;
    double *clearness;   /* per day */
    double *clear_sky;   /* per day and slot: kWh per kWp */
};

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

struct prof_weather *prof_weather_new(const struct cfg *cfg, int64_t first_day, int64_t last_day,
                                      struct err *e)
{
    struct prof_weather *w = calloc(1, sizeof *w);
    int64_t ndays = last_day - first_day + 1;
    int64_t S = 1440 / cfg->market.slot_minutes;
    double mu = cfg->weather.clearness_mean, sd = cfg->weather.clearness_sd;
    double phi = cfg->weather.clearness_persistence, innov = sd * sqrt(1.0 - phi * phi);
    double slot_h = (double)cfg->market.slot_minutes / 60.0;
    gsl_rng *fwd = NULL, *back = NULL;
    double latent;

    if (!w)
        goto oom;
    w->first_day = first_day;
    w->last_day = last_day;
    w->slots_per_day = S;
    w->clearness = malloc((size_t)ndays * sizeof *w->clearness);
    w->clear_sky = malloc((size_t)(ndays * S) * sizeof *w->clear_sky);
    fwd = rng_stream_new((uint64_t)cfg->scenario.seed, "weather", 0);
    back = rng_stream_new((uint64_t)cfg->scenario.seed, "weather.history", 0);
    if (!w->clearness || !w->clear_sky || !fwd || !back)
        goto oom;

    /* AR(1) on a latent value; a Gaussian AR(1) is time-reversible, so drawing the history
     * backwards from day 0 gives the same statistics as drawing it forwards. */
    latent = mu + sd * gsl_ran_gaussian_ziggurat(fwd, 1.0);
    {
        double day0 = latent;
        for (int64_t d = 0; d <= last_day; d++) {
            if (d > 0)
                latent = mu + phi * (latent - mu) + innov * gsl_ran_gaussian_ziggurat(fwd, 1.0);
            w->clearness[d - first_day] = clamp(latent, 0.05, 1.0);
        }
        latent = day0;
        for (int64_t d = -1; d >= first_day; d--) {
            latent = mu + phi * (latent - mu) + innov * gsl_ran_gaussian_ziggurat(back, 1.0);
            w->clearness[d - first_day] = clamp(latent, 0.05, 1.0);
        }
    }
    /* Clear-sky energy per slot: the mean of 5-minute samples across the slot. */
    for (int64_t d = first_day; d <= last_day; d++) {
        int doy = prof_day_of_year(cfg, d);
        for (int64_t k = 0; k < S; k++) {
            double acc = 0;
            int steps = (int)(cfg->market.slot_minutes / 5) > 0 ? (int)(cfg->market.slot_minutes / 5) : 1;
            for (int j = 0; j < steps; j++) {
                double h = (double)k * slot_h + (j + 0.5) * slot_h / steps;
                acc += prof_clear_sky_ghi(cfg->weather.latitude, doy, h);
            }
            w->clear_sky[(d - first_day) * S + k] = acc / steps / 1000.0 * slot_h;
        }
    }
    rng_free(fwd);
    rng_free(back);
    return w;
oom:
    rng_free(fwd);
    rng_free(back);
    prof_weather_free(w);
    err_set(e, ERR_NOMEM, "out of memory for %lld days of weather", (long long)ndays);
    return NULL;
}

void prof_weather_free(struct prof_weather *w)
{
    if (!w)
        return;
    free(w->clearness);
    free(w->clear_sky);
    free(w);
}

double prof_weather_clearness(const struct prof_weather *w, int64_t day)
{
    return w->clearness[day - w->first_day];
}

double prof_weather_clear_sky_kwh(const struct prof_weather *w, int64_t day, int64_t k)
{
    return w->clear_sky[(day - w->first_day) * w->slots_per_day + k];
}

double prof_ev_arrival_share(double mean_h, double h0, double dh)
{
    /* Wrapped normal: sum the mass of the interval shifted by whole days. */
    double p = 0;
    for (int wrap = -1; wrap <= 1; wrap++) {
        double a = h0 + 24.0 * wrap, b = a + dh;
        p += gsl_cdf_gaussian_P(b - mean_h, 2.0) - gsl_cdf_gaussian_P(a - mean_h, 2.0);
    }
    return p;
}

int prof_weekday(const struct cfg *cfg, int64_t day)
{
    return (int)(((cfg->weather.start_weekday + day) % 7 + 7) % 7);
}

int prof_day_of_year(const struct cfg *cfg, int64_t day)
{
    return (int)(((cfg->weather.start_day - 1 + day) % 365 + 365) % 365 + 1);
}

/* Lognormal factor with mean 1. */
static double unit_lognormal(gsl_rng *r, double sigma)
{
    if (sigma <= 0)
        return 1.0;
    return exp(sigma * gsl_ran_gaussian_ziggurat(r, 1.0) - 0.5 * sigma * sigma);
}

void prof_sample(const struct cfg_profile *p, const struct prof_slot *s, double cloud_sigma,
                 struct prof_state *st, gsl_rng *r, double *gen_kwh, double *load_kwh)
{
    double gen = 0, load;

    if (p->pv_kwp > 0 && s->pv_kwh_per_kwp > 0)
        gen = p->pv_kwp * s->pv_kwh_per_kwp * unit_lognormal(r, cloud_sigma);

    load = p->load_kwh_day * s->slot_hours / 24.0 * s->shape_mean *
           (s->weekend ? p->weekend_factor : 1.0) * unit_lognormal(r, p->load_sigma);

    if (p->burst_prob > 0 && gsl_rng_uniform(r) < p->burst_prob)
        load += gsl_ran_exponential(r, p->burst_kwh);

    if (p->ev_sessions_day > 0) {
        double lambda = p->ev_sessions_day * s->ev_share;
        unsigned arrivals = gsl_ran_poisson(r, lambda);
        for (unsigned i = 0; i < arrivals; i++)
            st->ev_remaining_kwh += p->ev_kwh * unit_lognormal(r, 0.3);
        if (st->ev_remaining_kwh > 0) {
            double c = p->ev_kw * s->slot_hours;
            if (c > st->ev_remaining_kwh)
                c = st->ev_remaining_kwh;
            st->ev_remaining_kwh -= c;
            load += c;
        }
    }
    *gen_kwh = gen;
    *load_kwh = load;
}
