/*
 * market — the MiM agent and the agents' side of trading, on the event engine.
 *
 * Per slot (DESIGN.md data flow 2-5):
 *   mkt_slot_start: every buyer/seller (sim/grid decides) opens a price with its strategy and
 *     sends a REQUEST/SHARE for its forecast kWh, MAC'd under its server key, through the network
 *     (delay, loss).  Attacks are injected here as real bytes (see [attacks]).
 *   MKT_EV_ARRIVE: the MiM agent decodes the bytes and checks identification (sender registered),
 *     authentication (MAC), the protocol (agents send only SHARE/REQUEST), replay (sequence number
 *     above the last accepted), then the slot.  A failure is logged to /security and the message
 *     dropped; the MiM never learns from the bytes whether a message was injected.  Accepted
 *     orders replace the sender's standing order; under `cda` they match at once.
 *   mkt_round: the MiM clears the book (negotiation, pay_as_bid, pay_as_clear), sends a REPLY to
 *     each matched agent, logs /rounds, and agents with quantity left revise their price with
 *     their strategy and send a new order.
 *   mkt_slot_end: slot metrics (volume, price, dispersion, efficiency, rounds to converge).
 * Matches become trades: one row per (seller, buyer) in /trades, grouped per seller and price per
 * clearing into one transaction (the paper's Initial case for a seller's first buyer in a slot,
 * Update for each further one) handed to the `round_trades` hook for signing and the chain.
 *
 * Event types used: MKT_EV_ARRIVE, MKT_EV_REPLY (numbered in core/events.h).  No allocation per message in steady
 * state (a pool of messages in flight grows to its high-water mark); per round O(active agents)
 * plus the clearing's O(n).
 */
#ifndef SETM_MARKET_MARKET_H
#define SETM_MARKET_MARKET_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/engine.h"
#include "core/err.h"
#include "core/events.h"
#include "grid/agents.h"
#include "io/h5.h"
#include "security/registry.h"

/* Trades per transaction at most; a seller's further buyers at the same price start another. */
#define MKT_MAX_GROUP_TRADES 1024

/* One matched (seller, buyer) pair. */
struct mkt_trade {
    uint64_t id;      /* dense from 0 */
    uint64_t group;   /* transaction: the seller's matches at one price in one clearing */
    int64_t slot;
    int32_t round;    /* -1 for a cda match on arrival */
    uint32_t seller, buyer;
    double kwh;
    double price;     /* EUR/MWh */
    double t_request; /* eRT: when the buyer sent its first request of the slot */
    double t_agree;   /* AT: when the MiM agent matched them */
    int32_t tx_case;  /* 0 initial (seller's first buyer in the slot), 1 update */
};

struct mkt_hooks {
    void *ctx;
    /* The trades of one clearing (a round, or one cda arrival), ordered by group. */
    int (*round_trades)(void *ctx, const struct mkt_trade *trades, size_t n);
};

struct mkt_slot_stats {
    int32_t trades;
    double volume_kwh;
    double mean_price;   /* volume-weighted, NaN without trades */
    double dispersion;   /* volume-weighted sd of trade prices, NaN without trades */
    double efficiency;   /* realised / maximum surplus, NaN when no surplus was possible */
    double max_surplus;  /* EUR */
    double surplus;      /* EUR, realised */
    int32_t rounds_to_converge; /* first round after which prices moved < price_epsilon; -1 none */
    int32_t messages;    /* sent to the MiM in the slot, attacks included */
    int32_t rejected;    /* dropped by the MiM's checks */
};

struct mkt_summary {
    uint64_t messages_sent, messages_lost, messages_late, messages_rejected, replies;
    uint64_t attacks_injected, attacks_detected, attacks_lost, attacks_undetected;
    uint64_t honest_rejected;
    uint64_t mutual_failures; /* matches whose mutual-key confirmation failed (never, honestly) */
    uint64_t trades;
    double traded_kwh, mean_price, final_price, mean_dispersion, efficiency;
    double lat_agree_mean, lat_agree_p50, lat_agree_p95;       /* request -> agreement, s */
    double lat_include_mean, lat_include_p50, lat_include_p95; /* agreement -> in a block, s */
    double lat_confirm_mean, lat_confirm_p50, lat_confirm_p95; /* in a block -> confirmed, s */
};

struct mkt;

/* Create the market over `agents` with identities in `reg` (agents 0..n-1, and the MiM agent as
 * identity n).  Registers handlers for its event types on `eng`.  NULL with `e` filled
 * (ERR_NOMEM). */
struct mkt *mkt_new(const struct cfg *cfg, struct eng *eng, struct agent_pop *agents,
                    struct id_registry *reg, const struct mkt_hooks *hooks, struct err *e);
void mkt_free(struct mkt *m);

/* Confirm a clearing's trades under the parties' mutual keys, and compute and check message
 * MACs in batches, on `p` (borrowed; it must outlive the market or be unset with NULL).  Without
 * a pool the caller's thread does it; the outcome is the same. */
struct pool;
void mkt_pool_set(struct mkt *m, struct pool *p);

/* Create /rounds, /security and /trades in f (before the run).  0 or the writer's error. */
int mkt_tables_open(struct mkt *m, struct h5_file *f, struct err *e);

/* Slot lifecycle; t is the current simulated time.  0 or a negative ERR_*. */
int mkt_slot_start(struct mkt *m, int64_t slot);
int mkt_round(struct mkt *m, int64_t slot, int round);
int mkt_slot_end(struct mkt *m, int64_t slot, struct mkt_slot_stats *out);

/* Chain feedback for every trade of transaction `group` (from the chain hooks).  A trade's
 * /trades row is written once its transaction is confirmed or rejected (rows stay in id order),
 * so memory holds only trades in flight.  Percentiles come from 1-second histograms. */
void mkt_group_included(struct mkt *m, uint64_t group, double t, int64_t height);
void mkt_group_confirmed(struct mkt *m, uint64_t group, double t);
void mkt_group_rejected(struct mkt *m, uint64_t group);

/* Log a security event raised elsewhere (the chain) into /security. */
int mkt_security_log(struct mkt *m, double t, int64_t who, const char *check, const char *attack,
                     const char *action, int detected);

/* End of run: write the trades still in flight (their chain times NaN) and fill *out.
 * 0 or ERR_IO. */
int mkt_finish(struct mkt *m, struct mkt_summary *out, struct err *e);

#endif
