/* loader.h - `mdagent load`: CSV files and directories into the store, at scale.
 *
 * Files (plain or gzip, any size) and whole directory trees are read in 1 MiB blocks of
 * whole lines, parsed and checked by a pool of worker threads, and handed back in input
 * order to one writer that stores them in large transactions (load_int.h draws the
 * pipeline). Memory stays bounded whatever the input size.
 *
 * Resumable: each file's progress (a store.h md_load_mark: path, size, mtime, lines and
 * bytes done) is committed in the same transaction as the rows it covers. Run the same
 * load again after a crash, kill -9 or Ctrl-C and it continues where the last commit
 * ended; a file loaded to the end is skipped (unless it changed, or restart is set).
 *
 * A bad row is reported as "file:line: reason", counted by rule, written to the reject file
 * when one is asked for, and skipped; the load goes on. The interval comes from --interval,
 * a Stooq <PER> column, or the spacing of the first block's timestamps. */
#ifndef MD_INGEST_LOADER_H
#define MD_INGEST_LOADER_H

#include "ingest/csv.h"
#include "ingest/writer.h"
#include "quality/quality.h"
#include "quality/validate.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Per-series tallies of quality findings over a load, for its grade summary. */
typedef struct md_load_grade {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    md_quality_tally tally;
} md_load_grade;

typedef struct md_load_grades {
    md_load_grade *v; /* heap, in the order series were first seen */
    size_t n, cap;
} md_load_grades;

void md_load_grades_init(md_load_grades *g);
void md_load_grades_deinit(md_load_grades *g);
/* The tally of (symbol, iv), created when new. */
md_quality_tally *md_load_grades_get(md_load_grades *g, const char *symbol, md_interval iv);
/* Writes one line per series: grade, score, dimensions and findings per rule, judged as
 * history (timeliness 100: liveness is judged by GET /quality). */
void md_load_grades_print(const md_load_grades *g, const md_quality_params *p, FILE *f);

typedef struct md_load_options {
    const char *symbol; /* --symbol: overrides file names (not a symbol column) */
    int interval;       /* md_interval, or -1 to infer */
    md_csv_format format;
    int validate_only;  /* report, store nothing */
    int progress;       /* md_progress mode: 2 auto, 1 bar, 0 lines, -1 silent */
    FILE *report;       /* where "file:line: reason" lines go (NULL: stderr) */
    size_t max_reports; /* per file, stop printing reasons after this many (counting goes on) */
    size_t batch_rows;  /* rows per write transaction */
    int threads;        /* parse workers; 0 = one per core */
    const char *reject_file;     /* write every bad row and its reason here (CSV); NULL = none */
    int restart;                 /* ignore checkpoints: load every file from its start */
    volatile sig_atomic_t *stop; /* when it becomes nonzero (SIGINT), stop at the next block,
                                    store what was read, and return MD_ECANCELED */
    int report_findings;         /* also print soft findings as "file: timestamp: rule: reason" */
    md_load_grades *grades;      /* when set, quality findings are tallied per series here */
    int full_validation;         /* judge (soft rules, scores) every bar; default: sampled (README
                            "Bulk loading": series pieces of >= 64 bars always, smaller
                            pieces the first and then 1 in 16 per series) */
} md_load_options;

void md_load_options_default(md_load_options *o);

typedef struct md_load_stats {
    uint64_t files, files_failed;
    uint64_t files_skipped; /* already loaded to the end (checkpoint) */
    uint64_t files_resumed; /* continued from a checkpoint */
    uint64_t rows;          /* data lines read */
    uint64_t accepted;      /* passed validation */
    uint64_t stored;        /* written to the store */
    uint64_t rejected;      /* bad rows (parse errors and rule failures) */
    uint64_t judged;        /* stored bars the soft rules judged and scored */
    uint64_t unjudged;      /* stored bars the sampling left unscored */
    uint64_t by_rule[MD_RULE_COUNT];
    uint64_t findings; /* soft findings on accepted bars */
    uint64_t by_check[MD_CHECK_COUNT];
    double seconds;
    int interrupted; /* the stop flag ended the load early */
} md_load_stats;

/* Loads files and directories (every *.csv, *.txt, *.tsv and their .gz under a directory,
 * recursively, sorted by path). Returns 0 when every file could be read (bad rows do not
 * fail a load); MD_ECANCELED when stopped by opt->stop (what was read is stored and
 * checkpointed); a store error when writing failed (the checkpoint covers what was
 * stored); or the first file-level error (unreadable file, unusable header, truncated
 * gzip) after trying every file. */
int md_load_paths(md_writer *w, const char *const *paths, size_t n_paths,
                  const md_load_options *opt, md_load_stats *stats, md_error *err);

/* Chooses the interval for sorted, distinct timestamps: the coarsest interval to which every
 * timestamp is aligned and whose length does not exceed the smallest spacing. -1 when ts is
 * empty. */
int md_infer_interval(const int64_t *ts, size_t n);

/* Writes the summary ("loaded 249 rows from 1 file: 249 stored, 0 rejected, in 0.01 s"),
 * the rejected rows by rule, and the skipped, resumed and failed files. */
void md_load_stats_print(const md_load_stats *s, FILE *f);

#endif
