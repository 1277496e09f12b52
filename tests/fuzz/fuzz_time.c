/* Fuzzes time, interval and symbol parsing; a parsed time must format and parse back. */
#include "core/interval.h"
#include "core/symbol.h"
#include "core/timefmt.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t t;
    md_error err;
    if (md_time_parse(s, size, &t, &err) == 0) {
        char buf[MD_TIME_STR_MAX];
        md_time_format(t, buf);
        int64_t back;
        if (t >= 0 && t <= MD_TS_MAX && (md_time_parse_str(buf, &back, NULL) != 0 || back != t))
            __builtin_trap();
    }
    char tmp[64];
    size_t n = size < sizeof tmp - 1 ? size : sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    md_interval iv;
    if (md_interval_parse(tmp, &iv, &err) == 0 && strcmp(md_interval_name(iv), tmp) != 0)
        __builtin_trap();
    char sym[MD_SYMBOL_MAX + 1];
    md_symbol_normalize(s, size, sym, &err);
    md_time_parse_compact(s, size < 8 ? size : 8, size > 8 ? s + 8 : NULL, size > 8 ? size - 8 : 0,
                          &t);
    return 0;
}
