/* screen.c - the screens of pipeline.jobs: a condition over indicators and fields
 * (analytics/expr.h) evaluated over a set of symbols on a schedule.
 *
 *   schedule            when it runs                               its slot (the run's lease)
 *   every <N>s|m|h      at each multiple of N of the wall clock    floor(now / N)
 *   close <interval>    a moment (SETTLE_MS) after the first bar   the bar's timestamp
 *                       of a new bucket of that interval closes
 *
 * A run evaluates each symbol at its newest bar of the job's interval (for a close schedule,
 * the newest bar starting before the closed bucket ends), with the values
 * /analytics/{symbol}/indicators gives for that bar (md_query_ind_at). The symbols whose
 * condition is true are the screen's matches; the result - matches with the values that
 * matched and since when, the run's time and counts - is stored in the store as a document
 * ("pipeline/screen/<name>"), and each symbol that entered or left the screen is published as
 * a "screen" message on the stream channel screen.<name>.
 *
 * Once per deployment: every agent runs the same schedule, and a run takes the lease of its
 * slot first (md_cache_lease, like the watchlist's polls and backfill jobs); the agents that
 * lose skip it. The previous matches are read from the stored document, not from memory,
 * so whichever agent runs the next slot - or this one after a restart - compares with the
 * last run of the deployment, and a restart neither repeats a slot that ran nor replays the
 * enter events of symbols that were already in. Events go out on the running agent's hub as
 * LOCAL messages, which the relay carries to the other agents' clients. */
#include "pipeline/pipeline_int.h"

#include "analytics/expr.h"
#include "cache/cache.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "core/waiter.h"
#include "stream/hub.h"
#include "stream/proto.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_MS 2000         /* after the first close of a bucket, for the others to close */
#define CLOSE_LEASE_MS 600000  /* a close slot's lease: longer than the agents' spread */
#define MAX_REPORTED_ERRORS 20 /* symbols whose evaluation failed, named in the result */

enum { SET_WATCHLIST, SET_ALL, SET_LIST };

typedef struct screen {
    const md_config_job *job;
    md_expr *expr;
    char canonical[2 * MD_EXPR_MAX_TEXT];
    int64_t every_s;      /* 0: close schedule */
    md_interval close_iv; /* close schedule */
    md_interval iv;       /* the bars the condition reads */
    int set;
    char **list;
    size_t n_list;
    md_ind_spec specs[MD_IND_MAX];
    int n_specs;
    int term_spec[MD_EXPR_MAX_TERMS]; /* spec of each indicator term */
    int ch;                           /* screen.<name> on the hub; -1 without a hub */
    /* schedule (sc->lock) */
    int64_t next_slot;     /* every: the next slot to run */
    int64_t pending_close; /* close: a bucket that closed and has not run; MD_TS_MIN none */
    int64_t due_ms;        /* monotonic: when the pending work is due */
    int64_t last_close;    /* close: the last bucket run (or skipped) */
    int running;           /* serialises runs of this screen */
} screen;

struct md_screens {
    md_services *svc;
    screen *v;
    size_t n;
    pthread_mutex_t lock;
    md_waiter wake;
    pthread_t thread;
    int has_thread, started;
};

/* -- set-up ---------------------------------------------------------------------------------- */

static int job_error(md_error *err, const md_config_job *j, int line, const char *part,
                     const char *msg)
{
    return md_error_set(err, MD_ECONFIG, "%s:%d: pipeline.jobs.%s%s%s: %s",
                        j->path ? j->path : "config", line ? line : j->line, j->name,
                        part ? "." : "", part ? part : "", msg);
}

/* Everything of a job that the configuration alone decides: its schedule, interval, condition
 * and symbols. stream_on is stream.enabled (a close schedule hears closes on the stream). */
static int screen_parse(screen *s, const md_config_job *j, int stream_on, md_error *err)
{
    s->job = j;
    s->ch = -1;
    s->pending_close = s->last_close = MD_TS_MIN;
    md_error e2;
    int civ = 0;
    if (md_config_job_schedule(j->schedule, &s->every_s, &civ, &e2) != 0)
        return job_error(err, j, j->line_schedule, "schedule", e2.msg);
    s->close_iv = (md_interval)civ;
    s->iv = s->every_s ? MD_IV_1D : s->close_iv;
    if (j->interval && md_interval_parse(j->interval, &s->iv, &e2) != 0)
        return job_error(err, j, j->line_interval, "interval", e2.msg);
    if (md_expr_parse(j->condition, &s->expr, &e2) != 0)
        return job_error(err, j, j->line_condition, "condition", e2.msg);
    md_buf b = MD_BUF_INIT;
    md_expr_render(s->expr, &b);
    snprintf(s->canonical, sizeof s->canonical, "%s", b.data);
    md_buf_deinit(&b);
    const md_expr_term *t;
    size_t nt = md_expr_terms(s->expr, &t);
    for (size_t i = 0; i < nt; i++) {
        s->term_spec[i] = -1;
        if (t[i].is_field) continue;
        int k = 0;
        while (k < s->n_specs && strcmp(s->specs[k].name, t[i].spec.name) != 0) k++;
        if (k == s->n_specs) {
            if (s->n_specs == MD_IND_MAX)
                return job_error(err, j, j->line_condition, "condition",
                                 "at most 16 different indicators");
            s->specs[s->n_specs++] = t[i].spec;
        }
        s->term_spec[i] = k;
    }
    if (strcmp(j->symbols, "watchlist") == 0)
        s->set = SET_WATCHLIST;
    else if (strcmp(j->symbols, "all") == 0)
        s->set = SET_ALL;
    else
        s->set = SET_LIST, s->n_list = md_config_split_list(j->symbols, &s->list);
    for (size_t i = 0; i < s->n_list; i++) { /* checked by core/config_jobs.c */
        char sym[MD_SYMBOL_MAX + 1];
        if (md_symbol_normalize_str(s->list[i], sym, NULL) == 0) {
            md_free(s->list[i]);
            s->list[i] = md_strdup(sym);
        }
    }
    if (!s->every_s && !stream_on)
        return job_error(err, j, j->line_schedule, "schedule",
                         "a close schedule needs stream.enabled (bar closes are heard on the "
                         "stream)");
    return 0;
}

static int screen_init(md_screens *sc, screen *s, const md_config_job *j, md_error *err)
{
    md_hub *hub = sc->svc->hub;
    int rc = screen_parse(s, j, hub != NULL, err);
    if (rc) return rc;
    if (hub) {
        char name[MD_XCH_NAME_MAX];
        snprintf(name, sizeof name, "screen.%s", j->name);
        s->ch = md_hub_xchannel(hub, name, MD_XCH_PIN, err); /* published, read or not */
        if (s->ch < 0) return s->ch;
    }
    return 0;
}

static void screen_deinit(screen *s)
{
    md_expr_free(s->expr);
    md_config_free_list(s->list, s->n_list);
}

static screen *find(md_screens *sc, const char *name)
{
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->v[i].job->name, name) == 0) return &sc->v[i];
    return NULL;
}

/* -- the stored result --------------------------------------------------------------------- */

static void doc_key(const screen *s, char *k, size_t n)
{
    snprintf(k, n, "pipeline/screen/%s", s->job->name);
}

/* The stored result of s as JSON (jansson), or NULL when none. */
static json_t *load_doc(md_screens *sc, const screen *s, md_error *err, int *rc)
{
    char key[128], *text = NULL;
    doc_key(s, key, sizeof key);
    *rc = md_store_doc_get(sc->svc->store, key, &text, err);
    if (*rc <= 0) {
        if (*rc == 0) *rc = 0;
        return NULL;
    }
    *rc = 0;
    json_t *doc = json_loads(text, 0, NULL);
    md_free(text);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

/* -- a run ------------------------------------------------------------------------------------ */

typedef struct match {
    char symbol[MD_SYMBOL_MAX + 1];
    int64_t ts;    /* the bar evaluated */
    int64_t since; /* the run it entered the screen (epoch ms) */
    double vals[MD_EXPR_MAX_TERMS];
} match;

/* The symbols of s's set. Heap array of heap strings (md_config_free_list). */
static size_t symbols_of(md_screens *sc, screen *s, char ***out, md_error *err, int *rc)
{
    const md_config *cfg = sc->svc->cfg;
    *rc = 0;
    if (s->set == SET_LIST) {
        char **v = md_malloc((s->n_list ? s->n_list : 1) * sizeof *v);
        for (size_t i = 0; i < s->n_list; i++) v[i] = md_strdup(s->list[i]);
        *out = v;
        return s->n_list;
    }
    if (s->set == SET_WATCHLIST) {
        size_t n = md_config_split_list(cfg->sources_watchlist, out), k = 0;
        for (size_t i = 0; i < n; i++) {
            char sym[MD_SYMBOL_MAX + 1];
            int ok = md_symbol_normalize_str((*out)[i], sym, NULL) == 0;
            md_free((*out)[i]);
            if (ok) (*out)[k++] = md_strdup(sym);
        }
        return k;
    }
    md_symbol_info *info;
    int n = md_store_list_symbols(sc->svc->store, &info, err);
    if (n < 0) {
        *rc = n;
        *out = NULL;
        return 0;
    }
    char **v = md_malloc(((size_t)n ? (size_t)n : 1) * sizeof *v);
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1], info[i].symbol) != 0) v[k++] = md_strdup(info[i].symbol);
    md_free(info);
    *out = v;
    return k;
}

static void values_json(md_buf *b, const screen *s, const double *vals)
{
    const md_expr_term *t;
    size_t nt = md_expr_terms(s->expr, &t);
    md_buf_putc(b, '{');
    for (size_t i = 0; i < nt; i++) {
        if (i) md_buf_putc(b, ',');
        md_buf_json_str(b, t[i].name);
        md_buf_putc(b, ':');
        md_buf_num(b, vals[i]);
    }
    md_buf_putc(b, '}');
}

static void publish_event(md_screens *sc, const screen *s, const char *event, const match *m,
                          int64_t at_ms)
{
    if (s->ch < 0) return;
    md_buf f = MD_BUF_INIT;
    md_buf_puts(&f, ",\"screen\":");
    md_buf_json_str(&f, s->job->name);
    md_buf_puts(&f, ",\"event\":\"");
    md_buf_puts(&f, event);
    md_buf_puts(&f, "\",\"symbol\":");
    md_buf_json_str(&f, m->symbol);
    md_buf_puts(&f, ",\"interval\":\"");
    md_buf_puts(&f, md_interval_name(s->iv));
    md_buf_puts(&f, "\",\"timestamp\":");
    md_buf_ts(&f, m->ts, 1);
    md_buf_puts(&f, ",\"at\":");
    md_buf_ts(&f, at_ms / 1000, 1);
    md_buf_puts(&f, ",\"values\":");
    values_json(&f, s, m->vals);
    /* the channel is not per symbol: the topic's symbol is "", the symbol is a field */
    md_hub_publish_ext(sc->svc->hub, s->ch, "", "screen", f.data, f.len, MD_ORIGIN_LOCAL, 1);
    md_buf_deinit(&f);
}

static int cmp_match(const void *a, const void *b)
{
    return strcmp(((const match *)a)->symbol, ((const match *)b)->symbol);
}

/* Evaluates one symbol: 1 matched (m filled), 0 not, or an error. */
static int evaluate(md_screens *sc, const screen *s, const char *symbol, int64_t before, match *m,
                    md_error *err)
{
    double out[MD_IND_MAX][MD_IND_MAX_OUTPUTS];
    md_bar bar;
    int rc = md_query_ind_at(sc->svc, symbol, s->iv, s->specs, s->n_specs, before, &bar, out, err);
    if (rc) return rc;
    const md_expr_term *t;
    size_t nt = md_expr_terms(s->expr, &t);
    for (size_t i = 0; i < nt; i++)
        m->vals[i] = t[i].is_field ? md_field_value(t[i].field, bar.open, bar.high, bar.low,
                                                    bar.close, bar.volume)
                                   : out[s->term_spec[i]][t[i].output];
    snprintf(m->symbol, sizeof m->symbol, "%s", symbol);
    m->ts = bar.ts;
    return md_expr_eval(s->expr, m->vals) == 1;
}

/* Runs s for slot (its number, for the result) over every symbol; stores the result and
 * publishes the changes. bar_ts: the closed bucket of a close schedule, MD_TS_MIN otherwise. */
static int run_screen(md_screens *sc, screen *s, int64_t slot, int64_t bar_ts, md_error *err)
{
    int64_t t0 = md_mono_ms(), at_ms = md_now_ms();
    int rc;
    char **syms;
    size_t n = symbols_of(sc, s, &syms, err, &rc);
    if (rc) return rc;
    size_t max = (size_t)sc->svc->cfg->pipeline_max_symbols;
    if (n > max) {
        MD_WARN("pipeline",
                "screen %s: %zu symbols, evaluating the first %zu "
                "(pipeline.max_symbols)",
                s->job->name, n, max);
        for (size_t i = max; i < n; i++) md_free(syms[i]);
        n = max;
    }
    int64_t before = bar_ts == MD_TS_MIN ? MD_TS_MAX : md_interval_next(s->close_iv, bar_ts);
    match *now = md_malloc((n ? n : 1) * sizeof *now);
    size_t n_now = 0, n_err = 0, n_nodata = 0;
    md_buf errors = MD_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        md_error e2;
        int r = evaluate(sc, s, syms[i], before, &now[n_now], &e2);
        if (r == 1) n_now++;
        if (r == MD_ENODATA) n_nodata++;
        if (r < 0 && r != MD_ENODATA && n_err++ < MAX_REPORTED_ERRORS) {
            md_buf_puts(&errors, errors.len ? ",{\"symbol\":" : "{\"symbol\":");
            md_buf_json_str(&errors, syms[i]);
            md_buf_puts(&errors, ",\"message\":");
            md_buf_json_str(&errors, e2.msg);
            md_buf_putc(&errors, '}');
        }
    }
    md_config_free_list(syms, n);
    qsort(now, n_now, sizeof *now, cmp_match);

    /* the previous matches: from the deployment's last run, as stored */
    json_t *doc = load_doc(sc, s, err, &rc);
    if (rc) {
        md_free(now);
        md_buf_deinit(&errors);
        return rc;
    }
    json_t *prev = doc ? json_object_get(doc, "matches") : NULL;
    size_t n_prev = json_is_array(prev) ? json_array_size(prev) : 0;
    for (size_t i = 0; i < n_now; i++) now[i].since = at_ms;
    for (size_t k = 0; k < n_prev; k++) {
        json_t *pm = json_array_get(prev, k);
        const char *sym = json_string_value(json_object_get(pm, "symbol"));
        if (!sym) continue;
        match key; /* bsearch compares the symbol only; the rest zeroed for the analyzers */
        memset(&key, 0, sizeof key);
        snprintf(key.symbol, sizeof key.symbol, "%s", sym);
        match *m = bsearch(&key, now, n_now, sizeof *now, cmp_match);
        if (m) { /* stayed in: keeps the time it entered */
            int64_t since;
            const char *st = json_string_value(json_object_get(pm, "since"));
            if (st && md_time_parse_str(st, &since, NULL) == 0) m->since = since * 1000;
            continue;
        }
        /* left: the values it has now are not known (it is not a match); report the bar */
        match left;
        memset(&left, 0, sizeof left);
        snprintf(left.symbol, sizeof left.symbol, "%s", sym);
        md_error e2;
        if (evaluate(sc, s, sym, before, &left, &e2) < 0) {
            for (size_t i = 0; i < MD_EXPR_MAX_TERMS; i++) left.vals[i] = NAN;
            left.ts = 0;
        }
        publish_event(sc, s, "leave", &left, at_ms);
    }
    for (size_t i = 0; i < n_now; i++) {
        if (now[i].since == at_ms) publish_event(sc, s, "enter", &now[i], at_ms);
    }
    if (sc->svc->hub) md_hub_flush(sc->svc->hub);

    /* the result */
    md_buf b = MD_BUF_INIT;
    md_buf_puts(&b, "{\"name\":");
    md_buf_json_str(&b, s->job->name);
    md_buf_puts(&b, ",\"slot\":");
    md_buf_int(&b, slot);
    md_buf_puts(&b, ",\"run\":{\"at\":");
    md_buf_ts(&b, at_ms / 1000, 1);
    if (bar_ts != MD_TS_MIN) {
        md_buf_puts(&b, ",\"bar\":");
        md_buf_ts(&b, bar_ts, 1);
    }
    md_buf_puts(&b, ",\"instance\":");
    md_buf_json_str(&b, sc->svc->hub ? md_hub_instance(sc->svc->hub) : "");
    md_buf_puts(&b, ",\"symbols\":");
    md_buf_int(&b, (int64_t)n);
    md_buf_puts(&b, ",\"matched\":");
    md_buf_int(&b, (int64_t)n_now);
    md_buf_puts(&b, ",\"no_data\":");
    md_buf_int(&b, (int64_t)n_nodata);
    md_buf_puts(&b, ",\"failed\":");
    md_buf_int(&b, (int64_t)n_err);
    md_buf_puts(&b, ",\"errors\":[");
    if (errors.len) md_buf_append(&b, errors.data, errors.len);
    md_buf_puts(&b, "],\"duration_ms\":");
    md_buf_int(&b, md_mono_ms() - t0);
    md_buf_puts(&b, "},\"matches\":[");
    for (size_t i = 0; i < n_now; i++) {
        if (i) md_buf_putc(&b, ',');
        md_buf_puts(&b, "{\"symbol\":");
        md_buf_json_str(&b, now[i].symbol);
        md_buf_puts(&b, ",\"since\":");
        md_buf_ts(&b, now[i].since / 1000, 1);
        md_buf_puts(&b, ",\"timestamp\":");
        md_buf_ts(&b, now[i].ts, 1);
        md_buf_puts(&b, ",\"values\":");
        values_json(&b, s, now[i].vals);
        md_buf_putc(&b, '}');
    }
    md_buf_puts(&b, "]}");
    char key[128];
    doc_key(s, key, sizeof key);
    const char *keys[] = {key}, *vals[] = {b.data};
    rc = md_store_doc_put(sc->svc->store, keys, vals, 1, err);
    MD_INFO("pipeline", "screen %s ran symbols=%zu matched=%zu failed=%zu ms=%lld", s->job->name, n,
            n_now, n_err, (long long)(md_mono_ms() - t0));
    json_decref(doc);
    md_buf_deinit(&b);
    md_buf_deinit(&errors);
    md_free(now);
    return rc;
}

/* Runs slot of s unless another agent holds its lease (or this one runs s right now). */
static void run_slot(md_screens *sc, screen *s, int64_t slot, int64_t bar_ts)
{
    char lease[160];
    snprintf(lease, sizeof lease, "pipeline:%s:%lld", s->job->name, (long long)slot);
    int64_t ttl = s->every_s ? s->every_s * 1000 : CLOSE_LEASE_MS;
    if (md_cache_lease(sc->svc->cache, lease, ttl) == 0) {
        md_metric_add(MD_M_PIPELINE_RUNS, 1, s->job->name, "skipped");
        MD_DEBUG("pipeline", "screen %s slot %lld: another agent runs it", s->job->name,
                 (long long)slot);
        return;
    }
    md_error err;
    int rc = run_screen(sc, s, slot, bar_ts, &err);
    md_metric_add(MD_M_PIPELINE_RUNS, 1, s->job->name, rc ? "failed" : "ran");
    if (rc) MD_WARN("pipeline", "screen %s: run failed: %s", s->job->name, err.msg);
}

/* -- the stream: screen.<name> exists for each screen ------------------------------------------- */

static int x_acquire(void *ctx, const char *channel, const char *symbol, md_error *err)
{
    md_screens *sc = ctx;
    if (find(sc, channel + 7)) return 0; /* after "screen." */
    return md_error_set(err, MD_ECHANNEL, "channel '%s': no screen named '%s' (pipeline.jobs)",
                        channel, channel + 7);
}

static void x_release(void *ctx, const char *channel, const char *symbol)
{
    (void)ctx, (void)channel, (void)symbol; /* events are published whoever listens */
}

/* -- the schedule ------------------------------------------------------------------------------ */

static void on_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *b, md_origin origin)
{
    md_screens *sc = ctx;
    (void)symbol;
    /* A bar whose period has not ended by the clock (an ingested or fetched bar of the
     * current period; a live bar is announced at its close) is no close: it says that the
     * bucket before it has closed, and its own close is still to come */
    int64_t closed = b->ts;
    if (MD_ORIGIN_BASE(origin) != MD_ORIGIN_DERIVED &&
        md_bar_partial(iv, b->ts, MD_TS_MIN, MD_TS_MAX, md_now()))
        closed = md_interval_floor(iv, b->ts - 1);
    pthread_mutex_lock(&sc->lock);
    for (size_t i = 0; i < sc->n; i++) {
        screen *s = &sc->v[i];
        if (s->every_s || iv != s->close_iv || closed <= s->last_close ||
            closed <= s->pending_close)
            continue;
        if (s->pending_close == MD_TS_MIN) s->due_ms = md_mono_ms() + SETTLE_MS;
        s->pending_close = closed;
        md_waiter_notify_locked(&sc->wake);
    }
    pthread_mutex_unlock(&sc->lock);
}

static void *screens_main(void *arg)
{
    md_screens *sc = arg;
    pthread_mutex_lock(&sc->lock);
    while (!md_waiter_stopped(&sc->wake)) {
        int64_t mono = md_mono_ms(), wall = md_now_ms(), next = MD_WAIT_FOREVER;
        screen *due = NULL;
        int64_t slot = 0, bar = MD_TS_MIN;
        for (size_t i = 0; i < sc->n && !due; i++) {
            screen *s = &sc->v[i];
            if (s->every_s) {
                int64_t cur = wall / 1000 / s->every_s;
                if (cur >= s->next_slot) {
                    due = s, slot = cur, s->next_slot = cur + 1;
                } else {
                    int64_t at = mono + (s->next_slot * s->every_s * 1000 - wall);
                    if (at < next) next = at;
                }
            } else if (s->pending_close != MD_TS_MIN) {
                if (mono >= s->due_ms) {
                    due = s, slot = bar = s->pending_close;
                    s->last_close = s->pending_close;
                    s->pending_close = MD_TS_MIN;
                } else if (s->due_ms < next) {
                    next = s->due_ms;
                }
            }
        }
        if (due) {
            pthread_mutex_unlock(&sc->lock);
            run_slot(sc, due, slot, bar);
            pthread_mutex_lock(&sc->lock);
            continue;
        }
        md_waiter_wait_until_locked(&sc->wake, next);
    }
    pthread_mutex_unlock(&sc->lock);
    return NULL;
}

/* -- life cycle ----------------------------------------------------------------------------- */

int md_screens_check(const md_config *cfg, md_error *err)
{
    for (size_t i = 0; i < cfg->n_pipeline_jobs; i++) {
        screen s = {0};
        int rc = screen_parse(&s, &cfg->pipeline_jobs[i], cfg->stream_enabled, err);
        screen_deinit(&s);
        if (rc) return rc;
    }
    return 0;
}

int md_screens_new(md_services *svc, md_screens **out, md_error *err)
{
    const md_config *cfg = svc->cfg;
    md_screens *sc = md_calloc(1, sizeof *sc);
    sc->svc = svc;
    pthread_mutex_init(&sc->lock, NULL);
    md_waiter_init(&sc->wake, &sc->lock);
    sc->v = md_calloc(cfg->n_pipeline_jobs ? cfg->n_pipeline_jobs : 1, sizeof *sc->v);
    for (size_t i = 0; i < cfg->n_pipeline_jobs; i++) {
        int rc = screen_init(sc, &sc->v[sc->n], &cfg->pipeline_jobs[i], err);
        sc->n++;
        if (rc) {
            md_screens_free(sc);
            return rc;
        }
    }
    if (svc->hub) {
        md_hub_xhandler x = {"screen.", x_acquire, x_release, sc,
                             NULL}; /* run whether read or not */
        md_hub_add_xhandler(svc->hub, &x);
        md_hub_observer ob = {.on_bar = on_bar, .ctx = sc};
        if (sc->n) md_hub_add_observer(svc->hub, &ob);
    }
    *out = sc;
    return 0;
}

int md_screens_start(md_screens *sc, md_error *err)
{
    if (!sc->n || sc->started) return 0;
    sc->started = 1;
    /* a slot the deployment already ran (before a restart, or on another agent) is not run
     * again: the schedule resumes after the stored one */
    for (size_t i = 0; i < sc->n; i++) {
        screen *s = &sc->v[i];
        int rc;
        md_error e2;
        json_t *doc = load_doc(sc, s, &e2, &rc);
        json_t *slot = doc ? json_object_get(doc, "slot") : NULL;
        if (json_is_integer(slot)) {
            if (s->every_s)
                s->next_slot = json_integer_value(slot) + 1;
            else
                s->last_close = json_integer_value(slot);
        }
        if (rc)
            MD_WARN("pipeline", "screen %s: cannot read its last run: %s", s->job->name, e2.msg);
        json_decref(doc);
    }
    sc->has_thread = pthread_create(&sc->thread, NULL, screens_main, sc) == 0;
    if (!sc->has_thread) return md_error_set(err, MD_EINTERNAL, "cannot start the screens");
    pthread_setname_np(sc->thread, "pipeline-screen");
    return 0;
}

void md_screens_stop(md_screens *sc)
{
    if (!sc) return;
    md_waiter_stop(&sc->wake);
    if (sc->has_thread) pthread_join(sc->thread, NULL);
    sc->has_thread = 0;
}

void md_screens_free(md_screens *sc)
{
    if (!sc) return;
    md_screens_stop(sc);
    if (sc->svc->hub) {
        md_hub_remove_observer(sc->svc->hub, sc);
        md_hub_remove_xhandler(sc->svc->hub, sc);
    }
    for (size_t i = 0; i < sc->n; i++) screen_deinit(&sc->v[i]);
    md_free(sc->v);
    md_waiter_deinit(&sc->wake);
    pthread_mutex_destroy(&sc->lock);
    md_free(sc);
}

size_t md_screens_count(md_screens *sc)
{
    return sc ? sc->n : 0;
}

int md_screens_run(md_screens *sc, const char *name, md_error *err)
{
    screen *s = sc ? find(sc, name) : NULL;
    if (!s) return md_error_set(err, MD_ENOTFOUND, "no screen named '%.60s'", name);
    return run_screen(sc, s, md_now() / (s->every_s ? s->every_s : 1), MD_TS_MIN, err);
}

/* -- answers ---------------------------------------------------------------------------------- */

static void definition(md_buf *b, const screen *s)
{
    md_buf_puts(b, "\"name\":");
    md_buf_json_str(b, s->job->name);
    md_buf_puts(b, ",\"schedule\":");
    md_buf_json_str(b, s->job->schedule);
    md_buf_puts(b, ",\"interval\":\"");
    md_buf_puts(b, md_interval_name(s->iv));
    md_buf_puts(b, "\",\"symbols\":");
    if (s->set == SET_LIST) {
        md_buf_putc(b, '[');
        for (size_t i = 0; i < s->n_list; i++) {
            if (i) md_buf_putc(b, ',');
            md_buf_json_str(b, s->list[i]);
        }
        md_buf_putc(b, ']');
    } else {
        md_buf_json_str(b, s->set == SET_ALL ? "all" : "watchlist");
    }
    md_buf_puts(b, ",\"condition\":");
    md_buf_json_str(b, s->job->condition);
    md_buf_puts(b, ",\"canonical\":");
    md_buf_json_str(b, s->canonical);
    md_buf_puts(b, ",\"channel\":");
    char ch[MD_XCH_NAME_MAX];
    snprintf(ch, sizeof ch, "screen.%s", s->job->name);
    md_buf_json_str(b, ch);
}

int md_screens_list_json(md_screens *sc, const md_config *cfg, md_buf *out, md_error *err)
{
    md_buf_puts(out, "{\"watchlist\":[");
    char **items;
    size_t n = md_config_split_list(cfg ? cfg->sources_watchlist : "", &items), k = 0;
    for (size_t i = 0; i < n; i++) {
        char sym[MD_SYMBOL_MAX + 1];
        if (md_symbol_normalize_str(items[i], sym, NULL) != 0) continue;
        if (k++) md_buf_putc(out, ',');
        md_buf_json_str(out, sym);
    }
    md_config_free_list(items, n);
    md_buf_puts(out, "],\"screens\":[");
    for (size_t i = 0; sc && i < sc->n; i++) {
        screen *s = &sc->v[i];
        int rc;
        json_t *doc = load_doc(sc, s, err, &rc);
        if (rc) return rc;
        if (i) md_buf_putc(out, ',');
        md_buf_putc(out, '{');
        definition(out, s);
        json_t *run = doc ? json_object_get(doc, "run") : NULL;
        md_buf_puts(out, ",\"last_run\":");
        if (run) {
            char *text = json_dumps(run, JSON_COMPACT);
            md_buf_puts(out, text);
            free(text);
        } else {
            md_buf_puts(out, "null");
        }
        json_decref(doc);
        md_buf_putc(out, '}');
    }
    md_buf_puts(out, "]}");
    return 0;
}

int md_screens_get_json(md_screens *sc, const char *name, md_buf *out, md_error *err)
{
    screen *s = sc ? find(sc, name) : NULL;
    if (!s) return md_error_set(err, MD_ENOTFOUND, "no screen named '%.60s'", name);
    int rc;
    json_t *doc = load_doc(sc, s, err, &rc);
    if (rc) return rc;
    md_buf_putc(out, '{');
    definition(out, s);
    json_t *run = doc ? json_object_get(doc, "run") : NULL;
    json_t *matches = doc ? json_object_get(doc, "matches") : NULL;
    char *r = run ? json_dumps(run, JSON_COMPACT) : NULL;
    char *m = json_is_array(matches) ? json_dumps(matches, JSON_COMPACT) : NULL;
    md_buf_puts(out, ",\"last_run\":");
    md_buf_puts(out, r ? r : "null");
    md_buf_puts(out, ",\"count\":");
    md_buf_int(out, m ? (int64_t)json_array_size(matches) : 0);
    md_buf_puts(out, ",\"matches\":");
    md_buf_puts(out, m ? m : "[]");
    md_buf_putc(out, '}');
    free(r);
    free(m);
    json_decref(doc);
    return 0;
}
