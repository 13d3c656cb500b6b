/*
 * mine/pow — header fields, hex, compact bits and the target test. The 256-bit numbers are kept
 * as 32 little-endian bytes throughout, the order they have inside headers and hashes, so no
 * conversion happens anywhere but at the hex boundary (display order is reversed).
 */
#include "mine/pow.h"

#include <math.h>
#include <string.h>

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mine_hex_decode(const char *hex, unsigned char *out, size_t len, struct err *e)
{
    size_t n = strlen(hex);

    if (n != 2 * len)
        return err_set(e, ERR_FORMAT, "expected %zu hex digits, got %zu", 2 * len, n);
    for (size_t i = 0; i < len; i++) {
        int hi = hex_digit((unsigned char)hex[2 * i]), lo = hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            size_t at = hi < 0 ? 2 * i : 2 * i + 1;
            return err_set(e, ERR_FORMAT, "not a hex digit at position %zu: '%c'", at + 1,
                           hex[at]);
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int mine_header_from_hex(const char *hex, unsigned char header[MINE_HEADER_LEN], struct err *e)
{
    if (mine_hex_decode(hex, header, MINE_HEADER_LEN, e))
        return err_wrap(e, ERR_FORMAT, "header");
    return 0;
}

uint32_t mine_header_u32(const unsigned char header[MINE_HEADER_LEN], size_t off)
{
    const unsigned char *p = header + off;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void mine_header_set_u32(unsigned char header[MINE_HEADER_LEN], size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        header[off + i] = (unsigned char)(v >> (8 * i));
}

int mine_target_from_bits(uint32_t bits, unsigned char target[MINE_TARGET_LEN], struct err *e)
{
    unsigned size = bits >> 24;
    uint32_t mant = bits & 0x007fffffU;

    memset(target, 0, MINE_TARGET_LEN);
    /* The same validity rules as Bitcoin's compact decoding: the sign bit makes a negative
     * number, and the mantissa must fit below 2^256 once shifted by (size - 3) bytes. */
    if (mant && (bits & 0x00800000U))
        return err_set(e, ERR_FORMAT, "bits 0x%08x: negative target (sign bit 0x00800000 set)",
                       (unsigned)bits);
    if (mant && (size > 34 || (mant > 0xff && size > 33) || (mant > 0xffff && size > 32)))
        return err_set(e, ERR_FORMAT, "bits 0x%08x: target overflows 256 bits", (unsigned)bits);
    if (size <= 3) {
        mant >>= 8 * (3 - size);
        for (int i = 0; i < 3; i++)
            target[i] = (unsigned char)(mant >> (8 * i));
    } else {
        for (unsigned i = 0; i < 3; i++)
            if (size - 3 + i < MINE_TARGET_LEN)
                target[size - 3 + i] = (unsigned char)(mant >> (8 * i));
    }
    for (int i = 0; i < MINE_TARGET_LEN; i++)
        if (target[i])
            return 0;
    return err_set(e, ERR_FORMAT, "bits 0x%08x: target is zero, no hash can meet it",
                   (unsigned)bits);
}

uint32_t mine_target_to_bits(const unsigned char target[MINE_TARGET_LEN])
{
    unsigned size = MINE_TARGET_LEN;
    uint32_t mant = 0;

    while (size > 0 && target[size - 1] == 0)
        size--;
    for (unsigned i = 0; i < 3; i++) /* the three most significant bytes, below size */
        if (size >= 3 - i && size - 3 + i < MINE_TARGET_LEN)
            mant |= (uint32_t)target[size - 3 + i] << (8 * i);
    if (mant & 0x00800000U) { /* keep the sign bit clear: one more byte of exponent */
        mant >>= 8;
        size++;
    }
    return (uint32_t)size << 24 | mant;
}

int mine_target_from_hex(const char *hex, unsigned char target[MINE_TARGET_LEN], struct err *e)
{
    unsigned char be[MINE_TARGET_LEN];
    int zero = 1;

    if (mine_hex_decode(hex, be, sizeof be, e))
        return err_wrap(e, ERR_FORMAT, "target");
    for (int i = 0; i < MINE_TARGET_LEN; i++) {
        target[i] = be[MINE_TARGET_LEN - 1 - i];
        zero &= target[i] == 0;
    }
    if (zero)
        return err_set(e, ERR_FORMAT, "target is zero, no hash can meet it");
    return 0;
}

int mine_hash_meets_target(const unsigned char hash[MINE_HASH_LEN],
                           const unsigned char target[MINE_TARGET_LEN])
{
    for (int i = MINE_HASH_LEN - 1; i >= 0; i--)
        if (hash[i] != target[i])
            return hash[i] < target[i];
    return 1;
}

double mine_target_expected_attempts(const unsigned char target[MINE_TARGET_LEN])
{
    double t = 0;
    for (int i = MINE_TARGET_LEN - 1; i >= 0; i--)
        t = t * 256.0 + target[i];
    return ldexp(1.0, 256) / (t + 1.0);
}

void mine_hash_to_hex(const unsigned char hash[MINE_HASH_LEN], char out[2 * MINE_HASH_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < MINE_HASH_LEN; i++) {
        unsigned char b = hash[MINE_HASH_LEN - 1 - i];
        out[2 * i] = digits[b >> 4];
        out[2 * i + 1] = digits[b & 15];
    }
    out[2 * MINE_HASH_LEN] = '\0';
}
