/*
 * run_compare — two run files compared the way a reader of them would: the same tip, and every
 * dataset the same bit for bit (NaNs included), wall-clock columns (search_wall_s) excepted.  For
 * the suites that prove a change leaves every output as it was (test_pool: any thread count;
 * test_chain_window: the block window), and the attack scenario they run.  Include after
 * <cmocka.h> and <hdf5.h>, with core/config.h, run/sim.h and io/h5.h.
 */
#ifndef SETM_TESTS_RUN_COMPARE_H
#define SETM_TESTS_RUN_COMPARE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cmp {
    hid_t a, b;
    int datasets;  /* compared */
    int different; /* that differ */
    char first[256];
};

/* Columns that hold wall-clock measurements, not simulation results. */
static int is_wall_clock(const char *path)
{
    return strstr(path, "search_wall_s") != NULL;
}

static void note_diff(struct cmp *c, const char *path)
{
    if (!c->different++)
        snprintf(c->first, sizeof c->first, "%s", path);
}

static void compare_dataset(struct cmp *c, const char *path)
{
    hid_t da = H5Dopen2(c->a, path, H5P_DEFAULT), db = H5Dopen2(c->b, path, H5P_DEFAULT);
    hid_t ta, nt, sa, sb;
    hssize_t na, nb;
    if (da < 0 || db < 0) {
        note_diff(c, path);
        goto out;
    }
    ta = H5Dget_type(da);
    nt = H5Tget_native_type(ta, H5T_DIR_ASCEND);
    sa = H5Dget_space(da);
    sb = H5Dget_space(db);
    na = H5Sget_simple_extent_npoints(sa);
    nb = H5Sget_simple_extent_npoints(sb);
    c->datasets++;
    if (na != nb) {
        note_diff(c, path);
    } else if (na > 0) {
        size_t sz = H5Tget_size(nt);
        int vlen = H5Tget_class(nt) == H5T_STRING && H5Tis_variable_str(nt) > 0;
        unsigned char *x = calloc((size_t)na, sz), *y = calloc((size_t)na, sz);
        assert_non_null(x);
        assert_non_null(y);
        assert_true(H5Dread(da, nt, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
        assert_true(H5Dread(db, nt, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
        if (vlen) {
            for (hssize_t i = 0; i < na; i++)
                if (strcmp(((char **)x)[i], ((char **)y)[i]))
                    note_diff(c, path);
            H5Dvlen_reclaim(nt, sa, H5P_DEFAULT, x);
            H5Dvlen_reclaim(nt, sb, H5P_DEFAULT, y);
        } else if (memcmp(x, y, (size_t)na * sz)) { /* bit for bit, NaNs included */
            note_diff(c, path);
        }
        free(x);
        free(y);
    }
    H5Sclose(sa);
    H5Sclose(sb);
    H5Tclose(nt);
    H5Tclose(ta);
out:
    if (da >= 0)
        H5Dclose(da);
    if (db >= 0)
        H5Dclose(db);
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *ctx)
{
    struct cmp *c = ctx;
    char path[256];
    (void)obj;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    snprintf(path, sizeof path, "/%s", name);
    if (!is_wall_clock(path))
        compare_dataset(c, path);
    return 0;
}

static char *tip_of(const char *path)
{
    struct err e = {0};
    struct h5_reader *r = h5_reader_open(path, &e);
    char *s = NULL;
    assert_non_null(r);
    assert_int_equal(h5_reader_attr_str(r, "chain_tip", &s, &e), 0);
    assert_int_equal(strlen(s), 64);
    h5_reader_close(r);
    return s;
}

static int64_t summary_i64(hid_t f, const char *name)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    double v = 0;
    assert_true(d >= 0);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
    H5Dclose(d);
    return (int64_t)v;
}

static herr_t count_datasets(hid_t obj, const char *name, const H5O_info_t *info, void *ctx)
{
    char path[256];
    (void)obj;
    snprintf(path, sizeof path, "/%s", name);
    if (info->type == H5O_TYPE_DATASET && !is_wall_clock(path))
        ++*(int *)ctx;
    return 0;
}

/* Run scenarios/attacks.ini with the `key=value` overrides in keys (and sim.threads = threads
 * when threads > 0) into path. */
static void run_attacks(const char *path, const char *const *keys, size_t n_keys, int threads)
{
    struct cfg cfg;
    struct err e = {0};
    struct sim_opts o = {0};
    char set[64];
    cfg_init(&cfg);
    assert_int_equal(cfg_load_file(&cfg, SETM_SOURCE_DIR "/scenarios/attacks.ini", &e), 0);
    for (size_t k = 0; k < n_keys; k++)
        assert_int_equal(cfg_set(&cfg, keys[k], &e), 0);
    if (threads > 0) {
        snprintf(set, sizeof set, "sim.threads=%d", threads);
        assert_int_equal(cfg_set(&cfg, set, &e), 0);
    }
    assert_int_equal(cfg_validate(&cfg, &e), 0);
    o.output = path;
    assert_int_equal(sim_run(&cfg, &o, NULL, &e), 0);
    cfg_fini(&cfg);
}

/* Fail the test unless the runs at paths a and b have the same tip and datasets; "what"
 * names the second run in the message.  Returns how many datasets were compared. */
static int runs_same(const char *a, const char *b, const char *what)
{
    struct cmp c = {0};
    char *ta = tip_of(a), *tb = tip_of(b);
    int in_b = 0;
    assert_string_equal(tb, ta);
    c.a = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT);
    c.b = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(c.a >= 0);
    assert_true(c.b >= 0);
    assert_true(H5Ovisit(c.a, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &c) >= 0);
    /* c.datasets counts a's datasets that b has too: b may have no others */
    assert_true(H5Ovisit(c.b, H5_INDEX_NAME, H5_ITER_NATIVE, count_datasets, &in_b) >= 0);
    if (in_b != c.datasets)
        note_diff(&c, "(a dataset only the second run has)");
    if (c.different)
        fail_msg("%s: %d of %d datasets differ, first %s", what, c.different, c.datasets, c.first);
    H5Fclose(c.a);
    H5Fclose(c.b);
    free(ta);
    free(tb);
    return c.datasets;
}

#endif
