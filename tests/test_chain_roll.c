/* test_chain_roll — the block race beyond one nonce space: when a race segment searches more
 * nonces than the nonce field holds (difficulty above 32 bits), the header time rolls forward one
 * second per exhausted nonce space, in (roll, nonce) order, exactly as the genesis search does;
 * every backend yields the same chain; `setm verify` rebuilds each block's attempts from its roll
 * and fails a tampered attempts or t_found; and a stop ends such a search within a second.
 *
 * Beyond 32 bits a block needs 2^32 hashes or more, so the runs here use the test hook
 * SETM_TEST_ROLL_SPAN=N (mine.h, mine_roll_span): a roll holds N nonces instead of 2^32, and a
 * difficulty of 13 bits over rolls of 1024 nonces is the same search as 35 bits over rolls of
 * 2^32, a few hashes at a time.  Expectations come from an independent re-computation: each
 * block's winning segment is re-searched here, offset by offset in (roll, nonce) order, with
 * libsodium's crypto_hash_sha256 applied twice and a target expanded here from the compact bits;
 * the first offset that meets it must be the block's, and attempts must be that offset + 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <hdf5.h>
#include <sodium.h>

#include "chain/chain.h"
#include "chain/verify.h"
#include "core/config.h"
#include "io/h5.h"
#include "mine/mine.h"
#include "run/sim.h"

#include "cli_harness.h"
#include "h5_harness.h"
#include "stop_harness.h"

#define SPAN 256 /* nonces per roll under the hook: 13 bits then need ~32 rolls per block */
#define SPAN_STR "256"

/* Three houses and a plant for a few hours: trades, some forks, a few dozen blocks. */
static const char scenario[] = "[scenario]\nname = roll\nseed = 11\n[sim]\ndays = 0.1\n"
                               "[chain]\ndifficulty_bits = 13\n"
                               "[agent.house]\ncount = 3\n[agent.plant]\ntype = solar_system\n"
                               "min_bid = 40\nmax_bid = 52\n";

enum { RUN_PORTABLE, RUN_SHANI, RUN_OPENCL, NRUNS };
static const char *const run_label[NRUNS] = {"cpu portable", "cpu sha-ni", "opencl"};

struct fx {
    char dir[64];
    char path[NRUNS][128]; /* "" where the backend is not available here */
    char copy[128];
};

static int skip_opencl(void)
{
    const char *s = getenv("SETM_TEST_SKIP_OPENCL");
    return s && !strcmp(s, "1");
}

static int make_run(int which, const char *path)
{
    struct cfg cfg;
    struct sim_opts o;
    struct sim_summary s;
    struct err e = {0};
    int rc;
    cfg_init(&cfg);
    memset(&o, 0, sizeof o);
    o.output = path;
    setenv("SETM_CPU_PATH", which == RUN_SHANI ? "sha-ni" : "portable", 1);
    rc = cfg_load_string(&cfg, scenario, "test", &e);
    if (!rc)
        rc = cfg_set(&cfg, which == RUN_OPENCL ? "mine.backend=opencl" : "mine.backend=cpu", &e);
    if (!rc)
        rc = cfg_validate(&cfg, &e);
    if (!rc)
        rc = sim_run(&cfg, &o, &s, &e);
    if (rc)
        fprintf(stderr, "%s: %s\n", run_label[which], e.msg);
    unsetenv("SETM_CPU_PATH");
    cfg_fini(&cfg);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    h5_lib_init();
    if (!f || sodium_init() < 0 || tu_mkdtemp(f->dir, "roll") != 0)
        return -1;
    setenv("SETM_TEST_ROLL_SPAN", SPAN_STR, 1);
    for (int k = 0; k < NRUNS; k++) {
        if ((k == RUN_SHANI && !mine_cpu_has_shani()) || (k == RUN_OPENCL && skip_opencl()))
            continue;
        snprintf(f->path[k], sizeof f->path[k], "%s/run%d.h5", f->dir, k);
        if (make_run(k, f->path[k]))
            return -1; /* OpenCL (PoCL) is required unless SETM_TEST_SKIP_OPENCL=1 */
    }
    snprintf(f->copy, sizeof f->copy, "%s/copy.h5", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    unsetenv("SETM_TEST_ROLL_SPAN");
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

/* ---- HDF5 helpers ------------------------------------------------------------------------- */

static void tip_of(const char *path, char *out, size_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), a, t;
    assert_true(f >= 0);
    a = H5Aopen(f, "chain_tip", H5P_DEFAULT);
    assert_true(a >= 0);
    t = H5Aget_type(a);
    memset(out, 0, n);
    if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        assert_true(H5Aread(a, t, &s) >= 0);
        snprintf(out, n, "%s", s);
        H5free_memory(s);
    } else {
        assert_true(H5Tget_size(t) < n);
        assert_true(H5Aread(a, t, out) >= 0);
    }
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int c;
    assert_non_null(a);
    assert_non_null(b);
    while ((c = fgetc(a)) != EOF)
        fputc(c, b);
    fclose(a);
    fclose(b);
}

static int verify(const char *path, struct err *e)
{
    struct chain_verify_report rep;
    memset(e, 0, sizeof *e);
    return chain_verify_file(path, NULL, &rep, e);
}

/* ---- the independent re-computation ------------------------------------------------------- */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Bitcoin's compact target: mantissa x 256^(exponent - 3), 32 little-endian bytes. */
static void target_of_bits(uint32_t bits, unsigned char t[32])
{
    const uint32_t mant = bits & 0x007fffff;
    const int exp = (int)(bits >> 24);
    memset(t, 0, 32);
    for (int k = 0; k < 3; k++) {
        int pos = exp - 3 + k;
        if (pos >= 0 && pos < 32)
            t[pos] = (unsigned char)(mant >> (8 * k));
    }
}

/* SHA-256d by libsodium; meets = the hash read as a little-endian number is <= the target. */
static int meets(const unsigned char hdr[80], const unsigned char target[32],
                 unsigned char hash[32])
{
    unsigned char h1[32];
    crypto_hash_sha256(h1, hdr, 80);
    crypto_hash_sha256(hash, h1, 32);
    for (int i = 31; i >= 0; i--)
        if (hash[i] != target[i])
            return hash[i] < target[i];
    return 1;
}

/* Every block of a run, re-searched: the segment's template is the stored header with time -
 * roll; offsets 0 .. attempts - 1 in (roll, nonce) order; only the last may meet the target, and
 * it must reproduce the stored header. Returns the largest roll seen. */
static uint64_t recheck_run(const char *path, uint64_t *rolled_blocks)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    size_t n, n2, n3, elem, helem;
    uint64_t *attempts, max_roll = 0;
    uint32_t *start;
    char *hex;
    assert_true(f >= 0);
    hex = read_all(f, "/blocks/header", &n, &helem);
    attempts = read_all(f, "/blocks/attempts", &n2, &elem);
    assert_int_equal(elem, 8);
    start = read_all(f, "/blocks/nonce_start", &n3, &elem);
    assert_int_equal(elem, 4);
    H5Fclose(f);
    assert_true(n > 10 && n == n2 && n == n3);
    *rolled_blocks = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char hdr[80], tmpl[80], try[80], target[32], hash[32];
        const char *x = hex + i * helem;
        uint64_t roll = (attempts[i] - 1) / SPAN;
        for (int k = 0; k < 80; k++)
            hdr[k] = (unsigned char)(hexval(x[2 * k]) << 4 | hexval(x[2 * k + 1]));
        target_of_bits(le32(hdr + 72), target);
        memcpy(tmpl, hdr, 80);
        put_le32(tmpl + 68, le32(hdr + 68) - (uint32_t)roll);
        for (uint64_t o = 0; o < attempts[i]; o++) {
            memcpy(try, tmpl, 80);
            put_le32(try + 68, le32(tmpl + 68) + (uint32_t)(o / SPAN));
            put_le32(try + 76, start[i] + (uint32_t)(o % SPAN));
            int ok = meets(try, target, hash);
            if (o + 1 < attempts[i] && ok)
                fail_msg("block row %zu: offset %llu already meets the target, but attempts = %llu",
                         i, (unsigned long long)o, (unsigned long long)attempts[i]);
            if (o + 1 == attempts[i]) {
                if (!ok)
                    fail_msg("block row %zu: offset attempts - 1 does not meet the target", i);
                assert_memory_equal(try, hdr, 80);
            }
        }
        if (roll > max_roll)
            max_roll = roll;
        *rolled_blocks += roll > 0;
    }
    free(hex);
    free(attempts);
    free(start);
    return max_roll;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The portable path's chain, re-searched independently: every block is the lowest (roll,
 * nonce) of its segment, attempts = roll x span + (nonce - nonce_start) + 1, and blocks did
 * roll (several rolls deep), so the rule above 32 bits is what was exercised. */
static void test_chain_roll_blocks_are_lowest_roll_then_nonce(void **state)
{
    struct fx *f = *state;
    uint64_t rolled = 0, max_roll = recheck_run(f->path[RUN_PORTABLE], &rolled);
    assert_true(rolled >= 5);
    assert_true(max_roll >= 2);
}

/* Every backend mines the same chain (same tip) above one nonce space, and each run verifies. */
static void test_chain_roll_every_backend_same_chain(void **state)
{
    struct fx *f = *state;
    char tip0[128], tip[128];
    struct err e;
    int compared = 0;
    tip_of(f->path[RUN_PORTABLE], tip0, sizeof tip0);
    assert_int_equal(strlen(tip0), 64);
    for (int k = 0; k < NRUNS; k++) {
        if (!f->path[k][0])
            continue;
        if (verify(f->path[k], &e))
            fail_msg("%s: verify: %s", run_label[k], e.msg);
        tip_of(f->path[k], tip, sizeof tip);
        if (strcmp(tip, tip0))
            fail_msg("%s: tip %s, portable %s", run_label[k], tip, tip0);
        compared++;
    }
    assert_true(compared >= 2 || (!mine_cpu_has_shani() && skip_opencl()));
}

/* The rows of blocks that rolled at least twice, and the file's columns for tampering. */
static size_t rolled_row(hid_t file, size_t *n)
{
    size_t elem, row = 0;
    uint64_t *a = read_all(file, "/blocks/attempts", n, &elem);
    for (size_t i = *n; i-- > 1;)
        if ((a[i] - 1) / SPAN >= 2)
            row = i;
    free(a);
    assert_true(row > 0);
    return row;
}

/* attempts changed by one (the nonce no longer matches), by two whole rolls (the template time
 * moves two seconds, while the race's timing says otherwise; and two rolls fewer) and by 7200
 * rolls (past the two hours a header time may run ahead): each fails verify, naming the block.
 *
 * Why two rolls: the scenario's network rate is the default auto rate, 2^13 nonces per 60 s
 * block interval, so one roll (SPAN nonces) moves the segment start implied by t_found and
 * attempts by 256 / (8192 / 60) = 1.875 s but the template time by exactly 1 s.  A one-roll
 * change is then inconsistent only when the start's fraction of a second is below 0.875 (it
 * passes otherwise: the file cannot tell); two rolls move them apart by 1.75 s > 1 s, which no
 * fraction can hide. */
static void test_chain_roll_tampered_attempts_fail(void **state)
{
    struct fx *f = *state;
    /* the last: two rolls fewer, the template time two seconds later (the row rolled >= 2) */
    const int64_t delta[] = {1, 2 * SPAN, (int64_t)MINE_ROLL_MAX * SPAN, -2 * SPAN};
    const char *const want[] = {"attempts must be roll", "race segment began", "more than the",
                                "attempts"};
    for (size_t k = 0; k < sizeof delta / sizeof delta[0]; k++) {
        size_t n, elem, row;
        uint64_t *a;
        hid_t file;
        struct err e;
        copy_file(f->path[RUN_PORTABLE], f->copy);
        file = H5Fopen(f->copy, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(file >= 0);
        row = rolled_row(file, &n);
        a = read_all(file, "/blocks/attempts", &n, &elem);
        a[row] += (uint64_t)delta[k]; /* modulo 2^64: a negative delta subtracts */
        write_all(file, "/blocks/attempts", a, n);
        H5Fclose(file);
        free(a);
        assert_int_equal(verify(f->copy, &e), ERR_VERIFY);
        if (!strstr(e.msg, want[k]))
            fail_msg("attempts %+lld: message '%s'", (long long)delta[k], e.msg);
    }
}

/* t_found of a rolled block moved by a second: the segment it implies began in another second
 * than the header's template time. */
static void test_chain_roll_tampered_t_found_fails(void **state)
{
    struct fx *f = *state;
    size_t n, elem, row;
    double *t;
    hid_t file;
    struct err e;
    copy_file(f->path[RUN_PORTABLE], f->copy);
    file = H5Fopen(f->copy, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    row = rolled_row(file, &n);
    t = read_all(file, "/blocks/t_found", &n, &elem);
    t[row] -= 1.0;
    write_all(file, "/blocks/t_found", t, n);
    H5Fclose(file);
    free(t);
    assert_int_equal(verify(f->copy, &e), ERR_VERIFY);
    assert_non_null(strstr(e.msg, "template time"));
}

/* The file of a run with the hook verifies only with the same span: without it, verify reads
 * attempts as rolls of 2^32 and refuses them. A bad hook value is a usage error. */
static void test_chain_roll_span_hook_read_by_verify(void **state)
{
    struct fx *f = *state;
    struct err e;
    unsetenv("SETM_TEST_ROLL_SPAN");
    assert_int_equal(verify(f->path[RUN_PORTABLE], &e), ERR_VERIFY);
    setenv("SETM_TEST_ROLL_SPAN", "0", 1);
    assert_int_equal(verify(f->path[RUN_PORTABLE], &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "SETM_TEST_ROLL_SPAN"));
    setenv("SETM_TEST_ROLL_SPAN", "4294967297", 1);
    assert_int_equal(verify(f->path[RUN_PORTABLE], &e), ERR_USAGE);
    setenv("SETM_TEST_ROLL_SPAN", SPAN_STR, 1);
    assert_int_equal(verify(f->path[RUN_PORTABLE], &e), 0);
}

/* Through the binary: a bad hook value stops `setm run` (exit 2, naming the variable, no output
 * file), `setm verify` and `setm mine` alike, before any work; with the hook, `setm verify`
 * accepts the rolled run (exit 0). */
static int run_setm(const char *dir, char *err, size_t errn, ...)
{
    static char out[4096];
    va_list ap;
    int rc;
    va_start(ap, errn);
    rc = tu_vrun(dir, out, sizeof out, err, errn, ap);
    va_end(ap);
    return rc;
}

static void test_chain_roll_cli_span_hook(void **state)
{
    struct fx *f = *state;
    char err[4096], sc[160], out[160];
    FILE *fp;
    snprintf(sc, sizeof sc, "%s/roll.ini", f->dir);
    snprintf(out, sizeof out, "%s/cli.h5", f->dir);
    assert_non_null(fp = fopen(sc, "w"));
    fputs(scenario, fp);
    fclose(fp);
    setenv("SETM_TEST_ROLL_SPAN", "12x", 1);
    assert_int_equal(run_setm(f->dir, err, sizeof err, "run", sc, "-o", out, "--backend", "cpu",
                              "-q", NULL), 2);
    assert_non_null(strstr(err, "SETM_TEST_ROLL_SPAN"));
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(run_setm(f->dir, err, sizeof err, "verify", f->path[RUN_PORTABLE], NULL), 2);
    assert_non_null(strstr(err, "SETM_TEST_ROLL_SPAN"));
    assert_int_equal(run_setm(f->dir, err, sizeof err, "mine", "--header",
                              "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a30800000000"
                              "0000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122b"
                              "c7f5d74df2b9441a42a14695", "--count", "10", NULL), 2);
    assert_non_null(strstr(err, "SETM_TEST_ROLL_SPAN"));
    setenv("SETM_TEST_ROLL_SPAN", SPAN_STR, 1);
    assert_int_equal(run_setm(f->dir, err, sizeof err, "verify", "-q", f->path[RUN_PORTABLE], NULL),
                     0);
}

/* ---- stop within a second above 32 bits ---------------------------------------------------- */

/* A chain at 36 bits with the real 2^32-nonce rolls (no hook): building it mines the genesis
 * block in (roll, nonce) order, hours of work here; a stop raised during it ends it with
 * ERR_INTERRUPTED within a second, on the CPU and on OpenCL. */
static void test_chain_roll_stop_within_a_second_at_36_bits(void **state)
{
    (void)state;
    unsetenv("SETM_TEST_ROLL_SPAN");
    for (int k = 0; k < NRUNS; k++) {
        struct cfg cfg;
        struct eng *eng = eng_new(1024);
        struct chain_hooks hooks;
        /* OpenCL: raised once the kernel is built (PoCL takes about a second) */
        struct stopper st = {0, k == RUN_OPENCL ? 4000 : 300, 0};
        struct chain *c;
        struct err e = {0};
        pthread_t tid;
        double late;
        if ((k == RUN_SHANI && !mine_cpu_has_shani()) || (k == RUN_OPENCL && skip_opencl())) {
            eng_free(eng);
            continue;
        }
        setenv("SETM_CPU_PATH", k == RUN_SHANI ? "sha-ni" : "portable", 1);
        cfg_init(&cfg);
        cfg.population.count = 2;
        cfg.population.share[CFG_AGENT_HOME_SOLAR] = 1;
        cfg.mine.backend = k == RUN_OPENCL ? CFG_BACKEND_OPENCL : CFG_BACKEND_CPU;
        cfg.mine.threads = 2;
        cfg.chain.difficulty_bits = 36;
        memset(&hooks, 0, sizeof hooks);
        hooks.stop = &st.flag;
        assert_int_equal(pthread_create(&tid, NULL, raise_later, &st), 0);
        c = chain_new(&cfg, eng, &hooks, &e);
        late = mono();
        pthread_join(tid, NULL);
        late -= st.raised_at;
        unsetenv("SETM_CPU_PATH");
        assert_null(c);
        if (e.code != ERR_INTERRUPTED)
            fail_msg("%s: code %d (%s), expected ERR_INTERRUPTED", run_label[k], e.code, e.msg);
        if (late > 1.0)
            fail_msg("%s: stopped %.2f s after the request", run_label[k], late);
        eng_free(eng);
        cfg_fini(&cfg);
    }
    setenv("SETM_TEST_ROLL_SPAN", SPAN_STR, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_roll_blocks_are_lowest_roll_then_nonce),
        cmocka_unit_test(test_chain_roll_every_backend_same_chain),
        cmocka_unit_test(test_chain_roll_tampered_attempts_fail),
        cmocka_unit_test(test_chain_roll_tampered_t_found_fails),
        cmocka_unit_test(test_chain_roll_span_hook_read_by_verify),
        cmocka_unit_test(test_chain_roll_cli_span_hook),
        cmocka_unit_test(test_chain_roll_stop_within_a_second_at_36_bits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
