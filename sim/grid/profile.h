/*
 * profile — the stochastic generation and load models of one agent, slot by slot.
 *
 *  - PV: clear-sky irradiance (solar geometry from latitude and day of year, Haurwitz's clear-sky
 *    model), averaged over the slot, times the neighbourhood's daily clearness (an AR(1) process
 *    with day-to-day persistence, shared by all agents), times a per-installation lognormal
 *    factor with mean 1 (`weather.cloud_sigma`).  Zero when the sun is below the horizon.
 *  - Base load: load_kwh_day spread over the day by a daily shape whose weekday mean is 1,
 *    times weekend_factor on Saturday and Sunday, times lognormal noise with mean 1.
 *  - Bursts: with probability burst_prob a slot adds an exponential burst of mean burst_kwh.
 *  - EV charging: sessions arrive as a Poisson process (ev_sessions_day per day, arrival times
 *    normal around ev_arrival_h with sd 2 h), each bringing a lognormal energy (mean ev_kwh,
 *    sigma 0.3) that charges at ev_kw until delivered.
 *
 * Expected daily energies: base load = load_kwh_day on weekdays; bursts add
 * burst_prob * burst_kwh per slot; EV adds ev_sessions_day * ev_kwh.
 *
 * Time: simulated second 0 is midnight (local solar time) of day 0; day d has day of year
 * (start_day - 1 + d) mod 365 + 1 and weekday (start_weekday + d) mod 7 (0 = Monday).
 */
#ifndef SETM_GRID_PROFILE_H
#define SETM_GRID_PROFILE_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

#include "core/config.h"
#include "core/err.h"

/* The neighbourhood's weather and clear-sky table over days [first_day, last_day]. */
struct prof_weather;

/* Build the daily clearness series and per-slot clear-sky PV table for days first_day..last_day
 * (first_day <= 0 <= last_day; negative days are history before the run).  Days 0.. are drawn
 * forward from stream (seed, "weather", 0); days before 0 backward from (seed, "weather.history",
 * 0), so the run's weather does not depend on how much history agents ask for.
 * Returns NULL with `e` filled (ERR_NOMEM). */
struct prof_weather *prof_weather_new(const struct cfg *cfg, int64_t first_day, int64_t last_day,
                                      struct err *e);
void prof_weather_free(struct prof_weather *w);

/* Daily clearness in [0.05, 1] of day `day` (first_day <= day <= last_day). */
double prof_weather_clearness(const struct prof_weather *w, int64_t day);

/* kWh per kWp of PV in slot k of day `day` under a clear sky (no clearness, no noise). */
double prof_weather_clear_sky_kwh(const struct prof_weather *w, int64_t day, int64_t k);

/* Clear-sky global horizontal irradiance, W/m^2, at `hour` (solar time) of day-of-year `doy`. */
double prof_clear_sky_ghi(double latitude_deg, int doy, double hour);

/* Mean of the daily shape over [h0, h1) hours of a day (0 <= h0 < h1 <= 24); a shape's mean over
 * a whole day is 1.  `shifts` is used by the industrial shape. */
double prof_shape_mean(int shape, int64_t shifts, double h0, double h1);

/* Per-agent model state that persists between slots (EV energy still to charge). */
struct prof_state {
    double ev_remaining_kwh;
};

/* What one draw needs to know about the slot, for one agent (the caller precomputes the
 * tables these come from; see agents.c). */
struct prof_slot {
    double slot_hours;
    int weekend;            /* Saturday or Sunday */
    double pv_kwh_per_kwp;  /* clearness x clear-sky kWh per kWp in the slot */
    double shape_mean;      /* prof_shape_mean of the agent's shape over the slot */
    double ev_share;        /* prof_ev_arrival_share of the agent's arrival time for the slot */
};

/* Weekday (0 = Monday) and day of year (1..365) of simulated day `day` (may be negative). */
int prof_weekday(const struct cfg *cfg, int64_t day);
int prof_day_of_year(const struct cfg *cfg, int64_t day);

/* Share of a day's sessions arriving in [h0, h0 + dh) for arrivals normal around mean_h, sd 2 h,
 * wrapped to the day. */
double prof_ev_arrival_share(double mean_h, double h0, double dh);

/* Draw one slot: generation and load (kWh) of an agent with parameters `p` (no "auto" left),
 * updating its state.  Draws only from `r`. */
void prof_sample(const struct cfg_profile *p, const struct prof_slot *s, double cloud_sigma,
                 struct prof_state *st, gsl_rng *r, double *gen_kwh, double *load_kwh);

#endif
