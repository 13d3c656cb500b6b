/*
 * sha256d_search.cl — proof-of-work nonce search over an 80-byte Bitcoin-layout header.
 * OpenCL C 1.2, no extensions. Compiled after sha256.cl: the host passes sha256.cl's text and this
 * file's as the two strings of one program, so the shared rounds and constants come from there.
 *
 * Work-item mapping: VW (the build option -DVW=1|2|4|8|16, the host's choice per device: 1 on
 * GPUs, the native int vector width on CPU devices, whose compilers then need no auto-vectoriser)
 * nonces per vector, one per lane, and `iters` (a kernel argument, chosen per device by the
 * host's calibration) vectors per work-item, in ascending order: work-item gid's vector i
 * (0 <= i < iters) tries the offsets base + (gid*iters + i)*VW + lane, i.e. the nonces
 * pre[PRE_START] + offset (mod 2^32). Offsets at or past base + n are hashed but never reported,
 * so the host may round the global size up to a multiple of the work-group size. A work-item
 * whose nonce meets the target does atomic_min(best, offset) and stops (its later vectors hold
 * only higher offsets): after the launch *best is the LOWEST winning offset of the launch, or
 * 0xffffffff when none (the host resolves that value's own ambiguity).
 *
 * pre[] (the host's per-search precomputation, mine_opencl.c fills it; 32-bit words):
 *   PRE_MID..+7    SHA-256 state after header bytes 0..63 (midstate)
 *   PRE_S3..+7     state a..h after rounds 0..2 of the header's second block, whose message
 *                  words W0..W2 (Merkle tail, time, bits) do not depend on the nonce
 *   PRE_E4, PRE_A4 round 3 folded: e and a after it are these plus W3 (the nonce word):
 *                  E4 = d + T1', A4 = T1' + T2 with T1' = h + BSIG1(e) + CH(e,f,g) + K3 and
 *                  T2 = BSIG0(a) + MAJ(a,b,c) of the state after round 2
 *   PRE_H4         round 4's h + K4 + W4 (h after round 3 is g after round 2; W4 = 0x80000000)
 *   PRE_W16..19    W16, W17 in full; W18 and W19 without their nonce terms
 *   PRE_START      nonce at offset 0
 *   PRE_TARGET..+7 target limbs, little-endian 32-bit, [7] most significant
 *   PRE_TAIL..+2   W0..W2 themselves, for the full re-hash of a candidate
 *
 * Byte order: the nonce is stored little-endian in the header, so its SHA word is its byte swap.
 * The hash is compared as a little-endian 256-bit number; its most significant limb is the byte
 * swap of final state word 7, which is known after round 60 of the last compression (rounds
 * 61..63 only move it from e to h). Rounds 57..60 therefore compute only the e chain: e after
 * round 60 is a after round 56 plus round 60's T1, and no later a is ever read. Work-items whose
 * limb 7 exceeds the target's stop there; the rare rest re-hash in full with the shared
 * reference and compare all eight limbs.
 */
#define PRE_MID 0
#define PRE_S3 8
#define PRE_E4 16
#define PRE_A4 17
#define PRE_W16 18
#define PRE_W17 19
#define PRE_W18 20
#define PRE_W19 21
#define PRE_START 22
#define PRE_TARGET 24
#define PRE_TAIL 32
#define PRE_H4 35
#define PRE_LEN 36

#ifndef VW
#define VW 1
#endif
#if VW == 1
typedef uint uintv;
#define LANE_IDS 0U
#define ANY(c) (c)
#elif VW == 2
typedef uint2 uintv;
#define LANE_IDS ((uint2)(0, 1))
#define ANY(c) any(c)
#elif VW == 4
typedef uint4 uintv;
#define LANE_IDS ((uint4)(0, 1, 2, 3))
#define ANY(c) any(c)
#elif VW == 8
typedef uint8 uintv;
#define LANE_IDS ((uint8)(0, 1, 2, 3, 4, 5, 6, 7))
#define ANY(c) any(c)
#elif VW == 16
typedef uint16 uintv;
#define LANE_IDS ((uint16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#define ANY(c) any(c)
#else
#error "VW must be 1, 2, 4, 8 or 16"
#endif

/* SETM_CL_BUILTINS (the host's first choice; it falls back to the plain definitions of sha256.cl
 * when a device builds or answers wrong): OpenCL's rotate (a left rotation; one funnel shift on
 * NVIDIA) and bitselect (one 3-input logic op, LOP3): Ch(e,f,g) = bitselect(g, f, e) and
 * Maj(a,b,c) = bitselect(a, b, a ^ c). Redefined here only, so the kernel's rounds use them and
 * sha256.cl's shared reference (search_confirm) stays the plain code. */
#if defined(SETM_CL_BUILTINS) && SETM_CL_BUILTINS
#undef SHA256_ROTR
#undef SHA256_CH
#undef SHA256_MAJ
#define SHA256_ROTR(x, n) rotate((uintv)(x), (uintv)(32U - (n)))
#define SHA256_CH(e, f, g) bitselect((uintv)(g), (uintv)(f), (uintv)(e))
#define SHA256_MAJ(a, b, c) bitselect((uintv)(a), (uintv)(b), (uintv)(a) ^ (uintv)(c))
#endif

/* Round t with message word w (a plain value or a schedule slot). */
#define RK(t, w) SHA256_STEP_T(uintv, a, b, c, d, e, f, g, h, sha256_k[t] + (w))
/* Round t >= 16: slot j (holding W(t-16)) becomes W(t) from slots j+14, j+9, j+1 (mod 16). */
#define RS(t, j, j2, j7, j15)                                                                      \
    SHA256_SCHED(w##j, w##j2, w##j7, w##j15);                                                      \
    RK(t, w##j)

/* Round t >= 16 of the last compression past round 56: the e chain only (a is not updated). */
#define RE(t, j, j2, j7, j15)                                                                      \
    do {                                                                                           \
        uintv t1_;                                                                                 \
        SHA256_SCHED(w##j, w##j2, w##j7, w##j15);                                                  \
        t1_ = h + SHA256_BSIG1(e) + SHA256_CH(e, f, g) + sha256_k[t] + w##j;                       \
        h = g; g = f; f = e; e = d + t1_; d = c; c = b; b = a;                                     \
    } while (0)

/* Rounds t0 .. t0+15 on the rolling window w0..w15 (t0 a multiple of 16). */
#define ROUNDS16(t0)                                                                               \
    RS(t0 + 0, 0, 14, 9, 1); RS(t0 + 1, 1, 15, 10, 2); RS(t0 + 2, 2, 0, 11, 3);                   \
    RS(t0 + 3, 3, 1, 12, 4); RS(t0 + 4, 4, 2, 13, 5); RS(t0 + 5, 5, 3, 14, 6);                    \
    RS(t0 + 6, 6, 4, 15, 7); RS(t0 + 7, 7, 5, 0, 8); RS(t0 + 8, 8, 6, 1, 9);                      \
    RS(t0 + 9, 9, 7, 2, 10); RS(t0 + 10, 10, 8, 3, 11); RS(t0 + 11, 11, 9, 4, 12);                \
    RS(t0 + 12, 12, 10, 5, 13); RS(t0 + 13, 13, 11, 6, 14); RS(t0 + 14, 14, 12, 7, 15);           \
    RS(t0 + 15, 15, 13, 8, 0)

/* The full re-hash and 256-bit comparison of one candidate, with the shared reference code. */
static int search_confirm(__constant const uint *pre, uint nonce)
{
    uint mid[8], tail[3], target[8], s[8];
    int i;
    for (i = 0; i < 8; i++) {
        mid[i] = pre[PRE_MID + i];
        target[i] = pre[PRE_TARGET + i];
    }
    for (i = 0; i < 3; i++)
        tail[i] = pre[PRE_TAIL + i];
    sha256d_header(mid, tail, nonce, s);
    return sha256_meets_target(s, target);
}

__kernel void sha256d_search(__constant const uint *pre, const uint base, const uint n,
                             __global volatile uint *best, const uint iters)
{
    uint it, l;
    uintv a, b, c, d, e, f, g, h;
    uintv w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15;

    for (it = 0; it < iters; it++) {
        /* this vector's first offset past base */
        uint first = ((uint)get_global_id(0) * iters + it) * VW;
        uint off0, nonce0;

        if (first >= n)
            return;
        off0 = base + first;
        nonce0 = pre[PRE_START] + off0;

        /* Block 2 of the header: rounds 0..2 and round 3 but for its nonce word come from pre[]. */
        w3 = (uintv)(nonce0) + LANE_IDS;
        w3 = SHA256_BSWAP(w3);
        a = pre[PRE_A4] + w3; b = (uintv)(pre[PRE_S3 + 0]);
        c = (uintv)(pre[PRE_S3 + 1]); d = (uintv)(pre[PRE_S3 + 2]);
        e = pre[PRE_E4] + w3; f = (uintv)(pre[PRE_S3 + 4]);
        g = (uintv)(pre[PRE_S3 + 5]); h = (uintv)(pre[PRE_S3 + 6]);
        /* W4..W15: the padding bit after 80 bytes, zeros, and the bit length 640. Round 4 takes
         * h + K4 + W4 whole from pre[PRE_H4]. */
        w4 = (uintv)(0x80000000U); w5 = (uintv)(0); w6 = w5; w7 = w5; w8 = w5; w9 = w5; w10 = w5;
        w11 = w5; w12 = w5; w13 = w5; w14 = w5; w15 = (uintv)(640U);
        {
            uintv t1_ = pre[PRE_H4] + SHA256_BSIG1(e) + SHA256_CH(e, f, g);
            uintv t2_ = SHA256_BSIG0(a) + SHA256_MAJ(a, b, c);
            h = g; g = f; f = e; e = d + t1_; d = c; c = b; b = a; a = t1_ + t2_;
        }
        RK(5, w5); RK(6, w6); RK(7, w7); RK(8, w8); RK(9, w9); RK(10, w10);
        RK(11, w11); RK(12, w12); RK(13, w13); RK(14, w14); RK(15, w15);
        /* W16..W19 from the precomputed parts; the general schedule from W20. */
        w0 = (uintv)(pre[PRE_W16]);
        RK(16, w0);
        w1 = (uintv)(pre[PRE_W17]);
        RK(17, w1);
        w2 = pre[PRE_W18] + SHA256_SSIG0(w3);
        RK(18, w2);
        w3 = pre[PRE_W19] + w3;
        RK(19, w3);
        RS(20, 4, 2, 13, 5); RS(21, 5, 3, 14, 6); RS(22, 6, 4, 15, 7); RS(23, 7, 5, 0, 8);
        RS(24, 8, 6, 1, 9); RS(25, 9, 7, 2, 10); RS(26, 10, 8, 3, 11); RS(27, 11, 9, 4, 12);
        RS(28, 12, 10, 5, 13); RS(29, 13, 11, 6, 14); RS(30, 14, 12, 7, 15); RS(31, 15, 13, 8, 0);
        ROUNDS16(32);
        ROUNDS16(48);

        /* The second SHA-256: one block of the 32-byte first digest and its padding. */
        w0 = a + pre[PRE_MID + 0]; w1 = b + pre[PRE_MID + 1];
        w2 = c + pre[PRE_MID + 2]; w3 = d + pre[PRE_MID + 3];
        w4 = e + pre[PRE_MID + 4]; w5 = f + pre[PRE_MID + 5];
        w6 = g + pre[PRE_MID + 6]; w7 = h + pre[PRE_MID + 7];
        w8 = (uintv)(0x80000000U); w9 = (uintv)(0); w10 = w9; w11 = w9; w12 = w9; w13 = w9;
        w14 = w9; w15 = (uintv)(256U);
        a = (uintv)(SHA256_IV0); b = (uintv)(SHA256_IV1); c = (uintv)(SHA256_IV2);
        d = (uintv)(SHA256_IV3); e = (uintv)(SHA256_IV4); f = (uintv)(SHA256_IV5);
        g = (uintv)(SHA256_IV6); h = (uintv)(SHA256_IV7);
        RK(0, w0); RK(1, w1); RK(2, w2); RK(3, w3); RK(4, w4); RK(5, w5); RK(6, w6); RK(7, w7);
        RK(8, w8); RK(9, w9); RK(10, w10); RK(11, w11); RK(12, w12); RK(13, w13); RK(14, w14);
        RK(15, w15);
        ROUNDS16(16);
        ROUNDS16(32);
        RS(48, 0, 14, 9, 1); RS(49, 1, 15, 10, 2); RS(50, 2, 0, 11, 3); RS(51, 3, 1, 12, 4);
        RS(52, 4, 2, 13, 5); RS(53, 5, 3, 14, 6); RS(54, 6, 4, 15, 7); RS(55, 7, 5, 0, 8);
        RS(56, 8, 6, 1, 9);
        RE(57, 9, 7, 2, 10); RE(58, 10, 8, 3, 11); RE(59, 11, 9, 4, 12); RE(60, 12, 10, 5, 13);

        /* e now holds what rounds 61..63 carry into h: final word 7 is e + H(0)[7], and its byte
         * swap is the hash's most significant limb. Most vectors end here. */
        e += SHA256_IV7;
        if (!ANY(SHA256_BSWAP(e) <= pre[PRE_TARGET + 7]))
            continue;
        /* Rare: some lane may win. Confirm lanes in ascending order with the full reference. */
        for (l = 0; l < VW && first + l < n; l++)
            if (search_confirm(pre, nonce0 + l)) {
                atomic_min(best, off0 + l);
                return;
            }
    }
}
