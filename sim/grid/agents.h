/*
 * agents — the prosumer population: who the agents are, what each generates and consumes in
 * every slot, what it forecasts, and whether it sells, buys or sits out.
 *
 * Agents come from the scenario's [agent.NAME] groups (in order; GROUP, or GROUP-k when a group
 * has several) and then its [population] (named pop-TYPE-k).  Ids are dense, in that order.
 * Each agent draws from its own streams keyed by its name — (seed, "grid.agent", name) for its
 * profile, (seed, "grid.history", name) for the history before the run, (seed, "population",
 * name) for its parameter spread — so adding or removing other agents never changes its draws.
 *
 * Forecast: for slot k of a day, the mean of the agent's realised net energy (generation - load)
 * in slot k over its last forecast_days days.  The history before day 0 is drawn from the same
 * model (for a CSV profile: its first day, repeated).  The forecast is what the agent offers or
 * asks for; the realised value differs, and that imbalance is logged.
 *
 * Role per slot: seller when the forecast net exceeds grid.idle_kwh, buyer when it is below
 * -grid.idle_kwh, idle otherwise — so a prosumer switches role slot by slot.
 *
 * Cost: agent_slot_step is O(agents) with no allocation; memory is O(agents x slots per day) for
 * the forecast sums plus O(sum of forecast_days x slots per day) floats of history.
 */
#ifndef SETM_GRID_AGENTS_H
#define SETM_GRID_AGENTS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "io/h5.h"

enum agent_role { AGENT_BUYER = -1, AGENT_IDLE = 0, AGENT_SELLER = 1 };

/* Totals over all agents for one slot (the /slots row's grid columns). */
struct agent_slot_stats {
    double generation_kwh;   /* realised */
    double load_kwh;         /* realised */
    double forecast_net_kwh; /* sum of forecasts (what was offered minus asked) */
    double imbalance_kwh;    /* sum of realised net - forecast */
    double abs_error_kwh;    /* sum of |realised net - forecast| */
    double clearness;        /* the day's clearness */
    int32_t sellers, buyers, idle;
};

struct agent_pop;

/* Build the population of `cfg` (validated) for a run of `n_slots` slots: resolve presets,
 * spreads and bids, load CSV profiles, draw the weather and every agent's history.
 * Returns NULL with `e` filled: ERR_NOTFOUND / ERR_FORMAT for a CSV profile (naming the file and
 * the agent group), ERR_CONFIG when the agents' forecast history would not fit in memory or two
 * agents share a name, ERR_NOMEM. */
struct agent_pop *agent_pop_new(const struct cfg *cfg, int64_t n_slots, struct err *e);

/* The same, but gives up with ERR_INTERRUPTED (nothing left built) soon after *stop becomes
 * non-zero: drawing the history of many agents with long forecast windows takes minutes, and a
 * stop request must not wait for it.  `stop` may be NULL. */
struct agent_pop *agent_pop_new_stoppable(const struct cfg *cfg, int64_t n_slots,
                                          const volatile sig_atomic_t *stop, struct err *e);
void agent_pop_free(struct agent_pop *p);

size_t agent_count(const struct agent_pop *p);

/* Advance every agent into slot `slot` (0, 1, 2... in order): forecast, draw the realised
 * generation and load, update history, choose the role.  Fills *out. */
void agent_slot_step(struct agent_pop *p, int64_t slot, struct agent_slot_stats *out);

/* Per-agent values of the current slot (after agent_slot_step). */
int agent_role(const struct agent_pop *p, size_t i);
double agent_forecast_kwh(const struct agent_pop *p, size_t i);   /* forecast net */
double agent_generation_kwh(const struct agent_pop *p, size_t i); /* realised */
double agent_load_kwh(const struct agent_pop *p, size_t i);       /* realised */

/* Fixed attributes. */
const char *agent_name(const struct agent_pop *p, size_t i);
int agent_type(const struct agent_pop *p, size_t i);
double agent_min_bid(const struct agent_pop *p, size_t i); /* EUR/MWh */
double agent_max_bid(const struct agent_pop *p, size_t i); /* EUR/MWh */

/* Write /agents (attributes and run totals).  0 or the writer's error. */
int agent_table_write(const struct agent_pop *p, struct h5_file *f, struct err *e);

/* Append the current slot's /agent_slots rows to `t` (created with agent_slots_table_new). */
struct h5_table *agent_slots_table_new(struct h5_file *f, struct err *e);
int agent_slots_append(const struct agent_pop *p, int64_t slot, struct h5_table *t,
                       struct err *e);

#endif
