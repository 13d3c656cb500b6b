/* csvprof — strict reader of one-column CSV profiles.  Every value that reaches the model is
 * finite, >= 0 and <= PROF_CSV_MAX_KWH, and the array always holds a whole day or more, so the
 * forecast history (which reads the first day, slot by slot) never reads past it. */
#include "csvprof.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LINE_MAX_CHARS 254

int prof_csv_load(const char *path, int64_t n_slots, int64_t slots_per_day, double **out,
                  struct err *e)
{
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    double *v = NULL;
    int64_t n = 0, need = n_slots > slots_per_day ? n_slots : slots_per_day;
    long lineno = 0;
    int rc = 0;
    struct stat st;

    *out = NULL;
    f = fopen(path, "r");
    if (!f)
        return err_set(e, err_open_code(errno, ERR_FORMAT), "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = err_set(e, ERR_FORMAT, "%s: not a regular file (a CSV profile is a text file)", path);
        goto out;
    }
    v = malloc((size_t)(need > 0 ? need : 1) * sizeof *v);
    if (!v) {
        rc = err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        char *s = line, *end;
        size_t len = (size_t)got;
        double x;
        lineno++;
        if (memchr(line, '\0', len)) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: contains a NUL byte; not a text file", path,
                         lineno);
            goto out;
        }
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > LINE_MAX_CHARS) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: line longer than %d characters", path, lineno,
                         LINE_MAX_CHARS);
            goto out;
        }
        /* Spreadsheets write a UTF-8 byte-order mark at the start of the file. */
        if (lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
            s += 3;
        while (isspace((unsigned char)*s))
            s++;
        len = strlen(s);
        while (len && isspace((unsigned char)s[len - 1]))
            s[--len] = '\0';
        if (!*s || *s == '#')
            continue;
        if (lineno == 1 && isalpha((unsigned char)*s))
            continue; /* header */
        errno = 0;
        x = strtod(s, &end);
        /* ERANGE on underflow (1e-320) still yields the nearest value, 0 or subnormal: keep it;
         * on overflow it yields HUGE_VAL, refused below. */
        if (end == s || *end || !isfinite(x) || (errno == ERANGE && fabs(x) > DBL_MIN)) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: '%s' is not a number (one kWh value per line)",
                         path, lineno, s);
            goto out;
        }
        if (x < 0) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: %g kWh is negative", path, lineno, x);
            goto out;
        }
        if (x > PROF_CSV_MAX_KWH) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: %g kWh is out of range (accepted: 0 to %g kWh "
                                        "per slot)",
                         path, lineno, x, PROF_CSV_MAX_KWH);
            goto out;
        }
        if (n >= need) {
            rc = err_set(e, ERR_FORMAT,
                         "%s: more than the %lld values the run needs (one per slot)", path,
                         (long long)need);
            goto out;
        }
        v[n++] = x;
    }
    if (ferror(f)) {
        rc = err_set(e, ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (n != need) {
        if (n_slots < slots_per_day)
            rc = err_set(e, ERR_FORMAT,
                         "%s: %lld values, but a profile must cover at least one whole day "
                         "(%lld slots; the forecast history repeats the first day) even when the "
                         "run has only %lld slots",
                         path, (long long)n, (long long)slots_per_day, (long long)n_slots);
        else
            rc = err_set(e, ERR_FORMAT,
                         "%s: %lld values, but the run has %lld slots (one per slot)", path,
                         (long long)n, (long long)n_slots);
        goto out;
    }
    *out = v;
    v = NULL;
out:
    free(line);
    free(v);
    fclose(f);
    return rc;
}
