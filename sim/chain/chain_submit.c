/*
 * chain_submit — transactions in: a trade's wire form, admission, batched signature checks.
 *
 * Owns: turning a market trade into its signed wire transaction, refusing duplicates, trades
 * made before floor(now) - chain.tx_window (expired), key mismatches and bad signatures at
 * admission (reported through the hooks), recording admitted
 * transactions and sending them to every node's mempool.
 * Invariant: a transaction enters txs[] only after every signature verified; signatures are
 * checked once (a batch on the pool, in a fixed order, gives the same outcomes as one by one).
 * A batch also builds each trade's wire form, encoding and id on the pool (pure functions of the
 * trade and the scenario), once per trade; admission then only reads them, in trade order.
 */
#include "chain/chain_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- transactions in ---------------------------------------------------------------------- */

/* The wire form of t: parties named by their pseudonym addresses for this trade; its buyers go
 * to parties[0..n_buyers) (the caller's; c->parties when one thread builds). */
static int trade_wire_into(const struct chain *c, const struct chain_trade *t,
                           struct chain_tx *tx, struct chain_tx_party *parties, struct err *e)
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
    chain_address_of(c, t->seller, t->trade_ref, tx->from.addr);
    memcpy(tx->from.pk, t->seller_pk, CHAIN_PK_LEN);
    memcpy(tx->from.sig, t->seller_sig, CHAIN_SIG_LEN);
    tx->n_buyers = t->n_buyers;
    tx->buyers = parties;
    for (size_t i = 0; i < t->n_buyers; i++) {
        struct chain_tx_party *p = &parties[i];
        chain_address_of(c, t->buyers[i].agent, t->trade_ref, p->addr);
        memcpy(p->pk, t->buyers[i].pk, CHAIN_PK_LEN);
        memcpy(p->sig, t->buyers[i].sig, CHAIN_SIG_LEN);
        p->kwh = t->buyers[i].kwh;
    }
    return 0;
}

static int trade_wire(const struct chain *c, const struct chain_trade *t, struct chain_tx *tx,
                      struct err *e)
{
    return trade_wire_into(c, t, tx, c->parties, e);
}

int chain_trade_signing_bytes(const struct chain *c, const struct chain_trade *t,
                              unsigned char *out, size_t cap, size_t *len, struct err *e)
{
    struct chain_tx tx;
    int rc = trade_wire(c, t, &tx, e);
    return rc ? rc : chain_tx_signing_bytes(&tx, out, cap, len, e);
}

/* Record an admitted transaction (its encoding enc[0..len)) and send it to every node. */
static int tx_add_enc(struct chain *c, const struct chain_tx *tx, const unsigned char *enc,
                      size_t len, const unsigned char id[CHAIN_TXID_LEN], int64_t payee,
                      const struct pay *pays, uint32_t n_pay, struct err *e)
{
    const double now = eng_now(c->eng);
    struct txrec *r;
    uint32_t i = c->n_txs;
    size_t cap = c->cap_txs;
    if (c->n_txs == UINT32_MAX - 1)
        return err_set(e, ERR_RUNTIME, "chain: more than 2^32 transactions");
    if (grow_array(&c->txs, &cap, (size_t)(i - c->tx_arr) + 1, sizeof *c->txs))
        return err_set(e, ERR_NOMEM, "chain: out of memory for transaction %u", i);
    c->cap_txs = (uint32_t)cap;
    if (grow_array(&c->pend, &c->cap_pend, c->n_pend + 1, sizeof *c->pend))
        return err_set(e, ERR_NOMEM, "chain: out of memory for the mempool");
    r = chain_txrec(c, i);
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
    memcpy(r->enc, enc, len);
    r->len = (uint32_t)len;
    r->ref = tx->ref;
    r->kind = tx->kind;
    r->t_tx = tx->kind == CHAIN_TX_TRADE ? tx->agreement_time : tx->time;
    r->payee = payee;
    r->n_pay = n_pay;
    if (n_pay == 1)
        r->pay1 = pays[0];
    else
        memcpy(r->payv, pays, n_pay * sizeof *pays);
    for (int j = 0; j < c->n_nodes; j++)
        r->arrive[j] = now + chain_delay(c, r->len);
    c->n_txs++;
    if (chain_index_add(c, i)) {
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

/* Record an admitted transaction (encoding in c->encbuf) and send it to every node. */
int chain_tx_add(struct chain *c, const struct chain_tx *tx, size_t len,
                  const unsigned char id[CHAIN_TXID_LEN], int64_t payee, const struct pay *pays,
                  uint32_t n_pay, struct err *e)
{
    return tx_add_enc(c, tx, c->encbuf, len, id, payee, pays, n_pay, e);
}

/* Refused at admission: report it, return ERR_VERIFY. */
static int admit_reject(struct chain *c, const struct chain_tx *tx, int64_t who, const char *reason,
                        struct err *e)
{
    c->sum.txs_rejected++;
    chain_security(c, who, reason, "tx_rejected", 1);
    if (tx->kind == CHAIN_TX_TRADE && c->hooks.trade_rejected)
        c->hooks.trade_rejected(c->hooks.ctx, tx->ref, eng_now(c->eng), reason);
    return err_set(e, ERR_VERIFY, "transaction %llu refused: %s (agent %lld)",
                   (unsigned long long)tx->ref, reason, (long long)who);
}

/* What chain_submit_trades built for one trade on the pool: its full encoding, its id, and its
 * signatures' outcomes (checked over the encoding's signing part), seller first then the buyers
 * in order. */
struct prepared {
    const unsigned char *enc;
    size_t len;
    const unsigned char *id;
    const uint8_t *ok;
};

/* Admission of one trade.  pre (NULL: build and verify here) gives what a batch built. */
static int submit_one(struct chain *c, const struct chain_trade *t, const struct prepared *pre,
                      struct err *e)
{
    unsigned char msg[CHAIN_TX_TRADE_FIXED + CHAIN_TX_MAX_BUYERS * CHAIN_TX_TRADE_BUYER];
    unsigned char idbuf[CHAIN_TXID_LEN];
    const unsigned char *id = idbuf, *enc = c->encbuf;
    struct chain_tx tx;
    struct pay *pays;
    size_t len, mlen;
    int attack = 0, first = 0, rc;

    if (pre) {
        /* the fields admission reads; the batch built the wire form from the same trade */
        memset(&tx, 0, sizeof tx);
        tx.kind = CHAIN_TX_TRADE;
        tx.ref = t->trade_ref;
        tx.price = t->price;
        tx.request_time = t->request_time;
        tx.agreement_time = t->agreement_time;
        tx.n_buyers = t->n_buyers;
        enc = pre->enc;
        len = pre->len;
        id = pre->id;
    } else {
        if ((rc = trade_wire(c, t, &tx, e)))
            return rc;
        if ((rc = chain_tx_signing_bytes(&tx, msg, sizeof msg, &mlen, e)) ||
            (rc = chain_tx_encode(&tx, c->encbuf, CHAIN_TX_MAX_LEN, &len, e)))
            return rc;
        chain_txid(c->encbuf, len, idbuf);
    }
    if (chain_index_find(c, id) >= 0)
        return admit_reject(c, &tx, t->seller, "duplicate_tx", e);
    if (!(tx.agreement_time >= floor(eng_now(c->eng)) - c->cfg->chain.tx_window)) {
        c->sum.txs_expired++; /* a replay of an id already forgotten lands here too */
        return admit_reject(c, &tx, t->seller, "expired", e);
    }
    if (c->pk_set[t->seller] && memcmp(c->pk[t->seller], t->seller_pk, CHAIN_PK_LEN))
        return admit_reject(c, &tx, t->seller, "key_mismatch", e);
    for (size_t i = 0; i < t->n_buyers; i++)
        if (c->pk_set[t->buyers[i].agent] &&
            memcmp(c->pk[t->buyers[i].agent], t->buyers[i].pk, CHAIN_PK_LEN))
            return admit_reject(c, &tx, t->buyers[i].agent, "key_mismatch", e);
    if (pre ? !pre->ok[0]
            : crypto_sign_verify_detached(t->seller_sig, msg, mlen, t->seller_pk) != 0)
        return admit_reject(c, &tx, t->seller, "bad_signature", e);
    for (size_t i = 0; i < t->n_buyers; i++)
        if (pre ? !pre->ok[1 + i]
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
    if (attack && first && (rc = chain_attack_transfer(c, t->buyers[0].agent, e)))
        return rc;
    if (attack && first && !pre) { /* the transfer used encbuf: encode the trade again */
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
    rc = tx_add_enc(c, &tx, enc, len, id, t->seller, pays, (uint32_t)t->n_buyers, e);
    free(pays);
    if (rc)
        return rc;
    if (attack && !first)
        return chain_attack_transfer(c, t->buyers[0].agent, e);
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

/* Room for n trades, `sigs` signatures and `bytes` of encodings and ids in c->batch. */
static int batch_reserve(struct batch *b, size_t n, size_t sigs, size_t bytes)
{
    size_t ct = b->cap_trade, cs = b->cap_sig;
    /* parallel arrays: each grows from the same capacity to the same new one */
    if (grow_array(&b->first, &ct, n, sizeof *b->first) ||
        grow_array(&b->off, &(size_t){b->cap_trade}, n, sizeof *b->off) ||
        grow_array(&b->len, &(size_t){b->cap_trade}, n, sizeof *b->len))
        return ERR_NOMEM;
    b->cap_trade = ct;
    if (grow_array(&b->sig, &cs, sigs, sizeof *b->sig) ||
        grow_array(&b->ok, &(size_t){b->cap_sig}, sigs, sizeof *b->ok))
        return ERR_NOMEM;
    b->cap_sig = cs;
    return grow_array(&b->msg, &b->cap_msg, bytes, 1);
}

void chain_pool_set(struct chain *c, struct pool *p) { c->workers = p; }

/* Bytes of trade t's full encoding (0 for a buyer count no trade may have). */
static size_t trade_enc_len(const struct chain_trade *t)
{
    if (t->n_buyers < 1 || t->n_buyers > CHAIN_TX_MAX_BUYERS)
        return 0;
    return CHAIN_TX_TRADE_FIXED + CHAIN_SIG_LEN + t->n_buyers * (CHAIN_TX_TRADE_BUYER + CHAIN_SIG_LEN);
}

/* One batch's wire-form work: trade k's buyers go to parties + first[k] + 1 (a slot per
 * signature, so no two trades share one); its encoding to msg + off[k], its id after it. */
struct prep {
    const struct chain *c;
    const struct chain_trade *t;
    struct batch *b;
    struct chain_tx_party *parties;
};

/* Pool task: trade k's wire form, encoding and id, or first[k] = SIZE_MAX when it is malformed
 * (submit_one then reports why in its turn).  Reads the trade and the scenario; writes only
 * trade k's slots. */
static int prep_task(void *ctx, size_t k)
{
    struct prep *p = ctx;
    struct batch *b = p->b;
    const struct chain_trade *t = &p->t[k];
    struct chain_tx tx;
    size_t len;
    if (b->first[k] == SIZE_MAX)
        return 0;
    if (trade_wire_into(p->c, t, &tx, p->parties + b->first[k] + 1, NULL) ||
        chain_tx_encode(&tx, b->msg + b->off[k], trade_enc_len(t), &len, NULL)) {
        b->first[k] = SIZE_MAX;
        return 0;
    }
    b->len[k] = chain_tx_signing_len(&tx);
    chain_txid(b->msg + b->off[k], len, b->msg + b->off[k] + len);
    return 0;
}

int chain_submit_trades(struct chain *c, const struct chain_trade *t, size_t n, struct err *e)
{
    struct batch *b = &c->batch;
    struct prep p = {c, t, b, NULL};
    size_t sigs = 0, bytes = 0;
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        size_t enc = trade_enc_len(&t[k]);
        sigs += 1 + (enc ? t[k].n_buyers : 0);
        bytes += enc ? enc + CHAIN_TXID_LEN : 0;
    }
    if (batch_reserve(b, n, sigs, bytes) ||
        !(p.parties = malloc((sigs ? sigs : 1) * sizeof *p.parties)))
        return err_set(e, ERR_NOMEM, "chain: out of memory checking %zu trades", n);
    sigs = bytes = 0;
    for (size_t k = 0; k < n; k++) { /* where each trade's results go */
        size_t enc = trade_enc_len(&t[k]);
        b->first[k] = enc ? sigs : SIZE_MAX;
        b->off[k] = bytes;
        sigs += 1 + (enc ? t[k].n_buyers : 0);
        bytes += enc ? enc + CHAIN_TXID_LEN : 0;
    }
    if (c->workers)
        pool_run(c->workers, n, prep_task, &p, NULL);
    else
        for (size_t k = 0; k < n; k++)
            prep_task(&p, k);
    free(p.parties);
    sigs = 0;
    for (size_t k = 0; k < n; k++) { /* the signatures of every well-formed trade, in order */
        if (b->first[k] == SIZE_MAX)
            continue;
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
    for (size_t k = 0; k < n && !rc; k++) {
        struct prepared pre;
        if (b->first[k] == SIZE_MAX) {
            rc = submit_one(c, &t[k], NULL, e);
        } else {
            pre.enc = b->msg + b->off[k];
            pre.len = trade_enc_len(&t[k]);
            pre.id = pre.enc + pre.len;
            pre.ok = b->ok + b->first[k];
            rc = submit_one(c, &t[k], &pre, e);
        }
        if (rc == ERR_VERIFY)
            rc = 0;
    }
    return rc;
}
