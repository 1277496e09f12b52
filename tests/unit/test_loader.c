/* The loader (ingest/loader): files and directories into a real SQLite store, bad rows
 * reported as file:line: reason, idempotent reloads, interval inference. */
#include "ingest/loader.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <zlib.h>

static md_store *st;
static md_writer *w;

static void setup(void)
{
    const char *p = md_test_path("loader.db");
    unlink(p);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", p);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", p);
    unlink(side);
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", p);
    md_error err;
    cr_assert_eq(md_store_open(url, NULL, &st, &err), 0, "%s", err.msg);
    w = md_writer_new(st);
}

static void teardown(void)
{
    md_writer_free(w);
    md_store_close(st);
}

TestSuite(loader, .init = setup, .fini = teardown);

static int load(const char *path, md_load_stats *s, char **report, const md_load_options *o)
{
    md_load_options opt;
    if (o)
        opt = *o;
    else
        md_load_options_default(&opt);
    opt.progress = -1;
    size_t len;
    FILE *f = open_memstream(report, &len);
    opt.report = f;
    memset(s, 0, sizeof *s);
    md_error err;
    int rc = md_load_paths(w, &path, 1, &opt, s, &err);
    fclose(f);
    return rc;
}

Test(loader, real_sample_file_loads_every_row)
{
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(md_test_src("data/sample/MSFT.csv"), &s, &rep, NULL), 0, "%s", rep);
    cr_assert_eq(s.rows, 249);
    cr_assert_eq(s.stored, 249);
    cr_assert_eq(s.rejected, 0);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "MSFT", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 249);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, "MSFT", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 1, &v, NULL);
    /* last row of the file: 2001-09-27,50.1,50.68,48,49.96,40595600 */
    cr_assert_eq(v.v[0].ts, 1001548800);
    cr_assert_eq(v.v[0].open, 50.1);
    cr_assert_eq(v.v[0].close, 49.96);
    cr_assert_eq(v.v[0].volume, 40595600);
    md_bar_vec_deinit(&v);
}

Test(loader, loading_twice_leaves_the_same_rows)
{
    md_load_stats s;
    char *rep;
    load(md_test_src("data/sample/XTSSIM.csv"), &s, &rep, NULL);
    free(rep);
    load(md_test_src("data/sample/XTSSIM.csv"), &s, &rep, NULL);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "XTSSIM", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 180);
}

Test(loader, bad_rows_are_reported_counted_and_skipped)
{
    const char *p = md_test_path("BAD.csv");
    md_test_write(p, "date,open,high,low,close,volume\n"
                     "2024-03-01,10,11,9,10.5,100\n"   /* 2 ok */
                     "2024-03-04,10,9,11,10.5,100\n"   /* 3 high < low */
                     "2024-03-05,abc,11,9,10.5,100\n"  /* 4 parse */
                     "2024-03-06,-1,11,9,10.5,100\n"   /* 5 non-positive */
                     "2024-03-07,10,11,9,10.5,-5\n"    /* 6 negative volume */
                     "2024-03-08,10,11,9,12,100\n"     /* 7 close > high */
                     "2099-03-09,10,11,9,10.5,100\n"   /* 8 future */
                     "2024-03-11,10,11,9,10.5,100\n"); /* 9 ok */
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0);
    cr_assert_eq(s.rows, 8);
    cr_assert_eq(s.stored, 2);
    cr_assert_eq(s.rejected, 6);
    cr_assert_eq(s.by_rule[MD_RULE_HIGH_LOW], 1);
    cr_assert_eq(s.by_rule[MD_RULE_PARSE], 1);
    cr_assert_eq(s.by_rule[MD_RULE_NONPOSITIVE], 1);
    cr_assert_eq(s.by_rule[MD_RULE_NEG_VOLUME], 1);
    cr_assert_eq(s.by_rule[MD_RULE_CLOSE_RANGE], 1);
    cr_assert_eq(s.by_rule[MD_RULE_FUTURE], 1);
    char want[600];
    snprintf(want, sizeof want, "%s:3: high 9 < low 11", p);
    cr_assert(strstr(rep, want) != NULL, "report:\n%s", rep);
    snprintf(want, sizeof want, "%s:4: open: 'abc' is not a number", p);
    cr_assert(strstr(rep, want) != NULL, "report:\n%s", rep);
    snprintf(want, sizeof want, "%s:8: timestamp 2099-03-09T00:00:00Z is in the future", p);
    cr_assert(strstr(rep, want) != NULL, "report:\n%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "BAD", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 2);
}

Test(loader, empty_file_and_header_only)
{
    const char *p = md_test_path("EMPTY.csv");
    md_test_write(p, "");
    md_load_stats s;
    char *rep;
    cr_assert_neq(load(p, &s, &rep, NULL), 0);
    cr_assert(strstr(rep, "empty file") != NULL, "%s", rep);
    free(rep);
    md_test_write(p, "date,open,high,low,close,volume\n");
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    cr_assert_eq(s.rows, 0);
    free(rep);
}

Test(loader, missing_columns_fail_the_file_with_its_name)
{
    const char *p = md_test_path("NOCLOSE.csv");
    md_test_write(p, "date,open,high,low\n2024-03-01,1,2,0.5\n");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), MD_ECSV);
    cr_assert(strstr(rep, "NOCLOSE.csv:1: header has no close column") != NULL, "%s", rep);
    free(rep);
}

Test(loader, intraday_interval_inferred_and_crlf_and_no_final_newline)
{
    const char *p = md_test_path("INTRA.csv");
    md_test_write(p, "timestamp,open,high,low,close,volume\r\n"
                     "2024-03-01T14:30:00Z,1,2,0.5,1.5,10\r\n"
                     "2024-03-01T14:35:00Z,1,2,0.5,1.5,10\r\n"
                     "2024-03-01T14:45:00Z,1,2,0.5,1.5,10");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.stored, 3);
    cr_assert_eq(md_store_count_bars(st, "INTRA", MD_IV_5M, MD_TS_MIN, MD_TS_MAX, NULL), 3);
}

Test(loader, explicit_interval_rejects_unaligned_rows)
{
    const char *p = md_test_path("ALIGN.csv");
    md_test_write(p, "timestamp,open,high,low,close,volume\n"
                     "2024-03-01T14:30:00Z,1,2,0.5,1.5,10\n"
                     "2024-03-01T14:31:00Z,1,2,0.5,1.5,10\n");
    md_load_options o;
    md_load_options_default(&o);
    o.interval = MD_IV_5M;
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, &o), 0);
    cr_assert_eq(s.stored, 1);
    cr_assert_eq(s.by_rule[MD_RULE_UNALIGNED], 1);
    cr_assert(strstr(rep, "ALIGN.csv:3: timestamp 2024-03-01T14:31:00Z is not aligned to 5m") !=
                  NULL,
              "%s", rep);
    free(rep);
}

Test(loader, bom_then_blank_lines_before_the_header)
{
    /* the BOM made the blank first line a header line: "empty header line", file not loaded */
    const char *p = md_test_path("BOMBL.csv");
    md_test_write(p, "\xEF\xBB\xBF\r\n\r\nDate,Open,High,Low,Close\r\n2024-01-02,1,2,0.5,1.5\r\n");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.stored, 1);
    cr_assert_eq(md_store_count_bars(st, "BOMBL", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 1);
    /* a BOM on the header line itself, as before */
    md_test_write(p, "\xEF\xBB\xBF"
                     "Date,Open,High,Low,Close\n2024-01-03,1,2,0.5,1.5\n");
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "BOMBL", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 2);
}

Test(loader, interval_column_is_each_rows_own)
{
    /* the first row's interval used to be the file's for every row: weekly rows were stored
     * as daily bars, and hourly ones rejected as unaligned to 1d */
    const char *p = md_test_path("ivcol.csv");
    md_test_write(p, "symbol,interval,date,open,high,low,close,volume\n"
                     "IVD,1d,2024-01-02,1,2,0.5,1.5,10\n"
                     "IVW,1w,2024-01-01,5,6,4,5.5,100\n"
                     "IVD,1d,2024-01-03,1,2,0.5,1.5,10\n"
                     "IVW,1w,2024-01-08,5,6,4,5.5,100\n"
                     "IVH,1h,2024-01-02T15:00:00Z,1,2,0.5,1.5,10\n"
                     "IVD,,2024-01-04,1,2,0.5,1.5,10\n"               /* none: the file's (1d) */
                     "IVH,1h,2024-01-02T16:30:00Z,1,2,0.5,1.5,10\n"); /* 8: unaligned to 1h */
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    cr_assert_eq(s.stored, 6, "%s", rep);
    cr_assert_eq(s.by_rule[MD_RULE_UNALIGNED], 1, "%s", rep);
    cr_assert(strstr(rep, "ivcol.csv:8: timestamp 2024-01-02T16:30:00Z is not aligned to 1h") !=
                  NULL,
              "%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "IVD", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 3);
    cr_assert_eq(md_store_count_bars(st, "IVW", MD_IV_1W, MD_TS_MIN, MD_TS_MAX, NULL), 2);
    cr_assert_eq(md_store_count_bars(st, "IVW", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 0);
    cr_assert_eq(md_store_count_bars(st, "IVH", MD_IV_1H, MD_TS_MIN, MD_TS_MAX, NULL), 1);

    /* --interval takes precedence over the column */
    md_load_options o;
    md_load_options_default(&o);
    o.interval = MD_IV_1D;
    o.restart = 1;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "IVW", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 2);
    cr_assert_eq(s.by_rule[MD_RULE_UNALIGNED], 2); /* the hourly rows, as daily bars */
}

Test(loader, symbol_column_splits_series)
{
    const char *p = md_test_path("multi.csv");
    md_test_write(p, "symbol,date,open,high,low,close,volume\n"
                     "AAA,2024-03-01,1,2,0.5,1.5,10\n"
                     "BBB,2024-03-01,3,4,2.5,3.5,10\n"
                     "AAA,2024-03-04,1,2,0.5,1.5,10\n");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "AAA", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 2);
    cr_assert_eq(md_store_count_bars(st, "BBB", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 1);
}

Test(loader, directory_with_gzip_and_validate_only)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", md_test_path("dir"));
    mkdir(dir, 0755);
    char f1[700], f2[700], f3[700];
    snprintf(f1, sizeof f1, "%s/ONE.csv", dir);
    snprintf(f2, sizeof f2, "%s/TWO.csv.gz", dir);
    snprintf(f3, sizeof f3, "%s/notes.md", dir);
    md_test_write(f1, "date,open,high,low,close,volume\n2024-03-01,1,2,0.5,1.5,10\n");
    md_test_write(f3, "not data\n");
    gzFile gz = gzopen(f2, "wb");
    gzputs(
        gz,
        "date,open,high,low,close,volume\n2024-03-01,1,2,0.5,1.5,10\n2024-03-04,1,2,0.5,1.5,10\n");
    gzclose(gz);
    md_load_options o;
    md_load_options_default(&o);
    o.validate_only = 1;
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(dir, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files, 2);
    cr_assert_eq(s.accepted, 3);
    cr_assert_eq(s.stored, 0);
    cr_assert_eq(md_store_count_bars(st, "TWO", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 0);
    cr_assert_eq(load(dir, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "TWO", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 2);
}

Test(loader, infer_interval_rules)
{
    int64_t days[] = {0, 86400, 4 * 86400};
    cr_assert_eq(md_infer_interval(days, 3), MD_IV_1D);
    int64_t mins[] = {60, 120, 300};
    cr_assert_eq(md_infer_interval(mins, 3), MD_IV_1M);
    int64_t months[] = {1704067200, 1706745600, 1709251200}; /* Jan, Feb, Mar 2024 */
    cr_assert_eq(md_infer_interval(months, 3), MD_IV_1MO);
    int64_t weeks[] = {1709510400, 1709510400 + 7 * 86400};
    cr_assert_eq(md_infer_interval(weeks, 2), MD_IV_1W);
    int64_t odd[] = {7, 20};
    cr_assert_eq(md_infer_interval(odd, 2), -1);
    cr_assert_eq(md_infer_interval(NULL, 0), -1);
}

/* -- at scale: blocks, checkpoints, rejects --------------------------------------------------- */

#define T0 1704205800 /* 2024-01-02T14:30:00Z */

/* Exact decimals: a quotient of two integers rounds to the double a parser gives. */
static double close_of(long i)
{
    return (double)(10000 + i % 1000) / 100.0;
}

static double high_of(long i)
{
    return (double)(10100 + i % 1000) / 100.0;
}

static double low_of(long i)
{
    return (double)(9900 + i % 1000) / 100.0;
}

/* n one-minute bars from T0, "timestamp,open,high,low,close,volume"; gzip when gz. Returns
 * the sum of the closes. */
static double write_minutes(const char *path, long n, int gz)
{
    FILE *f = gz ? NULL : fopen(path, "wb");
    gzFile z = gz ? gzopen(path, "wb1") : NULL;
    cr_assert(f || z);
    char line[160];
    double sum = 0;
    const char *h = "timestamp,open,high,low,close,volume\n";
    if (f)
        fputs(h, f);
    else
        gzputs(z, h);
    for (long i = 0; i < n; i++) {
        char t[MD_TIME_STR_MAX];
        md_time_format(T0 + i * 60, t);
        double c = close_of(i);
        snprintf(line, sizeof line, "%s,%.2f,%.2f,%.2f,%.2f,%ld\n", t, c, high_of(i), low_of(i), c,
                 100 + i % 7);
        sum += c;
        if (f)
            fputs(line, f);
        else
            gzputs(z, line);
    }
    if (f)
        fclose(f);
    else
        gzclose(z);
    return sum;
}

static double stored_close_sum(const char *sym, md_interval iv, size_t *n)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, sym, iv, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL);
    double sum = 0;
    for (size_t i = 0; i < v.n; i++) sum += v.v[i].close;
    *n = v.n;
    md_bar_vec_deinit(&v);
    return sum;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

Test(loader, many_blocks_on_many_threads_keep_every_value)
{
    const char *p = md_test_path("BIG.csv");
    long n = 150000; /* ~9 MB: several 1 MiB blocks */
    double sum = write_minutes(p, n, 0);
    md_load_options o;
    md_load_options_default(&o);
    o.threads = 3;
    o.batch_rows = 20000;
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.rows, (uint64_t)n);
    cr_assert_eq(s.stored, (uint64_t)n);
    size_t got;
    cr_assert_float_eq(stored_close_sum("BIG", MD_IV_1M, &got), sum, 1e-6);
    cr_assert_eq(got, (size_t)n);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, "BIG", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL);
    for (size_t i = 0; i < v.n; i += 997) {
        cr_assert_eq(v.v[i].ts, T0 + (int64_t)i * 60);
        cr_assert_eq(v.v[i].close, close_of((long)i));
        cr_assert_eq(v.v[i].high, high_of((long)i));
        cr_assert_eq(v.v[i].low, low_of((long)i));
        cr_assert_eq(v.v[i].volume, 100 + (long)i % 7);
    }
    md_bar_vec_deinit(&v);
}

Test(loader, a_loaded_file_is_skipped_and_restart_loads_it_again)
{
    const char *p = md_test_path("SKIP.csv");
    write_minutes(p, 5000, 0);
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.stored, 5000);
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files_skipped, 1);
    cr_assert_eq(s.rows, 0);
    cr_assert_eq(s.stored, 0);
    md_load_options o;
    md_load_options_default(&o);
    o.restart = 1;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files_skipped, 0);
    cr_assert_eq(s.stored, 5000);
    cr_assert_eq(md_store_count_bars(st, "SKIP", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 5000);
}

Test(loader, a_changed_file_is_loaded_again_from_its_start)
{
    const char *p = md_test_path("GROW.csv");
    write_minutes(p, 1000, 0);
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    write_minutes(p, 1500, 0);
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files_skipped, 0);
    cr_assert_eq(s.rows, 1500);
    cr_assert_eq(md_store_count_bars(st, "GROW", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 1500);
}

/* What a crash leaves: the first k rows stored together with their mark. */
static void crash_after(const char *path, long k)
{
    char key[PATH_MAX];
    cr_assert(realpath(path, key));
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    /* the offset of line k + 2 in the uncompressed text */
    FILE *f = NULL;
    gzFile z = gzopen(path, "rb");
    char line[200];
    int64_t off = 0;
    for (long i = 0; i < k + 1; i++) {
        cr_assert(gzgets(z, line, sizeof line));
        off += (int64_t)strlen(line);
    }
    gzclose(z);
    (void)f;
    md_bar *bars = calloc((size_t)k, sizeof *bars);
    for (long i = 0; i < k; i++) {
        md_bar_init(&bars[i]);
        bars[i].ts = T0 + i * 60;
        bars[i].open = bars[i].close = close_of(i);
        bars[i].high = high_of(i);
        bars[i].low = low_of(i);
        bars[i].volume = 100 + i % 7;
        bars[i].source = MD_SRC_CSV;
    }
    md_series se = {"RESUME", MD_IV_1M, bars, (size_t)k};
    md_load_mark m = {key,
                      (int64_t)sb.st_size,
                      (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
                      off,
                      k + 1,
                      k,
                      0,
                      MD_IV_1M,
                      0};
    md_error err;
    cr_assert_eq(md_store_put_bars_marked(st, &se, 1, &m, 1, &err), (int)k, "%s", err.msg);
    free(bars);
}

static void check_resume(const char *name, int gz)
{
    const char *p = md_test_path(name);
    long n = 40000, k = 12345;
    double sum = write_minutes(p, n, gz);
    crash_after(p, k);
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files_resumed, 1);
    cr_assert_eq(s.rows, (uint64_t)(n - k)); /* only the rows after the checkpoint are read */
    size_t got;
    cr_assert_float_eq(stored_close_sum("RESUME", MD_IV_1M, &got), sum, 1e-6);
    cr_assert_eq(got, (size_t)n);
    char key[PATH_MAX];
    cr_assert(realpath(p, key));
    md_load_mark m;
    md_error err;
    cr_assert_eq(md_store_get_load_mark(st, key, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m.done, 1);
    cr_assert_eq(m.rows, n);
    cr_assert_eq(m.lines, n + 1);
    cr_assert_eq(m.interval, MD_IV_1M);
}

Test(loader, resumes_a_plain_file_from_its_checkpoint)
{
    check_resume("RESUME.csv", 0);
}

Test(loader, resumes_a_gzip_file_from_its_checkpoint)
{
    check_resume("RESUME.csv.gz", 1);
}

Test(loader, stop_flag_ends_the_load_as_canceled)
{
    const char *p = md_test_path("STOP.csv");
    write_minutes(p, 1000, 0);
    volatile sig_atomic_t stop = 1;
    md_load_options o;
    md_load_options_default(&o);
    o.stop = &stop;
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, &o), MD_ECANCELED);
    free(rep);
    cr_assert_eq(s.interrupted, 1);
    stop = 0;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.stored, 1000);
}

Test(loader, reject_file_lists_every_bad_row_with_its_reason)
{
    const char *p = md_test_path("REJ.csv");
    md_test_write(p, "date,open,high,low,close,volume\n"
                     "2024-03-01,10,11,9,10.5,100\n"
                     "2024-03-04,10,9,11,10.5,100\n"
                     "2024-03-05,\"1,5\",11,9,10.5,100\n"
                     "2024-03-06,10,11,9,10.5\r\n"
                     "2024-03-07,10,11,9,10.5,-5\n"
                     "2024-03-08,1");
    const char *rj = md_test_path("rejects.csv");
    md_load_options o;
    md_load_options_default(&o);
    o.reject_file = rj;
    o.max_reports = 1;
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    cr_assert_eq(s.stored, 2, "%s", rep);
    cr_assert_eq(s.rejected, 4);
    char want[800];
    snprintf(want, sizeof want,
             "%s:3: high 9 < low 11\n%s: more bad rows; only the first 1 are "
             "shown (the reject file has them all)\n",
             p, p);
    cr_assert(strstr(rep, want) != NULL, "report:\n%s", rep);
    free(rep);
    char *got = slurp(rj);
    char exp[2000];
    snprintf(
        exp, sizeof exp,
        "file,line,reason,message,row\n"
        "%s,3,high_below_low,high 9 < low 11,\"2024-03-04,10,9,11,10.5,100\"\n"
        "%s,4,parse_error,open: '1,5' is not a number,\"2024-03-05,\"\"1,5\"\",11,9,10.5,100\"\n"
        "%s,6,negative_volume,volume -5 is negative,\"2024-03-07,10,11,9,10.5,-5\"\n"
        "%s,7,parse_error,\"2 fields, header has 6\",\"2024-03-08,1\"\n",
        p, p, p, p);
    /* the message of line 4 holds a comma: quoted */
    char *q = strstr(exp, "open: '1,5' is not a number");
    cr_assert(q);
    char fixed[2000];
    snprintf(fixed, sizeof fixed, "%.*s\"open: '1,5' is not a number\"%s", (int)(q - exp), exp,
             q + strlen("open: '1,5' is not a number"));
    cr_assert_str_eq(got, fixed);
    free(got);
}

Test(loader, a_ten_megabyte_line_is_one_bad_row)
{
    const char *p = md_test_path("LONG.csv");
    FILE *f = fopen(p, "wb");
    fputs("date,open,high,low,close,volume\n2024-03-01,10,11,9,10.5,100\n", f);
    for (int i = 0; i < 10 * 1024 * 1024; i++) fputc('x', f);
    fputs("\n2024-03-04,10,11,9,10.5,100\n", f);
    for (int i = 0; i < 1500 * 1024; i++)
        fputc('7', f); /* over the parser's limit, under the buffer */
    fputs("\n2024-03-05,10,11,9,10.5,100\n", f);
    for (int i = 0; i < 3 * 1024 * 1024; i++) fputc('y', f); /* the last line, no line end */
    fclose(f);
    const char *rj = md_test_path("long-rejects.csv");
    md_load_options o;
    md_load_options_default(&o);
    o.reject_file = rj;
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    cr_assert_eq(s.rows, 6);
    cr_assert_eq(s.stored, 3);
    cr_assert_eq(s.by_rule[MD_RULE_PARSE], 3);
    char want[700];
    snprintf(want, sizeof want, "%s:3: line longer than", p);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    snprintf(want, sizeof want, "%s:5: line longer than 1048576 bytes", p);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    snprintf(want, sizeof want, "%s:7: line longer than", p);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    free(rep);
    char *got = slurp(rj);
    cr_assert_lt(strlen(got), 1600 * 1024 + 4096); /* overlong rows are cut to their head */
    free(got);
    cr_assert_eq(md_store_count_bars(st, "LONG", MD_IV_1D, MD_TS_MIN, MD_TS_MAX, NULL), 3);
}

Test(loader, truncated_last_line_and_crlf)
{
    const char *p = md_test_path("CUT.csv");
    md_test_write(p, "date,open,high,low,close,volume\r\n"
                     "2024-03-01,10,11,9,10.5,100\r\n"
                     "2024-03-04,10,11,9,10.5,100\r\n"
                     "2024-03-05,10,1");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    cr_assert_eq(s.stored, 2);
    cr_assert_eq(s.by_rule[MD_RULE_PARSE], 1);
    char want[700];
    snprintf(want, sizeof want, "%s:4: 3 fields, header has 6", p);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    free(rep);
}

Test(loader, gzip_cut_short_keeps_its_whole_lines_and_fails_the_file)
{
    const char *p = md_test_path("CUTGZ.csv.gz");
    long n = 100000;
    write_minutes(p, n, 1);
    struct stat sb;
    stat(p, &sb);
    cr_assert_eq(truncate(p, sb.st_size / 2), 0);
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), MD_EIO);
    cr_assert(strstr(rep, "truncated gzip file: unexpected end of file (after line ") != NULL, "%s",
              rep);
    free(rep);
    cr_assert_eq(s.files_failed, 1);
    cr_assert_eq(s.rejected, 0);
    cr_assert_gt(s.stored, 1000);
    cr_assert_lt(s.stored, (uint64_t)n);
    /* every stored row is a whole row of the file, from its start */
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, "CUTGZ", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL);
    cr_assert_eq(v.n, s.stored);
    for (size_t i = 0; i < v.n; i++) {
        cr_assert_eq(v.v[i].ts, T0 + (int64_t)i * 60);
        cr_assert_eq(v.v[i].volume, 100 + (long)i % 7);
    }
    md_bar_vec_deinit(&v);
}

Test(loader, directory_tree_of_many_small_files)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", md_test_path("tree"));
    mkdir(dir, 0755);
    int files = 0;
    for (int d = 0; d < 3; d++) {
        char sub[700];
        snprintf(sub, sizeof sub, "%s/part%d", dir, d);
        mkdir(sub, 0755);
        for (int k = 0; k < 100; k++) {
            char fp[800];
            snprintf(fp, sizeof fp, "%s/S%d%03d.csv%s", sub, d, k, k % 3 == 0 ? ".gz" : "");
            write_minutes(fp, 10 + k % 5, k % 3 == 0);
            files++;
        }
    }
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(dir, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files, (uint64_t)files);
    uint64_t want = 0;
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 100; k++) want += (uint64_t)(10 + k % 5);
    cr_assert_eq(s.stored, want);
    cr_assert_eq(md_store_count_bars(st, "S2099", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL),
                 10 + 99 % 5);
    cr_assert_eq(md_store_count_bars(st, "S0000", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 10);
    md_symbol_info *info;
    int n = md_store_list_symbols(st, &info, NULL);
    md_free(info);
    cr_assert_eq(n, files);
    cr_assert_eq(load(dir, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.files_skipped, (uint64_t)files);
}

Test(loader, symbols_interleaved_out_of_order_and_repeated)
{
    const char *p = md_test_path("mixed.csv");
    md_test_write(p, "symbol,timestamp,open,high,low,close,volume\n"
                     "AAA,2024-03-01T10:03:00Z,1,2,0.5,1.5,10\n"
                     "BBB,2024-03-01T10:00:00Z,3,4,2.5,3.5,10\n"
                     "AAA,2024-03-01T10:02:00Z,1,2,0.5,1.5,10\n"
                     "BBB,2024-03-01T10:02:00Z,3,4,2.5,3.5,10\n"
                     "AAA,2024-03-01T10:01:00Z,1,2,0.5,1.5,10\n"
                     "BBB,2024-03-01T10:01:00Z,3,4,2.5,3.5,10\n"
                     "BBB,2024-03-01T10:02:00Z,3,4,2.5,3.75,10\n"
                     "AAA,2024-03-01T10:00:00Z,1,2,0.5,1.5,10\n");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), 0, "%s", rep);
    free(rep);
    cr_assert_eq(md_store_count_bars(st, "AAA", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 4);
    cr_assert_eq(md_store_count_bars(st, "BBB", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, NULL), 3);
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, "BBB", MD_IV_1M, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL);
    cr_assert_eq(v.v[2].close, 3.75, "the later row of a repeated timestamp wins");
    md_bar_vec_deinit(&v);
}

Test(loader, uninferable_interval_fails_the_file_by_name)
{
    const char *p = md_test_path("ODD.csv");
    md_test_write(p, "timestamp,open,high,low,close,volume\n"
                     "2024-03-01T10:00:07Z,1,2,0.5,1.5,10\n"
                     "2024-03-01T10:00:20Z,1,2,0.5,1.5,10\n");
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, NULL), MD_ECSV);
    char want[700];
    snprintf(want, sizeof want,
             "%s: cannot infer the interval from the timestamps; pass --interval", p);
    cr_assert(strstr(rep, want) != NULL, "%s", rep);
    free(rep);
    cr_assert_eq(s.stored, 0);
}

Test(loader, blank_lines_only_is_an_empty_file)
{
    const char *p = md_test_path("BLANK.csv");
    md_test_write(p, "\n  \r\n\n");
    md_load_stats s;
    char *rep;
    cr_assert_neq(load(p, &s, &rep, NULL), 0);
    cr_assert(strstr(rep, "empty file (no header line)") != NULL, "%s", rep);
    free(rep);
}

/* Sampled validation: long runs of a series are judged (scored) in full; a file of many
 * symbols with a few bars each per batch is judged on a sample; --validation full judges
 * every bar. Hard rules apply to every row either way. */
static void write_wide(const char *path, int nsym, int days)
{
    FILE *f = fopen(path, "wb");
    fputs("date,symbol,open,high,low,close,volume\n", f);
    for (int d = 0; d < days; d++)
        for (int s = 0; s < nsym; s++) {
            char t[MD_TIME_STR_MAX];
            md_date_format(1704067200 + (int64_t)d * 86400, t);
            if (s == 7 && d == 3)
                fprintf(f, "%s,W%03d,10,9,11,10,100\n", t, s); /* high < low */
            else
                fprintf(f, "%s,W%03d,%d.5,%d,%d,%d.25,%d\n", t, s, 10 + s, 11 + s, 9 + s, 10 + s,
                        100 + d);
        }
    fclose(f);
}

static int scored(const char *sym)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    md_store_get_bars(st, sym, MD_IV_1D, MD_TS_MIN, MD_TS_MAX, 0, &v, NULL);
    int n = 0;
    for (size_t i = 0; i < v.n; i++) n += v.v[i].quality >= 0;
    md_bar_vec_deinit(&v);
    return n;
}

Test(loader, wide_files_are_judged_on_a_sample_long_runs_in_full)
{
    const char *p = md_test_path("wide.csv");
    write_wide(p, 2000, 60); /* 120000 rows: a 1 MiB block holds ~13 bars of each symbol */
    md_load_options o;
    md_load_options_default(&o);
    md_load_stats s;
    char *rep;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.rejected, 1, "hard rules on every row");
    cr_assert_eq(s.by_rule[MD_RULE_HIGH_LOW], 1);
    cr_assert_eq(s.stored, 119999);
    cr_assert_eq(s.judged + s.unjudged, s.stored);
    cr_assert_gt(s.unjudged, 0);
    cr_assert_lt(s.judged, s.stored * 3 / 4, "judged %llu of %llu", (unsigned long long)s.judged,
                 (unsigned long long)s.stored);
    int sc = scored("W123");
    cr_assert(sc > 0 && sc < 60, "W123: %d of 60 bars scored", sc);

    /* --validation full: every bar scored */
    o.full_validation = 1;
    o.restart = 1;
    cr_assert_eq(load(p, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.unjudged, 0);
    cr_assert_eq(s.judged, 119999);
    cr_assert_eq(scored("W123"), 60);

    /* one long series: judged in full under the default */
    const char *q = md_test_path("LONGRUN.csv");
    write_minutes(q, 20000, 0);
    md_load_options_default(&o);
    cr_assert_eq(load(q, &s, &rep, &o), 0, "%s", rep);
    free(rep);
    cr_assert_eq(s.unjudged, 0);
    cr_assert_eq(s.judged, 20000);
}
