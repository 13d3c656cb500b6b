/*
 * sim — assembly and main loop of one run.
 *
 * Components, in the order they are built: agents (sim/grid), the registry of identities
 * (sim/security; the MiM agent registered last), the market (sim/market), the chain (sim/chain,
 * with its mining backend), then the output file.  The run advances slot by slot: SLOT_START steps
 * the agents and opens the market, schedules the slot's ROUND events, its SLOT_END and the next
 * SLOT_START; market and chain schedule their own events (types 4-5 and 16-31).  The driver calls
 * eng_run_until() once per slot so it can report progress without any event of its own (extra
 * events would shift the insertion sequence and so the order of ties); a stop request is
 * honoured after the current event (the engine reads the flag), and during the agents' history.  The glue below turns each clearing's trades into signed chain transactions
 * and routes the chain's callbacks back to the market's tables.
 */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/grow.h"
#include "core/engine.h"
#include "core/pool.h"
#include "core/wallclock.h"
#include "grid/agents.h"
#include "io/h5.h"
#include "chain/chain.h"
#include "market/market.h"
#include "security/registry.h"

struct slot_row {
    int64_t slot;
    double t_start;
    double t_end;
    int32_t day;
    int32_t minute_of_day;
    int32_t rounds;
    int32_t sellers, buyers, idle;
    double generation_kwh, load_kwh, forecast_net_kwh, imbalance_kwh, abs_error_kwh, clearness;
    int32_t trades;
    double volume_kwh, mean_price, dispersion, efficiency, surplus, max_surplus;
    int32_t rounds_to_converge, messages, rejected;
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
    {"sellers", H5_COL_I32, offsetof(struct slot_row, sellers), 0, "",
     "agents whose forecast net is a surplus"},
    {"buyers", H5_COL_I32, offsetof(struct slot_row, buyers), 0, "",
     "agents whose forecast net is a deficit"},
    {"idle", H5_COL_I32, offsetof(struct slot_row, idle), 0, "", "agents neither buying nor selling"},
    {"generation_kwh", H5_COL_F64, offsetof(struct slot_row, generation_kwh), 0, "kWh",
     "realised generation of all agents"},
    {"load_kwh", H5_COL_F64, offsetof(struct slot_row, load_kwh), 0, "kWh",
     "realised load of all agents"},
    {"forecast_net_kwh", H5_COL_F64, offsetof(struct slot_row, forecast_net_kwh), 0, "kWh",
     "sum of the agents' forecast net energy"},
    {"imbalance_kwh", H5_COL_F64, offsetof(struct slot_row, imbalance_kwh), 0, "kWh",
     "sum of realised net - forecast net"},
    {"abs_forecast_error_kwh", H5_COL_F64, offsetof(struct slot_row, abs_error_kwh), 0, "kWh",
     "sum of |realised net - forecast net|"},
    {"clearness", H5_COL_F64, offsetof(struct slot_row, clearness), 0, "",
     "the day's clearness (fraction of clear-sky irradiance)"},
    {"trades", H5_COL_I32, offsetof(struct slot_row, trades), 0, "", "matched (seller, buyer) pairs"},
    {"volume_kwh", H5_COL_F64, offsetof(struct slot_row, volume_kwh), 0, "kWh", "energy traded"},
    {"mean_price", H5_COL_F64, offsetof(struct slot_row, mean_price), 0, "EUR/MWh",
     "volume-weighted mean trade price (NaN without trades)"},
    {"dispersion", H5_COL_F64, offsetof(struct slot_row, dispersion), 0, "EUR/MWh",
     "volume-weighted standard deviation of trade prices"},
    {"efficiency", H5_COL_F64, offsetof(struct slot_row, efficiency), 0, "",
     "realised surplus / maximum surplus the submitted limits allow (NaN when none possible)"},
    {"surplus", H5_COL_F64, offsetof(struct slot_row, surplus), 0, "EUR",
     "realised surplus: sum of kWh x (buyer max_bid - seller min_bid)"},
    {"max_surplus", H5_COL_F64, offsetof(struct slot_row, max_surplus), 0, "EUR",
     "competitive-equilibrium surplus of the submitted limits and quantities"},
    {"rounds_to_converge", H5_COL_I32, offsetof(struct slot_row, rounds_to_converge), 0, "",
     "first round after which the price moved less than market.price_epsilon (-1 no trades)"},
    {"messages", H5_COL_I32, offsetof(struct slot_row, messages), 0, "",
     "messages sent to the MiM agent, attacks included"},
    {"rejected", H5_COL_I32, offsetof(struct slot_row, rejected), 0, "",
     "messages the MiM agent's checks dropped"},
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* One signature of a clearing: group g's seller (party -1) or its buyer `party`. */
struct sign_item {
    uint32_t group;
    int32_t party;
};

struct sim_ctx {
    const struct cfg *cfg;
    struct eng *eng;
    struct h5_file *out;
    struct h5_table *slots;
    struct h5_table *agent_slots; /* NULL unless output.agent_slots */
    struct agent_pop *agents;
    struct id_registry *reg;
    struct mkt *market;
    struct chain *chain;
    int hook_rc;                  /* first failure inside a chain callback */
    uint64_t trades_rejected;     /* transactions the chain refused */
    struct pool *pool;            /* sim.threads workers: key generation, signing, verifying,
                                     mutual keys, message MACs, transaction wire forms */
    /* reusable buffers for turning a clearing's trades into signed chain transactions */
    size_t *order;
    struct chain_buyer *buyers;
    unsigned char *sigbuf;
    struct chain_trade *cts;      /* one per group */
    size_t *msg_off, *msg_len;    /* per group: its signing bytes in sigbuf */
    struct sign_item *items;      /* every signature of a clearing */
    size_t order_cap, buyers_cap, sigbuf_cap, cts_cap, off_cap, len_cap, items_cap;
    struct agent_slot_stats grid; /* the current slot's */
    struct mkt_summary msum;
    double total_gen, total_load, total_abs_err;
    double slot_seconds;
    int64_t n_slots;
    int64_t slot;        /* current slot index */
    int32_t slot_rounds; /* rounds run in the current slot */
    int64_t rounds;      /* rounds run in all */
};

static int on_slot_start(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct sim_ctx *s = vctx;
    int64_t rounds = s->cfg->market.rounds_per_slot;
    double t0 = ev->time;
    int rc;

    s->slot = (int64_t)ev->data.i64[0];
    s->slot_rounds = 0;
    agent_slot_step(s->agents, s->slot, &s->grid);
    s->total_gen += s->grid.generation_kwh;
    s->total_load += s->grid.load_kwh;
    s->total_abs_err += s->grid.abs_error_kwh;
    if (s->agent_slots) {
        rc = agent_slots_append(s->agents, s->slot, s->agent_slots, eng_err(eng));
        if (rc)
            return rc;
    }
    rc = mkt_slot_start(s->market, s->slot);
    if (rc)
        return rc;
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
    s->slot_rounds++;
    s->rounds++;
    return mkt_round(s->market, ev->data.i64[0], (int)ev->data.i64[1]);
}

static int on_slot_end(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct sim_ctx *s = vctx;
    struct slot_row row;
    struct mkt_slot_stats ms;
    int64_t slot = ev->data.i64[0];
    double t_start = (double)slot * s->slot_seconds;
    int rc = mkt_slot_end(s->market, slot, &ms);
    if (rc)
        return rc;

    row.slot = slot;
    row.t_start = t_start;
    row.t_end = ev->time;
    row.day = (int32_t)(t_start / 86400.0);
    row.minute_of_day = (int32_t)((t_start - 86400.0 * row.day) / 60.0 + 0.5);
    row.rounds = s->slot_rounds;
    row.sellers = s->grid.sellers;
    row.buyers = s->grid.buyers;
    row.idle = s->grid.idle;
    row.generation_kwh = s->grid.generation_kwh;
    row.load_kwh = s->grid.load_kwh;
    row.forecast_net_kwh = s->grid.forecast_net_kwh;
    row.imbalance_kwh = s->grid.imbalance_kwh;
    row.abs_error_kwh = s->grid.abs_error_kwh;
    row.clearness = s->grid.clearness;
    row.trades = ms.trades;
    row.volume_kwh = ms.volume_kwh;
    row.mean_price = ms.mean_price;
    row.dispersion = ms.dispersion;
    row.efficiency = ms.efficiency;
    row.surplus = ms.surplus;
    row.max_surplus = ms.max_surplus;
    row.rounds_to_converge = ms.rounds_to_converge;
    row.messages = ms.messages;
    row.rejected = ms.rejected;
    return h5_table_append(s->slots, &row, eng_err(eng));
}

/* ---- market -> chain: every transaction signed by its parties and submitted ------------------ */

/* A clearing's trades by transaction, then by trade id (qsort_r: the trades are the context). */
static int by_group(const void *a, const void *b, void *ctx)
{
    const struct mkt_trade *t = ctx;
    const struct mkt_trade *x = &t[*(const size_t *)a], *y = &t[*(const size_t *)b];
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* One chain transaction per market group: seller, price, its buyers.  Fills ct (buyers in
 * `buyers`) and writes its signing bytes at sigbuf + *off, advancing *off. */
static int build_group(struct sim_ctx *s, const struct mkt_trade *t, const size_t *idx, size_t n,
                       struct chain_trade *ct, struct chain_buyer *buyers, size_t *off,
                       size_t *len)
{
    memset(ct, 0, sizeof *ct);
    ct->trade_ref = t[idx[0]].group;
    ct->seller = t[idx[0]].seller;
    ct->price = t[idx[0]].price;
    ct->request_time = t[idx[0]].t_request;
    ct->agreement_time = t[idx[0]].t_agree;
    memcpy(ct->seller_pk, id_public_key(s->reg, t[idx[0]].seller), CHAIN_PK_LEN);
    for (size_t k = 0; k < n; k++) {
        const struct mkt_trade *x = &t[idx[k]];
        struct chain_buyer *b = &buyers[k];
        memset(b, 0, sizeof *b);
        b->agent = x->buyer;
        b->kwh = x->kwh;
        memcpy(b->pk, id_public_key(s->reg, x->buyer), CHAIN_PK_LEN);
        if (x->t_request < ct->request_time)
            ct->request_time = x->t_request; /* eRT: the earliest request among the buyers */
    }
    ct->n_buyers = n;
    ct->buyers = buyers;
    return chain_trade_signing_bytes(s->chain, ct, s->sigbuf + *off, s->sigbuf_cap - *off, len,
                                     eng_err(s->eng));
}

/* Pool task: one party signs its group's bytes (Ed25519 signing is a pure function of key and
 * bytes, so which thread signs changes nothing). */
static int sign_task(void *ctx, size_t i)
{
    struct sim_ctx *s = ctx;
    const struct sign_item *it = &s->items[i];
    struct chain_trade *ct = &s->cts[it->group];
    const unsigned char *msg = s->sigbuf + s->msg_off[it->group];
    size_t len = s->msg_len[it->group];
    if (it->party < 0)
        id_sign(s->reg, (uint32_t)ct->seller, msg, len, ct->seller_sig);
    else {
        struct chain_buyer *b = (struct chain_buyer *)&ct->buyers[it->party];
        id_sign(s->reg, (uint32_t)b->agent, msg, len, b->sig);
    }
    return 0;
}

/* A clearing's trades become one chain transaction per market group, in group order; every
 * party signs (on the pool), then the batch goes to the chain, which checks the signatures on
 * the pool and admits the transactions in order. */
static int on_round_trades(void *ctx, const struct mkt_trade *t, size_t n)
{
    struct sim_ctx *s = ctx;
    struct err *e;
    size_t start = 0, groups = 0, off = 0, items = 0;
    int rc;
    if (!s->chain || n == 0)
        return 0;
    e = eng_err(s->eng);
    if (grow_array(&s->order, &s->order_cap, n, sizeof *s->order))
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        s->order[k] = k;
    qsort_r(s->order, n, sizeof *s->order, by_group, (void *)t);
    for (size_t k = 1; k <= n; k++)
        if (k == n || t[s->order[k]].group != t[s->order[k - 1]].group)
            groups++;
    if (grow_array(&s->buyers, &s->buyers_cap, n, sizeof *s->buyers) ||
        grow_array(&s->cts, &s->cts_cap, groups, sizeof *s->cts) ||
        grow_array(&s->msg_off, &s->off_cap, groups, sizeof *s->msg_off) ||
        grow_array(&s->msg_len, &s->len_cap, groups, sizeof *s->msg_len) ||
        grow_array(&s->items, &s->items_cap, groups + n, sizeof *s->items) ||
        grow_array(&s->sigbuf, &s->sigbuf_cap,
             groups * CHAIN_TX_TRADE_FIXED + n * CHAIN_TX_TRADE_BUYER, 1))
        return err_set(e, ERR_NOMEM, "out of memory signing trades");
    groups = 0;
    for (size_t k = 1; k <= n; k++)
        if (k == n || t[s->order[k]].group != t[s->order[start]].group) {
            s->msg_off[groups] = off;
            rc = build_group(s, t, s->order + start, k - start, &s->cts[groups],
                             s->buyers + start, &off, &s->msg_len[groups]);
            if (rc)
                return rc;
            off += s->msg_len[groups];
            s->items[items++] = (struct sign_item){(uint32_t)groups, -1};
            for (size_t b = 0; b < k - start; b++)
                s->items[items++] = (struct sign_item){(uint32_t)groups, (int32_t)b};
            groups++;
            start = k;
        }
    pool_run(s->pool, items, sign_task, s, NULL);
    return chain_submit_trades(s->chain, s->cts, groups, e);
}

static void on_chain_security(void *ctx, double t, int64_t who, const char *kind,
                              const char *action, int detected)
{
    struct sim_ctx *s = ctx;
    if (mkt_security_log(s->market, t, who, kind, kind, action, detected) && !s->hook_rc)
        s->hook_rc = ERR_IO;
}

/* /trades stores the final main chain's inclusion (a reorg may still move a trade before it is
 * final), so the market hears of a trade's block only once it is final. */
static void on_trade_final(void *ctx, uint64_t ref, double t_included, int64_t height,
                           double t_confirmed)
{
    struct sim_ctx *s = ctx;
    mkt_group_included(s->market, ref, t_included, height);
    if (!isnan(t_confirmed))
        mkt_group_confirmed(s->market, ref, t_confirmed);
}

static void on_trade_rejected(void *ctx, uint64_t ref, double t, const char *reason)
{
    struct sim_ctx *s = ctx;
    (void)t, (void)reason; /* the chain logged it to /security already */
    s->trades_rejected++;
    mkt_group_rejected(s->market, ref);
}

static int on_chain_sign(void *ctx, int64_t agent, const unsigned char *msg, size_t len,
                         unsigned char sig[CHAIN_SIG_LEN])
{
    struct sim_ctx *s = ctx;
    if (agent < 0 || (size_t)agent >= agent_count(s->agents))
        return -1;
    id_sign(s->reg, (uint32_t)agent, msg, len, sig);
    return 0;
}

static void sim_release(struct sim_ctx *s)
{
    chain_free(s->chain);
    free(s->order);
    free(s->buyers);
    free(s->sigbuf);
    free(s->cts);
    free(s->msg_off);
    free(s->msg_len);
    free(s->items);
    mkt_free(s->market);
    id_registry_free(s->reg);
    eng_free(s->eng);
    agent_pop_free(s->agents);
    pool_free(s->pool);
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
        rc = h5_summary_f64(s->out, "generation_kwh", s->total_gen, "kWh", e);
    if (!rc)
        rc = h5_summary_f64(s->out, "load_kwh", s->total_load, "kWh", e);
    if (!rc)
        rc = h5_summary_f64(s->out, "abs_forecast_error_kwh", s->total_abs_err, "kWh", e);
    {
        const struct mkt_summary *m = &s->msum;
        const struct {
            const char *name;
            double v;
            const char *units;
        } f[] = {{"trades", (double)m->trades, ""},
                 {"traded_kwh", m->traded_kwh, "kWh"},
                 {"mean_price", m->mean_price, "EUR/MWh"},
                 {"final_price", m->final_price, "EUR/MWh"},
                 {"price_dispersion", m->mean_dispersion, "EUR/MWh"},
                 {"efficiency", m->efficiency, ""},
                 {"latency_request_agree_mean", m->lat_agree_mean, "s"},
                 {"latency_request_agree_p50", m->lat_agree_p50, "s"},
                 {"latency_request_agree_p95", m->lat_agree_p95, "s"},
                 {"latency_agree_include_mean", m->lat_include_mean, "s"},
                 {"latency_agree_include_p50", m->lat_include_p50, "s"},
                 {"latency_agree_include_p95", m->lat_include_p95, "s"},
                 {"latency_include_confirm_mean", m->lat_confirm_mean, "s"},
                 {"latency_include_confirm_p50", m->lat_confirm_p50, "s"},
                 {"latency_include_confirm_p95", m->lat_confirm_p95, "s"},
                 {"messages_sent", (double)m->messages_sent, ""},
                 {"messages_lost", (double)m->messages_lost, ""},
                 {"messages_late", (double)m->messages_late, ""},
                 {"messages_rejected", (double)m->messages_rejected, ""},
                 {"replies", (double)m->replies, ""},
                 {"attacks_injected", (double)m->attacks_injected, ""},
                 {"attacks_detected", (double)m->attacks_detected, ""},
                 {"attacks_lost", (double)m->attacks_lost, ""},
                 {"attacks_undetected", (double)m->attacks_undetected, ""},
                 {"honest_rejected", (double)m->honest_rejected, ""},
                 {"mutual_key_failures", (double)m->mutual_failures, ""}};
        for (size_t i = 0; !rc && i < sizeof f / sizeof f[0]; i++)
            rc = h5_summary_f64(s->out, f[i].name, f[i].v, f[i].units, e);
    }
    if (!rc)
        rc = h5_attr_f64(s->out, "wall_time_s", sum->wall_seconds, e);
    return rc;
}

int sim_run(const struct cfg *cfg, const struct sim_opts *opts, struct sim_summary *out,
            struct err *e)
{
    struct sim_ctx s;
    struct sim_summary sum;
    double wall0 = wallclock_now();
    int rc, interrupted = 0;
    char partial[4096] = "";

    memset(&s, 0, sizeof s);
    memset(&sum, 0, sizeof sum);
    s.cfg = cfg;
    s.slot_seconds = 60.0 * (double)cfg->market.slot_minutes;
    s.n_slots = (int64_t)(cfg->sim.days * 86400.0 / s.slot_seconds + 0.5);
    if (s.n_slots < 1)
        s.n_slots = 1;

    s.eng = eng_new(1024);
    if (!s.eng)
        return err_set(e, ERR_NOMEM, "out of memory creating the event engine");
    s.pool = pool_new(opts->threads > 0 ? opts->threads : (int)cfg->sim.threads, e);
    if (!s.pool) {
        eng_free(s.eng);
        return e->code;
    }
    s.out = h5_file_create(opts->output, e);
    if (!s.out) {
        rc = e->code;
        goto fail;
    }
    rc = h5_file_set_layout(s.out, (size_t)cfg->output.chunk_rows, (int)cfg->output.compression,
                            e);
    if (rc)
        goto fail;
    s.agents = agent_pop_new_stoppable(cfg, s.n_slots, opts->stop, e);
    if (!s.agents) {
        rc = e->code;
        goto fail;
    }
    {
        size_t n = agent_count(s.agents);
        const char **names = malloc((n + 1) * sizeof *names);
        if (!names) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            names[i] = agent_name(s.agents, i);
        names[n] = "MiM"; /* the market agent is registered last */
        _Static_assert(ID_MUTUAL_BESTOWED == 0 && ID_MUTUAL_KX == 1,
                       "security.mutual_key's choices are enum id_mutual_model in order");
        s.reg = id_registry_new_pool((uint64_t)cfg->scenario.seed, names, n + 1,
                                     (enum id_mutual_model)cfg->security.mutual_key, s.pool, e);
        free(names);
        if (!s.reg) {
            rc = e->code;
            goto fail;
        }
    }
    {
        struct mkt_hooks mh = {&s, on_round_trades};
        struct chain_hooks ch = {&s,
                                 on_chain_security,
                                 NULL,
                                 NULL,
                                 on_trade_rejected,
                                 on_chain_sign,
                                 on_trade_final,
                                 opts->stop};
        s.market = mkt_new(cfg, s.eng, s.agents, s.reg, &mh, e);
        if (!s.market) {
            rc = e->code;
            goto fail;
        }
        mkt_pool_set(s.market, s.pool);
        s.chain = chain_new(cfg, s.eng, &ch, e);
        if (!s.chain) {
            rc = e->code;
            goto fail;
        }
        chain_pool_set(s.chain, s.pool);
        for (size_t i = 0; i < agent_count(s.agents); i++) {
            rc = chain_wallet_register(s.chain, (int64_t)i, id_public_key(s.reg, (uint32_t)i), e);
            if (rc)
                goto fail;
        }
    }
    rc = write_metadata(&s, opts, e);
    if (!rc)
        rc = mkt_tables_open(s.market, s.out, e);
    if (!rc)
        rc = chain_tables_open(s.chain, s.out, e);

    if (rc)
        goto fail;
    if (cfg->output.agent_slots) {
        s.agent_slots = agent_slots_table_new(s.out, e);
        if (!s.agent_slots) {
            rc = e->code;
            goto fail;
        }
    }
    s.slots = h5_table_new(s.out, "slots", slot_cols, NCOLS(slot_cols), e);
    if (!s.slots) {
        rc = e->code;
        goto fail;
    }

    if (eng_handler_set(s.eng, SIM_EV_SLOT_START, on_slot_start, &s) ||
        eng_handler_set(s.eng, SIM_EV_ROUND, on_round, &s) ||
        eng_handler_set(s.eng, SIM_EV_SLOT_END, on_slot_end, &s)) {
        rc = err_set(e, ERR_RUNTIME, "%s", eng_err(s.eng)->msg);
        goto fail;
    }
    {
        union eng_payload p = {.i64 = {0}};
        rc = eng_schedule(s.eng, 0.0, SIM_EV_SLOT_START, 0, &p, NULL);
        if (rc) {
            err_set(e, rc, "%s", eng_err(s.eng)->msg);
            goto fail;
        }
    }
    /* A stop request ends the slot loop after the current event: a slot of a large population
     * takes seconds.  The partial file then ends inside that slot. */
    eng_stop_flag_set(s.eng, opts->stop);
    for (int64_t k = 0; k < s.n_slots; k++) {
        rc = eng_run_until(s.eng, (double)(k + 1) * s.slot_seconds);
        if (rc == ERR_INTERRUPTED && opts->stop && *opts->stop) {
            interrupted = 1;
            rc = 0;
            break;
        }
        if (!rc && s.hook_rc)
            rc = err_set(e, s.hook_rc, "writing a chain security event failed");
        if (rc) {
            err_set(e, rc, "at t=%.0f s: %s", eng_now(s.eng), eng_err(s.eng)->msg);
            goto fail;
        }
        if (opts->progress)
            opts->progress((double)(k + 1) / (double)s.n_slots, opts->progress_ctx);
        if (opts->stop && *opts->stop) {
            interrupted = 1;
            break;
        }
    }

    sum.agents = (int64_t)agent_count(s.agents);
    sum.generation_kwh = s.total_gen;
    sum.load_kwh = s.total_load;
    sum.slots = s.n_slots;
    sum.rounds = s.rounds;
    sum.events = eng_executed(s.eng);
    sum.sim_seconds = eng_now(s.eng);
    sum.wall_seconds = wallclock_now() - wall0;
    rc = chain_finish(s.chain, e);
    if (!rc)
        rc = agent_table_write(s.agents, s.out, e);
    if (!rc)
        rc = mkt_finish(s.market, &s.msum, e);
    if (rc)
        goto fail;
    sum.trades = s.msum.trades;
    sum.traded_kwh = s.msum.traded_kwh;
    sum.mean_price = s.msum.mean_price;
    sum.efficiency = s.msum.efficiency;
    sum.attacks_injected = s.msum.attacks_injected;
    sum.attacks_detected = s.msum.attacks_detected;
    sum.honest_rejected = s.msum.honest_rejected;
    snprintf(sum.mine_backend, sizeof sum.mine_backend, "%s", chain_backend_name(s.chain));
    snprintf(sum.mine_note, sizeof sum.mine_note, "%s", chain_mine_note(s.chain));
    rc = write_summary(&s, &sum, e);
    /* The backend as it ended the run (a failing OpenCL device hands over to the CPU). */
    if (!rc)
        rc = h5_attr_str(s.out, "mine_backend", chain_backend_name(s.chain), e);
    if (!rc)
        rc = h5_attr_str(s.out, "mine_device", chain_device_name(s.chain), e);
    if (!rc)
        rc = h5_attr_str(s.out, "mine_note", sum.mine_note, e);
    if (!rc)
        rc = chain_summary_write(s.chain, s.out, e);
    if (!rc)
        rc = h5_summary_f64(s.out, "trades_rejected_by_chain", (double)s.trades_rejected, "", e);
    if (rc)
        goto fail;
    /* Stopped by a signal: keep what was simulated, flushed, marked incomplete (beside a
     * finished file of the same name, never over it). */
    rc = interrupted ? h5_file_commit_partial(s.out, partial, sizeof partial, e)
                     : h5_file_commit(s.out, e);
    s.out = NULL;
    if (rc)
        goto fail;
    sim_release(&s);
    if (out)
        *out = sum;
    if (interrupted)
        return err_set(e, ERR_INTERRUPTED,
                       "stopped by a signal at t=%.0f s; partial output (complete = 0) in %s%s%s%s",
                       sum.sim_seconds, partial, strcmp(partial, opts->output) ? " (" : "",
                       strcmp(partial, opts->output) ? opts->output : "",
                       strcmp(partial, opts->output) ? " is an earlier finished run, kept)" : "");
    return 0;
fail:
    h5_file_abort(s.out);
    sim_release(&s);
    return rc;
}
