/* scheduler.c - the watchlist poller (scheduler.h). One thread; symbol i of n is polled
 * at cycle_start + i * interval / n, so requests spread over the interval, and only while
 * the symbol's market is open (its calendar's extended hours, widened by
 * sources.poll_margin_s): a closed market has no new prices to spend quota on. */
#include "sources/scheduler.h"

#include "calendar/calendar.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "core/waiter.h"

#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define FIRST_BARS_S 3600 /* the first 1m poll of a symbol reaches back one hour */

typedef struct wsym {
    char symbol[MD_SYMBOL_MAX + 1];
    int64_t bars_from; /* next 1m bar to ask for; 0 = not yet */
} wsym;

struct md_scheduler {
    md_srcmgr *m;
    md_tick_sink sink;
    wsym *w;
    size_t n;
    int64_t interval_ms;
    int64_t margin_s; /* -1: poll at any hour */
    int poll_bars;
    pthread_t thread;
    int running;
    md_waiter sleep; /* until the next poll or md_scheduler_free */
    atomic_uint_fast64_t polls, failures, skipped;
    md_sched_claim_fn claim;
    void *claim_ctx;
    md_cal_map *cals; /* each symbol's market, asked at each poll: a provider may report it */
};

int md_scheduler_new(md_srcmgr *m, const md_config *cfg, const md_tick_sink *sink,
                     md_scheduler **out, md_error *err)
{
    *out = NULL;
    char **items;
    size_t n = md_config_split_list(cfg->sources_watchlist, &items);
    if (n == 0) {
        md_config_free_list(items, n);
        return 0;
    }
    md_scheduler *s = md_calloc(1, sizeof *s);
    s->w = md_calloc(n, sizeof *s->w);
    for (size_t i = 0; i < n; i++) {
        md_error e;
        char sym[MD_SYMBOL_MAX + 1];
        if (md_symbol_normalize_str(items[i], sym, &e) != 0) {
            md_config_free_list(items, n);
            md_free(s->w);
            md_free(s);
            return md_error_set(err, MD_ECONFIG, "sources.watchlist: %s", e.msg);
        }
        int dup = 0;
        for (size_t j = 0; j < s->n; j++) dup |= strcmp(s->w[j].symbol, sym) == 0;
        if (!dup) snprintf(s->w[s->n++].symbol, MD_SYMBOL_MAX + 1, "%s", sym);
    }
    md_config_free_list(items, n);
    /* each symbol's calendar, by the resolver every module shares (md_cal_map_find) */
    int rc = md_cal_map_new(cfg, &s->cals, err);
    if (rc != 0) {
        md_free(s->w);
        md_free(s);
        return rc;
    }
    s->m = m;
    s->sink = *sink;
    s->interval_ms = cfg->sources_poll_s * 1000;
    s->poll_bars = cfg->sources_poll_bars;
    s->margin_s = cfg->sources_poll_margin_s;
    md_waiter_init(&s->sleep, NULL);
    atomic_init(&s->polls, 0);
    atomic_init(&s->failures, 0);
    atomic_init(&s->skipped, 0);
    *out = s;
    return 0;
}

size_t md_scheduler_count(const md_scheduler *s)
{
    return s ? s->n : 0;
}

void md_scheduler_stats(const md_scheduler *s, uint64_t *polls, uint64_t *failures,
                        uint64_t *skipped)
{
    *polls = atomic_load(&((md_scheduler *)s)->polls);
    *failures = atomic_load(&((md_scheduler *)s)->failures);
    if (skipped) *skipped = atomic_load(&((md_scheduler *)s)->skipped);
}

void md_scheduler_set_claim(md_scheduler *s, md_sched_claim_fn fn, void *ctx)
{
    s->claim = fn;
    s->claim_ctx = ctx;
}

static void poll_bars(md_scheduler *s, wsym *w)
{
    int64_t now_min = md_now() / 60 * 60; /* bars before this minute are complete */
    int64_t from = w->bars_from ? w->bars_from : now_min - FIRST_BARS_S;
    if (from >= now_min || !md_srcmgr_supports(s->m, -1, MD_IV_1M)) return;
    md_fetch_opts fo = {-1, 1, &s->sink};
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_fetch_result r;
    md_error e;
    int rc = md_srcmgr_bars(s->m, w->symbol, MD_IV_1M, from, now_min, &fo, &v, &r, &e);
    if (rc >= 0) {
        /* whatever came back, the range was asked: the next poll starts where it ended */
        w->bars_from = now_min;
    } else {
        MD_DEBUG("scheduler", "1m bars not fetched symbol=%s code=%s", w->symbol,
                 md_error_code(rc));
    }
    md_bar_vec_deinit(&v);
}

int md_scheduler_poll(md_scheduler *s, size_t i, md_error *err)
{
    if (i >= s->n) return md_error_set(err, MD_EINVAL, "no watchlist symbol %zu", i);
    wsym *w = &s->w[i];
    md_fetch_opts fo = {-1, 1, &s->sink};
    md_quote q;
    md_fetch_result r;
    atomic_fetch_add(&s->polls, 1);
    int rc = md_srcmgr_quote(s->m, w->symbol, &fo, &q, &r, err);
    md_metric_add(MD_M_SCHED_POLLS, 1, rc == 0 ? "fetched" : "failed");
    if (rc != 0) {
        atomic_fetch_add(&s->failures, 1);
        MD_DEBUG("scheduler", "quote not fetched symbol=%s code=%s", w->symbol, md_error_code(rc));
        return rc;
    }
    char key[MD_SYMBOL_MAX + 4];
    snprintf(key, sizeof key, "q|%s", w->symbol);
    md_srcmgr_mark(s->m, key); /* the read path: fresh, no need to ask again */
    if (s->poll_bars) poll_bars(s, w);
    return 0;
}

/* 1 when another agent claimed this symbol's current slot (md_scheduler_set_claim). */
static int claimed_elsewhere(md_scheduler *s, size_t i)
{
    if (!s->claim) return 0;
    char name[MD_SYMBOL_MAX + 40];
    snprintf(name, sizeof name, "sched:%s:%lld", s->w[i].symbol,
             (long long)(md_now_ms() / s->interval_ms));
    if (s->claim(s->claim_ctx, name, s->interval_ms) != 0) return 0;
    atomic_fetch_add(&s->skipped, 1);
    md_metric_add(MD_M_SCHED_POLLS, 1, "skipped");
    MD_DEBUG("scheduler", "poll left to another agent symbol=%s", s->w[i].symbol);
    return 1;
}

/* 1 when symbol i's market is closed now, margin included (the poll is skipped). */
static int market_closed(md_scheduler *s, size_t i)
{
    const md_cal *cal = md_cal_map_find(s->cals, s->w[i].symbol, NULL);
    if (s->margin_s < 0 || md_cal_open_near(cal, md_now(), s->margin_s)) return 0;
    md_metric_add(MD_M_SCHED_POLLS, 1, "closed");
    MD_DEBUG("scheduler", "market closed symbol=%s calendar=%s", s->w[i].symbol, md_cal_mic(cal));
    return 1;
}

static void *run(void *arg)
{
    md_scheduler *s = arg;
    int64_t cycle = md_mono_ms();
    for (;;) {
        for (size_t i = 0; i < s->n; i++) {
            int64_t at = cycle + (int64_t)i * s->interval_ms / (int64_t)s->n;
            if (md_waiter_wait_until(&s->sleep, at)) return NULL;
            if (market_closed(s, i) || claimed_elsewhere(s, i)) continue;
            md_error e;
            md_scheduler_poll(s, i, &e);
        }
        cycle += s->interval_ms;
        int64_t now = md_mono_ms();
        if (cycle < now - s->interval_ms) cycle = now; /* fell behind: do not burst */
    }
}

int md_scheduler_start(md_scheduler *s, md_error *err)
{
    if (s->running) return 0;
    if (pthread_create(&s->thread, NULL, run, s) != 0)
        return md_error_set(err, MD_EINTERNAL, "cannot start the scheduler thread");
    s->running = 1;
    MD_INFO("scheduler", "started symbols=%zu interval_s=%lld", s->n,
            (long long)(s->interval_ms / 1000));
    return 0;
}

void md_scheduler_free(md_scheduler *s)
{
    if (!s) return;
    if (s->running) {
        md_waiter_stop(&s->sleep);
        pthread_join(s->thread, NULL);
    }
    md_waiter_deinit(&s->sleep);
    md_cal_map_free(s->cals);
    md_free(s->w);
    md_free(s);
}
