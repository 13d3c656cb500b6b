/*
 * harness — one entry point per fuzz target, shared by the libFuzzer executables (`make fuzz`,
 * tests/fuzz/fuzz_<target>.c) and by tests/test_fuzz_corpus.c, which replays the committed seed
 * corpus and every minimised crash input on each `make test` / `make asan`.
 *
 * Each function feeds arbitrary bytes to one decoder and returns 0; a bug shows as a crash or a
 * sanitizer report, and a function that accepts input must also round-trip it.
 */
#ifndef SETM_TESTS_FUZZ_HARNESS_H
#define SETM_TESTS_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int fuzz_config_one(const uint8_t *data, size_t size); /* scenario INI text */
int fuzz_msg_one(const uint8_t *data, size_t size);    /* market message wire bytes */
int fuzz_tx_one(const uint8_t *data, size_t size);     /* a transaction, and a block: header +
                                                          u16-length-prefixed transactions */
int fuzz_verify_one(const uint8_t *data, size_t size); /* an output file for `setm verify` */

#endif
