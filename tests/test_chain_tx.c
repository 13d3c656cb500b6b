/* test_chain_tx — coin unit, canonical encoding (round trip, uniqueness), decoding errors,
 * transaction ids, and Ed25519 signature checks of trades and transfers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "chain/tx.h"

struct keys {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

static void keys_make(struct keys *k, unsigned char tag)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    memset(seed, tag, sizeof seed);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

/* A trade with three buyers, every party signing with the key made from its tag. */
struct fixture {
    struct keys seller, buyer[3];
    struct chain_tx_party buyers[3];
    struct chain_tx tx;
    unsigned char enc[CHAIN_TX_MAX_LEN];
    size_t len;
};

static void sign_all(struct fixture *f)
{
    unsigned char msg[4096];
    size_t mlen;
    assert_int_equal(chain_tx_signing_bytes(&f->tx, msg, sizeof msg, &mlen, NULL), 0);
    crypto_sign_detached(f->tx.from.sig, NULL, msg, mlen, f->seller.sk);
    for (size_t i = 0; i < f->tx.n_buyers; i++)
        crypto_sign_detached(f->buyers[i].sig, NULL, msg, mlen, f->buyer[i].sk);
}

static int setup(void **state)
{
    static struct fixture f;
    if (sodium_init() < 0)
        return -1;
    memset(&f, 0, sizeof f);
    keys_make(&f.seller, 1);
    f.tx.kind = CHAIN_TX_TRADE;
    f.tx.ref = 42;
    f.tx.price = 123.5;
    f.tx.request_time = 900;
    f.tx.agreement_time = 960;
    memset(f.tx.from.addr, 0xa1, CHAIN_ADDR_LEN);
    memcpy(f.tx.from.pk, f.seller.pk, CHAIN_PK_LEN);
    for (int i = 0; i < 3; i++) {
        keys_make(&f.buyer[i], (unsigned char)(10 + i));
        memset(f.buyers[i].addr, 0xb0 + i, CHAIN_ADDR_LEN);
        memcpy(f.buyers[i].pk, f.buyer[i].pk, CHAIN_PK_LEN);
        f.buyers[i].kwh = 0.25 * (i + 1);
    }
    f.tx.n_buyers = 3;
    f.tx.buyers = f.buyers;
    sign_all(&f);
    if (chain_tx_encode(&f.tx, f.enc, sizeof f.enc, &f.len, NULL))
        return -1;
    *state = &f;
    return 0;
}

static void test_chain_tx_coins_unit(void **state)
{
    (void)state;
    /* 100 EUR/MWh for 1 kWh is 0.1 EUR = 100000 micro-euro coins */
    assert_int_equal(chain_tx_coins(100, 1), 100000);
    assert_int_equal(chain_tx_coins(55.5, 0.002), 111); /* 0.000111 EUR */
    assert_int_equal(chain_tx_coins(0, 3), 0);
}

static void test_chain_tx_coins_rejects_bad_values(void **state)
{
    (void)state;
    assert_int_equal(chain_tx_coins(-1, 1), -1);
    assert_int_equal(chain_tx_coins(1, -1), -1);
    assert_int_equal(chain_tx_coins(NAN, 1), -1);
    assert_int_equal(chain_tx_coins(1, INFINITY), -1);
    assert_int_equal(chain_tx_coins(1e300, 1e10), -1);
}

static void test_chain_tx_trade_layout(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->len, CHAIN_TX_TRADE_FIXED + 3 * CHAIN_TX_TRADE_BUYER + 4 * CHAIN_SIG_LEN);
    assert_int_equal(f->len, chain_tx_len(&f->tx));
    assert_int_equal(f->enc[0], CHAIN_TX_VERSION);
    assert_int_equal(f->enc[1], CHAIN_TX_TRADE);
    assert_int_equal(f->enc[2], 42);             /* ref, little-endian */
    assert_memory_equal(f->enc + 54, f->seller.pk, CHAIN_PK_LEN);
    assert_int_equal(f->enc[86], 3);             /* buyer count */
}

static void test_chain_tx_signing_bytes_prefix_encoding(void **state)
{
    struct fixture *f = *state;
    unsigned char msg[4096];
    size_t mlen;
    assert_int_equal(chain_tx_signing_bytes(&f->tx, msg, sizeof msg, &mlen, NULL), 0);
    assert_int_equal(mlen, chain_tx_signing_len(&f->tx));
    assert_memory_equal(msg, f->enc, mlen);
}

static void test_chain_tx_trade_round_trip(void **state)
{
    struct fixture *f = *state;
    struct chain_tx d;
    struct chain_tx_party b[4];
    unsigned char again[CHAIN_TX_MAX_LEN];
    size_t len;
    assert_int_equal(chain_tx_decode(f->enc, f->len, &d, b, 4, NULL), 0);
    assert_int_equal(d.n_buyers, 3);
    assert_true(d.price == 123.5);
    assert_true(b[2].kwh == 0.75);
    assert_int_equal(chain_tx_encode(&d, again, sizeof again, &len, NULL), 0);
    assert_int_equal(len, f->len);
    assert_memory_equal(again, f->enc, len);
}

static void test_chain_tx_transfer_round_trip(void **state)
{
    struct fixture *f = *state;
    struct chain_tx t, d;
    unsigned char enc[CHAIN_TX_TRANSFER_LEN], again[CHAIN_TX_TRANSFER_LEN];
    size_t len, len2;
    memset(&t, 0, sizeof t);
    t.kind = CHAIN_TX_TRANSFER;
    t.ref = 7;
    t.time = 12.5;
    t.coins = 5000;
    memcpy(t.from.pk, f->seller.pk, CHAIN_PK_LEN);
    memset(t.to.addr, 0x33, CHAIN_ADDR_LEN);
    assert_int_equal(chain_tx_encode(&t, enc, sizeof enc, &len, NULL), 0);
    assert_int_equal(len, CHAIN_TX_TRANSFER_LEN);
    assert_int_equal(chain_tx_decode(enc, len, &d, NULL, 0, NULL), 0);
    assert_int_equal(d.coins, 5000);
    assert_int_equal(chain_tx_encode(&d, again, sizeof again, &len2, NULL), 0);
    assert_memory_equal(again, enc, len);
}

static void test_chain_tx_verify_accepts_signed(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(chain_tx_verify(&f->tx, NULL), 0);
}

static void test_chain_tx_verify_rejects_bad_buyer_signature(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    f->buyers[2].sig[5] ^= 1;
    assert_int_equal(chain_tx_verify(&f->tx, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "buyer 2"));
    f->buyers[2].sig[5] ^= 1;
}

static void test_chain_tx_verify_rejects_changed_price(void **state)
{
    struct fixture *f = *state;
    struct err e = {0};
    f->tx.price = 124.5; /* signatures were made over 123.5 */
    assert_int_equal(chain_tx_verify(&f->tx, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "seller"));
    f->tx.price = 123.5;
}

static void test_chain_tx_id_changes_with_any_byte(void **state)
{
    struct fixture *f = *state;
    unsigned char id0[CHAIN_TXID_LEN], id1[CHAIN_TXID_LEN], copy[CHAIN_TX_MAX_LEN];
    chain_txid(f->enc, f->len, id0);
    for (size_t i = 0; i < f->len; i++) {
        memcpy(copy, f->enc, f->len);
        copy[i] ^= 0x80;
        chain_txid(copy, f->len, id1);
        assert_memory_not_equal(id0, id1, CHAIN_TXID_LEN);
    }
}

static void test_chain_tx_decode_rejects_truncated_and_trailing(void **state)
{
    struct fixture *f = *state;
    struct chain_tx d;
    struct chain_tx_party b[4];
    unsigned char buf[CHAIN_TX_MAX_LEN + 1];
    memcpy(buf, f->enc, f->len);
    buf[f->len] = 0;
    assert_int_equal(chain_tx_decode(buf, f->len - 1, &d, b, 4, NULL), ERR_FORMAT);
    assert_int_equal(chain_tx_decode(buf, f->len + 1, &d, b, 4, NULL), ERR_FORMAT);
    assert_int_equal(chain_tx_decode(buf, 5, &d, b, 4, NULL), ERR_FORMAT);
}

static void test_chain_tx_decode_rejects_bad_fields(void **state)
{
    struct fixture *f = *state;
    struct chain_tx d;
    struct chain_tx_party b[4];
    unsigned char buf[CHAIN_TX_MAX_LEN];
    struct err e = {0};
    const double nan = NAN, early = 10;

    memcpy(buf, f->enc, f->len);
    buf[0] = 2; /* version */
    assert_int_equal(chain_tx_decode(buf, f->len, &d, b, 4, &e), ERR_FORMAT);
    memcpy(buf, f->enc, f->len);
    buf[1] = 9; /* kind */
    assert_int_equal(chain_tx_decode(buf, f->len, &d, b, 4, &e), ERR_FORMAT);
    memcpy(buf, f->enc, f->len);
    memcpy(buf + 10, &nan, 8); /* price */
    assert_int_equal(chain_tx_decode(buf, f->len, &d, b, 4, &e), ERR_FORMAT);
    memcpy(buf, f->enc, f->len);
    memcpy(buf + 26, &early, 8); /* AT before eRT */
    assert_int_equal(chain_tx_decode(buf, f->len, &d, b, 4, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "agreement"));
    memcpy(buf, f->enc, f->len);
    assert_int_equal(chain_tx_decode(buf, f->len, &d, b, 2, &e), ERR_FORMAT); /* no room */
    buf[86] = 0; /* zero buyers */
    assert_int_equal(chain_tx_decode(buf, f->len, &d, b, 4, &e), ERR_FORMAT);
}

static void test_chain_tx_encode_rejects_bad_tx(void **state)
{
    struct fixture *f = *state;
    unsigned char buf[CHAIN_TX_MAX_LEN];
    size_t len;
    struct chain_tx t = f->tx;
    assert_int_equal(chain_tx_encode(&t, buf, 10, &len, NULL), ERR_USAGE);
    t.kind = 7;
    assert_int_equal(chain_tx_encode(&t, buf, sizeof buf, &len, NULL), ERR_FORMAT);
    assert_int_equal(chain_tx_len(&t), 0);
    t = f->tx;
    t.n_buyers = 0;
    assert_int_equal(chain_tx_signing_bytes(&t, buf, sizeof buf, &len, NULL), ERR_FORMAT);
    t = f->tx;
    t.kind = CHAIN_TX_TRANSFER;
    t.coins = 0;
    assert_int_equal(chain_tx_encode(&t, buf, sizeof buf, &len, NULL), ERR_FORMAT);
}

static void test_chain_tx_verify_rejects_malformed(void **state)
{
    struct fixture *f = *state;
    struct chain_tx t = f->tx;
    t.price = -1;
    assert_int_equal(chain_tx_verify(&t, NULL), ERR_FORMAT);
}

static void test_chain_tx_hex(void **state)
{
    char out[7];
    const unsigned char b[3] = {0x00, 0xab, 0x7f};
    (void)state;
    chain_hex(b, 3, out);
    assert_string_equal(out, "00ab7f");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_tx_coins_unit),
        cmocka_unit_test(test_chain_tx_coins_rejects_bad_values),
        cmocka_unit_test(test_chain_tx_trade_layout),
        cmocka_unit_test(test_chain_tx_signing_bytes_prefix_encoding),
        cmocka_unit_test(test_chain_tx_trade_round_trip),
        cmocka_unit_test(test_chain_tx_transfer_round_trip),
        cmocka_unit_test(test_chain_tx_verify_accepts_signed),
        cmocka_unit_test(test_chain_tx_verify_rejects_bad_buyer_signature),
        cmocka_unit_test(test_chain_tx_verify_rejects_changed_price),
        cmocka_unit_test(test_chain_tx_id_changes_with_any_byte),
        cmocka_unit_test(test_chain_tx_decode_rejects_truncated_and_trailing),
        cmocka_unit_test(test_chain_tx_decode_rejects_bad_fields),
        cmocka_unit_test(test_chain_tx_encode_rejects_bad_tx),
        cmocka_unit_test(test_chain_tx_verify_rejects_malformed),
        cmocka_unit_test(test_chain_tx_hex),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
