/* redisurl.c - Redis URL grammar (see redisurl.h). Error messages quote the scheme, host,
 * port and database but never the userinfo, where the password is. */
#include "core/redisurl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define DB_MAX 2147483646L /* Redis keeps the database count in an int */
#define SUN_PATH_MAX 107   /* sizeof(sockaddr_un.sun_path) - 1 on Linux */

/* Reads the decimal number s[0..n) into *out: -1 unless it is only digits and <= max. */
static int parse_uint(const char *s, size_t n, long max, long *out)
{
    if (n == 0) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max) return -1;
    }
    *out = v;
    return 0;
}

static int host_char(char c, int bracketed)
{
    if (isalnum((unsigned char)c) || c == '.' || c == '-') return 1;
    return bracketed ? c == ':' || c == '%' : c == '_';
}

/* host[:port] of a TCP URL, up to end (the '/' of the database or the end of the URL). */
static int parse_host_port(const char *p, const char *end, md_redis_url *u, md_error *err)
{
    const char *hs = p, *he;
    int bracketed = *p == '[';
    if (bracketed) {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) return md_error_set(err, MD_ECONFIG, "the IPv6 address lacks its closing ']'");
        hs = p + 1;
        he = rb;
        p = rb + 1;
        if (p < end && *p != ':')
            return md_error_set(err, MD_ECONFIG, "unexpected '%.20s' after the IPv6 address", p);
    } else {
        he = p;
        while (he < end && *he != ':') he++;
        p = he;
    }
    if (he == hs)
        return md_error_set(err, MD_ECONFIG, "the URL names no host%s",
                            *p == ':' && p + 1 < end && p[1] == ':'
                                ? " (an IPv6 address goes in brackets: [::1])"
                                : "");
    for (const char *c = hs; c < he; c++)
        if (!host_char(*c, bracketed))
            return md_error_set(err, MD_ECONFIG, "host '%.*s' has a character '%c' not allowed",
                                (int)(he - hs > 60 ? 60 : he - hs), hs, *c);
    if ((size_t)(he - hs) >= sizeof u->host)
        return md_error_set(err, MD_ECONFIG, "the host name is longer than %zu characters",
                            sizeof u->host - 1);
    snprintf(u->host, sizeof u->host, "%.*s", (int)(he - hs), hs);
    u->port = 6379;
    if (p < end) { /* *p == ':' */
        long port;
        if (parse_uint(p + 1, (size_t)(end - p - 1), 65535, &port) != 0 || port == 0)
            return md_error_set(err, MD_ECONFIG, "port '%.*s' is not a number 1..65535",
                                (int)(end - p - 1 > 20 ? 20 : end - p - 1), p + 1);
        u->port = (int)port;
    }
    return 0;
}

static int parse_db(const char *s, size_t n, md_redis_url *u, md_error *err)
{
    long db;
    if (parse_uint(s, n, DB_MAX, &db) != 0)
        return md_error_set(err, MD_ECONFIG, "database '%.*s' is not a number 0..%ld",
                            (int)(n > 20 ? 20 : n), s, DB_MAX);
    u->db = (int)db;
    return 0;
}

/* /path/to.sock[?db=N] of a unix:// URL. */
static int parse_socket(const char *p, md_redis_url *u, md_error *err)
{
    const char *q = strchr(p, '?');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n == 0 || *p != '/')
        return md_error_set(err, MD_ECONFIG,
                            "a unix:// URL needs an absolute socket path "
                            "(unix:///run/redis.sock)");
    if (n > SUN_PATH_MAX)
        return md_error_set(err, MD_ECONFIG, "the socket path is longer than %d characters",
                            SUN_PATH_MAX);
    snprintf(u->host, sizeof u->host, "%.*s", (int)n, p);
    u->port = 0;
    if (!q) return 0;
    if (strncmp(q, "?db=", 4) != 0)
        return md_error_set(err, MD_ECONFIG, "unexpected '%.20s' (a socket URL takes ?db=N only)",
                            q);
    return parse_db(q + 4, strlen(q + 4), u, err);
}

int md_redis_url_parse(const char *url, md_redis_url *out, md_error *err)
{
    static const struct {
        const char *scheme;
        int tls, unix_socket;
    } schemes[] = {{"redis://", 0, 0}, {"rediss://", 1, 0}, {"unix://", 0, 1}};
    md_redis_url u;
    memset(&u, 0, sizeof u);
    if (!url || !*url) return md_error_set(err, MD_ECONFIG, "the URL is empty");
    size_t slen = 0;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes && !slen; i++)
        if (strncmp(url, schemes[i].scheme, strlen(schemes[i].scheme)) == 0) {
            slen = strlen(schemes[i].scheme);
            u.tls = schemes[i].tls;
            u.unix_socket = schemes[i].unix_socket;
        }
    if (!slen) {
        const char *sep = strstr(url, "://");
        /* the scheme alone: whatever follows may hold a password */
        if (sep && sep - url <= 16)
            return md_error_set(err, MD_ECONFIG,
                                "scheme '%.*s://' is not redis://, rediss:// or unix://",
                                (int)(sep - url), url);
        return md_error_set(err, MD_ECONFIG,
                            "the URL must start with redis://, rediss:// or "
                            "unix://");
    }
    if (u.tls && !MD_REDIS_TLS)
        return md_error_set(err, MD_ECONFIG,
                            "rediss:// (TLS) is not supported: this build's hiredis has no TLS "
                            "(Debian's libhiredis-dev 0.14); use redis:// on a private network "
                            "or a TLS tunnel");

    const char *p = url + slen;
    const char *at = strrchr(p, '@');
    int colon_form = 0; /* user:password@ rather than password@ */
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        colon_form = colon != NULL;
        size_t ulen = colon ? (size_t)(colon - p) : 0, plen = (size_t)(at - pw);
        if (ulen >= sizeof u.user)
            return md_error_set(err, MD_ECONFIG, "the user name is longer than %zu characters",
                                sizeof u.user - 1);
        if (plen >= sizeof u.password)
            return md_error_set(err, MD_ECONFIG, "the password is longer than %zu characters",
                                sizeof u.password - 1);
        if (ulen && !plen)
            return md_error_set(err, MD_ECONFIG, "user '%.*s' has no password (AUTH needs one)",
                                (int)(ulen > 40 ? 40 : ulen), p);
        memcpy(u.user, p, ulen);
        memcpy(u.password, pw, plen);
        p = at + 1;
    }

    int rc;
    if (u.unix_socket) {
        rc = parse_socket(p, &u, err);
    } else {
        const char *slash = strchr(p, '/');
        const char *end = slash ? slash : p + strlen(p);
        const char *q = memchr(p, '?', (size_t)(end - p));
        if (q || (slash && strchr(slash, '?')))
            return md_error_set(err, MD_ECONFIG,
                                "query parameters are not supported in a "
                                "redis:// URL");
        rc = parse_host_port(p, end, &u, err);
        if (rc == 0 && slash && slash[1]) rc = parse_db(slash + 1, strlen(slash + 1), &u, err);
    }
    if (rc) return rc;

    if (at) /* the URL as written, with the password (only) replaced */
        snprintf(u.safe, sizeof u.safe, "%.*s%s%s%s@%s", (int)slen, url, u.user,
                 colon_form ? ":" : "", u.password[0] ? "***" : "", at + 1);
    else
        snprintf(u.safe, sizeof u.safe, "%s", url);
    *out = u;
    return 0;
}
