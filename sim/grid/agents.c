/*
 * agents — population assembly and the per-slot step.
 *
 * Layout: fixed attributes in `struct agent_info` (one per agent, cold); the per-slot state the
 * step touches in parallel arrays (role, forecast, realised energies, EV state), so a slot is a
 * linear sweep.  History: agent i owns ring[ring_off[i] .. + forecast_days * S) holding its
 * realised net for each (day mod forecast_days, slot of day), and sums[i * S + k] holds the sum of
 * its column k — so the forecast is one division and the update two additions.
 */
#include "agents.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "core/rng.h"
#include "grid/csvprof.h"
#include "grid/profile.h"

#define MAX_HISTORY_FLOATS (1LL << 30) /* 4 GiB of history: beyond this, refuse */

struct agent_info {
    char name[96];
    char group[CFG_NAME_MAX]; /* "" for the [population] */
    int type;
    struct cfg_profile p;     /* resolved: no auto; spread applied to pv_kwp / load_kwh_day */
    const double *gen_csv;    /* per slot, or NULL for the model */
    const double *load_csv;
    const double *shape;      /* S slot means of its load shape */
    const double *ev_share;   /* S arrival shares, or NULL without EV */
    double total_gen, total_load, total_abs_err;
    int64_t seller_slots, buyer_slots;
};

struct agent_pop {
    const struct cfg *cfg;
    size_t n;
    int64_t S;       /* slots per day */
    int64_t n_slots; /* in the run */
    struct agent_info *info;
    struct rng_bank *streams;
    struct prof_weather *weather;
    /* per-slot state */
    signed char *role;
    double *forecast, *gen, *load;
    struct prof_state *state;
    /* history */
    float *ring;
    int64_t *ring_off;
    double *sums;
    /* shared tables */
    double *shape_tab;   /* CFG_NSHAPES x 3 shifts x S */
    double *ev_tab;      /* S per agent with EV, packed */
    double **csvs;       /* loaded CSV arrays, owned */
    size_t n_csvs;
};

/* ---- building ----------------------------------------------------------------------------- */

static double unit_lognormal(gsl_rng *r, double sigma)
{
    return sigma > 0 ? exp(sigma * gsl_ran_gaussian_ziggurat(r, 1.0) - 0.5 * sigma * sigma) : 1.0;
}

/* Per-agent spread of size and bids, from its own "population" stream. */
static void apply_spread(struct agent_info *a, double spread, double bid_spread, gsl_rng *r,
                         uint64_t seed)
{
    double m;
    rng_stream_reset(r, seed, "population", rng_name_id(a->name));
    m = unit_lognormal(r, spread);
    a->p.pv_kwp *= m;
    a->p.load_kwh_day *= m;
    if (bid_spread > 0) {
        double shift = (2.0 * gsl_rng_uniform(r) - 1.0) * bid_spread;
        if (a->p.min_bid + shift < 0)
            shift = -a->p.min_bid;
        a->p.min_bid += shift;
        a->p.max_bid += shift;
    }
}

/* Agents per type from shares by largest remainder (ties: lower type first). */
static void population_counts(const struct cfg *cfg, int64_t counts[CFG_AGENT_NTYPES])
{
    double total = 0, frac[CFG_AGENT_NTYPES];
    int64_t assigned = 0;
    for (int t = 0; t < CFG_AGENT_NTYPES; t++)
        total += cfg->population.share[t];
    for (int t = 0; t < CFG_AGENT_NTYPES; t++) {
        double exact = total > 0 ? (double)cfg->population.count * cfg->population.share[t] / total : 0;
        counts[t] = (int64_t)floor(exact);
        frac[t] = exact - (double)counts[t];
        assigned += counts[t];
    }
    while (assigned < cfg->population.count) {
        int best = 0;
        for (int t = 1; t < CFG_AGENT_NTYPES; t++)
            if (frac[t] > frac[best])
                best = t;
        counts[best]++;
        frac[best] = -1;
        assigned++;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int load_group_csvs(struct agent_pop *p, const struct cfg_agent *g, const double **gen,
                           const double **load, struct err *e)
{
    const char *paths[2] = {g->generation_csv, g->load_csv};
    const double **dst[2] = {gen, load};
    for (int j = 0; j < 2; j++) {
        double *v;
        int rc;
        *dst[j] = NULL;
        if (!paths[j][0])
            continue;
        rc = prof_csv_load(paths[j], p->n_slots, p->S, &v, e);
        if (rc)
            return err_wrap(e, rc, "[agent.%s] %s", g->name, j ? "load_csv" : "generation_csv");
        p->csvs[p->n_csvs++] = v;
        *dst[j] = v;
    }
    return 0;
}

static int build_roster(struct agent_pop *p, struct err *e)
{
    const struct cfg *cfg = p->cfg;
    int64_t counts[CFG_AGENT_NTYPES];
    size_t i = 0;
    gsl_rng *r = rng_stream_new(0, "population", 0);
    int rc = 0;

    if (!r)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t g = 0; g < cfg->n_agents; g++) {
        const struct cfg_agent *grp = &cfg->agents[g];
        const double *gen_csv, *load_csv;
        struct cfg_profile prof;
        rc = load_group_csvs(p, grp, &gen_csv, &load_csv, e);
        if (rc)
            goto out;
        cfg_agent_resolve(cfg, grp, &prof);
        for (int64_t k = 0; k < grp->count; k++, i++) {
            struct agent_info *a = &p->info[i];
            if (grp->count == 1)
                snprintf(a->name, sizeof a->name, "%s", grp->name);
            else
                snprintf(a->name, sizeof a->name, "%s-%lld", grp->name, (long long)k);
            snprintf(a->group, sizeof a->group, "%s", grp->name);
            a->type = grp->type;
            a->p = prof;
            a->gen_csv = gen_csv;
            a->load_csv = load_csv;
            apply_spread(a, grp->spread, 0.0, r, (uint64_t)cfg->scenario.seed);
        }
    }
    population_counts(cfg, counts);
    for (int t = 0; t < CFG_AGENT_NTYPES; t++)
        for (int64_t k = 0; k < counts[t]; k++, i++) {
            struct agent_info *a = &p->info[i];
            snprintf(a->name, sizeof a->name, "pop-%s-%lld", cfg_agent_type_name(t), (long long)k);
            a->type = t;
            a->p = cfg->types[t];
            apply_spread(a, cfg->population.spread, cfg->population.bid_spread, r,
                         (uint64_t)cfg->scenario.seed);
        }
out:
    rng_free(r);
    return rc;
}

static int check_unique_names(struct agent_pop *p, uint64_t *ids, struct err *e)
{
    uint64_t *sorted = malloc(p->n * sizeof *sorted);
    int rc = 0;
    if (!sorted)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(sorted, ids, p->n * sizeof *sorted);
    qsort(sorted, p->n, sizeof *sorted, cmp_u64);
    for (size_t i = 1; i < p->n; i++)
        if (sorted[i] == sorted[i - 1]) {
            for (size_t a = 0; a < p->n; a++)
                if (ids[a] == sorted[i]) {
                    rc = err_set(e, ERR_CONFIG,
                                 "two agents are named '%s' (agent names key their random "
                                 "streams and must be unique)",
                                 p->info[a].name);
                    break;
                }
            break;
        }
    free(sorted);
    return rc;
}

/* Draw one agent's slot and fold it into its history; returns the realised net. */
static double draw_and_record(struct agent_pop *p, size_t i, int64_t day, int64_t k,
                              int64_t csv_slot, struct prof_state *st, gsl_rng *r,
                              double *gen_out, double *load_out)
{
    struct agent_info *a = &p->info[i];
    struct prof_slot s;
    double gen, load, net, *sum;
    int64_t fd = a->p.forecast_days;
    float *cell;

    s.slot_hours = (double)p->cfg->market.slot_minutes / 60.0;
    s.weekend = prof_weekday(p->cfg, day) >= 5;
    s.pv_kwh_per_kwp = prof_weather_clearness(p->weather, day) *
                       prof_weather_clear_sky_kwh(p->weather, day, k);
    s.shape_mean = a->shape[k];
    s.ev_share = a->ev_share ? a->ev_share[k] : 0.0;
    prof_sample(&a->p, &s, p->cfg->weather.cloud_sigma, st, r, &gen, &load);
    if (a->gen_csv)
        gen = a->gen_csv[csv_slot];
    if (a->load_csv)
        load = a->load_csv[csv_slot];
    net = gen - load;
    cell = &p->ring[p->ring_off[i] + ((day % fd + fd) % fd) * p->S + k];
    sum = &p->sums[i * (size_t)p->S + (size_t)k];
    *sum += net - (double)*cell;
    *cell = (float)net;
    *gen_out = gen;
    *load_out = load;
    return net;
}

static int build_history(struct agent_pop *p, const uint64_t *ids,
                         const volatile sig_atomic_t *stop, struct err *e)
{
    struct rng_bank *hist = rng_bank_new_ids((uint64_t)p->cfg->scenario.seed, "grid.history", ids,
                                             p->n);
    if (!hist)
        return err_set(e, ERR_NOMEM, "out of memory for history streams");
    for (size_t i = 0; i < p->n; i++) {
        struct prof_state st = {0};
        gsl_rng *r = rng_bank_get(hist, i);
        int64_t fd = p->info[i].p.forecast_days;
        for (int64_t d = -fd; d < 0; d++) {
            if (stop && *stop) { /* one agent-day is microseconds: checked often enough */
                rng_bank_free(hist);
                return err_set(e, ERR_INTERRUPTED,
                               "stopped by a signal while drawing the agents' forecast history "
                               "(agent %zu of %zu); nothing was simulated",
                               i + 1, p->n);
            }
            for (int64_t k = 0; k < p->S; k++) {
                double g, l;
                /* A CSV agent's history is its first day, repeated. */
                draw_and_record(p, i, d, k, k, &st, r, &g, &l);
            }
        }
    }
    rng_bank_free(hist);
    return 0;
}

struct agent_pop *agent_pop_new(const struct cfg *cfg, int64_t n_slots, struct err *e)
{
    return agent_pop_new_stoppable(cfg, n_slots, NULL, e);
}

struct agent_pop *agent_pop_new_stoppable(const struct cfg *cfg, int64_t n_slots,
                                          const volatile sig_atomic_t *stop, struct err *e)
{
    struct agent_pop *p = calloc(1, sizeof *p);
    uint64_t *ids = NULL;
    int64_t max_fd = 0, ring_total = 0, ev_agents = 0;
    double slot_h = (double)cfg->market.slot_minutes / 60.0;
    int rc;

    if (!p)
        goto oom;
    p->cfg = cfg;
    p->S = 1440 / cfg->market.slot_minutes;
    p->n_slots = n_slots;
    p->n = (size_t)cfg_agent_total(cfg);
    p->info = calloc(p->n ? p->n : 1, sizeof *p->info);
    p->csvs = calloc(2 * cfg->n_agents + 1, sizeof *p->csvs);
    p->role = calloc(p->n + 1, sizeof *p->role);
    p->forecast = calloc(p->n + 1, sizeof *p->forecast);
    p->gen = calloc(p->n + 1, sizeof *p->gen);
    p->load = calloc(p->n + 1, sizeof *p->load);
    p->state = calloc(p->n + 1, sizeof *p->state);
    p->ring_off = calloc(p->n + 1, sizeof *p->ring_off);
    p->sums = calloc(p->n * (size_t)p->S + 1, sizeof *p->sums);
    ids = calloc(p->n + 1, sizeof *ids);
    p->shape_tab = malloc((size_t)(CFG_NSHAPES * 3 * p->S) * sizeof *p->shape_tab);
    if (!p->info || !p->csvs || !p->role || !p->forecast || !p->gen || !p->load || !p->state ||
        !p->ring_off || !p->sums || !ids || !p->shape_tab)
        goto oom;

    rc = build_roster(p, e);
    if (rc)
        goto fail;
    for (size_t i = 0; i < p->n; i++)
        ids[i] = rng_name_id(p->info[i].name);
    rc = check_unique_names(p, ids, e);
    if (rc)
        goto fail;

    /* Shape table: every (shape, shifts) over every slot of the day. */
    for (int sh = 0; sh < CFG_NSHAPES; sh++)
        for (int shifts = 1; shifts <= 3; shifts++)
            for (int64_t k = 0; k < p->S; k++)
                p->shape_tab[((size_t)sh * 3 + (size_t)(shifts - 1)) * (size_t)p->S + (size_t)k] =
                    prof_shape_mean(sh, shifts, (double)k * slot_h, (double)(k + 1) * slot_h);

    for (size_t i = 0; i < p->n; i++) {
        struct agent_info *a = &p->info[i];
        a->shape = &p->shape_tab[((size_t)a->p.load_shape * 3 + (size_t)(a->p.shifts - 1)) *
                                 (size_t)p->S];
        if (a->p.forecast_days > max_fd)
            max_fd = a->p.forecast_days;
        p->ring_off[i] = ring_total;
        ring_total += a->p.forecast_days * p->S;
        if (a->p.ev_sessions_day > 0)
            ev_agents++;
    }
    if (ring_total > MAX_HISTORY_FLOATS) {
        rc = err_set(e, ERR_CONFIG,
                     "forecast history of all agents needs %lld values (%.1f GiB); reduce agents "
                     "or forecast_days",
                     (long long)ring_total, (double)ring_total * 4 / (1 << 30));
        goto fail;
    }
    p->ring = calloc((size_t)ring_total + 1, sizeof *p->ring);
    p->ev_tab = malloc((size_t)(ev_agents * p->S + 1) * sizeof *p->ev_tab);
    if (!p->ring || !p->ev_tab)
        goto oom;
    ev_agents = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct agent_info *a = &p->info[i];
        if (a->p.ev_sessions_day <= 0)
            continue;
        a->ev_share = &p->ev_tab[ev_agents++ * p->S];
        for (int64_t k = 0; k < p->S; k++)
            p->ev_tab[(ev_agents - 1) * p->S + k] =
                prof_ev_arrival_share(a->p.ev_arrival_h, (double)k * slot_h, slot_h);
    }

    p->weather = prof_weather_new(cfg, -max_fd, (n_slots + p->S - 1) / p->S, e);
    if (!p->weather) {
        rc = e ? e->code : ERR_NOMEM;
        goto fail;
    }
    p->streams = rng_bank_new_ids((uint64_t)cfg->scenario.seed, "grid.agent", ids, p->n);
    if (!p->streams)
        goto oom;
    rc = build_history(p, ids, stop, e);
    if (rc)
        goto fail;
    free(ids);
    return p;
oom:
    err_set(e, ERR_NOMEM, "out of memory building %zu agents", p ? p->n : (size_t)0);
fail:
    free(ids);
    agent_pop_free(p);
    return NULL;
}

void agent_pop_free(struct agent_pop *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_csvs; i++)
        free(p->csvs[i]);
    free(p->csvs);
    free(p->info);
    rng_bank_free(p->streams);
    prof_weather_free(p->weather);
    free(p->role);
    free(p->forecast);
    free(p->gen);
    free(p->load);
    free(p->state);
    free(p->ring);
    free(p->ring_off);
    free(p->sums);
    free(p->shape_tab);
    free(p->ev_tab);
    free(p);
}

/* ---- the slot ----------------------------------------------------------------------------- */

size_t agent_count(const struct agent_pop *p) { return p->n; }

void agent_slot_step(struct agent_pop *p, int64_t slot, struct agent_slot_stats *out)
{
    int64_t day = slot / p->S, k = slot % p->S;
    double idle = p->cfg->grid.idle_kwh;
    memset(out, 0, sizeof *out);
    out->clearness = prof_weather_clearness(p->weather, day);
    for (size_t i = 0; i < p->n; i++) {
        struct agent_info *a = &p->info[i];
        double fc = p->sums[i * (size_t)p->S + (size_t)k] / (double)a->p.forecast_days;
        double g, l, net, err;
        net = draw_and_record(p, i, day, k, slot, &p->state[i], rng_bank_get(p->streams, i), &g,
                              &l);
        err = net - fc;
        p->forecast[i] = fc;
        p->gen[i] = g;
        p->load[i] = l;
        p->role[i] = fc > idle ? AGENT_SELLER : fc < -idle ? AGENT_BUYER : AGENT_IDLE;
        a->total_gen += g;
        a->total_load += l;
        a->total_abs_err += fabs(err);
        out->generation_kwh += g;
        out->load_kwh += l;
        out->forecast_net_kwh += fc;
        out->imbalance_kwh += err;
        out->abs_error_kwh += fabs(err);
        if (p->role[i] == AGENT_SELLER) {
            out->sellers++;
            a->seller_slots++;
        } else if (p->role[i] == AGENT_BUYER) {
            out->buyers++;
            a->buyer_slots++;
        } else {
            out->idle++;
        }
    }
}

int agent_role(const struct agent_pop *p, size_t i) { return p->role[i]; }
double agent_forecast_kwh(const struct agent_pop *p, size_t i) { return p->forecast[i]; }
double agent_generation_kwh(const struct agent_pop *p, size_t i) { return p->gen[i]; }
double agent_load_kwh(const struct agent_pop *p, size_t i) { return p->load[i]; }
const char *agent_name(const struct agent_pop *p, size_t i) { return p->info[i].name; }
int agent_type(const struct agent_pop *p, size_t i) { return p->info[i].type; }
double agent_min_bid(const struct agent_pop *p, size_t i) { return p->info[i].p.min_bid; }
double agent_max_bid(const struct agent_pop *p, size_t i) { return p->info[i].p.max_bid; }

/* ---- output ------------------------------------------------------------------------------- */

struct agent_row {
    uint32_t id;
    char name[96];
    char group[CFG_NAME_MAX];
    char type[24];
    double min_bid, max_bid;
    int32_t forecast_days;
    double pv_kwp, load_kwh_day;
    char generation_source[8], load_source[8];
    double generation_kwh, load_kwh, abs_imbalance_kwh;
    int64_t seller_slots, buyer_slots;
};

#define AR(f) offsetof(struct agent_row, f)
#define ARS(f) sizeof(((struct agent_row *)0)->f)
static const struct h5_col agent_cols[] = {
    {"id", H5_COL_U32, AR(id), 0, "", "agent id, dense from 0"},
    {"name", H5_COL_STR, AR(name), ARS(name), "", "GROUP, GROUP-k, or pop-TYPE-k"},
    {"group", H5_COL_STR, AR(group), ARS(group), "", "[agent.NAME] group; empty for [population]"},
    {"type", H5_COL_STR, AR(type), ARS(type), "", "agent type (paper Table 1)"},
    {"min_bid", H5_COL_F64, AR(min_bid), 0, "EUR/MWh", "buyer's opening bid, seller's floor"},
    {"max_bid", H5_COL_F64, AR(max_bid), 0, "EUR/MWh", "buyer's ceiling, seller's opening ask"},
    {"forecast_days", H5_COL_I32, AR(forecast_days), 0, "days", "history behind the forecast"},
    {"pv_kwp", H5_COL_F64, AR(pv_kwp), 0, "kW", "PV peak power, after the spread"},
    {"load_kwh_day", H5_COL_F64, AR(load_kwh_day), 0, "kWh/day", "mean base load, after the spread"},
    {"generation_source", H5_COL_STR, AR(generation_source), ARS(generation_source), "",
     "model or csv"},
    {"load_source", H5_COL_STR, AR(load_source), ARS(load_source), "", "model or csv"},
    {"generation_kwh", H5_COL_F64, AR(generation_kwh), 0, "kWh", "realised generation, whole run"},
    {"load_kwh", H5_COL_F64, AR(load_kwh), 0, "kWh", "realised load, whole run"},
    {"abs_imbalance_kwh", H5_COL_F64, AR(abs_imbalance_kwh), 0, "kWh",
     "sum over slots of |realised net - forecast net|"},
    {"seller_slots", H5_COL_I64, AR(seller_slots), 0, "", "slots in which the agent sold"},
    {"buyer_slots", H5_COL_I64, AR(buyer_slots), 0, "", "slots in which the agent bought"},
};

int agent_table_write(const struct agent_pop *p, struct h5_file *f, struct err *e)
{
    struct h5_table *t =
        h5_table_new(f, "agents", agent_cols, sizeof agent_cols / sizeof agent_cols[0], e);
    if (!t)
        return e ? e->code : ERR_IO;
    for (size_t i = 0; i < p->n; i++) {
        const struct agent_info *a = &p->info[i];
        struct agent_row row;
        int rc;
        memset(&row, 0, sizeof row);
        row.id = (uint32_t)i;
        memcpy(row.name, a->name, sizeof row.name);
        memcpy(row.group, a->group, sizeof row.group);
        snprintf(row.type, sizeof row.type, "%s", cfg_agent_type_name(a->type));
        row.min_bid = a->p.min_bid;
        row.max_bid = a->p.max_bid;
        row.forecast_days = (int32_t)a->p.forecast_days;
        row.pv_kwp = a->p.pv_kwp;
        row.load_kwh_day = a->p.load_kwh_day;
        snprintf(row.generation_source, sizeof row.generation_source, "%s",
                 a->gen_csv ? "csv" : "model");
        snprintf(row.load_source, sizeof row.load_source, "%s", a->load_csv ? "csv" : "model");
        row.generation_kwh = a->total_gen;
        row.load_kwh = a->total_load;
        row.abs_imbalance_kwh = a->total_abs_err;
        row.seller_slots = a->seller_slots;
        row.buyer_slots = a->buyer_slots;
        rc = h5_table_append(t, &row, e);
        if (rc)
            return rc;
    }
    return 0;
}

struct agent_slot_row {
    int64_t slot;
    uint32_t agent;
    int32_t role;
    double generation_kwh, load_kwh, forecast_kwh;
};

#define SR(f) offsetof(struct agent_slot_row, f)
static const struct h5_col agent_slot_cols[] = {
    {"slot", H5_COL_I64, SR(slot), 0, "", "slot index"},
    {"agent", H5_COL_U32, SR(agent), 0, "", "agent id (/agents/id)"},
    {"role", H5_COL_I32, SR(role), 0, "", "1 seller, -1 buyer, 0 idle"},
    {"generation_kwh", H5_COL_F64, SR(generation_kwh), 0, "kWh", "realised generation"},
    {"load_kwh", H5_COL_F64, SR(load_kwh), 0, "kWh", "realised load"},
    {"forecast_kwh", H5_COL_F64, SR(forecast_kwh), 0, "kWh", "forecast net energy (offer if > 0)"},
};

struct h5_table *agent_slots_table_new(struct h5_file *f, struct err *e)
{
    return h5_table_new(f, "agent_slots", agent_slot_cols,
                        sizeof agent_slot_cols / sizeof agent_slot_cols[0], e);
}

int agent_slots_append(const struct agent_pop *p, int64_t slot, struct h5_table *t,
                       struct err *e)
{
    for (size_t i = 0; i < p->n; i++) {
        struct agent_slot_row row = {slot, (uint32_t)i, p->role[i], p->gen[i], p->load[i],
                                     p->forecast[i]};
        int rc = h5_table_append(t, &row, e);
        if (rc)
            return rc;
    }
    return 0;
}
