/* Fuzzes the POST /ingest body parsers (JSON bars, JSON quotes, CSV bars, corporate actions
 * as JSON and as CSV: ours and Yahoo's events downloads, with and without a symbol). */
#include "core/mem.h"
#include "ingest/actions.h"
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
    for (int k = 0; k < 3; k++) {
        md_action_vec a;
        md_action_vec_init(&a);
        md_bar_batch_init(&b);
        size_t *idx = NULL;
        int rc = k == 0 ? md_actions_parse_json(s, size, MD_SRC_INGEST, &a, &idx, &b, &err)
                        : md_actions_parse_csv(s, size, k == 1 ? "FUZZ" : NULL, MD_SRC_INGEST, &a,
                                               &idx, &b, &err);
        /* every item is a record or an error, never both, never lost */
        if (rc == 0 && a.n + b.n_errors != b.n_items) __builtin_trap();
        md_free(idx);
        md_action_vec_deinit(&a);
        md_bar_batch_deinit(&b);
    }
    return 0;
}
