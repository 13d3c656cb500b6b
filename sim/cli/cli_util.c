/* cli_util — helpers shared by the subcommands: error printing, usage errors, number parsing,
 * default output names, output checks, starting the project's Python.  Only the CLI layer
 * prints. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cli/cli.h"
#include "core/config.h"
#include "io/h5.h"

int cli_fail(const char *cmd, const struct err *e)
{
    fprintf(stderr, "setm %s: %s\n", cmd, e->msg[0] ? e->msg : err_text(e->code));
    return err_exit_code(e->code);
}

int cli_usage_error(const char *cmd, const char *usage_text, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "setm %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_text);
    return 2;
}

void cli_scenario_stem(const char *scenario, char *buf, size_t n)
{
    const char *base = strrchr(scenario, '/');
    size_t len;
    base = base ? base + 1 : scenario;
    len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".ini"))
        len -= 4;
    snprintf(buf, n, "%.*s", (int)len, base);
}

int cli_parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return ERR_USAGE;
    errno = 0;
    *out = strtoull(s, &end, 0);
    return (errno || *end) ? ERR_USAGE : 0;
}


/* Whether `input` names the same file as `out` (whose stat is *o). */
static int same_file(const struct stat *o, const char *input)
{
    struct stat st;
    return input && *input && stat(input, &st) == 0 && st.st_dev == o->st_dev &&
           st.st_ino == o->st_ino;
}

int cli_output_check(const char *out, const struct cfg *cfg, struct err *e)
{
    struct stat o;
    int rc = h5_output_check(out, e);
    if (rc || stat(out, &o) != 0)
        return rc; /* nothing there yet: it cannot be an input */
    for (const char *p = cfg->files; p && *p;) {
        const char *nl = strchr(p, '\n');
        char path[4096];
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(path, sizeof path, "%.*s", (int)n, p);
        if (same_file(&o, path))
            return err_set(e, ERR_USAGE,
                           "%s: is the scenario file %s, an input of this run; choose another "
                           "output name",
                           out, path);
        p += n + (nl ? 1 : 0);
    }
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct cfg_agent *g = &cfg->agents[i];
        const char *csv[2] = {g->generation_csv, g->load_csv};
        for (int j = 0; j < 2; j++)
            if (same_file(&o, csv[j]))
                return err_set(e, ERR_USAGE,
                               "%s: is [agent.%s] %s = %s, an input of this run; choose another "
                               "output name",
                               out, g->name, j ? "load_csv" : "generation_csv", csv[j]);
    }
    return 0;
}

void cli_self_path(const char *argv0, char *out, size_t n)
{
    ssize_t len = n > 1 ? readlink("/proc/self/exe", out, n - 1) : -1;
    if (len > 0)
        out[len] = '\0';
    else
        snprintf(out, n, "%s", argv0 ? argv0 : "setm");
}

int cli_python_exec(const char *cmd, const char *first_env, char *const *args)
{
    const char *first = first_env ? getenv(first_env) : NULL, *env = getenv("SETM_PYTHON");
    const char *old = getenv("PYTHONPATH");
    char python[PATH_MAX], pypath[PATH_MAX + 64];
    char **argv;
    size_t n = 0;

    if (first && *first)
        snprintf(python, sizeof python, "%s", first);
    else
        snprintf(python, sizeof python, "%s",
                 env && *env ? env : SETM_SOURCE_DIR "/.venv/bin/python");
    if (strchr(python, '/') && access(python, X_OK) != 0) {
        fprintf(stderr,
                "setm %s: cannot start Python: no interpreter at %s (%s): run `make venv` in %s "
                "(or set SETM_PYTHON to a python with analysis/requirements.txt)\n",
                cmd, python, strerror(errno), SETM_SOURCE_DIR);
        return 2;
    }
    /* The analysis modules, even for an interpreter that has not installed the package. */
    snprintf(pypath, sizeof pypath, "%s/analysis%s%s", SETM_SOURCE_DIR, old && *old ? ":" : "",
             old ? old : "");
    setenv("PYTHONPATH", pypath, 1);
    setenv("MPLBACKEND", "Agg", 0);
    while (args[n])
        n++;
    argv = calloc(n + 2, sizeof *argv);
    if (!argv) {
        fprintf(stderr, "setm %s: out of memory\n", cmd);
        return 1;
    }
    argv[0] = python;
    memcpy(argv + 1, args, n * sizeof *args);
    fflush(NULL);
    execvp(python, argv);
    fprintf(stderr,
            "setm %s: cannot start Python %s: %s (run `make venv` in %s, or set SETM_PYTHON to a "
            "python with analysis/requirements.txt)\n",
            cmd, python, strerror(errno), SETM_SOURCE_DIR);
    free(argv);
    return 2;
}
