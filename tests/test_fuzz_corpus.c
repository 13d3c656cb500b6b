/* test_fuzz_corpus — replay every committed fuzz input (seed corpus and minimised crashes) through
 * its harness; under `make asan` this is the regression test for every bug the fuzzers found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "fuzz/harness.c"

static size_t replay_dir(const char *target, int (*fn)(const uint8_t *, size_t))
{
    char dir[512];
    DIR *d;
    struct dirent *ent;
    size_t n = 0;
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", SETM_SOURCE_DIR, target);
    d = opendir(dir);
    assert_non_null(d);
    while ((ent = readdir(d)) != NULL) {
        char path[1024];
        FILE *f;
        long len;
        uint8_t *buf;
        if (ent->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)len + 1);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        fn(buf, (size_t)len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_fuzz_corpus_config(void **state)
{
    (void)state;
    assert_true(replay_dir("config", fuzz_config_one) > 0);
}

static void test_fuzz_corpus_msg(void **state)
{
    (void)state;
    assert_true(replay_dir("msg", fuzz_msg_one) > 0);
}

static void test_fuzz_corpus_tx(void **state)
{
    (void)state;
    assert_true(replay_dir("tx", fuzz_tx_one) > 0);
}

static void test_fuzz_corpus_verify(void **state)
{
    (void)state;
    assert_true(replay_dir("verify", fuzz_verify_one) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_corpus_config),
        cmocka_unit_test(test_fuzz_corpus_msg),
        cmocka_unit_test(test_fuzz_corpus_tx),
        cmocka_unit_test(test_fuzz_corpus_verify),
    };
    return cmocka_run_group_tests_name("fuzz_corpus", tests, NULL, NULL);
}
