/* Fuzzes the POST /ingest body parsers (JSON bars, JSON quotes, CSV bars). */
#include "ingest/batch.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    md_error err;
    md_bar_batch b;
    md_bar_batch_init(&b);
    if (md_batch_parse_json_bars(&b, s, size, MD_SRC_INGEST, &err) == 0) {
        size_t n = 0;
        for (size_t i = 0; i < b.n_series; i++) n += b.series[i].n;
        if (n != b.n_bars || n + b.n_errors != b.n_items) __builtin_trap();
    }
    md_bar_batch_deinit(&b);
    md_bar_batch_init(&b);
    md_batch_parse_json_quotes(&b, s, size, MD_SRC_INGEST, &err);
    md_bar_batch_deinit(&b);
    md_bar_batch_init(&b);
    md_batch_parse_csv_bars(&b, s, size, "FUZZ", -1, MD_SRC_INGEST, &err);
    md_bar_batch_deinit(&b);
    return 0;
}
