/*
 * crypto/sha256 — host SHA-256: streaming and padding around the shared rounds in
 * kernels/sha256.cl, or around sha256_shani.c's SHA-NI rounds where the CPU has them (same bits;
 * tests/test_sha256.c checks both against libsodium). Invariant: between calls, c->fill < 64 and
 * c->state holds the compression of every complete block absorbed so far.
 */
#include "crypto/sha256.h"

#include <string.h>

#include "sha256.cl"

void crypto_sha256_compress_portable(uint32_t state[8], const unsigned char *p, size_t n)
{
    for (; n > 0; n--, p += CRYPTO_SHA256_BLOCK) {
        sha256_u32 w[16];
        for (int i = 0; i < 16; i++)
            w[i] = sha256_load_be(p + 4 * i);
        sha256_compress(state, w);
    }
}

/* n blocks on the path c chose at init */
static void sha256_blocks(const struct crypto_sha256 *c, uint32_t state[8], const unsigned char *p,
                          size_t n)
{
    if (c->shani)
        crypto_sha256_compress_shani(state, p, n);
    else
        crypto_sha256_compress_portable(state, p, n);
}

void crypto_sha256_iv(uint32_t state[8])
{
    sha256_init(state);
}

void crypto_sha256_compress(uint32_t state[8], const unsigned char block[CRYPTO_SHA256_BLOCK])
{
    if (crypto_sha256_shani_available())
        crypto_sha256_compress_shani(state, block, 1);
    else
        crypto_sha256_compress_portable(state, block, 1);
}

void crypto_sha256_init_portable(struct crypto_sha256 *c)
{
    sha256_init(c->state);
    c->bytes = 0;
    c->fill = 0;
    c->shani = 0;
}

void crypto_sha256_init(struct crypto_sha256 *c)
{
    crypto_sha256_init_portable(c);
    c->shani = crypto_sha256_shani_available();
}

void crypto_sha256_update(struct crypto_sha256 *c, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (len == 0)
        return; /* data may be NULL, which memcpy must never see */
    c->bytes += len;
    if (c->fill) {
        size_t take = CRYPTO_SHA256_BLOCK - c->fill;
        if (take > len)
            take = len;
        memcpy(c->buf + c->fill, p, take);
        c->fill += take;
        p += take;
        len -= take;
        if (c->fill < CRYPTO_SHA256_BLOCK)
            return;
        sha256_blocks(c, c->state, c->buf, 1);
        c->fill = 0;
    }
    if (len >= CRYPTO_SHA256_BLOCK) {
        size_t whole = len / CRYPTO_SHA256_BLOCK;
        sha256_blocks(c, c->state, p, whole);
        p += whole * CRYPTO_SHA256_BLOCK;
        len -= whole * CRYPTO_SHA256_BLOCK;
    }
    if (len) {
        memcpy(c->buf, p, len);
        c->fill = len;
    }
}

void crypto_sha256_final(struct crypto_sha256 *c, unsigned char out[CRYPTO_SHA256_LEN])
{
    uint64_t bits = c->bytes * 8;

    /* 0x80, zeros up to 56 mod 64, then the bit length as a big-endian 64-bit number. */
    c->buf[c->fill++] = 0x80;
    if (c->fill > 56) {
        memset(c->buf + c->fill, 0, CRYPTO_SHA256_BLOCK - c->fill);
        sha256_blocks(c, c->state, c->buf, 1);
        c->fill = 0;
    }
    memset(c->buf + c->fill, 0, 56 - c->fill);
    for (int i = 0; i < 8; i++)
        c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_blocks(c, c->state, c->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->state[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->state[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->state[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->state[i];
    }
    c->fill = 0;
}

void crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
    struct crypto_sha256 c;
    crypto_sha256_init(&c);
    crypto_sha256_update(&c, data, len);
    crypto_sha256_final(&c, out);
}

void crypto_sha256d(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
    unsigned char first[CRYPTO_SHA256_LEN];
    crypto_sha256(data, len, first);
    crypto_sha256(first, sizeof first, out);
}
