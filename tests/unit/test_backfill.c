/* Backfill jobs (ingest/backfill): chunking, storing through the writer into a real SQLite
 * store, retries and permanent failures, rate-limit waits, the state document, and
 * resuming a stopped job - against a scripted source behind a real source manager. */
#include "ingest/backfill.h"
#include "ingest/backfill_int.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

/* -- a scripted source ----------------------------------------------------------------------
 *   BAD*    unknown symbol (MD_ENOTFOUND)
 *   FLAKY*  the first two calls of every chunk fail (MD_ETRANSIENT), then answer
 *   LIMIT*  the first two calls of every chunk are refused for the rate limit
 *   HOLE*   the chunks starting 1, 2 and 5 days after DAY0 fail for good (MD_ENOTFOUND)
 *   other   one bar per interval bucket of the range, close = 100 + minute of the day / 100
 * 1m chunks cover one day. */
#define DAY0 1704067200 /* 2024-01-01 */

static int calls, slow_ms;
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
typedef struct {
    char key[64];
    int n;
} seen;
static seen tries[4096];
static int ntries;

static int tries_of(const char *sym, int64_t start)
{
    char key[64];
    snprintf(key, sizeof key, "%s@%lld", sym, (long long)start);
    pthread_mutex_lock(&calls_lock);
    calls++;
    int i = 0;
    while (i < ntries && strcmp(tries[i].key, key) != 0) i++;
    if (i == ntries) snprintf(tries[ntries++].key, sizeof tries[0].key, "%s", key);
    int n = ++tries[i].n;
    pthread_mutex_unlock(&calls_lock);
    return n;
}

static int fake_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                      md_error *err)
{
    (void)src, (void)symbol, (void)out, (void)meta;
    return md_error_set(err, MD_ENOTFOUND, "no quotes here");
}

static int fake_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                     md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    (void)src;
    meta->retry_after_s = 0;
    int n = tries_of(symbol, start);
    if (slow_ms) {
        struct timespec ts = {0, slow_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (strncmp(symbol, "BAD", 3) == 0)
        return md_error_set(err, MD_ENOTFOUND, "unknown symbol %s", symbol);
    int64_t day = (start - DAY0) / 86400;
    if (strncmp(symbol, "HOLE", 4) == 0 && (day == 1 || day == 2 || day == 5))
        return md_error_set(err, MD_ENOTFOUND, "no bars on day %lld", (long long)day);
    if (strncmp(symbol, "FLAKY", 5) == 0 && n <= 2)
        return md_error_set(err, MD_ETRANSIENT, "HTTP 503 from the fake");
    if (strncmp(symbol, "LIMIT", 5) == 0 && n <= 2) {
        meta->http_status = 429;
        return md_error_set(err, MD_ERATELIMIT, "HTTP 429 from the fake");
    }
    int added = 0;
    for (int64_t t = md_interval_floor(iv, start); t < end; t = md_interval_next(iv, t)) {
        if (t < start) continue;
        md_bar b;
        md_bar_init(&b);
        b.ts = t;
        b.open = b.high = b.low = b.close = 100 + (double)(t % 86400 / 60) / 100;
        b.high += 1;
        b.volume = 10;
        b.source = MD_SRC_REPLAY;
        md_bar_vec_push(out, &b);
        added++;
    }
    return added;
}

static int fake_supports(const md_source *src, md_interval iv)
{
    (void)src;
    return iv != MD_IV_1MO;
}

static int64_t fake_max_range(const md_source *src, md_interval iv)
{
    (void)src;
    return iv == MD_IV_1M ? 86400 : 0;
}

static void fake_free(md_source *src)
{
    md_free(src);
}

static const md_source_vtable fake_vt = {"replay",      MD_SRC_REPLAY,  fake_quote, fake_bars,
                                         fake_supports, fake_max_range, fake_free,  NULL};

/* -- fixture ---------------------------------------------------------------------------------- */

static md_store *st;
static md_writer *w;
static md_srcmgr *mgr;
static char url[600];

static void setup(void)
{
    md_test_sqlite_url("backfill.db", url, sizeof url);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    w = md_writer_new(st);
    md_config cfg;
    md_config_init(&cfg);
    md_srcmgr_opts o;
    md_srcmgr_opts_from_config(&o, &cfg);
    md_config_deinit(&cfg);
    o.max_retries = 0; /* the job retries, not the manager */
    o.circuit.failures = 1000;
    o.circuit.failure_ratio = 0;
    o.pause_ms = 1;
    mgr = md_srcmgr_new(&o);
    md_source *src = md_calloc(1, sizeof *src);
    src->vt = &fake_vt;
    cr_assert_eq(md_srcmgr_add(mgr, "replay", src, 0, 0, 0, NULL), 0);
    calls = ntries = slow_ms = 0;
}

static void teardown(void)
{
    md_srcmgr_free(mgr);
    md_writer_free(w);
    md_store_close(st);
}

TestSuite(backfill, .init = setup, .fini = teardown, .timeout = 60);

static md_backfill_opts quick(void)
{
    md_backfill_opts o;
    md_backfill_opts_default(&o);
    o.retry_base_ms = 2;
    return o;
}

static void wait_done(md_backfill *b, const char *id, md_job_info *info)
{
    md_error err;
    cr_assert_eq(md_backfill_wait(b, id, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(md_backfill_get(b, id, info, &err), 0, "%s", err.msg);
}

Test(backfill, chunks_store_every_bar_once_and_the_state_is_saved)
{
    md_backfill_opts o = quick();
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"AAA", "BBB", "AAA"};
    md_job_spec spec = {syms, 3, MD_IV_1M, DAY0, DAY0 + 3 * 86400 + 5 * 3600, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    cr_assert_eq(strncmp(id, "bf-", 3), 0);
    md_job_info info;
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_DONE);
    cr_assert_eq(info.n_symbols, 2, "repeated symbols are dropped");
    cr_assert_eq(info.chunks_total, 8); /* 4 chunks of one day (the last 5 h) per symbol */
    cr_assert_eq(info.chunks_done, 8);
    cr_assert_eq(info.chunks_failed, 0);
    int64_t per = (3 * 86400 + 5 * 3600) / 60;
    cr_assert_eq(info.fetched, 2 * per);
    cr_assert_eq(info.stored, 2 * per);
    cr_assert_eq(info.errors, 0);
    cr_assert_eq(info.eta_s, 0);
    cr_assert_eq(info.symbols[0].stored, per);
    cr_assert_eq(info.symbols[1].last_source, MD_SRC_REPLAY);
    md_job_info_deinit(&info);
    cr_assert_eq(calls, 8);
    cr_assert_eq(md_store_count_bars(st, "AAA", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), per);
    cr_assert_eq(md_store_count_bars(st, "BBB", MD_IV_1M, DAY0 + 86400, DAY0 + 2 * 86400, NULL),
                 1440);
    md_backfill_free(b);

    /* the state outlives the runner: done, and no longer listed as open */
    char key[80], *doc = NULL;
    md_bf__doc_key(id, key, sizeof key);
    cr_assert_eq(md_store_doc_get(st, key, &doc, &err), 1);
    cr_assert(strstr(doc, "\"state\":\"done\"") != NULL, "%s", doc);
    cr_assert(strstr(doc, "\"chunks\":\"8d\"") != NULL, "%s", doc);
    md_free(doc);
    cr_assert_eq(md_store_doc_get(st, MD_BF_OPEN_KEY, &doc, &err), 1);
    cr_assert_str_eq(doc, "");
    md_free(doc);
    b = md_backfill_new(st, w, mgr, &o);
    cr_assert_eq(md_backfill_get(b, id, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.state, MD_JOB_DONE);
    cr_assert_eq(info.stored, 2 * per);
    md_job_info_deinit(&info);
    cr_assert_eq(md_backfill_get(b, "bf-nope", &info, &err), MD_ENOTFOUND);
    md_backfill_free(b);
}

Test(backfill, transient_failures_retry_unknown_symbols_fail_for_good)
{
    md_backfill_opts o = quick();
    o.retries = 3;
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"GOOD", "BADSYM", "FLAKY"};
    md_job_spec spec = {syms, 3, MD_IV_1M, DAY0, DAY0 + 2 * 86400, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    md_job_info info;
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_DONE, "some chunks brought bars");
    cr_assert_eq(info.chunks_total, 6);
    cr_assert_eq(info.chunks_done, 4);
    cr_assert_eq(info.chunks_failed, 2);
    cr_assert_eq(info.errors, 2 + 2 * 2,
                 "two permanent failures, two retried attempts per FLAKY chunk");
    cr_assert_eq(info.stored, 4 * 1440);
    cr_assert_str_eq(info.symbols[1].symbol, "BADSYM");
    cr_assert_eq(info.symbols[1].chunks_failed, 2);
    cr_assert(strstr(info.symbols[1].last_error, "unknown symbol BADSYM") != NULL, "%s",
              info.symbols[1].last_error);
    cr_assert_eq(info.symbols[2].stored, 2 * 1440);
    cr_assert_eq(info.symbols[2].last_error[0], 0);
    md_job_info_deinit(&info);
    cr_assert_eq(md_store_count_bars(st, "FLAKY", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 2 * 1440);
    md_backfill_free(b);

    /* retries exhausted: the chunk fails and says why */
    o.retries = 1;
    b = md_backfill_new(st, w, mgr, &o);
    const char *flaky[] = {"FLAKY2"};
    md_job_spec s2 = {flaky, 1, MD_IV_1D, DAY0, DAY0 + 10 * 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &s2, NULL, id, &err), 0, "%s", err.msg);
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_FAILED, "nothing came back");
    cr_assert_eq(info.chunks_total, 1, "daily bars: one chunk (no range limit)");
    cr_assert_eq(info.chunks_failed, 1);
    cr_assert(strncmp(info.last_error, "FLAKY2: ", 8) == 0, "%s", info.last_error);
    cr_assert(strstr(info.last_error, "HTTP 503 from the fake") != NULL, "%s", info.last_error);
    md_job_info_deinit(&info);
    md_backfill_free(b);
}

Test(backfill, rate_limit_refusals_wait_and_are_not_errors)
{
    md_backfill_opts o = quick();
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"LIMITED"};
    md_job_spec spec = {syms, 1, MD_IV_1H, DAY0, DAY0 + 86400, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    md_job_info info;
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_DONE);
    cr_assert_eq(info.errors, 0);
    cr_assert_eq(info.stored, 24);
    cr_assert_eq(calls, 3);
    md_job_info_deinit(&info);
    md_backfill_free(b);
}

Test(backfill, a_stopped_job_resumes_where_it_stopped)
{
    md_backfill_opts o = quick();
    o.workers = 1;
    o.chunk_delay_ms = 20;
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"RES1", "RES2"};
    md_job_spec spec = {syms, 2, MD_IV_1M, DAY0, DAY0 + 20 * 86400, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    md_job_info info;
    for (;;) {
        cr_assert_eq(md_backfill_get(b, id, &info, &err), 0);
        int64_t d = info.chunks_done;
        md_job_info_deinit(&info);
        if (d >= 3) break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    md_backfill_free(b); /* the agent stops: the chunk in flight finishes and is saved */
    int before = calls;
    cr_assert_lt(before, 40);
    char key[80], *doc = NULL;
    md_bf__doc_key(id, key, sizeof key);
    cr_assert_eq(md_store_doc_get(st, key, &doc, &err), 1);
    cr_assert(strstr(doc, "\"state\":\"paused\"") != NULL, "%s", doc);
    md_free(doc);

    o.chunk_delay_ms = 0;
    b = md_backfill_new(st, w, mgr, &o);
    cr_assert_eq(md_backfill_get(b, id, &info, &err), 0);
    cr_assert_eq(info.chunks_done, before, "the saved state has every chunk that ran");
    md_job_info_deinit(&info);
    cr_assert_eq(md_backfill_resume_all(b, &err), 1, "%s", err.msg);
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_DONE);
    cr_assert_eq(info.chunks_done, 40);
    cr_assert_eq(info.stored, 40 * 1440);
    md_job_info_deinit(&info);
    cr_assert_eq(calls, 40, "no chunk was fetched twice");
    cr_assert_eq(md_store_count_bars(st, "RES2", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 20 * 1440);
    cr_assert_eq(md_backfill_resume_all(b, &err), 0, "nothing left to resume");
    md_backfill_free(b);
}

Test(backfill, the_same_fetch_command_resumes_its_job)
{
    md_backfill_opts o = quick();
    o.workers = 1;
    o.chunk_delay_ms = 20;
    const char *syms[] = {"CLI"};
    md_job_spec spec = {syms, 1, MD_IV_1M, DAY0, DAY0 + 15 * 86400, -1};
    char id[MD_JOB_ID_MAX], id2[MD_JOB_ID_MAX], got[MD_JOB_ID_MAX];
    md_backfill_spec_id(&spec, id);
    md_backfill_spec_id(&spec, id2);
    cr_assert_str_eq(id, id2);
    cr_assert_eq(strncmp(id, "fetch-", 6), 0);
    md_job_spec other = spec;
    other.end += 60;
    md_backfill_spec_id(&other, id2);
    cr_assert_str_neq(id, id2);

    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, id, got, &err), 0, "%s", err.msg);
    cr_assert_str_eq(got, id);
    volatile sig_atomic_t stop = 0;
    md_job_info info;
    for (;;) {
        cr_assert_eq(md_backfill_get(b, id, &info, &err), 0);
        int64_t d = info.chunks_done;
        md_job_info_deinit(&info);
        if (d >= 2) break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    stop = 1;
    cr_assert_eq(md_backfill_wait(b, id, &stop, NULL, NULL, &err), MD_ECANCELED);
    md_backfill_free(b);

    o.chunk_delay_ms = 0;
    b = md_backfill_new(st, w, mgr, &o);
    cr_assert_eq(md_backfill_resume_all(b, &err), 0, "fetch jobs are not listed for agents");
    cr_assert_eq(md_backfill_submit(b, &spec, id, got, &err), 0, "%s", err.msg);
    cr_assert_eq(md_backfill_get(b, id, &info, &err), 0);
    cr_assert_geq(info.chunks_done, 2, "resumed, not started over");
    md_job_info_deinit(&info);
    wait_done(b, id, &info);
    cr_assert_eq(info.chunks_done, 15);
    md_job_info_deinit(&info);
    cr_assert_eq(calls, 15);
    /* the same command after it finished starts a fresh job */
    cr_assert_eq(md_backfill_submit(b, &spec, id, got, &err), 0, "%s", err.msg);
    wait_done(b, id, &info);
    cr_assert_eq(info.chunks_done, 15);
    md_job_info_deinit(&info);
    cr_assert_eq(calls, 30);
    md_backfill_free(b);
}

Test(backfill, bad_jobs_are_refused)
{
    md_backfill *b = md_backfill_new(st, w, mgr, NULL);
    const char *syms[] = {"AAA"};
    char id[MD_JOB_ID_MAX];
    md_error err;
    md_job_spec s = {syms, 0, MD_IV_1D, DAY0, DAY0 + 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &s, NULL, id, &err), MD_EINVAL);
    s.n_symbols = 1;
    s.end = s.start;
    cr_assert_eq(md_backfill_submit(b, &s, NULL, id, &err), MD_ETIMERANGE);
    s.end = DAY0 + 86400;
    s.iv = MD_IV_1MO;
    cr_assert_eq(md_backfill_submit(b, &s, NULL, id, &err), MD_EINTERVAL);
    cr_assert(strstr(err.msg, "no source offers 1mo bars") != NULL, "%s", err.msg);
    md_backfill_free(b);
    b = md_backfill_new(st, w, NULL, NULL);
    s.iv = MD_IV_1D;
    cr_assert_eq(md_backfill_submit(b, &s, NULL, id, &err), MD_ENOSOURCE);
    md_backfill_free(b);
}

Test(backfill, state_document_round_trip)
{
    bf_job *j = md_calloc(1, sizeof *j);
    pthread_mutex_init(&j->save_lock, NULL);
    snprintf(j->id, sizeof j->id, "bf-0123456789abcdef");
    j->listed = 1;
    j->state = MD_JOB_RUNNING;
    j->iv = MD_IV_5M;
    j->start = DAY0;
    j->end = DAY0 + 10 * 86400;
    j->source = MD_SRC_POLYGON;
    j->chunk_s = 3 * 86400;
    j->per_sym = 4;
    j->nsym = 2;
    j->sym = md_calloc(2, sizeof *j->sym);
    snprintf(j->sym[0].symbol, sizeof j->sym[0].symbol, "BRK.B");
    snprintf(j->sym[1].symbol, sizeof j->sym[1].symbol, "EUR/USD");
    j->sym[1].fetched = 7, j->sym[1].stored = 6, j->sym[1].rejected = 1, j->sym[1].last_source = 4;
    snprintf(j->sym[1].last_error, sizeof j->sym[1].last_error, "a \"quoted\" error");
    j->nchunks = 8;
    md_bf__alloc_chunks(j);
    j->chunk[0] = j->chunk[1] = BF_DONE;
    j->chunk[2] = BF_FAILED;
    j->chunk[7] = BF_DONE;
    j->chunks_done = 3, j->chunks_failed = 1, j->stored = 6, j->errors = 2;
    snprintf(j->last_error, sizeof j->last_error, "EUR/USD: boom");
    j->created_at = 1700000000;
    char *doc = md_bf__doc_encode(j);
    cr_assert(strstr(doc, "\"chunks\":\"2d1f4.1d\"") != NULL, "%s", doc);
    md_error err;
    bf_job *k = md_bf__doc_decode(doc, &err);
    cr_assert_not_null(k, "%s", err.msg);
    char *again = md_bf__doc_encode(k);
    cr_assert_str_eq(again, doc);
    cr_assert_eq(k->per_sym, 4);
    cr_assert_eq(k->chunk[2], BF_FAILED);
    cr_assert_str_eq(k->sym[1].last_error, "a \"quoted\" error");
    md_free(again);
    md_free(doc);
    md_bf__job_free(k);
    md_bf__job_free(j);
    cr_assert_null(md_bf__doc_decode("{\"id\":\"x\",\"state\":\"weird\"}", &err));
    cr_assert_null(md_bf__doc_decode("not json", &err));
    cr_assert_null(
        md_bf__doc_decode("{\"id\":\"x\",\"state\":\"queued\",\"interval\":\"1d\",\"start\":1,"
                          "\"end\":2,\"chunk_s\":1,\"symbols\":[\"A\"],\"chunks\":\"5d\"}",
                          &err));
    cr_assert(strstr(err.msg, "chunks") != NULL, "%s", err.msg);
}

/* With the symbols' calendars on the writer (as services sets them), a chunk where the
 * symbol's market holds no session is not asked of a provider: 1m chunks of one UTC day
 * from Friday 2024-01-12 to Wednesday 2024-01-17 (Monday the 15th is Martin Luther King
 * Jr. Day). For XNYS Sunday and Monday are closed; Saturday is not - Friday's post-market
 * runs to 01:00 UTC - nor is Tuesday. A 24/7 symbol's every day is asked. */
Test(backfill, chunks_where_the_market_is_closed_are_not_fetched)
{
    md_cal_map *cals;
    md_error err;
    cr_assert_eq(md_cal_map_new(NULL, &cals, &err), 0, "%s", err.msg);
    md_writer_set_calendars(w, cals);
    md_backfill_opts o = quick();
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const int64_t fri = 1705017600; /* 2024-01-12 */
    const char *syms[] = {"AAA"};
    md_job_spec spec = {syms, 1, MD_IV_1M, fri, fri + 5 * 86400, -1};
    char id[MD_JOB_ID_MAX];
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    md_job_info info;
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_DONE);
    cr_assert_eq(info.chunks_total, 5);
    cr_assert_eq(info.chunks_done, 5, "a closed day is done, not failed");
    cr_assert_eq(calls, 3, "Friday, Saturday and Tuesday only");
    cr_assert_eq(tries_of("AAA", fri + 2 * 86400), 1, "Sunday was not asked for");
    cr_assert_eq(tries_of("AAA", fri + 3 * 86400), 1, "nor Monday");
    cr_assert_eq(tries_of("AAA", fri + 4 * 86400), 2, "Tuesday was");
    cr_assert_eq(info.fetched, 3 * 1440);
    md_job_info_deinit(&info);

    calls = 0;
    const char *crypto[] = {"BTC-USD"};
    md_job_spec spec2 = {crypto, 1, MD_IV_1M, fri, fri + 5 * 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &spec2, NULL, id, &err), 0, "%s", err.msg);
    wait_done(b, id, &info);
    cr_assert_eq(info.chunks_done, 5);
    cr_assert_eq(calls, 5, "a 24/7 market is never closed");
    md_job_info_deinit(&info);

    /* daily bars: one chunk over the whole range, asked while it holds a session */
    calls = 0;
    md_job_spec spec3 = {syms, 1, MD_IV_1D, fri + 2 * 86400, fri + 4 * 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &spec3, NULL, id, &err), 0, "%s", err.msg);
    wait_done(b, id, &info);
    cr_assert_eq(calls, 0, "Sunday and Monday hold no session");
    md_job_info_deinit(&info);
    md_job_spec spec4 = {syms, 1, MD_IV_1D, fri + 2 * 86400, fri + 5 * 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &spec4, NULL, id, &err), 0, "%s", err.msg);
    wait_done(b, id, &info);
    cr_assert_eq(calls, 1, "Tuesday does");
    md_job_info_deinit(&info);
    md_backfill_free(b);
}

/* error_details' "missing": the ranges of the chunks that failed, adjacent ones merged, the
 * last one cut at the job's end - what to ask again. */
Test(backfill, the_failed_ranges_are_listed_merged)
{
    md_backfill_opts o = quick();
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"GOOD", "HOLE1"};
    md_job_spec spec = {syms, 2, MD_IV_1M, DAY0, DAY0 + 5 * 86400 + 12 * 3600, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    md_job_info info;
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_DONE);
    cr_assert_eq(info.chunks_failed, 3);
    cr_assert_eq(info.n_missing, 2, "days 1 and 2 are one range");
    cr_assert_eq(info.missing[0].symbol, 1);
    cr_assert_eq(info.missing[0].start, DAY0 + 86400);
    cr_assert_eq(info.missing[0].end, DAY0 + 3 * 86400);
    cr_assert_eq(info.missing[1].symbol, 1);
    cr_assert_eq(info.missing[1].start, DAY0 + 5 * 86400);
    cr_assert_eq(info.missing[1].end, DAY0 + 5 * 86400 + 12 * 3600, "cut at the job's end");
    md_job_info_deinit(&info);
    md_backfill_free(b);
    /* the same from the stored document */
    b = md_backfill_new(st, w, mgr, &o);
    cr_assert_eq(md_backfill_get(b, id, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.n_missing, 2);
    cr_assert_eq(info.missing[0].end, DAY0 + 3 * 86400);
    md_job_info_deinit(&info);
    md_backfill_free(b);
}

static void wait_chunks(md_backfill *b, const char *id, int64_t n)
{
    for (;;) {
        md_job_info info;
        md_error err;
        cr_assert_eq(md_backfill_get(b, id, &info, &err), 0, "%s", err.msg);
        int64_t d = info.chunks_done;
        md_job_info_deinit(&info);
        if (d >= n) return;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
    nanosleep(&ts, NULL);
}

/* A job asked again while the first is open is the first (same symbol set, in any order,
 * interval, range and source), here and on another runner of the store (another agent);
 * nothing is fetched twice. Once it ended, the same job is a new one. */
Test(backfill, an_identical_job_is_the_open_one)
{
    md_backfill_opts o = quick();
    o.workers = 1;
    o.chunk_delay_ms = 20;
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    md_backfill *other = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"DUP1", "DUP2"}, *again[] = {"DUP2", "DUP1", "DUP2"};
    md_job_spec spec = {syms, 2, MD_IV_1M, DAY0, DAY0 + 6 * 86400, -1};
    md_job_spec same = {again, 3, MD_IV_1M, DAY0, DAY0 + 6 * 86400, -1};
    char id[MD_JOB_ID_MAX], id2[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    cr_assert_eq(md_backfill_submit(b, &same, NULL, id2, &err), 1, "%s", err.msg);
    cr_assert_str_eq(id2, id);
    memset(id2, 0, sizeof id2);
    cr_assert_eq(md_backfill_submit(other, &same, NULL, id2, &err), 1, "another agent: %s",
                 err.msg);
    cr_assert_str_eq(id2, id);
    md_job_info info;
    wait_done(b, id, &info);
    cr_assert_eq(info.chunks_done, 12);
    md_job_info_deinit(&info);
    cr_assert_eq(calls, 12, "every chunk once");
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(tries_of("DUP1", DAY0 + i * 86400), 2, "DUP1 day %d: asked once", i);
        cr_assert_eq(tries_of("DUP2", DAY0 + i * 86400), 2, "DUP2 day %d: asked once", i);
    }
    /* once it ended, the same job is a new one */
    cr_assert_eq(md_backfill_submit(other, &same, NULL, id2, &err), 0, "ended: a new job");
    cr_assert_str_neq(id2, id);
    /* and these are not the same job: another range, another set of symbols */
    char id3[MD_JOB_ID_MAX], id4[MD_JOB_ID_MAX];
    md_job_spec longer = spec;
    longer.end += 86400;
    cr_assert_eq(md_backfill_submit(b, &longer, NULL, id3, &err), 0, "%s", err.msg);
    cr_assert_str_neq(id3, id2);
    md_job_spec fewer = {syms, 1, MD_IV_1M, DAY0, DAY0 + 6 * 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &fewer, NULL, id4, &err), 0, "%s", err.msg);
    cr_assert_str_neq(id4, id2);
    md_backfill_free(other);
    md_backfill_free(b);
}

/* A cancelled job asks for no chunk more, keeps what it stored, leaves the open list and is
 * not resumed; cancelling it again, or a job that ended, is a conflict. */
Test(backfill, a_cancelled_job_fetches_nothing_more)
{
    md_backfill_opts o = quick();
    o.workers = 1;
    o.chunk_delay_ms = 20;
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"CAN1"};
    md_job_spec spec = {syms, 1, MD_IV_1M, DAY0, DAY0 + 30 * 86400, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    wait_chunks(b, id, 2);
    md_job_info info;
    cr_assert_eq(md_backfill_cancel(b, id, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.state, MD_JOB_CANCELLED);
    cr_assert_neq(info.finished_at, 0);
    md_job_info_deinit(&info);
    sleep_ms(150); /* the chunk in flight, if any, finishes and is counted */
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_CANCELLED);
    int64_t done = info.chunks_done;
    md_job_info_deinit(&info);
    cr_assert_lt(done, 30);
    int before = calls;
    sleep_ms(150);
    cr_assert_eq(calls, before, "nothing asked after the cancel");
    cr_assert_eq(calls, done);
    cr_assert_eq(md_store_count_bars(st, "CAN1", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), done * 1440,
                 "what was stored stays");
    cr_assert_eq(md_backfill_cancel(b, id, NULL, &err), MD_ECONFLICT);
    cr_assert(strstr(err.msg, "already cancelled") != NULL, "%s", err.msg);
    cr_assert_eq(md_backfill_cancel(b, "bf-nope", NULL, &err), MD_ENOTFOUND);
    md_backfill_free(b);

    char *doc = NULL;
    cr_assert_eq(md_store_doc_get(st, MD_BF_OPEN_KEY, &doc, &err), 1);
    cr_assert_str_eq(doc, "");
    md_free(doc);
    b = md_backfill_new(st, w, mgr, &o);
    cr_assert_eq(md_backfill_resume_all(b, &err), 0);
    cr_assert_eq(md_backfill_get(b, id, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.state, MD_JOB_CANCELLED);
    cr_assert_eq(info.chunks_done, done);
    md_job_info_deinit(&info);
    /* a job that ended is not cancelled */
    const char *one[] = {"CAN2"};
    md_job_spec s2 = {one, 1, MD_IV_1D, DAY0, DAY0 + 5 * 86400, -1};
    cr_assert_eq(md_backfill_submit(b, &s2, NULL, id, &err), 0, "%s", err.msg);
    wait_done(b, id, &info);
    md_job_info_deinit(&info);
    cr_assert_eq(md_backfill_cancel(b, id, NULL, &err), MD_ECONFLICT);
    cr_assert(strstr(err.msg, "already done") != NULL, "%s", err.msg);
    md_backfill_free(b);
}

/* The cancel taken by another runner of the store (another agent) stops the job where it
 * runs, before its next chunk. */
Test(backfill, a_job_cancelled_by_another_agent_stops_where_it_runs)
{
    md_backfill_opts o = quick();
    o.workers = 1;
    o.chunk_delay_ms = 20;
    md_backfill *b = md_backfill_new(st, w, mgr, &o);
    md_backfill *other = md_backfill_new(st, w, mgr, &o);
    const char *syms[] = {"FAR1"};
    md_job_spec spec = {syms, 1, MD_IV_1M, DAY0, DAY0 + 30 * 86400, -1};
    char id[MD_JOB_ID_MAX];
    md_error err;
    cr_assert_eq(md_backfill_submit(b, &spec, NULL, id, &err), 0, "%s", err.msg);
    wait_chunks(b, id, 2);
    md_job_info info;
    cr_assert_eq(md_backfill_cancel(other, id, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.state, MD_JOB_CANCELLED);
    md_job_info_deinit(&info);
    wait_done(b, id, &info);
    cr_assert_eq(info.state, MD_JOB_CANCELLED);
    md_job_info_deinit(&info);
    sleep_ms(150); /* the chunk in flight, if any, finishes and is counted */
    cr_assert_eq(md_backfill_get(b, id, &info, &err), 0, "%s", err.msg);
    int64_t done = info.chunks_done;
    md_job_info_deinit(&info);
    int before = calls;
    sleep_ms(150);
    cr_assert_eq(calls, before, "nothing asked after the cancel");
    cr_assert_eq(calls, done);
    cr_assert_lt(done, 30);
    cr_assert_eq(md_backfill_get(other, id, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.state, MD_JOB_CANCELLED);
    cr_assert_eq(info.chunks_done, done, "the runner saved its last chunk");
    md_job_info_deinit(&info);
    cr_assert_eq(md_backfill_cancel(other, id, NULL, &err), MD_ECONFLICT);
    md_backfill_free(other);
    md_backfill_free(b);
}
