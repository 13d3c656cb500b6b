/*
 * chain/tx — canonical encoding, decoding, ids and signature checks of chain transactions.
 *
 * Invariant: encode(decode(b)) == b for every b that decodes, and decode rejects every byte
 * string that encode could not have produced (so a transaction has exactly one encoding and one
 * id).  That is why the decoder checks the same value rules as the encoder.
 */
#include "chain/tx.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "crypto/sha256.h"

#define SIGNING_MAX (CHAIN_TX_TRADE_FIXED + CHAIN_TX_MAX_BUYERS * CHAIN_TX_TRADE_BUYER)

int64_t chain_tx_coins(double price, double kwh)
{
    double v;
    if (!isfinite(price) || !isfinite(kwh) || price < 0 || kwh < 0)
        return -1;
    v = price * kwh * 1000.0;
    if (!(v < 4611686018427387904.0)) /* 2^62: sums of a few such amounts stay in int64 */
        return -1;
    return (int64_t)llround(v);
}

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(p, v);
}

static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static double get_f64(const unsigned char *p)
{
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* The value rules shared by encoder and decoder.  NULL when tx is well-formed, else why not. */
static const char *tx_rule(const struct chain_tx *tx)
{
    if (tx->kind == CHAIN_TX_TRADE) {
        if (tx->n_buyers < 1 || tx->n_buyers > CHAIN_TX_MAX_BUYERS)
            return "buyer count outside 1..1024";
        if (!tx->buyers)
            return "no buyer array";
        if (chain_tx_coins(tx->price, 0) < 0)
            return "price is negative or not finite";
        if (!isfinite(tx->request_time) || !isfinite(tx->agreement_time))
            return "request or agreement time not finite";
        if (tx->agreement_time < tx->request_time)
            return "agreement time before request time";
        for (size_t i = 0; i < tx->n_buyers; i++)
            if (!(tx->buyers[i].kwh > 0) || chain_tx_coins(tx->price, tx->buyers[i].kwh) < 0)
                return "a buyer's kWh is not positive and finite, or its amount overflows";
        return NULL;
    }
    if (tx->kind == CHAIN_TX_TRANSFER) {
        if (!isfinite(tx->time))
            return "transfer time not finite";
        if (tx->coins <= 0)
            return "transfer amount not positive";
        return NULL;
    }
    return "unknown kind";
}

size_t chain_tx_signing_len(const struct chain_tx *tx)
{
    if (tx->kind == CHAIN_TX_TRADE)
        return tx->n_buyers >= 1 && tx->n_buyers <= CHAIN_TX_MAX_BUYERS
                   ? CHAIN_TX_TRADE_FIXED + tx->n_buyers * CHAIN_TX_TRADE_BUYER
                   : 0;
    if (tx->kind == CHAIN_TX_TRANSFER)
        return CHAIN_TX_TRANSFER_SIGNING;
    return 0;
}

size_t chain_tx_len(const struct chain_tx *tx)
{
    size_t s = chain_tx_signing_len(tx);
    if (!s)
        return 0;
    return s + CHAIN_SIG_LEN * (tx->kind == CHAIN_TX_TRADE ? 1 + tx->n_buyers : 1);
}

static int write_tx(const struct chain_tx *tx, unsigned char *out, size_t cap, size_t *len,
                    int with_sigs, struct err *e)
{
    const char *why = tx_rule(tx);
    size_t need, p;
    if (why)
        return err_set(e, ERR_FORMAT, "transaction %llu: %s", (unsigned long long)tx->ref, why);
    need = with_sigs ? chain_tx_len(tx) : chain_tx_signing_len(tx);
    if (cap < need)
        return err_set(e, ERR_USAGE, "transaction buffer of %zu bytes, %zu needed", cap, need);
    out[0] = CHAIN_TX_VERSION;
    out[1] = tx->kind;
    put_u64(out + 2, tx->ref);
    if (tx->kind == CHAIN_TX_TRADE) {
        put_f64(out + 10, tx->price);
        put_f64(out + 18, tx->request_time);
        put_f64(out + 26, tx->agreement_time);
        memcpy(out + 34, tx->from.addr, CHAIN_ADDR_LEN);
        memcpy(out + 54, tx->from.pk, CHAIN_PK_LEN);
        put_u16(out + 86, (uint16_t)tx->n_buyers);
        p = CHAIN_TX_TRADE_FIXED;
        for (size_t i = 0; i < tx->n_buyers; i++, p += CHAIN_TX_TRADE_BUYER) {
            memcpy(out + p, tx->buyers[i].addr, CHAIN_ADDR_LEN);
            memcpy(out + p + 20, tx->buyers[i].pk, CHAIN_PK_LEN);
            put_f64(out + p + 52, tx->buyers[i].kwh);
        }
        if (with_sigs) {
            memcpy(out + p, tx->from.sig, CHAIN_SIG_LEN);
            p += CHAIN_SIG_LEN;
            for (size_t i = 0; i < tx->n_buyers; i++, p += CHAIN_SIG_LEN)
                memcpy(out + p, tx->buyers[i].sig, CHAIN_SIG_LEN);
        }
    } else {
        put_f64(out + 10, tx->time);
        memcpy(out + 18, tx->from.addr, CHAIN_ADDR_LEN);
        memcpy(out + 38, tx->from.pk, CHAIN_PK_LEN);
        memcpy(out + 70, tx->to.addr, CHAIN_ADDR_LEN);
        put_u64(out + 90, (uint64_t)tx->coins);
        p = CHAIN_TX_TRANSFER_SIGNING;
        if (with_sigs) {
            memcpy(out + p, tx->from.sig, CHAIN_SIG_LEN);
            p += CHAIN_SIG_LEN;
        }
    }
    *len = p;
    return 0;
}

int chain_tx_signing_bytes(const struct chain_tx *tx, unsigned char *out, size_t cap, size_t *len,
                           struct err *e)
{
    return write_tx(tx, out, cap, len, 0, e);
}

int chain_tx_encode(const struct chain_tx *tx, unsigned char *out, size_t cap, size_t *len,
                    struct err *e)
{
    return write_tx(tx, out, cap, len, 1, e);
}

int chain_tx_decode(const unsigned char *in, size_t len, struct chain_tx *tx,
                    struct chain_tx_party *buyers, size_t cap_buyers, struct err *e)
{
    const char *why;
    size_t p;
    memset(tx, 0, sizeof *tx);
    if (len < 10)
        return err_set(e, ERR_FORMAT, "transaction of %zu bytes is truncated", len);
    if (in[0] != CHAIN_TX_VERSION)
        return err_set(e, ERR_FORMAT, "transaction version %u (only %d is known)", in[0],
                       CHAIN_TX_VERSION);
    tx->kind = in[1];
    tx->ref = get_u64(in + 2);
    if (tx->kind == CHAIN_TX_TRADE) {
        size_t n;
        if (len < CHAIN_TX_TRADE_FIXED)
            return err_set(e, ERR_FORMAT, "trade of %zu bytes is truncated", len);
        n = get_u16(in + 86);
        if (n < 1 || n > CHAIN_TX_MAX_BUYERS)
            return err_set(e, ERR_FORMAT, "trade with %zu buyers (1..%d)", n, CHAIN_TX_MAX_BUYERS);
        if (n > cap_buyers)
            return err_set(e, ERR_FORMAT, "trade with %zu buyers, room for %zu", n, cap_buyers);
        tx->n_buyers = n;
        tx->buyers = buyers;
        if (len != chain_tx_len(tx))
            return err_set(e, ERR_FORMAT, "trade of %zu bytes; %zu buyers need %zu", len, n,
                           chain_tx_len(tx));
        tx->price = get_f64(in + 10);
        tx->request_time = get_f64(in + 18);
        tx->agreement_time = get_f64(in + 26);
        memcpy(tx->from.addr, in + 34, CHAIN_ADDR_LEN);
        memcpy(tx->from.pk, in + 54, CHAIN_PK_LEN);
        p = CHAIN_TX_TRADE_FIXED;
        for (size_t i = 0; i < n; i++, p += CHAIN_TX_TRADE_BUYER) {
            memset(&buyers[i], 0, sizeof buyers[i]);
            memcpy(buyers[i].addr, in + p, CHAIN_ADDR_LEN);
            memcpy(buyers[i].pk, in + p + 20, CHAIN_PK_LEN);
            buyers[i].kwh = get_f64(in + p + 52);
        }
        memcpy(tx->from.sig, in + p, CHAIN_SIG_LEN);
        p += CHAIN_SIG_LEN;
        for (size_t i = 0; i < n; i++, p += CHAIN_SIG_LEN)
            memcpy(buyers[i].sig, in + p, CHAIN_SIG_LEN);
    } else if (tx->kind == CHAIN_TX_TRANSFER) {
        if (len != CHAIN_TX_TRANSFER_LEN)
            return err_set(e, ERR_FORMAT, "transfer of %zu bytes (%d expected)", len,
                           CHAIN_TX_TRANSFER_LEN);
        tx->time = get_f64(in + 10);
        memcpy(tx->from.addr, in + 18, CHAIN_ADDR_LEN);
        memcpy(tx->from.pk, in + 38, CHAIN_PK_LEN);
        memcpy(tx->to.addr, in + 70, CHAIN_ADDR_LEN);
        tx->coins = (int64_t)get_u64(in + 90);
        memcpy(tx->from.sig, in + CHAIN_TX_TRANSFER_SIGNING, CHAIN_SIG_LEN);
    } else {
        return err_set(e, ERR_FORMAT, "transaction kind %u unknown", tx->kind);
    }
    why = tx_rule(tx);
    if (why)
        return err_set(e, ERR_FORMAT, "transaction %llu: %s", (unsigned long long)tx->ref, why);
    return 0;
}

void chain_txid(const unsigned char *enc, size_t len, unsigned char id[CHAIN_TXID_LEN])
{
    crypto_sha256d(enc, len, id);
}

int chain_tx_verify(const struct chain_tx *tx, struct err *e)
{
    unsigned char msg[SIGNING_MAX];
    size_t len;
    int rc = chain_tx_signing_bytes(tx, msg, sizeof msg, &len, e);
    if (rc)
        return rc;
    if (crypto_sign_verify_detached(tx->from.sig, msg, len, tx->from.pk) != 0)
        return err_set(e, ERR_VERIFY, "transaction %llu: %s signature invalid",
                       (unsigned long long)tx->ref, tx->kind == CHAIN_TX_TRADE ? "seller" : "payer");
    if (tx->kind == CHAIN_TX_TRADE)
        for (size_t i = 0; i < tx->n_buyers; i++)
            if (crypto_sign_verify_detached(tx->buyers[i].sig, msg, len, tx->buyers[i].pk) != 0)
                return err_set(e, ERR_VERIFY, "transaction %llu: buyer %zu signature invalid",
                               (unsigned long long)tx->ref, i);
    return 0;
}

void chain_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}
