/* pipeline.c - the pipeline's parts put together (pipeline.h): its workers, live indicators
 * (live.c) and screens (screen.c). */
#include "pipeline/pipeline_int.h"

#include "core/log.h"
#include "core/mem.h"
#include "query/services.h"

#include <string.h>

#define PIPELINE_WORKERS 2 /* warm-ups and bar feeds: store reads, off the event loops */

struct md_pipeline {
    md_services *svc;
    md_workq *workers;
    md_live *live;
    md_screens *screens;
};

int md_pipeline_new(md_services *svc, md_pipeline **out, md_error *err)
{
    const md_config *cfg = svc->cfg;
    *out = NULL;
    if (!cfg->pipeline_enabled) {
        if (cfg->n_pipeline_jobs)
            MD_WARN("pipeline",
                    "pipeline.enabled is false: the %zu jobs of pipeline.jobs do not run",
                    cfg->n_pipeline_jobs);
        return 0;
    }
    md_pipeline *pl = md_calloc(1, sizeof *pl);
    pl->svc = svc;
    int rc = md_screens_new(svc, &pl->screens, err);
    if (rc) {
        md_free(pl);
        return rc;
    }
    if (svc->hub) {
        pl->workers = md_workq_new(PIPELINE_WORKERS, "pipeline");
        md_live_options lo = {.svc = svc,
                              .workers = pl->workers,
                              .max_series = (size_t)cfg->pipeline_max_live,
                              .partial_ms = cfg->pipeline_partial_ms,
                              .livebars = md_services_livebar(svc)};
        pl->live = md_live_new(&lo);
    }
    *out = pl;
    return 0;
}

int md_pipeline_check(const md_config *cfg, md_error *err)
{
    return cfg->pipeline_enabled ? md_screens_check(cfg, err) : 0;
}

int md_pipeline_start(md_pipeline *pl, md_error *err)
{
    return pl ? md_screens_start(pl->screens, err) : 0;
}

void md_pipeline_stop(md_pipeline *pl)
{
    if (!pl) return;
    md_screens_stop(pl->screens);
    if (pl->live) md_live_stop(pl->live);
    md_workq_free(pl->workers); /* queued warm-ups and bar feeds finish (they read live bars,
                                   which md_services_quiesce frees) */
    pl->workers = NULL;
}

void md_pipeline_free(md_pipeline *pl)
{
    if (!pl) return;
    md_pipeline_stop(pl);
    md_screens_free(pl->screens);
    md_live_free(pl->live);
    md_free(pl);
}

int md_pipeline_screens_json(md_pipeline *pl, const md_config *cfg, md_buf *out, md_error *err)
{
    return md_screens_list_json(pl ? pl->screens : NULL, cfg, out, err);
}

int md_pipeline_screen_json(md_pipeline *pl, const char *name, md_buf *out, md_error *err)
{
    return md_screens_get_json(pl ? pl->screens : NULL, name, out, err);
}

int md_pipeline_run_screen(md_pipeline *pl, const char *name, md_error *err)
{
    return md_screens_run(pl ? pl->screens : NULL, name, err);
}

void md_pipeline_get_stats(md_pipeline *pl, md_pipeline_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!pl) return;
    if (pl->live) md_live_get_stats(pl->live, st);
    st->screens = md_screens_count(pl->screens);
}

void md_pipeline_render_health(md_pipeline *pl, md_buf *out)
{
    md_pipeline_stats st;
    md_pipeline_get_stats(pl, &st);
    md_buf_puts(out, ",\"pipeline\":{\"status\":");
    md_buf_puts(out, pl ? "\"ok\"" : "\"disabled\"");
    md_buf_puts(out, ",\"live_indicators\":");
    md_buf_int(out, (int64_t)st.live_series);
    md_buf_puts(out, ",\"warming\":");
    md_buf_int(out, (int64_t)st.warming);
    md_buf_puts(out, ",\"values\":");
    md_buf_int(out, (int64_t)st.values);
    md_buf_puts(out, ",\"partial_values\":");
    md_buf_int(out, (int64_t)st.partial_values);
    md_buf_puts(out, ",\"screens\":");
    md_buf_int(out, (int64_t)st.screens);
    md_buf_putc(out, '}');
}
