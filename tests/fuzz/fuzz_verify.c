/* libFuzzer target: the HDF5 reader and checks behind setm verify (the input is written to a file) (`make fuzz`). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_verify_one(data, size); }
