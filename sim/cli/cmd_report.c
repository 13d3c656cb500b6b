/*
 * cmd_report — `setm report RUN.h5|SWEEP_DIR [-o FILE.html]`: one self-contained HTML page of a
 * run or a sweep (scenario, summary, `setm verify` result, every figure).
 *
 * The page is drawn by the analysis package's renderer (analysis/setm_report.py) in the
 * project's Python environment: this command finds that interpreter ($SETM_PYTHON, else the
 * .venv that `make venv` makes in the source tree) and replaces itself with it, handing over
 * this binary's own path so the renderer runs `setm verify` with the same build.  Invariant:
 * nothing is read or written here; a missing interpreter is exit 2 naming the fix.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char *report_usage =
    "usage: setm report RUN.h5|SWEEP_DIR [-o FILE.html]\n"
    "  writes RUN.html beside a run file (DIR/report.html for a sweep folder): scenario,\n"
    "  summary, setm verify result and every figure, readable offline in any browser.\n"
    "  Python: $SETM_PYTHON, else " SETM_SOURCE_DIR "/.venv/bin/python (make venv)\n";

int cli_report(int argc, char **argv)
{
    char python[PATH_MAX], self[PATH_MAX], pypath[PATH_MAX + 64];
    const char *env = getenv("SETM_PYTHON");
    const char *old = getenv("PYTHONPATH");
    ssize_t n;

    if (argc < 2)
        return cli_usage_error("report", report_usage, "name a run file or a sweep folder");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(report_usage, stdout);
        return 0;
    }
    snprintf(python, sizeof python, "%s", env && *env ? env : SETM_SOURCE_DIR "/.venv/bin/python");
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "setm report: no Python environment at %s (%s): run `make venv` in %s "
                        "(or set SETM_PYTHON to a python with analysis/requirements.txt)\n",
                python, strerror(errno), SETM_SOURCE_DIR);
        return 2;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        snprintf(self, sizeof self, "%s", argv[0]);
    else
        self[n] = '\0';
    /* The renderer's modules, even for an interpreter that has not installed the package. */
    snprintf(pypath, sizeof pypath, "%s/analysis%s%s", SETM_SOURCE_DIR, old && *old ? ":" : "",
             old ? old : "");
    setenv("PYTHONPATH", pypath, 1);
    setenv("MPLBACKEND", "Agg", 0);
    {
        char **args = calloc((size_t)argc + 6, sizeof *args);
        int k = 0;
        if (!args) {
            fprintf(stderr, "setm report: out of memory\n");
            return 1;
        }
        args[k++] = python;
        args[k++] = "-m";
        args[k++] = "setm_report";
        args[k++] = "--setm";
        args[k++] = self;
        for (int i = 1; i < argc; i++)
            args[k++] = argv[i];
        args[k] = NULL;
        fflush(NULL);
        execv(python, args);
        fprintf(stderr, "setm report: cannot start %s: %s\n", python, strerror(errno));
        free(args);
        return 1;
    }
}
