/* log.h - leveled logging to stderr, one line per event.
 *
 *   2026-11-25T09:30:00.123Z INFO store opened path=data/mdagent.db
 *
 * The macros test the level before evaluating their arguments. Secrets registered with
 * md_log_add_secret() (API keys, passwords) are replaced by "***" in every line, so a
 * key that slips into a URL or an error message is still never written out. */
#ifndef MD_CORE_LOG_H
#define MD_CORE_LOG_H

#include <stddef.h>

typedef enum { MD_LOG_DEBUG = 0, MD_LOG_INFO, MD_LOG_WARN, MD_LOG_ERROR, MD_LOG_OFF } md_log_level;

extern int md_log_min_level; /* lines below this level are dropped */

/* Parses "debug|info|warn|error|off"; returns 0 or MD_EINVAL. */
int md_log_parse_level(const char *s, md_log_level *out);
void md_log_set_level(md_log_level lvl);

/* Registers a secret (copied; strings shorter than 4 chars are ignored). Thread-safe. */
void md_log_add_secret(const char *secret);
/* Copies src into dst (size n) with every registered secret, and the value of any
 * apikey/api_key/token/key/password query parameter or URL password, replaced by "***". */
void md_log_redact(const char *src, char *dst, size_t n);

/* Redirects output (tests); NULL restores stderr. */
void md_log_set_file(void *file);

void md_log_write(md_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MD_LOG(lvl, module, ...)                                                                   \
    do {                                                                                           \
        if ((int)(lvl) >= md_log_min_level) md_log_write((lvl), (module), __VA_ARGS__);            \
    } while (0)
#define MD_DEBUG(module, ...) MD_LOG(MD_LOG_DEBUG, module, __VA_ARGS__)
#define MD_INFO(module, ...) MD_LOG(MD_LOG_INFO, module, __VA_ARGS__)
#define MD_WARN(module, ...) MD_LOG(MD_LOG_WARN, module, __VA_ARGS__)
#define MD_ERROR(module, ...) MD_LOG(MD_LOG_ERROR, module, __VA_ARGS__)

#endif
