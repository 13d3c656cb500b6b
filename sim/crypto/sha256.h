/*
 * crypto/sha256 — SHA-256 and SHA-256d (FIPS 180-4) on the host.
 *
 * The arithmetic is kernels/sha256.cl, the same source the OpenCL kernel is built from; this module
 * adds byte streaming and padding around it. Digests are 32 bytes in SHA-256's own byte order
 * (Bitcoin's "internal" order; block explorers print them reversed).
 *
 * Two compression paths give the same bits: the portable one (kernels/sha256.cl) and, on x86
 * CPUs with the SHA extensions (SHA-NI), sha256_shani.c's, chosen at run time from CPUID.  The
 * streaming state records which path it uses (crypto_sha256_init: the fastest available;
 * crypto_sha256_init_portable: always the portable one, the reference tests compare against).
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
    int shani;                            /* 1: compress with SHA-NI; 0: the portable rounds */
};

/* Start a new message, compressed on the fastest path this CPU has. */
void crypto_sha256_init(struct crypto_sha256 *c);

/* Start a new message on the portable path, whatever the CPU (the reference for tests). */
void crypto_sha256_init_portable(struct crypto_sha256 *c);

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

/* 1 when this CPU has the SHA extensions (CPUID.7.0:EBX bit 29, with SSSE3 and SSE4.1), so
 * crypto_sha256_compress_shani may run; 0 otherwise and on non-x86 builds.  The answer is read
 * once per process and kept (the one piece of file-scope state here: a fact about the CPU). */
int crypto_sha256_shani_available(void);

/* The two paths of crypto_sha256_compress over n consecutive 64-byte blocks, for tests and
 * benchmarks that want one of them.  The SHA-NI one must only be called when
 * crypto_sha256_shani_available() says 1 (on other CPUs it would fault). */
void crypto_sha256_compress_portable(uint32_t state[8], const unsigned char *blocks, size_t n);
void crypto_sha256_compress_shani(uint32_t state[8], const unsigned char *blocks, size_t n);

#endif
