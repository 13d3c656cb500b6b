/* test_grow — core/grow's grow_array: capacity covers what is needed, contents survive, nothing
 * changes when the request cannot be met. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/grow.h"

static void test_grow_first_allocation_from_null(void **state)
{
    int64_t *a = NULL;
    size_t cap = 0;
    (void)state;
    assert_int_equal(grow_array(&a, &cap, 1, sizeof *a), 0);
    assert_non_null(a);
    assert_int_equal(cap, GROW_FIRST);
    a[cap - 1] = 7; /* the whole capacity is usable (asan checks the bound) */
    free(a);
}

static void test_grow_covers_need_by_doubling(void **state)
{
    uint32_t *a = NULL;
    size_t cap = 0;
    (void)state;
    assert_int_equal(grow_array(&a, &cap, 100, sizeof *a), 0);
    assert_int_equal(cap, 128); /* 16 -> 32 -> 64 -> 128: the first power-of-two step >= 100 */
    assert_int_equal(grow_array(&a, &cap, 129, sizeof *a), 0);
    assert_int_equal(cap, 256);
    free(a);
}

static void test_grow_keeps_contents(void **state)
{
    uint32_t *a = NULL;
    size_t cap = 0, n = 0;
    (void)state;
    for (uint32_t i = 0; i < 5000; i++) {
        assert_int_equal(grow_array(&a, &cap, n + 1, sizeof *a), 0);
        assert_true(cap >= n + 1);
        a[n++] = i * 2654435761u;
    }
    for (uint32_t i = 0; i < 5000; i++)
        assert_int_equal(a[i], i * 2654435761u);
    free(a);
}

static void test_grow_no_change_when_room(void **state)
{
    char *a = malloc(40), *before = a;
    size_t cap = 40;
    (void)state;
    assert_non_null(a);
    assert_int_equal(grow_array(&a, &cap, 40, 1), 0);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 40);
    assert_int_equal(grow_array(&a, &cap, 0, 1), 0);
    assert_int_equal(cap, 40);
    free(a);
}

static void test_grow_overflow_is_nomem_and_unchanged(void **state)
{
    double *a = NULL;
    size_t cap = 0;
    (void)state;
    assert_int_equal(grow_array(&a, &cap, 4, sizeof *a), 0);
    double *before = a;
    size_t cap0 = cap;
    /* need * elem exceeds SIZE_MAX: must not wrap to a small allocation */
    assert_int_equal(grow_array(&a, &cap, SIZE_MAX / sizeof *a + 1, sizeof *a), ERR_NOMEM);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, cap0);
    /* elem 0 is refused too */
    assert_int_equal(grow_array(&a, &cap, cap0 + 1, 0), ERR_NOMEM);
    assert_int_equal(cap, cap0);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_first_allocation_from_null),
        cmocka_unit_test(test_grow_covers_need_by_doubling),
        cmocka_unit_test(test_grow_keeps_contents),
        cmocka_unit_test(test_grow_no_change_when_room),
        cmocka_unit_test(test_grow_overflow_is_nomem_and_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
