/* market.c - the "market.<MIC>" channels (market.h). */
#include "stream/market.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"
#include "stream/hub.h"
#include "stream/proto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* the offset of the running md_market, for the status frames the sessions render */
static _Atomic int64_t g_offset;

typedef struct watched {
    const md_cal *cal;
    int ch;            /* the hub's number of market.<MIC> */
    int refs;          /* shards subscribed */
    int64_t after;     /* boundaries at or before this were announced (or predate the watch) */
    uint64_t from_seq; /* watched since the message after this one (hub.h: covers) */
} watched;

struct md_market {
    md_hub *hub;
    int64_t offset_s;
    pthread_mutex_t lock;
    md_waiter wake; /* guarded by lock: a calendar acquired, or the stop */
    watched *w;
    size_t n, cap;
    pthread_t thread;
};

static int64_t now_s(const md_market *m)
{
    return md_now() + m->offset_s;
}

static int add(md_market_event *out, int n, const char *ev, int64_t at, const md_cal_session *s)
{
    out[n].event = ev, out[n].at = at, out[n].session = *s;
    return n + 1;
}

/* The boundaries of session s, in order. */
static int boundaries(const md_cal_session *s, md_market_event out[6])
{
    int n = 0;
    if (s->ext_open < s->open) n = add(out, n, "pre_open", s->ext_open, s);
    n = add(out, n, "open", s->open, s);
    if (s->break_start) {
        n = add(out, n, "break_start", s->break_start, s);
        n = add(out, n, "break_end", s->break_end, s);
    }
    n = add(out, n, "close", s->close, s);
    if (s->ext_close > s->close) n = add(out, n, "post_close", s->ext_close, s);
    return n;
}

int md_market_next(const md_cal *c, int64_t now, md_market_event out[4])
{
    /* the session whose extended hours hold now (its post-close may be next), the first
     * whose close is after now, and the one after it (24/7: it opens as that one closes):
     * the next boundary is one of theirs */
    md_cal_session s[3];
    int ns = 0;
    if (md_cal_session_at(c, now, 1, &s[0]) == 1) ns++;
    for (int k = 0; k < 2; k++) {
        if (k == 1 && ns == 0) break; /* before s[ns - 1] is read */
        int64_t from = k == 0 ? now : s[ns - 1].close;
        if (md_cal_next(c, from, &s[ns]) != 1) break;
        if (!(ns && s[ns].day == s[ns - 1].day)) ns++;
    }
    md_market_event all[18];
    int na = 0;
    for (int i = 0; i < ns; i++) na += boundaries(&s[i], all + na);
    int64_t best = INT64_MAX;
    for (int i = 0; i < na; i++)
        if (all[i].at > now && all[i].at < best) best = all[i].at;
    int n = 0;
    for (int i = 0; i < na && n < 4; i++)
        if (all[i].at == best) out[n++] = all[i];
    return n;
}

static void put_ts(md_buf *b, const char *key, int64_t ts)
{
    md_buf_printf(b, ",\"%s\":", key);
    if (ts)
        md_buf_ts(b, ts, 1);
    else
        md_buf_puts(b, "null");
}

void md_market_fields(md_buf *b, const md_cal *c, const md_market_event *ev, int64_t now)
{
    int64_t at = ev ? ev->at : now;
    md_cal_state st;
    int ok = md_cal_status(c, at, &st) == 0;
    md_buf_puts(b, ",\"calendar\":");
    md_buf_json_str(b, md_cal_mic(c));
    md_buf_puts(b, ",\"event\":");
    md_buf_json_str(b, ev ? ev->event : "status");
    md_buf_puts(b, ",\"phase\":");
    md_buf_json_str(b, ok ? md_cal_phase_name(st.phase) : "closed");
    put_ts(b, "at", at);
    md_buf_puts(b, ",\"session\":");
    const md_cal_session *s = ev ? &ev->session : ok && st.has_session ? &st.session : NULL;
    if (s) {
        char d[16];
        md_date_format(s->day * 86400, d);
        md_buf_json_str(b, d);
    } else {
        md_buf_puts(b, "null");
    }
    put_ts(b, "next_open", ok ? st.next_open : 0);
    put_ts(b, "next_close", ok ? st.next_close : 0);
}

md_frame *md_market_status_frame(const char *channel, uint64_t seq)
{
    if (strncmp(channel, "market.", 7) != 0) return NULL;
    const md_cal *c = md_cal_find(channel + 7);
    if (!c) return NULL;
    md_buf f = MD_BUF_INIT;
    md_market_fields(&f, c, NULL, md_now() + atomic_load(&g_offset));
    md_frame *fr = md_proto_ext("market", seq, channel, "", f.data, f.len);
    md_buf_deinit(&f);
    return fr;
}

/* -- the hub's handler -------------------------------------------------------------------- */

static int acquire(void *ctx, const char *channel, const char *symbol, md_error *err)
{
    (void)symbol;
    md_market *m = ctx;
    const md_cal *c = md_cal_find(channel + 7); /* after "market." */
    if (!c)
        return md_error_set(err, MD_ECHANNEL, "channel '%.60s': no calendar named '%.40s'", channel,
                            channel + 7);
    int ch = md_hub_xchannel(m->hub, channel, 0, err);
    if (ch < 0) return ch;
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < m->n && m->w[i].cal != c) i++;
    if (i == m->n) {
        MD_ARRAY_GROW(m->w, m->n, m->cap, 4);
        m->w[m->n++] = (watched){c, ch, 0, now_s(m), md_hub_last_seq(m->hub)};
    }
    m->w[i].refs++;
    md_waiter_notify_locked(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void release(void *ctx, const char *channel, const char *symbol)
{
    (void)symbol;
    md_market *m = ctx;
    const md_cal *c = md_cal_find(channel + 7);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        if (m->w[i].cal == c && --m->w[i].refs <= 0) {
            m->w[i] = m->w[--m->n];
            break;
        }
    pthread_mutex_unlock(&m->lock);
}

static int covers(void *ctx, const char *channel, const char *symbol, uint64_t since_seq)
{
    (void)symbol;
    md_market *m = ctx;
    const md_cal *c = md_cal_find(channel + 7);
    pthread_mutex_lock(&m->lock);
    int yes = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->w[i].cal == c) yes = m->w[i].from_seq <= since_seq;
    pthread_mutex_unlock(&m->lock);
    return yes;
}

/* -- the thread ------------------------------------------------------------------------------ */

typedef struct due {
    int ch;
    md_buf fields;
} due;

static void *market_main(void *arg)
{
    md_market *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!md_waiter_stopped(&m->wake)) {
        int64_t now = now_s(m), next = INT64_MAX;
        due d[16];
        size_t nd = 0;
        for (size_t i = 0; i < m->n && nd + 4 <= 16; i++) {
            watched *w = &m->w[i];
            md_market_event ev[4];
            int n = md_market_next(w->cal, w->after, ev);
            if (n == 0) continue;
            if (ev[0].at > now) {
                if (ev[0].at < next) next = ev[0].at;
                continue;
            }
            w->after = ev[0].at;
            for (int k = 0; k < n; k++) {
                d[nd].ch = w->ch;
                md_buf_init(&d[nd].fields);
                md_market_fields(&d[nd++].fields, w->cal, &ev[k], now);
            }
            next = now; /* look again: the following boundary */
        }
        if (nd) { /* published without our lock: a subscribe on a shard takes it (acquire) */
            pthread_mutex_unlock(&m->lock);
            for (size_t k = 0; k < nd; k++) {
                md_hub_publish_ext(m->hub, d[k].ch, "", "market", d[k].fields.data, d[k].fields.len,
                                   MD_ORIGIN_DERIVED, 0);
                md_buf_deinit(&d[k].fields);
            }
            pthread_mutex_lock(&m->lock);
        }
        if (next == now) continue;
        /* the wall clock's seconds mapped onto the monotonic clock, at most a minute at a
         * time: a step of the wall clock is caught at the next wake-up */
        int64_t wait_ms = next == INT64_MAX ? 60000 : (next - now) * 1000 - md_now_ms() % 1000;
        if (wait_ms > 60000) wait_ms = 60000;
        if (wait_ms < 1) wait_ms = 1;
        md_waiter_wait_until_locked(&m->wake, md_mono_ms() + wait_ms);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

md_market *md_market_new(md_hub *hub, int64_t offset_s)
{
    md_market *m = md_calloc(1, sizeof *m);
    m->hub = hub;
    m->offset_s = offset_s;
    atomic_store(&g_offset, offset_s);
    pthread_mutex_init(&m->lock, NULL);
    md_waiter_init(&m->wake, &m->lock);
    md_hub_xhandler x = {
        .prefix = "market.", .acquire = acquire, .release = release, .ctx = m, .covers = covers};
    md_hub_add_xhandler(hub, &x);
    if (pthread_create(&m->thread, NULL, market_main, m) != 0) {
        MD_ERROR("stream", "market thread not started: market.* channels announce nothing");
        m->thread = 0;
    } else {
        pthread_setname_np(m->thread, "market");
    }
    return m;
}

void md_market_free(md_market *m)
{
    if (!m) return;
    md_waiter_stop(&m->wake);
    if (m->thread) pthread_join(m->thread, NULL);
    md_hub_remove_xhandler(m->hub, m);
    md_waiter_deinit(&m->wake);
    pthread_mutex_destroy(&m->lock);
    md_free(m->w);
    md_free(m);
}
