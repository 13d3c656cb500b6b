/*
 * h5 — column-table writer on the HDF5 C API.
 *
 * Invariant: every column dataset of a table has exactly `written` elements on disk, and each
 * column buffer holds the same `buffered` rows not yet written; rows = written + buffered.
 * HDF5's automatic error printing is switched off: failures come back as ERR_IO with the name of
 * the table and column involved.
 *
 * Output names: only a regular file (or nothing) under the final name is ever replaced, and a
 * partial file (complete = 0) replaces only nothing or another partial file; beside a finished
 * file it goes to OUT.partial.h5.  Temporary files are OUT.tmp.PID; those of processes that are
 * gone are removed when the same OUT is created again.
 *
 * Size (~1,100 lines, over the ~900 the README's design notes allow): the writer and the
 * reader-back share the file object, its layout and the HDF5 error handling; the reading half
 * (from "Links and reading back") is where a split would cut.
 */
#include "h5.h"
#include "core/grow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The system's reason for a failed HDF5 call (errno cleared before it), for every message. */
static const char *why(int errnum)
{
    return errnum ? strerror(errnum) : "the HDF5 library gave no system reason (disk full?)";
}

struct h5_table {
    struct h5_file *file;
    char name[64];
    const struct h5_col *cols;
    size_t ncols;
    hid_t group;
    hid_t *dsets;     /* one per column */
    hid_t dim;        /* the table's dimension scale /NAME/row (netCDF-4 dimension, no data) */
    hid_t *types;     /* memory = file type per column (string types are created, others borrowed) */
    unsigned char **bufs;
    size_t *elem;     /* element size per column */
    size_t chunk_rows;
    size_t buffered;
    uint64_t written;
    struct h5_table *next;
};

struct h5_file {
    hid_t id;
    char *final_path;
    char *tmp_path;
    hid_t summary; /* /summary group, created on first use */
    struct h5_table *tables;
    size_t chunk_rows; /* layout of tables created from now on (h5_file_set_layout) */
    int deflate;
};

static hid_t col_type(const struct h5_col *c)
{
    switch (c->type) {
    case H5_COL_I32: return H5T_NATIVE_INT32;
    case H5_COL_U32: return H5T_NATIVE_UINT32;
    case H5_COL_I64: return H5T_NATIVE_INT64;
    case H5_COL_U64: return H5T_NATIVE_UINT64;
    case H5_COL_F64: return H5T_NATIVE_DOUBLE;
    case H5_COL_U8: return H5T_NATIVE_UINT8;
    case H5_COL_STR: {
        hid_t t = H5Tcopy(H5T_C_S1);
        if (t < 0)
            return t;
        if (H5Tset_size(t, c->size) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
            H5Tclose(t);
            return -1;
        }
        return t;
    }
    }
    return -1;
}

static size_t col_elem(const struct h5_col *c)
{
    switch (c->type) {
    case H5_COL_I32:
    case H5_COL_U32: return 4;
    case H5_COL_I64:
    case H5_COL_U64:
    case H5_COL_F64: return 8;
    case H5_COL_U8: return 1;
    case H5_COL_STR: return c->size;
    }
    return 0;
}

static int attr_write_str(hid_t obj, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1), space = -1, attr = -1;
    int ok = 0;
    if (type < 0)
        return -1;
    if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        goto out;
    space = H5Screate(H5S_SCALAR);
    if (space < 0)
        goto out;
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
        goto out;
    attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0)
        goto out;
    ok = H5Awrite(attr, type, &value) >= 0;
out:
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    H5Tclose(type);
    return ok ? 0 : -1;
}

static int attr_write_num(hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR), attr = -1;
    int ok = 0;
    if (space < 0)
        return -1;
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
        goto out;
    attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0)
        goto out;
    ok = H5Awrite(attr, type, value) >= 0;
out:
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return ok ? 0 : -1;
}

void h5_lib_init(void)
{
    H5dont_atexit(); /* fails harmlessly once the library is initialised */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* The folder part of `path` ("." when it has none) into buf. */
static void dir_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, n, ".");
    else if (slash == path)
        snprintf(buf, n, "/");
    else
        snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

int h5_output_check(const char *path, struct err *e)
{
    struct stat st;
    char dir[4096];
    if (!path || !*path)
        return err_set(e, ERR_USAGE, "the output path is empty");
    if (path[strlen(path) - 1] == '/')
        return err_set(e, ERR_USAGE, "%s: the output must be a file name, not a directory", path);
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return err_set(e, ERR_USAGE,
                       "%s: exists and is not a regular file (%s); setm replaces only a regular "
                       "file: choose another output name",
                       path,
                       S_ISDIR(st.st_mode)   ? "a directory"
                       : S_ISLNK(st.st_mode) ? "a symbolic link"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                    : "not a plain file");
    dir_of(path, dir, sizeof dir);
    if (stat(dir, &st) != 0)
        return err_set(e, ERR_IO, "%s: cannot use the directory %s: %s", path, dir,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(e, ERR_IO, "%s: %s is not a directory", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return err_set(e, ERR_IO, "%s: cannot write in the directory %s: %s", path, dir,
                       strerror(errno));
    return 0;
}

void h5_partial_path(const char *path, char *buf, size_t n)
{
    size_t len = strlen(path);
    if (len > 3 && !strcmp(path + len - 3, ".h5"))
        len -= 3;
    snprintf(buf, n, "%.*s.partial.h5", (int)len, path);
}

/* Remove PATH.tmp.PID files whose process no longer exists (a run killed with SIGKILL, or a
 * crash): nothing else will ever finish or remove them.  Best effort. */
static void remove_dead_tmp(const char *path)
{
    char dir[4096], full[8192];
    const char *base = strrchr(path, '/');
    size_t blen;
    DIR *d;
    struct dirent *de;
    base = base ? base + 1 : path;
    blen = strlen(base);
    dir_of(path, dir, sizeof dir);
    d = opendir(dir);
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        const char *p = de->d_name;
        char *end;
        long pid;
        struct stat st;
        if (strncmp(p, base, blen) || strncmp(p + blen, ".tmp.", 5))
            continue;
        p += blen + 5;
        if (*p < '1' || *p > '9')
            continue;
        errno = 0;
        pid = strtol(p, &end, 10);
        if (*end || errno || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to signal): its file */
        snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode))
            unlink(full);
    }
    closedir(d);
}

struct h5_file *h5_file_create(const char *path, struct err *e)
{
    struct h5_file *f;
    size_t n;
    int fd;

    h5_lib_init();
    if (h5_output_check(path, e))
        return NULL;
    remove_dead_tmp(path);
    f = calloc(1, sizeof *f);
    n = strlen(path) + 32;
    if (!f)
        goto oom;
    f->id = -1;
    f->summary = -1;
    f->chunk_rows = H5_CHUNK_ROWS_DEFAULT;
    f->deflate = H5_DEFLATE_DEFAULT;
    f->final_path = strdup(path);
    f->tmp_path = malloc(n);
    if (!f->final_path || !f->tmp_path)
        goto oom;
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    /* Create it ourselves first: O_EXCL never follows a planted link, and a failure has errno. */
    unlink(f->tmp_path);
    fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0 || close(fd) != 0 ||
        (f->id = H5Fcreate(f->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        err_set(e, ERR_IO, "%s: cannot create %s: %s", path, f->tmp_path,
                fd < 0 || errno ? strerror(errno) : "the HDF5 library refused it");
        if (fd >= 0)
            unlink(f->tmp_path);
        free(f->final_path);
        free(f->tmp_path);
        free(f);
        return NULL;
    }
    return f;
oom:
    err_set(e, ERR_NOMEM, "%s: out of memory", path);
    if (f) {
        free(f->final_path);
        free(f->tmp_path);
        free(f);
    }
    return NULL;
}

const char *h5_file_tmp_path(const struct h5_file *f) { return f->tmp_path; }

int h5_attr_str(struct h5_file *f, const char *name, const char *value, struct err *e)
{
    errno = 0;
    if (attr_write_str(f->id, name, value) < 0)
        return err_set(e, ERR_IO, "%s: cannot write root attribute '%s': %s", f->final_path,
                       name, why(errno));
    return 0;
}

int h5_attr_i64(struct h5_file *f, const char *name, int64_t value, struct err *e)
{
    errno = 0;
    if (attr_write_num(f->id, name, H5T_NATIVE_INT64, &value) < 0)
        return err_set(e, ERR_IO, "%s: cannot write root attribute '%s': %s", f->final_path,
                       name, why(errno));
    return 0;
}

int h5_attr_f64(struct h5_file *f, const char *name, double value, struct err *e)
{
    errno = 0;
    if (attr_write_num(f->id, name, H5T_NATIVE_DOUBLE, &value) < 0)
        return err_set(e, ERR_IO, "%s: cannot write root attribute '%s': %s", f->final_path,
                       name, why(errno));
    return 0;
}

static void table_free(struct h5_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->dsets && t->dsets[i] > 0)
            H5Dclose(t->dsets[i]);
        if (t->types && t->types[i] > 0 && t->cols[i].type == H5_COL_STR)
            H5Tclose(t->types[i]);
        if (t->bufs)
            free(t->bufs[i]);
    }
    if (t->dim > 0)
        H5Dclose(t->dim);
    if (t->group > 0)
        H5Gclose(t->group);
    free(t->dsets);
    free(t->types);
    free(t->bufs);
    free(t->elem);
    free(t);
}

int h5_file_set_layout(struct h5_file *f, size_t chunk_rows, int deflate, struct err *e)
{
    if (chunk_rows == 0 || deflate < 0 || deflate > 9)
        return err_set(e, ERR_RUNTIME,
                       "table layout: chunk rows %zu (needs >= 1), deflate %d (needs 0..9)",
                       chunk_rows, deflate);
    f->chunk_rows = chunk_rows;
    f->deflate = deflate;
    return 0;
}

/* netCDF-4's mark of a dimension without a coordinate variable, then the length in %10u. */
#define H5_NC_DIM_ONLY "This is a netCDF dimension but not a netCDF variable."

static int table_dim_name(struct h5_table *t, uint64_t rows)
{
    char name[96];
    snprintf(name, sizeof name, "%s%10llu", H5_NC_DIM_ONLY, (unsigned long long)rows);
    if (H5Aexists(t->dim, "NAME") > 0 && H5Adelete(t->dim, "NAME") < 0)
        return -1;
    return H5DSset_scale(t->dim, name) < 0 ? -1 : 0;
}

/* The table's one dimension, as netCDF-4 (and so xarray/h5netcdf) expects it: a dataset
 * H5_ROW_DIM marked as a dimension scale with no data of its own (its chunks are never written,
 * so it takes no space), attached to every column and grown with them. */
static int table_dim_create(struct h5_table *t, hid_t space, hid_t dcpl)
{
    t->dim = H5Dcreate2(t->group, H5_ROW_DIM, H5T_IEEE_F32BE, space, H5P_DEFAULT, dcpl,
                        H5P_DEFAULT);
    return t->dim < 0 ? -1 : table_dim_name(t, 0);
}

struct h5_table *h5_table_new(struct h5_file *f, const char *name, const struct h5_col *cols,
                              size_t ncols, struct err *e)
{
    struct h5_table *t = calloc(1, sizeof *t);
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1];
    hid_t space = -1, dcpl = -1;
    size_t chunk_rows = f->chunk_rows;
    int deflate = f->deflate;

    if (!t)
        goto oom;
    if (ncols == 0 || strlen(name) >= sizeof t->name) {
        err_set(e, ERR_RUNTIME, "table '%s': needs columns and a short name", name);
        free(t);
        return NULL;
    }
    t->file = f;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->cols = cols;
    t->ncols = ncols;
    t->chunk_rows = chunk_rows;
    t->group = -1;
    t->dim = -1;
    t->dsets = calloc(ncols, sizeof *t->dsets);
    t->types = calloc(ncols, sizeof *t->types);
    t->bufs = calloc(ncols, sizeof *t->bufs);
    t->elem = calloc(ncols, sizeof *t->elem);
    if (!t->dsets || !t->types || !t->bufs || !t->elem)
        goto oom;
    for (size_t i = 0; i < ncols; i++) {
        t->elem[i] = col_elem(&cols[i]);
        t->bufs[i] = malloc(chunk_rows * t->elem[i]);
        if (!t->bufs[i])
            goto oom;
    }
    t->group = H5Gcreate2(f->id, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (t->group < 0) {
        err_set(e, ERR_IO, "%s: cannot create table /%s", f->final_path, name);
        goto fail;
    }
    space = H5Screate_simple(1, dims, maxdims);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    chunk[0] = chunk_rows;
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, chunk) < 0 ||
        table_dim_create(t, space, dcpl) < 0) {
        err_set(e, ERR_IO, "%s: cannot create dimension /%s/%s", f->final_path, name, H5_ROW_DIM);
        goto fail;
    }
    if (deflate > 0 && (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)deflate) < 0)) {
        err_set(e, ERR_IO, "%s: cannot set up storage of table /%s", f->final_path, name);
        goto fail;
    }
    for (size_t i = 0; i < ncols; i++) {
        t->types[i] = col_type(&cols[i]);
        if (t->types[i] < 0)
            goto col_fail;
        {
            /* Columns are appended a chunk at a time and never read back: a cache of two chunks
             * is all they need (HDF5's default of 1 MiB per dataset adds up to ~100 MiB over a
             * run's hundred columns). */
            hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
            if (dapl >= 0)
                H5Pset_chunk_cache(dapl, 11, 2 * chunk_rows * t->elem[i], 1.0);
            t->dsets[i] = H5Dcreate2(t->group, cols[i].name, t->types[i], space, H5P_DEFAULT,
                                     dcpl, dapl >= 0 ? dapl : H5P_DEFAULT);
            if (dapl >= 0)
                H5Pclose(dapl);
        }
        if (t->dsets[i] < 0 || attr_write_str(t->dsets[i], "units", cols[i].units) < 0 ||
            attr_write_str(t->dsets[i], "description", cols[i].description) < 0 ||
            H5DSattach_scale(t->dsets[i], t->dim, 0) < 0)
            goto col_fail;
        continue;
    col_fail:
        err_set(e, ERR_IO, "%s: cannot create column /%s/%s", f->final_path, name,
                cols[i].name);
        goto fail;
    }
    H5Sclose(space);
    H5Pclose(dcpl);
    t->next = f->tables;
    f->tables = t;
    return t;
oom:
    err_set(e, ERR_NOMEM, "table '%s': out of memory", name);
fail:
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    table_free(t);
    return NULL;
}

int h5_table_flush(struct h5_table *t, struct err *e)
{
    hsize_t start[1], count[1], newsize[1];
    if (t->buffered == 0)
        return 0;
    start[0] = t->written;
    count[0] = t->buffered;
    newsize[0] = t->written + t->buffered;
    for (size_t i = 0; i < t->ncols; i++) {
        hid_t fspace = -1, mspace = -1;
        int ok, errnum;
        errno = 0;
        ok = H5Dset_extent(t->dsets[i], newsize) >= 0 &&
                 (fspace = H5Dget_space(t->dsets[i])) >= 0 &&
                 H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                 (mspace = H5Screate_simple(1, count, NULL)) >= 0 &&
                 H5Dwrite(t->dsets[i], t->types[i], mspace, fspace, H5P_DEFAULT, t->bufs[i]) >= 0;
        errnum = errno;
        if (mspace >= 0)
            H5Sclose(mspace);
        if (fspace >= 0)
            H5Sclose(fspace);
        if (!ok)
            return err_set(e, ERR_IO, "%s: cannot write column /%s/%s: %s",
                           t->file->final_path, t->name, t->cols[i].name, why(errnum));
    }
    if (H5Dset_extent(t->dim, newsize) < 0 || table_dim_name(t, newsize[0]) < 0)
        return err_set(e, ERR_IO, "%s: cannot grow dimension /%s/%s", t->file->final_path,
                       t->name, H5_ROW_DIM);
    t->written += t->buffered;
    t->buffered = 0;
    return 0;
}

int h5_table_append(struct h5_table *t, const void *row, struct err *e)
{
    const unsigned char *r = row;
    for (size_t i = 0; i < t->ncols; i++)
        memcpy(t->bufs[i] + t->buffered * t->elem[i], r + t->cols[i].offset, t->elem[i]);
    if (++t->buffered == t->chunk_rows)
        return h5_table_flush(t, e);
    return 0;
}

uint64_t h5_table_rows(const struct h5_table *t) { return t->written + t->buffered; }

static int summary_write(struct h5_file *f, const char *name, hid_t type, const void *value,
                         const char *units, struct err *e)
{
    hid_t space = -1, dset = -1;
    int ok, errnum;
    errno = 0;
    if (f->summary < 0) {
        f->summary = H5Gcreate2(f->id, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (f->summary < 0)
            return err_set(e, ERR_IO, "%s: cannot create /summary: %s", f->final_path,
                           why(errno));
    }
    space = H5Screate(H5S_SCALAR);
    ok = space >= 0 &&
         (dset = H5Dcreate2(f->summary, name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT)) >= 0 &&
         H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0 &&
         attr_write_str(dset, "units", units) >= 0;
    errnum = errno;
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return ok ? 0
              : err_set(e, ERR_IO, "%s: cannot write /summary/%s: %s", f->final_path, name,
                        why(errnum));
}

int h5_summary_f64(struct h5_file *f, const char *name, double value, const char *units,
                   struct err *e)
{
    return summary_write(f, name, H5T_NATIVE_DOUBLE, &value, units, e);
}

int h5_summary_i64(struct h5_file *f, const char *name, int64_t value, const char *units,
                   struct err *e)
{
    return summary_write(f, name, H5T_NATIVE_INT64, &value, units, e);
}

/* Close every table, /summary and the file; returns -1 when the final close fails (the last
 * buffered bytes could not be written). */
static int file_close_all(struct h5_file *f)
{
    int rc = 0;
    struct h5_table *t = f->tables;
    while (t) {
        struct h5_table *next = t->next;
        table_free(t);
        t = next;
    }
    f->tables = NULL;
    if (f->summary >= 0)
        H5Gclose(f->summary);
    f->summary = -1;
    if (f->id >= 0 && H5Fclose(f->id) < 0)
        rc = -1;
    f->id = -1;
    return rc;
}

static void file_free(struct h5_file *f)
{
    free(f->final_path);
    free(f->tmp_path);
    free(f);
}

/* Whether `path` holds something a partial run must not replace: anything but nothing or an
 * HDF5 file whose root attribute complete is 0. */
static int keep_existing(const char *path)
{
    struct stat st;
    hid_t id, a;
    int64_t complete = 1;
    if (lstat(path, &st) != 0)
        return 0;
    id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0)
        return 1;
    a = H5Aexists(id, "complete") > 0 ? H5Aopen(id, "complete", H5P_DEFAULT) : -1;
    if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &complete) < 0)
        complete = 1;
    if (a >= 0)
        H5Aclose(a);
    H5Fclose(id);
    return complete != 0;
}

static int file_commit(struct h5_file *f, int64_t complete, char *where, size_t where_n,
                       struct err *e)
{
    int rc = 0;
    int64_t one = complete;
    char partial[4096];
    const char *dest = f->final_path;
    for (struct h5_table *t = f->tables; t && !rc; t = t->next)
        rc = h5_table_flush(t, e);
    errno = 0;
    if (!rc && attr_write_num(f->id, "complete", H5T_NATIVE_INT64, &one) < 0)
        rc = err_set(e, ERR_IO, "%s: cannot mark the file complete: %s", f->final_path,
                     why(errno));
    errno = 0;
    if (!rc && H5Fflush(f->id, H5F_SCOPE_GLOBAL) < 0)
        rc = err_set(e, ERR_IO, "%s: cannot flush: %s", f->final_path, why(errno));
    /* Close before renaming so every byte is on disk under the temporary name. */
    errno = 0;
    if (file_close_all(f) < 0 && !rc)
        rc = err_set(e, ERR_IO, "%s: cannot close: %s", f->final_path, why(errno));
    if (!rc && !complete && keep_existing(f->final_path)) {
        h5_partial_path(f->final_path, partial, sizeof partial);
        dest = partial;
    }
    if (!rc && rename(f->tmp_path, dest) != 0)
        rc = err_set(e, ERR_IO, "%s: cannot rename %s to it: %s", dest, f->tmp_path,
                     strerror(errno));
    if (rc)
        unlink(f->tmp_path);
    else if (where)
        snprintf(where, where_n, "%s", dest);
    file_free(f);
    return rc;
}

int h5_file_commit(struct h5_file *f, struct err *e) { return file_commit(f, 1, NULL, 0, e); }

int h5_file_commit_partial(struct h5_file *f, char *where, size_t n, struct err *e)
{
    return file_commit(f, 0, where, n, e);
}

void h5_file_abort(struct h5_file *f)
{
    if (!f)
        return;
    file_close_all(f);
    unlink(f->tmp_path);
    file_free(f);
}

/* ---- Links and reading back ---- */

int h5_link_external(struct h5_file *f, const char *name, const char *target_file,
                     const char *target_obj, struct err *e)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    int ok = lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
             H5Lcreate_external(target_file, target_obj, f->id, name, lcpl, H5P_DEFAULT) >= 0;
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return ok ? 0
              : err_set(e, ERR_IO, "%s: cannot create link /%s to %s:%s", f->final_path, name,
                        target_file, target_obj);
}

struct h5_reader {
    hid_t id;
    char *path;
};

/* Why H5Fopen refused path, in words: no HDF5 signature at all, a file shorter than its
 * superblock's end-of-file address (truncated), or damage HDF5 does not explain further. */
static void sniff_failure(const char *path, char *why, size_t cap)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char sb[128];
    FILE *f = fopen(path, "rb");
    int64_t size, at = -1;
    snprintf(why, cap, "not a readable HDF5 file");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
        fclose(f);
        return;
    }
    /* The superblock sits at 0 or, after a user block, at 512, 1024, 2048... */
    for (int64_t off = 0; off + 8 <= size && off <= (INT64_C(1) << 40); off = off ? 2 * off : 512) {
        if (fseek(f, (long)off, SEEK_SET) != 0 || fread(sb, 1, 8, f) != 8)
            break;
        if (!memcmp(sb, sig, 8)) {
            at = off;
            break;
        }
    }
    if (at < 0) {
        snprintf(why, cap, "not an HDF5 file (no HDF5 signature)");
        fclose(f);
        return;
    }
    memset(sb, 0, sizeof sb);
    if (fseek(f, (long)at, SEEK_SET) == 0) {
        size_t got = fread(sb, 1, sizeof sb, f), eof_at, so = sb[8] <= 1 ? sb[13] : sb[9];
        uint64_t base = 0, eof = 0;
        eof_at = sb[8] == 0 ? 24 : sb[8] == 1 ? 28 : 12; /* base address offset by version */
        if (so >= 1 && so <= 8 && eof_at + 3 * so <= got) {
            for (size_t k = so; k-- > 0;) {
                base = base << 8 | sb[eof_at + k];
                eof = eof << 8 | sb[eof_at + 2 * so + k];
            }
            if (base < (UINT64_C(1) << 62) && eof < (UINT64_C(1) << 62) &&
                (uint64_t)size < base + eof) {
                snprintf(why, cap, "truncated HDF5 file (%lld bytes; its superblock says %llu)",
                         (long long)size, (unsigned long long)(base + eof));
                fclose(f);
                return;
            }
        }
    }
    snprintf(why, cap, "damaged HDF5 file (HDF5 cannot open it)");
    fclose(f);
}

struct h5_reader *h5_reader_open(const char *path, struct err *e)
{
    struct h5_reader *r;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, F_OK) != 0) {
        err_set(e, ERR_NOTFOUND, "%s: no such file", path);
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        err_set(e, ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    r->id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->id < 0) {
        char why[128];
        sniff_failure(path, why, sizeof why);
        err_set(e, ERR_FORMAT, "%s: %s", path, why);
        free(r->path);
        free(r);
        return NULL;
    }
    return r;
}

void h5_reader_close(struct h5_reader *r)
{
    if (!r)
        return;
    H5Fclose(r->id);
    free(r->path);
    free(r);
}

/* Open root attribute `name`; -1 with `e` filled when absent. */
static hid_t reader_attr(struct h5_reader *r, const char *name, struct err *e)
{
    hid_t a;
    if (H5Aexists(r->id, name) <= 0) {
        err_set(e, ERR_NOTFOUND, "%s: no attribute '%s'", r->path, name);
        return -1;
    }
    a = H5Aopen(r->id, name, H5P_DEFAULT);
    if (a < 0)
        err_set(e, ERR_FORMAT, "%s: cannot open attribute '%s'", r->path, name);
    return a;
}

static int reader_attr_num(struct h5_reader *r, const char *name, hid_t memtype, void *out,
                           struct err *e)
{
    hid_t a = reader_attr(r, name, e), t;
    int ok;
    if (a < 0)
        return e ? e->code : ERR_NOTFOUND;
    t = H5Aget_type(a);
    ok = t >= 0 && (H5Tget_class(t) == H5T_INTEGER || H5Tget_class(t) == H5T_FLOAT) &&
         H5Aread(a, memtype, out) >= 0;
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : err_set(e, ERR_FORMAT, "%s: attribute '%s' is not a number", r->path, name);
}

int h5_reader_attr_i64(struct h5_reader *r, const char *name, int64_t *out, struct err *e)
{
    return reader_attr_num(r, name, H5T_NATIVE_INT64, out, e);
}

int h5_reader_attr_f64(struct h5_reader *r, const char *name, double *out, struct err *e)
{
    return reader_attr_num(r, name, H5T_NATIVE_DOUBLE, out, e);
}

int h5_reader_attr_str(struct h5_reader *r, const char *name, char **out, struct err *e)
{
    hid_t a = reader_attr(r, name, e), ftype = -1, mtype = -1, space = -1;
    int rc = 0;
    *out = NULL;
    if (a < 0)
        return e ? e->code : ERR_NOTFOUND;
    ftype = H5Aget_type(a);
    space = H5Aget_space(a);
    if (ftype < 0 || space < 0 || H5Tget_class(ftype) != H5T_STRING ||
        H5Sget_simple_extent_npoints(space) != 1) {
        rc = err_set(e, ERR_FORMAT, "%s: attribute '%s' is not a string", r->path, name);
        goto out;
    }
    mtype = H5Tcopy(ftype);
    if (mtype < 0 || H5Tset_cset(mtype, H5T_CSET_UTF8) < 0) {
        rc = err_set(e, ERR_FORMAT, "%s: attribute '%s': bad string type", r->path, name);
        goto out;
    }
    if (H5Tis_variable_str(ftype) > 0) {
        char *v = NULL;
        if (H5Aread(a, mtype, &v) < 0) {
            rc = err_set(e, ERR_FORMAT, "%s: cannot read attribute '%s'", r->path, name);
            goto out;
        }
        *out = strdup(v ? v : "");
        if (v)
            H5free_memory(v);
    } else {
        size_t size = H5Tget_size(ftype);
        char *buf = calloc(1, size + 1);
        if (buf && H5Aread(a, mtype, buf) < 0) {
            free(buf);
            rc = err_set(e, ERR_FORMAT, "%s: cannot read attribute '%s'", r->path, name);
            goto out;
        }
        *out = buf;
    }
    if (!*out)
        rc = err_set(e, ERR_NOMEM, "%s: out of memory", r->path);
out:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return rc;
}

struct summary_iter {
    struct h5_scalar *v;
    size_t n, cap;
    int oom;
};

static herr_t summary_visit(hid_t group, const char *name, const H5L_info_t *info, void *vctx)
{
    struct summary_iter *it = vctx;
    hid_t d, t = -1, s = -1;
    struct h5_scalar sc;
    int ok = 0;
    (void)info;
    if (strlen(name) >= sizeof sc.name)
        return 0;
    d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0)
        return 0; /* a group or a dangling link: not a scalar */
    memset(&sc, 0, sizeof sc);
    strcpy(sc.name, name);
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    if (t >= 0 && s >= 0 && H5Sget_simple_extent_npoints(s) == 1) {
        if (H5Tget_class(t) == H5T_INTEGER) {
            sc.is_int = 1;
            ok = H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &sc.i) >= 0;
            sc.f = (double)sc.i;
        } else if (H5Tget_class(t) == H5T_FLOAT) {
            ok = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &sc.f) >= 0;
            sc.i = isfinite(sc.f) && fabs(sc.f) < 9.2e18 ? (int64_t)sc.f : 0;
        }
    }
    if (ok && H5Aexists(d, "units") > 0) {
        hid_t a = H5Aopen(d, "units", H5P_DEFAULT), at = a >= 0 ? H5Aget_type(a) : -1;
        if (at >= 0 && H5Tget_class(at) == H5T_STRING && H5Tis_variable_str(at) > 0) {
            char *u = NULL;
            if (H5Aread(a, at, &u) >= 0 && u) {
                snprintf(sc.units, sizeof sc.units, "%s", u);
                H5free_memory(u);
            }
        }
        if (at >= 0)
            H5Tclose(at);
        if (a >= 0)
            H5Aclose(a);
    }
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    H5Dclose(d);
    if (!ok)
        return 0;
    if (grow_array(&it->v, &it->cap, it->n + 1, sizeof *it->v)) {
        it->oom = 1;
        return -1;
    }
    it->v[it->n++] = sc;
    return 0;
}

int h5_reader_summary(struct h5_reader *r, struct h5_scalar **out, size_t *n, struct err *e)
{
    struct summary_iter it = {0};
    hid_t g;
    hsize_t idx = 0;
    *out = NULL;
    *n = 0;
    if (H5Lexists(r->id, "summary", H5P_DEFAULT) <= 0)
        return 0;
    g = H5Gopen2(r->id, "summary", H5P_DEFAULT);
    if (g < 0)
        return err_set(e, ERR_FORMAT, "%s: /summary is not a group", r->path);
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, summary_visit, &it) < 0) {
        H5Gclose(g);
        free(it.v);
        return it.oom ? err_set(e, ERR_NOMEM, "%s: out of memory", r->path)
                      : err_set(e, ERR_FORMAT, "%s: cannot list /summary", r->path);
    }
    H5Gclose(g);
    *out = it.v;
    *n = it.n;
    return 0;
}

int64_t h5_reader_file_size(const struct h5_reader *r)
{
    hsize_t size = 0;
    if (H5Fget_filesize(r->id, &size) < 0 || size > (hsize_t)INT64_MAX)
        return -1;
    return (int64_t)size;
}

/* Every stored chunk of d lies inside the file (HDF5 allocates a chunk's stored size, read from
 * its index, before reading it: a damaged index can claim gigabytes), and an unfiltered chunk
 * stores exactly chunk_bytes (libhdf5 1.10 copies a whole chunk out of a buffer of the stored
 * size: a shorter one is read past its end). */
static int chunks_in_file(const struct h5_reader *r, hid_t d, hid_t space, hid_t dcpl,
                          hsize_t chunk_bytes)
{
    const int64_t size = h5_reader_file_size(r);
    const int nfilters = H5Pget_nfilters(dcpl);
    hsize_t n = 0;
    if (size < 0 || nfilters < 0 || H5Dget_num_chunks(d, space, &n) < 0)
        return 0;
    for (hsize_t k = 0; k < n; k++) {
        hsize_t off[1], csize = 0;
        haddr_t addr = 0;
        unsigned mask = 0;
        if (H5Dget_chunk_info(d, space, k, off, &mask, &addr, &csize) < 0 ||
            addr == HADDR_UNDEF || csize > (hsize_t)size || addr > (haddr_t)size - csize)
            return 0;
        if ((nfilters == 0 || (mask & ((1u << nfilters) - 1)) == ((1u << nfilters) - 1)) &&
            csize != chunk_bytes)
            return 0;
    }
    return 1;
}

int h5_reader_column(struct h5_reader *r, const char *table, const char *column,
                     enum h5_type type, size_t str_size, size_t max_bytes, void **out, size_t *n,
                     struct err *e)
{
    hid_t g = -1, d = -1, ft = -1, space = -1, mt = -1;
    hsize_t dims[1] = {0};
    size_t elem;
    H5T_class_t cls;
    int rc = 0, own_mt = 0;
    *out = NULL;
    *n = 0;
    if (H5Lexists(r->id, table, H5P_DEFAULT) <= 0)
        return err_set(e, ERR_NOTFOUND, "%s: no table /%s", r->path, table);
    if ((g = H5Gopen2(r->id, table, H5P_DEFAULT)) < 0)
        return err_set(e, ERR_FORMAT, "%s: /%s is not a table (group)", r->path, table);
    if (H5Lexists(g, column, H5P_DEFAULT) <= 0) {
        rc = err_set(e, ERR_NOTFOUND, "%s: table /%s has no column '%s'", r->path, table, column);
        goto out;
    }
    if ((d = H5Dopen2(g, column, H5P_DEFAULT)) < 0 || (ft = H5Dget_type(d)) < 0 ||
        (space = H5Dget_space(d)) < 0) {
        rc = err_set(e, ERR_FORMAT, "%s: /%s/%s is not a readable dataset", r->path, table, column);
        goto out;
    }
    if (H5Sget_simple_extent_ndims(space) != 1 || H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
        rc = err_set(e, ERR_FORMAT, "%s: /%s/%s is not a 1-D column", r->path, table, column);
        goto out;
    }
    cls = H5Tget_class(ft);
    switch (type) {
    case H5_COL_I64: mt = H5T_NATIVE_INT64; elem = 8; break;
    case H5_COL_U64: mt = H5T_NATIVE_UINT64; elem = 8; break;
    case H5_COL_F64: mt = H5T_NATIVE_DOUBLE; elem = 8; break;
    case H5_COL_STR: elem = str_size; break;
    default:
        rc = err_set(e, ERR_FORMAT, "%s: /%s/%s: unsupported column type", r->path, table, column);
        goto out;
    }
    if (type == H5_COL_STR ? (cls != H5T_STRING || H5Tis_variable_str(ft) != 0 || str_size < 2)
                           : (cls != H5T_INTEGER && cls != H5T_FLOAT)) {
        rc = err_set(e, ERR_FORMAT, "%s: /%s/%s is not a %s column", r->path, table, column,
                     type == H5_COL_STR ? "fixed-length string" : "numeric");
        goto out;
    }
    /* HDF5 allocates a whole chunk, and elements of the file's own size, whatever the extent:
     * a damaged file can declare gigabytes of either, so bound them before reading. */
    {
        const size_t fsize = H5Tget_size(ft);
        hid_t dcpl = H5Dget_create_plist(d);
        hsize_t chunk[1] = {0};
        int bad = fsize == 0 || fsize > ((size_t)1 << 16) || dcpl < 0;
        if (!bad && H5Pget_layout(dcpl) == H5D_CHUNKED)
            bad = H5Pget_chunk(dcpl, 1, chunk) != 1 || chunk[0] == 0 ||
                  chunk[0] > (hsize_t)(max_bytes / (fsize > elem ? fsize : elem)) ||
                  !chunks_in_file(r, d, space, dcpl, chunk[0] * fsize);
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (bad) {
            rc = err_set(e, ERR_FORMAT, "%s: /%s/%s: implausible element or chunk size", r->path,
                         table, column);
            goto out;
        }
        if (dims[0] > (hsize_t)(max_bytes / (fsize > elem ? fsize : elem))) {
            rc = err_set(e, ERR_FORMAT, "%s: /%s/%s claims %llu rows, more than the file can hold",
                         r->path, table, column, (unsigned long long)dims[0]);
            goto out;
        }
    }
    if (dims[0] > (hsize_t)(max_bytes / elem)) {
        rc = err_set(e, ERR_FORMAT, "%s: /%s/%s claims %llu rows, more than the file can hold",
                     r->path, table, column, (unsigned long long)dims[0]);
        goto out;
    }
    if (type == H5_COL_STR) {
        if ((mt = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mt, str_size) < 0 ||
            H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0) {
            rc = err_set(e, ERR_FORMAT, "%s: /%s/%s: string type", r->path, table, column);
            goto out;
        }
        own_mt = 1;
    }
    if (!(*out = calloc((size_t)dims[0] + 1, elem))) {
        rc = err_set(e, ERR_NOMEM, "%s: out of memory for /%s/%s", r->path, table, column);
        goto out;
    }
    if (dims[0] > 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        free(*out);
        *out = NULL;
        rc = err_set(e, ERR_FORMAT, "%s: cannot read /%s/%s", r->path, table, column);
        goto out;
    }
    if (type == H5_COL_STR)
        for (size_t i = 0; i < (size_t)dims[0]; i++)
            ((char *)*out)[i * str_size + str_size - 1] = '\0';
    *n = (size_t)dims[0];
out:
    if (own_mt)
        H5Tclose(mt);
    if (space >= 0)
        H5Sclose(space);
    if (ft >= 0)
        H5Tclose(ft);
    if (d >= 0)
        H5Dclose(d);
    H5Gclose(g);
    return rc;
}
