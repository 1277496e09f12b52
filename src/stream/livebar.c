/* livebar.c - live bars from quotes and roll-ups (see livebar.h). One lock guards the
 * per-symbol state; closed bars wait in an output list until md_livebar_tick hands them
 * out, so nothing is stored or published from inside a writer listener or under the lock. */
#include "stream/livebar.h"

#include "calendar/bucket.h"
#include "core/dict.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DIRECT_HOLD_MS (3600LL * 1000)
#define MAX_WAIT_MS 1000
#define NO_BUCKET INT64_MIN

typedef struct lbsym {
    char symbol[MD_SYMBOL_MAX + 1];
    md_bar cur[MD_IV_COUNT];
    uint8_t open[MD_IV_COUNT];
    int64_t end[MD_IV_COUNT];             /* end of the open bucket, epoch seconds */
    int64_t last_closed[MD_IV_COUNT];     /* start of the newest closed bucket */
    int64_t updated_ms[MD_IV_COUNT];      /* clock of the last update of the open bar */
    int64_t direct_until_ms[MD_IV_COUNT]; /* a source sends these bars itself until then */
    int64_t pending_minute;               /* a 1m bar closed and not handed out (rolled up) yet */
    const md_cal *cal;                    /* its sessions; NULL: UTC days */
} lbsym;

typedef struct outbar {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    md_bar bar;
} outbar;

struct md_livebar {
    md_livebar_options o;
    pthread_mutex_t lock; /* everything below */
    md_waiter timer;      /* the timer thread's sleep until the next bar is due */
    md_dict syms;         /* symbol -> lbsym */
    outbar *out;
    size_t n_out, cap_out;
    int64_t next_due_ms;
    md_livebar_stats stats;
    pthread_mutex_t tick_lock; /* one hand-out at a time */
    pthread_t thread;
    int has_thread;
};

static int64_t clock_ms(md_livebar *lb)
{
    return lb->o.now_ms ? lb->o.now_ms(lb->o.clock_ctx) : md_now_ms();
}

/* -- symbols ------------------------------------------------------------------------------- */

static lbsym *sym_get(md_livebar *lb, const char *symbol)
{
    int created;
    lbsym *s = md_dict_put_str(&lb->syms, symbol, &created);
    if (!created) return s;
    snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
    for (int k = 0; k < MD_IV_COUNT; k++) s->last_closed[k] = NO_BUCKET;
    s->pending_minute = NO_BUCKET;
    s->cal = lb->o.cals     ? md_cal_map_find(lb->o.cals, symbol, NULL)
             : lb->o.writer ? md_writer_calendar(lb->o.writer, symbol)
                            : NULL;
    lb->stats.symbols = md_dict_count(&lb->syms);
    return s;
}

/* The start of the bucket of interval iv holding ts, and its end (end may be NULL): UTC
 * buckets, but daily and coarser ones are the symbol's sessions when its calendar is known. */
static int64_t bucket_of(const lbsym *s, int iv, int64_t ts, int64_t *end)
{
    if (s->cal && md_interval_is_daily((md_interval)iv))
        return md_cal_bucket(s->cal, (md_interval)iv, ts, end);
    int64_t b = md_interval_floor((md_interval)iv, ts);
    if (end) *end = md_interval_next((md_interval)iv, b);
    return b;
}

/* -- bars ---------------------------------------------------------------------------------- */

static int64_t due_ms(const md_livebar *lb, const lbsym *s, int iv)
{
    int64_t end_ms = s->end[iv] * 1000;
    return (end_ms > s->updated_ms[iv] ? end_ms : s->updated_ms[iv]) + lb->o.delay_ms;
}

static void close_bar(md_livebar *lb, lbsym *s, int iv)
{
    if (lb->n_out == lb->cap_out)
        lb->out = md_realloc(lb->out,
                             (lb->cap_out = lb->cap_out ? lb->cap_out * 2 : 64) * sizeof *lb->out);
    outbar *o = &lb->out[lb->n_out++];
    memcpy(o->symbol, s->symbol, sizeof o->symbol);
    o->iv = (md_interval)iv;
    o->bar = s->cur[iv];
    s->open[iv] = 0;
    s->last_closed[iv] = s->cur[iv].ts;
    if (iv == MD_IV_1M) s->pending_minute = s->cur[iv].ts;
}

/* Folds `in` (a quote as a bar, or a finer bar) into the open bar of interval iv. */
static void update(md_livebar *lb, lbsym *s, int iv, const md_bar *in, int64_t now)
{
    int64_t end, bucket = bucket_of(s, iv, in->ts, &end);
    if (s->last_closed[iv] != NO_BUCKET && bucket <= s->last_closed[iv]) {
        lb->stats.late++;
        return;
    }
    if (s->open[iv] && bucket < s->cur[iv].ts) {
        lb->stats.late++;
        return;
    }
    if (s->open[iv] && bucket > s->cur[iv].ts) close_bar(lb, s, iv);
    md_bar *b = &s->cur[iv];
    if (!s->open[iv]) {
        md_bar_init(b);
        b->ts = bucket;
        b->open = in->open;
        b->high = in->high;
        b->low = in->low;
        b->close = in->close;
        b->volume = isnan(in->volume) ? 0 : in->volume;
        b->source = in->source;
        s->open[iv] = 1;
        s->end[iv] = end;
        s->updated_ms[iv] = now;
        int64_t due = due_ms(lb, s, iv);
        if (due < lb->next_due_ms) {
            lb->next_due_ms = due;
            md_waiter_notify_locked(&lb->timer);
        }
        return;
    }
    if (in->high > b->high) b->high = in->high;
    if (in->low < b->low) b->low = in->low;
    b->close = in->close;
    if (!isnan(in->volume)) b->volume += in->volume;
    s->updated_ms[iv] = now;
}

static void on_quote(void *ctx, const md_quote *q, md_origin origin)
{
    md_livebar *lb = ctx;
    /* A provider's snapshot is not a trade: its volume is the day's so far, and folding it in
     * would store a 1m bar carrying the whole day's volume (then /historical?interval=1d
     * would aggregate it into a made-up daily bar). Only ticks build bars. */
    if (origin & MD_ORIGIN_SNAPSHOT) return;
    md_bar in;
    md_bar_init(&in);
    in.ts = q->ts;
    in.open = in.high = in.low = in.close = q->price;
    in.volume = q->volume;
    in.source = q->source;
    pthread_mutex_lock(&lb->lock);
    int64_t now = clock_ms(lb);
    lbsym *s = sym_get(lb, q->symbol);
    if (s->direct_until_ms[MD_IV_1M] <= now) update(lb, s, MD_IV_1M, &in, now);
    pthread_mutex_unlock(&lb->lock);
}

static void on_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *b, md_origin origin)
{
    md_livebar *lb = ctx;
    if (origin == MD_ORIGIN_DERIVED && iv != MD_IV_1M) return; /* our own roll-ups */
    pthread_mutex_lock(&lb->lock);
    int64_t now = clock_ms(lb);
    lbsym *s = sym_get(lb, symbol);
    if (origin != MD_ORIGIN_DERIVED) { /* a source sends these bars: do not build them too */
        s->direct_until_ms[iv] = now + DIRECT_HOLD_MS;
        s->open[iv] = 0;
    }
    if (iv == MD_IV_1M) {
        for (int t = MD_IV_5M; t < MD_IV_COUNT; t++) {
            if (s->direct_until_ms[t] > now) continue;
            update(lb, s, t, b, now);
            /* the last minute of the bucket completes it */
            if (s->open[t] && s->cur[t].ts == bucket_of(s, t, b->ts, NULL) &&
                md_interval_next(MD_IV_1M, b->ts) >= s->end[t])
                close_bar(lb, s, t);
        }
    }
    pthread_mutex_unlock(&lb->lock);
}

/* -- handing out --------------------------------------------------------------------------- */

/* Closes what is due; returns the next due time. Lock held.
 *
 * A coarse bar whose last minute is still open, or closed and not handed out yet (closed in
 * this pass, or by a tick of the next minute since the last hand-out), waits: that 1m bar is
 * rolled into it when it is handed out, and closing the coarse bar first would publish it
 * without that minute (a live feed's next tick closes the minute and it is handed out at
 * once, but the end of a feed, or a replay that pauses, leaves both due at the same time).
 * *deferred is set when a due coarse bar waits for a minute about to be handed out: the
 * caller runs this again after the hand-out. */
static int64_t close_due(md_livebar *lb, int64_t now, int *deferred)
{
    int64_t next = INT64_MAX;
    size_t at = 0;
    for (lbsym *s; (s = md_dict_next(&lb->syms, &at));) {
        for (int iv = 0; iv < MD_IV_COUNT; iv++) {
            if (!s->open[iv]) continue;
            int64_t due = due_ms(lb, s, iv);
            int64_t open_min = s->open[MD_IV_1M] ? s->cur[MD_IV_1M].ts : NO_BUCKET;
            int64_t pend = s->pending_minute, start = s->cur[iv].ts, end = s->end[iv];
            int waits_open =
                iv > MD_IV_1M && open_min != NO_BUCKET && open_min >= start && open_min < end;
            int waits_pending = iv > MD_IV_1M && pend != NO_BUCKET && pend >= start && pend < end;
            if (waits_open || waits_pending) {
                /* pending: after its hand-out; open: when it closes (its due time is in next) */
                if (waits_pending && now >= due) *deferred = 1;
                if (now < due && due < next) next = due;
                continue;
            }
            if (now >= due)
                close_bar(lb, s, iv);
            else if (due < next)
                next = due;
        }
    }
    return next;
}

int md_livebar_forming(md_livebar *lb, const char *symbol, md_interval iv, md_bar *out)
{
    pthread_mutex_lock(&lb->lock);
    lbsym *s = md_dict_find_str(&lb->syms, symbol);
    int have = 0;
    md_bar b;
    if (s && s->open[iv]) b = s->cur[iv], have = 1;
    if (s && iv != MD_IV_1M && s->open[MD_IV_1M] && s->direct_until_ms[iv] <= clock_ms(lb)) {
        const md_bar *m = &s->cur[MD_IV_1M];
        int64_t bucket = bucket_of(s, iv, m->ts, NULL);
        if (!have && (s->last_closed[iv] == NO_BUCKET || bucket > s->last_closed[iv])) {
            b = *m, b.ts = bucket, have = 1;
        } else if (have && bucket == b.ts) {
            if (m->high > b.high) b.high = m->high;
            if (m->low < b.low) b.low = m->low;
            b.close = m->close;
            if (!isnan(m->volume)) b.volume += m->volume;
        }
    }
    pthread_mutex_unlock(&lb->lock);
    if (have) *out = b;
    return have;
}

int64_t md_livebar_last_closed(md_livebar *lb, const char *symbol, md_interval iv)
{
    pthread_mutex_lock(&lb->lock);
    lbsym *s = md_dict_find_str(&lb->syms, symbol);
    int64_t ts = s ? s->last_closed[iv] : NO_BUCKET;
    pthread_mutex_unlock(&lb->lock);
    return ts;
}

/* Stores the closed minutes first, then announces the coarser bars: a coarser bar's readers
 * (live indicators read its bucket back from the store) must find every minute of it. */
static void hand_out(md_livebar *lb, outbar *v, size_t n)
{
    md_series *series = md_malloc(n * sizeof *series);
    size_t n_series = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].iv != MD_IV_1M || !lb->o.writer) continue;
        series[n_series].symbol = v[i].symbol;
        series[n_series].iv = MD_IV_1M;
        series[n_series].bars = &v[i].bar;
        series[n_series].n = 1;
        n_series++;
        lb->stats.bars_1m++;
    }
    if (n_series) {
        md_write_result res;
        md_write_result_init(&res, 4);
        md_error err;
        md_write req = {.origin = MD_WRITE_DERIVED, .series = series, .n_series = n_series};
        if (md_writer_write(lb->o.writer, &req, &res, &err) != 0)
            MD_WARN("stream", "live bars not stored: %s", err.msg);
        else if (res.rejected)
            MD_DEBUG("stream", "live bars rejected=%zu first=%s", res.rejected,
                     res.n_rejects ? res.rejects[0].msg : "");
        md_write_result_deinit(&res);
    }
    md_free(series);
    for (size_t i = 0; i < n; i++) {
        if (v[i].iv == MD_IV_1M && lb->o.writer) continue;
        md_hub_publish_bar(lb->o.hub, v[i].symbol, v[i].iv, &v[i].bar, MD_ORIGIN_DERIVED, 1);
        if (v[i].iv == MD_IV_1M)
            lb->stats.bars_1m++;
        else
            lb->stats.bars_coarse++;
    }
}

size_t md_livebar_tick(md_livebar *lb)
{
    size_t total = 0;
    pthread_mutex_lock(&lb->tick_lock);
    pthread_mutex_lock(&lb->lock);
    int deferred = 0;
    lb->next_due_ms = close_due(lb, clock_ms(lb), &deferred);
    /* handing out 1m bars rolls them up, which may close coarse bars, and coarse bars that
     * waited for their last minute are due then: repeat until quiet */
    while (lb->n_out || deferred) {
        if (!lb->n_out) { /* a deferral always comes with a 1m bar to hand out first */
            deferred = 0;
            lb->next_due_ms = close_due(lb, clock_ms(lb), &deferred);
            continue;
        }
        outbar *v = lb->out;
        size_t n = lb->n_out;
        lb->out = NULL;
        lb->n_out = lb->cap_out = 0;
        pthread_mutex_unlock(&lb->lock);
        hand_out(lb, v, n);
        total += n;
        pthread_mutex_lock(&lb->lock);
        for (size_t i = 0; i < n; i++) { /* rolled up (or refused by the writer): not pending */
            lbsym *s = v[i].iv == MD_IV_1M ? md_dict_find_str(&lb->syms, v[i].symbol) : NULL;
            if (s && s->pending_minute == v[i].bar.ts) s->pending_minute = NO_BUCKET;
        }
        md_free(v);
    }
    pthread_mutex_unlock(&lb->lock);
    if (total) md_hub_flush(lb->o.hub);
    pthread_mutex_unlock(&lb->tick_lock);
    return total;
}

static void *timer_main(void *arg)
{
    md_livebar *lb = arg;
    pthread_mutex_lock(&lb->lock);
    while (!md_waiter_stopped(&lb->timer)) {
        pthread_mutex_unlock(&lb->lock);
        md_livebar_tick(lb);
        pthread_mutex_lock(&lb->lock);
        if (md_waiter_stopped(&lb->timer)) break;
        int64_t wait = lb->next_due_ms - clock_ms(lb);
        if (wait <= 0) continue;
        if (wait > MAX_WAIT_MS) wait = MAX_WAIT_MS;
        /* wait comes from the bars' clock (o.now_ms); the sleep runs on the monotonic one */
        md_waiter_wait_until_locked(&lb->timer, md_mono_ms() + wait);
    }
    pthread_mutex_unlock(&lb->lock);
    return NULL;
}

/* -- life cycle ---------------------------------------------------------------------------- */

md_livebar *md_livebar_new(const md_livebar_options *o)
{
    md_livebar *lb = md_calloc(1, sizeof *lb);
    lb->o = *o;
    lb->next_due_ms = INT64_MAX;
    md_dict_init(&lb->syms, sizeof(lbsym));
    pthread_mutex_init(&lb->lock, NULL);
    pthread_mutex_init(&lb->tick_lock, NULL);
    md_waiter_init(&lb->timer, &lb->lock);
    md_hub_observer ob = {on_quote, on_bar, lb, NULL};
    md_hub_add_observer(o->hub, &ob);
    if (o->thread) {
        lb->has_thread = pthread_create(&lb->thread, NULL, timer_main, lb) == 0;
        if (lb->has_thread) pthread_setname_np(lb->thread, "livebars");
    }
    return lb;
}

void md_livebar_free(md_livebar *lb)
{
    if (!lb) return;
    md_hub_remove_observer(lb->o.hub, lb);
    pthread_mutex_lock(&lb->lock);
    md_waiter_stop_locked(&lb->timer);
    pthread_mutex_unlock(&lb->lock);
    if (lb->has_thread) pthread_join(lb->thread, NULL);
    md_dict_deinit(&lb->syms);
    md_free(lb->out);
    md_waiter_deinit(&lb->timer);
    pthread_mutex_destroy(&lb->lock);
    pthread_mutex_destroy(&lb->tick_lock);
    md_free(lb);
}

void md_livebar_get_stats(md_livebar *lb, md_livebar_stats *st)
{
    pthread_mutex_lock(&lb->lock);
    *st = lb->stats;
    pthread_mutex_unlock(&lb->lock);
}
