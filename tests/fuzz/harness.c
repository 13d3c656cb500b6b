/* harness — fuzz entry points; see harness.h. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
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
