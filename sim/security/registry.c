/*
 * registry — key material per agent, the server's secret, and the mutual-key cache.
 *
 * Bestowed mutual keys: the pair's key is crypto_kdf (BLAKE2b keyed by the server's secret,
 * the unordered pair, lower id << 32 | higher id, as subkey id) and each delivery is
 * crypto_secretbox (XSalsa20-Poly1305) under the recipient's delivery key, with a nonce fixed by
 * recipient and peer.  Opening recomputes that nonce, so a delivery for another pair or party
 * fails authentication like an altered one.  Derive, seal and open cost 2-3 us per party and
 * trade against 45-90 us for a crypto_kx derivation (setm bench market), so nothing is cached:
 * every transaction is a new delivery, as in the paper, and memory does not grow with pairs.
 *
 * kx mutual keys: crypto_kx gives a client/server pair of session keys; we order the pair by id
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

#include "core/pool.h"
#include "core/rng.h"

struct agent_keys {
    unsigned char mac[ID_KEY_BYTES];
    unsigned char deliver[ID_KEY_BYTES]; /* the server seals this agent's mutual keys with it */
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
    enum id_mutual_model model;
    unsigned char server[crypto_kdf_KEYBYTES]; /* the server's secret: bestowed keys */
    struct agent_keys *keys;
    struct pair_entry *pairs; /* ID_PAIR_CACHE_SLOTS, direct-mapped; NULL until the first key */
};



/* Key generation of one batch: agent i's keys from its own stream (seed, "security.keys",
 * its name), drawn in a fixed order. */
struct keygen {
    struct id_registry *r;
    struct rng_bank *streams; /* entry i: agent i's stream */
};

/* Pool task: agent i's keys.  Reads its stream, writes its own keys only. */
static int keygen_task(void *ctx, size_t i)
{
    struct keygen *g = ctx;
    unsigned char s1[crypto_sign_SEEDBYTES], s2[crypto_kx_SEEDBYTES];
    struct agent_keys *k = &g->r->keys[i];
    gsl_rng *rng = rng_bank_get(g->streams, i);
    rng_fill(rng, k->mac, sizeof k->mac);
    rng_fill(rng, s1, sizeof s1);
    rng_fill(rng, s2, sizeof s2);
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, s1);
    crypto_kx_seed_keypair(k->kx_pk, k->kx_sk, s2);
    rng_fill(rng, k->deliver, sizeof k->deliver); /* drawn last: earlier keys unchanged */
    sodium_memzero(s1, sizeof s1);
    sodium_memzero(s2, sizeof s2);
    return 0;
}

struct id_registry *id_registry_new_pool(uint64_t seed, const char *const *names, size_t n,
                                         enum id_mutual_model model, struct pool *p,
                                         struct err *e)
{
    struct id_registry *r;
    struct keygen g = {NULL, NULL};
    uint64_t *ids = NULL;
    gsl_rng *rng;

    if (sodium_init() < 0) {
        err_set(e, ERR_RUNTIME, "libsodium failed to initialise");
        return NULL;
    }
    r = calloc(1, sizeof *r);
    rng = rng_stream_new(seed, "security.server", 0);
    if (!r || !rng)
        goto oom;
    r->n = n;
    r->model = model;
    rng_fill(rng, r->server, sizeof r->server); /* the server's own stream */
    r->keys = calloc(n ? n : 1, sizeof *r->keys);
    ids = malloc((n ? n : 1) * sizeof *ids);
    if (!r->keys || !ids)
        goto oom;
    for (size_t i = 0; i < n; i++)
        ids[i] = rng_name_id(names[i]);
    g.r = r;
    if (!(g.streams = rng_bank_new_ids(seed, "security.keys", ids, n)))
        goto oom;
    if (p)
        pool_run(p, n, keygen_task, &g, NULL);
    else
        for (size_t i = 0; i < n; i++)
            keygen_task(&g, i);
    rng_bank_free(g.streams);
    free(ids);
    rng_free(rng);
    return r;
oom:
    free(ids);
    rng_free(rng);
    id_registry_free(r);
    err_set(e, ERR_NOMEM, "out of memory registering %zu agents", n);
    return NULL;
}

struct id_registry *id_registry_new(uint64_t seed, const char *const *names, size_t n,
                                    enum id_mutual_model model, struct err *e)
{
    return id_registry_new_pool(seed, names, n, model, NULL, e);
}

void id_registry_free(struct id_registry *r)
{
    if (!r)
        return;
    sodium_memzero(r->server, sizeof r->server);
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

enum id_mutual_model id_mutual_model(const struct id_registry *r) { return r->model; }

const unsigned char *id_delivery_key(const struct id_registry *r, uint32_t id)
{
    return r->keys[id].deliver;
}

const unsigned char *id_server_secret(const struct id_registry *r) { return r->server; }

static void put_u32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void delivery_nonce(uint32_t to, uint32_t peer, unsigned char nonce[ID_NONCE_BYTES])
{
    memset(nonce, 0, ID_NONCE_BYTES);
    memcpy(nonce, "SETMpair", 8);
    put_u32le(nonce + 8, to);
    put_u32le(nonce + 12, peer);
}

int id_pair_key_bestow(const struct id_registry *r, uint32_t to, uint32_t peer,
                       unsigned char out[ID_DELIVERY_BYTES])
{
    unsigned char key[ID_KEY_BYTES];
    uint32_t lo = to < peer ? to : peer, hi = to < peer ? peer : to;
    if (to == peer || to >= r->n || peer >= r->n)
        return ERR_RUNTIME;
    /* the unordered pair: both parties are given the one key */
    crypto_kdf_derive_from_key(key, sizeof key, (uint64_t)lo << 32 | hi, "SETMpair", r->server);
    delivery_nonce(to, peer, out);
    crypto_secretbox_easy(out + ID_NONCE_BYTES, key, sizeof key, out, r->keys[to].deliver);
    sodium_memzero(key, sizeof key);
    return 0;
}

int id_pair_key_open(const struct id_registry *r, uint32_t to, uint32_t peer,
                     const unsigned char in[ID_DELIVERY_BYTES], unsigned char key[ID_KEY_BYTES])
{
    unsigned char nonce[ID_NONCE_BYTES];
    if (to == peer || to >= r->n || peer >= r->n)
        return ERR_RUNTIME;
    /* the nonce `to` expects for this pair, not the one the delivery carries: a delivery meant
     * for another party or pair then fails the tag like an altered one */
    delivery_nonce(to, peer, nonce);
    if (sodium_memcmp(nonce, in, ID_NONCE_BYTES) != 0 ||
        crypto_secretbox_open_easy(key, in + ID_NONCE_BYTES, ID_SEAL_TAG_BYTES + ID_KEY_BYTES,
                                   nonce, r->keys[to].deliver) != 0) {
        sodium_memzero(key, ID_KEY_BYTES);
        return ERR_VERIFY;
    }
    return 0;
}

/* a's copy of the pair's key under the bestowed model: the server seals it, a opens it. */
static int bestowed_key(const struct id_registry *r, uint32_t a, uint32_t b,
                        unsigned char key[ID_KEY_BYTES])
{
    unsigned char d[ID_DELIVERY_BYTES];
    int rc = id_pair_key_bestow(r, a, b, d);
    if (!rc && id_pair_key_open(r, a, b, d, key))
        rc = ERR_RUNTIME; /* nothing alters it in between: only a fault gets here */
    return rc;
}

int id_mutual_key_derive(const struct id_registry *r, uint32_t a, uint32_t b,
                         unsigned char key[ID_KEY_BYTES])
{
    unsigned char rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    int rc;
    if (a == b || a >= r->n || b >= r->n)
        return ERR_RUNTIME;
    if (r->model == ID_MUTUAL_BESTOWED)
        return bestowed_key(r, a, b, key);
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
    if (!r->pairs) /* always so in the bestowed model */
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
    if (r->model == ID_MUTUAL_BESTOWED)
        return 0; /* a key is bestowed in each transaction: nothing kept */
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
