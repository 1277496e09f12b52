/* live.c - live indicators: "ind.<spec>@<interval>" stream channels (pipeline.h).
 *
 * One code path with /analytics/{symbol}/indicators: a live series is an md_ind_run fed the
 * stored series of (symbol, interval) as query/analytics.c reads it (md_query_scan_series),
 * first the history (warm-up), then bar by bar as bars close. The bars fed are always read
 * back from the store, never taken from the message that announced them, so the value
 * published for a bar is the value the REST answer gives for it, whatever the bar's way in
 * (ingested, fetched, built live from ticks, aggregated from finer bars).
 *
 *   (symbol, interval) series ── its live specs, each a state:
 *
 *     acquire (first shard)         warm-up done          release (last shard)
 *   ──────────────────────> WARMING ────────────> READY ─────────────────────> freed
 *                             ^                      │ a bar at or before the last bar fed
 *                             └──────── rewarm ──────┘ (a past bar was rewritten)
 *
 * Work for a series (warm-ups, new bars, forming-bar values) runs as one job at a time on the
 * pipeline's workers: a job drains what was asked of it meanwhile, then ends, so a series is
 * never worked on by two threads and a burst of bars costs one store read. The lock guards
 * the tables and the requests; a job reads the store and feeds its runs without it (the
 * series is its own while it runs: release only marks a state dead, the job frees it).
 *
 * Warm-up feeds the stored bars, the newest bucket only when it is complete (not when its
 * period has not ended, nor while the live bars are still building it: an aggregate of the
 * finer bars of an unfinished period); a bucket left out is fed when its close is announced. Each value is published at its bar's close with the
 * bar's timestamp ("partial": false); values on the forming bar (livebar.h) are published to
 * the subscribers who asked for them ("partial": true), at most one per
 * pipeline.partial_interval_ms per series, computed without taking the bar in
 * (md_ind_run_peek). Messages are DERIVED: each instance computes its own from the same bars,
 * the relay never carries them. */
#include "pipeline/pipeline_int.h"

#include "core/dict.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "stream/hub.h"
#include "stream/livebar.h"
#include "stream/proto.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { ST_WARMING, ST_READY };

typedef struct lstate {
    char channel[MD_XCH_NAME_MAX]; /* canonical, without the partial suffix */
    int ch, ch_partial;            /* hub channel numbers (ch_partial -1 until named) */
    md_ind_spec spec;
    md_ind_run *run; /* the job's while it runs */
    int64_t fed;     /* bucket of the last bar fed; MD_TS_MIN: none */
    int state;
    int rewarm;
    int refs, partial_refs; /* shards reading the channel, its partial twin */
    int dead;               /* released while a job ran: the job frees it */
    int64_t quiet;          /* the first warm-up publishes the bars after this one: those not
                               announced when the state was made (MD_TS_MAX: none) */
    uint64_t from_seq;      /* computed since the message after this one (hub.h: covers) */
    struct lstate *next;
} lstate;

typedef struct lseries {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    lstate *states;
    int64_t due;        /* newest bar announced closed; MD_TS_MIN: none */
    int64_t oldest;     /* oldest bar announced since the last pass (INT64_MAX: none) */
    int64_t fed_hi;     /* the newest bar any state was fed, as of the last pass */
    int partial_due;    /* a tick arrived: compute forming-bar values */
    int partial_wait;   /* forming-bar values waited for a close: computed at its announcement */
    int64_t partial_ms; /* when the last forming-bar values were computed */
    int queued;         /* a job is queued or running */
    md_adj_plan plan;   /* the split factors the states were fed with (the job's) */
} lseries;

struct md_live {
    md_live_options o;
    pthread_mutex_t lock;
    md_dict series; /* symbol NUL interval -> lseries */
    md_dict marks;  /* symbol -> int64_t: the start of the newest bar announced for it */
    size_t n_states, n_warming;
    int stopped; /* schedule nothing more */
    uint64_t values, partial_values, warmups, rewarms;
};

static int64_t now_ms(md_live *lv)
{
    return lv->o.now_ms ? lv->o.now_ms(lv->o.clock_ctx) : md_mono_ms();
}

/* -- tables (lock held) ----------------------------------------------------------------------- */

static size_t series_key(const char *symbol, md_interval iv, char *k)
{
    size_t n = strnlen(symbol, MD_SYMBOL_MAX);
    memcpy(k, symbol, n);
    k[n] = 0;
    k[n + 1] = (char)iv;
    return n + 2;
}

static lseries *series_find(md_live *lv, const char *symbol, md_interval iv)
{
    char k[MD_SYMBOL_MAX + 2];
    return md_dict_find(&lv->series, k, series_key(symbol, iv, k));
}

static lseries *series_get(md_live *lv, const char *symbol, md_interval iv)
{
    char k[MD_SYMBOL_MAX + 2];
    int created;
    lseries *s = md_dict_put(&lv->series, k, series_key(symbol, iv, k), &created);
    if (created) {
        snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
        s->iv = iv;
        s->due = MD_TS_MIN;
        s->oldest = INT64_MAX;
        s->fed_hi = MD_TS_MIN;
        md_adj_plan_build(MD_ADJUST_NONE, NULL, 0, 0, &s->plan);
    }
    return s;
}

static void series_remove(md_live *lv, lseries *s)
{
    md_adj_plan_deinit(&s->plan);
    md_dict_remove_value(&lv->series, s);
}

/* n_states counts the states that are not dead: a released state no longer counts against
 * the limit while its job finishes. */
static void state_free(md_live *lv, lstate *st)
{
    if (st->state == ST_WARMING) lv->n_warming--;
    if (!st->dead) lv->n_states--;
    md_ind_run_free(st->run);
    md_free(st);
    md_metric_set(MD_M_PIPELINE_LIVE, (double)lv->n_states);
}

static void state_kill(md_live *lv, lstate *st)
{
    st->dead = 1;
    lv->n_states--;
    md_metric_set(MD_M_PIPELINE_LIVE, (double)lv->n_states);
}

/* Frees the dead states of s and s itself when nothing is left (no job may be running). */
static void series_prune(md_live *lv, lseries *s)
{
    for (lstate **p = &s->states; *p;) {
        lstate *st = *p;
        if (st->dead) {
            *p = st->next;
            state_free(lv, st);
        } else {
            p = &st->next;
        }
    }
    if (!s->states) series_remove(lv, s);
}

static void series_job(void *arg);

typedef struct job {
    md_live *lv;
    lseries *s;
} job;

/* Queues the series' job unless it is queued or running (it drains new requests itself). */
static void schedule(md_live *lv, lseries *s)
{
    if (s->queued || lv->stopped) return;
    s->queued = 1;
    job *j = md_malloc(sizeof *j);
    j->lv = lv;
    j->s = s;
    md_workq_submit(lv->o.workers, series_job, j);
}

/* -- the job ------------------------------------------------------------------------------ */

/* What one pass of a job does, decided under the lock. */
#define PASS_MAX 64
typedef struct pass {
    lstate *warm[PASS_MAX];
    int n_warm;
    lstate *ready[PASS_MAX];
    int ch_partial[PASS_MAX]; /* of each ready state, -1: no partial readers */
    int n_ready;
    int64_t due;
    int partial;
} pass;

typedef struct feed_ctx {
    md_live *lv;
    lseries *s;
    lstate **st;
    int n;
    md_buf fields;
    int publish;   /* 0: warm-up (outputs dropped, but for the bars after quiet) */
    int64_t quiet; /* warm-up: the bars after this one are published */
} feed_ctx;

static void publish_value(md_live *lv, lseries *s, lstate *st, int ch, int64_t ts,
                          double *const *out, size_t i, int partial, md_buf *fields)
{
    double v[MD_IND_MAX_OUTPUTS];
    for (int k = 0; k < st->spec.def->noutputs; k++) v[k] = out[k][i];
    md_buf_reset(fields);
    md_proto_indicator_fields(fields, s->iv, &st->spec, ts, v, partial);
    md_hub_publish_ext(lv->o.svc->hub, ch, s->symbol, "indicator", fields->data, fields->len,
                       MD_ORIGIN_DERIVED, 1);
    md_metric_add(MD_M_PIPELINE_VALUES, 1, partial ? "partial" : "close");
}

/* Feeds each bar to the states that have not had it yet, bar by bar (a value per bar). */
static void feed_bars(void *ctx, const md_bar *bars, size_t n)
{
    feed_ctx *f = ctx;
    double o[MD_IND_MAX_OUTPUTS][1], *out[MD_IND_MAX_OUTPUTS] = {o[0], o[1], o[2]};
    for (size_t i = 0; i < n; i++) {
        const md_bar *b = &bars[i];
        md_ind_cols in = {&b->high, &b->low, &b->close, &b->volume, &b->ts};
        for (int k = 0; k < f->n; k++) {
            lstate *st = f->st[k];
            if (b->ts <= st->fed) continue;
            md_ind_run_feed(st->run, &in, 1, out);
            st->fed = b->ts;
            if (!f->publish && b->ts <= f->quiet) continue;
            publish_value(f->lv, f->s, st, st->ch, b->ts, out, 0, 0, &f->fields);
            __atomic_add_fetch(&f->lv->values, 1, __ATOMIC_RELAXED);
        }
    }
}

/* Warms st up: a new run fed the stored series up to its newest bucket (without it when it
 * may still be forming: its period has not ended, or the live bars are building it), or when
 * it warms up again (a past bar changed), up to the bar it had been fed (closed for sure;
 * their values are not published again, and the bars after it are fed and published as their
 * closes are announced). The first warm-up publishes the values of the bars announced after
 * the subscription (st->quiet): a warm-up that starts late (the workers busy) reads bars that
 * closed meanwhile, whose announcements find the state already fed past them. */
static int warm(md_live *lv, lseries *s, lstate *st, md_error *err)
{
    int64_t closed = st->fed;
    md_ind_run_free(st->run);
    st->run = md_ind_run_new(&st->spec, s->iv, NAN); /* streamable specs need no hl_sd */
    st->fed = MD_TS_MIN;
    md_series_extent x;
    int rc = md_query_series_extent(lv->o.svc, s->symbol, s->iv, &x, err);
    if (rc || !x.any) return rc;
    int64_t to = md_interval_next(s->iv, closed);
    if (closed == MD_TS_MIN) { /* the newest bucket, unless it may still be forming */
        int64_t newest = md_interval_floor(s->iv, x.last);
        md_bar fb;
        int forming =
            md_interval_next(s->iv, newest) > md_now() ||
            (lv->o.livebars && md_livebar_forming(lv->o.livebars, s->symbol, s->iv, &fb) &&
             fb.ts == newest);
        to = forming ? newest : md_interval_next(s->iv, newest);
    }
    /* a retry of a first warm-up that failed half way published up to what it was fed */
    int64_t quiet = st->state == ST_WARMING ? (st->quiet > closed ? st->quiet : closed) : MD_TS_MAX;
    feed_ctx f = {lv, s, &st, 1, MD_BUF_INIT, 0, quiet};
    rc = md_query_scan_series(lv->o.svc, s->symbol, s->iv, &x, &s->plan, x.first, to, feed_bars, &f,
                              err);
    md_buf_deinit(&f.fields);
    return rc;
}

/* The forming bar's values for the states with partial readers. Returns 1 when a state
 * could not have them yet (a bar before the forming one is closed but not announced). */
static int partials(md_live *lv, lseries *s, const pass *p, const md_bar *b)
{
    int wait = 0;
    md_buf fields = MD_BUF_INIT;
    double o[MD_IND_MAX_OUTPUTS][1], *out[MD_IND_MAX_OUTPUTS] = {o[0], o[1], o[2]};
    md_ind_cols in = {&b->high, &b->low, &b->close, &b->volume, &b->ts};
    const int64_t closed = md_livebar_last_closed(lv->o.livebars, s->symbol, s->iv);
    for (int k = 0; k < p->n_ready; k++) {
        lstate *st = p->ready[k];
        /* a bar the live bars closed but that is not announced (stored) yet would be
         * missing from the value: wait for its announcement */
        if (p->ch_partial[k] < 0 || b->ts <= st->fed) continue;
        if (closed > st->fed) {
            wait = 1;
            continue;
        }
        md_ind_run_peek(st->run, &in, out);
        publish_value(lv, s, st, p->ch_partial[k], b->ts, out, 0, 1, &fields);
        __atomic_add_fetch(&lv->partial_values, 1, __ATOMIC_RELAXED);
    }
    md_buf_deinit(&fields);
    return wait;
}

/* Takes what was asked of s since the last pass; 0 when nothing was (the job ends, s->queued
 * cleared, dead states freed). A bar announced at or before what a state was fed (a past bar
 * rewritten, or stored while the state warmed up and perhaps missed by its scan) makes it warm
 * up again. Lock held. */
static int take_pass(md_live *lv, lseries *s, pass *p)
{
    memset(p, 0, sizeof *p);
    for (lstate *st = s->states; st; st = st->next) {
        if (st->dead) continue;
        if (st->state == ST_READY && s->oldest <= st->fed && !st->rewarm) {
            st->rewarm = 1;
            lv->rewarms++;
        }
        if ((st->state == ST_WARMING || st->rewarm) && p->n_warm < PASS_MAX) {
            st->rewarm = 0;
            p->warm[p->n_warm++] = st;
        } else if (st->state == ST_READY && p->n_ready < PASS_MAX) {
            p->ch_partial[p->n_ready] = st->partial_refs ? st->ch_partial : -1;
            p->ready[p->n_ready++] = st;
        }
    }
    s->oldest = INT64_MAX;
    int64_t min_fed = INT64_MAX;
    s->fed_hi = MD_TS_MIN;
    for (int i = 0; i < p->n_ready; i++) {
        if (p->ready[i]->fed < min_fed) min_fed = p->ready[i]->fed;
        if (p->ready[i]->fed > s->fed_hi) s->fed_hi = p->ready[i]->fed;
    }
    p->due = s->due;
    p->partial = s->partial_due;
    s->partial_due = 0;
    int work = p->n_warm || (p->n_ready && s->due > min_fed) || (p->partial && p->n_ready);
    if (!work) {
        s->queued = 0;
        series_prune(lv, s);
    }
    return work;
}

/* Feeds the ready states the stored bars after the oldest of them up to `due` (publishing a
 * value for each). */
static void feed_closed(md_live *lv, lseries *s, pass *p)
{
    int64_t min_fed = INT64_MAX;
    for (int i = 0; i < p->n_ready; i++)
        if (p->ready[i]->fed < min_fed) min_fed = p->ready[i]->fed;
    if (!p->n_ready || p->due <= min_fed) return;
    md_error err;
    md_series_extent x;
    feed_ctx f = {lv, s, p->ready, p->n_ready, MD_BUF_INIT, 1, MD_TS_MAX};
    int rc = md_query_series_extent(lv->o.svc, s->symbol, s->iv, &x, &err);
    int64_t from = min_fed == MD_TS_MIN ? MD_TS_MIN : md_interval_next(s->iv, min_fed);
    if (rc == 0)
        rc = md_query_scan_series(lv->o.svc, s->symbol, s->iv, &x, &s->plan, from,
                                  md_interval_next(s->iv, p->due), feed_bars, &f, &err);
    if (rc) MD_WARN("pipeline", "live %s: reading bars failed: %s", s->symbol, err.msg);
    md_buf_deinit(&f.fields);
}

static int plan_equal(const md_adj_plan *a, const md_adj_plan *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->cutoff[i] != b->cutoff[i] || a->price_div[i] != b->price_div[i] ||
            a->vol_mul[i] != b->vol_mul[i])
            return 0;
    return 1;
}

/* The series' split factors as the REST answer's default (adjust=splits) applies them now,
 * anchored at the newest stored bar: a split recorded, or coming into effect with a bar past
 * its ex-date, changes the whole history before it. Returns 1 when they changed (the ready
 * states must then be fed the history again). */
static int plan_refresh(md_live *lv, lseries *s)
{
    md_adj_plan np;
    md_error err;
    if (md_query_adjust_plan(lv->o.svc, s->symbol, s->iv, MD_ADJUST_DEFAULT, &np, &err) != 0) {
        MD_WARN("pipeline", "live %s: reading its splits failed: %s", s->symbol, err.msg);
        return 0;
    }
    if (plan_equal(&np, &s->plan)) {
        md_adj_plan_deinit(&np);
        return 0;
    }
    md_adj_plan_deinit(&s->plan);
    s->plan = np;
    return 1;
}

static void series_job(void *arg)
{
    job *j = arg;
    md_live *lv = j->lv;
    lseries *s = j->s;
    md_free(j);
    pass p;
    pthread_mutex_lock(&lv->lock);
    while (take_pass(lv, s, &p)) {
        pthread_mutex_unlock(&lv->lock);
        if (plan_refresh(lv, s)) { /* fed again, up to the bar each had, adjusted anew */
            int kept = 0;
            for (int i = 0; i < p.n_ready; i++) {
                md_error err;
                int rc = warm(lv, s, p.ready[i], &err);
                pthread_mutex_lock(&lv->lock);
                lv->rewarms++;
                if (rc) { /* warmed up from scratch with the next bar, not fed meanwhile */
                    MD_WARN("pipeline", "live %s %s: warm-up failed: %s", s->symbol,
                            p.ready[i]->channel, err.msg);
                    p.ready[i]->rewarm = 1;
                } else {
                    p.ch_partial[kept] = p.ch_partial[i];
                    p.ready[kept++] = p.ready[i];
                }
                pthread_mutex_unlock(&lv->lock);
            }
            p.n_ready = kept;
        }
        for (int i = 0; i < p.n_warm; i++) {
            lstate *st = p.warm[i];
            md_error err;
            int rc = warm(lv, s, st, &err);
            pthread_mutex_lock(&lv->lock);
            lv->warmups++;
            if (rc) { /* tried again with the next bar */
                MD_WARN("pipeline", "live %s %s: warm-up failed: %s", s->symbol, st->channel,
                        err.msg);
                st->rewarm = 1;
            } else {
                if (st->state == ST_WARMING) lv->n_warming--;
                st->state = ST_READY;
                if (p.n_ready < PASS_MAX) {
                    p.ch_partial[p.n_ready] = st->partial_refs ? st->ch_partial : -1;
                    p.ready[p.n_ready++] = st;
                }
            }
            pthread_mutex_unlock(&lv->lock);
        }
        /* Only announced closes are fed: a forming bar in a later bucket says the bars before
         * it are closed, not that their minutes are stored yet (live bars close after
         * stream.live_bar_delay_ms and are stored before they are announced); feeding on its
         * word read a bucket missing its last minutes and published a wrong value. */
        feed_closed(lv, s, &p);
        md_bar forming;
        int have = p.partial && lv->o.livebars &&
                   md_livebar_forming(lv->o.livebars, s->symbol, s->iv, &forming);
        int wait = have && partials(lv, s, &p, &forming);
        md_hub_flush(lv->o.svc->hub);
        pthread_mutex_lock(&lv->lock);
        if (wait) s->partial_wait = 1;
    }
    pthread_mutex_unlock(&lv->lock);
}

/* -- the hub: subscriptions and messages ------------------------------------------------------ */

static lstate *state_find(lseries *s, const char *channel)
{
    for (lstate *st = s->states; st; st = st->next)
        if (strcmp(st->channel, channel) == 0) return st;
    return NULL;
}

static int acquire(void *ctx, const char *channel, const char *symbol, md_error *err)
{
    md_live *lv = ctx;
    md_ind_spec spec;
    md_interval iv;
    int partial;
    if (md_xchannel_ind(channel, &spec, &iv, &partial) != 0)
        return md_error_set(err, MD_ECHANNEL, "channel '%s' is not an indicator", channel);
    char base[MD_XCH_NAME_MAX];
    snprintf(base, sizeof base, "ind.%s@%s", spec.name, md_interval_name(iv));
    int ch = md_hub_xchannel(lv->o.svc->hub, base, 1, err);
    if (ch < 0) return ch;
    int ch_partial = -1;
    if (partial && (ch_partial = md_hub_xchannel(lv->o.svc->hub, channel, 1, err)) < 0)
        return ch_partial;
    pthread_mutex_lock(&lv->lock);
    lseries *s = series_get(lv, symbol, iv);
    lstate *st = state_find(s, base);
    int rc = 0;
    if ((!st || st->dead) && lv->n_states >= lv->o.max_series) {
        rc = md_error_set(err, MD_ELIVELIMIT,
                          "%s %s: the agent computes %zu live indicator series, the most "
                          "pipeline.max_live_indicators allows",
                          symbol, base, lv->n_states);
        if (!s->states && !s->queued) series_remove(lv, s);
    } else if (st && st->dead) { /* released, then wanted again before its job freed it */
        st->dead = 0;
        st->from_seq = md_hub_last_seq(lv->o.svc->hub);
        lv->n_states++;
        md_metric_set(MD_M_PIPELINE_LIVE, (double)lv->n_states);
    } else if (!st) {
        st = md_calloc(1, sizeof *st);
        snprintf(st->channel, sizeof st->channel, "%s", base);
        st->spec = spec;
        st->ch = ch;
        st->ch_partial = -1;
        st->fed = MD_TS_MIN;
        st->state = ST_WARMING;
        const int64_t *mark = md_dict_find(&lv->marks, symbol, strnlen(symbol, MD_SYMBOL_MAX));
        /* nothing announced since the agent started: the stored history is all older */
        st->quiet = mark ? *mark : MD_TS_MAX;
        st->from_seq = md_hub_last_seq(lv->o.svc->hub);
        st->next = s->states;
        s->states = st;
        lv->n_states++;
        lv->n_warming++;
        md_metric_set(MD_M_PIPELINE_LIVE, (double)lv->n_states);
        schedule(lv, s);
    }
    if (rc == 0 && st) { /* st is set whenever rc is 0 (said for the analyzer) */
        if (partial) {
            st->partial_refs++;
            st->ch_partial = ch_partial;
        } else {
            st->refs++;
        }
    }
    pthread_mutex_unlock(&lv->lock);
    return rc;
}

static int covers(void *ctx, const char *channel, const char *symbol, uint64_t since_seq)
{
    md_live *lv = ctx;
    md_ind_spec spec;
    md_interval iv;
    int partial;
    if (md_xchannel_ind(channel, &spec, &iv, &partial) != 0) return 1;
    char base[MD_XCH_NAME_MAX];
    snprintf(base, sizeof base, "ind.%s@%s", spec.name, md_interval_name(iv));
    pthread_mutex_lock(&lv->lock);
    lseries *s = series_find(lv, symbol, iv);
    lstate *st = s ? state_find(s, base) : NULL;
    int yes = st && !st->dead && st->from_seq <= since_seq;
    pthread_mutex_unlock(&lv->lock);
    return yes;
}

static void release(void *ctx, const char *channel, const char *symbol)
{
    md_live *lv = ctx;
    md_ind_spec spec;
    md_interval iv;
    int partial;
    if (md_xchannel_ind(channel, &spec, &iv, &partial) != 0) return;
    char base[MD_XCH_NAME_MAX];
    snprintf(base, sizeof base, "ind.%s@%s", spec.name, md_interval_name(iv));
    pthread_mutex_lock(&lv->lock);
    lseries *s = series_find(lv, symbol, iv);
    lstate *st = s ? state_find(s, base) : NULL;
    if (st) {
        if (partial && st->partial_refs > 0 && --st->partial_refs == 0) st->ch_partial = -1;
        if (!partial && st->refs > 0) st->refs--;
        if (!st->refs && !st->partial_refs && !st->dead) {
            state_kill(lv, st);
            if (!s->queued) series_prune(lv, s);
        }
    }
    pthread_mutex_unlock(&lv->lock);
}

/* A bar was published: if it is a live series', its job reads the closed bars up to it. A
 * finer bar inside a bucket a coarser series was already fed (a minute that came after its
 * 5m bar closed: a replay that paused longer than stream.live_bar_delay_ms) changed that
 * bucket's aggregate: that series warms up again. */
static void on_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *b, md_origin origin)
{
    md_live *lv = ctx;
    /* A bar whose period has not ended by the clock (an ingested or fetched bar of the
     * current period; a live bar is announced at its close) is not fed as closed: the bars
     * before it are, and it is with the next announcement after its period */
    int64_t upto = b->ts;
    if (MD_ORIGIN_BASE(origin) != MD_ORIGIN_DERIVED &&
        md_bar_partial(iv, b->ts, MD_TS_MIN, MD_TS_MAX, md_now()))
        upto = b->ts - 1;
    pthread_mutex_lock(&lv->lock);
    int created;
    int64_t *mark = md_dict_put(&lv->marks, symbol, strnlen(symbol, MD_SYMBOL_MAX), &created);
    if (created || b->ts > *mark) *mark = b->ts;
    lseries *s = series_find(lv, symbol, iv);
    if (s) {
        if (upto > s->due) s->due = upto;
        if (s->partial_wait) s->partial_due = 1, s->partial_wait = 0;
        if (b->ts < s->oldest) s->oldest = b->ts;
        schedule(lv, s);
    }
    for (int c = (int)iv + 1; c < MD_IV_COUNT && md_dict_count(&lv->series); c++) {
        if (!md_interval_divides(iv, (md_interval)c)) continue;
        lseries *cs = series_find(lv, symbol, (md_interval)c);
        int64_t bucket = cs ? md_interval_floor((md_interval)c, b->ts) : 0;
        if (!cs || bucket > cs->fed_hi) continue;
        if (bucket < cs->oldest) cs->oldest = bucket;
        schedule(lv, cs);
    }
    pthread_mutex_unlock(&lv->lock);
}

/* A tick: the series of its symbol with partial readers get forming-bar values (throttled). */
static void on_quote(void *ctx, const md_quote *q, md_origin origin)
{
    md_live *lv = ctx;
    if (!lv->o.livebars) return;
    pthread_mutex_lock(&lv->lock);
    int64_t now = -1;
    for (int iv = 0; iv < MD_IV_COUNT && md_dict_count(&lv->series); iv++) {
        lseries *s = series_find(lv, q->symbol, (md_interval)iv);
        if (!s) continue;
        int want = 0;
        for (lstate *st = s->states; st && !want; st = st->next)
            want = !st->dead && st->partial_refs > 0;
        if (!want) continue;
        if (now < 0) now = now_ms(lv);
        if (s->partial_ms && now - s->partial_ms < lv->o.partial_ms) continue;
        s->partial_ms = now;
        s->partial_due = 1;
        schedule(lv, s);
    }
    pthread_mutex_unlock(&lv->lock);
}

/* -- life cycle ------------------------------------------------------------------------------- */

md_live *md_live_new(const md_live_options *o)
{
    md_live *lv = md_calloc(1, sizeof *lv);
    lv->o = *o;
    pthread_mutex_init(&lv->lock, NULL);
    md_dict_init(&lv->series, sizeof(lseries));
    md_dict_init(&lv->marks, sizeof(int64_t));
    md_hub_xhandler x = {"ind.", acquire, release, lv, covers};
    md_hub_add_xhandler(o->svc->hub, &x);
    md_hub_observer ob = {.on_quote = on_quote, .on_bar = on_bar, .ctx = lv};
    md_hub_add_observer(o->svc->hub, &ob);
    return lv;
}

void md_live_stop(md_live *lv)
{
    pthread_mutex_lock(&lv->lock);
    lv->stopped = 1;
    pthread_mutex_unlock(&lv->lock);
}

void md_live_free(md_live *lv)
{
    if (!lv) return;
    md_hub_remove_observer(lv->o.svc->hub, lv);
    md_hub_remove_xhandler(lv->o.svc->hub, lv);
    size_t at = 0;
    for (lseries *s; (s = md_dict_next(&lv->series, &at));) {
        for (lstate *st = s->states, *nx; st; st = nx) {
            nx = st->next;
            md_ind_run_free(st->run);
            md_free(st);
        }
        md_adj_plan_deinit(&s->plan);
    }
    md_dict_deinit(&lv->series);
    md_dict_deinit(&lv->marks);
    pthread_mutex_destroy(&lv->lock);
    md_free(lv);
}

void md_live_get_stats(md_live *lv, md_pipeline_stats *st)
{
    pthread_mutex_lock(&lv->lock);
    st->live_series = lv->n_states;
    st->warming = lv->n_warming;
    st->values = __atomic_load_n(&lv->values, __ATOMIC_RELAXED);
    st->partial_values = __atomic_load_n(&lv->partial_values, __ATOMIC_RELAXED);
    st->warmups = lv->warmups;
    st->rewarms = lv->rewarms;
    pthread_mutex_unlock(&lv->lock);
}
