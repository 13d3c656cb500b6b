/*
 * csvprof — per-slot energy profiles read from CSV, in place of a generation or load model.
 *
 * Format: one value per line, kWh in that slot, >= 0; an optional first line starting with a
 * letter is a header; blank lines and lines starting with '#' are skipped.  The file must hold
 * exactly as many values as the run has slots, so a profile never silently wraps or truncates.
 */
#ifndef SETM_GRID_CSVPROF_H
#define SETM_GRID_CSVPROF_H

#include <stdint.h>

#include "core/err.h"

/* Read `path` expecting `n_slots` values into a new array (*out, caller frees).  0;
 * ERR_NOTFOUND when the file is missing; ERR_FORMAT for a non-numeric or negative value (naming
 * file and line) or the wrong number of values (naming both counts); ERR_NOMEM. */
int prof_csv_load(const char *path, int64_t n_slots, double **out, struct err *e);

#endif
