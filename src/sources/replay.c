/* replay.c - stored or CSV bars played back as live ticks, with no network.
 *
 * Each series plays its bars one after the other, every bar lasting
 * interval_seconds / replay.speed wall seconds (gaps such as weekends are not replayed).
 * Inside a bar the price walks open -> low -> high -> close (open -> high -> low -> close
 * for a falling bar), a quarter of the bar each, so the 1m bars built from the ticks see
 * the bar's range. Quotes carry the wall-clock time of the tick; after the last bar the
 * series starts again (replay.loop) or stays at the last close.
 *
 * As a source for the manager: quote() is the price playing now, bars() the series' own
 * historical bars (aggregated to a coarser interval when asked). */
#include "sources/offline.h"
#include "sources/manager_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct rseries {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    md_bar *bars;
    size_t n;
    int64_t t0_ms; /* wall time at which bar 0 started playing */
    /* feed state */
    int64_t last_step; /* bar * 4 + phase last seen, -1 before the first */
    int64_t last_quote_s;
    int pending;       /* the price changed since the last quote pushed */
    int64_t min_start; /* wall minute (epoch s) of the bar being built, -1 none */
    md_bar min_bar;
} rseries;

typedef struct replay {
    md_source base;
    rseries *s;
    size_t n, cap;
    double speed;
    int loop;
    pthread_mutex_t lock;
} replay;

static double bar_ms(const replay *r, const rseries *s)
{
    double ms = (double)md_interval_seconds(s->iv) * 1000.0 / r->speed;
    return ms < 1 ? 1 : ms;
}

/* Playing position at wall time now: step = bar * 4 + phase; -1 when finished (no loop). */
static int64_t position(const replay *r, const rseries *s, int64_t now_ms)
{
    double elapsed = (double)(now_ms - s->t0_ms);
    if (elapsed < 0) elapsed = 0;
    double per = bar_ms(r, s) / 4.0;
    double step = floor(elapsed / per);
    double total = 4.0 * (double)s->n;
    if (step >= total) {
        if (!r->loop) return (int64_t)total - 1;
        step = fmod(step, total);
    }
    return (int64_t)step;
}

static double price_of_step(const rseries *s, int64_t step)
{
    const md_bar *b = &s->bars[step / 4];
    int up = b->close >= b->open;
    switch (step % 4) {
    case 0: return b->open;
    case 1: return up ? b->low : b->high;
    case 2: return up ? b->high : b->low;
    default: return b->close;
    }
}

static rseries *find(replay *r, const char *symbol)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->s[i].symbol, symbol) == 0) return &r->s[i];
    return NULL;
}

/* -- vtable ---------------------------------------------------------------------------- */

static int rp_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                    md_error *err)
{
    replay *r = (replay *)src;
    if (meta) meta->requests = 1;
    pthread_mutex_lock(&r->lock);
    rseries *s = find(r, symbol);
    if (!s) {
        pthread_mutex_unlock(&r->lock);
        return md_error_set(err, MD_ENOTFOUND, "replay: %s is not replayed", symbol);
    }
    int64_t now = md_now_ms();
    md_quote_init(out);
    snprintf(out->symbol, sizeof out->symbol, "%s", symbol);
    out->ts = now / 1000;
    out->price = price_of_step(s, position(r, s, now));
    out->source = MD_SRC_REPLAY;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int rp_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                   md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    replay *r = (replay *)src;
    if (meta) meta->requests = 1;
    pthread_mutex_lock(&r->lock);
    rseries *s = find(r, symbol);
    if (!s) {
        pthread_mutex_unlock(&r->lock);
        return md_error_set(err, MD_ENOTFOUND, "replay: %s is not replayed", symbol);
    }
    if (iv != s->iv && !md_interval_divides(s->iv, iv)) {
        pthread_mutex_unlock(&r->lock);
        return md_error_set(err, MD_EINTERVAL, "replay: %s plays %s bars, not %s", symbol,
                            md_interval_name(s->iv), md_interval_name(iv));
    }
    size_t n0 = out->n;
    size_t lo = 0;
    while (lo < s->n && s->bars[lo].ts < md_interval_floor(iv, start)) lo++;
    size_t hi = lo;
    while (hi < s->n && s->bars[hi].ts < end) hi++;
    if (iv == s->iv) {
        for (size_t i = lo; i < hi; i++) md_bar_vec_push(out, &s->bars[i]);
    } else {
        md_bar_vec agg;
        md_bar_vec_init(&agg);
        md_bars_aggregate(s->bars + lo, hi - lo, iv, &agg);
        for (size_t i = 0; i < agg.n; i++)
            if (agg.v[i].ts >= start && agg.v[i].ts < end) md_bar_vec_push(out, &agg.v[i]);
        md_bar_vec_deinit(&agg);
    }
    pthread_mutex_unlock(&r->lock);
    for (size_t i = n0; i < out->n; i++) {
        out->v[i].source = MD_SRC_REPLAY;
        out->v[i].quality = -1;
    }
    return (int)(out->n - n0);
}

static int rp_supports(const md_source *src, md_interval iv)
{
    replay *r = (replay *)src;
    int ok = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && !ok; i++)
        ok = r->s[i].iv == iv || md_interval_divides(r->s[i].iv, iv);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void rp_free(md_source *src)
{
    replay *r = (replay *)src;
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) md_free(r->s[i].bars);
    md_free(r->s);
    pthread_mutex_destroy(&r->lock);
    md_free(r);
}

static const md_source_vtable rp_vt = {"replay",    MD_SRC_REPLAY, rp_quote, rp_bars,
                                       rp_supports, NULL,          rp_free,  NULL};

int md_replay_new(const md_config *cfg, md_source **out, md_error *err)
{
    (void)err;
    replay *r = md_calloc(1, sizeof *r);
    r->base.vt = &rp_vt;
    r->speed = cfg->replay_speed > 0 ? cfg->replay_speed : 1;
    r->loop = cfg->replay_loop;
    pthread_mutex_init(&r->lock, NULL);
    *out = &r->base;
    return 0;
}

int md_replay_add_series(md_source *src, const char *symbol, md_interval iv, const md_bar *bars,
                         size_t n)
{
    if (!src || src->vt != &rp_vt || n == 0) return MD_EINVAL;
    replay *r = (replay *)src;
    pthread_mutex_lock(&r->lock);
    rseries *s = find(r, symbol);
    if (s) {
        md_free(s->bars);
    } else {
        if (r->n == r->cap)
            r->s = md_realloc(r->s, (r->cap = r->cap ? r->cap * 2 : 4) * sizeof *r->s);
        s = &r->s[r->n++];
    }
    memset(s, 0, sizeof *s);
    snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
    s->iv = iv;
    s->bars = md_malloc(n * sizeof *s->bars);
    memcpy(s->bars, bars, n * sizeof *bars);
    s->n = n;
    s->t0_ms = md_now_ms();
    s->last_step = -1;
    s->last_quote_s = INT64_MIN;
    s->min_start = -1;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

size_t md_replay_count(md_source *src)
{
    if (!src || src->vt != &rp_vt) return 0;
    replay *r = (replay *)src;
    pthread_mutex_lock(&r->lock);
    size_t n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* -- feed step ------------------------------------------------------------------------- */

void md_sources__replay_restart(md_source *src, int64_t now_ms)
{
    replay *r = (replay *)src;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n; i++) {
        r->s[i].t0_ms = now_ms;
        r->s[i].last_step = -1;
    }
    pthread_mutex_unlock(&r->lock);
}

/* The finished 1m bar of s, if any (caller holds the lock). */
static int take_minute(rseries *s, md_bar *out)
{
    if (s->min_start < 0) return 0;
    *out = s->min_bar;
    s->min_start = -1;
    return 1;
}

int64_t md_sources__replay_step(md_source *src, const md_tick_sink *sink, int64_t now_ms)
{
    replay *r = (replay *)src;
    int64_t now_s = now_ms / 1000, minute = now_s - now_s % 60;
    pthread_mutex_lock(&r->lock);
    size_t n = r->n;
    md_quote *q = md_calloc(n ? n : 1, sizeof *q);
    md_bar *mb = md_calloc(n ? n : 1, sizeof *mb);
    char(*mb_sym)[MD_SYMBOL_MAX + 1] = md_calloc(n ? n : 1, sizeof *mb_sym);
    size_t nq = 0, nb = 0;
    double period = 1000;
    for (size_t i = 0; i < n; i++) {
        rseries *s = &r->s[i];
        double per = bar_ms(r, s) / 4.0;
        if (per < period) period = per;
        if (s->min_start >= 0 && s->min_start != minute && take_minute(s, &mb[nb]))
            snprintf(mb_sym[nb++], MD_SYMBOL_MAX + 1, "%s", s->symbol);
        int64_t step = position(r, s, now_ms);
        double p = price_of_step(s, step);
        if (s->min_start < 0) {
            md_bar_init(&s->min_bar);
            s->min_start = minute;
            s->min_bar.ts = minute;
            s->min_bar.open = s->min_bar.high = s->min_bar.low = p;
            s->min_bar.volume = 0;
            s->min_bar.source = MD_SRC_REPLAY;
        }
        if (p > s->min_bar.high) s->min_bar.high = p;
        if (p < s->min_bar.low) s->min_bar.low = p;
        s->min_bar.close = p;
        if (step != s->last_step) {
            const md_bar *b = &s->bars[step / 4];
            if (isfinite(b->volume) && b->volume > 0) s->min_bar.volume += b->volume / 4;
            s->last_step = step;
            s->pending = 1;
        }
        if (s->pending && s->last_quote_s != now_s) { /* one quote a second, the latest */
            md_quote_init(&q[nq]);
            snprintf(q[nq].symbol, sizeof q[nq].symbol, "%s", s->symbol);
            q[nq].ts = now_s;
            q[nq].price = p;
            q[nq].source = MD_SRC_REPLAY;
            nq++;
            s->last_quote_s = now_s;
            s->pending = 0;
        }
    }
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < nb && sink->bars; i++) {
        mb[i].volume = round(mb[i].volume);
        sink->bars(sink->ctx, mb_sym[i], MD_IV_1M, &mb[i], 1);
    }
    if (nq && sink->quotes) sink->quotes(sink->ctx, q, nq);
    md_free(q);
    md_free(mb);
    md_free(mb_sym);
    if (period < 100) period = 100;
    return now_ms + (int64_t)period;
}
