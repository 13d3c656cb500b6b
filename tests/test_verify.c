/* test_verify — chain_verify_file and `setm verify`: real runs pass (plain, and with every chain
 * attack, pseudonyms and retargeting); each kind of corruption, written into a copy of a real
 * file with the HDF5 C API, fails with the right message and names the right block or
 * transaction (a block added with a validly signed transaction made before its header time minus
 * chain.tx_window fails the window rule); bad input (not HDF5, truncated, a table or column missing, a partial run, columns
 * of unequal length) is refused as such; the CLI's exit codes 0/1/2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <hdf5.h>
#include <sodium.h>

#include "chain/block.h"
#include "chain/tx.h"
#include "chain/verify.h"
#include "core/config.h"
#include "run/sim.h"
#include "io/h5.h"
#include "mine/pow.h"

#include "cli_harness.h"
#include "h5_harness.h"

/* Half a day of three houses and a plant: trades, tens of blocks, all fast at 8 zero bits. */
static const char small[] = "[scenario]\nname = small\nseed = 5\n[sim]\ndays = 0.5\n"
                            "[mine]\nbackend = cpu\n[chain]\ndifficulty_bits = 8\n"
                            "[agent.house]\ncount = 3\n[agent.plant]\ntype = solar_system\n"
                            "min_bid = 40\nmax_bid = 52\n";

/* The paper's case study with every attack on, more double spends, forks, pseudonyms and
 * retargeting.  A whole day: how many double-spend transfers reach the chain depends on the
 * chain's course, which any change of the resolved scenario (the genesis commitment) reshuffles;
 * half a day gave 9 to 25 single-party transactions, one day 15 to 42 (3 seeds x 2 mutual-key
 * models), and the forging tests below need more than 10. */
static const char *const attacked[] = {
    "sim.days=1",             "mine.backend=cpu",        "chain.difficulty_bits=8",
    "chain.retarget_blocks=8", "chain.pseudonyms=4",      "chain.propagation_min_s=30",
    "attacks.double_spend_rate=0.3", NULL};

struct fx {
    char dir[64];
    char good[128], attacked_run[128], copy[128];
    char out[8192], errtxt[8192];
};

/* Run the scenario file `file` (or the text `text`) with the --set style overrides. */
static int make_run(const char *text, const char *file, const char *const *sets, const char *path)
{
    struct cfg cfg;
    struct sim_opts o;
    struct sim_summary s;
    struct err e = {0};
    int rc;
    cfg_init(&cfg);
    memset(&o, 0, sizeof o);
    o.output = path;
    rc = text ? cfg_load_string(&cfg, text, "test", &e) : cfg_load_file(&cfg, file, &e);
    for (size_t k = 0; !rc && sets && sets[k]; k++)
        rc = cfg_set(&cfg, sets[k], &e);
    if (!rc)
        rc = cfg_validate(&cfg, &e);
    if (!rc)
        rc = sim_run(&cfg, &o, &s, &e);
    if (rc)
        fprintf(stderr, "make_run: %s\n", e.msg);
    cfg_fini(&cfg);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    h5_lib_init();
    if (!f || tu_mkdtemp(f->dir, "verify") != 0)
        return -1;
    snprintf(f->good, sizeof f->good, "%s/small.h5", f->dir);
    snprintf(f->attacked_run, sizeof f->attacked_run, "%s/attacked.h5", f->dir);
    snprintf(f->copy, sizeof f->copy, "%s/copy.h5", f->dir);
    if (make_run(small, NULL, NULL, f->good) ||
        make_run(NULL, SETM_SOURCE_DIR "/scenarios/attacks_demo.ini", attacked, f->attacked_run))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

/* ---- helpers: copies and corruptions with the HDF5 C API ----------------------------------- */

static void copy_bytes(const char *from, const char *to, long keep)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    long n = 0;
    int c;
    assert_non_null(a);
    assert_non_null(b);
    while ((keep < 0 || n < keep) && (c = fgetc(a)) != EOF) {
        fputc(c, b);
        n++;
    }
    fclose(a);
    fclose(b);
}

static long file_size(const char *path)
{
    FILE *a = fopen(path, "rb");
    long n;
    assert_non_null(a);
    fseek(a, 0, SEEK_END);
    n = ftell(a);
    fclose(a);
    return n;
}

/* A failed assertion leaves files open: close whatever is, so the next test starts clean. */
static void close_all(void)
{
    hid_t ids[64];
    ssize_t n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_ALL, 64, ids);
    for (ssize_t i = 0; i < n; i++)
        if (H5Iget_type(ids[i]) != H5I_FILE)
            H5Idec_ref(ids[i]);
    n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_FILE, 64, ids);
    for (ssize_t i = 0; i < n; i++)
        H5Fclose(ids[i]);
}

static hid_t open_copy(struct fx *f, const char *from)
{
    hid_t file;
    close_all();
    copy_bytes(from, f->copy, -1);
    file = H5Fopen(f->copy, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    return file;
}

struct blocks {
    size_t n;
    int64_t *height;
    uint8_t *stale;
    int32_t *tx_count;
    char (*hash)[65];
};

static void blocks_read(hid_t file, struct blocks *b)
{
    size_t n, elem;
    b->height = read_all(file, "/blocks/height", &b->n, &elem);
    b->stale = read_all(file, "/blocks/stale", &n, &elem);
    b->tx_count = read_all(file, "/blocks/tx_count", &n, &elem);
    b->hash = read_all(file, "/blocks/hash", &n, &elem);
    assert_int_equal(elem, 65);
}

static void blocks_free(struct blocks *b)
{
    free(b->height), free(b->stale), free(b->tx_count), free(b->hash);
}

static int verify(const char *path, struct chain_verify_report *rep, struct err *e)
{
    close_all();
    memset(e, 0, sizeof *e);
    return chain_verify_file(path, NULL, rep, e);
}

/* ---- real runs pass ------------------------------------------------------------------------ */

static void test_verify_real_run_passes(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    assert_int_equal(verify(f->good, &rep, &e), 0);
    assert_true(rep.blocks > 10);
    assert_true(rep.height > 10);
    assert_true(rep.txs > 0);
    assert_true(rep.trades > 0);
    assert_true(rep.signatures > rep.txs);
    assert_int_equal(rep.wallets, 4);
    assert_int_equal(strlen(rep.tip), 64);
    assert_int_equal(rep.fail_height, -1);
}

static void test_verify_attacked_run_passes(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file;
    size_t n, elem;
    uint8_t *kind;
    int transfers = 0;
    if (verify(f->attacked_run, &rep, &e))
        fail_msg("%s", e.msg);
    assert_true(rep.stale > 0);
    file = H5Fopen(f->attacked_run, H5F_ACC_RDONLY, H5P_DEFAULT);
    kind = read_all(file, "/transactions/kind", &n, &elem);
    for (size_t i = 0; i < n; i++)
        transfers += kind[i] == 2;
    free(kind);
    H5Fclose(file);
    assert_true(transfers > 0); /* double-spend transfers were re-played too */
}

/* ---- corruptions fail, naming the block or transaction --------------------------------------- */

static void test_verify_flipped_header_byte_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    size_t n, elem;
    char *hdr = read_all(file, "/blocks/header", &n, &elem);
    struct blocks b;
    const size_t row = n / 2;
    blocks_read(file, &b);
    hdr[row * elem + 2 * 70] = hdr[row * elem + 2 * 70] == '0' ? '1' : '0'; /* a time byte */
    write_all(file, "/blocks/header", hdr, n);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "hashes to"));
    assert_int_equal(rep.fail_height, b.height[row]);
    assert_string_equal(rep.fail_block, b.hash[row]);
    free(hdr);
    blocks_free(&b);
}

/* The first trade row whose transaction is in a block. */
static size_t included_trade(hid_t file)
{
    size_t n, elem;
    int64_t *height = read_all(file, "/trades/height", &n, &elem);
    size_t row = n;
    for (size_t i = 0; i < n && row == n; i++)
        if (height[i] >= 0)
            row = i;
    free(height);
    assert_true(row < n);
    return row;
}

static void test_verify_changed_trade_price_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    size_t n, elem, row = included_trade(file);
    double *price = read_all(file, "/trades/price", &n, &elem);
    price[row] += 0.5;
    write_all(file, "/trades/price", price, n);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "price"));
    assert_non_null(strstr(e.msg, "transaction "));
    assert_int_equal(strlen(rep.fail_txid), 64);
    assert_true(rep.fail_height > 0);
    free(price);
}

static void test_verify_changed_trade_seller_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    size_t n, elem, row = included_trade(file);
    uint32_t *seller = read_all(file, "/trades/seller", &n, &elem);
    uint64_t *group = read_all(file, "/trades/group", &n, &elem);
    const uint32_t other = (seller[row] + 1) % 4;
    assert_int_equal(elem, 8);
    for (size_t i = 0; i < n; i++) /* every row of the group, so they still agree */
        if (group[i] == group[row])
            seller[i] = other;
    write_all(file, "/trades/seller", seller, n);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "seller"));
    assert_non_null(strstr(e.msg, "address"));
    free(seller);
    free(group);
}

static void test_verify_changed_encoding_byte_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    size_t n, elem;
    char *enc = read_all(file, "/transactions/encoding", &n, &elem);
    char(*txid)[65] = read_all(file, "/transactions/txid", &n, &elem);
    char(*block)[65] = read_all(file, "/transactions/block", &n, &elem);
    assert_true(n > 0);
    enc[20] = enc[20] == '0' ? '1' : '0'; /* the price, in the first transaction */
    write_all(file, "/transactions/encoding", enc, n);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "not to the stored txid"));
    assert_string_equal(rep.fail_txid, txid[0]);
    assert_string_equal(rep.fail_block, block[0]);
    free(enc);
    free(txid);
    free(block);
}

/* A signature byte changed and the txid column "repaired" to match: only the Ed25519 check (or
 * the Merkle root) can notice, and the signature is checked first. */
static void test_verify_forged_signature_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->attacked_run);
    size_t n, elem, len, digits, e2;
    int32_t *parts = read_all(file, "/transactions/parts", &n, &e2);
    char(*txid)[65] = read_all(file, "/transactions/txid", &n, &e2);
    char *enc = read_all(file, "/transactions/encoding", &n, &elem);
    unsigned char bytes[512], id[32];
    size_t row = 0;
    char *hex;
    while (row < n && parts[row] != 1)
        row++;
    assert_true(row < n);
    hex = enc + row * elem;
    digits = strlen(hex);
    len = digits / 2;
    hex[digits - 3] = hex[digits - 3] == 'a' ? 'b' : 'a'; /* in the last signature */
    for (size_t i = 0; i < len; i++) {
        unsigned int x;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &x), 1);
        bytes[i] = (unsigned char)x;
    }
    chain_txid(bytes, len, id);
    mine_hash_to_hex(id, txid[row]);
    write_all(file, "/transactions/encoding", enc, n);
    write_all(file, "/transactions/txid", txid, n);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "signature"));
    free(enc);
    free(txid);
    free(parts);
}

/* Rewrite every column of /blocks without row `drop`. */
static void drop_block_row(hid_t file, size_t drop)
{
    hid_t g = H5Gopen2(file, "blocks", H5P_DEFAULT);
    hsize_t ncols = 0;
    assert_true(H5Gget_num_objs(g, &ncols) >= 0);
    for (hsize_t c = 0; c < ncols; c++) {
        char name[64], path[80];
        size_t n, elem;
        unsigned char *buf;
        H5Gget_objname_by_idx(g, c, name, sizeof name);
        snprintf(path, sizeof path, "/blocks/%s", name);
        buf = read_all(file, path, &n, &elem);
        memmove(buf + drop * elem, buf + (drop + 1) * elem, (n - drop - 1) * elem);
        write_all(file, path, buf, n - 1);
        free(buf);
    }
    H5Gclose(g);
}

static void test_verify_removed_block_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    struct blocks b;
    size_t drop = 0;
    blocks_read(file, &b);
    /* an empty main-chain block in the middle, so no transaction row points at it */
    for (size_t i = b.n / 3; i < b.n && !drop; i++)
        if (!b.stale[i] && b.tx_count[i] == 0 && b.height[i] > 0)
            drop = i;
    assert_true(drop > 0);
    drop_block_row(file, drop);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "is not in /blocks"));
    assert_int_equal(rep.fail_height, b.height[drop] + 1);
    blocks_free(&b);
}

static void test_verify_main_chain_from_genesis(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    size_t n, elem;
    uint8_t *stale = read_all(file, "/blocks/stale", &n, &elem);
    /* genesis marked stale (and its transactions' rows agree): no chain from genesis any more */
    stale[0] = 1;
    write_all(file, "/blocks/stale", stale, n);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "no block at height 0"));
    free(stale);
}

/* Checked against a configuration in which every wallet starts empty, the first purchase
 * overdraws.  (The file's own scenario cannot be edited so: the genesis block commits to it.) */
static void test_verify_overdrawn_wallet_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct chain_verify_opts o = {.cfg = NULL, .flags = 0, .threads = 0};
    struct err e = {0};
    char *text = NULL;
    struct h5_reader *r;
    struct cfg cfg;
    assert_non_null(r = h5_reader_open(f->good, &e));
    assert_int_equal(h5_reader_attr_str(r, "scenario", &text, &e), 0);
    h5_reader_close(r);
    cfg_init(&cfg);
    assert_int_equal(cfg_load_string(&cfg, text, "test", &e), 0);
    cfg.chain.initial_coins = 0;
    o.cfg = &cfg;
    close_all();
    assert_int_equal(chain_verify_file(f->good, &o, &rep, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "below zero"));
    assert_int_equal(strlen(rep.fail_txid), 64);
    cfg_fini(&cfg);
    free(text);
}

/* ---- every column bound to the chain (issue 12) -------------------------------------------- */

/* Rewrite every column of /TABLE keeping only the rows with keep[row] != 0. */
static void keep_rows(hid_t file, const char *table, const uint8_t *keep)
{
    hid_t g = H5Gopen2(file, table, H5P_DEFAULT);
    hsize_t ncols = 0;
    assert_true(g >= 0);
    assert_true(H5Gget_num_objs(g, &ncols) >= 0);
    for (hsize_t c = 0; c < ncols; c++) {
        char name[64], path[96];
        size_t n, elem, m = 0;
        unsigned char *buf;
        H5Gget_objname_by_idx(g, c, name, sizeof name);
        snprintf(path, sizeof path, "/%s/%s", table, name);
        buf = read_all(file, path, &n, &elem);
        for (size_t i = 0; i < n; i++)
            if (keep[i])
                memmove(buf + m++ * elem, buf + i * elem, elem);
        write_all(file, path, buf, m);
        free(buf);
    }
    H5Gclose(g);
}

/* Replace the string root attribute `name` with `value`. */
static void set_attr_str(hid_t file, const char *name, const char *value)
{
    hid_t a, t, s;
    assert_true(H5Adelete(file, name) >= 0);
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    s = H5Screate(H5S_SCALAR);
    a = H5Acreate2(file, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, t, &value) >= 0);
    H5Aclose(a), H5Sclose(s), H5Tclose(t);
}

/* Row `row` of an integer or float column, in whatever width it is stored: set to v, or with
 * `add`, moved by v (a one-byte flag column is flipped instead). */
static void rewrite_num(hid_t file, const char *path, size_t row, double v, int add)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT), t;
    size_t n, elem;
    unsigned char *buf;
    int is_float;
    assert_true(d >= 0);
    t = H5Dget_type(d);
    is_float = H5Tget_class(t) == H5T_FLOAT;
    H5Tclose(t);
    H5Dclose(d);
    buf = read_all(file, path, &n, &elem);
    assert_true(row < n);
    if (is_float && elem == 8)
        ((double *)buf)[row] = add ? ((double *)buf)[row] + v : v;
    else if (is_float)
        fail_msg("%s: float of %zu bytes", path, elem);
    else if (elem == 8)
        ((int64_t *)buf)[row] = add ? ((int64_t *)buf)[row] + (int64_t)v : (int64_t)v;
    else if (elem == 4 && add)
        ((int32_t *)buf)[row] += (int32_t)v;
    else if (elem == 4)
        ((uint32_t *)buf)[row] = (uint32_t)(int64_t)v;
    else if (elem == 1)
        ((uint8_t *)buf)[row] = add ? ((uint8_t *)buf)[row] ^ 1 : (uint8_t)v;
    else
        fail_msg("%s: element of %zu bytes", path, elem);
    write_all(file, path, buf, n);
    free(buf);
}

/* Add `delta` to row `row` of an integer or float column (a flag column is flipped). */
static void bump(hid_t file, const char *path, size_t row, double delta)
{
    rewrite_num(file, path, row, delta, 1);
}

static double f64_at(hid_t file, const char *path, size_t row)
{
    size_t n, elem;
    double *v = read_all(file, path, &n, &elem), x;
    assert_int_equal(elem, 8);
    assert_true(row < n);
    x = v[row];
    free(v);
    return x;
}

/* Verify the copy: ERR_VERIFY, and the message holds each of the given strings. */
static void expect_fail(struct fx *f, const char *a, const char *b)
{
    struct chain_verify_report rep;
    struct err e;
    int rc = verify(f->copy, &rep, &e);
    if (rc != ERR_VERIFY)
        fail_msg("verify returned %d (%s), expected ERR_VERIFY", rc, e.msg);
    if ((a && !strstr(e.msg, a)) || (b && !strstr(e.msg, b)))
        fail_msg("message '%s' does not name '%s' / '%s'", e.msg, a ? a : "", b ? b : "");
}

/* Append a copy of row `src` to every column of `table`. */
static void append_copy(hid_t file, const char *table, size_t src)
{
    hid_t g = H5Gopen2(file, table, H5P_DEFAULT);
    hsize_t ncols = 0;
    assert_true(g >= 0);
    assert_true(H5Gget_num_objs(g, &ncols) >= 0);
    for (hsize_t c = 0; c < ncols; c++) {
        char name[64], path[96];
        size_t n, elem;
        unsigned char *buf;
        H5Gget_objname_by_idx(g, c, name, sizeof name);
        snprintf(path, sizeof path, "/%s/%s", table, name);
        buf = read_all(file, path, &n, &elem);
        assert_true(src < n);
        buf = realloc(buf, (n + 1) * elem);
        assert_non_null(buf);
        memcpy(buf + n * elem, buf + src * elem, elem);
        write_all(file, path, buf, n + 1);
        free(buf);
    }
    H5Gclose(g);
}

/* Set row `row` of a string column / a numeric column (in whatever width it is stored). */
static void put_str(hid_t file, const char *path, size_t row, const char *v)
{
    size_t n, elem;
    char *buf = read_all(file, path, &n, &elem);
    assert_true(row < n && strlen(v) < elem);
    memset(buf + row * elem, 0, elem);
    memcpy(buf + row * elem, v, strlen(v));
    write_all(file, path, buf, n);
    free(buf);
}

static void put_num(hid_t file, const char *path, size_t row, double v)
{
    rewrite_num(file, path, row, v, 0);
}

/* On top of the copy's main-chain tip, add a block that holds one trade made at `at` (signed by
 * fresh keys, so every signature verifies), with a true Merkle root and proof of work, and every
 * /blocks and /transactions column consistent with it.  Returns the new block's header time. */
static uint32_t add_block_with_trade(hid_t file, double at_before_time)
{
    struct blocks b;
    size_t tip = 0, tx_src = 0, n, elem;
    unsigned char pk[2][32], sk[2][64], msg[512], enc[512], id[32], hdr[80], hash[32], target[32];
    char hex[2 * 512 + 1], hhex[65], phex[65], hdrhex[161];
    struct chain_tx_party buyer;
    struct chain_tx t;
    struct chain_header h;
    size_t mlen, len;
    uint32_t nonce = 0;
    char (*tx_block)[65];
    double *work;
    blocks_read(file, &b);
    for (size_t i = 0; i < b.n; i++)
        if (!b.stale[i] && b.height[i] > b.height[tip])
            tip = i;
    tx_block = read_all(file, "/transactions/block", &n, &elem);
    assert_true(n > 0);
    work = read_all(file, "/blocks/chainwork", &n, &elem);
    { /* the tip's header: its hash is the new block's previous one */
        char (*hx)[161] = read_all(file, "/blocks/header", &n, &elem);
        unsigned char ph[80];
        assert_int_equal(mine_hex_decode(hx[tip], ph, 80, NULL), 0);
        chain_header_unpack(ph, &h);
        chain_header_hash(ph, hash);
        free(hx);
    }
    { /* after the tip's find: a template time no earlier than the parent's find */
        double tf = f64_at(file, "/blocks/t_found", tip);
        if ((double)h.time + 60 < floor(tf) + 1)
            h.time = (uint32_t)floor(tf) + 1;
        else
            h.time += 60;
    }
    memcpy(h.prev, hash, 32);
    for (int k = 0; k < 2; k++) {
        unsigned char seed[32];
        memset(seed, 7 + k, sizeof seed);
        crypto_sign_seed_keypair(pk[k], sk[k], seed);
    }
    memset(&t, 0, sizeof t);
    memset(&buyer, 0, sizeof buyer);
    t.kind = CHAIN_TX_TRADE;
    t.ref = 999999;
    t.price = 50;
    t.agreement_time = t.request_time = (double)h.time - at_before_time;
    memset(t.from.addr, 1, 20);
    memcpy(t.from.pk, pk[0], 32);
    memset(buyer.addr, 2, 20);
    memcpy(buyer.pk, pk[1], 32);
    buyer.kwh = 1;
    t.n_buyers = 1;
    t.buyers = &buyer;
    assert_int_equal(chain_tx_signing_bytes(&t, msg, sizeof msg, &mlen, NULL), 0);
    crypto_sign_detached(t.from.sig, NULL, msg, mlen, sk[0]);
    crypto_sign_detached(buyer.sig, NULL, msg, mlen, sk[1]);
    assert_int_equal(chain_tx_encode(&t, enc, sizeof enc, &len, NULL), 0);
    chain_txid(enc, len, id);
    memcpy(h.merkle, id, 32); /* one transaction: the root is its id */
    assert_int_equal(mine_target_from_bits(h.bits, target, NULL), 0);
    do { /* 8 zero bits: a few hundred tries */
        h.nonce = nonce++;
        chain_header_pack(&h, hdr);
        chain_header_hash(hdr, hash);
    } while (!mine_hash_meets_target(hash, target));
    /* /blocks: a copy of the tip's row, then every column that follows from the new block */
    append_copy(file, "blocks", tip);
    mine_hash_to_hex(hash, hhex);
    mine_hash_to_hex(h.prev, phex);
    chain_hex(hdr, 80, hdrhex);
    put_num(file, "/blocks/height", b.n, (double)b.height[tip] + 1);
    put_str(file, "/blocks/hash", b.n, hhex);
    put_str(file, "/blocks/previous", b.n, phex);
    mine_hash_to_hex(id, hex);
    put_str(file, "/blocks/merkle_root", b.n, hex);
    put_str(file, "/blocks/header", b.n, hdrhex);
    put_num(file, "/blocks/time", b.n, h.time);
    put_num(file, "/blocks/nonce", b.n, h.nonce);
    put_num(file, "/blocks/nonce_start", b.n, 0);
    put_num(file, "/blocks/attempts", b.n, (double)h.nonce + 1);
    put_num(file, "/blocks/chainwork", b.n, work[tip] + chain_bits_work(h.bits));
    { /* At a fixed difficulty the template time is the second the race segment began,
       * t_found - attempts / network rate (README "The energy blockchain").  The fixture's network
       * rate is the default auto rate: 2^8 expected nonces per 60 s block interval.  The segment
       * starts half a second into the header's second. */
        double t_found = (double)h.time + 0.5 + ((double)h.nonce + 1) / (256.0 / 60.0);
        put_num(file, "/blocks/t_found", b.n, t_found);
        put_num(file, "/blocks/t_published", b.n, t_found);
    }
    put_num(file, "/blocks/tx_count", b.n, 1);
    put_num(file, "/blocks/size_bytes", b.n, 80 + (double)len);
    /* /transactions: one row for it */
    append_copy(file, "transactions", tx_src);
    {
        size_t r = n = 0;
        free(read_all(file, "/transactions/txid", &n, &elem));
        r = n - 1;
        put_str(file, "/transactions/block", r, hhex);
        put_num(file, "/transactions/height", r, (double)b.height[tip] + 1);
        put_num(file, "/transactions/index", r, 0);
        put_num(file, "/transactions/stale", r, 0);
        mine_hash_to_hex(id, hex);
        put_str(file, "/transactions/txid", r, hex);
        put_num(file, "/transactions/kind", r, CHAIN_TX_TRADE);
        put_num(file, "/transactions/ref", r, (double)t.ref);
        put_num(file, "/transactions/part", r, 0);
        put_num(file, "/transactions/parts", r, 1);
        chain_hex(enc, len, hex);
        put_str(file, "/transactions/encoding", r, hex);
    }
    free(tx_block);
    free(work);
    blocks_free(&b);
    return h.time;
}

/* A block whose transaction was made before its header time minus chain.tx_window (the small
 * run's default, 86400 s) fails verify by the window rule, naming the block and the rule; the
 * same block with the transaction made exactly at the window's edge passes that rule and every
 * other block rule (it fails later, as a most-work tip the chain_tip attribute does not name). */
static void test_verify_out_of_window_tx_fails(void **state)
{
    struct fx *f = *state;
    struct chain_verify_report rep;
    struct err e;
    hid_t file = open_copy(f, f->good);
    add_block_with_trade(file, 86400 + 1);
    H5Fclose(file);
    expect_fail(f, "chain.tx_window", "outside the window");
    file = open_copy(f, f->good);
    add_block_with_trade(file, 86400);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
    if (strstr(e.msg, "window"))
        fail_msg("the window's edge was refused: %s", e.msg);
    /* and it got past every block rule (header, timing, signatures, window) to the check that
     * comes after them: the added block is now the most-work tip, not the file's chain_tip */
    if (!strstr(e.msg, "most-work tip"))
        fail_msg("the added block failed before the window rule: %s", e.msg);
}

/* The last `k` main-chain blocks, all empty, deleted (the attribute and summary left alone). */
static void test_verify_deleted_trailing_blocks_fail(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    struct blocks b;
    uint8_t *keep;
    int64_t top = 0, k = 0;
    blocks_read(file, &b);
    for (size_t i = 0; i < b.n; i++)
        if (!b.stale[i] && b.height[i] > top)
            top = b.height[i];
    assert_non_null(keep = calloc(b.n, 1));
    for (size_t i = 0; i < b.n; i++) {
        keep[i] = !(b.height[i] > top - 100 && b.tx_count[i] == 0);
        k += !keep[i];
    }
    for (size_t i = 0; i < b.n; i++) /* only a trailing run of empty blocks */
        if (b.height[i] > top - 100)
            assert_int_equal(b.tx_count[i], 0);
    assert_true(k == 100);
    keep_rows(file, "blocks", keep);
    H5Fclose(file);
    expect_fail(f, "chain_tip", "most-work tip is block");
    free(keep);
    blocks_free(&b);
}

static void test_verify_zeroed_chain_tip_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    set_attr_str(file, "chain_tip",
                 "0000000000000000000000000000000000000000000000000000000000000000");
    H5Fclose(file);
    expect_fail(f, "root attribute chain_tip", "most-work tip");
}

static void test_verify_changed_trade_height_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    size_t row = included_trade(file);
    char want[64];
    bump(file, "/trades/height", row, 1);
    H5Fclose(file);
    snprintf(want, sizeof want, "/trades row %zu ", row);
    expect_fail(f, want, "column 'height'");
}

static void test_verify_changed_trade_t_included_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    size_t row = included_trade(file);
    char want[64];
    bump(file, "/trades/t_included", row, -30);
    H5Fclose(file);
    snprintf(want, sizeof want, "/trades row %zu ", row);
    expect_fail(f, want, "column 't_included'");
}

static void test_verify_changed_trade_t_confirmed_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    size_t row = included_trade(file);
    char want[64];
    assert_true(isfinite(f64_at(file, "/trades/t_confirmed", row)));
    bump(file, "/trades/t_confirmed", row, -5);
    H5Fclose(file);
    snprintf(want, sizeof want, "/trades row %zu ", row);
    expect_fail(f, want, "column 't_confirmed'");
}

static void test_verify_changed_trade_tx_case_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    size_t n, elem;
    int32_t *c = read_all(file, "/trades/tx_case", &n, &elem);
    char want[64];
    assert_int_equal(elem, 4);
    assert_true(n > 0);
    c[n - 1] = !c[n - 1];
    write_all(file, "/trades/tx_case", c, n);
    H5Fclose(file);
    snprintf(want, sizeof want, "/trades row %zu ", n - 1);
    expect_fail(f, want, "column 'tx_case'");
    free(c);
}

/* Cut the main chain to 3 blocks above the last trade's block (chain_tip moved with it): the trade
 * still says confirmed, but chain.confirmations = 6 blocks are not there. */
static void test_verify_confirmed_without_confirmations_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->good);
    struct blocks b;
    size_t n, elem;
    int64_t *th = read_all(file, "/trades/height", &n, &elem), hmax = -1, cut;
    uint8_t *keep;
    char want[64];
    for (size_t i = 0; i < n; i++)
        if (th[i] > hmax)
            hmax = th[i];
    assert_true(hmax > 0);
    cut = hmax + 2; /* blocks hmax..hmax+2 stay: 3 of 6 */
    blocks_read(file, &b);
    assert_non_null(keep = calloc(b.n, 1));
    for (size_t i = 0; i < b.n; i++) {
        keep[i] = b.height[i] <= cut;
        if (b.height[i] == cut && !b.stale[i])
            set_attr_str(file, "chain_tip", b.hash[i]);
        if (!keep[i])
            assert_int_equal(b.tx_count[i], 0);
    }
    keep_rows(file, "blocks", keep);
    H5Fclose(file);
    snprintf(want, sizeof want, "has only 3 of chain.confirmations = 6");
    expect_fail(f, "column 't_confirmed'", want);
    free(keep);
    free(th);
    blocks_free(&b);
}

/* Each /blocks column that repeats a header field, changed in one block, names that block. */
static void test_verify_block_columns_bound_to_header(void **state)
{
    struct fx *f = *state;
    static const char *const cols[] = {"nonce", "time", "bits", "tx_count", "difficulty"};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        struct chain_verify_report rep;
        struct err e;
        char path[64], want[64];
        hid_t file = open_copy(f, f->good);
        snprintf(path, sizeof path, "/blocks/%s", cols[k]);
        bump(file, path, 7, 1);
        H5Fclose(file);
        assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
        snprintf(want, sizeof want, "/blocks column '%s'", cols[k]);
        if (!strstr(e.msg, want))
            fail_msg("changed %s: message '%s'", cols[k], e.msg);
        assert_true(rep.fail_height >= 0);
        assert_int_equal(strlen(rep.fail_block), 64);
    }
}

/* A stale block (an empty leaf) deleted: /summary's counts, kept from the run, say otherwise. */
static void test_verify_deleted_stale_block_fails(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->attacked_run);
    struct blocks b;
    char (*prev)[65];
    size_t n, elem, drop = SIZE_MAX;
    uint8_t *keep;
    blocks_read(file, &b);
    prev = read_all(file, "/blocks/previous", &n, &elem);
    for (size_t i = 0; i < b.n && drop == SIZE_MAX; i++) {
        int leaf = 1;
        if (!b.stale[i] || b.tx_count[i] != 0)
            continue;
        for (size_t j = 0; j < b.n && leaf; j++)
            leaf = strcmp(prev[j], b.hash[i]) != 0;
        if (leaf)
            drop = i;
    }
    assert_true(drop != SIZE_MAX);
    assert_non_null(keep = malloc(b.n));
    memset(keep, 1, b.n);
    keep[drop] = 0;
    keep_rows(file, "blocks", keep);
    H5Fclose(file);
    expect_fail(f, "/summary chain_", "but the tables give");
    free(keep);
    free(prev);
    blocks_free(&b);
}

/* The stored scenario edited (coins raised, mechanism changed, an agent group added): the genesis
 * block commits to the run's scenario, so the chain breaks at block 0. */
static void test_verify_edited_scenario_fails(void **state)
{
    struct fx *f = *state;
    static const char *const edits[][2] = {
        {"initial_coins = 1000000000000", "initial_coins = 9000000000000"},
        {"mechanism = ", "mechanism = pay_as_clear\n; was: "},
        {"[agent.house]", "[agent.extra]\ncount = 1\n\n[agent.house]"},
    };
    char *text = NULL;
    struct h5_reader *r;
    struct err e;
    assert_non_null(r = h5_reader_open(f->good, &e));
    assert_int_equal(h5_reader_attr_str(r, "scenario", &text, &e), 0);
    h5_reader_close(r);
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        struct chain_verify_report rep;
        const char *at = strstr(text, edits[k][0]);
        char *edited;
        hid_t file;
        assert_non_null(at);
        assert_non_null(edited = malloc(strlen(text) + strlen(edits[k][1]) + 1));
        memcpy(edited, text, (size_t)(at - text));
        strcpy(edited + (at - text), edits[k][1]);
        strcat(edited, at + strlen(edits[k][0]));
        file = open_copy(f, f->good);
        set_attr_str(file, "scenario", edited);
        H5Fclose(file);
        free(edited);
        assert_int_equal(verify(f->copy, &rep, &e), ERR_VERIFY);
        if (!strstr(e.msg, "block 0 ") || !strstr(e.msg, "commits to another run"))
            fail_msg("edit %zu: message '%s'", k, e.msg);
        assert_int_equal(rep.fail_height, 0);
    }
    free(text);
}

/* ---- bad input ----------------------------------------------------------------------------- */

/* Every single-part transaction's last signature forged (txids repaired): many blocks fail the
 * signature rule, and the one named must be the first in height order (then /blocks row order)
 * that holds a forged transaction, with the same message for 1, 2, 3 and 8 threads. */
static void test_verify_first_failure_same_for_any_thread_count(void **state)
{
    struct fx *f = *state;
    hid_t file = open_copy(f, f->attacked_run);
    size_t n, elem, e2, want = (size_t)-1;
    int32_t *parts = read_all(file, "/transactions/parts", &n, &e2);
    char(*txid)[65] = read_all(file, "/transactions/txid", &n, &e2);
    char(*blk)[65] = read_all(file, "/transactions/block", &n, &e2);
    char *enc = read_all(file, "/transactions/encoding", &n, &elem);
    char first_msg[ERR_MSG_MAX] = "";
    struct blocks b;
    size_t forged = 0;
    blocks_read(file, &b);
    for (size_t row = 0; row < n; row++) {
        unsigned char bytes[512], id[32];
        char *hex = enc + row * elem;
        const size_t digits = strlen(hex), len = digits / 2;
        if (parts[row] != 1)
            continue;
        hex[digits - 3] = hex[digits - 3] == 'a' ? 'b' : 'a';
        for (size_t i = 0; i < len; i++) {
            unsigned int x;
            assert_int_equal(sscanf(hex + 2 * i, "%2x", &x), 1);
            bytes[i] = (unsigned char)x;
        }
        chain_txid(bytes, len, id);
        mine_hash_to_hex(id, txid[row]);
        forged++;
        for (size_t i = 0; i < b.n; i++)
            if (!strcmp(b.hash[i], blk[row]) &&
                (want == (size_t)-1 || b.height[i] < b.height[want] ||
                 (b.height[i] == b.height[want] && i < want)))
                want = i;
    }
    assert_true(forged > 10);
    assert_true(want != (size_t)-1);
    write_all(file, "/transactions/encoding", enc, n);
    write_all(file, "/transactions/txid", txid, n);
    H5Fclose(file);
    close_all();
    for (int threads = 1; threads <= 8; threads += threads < 3 ? 1 : 5) {
        struct chain_verify_opts o = {.cfg = NULL, .flags = 0, .threads = threads};
        struct chain_verify_report rep;
        struct err e = {0};
        assert_int_equal(chain_verify_file(f->copy, &o, &rep, &e), ERR_VERIFY);
        assert_non_null(strstr(e.msg, "signature"));
        assert_string_equal(rep.fail_block, b.hash[want]);
        assert_int_equal(rep.fail_height, b.height[want]);
        if (threads == 1)
            snprintf(first_msg, sizeof first_msg, "%s", e.msg);
        assert_string_equal(e.msg, first_msg);
    }
    blocks_free(&b);
    free(enc);
    free(txid);
    free(blk);
    free(parts);
}

/* A broken link (a cheap rule) in a block above a forged signature: the signature, lower in
 * height order, is the failure named; and with the link broken below it, the link is. */
static void test_verify_lower_failure_wins_across_rules(void **state)
{
    struct fx *f = *state;
    struct blocks b;
    hid_t file = open_copy(f, f->attacked_run);
    size_t n, elem, e2, row = 0, sig_blk = (size_t)-1, top = 0;
    int32_t *parts = read_all(file, "/transactions/parts", &n, &e2);
    char(*txid)[65] = read_all(file, "/transactions/txid", &n, &e2);
    char(*blk)[65] = read_all(file, "/transactions/block", &n, &e2);
    char *enc = read_all(file, "/transactions/encoding", &n, &elem);
    unsigned char bytes[512], id[32];
    char *hex;
    size_t digits;
    blocks_read(file, &b);
    while (row < n && parts[row] != 1)
        row++;
    assert_true(row < n);
    hex = enc + row * elem;
    digits = strlen(hex);
    hex[digits - 3] = hex[digits - 3] == 'a' ? 'b' : 'a';
    for (size_t i = 0; i < digits / 2; i++) {
        unsigned int x;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &x), 1);
        bytes[i] = (unsigned char)x;
    }
    chain_txid(bytes, digits / 2, id);
    mine_hash_to_hex(id, txid[row]);
    for (size_t i = 0; i < b.n; i++) {
        if (!strcmp(b.hash[i], blk[row]))
            sig_blk = i;
        if (b.height[i] > b.height[top])
            top = i;
    }
    assert_true(sig_blk != (size_t)-1);
    assert_true(b.height[top] > b.height[sig_blk]);
    write_all(file, "/transactions/encoding", enc, n);
    write_all(file, "/transactions/txid", txid, n);
    H5Fclose(file);
    /* the highest block's chainwork changed: a cheap rule, above the forged signature */
    file = H5Fopen(f->copy, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    bump(file, "/blocks/chainwork", top, 1e6);
    H5Fclose(file);
    close_all();
    for (int threads = 1; threads <= 2; threads++) {
        struct chain_verify_opts o = {.cfg = NULL, .flags = 0, .threads = threads};
        struct chain_verify_report rep;
        struct err e = {0};
        assert_int_equal(chain_verify_file(f->copy, &o, &rep, &e), ERR_VERIFY);
        assert_non_null(strstr(e.msg, "signature"));
        assert_string_equal(rep.fail_block, b.hash[sig_blk]);
    }
    /* genesis's chainwork changed too: the lowest failure is now that cheap rule, at height 0 */
    file = H5Fopen(f->copy, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    for (size_t i = 0; i < b.n; i++)
        if (b.height[i] == 0)
            bump(file, "/blocks/chainwork", i, 1e6);
    H5Fclose(file);
    close_all();
    for (int threads = 1; threads <= 2; threads++) {
        struct chain_verify_opts o = {.cfg = NULL, .flags = 0, .threads = threads};
        struct chain_verify_report rep;
        struct err e = {0};
        assert_int_equal(chain_verify_file(f->copy, &o, &rep, &e), ERR_VERIFY);
        assert_non_null(strstr(e.msg, "chainwork"));
        assert_int_equal(rep.fail_height, 0);
    }
    blocks_free(&b);
    free(enc);
    free(txid);
    free(blk);
    free(parts);
}

static void test_verify_truncated_file_is_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    copy_bytes(f->good, f->copy, file_size(f->good) / 2);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "truncated"));
}

static void test_verify_not_hdf5_is_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    FILE *fp = fopen(f->copy, "w");
    fputs("[scenario]\nname = not a run\n", fp);
    fclose(fp);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "not an HDF5 file"));
    assert_int_equal(verify("/nonexistent/run.h5", NULL, &e), ERR_NOTFOUND);
}

static void test_verify_missing_table_is_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    hid_t file = open_copy(f, f->good);
    assert_true(H5Ldelete(file, "/trades", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no table /trades"));
}

static void test_verify_missing_column_is_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    hid_t file = open_copy(f, f->good);
    assert_true(H5Ldelete(file, "/blocks/header", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no column 'header'"));
}

static void test_verify_unequal_columns_are_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    hid_t file = open_copy(f, f->good);
    size_t n, elem;
    double *work = read_all(file, "/blocks/chainwork", &n, &elem);
    write_all(file, "/blocks/chainwork", work, n - 1);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "rows"));
    assert_non_null(strstr(e.msg, "chainwork"));
    free(work);
}

static void test_verify_partial_run_is_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    hid_t file = open_copy(f, f->good), a;
    int64_t zero = 0;
    a = H5Aopen(file, "complete", H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &zero) >= 0);
    H5Aclose(a);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "partial run"));
}

/* A column of the wrong kind (a string where numbers belong) is refused, not misread. */
static void test_verify_wrong_column_type_is_bad_input(void **state)
{
    struct fx *f = *state;
    struct err e;
    hid_t file = open_copy(f, f->good), t, s, d;
    hsize_t one = 1;
    assert_true(H5Ldelete(file, "/blocks/height", H5P_DEFAULT) >= 0);
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    s = H5Screate_simple(1, &one, NULL);
    d = H5Dcreate2(file, "/blocks/height", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d), H5Sclose(s), H5Tclose(t);
    H5Fclose(file);
    assert_int_equal(verify(f->copy, NULL, &e), ERR_FORMAT);
    assert_non_null(strstr(e.msg, "not a numeric column"));
}

/* ---- the CLI --------------------------------------------------------------------------------- */

/* `setm verify ARGS...` (NULL-terminated), output captured; its exit code. */
static int run_verify(struct fx *f, ...)
{
    va_list ap;
    int rc;
    va_start(ap, f);
    rc = tu_vrun(f->dir, f->out, sizeof f->out, f->errtxt, sizeof f->errtxt, ap);
    va_end(ap);
    return rc;
}

static int run_cli3(struct fx *f, const char *a1, const char *a2, const char *a3)
{
    return run_verify(f, "verify", a1, a2, a3, (char *)NULL);
}

static int run_cli(struct fx *f, const char *a1, const char *a2) { return run_cli3(f, a1, a2, NULL); }

/* libhdf5 loops forever on this damaged file (found by fuzz_verify): the CLI gives up after its
 * time limit with exit 2 instead of hanging. */
static void test_verify_cli_hdf5_hang_is_bad_input(void **state)
{
    struct fx *f = *state;
    if (access(tu_setm_bin(), X_OK) != 0)
        skip();
    assert_int_equal(run_cli3(f, "--timeout", "1",
                              SETM_SOURCE_DIR "/tests/fuzz/libhdf5/verify/hdf5-global-heap-loop"),
                     2);
    assert_non_null(strstr(f->errtxt, "loops on this damaged file"));
}

/* libhdf5 crashes reading a variable-length string from this damaged global heap (found by
 * fuzz_verify): the CLI's child process takes the crash, and the answer is exit 2. */
static void test_verify_cli_hdf5_crash_is_bad_input(void **state)
{
    struct fx *f = *state;
    /* Built with ASan, the child would report libhdf5's bad memcpy and exit 1; make it die as an
     * unsanitized build does, so the parent sees the crash it guards against. */
    setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0", 1);
    assert_int_equal(run_cli(f, SETM_SOURCE_DIR "/tests/fuzz/libhdf5/verify/hdf5-global-heap-memcpy",
                             NULL),
                     2);
    unsetenv("ASAN_OPTIONS");
    assert_non_null(strstr(f->errtxt, "HDF5 library crashed"));
}

static void test_verify_cli_exit_codes(void **state)
{
    struct fx *f = *state;
    hid_t file;
    size_t n, elem;
    char *hdr;
    if (access(tu_setm_bin(), X_OK) != 0)
        skip();
    assert_int_equal(run_cli(f, f->good, NULL), 0);
    assert_non_null(strstr(f->out, "OK"));
    assert_non_null(strstr(f->out, "blocks"));
    assert_non_null(strstr(f->out, "trades"));
    assert_int_equal(run_cli(f, "--quiet", f->good), 0);
    assert_string_equal(f->out, "");
    /* a check fails: 1, naming the block */
    file = open_copy(f, f->good);
    hdr = read_all(file, "/blocks/header", &n, &elem);
    hdr[3 * elem + 150] = hdr[3 * elem + 150] == 'f' ? 'e' : 'f'; /* block 3's nonce */
    write_all(file, "/blocks/header", hdr, n);
    H5Fclose(file);
    free(hdr);
    assert_int_equal(run_cli(f, f->copy, NULL), 1);
    assert_non_null(strstr(f->errtxt, "FAILED"));
    assert_non_null(strstr(f->errtxt, "block "));
    assert_non_null(strstr(f->errtxt, "hashes to"));
    /* bad input: 2 */
    copy_bytes(f->good, f->copy, 3000);
    assert_int_equal(run_cli(f, f->copy, NULL), 2);
    assert_non_null(strstr(f->errtxt, "truncated"));
    assert_int_equal(run_cli(f, SETM_SOURCE_DIR "/scenarios/case_study.ini", NULL), 2);
    assert_non_null(strstr(f->errtxt, "not an HDF5 file"));
    assert_int_equal(run_cli(f, "/nonexistent.h5", NULL), 2);
    assert_int_equal(run_cli(f, NULL, NULL), 2);
    assert_non_null(strstr(f->errtxt, "usage: setm verify"));
    assert_int_equal(run_cli(f, "--help", NULL), 0);
    assert_non_null(strstr(f->out, "usage: setm verify"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_real_run_passes),
        cmocka_unit_test(test_verify_attacked_run_passes),
        cmocka_unit_test(test_verify_flipped_header_byte_fails),
        cmocka_unit_test(test_verify_changed_trade_price_fails),
        cmocka_unit_test(test_verify_changed_trade_seller_fails),
        cmocka_unit_test(test_verify_changed_encoding_byte_fails),
        cmocka_unit_test(test_verify_forged_signature_fails),
        cmocka_unit_test(test_verify_first_failure_same_for_any_thread_count),
        cmocka_unit_test(test_verify_lower_failure_wins_across_rules),
        cmocka_unit_test(test_verify_removed_block_fails),
        cmocka_unit_test(test_verify_main_chain_from_genesis),
        cmocka_unit_test(test_verify_overdrawn_wallet_fails),
        cmocka_unit_test(test_verify_deleted_trailing_blocks_fail),
        cmocka_unit_test(test_verify_zeroed_chain_tip_fails),
        cmocka_unit_test(test_verify_changed_trade_height_fails),
        cmocka_unit_test(test_verify_changed_trade_t_included_fails),
        cmocka_unit_test(test_verify_changed_trade_t_confirmed_fails),
        cmocka_unit_test(test_verify_changed_trade_tx_case_fails),
        cmocka_unit_test(test_verify_confirmed_without_confirmations_fails),
        cmocka_unit_test(test_verify_block_columns_bound_to_header),
        cmocka_unit_test(test_verify_deleted_stale_block_fails),
        cmocka_unit_test(test_verify_edited_scenario_fails),
        cmocka_unit_test(test_verify_out_of_window_tx_fails),
        cmocka_unit_test(test_verify_truncated_file_is_bad_input),
        cmocka_unit_test(test_verify_not_hdf5_is_bad_input),
        cmocka_unit_test(test_verify_missing_table_is_bad_input),
        cmocka_unit_test(test_verify_missing_column_is_bad_input),
        cmocka_unit_test(test_verify_unequal_columns_are_bad_input),
        cmocka_unit_test(test_verify_partial_run_is_bad_input),
        cmocka_unit_test(test_verify_wrong_column_type_is_bad_input),
        cmocka_unit_test(test_verify_cli_exit_codes),
        cmocka_unit_test(test_verify_cli_hdf5_hang_is_bad_input),
        cmocka_unit_test(test_verify_cli_hdf5_crash_is_bad_input),
    };
    return cmocka_run_group_tests_name("verify", tests, setup, teardown);
}
