/*
 * rng — named, seeded random streams, one per component (and per entity where it matters).
 *
 * A stream is a GSL generator (`gsl_rng *`, so every gsl_ran_* distribution works on it) whose
 * seed is derived from (scenario seed, stream name, entity id) by a hash.  Draws therefore never
 * depend on the order in which components or entities are created, and adding a new component —
 * a new name — never changes anybody else's draws.
 *
 * The generator type is xoshiro256** registered as a GSL rng type: GSL's own generators take a
 * 32-bit seed, and with tens of thousands of agent streams 32-bit seeds collide with a
 * probability near one in three; xoshiro256** is seeded with the full 256-bit state.
 */
#ifndef SETM_CORE_RNG_H
#define SETM_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <gsl/gsl_rng.h>

/* The GSL generator type used for every stream (name "xoshiro256**"). */
extern const gsl_rng_type *const rng_xoshiro256ss;

/* 64-bit key of (seed, name, id): SplitMix64 over FNV-1a of `name`, mixed with seed and id. */
uint64_t rng_stream_key(uint64_t seed, const char *name, uint64_t id);

/* A new stream for (seed, name, id).  Returns NULL when out of memory.  Free with rng_free(). */
gsl_rng *rng_stream_new(uint64_t seed, const char *name, uint64_t id);

/* Re-seed an existing stream (from rng_stream_new) in place, as if newly created for the key. */
void rng_stream_reset(gsl_rng *r, uint64_t seed, const char *name, uint64_t id);

void rng_free(gsl_rng *r);

/*
 * Inline fast paths for hot loops, drawing from the same stream state as GSL's functions (a
 * stream may mix them freely).  They require a stream made by rng_stream_new().
 */
struct rng_xoshiro_state {
    uint64_t s[4];
};

static inline uint64_t rng_u64(gsl_rng *r)
{
    uint64_t *s = ((struct rng_xoshiro_state *)r->state)->s;
    const uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform on [0, 1) with 53 random bits (same value gsl_rng_uniform would return). */
static inline double rng_uniform(gsl_rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-and-reject). */
static inline uint64_t rng_below(gsl_rng *r, uint64_t n)
{
    uint64_t x = rng_u64(r) >> 32;
    uint64_t m = x * (n & 0xffffffffu);
    if (n > 0xffffffffu) {
        unsigned __int128 w = (unsigned __int128)rng_u64(r) * n;
        return (uint64_t)(w >> 64);
    }
    if ((uint32_t)m < (uint32_t)n) {
        uint32_t threshold = (uint32_t)(-(uint32_t)n) % (uint32_t)n;
        while ((uint32_t)m < threshold) {
            x = rng_u64(r) >> 32;
            m = x * n;
        }
    }
    return m >> 32;
}

/*
 * A bank of n streams (seed, name, 0..n-1) stored contiguously, for per-entity streams of many
 * entities (agents, logical processes): one allocation, and neighbouring entities' states share
 * cache lines instead of being scattered over the heap.  Each entry is a real gsl_rng usable
 * with every gsl_ran_* function; do not rng_free() one — free the bank.
 */
struct rng_bank;
struct rng_bank *rng_bank_new(uint64_t seed, const char *name, size_t n);

/* Same, but entry i is the stream (seed, name, ids[i]): entities keyed by identity (e.g.
 * rng_name_id of an agent's name) rather than by position, so inserting an entity never changes
 * another's draws. */
struct rng_bank *rng_bank_new_ids(uint64_t seed, const char *name, const uint64_t *ids, size_t n);

/* A 64-bit id for a name (FNV-1a), for keying streams by entity name. */
uint64_t rng_name_id(const char *name);
gsl_rng *rng_bank_get(struct rng_bank *b, size_t i);
void rng_bank_free(struct rng_bank *b);

/* Fill buf with len bytes drawn from the stream (key material, forged MACs in attack models). */
void rng_fill(gsl_rng *r, void *buf, size_t len);

/* Exponential draw with the given mean: -mean * log(u) with u = (k + 1) / 2^53 in (0, 1], so the
 * log is finite. */
static inline double rng_exponential(gsl_rng *r, double mean)
{
    return -mean * log((double)((rng_u64(r) >> 11) + 1) * 0x1.0p-53);
}

#endif
