/* json.c - JSON object members (json.h). */
#include "core/json.h"

#include <math.h>
#include <string.h>

void md_json_key(md_buf *b, const char *key)
{
    /* one reservation and one copy: bars render this six times each */
    size_t n = strlen(key);
    md_buf_reserve(b, n + 4);
    char *p = b->data + b->len;
    p[0] = ',';
    p[1] = '"';
    memcpy(p + 2, key, n);
    p[n + 2] = '"';
    p[n + 3] = ':';
    p[n + 4] = 0;
    b->len += n + 4;
}

void md_json_num(md_buf *b, const char *key, double v)
{
    md_json_key(b, key);
    md_buf_num(b, v);
}

void md_json_num_opt(md_buf *b, const char *key, double v)
{
    if (!isnan(v)) md_json_num(b, key, v);
}

void md_json_int(md_buf *b, const char *key, int64_t v)
{
    md_json_key(b, key);
    md_buf_int(b, v);
}

void md_json_str(md_buf *b, const char *key, const char *s)
{
    md_json_key(b, key);
    md_buf_json_str(b, s);
}

void md_json_ts(md_buf *b, const char *key, int64_t ts)
{
    md_json_key(b, key);
    md_buf_ts(b, ts, 1);
}

void md_json_bool(md_buf *b, const char *key, int v)
{
    md_json_key(b, key);
    md_buf_puts(b, v ? "true" : "false");
}
