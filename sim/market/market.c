/*
 * market — see market.h for the protocol.  Notes on the state kept here:
 *
 *  - Agents' side (what the agent knows): side, remaining kWh, current price, strategy state,
 *    next sequence number, the time of its first request in the slot, and the bytes of the last
 *    message it sent (which a replay attack resends).
 *  - MiM side (what the MiM agent learned from accepted messages only): last accepted sequence
 *    number per identity, and the standing order per agent (kWh, price, arrival number).
 *  - `active` lists the agents trading this slot, so rounds cost O(active), not O(agents).
 *  - Messages in flight live in a pool indexed by the event payload; the pool's `attack` field is
 *    for logging only — the MiM's decisions read the wire bytes alone.
 *  - MACs are computed and checked in batches on the worker pool (both are pure functions of a
 *    message's bytes and the registry's keys): a handler builds all the messages it sends, seals
 *    them in one batch, then sends them in order; a message's MAC check (the recipient's
 *    authentication check of the bytes in flight, which nothing changes after net_send) runs in
 *    one batch with every other unchecked message before the next arrival or reply is handled,
 *    and the handler reads its verdict.  Every random draw, event and table row happens in the
 *    same order as one message at a time, so results do not depend on the number of threads.
 *
 * Size (~1,200 lines, over the ~900 the README's design notes allow): the agents' side, the
 * MiM's side and the attacks act on one struct mkt inside the event handlers; the sections
 * (tables, network, sending with attacks, trades, the double auction, arrival, slots and rounds,
 * life cycle) are where a split behind an internal header, as sim/chain has, would cut.
 */
#include "market.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/grow.h"
#include "core/pool.h"

#include "core/rng.h"
#include "market/clear.h"
#include "market/strategy.h"
#include "security/message.h"

enum attack_kind {
    ATK_NONE = -1,
    ATK_UNREGISTERED,
    ATK_FORGED_MAC,
    ATK_TAMPER,
    ATK_REPLAY,
    ATK_IMPERSONATION,
    ATK_N
};

static const char *const attack_names[ATK_N] = {"unregistered", "forged_mac", "tampered", "replay",
                                                "impersonation"};

struct pool_msg {
    unsigned char wire[MSG_WIRE_BYTES];
    int8_t attack;  /* enum attack_kind, for /security only */
    uint8_t mac_ok; /* decodes, and its MAC is right under the claimed sender's key (check_macs) */
    uint32_t to;    /* recipient agent of a REPLY */
    uint32_t next;  /* free list */
};

struct book_order {
    double kwh, price;
    uint64_t seq; /* arrival number: time priority */
};

struct trade_rec {
    struct mkt_trade t;
    double t_included, t_confirmed;
    int64_t height;
    uint64_t next_in_group; /* next trade of the same transaction, UINT64_MAX at the end */
    int resolved;           /* confirmed or rejected by the chain: its row can be written */
};

/* Streaming histogram of latencies: 1-second bins up to LAT_MAX_S, then one overflow bin, so
 * percentiles cost constant memory however long the run. */
#define LAT_MAX_S 172800
struct lat_hist {
    uint32_t *bins; /* LAT_MAX_S + 1 */
    uint64_t n;
    double sum;
};

struct security_row {
    double t;
    int64_t agent;
    char check[32];  /* wide enough for every chain outcome ("confirmed_block_reverted"...) */
    char attack[32];
    char action[32];
    int32_t detected;
};

struct round_row {
    int64_t slot;
    int32_t round;
    double t;
    int32_t bids, asks;
    double best_bid, best_ask, price, volume_kwh;
    int32_t trades;
    double dispersion;
};

struct mkt {
    const struct cfg *cfg;
    struct eng *eng;
    struct agent_pop *agents;
    struct id_registry *reg;
    struct mkt_hooks hooks;
    size_t n;
    uint32_t mim; /* the MiM agent's identity */
    int mech, rounds;

    /* agent side */
    int8_t *side;
    double *remaining, *price, *open_kwh;
    int *strategy;
    double range_lo, range_hi; /* zi_u's bounds: the lowest min_bid and highest max_bid of all */
    struct mkt_strat_state *strat;
    uint64_t *seq_next;
    double *t_request;
    unsigned char (*last_wire)[MSG_WIRE_BYTES];
    uint8_t *has_last;
    uint8_t *traded;
    int32_t *seller_matches; /* matches of a seller this slot (for the Initial/Update case) */

    /* MiM side */
    uint64_t *last_seq; /* per identity 0..n (MiM last) */
    struct book_order *book;
    uint64_t arrivals;
    uint32_t *active;
    size_t n_active;
    int64_t slot;
    struct mkt_cda *cda;
    uint64_t mim_seq;

    /* clearing */
    struct mkt_clear_ws *ws;
    struct mkt_order *bids, *asks;
    struct mkt_trade *round_buf;
    size_t round_cap, round_len;
    struct pool *workers;    /* borrowed (mkt_pool_set); NULL = confirm in the caller */
    struct confirm_slot *cf; /* per round_buf entry: the mutual-key check's outcome */
    size_t cf_cap;
    struct mkt_market_view view;
    double prices[1024]; /* this slot's per-round prices, for convergence */
    struct mkt_slot_stats slot_stats;
    double slot_value, slot_value2; /* sum kwh*price, kwh*price^2 */

    /* streams */
    gsl_rng *net, *atk, *clr;
    struct rng_bank *strat_rng;

    /* pool */
    struct pool_msg *pool;
    size_t pool_cap;
    uint32_t pool_free;
    uint32_t *unchecked; /* messages in flight whose mac_ok is not computed yet */
    size_t n_unchecked, unchecked_cap;
    struct msg *outbox;  /* one handler's messages, sealed in one batch before they are sent */
    uint32_t *out_agent; /* sender (order) or recipient (reply) of outbox[k] */
    size_t outbox_cap;

    /* records */
    /* Trades in flight: ids [flushed, n_trades) are kept until the chain resolves them, then
     * written to /trades in id order, so memory follows the trades in flight, not the run. */
    struct trade_rec *trades; /* trades[id - trade_base] */
    uint64_t n_trades, flushed, trade_base;
    size_t trades_cap;
    uint64_t groups;
    /* transactions in flight, indexed by group - group_base */
    uint64_t *group_head, *group_tail; /* first and last trade of each transaction */
    uint32_t *group_count;             /* trades in each transaction */
    uint64_t group_base;
    struct h5_table *t_trades;
    struct lat_hist lat_agree, lat_include, lat_confirm;
    double value_sum; /* sum of kWh x price over written trades */
    int write_rc; /* first failure writing /trades from inside a chain callback */
    uint64_t clearing;                 /* clearings so far */
    uint64_t *cur_clearing, *cur_group; /* per seller: its open transaction in that clearing */
    double *cur_price;
    size_t group_cap;
    struct h5_table *t_rounds, *t_security;
    struct mkt_summary sum;
    double slot_max_surplus_total, slot_surplus_total, dispersion_sum;
    int64_t dispersion_slots;
    struct err *e; /* the engine's, for handlers */
};

#define NO_MSG UINT32_MAX

/* ---- tables -------------------------------------------------------------------------------- */

#define SEC(f) offsetof(struct security_row, f)
static const struct h5_col security_cols[] = {
    {"t", H5_COL_F64, SEC(t), 0, "s", "simulated time of the event"},
    {"agent", H5_COL_I64, SEC(agent), 0, "", "identity the message claimed (or node), -1 none"},
    {"check", H5_COL_STR, SEC(check), 32, "",
     "check that failed (identification, authentication, protocol, replay, malformed, ...) "
     "or 'passed'"},
    {"attack", H5_COL_STR, SEC(attack), 32, "", "injected attack, or 'none' for honest traffic"},
    {"action", H5_COL_STR, SEC(action), 32, "",
     "dropped, accepted, lost, rejected, or the chain's outcome (tx_rejected, rejected:RULE...)"},
    {"detected", H5_COL_I32, SEC(detected), 0, "", "1 when an attack was caught"},
};

#define RR(f) offsetof(struct round_row, f)
static const struct h5_col round_cols[] = {
    {"slot", H5_COL_I64, RR(slot), 0, "", "slot index"},
    {"round", H5_COL_I32, RR(round), 0, "", "round within the slot, from 0"},
    {"t", H5_COL_F64, RR(t), 0, "s", "time of the clearing"},
    {"bids", H5_COL_I32, RR(bids), 0, "", "standing buy orders"},
    {"asks", H5_COL_I32, RR(asks), 0, "", "standing sell orders"},
    {"best_bid", H5_COL_F64, RR(best_bid), 0, "EUR/MWh", "highest bid before clearing (NaN none)"},
    {"best_ask", H5_COL_F64, RR(best_ask), 0, "EUR/MWh", "lowest ask before clearing (NaN none)"},
    {"price", H5_COL_F64, RR(price), 0, "EUR/MWh",
     "clearing price: uniform (pay_as_clear) or volume-weighted mean; NaN without trades"},
    {"volume_kwh", H5_COL_F64, RR(volume_kwh), 0, "kWh", "energy matched"},
    {"trades", H5_COL_I32, RR(trades), 0, "", "matched (seller, buyer) pairs"},
    {"dispersion", H5_COL_F64, RR(dispersion), 0, "EUR/MWh",
     "volume-weighted standard deviation of the round's trade prices"},
};

struct trade_row {
    uint64_t id, group;
    int64_t slot;
    int32_t round, tx_case;
    uint32_t seller, buyer;
    double kwh, price, t_request, t_agree, t_included, t_confirmed;
    int64_t height;
};

#define TR(f) offsetof(struct trade_row, f)
static const struct h5_col trade_cols[] = {
    {"id", H5_COL_U64, TR(id), 0, "", "trade id, dense from 0"},
    {"group", H5_COL_U64, TR(group), 0, "",
     "transaction: a seller's matches at one price in one clearing (the chain's trade_ref)"},
    {"slot", H5_COL_I64, TR(slot), 0, "", "slot index"},
    {"round", H5_COL_I32, TR(round), 0, "", "round of the match; -1 for a cda match on arrival"},
    {"tx_case", H5_COL_I32, TR(tx_case), 0, "",
     "paper's transaction case: 0 Initial (seller's first buyer in the slot), 1 Update"},
    {"seller", H5_COL_U32, TR(seller), 0, "", "seller agent id"},
    {"buyer", H5_COL_U32, TR(buyer), 0, "", "buyer agent id"},
    {"kwh", H5_COL_F64, TR(kwh), 0, "kWh", "energy traded"},
    {"price", H5_COL_F64, TR(price), 0, "EUR/MWh", "price agreed"},
    {"t_request", H5_COL_F64, TR(t_request), 0, "s", "eRT: the buyer's first request of the slot"},
    {"t_agree", H5_COL_F64, TR(t_agree), 0, "s", "AT: when the MiM agent matched the pair"},
    {"t_included", H5_COL_F64, TR(t_included), 0, "s",
     "when the transaction entered the main chain (NaN if never)"},
    {"t_confirmed", H5_COL_F64, TR(t_confirmed), 0, "s",
     "when it reached chain.confirmations blocks (NaN if never)"},
    {"height", H5_COL_I64, TR(height), 0, "", "block height of inclusion, -1 if none"},
};

int mkt_security_log(struct mkt *m, double t, int64_t who, const char *check, const char *attack,
                     const char *action, int detected)
{
    struct security_row row;
    memset(&row, 0, sizeof row);
    row.t = t;
    row.agent = who;
    snprintf(row.check, sizeof row.check, "%s", check);
    snprintf(row.attack, sizeof row.attack, "%s", attack);
    snprintf(row.action, sizeof row.action, "%s", action);
    row.detected = detected;
    return m->t_security ? h5_table_append(m->t_security, &row, m->e) : 0;
}

int mkt_tables_open(struct mkt *m, struct h5_file *f, struct err *e)
{
    m->t_rounds = h5_table_new(f, "rounds", round_cols, sizeof round_cols / sizeof round_cols[0], e);
    if (!m->t_rounds)
        return e->code;
    m->t_security = h5_table_new(f, "security", security_cols,
                                 sizeof security_cols / sizeof security_cols[0], e);
    if (!m->t_security)
        return e->code;
    m->t_trades = h5_table_new(f, "trades", trade_cols, sizeof trade_cols / sizeof trade_cols[0], e);
    return m->t_trades ? 0 : e->code;
}

/* ---- network ------------------------------------------------------------------------------- */

static double net_delay(struct mkt *m, gsl_rng *r)
{
    double mean = m->cfg->network.delay_mean_s, s = m->cfg->network.delay_sigma;
    switch (m->cfg->network.delay) {
    case 0: return mean;
    case 1: return rng_exponential(r, mean);
    default:
        if (mean <= 0)
            return 0;
        return exp(log(mean) - 0.5 * s * s + s * gsl_ran_gaussian_ziggurat(r, 1.0));
    }
}

static uint32_t pool_get(struct mkt *m)
{
    uint32_t i;
    if (m->pool_free == NO_MSG) {
        const size_t old = m->pool_cap;
        if (grow_array(&m->pool, &m->pool_cap, old + 1, sizeof *m->pool))
            return NO_MSG;
        for (size_t k = m->pool_cap; k-- > old;) { /* new slots free, lowest first */
            m->pool[k].next = m->pool_free;
            m->pool_free = (uint32_t)k;
        }
    }
    i = m->pool_free;
    m->pool_free = m->pool[i].next;
    return i;
}

static void pool_put(struct mkt *m, uint32_t i)
{
    m->pool[i].next = m->pool_free;
    m->pool_free = i;
}

/* Put bytes on the network toward the MiM (type ARRIVE) or an agent (REPLY).  Injected messages
 * draw their delay and loss from the attacker's stream, so honest traffic sees exactly the same
 * network whether or not attacks are injected. */
static int net_send(struct mkt *m, const unsigned char *wire, int attack, uint32_t type,
                    uint32_t to)
{
    uint32_t i;
    union eng_payload p;
    gsl_rng *r = attack == ATK_NONE ? m->net : m->atk;
    int lost = m->cfg->network.loss > 0 && gsl_rng_uniform(r) < m->cfg->network.loss;
    double delay = net_delay(m, r);
    if (type == MKT_EV_ARRIVE) {
        m->sum.messages_sent++;
        m->slot_stats.messages++;
        if (attack != ATK_NONE)
            m->sum.attacks_injected++;
    }
    if (lost) {
        if (type == MKT_EV_ARRIVE)
            m->sum.messages_lost++;
        if (attack != ATK_NONE) {
            m->sum.attacks_lost++;
            return mkt_security_log(m, eng_now(m->eng), -1, "network", attack_names[attack],
                                    "lost", 0);
        }
        return 0;
    }
    i = pool_get(m);
    if (i == NO_MSG ||
        grow_array(&m->unchecked, &m->unchecked_cap, m->n_unchecked + 1, sizeof *m->unchecked))
        return err_set(m->e, ERR_NOMEM, "out of memory for messages in flight");
    m->unchecked[m->n_unchecked++] = i;
    memcpy(m->pool[i].wire, wire, MSG_WIRE_BYTES);
    m->pool[i].attack = (int8_t)attack;
    m->pool[i].to = to;
    memset(&p, 0, sizeof p);
    p.u32[0] = i;
    return eng_schedule_in(m->eng, delay, type, to, &p, NULL);
}

/* ---- MACs in batches ---------------------------------------------------------------------- */

/* Batches smaller than this run in the caller: waking a worker costs more than a few MACs. */
#define MAC_BATCH_MIN 32

static int seal_task(void *ctx, size_t k)
{
    struct mkt *m = ctx;
    msg_seal(&m->outbox[k], m->reg);
    return 0;
}

/* MAC outbox[0..n) under each sender's key (msg_seal), on the pool. */
static void seal_outbox(struct mkt *m, size_t n)
{
    if (m->workers && n >= MAC_BATCH_MIN)
        pool_run(m->workers, n, seal_task, m, NULL);
    else
        for (size_t k = 0; k < n; k++)
            seal_task(m, k);
}

static int check_task(void *ctx, size_t k)
{
    struct mkt *m = ctx;
    struct pool_msg *pm = &m->pool[m->unchecked[k]];
    struct msg msg;
    pm->mac_ok = msg_decode(pm->wire, MSG_WIRE_BYTES, &msg, NULL) == 0 &&
                 id_mac_verify(m->reg, msg.sender, pm->wire, MSG_BODY_BYTES, msg.mac);
    return 0;
}

/* The MAC verdict of every message sent since the last batch, on the pool. */
static void check_macs(struct mkt *m)
{
    if (m->workers && m->n_unchecked >= MAC_BATCH_MIN)
        pool_run(m->workers, m->n_unchecked, check_task, m, NULL);
    else
        for (size_t k = 0; k < m->n_unchecked; k++)
            check_task(m, k);
    m->n_unchecked = 0;
}

/* Room for n messages in the outbox. */
static int outbox_reserve(struct mkt *m, size_t n)
{
    size_t cap = m->outbox_cap;
    if (grow_array(&m->outbox, &cap, n, sizeof *m->outbox) ||
        grow_array(&m->out_agent, &(size_t){m->outbox_cap}, n, sizeof *m->out_agent))
        return err_set(m->e, ERR_NOMEM, "out of memory for outgoing messages");
    m->outbox_cap = cap;
    return 0;
}

/* ---- sending orders, with attacks --------------------------------------------------------- */

/* The bounds an agent's strategy prices within: its own limits, except zi_u (Gode & Sunder's
 * unconstrained traders), which bids and asks over the whole market's price range. */
static double strat_lo(const struct mkt *m, uint32_t a)
{
    return m->strategy[a] == MKT_ZIU ? m->range_lo : agent_min_bid(m->agents, a);
}

static double strat_hi(const struct mkt *m, uint32_t a)
{
    return m->strategy[a] == MKT_ZIU ? m->range_hi : agent_max_bid(m->agents, a);
}

/* Agent a's order for this round as it stands (unsealed); takes its next sequence number. */
static void order_msg(struct mkt *m, uint32_t a, int round, struct msg *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->kind = m->side[a] > 0 ? MSG_SHARE : MSG_REQUEST;
    msg->sender = a;
    msg->seq = m->seq_next[a]++;
    msg->slot = m->slot;
    msg->round = (uint32_t)round;
    msg->kwh = m->remaining[a];
    msg->price = m->price[a];
}

/* Send agent a's sealed order (order_msg, then seal_outbox), with the attacks it draws. */
static int send_order(struct mkt *m, uint32_t a, const struct msg *sealed)
{
    struct msg msg = *sealed;
    unsigned char wire[MSG_WIRE_BYTES], copy[MSG_WIRE_BYTES];
    const struct cfg *c = m->cfg;
    int rc, tampered = 0;

    msg_encode(&msg, wire);

    /* Tampering in transit replaces the honest message with an altered copy. */
    if (c->attacks.tamper_rate > 0 && gsl_rng_uniform(m->atk) < c->attacks.tamper_rate) {
        struct msg t = msg;
        if (gsl_rng_uniform(m->atk) < 0.5)
            t.price = msg.price * 0.8; /* cheaper for the attacker */
        else
            t.kwh = msg.kwh * 1.5;
        msg_encode(&t, copy); /* the MAC stays the honest one */
        rc = net_send(m, copy, ATK_TAMPER, MKT_EV_ARRIVE, m->mim);
        tampered = 1;
    } else {
        rc = net_send(m, wire, ATK_NONE, MKT_EV_ARRIVE, m->mim);
    }
    if (rc)
        return rc;
    if (c->attacks.replay_rate > 0 && m->has_last[a] &&
        gsl_rng_uniform(m->atk) < c->attacks.replay_rate) {
        rc = net_send(m, m->last_wire[a], ATK_REPLAY, MKT_EV_ARRIVE, m->mim);
        if (rc)
            return rc;
    }
    if (c->attacks.forged_mac_rate > 0 && gsl_rng_uniform(m->atk) < c->attacks.forged_mac_rate) {
        struct msg f = msg;
        f.seq = msg.seq + 1; /* fresh, so only the MAC can stop it */
        f.price = msg.price * 0.5;
        rng_fill(m->atk, f.mac, ID_MAC_BYTES);
        msg_encode(&f, copy);
        rc = net_send(m, copy, ATK_FORGED_MAC, MKT_EV_ARRIVE, m->mim);
        if (rc)
            return rc;
    }
    if (c->attacks.impersonation_rate > 0 && m->n > 1 &&
        gsl_rng_uniform(m->atk) < c->attacks.impersonation_rate) {
        struct msg f = msg;
        uint32_t victim = (uint32_t)rng_below(m->atk, m->n - 1);
        if (victim >= a)
            victim++;
        f.sender = victim;
        f.seq = (1ULL << 62) + msg.seq; /* far ahead of the victim's sequence */
        msg_encode(&f, copy);
        id_mac(m->reg, a, copy, MSG_BODY_BYTES, f.mac); /* the attacker's own key */
        msg_encode(&f, copy);
        rc = net_send(m, copy, ATK_IMPERSONATION, MKT_EV_ARRIVE, m->mim);
        if (rc)
            return rc;
    }
    if (c->attacks.unregistered_rate > 0 &&
        gsl_rng_uniform(m->atk) < c->attacks.unregistered_rate) {
        struct msg f = msg;
        unsigned char key[ID_KEY_BYTES];
        f.sender = m->mim + 1 + (uint32_t)rng_below(m->atk, 1000000);
        rng_fill(m->atk, key, ID_KEY_BYTES);
        msg_encode(&f, copy);
        id_mac_with(key, copy, MSG_BODY_BYTES, f.mac);
        msg_encode(&f, copy);
        rc = net_send(m, copy, ATK_UNREGISTERED, MKT_EV_ARRIVE, m->mim);
        if (rc)
            return rc;
    }
    if (!tampered) {
        memcpy(m->last_wire[a], wire, MSG_WIRE_BYTES);
        m->has_last[a] = 1;
    }
    return 0;
}

/* The MiM agent's reply (unsealed); takes the MiM's next sequence number. */
static void reply_msg(struct mkt *m, double kwh, double price, int round, struct msg *r)
{
    memset(r, 0, sizeof *r);
    r->kind = MSG_REPLY;
    r->sender = m->mim;
    r->seq = ++m->mim_seq;
    r->slot = m->slot;
    r->round = (uint32_t)(round < 0 ? 0 : round);
    r->kwh = kwh;
    r->price = price;
}

static int send_reply(struct mkt *m, uint32_t to, const struct msg *sealed)
{
    unsigned char wire[MSG_WIRE_BYTES];
    msg_encode(sealed, wire);
    return net_send(m, wire, ATK_NONE, MKT_EV_REPLY, to);
}

/* ---- trades -------------------------------------------------------------------------------- */

/* Room for trade `id` in the window; compacts away written trades first. */
static int trades_reserve(struct mkt *m, uint64_t id)
{
    if (id - m->trade_base < m->trades_cap)
        return 0;
    if (m->flushed > m->trade_base) { /* drop what is written */
        size_t keep = (size_t)(m->n_trades - m->flushed);
        memmove(m->trades, m->trades + (m->flushed - m->trade_base), keep * sizeof *m->trades);
        m->trade_base = m->flushed;
    }
    if (grow_array(&m->trades, &m->trades_cap, (size_t)(id - m->trade_base) + 1,
                   sizeof *m->trades))
        return ERR_NOMEM;
    return 0;
}

/* Room for transaction `group`; transactions older than every trade in flight are dropped. */
static int groups_reserve(struct mkt *m, uint64_t group)
{
    if (group - m->group_base < m->group_cap)
        return 0;
    {
        uint64_t lowest = group;
        size_t keep;
        for (uint64_t id = m->flushed; id < m->n_trades; id++)
            if (m->trades[id - m->trade_base].t.group < lowest)
                lowest = m->trades[id - m->trade_base].t.group;
        if (lowest > m->group_base) {
            /* Move the live entries [lowest, end) down; `end` stops at the capacity, since the
             * group being reserved (and any after it) was never stored. */
            uint64_t end = m->group_base + m->group_cap;
            if (m->groups < end)
                end = m->groups;
            keep = end > lowest ? (size_t)(end - lowest) : 0;
            memmove(m->group_head, m->group_head + (lowest - m->group_base), keep * sizeof(uint64_t));
            memmove(m->group_tail, m->group_tail + (lowest - m->group_base), keep * sizeof(uint64_t));
            memmove(m->group_count, m->group_count + (lowest - m->group_base), keep * sizeof(uint32_t));
            for (size_t k = keep; k < m->group_cap; k++) {
                m->group_head[k] = m->group_tail[k] = UINT64_MAX;
                m->group_count[k] = 0;
            }
            m->group_base = lowest;
        }
    }
    if (group - m->group_base >= m->group_cap) {
        const size_t need = (size_t)(group - m->group_base) + 1;
        size_t cap = m->group_cap; /* parallel arrays: each grows to the same new capacity */
        if (grow_array(&m->group_head, &cap, need, sizeof *m->group_head) ||
            grow_array(&m->group_tail, &(size_t){m->group_cap}, need, sizeof *m->group_tail) ||
            grow_array(&m->group_count, &(size_t){m->group_cap}, need, sizeof *m->group_count))
            return ERR_NOMEM;
        for (size_t k = m->group_cap; k < cap; k++) {
            m->group_head[k] = m->group_tail[k] = UINT64_MAX;
            m->group_count[k] = 0;
        }
        m->group_cap = cap;
    }
    return 0;
}

static struct trade_rec *trade_at(struct mkt *m, uint64_t id) { return &m->trades[id - m->trade_base]; }

static int record_match(struct mkt *m, uint32_t seller, uint32_t buyer, double kwh, double price,
                        int round, uint64_t group)
{
    struct mkt_trade t;
    struct trade_rec *r;
    size_t g;
    if (trades_reserve(m, m->n_trades) || groups_reserve(m, group))
        return err_set(m->e, ERR_NOMEM, "out of memory for trades");
    if (grow_array(&m->round_buf, &m->round_cap, m->round_len + 1, sizeof *m->round_buf))
        return err_set(m->e, ERR_NOMEM, "out of memory for trades");
    t.id = m->n_trades;
    t.group = group;
    t.slot = m->slot;
    t.round = round;
    t.seller = seller;
    t.buyer = buyer;
    t.kwh = kwh;
    t.price = price;
    t.t_request = m->t_request[buyer];
    t.t_agree = eng_now(m->eng);
    t.tx_case = m->seller_matches[seller]++ == 0 ? 0 : 1;
    r = trade_at(m, t.id);
    r->t = t;
    r->t_included = NAN;
    r->t_confirmed = NAN;
    r->height = -1;
    r->next_in_group = UINT64_MAX;
    r->resolved = 0;
    g = (size_t)(group - m->group_base);
    if (m->group_head[g] == UINT64_MAX)
        m->group_head[g] = t.id;
    else
        trade_at(m, m->group_tail[g])->next_in_group = t.id;
    m->group_tail[g] = t.id;
    m->group_count[g]++;
    m->n_trades++;
    m->round_buf[m->round_len++] = t;
    m->remaining[seller] -= kwh;
    m->remaining[buyer] -= kwh;
    if (m->remaining[seller] < 1e-12)
        m->remaining[seller] = 0;
    if (m->remaining[buyer] < 1e-12)
        m->remaining[buyer] = 0;
    m->book[seller].kwh = m->remaining[seller];
    m->book[buyer].kwh = m->remaining[buyer];
    m->traded[seller] = m->traded[buyer] = 1;
    m->slot_stats.trades++;
    m->slot_stats.volume_kwh += kwh;
    m->slot_value += kwh * price;
    m->slot_value2 += kwh * price * price;
    m->slot_stats.surplus += kwh / 1000.0 *
                             (agent_max_bid(m->agents, buyer) - agent_min_bid(m->agents, seller));
    m->sum.trades++;
    m->sum.traded_kwh += kwh;
    return 0;
}

/* The seller and buyer of a match confirm it to each other under their mutual key (paper
 * Figure 4): the seller MACs the agreement with its copy of the key, the buyer checks it with
 * its own copy (security.mutual_key: each opened from the server's delivery to that party, or
 * each derived with crypto_kx from that party's secret).  A mismatch is logged to /security and
 * counted (it cannot happen between honest parties; the check is what a forged agreement would
 * fail).
 *
 * A round's confirmations are independent of one another, so they run on the pool: a task reads
 * the pair-key cache (kx only; nothing writes it during the batch), gets what is missing, and
 * leaves its outcome in its own slot; kx keys it derived are remembered afterwards in trade
 * order. */
struct confirm_slot {
    unsigned char ks[ID_KEY_BYTES], kb[ID_KEY_BYTES];
    uint8_t new_s, new_b; /* derived in this batch: remember them */
    int ok;
};

static int confirm_task(void *ctx, size_t k)
{
    struct mkt *m = ctx;
    const struct mkt_trade *t = &m->round_buf[k];
    struct confirm_slot *c = &m->cf[k];
    unsigned char tag[ID_MAC_BYTES], body[48];
    c->new_s = !id_mutual_key_cached(m->reg, t->seller, t->buyer, c->ks);
    c->new_b = !id_mutual_key_cached(m->reg, t->buyer, t->seller, c->kb);
    if ((c->new_s && id_mutual_key_derive(m->reg, t->seller, t->buyer, c->ks)) ||
        (c->new_b && id_mutual_key_derive(m->reg, t->buyer, t->seller, c->kb)))
        return ERR_RUNTIME;
    memcpy(body, &t->id, 8);
    memcpy(body + 8, &t->seller, 4);
    memcpy(body + 12, &t->buyer, 4);
    memcpy(body + 16, &t->kwh, 8);
    memcpy(body + 24, &t->price, 8);
    memcpy(body + 32, &t->t_request, 8);
    memcpy(body + 40, &t->t_agree, 8);
    id_mac_with(c->ks, body, sizeof body, tag);
    c->ok = id_mac_verify_with(c->kb, body, sizeof body, tag);
    return 0;
}

static int confirm_round(struct mkt *m)
{
    size_t bad = 0;
    int rc = 0;
    if (grow_array(&m->cf, &m->cf_cap, m->round_len, sizeof *m->cf))
        return err_set(m->e, ERR_NOMEM, "out of memory confirming trades");
    if (m->workers)
        rc = pool_run(m->workers, m->round_len, confirm_task, m, &bad);
    else
        for (size_t k = 0; !rc && k < m->round_len; k++)
            if ((rc = confirm_task(m, k)))
                bad = k;
    if (rc)
        return err_set(m->e, ERR_RUNTIME, "mutual key of agents %u and %u",
                       m->round_buf[bad].seller, m->round_buf[bad].buyer);
    for (size_t k = 0; k < m->round_len; k++) {
        const struct mkt_trade *t = &m->round_buf[k];
        if ((m->cf[k].new_s && id_mutual_key_remember(m->reg, t->seller, t->buyer, m->cf[k].ks)) ||
            (m->cf[k].new_b && id_mutual_key_remember(m->reg, t->buyer, t->seller, m->cf[k].kb)))
            return err_set(m->e, ERR_NOMEM, "out of memory for the mutual-key cache");
    }
    return 0;
}

void mkt_pool_set(struct mkt *m, struct pool *p) { m->workers = p; }

/* Hand the clearing's trades to the hook, and reply to every matched agent. */
static int flush_round(struct mkt *m, int round)
{
    int rc = confirm_round(m);
    if (rc)
        return rc;
    for (size_t k = 0; k < m->round_len; k++) {
        if (!m->cf[k].ok) {
            m->sum.mutual_failures++;
            rc = mkt_security_log(m, eng_now(m->eng), m->round_buf[k].buyer, "mutual_key", "none",
                                  "rejected", 0);
            if (rc)
                return rc;
        }
    }
    if (m->round_len && m->hooks.round_trades)
        rc = m->hooks.round_trades(m->hooks.ctx, m->round_buf, m->round_len);
    /* every matched agent gets a reply, seller first: built in order, sealed in one batch */
    if (!rc && m->round_len && !(rc = outbox_reserve(m, 2 * m->round_len))) {
        for (size_t k = 0; k < m->round_len; k++) {
            const struct mkt_trade *t = &m->round_buf[k];
            reply_msg(m, t->kwh, t->price, round, &m->outbox[2 * k]);
            m->out_agent[2 * k] = t->seller;
            reply_msg(m, t->kwh, t->price, round, &m->outbox[2 * k + 1]);
            m->out_agent[2 * k + 1] = t->buyer;
        }
        seal_outbox(m, 2 * m->round_len);
        for (size_t k = 0; !rc && k < 2 * m->round_len; k++)
            rc = send_reply(m, m->out_agent[k], &m->outbox[k]);
    }
    m->round_len = 0;
    return rc;
}

/* ---- continuous double auction ------------------------------------------------------------ */

/* Match an arriving order at once (clear.h's CDA book).  An arriving seller's matches at one
 * price form one transaction; an arriving buyer's matches are each their own (different
 * sellers). */
static int cda_arrive(struct mkt *m, uint32_t a)
{
    int seller = m->side[a] > 0, rc;
    struct mkt_order o = {a, m->book[a].kwh, m->book[a].price, m->book[a].seq};
    const struct mkt_match *mt;
    size_t n;
    if (mkt_cda_submit(m->cda, seller, &o, &mt, &n))
        return err_set(m->e, ERR_NOMEM, "out of memory for the order book");
    for (size_t k = 0; k < n; k++) {
        int same = seller && k > 0 && mt[k].price == mt[k - 1].price &&
                   m->group_count[m->groups - 1 - m->group_base] < MKT_MAX_GROUP_TRADES;
        rc = record_match(m, mt[k].seller, mt[k].buyer, mt[k].kwh, mt[k].price, -1,
                          same ? m->groups - 1 : m->groups++);
        if (rc)
            return rc;
    }
    return n ? flush_round(m, -1) : 0;
}

/* ---- arrival at the MiM agent ------------------------------------------------------------- */

static int on_arrive(struct eng *eng, const struct eng_event *ev, void *ctx)
{
    struct mkt *m = ctx;
    uint32_t i = ev->data.u32[0];
    struct pool_msg pm;
    struct msg msg;
    const char *failed = NULL;
    int attack;
    (void)eng;
    if (m->n_unchecked)
        check_macs(m);
    pm = m->pool[i];
    attack = pm.attack;
    pool_put(m, i);

    if (msg_decode(pm.wire, MSG_WIRE_BYTES, &msg, NULL) != 0)
        failed = "malformed";
    else if (!id_is_registered(m->reg, msg.sender) || msg.sender == m->mim)
        failed = "identification";
    else if (!pm.mac_ok) /* id_mac_verify of these bytes, computed by check_macs */
        failed = "authentication";
    else if (msg.kind == MSG_REPLY)
        failed = "protocol";
    else if (msg.seq <= m->last_seq[msg.sender])
        failed = "replay";

    if (failed) {
        m->sum.messages_rejected++;
        m->slot_stats.rejected++;
        if (attack == ATK_NONE)
            m->sum.honest_rejected++;
        else
            m->sum.attacks_detected++;
        return mkt_security_log(m, ev->time, failed[0] == 'm' ? -1 : (int64_t)msg.sender, failed,
                                attack == ATK_NONE ? "none" : attack_names[attack], "dropped",
                                attack != ATK_NONE);
    }
    if (attack != ATK_NONE) {
        /* Got through every check: log it as such; the order is taken as the MiM would. */
        m->sum.attacks_undetected++;
        if (mkt_security_log(m, ev->time, msg.sender, "passed", attack_names[attack], "accepted",
                             0))
            return ERR_IO;
    }
    m->last_seq[msg.sender] = msg.seq;
    if (msg.slot != m->slot) {
        m->sum.messages_late++; /* authentic but for a slot already closed */
        return 0;
    }
    if ((msg.kind == MSG_SHARE) != (m->side[msg.sender] > 0) || m->side[msg.sender] == 0)
        return 0; /* the sender is not trading on that side this slot */
    m->book[msg.sender].kwh = msg.kwh < m->remaining[msg.sender] ? msg.kwh : m->remaining[msg.sender];
    m->book[msg.sender].price = msg.price;
    m->book[msg.sender].seq = ++m->arrivals;
    if (m->mech == MKT_CDA)
        return cda_arrive(m, msg.sender);
    return 0;
}

static int on_reply(struct eng *eng, const struct eng_event *ev, void *ctx)
{
    struct mkt *m = ctx;
    uint32_t i = ev->data.u32[0];
    struct msg msg;
    int ok;
    (void)eng;
    if (m->n_unchecked)
        check_macs(m);
    /* mac_ok: the MAC under the claimed sender's key, which must be the MiM agent's */
    ok = msg_decode(m->pool[i].wire, MSG_WIRE_BYTES, &msg, NULL) == 0 && msg.sender == m->mim &&
         m->pool[i].mac_ok;
    pool_put(m, i);
    if (!ok)
        return mkt_security_log(m, ev->time, ev->target, "authentication", "none", "dropped", 0);
    m->sum.replies++;
    return 0;
}

/* ---- slots and rounds ---------------------------------------------------------------------- */

int mkt_slot_start(struct mkt *m, int64_t slot)
{
    double t = eng_now(m->eng);
    m->slot = slot;
    m->n_active = 0;
    mkt_cda_reset(m->cda);
    memset(&m->slot_stats, 0, sizeof m->slot_stats);
    m->slot_value = m->slot_value2 = 0;
    m->view.last_price = m->view.best_bid = m->view.best_ask = NAN;
    for (size_t k = 0; k < sizeof m->prices / sizeof m->prices[0]; k++)
        m->prices[k] = NAN;
    for (uint32_t a = 0; a < m->n; a++) {
        int role = agent_role(m->agents, a);
        m->side[a] = (int8_t)role;
        m->book[a].kwh = 0;
        if (role == AGENT_IDLE)
            continue;
        m->active[m->n_active++] = a;
        m->remaining[a] = m->open_kwh[a] = fabs(agent_forecast_kwh(m->agents, a));
        m->seller_matches[a] = 0;
        m->t_request[a] = t;
        m->price[a] = mkt_strategy_open(m->strategy[a], role > 0, strat_lo(m, a), strat_hi(m, a),
                                        m->rounds, &m->strat[a], rng_bank_get(m->strat_rng, a));
    }
    {
        int rc = outbox_reserve(m, m->n_active);
        if (rc)
            return rc;
    }
    for (size_t k = 0; k < m->n_active; k++)
        order_msg(m, m->active[k], 0, &m->outbox[k]);
    seal_outbox(m, m->n_active);
    for (size_t k = 0; k < m->n_active; k++) {
        int rc = send_order(m, m->active[k], &m->outbox[k]);
        if (rc)
            return rc;
    }
    return 0;
}

int mkt_round(struct mkt *m, int64_t slot, int round)
{
    size_t nb = 0, na = 0, nm = 0, n_out = 0;
    const struct mkt_match *matches = NULL;
    double price = NAN, value = 0, value2 = 0, vol = 0;
    struct round_row row;
    int rc;

    (void)slot;
    memset(&row, 0, sizeof row);
    row.best_bid = row.best_ask = NAN;
    for (size_t k = 0; k < m->n_active; k++) {
        uint32_t a = m->active[k];
        struct mkt_order o;
        m->traded[a] = 0;
        if (m->book[a].kwh <= 0)
            continue;
        o.agent = a;
        o.kwh = m->book[a].kwh;
        o.price = m->book[a].price;
        o.seq = m->book[a].seq;
        if (m->side[a] > 0) {
            m->asks[na++] = o;
            if (isnan(row.best_ask) || o.price < row.best_ask)
                row.best_ask = o.price;
        } else {
            m->bids[nb++] = o;
            if (isnan(row.best_bid) || o.price > row.best_bid)
                row.best_bid = o.price;
        }
    }
    row.slot = m->slot;
    row.round = round;
    row.t = eng_now(m->eng);
    row.bids = (int32_t)nb;
    row.asks = (int32_t)na;

    if (m->mech != MKT_CDA) {
        if (mkt_clear(m->ws, m->mech, m->bids, nb, m->asks, na, m->clr, &matches, &nm, &price))
            return err_set(m->e, ERR_NOMEM, "out of memory clearing the book");
        /* One transaction per seller and price per clearing (a chain trade has one price), at
         * most MKT_MAX_GROUP_TRADES trades each: O(1) per match via the seller's current one. */
        m->clearing++;
        for (size_t k = 0; k < nm; k++) {
            uint32_t sl = matches[k].seller;
            uint64_t g;
            if (m->cur_clearing[sl] == m->clearing && m->cur_price[sl] == matches[k].price &&
                m->group_count[m->cur_group[sl] - m->group_base] < MKT_MAX_GROUP_TRADES) {
                g = m->cur_group[sl];
            } else {
                g = m->groups++;
                m->cur_clearing[sl] = m->clearing;
                m->cur_price[sl] = matches[k].price;
                m->cur_group[sl] = g;
            }
            rc = record_match(m, sl, matches[k].buyer, matches[k].kwh, matches[k].price, round, g);
            if (rc)
                return rc;
        }
        for (size_t k = 0; k < nm; k++) {
            vol += matches[k].kwh;
            value += matches[k].kwh * matches[k].price;
            value2 += matches[k].kwh * matches[k].price * matches[k].price;
        }
        row.trades = (int32_t)nm;
        rc = flush_round(m, round);
        if (rc)
            return rc;
    } else {
        /* Trades happened on arrival; the round reports what the slot has done so far. */
        vol = m->slot_stats.volume_kwh;
        value = m->slot_value;
        value2 = m->slot_value2;
        row.trades = m->slot_stats.trades;
    }
    row.volume_kwh = vol;
    row.price = vol > 0 ? value / vol : NAN;
    row.dispersion = vol > 0 ? sqrt(fmax(0.0, value2 / vol - row.price * row.price)) : NAN;
    if (round < (int)(sizeof m->prices / sizeof m->prices[0]))
        m->prices[round] = row.price;
    if (m->t_rounds && h5_table_append(m->t_rounds, &row, m->e))
        return ERR_IO;

    /* What the agents saw, then their revisions for the next round. */
    m->view.last_price = row.price;
    m->view.best_bid = row.best_bid;
    m->view.best_ask = row.best_ask;
    if (!isnan(row.price))
        m->sum.final_price = row.price;
    if (round + 1 >= m->rounds)
        return 0;
    /* Revisions: each agent's strategy (its own stream) decides, the changed orders are sealed
     * in one batch, then sent in agent order (sending draws only the network and attack
     * streams, which no strategy reads). */
    if ((rc = outbox_reserve(m, m->n_active)))
        return rc;
    for (size_t k = 0; k < m->n_active; k++) {
        uint32_t a = m->active[k];
        double p;
        if (m->remaining[a] <= 0)
            continue;
        p = mkt_strategy_next(m->strategy[a], m->side[a] > 0, strat_lo(m, a), strat_hi(m, a),
                              round + 1, m->rounds, m->price[a],
                              m->traded[a], &m->view, &m->strat[a], rng_bank_get(m->strat_rng, a));
        if (p == m->price[a])
            continue; /* the standing order still says it */
        m->price[a] = p;
        order_msg(m, a, round + 1, &m->outbox[n_out]);
        m->out_agent[n_out++] = a;
    }
    seal_outbox(m, n_out);
    for (size_t k = 0; k < n_out; k++)
        if ((rc = send_order(m, m->out_agent[k], &m->outbox[k])))
            return rc;
    return 0;
}

int mkt_slot_end(struct mkt *m, int64_t slot, struct mkt_slot_stats *out)
{
    size_t nb = 0, na = 0;
    struct mkt_slot_stats *s = &m->slot_stats;
    double eps = m->cfg->market.price_epsilon;
    int last_move = -1, any = 0;
    (void)slot;

    /* Maximum surplus from what was submitted: limits and the slot's opening quantities. */
    for (size_t k = 0; k < m->n_active; k++) {
        uint32_t a = m->active[k];
        struct mkt_order o = {a, m->open_kwh[a], 0, a};
        if (o.kwh <= 0)
            continue;
        if (m->side[a] > 0) {
            o.price = agent_min_bid(m->agents, a);
            m->asks[na++] = o;
        } else {
            o.price = agent_max_bid(m->agents, a);
            m->bids[nb++] = o;
        }
    }
    if (mkt_max_surplus(m->ws, m->bids, nb, m->asks, na, &s->max_surplus))
        return err_set(m->e, ERR_NOMEM, "out of memory computing surplus");
    s->max_surplus /= 1000.0; /* kWh x EUR/MWh -> EUR */
    s->efficiency = s->max_surplus > 0 ? s->surplus / s->max_surplus : NAN;
    s->mean_price = s->volume_kwh > 0 ? m->slot_value / s->volume_kwh : NAN;
    s->dispersion = s->volume_kwh > 0
                        ? sqrt(fmax(0.0, m->slot_value2 / s->volume_kwh - s->mean_price * s->mean_price))
                        : NAN;
    /* Rounds until prices stop moving: the round after the last move larger than eps. */
    {
        double prev = NAN;
        for (int r = 0; r < m->rounds && r < (int)(sizeof m->prices / sizeof m->prices[0]); r++) {
            double p = m->prices[r];
            if (isnan(p))
                continue;
            if (any && fabs(p - prev) > eps)
                last_move = r;
            if (!any)
                last_move = r;
            any = 1;
            prev = p;
        }
    }
    s->rounds_to_converge = any ? last_move : -1;
    m->slot_max_surplus_total += s->max_surplus;
    m->slot_surplus_total += s->surplus;
    if (!isnan(s->dispersion)) {
        m->dispersion_sum += s->dispersion;
        m->dispersion_slots++;
    }
    for (size_t k = 0; k < m->n_active; k++)
        m->book[m->active[k]].kwh = 0;
    m->n_active = 0;
    if (out)
        *out = *s;
    return 0;
}

static void lat_add(struct lat_hist *h, double x)
{
    size_t bin = !(x >= 0) ? 0 : x >= LAT_MAX_S ? LAT_MAX_S : (size_t)x;
    if (!isfinite(x))
        return;
    h->bins[bin]++;
    h->n++;
    h->sum += x;
}

/* Percentile q of the histogram: the middle of the 1-second bin holding it (within 0.5 s). */
static double lat_quantile(const struct lat_hist *h, double q)
{
    uint64_t want, acc = 0;
    if (h->n == 0)
        return NAN;
    want = (uint64_t)ceil(q * (double)h->n);
    if (want == 0)
        want = 1;
    for (size_t b = 0; b <= LAT_MAX_S; b++) {
        acc += h->bins[b];
        if (acc >= want)
            return (double)b + 0.5;
    }
    return LAT_MAX_S;
}

static int write_trade(struct mkt *m, const struct trade_rec *r)
{
    struct trade_row row = {r->t.id,        r->t.group,     r->t.slot,    r->t.round,
                            r->t.tx_case,   r->t.seller,    r->t.buyer,   r->t.kwh,
                            r->t.price,     r->t.t_request, r->t.t_agree, r->t_included,
                            r->t_confirmed, r->height};
    lat_add(&m->lat_agree, r->t.t_agree - r->t.t_request);
    lat_add(&m->lat_include, r->t_included - r->t.t_agree);
    lat_add(&m->lat_confirm, r->t_confirmed - r->t_included);
    m->value_sum += r->t.kwh * r->t.price;
    return m->t_trades ? h5_table_append(m->t_trades, &row, m->e) : 0;
}

/* Write resolved trades at the front of the window, in id order. */
static void trades_flush(struct mkt *m, int all)
{
    while (m->flushed < m->n_trades) {
        struct trade_rec *r = trade_at(m, m->flushed);
        if (!all && !r->resolved)
            break;
        if (write_trade(m, r) && !m->write_rc)
            m->write_rc = ERR_IO;
        m->flushed++;
    }
}

static struct trade_rec *group_first(struct mkt *m, uint64_t group)
{
    uint64_t id;
    if (group < m->group_base || group - m->group_base >= m->group_cap)
        return NULL;
    id = m->group_head[group - m->group_base];
    return id == UINT64_MAX || id < m->flushed ? NULL : trade_at(m, id);
}

void mkt_group_included(struct mkt *m, uint64_t group, double t, int64_t height)
{
    for (struct trade_rec *r = group_first(m, group); r;
         r = r->next_in_group == UINT64_MAX ? NULL : trade_at(m, r->next_in_group)) {
        r->t_included = t;
        r->height = height;
    }
}

void mkt_group_confirmed(struct mkt *m, uint64_t group, double t)
{
    for (struct trade_rec *r = group_first(m, group); r;
         r = r->next_in_group == UINT64_MAX ? NULL : trade_at(m, r->next_in_group)) {
        r->t_confirmed = t;
        r->resolved = 1;
    }
    trades_flush(m, 0);
}

void mkt_group_rejected(struct mkt *m, uint64_t group)
{
    for (struct trade_rec *r = group_first(m, group); r;
         r = r->next_in_group == UINT64_MAX ? NULL : trade_at(m, r->next_in_group))
        r->resolved = 1;
    trades_flush(m, 0);
}

int mkt_finish(struct mkt *m, struct mkt_summary *out, struct err *e)
{
    trades_flush(m, 1); /* what the chain had not resolved by the end: NaN chain times */
    if (m->write_rc)
        return err_set(e, ERR_IO, "cannot write /trades (disk full?)");
    m->sum.mean_price = m->sum.traded_kwh > 0 ? m->value_sum / m->sum.traded_kwh : NAN;
    m->sum.efficiency = m->slot_max_surplus_total > 0
                            ? m->slot_surplus_total / m->slot_max_surplus_total
                            : NAN;
    m->sum.mean_dispersion = m->dispersion_slots ? m->dispersion_sum / (double)m->dispersion_slots
                                                 : NAN;
    {
        const struct lat_hist *h[3] = {&m->lat_agree, &m->lat_include, &m->lat_confirm};
        double *mean[3] = {&m->sum.lat_agree_mean, &m->sum.lat_include_mean,
                           &m->sum.lat_confirm_mean};
        double *p50[3] = {&m->sum.lat_agree_p50, &m->sum.lat_include_p50,
                          &m->sum.lat_confirm_p50};
        double *p95[3] = {&m->sum.lat_agree_p95, &m->sum.lat_include_p95,
                          &m->sum.lat_confirm_p95};
        for (int k = 0; k < 3; k++) {
            *mean[k] = h[k]->n ? h[k]->sum / (double)h[k]->n : NAN;
            *p50[k] = lat_quantile(h[k], 0.5);
            *p95[k] = lat_quantile(h[k], 0.95);
        }
    }
    if (!m->sum.trades)
        m->sum.final_price = NAN;
    *out = m->sum;
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

struct mkt *mkt_new(const struct cfg *cfg, struct eng *eng, struct agent_pop *agents,
                    struct id_registry *reg, const struct mkt_hooks *hooks, struct err *e)
{
    struct mkt *m = calloc(1, sizeof *m);
    size_t n = agent_count(agents);
    uint64_t seed = (uint64_t)cfg->scenario.seed;
    uint64_t *ids = NULL;

    if (!m)
        goto oom;
    m->cfg = cfg;
    m->eng = eng;
    m->agents = agents;
    m->reg = reg;
    if (hooks)
        m->hooks = *hooks;
    m->n = n;
    m->mim = (uint32_t)n;
    m->mech = cfg->market.mechanism;
    m->rounds = (int)cfg->market.rounds_per_slot;
    m->e = eng_err(eng);
    m->pool_free = NO_MSG;
    m->sum.final_price = NAN;
#define ALLOC(p, k) ((m->p = calloc((k) + 1, sizeof *m->p)) != NULL)
    if (!ALLOC(side, n) || !ALLOC(remaining, n) || !ALLOC(price, n) || !ALLOC(open_kwh, n) ||
        !ALLOC(strategy, n) || !ALLOC(strat, n) || !ALLOC(seq_next, n) || !ALLOC(t_request, n) ||
        !ALLOC(last_wire, n) || !ALLOC(has_last, n) || !ALLOC(traded, n) ||
        !ALLOC(seller_matches, n) || !ALLOC(last_seq, n + 1) || !ALLOC(book, n) ||
        !ALLOC(active, n) || !ALLOC(bids, n) || !ALLOC(asks, n) || !ALLOC(cur_clearing, n) ||
        !ALLOC(cur_group, n) || !ALLOC(cur_price, n))
        goto oom;
#undef ALLOC
    ids = calloc(n + 1, sizeof *ids);
    m->ws = mkt_clear_ws_new();
    m->cda = mkt_cda_new(n);
    m->net = rng_stream_new(seed, "network", 0);
    m->atk = rng_stream_new(seed, "attacks", 0);
    m->clr = rng_stream_new(seed, "market.clearing", 0);
    if (!ids || !m->ws || !m->cda || !m->net || !m->atk || !m->clr)
        goto oom;
    for (size_t a = 0; a < n; a++) {
        ids[a] = rng_name_id(agent_name(agents, a));
        m->seq_next[a] = 1;
    }
    m->strat_rng = rng_bank_new_ids(seed, "market.strategy", ids, n);
    m->lat_agree.bins = calloc(LAT_MAX_S + 1, sizeof(uint32_t));
    m->lat_include.bins = calloc(LAT_MAX_S + 1, sizeof(uint32_t));
    m->lat_confirm.bins = calloc(LAT_MAX_S + 1, sizeof(uint32_t));
    if (!m->strat_rng || !m->lat_agree.bins || !m->lat_include.bins || !m->lat_confirm.bins)
        goto oom;
    /* Each agent's strategy: its group's, else the market default. */
    {
        size_t a = 0;
        for (size_t g = 0; g < cfg->n_agents; g++)
            for (int64_t k = 0; k < cfg->agents[g].count; k++, a++)
                m->strategy[a] = cfg->agents[g].strategy == CFG_AUTO_INT ? cfg->market.strategy
                                                                         : cfg->agents[g].strategy;
        for (; a < n; a++)
            m->strategy[a] = cfg->market.strategy;
        m->range_lo = INFINITY;
        m->range_hi = -INFINITY;
        for (a = 0; a < n; a++) {
            m->range_lo = fmin(m->range_lo, agent_min_bid(m->agents, (uint32_t)a));
            m->range_hi = fmax(m->range_hi, agent_max_bid(m->agents, (uint32_t)a));
        }
    }
    free(ids);
    if (eng_handler_set(eng, MKT_EV_ARRIVE, on_arrive, m) ||
        eng_handler_set(eng, MKT_EV_REPLY, on_reply, m)) {
        err_set(e, ERR_RUNTIME, "market: %s", eng_err(eng)->msg);
        mkt_free(m);
        return NULL;
    }
    return m;
oom:
    free(ids);
    mkt_free(m);
    err_set(e, ERR_NOMEM, "out of memory creating the market for %zu agents", n);
    return NULL;
}

void mkt_free(struct mkt *m)
{
    if (!m)
        return;
    free(m->side);
    free(m->remaining);
    free(m->price);
    free(m->open_kwh);
    free(m->strategy);
    free(m->strat);
    free(m->seq_next);
    free(m->t_request);
    free(m->last_wire);
    free(m->has_last);
    free(m->traded);
    free(m->seller_matches);
    free(m->last_seq);
    free(m->book);
    free(m->active);
    free(m->bids);
    free(m->asks);
    mkt_cda_free(m->cda);
    free(m->round_buf);
    free(m->cf);
    free(m->trades);
    free(m->group_head);
    free(m->group_tail);
    free(m->group_count);
    free(m->lat_agree.bins);
    free(m->lat_include.bins);
    free(m->lat_confirm.bins);
    free(m->cur_clearing);
    free(m->cur_group);
    free(m->cur_price);
    free(m->pool);
    free(m->unchecked);
    free(m->outbox);
    free(m->out_agent);
    mkt_clear_ws_free(m->ws);
    rng_free(m->net);
    rng_free(m->atk);
    rng_free(m->clr);
    rng_bank_free(m->strat_rng);
    free(m);
}
