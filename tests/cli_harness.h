/*
 * cli_harness — what the end-to-end tests of the `setm` binary share: a temporary folder per
 * test, the binary's path ($SETM_BIN, else the source tree's bin/setm), spawning it with stdout
 * and stderr captured to files in that folder, and small file helpers.  Header-only (static
 * inline), for tests only.
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

#endif
