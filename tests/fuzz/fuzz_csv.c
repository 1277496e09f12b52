/* Fuzzes the CSV reader: the first line is the header, every other line a row. */
#include "ingest/csv.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    const char *nl = memchr(p, '\n', size);
    size_t hl = nl ? (size_t)(nl - p) : size;
    md_csv_layout l;
    md_error err;
    for (int f = MD_CSV_AUTO; f <= MD_CSV_STOOQ; f++) {
        if (md_csv_detect(p, hl, (md_csv_format)f, &l, &err) != 0) continue;
        const char *q = nl ? nl + 1 : end;
        while (q < end) {
            const char *e = memchr(q, '\n', (size_t)(end - q));
            size_t len = e ? (size_t)(e - q) : (size_t)(end - q);
            md_csv_row row;
            if (md_csv_parse_row(&l, q, len, &row, &err) == 0) {
                /* a parsed row has the fields the layout promised */
                if (row.bar.source != MD_SRC_CSV) __builtin_trap();
            }
            q = e ? e + 1 : end;
        }
    }
    double d;
    md_parse_double(p, size < 64 ? size : 64, &d);
    return 0;
}
