/* services_int.h - the parts of md_services (services.h) built in files of their own. Each
 * open returns 0 with *out set (or NULL when its part is not configured), or an error with
 * *out possibly set for the caller to close; stop and close accept NULL. */
#ifndef MD_QUERY_SERVICES_INT_H
#define MD_QUERY_SERVICES_INT_H

#include "query/services.h"

/* services_sources.c: the source manager, built from sources.priority and set as
 * svc->sources (NULL when the list is empty), replay bars loaded, the watchlist scheduler
 * built (so a bad list fails at start-up). _start starts the offline feeds and the
 * scheduler, which hand their data to svc->writer; _stop stops them; _close stops and frees
 * everything, the manager included (after the threads that may be inside it). */
typedef struct md_svc_sources md_svc_sources;
int md_services__sources_open(md_services *svc, md_svc_sources **out, md_error *err);
int md_services__sources_start(md_svc_sources *cs, md_error *err);
void md_services__sources_stop(md_svc_sources *cs);
void md_services__sources_close(md_svc_sources *cs);

/* services_stream.c: when stream.enabled, the hub (svc->hub; services.c attaches it to the
 * writer), live bars and the Redis relay when redis is set. _stop stops the relay and the
 * live-bar thread (nothing publishes afterwards); _close frees everything (after the server,
 * whose shards are in the hub). */
typedef struct md_svc_stream md_svc_stream;
int md_services__stream_open(md_services *svc, md_svc_stream **out, md_error *err);
void md_services__stream_stop(md_svc_stream *cs);
void md_services__stream_close(md_svc_stream *cs);
struct md_livebar *md_services__stream_livebar(md_svc_stream *cs); /* NULL is fine */

/* services_cluster.c: this agent's announcement to its deployment (md_services_announce):
 * _open builds the first record and starts the heartbeat thread (listen_addr: the bound
 * HOST:PORT, for the default id and URL); _drain announces "draining" at once (SIGTERM);
 * _stop joins the thread and removes the record (before the worker pools it reads go);
 * _close frees it (after the workers: a queued GET /cluster may still read it).
 * md_services__cluster: svc's, or NULL before md_services_announce. */
typedef struct md_svc_cluster md_svc_cluster;
int md_services__cluster_open(md_services *svc, const char *listen_addr, md_svc_cluster **out,
                              md_error *err);
void md_services__cluster_drain(md_svc_cluster *c);
void md_services__cluster_stop(md_svc_cluster *c);
void md_services__cluster_close(md_svc_cluster *c);
md_svc_cluster *md_services__cluster(md_services *svc);

/* services.c: reads the exchanges providers reported for symbols (the store's symbol_refs,
 * written by whichever agent asked) into the calendar map (calendar/symbols.c): at open, and
 * every REPORTED_EVERY heartbeats, so the agents of one store learn each other's reports (the
 * cached answers of a symbol whose calendar changed are invalidated). */
void md_services__note_reported_exchanges(md_services *svc, int quiet);

/* services_quota.c: where the providers' budgets live beyond one process - shared by the
 * agents on one Redis (an atomic Lua sliding window per provider, API key and scope) or,
 * without Redis, saved in the store and read back at start. _open wires them into m;
 * _close after the manager is freed. */
struct md_srcmgr;
typedef struct md_svc_quota md_svc_quota;
int md_services__quota_open(md_services *svc, struct md_srcmgr *m, md_svc_quota **out,
                            md_error *err);
void md_services__quota_close(md_svc_quota *q);
/* The deployment's name on a shared Redis server: redis.namespace, else cache.prefix +
 * "db" + the URL's database number ("mdagent:db0"). Pub/sub ignores the database number,
 * so the stream relay's channel carries it. */
void md_services__redis_namespace(const md_config *cfg, char *dst, size_t n);
struct md_redis;
/* A Redis adapter (cache/redis.h) of its own for one part of the services, from the redis.*
 * keys, its log lines under module: *out NULL (and 0) without redis.url, else md_redis_new's
 * result. The caller frees it (md_redis_free). */
int md_services__redis_open(const md_config *cfg, const char *module, struct md_redis **out,
                            md_error *err);

#endif
