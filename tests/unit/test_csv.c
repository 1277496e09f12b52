/* The CSV reader (ingest/csv): every format, broken rows, missing columns, numbers. */
#include "ingest/csv.h"
#include "core/timefmt.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

static md_csv_layout detect(const char *header, md_csv_format f)
{
    md_csv_layout l;
    md_error err;
    int rc = md_csv_detect(header, strlen(header), f, &l, &err);
    cr_assert_eq(rc, 0, "detect '%s': %s", header, err.msg);
    return l;
}

static md_csv_row row(const md_csv_layout *l, const char *line)
{
    md_csv_row r;
    md_error err;
    int rc = md_csv_parse_row(l, line, strlen(line), &r, &err);
    cr_assert_eq(rc, 0, "parse '%s': %s", line, err.msg);
    return r;
}

static void row_bad(const md_csv_layout *l, const char *line, const char *needle)
{
    md_csv_row r;
    md_error err;
    cr_assert_eq(md_csv_parse_row(l, line, strlen(line), &r, &err), MD_ECSV, "'%s' should fail",
                 line);
    cr_assert(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

Test(csv, generic_header_any_case_and_order)
{
    md_csv_layout l = detect("Volume,Close,Low,High,Open,Date", MD_CSV_AUTO);
    md_csv_row r = row(&l, "100,10.5,9.5,11,10,2024-03-01");
    cr_assert_eq(r.bar.ts, 1709251200);
    cr_assert_eq(r.bar.open, 10);
    cr_assert_eq(r.bar.high, 11);
    cr_assert_eq(r.bar.low, 9.5);
    cr_assert_eq(r.bar.close, 10.5);
    cr_assert_eq(r.bar.volume, 100);
    cr_assert_eq(r.bar.source, MD_SRC_CSV);
    cr_assert_str_eq(r.symbol, "");
}

Test(csv, yahoo_download_with_adj_close_and_crlf)
{
    md_csv_layout l = detect("Date,Open,High,Low,Close,Adj Close,Volume\r", MD_CSV_YAHOO);
    md_csv_row r =
        row(&l, "2024-03-01,179.550003,180.529999,177.380005,179.660004,179.428436,73488000\r");
    cr_assert_eq(r.bar.close, 179.660004);
    cr_assert_eq(r.bar.volume, 73488000);
    row_bad(&l, "2024-03-02,null,null,null,null,null,null", "missing value");
}

Test(csv, yahoo_intraday_datetime_with_offset)
{
    md_csv_layout l = detect("Datetime,Open,High,Low,Close,Adj Close,Volume", MD_CSV_AUTO);
    md_csv_row r = row(&l, "2024-03-01 09:30:00-05:00,1,2,0.5,1.5,1.5,10");
    cr_assert_eq(r.bar.ts, 1709303400);
}

Test(csv, stooq_bulk_txt_format)
{
    md_csv_layout l = detect(
        "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>", MD_CSV_AUTO);
    cr_assert_eq(l.format, MD_CSV_STOOQ);
    md_csv_row r = row(&l, "AAPL.US,5,20240301,143000,179.5,180,179,179.8,12345,0");
    cr_assert_eq(r.bar.ts, 1709303400);
    cr_assert_str_eq(r.symbol, "AAPL");
    cr_assert_eq(r.per_iv, MD_IV_5M);
    cr_assert_eq(r.bar.volume, 12345);
    md_csv_row d = row(&l, "MSFT.US,D,19860313,000000,0.0672,0.0756,0.0672,0.0728,1371270000,0");
    cr_assert_eq(d.per_iv, MD_IV_1D);
    cr_assert_eq(d.bar.ts, 511056000);
}

Test(csv, an_interval_column_names_the_rows_interval_and_an_unknown_one_is_the_rows_error)
{
    md_csv_layout l = detect("symbol,interval,date,open,high,low,close,volume", MD_CSV_AUTO);
    cr_assert_eq(row(&l, "X,1d,2024-03-01,1,2,0.5,1.5,10").per_iv, MD_IV_1D);
    cr_assert_eq(row(&l, "X,1h,2024-03-01,1,2,0.5,1.5,10").per_iv, MD_IV_1H);
    cr_assert_eq(row(&l, "X,1mo,2024-03-01,1,2,0.5,1.5,10").per_iv, MD_IV_1MO);
    cr_assert_eq(row(&l, "X,1m,2024-03-01,1,2,0.5,1.5,10").per_iv, MD_IV_1M);
    cr_assert_eq(row(&l, "X,,2024-03-01,1,2,0.5,1.5,10").per_iv, -1); /* empty: inferred */
    row_bad(&l, "X,2d,2024-03-01,1,2,0.5,1.5,10", "interval: '2d'");
    row_bad(&l, "X,7,2024-03-01,1,2,0.5,1.5,10", "is not an interval");
}

Test(csv, stooq_web_csv_is_generic)
{
    md_csv_layout l = detect("Date,Open,High,Low,Close,Volume", MD_CSV_STOOQ);
    md_csv_row r = row(&l, "2024-03-01,179.55,180.53,177.38,179.66,73488000");
    cr_assert_eq(r.bar.ts, 1709251200);
}

Test(csv, date_and_time_columns_and_symbol_column)
{
    md_csv_layout l =
        detect("symbol,date,time,open,high,low,close,volume,vwap,trades", MD_CSV_AUTO);
    md_csv_row r = row(&l, "brk.b,2024-03-01,14:30:00,1,2,0.5,1.5,10,1.2,7");
    cr_assert_eq(r.bar.ts, 1709303400);
    cr_assert_str_eq(r.symbol, "BRK.B");
    cr_assert_eq(r.bar.vwap, 1.2);
    cr_assert_eq(r.bar.trades, 7);
}

Test(csv, a_trade_count_past_int64_is_an_error_not_an_overflow)
{
    md_csv_layout l =
        detect("symbol,date,time,open,high,low,close,volume,vwap,trades", MD_CSV_AUTO);
    cr_assert_eq(row(&l, "X,2024-03-01,14:30:00,1,2,0.5,1.5,10,1.2,9223372036854775807").bar.trades,
                 INT64_MAX);
    row_bad(&l, "X,2024-03-01,14:30:00,1,2,0.5,1.5,10,1.2,9223372036854775808", "trades");
    row_bad(&l, "X,2024-03-01,14:30:00,1,2,0.5,1.5,10,1.2,9999999999999999999", "trades");
}

Test(csv, epoch_seconds_and_milliseconds)
{
    md_csv_layout l = detect("timestamp,open,high,low,close,volume", MD_CSV_AUTO);
    cr_assert_eq(row(&l, "1709303400,1,1,1,1,0").bar.ts, 1709303400);
    cr_assert_eq(row(&l, "1709303400000,1,1,1,1,0").bar.ts, 1709303400);
}

Test(csv, semicolon_and_quoted_fields)
{
    md_csv_layout l =
        detect("\"Date\";\"Open\";\"High\";\"Low\";\"Close\";\"Volume\"", MD_CSV_AUTO);
    cr_assert_eq(l.delim, ';');
    md_csv_row r = row(&l, "\"2024-03-01\";\"1.5\";2;1;1.75;3");
    cr_assert_eq(r.bar.open, 1.5);
}

Test(csv, missing_columns_are_named)
{
    md_csv_layout l;
    md_error err;
    cr_assert_eq(md_csv_detect("open,high,low,close", 19, MD_CSV_AUTO, &l, &err), MD_ECSV);
    cr_assert(strstr(err.msg, "time column") != NULL, "%s", err.msg);
    cr_assert_eq(md_csv_detect("date,open,high,low", 18, MD_CSV_AUTO, &l, &err), MD_ECSV);
    cr_assert(strstr(err.msg, "close") != NULL, "%s", err.msg);
    cr_assert_eq(md_csv_detect("", 0, MD_CSV_AUTO, &l, &err), MD_ECSV);
    cr_assert_eq(md_csv_detect("date,open,high,low,close", 24, MD_CSV_YAHOO, &l, &err), MD_ECSV);
}

Test(csv, binary_header_is_said_without_its_bytes)
{
    /* a binary file's bytes went into the message, and so to the terminal (escape codes) */
    md_csv_layout l;
    md_error err;
    static const char bin[] = "\x1b[2J\x89PNG\x00\x01,\xff\xfe";
    cr_assert_eq(md_csv_detect(bin, sizeof bin - 1, MD_CSV_AUTO, &l, &err), MD_ECSV);
    cr_assert_str_eq(err.msg, "header line is not text (a binary file?)");
    for (const char *c = err.msg; *c; c++) cr_assert((unsigned char)*c >= 0x20, "%s", err.msg);
    /* UTF-8 names are text: the missing column is named as before */
    static const char utf8[] = "Datum,Er\xc3\xb6"
                               "ffnung,Hoch,Tief,Schluss";
    cr_assert_eq(md_csv_detect(utf8, sizeof utf8 - 1, MD_CSV_AUTO, &l, &err), MD_ECSV);
    cr_assert(strstr(err.msg, "header has no time column") != NULL, "%s", err.msg);
    static const char cut[] = "date,open,high,low,\xc3"; /* UTF-8 cut short */
    cr_assert_eq(md_csv_detect(cut, sizeof cut - 1, MD_CSV_AUTO, &l, &err), MD_ECSV);
    cr_assert_str_eq(err.msg, "header line is not text (a binary file?)");
    l = detect("date\topen\thigh\tlow\tclose", MD_CSV_AUTO);
    cr_assert_eq(l.delim, '\t');
    /* a usable header with a Latin-1 column name still loads */
    l = detect("date,open,high,low,close,volume,W\xe4hrung", MD_CSV_AUTO);
    cr_assert_eq(l.c_close, 4);
}

Test(csv, broken_rows_give_reasons)
{
    md_csv_layout l = detect("date,open,high,low,close,volume", MD_CSV_AUTO);
    row_bad(&l, "2024-03-01,abc,2,1,1.5,10", "open: 'abc' is not a number");
    row_bad(&l, "2024-13-01,1,2,1,1.5,10", "cannot parse time");
    row_bad(&l, "2024-03-01,1,2,1", "fields");
    row_bad(&l, "2024-03-01,1,2,1,1.5,10,99", "fields");
    row_bad(&l, "2024-03-01,1,2,1,,10", "close: missing value");
    row_bad(&l, "2024-03-01,1,2,1,1e999,10", "close");
    row_bad(&l, "2024-03-01,1,2,1,nan,10", "close");
    md_csv_row r;
    cr_assert_eq(md_csv_parse_row(&l, "   ", 3, &r, NULL), 1); /* blank line */
    cr_assert_eq(md_csv_parse_row(&l, "\r", 1, &r, NULL), 1);
}

Test(csv, huge_line_is_rejected)
{
    md_csv_layout l = detect("date,open,high,low,close,volume", MD_CSV_AUTO);
    size_t n = MD_CSV_MAX_LINE + 100;
    char *big = malloc(n + 1);
    memset(big, '1', n);
    big[n] = 0;
    md_csv_row r;
    md_error err;
    cr_assert_eq(md_csv_parse_row(&l, big, n, &r, &err), MD_ECSV);
    free(big);
}

Test(csv, numbers_parse_exactly_like_strtod)
{
    const char *nums[] = {"0",
                          "1",
                          "-1",
                          "0.1",
                          "63.4375",
                          "50.0397819115463",
                          "179.660004",
                          "1e3",
                          "123456789012345678901",
                          "0.000001",
                          ".5",
                          "5.",
                          "+2.25",
                          "99999999999999999",
                          "1.7976931348623157e308",
                          "4.9e-324",
                          "3.141592653589793238",
                          "0000123.4500"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        double v;
        cr_assert_eq(md_parse_double(nums[i], strlen(nums[i]), &v), 0, "%s", nums[i]);
        cr_assert_eq(v, strtod(nums[i], NULL), "%s", nums[i]);
    }
    const char *bad[] = {"", "-", ".", "1.2.3", "1,5", "abc", "1e", "inf", "nan", "0x10", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        cr_assert_neq(md_parse_double(bad[i], strlen(bad[i]), &v), 0, "'%s'", bad[i]);
    }
}

Test(csv, symbol_from_file_names)
{
    char s[MD_SYMBOL_MAX + 1];
    cr_assert_eq(md_csv_symbol_from_path("/x/AAPL.csv", s, NULL), 0);
    cr_assert_str_eq(s, "AAPL");
    cr_assert_eq(md_csv_symbol_from_path("data/aapl.us.txt", s, NULL), 0);
    cr_assert_str_eq(s, "AAPL");
    cr_assert_eq(md_csv_symbol_from_path("brk.b.csv.gz", s, NULL), 0);
    cr_assert_str_eq(s, "BRK.B");
    md_error err;
    cr_assert_eq(md_csv_symbol_from_path("my file.csv", s, &err), MD_ESYMBOL);
    cr_assert(strstr(err.msg, "--symbol") != NULL);
}
