/*
 * registry — the trusted server of the SETM paper (Algorithm 1): it registers agents and holds
 * what it needs to identify (uI) and authenticate (uA) them.
 *
 * Registration gives agent i, for i < n: an identity (its index; identities >= n were never
 * issued), an Ed25519 key pair whose public key the server stores (for signatures on chain), a
 * 32-byte key shared only with the server for MACs on its market messages, a second 32-byte
 * server key under which the server delivers it mutual keys, and an X25519 key pair (for the
 * kx model below).  All key material is derived from seeded streams: the agent's (seed,
 * "security.keys", agent name) and the server's own secret (seed, "security.server", 0), so a
 * run is reproducible; no agent's key ever depends on another agent's.
 *
 * The mutual key of a pair (paper section 3.3, Figure 4) follows one of two models:
 *   bestowed (the paper's, the default): "a mutual key is bestowed to users in a transaction":
 *     the server derives the pair's key from its secret and the unordered pair, and delivers it
 *     to each party sealed under that party's own server key; each party opens its delivery,
 *     which fails when it was altered or was not meant for that party and pair.
 *   kx: each party derives the key itself from its X25519 secret and the peer's public key
 *     (crypto_kx), with no server involved; a bounded cache keeps derived keys.
 *
 * The registry is the only holder of secret keys; callers get them by reference for the agent
 * they act for.  Memory: about 230 bytes per agent, plus in the kx model the pair cache
 * (2.5 MiB at most).
 */
#ifndef SETM_SECURITY_REGISTRY_H
#define SETM_SECURITY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ID_MAC_BYTES 32   /* keyed BLAKE2b-256 tag (crypto_generichash, 32-byte key) */
#define ID_KEY_BYTES 32
#define ID_PK_BYTES 32    /* Ed25519 public key */
#define ID_SIG_BYTES 64   /* Ed25519 signature */
#define ID_PAIR_CACHE_SLOTS (1u << 16) /* kx mutual keys kept: 65536 x 40 bytes = 2.5 MiB */
#define ID_NONCE_BYTES 24 /* crypto_secretbox (XSalsa20-Poly1305) nonce */
#define ID_SEAL_TAG_BYTES 16 /* its Poly1305 tag */
/* A mutual-key delivery: nonce || tag || sealed key (crypto_secretbox_easy's layout after the
 * nonce).  The nonce is "SETMpair", the recipient's id and the peer's id (4 bytes each, little
 * endian), then 8 zero bytes; it is unique per key and recipient-peer pair, and the one
 * plaintext sealed under it is that pair's key, so re-delivering a key repeats its ciphertext
 * and never reuses a nonce for another plaintext. */
#define ID_DELIVERY_BYTES (ID_NONCE_BYTES + ID_SEAL_TAG_BYTES + ID_KEY_BYTES)

/* How a pair's mutual key comes about (security.mutual_key; see the comment at the top). */
enum id_mutual_model {
    ID_MUTUAL_BESTOWED, /* derived by the server, delivered under each party's server key */
    ID_MUTUAL_KX        /* derived by each party from its X25519 secret (crypto_kx) */
};

struct id_registry;

/* Register `n` agents named names[0..n-1] (borrowed for the call), their mutual keys following
 * `model`.  Returns NULL with `e` filled (ERR_NOMEM, or ERR_RUNTIME when libsodium cannot
 * initialise). */
struct id_registry *id_registry_new(uint64_t seed, const char *const *names, size_t n,
                                    enum id_mutual_model model, struct err *e);

/* The same registry with the agents' key pairs generated on the worker pool `p` (core/pool.h;
 * borrowed for the call, NULL = in the caller): each agent's keys come from its own stream, so
 * they are the same for any number of threads.  Same errors as id_registry_new. */
struct pool;
struct id_registry *id_registry_new_pool(uint64_t seed, const char *const *names, size_t n,
                                         enum id_mutual_model model, struct pool *p,
                                         struct err *e);
void id_registry_free(struct id_registry *r);

/* 1 when `id` was issued by the server (identification, uI). */
int id_is_registered(const struct id_registry *r, uint64_t id);

/* MAC of msg under agent `id`'s server key (what the agent computes when sending). */
void id_mac(const struct id_registry *r, uint32_t id, const unsigned char *msg, size_t len,
            unsigned char tag[ID_MAC_BYTES]);

/* Authentication (uA): 1 when `tag` is the MAC of msg under `id`'s key; 0 otherwise, including
 * for an unregistered id. */
int id_mac_verify(const struct id_registry *r, uint64_t id, const unsigned char *msg, size_t len,
                  const unsigned char tag[ID_MAC_BYTES]);

/* Ed25519: agent `id` signs; anybody verifies against the registered public key. */
void id_sign(const struct id_registry *r, uint32_t id, const unsigned char *msg, size_t len,
             unsigned char sig[ID_SIG_BYTES]);
int id_verify(const struct id_registry *r, uint32_t id, const unsigned char *msg, size_t len,
              const unsigned char sig[ID_SIG_BYTES]);
const unsigned char *id_public_key(const struct id_registry *r, uint32_t id);

enum id_mutual_model id_mutual_model(const struct id_registry *r);

/* The server's side of the bestowed model: the key of the pair {to, peer}, sealed for `to`
 * under to's delivery key (crypto_secretbox_easy; layout at ID_DELIVERY_BYTES).  The key is
 * crypto_kdf_derive_from_key under the server's secret, context "SETMpair", subkey id
 * (lower id << 32 | higher id), so both parties of a pair are given the same key and every pair
 * a different one, whatever the order of calls.  0, or ERR_RUNTIME (to == peer, an unknown
 * agent).  Reads only: safe from several threads at once. */
int id_pair_key_bestow(const struct id_registry *r, uint32_t to, uint32_t peer,
                       unsigned char out[ID_DELIVERY_BYTES]);

/* The party's side: `to` opens a delivery of its key with `peer`.  0 and the key; ERR_VERIFY
 * when the delivery was not sealed by the server for `to` and this pair (altered in any byte,
 * forged, or meant for another party or pair), ERR_RUNTIME for to == peer or an unknown agent.
 * Safe from several threads at once. */
int id_pair_key_open(const struct id_registry *r, uint32_t to, uint32_t peer,
                     const unsigned char in[ID_DELIVERY_BYTES], unsigned char key[ID_KEY_BYTES]);

/* Agent `id`'s key for mutual-key deliveries, shared with the server only (by reference: for
 * the agent it belongs to, and for tests that open a delivery with libsodium directly). */
const unsigned char *id_delivery_key(const struct id_registry *r, uint32_t id);

/* The server's 32-byte secret from which bestowed keys derive (by reference; the server's own,
 * for tests that recompute a pair's key with libsodium). */
const unsigned char *id_server_secret(const struct id_registry *r);

/* The mutual key of agents a and b (a != b), as `a` holds it: bestowed, the server's delivery
 * to a, opened by a (every call is a new delivery: a key is bestowed in each transaction, and
 * nothing is cached); kx, a's derivation from its X25519 secret and b's public key, kept in a
 * bounded per-run cache (ID_PAIR_CACHE_SLOTS ordered pairs; an evicted pair is derived again,
 * with the same result).  b gets the same key.  0, or ERR_RUNTIME (a == b, an unknown agent, a
 * key exchange that fails on a low-order public key, a delivery that does not open), ERR_NOMEM. */
int id_mutual_key(struct id_registry *r, uint32_t a, uint32_t b, unsigned char key[ID_KEY_BYTES]);

/* The pieces of id_mutual_key, for many keys in parallel (core/pool.h): derive (a delivery
 * opened, or a crypto_kx derivation) touches no cache and is safe to call from several threads
 * at once; cached reads the cache (1 and the key when a's derivation with b is there, else 0,
 * always 0 in the bestowed model; safe concurrently with other reads); remember stores a derived
 * key (0 or ERR_NOMEM; a no-op in the bestowed model; not concurrently with anything). */
int id_mutual_key_derive(const struct id_registry *r, uint32_t a, uint32_t b,
                         unsigned char key[ID_KEY_BYTES]);
int id_mutual_key_cached(const struct id_registry *r, uint32_t a, uint32_t b,
                         unsigned char key[ID_KEY_BYTES]);
int id_mutual_key_remember(struct id_registry *r, uint32_t a, uint32_t b,
                           const unsigned char key[ID_KEY_BYTES]);

/* MAC under an explicit key (mutual-key messages, and attackers' forgeries in tests). */
void id_mac_with(const unsigned char key[ID_KEY_BYTES], const unsigned char *msg, size_t len,
                 unsigned char tag[ID_MAC_BYTES]);
int id_mac_verify_with(const unsigned char key[ID_KEY_BYTES], const unsigned char *msg, size_t len,
                       const unsigned char tag[ID_MAC_BYTES]);

size_t id_count(const struct id_registry *r);

#endif
