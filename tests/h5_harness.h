/*
 * h5_harness — whole-dataset reads and writes through the HDF5 API, for the suites that tamper
 * with run files the way a user with h5py could (test_verify, test_chain_roll).  Include after
 * <cmocka.h> and <hdf5.h>; every helper fails the test on an HDF5 error.
 */
#ifndef SETM_TESTS_H5_HARNESS_H
#define SETM_TESTS_H5_HARNESS_H

#include <stdlib.h>

/* A whole dataset in its own type: a new buffer (one spare element, zeroed) of *n elements of
 * *elem bytes.  The caller frees it. */
static void *read_all(hid_t file, const char *name, size_t *n, size_t *elem)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), t, s;
    hsize_t dims = 0;
    void *buf;
    assert_true(d >= 0);
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, &dims, NULL);
    *elem = H5Tget_size(t);
    *n = (size_t)dims;
    buf = calloc((size_t)dims + 1, *elem);
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return buf;
}

/* Write buf (n elements, the dataset's own type) back, resizing the dataset to n rows. */
static void write_all(hid_t file, const char *name, const void *buf, size_t n)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), t;
    hsize_t dims = n;
    assert_true(d >= 0);
    t = H5Dget_type(d);
    assert_true(H5Dset_extent(d, &dims) >= 0);
    if (n > 0)
        assert_true(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Tclose(t);
    H5Dclose(d);
}

#endif
