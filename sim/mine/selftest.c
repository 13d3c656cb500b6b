/*
 * mine/selftest — the portable reference scan and the known-answer test every backend and path
 * must pass before it is used (the hashcat habit: check the kernel on the device before real
 * work). The anchor is the Bitcoin genesis block, whose nonce and hash are public record; the
 * other cases are checked against the reference, which the anchor checks first.
 */
#include <stdio.h>
#include <string.h>

#include "mine/backend.h"

#include "sha256.cl"

/* Bitcoin block 0: version 1, zero previous hash, its Merkle root, time 1231006505, bits
 * 0x1d00ffff, nonce 2083236893 (0x7c2bac1d). */
static const unsigned char genesis_header[MINE_HEADER_LEN] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x3b, 0xa3, 0xed, 0xfd, 0x7a, 0x7b, 0x12, 0xb2, 0x7a, 0xc7, 0x2c, 0x3e,
    0x67, 0x76, 0x8f, 0x61, 0x7f, 0xc8, 0x1b, 0xc3, 0x88, 0x8a, 0x51, 0x32, 0x3a, 0x9f, 0xb8, 0xaa,
    0x4b, 0x1e, 0x5e, 0x4a, 0x29, 0xab, 0x5f, 0x49, 0xff, 0xff, 0x00, 0x1d, 0x1d, 0xac, 0x2b, 0x7c};
#define GENESIS_NONCE 2083236893U
/* Its SHA-256d as final state words (display form 000000000019d668...0a8ce26f reversed). */
static const uint32_t genesis_state[8] = {0x6fe28c0aU, 0xb6f1b372U, 0xc1a6a246U, 0xae63f74fU,
                                          0x931e8365U, 0xe15a089cU, 0x68d61900U, 0x00000000U};

uint64_t mine_ref_scan(const struct mine_work *w, uint64_t begin, uint64_t end)
{
    sha256_u32 s[8];
    for (uint64_t off = begin; off < end; off++) {
        sha256d_header(w->mid, w->tail, w->start + (uint32_t)off, s);
        if (sha256_meets_target(s, w->target))
            return off;
    }
    return MINE_NONE;
}

/* Run one case and compare with the expected offset. */
static int selftest_case(mine_search_fn search, void *backend, const struct mine_work *w,
                         uint64_t count, uint64_t expect, const char *what, struct err *e)
{
    uint64_t got = MINE_NONE;
    int rc = search(backend, w, count, &got, e);

    if (rc)
        return err_wrap(e, ERR_DEVICE, "self-test (%s)", what);
    if (got != expect) {
        char g[24] = "none", x[24] = "none";
        if (got != MINE_NONE)
            snprintf(g, sizeof g, "%llu", (unsigned long long)got);
        if (expect != MINE_NONE)
            snprintf(x, sizeof x, "%llu", (unsigned long long)expect);
        return err_set(e, ERR_DEVICE, "self-test (%s): found offset %s, expected %s", what, g, x);
    }
    return 0;
}

int mine_selftest(mine_search_fn search, void *backend, struct err *e)
{
    unsigned char target[MINE_TARGET_LEN];
    struct mine_work w;
    sha256_u32 s[8];
    uint64_t expect;
    int rc, i;

    /* The reference itself first: the genesis header must hash to the genesis hash. */
    mine_target_from_bits(0x1d00ffffU, target, NULL);
    mine_work_init(&w, genesis_header, target, GENESIS_NONCE - 40);
    sha256d_header(w.mid, w.tail, GENESIS_NONCE, s);
    if (memcmp(s, genesis_state, sizeof s))
        return err_set(e, ERR_DEVICE, "self-test: host SHA-256d of the genesis header is wrong");

    if ((rc = selftest_case(search, backend, &w, 64, 40, "genesis block", e)))
        return rc;
    if ((rc = selftest_case(search, backend, &w, 40, MINE_NONE, "genesis range without winner", e)))
        return rc;

    /* Target equal to the genesis hash: the winner meets it with equality, which takes the
     * full 256-bit comparison after the first limb ties. One less and nothing in range does. */
    for (i = 0; i < 8; i++)
        w.target[i] = sha256_bswap(genesis_state[i]);
    if ((rc = selftest_case(search, backend, &w, 64, 40, "target equal to hash", e)))
        return rc;
    for (i = 0; i < 8 && w.target[i]-- == 0; i++)
        ; /* subtract 1 with borrow */
    if ((rc = selftest_case(search, backend, &w, 64, MINE_NONE, "target one below hash", e)))
        return rc;

    /* An easy target (about 1 nonce in 64) from 0 and across the wrap at 2^32: several winners
     * per launch, so the lowest-offset reduction is exercised. */
    for (i = 0; i < 8; i++)
        w.target[i] = 0xffffffffU;
    w.target[7] = 0x03ffffffU;
    w.start = 0;
    expect = mine_ref_scan(&w, 0, 512);
    if ((rc = selftest_case(search, backend, &w, 512, expect, "easy target", e)))
        return rc;
    w.start = 0xffffff00U;
    expect = mine_ref_scan(&w, 0, 512);
    return selftest_case(search, backend, &w, 512, expect, "easy target, wrapping range", e);
}
