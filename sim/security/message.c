/* message — canonical encoding, strict decoding, sealing. */
#include "message.h"

#include <math.h>
#include <string.h>

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_f64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(p, v);
}

static double get_f64(const unsigned char *p)
{
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

void msg_encode(const struct msg *m, unsigned char out[MSG_WIRE_BYTES])
{
    out[0] = m->kind;
    put_u32(out + 1, m->sender);
    put_u64(out + 5, m->seq);
    put_u64(out + 13, (uint64_t)m->slot);
    put_u32(out + 21, m->round);
    put_f64(out + 25, m->kwh);
    put_f64(out + 33, m->price);
    memcpy(out + MSG_BODY_BYTES, m->mac, ID_MAC_BYTES);
}

int msg_decode(const unsigned char *in, size_t len, struct msg *m, struct err *e)
{
    if (len != MSG_WIRE_BYTES)
        return err_set(e, ERR_FORMAT, "message of %zu bytes; expected %d", len, MSG_WIRE_BYTES);
    m->kind = in[0];
    if (m->kind < MSG_SHARE || m->kind > MSG_REPLY)
        return err_set(e, ERR_FORMAT, "message kind %u unknown", (unsigned)m->kind);
    m->sender = get_u32(in + 1);
    m->seq = get_u64(in + 5);
    m->slot = (int64_t)get_u64(in + 13);
    m->round = get_u32(in + 21);
    m->kwh = get_f64(in + 25);
    m->price = get_f64(in + 33);
    if (!isfinite(m->kwh) || m->kwh < 0)
        return err_set(e, ERR_FORMAT, "message kWh %g is negative or not finite", m->kwh);
    if (!isfinite(m->price) || m->price < 0)
        return err_set(e, ERR_FORMAT, "message price %g is negative or not finite", m->price);
    memcpy(m->mac, in + MSG_BODY_BYTES, ID_MAC_BYTES);
    return 0;
}

void msg_seal(struct msg *m, const struct id_registry *r)
{
    unsigned char wire[MSG_WIRE_BYTES];
    msg_encode(m, wire);
    id_mac(r, m->sender, wire, MSG_BODY_BYTES, m->mac);
}

const char *msg_kind_name(int kind)
{
    switch (kind) {
    case MSG_SHARE: return "SHARE";
    case MSG_REQUEST: return "REQUEST";
    case MSG_REPLY: return "REPLY";
    default: return "?";
    }
}
