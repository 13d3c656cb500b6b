/*
 * cli_harness — what the end-to-end tests of the `setm` binary share: a temporary folder per
 * test, the binary's path ($SETM_BIN, else the source tree's bin/setm), spawning it with stdout
 * and stderr captured to files in that folder, and small file helpers.  Header-only (static
 * inline), for tests only.
 *
 * The fixture of the CLI suites (struct tu_fx, tu_fx_setup / tu_fx_teardown, tu_run, tu_fx_put)
 * is here too: a suite's setup is one line, `return tu_fx_setup(state, "tag");`.  tu_run and
 * tu_fx_put assert, so include cmocka.h before this header to have them.
 */
#ifndef SETM_TESTS_CLI_HARNESS_H
#define SETM_TESTS_CLI_HARNESS_H

#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* mkdtemp "/tmp/setm-test-TAG-XXXXXX" into dir[64]; 0 or -1. */
static inline int tu_mkdtemp(char dir[64], const char *tag)
{
    snprintf(dir, 64, "/tmp/setm-test-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int tu_rmrf(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static inline const char *tu_setm_bin(void)
{
    const char *b = getenv("SETM_BIN");
    return b ? b : SETM_SOURCE_DIR "/bin/setm";
}

/* Whole file into buf (NUL-terminated, truncated to n - 1); empty when it cannot be read. */
static inline void tu_slurp(const char *path, char *buf, size_t n)
{
    FILE *fp = fopen(path, "r");
    size_t k = 0;
    if (fp) {
        k = fread(buf, 1, n - 1, fp);
        fclose(fp);
    }
    buf[k] = '\0';
}

/* Write text to dir/name; the path goes to path[n].  0 or -1. */
static inline int tu_put(const char *dir, const char *name, const char *text, char *path, size_t n)
{
    FILE *fp;
    snprintf(path, n, "%s/%s", dir, name);
    fp = fopen(path, "w");
    if (!fp)
        return -1;
    fputs(text, fp);
    return fclose(fp);
}

/* Start the program argv[0] (argv NULL-terminated), stdout/stderr to dir/stdout, dir/stderr.
 * Returns the pid, or -1. */
static inline pid_t tu_spawn(const char *dir, char *const argv[])
{
    char outp[128], errp[128];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;
    snprintf(outp, sizeof outp, "%s/stdout", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/* Start `setm ARGS...` (NULL-terminated list in ap), stdout/stderr to dir/stdout, dir/stderr.
 * Returns the pid, or -1. */
static inline pid_t tu_start(const char *dir, va_list ap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)tu_setm_bin();
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    argv[argc] = NULL;
    return tu_spawn(dir, argv);
}

/* Wait for pid, read its captured output into out/err; its exit code, or 128 + signal. */
static inline int tu_finish(const char *dir, pid_t pid, char *out, size_t outn, char *err,
                            size_t errn)
{
    char outp[128], errp[128];
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    snprintf(outp, sizeof outp, "%s/stdout", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    tu_slurp(outp, out, outn);
    tu_slurp(errp, err, errn);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the CLI suites' fixture ---------------------------------------------------------------- */

struct tu_fx {
    char dir[64];        /* the test's temporary folder, removed by tu_fx_teardown */
    char out[16384];     /* the last run's stdout */
    char errtxt[16384];  /* the last run's stderr */
};

/* A fresh fixture in *state with the folder /tmp/setm-test-TAG-XXXXXX; 0 or -1. */
static inline int tu_fx_setup(void **state, const char *tag)
{
    struct tu_fx *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->dir, tag) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Remove the folder and free the fixture; 0 or -1. */
static inline int tu_fx_teardown(void **state)
{
    struct tu_fx *f = *state;
    if (tu_rmrf(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

#ifdef CMOCKA_H_
/* tu_run for any fixture: `setm` with the NULL-terminated arguments in ap, stdout/stderr into
 * out/err; the exit code (a failure to start, or a death by signal, fails the test). */
static inline int tu_vrun(const char *dir, char *out, size_t outn, char *err, size_t errn,
                          va_list ap)
{
    pid_t pid = tu_start(dir, ap);
    int rc;
    assert_true(pid > 0);
    rc = tu_finish(dir, pid, out, outn, err, errn);
    if (rc >= 128)
        fail_msg("setm died with signal %d", rc - 128);
    return rc;
}

/* Run `setm` with the NULL-terminated arguments; stdout/stderr into f->out/f->errtxt; the exit
 * code (a failure to start, or a death by signal, fails the test). */
static inline int tu_run(struct tu_fx *f, ...)
{
    va_list ap;
    int rc;
    va_start(ap, f);
    rc = tu_vrun(f->dir, f->out, sizeof f->out, f->errtxt, sizeof f->errtxt, ap);
    va_end(ap);
    return rc;
}

/* Write text to f->dir/name; its path in buf[n] (returned). */
static inline char *tu_fx_put(struct tu_fx *f, const char *name, const char *text, char *buf,
                              size_t n)
{
    assert_int_equal(tu_put(f->dir, name, text, buf, n), 0);
    return buf;
}
#endif

#endif
