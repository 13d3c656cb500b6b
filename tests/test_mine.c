/*
 * test_mine — mine/pow (hex, compact bits, targets), the nonce search on every backend and path
 * (CPU portable and SHA-NI at several thread counts, OpenCL at two vector widths), its failure
 * paths (missing or broken kernels, no OpenCL platform, bad ranges), and the `setm mine`,
 * `setm devices` and `setm bench mine` commands (run as the built binary, for real exit codes).
 *
 * Every expected answer comes from a brute force in this file over crypto_sha256d and
 * mine_hash_meets_target, or from real Bitcoin headers (tests/vectors/bitcoin_headers.txt).
 * The OpenCL cases need an OpenCL device (PoCL in CI); they fail without one unless
 * SETM_TEST_SKIP_OPENCL=1 says to skip them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "crypto/sha256.h"
#include "mine/backend.h" /* mine_search_span: the (roll, nonce) order at a small span */
#include "mine/mine.h"

#include "stop_harness.h"

#define GENESIS_HEX                                                                                \
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27a"  \
    "c72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
#define GENESIS_NONCE 2083236893U
#define GENESIS_HASH "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"

/* One backend configuration under test. */
struct cfg_case {
    const char *label;
    enum mine_backend backend;
    enum mine_cpu_path path;
    unsigned threads;
    unsigned cl_vector;
};

static const struct cfg_case cases[] = {
    {"cpu portable x1", MINE_BACKEND_CPU, MINE_CPU_PATH_PORTABLE, 1, 0},
    {"cpu portable x2", MINE_BACKEND_CPU, MINE_CPU_PATH_PORTABLE, 2, 0},
    {"cpu sha-ni x1", MINE_BACKEND_CPU, MINE_CPU_PATH_SHANI, 1, 0},
    {"cpu sha-ni x3", MINE_BACKEND_CPU, MINE_CPU_PATH_SHANI, 3, 0},
    {"opencl device width", MINE_BACKEND_OPENCL, MINE_CPU_PATH_AUTO, 0, 0},
    {"opencl width 1", MINE_BACKEND_OPENCL, MINE_CPU_PATH_AUTO, 0, 1},
    {"auto, both probed", MINE_BACKEND_AUTO, MINE_CPU_PATH_AUTO, 2, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Group state: one backend object per case (NULL where the case does not apply here). */
struct fixture {
    struct mine *m[NCASES];
};

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer, LeakSanitizer's exit-time tracer crashes (signal 11 while stopping
 * threads) once PoCL's worker threads have run, after every test has passed: a defect of the
 * sanitizer with that runtime, not a leak.  So the run with OpenCL checks memory errors only, and
 * `make asan` runs this suite a second time without OpenCL (SETM_TEST_SKIP_OPENCL=1), where the
 * leak check of setm's own code (CPU backends, the pool, auto) is on. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    const char *s = getenv("SETM_TEST_SKIP_OPENCL");
    return s && !strcmp(s, "1") ? "" : "detect_leaks=0";
}
#endif

static int skip_opencl(void)
{
    const char *s = getenv("SETM_TEST_SKIP_OPENCL");
    return s && !strcmp(s, "1");
}

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    for (size_t i = 0; i < NCASES; i++) {
        struct mine_opts o;
        struct err e = {0};
        if (cases[i].path == MINE_CPU_PATH_SHANI && !mine_cpu_has_shani())
            continue;
        if (cases[i].backend != MINE_BACKEND_CPU && skip_opencl())
            continue;
        mine_opts_init(&o);
        o.probe_s = 0; /* auto: both backends from the start, each search to the faster */
        o.backend = cases[i].backend;
        o.cpu_path = cases[i].path;
        o.threads = cases[i].threads;
        o.cl_vector = cases[i].cl_vector;
        fx->m[i] = mine_new(&o, &e);
        if (!fx->m[i]) {
            fprintf(stderr, "%s: %s\n", cases[i].label, e.msg);
            return -1; /* an OpenCL device is required unless SETM_TEST_SKIP_OPENCL=1 */
        }
    }
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx)
        for (size_t i = 0; i < NCASES; i++)
            mine_free(fx->m[i]);
    free(fx);
    return 0;
}

/* The reference: first offset in the (wrapping) range whose hash meets target, by brute force. */
static uint64_t brute_first(const unsigned char header[MINE_HEADER_LEN],
                            const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                            uint64_t count)
{
    unsigned char h[MINE_HEADER_LEN], d[MINE_HASH_LEN];
    memcpy(h, header, sizeof h);
    for (uint64_t i = 0; i < count; i++) {
        mine_header_set_u32(h, MINE_HDR_NONCE, start + (uint32_t)i);
        crypto_sha256d(h, sizeof h, d);
        if (mine_hash_meets_target(d, target))
            return i;
    }
    return UINT64_MAX;
}

/* Search with every configured backend and check each against the expected first offset. */
static void assert_all_backends(struct fixture *fx, const unsigned char header[MINE_HEADER_LEN],
                                const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                                uint64_t count, uint64_t expect)
{
    for (size_t i = 0; i < NCASES; i++) {
        struct mine_result r;
        struct err e = {0};
        int rc;
        if (!fx->m[i])
            continue;
        rc = mine_search(fx->m[i], header, target, start, count, &r, &e);
        if (expect == UINT64_MAX) {
            if (rc != ERR_NOSOLUTION)
                fail_msg("%s: expected no solution, got rc %d nonce %u", cases[i].label, rc,
                         r.nonce);
            assert_int_equal(r.found, 0);
            assert_int_equal(r.attempts, count);
        } else {
            unsigned char h[MINE_HEADER_LEN], d[MINE_HASH_LEN];
            if (rc != 0)
                fail_msg("%s: rc %d (%s), expected offset %llu", cases[i].label, rc, e.msg,
                         (unsigned long long)expect);
            if (r.nonce != start + (uint32_t)expect)
                fail_msg("%s: nonce %u, expected %u", cases[i].label, r.nonce,
                         start + (uint32_t)expect);
            assert_int_equal(r.found, 1);
            assert_int_equal(r.attempts, expect + 1);
            memcpy(h, header, sizeof h);
            mine_header_set_u32(h, MINE_HDR_NONCE, r.nonce);
            crypto_sha256d(h, sizeof h, d);
            assert_memory_equal(r.hash, d, sizeof d);
        }
    }
}

/* A deterministic pseudo-random stream (xorshift64*), for headers and ranges. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* A target whose most significant limb is top and all lower bits set: about one nonce in
 * 2^32 / (top + 1) meets it. */
static void easy_target(unsigned char target[MINE_TARGET_LEN], uint32_t top)
{
    memset(target, 0xff, MINE_TARGET_LEN);
    for (int i = 0; i < 4; i++)
        target[28 + i] = (unsigned char)(top >> (8 * i));
}

/* ---- mine/pow ---- */

static void test_mine_pow_bits_genesis_target(void **state)
{
    unsigned char t[MINE_TARGET_LEN];
    char hex[2 * MINE_TARGET_LEN + 1];
    (void)state;
    assert_int_equal(mine_target_from_bits(0x1d00ffffU, t, NULL), 0);
    mine_hash_to_hex(t, hex);
    assert_string_equal(hex, "00000000ffff0000000000000000000000000000000000000000000000000000");
    assert_int_equal(mine_target_to_bits(t), 0x1d00ffffU);
}

static void test_mine_pow_bits_round_trip(void **state)
{
    static const uint32_t bits[] = {0x1d00ffffU, 0x1a44b9f2U, 0x207fffffU, 0x1b0404cbU,
                                    0x03123456U, 0x02123400U, 0x01120000U, 0x1903a30cU};
    unsigned char t[MINE_TARGET_LEN];
    (void)state;
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        assert_int_equal(mine_target_from_bits(bits[i], t, NULL), 0);
        assert_int_equal(mine_target_to_bits(t), bits[i]);
    }
}

static void test_mine_pow_bits_rejects_bad(void **state)
{
    static const uint32_t bad[] = {0x1d800001U /* negative */, 0x23000001U /* overflow */,
                                   0x22010000U /* overflow */, 0x1d000000U /* zero */,
                                   0x00000000U /* zero */, 0x01003456U /* shifts to zero */};
    unsigned char t[MINE_TARGET_LEN];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0};
        assert_int_equal(mine_target_from_bits(bad[i], t, &e), ERR_FORMAT);
        assert_int_equal(e.code, ERR_FORMAT);
        assert_non_null(strstr(e.msg, "bits"));
    }
}

static void test_mine_pow_hex_rejects_bad(void **state)
{
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    char bad[2 * MINE_HEADER_LEN + 1];
    struct err e = {0};
    (void)state;
    assert_int_equal(mine_header_from_hex(GENESIS_HEX, h, &e), 0);
    assert_int_equal(mine_header_u32(h, MINE_HDR_NONCE), GENESIS_NONCE);
    assert_int_equal(mine_header_u32(h, MINE_HDR_BITS), 0x1d00ffffU);

    memcpy(bad, GENESIS_HEX, sizeof bad);
    bad[158] = '\0'; /* 158 digits */
    assert_int_equal(mine_header_from_hex(bad, h, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "expected 160 hex digits, got 158"));

    memcpy(bad, GENESIS_HEX, sizeof bad);
    bad[7] = 'g';
    err_clear(&e);
    assert_int_equal(mine_header_from_hex(bad, h, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "position 8"));

    err_clear(&e);
    assert_int_equal(mine_target_from_hex("00", t, &e), ERR_FORMAT);
    err_clear(&e);
    assert_int_equal(
        mine_target_from_hex("0000000000000000000000000000000000000000000000000000000000000000",
                             t, &e),
        ERR_FORMAT);
    assert_non_null(strstr(e.msg, "zero"));
    assert_int_equal(
        mine_target_from_hex("00000000FFFF0000000000000000000000000000000000000000000000000000",
                             t, &e),
        0);
    assert_int_equal(mine_target_to_bits(t), 0x1d00ffffU);
}

static void test_mine_pow_meets_target_edges(void **state)
{
    unsigned char hash[MINE_HASH_LEN], t[MINE_TARGET_LEN];
    (void)state;
    memset(hash, 0, sizeof hash);
    hash[31] = 0x10; /* most significant byte */
    hash[0] = 0x05;
    memcpy(t, hash, sizeof t);
    assert_true(mine_hash_meets_target(hash, t)); /* equal meets */
    t[0] = 0x04;
    assert_false(mine_hash_meets_target(hash, t)); /* one below the hash */
    t[0] = 0x00;
    t[30] = 0x01; /* below in the top byte... */
    t[31] = 0x10;
    assert_true(mine_hash_meets_target(hash, t)); /* ...but above in the next */
    t[31] = 0x0f;
    assert_false(mine_hash_meets_target(hash, t));
}

static void test_mine_pow_expected_attempts(void **state)
{
    unsigned char t[MINE_TARGET_LEN];
    (void)state;
    mine_target_from_bits(0x1d00ffffU, t, NULL);
    /* 2^256 / (0xffff * 2^208 + 1) = 2^48 / 0xffff, to double precision. */
    double want = 281474976710656.0 / 65535.0;
    double got = mine_target_expected_attempts(t);
    assert_true(got > want * (1 - 1e-12) && got < want * (1 + 1e-12));
}

/* ---- search on every backend ---- */

/* Real Bitcoin headers: a range of 600 around the real nonce finds exactly it. */
static void test_mine_vectors_every_backend(void **state)
{
    struct fixture *fx = *state;
    char path[4096], line[1024];
    const char *src = getenv("SETM_SOURCE_DIR");
    int n = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/tests/vectors/bitcoin_headers.txt", src ? src : SETM_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        char hash[80], hdr[200], hex[2 * MINE_HASH_LEN + 1];
        unsigned long height, nonce;
        unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
        if (line[0] == '#' || sscanf(line, "%lu %lu %79s %199s", &height, &nonce, hash, hdr) != 4)
            continue;
        assert_int_equal(mine_header_from_hex(hdr, h, NULL), 0);
        assert_int_equal(mine_target_from_bits(mine_header_u32(h, MINE_HDR_BITS), t, NULL), 0);
        assert_all_backends(fx, h, t, (uint32_t)nonce - 300, 600, 300);
        for (size_t i = 0; i < NCASES; i++) {
            struct mine_result r;
            if (!fx->m[i])
                continue;
            assert_int_equal(mine_search(fx->m[i], h, t, (uint32_t)nonce - 300, 600, &r, NULL), 0);
            mine_hash_to_hex(r.hash, hex);
            assert_string_equal(hex, hash);
        }
        n++;
    }
    fclose(f);
    assert_true(n >= 4);
}

/* Early rejection (the CPU paths and the kernel stop the second hash once its top limb, final
 * state word 7, is known, and re-hash in full only when it is <= the target's top limb): at the
 * boundary, where a hash's top limb EQUALS the target's, the lower limbs decide. Over 5000 nonces
 * (the CPU head and pool chunks, every SHA-NI lane position) the smallest hash m is found with
 * libsodium's SHA-256 applied twice; then target m finds it, m - 1 (same top limb, lower limbs
 * one less) finds nothing, top limb of m with every lower bit set finds the first nonce with
 * that top limb, and top limb of m minus one finds nothing: each expectation by brute force
 * over libsodium hashes, on every backend. */
#define ER_COUNT 5000
static int le_cmp(const unsigned char *x, const unsigned char *y)
{
    for (int i = 31; i >= 0; i--)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

static void test_mine_early_rejection_top_limb_boundary(void **state)
{
    struct fixture *fx = *state;
    static unsigned char hashes[ER_COUNT][32];
    unsigned char h[MINE_HEADER_LEN], t[4][MINE_TARGET_LEN], min[32];
    const uint32_t start = 0xfffff000U; /* the range wraps past 2^32 - 1 too */
    size_t best = 0;

    assert_true(sodium_init() >= 0);
    assert_int_equal(mine_header_from_hex(GENESIS_HEX, h, NULL), 0);
    mine_header_set_u32(h, MINE_HDR_TIME, 1700000000U);
    for (size_t o = 0; o < ER_COUNT; o++) {
        unsigned char x[MINE_HEADER_LEN], d1[32];
        memcpy(x, h, sizeof x);
        mine_header_set_u32(x, MINE_HDR_NONCE, start + (uint32_t)o);
        crypto_hash_sha256(d1, x, sizeof x);
        crypto_hash_sha256(hashes[o], d1, 32);
        if (le_cmp(hashes[o], hashes[best]) < 0)
            best = o;
    }
    memcpy(min, hashes[best], 32);
    memcpy(t[0], min, 32); /* m */
    memcpy(t[1], min, 32); /* m - 1: borrow through the low bytes */
    for (int i = 0; i < 32 && t[1][i]-- == 0; i++)
        ;
    assert_memory_equal(t[1] + 28, min + 28, 4); /* still the same top limb */
    memset(t[2], 0xff, 32); /* top limb of m, lower limbs all ones */
    memcpy(t[2] + 28, min + 28, 4);
    memset(t[3], 0xff, 32); /* top limb of m minus one */
    {
        uint32_t top = (uint32_t)min[28] | (uint32_t)min[29] << 8 | (uint32_t)min[30] << 16 |
                       (uint32_t)min[31] << 24;
        assert_true(top > 0);
        top--;
        for (int i = 0; i < 4; i++)
            t[3][28 + i] = (unsigned char)(top >> (8 * i));
    }
    for (int k = 0; k < 4; k++) {
        uint64_t expect = UINT64_MAX;
        for (size_t o = 0; o < ER_COUNT && expect == UINT64_MAX; o++)
            if (le_cmp(hashes[o], t[k]) <= 0)
                expect = o;
        if (k == 0 || k == 2)
            assert_true(expect != UINT64_MAX && expect <= best);
        else
            assert_true(expect == UINT64_MAX);
        assert_all_backends(fx, h, t[k], start, ER_COUNT, expect);
    }
}

/* Random headers, targets and ranges: every backend finds the brute force's first nonce (or none),
 * including ranges several CPU chunks long where threads race. */
static void test_mine_backends_agree_random(void **state)
{
    static const uint32_t tops[] = {0x00ffffffU, 0x000fffffU, 0x0000ffffU};
    struct fixture *fx = *state;
    uint64_t seed = 0x5e7a11ce5eedULL;
    int found = 0, none = 0;

    for (int k = 0; k < 12; k++) {
        unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
        for (int i = 0; i < MINE_HEADER_LEN; i += 8) {
            uint64_t r = next_rand(&seed);
            memcpy(h + i, &r, 8);
        }
        easy_target(t, tops[k % 3]);
        uint32_t start = (uint32_t)next_rand(&seed);
        uint64_t count = 1 + next_rand(&seed) % 50000;
        uint64_t expect = brute_first(h, t, start, count);
        expect == UINT64_MAX ? none++ : found++;
        assert_all_backends(fx, h, t, start, count, expect);
    }
    assert_true(found >= 4); /* the mix exercises both outcomes */
    assert_true(none >= 1);
}

/* Several winners in one launch or chunk: the lowest is reported. */
static void test_mine_lowest_of_many(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    easy_target(t, 0x3fffffffU); /* one in four */
    for (uint32_t start = 0; start < 40; start += 7)
        assert_all_backends(fx, h, t, start, 5000, brute_first(h, t, start, 5000));
}

static void test_mine_no_solution_reports_count(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    mine_target_from_bits(0x1d00ffffU, t, NULL);
    assert_all_backends(fx, h, t, GENESIS_NONCE + 1, 3000, UINT64_MAX);
    assert_all_backends(fx, h, t, 0, 1, UINT64_MAX);
}

/* A range that wraps past 0xffffffff to 0 and whose first winner lies after the wrap. */
static void test_mine_wrapping_range(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    uint64_t expect = UINT64_MAX;
    const uint32_t start = 0xfffffc00U;

    mine_header_from_hex(GENESIS_HEX, h, NULL);
    easy_target(t, 0x000fffffU); /* one in 4096 */
    for (uint32_t time = 1; time < 200; time++) {
        mine_header_set_u32(h, MINE_HDR_TIME, time);
        expect = brute_first(h, t, start, 0x4000);
        if (expect != UINT64_MAX && expect >= 0x400)
            break;
    }
    assert_true(expect != UINT64_MAX && expect >= 0x400);
    assert_all_backends(fx, h, t, start, 0x4000, expect);
}

/* A range ending at nonce 0xffffffff whose only winner is that last nonce: the target is that
 * nonce's own hash, and the header is varied until no earlier nonce in the range also meets it. */
static void test_mine_range_ends_at_max_nonce(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], d[MINE_HASH_LEN];
    const uint32_t start = 0xffffffffU - 15;
    int ok = 0;

    mine_header_from_hex(GENESIS_HEX, h, NULL);
    for (uint32_t time = 1; time < 100000 && !ok; time++) {
        mine_header_set_u32(h, MINE_HDR_TIME, time);
        mine_header_set_u32(h, MINE_HDR_NONCE, 0xffffffffU);
        crypto_sha256d(h, sizeof h, d);
        if (d[31] > 0x01) /* want a small hash, so few others fall below it */
            continue;
        ok = brute_first(h, d, start, 16) == 15;
    }
    assert_true(ok);
    assert_all_backends(fx, h, d, start, 16, 15);
}

static void test_mine_count_bounds(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    easy_target(t, 0x0fffffffU);
    for (size_t i = 0; i < NCASES; i++) {
        struct mine_result r;
        struct err e = {0};
        if (!fx->m[i])
            continue;
        assert_int_equal(mine_search(fx->m[i], h, t, 5, 0, &r, &e), ERR_USAGE);
        assert_int_equal(mine_search(fx->m[i], h, t, 5, (UINT64_C(1) << 32) + 1, &r, &e),
                         ERR_USAGE);
        /* The whole 2^32 space is a valid range. */
        assert_int_equal(mine_search(fx->m[i], h, t, 5, UINT64_C(1) << 32, &r, &e), 0);
        assert_int_equal(r.attempts, brute_first(h, t, 5, 1000) + 1);
    }
}

static void test_mine_names_and_descriptions(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < NCASES; i++) {
        if (!fx->m[i])
            continue;
        const char *name = mine_backend_name(fx->m[i]);
        if (cases[i].backend == MINE_BACKEND_AUTO)
            assert_true(!strcmp(name, "opencl") || !strncmp(name, "cpu-sha-ni", 10) ||
                        !strcmp(name, "cpu-portable"));
        else if (cases[i].backend == MINE_BACKEND_OPENCL)
            assert_string_equal(name, "opencl");
        else if (cases[i].path == MINE_CPU_PATH_SHANI)
            assert_string_equal(name, "cpu-sha-ni");
        else
            assert_string_equal(name, "cpu-portable");
        assert_true(strlen(mine_device_desc(fx->m[i])) > 5);
        assert_int_equal(mine_note(fx->m[i])[0], '\0');
    }
    assert_int_equal(mine_threads(fx->m[1]), 2);
}

/* The thread ids of this process, sorted ascending, from /proc/self/task; returns the count. */
static size_t task_ids(long *ids, size_t cap)
{
    char cmd[64];
    size_t n = 0;
    FILE *f;
    snprintf(cmd, sizeof cmd, "ls /proc/%ld/task | sort -n", (long)getpid());
    f = popen(cmd, "r");
    assert_non_null(f);
    while (n < cap && fscanf(f, "%ld", &ids[n]) == 1)
        n++;
    pclose(f);
    return n;
}

/* The CPU backend starts its threads once (threads - 1 workers beside the caller) and keeps the
 * same ones across searches: the process's set of thread ids after mine_new is the set after
 * ten multi-chunk searches, and each search still returns the lowest offset. */
static void test_mine_cpu_threads_started_once(void **state)
{
    unsigned char target[MINE_TARGET_LEN];
    long before[64], after_new[64], after_search[64];
    size_t n0, n1, n2;
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;
    (void)state;
    assert_int_equal(mine_target_from_bits(0x1f01ffffU, target, NULL), 0); /* ~1 in 2^15 */
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_CPU;
    o.threads = 4;
    n0 = task_ids(before, 64);
    m = mine_new(&o, &e);
    assert_non_null(m);
    n1 = task_ids(after_new, 64);
    assert_int_equal(n1, n0 + 3);
    for (int k = 0; k < 10; k++) {
        unsigned char h[MINE_HEADER_LEN];
        struct mine_result r;
        uint64_t want;
        memset(h, 0, sizeof h);
        h[0] = (unsigned char)k;
        h[1] = 0x5a;
        want = brute_first(h, target, 0, 100000);
        assert_int_equal(mine_search(m, h, target, 0, 100000, &r, &e), want == UINT64_MAX
                                                                            ? ERR_NOSOLUTION : 0);
        if (want != UINT64_MAX)
            assert_int_equal(r.nonce, (uint32_t)want);
    }
    n2 = task_ids(after_search, 64);
    assert_int_equal(n2, n1);
    assert_memory_equal(after_search, after_new, n1 * sizeof *after_new);
    mine_free(m);
    assert_int_equal(task_ids(after_search, 64), n0);
}

/* auto takes a working OpenCL device (PoCL here) and says nothing about falling back. */
static void test_mine_auto_takes_opencl(void **state)
{
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;
    (void)state;
    if (skip_opencl())
        skip();
    mine_opts_init(&o);
    o.probe_s = 0; /* probe the device at once */
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_string_equal(mine_backend_name(m), "opencl");
    assert_string_equal(mine_note(m), "");
    mine_free(m);
}


/* ---- options and failure paths ---- */

static void test_mine_option_parsing(void **state)
{
    enum mine_backend b;
    enum mine_cpu_path p;
    struct mine_opts o;
    struct err e = {0};
    (void)state;
    assert_int_equal(mine_backend_parse("opencl", &b, &e), 0);
    assert_int_equal(b, MINE_BACKEND_OPENCL);
    assert_int_equal(mine_backend_parse("gpu", &b, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "auto, opencl or cpu"));
    assert_int_equal(mine_cpu_path_parse("sha-ni", &p, &e), 0);
    assert_int_equal(p, MINE_CPU_PATH_SHANI);
    assert_int_equal(mine_cpu_path_parse("avx", &p, &e), ERR_USAGE);
    mine_opts_init(&o);
    o.cl_vector = 3;
    err_clear(&e);
    assert_null(mine_new(&o, &e));
    assert_int_equal(e.code, ERR_USAGE);
}

/* A fresh temporary directory; path written to buf. */
static void make_tmpdir(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/setm-test-mine-XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(buf));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_tmpdir(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sha256.cl", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/sha256d_search.cl", dir);
    unlink(path);
    rmdir(dir);
}

/* SETM_CPU_PATH picks the CPU path when the options leave it on auto; a bad value is an error
 * naming the variable; an explicit option wins over it. */
static void test_mine_cpu_path_env(void **state)
{
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;
    (void)state;
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_CPU;
    setenv("SETM_CPU_PATH", "portable", 1);
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_string_equal(mine_backend_name(m), "cpu-portable");
    mine_free(m);
    setenv("SETM_CPU_PATH", "avx", 1);
    assert_null(mine_new(&o, &e));
    assert_int_equal(e.code, ERR_USAGE);
    assert_non_null(strstr(e.msg, "SETM_CPU_PATH"));
    if (mine_cpu_has_shani()) {
        err_clear(&e);
        setenv("SETM_CPU_PATH", "portable", 1);
        o.cpu_path = MINE_CPU_PATH_SHANI;
        m = mine_new(&o, &e);
        assert_non_null(m);
        assert_string_equal(mine_backend_name(m), "cpu-sha-ni");
        mine_free(m);
    }
    unsetenv("SETM_CPU_PATH");
}

static void test_mine_opencl_kernel_dir_missing(void **state)
{
    char dir[256];
    struct mine_opts o;
    struct err e = {0};
    (void)state;
    if (skip_opencl())
        skip();
    make_tmpdir(dir, sizeof dir);
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_OPENCL;
    o.kernel_dir = dir;
    o.platform = "0"; /* any device, CPU type included */
    assert_null(mine_new(&o, &e));
    assert_int_equal(e.code, ERR_DEVICE);
    assert_non_null(strstr(e.msg, "cannot read kernel"));
    assert_non_null(strstr(e.msg, "sha256.cl"));

    /* The same through SETM_KERNELS, as a user would point it. */
    o.kernel_dir = NULL;
    setenv("SETM_KERNELS", dir, 1);
    err_clear(&e);
    assert_null(mine_new(&o, &e));
    unsetenv("SETM_KERNELS");
    assert_int_equal(e.code, ERR_DEVICE);
    assert_non_null(strstr(e.msg, "cannot read kernel"));
    remove_tmpdir(dir);
}

/* A kernel that does not compile: explicit opencl fails with the compiler's log; auto with a
 * device chosen falls back to the CPU and says why. */
static void test_mine_opencl_broken_kernel(void **state)
{
    char dir[256];
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;
    (void)state;
    if (skip_opencl())
        skip();
    make_tmpdir(dir, sizeof dir);
    write_file(dir, "sha256.cl", "/* empty */\n");
    write_file(dir, "sha256d_search.cl",
               "__kernel void sha256d_search(__constant const uint *pre, const uint base,\n"
               "    const uint n, __global volatile uint *best) { undeclared_name = 1; }\n");
    setenv("SETM_KERNELS", dir, 1);
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_OPENCL;
    assert_null(mine_new(&o, &e));
    assert_int_equal(e.code, ERR_DEVICE);
    assert_non_null(strstr(e.msg, "kernel build failed"));
    assert_non_null(strstr(e.msg, "undeclared_name")); /* from the compiler log */

    o.backend = MINE_BACKEND_AUTO;
    o.platform = "0";
    o.probe_s = 0; /* probe at once */
    err_clear(&e);
    m = mine_new(&o, &e);
    unsetenv("SETM_KERNELS");
    assert_non_null(m);
    assert_true(!strncmp(mine_backend_name(m), "cpu-", 4));
    assert_non_null(strstr(mine_note(m), "kernel build failed"));
    mine_free(m);
    remove_tmpdir(dir);
}

static void test_mine_opencl_no_matching_device(void **state)
{
    struct mine_opts o;
    struct err e = {0};
    (void)state;
    if (skip_opencl())
        skip();
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_OPENCL;
    o.device = "no-such-device-name";
    assert_null(mine_new(&o, &e));
    assert_int_equal(e.code, ERR_DEVICE);
    assert_non_null(strstr(e.msg, "no OpenCL device matches"));
    o.device = NULL;
    o.platform = "17";
    err_clear(&e);
    assert_null(mine_new(&o, &e));
    assert_int_equal(e.code, ERR_DEVICE);
}

/* The ICD loader reads OCL_ICD_VENDORS once per process, so the no-platform case runs in a
 * child: this executable re-run with --child-no-icd MODE and an empty vendors directory. */
static int child_no_icd(const char *mode)
{
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;
    mine_opts_init(&o);
    o.backend = !strcmp(mode, "opencl") ? MINE_BACKEND_OPENCL : MINE_BACKEND_AUTO;
    o.probe_s = 0; /* auto: probe at once */
    m = mine_new(&o, &e);
    if (o.backend == MINE_BACKEND_OPENCL) {
        if (m || e.code != ERR_DEVICE || !strstr(e.msg, "no OpenCL platform"))
            return 10;
        return err_exit_code(e.code); /* 2, as the CLI would exit */
    }
    if (!m || strncmp(mine_backend_name(m), "cpu-", 4) || !strstr(mine_note(m), "no OpenCL platform"))
        return 11;
    mine_free(m);
    return 0;
}

static int run_child(const char *mode, const char *vendors)
{
    pid_t pid = fork();
    int status;
    if (pid == 0) {
        setenv("OCL_ICD_VENDORS", vendors, 1);
        execl("/proc/self/exe", "test_mine", "--child-no-icd", mode, (char *)NULL);
        _exit(99);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_mine_opencl_no_platform(void **state)
{
    char dir[256];
    (void)state;
    make_tmpdir(dir, sizeof dir);
    assert_int_equal(run_child("opencl", dir), 2);
    assert_int_equal(run_child("auto", dir), 0);
    rmdir(dir);
}

/* The GPU kernel variant (OpenCL rotate and bitselect, the default on GPUs) forced on PoCL at
 * widths 1 and 8: it builds, passes the self-test and finds the brute force's first nonce on
 * random headers and ranges, like the plain kernel. */
static void test_mine_opencl_builtins_kernel_agrees(void **state)
{
    static const unsigned widths[] = {1, 8};
    uint64_t seed = 0xb175e1ec7ULL;
    (void)state;
    if (skip_opencl())
        skip();
    setenv("SETM_CL_BUILTINS", "1", 1);
    for (size_t k = 0; k < 2; k++) {
        struct mine_opts o;
        struct err e = {0};
        struct mine *m;
        mine_opts_init(&o);
        o.backend = MINE_BACKEND_OPENCL;
        o.cl_vector = widths[k];
        m = mine_new(&o, &e);
        if (!m)
            fail_msg("width %u: %s", widths[k], e.msg);
        assert_non_null(strstr(mine_device_desc(m), "rotate/bitselect"));
        for (int i = 0; i < 6; i++) {
            unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
            struct mine_result r;
            for (int j = 0; j < MINE_HEADER_LEN; j += 8) {
                uint64_t x = next_rand(&seed);
                memcpy(h + j, &x, 8);
            }
            easy_target(t, 0x000fffffU);
            uint32_t start = (uint32_t)next_rand(&seed);
            uint64_t expect = brute_first(h, t, start, 20000);
            int rc = mine_search(m, h, t, start, 20000, &r, &e);
            if (expect == UINT64_MAX) {
                assert_int_equal(rc, ERR_NOSOLUTION);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(r.nonce, start + (uint32_t)expect);
            }
        }
        mine_free(m);
    }
    unsetenv("SETM_CL_BUILTINS");
}

/* Searches on an OpenCL backend built under the environment `var`=`val` with `width` nonces per
 * vector agree with the brute force: random headers, an easy target (many winners per launch, so
 * the lowest must be chosen across work-items and across one work-item's vectors) and ranges that
 * are not multiples of the nonces per work-item. `want` must appear in the description. */
static void assert_opencl_env_agrees(const char *var, const char *val, unsigned width,
                                     const char *want, uint64_t seed)
{
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;

    setenv(var, val, 1);
    mine_opts_init(&o);
    o.backend = MINE_BACKEND_OPENCL;
    o.cl_vector = width;
    m = mine_new(&o, &e);
    unsetenv(var);
    if (!m)
        fail_msg("%s=%s width %u: %s", var, val, width, e.msg);
    if (!strstr(mine_device_desc(m), want))
        fail_msg("'%s' not in '%s'", want, mine_device_desc(m));
    for (int i = 0; i < 6; i++) {
        unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
        struct mine_result r;
        for (int j = 0; j < MINE_HEADER_LEN; j += 8) {
            uint64_t x = next_rand(&seed);
            memcpy(h + j, &x, 8);
        }
        easy_target(t, i % 2 ? 0x00ffffffU : 0x000fffffU);
        uint32_t start = (uint32_t)next_rand(&seed);
        uint64_t count = 1 + next_rand(&seed) % 30000;
        uint64_t expect = brute_first(h, t, start, count);
        int rc = mine_search(m, h, t, start, count, &r, &e);
        if (expect == UINT64_MAX) {
            assert_int_equal(rc, ERR_NOSOLUTION);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(r.nonce, start + (uint32_t)expect);
        }
    }
    mine_free(m);
}

/* Several vectors per work-item (SETM_CL_ITERS=3: an odd count, so launches end mid-work-item):
 * the kernel's (work-item, vector, lane) mapping still yields the lowest winning nonce. */
static void test_mine_opencl_iters_per_item_agree(void **state)
{
    (void)state;
    if (skip_opencl())
        skip();
    assert_opencl_env_agrees("SETM_CL_ITERS", "3", 1, "3 nonces per work-item", 0x17e45ULL);
    assert_opencl_env_agrees("SETM_CL_ITERS", "3", 8, "24 nonces per work-item", 0x17e46ULL);
}

/* The per-device calibration (forced on PoCL's CPU device) picks a geometry that still passes
 * the self-test and agrees with the brute force, and says so in the description. */
static void test_mine_opencl_calibrated_geometry_agrees(void **state)
{
    (void)state;
    if (skip_opencl())
        skip();
    assert_opencl_env_agrees("SETM_CL_CALIBRATE", "1", 0, "calibrated", 0xca11b4a7eULL);
}

/* ---- (time roll, nonce) searches ---- */

/* Brute force in (roll, nonce) order: offset o is time + o / span with nonce start + o % span. */
static uint64_t brute_rolled(const unsigned char header[MINE_HEADER_LEN],
                             const unsigned char target[MINE_TARGET_LEN], uint32_t start,
                             uint64_t count, uint64_t span)
{
    unsigned char h[MINE_HEADER_LEN], d[MINE_HASH_LEN];
    uint32_t t0 = mine_header_u32(header, MINE_HDR_TIME);
    memcpy(h, header, sizeof h);
    for (uint64_t o = 0; o < count; o++) {
        mine_header_set_u32(h, MINE_HDR_TIME, t0 + (uint32_t)(o / span));
        mine_header_set_u32(h, MINE_HDR_NONCE, start + (uint32_t)(o % span));
        crypto_sha256d(h, sizeof h, d);
        if (mine_hash_meets_target(d, target))
            return o;
    }
    return UINT64_MAX;
}

/* When the first time value's nonces hold no winner, every backend goes on to later time rolls
 * and returns the lowest (roll, nonce) pair: the header it hands back carries that time and
 * nonce, and hashes to the reported hash. */
static void test_mine_rolled_search_lowest_roll_then_nonce(void **state)
{
    struct fixture *fx = *state;
    const uint64_t span = 32, count = 40 * 32;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    uint64_t expect = UINT64_MAX;
    int tried = 0;

    mine_header_from_hex(GENESIS_HEX, h, NULL);
    easy_target(t, 0x00ffffffU); /* one in 256: the first rolls of 32 nonces often hold none */
    for (uint32_t time = 1000; tried < 400; time++, tried++) {
        mine_header_set_u32(h, MINE_HDR_TIME, time);
        expect = brute_rolled(h, t, 0xfffffff0U, count, span); /* each roll's window wraps */
        if (expect != UINT64_MAX && expect / span >= 2)
            break;
    }
    assert_true(expect != UINT64_MAX && expect / span >= 2);
    for (size_t i = 0; i < NCASES; i++) {
        unsigned char got[MINE_HEADER_LEN], d[MINE_HASH_LEN];
        struct mine_result r;
        struct err e = {0};
        if (!fx->m[i])
            continue;
        memcpy(got, h, sizeof got);
        if (mine_search_span(fx->m[i], got, t, 0xfffffff0U, count, span, &r, &e) != 0)
            fail_msg("%s: %s", cases[i].label, e.msg);
        assert_int_equal(r.roll, expect / span);
        assert_int_equal(r.nonce, 0xfffffff0U + (uint32_t)(expect % span));
        assert_int_equal(r.attempts, expect + 1);
        assert_int_equal(mine_header_u32(got, MINE_HDR_TIME), mine_header_u32(h, MINE_HDR_TIME) + r.roll);
        assert_int_equal(mine_header_u32(got, MINE_HDR_NONCE), r.nonce);
        crypto_sha256d(got, sizeof got, d);
        assert_memory_equal(d, r.hash, sizeof d);
    }
}

/* No winner in any roll: ERR_NOSOLUTION with every pair counted, the header left as it was. */
static void test_mine_rolled_search_none_counts_all(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN], got[MINE_HEADER_LEN];
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    mine_target_from_bits(0x1d00ffffU, t, NULL);
    for (size_t i = 0; i < NCASES; i++) {
        struct mine_result r;
        if (!fx->m[i])
            continue;
        memcpy(got, h, sizeof got);
        assert_int_equal(mine_search_span(fx->m[i], got, t, 7, 5 * 64, 64, &r, NULL),
                         ERR_NOSOLUTION);
        assert_int_equal(r.found, 0);
        assert_int_equal(r.attempts, 5 * 64);
        assert_memory_equal(got, h, sizeof got);
    }
}

/* Bounds: 1 .. MINE_ROLL_MAX x 2^32 pairs; within one roll the rolled search is mine_search. */
static void test_mine_rolled_search_bounds(void **state)
{
    struct fixture *fx = *state;
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    struct mine_result r, r1;
    struct err e = {0};
    struct mine *m = fx->m[0];

    mine_header_from_hex(GENESIS_HEX, h, NULL);
    mine_target_from_bits(0x1d00ffffU, t, NULL);
    assert_int_equal(mine_search_rolled(m, h, t, 0, 0, &r, &e), ERR_USAGE);
    assert_int_equal(mine_search_rolled(m, h, t, 0, MINE_SEARCH_MAX + 1, &r, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "7200"));
    assert_int_equal(mine_search_rolled(m, h, t, GENESIS_NONCE - 9, 100, &r, &e), 0);
    assert_int_equal(mine_search(m, h, t, GENESIS_NONCE - 9, 100, &r1, &e), 0);
    assert_int_equal(r.nonce, r1.nonce);
    assert_int_equal(r.attempts, r1.attempts);
    assert_int_equal(r.roll, 0);
}

/* ---- stop requests ---- */

/* Every backend and path, one thread and several: a stop raised during a search of all 2^32
 * nonces (an unreachable target: minutes of work) ends it with ERR_INTERRUPTED within a
 * second; a stop raised before a search ends it at once. */
static void test_mine_stop_ends_search_within_a_second(void **state)
{
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    (void)state;
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    memset(t, 0, sizeof t);
    t[0] = 1; /* target 1: no hash meets it */
    for (size_t i = 0; i < NCASES; i++) {
        struct stopper st = {0, 300, 0};
        struct mine_opts o;
        struct mine_result r;
        struct err e = {0};
        struct mine *m;
        pthread_t tid;
        if (cases[i].path == MINE_CPU_PATH_SHANI && !mine_cpu_has_shani())
            continue;
        if (cases[i].backend != MINE_BACKEND_CPU && skip_opencl())
            continue;
        mine_opts_init(&o);
        o.backend = cases[i].backend;
        o.cpu_path = cases[i].path;
        o.threads = cases[i].threads;
        o.cl_vector = cases[i].cl_vector;
        o.probe_s = 0;
        o.stop = &st.flag;
        m = mine_new(&o, &e);
        assert_non_null(m);
        assert_int_equal(pthread_create(&tid, NULL, raise_later, &st), 0);
        int rc = mine_search(m, h, t, 0, UINT64_C(1) << 32, &r, &e);
        double ended = mono(), late;
        pthread_join(tid, NULL); /* raised_at is read after the join that publishes it */
        late = ended - st.raised_at;
        if (rc != ERR_INTERRUPTED)
            fail_msg("%s: rc %d (%s), expected ERR_INTERRUPTED", cases[i].label, rc, e.msg);
        if (late > 1.0)
            fail_msg("%s: stopped %.2f s after the request", cases[i].label, late);
        assert_int_equal(r.found, 0);
        assert_int_equal(mine_search_rolled(m, h, t, 0, 1000, &r, &e), ERR_INTERRUPTED);
        mine_free(m);
    }
}

/* auto on demand: small searches never build the OpenCL device (so a broken kernel goes
 * unnoticed and costs nothing); once the CPU would have spent probe_s seconds the device is
 * probed, and a broken one leaves the CPU with a note. */
static void test_mine_auto_probes_device_on_demand(void **state)
{
    char dir[256];
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    struct mine_opts o;
    struct mine_result r;
    struct err e = {0};
    struct mine *m;
    (void)state;
    if (skip_opencl())
        skip();
    setenv("SETM_AUTO_CPU_DEVICES", "1", 1); /* PoCL's CPU device counts as a candidate */
    make_tmpdir(dir, sizeof dir);
    write_file(dir, "sha256.cl", "#error broken\n");
    write_file(dir, "sha256d_search.cl", "#error broken\n");
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    mine_opts_init(&o);
    o.kernel_dir = dir;
    /* 0.5 s: the 50 small searches below (12,800 nonces in all) stay under it even when a busy
     * machine stretches each past the 1 ms launch cost, so that they count (asan and thread start-up included) */
    o.probe_s = 0.5;
    m = mine_new(&o, &e);
    assert_non_null(m);
    for (int k = 0; k < 50; k++) { /* 50 searches of ~256 nonces: microseconds each */
        easy_target(t, 0x00ffffffU);
        mine_header_set_u32(h, MINE_HDR_TIME, (uint32_t)k);
        assert_int_equal(mine_search(m, h, t, 0, UINT64_C(1) << 32, &r, &e), 0);
    }
    assert_string_equal(mine_note(m), "");
    assert_null(strstr(mine_device_desc(m), " + "));
    memset(t, 0, sizeof t);
    t[0] = 1; /* unreachable: 2^25 nonces, above 0.5 s of CPU even at 50 M/s */
    assert_int_equal(mine_search(m, h, t, 0, UINT64_C(1) << 25, &r, &e), ERR_NOSOLUTION);
    assert_non_null(strstr(mine_note(m), "OpenCL not used"));
    assert_true(!strncmp(mine_backend_name(m), "cpu-", 4));
    mine_free(m);

    /* The same with the working kernels: both backends afterwards, and a one-nonce search
     * (all launch cost) goes to the CPU. */
    o.kernel_dir = NULL;
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_int_equal(mine_search(m, h, t, 0, UINT64_C(1) << 25, &r, &e), ERR_NOSOLUTION);
    assert_non_null(strstr(mine_device_desc(m), " + "));
    assert_int_equal(mine_search(m, h, t, 0, 1, &r, &e), ERR_NOSOLUTION);
    assert_true(!strncmp(mine_backend_name(m), "cpu-", 4));
    mine_free(m);
    unsetenv("SETM_AUTO_CPU_DEVICES");
    remove_tmpdir(dir);
}

/* The expected-work hint: a caller that announces more work than the CPU does in probe_s gets
 * the device at mine_new; one that announces little does not. */
static void test_mine_auto_expected_work_hint(void **state)
{
    struct mine_opts o;
    struct err e = {0};
    struct mine *m;
    (void)state;
    if (skip_opencl())
        skip();
    setenv("SETM_AUTO_CPU_DEVICES", "1", 1); /* PoCL's CPU device counts as a candidate */
    mine_opts_init(&o);
    o.probe_s = 0.05;
    o.expected_nonces = 1e12; /* hours of CPU */
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_non_null(strstr(mine_device_desc(m), " + "));
    mine_free(m);
    o.expected_nonces = 1e3;
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_null(strstr(mine_device_desc(m), " + "));
    mine_free(m);
    unsetenv("SETM_AUTO_CPU_DEVICES");
}

/* auto beside the SHA-NI path with only CPU OpenCL devices (PoCL): the device shares the CPU's
 * cores and is slower, so auto never builds it, however much work comes: a broken kernel
 * directory stays unnoticed (a build would fail and leave a note). SETM_AUTO_CPU_DEVICES=1 or a
 * named platform brings the probe back (and the note, so the build really was what was skipped). */
static void test_mine_auto_skips_cpu_devices_beside_sha_ni(void **state)
{
    char dir[256];
    unsigned char h[MINE_HEADER_LEN], t[MINE_TARGET_LEN];
    struct mine_opts o;
    struct mine_result r;
    struct err e = {0};
    struct mine *m;
    (void)state;
    if (skip_opencl() || !mine_shani_available() || mine_ocl_has_accelerator(NULL, NULL))
        skip();
    make_tmpdir(dir, sizeof dir);
    write_file(dir, "sha256.cl", "#error broken\n");
    write_file(dir, "sha256d_search.cl", "#error broken\n");
    mine_header_from_hex(GENESIS_HEX, h, NULL);
    memset(t, 0, sizeof t);
    t[0] = 1; /* unreachable */
    mine_opts_init(&o);
    o.kernel_dir = dir;
    o.probe_s = 0.05;
    o.expected_nonces = 1e12; /* hours of CPU */
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_int_equal(mine_search(m, h, t, 0, UINT64_C(1) << 22, &r, &e), ERR_NOSOLUTION);
    assert_string_equal(mine_note(m), "");
    assert_null(strstr(mine_device_desc(m), " + "));
    assert_string_equal(mine_backend_name(m), "cpu-sha-ni");
    mine_free(m);

    o.platform = "Portable Computing Language"; /* named by the user: probed */
    m = mine_new(&o, &e);
    assert_non_null(m);
    assert_non_null(strstr(mine_note(m), "OpenCL not used"));
    mine_free(m);
    o.platform = NULL;
    setenv("SETM_AUTO_CPU_DEVICES", "1", 1);
    m = mine_new(&o, &e);
    unsetenv("SETM_AUTO_CPU_DEVICES");
    assert_non_null(m);
    assert_non_null(strstr(mine_note(m), "OpenCL not used"));
    mine_free(m);
    remove_tmpdir(dir);
}

/* The expected time of a search is expected attempts / measured rate: 2^10 times the work
 * (ten zero bits more) takes 2^10 times as long. */
static void test_mine_expected_seconds_scale_with_target(void **state)
{
    struct fixture *fx = *state;
    unsigned char t20[MINE_TARGET_LEN], t30[MINE_TARGET_LEN];
    struct mine *m = fx->m[0];
    memset(t20, 0, sizeof t20);
    memset(t30, 0, sizeof t30);
    t20[28] = 0x10; /* target 2^(8*28 + 4) = 2^228: about 2^28 attempts */
    t30[27] = 0x04; /* 2^(8*27 + 2) = 2^218: about 2^38 attempts */
    double a = mine_expected_seconds(m, t20), b = mine_expected_seconds(m, t30);
    assert_true(mine_rate(m) > 0);
    assert_true(a > 0 && isfinite(a));
    assert_true(fabs(b / a - 1024.0) < 1e-6 * 1024.0); /* same rate, 2^10 times the work */
    assert_true(fabs(a * mine_rate(m) - mine_target_expected_attempts(t20)) < 1.0);
}

/* ---- the commands ---- */

/* The setm binary of this build: $SETM_BIN (tests/run.sh sets it), else beside this test's
 * directory (build/<mode>/setm), else bin/setm of the source tree. */
static void setm_path(char *buf, size_t len)
{
    const char *env = getenv("SETM_BIN");
    char exe[4096];
    ssize_t n;

    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/'); /* .../build/<mode>/tests/test_mine */
        if (slash) {
            *slash = '\0';
            slash = strrchr(exe, '/');
            if (slash) {
                *slash = '\0';
                snprintf(buf, len, "%.4000s/setm", exe);
                if (access(buf, X_OK) == 0)
                    return;
            }
        }
    }
    snprintf(buf, len, "%s/bin/setm", SETM_SOURCE_DIR);
}

/* Run `setm ARGS...` (NULL-terminated) with stdout and stderr captured into out (truncated to
 * len); returns its exit status. */
static int run_cli(char *out, size_t len, ...)
{
    char *argv[32], bin[4096];
    int argc = 0, fds[2], status;
    size_t got = 0;
    va_list ap;
    pid_t pid;

    setm_path(bin, sizeof bin);
    if (access(bin, X_OK) != 0)
        fail_msg("setm binary %s not found: build it first (make MODE=...)", bin);
    argv[argc++] = "setm";
    va_start(ap, len);
    for (char *a; argc < 31 && (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        /* LeakSanitizer's exit-time tracer crashes on PoCL's worker threads after `bench mine`
         * has finished (a fatal LSan error, exit 1, though the bench succeeded); leaks of that
         * process are not what this test checks (valgrind in CI covers an end-to-end run). */
        if (argc > 1 && !strcmp(argv[1], "bench"))
            setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        execv(bin, argv);
        _exit(127);
    }
    assert_true(pid > 0);
    close(fds[1]);
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0)
            break;
        size_t take = (size_t)n < len - 1 - got ? (size_t)n : len - 1 - got;
        memcpy(out + got, chunk, take);
        got += take;
    }
    out[got] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_mine_cli_finds_genesis_nonce(void **state)
{
    char out[8192];
    (void)state;
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--start", "2083236800", "--count", "200", "--backend", "cpu", NULL),
                     0);
    assert_non_null(strstr(out, "nonce    2083236893\n"));
    assert_non_null(strstr(out, "hash     " GENESIS_HASH "\n"));
    assert_non_null(strstr(out, "attempts 94\n"));
    assert_non_null(strstr(out, "backend  cpu-"));
}

static void test_mine_cli_no_nonce_exits_1(void **state)
{
    char out[8192];
    (void)state;
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--count", "100", "--backend", "cpu", "--threads", "1", NULL),
                     1);
    assert_non_null(strstr(out, "nonce    none\n"));
    assert_non_null(strstr(out, "attempts 100\n"));
}

static void test_mine_cli_bad_input_exits_2(void **state)
{
    char out[8192];
    char shortv[] = GENESIS_HEX;
    char badhex[] = GENESIS_HEX;
    (void)state;
    shortv[150] = '\0';
    badhex[3] = 'x';
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", shortv, NULL), 2);
    assert_non_null(strstr(out, "expected 160 hex digits"));
    assert_non_null(strstr(out, "usage: setm mine"));
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", badhex, NULL), 2);
    assert_non_null(strstr(out, "not a hex digit"));
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--bits", "0x1d800001", NULL),
                     2);
    assert_non_null(strstr(out, "negative"));
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--bits", "0x1d000000", NULL),
                     2);
    assert_non_null(strstr(out, "zero"));
    assert_int_equal(
        run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX, "--target",
                "0000000000000000000000000000000000000000000000000000000000000000", NULL),
        2);
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--bits", "0x1d00ffff", "--target",
                             "00000000ffff0000000000000000000000000000000000000000000000000000",
                             NULL),
                     2);
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--count", "0", NULL),
                     2);
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--start", "4294967296", NULL),
                     2);
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--backend", "gpu", NULL),
                     2);
    assert_int_equal(run_cli(out, sizeof out, "mine", "--frobnicate", NULL), 2);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    assert_int_equal(run_cli(out, sizeof out, "mine", NULL), 2);
    assert_non_null(strstr(out, "--header is required"));
    assert_int_equal(run_cli(out, sizeof out, "mine", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: setm mine"));
}

static void test_mine_cli_opencl_unusable_exits_2(void **state)
{
    char out[8192], dir[256];
    (void)state;
    if (skip_opencl())
        skip();
    make_tmpdir(dir, sizeof dir);
    setenv("SETM_KERNELS", dir, 1);
    assert_int_equal(run_cli(out, sizeof out, "mine", "--header", GENESIS_HEX,
                             "--count", "10", "--backend", "opencl", NULL),
                     2);
    unsetenv("SETM_KERNELS");
    assert_non_null(strstr(out, "cannot read kernel"));
    rmdir(dir);
}

static void test_mine_cli_devices_and_bench(void **state)
{
    char out[16384];
    (void)state;
    assert_int_equal(run_cli(out, sizeof out, "devices", NULL), 0);
    assert_non_null(strstr(out, "CPU backend: "));
    if (!skip_opencl())
        assert_non_null(strstr(out, "OpenCL platform 0: "));
    assert_int_equal(run_cli(out, sizeof out, "devices", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: setm devices"));
    assert_int_equal(run_cli(out, sizeof out, "devices", "--bogus", NULL), 2);

    assert_int_equal(run_cli(out, sizeof out, "bench", "mine", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: setm bench mine"));
    assert_int_equal(run_cli(out, sizeof out, "bench", "mine", "--nonces", "x", NULL), 2);
    assert_int_equal(run_cli(out, sizeof out, "bench", "mine", "--cl-vector", "3", NULL),
                     2);
    if (skip_opencl()) /* no stray argument after --no-opencl */
        assert_int_equal(run_cli(out, sizeof out, "bench", "mine", "--nonces", "4096",
                                 "--threads", "2", "--no-opencl", NULL),
                         0);
    else
        assert_int_equal(run_cli(out, sizeof out, "bench", "mine", "--nonces", "4096",
                                 "--threads", "2", "--nonces", "4096", NULL),
                         0);
    assert_non_null(strstr(out, "bench mine path=cpu-portable threads=1 nonces=4096 seconds="));
    assert_non_null(strstr(out, "bench mine path=cpu-portable threads=2 nonces=4096 seconds="));
    if (!skip_opencl())
        assert_non_null(strstr(out, "bench mine path=opencl threads=1 nonces=4096 seconds="));
}

/* The GPU check script in its quick mode, on the OpenCL device here (PoCL): every step passes
 * and prints its summary line, so the script is known to work before it meets a GPU. */
static void test_mine_gpu_check_quick(void **state)
{
    char cmd[8192], bin[4096], line[1024], all[16384] = "";
    const char *src = getenv("SETM_SOURCE_DIR");
    FILE *p;
    (void)state;
    if (skip_opencl())
        skip();
    setm_path(bin, sizeof bin);
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1); /* see run_cli: LSan and PoCL's threads */
    snprintf(cmd, sizeof cmd, "SETM_BIN='%s' sh '%s/tests/gpu/check.sh' --quick 2>&1", bin,
             src ? src : SETM_SOURCE_DIR);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p))
        if (strlen(all) + strlen(line) < sizeof all)
            strcat(all, line);
    int status = pclose(p);
    unsetenv("ASAN_OPTIONS");
    if (status != 0)
        fail_msg("check.sh --quick failed:\n%s", all);
    assert_non_null(strstr(all, "gpu-check: device: "));
    assert_non_null(strstr(all, "gpu-check: bench: opencl "));
    assert_non_null(strstr(all, "work-group ")); /* the kernel's geometry in the bench line */
    assert_non_null(strstr(all, "gpu-check: search36: block 125552 nonce 2504433986, hash "
                                "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d"));
    assert_non_null(strstr(all, "gpu-check: tips: "));
    assert_non_null(strstr(all, "PASS"));
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--child-no-icd"))
        return child_no_icd(argv[2]);

    /* One group, so the runner's summary counts every test; the search tests use the group's
     * backends, the others ignore them. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mine_pow_bits_genesis_target),
        cmocka_unit_test(test_mine_pow_bits_round_trip),
        cmocka_unit_test(test_mine_pow_bits_rejects_bad),
        cmocka_unit_test(test_mine_pow_hex_rejects_bad),
        cmocka_unit_test(test_mine_pow_meets_target_edges),
        cmocka_unit_test(test_mine_pow_expected_attempts),
        cmocka_unit_test(test_mine_vectors_every_backend),
        cmocka_unit_test(test_mine_backends_agree_random),
        cmocka_unit_test(test_mine_early_rejection_top_limb_boundary),
        cmocka_unit_test(test_mine_lowest_of_many),
        cmocka_unit_test(test_mine_no_solution_reports_count),
        cmocka_unit_test(test_mine_wrapping_range),
        cmocka_unit_test(test_mine_range_ends_at_max_nonce),
        cmocka_unit_test(test_mine_count_bounds),
        cmocka_unit_test(test_mine_names_and_descriptions),
        cmocka_unit_test(test_mine_cpu_threads_started_once),
        cmocka_unit_test(test_mine_auto_takes_opencl),
        cmocka_unit_test(test_mine_opencl_builtins_kernel_agrees),
        cmocka_unit_test(test_mine_opencl_iters_per_item_agree),
        cmocka_unit_test(test_mine_opencl_calibrated_geometry_agrees),
        cmocka_unit_test(test_mine_rolled_search_lowest_roll_then_nonce),
        cmocka_unit_test(test_mine_rolled_search_none_counts_all),
        cmocka_unit_test(test_mine_rolled_search_bounds),
        cmocka_unit_test(test_mine_stop_ends_search_within_a_second),
        cmocka_unit_test(test_mine_auto_probes_device_on_demand),
        cmocka_unit_test(test_mine_auto_expected_work_hint),
        cmocka_unit_test(test_mine_auto_skips_cpu_devices_beside_sha_ni),
        cmocka_unit_test(test_mine_expected_seconds_scale_with_target),
        cmocka_unit_test(test_mine_option_parsing),
        cmocka_unit_test(test_mine_cpu_path_env),
        cmocka_unit_test(test_mine_opencl_kernel_dir_missing),
        cmocka_unit_test(test_mine_opencl_broken_kernel),
        cmocka_unit_test(test_mine_opencl_no_matching_device),
        cmocka_unit_test(test_mine_opencl_no_platform),
        cmocka_unit_test(test_mine_cli_finds_genesis_nonce),
        cmocka_unit_test(test_mine_cli_no_nonce_exits_1),
        cmocka_unit_test(test_mine_cli_bad_input_exits_2),
        cmocka_unit_test(test_mine_cli_opencl_unusable_exits_2),
        cmocka_unit_test(test_mine_cli_devices_and_bench),
        cmocka_unit_test(test_mine_gpu_check_quick),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
