/* fakeprovider.h - starts tests/fakeprovider/server.py (the fake Yahoo / Alpha Vantage /
 * Finnhub / Polygon / Twelve Data server) on a free loopback port for one test, and
 * builds an md_config pointing every provider at it.
 *
 *   md_fake f; md_fake_start(&f, 1500);         slow answers take 1500 ms
 *   md_config cfg; md_fake_config(&f, &cfg, 400);   400 ms client timeout
 *   ... md_fake_requests(&f) -> the paths it saw (heap string, JSON array) ...
 *   md_config_deinit(&cfg); md_fake_stop(&f);
 *
 * Also: md_fake_read() reads a fixture file, md_log_capture_*() collects log lines. */
#ifndef MD_FAKEPROVIDER_H
#define MD_FAKEPROVIDER_H

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "sources/registry.h"
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

typedef struct md_fake {
    pid_t pid;
    int port;
} md_fake;

/* Starts the server; aborts the test process when it does not come up. */
static inline void md_fake_start(md_fake *f, int slow_ms)
{
    int fds[2];
    if (pipe(fds) != 0) abort();
    char slow[32];
    snprintf(slow, sizeof slow, "%d", slow_ms);
    const char *script = md_test_src("tests/fakeprovider/server.py");
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/usr/bin/python3", "python3", script, "--slow-ms", slow, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = "";
    size_t n = 0;
    struct pollfd p = {fds[0], POLLIN, 0};
    while (n < sizeof line - 1 && !strchr(line, '\n')) {
        if (poll(&p, 1, 15000) <= 0) break;
        ssize_t k = read(fds[0], line + n, sizeof line - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        line[n] = 0;
    }
    close(fds[0]);
    f->pid = pid;
    f->port = 0;
    if (sscanf(line, "PORT %d", &f->port) != 1 || f->port <= 0) {
        fprintf(stderr, "fake provider did not start (got '%s')\n", line);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        abort();
    }
}

static inline void md_fake_stop(md_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

/* Base URL of a provider on the fake server ("http://127.0.0.1:PORT/yahoo"). */
static inline const char *md_fake_url(const md_fake *f, const char *provider)
{
    static char buf[8][128];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 128, "http://127.0.0.1:%d/%s", f->port, provider);
    return p;
}

static inline void md_fake_set_secret(char **slot, const char *v)
{
    md_free(*slot);
    *slot = md_strdup(v);
    md_log_add_secret(v);
}

/* A default config with every provider on the fake server, keys "test-<name>-key-0042",
 * and the given client timeout. */
static inline void md_fake_config(const md_fake *f, md_config *cfg, int timeout_ms)
{
    md_config_init(cfg);
    for (size_t i = 0; i < md_source_count(); i++) {
        const md_source_info *info = md_source_info_at(i);
        if (info->offline) continue;
        char key[64];
        md_error err;
        snprintf(key, sizeof key, "sources.%s.url", info->name);
        if (md_config_set(cfg, key, md_fake_url(f, info->name), "test", &err) != 0) abort();
        if (info->key_env) {
            char secret[64];
            snprintf(secret, sizeof secret, "test-%s-key-0042", info->name);
            md_fake_set_secret((char **)((char *)cfg + info->key_off), secret);
        }
    }
    char t[32];
    snprintf(t, sizeof t, "%d", timeout_ms);
    md_error err;
    if (md_config_set(cfg, "sources.timeout_ms", t, "test", &err) != 0) abort();
}

static size_t md_fake__collect(char *p, size_t s, size_t n, void *user)
{
    md_buf *b = user;
    md_buf_append(b, p, s * n);
    return s * n;
}

/* The request paths the server saw, as its JSON array text (heap; free()). */
static inline char *md_fake_requests(const md_fake *f)
{
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/_requests", f->port);
    md_buf b = MD_BUF_INIT;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, md_fake__collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    md_buf_putc(&b, 0);
    size_t len;
    char *s = md_buf_steal(&b, &len);
    char *out = strdup(s);
    md_free(s);
    return out;
}

/* A fixture file's content (heap; free()), aborting when missing. */
static inline char *md_fake_read(const char *rel, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/providers/%s", rel);
    FILE *fp = fopen(md_test_src(path), "rb");
    if (!fp) {
        fprintf(stderr, "missing fixture %s\n", path);
        abort();
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, fp) != (size_t)n) abort();
    s[n] = 0;
    fclose(fp);
    *len = (size_t)n;
    return s;
}

/* Log capture: every line at debug level into a memory stream. */
typedef struct md_log_capture {
    FILE *f;
    char *text;
    size_t len;
} md_log_capture;

static inline void md_log_capture_start(md_log_capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    md_log_set_file(c->f);
    md_log_set_level(MD_LOG_DEBUG);
}

/* Stops capturing; c->text holds the lines (free()). */
static inline void md_log_capture_stop(md_log_capture *c)
{
    md_log_set_file(NULL);
    md_log_set_level(MD_LOG_INFO);
    fclose(c->f);
}

#endif
