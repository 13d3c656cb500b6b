/* test_err — core/err's mapping of an open() failure to an exit class: the user's name to fix is
 * exit 2, the system's failure exit 1 (err_exit_code's contract in err.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/err.h"

static void test_err_open_code_missing_is_not_found(void **state)
{
    (void)state;
    assert_int_equal(err_open_code(ENOENT, ERR_CONFIG), ERR_NOTFOUND);
    assert_int_equal(err_open_code(ENOTDIR, ERR_FORMAT), ERR_NOTFOUND);
    assert_int_equal(err_exit_code(err_open_code(ENOENT, ERR_CONFIG)), 2);
}

static void test_err_open_code_bad_name_is_the_callers_code(void **state)
{
    const int user[] = {EACCES, EPERM, ELOOP, ENAMETOOLONG, EISDIR};
    (void)state;
    for (size_t i = 0; i < sizeof user / sizeof user[0]; i++) {
        assert_int_equal(err_open_code(user[i], ERR_CONFIG), ERR_CONFIG);
        assert_int_equal(err_open_code(user[i], ERR_FORMAT), ERR_FORMAT);
        assert_int_equal(err_exit_code(err_open_code(user[i], ERR_FORMAT)), 2);
    }
}

static void test_err_open_code_system_failure_is_io(void **state)
{
    const int sys[] = {EMFILE, ENFILE, ENOMEM, EIO};
    (void)state;
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) {
        assert_int_equal(err_open_code(sys[i], ERR_CONFIG), ERR_IO);
        assert_int_equal(err_exit_code(ERR_IO), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_open_code_missing_is_not_found),
        cmocka_unit_test(test_err_open_code_bad_name_is_the_callers_code),
        cmocka_unit_test(test_err_open_code_system_failure_is_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
