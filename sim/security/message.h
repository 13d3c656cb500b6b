/*
 * message — the market's messages and their one canonical byte encoding.
 *
 * SHARE (a seller's offer: kWh and ask), REQUEST (a buyer's request: kWh and bid) and REPLY (the
 * MiM agent's answer: a match or none) carry the sender's identity, a per-sender sequence
 * number, the slot and round, quantity and price.  The MAC covers every byte before it, under
 * the key the sender shares with the trusted server (registry.h).
 *
 * Wire layout, little-endian, MSG_WIRE_BYTES in all:
 *   0  u8   kind (1 SHARE, 2 REQUEST, 3 REPLY)
 *   1  u32  sender id
 *   5  u64  sequence number (strictly increasing per sender)
 *   13 i64  slot
 *   21 u32  round
 *   25 f64  kWh   (finite, >= 0)
 *   33 f64  price EUR/MWh (finite, >= 0)
 *   41 u8[32] MAC
 */
#ifndef SETM_SECURITY_MESSAGE_H
#define SETM_SECURITY_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "security/registry.h"

#define MSG_BODY_BYTES 41
#define MSG_WIRE_BYTES (MSG_BODY_BYTES + ID_MAC_BYTES)

enum msg_kind { MSG_SHARE = 1, MSG_REQUEST = 2, MSG_REPLY = 3 };

struct msg {
    uint8_t kind;     /* enum msg_kind */
    uint32_t sender;
    uint64_t seq;
    int64_t slot;
    uint32_t round;
    double kwh;
    double price;
    unsigned char mac[ID_MAC_BYTES];
};

/* Encode m (its MAC included as it stands) into out[MSG_WIRE_BYTES]. */
void msg_encode(const struct msg *m, unsigned char out[MSG_WIRE_BYTES]);

/* Decode exactly MSG_WIRE_BYTES.  0; ERR_FORMAT for a wrong length, an unknown kind, or a
 * quantity/price that is negative or not finite (naming the field).  Does not check the MAC. */
int msg_decode(const unsigned char *in, size_t len, struct msg *m, struct err *e);

/* Set m->mac to the MAC of its body under sender's server key. */
void msg_seal(struct msg *m, const struct id_registry *r);

/* Name of a kind ("SHARE"...), "?" for others. */
const char *msg_kind_name(int kind);

#endif
