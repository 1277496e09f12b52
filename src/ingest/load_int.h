/* load_int.h - the bulk loader's pipeline (internal to ingest/).
 *
 *   reader (caller's thread)      parse workers (md_workq)         writer thread
 *   files -> 1 MiB blocks of  --> parse, infer interval, check  --> in input order: reports,
 *   whole lines (zlib for .gz)    rules, group by symbol, sort     batches of rows + the
 *                                                                  files' marks, one store
 *                                                                  transaction per batch
 *
 * Blocks carry a sequence number; workers finish in any order and the writer takes them
 * back in sequence through a ring. Memory is bounded: the reader needs a credit for every
 * block it hands on (at most max_inflight blocks and max_bytes of input alive, from read
 * to commit), so a slow store slows the reader instead of filling memory. Everything a
 * user sees (reports, the reject file, progress, the summary) is written by the writer
 * thread, in input order. */
#ifndef MD_INGEST_LOAD_INT_H
#define MD_INGEST_LOAD_INT_H

#include "core/dict.h"
#include "core/workq.h"
#include "ingest/loader.h"
#include "ingest/progress.h"

#include <pthread.h>
#include <stdint.h>

#define MD_LOAD_BLOCK_BYTES (1u << 20)                                /* input read per block */
#define MD_LOAD_BUF_BYTES (MD_LOAD_BLOCK_BYTES + MD_CSV_MAX_LINE + 1) /* + a line carried over */
#define MD_LOAD_LONG_HEAD 1024 /* bytes of an overlong line kept for the reject file */

/* One input file. Owned by the pipeline for the whole run. Fields are grouped by the
 * thread that writes them. */
typedef struct ld_file {
    char *path; /* as given (messages) */
    char *key;  /* absolute path (checkpoint key) */
    int64_t size, mtime_ns;
    /* reader, before the file's first block is handed on */
    md_csv_layout layout;
    char symbol[MD_SYMBOL_MAX + 1]; /* from --symbol or the file name; "" when from a column */
    md_load_mark resume;            /* where this run starts (zeros: from the beginning) */
    int resumed;
    /* workers, under the pipeline lock: the interval, decided by the first block with rows */
    int iv;           /* md_interval, -1 until decided */
    uint32_t iv_turn; /* index of the block whose turn it is to decide */
    int iv_failed;
    char iv_msg[200];
    /* writer */
    int64_t w_lines, w_offset, w_rows, w_rejected;
    size_t w_reports;
    int w_failed, w_finished;
} ld_file;

/* A rejected line of a block. Messages are derived again by the writer from the line (a
 * reject costs 16 bytes, however many there are); off == UINT32_MAX marks an overlong line
 * the reader skipped. */
typedef struct ld_reject {
    uint32_t line; /* line index inside the block */
    uint32_t off, len;
    uint32_t rule; /* md_rule */
} ld_reject;

typedef enum { LD_DATA = 0, LD_SKIP, LD_FAIL } ld_kind;

typedef struct ld_pipe ld_pipe;

typedef struct ld_block {
    ld_pipe *pipe;
    uint64_t seq;
    ld_kind kind;
    ld_file *file;
    uint32_t index;     /* block index within the file (this run) */
    int last;           /* the file ended cleanly after this block */
    char *data;         /* whole lines; only a file's final line may lack its '\n' */
    size_t len, bytes;  /* data length; bytes charged against the memory budget */
    int64_t end_offset; /* decompressed input offset after this block */
    uint64_t raw_done;  /* input bytes (compressed) of the whole run consumed so far */
    int long_line;      /* line 0 was longer than the buffer and skipped */
    char *long_head;    /* its first bytes (reject file) */
    int fail_rc;        /* LD_FAIL: the file-level error */
    char *fail_msg;
    /* parse results (worker) */
    uint32_t nlines;
    uint64_t rows; /* data rows (non-blank lines) */
    md_bar *bars;
    size_t nbars;
    char (*syms)[MD_SYMBOL_MAX + 1];
    uint32_t nsyms;
    md_series *series;
    size_t nseries;
    ld_reject *rej;
    size_t nrej;
} ld_block;

struct ld_pipe {
    const md_load_options *opt;
    md_writer *w;
    md_load_stats *stats;
    int64_t now;
    int marks; /* checkpoints kept and used */

    ld_file *files;
    size_t nfiles;
    uint64_t total_bytes;

    pthread_mutex_t mu;
    pthread_cond_t credit_cond, ready_cond, iv_cond;
    size_t inflight, inflight_bytes, max_inflight, max_bytes;
    ld_block **ring; /* max_inflight slots, indexed by seq % max_inflight */
    uint64_t next_seq, write_seq;
    int reader_done;
    int abort; /* the writer failed: stop reading, drop what is left */
    int abort_rc;
    md_error abort_err;

    md_workq *wq;
    uint64_t raw_done; /* reader */

    /* writer */
    int file_rc; /* the first file-level error */
    md_error file_err;
    FILE *rej;
    md_progress prog;
    /* store stage (load_write.c): the batch being written */
    pthread_mutex_t st_mu;
    pthread_cond_t st_cond;
    struct ld_store_job *st_job;
    int st_stop;
    /* sampled validation: "SYMBOL\n<iv>" -> uint64_t pieces of the series seen so far */
    md_dict pieces;
    uint64_t files_done;
    size_t findings_shown; /* soft findings printed (--validate-only) */
};

/* Reads every file and hands its blocks on (load_read.c). Returns when all is read, the
 * stop flag is set, or the writer aborted. */
void md_load__read_all(ld_pipe *p);
/* Worker job: parses, checks and groups one block, then passes it to the writer
 * (load_parse.c). */
void md_load__parse_job(void *block);
/* Writer thread body (load_write.c). */
void *md_load__writer_main(void *pipe);
/* Store thread body (load_write.c): writes the batches the writer hands over. */
void *md_load__store_main(void *pipe);
/* Frees a block and returns its credit. */
void md_load__block_free(ld_pipe *p, ld_block *b);

#endif
