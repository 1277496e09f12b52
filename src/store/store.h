/* store.h - the time-series store contract.
 *
 * One interface, two backends: sqlite (embedded default, WAL) and postgres (libpq;
 * TimescaleDB features when the extension exists). Nothing outside store/ sees SQL or a
 * backend type. Every function is safe to call from several threads at once: backends
 * keep a pool of connections and serialise writes themselves.
 *
 * Bars are keyed by (symbol, interval, ts); writing a bar whose key exists replaces it
 * (upsert), so loading the same data twice leaves the same rows. Quotes keep the latest
 * one per symbol (a newer or equal timestamp replaces the stored one, an older one never). */
#ifndef MD_STORE_STORE_H
#define MD_STORE_STORE_H

#include "calendar/calendar.h"
#include "core/action.h"
#include "core/bar.h"
#include "core/error.h"
#include "core/interval.h"
#include "quality/quality.h"

#include <stddef.h>
#include <stdint.h>

typedef struct md_store md_store;

typedef struct md_store_options {
    int pool_size;       /* connections kept open */
    int busy_timeout_ms; /* wait for locks */
    int batch_rows;      /* rows per write transaction in bulk paths */
    int read_only;       /* open without creating or migrating the schema */
    /* Apply the store's settings to an existing schema: TimescaleDB's chunk interval,
     * compression, retention and continuous aggregates, each changed only where it differs
     * from the configuration; and refresh the continuous aggregates over what was written
     * when the store is closed. Set by `serve`, `load` and `migrate`; every other open
     * leaves them as it finds them. */
    int manage;
    int must_exist;       /* SQLite: a missing file is MD_ENOTFOUND instead of a new store
                          * (read_only implies it) */
    int sqlite_sync_full; /* SQLite: PRAGMA synchronous=FULL (each commit synced to disk) rather
                           * than NORMAL (WAL synced at checkpoints only) */
    /* PostgreSQL only (config section "postgresql"; sqlite ignores them) */
    int pg_timescaledb;         /* -1 auto (use when available), 0 off, 1 required */
    int pg_chunk_days;          /* hypertable chunk interval */
    int pg_compress_after_days; /* compression policy age; 0 = no compression */
    int pg_retention_days;      /* drop bars older than this; 0 = keep everything */
    int pg_continuous_aggs;     /* 1h/1d continuous aggregates of 1m bars */
    int pg_partition_span;      /* native partitions: MD_PG_SPAN_* */
    int pg_partitions_ahead;    /* partitions kept ahead of the newest data */
    int pg_connect_timeout_s;
    int pg_direct_copy; /* COPY straight into bars when a batch's ranges are empty */
} md_store_options;

enum { MD_PG_SPAN_DAY, MD_PG_SPAN_WEEK, MD_PG_SPAN_MONTH, MD_PG_SPAN_YEAR };

void md_store_options_default(md_store_options *o);

struct md_config;
/* Defaults, then the store.* and postgresql.* keys of cfg. MD_ECONFIG naming the key when a
 * value is not one of its words (postgresql.timescaledb, postgresql.partition_span). */
int md_store_options_from_config(md_store_options *o, const struct md_config *cfg, md_error *err);

/* Opens a store from a URL: "sqlite:PATH" (or a bare path), "postgresql://...".
 * Creates and migrates the schema unless read_only. *out is owned by the caller
 * (md_store_close). MD_EUNAVAIL when the server cannot be reached, MD_ECONFIG when the
 * configuration does not fit the server or the schema (postgresql.timescaledb), MD_ESTORE
 * otherwise. */
int md_store_open(const char *url, const md_store_options *opt, md_store **out, md_error *err);
/* Closes the store. A store opened with manage first brings what it derives from the bars
 * written through it up to date (TimescaleDB: refreshes the continuous aggregates over the
 * written span, so they are not left empty after a bulk load or a migration). */
void md_store_close(md_store *st);

/* "sqlite" or "postgresql". */
const char *md_store_kind(const md_store *st);
/* The URL with any password replaced by "***". */
const char *md_store_url_redacted(const md_store *st);

/* A read replica (PostgreSQL streaming replica, opened read_only): reads that may lag a
 * little (md_store_read_bars, md_store_list_symbols, the quality findings) go to it while its
 * replay lag, measured every check_ms by a thread, is within max_lag_ms (0: only when it has
 * replayed everything the primary wrote); otherwise, and when it cannot be reached, to st.
 * Writes, and the reads the write paths make (bars by exact interval, latest quote and bar),
 * always go to st. The replica at url is opened with opt (read_only, not managed); when it
 * cannot be reached now (MD_EUNAVAIL, logged) the check thread opens it as soon as it can,
 * reads going to st until then. md_store_close(st) closes both. MD_ECONFIG when either is
 * not PostgreSQL or url is bad, MD_ESTORE when the replica's schema is not this mdagent's. */
int md_store_attach_replica(md_store *st, const char *url, const md_store_options *opt,
                            int max_lag_ms, int check_ms, md_error *err);
/* Sends this thread's reads that may lag to the primary (on = 1) until called with 0: for
 * reads of data just written, whose answer is kept (cached) longer than the replica may lag.
 * Returns the previous setting. */
int md_store_reads_on_primary(int on);
typedef struct md_store_replica_stats {
    int attached, in_use; /* a replica; reads go to it now */
    int64_t lag_ms;       /* last measured; -1: unreachable or not replaying */
    int64_t max_lag_ms;
    uint64_t switches, reads; /* changes of in_use; reads sent to the replica */
} md_store_replica_stats;
void md_store_get_replica_stats(md_store *st, md_store_replica_stats *out);

/* Cheap liveness check (SELECT 1). */
int md_store_ping(md_store *st, md_error *err);

/* One series of bars to write. */
typedef struct md_series {
    const char *symbol; /* normalised */
    md_interval iv;
    const md_bar *bars;
    size_t n;
} md_series;

/* Upserts the bars of several series in one transaction. Returns the number of rows
 * written (>= 0) or an error; on error nothing of this call is stored. */
int md_store_put_bars(md_store *st, const md_series *series, size_t n_series, md_error *err);

/* Reads stored bars of exactly this interval with start <= ts < end, oldest first, at most
 * limit of them (0 = no limit; with a limit the NEWEST `limit` bars in the range are
 * returned, still oldest first). Appends to out; returns the count appended. */
int md_store_get_bars(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                      size_t limit, md_bar_vec *out, md_error *err);

/* md_store_get_bars keeping the OLDEST `limit` bars of the range (oldest first). */
int md_store_get_bars_oldest(md_store *st, const char *symbol, md_interval iv, int64_t start,
                             int64_t end, size_t limit, md_bar_vec *out, md_error *err);

/* Reads stored bars of exactly this interval with ts >= from, OLDEST first, at most limit of
 * them (0 = no limit): a forward scan, page by page (the next page starts after the last
 * ts). Appends to out; returns the count appended. */
int md_store_scan_bars(md_store *st, const char *symbol, md_interval iv, int64_t from, size_t limit,
                       md_bar_vec *out, md_error *err);

/* Which end of a range a limited read keeps. */
typedef enum md_store_end { MD_STORE_NEWEST = 0, MD_STORE_OLDEST = 1 } md_store_end;

/* Bars of interval iv for the range: stored bars of iv when there are any in the range,
 * otherwise aggregated from the coarsest finer stored interval that divides iv
 * (open=first, high=max, low=min, close=last, volume=sum). A bucket is reported when any of
 * its finer bars lies in [start, end): one that starts before `start` (or reaches past
 * `end`) aggregates only the bars inside the range and keeps its bucket's timestamp - the
 * caller marks it partial (md_bar_partial, md_store_bar_span). With calendars
 * (md_store_set_calendars) a daily or coarser bucket from intraday bars is whole exchange
 * sessions instead, by session date. The backends keep 1h, 4h, 1d, 1w and 1mo
 * buckets materialised (store/rollup.h) and read them for whole buckets; the answer is the
 * same, bit for bit, as aggregating the finer bars. At most limit bars (0 = no limit): the
 * oldest `limit` of the range with MD_STORE_OLDEST, the newest with MD_STORE_NEWEST; always
 * oldest first in out. Memory is bounded by the answer (finer bars are read in chunks).
 * Which finer interval answers comes from the series the backend keeps. *used_iv
 * tells which stored interval answered (may be NULL). Appends; returns the count appended. */
int md_store_read_bars(md_store *st, const char *symbol, md_interval iv, int64_t start, int64_t end,
                       size_t limit, md_store_end keep, md_bar_vec *out, md_interval *used_iv,
                       md_error *err);

/* The timestamp of the bucket of iv that md_store_read_bars makes a bar of the finer
 * interval f starting at ts part of: the symbol's session date for daily and coarser buckets
 * from intraday bars where sessions are not UTC days, else md_interval_floor(iv, ts). */
int64_t md_store_bucket_of(const md_store *st, const char *symbol, md_interval iv, md_interval f,
                           int64_t ts);

/* How md_bar_partial judges the bars of iv that md_store_read_bars answered for [start, end)
 * at now from the stored interval used_iv: stored bars of iv are whole whatever the range;
 * buckets aggregated from finer bars are judged by the range and the clock - for a daily or
 * coarser interval from intraday bars of a symbol whose sessions are not UTC days, in
 * session dates, so a day's bar is still forming during its post-market. */
void md_store_bar_span(const md_store *st, const char *symbol, md_interval iv, md_interval used_iv,
                       int64_t start, int64_t end, int64_t now, md_bar_span *span);

/* The symbols' exchange calendars (calendar/calendar.h), which the store takes: with them,
 * daily and coarser bars aggregated from intraday bars are exchange sessions labelled with
 * their session date (md_cal_session_day) rather than UTC days, wherever a session is not
 * a UTC day (the rollups, which are UTC days, then do not answer them). NULL: UTC days.
 * Call before the store is shared between threads. */
void md_store_set_calendars(md_store *st, md_cal_map *m);

/* md_store_read_bars keeping the newest `limit` bars. */
int md_store_get_bars_agg(md_store *st, const char *symbol, md_interval iv, int64_t start,
                          int64_t end, size_t limit, md_bar_vec *out, md_interval *used_iv,
                          md_error *err);

/* The newest stored bar of any interval for symbol (finest interval wins a tie on time).
 * MD_ENODATA when there is none. */
int md_store_latest_bar(md_store *st, const char *symbol, md_bar *out, md_interval *iv,
                        md_error *err);

/* Stores q as the latest quote of its symbol unless a newer one is stored (a quote with the
 * same timestamp replaces the stored one). Returns 1 when stored, 0 when a newer quote was
 * already there. */
int md_store_put_quote(md_store *st, const md_quote *q, md_error *err);
/* MD_ENODATA when no quote is stored for symbol. */
int md_store_get_quote(md_store *st, const char *symbol, md_quote *out, md_error *err);

/* One row of md_store_list_symbols: one per (symbol, interval). */
typedef struct md_symbol_info {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    int64_t first_ts, last_ts;
    int64_t count;
} md_symbol_info;

/* Lists every stored (symbol, interval) ordered by symbol then interval. *out is a heap
 * array owned by the caller (md_free). Returns the count. */
int md_store_list_symbols(md_store *st, md_symbol_info **out, md_error *err);

/* Counts stored bars of (symbol, iv) in [start, end). */
int64_t md_store_count_bars(md_store *st, const char *symbol, md_interval iv, int64_t start,
                            int64_t end, md_error *err);

/* -- bulk-load checkpoints ----------------------------------------------------------------- */

/* How far a bulk load (`mdagent load`) got through one input file. A mark is written in the
 * same transaction as the rows it covers, so after a crash (kill -9, power loss) the store
 * holds exactly the rows up to its mark and the load resumes from there without losing or
 * duplicating a row. Files are keyed by absolute path; size and mtime tell whether the
 * file changed since (then it is loaded again from the start). */
typedef struct md_load_mark {
    const char *path; /* absolute path, the key */
    int64_t size;     /* file size in bytes */
    int64_t mtime_ns; /* modification time, nanoseconds since the epoch */
    int64_t offset;   /* input bytes consumed (decompressed bytes for .gz), at a line start */
    int64_t lines;    /* lines consumed, the header included */
    int64_t rows;     /* data rows read so far */
    int64_t rejected; /* of which rejected */
    int interval;     /* md_interval the rows are stored under; -1 while unknown */
    int done;         /* 1 when the whole file is loaded */
} md_load_mark;

/* 1 when the backend keeps load marks (both SQLite and PostgreSQL do; a backend without them
 * stores the bars of md_store_put_bars_marked and drops the marks). */
int md_store_has_load_marks(const md_store *st);

/* md_store_put_bars plus the marks, upserted in the same transaction: either the bars and
 * the marks are stored, or nothing is. n_series may be 0 (marks only). Returns the number of
 * rows written or an error. */
int md_store_put_bars_marked(md_store *st, const md_series *series, size_t n_series,
                             const md_load_mark *marks, size_t n_marks, md_error *err);

/* Reads the mark of path into *out (out->path = path). MD_ENODATA when there is none (or the
 * backend keeps no marks). */
int md_store_get_load_mark(md_store *st, const char *path, md_load_mark *out, md_error *err);
/* -- quality findings (quality/quality.h) --------------------------------------------------
 * Findings are kept per (symbol, interval, ts, rule): a newer finding of the same rule on
 * the same bar replaces the older one. Backends without these return MD_ESTORE saying so. */

/* Records findings of one series in one transaction. First deletes every finding stored
 * at the timestamps clear_ts[0..n_clear) (sorted ascending: bars that were just rewritten,
 * whose old findings no longer hold), then upserts ev[0..n). Returns n. */
int md_store_put_quality_events(md_store *st, const char *symbol, md_interval iv,
                                const md_qevent *ev, size_t n, const int64_t *clear_ts,
                                size_t n_clear, md_error *err);

/* Findings of (symbol, iv) with start <= ts < end, oldest first; with a limit (0 = none)
 * the newest `limit`. rule >= 0 keeps that rule only (-1: all). Appends to out; returns the
 * count appended. */
int md_store_get_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                int64_t end, int rule, size_t limit, md_qevent_vec *out,
                                md_error *err);

/* Per rule: how many findings (count[rule]) and the sum of their severities, for
 * start <= ts < end. Both arrays have MD_QRULE_COUNT entries and are overwritten. */
int md_store_count_quality_events(md_store *st, const char *symbol, md_interval iv, int64_t start,
                                  int64_t end, int64_t count[], double severity_sum[],
                                  md_error *err);

/* Every (symbol, interval) with findings: symbol, iv, first/last finding ts, count. Same
 * ownership as md_store_list_symbols. */
int md_store_list_quality_series(md_store *st, md_symbol_info **out, md_error *err);

/* Remembers that (symbol, iv) received bar_ts while it was current (a live series);
 * keeps the newest such bar. */
int md_store_mark_live(md_store *st, const char *symbol, md_interval iv, int64_t bar_ts,
                       md_error *err);
/* The newest bar that arrived while current, in *bar_ts; MD_ENODATA when the series was
 * never live (loaded history only). */
int md_store_get_live(md_store *st, const char *symbol, md_interval iv, int64_t *bar_ts,
                      md_error *err);

/* -- background jobs of the store ------------------------------------------------------------ */

/* One job the store's server runs by itself (TimescaleDB: compression, retention, refreshes of
 * the continuous aggregates). */
typedef struct md_store_job {
    int id;
    char name[64];        /* what it does: "compression", "retention", "refresh_bars_1d" */
    int64_t last_start;   /* start of its last run, epoch seconds; 0: never ran */
    int64_t last_success; /* end of its last successful run; 0: never succeeded */
    int last_failed;      /* its last run failed */
    int64_t runs, failures;
    char last_error[200]; /* the server's message for its last failure ("" when none) */
} md_store_job;

/* The store's background jobs and how their last runs went. *out is a heap array owned by
 * the caller (md_free); returns the count (0 for backends without jobs: SQLite, PostgreSQL
 * without TimescaleDB). */
int md_store_jobs(md_store *st, md_store_job **out, md_error *err);

/* -- corporate actions and symbol reference data (core/action.h) ------------------------------
 * Actions are kept per (symbol, type, ex_date, source): each source's record of an event is
 * its own row, and a record of the same key replaces the older one (a correction). Bars are
 * stored raw; nothing in the store adjusts them. Backends without these return MD_ESTORE. */

/* Upserts actions a[0..n) in one transaction (each a[i].symbol normalised, validated by the
 * caller). Returns how many rows are new or changed: a record stored again with the same
 * values counts 0, so the caller knows whether cached answers went stale. */
int md_store_put_actions(md_store *st, const md_action *a, size_t n, md_error *err);

/* Actions of symbol (NULL: every symbol, ordered by symbol first) with start <= ex_date <
 * end, every source, ordered by ex_date, type, source. Appends to out; returns the count. */
int md_store_get_actions(md_store *st, const char *symbol, int64_t start, int64_t end,
                         md_action_vec *out, md_error *err);

/* What a symbol's sources said about it beyond bars. */
typedef struct md_symbol_ref {
    char symbol[MD_SYMBOL_MAX + 1];
    char currency[MD_CURRENCY_MAX]; /* ISO 4217 major unit the stored prices are in; "" unknown */
    char reported[MD_CURRENCY_MAX]; /* the unit the source quoted in ("GBp"); "" unknown */
    char zone[48];                  /* the exchange's IANA zone; "" unknown */
    char exchange[48];              /* the provider's name of its primary exchange; "" unknown */
    uint8_t source;                 /* who said so */
    int64_t actions_checked;        /* when actions were last asked of the sources (epoch s) */
    /* the source that answered that ask without dividends (its plan refused them: splits
     * only); 0 = none did */
    uint8_t dividends_refused;
} md_symbol_ref;

/* Upserts the symbol's reference row (every field replaced). */
int md_store_put_symbol_ref(md_store *st, const md_symbol_ref *r, md_error *err);
/* MD_ENODATA when there is none. */
int md_store_get_symbol_ref(md_store *st, const char *symbol, md_symbol_ref *out, md_error *err);
/* Every row ordered by symbol; *out a heap array (md_free). Returns the count. */
int md_store_list_symbol_refs(md_store *st, md_symbol_ref **out, md_error *err);

/* -- small documents kept in the store (backfill job state) ---------------------------------- */

/* Reads the text document stored under key. Returns 1 with *out a heap copy (md_free), 0
 * when there is none, or an error. */
int md_store_doc_get(md_store *st, const char *key, char **out, md_error *err);

/* Stores n documents in one transaction (vals[i] NULL deletes keys[i]). */
int md_store_doc_put(md_store *st, const char *const *keys, const char *const *vals, size_t n,
                     md_error *err);

#endif
