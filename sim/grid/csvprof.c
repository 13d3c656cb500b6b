/* csvprof — strict reader of one-column CSV profiles. */
#include "csvprof.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prof_csv_load(const char *path, int64_t n_slots, double **out, struct err *e)
{
    FILE *f = fopen(path, "r");
    char line[256];
    double *v = NULL;
    int64_t n = 0;
    long lineno = 0;
    int rc = 0;

    *out = NULL;
    if (!f)
        return err_set(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    v = malloc((size_t)(n_slots > 0 ? n_slots : 1) * sizeof *v);
    if (!v) {
        rc = err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        char *s = line, *end;
        size_t len;
        double x;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: line longer than %zu characters", path, lineno,
                         sizeof line - 2);
            goto out;
        }
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
        if (end == s || *end || errno == ERANGE || !isfinite(x)) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: '%s' is not a number (one kWh value per line)",
                         path, lineno, s);
            goto out;
        }
        if (x < 0) {
            rc = err_set(e, ERR_FORMAT, "%s:%ld: %g kWh is negative", path, lineno, x);
            goto out;
        }
        if (n >= n_slots) {
            rc = err_set(e, ERR_FORMAT,
                         "%s: more than the %lld values the run needs (one per slot)", path,
                         (long long)n_slots);
            goto out;
        }
        v[n++] = x;
    }
    if (ferror(f)) {
        rc = err_set(e, ERR_IO, "%s: read error", path);
        goto out;
    }
    if (n != n_slots) {
        rc = err_set(e, ERR_FORMAT, "%s: %lld values, but the run has %lld slots (one per slot)",
                     path, (long long)n, (long long)n_slots);
        goto out;
    }
    *out = v;
    v = NULL;
out:
    free(v);
    fclose(f);
    return rc;
}
