/*
 * registry — key material per agent and the mutual-key cache.
 *
 * Mutual keys: crypto_kx gives a client/server pair of session keys; we order the pair by id
 * (lower id plays "client") so both parties compute the same key, and use the client->server
 * key for the pair.  The cache is keyed by the ORDERED pair (deriving party, peer): each
 * party's derivation is computed from its own secret, so a check that both sides agree compares
 * two independent computations.  It is direct-mapped with ID_PAIR_CACHE_SLOTS slots (a new pair
 * replaces whatever shared its slot), so its memory is fixed however many pairs trade in a run;
 * an evicted pair derives its key again, which gives the same key (the derivation is a pure
 * function of the two key pairs), so the cache changes the cost, never a result.
 */
#include "registry.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

struct agent_keys {
    unsigned char mac[ID_KEY_BYTES];
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sign_sk[crypto_sign_SECRETKEYBYTES];
    unsigned char kx_pk[crypto_kx_PUBLICKEYBYTES];
    unsigned char kx_sk[crypto_kx_SECRETKEYBYTES];
};

struct pair_entry {
    uint64_t key; /* 0 = empty; else (deriving party + 1) << 32 | (peer + 1) */
    unsigned char mutual[ID_KEY_BYTES];
};

struct id_registry {
    size_t n;
    struct agent_keys *keys;
    struct pair_entry *pairs; /* ID_PAIR_CACHE_SLOTS, direct-mapped; NULL until the first key */
};



struct id_registry *id_registry_new(uint64_t seed, const char *const *names, size_t n,
                                    struct err *e)
{
    struct id_registry *r;
    gsl_rng *rng;

    if (sodium_init() < 0) {
        err_set(e, ERR_RUNTIME, "libsodium failed to initialise");
        return NULL;
    }
    r = calloc(1, sizeof *r);
    rng = rng_stream_new(seed, "security.keys", 0);
    if (!r || !rng)
        goto oom;
    r->n = n;
    r->keys = calloc(n ? n : 1, sizeof *r->keys);
    if (!r->keys)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        unsigned char s1[crypto_sign_SEEDBYTES], s2[crypto_kx_SEEDBYTES];
        struct agent_keys *k = &r->keys[i];
        rng_stream_reset(rng, seed, "security.keys", rng_name_id(names[i]));
        rng_fill(rng, k->mac, sizeof k->mac);
        rng_fill(rng, s1, sizeof s1);
        rng_fill(rng, s2, sizeof s2);
        crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, s1);
        crypto_kx_seed_keypair(k->kx_pk, k->kx_sk, s2);
        sodium_memzero(s1, sizeof s1);
        sodium_memzero(s2, sizeof s2);
    }
    rng_free(rng);
    return r;
oom:
    rng_free(rng);
    id_registry_free(r);
    err_set(e, ERR_NOMEM, "out of memory registering %zu agents", n);
    return NULL;
}

void id_registry_free(struct id_registry *r)
{
    if (!r)
        return;
    if (r->keys)
        sodium_memzero(r->keys, r->n * sizeof *r->keys);
    if (r->pairs)
        sodium_memzero(r->pairs, ID_PAIR_CACHE_SLOTS * sizeof *r->pairs);
    free(r->keys);
    free(r->pairs);
    free(r);
}

size_t id_count(const struct id_registry *r) { return r->n; }

int id_is_registered(const struct id_registry *r, uint64_t id) { return id < r->n; }

/* BLAKE2b in keyed mode is a PRF and so a MAC by design (RFC 7693 section 2.9), with no HMAC
 * wrapper needed: one compression for the key block and one for a 41-byte message, against
 * HMAC-SHA-512-256's four SHA-512 compressions (0.4 against 1.7 us here; README Performance). */
void id_mac_with(const unsigned char key[ID_KEY_BYTES], const unsigned char *msg, size_t len,
                 unsigned char tag[ID_MAC_BYTES])
{
    crypto_generichash(tag, ID_MAC_BYTES, msg, len, key, ID_KEY_BYTES);
}

int id_mac_verify_with(const unsigned char key[ID_KEY_BYTES], const unsigned char *msg, size_t len,
                       const unsigned char tag[ID_MAC_BYTES])
{
    unsigned char want[ID_MAC_BYTES];
    int ok;
    crypto_generichash(want, ID_MAC_BYTES, msg, len, key, ID_KEY_BYTES);
    ok = crypto_verify_32(want, tag) == 0; /* constant time */
    sodium_memzero(want, sizeof want);
    return ok;
}

void id_mac(const struct id_registry *r, uint32_t id, const unsigned char *msg, size_t len,
            unsigned char tag[ID_MAC_BYTES])
{
    id_mac_with(r->keys[id].mac, msg, len, tag);
}

int id_mac_verify(const struct id_registry *r, uint64_t id, const unsigned char *msg, size_t len,
                  const unsigned char tag[ID_MAC_BYTES])
{
    if (!id_is_registered(r, id))
        return 0;
    return id_mac_verify_with(r->keys[id].mac, msg, len, tag);
}

void id_sign(const struct id_registry *r, uint32_t id, const unsigned char *msg, size_t len,
             unsigned char sig[ID_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, r->keys[id].sign_sk);
}

int id_verify(const struct id_registry *r, uint32_t id, const unsigned char *msg, size_t len,
              const unsigned char sig[ID_SIG_BYTES])
{
    if (!id_is_registered(r, id))
        return 0;
    return crypto_sign_verify_detached(sig, msg, len, r->keys[id].sign_pk) == 0;
}

const unsigned char *id_public_key(const struct id_registry *r, uint32_t id)
{
    return r->keys[id].sign_pk;
}

int id_mutual_key_derive(const struct id_registry *r, uint32_t a, uint32_t b,
                         unsigned char key[ID_KEY_BYTES])
{
    unsigned char rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    int rc;
    if (a == b || a >= r->n || b >= r->n)
        return ERR_RUNTIME;
    /* `a` derives the key from its own secret and b's public key. */
    if (a < b)
        rc = crypto_kx_client_session_keys(rx, tx, r->keys[a].kx_pk, r->keys[a].kx_sk,
                                           r->keys[b].kx_pk);
    else /* server's (rx, tx) into (tx, rx): its rx is the client's tx */
        rc = crypto_kx_server_session_keys(tx, rx, r->keys[a].kx_pk, r->keys[a].kx_sk,
                                           r->keys[b].kx_pk);
    if (rc != 0)
        return ERR_RUNTIME;
    /* The client's tx key equals the server's rx key; both branches above leave it in `tx`
     * (the server call writes its rx there), so either party gets the pair's one key. */
    memcpy(key, tx, ID_KEY_BYTES);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    return 0;
}

static uint64_t pair_key(uint32_t a, uint32_t b) { return ((uint64_t)a + 1) << 32 | ((uint64_t)b + 1); }

static size_t pair_slot(uint64_t k) { return (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 40) & (ID_PAIR_CACHE_SLOTS - 1); }

int id_mutual_key_cached(const struct id_registry *r, uint32_t a, uint32_t b,
                         unsigned char key[ID_KEY_BYTES])
{
    uint64_t k = pair_key(a, b);
    const struct pair_entry *p;
    if (!r->pairs)
        return 0;
    p = &r->pairs[pair_slot(k)];
    if (p->key != k)
        return 0;
    memcpy(key, p->mutual, ID_KEY_BYTES);
    return 1;
}

int id_mutual_key_remember(struct id_registry *r, uint32_t a, uint32_t b,
                           const unsigned char key[ID_KEY_BYTES])
{
    uint64_t k = pair_key(a, b);
    struct pair_entry *p;
    if (!r->pairs && !(r->pairs = calloc(ID_PAIR_CACHE_SLOTS, sizeof *r->pairs)))
        return ERR_NOMEM;
    p = &r->pairs[pair_slot(k)];
    p->key = k;
    memcpy(p->mutual, key, ID_KEY_BYTES);
    return 0;
}

int id_mutual_key(struct id_registry *r, uint32_t a, uint32_t b, unsigned char key[ID_KEY_BYTES])
{
    int rc;
    if (a == b || a >= r->n || b >= r->n)
        return ERR_RUNTIME;
    if (id_mutual_key_cached(r, a, b, key))
        return 0;
    if ((rc = id_mutual_key_derive(r, a, b, key)))
        return rc;
    return id_mutual_key_remember(r, a, b, key);
}
