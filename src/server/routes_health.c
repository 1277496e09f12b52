/* routes_health.c - /health, /health/live, /health/ready, /metrics. */
#include "server/routes.h"

#include "cache/cache.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "core/workq.h"
#include "sources/manager.h"
#include "pipeline/pipeline.h"
#include "stream/hub.h"
#include "query/quality.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int md_route_health_live(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"status\":\"ok\"}");
    return 0;
}

int md_route_health_ready(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_error e;
    if (!svc->ready)
        return md_error_set(err, MD_ENOTREADY, "not ready: starting up or shutting down");
    if (md_store_ping(svc->store, &e) != 0)
        return md_error_set(err, MD_EUNAVAIL, "store unreachable: %s", e.msg);
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"status\":\"ready\"}");
    return 0;
}

/* ,"reads":"replica"|"primary","replica":{...} when a read replica is configured. */
static void render_replica(md_services *svc, md_buf *b)
{
    md_store_replica_stats rs;
    md_store_get_replica_stats(svc->store, &rs);
    if (!rs.attached) return;
    md_json_str(b, "reads", rs.in_use ? "replica" : "primary");
    md_json_key(b, "replica");
    md_buf_puts(b, "{\"status\":");
    md_buf_puts(b, rs.lag_ms < 0 ? "\"down\"" : rs.in_use ? "\"ok\"" : "\"lagging\"");
    md_json_int(b, "lag_ms", rs.lag_ms);
    md_json_int(b, "max_lag_ms", rs.max_lag_ms);
    md_json_int(b, "switches", (int64_t)rs.switches);
    md_json_int(b, "reads", (int64_t)rs.reads);
    md_buf_putc(b, '}');
}

/* The store's background jobs (TimescaleDB policies) as "jobs":[...]; 1 when the last run of
 * one of them failed. */
static int render_jobs(md_services *svc, md_buf *b)
{
    md_store_job *jobs = NULL;
    md_error e;
    int n = md_store_jobs(svc->store, &jobs, &e);
    int failing = 0;
    if (n > 0) {
        md_buf_puts(b, ",\"jobs\":[");
        for (int i = 0; i < n; i++) {
            const md_store_job *j = &jobs[i];
            failing |= j->last_failed;
            md_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
            md_buf_json_str(b, j->name);
            md_buf_puts(b, ",\"id\":");
            md_buf_int(b, j->id);
            md_buf_puts(b, ",\"status\":\"");
            md_buf_puts(b, j->last_failed ? "failed" : j->last_start ? "ok" : "not_run");
            md_buf_puts(b, "\",\"last_run\":");
            if (j->last_start)
                md_buf_ts(b, j->last_start, 1);
            else
                md_buf_puts(b, "null");
            md_buf_puts(b, ",\"last_success\":");
            if (j->last_success)
                md_buf_ts(b, j->last_success, 1);
            else
                md_buf_puts(b, "null");
            md_buf_puts(b, ",\"runs\":");
            md_buf_int(b, j->runs);
            md_buf_puts(b, ",\"failures\":");
            md_buf_int(b, j->failures);
            if (j->last_failed) {
                md_buf_puts(b, ",\"last_error\":");
                md_buf_json_str(b, j->last_error);
            }
            md_buf_putc(b, '}');
        }
        md_buf_putc(b, ']');
    }
    md_free(jobs);
    return failing;
}

int md_route_health(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_error e;
    int64_t t0 = md_mono_ns();
    int store_ok = md_store_ping(svc->store, &e) == 0;
    double store_ms = (double)(md_mono_ns() - t0) / 1e6;
    md_buf jobs;
    md_buf_init(&jobs);
    int jobs_failing = store_ok && render_jobs(svc, &jobs);
    /* sources: degraded when every enabled source has its circuit open */
    size_t src_on = 0, src_open = 0;
    if (svc->sources) {
        for (size_t i = 0; i < md_srcmgr_count(svc->sources); i++) {
            md_srcmgr_info in;
            if (md_srcmgr_info_at(svc->sources, i, &in) != 0 || !in.enabled) continue;
            src_on++;
            src_open += in.circuit == MD_CIRCUIT_OPEN;
        }
    }
    int src_degraded = src_on > 0 && src_open == src_on;
    const char *cache_status = md_cache_status(svc->cache);
    int stream_degraded = svc->hub && md_hub_degraded(svc->hub);
    const char *status =
        !store_ok ? "down"
        : src_degraded || stream_degraded || jobs_failing || strcmp(cache_status, "degraded") == 0
            ? "degraded"
            : "ok";
    md_buf *b = md_http_json(resp, store_ok ? 200 : 503);
    md_buf_puts(b, "{\"status\":\"");
    md_buf_puts(b, status);
    md_buf_puts(b, "\",\"version\":\"" MD_VERSION "\",\"uptime_s\":");
    md_buf_int(b, (md_mono_ms() - svc->started_ms) / 1000);
    md_buf_puts(b, ",\"components\":{\"store\":{\"status\":\"");
    md_buf_puts(b, !store_ok ? "down" : jobs_failing ? "degraded" : "ok");
    md_buf_puts(b, "\",\"kind\":\"");
    md_buf_puts(b, md_store_kind(svc->store));
    md_buf_puts(b, "\",\"latency_ms\":");
    md_buf_num(b, (double)(int64_t)(store_ms * 1000) / 1000);
    if (!store_ok) {
        md_buf_puts(b, ",\"error\":");
        md_buf_json_str(b, e.msg);
    }
    md_buf_append(b, jobs.data, jobs.len);
    md_buf_deinit(&jobs);
    render_replica(svc, b);
    md_buf_puts(b, "},\"cache\":{\"status\":\"");
    md_buf_puts(b, cache_status);
    if (svc->cache) {
        md_cache_stats cs;
        md_cache_get_stats(svc->cache, 0, &cs);
        md_buf_puts(b, "\",\"l1_entries\":");
        md_buf_int(b, (int64_t)cs.l1.entries);
        md_buf_puts(b, ",\"l2\":\"");
        md_buf_puts(b, cs.l2_state);
        if (cs.l2_enabled) {
            md_buf_puts(b, "\",\"breaker\":\"");
            md_buf_puts(b, cs.breaker);
        }
    }
    md_buf_puts(b, "\"},\"sources\":{\"status\":\"");
    md_buf_puts(b, !svc->sources ? "disabled" : src_degraded ? "degraded" : "ok");
    md_buf_puts(b, "\",\"enabled\":");
    md_buf_int(b, (int64_t)src_on);
    md_buf_puts(b, ",\"circuits_open\":");
    md_buf_int(b, (int64_t)src_open);
    md_buf_puts(b, "},\"stream\":");
    if (svc->hub)
        md_hub_render_health(svc->hub, b);
    else
        md_buf_puts(b, "{\"status\":\"disabled\"}");
    md_pipeline_render_health(svc->pipeline, b); /* ,"pipeline":{...} */
    md_buf_puts(b, "}}");
    return 0;
}

/* The process_* figures Prometheus' client libraries export under these names, read from
 * the kernel at each scrape: CPU time (getrusage), resident memory (/proc/self/statm), open
 * descriptors (/proc/self/fd). A figure that cannot be read keeps its last value. */
static void sample_process(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        md_metric_set(MD_M_PROCESS_CPU,
                      (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                          (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    FILE *f = fopen("/proc/self/statm", "r");
    char line[128];
    if (f && fgets(line, sizeof line, f)) { /* "size resident shared ..." in pages */
        char *end;
        (void)strtoull(line, &end, 10);
        unsigned long long rss_pages = strtoull(end, &end, 10);
        if (*end == ' ' || *end == '\n')
            md_metric_set(MD_M_PROCESS_RSS, (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
    }
    if (f) fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int n = -1; /* the directory's own descriptor is listed too */
        for (struct dirent *e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
        md_metric_set(MD_M_PROCESS_FDS, n);
        closedir(d);
    }
}

int md_route_metrics(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    sample_process();
    md_metric_set(MD_M_UPTIME, (double)(md_mono_ms() - svc->started_ms) / 1000.0);
    /* the HPA's saturation signal: requests waiting for a store worker or a fetch thread
     * (slow store or slow providers), as GET /cluster's queue_depth counts them */
    size_t queued = 0;
    if (svc->workers) queued += md_workq_pending(svc->workers);
    if (svc->fetchers) queued += md_workq_pending(svc->fetchers);
    md_metric_set(MD_M_WORKER_QUEUE, (double)queued);
    if (svc->sources) md_srcmgr_update_metrics(svc->sources); /* open -> half-open by time */
    md_quality_gauge_poke(svc->quality); /* deferred grades, seen by the next scrape */
    if (svc->cache) md_cache_sync_metrics(svc->cache);
    md_store_job *jobs = NULL;
    md_error e;
    int n = md_store_jobs(svc->store, &jobs, &e);
    for (int i = 0; i < n; i++) {
        md_metric_set(MD_M_STORE_JOB_FAILED, jobs[i].last_failed ? 1 : 0, jobs[i].name);
        md_metric_set(MD_M_STORE_JOB_SUCCESS, (double)jobs[i].last_success, jobs[i].name);
        md_metric_set(MD_M_STORE_JOB_FAILURES, (double)jobs[i].failures, jobs[i].name);
    }
    md_free(jobs);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    md_metrics_render(&resp->body);
    return 0;
}
