/* libFuzzer target: the market message decoder (`make fuzz`). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_msg_one(data, size); }
