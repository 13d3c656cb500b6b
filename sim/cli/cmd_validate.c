/*
 * cmd_validate — `setm validate [--quick] [-o DIR] [--only CHECK]...`: runs the validation suite,
 * analysis/validate.py (Python: numpy, scipy, h5py, matplotlib), with this binary as the
 * simulator.  The script is found under $SETM_HOME, else the source tree setm was built from;
 * this command only locates it and replaces itself with the project's Python (cli_python_exec:
 * $PYTHON, else $SETM_PYTHON, else the source tree's .venv); its exit code is the suite's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

static int find_script(char *out, size_t n)
{
    const char *home = getenv("SETM_HOME");
    if (home && *home) {
        snprintf(out, n, "%s/analysis/validate.py", home);
        if (access(out, R_OK) == 0)
            return 0;
    }
#ifdef SETM_SOURCE_DIR
    snprintf(out, n, "%s/analysis/validate.py", SETM_SOURCE_DIR);
    if (access(out, R_OK) == 0)
        return 0;
#endif
    return -1;
}

int cli_validate(int argc, char **argv)
{
    char script[4096], self[4096];
    char **args;
    int rc;

    if (find_script(script, sizeof script)) {
        fprintf(stderr, "setm validate: analysis/validate.py not found under $SETM_HOME or the "
                        "source tree: set SETM_HOME to the setm source folder\n");
        return 2;
    }
    /* The suite runs the simulator it was started from, unless SETM_BIN says otherwise. */
    cli_self_path(argv[0], self, sizeof self);
    setenv("SETM_BIN", self, 0);
    args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) {
        fprintf(stderr, "setm validate: out of memory\n");
        return 1;
    }
    args[0] = script;
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    rc = cli_python_exec("validate", "PYTHON", args);
    free(args);
    return rc;
}
