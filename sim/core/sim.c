/*
 * sim — assembly and main loop of one run.
 *
 * The run advances slot by slot: SLOT_START schedules the slot's ROUND events, its SLOT_END and
 * the next SLOT_START; the driver calls eng_run_until() once per slot so it can report progress
 * and honour a stop request between slots without any event of its own (extra events would shift
 * the insertion sequence and so the order of ties).
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine.h"
#include "io/h5.h"

struct agent_row {
    uint32_t id;
    char name[96];
    char group[CFG_NAME_MAX];
    char type[24];
    double min_bid;
    double max_bid;
    int32_t forecast_days;
};

static const struct h5_col agent_cols[] = {
    {"id", H5_COL_U32, offsetof(struct agent_row, id), 0, "", "agent id, 0-based, dense"},
    {"name", H5_COL_STR, offsetof(struct agent_row, name), sizeof(((struct agent_row *)0)->name),
     "", "agent name: GROUP, or GROUP-k for the k-th of a group of several"},
    {"group", H5_COL_STR, offsetof(struct agent_row, group),
     sizeof(((struct agent_row *)0)->group), "", "[agent.NAME] group the agent comes from"},
    {"type", H5_COL_STR, offsetof(struct agent_row, type), sizeof(((struct agent_row *)0)->type),
     "", "agent type (paper Table 1)"},
    {"min_bid", H5_COL_F64, offsetof(struct agent_row, min_bid), 0, "EUR/MWh",
     "buyer's opening bid, seller's floor"},
    {"max_bid", H5_COL_F64, offsetof(struct agent_row, max_bid), 0, "EUR/MWh",
     "buyer's ceiling, seller's opening ask"},
    {"forecast_days", H5_COL_I32, offsetof(struct agent_row, forecast_days), 0, "days",
     "days of history behind the agent's forecast"},
};

struct slot_row {
    int64_t slot;
    double t_start;
    double t_end;
    int32_t day;
    int32_t minute_of_day;
    int32_t rounds;
};

static const struct h5_col slot_cols[] = {
    {"slot", H5_COL_I64, offsetof(struct slot_row, slot), 0, "", "slot index from 0"},
    {"t_start", H5_COL_F64, offsetof(struct slot_row, t_start), 0, "s", "slot start, sim time"},
    {"t_end", H5_COL_F64, offsetof(struct slot_row, t_end), 0, "s", "slot end, sim time"},
    {"day", H5_COL_I32, offsetof(struct slot_row, day), 0, "days", "simulated day from 0"},
    {"minute_of_day", H5_COL_I32, offsetof(struct slot_row, minute_of_day), 0, "min",
     "slot start within its day"},
    {"rounds", H5_COL_I32, offsetof(struct slot_row, rounds), 0, "",
     "negotiation rounds cleared in the slot"},
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

struct sim_ctx {
    const struct cfg *cfg;
    struct eng *eng;
    struct h5_file *out;
    struct h5_table *slots;
    double slot_seconds;
    int64_t n_slots;
    int64_t slot;        /* current slot index */
    int32_t slot_rounds; /* rounds run in the current slot */
    int64_t rounds;      /* rounds run in all */
    struct err *e;
};

static int on_slot_start(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct sim_ctx *s = vctx;
    int64_t rounds = s->cfg->market.rounds_per_slot;
    double t0 = ev->time;
    int rc;

    s->slot = (int64_t)ev->data.i64[0];
    s->slot_rounds = 0;
    /* Rounds are spread evenly inside the slot, the last one before its end. */
    for (int64_t r = 0; r < rounds; r++) {
        union eng_payload p = {.i64 = {s->slot, r}};
        rc = eng_schedule(eng, t0 + s->slot_seconds * (double)(r + 1) / (double)(rounds + 1),
                          SIM_EV_ROUND, 0, &p, NULL);
        if (rc)
            return rc;
    }
    {
        union eng_payload p = {.i64 = {s->slot}};
        rc = eng_schedule(eng, t0 + s->slot_seconds, SIM_EV_SLOT_END, 0, &p, NULL);
        if (rc)
            return rc;
    }
    if (s->slot + 1 < s->n_slots) {
        union eng_payload p = {.i64 = {s->slot + 1}};
        rc = eng_schedule(eng, t0 + s->slot_seconds, SIM_EV_SLOT_START, 0, &p, NULL);
    }
    return rc;
}

static int on_round(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct sim_ctx *s = vctx;
    (void)eng;
    (void)ev;
    s->slot_rounds++;
    s->rounds++;
    return 0;
}

static int on_slot_end(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct sim_ctx *s = vctx;
    struct slot_row row;
    int64_t slot = ev->data.i64[0];
    double t_start = (double)slot * s->slot_seconds;
    (void)eng;

    row.slot = slot;
    row.t_start = t_start;
    row.t_end = ev->time;
    row.day = (int32_t)(t_start / 86400.0);
    row.minute_of_day = (int32_t)((t_start - 86400.0 * row.day) / 60.0 + 0.5);
    row.rounds = s->slot_rounds;
    return h5_table_append(s->slots, &row, eng_err(eng));
}

static int write_agents(struct sim_ctx *s, struct err *e)
{
    const struct cfg *cfg = s->cfg;
    struct h5_table *t = h5_table_new(s->out, "agents", agent_cols, NCOLS(agent_cols),
                                      (size_t)cfg->output.chunk_rows,
                                      (int)cfg->output.compression, e);
    uint32_t id = 0;
    if (!t)
        return e->code;
    for (size_t g = 0; g < cfg->n_agents; g++) {
        const struct cfg_agent *a = &cfg->agents[g];
        for (int64_t k = 0; k < a->count; k++) {
            struct agent_row row;
            int rc;
            memset(&row, 0, sizeof row);
            row.id = id++;
            if (a->count == 1)
                snprintf(row.name, sizeof row.name, "%s", a->name);
            else
                snprintf(row.name, sizeof row.name, "%s-%lld", a->name, (long long)k);
            snprintf(row.group, sizeof row.group, "%s", a->name);
            snprintf(row.type, sizeof row.type, "%s", cfg_agent_type_name(a->type));
            row.min_bid = a->min_bid;
            row.max_bid = a->max_bid;
            row.forecast_days = (int32_t)a->forecast_days;
            rc = h5_table_append(t, &row, e);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_metadata(struct sim_ctx *s, const struct sim_opts *opts, struct err *e)
{
    char *resolved = cfg_to_string(s->cfg);
    int rc;
    if (!resolved)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = h5_attr_str(s->out, "version", SETM_VERSION, e);
    if (!rc)
        rc = h5_attr_str(s->out, "scenario", resolved, e);
    if (!rc)
        rc = h5_attr_str(s->out, "scenario_name", s->cfg->scenario.name, e);
    if (!rc)
        rc = h5_attr_str(s->out, "scenario_file", opts->scenario_path ? opts->scenario_path : "",
                         e);
    if (!rc)
        rc = h5_attr_i64(s->out, "seed", s->cfg->scenario.seed, e);
    if (!rc)
        rc = h5_attr_i64(s->out, "complete", 0, e);
    free(resolved);
    return rc;
}

static int write_summary(struct sim_ctx *s, const struct sim_summary *sum, struct err *e)
{
    int rc = h5_summary_i64(s->out, "agents", sum->agents, "", e);
    if (!rc)
        rc = h5_summary_i64(s->out, "slots", sum->slots, "", e);
    if (!rc)
        rc = h5_summary_i64(s->out, "rounds", sum->rounds, "", e);
    if (!rc)
        rc = h5_summary_i64(s->out, "events", (int64_t)sum->events, "", e);
    if (!rc)
        rc = h5_summary_f64(s->out, "sim_seconds", sum->sim_seconds, "s", e);
    if (!rc)
        rc = h5_attr_f64(s->out, "wall_time_s", sum->wall_seconds, e);
    return rc;
}

int sim_run(const struct cfg *cfg, const struct sim_opts *opts, struct sim_summary *out,
            struct err *e)
{
    struct sim_ctx s;
    struct sim_summary sum;
    double wall0 = wall_now();
    int rc;

    memset(&s, 0, sizeof s);
    memset(&sum, 0, sizeof sum);
    s.cfg = cfg;
    s.e = e;
    s.slot_seconds = 60.0 * (double)cfg->market.slot_minutes;
    s.n_slots = (int64_t)(cfg->sim.days * 86400.0 / s.slot_seconds + 0.5);
    if (s.n_slots < 1)
        s.n_slots = 1;

    s.eng = eng_new(1024);
    if (!s.eng)
        return err_set(e, ERR_NOMEM, "out of memory creating the event engine");
    s.out = h5_file_create(opts->output, e);
    if (!s.out) {
        rc = e->code;
        goto fail;
    }
    rc = write_metadata(&s, opts, e);
    if (!rc)
        rc = write_agents(&s, e);
    if (rc)
        goto fail;
    s.slots = h5_table_new(s.out, "slots", slot_cols, NCOLS(slot_cols),
                           (size_t)cfg->output.chunk_rows, (int)cfg->output.compression, e);
    if (!s.slots) {
        rc = e->code;
        goto fail;
    }

    eng_handler_set(s.eng, SIM_EV_SLOT_START, on_slot_start, &s);
    eng_handler_set(s.eng, SIM_EV_ROUND, on_round, &s);
    eng_handler_set(s.eng, SIM_EV_SLOT_END, on_slot_end, &s);
    {
        union eng_payload p = {.i64 = {0}};
        rc = eng_schedule(s.eng, 0.0, SIM_EV_SLOT_START, 0, &p, NULL);
        if (rc) {
            err_set(e, rc, "%s", eng_err(s.eng)->msg);
            goto fail;
        }
    }
    for (int64_t k = 0; k < s.n_slots; k++) {
        rc = eng_run_until(s.eng, (double)(k + 1) * s.slot_seconds);
        if (rc) {
            err_set(e, rc, "at t=%.0f s: %s", eng_now(s.eng), eng_err(s.eng)->msg);
            goto fail;
        }
        if (opts->progress)
            opts->progress((double)(k + 1) / (double)s.n_slots, opts->progress_ctx);
        if (opts->stop && *opts->stop) {
            rc = err_set(e, ERR_INTERRUPTED, "stopped by a signal at t=%.0f s", eng_now(s.eng));
            goto fail;
        }
    }

    sum.agents = cfg_agent_total(cfg);
    sum.slots = s.n_slots;
    sum.rounds = s.rounds;
    sum.events = eng_executed(s.eng);
    sum.sim_seconds = eng_now(s.eng);
    sum.wall_seconds = wall_now() - wall0;
    rc = write_summary(&s, &sum, e);
    if (rc)
        goto fail;
    rc = h5_file_commit(s.out, e);
    s.out = NULL;
    if (rc)
        goto fail;
    eng_free(s.eng);
    if (out)
        *out = sum;
    return 0;
fail:
    h5_file_abort(s.out);
    eng_free(s.eng);
    return rc;
}
