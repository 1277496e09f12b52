/* migrate.h - copying one store into another (`mdagent migrate --from URL --to URL`).
 *
 * Any backend to any backend (sqlite -> postgresql and back): every series of bars, in
 * batches through the target's normal upsert, then every quote, every quality finding and
 * every live mark; then a verification that reads both stores again and compares, per
 * (symbol, interval), the row count and a checksum of every value of the bars and of the
 * findings, and every quote and live mark.
 *
 * Resumable: after each batch the target keeps a checkpoint (the last copied timestamp of
 * each series, in its meta table, keyed by the source), so an interrupted run - Ctrl-C,
 * kill -9, --max-rows - goes on where it stopped when run again; a batch copied twice is
 * an upsert, never a duplicate. Nothing outside store/ sees SQL: this file uses the
 * backends' table (store_int.h). */
#ifndef MD_STORE_MIGRATE_H
#define MD_STORE_MIGRATE_H

#include "core/bar.h"
#include "core/error.h"
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>

typedef struct md_migrate_options {
    size_t batch_rows;  /* bars per target transaction (0: 50000) */
    uint64_t max_rows;  /* stop after copying about this many bars (0: all); run again to resume */
    int restart;        /* ignore the checkpoints and copy everything again */
    int verify_only;    /* copy nothing; only compare */
    volatile int *stop; /* when it becomes non-zero, stop after the current batch */
    /* Progress of a phase ("copy", "verify"): called with done == 0 when the phase starts
     * (total known), after each batch, and with final = 1 at its end. May be NULL. The CLI
     * draws it with ingest/progress.h (store/ stays below ingest/). */
    void (*on_progress)(void *ctx, const char *phase, uint64_t done, uint64_t total, int final);
    void *progress_ctx;
    md_store_options source, target; /* how to open each side (source is opened read-only) */
} md_migrate_options;

void md_migrate_options_default(md_migrate_options *o);

/* One thing that differs between the stores. */
typedef struct md_migrate_diff {
    char kind; /* 'b' bars, 'q' quote, 'e' quality findings, 'l' live mark, 'a' actions */
    char symbol[MD_SYMBOL_MAX + 1];
    int iv;               /* md_interval (-1 for a quote) */
    int64_t src_n, dst_n; /* rows on each side (-1: the series is missing there) */
    uint64_t src_sum, dst_sum;
} md_migrate_diff;

typedef struct md_migrate_report {
    char from[512], to[512];                                         /* redacted URLs */
    uint64_t series, bars_total;                                     /* in the source */
    uint64_t bars_copied, quotes_copied, events_copied, live_copied; /* by this run */
    uint64_t series_resumed; /* series that had a checkpoint */
    int complete;            /* every series copied to its end */
    int verified;            /* verification ran and found no difference */
    uint64_t verified_bars, verified_quotes, verified_events;
    uint64_t actions_copied, verified_actions; /* corporate actions + symbol references */
    md_migrate_diff *diffs;                    /* heap (md_migrate_report_deinit) */
    size_t n_diffs;
    double seconds;
} md_migrate_report;

/* Copies (unless verify_only) and verifies. Returns 0 only when every series and quote is
 * in the target and equal to the source; MD_ECANCELED when stopped before the end (run
 * again to resume); MD_ESTORE "verification failed" when the stores differ (rep lists the
 * differences); other store errors as they come (MD_EUNAVAIL, ...). rep is filled in every
 * case (free with md_migrate_report_deinit). */
int md_store_migrate(const char *from_url, const char *to_url, const md_migrate_options *opt,
                     md_migrate_report *rep, md_error *err);

/* Writes the human report: what was copied, the verification, each difference. */
void md_migrate_report_print(const md_migrate_report *r, FILE *f);
void md_migrate_report_deinit(md_migrate_report *r);

#endif
