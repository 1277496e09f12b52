/* store_int.h - the backend table behind store.h (internal to store/). */
#ifndef MD_STORE_INT_H
#define MD_STORE_INT_H

#include "store/store.h"

typedef struct md_store_ops {
    const char *kind;
    int (*open)(const char *url, const md_store_options *opt, md_store **out, md_error *err);
    void (*close)(md_store *st);
    int (*ping)(md_store *st, md_error *err);
    int (*put_bars)(md_store *st, const md_series *s, size_t n, md_error *err);
    int (*get_bars)(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                    size_t limit, md_bar_vec *out, md_error *err);
    int (*latest_bar)(md_store *st, const char *symbol, md_bar *out, md_interval *iv,
                      md_error *err);
    int (*put_quote)(md_store *st, const md_quote *q, md_error *err);
    int (*get_quote)(md_store *st, const char *symbol, md_quote *out, md_error *err);
    int (*list_symbols)(md_store *st, md_symbol_info **out, md_error *err);
    int64_t (*count_bars)(md_store *st, const char *symbol, md_interval iv, int64_t start,
                          int64_t end, md_error *err);
    /* Optional: aggregation done by the backend (SQL). NULL: store.c aggregates in C. */
    int (*get_bars_agg)(md_store *st, const char *symbol, md_interval iv, md_interval from_iv,
                        int64_t start, int64_t end, size_t limit, md_bar_vec *out,
                        md_error *err);

    /* Quality findings and live marks (store.h); NULL: not supported by the backend. */
    int (*put_quality_events)(md_store *st, const char *symbol, md_interval iv,
                              const md_qevent *ev, size_t n, const int64_t *clear_ts,
                              size_t n_clear, md_error *err);
    int (*get_quality_events)(md_store *st, const char *symbol, md_interval iv, int64_t start,
                              int64_t end, int rule, size_t limit, md_qevent_vec *out,
                              md_error *err);
    int (*count_quality_events)(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int64_t count[], double severity_sum[],
                                md_error *err);
    int (*list_quality_series)(md_store *st, md_symbol_info **out, md_error *err);
    int (*mark_live)(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                     md_error *err);
    int (*get_live)(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                    md_error *err);
} md_store_ops;

/* Every backend's store struct begins with this header. */
struct md_store {
    const md_store_ops *ops;
    char *url_redacted;
};

extern const md_store_ops md_store_sqlite_ops;

/* The SQLite backend's quality functions (store_sqlite_quality.c). */
int md_sqlite_put_quality_events(md_store *st, const char *symbol, md_interval iv,
                                 const md_qevent *ev, size_t n, const int64_t *clear_ts,
                                 size_t n_clear, md_error *err);
int md_sqlite_get_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                 int64_t end, int rule, size_t limit, md_qevent_vec *out,
                                 md_error *err);
int md_sqlite_count_quality_events(md_store *st, const char *symbol, md_interval iv,
                                   int64_t start, int64_t end, int64_t count[],
                                   double severity_sum[], md_error *err);
int md_sqlite_list_quality_series(md_store *st, md_symbol_info **out, md_error *err);
int md_sqlite_mark_live(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                        md_error *err);
int md_sqlite_get_live(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                       md_error *err);

#endif
