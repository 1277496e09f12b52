/* Static files for the dashboard (server/assets): path checks, content types, aliases,
 * hidden files, symlinks out of the directory, the cache and its recheck after edits. */
#include "server/assets.h"

#include "testutil.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const md_assets_alias aliases[] = {{"lib/pkg/", "node_modules/pkg/dist"}};
static const char *const hidden[] = {"node_modules", "package.json", NULL};

static char root[600];

/* The cache's recheck clock (md_assets_set_clock): tests move it instead of sleeping. */
static int64_t fake_ms = 1000000;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_ms;
}

static void past_recheck(void)
{
    fake_ms += MD_ASSETS_RECHECK_MS;
}

/* Sets a file's mtime explicitly (an edit within the file system's timestamp granularity
 * could otherwise keep the old one). */
static void set_mtime(const char *rel, time_t when)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    struct timespec ts[2] = {{when, 0}, {when, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0, "utimensat %s", p);
}

static void mk(const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    md_test_write(p, text);
}

static void mkd(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

static char base[400];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* A fresh directory per test (mkdtemp: PIDs are reused across runs, paths must not be). */
static void setup(void)
{
    const char *tmp = getenv("MDTEST_TMP");
    if (!tmp) tmp = "/tmp";
    mkdir(tmp, 0755);
    snprintf(base, sizeof base, "%s/assets-XXXXXX", tmp);
    cr_assert_not_null(mkdtemp(base));
    snprintf(root, sizeof root, "%s/web", base);
    cr_assert_eq(mkdir(root, 0755), 0);
    mk("index.html", "<!doctype html><p>hi</p>");
    mkd("js");
    mk("js/app.js", "export const x = 1;\n");
    mk("package.json", "{}");
    mkd("node_modules");
    mkd("node_modules/pkg");
    mkd("node_modules/pkg/dist");
    mk("node_modules/pkg/dist/pkg.mjs", "export default 42;\n");
    mk("node_modules/pkg/package.json", "{\"name\":\"pkg\"}");
    mk(".secret", "no");
}

static void teardown(void)
{
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(assets, .init = setup, .fini = teardown);

static md_assets *open_set(void)
{
    md_assets *a = NULL;
    md_error err;
    cr_assert_eq(md_assets_open(root, aliases, 1, hidden, &a, &err), 0, "%s", err.msg);
    md_assets_set_clock(a, fake_clock, NULL);
    return a;
}

/* 0 and the file's text, or the error code. */
static int get(md_assets *a, const char *rel, char *text, size_t n)
{
    md_asset *f = NULL;
    md_error err;
    int rc = md_assets_get(a, rel, 0, &f, &err);
    if (rc) return rc;
    snprintf(text, n, "%.*s", (int)f->len, f->data);
    md_asset_release(f);
    return 0;
}

Test(assets, check_path_accepts_plain_relative_paths)
{
    md_error err;
    const char *ok[] = {"index.html", "js/app.js", "lib/uplot/uPlot.esm.js", "a-b_c.1.js",
                        "x..y.js"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_expect_eq(md_assets_check_path(ok[i], &err), 0, "%s: %s", ok[i], err.msg);
}

Test(assets, check_path_refuses_traversal_and_odd_names)
{
    md_error err;
    const char *bad[] = {"",
                         "/etc/passwd",
                         "../etc/passwd",
                         "js/../../x",
                         "..",
                         ".",
                         "./index.html",
                         "js//app.js",
                         "js/",
                         ".git/config",
                         "js/.hidden",
                         "a\\..\\b",
                         "a\x01"
                         "b",
                         "a\x7f"
                         "b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(md_assets_check_path(bad[i], &err), MD_ENOTFOUND, "accepted '%s'", bad[i]);
        cr_expect(err.msg[0], "no reason for '%s'", bad[i]);
    }
    char longname[2048];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cr_expect_eq(md_assets_check_path(longname, &err), MD_ENOTFOUND);
}

Test(assets, content_types_by_extension)
{
    cr_expect_str_eq(md_assets_content_type("index.html"), "text/html; charset=utf-8");
    cr_expect_str_eq(md_assets_content_type("js/app.js"), "text/javascript; charset=utf-8");
    cr_expect_str_eq(md_assets_content_type("lib/x/a.standalone.production.mjs"),
                     "text/javascript; charset=utf-8");
    cr_expect_str_eq(md_assets_content_type("css/site.CSS"), "text/css; charset=utf-8");
    cr_expect_str_eq(md_assets_content_type("favicon.svg"), "image/svg+xml");
    cr_expect_str_eq(md_assets_content_type("a.png"), "image/png");
    cr_expect_str_eq(md_assets_content_type("a.json"), "application/json");
    cr_expect_str_eq(md_assets_content_type("a.woff2"), "font/woff2");
    cr_expect_str_eq(md_assets_content_type("README"), "application/octet-stream");
    cr_expect_str_eq(md_assets_content_type(".bashrc"), "application/octet-stream");
    cr_expect_str_eq(md_assets_content_type("dir.js/file"), "application/octet-stream");
    cr_expect_str_eq(md_assets_content_type("a.exe"), "application/octet-stream");
}

Test(assets, serves_files_with_their_type)
{
    md_assets *a = open_set();
    md_asset *f = NULL;
    md_error err;
    cr_assert_eq(md_assets_get(a, "js/app.js", 0, &f, &err), 0, "%s", err.msg);
    cr_expect_eq(f->len, strlen("export const x = 1;\n"));
    cr_expect_eq(memcmp(f->data, "export const x = 1;\n", f->len), 0);
    cr_expect_str_eq(f->content_type, "text/javascript; charset=utf-8");
    cr_expect(f->etag[0] == '"');
    md_asset_release(f);
    md_assets_free(a);
}

Test(assets, alias_reaches_only_the_dist_directory)
{
    md_assets *a = open_set();
    char t[256];
    cr_expect_eq(get(a, "lib/pkg/pkg.mjs", t, sizeof t), 0);
    cr_expect_str_eq(t, "export default 42;\n");
    cr_expect_eq(get(a, "lib/pkg/package.json", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "lib/pkg/", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "lib/other/x.js", t, sizeof t), MD_ENOTFOUND);
    md_assets_free(a);
}

Test(assets, hidden_and_dot_files_are_not_served)
{
    md_assets *a = open_set();
    char t[256];
    cr_expect_eq(get(a, "package.json", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "node_modules/pkg/dist/pkg.mjs", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "node_modules", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, ".secret", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "missing.js", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "js", t, sizeof t), MD_ENOTFOUND, "a directory is not a file");
    md_assets_free(a);
}

Test(assets, symlinks_out_of_the_directory_are_refused)
{
    char p[1024];
    char outside[600];
    snprintf(outside, sizeof outside, "%s/outside.txt", base);
    md_test_write(outside, "secret");
    snprintf(p, sizeof p, "%s/escape.txt", root);
    cr_assert_eq(symlink(outside, p), 0);
    snprintf(p, sizeof p, "%s/etc", root);
    cr_assert_eq(symlink("/etc", p), 0);
    snprintf(p, sizeof p, "%s/inside.js", root);
    cr_assert_eq(symlink("js/app.js", p), 0);
    /* a link inside the alias directory pointing back into the root is out of that base */
    snprintf(p, sizeof p, "%s/node_modules/pkg/dist/up.json", root);
    cr_assert_eq(symlink("../package.json", p), 0);

    md_assets *a = open_set();
    char t[256];
    cr_expect_eq(get(a, "escape.txt", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "etc/passwd", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "lib/pkg/up.json", t, sizeof t), MD_ENOTFOUND);
    cr_expect_eq(get(a, "inside.js", t, sizeof t), 0, "a link that stays inside is fine");
    cr_expect_str_eq(t, "export const x = 1;\n");
    md_assets_free(a);
}

Test(assets, cached_only_answers_hits_and_asks_for_a_worker_on_misses)
{
    md_assets *a = open_set();
    md_asset *f = NULL;
    md_error err;
    cr_expect_eq(md_assets_get(a, "index.html", 1, &f, &err), MD_EAGAIN, "not read yet");
    cr_assert_eq(md_assets_get(a, "index.html", 0, &f, &err), 0);
    md_asset_release(f);
    f = NULL;
    cr_expect_eq(md_assets_get(a, "index.html", 1, &f, &err), 0, "fresh hit without I/O");
    cr_expect_eq(f->len, strlen("<!doctype html><p>hi</p>"));
    md_asset_release(f);
    md_assets_free(a);
}

Test(assets, edited_file_is_reread_after_the_recheck_period)
{
    md_assets *a = open_set();
    char t[256];
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    md_asset *held = NULL;
    md_error err;
    cr_assert_eq(md_assets_get(a, "js/app.js", 0, &held, &err), 0);
    mk("js/app.js", "export const x = 2; // edited\n");
    set_mtime("js/app.js", 1700000000);
    /* within the recheck period the cached copy is served without looking at the disk */
    fake_ms += MD_ASSETS_RECHECK_MS - 1;
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    cr_expect_str_eq(t, "export const x = 1;\n");
    past_recheck();
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    cr_expect_str_eq(t, "export const x = 2; // edited\n");
    /* a response still holding the old file keeps valid bytes */
    cr_expect_eq(memcmp(held->data, "export const x = 1;\n", held->len), 0);
    md_asset_release(held);
    md_assets_free(a);
}

Test(assets, an_edit_that_keeps_size_is_seen_by_its_mtime)
{
    mk("js/app.js", "export const x = 1;\n");
    set_mtime("js/app.js", 1700000000);
    md_assets *a = open_set();
    char t[256];
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    mk("js/app.js", "export const x = 9;\n"); /* same size, same inode */
    set_mtime("js/app.js", 1700000000);
    past_recheck();
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    cr_expect_str_eq(t, "export const x = 1;\n", "same size, inode and mtime: not reread");
    set_mtime("js/app.js", 1700000001);
    past_recheck();
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    cr_expect_str_eq(t, "export const x = 9;\n", "a new mtime: reread");
    md_assets_free(a);
}

Test(assets, deleted_file_is_forgotten)
{
    md_assets *a = open_set();
    char t[256], p[1024];
    cr_assert_eq(get(a, "js/app.js", t, sizeof t), 0);
    snprintf(p, sizeof p, "%s/js/app.js", root);
    unlink(p);
    past_recheck();
    cr_expect_eq(get(a, "js/app.js", t, sizeof t), MD_ENOTFOUND);
    md_asset *f = NULL;
    md_error err;
    cr_expect_eq(md_assets_get(a, "js/app.js", 1, &f, &err), MD_EAGAIN, "no stale hit");
    md_assets_free(a);
}

Test(assets, oversized_file_is_refused)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/huge.js", root);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)MD_ASSETS_MAX_FILE_BYTES + 1), 0); /* sparse */
    close(fd);
    md_assets *a = open_set();
    char t[16];
    cr_expect_eq(get(a, "huge.js", t, sizeof t), MD_ETOOBIG);
    md_assets_free(a);
}

Test(assets, many_files_stay_within_the_cache_bounds)
{
    md_assets *a = open_set();
    char name[64], t[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "f%03d.txt", i);
        mk(name, name);
        cr_assert_eq(get(a, name, t, sizeof t), 0);
        cr_expect_str_eq(t, name);
    }
    /* the first ones were evicted but are still served (read again) */
    cr_expect_eq(get(a, "f000.txt", t, sizeof t), 0);
    cr_expect_str_eq(t, "f000.txt");
    md_assets_free(a);
}

Test(assets, open_refuses_a_missing_directory)
{
    md_assets *a = NULL;
    md_error err;
    cr_expect_eq(md_assets_open("/nonexistent/web", NULL, 0, NULL, &a, &err), MD_ENOTFOUND);
    cr_expect(strstr(err.msg, "/nonexistent/web") != NULL, "%s", err.msg);
    cr_expect_null(a);
}
