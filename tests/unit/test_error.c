/* The error vocabulary (core/error.h, errors.def): codes that a bare -1 can never be
 * mistaken for, lookups by code, and md_assert, which stays on in release builds. */
#include "core/error.h"

#include "testutil.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

static const struct {
    int rc;
    int status;
    const char *code, *name;
} table[] = {
#define MD_ERR(n, status, code, msg) {MD_E##n, status, code, "MD_E" #n},
#include "core/errors.def"
#undef MD_ERR
};

Test(error, codes_are_distinct_and_far_from_a_bare_minus_one)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        cr_expect(table[i].rc <= -1000, "%s = %d", table[i].name, table[i].rc);
        for (size_t j = 0; j < i; j++) {
            cr_expect_neq(table[i].rc, table[j].rc, "%s and %s", table[i].name, table[j].name);
            cr_expect_str_neq(table[i].code, table[j].code, "%s and %s share an API code",
                              table[i].name, table[j].name);
        }
    }
}

Test(error, a_bare_minus_one_reads_as_internal_error_not_as_bad_input)
{
    /* before codes started at -1000, -1 was MD_EINVAL: a helper's failure became a 400 */
    cr_expect_eq(md_error_http_status(-1), 500);
    cr_expect_str_eq(md_error_code(-1), "internal_error");
    cr_expect_eq(md_error_http_status(-999), 500);
    cr_expect_eq(md_error_http_status(1), 500);
    cr_expect_eq(md_error_http_status(0), 200);
    cr_expect_str_eq(md_error_code(0), "ok");
}

Test(error, every_code_maps_to_its_own_row)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        cr_expect_eq(md_error_http_status(table[i].rc), table[i].status, "%s", table[i].name);
        cr_expect_str_eq(md_error_code(table[i].rc), table[i].code);
        cr_expect_str_eq(md_error_name(table[i].rc), table[i].name);
    }
    cr_expect_eq(md_error_http_status(MD_EUNAUTH), 401);
    cr_expect_str_eq(md_error_code(MD_ETIMERANGE), "invalid_time_range");
}

Test(error, set_keeps_the_code_and_formats_the_message)
{
    md_error e;
    cr_expect_eq(md_error_set(&e, MD_ESYMBOL, "bad '%s'", "x y"), MD_ESYMBOL);
    cr_expect_eq(e.rc, MD_ESYMBOL);
    cr_expect_str_eq(e.msg, "bad 'x y'");
    md_error_prefix(&e, "file.csv:%d", 12);
    cr_expect_str_eq(e.msg, "file.csv:12: bad 'x y'");
    cr_expect_eq(md_error_set(NULL, MD_EIO, "nowhere"), MD_EIO, "err may be NULL");
}

enum { assert_line = __LINE__ + 5 }; /* the md_assert line below */

static void failing_assert(void *arg)
{
    int answer = *(int *)arg;
    md_assert(answer == 42, "answer=%d", answer);
}

Test(error, md_assert_aborts_with_file_line_and_message)
{
    int v = 41;
    failing_assert(&(int){42}); /* true: nothing happens */
    md_test_exit r = md_test_child(failing_assert, &v);
    cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT, "status %#x, stderr: %s",
              r.status, r.err);
    char want[128];
    snprintf(want, sizeof want, "test_error.c:%d in failing_assert: answer == 42: answer=41",
             assert_line);
    cr_expect(strstr(r.err, "mdagent: assertion failed at ") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, want) != NULL, "want '%s' in: %s", want, r.err);
}

#ifdef NDEBUG
Test(error, md_assert_is_on_in_release_builds)
{
    int v = 0;
    md_test_exit r = md_test_child(failing_assert, &v);
    cr_expect(WIFSIGNALED(r.status), "NDEBUG removed md_assert: %s", r.err);
}
#endif
