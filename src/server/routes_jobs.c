/* routes_jobs.c - POST /backfill (API key), GET /jobs/{id} and DELETE /jobs/{id} (API key).
 *
 *   POST /backfill {"symbols":["AAPL","MSFT"],"interval":"1m","start":"2024-01-01",
 *                   "end":"2024-03-01","source":"polygon"?}
 *     -> 202 {"job_id":"bf-...","state":"queued","chunks_total":N,"existing":false}
 *        (an identical job still queued, running or paused: that job, "existing":true)
 *   GET /jobs/{id}
 *     -> {"job_id","state","interval","start","end","source","symbols":[...],
 *         "chunks_total","chunks_done","chunks_failed","progress","rows","rows_fetched",
 *         "rows_rejected","errors","last_error","error_details":[{"symbol","chunks_failed",
 *         "message","missing":[{"start","end"}]}],"eta_s","created_at","updated_at",
 *         "finished_at"}
 *   DELETE /jobs/{id} -> 200 the job, "state":"cancelled" (409 conflict when it had ended)
 * The work itself is ingest/backfill.c. */
#include "server/routes.h"

#include "core/buf.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "ingest/backfill.h"

#include <jansson.h>
#include <string.h>

/* A time field: an RFC 3339 / date string or integer epoch seconds. */
static int time_field(json_t *body, const char *name, int64_t *out, int required, md_error *err)
{
    json_t *v = json_object_get(body, name);
    if (!v) {
        if (required) return md_error_set(err, MD_ETIMERANGE, "\"%s\" is required", name);
        return 0;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        if (*out < MD_TS_MIN || *out > MD_TS_MAX)
            return md_error_set(err, MD_ETIMERANGE, "\"%s\" is out of range", name);
        return 0;
    }
    if (!json_is_string(v))
        return md_error_set(err, MD_ETIMERANGE, "\"%s\" must be a time string or epoch seconds",
                            name);
    md_error e2;
    if (md_time_parse_str(json_string_value(v), out, &e2) != 0)
        return md_error_set(err, MD_ETIMERANGE, "\"%s\": %s", name, e2.msg);
    return 0;
}

/* The fields a backfill body takes ("symbol": one symbol, as "symbols"); any other, such as a
 * typo ("sourcex"), is refused as an unknown query parameter is, never silently ignored. */
static const char *const backfill_fields[] = {"symbols", "symbol", "interval",
                                              "start",   "end",    "source"};

static int check_fields(json_t *body, md_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t k = 0;
        while (k < MD_ARRAY_LEN(backfill_fields) && strcmp(key, backfill_fields[k]) != 0) k++;
        if (k == MD_ARRAY_LEN(backfill_fields))
            return md_error_set(err, MD_EPARAM,
                                "unknown field \"%.40s\" (a backfill takes symbols, interval, "
                                "start, end and source)",
                                key);
    }
    return 0;
}

static int parse_backfill(md_services *svc, json_t *body, md_job_spec *spec,
                          char (**syms)[MD_SYMBOL_MAX + 1], const char ***ptrs, md_error *err)
{
    if (!json_is_object(body)) return md_error_set(err, MD_EJSON, "the body must be a JSON object");
    int rc = check_fields(body, err);
    if (rc) return rc;
    json_t *list = json_object_get(body, "symbols");
    if (list && json_object_get(body, "symbol"))
        return md_error_set(err, MD_EPARAM, "give \"symbols\" or \"symbol\", not both");
    if (!list) list = json_object_get(body, "symbol");
    size_t n;
    if (json_is_array(list))
        n = json_array_size(list);
    else if (json_is_string(list))
        n = 1;
    else
        return md_error_set(err, MD_EPARAM, "\"symbols\" must be an array of symbols");
    if (n == 0) return md_error_set(err, MD_EPARAM, "\"symbols\" is empty");
    if (n > (size_t)svc->cfg->backfill_max_symbols)
        return md_error_set(err, MD_EPARAM, "at most %lld symbols per backfill, got %zu",
                            (long long)svc->cfg->backfill_max_symbols, n);
    *syms = md_calloc(n, sizeof **syms);
    *ptrs = md_calloc(n, sizeof **ptrs);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(list) ? json_array_get(list, i) : list;
        if (!json_is_string(s))
            return md_error_set(err, MD_ESYMBOL, "symbols[%zu] is not a string", i);
        rc = md_symbol_normalize_str(json_string_value(s), (*syms)[i], err);
        if (rc) return rc;
        (*ptrs)[i] = (*syms)[i];
    }
    spec->symbols = *ptrs;
    spec->n_symbols = n;
    spec->iv = MD_IV_1D;
    json_t *iv = json_object_get(body, "interval");
    if (iv) {
        if (!json_is_string(iv))
            return md_error_set(err, MD_EINTERVAL, "\"interval\" must be a string");
        rc = md_interval_parse(json_string_value(iv), &spec->iv, err);
        if (rc) return rc;
    }
    spec->end = md_now();
    rc = time_field(body, "start", &spec->start, 1, err);
    if (rc == 0) rc = time_field(body, "end", &spec->end, 0, err);
    if (rc) return rc;
    if (spec->end <= spec->start)
        return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    if (spec->start > md_now())
        return md_error_set(err, MD_ETIMERANGE, "start is in the future: no bars to fetch");
    spec->source = -1;
    json_t *src = json_object_get(body, "source");
    if (src && !json_is_null(src)) {
        int id = json_is_string(src) ? md_source_parse(json_string_value(src)) : -1;
        if (id < 0 || id == MD_SRC_UNKNOWN)
            return md_error_set(err, MD_EPARAM, "\"source\": unknown source '%.20s'",
                                json_is_string(src) ? json_string_value(src) : "(not a string)");
        /* a source that cannot be asked (none configured, not listed, disabled) is 503
         * no_healthy_source, as /historical?source= answers; not a provider at all is 400 */
        rc = md_query_source_check(svc, id, 0, err);
        if (rc) return rc;
        spec->source = id;
    }
    return 0;
}

int md_route_backfill(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!req->body || !req->body_len) return md_error_set(err, MD_EJSON, "empty request body");
    json_error_t je;
    json_t *body = json_loadb(req->body, req->body_len, 0, &je);
    if (!body) return md_error_set(err, MD_EJSON, "invalid JSON: %s (line %d)", je.text, je.line);
    md_job_spec spec;
    memset(&spec, 0, sizeof spec);
    char(*syms)[MD_SYMBOL_MAX + 1] = NULL;
    const char **ptrs = NULL;
    int rc = parse_backfill(svc, body, &spec, &syms, &ptrs, err);
    json_decref(body);
    char id[MD_JOB_ID_MAX];
    if (rc == 0 && !svc->backfill)
        rc = md_error_set(err, MD_ENOSOURCE, "no sources are configured: nothing to backfill from");
    if (rc == 0) rc = md_backfill_submit(svc->backfill, &spec, NULL, id, err);
    if (rc >= 0) {
        md_job_info info;
        md_error e2;
        md_buf *b = md_http_json(resp, 202);
        md_buf_puts(b, "{\"job_id\":");
        md_buf_json_str(b, id);
        if (md_backfill_get(svc->backfill, id, &info, &e2) == 0) {
            md_buf_printf(b, ",\"state\":\"%s\",\"chunks_total\":%lld",
                          md_job_state_name(info.state), (long long)info.chunks_total);
            md_job_info_deinit(&info);
        }
        md_buf_printf(b, ",\"existing\":%s}", rc == 1 ? "true" : "false");
    }
    md_free(syms);
    md_free(ptrs);
    return rc < 0 ? rc : 0;
}

static void time_or_null(md_buf *b, int64_t t)
{
    if (t)
        md_buf_ts(b, t, 1);
    else
        md_buf_puts(b, "null");
}

/* A job as GET /jobs/{id} shows it. */
static void render_job(md_buf *b, const md_job_info *i)
{
    md_buf_puts(b, "{\"job_id\":");
    md_buf_json_str(b, i->id);
    md_buf_printf(b,
                  ",\"state\":\"%s\",\"interval\":\"%s\",\"start\":", md_job_state_name(i->state),
                  md_interval_name(i->iv));
    md_buf_ts(b, i->start, 1);
    md_buf_puts(b, ",\"end\":");
    md_buf_ts(b, i->end, 1);
    md_buf_puts(b, ",\"source\":");
    if (i->source >= 0)
        md_buf_json_str(b, md_source_name(i->source));
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"symbols\":[");
    for (size_t k = 0; k < i->n_symbols; k++) {
        if (k) md_buf_putc(b, ',');
        md_buf_json_str(b, i->symbols[k].symbol);
    }
    int64_t ended = i->chunks_done + i->chunks_failed;
    md_buf_printf(b,
                  "],\"chunks_total\":%lld,\"chunks_done\":%lld,\"chunks_failed\":%lld,"
                  "\"progress\":",
                  (long long)i->chunks_total, (long long)i->chunks_done,
                  (long long)i->chunks_failed);
    md_buf_num(b, i->chunks_total ? (double)ended / (double)i->chunks_total : 1.0);
    md_buf_printf(b,
                  ",\"rows\":%lld,\"rows_fetched\":%lld,\"rows_rejected\":%lld,\"errors\":%lld,"
                  "\"last_error\":",
                  (long long)i->stored, (long long)i->fetched, (long long)i->rejected,
                  (long long)i->errors);
    if (i->last_error[0])
        md_buf_json_str(b, i->last_error);
    else
        md_buf_puts(b, "null");
    /* every symbol that failed (a job holds at most backfill.max_symbols): no list is cut */
    md_buf_puts(b, ",\"error_details\":[");
    int first = 1;
    for (size_t k = 0; k < i->n_symbols; k++) {
        if (!i->symbols[k].last_error[0] && !i->symbols[k].chunks_failed) continue;
        if (!first) md_buf_putc(b, ',');
        first = 0;
        md_buf_puts(b, "{\"symbol\":");
        md_buf_json_str(b, i->symbols[k].symbol);
        md_buf_printf(
            b, ",\"chunks_failed\":%lld,\"message\":", (long long)i->symbols[k].chunks_failed);
        md_buf_json_str(b, i->symbols[k].last_error);
        /* the ranges to ask again: the chunks given up on, adjacent ones merged */
        md_buf_puts(b, ",\"missing\":[");
        int first_gap = 1;
        for (size_t g = 0; g < i->n_missing; g++) {
            if (i->missing[g].symbol != k) continue;
            md_buf_puts(b, first_gap ? "{\"start\":" : ",{\"start\":");
            first_gap = 0;
            md_buf_ts(b, i->missing[g].start, 1);
            md_buf_puts(b, ",\"end\":");
            md_buf_ts(b, i->missing[g].end, 1);
            md_buf_putc(b, '}');
        }
        md_buf_puts(b, "]}");
    }
    md_buf_puts(b, "],\"eta_s\":");
    if (i->eta_s >= 0)
        md_buf_printf(b, "%.0f", i->eta_s);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"created_at\":");
    time_or_null(b, i->created_at);
    md_buf_puts(b, ",\"updated_at\":");
    time_or_null(b, i->updated_at);
    md_buf_puts(b, ",\"finished_at\":");
    time_or_null(b, i->finished_at);
    md_buf_putc(b, '}');
}

int md_route_job(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!svc->backfill) return md_error_set(err, MD_ENOTFOUND, "no job '%.40s'", req->capture);
    md_job_info i;
    int rc = md_backfill_get(svc->backfill, req->capture, &i, err);
    if (rc) return rc;
    render_job(md_http_json(resp, 200), &i);
    md_job_info_deinit(&i);
    return 0;
}

int md_route_job_cancel(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    if (!svc->backfill) return md_error_set(err, MD_ENOTFOUND, "no job '%.40s'", req->capture);
    md_job_info i;
    int rc = md_backfill_cancel(svc->backfill, req->capture, &i, err);
    if (rc) return rc;
    render_job(md_http_json(resp, 200), &i);
    md_job_info_deinit(&i);
    return 0;
}
