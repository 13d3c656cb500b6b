/*
 * crypto/sha256_shani — SHA-256 compression with the x86 SHA extensions (SHA-NI), and the CPUID
 * test that says whether this CPU has them.
 *
 * Register layout (Intel's, as in sim/mine/mine_shani.c): the state lives in two vectors,
 * ABEF = {F, E, B, A} and CDGH = {H, G, D, C} (element 0 first).  _mm_sha256rnds2_epu32 does two
 * rounds with K+W from the low two elements of its third operand; four rounds take one vector of
 * four schedule words, and msg1/msg2 extend the schedule four words at a time.  Nothing here
 * depends on the message: it absorbs whole 64-byte blocks, and sha256.c does the padding.
 *
 * Built with per-function target attributes, so the file compiles for any x86-64 and the SHA
 * instructions run only after crypto_sha256_shani_available() saw the CPUID bits.  On other
 * architectures the SHA-NI entry point is the portable compression, and available() says 0.
 */
#include "crypto/sha256.h"

#include <stdatomic.h>

#include "sha256.cl"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

static int shani_cpuid(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1U << 29)) != 0; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}

/* CPUID is slow (a VM exit under a hypervisor), so its answer is kept: 0 not asked yet, 1 no,
 * 2 yes.  Every thread that asks computes the same value, so a race only repeats the question. */
static atomic_int shani_known;

int crypto_sha256_shani_available(void)
{
    int v = atomic_load_explicit(&shani_known, memory_order_relaxed);
    if (!v) {
        v = shani_cpuid() ? 2 : 1;
        atomic_store_explicit(&shani_known, v, memory_order_relaxed);
    }
    return v == 2;
}

#define SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

SHANI_TARGET
void crypto_sha256_compress_shani(uint32_t state[8], const unsigned char *p, size_t n)
{
    /* byte-reverses each 32-bit word: SHA-256 reads the message big-endian */
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abcd = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i badc = _mm_shuffle_epi32(abcd, 0xB1), hgfe = _mm_shuffle_epi32(efgh, 0x1B);
    __m128i s0 = _mm_alignr_epi8(badc, hgfe, 8);    /* ABEF */
    __m128i s1 = _mm_blend_epi16(hgfe, badc, 0xF0); /* CDGH */

    for (; n > 0; n--, p += CRYPTO_SHA256_BLOCK) {
        const __m128i save0 = s0, save1 = s1;
        __m128i m[4];
        for (int i = 0; i < 4; i++)
            m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
        /* group g: rounds 4g..4g+3 with schedule words W(4g..4g+3) in m[g % 4] */
        _Pragma("GCC unroll 16") for (int g = 0; g < 16; g++)
        {
            __m128i kw;
            if (g >= 4) /* m[g%4] held W(4g-16..); m[(g+3)%4] holds W(4g-4..4g-1) */
                m[g & 3] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]),
                                  _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4)),
                    m[(g + 3) & 3]);
            kw = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)&sha256_k[4 * g]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, kw);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(kw, 0x0E));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
    }
    {
        __m128i abef_r = _mm_shuffle_epi32(s0, 0x1B); /* A B E F */
        __m128i ghcd = _mm_shuffle_epi32(s1, 0xB1);   /* G H C D */
        _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(abef_r, ghcd, 0xF0));
        _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(ghcd, abef_r, 8));
    }
}

#else

int crypto_sha256_shani_available(void) { return 0; }

void crypto_sha256_compress_shani(uint32_t state[8], const unsigned char *p, size_t n)
{
    crypto_sha256_compress_portable(state, p, n);
}

#endif
