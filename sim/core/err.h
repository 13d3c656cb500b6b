/*
 * err — the one list of error codes in setm, and the error record that carries details.
 *
 * Contract: a fallible function returns 0 or a negative ERR_* code and, when it fails and the
 * caller passed a non-NULL `struct err *`, fills it with the code and a message naming what and
 * where (file, line, key, block height...). Library code never prints; the CLI prints `msg` and
 * picks the exit code with err_exit_code().
 */
#ifndef SETM_CORE_ERR_H
#define SETM_CORE_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,       /* allocation failed */
    ERR_IO = -2,          /* a file could not be read, written or renamed */
    ERR_CONFIG = -3,      /* a scenario/config file or --set value is wrong */
    ERR_USAGE = -4,       /* a command-line flag or argument is wrong */
    ERR_FORMAT = -5,      /* an input file (HDF5, CSV, hex) is malformed */
    ERR_NOTFOUND = -6,    /* a named thing (file, device, table) does not exist */
    ERR_DEVICE = -7,      /* a compute device or backend is unusable */
    ERR_RUNTIME = -8,     /* the simulation hit a condition it cannot continue from */
    ERR_INTERRUPTED = -9, /* stopped by a signal or a request to stop */
    ERR_VERIFY = -10,     /* a check of stored results failed */
    ERR_NOSOLUTION = -11  /* a search finished without finding what it looked for */
};

#define ERR_MSG_MAX 512

/* Details of the first failure. Caller-owned; zero-initialise or err_clear() before use. */
struct err {
    int code;              /* ERR_* (0 when no error recorded) */
    char msg[ERR_MSG_MAX]; /* human-readable: "what: where: why" */
};

/* Record `code` and a printf-style message in `e` (ignored when e is NULL). Returns `code`,
 * so callers can write `return err_set(e, ERR_CONFIG, "...")`. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the message already in `e` with printf-style context ("loading x.ini: " + old msg).
 * Returns e->code (or `code_if_empty` when e is NULL or holds no error). */
int err_wrap(struct err *e, int code_if_empty, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void err_clear(struct err *e);

/* Symbolic name ("ERR_CONFIG") and short description of a code; never NULL. */
const char *err_name(int code);
const char *err_text(int code);

/* Process exit code for a failure: 2 for bad input (config, usage, format, not found,
 * unusable requested device), 1 for anything else, 0 for ERR_OK. */
int err_exit_code(int code);

/* The code for a file that fopen/open could not open, from its errno: ERR_NOTFOUND when it is
 * not there (ENOENT, ENOTDIR), user_code when the name is the user's to fix (EACCES, EPERM,
 * ELOOP, ENAMETOOLONG, EISDIR: exit 2), ERR_IO when the system itself failed (out of
 * descriptors or memory, an I/O error). */
int err_open_code(int errnum, int user_code);

#endif
