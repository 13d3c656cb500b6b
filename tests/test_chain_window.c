/* test_chain_window — the block window (chain_blocks_forget) drops only blocks nothing reads
 * again: a run with selfish mining, tampered copies, double spends, retargeting and reorgs gives
 * the same tip and every dataset bit for bit whether blocks are dropped or all kept (the test hook
 * SETM_TEST_KEEP_BLOCKS), over enough blocks that the window is compacted several times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli_harness.h"
#include <hdf5.h>

#include "core/config.h"
#include "run/sim.h"
#include "io/h5.h"
#include "run_compare.h"

static void run_once(const char *path, const char *const *keys, size_t n_keys, int keep_all)
{
    if (keep_all)
        assert_int_equal(setenv("SETM_TEST_KEEP_BLOCKS", "1", 1), 0);
    else
        assert_int_equal(unsetenv("SETM_TEST_KEEP_BLOCKS"), 0);
    run_attacks(path, keys, n_keys, 0);
    assert_int_equal(unsetenv("SETM_TEST_KEEP_BLOCKS"), 0);
}

static void same_with_and_without_window(const char *tag, const char *const *keys, size_t n_keys,
                                         const char *must_be_positive[], size_t n_pos)
{
    char dir[64], a[128], b[128];
    hid_t f;
    assert_int_equal(tu_mkdtemp(dir, tag), 0);
    snprintf(a, sizeof a, "%s/window.h5", dir);
    snprintf(b, sizeof b, "%s/all.h5", dir);
    run_once(a, keys, n_keys, 0);
    run_once(b, keys, n_keys, 1);
    f = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    /* long enough for the window to be compacted (1,024 dropped blocks) more than once */
    assert_true(summary_i64(f, "/summary/chain_height") > 3000);
    for (size_t k = 0; k < n_pos; k++)
        if (summary_i64(f, must_be_positive[k]) <= 0)
            fail_msg("%s: %s is 0, so the comparison would not exercise it", tag,
                     must_be_positive[k]);
    H5Fclose(f);
    assert_true(runs_same(b, a, "blocks dropped against all kept") > 100);
    assert_int_equal(tu_rmrf(dir), 0);
}

/* Honest nodes, tampered copies, double spends, forks and a retarget every 16 blocks with a short
 * finality depth, so dropped blocks sit just below what retargets, ledgers and deliveries read. */
static void test_chain_window_changes_no_output(void **state)
{
    const char *keys[] = {"population.count=20",          "sim.days=1.5",
                          "chain.difficulty_bits=6",      "chain.block_interval_s=30",
                          "chain.retarget_blocks=16",     "chain.finality_depth=5",
                          "chain.confirmations=3",        "chain.propagation_jitter_s=4",
                          "attacks.tampered_block_rate=0.1", "attacks.double_spend_rate=0.1"};
    const char *pos[] = {"/summary/chain_stale_blocks", "/summary/chain_tampered_rejected",
                         "/summary/chain_double_spends_detected", "/summary/chain_reorgs"};
    (void)state;
    same_with_and_without_window("win", keys, sizeof keys / sizeof keys[0], pos,
                                 sizeof pos / sizeof pos[0]);
}

/* A selfish miner with a third of the hash rate: withheld branches, overrides, and private
 * branches that die at the checkpoint and are abandoned, all near the bottom of the window. */
static void test_chain_window_selfish_changes_no_output(void **state)
{
    const char *keys[] = {"population.count=20",      "sim.days=1.5",
                          "chain.difficulty_bits=6",  "chain.block_interval_s=30",
                          "chain.finality_depth=4",   "chain.confirmations=2",
                          "chain.nodes=4",            "chain.hash_shares=0.22,0.22,0.22,0.34",
                          "attacks.selfish_node=3"};
    const char *pos[] = {"/summary/chain_stale_blocks", "/summary/chain_selfish_blocks_main",
                         "/summary/chain_reorgs"};
    (void)state;
    same_with_and_without_window("winsm", keys, sizeof keys / sizeof keys[0], pos,
                                 sizeof pos / sizeof pos[0]);
}

/* One node: no delivery is ever pending, so only the window's own margin (the retarget window
 * and the confirmations below the checkpoint) keeps what a retarget reads. */
static void test_chain_window_one_node_retarget_changes_no_output(void **state)
{
    const char *keys[] = {"population.count=20",      "sim.days=1.5",
                          "chain.difficulty_bits=6",  "chain.block_interval_s=30",
                          "chain.nodes=1",            "chain.retarget_blocks=16",
                          "chain.finality_depth=3",   "chain.confirmations=2"};
    const char *pos[] = {"/summary/chain_txs_main"};
    (void)state;
    same_with_and_without_window("win1", keys, sizeof keys / sizeof keys[0], pos,
                                 sizeof pos / sizeof pos[0]);
}

/* Deliveries slower than the checkpoint moves (jitter of ten block intervals): genuine and
 * tampered copies arrive after their block fell below the window's margin, so what their checks
 * read (the block, its parent, its parent's retarget window) must be kept for them. */
static void test_chain_window_slow_deliveries_change_no_output(void **state)
{
    const char *keys[] = {"population.count=20",          "sim.days=1.5",
                          "chain.difficulty_bits=6",      "chain.block_interval_s=30",
                          "chain.retarget_blocks=8",      "chain.finality_depth=2",
                          "chain.confirmations=1",        "chain.propagation_jitter_s=300",
                          "attacks.tampered_block_rate=0.3"};
    const char *pos[] = {"/summary/chain_stale_blocks", "/summary/chain_tampered_rejected"};
    (void)state;
    same_with_and_without_window("winslow", keys, sizeof keys / sizeof keys[0], pos,
                                 sizeof pos / sizeof pos[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_window_changes_no_output),
        cmocka_unit_test(test_chain_window_selfish_changes_no_output),
        cmocka_unit_test(test_chain_window_one_node_retarget_changes_no_output),
        cmocka_unit_test(test_chain_window_slow_deliveries_change_no_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
