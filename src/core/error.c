/* error.c - the error table and md_error helpers. */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    int rc;
    int status;
    const char *code;
    const char *msg;
    const char *name;
} err_row;

static const err_row rows[] = {
#define MD_ERR(n, status, code, msg) {MD_E##n, status, code, msg, "MD_E" #n},
#include "core/errors.def"
#undef MD_ERR
};

static const err_row *find(int rc)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].rc == rc) return &rows[i];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].rc == MD_EINTERNAL) return &rows[i];
    return &rows[0];
}

int md_error_vset(md_error *err, int rc, const char *fmt, va_list ap)
{
    if (!err) return rc;
    err->rc = rc;
    if (fmt)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    else
        snprintf(err->msg, sizeof err->msg, "%s", md_error_default(rc));
    return rc;
}

int md_error_set(md_error *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    md_error_vset(err, rc, fmt, ap);
    va_end(ap);
    return rc;
}

void md_error_prefix(md_error *err, const char *fmt, ...)
{
    if (!err) return;
    char old[MD_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof err->msg - 3) return;
    size_t rest = sizeof err->msg - (size_t)n - 2;
    err->msg[n] = ':';
    err->msg[n + 1] = ' ';
    memcpy(err->msg + n + 2, old, rest - 1);
    err->msg[n + 2 + rest - 1] = 0;
}

void md_error_clear(md_error *err)
{
    if (!err) return;
    err->rc = 0;
    err->msg[0] = 0;
}

int md_error_http_status(int rc)
{
    return rc == 0 ? 200 : find(rc)->status;
}
const char *md_error_code(int rc)
{
    return rc == 0 ? "ok" : find(rc)->code;
}
const char *md_error_default(int rc)
{
    return rc == 0 ? "ok" : find(rc)->msg;
}
const char *md_error_name(int rc)
{
    return rc == 0 ? "MD_OK" : find(rc)->name;
}
