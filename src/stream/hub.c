/* hub.c - publishing: sequence numbers, one encoding per message, the replay buffer, the
 * shards' inboxes and the wake-ups. See hub.h for the picture. */
#include "stream/hub.h"

#include "core/dict.h"
#include "core/json.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "stream/proto.h"
#include "stream/stream_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_OBSERVERS 8
#define MAX_XHANDLERS 4

/* An extension channel number. A name nobody reads any more (no topic of any shard on it,
 * not pinned) for XCH_IDLE_MS gives its number to a new name when every number is taken: so
 * a client naming ever new channels (ind.sma:N@1m for every N, subscribed and dropped)
 * cannot use the numbers up for everyone. The wait outlasts any frame of the old name still
 * on its way to the shards. */
typedef struct xch_slot {
    char name[MD_XCH_NAME_MAX + 16];
    int refs;        /* topics on it over every shard; pinned: 1 for ever */
    int64_t idle_ms; /* md_mono_ms() when last named or left without topics */
} xch_slot;

struct md_hub {
    md_hub_options opt;
    char instance[40];

    pthread_mutex_t lock; /* seq, ring, shard list */
    uint64_t seq;         /* last assigned (or taken from the deployment's numbering) */
    uint64_t ord;         /* last frame's md_frame.ord */
    md_frame **ring;      /* the last ring_n messages in seq order, oldest at ring_head */
    size_t ring_head, ring_n;
    uint64_t evicted; /* highest seq that left the ring */
    uint64_t hole;    /* highest seq known not to be held here (a jump in the deployment's) */
    md_hub_sequencer sequencer; /* .ctx NULL: none (now) */
    int sequenced; /* the deployment numbers the messages (a sequencer was set: also after it
                      is gone, so numbers never collide with the deployment's) */
    uint64_t published;
    md_hub_shard *shards;

    md_hub_observer obs[MAX_OBSERVERS];
    int n_obs;
    md_hub_xhandler xh[MAX_XHANDLERS];
    int n_xh;
    md_dict xch_ids; /* extension channel name -> number (int) */
    xch_slot **xch;  /* [number - MD_CH_COUNT], each allocated once (names stay readable) */
    size_t n_xch, cap_xch;
    void (*health_fn)(void *ctx, md_buf *out);
    void *health_ctx;
    int (*stall_fn)(void *ctx); /* with health_ctx */

    atomic_uint_fast64_t session_ids;
    atomic_uint_fast64_t sessions;
    atomic_int degraded;
};

void md_hub_options_default(md_hub_options *o)
{
    md_hub_options_from_config(o, md_config_defaults());
    o->instance = NULL;
}

void md_hub_options_from_config(md_hub_options *o, const md_config *cfg)
{
    memset(o, 0, sizeof *o);
    o->replay_size = (size_t)cfg->stream_replay_size;
    o->queue_size = (size_t)cfg->stream_queue_size;
    o->max_subscriptions = (size_t)cfg->stream_max_subscriptions;
    o->instance = cfg->stream_instance;
    o->xch_idle_ms = 30000;
}

static void random_id(char *out, size_t n)
{
    unsigned char r[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
        uint64_t x = (uint64_t)md_mono_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(r, &x, sizeof r);
    }
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < 8 && 2 * i + 2 < n; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

md_hub *md_hub_new(const md_hub_options *o)
{
    md_hub *h = md_calloc(1, sizeof *h);
    if (o)
        h->opt = *o;
    else
        md_hub_options_default(&h->opt);
    if (h->opt.queue_size < 1) h->opt.queue_size = 1;
    if (h->opt.max_subscriptions < 1) h->opt.max_subscriptions = 1;
    if (h->opt.instance && *h->opt.instance)
        snprintf(h->instance, sizeof h->instance, "%s", h->opt.instance);
    else
        random_id(h->instance, sizeof h->instance);
    h->opt.instance = h->instance;
    pthread_mutex_init(&h->lock, NULL);
    md_dict_init(&h->xch_ids, sizeof(int));
    if (h->opt.replay_size) h->ring = md_calloc(h->opt.replay_size, sizeof *h->ring);
    return h;
}

void md_hub_free(md_hub *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->opt.replay_size; i++) md_frame_unref(h->ring[i]);
    md_free(h->ring);
    md_dict_deinit(&h->xch_ids);
    for (size_t i = 0; i < h->n_xch; i++) md_free(h->xch[i]);
    md_free(h->xch);
    pthread_mutex_destroy(&h->lock);
    md_free(h);
}

const md_hub_options *md_hub_opts(const md_hub *h)
{
    return &h->opt;
}

const char *md_hub_instance(const md_hub *h)
{
    return h->instance;
}

uint64_t md_hub_last_seq(md_hub *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t s = h->seq;
    pthread_mutex_unlock(&h->lock);
    return s;
}

int md_hub_sequenced(md_hub *h)
{
    pthread_mutex_lock(&h->lock);
    int s = h->sequenced;
    pthread_mutex_unlock(&h->lock);
    return s;
}

void md_hub_add_observer(md_hub *h, const md_hub_observer *ob)
{
    pthread_mutex_lock(&h->lock);
    if (h->n_obs < MAX_OBSERVERS) h->obs[h->n_obs++] = *ob;
    pthread_mutex_unlock(&h->lock);
}

void md_hub_remove_observer(md_hub *h, void *ctx)
{
    pthread_mutex_lock(&h->lock);
    int w = 0;
    for (int i = 0; i < h->n_obs; i++)
        if (h->obs[i].ctx != ctx) h->obs[w++] = h->obs[i];
    h->n_obs = w;
    pthread_mutex_unlock(&h->lock);
}

/* -- extension channels -------------------------------------------------------------------- */

/* A number whose name nobody read for XCH_IDLE_MS, or -1. Under the lock. */
static int xch_reclaim(md_hub *h)
{
    int64_t now = md_mono_ms();
    for (size_t i = 0; i < h->n_xch; i++) {
        xch_slot *x = h->xch[i];
        if (x->refs == 0 && now - x->idle_ms >= h->opt.xch_idle_ms) {
            md_dict_remove_str(&h->xch_ids, x->name);
            return (int)i;
        }
    }
    return -1;
}

int md_hub_xchannel(md_hub *h, const char *name, int create, md_error *err)
{
    pthread_mutex_lock(&h->lock);
    int *id = md_dict_find_str(&h->xch_ids, name);
    int rc;
    if (id) {
        rc = *id;
        xch_slot *x = h->xch[rc - MD_CH_COUNT];
        if (x->refs == 0) x->idle_ms = md_mono_ms(); /* named again: not reclaimed now */
        if (create == MD_XCH_PIN && x->refs >= 0) x->refs = -1;
    } else if (!create) {
        rc = md_error_set(err, MD_ENOTFOUND, "channel '%s' was never subscribed", name);
    } else if (strlen(name) >= sizeof h->xch[0]->name) {
        rc = md_error_set(err, MD_ECHANNEL, "channel '%.40s...' is too long", name);
    } else {
        int i = MD_CH_COUNT + h->n_xch <= MD_CH_MAX ? (int)h->n_xch : xch_reclaim(h);
        if (i < 0) {
            rc = md_error_set(err, MD_ECHANNEL,
                              "channel '%s': every one of the agent's %zu channel numbers is "
                              "read now, no more",
                              name, h->n_xch);
        } else {
            if ((size_t)i == h->n_xch) {
                MD_ARRAY_GROW(h->xch, h->n_xch, h->cap_xch, 16);
                h->xch[h->n_xch++] = md_calloc(1, sizeof **h->xch);
            }
            xch_slot *x = h->xch[i];
            snprintf(x->name, sizeof x->name, "%s", name);
            x->refs = create == MD_XCH_PIN ? -1 : 0;
            x->idle_ms = md_mono_ms();
            rc = MD_CH_COUNT + i;
            int created;
            *(int *)md_dict_put_str(&h->xch_ids, name, &created) = rc;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void md_hub__xchannel_ref(md_hub *h, int ch, int delta)
{
    if (ch < MD_CH_COUNT) return;
    pthread_mutex_lock(&h->lock);
    if ((size_t)(ch - MD_CH_COUNT) < h->n_xch) {
        xch_slot *x = h->xch[ch - MD_CH_COUNT];
        if (x->refs >= 0) { /* pinned: -1 */
            x->refs += delta;
            if (x->refs <= 0) x->refs = 0, x->idle_ms = md_mono_ms();
        }
    }
    pthread_mutex_unlock(&h->lock);
}

const char *md_hub_xchannel_name(md_hub *h, int ch)
{
    pthread_mutex_lock(&h->lock);
    const char *name = ch >= MD_CH_COUNT && (size_t)(ch - MD_CH_COUNT) < h->n_xch
                           ? h->xch[ch - MD_CH_COUNT]->name
                           : NULL;
    pthread_mutex_unlock(&h->lock);
    return name;
}

void md_hub_add_xhandler(md_hub *h, const md_hub_xhandler *x)
{
    pthread_mutex_lock(&h->lock);
    md_assert(h->n_xh < MAX_XHANDLERS, "more than %d stream channel handlers", MAX_XHANDLERS);
    h->xh[h->n_xh++] = *x;
    pthread_mutex_unlock(&h->lock);
}

void md_hub_remove_xhandler(md_hub *h, void *ctx)
{
    pthread_mutex_lock(&h->lock);
    int w = 0;
    for (int i = 0; i < h->n_xh; i++)
        if (h->xh[i].ctx != ctx) h->xh[w++] = h->xh[i];
    h->n_xh = w;
    pthread_mutex_unlock(&h->lock);
}

int md_hub__xhandler(md_hub *h, const char *channel, md_hub_xhandler *out, md_error *err)
{
    pthread_mutex_lock(&h->lock);
    int found = 0;
    for (int i = 0; i < h->n_xh && !found; i++)
        if (strncmp(channel, h->xh[i].prefix, strlen(h->xh[i].prefix)) == 0)
            *out = h->xh[i], found = 1;
    pthread_mutex_unlock(&h->lock);
    if (found) return 0;
    return md_error_set(err, MD_ECHANNEL, "channel '%s' is not served by this agent%s", channel,
                        strncmp(channel, "screen.", 7) == 0 ? " (no such screen)"
                                                            : " (the pipeline is not running)");
}

/* -- publishing ---------------------------------------------------------------------------- */

static void shard_push(md_hub_shard *sh, md_frame *f, int defer)
{
    int wake = 0;
    pthread_mutex_lock(&sh->lock);
    MD_ARRAY_GROW(sh->inbox, sh->n_inbox, sh->cap_inbox, 64);
    sh->inbox[sh->n_inbox++] = md_frame_ref(f);
    if (!sh->woken) {
        if (defer) {
            sh->wake_due = 1;
        } else {
            sh->woken = 1;
            sh->wake_due = 0;
            wake = 1;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    if (wake && sh->wake) sh->wake(sh->wake_ctx);
}

/* Called with the hub lock held, f numbered by the caller: into the replay buffer. */
static void ring_put_locked(md_hub *h, md_frame *f)
{
    f->ord = ++h->ord;
    size_t cap = h->opt.replay_size;
    if (cap) {
        size_t slot = (h->ring_head + h->ring_n) % cap;
        if (h->ring_n == cap) { /* full: the oldest leaves */
            if (h->ring[slot]->seq > h->evicted) h->evicted = h->ring[slot]->seq;
            md_frame_unref(h->ring[slot]);
            h->ring_head = (h->ring_head + 1) % cap;
        } else {
            h->ring_n++;
        }
        h->ring[slot] = md_frame_ref(f);
    }
}

/* Called with the hub lock held, f numbered by the caller: keep it and hand it on. */
static void dispatch_locked(md_hub *h, md_frame *f, int defer)
{
    ring_put_locked(h, f);
    h->published++;
    for (md_hub_shard *sh = h->shards; sh; sh = sh->next) shard_push(sh, f, defer);
}

/* Called with the hub lock held, f rendered with its seq: hands f on, copies the observers
 * into obs and unlocks, so that observers run without the hub lock (an observer may publish
 * or read the hub). Returns how many observers were copied. */
static int publish_unlock(md_hub *h, md_frame *f, md_origin origin, int defer, md_hub_observer *obs)
{
    int n_obs = 0;
    if (origin & MD_ORIGIN_HISTORY) { /* for since_seq only: nobody hears it now */
        ring_put_locked(h, f);
        pthread_mutex_unlock(&h->lock);
        md_frame_unref(f);
        return 0;
    }
    dispatch_locked(h, f, defer);
    n_obs = h->n_obs;
    memcpy(obs, h->obs, (size_t)n_obs * sizeof *obs);
    pthread_mutex_unlock(&h->lock);
    md_frame_unref(f);
    return n_obs;
}

/* Offers a LOCAL message without a number to the sequencer; 1 when it took it (the message
 * comes back numbered through md_hub_publish_*_at), else returns with the hub lock held. */
static int offer(md_hub *h, md_origin origin, uint64_t seq, const md_hub_seq_msg *m)
{
    pthread_mutex_lock(&h->lock);
    if (seq || MD_ORIGIN_BASE(origin) != MD_ORIGIN_LOCAL || !h->sequencer.ctx) return 0;
    md_hub_sequencer sq = h->sequencer;
    pthread_mutex_unlock(&h->lock);
    if (sq.take(sq.ctx, m)) return 1;
    pthread_mutex_lock(&h->lock);
    return 0;
}

/* The seq of a message about to be dispatched (hub lock held): seq when the deployment
 * numbered it, else the next one here. 0 when the hub already has it (a deployment's seq
 * at or below the last: the catch-up after a reconnect overlapped the live messages).
 * Sequenced, a message without a number takes the number of the message before it:
 * DERIVED ones (every instance derives its own: live bars, indicators), and LOCAL ones the
 * sequencer declined (Redis away: only this instance's clients get them). A number of its
 * own would be one the deployment gives another message, and a client resuming elsewhere
 * with it would skip that one; so seq never decreases, and since_seq still means "what
 * came after". */
static int number_locked(md_hub *h, uint64_t seq, uint64_t *out)
{
    if (seq) {
        if (seq <= h->seq) return 0;
        if (seq > h->seq + 1) h->hole = seq - 1;
        *out = h->seq = seq;
    } else {
        *out = h->sequenced ? h->seq : ++h->seq;
    }
    return 1;
}

/* Offers m to the sequencer, else numbers it: 1 with the hub lock held and *s its seq when it
 * is to be published here now; 0, unlocked, when the sequencer took it or the hub holds it
 * already. */
static int claim(md_hub *h, const md_hub_seq_msg *m, uint64_t seq, uint64_t *s)
{
    if (offer(h, m->origin, seq, m)) return 0;
    if (number_locked(h, seq, s)) return 1;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void md_hub_publish_quote_at(md_hub *h, const md_quote *q, md_origin origin, uint64_t seq,
                             int defer)
{
    md_hub_seq_msg m = {.kind = 'q', .origin = origin, .quote = q};
    uint64_t s;
    if (!claim(h, &m, seq, &s)) return;
    md_hub_observer obs[MAX_OBSERVERS];
    int n_obs = publish_unlock(h, md_proto_quote(q, s), origin, defer, obs);
    for (int i = 0; i < n_obs; i++)
        if (obs[i].on_quote) obs[i].on_quote(obs[i].ctx, q, origin);
}

void md_hub_publish_bar_at(md_hub *h, const char *symbol, md_interval iv, const md_bar *b,
                           md_origin origin, uint64_t seq, int defer)
{
    md_hub_seq_msg m = {.kind = 'b', .origin = origin, .symbol = symbol, .iv = iv, .bar = b};
    uint64_t s;
    if (!claim(h, &m, seq, &s)) return;
    md_hub_observer obs[MAX_OBSERVERS];
    /* a derived bar is a live bar at its close (livebar.c) */
    int closed = MD_ORIGIN_BASE(origin) == MD_ORIGIN_DERIVED;
    int n_obs = publish_unlock(h, md_proto_bar(symbol, iv, b, s, closed), origin, defer, obs);
    for (int i = 0; i < n_obs; i++)
        if (obs[i].on_bar) obs[i].on_bar(obs[i].ctx, symbol, iv, b, origin);
}

void md_hub_publish_ext_at(md_hub *h, int ch, const char *symbol, const char *type,
                           const char *fields, size_t fields_len, md_origin origin, uint64_t seq,
                           int defer)
{
    md_hub_seq_msg m = {.kind = 'e',
                        .origin = origin,
                        .symbol = symbol,
                        .channel = md_hub_xchannel_name(h, ch),
                        .type = type,
                        .fields = fields,
                        .fields_len = fields_len};
    uint64_t s;
    if (!claim(h, &m, seq, &s)) return;
    md_assert(ch >= MD_CH_COUNT && (size_t)(ch - MD_CH_COUNT) < h->n_xch,
              "publishing on unknown channel %d", ch);
    const char *name = h->xch[ch - MD_CH_COUNT]->name;
    md_frame *f = md_proto_ext(type, s, name, symbol, fields, fields_len);
    f->channel = (uint16_t)ch;
    md_hub_observer obs[MAX_OBSERVERS];
    int n_obs = publish_unlock(h, f, origin, defer, obs);
    for (int i = 0; i < n_obs; i++)
        if (obs[i].on_ext)
            obs[i].on_ext(obs[i].ctx, name, symbol, type, fields, fields_len, origin);
}

void md_hub_publish_quote(md_hub *h, const md_quote *q, md_origin origin, int defer)
{
    md_hub_publish_quote_at(h, q, origin, 0, defer);
}

void md_hub_publish_bar(md_hub *h, const char *symbol, md_interval iv, const md_bar *b,
                        md_origin origin, int defer)
{
    md_hub_publish_bar_at(h, symbol, iv, b, origin, 0, defer);
}

void md_hub_publish_ext(md_hub *h, int ch, const char *symbol, const char *type, const char *fields,
                        size_t fields_len, md_origin origin, int defer)
{
    md_hub_publish_ext_at(h, ch, symbol, type, fields, fields_len, origin, 0, defer);
}

void md_hub_set_sequencer(md_hub *h, const md_hub_sequencer *sq)
{
    pthread_mutex_lock(&h->lock);
    if (sq)
        h->sequencer = *sq, h->sequenced = 1;
    else
        memset(&h->sequencer, 0, sizeof h->sequencer);
    pthread_mutex_unlock(&h->lock);
}

static _Thread_local int *flush_owed;
static _Thread_local int64_t flush_hold_until_ns;

void md_hub_hold_flushes_for(int *owed, int64_t max_ns)
{
    flush_owed = owed;
    flush_hold_until_ns = owed ? md_mono_ns() + max_ns : 0;
}

void md_hub_hold_flushes(int *owed)
{
    md_hub_hold_flushes_for(owed, MD_HUB_HOLD_MAX_NS);
}

void md_hub_flush(md_hub *h)
{
    if (flush_owed && md_mono_ns() < flush_hold_until_ns) {
        *flush_owed = 1;
        return;
    }
    pthread_mutex_lock(&h->lock);
    for (md_hub_shard *sh = h->shards; sh; sh = sh->next) {
        int wake = 0;
        pthread_mutex_lock(&sh->lock);
        if (sh->wake_due && !sh->woken) {
            sh->woken = 1;
            wake = 1;
        }
        sh->wake_due = 0;
        pthread_mutex_unlock(&sh->lock);
        if (wake && sh->wake) sh->wake(sh->wake_ctx);
    }
    pthread_mutex_unlock(&h->lock);
}

/* -- the writer listener ------------------------------------------------------------------- */

/* What this instance derived from other ticks (live bars) is not relayed; everything else
 * its writer accepted is. */
static md_origin hub_origin(md_write_origin w)
{
    return w == MD_WRITE_DERIVED ? MD_ORIGIN_DERIVED : MD_ORIGIN_LOCAL;
}

static void on_writer_quote(void *ctx, md_write_origin origin, const md_quote *q)
{
    int snapshot = origin == MD_WRITE_FETCH || origin == MD_WRITE_POLL;
    md_hub_publish_quote(ctx, q,
                         (md_origin)(hub_origin(origin) | (snapshot ? MD_ORIGIN_SNAPSHOT : 0)), 1);
}

static void on_writer_bars(void *ctx, md_write_origin origin, const char *symbol, md_interval iv,
                           const md_bar *bars, size_t n)
{
    md_origin o = hub_origin(origin);
    for (size_t i = 0; i < n; i++) md_hub_publish_bar(ctx, symbol, iv, &bars[i], o, 1);
}

static void on_writer_commit(void *ctx)
{
    md_hub_flush(ctx);
}

void md_hub_attach_writer(md_hub *h, md_writer *w)
{
    md_writer_listener l;
    memset(&l, 0, sizeof l);
    l.on_quote = on_writer_quote;
    l.on_bars = on_writer_bars;
    l.on_commit = on_writer_commit;
    l.ctx = h;
    l.stage = MD_LISTEN_PUBLISH;
    md_writer_add_listener(w, &l);
}

/* -- shards, replay, stats ----------------------------------------------------------------- */

void md_hub__add_shard(md_hub *h, md_hub_shard *sh)
{
    pthread_mutex_lock(&h->lock);
    sh->next = h->shards;
    h->shards = sh;
    pthread_mutex_unlock(&h->lock);
}

void md_hub__remove_shard(md_hub *h, md_hub_shard *sh)
{
    pthread_mutex_lock(&h->lock);
    for (md_hub_shard **p = &h->shards; *p; p = &(*p)->next) {
        if (*p == sh) {
            *p = sh->next;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void md_hub__last(md_hub *h, uint64_t *last, uint64_t *last_ord)
{
    pthread_mutex_lock(&h->lock);
    *last = h->seq;
    *last_ord = h->ord;
    pthread_mutex_unlock(&h->lock);
}

size_t md_hub__replay(md_hub *h, uint64_t since, int (*keep)(const md_frame *f, void *ctx),
                      void *ctx, md_frame ***out, uint64_t *last, uint64_t *last_ord, int *complete)
{
    size_t n = 0, cap = 0;
    md_frame **v = NULL;
    pthread_mutex_lock(&h->lock);
    *last = h->seq;
    *last_ord = h->ord;
    /* everything after since is held unless some of it left the ring or never came */
    *complete = since <= h->seq && since >= h->evicted && since >= h->hole;
    for (size_t i = 0; i < h->ring_n; i++) {
        md_frame *f = h->ring[(h->ring_head + i) % h->opt.replay_size];
        if (f->seq <= since || !keep(f, ctx)) continue;
        MD_ARRAY_GROW(v, n, cap, 64);
        v[n++] = md_frame_ref(f);
    }
    pthread_mutex_unlock(&h->lock);
    *out = v;
    return n;
}

uint64_t md_hub__session_opened(md_hub *h)
{
    atomic_fetch_add(&h->sessions, 1);
    return atomic_fetch_add(&h->session_ids, 1) + 1;
}

void md_hub__session_closed(md_hub *h)
{
    atomic_fetch_sub(&h->sessions, 1);
}

void md_hub_get_stats(md_hub *h, md_hub_stats *st)
{
    pthread_mutex_lock(&h->lock);
    st->published = h->published;
    st->last_seq = h->seq;
    st->replay_n = h->ring_n;
    st->replay_first = h->ring_n ? h->ring[h->ring_head]->seq : 0;
    st->complete_from = h->evicted > h->hole ? h->evicted : h->hole;
    st->sequenced = h->sequenced;
    pthread_mutex_unlock(&h->lock);
    st->sessions = atomic_load(&h->sessions);
}

void md_hub_set_health_ext(md_hub *h, void (*fn)(void *ctx, md_buf *out), void *ctx)
{
    pthread_mutex_lock(&h->lock);
    h->health_fn = fn;
    h->health_ctx = ctx;
    pthread_mutex_unlock(&h->lock);
}

void md_hub_render_health(md_hub *h, md_buf *b)
{
    md_hub_stats st;
    md_hub_get_stats(h, &st);
    md_buf_puts(b, md_hub_degraded(h) ? "{\"status\":\"degraded\"" : "{\"status\":\"ok\"");
    md_json_str(b, "instance", h->instance);
    md_json_int(b, "clients", (int64_t)st.sessions);
    md_json_int(b, "published", (int64_t)st.published);
    md_json_int(b, "seq", (int64_t)st.last_seq);
    md_json_str(b, "sequence", st.sequenced ? "deployment" : "instance");
    md_buf_puts(b, ",\"replay\":{\"first_seq\":");
    md_buf_int(b, (int64_t)st.replay_first);
    md_json_int(b, "messages", (int64_t)st.replay_n);
    md_json_int(b, "complete_after", (int64_t)st.complete_from);
    md_buf_putc(b, '}');
    pthread_mutex_lock(&h->lock);
    if (h->health_fn) h->health_fn(h->health_ctx, b);
    pthread_mutex_unlock(&h->lock);
    md_buf_putc(b, '}');
}

void md_hub_set_degraded(md_hub *h, int degraded)
{
    atomic_store(&h->degraded, degraded ? 1 : 0);
}

void md_hub_set_stall_probe(md_hub *h, int (*stalled)(void *ctx))
{
    pthread_mutex_lock(&h->lock);
    h->stall_fn = stalled;
    pthread_mutex_unlock(&h->lock);
}

int md_hub_degraded(md_hub *h)
{
    if (atomic_load(&h->degraded)) return 1;
    pthread_mutex_lock(&h->lock);
    int stalled = h->stall_fn && h->stall_fn(h->health_ctx);
    pthread_mutex_unlock(&h->lock);
    return stalled;
}
