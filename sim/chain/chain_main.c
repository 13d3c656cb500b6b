/*
 * chain_main — the main chain, reorgs and block propagation.
 *
 * Owns: the walk back to the common ancestor that every branch switch uses (chain_reorg_path),
 * making a block the main-chain tip (old branch out, new branch in, settled ledger moved, final
 * blocks written), and publishing a block: its deliveries to every node, perhaps a tampered copy.
 * Invariant: c->best is the published block with the most work on a live branch (the first
 * published wins ties; withheld blocks count once published; a branch forking below the final
 * height is dead: chain_internal.h); so a reorg never reaches a written (final) block, and
 * main_undo's error would mean a broken invariant, not a user's setting; fl[] lists exactly the
 * genuine deliveries still pending, tfl[] the blocks of the tampered copies still pending.
 */
#include "chain/chain_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- main chain ------------------------------------------------------------------------- */

/* Walk from block `from` and block `to` back to their common ancestor.  Each block of from's
 * branch above the ancestor goes to undo (may be NULL), newest first, as the walk passes it;
 * to's branch above the ancestor is left in c->path[0..*n), newest first, so the caller applies
 * it from c->path[*n - 1] down to c->path[0].  The ledgers (chain_ledger_goto) and the main
 * chain (set_main) both switch branches by this walk. */
int chain_reorg_path(struct chain *c, int64_t from, int64_t to,
                     int (*undo)(struct chain *c, struct blk *x, void *ctx), void *ctx, size_t *n)
{
    int64_t a = from, b = to;
    size_t k = 0;
    int rc;
    *n = 0;
    while (a != b) {
        if (chain_blk(c, a)->height >= chain_blk(c, b)->height) {
            struct blk *x = chain_blk(c, a);
            if (undo && (rc = undo(c, x, ctx)))
                return rc;
            a = x->parent;
        } else {
            if (grow_array(&c->path, &c->cap_path, k + 1, sizeof *c->path))
                return err_set(c->e, ERR_NOMEM, "chain: out of memory for a reorg path");
            c->path[k++] = b;
            b = chain_blk(c, b)->parent;
        }
    }
    *n = k;
    return 0;
}

/* One block of the old main branch, passed on the way back to the common ancestor: it leaves
 * the main chain and its transactions go back to the mempool.  ctx counts the depth. */
static int main_undo(struct chain *c, struct blk *x, void *ctx)
{
    int64_t *depth = ctx;
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
        struct txrec *r = chain_txrec(c, x->txs[k]);
        if (r->status == TX_MAIN) {
            r->status = TX_PENDING;
            if (chain_pend_insert(c, x->txs[k]))
                return err_set(c->e, ERR_NOMEM, "chain: out of memory for the mempool");
        }
    }
    (*depth)++;
    return 0;
}

/* The final height moved to fh (the main tip's height - finality_depth): the main-chain block
 * there is a checkpoint.  Branches that fork below it die (chain_branch_live): the work ledger
 * leaves one before any block is written, final blocks are written and their lists freed, nodes
 * mining on a dead branch move to the main tip (the selfish node abandons its private branch),
 * and records out of the transaction window are forgotten. */
static int checkpoint(struct chain *c, int64_t fh)
{
    int moved = 0, rc;
    if (fh <= c->final_h)
        return chain_finalize_upto(c, fh);
    c->final_h = fh;
    if (!chain_branch_live(c, c->work.at) && (rc = chain_ledger_goto(c, &c->work, c->best)))
        return rc;
    if ((rc = chain_finalize_upto(c, fh)))
        return rc;
    for (int j = 0; j < c->n_nodes; j++)
        if (j != c->selfish && !chain_branch_live(c, c->tip[j])) {
            c->tip[j] = c->best; /* fetched from its peers: the checkpointed chain */
            moved = 1;
        }
    if (c->selfish >= 0 && (rc = chain_selfish_abandon(c, &moved)))
        return rc;
    if (moved && (rc = chain_tip_changed(c, -1)))
        return rc;
    return chain_blocks_forget(c);
}

/* Make nb the main-chain tip: drop the old branch's blocks (their transactions go back to the
 * mempool), add the new branch's (trade_included), move the settled ledger (trade_confirmed),
 * and write out what became final. */
static int set_main(struct chain *c, int64_t nb)
{
    int64_t depth = 0, hs;
    size_t n;
    int rc;
    if ((rc = chain_reorg_path(c, c->best, nb, main_undo, &depth, &n)))
        return rc;
    while (n-- > 0) {
        struct blk *x = chain_blk(c, c->path[n]);
        x->main = 1;
        c->sum.txs_main += x->n_tx;
        if (x->miner >= 0 && x->miner == c->selfish)
            c->sum.selfish_blocks_main++;
        for (uint32_t k = 0; k < x->n_tx; k++) {
            struct txrec *r = chain_txrec(c, x->txs[k]);
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
    hs = chain_blk(c, nb)->height - c->cfg->chain.confirmations + 1;
    if ((rc = chain_ledger_goto(c, &c->settled, hs > 0 ? chain_ancestor(c, nb, hs) : 0)))
        return rc;
    return checkpoint(c, chain_blk(c, nb)->height - c->cfg->chain.finality_depth);
}

/* ---- propagation ------------------------------------------------------------------------ */

static int flight_add(struct chain *c, int64_t blk, int node, double t)
{
    if (grow_array(&c->fl, &c->cap_fl, c->n_fl + 1, sizeof *c->fl))
        return ERR_NOMEM;
    c->fl[c->n_fl++] = (struct flight){blk, node, t};
    return 0;
}

static int tamper_add(struct chain *c, int64_t blk)
{
    if (grow_array(&c->tfl, &c->cap_tfl, c->n_tfl + 1, sizeof *c->tfl))
        return ERR_NOMEM;
    c->tfl[c->n_tfl++] = blk;
    return 0;
}

void chain_tamper_remove(struct chain *c, int64_t blk)
{
    for (size_t k = 0; k < c->n_tfl; k++)
        if (c->tfl[k] == blk) {
            c->tfl[k] = c->tfl[--c->n_tfl];
            return;
        }
}

void chain_flight_remove(struct chain *c, int64_t blk, int node)
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
    if (tampered ? tamper_add(c, blk) : flight_add(c, blk, node, t))
        return err_set(c->e, ERR_NOMEM, "chain: out of memory for deliveries");
    return 0;
}

/* Send block i from its miner to every other node; perhaps a relay alters it on the way. */
int chain_publish(struct chain *c, int64_t i)
{
    const double now = eng_now(c->eng);
    struct blk *b = chain_blk(c, i);
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
        d = chain_delay(c, size);
        if (d > latest)
            latest = d;
        if ((rc = schedule_delivery(c, now + d, j, i, miner, 0, 0, 0)))
            return rc;
    }
    chain_blk(c, i)->prop = latest;
    if (c->cfg->attacks.tampered_block_rate > 0 && c->n_nodes >= 3 &&
        rng_uniform(c->rng_attack) < c->cfg->attacks.tampered_block_rate) {
        /* A relay node receives the block and forwards an altered copy to everybody else. */
        int r = (int)rng_below(c->rng_attack, (uint64_t)c->n_nodes - 1);
        uint64_t pos = rng_below(c->rng_attack, size);
        uint32_t mask = 1u << rng_below(c->rng_attack, 8);
        double t_r = now + chain_delay_from(c, c->rng_attack, size);
        if (r >= miner)
            r++;
        for (int j = 0; j < c->n_nodes; j++) {
            if (j == miner || j == r)
                continue;
            c->sum.tampered_copies++;
            if ((rc = schedule_delivery(c, t_r + chain_delay_from(c, c->rng_attack, size), j, i, r, 1,
                                        pos, mask)))
                return rc;
        }
    }
    /* most work wins, but no node switches to a branch that forks below the final height */
    if (chain_blk(c, i)->work > chain_blk(c, c->best)->work && chain_branch_live(c, i))
        return set_main(c, i);
    return 0;
}
