/* Logging: level filtering and redaction of secrets. */
#include "core/log.h"

#include <stdio.h>

#include <criterion/criterion.h>
#include <stdlib.h>

static char *capture(void (*fn)(void))
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    md_log_set_file(f);
    fn();
    md_log_set_file(NULL);
    fclose(f);
    return out;
}

static void log_secret(void)
{
    md_log_add_secret("sk-TOPSECRET123");
    MD_INFO("test", "calling https://x.test/q?symbol=A&apikey=OTHERKEY99&x=1 with sk-TOPSECRET123");
    MD_INFO("test", "db postgresql://user:hunter2@localhost/db");
    MD_DEBUG("test", "hidden debug line");
}

Test(log, secrets_and_credentials_are_redacted)
{
    md_log_set_level(MD_LOG_INFO);
    char *out = capture(log_secret);
    cr_assert(strstr(out, "TOPSECRET") == NULL, "%s", out);
    cr_assert(strstr(out, "OTHERKEY99") == NULL, "%s", out);
    cr_assert(strstr(out, "hunter2") == NULL, "%s", out);
    cr_assert(strstr(out, "apikey=***") != NULL, "%s", out);
    cr_assert(strstr(out, "user:***@localhost") != NULL, "%s", out);
    cr_assert(strstr(out, " INFO test ") != NULL, "%s", out);
    cr_assert(strstr(out, "hidden debug") == NULL, "debug line printed at info level");
    free(out);
}

Test(log, parse_levels)
{
    md_log_level l;
    cr_assert_eq(md_log_parse_level("debug", &l), 0);
    cr_assert_eq(l, MD_LOG_DEBUG);
    cr_assert_eq(md_log_parse_level("WARN", &l), 0);
    cr_assert_eq(l, MD_LOG_WARN);
    cr_assert_neq(md_log_parse_level("verbose", &l), 0);
}

Test(log, redaction_never_writes_past_the_buffer)
{
    /* a one-letter value is masked as "***": the string grows, and must stay in the buffer */
    const char *src = "GET /q?key=a&token=b&apikey=c http://u:p@h/ tail";
    for (size_t n = 1; n <= strlen(src) + 8; n++) {
        char *dst = malloc(n); /* exact size: ASan sees any byte past it */
        md_log_redact(src, dst, n);
        cr_assert_lt(strlen(dst), n);
        /* masked before the cut: no value shows, whole or in part, at any size */
        cr_assert(strstr(dst, "=a") == NULL && strstr(dst, "=b") == NULL &&
                      strstr(dst, "=c") == NULL && strstr(dst, ":p") == NULL,
                  "%zu: %s", n, dst);
        free(dst);
    }
    char big[128];
    md_log_redact(src, big, sizeof big);
    cr_assert_str_eq(big, "GET /q?key=***&token=***&apikey=*** http://u:***@h/ tail");
    /* secrets under 4 characters are not registered; one that contains the mask is masked
     * once per occurrence (no endless loop), and a cut buffer holds no part of one */
    md_log_add_secret("z");
    md_log_add_secret("a***b");
    md_log_redact("z z a***b a***b", big, sizeof big);
    cr_assert_str_eq(big, "z z *** ***");
    char small[6];
    md_log_redact("a***ba***b", small, sizeof small);
    cr_assert_str_eq(small, "*****");
}
