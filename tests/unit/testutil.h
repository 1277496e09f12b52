/* testutil.h - helpers shared by the unit tests (temporary paths, files). */
#ifndef MD_TESTUTIL_H
#define MD_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* A fresh SQLite store URL "sqlite:<md_test_path(name)>" in url: the file and its -wal and
 * -shm companions of an earlier run are removed. */
static inline void md_test_sqlite_url(const char *name, char *url, size_t n)
{
    const char *p = md_test_path(name);
    static const char *const side[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof side / sizeof *side; i++) {
        snprintf(url, n, "%s%s", p, side[i]);
        unlink(url);
    }
    snprintf(url, n, "sqlite:%s", p);
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

/* What a child process did: its wait status and the first bytes it wrote to stderr. */
typedef struct md_test_exit {
    int status;
    char err[2048];
} md_test_exit;

/* Runs fn(arg) in a forked child whose stderr is captured; the child exits 0 when fn
 * returns. For code that must abort (allocation failure, md_assert): the parent checks how
 * it ended and what it said. */
static inline md_test_exit md_test_child(void (*fn)(void *), void *arg)
{
    md_test_exit r;
    memset(&r, 0, sizeof r);
    int fds[2];
    if (pipe(fds) != 0) abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while ((k = read(fds[0], r.err + n, sizeof r.err - 1 - n)) > 0) n += (size_t)k;
    char sink[4096]; /* drain the rest so the child never blocks on a full pipe */
    while (read(fds[0], sink, sizeof sink) > 0) {
    }
    close(fds[0]);
    r.err[n] = 0;
    waitpid(pid, &r.status, 0);
    return r;
}

#endif
