/* phold — PHOLD on the engine; see phold.h.  Setup allocates; the event loop does not. */
#include "core/wallclock.h"
#include "phold.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine.h"
#include "core/events.h"
#include "core/rng.h"


struct phold {
    struct rng_bank *streams; /* one stream per LP */
    uint32_t lps;
    uint64_t remaining;
    double mean;
    uint64_t checksum;
};

static int phold_on_event(struct eng *eng, const struct eng_event *ev, void *vctx)
{
    struct phold *p = vctx;
    gsl_rng *r = rng_bank_get(p->streams, ev->target);
    double delay = rng_exponential(r, p->mean);
    uint32_t dest = (uint32_t)rng_below(r, p->lps);
    uint64_t bits;

    memcpy(&bits, &ev->time, sizeof bits);
    p->checksum = (p->checksum ^ bits ^ ev->target) * 0x100000001b3ULL;
    if (--p->remaining == 0) {
        eng_stop(eng);
        return 0;
    }
    return eng_schedule(eng, ev->time + delay, PHOLD_EV, dest, NULL, NULL);
}

int phold_run(uint32_t lps, uint64_t events, uint32_t population, double mean_delay,
              uint64_t seed, struct phold_result *out, struct err *e)
{
    struct phold p;
    struct eng *eng = NULL;
    int rc = 0;
    double t0;

    if (lps == 0 || events == 0 || population == 0 || !(mean_delay > 0) || !isfinite(mean_delay))
        return err_set(e, ERR_USAGE, "phold: needs lps, events, population >= 1 and mean > 0");
    memset(&p, 0, sizeof p);
    p.lps = lps;
    p.remaining = events;
    p.mean = mean_delay;
    p.checksum = 0xcbf29ce484222325ULL;
    p.streams = rng_bank_new(seed, "phold", lps);
    eng = eng_new((size_t)lps * population + 16);
    if (!p.streams || !eng) {
        rc = err_set(e, ERR_NOMEM, "phold: out of memory for %u LPs", lps);
        goto out;
    }
    rc = eng_handler_set(eng, PHOLD_EV, phold_on_event, &p);
    if (rc) {
        err_set(e, rc, "phold: %s", eng_err(eng)->msg);
        goto out;
    }
    for (uint32_t i = 0; i < lps; i++)
        for (uint32_t k = 0; k < population; k++) {
            rc = eng_schedule(eng, rng_exponential(rng_bank_get(p.streams, i), mean_delay), PHOLD_EV, i, NULL,
                              NULL);
            if (rc) {
                err_set(e, rc, "phold: %s", eng_err(eng)->msg);
                goto out;
            }
        }
    t0 = wallclock_now();
    rc = eng_run_until(eng, INFINITY);
    out->wall_s = wallclock_now() - t0;
    if (rc == ERR_INTERRUPTED)
        rc = 0; /* the model stops itself after `events` */
    if (rc) {
        err_set(e, rc, "phold: %s", eng_err(eng)->msg);
        goto out;
    }
    out->events = eng_executed(eng);
    out->sim_time = eng_now(eng);
    out->checksum = p.checksum;
out:
    rng_bank_free(p.streams);
    eng_free(eng);
    return rc;
}
