/* test_security — registration, MACs, signatures, mutual keys, message encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <cmocka.h>

#include <sodium.h>

#include "core/pool.h"
#include "core/rng.h"
#include "security/message.h"
#include "security/registry.h"

static const char *const names[] = {"alice", "bob", "carol", "MiM"};

static struct id_registry *reg_model(uint64_t seed, enum id_mutual_model model)
{
    struct err e = {0};
    struct id_registry *r = id_registry_new(seed, names, 4, model, &e);
    assert_non_null(r);
    return r;
}

static struct id_registry *reg(uint64_t seed) { return reg_model(seed, ID_MUTUAL_BESTOWED); }

/* n registered agents named a0, a1, ... (names kept in static storage by the caller). */
static struct id_registry *reg_many(uint64_t seed, size_t n, enum id_mutual_model model,
                                    char (*buf)[12], const char **many)
{
    struct err e = {0};
    struct id_registry *r;
    for (size_t i = 0; i < n; i++) {
        snprintf(buf[i], 12, "a%u", (unsigned)i);
        many[i] = buf[i];
    }
    r = id_registry_new(seed, many, n, model, &e);
    assert_non_null(r);
    return r;
}

static void test_security_keys_reproducible_and_distinct(void **state)
{
    struct id_registry *a = reg(1), *b = reg(1), *c = reg(2);
    (void)state;
    assert_memory_equal(id_public_key(a, 1), id_public_key(b, 1), ID_PK_BYTES);
    assert_memory_not_equal(id_public_key(a, 1), id_public_key(a, 2), ID_PK_BYTES);
    assert_memory_not_equal(id_public_key(a, 1), id_public_key(c, 1), ID_PK_BYTES);
    assert_int_equal(id_count(a), 4);
    assert_true(id_is_registered(a, 3));
    assert_false(id_is_registered(a, 4));
    id_registry_free(a);
    id_registry_free(b);
    id_registry_free(c);
    id_registry_free(NULL);
}

static void test_security_mac_checks_sender_and_bytes(void **state)
{
    struct id_registry *r = reg(1);
    unsigned char msg[40] = "1 kWh at 42 EUR/MWh", tag[ID_MAC_BYTES];
    (void)state;
    id_mac(r, 0, msg, sizeof msg, tag);
    assert_true(id_mac_verify(r, 0, msg, sizeof msg, tag));
    assert_false(id_mac_verify(r, 1, msg, sizeof msg, tag)); /* impersonation */
    assert_false(id_mac_verify(r, 99, msg, sizeof msg, tag)); /* unregistered */
    msg[9] ^= 1;
    assert_false(id_mac_verify(r, 0, msg, sizeof msg, tag)); /* tampered */
    msg[9] ^= 1;
    tag[0] ^= 0x80;
    assert_false(id_mac_verify(r, 0, msg, sizeof msg, tag)); /* forged */
    id_registry_free(r);
}

static void test_security_signatures(void **state)
{
    struct id_registry *r = reg(1);
    unsigned char msg[] = "trade: alice sells bob 2 kWh", sig[ID_SIG_BYTES];
    (void)state;
    id_sign(r, 0, msg, sizeof msg, sig);
    assert_true(id_verify(r, 0, msg, sizeof msg, sig));
    assert_false(id_verify(r, 1, msg, sizeof msg, sig));
    assert_false(id_verify(r, 7, msg, sizeof msg, sig));
    msg[0] ^= 1;
    assert_false(id_verify(r, 0, msg, sizeof msg, sig));
    id_registry_free(r);
}

/* kx: both parties derive the same mutual key, each from its own side (separate registries, so
 * the cache cannot hide a mismatch); other pairs get other keys. */
static void test_security_mutual_key_agrees(void **state)
{
    struct id_registry *r1 = reg_model(5, ID_MUTUAL_KX), *r2 = reg_model(5, ID_MUTUAL_KX);
    unsigned char k01[ID_KEY_BYTES], k10[ID_KEY_BYTES], k02[ID_KEY_BYTES], again[ID_KEY_BYTES];
    unsigned char msg[] = "accept", tag[ID_MAC_BYTES];
    (void)state;
    assert_int_equal(id_mutual_key(r1, 0, 1, k01), 0);
    assert_int_equal(id_mutual_key(r2, 1, 0, k10), 0);
    assert_memory_equal(k01, k10, ID_KEY_BYTES);
    assert_int_equal(id_mutual_key(r1, 1, 0, again), 0); /* cached path */
    assert_memory_equal(k01, again, ID_KEY_BYTES);
    assert_int_equal(id_mutual_key(r1, 0, 2, k02), 0);
    assert_memory_not_equal(k01, k02, ID_KEY_BYTES);
    id_mac_with(k01, msg, sizeof msg, tag);
    assert_true(id_mac_verify_with(k10, msg, sizeof msg, tag));
    assert_false(id_mac_verify_with(k02, msg, sizeof msg, tag));
    assert_int_equal(id_mutual_key(r1, 0, 0, again), ERR_RUNTIME);
    assert_int_equal(id_mutual_key(r1, 0, 9, again), ERR_RUNTIME);
    id_registry_free(r1);
    id_registry_free(r2);
}

static void test_security_mutual_key_cache_grows(void **state)
{
    const char *many[200];
    char buf[200][12];
    struct err e = {0};
    struct id_registry *r;
    unsigned char k[ID_KEY_BYTES], k2[ID_KEY_BYTES];
    (void)state;
    for (int i = 0; i < 200; i++) {
        snprintf(buf[i], sizeof buf[i], "a%u", (unsigned)i);
        many[i] = buf[i];
    }
    r = id_registry_new(3, many, 200, ID_MUTUAL_KX, &e);
    for (uint32_t i = 1; i < 200; i++)
        assert_int_equal(id_mutual_key(r, 0, i, k), 0);
    for (uint32_t i = 1; i < 200; i++) {
        assert_int_equal(id_mutual_key(r, i, 0, k), 0);
        assert_int_equal(id_mutual_key(r, 0, i, k2), 0);
        assert_memory_equal(k, k2, ID_KEY_BYTES);
    }
    id_registry_free(r);
}

/* The message MAC is keyed BLAKE2b-256 with a 32-byte key (RFC 7693).  Expected tag from an
 * independent implementation: Python's hashlib.blake2b(msg, key=bytes(range(32)),
 * digest_size=32). */
static void test_security_mac_is_keyed_blake2b(void **state)
{
    static const unsigned char want[ID_MAC_BYTES] = {
        0x54, 0x66, 0x96, 0x15, 0x10, 0x92, 0x1f, 0xf4, 0x96, 0x03, 0xa1, 0x4b, 0x23, 0x44, 0x40, 0xfa,
        0x2a, 0x0b, 0x4c, 0x94, 0x00, 0x87, 0xfd, 0x67, 0x46, 0xea, 0xea, 0x91, 0xf7, 0x37, 0x0b, 0xc0};
    const char *msg = "SETM message body, 41 bytes long, exact!!";
    unsigned char key[ID_KEY_BYTES], tag[ID_MAC_BYTES];
    (void)state;
    for (int i = 0; i < ID_KEY_BYTES; i++)
        key[i] = (unsigned char)i;
    assert_int_equal(strlen(msg), 41);
    id_mac_with(key, (const unsigned char *)msg, 41, tag);
    assert_memory_equal(tag, want, ID_MAC_BYTES);
    assert_true(id_mac_verify_with(key, (const unsigned char *)msg, 41, want));
    key[31] ^= 1;
    assert_false(id_mac_verify_with(key, (const unsigned char *)msg, 41, want));
}

/* The pair-key cache is bounded (direct-mapped): with thousands of pairs some share a slot and
 * evict each other, and every query still gives the pair's one key, the same from both sides and
 * the same as an uncached derivation. */
static void test_security_mutual_key_cache_evicts_without_changing_keys(void **state)
{
    enum { N = 3001 };
    static char buf[N][12];
    static const char *many[N];
    static unsigned char first[N][ID_KEY_BYTES];
    struct err e = {0};
    struct id_registry *r;
    unsigned char k[ID_KEY_BYTES], k2[ID_KEY_BYTES];
    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "a%u", (unsigned)i);
        many[i] = buf[i];
    }
    r = id_registry_new(5, many, N, ID_MUTUAL_KX, &e);
    assert_non_null(r);
    for (uint32_t i = 1; i < N; i++) {
        assert_int_equal(id_mutual_key(r, 0, i, first[i]), 0);
        assert_int_equal(id_mutual_key(r, i, 0, k), 0);
        assert_memory_equal(k, first[i], ID_KEY_BYTES);
    }
    for (uint32_t i = 1; i < N; i++) {
        assert_int_equal(id_mutual_key(r, 0, i, k), 0);
        assert_memory_equal(k, first[i], ID_KEY_BYTES);
        assert_int_equal(id_mutual_key_derive(r, i, 0, k2), 0);
        assert_memory_equal(k2, first[i], ID_KEY_BYTES);
    }
    assert_int_equal(id_mutual_key_derive(r, 7, 7, k), ERR_RUNTIME);
    assert_int_equal(id_mutual_key_derive(r, 7, N, k), ERR_RUNTIME);
    id_registry_free(r);
}

/* ---- bestowed mutual keys (the paper's model) ------------------------------------------------
 * Expectations come from libsodium directly: a delivery opens with crypto_secretbox_open_easy
 * under the recipient's delivery key, and the key inside is crypto_kdf_derive_from_key of the
 * server's secret for the unordered pair (registry.h). */

static void open_with_libsodium(const struct id_registry *r, uint32_t to,
                                const unsigned char d[ID_DELIVERY_BYTES],
                                unsigned char key[ID_KEY_BYTES])
{
    assert_int_equal(crypto_secretbox_open_easy(key, d + crypto_secretbox_NONCEBYTES,
                                                crypto_secretbox_MACBYTES + ID_KEY_BYTES, d,
                                                id_delivery_key(r, to)),
                     0);
}

static void kdf_of_pair(const struct id_registry *r, uint32_t a, uint32_t b,
                        unsigned char key[ID_KEY_BYTES])
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    assert_int_equal(crypto_kdf_derive_from_key(key, ID_KEY_BYTES, lo << 32 | hi, "SETMpair",
                                                id_server_secret(r)),
                     0);
}

static void test_security_bestowed_key_same_for_both_parties(void **state)
{
    struct id_registry *r = reg(7);
    unsigned char d02[ID_DELIVERY_BYTES], d20[ID_DELIVERY_BYTES], k02[ID_KEY_BYTES],
        k20[ID_KEY_BYTES], want[ID_KEY_BYTES], k[ID_KEY_BYTES], tag[ID_MAC_BYTES];
    const unsigned char nonce_head[16] = {'S', 'E', 'T', 'M', 'p', 'a', 'i', 'r', 0, 0, 0, 0,
                                          2, 0, 0, 0};
    const unsigned char msg[] = "2 kWh at 41.5 EUR/MWh";
    (void)state;
    assert_int_equal(ID_DELIVERY_BYTES, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                            ID_KEY_BYTES);
    assert_int_equal(id_mutual_model(r), ID_MUTUAL_BESTOWED);
    assert_int_equal(id_pair_key_bestow(r, 0, 2, d02), 0);
    assert_int_equal(id_pair_key_bestow(r, 2, 0, d20), 0);
    assert_memory_equal(d02, nonce_head, sizeof nonce_head); /* the documented nonce */
    open_with_libsodium(r, 0, d02, k02);
    open_with_libsodium(r, 2, d20, k20);
    kdf_of_pair(r, 0, 2, want);
    assert_memory_equal(k02, want, ID_KEY_BYTES);
    assert_memory_equal(k20, want, ID_KEY_BYTES);
    assert_memory_not_equal(d02 + ID_NONCE_BYTES + ID_SEAL_TAG_BYTES, want, ID_KEY_BYTES);
    assert_int_equal(id_pair_key_open(r, 0, 2, d02, k), 0);
    assert_memory_equal(k, want, ID_KEY_BYTES);
    assert_int_equal(id_pair_key_open(r, 2, 0, d20, k), 0);
    assert_memory_equal(k, want, ID_KEY_BYTES);
    /* what the market uses: each party's copy, and a MAC under one checks under the other */
    assert_int_equal(id_mutual_key(r, 0, 2, k02), 0);
    assert_int_equal(id_mutual_key(r, 2, 0, k20), 0);
    assert_memory_equal(k02, want, ID_KEY_BYTES);
    assert_memory_equal(k20, want, ID_KEY_BYTES);
    id_mac_with(k02, msg, sizeof msg, tag);
    assert_true(id_mac_verify_with(k20, msg, sizeof msg, tag));
    assert_int_equal(id_mutual_key_cached(r, 0, 2, k), 0); /* bestowed per transaction: no cache */
    assert_int_equal(id_mutual_key(r, 1, 1, k), ERR_RUNTIME);
    assert_int_equal(id_mutual_key(r, 1, 4, k), ERR_RUNTIME);
    id_registry_free(r);
}

static void test_security_bestowed_keys_differ_between_pairs_and_seeds(void **state)
{
    enum { N = 30 };
    static char buf[N][12], buf2[N][12];
    static const char *many[N], *many2[N];
    static unsigned char keys[N * (N - 1) / 2][ID_KEY_BYTES];
    struct id_registry *r = reg_many(11, N, ID_MUTUAL_BESTOWED, buf, many);
    struct id_registry *other = reg_many(12, N, ID_MUTUAL_BESTOWED, buf2, many2);
    struct id_registry *kx = reg_many(11, N, ID_MUTUAL_KX, buf2, many2);
    unsigned char k[ID_KEY_BYTES];
    size_t m = 0;
    (void)state;
    for (uint32_t a = 0; a < N; a++)
        for (uint32_t b = a + 1; b < N; b++) {
            assert_int_equal(id_mutual_key(r, a, b, keys[m]), 0);
            assert_int_equal(id_mutual_key(other, a, b, k), 0);
            assert_memory_not_equal(k, keys[m], ID_KEY_BYTES); /* another seed, another server */
            assert_int_equal(id_mutual_key(kx, a, b, k), 0);
            assert_memory_not_equal(k, keys[m], ID_KEY_BYTES); /* the other model */
            m++;
        }
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++)
            assert_memory_not_equal(keys[i], keys[j], ID_KEY_BYTES);
    id_registry_free(r);
    id_registry_free(other);
    id_registry_free(kx);
}

/* Every ordered pair's key, computed by tasks on a pool (id_mutual_key_derive: no cache). */
enum { ORDER_N = 24 };
struct pair_keys {
    const struct id_registry *r;
    unsigned char k[ORDER_N][ORDER_N][ID_KEY_BYTES];
};

static int derive_task(void *ctx, size_t i)
{
    struct pair_keys *p = ctx;
    uint32_t a = (uint32_t)(i / ORDER_N), b = (uint32_t)(i % ORDER_N);
    if (a == b)
        return 0;
    return id_mutual_key_derive(p->r, a, b, p->k[a][b]);
}

/* A pair's key does not depend on which party asks first, on the order of the pairs, on a
 * cache (kx) or on how many threads derive keys at once; both models. */
static void test_security_mutual_key_independent_of_order_cache_and_threads(void **state)
{
    static char buf[ORDER_N][12];
    static const char *many[ORDER_N];
    static struct pair_keys serial, parallel;
    (void)state;
    for (int model = ID_MUTUAL_BESTOWED; model <= ID_MUTUAL_KX; model++) {
        struct id_registry *fwd = reg_many(21, ORDER_N, model, buf, many);
        struct id_registry *rev = reg_many(21, ORDER_N, model, buf, many);
        unsigned char k[ID_KEY_BYTES];
        struct err e = {0};
        for (uint32_t a = 0; a < ORDER_N; a++)
            for (uint32_t b = 0; b < ORDER_N; b++)
                if (a != b)
                    assert_int_equal(id_mutual_key(fwd, a, b, serial.k[a][b]), 0);
        for (uint32_t a = ORDER_N; a-- > 0;)
            for (uint32_t b = ORDER_N; b-- > 0;)
                if (a != b) {
                    assert_int_equal(id_mutual_key(rev, b, a, k), 0); /* the other party first */
                    assert_memory_equal(k, serial.k[a][b], ID_KEY_BYTES);
                    assert_memory_equal(serial.k[b][a], serial.k[a][b], ID_KEY_BYTES);
                    assert_int_equal(id_mutual_key(fwd, a, b, k), 0); /* again: cached in kx */
                    assert_memory_equal(k, serial.k[a][b], ID_KEY_BYTES);
                }
        for (int threads = 1; threads <= 3; threads++) {
            struct pool *p = pool_new(threads, &e);
            assert_non_null(p);
            memset(&parallel, 0, sizeof parallel);
            parallel.r = rev;
            assert_int_equal(pool_run(p, ORDER_N * ORDER_N, derive_task, &parallel, NULL), 0);
            for (uint32_t a = 0; a < ORDER_N; a++)
                for (uint32_t b = 0; b < ORDER_N; b++)
                    if (a != b)
                        assert_memory_equal(parallel.k[a][b], serial.k[a][b], ID_KEY_BYTES);
            pool_free(p);
        }
        id_registry_free(fwd);
        id_registry_free(rev);
    }
}

/* Keys generated on a pool (id_registry_new_pool, 1 to 4 threads) are every agent's keys as
 * registry.h defines them: from the agent's stream (seed, "security.keys", its name) the MAC
 * key, the Ed25519 seed, the X25519 seed and the delivery key, 32 bytes each in that order
 * (recomputed here with libsodium); the kx mutual keys they give agree too. */
static void test_security_keys_on_a_pool_are_each_agents_own(void **state)
{
    enum { N = 300 };
    static char buf[N][12];
    static const char *many[N];
    static unsigned char mac[N][32], pk[N][crypto_sign_PUBLICKEYBYTES], deliver[N][32];
    static unsigned char kx_pk[N][crypto_kx_PUBLICKEYBYTES], kx_sk[N][crypto_kx_SECRETKEYBYTES];
    (void)state;
    for (uint32_t i = 0; i < N; i++) { /* registry.h's definition, with libsodium */
        unsigned char s1[32], s2[32], sk[crypto_sign_SECRETKEYBYTES];
        gsl_rng *g;
        snprintf(buf[i], 12, "a%u", (unsigned)i);
        many[i] = buf[i];
        g = rng_stream_new(31, "security.keys", rng_name_id(many[i]));
        assert_non_null(g);
        rng_fill(g, mac[i], 32);
        rng_fill(g, s1, 32);
        rng_fill(g, s2, 32);
        rng_fill(g, deliver[i], 32);
        rng_free(g);
        crypto_sign_seed_keypair(pk[i], sk, s1);
        crypto_kx_seed_keypair(kx_pk[i], kx_sk[i], s2);
    }
    for (int threads = 0; threads <= 4; threads++) { /* 0: no pool */
        struct err e = {0};
        struct pool *p = threads ? pool_new(threads, &e) : NULL;
        struct id_registry *r;
        assert_true(!threads || p);
        r = id_registry_new_pool(31, many, N, ID_MUTUAL_KX, p, &e);
        assert_non_null(r);
        for (uint32_t i = 0; i < N; i++) {
            unsigned char t1[ID_MAC_BYTES], t2[ID_MAC_BYTES], k[ID_KEY_BYTES];
            unsigned char rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
            assert_memory_equal(id_public_key(r, i), pk[i], sizeof pk[i]);
            assert_memory_equal(id_delivery_key(r, i), deliver[i], sizeof deliver[i]);
            id_mac(r, i, pk[i], 32, t1);
            crypto_generichash(t2, sizeof t2, pk[i], 32, mac[i], sizeof mac[i]);
            assert_memory_equal(t1, t2, sizeof t1);
            if (i + 1 < N) { /* the kx key of (i, i + 1): i plays client, its tx key */
                assert_int_equal(crypto_kx_client_session_keys(rx, tx, kx_pk[i], kx_sk[i],
                                                               kx_pk[i + 1]), 0);
                assert_int_equal(id_mutual_key_derive(r, i, i + 1, k), 0);
                assert_memory_equal(k, tx, sizeof k);
            }
        }
        id_registry_free(r);
        pool_free(p);
    }
}

/* A delivery altered in any bit of any byte, meant for the other party or another pair, or
 * sealed by anyone but the server, does not open. */
static void test_security_bestowed_tampered_delivery_rejected(void **state)
{
    struct id_registry *r = reg(9);
    unsigned char d[ID_DELIVERY_BYTES], x[ID_DELIVERY_BYTES], k[ID_KEY_BYTES], fake[ID_KEY_BYTES];
    unsigned char attacker[crypto_secretbox_KEYBYTES];
    (void)state;
    assert_int_equal(id_pair_key_bestow(r, 0, 1, d), 0);
    assert_int_equal(id_pair_key_open(r, 0, 1, d, k), 0);
    for (size_t i = 0; i < ID_DELIVERY_BYTES; i++)
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(x, d, sizeof x);
            x[i] ^= (unsigned char)(1u << bit);
            assert_int_equal(id_pair_key_open(r, 0, 1, x, k), ERR_VERIFY);
            if (i >= ID_NONCE_BYTES) /* libsodium agrees: the seal authenticates */
                assert_int_not_equal(
                    crypto_secretbox_open_easy(k, x + ID_NONCE_BYTES,
                                               ID_SEAL_TAG_BYTES + ID_KEY_BYTES, x,
                                               id_delivery_key(r, 0)),
                    0);
        }
    assert_int_equal(id_pair_key_open(r, 0, 2, d, k), ERR_VERIFY); /* another pair */
    assert_int_equal(id_pair_key_bestow(r, 1, 0, x), 0);
    assert_int_equal(id_pair_key_open(r, 0, 1, x, k), ERR_VERIFY); /* the peer's delivery */
    /* a forgery with the right nonce, sealed under a key other than agent 0's */
    randombytes_buf(fake, sizeof fake);
    randombytes_buf(attacker, sizeof attacker);
    memcpy(x, d, ID_NONCE_BYTES);
    crypto_secretbox_easy(x + ID_NONCE_BYTES, fake, sizeof fake, x, attacker);
    assert_int_equal(id_pair_key_open(r, 0, 1, x, k), ERR_VERIFY);
    crypto_secretbox_easy(x + ID_NONCE_BYTES, fake, sizeof fake, x, id_delivery_key(r, 3));
    assert_int_equal(id_pair_key_open(r, 0, 1, x, k), ERR_VERIFY); /* agent 3's key */
    assert_int_equal(id_pair_key_bestow(r, 0, 0, x), ERR_RUNTIME);
    assert_int_equal(id_pair_key_bestow(r, 0, 4, x), ERR_RUNTIME);
    assert_int_equal(id_pair_key_open(r, 4, 0, d, k), ERR_RUNTIME);
    assert_int_equal(id_pair_key_open(r, 1, 1, d, k), ERR_RUNTIME);
    id_registry_free(r);
}

static void test_security_message_round_trip_and_seal(void **state)
{
    struct id_registry *r = reg(1);
    struct msg m = {MSG_SHARE, 2, 7, 95, 3, 1.25, 41.5, {0}}, d;
    unsigned char wire[MSG_WIRE_BYTES];
    struct err e = {0};
    (void)state;
    msg_seal(&m, r);
    msg_encode(&m, wire);
    assert_int_equal(msg_decode(wire, sizeof wire, &d, &e), 0);
    assert_int_equal(d.kind, MSG_SHARE);
    assert_int_equal(d.sender, 2);
    assert_int_equal(d.seq, 7);
    assert_int_equal(d.slot, 95);
    assert_int_equal(d.round, 3);
    assert_true(d.kwh == 1.25 && d.price == 41.5);
    assert_true(id_mac_verify(r, 2, wire, MSG_BODY_BYTES, d.mac));
    wire[30] ^= 4; /* kWh changed in transit */
    assert_int_equal(msg_decode(wire, sizeof wire, &d, &e), 0);
    assert_false(id_mac_verify(r, 2, wire, MSG_BODY_BYTES, d.mac));
    assert_string_equal(msg_kind_name(MSG_REPLY), "REPLY");
    id_registry_free(r);
}

static void test_security_message_decode_rejects_malformed(void **state)
{
    struct msg m = {MSG_REQUEST, 1, 1, 0, 0, 1.0, 40.0, {0}}, d;
    unsigned char wire[MSG_WIRE_BYTES];
    struct err e = {0};
    (void)state;
    msg_encode(&m, wire);
    assert_int_equal(msg_decode(wire, MSG_WIRE_BYTES - 1, &d, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "expected 73"));
    wire[0] = 9;
    assert_int_equal(msg_decode(wire, MSG_WIRE_BYTES, &d, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "kind 9"));
    m.kwh = -1;
    msg_encode(&m, wire);
    assert_int_equal(msg_decode(wire, MSG_WIRE_BYTES, &d, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "kWh"));
    m.kwh = 1;
    m.price = NAN;
    msg_encode(&m, wire);
    assert_int_equal(msg_decode(wire, MSG_WIRE_BYTES, &d, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "price"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_security_keys_reproducible_and_distinct),
        cmocka_unit_test(test_security_mac_checks_sender_and_bytes),
        cmocka_unit_test(test_security_mac_is_keyed_blake2b),
        cmocka_unit_test(test_security_mutual_key_cache_evicts_without_changing_keys),
        cmocka_unit_test(test_security_signatures),
        cmocka_unit_test(test_security_mutual_key_agrees),
        cmocka_unit_test(test_security_mutual_key_cache_grows),
        cmocka_unit_test(test_security_bestowed_key_same_for_both_parties),
        cmocka_unit_test(test_security_bestowed_keys_differ_between_pairs_and_seeds),
        cmocka_unit_test(test_security_mutual_key_independent_of_order_cache_and_threads),
        cmocka_unit_test(test_security_keys_on_a_pool_are_each_agents_own),
        cmocka_unit_test(test_security_bestowed_tampered_delivery_rejected),
        cmocka_unit_test(test_security_message_round_trip_and_seal),
        cmocka_unit_test(test_security_message_decode_rejects_malformed),
    };
    return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
