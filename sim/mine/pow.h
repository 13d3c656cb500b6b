/*
 * mine/pow — proof-of-work arithmetic on Bitcoin-layout block headers: hex in and out, compact
 * `bits` <-> 256-bit target, and the target test.
 *
 * Layout of the 80-byte header (every integer little-endian, hashes in internal byte order):
 *   0 version (4) | 4 previous block hash (32) | 36 Merkle root (32) | 68 time (4) | 72 bits (4) |
 *   76 nonce (4).
 * A target is 32 bytes holding a 256-bit little-endian number; a hash meets it when the hash's 32
 * bytes read the same way are <= the target (Bitcoin's rule). Display order (block explorers,
 * `setm mine`) is the reverse of the internal byte order.
 *
 * Ownership: every pointer argument is borrowed; nothing here allocates.
 */
#ifndef SETM_MINE_POW_H
#define SETM_MINE_POW_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MINE_HEADER_LEN 80
#define MINE_HASH_LEN 32
#define MINE_TARGET_LEN 32
#define MINE_HDR_VERSION 0 /* byte offsets of the header fields */
#define MINE_HDR_PREV 4
#define MINE_HDR_MERKLE 36
#define MINE_HDR_TIME 68
#define MINE_HDR_BITS 72
#define MINE_HDR_NONCE 76

/* Decode exactly 2*len hex digits (either case, nothing else) into out[0..len).
 * Returns 0 or ERR_FORMAT (wrong length or a non-hex character; message says which). */
int mine_hex_decode(const char *hex, unsigned char *out, size_t len, struct err *e);

/* A header from its 160-digit hex serialization (as in a raw block). 0 or ERR_FORMAT. */
int mine_header_from_hex(const char *hex, unsigned char header[MINE_HEADER_LEN], struct err *e);

/* Little-endian 32-bit field of a header at byte offset off (MINE_HDR_*), and its setter. */
uint32_t mine_header_u32(const unsigned char header[MINE_HEADER_LEN], size_t off);
void mine_header_set_u32(unsigned char header[MINE_HEADER_LEN], size_t off, uint32_t v);

/* Expand compact bits (0x1d00ffff) into a target. Returns 0, or ERR_FORMAT for a negative
 * encoding, one that overflows 256 bits, or a zero target (no hash could meet it). */
int mine_target_from_bits(uint32_t bits, unsigned char target[MINE_TARGET_LEN], struct err *e);

/* Compact encoding of a target (the inverse of mine_target_from_bits up to its 24-bit precision). */
uint32_t mine_target_to_bits(const unsigned char target[MINE_TARGET_LEN]);

/* A target from 64 hex digits in display order (most significant byte first).
 * Returns 0, or ERR_FORMAT for bad hex or an all-zero target. */
int mine_target_from_hex(const char *hex, unsigned char target[MINE_TARGET_LEN], struct err *e);

/* 1 when hash (internal order) read as a little-endian 256-bit number is <= target, else 0. */
int mine_hash_meets_target(const unsigned char hash[MINE_HASH_LEN],
                           const unsigned char target[MINE_TARGET_LEN]);

/* Expected nonces per solution, 2^256 / (target + 1), as a double (for simulated mining time). */
double mine_target_expected_attempts(const unsigned char target[MINE_TARGET_LEN]);

/* 64 lowercase hex digits plus NUL of 32 bytes in display order (reversed), as explorers print
 * block hashes and targets. */
void mine_hash_to_hex(const unsigned char hash[MINE_HASH_LEN], char out[2 * MINE_HASH_LEN + 1]);

#endif
