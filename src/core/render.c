/* render.c - JSON and CSV writers for the domain records. */
#include "core/render.h"

#include "core/error.h"
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void md_render_ohlcv_fields(md_buf *b, const md_bar *bar)
{
    md_buf_puts(b, "\"timestamp\":");
    md_buf_ts(b, bar->ts, 1);
    md_json_num(b, "open", bar->open);
    md_json_num(b, "high", bar->high);
    md_json_num(b, "low", bar->low);
    md_json_num(b, "close", bar->close);
    md_json_num(b, "volume", isnan(bar->volume) ? 0 : bar->volume);
}

void md_render_bar_json(md_buf *b, const md_bar *bar, const md_bar_span *span)
{
    md_render_symbol_bar_json(b, NULL, bar, span);
}

void md_render_symbol_bar_json(md_buf *b, const char *symbol, const md_bar *bar,
                               const md_bar_span *span)
{
    md_buf_reserve(b, 256);
    md_buf_putc(b, '{');
    if (symbol) {
        md_buf_puts(b, "\"symbol\":");
        md_buf_json_str(b, symbol);
        md_buf_putc(b, ',');
    }
    md_render_ohlcv_fields(b, bar);
    md_buf_puts(b, ",\"source\":\"");
    md_buf_puts(b, md_source_name(bar->source));
    md_buf_puts(b, "\",\"quality\":");
    if (bar->quality >= 0)
        md_buf_num(b, round((double)bar->quality * 100) / 100);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, md_bar_span_partial(span, bar->ts) ? ",\"partial\":true" : ",\"partial\":false");
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

void md_render_bars_json_array(md_buf *b, const md_bar *bars, size_t n, const md_bar_span *span)
{
    md_buf_reserve(b, n * 196 + 2);
    md_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_putc(b, ',');
        md_render_bar_json(b, &bars[i], span);
    }
    md_buf_putc(b, ']');
}

void md_render_symbol_bars_csv_header(md_buf *b)
{
    md_buf_puts(b, "symbol,");
    md_render_bars_csv_header(b);
}

void md_render_bars_csv_header(md_buf *b)
{
    md_buf_puts(b, "timestamp,open,high,low,close,volume,source,quality,partial\n");
}

void md_render_bars_csv_rows(md_buf *b, const md_bar *bars, size_t n, const md_bar_span *span)
{
    md_render_symbol_bars_csv_rows(b, NULL, bars, n, span);
}

void md_render_symbol_bars_csv_rows(md_buf *b, const char *symbol, const md_bar *bars, size_t n,
                                    const md_bar_span *span)
{
    size_t sl = symbol ? strlen(symbol) + 1 : 0;
    md_buf_reserve(b, n * (108 + sl));
    for (size_t i = 0; i < n; i++) {
        const md_bar *x = &bars[i];
        if (symbol) { /* symbols are A-Z 0-9 . - ^ = / _: never quoted */
            md_buf_puts(b, symbol);
            md_buf_putc(b, ',');
        }
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
        md_buf_puts(b, md_bar_span_partial(span, x->ts) ? ",true\n" : ",false\n");
    }
}

void md_render_bars_csv(md_buf *b, const md_bar *bars, size_t n, const md_bar_span *span)
{
    md_render_bars_csv_header(b);
    md_render_bars_csv_rows(b, bars, n, span);
}

void md_render_error_json(md_buf *b, int rc, const char *message)
{
    md_buf_puts(b, "{\"error\":{\"code\":");
    md_buf_json_str(b, md_error_code(rc));
    md_buf_puts(b, ",\"message\":");
    const char *m = message && *message ? message : md_error_default(rc);
    /* a message cut to fit its buffer may end inside a character: cut before it instead */
    md_buf_json_strn(b, m, md_utf8_prefix(m, strlen(m)));
    md_buf_puts(b, "}}");
}

/* Minimum scores of A+ .. D; set once at start-up from quality.grades. */
static const char *grade_names[] = {"A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D"};
static double grade_min[] = {97, 93, 90, 87, 83, 80, 77, 73, 70, 67, 60};
_Static_assert(sizeof grade_names / sizeof grade_names[0] == MD_GRADE_STEPS, "a name per step");
_Static_assert(sizeof grade_min / sizeof grade_min[0] == MD_GRADE_STEPS, "a minimum per step");

int md_grade_parse_thresholds(const char *list, double out[MD_GRADE_STEPS], md_error *err)
{
    const char *p = list;
    double t[MD_GRADE_STEPS];
    int n = 0;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v))
            return md_error_set(err, MD_ECONFIG, "'%.20s' is not a number", p);
        if (n == MD_GRADE_STEPS)
            return md_error_set(err, MD_ECONFIG, "want %d numbers (A+ .. D), got more",
                                MD_GRADE_STEPS);
        if (v < 0 || v > 100) return md_error_set(err, MD_ECONFIG, "%g is not 0..100", v);
        if (n > 0 && v >= t[n - 1])
            return md_error_set(err, MD_ECONFIG, "thresholds must descend (%g after %g)", v,
                                t[n - 1]);
        t[n++] = v;
        p = end;
        while (*p == ' ') p++;
        if (*p && *p != ',') return md_error_set(err, MD_ECONFIG, "'%.20s' is not a number", p);
    }
    if (n != MD_GRADE_STEPS)
        return md_error_set(err, MD_ECONFIG, "want %d numbers (A+ .. D), got %d", MD_GRADE_STEPS,
                            n);
    memcpy(out, t, sizeof t);
    return 0;
}

void md_grade_set_thresholds(const double t[MD_GRADE_STEPS])
{
    memcpy(grade_min, t, sizeof grade_min);
}

const char *md_grade_for_score(double s)
{
    if (s < 0) return "N/A";
    for (int i = 0; i < MD_GRADE_STEPS; i++)
        if (s >= grade_min[i]) return grade_names[i];
    return "F";
}
