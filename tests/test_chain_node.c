/* test_chain_node — the chain component: construction errors, determinism (seed, backend),
 * PoW interval statistics, trades from admission to settlement, wallets, every admission
 * rejection, forks resolved by most work (checked from the written /blocks and /transactions as
 * an independent verifier would: hashes, links, txids, Merkle roots), tampered copies, selfish
 * mining, double-spend attacks, retargeting, finality as a checkpoint (no reorg deeper than
 * chain.finality_depth, a withholder's dead branch abandoned), the transaction-id window
 * (admission and mempool boundaries, replays after an id was forgotten) and the records alive
 * staying bounded over days. */
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
#include <hdf5.h>
#include <sodium.h>

#include "chain/chain.h"
#include "crypto/sha256.h"
#include "chain/verify.h"
#include "core/pool.h"

#define AGENTS 8
#define MAXREF 4096

struct fixture {
    struct cfg cfg;
    struct eng *eng;
    struct chain *c;
    unsigned char pk[AGENTS][crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[AGENTS][crypto_sign_SECRETKEYBYTES];
    /* hook records */
    int n_sec, n_reject;
    char sec_kind[64][40], sec_action[64][40], reject_reason[64][24];
    int64_t sec_count_kind_tampered, sec_double, sec_withheld, sec_revealed;
    int64_t included_h[MAXREF], confirmed_h[MAXREF], confirmed_tip[MAXREF];
    double included_t[MAXREF], confirmed_t[MAXREF];
};

static void on_security(void *ctx, double t, int64_t who, const char *kind, const char *action,
                        int detected)
{
    struct fixture *f = ctx;
    (void)t;
    (void)who;
    if (f->n_sec < 64) {
        snprintf(f->sec_kind[f->n_sec], 40, "%s", kind);
        snprintf(f->sec_action[f->n_sec], 40, "%s", action);
    }
    f->n_sec++;
    if (!strcmp(kind, "tampered_block") && detected)
        f->sec_count_kind_tampered++;
    if (!strcmp(kind, "double_spend"))
        f->sec_double++;
    if (!strcmp(kind, "selfish_mining") && !strcmp(action, "withheld"))
        f->sec_withheld++;
    if (!strcmp(kind, "selfish_mining") &&
        (!strcmp(action, "override") || !strcmp(action, "published")))
        f->sec_revealed++;
}

static void on_included(void *ctx, uint64_t ref, double t, int64_t h)
{
    struct fixture *f = ctx;
    if (ref < MAXREF) {
        f->included_h[ref] = h;
        f->included_t[ref] = t;
    }
}

static void on_confirmed(void *ctx, uint64_t ref, double t, int64_t h)
{
    struct fixture *f = ctx;
    struct chain_summary s;
    if (ref < MAXREF) {
        chain_summary_get(f->c, &s);
        f->confirmed_h[ref] = h;
        f->confirmed_t[ref] = t;
        f->confirmed_tip[ref] = s.height;
    }
}

static void on_rejected(void *ctx, uint64_t ref, double t, const char *reason)
{
    struct fixture *f = ctx;
    (void)ref;
    (void)t;
    if (f->n_reject < 64)
        snprintf(f->reject_reason[f->n_reject], 24, "%s", reason);
    f->n_reject++;
}

static int on_sign(void *ctx, int64_t agent, const unsigned char *msg, size_t len,
                   unsigned char sig[CHAIN_SIG_LEN])
{
    struct fixture *f = ctx;
    if (agent < 0 || agent >= AGENTS)
        return -1;
    crypto_sign_detached(sig, NULL, msg, len, f->sk[agent]);
    return 0;
}

static struct chain_hooks hooks_of(struct fixture *f)
{
    struct chain_hooks h = {f, on_security, on_included, on_confirmed, on_rejected, on_sign, NULL,
                            NULL};
    return h;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || sodium_init() < 0)
        return -1;
    cfg_init(&f->cfg);
    f->cfg.population.count = AGENTS;
    f->cfg.population.share[CFG_AGENT_HOME_SOLAR] = 1;
    f->cfg.mine.backend = CFG_BACKEND_CPU;
    f->cfg.mine.threads = 1;
    f->cfg.chain.difficulty_bits = 8;
    for (int a = 0; a < AGENTS; a++) {
        unsigned char seed[crypto_sign_SEEDBYTES];
        memset(seed, 50 + a, sizeof seed);
        crypto_sign_seed_keypair(f->pk[a], f->sk[a], seed);
    }
    memset(f->included_h, 0xff, sizeof f->included_h);
    memset(f->confirmed_h, 0xff, sizeof f->confirmed_h);
    f->eng = eng_new(256);
    *state = f;
    return f->eng ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    chain_free(f->c);
    eng_free(f->eng);
    cfg_fini(&f->cfg);
    free(f);
    return 0;
}

static void start(struct fixture *f)
{
    struct chain_hooks h = hooks_of(f);
    struct err e = {0};
    f->c = chain_new(&f->cfg, f->eng, &h, &e);
    if (!f->c)
        fail_msg("chain_new: %s", e.msg);
}

static void run(struct fixture *f, double t)
{
    int rc = eng_run_until(f->eng, t);
    if (rc)
        fail_msg("run: %s", eng_err(f->eng)->msg);
}

/* A trade made (agreed) at `at`, signed by both parties with their fixture keys: the same
 * arguments give the same bytes (Ed25519 signatures are deterministic). */
static int trade_at(struct fixture *f, uint64_t ref, int64_t seller, int64_t buyer, double kwh,
                    double price, double at, struct err *e)
{
    struct chain_buyer b;
    struct chain_trade t;
    unsigned char msg[512];
    size_t len;
    int rc;
    memset(&t, 0, sizeof t);
    memset(&b, 0, sizeof b);
    b.agent = buyer;
    b.kwh = kwh;
    memcpy(b.pk, f->pk[buyer], 32);
    t.trade_ref = ref;
    t.seller = seller;
    memcpy(t.seller_pk, f->pk[seller], 32);
    t.price = price;
    t.request_time = at;
    t.agreement_time = at;
    t.n_buyers = 1;
    t.buyers = &b;
    if ((rc = chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, e)))
        return rc;
    crypto_sign_detached(t.seller_sig, NULL, msg, len, f->sk[seller]);
    crypto_sign_detached(b.sig, NULL, msg, len, f->sk[buyer]);
    return chain_submit_trade(f->c, &t, e);
}

/* A trade made now. */
static int trade(struct fixture *f, uint64_t ref, int64_t seller, int64_t buyer, double kwh,
                 double price, struct err *e)
{
    return trade_at(f, ref, seller, buyer, kwh, price, eng_now(f->eng), e);
}

static int64_t total_coins(struct fixture *f, enum chain_balance_kind k)
{
    int64_t s = 0;
    for (int a = 0; a < AGENTS; a++)
        s += chain_wallet_balance(f->c, a, k);
    return s;
}

/* ---- construction --------------------------------------------------------------------- */

static void test_chain_new_rejects_share_count(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    snprintf(f->cfg.chain.hash_shares, sizeof f->cfg.chain.hash_shares, "1,2");
    assert_null(chain_new(&f->cfg, f->eng, NULL, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_non_null(strstr(e.msg, "hash_shares"));
}

static void test_chain_new_rejects_selfish_node_out_of_range(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    f->cfg.attacks.selfish_node = f->cfg.chain.nodes;
    assert_null(chain_new(&f->cfg, f->eng, NULL, &e));
    assert_int_equal(e.code, ERR_CONFIG);
}

static void test_chain_new_double_spends_need_sign_hook(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    f->cfg.attacks.double_spend_rate = 0.1;
    assert_null(chain_new(&f->cfg, f->eng, NULL, &e));
    assert_int_equal(e.code, ERR_CONFIG);
    assert_non_null(strstr(e.msg, "double_spend_rate"));
}

static void test_chain_new_with_mine_needs_backend(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    assert_null(chain_new_with_mine(&f->cfg, f->eng, NULL, NULL, &e));
    assert_int_equal(e.code, ERR_USAGE);
}

static void test_chain_new_unusable_device(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    f->cfg.mine.backend = CFG_BACKEND_OPENCL;
    snprintf(f->cfg.mine.device, sizeof f->cfg.mine.device, "no-such-device-xyz");
    assert_null(chain_new(&f->cfg, f->eng, NULL, &e));
    assert_int_equal(e.code, ERR_DEVICE);
}

static void test_chain_new_names_backend(void **state)
{
    struct fixture *f = *state;
    start(f);
    assert_non_null(strstr(chain_backend_name(f->c), "cpu"));
    assert_true(strlen(chain_device_name(f->c)) > 0);
}

/* ---- determinism and statistics ------------------------------------------------------- */

static void run_tip(struct cfg *cfg, struct mine *m, double t, unsigned char tip[32])
{
    struct eng *eng = eng_new(64);
    struct err e = {0};
    struct chain *c = m ? chain_new_with_mine(cfg, eng, NULL, m, &e) : chain_new(cfg, eng, NULL, &e);
    struct chain_summary s;
    if (!c)
        fail_msg("chain: %s", e.msg);
    assert_int_equal(eng_run_until(eng, t), 0);
    chain_summary_get(c, &s);
    assert_true(s.height > 10);
    memcpy(tip, s.tip, 32);
    chain_free(c);
    eng_free(eng);
}

static void test_chain_same_seed_same_tip(void **state)
{
    struct fixture *f = *state;
    unsigned char a[32], b[32], c[32];
    run_tip(&f->cfg, NULL, 7200, a);
    run_tip(&f->cfg, NULL, 7200, b);
    assert_memory_equal(a, b, 32);
    f->cfg.scenario.seed = 2;
    run_tip(&f->cfg, NULL, 7200, c);
    assert_memory_not_equal(a, c, 32);
}

static void test_chain_backends_same_tip(void **state)
{
    struct fixture *f = *state;
    unsigned char want[32], got[32];
    struct mine_opts o;
    struct mine *m;
    const char *skip = getenv("SETM_TEST_SKIP_OPENCL");
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_CPU;
    o.cpu_path = MINE_CPU_PATH_PORTABLE;
    o.threads = 1;
    assert_non_null(m = mine_new(&o, NULL));
    run_tip(&f->cfg, m, 7200, want);
    mine_free(m);
    if (mine_cpu_has_shani()) {
        o.cpu_path = MINE_CPU_PATH_SHANI;
        o.threads = 2;
        assert_non_null(m = mine_new(&o, NULL));
        run_tip(&f->cfg, m, 7200, got);
        mine_free(m);
        assert_memory_equal(want, got, 32);
    }
    if (!(skip && !strcmp(skip, "1"))) {
        mine_opts_init(&o);
        o.backend = MINE_BACKEND_OPENCL;
        m = mine_new(&o, NULL);
        if (m) {
            run_tip(&f->cfg, m, 7200, got);
            mine_free(m);
            assert_memory_equal(want, got, 32);
        }
    }
}

/* At fixed difficulty with one node (no forks), block intervals are exponential with mean
 * block_interval_s: over n blocks the sample mean has standard error mean/sqrt(n). */
static void test_chain_interval_mean_matches_target(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    f->cfg.chain.nodes = 1;
    start(f);
    run(f, 3000 * 60.0);
    chain_summary_get(f->c, &s);
    assert_int_equal(s.stale_blocks, 0);
    assert_true(s.height > 2500);
    assert_true(fabs(s.mean_interval_s - 60) < 4 * 60 / sqrt((double)s.height));
}

/* ---- trades, wallets, settlement ------------------------------------------------------ */

static void test_chain_trade_settles_after_confirmations(void **state)
{
    struct fixture *f = *state;
    const int64_t amount = chain_tx_coins(100, 2), init = f->cfg.chain.initial_coins;
    int saw_included_only = 0;
    start(f);
    run(f, 10);
    assert_int_equal(trade(f, 1, 0, 1, 2, 100, NULL), 0);
    for (double t = 20; t < 3 * 3600 && f->confirmed_h[1] < 0; t += 5) {
        run(f, t);
        if (f->included_h[1] >= 0 && f->confirmed_h[1] < 0) {
            saw_included_only = 1;
            assert_int_equal(chain_wallet_balance(f->c, 1, CHAIN_BALANCE_TIP), init - amount);
            assert_int_equal(chain_wallet_balance(f->c, 1, CHAIN_BALANCE_SETTLED), init);
        }
    }
    assert_true(saw_included_only);
    assert_int_equal(f->confirmed_h[1], f->included_h[1]);
    assert_int_equal(f->confirmed_tip[1] - f->confirmed_h[1] + 1, f->cfg.chain.confirmations);
    assert_true(f->confirmed_t[1] > f->included_t[1]);
    assert_int_equal(chain_wallet_balance(f->c, 1, CHAIN_BALANCE_SETTLED), init - amount);
    assert_int_equal(chain_wallet_balance(f->c, 0, CHAIN_BALANCE_SETTLED), init + amount);
}

static void test_chain_double_spend_rejected(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    f->cfg.chain.initial_coins = 1000;
    start(f);
    run(f, 1);
    assert_int_equal(trade(f, 1, 0, 1, 0.006, 100, NULL), 0); /* 600 coins */
    assert_int_equal(trade(f, 2, 2, 1, 0.006, 100, NULL), 0); /* 600 more: only 400 left */
    run(f, 3600);
    chain_summary_get(f->c, &s);
    assert_int_equal(s.double_spends_detected, 1);
    assert_int_equal(f->sec_double, 1);
    assert_int_equal(f->n_reject, 1);
    assert_string_equal(f->reject_reason[0], "double_spend");
    assert_true(f->included_h[1] > 0);
    assert_int_equal(f->included_h[2], -1);
    assert_int_equal(chain_wallet_balance(f->c, 1, CHAIN_BALANCE_TIP), 400);
    assert_int_equal(total_coins(f, CHAIN_BALANCE_TIP), AGENTS * 1000);
    assert_int_equal(total_coins(f, CHAIN_BALANCE_SETTLED), AGENTS * 1000);
}

static void test_chain_many_trades_conserve_coins(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    f->cfg.chain.initial_coins = 50000;
    f->cfg.chain.propagation_min_s = 5; /* forks too */
    start(f);
    for (int k = 0; k < 300; k++) {
        run(f, 30.0 * (k + 1));
        /* agents 0-3 sell, 4-7 buy ~10000 coins a time: buyers run dry */
        assert_int_equal(
            trade(f, (uint64_t)k + 10, k % 4, 4 + (k / 4) % 4, 0.1 + 0.01 * (k % 7), 90 + k % 11,
                  NULL),
            0);
    }
    run(f, 30.0 * 300 + 3600);
    chain_summary_get(f->c, &s);
    assert_true(s.txs_main > 0);
    assert_true(s.double_spends_detected > 0); /* 50000 coins run out for some buyers */
    assert_int_equal(total_coins(f, CHAIN_BALANCE_TIP), AGENTS * 50000);
    assert_int_equal(total_coins(f, CHAIN_BALANCE_SETTLED), AGENTS * 50000);
}

static void test_chain_bad_signature_rejected(void **state)
{
    struct fixture *f = *state;
    struct chain_buyer b;
    struct chain_trade t;
    unsigned char msg[512];
    size_t len;
    struct err e = {0};
    start(f);
    memset(&t, 0, sizeof t);
    memset(&b, 0, sizeof b);
    b.agent = 3;
    b.kwh = 1;
    memcpy(b.pk, f->pk[3], 32);
    t.trade_ref = 5;
    t.seller = 2;
    memcpy(t.seller_pk, f->pk[2], 32);
    t.price = 50;
    t.n_buyers = 1;
    t.buyers = &b;
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), 0);
    crypto_sign_detached(t.seller_sig, NULL, msg, len, f->sk[2]);
    crypto_sign_detached(b.sig, NULL, msg, len, f->sk[4]); /* wrong key for buyer 3 */
    assert_int_equal(chain_submit_trade(f->c, &t, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "bad_signature"));
    assert_string_equal(f->sec_kind[0], "bad_signature");
    assert_string_equal(f->reject_reason[0], "bad_signature");
}

/* A batch checked on a pool: each trade gets the outcome it would get alone, in order (a bad
 * buyer signature in the middle, a duplicate of the first at the end), the others go in. */
static void test_chain_batch_on_pool_same_outcomes_in_order(void **state)
{
    struct fixture *f = *state;
    struct chain_buyer b[4];
    struct chain_trade t[4];
    struct chain_summary sum;
    unsigned char msg[512];
    size_t len;
    struct err e = {0};
    struct pool *p = pool_new(3, &e);
    const int64_t seller[4] = {2, 5, 6, 2}, buyer[4] = {3, 1, 7, 3};
    assert_non_null(p);
    start(f);
    chain_pool_set(f->c, p);
    for (int k = 0; k < 4; k++) {
        memset(&t[k], 0, sizeof t[k]);
        memset(&b[k], 0, sizeof b[k]);
        b[k].agent = buyer[k];
        b[k].kwh = 1;
        memcpy(b[k].pk, f->pk[buyer[k]], 32);
        t[k].trade_ref = k == 3 ? 10 : 10 + (uint64_t)k; /* the last repeats the first */
        t[k].seller = seller[k];
        memcpy(t[k].seller_pk, f->pk[seller[k]], 32);
        t[k].price = 50;
        t[k].n_buyers = 1;
        t[k].buyers = &b[k];
        assert_int_equal(chain_trade_signing_bytes(f->c, &t[k], msg, sizeof msg, &len, NULL), 0);
        crypto_sign_detached(t[k].seller_sig, NULL, msg, len, f->sk[seller[k]]);
        /* trade 1's buyer signs with agent 4's key */
        crypto_sign_detached(b[k].sig, NULL, msg, len, f->sk[k == 1 ? 4 : buyer[k]]);
    }
    assert_int_equal(chain_submit_trades(f->c, t, 4, &e), 0);
    assert_int_equal(f->n_reject, 2);
    assert_string_equal(f->reject_reason[0], "bad_signature");
    assert_string_equal(f->reject_reason[1], "duplicate_tx");
    chain_summary_get(f->c, &sum);
    assert_int_equal(sum.txs_submitted, 2);
    assert_int_equal(sum.txs_rejected, 2);
    assert_int_equal(chain_submit_trades(f->c, t, 0, &e), 0); /* an empty batch */
    chain_pool_set(f->c, NULL);
    pool_free(p);
}

static void test_chain_key_mismatch_rejected(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    start(f);
    assert_int_equal(chain_wallet_register(f->c, 1, f->pk[5], NULL), 0);
    assert_int_equal(trade(f, 1, 0, 1, 1, 50, &e), ERR_VERIFY);
    assert_string_equal(f->sec_kind[0], "key_mismatch");
}

static void test_chain_first_key_binds_wallet(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    start(f);
    assert_int_equal(trade(f, 1, 0, 1, 1, 50, NULL), 0);
    /* agent 1's wallet is now bound to its key: a trade under agent 2's key for it fails */
    memcpy(f->pk[1], f->pk[2], 32);
    memcpy(f->sk[1], f->sk[2], sizeof f->sk[1]);
    assert_int_equal(trade(f, 2, 0, 1, 1, 50, &e), ERR_VERIFY);
    assert_string_equal(f->sec_kind[0], "key_mismatch");
}

static void test_chain_duplicate_rejected(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    start(f);
    assert_int_equal(trade(f, 9, 0, 1, 1, 50, NULL), 0);
    assert_int_equal(trade(f, 9, 0, 1, 1, 50, &e), ERR_VERIFY);
    assert_string_equal(f->sec_kind[0], "duplicate_tx");
}

static void test_chain_signing_bytes_errors(void **state)
{
    struct fixture *f = *state;
    struct chain_buyer b[2];
    struct chain_trade t;
    unsigned char msg[512];
    size_t len;
    start(f);
    memset(&t, 0, sizeof t);
    memset(b, 0, sizeof b);
    b[0].agent = 1;
    b[0].kwh = 1;
    b[1].agent = 1;
    b[1].kwh = 1;
    t.seller = 0;
    t.price = 10;
    t.n_buyers = 1;
    t.buyers = b;
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, 10, &len, NULL), ERR_USAGE);
    t.n_buyers = 2; /* buyer twice */
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), ERR_USAGE);
    t.n_buyers = 0;
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), ERR_USAGE);
    t.n_buyers = 1;
    t.seller = AGENTS;
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), ERR_USAGE);
    t.seller = 1; /* also the buyer */
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), ERR_USAGE);
    t.seller = 0;
    b[0].agent = -1;
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), ERR_USAGE);
    b[0].agent = 1;
    t.price = NAN;
    assert_int_equal(chain_trade_signing_bytes(f->c, &t, msg, sizeof msg, &len, NULL), ERR_FORMAT);
    assert_int_equal(chain_submit_trade(f->c, &t, NULL), ERR_FORMAT);
}

static void test_chain_wallet_errors(void **state)
{
    struct fixture *f = *state;
    unsigned char addr[CHAIN_ADDR_LEN];
    start(f);
    assert_int_equal(chain_wallet_fund(f->c, AGENTS, 1, NULL), ERR_USAGE);
    assert_int_equal(chain_wallet_fund(f->c, 0, -1, NULL), ERR_USAGE);
    assert_int_equal(chain_wallet_fund(f->c, 0, INT64_MAX, NULL), ERR_USAGE);
    assert_int_equal(chain_wallet_register(f->c, -1, f->pk[0], NULL), ERR_USAGE);
    assert_int_equal(chain_wallet_address(f->c, AGENTS, 0, addr, NULL), ERR_USAGE);
    assert_int_equal(chain_wallet_balance(f->c, AGENTS, CHAIN_BALANCE_TIP), -1);
}

static void test_chain_wallet_fund_adds_everywhere(void **state)
{
    struct fixture *f = *state;
    start(f);
    assert_int_equal(chain_wallet_fund(f->c, 3, 77, NULL), 0);
    assert_int_equal(chain_wallet_balance(f->c, 3, CHAIN_BALANCE_TIP),
                     f->cfg.chain.initial_coins + 77);
    assert_int_equal(chain_wallet_balance(f->c, 3, CHAIN_BALANCE_SETTLED),
                     f->cfg.chain.initial_coins + 77);
}

static void test_chain_pseudonyms_vary_by_trade(void **state)
{
    struct fixture *f = *state;
    unsigned char first[CHAIN_ADDR_LEN], a[CHAIN_ADDR_LEN], other[CHAIN_ADDR_LEN];
    int differ = 0;
    f->cfg.chain.pseudonyms = 4;
    start(f);
    assert_int_equal(chain_wallet_address(f->c, 2, 0, first, NULL), 0);
    for (uint64_t r = 1; r < 20; r++) {
        assert_int_equal(chain_wallet_address(f->c, 2, r, a, NULL), 0);
        differ += memcmp(a, first, CHAIN_ADDR_LEN) != 0;
        assert_int_equal(chain_wallet_address(f->c, 3, r, other, NULL), 0);
        assert_memory_not_equal(a, other, CHAIN_ADDR_LEN);
    }
    assert_true(differ > 0);
}

static void test_chain_one_pseudonym_is_one_address(void **state)
{
    struct fixture *f = *state;
    unsigned char a[CHAIN_ADDR_LEN], b[CHAIN_ADDR_LEN];
    start(f);
    assert_int_equal(chain_wallet_address(f->c, 2, 1, a, NULL), 0);
    assert_int_equal(chain_wallet_address(f->c, 2, 999, b, NULL), 0);
    assert_memory_equal(a, b, CHAIN_ADDR_LEN);
}

/* ---- forks, output, attacks ----------------------------------------------------------- */

/* Check /blocks and /transactions as an outside verifier does (chain/verify.h): every header
 * hashes to its hash, meets its bits and the difficulty rule, the non-stale blocks form one chain
 * from genesis linked by `previous` and hold the most work, every encoding hashes to its txid,
 * every Merkle root and signature checks. */
static void verify_file(const struct cfg *cfg, const char *path, int64_t *stale_out)
{
    struct chain_verify_opts o = {.cfg = cfg, .flags = CHAIN_VERIFY_CHAIN_ONLY, .threads = 0};
    struct chain_verify_report rep;
    struct err e = {0};
    if (chain_verify_file(path, &o, &rep, &e))
        fail_msg("verify: %s", e.msg);
    assert_int_equal(rep.blocks - rep.stale, rep.height + 1);
    *stale_out = rep.stale;
}

/* End the run, write its tables and summary, commit the file, verify it (verify_file), remove it
 * and return its stale-block count. */
static int64_t finish_and_verify(struct fixture *f, struct h5_file *h, const char *path)
{
    struct err e = {0};
    int64_t stale_in_file = 0;
    assert_int_equal(chain_finish(f->c, &e), 0);
    assert_int_equal(chain_summary_write(f->c, h, &e), 0);
    assert_int_equal(h5_file_commit(h, &e), 0);
    verify_file(&f->cfg, path, &stale_in_file);
    unlink(path);
    return stale_in_file;
}

/* Trade `ref` of step k for the batch test: seller k % AGENTS, nb buyers after it, signed by
 * every party (one buyer with the wrong key when bad). */
static void batch_trade(struct fixture *f, uint64_t ref, int k, size_t nb, int bad, double at,
                        struct chain_trade *t, struct chain_buyer *b)
{
    unsigned char msg[1024];
    size_t len;
    memset(t, 0, sizeof *t);
    t->trade_ref = ref;
    t->seller = k % AGENTS;
    memcpy(t->seller_pk, f->pk[t->seller], 32);
    t->price = 40 + k % 7;
    t->request_time = at - 1;
    t->agreement_time = at;
    t->n_buyers = nb;
    t->buyers = b;
    for (size_t i = 0; i < nb; i++) {
        memset(&b[i], 0, sizeof b[i]);
        b[i].agent = (t->seller + 1 + (int64_t)i) % AGENTS;
        b[i].kwh = 0.001 * (double)(1 + (k + (int)i) % 5);
        memcpy(b[i].pk, f->pk[b[i].agent], 32);
    }
    assert_int_equal(chain_trade_signing_bytes(f->c, t, msg, sizeof msg, &len, NULL), 0);
    crypto_sign_detached(t->seller_sig, NULL, msg, len, f->sk[t->seller]);
    for (size_t i = 0; i < nb; i++)
        crypto_sign_detached(b[i].sig, NULL, msg, len,
                             f->sk[bad && i == nb - 1 ? (b[i].agent + 1) % AGENTS : b[i].agent]);
}

/* Every dataset of group g (fixed-size types) is the same, byte for byte, in files a and b,
 * apart from the search's wall-clock seconds; returns how many datasets were compared. */
static int same_datasets(hid_t a, hid_t b, const char *g)
{
    hid_t ga = H5Gopen2(a, g, H5P_DEFAULT);
    H5G_info_t info;
    int compared = 0;
    assert_true(ga >= 0);
    assert_true(H5Gget_info(ga, &info) >= 0);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[128], path[160];
        hid_t da, db, t, sa;
        hssize_t n;
        size_t sz;
        unsigned char *x, *y;
        assert_true(H5Lget_name_by_idx(ga, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                       H5P_DEFAULT) > 0);
        if (strstr(name, "wall"))
            continue;
        snprintf(path, sizeof path, "%s/%s", g, name);
        da = H5Dopen2(a, path, H5P_DEFAULT);
        db = H5Dopen2(b, path, H5P_DEFAULT);
        assert_true(da >= 0 && db >= 0);
        t = H5Dget_type(da);
        sa = H5Dget_space(da);
        n = H5Sget_simple_extent_npoints(sa);
        {
            hid_t sb = H5Dget_space(db);
            assert_int_equal(H5Sget_simple_extent_npoints(sb), n);
            H5Sclose(sb);
        }
        sz = H5Tget_size(t);
        x = calloc((size_t)n + 1, sz);
        y = calloc((size_t)n + 1, sz);
        assert_true(x && y);
        if (n > 0) {
            assert_true(H5Dread(da, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
            assert_true(H5Dread(db, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
        }
        if (memcmp(x, y, (size_t)n * sz))
            fail_msg("%s differs", path);
        compared++;
        free(x);
        free(y);
        H5Sclose(sa);
        H5Tclose(t);
        H5Dclose(da);
        H5Dclose(db);
    }
    H5Gclose(ga);
    return compared;
}

/* A batch on a pool builds each trade's wire form, encoding and id on the workers: the chain it
 * makes (every transaction's encoding and id, every block) is byte for byte the one that
 * chain_submit_trade makes trade by trade, with double spends (the attack's transfer sent before
 * or after its trade), trades of 1 to 3 buyers, bad signatures and duplicates among them; and
 * the batch's file verifies as an outside verifier checks it. */
static void test_chain_batch_on_pool_builds_same_chain_as_one_by_one(void **state)
{
    struct fixture *f = *state;
    struct chain_hooks hk = hooks_of(f);
    struct eng *eng2 = eng_new(256);
    struct chain *one, *bat;
    struct pool *p;
    struct h5_file *h1, *h2;
    struct chain_summary s1, s2;
    char path1[64], path2[64];
    struct err e = {0};
    int64_t stale;
    hid_t a, b;
    f->cfg.chain.initial_coins = 100000;
    f->cfg.attacks.double_spend_rate = 0.4;
    assert_non_null(eng2);
    assert_non_null(p = pool_new(3, &e));
    start(f);
    one = f->c;
    assert_non_null(bat = chain_new(&f->cfg, eng2, &hk, &e));
    chain_pool_set(bat, p);
    snprintf(path1, sizeof path1, "/tmp/test_chain_b1_%d.h5", (int)getpid());
    snprintf(path2, sizeof path2, "/tmp/test_chain_b2_%d.h5", (int)getpid());
    assert_non_null(h1 = h5_file_create(path1, &e));
    assert_non_null(h2 = h5_file_create(path2, &e));
    assert_int_equal(h5_file_set_layout(h1, 64, 1, &e), 0);
    assert_int_equal(h5_file_set_layout(h2, 64, 1, &e), 0);
    assert_int_equal(chain_tables_open(one, h1, &e), 0);
    assert_int_equal(chain_tables_open(bat, h2, &e), 0);
    for (int k = 0; k < 60; k++) {
        struct chain_trade t[4];
        struct chain_buyer bb[4][3];
        double at = 60.0 * (k + 1);
        int rc;
        assert_int_equal(eng_run_until(f->eng, at), 0);
        assert_int_equal(eng_run_until(eng2, at), 0);
        for (int j = 0; j < 4; j++) /* trade 3 of every 5th step repeats trade 0: a duplicate */
            batch_trade(f, j == 3 && k % 5 == 0 ? 1000 + 4 * (uint64_t)k : 1000 + 4 * (uint64_t)k + (uint64_t)j,
                        j == 3 && k % 5 == 0 ? k : k + 2 * j, j == 3 && k % 5 == 0 ? 1 : 1 + (size_t)j % 3,
                        j == 1 && k % 7 == 3, at, &t[j], bb[j]);
        for (int j = 0; j < 4; j++) {
            rc = chain_submit_trade(one, &t[j], &e);
            assert_true(rc == 0 || rc == ERR_VERIFY);
        }
        assert_int_equal(chain_submit_trades(bat, t, 4, &e), 0);
    }
    assert_int_equal(eng_run_until(f->eng, 3 * 3600), 0);
    assert_int_equal(eng_run_until(eng2, 3 * 3600), 0);
    chain_summary_get(one, &s1);
    chain_summary_get(bat, &s2);
    /* not a vacuous comparison: rejections and double spends happened */
    assert_true(s1.txs_rejected >= 12 + 8);
    assert_true(s1.double_spends_detected > 0);
    assert_int_equal(s2.txs_rejected, s1.txs_rejected);
    assert_int_equal(s2.txs_submitted, s1.txs_submitted);
    assert_int_equal(s2.height, s1.height);
    assert_int_equal(chain_finish(one, &e), 0);
    assert_int_equal(chain_finish(bat, &e), 0);
    assert_int_equal(chain_summary_write(one, h1, &e), 0);
    assert_int_equal(chain_summary_write(bat, h2, &e), 0);
    assert_int_equal(h5_file_commit(h1, &e), 0);
    assert_int_equal(h5_file_commit(h2, &e), 0);
    a = H5Fopen(path1, H5F_ACC_RDONLY, H5P_DEFAULT);
    b = H5Fopen(path2, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(a >= 0 && b >= 0);
    assert_true(same_datasets(a, b, "/transactions") >= 8);
    assert_true(same_datasets(a, b, "/blocks") >= 15);
    H5Fclose(a);
    H5Fclose(b);
    verify_file(&f->cfg, path2, &stale);
    unlink(path1);
    unlink(path2);
    chain_free(bat);
    eng_free(eng2);
    pool_free(p);
}

static void test_chain_forks_resolve_to_most_work(void **state)
{
    struct fixture *f = *state;
    char path[64];
    struct h5_file *h;
    struct chain_summary s;
    struct err e = {0};
    f->cfg.chain.propagation_min_s = 20; /* a third of the interval: many forks */
    f->cfg.chain.finality_depth = 10;
    f->cfg.chain.confirmations = 3;
    start(f);
    snprintf(path, sizeof path, "/tmp/test_chain_%d.h5", (int)getpid());
    assert_non_null(h = h5_file_create(path, &e));
    assert_int_equal(h5_file_set_layout(h, 64, 1, &e), 0);
    assert_int_equal(chain_tables_open(f->c, h, &e), 0);
    for (int k = 0; k < 120; k++) {
        run(f, 60.0 * (k + 1));
        assert_int_equal(trade(f, (uint64_t)k + 1, k % AGENTS, (k + 3) % AGENTS, 0.5, 100, NULL), 0);
    }
    run(f, 6 * 3600);
    chain_summary_get(f->c, &s);
    assert_true(s.stale_blocks > 0);
    assert_true(s.reorgs > 0);
    assert_int_equal(finish_and_verify(f, h, path), s.stale_blocks);
}

/* The genesis block commits to the scenario, attacks included, so an attacked run's chain cannot
 * be compared hash for hash with a clean one: harmless means every copy is rejected, every
 * trade still settles, and the chain written out verifies. */
static void test_chain_tampered_copies_rejected_and_harmless(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    struct h5_file *h;
    struct err e = {0};
    char path[64];
    f->cfg.attacks.tampered_block_rate = 1;
    start(f);
    snprintf(path, sizeof path, "/tmp/test_chain_t_%d.h5", (int)getpid());
    assert_non_null(h = h5_file_create(path, &e));
    assert_int_equal(h5_file_set_layout(h, 64, 1, &e), 0);
    assert_int_equal(chain_tables_open(f->c, h, &e), 0);
    for (int k = 0; k < 20; k++) {
        run(f, 100.0 * (k + 1));
        assert_int_equal(trade(f, (uint64_t)k + 1, k % AGENTS, (k + 1) % AGENTS, 0.5, 100, NULL), 0);
    }
    run(f, 4 * 3600);
    chain_summary_get(f->c, &s);
    assert_true(s.tampered_copies > 0);
    assert_int_equal(s.tampered_rejected, s.tampered_copies);
    assert_int_equal(f->sec_count_kind_tampered, s.tampered_copies);
    assert_non_null(strstr(f->sec_action[0], "rejected:"));
    for (int k = 0; k < 20; k++)
        assert_true(f->confirmed_h[k + 1] > 0);
    finish_and_verify(f, h, path);
}

static void test_chain_selfish_mining_logged(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    f->cfg.chain.nodes = 3;
    snprintf(f->cfg.chain.hash_shares, sizeof f->cfg.chain.hash_shares, "0.45, 0.3, 0.25");
    f->cfg.attacks.selfish_node = 0;
    start(f);
    run(f, 86400);
    chain_summary_get(f->c, &s);
    assert_true(f->sec_withheld > 0);
    assert_true(f->sec_revealed > 0);
    assert_true(s.stale_blocks > 0);
    assert_true(isfinite(s.selfish_share_main));
    /* with 45% of the hash rate the withholder earns more than its share (Eyal-Sirer) */
    assert_true(s.selfish_share_main > 0.45);
}

static void test_chain_double_spend_attack_detected(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    f->cfg.attacks.double_spend_rate = 1;
    start(f);
    for (int k = 0; k < 10; k++) {
        run(f, 300.0 * (k + 1));
        assert_int_equal(trade(f, (uint64_t)k + 1, k % AGENTS, (k + 2) % AGENTS, 0.5, 100, NULL), 0);
    }
    run(f, 4 * 3600);
    chain_summary_get(f->c, &s);
    assert_int_equal(s.double_spend_attacks, 10);
    assert_true(s.double_spends_detected >= 10);
    assert_int_equal(total_coins(f, CHAIN_BALANCE_TIP), AGENTS * f->cfg.chain.initial_coins);
}

static void test_chain_retarget_moves_toward_interval(void **state)
{
    struct fixture *f = *state;
    struct chain_summary fixed, re;
    f->cfg.chain.nodes = 1;
    f->cfg.chain.hash_rate = 4 * 256 / 60.0 * 4; /* 16x too fast at 8 bits: 3.75 s blocks */
    start(f);
    run(f, 4 * 3600);
    chain_summary_get(f->c, &fixed);
    chain_free(f->c);
    eng_free(f->eng);
    f->eng = eng_new(64);
    f->cfg.chain.retarget_blocks = 50;
    start(f);
    run(f, 4 * 3600);
    chain_summary_get(f->c, &re);
    assert_true(fixed.mean_interval_s < 6);
    assert_true(re.height < fixed.height / 2); /* two clamped x4 steps bring it near 60 s */
}

/* Finality is a checkpoint: the withholder of the old test (49 % of the hash rate, finality one
 * block deep) used to stop the run with a reorg past finality.  Now no node takes a branch that
 * forks below the final height, so no reorg drops more than finality_depth blocks, the
 * withholder abandons branches that died, and what is written verifies as one chain. */
static void test_chain_branch_below_final_not_extended(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    struct h5_file *h;
    struct err e = {0};
    char path[64];
    int64_t abandoned = 0;
    f->cfg.chain.nodes = 2;
    snprintf(f->cfg.chain.hash_shares, sizeof f->cfg.chain.hash_shares, "0.49,0.51");
    f->cfg.attacks.selfish_node = 0;
    f->cfg.chain.confirmations = 1;
    f->cfg.chain.finality_depth = 1;
    start(f);
    snprintf(path, sizeof path, "/tmp/test_chain_f_%d.h5", (int)getpid());
    assert_non_null(h = h5_file_create(path, &e));
    assert_int_equal(h5_file_set_layout(h, 64, 1, &e), 0);
    assert_int_equal(chain_tables_open(f->c, h, &e), 0);
    run(f, 2 * 86400.0);
    chain_summary_get(f->c, &s);
    assert_true(s.reorgs > 0);
    assert_true(s.max_reorg_depth <= f->cfg.chain.finality_depth);
    for (int k = 0; k < f->n_sec && k < 64; k++)
        abandoned += !strcmp(f->sec_action[k], "abandoned");
    assert_true(abandoned > 0);
    assert_int_equal(finish_and_verify(f, h, path), s.stale_blocks);
}

/* Admission by the window's definition: a trade made at floor(now) - W is taken, one made half a
 * second earlier is refused as "expired" and counted. */
static void test_chain_admission_window_boundary(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    struct err e = {0};
    f->cfg.chain.tx_window = 600;
    start(f);
    run(f, 5000.25);
    assert_int_equal(trade_at(f, 1, 0, 1, 1, 50, 5000 - 600, &e), 0);
    assert_int_equal(trade_at(f, 2, 0, 1, 1, 50, 5000 - 600.5, &e), ERR_VERIFY);
    assert_int_equal(f->n_reject, 1);
    assert_string_equal(f->reject_reason[0], "expired");
    chain_summary_get(f->c, &s);
    assert_int_equal(s.txs_expired, 1);
    assert_int_equal(s.txs_rejected, 1);
}

/* One transaction per block, twenty waiting, a 150 s window: blocks whose header time is past
 * t + 150 may not take them, so those still waiting then are dropped as "expired", each once,
 * and each trade ends either included or expired. */
static void test_chain_mempool_drops_expired(void **state)
{
    struct fixture *f = *state;
    struct chain_summary s;
    int64_t included = 0;
    f->cfg.chain.nodes = 1;
    f->cfg.chain.max_block_txs = 1;
    f->cfg.chain.tx_window = 150;
    start(f);
    run(f, 1000);
    for (int k = 1; k <= 20; k++)
        assert_int_equal(trade(f, (uint64_t)k, k % AGENTS, (k + 1) % AGENTS, 0.1, 50, NULL), 0);
    run(f, 1000 + 3600);
    chain_summary_get(f->c, &s);
    for (int k = 1; k <= 20; k++)
        if (f->included_h[k] >= 0) {
            included++;
            assert_true(f->included_t[k] >= 1000);
        }
    assert_true(s.txs_expired > 0);
    assert_int_equal(s.txs_expired, f->n_reject);
    for (int k = 0; k < f->n_reject && k < 64; k++)
        assert_string_equal(f->reject_reason[k], "expired");
    assert_int_equal(included + s.txs_expired, 20);
    /* 150 s hold about 2.5 blocks of 60 s: far fewer than twenty */
    assert_true(included < 12);
}

/* A replay of a transaction's exact bytes: refused as a duplicate while its id is remembered,
 * and still refused, by the window rule, after the id was forgotten. */
static void test_chain_replay_after_forgotten_rejected_by_window(void **state)
{
    struct fixture *f = *state;
    struct chain_mem_stats m;
    f->cfg.chain.nodes = 1;
    f->cfg.chain.tx_window = 600;
    f->cfg.chain.finality_depth = 3;
    f->cfg.chain.confirmations = 2;
    start(f);
    run(f, 100);
    assert_int_equal(trade_at(f, 7, 2, 3, 1, 50, 100, NULL), 0);
    run(f, 200);
    assert_int_equal(trade_at(f, 7, 2, 3, 1, 50, 100, NULL), ERR_VERIFY);
    assert_string_equal(f->reject_reason[0], "duplicate_tx");
    run(f, 100 + 600 + 3600);
    assert_true(f->included_h[7] > 0);
    chain_mem_stats_get(f->c, &m);
    assert_int_equal(m.tx_forgotten, 1);
    assert_int_equal(m.tx_records, 0);
    assert_int_equal(trade_at(f, 7, 2, 3, 1, 50, 100, NULL), ERR_VERIFY);
    assert_int_equal(f->n_reject, 2);
    assert_string_equal(f->reject_reason[1], "expired");
}

/* A trade a minute for two days with a one-hour window: the records alive never exceed the trades
 * of the window plus those not yet final (bounded by two hours' worth here), every other record is
 * forgotten, and the memory that holds them stops growing: the slots and the index are the same
 * after the second day as after the first; only blocks above the final height keep their lists.
 * The block tree too: one node (no forks, no deliveries pending) keeps the main-chain blocks from
 * confirmations + 1 below the checkpoint to the tip, finality_depth + confirmations + 2 blocks,
 * drops every block below, and its slots stop growing. */
static void test_chain_live_records_bounded(void **state)
{
    struct fixture *f = *state;
    struct chain_mem_stats m, day1;
    struct chain_summary s;
    int64_t most = 0, submitted = 0;
    f->cfg.chain.nodes = 1;
    f->cfg.chain.tx_window = 3600;
    f->cfg.chain.finality_depth = 6;
    start(f);
    for (int k = 1; k <= 2 * 1440; k++) {
        run(f, 60.0 * k);
        assert_int_equal(trade(f, (uint64_t)k, k % AGENTS, (k + 3) % AGENTS, 0.1, 50, NULL), 0);
        submitted++;
        chain_mem_stats_get(f->c, &m);
        if (m.tx_records > most)
            most = m.tx_records;
        assert_int_equal(m.tx_records + m.tx_forgotten, submitted);
        assert_true(m.block_tx_lists <= f->cfg.chain.finality_depth);
        chain_summary_get(f->c, &s);
        assert_int_equal(m.blocks + m.blocks_dropped, s.blocks_found + 1);
        if (s.height > f->cfg.chain.finality_depth + f->cfg.chain.confirmations + 1)
            assert_int_equal(m.blocks, f->cfg.chain.finality_depth + f->cfg.chain.confirmations + 2);
        if (k == 1440)
            day1 = m;
    }
    assert_true(m.blocks_dropped > 2 * 1440 - 100);
    assert_int_equal(m.block_slots, day1.block_slots);
    assert_true(most <= 2 * 3600 / 60);
    assert_true(m.tx_forgotten >= submitted - 2 * 3600 / 60);
    assert_int_equal(m.tx_slots, day1.tx_slots);
    assert_int_equal(m.tx_index_slots, day1.tx_index_slots);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_chain_new_rejects_share_count),
        T(test_chain_new_rejects_selfish_node_out_of_range),
        T(test_chain_new_double_spends_need_sign_hook),
        T(test_chain_new_with_mine_needs_backend),
        T(test_chain_new_unusable_device),
        T(test_chain_new_names_backend),
        T(test_chain_same_seed_same_tip),
        T(test_chain_backends_same_tip),
        T(test_chain_interval_mean_matches_target),
        T(test_chain_trade_settles_after_confirmations),
        T(test_chain_double_spend_rejected),
        T(test_chain_many_trades_conserve_coins),
        T(test_chain_bad_signature_rejected),
        T(test_chain_batch_on_pool_same_outcomes_in_order),
        T(test_chain_batch_on_pool_builds_same_chain_as_one_by_one),
        T(test_chain_key_mismatch_rejected),
        T(test_chain_first_key_binds_wallet),
        T(test_chain_duplicate_rejected),
        T(test_chain_signing_bytes_errors),
        T(test_chain_wallet_errors),
        T(test_chain_wallet_fund_adds_everywhere),
        T(test_chain_pseudonyms_vary_by_trade),
        T(test_chain_one_pseudonym_is_one_address),
        T(test_chain_forks_resolve_to_most_work),
        T(test_chain_tampered_copies_rejected_and_harmless),
        T(test_chain_selfish_mining_logged),
        T(test_chain_double_spend_attack_detected),
        T(test_chain_retarget_moves_toward_interval),
        T(test_chain_branch_below_final_not_extended),
        T(test_chain_admission_window_boundary),
        T(test_chain_mempool_drops_expired),
        T(test_chain_replay_after_forgotten_rejected_by_window),
        T(test_chain_live_records_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
