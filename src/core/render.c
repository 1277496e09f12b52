/* render.c - JSON and CSV writers for the domain records. */
#include "core/render.h"

#include "core/error.h"

#include <math.h>

void md_render_bar_json(md_buf *b, const md_bar *bar)
{
    md_buf_reserve(b, 256);
    md_buf_puts(b, "{\"timestamp\":");
    md_buf_ts(b, bar->ts, 1);
    md_buf_puts(b, ",\"open\":");
    md_buf_num(b, bar->open);
    md_buf_puts(b, ",\"high\":");
    md_buf_num(b, bar->high);
    md_buf_puts(b, ",\"low\":");
    md_buf_num(b, bar->low);
    md_buf_puts(b, ",\"close\":");
    md_buf_num(b, bar->close);
    md_buf_puts(b, ",\"volume\":");
    md_buf_num(b, bar->volume);
    md_buf_puts(b, ",\"source\":\"");
    md_buf_puts(b, md_source_name(bar->source));
    md_buf_puts(b, "\",\"quality\":");
    if (bar->quality >= 0)
        md_buf_num(b, round((double)bar->quality * 100) / 100);
    else
        md_buf_puts(b, "null");
    if (!isnan(bar->vwap)) {
        md_buf_puts(b, ",\"vwap\":");
        md_buf_num(b, bar->vwap);
    }
    if (bar->trades >= 0) {
        md_buf_puts(b, ",\"trades\":");
        md_buf_int(b, bar->trades);
    }
    md_buf_putc(b, '}');
}

void md_render_bars_json_array(md_buf *b, const md_bar *bars, size_t n)
{
    md_buf_reserve(b, n * 180 + 2);
    md_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        md_render_bar_json(b, &bars[i]);
    }
    md_buf_putc(b, ']');
}

void md_render_bars_csv(md_buf *b, const md_bar *bars, size_t n)
{
    md_buf_reserve(b, n * 100 + 64);
    md_buf_puts(b, "timestamp,open,high,low,close,volume,source,quality\n");
    for (size_t i = 0; i < n; i++) {
        const md_bar *x = &bars[i];
        md_buf_ts(b, x->ts, 0);
        md_buf_putc(b, ',');
        md_buf_num(b, x->open);
        md_buf_putc(b, ',');
        md_buf_num(b, x->high);
        md_buf_putc(b, ',');
        md_buf_num(b, x->low);
        md_buf_putc(b, ',');
        md_buf_num(b, x->close);
        md_buf_putc(b, ',');
        md_buf_num(b, x->volume);
        md_buf_putc(b, ',');
        md_buf_puts(b, md_source_name(x->source));
        md_buf_putc(b, ',');
        if (x->quality >= 0) md_buf_num(b, round((double)x->quality * 100) / 100);
        md_buf_putc(b, '\n');
    }
}

void md_render_error_json(md_buf *b, int rc, const char *message)
{
    md_buf_puts(b, "{\"error\":{\"code\":");
    md_buf_json_str(b, md_error_code(rc));
    md_buf_puts(b, ",\"message\":");
    md_buf_json_str(b, message && *message ? message : md_error_default(rc));
    md_buf_puts(b, "}}");
}

const char *md_grade_for_score(double s)
{
    if (s < 0) return "N/A";
    static const struct {
        double min;
        const char *g;
    } t[] = {{97, "A+"}, {93, "A"},  {90, "A-"}, {87, "B+"}, {83, "B"}, {80, "B-"},
             {77, "C+"}, {73, "C"},  {70, "C-"}, {67, "D+"}, {60, "D"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (s >= t[i].min) return t[i].g;
    return "F";
}
