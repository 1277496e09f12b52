/* redisurl.h - the one parser of Redis URLs (no I/O).
 *
 *   redis://[[user]:password@]host[:port][/db]     TCP; host is a name, IPv4 or [IPv6]
 *   redis://password@host[:port][/db]              the password alone (as redis-cli reads it)
 *   unix://[[user]:password@]/path/to.sock[?db=N]  a Unix socket
 *   rediss://...                                   TLS: recognised, refused while the hiredis
 *                                                  we build against has no TLS (MD_REDIS_TLS)
 *
 * The userinfo ends at the LAST '@', and the user at its FIRST ':', so a password may hold
 * ':' and '@' as they are (no percent-decoding). The port must be 1..65535 and nothing else;
 * the database 0..2147483646 (the server checks it against its own `databases` at SELECT).
 * Parsing lives in core so that the config check (md_config_validate) and the connection
 * code (cache/redis.h, the only module that talks to Redis) read a URL the same way. */
#ifndef MD_CORE_REDISURL_H
#define MD_CORE_REDISURL_H

#include "core/error.h"

/* 1 once the build links a hiredis with TLS (hiredis >= 1.0 and hiredis_ssl; Debian 12's
 * libhiredis-dev 0.14.1 has neither): rediss:// is then accepted and cache/redis.c makes the
 * TLS handshake with md_redis_options.tls. */
#define MD_REDIS_TLS 0

#define MD_REDIS_HOST_MAX 256 /* a host name, an IP address or a socket path */
#define MD_REDIS_USER_MAX 128
#define MD_REDIS_PASSWORD_MAX 256

typedef struct md_redis_url {
    int unix_socket;                      /* 1: host is the path of a Unix socket */
    int tls;                              /* rediss:// */
    char host[MD_REDIS_HOST_MAX];         /* without brackets for IPv6 */
    int port;                             /* 6379 unless given (0 for a socket) */
    int db;                               /* SELECTed after connecting when not 0 */
    char user[MD_REDIS_USER_MAX];         /* ACL user ("" = the default user) */
    char password[MD_REDIS_PASSWORD_MAX]; /* "" = no AUTH */
    char safe[512];                       /* the URL for logs, the password as "***" */
} md_redis_url;

/* Parses url into *out (written only on success). MD_ECONFIG with a message that names the
 * faulty part and never quotes the password (the caller prefixes the key, e.g. "redis.url"). */
int md_redis_url_parse(const char *url, md_redis_url *out, md_error *err);

#endif
