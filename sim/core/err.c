/* err — error codes, their names and texts, and the error record helpers. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *name;
    const char *text;
} err_table[] = {
    {ERR_OK, "ERR_OK", "success"},
    {ERR_NOMEM, "ERR_NOMEM", "out of memory"},
    {ERR_IO, "ERR_IO", "input/output error"},
    {ERR_CONFIG, "ERR_CONFIG", "invalid configuration"},
    {ERR_USAGE, "ERR_USAGE", "invalid command-line usage"},
    {ERR_FORMAT, "ERR_FORMAT", "malformed input"},
    {ERR_NOTFOUND, "ERR_NOTFOUND", "not found"},
    {ERR_DEVICE, "ERR_DEVICE", "device unusable"},
    {ERR_RUNTIME, "ERR_RUNTIME", "runtime failure"},
    {ERR_INTERRUPTED, "ERR_INTERRUPTED", "interrupted"},
    {ERR_VERIFY, "ERR_VERIFY", "verification failed"},
    {ERR_NOSOLUTION, "ERR_NOSOLUTION", "no solution in the searched range"},
};

#define ERR_COUNT (sizeof err_table / sizeof err_table[0])

int err_set(struct err *e, int code, const char *fmt, ...)
{
    if (e) {
        /* Format aside first: callers may pass e->msg itself as an argument ("...: %s",
         * e->msg), and vsnprintf into its own source is undefined behaviour. */
        char buf[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        e->code = code;
        memcpy(e->msg, buf, sizeof buf);
    }
    return code;
}

int err_wrap(struct err *e, int code_if_empty, const char *fmt, ...)
{
    char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;

    if (!e)
        return code_if_empty;
    if (e->code == ERR_OK) {
        e->code = code_if_empty;
        e->msg[0] = '\0';
    }
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    {
        size_t n = strlen(prefix), room = sizeof e->msg;
        if (n >= room)
            n = room - 1;
        memcpy(e->msg, prefix, n);
        if (old[0] && n + 2 < room) {
            memcpy(e->msg + n, ": ", 2);
            n += 2;
            size_t k = strlen(old);
            if (k > room - 1 - n)
                k = room - 1 - n;
            memcpy(e->msg + n, old, k);
            n += k;
        }
        e->msg[n] = '\0';
    }
    return e->code;
}

void err_clear(struct err *e)
{
    if (e) {
        e->code = ERR_OK;
        e->msg[0] = '\0';
    }
}

const char *err_name(int code)
{
    for (size_t i = 0; i < ERR_COUNT; i++)
        if (err_table[i].code == code)
            return err_table[i].name;
    return "ERR_UNKNOWN";
}

const char *err_text(int code)
{
    for (size_t i = 0; i < ERR_COUNT; i++)
        if (err_table[i].code == code)
            return err_table[i].text;
    return "unknown error";
}

int err_exit_code(int code)
{
    switch (code) {
    case ERR_OK:
        return 0;
    case ERR_CONFIG:
    case ERR_USAGE:
    case ERR_FORMAT:
    case ERR_NOTFOUND:
    case ERR_DEVICE:
        return 2;
    default:
        return 1;
    }
}

int err_open_code(int errnum, int user_code)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
        return ERR_NOTFOUND;
    case EACCES:
    case EPERM:
    case ELOOP:
    case ENAMETOOLONG:
    case EISDIR:
        return user_code;
    default:
        return ERR_IO;
    }
}
