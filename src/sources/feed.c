/* feed.c - the thread that makes an offline source push: it calls the source's step
 * function (simulator.c, replay.c), which hands what is due to the sink, then sleeps until
 * the step it asked for or until md_feed_stop(). Under a lease (md_feed_start_leased) it
 * pushes only while it holds it:
 *
 *   waiting --claim: ours (or no shared store)--> pushing --renew: another agent's--> waiting
 *      ^  \--claim: another agent's: retry in ttl/3        |
 *      +-------------------------------------------------+ (stop: the lease is given back)
 *
 * so that agents relaying their ticks to each other never push the same tick twice. */
#include "sources/offline.h"
#include "sources/manager_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/waiter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

struct md_feed {
    md_source *src;
    md_tick_sink sink; /* wraps the caller's to count */
    md_tick_sink user;
    pthread_t thread;
    md_waiter sleep; /* until the next step or md_feed_stop */
    atomic_uint_fast64_t pushed;
    md_feed_lease lease; /* claim NULL: none */
    char lease_name[48];
    atomic_int running; /* pushing (holds the lease, or needs none) */
};

int64_t md_feed_step(md_source *src, const md_tick_sink *sink, int64_t now_ms)
{
    switch (src->vt->id) {
    case MD_SRC_SIMULATOR: return md_sources__sim_step(src, sink, now_ms);
    case MD_SRC_REPLAY: return md_sources__replay_step(src, sink, now_ms);
    default: return now_ms + 1000;
    }
}

static int count_quotes(void *ctx, md_quote *q, size_t n)
{
    md_feed *f = ctx;
    atomic_fetch_add(&f->pushed, n);
    int rc = f->user.quotes ? f->user.quotes(f->user.ctx, q, n) : 0;
    if (rc < 0)
        MD_WARN("feed", "quotes not stored source=%s code=%s", f->src->vt->name, md_error_code(rc));
    return rc;
}

static int count_bars(void *ctx, const char *symbol, md_interval iv, md_bar *b, size_t n)
{
    md_feed *f = ctx;
    atomic_fetch_add(&f->pushed, n);
    int rc = f->user.bars ? f->user.bars(f->user.ctx, symbol, iv, b, n) : 0;
    if (rc < 0)
        MD_WARN("feed", "bars not stored source=%s symbol=%s code=%s", f->src->vt->name, symbol,
                md_error_code(rc));
    return rc;
}

/* Holds (or tries to take) the lease; 1 when the feed may push now. *recheck_ms: the
 * monotonic time to look at the lease again. */
static int hold_lease(md_feed *f, int *held, int64_t *recheck_ms)
{
    md_feed_lease *l = &f->lease;
    int64_t now = md_mono_ms(), third = l->ttl_ms / 3 > 0 ? l->ttl_ms / 3 : 1;
    if (now < *recheck_ms) return *held;
    *recheck_ms = now + third;
    int r = *held ? l->renew(l->ctx, f->lease_name, l->ttl_ms)
                  : l->claim(l->ctx, f->lease_name, l->ttl_ms);
    if (r == 0) {
        if (*held)
            MD_WARN("feed", "lease lost source=%s: another agent pushes its ticks now",
                    f->src->vt->name);
        *held = 0;
    } else if (r == 1 && !*held) {
        *held = 1;
        MD_INFO("feed", "lease taken source=%s: this agent pushes its ticks", f->src->vt->name);
        if (f->src->vt->id == MD_SRC_REPLAY) md_sources__replay_restart(f->src, md_now_ms());
    } else if (r < 0) {
        *held = 1; /* nobody to share with: push (nothing relays to the others either) */
    }
    return *held;
}

static void *run(void *arg)
{
    md_feed *f = arg;
    int held = f->lease.claim ? 0 : 1;
    int64_t recheck = 0;
    while (!md_waiter_stopped(&f->sleep)) {
        if (f->lease.claim && !hold_lease(f, &held, &recheck)) {
            atomic_store(&f->running, 0);
            md_waiter_wait_until(&f->sleep, recheck);
            continue;
        }
        atomic_store(&f->running, 1);
        int64_t now = md_now_ms();
        int64_t next = md_feed_step(f->src, &f->sink, now);
        /* the step is due on the wall clock; the sleep runs on the monotonic one */
        int64_t wait_ms = next - md_now_ms();
        if (f->lease.claim && md_mono_ms() + wait_ms > recheck) wait_ms = recheck - md_mono_ms();
        if (wait_ms > 0) md_waiter_wait_until(&f->sleep, md_mono_ms() + wait_ms);
    }
    if (f->lease.claim && held) f->lease.release(f->lease.ctx, f->lease_name);
    atomic_store(&f->running, 0);
    return NULL;
}

int md_feed_start(md_source *src, const md_tick_sink *sink, md_feed **out, md_error *err)
{
    return md_feed_start_leased(src, sink, NULL, out, err);
}

int md_feed_running(const md_feed *f)
{
    return f ? atomic_load(&((md_feed *)f)->running) : 0;
}

int md_feed_start_leased(md_source *src, const md_tick_sink *sink, const md_feed_lease *lease,
                         md_feed **out, md_error *err)
{
    if (!src || (src->vt->id != MD_SRC_SIMULATOR && src->vt->id != MD_SRC_REPLAY))
        return md_error_set(err, MD_EINVAL, "only the simulator and replay sources push ticks");
    md_feed *f = md_calloc(1, sizeof *f);
    f->src = src;
    f->user = *sink;
    f->sink = (md_tick_sink){count_quotes, count_bars, f};
    atomic_init(&f->pushed, 0);
    atomic_init(&f->running, 0);
    if (lease && lease->claim && lease->renew && lease->release) {
        f->lease = *lease;
        if (f->lease.ttl_ms < 300) f->lease.ttl_ms = 300;
        snprintf(f->lease_name, sizeof f->lease_name, "feed:%s", src->vt->name);
    }
    md_waiter_init(&f->sleep, NULL);
    if (src->vt->id == MD_SRC_REPLAY) md_sources__replay_restart(src, md_now_ms());
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        md_waiter_deinit(&f->sleep);
        md_free(f);
        return md_error_set(err, MD_EINTERNAL, "cannot start the %s feed thread", src->vt->name);
    }
    MD_INFO("feed", "started source=%s", src->vt->name);
    *out = f;
    return 0;
}

void md_feed_stop(md_feed *f)
{
    if (!f) return;
    md_waiter_stop(&f->sleep);
    pthread_join(f->thread, NULL);
    md_waiter_deinit(&f->sleep);
    md_free(f);
}

uint64_t md_feed_pushed(const md_feed *f)
{
    return f ? atomic_load(&((md_feed *)f)->pushed) : 0;
}
