/*
 * chain/chain_internal — what the files of sim/chain share: struct chain, its records, and the
 * functions one file of the chain calls in another.  Shared inside sim/chain only (the middle
 * visibility level, like sim/mine/backend.h); other modules use chain/chain.h.
 *
 * The files, one concern each:
 *   chain.c         life cycle, nodes and the block race (the only file that schedules races)
 *   chain_ledger.c  wallets, the two ledgers, the txid index and the mempool
 *   chain_submit.c  transactions in: wire form, admission, batched signature checks
 *   chain_main.c    the main chain, reorgs and block propagation
 *   chain_attack.c  attacks: tampered copies, selfish mining, double-spend transfers
 *   chain_output.c  the /blocks and /transactions tables, finality write-out, the summary
 *
 * Data layout and its invariants:
 *  - Blocks have global indices in the order found (genesis 0, parent before child); block i
 *    is at blocks[i - blk_arr], and blocks below blk_base are dropped (blk_arr <= blk_base <=
 *    n_blocks; the dead prefix is compacted away like txs[]).  chain_blocks_forget moves blk_base
 *    up to blk_anchor, the main-chain block at final_h - keep (keep = retarget_blocks +
 *    confirmations + 1), never past a block something still names (a node's tip, best, sm_pub,
 *    the race's parent, a ledger, the write cursor wcur, a pending delivery or the ancestors a
 *    pending delivery's check reads).  So every dropped block is written, is main
 *    and below that height or on a dead branch, and every walk down a live branch stops above
 *    blk_base; chain_branch_live treats an index below blk_base as dead, which is exact (the
 *    first main-chain block down from it is below the final height).  The block tree's memory
 *    is then bounded by finality_depth and the retarget window, not by the run's length.
 *    A block's `known`/`connected`
 *    bitmasks say which nodes have it and have its whole ancestry.  Every stored block is valid on
 *    its branch (miners only assemble valid templates; altered copies are checked and dropped,
 *    never stored).  A block's `txs` array is freed once the block is written and no ledger can
 *    pass it again (main and settled, or stale: finality below); n_tx stays.
 *  - Finality is a checkpoint.  final_h = main tip height - finality_depth (0 at least): the
 *    main-chain block at final_h can never leave the main chain.  A branch is live when it holds
 *    that block (walking down from its tip, the first main-chain block is at final_h or above);
 *    honest nodes never adopt, extend or switch the main chain to a block of a dead branch, a
 *    node whose tip is on one moves to the main tip (fetching it from its peers), and the selfish
 *    node abandons a private branch that died (security row "selfish_mining", "abandoned").  So
 *    no ledger ever undoes a written block: main_undo's error is an invariant check.
 *  - txs[] holds one record per transaction that entered the network and is not yet forgotten:
 *    record i (a global, admission-ordered index) is at txs[i - tx_arr], and records below
 *    tx_base are forgotten (tx_arr <= tx_base <= n_txs; the dead prefix is compacted away once it
 *    is a quarter of the live part and 1,024 records at least).  status PENDING means in no main-chain block (it is then in the
 *    mempool list `pend`, kept in admission order), MAIN means in a main-chain block, FINAL in a
 *    written main-chain block, REJECTED refused for good (double spend, or expired: older than
 *    the window).  `refs` counts blocks whose txs array still names it.  A record's encoding is
 *    freed once it is FINAL and refs is 0; its id, payments and flags stay while it may still
 *    matter.
 *  - The transaction-id window (chain.tx_window = W): a block with header time T may include a
 *    transaction made (trade: AT, transfer: its time) at t only when T - W <= t and floor(t) <=
 *    T.  Admission refuses t < floor(now) - W ("expired"), templates drop such pending ones for
 *    good, so a record that is FINAL or REJECTED, held by no block array and older than
 *    floor(now) - W can never be named again: a replay of its bytes is refused by the window
 *    rule, not by the index.  chain_forget drops such records from the front of txs[] (and
 *    chain_index_add their index entries when the table next fills and is rebuilt), so the
 *    records alive are about W + finality worth, and the memory for them stops growing.
 *    Forgetting goes in admission order, so a record that must stay (pending, or in a block not
 *    yet written) holds back those after it: for at most W plus the time to finality.
 *  - Two ledgers are cursors over the block tree: `work` (moved to whatever branch is being
 *    validated or extended) and `settled` (kept at the main-chain block `confirmations` deep).
 *    A ledger at block B holds base balances plus every transaction of B's branch; bit `bit` of
 *    a tx record's `applied` is set exactly when that ledger's branch contains it.  Both stay on
 *    live branches (the work ledger is moved to the main tip when its branch dies).
 *  - Validity of a block is a pure function of its bytes and its branch, so it is decided once,
 *    when the block is assembled, and every node takes that verdict; signatures are pure
 *    functions of a transaction's bytes and are checked once, at admission.  Altered copies are
 *    re-checked for real by each receiving node (chain_block_check).
 */
#ifndef SETM_CHAIN_INTERNAL_H
#define SETM_CHAIN_INTERNAL_H

#include "chain/chain.h"

#include <stddef.h>
#include <stdint.h>

#include "core/grow.h"
#include "core/pool.h"
#include "core/rng.h"

#define NO_BLOCK (-1)

enum tx_status { TX_PENDING, TX_MAIN, TX_FINAL, TX_REJECTED };
enum { TXF_FINAL = 1, TXF_CONFIRMED = 2 }; /* trade_final / trade_confirmed already called */
enum { LEDGER_WORK = 1, LEDGER_SETTLED = 2 }; /* bits of txrec.applied */

struct pay {
    int64_t agent;
    int64_t coins;
};

struct txrec {
    unsigned char id[CHAIN_TXID_LEN];
    uint64_t ref;
    double t_tx;        /* the transaction's own time: trade AT, transfer time (window rule) */
    unsigned char *enc; /* canonical encoding; NULL once final and written */
    double *arrive;     /* per node: when it reaches that node's mempool; NULL once final */
    struct pay *payv;   /* payments when n_pay > 1 */
    struct pay pay1;    /* the payment when n_pay == 1 */
    int64_t payee;
    uint32_t len;
    uint32_t n_pay;
    uint32_t refs; /* blocks not yet written that include it */
    uint8_t kind, status, applied, flags;
};

struct blk {
    unsigned char hdr[MINE_HEADER_LEN];
    unsigned char hash[MINE_HASH_LEN];
    int64_t height, parent, first_child, next_sibling;
    double work; /* chainwork: expected attempts summed from genesis */
    double t_found, t_pub, prop, wall;
    double t_settled; /* when the settled ledger last reached it (meaningful while settled) */
    uint64_t attempts, race_attempts;
    uint64_t known, connected; /* node bitmasks */
    uint32_t *txs;
    uint32_t n_tx, size, bits, nonce_start;
    int32_t miner;
    uint8_t published, main, written, settled;
};

struct flight { /* a pending genuine delivery (tampered copies change no tip: not listed) */
    int64_t blk;
    int node;
    double t;
};

struct ledger {
    int64_t *bal;
    int64_t at; /* block the balances are at */
    uint8_t bit;
};

struct race {
    int active;
    eng_handle ev;
    uint64_t serial;
    int winner;
    int64_t parent;
    double t0, rate, work_w; /* network rate R (blocks/s); expected attempts of the winner's block */
    uint32_t nb[CHAIN_MAX_NODES]; /* each node's next bits when the segment started */
    uint32_t *tmpl;  /* template transactions */
    uint32_t n_tmpl;
    uint32_t size;
    unsigned char hdr[MINE_HEADER_LEN];
    uint32_t start;
    struct mine_result res;
    double wall;          /* wall seconds searched since the last block was found */
    uint64_t attempts;    /* nonces tried since the last block was found, this segment's excluded */
};

/* chain_submit_trades: every signature of a batch of trades, checked on the pool before the
 * trades are admitted one by one in order.  A signature's validity depends on its bytes alone,
 * so checking it early changes no outcome; admission reads ok[] instead of verifying again. */
struct batch_sig {
    const unsigned char *sig, *pk; /* borrowed from the caller's trades for the call */
    uint32_t trade;                /* index in the batch: its signing bytes */
};

struct batch {
    struct batch_sig *sig;
    uint8_t *ok;          /* per sig: 1 verifies */
    size_t *first;        /* per trade: its first entry in sig[]; SIZE_MAX = bytes not built */
    size_t *off, *len;    /* per trade: its signing bytes in msg */
    unsigned char *msg;
    size_t cap_sig, cap_trade, cap_msg;
};

struct chain {
    const struct cfg *cfg;
    struct eng *eng;
    struct chain_hooks hooks;
    struct mine *mine;
    int own_mine;
    gsl_rng *rng_race, *rng_net, *rng_attack;

    int n_nodes;
    double share[CHAIN_MAX_NODES];
    int64_t tip[CHAIN_MAX_NODES];
    double hash_rate;
    int selfish;        /* node index, -1 none */
    int64_t sm_pub;     /* best published block the selfish node has */
    int sm_race;        /* selfish node is in a tie race (Eyal-Sirer state 0') */

    int64_t n_agents;
    unsigned char (*pk)[CHAIN_PK_LEN];
    uint8_t *pk_set;
    int64_t *base; /* off-chain balances: initial coins and deposits */

    struct blk *blocks; /* block i at blocks[i - blk_arr] */
    int64_t n_blocks;
    size_t cap_blocks;
    int64_t blk_arr;    /* index of blocks[0] */
    int64_t blk_base;   /* blocks below it are dropped (so also how many: indices start at 0) */
    int64_t blk_anchor; /* main-chain block at final_h - keep when last dropped (kept) */
    int keep_blocks;    /* test hook SETM_TEST_KEEP_BLOCKS=1: drop none */
    double t_genesis;   /* genesis t_found: the summary's mean interval */
    int64_t best;
    int64_t wcur; /* blocks below this index are written out */

    struct txrec *txs;  /* record i at txs[i - tx_arr] */
    uint32_t n_txs, cap_txs;
    uint32_t tx_arr;    /* record index of txs[0] */
    uint32_t tx_base;   /* records below it are forgotten */
    uint32_t *tx_index; /* open addressing on the txid, entries idx+1 for records idx_lo ..
                           n_txs - 1 (the forgotten ones among them ignored by chain_index_find;
                           dropped when the table is next rebuilt) */
    size_t index_cap;
    uint32_t idx_lo;    /* first record the index holds: tx_base when it was last rebuilt */
    int64_t final_h;    /* the final (checkpoint) height: main tip height - finality_depth */

    uint32_t *pend;
    size_t n_pend, cap_pend;

    struct flight *fl;
    size_t n_fl, cap_fl;
    int64_t *tfl;       /* blocks with a tampered copy still on its way (one entry per copy) */
    size_t n_tfl, cap_tfl;

    struct ledger work, settled;
    int64_t *path;
    size_t cap_path;

    struct race race;
    unsigned char (*ids)[CHAIN_TXID_LEN]; /* Merkle scratch: 2 * max_block_txs */
    unsigned char *encbuf;
    struct chain_tx_party *parties;
    uint64_t transfer_serial;

    struct h5_table *t_blocks, *t_txs;
    struct pool *workers; /* borrowed (chain_pool_set): admission's signature checks; NULL = here */
    struct batch batch;   /* chain_submit_trades' scratch */
    struct chain_summary sum;
    struct err *e; /* where handlers put errors: eng_err(eng) */
};

static inline struct txrec *chain_txrec(const struct chain *c, uint32_t i)
{
    return &c->txs[i - c->tx_arr];
}

static inline struct blk *chain_blk(const struct chain *c, int64_t i)
{
    return &c->blocks[i - c->blk_arr];
}

static inline const struct pay *chain_tx_pays(const struct txrec *r)
{
    return r->n_pay == 1 ? &r->pay1 : r->payv;
}

/* chain.c: helpers, the race, nodes */
void chain_security(struct chain *c, int64_t who, const char *kind, const char *action, int det);
double chain_delay_from(const struct chain *c, gsl_rng *r, uint32_t bytes);
double chain_delay(struct chain *c, uint32_t bytes);
int64_t chain_ancestor(const struct chain *c, int64_t b, int64_t height);
int chain_branch_live(const struct chain *c, int64_t b);
uint32_t chain_next_bits(const struct chain *c, int64_t p);
int chain_tip_changed(struct chain *c, int node);
int chain_blocks_forget(struct chain *c);

/* chain_ledger.c */
void chain_address_of(const struct chain *c, int64_t agent, uint64_t ref,
                      unsigned char addr[CHAIN_ADDR_LEN]);
void chain_block_final_hooks(struct chain *c, const struct blk *b);
int chain_ledger_goto(struct chain *c, struct ledger *L, int64_t to);
int64_t chain_index_find(const struct chain *c, const unsigned char id[CHAIN_TXID_LEN]);
int chain_index_add(struct chain *c, uint32_t i);
int chain_pend_insert(struct chain *c, uint32_t i);
int chain_build_template(struct chain *c, int w, int64_t p, double t0);
int chain_forget(struct chain *c);

/* chain_submit.c */
int chain_tx_add(struct chain *c, const struct chain_tx *tx, size_t len,
                 const unsigned char id[CHAIN_TXID_LEN], int64_t payee, const struct pay *pays,
                 uint32_t n_pay, struct err *e);

/* chain_main.c */
int chain_reorg_path(struct chain *c, int64_t from, int64_t to,
                     int (*undo)(struct chain *c, struct blk *x, void *ctx), void *ctx, size_t *n);
int chain_publish(struct chain *c, int64_t i);
void chain_flight_remove(struct chain *c, int64_t blk, int node);
void chain_tamper_remove(struct chain *c, int64_t blk);

/* chain_attack.c */
int chain_selfish_abandon(struct chain *c, int *moved);
int chain_tamper_check(struct chain *c, int64_t i, int sender, uint64_t pos, uint32_t mask);
int chain_selfish_found(struct chain *c);
int chain_selfish_on_public(struct chain *c);
int chain_attack_transfer(struct chain *c, int64_t b, struct err *e);

/* chain_output.c */
int chain_finalize_upto(struct chain *c, int64_t height);
void chain_block_release(struct chain *c, struct blk *b);

#endif
