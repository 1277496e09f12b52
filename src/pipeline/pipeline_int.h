/* pipeline_int.h - the parts of the pipeline (pipeline.h) and what they share. */
#ifndef MD_PIPELINE_PIPELINE_INT_H
#define MD_PIPELINE_PIPELINE_INT_H

#include "pipeline/pipeline.h"

#include "core/workq.h"

#include <stdint.h>

/* live.c: live indicators (the "ind." extension channels). */
typedef struct md_live md_live;

typedef struct md_live_options {
    md_services *svc;             /* store (the series), hub (channels, bars and quotes) */
    md_workq *workers;            /* where warm-ups and bar feeds run */
    size_t max_series;            /* pipeline.max_live_indicators */
    int64_t partial_ms;           /* pipeline.partial_interval_ms */
    struct md_livebar *livebars;  /* forming bars for partial values; NULL: none */
    int64_t (*now_ms)(void *ctx); /* clock of the partial throttle; NULL: md_mono_ms */
    void *clock_ctx;
} md_live_options;

/* Registers the "ind." handler and a hub observer. Owned by the caller. */
md_live *md_live_new(const md_live_options *o);
/* Schedules no more work (what is queued still runs: join the workers next). */
void md_live_stop(md_live *lv);
/* Leaves the hub (the workers must be joined first: md_workq_free). NULL is fine. */
void md_live_free(md_live *lv);
void md_live_get_stats(md_live *lv, md_pipeline_stats *st);

/* screen.c: the scheduled screens of pipeline.jobs. */
typedef struct md_screens md_screens;
/* Parses every job of cfg's pipeline.jobs without starting anything (MD_ECONFIG as
 * md_screens_new reports it). */
int md_screens_check(const md_config *cfg, md_error *err);
int md_screens_new(md_services *svc, md_screens **out, md_error *err);
int md_screens_start(md_screens *sc, md_error *err);
void md_screens_stop(md_screens *sc);
void md_screens_free(md_screens *sc);
size_t md_screens_count(md_screens *sc);
int md_screens_list_json(md_screens *sc, const md_config *cfg, md_buf *out, md_error *err);
int md_screens_get_json(md_screens *sc, const char *name, md_buf *out, md_error *err);
int md_screens_run(md_screens *sc, const char *name, md_error *err);

#endif
