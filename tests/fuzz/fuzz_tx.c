/* libFuzzer target: the transaction decoder and the stateless block check (`make fuzz`). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_tx_one(data, size); }
