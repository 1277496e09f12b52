/* stream_adjust.c - adjusted bars on the stream: the extension channels
 * "bar.<interval>@splits|all" (stream/proto.h), what a bar subscription with
 * "adjust":"splits"|"all" becomes.
 *
 *   bar published (any origin; hub observer) --> topics wanted for (symbol, interval)?
 *     --> the bar adjusted as /historical?adjust= would (query/adjust.c, the stored actions,
 *         anchored at the newest stored bar) --> "bar" on bar.<iv>@<mode>, origin DERIVED
 *
 * Every instance adjusts the bars it hears (its own and the relayed ones) for its own
 * clients, so adjusted messages are not relayed. The sessions acquire a (channel, symbol)
 * when a shard gets its first subscriber and release it with the last one (hub.h), so only
 * what someone reads is adjusted. Raw subscribers (the default) keep the shared raw frame.
 *
 * A bar just published is usually the newest, which the CRSP-style factors leave as traded
 * (factor 1); the adjustment shows on bars published for a date before a recorded split
 * (ingested or backfilled history, a replay) - every message says its mode and, like an
 * adjusted REST answer, what the adjustment rested on ("adjustment"). */
#include "query/query.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "stream/hub.h"
#include "stream/proto.h"

#include <pthread.h>
#include <string.h>

typedef struct topic {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    md_adjust mode;
    int ch;            /* the hub's number of bar.<iv>@<mode> */
    int refs;          /* shards subscribed */
    uint64_t from_seq; /* adjusted since the message after this one (hub.h: covers) */
} topic;

struct md_stream_adjust {
    md_services *svc;
    md_hub *hub;
    pthread_mutex_t lock;
    topic *t;
    size_t n, cap;
};

static int find(md_stream_adjust *sa, const char *symbol, md_interval iv, md_adjust mode)
{
    for (size_t i = 0; i < sa->n; i++)
        if (sa->t[i].iv == iv && sa->t[i].mode == mode && strcmp(sa->t[i].symbol, symbol) == 0)
            return (int)i;
    return -1;
}

static int acquire(void *ctx, const char *channel, const char *symbol, md_error *err)
{
    md_stream_adjust *sa = ctx;
    md_interval iv;
    md_adjust mode;
    if (md_xchannel_bar(channel, &iv, &mode) != 0 || mode == MD_ADJUST_NONE)
        return md_error_set(err, MD_ECHANNEL, "channel '%.60s' is not an adjusted bar channel",
                            channel);
    int ch = md_hub_xchannel(sa->hub, channel, 0, err);
    if (ch < 0) return ch;
    pthread_mutex_lock(&sa->lock);
    int k = find(sa, symbol, iv, mode);
    if (k < 0) {
        MD_ARRAY_GROW(sa->t, sa->n, sa->cap, 8);
        topic *t = &sa->t[sa->n++];
        memset(t, 0, sizeof *t);
        snprintf(t->symbol, sizeof t->symbol, "%s", symbol);
        t->iv = iv, t->mode = mode, t->ch = ch;
        t->from_seq = md_hub_last_seq(sa->hub);
        k = (int)sa->n - 1;
    }
    sa->t[k].refs++;
    pthread_mutex_unlock(&sa->lock);
    return 0;
}

static void release(void *ctx, const char *channel, const char *symbol)
{
    md_stream_adjust *sa = ctx;
    md_interval iv;
    md_adjust mode;
    if (md_xchannel_bar(channel, &iv, &mode) != 0) return;
    pthread_mutex_lock(&sa->lock);
    int k = find(sa, symbol, iv, mode);
    if (k >= 0 && --sa->t[k].refs <= 0) sa->t[k] = sa->t[--sa->n];
    pthread_mutex_unlock(&sa->lock);
}

static int covers(void *ctx, const char *channel, const char *symbol, uint64_t since_seq)
{
    md_stream_adjust *sa = ctx;
    md_interval iv;
    md_adjust mode;
    if (md_xchannel_bar(channel, &iv, &mode) != 0) return 1;
    pthread_mutex_lock(&sa->lock);
    int k = find(sa, symbol, iv, mode);
    int yes = k >= 0 && sa->t[k].from_seq <= since_seq;
    pthread_mutex_unlock(&sa->lock);
    return yes;
}

static void on_bar(void *ctx, const char *symbol, md_interval iv, const md_bar *b, md_origin origin)
{
    /* every bar a raw subscriber gets, whoever stored it; a derived one is a live bar at its
     * close */
    int closed = MD_ORIGIN_BASE(origin) == MD_ORIGIN_DERIVED;
    md_stream_adjust *sa = ctx;
    struct {
        md_adjust mode;
        int ch;
    } want[2];
    size_t nw = 0;
    pthread_mutex_lock(&sa->lock);
    for (size_t i = 0; i < sa->n && nw < 2; i++)
        if (sa->t[i].iv == iv && strcmp(sa->t[i].symbol, symbol) == 0)
            want[nw].mode = sa->t[i].mode, want[nw++].ch = sa->t[i].ch;
    pthread_mutex_unlock(&sa->lock);
    for (size_t i = 0; i < nw; i++) {
        md_bar x = *b;
        md_adj_note note;
        md_error e;
        if (md_query_adjust_bars(sa->svc, symbol, iv, want[i].mode, &x, 1, &note, &e) < 0) {
            MD_WARN("stream", "bar not adjusted symbol=%s interval=%s error=\"%s\"", symbol,
                    md_interval_name(iv), e.msg);
            continue; /* a raw price on an adjusted channel would be wrong, not late */
        }
        md_buf f = MD_BUF_INIT;
        md_proto_bar_fields(&f, iv, &x, closed);
        md_render_adjust_json(&f, &note);
        md_hub_publish_ext(sa->hub, want[i].ch, symbol, "bar", f.data, f.len, MD_ORIGIN_DERIVED, 0);
        md_buf_deinit(&f);
    }
}

md_stream_adjust *md_stream_adjust_new(md_services *svc, struct md_hub *hub)
{
    md_stream_adjust *sa = md_calloc(1, sizeof *sa);
    sa->svc = svc;
    sa->hub = hub;
    pthread_mutex_init(&sa->lock, NULL);
    md_hub_xhandler x = {
        .prefix = "bar.", .acquire = acquire, .release = release, .ctx = sa, .covers = covers};
    md_hub_add_xhandler(hub, &x);
    md_hub_observer ob = {.on_bar = on_bar, .ctx = sa};
    md_hub_add_observer(hub, &ob);
    return sa;
}

void md_stream_adjust_free(md_stream_adjust *sa)
{
    if (!sa) return;
    md_hub_remove_observer(sa->hub, sa);
    md_hub_remove_xhandler(sa->hub, sa);
    pthread_mutex_destroy(&sa->lock);
    md_free(sa->t);
    md_free(sa);
}
