/*
 * chain — the energy blockchain of a run: consortium nodes mining with hash-rate shares, a real
 * nonce search for every block, propagation with delay, forks resolved by most work, wallets of
 * energy coins, settlement after confirmations, chain-level attacks, and the /blocks and
 * /transactions tables.  DESIGN.md data flow steps 5-7.
 *
 * Model in one paragraph.  Nodes 0..N-1 each mine on their own tip; each node's next find is an
 * independent exponential clock at its rate (share * hash_rate / expected attempts at its next
 * difficulty), and the race is memoryless.  It is simulated in segments: at a segment start the
 * winner is drawn afresh in proportion to the rates, its block template is built, and its header
 * is REALLY searched by the mining backend from a start nonce drawn from the chain's stream, over
 * as many nonces as the whole network would try until the segment ends (the next block delivery
 * to ANY node, or chain.template_refresh_s: both fixed before the draw); any node's tip change
 * restarts the race.  So finders are independent draws in proportion to hash share whatever the
 * delays.  The first valid nonce's offset + 1 is the attempts count, geometrically distributed
 * because SHA-256d is; the block is found at segment start + attempts / (network rate * expected
 * attempts), so intervals follow PoW statistics, every backend yields the same chain, and the
 * total hashing done equals what the simulated network would do (tips change only at segment
 * ends, so no search is thrown away).  The genesis block commits to the run's identity
 * (chain_identity_root).  A found block reaches every other node after a sampled
 * delay; a node mining on an older tip meanwhile forks; each node follows the most-work chain it
 * has (first seen wins ties).  The main chain is the most-work published chain (earliest
 * published wins ties).
 *
 * Events: CHAIN_EV_RACE and CHAIN_EV_DELIVER (numbered in core/events.h).
 *
 * Ownership: chain_new borrows cfg and eng for the chain's lifetime and copies hooks; the chain
 * owns its nodes, blocks, mempool, wallets and (from chain_new) its mining backend.  Tables are
 * owned by the h5 file that chain_tables_open was given.  Strings returned live until chain_free.
 */
#ifndef SETM_CHAIN_CHAIN_H
#define SETM_CHAIN_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "chain/block.h"
#include "chain/tx.h"
#include "core/config.h"
#include "core/engine.h"
#include "core/err.h"
#include "core/events.h"
#include "io/h5.h"
#include "mine/mine.h"

#define CHAIN_MAX_NODES 64

/*
 * Callbacks into the run.  Every member may be NULL.  `ctx` is passed back unchanged.  They are
 * called from inside chain functions and chain events: a hook may read (chain_summary_get,
 * chain_wallet_balance with CHAIN_BALANCE_SETTLED) but must not submit, fund or register.
 *
 * security: one row per security outcome.  `who` is an agent id for transaction-level kinds and
 *   a node index for block-level ones.  (kind, action) pairs:
 *     agent: ("double_spend", "tx_rejected")        a spend above the payer's balance
 *            ("bad_signature", "tx_rejected")       a signature that does not verify
 *            ("key_mismatch", "tx_rejected")        a key other than the wallet's registered one
 *            ("duplicate_tx", "tx_rejected")        a transaction id already submitted
 *            ("expired", "tx_rejected")             made more than chain.tx_window before the
 *                                                   block that could include it (a replay of
 *                                                   an old transaction, or one that waited too
 *                                                   long in the mempool)
 *     node:  ("tampered_block", "rejected:RULE")    a relay's altered copy, RULE from
 *                                                   chain_block_check; one row per receiver
 *            ("tampered_block", "accepted")         the alteration went unnoticed (detected 0)
 *            ("selfish_mining", "withheld" | "published" | "override" | "abandoned")
 *                                                   ("abandoned" also when its private branch
 *                                                   forks below the final height)
 *            ("deep_reorg", "confirmed_block_reverted")  a block past `confirmations` left the
 *                                                   main chain
 *   detected: 1 when the network caught it, 0 when it did not.
 * trade_included: a trade's block joined the main chain (again after each reorg that orphaned
 *   and re-included it); t = that block's found time, height = its height.  Live view: a later
 *   reorg may change it.
 * trade_confirmed: the trade's block reached chain.confirmations blocks on the main chain and
 *   the coins moved (first time only); t = when it did.  Live view, as trade_included.
 * trade_final: the trade's inclusion can no longer change, once per trade: its main-chain
 *   block is chain.finality_depth deep and settled, or the run ends (chain_finish).  t_included
 *   and height are that block's (as trade_included), t_confirmed is when the main chain last
 *   reached chain.confirmations blocks on it (NaN when it has fewer at the end).  What a record
 *   of the run should store: it is the final main chain's.
 * trade_rejected: the trade will never be included (reason: "double_spend", "bad_signature",
 *   "key_mismatch", "duplicate_tx", "expired": outside chain.tx_window, see chain_internal.h).
 * sign: lets the chain's attack model have an agent sign (Ed25519, with the key registered for
 *   its wallet): write the 64-byte signature of msg; return 0, or non-zero when it cannot.
 *   Required when attacks.double_spend_rate > 0.
 */
struct chain_hooks {
    void *ctx;
    void (*security)(void *ctx, double t, int64_t who, const char *kind, const char *action,
                     int detected);
    void (*trade_included)(void *ctx, uint64_t trade_ref, double t, int64_t height);
    void (*trade_confirmed)(void *ctx, uint64_t trade_ref, double t, int64_t height);
    void (*trade_rejected)(void *ctx, uint64_t trade_ref, double t, const char *reason);
    int (*sign)(void *ctx, int64_t agent, const unsigned char *msg, size_t len,
                unsigned char sig[CHAIN_SIG_LEN]);
    void (*trade_final)(void *ctx, uint64_t trade_ref, double t_included, int64_t height,
                        double t_confirmed);
    const volatile sig_atomic_t *stop; /* raised: nonce searches end with ERR_INTERRUPTED */
};

/* A buyer's part of a trade. */
struct chain_buyer {
    int64_t agent;                  /* 0 .. agents-1, not the seller, not repeated */
    double kwh;                     /* energy bought, > 0 */
    unsigned char pk[CHAIN_PK_LEN]; /* its Ed25519 public key */
    unsigned char sig[CHAIN_SIG_LEN]; /* its signature over chain_trade_signing_bytes */
};

/* A trade agreed by the market. */
struct chain_trade {
    uint64_t trade_ref;     /* the market's id, opaque to the chain, passed back in hooks; also
                               in the signed bytes, so two identical trades differ */
    int64_t seller;         /* agent id */
    unsigned char seller_pk[CHAIN_PK_LEN];
    unsigned char seller_sig[CHAIN_SIG_LEN];
    double price;           /* EUR/MWh, >= 0 */
    double request_time;    /* eRT, simulated s */
    double agreement_time;  /* AT, simulated s, >= eRT */
    size_t n_buyers;        /* 1..CHAIN_TX_MAX_BUYERS */
    const struct chain_buyer *buyers; /* borrowed for the call */
};

/* Numbers for /summary. */
struct chain_summary {
    int64_t blocks_found;        /* every block mined, genesis excluded, stale included */
    int64_t height;              /* main-chain tip height */
    int64_t stale_blocks;        /* found blocks not on the main chain */
    double stale_rate;           /* stale_blocks / blocks_found (0 when none) */
    double mean_interval_s;      /* mean time between main-chain blocks (NaN when < 2 blocks) */
    int64_t txs_submitted;       /* trades and transfers that entered the network */
    int64_t txs_main;            /* transactions in main-chain blocks */
    int64_t trades_confirmed;    /* trades reported final (trade_final) with chain.confirmations
                                    blocks on them: after chain_finish, the trades of the final
                                    main chain past chain.confirmations */
    int64_t txs_rejected;        /* every rejection, any reason */
    int64_t txs_expired;         /* ... of which "expired": made longer than chain.tx_window
                                    before the block that could include it (at admission, or
                                    dropped from the mempool) */
    int64_t double_spends_detected; /* overspends rejected */
    int64_t double_spend_attacks;   /* conflicting transfers the attack model sent */
    int64_t tampered_copies;     /* tampered block copies delivered */
    int64_t tampered_rejected;   /* ... of which rejected by the receiving node */
    int64_t reorgs;              /* main-chain tip changes that dropped blocks */
    int64_t max_reorg_depth;     /* most blocks dropped by one reorg */
    int64_t confirmed_reverted;  /* blocks past `confirmations` dropped by a reorg */
    int64_t selfish_blocks_main; /* main-chain blocks mined by attacks.selfish_node */
    double selfish_share_main;   /* ... as a share of main-chain blocks (NaN without attacker) */
    uint64_t nonces_searched;    /* every nonce the backend was asked to try */
    double search_wall_s;        /* wall-clock seconds inside the nonce search */
    unsigned char tip[MINE_HASH_LEN]; /* main-chain tip hash, internal order */
};

struct chain;

/* Build the chain of a run: nodes (chain.nodes with chain.hash_shares), wallets for every agent of
 * cfg (cfg_agent_total; chain.initial_coins each), the genesis block (mined at t = now), the
 * mining backend from cfg->mine, and handlers for CHAIN_EV_RACE/DELIVER on eng; schedules the
 * first race segment.  Returns NULL with e filled: ERR_CONFIG (bad chain/attack keys, e.g. a
 * share list that does not parse, or double spends without hooks->sign), ERR_DEVICE / ERR_USAGE
 * from the mining backend, ERR_RUNTIME (libsodium), ERR_NOMEM. */
struct chain *chain_new(const struct cfg *cfg, struct eng *eng, const struct chain_hooks *hooks,
                        struct err *e);

/* Same, searching with `m` (borrowed; must outlive the chain) instead of building a backend. */
struct chain *chain_new_with_mine(const struct cfg *cfg, struct eng *eng,
                                  const struct chain_hooks *hooks, struct mine *m, struct err *e);

/* Release everything chain_new acquired (its events stay queued in eng: free eng too, or stop
 * running it).  NULL is a no-op. */
void chain_free(struct chain *c);

/* For the HDF5 root attributes: backend ("cpu-sha-ni", "opencl"...) and device description. */
const char *chain_backend_name(const struct chain *c);
const char *chain_device_name(const struct chain *c);

/* Why the backend is not the one auto would have preferred, or why it changed mid-run (a failed
 * OpenCL device hands over to the CPU): "" when nothing happened.  For the run's one warning. */
const char *chain_mine_note(const struct chain *c);

/* Bind agent's wallet to its registry public key.  Trades signed with another key are rejected
 * (key_mismatch).  An agent never registered is bound to the key of its first valid trade.
 * 0, or ERR_USAGE for an unknown agent. */
int chain_wallet_register(struct chain *c, int64_t agent, const unsigned char pk[CHAIN_PK_LEN],
                          struct err *e);

/* Add coins (1 coin = 1e-6 EUR) to agent's wallet as an off-chain deposit present on every
 * branch.  0, or ERR_USAGE for an unknown agent, a negative amount or an overflow. */
int chain_wallet_fund(struct chain *c, int64_t agent, int64_t coins, struct err *e);

enum chain_balance_kind {
    CHAIN_BALANCE_TIP,    /* after every main-chain block */
    CHAIN_BALANCE_SETTLED /* after the main-chain blocks with chain.confirmations */
};
/* Balance in coins of an agent's wallet (all its pseudonym addresses); -1 for an unknown agent. */
int64_t chain_wallet_balance(struct chain *c, int64_t agent, enum chain_balance_kind kind);

/* The pseudonym address agent uses in trade `trade_ref` (the mapping is the chain's secret).
 * 0 or ERR_USAGE for an unknown agent. */
int chain_wallet_address(const struct chain *c, int64_t agent, uint64_t trade_ref,
                         unsigned char addr[CHAIN_ADDR_LEN], struct err *e);

/* The same address from the run's configuration alone (scenario.seed, chain.pseudonyms): what
 * an outside verifier holding the resolved scenario uses to tie addresses to agents.  agent is
 * not range-checked. */
void chain_address_derive(const struct cfg *cfg, int64_t agent, uint64_t ref,
                          unsigned char addr[CHAIN_ADDR_LEN]);

/* The bytes every party of t signs (signatures in t are ignored): the trade's canonical
 * encoding up to its signatures, with each party named by its pseudonym address for this trade.
 * Writes *len bytes to out[cap].  0, or ERR_USAGE (unknown agent, seller among the buyers, a
 * buyer twice, cap too small), ERR_FORMAT (a value out of range, naming it). */
int chain_trade_signing_bytes(const struct chain *c, const struct chain_trade *t,
                              unsigned char *out, size_t cap, size_t *len, struct err *e);

/* The market hands a signed trade to the network at the engine's current time; it reaches each
 * node's mempool after a sampled delay.  0 when it entered the network; ERR_VERIFY when the
 * network refused it at admission (bad signature, key mismatch, duplicate: a security outcome
 * already reported through the hooks, not a failure of the run); ERR_USAGE / ERR_FORMAT as for
 * chain_trade_signing_bytes; ERR_NOMEM. */
int chain_submit_trade(struct chain *c, const struct chain_trade *t, struct err *e);

/* Several trades handed to the network at once, in order: the same outcome as calling
 * chain_submit_trade on each in turn (a refused trade is reported through the hooks and the
 * others go on), with every signature of the batch checked first on the pool set by
 * chain_pool_set (in parallel; each signature is checked once, however many nodes it reaches).
 * 0; the first ERR_USAGE / ERR_FORMAT / ERR_NOMEM (trades before it were submitted). */
int chain_submit_trades(struct chain *c, const struct chain_trade *t, size_t n, struct err *e);

/* The worker pool chain_submit_trades checks signatures on (borrowed; must outlive the chain or
 * be unset with NULL).  Without one it checks them in the caller's thread. */
struct pool;
void chain_pool_set(struct chain *c, struct pool *p);

/* Create /blocks and /transactions in f; rows are appended as blocks become final
 * (chain.finality_depth deep) and by chain_finish.  0, or the h5 error. */
int chain_tables_open(struct chain *c, struct h5_file *f, struct err *e);

/* End of run: report every main-chain trade not yet final (trade_final), write every block not
 * yet written (stale = not on the main chain now) and its transactions.  Call once, before
 * committing the file.  0, or the h5 error. */
int chain_finish(struct chain *c, struct err *e);

/* Summary numbers as of now. */
void chain_summary_get(struct chain *c, struct chain_summary *s);

/* What the chain holds in memory now, as counts (bounded in simulated days by the finality
 * checkpoint and the transaction-id window; chain_internal.h). */
struct chain_mem_stats {
    int64_t tx_records;      /* transaction records alive: admitted and not forgotten */
    int64_t tx_forgotten;    /* records forgotten so far */
    int64_t tx_slots;        /* record slots allocated (alive, forgotten not yet compacted, spare) */
    int64_t tx_index_slots;  /* slots of the txid index */
    int64_t blocks;          /* blocks stored (genesis counted while stored) */
    int64_t blocks_dropped;  /* blocks dropped by the block window: final, read by nothing */
    int64_t block_slots;     /* block slots allocated */
    int64_t block_tx_lists;  /* blocks whose transaction list is still held */
    int64_t final_height;    /* the checkpoint: main tip height - chain.finality_depth, 0 at least */
};
void chain_mem_stats_get(const struct chain *c, struct chain_mem_stats *s);

/* Write the summary under /summary (chain_* names).  0 or ERR_IO. */
int chain_summary_write(struct chain *c, struct h5_file *f, struct err *e);

#endif
