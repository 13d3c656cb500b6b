/*
 * rng — xoshiro256** as a GSL generator type, and stream derivation.
 *
 * GSL calls `set(state, seed)` with an unsigned long; we ignore that path's 32-bit habits by
 * expanding the 64-bit key with SplitMix64 into the four state words (the seeding the xoshiro
 * authors recommend), which can never yield the all-zero state.
 */
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define xoshiro_state rng_xoshiro_state

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t xoshiro_next(struct xoshiro_state *st)
{
    uint64_t *s = st->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xoshiro_set(void *vstate, unsigned long int seed)
{
    struct xoshiro_state *st = vstate;
    uint64_t x = (uint64_t)seed;
    for (int i = 0; i < 4; i++)
        st->s[i] = splitmix64(&x);
}

/* GSL's integer interface is 32-bit ([min, max] = [0, 2^32-1]): the high half is the better one. */
static unsigned long int xoshiro_get(void *vstate)
{
    return (unsigned long int)(xoshiro_next(vstate) >> 32);
}

/* Uniform on [0, 1) with 53 random bits. */
static double xoshiro_get_double(void *vstate)
{
    return (double)(xoshiro_next(vstate) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type xoshiro_type = {
    "xoshiro256**", 0xffffffffUL, 0, sizeof(struct xoshiro_state),
    xoshiro_set, xoshiro_get, xoshiro_get_double,
};

const gsl_rng_type *const rng_xoshiro256ss = &xoshiro_type;

uint64_t rng_name_id(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t rng_stream_key(uint64_t seed, const char *name, uint64_t id)
{
    uint64_t h = rng_name_id(name);
    uint64_t x;
    /* Chain through SplitMix64 so nearby seeds/ids give unrelated keys. */
    x = seed;
    x = splitmix64(&x) ^ h;
    x = splitmix64(&x) ^ id;
    return splitmix64(&x);
}

gsl_rng *rng_stream_new(uint64_t seed, const char *name, uint64_t id)
{
    gsl_rng *r = gsl_rng_alloc(rng_xoshiro256ss);
    if (r)
        rng_stream_reset(r, seed, name, id);
    return r;
}

void rng_stream_reset(gsl_rng *r, uint64_t seed, const char *name, uint64_t id)
{
    gsl_rng_set(r, (unsigned long int)rng_stream_key(seed, name, id));
}

void rng_free(gsl_rng *r)
{
    if (r)
        gsl_rng_free(r);
}

void rng_fill(gsl_rng *r, void *buf, size_t len)
{
    unsigned char *out = buf;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = rng_u64(r);
        memcpy(out + i, &x, len - i < 8 ? len - i : 8);
    }
}


/* One stream per cache line: the GSL handle and the state it points to, side by side, so a draw
 * for a random entity costs one cache miss rather than two dependent ones. */
struct bank_entry {
    gsl_rng rng;
    struct rng_xoshiro_state state;
    unsigned char pad[64 - sizeof(gsl_rng) - sizeof(struct rng_xoshiro_state)];
};

struct rng_bank {
    size_t n;
    struct bank_entry *entries;
};

static struct rng_bank *bank_new(uint64_t seed, const char *name, const uint64_t *ids, size_t n);

struct rng_bank *rng_bank_new(uint64_t seed, const char *name, size_t n)
{
    return bank_new(seed, name, NULL, n);
}

struct rng_bank *rng_bank_new_ids(uint64_t seed, const char *name, const uint64_t *ids, size_t n)
{
    return bank_new(seed, name, ids, n);
}

static struct rng_bank *bank_new(uint64_t seed, const char *name, const uint64_t *ids, size_t n)
{
    struct rng_bank *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->n = n;
    b->entries = aligned_alloc(64, (n ? n : 1) * sizeof *b->entries);
    if (!b->entries) {
        free(b);
        return NULL;
    }
    /* gsl_rng is a public two-field struct {type, state}; filling it by hand is how a caller
     * provides the state storage itself. */
    for (size_t i = 0; i < n; i++) {
        b->entries[i].rng.type = rng_xoshiro256ss;
        b->entries[i].rng.state = &b->entries[i].state;
        rng_stream_reset(&b->entries[i].rng, seed, name, ids ? ids[i] : i);
    }
    return b;
}

gsl_rng *rng_bank_get(struct rng_bank *b, size_t i) { return i < b->n ? &b->entries[i].rng : NULL; }

void rng_bank_free(struct rng_bank *b)
{
    if (!b)
        return;
    free(b->entries);
    free(b);
}
