/* sample_bars.h - reads data/sample/<NAME>.csv (date,open,high,low,close,volume) into bars,
 * for the quality tests that run the rules on real data. */
#ifndef MD_TEST_SAMPLE_BARS_H
#define MD_TEST_SAMPLE_BARS_H

#include "core/bar.h"
#include "core/timefmt.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the bars of data/sample/<name>.csv to out (source csv). Aborts when unreadable. */
static inline void md_test_sample_bars(const char *name, md_bar_vec *out)
{
    char rel[128];
    snprintf(rel, sizeof rel, "data/sample/%s.csv", name);
    FILE *f = fopen(md_test_src(rel), "r");
    if (!f) abort();
    char line[512];
    if (!fgets(line, sizeof line, f)) abort(); /* header */
    while (fgets(line, sizeof line, f)) {
        char date[16];
        md_bar b;
        md_bar_init(&b);
        if (sscanf(line, "%10[0-9-],%lf,%lf,%lf,%lf,%lf", date, &b.open, &b.high, &b.low, &b.close,
                   &b.volume) != 6)
            abort();
        if (md_time_parse_str(date, &b.ts, NULL) != 0) abort();
        b.source = MD_SRC_CSV;
        md_bar_vec_push(out, &b);
    }
    fclose(f);
}

/* Index of the bar on date "YYYY-MM-DD", or -1. */
static inline long md_test_find_day(const md_bar_vec *v, const char *date)
{
    int64_t ts;
    if (md_time_parse_str(date, &ts, NULL) != 0) return -1;
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i].ts == ts) return (long)i;
    return -1;
}

#endif
