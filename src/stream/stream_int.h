/* stream_int.h - what hub.c and session.c share inside the stream module. */
#ifndef MD_STREAM_STREAM_INT_H
#define MD_STREAM_STREAM_INT_H

#include "core/dict.h"
#include "stream/hub.h"
#include "stream/session.h"

#include <pthread.h>
#include <stdatomic.h>

struct md_hub_shard {
    md_hub *hub;
    void (*wake)(void *ctx);
    void *wake_ctx;
    struct md_hub_shard *next; /* in the hub's list (hub lock) */

    /* inbox: frames published and not drained yet (shard lock) */
    pthread_mutex_t lock;
    md_frame **inbox;
    size_t n_inbox, cap_inbox;
    int woken;    /* wake() called since the last drain */
    int wake_due; /* deferred messages waiting for md_hub_flush */

    /* loop thread only */
    md_frame **spare; /* the other half of the inbox double buffer */
    size_t cap_spare;
    md_dict topics; /* (symbol, channel) -> topic (session.c) */
    struct md__msg *free_msgs;
    size_t n_sessions;
};

/* Takes the hub lock and returns the frames of the replay buffer with since < seq for which
 * keep(f, ctx) says yes, each with a reference for the caller; *last gets the last seq,
 * *last_ord the last frame's ord (md_frame) and *complete 0 when messages after since are
 * no longer held. */
size_t md_hub__replay(md_hub *h, uint64_t since, int (*keep)(const md_frame *f, void *ctx),
                      void *ctx, md_frame ***out, uint64_t *last, uint64_t *last_ord,
                      int *complete);
/* The last seq and the last frame's ord, read together. */
void md_hub__last(md_hub *h, uint64_t *last, uint64_t *last_ord);
/* Registers / unregisters a shard (hub lock). */
void md_hub__add_shard(md_hub *h, md_hub_shard *sh);
void md_hub__remove_shard(md_hub *h, md_hub_shard *sh);
/* The handler of an extension channel's prefix, copied into *out; 0, or MD_ECHANNEL naming
 * the channel when no handler serves it. */
int md_hub__xhandler(md_hub *h, const char *channel, md_hub_xhandler *out, md_error *err);
/* A shard's topic on extension channel ch was created (+1) or removed (-1): a number with
 * topics is never given to another name (md_hub_xchannel). Fixed channels: nothing. */
void md_hub__xchannel_ref(md_hub *h, int ch, int delta);
/* Session counter for stats and ids. */
uint64_t md_hub__session_opened(md_hub *h);
void md_hub__session_closed(md_hub *h);

#endif
