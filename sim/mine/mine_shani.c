/*
 * mine/mine_shani — the x86 SHA-extensions (SHA-NI) scan of the CPU backend.
 *
 * Register layout (Intel's): a SHA-256 state lives in two vectors, ABEF = {F, E, B, A} and
 * CDGH = {H, G, D, C} (element 0 first); _mm_sha256rnds2_epu32 does two rounds with K+W taken
 * from the low two elements of its third operand. Each rnds2 depends on the previous one, so one
 * nonce alone waits on the instruction's latency; SHANI_LANES nonces are hashed side by side to
 * keep the SHA unit busy.
 *
 * Per nonce: the midstate and the first two rounds of the second header block (which see only
 * the Merkle tail and time) are computed once per scan; the final hash stops after 62 of its 64
 * rounds, when the F register already holds what becomes state word 7 (the most significant limb
 * of the hash as a number). Only a nonce whose limb 7 is <= the target's is re-hashed in full by
 * the reference, so the answer is exactly the reference's.
 *
 * Built with per-function target attributes: the file compiles for any x86-64, and the scan runs
 * only after mine_shani_available() saw the CPUID bits.
 */
#include "mine/backend.h"
#include "crypto/sha256.h"

#include "sha256.cl"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SHANI_BUILD 1
#include <immintrin.h>
#else
#define SHANI_BUILD 0
#endif

/* Nonces in flight per thread. On this project's AMD EPYC (Zen, SHA-NI, AVX2, no AVX-512),
 * thread CPU time per nonce over 2^21 nonces, best of 5, three alternating rounds under load:
 * 1 lane 14.5, 2 lanes 21.0, 3 lanes 20.0, 4 lanes 18.5 Mnonce/s per CPU-second. -DSHANI_LANES=N
 * overrides it for other cores. */
#ifndef SHANI_LANES
#define SHANI_LANES 2
#endif

#if SHANI_BUILD

int mine_shani_available(void) { return crypto_sha256_shani_available(); }

#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* {A..D} and {E..H} (state words in order) -> ABEF and CDGH. */
#define SHANI_PACK(abcd, efgh, abef, cdgh)                                                         \
    do {                                                                                           \
        __m128i badc_ = _mm_shuffle_epi32(abcd, 0xB1);                                             \
        __m128i hgfe_ = _mm_shuffle_epi32(efgh, 0x1B);                                             \
        (abef) = _mm_alignr_epi8(badc_, hgfe_, 8);                                                 \
        (cdgh) = _mm_blend_epi16(hgfe_, badc_, 0xF0);                                              \
    } while (0)

/* ABEF and CDGH -> {A..D} and {E..H}. */
#define SHANI_UNPACK(abef, cdgh, abcd, efgh)                                                       \
    do {                                                                                           \
        __m128i abef_r_ = _mm_shuffle_epi32(abef, 0x1B); /* A B E F */                             \
        __m128i ghcd_ = _mm_shuffle_epi32(cdgh, 0xB1);   /* G H C D */                             \
        (abcd) = _mm_blend_epi16(abef_r_, ghcd_, 0xF0);                                            \
        (efgh) = _mm_alignr_epi8(ghcd_, abef_r_, 8);                                               \
    } while (0)

/* Four rounds for every lane: kw[l] holds K+W for them; s0 is ABEF, s1 CDGH before and after. */
#define SHANI_QROUND(kwexpr)                                                                       \
    do {                                                                                           \
        _Pragma("GCC unroll 8") for (int l_ = 0; l_ < SHANI_LANES; l_++) {                         \
            __m128i kw_ = (kwexpr);                                                                \
            s1[l_] = _mm_sha256rnds2_epu32(s1[l_], s0[l_], kw_);                                   \
            s0[l_] = _mm_sha256rnds2_epu32(s0[l_], s1[l_], _mm_shuffle_epi32(kw_, 0x0E));          \
        }                                                                                          \
    } while (0)

/* Next four schedule words into a: a = W(t-16..t-13), b, c, d the three vectors after it. */
#define SHANI_SCHED(a, b, c, d)                                                                    \
    do {                                                                                           \
        _Pragma("GCC unroll 8") for (int l_ = 0; l_ < SHANI_LANES; l_++)                           \
            a[l_] = _mm_sha256msg2_epu32(                                                          \
                _mm_add_epi32(_mm_sha256msg1_epu32(a[l_], b[l_]), _mm_alignr_epi8(d[l_], c[l_], 4)), \
                d[l_]);                                                                            \
    } while (0)

#define SHANI_K(g) _mm_loadu_si128((const __m128i *)&sha256_k[4 * (g)])

/* Rounds 16..63 in twelve groups: schedule then four rounds, rotating m0..m3. */
#define SHANI_ROUNDS_16_63(last_group_partial)                                                     \
    do {                                                                                           \
        for (int g_ = 4; g_ < 16; g_ += 4) {                                                       \
            SHANI_SCHED(m0, m1, m2, m3);                                                           \
            SHANI_QROUND(_mm_add_epi32(m0[l_], SHANI_K(g_)));                                      \
            SHANI_SCHED(m1, m2, m3, m0);                                                           \
            SHANI_QROUND(_mm_add_epi32(m1[l_], SHANI_K(g_ + 1)));                                  \
            SHANI_SCHED(m2, m3, m0, m1);                                                           \
            SHANI_QROUND(_mm_add_epi32(m2[l_], SHANI_K(g_ + 2)));                                  \
            SHANI_SCHED(m3, m0, m1, m2);                                                           \
            if (g_ == 12 && (last_group_partial)) {                                                \
                for (int l_ = 0; l_ < SHANI_LANES; l_++)                                           \
                    s1[l_] = _mm_sha256rnds2_epu32(s1[l_], s0[l_],                                 \
                                                   _mm_add_epi32(m3[l_], SHANI_K(15)));            \
            } else {                                                                               \
                SHANI_QROUND(_mm_add_epi32(m3[l_], SHANI_K(g_ + 3)));                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

SHANI_TARGET
uint64_t mine_shani_scan(const struct mine_work *w, uint64_t begin, uint64_t end)
{
    static const uint32_t iv[8] = {SHA256_IV0, SHA256_IV1, SHA256_IV2, SHA256_IV3,
                                   SHA256_IV4, SHA256_IV5, SHA256_IV6, SHA256_IV7};
    __m128i mid_abef, mid_cdgh, iv_abef, iv_cdgh, pre_abef, pre_cdgh;
    __m128i s0[SHANI_LANES], s1[SHANI_LANES];
    __m128i m0[SHANI_LANES], m1[SHANI_LANES], m2[SHANI_LANES], m3[SHANI_LANES];
    uint32_t t7 = w->target[7];

    SHANI_PACK(_mm_loadu_si128((const __m128i *)&w->mid[0]),
               _mm_loadu_si128((const __m128i *)&w->mid[4]), mid_abef, mid_cdgh);
    SHANI_PACK(_mm_loadu_si128((const __m128i *)&iv[0]), _mm_loadu_si128((const __m128i *)&iv[4]),
               iv_abef, iv_cdgh);
    /* Rounds 0 and 1 of the header's second block see only the Merkle tail and the time. */
    pre_abef = _mm_sha256rnds2_epu32(
        mid_cdgh, mid_abef,
        _mm_set_epi32(0, 0, (int)(w->tail[1] + sha256_k[1]), (int)(w->tail[0] + sha256_k[0])));
    pre_cdgh = mid_abef;

    /* Constant K+W of rounds 4..15 of block 2 (padding after 80 bytes) and 8..15 of block 3
     * (padding after 32 bytes). */
    const __m128i b2_m1 = _mm_set_epi32(0, 0, 0, (int)0x80000000U);
    const __m128i b2_m3 = _mm_set_epi32(640, 0, 0, 0);
    const __m128i b3_m2 = _mm_set_epi32(0, 0, 0, (int)0x80000000U);
    const __m128i b3_m3 = _mm_set_epi32(256, 0, 0, 0);
    const __m128i zero = _mm_setzero_si128();

    for (uint64_t off = begin; off < end; off += SHANI_LANES) {
        uint32_t h7[SHANI_LANES];

        /* Block 2: W0..W3 = Merkle tail, time, bits, nonce (as a big-endian read). */
        for (int l = 0; l < SHANI_LANES; l++) {
            uint32_t wn = sha256_bswap(w->start + (uint32_t)(off + (uint64_t)l));
            m0[l] = _mm_set_epi32((int)wn, (int)w->tail[2], (int)w->tail[1], (int)w->tail[0]);
            m1[l] = b2_m1;
            m2[l] = zero;
            m3[l] = b2_m3;
            s1[l] = pre_abef;
            s0[l] = _mm_sha256rnds2_epu32(
                pre_cdgh, pre_abef,
                _mm_set_epi32(0, 0, (int)(wn + sha256_k[3]), (int)(w->tail[2] + sha256_k[2])));
        }
        SHANI_QROUND(_mm_add_epi32(b2_m1, SHANI_K(1)));
        SHANI_QROUND(SHANI_K(2));
        SHANI_QROUND(_mm_add_epi32(b2_m3, SHANI_K(3)));
        SHANI_ROUNDS_16_63(0);

        /* Block 3: the first digest (state words, already the big-endian reads) and padding. */
        for (int l = 0; l < SHANI_LANES; l++) {
            SHANI_UNPACK(_mm_add_epi32(s0[l], mid_abef), _mm_add_epi32(s1[l], mid_cdgh), m0[l],
                         m1[l]);
            m2[l] = b3_m2;
            m3[l] = b3_m3;
            s0[l] = iv_abef;
            s1[l] = iv_cdgh;
        }
        SHANI_QROUND(_mm_add_epi32(m0[l_], SHANI_K(0)));
        SHANI_QROUND(_mm_add_epi32(m1[l_], SHANI_K(1)));
        SHANI_QROUND(_mm_add_epi32(b3_m2, SHANI_K(2)));
        SHANI_QROUND(_mm_add_epi32(b3_m3, SHANI_K(3)));
        SHANI_ROUNDS_16_63(1);

        /* After 62 rounds the new ABEF sits in s1, and its F is the e of round 61, which
         * rounds 62 and 63 only move into H: final state word 7 = F + H(0)[7]. */
        for (int l = 0; l < SHANI_LANES; l++)
            h7[l] = (uint32_t)_mm_cvtsi128_si32(s1[l]) + SHA256_IV7;
        for (int l = 0; l < SHANI_LANES; l++) {
            uint64_t o = off + (uint64_t)l;
            if (o < end && sha256_bswap(h7[l]) <= t7) {
                sha256_u32 s[8];
                sha256d_header(w->mid, w->tail, w->start + (uint32_t)o, s);
                if (sha256_meets_target(s, w->target))
                    return o;
            }
        }
    }
    return MINE_NONE;
}

#else /* no x86 SHA extensions in this build */

int mine_shani_available(void)
{
    return 0;
}

uint64_t mine_shani_scan(const struct mine_work *w, uint64_t begin, uint64_t end)
{
    return mine_ref_scan(w, begin, end); /* never called: mine_shani_available() is 0 */
}

#endif
