/* harness — fuzz entry points; see harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/block.h"
#include "chain/tx.h"
#include "chain/verify.h"
#include "core/config.h"
#include "io/h5.h"
#include "security/message.h"

int fuzz_config_one(const uint8_t *data, size_t size)
{
    struct cfg cfg;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cfg_init(&cfg);
    if (cfg_load_string(&cfg, text, "fuzz", NULL) == 0 && cfg_validate(&cfg, NULL) == 0) {
        /* Whatever is accepted must write out and read back to the same configuration. */
        char *a = cfg_to_string(&cfg), *b = NULL;
        struct cfg again;
        cfg_init(&again);
        if (a && cfg_load_string(&again, a, "resolved", NULL) != 0)
            abort();
        b = cfg_to_string(&again);
        if (a && b && strcmp(a, b) != 0)
            abort();
        free(a);
        free(b);
        cfg_fini(&again);
    }
    cfg_fini(&cfg);
    free(text);
    return 0;
}

int fuzz_msg_one(const uint8_t *data, size_t size)
{
    struct msg m;
    if (msg_decode(data, size, &m, NULL) == 0) {
        unsigned char again[MSG_WIRE_BYTES];
        msg_encode(&m, again);
        if (memcmp(again, data, MSG_WIRE_BYTES) != 0 && m.kwh == m.kwh && m.price == m.price)
            abort(); /* a decoded message re-encodes to the same bytes */
    }
    return 0;
}

/* Bytes as one transaction: what decodes must re-encode to the same bytes and keep its id. */
static void tx_roundtrip(const uint8_t *data, size_t size, struct chain_tx_party *buyers)
{
    struct chain_tx tx;
    static unsigned char again[CHAIN_TX_MAX_LEN];
    size_t len = 0;
    if (chain_tx_decode(data, size, &tx, buyers, CHAIN_TX_MAX_BUYERS, NULL) != 0)
        return;
    if (chain_tx_encode(&tx, again, sizeof again, &len, NULL) != 0 || len != size ||
        memcmp(again, data, size) != 0 || chain_tx_len(&tx) != size)
        abort();
    (void)chain_tx_verify(&tx, NULL);
}

int fuzz_tx_one(const uint8_t *data, size_t size)
{
    static struct chain_tx_party buyers[CHAIN_TX_MAX_BUYERS];
    tx_roundtrip(data, size, buyers);
    /* And as a block: an 80-byte header, then transactions each behind a u16 length. */
    if (size >= MINE_HEADER_LEN) {
        const unsigned char *tx[64];
        size_t len[64], n = 0, at = MINE_HEADER_LEN;
        struct chain_header h;
        unsigned char packed[MINE_HEADER_LEN];
        struct chain_block_view v;
        const char *rule = NULL;
        chain_header_unpack(data, &h);
        chain_header_pack(&h, packed);
        if (memcmp(packed, data, MINE_HEADER_LEN) != 0)
            abort(); /* every 80 bytes are a header */
        while (n < 64 && at + 2 <= size) {
            size_t l = (size_t)data[at] | (size_t)data[at + 1] << 8;
            at += 2;
            if (l > size - at)
                l = size - at;
            tx[n] = data + at;
            len[n++] = l;
            tx_roundtrip(data + at, l, buyers);
            at += l;
        }
        v.header = data;
        v.n_tx = n;
        v.tx = tx;
        v.tx_len = len;
        v.tx_window = 86400; /* the window rule too */
        (void)chain_block_check(&v, h.prev, h.bits, &rule, NULL);
    }
    return 0;
}

int fuzz_verify_one(const uint8_t *data, size_t size)
{
    char path[64];
    struct chain_verify_report rep;
    struct err e = {0};
    FILE *f;
    int rc;
    h5_lib_init();
    snprintf(path, sizeof path, "/tmp/setm-fuzz-verify-%d.h5", (int)getpid());
    if (!(f = fopen(path, "wb")))
        return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        unlink(path);
        return 0;
    }
    fclose(f);
    rc = chain_verify_file(path, NULL, &rep, &e);
    unlink(path);
    /* Every outcome is a verdict or a refusal with a message; nothing else. */
    if (rc != 0 && rc != ERR_VERIFY && rc != ERR_FORMAT && rc != ERR_NOTFOUND && rc != ERR_NOMEM)
        abort();
    if (rc != 0 && e.msg[0] == '\0')
        abort();
    return 0;
}
