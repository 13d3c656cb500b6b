/* strategy — fixed, linear, ZI-C, ZI-U and ZIP pricing; see strategy.h. */
#include "strategy.h"

#include <math.h>

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

const char *mkt_strategy_name(int strategy)
{
    static const char *const names[] = {"fixed", "linear", "zic", "zip", "zi_u"};
    return strategy >= 0 && strategy < MKT_NSTRATEGIES ? names[strategy] : "?";
}

static double linear_price(int seller, double lo, double hi, int round, int rounds)
{
    double f = rounds > 1 ? (double)round / (double)(rounds - 1) : 1.0;
    return seller ? hi - (hi - lo) * f : lo + (hi - lo) * f;
}

double mkt_strategy_open(int strategy, int seller, double min_bid, double max_bid, int rounds,
                         struct mkt_strat_state *st, gsl_rng *r)
{
    double limit = seller ? min_bid : max_bid;
    st->momentum = 0;
    switch (strategy) {
    case MKT_FIXED:
        return limit;
    case MKT_LINEAR:
        return linear_price(seller, min_bid, max_bid, 0, rounds);
    case MKT_ZIC:
    case MKT_ZIU: /* the same draw; the caller passes the market's range for zi_u */
        return min_bid + (max_bid - min_bid) * gsl_rng_uniform(r);
    case MKT_ZIP:
    default:
        st->beta = 0.1 + 0.4 * gsl_rng_uniform(r);
        st->gamma = 0.1 * gsl_rng_uniform(r);
        st->margin = (seller ? 1.0 : -1.0) * (0.05 + 0.30 * gsl_rng_uniform(r));
        return clamp(limit * (1.0 + st->margin), min_bid, max_bid);
    }
}

double mkt_strategy_next(int strategy, int seller, double min_bid, double max_bid, int round,
                         int rounds, double price, int traded, const struct mkt_market_view *view,
                         struct mkt_strat_state *st, gsl_rng *r)
{
    double limit = seller ? min_bid : max_bid;
    switch (strategy) {
    case MKT_FIXED:
        return limit;
    case MKT_LINEAR:
        return linear_price(seller, min_bid, max_bid, round, rounds);
    case MKT_ZIC:
    case MKT_ZIU: /* the same draw; the caller passes the market's range for zi_u */
        return min_bid + (max_bid - min_bid) * gsl_rng_uniform(r);
    case MKT_ZIP:
    default: {
        /* Reference price: the last trade, else the best quote on the other side. */
        double q = !isnan(view->last_price) ? view->last_price
                   : seller                 ? view->best_bid
                                            : view->best_ask;
        double target, delta, p;
        int raise; /* move the price up? */
        if (isnan(q))
            return price; /* nothing to learn from */
        if (seller)
            raise = traded && price <= q; /* sold at or below the market: ask more */
        else
            raise = !traded && price <= q; /* priced out: bid more */
        if (!raise && ((seller && price < q && traded) || (!seller && traded && price < q)))
            return price; /* already on the right side */
        if (raise)
            target = q * (1.0 + 0.05 * gsl_rng_uniform(r)) + 0.05 * gsl_rng_uniform(r);
        else
            target = q * (1.0 - 0.05 * gsl_rng_uniform(r)) - 0.05 * gsl_rng_uniform(r);
        delta = st->beta * (target - price);
        st->momentum = st->gamma * st->momentum + (1.0 - st->gamma) * delta;
        p = clamp(price + st->momentum, min_bid, max_bid);
        if (limit > 0)
            st->margin = p / limit - 1.0;
        return p;
    }
    }
}
