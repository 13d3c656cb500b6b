/*
 * h5 — the one HDF5 writer every table in setm goes through.
 *
 * Layout (DESIGN.md): a table is a group whose members are equal-length 1-D column datasets,
 * chunked and deflate-compressed, each with `units` and `description` attributes; the file's root
 * carries run attributes; `/summary` holds scalar datasets.  Rows are appended in batches: each
 * table buffers a chunk of rows per column in memory and writes it as one hyperslab, so
 * appending a row is a copy, not an HDF5 call.  Chunk rows and deflate level are the file's
 * (h5_file_set_layout), set once by whoever configures the output.
 *
 * A file is written under a temporary name beside the final one ("OUT.h5.tmp.PID") and renamed
 * only by h5_file_commit(), so the final name only ever holds a complete file -- or a partial
 * one (complete = 0) where no finished file stood (h5_file_commit_partial).  Only a regular file
 * is ever replaced.
 *
 * Ownership: h5_file_create() returns a file that owns its tables; h5_file_commit() and
 * h5_file_abort() release everything, including the tables, whatever they return.
 */
#ifndef SETM_IO_H5_H
#define SETM_IO_H5_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum h5_type {
    H5_COL_I32, /* int32_t */
    H5_COL_U32, /* uint32_t */
    H5_COL_I64, /* int64_t */
    H5_COL_U64, /* uint64_t */
    H5_COL_F64, /* double */
    H5_COL_U8,  /* uint8_t */
    H5_COL_STR  /* char[size], NUL-padded fixed-length string */
};

/* Every table group also holds this netCDF-4 dimension scale (no data, grown with the rows) and
 * each column is attached to it, so netCDF readers (xarray with h5netcdf) open a table as is.
 * Readers that list columns skip it: its CLASS attribute is "DIMENSION_SCALE". */
#define H5_ROW_DIM "row"

/* One column: where its value sits in the caller's row struct, and what it means. */
struct h5_col {
    const char *name;
    enum h5_type type;
    size_t offset;           /* offsetof(row struct, field) */
    size_t size;             /* H5_COL_STR: bytes of the char array; ignored otherwise */
    const char *units;       /* "" when unitless */
    const char *description; /* one line for readers of the file */
};

struct h5_file;
struct h5_table;

/* Prepare the HDF5 library for this process: no automatic error printing, and no HDF5 atexit
 * handler (HDF5 1.10 crashes at exit re-closing a file whose close failed, e.g. on a full
 * disk; the OS reclaims everything anyway).  Call first thing in main(); later calls are
 * harmless. */
void h5_lib_init(void);

/* Whether `path` may be an output: not empty, not ending in '/', not an existing directory,
 * link, FIFO or device (ERR_USAGE), in an existing directory this process may write in (ERR_IO,
 * with the system's reason).  Call before any work; h5_file_create() calls it too.  0 or error. */
int h5_output_check(const char *path, struct err *e);

/* Where a partial run of `path` goes when a finished file already holds that name:
 * "OUT.partial.h5" for "OUT.h5" (else path + ".partial.h5"). */
void h5_partial_path(const char *path, char *buf, size_t n);

/* Create `path` (via a temporary name, after h5_output_check() and removing PATH.tmp.PID files
 * of processes that no longer exist).  Returns NULL and fills `e` (ERR_USAGE, ERR_IO) on
 * failure.  Tables get H5_CHUNK_ROWS_DEFAULT rows per chunk and deflate level
 * H5_DEFLATE_DEFAULT until h5_file_set_layout says otherwise. */
struct h5_file *h5_file_create(const char *path, struct err *e);

#define H5_CHUNK_ROWS_DEFAULT 4096
#define H5_DEFLATE_DEFAULT 4

/* Rows per chunk (>= 1: also the rows a table buffers before writing) and deflate level (0..9,
 * 0 none) of the tables created on `f` from now on; set once, where the output is configured.
 * 0 or ERR_RUNTIME for a value out of range (the layout is then unchanged). */
int h5_file_set_layout(struct h5_file *f, size_t chunk_rows, int deflate, struct err *e);

/* Root attributes.  0 or ERR_IO. */
int h5_attr_str(struct h5_file *f, const char *name, const char *value, struct err *e);
int h5_attr_i64(struct h5_file *f, const char *name, int64_t value, struct err *e);
int h5_attr_f64(struct h5_file *f, const char *name, double value, struct err *e);

/* Create table `name` (a group under the root, e.g. "slots") with the given columns, chunked and
 * compressed as the file's layout says (h5_file_set_layout); the column array must outlive the
 * table (use a static table).  Returns the table (owned by `f`) or NULL with `e` filled. */
struct h5_table *h5_table_new(struct h5_file *f, const char *name, const struct h5_col *cols,
                              size_t ncols, struct err *e);

/* Append one row read from `row` per the column offsets.  Writes a batch when the buffer is
 * full.  0 or ERR_IO. */
int h5_table_append(struct h5_table *t, const void *row, struct err *e);

/* Write buffered rows now.  0 or ERR_IO. */
int h5_table_flush(struct h5_table *t, struct err *e);

/* Rows appended so far (written or buffered). */
uint64_t h5_table_rows(const struct h5_table *t);

/* Scalar datasets under /summary, with a units attribute.  0 or ERR_IO. */
int h5_summary_f64(struct h5_file *f, const char *name, double value, const char *units,
                   struct err *e);
int h5_summary_i64(struct h5_file *f, const char *name, int64_t value, const char *units,
                   struct err *e);

/* Flush every table, set root attribute complete = 1, close, and rename the temporary file to
 * its final name.  On failure the temporary file is removed.  Frees `f` in all cases.
 * 0 or ERR_IO. */
int h5_file_commit(struct h5_file *f, struct err *e);

/* Same, but for a run stopped early: everything written so far is flushed and the file renamed,
 * with root attribute complete = 0 so no reader mistakes it for a finished run.  It never
 * replaces a finished file: when the final name holds anything but an earlier partial file, it
 * goes to h5_partial_path() instead.  The name used goes to where[n] (may be NULL).  0 or
 * ERR_IO. */
int h5_file_commit_partial(struct h5_file *f, char *where, size_t n, struct err *e);

/* Close and remove the temporary file; the final name is untouched.  Frees `f`; NULL is a no-op. */
void h5_file_abort(struct h5_file *f);

/* Path of the temporary file being written (for messages and tests). */
const char *h5_file_tmp_path(const struct h5_file *f);

/* ---- Links and reading back (sweeps: sim/cli/cmd_sweep.c) ---- */

/* Create an HDF5 external link at `name` (a path under the root such as "runs/run-0007";
 * missing intermediate groups are created) to object `target_obj` of file `target_file`.  A
 * relative `target_file` is found by readers beside the file holding the link (HDF5's default
 * lookup; h5py follows it).  The target need not exist.  0 or ERR_IO. */
int h5_link_external(struct h5_file *f, const char *name, const char *target_file,
                     const char *target_obj, struct err *e);

/* A file opened read-only. */
struct h5_reader;

/* Open `path` for reading.  NULL with `e` filled: ERR_NOTFOUND when there is no such file,
 * ERR_FORMAT when it is not a readable HDF5 file, ERR_NOMEM. */
struct h5_reader *h5_reader_open(const char *path, struct err *e);

/* Close; NULL is a no-op. */
void h5_reader_close(struct h5_reader *r);

/* Root attribute `name` converted to the asked type.  0; ERR_NOTFOUND when absent; ERR_FORMAT
 * when it cannot be converted (a string read as a number or the reverse). */
int h5_reader_attr_i64(struct h5_reader *r, const char *name, int64_t *out, struct err *e);
int h5_reader_attr_f64(struct h5_reader *r, const char *name, double *out, struct err *e);

/* String root attribute (variable or fixed length) as a new heap string the caller frees. */
int h5_reader_attr_str(struct h5_reader *r, const char *name, char **out, struct err *e);

/* One scalar of /summary. */
struct h5_scalar {
    char name[64];  /* dataset name under /summary */
    char units[32]; /* its units attribute ("" when none) */
    int is_int;     /* stored as an integer type (then `i` is exact) */
    int64_t i;      /* value as an integer (truncated when stored as a float) */
    double f;       /* value as a double */
};

/* Every scalar dataset under /summary, in name order, as a new array (*out, caller frees) of *n
 * entries; none (and *out NULL) when the file has no /summary.  Datasets that are not numeric
 * scalars are skipped.  0, ERR_FORMAT, ERR_NOMEM. */
int h5_reader_summary(struct h5_reader *r, struct h5_scalar **out, size_t *n, struct err *e);

/* One column of a table read back whole: `n` values converted to the asked type (H5_COL_I64,
 * H5_COL_U64 or H5_COL_F64 from any integer or float column; H5_COL_STR from a fixed-length
 * string column, each value NUL-terminated in `str_size` bytes, longer stored values cut).
 * *out is a new array of n elements (n * str_size bytes for strings) the caller frees; it is
 * never NULL on success, even for n = 0.  `max_bytes` bounds what is allocated: a column that
 * would need more is refused (a damaged file can claim any length).  0; ERR_NOTFOUND when the
 * table or the column is missing; ERR_FORMAT when it is not a 1-D dataset of a convertible type,
 * too large, or cannot be read; ERR_NOMEM. */
int h5_reader_column(struct h5_reader *r, const char *table, const char *column,
                     enum h5_type type, size_t str_size, size_t max_bytes, void **out, size_t *n,
                     struct err *e);

/* Size in bytes of the file behind r (for bounds such as max_bytes above); -1 when unknown. */
int64_t h5_reader_file_size(const struct h5_reader *r);

#endif
