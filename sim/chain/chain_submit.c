/*
 * chain_submit — transactions in: a trade's wire form, admission, batched signature checks.
 *
 * Owns: turning a market trade into its signed wire transaction, refusing duplicates, trades
 * made before floor(now) - chain.tx_window (expired), key mismatches and bad signatures at
 * admission (reported through the hooks), recording admitted
 * transactions and sending them to every node's mempool.
 * Invariant: a transaction enters txs[] only after every signature verified; signatures are
 * checked once (a batch on the pool, in a fixed order, gives the same outcomes as one by one).
 */
#include "chain/chain_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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
    chain_address_of(c, t->seller, t->trade_ref, tx->from.addr);
    memcpy(tx->from.pk, t->seller_pk, CHAIN_PK_LEN);
    memcpy(tx->from.sig, t->seller_sig, CHAIN_SIG_LEN);
    tx->n_buyers = t->n_buyers;
    tx->buyers = c->parties;
    for (size_t i = 0; i < t->n_buyers; i++) {
        struct chain_tx_party *p = &c->parties[i];
        chain_address_of(c, t->buyers[i].agent, t->trade_ref, p->addr);
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
int chain_tx_add(struct chain *c, const struct chain_tx *tx, size_t len,
                  const unsigned char id[CHAIN_TXID_LEN], int64_t payee, const struct pay *pays,
                  uint32_t n_pay, struct err *e)
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
    memcpy(r->enc, c->encbuf, len);
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
    if (attack && first && (rc = chain_attack_transfer(c, t->buyers[0].agent, e)))
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
    rc = chain_tx_add(c, &tx, len, id, t->seller, pays, (uint32_t)t->n_buyers, e);
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

/* Room for n trades, `sigs` signatures and `bytes` of signing bytes in c->batch. */
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
