/*
 * chain — life cycle, nodes and the block race.
 *
 * Owns: creating and freeing a chain (genesis mined for real, committing to the run's identity),
 * the race (each segment draws the next finder by hash rate and really searches its header's
 * nonces on the mining backend), the nodes' tips (deliveries connect blocks; a tip moves to more
 * work, first seen wins ties), and the event handlers CHAIN_EV_RACE and CHAIN_EV_DELIVER.
 * Invariant: while the chain lives exactly one race event is pending, and every change of any
 * node's tip restarts it (race_start explains why this keeps the race fair).
 * The data layout and the other files of the chain: chain_internal.h.
 */
#include "core/wallclock.h"
#include "chain/chain_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------------------- */

void chain_security(struct chain *c, int64_t who, const char *kind, const char *action, int det)
{
    if (c->hooks.security)
        c->hooks.security(c->hooks.ctx, eng_now(c->eng), who, kind, action, det);
}

/* Node-to-node delay of `bytes`, drawn from stream r (attack traffic draws from the attack
 * stream, so switching an attack on leaves honest delays, and the honest chain, unchanged). */
double chain_delay_from(const struct chain *c, gsl_rng *r, uint32_t bytes)
{
    const double bps = c->cfg->chain.bandwidth_mbps * 1e6;
    double d = c->cfg->chain.propagation_min_s + 8.0 * bytes / bps;
    if (c->cfg->chain.propagation_jitter_s > 0)
        d += rng_exponential(r, c->cfg->chain.propagation_jitter_s);
    return d;
}

double chain_delay(struct chain *c, uint32_t bytes) { return chain_delay_from(c, c->rng_net, bytes); }

/* b's ancestor at `height` (b itself when it is not above it).  The walk never goes below
 * blk_base: callers ask only on live branches for heights the block window keeps
 * (chain_blocks_forget), where that stop is never reached. */
int64_t chain_ancestor(const struct chain *c, int64_t b, int64_t height)
{
    while (b != NO_BLOCK && chain_blk(c, b)->height > height) {
        const int64_t p = chain_blk(c, b)->parent;
        if (p != NO_BLOCK && p < c->blk_base)
            break;
        b = p;
    }
    return b;
}

/* Does block b's branch hold the checkpoint (the main-chain block at final_h)?  Walks down to the
 * first main-chain block: a side branch's length, not the chain's.  A dropped block (index below
 * blk_base) is dead: the first main-chain block below it is below the final height. */
int chain_branch_live(const struct chain *c, int64_t b)
{
    while (b >= c->blk_base && !chain_blk(c, b)->main)
        b = chain_blk(c, b)->parent;
    return b >= c->blk_base && chain_blk(c, b)->height >= c->final_h;
}

/* Bits a child of block p must carry: p's, or Bitcoin's clamped retarget every R blocks. */
uint32_t chain_next_bits(const struct chain *c, int64_t p)
{
    const struct blk *b = chain_blk(c, p);
    const int64_t R = c->cfg->chain.retarget_blocks;
    int64_t first, intervals;
    uint32_t bits;
    if (R <= 0 || (b->height + 1) % R != 0)
        return b->bits;
    first = chain_ancestor(c, p, b->height - R > 0 ? b->height - R : 0);
    intervals = b->height - chain_blk(c, first)->height;
    if (intervals <= 0)
        return b->bits;
    if (chain_retarget(b->bits,
                       (int64_t)mine_header_u32(b->hdr, MINE_HDR_TIME) -
                           (int64_t)mine_header_u32(chain_blk(c, first)->hdr, MINE_HDR_TIME),
                       (int64_t)llround(intervals * c->cfg->chain.block_interval_s), &bits, NULL))
        return b->bits;
    return bits;
}

/* ---- the block window ------------------------------------------------------------------ */

/* The lowest block the check of a pending delivery of block x reads: x's ancestor at the
 * bottom of its parent's retarget window (chain_next_bits of the parent), or `anchor` (the
 * main-chain block at final_h - keep, the lowest block kept anyway) when that ancestor is on the
 * main chain at or above it.  Walks x's own branch down to the main chain, then the main chain
 * only below the anchor: a walk of retarget_blocks for every pending delivery at every checkpoint
 * (63 deliveries a block with 64 nodes) would cost more than the rest of the run. */
static int64_t delivery_floor(const struct chain *c, int64_t x, int64_t anchor)
{
    const int64_t R = c->cfg->chain.retarget_blocks > 0 ? c->cfg->chain.retarget_blocks : 0;
    const int64_t h = chain_blk(c, x)->height - 1 - R > 0 ? chain_blk(c, x)->height - 1 - R : 0;
    const int64_t ha = chain_blk(c, anchor)->height;
    while (!chain_blk(c, x)->main && chain_blk(c, x)->height > h) {
        const int64_t p = chain_blk(c, x)->parent;
        if (p < c->blk_base) /* chain_ancestor's stop */
            return x;
        x = p;
    }
    if (!chain_blk(c, x)->main || chain_blk(c, x)->height <= h)
        return x; /* on x's own branch */
    if (h >= ha)
        return anchor; /* the main-chain block at h is the anchor or above it */
    return chain_ancestor(c, chain_blk(c, x)->height < ha ? x : anchor, h);
}

/* Drop the blocks nothing can read again (chain_internal.h): blk_base moves up to the main-chain
 * block `keep` below the final height, or to the lowest block still named, whichever is lower;
 * the dropped prefix is compacted away once it is 1,024 blocks and a quarter of what is kept. */
int chain_blocks_forget(struct chain *c)
{
    const int64_t R = c->cfg->chain.retarget_blocks > 0 ? c->cfg->chain.retarget_blocks : 0;
    const int64_t conf = c->cfg->chain.confirmations > 0 ? c->cfg->chain.confirmations : 0;
    const int64_t keep = R + conf + 1;
    int64_t lo, kept;
    if (c->keep_blocks || c->final_h - keep <= 0)
        return 0;
    /* The main-chain block at final_h - keep, climbed to from the last one through its main
     * child: the main chain below the final height never changes, and the last anchor is kept,
     * so this costs the blocks the checkpoint moved, not the window's length. */
    while (chain_blk(c, c->blk_anchor)->height < c->final_h - keep) {
        int64_t k = chain_blk(c, c->blk_anchor)->first_child;
        while (!chain_blk(c, k)->main)
            k = chain_blk(c, k)->next_sibling;
        c->blk_anchor = k;
    }
    lo = c->blk_anchor;
#define LOWER(x) (lo = (x) < lo ? (x) : lo)
    LOWER(c->best);
    LOWER(c->wcur);
    LOWER(c->work.at);
    LOWER(c->settled.at);
    for (int j = 0; j < c->n_nodes; j++)
        LOWER(c->tip[j]);
    if (c->selfish >= 0)
        LOWER(c->sm_pub);
    if (c->race.active)
        LOWER(c->race.parent);
    for (size_t k = 0; k < c->n_fl; k++)
        LOWER(delivery_floor(c, c->fl[k].blk, c->blk_anchor));
    for (size_t k = 0; k < c->n_tfl; k++)
        LOWER(delivery_floor(c, c->tfl[k], c->blk_anchor));
#undef LOWER
    if (lo <= c->blk_base)
        return 0;
    for (int64_t i = c->blk_base; i < lo; i++)
        chain_block_release(c, chain_blk(c, i)); /* written and released already: a no-op */
    c->blk_base = lo;
    kept = c->n_blocks - c->blk_base;
    if (c->blk_base - c->blk_arr >= 1024 && c->blk_base - c->blk_arr >= kept / 4) {
        memmove(c->blocks, chain_blk(c, c->blk_base), (size_t)kept * sizeof *c->blocks);
        c->blk_arr = c->blk_base;
    }
    return 0;
}

/* ---- the race --------------------------------------------------------------------------- */

static int64_t mining_base(const struct chain *c, int node) { return c->tip[node]; }

/* Start a race segment at t0: draw the winner by rate, build its template, search its header
 * over the nonces the network would try until the segment ends, schedule the outcome.
 *
 * Why this is fair.  Each node's next find is an exponential clock at its own rate (hash share x
 * network rate / expected attempts at its next bits).  Exponential clocks are memoryless: at any
 * moment chosen without looking at the clocks, every node's remaining time is again Exp(rate),
 * independent of the past, so the next find comes after Exp(total) and is node i's with
 * probability rate_i / total.  A segment therefore re-draws the winner from scratch, and its end
 * must not depend on the draw: it ends at the next pending delivery to ANY node (the only thing
 * that can change a node's mining base, and so a rate or a template) or at
 * chain.template_refresh_s, both known before the draw.  Every change of any node's tip restarts
 * the race (tip_changed), and since tips only change at deliveries and finds, no search is cut
 * short.  (The old rule ended a segment only at deliveries to the drawn winner and restarted only
 * when the winner's tip moved, so whether a restart happened depended on the hidden winner: the
 * finder of a block, mining on it at once while the others waited for it, won too often.) */
static int race_start(struct chain *c, double t0)
{
    struct race *R = &c->race;
    double rate[CHAIN_MAX_NODES], total = 0, u, t_end, x, dt, cap;
    uint64_t count, span;
    struct chain_header h;
    union eng_payload pl;
    int w = 0, rc;

    if (R->active) {
        eng_cancel(c->eng, R->ev);
        R->active = 0;
    }
    for (int i = 0; i < c->n_nodes; i++) {
        R->nb[i] = chain_next_bits(c, mining_base(c, i));
        rate[i] = c->share[i] * c->hash_rate / chain_bits_work(R->nb[i]);
        total += rate[i];
    }
    u = rng_uniform(c->rng_race) * total;
    for (w = 0; w < c->n_nodes - 1 && (u >= rate[w] || rate[w] == 0); w++)
        u -= rate[w];
    while (rate[w] == 0 && w > 0) /* rounding put u past the last non-zero rate */
        w--;
    R->winner = w;
    R->parent = mining_base(c, w);
    R->t0 = t0;
    R->rate = total;
    R->work_w = chain_bits_work(R->nb[w]);
    t_end = t0 + c->cfg->chain.template_refresh_s;
    for (size_t k = 0; k < c->n_fl; k++)
        if (c->fl[k].t < t_end)
            t_end = c->fl[k].t > t0 ? c->fl[k].t : t0;
    if ((rc = chain_build_template(c, w, R->parent, t0)))
        return rc;
    /* Header: time is the template's, in whole simulated seconds. */
    memset(&h, 0, sizeof h);
    h.version = CHAIN_BLOCK_VERSION;
    memcpy(h.prev, chain_blk(c, R->parent)->hash, MINE_HASH_LEN);
    for (uint32_t k = 0; k < R->n_tmpl; k++)
        memcpy(c->ids[k], chain_txrec(c, R->tmpl[k])->id, CHAIN_TXID_LEN);
    chain_merkle_root((const unsigned char(*)[CHAIN_TXID_LEN])c->ids, R->n_tmpl, c->ids + R->n_tmpl,
                      h.merkle);
    h.time = (uint32_t)floor(t0);
    h.bits = R->nb[w];
    chain_header_pack(&h, R->hdr);

    /* The winner stands in for the whole network: it tries as many nonces as the network would
     * in the segment (stochastically rounded, so no time is lost to rounding).
     *
     * Beyond one nonce space (difficulty above 32 bits, or a long segment) the header time rolls
     * as in the genesis search and as Bitcoin miners roll it: the segment searches (roll, nonce)
     * pairs in order, offset o trying time floor(t0) + o / S with nonce (start + o mod S) mod 2^32,
     * S = 2^32 nonces per roll (mine_roll_span; smaller only under the test hook
     * SETM_TEST_ROLL_SPAN), at most MINE_ROLL_MAX rolls. The lowest offset wins on every backend,
     * so the chain does not depend on the backend. A found block's header carries the rolled
     * time, and its attempts (offset + 1) are
     *     attempts = roll x S + ((nonce - nonce_start) mod 2^32) + 1,  roll = time - floor(t0),
     * which is what `setm verify` rebuilds (roll = (attempts - 1) / S < MINE_ROLL_MAX; the
     * template time, header time - roll, lies between the parent's t_found and the block's).
     * A segment that needs no roll (count <= S: every run at 32 bits or less with the default
     * segment lengths) is the plain nonce search of earlier versions, same chain. A segment
     * longer than the rolls allow ends after them, as one of 2^32 nonces did before. */
    span = mine_roll_span(c->mine);
    cap = (double)MINE_ROLL_MAX * (double)span;
    x = (t_end - t0) * total * R->work_w;
    if (x > cap)
        x = cap;
    count = (uint64_t)floor(x + rng_uniform(c->rng_race));
    if (count > MINE_ROLL_MAX * span)
        count = MINE_ROLL_MAX * span;
    R->start = (uint32_t)(rng_u64(c->rng_race) >> 32);
    memset(&R->res, 0, sizeof R->res);
    if (count > 0) {
        unsigned char target[MINE_TARGET_LEN];
        double w0 = wallclock_now();
        if ((rc = mine_target_from_bits(h.bits, target, c->e)))
            return rc;
        rc = mine_search_rolled_quiet(c->mine, R->hdr, target, R->start, count, &R->res, c->e);
        R->wall += wallclock_now() - w0;
        c->sum.nonces_searched += count;
        if (rc && rc != ERR_NOSOLUTION)
            return err_wrap(c->e, rc, "chain: nonce search at t = %.3f s", t0);
        err_clear(c->e);
    }
    memset(&pl, 0, sizeof pl);
    pl.u64[0] = ++R->serial;
    if (R->res.found) {
        dt = (double)R->res.attempts / (total * R->work_w);
        pl.u64[1] = 1;
        dt += t0;
    } else {
        R->attempts += count;
        /* end exactly at t_end (t0 + (t_end - t0) may round below a delivery due then) */
        dt = count < MINE_ROLL_MAX * span ? t_end : t0 + (double)count / (total * R->work_w);
    }
    rc = eng_schedule(c->eng, dt, CHAIN_EV_RACE, (uint32_t)w, &pl, &R->ev);
    if (rc)
        return err_set(c->e, rc, "chain: cannot schedule the race at t = %.3f s", dt);
    R->active = 1;
    return 0;
}

/* ---- nodes ------------------------------------------------------------------------------ */

/* A node's tip moved: restart the race, whoever the node is (see race_start: restarting only
 * when the hidden winner is affected would bias the race). */
int chain_tip_changed(struct chain *c, int node)
{
    (void)node;
    if (!c->race.active)
        return 0;
    return race_start(c, eng_now(c->eng));
}

/* Node j now has block i and its whole ancestry; so may i's children it received earlier. */
static void connect_at(struct chain *c, int j, int64_t i, int *tip_moved, int *pub_moved)
{
    const uint64_t bit = UINT64_C(1) << j;
    struct blk *b = chain_blk(c, i);
    b->connected |= bit;
    if (j == c->selfish) {
        if (b->published && b->miner != j && b->work > chain_blk(c, c->sm_pub)->work &&
            chain_branch_live(c, i)) {
            c->sm_pub = i;
            *pub_moved = 1;
        }
    } else if (b->work > chain_blk(c, c->tip[j])->work && chain_branch_live(c, i)) {
        /* first seen wins ties; a branch forking below the final height is never adopted */
        c->tip[j] = i;
        *tip_moved = 1;
    }
    for (int64_t k = b->first_child; k != NO_BLOCK; k = chain_blk(c, k)->next_sibling)
        if ((chain_blk(c, k)->known & bit) && !(chain_blk(c, k)->connected & bit))
            connect_at(c, j, k, tip_moved, pub_moved);
}

static int on_deliver(struct eng *eng, const struct eng_event *ev, void *ctx)
{
    struct chain *c = ctx;
    const int64_t i = ev->data.i64[0];
    int64_t p;
    const int j = (int)ev->target;
    const uint64_t bit = UINT64_C(1) << j;
    int tip_moved = 0, pub_moved = 0, rc = 0;
    (void)eng;
    if (ev->data.u32[3]) {
        chain_tamper_remove(c, i);
        return chain_tamper_check(c, i, (int)ev->data.u32[2], ev->data.u64[2], ev->data.u32[6]);
    }
    chain_flight_remove(c, i, j);
    if (chain_blk(c, i)->known & bit)
        return 0;
    chain_blk(c, i)->known |= bit;
    p = chain_blk(c, i)->parent;
    if (p >= c->blk_base && (chain_blk(c, p)->connected & bit))
        connect_at(c, j, i, &tip_moved, &pub_moved);
    if (pub_moved && (rc = chain_selfish_on_public(c)))
        return rc;
    if (tip_moved)
        rc = chain_tip_changed(c, j);
    return rc;
}

/* The race's winner found its block: store it, let the miner extend its tip, publish or
 * withhold it, and start the next race. */
static int block_found(struct chain *c, double t)
{
    struct race *R = &c->race;
    struct blk *b, *p;
    int64_t i = c->n_blocks;
    int rc;

    if (grow_array(&c->blocks, &c->cap_blocks, (size_t)(i - c->blk_arr) + 1, sizeof *c->blocks))
        return err_set(c->e, ERR_NOMEM, "chain: out of memory for block %lld", (long long)i);
    b = chain_blk(c, i);
    p = chain_blk(c, R->parent);
    memset(b, 0, sizeof *b);
    memcpy(b->hdr, R->hdr, MINE_HEADER_LEN);
    mine_header_set_u32(b->hdr, MINE_HDR_NONCE, R->res.nonce);
    memcpy(b->hash, R->res.hash, MINE_HASH_LEN);
    b->height = p->height + 1;
    b->parent = R->parent;
    b->work = p->work + R->work_w;
    b->t_found = t;
    b->t_pub = NAN;
    b->prop = NAN;
    b->wall = R->wall;
    b->attempts = R->res.attempts;
    b->race_attempts = R->attempts + R->res.attempts;
    b->bits = R->nb[R->winner];
    b->nonce_start = R->start;
    b->miner = R->winner;
    b->size = R->size;
    b->n_tx = R->n_tmpl;
    b->known = b->connected = UINT64_C(1) << R->winner;
    b->first_child = NO_BLOCK;
    b->next_sibling = p->first_child;
    p->first_child = i;
    if (R->n_tmpl) {
        b->txs = malloc(R->n_tmpl * sizeof *b->txs);
        if (!b->txs)
            return err_set(c->e, ERR_NOMEM, "chain: out of memory for block %lld", (long long)i);
        memcpy(b->txs, R->tmpl, R->n_tmpl * sizeof *b->txs);
        for (uint32_t k = 0; k < R->n_tmpl; k++)
            chain_txrec(c, R->tmpl[k])->refs++;
    }
    c->n_blocks++;
    c->sum.blocks_found++;
    c->sum.search_wall_s += R->wall;
    R->attempts = 0;
    R->wall = 0;
    c->tip[R->winner] = i; /* it was mined on the miner's tip, so it has more work */
    if (R->winner == c->selfish)
        rc = chain_selfish_found(c);
    else
        rc = chain_publish(c, i);
    if (rc)
        return rc;
    return race_start(c, t);
}

static int on_race(struct eng *eng, const struct eng_event *ev, void *ctx)
{
    struct chain *c = ctx;
    (void)eng;
    if (ev->data.u64[0] != c->race.serial)
        return 0;
    c->race.active = 0;
    if (ev->data.u64[1])
        return block_found(c, ev->time);
    return race_start(c, ev->time);
}

/* ---- life cycle ------------------------------------------------------------------------- */

static int mine_genesis(struct chain *c, struct err *e)
{
    struct chain_header h;
    struct blk *g = chain_blk(c, 0);
    unsigned char target[MINE_TARGET_LEN];
    struct mine_result res;
    uint32_t bits;
    int rc;

    if ((rc = chain_bits_from_zero_bits((int)c->cfg->chain.difficulty_bits, &bits, e)))
        return err_wrap(e, ERR_CONFIG, "[chain] difficulty_bits");
    memset(&h, 0, sizeof h);
    h.version = CHAIN_BLOCK_VERSION;
    h.time = (uint32_t)floor(eng_now(c->eng));
    h.bits = bits;
    { /* the run's identity: a stored scenario, seed or version not the run's breaks block 0 */
        char *text = cfg_to_string(c->cfg);
        if (!text)
            return err_set(e, ERR_NOMEM, "chain: out of memory for the genesis commitment");
        chain_identity_root(text, c->cfg->scenario.seed, SETM_VERSION, h.merkle);
        free(text);
    }
    chain_header_pack(&h, g->hdr);
    if ((rc = mine_target_from_bits(bits, target, e)))
        return rc;
    rc = mine_search_rolled(c->mine, g->hdr, target, 0, MINE_ROLL_MAX * mine_roll_span(c->mine),
                            &res, e);
    if (rc)
        return err_wrap(e, rc, "chain: mining the genesis block");
    mine_header_set_u32(g->hdr, MINE_HDR_NONCE, res.nonce);
    memcpy(g->hash, res.hash, MINE_HASH_LEN);
    g->height = 0;
    g->parent = NO_BLOCK;
    g->first_child = g->next_sibling = NO_BLOCK;
    g->work = chain_bits_work(bits);
    g->t_found = g->t_pub = eng_now(c->eng);
    g->prop = 0;
    g->attempts = g->race_attempts = res.attempts;
    g->bits = bits;
    g->size = MINE_HEADER_LEN;
    g->miner = -1;
    g->known = g->connected = ~UINT64_C(0);
    g->published = g->main = g->settled = 1;
    c->n_blocks = 1;
    c->t_genesis = g->t_found;
    return 0;
}

static struct chain *chain_build(const struct cfg *cfg, struct eng *eng,
                                 const struct chain_hooks *hooks, struct mine *m, int own,
                                 struct err *e)
{
    struct chain *c;
    const uint64_t seed = (uint64_t)cfg->scenario.seed;
    const size_t max_tx = (size_t)cfg->chain.max_block_txs;
    size_t na;
    const char *keep;
    int rc;

    if (sodium_init() < 0) {
        if (own)
            mine_free(m);
        err_set(e, ERR_RUNTIME, "chain: libsodium cannot initialise");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        if (own)
            mine_free(m);
        err_set(e, ERR_NOMEM, "chain: out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->eng = eng;
    c->mine = m;
    c->own_mine = own;
    c->e = eng_err(eng);
    if (hooks)
        c->hooks = *hooks;
    c->selfish = -1;
    if (cfg->chain.nodes < 1 || cfg->chain.nodes > CHAIN_MAX_NODES) {
        err_set(e, ERR_CONFIG, "[chain] nodes = %lld outside 1..%d", (long long)cfg->chain.nodes,
                CHAIN_MAX_NODES);
        goto fail;
    }
    c->n_nodes = (int)cfg->chain.nodes;
    if (cfg_chain_shares(cfg, c->share, e))
        goto fail;
    if (cfg->attacks.selfish_node >= cfg->chain.nodes) {
        err_set(e, ERR_CONFIG, "[attacks] selfish_node = %lld but [chain] nodes = %lld",
                (long long)cfg->attacks.selfish_node, (long long)cfg->chain.nodes);
        goto fail;
    }
    c->selfish = (int)cfg->attacks.selfish_node;
    if (cfg->attacks.double_spend_rate > 0 && !c->hooks.sign) {
        err_set(e, ERR_CONFIG,
                "[attacks] double_spend_rate = %g needs the run to let agents sign (no sign hook)",
                cfg->attacks.double_spend_rate);
        goto fail;
    }
    c->n_agents = cfg_agent_total(cfg);
    na = c->n_agents > 0 ? (size_t)c->n_agents : 1;
    c->pk = calloc(na, sizeof *c->pk);
    c->pk_set = calloc(na, 1);
    c->base = calloc(na, sizeof *c->base);
    c->work.bal = calloc(na, sizeof *c->work.bal);
    c->settled.bal = calloc(na, sizeof *c->settled.bal);
    c->index_cap = 1024;
    c->tx_index = calloc(c->index_cap, sizeof *c->tx_index);
    c->race.tmpl = malloc(max_tx * sizeof *c->race.tmpl);
    c->ids = malloc((2 * max_tx + 2) * sizeof *c->ids);
    c->encbuf = malloc(CHAIN_TX_MAX_LEN);
    c->parties = malloc(CHAIN_TX_MAX_BUYERS * sizeof *c->parties);
    keep = getenv("SETM_TEST_KEEP_BLOCKS");
    c->keep_blocks = keep && !strcmp(keep, "1");
    c->cap_blocks = 1024;
    c->blocks = calloc((size_t)c->cap_blocks, sizeof *c->blocks);
    c->rng_race = rng_stream_new(seed, "chain.race", 0);
    c->rng_net = rng_stream_new(seed, "chain.net", 0);
    c->rng_attack = rng_stream_new(seed, "chain.attack", 0);
    if (!c->pk || !c->pk_set || !c->base || !c->work.bal || !c->settled.bal || !c->tx_index ||
        !c->race.tmpl || !c->ids || !c->encbuf || !c->parties || !c->blocks || !c->rng_race ||
        !c->rng_net || !c->rng_attack) {
        err_set(e, ERR_NOMEM, "chain: out of memory for %lld wallets", (long long)c->n_agents);
        goto fail;
    }
    for (int64_t a = 0; a < c->n_agents; a++)
        c->base[a] = c->work.bal[a] = c->settled.bal[a] = cfg->chain.initial_coins;
    c->work.bit = LEDGER_WORK;
    c->settled.bit = LEDGER_SETTLED;
    if (mine_genesis(c, e))
        goto fail;
    c->hash_rate = cfg->chain.hash_rate > 0
                       ? cfg->chain.hash_rate
                       : chain_blk(c, 0)->work / cfg->chain.block_interval_s;
    c->best = c->sm_pub = 0;
    c->sum.selfish_share_main = NAN;
    if (eng_handler_set(eng, CHAIN_EV_RACE, on_race, c) ||
        eng_handler_set(eng, CHAIN_EV_DELIVER, on_deliver, c)) {
        err_set(e, ERR_RUNTIME, "chain: cannot register event handlers %d, %d", CHAIN_EV_RACE,
                CHAIN_EV_DELIVER);
        goto fail;
    }
    if ((rc = race_start(c, eng_now(eng)))) {
        err_set(e, rc, "%s", c->e->msg);
        goto fail;
    }
    return c;
fail:
    chain_free(c);
    return NULL;
}

struct chain *chain_new_with_mine(const struct cfg *cfg, struct eng *eng,
                                  const struct chain_hooks *hooks, struct mine *m, struct err *e)
{
    if (!m) {
        err_set(e, ERR_USAGE, "chain: no mining backend given");
        return NULL;
    }
    return chain_build(cfg, eng, hooks, m, 0, e);
}

struct chain *chain_new(const struct cfg *cfg, struct eng *eng, const struct chain_hooks *hooks,
                        struct err *e)
{
    struct mine_opts o;
    struct mine *m;
    mine_opts_init(&o);
    o.backend = cfg->mine.backend == CFG_BACKEND_OPENCL ? MINE_BACKEND_OPENCL
                : cfg->mine.backend == CFG_BACKEND_CPU  ? MINE_BACKEND_CPU
                                                        : MINE_BACKEND_AUTO;
    o.threads = (unsigned)cfg->mine.threads;
    o.platform = cfg->mine.platform;
    o.device = cfg->mine.device;
    o.stop = hooks ? hooks->stop : NULL;
    o.notice = mine_notice_stderr;
    o.expected_nonces = ldexp(cfg->sim.days * 86400.0 / cfg->chain.block_interval_s + 1.0,
                              (int)cfg->chain.difficulty_bits);
    m = mine_new(&o, e);
    if (!m)
        return NULL;
    return chain_build(cfg, eng, hooks, m, 1, e);
}

void chain_free(struct chain *c)
{
    if (!c)
        return;
    if (c->race.active)
        eng_cancel(c->eng, c->race.ev);
    if (c->own_mine)
        mine_free(c->mine);
    for (uint32_t i = c->tx_base; i < c->n_txs; i++) { /* the forgotten ones are freed */
        free(chain_txrec(c, i)->enc);
        free(chain_txrec(c, i)->arrive);
        free(chain_txrec(c, i)->payv);
    }
    for (int64_t i = c->blk_arr; i < c->n_blocks; i++)
        free(chain_blk(c, i)->txs);
    free(c->txs);
    free(c->blocks);
    free(c->tfl);
    free(c->tx_index);
    free(c->pend);
    free(c->fl);
    free(c->path);
    free(c->pk);
    free(c->pk_set);
    free(c->base);
    free(c->work.bal);
    free(c->settled.bal);
    free(c->race.tmpl);
    free(c->ids);
    free(c->encbuf);
    free(c->parties);
    free(c->batch.sig);
    free(c->batch.ok);
    free(c->batch.first);
    free(c->batch.off);
    free(c->batch.len);
    free(c->batch.msg);
    rng_free(c->rng_race);
    rng_free(c->rng_net);
    rng_free(c->rng_attack);
    free(c);
}

const char *chain_backend_name(const struct chain *c) { return mine_backend_name(c->mine); }
const char *chain_device_name(const struct chain *c) { return mine_device_desc(c->mine); }

const char *chain_mine_note(const struct chain *c) { return mine_note(c->mine); }
