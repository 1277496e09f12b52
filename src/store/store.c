/* store.c - backend selection by URL and the backend-independent operations. */
#include "store/rollup.h"
#include "store/store_int.h"

#include "calendar/bucket.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void md_store_options_default(md_store_options *o)
{
    memset(o, 0, sizeof *o);
    o->pool_size = 4;
    o->busy_timeout_ms = 5000;
    o->batch_rows = 50000;
    o->read_only = 0;
    o->pg_timescaledb = -1;
    o->pg_chunk_days = 7;
    o->pg_compress_after_days = 30;
    o->pg_retention_days = 0;
    o->pg_continuous_aggs = 1;
    o->pg_partition_span = MD_PG_SPAN_MONTH;
    o->pg_partitions_ahead = 3;
    o->pg_connect_timeout_s = 5;
    o->pg_direct_copy = 1;
}

int md_store_options_from_config(md_store_options *o, const md_config *cfg, md_error *err)
{
    md_store_options_default(o);
    o->pool_size = (int)cfg->store_pool_size;
    o->busy_timeout_ms = (int)cfg->store_busy_timeout_ms;
    o->batch_rows = (int)cfg->store_batch_rows;
    const char *sync = cfg->sqlite_synchronous ? cfg->sqlite_synchronous : "normal";
    if (strcmp(sync, "full") == 0)
        o->sqlite_sync_full = 1;
    else if (strcmp(sync, "normal") != 0)
        return md_error_set(err, MD_ECONFIG,
                            "store.sqlite_synchronous: '%.20s' is not normal or full", sync);
    const char *t = cfg->pg_timescaledb ? cfg->pg_timescaledb : "auto";
    if (strcmp(t, "auto") == 0)
        o->pg_timescaledb = -1;
    else if (strcmp(t, "on") == 0 || strcmp(t, "true") == 0)
        o->pg_timescaledb = 1;
    else if (strcmp(t, "off") == 0 || strcmp(t, "false") == 0)
        o->pg_timescaledb = 0;
    else
        return md_error_set(err, MD_ECONFIG,
                            "postgresql.timescaledb: '%.20s' is not auto, on or off", t);
    static const char *spans[] = {"day", "week", "month", "year"};
    const char *sp = cfg->pg_partition_span ? cfg->pg_partition_span : "month";
    o->pg_partition_span = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(sp, spans[i]) == 0) o->pg_partition_span = i;
    if (o->pg_partition_span < 0)
        return md_error_set(err, MD_ECONFIG,
                            "postgresql.partition_span: '%.20s' is not day, week, month or year",
                            sp);
    o->pg_chunk_days = (int)cfg->pg_chunk_days;
    o->pg_compress_after_days = (int)cfg->pg_compress_after_days;
    o->pg_retention_days = (int)cfg->pg_retention_days;
    o->pg_continuous_aggs = cfg->pg_continuous_aggregates;
    o->pg_partitions_ahead = (int)cfg->pg_partitions_ahead;
    o->pg_connect_timeout_s = (int)cfg->pg_connect_timeout_s;
    o->pg_direct_copy = cfg->pg_direct_copy;
    return 0;
}

int md_store_open(const char *url, const md_store_options *opt, md_store **out, md_error *err)
{
    md_store_options def;
    if (!opt) {
        md_store_options_default(&def);
        opt = &def;
    }
    const md_store_ops *ops = NULL;
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        ops = &md_store_pg_ops;
    } else if (strncmp(url, "sqlite:", 7) == 0 || !strstr(url, "://")) {
        ops = &md_store_sqlite_ops;
    } else {
        return md_error_set(err, MD_ECONFIG,
                            "unknown store URL '%.40s' (want sqlite:PATH or "
                            "postgresql://...)",
                            url);
    }
    md_store *st = NULL;
    int rc = ops->open(url, opt, &st, err);
    if (rc) return rc;
    st->ops = ops;
    if (!st->url_redacted) {
        char red[512];
        md_log_redact(url, red, sizeof red);
        st->url_redacted = md_strdup(red);
    }
    *out = st;
    return 0;
}

static void replica_free(md_store_replica *r);

void md_store_close(md_store *st)
{
    if (!st) return;
    replica_free(st->replica);
    char *u = st->url_redacted;
    md_cal_map_free(st->cals);
    st->ops->close(st);
    md_free(u);
}

void md_store_set_calendars(md_store *st, md_cal_map *m)
{
    md_cal_map_free(st->cals);
    st->cals = m;
}

const char *md_store_kind(const md_store *st)
{
    return st->ops->kind;
}

const char *md_store_url_redacted(const md_store *st)
{
    return st->url_redacted;
}

int md_store_ping(md_store *st, md_error *err)
{
    return st->ops->ping(st, err);
}

/* Records the time of a call through the contract since t0_ns (md_mono_ns) in
 * mdagent_store_call_duration_seconds{backend,op} and passes its result on: the operator's
 * view of a slow store, per backend and operation, from the caller's side (pool waits
 * included). */
static int64_t timed(const md_store *st, const char *op, int64_t t0_ns, int64_t rc)
{
    md_metric_observe(MD_M_STORE_DURATION, (double)(md_mono_ns() - t0_ns) / 1e9, st->ops->kind, op);
    return rc;
}

int md_store_put_bars(md_store *st, const md_series *series, size_t n, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "put_bars", t0, st->ops->put_bars(st, series, n, err));
}

int md_store_get_bars(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                      size_t limit, md_bar_vec *out, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "get_bars", t0,
                      st->ops->get_bars(st, symbol, iv, start, end, limit, 0, out, err));
}

int md_store_get_bars_oldest(md_store *st, const char *symbol, md_interval iv, int64_t start,
                             int64_t end, size_t limit, md_bar_vec *out, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "get_bars", t0,
                      st->ops->get_bars(st, symbol, iv, start, end, limit, 1, out, err));
}

int md_store_scan_bars(md_store *st, const char *symbol, md_interval iv, int64_t from, size_t limit,
                       md_bar_vec *out, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "scan_bars", t0,
                      st->ops->scan_bars(st, symbol, iv, from, limit, out, err));
}

/* -- a read replica ----------------------------------------------------------------------------
 *
 * A thread measures how far the replica's replay is behind the primary every check_ms:
 * nothing when it has replayed the primary's current WAL position, else the age of the last
 * transaction it replayed. Reads that may lag (md_store_read_bars, symbols, quality) go to
 * the replica while that is within max_lag_ms; a read that finds the replica gone goes to
 * the primary and stops using the replica until the next check finds it back. A replica
 * that could not be opened at attach is opened by that thread as soon as it can be. */

struct md_store_replica {
    md_store *st; /* NULL until opened (then set once, before in_use can become 1) */
    md_store *primary;
    char *url, *url_redacted;
    md_store_options opt;
    int max_lag_ms, check_ms;
    atomic_int in_use;
    atomic_llong lag_ms; /* last measured; -1: could not be measured */
    atomic_uint_fast64_t switches, reads;
    pthread_mutex_t lock;
    md_waiter stop;
    pthread_t thread;
};

#define PRIMARY_LSN_SQL "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
/* -1 when not a replica (promoted: it no longer follows the primary) */
#define REPLICA_LAG_SQL                                                                            \
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN -1 "                                            \
    "WHEN (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint >= %" PRId64 " THEN 0 "               \
    "ELSE COALESCE((EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) "      \
    "* 1000)::bigint, 2147483647) END"

static int64_t measure_lag(md_store_replica *r)
{
    md_error err;
    int64_t lsn, lag;
    if (!r->st) return -1;
    char sql[sizeof REPLICA_LAG_SQL + 24];
    if (r->primary->ops->query_i64(r->primary, PRIMARY_LSN_SQL, &lsn, &err) != 0) return -1;
    snprintf(sql, sizeof sql, REPLICA_LAG_SQL, lsn);
    if (r->st->ops->query_i64(r->st, sql, &lag, &err) != 0) {
        MD_DEBUG("store", "replica: %s", err.msg);
        return -1;
    }
    return lag;
}

static void use_replica(md_store_replica *r, int use, int64_t lag)
{
    if (lag < 0) atomic_store(&r->lag_ms, -1); /* a failed read: down until a check says */
    if (atomic_exchange(&r->in_use, use) == use) return;
    atomic_fetch_add(&r->switches, 1);
    md_metric_set(MD_M_STORE_READ_REPLICA, use);
    if (use)
        MD_INFO("store", "reads go to the replica %s (lag %" PRId64 " ms)", r->url_redacted, lag);
    else
        MD_WARN("store", "reads go to the primary: replica %s %s", r->url_redacted,
                lag < 0 ? "unreachable or not replaying" : "lags");
}

/* Opens the replica (a read-only store); only the check thread calls it once attached. */
static int open_replica(md_store_replica *r, md_error *err)
{
    md_store *rs = NULL;
    int rc = md_store_open(r->url, &r->opt, &rs, err);
    if (rc == 0 && (!rs->ops->query_i64 || rs->ops != r->primary->ops)) {
        md_store_close(rs);
        return md_error_set(err, MD_ECONFIG, "a read replica needs a PostgreSQL store and replica");
    }
    if (rc == 0) r->st = rs;
    return rc;
}

static void *replica_main(void *arg)
{
    md_store_replica *r = arg;
    for (;;) {
        md_error e;
        if (!r->st && open_replica(r, &e) == 0)
            MD_INFO("store", "replica %s opened", r->url_redacted);
        int64_t lag = measure_lag(r);
        atomic_store(&r->lag_ms, lag);
        use_replica(r, lag >= 0 && lag <= r->max_lag_ms, lag);
        if (md_waiter_wait_until(&r->stop, md_mono_ms() + r->check_ms)) break;
    }
    return NULL;
}

int md_store_attach_replica(md_store *st, const char *url, const md_store_options *opt,
                            int max_lag_ms, int check_ms, md_error *err)
{
    if (!st->ops->query_i64)
        return md_error_set(err, MD_ECONFIG, "a read replica needs a PostgreSQL store and replica");
    md_store_replica *r = md_calloc(1, sizeof *r);
    r->primary = st;
    r->url = md_strdup(url);
    char red[512];
    md_log_redact(url, red, sizeof red);
    r->url_redacted = md_strdup(red);
    r->opt = *opt;
    r->opt.read_only = 1;
    r->opt.manage = 0;
    int rc = open_replica(r, err);
    if (rc && rc != MD_EUNAVAIL) { /* a bad URL or store: not a condition that passes */
        md_free(r->url);
        md_free(r->url_redacted);
        md_free(r);
        return rc;
    }
    if (rc)
        MD_WARN("store", "replica %s: %s; reads go to the primary until it can be opened",
                r->url_redacted, err->msg);
    r->max_lag_ms = max_lag_ms;
    r->check_ms = check_ms > 0 ? check_ms : 500;
    atomic_store(&r->lag_ms, -1);
    pthread_mutex_init(&r->lock, NULL);
    md_waiter_init(&r->stop, &r->lock);
    st->replica = r;
    md_metric_set(MD_M_STORE_READ_REPLICA, 0);
    pthread_create(&r->thread, NULL, replica_main, r);
    pthread_setname_np(r->thread, "replica-check");
    return 0;
}

static void replica_free(md_store_replica *r)
{
    if (!r) return;
    md_waiter_stop(&r->stop);
    pthread_join(r->thread, NULL);
    md_waiter_deinit(&r->stop);
    pthread_mutex_destroy(&r->lock);
    md_store_close(r->st);
    md_free(r->url);
    md_free(r->url_redacted);
    md_free(r);
}

void md_store_get_replica_stats(md_store *st, md_store_replica_stats *out)
{
    memset(out, 0, sizeof *out);
    md_store_replica *r = st->replica;
    out->lag_ms = -1;
    if (!r) return;
    out->attached = 1;
    out->in_use = atomic_load(&r->in_use);
    out->lag_ms = atomic_load(&r->lag_ms);
    out->max_lag_ms = r->max_lag_ms;
    out->switches = atomic_load(&r->switches);
    out->reads = atomic_load(&r->reads);
}

static _Thread_local int primary_reads; /* md_store_reads_on_primary */

int md_store_reads_on_primary(int on)
{
    int was = primary_reads;
    primary_reads = on;
    return was;
}

/* The store a read that may lag goes to. */
static md_store *reader(md_store *st)
{
    md_store_replica *r = st->replica;
    if (!r || primary_reads || !atomic_load(&r->in_use)) return st;
    atomic_fetch_add(&r->reads, 1);
    return r->st;
}

/* Runs call (an expression of the store s_) on the reader; when the replica turned out to
 * be gone, on the primary, and the replica waits for the next check. */
#define ROUTED(T, st, call)                                                                        \
    do {                                                                                           \
        md_store *s_ = reader(st);                                                                 \
        T rc_ = (call);                                                                            \
        if (rc_ == MD_EUNAVAIL && s_ != (st)) {                                                    \
            use_replica((st)->replica, 0, -1);                                                     \
            s_ = (st);                                                                             \
            rc_ = (call);                                                                          \
        }                                                                                          \
        return rc_;                                                                                \
    } while (0)

/* -- coarser intervals from finer ones -------------------------------------------------------
 *
 * md_store_read_bars answers iv from the stored bars of iv when the range has any, else from
 * the coarsest finer stored interval f that divides iv and has bars in the range. Which
 * intervals a symbol has, and over which span, comes from the series the backend keeps
 * (series_of), so only intervals whose span meets the range are read.
 *
 * From f, a bucket is reported when any of f's bars of it lies in [start, end); its value is
 * that of md_bars_aggregate over those bars only (the first bucket may start before start,
 * the last may be still forming or cut by end). Where the backend materialises iv
 * (store/rollup.h),
 *
 *      start    a                                    z     end
 *        |......|====|====|====| ... |====|====|====|.......|
 *         head   whole buckets: the rollups           tail
 *
 * the whole buckets [a, z) are read from the rollups, the head bucket [start, a) and the tail
 * bucket [z, end) are aggregated from f's bars. Parts of [a, z) the backend cannot vouch for
 * (get_rollups' holes) are aggregated from f too. */

/* -- exchange sessions ------------------------------------------------------------------------
 *
 * A daily (weekly, monthly) bar built from intraday bars is one exchange session (calendar.h):
 * the bars whose session date (md_cal_session_day: the session whose extended hours hold the
 * bar, else the coming one) is D make the bar labelled D's midnight UTC - a US post-market
 * bar at 19:30 New York in winter (00:30 UTC) is part of that day's bar, not the next UTC
 * day's. Weekly and monthly buckets gather sessions by their date. The rollups bucket by UTC
 * day (store/rollup.h), which is the same only where a session is a UTC day (24/7), so for
 * every other calendar these reads aggregate the intraday bars themselves, in C.
 *
 * The bucket of label L is reported when L lies in [start, end), as a stored daily bar of
 * that date would be; since session dates only grow with time, that is the intraday bars in
 * [session_from(start), session_from(end)). */

/* The symbol's calendar when iv's buckets from f's bars are sessions that are not UTC
 * days; NULL when UTC buckets answer. */
static const md_cal *session_cal(const md_store *st, const char *symbol, md_interval iv,
                                 md_interval f)
{
    if (!st->cals || !md_interval_is_daily(iv) || md_interval_is_daily(f)) return NULL;
    const md_cal *c = md_cal_map_find(st->cals, symbol, NULL);
    md_cal_session s;
    const int64_t probe = 19999; /* 2024-10-03, a Thursday: a session on every calendar */
    if (md_cal_day(c, probe, &s, NULL) == 1 && s.ext_open == probe * 86400 &&
        s.ext_close == (probe + 1) * 86400)
        return NULL;
    return c;
}

/* The first instant whose session date is at or after the date of ts's day (rounded up). */
static int64_t session_from(const md_cal *c, int64_t ts)
{
    if (ts == MD_TS_MIN || ts == MD_TS_MAX) return ts;
    return md_cal_day_start(c, ts >= 0 ? (ts + 86399) / 86400 : ts / 86400);
}

/* Gives bars[0..n) (sorted) their session bucket of iv as ts: md_bars_aggregate then folds
 * each bucket into one bar, in time order. c NULL: nothing to do. */
static void session_relabel(const md_cal *c, md_interval iv, md_bar *bars, size_t n)
{
    if (!c) return;
    int64_t label = 0, end = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (bars[i].ts >= end) label = md_cal_bucket(c, iv, bars[i].ts, &end);
        bars[i].ts = label;
    }
}

/* -- aggregation in C (backends without get_bars_agg) ------------------------------------
 *
 * The finer bars are read in chunks of AGG_CHUNK and folded into buckets as they come; only
 * the bars of the one bucket a chunk may have cut in two are carried to the next chunk, so
 * memory is bounded by the answer, not by the range. */
#define AGG_CHUNK 65536

/* Bars oldest first from start: a bucket is complete once a bar of a later bucket (or the
 * end of the range) has been read. */
static int agg_oldest(md_store *st, const char *symbol, md_interval iv, md_interval f,
                      const md_cal *c, int64_t start, int64_t end, size_t limit, md_bar_vec *out,
                      md_error *err)
{
    md_bar_vec fine;
    md_bar_vec_init(&fine);
    size_t before = out->n;
    int64_t from = start;
    int rc = 0, done = 0;
    while (!done && (!limit || out->n - before < limit)) {
        size_t had = fine.n;
        rc = st->ops->get_bars(st, symbol, f, from, end, AGG_CHUNK, 1, &fine, err);
        if (rc < 0) break;
        done = rc < AGG_CHUNK;
        rc = 0;
        if (fine.n > had) from = fine.v[fine.n - 1].ts + 1;
        session_relabel(c, iv, fine.v + had, fine.n - had);
        size_t k = fine.n; /* fold every bucket but the last, unless the range is read */
        if (!done && k) {
            int64_t last = md_interval_floor(iv, fine.v[fine.n - 1].ts);
            while (k > 0 && fine.v[k - 1].ts >= last) k--;
        }
        if (k) md_bars_aggregate(fine.v, k, iv, out);
        if (k && fine.n > k) memmove(fine.v, fine.v + k, (fine.n - k) * sizeof *fine.v);
        fine.n -= k;
    }
    md_bar_vec_deinit(&fine);
    if (rc < 0) {
        out->n = before;
        return rc;
    }
    if (limit && out->n - before > limit) out->n = before + limit;
    return (int)(out->n - before);
}

/* Bars newest first from end, read backwards: a bucket is complete once a bar of an earlier
 * bucket (or the start of the range) has been read. */
static int agg_newest(md_store *st, const char *symbol, md_interval iv, md_interval f,
                      const md_cal *c, int64_t start, int64_t end, size_t limit, md_bar_vec *out,
                      md_error *err)
{
    md_bar_vec fine, chunk, rev, tmp; /* rev: buckets newest first */
    md_bar_vec_init(&fine), md_bar_vec_init(&chunk), md_bar_vec_init(&rev), md_bar_vec_init(&tmp);
    int64_t to = end;
    int rc = 0, done = 0;
    while (!done && (!limit || rev.n < limit)) {
        chunk.n = 0;
        rc = st->ops->get_bars(st, symbol, f, start, to, AGG_CHUNK, 0, &chunk, err);
        if (rc < 0) break;
        done = rc < AGG_CHUNK;
        rc = 0;
        if (chunk.n) to = chunk.v[0].ts;
        session_relabel(c, iv, chunk.v, chunk.n);
        for (size_t i = 0; i < fine.n; i++) md_bar_vec_push(&chunk, &fine.v[i]); /* + carry */
        md_bar_vec t = fine;
        fine = chunk;
        chunk = t;
        size_t k = 0; /* fold every bucket but the first, unless the range is read */
        if (!done && fine.n) {
            int64_t next = md_interval_next(iv, md_interval_floor(iv, fine.v[0].ts));
            while (k < fine.n && fine.v[k].ts < next) k++;
        }
        tmp.n = 0;
        if (fine.n > k) md_bars_aggregate(fine.v + k, fine.n - k, iv, &tmp);
        for (size_t i = tmp.n; i-- > 0;) md_bar_vec_push(&rev, &tmp.v[i]);
        fine.n = k;
    }
    size_t before = out->n;
    if (rc == 0) {
        size_t m = limit && rev.n > limit ? limit : rev.n;
        md_bar_vec_reserve(out, out->n + m);
        for (size_t i = m; i-- > 0;) md_bar_vec_push(out, &rev.v[i]);
    }
    md_bar_vec_deinit(&fine), md_bar_vec_deinit(&chunk), md_bar_vec_deinit(&rev);
    md_bar_vec_deinit(&tmp);
    return rc < 0 ? rc : (int)(out->n - before);
}

/* f's buckets with a bar in [s, e), aggregated from f's bars in [s, e) (in SQL when the
 * backend can, else in C); the oldest or newest `limit`. */
static int agg_fine(md_store *st, const char *symbol, md_interval iv, md_interval f, int64_t s,
                    int64_t e, size_t limit, int oldest, md_bar_vec *out, md_error *err)
{
    if (s >= e) return 0;
    if (st->ops->get_bars_agg) {
        int had_input = 0;
        return st->ops->get_bars_agg(st, symbol, iv, f, s, e, limit, oldest, out, &had_input, err);
    }
    return oldest ? agg_oldest(st, symbol, iv, f, NULL, s, e, limit, out, err)
                  : agg_newest(st, symbol, iv, f, NULL, s, e, limit, out, err);
}

static int cmp_bar_ts(const void *a, const void *b)
{
    const md_bar *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Keeps the oldest or newest `limit` of out[before..] (limit 0: all); returns the count. */
static int keep_end(md_bar_vec *out, size_t before, size_t limit, int oldest)
{
    size_t got = out->n - before;
    if (limit && got > limit) {
        if (!oldest) memmove(out->v + before, out->v + out->n - limit, limit * sizeof *out->v);
        out->n = before + limit;
        got = limit;
    }
    return (int)got;
}

/* The whole buckets [a, z) from the rollups (and f's bars where the backend has holes),
 * appended oldest first, every one (limit 0) or the newest `limit`. */
static int agg_interior_newest(md_store *st, const char *symbol, md_interval iv, md_interval f,
                               int64_t a, int64_t z, size_t limit, md_bar_vec *out, md_error *err)
{
    md_range holes[MD_STORE_MAX_HOLES];
    size_t n_holes = 0;
    size_t before = out->n;
    int rc = st->ops->get_rollups(st, symbol, iv, f, a, z, limit, out, holes, &n_holes, err);
    if (rc < 0) return rc;
    if (n_holes == 0) return rc;
    /* with a limit the rollups gave their newest `limit`: a hole bucket older than the oldest
     * of those cannot be among the newest `limit` of the whole */
    int64_t floor_ts = (limit && (size_t)rc == limit) ? out->v[before].ts : INT64_MIN;
    for (size_t h = 0; h < n_holes; h++) {
        int64_t lo = holes[h].lo > floor_ts ? holes[h].lo : floor_ts, hi = holes[h].hi;
        if (lo < a) lo = a;
        if (hi > z) hi = z;
        rc = agg_fine(st, symbol, iv, f, lo, hi, 0, 0, out, err);
        if (rc < 0) {
            out->n = before;
            return rc;
        }
    }
    size_t got = out->n - before;
    if (got > 1) /* out->v is NULL while nothing was appended to an empty vector */
        qsort(out->v + before, got, sizeof *out->v, cmp_bar_ts);
    return keep_end(out, before, limit, 0);
}

/* The whole buckets [a, z) as above, the oldest `limit` (limit != 0): the rollups have no
 * oldest-first read, so windows of buckets from a are read whole, each twice as wide as the
 * one before, until limit buckets came or z is reached. */
static int agg_interior_oldest(md_store *st, const char *symbol, md_interval iv, md_interval f,
                               int64_t a, int64_t z, size_t limit, md_bar_vec *out, md_error *err)
{
    size_t before = out->n, width = limit;
    for (int64_t lo = a; lo < z && out->n - before < limit; width *= 2) {
        int64_t hi = lo;
        for (size_t k = 0; k < width && hi < z; k++) hi = md_rollup__next(iv, hi);
        if (hi > z) hi = z;
        int rc = agg_interior_newest(st, symbol, iv, f, lo, hi, 0, out, err);
        if (rc < 0) {
            out->n = before;
            return rc;
        }
        lo = hi;
    }
    return keep_end(out, before, limit, 1);
}

/* Buckets of iv from the materialised rollups of f, the head and tail buckets from f's bars.
 * The pieces are read from the end the limit keeps, and the far ones only while the near ones
 * leave room. */
static int agg_rolled(md_store *st, const char *symbol, md_interval iv, md_interval f,
                      int64_t start, int64_t end, size_t limit, int oldest, md_bar_vec *out,
                      md_error *err)
{
    int64_t a = md_rollup__bucket(iv, start);
    if (a < start) a = md_rollup__next(iv, a);
    int64_t z = md_rollup__bucket(iv, end);
    if (a >= end || z <= a) /* no whole bucket inside: the fine bars answer */
        return agg_fine(st, symbol, iv, f, start, end, limit, oldest, out, err);
    md_bar_vec head, mid, tail;
    md_bar_vec_init(&head), md_bar_vec_init(&mid), md_bar_vec_init(&tail);
    md_bar_vec *near = oldest ? &head : &tail, *far = oldest ? &tail : &head;
    int64_t near_lo = oldest ? start : z, near_hi = oldest ? a : end;
    int64_t far_lo = oldest ? z : start, far_hi = oldest ? end : a;
    int rc = agg_fine(st, symbol, iv, f, near_lo, near_hi, 0, oldest, near, err);
    if (rc >= 0 && !(limit && near->n >= limit)) {
        size_t room = limit ? limit - near->n : 0;
        rc = oldest && limit ? agg_interior_oldest(st, symbol, iv, f, a, z, room, &mid, err)
                             : agg_interior_newest(st, symbol, iv, f, a, z, room, &mid, err);
        if (rc >= 0 && !(limit && near->n + mid.n >= limit))
            rc = agg_fine(st, symbol, iv, f, far_lo, far_hi, 0, oldest, far, err);
    }
    size_t before = out->n;
    if (rc >= 0) {
        md_bar_vec_reserve(out, out->n + head.n + mid.n + tail.n);
        for (size_t i = 0; i < head.n; i++) md_bar_vec_push(out, &head.v[i]);
        for (size_t i = 0; i < mid.n; i++) md_bar_vec_push(out, &mid.v[i]);
        for (size_t i = 0; i < tail.n; i++) md_bar_vec_push(out, &tail.v[i]);
        rc = keep_end(out, before, limit, oldest);
    }
    md_bar_vec_deinit(&head), md_bar_vec_deinit(&mid), md_bar_vec_deinit(&tail);
    return rc;
}

static int overlaps(const md_symbol_info *s, int64_t start, int64_t end)
{
    return s->count > 0 && s->first_ts < end && s->last_ts >= start;
}

/* Reads from st (the primary or its replica) with the calendars of primary (a replica's
 * store has none of its own). */
static int read_bars(md_store *st, const md_store *primary, const char *symbol, md_interval iv,
                     int64_t start, int64_t end, size_t limit, md_store_end keep, md_bar_vec *out,
                     md_interval *used_iv, md_error *err)
{
    int oldest = keep == MD_STORE_OLDEST;
    if (used_iv) *used_iv = iv;
    if (end <= start) return 0;
    md_symbol_info info[MD_IV_COUNT];
    int known = st->ops->series_of &&
                st->ops->series_of(st, symbol, info, err) == 0; /* 1: not kept; < 0: probe */
    if (!known || overlaps(&info[iv], start, end)) {
        int rc = st->ops->get_bars(st, symbol, iv, start, end, limit, oldest, out, err);
        if (rc != 0) return rc;
    }
    /* Nothing stored at this interval: aggregate the coarsest finer one that has bars. */
    for (int f = (int)iv - 1; f >= 0; f--) {
        if (!md_interval_divides((md_interval)f, iv)) continue;
        const md_cal *c = session_cal(primary, symbol, iv, (md_interval)f);
        int64_t s = c ? session_from(c, start) : start, e = c ? session_from(c, end) : end;
        if (known && !overlaps(&info[f], s, e)) continue;
        int rc;
        if (c)
            rc = oldest ? agg_oldest(st, symbol, iv, (md_interval)f, c, s, e, limit, out, err)
                        : agg_newest(st, symbol, iv, (md_interval)f, c, s, e, limit, out, err);
        else if (known && st->ops->get_rollups && md_rollup__is_target(iv))
            rc = agg_rolled(st, symbol, iv, (md_interval)f, start, end, limit, oldest, out, err);
        else
            rc = agg_fine(st, symbol, iv, (md_interval)f, start, end, limit, oldest, out, err);
        if (rc < 0) return rc;
        if (rc > 0) {
            if (used_iv) *used_iv = (md_interval)f;
            return rc;
        }
    }
    return 0;
}

int64_t md_store_bucket_of(const md_store *st, const char *symbol, md_interval iv, md_interval f,
                           int64_t ts)
{
    const md_cal *c = f == iv ? NULL : session_cal(st, symbol, iv, f);
    return c ? md_cal_bucket(c, iv, ts, NULL) : md_interval_floor(iv, ts);
}

void md_store_bar_span(const md_store *st, const char *symbol, md_interval iv, md_interval used_iv,
                       int64_t start, int64_t end, int64_t now, md_bar_span *span)
{
    span->iv = iv;
    span->start = used_iv == iv ? MD_TS_MIN : start;
    span->end = used_iv == iv ? MD_TS_MAX : end;
    span->now = now;
    const md_cal *c = used_iv == iv ? NULL : session_cal(st, symbol, iv, used_iv);
    if (!c) return;
    /* buckets hold whole sessions of the dates in [start, end): a bucket is cut only where
     * its dates go on past the range (a week), and it has ended once the clock is in a
     * session of a later date (md_bar_partial's UTC rule on the session dates) */
    if (end != MD_TS_MAX) span->end = (end >= 0 ? (end + 86399) / 86400 : end / 86400) * 86400;
    span->now = md_cal_session_day(c, now) * 86400;
}

static int read_bars_routed(md_store *st, const char *symbol, md_interval iv, int64_t start,
                            int64_t end, size_t limit, md_store_end keep, md_bar_vec *out,
                            md_interval *used_iv, md_error *err)
{
    size_t before = out->n;
    ROUTED(int, st,
           (out->n = before,
            read_bars(s_, st, symbol, iv, start, end, limit, keep, out, used_iv, err)));
}

int md_store_read_bars(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                       size_t limit, md_store_end keep, md_bar_vec *out, md_interval *used_iv,
                       md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "read_bars", t0,
                      read_bars_routed(st, symbol, iv, start, end, limit, keep, out, used_iv, err));
}

int md_store_get_bars_agg(md_store *st, const char *symbol, md_interval iv, int64_t start,
                          int64_t end, size_t limit, md_bar_vec *out, md_interval *used_iv,
                          md_error *err)
{
    return md_store_read_bars(st, symbol, iv, start, end, limit, MD_STORE_NEWEST, out, used_iv,
                              err);
}

int md_store_latest_bar(md_store *st, const char *symbol, md_bar *out, md_interval *iv,
                        md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "latest_bar", t0, st->ops->latest_bar(st, symbol, out, iv, err));
}

int md_store_put_quote(md_store *st, const md_quote *q, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "put_quote", t0, st->ops->put_quote(st, q, err));
}

int md_store_get_quote(md_store *st, const char *symbol, md_quote *out, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "get_quote", t0, st->ops->get_quote(st, symbol, out, err));
}

static int list_symbols_routed(md_store *st, md_symbol_info **out, md_error *err)
{
    ROUTED(int, st, s_->ops->list_symbols(s_, out, err));
}

int md_store_list_symbols(md_store *st, md_symbol_info **out, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return (int)timed(st, "list_symbols", t0, list_symbols_routed(st, out, err));
}

int64_t md_store_count_bars(md_store *st, const char *symbol, md_interval iv, int64_t start,
                            int64_t end, md_error *err)
{
    int64_t t0 = md_mono_ns();
    return timed(st, "count_bars", t0, st->ops->count_bars(st, symbol, iv, start, end, err));
}

int md_store_jobs(md_store *st, md_store_job **out, md_error *err)
{
    if (!st->ops->jobs) {
        *out = md_calloc(1, sizeof **out);
        return 0;
    }
    return st->ops->jobs(st, out, err);
}

int md_store_has_load_marks(const md_store *st)
{
    return st->ops->put_bars_marked != NULL && st->ops->get_load_mark != NULL;
}

int md_store_put_bars_marked(md_store *st, const md_series *series, size_t n_series,
                             const md_load_mark *marks, size_t n_marks, md_error *err)
{
    if (!md_store_has_load_marks(st)) {
        size_t total = 0;
        for (size_t i = 0; i < n_series; i++) total += series[i].n;
        return total ? st->ops->put_bars(st, series, n_series, err) : 0;
    }
    return st->ops->put_bars_marked(st, series, n_series, marks, n_marks, err);
}

int md_store_get_load_mark(md_store *st, const char *path, md_load_mark *out, md_error *err)
{
    if (!md_store_has_load_marks(st))
        return md_error_set(err, MD_ENODATA, "the %s store keeps no load checkpoints",
                            st->ops->kind);
    return st->ops->get_load_mark(st, path, out, err);
}

int md_store_doc_get(md_store *st, const char *key, char **out, md_error *err)
{
    /* meta_get copies into a fixed buffer: grow it until the value fits */
    for (size_t n = 4096; n <= ((size_t)64 << 20); n *= 4) {
        char *buf = md_malloc(n);
        int rc = st->ops->meta_get(st, key, buf, n, err);
        if (rc <= 0) {
            md_free(buf);
            return rc;
        }
        if (strlen(buf) < n - 1) {
            *out = buf;
            return 1;
        }
        md_free(buf);
    }
    return md_error_set(err, MD_ESTORE, "document %s is larger than 64 MiB", key);
}

int md_store_doc_put(md_store *st, const char *const *keys, const char *const *vals, size_t n,
                     md_error *err)
{
    return st->ops->meta_set(st, keys, vals, n, err);
}

/* -- quality findings ------------------------------------------------------------------------ */

static int unsupported(const md_store *st, md_error *err)
{
    return md_error_set(err, MD_ESTORE, "quality findings are not supported by the %s backend",
                        st->ops->kind);
}

int md_store_put_quality_events(md_store *st, const char *symbol, md_interval iv,
                                const md_qevent *ev, size_t n, const int64_t *clear_ts,
                                size_t n_clear, md_error *err)
{
    if (!st->ops->put_quality_events) return unsupported(st, err);
    if (n == 0 && n_clear == 0) return 0;
    return st->ops->put_quality_events(st, symbol, iv, ev, n, clear_ts, n_clear, err);
}

int md_store_get_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int rule, size_t limit, md_qevent_vec *out,
                                md_error *err)
{
    if (!st->ops->get_quality_events) return unsupported(st, err);
    size_t before = out->n;
    ROUTED(int, st,
           (out->n = before,
            s_->ops->get_quality_events(s_, symbol, iv, start, end, rule, limit, out, err)));
}

int md_store_count_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                  int64_t end, int64_t count[], double severity_sum[],
                                  md_error *err)
{
    if (!st->ops->count_quality_events) return unsupported(st, err);
    ROUTED(int, st,
           s_->ops->count_quality_events(s_, symbol, iv, start, end, count, severity_sum, err));
}

int md_store_list_quality_series(md_store *st, md_symbol_info **out, md_error *err)
{
    if (!st->ops->list_quality_series) return unsupported(st, err);
    ROUTED(int, st, s_->ops->list_quality_series(s_, out, err));
}

int md_store_mark_live(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                       md_error *err)
{
    if (!st->ops->mark_live) return unsupported(st, err);
    return st->ops->mark_live(st, symbol, iv, bar_ts, err);
}

int md_store_get_live(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                      md_error *err)
{
    if (!st->ops->get_live) return unsupported(st, err);
    return st->ops->get_live(st, symbol, iv, bar_ts, err);
}

/* -- corporate actions and symbol references ------------------------------------------------- */

static int no_actions(const md_store *st, md_error *err)
{
    return md_error_set(err, MD_ESTORE, "corporate actions are not supported by the %s backend",
                        st->ops->kind);
}

int md_store_put_actions(md_store *st, const md_action *a, size_t n, md_error *err)
{
    if (!st->ops->put_actions) return no_actions(st, err);
    return n ? st->ops->put_actions(st, a, n, err) : 0;
}

int md_store_get_actions(md_store *st, const char *symbol, int64_t start, int64_t end,
                         md_action_vec *out, md_error *err)
{
    if (!st->ops->get_actions) return no_actions(st, err);
    return st->ops->get_actions(st, symbol, start, end, out, err);
}

int md_store_put_symbol_ref(md_store *st, const md_symbol_ref *r, md_error *err)
{
    if (!st->ops->put_symbol_ref) return no_actions(st, err);
    return st->ops->put_symbol_ref(st, r, err);
}

int md_store_get_symbol_ref(md_store *st, const char *symbol, md_symbol_ref *out, md_error *err)
{
    if (!st->ops->get_symbol_ref) return no_actions(st, err);
    return st->ops->get_symbol_ref(st, symbol, out, err);
}

int md_store_list_symbol_refs(md_store *st, md_symbol_ref **out, md_error *err)
{
    if (!st->ops->list_symbol_refs) return no_actions(st, err);
    return st->ops->list_symbol_refs(st, out, err);
}
