/* simulator.c - random-walk prices for configured symbols, with no network.
 *
 * The log-price of a symbol is a pure function of (seed, symbol, time), built in three
 * layers of seeded Gaussian steps (a counter-based hash, no generator state):
 *
 *   day nodes     D(d)   random walk over UTC days, sigma = volatility / sqrt(365)
 *   minute nodes  M(t)   Brownian bridge from D(d) to D(d+1) through the 1440 minutes
 *   seconds              Brownian bridge from M(m) to M(m+1), clamped into the minute's
 *                        [low, high]
 *
 * A 1m bar is open = M(m), close = M(m+1), high/low a seeded excursion beyond them; coarser
 * bars aggregate 1m bars, so a live quote, the live 1m bar and a historical daily bar asked
 * later all agree. Prices are scaled so the symbol is at its configured price when the
 * source is created (the shape of the path does not depend on when), and rounded to a fixed number of decimals per symbol. The market never
 * closes (like crypto). Only completed minutes are returned as bars. */
#include "sources/offline.h"
#include "sources/manager_int.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_PER_DAY 1440

typedef struct simsym {
    char symbol[MD_SYMBOL_MAX + 1];
    uint64_t key;
    double base;     /* price at the anchor */
    double scale;    /* 10^decimals */
    double vol_base; /* mean volume of a minute */
    double anchor_l; /* log-price at the anchor */
    int64_t cache_d; /* day-node cache: D(cache_d) = cache_v */
    double cache_v;
    /* feed state */
    int64_t last_quote_s;
    int64_t next_bar_min; /* first minute whose bar has not been pushed */
} simsym;

typedef struct sim {
    md_source base;
    simsym *s;
    size_t n;
    double sigma_d, sigma_m, sigma_s;
    int64_t interval_ms;
    uint64_t seed;
    pthread_mutex_t lock; /* day-node caches and feed state */
} sim;

/* -- seeded Gaussian steps ------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static double u01(uint64_t h)
{
    return ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0); /* (0, 1) */
}

enum { S_DAY = 1, S_MIN, S_SEC, S_HIGH, S_LOW, S_VOL };

static double gauss(uint64_t key, int stream, int64_t i)
{
    uint64_t h = mix(key ^ mix((uint64_t)stream * 0x100000001B3ULL ^ (uint64_t)i));
    double u1 = u01(h), u2 = u01(mix(h));
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double uniform(uint64_t key, int stream, int64_t i)
{
    return u01(mix(key ^ mix((uint64_t)stream * 0x100000001B3ULL ^ (uint64_t)i)));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* D(d): walks from the cached node (caller holds the lock). */
static double day_node(const sim *m, simsym *y, int64_t d)
{
    int64_t c = y->cache_d;
    double v = y->cache_v;
    while (c < d) v += m->sigma_d * gauss(y->key, S_DAY, c++);
    while (c > d) v -= m->sigma_d * gauss(y->key, S_DAY, --c);
    y->cache_d = c;
    y->cache_v = v;
    return v;
}

/* The 1441 minute nodes of day d (M[0] = D(d), M[1440] = D(d+1)). */
static void day_path(sim *m, simsym *y, int64_t d, double *M)
{
    pthread_mutex_lock(&m->lock);
    double d0 = day_node(m, y, d), d1 = day_node(m, y, d + 1);
    pthread_mutex_unlock(&m->lock);
    double w = 0;
    M[0] = 0;
    for (int i = 0; i < MIN_PER_DAY; i++) {
        w += gauss(y->key, S_MIN, d * MIN_PER_DAY + i);
        M[i + 1] = w;
    }
    double wend = w;
    for (int i = 0; i <= MIN_PER_DAY; i++) {
        double f = (double)i / MIN_PER_DAY;
        M[i] = d0 + f * (d1 - d0) + m->sigma_m * (M[i] - f * wend);
    }
}

static double rnd(const simsym *y, double p)
{
    return round(p * y->scale) / y->scale;
}

static double price_of(const simsym *y, double l)
{
    return y->base * exp(l - y->anchor_l);
}

/* The 1m bar of absolute minute `minute` whose nodes are l0 -> l1. */
static void minute_bar(const sim *m, const simsym *y, int64_t minute, double l0, double l1,
                       md_bar *b)
{
    md_bar_init(b);
    b->ts = minute * 60;
    double hi = (l0 > l1 ? l0 : l1) + 0.5 * m->sigma_m * fabs(gauss(y->key, S_HIGH, minute));
    double lo = (l0 < l1 ? l0 : l1) - 0.5 * m->sigma_m * fabs(gauss(y->key, S_LOW, minute));
    b->open = rnd(y, price_of(y, l0));
    b->close = rnd(y, price_of(y, l1));
    b->high = rnd(y, price_of(y, hi));
    b->low = rnd(y, price_of(y, lo));
    b->volume = round(y->vol_base * (0.2 + 1.6 * uniform(y->key, S_VOL, minute)));
    b->source = MD_SRC_SIMULATOR;
}

/* The unscaled log-price at second t; *l0, *l1 its minute's nodes. */
static double log_at_s(sim *m, simsym *y, int64_t t, double *l0, double *l1)
{
    int64_t minute = floor_div(t, 60), d = floor_div(minute, MIN_PER_DAY);
    double *M = md_malloc((MIN_PER_DAY + 1) * sizeof *M);
    day_path(m, y, d, M);
    int mi = (int)(minute - d * MIN_PER_DAY);
    *l0 = M[mi];
    *l1 = M[mi + 1];
    md_free(M);
    int s = (int)(t - minute * 60);
    double v = 0, vs = 0, vend;
    for (int i = 0; i < 60; i++) {
        v += gauss(y->key, S_SEC, minute * 60 + i);
        if (i + 1 == s) vs = v;
    }
    vend = v;
    double f = s / 60.0;
    return *l0 + f * (*l1 - *l0) + m->sigma_s * (vs - f * vend);
}

/* Price at second t (within its minute's bar). */
static double price_at_s(sim *m, simsym *y, int64_t t)
{
    double l0, l1, l = log_at_s(m, y, t, &l0, &l1);
    md_bar bar;
    minute_bar(m, y, floor_div(t, 60), l0, l1, &bar);
    double p = rnd(y, price_of(y, l));
    if (p > bar.high) p = bar.high;
    if (p < bar.low) p = bar.low;
    return p;
}

static simsym *find(sim *m, const char *symbol)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->s[i].symbol, symbol) == 0) return &m->s[i];
    return NULL;
}

/* -- vtable ---------------------------------------------------------------------------- */

static int sim_quote(md_source *src, const char *symbol, md_quote *out, md_fetch_meta *meta,
                     md_error *err)
{
    sim *m = (sim *)src;
    simsym *y = find(m, symbol);
    if (meta) meta->requests = 1;
    if (!y) return md_error_set(err, MD_ENOTFOUND, "simulator: %s is not simulated", symbol);
    int64_t t = md_now();
    md_quote_init(out);
    snprintf(out->symbol, sizeof out->symbol, "%s", symbol);
    out->ts = t;
    out->price = price_at_s(m, y, t);
    out->source = MD_SRC_SIMULATOR;
    return 0;
}

/* Appends the completed 1m bars of [from_min, to_min) to out. */
static void minute_bars(sim *m, simsym *y, int64_t from_min, int64_t to_min, md_bar_vec *out)
{
    double *M = md_malloc((MIN_PER_DAY + 1) * sizeof *M);
    int64_t have = INT64_MIN;
    for (int64_t k = from_min; k < to_min; k++) {
        int64_t d = floor_div(k, MIN_PER_DAY);
        if (d != have) {
            day_path(m, y, d, M);
            have = d;
        }
        int mi = (int)(k - d * MIN_PER_DAY);
        md_bar b;
        minute_bar(m, y, k, M[mi], M[mi + 1], &b);
        md_bar_vec_push(out, &b);
    }
    md_free(M);
}

static int sim_bars(md_source *src, const char *symbol, md_interval iv, int64_t start, int64_t end,
                    md_bar_vec *out, md_fetch_meta *meta, md_error *err)
{
    sim *m = (sim *)src;
    simsym *y = find(m, symbol);
    if (meta) meta->requests = 1;
    if (!y) return md_error_set(err, MD_ENOTFOUND, "simulator: %s is not simulated", symbol);
    int64_t now_min = floor_div(md_now(), 60); /* minutes before this one are complete */
    int64_t s = md_interval_floor(iv, start);
    if (end > now_min * 60) end = now_min * 60;
    if (end <= s) return 0;
    size_t n0 = out->n;
    if (iv == MD_IV_1M) {
        minute_bars(m, y, floor_div(start + 59, 60), floor_div(end + 59, 60), out);
        return (int)(out->n - n0);
    }
    /* bucket by bucket, from 1m bars (1w/1mo from daily buckets) */
    md_interval inner = md_interval_is_daily(iv) && iv != MD_IV_1D ? MD_IV_1D : MD_IV_1M;
    md_bar_vec mins, days;
    md_bar_vec_init(&mins);
    md_bar_vec_init(&days);
    for (int64_t b = s; b < end; b = md_interval_next(iv, b)) {
        int64_t be = md_interval_next(iv, b);
        if (be > now_min * 60) be = now_min * 60;
        mins.n = days.n = 0;
        if (inner == MD_IV_1M) {
            minute_bars(m, y, floor_div(b, 60), floor_div(be, 60), &mins);
            md_bars_aggregate(mins.v, mins.n, iv, &days);
        } else {
            for (int64_t d = b; d < be; d += 86400) {
                int64_t de = d + 86400 < be ? d + 86400 : be;
                mins.n = 0;
                minute_bars(m, y, floor_div(d, 60), floor_div(de, 60), &mins);
                md_bars_aggregate(mins.v, mins.n, MD_IV_1D, &days);
            }
            md_bar_vec tmp;
            md_bar_vec_init(&tmp);
            md_bars_aggregate(days.v, days.n, iv, &tmp);
            md_bar_vec_deinit(&days);
            days = tmp;
        }
        for (size_t k = 0; k < days.n; k++) {
            if (days.v[k].ts < start) continue;
            days.v[k].source = MD_SRC_SIMULATOR;
            days.v[k].quality = -1;
            md_bar_vec_push(out, &days.v[k]);
        }
    }
    md_bar_vec_deinit(&mins);
    md_bar_vec_deinit(&days);
    return (int)(out->n - n0);
}

static int sim_supports(const md_source *src, md_interval iv)
{
    (void)src;
    (void)iv;
    return 1;
}

static int64_t sim_max_range(const md_source *src, md_interval iv)
{
    (void)src;
    if (iv == MD_IV_1M) return 7 * 86400;
    if (!md_interval_is_daily(iv)) return 60 * 86400;
    return 0;
}

static void sim_free(md_source *src)
{
    sim *m = (sim *)src;
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    md_free(m->s);
    md_free(m);
}

static const md_source_vtable sim_vt = {"simulator",  MD_SRC_SIMULATOR, sim_quote, sim_bars,
                                        sim_supports, sim_max_range,    sim_free,  NULL};

/* -- construction ---------------------------------------------------------------------- */

static int parse_item(const char *item, simsym *y, uint64_t seed, md_error *err)
{
    char sym[64];
    const char *colon = strrchr(item, ':');
    size_t len = colon ? (size_t)(colon - item) : strlen(item);
    if (len >= sizeof sym) len = sizeof sym - 1;
    memcpy(sym, item, len);
    sym[len] = 0;
    md_error e;
    if (md_symbol_normalize_str(sym, y->symbol, &e) != 0)
        return md_error_set(err, MD_ECONFIG, "simulator.symbols: %s", e.msg);
    y->key = mix(seed ^ 0xA5A5A5A5ULL);
    for (const char *p = y->symbol; *p; p++) y->key = mix(y->key ^ (unsigned char)*p);
    if (colon) {
        char *end;
        double p = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || !isfinite(p) || p <= 0 || p > 1e9)
            return md_error_set(err, MD_ECONFIG,
                                "simulator.symbols: '%.40s': the price after ':' must be a "
                                "positive number",
                                item);
        y->base = p;
    } else {
        y->base = round(10 + 490 * uniform(y->key, S_VOL, -1));
    }
    y->scale = y->base >= 10 ? 100 : y->base >= 1 ? 10000 : 1000000;
    y->vol_base = round(100 + 9900 * uniform(y->key, S_VOL, -2));
    return 0;
}

int md_simulator_new(const md_config *cfg, md_source **out, md_error *err)
{
    char **items;
    size_t n = md_config_split_list(cfg->sim_symbols, &items);
    if (n == 0) {
        md_config_free_list(items, n);
        return md_error_set(err, MD_ECONFIG, "simulator.symbols is empty: nothing to simulate");
    }
    sim *m = md_calloc(1, sizeof *m);
    m->base.vt = &sim_vt;
    m->base.timeout_ms = 0;
    m->seed = (uint64_t)cfg->sim_seed;
    m->interval_ms = cfg->sim_interval_ms;
    m->sigma_d = cfg->sim_volatility / sqrt(365.0);
    m->sigma_m = m->sigma_d / sqrt((double)MIN_PER_DAY);
    m->sigma_s = m->sigma_m / sqrt(60.0);
    m->s = md_calloc(n, sizeof *m->s);
    pthread_mutex_init(&m->lock, NULL);
    int64_t now = md_now();
    for (size_t i = 0; i < n; i++) {
        simsym *y = &m->s[m->n];
        int rc = parse_item(items[i], y, m->seed, err);
        if (rc) {
            md_config_free_list(items, n);
            sim_free(&m->base);
            return rc;
        }
        if (find(m, y->symbol)) continue; /* listed twice */
        y->cache_d = 10957;               /* the walk starts at 2000-01-01 */
        y->cache_v = 0;
        m->n++;
        /* anchor: the unscaled log-price now, taken unrounded: a walk that has wandered far
         * down since 2000 rounds to a price of 0, whose log would make every price inf */
        double l0, l1;
        y->anchor_l = log_at_s(m, y, now, &l0, &l1);
        y->last_quote_s = INT64_MIN;
        y->next_bar_min = floor_div(now, 60) + 1; /* the first full minute after start-up */
    }
    md_config_free_list(items, n);
    *out = &m->base;
    return 0;
}

double md_simulator_price_at(md_source *src, const char *symbol, int64_t t_ms)
{
    if (!src || src->vt != &sim_vt) return 0;
    sim *m = (sim *)src;
    simsym *y = find(m, symbol);
    return y ? price_at_s(m, y, floor_div(t_ms, 1000)) : 0;
}

/* -- feed step ------------------------------------------------------------------------- */

int64_t md_sources__sim_step(md_source *src, const md_tick_sink *sink, int64_t now_ms)
{
    sim *m = (sim *)src;
    int64_t now_s = floor_div(now_ms, 1000), cur_min = floor_div(now_s, 60);
    md_quote *q = md_calloc(m->n ? m->n : 1, sizeof *q);
    size_t nq = 0;
    md_bar_vec bars;
    md_bar_vec_init(&bars);
    for (size_t i = 0; i < m->n; i++) {
        simsym *y = &m->s[i];
        if (y->last_quote_s != now_s) {
            md_quote_init(&q[nq]);
            snprintf(q[nq].symbol, sizeof q[nq].symbol, "%s", y->symbol);
            q[nq].ts = now_s;
            q[nq].price = price_at_s(m, y, now_s);
            q[nq].source = MD_SRC_SIMULATOR;
            nq++;
            y->last_quote_s = now_s;
        }
        if (y->next_bar_min < cur_min) {
            int64_t from = y->next_bar_min;
            if (cur_min - from > 60) from = cur_min - 60; /* after a stall: the last hour */
            bars.n = 0;
            minute_bars(m, y, from, cur_min, &bars);
            y->next_bar_min = cur_min;
            if (sink->bars && bars.n) sink->bars(sink->ctx, y->symbol, MD_IV_1M, bars.v, bars.n);
        }
    }
    if (nq && sink->quotes) sink->quotes(sink->ctx, q, nq);
    md_free(q);
    md_bar_vec_deinit(&bars);
    int64_t next = now_ms + m->interval_ms;
    if (m->interval_ms >= 1000) next -= next % 1000; /* on the second */
    return next > now_ms ? next : now_ms + 1;
}
