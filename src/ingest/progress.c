/* progress.c - the progress bar and plain progress lines. */
#include "ingest/progress.h"

#include "core/timefmt.h"

#include <unistd.h>

void md_progress_start(md_progress *p, FILE *out, int mode, const char *label, uint64_t total)
{
    p->out = out;
    p->tty = mode == 2 ? (isatty(fileno(out)) ? 1 : 0) : mode;
    p->label = label;
    p->total = total;
    p->done = p->rows = 0;
    p->files_done = p->files_total = 0;
    p->start_ms = p->last_ms = md_mono_ms();
    p->drawn = 0;
}

void md_progress_files(md_progress *p, uint64_t done, uint64_t total)
{
    p->files_done = done;
    p->files_total = total;
}

static void human(char *dst, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(dst, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(dst, n, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(dst, n, "%.1fk", v / 1e3);
    else
        snprintf(dst, n, "%.0f", v);
}

static void draw(md_progress *p, int final)
{
    int64_t now = md_mono_ms();
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)p->rows / secs : 0;
    double frac = p->total ? (double)p->done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    double eta = (frac > 0 && !final) ? secs / frac - secs : 0;
    char rows[16], rs[16], files[48] = "";
    human(rows, sizeof rows, (double)p->rows);
    human(rs, sizeof rs, rate);
    if (p->files_total > 1)
        snprintf(files, sizeof files, p->tty == 1 ? "files %llu/%llu " : " files=%llu/%llu",
                 (unsigned long long)p->files_done, (unsigned long long)p->files_total);
    if (p->tty == 1) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(p->out, "\r%s [%s] %3.0f%% %s%s rows %s rows/s ETA %.0fs   %s", p->label, bar,
                frac * 100, files, rows, rs, eta, final ? "\n" : "");
        p->drawn = !final;
    } else {
        fprintf(p->out, "%s: %.0f%%%s rows=%llu rate=%.0f rows/s elapsed=%.1fs eta=%.0fs%s\n",
                p->label, frac * 100, files, (unsigned long long)p->rows, rate, secs, eta,
                final ? " done" : "");
    }
    fflush(p->out);
    p->last_ms = now;
}

void md_progress_update(md_progress *p, uint64_t done, uint64_t rows)
{
    p->done = done;
    p->rows = rows;
    if (p->tty < 0) return;
    int64_t now = md_mono_ms();
    if (now - p->last_ms < (p->tty ? 100 : 5000)) return;
    draw(p, 0);
}

void md_progress_clear(md_progress *p)
{
    if (p->tty == 1 && p->drawn) {
        fprintf(p->out, "\r\033[K");
        p->drawn = 0;
    }
}

void md_progress_finish(md_progress *p)
{
    if (p->tty < 0) return;
    p->done = p->total ? p->total : p->done;
    draw(p, 1);
}
