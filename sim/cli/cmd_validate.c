/*
 * cmd_validate — `setm validate [--quick] [-o DIR] [--only CHECK]...`: runs the validation suite,
 * analysis/validate.py (Python: numpy, scipy, h5py, matplotlib), with this binary as the
 * simulator.  The script is found under $SETM_HOME, else the source tree setm was built from;
 * this command only locates it and replaces itself with Python (its exit code is the suite's):
 * $PYTHON, else the project's .venv beside the script's tree (`make venv`), else python3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    char script[4096], self[4096], venv[4096];
    char **args;
    const char *py = getenv("PYTHON");
    ssize_t len;

    if (find_script(script, sizeof script)) {
        fprintf(stderr, "setm validate: analysis/validate.py not found under $SETM_HOME or the "
                        "source tree: set SETM_HOME to the setm source folder\n");
        return 2;
    }
    /* The suite runs the simulator it was started from, unless SETM_BIN says otherwise. */
    len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0 && !getenv("SETM_BIN")) {
        self[len] = '\0';
        setenv("SETM_BIN", self, 1);
    }
    if (!py || !*py) {
        /* script is ROOT/analysis/validate.py: the suite's packages live in ROOT/.venv */
        const size_t tail = strlen("analysis/validate.py");
        const size_t root = strlen(script) - tail;
        py = "python3";
        if (root + strlen(".venv/bin/python") < sizeof venv) {
            snprintf(venv, sizeof venv, "%.*s.venv/bin/python", (int)root, script);
            if (access(venv, X_OK) == 0)
                py = venv;
        }
    }
    args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) {
        fprintf(stderr, "setm validate: out of memory\n");
        return 1;
    }
    args[0] = (char *)py;
    args[1] = script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    fflush(NULL);
    execvp(py, args);
    fprintf(stderr, "setm validate: cannot start %s: %s (install Python 3 and "
                    "analysis/requirements.txt, or set PYTHON)\n", py, strerror(errno));
    free(args);
    return 2;
}
