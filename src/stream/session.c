/* session.c - shards (one per event loop), the topic table, sessions and their queues.
 * See session.h for the queue rules. Everything here except md_hub_shard_new runs on the
 * shard's loop thread.
 *
 * Data structures:
 *   shard.topics   core/dict (symbol, channel) -> topic; a topic lists its subs
 *   topic.subs     doubly-linked list of subscriptions, one per session
 *   session.subs   subscriptions sorted by topic pointer (lookup by binary search)
 *   session.ring   queue entries by absolute position (pos & mask); an entry is a per-shard
 *                  message handle (msg: frame + non-atomic count of queue references) and,
 *                  for the newest queued entry of a subscription, that subscription (owner),
 *                  so conflation can find and drop it in O(1). */
#include "stream/session.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "stream/market.h"
#include "stream/stream_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define POS_NONE UINT64_MAX
/* A client whose queue was empty when a burst arrived (it keeps up) may take a burst this
 * many times queue_size before conflation starts; one still behind, queue_size. */
#define MD_STREAM_BURST_FACTOR 16

typedef struct md__msg {
    md_frame *f;
    uint32_t refs; /* queue entries pointing here */
    struct md__msg *next_free;
} msg;

typedef struct md__sub sub;

typedef struct md__topic {
    char symbol[MD_SYMBOL_MAX + 1]; /* "" for extension channels that are not per symbol */
    uint16_t channel;
    uint8_t acquired; /* an extension channel's handler was told (released with the topic) */
    sub *subs;
    size_t n_subs;
} topic;

struct md__sub {
    topic *t;
    md_session *s;
    sub *prev, *next;   /* in the topic's list */
    uint64_t skip_upto; /* messages with ord <= this (md_frame) were published before the
                           subscription */
    uint64_t last_ord;  /* ord of the newest message queued for this subscription */
    uint64_t last_pos;  /* queue position of the newest queued entry, or POS_NONE */
    int twin;           /* an ind. channel's forming-bar values: part of that pair */
};

typedef struct qent {
    msg *m;     /* NULL: dropped by conflation */
    sub *owner; /* the subscription whose newest entry this is, or NULL */
} qent;

struct md_session {
    md_hub_shard *sh;
    void *user;
    uint64_t id;
    qent *ring;
    size_t cap; /* power of two */
    uint64_t head, tail;
    size_t head_off; /* bytes of the head entry's frame already written (md_session_consume) */
    size_t live;
    size_t soft, burst, hard; /* conflate at soft (behind) or burst (caught up); close past hard */
    int caught_up;            /* the queue was empty when this drain reached the session */
    sub **subs;               /* sorted by topic pointer */
    size_t n_subs, cap_subs;
    size_t n_twins; /* of subs, the forming-bar twins (not pairs of their own) */
    uint64_t delivered, dropped, dropped_pending;
    int overflow;
    msg *pong; /* the queued protocol pong not yet started (md_session_push_pong), or NULL */
    int in_ready;
    md_session *ready_next;
};

/* -- messages ------------------------------------------------------------------------------ */

static msg *msg_new(md_hub_shard *sh, md_frame *f)
{
    msg *m = sh->free_msgs;
    if (m)
        sh->free_msgs = m->next_free;
    else
        m = md_malloc(sizeof *m);
    m->f = f;
    m->refs = 0;
    return m;
}

static void msg_recycle(md_hub_shard *sh, msg *m)
{
    md_frame_unref(m->f);
    m->f = NULL;
    m->next_free = sh->free_msgs;
    sh->free_msgs = m;
}

static void msg_unref(md_hub_shard *sh, msg *m)
{
    if (--m->refs == 0) msg_recycle(sh, m);
}

/* -- topic table --------------------------------------------------------------------------- */

/* A topic's key: the symbol, its NUL, the channel (two bytes). */
#define TOPIC_KEY_MAX (MD_SYMBOL_MAX + 3)
static size_t topic_key(const char *symbol, int ch, char *k)
{
    size_t n = strnlen(symbol, MD_SYMBOL_MAX);
    memcpy(k, symbol, n);
    k[n] = 0;
    k[n + 1] = (char)(ch & 0xff);
    k[n + 2] = (char)(ch >> 8);
    return n + 3;
}

static topic *topic_find(const md_hub_shard *sh, const char *symbol, int ch)
{
    char k[TOPIC_KEY_MAX];
    return md_dict_find(&sh->topics, k, topic_key(symbol, ch, k));
}

static topic *topic_get(md_hub_shard *sh, const char *symbol, int ch)
{
    char k[TOPIC_KEY_MAX];
    int created;
    topic *t = md_dict_put(&sh->topics, k, topic_key(symbol, ch, k), &created);
    if (created) {
        memcpy(t->symbol, k, strlen(k) + 1);
        t->channel = (uint16_t)ch;
        md_hub__xchannel_ref(sh->hub, ch, 1);
    }
    return t;
}

/* Tells an extension channel's handler that this shard reads (channel, symbol) no more. */
static void xrelease(md_hub *h, int ch, const char *symbol)
{
    const char *name = md_hub_xchannel_name(h, ch);
    md_hub_xhandler x;
    if (name && md_hub__xhandler(h, name, &x, NULL) == 0 && x.release)
        x.release(x.ctx, name, symbol);
}

/* Removes t (no subscribers left). */
static void topic_remove(md_hub_shard *sh, topic *t)
{
    if (t->acquired) xrelease(sh->hub, t->channel, t->symbol);
    md_hub__xchannel_ref(sh->hub, t->channel, -1);
    md_dict_remove_value(&sh->topics, t);
}

/* -- shards -------------------------------------------------------------------------------- */

md_hub_shard *md_hub_shard_new(md_hub *h, void (*wake)(void *ctx), void *ctx)
{
    md_hub_shard *sh = md_calloc(1, sizeof *sh);
    sh->hub = h;
    sh->wake = wake;
    sh->wake_ctx = ctx;
    pthread_mutex_init(&sh->lock, NULL);
    md_dict_init(&sh->topics, sizeof(topic));
    md_hub__add_shard(h, sh);
    return sh;
}

void md_hub_shard_free(md_hub_shard *sh)
{
    if (!sh) return;
    md_hub__remove_shard(sh->hub, sh);
    for (size_t i = 0; i < sh->n_inbox; i++) md_frame_unref(sh->inbox[i]);
    md_free(sh->inbox);
    md_free(sh->spare);
    size_t at = 0;
    for (topic *t; (t = md_dict_next(&sh->topics, &at));)
        for (sub *x = t->subs; x; x = x->next) x->t = NULL; /* sessions should be gone */
    md_dict_deinit(&sh->topics);
    while (sh->free_msgs) {
        msg *m = sh->free_msgs;
        sh->free_msgs = m->next_free;
        md_free(m);
    }
    pthread_mutex_destroy(&sh->lock);
    md_free(sh);
}

/* -- queues -------------------------------------------------------------------------------- */

static void ring_grow(md_session *s)
{
    size_t mask = s->cap - 1;
    size_t cap = s->cap ? s->cap * 2 : 16;
    qent *r = md_calloc(cap, sizeof *r);
    for (uint64_t p = s->head; p < s->tail; p++) r[p & (cap - 1)] = s->ring[p & mask];
    md_free(s->ring);
    s->ring = r;
    s->cap = cap;
}

static void ring_make_room(md_session *s)
{
    if (s->tail - s->head < s->cap) return;
    if (s->head_off) { /* the head is half written: it stays where it is */
        ring_grow(s);
        return;
    }
    size_t mask = s->cap - 1;
    if (s->cap && s->live <= s->cap / 2) { /* compact: squeeze out dropped entries */
        uint64_t w = s->head;
        for (uint64_t p = s->head; p < s->tail; p++) {
            qent e = s->ring[p & mask];
            if (!e.m) continue;
            if (w != p) {
                s->ring[w & mask] = e;
                s->ring[p & mask].m = NULL;
                s->ring[p & mask].owner = NULL;
                if (e.owner) e.owner->last_pos = w;
            }
            w++;
        }
        s->tail = w;
        return;
    }
    ring_grow(s);
}

/* Appends m for subscription x (NULL for a per-client message), conflating when the
 * session is behind. */
static void enqueue_as(md_session *s, sub *x, msg *m, int conflate);

static void enqueue(md_session *s, sub *x, msg *m)
{
    enqueue_as(s, x, m, 1);
}

/* conflate 0: a replayed message (since_seq), never merged into a later one of its topic:
 * the replay is the gap a resuming client asked for, each message once, in order */
static void enqueue_as(md_session *s, sub *x, msg *m, int conflate)
{
    if (x) {
        x->last_ord = m->f->ord;
        if (x->last_pos != POS_NONE && x->last_pos >= s->head) {
            qent *old = &s->ring[x->last_pos & (s->cap - 1)];
            int half_sent = x->last_pos == s->head && s->head_off; /* must go out whole */
            if (conflate && s->live >= (s->caught_up ? s->burst : s->soft) && !half_sent) {
                /* behind: keep only the newest value of this topic */
                msg_unref(s->sh, old->m);
                old->m = NULL;
                s->live--;
                s->dropped++;
                s->dropped_pending++;
                md_metric_add(MD_M_STREAM_DROPPED, 1);
            }
            old->owner = NULL;
        }
    }
    ring_make_room(s);
    qent *e = &s->ring[s->tail & (s->cap - 1)];
    e->m = m;
    e->owner = conflate ? x : NULL; /* a replayed entry is no subscription's newest */
    m->refs++;
    /* a replayed message is never the one a later message of its topic replaces */
    if (x) x->last_pos = conflate ? s->tail : POS_NONE;
    s->tail++;
    s->live++;
    if (s->live > s->hard) s->overflow = 1;
}

/* -- draining ------------------------------------------------------------------------------ */

size_t md_hub_shard_drain(md_hub_shard *sh, md_ready_fn ready, void *ctx)
{
    pthread_mutex_lock(&sh->lock);
    md_frame **v = sh->inbox;
    size_t n = sh->n_inbox, cap = sh->cap_inbox;
    sh->inbox = sh->spare;
    sh->cap_inbox = sh->cap_spare;
    sh->n_inbox = 0;
    sh->woken = 0;
    pthread_mutex_unlock(&sh->lock);
    sh->spare = v;
    sh->cap_spare = cap;

    md_session *ready_list = NULL;
    for (size_t i = 0; i < n; i++) {
        md_frame *f = v[i];
        v[i] = NULL;
        topic *t = topic_find(sh, f->symbol, f->channel);
        if (!t || !t->subs) {
            md_frame_unref(f);
            continue;
        }
        msg *m = msg_new(sh, f);
        for (sub *x = t->subs; x; x = x->next) {
            if (f->ord <= x->skip_upto) continue;
            md_session *s = x->s;
            if (!s->in_ready) s->caught_up = s->live == 0;
            enqueue(s, x, m);
            if (!s->in_ready) {
                s->in_ready = 1;
                s->ready_next = ready_list;
                ready_list = s;
            }
        }
        if (m->refs == 0) msg_recycle(sh, m);
    }
    while (ready_list) {
        md_session *s = ready_list;
        ready_list = s->ready_next;
        s->in_ready = 0;
        s->caught_up = 0;
        s->ready_next = NULL;
        if (ready) ready(s, ctx);
    }
    return n;
}

/* -- sessions ------------------------------------------------------------------------------ */

md_session *md_session_new(md_hub_shard *sh, void *user)
{
    const md_hub_options *o = md_hub_opts(sh->hub);
    md_session *s = md_calloc(1, sizeof *s);
    s->sh = sh;
    s->user = user;
    s->soft = o->queue_size;
    s->burst = o->queue_size * MD_STREAM_BURST_FACTOR;
    /* room for the newest message of every subscription: a pair's forming-bar values
     * (ind.*, "partial":true) are a second one, so twice the pairs */
    s->hard = s->burst + 2 * o->max_subscriptions + 1024;
    s->id = md_hub__session_opened(sh->hub);
    sh->n_sessions++;
    return s;
}

static size_t sub_index(const md_session *s, const topic *t, int *found)
{
    size_t lo = 0, hi = s->n_subs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)s->subs[mid]->t < (uintptr_t)t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n_subs && s->subs[lo]->t == t;
    return lo;
}

static sub *sub_find(const md_session *s, const topic *t)
{
    if (!t) return NULL;
    int found;
    size_t i = sub_index(s, t, &found);
    return found ? s->subs[i] : NULL;
}

static sub *sub_add(md_session *s, topic *t, uint64_t skip, int twin)
{
    int found;
    size_t i = sub_index(s, t, &found);
    if (found) return s->subs[i];
    MD_ARRAY_GROW(s->subs, s->n_subs, s->cap_subs, 16);
    memmove(&s->subs[i + 1], &s->subs[i], (s->n_subs - i) * sizeof *s->subs);
    sub *x = md_calloc(1, sizeof *x);
    x->t = t;
    x->s = s;
    x->skip_upto = skip;
    x->last_pos = POS_NONE;
    x->twin = twin;
    s->n_twins += twin != 0;
    x->next = t->subs;
    if (t->subs) t->subs->prev = x;
    t->subs = x;
    t->n_subs++;
    s->subs[i] = x;
    s->n_subs++;
    return x;
}

/* Unlinks x from its topic (freeing the topic when it was the last) and frees it; the
 * caller removes it from s->subs. */
static void sub_free(md_session *s, sub *x)
{
    if (x->last_pos != POS_NONE && x->last_pos >= s->head && s->cap)
        s->ring[x->last_pos & (s->cap - 1)].owner = NULL;
    topic *t = x->t;
    if (t) {
        if (x->prev)
            x->prev->next = x->next;
        else
            t->subs = x->next;
        if (x->next) x->next->prev = x->prev;
        if (--t->n_subs == 0) topic_remove(s->sh, t);
    }
    s->n_twins -= x->twin != 0;
    md_free(x);
}

void md_session_free(md_session *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_subs; i++) sub_free(s, s->subs[i]);
    md_free(s->subs);
    for (uint64_t p = s->head; p < s->tail; p++) {
        qent *e = &s->ring[p & (s->cap - 1)];
        if (e->m) msg_unref(s->sh, e->m);
    }
    md_free(s->ring);
    s->sh->n_sessions--;
    md_hub__session_closed(s->sh->hub);
    md_free(s);
}

void *md_session_user(const md_session *s)
{
    return s->user;
}

uint64_t md_session_id(const md_session *s)
{
    return s->id;
}

size_t md_session_subscriptions(const md_session *s)
{
    return s->n_subs - s->n_twins;
}

void md_session_push(md_session *s, md_frame *f)
{
    enqueue(s, NULL, msg_new(s->sh, f));
}

void md_session_push_pong(md_session *s, md_frame *f)
{
    if (s->pong) { /* still wholly unsent: it answers this ping instead */
        md_frame_unref(s->pong->f);
        s->pong->f = f;
        return;
    }
    msg *m = msg_new(s->sh, f);
    enqueue(s, NULL, m);
    s->pong = m;
}

size_t md_session_queued(const md_session *s)
{
    return s->live;
}

int md_session_overflowed(const md_session *s)
{
    return s->overflow;
}

void md_session_get_stats(const md_session *s, md_session_stats *st)
{
    st->delivered = s->delivered;
    st->dropped = s->dropped;
    st->dropped_pending = s->dropped_pending;
}

/* -- subscribe / unsubscribe --------------------------------------------------------------- */

static int cmp_symbol(const void *a, const void *b)
{
    return strcmp(((const md_symbol *)a)->s, ((const md_symbol *)b)->s);
}

typedef struct {
    const md_symbol *syms; /* sorted; NULL: every symbol */
    size_t n;
    uint32_t channels; /* fixed channels */
    const int *xch;    /* extension channels, sorted; NULL with all_x: every one */
    size_t n_x;
    int all_x;
} selector;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int selected(const selector *sel, const char *symbol, int ch)
{
    if (ch == MD_CH_NONE) return 0;
    if (ch < MD_CH_COUNT ? !(sel->channels & (1u << ch))
                         : !(sel->all_x || bsearch(&ch, sel->xch, sel->n_x, sizeof(int), cmp_int)))
        return 0;
    /* a channel not per symbol goes when named, or with everything (an unsubscribe naming
     * only symbols leaves it: it is no symbol's) */
    if (!*symbol) return !(sel->all_x && sel->syms);
    if (!sel->syms) return 1; /* every symbol */
    md_symbol key;
    size_t len = strnlen(symbol, sizeof key.s);
    if (len == sizeof key.s) return 0; /* longer than any symbol a client can select */
    memcpy(key.s, symbol, len + 1);
    return bsearch(&key, sel->syms, sel->n, sizeof *sel->syms, cmp_symbol) != NULL;
}

static int keep_frame(const md_frame *f, void *ctx)
{
    return selected(ctx, f->symbol, f->channel);
}

/* The (symbol, channel) pairs a subscribe names. */
typedef struct pair {
    const char *symbol;
    int ch;
    int acquired; /* this request told the channel's handler */
    int twin;     /* the forming-bar values of an ind. channel ("partial":true) */
} pair;

typedef struct pairs {
    pair *v;
    size_t n, cap;
    int *xch; /* the extension channel numbers, for the replay */
    size_t n_x;
} pairs;

static void pairs_add(pairs *p, const char *symbol, int ch, int twin)
{
    if (p->n == p->cap) p->v = md_realloc(p->v, (p->cap = p->cap ? p->cap * 2 : 16) * sizeof *p->v);
    p->v[p->n++] = (pair){symbol, ch, 0, twin};
}

/* Every pair of op: fixed channels times symbols, then each extension channel (and its
 * partial twin when asked) times symbols, or once with "" when it is not per symbol. */
static int pairs_of(md_hub *h, const md_op *op, uint32_t channels, pairs *p, md_error *err)
{
    for (size_t i = 0; i < op->n_symbols; i++)
        for (int ch = 0; ch < MD_CH_COUNT; ch++)
            if (channels & (1u << ch)) pairs_add(p, op->symbols[i].s, ch, 0);
    p->xch = md_malloc((2 * op->n_xch + 1) * sizeof *p->xch);
    for (size_t k = 0; k < op->n_xch; k++) {
        const char *name = op->xch[k].name;
        int twin = op->partial && strncmp(name, "ind.", 4) == 0;
        for (int t = 0; t <= twin; t++) {
            char full[MD_XCH_NAME_MAX + 16];
            snprintf(full, sizeof full, "%s%s", name, t ? MD_XCH_PARTIAL_SUFFIX : "");
            int ch = md_hub_xchannel(h, full, 1, err);
            if (ch < 0) return ch;
            p->xch[p->n_x++] = ch;
            if (md_xchannel_symbolless(name))
                pairs_add(p, "", ch, t);
            else
                for (size_t i = 0; i < op->n_symbols; i++) pairs_add(p, op->symbols[i].s, ch, t);
        }
    }
    qsort(p->xch, p->n_x, sizeof *p->xch, cmp_int);
    return 0;
}

/* Tells the handlers of the extension channels about the pairs that are new on this shard;
 * on a refusal, takes back what this request acquired. */
static int acquire_pairs(md_hub_shard *sh, pairs *p, md_error *err)
{
    for (size_t i = 0; i < p->n; i++) {
        pair *x = &p->v[i];
        if (x->ch < MD_CH_COUNT || topic_find(sh, x->symbol, x->ch)) continue;
        const char *name = md_hub_xchannel_name(sh->hub, x->ch);
        md_hub_xhandler xh;
        int rc = md_hub__xhandler(sh->hub, name, &xh, err);
        if (rc == 0 && xh.acquire) rc = xh.acquire(xh.ctx, name, x->symbol, err);
        if (rc) {
            for (size_t j = 0; j < i; j++)
                if (p->v[j].acquired) xrelease(sh->hub, p->v[j].ch, p->v[j].symbol);
            return rc;
        }
        x->acquired = 1;
    }
    return 0;
}

int md_session_subscribe(md_session *s, const md_op *op, md_error *err)
{
    md_hub_shard *sh = s->sh;
    uint32_t channels = op->channels ? op->channels : op->n_xch ? 0 : 1u << MD_CH_QUOTE;
    pairs p = {0};
    int rc = pairs_of(sh->hub, op, channels, &p, err);
    /* the limit counts (symbol, channel) pairs: an ind. channel's forming-bar twin is part
     * of its pair */
    size_t n_new = 0, n_pairs = md_session_subscriptions(s);
    for (size_t i = 0; rc == 0 && i < p.n; i++)
        if (!p.v[i].twin && !sub_find(s, topic_find(sh, p.v[i].symbol, p.v[i].ch))) n_new++;
    size_t max = md_hub_opts(sh->hub)->max_subscriptions;
    if (rc == 0 && n_pairs + n_new > max)
        rc = md_error_set(err, MD_ESUBLIMIT,
                          "subscribing would make %zu subscriptions (symbol and channel pairs); "
                          "at most %zu allowed",
                          n_pairs + n_new, max);
    if (rc == 0) rc = acquire_pairs(sh, &p, err);
    if (rc) {
        md_free(p.v);
        md_free(p.xch);
        return rc;
    }

    md_symbol *sorted = md_malloc((op->n_symbols ? op->n_symbols : 1) * sizeof *sorted);
    if (op->n_symbols) { /* none when only channels not per symbol (screen.*) are named */
        memcpy(sorted, op->symbols, op->n_symbols * sizeof *sorted);
        qsort(sorted, op->n_symbols, sizeof *sorted, cmp_symbol);
    }
    selector sel = {sorted, op->n_symbols, channels, p.xch, p.n_x, 0};

    md_frame **replay = NULL;
    size_t n_replay = 0;
    uint64_t last, last_ord;
    int complete = 1;
    if (op->has_since) {
        n_replay = md_hub__replay(sh->hub, op->since_seq, keep_frame, &sel, &replay, &last,
                                  &last_ord, &complete);
        /* a channel computed only while read (ind.*, adjusted bars, market.*) that nobody
         * read for a while after since_seq has no messages of that while to replay */
        for (size_t i = 0; i < p.n && complete; i++) {
            if (p.v[i].ch < MD_CH_COUNT || p.v[i].twin) continue; /* forming values: the newest */
            const char *name = md_hub_xchannel_name(sh->hub, p.v[i].ch);
            md_hub_xhandler xh;
            if (name && md_hub__xhandler(sh->hub, name, &xh, NULL) == 0 && xh.covers &&
                !xh.covers(xh.ctx, name, p.v[i].symbol, op->since_seq))
                complete = 0;
        }
    } else
        md_hub__last(sh->hub, &last, &last_ord);

    for (size_t i = 0; i < p.n; i++) {
        topic *t = topic_get(sh, p.v[i].symbol, p.v[i].ch);
        if (p.v[i].acquired) t->acquired = 1;
        sub *x = sub_add(s, t, last_ord, p.v[i].twin);
        if (x->skip_upto < last_ord) x->skip_upto = last_ord;
    }
    /* the answer first, then the replayed messages in seq order */
    size_t replayed = 0;
    sub **owners = md_malloc((n_replay ? n_replay : 1) * sizeof *owners);
    for (size_t i = 0; i < n_replay; i++) {
        sub *x = sub_find(s, topic_find(sh, replay[i]->symbol, replay[i]->channel));
        owners[i] = x && replay[i]->ord > x->last_ord ? x : NULL;
        if (owners[i]) replayed++;
    }
    /* the replay is queued whole (not conflated), up to what the queue holds below its hard
     * bound: beyond that its oldest messages are left out and the answer says it is not
     * complete */
    size_t room = s->hard > s->live + 64 ? s->hard - s->live - 64 : 0;
    for (size_t i = 0; i < n_replay && replayed > room; i++)
        if (owners[i]) owners[i] = NULL, replayed--, complete = 0;
    md_session_push(s, md_proto_subscribed(op, channels, last, replayed, complete));
    for (size_t k = 0; k < op->n_xch; k++) { /* a calendar's status now (stream/market.h) */
        md_frame *f = md_market_status_frame(op->xch[k].name, last);
        if (f) md_session_push(s, f);
    }
    for (size_t i = 0; i < n_replay; i++) {
        if (owners[i] && replay[i]->ord > owners[i]->last_ord)
            enqueue_as(s, owners[i], msg_new(sh, replay[i]), 0);
        else
            md_frame_unref(replay[i]);
    }
    md_free(owners);
    md_free(replay);
    md_free(sorted);
    md_free(p.v);
    md_free(p.xch);
    return 0;
}

int md_session_unsubscribe(md_session *s, const md_op *op, md_error *err)
{
    int all = !op->channels && !op->n_xch;
    uint32_t channels = all ? MD_CH_ALL : op->channels;
    md_symbol *sorted = NULL;
    if (op->n_symbols) {
        sorted = md_malloc(op->n_symbols * sizeof *sorted);
        memcpy(sorted, op->symbols, op->n_symbols * sizeof *sorted);
        qsort(sorted, op->n_symbols, sizeof *sorted, cmp_symbol);
    }
    /* an indicator channel goes with its partial twin; names never subscribed are skipped */
    int *xch = md_malloc((2 * op->n_xch + 1) * sizeof *xch);
    size_t n_x = 0;
    for (size_t k = 0; k < op->n_xch; k++) {
        char twin[MD_XCH_NAME_MAX + 16];
        snprintf(twin, sizeof twin, "%s%s", op->xch[k].name, MD_XCH_PARTIAL_SUFFIX);
        int a = md_hub_xchannel(s->sh->hub, op->xch[k].name, 0, NULL);
        int b = md_hub_xchannel(s->sh->hub, twin, 0, NULL);
        if (a >= 0) xch[n_x++] = a;
        if (b >= 0) xch[n_x++] = b;
    }
    qsort(xch, n_x, sizeof *xch, cmp_int);
    selector sel = {sorted, op->n_symbols, channels, xch, n_x, all};
    size_t w = 0;
    for (size_t i = 0; i < s->n_subs; i++) {
        sub *x = s->subs[i];
        if (x->t && selected(&sel, x->t->symbol, x->t->channel))
            sub_free(s, x);
        else
            s->subs[w++] = x;
    }
    s->n_subs = w;
    md_free(sorted);
    md_free(xch);
    md_session_push(s, md_proto_unsubscribed(op, channels, md_session_subscriptions(s)));
    return 0;
}

/* -- writing ------------------------------------------------------------------------------- */

int md_session_pack(md_session *s, md_buf *out, size_t max_bytes, size_t *n_msgs)
{
    size_t n = 0, start = out->len;
    if (s->dropped_pending) {
        md_proto_lagged(out, s->dropped_pending);
        s->dropped_pending = 0;
        n++;
    }
    size_t mask = s->cap - 1;
    while (s->head < s->tail && out->len - start < max_bytes) {
        qent *e = &s->ring[s->head & mask];
        s->head++;
        if (!e->m) continue;
        md_buf_append(out, e->m->f->data, e->m->f->len);
        if (e->m == s->pong) s->pong = NULL;
        if (e->owner) e->owner->last_pos = POS_NONE;
        msg_unref(s->sh, e->m);
        e->m = NULL;
        e->owner = NULL;
        s->live--;
        n++;
    }
    while (s->head < s->tail && !s->ring[s->head & mask].m) s->head++;
    s->delivered += n;
    if (n_msgs) *n_msgs = n;
    return s->head < s->tail;
}

int md_session_iov(md_session *s, struct iovec *iov, int max_iov, size_t max_bytes)
{
    if (s->dropped_pending && !s->head_off) { /* the lagged notice goes first, whole */
        if (s->tail - s->head >= s->cap) ring_grow(s);
        s->head--;
        qent *e = &s->ring[s->head & (s->cap - 1)];
        e->m = msg_new(s->sh, md_proto_lagged_frame(s->dropped_pending));
        e->m->refs = 1;
        e->owner = NULL;
        s->live++;
        s->dropped_pending = 0;
    }
    int n = 0;
    size_t bytes = 0, mask = s->cap - 1;
    for (uint64_t p = s->head; p < s->tail && n < max_iov && bytes < max_bytes; p++) {
        qent *e = &s->ring[p & mask];
        if (!e->m) continue;
        size_t off = p == s->head ? s->head_off : 0;
        iov[n].iov_base = e->m->f->data + off;
        iov[n].iov_len = e->m->f->len - off;
        bytes += iov[n].iov_len;
        n++;
        /* messages were dropped behind a half-written frame: finish it alone, so the lagged
         * notice goes before the next one */
        if (off && s->dropped_pending) break;
    }
    return n;
}

size_t md_session_consume(md_session *s, size_t bytes)
{
    size_t n = 0, mask = s->cap - 1;
    while (s->head < s->tail) {
        qent *e = &s->ring[s->head & mask];
        if (!e->m) {
            s->head++;
            continue;
        }
        size_t left = e->m->f->len - s->head_off;
        if (bytes && e->m == s->pong) s->pong = NULL; /* started: it goes out as it is */
        if (bytes < left) {
            s->head_off += bytes;
            break;
        }
        bytes -= left;
        s->head_off = 0;
        if (e->owner) e->owner->last_pos = POS_NONE;
        msg_unref(s->sh, e->m);
        e->m = NULL;
        e->owner = NULL;
        s->head++;
        s->live--;
        n++;
    }
    while (s->head < s->tail && !s->ring[s->head & mask].m) s->head++;
    s->delivered += n;
    return n;
}

int md_session_pending(const md_session *s)
{
    return s->live > 0 || s->dropped_pending > 0;
}

int md_session_head_started(const md_session *s)
{
    return s->head_off > 0;
}
