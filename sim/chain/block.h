/*
 * chain/block — block headers laid out exactly as Bitcoin's (mine/pow.h gives the byte offsets),
 * Merkle roots of transaction ids, difficulty (compact bits from a count of leading zero bits,
 * Bitcoin-style clamped retarget), and the stateless checks of a block: header meets its target,
 * links to the expected parent, carries the expected bits, and its Merkle root matches its
 * well-formed, correctly signed transactions.  Checks that need ledger state (balances, unique
 * transactions along a branch) live in chain/chain.c.
 *
 * Merkle tree (Bitcoin's): leaves are txids in block order; an odd level duplicates its last
 * hash; a parent is SHA-256d(left || right); one transaction's root is its txid; an empty block's
 * root is 32 zero bytes (setm's convention: Bitcoin never has empty blocks).
 *
 * The genesis block holds no transaction; its Merkle root field commits to the run's identity
 * instead (chain_identity_root), so a stored scenario, seed or version that is not the run's
 * breaks the chain from block 0.
 *
 * Ownership: every pointer argument is borrowed; chain_merkle_root uses caller scratch.
 */
#ifndef SETM_CHAIN_BLOCK_H
#define SETM_CHAIN_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "chain/tx.h"
#include "core/err.h"
#include "mine/pow.h"

#define CHAIN_BLOCK_VERSION 1
#define CHAIN_MIN_ZERO_BITS 1  /* easiest difficulty accepted anywhere: the pow limit */
#define CHAIN_MAX_ZERO_BITS 224

/* A header's fields (hashes in internal byte order). */
struct chain_header {
    uint32_t version;
    unsigned char prev[MINE_HASH_LEN];
    unsigned char merkle[MINE_HASH_LEN];
    uint32_t time;  /* simulated seconds since the run's start, when the template was built,
                       + the roll (one second per 2^32 nonces searched; chain.c race_start) */
    uint32_t bits;  /* compact target */
    uint32_t nonce;
};

/* The run identity the genesis block commits to: SHA-256d (internal order) of the record
 *   "setm run identity 1\n" "version=" VERSION "\n" "seed=" SEED "\n" SCENARIO'
 * where SCENARIO' is the fully resolved scenario text (cfg_to_string; the `scenario` root
 * attribute) without its [mine] and [output] sections and the [sim] key `threads`, which
 * choose how a run is computed and stored, never what it simulates (every backend and thread
 * count gives the same chain), and the [chain] key `tx_window` when it holds its default (keys
 * newer than the identity are committed only when set, so older scenarios keep their chains).
 * Lines are kept byte for byte.  scenario and version may be NULL (read as ""). */
void chain_identity_root(const char *scenario, int64_t seed, const char *version,
                         unsigned char out[MINE_HASH_LEN]);

/* Serialise / parse the 80 bytes. */
void chain_header_pack(const struct chain_header *h, unsigned char out[MINE_HEADER_LEN]);
void chain_header_unpack(const unsigned char in[MINE_HEADER_LEN], struct chain_header *h);

/* Block hash: SHA-256d of the 80 header bytes (internal order). */
void chain_header_hash(const unsigned char hdr[MINE_HEADER_LEN], unsigned char hash[MINE_HASH_LEN]);

/* Merkle root of n txids (ids[i] is 32 bytes).  scratch holds at least n*32 bytes (may be NULL
 * when n <= 1). */
void chain_merkle_root(const unsigned char (*ids)[CHAIN_TXID_LEN], size_t n,
                       unsigned char (*scratch)[CHAIN_TXID_LEN], unsigned char root[MINE_HASH_LEN]);

/* Compact bits of the target 2^(256-zero_bits) - 1 (rounded down to compact precision), i.e.
 * about 2^zero_bits expected attempts per block.  0, or ERR_USAGE for zero_bits outside
 * CHAIN_MIN_ZERO_BITS..CHAIN_MAX_ZERO_BITS. */
int chain_bits_from_zero_bits(int zero_bits, uint32_t *bits, struct err *e);

/* Bitcoin's retarget: new target = old target * actual / expected with actual clamped to
 * [expected/4, expected*4], capped at the pow limit (CHAIN_MIN_ZERO_BITS), in 256-bit integer
 * arithmetic.  actual_s and expected_s are seconds (expected_s > 0; actual_s may be <= 0, which
 * clamps to expected/4).  0, or ERR_FORMAT when old_bits is not a valid target. */
int chain_retarget(uint32_t old_bits, int64_t actual_s, int64_t expected_s, uint32_t *new_bits,
                   struct err *e);

/* Expected attempts per block at bits (2^256 / (target + 1)); 0 for invalid bits. */
double chain_bits_work(uint32_t bits);

/* The transaction-id window rule: a block with header time T (whole seconds) may include a
 * transaction made at t (trade: its agreement time AT; transfer: its time) only when
 * T - window <= t and floor(t) <= T.  1 when it may, 0 when not (NaN never may). */
int chain_tx_time_ok(double t, double T, double window);

/* A block as bytes, for the stateless check. */
struct chain_block_view {
    const unsigned char *header;        /* 80 bytes */
    size_t n_tx;
    const unsigned char *const *tx;     /* n_tx encodings */
    const size_t *tx_len;               /* their lengths */
    double tx_window;                   /* s: chain_tx_time_ok's window; <= 0 not checked */
};

/* Stateless validity of b as a child of `prev` at difficulty `expected_bits`: version, bits ==
 * expected_bits, hash meets the target, prev links, every transaction decodes, its signatures
 * verify and its time is in the window of the header time (when b->tx_window > 0), no txid
 * twice, Merkle root matches.  0, or ERR_VERIFY whose message names
 * the first rule broken ("merkle root mismatch", "tx 3: buyer 0 signature invalid"...); ERR_NOMEM
 * for scratch space.  `rule` (may be NULL) gets a short fixed name of the broken rule:
 * "version", "bits", "pow", "prev", "tx_format", "signature", "tx_window", "duplicate_tx",
 * "merkle". */
int chain_block_check(const struct chain_block_view *b, const unsigned char prev[MINE_HASH_LEN],
                      uint32_t expected_bits, const char **rule, struct err *e);

#endif
