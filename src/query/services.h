/* services.h - the one place that builds the long-lived parts of a command (md_services,
 * query/query.h) from the configuration, for every command: `serve`, `load`, `query`,
 * `fetch` and the store options of `migrate`.
 *
 * A command says which parts it needs (md_services_options); how each part is made from the
 * configuration - store.* and postgresql.* (md_services_store_options), quality.* (the
 * writer), cache.*, sources.*, replay.*, stream.*, backfill.* - is decided here and nowhere
 * else, so the commands cannot drift apart again (`mdagent fetch` once opened its store with
 * the built-in defaults and judged with the default quality parameters).
 *
 * Life cycle (`serve`; the one-shot commands call open and close only):
 *
 *   md_services_open      store, writer, worker pool, cache, quality gauge, stream hub with live
 *                         bars and the Redis relay, source manager (replay bars loaded, the
 *                         watchlist checked), backfill; the writer's listeners in their order
 *   [md_server_start]
 *   md_services_start     offline feeds and the watchlist scheduler, unfinished backfill jobs
 *                         resumed, cache warmed; svc->ready
 *   ... serving ...
 *   md_services_stop      not ready; feeds and scheduler stopped (nothing pushes any more),
 *                         the quality gauge schedules nothing        - before the server drains
 *   [md_server_shutdown]  in-flight requests finish
 *   md_services_quiesce   worker pools joined, backfill jobs saved, relay and live bars
 *                         stopped: nothing runs, writes or publishes any more
 *   [md_server_free]      (its shards leave the hub, which is still there)
 *   md_services_close     quality gauge, source manager (after the workers that may be inside
 *                         it), hub, writer, cache, store freed
 *
 * A step may be left out: md_services_close runs stop and quiesce when they were not run, and
 * md_services_quiesce runs stop. Steps out of this order (start after stop, open twice) abort:
 * they are programming errors, and a wrong shutdown order frees what another thread uses.
 *
 * Writer listeners (ingest/writer.h), registered by open in this order and no other:
 *   1. the cache's invalidation and write-through (REFRESH)
 *   2. the quality gauge (REFRESH)
 *   3. the stream hub (PUBLISH)
 * so a bar is in the cache before it is streamed: a client that receives it and then asks
 * /historical never gets the cached answer from before it. The writer enforces the stages. */
#ifndef MD_QUERY_SERVICES_H
#define MD_QUERY_SERVICES_H

#include "core/config.h"
#include "core/error.h"
#include "query/query.h"
#include "store/store.h"

enum {
    MD_SVC_BACKFILL_NONE = 0,
    MD_SVC_BACKFILL_JOBS, /* the agent's: background work, unfinished jobs resumed by start,
                             one agent per job through the cache's Redis leases */
    MD_SVC_BACKFILL_WAIT, /* `fetch`: someone waits for the job (not background work) */
};

/* Which parts a command needs. Zero everywhere but cfg: the store alone, read-write, with
 * store.pool_size connections. */
typedef struct md_services_options {
    const md_config *cfg; /* the configuration; must outlive the services */
    int store_read_only;  /* open without creating or migrating the schema (writes fail) */
    int store_create;     /* create a missing SQLite store (load, migrate); otherwise only
                           * with store.create (--create): a mistyped --db is an error */
    int store_pool_size;  /* connections to keep; 0: store.pool_size (one-shot commands: 1) */
    int store_manage;     /* apply the store's settings (TimescaleDB policies, continuous
                            aggregates) and refresh what it derives at close: `serve`, `load`
                            (store.h md_store_options.manage) */
    int writer;           /* the writer, with the quality.* parameters */
    int workers;          /* the worker pool (server.workers threads), and with sources the
                            fetch workers (sources.fetch_workers threads) */
    int cache;            /* when cache.enabled: L1, and L2 in Redis when redis is set (needs
                            the writer: its listener keeps the cache true) */
    int quality_gauge;    /* mdagent_quality_score follows every write (needs writer, workers) */
    int stream;           /* when stream.enabled: hub, live bars (stream.live_bars), Redis relay
                            (when redis is set) (needs the writer) */
    int sources;          /* the source manager from sources.priority (NULL when empty), replay
                            bars loaded, sources.watchlist checked (needs the writer) */
    int feeds;            /* offline feeds and watchlist scheduler, run from md_services_start
                            to md_services_stop (needs sources) */
    int backfill;         /* MD_SVC_BACKFILL_* (with sources configured; needs the writer) */
} md_services_options;

/* The store options of a command: store.* and postgresql.* from o->cfg (store/store.h), then
 * o's read-only flag and pool size. MD_ECONFIG naming the key of a bad value. Also for
 * `migrate`, which opens its two stores itself. */
int md_services_store_options(const md_services_options *o, md_store_options *out, md_error *err);

/* Builds the parts o asks for into *out (zeroed first; out->cfg = o->cfg). On error
 * everything built is freed again and *out is zeroed: MD_ECONFIG for a bad setting (naming
 * the key), the store's errors (MD_EUNAVAIL, MD_ESTORE), the cache's and the relay's. */
int md_services_open(md_services *out, const md_services_options *o, md_error *err);
/* Starts what runs on its own (feeds, scheduler, resumed backfill jobs), warms the cache
 * and sets svc->ready. Call once, after the server started (the feeds' first ticks are
 * streamed to its clients). */
int md_services_start(md_services *svc, md_error *err);
/* Clears svc->ready and stops what pushes data on its own. Idempotent. */
void md_services_stop(md_services *svc);
/* After the server drained: joins the worker pool, saves and stops the backfill jobs, stops
 * the relay and the live bars. Nothing writes or publishes afterwards. Idempotent. */
void md_services_quiesce(md_services *svc);
struct md_livebar;
/* The live bars of svc (stream.live_bars), or NULL: their forming bars give the live
 * indicators' partial values (pipeline/). */
struct md_livebar *md_services_livebar(md_services *svc);

/* Raises the process's soft open-file limit to its hard limit: every HTTP, WebSocket and
 * stream client is a descriptor (as Go and nginx do). The server and the stream hub both call
 * it; calling it again changes nothing. */
void md_services_raise_fd_limit(void);
/* Announces this agent to its deployment: its record (id, URL, state, health, request rate,
 * stream clients, queue depth) in Redis, renewed every cluster.heartbeat_ms until
 * md_services_quiesce removes it (services_cluster.c has the key layout). listen_addr is
 * the bound HOST:PORT (md_server_addr), from which cluster.id and cluster.url default.
 * Without redis.url the deployment is this agent alone. Once, after md_services_start.
 * MD_ECONFIG for a bad redis.url. */
int md_services_announce(md_services *svc, const char *listen_addr, md_error *err);
struct md_buf;
/* GET /cluster: {"self":id,"agents":[records sorted by id],"shared":bool,"count":n} into b;
 * "shared" is false when the list is this agent alone (no Redis, or Redis unreachable). */
int md_services_cluster_render(md_services *svc, struct md_buf *b, md_error *err);

/* Frees everything (after md_server_free when there was a server); svc is zeroed. Accepts a
 * zeroed svc. */
void md_services_close(md_services *svc);

#endif
