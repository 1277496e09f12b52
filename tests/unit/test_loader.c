/* The loader (ingest/loader): files and directories into a real SQLite store, bad rows
 * reported as file:line: reason, idempotent reloads, interval inference. */
#include "ingest/loader.h"
#include "core/timefmt.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <zlib.h>

static md_store *st;
static md_writer *w;

static void setup(void)
{
    const char *p = md_test_path("loader.db");
    unlink(p);
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
                     "2024-03-01,10,11,9,10.5,100\n"      /* 2 ok */
                     "2024-03-04,10,9,11,10.5,100\n"      /* 3 high < low */
                     "2024-03-05,abc,11,9,10.5,100\n"     /* 4 parse */
                     "2024-03-06,-1,11,9,10.5,100\n"      /* 5 non-positive */
                     "2024-03-07,10,11,9,10.5,-5\n"       /* 6 negative volume */
                     "2024-03-08,10,11,9,12,100\n"        /* 7 close > high */
                     "2099-03-09,10,11,9,10.5,100\n"      /* 8 future */
                     "2024-03-11,10,11,9,10.5,100\n");    /* 9 ok */
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
    cr_assert(strstr(rep, "NOCLOSE.csv:1: header has no a close column") != NULL ||
              strstr(rep, "close column") != NULL, "%s", rep);
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
    cr_assert(strstr(rep, "ALIGN.csv:3: timestamp 2024-03-01T14:31:00Z is not aligned to 5m") != NULL, "%s", rep);
    free(rep);
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
    gzputs(gz, "date,open,high,low,close,volume\n2024-03-01,1,2,0.5,1.5,10\n2024-03-04,1,2,0.5,1.5,10\n");
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
