/* backfill.h - backfill jobs: bars of a time range for many symbols, fetched from the
 * sources in chunks each provider accepts, stored through the writer, with the job's
 * progress kept in the store so that it survives a restart and resumes.
 *
 * A job is symbols x [start, end) cut into chunks of at most the sources' max_range_s for
 * the interval (the smallest over the enabled sources, or the one source asked). Chunks run
 * on backfill.workers threads through the source manager - failover, circuit breakers, and
 * the rate limits, as background work that leaves the interactive share alone - and what
 * they return goes through the writer (validated, scored, stored, cached, streamed).
 *
 *             submit                  first chunk                every chunk ended
 *   (none) ----------> queued ----------------------> running ---------------------> done
 *                        ^                             |   |                 (failed: no chunk
 *                        |          resume (restart,   |   | stop (shutdown,  brought anything)
 *                        +------ same fetch command) --+   v  Ctrl-C)
 *                                                     paused
 *   queued, running, paused --- md_backfill_cancel (DELETE /jobs/{id}) ---> cancelled
 *
 * A cancelled job asks for no chunk more; a chunk in flight at that moment finishes and is
 * counted (its bars stay stored, as every stored bar does). Several agents share jobs
 * through the store: the agent that takes the cancel writes the job cancelled together with
 * a marker "backfill/cancel/<id>" that the agent running the job reads before each chunk
 * (and every reader of the document applies), so the job stops wherever it runs.
 *
 * Submitting a job identical to one still queued, running or paused (the same set of
 * symbols, interval, range and source; jobs of POST /backfill) gives that job instead of a
 * second one. The check and the new job's listing are one critical section for every agent
 * on the store (the open-jobs list is written under the lease "backfill:open" when agents
 * share a Redis), so two agents asked at once make one job.
 *
 * A chunk the rate limit refuses waits and runs again (not an error); a transient failure
 * (timeout, 5xx, circuit open, store unavailable) is retried backfill.retries times with
 * back-off; an unknown symbol, an interval no source offers or a rejected key fails the
 * chunk at once. After each chunk the job's state document is written to the store
 * (md_store_doc_put): which chunks are done, the counts, the errors. A chunk that was in
 * flight at a crash is fetched again on resume; bars are upserted, so that adds nothing. */
#ifndef MD_INGEST_BACKFILL_H
#define MD_INGEST_BACKFILL_H

#include "core/config.h"
#include "ingest/writer.h"
#include "sources/manager.h"
#include "store/store.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct md_backfill md_backfill;

typedef struct md_backfill_opts {
    int workers;            /* threads running chunks */
    int retries;            /* retries of a chunk after a transient failure */
    int64_t chunk_delay_ms; /* pause between two chunks of one job (on top of rate limits) */
    int64_t retry_base_ms;  /* first wait after a failure or a rate-limit refusal; doubles up
                            * to 60 s */
    int background;         /* 1: fetch as background work (leaves the interactive share of
                            * each rate limit alone; jobs of an agent); 0: a user waits
                            * (mdagent fetch) */
} md_backfill_opts;

/* The defaults of the backfill.* keys (md_config_defaults), background. */
void md_backfill_opts_default(md_backfill_opts *o);
/* From the backfill.* keys, background. */
void md_backfill_opts_from_config(md_backfill_opts *o, const md_config *cfg);

#define MD_JOB_ID_MAX 40
/* a failure as the job reports it: "SYMBOL: " and an md_error message, whole */
#define MD_BACKFILL_ERROR_MAX (MD_SYMBOL_MAX + 2 + MD_ERROR_MSG_MAX)

typedef struct md_job_spec {
    const char *const *symbols; /* normalised; repeats are dropped */
    size_t n_symbols;
    md_interval iv;
    int64_t start, end; /* [start, end) */
    int source;         /* md_source_id to ask alone, or -1 for failover */
} md_job_spec;

typedef enum md_job_state {
    MD_JOB_QUEUED,
    MD_JOB_RUNNING,
    MD_JOB_PAUSED,
    MD_JOB_DONE,
    MD_JOB_FAILED,
    MD_JOB_CANCELLED
} md_job_state;

/* "queued", "running", "paused", "done", "failed", "cancelled". */
const char *md_job_state_name(md_job_state s);

/* 1 for the states a job never leaves: done, failed, cancelled. */
static inline int md_job_state_ended(md_job_state s)
{
    return s == MD_JOB_DONE || s == MD_JOB_FAILED || s == MD_JOB_CANCELLED;
}

typedef struct md_job_symbol {
    char symbol[MD_SYMBOL_MAX + 1];
    int64_t fetched, stored, rejected;
    int64_t chunks_done, chunks_failed;
    int last_source;                        /* md_source_id of the last answer, -1 when none */
    char last_error[MD_BACKFILL_ERROR_MAX]; /* why its last failed chunk failed, "" when none */
} md_job_symbol;

/* A range of a symbol whose chunks failed for good: [start, end), adjacent failed chunks
 * merged into one range. */
typedef struct md_job_gap {
    size_t symbol; /* index in md_job_info.symbols */
    int64_t start, end;
} md_job_gap;

typedef struct md_job_info {
    char id[MD_JOB_ID_MAX];
    md_job_state state;
    md_interval iv;
    int64_t start, end;
    int source;
    md_job_symbol *symbols; /* heap (md_job_info_deinit) */
    size_t n_symbols;
    int64_t chunks_total, chunks_done, chunks_failed; /* done counts succeeded chunks */
    int64_t fetched, stored, rejected;                /* bars */
    int64_t errors;                                   /* failed attempts, retried ones included */
    char last_error[MD_BACKFILL_ERROR_MAX];
    int64_t created_at, updated_at, finished_at; /* epoch seconds; 0 = not yet */
    double eta_s;        /* -1 when not known (nothing done yet in this run) */
    md_job_gap *missing; /* heap (md_job_info_deinit), by symbol then time */
    size_t n_missing;
} md_job_info;

void md_job_info_deinit(md_job_info *i);

/* A job runner over a store, its writer and a source manager (none owned). Starts
 * o->workers threads (NULL: defaults). */
md_backfill *md_backfill_new(md_store *st, md_writer *w, md_srcmgr *src, const md_backfill_opts *o);
/* Stops: chunks in flight finish and are saved, unfinished jobs are saved as paused.
 * NULL is fine. */
void md_backfill_free(md_backfill *b);

/* Resumes every job the store lists as unfinished (agent start-up). Returns how many. */
int md_backfill_resume_all(md_backfill *b, md_error *err);

/* Agents sharing one store and one Redis run each job on one agent at a time. The agent
 * running a job holds the lease "backfill:<id>" for ttl_ms and renews it every ttl_ms / 3;
 * md_backfill_resume_all skips a job whose lease another agent holds, and every ttl_ms
 * each agent looks at the store's unfinished jobs again and takes over those whose lease
 * expired (their agent died). A job whose lease was lost (this agent stalled past ttl_ms)
 * pauses here and is left to its new holder. claim and renew return 1 (this agent's), 0
 * (another agent's) or -1 (no Redis: the job runs here, as without leases). */
typedef struct md_backfill_lease {
    int (*claim)(void *ctx, const char *name, int64_t ttl_ms);
    int (*renew)(void *ctx, const char *name, int64_t ttl_ms);
    void (*release)(void *ctx, const char *name);
    void *ctx;
    int64_t ttl_ms;
} md_backfill_lease;

/* Call once, before md_backfill_resume_all; starts the thread that renews and takes over. */
void md_backfill_set_lease(md_backfill *b, const md_backfill_lease *l);

/* Creates and starts a job. id NULL: a new id ("bf-" + 16 hex digits), listed in the store
 * so that md_backfill_resume_all picks it up after a restart (POST /backfill) - unless a
 * listed job of the same symbol set, interval, range and source is still queued, running
 * or paused, on this agent or another on the store: then that job's id, and 1. id given
 * (`mdagent fetch`): a job of that id still unfinished in the store resumes where it
 * stopped, otherwise a fresh one replaces it; such jobs are not resumed by an agent.
 * id_out (MD_JOB_ID_MAX bytes) receives the id. Returns 0 (a new or resumed job), 1 (an
 * identical job already open), MD_EINVAL for an empty job, MD_EINTERVAL when no source
 * offers the interval, MD_ENOSOURCE without sources, a store error. */
int md_backfill_submit(md_backfill *b, const md_job_spec *spec, const char *id, char *id_out,
                       md_error *err);

/* Progress of a job, from memory or from the store. MD_ENOTFOUND for an unknown id. */
int md_backfill_get(md_backfill *b, const char *id, md_job_info *out, md_error *err);

/* Cancels a queued, running or paused job, wherever it runs (see the diagram): nothing more
 * is fetched for it; what was stored stays. out (may be NULL) receives the job as it is now.
 * MD_ENOTFOUND for an unknown id, MD_ECONFLICT for a job already done, failed or cancelled,
 * a store error. */
int md_backfill_cancel(md_backfill *b, const char *id, md_job_info *out, md_error *err);

/* Waits for the job to end (done, failed or cancelled), or for *stop (may be NULL) to become nonzero,
 * calling progress (may be NULL) about every 100 ms with the current state. Returns 0
 * when the job ended, MD_ECANCELED when stopped first. */
int md_backfill_wait(md_backfill *b, const char *id, volatile sig_atomic_t *stop,
                     void (*progress)(void *ctx, const md_job_info *info), void *ctx,
                     md_error *err);

/* The id `mdagent fetch` uses for a spec: the same command gives the same id. */
void md_backfill_spec_id(const md_job_spec *spec, char *id_out);

#endif
