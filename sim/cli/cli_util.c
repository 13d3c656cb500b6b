/* cli_util — helpers shared by the subcommands: error printing, usage errors, number parsing,
 * default output names.  Only the CLI layer prints. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

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

