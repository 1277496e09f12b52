/* error.c - the error table and md_error helpers. */
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
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

_Static_assert(sizeof rows / sizeof rows[0] == MD__EIDX_COUNT, "one row per code");

/* Codes are consecutive from MD__E_BASE down, so the row of a code is found by index. */
static const err_row *find(int rc)
{
    long i = (long)MD__E_BASE - rc;
    return i >= 0 && i < MD__EIDX_COUNT ? &rows[i] : &rows[MD__EIDX_INTERNAL];
}

static int vset(md_error *err, int rc, const char *fmt, va_list ap)
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
    vset(err, rc, fmt, ap);
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

void md__assert_fail(const char *file, int line, const char *func, const char *cond,
                     const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one write, so that the line is not interleaved with other threads' output */
    char line_buf[1024];
    int n =
        snprintf(line_buf, sizeof line_buf, "mdagent: assertion failed at %s:%d in %s: %s: %s\n",
                 file, line, func, cond, msg);
    if (n > 0)
        fwrite(line_buf, 1, (size_t)n < sizeof line_buf ? (size_t)n : sizeof line_buf - 1, stderr);
    fflush(stderr);
    abort();
}
