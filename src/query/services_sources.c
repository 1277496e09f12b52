/* services_sources.c - the source manager part of md_services (services.h): sources from
 * the registry in sources.priority order, bars for the replay source (a CSV file or the
 * store), and for `serve` the pushing feeds and the watchlist scheduler, all handing
 * their data to the writer. */
#include "query/services_int.h"

#include "cache/cache.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "ingest/csv.h"
#include "ingest/loader.h"
#include "sources/manager.h"
#include "sources/offline.h"
#include "sources/registry.h"
#include "sources/scheduler.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

struct md_svc_sources {
    md_services *svc;
    md_feed *feeds[2];
    md_query_keep keeps[3]; /* one per pushing thread */
    md_scheduler *sched;
    md_svc_quota *quota; /* the budgets beyond this process (services_quota.c) */
};

/* Creates a source by name from the registry; a provider whose API key is missing is
 * refused here, so the manager lists it disabled with the reason and never asks it. */
static int create_source(const char *name, const md_config *cfg, md_source **out, md_error *err)
{
    md_source *src = NULL;
    int rc = md_source_create(name, cfg, &src, err);
    if (rc) return rc;
    if (!md_source_configured(src)) {
        const md_source_info *info = md_source_find(name);
        md_source_free(src);
        return md_error_set(err, MD_EUNAUTHSRC, "%s: not configured: set %s", name,
                            info && info->key_env ? info->key_env : "its API key");
    }
    *out = src;
    return 0;
}

/* -- replay data ----------------------------------------------------------------------- */

typedef struct series_acc {
    char symbol[MD_SYMBOL_MAX + 1];
    md_bar_vec bars;
} series_acc;

typedef struct replay_acc {
    series_acc *s;
    size_t n, cap;
} replay_acc;

static md_bar_vec *acc_for(replay_acc *a, const char *symbol)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->s[i].symbol, symbol) == 0) return &a->s[i].bars;
    MD_ARRAY_GROW(a->s, a->n, a->cap, 8);
    series_acc *x = &a->s[a->n++];
    snprintf(x->symbol, sizeof x->symbol, "%s", symbol);
    md_bar_vec_init(&x->bars);
    return &x->bars;
}

/* Reads one CSV file (plain or .gz) into per-symbol bar vectors. */
static int read_csv(const char *path, replay_acc *acc, md_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return md_error_set(err, MD_EIO, "replay.file: cannot open %s", path);
    char *line = md_malloc(MD_CSV_MAX_LINE + 2);
    md_csv_layout lay;
    int have_header = 0, rc = 0, lineno = 0;
    char file_sym[MD_SYMBOL_MAX + 1] = "";
    md_error e;
    md_csv_symbol_from_path(path, file_sym, &e);
    while (gzgets(f, line, MD_CSV_MAX_LINE + 1)) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!have_header) {
            if (len == 0) continue;
            if ((rc = md_csv_detect(line, len, MD_CSV_AUTO, &lay, err)) != 0) {
                md_error_prefix(err, "replay.file: %s:%d", path, lineno);
                break;
            }
            have_header = 1;
            continue;
        }
        md_csv_row row;
        if (md_csv_parse_row(&lay, line, len, &row, &e) != 0) continue; /* bad rows skipped */
        const char *sym = row.symbol[0] ? row.symbol : file_sym;
        if (!sym[0]) continue;
        row.bar.source = MD_SRC_REPLAY;
        md_bar_vec_push(acc_for(acc, sym), &row.bar);
    }
    gzclose(f);
    md_free(line);
    return rc;
}

static int read_replay_path(const char *path, replay_acc *acc, md_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return md_error_set(err, MD_EIO, "replay.file: no such file %s", path);
    if (!S_ISDIR(st.st_mode)) return read_csv(path, acc, err);
    DIR *d = opendir(path);
    if (!d) return md_error_set(err, MD_EIO, "replay.file: cannot read directory %s", path);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        if (n[0] == '.') continue;
        if (!(l > 4 && (!strcmp(n + l - 4, ".csv") || !strcmp(n + l - 4, ".txt") ||
                        !strcmp(n + l - 3, ".gz"))))
            continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, n);
        rc = read_csv(full, acc, err);
    }
    closedir(d);
    return rc;
}

/* Hands the replay source its bars: replay.file, or replay.symbols from the store. */
static int load_replay(md_services *svc, md_source *rp, const md_config *cfg, md_error *err)
{
    md_interval want;
    md_error e;
    if (md_interval_parse(cfg->replay_interval, &want, &e) != 0)
        return md_error_set(err, MD_ECONFIG, "replay.interval: %s", e.msg);
    replay_acc acc = {0};
    int rc = 0;
    if (cfg->replay_file && cfg->replay_file[0]) {
        rc = read_replay_path(cfg->replay_file, &acc, err);
        for (size_t i = 0; rc == 0 && i < acc.n; i++) {
            md_bar_vec *v = &acc.s[i].bars;
            md_bar_vec_sort_dedup(v);
            int64_t *ts = md_malloc((v->n ? v->n : 1) * sizeof *ts);
            for (size_t k = 0; k < v->n; k++) ts[k] = v->v[k].ts;
            int inferred = md_infer_interval(ts, v->n);
            md_free(ts);
            md_interval iv = inferred >= 0 ? (md_interval)inferred : want;
            md_replay_add_series(rp, acc.s[i].symbol, iv, v->v, v->n);
        }
    } else {
        char **syms;
        size_t n = md_config_split_list(cfg->replay_symbols, &syms);
        for (size_t i = 0; i < n && rc == 0; i++) {
            char sym[MD_SYMBOL_MAX + 1];
            if (md_symbol_normalize_str(syms[i], sym, &e) != 0) {
                rc = md_error_set(err, MD_ECONFIG, "replay.symbols: %s", e.msg);
                break;
            }
            md_bar_vec *v = acc_for(&acc, sym);
            rc = md_store_get_bars(svc->store, sym, want, MD_TS_MIN, MD_TS_MAX, 0, v, err);
            if (rc < 0) break;
            rc = 0;
            if (v->n == 0) {
                MD_WARN("replay", "nothing stored to replay symbol=%s interval=%s", sym,
                        md_interval_name(want));
                continue;
            }
            md_replay_add_series(rp, sym, want, v->v, v->n);
        }
        md_config_free_list(syms, n);
    }
    for (size_t i = 0; i < acc.n; i++) md_bar_vec_deinit(&acc.s[i].bars);
    md_free(acc.s);
    if (rc == 0)
        MD_INFO("replay", "series loaded count=%zu speed=%g", md_replay_count(rp),
                cfg->replay_speed);
    return rc < 0 ? rc : 0;
}

/* -- life cycle ------------------------------------------------------------------------ */

int md_services__sources_open(md_services *svc, md_svc_sources **out, md_error *err)
{
    *out = NULL;
    md_srcmgr *m = NULL;
    int rc = md_srcmgr_from_config(svc->cfg, create_source, &m, err);
    if (rc) return rc;
    md_svc_sources *cs = md_calloc(1, sizeof *cs);
    cs->svc = svc;
    svc->sources = m;
    if (m && (rc = md_services__quota_open(svc, m, &cs->quota, err)) != 0) {
        md_services__sources_close(cs);
        return rc;
    }
    if (m) {
        md_source *rp = md_srcmgr_source(m, MD_SRC_REPLAY);
        if (rp && (rc = load_replay(svc, rp, svc->cfg, err)) != 0) {
            md_services__sources_close(cs);
            return rc;
        }
        /* the scheduler is built here so that a bad watchlist fails before serving */
        md_tick_sink sink;
        md_query_sink(&cs->keeps[2], svc, MD_WRITE_POLL, &sink);
        if ((rc = md_scheduler_new(m, svc->cfg, &sink, &cs->sched, err)) != 0) {
            md_services__sources_close(cs);
            return rc;
        }
    } else {
        md_scheduler *probe = NULL; /* no sources: nothing to poll, but say so on a bad list */
        md_tick_sink none = {NULL, NULL, NULL};
        md_srcmgr_opts o;
        md_srcmgr_opts_from_config(&o, svc->cfg);
        md_srcmgr *empty = md_srcmgr_new(&o);
        rc = md_scheduler_new(empty, svc->cfg, &none, &probe, err);
        md_scheduler_free(probe);
        md_srcmgr_free(empty);
        if (rc) {
            md_services__sources_close(cs);
            return rc;
        }
        if (svc->cfg->sources_watchlist && svc->cfg->sources_watchlist[0])
            MD_WARN("scheduler",
                    "sources.watchlist is set but sources.priority is empty: not polled");
    }
    *out = cs;
    return 0;
}

static int claim_slot(void *cache, const char *name, int64_t ttl_ms)
{
    return md_cache_lease(cache, name, ttl_ms);
}

static int renew_lease(void *cache, const char *name, int64_t ttl_ms)
{
    return md_cache_lease_renew(cache, name, ttl_ms);
}

static void release_lease(void *cache, const char *name)
{
    md_cache_lease_release(cache, name);
}

int md_services__sources_start(md_svc_sources *cs, md_error *err)
{
    md_services *svc = cs->svc;
    if (!svc->sources) return 0;
    static const int offline[] = {MD_SRC_SIMULATOR, MD_SRC_REPLAY};
    for (int i = 0; i < 2; i++) {
        md_source *src = md_srcmgr_source(svc->sources, offline[i]);
        if (!src) continue;
        if (offline[i] == MD_SRC_REPLAY && md_replay_count(src) == 0) continue;
        md_tick_sink sink;
        md_query_sink(&cs->keeps[i], svc, MD_WRITE_FEED, &sink);
        /* agents relaying to each other run a feed on one of them at a time: a lease */
        md_feed_lease lease = {claim_slot, renew_lease, release_lease, svc->cache,
                               svc->cfg->sources_feed_lease_ms};
        int rc = md_feed_start_leased(src, &sink, svc->cache ? &lease : NULL, &cs->feeds[i], err);
        if (rc) return rc;
    }
    if (!cs->sched) return 0;
    /* agents on one Redis share the watchlist's polls (a lease per symbol and slot) */
    if (svc->cache) md_scheduler_set_claim(cs->sched, claim_slot, svc->cache);
    return md_scheduler_start(cs->sched, err);
}

void md_services__sources_stop(md_svc_sources *cs)
{
    if (!cs) return;
    md_scheduler_free(cs->sched);
    cs->sched = NULL;
    for (int i = 0; i < 2; i++) {
        md_feed_stop(cs->feeds[i]);
        cs->feeds[i] = NULL;
    }
}

void md_services__sources_close(md_svc_sources *cs)
{
    if (!cs) return;
    md_services__sources_stop(cs);
    md_srcmgr_free(cs->svc->sources);
    cs->svc->sources = NULL;
    md_services__quota_close(cs->quota); /* after the manager that called it */
    md_free(cs);
}
