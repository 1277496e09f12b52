/* pipeline.h - what runs continuously over the data: live indicators on the stream and
 * scheduled screens. It sits at the query layer: it reads the stored series through query/
 * (the same path as /analytics/{symbol}/indicators, so a live value equals the REST answer
 * for its bar) and publishes through stream/ (extension channels, stream/hub.h).
 *
 *   bar published (any origin) ---> live.c: the series' job (pipeline worker) reads the
 *     (hub observer)                  closed bars from the store, feeds each live indicator
 *                                     one bar (O(1)), publishes "indicator" on ind.<spec>@<iv>
 *   quote published --------------> live.c: forming-bar values ("partial": true), throttled
 *   clock / bar close -------------> screen.c: each job, once per deployment (lease), evaluates
 *                                     its condition over its symbols, stores the result,
 *                                     publishes "screen" enter/leave events on screen.<name>
 *
 * Live indicators (docs/pipeline.md): a series is one spec of one symbol at one interval; its
 * state is shared by every subscriber of every event loop and made when the first one
 * subscribes (warmed up from the stored series on a pipeline worker, never on an event loop),
 * freed when the last leaves. pipeline.max_live_indicators bounds how many exist.
 *
 * Life cycle (cmd_serve; services.h has the rest):
 *   md_services_open, md_pipeline_new (svc->pipeline; handlers and observer on the hub),
 *   md_server_start, md_services_start, md_pipeline_start (the screens' thread) ... serving ...
 *   md_services_stop, md_pipeline_stop (no screen runs any more), server shutdown,
 *   md_services_quiesce, md_server_free, md_pipeline_free (its workers joined, off the hub),
 *   md_services_close. */
#ifndef MD_PIPELINE_PIPELINE_H
#define MD_PIPELINE_PIPELINE_H

#include "core/buf.h"
#include "core/error.h"
#include "query/query.h"

typedef struct md_pipeline md_pipeline;

/* Builds the pipeline of svc from svc->cfg (pipeline.*): the screens of pipeline.jobs with
 * their conditions parsed (MD_ECONFIG "path:line: pipeline.jobs.<name>.condition: column N:
 * ..."), live indicators when svc->hub exists. *out is NULL when pipeline.enabled is false.
 * The caller owns it (md_pipeline_free) and sets svc->pipeline. */
int md_pipeline_new(md_services *svc, md_pipeline **out, md_error *err);
/* The configuration errors md_pipeline_new would report, found from cfg alone, so a command
 * reports a bad pipeline.jobs before it opens the store or binds a port. 0 when
 * pipeline.enabled is false. */
int md_pipeline_check(const md_config *cfg, md_error *err);
/* Starts the screens' schedule (their saved state is read from the store first). */
int md_pipeline_start(md_pipeline *pl, md_error *err);
/* Stops the screens (a run in progress finishes). Idempotent; NULL is fine. */
void md_pipeline_stop(md_pipeline *pl);
/* Stops, joins the pipeline's workers (pending warm-ups and bar feeds finish), leaves the
 * hub. After every stream session is gone (md_server_free). NULL is fine. */
void md_pipeline_free(md_pipeline *pl);

/* GET /analytics/screens: the watchlist of cfg (what "symbols: watchlist" means, and the
 * dashboard's heat map), then every screen, its definition and its last run. pl may be NULL
 * (pipeline disabled: no screens). */
int md_pipeline_screens_json(md_pipeline *pl, const md_config *cfg, md_buf *out, md_error *err);
/* GET /analytics/screens/{name}: the symbols matching now, the values that matched and since
 * when. MD_ENOTFOUND for an unknown name. */
int md_pipeline_screen_json(md_pipeline *pl, const char *name, md_buf *out, md_error *err);
/* Runs screen `name` now on this agent (tests, `mdagent` tooling), outside its schedule and
 * lease. MD_ENOTFOUND for an unknown name. */
int md_pipeline_run_screen(md_pipeline *pl, const char *name, md_error *err);

typedef struct md_pipeline_stats {
    size_t live_series, warming;     /* live indicator series; of which warming up */
    uint64_t values, partial_values; /* values published */
    uint64_t warmups, rewarms;       /* warm-ups, of which after a past bar changed */
    size_t screens;
} md_pipeline_stats;
void md_pipeline_get_stats(md_pipeline *pl, md_pipeline_stats *st);

/* The "pipeline" member of GET /health: ",\"pipeline\":{...}". */
void md_pipeline_render_health(md_pipeline *pl, md_buf *out);

#endif
