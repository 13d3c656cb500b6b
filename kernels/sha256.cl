/*
 * sha256.cl — the one portable SHA-256 (FIPS 180-4) of setm, written in the common subset of C99
 * and OpenCL C 1.2 and compiled both ways: into the host library by sim/chain/sha256.c and
 * sim/mine/mine_cpu.c (#include), and into the device program by the OpenCL backend, which passes
 * this file's text first and sha256d_search.cl's after it to clCreateProgramWithSource.
 *
 * Invariant: nothing in here depends on which compiler reads it except the qualifier macros in the
 * first block below; the rounds, constants and padding are the same text on host and device, so a
 * host test of this file is a test of the kernel's arithmetic.
 *
 * Byte order: SHA-256 reads message bytes as big-endian 32-bit words (bytes b0 b1 b2 b3 form
 * b0<<24 | b1<<16 | b2<<8 | b3) and writes the digest as the big-endian bytes of state[0..7].
 */
#ifndef SETM_SHA256_CL
#define SETM_SHA256_CL

#ifdef __OPENCL_VERSION__
typedef uint sha256_u32;
typedef uchar sha256_u8;
#define SHA256_PRIV __private        /* pointers to a work-item's own state */
#define SHA256_TABLE __constant      /* read-only tables at program scope */
#define SHA256_FN static inline
#define SHA256_UNROLL _Pragma("unroll")
#else
#include <stdint.h>
typedef uint32_t sha256_u32;
typedef uint8_t sha256_u8;
#define SHA256_PRIV
#define SHA256_TABLE static const
#define SHA256_FN static inline
#if defined(__clang__)
#define SHA256_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define SHA256_UNROLL _Pragma("GCC unroll 64")
#else
#define SHA256_UNROLL
#endif
#endif

/* Initial hash value H(0), FIPS 180-4 section 5.3.3. */
#define SHA256_IV0 0x6a09e667U
#define SHA256_IV1 0xbb67ae85U
#define SHA256_IV2 0x3c6ef372U
#define SHA256_IV3 0xa54ff53aU
#define SHA256_IV4 0x510e527fU
#define SHA256_IV5 0x9b05688cU
#define SHA256_IV6 0x1f83d9abU
#define SHA256_IV7 0x5be0cd19U

/* Round constants K(0..63), FIPS 180-4 section 4.2.2. */
SHA256_TABLE sha256_u32 sha256_k[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U,
    0xab1c5ed5U, 0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU,
    0x9bdc06a7U, 0xc19bf174U, 0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU,
    0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU, 0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U,
    0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U, 0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU,
    0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U, 0xa2bfe8a1U, 0xa81a664bU,
    0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U, 0x19a4c116U,
    0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U,
    0xc67178f2U};

/* The logical functions of FIPS 180-4 section 4.1.2. Rotations are written as shifts so that no
 * builtin is needed on either side; every compiler we target turns them into rotate instructions. */
#define SHA256_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define SHA256_CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define SHA256_MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))
#define SHA256_BSIG0(a) (SHA256_ROTR(a, 2) ^ SHA256_ROTR(a, 13) ^ SHA256_ROTR(a, 22))
#define SHA256_BSIG1(e) (SHA256_ROTR(e, 6) ^ SHA256_ROTR(e, 11) ^ SHA256_ROTR(e, 25))
#define SHA256_SSIG0(x) (SHA256_ROTR(x, 7) ^ SHA256_ROTR(x, 18) ^ ((x) >> 3))
#define SHA256_SSIG1(x) (SHA256_ROTR(x, 17) ^ SHA256_ROTR(x, 19) ^ ((x) >> 10))

/* One round on working variables a..h of type T with kw = K(t) + W(t). The variables shift by one
 * name per round (h takes g, ...); compilers resolve the shifts as renames, so the code costs no
 * moves. T is sha256_u32 here; the OpenCL kernel also uses vector types (several nonces per
 * work-item), which every operator below accepts unchanged. */
#define SHA256_STEP_T(T, a, b, c, d, e, f, g, h, kw)                                               \
    do {                                                                                           \
        T t1_ = (h) + SHA256_BSIG1(e) + SHA256_CH(e, f, g) + (kw);                                 \
        T t2_ = SHA256_BSIG0(a) + SHA256_MAJ(a, b, c);                                             \
        (h) = (g);                                                                                 \
        (g) = (f);                                                                                 \
        (f) = (e);                                                                                 \
        (e) = (d) + t1_;                                                                           \
        (d) = (c);                                                                                 \
        (c) = (b);                                                                                 \
        (b) = (a);                                                                                 \
        (a) = t1_ + t2_;                                                                           \
    } while (0)
#define SHA256_STEP(a, b, c, d, e, f, g, h, kw) SHA256_STEP_T(sha256_u32, a, b, c, d, e, f, g, h, kw)

/* Byte swap of each 32-bit word, for scalars and vectors alike. */
#define SHA256_BSWAP(x)                                                                            \
    ((((x) >> 24) & 0xffU) | (((x) >> 8) & 0xff00U) | (((x) << 8) & 0xff0000U) | ((x) << 24))

/* Message schedule on a rolling 16-word window: for t >= 16 the slot holding W(t-16) becomes W(t).
 * w15_ holds W(t-15), w7_ holds W(t-7), w2_ holds W(t-2). */
#define SHA256_SCHED(wt_, w2_, w7_, w15_) ((wt_) += SHA256_SSIG1(w2_) + (w7_) + SHA256_SSIG0(w15_))

/* Big-endian load of the word at p[0..3]. */
SHA256_FN sha256_u32 sha256_load_be(const SHA256_PRIV sha256_u8 *p)
{
    return ((sha256_u32)p[0] << 24) | ((sha256_u32)p[1] << 16) | ((sha256_u32)p[2] << 8) |
           (sha256_u32)p[3];
}

/* Byte swap of a 32-bit word: the SHA word of four little-endian header bytes, and back. */
SHA256_FN sha256_u32 sha256_bswap(sha256_u32 x)
{
    return SHA256_BSWAP(x);
}

/* state <- H(0). */
SHA256_FN void sha256_init(SHA256_PRIV sha256_u32 *state)
{
    state[0] = SHA256_IV0;
    state[1] = SHA256_IV1;
    state[2] = SHA256_IV2;
    state[3] = SHA256_IV3;
    state[4] = SHA256_IV4;
    state[5] = SHA256_IV5;
    state[6] = SHA256_IV6;
    state[7] = SHA256_IV7;
}

/* One compression: state[0..7] absorbs the 512-bit block given as 16 big-endian words. */
SHA256_FN void sha256_compress(SHA256_PRIV sha256_u32 *state, const SHA256_PRIV sha256_u32 *block)
{
    sha256_u32 w[16];
    sha256_u32 a = state[0], b = state[1], c = state[2], d = state[3];
    sha256_u32 e = state[4], f = state[5], g = state[6], h = state[7];
    int t;

    SHA256_UNROLL
    for (t = 0; t < 16; t++) {
        w[t] = block[t];
        SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + w[t]);
    }
    SHA256_UNROLL
    for (t = 16; t < 64; t++) {
        SHA256_SCHED(w[t & 15], w[(t - 2) & 15], w[(t - 7) & 15], w[(t - 15) & 15]);
        SHA256_STEP(a, b, c, d, e, f, g, h, sha256_k[t] + w[t & 15]);
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

/*
 * SHA-256d of an 80-byte Bitcoin block header whose first 64 bytes are already absorbed into
 * `mid` (the midstate). tail[0..2] are the header's words 16..18 as SHA words (big-endian reads of
 * bytes 64..75: end of the Merkle root, time, bits); `nonce` is the header's nonce as the number
 * it stands for (bytes 76..79 read little-endian). out[0..7] gets the final state, whose
 * big-endian bytes are the digest. This is the reference every faster path is checked against.
 */
SHA256_FN void sha256d_header(const SHA256_PRIV sha256_u32 *mid, const SHA256_PRIV sha256_u32 *tail,
                              sha256_u32 nonce, SHA256_PRIV sha256_u32 *out)
{
    sha256_u32 block[16];
    sha256_u32 s[8];
    int i;

    for (i = 0; i < 8; i++)
        s[i] = mid[i];
    block[0] = tail[0];
    block[1] = tail[1];
    block[2] = tail[2];
    block[3] = sha256_bswap(nonce);
    block[4] = 0x80000000U; /* padding bit after 80 bytes */
    for (i = 5; i < 15; i++)
        block[i] = 0;
    block[15] = 80 * 8; /* message length in bits */
    sha256_compress(s, block);

    for (i = 0; i < 8; i++)
        block[i] = s[i];
    block[8] = 0x80000000U; /* padding bit after the 32-byte first digest */
    for (i = 9; i < 15; i++)
        block[i] = 0;
    block[15] = 32 * 8;
    sha256_init(out);
    sha256_compress(out, block);
}

/*
 * Does the digest held as final state s[0..7] meet the target? The digest's bytes read as a
 * 256-bit little-endian number (Bitcoin's convention) must be <= the target, given as eight
 * little-endian 32-bit limbs, target[7] the most significant. Limb i of the digest is the
 * byte-swapped state word i, so the comparison runs from s[7] down to s[0].
 */
SHA256_FN int sha256_meets_target(const SHA256_PRIV sha256_u32 *s, const SHA256_PRIV sha256_u32 *target)
{
    int i;
    for (i = 7; i >= 0; i--) {
        sha256_u32 limb = sha256_bswap(s[i]);
        if (limb != target[i])
            return limb < target[i];
    }
    return 1;
}

#endif
