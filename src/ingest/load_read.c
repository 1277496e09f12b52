/* load_read.c - the reader: every file into blocks of whole lines.
 *
 * One thread reads (zlib's gzread, which passes plain files through), so files are read in
 * order and each block can be numbered. Per file: look its checkpoint up (skip a finished
 * file, resume an unfinished one), detect the header, then cut ~1 MiB blocks at the last
 * line end and hand them on; the partial line after the cut starts the next block. A line
 * longer than the buffer is skipped to its end and reported as one bad row. */
#include "ingest/load_int.h"

#include "core/log.h"
#include "core/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <zlib.h>

static ld_block *block_new(ld_pipe *p, ld_file *f, ld_kind kind, uint32_t index)
{
    ld_block *b = md_calloc(1, sizeof *b);
    b->pipe = p;
    b->file = f;
    b->kind = kind;
    b->index = index;
    return b;
}

/* Waits for a credit (room in the memory budget) and hands the block to the workers. */
static void submit(ld_pipe *p, ld_block *b)
{
    pthread_mutex_lock(&p->mu);
    while (p->inflight >= p->max_inflight ||
           (p->inflight > 0 && p->inflight_bytes + b->bytes > p->max_bytes))
        pthread_cond_wait(&p->credit_cond, &p->mu);
    b->seq = p->next_seq++;
    b->raw_done = p->raw_done;
    p->inflight++;
    p->inflight_bytes += b->bytes;
    pthread_mutex_unlock(&p->mu);
    md_workq_submit(p->wq, md_load__parse_job, b);
}

static void submit_fail(ld_pipe *p, ld_file *f, uint32_t index, int rc, int at_end, const char *fmt,
                        ...) __attribute__((format(printf, 6, 7)));

/* A file-level error, handed on in order like the data before it. at_end: after data (the
 * writer adds the line it happened after). */
static void submit_fail(ld_pipe *p, ld_file *f, uint32_t index, int rc, int at_end, const char *fmt,
                        ...)
{
    ld_block *b = block_new(p, f, LD_FAIL, index);
    b->fail_rc = rc;
    b->last = at_end; /* reused: 1 = the error came after some of the file was read */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->fail_msg = md_strdup(msg);
    submit(p, b);
}

static int aborting(ld_pipe *p)
{
    return __atomic_load_n(&p->abort, __ATOMIC_ACQUIRE);
}

static int stop_requested(ld_pipe *p)
{
    if (p->opt->stop && *p->opt->stop) {
        p->stats->interrupted = 1;
        return 1;
    }
    return 0;
}

/* The open input of the file being read. A read error ends the input like the end of the
 * file does (eof), and sticks: what was read before it is still handed on, up to its last
 * whole line. */
typedef struct {
    gzFile gz;
    int eof, err;
    char msg[256];
    uint64_t raw_base;
} input;

/* Reads until *have >= target or the end of the input. */
static void fill(ld_pipe *p, input *in, char *buf, size_t *have, size_t target)
{
    while (*have < target && !in->eof) {
        /* modest reads: when a gzip stream turns out cut short, zlib drops what the failing
         * call had decoded, so this bounds what a truncated file loses to 128 KiB */
        size_t want = target - *have;
        if (want > 128 * 1024) want = 128 * 1024;
        int n = gzread(in->gz, buf + *have, (unsigned)want);
        if (n <= 0) {
            in->eof = 1;
            int zerr = Z_OK;
            const char *m = gzerror(in->gz, &zerr);
            if (n < 0 || zerr != Z_OK) { /* Z_BUF_ERROR: a gzip stream cut short */
                in->err = 1;
                snprintf(in->msg, sizeof in->msg, "%s",
                         zerr == Z_BUF_ERROR ? "truncated gzip file: unexpected end of file"
                         : zerr == Z_ERRNO   ? strerror(errno)
                                             : m);
            }
            break;
        }
        *have += (size_t)n;
    }
    z_off_t raw = gzoffset(in->gz);
    if (raw >= 0) p->raw_done = in->raw_base + (uint64_t)raw;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* Looks the file's checkpoint up. Returns 1 when the file is already loaded to the end. */
static int check_mark(ld_pipe *p, ld_file *f)
{
    if (!p->marks || p->opt->restart) return 0;
    md_load_mark m;
    md_error e;
    if (md_store_get_load_mark(md_writer_store(p->w), f->key, &m, &e) != 0) return 0;
    if (m.size != f->size || m.mtime_ns != f->mtime_ns) {
        MD_INFO("load", "file changed since its checkpoint; loading it again file=%s", f->path);
        return 0;
    }
    if (m.done) return 1;
    f->resume = m;
    f->resume.path = f->key;
    f->resumed = 1;
    return 0;
}

/* Reads the header. Returns 0 with *pos just after the header line, or -1 after handing on
 * a failure. */
static int read_header(ld_pipe *p, ld_file *f, input *in, char *buf, size_t *have, size_t *pos,
                       int64_t *lines)
{
    md_error e;
    for (;;) {
        char *nl = memchr(buf + *pos, '\n', *have - *pos);
        size_t len;
        if (nl) {
            len = (size_t)(nl - (buf + *pos));
        } else if (in->eof) {
            len = *have - *pos;
            if (in->err) {
                submit_fail(p, f, 0, MD_EIO, 0, "%s: %s", f->path, in->msg);
                return -1;
            }
            if (len == 0 || blank(buf + *pos, len)) {
                submit_fail(p, f, 0, MD_ECSV, 0, "%s: empty file (no header line)", f->path);
                return -1;
            }
        } else {
            if (*pos) {
                memmove(buf, buf + *pos, *have - *pos);
                *have -= *pos;
                *pos = 0;
            }
            if (*have == MD_LOAD_BUF_BYTES) {
                submit_fail(p, f, 0, MD_ECSV, 0, "%s:%lld: header line longer than %u bytes",
                            f->path, (long long)*lines + 1, (unsigned)MD_LOAD_BUF_BYTES);
                return -1;
            }
            fill(p, in, buf, have, MD_LOAD_BUF_BYTES);
            continue;
        }
        ++*lines;
        const char *line = buf + *pos;
        *pos += nl ? len + 1 : len;
        if (*lines == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
            line += 3, len -= 3; /* a UTF-8 BOM, also before blank lines */
        if (blank(line, len)) continue;
        if (md_csv_detect(line, len, p->opt->format, &f->layout, &e) != 0) {
            submit_fail(p, f, 0, e.rc, 0, "%s:%lld: %s", f->path, (long long)*lines, e.msg);
            return -1;
        }
        if (f->layout.c_symbol < 0 && !f->symbol[0] &&
            md_csv_symbol_from_path(f->path, f->symbol, &e) != 0) {
            submit_fail(p, f, 0, e.rc, 0, "%s", e.msg);
            return -1;
        }
        return 0;
    }
}

static void read_file(ld_pipe *p, ld_file *f)
{
    const md_load_options *opt = p->opt;
    uint64_t raw_base = p->raw_done;
    md_error e;
    if (opt->symbol && md_symbol_normalize_str(opt->symbol, f->symbol, &e) != 0) {
        submit_fail(p, f, 0, e.rc, 0, "%s: --symbol: %s", f->path, e.msg);
        return;
    }
    if (check_mark(p, f)) {
        p->raw_done = raw_base + (uint64_t)f->size;
        submit(p, block_new(p, f, LD_SKIP, 0));
        return;
    }
    input in = {.raw_base = raw_base};
    gzFile gz = in.gz = gzopen(f->path, "rb");
    if (!gz) {
        submit_fail(p, f, 0, MD_EIO, 0, "%s: cannot open: %s", f->path,
                    errno ? strerror(errno) : "out of memory");
        return;
    }
    gzbuffer(gz, 256 * 1024);

    char *buf = md_malloc(MD_LOAD_BUF_BYTES);
    size_t have = 0, pos = 0;
    int64_t lines = 0;
    uint32_t index = 0;
    if (read_header(p, f, &in, buf, &have, &pos, &lines) != 0) goto done;

    /* where the first block starts: after the header, or at the checkpoint */
    int64_t buf_off = 0; /* decompressed offset of buf[0] */
    if (f->resumed && !in.err && f->resume.offset > (int64_t)pos && f->resume.lines >= lines) {
        if (gzseek(gz, (z_off_t)f->resume.offset, SEEK_SET) < 0) {
            int zerr;
            submit_fail(p, f, 0, MD_EIO, 0, "%s: cannot seek to the checkpoint at byte %lld: %s",
                        f->path, (long long)f->resume.offset, gzerror(gz, &zerr));
            goto done;
        }
        buf_off = f->resume.offset;
        have = pos = 0;
        in.eof = 0;
        lines = f->resume.lines;
        if (f->resume.interval >= 0 && f->resume.interval < MD_IV_COUNT) f->iv = f->resume.interval;
        f->w_rows = f->resume.rows;
        f->w_rejected = f->resume.rejected;
    } else {
        f->resumed = 0;
    }
    if (opt->interval >= 0) f->iv = opt->interval;
    f->w_lines = lines;
    f->w_offset = buf_off + (int64_t)pos;

    int skipping = 0;
    char *long_head = NULL;
    for (;;) {
        if (stop_requested(p) || aborting(p)) break;
        if (__atomic_load_n(&f->iv_failed, __ATOMIC_ACQUIRE)) break; /* reported by the writer */
        if (pos) {
            memmove(buf, buf + pos, have - pos);
            buf_off += (int64_t)pos;
            have -= pos;
            pos = 0;
        }
        size_t target = MD_LOAD_BLOCK_BYTES;
        char *cut = NULL;
        for (;;) { /* fill until a line end is in the buffer, or it is full, or the end */
            fill(p, &in, buf, &have, target);
            cut = have ? memrchr(buf, '\n', have) : NULL;
            if (cut || in.eof || have == MD_LOAD_BUF_BYTES) break;
            target = MD_LOAD_BUF_BYTES;
        }
        if (skipping) { /* inside an overlong line: drop bytes up to its end */
            char *nl = memchr(buf, '\n', have);
            if (!nl && !in.eof) {
                buf_off += (int64_t)have;
                have = 0;
                continue;
            }
            if (!nl && in.err) break; /* reported below */
            size_t drop = nl ? (size_t)(nl - buf) + 1 : have;
            ld_block *b = block_new(p, f, LD_DATA, index++);
            b->long_line = 1;
            b->long_head = long_head;
            long_head = NULL;
            b->end_offset = buf_off + (int64_t)drop;
            int last = b->last = in.eof && !in.err && drop == have;
            skipping = 0;
            pos = drop;
            submit(p, b); /* b belongs to the pipeline now */
            if (last) break;
            continue;
        }
        size_t dlen;
        if (cut) {
            dlen = (size_t)(cut - buf) + 1;
        } else if (in.err) {
            dlen = 0; /* a partial line before a read error is not a row */
        } else if (in.eof) {
            dlen = have; /* the final line has no line end */
        } else {         /* a full buffer and no line end: an overlong line */
            long_head = md_malloc(MD_LOAD_LONG_HEAD + 1);
            memcpy(long_head, buf, MD_LOAD_LONG_HEAD);
            long_head[MD_LOAD_LONG_HEAD] = 0;
            skipping = 1;
            buf_off += (int64_t)have;
            have = 0;
            continue;
        }
        int last = in.eof && !in.err && dlen == have;
        if (in.err && dlen == 0) break;
        ld_block *b = block_new(p, f, LD_DATA, index++);
        char *next = md_malloc(MD_LOAD_BUF_BYTES);
        memcpy(next, buf + dlen, have - dlen);
        if (dlen < MD_LOAD_BUF_BYTES / 4) { /* keep small blocks small (many small files) */
            b->data = md_realloc(buf, dlen ? dlen : 1);
            b->bytes = dlen;
        } else {
            b->data = buf;
            b->bytes = MD_LOAD_BUF_BYTES;
        }
        b->len = dlen;
        b->end_offset = buf_off + (int64_t)dlen;
        b->last = last;
        buf = next;
        buf_off += (int64_t)dlen;
        have -= dlen;
        submit(p, b);
        if (last || (in.err && !memchr(buf, '\n', have))) break;
    }
    if (in.err && !stop_requested(p) && !aborting(p))
        submit_fail(p, f, index++, MD_EIO, 1, "%s: %s", f->path, in.msg);
    md_free(long_head);
done:
    md_free(buf);
    gzclose(gz);
    p->raw_done = raw_base + (uint64_t)f->size;
}

void md_load__read_all(ld_pipe *p)
{
    for (size_t i = 0; i < p->nfiles; i++) {
        if (stop_requested(p) || aborting(p)) break;
        read_file(p, &p->files[i]);
    }
}
