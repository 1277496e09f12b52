/* error.h - one error vocabulary for the whole agent.
 *
 * Functions return int: 0 (MD_OK) on success, a negative MD_E* code on failure, or a
 * count >= 0. Where detail matters the caller passes an md_error as last argument and
 * the callee fills it with md_error_set(). Each code maps, through errors.def, to one
 * HTTP status and one API error code; errors are rendered once, at the edge.
 *
 * Codes start at MD__E_BASE (-1000) and go down: a helper's bare `return -1` that leaks
 * into an error path is never mistaken for a code (md_error_* read it as internal_error).
 *
 * md_assert() is for invariants (a bug if false), never for input: it stays on in release
 * builds and aborts with file:line and a message. */
#ifndef MD_CORE_ERROR_H
#define MD_CORE_ERROR_H

#include <stdarg.h>

enum md__err_index {
#define MD_ERR(name, status, code, msg) MD__EIDX_##name,
#include "core/errors.def"
#undef MD_ERR
    MD__EIDX_COUNT
};

#define MD__E_BASE (-1000)

enum {
    MD_OK = 0,
#define MD_ERR(name, status, code, msg) MD_E##name = MD__E_BASE - MD__EIDX_##name,
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
/* Prefixes the message already in err with "prefix: " (e.g. "file.csv:12"). */
void md_error_prefix(md_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void md_error_clear(md_error *err);

/* Table lookups for a code; unknown codes give the INTERNAL row. */
int md_error_http_status(int rc);
const char *md_error_code(int rc);    /* "invalid_symbol" */
const char *md_error_default(int rc); /* "invalid symbol" */
const char *md_error_name(int rc);    /* "MD_ESYMBOL" */

/* Checks an invariant, in every build (NDEBUG does not remove it): when cond is false,
 * writes "mdagent: assertion failed at FILE:LINE in FUNC: COND: message" to stderr and
 * aborts. Costs one branch; the message is formatted only on failure. */
#define md_assert(cond, ...)                                                                       \
    (__builtin_expect(!!(cond), 1)                                                                 \
         ? (void)0                                                                                 \
         : md__assert_fail(__FILE__, __LINE__, __func__, #cond, __VA_ARGS__))
_Noreturn void md__assert_fail(const char *file, int line, const char *func, const char *cond,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6), cold));

#endif
