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
