/*
 * clear — clearing one round's book.
 *
 * The book is two arrays of orders (bids from buyers, asks from sellers), each an agent, a
 * quantity and a limit-respecting price, with a sequence number that gives time priority.
 * Merit order: bids by price descending, asks ascending, ties by sequence (earlier first).
 *
 *  - MKT_PAY_AS_CLEAR: walk both merit orders while the bid covers the ask; every match trades at
 *    one uniform price, the midpoint of the last (marginal) matched bid and ask — the
 *    intersection of the supply and demand curves.
 *  - MKT_PAY_AS_BID: the same matching; each match trades at the buyer's bid.
 *  - MKT_NEGOTIATION (the paper's): buyers, in a random order drawn each round, choose among the
 *    sellers' offers — each takes the cheapest remaining offer at or below its bid, at the
 *    offer's price, until filled or no offer is cheap enough.  Sellers compete on price, which
 *    lowers the rate.
 *  - MKT_CDA: continuous double auction; orders match on arrival (mkt_cda_*), not per round.
 *
 * Every match has bid >= price >= ask, so trade prices respect both parties' limits, and no
 * order is filled beyond its quantity.  Cost: O(n) for the radix sort of n orders plus O(n) for
 * matching; workspace grows to the largest book seen, then nothing is allocated.
 */
#ifndef SETM_MARKET_CLEAR_H
#define SETM_MARKET_CLEAR_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

#include "core/err.h"

enum mkt_mechanism { MKT_NEGOTIATION, MKT_PAY_AS_BID, MKT_PAY_AS_CLEAR, MKT_CDA };

struct mkt_order {
    uint32_t agent;
    double kwh;   /* > 0 */
    double price; /* EUR/MWh */
    uint64_t seq; /* arrival order: lower first among equal prices */
};

struct mkt_match {
    uint32_t seller, buyer;
    uint32_t ask, bid; /* indices into the asks/bids arrays given to mkt_clear */
    double kwh;
    double price;
};

/* Reusable buffers for clearing (one per market). */
struct mkt_clear_ws;
struct mkt_clear_ws *mkt_clear_ws_new(void);
void mkt_clear_ws_free(struct mkt_clear_ws *ws);

/* Clear bids[0..nb) against asks[0..na) with `mech` (not MKT_CDA).  Matches go to an array owned
 * by `ws` (*matches, *n_matches, valid until the next call); *clearing_price is the uniform price
 * for pay-as-clear, the volume-weighted mean otherwise, NaN without matches.  `r` orders the
 * buyers for negotiation.  0 or ERR_NOMEM. */
int mkt_clear(struct mkt_clear_ws *ws, int mech, const struct mkt_order *bids, size_t nb,
              const struct mkt_order *asks, size_t na, gsl_rng *r,
              const struct mkt_match **matches, size_t *n_matches, double *clearing_price);

/* Maximum surplus the submitted limits allow: buyers valued at `bid_limit`, sellers costing
 * `ask_limit`, quantities as given; the competitive-equilibrium allocation (merit order).  The
 * arrays' price fields are read as limits.  Uses ws for sorting.  0 or ERR_NOMEM. */
int mkt_max_surplus(struct mkt_clear_ws *ws, const struct mkt_order *bids, size_t nb,
                    const struct mkt_order *asks, size_t na, double *surplus);

/* Sort `idx[0..n)` (indices into `orders`) by price ascending (descending if `desc`), ties by
 * seq ascending.  Exposed for tests and the CDA.  0 or ERR_NOMEM. */
int mkt_sort_orders(struct mkt_clear_ws *ws, const struct mkt_order *orders, size_t n, int desc,
                    uint32_t *idx);

/*
 * Continuous double auction book: each agent has at most one standing order (a new one replaces
 * it).  An arriving order matches at once against the best opposite orders (price, then time
 * priority) at the standing order's price; what is left rests in the book.  Heaps with lazy
 * deletion: O(log n) per order, amortised.
 */
struct mkt_cda;
struct mkt_cda *mkt_cda_new(size_t n_agents);
void mkt_cda_free(struct mkt_cda *b);
void mkt_cda_reset(struct mkt_cda *b); /* empty the book (new slot) */

/* Submit agent o->agent's order on side `seller` (1) or buyer (0), replacing its previous one.
 * Matches go to *matches (owned by the book, valid until the next call; `ask`/`bid` hold the
 * agents' ids).  0 or ERR_NOMEM. */
int mkt_cda_submit(struct mkt_cda *b, int seller, const struct mkt_order *o,
                   const struct mkt_match **matches, size_t *n_matches);

/* The agent's quantity still resting in the book. */
double mkt_cda_resting(const struct mkt_cda *b, uint32_t agent);

const char *mkt_mechanism_name(int mech);

#endif
