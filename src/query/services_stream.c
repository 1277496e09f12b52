/* services_stream.c - the streaming part of md_services (services.h): hub, live bars,
 * Redis relay. */
#include "query/services_int.h"

#include "core/mem.h"
#include "stream/hub.h"
#include "stream/livebar.h"
#include "stream/market.h"
#include "stream/relay.h"

struct md_svc_stream {
    md_services *svc;
    md_livebar *livebars;
    md_relay *relay;
    md_stream_adjust *adjust; /* bar.<iv>@splits|all */
    md_market *market;        /* market.<MIC> */
};

int md_services__stream_open(md_services *svc, md_svc_stream **out, md_error *err)
{
    const md_config *cfg = svc->cfg;
    *out = NULL;
    if (!cfg->stream_enabled) return 0;
    md_services_raise_fd_limit();
    md_svc_stream *cs = md_calloc(1, sizeof *cs);
    cs->svc = svc;
    md_hub_options ho;
    md_hub_options_from_config(&ho, cfg);
    svc->hub = md_hub_new(&ho);
    cs->adjust = md_stream_adjust_new(svc, svc->hub);
    cs->market = md_market_new(svc->hub, cfg->stream_market_clock_offset_s);
    if (cfg->stream_live_bars) {
        md_livebar_options lo = {.hub = svc->hub,
                                 .writer = svc->writer,
                                 .delay_ms = cfg->stream_live_bar_delay_ms,
                                 .thread = 1};
        cs->livebars = md_livebar_new(&lo);
    }
    if (cfg->redis && *cfg->redis) {
        char ns[200]; /* the deployment's: pub/sub ignores the database number */
        md_services__redis_namespace(cfg, ns, sizeof ns);
        md_relay_options ro = {.channel = cfg->stream_redis_channel, .ns = ns, .hub = svc->hub};
        md_redis_options_from_config(&ro.redis, cfg);
        if (md_relay_start(&ro, &cs->relay, err) != 0) {
            *out = cs; /* the caller closes it */
            return err ? err->rc : MD_ECONFIG;
        }
    }
    *out = cs;
    return 0;
}

void md_services__stream_stop(md_svc_stream *cs)
{
    if (!cs) return;
    md_relay_free(cs->relay); /* nothing arrives from other instances any more */
    cs->relay = NULL;
    md_livebar_free(cs->livebars); /* open live bars stay open: they were not complete */
    cs->livebars = NULL;
}

md_livebar *md_services__stream_livebar(md_svc_stream *cs)
{
    return cs ? cs->livebars : NULL;
}

void md_services__stream_close(md_svc_stream *cs)
{
    if (!cs) return;
    md_services__stream_stop(cs);
    md_market_free(cs->market); /* the sessions are gone: nothing releases any more */
    md_stream_adjust_free(cs->adjust);
    md_hub_free(cs->svc->hub);
    cs->svc->hub = NULL;
    md_free(cs);
}
