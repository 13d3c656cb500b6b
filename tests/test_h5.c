/* test_h5 — the table writer: round trip through the HDF5 C API, batching, atomic commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli_harness.h"
#include <hdf5.h>
#include <hdf5_hl.h>

#include "io/h5.h"

struct row {
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    double f64;
    uint8_t u8;
    char name[12];
};

static const struct h5_col cols[] = {
    {"i32", H5_COL_I32, offsetof(struct row, i32), 0, "", "a signed 32-bit"},
    {"u32", H5_COL_U32, offsetof(struct row, u32), 0, "", "an unsigned 32-bit"},
    {"i64", H5_COL_I64, offsetof(struct row, i64), 0, "s", "a signed 64-bit"},
    {"u64", H5_COL_U64, offsetof(struct row, u64), 0, "", "an unsigned 64-bit"},
    {"f64", H5_COL_F64, offsetof(struct row, f64), 0, "EUR/MWh", "a price"},
    {"u8", H5_COL_U8, offsetof(struct row, u8), 0, "", "a byte"},
    {"name", H5_COL_STR, offsetof(struct row, name), 12, "", "a fixed string"},
};

struct fx {
    char dir[64];
    char path[128];
    struct err e;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->dir, "h5") != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/out.h5", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static void make_row(struct row *r, int i)
{
    memset(r, 0, sizeof *r);
    r->i32 = -i;
    r->u32 = (uint32_t)i * 3u;
    r->i64 = (int64_t)i * 1000000007LL;
    r->u64 = UINT64_MAX - (uint64_t)i;
    r->f64 = i * 0.5;
    r->u8 = (uint8_t)i;
    snprintf(r->name, sizeof r->name, "row%d", i);
}

static char *read_str_attr(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a);
    char *v = NULL, *copy;
    assert_true(a >= 0);
    assert_true(H5Tis_variable_str(t) > 0);
    assert_true(H5Aread(a, t, &v) >= 0);
    copy = strdup(v);
    H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    return copy;
}

static int64_t read_i64_attr(hid_t obj, const char *name)
{
    int64_t v = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    return v;
}

static void test_h5_round_trip_all_column_types(void **state)
{
    struct fx *f = *state;
    enum { N = 1000 }; /* several batches of 64 plus a partial one */
    struct h5_file *h = h5_file_create(f->path, &f->e);
    struct h5_table *t;
    hid_t file, d;
    int32_t *i32 = malloc(N * sizeof *i32);
    uint64_t *u64 = malloc(N * sizeof *u64);
    double *f64 = malloc(N * sizeof *f64);
    char(*names)[12] = malloc(N * sizeof *names);
    hsize_t dims[1];

    assert_non_null(h);
    assert_int_equal(h5_file_set_layout(h, 64, 4, &f->e), 0);
    t = h5_table_new(h, "things", cols, 7, &f->e);
    assert_non_null(t);
    for (int i = 0; i < N; i++) {
        struct row r;
        make_row(&r, i);
        assert_int_equal(h5_table_append(t, &r, &f->e), 0);
    }
    assert_int_equal(h5_table_rows(t), N);
    assert_int_equal(h5_attr_str(h, "version", "9.9", &f->e), 0);
    assert_int_equal(h5_attr_i64(h, "seed", 42, &f->e), 0);
    assert_int_equal(h5_attr_f64(h, "wall_time_s", 1.5, &f->e), 0);
    assert_int_equal(h5_summary_f64(h, "mean_price", 41.25, "EUR/MWh", &f->e), 0);
    assert_int_equal(h5_summary_i64(h, "trades", 17, "", &f->e), 0);
    assert_int_equal(access(f->path, F_OK), -1); /* nothing under the final name yet */
    assert_int_equal(h5_file_commit(h, &f->e), 0);

    file = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_int_equal(read_i64_attr(file, "complete"), 1);
    assert_int_equal(read_i64_attr(file, "seed"), 42);
    {
        char *v = read_str_attr(file, "version");
        assert_string_equal(v, "9.9");
        free(v);
    }
    d = H5Dopen2(file, "things/i32", H5P_DEFAULT);
    {
        hid_t s = H5Dget_space(d);
        assert_int_equal(H5Sget_simple_extent_ndims(s), 1);
        H5Sget_simple_extent_dims(s, dims, NULL);
        assert_int_equal(dims[0], N);
        H5Sclose(s);
    }
    assert_true(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, i32) >= 0);
    {
        /* chunked and deflated */
        hid_t dcpl = H5Dget_create_plist(d);
        hsize_t chunk[1];
        assert_int_equal(H5Pget_layout(dcpl), H5D_CHUNKED);
        H5Pget_chunk(dcpl, 1, chunk);
        assert_int_equal(chunk[0], 64);
        assert_true(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_DEFLATE, NULL, NULL, NULL, 0, NULL,
                                         NULL) >= 0);
        H5Pclose(dcpl);
    }
    H5Dclose(d);
    d = H5Dopen2(file, "things/u64", H5P_DEFAULT);
    assert_true(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, u64) >= 0);
    H5Dclose(d);
    d = H5Dopen2(file, "things/f64", H5P_DEFAULT);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f64) >= 0);
    {
        char *u = read_str_attr(d, "units"), *desc = read_str_attr(d, "description");
        assert_string_equal(u, "EUR/MWh");
        assert_string_equal(desc, "a price");
        free(u);
        free(desc);
    }
    H5Dclose(d);
    d = H5Dopen2(file, "things/name", H5P_DEFAULT);
    {
        hid_t t2 = H5Dget_type(d);
        assert_int_equal(H5Tget_class(t2), H5T_STRING);
        assert_int_equal(H5Tget_size(t2), 12);
        assert_true(H5Dread(d, t2, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0);
        H5Tclose(t2);
    }
    H5Dclose(d);
    for (int i = 0; i < N; i++) {
        struct row r;
        make_row(&r, i);
        assert_int_equal(i32[i], r.i32);
        assert_int_equal(u64[i], r.u64);
        assert_true(f64[i] == r.f64);
        assert_memory_equal(names[i], r.name, 12);
    }
    d = H5Dopen2(file, "summary/mean_price", H5P_DEFAULT);
    {
        double v;
        assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
        assert_true(v == 41.25);
    }
    H5Dclose(d);
    H5Fclose(file);
    free(i32);
    free(u64);
    free(f64);
    free(names);
}

/* netCDF-4 convention (what xarray's h5netcdf engine reads): each table holds a dimension scale
 * "row", as long as the columns, whose NAME marks a dimension without a variable and ends in the
 * length; every column has it as dimension 0; it stores no data. */
static void test_h5_table_columns_share_a_row_dimension_scale(void **state)
{
    struct fx *f = *state;
    enum { N = 150 }; /* two full chunks of 64 and a partial one */
    struct h5_file *h = h5_file_create(f->path, &f->e);
    struct h5_table *t;
    hid_t file, dim;
    hsize_t dims[1];
    char name[128], want[128];

    assert_non_null(h);
    assert_int_equal(h5_file_set_layout(h, 64, 4, &f->e), 0);
    t = h5_table_new(h, "things", cols, 7, &f->e);
    assert_non_null(t);
    for (int i = 0; i < N; i++) {
        struct row r;
        make_row(&r, i);
        assert_int_equal(h5_table_append(t, &r, &f->e), 0);
    }
    assert_int_equal(h5_file_commit(h, &f->e), 0);

    file = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    dim = H5Dopen2(file, "/things/" H5_ROW_DIM, H5P_DEFAULT);
    assert_true(dim >= 0);
    assert_true(H5DSis_scale(dim) > 0);
    {
        hid_t sp = H5Dget_space(dim);
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
    }
    assert_int_equal(dims[0], N);
    assert_true(H5DSget_scale_name(dim, name, sizeof name) > 0);
    snprintf(want, sizeof want, "This is a netCDF dimension but not a netCDF variable.%10d", N);
    assert_string_equal(name, want);
    assert_int_equal(H5Dget_storage_size(dim), 0);
    for (size_t i = 0; i < 7; i++) {
        char path[64];
        hid_t d;
        snprintf(path, sizeof path, "/things/%s", cols[i].name);
        d = H5Dopen2(file, path, H5P_DEFAULT);
        assert_true(d >= 0);
        assert_int_equal(H5DSis_attached(d, dim, 0), 1);
        H5Dclose(d);
    }
    H5Dclose(dim);
    H5Fclose(file);
}

static void test_h5_abort_leaves_no_file(void **state)
{
    struct fx *f = *state;
    struct h5_file *h = h5_file_create(f->path, &f->e);
    char tmp[256];
    struct row r;
    struct h5_table *t;
    assert_non_null(h);
    snprintf(tmp, sizeof tmp, "%s", h5_file_tmp_path(h));
    assert_int_equal(access(tmp, F_OK), 0);
    assert_int_equal(h5_file_set_layout(h, 16, 0, &f->e), 0);
    t = h5_table_new(h, "things", cols, 7, &f->e);
    make_row(&r, 1);
    assert_int_equal(h5_table_append(t, &r, &f->e), 0);
    h5_file_abort(h);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(f->path, F_OK), -1);
    h5_file_abort(NULL);
}

static void test_h5_commit_replaces_previous_file(void **state)
{
    struct fx *f = *state;
    FILE *fp = fopen(f->path, "w");
    struct h5_file *h;
    fputs("old", fp);
    fclose(fp);
    h = h5_file_create(f->path, &f->e);
    assert_non_null(h);
    assert_int_equal(h5_file_commit(h, &f->e), 0);
    assert_true(H5Fis_hdf5(f->path) > 0);
}

static void test_h5_unwritable_directory_is_an_error(void **state)
{
    struct fx *f = *state;
    struct h5_file *h = h5_file_create("/nonexistent-dir/x/out.h5", &f->e);
    (void)f;
    assert_null(h);
    assert_int_equal(f->e.code, ERR_IO);
    assert_non_null(strstr(f->e.msg, "/nonexistent-dir/x/out.h5"));
}

static void test_h5_table_needs_columns_and_unique_name(void **state)
{
    struct fx *f = *state;
    struct h5_file *h = h5_file_create(f->path, &f->e);
    assert_null(h5_table_new(h, "t", cols, 0, &f->e));
    assert_non_null(h5_table_new(h, "t", cols, 7, &f->e));
    assert_null(h5_table_new(h, "t", cols, 7, &f->e)); /* exists */
    assert_int_equal(f->e.code, ERR_IO);
    assert_int_equal(h5_summary_i64(h, "x", 1, "", &f->e), 0);
    assert_int_equal(h5_summary_i64(h, "x", 2, "", &f->e), ERR_IO); /* twice */
    h5_file_abort(h);
}

/* Chunk dimension and deflate level (-1: no deflate filter) of dataset `name` in `path`. */
static void dataset_layout(const char *path, const char *name, hsize_t *chunk, int *deflate)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, dcpl;
    unsigned flags, cd[4] = {0};
    size_t ncd = 4;
    assert_true(file >= 0);
    d = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(d >= 0);
    dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_chunk(dcpl, 1, chunk), 1);
    *deflate = -1;
    if (H5Pget_filter_by_id2(dcpl, H5Z_FILTER_DEFLATE, &flags, &ncd, cd, 0, NULL, NULL) >= 0)
        *deflate = (int)cd[0];
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(file);
}

/* The file's layout applies to every table created after it is set; before, the defaults. */
static void test_h5_file_layout_applies_to_later_tables(void **state)
{
    struct fx *f = *state;
    struct h5_file *h = h5_file_create(f->path, &f->e);
    hsize_t chunk = 0;
    int deflate = 0;
    assert_non_null(h);
    assert_non_null(h5_table_new(h, "before", cols, 7, &f->e));
    assert_int_equal(h5_file_set_layout(h, 128, 7, &f->e), 0);
    assert_non_null(h5_table_new(h, "after", cols, 7, &f->e));
    assert_int_equal(h5_file_set_layout(h, 32, 0, &f->e), 0);
    assert_non_null(h5_table_new(h, "plain", cols, 7, &f->e));
    assert_int_equal(h5_file_commit(h, &f->e), 0);
    dataset_layout(f->path, "before/i32", &chunk, &deflate);
    assert_int_equal(chunk, H5_CHUNK_ROWS_DEFAULT);
    assert_int_equal(deflate, H5_DEFLATE_DEFAULT);
    dataset_layout(f->path, "after/i32", &chunk, &deflate);
    assert_int_equal(chunk, 128);
    assert_int_equal(deflate, 7);
    dataset_layout(f->path, "plain/i32", &chunk, &deflate);
    assert_int_equal(chunk, 32);
    assert_int_equal(deflate, -1); /* level 0: no filter at all */
}

static void test_h5_file_layout_rejects_out_of_range(void **state)
{
    struct fx *f = *state;
    struct h5_file *h = h5_file_create(f->path, &f->e);
    assert_non_null(h);
    assert_int_equal(h5_file_set_layout(h, 0, 4, &f->e), ERR_RUNTIME);
    assert_non_null(strstr(f->e.msg, "chunk rows 0"));
    assert_int_equal(h5_file_set_layout(h, 16, 10, &f->e), ERR_RUNTIME);
    assert_int_equal(h5_file_set_layout(h, 16, -1, &f->e), ERR_RUNTIME);
    h5_file_abort(h);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_h5_round_trip_all_column_types),
        T(test_h5_table_columns_share_a_row_dimension_scale),
        T(test_h5_abort_leaves_no_file),
        T(test_h5_commit_replaces_previous_file),
        T(test_h5_unwritable_directory_is_an_error),
        T(test_h5_table_needs_columns_and_unique_name),
        T(test_h5_file_layout_applies_to_later_tables),
        T(test_h5_file_layout_rejects_out_of_range),
    };
    return cmocka_run_group_tests_name("h5", tests, NULL, NULL);
}
