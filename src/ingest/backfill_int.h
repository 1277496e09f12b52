/* backfill_int.h - the job record shared by backfill.c (runner) and backfill_doc.c (its
 * state document in the store). Internal to ingest/. */
#ifndef MD_INGEST_BACKFILL_INT_H
#define MD_INGEST_BACKFILL_INT_H

#include "ingest/backfill.h"

#include <pthread.h>

/* Chunk states. */
enum { BF_PENDING = 0, BF_DONE = 1, BF_FAILED = 2 };

typedef struct bf_job {
    char id[MD_JOB_ID_MAX];
    int listed; /* resumed by an agent after a restart */
    md_job_state state;
    md_interval iv;
    int64_t start, end;
    int source;
    int64_t chunk_s; /* range of one chunk */
    size_t per_sym;  /* chunks per symbol */
    size_t nchunks;
    md_job_symbol *sym; /* per symbol: name and counts */
    size_t nsym;
    uint8_t *chunk; /* BF_* per chunk */
    /* runner only (not saved) */
    uint8_t *busy; /* in flight */
    uint8_t *tries;
    int64_t *retry_at_ms; /* a failed chunk waits until then */
    size_t cursor;        /* chunks before it are all done or failed */
    int inflight;
    int64_t next_ms;                /* chunk delay and rate-limit pause of the whole job */
    int64_t rl_wait_ms;             /* current rate-limit back-off */
    int64_t run_start_ms, run_done; /* chunks ended since this process took the job (ETA) */
    int lost;                       /* its lease went to another agent: paused here, never saved */
    /* counts (saved) */
    int64_t chunks_done, chunks_failed, fetched, stored, rejected, errors;
    char last_error[MD_BACKFILL_ERROR_MAX];
    int64_t created_at, updated_at, finished_at;
    /* saving */
    uint64_t version, saved_version;
    pthread_mutex_t save_lock;
    struct bf_job *next;
} bf_job;

/* Allocates the per-chunk arrays of a job whose nchunks is set. */
void md_bf__alloc_chunks(bf_job *j);
void md_bf__job_free(bf_job *j);

/* The job's state document (JSON; heap, md_free). */
char *md_bf__doc_encode(const bf_job *j);
/* Rebuilds a job from its document. NULL with err set when it does not parse. */
bf_job *md_bf__doc_decode(const char *doc, md_error *err);

/* Store keys: the job's document, the list of listed unfinished jobs, and the marker of a
 * cancelled job (its value: when, epoch seconds) that the runner of the job never writes. */
#define MD_BF_OPEN_KEY "backfill/open"
void md_bf__doc_key(const char *id, char *key, size_t n);
void md_bf__cancel_key(const char *id, char *key, size_t n);

/* The failed ranges of a job, per symbol, adjacent chunks merged (md_job_info.missing;
 * heap, md_free). Returns how many. */
size_t md_bf__missing(const bf_job *j, md_job_gap **out);

#endif
