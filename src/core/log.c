/* log.c - formatting, redaction and output of log lines. */
#include "core/log.h"

#include "core/error.h"
#include "core/mem.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int md_log_min_level = MD_LOG_INFO;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[32];
static size_t n_secrets;
static FILE *out;

static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

int md_log_parse_level(const char *s, md_log_level *lvl)
{
    for (int i = 0; i <= MD_LOG_OFF; i++) {
        if (strcasecmp(s, names[i]) == 0 || (i == MD_LOG_WARN && strcasecmp(s, "warning") == 0)) {
            *lvl = (md_log_level)i;
            return 0;
        }
    }
    return MD_EINVAL;
}

void md_log_set_level(md_log_level lvl)
{
    md_log_min_level = lvl;
}

static const char *level_name(md_log_level lvl)
{
    return (unsigned)lvl <= MD_LOG_OFF ? names[lvl] : "?";
}

void md_log_set_file(void *file)
{
    pthread_mutex_lock(&lock);
    out = file;
    pthread_mutex_unlock(&lock);
}

void md_log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4) return;
    pthread_mutex_lock(&lock);
    int known = 0;
    for (size_t i = 0; i < n_secrets; i++)
        if (strcmp(secrets[i], secret) == 0) known = 1;
    if (!known && n_secrets < MD_ARRAY_LEN(secrets)) secrets[n_secrets++] = md_strdup(secret);
    pthread_mutex_unlock(&lock);
}

/* Names of query parameters whose values are credentials. */
static int secret_param(const char *name, size_t len)
{
    static const char *keys[] = {"apikey", "api_key",  "apiKey",       "token",
                                 "key",    "password", "access_token", "secret"};
    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++)
        if (strlen(keys[i]) == len && strncasecmp(name, keys[i], len) == 0) return 1;
    return 0;
}

/* Replaces the old_len bytes at `at` (inside the string buf of capacity cap) with "***",
 * moving the tail; a tail that no longer fits is cut (a value shorter than the mask grows
 * the string). */
static void mask_at(char *buf, size_t cap, char *at, size_t old_len)
{
    size_t head = (size_t)(at - buf), tail = strlen(at + old_len);
    if (head + 3 >= cap) { /* not even the mask fits: end the string here */
        *at = 0;
        return;
    }
    if (head + 3 + tail >= cap) tail = cap - 1 - head - 3;
    memmove(at + 3, at + old_len, tail);
    at[3 + tail] = 0;
    memcpy(at, "***", 3);
}

/* Replaces param values (?apikey=...&) and URL passwords (scheme://user:pass@) in the
 * string s of capacity cap. */
static void redact_patterns(char *s, size_t cap)
{
    for (char *p = s; *p; p++) {
        if ((*p == '?' || *p == '&') && p[1]) {
            char *name = p + 1, *eq = name;
            while (*eq && *eq != '=' && *eq != '&' && *eq != ' ' && eq - name < 32) eq++;
            if (*eq == '=' && secret_param(name, (size_t)(eq - name))) {
                char *v = eq + 1, *e = v;
                while (*e && *e != '&' && *e != ' ' && *e != '"' && *e != '\'') e++;
                if (e > v) mask_at(s, cap, v, (size_t)(e - v));
            }
        } else if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            char *auth = p + 3, *at = auth;
            while (*at && *at != '@' && *at != '/' && *at != ' ') at++;
            if (*at == '@') {
                char *colon = memchr(auth, ':', (size_t)(at - auth));
                if (colon && at > colon + 1) mask_at(s, cap, colon + 1, (size_t)(at - colon - 1));
            }
        }
    }
}

void md_log_redact(const char *src, char *dst, size_t n)
{
    if (!n) return;
    /* redact the whole text first, then cut it to n: a secret is never half shown at the
     * cut. Masking only grows a value of 1-2 characters, so 3x the length always fits. */
    size_t len = strlen(src), cap = len * 3 + 4;
    char local[1024];
    char *t = cap <= sizeof local ? local : md_malloc(cap);
    memcpy(t, src, len + 1);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_secrets; i++) {
        size_t sl = strlen(secrets[i]);
        char *from = t, *hit;
        while ((hit = strstr(from, secrets[i])) != NULL) {
            mask_at(t, cap, hit, sl);
            from = hit + 3; /* never inside the mask again */
        }
    }
    pthread_mutex_unlock(&lock);
    redact_patterns(t, cap);
    snprintf(dst, n, "%s", t);
    if (t != local) md_free(t);
}

void md_log_write(md_log_level lvl, const char *module, const char *fmt, ...)
{
    char msg[2048], clean[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    md_log_redact(msg, clean, sizeof clean);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&lock);
    FILE *f = out ? out : stderr;
    fprintf(f, "%s.%03ldZ %s %s %s\n", when, ts.tv_nsec / 1000000, level_name(lvl), module, clean);
    fflush(f);
    pthread_mutex_unlock(&lock);
}
