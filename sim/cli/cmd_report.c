/*
 * cmd_report — `setm report RUN.h5|SWEEP_DIR [-o FILE.html]`: one self-contained HTML page of a
 * run or a sweep (scenario, summary, `setm verify` result, every figure).
 *
 * The page is drawn by the analysis package's renderer (analysis/setm_report.py) in the
 * project's Python environment: this command replaces itself with that interpreter
 * (cli_python_exec: $SETM_PYTHON, else the .venv that `make venv` makes in the source tree),
 * handing over this binary's own path so the renderer runs `setm verify` with the same build.  Invariant:
 * nothing is read or written here; a missing interpreter is exit 2 naming the fix.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *report_usage =
    "usage: setm report RUN.h5|SWEEP_DIR [-o FILE.html]\n"
    "  writes RUN.html beside a run file (DIR/report.html for a sweep folder): scenario,\n"
    "  summary, setm verify result and every figure, readable offline in any browser.\n"
    "  Python: $SETM_PYTHON, else " SETM_SOURCE_DIR "/.venv/bin/python (make venv)\n";

int cli_report(int argc, char **argv)
{
    char self[PATH_MAX];
    char **args;
    int k = 0, rc;

    if (argc < 2)
        return cli_usage_error("report", report_usage, "name a run file or a sweep folder");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(report_usage, stdout);
        return 0;
    }
    cli_self_path(argv[0], self, sizeof self);
    args = calloc((size_t)argc + 5, sizeof *args);
    if (!args) {
        fprintf(stderr, "setm report: out of memory\n");
        return 1;
    }
    args[k++] = "-m";
    args[k++] = "setm_report";
    args[k++] = "--setm";
    args[k++] = self;
    for (int i = 1; i < argc; i++)
        args[k++] = argv[i];
    rc = cli_python_exec("report", NULL, args);
    free(args);
    return rc;
}
