/*
 * chain_output — the /blocks and /transactions tables, finality write-out, and the summary.
 *
 * Owns: the table layouts, writing a block (and its transactions' encodings) once it is final or
 * the run ends, freeing what no unwritten block needs (a written block's transaction list once no
 * ledger can pass it again, encodings of final transactions no list names), and the chain's
 * summary attributes and memory counts.
 * Invariant: blocks below wcur are written, in index order, each exactly once.
 */
#include "chain/chain_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))
#define ENC_HEX_PART 1024 /* hex digits of a transaction's encoding per /transactions row */

struct block_row {
    int64_t height;
    char hash[65], prev[65], merkle[65];
    char header[2 * MINE_HEADER_LEN + 1];
    uint32_t version, time, bits, nonce, nonce_start;
    uint64_t attempts, race_attempts;
    double difficulty, chainwork;
    int32_t miner;
    double t_found, t_published, propagation_s;
    int32_t tx_count, size_bytes;
    uint8_t stale, withheld;
    double search_wall_s;
};

static const struct h5_col block_cols[] = {
    {"height", H5_COL_I64, offsetof(struct block_row, height), 0, "", "blocks above genesis"},
    {"hash", H5_COL_STR, offsetof(struct block_row, hash), 65, "",
     "SHA-256d of the header, hex in display order (reversed, as explorers print it)"},
    {"previous", H5_COL_STR, offsetof(struct block_row, prev), 65, "",
     "hash of the parent block, display order"},
    {"merkle_root", H5_COL_STR, offsetof(struct block_row, merkle), 65, "",
     "Merkle root of the txids, display order (all zeros for an empty block; genesis: the run "
     "identity, see chain_identity_root)"},
    {"header", H5_COL_STR, offsetof(struct block_row, header), 2 * MINE_HEADER_LEN + 1, "",
     "the raw 80-byte header as 160 hex digits in serialized order: SHA-256d of it is the hash"},
    {"version", H5_COL_U32, offsetof(struct block_row, version), 0, "", "header version"},
    {"time", H5_COL_U32, offsetof(struct block_row, time), 0, "s",
     "header time: simulated seconds when the template was built, + the roll (one second per 2^32 "
     "nonces searched)"},
    {"bits", H5_COL_U32, offsetof(struct block_row, bits), 0, "", "compact target"},
    {"nonce", H5_COL_U32, offsetof(struct block_row, nonce), 0, "", "the nonce found"},
    {"nonce_start", H5_COL_U32, offsetof(struct block_row, nonce_start), 0, "",
     "first nonce of the winning search segment (drawn from the chain's stream)"},
    {"attempts", H5_COL_U64, offsetof(struct block_row, attempts), 0, "hashes",
     "(roll, nonce) pairs of the winning segment up to and including the winner: roll x 2^32 + "
     "(nonce - nonce_start) mod 2^32 + 1, roll = seconds the header time was rolled"},
    {"race_attempts", H5_COL_U64, offsetof(struct block_row, race_attempts), 0, "hashes",
     "nonces searched by the network since the previous block was found, this block's included"},
    {"difficulty", H5_COL_F64, offsetof(struct block_row, difficulty), 0, "bits",
     "log2 of the expected attempts per block at bits"},
    {"chainwork", H5_COL_F64, offsetof(struct block_row, chainwork), 0, "hashes",
     "expected attempts summed from genesis to this block"},
    {"miner", H5_COL_I32, offsetof(struct block_row, miner), 0, "", "node that found it (-1: genesis)"},
    {"t_found", H5_COL_F64, offsetof(struct block_row, t_found), 0, "s", "simulated time found"},
    {"t_published", H5_COL_F64, offsetof(struct block_row, t_published), 0, "s",
     "simulated time sent to the other nodes (later than t_found when withheld; NaN: never)"},
    {"propagation_s", H5_COL_F64, offsetof(struct block_row, propagation_s), 0, "s",
     "from publication until the last node received it"},
    {"tx_count", H5_COL_I32, offsetof(struct block_row, tx_count), 0, "", "transactions"},
    {"size_bytes", H5_COL_I32, offsetof(struct block_row, size_bytes), 0, "bytes",
     "header plus transaction encodings"},
    {"stale", H5_COL_U8, offsetof(struct block_row, stale), 0, "",
     "1 when not on the main chain (orphaned by a fork, or withheld and never needed)"},
    {"withheld", H5_COL_U8, offsetof(struct block_row, withheld), 0, "",
     "1 when mined by the selfish node"},
    {"search_wall_s", H5_COL_F64, offsetof(struct block_row, search_wall_s), 0, "s",
     "wall-clock seconds the mining backend spent on this block's race"},
};

struct tx_row {
    char block[65];
    int64_t height;
    int32_t index;
    uint8_t stale;
    char txid[65];
    uint8_t kind;
    uint64_t ref;
    int32_t part, parts;
    char enc[ENC_HEX_PART + 1];
};

static const struct h5_col tx_cols[] = {
    {"block", H5_COL_STR, offsetof(struct tx_row, block), 65, "", "hash of the including block"},
    {"height", H5_COL_I64, offsetof(struct tx_row, height), 0, "", "its height"},
    {"index", H5_COL_I32, offsetof(struct tx_row, index), 0, "",
     "position in the block: the Merkle leaf order"},
    {"stale", H5_COL_U8, offsetof(struct tx_row, stale), 0, "", "1 when the block is stale"},
    {"txid", H5_COL_STR, offsetof(struct tx_row, txid), 65, "",
     "SHA-256d of the whole encoding, display order (reversed)"},
    {"kind", H5_COL_U8, offsetof(struct tx_row, kind), 0, "", "1 trade, 2 transfer"},
    {"ref", H5_COL_U64, offsetof(struct tx_row, ref), 0, "",
     "trade: the market's trade reference; transfer: the payer's serial"},
    {"part", H5_COL_I32, offsetof(struct tx_row, part), 0, "",
     "which piece of the encoding this row holds, from 0"},
    {"parts", H5_COL_I32, offsetof(struct tx_row, parts), 0, "",
     "rows holding this transaction's encoding"},
    {"encoding", H5_COL_STR, offsetof(struct tx_row, enc), ENC_HEX_PART + 1, "",
     "canonical encoding as hex, up to 1024 digits per row; concatenate the parts"},
};

static void hash_hex(const unsigned char h[MINE_HASH_LEN], char out[65]) { mine_hash_to_hex(h, out); }

/* ---- output ----------------------------------------------------------------------------- */

static int write_block(struct chain *c, int64_t i, struct err *e)
{
    struct blk *b = chain_blk(c, i);
    struct block_row row;
    struct chain_header h;
    int rc;

    memset(&row, 0, sizeof row);
    chain_header_unpack(b->hdr, &h);
    row.height = b->height;
    hash_hex(b->hash, row.hash);
    hash_hex(h.prev, row.prev);
    hash_hex(h.merkle, row.merkle);
    chain_hex(b->hdr, MINE_HEADER_LEN, row.header);
    row.version = h.version;
    row.time = h.time;
    row.bits = h.bits;
    row.nonce = h.nonce;
    row.nonce_start = b->nonce_start;
    row.attempts = b->attempts;
    row.race_attempts = b->race_attempts;
    row.difficulty = log2(chain_bits_work(h.bits));
    row.chainwork = b->work;
    row.miner = b->miner;
    row.t_found = b->t_found;
    row.t_published = b->published ? b->t_pub : NAN;
    row.propagation_s = b->published ? b->prop : NAN;
    row.tx_count = (int32_t)b->n_tx;
    row.size_bytes = (int32_t)b->size;
    row.stale = !b->main;
    row.withheld = b->miner >= 0 && b->miner == c->selfish;
    row.search_wall_s = b->wall;
    if ((rc = h5_table_append(c->t_blocks, &row, e)))
        return rc;
    for (uint32_t k = 0; k < b->n_tx; k++) {
        const struct txrec *r = chain_txrec(c, b->txs[k]);
        struct tx_row tr;
        unsigned char id[CHAIN_TXID_LEN];
        size_t digits = 2 * (size_t)r->len;
        int32_t parts = (int32_t)((digits + ENC_HEX_PART - 1) / ENC_HEX_PART);
        memset(&tr, 0, sizeof tr);
        memcpy(tr.block, row.hash, sizeof tr.block);
        tr.height = b->height;
        tr.index = (int32_t)k;
        tr.stale = row.stale;
        memcpy(id, r->id, sizeof id);
        hash_hex(id, tr.txid);
        tr.kind = r->kind;
        tr.ref = r->ref;
        tr.parts = parts;
        for (int32_t p = 0; p < parts; p++) {
            size_t from = (size_t)p * ENC_HEX_PART / 2, n = r->len - from;
            if (n > ENC_HEX_PART / 2)
                n = ENC_HEX_PART / 2;
            tr.part = p;
            memset(tr.enc, 0, sizeof tr.enc); /* no digits of the previous part after the NUL */
            chain_hex(r->enc + from, n, tr.enc);
            if ((rc = h5_table_append(c->t_txs, &tr, e)))
                return rc;
        }
    }
    return 0;
}

/* Written block b's transaction list is needed no more (it is main and settled, so no ledger
 * passes it again, or stale and below the final height, so no live branch holds it): free it, and
 * the encodings of final transactions that no other list names. */
void chain_block_release(struct chain *c, struct blk *b)
{
    if (!b->txs)
        return;
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = chain_txrec(c, b->txs[k]);
        r->refs--;
        if (r->status == TX_FINAL && r->refs == 0) {
            free(r->enc);
            r->enc = NULL;
        }
    }
    free(b->txs);
    b->txs = NULL;
}

/* Block i is final (or the run ends): write it, then free what no block still needs. */
static int finalize_block(struct chain *c, int64_t i)
{
    struct blk *b = chain_blk(c, i);
    int rc = 0;
    if (c->t_blocks && (rc = write_block(c, i, c->e)))
        return rc;
    b->written = 1;
    if (b->main && b->settled)
        chain_block_final_hooks(c, b);
    for (uint32_t k = 0; k < b->n_tx; k++) {
        struct txrec *r = chain_txrec(c, b->txs[k]);
        if (b->main && r->status == TX_MAIN) {
            r->status = TX_FINAL;
            free(r->arrive);
            r->arrive = NULL;
        }
    }
    if (!b->main || b->settled) /* else the settled ledger still applies it (chain_ledger_goto) */
        chain_block_release(c, b);
    return 0;
}

/* Write out every block up to `height` (the final height) in index order, then forget the
 * transaction records out of the window. */
int chain_finalize_upto(struct chain *c, int64_t height)
{
    while (c->wcur < c->n_blocks && chain_blk(c, c->wcur)->height <= height) {
        int rc = finalize_block(c, c->wcur);
        if (rc)
            return rc;
        c->wcur++;
    }
    return chain_forget(c);
}

int chain_tables_open(struct chain *c, struct h5_file *f, struct err *e)
{
    c->t_blocks = h5_table_new(f, "blocks", block_cols, NCOLS(block_cols), e);
    if (!c->t_blocks)
        return e ? e->code : ERR_IO;
    c->t_txs = h5_table_new(f, "transactions", tx_cols, NCOLS(tx_cols), e);
    if (!c->t_txs) {
        c->t_blocks = NULL;
        return e ? e->code : ERR_IO;
    }
    return 0;
}

int chain_finish(struct chain *c, struct err *e)
{
    /* The main chain now is the final one: report what is not reported yet, walking down from
     * the tip to the first block both written and settled (everything below was reported). */
    for (int64_t b = c->best;
         b >= c->blk_base && !(chain_blk(c, b)->written && chain_blk(c, b)->settled);
         b = chain_blk(c, b)->parent)
        chain_block_final_hooks(c, chain_blk(c, b));
    while (c->wcur < c->n_blocks) {
        int rc = c->t_blocks ? write_block(c, c->wcur, e) : 0;
        if (rc)
            return rc;
        chain_blk(c, c->wcur++)->written = 1;
    }
    return 0;
}

void chain_summary_get(struct chain *c, struct chain_summary *s)
{
    const struct blk *tip = chain_blk(c, c->best);
    *s = c->sum;
    s->height = tip->height;
    s->stale_blocks = s->blocks_found - tip->height;
    s->stale_rate = s->blocks_found > 0 ? (double)s->stale_blocks / (double)s->blocks_found : 0;
    s->mean_interval_s =
        tip->height > 0 ? (tip->t_found - c->t_genesis) / (double)tip->height : NAN;
    s->selfish_share_main = c->selfish >= 0 && tip->height > 0
                                ? (double)s->selfish_blocks_main / (double)tip->height
                                : NAN;
    s->search_wall_s += c->race.wall;
    memcpy(s->tip, tip->hash, MINE_HASH_LEN);
}

void chain_mem_stats_get(const struct chain *c, struct chain_mem_stats *s)
{
    memset(s, 0, sizeof *s);
    s->tx_records = (int64_t)(c->n_txs - c->tx_base);
    s->tx_forgotten = (int64_t)c->tx_base;
    s->tx_slots = (int64_t)c->cap_txs;
    s->tx_index_slots = (int64_t)c->index_cap;
    s->blocks = c->n_blocks - c->blk_base;
    s->blocks_dropped = c->blk_base;
    s->block_slots = (int64_t)c->cap_blocks;
    for (int64_t i = c->blk_base; i < c->n_blocks; i++)
        s->block_tx_lists += chain_blk(c, i)->txs != NULL;
    s->final_height = c->final_h;
}

int chain_summary_write(struct chain *c, struct h5_file *f, struct err *e)
{
    struct chain_summary s;
    char tip[65];
    int rc;
    chain_summary_get(c, &s);
    hash_hex(s.tip, tip);
#define I64(name, v, u)                                                                            \
    if ((rc = h5_summary_i64(f, name, v, u, e)))                                                   \
    return rc
#define F64(name, v, u)                                                                            \
    if ((rc = h5_summary_f64(f, name, v, u, e)))                                                   \
    return rc
    I64("chain_blocks_found", s.blocks_found, "blocks");
    I64("chain_height", s.height, "blocks");
    I64("chain_stale_blocks", s.stale_blocks, "blocks");
    F64("chain_stale_rate", s.stale_rate, "");
    F64("chain_mean_interval_s", s.mean_interval_s, "s");
    I64("chain_confirmations", c->cfg->chain.confirmations, "blocks");
    I64("chain_txs_submitted", s.txs_submitted, "");
    I64("chain_txs_main", s.txs_main, "");
    I64("chain_trades_confirmed", s.trades_confirmed, "");
    I64("chain_txs_rejected", s.txs_rejected, "");
    I64("chain_txs_expired", s.txs_expired, "");
    I64("chain_double_spends_detected", s.double_spends_detected, "");
    I64("chain_double_spend_attacks", s.double_spend_attacks, "");
    I64("chain_tampered_copies", s.tampered_copies, "");
    I64("chain_tampered_rejected", s.tampered_rejected, "");
    I64("chain_reorgs", s.reorgs, "");
    I64("chain_max_reorg_depth", s.max_reorg_depth, "blocks");
    I64("chain_confirmed_reverted", s.confirmed_reverted, "blocks");
    I64("chain_selfish_blocks_main", s.selfish_blocks_main, "blocks");
    F64("chain_selfish_share_main", s.selfish_share_main, "");
    F64("chain_nonces_searched", (double)s.nonces_searched, "hashes");
    F64("chain_search_wall_s", s.search_wall_s, "s");
#undef I64
#undef F64
    return h5_attr_str(f, "chain_tip", tip, e);
}
