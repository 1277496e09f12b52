/* assets.c - static files from one directory, path checks, content types and a small cache.
 *
 * Lookup of "lib/uplot/uPlot.esm.js":
 *
 *   check form (no "..", ".x", "//", "\", control chars) -> hidden? -> alias -> base dir
 *   -> realpath(base/rest) must stay under realpath(base) and be a regular file -> read
 *
 * The cache holds at most MAX_SLOTS files and MAX_CACHE_BYTES; the least recently used file
 * goes first. A file and its bytes are one refcounted block, so a response can keep sending
 * a file that the cache has since dropped or replaced. */
#include "server/assets.h"

#include "core/mem.h"
#include "core/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SLOTS 64
#define MAX_CACHE_BYTES (16u << 20)
#define MAX_CACHED_FILE_BYTES (4u << 20)
#define MAX_REL_BYTES 1024

typedef struct file {
    md_asset pub; /* first: an md_asset * is the file's address */
    atomic_int refs;
    char *buf;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} file;

typedef struct slot {
    char *rel; /* NULL when free */
    file *f;
    int64_t checked_ms;
    uint64_t used;
} slot;

struct md_assets {
    char *root; /* realpath */
    const md_assets_alias *aliases;
    size_t n_aliases;
    const char *const *hidden;
    pthread_mutex_t lock; /* guards slots, bytes, tick */
    slot slots[MAX_SLOTS];
    size_t bytes;
    uint64_t tick;
    int64_t (*mono_ms)(void *ctx); /* the recheck clock: md_mono_ms unless a test sets one */
    void *clock_ctx;
};

/* -- content types ---------------------------------------------------------------------- */

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"webmanifest", "application/manifest+json"},
};

const char *md_assets_content_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return "application/octet-stream";
    for (size_t i = 0; i < MD_ARRAY_LEN(types); i++)
        if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* -- path checks ------------------------------------------------------------------------ */

int md_assets_check_path(const char *rel, md_error *err)
{
    size_t n = strlen(rel);
    if (n == 0) return md_error_set(err, MD_ENOTFOUND, "empty file name");
    if (n > MAX_REL_BYTES) return md_error_set(err, MD_ENOTFOUND, "file name too long");
    if (rel[0] == '/') return md_error_set(err, MD_ENOTFOUND, "absolute paths are not served");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (c < 0x20 || c == 0x7f)
            return md_error_set(err, MD_ENOTFOUND, "control character in file name");
        if (c == '\\') return md_error_set(err, MD_ENOTFOUND, "backslash in file name");
    }
    for (const char *seg = rel;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0) return md_error_set(err, MD_ENOTFOUND, "empty path segment");
        if (seg[0] == '.') /* ".", ".." and hidden files */
            return md_error_set(err, MD_ENOTFOUND, "path segment starting with '.' is not served");
        if (!end) break;
        seg = end + 1;
    }
    return 0;
}

static int is_hidden(const md_assets *a, const char *rel)
{
    for (const char *const *h = a->hidden; h && *h; h++) {
        size_t n = strlen(*h);
        if (strncmp(rel, *h, n) == 0 && (rel[n] == 0 || rel[n] == '/')) return 1;
    }
    return 0;
}

/* Resolves rel to a real path under its base; fills *st. 0 or MD_ENOTFOUND. */
static int resolve(const md_assets *a, const char *rel, char *real, struct stat *st, md_error *err)
{
    int rc = md_assets_check_path(rel, err);
    if (rc) return rc;
    if (is_hidden(a, rel)) return md_error_set(err, MD_ENOTFOUND, "not a served file");
    char base[PATH_MAX];
    const char *sub = rel;
    snprintf(base, sizeof base, "%s", a->root);
    for (size_t i = 0; i < a->n_aliases; i++) {
        size_t pl = strlen(a->aliases[i].prefix);
        if (strncmp(rel, a->aliases[i].prefix, pl) != 0) continue;
        if ((size_t)snprintf(base, sizeof base, "%s/%s", a->root, a->aliases[i].dir) >= sizeof base)
            return md_error_set(err, MD_ENOTFOUND, "path too long");
        sub = rel + pl;
        if (!*sub) return md_error_set(err, MD_ENOTFOUND, "no file name");
        break;
    }
    char base_real[PATH_MAX], full[PATH_MAX + MAX_REL_BYTES + 2];
    if (!realpath(base, base_real)) return md_error_set(err, MD_ENOTFOUND, "no such file");
    snprintf(full, sizeof full, "%s/%s", base_real, sub);
    if (!realpath(full, real)) return md_error_set(err, MD_ENOTFOUND, "no such file");
    size_t bl = strlen(base_real);
    if (strncmp(real, base_real, bl) != 0 || real[bl] != '/')
        return md_error_set(err, MD_ENOTFOUND, "file outside the served directory");
    if (stat(real, st) != 0 || !S_ISREG(st->st_mode))
        return md_error_set(err, MD_ENOTFOUND, "not a regular file");
    return 0;
}

/* -- files ------------------------------------------------------------------------------ */

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int same_file(const file *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtime_ns == mtime_ns(st);
}

static void file_ref(file *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void md_asset_release(md_asset *pub)
{
    if (!pub) return;
    file *f = (file *)pub;
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        md_free(f->buf);
        md_free(f);
    }
}

static int read_file(const char *real, const char *rel, file **out, md_error *err)
{
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return md_error_set(err, MD_ENOTFOUND, "no such file");
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return md_error_set(err, MD_ENOTFOUND, "not a regular file");
    }
    if ((uint64_t)st.st_size > MD_ASSETS_MAX_FILE_BYTES) {
        close(fd);
        return md_error_set(err, MD_ETOOBIG, "file larger than %u bytes", MD_ASSETS_MAX_FILE_BYTES);
    }
    size_t want = (size_t)st.st_size, got = 0;
    char *buf = md_malloc(want + 1);
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != want) {
        md_free(buf);
        return md_error_set(err, MD_EIO, "short read on a dashboard file");
    }
    buf[got] = 0;
    file *f = md_calloc(1, sizeof *f);
    atomic_init(&f->refs, 1);
    f->buf = buf;
    f->pub.data = buf;
    f->pub.len = got;
    f->pub.content_type = md_assets_content_type(rel);
    f->pub.mtime = (int64_t)st.st_mtim.tv_sec;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = st.st_size;
    f->mtime_ns = mtime_ns(&st);
    snprintf(f->pub.etag, sizeof f->pub.etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
             (unsigned long long)st.st_size, (unsigned long long)f->mtime_ns);
    *out = f;
    return 0;
}

/* -- the cache (lock held) ---------------------------------------------------------------- */

static slot *find(md_assets *a, const char *rel)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        if (a->slots[i].rel && strcmp(a->slots[i].rel, rel) == 0) return &a->slots[i];
    return NULL;
}

static void slot_clear(md_assets *a, slot *s)
{
    a->bytes -= s->f->pub.len;
    md_asset_release(&s->f->pub);
    md_free(s->rel);
    memset(s, 0, sizeof *s);
}

static slot *lru(md_assets *a)
{
    slot *best = NULL;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (a->slots[i].rel && (!best || a->slots[i].used < best->used)) best = &a->slots[i];
    return best;
}

static void insert(md_assets *a, const char *rel, file *f, int64_t now)
{
    slot *s = find(a, rel);
    if (s) slot_clear(a, s);
    if (f->pub.len > MAX_CACHED_FILE_BYTES) return;
    while (a->bytes + f->pub.len > MAX_CACHE_BYTES) slot_clear(a, lru(a));
    s = NULL;
    for (int i = 0; i < MAX_SLOTS && !s; i++)
        if (!a->slots[i].rel) s = &a->slots[i];
    if (!s) {
        s = lru(a);
        slot_clear(a, s);
    }
    s->rel = md_strdup(rel);
    s->f = f;
    file_ref(f);
    s->checked_ms = now;
    s->used = ++a->tick;
    a->bytes += f->pub.len;
}

/* -- the set ------------------------------------------------------------------------------ */

int md_assets_open(const char *dir, const md_assets_alias *aliases, size_t n_aliases,
                   const char *const *hidden, md_assets **out, md_error *err)
{
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return md_error_set(err, MD_ENOTFOUND, "dashboard directory '%s' not found", dir);
    md_assets *a = md_calloc(1, sizeof *a);
    a->root = md_strdup(real);
    a->aliases = aliases;
    a->n_aliases = n_aliases;
    a->hidden = hidden;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void md_assets_free(md_assets *a)
{
    if (!a) return;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (a->slots[i].rel) slot_clear(a, &a->slots[i]);
    pthread_mutex_destroy(&a->lock);
    md_free(a->root);
    md_free(a);
}

void md_assets_set_clock(md_assets *a, int64_t (*mono_ms)(void *ctx), void *ctx)
{
    a->mono_ms = mono_ms;
    a->clock_ctx = ctx;
}

int md_assets_get(md_assets *a, const char *rel, int cached_only, md_asset **out, md_error *err)
{
    int64_t now = a->mono_ms ? a->mono_ms(a->clock_ctx) : md_mono_ms();
    pthread_mutex_lock(&a->lock);
    slot *s = find(a, rel);
    if (s && now - s->checked_ms < MD_ASSETS_RECHECK_MS) {
        s->used = ++a->tick;
        file_ref(s->f);
        *out = &s->f->pub;
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    pthread_mutex_unlock(&a->lock);
    if (cached_only) return MD_EAGAIN;

    char real[PATH_MAX];
    struct stat st;
    int rc = resolve(a, rel, real, &st, err);
    if (rc) {
        pthread_mutex_lock(&a->lock);
        if ((s = find(a, rel))) slot_clear(a, s); /* deleted since: forget it */
        pthread_mutex_unlock(&a->lock);
        return rc;
    }
    pthread_mutex_lock(&a->lock);
    s = find(a, rel);
    if (s && same_file(s->f, &st)) {
        s->checked_ms = now;
        s->used = ++a->tick;
        file_ref(s->f);
        *out = &s->f->pub;
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    pthread_mutex_unlock(&a->lock);

    file *f = NULL;
    if ((rc = read_file(real, rel, &f, err))) return rc;
    pthread_mutex_lock(&a->lock);
    insert(a, rel, f, now);
    pthread_mutex_unlock(&a->lock);
    *out = &f->pub;
    return 0;
}

int md_assets_exists(md_assets *a, const char *rel)
{
    char real[PATH_MAX];
    struct stat st;
    md_error err;
    return resolve(a, rel, real, &st, &err) == 0;
}
