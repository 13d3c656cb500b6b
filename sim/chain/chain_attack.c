/*
 * chain_attack — the attacks: tampered block copies, selfish mining, double-spend transfers.
 *
 * Owns: each receiving node's real check of an altered copy (chain_block_check), the selfish
 * node's withhold / publish / override policy (Eyal and Sirer, "Majority is not enough"; a private
 * branch forking below the final height is abandoned: chain_selfish_abandon), and the
 * conflicting transfer a double-spending buyer signs.
 * Invariant: attacks draw only from the attack stream (rng_attack), so switching one on leaves
 * the honest draws, and an honest chain, unchanged; a tampered copy never changes a tip.
 */
#include "chain/chain_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each receiving node checks an altered copy for real. */
int chain_tamper_check(struct chain *c, int64_t i, int sender, uint64_t pos, uint32_t mask)
{
    const struct blk *b = chain_blk(c, i);
    unsigned char hdr[MINE_HEADER_LEN], *flipped = NULL;
    const unsigned char **tx = NULL;
    size_t *len = NULL;
    struct chain_block_view v;
    const char *rule = NULL;
    char action[48];
    struct err le = {0};
    int rc = 0;

    if (b->n_tx > 0 && !b->txs)
        return 0; /* final and released long ago: too late to matter */
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
        const struct txrec *r = chain_txrec(c, b->txs[k]);
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
    v.tx_window = c->cfg->chain.tx_window;
    rc = chain_block_check(&v, chain_blk(c, b->parent)->hash, chain_next_bits(c, b->parent), &rule,
                           &le);
    if (rc == ERR_VERIFY) {
        c->sum.tampered_rejected++;
        snprintf(action, sizeof action, "rejected:%s", rule ? rule : "?");
        chain_security(c, sender, "tampered_block", action, 1);
        rc = 0;
    } else if (rc == 0) {
        chain_security(c, sender, "tampered_block", "accepted", 0);
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

/* Publish the selfish node's withheld blocks up to height max_h, oldest first. */
static int publish_private(struct chain *c, int64_t max_h, int64_t *count)
{
    int64_t b = c->tip[c->selfish];
    size_t n = 0;
    int rc;
    *count = 0;
    while (b != NO_BLOCK && !chain_blk(c, b)->published) {
        if (chain_blk(c, b)->height <= max_h) {
            if (grow_array(&c->path, &c->cap_path, n + 1, sizeof *c->path))
                return err_set(c->e, ERR_NOMEM, "chain: out of memory publishing");
            c->path[n++] = b;
        }
        b = chain_blk(c, b)->parent;
    }
    *count = (int64_t)n;
    /* chain_publish() may call set_main(), which reuses path: copy the list out first */
    {
        int64_t *list = malloc((n ? n : 1) * sizeof *list);
        if (!list)
            return err_set(c->e, ERR_NOMEM, "chain: out of memory publishing");
        memcpy(list, c->path, n * sizeof *list);
        rc = 0;
        while (n-- > 0 && !rc)
            rc = chain_publish(c, list[n]);
        free(list);
    }
    return rc;
}

int chain_selfish_found(struct chain *c)
{
    const int a = c->selfish;
    int64_t n;
    if (c->sm_race) {
        c->sm_race = 0;
        chain_security(c, a, "selfish_mining", "published", 0);
        return publish_private(c, INT64_MAX, &n);
    }
    chain_security(c, a, "selfish_mining", "withheld", 0);
    return 0;
}

/* The selfish node has heard of a better public block (sm_pub): adopt, race, override. */
int chain_selfish_on_public(struct chain *c)
{
    const int a = c->selfish;
    const int64_t priv = c->tip[a], pub = c->sm_pub;
    int64_t lead, n = 0;
    int rc;
    if (chain_blk(c, priv)->work < chain_blk(c, pub)->work) {
        for (int64_t b = priv; b != NO_BLOCK && !chain_blk(c, b)->published;
             b = chain_blk(c, b)->parent)
            n++;
        if (n > 0)
            chain_security(c, a, "selfish_mining", "abandoned", 0);
        c->tip[a] = pub;
        c->sm_race = 0;
        return chain_tip_changed(c, a);
    }
    lead = chain_blk(c, priv)->height - chain_blk(c, pub)->height;
    if (lead == 0) {
        if ((rc = publish_private(c, INT64_MAX, &n)))
            return rc;
        if (n > 0) {
            c->sm_race = 1;
            chain_security(c, a, "selfish_mining", "published", 0);
        }
    } else if (lead == 1) {
        if ((rc = publish_private(c, INT64_MAX, &n)))
            return rc;
        c->sm_race = 0;
        if (n > 0)
            chain_security(c, a, "selfish_mining", "override", 0);
    } else {
        if ((rc = publish_private(c, chain_blk(c, pub)->height, &n)))
            return rc;
        c->sm_race = 0;
        if (n > 0)
            chain_security(c, a, "selfish_mining", "published", 0);
    }
    return 0;
}

/* The final height moved: a private branch that forks below it is dead (no honest node would
 * take it, however long), so the selfish node abandons it for the best live public block it has
 * (the main tip when that one died too).  *moved is set when its tip changed. */
int chain_selfish_abandon(struct chain *c, int *moved)
{
    const int a = c->selfish;
    int64_t n = 0;
    if (!chain_branch_live(c, c->sm_pub))
        c->sm_pub = c->best;
    if (chain_branch_live(c, c->tip[a]))
        return 0;
    for (int64_t b = c->tip[a]; b != NO_BLOCK && !chain_blk(c, b)->published;
         b = chain_blk(c, b)->parent)
        n++;
    if (n > 0)
        chain_security(c, a, "selfish_mining", "abandoned", 0);
    c->tip[a] = c->sm_pub;
    c->sm_race = 0;
    *moved = 1;
    return 0;
}

/* Attack: buyer b signs its whole main-chain balance over to another agent. */
int chain_attack_transfer(struct chain *c, int64_t b, struct err *e)
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
    if ((rc = chain_ledger_goto(c, &c->work, c->best)))
        return err_set(e, rc, "%s", c->e->msg);
    if (c->work.bal[b] <= 0)
        return 0;
    memset(&tx, 0, sizeof tx);
    tx.kind = CHAIN_TX_TRANSFER;
    tx.ref = ++c->transfer_serial;
    tx.time = eng_now(c->eng);
    tx.coins = c->work.bal[b];
    chain_address_of(c, b, tx.ref, tx.from.addr);
    chain_address_of(c, acc, tx.ref, tx.to.addr);
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
    return chain_tx_add(c, &tx, len, id, acc, &pay, 1, e);
}
