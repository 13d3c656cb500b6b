/*
 * chain/verify — the independent re-check of a finished run's output file (`setm verify`).
 *
 * Everything is re-derived from what the file stores, trusting nothing the run computed: every
 * 80-byte header is re-hashed and must equal its stored hash and meet its own target; the bits
 * must be the ones the difficulty rule gives (chain.difficulty_bits at genesis, Bitcoin's clamped
 * retarget every chain.retarget_blocks); every block links to a stored parent one height below;
 * the blocks with stale = 0 form one chain from genesis whose tip holds the most work; every
 * transaction's id is re-derived from its stored encoding, every Merkle root from the ids, every
 * Ed25519 signature inside the encodings is verified (chain_block_check, the rule the nodes
 * apply); every trade transaction must say what the /trades rows of its group say (seller and
 * buyers by their pseudonym addresses, kWh, price, request and agreement times); and the coins are
 * re-played along the main chain from chain.initial_coins per wallet, as the chain settles them,
 * with no wallet ever below zero and no transaction twice.  The configuration comes from the
 * file's `scenario` root attribute (the fully resolved INI text).
 *
 * Every stored column that the chain determines is bound to it: the genesis block's Merkle root
 * must be chain_identity_root of the stored scenario, seed and version; /blocks columns repeating
 * a header field or following from the transactions must agree with them; the `chain_tip`
 * attribute must name the most-work published tip (first published wins ties); each /trades
 * row's height and t_included must be its transaction's main-chain block's, t_confirmed finite
 * exactly when that block has chain.confirmations main-chain blocks on it (and equal to the
 * publication of a block that deep on its branch), tx_case 0 for a seller's first match of a slot
 * and 1 after; and the /summary scalars the tables determine must match them.  A file rewritten
 * whole and consistently (a new chain mined from a genesis committing to the stored scenario)
 * cannot be told from a real run by the file alone.
 *
 * The file is untrusted input: HDF5's error printing is off, every length, index, string and
 * number read from it is bounds-checked, and no column may claim more bytes than the file could
 * hold.
 *
 * Ownership: every pointer argument is borrowed; nothing is kept after the call.
 */
#ifndef SETM_CHAIN_VERIFY_H
#define SETM_CHAIN_VERIFY_H

#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

enum {
    /* Only /blocks and /transactions: no `complete` attribute, no /trades cross-check, no
     * balance replay (files the chain component wrote on its own, as in its tests). */
    CHAIN_VERIFY_CHAIN_ONLY = 1
};

struct chain_verify_opts {
    const struct cfg *cfg; /* the run's configuration; NULL: parse the file's `scenario`
                              attribute (in CHAIN_VERIFY_CHAIN_ONLY mode, NULL skips the
                              difficulty-rule checks that need it) */
    unsigned flags;        /* CHAIN_VERIFY_* */
    int threads;           /* threads checking blocks, the caller's included; 0 = one per core.
                              The result and the first failure named do not depend on it. */
};

/* What was checked, and where the first failure is. */
struct chain_verify_report {
    int64_t blocks;      /* /blocks rows checked */
    int64_t stale;       /* ... of which stale */
    int64_t height;      /* main-chain tip height (-1 before it is known) */
    char tip[65];        /* main-chain tip hash, display order ("" before it is known) */
    int64_t txs;         /* transactions checked, counted once per block holding them */
    int64_t txs_main;    /* ... in main-chain blocks */
    int64_t signatures;  /* Ed25519 signatures verified */
    int64_t trades;      /* /trades rows checked against their transactions */
    int64_t wallets;     /* wallets whose balances were re-played */
    /* First failure (ERR_VERIFY): the block (height, hash) and, for a transaction, its id. */
    int64_t fail_height; /* -1 when no block is named */
    char fail_block[65]; /* "" when no block is named */
    char fail_txid[65];  /* "" when no transaction is named */
};

/* Re-check the output file at `path` (opts may be NULL: full check, configuration from the
 * file).  0 when everything holds.  ERR_VERIFY when a check fails: e->msg names the first failing
 * block ("block 12 (00ab..)") or transaction ("transaction 3f.. in block 12 (00ab..)") and what
 * failed, and the report says where.  Bad input, with e->msg saying what: ERR_NOTFOUND (no such
 * file, a missing table or column), ERR_FORMAT (not HDF5, truncated or damaged, a partial run
 * with complete != 1, columns of unequal length, a scenario attribute that does not parse, a
 * column of the wrong type).  ERR_NOMEM.  `rep` (may be NULL) is filled in every case. */
int chain_verify_file(const char *path, const struct chain_verify_opts *opts,
                      struct chain_verify_report *rep, struct err *e);

#endif
