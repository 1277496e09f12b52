/* test_redis.c - the Redis adapter: the URL grammar (core/redisurl.h) and, against real
 * servers, the connection (timeouts, AUTH with an ACL user, SELECT, Unix sockets), the
 * breaker opening and closing, the pool replacing a killed connection, pub/sub and scripts
 * after SCRIPT FLUSH (cache/redis.h). The shared server is the test services' Redis
 * (MDTEST_STATE); tests that stop a server start a private redis-server of their own. */
#include "cache/redis.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/redisurl.h"
#include "core/timefmt.h"

#include "testutil.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* a write to a connection the server closed must fail, not kill the test (as in serve) */
__attribute__((constructor)) static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

/* -- the URL grammar ------------------------------------------------------------------------- */

static md_redis_url parse_ok(const char *url)
{
    md_redis_url u;
    md_error err;
    cr_assert_eq(md_redis_url_parse(url, &u, &err), 0, "%s: %s", url, err.msg);
    return u;
}

/* Parses a bad URL; the message must not show the password "Zebra42" if the URL had it. */
static const char *parse_bad(const char *url)
{
    static md_error err;
    md_redis_url u;
    cr_assert_eq(md_redis_url_parse(url, &u, &err), MD_ECONFIG, "%s was accepted", url);
    cr_assert_null(strstr(err.msg, "Zebra42"), "%s: %s", url, err.msg);
    return err.msg;
}

Test(redis_url, user_and_password_may_hold_colons_and_at_signs)
{
    md_redis_url u = parse_ok("redis://alice:s3:cr@t@cache.local:6380/2");
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.password, "s3:cr@t");
    cr_assert_str_eq(u.host, "cache.local");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 2);
    cr_assert_eq(u.unix_socket, 0);
    cr_assert_str_eq(u.safe, "redis://alice:***@cache.local:6380/2");

    u = parse_ok("redis://:Zebra42@h");
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "Zebra42");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    cr_assert_str_eq(u.safe, "redis://:***@h");
    /* userinfo without ':' is the password, as redis-cli -u reads it */
    u = parse_ok("redis://Zebra42@h/3");
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "Zebra42");
    cr_assert_str_eq(u.safe, "redis://***@h/3");
    u = parse_ok("redis://h:1/");
    cr_assert_eq(u.port, 1);
    cr_assert_eq(u.db, 0);
    cr_assert_str_eq(u.password, "");
    cr_assert_str_eq(u.safe, "redis://h:1/");
    u = parse_ok("redis://10.0.0.7:65535");
    cr_assert_eq(u.port, 65535);
    cr_assert_str_eq(parse_bad("redis://bob:@h"), "user 'bob' has no password (AUTH needs one)");
}

Test(redis_url, an_empty_host_is_refused)
{
    const char *bad[] = {"redis://", "redis://:6379", "redis://u:Zebra42@:6379/0", "redis:///0",
                         "redis://Zebra42@"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        cr_assert(strstr(parse_bad(bad[i]), "no host"), "%s", bad[i]);
}

Test(redis_url, ports_are_numbers_from_1_to_65535_and_nothing_else)
{
    const char *bad[] = {"redis://h:6379abc", "redis://h:6379abc/0",
                         "redis://h:0",       "redis://h:65536",
                         "redis://h:",        "redis://h:-1",
                         "redis://h: 6379",   "redis://h:+6379",
                         "redis://h:0x10",    "redis://h:99999999999999999999999"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        cr_assert(strstr(parse_bad(bad[i]), "1..65535"), "%s", bad[i]);
}

Test(redis_url, databases_are_numbers_in_range)
{
    cr_assert_eq(parse_ok("redis://h/15").db, 15);
    cr_assert_eq(parse_ok("redis://h:7/2147483646").db, 2147483646);
    const char *bad[] = {"redis://h/2147483647", "redis://h/-1", "redis://h/1x", "redis://h/0/1",
                         "redis://h/db0"};
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        cr_assert(strstr(parse_bad(bad[i]), "database"), "%s", bad[i]);
}

Test(redis_url, ipv6_addresses_go_in_brackets)
{
    md_redis_url u = parse_ok("redis://[::1]:7000/1");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 7000);
    cr_assert_eq(u.db, 1);
    u = parse_ok("redis://u:Zebra42@[fe80::1%eth0]");
    cr_assert_str_eq(u.host, "fe80::1%eth0");
    cr_assert_eq(u.port, 6379);
    cr_assert(strstr(parse_bad("redis://::1:6379"), "brackets"));
    cr_assert(strstr(parse_bad("redis://[::1:6379"), "']'"));
    parse_bad("redis://[]:6379");
    parse_bad("redis://[::1]x:6379");
    parse_bad("redis://[::1]:abc");
}

Test(redis_url, schemes_hosts_and_queries_are_checked)
{
    cr_assert(strstr(parse_bad("http://u:Zebra42@h"), "'http://'"));
    parse_bad("h:6379");
    parse_bad("Zebra42@h:6379");
    parse_bad("");
    parse_bad(NULL);
    cr_assert(strstr(parse_bad("rediss://u:Zebra42@h:6380"), "TLS"));
    cr_assert(strstr(parse_bad("redis://h:6379/0?timeout=1"), "query"));
    parse_bad("redis://h?db=1");
    parse_bad("redis://h_o st:1");
    parse_bad("redis://h/o:1");
    char long_host[300];
    memset(long_host, 'a', sizeof long_host);
    memcpy(long_host, "redis://", 8);
    long_host[sizeof long_host - 1] = 0;
    parse_bad(long_host);
}

Test(redis_url, unix_sockets)
{
    md_redis_url u = parse_ok("unix:///run/redis/redis.sock");
    cr_assert_eq(u.unix_socket, 1);
    cr_assert_str_eq(u.host, "/run/redis/redis.sock");
    cr_assert_eq(u.db, 0);
    u = parse_ok("unix://app:Zebra42@/tmp/r.sock?db=3");
    cr_assert_str_eq(u.user, "app");
    cr_assert_str_eq(u.password, "Zebra42");
    cr_assert_str_eq(u.host, "/tmp/r.sock");
    cr_assert_eq(u.db, 3);
    cr_assert_str_eq(u.safe, "unix://app:***@/tmp/r.sock?db=3");
    parse_bad("unix://relative.sock");
    parse_bad("unix://");
    parse_bad("unix:///tmp/r.sock?db=x");
    parse_bad("unix:///tmp/r.sock?timeout=1");
}

/* -- servers --------------------------------------------------------------------------------- */

/* The services' Redis (MDTEST_STATE), or skip. */
static const char *shared_url(void)
{
    const char *url = md_test_service("MDTEST_REDIS_URL");
    if (!url) cr_skip_test("no test Redis (run through ctest)");
    return url;
}

static int shared_port(void)
{
    const char *p = md_test_service("MDTEST_REDIS_PORT");
    cr_assert_not_null(p);
    return atoi(p);
}

static md_redis *new_redis(const char *url, int timeout_ms)
{
    md_redis_options o;
    md_redis_options_default(&o);
    o.url = url;
    o.connect_timeout_ms = 1000;
    o.timeout_ms = timeout_ms;
    md_redis *r = NULL;
    md_error err;
    cr_assert_eq(md_redis_new(&o, &r, &err), 0, "%s", err.msg);
    return r;
}

/* A command on c; the reply is the caller's. */
static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert_not_null(rep, "%s: %s", fmt, c->errstr);
    return rep;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t n = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &n);
    close(fd);
    return ntohs(a.sin_port);
}

/* A private redis-server on loopback port (and a Unix socket when sock is given), up and
 * answering when this returns; stop it with kill_redis. */
static pid_t start_redis(int port, const char *sock)
{
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        if (sock)
            execlp("redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1", "--save",
                   "", "--appendonly", "no", "--unixsocket", sock, "--unixsocketperm", "700",
                   (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1", "--save",
                   "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){0, 100000});
        if (c && !c->err) {
            redisReply *rep = redisCommand(c, "PING");
            int up = rep && rep->type == REDIS_REPLY_STATUS;
            if (rep) freeReplyObject(rep);
            redisFree(c);
            if (up) return pid;
        } else if (c) {
            redisFree(c);
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    cr_assert_fail("redis-server did not start on port %d", port);
    return -1;
}

static void kill_redis(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

/* -- connecting ------------------------------------------------------------------------------ */

Test(redis, auth_with_an_acl_user_and_select)
{
    const char *base = shared_url();
    char user[64], url[256], bad_url[256];
    snprintf(user, sizeof user, "ut_%d", (int)getpid());
    const char *password = "Zeb:ra@42/x"; /* ':', '@' and '/' as they are */
    md_redis *admin = new_redis(base, 1000);
    md_error err;
    redisContext *a = md_redis_connect(admin, &err);
    cr_assert_not_null(a, "%s", err.msg);
    freeReplyObject(cmd(a, "ACL SETUSER %s reset on >%s ~* &* +@all", user, password));

    int port = shared_port();
    snprintf(url, sizeof url, "redis://%s:%s@127.0.0.1:%d/7", user, password, port);
    md_redis *r = new_redis(url, 1000);
    cr_assert_null(strstr(md_redis_safe_url(r), "Zeb"));
    redisContext *c = md_redis_connect(r, &err);
    cr_assert_not_null(c, "%s", err.msg);
    redisReply *rep = cmd(c, "ACL WHOAMI");
    cr_assert_str_eq(rep->str, user, "authenticated as the URL's user");
    freeReplyObject(rep);
    rep = cmd(c, "CLIENT INFO");
    cr_assert_not_null(strstr(rep->str, " db=7 "), "%s", rep->str);
    freeReplyObject(rep);
    freeReplyObject(cmd(c, "SET ut:acl:%d seven", (int)getpid()));
    redisFree(c);
    /* the key went to database 7, not 0 */
    freeReplyObject(cmd(a, "SELECT 7"));
    rep = cmd(a, "GET ut:acl:%d", (int)getpid());
    cr_assert_eq(rep->type, REDIS_REPLY_STRING);
    cr_assert_str_eq(rep->str, "seven");
    freeReplyObject(rep);
    freeReplyObject(cmd(a, "DEL ut:acl:%d", (int)getpid()));
    md_redis_free(r);

    /* a wrong password: a configuration error naming AUTH, without the password */
    snprintf(bad_url, sizeof bad_url, "redis://%s:Zebra42@127.0.0.1:%d/7", user, port);
    r = new_redis(bad_url, 1000);
    cr_assert_null(md_redis_connect(r, &err));
    cr_assert_eq(err.rc, MD_ECONFIG, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "AUTH refused"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "Zebra42"), "%s", err.msg);
    md_redis_free(r);
    /* a database the server does not have */
    snprintf(bad_url, sizeof bad_url, "redis://%s:%s@127.0.0.1:%d/100000", user, password, port);
    r = new_redis(bad_url, 1000);
    cr_assert_null(md_redis_connect(r, &err));
    cr_assert_eq(err.rc, MD_ECONFIG, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "SELECT refused"), "%s", err.msg);
    md_redis_free(r);

    freeReplyObject(cmd(a, "ACL DELUSER %s", user));
    redisFree(a);
    md_redis_free(admin);
}

/* A listening socket whose accept queue is full: the kernel drops further SYNs, so a
 * connect neither succeeds nor fails - it hangs until the client gives up. */
static int full_listener(int *port, int *held, int nheld)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 0), 0);
    socklen_t n = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &n);
    *port = ntohs(a.sin_port);
    for (int i = 0; i < nheld; i++) { /* fill the queue (backlog 0 holds one) */
        held[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(held[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50000);
    return fd;
}

Test(redis, connect_timeout_against_a_socket_that_never_answers)
{
    int port, held[3];
    int lfd = full_listener(&port, held, 3);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    md_redis_options o;
    md_redis_options_default(&o);
    o.url = url;
    o.connect_timeout_ms = 300;
    md_redis *r = NULL;
    cr_assert_eq(md_redis_new(&o, &r, NULL), 0);
    md_error err;
    int64_t t0 = md_mono_ms();
    cr_assert_null(md_redis_connect(r, &err));
    int64_t took = md_mono_ms() - t0;
    cr_assert_eq(err.rc, MD_ETIMEOUT, "%s", err.msg);
    cr_assert_geq(took, 250, "gave up after %lld ms", (long long)took);
    cr_assert_lt(took, 2000, "gave up after %lld ms", (long long)took);
    md_redis_free(r);
    for (int i = 0; i < 3; i++) close(held[i]);
    close(lfd);
}

Test(redis, command_timeout_bounds_the_handshake)
{
    /* the connection is accepted (by the kernel) but nobody answers AUTH */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t n = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &n);
    char url[96];
    snprintf(url, sizeof url, "redis://u:Zebra42@127.0.0.1:%d/0", ntohs(a.sin_port));
    md_redis *r = new_redis(url, 200);
    md_error err;
    int64_t t0 = md_mono_ms();
    cr_assert_null(md_redis_connect(r, &err));
    int64_t took = md_mono_ms() - t0;
    cr_assert_eq(err.rc, MD_ETIMEOUT, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "AUTH"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "Zebra42"), "%s", err.msg);
    cr_assert_geq(took, 150, "gave up after %lld ms", (long long)took);
    cr_assert_lt(took, 2000, "gave up after %lld ms", (long long)took);
    md_redis_free(r);
    close(fd);
}

Test(redis, unix_socket_with_a_database)
{
    shared_url(); /* skips outside ctest like the others */
    int port = free_port();
    const char *sock = md_test_path("redis.sock");
    unlink(sock);
    pid_t pid = start_redis(port, sock);
    char url[600];
    snprintf(url, sizeof url, "unix://%s?db=2", sock);
    md_redis *r = new_redis(url, 1000);
    md_error err;
    redisContext *c = md_redis_connect(r, &err);
    cr_assert_not_null(c, "%s", err.msg);
    redisReply *rep = cmd(c, "CLIENT INFO");
    cr_assert_not_null(strstr(rep->str, " db=2 "), "%s", rep->str);
    cr_assert_not_null(strstr(rep->str, "laddr=/"), "over the socket: %s", rep->str);
    freeReplyObject(rep);
    redisFree(c);
    md_redis_free(r);
    kill_redis(pid);
}

/* -- the breaker and the pool ---------------------------------------------------------------- */

static int ping(md_redis *r)
{
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    redisReply *rep = NULL;
    int rc = md_redis_command(r, &rep, 1, argv, lens);
    if (rc == 0) {
        cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
        cr_assert_str_eq(rep->str, "PONG");
        freeReplyObject(rep);
    } else {
        cr_assert_null(rep);
    }
    return rc;
}

Test(redis, breaker_opens_after_failures_and_closes_after_a_good_trial)
{
    shared_url();
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    md_redis_options o;
    md_redis_options_default(&o);
    o.url = url;
    o.breaker_failures = 2;
    o.breaker_cooldown_ms = 1000;
    o.clock_ms = fake_clock;
    fake_now = 1000000;
    md_redis *r = NULL;
    cr_assert_eq(md_redis_new(&o, &r, NULL), 0);

    /* nobody listens: two real failures open the breaker */
    cr_assert_eq(ping(r), MD_EIO);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_CLOSED);
    cr_assert_eq(ping(r), MD_EIO);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_OPEN);
    cr_assert_eq(md_redis_retry_in_ms(r), 1000);

    /* the server comes back, but the cool-down is not over: refused without trying */
    pid_t pid = start_redis(port, NULL);
    cr_assert_eq(ping(r), MD_EUNAVAIL);
    md_error err;
    cr_assert_null(md_redis_connect(r, &err));
    cr_assert_eq(err.rc, MD_EUNAVAIL);
    fake_now += 999;
    cr_assert_eq(md_redis_retry_in_ms(r), 1);
    cr_assert_eq(ping(r), MD_EUNAVAIL);

    /* cool-down over: one trial, it succeeds, the breaker closes */
    fake_now += 1;
    cr_assert_eq(md_redis_retry_in_ms(r), 0);
    cr_assert_eq(ping(r), 0);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_CLOSED);
    cr_assert_eq(ping(r), 0);

    /* a failed trial opens it again for a whole cool-down */
    kill_redis(pid);
    cr_assert_neq(ping(r), 0); /* the pooled connection was closed: replaced, then refused */
    cr_assert_eq(ping(r), MD_EIO);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_OPEN);
    fake_now += 1000;
    cr_assert_eq(ping(r), MD_EIO, "the trial");
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_OPEN);
    cr_assert_eq(md_redis_retry_in_ms(r), 1000);
    /* connects count too: a long-lived connection's owner reconnects through the breaker */
    fake_now += 1000;
    cr_assert_null(md_redis_connect(r, &err));
    cr_assert_eq(err.rc, MD_EIO, "%s", err.msg);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_OPEN);
    pid = start_redis(port, NULL);
    fake_now += 1000;
    redisContext *c = md_redis_connect(r, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_CLOSED);
    redisFree(c);
    /* and a broken long-lived connection reported by its owner counts as a failure */
    md_redis_report(r, 0);
    md_redis_report(r, 0);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_OPEN);
    md_redis_free(r);
    kill_redis(pid);
}

Test(redis, a_pooled_connection_killed_by_the_server_is_replaced)
{
    md_redis_options o;
    md_redis_options_default(&o);
    o.url = shared_url();
    o.pool_size = 1;
    o.breaker_failures = 1; /* any failure that reached the breaker would show */
    md_redis *r = NULL;
    cr_assert_eq(md_redis_new(&o, &r, NULL), 0);
    const char *argv[2] = {"CLIENT", "ID"};
    size_t lens[2] = {6, 2};
    redisReply *rep;
    cr_assert_eq(md_redis_command(r, &rep, 2, argv, lens), 0);
    long long id = rep->integer;
    freeReplyObject(rep);
    md_redis *admin = new_redis(shared_url(), 1000);
    redisContext *a = md_redis_connect(admin, NULL);
    cr_assert_not_null(a);
    rep = cmd(a, "CLIENT KILL ID %lld", id);
    cr_assert_eq(rep->integer, 1, "the pooled connection was killed");
    freeReplyObject(rep);
    cr_assert_eq(md_redis_command(r, &rep, 2, argv, lens), 0);
    cr_assert_neq(rep->integer, id, "a new connection answered");
    freeReplyObject(rep);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_CLOSED);
    redisFree(a);
    md_redis_free(admin);
    md_redis_free(r);
}

/* -- pub/sub and scripts --------------------------------------------------------------------- */

Test(redis, subscriber_waits_longer_than_the_command_timeout)
{
    md_redis *r = new_redis(shared_url(), 100);
    char chan[64];
    snprintf(chan, sizeof chan, "ut:chan:%d", (int)getpid());
    md_error err;
    redisContext *s = md_redis_subscribe(r, chan, &err);
    cr_assert_not_null(s, "%s", err.msg);
    usleep(300000); /* three command timeouts of silence */
    const char *argv[3] = {"PUBLISH", chan, "hello"};
    size_t lens[3] = {7, strlen(chan), 5};
    redisReply *rep;
    cr_assert_eq(md_redis_command(r, &rep, 3, argv, lens), 0);
    cr_assert_eq(rep->integer, 1, "one subscriber heard it");
    freeReplyObject(rep);
    void *m = NULL;
    cr_assert_eq(redisGetReply(s, &m), REDIS_OK, "%s", s->errstr);
    const char *ch, *data;
    size_t len;
    cr_assert_eq(md_redis_message(m, &ch, &data, &len), 1);
    cr_assert_str_eq(ch, chan);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(data, "hello", 5), 0);
    freeReplyObject(m);
    redisFree(s);
    md_redis_free(r);
}

static md_redis_script concat = MD_REDIS_SCRIPT("return ARGV[1] .. ':' .. KEYS[1]");

static void eval_concat(md_redis *r)
{
    const char *args[2] = {"k1", "v1"};
    size_t lens[2] = {2, 2};
    redisReply *rep;
    cr_assert_eq(md_redis_eval(r, &concat, 1, 2, args, lens, &rep), 0);
    cr_assert_eq(rep->type, REDIS_REPLY_STRING, "%s", rep->str ? rep->str : "");
    cr_assert_str_eq(rep->str, "v1:k1");
    freeReplyObject(rep);
}

static long long script_exists(redisContext *a, const char *sha)
{
    redisReply *rep = cmd(a, "SCRIPT EXISTS %s", sha);
    cr_assert_eq(rep->type, REDIS_REPLY_ARRAY);
    long long v = rep->element[0]->integer;
    freeReplyObject(rep);
    return v;
}

Test(redis, scripts_run_by_sha_and_are_loaded_again_after_script_flush)
{
    md_redis *r = new_redis(shared_url(), 1000);
    md_redis *admin = new_redis(shared_url(), 1000);
    redisContext *a = md_redis_connect(admin, NULL);
    cr_assert_not_null(a);
    eval_concat(r);
    cr_assert_eq(strlen(concat.sha), 40, "the SHA1 was learnt");
    cr_assert_eq(script_exists(a, concat.sha), 1);
    freeReplyObject(cmd(a, "SCRIPT FLUSH"));
    cr_assert_eq(script_exists(a, concat.sha), 0, "flushed");
    eval_concat(r); /* NOSCRIPT -> SCRIPT LOAD -> EVALSHA */
    cr_assert_eq(script_exists(a, concat.sha), 1, "loaded again");
    eval_concat(r);

    /* a script that does not compile is an error reply, not a Redis failure */
    static md_redis_script broken = MD_REDIS_SCRIPT("return (");
    redisReply *rep;
    cr_assert_eq(md_redis_eval(r, &broken, 0, 0, NULL, NULL, &rep), 0);
    cr_assert_eq(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    cr_assert_eq(md_redis_get_state(r), MD_REDIS_CLOSED);
    redisFree(a);
    md_redis_free(admin);
    md_redis_free(r);
}

/* -- redaction ------------------------------------------------------------------------------- */

Test(redis, the_password_never_reaches_the_log)
{
    const char *log = md_test_path("redis.log");
    FILE *f = fopen(log, "w+");
    md_log_set_file(f);
    md_log_set_level(MD_LOG_DEBUG);
    md_redis_options o;
    md_redis_options_default(&o);
    o.url = "redis://app:Pw-9f2kq@127.0.0.1:1/0"; /* nobody listens on port 1 */
    o.breaker_failures = 1;
    md_redis *r = NULL;
    cr_assert_eq(md_redis_new(&o, &r, NULL), 0);
    md_error err;
    cr_assert_null(md_redis_connect(r, &err)); /* logs the failure and the breaker opening */
    MD_WARN("test", "as given: %s", o.url);    /* a careless caller */
    md_redis_free(r);
    md_log_set_file(NULL);
    md_log_set_level(MD_LOG_INFO);
    fflush(f);
    rewind(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    cr_assert_not_null(strstr(buf, "breaker open url=redis://app:***@127.0.0.1:1/0"), "%s", buf);
    cr_assert_null(strstr(buf, "Pw-9f2kq"), "%s", buf);
    cr_assert_null(strstr(err.msg, "Pw-9f2kq"), "%s", err.msg);
}
