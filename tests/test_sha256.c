/*
 * test_sha256 — crypto/sha256 (the host build of kernels/sha256.cl, and its SHA-NI path): the
 * FIPS 180-4 examples, agreement with libsodium's crypto_hash_sha256 (an independent
 * implementation) on inputs of every length 0..300 in one piece and streamed in uneven pieces,
 * on the portable path and on the SHA-NI path (skipped on a CPU without it), long multi-block
 * inputs, the raw compressions of both paths on random states, midstates, and SHA-256d of real
 * Bitcoin headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/sha256.h"

static void hex_of(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void assert_sha256_hex(const void *msg, size_t len, const char *want)
{
    unsigned char d[CRYPTO_SHA256_LEN];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    crypto_sha256(msg, len, d);
    hex_of(d, sizeof d, hex);
    assert_string_equal(hex, want);
}

/* FIPS 180-4 / NIST CSRC example: one block. */
static void test_sha256_fips_abc(void **state)
{
    (void)state;
    assert_sha256_hex("abc", 3,
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Two blocks: the padding does not fit after 56 bytes of message. */
static void test_sha256_fips_two_blocks(void **state)
{
    static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    (void)state;
    assert_sha256_hex(msg, strlen(msg),
                      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_empty(void **state)
{
    (void)state;
    assert_sha256_hex(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* One million 'a', streamed in 1000-byte pieces. */
static void test_sha256_fips_million_a(void **state)
{
    unsigned char piece[1000], d[CRYPTO_SHA256_LEN];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    struct crypto_sha256 c;
    (void)state;
    memset(piece, 'a', sizeof piece);
    crypto_sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        crypto_sha256_update(&c, piece, sizeof piece);
    crypto_sha256_final(&c, d);
    hex_of(d, sizeof d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every length 0..300 of deterministic random bytes (so every padding case: 55 bytes pad in
 * one block, 56..63 need a second, 64 and 119/120 likewise one block on): one-shot and streamed
 * in pieces of 1, 7, 63, 64 and 65 bytes, started by `init` (which picks the path), all equal
 * libsodium's SHA-256; SHA-256d equals libsodium applied twice. */
static void check_all_lengths(void (*init)(struct crypto_sha256 *), int want_shani)
{
    static const unsigned char seed[randombytes_SEEDBYTES] = "setm test_sha256 fixed seed....";
    static const size_t steps[] = {1, 7, 63, 64, 65, 300};
    unsigned char buf[300], ours[CRYPTO_SHA256_LEN], ref[CRYPTO_SHA256_LEN];
    assert_true(sodium_init() >= 0);
    randombytes_buf_deterministic(buf, sizeof buf, seed);
    for (size_t len = 0; len <= sizeof buf; len++) {
        crypto_hash_sha256(ref, buf, len);
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            struct crypto_sha256 c;
            init(&c);
            assert_int_equal(c.shani, want_shani);
            for (size_t at = 0; at < len; at += steps[s])
                crypto_sha256_update(&c, buf + at, len - at < steps[s] ? len - at : steps[s]);
            crypto_sha256_final(&c, ours);
            assert_memory_equal(ours, ref, sizeof ref);
        }
    }
}

/* The one-shot functions, on whichever path this CPU gets. */
static void test_sha256_matches_libsodium_all_lengths(void **state)
{
    static const unsigned char seed[randombytes_SEEDBYTES] = "setm test_sha256 other seed.....";
    unsigned char buf[300], ours[CRYPTO_SHA256_LEN], ref[CRYPTO_SHA256_LEN];
    (void)state;
    assert_true(sodium_init() >= 0);
    randombytes_buf_deterministic(buf, sizeof buf, seed);
    for (size_t len = 0; len <= sizeof buf; len++) {
        crypto_hash_sha256(ref, buf, len);
        crypto_sha256(buf, len, ours);
        assert_memory_equal(ours, ref, sizeof ref);
        crypto_hash_sha256(ref, ref, sizeof ref);
        crypto_sha256d(buf, len, ours);
        assert_memory_equal(ours, ref, sizeof ref);
    }
}

/* The portable rounds, forced whatever the CPU has. */
static void test_sha256_portable_path_matches_libsodium(void **state)
{
    (void)state;
    check_all_lengths(crypto_sha256_init_portable, 0);
}

/* The SHA-NI rounds: crypto_sha256_init chooses them on a CPU that has them. */
static void test_sha256_shani_path_matches_libsodium(void **state)
{
    (void)state;
    if (!crypto_sha256_shani_available())
        skip();
    check_all_lengths(crypto_sha256_init, 1);
}

/* Long inputs absorbed in one update (many whole blocks per compression call) on both paths. */
static void test_sha256_long_inputs_both_paths(void **state)
{
    static const unsigned char seed[randombytes_SEEDBYTES] = "setm test_sha256 long seed......";
    static const size_t lens[] = {640, 1000, 4096, 4159, 65536 + 17};
    static unsigned char buf[65536 + 17];
    unsigned char ours[CRYPTO_SHA256_LEN], ref[CRYPTO_SHA256_LEN];
    (void)state;
    assert_true(sodium_init() >= 0);
    randombytes_buf_deterministic(buf, sizeof buf, seed);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        struct crypto_sha256 c;
        crypto_hash_sha256(ref, buf, lens[k]);
        for (int path = 0; path < 2; path++) {
            if (path == 1 && !crypto_sha256_shani_available())
                continue;
            (path ? crypto_sha256_init : crypto_sha256_init_portable)(&c);
            crypto_sha256_update(&c, buf, 3); /* unaligned: the rest is whole blocks + a tail */
            crypto_sha256_update(&c, buf + 3, lens[k] - 3);
            crypto_sha256_final(&c, ours);
            assert_memory_equal(ours, ref, sizeof ref);
        }
    }
}

/* The raw compressions agree on arbitrary (not IV) states and 1..8 blocks, and
 * crypto_sha256_compress equals the portable one. */
static void test_sha256_compress_paths_agree(void **state)
{
    static const unsigned char seed[randombytes_SEEDBYTES] = "setm test_sha256 compress seed..";
    unsigned char blocks[8 * CRYPTO_SHA256_BLOCK], st[32 * 64];
    (void)state;
    assert_true(sodium_init() >= 0);
    randombytes_buf_deterministic(st, sizeof st, seed);
    for (int trial = 0; trial < 64; trial++) {
        uint32_t a[8], b[8], d[8];
        size_t n = 1 + (size_t)trial % 8;
        memcpy(a, st + 32 * trial, sizeof a);
        memcpy(b, a, sizeof b);
        memcpy(d, a, sizeof d);
        for (size_t i = 0; i < sizeof blocks; i++)
            blocks[i] = (unsigned char)(st[(i * 7 + (size_t)trial) % sizeof st] ^ i);
        crypto_sha256_compress_portable(a, blocks, n);
        if (crypto_sha256_shani_available()) {
            crypto_sha256_compress_shani(b, blocks, n);
            assert_memory_equal(a, b, sizeof a);
        }
        for (size_t k = 0; k < n; k++)
            crypto_sha256_compress(d, blocks + k * CRYPTO_SHA256_BLOCK);
        assert_memory_equal(a, d, sizeof a);
    }
}

/* A midstate (IV + one compression of 64 bytes) is the streaming state after those bytes. */
static void test_sha256_compress_midstate(void **state)
{
    unsigned char block[CRYPTO_SHA256_BLOCK];
    uint32_t mid[8];
    struct crypto_sha256 c;
    (void)state;
    for (int i = 0; i < CRYPTO_SHA256_BLOCK; i++)
        block[i] = (unsigned char)(i * 37 + 11);
    crypto_sha256_iv(mid);
    assert_int_equal(mid[0], 0x6a09e667U);
    crypto_sha256_compress(mid, block);
    crypto_sha256_init(&c);
    crypto_sha256_update(&c, block, sizeof block);
    assert_memory_equal(mid, c.state, sizeof mid);
}

/* SHA-256d of real Bitcoin headers (tests/vectors/bitcoin_headers.txt) gives their block hashes. */
static void test_sha256d_bitcoin_headers(void **state)
{
    char path[4096], line[1024];
    const char *src = getenv("SETM_SOURCE_DIR");
    int checked = 0;
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/tests/vectors/bitcoin_headers.txt", src ? src : SETM_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        char hash[80], hdr[200], hex[2 * CRYPTO_SHA256_LEN + 1];
        unsigned long height, nonce;
        unsigned char h[80], d[CRYPTO_SHA256_LEN], rev[CRYPTO_SHA256_LEN];
        if (line[0] == '#' || sscanf(line, "%lu %lu %79s %199s", &height, &nonce, hash, hdr) != 4)
            continue;
        assert_int_equal(strlen(hdr), 160);
        for (int i = 0; i < 80; i++) {
            unsigned v;
            assert_int_equal(sscanf(hdr + 2 * i, "%2x", &v), 1);
            h[i] = (unsigned char)v;
        }
        crypto_sha256d(h, sizeof h, d);
        for (int i = 0; i < CRYPTO_SHA256_LEN; i++)
            rev[i] = d[CRYPTO_SHA256_LEN - 1 - i];
        hex_of(rev, sizeof rev, hex);
        assert_string_equal(hex, hash);
        checked++;
    }
    fclose(f);
    assert_true(checked >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips_abc),
        cmocka_unit_test(test_sha256_fips_two_blocks),
        cmocka_unit_test(test_sha256_empty),
        cmocka_unit_test(test_sha256_fips_million_a),
        cmocka_unit_test(test_sha256_matches_libsodium_all_lengths),
        cmocka_unit_test(test_sha256_portable_path_matches_libsodium),
        cmocka_unit_test(test_sha256_shani_path_matches_libsodium),
        cmocka_unit_test(test_sha256_long_inputs_both_paths),
        cmocka_unit_test(test_sha256_compress_paths_agree),
        cmocka_unit_test(test_sha256_compress_midstate),
        cmocka_unit_test(test_sha256d_bitcoin_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
