/* backfill.c - the job runner: worker threads take the next chunk of a job, fetch it
 * through the source manager, hand the bars to the writer, and save the job's state.
 * backfill.h has the state diagram; backfill_doc.c the state document. */
#include "ingest/backfill_int.h"

#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RL_WAIT_MAX_MS 60000
#define RETRY_MAX_MS 60000
/* the deployment-wide lock on the open-jobs list (agents sharing a Redis) */
#define OPEN_LEASE "backfill:open"
#define OPEN_LEASE_TTL_MS 10000
#define OPEN_LEASE_WAIT_MS 5000

struct md_backfill {
    md_store *st;
    md_writer *w;
    md_srcmgr *src;
    md_backfill_opts opt;
    pthread_mutex_t lock;
    md_waiter work;  /* workers: work may be ready; its stop stops everything (b->lock) */
    md_waiter moved; /* md_backfill_wait: some job progressed (b->lock) */
    bf_job *jobs;
    size_t rr; /* round-robin position */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t open_lock; /* serialises writes of the open-jobs list */
    md_backfill_lease lease;   /* ttl_ms 0: no leases */
    pthread_t keeper;          /* renews leases, takes over jobs of dead agents */
    int keeper_on;
    md_waiter keeper_sleep; /* the keeper's sleep between rounds (b->lock) */
};

void md_backfill_opts_default(md_backfill_opts *o)
{
    md_backfill_opts_from_config(o, md_config_defaults());
}

void md_backfill_opts_from_config(md_backfill_opts *o, const md_config *cfg)
{
    o->background = 1;
    o->workers = (int)cfg->backfill_workers;
    o->retries = (int)cfg->backfill_retries;
    o->chunk_delay_ms = cfg->backfill_chunk_delay_ms;
    o->retry_base_ms = cfg->backfill_retry_base_ms;
}

void md_job_info_deinit(md_job_info *i)
{
    md_free(i->symbols);
    md_free(i->missing);
    i->symbols = NULL;
    i->missing = NULL;
}

static int64_t mono_ms(void)
{
    return md_mono_ms();
}

/* -- leases (several agents on one store) ---------------------------------------------------- */

static void lease_name(const char *id, char *out, size_t n)
{
    snprintf(out, n, "backfill:%s", id);
}

/* 1 when this agent may run the job (its lease is ours, or there are no leases). */
static int lease_claim(md_backfill *b, const char *id)
{
    if (!b->lease.ttl_ms) return 1;
    char name[MD_JOB_ID_MAX + 16];
    lease_name(id, name, sizeof name);
    return b->lease.claim(b->lease.ctx, name, b->lease.ttl_ms) != 0;
}

static void lease_release(md_backfill *b, const char *id)
{
    if (!b->lease.ttl_ms) return;
    char name[MD_JOB_ID_MAX + 16];
    lease_name(id, name, sizeof name);
    b->lease.release(b->lease.ctx, name);
}

/* Takes b->open_lock and, with leases, the lease on the open-jobs list that every agent of
 * the deployment takes to read and write it (a list written by two agents at once would
 * lose one's job, and two identical jobs submitted at once would both be made). Waits up
 * to OPEN_LEASE_WAIT_MS for it, then goes on without (done twice beats not done). Returns
 * 1 when the lease is held: pass it to open_unlock. */
static int open_lock(md_backfill *b)
{
    pthread_mutex_lock(&b->open_lock);
    if (!b->lease.ttl_ms) return 0;
    int64_t until = mono_ms() + OPEN_LEASE_WAIT_MS;
    for (;;) {
        int got = b->lease.claim(b->lease.ctx, OPEN_LEASE, OPEN_LEASE_TTL_MS);
        if (got != 0) return got == 1;
        if (mono_ms() >= until) {
            MD_WARN("backfill", "the open-jobs list stayed locked by another agent: going on");
            return 0;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void open_unlock(md_backfill *b, int held)
{
    if (held) b->lease.release(b->lease.ctx, OPEN_LEASE);
    pthread_mutex_unlock(&b->open_lock);
}

/* -- the store's documents -------------------------------------------------------------------- */

/* 1 when the job has been cancelled (by any agent), with *when (may be NULL) the time. */
static int cancel_marked(md_backfill *b, const char *id, int64_t *when)
{
    char key[MD_JOB_ID_MAX + 32];
    md_bf__cancel_key(id, key, sizeof key);
    char *v = NULL;
    if (md_store_doc_get(b->st, key, &v, NULL) <= 0) return 0;
    if (when) *when = strtoll(v, NULL, 10);
    md_free(v);
    return 1;
}

/* The job's document; one its runner has not yet seen cancelled reads cancelled. 1 with
 * *out (md_bf__job_free), 0 none, or an error. */
static int load_doc(md_backfill *b, const char *id, bf_job **out, md_error *err)
{
    char key[MD_JOB_ID_MAX + 32];
    md_bf__doc_key(id, key, sizeof key);
    char *doc = NULL;
    int rc = md_store_doc_get(b->st, key, &doc, err);
    if (rc <= 0) return rc;
    bf_job *j = md_bf__doc_decode(doc, err);
    md_free(doc);
    if (!j) return MD_ESTORE;
    int64_t when = 0;
    if (!md_job_state_ended(j->state) && cancel_marked(b, id, &when)) {
        j->state = MD_JOB_CANCELLED;
        j->finished_at = when;
    }
    *out = j;
    return 1;
}

/* -- saving ----------------------------------------------------------------------------------- */

/* The open-jobs list to store (caller holds open_lock, not b->lock): this agent's listed
 * unfinished jobs, add_id (may be NULL), and the stored list's ids this agent does not run
 * (other agents' jobs: several agents share one store) but drop_id (may be NULL),
 * comma-separated. */
static char *open_list(md_backfill *b, const char *add_id, const char *drop_id)
{
    char *stored = NULL;
    if (md_store_doc_get(b->st, MD_BF_OPEN_KEY, &stored, NULL) <= 0) stored = NULL;
    md_buf l;
    md_buf_init(&l);
    pthread_mutex_lock(&b->lock);
    for (bf_job *j = b->jobs; j; j = j->next) {
        if (j->lost || !j->listed || md_job_state_ended(j->state)) continue;
        if (l.len) md_buf_putc(&l, ',');
        md_buf_puts(&l, j->id);
    }
    for (char *save_ptr = NULL, *id = stored ? strtok_r(stored, ",", &save_ptr) : NULL; id;
         id = strtok_r(NULL, ",", &save_ptr)) {
        int mine = (add_id && strcmp(id, add_id) == 0) || (drop_id && strcmp(id, drop_id) == 0);
        for (bf_job *j = b->jobs; j && !mine; j = j->next)
            mine = !j->lost && strcmp(j->id, id) == 0;
        if (mine) continue;
        if (l.len) md_buf_putc(&l, ',');
        md_buf_puts(&l, id);
    }
    pthread_mutex_unlock(&b->lock);
    if (add_id) {
        if (l.len) md_buf_putc(&l, ',');
        md_buf_puts(&l, add_id);
    }
    md_buf_putc(&l, 0);
    md_free(stored);
    return md_buf_steal(&l, NULL);
}

/* Writes the job's document (and, when with_list, the open-jobs list) unless a newer
 * version was written already. Called without b->lock. */
static void save(md_backfill *b, bf_job *j, int with_list)
{
    pthread_mutex_lock(&b->lock);
    uint64_t v = j->version;
    int lost = j->lost;
    char *doc = lost ? NULL : md_bf__doc_encode(j);
    pthread_mutex_unlock(&b->lock);
    if (lost) return; /* another agent runs it now: its document is that agent's to write */

    pthread_mutex_lock(&j->save_lock);
    int held = with_list ? open_lock(b) : 0;
    char *list = with_list ? open_list(b, NULL, NULL) : NULL;
    if (v > j->saved_version || with_list) {
        char key[MD_JOB_ID_MAX + 32];
        md_bf__doc_key(j->id, key, sizeof key);
        const char *keys[2] = {key, MD_BF_OPEN_KEY};
        const char *vals[2] = {doc, list};
        md_error err;
        if (md_store_doc_put(b->st, keys, vals, with_list ? 2 : 1, &err) != 0)
            MD_WARN("backfill", "cannot save job state id=%s err=\"%s\"", j->id, err.msg);
        else if (v > j->saved_version)
            j->saved_version = v;
    }
    if (with_list) open_unlock(b, held);
    pthread_mutex_unlock(&j->save_lock);
    md_free(doc);
    md_free(list);
}

/* -- cancelling ------------------------------------------------------------------------------- */

/* Caller holds b->lock; the job is not ended. */
static void mark_cancelled(bf_job *j, int64_t when)
{
    j->state = MD_JOB_CANCELLED;
    j->finished_at = when;
    j->updated_at = md_now();
    j->version++;
    MD_INFO("backfill", "job cancelled id=%s chunks=%lld of %zu failed=%lld bars=%lld", j->id,
            (long long)j->chunks_done, j->nchunks, (long long)j->chunks_failed,
            (long long)j->stored);
}

/* The job runs here and another agent cancelled it (its marker): cancelled here too, saved,
 * its lease given back. Called without b->lock. */
static void take_cancel(md_backfill *b, bf_job *j, int64_t when)
{
    pthread_mutex_lock(&b->lock);
    int open = !j->lost && !md_job_state_ended(j->state);
    if (open) mark_cancelled(j, when);
    md_waiter_notify_locked(&b->moved);
    pthread_mutex_unlock(&b->lock);
    if (!open) return;
    save(b, j, j->listed);
    lease_release(b, j->id);
}

/* -- one chunk -------------------------------------------------------------------------------- */

typedef struct {
    md_writer *w;
    int64_t stored, rejected;
    int store_rc;
    md_error store_err;
} keep_ctx;

static int keep_bars(void *ctx, const char *symbol, md_interval iv, md_bar *bars, size_t n)
{
    keep_ctx *k = ctx;
    md_series s = {symbol, iv, bars, n};
    md_write_result r;
    md_write_result_init(&r, 1);
    md_write req = {.origin = MD_WRITE_BACKFILL, .series = &s, .n_series = 1};
    int rc = md_writer_write(k->w, &req, &r, &k->store_err);
    if (rc == 0) {
        k->stored += (int64_t)r.stored;
        k->rejected += (int64_t)r.rejected;
    } else {
        k->store_rc = rc;
    }
    md_write_result_deinit(&r);
    return rc ? rc : (r.rejected ? MD_EBAR : 0);
}

typedef struct {
    int rc;
    md_error err;
    int64_t fetched, stored, rejected;
    int source;
} chunk_out;

/* 1 when no bar of interval iv starting in [a, e) can hold a trade of market c (NULL: not
 * known): no session's extended hours come within a bar of [a, e) for an intraday interval,
 * or no session date falls in the range for a daily one (the bar of date D starts at D's
 * midnight UTC). Weekly and monthly bars are always asked for. */
static int market_closed(const md_cal *c, md_interval iv, int64_t a, int64_t e)
{
    const int64_t day = 86400, step = md_interval_seconds(iv);
    if (!c || step > day) return 0;
    if (step == day) {
        int64_t d0 = a >= 0 ? (a + day - 1) / day : a / day; /* ceil */
        int64_t d1 = e >= 0 ? (e + day - 1) / day : e / day;
        return md_cal_count_sessions(c, d0, d1) == 0;
    }
    /* extended hours end within hours of the regular close: the sessions closing after a day
     * before the range are every one that may reach into it */
    md_cal_session s;
    for (int64_t t = a - step - day; md_cal_next(c, t, &s) == 1 && s.ext_open < e + step;
         t = s.close)
        if (s.ext_close > a - step) return 0;
    return 1;
}

static void run_chunk(md_backfill *b, const bf_job *j, size_t k, chunk_out *o)
{
    const char *symbol = j->sym[k / j->per_sym].symbol;
    int64_t a = j->start + (int64_t)(k % j->per_sym) * j->chunk_s;
    int64_t e = a + j->chunk_s < j->end ? a + j->chunk_s : j->end;
    if (market_closed(md_writer_calendar(b->w, symbol), j->iv, a, e)) {
        /* a weekend or a holiday of the symbol's market: nothing to ask a provider for */
        memset(o, 0, sizeof *o);
        o->source = -1;
        return;
    }
    keep_ctx kc;
    memset(&kc, 0, sizeof kc);
    kc.w = b->w;
    md_tick_sink sink = {NULL, keep_bars, &kc};
    md_fetch_opts fo = {j->source, b->opt.background, &sink};
    md_fetch_result res;
    memset(&res, 0, sizeof res);
    md_bar_vec v;
    md_bar_vec_init(&v);
    memset(o, 0, sizeof *o);
    o->source = -1;
    int rc = md_srcmgr_bars(b->src, symbol, j->iv, a, e, &fo, &v, &res, &o->err);
    md_bar_vec_deinit(&v);
    if (rc < 0) {
        o->rc = rc;
        return;
    }
    if (kc.store_rc) { /* fetched, but the store refused it: try the chunk again later */
        o->rc = kc.store_rc;
        o->err = kc.store_err;
        return;
    }
    o->fetched = rc;
    o->stored = kc.stored;
    o->rejected = kc.rejected;
    o->source = res.source;
    if (res.coalesced) o->stored = rc; /* stored by the fetch this one joined */
}

/* Transient failures are retried; these are not. */
static int permanent(int rc)
{
    return rc == MD_ENOTFOUND || rc == MD_EINTERVAL || rc == MD_EUNAUTHSRC || rc == MD_EINVAL ||
           rc == MD_ESYMBOL;
}

static void finish_if_done(bf_job *j)
{
    if (j->inflight || md_job_state_ended(j->state)) return;
    while (j->cursor < j->nchunks && j->chunk[j->cursor] != BF_PENDING) j->cursor++;
    if (j->cursor < j->nchunks) return;
    j->state = j->chunks_done == 0 && j->chunks_failed > 0 ? MD_JOB_FAILED : MD_JOB_DONE;
    j->finished_at = md_now();
    MD_INFO("backfill", "job %s id=%s chunks=%lld failed=%lld bars=%lld",
            md_job_state_name(j->state), j->id, (long long)j->chunks_done,
            (long long)j->chunks_failed, (long long)j->stored);
}

/* Applies a chunk's outcome (caller holds b->lock). Returns 1 when the job ended. */
static int apply(md_backfill *b, bf_job *j, size_t k, const chunk_out *o)
{
    md_job_symbol *s = &j->sym[k / j->per_sym];
    int64_t now = mono_ms();
    j->busy[k] = 0;
    j->inflight--;
    j->updated_at = md_now();
    j->version++;
    if (o->rc == 0) {
        j->chunk[k] = BF_DONE;
        j->chunks_done++;
        j->run_done++;
        j->fetched += o->fetched;
        j->stored += o->stored;
        j->rejected += o->rejected;
        s->fetched += o->fetched;
        s->stored += o->stored;
        s->rejected += o->rejected;
        s->chunks_done++;
        if (o->source >= 0) s->last_source = o->source;
        j->rl_wait_ms = 0;
    } else if (o->rc == MD_ECANCELED) {
        /* the agent is shutting down: the chunk stays pending for the next run; not an error */
        if (j->next_ms < now + b->opt.retry_base_ms) j->next_ms = now + b->opt.retry_base_ms;
    } else if (o->rc == MD_ERATELIMIT) {
        /* out of budget: the chunk waits its turn again; not an error */
        j->rl_wait_ms = j->rl_wait_ms ? j->rl_wait_ms * 2 : b->opt.retry_base_ms;
        if (j->rl_wait_ms > RL_WAIT_MAX_MS) j->rl_wait_ms = RL_WAIT_MAX_MS;
        if (j->next_ms < now + j->rl_wait_ms) j->next_ms = now + j->rl_wait_ms;
        MD_DEBUG("backfill", "rate limited id=%s wait_ms=%lld", j->id, (long long)j->rl_wait_ms);
    } else {
        j->errors++;
        snprintf(j->last_error, sizeof j->last_error, "%s: %s", s->symbol, o->err.msg);
        if (permanent(o->rc) || j->tries[k] >= b->opt.retries) {
            j->chunk[k] = BF_FAILED;
            j->chunks_failed++;
            j->run_done++;
            s->chunks_failed++;
            snprintf(s->last_error, sizeof s->last_error, "%s", o->err.msg);
            MD_WARN("backfill", "chunk failed id=%s symbol=%s err=\"%s\"", j->id, s->symbol,
                    o->err.msg);
        } else {
            int64_t wait = b->opt.retry_base_ms << (j->tries[k] < 16 ? j->tries[k] : 16);
            if (wait > RETRY_MAX_MS) wait = RETRY_MAX_MS;
            j->tries[k]++;
            j->retry_at_ms[k] = now + wait;
        }
    }
    int was_open = !md_job_state_ended(j->state);
    finish_if_done(j);
    return was_open && md_job_state_ended(j->state);
}

/* Next runnable chunk of a job, or SIZE_MAX; *wake_ms lowers to when one becomes runnable. */
static size_t pick(bf_job *j, int64_t now, int64_t *wake_ms)
{
    if (j->state != MD_JOB_QUEUED && j->state != MD_JOB_RUNNING) return SIZE_MAX;
    if (j->next_ms > now) {
        if (j->next_ms < *wake_ms) *wake_ms = j->next_ms;
        return SIZE_MAX;
    }
    while (j->cursor < j->nchunks && j->chunk[j->cursor] != BF_PENDING) j->cursor++;
    for (size_t k = j->cursor; k < j->nchunks; k++) {
        if (j->chunk[k] != BF_PENDING || j->busy[k]) continue;
        if (j->retry_at_ms[k] > now) {
            if (j->retry_at_ms[k] < *wake_ms) *wake_ms = j->retry_at_ms[k];
            continue;
        }
        return k;
    }
    return SIZE_MAX;
}

static void *worker_main(void *arg)
{
    md_backfill *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!md_waiter_stopped(&b->work)) {
        int64_t now = mono_ms(), wake = now + 1000;
        bf_job *j = NULL;
        size_t k = SIZE_MAX, njobs = 0;
        for (bf_job *x = b->jobs; x; x = x->next) njobs++;
        /* round robin: each pick starts one job further along the list */
        size_t first = njobs ? b->rr++ % njobs : 0;
        bf_job *x = b->jobs;
        for (size_t i = 0; i < first; i++) x = x->next;
        for (size_t i = 0; i < njobs && k == SIZE_MAX; i++) {
            if ((k = pick(x, now, &wake)) != SIZE_MAX) j = x;
            x = x->next ? x->next : b->jobs;
        }
        if (!j) {
            md_waiter_wait_until_locked(&b->work, wake > now ? wake : now + 1);
            continue;
        }
        j->busy[k] = 1;
        j->inflight++;
        if (j->state == MD_JOB_QUEUED) j->state = MD_JOB_RUNNING;
        if (!j->run_start_ms) j->run_start_ms = now;
        j->next_ms = now + b->opt.chunk_delay_ms;
        pthread_mutex_unlock(&b->lock);

        int64_t when = 0;
        if (cancel_marked(b, j->id, &when)) { /* by another agent: this chunk is not asked */
            pthread_mutex_lock(&b->lock);
            j->busy[k] = 0;
            j->inflight--;
            pthread_mutex_unlock(&b->lock);
            take_cancel(b, j, when);
            pthread_mutex_lock(&b->lock);
            continue;
        }
        chunk_out o;
        run_chunk(b, j, k, &o);

        pthread_mutex_lock(&b->lock);
        int ended = apply(b, j, k, &o);
        pthread_mutex_unlock(&b->lock);
        save(b, j, ended && j->listed);
        if (ended) lease_release(b, j->id);
        pthread_mutex_lock(&b->lock);
        md_waiter_notify_locked(&b->moved);
        md_waiter_notify_locked(&b->work);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* -- life cycle ------------------------------------------------------------------------------- */

md_backfill *md_backfill_new(md_store *st, md_writer *w, md_srcmgr *src, const md_backfill_opts *o)
{
    md_backfill *b = md_calloc(1, sizeof *b);
    b->st = st;
    b->w = w;
    b->src = src;
    if (o)
        b->opt = *o;
    else
        md_backfill_opts_default(&b->opt);
    if (b->opt.workers < 1) b->opt.workers = 1;
    if (b->opt.retry_base_ms < 1) b->opt.retry_base_ms = 1;
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->open_lock, NULL);
    md_waiter_init(&b->work, &b->lock);
    md_waiter_init(&b->moved, &b->lock);
    md_waiter_init(&b->keeper_sleep, &b->lock);
    b->threads = md_calloc((size_t)b->opt.workers, sizeof *b->threads);
    for (int i = 0; i < b->opt.workers; i++) {
        if (pthread_create(&b->threads[i], NULL, worker_main, b) != 0) break;
        char name[16];
        snprintf(name, sizeof name, "backfill-%d", i % 100);
        pthread_setname_np(b->threads[i], name);
        b->nthreads++;
    }
    return b;
}

void md_backfill_free(md_backfill *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    md_waiter_stop_locked(&b->work);
    md_waiter_stop_locked(&b->moved);
    md_waiter_stop_locked(&b->keeper_sleep);
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < b->nthreads; i++) pthread_join(b->threads[i], NULL);
    if (b->keeper_on) pthread_join(b->keeper, NULL);
    /* what was not finished waits for the next run, or for another agent: its lease is
     * given back at once */
    for (bf_job *j = b->jobs; j; j = j->next) {
        if ((j->state == MD_JOB_QUEUED || j->state == MD_JOB_RUNNING) && !j->lost) {
            j->state = MD_JOB_PAUSED;
            j->version++;
            save(b, j, 0);
            lease_release(b, j->id);
        }
    }
    while (b->jobs) {
        bf_job *n = b->jobs->next;
        md_bf__job_free(b->jobs);
        b->jobs = n;
    }
    md_free(b->threads);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->open_lock);
    md_waiter_deinit(&b->work);
    md_waiter_deinit(&b->moved);
    md_waiter_deinit(&b->keeper_sleep);
    md_free(b);
}

static bf_job *find(md_backfill *b, const char *id)
{
    for (bf_job *j = b->jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0) return j;
    return NULL;
}

/* Takes a job into the runner (caller holds b->lock). */
static void adopt(md_backfill *b, bf_job *j)
{
    if (!md_job_state_ended(j->state))
        j->state = j->chunks_done || j->chunks_failed ? MD_JOB_RUNNING : MD_JOB_QUEUED;
    j->next = b->jobs;
    b->jobs = j;
    md_waiter_notify_locked(&b->work);
}

int md_backfill_resume_all(md_backfill *b, md_error *err)
{
    char *list = NULL;
    int rc = md_store_doc_get(b->st, MD_BF_OPEN_KEY, &list, err);
    if (rc <= 0) return rc;
    int n = 0;
    for (char *save_ptr = NULL, *id = strtok_r(list, ",", &save_ptr); id;
         id = strtok_r(NULL, ",", &save_ptr)) {
        pthread_mutex_lock(&b->lock);
        int known = find(b, id) != NULL;
        pthread_mutex_unlock(&b->lock);
        if (known) continue;
        bf_job *j = NULL;
        md_error e;
        int got = load_doc(b, id, &j, &e);
        if (got <= 0) {
            MD_WARN("backfill", "cannot resume job id=%s err=\"%s\"", id, got ? e.msg : "no state");
            continue;
        }
        if (md_job_state_ended(j->state)) { /* cancelled by a marker its runner did not see */
            md_bf__job_free(j);
            continue;
        }
        if (!lease_claim(b, id)) { /* another agent runs it */
            MD_DEBUG("backfill", "job runs on another agent id=%s", id);
            md_bf__job_free(j);
            continue;
        }
        pthread_mutex_lock(&b->lock);
        int raced = find(b, id) != NULL; /* the keeper and start-up may look at once */
        if (!raced) adopt(b, j);
        pthread_mutex_unlock(&b->lock);
        if (raced) {
            md_bf__job_free(j);
            continue;
        }
        MD_INFO("backfill", "job resumed id=%s chunks_done=%lld of %zu", j->id,
                (long long)j->chunks_done, j->nchunks);
        n++;
    }
    md_free(list);
    return n;
}

/* Every ttl/3: renews the leases of the jobs running here (a lost one pauses here); every
 * ttl: takes over the unfinished jobs whose lease expired. */
static void *keeper_main(void *arg)
{
    md_backfill *b = arg;
    int64_t period = b->lease.ttl_ms / 3 > 0 ? b->lease.ttl_ms / 3 : 1;
    int64_t next_scan = mono_ms() + b->lease.ttl_ms;
    pthread_mutex_lock(&b->lock);
    while (!md_waiter_stopped(&b->keeper_sleep)) {
        if (md_waiter_wait_until_locked(&b->keeper_sleep, mono_ms() + period)) break;
        size_t n = 0;
        for (bf_job *j = b->jobs; j; j = j->next) n++;
        char(*ids)[MD_JOB_ID_MAX] = n ? md_calloc(n, sizeof *ids) : NULL;
        size_t k = 0;
        for (bf_job *j = b->jobs; j; j = j->next)
            if (!j->lost && (j->state == MD_JOB_QUEUED || j->state == MD_JOB_RUNNING))
                snprintf(ids[k++], MD_JOB_ID_MAX, "%s", j->id);
        pthread_mutex_unlock(&b->lock);
        for (size_t i = 0; i < k; i++) {
            char name[MD_JOB_ID_MAX + 16];
            lease_name(ids[i], name, sizeof name);
            if (b->lease.renew(b->lease.ctx, name, b->lease.ttl_ms) != 0) {
                int64_t when = 0; /* a job waiting out a rate limit learns it was cancelled */
                if (!cancel_marked(b, ids[i], &when)) continue;
                pthread_mutex_lock(&b->lock);
                bf_job *j = find(b, ids[i]);
                pthread_mutex_unlock(&b->lock);
                if (j) take_cancel(b, j, when);
                continue;
            }
            pthread_mutex_lock(&b->lock);
            bf_job *j = find(b, ids[i]);
            if (j && !j->lost && (j->state == MD_JOB_QUEUED || j->state == MD_JOB_RUNNING)) {
                j->lost = 1;
                j->state = MD_JOB_PAUSED;
                MD_WARN("backfill", "job lease lost to another agent id=%s: paused here", j->id);
            }
            pthread_mutex_unlock(&b->lock);
        }
        md_free(ids);
        if (mono_ms() >= next_scan) {
            next_scan = mono_ms() + b->lease.ttl_ms;
            md_error e;
            int n_taken = md_backfill_resume_all(b, &e);
            if (n_taken > 0)
                MD_INFO("backfill", "jobs taken over from other agents count=%d", n_taken);
        }
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

void md_backfill_set_lease(md_backfill *b, const md_backfill_lease *l)
{
    if (!l || l->ttl_ms <= 0 || !l->claim || !l->renew || !l->release || b->keeper_on) return;
    b->lease = *l;
    if (pthread_create(&b->keeper, NULL, keeper_main, b) == 0) {
        pthread_setname_np(b->keeper, "backfill-lease");
        b->keeper_on = 1;
    } else {
        memset(&b->lease, 0, sizeof b->lease);
    }
}

static void random_id(char *out)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint64_t)md_now_ms() * 2654435761u;
    snprintf(out, MD_JOB_ID_MAX, "bf-%016llx", (unsigned long long)r);
}

void md_backfill_spec_id(const md_job_spec *spec, char *id_out)
{
    /* persisted: a rerun of the same fetch command resumes the job by this id */
    uint64_t h = MD_HASH_SEED;
    for (size_t i = 0; i < spec->n_symbols; i++)
        h = md_hash_more(h, spec->symbols[i], strlen(spec->symbols[i]) + 1);
    int iv = (int)spec->iv;
    h = md_hash_more(h, &iv, sizeof iv);
    h = md_hash_more(h, &spec->start, sizeof spec->start);
    h = md_hash_more(h, &spec->end, sizeof spec->end);
    h = md_hash_more(h, &spec->source, sizeof spec->source);
    snprintf(id_out, MD_JOB_ID_MAX, "fetch-%016llx", (unsigned long long)h);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* 1 when j is a listed job still open made of the same symbol set (sorted[n], sorted and
 * unique), interval, range and source as spec. */
static int same_job(const bf_job *j, const md_job_spec *spec, const char **sorted, size_t n)
{
    if (!j->listed || md_job_state_ended(j->state) || j->iv != spec->iv ||
        j->start != spec->start || j->end != spec->end || j->source != spec->source || j->nsym != n)
        return 0;
    for (size_t i = 0; i < j->nsym; i++) { /* j's symbols are unique too */
        const char *key = j->sym[i].symbol;
        if (!bsearch(&key, sorted, n, sizeof *sorted, cmp_str)) return 0;
    }
    return 1;
}

/* A job identical to spec still open, run here or by another agent on the store (caller
 * holds the open lock): 1 with its id in id_out, else 0. */
static int find_same(md_backfill *b, const md_job_spec *spec, char *id_out)
{
    const char **sorted = md_malloc(spec->n_symbols * sizeof *sorted);
    memcpy(sorted, spec->symbols, spec->n_symbols * sizeof *sorted);
    qsort(sorted, spec->n_symbols, sizeof *sorted, cmp_str);
    size_t n = 0;
    for (size_t i = 0; i < spec->n_symbols; i++)
        if (!n || strcmp(sorted[n - 1], sorted[i]) != 0) sorted[n++] = sorted[i];
    int found = 0;
    pthread_mutex_lock(&b->lock);
    for (bf_job *j = b->jobs; j && !found; j = j->next) {
        if (j->lost || !same_job(j, spec, sorted, n)) continue;
        snprintf(id_out, MD_JOB_ID_MAX, "%s", j->id);
        found = 1;
    }
    pthread_mutex_unlock(&b->lock);
    char *list = NULL;
    if (!found && md_store_doc_get(b->st, MD_BF_OPEN_KEY, &list, NULL) > 0) {
        for (char *save_ptr = NULL, *id = strtok_r(list, ",", &save_ptr); id && !found;
             id = strtok_r(NULL, ",", &save_ptr)) {
            bf_job *j = NULL;
            md_error e;
            if (load_doc(b, id, &j, &e) != 1) continue;
            if (same_job(j, spec, sorted, n)) {
                snprintf(id_out, MD_JOB_ID_MAX, "%s", j->id);
                found = 1;
            }
            md_bf__job_free(j);
        }
        md_free(list);
    }
    md_free(sorted);
    return found;
}

/* A fetch command's job (id given): 1 when the unfinished job of that id was taken up
 * again (running here, or resumed from the store), 0 when a fresh one is to be made. */
static int resume_fetch(md_backfill *b, const md_job_spec *spec, const char *id, md_error *err)
{
    pthread_mutex_lock(&b->lock);
    bf_job *known = find(b, id);
    int running = known && (known->state == MD_JOB_QUEUED || known->state == MD_JOB_RUNNING);
    int busy = known && known->inflight;
    pthread_mutex_unlock(&b->lock);
    if (running) return 1;
    if (busy) /* cancelled with a chunk in flight: its worker still holds it */
        return md_error_set(err, MD_EAGAIN, "job %s is finishing a chunk; try again", id);
    bf_job *j = NULL;
    md_error e;
    if (!known && load_doc(b, id, &j, &e) == 1) {
        if (!md_job_state_ended(j->state) && j->iv == spec->iv && j->start == spec->start &&
            j->end == spec->end && j->source == spec->source) {
            pthread_mutex_lock(&b->lock);
            adopt(b, j);
            pthread_mutex_unlock(&b->lock);
            MD_INFO("backfill", "job resumed id=%s chunks_done=%lld of %zu", j->id,
                    (long long)j->chunks_done, j->nchunks);
            return 1;
        }
        md_bf__job_free(j);
    }
    if (known) { /* finished in this process: start over */
        pthread_mutex_lock(&b->lock);
        bf_job **pp = &b->jobs;
        while (*pp && *pp != known) pp = &(*pp)->next;
        if (*pp) *pp = known->next;
        pthread_mutex_unlock(&b->lock);
        md_bf__job_free(known);
    }
    return 0;
}

/* A new job of spec, not yet saved. */
static bf_job *job_new(md_backfill *b, const md_job_spec *spec, const char *id)
{
    bf_job *j = md_calloc(1, sizeof *j);
    pthread_mutex_init(&j->save_lock, NULL);
    if (id)
        snprintf(j->id, sizeof j->id, "%s", id);
    else
        random_id(j->id);
    j->listed = id == NULL;
    j->iv = spec->iv;
    j->start = spec->start;
    j->end = spec->end;
    j->source = spec->source;
    int64_t range = spec->end - spec->start;
    int64_t max = md_srcmgr_max_range_s(b->src, spec->source, spec->iv);
    j->chunk_s = max > 0 && max < range ? max : range;
    j->per_sym = (size_t)((range + j->chunk_s - 1) / j->chunk_s);
    j->sym = md_calloc(spec->n_symbols, sizeof *j->sym);
    for (size_t i = 0; i < spec->n_symbols; i++) {
        int seen = 0;
        for (size_t k = 0; k < j->nsym && !seen; k++)
            seen = strcmp(j->sym[k].symbol, spec->symbols[i]) == 0;
        if (seen) continue;
        snprintf(j->sym[j->nsym].symbol, sizeof j->sym[0].symbol, "%s", spec->symbols[i]);
        j->sym[j->nsym].last_source = -1;
        j->nsym++;
    }
    j->nchunks = j->per_sym * j->nsym;
    md_bf__alloc_chunks(j);
    j->state = MD_JOB_QUEUED;
    j->created_at = j->updated_at = md_now();
    j->version = 1;
    return j;
}

int md_backfill_submit(md_backfill *b, const md_job_spec *spec, const char *id, char *id_out,
                       md_error *err)
{
    if (!b->src) return md_error_set(err, MD_ENOSOURCE, "no sources are configured");
    if (spec->n_symbols == 0) return md_error_set(err, MD_EINVAL, "a backfill needs symbols");
    if (spec->end <= spec->start)
        return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    if (!md_srcmgr_supports(b->src, spec->source, spec->iv))
        return md_error_set(err, MD_EINTERVAL, "no source offers %s bars",
                            md_interval_name(spec->iv));
    if (id) { /* a fetch command: resume the unfinished job of the same command */
        int rc = resume_fetch(b, spec, id, err);
        if (rc < 0) return rc;
        if (rc) {
            snprintf(id_out, MD_JOB_ID_MAX, "%s", id);
            return 0;
        }
    }

    /* one check and one listing for every agent: an identical job asked of two agents at
     * once is made once */
    int held = open_lock(b);
    if (!id && find_same(b, spec, id_out)) {
        open_unlock(b, held);
        MD_INFO("backfill", "job asked again id=%s: the open one answers", id_out);
        return 1;
    }
    bf_job *j = job_new(b, spec, id);
    /* saved (and listed) before it runs: an accepted job survives a crash right after */
    char *doc = md_bf__doc_encode(j);
    char key[MD_JOB_ID_MAX + 32], mark[MD_JOB_ID_MAX + 32];
    md_bf__doc_key(j->id, key, sizeof key);
    md_bf__cancel_key(j->id, mark, sizeof mark);
    /* leased before it is listed: another agent looking at the list leaves it alone (a new
     * id, so nobody else holds it) */
    lease_claim(b, j->id);
    char *list = j->listed ? open_list(b, j->id, NULL) : NULL;
    /* a fetch job of the id cancelled before starts over: its marker goes */
    const char *keys[2] = {key, j->listed ? MD_BF_OPEN_KEY : mark};
    const char *vals[2] = {doc, list};
    int rc = md_store_doc_put(b->st, keys, vals, 2, err);
    open_unlock(b, held);
    md_free(doc);
    md_free(list);
    if (rc) {
        lease_release(b, j->id);
        md_bf__job_free(j);
        return rc;
    }
    j->saved_version = 1;
    pthread_mutex_lock(&b->lock);
    adopt(b, j);
    pthread_mutex_unlock(&b->lock);
    MD_INFO("backfill", "job queued id=%s symbols=%zu interval=%s chunks=%zu", j->id, j->nsym,
            md_interval_name(j->iv), j->nchunks);
    snprintf(id_out, MD_JOB_ID_MAX, "%s", j->id);
    return 0;
}

/* -- progress --------------------------------------------------------------------------------- */

/* The fields a job's info takes from the job as they are (same names in both). */
/* clang-format off */
#define BF_INFO_FIELDS(X)                                                                          \
    X(state) X(iv) X(start) X(end) X(source)                                                       \
    X(chunks_done) X(chunks_failed) X(fetched) X(stored) X(rejected) X(errors)                     \
    X(created_at) X(updated_at) X(finished_at)
/* clang-format on */

static void info_of(const bf_job *j, md_job_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", j->id);
#define BF_COPY(f) out->f = j->f;
    BF_INFO_FIELDS(BF_COPY)
#undef BF_COPY
    out->n_symbols = j->nsym;
    out->symbols = md_malloc((j->nsym ? j->nsym : 1) * sizeof *out->symbols);
    memcpy(out->symbols, j->sym, j->nsym * sizeof *out->symbols);
    out->chunks_total = (int64_t)j->nchunks;
    snprintf(out->last_error, sizeof out->last_error, "%s", j->last_error);
    out->n_missing = md_bf__missing(j, &out->missing);
    out->eta_s = -1;
    if (md_job_state_ended(j->state)) {
        out->eta_s = 0;
    } else if (j->run_done > 0 && j->run_start_ms) {
        double per = (double)(mono_ms() - j->run_start_ms) / 1000.0 / (double)j->run_done;
        int64_t left = (int64_t)j->nchunks - j->chunks_done - j->chunks_failed;
        out->eta_s = per * (double)(left > 0 ? left : 0);
    }
}

int md_backfill_get(md_backfill *b, const char *id, md_job_info *out, md_error *err)
{
    pthread_mutex_lock(&b->lock);
    bf_job *j = find(b, id);
    if (j && j->lost) j = NULL; /* another agent runs it: its document is the truth */
    int open = j && !md_job_state_ended(j->state);
    pthread_mutex_unlock(&b->lock);
    int64_t when = 0;
    if (open && cancel_marked(b, id, &when)) take_cancel(b, j, when); /* by another agent */
    if (j) {
        pthread_mutex_lock(&b->lock);
        info_of(j, out);
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    int rc = load_doc(b, id, &j, err);
    if (rc < 0) return rc;
    if (rc == 0) return md_error_set(err, MD_ENOTFOUND, "no job '%.40s'", id);
    info_of(j, out);
    md_bf__job_free(j);
    return 0;
}

static int ended_already(const bf_job *j, md_error *err)
{
    return md_error_set(err, MD_ECONFLICT, "job %s is already %s: nothing to cancel", j->id,
                        md_job_state_name(j->state));
}

int md_backfill_cancel(md_backfill *b, const char *id, md_job_info *out, md_error *err)
{
    int64_t now = md_now();
    char mark[MD_JOB_ID_MAX + 32], when[24];
    md_bf__cancel_key(id, mark, sizeof mark);
    snprintf(when, sizeof when, "%lld", (long long)now);
    pthread_mutex_lock(&b->lock);
    bf_job *j = find(b, id);
    if (j && j->lost) j = NULL; /* another agent runs it */
    if (j && md_job_state_ended(j->state)) {
        int rc = ended_already(j, err);
        pthread_mutex_unlock(&b->lock);
        return rc;
    }
    if (j) {
        mark_cancelled(j, now);
        md_waiter_notify_locked(&b->moved);
    }
    pthread_mutex_unlock(&b->lock);
    if (j) { /* running here: the marker for the agent that might take its lease over */
        const char *keys[1] = {mark}, *vals[1] = {when};
        md_error e;
        if (md_store_doc_put(b->st, keys, vals, 1, &e) != 0)
            MD_WARN("backfill", "cannot save the cancel of job id=%s err=\"%s\"", id, e.msg);
        save(b, j, j->listed);
        lease_release(b, j->id);
        if (out) {
            pthread_mutex_lock(&b->lock);
            info_of(j, out);
            pthread_mutex_unlock(&b->lock);
        }
        return 0;
    }
    /* run by another agent, or by none (paused): its document and the marker its runner
     * reads before every chunk, and out of the open-jobs list, in one transaction */
    int rc = load_doc(b, id, &j, err);
    if (rc < 0) return rc;
    if (rc == 0) return md_error_set(err, MD_ENOTFOUND, "no job '%.40s'", id);
    if (md_job_state_ended(j->state)) {
        rc = ended_already(j, err);
        md_bf__job_free(j);
        return rc;
    }
    mark_cancelled(j, now);
    char *doc = md_bf__doc_encode(j);
    char key[MD_JOB_ID_MAX + 32];
    md_bf__doc_key(id, key, sizeof key);
    int held = open_lock(b);
    char *list = j->listed ? open_list(b, NULL, id) : NULL;
    const char *keys[3] = {key, mark, MD_BF_OPEN_KEY}, *vals[3] = {doc, when, list};
    rc = md_store_doc_put(b->st, keys, vals, j->listed ? 3 : 2, err);
    open_unlock(b, held);
    md_free(doc);
    md_free(list);
    if (rc == 0 && out) info_of(j, out);
    md_bf__job_free(j);
    return rc;
}

int md_backfill_wait(md_backfill *b, const char *id, volatile sig_atomic_t *stop,
                     void (*progress)(void *ctx, const md_job_info *info), void *ctx, md_error *err)
{
    for (;;) {
        md_job_info info;
        pthread_mutex_lock(&b->lock);
        bf_job *j = find(b, id);
        if (!j) {
            pthread_mutex_unlock(&b->lock);
            return md_error_set(err, MD_ENOTFOUND, "no job '%.40s' running here", id);
        }
        int ended = md_job_state_ended(j->state);
        if (!ended && !(stop && *stop)) md_waiter_wait_until_locked(&b->moved, mono_ms() + 100);
        info_of(j, &info);
        ended = md_job_state_ended(j->state);
        pthread_mutex_unlock(&b->lock);
        if (progress) progress(ctx, &info);
        md_job_info_deinit(&info);
        if (ended) return 0;
        if (stop && *stop) return md_error_set(err, MD_ECANCELED, "interrupted");
    }
}
