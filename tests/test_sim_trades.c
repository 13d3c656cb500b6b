/* test_sim_trades — /trades stores the final main chain's inclusion of every trade.
 *
 * The reproduction (price_convergence with 90 agents under negotiation, 6 nodes and 3 s
 * mean jitter: many forks, trades orphaned and re-included) is run through the API, and each
 * /trades row is checked against the chain as a reader would recompute it from /blocks and
 * /transactions alone: the main-chain (stale = 0) transaction whose ref is the row's group gives
 * the height, that height's main-chain block gives t_included (its t_found), and the trade counts
 * as confirmed exactly when the main chain holds chain.confirmations blocks from that height on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli_harness.h"
#include "core/config.h"
#include "run/sim.h"
#include "io/h5.h"

#define MAXB ((size_t)1 << 30)

static void *col(struct h5_reader *r, const char *t, const char *c, enum h5_type ty, size_t *n)
{
    void *out = NULL;
    struct err e = {0};
    if (h5_reader_column(r, t, c, ty, ty == H5_COL_STR ? 65 : 0, MAXB, &out, n, &e))
        fail_msg("/%s/%s: %s", t, c, e.msg);
    return out;
}

static void test_sim_trades_store_final_main_chain_inclusion(void **state)
{
    const char *src = getenv("SETM_SOURCE_DIR");
    char scen[512], dir[64], path[128];
    struct cfg cfg;
    struct err e = {0};
    struct sim_opts o;
    struct sim_summary sum;
    struct h5_reader *r;
    size_t nb, nt, ntr, n;
    int64_t *bh, *bs, *th, *ts, *tk, *trh, top = -1, reorged = 0, checked = 0, confirmed = 0;
    uint64_t *tref, *trg;
    double *btf, *tri, *trc, *trag;
    double *tf_at;
    int64_t *h_of_ref;
    uint64_t max_ref = 0;
    (void)state;

    snprintf(scen, sizeof scen, "%s/scenarios/price_convergence.ini", src ? src : ".");
    assert_int_equal(tu_mkdtemp(dir, "trades"), 0);
    snprintf(path, sizeof path, "%s/run.h5", dir);
    cfg_init(&cfg);
    if (cfg_load_file(&cfg, scen, &e) || cfg_set(&cfg, "mine.backend=cpu", &e) ||
        cfg_set(&cfg, "population.count=90", &e) ||
        cfg_set(&cfg, "market.mechanism=negotiation", &e) || cfg_set(&cfg, "chain.nodes=6", &e) ||
        cfg_set(&cfg, "chain.propagation_jitter_s=3", &e) || cfg_validate(&cfg, &e))
        fail_msg("scenario: %s", e.msg);
    memset(&o, 0, sizeof o);
    o.output = path;
    if (sim_run(&cfg, &o, &sum, &e))
        fail_msg("run: %s", e.msg);

    assert_non_null(r = h5_reader_open(path, &e));
    bh = col(r, "blocks", "height", H5_COL_I64, &nb);
    bs = col(r, "blocks", "stale", H5_COL_I64, &n);
    btf = col(r, "blocks", "t_found", H5_COL_F64, &n);
    th = col(r, "transactions", "height", H5_COL_I64, &nt);
    ts = col(r, "transactions", "stale", H5_COL_I64, &n);
    tk = col(r, "transactions", "kind", H5_COL_I64, &n);
    tref = col(r, "transactions", "ref", H5_COL_U64, &n);
    trg = col(r, "trades", "group", H5_COL_U64, &ntr);
    trh = col(r, "trades", "height", H5_COL_I64, &n);
    tri = col(r, "trades", "t_included", H5_COL_F64, &n);
    trc = col(r, "trades", "t_confirmed", H5_COL_F64, &n);
    trag = col(r, "trades", "t_agree", H5_COL_F64, &n);
    h5_reader_close(r);

    /* main chain: t_found by height */
    assert_non_null(tf_at = calloc(nb + 1, sizeof *tf_at));
    for (size_t i = 0; i < nb; i++)
        if (!bs[i]) {
            assert_true(bh[i] >= 0 && (size_t)bh[i] < nb);
            tf_at[bh[i]] = btf[i];
            if (bh[i] > top)
                top = bh[i];
        }
    for (size_t i = 0; i < nt; i++)
        if (tref[i] > max_ref)
            max_ref = tref[i];
    for (size_t i = 0; i < ntr; i++)
        if (trg[i] > max_ref)
            max_ref = trg[i];
    assert_non_null(h_of_ref = malloc((max_ref + 1) * sizeof *h_of_ref));
    for (uint64_t k = 0; k <= max_ref; k++)
        h_of_ref[k] = -1;
    for (size_t i = 0; i < nt; i++) {
        if (tk[i] != 1)
            continue;
        if (ts[i])
            reorged++; /* a trade transaction in an orphaned block */
        else
            h_of_ref[tref[i]] = th[i];
    }
    assert_true(reorged > 0); /* the scenario does orphan trades */
    for (size_t i = 0; i < ntr; i++) {
        const int64_t want = h_of_ref[trg[i]];
        if (trh[i] != want)
            fail_msg("/trades row %zu (group %llu): height %lld, the main chain holds its "
                     "transaction at %lld",
                     i, (unsigned long long)trg[i], (long long)trh[i], (long long)want);
        if (want < 0) {
            assert_true(isnan(tri[i]) && isnan(trc[i]));
            continue;
        }
        checked++;
        if (tri[i] != tf_at[want])
            fail_msg("/trades row %zu: t_included %.17g, its main-chain block was found at %.17g",
                     i, tri[i], tf_at[want]);
        assert_true(tri[i] >= trag[i]);
        if (want + cfg.chain.confirmations - 1 <= top) {
            confirmed++;
            if (!(trc[i] >= tri[i]))
                fail_msg("/trades row %zu: confirmed on the main chain but t_confirmed %.17g "
                         "(t_included %.17g)",
                         i, trc[i], tri[i]);
        } else {
            assert_true(isnan(trc[i]));
        }
    }
    assert_true(checked > 100);
    assert_true(confirmed > 100);
    free(bh), free(bs), free(btf), free(th), free(ts), free(tk), free(tref), free(trg);
    free(trh), free(tri), free(trc), free(trag), free(tf_at), free(h_of_ref);
    cfg_fini(&cfg);
    assert_int_equal(tu_rmrf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_trades_store_final_main_chain_inclusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
