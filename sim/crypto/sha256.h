/*
 * crypto/sha256 — SHA-256 and SHA-256d (FIPS 180-4) on the host.
 *
 * The arithmetic is kernels/sha256.cl, the same source the OpenCL kernel is built from; this module
 * adds byte streaming and padding around it. Digests are 32 bytes in SHA-256's own byte order
 * (Bitcoin's "internal" order; block explorers print them reversed).
 *
 * Ownership: every pointer argument is borrowed; nothing here allocates or fails.
 */
#ifndef SETM_CRYPTO_SHA256_H
#define SETM_CRYPTO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32  /* digest bytes */
#define CRYPTO_SHA256_BLOCK 64 /* bytes per compression */

/* Streaming state; caller-owned storage. Fields are private to crypto/sha256.c. */
struct crypto_sha256 {
    uint32_t state[8];                    /* chaining value */
    uint64_t bytes;                       /* message bytes absorbed so far */
    unsigned char buf[CRYPTO_SHA256_BLOCK]; /* pending bytes of the current block */
    size_t fill;                          /* how many of buf are pending (< 64) */
};

/* Start a new message. */
void crypto_sha256_init(struct crypto_sha256 *c);

/* Absorb len bytes (data may be NULL when len is 0). */
void crypto_sha256_update(struct crypto_sha256 *c, const void *data, size_t len);

/* Pad, write the 32-byte digest to out and leave c ready only for crypto_sha256_init. */
void crypto_sha256_final(struct crypto_sha256 *c, unsigned char out[CRYPTO_SHA256_LEN]);

/* One-shot SHA-256 and SHA-256d (SHA-256 of the SHA-256 digest) of data[0..len). */
void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
void crypto_sha256d(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);

/* Raw compression: state (eight words, H(0) from crypto_sha256_iv) absorbs one 64-byte block.
 * A midstate is crypto_sha256_iv followed by crypto_sha256_compress of a header's first 64 bytes. */
void crypto_sha256_iv(uint32_t state[8]);
void crypto_sha256_compress(uint32_t state[8], const unsigned char block[CRYPTO_SHA256_BLOCK]);

#endif
