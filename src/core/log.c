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

const char *md_log_level_name(md_log_level lvl)
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
    static const char *keys[] = {"apikey", "api_key", "apiKey", "token", "key", "password",
                                 "access_token", "secret"};
    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++)
        if (strlen(keys[i]) == len && strncasecmp(name, keys[i], len) == 0) return 1;
    return 0;
}

/* Replaces param values (?apikey=...&) and URL passwords (scheme://user:pass@). */
static void redact_patterns(char *s)
{
    for (char *p = s; *p; p++) {
        if ((*p == '?' || *p == '&') && p[1]) {
            char *name = p + 1, *eq = name;
            while (*eq && *eq != '=' && *eq != '&' && *eq != ' ' && eq - name < 32) eq++;
            if (*eq == '=' && secret_param(name, (size_t)(eq - name))) {
                char *v = eq + 1, *e = v;
                while (*e && *e != '&' && *e != ' ' && *e != '"' && *e != '\'') e++;
                if (e > v) {
                    memmove(v + 3, e, strlen(e) + 1);
                    memcpy(v, "***", 3);
                }
            }
        } else if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            char *auth = p + 3, *at = auth;
            while (*at && *at != '@' && *at != '/' && *at != ' ') at++;
            if (*at == '@') {
                char *colon = memchr(auth, ':', (size_t)(at - auth));
                if (colon && at > colon + 1) {
                    memmove(colon + 4, at, strlen(at) + 1);
                    memcpy(colon + 1, "***", 3);
                }
            }
        }
    }
}

void md_log_redact(const char *src, char *dst, size_t n)
{
    if (!n) return;
    snprintf(dst, n, "%s", src);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_secrets; i++) {
        size_t sl = strlen(secrets[i]);
        char *hit;
        while ((hit = strstr(dst, secrets[i])) != NULL) {
            memmove(hit + 3, hit + sl, strlen(hit + sl) + 1);
            memcpy(hit, "***", 3);
        }
    }
    pthread_mutex_unlock(&lock);
    redact_patterns(dst);
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
    fprintf(f, "%s.%03ldZ %s %s %s\n", when, ts.tv_nsec / 1000000, md_log_level_name(lvl),
            module, clean);
    fflush(f);
    pthread_mutex_unlock(&lock);
}
