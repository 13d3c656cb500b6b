/*
 * mine/mine_portable — the portable C scan of the CPU backend: the reference arithmetic of
 * kernels/sha256.cl with the work that does not depend on the nonce done once per scan, and
 * early rejection in the second hash.
 *
 * Per scan: rounds 0-2 of the header's second block (they see only the Merkle tail and the time)
 * are run once from the midstate. Per nonce: rounds 3-63 of that block, then the second hash,
 * which stops after its round 60 (0-based): there the new e is what rounds 61-63 only move into
 * h, so final state word 7 (the hash's most significant limb as a number) = e + H(0)[7], and
 * rounds 57-60 need only the e chain (t1 and d + t1; a is not read again). Only a nonce whose limb
 * 7 is <= the target's (the equal case included) is re-hashed in full by the reference and
 * compared on every limb, so the answer is exactly mine_ref_scan's (the start-up self-test checks
 * it, and test_mine checks the equal-top-limb boundary against libsodium).
 *
 * Invariant: mine_portable_scan(w, b, e) == mine_ref_scan(w, b, e) for every input.
 */
#include "mine/backend.h"

#include "sha256.cl"

/* A round that keeps only what rounds up to 60 of the second hash still read: e and the
 * registers shifted into f, g, h, d. a is left stale (never read again as d by round 60). */
#define PORTABLE_STEP_E(a, b, c, d, e, f, g, h, kw)                                                \
    do {                                                                                           \
        sha256_u32 t1_ = (h) + SHA256_BSIG1(e) + SHA256_CH(e, f, g) + (kw);                        \
        (h) = (g);                                                                                 \
        (g) = (f);                                                                                 \
        (f) = (e);                                                                                 \
        (e) = (d) + t1_;                                                                           \
        (d) = (c);                                                                                 \
        (c) = (b);                                                                                 \
        (b) = (a);                                                                                 \
    } while (0)

uint64_t mine_portable_scan(const struct mine_work *w, uint64_t begin, uint64_t end)
{
    sha256_u32 p[8];
    const uint32_t t7 = w->target[7];
    int t;

    /* rounds 0-2 of block 2, once */
    for (t = 0; t < 8; t++)
        p[t] = w->mid[t];
    {
        sha256_u32 a = p[0], b = p[1], c = p[2], d = p[3], e = p[4], f = p[5], g = p[6], h = p[7];
        for (t = 0; t < 3; t++)
            SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + w->tail[t]);
        p[0] = a, p[1] = b, p[2] = c, p[3] = d, p[4] = e, p[5] = f, p[6] = g, p[7] = h;
    }

    for (uint64_t off = begin; off < end; off++) {
        const uint32_t nonce = w->start + (uint32_t)off;
        sha256_u32 x[16], y[16];
        sha256_u32 a = p[0], b = p[1], c = p[2], d = p[3], e = p[4], f = p[5], g = p[6], h = p[7];

        /* block 2: tail, nonce, padding after 80 bytes; rounds 3-63 */
        x[0] = w->tail[0];
        x[1] = w->tail[1];
        x[2] = w->tail[2];
        x[3] = sha256_bswap(nonce);
        x[4] = 0x80000000U;
        SHA256_UNROLL
        for (t = 5; t < 15; t++)
            x[t] = 0;
        x[15] = 80 * 8;
        SHA256_UNROLL
        for (t = 3; t < 16; t++)
            SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + x[t]);
        SHA256_UNROLL
        for (t = 16; t < 64; t++) {
            SHA256_SCHED(x[t & 15], x[(t - 2) & 15], x[(t - 7) & 15], x[(t - 15) & 15]);
            SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + x[t & 15]);
        }
        y[0] = w->mid[0] + a;
        y[1] = w->mid[1] + b;
        y[2] = w->mid[2] + c;
        y[3] = w->mid[3] + d;
        y[4] = w->mid[4] + e;
        y[5] = w->mid[5] + f;
        y[6] = w->mid[6] + g;
        y[7] = w->mid[7] + h;

        /* block 3: the first digest and padding after 32 bytes; rounds 0-60 */
        y[8] = 0x80000000U;
        SHA256_UNROLL
        for (t = 9; t < 15; t++)
            y[t] = 0;
        y[15] = 32 * 8;
        a = SHA256_IV0, b = SHA256_IV1, c = SHA256_IV2, d = SHA256_IV3;
        e = SHA256_IV4, f = SHA256_IV5, g = SHA256_IV6, h = SHA256_IV7;
        SHA256_UNROLL
        for (t = 0; t < 16; t++)
            SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + y[t]);
        SHA256_UNROLL
        for (t = 16; t < 57; t++) {
            SHA256_SCHED(y[t & 15], y[(t - 2) & 15], y[(t - 7) & 15], y[(t - 15) & 15]);
            SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + y[t & 15]);
        }
        SHA256_UNROLL
        for (t = 57; t < 61; t++) {
            SHA256_SCHED(y[t & 15], y[(t - 2) & 15], y[(t - 7) & 15], y[(t - 15) & 15]);
            PORTABLE_STEP_E(a, b, c, d, e, f, g, h, sha256_k[t] + y[t & 15]);
        }
        if (sha256_bswap(e + SHA256_IV7) <= t7) {
            sha256_u32 s[8];
            sha256d_header(w->mid, w->tail, nonce, s);
            if (sha256_meets_target(s, w->target))
                return off;
        }
    }
    return MINE_NONE;
}
