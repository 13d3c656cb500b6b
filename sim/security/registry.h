/*
 * registry — the trusted server of the SETM paper (Algorithm 1): it registers agents and holds
 * what it needs to identify (uI) and authenticate (uA) them.
 *
 * Registration gives agent i, for i < n: an identity (its index; identities >= n were never
 * issued), an Ed25519 key pair whose public key the server stores (for signatures on chain), a
 * 32-byte key shared only with the server for MACs on its market messages, and an X25519 key
 * pair from which two parties derive their mutual key (paper Figure 4).  All key material is
 * derived from the agent's stream (seed, "security.keys", agent name), so a run is reproducible;
 * no key ever depends on another agent's.
 *
 * The registry is the only holder of secret keys; callers get them by reference for the agent
 * they act for.  Memory: about 200 bytes per agent plus the mutual-key cache (2.5 MiB at most).
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
#define ID_PAIR_CACHE_SLOTS (1u << 16) /* mutual keys kept: 65536 x 40 bytes = 2.5 MiB */

struct id_registry;

/* Register `n` agents named names[0..n-1] (borrowed for the call).  Returns NULL with `e` filled
 * (ERR_NOMEM, or ERR_RUNTIME when libsodium cannot initialise). */
struct id_registry *id_registry_new(uint64_t seed, const char *const *names, size_t n,
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

/* The mutual key of agents a and b (a != b), as `a` derives it from its X25519 secret and b's
 * public key; b derives the same.  Kept in a bounded per-run cache (ID_PAIR_CACHE_SLOTS ordered
 * pairs; an evicted pair is derived again, with the same result).  0, or ERR_RUNTIME (a == b, an
 * unknown agent, or a key exchange that fails on a low-order public key), ERR_NOMEM. */
int id_mutual_key(struct id_registry *r, uint32_t a, uint32_t b, unsigned char key[ID_KEY_BYTES]);

/* The pieces of id_mutual_key, for deriving many keys in parallel (core/pool.h): derive touches
 * no cache and is safe to call from several threads at once; cached reads the cache (1 and the
 * key when a's derivation with b is there, else 0; safe concurrently with other reads);
 * remember stores a derived key (0 or ERR_NOMEM; not concurrently with anything). */
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
