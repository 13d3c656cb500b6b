/*
 * chain — nodes, the block race, propagation, forks, wallets, settlement, attacks, output.
 *
 * Data layout and its invariants:
 *  - blocks[] holds every block ever found (genesis at 0), parent before child, never removed.
 *    A block's `known`/`connected` bitmasks say which nodes have it and have its whole ancestry.
 *    Every stored block is valid on its branch (miners only assemble valid templates; altered
 *    copies are checked and dropped, never stored).
 *  - txs[] holds one record per transaction that entered the network.  status PENDING means in
 *    no main-chain block (it is then in the mempool list `pend`, kept in admission order), MAIN
 *    means in a main-chain block, FINAL in a main-chain block finality_depth deep.  A record's
 *    encoding is freed once it is FINAL and no unwritten block refers to it; its id, payments
 *    and flags stay (uniqueness and ledger undo need them).
 *  - Two ledgers are cursors over the block tree: `work` (moved to whatever branch is being
 *    validated or extended) and `settled` (kept at the main-chain block `confirmations` deep).
 *    A ledger at block B holds base balances plus every transaction of B's branch; bit `bit` of
 *    a tx record's `applied` is set exactly when that ledger's branch contains it.
 *  - Validity of a block is a pure function of its bytes and its branch, so it is decided once,
 *    when the block is assembled, and every node takes that verdict; signatures are pure
 *    functions of a transaction's bytes and are checked once, at admission.  Altered copies are
 *    re-checked for real by each receiving node (chain_block_check).
 */
#include "core/wallclock.h"
#include "chain/chain.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pool.h"
#include "crypto/sha256.h"
#include "core/rng.h"

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))
#define ENC_HEX_PART 1024 /* hex digits of a transaction's encoding per /transactions row */
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
    double t_submit;
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

struct block_row {
    int64_t height;
    char hash[65], prev[65], merkle[65];
    char header[2 * MINE_HEADER_LEN + 1];
    uint32_t version, time, bits, nonce, nonce_start;
    uint64_t attempts, race_attempts;
    double difficulty, chainwork;
    int32_t miner;
    double t_found, t_published, propagation_s;
    int32_t tx_count, size_bytes;
    uint8_t stale, withheld;
    double search_wall_s;
};

static const struct h5_col block_cols[] = {
    {"height", H5_COL_I64, offsetof(struct block_row, height), 0, "", "blocks above genesis"},
    {"hash", H5_COL_STR, offsetof(struct block_row, hash), 65, "",
     "SHA-256d of the header, hex in display order (reversed, as explorers print it)"},
    {"previous", H5_COL_STR, offsetof(struct block_row, prev), 65, "",
     "hash of the parent block, display order"},
    {"merkle_root", H5_COL_STR, offsetof(struct block_row, merkle), 65, "",
     "Merkle root of the txids, display order (all zeros for an empty block; genesis: the run "
     "identity, see chain_identity_root)"},
    {"header", H5_COL_STR, offsetof(struct block_row, header), 2 * MINE_HEADER_LEN + 1, "",
     "the raw 80-byte header as 160 hex digits in serialized order: SHA-256d of it is the hash"},
    {"version", H5_COL_U32, offsetof(struct block_row, version), 0, "", "header version"},
    {"time", H5_COL_U32, offsetof(struct block_row, time), 0, "s",
     "header time: simulated seconds when the template was built"},
    {"bits", H5_COL_U32, offsetof(struct block_row, bits), 0, "", "compact target"},
    {"nonce", H5_COL_U32, offsetof(struct block_row, nonce), 0, "", "the nonce found"},
    {"nonce_start", H5_COL_U32, offsetof(struct block_row, nonce_start), 0, "",
     "first nonce of the winning search segment (drawn from the chain's stream)"},
    {"attempts", H5_COL_U64, offsetof(struct block_row, attempts), 0, "hashes",
     "nonces of the winning segment up to and including the nonce: (nonce - nonce_start) mod 2^32 "
     "+ 1"},
    {"race_attempts", H5_COL_U64, offsetof(struct block_row, race_attempts), 0, "hashes",
     "nonces searched by the network since the previous block was found, this block's included"},
    {"difficulty", H5_COL_F64, offsetof(struct block_row, difficulty), 0, "bits",
     "log2 of the expected attempts per block at bits"},
    {"chainwork", H5_COL_F64, offsetof(struct block_row, chainwork), 0, "hashes",
     "expected attempts summed from genesis to this block"},
    {"miner", H5_COL_I32, offsetof(struct block_row, miner), 0, "", "node that found it (-1: genesis)"},
    {"t_found", H5_COL_F64, offsetof(struct block_row, t_found), 0, "s", "simulated time found"},
    {"t_published", H5_COL_F64, offsetof(struct block_row, t_published), 0, "s",
     "simulated time sent to the other nodes (later than t_found when withheld; NaN: never)"},
    {"propagation_s", H5_COL_F64, offsetof(struct block_row, propagation_s), 0, "s",
     "from publication until the last node received it"},
    {"tx_count", H5_COL_I32, offsetof(struct block_row, tx_count), 0, "", "transactions"},
    {"size_bytes", H5_COL_I32, offsetof(struct block_row, size_bytes), 0, "bytes",
     "header plus transaction encodings"},
    {"stale", H5_COL_U8, offsetof(struct block_row, stale), 0, "",
     "1 when not on the main chain (orphaned by a fork, or withheld and never needed)"},
    {"withheld", H5_COL_U8, offsetof(struct block_row, withheld), 0, "",
     "1 when mined by the selfish node"},
    {"search_wall_s", H5_COL_F64, offsetof(struct block_row, search_wall_s), 0, "s",
     "wall-clock seconds the mining backend spent on this block's race"},
};

struct tx_row {
    char block[65];
    int64_t height;
    int32_t index;
    uint8_t stale;
    char txid[65];
    uint8_t kind;
    uint64_t ref;
    int32_t part, parts;
    char enc[ENC_HEX_PART + 1];
};

static const struct h5_col tx_cols[] = {
    {"block", H5_COL_STR, offsetof(struct tx_row, block), 65, "", "hash of the including block"},
    {"height", H5_COL_I64, offsetof(struct tx_row, height), 0, "", "its height"},
    {"index", H5_COL_I32, offsetof(struct tx_row, index), 0, "",
     "position in the block: the Merkle leaf order"},
    {"stale", H5_COL_U8, offsetof(struct tx_row, stale), 0, "", "1 when the block is stale"},
    {"txid", H5_COL_STR, offsetof(struct tx_row, txid), 65, "",
     "SHA-256d of the whole encoding, display order (reversed)"},
    {"kind", H5_COL_U8, offsetof(struct tx_row, kind), 0, "", "1 trade, 2 transfer"},
    {"ref", H5_COL_U64, offsetof(struct tx_row, ref), 0, "",
     "trade: the market's trade reference; transfer: the payer's serial"},
    {"part", H5_COL_I32, offsetof(struct tx_row, part), 0, "",
     "which piece of the encoding this row holds, from 0"},
    {"parts", H5_COL_I32, offsetof(struct tx_row, parts), 0, "",
     "rows holding this transaction's encoding"},
    {"encoding", H5_COL_STR, offsetof(struct tx_row, enc), ENC_HEX_PART + 1, "",
     "canonical encoding as hex, up to 1024 digits per row; concatenate the parts"},
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

    struct blk *blocks;
    int64_t n_blocks, cap_blocks;
    int64_t best;
    int64_t wcur; /* blocks below this index are written out */

    struct txrec *txs;
    uint32_t n_txs, cap_txs;
    uint32_t *tx_index; /* open addressing on the txid, entries idx+1 */
    size_t index_cap;

    uint32_t *pend;
    size_t n_pend, cap_pend;

    struct flight *fl;
    size_t n_fl, cap_fl;

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

/* ---- small helpers ---------------------------------------------------------------------- */

static const struct pay *tx_pays(const struct txrec *r) { return r->n_pay == 1 ? &r->pay1 : r->payv; }

static void security(struct chain *c, int64_t who, const char *kind, const char *action, int det)
{
    if (c->hooks.security)
        c->hooks.security(c->hooks.ctx, eng_now(c->eng), who, kind, action, det);
}

static void hash_hex(const unsigned char h[MINE_HASH_LEN], char out[65]) { mine_hash_to_hex(h, out); }

/* Node-to-node delay of `bytes`, drawn from stream r (attack traffic draws from the attack
 * stream, so switching an attack on leaves honest delays, and the honest chain, unchanged). */
static double delay_from(const struct chain *c, gsl_rng *r, uint32_t bytes)
{
    const double bps = c->cfg->chain.bandwidth_mbps * 1e6;
    double d = c->cfg->chain.propagation_min_s + 8.0 * bytes / bps;
    if (c->cfg->chain.propagation_jitter_s > 0)
        d += rng_exponential(r, c->cfg->chain.propagation_jitter_s);
    return d;
}

static double delay(struct chain *c, uint32_t bytes) { return delay_from(c, c->rng_net, bytes); }

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    void *q;
    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * elem);
    if (!q)
        return ERR_NOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int64_t ancestor(const struct chain *c, int64_t b, int64_t height)
{
    while (b != NO_BLOCK && c->blocks[b].height > height)
        b = c->blocks[b].parent;
    return b;
}

/* Bits a child of block p must carry: p's, or Bitcoin's clamped retarget every R blocks. */
static uint32_t next_bits(const struct chain *c, int64_t p)
{
    const struct blk *b = &c->blocks[p];
    const int64_t R = c->cfg->chain.retarget_blocks;
    int64_t first, intervals;
    uint32_t bits;
    if (R <= 0 || (b->height + 1) % R != 0)
        return b->bits;
    first = ancestor(c, p, b->height - R > 0 ? b->height - R : 0);
    intervals = b->height - c->blocks[first].height;
    if (intervals <= 0)
        return b->bits;
    if (chain_retarget(b->bits,
                       (int64_t)mine_header_u32(b->hdr, MINE_HDR_TIME) -
                           (int64_t)mine_header_u32(c->blocks[first].hdr, MINE_HDR_TIME),
                       (int64_t)llround(intervals * c->cfg->chain.block_interval_s), &bits, NULL))
        return b->bits;
    return bits;
}

/* ---- wallets ---------------------------------------------------------------------------- */

void chain_address_derive(const struct cfg *cfg, int64_t agent, uint64_t ref,
                          unsigned char addr[CHAIN_ADDR_LEN])
{
    const uint64_t seed = (uint64_t)cfg->scenario.seed;
    unsigned char buf[20], h[CRYPTO_SHA256_LEN];
    uint64_t secret = rng_stream_key(seed, "chain.wallet", (uint64_t)agent);
    uint32_t k = (uint32_t)(rng_stream_key(seed, "chain.pseudonym",
                                           ref * 0x9e3779b97f4a7c15ULL ^ (uint64_t)agent) %
                            (uint64_t)cfg->chain.pseudonyms);
    for (int i = 0; i < 8; i++) {
        buf[i] = (unsigned char)(secret >> (8 * i));
        buf[8 + i] = (unsigned char)((uint64_t)agent >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        buf[16 + i] = (unsigned char)(k >> (8 * i));
    crypto_sha256d(buf, sizeof buf, h);
    memcpy(addr, h, CHAIN_ADDR_LEN);
}

static void address_of(const struct chain *c, int64_t agent, uint64_t ref,
                       unsigned char addr[CHAIN_ADDR_LEN])
{
    chain_address_derive(c->cfg, agent, ref, addr);
}

int chain_wallet_address(const struct chain *c, int64_t agent, uint64_t trade_ref,
                         unsigned char addr[CHAIN_ADDR_LEN], struct err *e)
{
    if (agent < 0 || agent >= c->n_agents)
        return err_set(e, ERR_USAGE, "agent %lld: no such wallet (%lld agents)", (long long)agent,
                       (long long)c->n_agents);
    address_of(c, agent, trade_ref, addr);
    return 0;
}

int chain_wallet_register(struct chain *c, int64_t agent, const unsigned char pk[CHAIN_PK_LEN],
                          struct err *e)
{
    if (agent < 0 || agent >= c->n_agents)
        return err_set(e, ERR_USAGE, "agent %lld: no such wallet (%lld agents)", (long long)agent,
                       (long long)c->n_agents);
    memcpy(c->pk[agent], pk, CHAIN_PK_LEN);
    c->pk_set[agent] = 1;
    return 0;
}

int chain_wallet_fund(struct chain *c, int64_t agent, int64_t coins, struct err *e)
{
    const int64_t lim = INT64_C(1) << 62;
    if (agent < 0 || agent >= c->n_agents)
        return err_set(e, ERR_USAGE, "agent %lld: no such wallet (%lld agents)", (long long)agent,
                       (long long)c->n_agents);
    if (coins < 0 || coins > lim || c->base[agent] > lim - coins)
        return err_set(e, ERR_USAGE, "agent %lld: deposit of %lld coins is negative or overflows",
                       (long long)agent, (long long)coins);
    c->base[agent] += coins;
    c->work.bal[agent] += coins;
    c->settled.bal[agent] += coins;
    return 0;
}

/* ---- ledgers ---------------------------------------------------------------------------- */

/* Apply tx i to L if every payer can pay; 1 applied, 0 refused (L unchanged). */
static int tx_apply_checked(struct chain *c, struct ledger *L, uint32_t i)
{
    struct txrec *r = &c->txs[i];
    const struct pay *p = tx_pays(r);
    uint32_t k;
    for (k = 0; k < r->n_pay; k++) {
        if (L->bal[p[k].agent] < p[k].coins)
            break;
        L->bal[p[k].agent] -= p[k].coins;
        L->bal[r->payee] += p[k].coins;
    }
    if (k < r->n_pay) {
        while (k-- > 0) {
            L->bal[p[k].agent] += p[k].coins;
            L->bal[r->payee] -= p[k].coins;
        }
        return 0;
    }
    r->applied |= L->bit;
    return 1;
}

static void tx_unapply(struct chain *c, struct ledger *L, uint32_t i)
{
    struct txrec *r = &c->txs[i];
    const struct pay *p = tx_pays(r);
    for (uint32_t k = r->n_pay; k-- > 0;) {
        L->bal[p[k].agent] += p[k].coins;
        L->bal[r->payee] -= p[k].coins;
    }
    r->applied &= (uint8_t)~L->bit;
}

static void block_settle_hooks(struct chain *c, const struct blk *b)
{
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = &c->txs[b->txs[k]];
        if (r->kind == CHAIN_TX_TRADE && !(r->flags & TXF_CONFIRMED)) {
            r->flags |= TXF_CONFIRMED;
            if (c->hooks.trade_confirmed)
                c->hooks.trade_confirmed(c->hooks.ctx, r->ref, eng_now(c->eng), b->height);
        }
    }
}

/* Main-chain block b's inclusions can no longer change (it is final and settled, or the run
 * ends): report each trade once through trade_final, with the times of this block (a trade
 * orphaned earlier and re-included reports only its last, main-chain inclusion). */
static void block_final_hooks(struct chain *c, const struct blk *b)
{
    const double t_conf = b->settled ? b->t_settled : NAN;
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = &c->txs[b->txs[k]];
        if (r->kind != CHAIN_TX_TRADE || (r->flags & TXF_FINAL))
            continue;
        r->flags |= TXF_FINAL;
        if (b->settled)
            c->sum.trades_confirmed++;
        if (c->hooks.trade_final)
            c->hooks.trade_final(c->hooks.ctx, r->ref, b->t_found, b->height, t_conf);
    }
}

/* Move L to block `to` along the tree: undo back to the common ancestor, apply forward.  Every
 * stored block is valid on its branch, so applying cannot fail. */
static int ledger_goto(struct chain *c, struct ledger *L, int64_t to)
{
    int64_t a = L->at, b = to;
    size_t n = 0;
    while (a != b) {
        if (c->blocks[a].height >= c->blocks[b].height) {
            struct blk *x = &c->blocks[a];
            for (uint32_t k = x->n_tx; k-- > 0;)
                tx_unapply(c, L, x->txs[k]);
            if (L->bit == LEDGER_SETTLED && x->settled) {
                x->settled = 0;
                c->sum.confirmed_reverted++;
                security(c, x->miner, "deep_reorg", "confirmed_block_reverted", 1);
            }
            a = x->parent;
        } else {
            if (grow((void **)&c->path, &c->cap_path, n + 1, sizeof *c->path))
                return err_set(c->e, ERR_NOMEM, "chain: out of memory for a reorg path");
            c->path[n++] = b;
            b = c->blocks[b].parent;
        }
    }
    while (n-- > 0) {
        struct blk *x = &c->blocks[c->path[n]];
        for (uint32_t k = 0; k < x->n_tx; k++) {
            int ok = tx_apply_checked(c, L, x->txs[k]);
            (void)ok;
        }
        if (L->bit == LEDGER_SETTLED) {
            x->settled = 1;
            x->t_settled = eng_now(c->eng);
            block_settle_hooks(c, x);
            if (x->written) /* final before settled (finality_depth < confirmations) */
                block_final_hooks(c, x);
        }
    }
    L->at = to;
    return 0;
}

/* ---- txid index ------------------------------------------------------------------------- */

static uint64_t id_key(const unsigned char id[CHAIN_TXID_LEN])
{
    uint64_t k;
    memcpy(&k, id, sizeof k);
    return k;
}

static int64_t index_find(const struct chain *c, const unsigned char id[CHAIN_TXID_LEN])
{
    size_t m = c->index_cap - 1, h = (size_t)id_key(id) & m;
    while (c->tx_index[h]) {
        uint32_t i = c->tx_index[h] - 1;
        if (!memcmp(c->txs[i].id, id, CHAIN_TXID_LEN))
            return i;
        h = (h + 1) & m;
    }
    return -1;
}

static void index_put(uint32_t *tab, size_t cap, const unsigned char id[CHAIN_TXID_LEN], uint32_t i)
{
    size_t m = cap - 1, h = (size_t)id_key(id) & m;
    while (tab[h])
        h = (h + 1) & m;
    tab[h] = i + 1;
}

static int index_add(struct chain *c, uint32_t i)
{
    if (2 * ((size_t)c->n_txs + 1) > c->index_cap) {
        size_t cap = c->index_cap * 2;
        uint32_t *t = calloc(cap, sizeof *t);
        if (!t)
            return ERR_NOMEM;
        for (uint32_t j = 0; j < i; j++)
            index_put(t, cap, c->txs[j].id, j);
        free(c->tx_index);
        c->tx_index = t;
        c->index_cap = cap;
    }
    index_put(c->tx_index, c->index_cap, c->txs[i].id, i);
    return 0;
}

/* ---- mempool ---------------------------------------------------------------------------- */

/* Put tx i back in the admission-ordered mempool (a stale block's transactions return). */
static int pend_insert(struct chain *c, uint32_t i)
{
    size_t lo = 0, hi = c->n_pend;
    if (grow((void **)&c->pend, &c->cap_pend, c->n_pend + 1, sizeof *c->pend))
        return ERR_NOMEM;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->pend[mid] < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_pend && c->pend[lo] == i)
        return 0;
    memmove(c->pend + lo + 1, c->pend + lo, (c->n_pend - lo) * sizeof *c->pend);
    c->pend[lo] = i;
    c->n_pend++;
    return 0;
}

static void reject(struct chain *c, uint32_t i, int64_t who, const char *reason)
{
    struct txrec *r = &c->txs[i];
    r->status = TX_REJECTED;
    c->sum.txs_rejected++;
    if (!strcmp(reason, "double_spend"))
        c->sum.double_spends_detected++;
    security(c, who, reason, "tx_rejected", 1);
    if (r->kind == CHAIN_TX_TRADE && c->hooks.trade_rejected)
        c->hooks.trade_rejected(c->hooks.ctx, r->ref, eng_now(c->eng), reason);
}

/* Fill the race template for node w on block p at time t0: mempool transactions w has heard of,
 * in admission order, that its branch does not hold and that its branch's balances allow.  A
 * transaction refused on the main chain's tip is rejected for good; one refused on a side branch
 * only waits. */
static int build_template(struct chain *c, int w, int64_t p, double t0)
{
    struct race *R = &c->race;
    const uint32_t max = (uint32_t)c->cfg->chain.max_block_txs;
    size_t keep = 0;
    int rc = ledger_goto(c, &c->work, p);
    if (rc)
        return rc;
    R->n_tmpl = 0;
    R->size = MINE_HEADER_LEN;
    for (size_t k = 0; k < c->n_pend; k++) {
        uint32_t i = c->pend[k];
        struct txrec *r = &c->txs[i];
        if (r->status != TX_PENDING)
            continue; /* dropped from the list here */
        c->pend[keep++] = i;
        if (R->n_tmpl == max || (r->applied & LEDGER_WORK) || r->arrive[w] > t0)
            continue;
        if (!tx_apply_checked(c, &c->work, i)) {
            if (p == c->best) {
                keep--;
                reject(c, i, tx_pays(r)[0].agent, "double_spend");
            }
            continue;
        }
        R->tmpl[R->n_tmpl++] = i;
        R->size += r->len;
    }
    c->n_pend = keep;
    for (uint32_t k = R->n_tmpl; k-- > 0;)
        tx_unapply(c, &c->work, R->tmpl[k]);
    return 0;
}

/* ---- the race --------------------------------------------------------------------------- */

static int64_t mining_base(const struct chain *c, int node) { return c->tip[node]; }

/* Start a race segment at t0: draw the winner by rate, build its template, search its header
 * over the nonces the network would try until the segment ends, schedule the outcome.
 *
 * Why this is fair.  Each node's next find is an exponential clock at its own rate (hash share x
 * network rate / expected attempts at its next bits).  Exponential clocks are memoryless: at any
 * moment chosen without looking at the clocks, every node's remaining time is again Exp(rate),
 * independent of the past, so the next find comes after Exp(total) and is node i's with
 * probability rate_i / total.  A segment therefore re-draws the winner from scratch, and its end
 * must not depend on the draw: it ends at the next pending delivery to ANY node (the only thing
 * that can change a node's mining base, and so a rate or a template) or at
 * chain.template_refresh_s, both known before the draw.  Every change of any node's tip restarts
 * the race (tip_changed), and since tips only change at deliveries and finds, no search is cut
 * short.  (The old rule ended a segment only at deliveries to the drawn winner and restarted only
 * when the winner's tip moved, so whether a restart happened depended on the hidden winner: the
 * finder of a block, mining on it at once while the others waited for it, won too often.) */
static int race_start(struct chain *c, double t0)
{
    struct race *R = &c->race;
    double rate[CHAIN_MAX_NODES], total = 0, u, t_end, x, dt;
    uint64_t count;
    struct chain_header h;
    union eng_payload pl;
    int w = 0, rc;

    if (R->active) {
        eng_cancel(c->eng, R->ev);
        R->active = 0;
    }
    for (int i = 0; i < c->n_nodes; i++) {
        R->nb[i] = next_bits(c, mining_base(c, i));
        rate[i] = c->share[i] * c->hash_rate / chain_bits_work(R->nb[i]);
        total += rate[i];
    }
    u = rng_uniform(c->rng_race) * total;
    for (w = 0; w < c->n_nodes - 1 && (u >= rate[w] || rate[w] == 0); w++)
        u -= rate[w];
    while (rate[w] == 0 && w > 0) /* rounding put u past the last non-zero rate */
        w--;
    R->winner = w;
    R->parent = mining_base(c, w);
    R->t0 = t0;
    R->rate = total;
    R->work_w = chain_bits_work(R->nb[w]);
    t_end = t0 + c->cfg->chain.template_refresh_s;
    for (size_t k = 0; k < c->n_fl; k++)
        if (c->fl[k].t < t_end)
            t_end = c->fl[k].t > t0 ? c->fl[k].t : t0;
    if ((rc = build_template(c, w, R->parent, t0)))
        return rc;
    /* Header: time is the template's, in whole simulated seconds. */
    memset(&h, 0, sizeof h);
    h.version = CHAIN_BLOCK_VERSION;
    memcpy(h.prev, c->blocks[R->parent].hash, MINE_HASH_LEN);
    for (uint32_t k = 0; k < R->n_tmpl; k++)
        memcpy(c->ids[k], c->txs[R->tmpl[k]].id, CHAIN_TXID_LEN);
    chain_merkle_root((const unsigned char(*)[CHAIN_TXID_LEN])c->ids, R->n_tmpl, c->ids + R->n_tmpl,
                      h.merkle);
    h.time = (uint32_t)floor(t0);
    h.bits = R->nb[w];
    chain_header_pack(&h, R->hdr);

    /* The winner stands in for the whole network: it tries as many nonces as the network would
     * in the segment (stochastically rounded, so no time is lost to rounding). */
    x = (t_end - t0) * total * R->work_w;
    if (x > 4294967296.0)
        x = 4294967296.0;
    count = (uint64_t)floor(x + rng_uniform(c->rng_race));
    if (count > (UINT64_C(1) << 32))
        count = UINT64_C(1) << 32;
    R->start = (uint32_t)(rng_u64(c->rng_race) >> 32);
    memset(&R->res, 0, sizeof R->res);
    if (count > 0) {
        unsigned char target[MINE_TARGET_LEN];
        double w0 = wallclock_now();
        if ((rc = mine_target_from_bits(h.bits, target, c->e)))
            return rc;
        rc = mine_search(c->mine, R->hdr, target, R->start, count, &R->res, c->e);
        R->wall += wallclock_now() - w0;
        c->sum.nonces_searched += count;
        if (rc && rc != ERR_NOSOLUTION)
            return err_wrap(c->e, rc, "chain: nonce search at t = %.3f s", t0);
        err_clear(c->e);
    }
    memset(&pl, 0, sizeof pl);
    pl.u64[0] = ++R->serial;
    if (R->res.found) {
        dt = (double)R->res.attempts / (total * R->work_w);
        pl.u64[1] = 1;
        dt += t0;
    } else {
        R->attempts += count;
        /* end exactly at t_end (t0 + (t_end - t0) may round below a delivery due then) */
        dt = count < (UINT64_C(1) << 32) ? t_end : t0 + (double)count / (total * R->work_w);
    }
    rc = eng_schedule(c->eng, dt, CHAIN_EV_RACE, (uint32_t)w, &pl, &R->ev);
    if (rc)
        return err_set(c->e, rc, "chain: cannot schedule the race at t = %.3f s", dt);
    R->active = 1;
    return 0;
}

/* ---- output ----------------------------------------------------------------------------- */

static int write_block(struct chain *c, int64_t i, struct err *e)
{
    struct blk *b = &c->blocks[i];
    struct block_row row;
    struct chain_header h;
    int rc;

    memset(&row, 0, sizeof row);
    chain_header_unpack(b->hdr, &h);
    row.height = b->height;
    hash_hex(b->hash, row.hash);
    hash_hex(h.prev, row.prev);
    hash_hex(h.merkle, row.merkle);
    chain_hex(b->hdr, MINE_HEADER_LEN, row.header);
    row.version = h.version;
    row.time = h.time;
    row.bits = h.bits;
    row.nonce = h.nonce;
    row.nonce_start = b->nonce_start;
    row.attempts = b->attempts;
    row.race_attempts = b->race_attempts;
    row.difficulty = log2(chain_bits_work(h.bits));
    row.chainwork = b->work;
    row.miner = b->miner;
    row.t_found = b->t_found;
    row.t_published = b->published ? b->t_pub : NAN;
    row.propagation_s = b->published ? b->prop : NAN;
    row.tx_count = (int32_t)b->n_tx;
    row.size_bytes = (int32_t)b->size;
    row.stale = !b->main;
    row.withheld = b->miner >= 0 && b->miner == c->selfish;
    row.search_wall_s = b->wall;
    if ((rc = h5_table_append(c->t_blocks, &row, e)))
        return rc;
    for (uint32_t k = 0; k < b->n_tx; k++) {
        const struct txrec *r = &c->txs[b->txs[k]];
        struct tx_row tr;
        unsigned char id[CHAIN_TXID_LEN];
        size_t digits = 2 * (size_t)r->len;
        int32_t parts = (int32_t)((digits + ENC_HEX_PART - 1) / ENC_HEX_PART);
        memset(&tr, 0, sizeof tr);
        memcpy(tr.block, row.hash, sizeof tr.block);
        tr.height = b->height;
        tr.index = (int32_t)k;
        tr.stale = row.stale;
        memcpy(id, r->id, sizeof id);
        hash_hex(id, tr.txid);
        tr.kind = r->kind;
        tr.ref = r->ref;
        tr.parts = parts;
        for (int32_t p = 0; p < parts; p++) {
            size_t from = (size_t)p * ENC_HEX_PART / 2, n = r->len - from;
            if (n > ENC_HEX_PART / 2)
                n = ENC_HEX_PART / 2;
            tr.part = p;
            memset(tr.enc, 0, sizeof tr.enc); /* no digits of the previous part after the NUL */
            chain_hex(r->enc + from, n, tr.enc);
            if ((rc = h5_table_append(c->t_txs, &tr, e)))
                return rc;
        }
    }
    return 0;
}

/* Block i is final (or the run ends): write it, then free what no block still needs. */
static int finalize_block(struct chain *c, int64_t i)
{
    struct blk *b = &c->blocks[i];
    int rc = 0;
    if (c->t_blocks && (rc = write_block(c, i, c->e)))
        return rc;
    b->written = 1;
    if (b->main && b->settled)
        block_final_hooks(c, b);
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = &c->txs[b->txs[k]];
        r->refs--;
        if (b->main && r->status == TX_MAIN) {
            r->status = TX_FINAL;
            free(r->arrive);
            r->arrive = NULL;
        }
        if (r->status == TX_FINAL && r->refs == 0) {
            free(r->enc);
            r->enc = NULL;
        }
    }
    return 0;
}

static int finalize_upto(struct chain *c, int64_t height)
{
    while (c->wcur < c->n_blocks && c->blocks[c->wcur].height <= height) {
        int rc = finalize_block(c, c->wcur);
        if (rc)
            return rc;
        c->wcur++;
    }
    return 0;
}

/* ---- main chain ------------------------------------------------------------------------- */

/* Make nb the main-chain tip: drop the old branch's blocks (their transactions go back to the
 * mempool), add the new branch's (trade_included), move the settled ledger (trade_confirmed),
 * and write out what became final. */
static int set_main(struct chain *c, int64_t nb)
{
    int64_t a = c->best, b = nb, depth = 0, hs;
    size_t n = 0;
    int rc;
    while (a != b) {
        if (c->blocks[a].height >= c->blocks[b].height) {
            struct blk *x = &c->blocks[a];
            if (x->written)
                return err_set(c->e, ERR_RUNTIME,
                               "chain: a reorg reaches block %lld, deeper than chain.finality_depth "
                               "= %lld",
                               (long long)x->height, (long long)c->cfg->chain.finality_depth);
            x->main = 0;
            c->sum.txs_main -= x->n_tx;
            if (x->miner >= 0 && x->miner == c->selfish)
                c->sum.selfish_blocks_main--;
            for (uint32_t k = 0; k < x->n_tx; k++) {
                struct txrec *r = &c->txs[x->txs[k]];
                if (r->status == TX_MAIN) {
                    r->status = TX_PENDING;
                    if (pend_insert(c, x->txs[k]))
                        return err_set(c->e, ERR_NOMEM, "chain: out of memory for the mempool");
                }
            }
            depth++;
            a = x->parent;
        } else {
            if (grow((void **)&c->path, &c->cap_path, n + 1, sizeof *c->path))
                return err_set(c->e, ERR_NOMEM, "chain: out of memory for a reorg path");
            c->path[n++] = b;
            b = c->blocks[b].parent;
        }
    }
    while (n-- > 0) {
        struct blk *x = &c->blocks[c->path[n]];
        x->main = 1;
        c->sum.txs_main += x->n_tx;
        if (x->miner >= 0 && x->miner == c->selfish)
            c->sum.selfish_blocks_main++;
        for (uint32_t k = 0; k < x->n_tx; k++) {
            struct txrec *r = &c->txs[x->txs[k]];
            r->status = TX_MAIN;
            if (r->kind == CHAIN_TX_TRADE && c->hooks.trade_included)
                c->hooks.trade_included(c->hooks.ctx, r->ref, x->t_found, x->height);
        }
    }
    if (depth > 0) {
        c->sum.reorgs++;
        if (depth > c->sum.max_reorg_depth)
            c->sum.max_reorg_depth = depth;
    }
    c->best = nb;
    hs = c->blocks[nb].height - c->cfg->chain.confirmations + 1;
    if ((rc = ledger_goto(c, &c->settled, hs > 0 ? ancestor(c, nb, hs) : 0)))
        return rc;
    return finalize_upto(c, c->blocks[nb].height - c->cfg->chain.finality_depth);
}

/* ---- propagation ------------------------------------------------------------------------ */

static int flight_add(struct chain *c, int64_t blk, int node, double t)
{
    if (grow((void **)&c->fl, &c->cap_fl, c->n_fl + 1, sizeof *c->fl))
        return ERR_NOMEM;
    c->fl[c->n_fl++] = (struct flight){blk, node, t};
    return 0;
}

static void flight_remove(struct chain *c, int64_t blk, int node)
{
    for (size_t k = 0; k < c->n_fl; k++)
        if (c->fl[k].blk == blk && c->fl[k].node == node) {
            c->fl[k] = c->fl[--c->n_fl];
            return;
        }
}

static int schedule_delivery(struct chain *c, double t, int node, int64_t blk, int sender,
                             int tampered, uint64_t pos, uint32_t mask)
{
    union eng_payload pl;
    memset(&pl, 0, sizeof pl);
    pl.i64[0] = blk;
    pl.u32[2] = (uint32_t)sender;
    pl.u32[3] = (uint32_t)tampered;
    pl.u64[2] = pos;
    pl.u32[6] = mask;
    if (eng_schedule(c->eng, t, CHAIN_EV_DELIVER, (uint32_t)node, &pl, NULL))
        return err_set(c->e, ERR_RUNTIME, "chain: cannot schedule a delivery at t = %.3f s", t);
    if (!tampered && flight_add(c, blk, node, t))
        return err_set(c->e, ERR_NOMEM, "chain: out of memory for deliveries");
    return 0;
}

/* Send block i from its miner to every other node; perhaps a relay alters it on the way. */
static int publish(struct chain *c, int64_t i)
{
    const double now = eng_now(c->eng);
    struct blk *b = &c->blocks[i];
    const int miner = b->miner;
    const uint32_t size = b->size;
    double latest = 0;
    int rc;

    b->published = 1;
    b->t_pub = now;
    for (int j = 0; j < c->n_nodes; j++) {
        double d;
        if (j == miner)
            continue;
        d = delay(c, size);
        if (d > latest)
            latest = d;
        if ((rc = schedule_delivery(c, now + d, j, i, miner, 0, 0, 0)))
            return rc;
    }
    c->blocks[i].prop = latest;
    if (c->cfg->attacks.tampered_block_rate > 0 && c->n_nodes >= 3 &&
        rng_uniform(c->rng_attack) < c->cfg->attacks.tampered_block_rate) {
        /* A relay node receives the block and forwards an altered copy to everybody else. */
        int r = (int)rng_below(c->rng_attack, (uint64_t)c->n_nodes - 1);
        uint64_t pos = rng_below(c->rng_attack, size);
        uint32_t mask = 1u << rng_below(c->rng_attack, 8);
        double t_r = now + delay_from(c, c->rng_attack, size);
        if (r >= miner)
            r++;
        for (int j = 0; j < c->n_nodes; j++) {
            if (j == miner || j == r)
                continue;
            c->sum.tampered_copies++;
            if ((rc = schedule_delivery(c, t_r + delay_from(c, c->rng_attack, size), j, i, r, 1,
                                        pos, mask)))
                return rc;
        }
    }
    if (c->blocks[i].work > c->blocks[c->best].work)
        return set_main(c, i);
    return 0;
}

/* Each receiving node checks an altered copy for real. */
static int tamper_check(struct chain *c, int64_t i, int sender, uint64_t pos, uint32_t mask)
{
    const struct blk *b = &c->blocks[i];
    unsigned char hdr[MINE_HEADER_LEN], *flipped = NULL;
    const unsigned char **tx = NULL;
    size_t *len = NULL;
    struct chain_block_view v;
    const char *rule = NULL;
    char action[48];
    struct err le = {0};
    int rc = 0;

    memcpy(hdr, b->hdr, sizeof hdr);
    tx = malloc((b->n_tx + 1) * sizeof *tx);
    len = malloc((b->n_tx + 1) * sizeof *len);
    if (!tx || !len) {
        rc = err_set(c->e, ERR_NOMEM, "chain: out of memory checking a block copy");
        goto out;
    }
    if (pos < MINE_HEADER_LEN)
        hdr[pos] ^= (unsigned char)mask;
    pos = pos < MINE_HEADER_LEN ? UINT64_MAX : pos - MINE_HEADER_LEN;
    for (uint32_t k = 0; k < b->n_tx; k++) {
        const struct txrec *r = &c->txs[b->txs[k]];
        if (!r->enc)
            goto out; /* already final: too late to matter */
        tx[k] = r->enc;
        len[k] = r->len;
        if (pos < r->len) {
            if (!(flipped = malloc(r->len))) {
                rc = err_set(c->e, ERR_NOMEM, "chain: out of memory checking a block copy");
                goto out;
            }
            memcpy(flipped, r->enc, r->len);
            flipped[pos] ^= (unsigned char)mask;
            tx[k] = flipped;
            pos = UINT64_MAX;
        } else if (pos != UINT64_MAX) {
            pos -= r->len;
        }
    }
    v.header = hdr;
    v.n_tx = b->n_tx;
    v.tx = tx;
    v.tx_len = len;
    rc = chain_block_check(&v, c->blocks[b->parent].hash, next_bits(c, b->parent), &rule, &le);
    if (rc == ERR_VERIFY) {
        c->sum.tampered_rejected++;
        snprintf(action, sizeof action, "rejected:%s", rule ? rule : "?");
        security(c, sender, "tampered_block", action, 1);
        rc = 0;
    } else if (rc == 0) {
        security(c, sender, "tampered_block", "accepted", 0);
    } else {
        err_set(c->e, rc, "chain: checking a block copy: %s", le.msg);
    }
out:
    free(flipped);
    free(tx);
    free(len);
    return rc;
}

/* ---- selfish mining (Eyal and Sirer, "Majority is not enough") -------------------------- */

static int tip_changed(struct chain *c, int node);

/* Publish the selfish node's withheld blocks up to height max_h, oldest first. */
static int publish_private(struct chain *c, int64_t max_h, int64_t *count)
{
    int64_t b = c->tip[c->selfish];
    size_t n = 0;
    int rc;
    *count = 0;
    while (b != NO_BLOCK && !c->blocks[b].published) {
        if (c->blocks[b].height <= max_h) {
            if (grow((void **)&c->path, &c->cap_path, n + 1, sizeof *c->path))
                return err_set(c->e, ERR_NOMEM, "chain: out of memory publishing");
            c->path[n++] = b;
        }
        b = c->blocks[b].parent;
    }
    *count = (int64_t)n;
    /* publish() may call set_main(), which reuses path: copy the list out first */
    {
        int64_t *list = malloc((n ? n : 1) * sizeof *list);
        if (!list)
            return err_set(c->e, ERR_NOMEM, "chain: out of memory publishing");
        memcpy(list, c->path, n * sizeof *list);
        rc = 0;
        while (n-- > 0 && !rc)
            rc = publish(c, list[n]);
        free(list);
    }
    return rc;
}

static int selfish_found(struct chain *c)
{
    const int a = c->selfish;
    int64_t n;
    if (c->sm_race) {
        c->sm_race = 0;
        security(c, a, "selfish_mining", "published", 0);
        return publish_private(c, INT64_MAX, &n);
    }
    security(c, a, "selfish_mining", "withheld", 0);
    return 0;
}

/* The selfish node has heard of a better public block (sm_pub): adopt, race, override. */
static int selfish_on_public(struct chain *c)
{
    const int a = c->selfish;
    const int64_t priv = c->tip[a], pub = c->sm_pub;
    int64_t lead, n = 0;
    int rc;
    if (c->blocks[priv].work < c->blocks[pub].work) {
        for (int64_t b = priv; b != NO_BLOCK && !c->blocks[b].published; b = c->blocks[b].parent)
            n++;
        if (n > 0)
            security(c, a, "selfish_mining", "abandoned", 0);
        c->tip[a] = pub;
        c->sm_race = 0;
        return tip_changed(c, a);
    }
    lead = c->blocks[priv].height - c->blocks[pub].height;
    if (lead == 0) {
        if ((rc = publish_private(c, INT64_MAX, &n)))
            return rc;
        if (n > 0) {
            c->sm_race = 1;
            security(c, a, "selfish_mining", "published", 0);
        }
    } else if (lead == 1) {
        if ((rc = publish_private(c, INT64_MAX, &n)))
            return rc;
        c->sm_race = 0;
        if (n > 0)
            security(c, a, "selfish_mining", "override", 0);
    } else {
        if ((rc = publish_private(c, c->blocks[pub].height, &n)))
            return rc;
        c->sm_race = 0;
        if (n > 0)
            security(c, a, "selfish_mining", "published", 0);
    }
    return 0;
}

/* ---- nodes ------------------------------------------------------------------------------ */

/* A node's tip moved: restart the race, whoever the node is (see race_start: restarting only
 * when the hidden winner is affected would bias the race). */
static int tip_changed(struct chain *c, int node)
{
    (void)node;
    if (!c->race.active)
        return 0;
    return race_start(c, eng_now(c->eng));
}

/* Node j now has block i and its whole ancestry; so may i's children it received earlier. */
static void connect_at(struct chain *c, int j, int64_t i, int *tip_moved, int *pub_moved)
{
    const uint64_t bit = UINT64_C(1) << j;
    struct blk *b = &c->blocks[i];
    b->connected |= bit;
    if (j == c->selfish) {
        if (b->published && b->miner != j && b->work > c->blocks[c->sm_pub].work) {
            c->sm_pub = i;
            *pub_moved = 1;
        }
    } else if (b->work > c->blocks[c->tip[j]].work) { /* first seen wins ties */
        c->tip[j] = i;
        *tip_moved = 1;
    }
    for (int64_t k = b->first_child; k != NO_BLOCK; k = c->blocks[k].next_sibling)
        if ((c->blocks[k].known & bit) && !(c->blocks[k].connected & bit))
            connect_at(c, j, k, tip_moved, pub_moved);
}

static int on_deliver(struct eng *eng, const struct eng_event *ev, void *ctx)
{
    struct chain *c = ctx;
    const int64_t i = ev->data.i64[0];
    const int j = (int)ev->target;
    const uint64_t bit = UINT64_C(1) << j;
    int tip_moved = 0, pub_moved = 0, rc = 0;
    (void)eng;
    if (ev->data.u32[3])
        return tamper_check(c, i, (int)ev->data.u32[2], ev->data.u64[2], ev->data.u32[6]);
    flight_remove(c, i, j);
    if (c->blocks[i].known & bit)
        return 0;
    c->blocks[i].known |= bit;
    if (c->blocks[c->blocks[i].parent].connected & bit)
        connect_at(c, j, i, &tip_moved, &pub_moved);
    if (pub_moved && (rc = selfish_on_public(c)))
        return rc;
    if (tip_moved)
        rc = tip_changed(c, j);
    return rc;
}

/* The race's winner found its block: store it, let the miner extend its tip, publish or
 * withhold it, and start the next race. */
static int block_found(struct chain *c, double t)
{
    struct race *R = &c->race;
    struct blk *b, *p;
    int64_t i = c->n_blocks;
    int rc;

    if (grow((void **)&c->blocks, (size_t *)&c->cap_blocks, (size_t)i + 1, sizeof *c->blocks))
        return err_set(c->e, ERR_NOMEM, "chain: out of memory for block %lld", (long long)i);
    b = &c->blocks[i];
    p = &c->blocks[R->parent];
    memset(b, 0, sizeof *b);
    memcpy(b->hdr, R->hdr, MINE_HEADER_LEN);
    mine_header_set_u32(b->hdr, MINE_HDR_NONCE, R->res.nonce);
    memcpy(b->hash, R->res.hash, MINE_HASH_LEN);
    b->height = p->height + 1;
    b->parent = R->parent;
    b->work = p->work + R->work_w;
    b->t_found = t;
    b->t_pub = NAN;
    b->prop = NAN;
    b->wall = R->wall;
    b->attempts = R->res.attempts;
    b->race_attempts = R->attempts + R->res.attempts;
    b->bits = R->nb[R->winner];
    b->nonce_start = R->start;
    b->miner = R->winner;
    b->size = R->size;
    b->n_tx = R->n_tmpl;
    b->known = b->connected = UINT64_C(1) << R->winner;
    b->first_child = NO_BLOCK;
    b->next_sibling = p->first_child;
    p->first_child = i;
    if (R->n_tmpl) {
        b->txs = malloc(R->n_tmpl * sizeof *b->txs);
        if (!b->txs)
            return err_set(c->e, ERR_NOMEM, "chain: out of memory for block %lld", (long long)i);
        memcpy(b->txs, R->tmpl, R->n_tmpl * sizeof *b->txs);
        for (uint32_t k = 0; k < R->n_tmpl; k++)
            c->txs[R->tmpl[k]].refs++;
    }
    c->n_blocks++;
    c->sum.blocks_found++;
    c->sum.search_wall_s += R->wall;
    R->attempts = 0;
    R->wall = 0;
    c->tip[R->winner] = i; /* it was mined on the miner's tip, so it has more work */
    if (R->winner == c->selfish)
        rc = selfish_found(c);
    else
        rc = publish(c, i);
    if (rc)
        return rc;
    return race_start(c, t);
}

static int on_race(struct eng *eng, const struct eng_event *ev, void *ctx)
{
    struct chain *c = ctx;
    (void)eng;
    if (ev->data.u64[0] != c->race.serial)
        return 0;
    c->race.active = 0;
    if (ev->data.u64[1])
        return block_found(c, ev->time);
    return race_start(c, ev->time);
}

/* ---- transactions in ---------------------------------------------------------------------- */

/* The wire form of t: parties named by their pseudonym addresses for this trade. */
static int trade_wire(const struct chain *c, const struct chain_trade *t, struct chain_tx *tx,
                      struct err *e)
{
    if (!t->buyers || t->n_buyers < 1 || t->n_buyers > CHAIN_TX_MAX_BUYERS)
        return err_set(e, ERR_USAGE, "trade %llu: %zu buyers (1..%d)",
                       (unsigned long long)t->trade_ref, t->n_buyers, CHAIN_TX_MAX_BUYERS);
    if (t->seller < 0 || t->seller >= c->n_agents)
        return err_set(e, ERR_USAGE, "trade %llu: seller %lld is not an agent (%lld agents)",
                       (unsigned long long)t->trade_ref, (long long)t->seller,
                       (long long)c->n_agents);
    for (size_t i = 0; i < t->n_buyers; i++) {
        int64_t a = t->buyers[i].agent;
        if (a < 0 || a >= c->n_agents)
            return err_set(e, ERR_USAGE, "trade %llu: buyer %lld is not an agent (%lld agents)",
                           (unsigned long long)t->trade_ref, (long long)a, (long long)c->n_agents);
        if (a == t->seller)
            return err_set(e, ERR_USAGE, "trade %llu: agent %lld is both seller and buyer",
                           (unsigned long long)t->trade_ref, (long long)a);
        for (size_t k = 0; k < i; k++)
            if (t->buyers[k].agent == a)
                return err_set(e, ERR_USAGE, "trade %llu: buyer %lld appears twice",
                               (unsigned long long)t->trade_ref, (long long)a);
    }
    memset(tx, 0, sizeof *tx);
    tx->kind = CHAIN_TX_TRADE;
    tx->ref = t->trade_ref;
    tx->price = t->price;
    tx->request_time = t->request_time;
    tx->agreement_time = t->agreement_time;
    address_of(c, t->seller, t->trade_ref, tx->from.addr);
    memcpy(tx->from.pk, t->seller_pk, CHAIN_PK_LEN);
    memcpy(tx->from.sig, t->seller_sig, CHAIN_SIG_LEN);
    tx->n_buyers = t->n_buyers;
    tx->buyers = c->parties;
    for (size_t i = 0; i < t->n_buyers; i++) {
        struct chain_tx_party *p = &c->parties[i];
        address_of(c, t->buyers[i].agent, t->trade_ref, p->addr);
        memcpy(p->pk, t->buyers[i].pk, CHAIN_PK_LEN);
        memcpy(p->sig, t->buyers[i].sig, CHAIN_SIG_LEN);
        p->kwh = t->buyers[i].kwh;
    }
    return 0;
}

int chain_trade_signing_bytes(const struct chain *c, const struct chain_trade *t,
                              unsigned char *out, size_t cap, size_t *len, struct err *e)
{
    struct chain_tx tx;
    int rc = trade_wire(c, t, &tx, e);
    return rc ? rc : chain_tx_signing_bytes(&tx, out, cap, len, e);
}

/* Record an admitted transaction (encoding in c->encbuf) and send it to every node. */
static int tx_add(struct chain *c, const struct chain_tx *tx, size_t len,
                  const unsigned char id[CHAIN_TXID_LEN], int64_t payee, const struct pay *pays,
                  uint32_t n_pay, struct err *e)
{
    const double now = eng_now(c->eng);
    struct txrec *r;
    uint32_t i = c->n_txs;
    size_t cap = c->cap_txs;
    if (c->n_txs == UINT32_MAX - 1)
        return err_set(e, ERR_RUNTIME, "chain: more than 2^32 transactions");
    if (grow((void **)&c->txs, &cap, (size_t)i + 1, sizeof *c->txs))
        return err_set(e, ERR_NOMEM, "chain: out of memory for transaction %u", i);
    c->cap_txs = (uint32_t)cap;
    if (grow((void **)&c->pend, &c->cap_pend, c->n_pend + 1, sizeof *c->pend))
        return err_set(e, ERR_NOMEM, "chain: out of memory for the mempool");
    r = &c->txs[i];
    memset(r, 0, sizeof *r);
    r->enc = malloc(len);
    r->arrive = malloc((size_t)c->n_nodes * sizeof *r->arrive);
    if (n_pay > 1)
        r->payv = malloc(n_pay * sizeof *r->payv);
    if (!r->enc || !r->arrive || (n_pay > 1 && !r->payv)) {
        free(r->enc);
        free(r->arrive);
        free(r->payv);
        return err_set(e, ERR_NOMEM, "chain: out of memory for transaction %u", i);
    }
    memcpy(r->id, id, CHAIN_TXID_LEN);
    memcpy(r->enc, c->encbuf, len);
    r->len = (uint32_t)len;
    r->ref = tx->ref;
    r->kind = tx->kind;
    r->t_submit = now;
    r->payee = payee;
    r->n_pay = n_pay;
    if (n_pay == 1)
        r->pay1 = pays[0];
    else
        memcpy(r->payv, pays, n_pay * sizeof *pays);
    for (int j = 0; j < c->n_nodes; j++)
        r->arrive[j] = now + delay(c, r->len);
    c->n_txs++;
    if (index_add(c, i)) {
        c->n_txs--;
        free(r->enc);
        free(r->arrive);
        free(r->payv);
        return err_set(e, ERR_NOMEM, "chain: out of memory for the txid index");
    }
    c->pend[c->n_pend++] = i; /* the newest id is the largest: the list stays ordered */
    c->sum.txs_submitted++;
    return 0;
}

/* Refused at admission: report it, return ERR_VERIFY. */
static int admit_reject(struct chain *c, const struct chain_tx *tx, int64_t who, const char *reason,
                        struct err *e)
{
    c->sum.txs_rejected++;
    security(c, who, reason, "tx_rejected", 1);
    if (tx->kind == CHAIN_TX_TRADE && c->hooks.trade_rejected)
        c->hooks.trade_rejected(c->hooks.ctx, tx->ref, eng_now(c->eng), reason);
    return err_set(e, ERR_VERIFY, "transaction %llu refused: %s (agent %lld)",
                   (unsigned long long)tx->ref, reason, (long long)who);
}

/* Attack: buyer b signs its whole main-chain balance over to another agent. */
static int attack_transfer(struct chain *c, int64_t b, struct err *e)
{
    struct chain_tx tx;
    struct pay pay;
    unsigned char id[CHAIN_TXID_LEN], msg[CHAIN_TX_TRANSFER_SIGNING];
    size_t len, mlen;
    int64_t acc;
    int rc;
    if (c->n_agents < 2)
        return 0;
    acc = (b + 1 + (int64_t)rng_below(c->rng_attack, (uint64_t)c->n_agents - 1)) % c->n_agents;
    if ((rc = ledger_goto(c, &c->work, c->best)))
        return err_set(e, rc, "%s", c->e->msg);
    if (c->work.bal[b] <= 0)
        return 0;
    memset(&tx, 0, sizeof tx);
    tx.kind = CHAIN_TX_TRANSFER;
    tx.ref = ++c->transfer_serial;
    tx.time = eng_now(c->eng);
    tx.coins = c->work.bal[b];
    address_of(c, b, tx.ref, tx.from.addr);
    address_of(c, acc, tx.ref, tx.to.addr);
    memcpy(tx.from.pk, c->pk[b], CHAIN_PK_LEN);
    if ((rc = chain_tx_signing_bytes(&tx, msg, sizeof msg, &mlen, e)))
        return rc;
    if (c->hooks.sign(c->hooks.ctx, b, msg, mlen, tx.from.sig) != 0)
        return err_set(e, ERR_RUNTIME, "chain: agent %lld could not sign a transfer", (long long)b);
    if ((rc = chain_tx_encode(&tx, c->encbuf, CHAIN_TX_MAX_LEN, &len, e)))
        return rc;
    chain_txid(c->encbuf, len, id);
    pay.agent = b;
    pay.coins = tx.coins;
    c->sum.double_spend_attacks++;
    return tx_add(c, &tx, len, id, acc, &pay, 1, e);
}

/* Admission of one trade.  ok (NULL: verify here) gives the signatures' outcomes, seller first
 * then the buyers in order, as chain_submit_trades checked them. */
static int submit_one(struct chain *c, const struct chain_trade *t, const uint8_t *ok,
                      struct err *e)
{
    unsigned char msg[CHAIN_TX_TRADE_FIXED + CHAIN_TX_MAX_BUYERS * CHAIN_TX_TRADE_BUYER];
    unsigned char id[CHAIN_TXID_LEN];
    struct chain_tx tx;
    struct pay *pays;
    size_t len, mlen;
    int attack = 0, first = 0, rc;

    if ((rc = trade_wire(c, t, &tx, e)))
        return rc;
    if ((rc = chain_tx_signing_bytes(&tx, msg, sizeof msg, &mlen, e)) ||
        (rc = chain_tx_encode(&tx, c->encbuf, CHAIN_TX_MAX_LEN, &len, e)))
        return rc;
    chain_txid(c->encbuf, len, id);
    if (index_find(c, id) >= 0)
        return admit_reject(c, &tx, t->seller, "duplicate_tx", e);
    if (c->pk_set[t->seller] && memcmp(c->pk[t->seller], t->seller_pk, CHAIN_PK_LEN))
        return admit_reject(c, &tx, t->seller, "key_mismatch", e);
    for (size_t i = 0; i < t->n_buyers; i++)
        if (c->pk_set[t->buyers[i].agent] &&
            memcmp(c->pk[t->buyers[i].agent], t->buyers[i].pk, CHAIN_PK_LEN))
            return admit_reject(c, &tx, t->buyers[i].agent, "key_mismatch", e);
    if (ok ? !ok[0] : crypto_sign_verify_detached(t->seller_sig, msg, mlen, t->seller_pk) != 0)
        return admit_reject(c, &tx, t->seller, "bad_signature", e);
    for (size_t i = 0; i < t->n_buyers; i++)
        if (ok ? !ok[1 + i]
               : crypto_sign_verify_detached(t->buyers[i].sig, msg, mlen, t->buyers[i].pk) != 0)
            return admit_reject(c, &tx, t->buyers[i].agent, "bad_signature", e);
    /* Trust on first use for wallets never registered. */
    if (!c->pk_set[t->seller])
        chain_wallet_register(c, t->seller, t->seller_pk, NULL);
    for (size_t i = 0; i < t->n_buyers; i++)
        if (!c->pk_set[t->buyers[i].agent])
            chain_wallet_register(c, t->buyers[i].agent, t->buyers[i].pk, NULL);

    if (c->cfg->attacks.double_spend_rate > 0 &&
        rng_uniform(c->rng_attack) < c->cfg->attacks.double_spend_rate) {
        attack = 1;
        first = rng_uniform(c->rng_attack) < 0.5; /* the conflicting spend goes out first */
    }
    if (attack && first && (rc = attack_transfer(c, t->buyers[0].agent, e)))
        return rc;
    if (attack && first) { /* the transfer used encbuf: encode the trade again */
        if ((rc = trade_wire(c, t, &tx, e)) ||
            (rc = chain_tx_encode(&tx, c->encbuf, CHAIN_TX_MAX_LEN, &len, e)))
            return rc;
    }
    pays = malloc(t->n_buyers * sizeof *pays);
    if (!pays)
        return err_set(e, ERR_NOMEM, "chain: out of memory for trade %llu",
                       (unsigned long long)t->trade_ref);
    for (size_t i = 0; i < t->n_buyers; i++) {
        pays[i].agent = t->buyers[i].agent;
        pays[i].coins = chain_tx_coins(t->price, t->buyers[i].kwh);
    }
    rc = tx_add(c, &tx, len, id, t->seller, pays, (uint32_t)t->n_buyers, e);
    free(pays);
    if (rc)
        return rc;
    if (attack && !first)
        return attack_transfer(c, t->buyers[0].agent, e);
    return 0;
}

int chain_submit_trade(struct chain *c, const struct chain_trade *t, struct err *e)
{
    return submit_one(c, t, NULL, e);
}

static int batch_verify_task(void *ctx, size_t k)
{
    struct batch *b = ctx;
    const struct batch_sig *s = &b->sig[k];
    b->ok[k] = crypto_sign_verify_detached(s->sig, b->msg + b->off[s->trade], b->len[s->trade],
                                           s->pk) == 0;
    return 0;
}

/* Room for n trades, `sigs` signatures and `bytes` of signing bytes in c->batch. */
static int batch_reserve(struct batch *b, size_t n, size_t sigs, size_t bytes)
{
    if (n > b->cap_trade) {
        size_t cap = 2 * n;
        size_t *f = realloc(b->first, cap * sizeof *f);
        if (f)
            b->first = f;
        size_t *o = realloc(b->off, cap * sizeof *o);
        if (o)
            b->off = o;
        size_t *l = realloc(b->len, cap * sizeof *l);
        if (l)
            b->len = l;
        if (!f || !o || !l)
            return ERR_NOMEM;
        b->cap_trade = cap;
    }
    if (sigs > b->cap_sig) {
        size_t cap = 2 * sigs;
        struct batch_sig *s = realloc(b->sig, cap * sizeof *s);
        if (s)
            b->sig = s;
        uint8_t *ok = realloc(b->ok, cap);
        if (ok)
            b->ok = ok;
        if (!s || !ok)
            return ERR_NOMEM;
        b->cap_sig = cap;
    }
    return grow((void **)&b->msg, &b->cap_msg, bytes, 1);
}

void chain_pool_set(struct chain *c, struct pool *p) { c->workers = p; }

int chain_submit_trades(struct chain *c, const struct chain_trade *t, size_t n, struct err *e)
{
    struct batch *b = &c->batch;
    size_t sigs = 0, bytes = 0;
    for (size_t k = 0; k < n; k++) {
        sigs += 1 + t[k].n_buyers;
        bytes += CHAIN_TX_TRADE_FIXED + (t[k].n_buyers <= CHAIN_TX_MAX_BUYERS ? t[k].n_buyers : 0) *
                                            CHAIN_TX_TRADE_BUYER;
    }
    if (batch_reserve(b, n, sigs, bytes))
        return err_set(e, ERR_NOMEM, "chain: out of memory checking %zu trades", n);
    sigs = bytes = 0;
    for (size_t k = 0; k < n; k++) {
        struct chain_tx tx;
        b->first[k] = SIZE_MAX; /* a malformed trade: submit_one reports it in its turn */
        if (trade_wire(c, &t[k], &tx, NULL) ||
            chain_tx_signing_bytes(&tx, b->msg + bytes, b->cap_msg - bytes, &b->len[k], NULL))
            continue;
        b->off[k] = bytes;
        bytes += b->len[k];
        b->first[k] = sigs;
        b->sig[sigs++] = (struct batch_sig){t[k].seller_sig, t[k].seller_pk, (uint32_t)k};
        for (size_t i = 0; i < t[k].n_buyers; i++)
            b->sig[sigs++] = (struct batch_sig){t[k].buyers[i].sig, t[k].buyers[i].pk, (uint32_t)k};
    }
    if (c->workers)
        pool_run(c->workers, sigs, batch_verify_task, b, NULL);
    else
        for (size_t k = 0; k < sigs; k++)
            batch_verify_task(b, k);
    for (size_t k = 0; k < n; k++) {
        int rc = submit_one(c, &t[k], b->first[k] == SIZE_MAX ? NULL : b->ok + b->first[k], e);
        if (rc && rc != ERR_VERIFY)
            return rc;
    }
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------- */

static int mine_genesis(struct chain *c, struct err *e)
{
    struct chain_header h;
    struct blk *g = &c->blocks[0];
    unsigned char target[MINE_TARGET_LEN];
    struct mine_result res;
    uint32_t bits;
    int rc;

    if ((rc = chain_bits_from_zero_bits((int)c->cfg->chain.difficulty_bits, &bits, e)))
        return err_wrap(e, ERR_CONFIG, "[chain] difficulty_bits");
    memset(&h, 0, sizeof h);
    h.version = CHAIN_BLOCK_VERSION;
    h.time = (uint32_t)floor(eng_now(c->eng));
    h.bits = bits;
    { /* the run's identity: a stored scenario, seed or version not the run's breaks block 0 */
        char *text = cfg_to_string(c->cfg);
        if (!text)
            return err_set(e, ERR_NOMEM, "chain: out of memory for the genesis commitment");
        chain_identity_root(text, c->cfg->scenario.seed, SETM_VERSION, h.merkle);
        free(text);
    }
    chain_header_pack(&h, g->hdr);
    if ((rc = mine_target_from_bits(bits, target, e)))
        return rc;
    rc = mine_search_rolled(c->mine, g->hdr, target, 0, MINE_SEARCH_MAX, &res, e);
    if (rc)
        return err_wrap(e, rc, "chain: mining the genesis block");
    mine_header_set_u32(g->hdr, MINE_HDR_NONCE, res.nonce);
    memcpy(g->hash, res.hash, MINE_HASH_LEN);
    g->height = 0;
    g->parent = NO_BLOCK;
    g->first_child = g->next_sibling = NO_BLOCK;
    g->work = chain_bits_work(bits);
    g->t_found = g->t_pub = eng_now(c->eng);
    g->prop = 0;
    g->attempts = g->race_attempts = res.attempts;
    g->bits = bits;
    g->size = MINE_HEADER_LEN;
    g->miner = -1;
    g->known = g->connected = ~UINT64_C(0);
    g->published = g->main = g->settled = 1;
    c->n_blocks = 1;
    return 0;
}

static struct chain *chain_build(const struct cfg *cfg, struct eng *eng,
                                 const struct chain_hooks *hooks, struct mine *m, int own,
                                 struct err *e)
{
    struct chain *c;
    const uint64_t seed = (uint64_t)cfg->scenario.seed;
    const size_t max_tx = (size_t)cfg->chain.max_block_txs;
    size_t na;
    int rc;

    if (sodium_init() < 0) {
        if (own)
            mine_free(m);
        err_set(e, ERR_RUNTIME, "chain: libsodium cannot initialise");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        if (own)
            mine_free(m);
        err_set(e, ERR_NOMEM, "chain: out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->eng = eng;
    c->mine = m;
    c->own_mine = own;
    c->e = eng_err(eng);
    if (hooks)
        c->hooks = *hooks;
    c->selfish = -1;
    if (cfg->chain.nodes < 1 || cfg->chain.nodes > CHAIN_MAX_NODES) {
        err_set(e, ERR_CONFIG, "[chain] nodes = %lld outside 1..%d", (long long)cfg->chain.nodes,
                CHAIN_MAX_NODES);
        goto fail;
    }
    c->n_nodes = (int)cfg->chain.nodes;
    if (cfg_chain_shares(cfg, c->share, e))
        goto fail;
    if (cfg->attacks.selfish_node >= cfg->chain.nodes) {
        err_set(e, ERR_CONFIG, "[attacks] selfish_node = %lld but [chain] nodes = %lld",
                (long long)cfg->attacks.selfish_node, (long long)cfg->chain.nodes);
        goto fail;
    }
    c->selfish = (int)cfg->attacks.selfish_node;
    if (cfg->attacks.double_spend_rate > 0 && !c->hooks.sign) {
        err_set(e, ERR_CONFIG,
                "[attacks] double_spend_rate = %g needs the run to let agents sign (no sign hook)",
                cfg->attacks.double_spend_rate);
        goto fail;
    }
    c->n_agents = cfg_agent_total(cfg);
    na = c->n_agents > 0 ? (size_t)c->n_agents : 1;
    c->pk = calloc(na, sizeof *c->pk);
    c->pk_set = calloc(na, 1);
    c->base = calloc(na, sizeof *c->base);
    c->work.bal = calloc(na, sizeof *c->work.bal);
    c->settled.bal = calloc(na, sizeof *c->settled.bal);
    c->index_cap = 1024;
    c->tx_index = calloc(c->index_cap, sizeof *c->tx_index);
    c->race.tmpl = malloc(max_tx * sizeof *c->race.tmpl);
    c->ids = malloc((2 * max_tx + 2) * sizeof *c->ids);
    c->encbuf = malloc(CHAIN_TX_MAX_LEN);
    c->parties = malloc(CHAIN_TX_MAX_BUYERS * sizeof *c->parties);
    c->cap_blocks = 1024;
    c->blocks = calloc((size_t)c->cap_blocks, sizeof *c->blocks);
    c->rng_race = rng_stream_new(seed, "chain.race", 0);
    c->rng_net = rng_stream_new(seed, "chain.net", 0);
    c->rng_attack = rng_stream_new(seed, "chain.attack", 0);
    if (!c->pk || !c->pk_set || !c->base || !c->work.bal || !c->settled.bal || !c->tx_index ||
        !c->race.tmpl || !c->ids || !c->encbuf || !c->parties || !c->blocks || !c->rng_race ||
        !c->rng_net || !c->rng_attack) {
        err_set(e, ERR_NOMEM, "chain: out of memory for %lld wallets", (long long)c->n_agents);
        goto fail;
    }
    for (int64_t a = 0; a < c->n_agents; a++)
        c->base[a] = c->work.bal[a] = c->settled.bal[a] = cfg->chain.initial_coins;
    c->work.bit = LEDGER_WORK;
    c->settled.bit = LEDGER_SETTLED;
    if (mine_genesis(c, e))
        goto fail;
    c->hash_rate = cfg->chain.hash_rate > 0
                       ? cfg->chain.hash_rate
                       : c->blocks[0].work / cfg->chain.block_interval_s;
    c->best = c->sm_pub = 0;
    c->sum.selfish_share_main = NAN;
    if (eng_handler_set(eng, CHAIN_EV_RACE, on_race, c) ||
        eng_handler_set(eng, CHAIN_EV_DELIVER, on_deliver, c)) {
        err_set(e, ERR_RUNTIME, "chain: cannot register event handlers %d, %d", CHAIN_EV_RACE,
                CHAIN_EV_DELIVER);
        goto fail;
    }
    if ((rc = race_start(c, eng_now(eng)))) {
        err_set(e, rc, "%s", c->e->msg);
        goto fail;
    }
    return c;
fail:
    chain_free(c);
    return NULL;
}

struct chain *chain_new_with_mine(const struct cfg *cfg, struct eng *eng,
                                  const struct chain_hooks *hooks, struct mine *m, struct err *e)
{
    if (!m) {
        err_set(e, ERR_USAGE, "chain: no mining backend given");
        return NULL;
    }
    return chain_build(cfg, eng, hooks, m, 0, e);
}

struct chain *chain_new(const struct cfg *cfg, struct eng *eng, const struct chain_hooks *hooks,
                        struct err *e)
{
    struct mine_opts o;
    struct mine *m;
    mine_opts_init(&o);
    o.backend = cfg->mine.backend == CFG_BACKEND_OPENCL ? MINE_BACKEND_OPENCL
                : cfg->mine.backend == CFG_BACKEND_CPU  ? MINE_BACKEND_CPU
                                                        : MINE_BACKEND_AUTO;
    o.threads = (unsigned)cfg->mine.threads;
    o.platform = cfg->mine.platform;
    o.device = cfg->mine.device;
    o.stop = hooks ? hooks->stop : NULL;
    o.notice = mine_notice_stderr;
    o.expected_nonces = ldexp(cfg->sim.days * 86400.0 / cfg->chain.block_interval_s + 1.0,
                              (int)cfg->chain.difficulty_bits);
    m = mine_new(&o, e);
    if (!m)
        return NULL;
    return chain_build(cfg, eng, hooks, m, 1, e);
}

void chain_free(struct chain *c)
{
    if (!c)
        return;
    if (c->race.active)
        eng_cancel(c->eng, c->race.ev);
    if (c->own_mine)
        mine_free(c->mine);
    for (uint32_t i = 0; i < c->n_txs; i++) {
        free(c->txs[i].enc);
        free(c->txs[i].arrive);
        free(c->txs[i].payv);
    }
    for (int64_t i = 0; i < c->n_blocks; i++)
        free(c->blocks[i].txs);
    free(c->txs);
    free(c->blocks);
    free(c->tx_index);
    free(c->pend);
    free(c->fl);
    free(c->path);
    free(c->pk);
    free(c->pk_set);
    free(c->base);
    free(c->work.bal);
    free(c->settled.bal);
    free(c->race.tmpl);
    free(c->ids);
    free(c->encbuf);
    free(c->parties);
    free(c->batch.sig);
    free(c->batch.ok);
    free(c->batch.first);
    free(c->batch.off);
    free(c->batch.len);
    free(c->batch.msg);
    rng_free(c->rng_race);
    rng_free(c->rng_net);
    rng_free(c->rng_attack);
    free(c);
}

const char *chain_backend_name(const struct chain *c) { return mine_backend_name(c->mine); }
const char *chain_device_name(const struct chain *c) { return mine_device_desc(c->mine); }

const char *chain_mine_note(const struct chain *c) { return mine_note(c->mine); }

int64_t chain_wallet_balance(struct chain *c, int64_t agent, enum chain_balance_kind kind)
{
    if (agent < 0 || agent >= c->n_agents)
        return -1;
    if (kind == CHAIN_BALANCE_SETTLED)
        return c->settled.bal[agent];
    if (ledger_goto(c, &c->work, c->best))
        return -1;
    return c->work.bal[agent];
}

int chain_tables_open(struct chain *c, struct h5_file *f, struct err *e)
{
    c->t_blocks = h5_table_new(f, "blocks", block_cols, NCOLS(block_cols), e);
    if (!c->t_blocks)
        return e ? e->code : ERR_IO;
    c->t_txs = h5_table_new(f, "transactions", tx_cols, NCOLS(tx_cols), e);
    if (!c->t_txs) {
        c->t_blocks = NULL;
        return e ? e->code : ERR_IO;
    }
    return 0;
}

int chain_finish(struct chain *c, struct err *e)
{
    /* The main chain now is the final one: report what is not reported yet, walking down from
     * the tip to the first block both written and settled (everything below was reported). */
    for (int64_t b = c->best; b != NO_BLOCK && !(c->blocks[b].written && c->blocks[b].settled);
         b = c->blocks[b].parent)
        block_final_hooks(c, &c->blocks[b]);
    while (c->wcur < c->n_blocks) {
        int rc = c->t_blocks ? write_block(c, c->wcur, e) : 0;
        if (rc)
            return rc;
        c->blocks[c->wcur++].written = 1;
    }
    return 0;
}

void chain_summary_get(struct chain *c, struct chain_summary *s)
{
    const struct blk *tip = &c->blocks[c->best];
    *s = c->sum;
    s->height = tip->height;
    s->stale_blocks = s->blocks_found - tip->height;
    s->stale_rate = s->blocks_found > 0 ? (double)s->stale_blocks / (double)s->blocks_found : 0;
    s->mean_interval_s =
        tip->height > 0 ? (tip->t_found - c->blocks[0].t_found) / (double)tip->height : NAN;
    s->selfish_share_main = c->selfish >= 0 && tip->height > 0
                                ? (double)s->selfish_blocks_main / (double)tip->height
                                : NAN;
    s->search_wall_s += c->race.wall;
    memcpy(s->tip, tip->hash, MINE_HASH_LEN);
}

int chain_summary_write(struct chain *c, struct h5_file *f, struct err *e)
{
    struct chain_summary s;
    char tip[65];
    int rc;
    chain_summary_get(c, &s);
    hash_hex(s.tip, tip);
#define I64(name, v, u)                                                                            \
    if ((rc = h5_summary_i64(f, name, v, u, e)))                                                   \
    return rc
#define F64(name, v, u)                                                                            \
    if ((rc = h5_summary_f64(f, name, v, u, e)))                                                   \
    return rc
    I64("chain_blocks_found", s.blocks_found, "blocks");
    I64("chain_height", s.height, "blocks");
    I64("chain_stale_blocks", s.stale_blocks, "blocks");
    F64("chain_stale_rate", s.stale_rate, "");
    F64("chain_mean_interval_s", s.mean_interval_s, "s");
    I64("chain_confirmations", c->cfg->chain.confirmations, "blocks");
    I64("chain_txs_submitted", s.txs_submitted, "");
    I64("chain_txs_main", s.txs_main, "");
    I64("chain_trades_confirmed", s.trades_confirmed, "");
    I64("chain_txs_rejected", s.txs_rejected, "");
    I64("chain_double_spends_detected", s.double_spends_detected, "");
    I64("chain_double_spend_attacks", s.double_spend_attacks, "");
    I64("chain_tampered_copies", s.tampered_copies, "");
    I64("chain_tampered_rejected", s.tampered_rejected, "");
    I64("chain_reorgs", s.reorgs, "");
    I64("chain_max_reorg_depth", s.max_reorg_depth, "blocks");
    I64("chain_confirmed_reverted", s.confirmed_reverted, "blocks");
    I64("chain_selfish_blocks_main", s.selfish_blocks_main, "blocks");
    F64("chain_selfish_share_main", s.selfish_share_main, "");
    F64("chain_nonces_searched", (double)s.nonces_searched, "hashes");
    F64("chain_search_wall_s", s.search_wall_s, "s");
#undef I64
#undef F64
    return h5_attr_str(f, "chain_tip", tip, e);
}
