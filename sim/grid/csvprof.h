/*
 * csvprof — per-slot energy profiles read from CSV, in place of a generation or load model.
 *
 * Format: one value per line, kWh in that slot, in [0, PROF_CSV_MAX_KWH]; a UTF-8 byte-order mark
 * at the start is skipped; an optional first line starting with a letter is a header; blank lines
 * and lines starting with '#' are skipped.  The file must hold exactly as many values as the run
 * has slots, so a profile never silently wraps or truncates; a run shorter than a day still needs
 * one whole day (the forecast history before day 0 repeats the profile's first day), and uses
 * its first slots.
 */
#ifndef SETM_GRID_CSVPROF_H
#define SETM_GRID_CSVPROF_H

#include <stdint.h>

#include "core/err.h"

/* Largest value of one slot, kWh: the bound of load_kwh_day, so sums over a long run stay finite. */
#define PROF_CSV_MAX_KWH 1e7

/* Read `path` expecting max(n_slots, slots_per_day) values into a new array (*out, caller
 * frees).  0; ERR_NOTFOUND when the file is missing; ERR_FORMAT when it cannot be read as the
 * user's input (no permission, a directory), for a non-numeric, negative or too large value or a
 * NUL byte (naming file and line) or the wrong number of values (naming both counts); ERR_IO for
 * a read failure of the system; ERR_NOMEM. */
int prof_csv_load(const char *path, int64_t n_slots, int64_t slots_per_day, double **out,
                  struct err *e);

#endif
