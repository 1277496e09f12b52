/* testutil.h - helpers shared by the unit tests (temporary paths, files). */
#ifndef MD_TESTUTIL_H
#define MD_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh path under MDTEST_TMP (or /tmp) unique to this process and name. */
static inline const char *md_test_path(const char *name)
{
    static char buf[8][512];
    static int k;
    const char *base = getenv("MDTEST_TMP");
    if (!base) base = "/tmp";
    mkdir(base, 0755);
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%d", base, (int)getpid());
    mkdir(p, 0755);
    snprintf(p, 512, "%s/%d/%s", base, (int)getpid(), name);
    return p;
}

/* Writes text to a new file at path. */
static inline void md_test_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

/* Path of a file in the source tree. */
static inline const char *md_test_src(const char *rel)
{
    static char buf[4][512];
    static int k;
    const char *base = getenv("MDTEST_SRC");
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", base ? base : ".", rel);
    return p;
}

/* A value from the test services' address file ($MDTEST_STATE/env, written by
 * scripts/test-services.sh: MDTEST_PG_URL, MDTEST_REDIS_URL, ...), or NULL when the test
 * does not run under ctest. A test that calls it must name MDTEST_STATE in its source, so
 * tests/CMakeLists.txt makes it wait for the services. */
static inline const char *md_test_service(const char *key)
{
    static char val[4][512];
    static int k;
    const char *state = getenv("MDTEST_STATE");
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/env", state ? state : ".");
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *out = val[k++ % 4];
    size_t kl = strlen(key);
    out[0] = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            snprintf(out, 512, "%s", line + kl + 1);
            out[strcspn(out, "\r\n")] = 0;
        }
    fclose(f);
    return out[0] ? out : NULL;
}

#endif
