/* services_quota.c - where the providers' request budgets live beyond one process.
 *
 *   with redis.url   one budget per provider, API key (its hash) and scope ("all" or an
 *                    endpoint class), shared by every agent on that Redis database and
 *                    cache.prefix: a Lua script checks and takes n requests from every
 *                    window at once (per second and per minute: sorted sets of spend times
 *                    on Redis' own clock; per day: a counter per provider day that expires
 *                    after it), so two agents never both take the last token, and the
 *                    budget outlives restarts. A pause (Retry-After, a daily-limit notice)
 *                    is a key with that TTL. While Redis cannot be reached each agent keeps
 *                    within the whole budget on its own (the manager's local view).
 *   without Redis    the manager's budgets are saved in the store (md_store_doc_put, one
 *                    line per budget) after every change and read back at start, so three
 *                    restarts in a minute still send at most the minute's budget.
 *
 * Keys: <cache.prefix>quota:{<provider>:<key hash>}:pause, ...:<scope>:s, ...:<scope>:m,
 * ...:<scope>:d:<day> (the braces keep one provider's keys in one Redis Cluster slot).
 *
 * Also the Redis adapter a part of the services opens for itself (md_services__redis_open)
 * and the deployment's namespace on a shared Redis server (redis.namespace), which the
 * stream relay's channel carries: pub/sub ignores the database number. */
#include "query/services_int.h"

#include "cache/redis.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/redisurl.h"
#include "core/timefmt.h"
#include "sources/manager.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

struct md_svc_quota {
    md_services *svc;
    md_redis *redis; /* NULL: the store keeps the budgets */
    char prefix[160];
    char instance[24];
    atomic_uint_fast64_t seq;
};

void md_services__redis_namespace(const md_config *cfg, char *dst, size_t n)
{
    if (cfg->redis_namespace && cfg->redis_namespace[0]) {
        snprintf(dst, n, "%s", cfg->redis_namespace);
        return;
    }
    md_redis_url u;
    md_error e;
    int db = cfg->redis && cfg->redis[0] && md_redis_url_parse(cfg->redis, &u, &e) == 0 ? u.db : 0;
    snprintf(dst, n, "%sdb%d", cfg->cache_prefix ? cfg->cache_prefix : "", db);
}

int md_services__redis_open(const md_config *cfg, const char *module, md_redis **out, md_error *err)
{
    *out = NULL;
    if (!cfg->redis || !cfg->redis[0]) return 0;
    md_redis_options ro;
    md_redis_options_from_config(&ro, cfg);
    ro.log_module = module;
    return md_redis_new(&ro, out, err);
}

/* -- Redis ----------------------------------------------------------------------------------- */

/* KEYS: pause, then per budget: its second set, minute set, day counter.
 * ARGV: n, reserve, member id, day end (ms), then per budget: per second, minute, day.
 * Returns {1, 0} taken, {0, wait_ms} refused, {0, -1} never (n is over a limit). */
static md_redis_script take_script = MD_REDIS_SCRIPT(
    "if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local n, reserve, id, day_end = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], "
    "tonumber(ARGV[4])\n"
    "local nb = (#KEYS - 1) / 3\n"
    "local pttl = redis.call('PTTL', KEYS[1])\n"
    "if pttl > 0 then return {0, pttl} end\n"
    "local function need(limit)\n"
    "  if reserve > 0 then return n + math.ceil(limit * reserve) end\n"
    "  return n\n"
    "end\n"
    "local function window(key, limit, span)\n"
    "  if limit <= 0 then return 0 end\n"
    "  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)\n"
    "  local k = need(limit)\n"
    "  if k > limit then return -1 end\n"
    "  local c = redis.call('ZCARD', key)\n"
    "  if c + k <= limit then return 0 end\n"
    "  local e = redis.call('ZRANGE', key, c + k - limit - 1, c + k - limit - 1, 'WITHSCORES')\n"
    "  local w = tonumber(e[2]) + span - now\n"
    "  if w < 1 then w = 1 end\n"
    "  return w\n"
    "end\n"
    "local wait = 0\n"
    "for i = 0, nb - 1 do\n"
    "  local ps, pm, pd = tonumber(ARGV[5 + i * 3]), tonumber(ARGV[6 + i * 3]), "
    "tonumber(ARGV[7 + i * 3])\n"
    "  local ws = window(KEYS[2 + i * 3], ps, 1000)\n"
    "  local wm = window(KEYS[3 + i * 3], pm, 60000)\n"
    "  if ws < 0 or wm < 0 then return {0, -1} end\n"
    "  if ws > wait then wait = ws end\n"
    "  if wm > wait then wait = wm end\n"
    "  if pd > 0 then\n"
    "    local k = need(pd)\n"
    "    if k > pd then return {0, -1} end\n"
    "    local used = tonumber(redis.call('GET', KEYS[4 + i * 3]) or '0')\n"
    "    if used + k > pd then\n"
    "      local w = day_end - now\n"
    "      if w < 1 then w = 1 end\n"
    "      if w > wait then wait = w end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if wait > 0 then return {0, wait} end\n"
    "for i = 0, nb - 1 do\n"
    "  local ps, pm, pd = tonumber(ARGV[5 + i * 3]), tonumber(ARGV[6 + i * 3]), "
    "tonumber(ARGV[7 + i * 3])\n"
    "  for j = 1, n do\n"
    "    if ps > 0 then redis.call('ZADD', KEYS[2 + i * 3], now, id .. ':' .. j) end\n"
    "    if pm > 0 then redis.call('ZADD', KEYS[3 + i * 3], now, id .. ':' .. j) end\n"
    "  end\n"
    "  if ps > 0 then redis.call('PEXPIRE', KEYS[2 + i * 3], 2000) end\n"
    "  if pm > 0 then redis.call('PEXPIRE', KEYS[3 + i * 3], 61000) end\n"
    "  if pd > 0 then\n"
    "    redis.call('INCRBY', KEYS[4 + i * 3], n)\n"
    "    redis.call('PEXPIREAT', KEYS[4 + i * 3], day_end + 3600000)\n"
    "  end\n"
    "end\n"
    "return {1, 0}\n");

/* KEYS[1] pause; ARGV[1] until (ms, wall clock). Never shortens a pause. */
static md_redis_script pause_script =
    MD_REDIS_SCRIPT("if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
                    "local t = redis.call('TIME')\n"
                    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                    "local ttl = tonumber(ARGV[1]) - now\n"
                    "if ttl <= 0 then return 0 end\n"
                    "if redis.call('PTTL', KEYS[1]) < ttl then\n"
                    "  redis.call('SET', KEYS[1], '1', 'PX', ttl)\n"
                    "end\n"
                    "return 1\n");

/* KEYS and ARGV as take (n unused); read only. Returns {left (-1 unlimited), reset_ms}. */
static md_redis_script left_script = MD_REDIS_SCRIPT(
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local day_end = tonumber(ARGV[4])\n"
    "local pttl = redis.call('PTTL', KEYS[1])\n"
    "if pttl > 0 then return {0, pttl} end\n"
    "local nb = (#KEYS - 1) / 3\n"
    "local left, reset = -1, 0\n"
    "local function use(l, r)\n"
    "  if left < 0 or l < left then left = l end\n"
    "  if l <= 0 and r > reset then reset = r end\n"
    "end\n"
    "local function window(key, limit, span)\n"
    "  if limit <= 0 then return end\n"
    "  local c = redis.call('ZCOUNT', key, now - span + 1, '+inf')\n"
    "  local r = 0\n"
    "  if c >= limit then\n"
    "    local e = redis.call('ZRANGEBYSCORE', key, now - span + 1, '+inf', 'WITHSCORES', "
    "'LIMIT', 0, 1)\n"
    "    if e[2] then r = tonumber(e[2]) + span - now end\n"
    "  end\n"
    "  use(limit - c, r)\n"
    "end\n"
    "for i = 0, nb - 1 do\n"
    "  local ps, pm, pd = tonumber(ARGV[5 + i * 3]), tonumber(ARGV[6 + i * 3]), "
    "tonumber(ARGV[7 + i * 3])\n"
    "  window(KEYS[2 + i * 3], ps, 1000)\n"
    "  window(KEYS[3 + i * 3], pm, 60000)\n"
    "  if pd > 0 then\n"
    "    local used = tonumber(redis.call('GET', KEYS[4 + i * 3]) or '0')\n"
    "    local l = pd - used\n"
    "    if l < 0 then l = 0 end\n"
    "    use(l, day_end - now)\n"
    "  end\n"
    "end\n"
    "return {left, reset}\n");

#define MAX_ARGS (1 + 3 * 2 + 4 + 3 * 2)

typedef struct script_args {
    char buf[MAX_ARGS][200];
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    int nkeys, nargs;
} script_args;

static void arg(script_args *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(script_args *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int i = s->nargs++;
    vsnprintf(s->buf[i], sizeof s->buf[i], fmt, ap);
    va_end(ap);
    s->argv[i] = s->buf[i];
    s->lens[i] = strlen(s->buf[i]);
}

/* The keys and arguments of an ask (take_script's layout). */
static void build(md_svc_quota *q, const md_quota_ask *a, script_args *s)
{
    memset(s, 0, sizeof *s);
    arg(s, "%squota:{%s:%s}:pause", q->prefix, a->provider, a->key_tag);
    for (int i = 0; i < a->nb; i++) {
        arg(s, "%squota:{%s:%s}:%s:s", q->prefix, a->provider, a->key_tag, a->b[i].scope);
        arg(s, "%squota:{%s:%s}:%s:m", q->prefix, a->provider, a->key_tag, a->b[i].scope);
        arg(s, "%squota:{%s:%s}:%s:d:%" PRId64, q->prefix, a->provider, a->key_tag, a->b[i].scope,
            a->day);
    }
    s->nkeys = s->nargs;
    arg(s, "%d", a->n);
    arg(s, "%.4f", a->reserve);
    arg(s, "%s:%" PRIu64, q->instance, (uint64_t)atomic_fetch_add(&q->seq, 1));
    arg(s, "%" PRId64, a->day_ends_ms);
    for (int i = 0; i < a->nb; i++) {
        arg(s, "%d", a->b[i].per_second);
        arg(s, "%d", a->b[i].per_minute);
        arg(s, "%d", a->b[i].per_day);
    }
}

/* Runs a script on an ask's keys and arguments (build) that answers {a, b}; 0 with both, or
 * < 0 (Redis unusable, or an error reply). */
static int run2(md_svc_quota *q, md_redis_script *sc, const md_quota_ask *a, long long *x,
                long long *y)
{
    script_args args, *s = &args;
    build(q, a, s);
    redisReply *rep = NULL;
    int rc = md_redis_eval(q->redis, sc, s->nkeys, s->nargs, s->argv, s->lens, &rep);
    if (rc) return rc;
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
             rep->element[0]->type == REDIS_REPLY_INTEGER &&
             rep->element[1]->type == REDIS_REPLY_INTEGER;
    if (ok) {
        *x = rep->element[0]->integer;
        *y = rep->element[1]->integer;
    } else {
        MD_WARN("sources", "shared budget script failed: %s",
                rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    }
    freeReplyObject(rep);
    return ok ? 0 : MD_EIO;
}

static int redis_take(void *ctx, const md_quota_ask *a, int64_t *retry_in_ms)
{
    long long ok, wait;
    int rc = run2(ctx, &take_script, a, &ok, &wait);
    if (rc) return rc;
    if (!ok && retry_in_ms) *retry_in_ms = wait;
    return ok ? 1 : 0;
}

static void redis_pause(void *ctx, const char *provider, const char *key_tag, int64_t until_ms)
{
    md_svc_quota *q = ctx;
    script_args s;
    memset(&s, 0, sizeof s);
    arg(&s, "%squota:{%s:%s}:pause", q->prefix, provider, key_tag);
    s.nkeys = 1;
    arg(&s, "%" PRId64, until_ms);
    redisReply *rep = NULL;
    if (md_redis_eval(q->redis, &pause_script, s.nkeys, s.nargs, s.argv, s.lens, &rep) == 0)
        freeReplyObject(rep);
}

static int redis_remaining(void *ctx, const md_quota_ask *a, int *left, int64_t *reset_ms)
{
    long long l, r;
    int rc = run2(ctx, &left_script, a, &l, &r);
    if (rc) return rc;
    *left = (int)l;
    *reset_ms = r > 0 ? r : 0;
    return 0;
}

/* -- the store ------------------------------------------------------------------------------- */

static int store_load(void *ctx, const char *key, char **text)
{
    md_svc_quota *q = ctx;
    md_error e;
    int rc = md_store_doc_get(q->svc->store, key, text, &e);
    if (rc < 0) MD_WARN("sources", "cannot read a saved budget key=%s: %s", key, e.msg);
    return rc;
}

static int store_save(void *ctx, const char *key, const char *text)
{
    md_svc_quota *q = ctx;
    md_error e;
    const char *keys[1] = {key}, *vals[1] = {text};
    int rc = md_store_doc_put(q->svc->store, keys, vals, 1, &e);
    if (rc < 0) MD_DEBUG("sources", "cannot save a budget key=%s: %s", key, e.msg);
    return rc;
}

/* -- life cycle ------------------------------------------------------------------------------ */

int md_services__quota_open(md_services *svc, md_srcmgr *m, md_svc_quota **out, md_error *err)
{
    *out = NULL;
    const md_config *cfg = svc->cfg;
    md_svc_quota *q = md_calloc(1, sizeof *q);
    q->svc = svc;
    atomic_init(&q->seq, 0);
    snprintf(q->prefix, sizeof q->prefix, "%s", cfg->cache_prefix ? cfg->cache_prefix : "");
    snprintf(q->instance, sizeof q->instance, "%08" PRIx64,
             (uint64_t)md_mono_ns() ^ ((uint64_t)md_now_ms() << 16) ^ (uint64_t)getpid());
    int rc = md_services__redis_open(cfg, "sources", &q->redis, err);
    if (rc) {
        md_free(q);
        return rc;
    }
    if (q->redis) {
        md_srcmgr_quota sq = {redis_take, redis_pause, redis_remaining, q};
        md_srcmgr_set_quota(m, &sq);
        MD_INFO("sources", "provider budgets shared through redis=%s prefix=%s",
                md_redis_safe_url(q->redis), q->prefix);
    } else if (svc->store) {
        md_srcmgr_persist sp = {store_load, store_save, q};
        md_srcmgr_set_persist(m, &sp);
    }
    *out = q;
    return 0;
}

void md_services__quota_close(md_svc_quota *q)
{
    if (!q) return;
    md_redis_free(q->redis);
    md_free(q);
}
