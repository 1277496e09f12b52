/* csv.c - header detection and the line parser. */
#include "ingest/csv.h"

#include "core/mem.h"
#include "core/symbol.h"
#include "core/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int md_csv_format_parse(const char *s, md_csv_format *out, md_error *err)
{
    static const char *names[] = {"auto", "generic", "yahoo", "stooq"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return *out = (md_csv_format)i, 0;
    return md_error_set(err, MD_EPARAM,
                        "unknown CSV format '%.20s' (want auto, generic, yahoo "
                        "or stooq)",
                        s);
}

/* -- numbers -------------------------------------------------------------------------------- */

static const double pow10tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int slow_double(const char *s, size_t len, double *out)
{
    char tmp[64];
    if (len >= sizeof tmp) return MD_ECSV;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v)) return MD_ECSV;
    *out = v;
    return 0;
}

int md_parse_double(const char *s, size_t len, double *out)
{
    if (len == 0) return MD_ECSV;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
    uint64_t mant = 0;
    int ndig = 0, frac = 0, seen_dot = 0, any = 0;
    for (; i < len; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c <= 9) {
            any = 1;
            if (mant == 0 && c == 0 && !seen_dot) continue; /* leading zeros */
            if (ndig >= 19) return slow_double(s, len, out);
            mant = mant * 10 + c;
            if (mant) ndig++;
            if (seen_dot) frac++;
        } else if (s[i] == '.' && !seen_dot) {
            seen_dot = 1;
        } else {
            /* exponents, inf/nan words, anything else: let strtod decide (and reject) */
            if (s[i] == 'e' || s[i] == 'E') return slow_double(s, len, out);
            return MD_ECSV;
        }
    }
    if (!any) return MD_ECSV;
    /* exact when the mantissa fits in 53 bits and the divisor is an exact power of ten */
    if (mant < (1ULL << 53) && frac <= 22) {
        double v = (double)mant / pow10tab[frac];
        *out = neg ? -v : v;
        return 0;
    }
    return slow_double(s, len, out);
}

static int parse_int64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19) return MD_ECSV;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == len) return MD_ECSV;
    uint64_t v = 0; /* 19 digits always fit; int64_t's range is checked after */
    for (; i < len; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9) return MD_ECSV;
        v = v * 10 + c;
    }
    if (s[0] == '-') {
        if (v > (uint64_t)INT64_MAX + 1) return MD_ECSV;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return MD_ECSV;
        *out = (int64_t)v;
    }
    return 0;
}

/* -- fields --------------------------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t n;
} field;

/* Splits a line into fields; quoted fields lose their quotes (a doubled quote inside is
 * kept as two characters: prices and dates never contain one). Returns the field count,
 * or -1 when there are more than max. */
static int split(const char *line, size_t len, char delim, field *f, int max)
{
    int n = 0;
    size_t i = 0;
    for (;;) {
        if (n == max) return -1;
        size_t a = i;
        if (i < len && line[i] == '"') {
            a = ++i;
            while (i < len && !(line[i] == '"' && (i + 1 == len || line[i + 1] == delim))) i++;
            f[n].p = line + a;
            f[n].n = i - a;
            if (i < len) i++; /* closing quote */
        } else {
            const char *d = memchr(line + i, delim, len - i);
            i = d ? (size_t)(d - line) : len;
            f[n].p = line + a;
            f[n].n = i - a;
        }
        /* trim spaces */
        while (f[n].n && (f[n].p[0] == ' ' || f[n].p[0] == '\t')) f[n].p++, f[n].n--;
        while (f[n].n && (f[n].p[f[n].n - 1] == ' ' || f[n].p[f[n].n - 1] == '\t')) f[n].n--;
        n++;
        if (i >= len) break;
        i++;            /* delimiter */
        if (i == len) { /* trailing delimiter: one more empty field */
            if (n == max) return -1;
            f[n].p = line + len;
            f[n].n = 0;
            n++;
            break;
        }
    }
    return n;
}

/* -- header --------------------------------------------------------------------------------- */

static int name_is(const field *f, const char *const *names)
{
    char buf[40];
    size_t n = 0;
    for (size_t i = 0; i < f->n && n + 1 < sizeof buf; i++) {
        char c = f->p[i];
        if (c == '<' || c == '>' || c == '"') continue;
        if (c == ' ' || c == '-') c = '_';
        buf[n++] = (char)tolower((unsigned char)c);
    }
    buf[n] = 0;
    for (; *names; names++)
        if (strcmp(buf, *names) == 0) return 1;
    return 0;
}

/* The header names each column role answers to (compared lower-case, with spaces and
 * dashes read as '_', quotes and Stooq's <brackets> dropped). A column takes the first role in
 * this order that its name matches and that has no column yet. */
static const char *const column_names[][6] = {
    {"datetime", "timestamp", "ts", "date_time", "time_stamp", NULL}, /* date and time */
    {"date", "day", NULL},
    {"time", NULL}, /* a time of day beside a date, or the whole time alone */
    {"open", "o", NULL},
    {"high", "h", NULL},
    {"low", "l", NULL},
    {"close", "c", "price", NULL},
    {"volume", "vol", "v", NULL},
    {"symbol", "ticker", NULL},
    {"vwap", NULL},
    {"trades", "transactions", "trade_count", NULL},
    {"per", "interval", NULL}, /* the row's interval: 1m..1mo, or Stooq's <PER> (D, W, M, 5) */
};

/* Whether a header line is text: UTF-8 without control characters other than tab (a binary
 * file's first "line" is not). */
static int is_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
            continue;
        }
        size_t more = c >= 0xC2 && c <= 0xDF   ? 1
                      : c >= 0xE0 && c <= 0xEF ? 2
                      : c >= 0xF0 && c <= 0xF4 ? 3
                                               : 0;
        if (!more || i + more >= n) return 0; /* not a lead byte, or cut short */
        for (size_t k = 1; k <= more; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80) return 0;
        i += more;
    }
    return 1;
}

int md_csv_detect(const char *line, size_t len, md_csv_format want, md_csv_layout *l, md_error *err)
{
    if (len >= 3 && (unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
        (unsigned char)line[2] == 0xBF)
        line += 3, len -= 3;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n')) len--;
    if (len == 0) return md_error_set(err, MD_ECSV, "empty header line");

    memset(l, -1, sizeof *l);
    l->format = want == MD_CSV_AUTO ? MD_CSV_GENERIC : want;
    l->compact_date = 0;
    l->date_named = 0;
    /* delimiter: the first of , ; tab that the header contains */
    l->delim = memchr(line, ',', len)    ? ','
               : memchr(line, ';', len)  ? ';'
               : memchr(line, '\t', len) ? '\t'
                                         : ',';
    field f[MD_CSV_MAX_COLS];
    int n = split(line, len, l->delim, f, MD_CSV_MAX_COLS);
    if (n < 0)
        return md_error_set(err, MD_ECSV, "header has more than %d columns", MD_CSV_MAX_COLS);
    l->ncols = n;
    int c_date = -1, c_time = -1, c_dt = -1, stooq_brackets = 0;
    /* where each role's column goes, in the order of column_names */
    int *const slot[] = {&c_dt,        &c_date,    &c_time,      &l->c_open,
                         &l->c_high,   &l->c_low,  &l->c_close,  &l->c_volume,
                         &l->c_symbol, &l->c_vwap, &l->c_trades, &l->c_per};
    _Static_assert(MD_ARRAY_LEN(slot) == MD_ARRAY_LEN(column_names), "a slot per role");
    for (int i = 0; i < n; i++) {
        if (f[i].n && f[i].p[0] == '<') stooq_brackets = 1;
        /* the first role the name answers to that has no column yet */
        for (size_t r = 0; r < MD_ARRAY_LEN(column_names); r++) {
            if (*slot[r] < 0 && name_is(&f[i], column_names[r])) {
                *slot[r] = i;
                break;
            }
        }
    }
    if (stooq_brackets && want == MD_CSV_AUTO) l->format = MD_CSV_STOOQ;
    if (c_dt >= 0) {
        l->c_time = c_dt;
    } else if (c_date >= 0) {
        l->c_time = c_date;
        l->c_clock = c_time;
        l->date_named = 1;
    } else if (c_time >= 0) {
        l->c_time = c_time;
    }
    if (l->format == MD_CSV_STOOQ && stooq_brackets) l->compact_date = 1;
    const char *missing = l->c_time < 0    ? "time column (date, datetime, time or timestamp)"
                          : l->c_open < 0  ? "open column"
                          : l->c_high < 0  ? "high column"
                          : l->c_low < 0   ? "low column"
                          : l->c_close < 0 ? "close column"
                                           : NULL;
    if (missing && !is_text(line, len)) /* its bytes must not reach a terminal */
        return md_error_set(err, MD_ECSV, "header line is not text (a binary file?)");
    if (missing)
        return md_error_set(err, MD_ECSV, "header has no %s: '%.*s'", missing,
                            (int)(len > 80 ? 80 : len), line);
    if (want == MD_CSV_YAHOO && l->c_volume < 0)
        return md_error_set(err, MD_ECSV, "header has no volume column (Yahoo CSV has one)");
    return 0;
}

/* -- rows ----------------------------------------------------------------------------------- */

static int parse_time(const md_csv_layout *l, const field *t, const field *clock, int64_t *out,
                      md_error *err)
{
    if (l->compact_date) {
        if (md_time_parse_compact(t->p, t->n, clock ? clock->p : NULL, clock ? clock->n : 0, out))
            return md_error_set(
                err, MD_ECSV, "bad date/time '%.*s %.*s'", (int)(t->n > 20 ? 20 : t->n), t->p,
                clock ? (int)(clock->n > 10 ? 10 : clock->n) : 0, clock ? clock->p : "");
        return 0;
    }
    if (clock && clock->n) {
        char buf[64];
        if (t->n + clock->n + 2 > sizeof buf)
            return md_error_set(err, MD_ECSV, "date/time too long");
        memcpy(buf, t->p, t->n);
        buf[t->n] = 'T';
        memcpy(buf + t->n + 1, clock->p, clock->n);
        size_t n = t->n + 1 + clock->n;
        /* "09:30" needs seconds for nothing; md_time_parse accepts HH:MM */
        md_error e2;
        if (md_time_parse(buf, n, out, &e2) != 0)
            return md_error_set(err, MD_ECSV, "bad date/time '%.*s'", (int)(n > 40 ? 40 : n), buf);
        return 0;
    }
    int all_digits = t->n > 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->p[i] < '0' || t->p[i] > '9') all_digits = 0;
    if (all_digits && t->n == 8 && l->date_named) {
        if (md_time_parse_compact(t->p, 8, NULL, 0, out) == 0) return 0;
    }
    if (all_digits && t->n >= 12) {
        /* epoch in milliseconds, microseconds or nanoseconds */
        int64_t v;
        if (parse_int64(t->p, t->n, &v) != 0) return md_error_set(err, MD_ECSV, "bad epoch time");
        while (v > MD_TS_MAX) v /= 1000;
        *out = v;
        return 0;
    }
    md_error e2;
    if (md_time_parse(t->p, t->n, out, &e2) != 0)
        return md_error_set(err, MD_ECSV, "cannot parse time '%.*s'", (int)(t->n > 40 ? 40 : t->n),
                            t->p);
    return 0;
}

static int num(const field *f, const char *name, double *out, md_error *err)
{
    if (f->n == 0) return md_error_set(err, MD_ECSV, "%s: missing value", name);
    if (md_parse_double(f->p, f->n, out) != 0) {
        if (f->n == 4 && strncasecmp(f->p, "null", 4) == 0)
            return md_error_set(err, MD_ECSV, "%s: missing value (null)", name);
        return md_error_set(err, MD_ECSV, "%s: '%.*s' is not a number", name,
                            (int)(f->n > 30 ? 30 : f->n), f->p);
    }
    return 0;
}

/* The row's interval from its interval column: one of our names (1m .. 1mo), or Stooq's <PER>
 * (D, W, M, or minutes); empty is none (-1, the interval is inferred); anything else is the
 * row's error, not a guess. */
static int per_interval(const field *f, int *iv, md_error *err)
{
    *iv = -1;
    if (f->n == 0) return 0;
    char name[16];
    if (f->n < sizeof name) {
        memcpy(name, f->p, f->n);
        name[f->n] = 0;
        md_interval parsed;
        md_error ignored;
        if (md_interval_parse(name, &parsed, &ignored) == 0) return *iv = (int)parsed, 0;
    }
    if (f->n == 1) {
        switch (f->p[0]) {
        case 'D':
        case 'd': return *iv = MD_IV_1D, 0;
        case 'W':
        case 'w': return *iv = MD_IV_1W, 0;
        case 'M':
        case 'm': return *iv = MD_IV_1MO, 0;
        }
    }
    int64_t mins;
    if (parse_int64(f->p, f->n, &mins) == 0 && mins > 0 && mins <= INT64_MAX / 60 &&
        (*iv = md_interval_from_seconds(mins * 60)) >= 0)
        return 0;
    return md_error_set(err, MD_ECSV,
                        "interval: '%.*s' is not an interval (1m 5m 15m 30m 1h 4h 1d 1w 1mo)",
                        (int)(f->n > 20 ? 20 : f->n), f->p);
}

static void strip_stooq_market(char *sym)
{
    size_t n = strlen(sym);
    if (n > 3 && strcmp(sym + n - 3, ".US") == 0) sym[n - 3] = 0;
}

int md_csv_parse_row(const md_csv_layout *l, const char *line, size_t len, md_csv_row *row,
                     md_error *err)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n')) len--;
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == len) return 1;
    if (len > MD_CSV_MAX_LINE)
        return md_error_set(err, MD_ECSV, "line longer than %d bytes", MD_CSV_MAX_LINE);
    field f[MD_CSV_MAX_COLS];
    int n = split(line, len, l->delim, f, MD_CSV_MAX_COLS);
    if (n < 0) return md_error_set(err, MD_ECSV, "more than %d fields", MD_CSV_MAX_COLS);
    if (n < l->ncols) {
        /* a missing trailing optional column is fine; a missing needed one is not */
        int need = l->c_time;
        int cols[] = {l->c_clock, l->c_open, l->c_high, l->c_low, l->c_close};
        for (size_t i = 0; i < 5; i++)
            if (cols[i] > need) need = cols[i];
        if (n <= need) return md_error_set(err, MD_ECSV, "%d fields, header has %d", n, l->ncols);
    } else if (n > l->ncols) {
        return md_error_set(err, MD_ECSV, "%d fields, header has %d", n, l->ncols);
    }
    md_bar *b = &row->bar;
    md_bar_init(b);
    b->source = MD_SRC_CSV;
    row->symbol[0] = 0;
    row->per_iv = -1;
    int rc = parse_time(l, &f[l->c_time], l->c_clock >= 0 && l->c_clock < n ? &f[l->c_clock] : NULL,
                        &b->ts, err);
    if (rc) return rc;
    if ((rc = num(&f[l->c_open], "open", &b->open, err)) ||
        (rc = num(&f[l->c_high], "high", &b->high, err)) ||
        (rc = num(&f[l->c_low], "low", &b->low, err)) ||
        (rc = num(&f[l->c_close], "close", &b->close, err)))
        return rc;
    if (l->c_volume >= 0 && l->c_volume < n) {
        if ((rc = num(&f[l->c_volume], "volume", &b->volume, err))) return rc;
    }
    if (l->c_vwap >= 0 && l->c_vwap < n && f[l->c_vwap].n) {
        if ((rc = num(&f[l->c_vwap], "vwap", &b->vwap, err))) return rc;
    }
    if (l->c_trades >= 0 && l->c_trades < n && f[l->c_trades].n) {
        if (parse_int64(f[l->c_trades].p, f[l->c_trades].n, &b->trades) != 0 || b->trades < 0)
            return md_error_set(err, MD_ECSV, "trades: '%.*s' is not a count",
                                (int)(f[l->c_trades].n > 20 ? 20 : f[l->c_trades].n),
                                f[l->c_trades].p);
    }
    if (l->c_symbol >= 0 && l->c_symbol < n) {
        md_error e2;
        if (md_symbol_normalize(f[l->c_symbol].p, f[l->c_symbol].n, row->symbol, &e2) != 0)
            return md_error_set(err, MD_ECSV, "symbol: %s", e2.msg);
        if (l->format == MD_CSV_STOOQ) strip_stooq_market(row->symbol);
    }
    if (l->c_per >= 0 && l->c_per < n) return per_interval(&f[l->c_per], &row->per_iv, err);
    return 0;
}

int md_csv_symbol_from_path(const char *path, char *out, md_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    static const char *exts[] = {".gz", ".csv", ".txt", ".tsv"};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
            size_t n = strlen(name), e = strlen(exts[i]);
            if (n > e && strcasecmp(name + n - e, exts[i]) == 0) name[n - e] = 0;
        }
    }
    size_t n = strlen(name);
    if (n > 3 && strcasecmp(name + n - 3, ".us") == 0) name[n - 3] = 0;
    md_error e2;
    if (md_symbol_normalize_str(name, out, &e2) != 0)
        return md_error_set(err, MD_ESYMBOL,
                            "cannot take a symbol from file name '%.60s' (%s); "
                            "pass --symbol",
                            base, e2.msg);
    return 0;
}
