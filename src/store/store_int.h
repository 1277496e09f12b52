/* store_int.h - the backend table behind store.h (internal to store/). */
#ifndef MD_STORE_INT_H
#define MD_STORE_INT_H

#include "store/store.h"

#include <string.h>

/* A range [lo, hi) of epoch seconds. */
typedef struct md_range {
    int64_t lo, hi;
} md_range;

/* At most this many ranges a get_rollups call reports it cannot answer. */
#define MD_STORE_MAX_HOLES 8

typedef struct md_store_ops {
    const char *kind;
    int (*open)(const char *url, const md_store_options *opt, md_store **out, md_error *err);
    void (*close)(md_store *st);
    int (*ping)(md_store *st, md_error *err);
    int (*put_bars)(md_store *st, const md_series *s, size_t n, md_error *err);
    /* Bars of exactly iv in [start, end), oldest first; with a limit the oldest `limit` when
     * oldest is set, else the newest. */
    int (*get_bars)(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                    size_t limit, int oldest, md_bar_vec *out, md_error *err);
    int (*latest_bar)(md_store *st, const char *symbol, md_bar *out, md_interval *iv,
                      md_error *err);
    int (*put_quote)(md_store *st, const md_quote *q, md_error *err);
    int (*get_quote)(md_store *st, const char *symbol, md_quote *out, md_error *err);
    int (*list_symbols)(md_store *st, md_symbol_info **out, md_error *err);
    int64_t (*count_bars)(md_store *st, const char *symbol, md_interval iv, int64_t start,
                          int64_t end, md_error *err);
    /* Optional: aggregation done by the backend (SQL). NULL: store.c aggregates in C.
     * Appends the buckets of iv built from the bars of from_iv in [start, end) under the rules
     * of md_store_read_bars (a bucket that starts before start aggregates the bars from start
     * on; with a limit, the oldest `limit` buckets when oldest is set, else the newest), and
     * sets *had_input to 1 when there was any from_iv bar in [start, end). */
    int (*get_bars_agg)(md_store *st, const char *symbol, md_interval iv, md_interval from_iv,
                        int64_t start, int64_t end, size_t limit, int oldest, md_bar_vec *out,
                        int *had_input, md_error *err);

    /* Optional: the stored extent of every interval of one symbol, from the series the writes
     * keep (out[iv].count 0: none stored); lets md_store_get_bars_agg choose the interval to
     * aggregate from without probing each one. */
    int (*series_of)(md_store *st, const char *symbol, md_symbol_info out[MD_IV_COUNT],
                     md_error *err);
    /* Optional: materialised buckets of iv built from the bars of from_iv (store/rollup.h):
     * appends the buckets starting in [lo, hi) (lo and hi on bucket boundaries), oldest first,
     * the newest `limit` when limit != 0, and lists in holes[0..*n_holes) (at most
     * MD_STORE_MAX_HOLES, bucket-aligned, oldest first) the parts of [lo, hi) it cannot vouch
     * for (not materialised yet, changed since): store.c aggregates those from the fine bars.
     * Returns the count appended. */
    int (*get_rollups)(md_store *st, const char *symbol, md_interval iv, md_interval from_iv,
                       int64_t lo, int64_t hi, size_t limit, md_bar_vec *out, md_range *holes,
                       size_t *n_holes, md_error *err);

    /* Optional: runs sql, which answers one row of one bigint, into *out (the replica's
     * lag check, store.c). NULL: the backend has no replicas. */
    int (*query_i64)(md_store *st, const char *sql, int64_t *out, md_error *err);

    /* Optional: store.h md_store_jobs (NULL: no jobs). */
    int (*jobs)(md_store *st, md_store_job **out, md_error *err);

    /* For migration (store/migrate.c), every backend: */
    /* Bars of (symbol, iv) with ts >= from, oldest first, at most limit; appends to out. */
    int (*scan_bars)(md_store *st, const char *symbol, md_interval iv, int64_t from, size_t limit,
                     md_bar_vec *out, md_error *err);
    /* Every stored quote ordered by symbol; *out is a heap array (md_free). Returns the count. */
    int (*list_quotes)(md_store *st, md_quote **out, md_error *err);
    /* A small key/value table kept in the store (migration checkpoints). meta_get returns 1
     * and copies the value (truncated to n) when the key exists, 0 when it does not. */
    int (*meta_get)(md_store *st, const char *key, char *val, size_t n, md_error *err);
    /* Sets n keys in one transaction; a NULL value deletes the key. */
    int (*meta_set)(md_store *st, const char *const *keys, const char *const *vals, size_t n,
                    md_error *err);

    /* Optional: bulk-load marks (store.h md_load_mark). NULL: marks are not kept. */
    int (*put_bars_marked)(md_store *st, const md_series *s, size_t n, const md_load_mark *m,
                           size_t n_marks, md_error *err);
    int (*get_load_mark)(md_store *st, const char *path, md_load_mark *out, md_error *err);
    /* Quality findings and live marks (store.h); NULL: not supported by the backend. */
    int (*put_quality_events)(md_store *st, const char *symbol, md_interval iv, const md_qevent *ev,
                              size_t n, const int64_t *clear_ts, size_t n_clear, md_error *err);
    int (*get_quality_events)(md_store *st, const char *symbol, md_interval iv, int64_t start,
                              int64_t end, int rule, size_t limit, md_qevent_vec *out,
                              md_error *err);
    int (*count_quality_events)(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int64_t count[], double severity_sum[], md_error *err);
    int (*list_quality_series)(md_store *st, md_symbol_info **out, md_error *err);
    int (*mark_live)(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                     md_error *err);
    int (*get_live)(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                    md_error *err);
    /* Corporate actions and symbol reference rows (store.h); NULL: not supported. */
    int (*put_actions)(md_store *st, const md_action *a, size_t n, md_error *err);
    int (*get_actions)(md_store *st, const char *symbol, int64_t start, int64_t end,
                       md_action_vec *out, md_error *err);
    int (*put_symbol_ref)(md_store *st, const md_symbol_ref *r, md_error *err);
    int (*get_symbol_ref)(md_store *st, const char *symbol, md_symbol_ref *out, md_error *err);
    int (*list_symbol_refs)(md_store *st, md_symbol_ref **out, md_error *err);
} md_store_ops;

/* Every backend's store struct begins with this header. */
typedef struct md_store_replica md_store_replica;

struct md_store {
    const md_store_ops *ops;
    char *url_redacted;
    md_cal_map *cals;          /* md_store_set_calendars; NULL: UTC days */
    md_store_replica *replica; /* reads go there while it keeps up (store.c) */
};

/* The end of a backend's listing (list_symbols, list_quotes, ...), built as an untyped heap
 * array: stores it into the caller's element pointer, whose address is out (md_quote ** and
 * the like, passed as void *). POSIX gives all object pointers one representation. */
static inline void md_store__list_out(void *out, void *array)
{
    memcpy(out, &array, sizeof array);
}

extern const md_store_ops md_store_sqlite_ops;
extern const md_store_ops md_store_pg_ops;

/* The SQLite backend's quality functions (store_sqlite_quality.c). */
int md_sqlite_put_quality_events(md_store *st, const char *symbol, md_interval iv,
                                 const md_qevent *ev, size_t n, const int64_t *clear_ts,
                                 size_t n_clear, md_error *err);
int md_sqlite_get_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                 int64_t end, int rule, size_t limit, md_qevent_vec *out,
                                 md_error *err);
int md_sqlite_count_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                   int64_t end, int64_t count[], double severity_sum[],
                                   md_error *err);
int md_sqlite_list_quality_series(md_store *st, md_symbol_info **out, md_error *err);
int md_sqlite_mark_live(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                        md_error *err);
int md_sqlite_get_live(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                       md_error *err);

/* The SQLite backend's actions and symbol references (store_sqlite_actions.c). */
int md_sqlite_put_actions(md_store *st, const md_action *a, size_t n, md_error *err);
int md_sqlite_get_actions(md_store *st, const char *symbol, int64_t start, int64_t end,
                          md_action_vec *out, md_error *err);
int md_sqlite_put_symbol_ref(md_store *st, const md_symbol_ref *r, md_error *err);
int md_sqlite_get_symbol_ref(md_store *st, const char *symbol, md_symbol_ref *out, md_error *err);
int md_sqlite_list_symbol_refs(md_store *st, md_symbol_ref **out, md_error *err);

#endif
