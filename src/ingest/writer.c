/* writer.c - validate, store, then notify. */
#include "ingest/writer.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_LISTENERS 8

struct md_writer {
    md_store *st;
    md_writer_listener listeners[MAX_LISTENERS];
    int n_listeners;
    int64_t future_tol_s;
};

void md_ingest_result_init(md_ingest_result *r, size_t max_rejects)
{
    memset(r, 0, sizeof *r);
    r->max_rejects = max_rejects;
}

void md_ingest_result_deinit(md_ingest_result *r)
{
    md_free(r->rejects);
    memset(r, 0, sizeof *r);
}

static void add_reject(md_ingest_result *r, size_t index, md_rule rule, const char *msg)
{
    r->rejected++;
    md_metric_add(MD_M_INGEST_REJECTED, 1, md_rule_code(rule));
    if (r->max_rejects && r->n_rejects >= r->max_rejects) return;
    if (r->n_rejects == r->cap_rejects)
        r->rejects = md_realloc(r->rejects, (r->cap_rejects = r->cap_rejects ? r->cap_rejects * 2 : 16) *
                                                sizeof *r->rejects);
    md_reject *x = &r->rejects[r->n_rejects++];
    x->index = index;
    x->rule = rule;
    snprintf(x->msg, sizeof x->msg, "%s", msg);
}

md_writer *md_writer_new(md_store *st)
{
    md_writer *w = md_calloc(1, sizeof *w);
    w->st = st;
    w->future_tol_s = MD_FUTURE_TOLERANCE_S;
    return w;
}

void md_writer_free(md_writer *w)
{
    md_free(w);
}

md_store *md_writer_store(md_writer *w)
{
    return w->st;
}

void md_writer_add_listener(md_writer *w, const md_writer_listener *l)
{
    if (w->n_listeners < MAX_LISTENERS) w->listeners[w->n_listeners++] = *l;
}

void md_writer_set_future_tolerance(md_writer *w, int64_t seconds)
{
    w->future_tol_s = seconds;
}

static void notify_commit(md_writer *w)
{
    for (int l = 0; l < w->n_listeners; l++)
        if (w->listeners[l].on_commit) w->listeners[l].on_commit(w->listeners[l].ctx);
}

int md_writer_ingest_bars(md_writer *w, md_series *series, size_t n_series, int validate_only,
                          md_ingest_result *res, md_error *err)
{
    int64_t now = md_now();
    size_t index = 0;
    for (size_t k = 0; k < n_series; k++) {
        md_bar *bars = (md_bar *)series[k].bars;
        size_t keep = 0;
        for (size_t i = 0; i < series[k].n; i++, index++) {
            md_rule rule;
            md_error e;
            if (md_validate_bar(&bars[i], series[k].iv, now, w->future_tol_s, &rule, &e) != 0) {
                add_reject(res, index, rule, e.msg);
                continue;
            }
            if (keep != i) bars[keep] = bars[i];
            keep++;
        }
        series[k].n = keep;
        res->accepted += keep;
    }
    if (validate_only) return 0;
    size_t total = 0;
    for (size_t k = 0; k < n_series; k++) total += series[k].n;
    if (total == 0) return 0;
    int rc = md_store_put_bars(w->st, series, n_series, err);
    if (rc < 0) {
        md_metric_add(MD_M_STORE_ERRORS, 1, "put_bars");
        return rc;
    }
    res->stored += (size_t)rc;
    md_metric_add(MD_M_STORE_WRITE_ROWS, (double)rc);
    md_metric_add(MD_M_INGEST_ACCEPTED, (double)total, "bar");
    for (int l = 0; l < w->n_listeners; l++) {
        if (!w->listeners[l].on_bars) continue;
        for (size_t k = 0; k < n_series; k++)
            if (series[k].n)
                w->listeners[l].on_bars(w->listeners[l].ctx, series[k].symbol, series[k].iv,
                                        series[k].bars, series[k].n);
    }
    notify_commit(w);
    return 0;
}

int md_writer_check_bar(const md_writer *w, const md_bar *b, md_interval iv, int64_t now,
                        md_rule *rule, md_error *err)
{
    return md_validate_bar(b, iv, now, w->future_tol_s, rule, err);
}

int md_writer_store_checked(md_writer *w, const md_series *series, size_t n_series,
                            const md_load_mark *marks, size_t n_marks, size_t *stored,
                            md_error *err)
{
    size_t total = 0;
    for (size_t k = 0; k < n_series; k++) total += series[k].n;
    if (stored) *stored = 0;
    if (total == 0 && n_marks == 0) return 0;
    int rc = n_marks ? md_store_put_bars_marked(w->st, series, n_series, marks, n_marks, err)
                     : md_store_put_bars(w->st, series, n_series, err);
    if (rc < 0) {
        md_metric_add(MD_M_STORE_ERRORS, 1, "put_bars");
        return rc;
    }
    if (stored) *stored = (size_t)rc;
    if (total == 0) return 0;
    md_metric_add(MD_M_STORE_WRITE_ROWS, (double)rc);
    md_metric_add(MD_M_INGEST_ACCEPTED, (double)total, "bar");
    for (int l = 0; l < w->n_listeners; l++) {
        if (!w->listeners[l].on_bars) continue;
        for (size_t k = 0; k < n_series; k++)
            if (series[k].n)
                w->listeners[l].on_bars(w->listeners[l].ctx, series[k].symbol, series[k].iv,
                                        series[k].bars, series[k].n);
    }
    return 0;
}

int md_writer_ingest_quotes(md_writer *w, md_quote *quotes, size_t n, md_ingest_result *res,
                            md_error *err)
{
    int64_t now = md_now();
    size_t notified = 0;
    for (size_t i = 0; i < n; i++) {
        md_rule rule;
        md_error e;
        if (md_validate_quote(&quotes[i], now, w->future_tol_s, &rule, &e) != 0) {
            add_reject(res, i, rule, e.msg);
            continue;
        }
        int rc = md_store_put_quote(w->st, &quotes[i], err);
        if (rc < 0) {
            md_metric_add(MD_M_STORE_ERRORS, 1, "put_quote");
            if (notified) notify_commit(w); /* what was stored before the error still goes out */
            return rc;
        }
        res->accepted++;
        md_metric_add(MD_M_INGEST_ACCEPTED, 1, "quote");
        if (rc == 0) continue; /* an equal or newer quote is already stored */
        res->stored++;
        notified++;
        for (int l = 0; l < w->n_listeners; l++)
            if (w->listeners[l].on_quote) w->listeners[l].on_quote(w->listeners[l].ctx, &quotes[i]);
    }
    if (notified) notify_commit(w);
    return 0;
}
