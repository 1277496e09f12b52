/* Fuzzes the Redis URL grammar (core/redisurl.h): a URL that parses has a host, a port in
 * range for TCP, and a safe form that is the URL with exactly its password replaced by
 * "***" (same head up to the userinfo, same tail after the last '@'). */
#include "core/redisurl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    memcpy(url, data, size);
    url[size] = 0;
    md_redis_url u;
    md_error err;
    if (md_redis_url_parse(url, &u, &err) == 0) {
        if (!u.host[0]) __builtin_trap();
        if (!u.unix_socket && (u.port < 1 || u.port > 65535)) __builtin_trap();
        if (u.db < 0) __builtin_trap();
        size_t n = strlen(url), pl = strlen(u.password), sl = strlen(u.safe);
        if (n + 3 < sizeof u.safe) { /* the safe form was not cut */
            if (sl != n - pl + (pl ? 3 : 0)) __builtin_trap();
            const char *at = strrchr(url, '@');
            if (at && strcmp(u.safe + sl - strlen(at), at) != 0) __builtin_trap();
            if (pl && !strstr(u.safe, "***@")) __builtin_trap();
        }
    }
    free(url);
    return 0;
}
