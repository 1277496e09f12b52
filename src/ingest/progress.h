/* progress.h - progress for long work (load, migrate, backfill).
 *
 * On a terminal: one redrawn line with a bar, files, rows, rows/s and ETA. Otherwise: a plain
 * line every few seconds, so logs stay readable. Output goes to the FILE given. */
#ifndef MD_INGEST_PROGRESS_H
#define MD_INGEST_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct md_progress {
    FILE *out;
    int tty; /* draw a bar (1) or print plain lines (0); -1 = silent */
    const char *label;
    uint64_t total; /* units of work (bytes, rows, chunks); 0 when unknown */
    uint64_t done;
    uint64_t rows;
    uint64_t files_done, files_total; /* shown when files_total > 1 */
    int64_t start_ms, last_ms;
    int drawn;
} md_progress;

/* mode: 1 force bar, 0 force plain lines, -1 silent, 2 auto (bar when out is a tty). */
void md_progress_start(md_progress *p, FILE *out, int mode, const char *label, uint64_t total);
/* Reports progress; redraws at most ~10 times a second (plain lines every 5 s). */
void md_progress_update(md_progress *p, uint64_t done, uint64_t rows);
/* Files done out of how many (a load of several files shows "files 3/20"). */
void md_progress_files(md_progress *p, uint64_t done, uint64_t total);
/* Final line. */
void md_progress_finish(md_progress *p);
/* Clears a drawn bar so a message can be printed on its own line. */
void md_progress_clear(md_progress *p);

#endif
