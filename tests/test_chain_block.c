/* test_chain_block — header layout against real Bitcoin headers, Merkle roots (0, 1, odd, even,
 * Bitcoin block 100000), difficulty bits and the clamped retarget, and the stateless block check
 * rejecting every kind of tampering: any flipped header or transaction byte, a changed trade
 * price, a bad signature, a removed block, a repeated transaction, wrong bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "chain/block.h"
#include "crypto/sha256.h"
#include "mine/mine.h"

#define BITS 16 /* block fixtures: a flipped header byte meets the target with odds 2^-16 */

static void from_display_hex(const char *hex, unsigned char out[32])
{
    unsigned char be[32];
    assert_int_equal(mine_hex_decode(hex, be, 32, NULL), 0);
    for (int i = 0; i < 32; i++)
        out[i] = be[31 - i];
}

static void test_chain_block_bitcoin_headers_hash(void **state)
{
    char path[512], line[1024];
    FILE *f;
    int n = 0;
    (void)state;
    snprintf(path, sizeof path, "%s/tests/vectors/bitcoin_headers.txt", SETM_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        long height;
        unsigned long nonce;
        char hash_hex[65], hdr_hex[161], got[65];
        unsigned char hdr[80], again[80], hash[32];
        struct chain_header h;
        if (line[0] == '#' || sscanf(line, "%ld %lu %64s %160s", &height, &nonce, hash_hex,
                                     hdr_hex) != 4)
            continue;
        assert_int_equal(mine_header_from_hex(hdr_hex, hdr, NULL), 0);
        chain_header_unpack(hdr, &h);
        assert_int_equal(h.nonce, (uint32_t)nonce);
        chain_header_pack(&h, again);
        assert_memory_equal(again, hdr, 80);
        chain_header_hash(hdr, hash);
        mine_hash_to_hex(hash, got);
        assert_string_equal(got, hash_hex);
        n++;
    }
    fclose(f);
    assert_true(n >= 4);
}

static void test_chain_block_merkle_bitcoin_100000(void **state)
{
    static const char *txids[4] = {
        "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
        "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
        "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
        "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d"};
    unsigned char ids[4][32], scratch[4][32], root[32];
    char hex[65];
    (void)state;
    for (int i = 0; i < 4; i++)
        from_display_hex(txids[i], ids[i]);
    chain_merkle_root((const unsigned char(*)[32])ids, 4, scratch, root);
    mine_hash_to_hex(root, hex);
    assert_string_equal(hex, "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766");
}

static void test_chain_block_merkle_empty_is_zero(void **state)
{
    unsigned char root[32], zero[32] = {0};
    (void)state;
    memset(root, 0xee, sizeof root);
    chain_merkle_root(NULL, 0, NULL, root);
    assert_memory_equal(root, zero, 32);
}

static void test_chain_block_merkle_one_is_its_txid(void **state)
{
    unsigned char id[1][32], root[32];
    (void)state;
    memset(id[0], 7, 32);
    chain_merkle_root((const unsigned char(*)[32])id, 1, NULL, root);
    assert_memory_equal(root, id[0], 32);
}

static void test_chain_block_merkle_odd_duplicates_last(void **state)
{
    unsigned char ids[3][32], scratch[3][32], root[32], pair[64], l[32], r[32], want[32];
    (void)state;
    for (int i = 0; i < 3; i++)
        memset(ids[i], i + 1, 32);
    memcpy(pair, ids[0], 32);
    memcpy(pair + 32, ids[1], 32);
    crypto_sha256d(pair, 64, l);
    memcpy(pair, ids[2], 32);
    memcpy(pair + 32, ids[2], 32);
    crypto_sha256d(pair, 64, r);
    memcpy(pair, l, 32);
    memcpy(pair + 32, r, 32);
    crypto_sha256d(pair, 64, want);
    chain_merkle_root((const unsigned char(*)[32])ids, 3, scratch, root);
    assert_memory_equal(root, want, 32);
}

static void test_chain_block_bits_from_zero_bits(void **state)
{
    uint32_t bits;
    (void)state;
    assert_int_equal(chain_bits_from_zero_bits(8, &bits, NULL), 0);
    assert_int_equal(bits, 0x2000ffffU);
    assert_int_equal(chain_bits_from_zero_bits(32, &bits, NULL), 0);
    assert_int_equal(bits, 0x1d00ffffU); /* Bitcoin's difficulty 1 */
    assert_true(fabs(chain_bits_work(bits) / ldexp(1, 32) - 1) < 1e-4);
}

static void test_chain_block_bits_out_of_range(void **state)
{
    uint32_t bits;
    (void)state;
    assert_int_equal(chain_bits_from_zero_bits(0, &bits, NULL), ERR_USAGE);
    assert_int_equal(chain_bits_from_zero_bits(CHAIN_MAX_ZERO_BITS + 1, &bits, NULL), ERR_USAGE);
    assert_true(chain_bits_work(0x01800000U) == 0); /* negative: invalid */
}

static void test_chain_block_retarget_on_schedule_keeps_bits(void **state)
{
    uint32_t out;
    (void)state;
    assert_int_equal(chain_retarget(0x1d00ffffU, 1209600, 1209600, &out, NULL), 0);
    assert_int_equal(out, 0x1d00ffffU);
}

static void test_chain_block_retarget_bitcoin_32256(void **state)
{
    /* Bitcoin's first retarget (block 32256): blocks 30240..32255 took 1262152739 - 1261130161
     * = 1022578 s of the two weeks expected, and block 32256 carries 0x1d00d86a. */
    uint32_t out;
    (void)state;
    assert_int_equal(chain_retarget(0x1d00ffffU, 1022578, 1209600, &out, NULL), 0);
    assert_int_equal(out, 0x1d00d86aU);
}

static void test_chain_block_retarget_clamps_factor_4(void **state)
{
    uint32_t slow, slower, fast, instant;
    (void)state;
    assert_int_equal(chain_retarget(0x1d00ffffU, 4 * 600, 600, &slow, NULL), 0);
    assert_int_equal(chain_retarget(0x1d00ffffU, 100 * 600, 600, &slower, NULL), 0);
    assert_int_equal(slow, slower);
    assert_true(fabs(chain_bits_work(0x1d00ffffU) / chain_bits_work(slow) - 4) < 1e-3);
    assert_int_equal(chain_retarget(0x1d00ffffU, 150, 600, &fast, NULL), 0);
    assert_int_equal(chain_retarget(0x1d00ffffU, -5, 600, &instant, NULL), 0);
    assert_int_equal(fast, instant);
    assert_true(fabs(chain_bits_work(fast) / chain_bits_work(0x1d00ffffU) - 4) < 1e-3);
}

static void test_chain_block_retarget_caps_at_pow_limit(void **state)
{
    uint32_t limit, out;
    (void)state;
    assert_int_equal(chain_bits_from_zero_bits(CHAIN_MIN_ZERO_BITS, &limit, NULL), 0);
    assert_int_equal(chain_retarget(limit, 4000, 1000, &out, NULL), 0);
    assert_int_equal(out, limit);
}

static void test_chain_block_retarget_errors(void **state)
{
    uint32_t out;
    (void)state;
    assert_int_equal(chain_retarget(0x1d00ffffU, 10, 0, &out, NULL), ERR_USAGE);
    assert_int_equal(chain_retarget(0x01800001U, 10, 10, &out, NULL), ERR_FORMAT);
}

/* ---- block check fixtures --------------------------------------------------------------- */

struct blocks {
    struct mine *m;
    unsigned char sk[3][crypto_sign_SECRETKEYBYTES];
    struct chain_tx_party buyer[3];
    unsigned char tx[3][512];
    size_t tx_len[3];
    struct chain_tx trade[3];
    unsigned char hdr[3][80]; /* blocks 1, 2, 3 on a zero parent */
    unsigned char hash[3][32];
    uint32_t bits;
};

static void make_trade(struct blocks *b, int i)
{
    unsigned char pk[2][32], msg[512];
    size_t mlen;
    struct chain_tx *t = &b->trade[i];
    unsigned char seed[32];
    memset(seed, 100 + i, 32);
    crypto_sign_seed_keypair(pk[0], b->sk[0], seed);
    memset(seed, 200 + i, 32);
    crypto_sign_seed_keypair(pk[1], b->sk[1], seed);
    memset(t, 0, sizeof *t);
    t->kind = CHAIN_TX_TRADE;
    t->ref = (uint64_t)i;
    t->price = 80 + i;
    t->request_time = 10;
    t->agreement_time = 20;
    memset(t->from.addr, 1, 20);
    memcpy(t->from.pk, pk[0], 32);
    memset(b->buyer[i].addr, 2, 20);
    memcpy(b->buyer[i].pk, pk[1], 32);
    b->buyer[i].kwh = 1.5;
    t->n_buyers = 1;
    t->buyers = &b->buyer[i];
    assert_int_equal(chain_tx_signing_bytes(t, msg, sizeof msg, &mlen, NULL), 0);
    crypto_sign_detached(t->from.sig, NULL, msg, mlen, b->sk[0]);
    crypto_sign_detached(b->buyer[i].sig, NULL, msg, mlen, b->sk[1]);
    assert_int_equal(chain_tx_encode(t, b->tx[i], sizeof b->tx[i], &b->tx_len[i], NULL), 0);
}

/* Mine a header over the given transactions on prev. */
static void make_block(struct blocks *b, int k, const unsigned char prev[32], size_t n_tx)
{
    struct chain_header h;
    unsigned char ids[6][32], target[32];
    struct mine_result res;
    memset(&h, 0, sizeof h);
    h.version = CHAIN_BLOCK_VERSION;
    memcpy(h.prev, prev, 32);
    for (size_t i = 0; i < n_tx; i++)
        chain_txid(b->tx[i], b->tx_len[i], ids[i]);
    chain_merkle_root((const unsigned char(*)[32])ids, n_tx, ids + 3, h.merkle);
    h.time = 1000 + (uint32_t)k;
    h.bits = b->bits;
    chain_header_pack(&h, b->hdr[k]);
    assert_int_equal(mine_target_from_bits(b->bits, target, NULL), 0);
    assert_int_equal(mine_search(b->m, b->hdr[k], target, 0, UINT64_C(1) << 32, &res, NULL), 0);
    mine_header_set_u32(b->hdr[k], MINE_HDR_NONCE, res.nonce);
    chain_header_hash(b->hdr[k], b->hash[k]);
}

static int blocks_setup(void **state)
{
    static struct blocks b;
    static const unsigned char zero[32];
    struct mine_opts o;
    if (sodium_init() < 0)
        return -1;
    memset(&b, 0, sizeof b);
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_CPU;
    o.threads = 1;
    b.m = mine_new(&o, NULL);
    if (!b.m)
        return -1;
    if (chain_bits_from_zero_bits(BITS, &b.bits, NULL))
        return -1;
    for (int i = 0; i < 3; i++)
        make_trade(&b, i);
    make_block(&b, 0, zero, 3);
    make_block(&b, 1, b.hash[0], 0);
    make_block(&b, 2, b.hash[1], 1);
    *state = &b;
    return 0;
}

static int blocks_teardown(void **state)
{
    struct blocks *b = *state;
    mine_free(b->m);
    return 0;
}

static int check(struct blocks *b, const unsigned char *hdr, size_t n_tx,
                 const unsigned char *const *tx, const size_t *len, const unsigned char prev[32],
                 uint32_t bits, const char **rule)
{
    struct chain_block_view v = {hdr, n_tx, tx, len, 0};
    (void)b;
    return chain_block_check(&v, prev, bits, rule, NULL);
}

static void test_chain_block_check_accepts_valid_chain(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    const unsigned char *tx[3] = {b->tx[0], b->tx[1], b->tx[2]};
    const char *rule = "x";
    assert_int_equal(check(b, b->hdr[0], 3, tx, b->tx_len, zero, b->bits, &rule), 0);
    assert_null(rule);
    assert_int_equal(check(b, b->hdr[1], 0, NULL, NULL, b->hash[0], b->bits, NULL), 0);
    assert_int_equal(check(b, b->hdr[2], 1, tx, b->tx_len, b->hash[1], b->bits, NULL), 0);
}

static void test_chain_block_check_rejects_every_flipped_header_byte(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    const unsigned char *tx[3] = {b->tx[0], b->tx[1], b->tx[2]};
    for (int i = 0; i < 80; i++)
        for (int bit = 0; bit < 8; bit++) {
            unsigned char hdr[80];
            memcpy(hdr, b->hdr[0], 80);
            hdr[i] ^= (unsigned char)(1u << bit);
            assert_int_equal(check(b, hdr, 3, tx, b->tx_len, zero, b->bits, NULL), ERR_VERIFY);
        }
}

static void test_chain_block_check_rejects_every_flipped_tx_byte(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < b->tx_len[k]; i++) {
            unsigned char copy[512];
            const unsigned char *tx[3] = {b->tx[0], b->tx[1], b->tx[2]};
            const char *rule = NULL;
            memcpy(copy, b->tx[k], b->tx_len[k]);
            copy[i] ^= 0x10;
            tx[k] = copy;
            assert_int_equal(check(b, b->hdr[0], 3, tx, b->tx_len, zero, b->bits, &rule),
                             ERR_VERIFY);
            assert_true(!strcmp(rule, "tx_format") || !strcmp(rule, "signature") ||
                        !strcmp(rule, "merkle"));
        }
}

static void test_chain_block_check_rejects_changed_price(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    struct chain_tx t = b->trade[0];
    unsigned char enc[512];
    size_t len[3] = {0, b->tx_len[1], b->tx_len[2]};
    const unsigned char *tx[3] = {enc, b->tx[1], b->tx[2]};
    const char *rule = NULL;
    t.price = 1; /* a cheaper price, signatures kept */
    assert_int_equal(chain_tx_encode(&t, enc, sizeof enc, &len[0], NULL), 0);
    assert_int_equal(check(b, b->hdr[0], 3, tx, len, zero, b->bits, &rule), ERR_VERIFY);
    assert_string_equal(rule, "signature");
}

static void test_chain_block_check_rejects_bad_signature(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    unsigned char enc[512];
    const unsigned char *tx[3] = {b->tx[0], enc, b->tx[2]};
    const char *rule = NULL;
    memcpy(enc, b->tx[1], b->tx_len[1]);
    enc[b->tx_len[1] - 1] ^= 1; /* last byte of the buyer's signature */
    assert_int_equal(check(b, b->hdr[0], 3, tx, b->tx_len, zero, b->bits, &rule), ERR_VERIFY);
    assert_string_equal(rule, "signature");
}

static void test_chain_block_check_rejects_removed_block(void **state)
{
    struct blocks *b = *state;
    const unsigned char *tx[1] = {b->tx[0]};
    const char *rule = NULL;
    /* block 3 presented right after block 1: block 2 is missing */
    assert_int_equal(check(b, b->hdr[2], 1, tx, b->tx_len, b->hash[0], b->bits, &rule),
                     ERR_VERIFY);
    assert_string_equal(rule, "prev");
}

static void test_chain_block_check_rejects_repeated_tx(void **state)
{
    struct blocks *b = *state;
    struct chain_header h;
    unsigned char ids[4][32], target[32], hdr[80];
    static const unsigned char zero[32];
    const unsigned char *tx[2] = {b->tx[0], b->tx[0]};
    size_t len[2] = {b->tx_len[0], b->tx_len[0]};
    struct mine_result res;
    const char *rule = NULL;
    memset(&h, 0, sizeof h);
    h.version = CHAIN_BLOCK_VERSION;
    chain_txid(b->tx[0], b->tx_len[0], ids[0]);
    memcpy(ids[1], ids[0], 32);
    chain_merkle_root((const unsigned char(*)[32])ids, 2, ids + 2, h.merkle);
    h.bits = b->bits;
    chain_header_pack(&h, hdr);
    assert_int_equal(mine_target_from_bits(b->bits, target, NULL), 0);
    assert_int_equal(mine_search(b->m, hdr, target, 0, UINT64_C(1) << 32, &res, NULL), 0);
    mine_header_set_u32(hdr, MINE_HDR_NONCE, res.nonce);
    assert_int_equal(check(b, hdr, 2, tx, len, zero, b->bits, &rule), ERR_VERIFY);
    assert_string_equal(rule, "duplicate_tx");
}

static void test_chain_block_check_rejects_wrong_bits(void **state)
{
    struct blocks *b = *state;
    const char *rule = NULL;
    struct err e = {0};
    struct chain_block_view v = {b->hdr[1], 0, NULL, NULL, 0};
    assert_int_equal(chain_block_check(&v, b->hash[0], b->bits + 1, &rule, &e), ERR_VERIFY);
    assert_string_equal(rule, "bits");
    assert_non_null(strstr(e.msg, "bits"));
}

static void test_chain_block_check_rejects_version(void **state)
{
    struct blocks *b = *state;
    unsigned char hdr[80];
    const char *rule = NULL;
    memcpy(hdr, b->hdr[1], 80);
    mine_header_set_u32(hdr, MINE_HDR_VERSION, 2);
    assert_int_equal(check(b, hdr, 0, NULL, NULL, b->hash[0], b->bits, &rule), ERR_VERIFY);
    assert_string_equal(rule, "version");
}

/* The run identity is SHA-256d of the record the header comment defines, computed here with
 * libsodium from the record written out by hand; [mine] and [output] do not enter it, every other
 * line does, and so do the seed and the version. */
static void test_chain_block_identity_root_commits_to_scenario(void **state)
{
    static const char text[] = "[scenario]\nname = x\nseed = 3\n\n[mine]\nbackend = cpu\n"
                               "threads = 4\n\n[chain]\ninitial_coins = 5\n[output]\nchunk_rows = 9\n"
                               "[market]\nmechanism = cda\n";
    static const char record[] = "setm run identity 1\nversion=0.1.0\nseed=3\n"
                                 "[scenario]\nname = x\nseed = 3\n\n[chain]\ninitial_coins = 5\n"
                                 "[market]\nmechanism = cda\n";
    static const char other_mine[] = "[scenario]\nname = x\nseed = 3\n\n[mine]\nbackend = opencl\n"
                                     "\n[chain]\ninitial_coins = 5\n[output]\nchunk_rows = 1\n"
                                     "[market]\nmechanism = cda\n";
    static const char more_coins[] = "[scenario]\nname = x\nseed = 3\n\n[mine]\nbackend = cpu\n"
                                     "threads = 4\n\n[chain]\ninitial_coins = 6\n[output]\n"
                                     "chunk_rows = 9\n[market]\nmechanism = cda\n";
    unsigned char want[32], h1[32], got[32], b[32];
    (void)state;
    crypto_hash_sha256(h1, (const unsigned char *)record, sizeof record - 1);
    crypto_hash_sha256(want, h1, sizeof h1);
    chain_identity_root(text, 3, "0.1.0", got);
    assert_memory_equal(got, want, 32);
    chain_identity_root(other_mine, 3, "0.1.0", b);
    assert_memory_equal(b, want, 32);
    chain_identity_root(more_coins, 3, "0.1.0", b);
    assert_memory_not_equal(b, want, 32);
    chain_identity_root(text, 4, "0.1.0", b);
    assert_memory_not_equal(b, want, 32);
    chain_identity_root(text, 3, "0.1.1", b);
    assert_memory_not_equal(b, want, 32);
}

/* The worker-thread count ([sim] threads) chooses how a run is computed, not what it simulates:
 * it is left out of the record, and every other [sim] line stays in. */
static void test_chain_block_identity_root_ignores_sim_threads(void **state)
{
    static const char record[] = "setm run identity 1\nversion=0.1.0\nseed=3\n"
                                 "[sim]\ndays = 2\n[chain]\nnodes = 4\n";
    static const char one[] = "[sim]\ndays = 2\nthreads = 1\n[chain]\nnodes = 4\n";
    static const char four[] = "[sim]\nthreads = 4\ndays = 2\n[chain]\nnodes = 4\n";
    static const char longer[] = "[sim]\ndays = 3\nthreads = 1\n[chain]\nnodes = 4\n";
    static const char chain_threads[] = "[sim]\ndays = 2\n[chain]\nnodes = 4\nthreads = 1\n";
    unsigned char want[32], h1[32], b[32];
    (void)state;
    crypto_hash_sha256(h1, (const unsigned char *)record, sizeof record - 1);
    crypto_hash_sha256(want, h1, sizeof h1);
    chain_identity_root(one, 3, "0.1.0", b);
    assert_memory_equal(b, want, 32);
    chain_identity_root(four, 3, "0.1.0", b);
    assert_memory_equal(b, want, 32);
    chain_identity_root(longer, 3, "0.1.0", b);
    assert_memory_not_equal(b, want, 32);
    chain_identity_root(chain_threads, 3, "0.1.0", b); /* only [sim]'s threads is left out */
    assert_memory_not_equal(b, want, 32);
}

/* The window rule by its definition (block.h): a block with header time T takes a transaction made
 * at t when T - W <= t and floor(t) <= T.  The fixture's trades are made at AT = 20 s and its
 * first block has T = 1000 s, so W = 980 s is the smallest window that holds them. */
static void test_chain_block_check_window_lower_boundary(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    const unsigned char *tx[3] = {b->tx[0], b->tx[1], b->tx[2]};
    struct chain_block_view v = {b->hdr[0], 3, tx, b->tx_len, 980};
    const char *rule = "x";
    struct err e = {0};
    assert_int_equal(chain_block_check(&v, zero, b->bits, &rule, &e), 0);
    assert_null(rule);
    v.tx_window = 979.999;
    assert_int_equal(chain_block_check(&v, zero, b->bits, &rule, &e), ERR_VERIFY);
    assert_string_equal(rule, "tx_window");
    assert_non_null(strstr(e.msg, "tx 0"));
    assert_non_null(strstr(e.msg, "chain.tx_window"));
    v.tx_window = 0; /* not checked */
    assert_int_equal(chain_block_check(&v, zero, b->bits, &rule, &e), 0);
}

/* A block may not take a transaction made after its own (whole-second) time: AT = 20 s fits a
 * block at T = 20 s, not one at T = 19 s. */
static void test_chain_block_check_window_upper_boundary(void **state)
{
    struct blocks *b = *state;
    static const unsigned char zero[32];
    const unsigned char *tx[1] = {b->tx[0]};
    unsigned char hdr[80], id[32], target[32];
    struct chain_header h;
    struct mine_result res;
    const char *rule = NULL;
    for (uint32_t T = 19; T <= 20; T++) {
        struct chain_block_view v = {hdr, 1, tx, b->tx_len, 1000};
        memset(&h, 0, sizeof h);
        h.version = CHAIN_BLOCK_VERSION;
        chain_txid(b->tx[0], b->tx_len[0], id);
        memcpy(h.merkle, id, 32); /* one transaction: the root is its id */
        h.time = T;
        h.bits = b->bits;
        chain_header_pack(&h, hdr);
        assert_int_equal(mine_target_from_bits(b->bits, target, NULL), 0);
        assert_int_equal(mine_search(b->m, hdr, target, 0, UINT64_C(1) << 32, &res, NULL), 0);
        mine_header_set_u32(hdr, MINE_HDR_NONCE, res.nonce);
        rule = NULL;
        assert_int_equal(chain_block_check(&v, zero, b->bits, &rule, NULL),
                         T == 19 ? ERR_VERIFY : 0);
        if (T == 19)
            assert_string_equal(rule, "tx_window");
    }
}

static void test_chain_block_tx_time_ok_definition(void **state)
{
    (void)state;
    assert_true(chain_tx_time_ok(900, 1000, 100));      /* T - W itself */
    assert_false(chain_tx_time_ok(899.5, 1000, 100));   /* just before */
    assert_true(chain_tx_time_ok(1000.999, 1000, 100)); /* the block's second */
    assert_false(chain_tx_time_ok(1001, 1000, 100));    /* the next second */
    assert_false(chain_tx_time_ok(NAN, 1000, 100));
}

/* chain.tx_window joined the scenario after identity version 1: at its default it leaves the
 * identity (and every block hash) as it was; any other value is committed. */
static void test_chain_block_identity_root_commits_tx_window_when_set(void **state)
{
    static const char record[] = "setm run identity 1\nversion=0.1.0\nseed=3\n"
                                 "[chain]\nnodes = 4\n";
    static const char dflt[] = "[chain]\nnodes = 4\ntx_window = 86400\n";
    static const char other[] = "[chain]\nnodes = 4\ntx_window = 3600\n";
    static const char sim_key[] = "[sim]\ntx_window = 86400\n[chain]\nnodes = 4\n";
    unsigned char want[32], h1[32], b[32];
    (void)state;
    crypto_hash_sha256(h1, (const unsigned char *)record, sizeof record - 1);
    crypto_hash_sha256(want, h1, sizeof h1);
    chain_identity_root(dflt, 3, "0.1.0", b);
    assert_memory_equal(b, want, 32);
    chain_identity_root(other, 3, "0.1.0", b);
    assert_memory_not_equal(b, want, 32);
    chain_identity_root(sim_key, 3, "0.1.0", b); /* only [chain]'s key is special */
    assert_memory_not_equal(b, want, 32);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_chain_block_bitcoin_headers_hash),
        cmocka_unit_test(test_chain_block_merkle_bitcoin_100000),
        cmocka_unit_test(test_chain_block_merkle_empty_is_zero),
        cmocka_unit_test(test_chain_block_merkle_one_is_its_txid),
        cmocka_unit_test(test_chain_block_merkle_odd_duplicates_last),
        cmocka_unit_test(test_chain_block_bits_from_zero_bits),
        cmocka_unit_test(test_chain_block_bits_out_of_range),
        cmocka_unit_test(test_chain_block_retarget_on_schedule_keeps_bits),
        cmocka_unit_test(test_chain_block_retarget_bitcoin_32256),
        cmocka_unit_test(test_chain_block_retarget_clamps_factor_4),
        cmocka_unit_test(test_chain_block_retarget_caps_at_pow_limit),
        cmocka_unit_test(test_chain_block_retarget_errors),
        cmocka_unit_test(test_chain_block_identity_root_commits_to_scenario),
        cmocka_unit_test(test_chain_block_identity_root_ignores_sim_threads),
        cmocka_unit_test(test_chain_block_identity_root_commits_tx_window_when_set),
        cmocka_unit_test(test_chain_block_tx_time_ok_definition),
        cmocka_unit_test(test_chain_block_check_accepts_valid_chain),
        cmocka_unit_test(test_chain_block_check_rejects_every_flipped_header_byte),
        cmocka_unit_test(test_chain_block_check_window_lower_boundary),
        cmocka_unit_test(test_chain_block_check_window_upper_boundary),
        cmocka_unit_test(test_chain_block_check_rejects_every_flipped_tx_byte),
        cmocka_unit_test(test_chain_block_check_rejects_changed_price),
        cmocka_unit_test(test_chain_block_check_rejects_bad_signature),
        cmocka_unit_test(test_chain_block_check_rejects_removed_block),
        cmocka_unit_test(test_chain_block_check_rejects_repeated_tx),
        cmocka_unit_test(test_chain_block_check_rejects_wrong_bits),
        cmocka_unit_test(test_chain_block_check_rejects_version),
    };
    return cmocka_run_group_tests(unit, blocks_setup, blocks_teardown);
}
