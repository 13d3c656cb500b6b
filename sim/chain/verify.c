/*
 * chain/verify — re-check a run's /blocks, /transactions and /trades; see verify.h.
 *
 * The tables are read whole into memory (one array per column), then checked in passes, each of
 * which may rely on what the earlier ones established:
 *   1. blocks alone: header hex, hash, every column that repeats a header field (previous,
 *      merkle_root, version, time, bits, nonce, difficulty, attempts), proof of work;
 *   2. transaction rows: parts reassembled, encoding decoded, txid re-derived, row tied to its
 *      block by hash, index/height/stale consistent with the block;
 *   3. the block tree: parents by hash one height below, bits from the difficulty rule, chainwork,
 *      the genesis block's commitment to the run's identity (scenario, seed, version), tx_count,
 *      size, miner, times, then chain_block_check on each block (Merkle root, signatures,
 *      chain.tx_window, duplicates: the nodes' rule);
 *   4. the main chain: stale = 0 blocks are heights 0..H once each, linked, with the most work,
 *      and the `chain_tip` attribute names its tip;
 *   5. /trades against every trade transaction, each row's inclusion (height, t_included) and
 *      confirmation (t_confirmed) against the main chain, tx_case against the slot's order;
 *   6. balances along the main chain; 7. /summary scalars that the tables determine.
 * A pass stops at its first failure; the message names a block by height and hash and a
 * transaction by txid.
 *
 * Size (~1,300 lines, over the ~900 the README's design notes allow): the seven passes share the
 * verifier's in-memory columns and failure helpers, and each relies on what the earlier passes
 * established; a split would cut at the pass headers behind an internal header, as chain.c's
 * split did (not done yet: the file is being worked on elsewhere in this round).
 */
#include "chain/verify.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/block.h"
#include "chain/chain.h"
#include "chain/tx.h"
#include "core/pool.h"
#include "io/h5.h"
#include "mine/mine.h"
#include "mine/pow.h"

#define HEX_HASH 65
#define HEX_HDR (2 * MINE_HEADER_LEN + 1)
#define HEX_PART 1024 /* hex digits of an encoding per /transactions row (chain.c ENC_HEX_PART) */
#define MAX_PARTS ((2 * CHAIN_TX_MAX_LEN + HEX_PART - 1) / HEX_PART)
#define NO_ROW ((size_t)-1)

struct blocks_cols {
    size_t n;
    int64_t *height, *stale;
    double *work, *t_pub;
    /* columns that repeat or follow from the header and the transactions */
    int64_t *version, *time, *bits, *nonce, *nonce_start, *miner, *tx_count, *size, *withheld;
    uint64_t *attempts;
    double *difficulty, *t_found;
    char (*hash)[HEX_HASH], (*prev)[HEX_HASH], (*merkle)[HEX_HASH];
    char (*header)[HEX_HDR];
};

struct txs_cols {
    size_t n;
    char (*block)[HEX_HASH], (*txid)[HEX_HASH];
    char (*enc)[HEX_PART + 1];
    int64_t *height, *index, *stale, *kind, *part, *parts;
    uint64_t *ref;
};

struct trades_cols {
    size_t n;
    uint64_t *id, *group;
    int64_t *seller, *buyer, *height, *slot, *tx_case;
    double *kwh, *price, *t_request, *t_agree, *t_included, *t_confirmed;
};

struct vblock {
    unsigned char hdr[MINE_HEADER_LEN], hash[MINE_HASH_LEN];
    size_t parent; /* row of the parent, NO_ROW for genesis */
    uint32_t bits;
    uint32_t roll; /* seconds its header time was rolled: (attempts - 1) / span (pass 1) */
    uint32_t want; /* bits the difficulty rule gives it (pass 3) */
    double work;
    size_t tx0, ntx; /* its transactions: vtx[order[tx0 .. tx0+ntx)] */
};

struct vtx {
    size_t row;   /* first /transactions row */
    size_t block; /* /blocks row */
    const unsigned char *enc;
    size_t len;
    unsigned char id[CHAIN_TXID_LEN];
};

struct verifier {
    const char *path;
    struct h5_reader *r;
    struct cfg cfg_own;
    const struct cfg *cfg; /* NULL in chain-only mode without a configuration */
    unsigned flags;
    uint64_t span; /* nonces per time roll: 2^32 (mine_roll_span_env) */
    size_t max_bytes;
    struct blocks_cols b;
    struct txs_cols t;
    struct trades_cols tr;
    struct vblock *vb;
    size_t *by_hash;   /* block rows sorted by stored hash string */
    struct vtx *vt;
    size_t nvt;
    size_t *tx_order;  /* vt indices grouped by block row, in index order */
    unsigned char *encbuf;
    struct chain_tx_party *parties;
    size_t *tr_order;  /* /trades rows sorted by (group, id) */
    size_t *main_at;   /* main-chain block row per height */
    size_t *by_tpub;   /* block rows with a t_published, sorted by it */
    size_t n_tpub;
    char *id_text, *id_version; /* the run identity the genesis commits to (NULL: unknown) */
    int64_t id_seed;
    int64_t trades_confirmed; /* main-chain trade transactions with chain.confirmations on top */
    unsigned char (*pk)[CHAIN_PK_LEN];
    uint8_t *pk_set;
    int64_t n_agents;
    struct chain_verify_report *rep;
    struct pool *workers; /* pass 3's block checks; owned */
    struct err *e;
};

/* ---- failures --------------------------------------------------------------------------- */

static int fail_block(struct verifier *v, size_t row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_tx(struct verifier *v, const char *txid, size_t block_row, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_block(struct verifier *v, size_t row, const char *fmt, ...)
{
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    v->rep->fail_height = v->b.height[row];
    snprintf(v->rep->fail_block, sizeof v->rep->fail_block, "%s", v->b.hash[row]);
    return err_set(v->e, ERR_VERIFY, "block %lld (%s): %s", (long long)v->b.height[row],
                   v->b.hash[row], what);
}

static int fail_tx(struct verifier *v, const char *txid, size_t block_row, const char *fmt, ...)
{
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(v->rep->fail_txid, sizeof v->rep->fail_txid, "%s", txid);
    if (block_row == NO_ROW)
        return err_set(v->e, ERR_VERIFY, "transaction %s: %s", txid, what);
    v->rep->fail_height = v->b.height[block_row];
    snprintf(v->rep->fail_block, sizeof v->rep->fail_block, "%s", v->b.hash[block_row]);
    return err_set(v->e, ERR_VERIFY, "transaction %s in block %lld (%s): %s", txid,
                   (long long)v->b.height[block_row], v->b.hash[block_row], what);
}

/* ---- reading ---------------------------------------------------------------------------- */

static int col(struct verifier *v, const char *table, const char *name, enum h5_type type,
               size_t str_size, void **out, size_t *n, size_t *n_table, const char **first)
{
    size_t got = 0;
    int rc = h5_reader_column(v->r, table, name, type, str_size, v->max_bytes, out, &got, v->e);
    if (rc)
        return rc;
    if (*first && got != *n_table)
        return err_set(v->e, ERR_FORMAT,
                       "%s: table /%s: column '%s' has %zu rows but column '%s' has %zu",
                       v->path, table, name, got, *first, *n_table);
    if (!*first) {
        *first = name;
        *n_table = got;
    }
    *n = got;
    return 0;
}

#define COL(tab, name, type, size, field, ntab, first)                                             \
    do {                                                                                           \
        size_t n_;                                                                                 \
        int rc_ = col(v, tab, name, type, size, (void **)&(field), &n_, &(ntab), &(first));       \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

static int read_tables(struct verifier *v)
{
    const char *f1 = NULL, *f2 = NULL, *f3 = NULL;
    COL("blocks", "height", H5_COL_I64, 0, v->b.height, v->b.n, f1);
    COL("blocks", "hash", H5_COL_STR, HEX_HASH, v->b.hash, v->b.n, f1);
    COL("blocks", "previous", H5_COL_STR, HEX_HASH, v->b.prev, v->b.n, f1);
    COL("blocks", "merkle_root", H5_COL_STR, HEX_HASH, v->b.merkle, v->b.n, f1);
    COL("blocks", "header", H5_COL_STR, HEX_HDR, v->b.header, v->b.n, f1);
    COL("blocks", "stale", H5_COL_I64, 0, v->b.stale, v->b.n, f1);
    COL("blocks", "chainwork", H5_COL_F64, 0, v->b.work, v->b.n, f1);
    COL("blocks", "t_published", H5_COL_F64, 0, v->b.t_pub, v->b.n, f1);
    COL("blocks", "version", H5_COL_I64, 0, v->b.version, v->b.n, f1);
    COL("blocks", "time", H5_COL_I64, 0, v->b.time, v->b.n, f1);
    COL("blocks", "bits", H5_COL_I64, 0, v->b.bits, v->b.n, f1);
    COL("blocks", "nonce", H5_COL_I64, 0, v->b.nonce, v->b.n, f1);
    COL("blocks", "nonce_start", H5_COL_I64, 0, v->b.nonce_start, v->b.n, f1);
    COL("blocks", "attempts", H5_COL_U64, 0, v->b.attempts, v->b.n, f1);
    COL("blocks", "difficulty", H5_COL_F64, 0, v->b.difficulty, v->b.n, f1);
    COL("blocks", "miner", H5_COL_I64, 0, v->b.miner, v->b.n, f1);
    COL("blocks", "tx_count", H5_COL_I64, 0, v->b.tx_count, v->b.n, f1);
    COL("blocks", "size_bytes", H5_COL_I64, 0, v->b.size, v->b.n, f1);
    COL("blocks", "withheld", H5_COL_I64, 0, v->b.withheld, v->b.n, f1);
    COL("blocks", "t_found", H5_COL_F64, 0, v->b.t_found, v->b.n, f1);
    COL("transactions", "block", H5_COL_STR, HEX_HASH, v->t.block, v->t.n, f2);
    COL("transactions", "height", H5_COL_I64, 0, v->t.height, v->t.n, f2);
    COL("transactions", "index", H5_COL_I64, 0, v->t.index, v->t.n, f2);
    COL("transactions", "stale", H5_COL_I64, 0, v->t.stale, v->t.n, f2);
    COL("transactions", "txid", H5_COL_STR, HEX_HASH, v->t.txid, v->t.n, f2);
    COL("transactions", "kind", H5_COL_I64, 0, v->t.kind, v->t.n, f2);
    COL("transactions", "ref", H5_COL_U64, 0, v->t.ref, v->t.n, f2);
    COL("transactions", "part", H5_COL_I64, 0, v->t.part, v->t.n, f2);
    COL("transactions", "parts", H5_COL_I64, 0, v->t.parts, v->t.n, f2);
    COL("transactions", "encoding", H5_COL_STR, HEX_PART + 1, v->t.enc, v->t.n, f2);
    if (v->flags & CHAIN_VERIFY_CHAIN_ONLY)
        return 0;
    COL("trades", "id", H5_COL_U64, 0, v->tr.id, v->tr.n, f3);
    COL("trades", "group", H5_COL_U64, 0, v->tr.group, v->tr.n, f3);
    COL("trades", "seller", H5_COL_I64, 0, v->tr.seller, v->tr.n, f3);
    COL("trades", "buyer", H5_COL_I64, 0, v->tr.buyer, v->tr.n, f3);
    COL("trades", "kwh", H5_COL_F64, 0, v->tr.kwh, v->tr.n, f3);
    COL("trades", "price", H5_COL_F64, 0, v->tr.price, v->tr.n, f3);
    COL("trades", "t_request", H5_COL_F64, 0, v->tr.t_request, v->tr.n, f3);
    COL("trades", "t_agree", H5_COL_F64, 0, v->tr.t_agree, v->tr.n, f3);
    COL("trades", "height", H5_COL_I64, 0, v->tr.height, v->tr.n, f3);
    COL("trades", "slot", H5_COL_I64, 0, v->tr.slot, v->tr.n, f3);
    COL("trades", "tx_case", H5_COL_I64, 0, v->tr.tx_case, v->tr.n, f3);
    COL("trades", "t_included", H5_COL_F64, 0, v->tr.t_included, v->tr.n, f3);
    COL("trades", "t_confirmed", H5_COL_F64, 0, v->tr.t_confirmed, v->tr.n, f3);
    return 0;
}

/* The run must be finished, and its configuration must parse. */
static int read_run(struct verifier *v, const struct chain_verify_opts *o)
{
    int64_t complete = 0;
    char *text = NULL;
    int rc;
    if (!(v->flags & CHAIN_VERIFY_CHAIN_ONLY)) {
        rc = h5_reader_attr_i64(v->r, "complete", &complete, v->e);
        if (rc == ERR_NOTFOUND)
            return err_set(v->e, ERR_FORMAT, "%s: no 'complete' attribute: not a setm run file",
                           v->path);
        if (rc)
            return rc;
        if (complete != 1)
            return err_set(v->e, ERR_FORMAT,
                           "%s: a partial run (complete = %lld): the run was stopped before it "
                           "finished, so its chain cannot be verified",
                           v->path, (long long)complete);
    }
    if (v->flags & CHAIN_VERIFY_CHAIN_ONLY) {
        /* the chain's own tests: the identity is the given configuration's, this version's */
        if (!o || !o->cfg)
            return 0;
        v->cfg = o->cfg;
        v->id_text = cfg_to_string(o->cfg);
        v->id_version = malloc(sizeof SETM_VERSION);
        if (!v->id_text || !v->id_version)
            return err_set(v->e, ERR_NOMEM, "verify: out of memory");
        memcpy(v->id_version, SETM_VERSION, sizeof SETM_VERSION);
        v->id_seed = o->cfg->scenario.seed;
        return 0;
    }
    rc = h5_reader_attr_str(v->r, "scenario", &text, v->e);
    if (rc == ERR_NOTFOUND)
        return err_set(v->e, ERR_FORMAT, "%s: no 'scenario' attribute: not a setm run file",
                       v->path);
    if (rc)
        return rc;
    v->id_text = text;
    rc = h5_reader_attr_str(v->r, "version", &v->id_version, v->e);
    if (!rc)
        rc = h5_reader_attr_i64(v->r, "seed", &v->id_seed, v->e);
    if (rc == ERR_NOTFOUND)
        return err_set(v->e, ERR_FORMAT, "%s: no 'version' or 'seed' attribute: not a setm run "
                       "file", v->path);
    if (rc)
        return rc;
    if (o && o->cfg) {
        v->cfg = o->cfg;
        return 0;
    }
    rc = cfg_load_string(&v->cfg_own, text, "scenario attribute", v->e);
    if (!rc)
        rc = cfg_validate(&v->cfg_own, v->e);
    if (rc)
        return err_set(v->e, ERR_FORMAT, "%s: the resolved scenario in the file does not load: %s",
                       v->path, v->e->msg);
    v->cfg = &v->cfg_own;
    return 0;
}

/* ---- pass 1: blocks alone ----------------------------------------------------------------- */

/* Block i's columns that repeat a header field, or follow from one, must say what it says. */
static int check_header_columns(struct verifier *v, size_t i, const struct chain_header *h)
{
    const struct {
        const char *name;
        int64_t stored;
        uint32_t header;
    } f[] = {{"version", v->b.version[i], h->version},
             {"time", v->b.time[i], h->time},
             {"bits", v->b.bits[i], h->bits},
             {"nonce", v->b.nonce[i], h->nonce}};
    const double diff = log2(chain_bits_work(h->bits));
    uint64_t off, roll;
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
        if (f[k].stored != (int64_t)f[k].header)
            return fail_block(v, i, "/blocks column '%s' says %lld, the header %lu", f[k].name,
                              (long long)f[k].stored, (unsigned long)f[k].header);
    if (!(fabs(v->b.difficulty[i] - diff) <= 1e-12 * (1 + fabs(diff))))
        return fail_block(v, i, "/blocks column 'difficulty' says %.17g, the header's bits give %.17g",
                          v->b.difficulty[i], diff);
    if (v->b.nonce_start[i] < 0 || v->b.nonce_start[i] > (int64_t)UINT32_MAX)
        return fail_block(v, i, "/blocks column 'nonce_start' = %lld is not a nonce",
                          (long long)v->b.nonce_start[i]);
    /* The search order is (roll, nonce) (chain.c, race_start): offset o tries the template time
     * + o / span with nonce (nonce_start + o mod span) mod 2^32, and attempts = o + 1 of the
     * winner. So (attempts - 1) mod span must be the nonce's distance from nonce_start, and the
     * roll (attempts - 1) / span at most MINE_ROLL_MAX - 1; check_block_columns then places the
     * template time (header time - roll) between the parent's find and this block's. */
    off = (uint64_t)((h->nonce - (uint32_t)v->b.nonce_start[i]) & 0xffffffffu);
    if (v->b.attempts[i] < 1 || (v->b.attempts[i] - 1) % v->span != off)
        return fail_block(v, i, "/blocks column 'attempts' says %llu, but nonce - nonce_start = "
                          "%llu (mod 2^32) and attempts must be roll x %llu + that + 1",
                          (unsigned long long)v->b.attempts[i], (unsigned long long)off,
                          (unsigned long long)v->span);
    roll = (v->b.attempts[i] - 1) / v->span;
    if (roll >= MINE_ROLL_MAX)
        return fail_block(v, i, "/blocks column 'attempts' = %llu means a header time rolled by "
                          "%llu s, more than the %u s allowed", (unsigned long long)v->b.attempts[i],
                          (unsigned long long)roll, MINE_ROLL_MAX - 1);
    if (roll > h->time)
        return fail_block(v, i, "/blocks column 'attempts' = %llu means a header time rolled by "
                          "%llu s from a template time before the run's start (time %lu)",
                          (unsigned long long)v->b.attempts[i], (unsigned long long)roll,
                          (unsigned long)h->time);
    v->vb[i].roll = (uint32_t)roll;
    return 0;
}

static int check_headers(struct verifier *v)
{
    int rc;
    for (size_t i = 0; i < v->b.n; i++) {
        struct vblock *x = &v->vb[i];
        unsigned char target[MINE_TARGET_LEN];
        char hex[HEX_HASH];
        struct chain_header h;
        if (v->b.height[i] < 0 || v->b.height[i] > INT32_MAX)
            return fail_block(v, i, "height %lld out of range", (long long)v->b.height[i]);
        if (v->b.stale[i] != 0 && v->b.stale[i] != 1)
            return fail_block(v, i, "stale = %lld (0 or 1)", (long long)v->b.stale[i]);
        if (mine_hex_decode(v->b.header[i], x->hdr, MINE_HEADER_LEN, NULL))
            return fail_block(v, i, "stored header is not 160 hex digits");
        chain_header_hash(x->hdr, x->hash);
        mine_hash_to_hex(x->hash, hex);
        if (strcmp(hex, v->b.hash[i]))
            return fail_block(v, i, "the stored header hashes to %s, not to the stored hash", hex);
        chain_header_unpack(x->hdr, &h);
        x->bits = h.bits;
        if (h.version != CHAIN_BLOCK_VERSION)
            return fail_block(v, i, "header version %u (expected %d)", h.version,
                              CHAIN_BLOCK_VERSION);
        mine_hash_to_hex(h.prev, hex);
        if (strcmp(hex, v->b.prev[i]))
            return fail_block(v, i, "stored previous hash differs from the header's (%s)", hex);
        mine_hash_to_hex(h.merkle, hex);
        if (strcmp(hex, v->b.merkle[i]))
            return fail_block(v, i, "stored merkle_root differs from the header's (%s)", hex);
        if (mine_target_from_bits(h.bits, target, NULL))
            return fail_block(v, i, "bits 0x%08x is not a valid target", h.bits);
        if (!mine_hash_meets_target(x->hash, target))
            return fail_block(v, i, "hash does not meet its target (bits 0x%08x)", h.bits);
        if ((rc = check_header_columns(v, i, &h)))
            return rc;
    }
    return 0;
}

static int cmp_hash_rows(const void *a, const void *b, void *ctx)
{
    const struct verifier *v = ctx;
    return strcmp(v->b.hash[*(const size_t *)a], v->b.hash[*(const size_t *)b]);
}

/* Row of the block whose stored hash is `hex`; NO_ROW when none. */
static size_t block_find(const struct verifier *v, const char *hex)
{
    size_t lo = 0, hi = v->b.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->b.hash[v->by_hash[mid]], hex);
        if (c == 0)
            return v->by_hash[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NO_ROW;
}

/* ---- pass 2: transactions ------------------------------------------------------------------ */

static int check_tx_rows(struct verifier *v)
{
    size_t off = 0, k = 0;
    while (k < v->t.n) {
        const char *txid = v->t.txid[k];
        const size_t blk = block_find(v, v->t.block[k]);
        const int64_t parts = v->t.parts[k];
        struct vtx *x = &v->vt[v->nvt];
        size_t digits = 0;
        char hex[HEX_HASH];
        if (v->t.part[k] != 0)
            return fail_tx(v, txid, blk, "/transactions row %zu holds part %lld without part 0",
                           k, (long long)v->t.part[k]);
        if (parts < 1 || parts > MAX_PARTS || (size_t)parts > v->t.n - k)
            return fail_tx(v, txid, blk, "/transactions row %zu: parts = %lld out of range", k,
                           (long long)parts);
        if (blk == NO_ROW)
            return fail_tx(v, txid, NO_ROW, "its block %s is not in /blocks", v->t.block[k]);
        for (int64_t p = 0; p < parts; p++) {
            const size_t row = k + (size_t)p;
            const size_t nd = strlen(v->t.enc[row]);
            if (v->t.part[row] != p || v->t.parts[row] != parts || strcmp(v->t.txid[row], txid) ||
                strcmp(v->t.block[row], v->t.block[k]))
                return fail_tx(v, txid, blk, "/transactions row %zu is not part %lld of %lld", row,
                               (long long)p, (long long)parts);
            if (nd == 0 || nd % 2 || (p + 1 < parts && nd != HEX_PART))
                return fail_tx(v, txid, blk, "encoding part %lld has %zu hex digits", (long long)p,
                               nd);
            if (mine_hex_decode(v->t.enc[row], v->encbuf + off + digits / 2, nd / 2, NULL))
                return fail_tx(v, txid, blk, "encoding part %lld is not hex", (long long)p);
            digits += nd;
        }
        x->row = k;
        x->block = blk;
        x->enc = v->encbuf + off;
        x->len = digits / 2;
        if (x->len > CHAIN_TX_MAX_LEN)
            return fail_tx(v, txid, blk, "encoding of %zu bytes is longer than any transaction",
                           x->len);
        chain_txid(x->enc, x->len, x->id);
        mine_hash_to_hex(x->id, hex);
        if (strcmp(hex, txid))
            return fail_tx(v, txid, blk, "the stored encoding hashes to %s, not to the stored txid",
                           hex);
        if (v->t.height[k] != v->b.height[blk] || v->t.stale[k] != v->b.stale[blk])
            return fail_tx(v, txid, blk, "stored height/stale differ from its block's");
        {
            struct chain_tx tx;
            struct err le = {0};
            if (chain_tx_decode(x->enc, x->len, &tx, v->parties, CHAIN_TX_MAX_BUYERS, &le))
                return fail_tx(v, txid, blk, "encoding does not decode: %s", le.msg);
            if (v->t.kind[k] != tx.kind || v->t.ref[k] != tx.ref)
                return fail_tx(v, txid, blk, "stored kind/ref differ from the encoding's");
        }
        off += x->len;
        v->nvt++;
        k += (size_t)parts;
    }
    return 0;
}

static int cmp_tx_block(const void *a, const void *b, void *ctx)
{
    const struct verifier *v = ctx;
    const struct vtx *x = &v->vt[*(const size_t *)a], *y = &v->vt[*(const size_t *)b];
    if (x->block != y->block)
        return x->block < y->block ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Group the transactions by block; each block's must be indexed 0..n-1 in row order. */
static int assign_txs(struct verifier *v)
{
    size_t k = 0;
    for (size_t i = 0; i < v->nvt; i++)
        v->tx_order[i] = i;
    qsort_r(v->tx_order, v->nvt, sizeof *v->tx_order, cmp_tx_block, v);
    for (size_t i = 0; i < v->b.n; i++) {
        v->vb[i].tx0 = k;
        while (k < v->nvt && v->vt[v->tx_order[k]].block == i) {
            const struct vtx *x = &v->vt[v->tx_order[k]];
            if (v->t.index[x->row] != (int64_t)(k - v->vb[i].tx0))
                return fail_tx(v, v->t.txid[x->row], i, "stored index %lld, expected %zu",
                               (long long)v->t.index[x->row], k - v->vb[i].tx0);
            k++;
        }
        v->vb[i].ntx = k - v->vb[i].tx0;
    }
    return 0;
}

/* ---- pass 3: the block tree -------------------------------------------------------------- */

static int cmp_height_rows(const void *a, const void *b, void *ctx)
{
    const struct verifier *v = ctx;
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (v->b.height[x] != v->b.height[y])
        return v->b.height[x] < v->b.height[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Bits a child of block p must carry: chain.c's rule (p's, or Bitcoin's clamped retarget every
 * chain.retarget_blocks over the p's branch). */
static uint32_t expected_bits(const struct verifier *v, size_t p)
{
    const int64_t R = v->cfg->chain.retarget_blocks, h = v->b.height[p];
    const int64_t want = h - R > 0 ? h - R : 0;
    size_t first = p;
    uint32_t bits;
    int64_t intervals;
    if (R <= 0 || (h + 1) % R != 0)
        return v->vb[p].bits;
    while (v->b.height[first] > want && v->vb[first].parent != NO_ROW)
        first = v->vb[first].parent;
    intervals = h - v->b.height[first];
    if (intervals <= 0)
        return v->vb[p].bits;
    if (chain_retarget(v->vb[p].bits,
                       (int64_t)mine_header_u32(v->vb[p].hdr, MINE_HDR_TIME) -
                           (int64_t)mine_header_u32(v->vb[first].hdr, MINE_HDR_TIME),
                       (int64_t)llround((double)intervals * v->cfg->chain.block_interval_s), &bits,
                       NULL))
        return v->vb[p].bits;
    return bits;
}

/* Block i's columns that follow from its transactions, its parent and the scenario. */
static int check_block_columns(struct verifier *v, size_t i)
{
    const struct vblock *x = &v->vb[i];
    int64_t size = MINE_HEADER_LEN, selfish = v->cfg ? v->cfg->attacks.selfish_node : -2;
    double tmpl;
    for (size_t k = 0; k < x->ntx; k++)
        size += (int64_t)v->vt[v->tx_order[x->tx0 + k]].len;
    if (v->b.tx_count[i] != (int64_t)x->ntx)
        return fail_block(v, i, "/blocks column 'tx_count' says %lld, /transactions holds %zu",
                          (long long)v->b.tx_count[i], x->ntx);
    if (v->b.size[i] != size)
        return fail_block(v, i, "/blocks column 'size_bytes' says %lld, header and transactions "
                          "make %lld", (long long)v->b.size[i], (long long)size);
    if (x->parent == NO_ROW ? v->b.miner[i] != -1
                            : v->b.miner[i] < 0 ||
                                  (v->cfg && v->b.miner[i] >= v->cfg->chain.nodes))
        return fail_block(v, i, "/blocks column 'miner' = %lld is no node of the chain",
                          (long long)v->b.miner[i]);
    if (selfish > -2 && v->b.withheld[i] != (v->b.miner[i] >= 0 && v->b.miner[i] == selfish))
        return fail_block(v, i, "/blocks column 'withheld' = %lld, but attacks.selfish_node = %lld "
                          "and the miner is %lld", (long long)v->b.withheld[i], (long long)selfish,
                          (long long)v->b.miner[i]);
    /* The template time (header time - roll, see check_header_columns) is floor of the race
     * segment's start: no later than the find, no earlier than the parent's find (the miner had
     * the parent when its segment began); the genesis block's is its own find time. */
    tmpl = (double)(v->b.time[i] - (int64_t)x->roll);
    if (!(v->b.t_found[i] >= tmpl))
        return fail_block(v, i, "/blocks column 't_found' = %.17g is before the template time %.0f "
                          "(header time %lld - roll %u)", v->b.t_found[i], tmpl,
                          (long long)v->b.time[i], x->roll);
    if (x->parent == NO_ROW && tmpl != floor(v->b.t_found[i]))
        return fail_block(v, i, "genesis template time %.0f (header time %lld - roll %u) is not "
                          "its find time %.17g s, whole seconds", tmpl, (long long)v->b.time[i],
                          x->roll, v->b.t_found[i]);
    if (x->parent != NO_ROW && tmpl < floor(v->b.t_found[x->parent]))
        return fail_block(v, i, "template time %.0f (header time %lld - roll %u) is before the "
                          "parent's find at %.17g s", tmpl, (long long)v->b.time[i], x->roll,
                          v->b.t_found[x->parent]);
    if (x->parent != NO_ROW && v->cfg && v->cfg->chain.retarget_blocks == 0) {
        /* Fixed difficulty: every node mines at the same bits, so the network tries rate =
         * sum(share) x hash_rate / work x work nonces per second (chain.c's sum, in its order)
         * and the segment began at t0 = t_found - attempts / rate; its template time is
         * floor(t0). This pins the roll: attempts changed by whole rolls move t0 by span / rate
         * seconds, but the template time by whole seconds. */
        double share[CHAIN_MAX_NODES], total = 0, work = chain_bits_work(x->bits), hr, t0, tol;
        uint32_t gbits;
        int64_t n = v->cfg->chain.nodes;
        if (n >= 1 && n <= CHAIN_MAX_NODES && !cfg_chain_shares(v->cfg, share, NULL) &&
            !chain_bits_from_zero_bits((int)v->cfg->chain.difficulty_bits, &gbits, NULL) &&
            work > 0) {
            hr = v->cfg->chain.hash_rate > 0 ? v->cfg->chain.hash_rate
                                             : chain_bits_work(gbits) /
                                                   v->cfg->chain.block_interval_s;
            for (int64_t k = 0; k < n; k++)
                total += share[k] * hr / work;
            t0 = v->b.t_found[i] - (double)v->b.attempts[i] / (total * work);
            tol = 1e-9 * (1 + fabs(v->b.t_found[i]));
            if (tmpl != floor(t0 - tol) && tmpl != floor(t0 + tol))
                return fail_block(v, i, "template time %.0f (header time %lld - roll %u) is not "
                                  "the second its race segment began (t_found - attempts / "
                                  "network rate = %.6f s): /blocks column 'attempts' = %llu or "
                                  "'t_found' is not what the race gave",
                                  tmpl, (long long)v->b.time[i], x->roll, t0,
                                  (unsigned long long)v->b.attempts[i]);
        }
    }
    if (x->parent != NO_ROW && !(v->b.t_found[i] >= v->b.t_found[x->parent]))
        return fail_block(v, i, "found at %.17g s, before its parent (%.17g s)", v->b.t_found[i],
                          v->b.t_found[x->parent]);
    if (!isnan(v->b.t_pub[i]) && !(v->b.t_pub[i] >= v->b.t_found[i]))
        return fail_block(v, i, "published at %.17g s, before it was found (%.17g s)",
                          v->b.t_pub[i], v->b.t_found[i]);
    return 0;
}

/* One block's stateless check (chain_block_check: Merkle root, every signature, duplicates) as
 * a pool item: item o is the o-th block in height order.  Each item reads only what the
 * sequential pass fixed (parent, bits wanted) and writes nothing; a failure stops the batch, and
 * pool_run() names the lowest failing item, whose message the caller re-derives alone. */
struct block_batch {
    struct verifier *v;
    const size_t *order;
    const unsigned char **txp; /* every encoding, in tx_order order */
    const size_t *txl;
};

static int block_check_one(const struct block_batch *bb, size_t i, const char **rule,
                           struct err *e)
{
    const struct verifier *v = bb->v;
    const struct vblock *x = &v->vb[i];
    struct chain_block_view view;
    view.header = x->hdr;
    view.n_tx = x->ntx;
    view.tx = bb->txp + x->tx0;
    view.tx_len = bb->txl + x->tx0;
    view.tx_window = v->cfg ? v->cfg->chain.tx_window : 0; /* the nodes' window rule */
    return chain_block_check(&view, v->vb[x->parent].hash, x->want, rule, e);
}

static int block_check_task(void *ctx, size_t o)
{
    const struct block_batch *bb = ctx;
    const size_t i = bb->order[o];
    struct err le = {0};
    if (bb->v->vb[i].parent == NO_ROW)
        return 0;
    return block_check_one(bb, i, NULL, &le) ? 1 : 0;
}

/* Pass 3 in two steps that report what one sequential walk in height order would: first the
 * cheap rules of every block (links, bits, work, columns, genesis identity) in order, stopping at
 * the first block that breaks one; then the blocks before that one get chain_block_check on the
 * pool, and the lowest of them that fails, if any, is the failure reported. */
static int check_tree(struct verifier *v, size_t *order)
{
    static const unsigned char zero[MINE_HASH_LEN];
    struct block_batch bb = {v, order, NULL, NULL};
    size_t genesis = NO_ROW, n_ok = 0, at = 0;
    struct err saved = {0};
    int rc = 0, rc_walk = 0;
    for (size_t i = 0; i < v->b.n; i++)
        order[i] = i;
    qsort_r(order, v->b.n, sizeof *order, cmp_height_rows, v);
    bb.txp = malloc((v->nvt + 1) * sizeof *bb.txp);
    bb.txl = malloc((v->nvt + 1) * sizeof *bb.txl);
    if (!bb.txp || !bb.txl) {
        rc = err_set(v->e, ERR_NOMEM, "verify: out of memory");
        goto out;
    }
    for (size_t k = 0; k < v->nvt; k++) {
        const struct vtx *t = &v->vt[v->tx_order[k]];
        ((const unsigned char **)bb.txp)[k] = t->enc;
        ((size_t *)bb.txl)[k] = t->len;
    }
    for (; n_ok < v->b.n && !rc_walk; n_ok += !rc_walk) {
        const size_t i = order[n_ok];
        struct vblock *x = &v->vb[i];
        uint32_t want;
        if (v->b.height[i] == 0) {
            if (genesis != NO_ROW) {
                rc_walk = fail_block(v, i, "a second block at height 0");
                break;
            }
            genesis = i;
            x->parent = NO_ROW;
            if (memcmp(x->hdr + MINE_HDR_PREV, zero, MINE_HASH_LEN)) {
                rc_walk = fail_block(v, i, "genesis has a previous hash");
                break;
            }
            if (x->ntx != 0) {
                rc_walk = fail_block(v, i, "genesis holds %zu transactions", x->ntx);
                break;
            }
            want = x->bits;
            if (v->cfg && chain_bits_from_zero_bits((int)v->cfg->chain.difficulty_bits, &want,
                                                    NULL)) {
                rc_walk = fail_block(v, i, "chain.difficulty_bits of the scenario is out of range");
                break;
            }
            x->work = chain_bits_work(x->bits);
        } else {
            size_t p = block_find(v, v->b.prev[i]);
            if (p == NO_ROW) {
                rc_walk = fail_block(v, i, "its previous block %s is not in /blocks", v->b.prev[i]);
                break;
            }
            if (v->b.height[p] != v->b.height[i] - 1) {
                rc_walk = fail_block(v, i, "its previous block is at height %lld, not %lld",
                                     (long long)v->b.height[p], (long long)v->b.height[i] - 1);
                break;
            }
            x->parent = p;
            want = v->cfg ? expected_bits(v, p) : x->bits;
            x->work = v->vb[p].work + chain_bits_work(x->bits);
        }
        x->want = want;
        if (x->bits != want) {
            rc_walk = fail_block(v, i, "bits 0x%08x, but the difficulty rule gives 0x%08x", x->bits,
                                 want);
            break;
        }
        if (!(fabs(x->work - v->b.work[i]) <= 1e-9 * x->work)) {
            rc_walk = fail_block(v, i, "stored chainwork %.17g, recomputed %.17g", v->b.work[i],
                                 x->work);
            break;
        }
        if ((rc_walk = check_block_columns(v, i)))
            break;
        if (x->parent == NO_ROW && v->id_text) { /* genesis: its root is the run's identity */
            unsigned char id[MINE_HASH_LEN];
            char hex[HEX_HASH];
            chain_identity_root(v->id_text, v->id_seed, v->id_version, id);
            if (memcmp(id, x->hdr + MINE_HDR_MERKLE, MINE_HASH_LEN)) {
                mine_hash_to_hex(id, hex);
                rc_walk = fail_block(v, i,
                                     "the genesis block commits to another run: the stored "
                                     "scenario, seed and version hash to %s, the header's "
                                     "merkle_root is %s",
                                     hex, v->b.merkle[i]);
                break;
            }
        }
    }
    if (rc_walk)
        saved = *v->e;
    /* blocks order[0 .. n_ok) passed the cheap rules: check them all, in parallel */
    if (pool_run(v->workers, n_ok, block_check_task, &bb, &at)) {
        const size_t i = order[at];
        const char *rule = NULL;
        struct err le = {0};
        rc = block_check_one(&bb, i, &rule, &le);
        if (rc == ERR_VERIFY)
            rc = fail_block(v, i, "%s", le.msg);
        else if (rc)
            err_set(v->e, rc, "verify: %s", le.msg);
        else /* the pool saw a failure that the re-check does not: cannot happen */
            rc = err_set(v->e, ERR_RUNTIME, "verify: block %lld checked twice, two answers",
                         (long long)v->b.height[i]);
        goto out;
    }
    if (rc_walk) {
        *v->e = saved;
        rc = rc_walk;
        goto out;
    }
    for (size_t o = 0; o < v->b.n; o++) {
        const struct vblock *x = &v->vb[order[o]];
        if (x->parent == NO_ROW)
            continue;
        for (size_t k = 0; k < x->ntx; k++) {
            const unsigned char *enc = bb.txp[x->tx0 + k];
            v->rep->signatures += enc[1] == CHAIN_TX_TRADE ? 1 + (int64_t)(enc[86] | enc[87] << 8)
                                                           : 1;
        }
        v->rep->txs += (int64_t)x->ntx;
    }
    if (genesis == NO_ROW && v->b.n > 0)
        rc = err_set(v->e, ERR_VERIFY, "no genesis block (height 0) in /blocks");
out:
    free((void *)bb.txp);
    free((void *)bb.txl);
    return rc;
}

/* ---- pass 4: the main chain ---------------------------------------------------------------- */

/* The `chain_tip` root attribute must name the tip check_main found. */
static int check_tip_attr(struct verifier *v, size_t tip)
{
    char *attr = NULL;
    int rc = h5_reader_attr_str(v->r, "chain_tip", &attr, v->e);
    if (rc == ERR_NOTFOUND && (v->flags & CHAIN_VERIFY_CHAIN_ONLY)) {
        err_clear(v->e);
        return 0;
    }
    if (rc == ERR_NOTFOUND)
        return err_set(v->e, ERR_VERIFY, "root attribute chain_tip is missing; the most-work tip "
                       "is block %lld (%s)", (long long)v->b.height[tip], v->b.hash[tip]);
    if (rc)
        return rc;
    if (strcmp(attr, v->b.hash[tip]))
        rc = err_set(v->e, ERR_VERIFY,
                     "root attribute chain_tip = '%.64s', but the most-work tip is block %lld (%s)",
                     attr, (long long)v->b.height[tip], v->b.hash[tip]);
    free(attr);
    return rc;
}

static int check_main(struct verifier *v)
{
    int64_t top = -1;
    size_t tip = NO_ROW;
    if (v->b.n == 0)
        return err_set(v->e, ERR_VERIFY, "%s: /blocks is empty: no genesis block", v->path);
    for (size_t i = 0; i < v->b.n; i++)
        if (!v->b.stale[i] && v->b.height[i] > top)
            top = v->b.height[i];
    if (top < 0)
        return err_set(v->e, ERR_VERIFY, "no main-chain block (every block has stale = 1)");
    if ((uint64_t)top >= v->b.n)
        return err_set(v->e, ERR_VERIFY,
                       "the main chain reaches height %lld with only %zu blocks stored: blocks "
                       "are missing",
                       (long long)top, v->b.n);
    if (!(v->main_at = malloc(((size_t)top + 1) * sizeof *v->main_at)))
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    for (int64_t h = 0; h <= top; h++)
        v->main_at[h] = NO_ROW;
    for (size_t i = 0; i < v->b.n; i++) {
        if (v->b.stale[i]) {
            v->rep->stale++;
            continue;
        }
        if (v->main_at[v->b.height[i]] != NO_ROW)
            return fail_block(v, i, "a second main-chain block at this height");
        v->main_at[v->b.height[i]] = i;
    }
    for (int64_t h = 0; h <= top; h++) {
        size_t i = v->main_at[h];
        if (i == NO_ROW)
            return err_set(v->e, ERR_VERIFY,
                           "the main chain has no block at height %lld (below its tip at %lld): "
                           "a block is missing",
                           (long long)h, (long long)top);
        if (h > 0 && v->vb[i].parent != v->main_at[h - 1])
            return fail_block(v, i, "does not link to the main-chain block at height %lld",
                              (long long)h - 1);
        if (isnan(v->b.t_pub[i]))
            return fail_block(v, i, "on the main chain but never published (t_published NaN)");
        v->rep->txs_main += (int64_t)v->vb[i].ntx;
    }
    tip = v->main_at[top];
    /* the main chain is the most-work PUBLISHED chain, the first published winning ties: a
     * withheld block never published (t_published NaN) may hold more */
    for (size_t i = 0; i < v->b.n; i++) {
        const double w = v->vb[i].work, wt = v->vb[tip].work;
        if (isnan(v->b.t_pub[i]) || i == tip)
            continue;
        if (w > wt * (1 + 1e-12))
            return fail_block(v, i, "holds more work than the main-chain tip at height %lld",
                              (long long)top);
        if (w >= wt * (1 - 1e-12) && v->b.t_pub[i] < v->b.t_pub[tip])
            return fail_block(v, i, "holds as much work as the main-chain tip at height %lld and "
                              "was published first: the main chain must end here",
                              (long long)top);
    }
    v->rep->height = top;
    snprintf(v->rep->tip, sizeof v->rep->tip, "%s", v->b.hash[tip]);
    return check_tip_attr(v, tip);
}

/* ---- pass 5: /trades ---------------------------------------------------------------------- */

static int cmp_trade_rows(const void *a, const void *b, void *ctx)
{
    const struct verifier *v = ctx;
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (v->tr.group[x] != v->tr.group[y])
        return v->tr.group[x] < v->tr.group[y] ? -1 : 1;
    if (v->tr.id[x] != v->tr.id[y])
        return v->tr.id[x] < v->tr.id[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* First position in tr_order of group g, and how many rows it has. */
static size_t trade_group(const struct verifier *v, uint64_t g, size_t *count)
{
    size_t lo = 0, hi = v->tr.n, first;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->tr.group[v->tr_order[mid]] < g)
            lo = mid + 1;
        else
            hi = mid;
    }
    first = lo;
    while (lo < v->tr.n && v->tr.group[v->tr_order[lo]] == g)
        lo++;
    *count = lo - first;
    return first;
}

/* The agent behind a party: its address for this transaction must be the one derived for that
 * agent, and the agent must always sign with one key. */
static int check_party(struct verifier *v, const struct vtx *x, const char *role, size_t n,
                       int64_t agent, const struct chain_tx_party *p, uint64_t ref)
{
    unsigned char addr[CHAIN_ADDR_LEN];
    if (agent < 0 || agent >= v->n_agents)
        return fail_tx(v, v->t.txid[x->row], x->block, "/trades names %s agent %lld (%lld agents)",
                       role, (long long)agent, (long long)v->n_agents);
    chain_address_derive(v->cfg, agent, ref, addr);
    if (memcmp(addr, p->addr, CHAIN_ADDR_LEN))
        return fail_tx(v, v->t.txid[x->row], x->block,
                       "%s %zu's address is not agent %lld's, the %s /trades names", role, n,
                       (long long)agent, role);
    if (v->pk_set[agent] && memcmp(v->pk[agent], p->pk, CHAIN_PK_LEN))
        return fail_tx(v, v->t.txid[x->row], x->block, "agent %lld (%s) signs with another key",
                       (long long)agent, role);
    memcpy(v->pk[agent], p->pk, CHAIN_PK_LEN);
    v->pk_set[agent] = 1;
    return 0;
}

static int fail_trade(struct verifier *v, size_t row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_trade(struct verifier *v, size_t row, const char *fmt, ...)
{
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(v->e, ERR_VERIFY, "/trades row %zu (id %llu, group %llu): %s", row,
                   (unsigned long long)v->tr.id[row], (unsigned long long)v->tr.group[row], what);
}

static int cmp_tpub_rows(const void *a, const void *b, void *ctx)
{
    const struct verifier *v = ctx;
    const double x = v->b.t_pub[*(const size_t *)a], y = v->b.t_pub[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

/* Whether the main chain reached chain.confirmations blocks on main-chain block `blk` at time t:
 * the chain settles a block when the publication of a block at least confirmations - 1 above it,
 * on its branch, makes that block the main tip, so some such block must have t_published = t. */
static int settled_at(const struct verifier *v, size_t blk, double t)
{
    const int64_t h = v->b.height[blk], need = h + v->cfg->chain.confirmations - 1;
    size_t lo = 0, hi = v->n_tpub;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->b.t_pub[v->by_tpub[mid]] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < v->n_tpub && v->b.t_pub[v->by_tpub[lo]] == t; lo++) {
        size_t x = v->by_tpub[lo];
        if (v->b.height[x] < need)
            continue;
        while (x != NO_ROW && v->b.height[x] > h)
            x = v->vb[x].parent;
        if (x == blk)
            return 1;
    }
    return 0;
}

/* Every /trades row says where the FINAL main chain holds its transaction: height and
 * t_included of the main-chain block (-1 and NaN when none), and t_confirmed when, and only when,
 * that block has chain.confirmations main-chain blocks from it to the tip. */
static int check_inclusions(struct verifier *v)
{
    uint8_t *on_main = calloc(v->tr.n + 1, 1);
    const int64_t conf = v->cfg->chain.confirmations, top = v->rep->height;
    int rc = 0;
    if (!on_main || !(v->by_tpub = malloc((v->b.n + 1) * sizeof *v->by_tpub))) {
        free(on_main);
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    }
    for (size_t i = 0; i < v->b.n; i++)
        if (!isnan(v->b.t_pub[i]))
            v->by_tpub[v->n_tpub++] = i;
    qsort_r(v->by_tpub, v->n_tpub, sizeof *v->by_tpub, cmp_tpub_rows, v);
    for (int64_t h = 0; h <= top && !rc; h++) {
        const size_t blk = v->main_at[h];
        const struct vblock *b = &v->vb[blk];
        const int deep = h + conf - 1 <= top;
        for (size_t k = 0; k < b->ntx && !rc; k++) {
            const struct vtx *x = &v->vt[v->tx_order[b->tx0 + k]];
            size_t first, n;
            if (x->enc[1] != CHAIN_TX_TRADE)
                continue;
            {
                struct chain_tx tx;
                if (chain_tx_decode(x->enc, x->len, &tx, v->parties, CHAIN_TX_MAX_BUYERS, NULL)) {
                    rc = fail_tx(v, v->t.txid[x->row], blk, "encoding does not decode");
                    break;
                }
                first = trade_group(v, tx.ref, &n);
            }
            v->trades_confirmed += deep;
            for (size_t j = 0; j < n && !rc; j++) {
                const size_t row = v->tr_order[first + j];
                const double tc = v->tr.t_confirmed[row];
                on_main[row] = 1;
                if (v->tr.height[row] != h)
                    rc = fail_trade(v, row, "column 'height' says %lld, the main chain holds its "
                                    "transaction %s at height %lld",
                                    (long long)v->tr.height[row], v->t.txid[x->row], (long long)h);
                else if (v->tr.t_included[row] != v->b.t_found[blk])
                    rc = fail_trade(v, row, "column 't_included' says %.17g s, its main-chain "
                                    "block %lld (%s) was found at %.17g s",
                                    v->tr.t_included[row], (long long)h, v->b.hash[blk],
                                    v->b.t_found[blk]);
                else if (!deep && !isnan(tc))
                    rc = fail_trade(v, row, "column 't_confirmed' says %.17g s, but its block %lld "
                                    "has only %lld of chain.confirmations = %lld blocks on the "
                                    "main chain", tc, (long long)h, (long long)(top - h + 1),
                                    (long long)conf);
                else if (deep && !(tc >= v->tr.t_included[row] && settled_at(v, blk, tc)))
                    rc = fail_trade(v, row, "column 't_confirmed' says %.17g s, but its block %lld "
                                    "(%s) did not reach chain.confirmations = %lld main-chain "
                                    "blocks then (no block of its branch %lld or more above it "
                                    "was published at that time)",
                                    tc, (long long)h, v->b.hash[blk], (long long)conf,
                                    (long long)(conf - 1));
            }
        }
    }
    for (size_t row = 0; row < v->tr.n && !rc; row++)
        if (!on_main[row] && (v->tr.height[row] != -1 || !isnan(v->tr.t_included[row]) ||
                              !isnan(v->tr.t_confirmed[row])))
            rc = fail_trade(v, row, "no main-chain block holds its transaction, but it says "
                            "height %lld, t_included %.17g s, t_confirmed %.17g s (expected -1, "
                            "NaN, NaN)",
                            (long long)v->tr.height[row], v->tr.t_included[row],
                            v->tr.t_confirmed[row]);
    free(on_main);
    return rc;
}

static int cmp_case_rows(const void *a, const void *b, void *ctx)
{
    const struct verifier *v = ctx;
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (v->tr.slot[x] != v->tr.slot[y])
        return v->tr.slot[x] < v->tr.slot[y] ? -1 : 1;
    if (v->tr.seller[x] != v->tr.seller[y])
        return v->tr.seller[x] < v->tr.seller[y] ? -1 : 1;
    if (v->tr.id[x] != v->tr.id[y])
        return v->tr.id[x] < v->tr.id[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* tx_case (paper: Initial / Update): a seller's first match of a slot is 0, every further one 1. */
static int check_tx_cases(struct verifier *v)
{
    size_t *o = malloc((v->tr.n + 1) * sizeof *o);
    int rc = 0;
    if (!o)
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    for (size_t i = 0; i < v->tr.n; i++)
        o[i] = i;
    qsort_r(o, v->tr.n, sizeof *o, cmp_case_rows, v);
    for (size_t k = 0; k < v->tr.n && !rc; k++) {
        const size_t row = o[k];
        const int first = k == 0 || v->tr.slot[o[k - 1]] != v->tr.slot[row] ||
                          v->tr.seller[o[k - 1]] != v->tr.seller[row];
        if (v->tr.tx_case[row] != (first ? 0 : 1))
            rc = fail_trade(v, row, "column 'tx_case' says %lld, but it is seller %lld's %s match "
                            "of slot %lld (expected %d)",
                            (long long)v->tr.tx_case[row], (long long)v->tr.seller[row],
                            first ? "first" : "a further", (long long)v->tr.slot[row],
                            first ? 0 : 1);
    }
    free(o);
    return rc;
}

static int check_trades(struct verifier *v)
{
    int rc = 0;
    for (size_t i = 0; i < v->tr.n; i++)
        v->tr_order[i] = i;
    qsort_r(v->tr_order, v->tr.n, sizeof *v->tr_order, cmp_trade_rows, v);
    for (size_t o = 0; o < v->b.n && !rc; o++) {
        const struct vblock *b = &v->vb[o];
        for (size_t k = 0; k < b->ntx && !rc; k++) {
            const struct vtx *x = &v->vt[v->tx_order[b->tx0 + k]];
            const char *txid = v->t.txid[x->row];
            struct chain_tx tx;
            size_t first, n;
            double ert = INFINITY;
            if (chain_tx_decode(x->enc, x->len, &tx, v->parties, CHAIN_TX_MAX_BUYERS, NULL)) {
                rc = fail_tx(v, txid, o, "encoding does not decode");
                break;
            }
            if (tx.kind != CHAIN_TX_TRADE)
                continue;
            first = trade_group(v, tx.ref, &n);
            if (n != tx.n_buyers) {
                rc = fail_tx(v, txid, o, "trade %llu has %zu buyers but /trades has %zu rows for "
                             "group %llu",
                             (unsigned long long)tx.ref, tx.n_buyers, n,
                             (unsigned long long)tx.ref);
                break;
            }
            for (size_t j = 0; j < n && !rc; j++) {
                const size_t row = v->tr_order[first + j];
                const struct chain_tx_party *bp = &tx.buyers[j];
                if (v->tr.seller[row] != v->tr.seller[v->tr_order[first]])
                    rc = fail_tx(v, txid, o, "/trades rows of group %llu name different sellers",
                                 (unsigned long long)tx.ref);
                else if (v->tr.price[row] != tx.price)
                    rc = fail_tx(v, txid, o,
                                 "/trades row %llu says price %.17g EUR/MWh, the transaction %.17g",
                                 (unsigned long long)v->tr.id[row], v->tr.price[row], tx.price);
                else if (v->tr.kwh[row] != bp->kwh)
                    rc = fail_tx(v, txid, o,
                                 "/trades row %llu says %.17g kWh, the transaction's buyer %zu %.17g",
                                 (unsigned long long)v->tr.id[row], v->tr.kwh[row], j, bp->kwh);
                else
                    rc = check_party(v, x, "buyer", j, v->tr.buyer[row], bp, tx.ref);
                if (v->tr.t_request[row] < ert)
                    ert = v->tr.t_request[row];
            }
            if (rc)
                break;
            if ((rc = check_party(v, x, "seller", 0, v->tr.seller[v->tr_order[first]], &tx.from,
                                  tx.ref)))
                break;
            if (tx.agreement_time != v->tr.t_agree[v->tr_order[first]] || tx.request_time != ert) {
                rc = fail_tx(v, txid, o, "request/agreement times differ from /trades group %llu",
                             (unsigned long long)tx.ref);
                break;
            }
        }
    }
    if (!rc)
        rc = check_inclusions(v);
    if (!rc)
        rc = check_tx_cases(v);
    v->rep->trades = (int64_t)v->tr.n;
    return rc;
}

/* ---- pass 6: balances ------------------------------------------------------------------- */

/* The agent whose address for transaction `ref` is addr; -1 when none.  `hint` is tried first. */
static int64_t agent_of(const struct verifier *v, const unsigned char addr[CHAIN_ADDR_LEN],
                        uint64_t ref, int64_t hint)
{
    unsigned char a[CHAIN_ADDR_LEN];
    if (hint >= 0) {
        chain_address_derive(v->cfg, hint, ref, a);
        if (!memcmp(a, addr, CHAIN_ADDR_LEN))
            return hint;
    }
    for (int64_t k = 0; k < v->n_agents; k++) {
        chain_address_derive(v->cfg, k, ref, a);
        if (!memcmp(a, addr, CHAIN_ADDR_LEN))
            return k;
    }
    return -1;
}

static int cmp_ids(const void *a, const void *b) { return memcmp(a, b, CHAIN_TXID_LEN); }

static int pay(struct verifier *v, int64_t *bal, const struct vtx *x, size_t blk, int64_t payer,
               int64_t payee, int64_t coins)
{
    if (coins < 0)
        return fail_tx(v, v->t.txid[x->row], blk, "an amount that is not a valid coin count");
    if (bal[payer] < coins)
        return fail_tx(v, v->t.txid[x->row], blk,
                       "agent %lld pays %lld coins with a balance of %lld: a wallet below zero "
                       "(double spend)",
                       (long long)payer, (long long)coins, (long long)bal[payer]);
    bal[payer] -= coins;
    bal[payee] += coins;
    return 0;
}

static int replay_balances(struct verifier *v)
{
    int64_t *bal = malloc(((size_t)v->n_agents + 1) * sizeof *bal);
    unsigned char(*ids)[CHAIN_TXID_LEN] = malloc(((size_t)v->rep->txs_main + 1) * CHAIN_TXID_LEN);
    size_t nid = 0;
    int rc = 0;
    if (!bal || !ids) {
        free(bal);
        free(ids);
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    }
    for (int64_t a = 0; a < v->n_agents; a++)
        bal[a] = v->cfg->chain.initial_coins;
    for (int64_t h = 0; h <= v->rep->height && !rc; h++) {
        const size_t i = v->main_at[h];
        const struct vblock *b = &v->vb[i];
        for (size_t k = 0; k < b->ntx && !rc; k++) {
            const struct vtx *x = &v->vt[v->tx_order[b->tx0 + k]];
            struct chain_tx tx;
            memcpy(ids[nid++], x->id, CHAIN_TXID_LEN);
            if (chain_tx_decode(x->enc, x->len, &tx, v->parties, CHAIN_TX_MAX_BUYERS, NULL)) {
                rc = fail_tx(v, v->t.txid[x->row], i, "encoding does not decode");
                break;
            }
            if (tx.kind == CHAIN_TX_TRADE) {
                size_t n, first = trade_group(v, tx.ref, &n);
                const int64_t seller = v->tr.seller[v->tr_order[first]];
                /* pass 5 tied every party to its /trades agent */
                for (size_t j = 0; j < tx.n_buyers && !rc; j++)
                    rc = pay(v, bal, x, i, v->tr.buyer[v->tr_order[first + j]], seller,
                             chain_tx_coins(tx.price, tx.buyers[j].kwh));
            } else {
                int64_t hint = -1, from, to;
                for (int64_t a = 0; a < v->n_agents && hint < 0; a++)
                    if (v->pk_set[a] && !memcmp(v->pk[a], tx.from.pk, CHAIN_PK_LEN))
                        hint = a;
                from = agent_of(v, tx.from.addr, tx.ref, hint);
                to = agent_of(v, tx.to.addr, tx.ref, -1);
                if (from < 0 || to < 0)
                    rc = fail_tx(v, v->t.txid[x->row], i, "transfer %s address is no agent's",
                                 from < 0 ? "payer" : "payee");
                else if (v->pk_set[from] && memcmp(v->pk[from], tx.from.pk, CHAIN_PK_LEN))
                    rc = fail_tx(v, v->t.txid[x->row], i, "agent %lld signs with another key",
                                 (long long)from);
                else
                    rc = pay(v, bal, x, i, from, to, tx.coins);
            }
        }
    }
    if (!rc) {
        qsort(ids, nid, CHAIN_TXID_LEN, cmp_ids);
        for (size_t k = 1; k < nid && !rc; k++)
            if (!memcmp(ids[k], ids[k - 1], CHAIN_TXID_LEN)) {
                char hex[HEX_HASH];
                mine_hash_to_hex(ids[k], hex);
                rc = fail_tx(v, hex, NO_ROW, "appears twice on the main chain");
            }
    }
    if (!rc)
        v->rep->wallets = v->n_agents;
    free(bal);
    free(ids);
    return rc;
}

/* ---- pass 7: /summary ---------------------------------------------------------------------- */

static const struct h5_scalar *scalar(const struct h5_scalar *s, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(s[k].name, name))
            return &s[k];
    return NULL;
}

/* Each /summary scalar the tables determine must be what they give (NaN matches NaN). */
static int check_summary(struct verifier *v)
{
    struct h5_scalar *s = NULL;
    size_t n = 0, nb = v->b.n;
    const int64_t top = v->rep->height, found = (int64_t)nb - 1, stale = v->rep->stale;
    const int64_t selfish = v->cfg->attacks.selfish_node;
    int64_t selfish_main = 0, n_inc = 0, n_conf = 0, n_agree = 0;
    double kwh = 0, value = 0, inc = 0, conf = 0, agree = 0;
    int rc = h5_reader_summary(v->r, &s, &n, v->e);
    if (rc)
        return rc;
    for (int64_t h = 1; h <= top; h++)
        selfish_main += selfish >= 0 && v->b.miner[v->main_at[h]] == selfish;
    for (size_t i = 0; i < v->tr.n; i++) {
        const double a = v->tr.t_agree[i] - v->tr.t_request[i];
        const double b = v->tr.t_included[i] - v->tr.t_agree[i];
        const double c = v->tr.t_confirmed[i] - v->tr.t_included[i];
        kwh += v->tr.kwh[i];
        value += v->tr.kwh[i] * v->tr.price[i];
        if (isfinite(a))
            agree += a, n_agree++;
        if (isfinite(b))
            inc += b, n_inc++;
        if (isfinite(c))
            conf += c, n_conf++;
    }
    {
        const struct {
            const char *name;
            double want;
        } w[] = {
            {"chain_blocks_found", (double)found},
            {"chain_height", (double)top},
            {"chain_stale_blocks", (double)stale},
            {"chain_stale_rate", found > 0 ? (double)stale / (double)found : 0},
            {"chain_txs_main", (double)v->rep->txs_main},
            {"chain_trades_confirmed", (double)v->trades_confirmed},
            {"chain_confirmations", (double)v->cfg->chain.confirmations},
            {"chain_mean_interval_s",
             top > 0 ? (v->b.t_found[v->main_at[top]] - v->b.t_found[v->main_at[0]]) / (double)top
                     : NAN},
            {"chain_selfish_blocks_main", (double)selfish_main},
            {"trades", (double)v->tr.n},
            {"traded_kwh", kwh},
            {"mean_price", kwh > 0 ? value / kwh : NAN},
            {"latency_request_agree_mean", n_agree ? agree / (double)n_agree : NAN},
            {"latency_agree_include_mean", n_inc ? inc / (double)n_inc : NAN},
            {"latency_include_confirm_mean", n_conf ? conf / (double)n_conf : NAN},
        };
        for (size_t k = 0; k < sizeof w / sizeof w[0] && !rc; k++) {
            const struct h5_scalar *x = scalar(s, n, w[k].name);
            if (!x)
                rc = err_set(v->e, ERR_VERIFY, "/summary %s is missing (the tables give %.17g)",
                             w[k].name, w[k].want);
            else if (isnan(w[k].want) ? !isnan(x->f)
                                      : !(fabs(x->f - w[k].want) <= 1e-9 * (1 + fabs(w[k].want))))
                rc = err_set(v->e, ERR_VERIFY, "/summary %s = %.17g, but the tables give %.17g",
                             w[k].name, x->f, w[k].want);
        }
    }
    free(s);
    return rc;
}

/* ---- driver ------------------------------------------------------------------------------- */

static void verifier_fini(struct verifier *v)
{
    free(v->b.height), free(v->b.stale), free(v->b.work), free(v->b.t_pub), free(v->b.hash), free(v->b.prev);
    free(v->b.merkle), free(v->b.header);
    free(v->t.block), free(v->t.txid), free(v->t.enc), free(v->t.height), free(v->t.index);
    free(v->t.stale), free(v->t.kind), free(v->t.part), free(v->t.parts), free(v->t.ref);
    free(v->tr.id), free(v->tr.group), free(v->tr.seller), free(v->tr.buyer), free(v->tr.height);
    free(v->tr.kwh), free(v->tr.price), free(v->tr.t_request), free(v->tr.t_agree);
    free(v->vb), free(v->by_hash), free(v->vt), free(v->tx_order), free(v->encbuf);
    free(v->parties), free(v->tr_order), free(v->main_at), free(v->pk), free(v->pk_set);
    free(v->b.version), free(v->b.time), free(v->b.bits), free(v->b.nonce), free(v->b.nonce_start);
    free(v->b.miner), free(v->b.tx_count), free(v->b.size), free(v->b.withheld);
    free(v->b.attempts), free(v->b.difficulty), free(v->b.t_found);
    free(v->tr.slot), free(v->tr.tx_case), free(v->tr.t_included), free(v->tr.t_confirmed);
    free(v->by_tpub), free(v->id_text), free(v->id_version);
    cfg_fini(&v->cfg_own);
    h5_reader_close(v->r);
    pool_free(v->workers);
}

static int verify_run(struct verifier *v, const struct chain_verify_opts *o)
{
    size_t *order;
    int64_t fsize;
    int rc;
    if (!(v->r = h5_reader_open(v->path, v->e)))
        return v->e ? v->e->code : ERR_FORMAT;
    fsize = h5_reader_file_size(v->r);
    if (fsize < 0)
        fsize = 0;
    /* deflate packs at most ~1032:1; a column claiming more than that is damage */
    v->max_bytes = (size_t)fsize > ((size_t)1 << 40) / 2048 ? (size_t)1 << 40
                                                            : (size_t)fsize * 2048 + ((size_t)16 << 20);
    if ((rc = read_run(v, o)) || (rc = read_tables(v)))
        return rc;
    v->rep->blocks = (int64_t)v->b.n;
    v->vb = calloc(v->b.n + 1, sizeof *v->vb);
    v->by_hash = malloc((v->b.n + 1) * sizeof *v->by_hash);
    v->vt = calloc(v->t.n + 1, sizeof *v->vt);
    v->tx_order = malloc((v->t.n + 1) * sizeof *v->tx_order);
    v->encbuf = malloc(v->t.n * (HEX_PART / 2) + 1);
    v->parties = malloc(CHAIN_TX_MAX_BUYERS * sizeof *v->parties);
    v->tr_order = malloc((v->tr.n + 1) * sizeof *v->tr_order);
    if (!v->vb || !v->by_hash || !v->vt || !v->tx_order || !v->encbuf || !v->parties ||
        !v->tr_order)
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    if ((rc = check_headers(v)))
        return rc;
    for (size_t i = 0; i < v->b.n; i++)
        v->by_hash[i] = i;
    qsort_r(v->by_hash, v->b.n, sizeof *v->by_hash, cmp_hash_rows, v);
    for (size_t i = 1; i < v->b.n; i++)
        if (!strcmp(v->b.hash[v->by_hash[i]], v->b.hash[v->by_hash[i - 1]]))
            return fail_block(v, v->by_hash[i], "stored twice in /blocks");
    if ((rc = check_tx_rows(v)) || (rc = assign_txs(v)))
        return rc;
    if (!(order = malloc((v->b.n + 1) * sizeof *order)))
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    rc = check_tree(v, order);
    free(order);
    if (rc || (rc = check_main(v)))
        return rc;
    if (v->flags & CHAIN_VERIFY_CHAIN_ONLY)
        return 0;
    v->n_agents = cfg_agent_total(v->cfg);
    if (v->n_agents < 0 || v->n_agents > (INT64_C(1) << 32))
        return err_set(v->e, ERR_FORMAT, "%s: the scenario has %lld agents", v->path,
                       (long long)v->n_agents);
    v->pk = calloc((size_t)v->n_agents + 1, sizeof *v->pk);
    v->pk_set = calloc((size_t)v->n_agents + 1, 1);
    if (!v->pk || !v->pk_set)
        return err_set(v->e, ERR_NOMEM, "verify: out of memory");
    if ((rc = check_trades(v)) || (rc = replay_balances(v)))
        return rc;
    return check_summary(v);
}

int chain_verify_file(const char *path, const struct chain_verify_opts *opts,
                      struct chain_verify_report *rep, struct err *e)
{
    struct chain_verify_report local;
    struct err le = {0};
    struct verifier v;
    int rc;
    memset(&v, 0, sizeof v);
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->height = -1;
    rep->fail_height = -1;
    v.path = path;
    v.flags = opts ? opts->flags : 0;
    v.rep = rep;
    v.e = e ? e : &le;
    cfg_init(&v.cfg_own);
    if (opts && (opts->threads < 0 || opts->threads > POOL_MAX_THREADS))
        rc = err_set(v.e, ERR_USAGE, "verify: threads = %d: expected 0 (every core) to %d",
                     opts->threads, POOL_MAX_THREADS);
    else if ((rc = mine_roll_span_env(&v.span, v.e)))
        ; /* the test hook's span, as `setm run` read it */
    else if (!(v.workers = pool_new(opts ? opts->threads : 0, v.e)))
        rc = v.e->code ? v.e->code : ERR_NOMEM;
    else
        rc = verify_run(&v, opts);
    verifier_fini(&v);
    return rc;
}
