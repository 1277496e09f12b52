/* store.c - backend selection by URL and the backend-independent operations. */
#include "store/store_int.h"

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"

#include <string.h>

void md_store_options_default(md_store_options *o)
{
    memset(o, 0, sizeof *o);
    o->pool_size = 4;
    o->busy_timeout_ms = 5000;
    o->batch_rows = 50000;
    o->read_only = 0;
    o->pg_timescaledb = -1;
    o->pg_chunk_days = 7;
    o->pg_compress_after_days = 30;
    o->pg_retention_days = 0;
    o->pg_continuous_aggs = 1;
    o->pg_partition_span = MD_PG_SPAN_MONTH;
    o->pg_partitions_ahead = 3;
    o->pg_connect_timeout_s = 5;
    o->pg_direct_copy = 1;
}

int md_store_options_from_config(md_store_options *o, const md_config *cfg, md_error *err)
{
    md_store_options_default(o);
    o->pool_size = (int)cfg->store_pool_size;
    o->busy_timeout_ms = (int)cfg->store_busy_timeout_ms;
    o->batch_rows = (int)cfg->store_batch_rows;
    const char *sync = cfg->sqlite_synchronous ? cfg->sqlite_synchronous : "normal";
    if (strcmp(sync, "full") == 0)
        o->sqlite_sync_full = 1;
    else if (strcmp(sync, "normal") != 0)
        return md_error_set(err, MD_ECONFIG,
                            "store.sqlite_synchronous: '%.20s' is not normal or full", sync);
    const char *t = cfg->pg_timescaledb ? cfg->pg_timescaledb : "auto";
    if (strcmp(t, "auto") == 0)
        o->pg_timescaledb = -1;
    else if (strcmp(t, "on") == 0 || strcmp(t, "true") == 0)
        o->pg_timescaledb = 1;
    else if (strcmp(t, "off") == 0 || strcmp(t, "false") == 0)
        o->pg_timescaledb = 0;
    else
        return md_error_set(err, MD_ECONFIG,
                            "postgresql.timescaledb: '%.20s' is not auto, on or off", t);
    static const char *spans[] = {"day", "week", "month", "year"};
    const char *sp = cfg->pg_partition_span ? cfg->pg_partition_span : "month";
    o->pg_partition_span = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(sp, spans[i]) == 0) o->pg_partition_span = i;
    if (o->pg_partition_span < 0)
        return md_error_set(err, MD_ECONFIG,
                            "postgresql.partition_span: '%.20s' is not day, week, month or year",
                            sp);
    o->pg_chunk_days = (int)cfg->pg_chunk_days;
    o->pg_compress_after_days = (int)cfg->pg_compress_after_days;
    o->pg_retention_days = (int)cfg->pg_retention_days;
    o->pg_continuous_aggs = cfg->pg_continuous_aggregates;
    o->pg_partitions_ahead = (int)cfg->pg_partitions_ahead;
    o->pg_connect_timeout_s = (int)cfg->pg_connect_timeout_s;
    o->pg_direct_copy = cfg->pg_direct_copy;
    return 0;
}

int md_store_open(const char *url, const md_store_options *opt, md_store **out, md_error *err)
{
    md_store_options def;
    if (!opt) {
        md_store_options_default(&def);
        opt = &def;
    }
    const md_store_ops *ops = NULL;
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        ops = &md_store_pg_ops;
    } else if (strncmp(url, "sqlite:", 7) == 0 || !strstr(url, "://")) {
        ops = &md_store_sqlite_ops;
    } else {
        return md_error_set(err, MD_ECONFIG,
                            "unknown store URL '%.40s' (want sqlite:PATH or "
                            "postgresql://...)",
                            url);
    }
    md_store *st = NULL;
    int rc = ops->open(url, opt, &st, err);
    if (rc) return rc;
    st->ops = ops;
    if (!st->url_redacted) {
        char red[512];
        md_log_redact(url, red, sizeof red);
        st->url_redacted = md_strdup(red);
    }
    *out = st;
    return 0;
}

void md_store_close(md_store *st)
{
    if (!st) return;
    char *u = st->url_redacted;
    st->ops->close(st);
    md_free(u);
}

const char *md_store_kind(const md_store *st)
{
    return st->ops->kind;
}

const char *md_store_url_redacted(const md_store *st)
{
    return st->url_redacted;
}

int md_store_ping(md_store *st, md_error *err)
{
    return st->ops->ping(st, err);
}

int md_store_put_bars(md_store *st, const md_series *series, size_t n, md_error *err)
{
    return st->ops->put_bars(st, series, n, err);
}

int md_store_get_bars(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                      size_t limit, md_bar_vec *out, md_error *err)
{
    return st->ops->get_bars(st, symbol, iv, start, end, limit, out, err);
}

int md_store_scan_bars(md_store *st, const char *symbol, md_interval iv, int64_t from, size_t limit,
                       md_bar_vec *out, md_error *err)
{
    return st->ops->scan_bars(st, symbol, iv, from, limit, out, err);
}

int md_store_get_bars_agg(md_store *st, const char *symbol, md_interval iv, int64_t start,
                          int64_t end, size_t limit, md_bar_vec *out, md_interval *used_iv,
                          md_error *err)
{
    int rc = st->ops->get_bars(st, symbol, iv, start, end, limit, out, err);
    if (rc != 0) {
        if (used_iv) *used_iv = iv;
        return rc;
    }
    /* Nothing stored at this interval: aggregate the coarsest finer one that has bars. */
    for (int f = (int)iv - 1; f >= 0; f--) {
        if (!md_interval_divides((md_interval)f, iv)) continue;
        /* A bucket is reported only when it starts inside [start, end): the fine bars of a
         * bucket that starts before `start` are not read, and its partial aggregate is
         * dropped below. The last bucket may be partial (still forming). */
        int64_t s = start, e = end;
        if (st->ops->get_bars_agg) {
            int had_input = 0;
            rc = st->ops->get_bars_agg(st, symbol, iv, (md_interval)f, s, e, limit, out, &had_input,
                                       err);
            if (rc < 0) return rc;
            if (had_input) {
                if (used_iv) *used_iv = (md_interval)f;
                return rc;
            }
            continue;
        }
        md_bar_vec fine;
        md_bar_vec_init(&fine);
        rc = st->ops->get_bars(st, symbol, (md_interval)f, s, e, 0, &fine, err);
        if (rc < 0) {
            md_bar_vec_deinit(&fine);
            return rc;
        }
        if (rc == 0) {
            md_bar_vec_deinit(&fine);
            continue;
        }
        size_t before = out->n;
        md_bars_aggregate(fine.v, fine.n, iv, out);
        md_bar_vec_deinit(&fine);
        /* drop buckets that start before the asked start (partial first bucket) */
        size_t drop = 0;
        while (before + drop < out->n && out->v[before + drop].ts < start) drop++;
        if (drop) {
            memmove(out->v + before, out->v + before + drop,
                    (out->n - before - drop) * sizeof *out->v);
            out->n -= drop;
        }
        size_t got = out->n - before;
        if (limit && got > limit) {
            memmove(out->v + before, out->v + out->n - limit, limit * sizeof *out->v);
            out->n = before + limit;
            got = limit;
        }
        if (used_iv) *used_iv = (md_interval)f;
        return (int)got;
    }
    if (used_iv) *used_iv = iv;
    return 0;
}

int md_store_latest_bar(md_store *st, const char *symbol, md_bar *out, md_interval *iv,
                        md_error *err)
{
    return st->ops->latest_bar(st, symbol, out, iv, err);
}

int md_store_put_quote(md_store *st, const md_quote *q, md_error *err)
{
    return st->ops->put_quote(st, q, err);
}

int md_store_get_quote(md_store *st, const char *symbol, md_quote *out, md_error *err)
{
    return st->ops->get_quote(st, symbol, out, err);
}

int md_store_list_symbols(md_store *st, md_symbol_info **out, md_error *err)
{
    return st->ops->list_symbols(st, out, err);
}

int64_t md_store_count_bars(md_store *st, const char *symbol, md_interval iv, int64_t start,
                            int64_t end, md_error *err)
{
    return st->ops->count_bars(st, symbol, iv, start, end, err);
}

int md_store_has_load_marks(const md_store *st)
{
    return st->ops->put_bars_marked != NULL && st->ops->get_load_mark != NULL;
}

int md_store_put_bars_marked(md_store *st, const md_series *series, size_t n_series,
                             const md_load_mark *marks, size_t n_marks, md_error *err)
{
    if (!md_store_has_load_marks(st)) {
        size_t total = 0;
        for (size_t i = 0; i < n_series; i++) total += series[i].n;
        return total ? st->ops->put_bars(st, series, n_series, err) : 0;
    }
    return st->ops->put_bars_marked(st, series, n_series, marks, n_marks, err);
}

int md_store_get_load_mark(md_store *st, const char *path, md_load_mark *out, md_error *err)
{
    if (!md_store_has_load_marks(st))
        return md_error_set(err, MD_ENODATA, "the %s store keeps no load checkpoints",
                            st->ops->kind);
    return st->ops->get_load_mark(st, path, out, err);
}

int md_store_doc_get(md_store *st, const char *key, char **out, md_error *err)
{
    /* meta_get copies into a fixed buffer: grow it until the value fits */
    for (size_t n = 4096; n <= ((size_t)64 << 20); n *= 4) {
        char *buf = md_malloc(n);
        int rc = st->ops->meta_get(st, key, buf, n, err);
        if (rc <= 0) {
            md_free(buf);
            return rc;
        }
        if (strlen(buf) < n - 1) {
            *out = buf;
            return 1;
        }
        md_free(buf);
    }
    return md_error_set(err, MD_ESTORE, "document %s is larger than 64 MiB", key);
}

int md_store_doc_put(md_store *st, const char *const *keys, const char *const *vals, size_t n,
                     md_error *err)
{
    return st->ops->meta_set(st, keys, vals, n, err);
}

/* -- quality findings ------------------------------------------------------------------------ */

static int unsupported(const md_store *st, md_error *err)
{
    return md_error_set(err, MD_ESTORE, "quality findings are not supported by the %s backend",
                        st->ops->kind);
}

int md_store_put_quality_events(md_store *st, const char *symbol, md_interval iv,
                                const md_qevent *ev, size_t n, const int64_t *clear_ts,
                                size_t n_clear, md_error *err)
{
    if (!st->ops->put_quality_events) return unsupported(st, err);
    if (n == 0 && n_clear == 0) return 0;
    return st->ops->put_quality_events(st, symbol, iv, ev, n, clear_ts, n_clear, err);
}

int md_store_get_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int rule, size_t limit, md_qevent_vec *out,
                                md_error *err)
{
    if (!st->ops->get_quality_events) return unsupported(st, err);
    return st->ops->get_quality_events(st, symbol, iv, start, end, rule, limit, out, err);
}

int md_store_count_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                  int64_t end, int64_t count[], double severity_sum[],
                                  md_error *err)
{
    if (!st->ops->count_quality_events) return unsupported(st, err);
    return st->ops->count_quality_events(st, symbol, iv, start, end, count, severity_sum, err);
}

int md_store_list_quality_series(md_store *st, md_symbol_info **out, md_error *err)
{
    if (!st->ops->list_quality_series) return unsupported(st, err);
    return st->ops->list_quality_series(st, out, err);
}

int md_store_mark_live(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                       md_error *err)
{
    if (!st->ops->mark_live) return unsupported(st, err);
    return st->ops->mark_live(st, symbol, iv, bar_ts, err);
}

int md_store_get_live(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                      md_error *err)
{
    if (!st->ops->get_live) return unsupported(st, err);
    return st->ops->get_live(st, symbol, iv, bar_ts, err);
}
