/*
 * chain/block — header (de)serialisation, Merkle roots, difficulty and the stateless block check.
 *
 * Targets are 256-bit little-endian numbers (mine/pow.h).  The retarget multiplies and divides
 * them exactly in 32-bit limbs so every node, and an independent verifier, gets the same bits.
 */
#include "chain/block.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "crypto/sha256.h"

/* Is the line `name = value` (len bytes, maybe newline-terminated) the key `key`? */
static int line_is_key(const char *line, size_t len, const char *key)
{
    size_t k = strlen(key);
    return len > k && !strncmp(line, key, k) &&
           (line[k] == ' ' || line[k] == '\t' || line[k] == '=');
}

/* Keys added to [chain] after identity version 1 (`chain.tx_window`): committed only when set
 * away from their default, so a scenario that leaves them alone keeps the identity, and every
 * block hash, it had before they existed; any other value changes the identity. */
static int identity_default_key(const char *line, size_t len)
{
    char value[64];
    const char *eq;
    size_t n;
    if (!line_is_key(line, len, "tx_window") || !(eq = memchr(line, '=', len)))
        return 0;
    eq++;
    while (eq < line + len && (*eq == ' ' || *eq == '\t'))
        eq++;
    n = (size_t)(line + len - eq);
    while (n > 0 && (eq[n - 1] == '\n' || eq[n - 1] == '\r' || eq[n - 1] == ' '))
        n--;
    if (n >= sizeof value)
        return 0;
    memcpy(value, eq, n);
    value[n] = 0;
    return cfg_value_is_default("chain", "tx_window", value, NULL) == 1;
}

/* Lines of the resolved scenario the identity leaves out: the [mine] and [output] sections, the
 * key `threads` of [sim] (how a run is computed and stored, never what it simulates), and
 * [chain] keys newer than the identity at their defaults (identity_default_key).  `section`
 * carries the current section between calls: 0 kept, 1 left out, 2 [sim], 3 [chain]. */
static int identity_skips(const char *line, size_t len, int *section)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    line += i;
    len -= i;
    if (len > 0 && line[0] == '[') {
        *section = (len >= 6 && !strncmp(line, "[mine]", 6)) ||
                           (len >= 8 && !strncmp(line, "[output]", 8))
                       ? 1
                   : (len >= 5 && !strncmp(line, "[sim]", 5))   ? 2
                   : (len >= 7 && !strncmp(line, "[chain]", 7)) ? 3
                                                                 : 0;
        return *section == 1;
    }
    if (*section == 2 && line_is_key(line, len, "threads"))
        return 1;
    if (*section == 3 && identity_default_key(line, len))
        return 1;
    return *section == 1;
}

void chain_identity_root(const char *scenario, int64_t seed, const char *version,
                         unsigned char out[MINE_HASH_LEN])
{
    struct crypto_sha256 c;
    unsigned char h1[CRYPTO_SHA256_LEN];
    char head[160];
    const char *p = scenario ? scenario : "";
    int section = 0, n;
    n = snprintf(head, sizeof head, "setm run identity 1\nversion=%.64s\nseed=%lld\n",
                 version ? version : "", (long long)seed);
    crypto_sha256_init(&c);
    crypto_sha256_update(&c, head, (size_t)n);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (!identity_skips(p, len, &section))
            crypto_sha256_update(&c, p, len);
        p += len;
    }
    crypto_sha256_final(&c, h1);
    crypto_sha256(h1, sizeof h1, out);
}

void chain_header_pack(const struct chain_header *h, unsigned char out[MINE_HEADER_LEN])
{
    mine_header_set_u32(out, MINE_HDR_VERSION, h->version);
    memcpy(out + MINE_HDR_PREV, h->prev, MINE_HASH_LEN);
    memcpy(out + MINE_HDR_MERKLE, h->merkle, MINE_HASH_LEN);
    mine_header_set_u32(out, MINE_HDR_TIME, h->time);
    mine_header_set_u32(out, MINE_HDR_BITS, h->bits);
    mine_header_set_u32(out, MINE_HDR_NONCE, h->nonce);
}

void chain_header_unpack(const unsigned char in[MINE_HEADER_LEN], struct chain_header *h)
{
    h->version = mine_header_u32(in, MINE_HDR_VERSION);
    memcpy(h->prev, in + MINE_HDR_PREV, MINE_HASH_LEN);
    memcpy(h->merkle, in + MINE_HDR_MERKLE, MINE_HASH_LEN);
    h->time = mine_header_u32(in, MINE_HDR_TIME);
    h->bits = mine_header_u32(in, MINE_HDR_BITS);
    h->nonce = mine_header_u32(in, MINE_HDR_NONCE);
}

void chain_header_hash(const unsigned char hdr[MINE_HEADER_LEN], unsigned char hash[MINE_HASH_LEN])
{
    crypto_sha256d(hdr, MINE_HEADER_LEN, hash);
}

void chain_merkle_root(const unsigned char (*ids)[CHAIN_TXID_LEN], size_t n,
                       unsigned char (*scratch)[CHAIN_TXID_LEN], unsigned char root[MINE_HASH_LEN])
{
    size_t level;
    if (n == 0) {
        memset(root, 0, MINE_HASH_LEN);
        return;
    }
    if (n == 1) {
        memcpy(root, ids[0], MINE_HASH_LEN);
        return;
    }
    memcpy(scratch, ids, n * CHAIN_TXID_LEN);
    for (level = n; level > 1; level = (level + 1) / 2) {
        for (size_t i = 0; i < level; i += 2) {
            unsigned char pair[2 * CHAIN_TXID_LEN];
            memcpy(pair, scratch[i], CHAIN_TXID_LEN);
            /* an odd level pairs its last hash with itself */
            memcpy(pair + CHAIN_TXID_LEN, scratch[i + 1 < level ? i + 1 : i], CHAIN_TXID_LEN);
            crypto_sha256d(pair, sizeof pair, scratch[i / 2]);
        }
    }
    memcpy(root, scratch[0], MINE_HASH_LEN);
}

/* target = 2^(256-zero_bits) - 1, little-endian */
static void target_of_zero_bits(int zero_bits, unsigned char t[MINE_TARGET_LEN])
{
    int ones = 256 - zero_bits;
    memset(t, 0, MINE_TARGET_LEN);
    for (int i = 0; i < ones / 8; i++)
        t[i] = 0xff;
    if (ones % 8)
        t[ones / 8] = (unsigned char)((1u << (ones % 8)) - 1);
}

int chain_bits_from_zero_bits(int zero_bits, uint32_t *bits, struct err *e)
{
    unsigned char t[MINE_TARGET_LEN];
    if (zero_bits < CHAIN_MIN_ZERO_BITS || zero_bits > CHAIN_MAX_ZERO_BITS)
        return err_set(e, ERR_USAGE, "difficulty of %d zero bits outside %d..%d", zero_bits,
                       CHAIN_MIN_ZERO_BITS, CHAIN_MAX_ZERO_BITS);
    target_of_zero_bits(zero_bits, t);
    *bits = mine_target_to_bits(t);
    return 0;
}

double chain_bits_work(uint32_t bits)
{
    unsigned char t[MINE_TARGET_LEN];
    if (mine_target_from_bits(bits, t, NULL))
        return 0;
    return mine_target_expected_attempts(t);
}

int chain_retarget(uint32_t old_bits, int64_t actual_s, int64_t expected_s, uint32_t *new_bits,
                   struct err *e)
{
    unsigned char t[MINE_TARGET_LEN], limit[MINE_TARGET_LEN];
    uint32_t limb[10] = {0};
    unsigned __int128 acc = 0;
    uint64_t num, den;
    int over = 0;

    if (expected_s <= 0)
        return err_set(e, ERR_USAGE, "retarget: expected timespan %lld s is not positive",
                       (long long)expected_s);
    if (mine_target_from_bits(old_bits, t, e))
        return err_wrap(e, ERR_FORMAT, "retarget");
    den = (uint64_t)expected_s;
    /* Bitcoin's clamp: a retarget changes difficulty by at most a factor 4 either way. */
    num = actual_s < expected_s / 4 ? (uint64_t)(expected_s / 4) : (uint64_t)actual_s;
    if (num > den * 4)
        num = den * 4;
    if (num == 0)
        num = 1;
    for (int i = 0; i < 8; i++) {
        uint32_t w = (uint32_t)t[4 * i] | (uint32_t)t[4 * i + 1] << 8 |
                     (uint32_t)t[4 * i + 2] << 16 | (uint32_t)t[4 * i + 3] << 24;
        acc += (unsigned __int128)w * num;
        limb[i] = (uint32_t)acc;
        acc >>= 32;
    }
    limb[8] = (uint32_t)acc;
    limb[9] = (uint32_t)(acc >> 32);
    {
        unsigned __int128 rem = 0;
        for (int i = 9; i >= 0; i--) {
            unsigned __int128 cur = (rem << 32) | limb[i];
            limb[i] = (uint32_t)(cur / den);
            rem = cur % den;
        }
    }
    over = limb[8] || limb[9];
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 4; b++)
            t[4 * i + b] = (unsigned char)(limb[i] >> (8 * b));
    target_of_zero_bits(CHAIN_MIN_ZERO_BITS, limit);
    if (over || !mine_hash_meets_target(t, limit)) /* t > limit: easier than allowed */
        memcpy(t, limit, sizeof t);
    *new_bits = mine_target_to_bits(t);
    return 0;
}

/* A transaction's own failure becomes the block's: ERR_VERIFY, prefixed with its index. */
int chain_tx_time_ok(double t, double T, double window)
{
    return t >= T - window && floor(t) <= T;
}

static int verify_fail(struct err *e, size_t i)
{
    err_wrap(e, ERR_VERIFY, "tx %zu", i);
    if (e)
        e->code = ERR_VERIFY;
    return ERR_VERIFY;
}

int chain_block_check(const struct chain_block_view *b, const unsigned char prev[MINE_HASH_LEN],
                      uint32_t expected_bits, const char **rule, struct err *e)
{
    struct chain_header h;
    unsigned char target[MINE_TARGET_LEN], hash[MINE_HASH_LEN], root[MINE_HASH_LEN];
    unsigned char(*ids)[CHAIN_TXID_LEN] = NULL;
    struct chain_tx_party *buyers = NULL;
    const char *broke = NULL;
    int rc = 0;

    chain_header_unpack(b->header, &h);
    if (h.version != CHAIN_BLOCK_VERSION) {
        broke = "version";
        rc = err_set(e, ERR_VERIFY, "block version %u (expected %d)", h.version,
                     CHAIN_BLOCK_VERSION);
        goto out;
    }
    if (h.bits != expected_bits) {
        broke = "bits";
        rc = err_set(e, ERR_VERIFY, "block bits 0x%08x, the chain requires 0x%08x", h.bits,
                     expected_bits);
        goto out;
    }
    chain_header_hash(b->header, hash);
    if (mine_target_from_bits(h.bits, target, NULL) || !mine_hash_meets_target(hash, target)) {
        broke = "pow";
        rc = err_set(e, ERR_VERIFY, "block hash does not meet its target 0x%08x", h.bits);
        goto out;
    }
    if (memcmp(h.prev, prev, MINE_HASH_LEN) != 0) {
        broke = "prev";
        rc = err_set(e, ERR_VERIFY, "block does not link to the expected previous block");
        goto out;
    }
    ids = malloc((b->n_tx ? 2 * b->n_tx : 1) * sizeof *ids);
    buyers = malloc(CHAIN_TX_MAX_BUYERS * sizeof *buyers);
    if (!ids || !buyers) {
        rc = err_set(e, ERR_NOMEM, "block check: out of memory for %zu transactions", b->n_tx);
        goto out;
    }
    for (size_t i = 0; i < b->n_tx; i++) {
        struct chain_tx tx;
        if (chain_tx_decode(b->tx[i], b->tx_len[i], &tx, buyers, CHAIN_TX_MAX_BUYERS, e)) {
            broke = "tx_format";
            rc = verify_fail(e, i);
            goto out;
        }
        if (chain_tx_verify(&tx, e)) {
            broke = "signature";
            rc = verify_fail(e, i);
            goto out;
        }
        if (b->tx_window > 0) {
            const double t = tx.kind == CHAIN_TX_TRADE ? tx.agreement_time : tx.time;
            if (!chain_tx_time_ok(t, (double)h.time, b->tx_window)) {
                broke = "tx_window";
                rc = err_set(e, ERR_VERIFY,
                             "tx %zu made at %.3f s is outside the window of the block's time "
                             "%u s: [%.0f, %u] (chain.tx_window = %g s)",
                             i, t, h.time, (double)h.time - b->tx_window, h.time, b->tx_window);
                goto out;
            }
        }
        chain_txid(b->tx[i], b->tx_len[i], ids[i]);
        for (size_t j = 0; j < i; j++)
            if (!memcmp(ids[j], ids[i], CHAIN_TXID_LEN)) {
                broke = "duplicate_tx";
                rc = err_set(e, ERR_VERIFY, "tx %zu repeats tx %zu", i, j);
                goto out;
            }
    }
    chain_merkle_root((const unsigned char(*)[CHAIN_TXID_LEN])ids, b->n_tx, ids + b->n_tx, root);
    if (memcmp(root, h.merkle, MINE_HASH_LEN) != 0) {
        broke = "merkle";
        rc = err_set(e, ERR_VERIFY, "merkle root mismatch over %zu transactions", b->n_tx);
        goto out;
    }
out:
    free(ids);
    free(buyers);
    if (rule)
        *rule = broke;
    return rc;
}
