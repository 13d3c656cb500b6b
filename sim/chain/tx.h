/*
 * chain/tx — energy-blockchain transactions and their one canonical byte encoding.
 *
 * Two kinds: a TRADE (paper Figure 5 / Algorithm 2: a seller, 1..N buyers with kWh each, one
 * price, request time eRT and agreement time AT; the paper's Initial/Define/Update cases are one
 * trade gaining buyers) and a TRANSFER of energy coins between two wallet addresses.  Parties are
 * named by wallet address (a pseudonym, paper 5.1) and carry the Ed25519 public key that signs
 * for them.  The transaction id is SHA-256d of the full encoding, signatures included, so any
 * changed byte changes the id and with it the block's Merkle root.
 *
 * Encoding, little-endian, doubles as IEEE-754 binary64 bit patterns:
 *   TRADE      0 u8 version (1) | 1 u8 kind (1) | 2 u64 ref | 10 f64 price EUR/MWh |
 *              18 f64 eRT s | 26 f64 AT s | 34 addr[20] seller | 54 pk[32] seller |
 *              86 u16 n buyers | 88 n x (addr[20] | pk[32] | f64 kWh)            <- signing bytes
 *              | sig[64] seller | n x sig[64] buyer
 *   TRANSFER   0 u8 version (1) | 1 u8 kind (2) | 2 u64 ref | 10 f64 time s | 18 addr[20] from |
 *              38 pk[32] from | 70 addr[20] to | 90 i64 coins                     <- signing bytes
 *              | sig[64] from
 * The signing bytes are the encoding up to the first signature; every signer signs the same bytes.
 *
 * Coin unit: 1 coin = 1 micro-euro (1e-6 EUR).  A buyer of q kWh at p EUR/MWh pays
 * llround(p * q * 1000) coins (p * q / 1000 EUR), computed in one place: chain_tx_coins().
 *
 * Ownership: every pointer argument is borrowed; a decoded trade's buyers live in the array the
 * caller passes.  Nothing here allocates.
 */
#ifndef SETM_CHAIN_TX_H
#define SETM_CHAIN_TX_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CHAIN_TX_VERSION 1
#define CHAIN_ADDR_LEN 20
#define CHAIN_PK_LEN 32
#define CHAIN_SIG_LEN 64
#define CHAIN_TXID_LEN 32
#define CHAIN_TX_MAX_BUYERS 1024
#define CHAIN_TX_TRADE_FIXED 88   /* signing bytes of a trade before its buyers */
#define CHAIN_TX_TRADE_BUYER 60   /* signing bytes per buyer */
#define CHAIN_TX_TRANSFER_SIGNING 98
#define CHAIN_TX_TRANSFER_LEN (CHAIN_TX_TRANSFER_SIGNING + CHAIN_SIG_LEN)
/* Largest encoding: a trade with CHAIN_TX_MAX_BUYERS buyers. */
#define CHAIN_TX_MAX_LEN                                                                           \
    (CHAIN_TX_TRADE_FIXED + CHAIN_SIG_LEN + CHAIN_TX_MAX_BUYERS * (CHAIN_TX_TRADE_BUYER + CHAIN_SIG_LEN))

enum chain_tx_kind { CHAIN_TX_TRADE = 1, CHAIN_TX_TRANSFER = 2 };

/* One party: its pseudonym address, signing key and signature; kwh for a trade's buyers. */
struct chain_tx_party {
    unsigned char addr[CHAIN_ADDR_LEN];
    unsigned char pk[CHAIN_PK_LEN];
    unsigned char sig[CHAIN_SIG_LEN];
    double kwh; /* trade buyers: energy bought (finite, > 0); unused otherwise */
};

/* A transaction in wire form (addresses, not agent ids). */
struct chain_tx {
    uint8_t kind;          /* enum chain_tx_kind */
    uint64_t ref;          /* trade: the market's trade reference; transfer: the payer's serial */
    double price;          /* trade: EUR/MWh, finite, >= 0 */
    double request_time;   /* trade: eRT, simulated s, finite */
    double agreement_time; /* trade: AT, simulated s, finite, >= eRT */
    double time;           /* transfer: simulated s when signed, finite */
    int64_t coins;         /* transfer: amount, > 0 */
    struct chain_tx_party from;    /* trade: the seller; transfer: the payer */
    struct chain_tx_party to;      /* transfer: the payee (addr only; pk and sig unused) */
    size_t n_buyers;               /* trade: 1..CHAIN_TX_MAX_BUYERS */
    struct chain_tx_party *buyers; /* trade: n_buyers entries (borrowed) */
};

/* Coins a buyer pays for kwh at price EUR/MWh: llround(price * kwh * 1000); -1 when either is
 * negative or not finite or the amount does not fit in 2^62. */
int64_t chain_tx_coins(double price, double kwh);

/* Bytes of the signing part and of the full encoding of tx (0 for a malformed kind/count). */
size_t chain_tx_signing_len(const struct chain_tx *tx);
size_t chain_tx_len(const struct chain_tx *tx);

/* Write the signing bytes / the full encoding into out[cap]; *len gets the length.  0, or
 * ERR_FORMAT for a transaction that breaks the rules above (naming the field), ERR_USAGE when
 * cap is too small. */
int chain_tx_signing_bytes(const struct chain_tx *tx, unsigned char *out, size_t cap, size_t *len,
                           struct err *e);
int chain_tx_encode(const struct chain_tx *tx, unsigned char *out, size_t cap, size_t *len,
                    struct err *e);

/* Parse exactly len bytes.  Buyers go to buyers[0..cap_buyers).  0, or ERR_FORMAT (truncated,
 * trailing bytes, unknown version or kind, a field out of range: the message says which).
 * Signatures are not checked. */
int chain_tx_decode(const unsigned char *in, size_t len, struct chain_tx *tx,
                    struct chain_tx_party *buyers, size_t cap_buyers, struct err *e);

/* Transaction id: SHA-256d of the full encoding (internal byte order). */
void chain_txid(const unsigned char *enc, size_t len, unsigned char id[CHAIN_TXID_LEN]);

/* Check every signature of tx against its own public keys.  0, or ERR_VERIFY naming the first
 * party whose signature is wrong ("buyer 2"), ERR_FORMAT for a malformed tx. */
int chain_tx_verify(const struct chain_tx *tx, struct err *e);

/* Lowercase hex of len bytes in the order given (not reversed): out holds 2*len+1. */
void chain_hex(const unsigned char *in, size_t len, char *out);

#endif
