/*
 * chain_ledger — wallets, the two ledgers, the txid index and the mempool.
 *
 * Owns: pseudonym addresses and registered keys; the `work` and `settled` ledgers as cursors over
 * the block tree (chain_ledger_goto undoes back to the common ancestor and applies forward); the
 * open-addressing txid index; the admission-ordered mempool and the race template built from it
 * (dropping transactions out of chain.tx_window); forgetting records out of the window.
 * Invariant: a ledger at block B holds base balances plus exactly the transactions of B's branch,
 * and bit L->bit of a record's `applied` is set exactly for those; the mempool list stays sorted
 * by admission (record index) and names no forgotten record; the index holds every record not
 * forgotten.
 */
#include "chain/chain_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sha256.h"

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

void chain_address_of(const struct chain *c, int64_t agent, uint64_t ref,
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
    chain_address_of(c, agent, trade_ref, addr);
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
    struct txrec *r = chain_txrec(c, i);
    const struct pay *p = chain_tx_pays(r);
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
    struct txrec *r = chain_txrec(c, i);
    const struct pay *p = chain_tx_pays(r);
    for (uint32_t k = r->n_pay; k-- > 0;) {
        L->bal[p[k].agent] += p[k].coins;
        L->bal[r->payee] -= p[k].coins;
    }
    r->applied &= (uint8_t)~L->bit;
}

static void block_settle_hooks(struct chain *c, const struct blk *b)
{
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = chain_txrec(c, b->txs[k]);
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
void chain_block_final_hooks(struct chain *c, const struct blk *b)
{
    const double t_conf = b->settled ? b->t_settled : NAN;
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = chain_txrec(c, b->txs[k]);
        if (r->kind != CHAIN_TX_TRADE || (r->flags & TXF_FINAL))
            continue;
        r->flags |= TXF_FINAL;
        if (b->settled)
            c->sum.trades_confirmed++;
        if (c->hooks.trade_final)
            c->hooks.trade_final(c->hooks.ctx, r->ref, b->t_found, b->height, t_conf);
    }
}

/* One block of L's old branch, passed on the way back to the common ancestor: undo it. */
static int ledger_undo(struct chain *c, struct blk *x, void *ctx)
{
    struct ledger *L = ctx;
    for (uint32_t k = x->n_tx; k-- > 0;)
        tx_unapply(c, L, x->txs[k]);
    if (L->bit == LEDGER_SETTLED && x->settled) {
        x->settled = 0;
        c->sum.confirmed_reverted++;
        chain_security(c, x->miner, "deep_reorg", "confirmed_block_reverted", 1);
    }
    return 0;
}

/* Move L to block `to` along the tree: undo back to the common ancestor, apply forward.  Every
 * stored block is valid on its branch, so applying cannot fail. */
int chain_ledger_goto(struct chain *c, struct ledger *L, int64_t to)
{
    size_t n;
    int rc = chain_reorg_path(c, L->at, to, ledger_undo, L, &n);
    if (rc)
        return rc;
    while (n-- > 0) {
        struct blk *x = chain_blk(c, c->path[n]);
        for (uint32_t k = 0; k < x->n_tx; k++) {
            int ok = tx_apply_checked(c, L, x->txs[k]);
            (void)ok;
        }
        if (L->bit == LEDGER_SETTLED) {
            x->settled = 1;
            x->t_settled = eng_now(c->eng);
            block_settle_hooks(c, x);
            if (x->written) { /* final before settled (finality_depth < confirmations) */
                chain_block_final_hooks(c, x);
                chain_block_release(c, x); /* no ledger passes it again */
            }
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

int64_t chain_index_find(const struct chain *c, const unsigned char id[CHAIN_TXID_LEN])
{
    size_t m = c->index_cap - 1, h = (size_t)id_key(id) & m;
    while (c->tx_index[h]) {
        uint32_t i = c->tx_index[h] - 1;
        if (i >= c->tx_base && !memcmp(chain_txrec(c, i)->id, id, CHAIN_TXID_LEN))
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

/* A fresh index over the records tx_base .. upto - 1: 4 slots per record at least (a power of
 * two, 1024 at least), so forgotten ids leave the table and it stays proportional to the
 * records alive. */
static int index_rebuild(struct chain *c, uint32_t upto)
{
    size_t cap = 1024;
    uint32_t *t;
    while (cap < 4 * ((size_t)(upto - c->tx_base) + 1))
        cap *= 2;
    if (!(t = calloc(cap, sizeof *t)))
        return ERR_NOMEM;
    for (uint32_t j = c->tx_base; j < upto; j++)
        index_put(t, cap, chain_txrec(c, j)->id, j);
    free(c->tx_index);
    c->tx_index = t;
    c->index_cap = cap;
    c->idx_lo = c->tx_base;
    return 0;
}

/* Add record i.  The table holds every record since idx_lo, forgotten ones included, and is
 * rebuilt (over the records alive only) when they would fill half of it. */
int chain_index_add(struct chain *c, uint32_t i)
{
    if (2 * ((size_t)(i - c->idx_lo) + 1) > c->index_cap && index_rebuild(c, i))
        return ERR_NOMEM;
    index_put(c->tx_index, c->index_cap, chain_txrec(c, i)->id, i);
    return 0;
}

/* ---- forgetting ------------------------------------------------------------------------- */

#define FORGET_MIN_COMPACT 1024 /* forgotten records kept before a compaction is worth it */

/* Drop records from the front of txs[] that no rule can name again (chain_internal.h: FINAL or
 * REJECTED, in no block's list, out of the mempool, made before floor(now) - tx_window), then
 * compact once the dead prefix is a quarter of the live part (and 1024 records at least): the
 * records alive move down, so the array stays proportional to them.  Deterministic: it depends
 * on simulated time and chain state only.  0 always (an int for the callers' error chain). */
int chain_forget(struct chain *c)
{
    const double cut = floor(eng_now(c->eng)) - c->cfg->chain.tx_window;
    uint32_t dead, live;
    while (c->tx_base < c->n_txs) {
        struct txrec *r = chain_txrec(c, c->tx_base);
        if (r->refs || (r->status != TX_FINAL && r->status != TX_REJECTED) || !(r->t_tx < cut) ||
            (c->n_pend > 0 && c->pend[0] <= c->tx_base))
            break;
        free(r->enc);
        free(r->arrive);
        free(r->payv);
        r->enc = NULL;
        r->arrive = NULL;
        r->payv = NULL;
        c->tx_base++;
    }
    dead = c->tx_base - c->tx_arr;
    live = c->n_txs - c->tx_base;
    if (dead < FORGET_MIN_COMPACT || dead < live / 4)
        return 0;
    memmove(c->txs, c->txs + dead, (size_t)live * sizeof *c->txs);
    c->tx_arr = c->tx_base;
    return 0;
}

/* ---- mempool ---------------------------------------------------------------------------- */

/* Put tx i back in the admission-ordered mempool (a stale block's transactions return). */
int chain_pend_insert(struct chain *c, uint32_t i)
{
    size_t lo = 0, hi = c->n_pend;
    if (grow_array(&c->pend, &c->cap_pend, c->n_pend + 1, sizeof *c->pend))
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
    struct txrec *r = chain_txrec(c, i);
    r->status = TX_REJECTED;
    c->sum.txs_rejected++;
    if (!strcmp(reason, "double_spend"))
        c->sum.double_spends_detected++;
    else if (!strcmp(reason, "expired"))
        c->sum.txs_expired++;
    chain_security(c, who, reason, "tx_rejected", 1);
    if (r->kind == CHAIN_TX_TRADE && c->hooks.trade_rejected)
        c->hooks.trade_rejected(c->hooks.ctx, r->ref, eng_now(c->eng), reason);
}

/* Fill the race template for node w on block p at time t0: mempool transactions w has heard of,
 * in admission order, that its branch does not hold, that the window of the header time
 * floor(t0) admits and that its branch's balances allow.  A transaction refused on the main
 * chain's tip is rejected for good; one refused on a side branch only waits.  One made before
 * floor(t0) - chain.tx_window is dropped for good ("expired"), whatever the branch: no later
 * block, whose header time is at least floor(t0), may include it (one that some stored block
 * holds waits until those blocks are written, since a reorg could still bring it back). */
int chain_build_template(struct chain *c, int w, int64_t p, double t0)
{
    struct race *R = &c->race;
    const uint32_t max = (uint32_t)c->cfg->chain.max_block_txs;
    const double T = floor(t0); /* the header time (race_start) */
    size_t keep = 0;
    int rc = chain_ledger_goto(c, &c->work, p);
    if (rc)
        return rc;
    R->n_tmpl = 0;
    R->size = MINE_HEADER_LEN;
    for (size_t k = 0; k < c->n_pend; k++) {
        uint32_t i = c->pend[k];
        struct txrec *r = chain_txrec(c, i);
        if (r->status != TX_PENDING)
            continue; /* dropped from the list here */
        if (!(r->t_tx >= T - c->cfg->chain.tx_window) && r->refs == 0) {
            reject(c, i, chain_tx_pays(r)[0].agent, "expired");
            continue;
        }
        c->pend[keep++] = i;
        if (R->n_tmpl == max || (r->applied & LEDGER_WORK) || r->arrive[w] > t0 ||
            !chain_tx_time_ok(r->t_tx, T, c->cfg->chain.tx_window))
            continue;
        if (!tx_apply_checked(c, &c->work, i)) {
            if (p == c->best) {
                keep--;
                reject(c, i, chain_tx_pays(r)[0].agent, "double_spend");
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

int64_t chain_wallet_balance(struct chain *c, int64_t agent, enum chain_balance_kind kind)
{
    if (agent < 0 || agent >= c->n_agents)
        return -1;
    if (kind == CHAIN_BALANCE_SETTLED)
        return c->settled.bal[agent];
    if (chain_ledger_goto(c, &c->work, c->best))
        return -1;
    return c->work.bal[agent];
}
