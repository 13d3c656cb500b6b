/*
 * clear — radix-sorted merit orders and the matching rules.
 *
 * Sorting: a price is mapped to a 64-bit key whose unsigned order is the numeric order (prices
 * are >= 0, so the IEEE bit pattern already is); descending order complements the key.  Ties by
 * sequence come from sorting by seq first, then stably by price.  LSD radix sort with 11-bit
 * digits (an 8 KiB histogram); a pass whose digit is the same for every key is skipped, so a
 * book takes at most six passes per key and sequence numbers usually two.  Books below 64
 * orders use a stable insertion sort instead.
 */
#include "clear.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mkt_clear_ws {
    uint64_t *keys, *keys2;
    uint32_t *idx, *idx2, *bid_idx, *ask_idx;
    double *rem_bid, *rem_ask;
    uint32_t *perm;
    struct mkt_match *matches;
    size_t cap, match_cap;
    uint32_t counts[1 << 11];
};

struct mkt_clear_ws *mkt_clear_ws_new(void) { return calloc(1, sizeof(struct mkt_clear_ws)); }

void mkt_clear_ws_free(struct mkt_clear_ws *ws)
{
    if (!ws)
        return;
    free(ws->keys);
    free(ws->keys2);
    free(ws->idx);
    free(ws->idx2);
    free(ws->bid_idx);
    free(ws->ask_idx);
    free(ws->rem_bid);
    free(ws->rem_ask);
    free(ws->perm);
    free(ws->matches);
    free(ws);
}

static int ws_reserve(struct mkt_clear_ws *ws, size_t n)
{
    size_t cap = ws->cap ? ws->cap : 64;
    if (n <= ws->cap)
        return 0;
    while (cap < n)
        cap *= 2;
#define GROW(p)                                                                                \
    do {                                                                                       \
        void *q = realloc(ws->p, cap * sizeof *ws->p);                                         \
        if (!q)                                                                                \
            return ERR_NOMEM;                                                                  \
        ws->p = q;                                                                             \
    } while (0)
    GROW(keys);
    GROW(keys2);
    GROW(idx);
    GROW(idx2);
    GROW(bid_idx);
    GROW(ask_idx);
    GROW(rem_bid);
    GROW(rem_ask);
    GROW(perm);
#undef GROW
    ws->cap = cap;
    return 0;
}

static int add_match(struct mkt_clear_ws *ws, size_t *n, struct mkt_match m)
{
    if (*n == ws->match_cap) {
        size_t cap = ws->match_cap ? 2 * ws->match_cap : 64;
        struct mkt_match *p = realloc(ws->matches, cap * sizeof *p);
        if (!p)
            return ERR_NOMEM;
        ws->matches = p;
        ws->match_cap = cap;
    }
    ws->matches[(*n)++] = m;
    return 0;
}

#define DIGIT_BITS 11
#define DIGIT_MASK ((1u << DIGIT_BITS) - 1)

/* Stable sort of (keys, idx) by keys: insertion sort for small n, else LSD radix sort skipping
 * passes in which every key has the same digit. */
static void sort_keys(struct mkt_clear_ws *ws, uint64_t *keys, uint32_t *idx, size_t n)
{
    uint64_t *k_in = keys, *k_out = ws->keys2;
    uint32_t *i_in = idx, *i_out = ws->idx2;
    if (n < 64) {
        for (size_t j = 1; j < n; j++) {
            uint64_t k = keys[j];
            uint32_t v = idx[j];
            size_t m = j;
            for (; m > 0 && keys[m - 1] > k; m--) {
                keys[m] = keys[m - 1];
                idx[m] = idx[m - 1];
            }
            keys[m] = k;
            idx[m] = v;
        }
        return;
    }
    for (int shift = 0; shift < 64; shift += DIGIT_BITS) {
        uint32_t *c = ws->counts;
        uint32_t sum = 0;
        memset(c, 0, sizeof ws->counts);
        for (size_t j = 0; j < n; j++)
            c[(k_in[j] >> shift) & DIGIT_MASK]++;
        if (c[(k_in[0] >> shift) & DIGIT_MASK] == n)
            continue; /* every key has this digit: the pass would not move anything */
        for (size_t d = 0; d <= DIGIT_MASK; d++) {
            uint32_t t = c[d];
            c[d] = sum;
            sum += t;
        }
        for (size_t j = 0; j < n; j++) {
            uint32_t pos = c[(k_in[j] >> shift) & DIGIT_MASK]++;
            k_out[pos] = k_in[j];
            i_out[pos] = i_in[j];
        }
        { uint64_t *t = k_in; k_in = k_out; k_out = t; }
        { uint32_t *t = i_in; i_in = i_out; i_out = t; }
    }
    if (k_in != keys) {
        memcpy(keys, k_in, n * sizeof *keys);
        memcpy(idx, i_in, n * sizeof *idx);
    }
}

static uint64_t price_key(double p)
{
    uint64_t k;
    p += 0.0;
    memcpy(&k, &p, sizeof k);
    return k;
}

int mkt_sort_orders(struct mkt_clear_ws *ws, const struct mkt_order *orders, size_t n, int desc,
                    uint32_t *idx)
{
    if (ws_reserve(ws, n))
        return ERR_NOMEM;
    /* Pass 1: by seq. */
    for (size_t j = 0; j < n; j++) {
        ws->keys[j] = orders[j].seq;
        ws->idx[j] = (uint32_t)j;
    }
    sort_keys(ws, ws->keys, ws->idx, n);
    /* Pass 2: stably by price. */
    for (size_t j = 0; j < n; j++) {
        uint64_t k = price_key(orders[ws->idx[j]].price);
        ws->keys[j] = desc ? ~k : k;
    }
    sort_keys(ws, ws->keys, ws->idx, n);
    memcpy(idx, ws->idx, n * sizeof *idx);
    return 0;
}

/* Merit-order walk shared by pay-as-bid, pay-as-clear and the surplus bound. */
static int merit_walk(struct mkt_clear_ws *ws, const struct mkt_order *bids, size_t nb,
                      const struct mkt_order *asks, size_t na, size_t *n_matches)
{
    size_t i = 0, j = 0;
    if (mkt_sort_orders(ws, bids, nb, 1, ws->bid_idx) ||
        mkt_sort_orders(ws, asks, na, 0, ws->ask_idx))
        return ERR_NOMEM;
    for (size_t k = 0; k < nb; k++)
        ws->rem_bid[k] = bids[k].kwh;
    for (size_t k = 0; k < na; k++)
        ws->rem_ask[k] = asks[k].kwh;
    *n_matches = 0;
    while (i < nb && j < na) {
        uint32_t b = ws->bid_idx[i], a = ws->ask_idx[j];
        double q;
        if (bids[b].price < asks[a].price)
            break;
        q = ws->rem_bid[b] < ws->rem_ask[a] ? ws->rem_bid[b] : ws->rem_ask[a];
        if (q > 0 && add_match(ws, n_matches, (struct mkt_match){asks[a].agent, bids[b].agent, a,
                                                                  b, q, bids[b].price}))
            return ERR_NOMEM;
        ws->rem_bid[b] -= q;
        ws->rem_ask[a] -= q;
        if (ws->rem_bid[b] <= 0)
            i++;
        if (ws->rem_ask[a] <= 0)
            j++;
    }
    return 0;
}

static int negotiate(struct mkt_clear_ws *ws, const struct mkt_order *bids, size_t nb,
                     const struct mkt_order *asks, size_t na, gsl_rng *r, size_t *n_matches)
{
    size_t j = 0;
    if (mkt_sort_orders(ws, asks, na, 0, ws->ask_idx))
        return ERR_NOMEM;
    for (size_t k = 0; k < na; k++)
        ws->rem_ask[k] = asks[k].kwh;
    /* Buyers in a random order (Fisher-Yates over the arrival order). */
    for (size_t k = 0; k < nb; k++)
        ws->perm[k] = (uint32_t)k;
    for (size_t k = nb; k > 1; k--) {
        size_t s = (size_t)gsl_rng_uniform_int(r, k);
        uint32_t t = ws->perm[k - 1];
        ws->perm[k - 1] = ws->perm[s];
        ws->perm[s] = t;
    }
    *n_matches = 0;
    for (size_t k = 0; k < nb && j < na; k++) {
        uint32_t b = ws->perm[k];
        double want = bids[b].kwh;
        /* Offers before j are exhausted; the cheapest remaining is at j. */
        while (want > 0 && j < na) {
            uint32_t a = ws->ask_idx[j];
            double q;
            if (asks[a].price > bids[b].price)
                break; /* nothing this buyer can afford; later buyers may bid higher */
            q = want < ws->rem_ask[a] ? want : ws->rem_ask[a];
            if (add_match(ws, n_matches, (struct mkt_match){asks[a].agent, bids[b].agent, a, b, q,
                                                            asks[a].price}))
                return ERR_NOMEM;
            want -= q;
            ws->rem_ask[a] -= q;
            if (ws->rem_ask[a] <= 0)
                j++;
        }
    }
    return 0;
}

int mkt_clear(struct mkt_clear_ws *ws, int mech, const struct mkt_order *bids, size_t nb,
              const struct mkt_order *asks, size_t na, gsl_rng *r,
              const struct mkt_match **matches, size_t *n_matches, double *clearing_price)
{
    int rc;
    double vol = 0, val = 0;
    if (ws_reserve(ws, nb > na ? nb : na))
        return ERR_NOMEM;
    *n_matches = 0;
    if (mech == MKT_NEGOTIATION)
        rc = negotiate(ws, bids, nb, asks, na, r, n_matches);
    else
        rc = merit_walk(ws, bids, nb, asks, na, n_matches);
    if (rc)
        return rc;
    if (mech == MKT_PAY_AS_CLEAR && *n_matches > 0) {
        const struct mkt_match *last = &ws->matches[*n_matches - 1];
        double p = 0.5 * (bids[last->bid].price + asks[last->ask].price);
        for (size_t k = 0; k < *n_matches; k++)
            ws->matches[k].price = p;
    }
    for (size_t k = 0; k < *n_matches; k++) {
        vol += ws->matches[k].kwh;
        val += ws->matches[k].kwh * ws->matches[k].price;
    }
    *clearing_price = vol > 0 ? val / vol : NAN;
    *matches = ws->matches;
    return 0;
}

int mkt_max_surplus(struct mkt_clear_ws *ws, const struct mkt_order *bids, size_t nb,
                    const struct mkt_order *asks, size_t na, double *surplus)
{
    size_t n = 0;
    if (ws_reserve(ws, nb > na ? nb : na) || merit_walk(ws, bids, nb, asks, na, &n))
        return ERR_NOMEM;
    *surplus = 0;
    for (size_t k = 0; k < n; k++)
        *surplus += ws->matches[k].kwh *
                    (bids[ws->matches[k].bid].price - asks[ws->matches[k].ask].price);
    return 0;
}

const char *mkt_mechanism_name(int mech)
{
    switch (mech) {
    case MKT_NEGOTIATION: return "negotiation";
    case MKT_PAY_AS_BID: return "pay_as_bid";
    case MKT_PAY_AS_CLEAR: return "pay_as_clear";
    case MKT_CDA: return "cda";
    default: return "?";
    }
}
