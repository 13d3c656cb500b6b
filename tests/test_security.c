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

#include "security/message.h"
#include "security/registry.h"

static const char *const names[] = {"alice", "bob", "carol", "MiM"};

static struct id_registry *reg(uint64_t seed)
{
    struct err e = {0};
    struct id_registry *r = id_registry_new(seed, names, 4, &e);
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

/* Both parties derive the same mutual key, each from its own side (separate registries, so the
 * cache cannot hide a mismatch); other pairs get other keys. */
static void test_security_mutual_key_agrees(void **state)
{
    struct id_registry *r1 = reg(5), *r2 = reg(5);
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
    char buf[200][8];
    struct err e = {0};
    struct id_registry *r;
    unsigned char k[ID_KEY_BYTES], k2[ID_KEY_BYTES];
    (void)state;
    for (int i = 0; i < 200; i++) {
        snprintf(buf[i], sizeof buf[i], "a%d", i);
        many[i] = buf[i];
    }
    r = id_registry_new(3, many, 200, &e);
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
    static char buf[N][8];
    static const char *many[N];
    static unsigned char first[N][ID_KEY_BYTES];
    struct err e = {0};
    struct id_registry *r;
    unsigned char k[ID_KEY_BYTES], k2[ID_KEY_BYTES];
    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "a%d", i);
        many[i] = buf[i];
    }
    r = id_registry_new(5, many, N, &e);
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
        cmocka_unit_test(test_security_message_round_trip_and_seal),
        cmocka_unit_test(test_security_message_decode_rejects_malformed),
    };
    return cmocka_run_group_tests_name("security", tests, NULL, NULL);
}
