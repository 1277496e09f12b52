/* assets.h - a directory of static files served over HTTP (the dashboard's page and the
 * chart libraries' dist files), with a small in-memory cache.
 *
 * A request names a file by a path relative to the set's root ("index.html",
 * "js/app.js"). Aliases map a prefix onto a sub-directory ("lib/uplot/" onto
 * "node_modules/uplot/dist/"), so only the files a page needs are reachable, never the rest
 * of node_modules or package.json. A path is refused (MD_ENOTFOUND, as for a missing file,
 * so nothing is revealed) when it is absolute, has an empty, "." or ".." segment, a hidden
 * segment (".git"), a backslash or a control character, or when the file it reaches is not
 * a regular file inside the root it was asked under (a symlink out of the directory).
 *
 * Files are cached by path (refcounted, bounded in count and bytes). A cached file is
 * served without any system call for MD_ASSETS_RECHECK_MS after its last check; after that
 * md_assets_get() stats it again and rereads it when it changed, so edits under web/ show up
 * on the next reload. Thread-safe. */
#ifndef MD_SERVER_ASSETS_H
#define MD_SERVER_ASSETS_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

#define MD_ASSETS_RECHECK_MS 1000
#define MD_ASSETS_MAX_FILE_BYTES (32u << 20) /* larger files are refused */

typedef struct md_assets md_assets;

/* One file's contents; read-only, shared by the cache and the responses that send it. */
typedef struct md_asset {
    const char *data;
    size_t len;
    const char *content_type; /* static string */
    char etag[48];            /* quoted, from inode, size and mtime */
    int64_t mtime;            /* seconds since the epoch */
} md_asset;

/* An alias: requests under prefix (ending in '/') are served from dir (relative to the
 * root, no trailing '/'). */
typedef struct md_assets_alias {
    const char *prefix;
    const char *dir;
} md_assets_alias;

/* Opens the file set rooted at dir (which must exist). aliases (may be NULL when n is 0)
 * must outlive the set. Paths equal to one of hidden[] (NULL-terminated list of root
 * relative paths or first segments, may be NULL) are refused. Returns 0 with *out set (free
 * with md_assets_free), or MD_ENOTFOUND when dir is not a directory. */
int md_assets_open(const char *dir, const md_assets_alias *aliases, size_t n_aliases,
                   const char *const *hidden, md_assets **out, md_error *err);
/* Frees the set; files still held by responses stay valid until released. NULL is fine. */
void md_assets_free(md_assets *a);
/* Test hook: the monotonic clock (milliseconds) MD_ASSETS_RECHECK_MS is measured on, so a
 * test moves time instead of sleeping; NULL restores md_mono_ms. Set before use. */
void md_assets_set_clock(md_assets *a, int64_t (*mono_ms)(void *ctx), void *ctx);

/* Gets the file at rel. When cached_only is set it does no I/O: 0 for a fresh cache hit,
 * MD_EAGAIN when the file must be (re)checked on the disk. Otherwise 0, or MD_ENOTFOUND
 * (missing, refused, not a regular file), MD_ETOOBIG (over MD_ASSETS_MAX_FILE_BYTES) or
 * MD_EIO. On success *out holds a reference the caller releases with md_asset_release. */
int md_assets_get(md_assets *a, const char *rel, int cached_only, md_asset **out, md_error *err);
/* Drops a reference from md_assets_get. NULL is fine. */
void md_asset_release(md_asset *f);

/* Whether a file exists under rel (same rules as md_assets_get, not cached). */
int md_assets_exists(md_assets *a, const char *rel);

/* Checks the form of a relative request path (no file system access): 0 or MD_ENOTFOUND
 * with the reason in err. */
int md_assets_check_path(const char *rel, md_error *err);
/* The Content-Type for a file name, from its extension ("application/octet-stream" when
 * unknown). Text types carry "; charset=utf-8". */
const char *md_assets_content_type(const char *name);

#endif
