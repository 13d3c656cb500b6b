/* test_h5read — the h5 additions for sweeps: external links and reading attributes and /summary
 * back, with every failure path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hdf5.h>

#include "cli_harness.h"
#include "io/h5.h"

struct fx {
    char dir[64];
    char path[128];
    struct err e;
    struct h5_reader *r;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct h5_file *h;
    if (!f || tu_mkdtemp(f->dir, "h5read") != 0)
        return -1;
    /* A committed file with attributes of each kind and a /summary. */
    snprintf(f->path, sizeof f->path, "%s/a.h5", f->dir);
    h = h5_file_create(f->path, NULL);
    if (!h || h5_attr_str(h, "scenario", "[sim]\ndays = 1\n", NULL) ||
        h5_attr_i64(h, "seed", 42, NULL) || h5_attr_f64(h, "wall_time_s", 1.5, NULL) ||
        h5_summary_i64(h, "trades", 7, "", NULL) ||
        h5_summary_f64(h, "volume_kwh", 12.25, "kWh", NULL) || h5_file_commit(h, NULL))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    h5_reader_close(f->r);
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static struct h5_reader *open_a(struct fx *f)
{
    f->r = h5_reader_open(f->path, &f->e);
    assert_non_null(f->r);
    return f->r;
}

static void test_h5read_attributes(void **state)
{
    struct fx *f = *state;
    struct h5_reader *r = open_a(f);
    int64_t seed, complete;
    double wall;
    char *text;
    assert_int_equal(h5_reader_attr_i64(r, "seed", &seed, &f->e), 0);
    assert_int_equal(seed, 42);
    assert_int_equal(h5_reader_attr_i64(r, "complete", &complete, &f->e), 0);
    assert_int_equal(complete, 1);
    assert_int_equal(h5_reader_attr_f64(r, "wall_time_s", &wall, &f->e), 0);
    assert_true(wall == 1.5);
    assert_int_equal(h5_reader_attr_str(r, "scenario", &text, &f->e), 0);
    assert_string_equal(text, "[sim]\ndays = 1\n");
    free(text);
}

static void test_h5read_summary(void **state)
{
    struct fx *f = *state;
    struct h5_scalar *v;
    size_t n;
    assert_int_equal(h5_reader_summary(open_a(f), &v, &n, &f->e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "trades");
    assert_true(v[0].is_int);
    assert_int_equal(v[0].i, 7);
    assert_true(v[0].f == 7.0);
    assert_string_equal(v[1].name, "volume_kwh");
    assert_false(v[1].is_int);
    assert_true(v[1].f == 12.25);
    assert_string_equal(v[1].units, "kWh");
    free(v);
}

static void test_h5read_no_summary_is_empty(void **state)
{
    struct fx *f = *state;
    struct h5_scalar *v = (struct h5_scalar *)1;
    size_t n = 9;
    struct h5_file *h;
    snprintf(f->path, sizeof f->path, "%s/b.h5", f->dir);
    h = h5_file_create(f->path, &f->e);
    assert_non_null(h);
    assert_int_equal(h5_file_commit(h, &f->e), 0);
    assert_int_equal(h5_reader_summary(open_a(f), &v, &n, &f->e), 0);
    assert_int_equal(n, 0);
    assert_null(v);
}

static void test_h5read_missing_file_is_notfound(void **state)
{
    struct fx *f = *state;
    char p[128];
    snprintf(p, sizeof p, "%s/none.h5", f->dir);
    assert_null(h5_reader_open(p, &f->e));
    assert_int_equal(f->e.code, ERR_NOTFOUND);
}

static void test_h5read_not_hdf5_is_format_error(void **state)
{
    struct fx *f = *state;
    char p[128];
    assert_int_equal(tu_put(f->dir, "text.h5", "not hdf5\n", p, sizeof p), 0);
    assert_null(h5_reader_open(p, &f->e));
    assert_int_equal(f->e.code, ERR_FORMAT);
}

static void test_h5read_absent_attribute_is_notfound(void **state)
{
    struct fx *f = *state;
    int64_t v;
    double d;
    char *s;
    struct h5_reader *r = open_a(f);
    assert_int_equal(h5_reader_attr_i64(r, "nope", &v, &f->e), ERR_NOTFOUND);
    assert_int_equal(h5_reader_attr_f64(r, "nope", &d, &f->e), ERR_NOTFOUND);
    assert_int_equal(h5_reader_attr_str(r, "nope", &s, &f->e), ERR_NOTFOUND);
    assert_non_null(strstr(f->e.msg, "nope"));
}

static void test_h5read_string_read_as_number_is_format_error(void **state)
{
    struct fx *f = *state;
    int64_t v;
    assert_int_equal(h5_reader_attr_i64(open_a(f), "scenario", &v, &f->e), ERR_FORMAT);
}

static void test_h5read_number_read_as_string_is_format_error(void **state)
{
    struct fx *f = *state;
    char *s = NULL;
    assert_int_equal(h5_reader_attr_str(open_a(f), "seed", &s, &f->e), ERR_FORMAT);
    assert_null(s);
}

static void test_h5read_external_link_resolves_beside_the_file(void **state)
{
    struct fx *f = *state;
    char p[128];
    struct h5_file *h;
    hid_t file, obj;
    int64_t seed = 0;
    snprintf(p, sizeof p, "%s/links.h5", f->dir);
    h = h5_file_create(p, &f->e);
    assert_non_null(h);
    assert_int_equal(h5_link_external(h, "files/a", "a.h5", "/", &f->e), 0);
    assert_int_equal(h5_file_commit(h, &f->e), 0);
    file = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    obj = H5Oopen(file, "files/a", H5P_DEFAULT);
    assert_true(obj >= 0);
    {
        hid_t a = H5Aopen(obj, "seed", H5P_DEFAULT);
        assert_true(H5Aread(a, H5T_NATIVE_INT64, &seed) >= 0);
        H5Aclose(a);
    }
    assert_int_equal(seed, 42);
    H5Oclose(obj);
    H5Fclose(file);
}

static void test_h5read_link_twice_is_io_error(void **state)
{
    struct fx *f = *state;
    char p[128];
    struct h5_file *h;
    snprintf(p, sizeof p, "%s/links.h5", f->dir);
    h = h5_file_create(p, &f->e);
    assert_non_null(h);
    assert_int_equal(h5_link_external(h, "files/a", "a.h5", "/", &f->e), 0);
    assert_int_equal(h5_link_external(h, "files/a", "a.h5", "/", &f->e), ERR_IO);
    assert_non_null(strstr(f->e.msg, "files/a"));
    h5_file_abort(h);
}

static void test_h5read_close_null_is_noop(void **state)
{
    (void)state;
    h5_reader_close(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_h5read_attributes),
        T(test_h5read_summary),
        T(test_h5read_no_summary_is_empty),
        T(test_h5read_missing_file_is_notfound),
        T(test_h5read_not_hdf5_is_format_error),
        T(test_h5read_absent_attribute_is_notfound),
        T(test_h5read_string_read_as_number_is_format_error),
        T(test_h5read_number_read_as_string_is_format_error),
        T(test_h5read_external_link_resolves_beside_the_file),
        T(test_h5read_link_twice_is_io_error),
        T(test_h5read_close_null_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
