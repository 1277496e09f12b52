/* error.h - one error vocabulary for the whole agent.
 *
 * Functions return int: 0 (MD_OK) on success, a negative MD_E* code on failure, or a
 * count >= 0. Where detail matters the caller passes an md_error as last argument and
 * the callee fills it with md_error_set(). Each code maps, through errors.def, to one
 * HTTP status and one API error code; errors are rendered once, at the edge. */
#ifndef MD_CORE_ERROR_H
#define MD_CORE_ERROR_H

#include <stdarg.h>

enum md__err_index {
#define MD_ERR(name, status, code, msg) MD__EIDX_##name,
#include "core/errors.def"
#undef MD_ERR
    MD__EIDX_COUNT
};

enum {
    MD_OK = 0,
#define MD_ERR(name, status, code, msg) MD_E##name = -1 - MD__EIDX_##name,
#include "core/errors.def"
#undef MD_ERR
};

#define MD_ERROR_MSG_MAX 256

typedef struct md_error {
    int rc;                     /* MD_E* code, 0 when no error */
    char msg[MD_ERROR_MSG_MAX]; /* human text, never contains secrets */
} md_error;

/* Records rc and a printf-style message in err (err may be NULL). Returns rc, so a
 * failing function can end with `return md_error_set(err, MD_EFOO, "...")`. */
int md_error_set(md_error *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int md_error_vset(md_error *err, int rc, const char *fmt, va_list ap);
/* Prefixes the message already in err with "prefix: " (e.g. "file.csv:12"). */
void md_error_prefix(md_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void md_error_clear(md_error *err);

/* Table lookups for a code; unknown codes give the INTERNAL row. */
int md_error_http_status(int rc);
const char *md_error_code(int rc);    /* "invalid_symbol" */
const char *md_error_default(int rc); /* "invalid symbol" */
const char *md_error_name(int rc);    /* "MD_ESYMBOL" */

#endif
