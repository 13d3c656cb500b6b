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
#include "core/grow.h"
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
    size_t cap = ws->cap;
    if (n <= ws->cap)
        return 0;
    /* parallel arrays: each grows from ws->cap to the same new capacity, kept in cap */
#define GROW(p)                                                                                \
    do {                                                                                       \
        cap = ws->cap;                                                                         \
        if (grow_array(&ws->p, &cap, n, sizeof *ws->p))                                        \
            return ERR_NOMEM;                                                                  \
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
    if (grow_array(&ws->matches, &ws->match_cap, *n + 1, sizeof *ws->matches))
        return ERR_NOMEM;
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
    if (n == 0)
        return 0;
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

/* ---- continuous double auction ------------------------------------------------------------ */

struct cda_item {
    uint64_t key; /* price key, complemented for bids: smaller is better on both heaps */
    uint64_t seq;
    uint32_t agent;
};

struct cda_heap {
    struct cda_item *a;
    size_t n, cap;
};

struct mkt_cda {
    size_t n_agents;
    double *kwh;   /* resting quantity per agent */
    double *price;
    uint64_t *seq; /* the live order's seq per agent; heap entries with another seq are stale */
    int8_t *side;  /* 1 seller, 0 buyer */
    struct cda_heap asks, bids;
    struct mkt_match *matches;
    size_t match_cap;
};

static int cda_less(const struct cda_item *a, const struct cda_item *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static int cda_push(struct cda_heap *h, struct cda_item x)
{
    size_t i;
    if (grow_array(&h->a, &h->cap, h->n + 1, sizeof *h->a))
        return ERR_NOMEM;
    i = h->n++;
    while (i > 0 && cda_less(&x, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = x;
    return 0;
}

static void cda_pop(struct cda_heap *h)
{
    struct cda_item x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && cda_less(&h->a[c + 1], &h->a[c]))
            c++;
        if (!cda_less(&h->a[c], &x))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = x;
}

/* Best live order on a heap; stale entries (replaced or filled) are dropped on the way. */
static int cda_best(struct mkt_cda *b, struct cda_heap *h, uint32_t *agent)
{
    while (h->n) {
        const struct cda_item *top = &h->a[0];
        if (b->seq[top->agent] == top->seq && b->kwh[top->agent] > 0) {
            *agent = top->agent;
            return 1;
        }
        cda_pop(h);
    }
    return 0;
}

struct mkt_cda *mkt_cda_new(size_t n_agents)
{
    struct mkt_cda *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->n_agents = n_agents;
    b->kwh = calloc(n_agents + 1, sizeof *b->kwh);
    b->price = calloc(n_agents + 1, sizeof *b->price);
    b->seq = calloc(n_agents + 1, sizeof *b->seq);
    b->side = calloc(n_agents + 1, sizeof *b->side);
    if (!b->kwh || !b->price || !b->seq || !b->side) {
        mkt_cda_free(b);
        return NULL;
    }
    return b;
}

void mkt_cda_free(struct mkt_cda *b)
{
    if (!b)
        return;
    free(b->kwh);
    free(b->price);
    free(b->seq);
    free(b->side);
    free(b->asks.a);
    free(b->bids.a);
    free(b->matches);
    free(b);
}

void mkt_cda_reset(struct mkt_cda *b)
{
    memset(b->kwh, 0, b->n_agents * sizeof *b->kwh);
    b->asks.n = b->bids.n = 0;
}

double mkt_cda_resting(const struct mkt_cda *b, uint32_t agent)
{
    return agent < b->n_agents ? b->kwh[agent] : 0.0;
}

int mkt_cda_submit(struct mkt_cda *b, int seller, const struct mkt_order *o,
                   const struct mkt_match **matches, size_t *n_matches)
{
    struct cda_heap *opp = seller ? &b->bids : &b->asks;
    uint32_t a = o->agent, other;
    double want = o->kwh;
    size_t n = 0;

    *n_matches = 0;
    *matches = b->matches;
    if (a >= b->n_agents)
        return ERR_RUNTIME;
    b->kwh[a] = 0; /* the new order replaces the old one */
    while (want > 0 && cda_best(b, opp, &other)) {
        double p = b->price[other], q;
        if (seller ? p < o->price : p > o->price)
            break;
        q = want < b->kwh[other] ? want : b->kwh[other];
        if (grow_array(&b->matches, &b->match_cap, n + 1, sizeof *b->matches))
            return ERR_NOMEM;
        b->matches[n++] = (struct mkt_match){seller ? a : other, seller ? other : a,
                                             seller ? a : other, seller ? other : a, q, p};
        want -= q;
        b->kwh[other] -= q;
        if (b->kwh[other] < 1e-12)
            b->kwh[other] = 0;
    }
    if (want > 1e-12) {
        struct cda_item it = {seller ? price_key(o->price) : ~price_key(o->price), o->seq, a};
        b->kwh[a] = want;
        b->price[a] = o->price;
        b->seq[a] = o->seq;
        b->side[a] = (int8_t)seller;
        if (cda_push(seller ? &b->asks : &b->bids, it))
            return ERR_NOMEM;
    }
    *matches = b->matches;
    *n_matches = n;
    return 0;
}
