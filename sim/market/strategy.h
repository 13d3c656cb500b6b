/*
 * strategy — how an agent prices its order in each round of a slot, within its own limits.
 *
 * Table 1's two prices per party: a buyer opens at its min bid and pays at most its max bid; a
 * seller opens at its max bid and accepts no less than its min bid.  Every strategy's price lies
 * in the [min_bid, max_bid] it is given (for zi_u the market's whole range, see below).
 *
 *  - fixed:  at the limit every round (buyer max_bid, seller min_bid).
 *  - linear: from the opening price in round 0 to the limit in the last round, in equal steps.
 *  - zic:    zero-intelligence constrained (Gode & Sunder): uniform in [min_bid, max_bid].
 *  - zi_u:   zero-intelligence unconstrained (Gode & Sunder 1993): uniform in [min_bid, max_bid]
 *            every round, like zic, but the market passes the whole market's price range (the
 *            lowest floor to the highest ceiling of all agents) as the bounds, not the agent's
 *            own limits, so a ZI-U trader may buy above its value or sell below its cost.
 *  - zip:    zero-intelligence plus (Cliff): a profit margin on the limit, moved each round toward
 *            a target just beyond the last trade price (or the best opposite quote) with
 *            Widrow-Hoff learning rate beta and momentum gamma, both drawn per agent.
 */
#ifndef SETM_MARKET_STRATEGY_H
#define SETM_MARKET_STRATEGY_H

#include <gsl/gsl_rng.h>

enum mkt_strategy { MKT_FIXED, MKT_LINEAR, MKT_ZIC, MKT_ZIP, MKT_ZIU, MKT_NSTRATEGIES };

/* Per-agent, per-slot learning state. */
struct mkt_strat_state {
    double margin;   /* zip: price = limit * (1 + margin); >= 0 sellers, <= 0 buyers */
    double beta;     /* zip learning rate */
    double gamma;    /* zip momentum */
    double momentum; /* zip accumulated change */
};

/* What the market showed after a round. */
struct mkt_market_view {
    double last_price; /* volume-weighted price of the round's trades, NaN if none */
    double best_bid;   /* highest standing bid, NaN if none */
    double best_ask;   /* lowest standing ask, NaN if none */
};

/* Start a slot: set up `st` (drawing zip parameters from r) and return the round-0 price. */
double mkt_strategy_open(int strategy, int seller, double min_bid, double max_bid, int rounds,
                         struct mkt_strat_state *st, gsl_rng *r);

/* The price for round `round` (>= 1) of `rounds`, given the current price and what the last round
 * showed; `traded` says whether this agent traded in it. */
double mkt_strategy_next(int strategy, int seller, double min_bid, double max_bid, int round,
                         int rounds, double price, int traded, const struct mkt_market_view *view,
                         struct mkt_strat_state *st, gsl_rng *r);

const char *mkt_strategy_name(int strategy);

#endif
