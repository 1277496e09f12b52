/* batch.c - parsing ingest bodies (jansson for JSON, csv.c for CSV) and answering. */
#include "ingest/batch.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "ingest/csv.h"
#include "ingest/loader.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void md_bar_batch_init(md_bar_batch *b)
{
    memset(b, 0, sizeof *b);
}

void md_bar_batch_deinit(md_bar_batch *b)
{
    md_free(b->series);
    md_free(b->bars);
    md_free(b->index);
    md_free(b->quotes);
    md_free(b->qindex);
    md_free(b->errors);
    md_free(b->symbols);
    memset(b, 0, sizeof *b);
}

void md_batch_item_error(md_bar_batch *b, size_t index, const char *code, const char *fmt, ...)
{
    MD_ARRAY_GROW(b->errors, b->n_errors, b->cap_errors, 16);
    md_item_error *e = &b->errors[b->n_errors++];
    e->index = index;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* A parsed bar waiting to be grouped. */
typedef struct {
    char symbol[MD_SYMBOL_MAX + 1];
    int iv;
    md_bar bar;
    size_t index;
} pending;

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    if (c) return c;
    if (x->iv != y->iv) return x->iv - y->iv;
    return (x->index > y->index) - (x->index < y->index);
}

/* Groups pending bars into series (stable by input order within a series). */
static void group(md_bar_batch *b, pending *p, size_t n)
{
    qsort(p, n, sizeof *p, cmp_pending);
    b->bars = md_malloc((n ? n : 1) * sizeof *b->bars);
    b->index = md_malloc((n ? n : 1) * sizeof *b->index);
    b->series = md_malloc((n ? n : 1) * sizeof *b->series);
    b->symbols = md_malloc((n ? n : 1) * sizeof *b->symbols);
    b->n_bars = n;
    for (size_t i = 0; i < n; i++) {
        b->bars[i] = p[i].bar;
        b->index[i] = p[i].index;
        if (i == 0 || strcmp(p[i].symbol, p[i - 1].symbol) != 0 || p[i].iv != p[i - 1].iv) {
            size_t k = b->n_series++;
            memcpy(b->symbols[k], p[i].symbol, sizeof b->symbols[k]);
            b->series[k].symbol = b->symbols[k];
            b->series[k].iv = (md_interval)p[i].iv;
            b->series[k].bars = &b->bars[i];
            b->series[k].n = 0;
        }
        b->series[b->n_series - 1].n++;
    }
}

static int get_number(json_t *o, const char *key, double *out, int required)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return required ? -1 : 1;
    if (json_is_number(v)) return *out = json_number_value(v), 0;
    if (json_is_string(v)) { /* "123.45" is common in provider exports */
        const char *s = json_string_value(v);
        return md_parse_double(s, strlen(s), out) == 0 ? 0 : -2;
    }
    return -2;
}

static int get_time(json_t *o, int64_t *out, md_error *err)
{
    json_t *v = json_object_get(o, "timestamp");
    if (!v) v = json_object_get(o, "time");
    if (!v) return md_error_set(err, MD_ETIMERANGE, "missing timestamp");
    if (json_is_number(v)) { /* epoch seconds (or ms, us, ns); read as a double, see below */
        double x = json_number_value(v);
        if (x != floor(x))
            return md_error_set(err, MD_ETIMERANGE, "timestamp: not whole epoch seconds");
        if (!(x >= -9.2e18 && x <= 9.2e18))
            return md_error_set(err, MD_ETIMERANGE, "timestamp out of range");
        int64_t t = (int64_t)x;
        while (t > MD_TS_MAX) t /= 1000; /* milliseconds */
        if (t < MD_TS_MIN) return md_error_set(err, MD_ETIMERANGE, "timestamp out of range");
        *out = t;
        return 0;
    }
    if (json_is_string(v)) return md_time_parse_str(json_string_value(v), out, err);
    return md_error_set(err, MD_ETIMERANGE, "timestamp must be a string or epoch seconds");
}

static int get_symbol(json_t *o, char *out, md_error *err)
{
    json_t *v = json_object_get(o, "symbol");
    if (!json_is_string(v)) return md_error_set(err, MD_ESYMBOL, "missing symbol");
    return md_symbol_normalize_str(json_string_value(v), out, err);
}

static int get_source(json_t *o, md_source_id def)
{
    json_t *v = json_object_get(o, "source");
    if (!json_is_string(v)) return def;
    int id = md_source_parse(json_string_value(v));
    return id > 0 ? id : (int)def;
}

/* A copy of a JSON body whose number literals beyond a double's range (1e309, -1e400 written
 * in full) are strings: jansson refuses the whole body for one such number ("real number
 * overflow"), and quoted it is the item's number that is not finite, that item's error (the
 * item parsers take numbers written as strings). NULL when the body has no such literal. */
static char *quote_overflowing_numbers(const char *body, size_t len, size_t *out_len)
{
    md_buf o;
    md_buf_init(&o);
    int found = 0, in_str = 0;
    size_t done = 0; /* body[0, done) is in o */
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) continue;
        size_t j = i;
        while (j < len && (strchr("+-.eE", body[j]) || (body[j] >= '0' && body[j] <= '9'))) j++;
        size_t n = j - i;
        char small[64], *tok = n < sizeof small ? small : md_malloc(n + 1);
        memcpy(tok, body + i, n);
        tok[n] = 0;
        if (isinf(strtod(tok, NULL))) {
            md_buf_append(&o, body + done, i - done);
            md_buf_putc(&o, '"');
            md_buf_append(&o, tok, n);
            md_buf_putc(&o, '"');
            done = j;
            found = 1;
        }
        if (tok != small) md_free(tok);
        i = j - 1;
    }
    if (!found) {
        md_buf_deinit(&o);
        return NULL;
    }
    md_buf_append(&o, body + done, len - done);
    return md_buf_steal(&o, out_len);
}

json_t *md_batch_json_items(md_bar_batch *b, const char *body, size_t len, const char *key,
                            md_error *err)
{
    json_error_t je;
    /* every number as a double: an integer beyond int64 (a volume of 1e19 written in full) is
     * an item's number like any other, not a body jansson refuses as "too big integer" */
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL;
    json_t *root = json_loadb(body, len, flags, &je);
    if (!root && strstr(je.text, "overflow")) {
        size_t qlen = 0;
        char *quoted = quote_overflowing_numbers(body, len, &qlen);
        if (quoted) {
            root = json_loadb(quoted, qlen, flags, &je);
            md_free(quoted);
        }
    }
    if (!root) {
        md_error_set(err, MD_EJSON, "invalid JSON at line %d column %d: %s", je.line, je.column,
                     je.text);
        return NULL;
    }
    json_t *arr = json_is_object(root) ? json_object_get(root, key) : NULL;
    if (!json_is_array(arr)) {
        json_decref(root);
        md_error_set(err, MD_EJSON, "expected {\"%s\":[...]}", key);
        return NULL;
    }
    json_incref(arr);
    json_decref(root);
    b->n_items = json_array_size(arr);
    return arr;
}

/* What every item of a JSON batch is checked for first: an object with a symbol. 0, or -1
 * with the item's error recorded (what: "bar" or "quote"). */
static int item_symbol(md_bar_batch *b, size_t i, json_t *o, const char *what, char *symbol)
{
    md_error e;
    if (!json_is_object(o)) {
        md_batch_item_error(b, i, "invalid_json", "%s must be an object", what);
        return -1;
    }
    if (get_symbol(o, symbol, &e)) {
        md_batch_item_error(b, i, md_error_code(e.rc), "%s", e.msg);
        return -1;
    }
    return 0;
}

/* An item's timestamp; -1 with the item's error recorded. */
static int item_time(md_bar_batch *b, size_t i, json_t *o, int64_t *ts)
{
    md_error e;
    if (get_time(o, ts, &e)) {
        md_batch_item_error(b, i, "invalid_time_range", "%s", e.msg);
        return -1;
    }
    return 0;
}

int md_batch_parse_json_bars(md_bar_batch *b, const char *body, size_t len, md_source_id source,
                             md_error *err)
{
    json_t *arr = md_batch_json_items(b, body, len, "bars", err);
    if (!arr) return MD_EJSON;
    size_t n = b->n_items;
    pending *p = md_malloc((n ? n : 1) * sizeof *p);
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        md_error e;
        pending *x = &p[np];
        if (item_symbol(b, i, o, "bar", x->symbol)) continue;
        json_t *iv = json_object_get(o, "interval");
        md_interval ivv = MD_IV_1D;
        if (iv && (!json_is_string(iv) || md_interval_parse(json_string_value(iv), &ivv, &e))) {
            md_batch_item_error(b, i, "invalid_interval", "%s",
                                json_is_string(iv) ? e.msg : "interval must be a string");
            continue;
        }
        x->iv = (int)ivv;
        md_bar_init(&x->bar);
        x->bar.source = (uint8_t)get_source(o, source);
        if (item_time(b, i, o, &x->bar.ts)) continue;
        static const char *names[] = {"open", "high", "low", "close"};
        double *dst[] = {&x->bar.open, &x->bar.high, &x->bar.low, &x->bar.close};
        int bad = 0;
        for (int k = 0; k < 4 && !bad; k++) {
            int r = get_number(o, names[k], dst[k], 1);
            if (r) {
                md_batch_item_error(b, i, "invalid_bar", "%s: %s", names[k],
                                    r == -1 ? "missing" : "not a number");
                bad = 1;
            }
        }
        if (bad) continue;
        int r = get_number(o, "volume", &x->bar.volume, 0);
        if (r == 1) x->bar.volume = 0;
        if (r < 0) {
            md_batch_item_error(b, i, "invalid_bar", "volume: not a number");
            continue;
        }
        if (get_number(o, "vwap", &x->bar.vwap, 0) < 0) {
            md_batch_item_error(b, i, "invalid_bar", "vwap: not a number");
            continue;
        }
        json_t *tr = json_object_get(o, "trades");
        if (tr && !json_is_null(tr)) {
            double t = json_is_number(tr) ? json_number_value(tr) : -1;
            if (t < 0 || t != floor(t) || t >= 9.2e18) {
                md_batch_item_error(b, i, "invalid_bar", "trades: not a count");
                continue;
            }
            x->bar.trades = (int64_t)t;
        }
        x->index = i;
        np++;
    }
    json_decref(arr);
    group(b, p, np);
    md_free(p);
    return 0;
}

static int cmp_symbol_time(const void *a, const void *b)
{
    const pending *x = *(const pending *const *)a, *y = *(const pending *const *)b;
    int c = strcmp(x->symbol, y->symbol);
    if (c) return c;
    return (x->bar.ts > y->bar.ts) - (x->bar.ts < y->bar.ts);
}

/* The interval of the rows no interval column named: inferred from the spacing of those
 * rows' timestamps, per symbol (1d when they do not tell). A row's own interval is never
 * overwritten. One sort by (symbol, time), so a newest-first file costs what an oldest-first
 * one does. */
static void infer_intervals(pending *pd, size_t np)
{
    pending **v = md_malloc((np ? np : 1) * sizeof *v);
    int64_t *ts = md_malloc((np ? np : 1) * sizeof *ts);
    size_t m = 0;
    for (size_t i = 0; i < np; i++)
        if (pd[i].iv < 0) v[m++] = &pd[i];
    qsort(v, m, sizeof *v, cmp_symbol_time);
    for (size_t i = 0; i < m;) {
        size_t j = i, k = 0;
        for (; j < m && strcmp(v[j]->symbol, v[i]->symbol) == 0; j++)
            if (k == 0 || ts[k - 1] != v[j]->bar.ts) ts[k++] = v[j]->bar.ts;
        int iv = md_infer_interval(ts, k);
        for (; i < j; i++) v[i]->iv = iv < 0 ? MD_IV_1D : iv;
    }
    md_free(ts);
    md_free(v);
}

int md_batch_parse_csv_bars(md_bar_batch *b, const char *body, size_t len, const char *def_symbol,
                            int def_iv, md_source_id source, md_error *err)
{
    const char *p = body, *end = body + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* a UTF-8 BOM */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t hl = nl ? (size_t)(nl - p) : (size_t)(end - p);
    while (nl && strspn(p, " \t\r") == hl) { /* blank lines before the header, as load skips */
        p = nl + 1;
        nl = memchr(p, '\n', (size_t)(end - p));
        hl = nl ? (size_t)(nl - p) : (size_t)(end - p);
    }
    md_csv_layout l;
    int rc = md_csv_detect(p, hl, MD_CSV_AUTO, &l, err);
    if (rc) return rc;
    char defsym[MD_SYMBOL_MAX + 1] = "";
    if (def_symbol && md_symbol_normalize_str(def_symbol, defsym, err)) return MD_ESYMBOL;
    if (l.c_symbol < 0 && !defsym[0])
        return md_error_set(err, MD_ESYMBOL, "CSV has no symbol column: pass ?symbol=");
    p = nl ? nl + 1 : end;
    size_t cap = 256, np = 0, index = 0;
    pending *pd = md_malloc(cap * sizeof *pd);
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        md_csv_row row;
        md_error e;
        int r = md_csv_parse_row(&l, p, ll, &row, &e);
        p = nl ? nl + 1 : end;
        if (r == 1) continue;
        if (r < 0) {
            md_batch_item_error(b, index++, "invalid_csv", "%s", e.msg);
            continue;
        }
        if (np == cap) pd = md_realloc(pd, (cap *= 2) * sizeof *pd);
        pending *x = &pd[np++];
        snprintf(x->symbol, sizeof x->symbol, "%s", row.symbol[0] ? row.symbol : defsym);
        row.bar.source = (uint8_t)source;
        x->bar = row.bar;
        x->iv = def_iv >= 0 ? def_iv : row.per_iv;
        x->index = index++;
    }
    b->n_items = index;
    if (def_iv < 0) infer_intervals(pd, np);
    group(b, pd, np);
    md_free(pd);
    return 0;
}

int md_batch_parse_json_quotes(md_bar_batch *b, const char *body, size_t len, md_source_id source,
                               md_error *err)
{
    json_t *arr = md_batch_json_items(b, body, len, "quotes", err);
    if (!arr) return MD_EJSON;
    size_t n = b->n_items;
    b->quotes = md_malloc((n ? n : 1) * sizeof *b->quotes);
    b->qindex = md_malloc((n ? n : 1) * sizeof *b->qindex);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        md_quote *q = &b->quotes[b->n_quotes];
        md_quote_init(q);
        if (item_symbol(b, i, o, "quote", q->symbol) || item_time(b, i, o, &q->ts)) continue;
        int r = get_number(o, "price", &q->price, 1);
        if (r) {
            md_batch_item_error(b, i, "invalid_bar", "price: %s",
                                r == -1 ? "missing" : "not a number");
            continue;
        }
        if (get_number(o, "volume", &q->volume, 0) < 0 || get_number(o, "bid", &q->bid, 0) < 0 ||
            get_number(o, "ask", &q->ask, 0) < 0) {
            md_batch_item_error(b, i, "invalid_bar", "volume, bid and ask must be numbers");
            continue;
        }
        q->source = (uint8_t)get_source(o, source);
        b->qindex[b->n_quotes++] = i;
    }
    json_decref(arr);
    return 0;
}

static int cmp_err(const void *a, const void *b)
{
    const md_item_error *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

int md_batch_ingest(md_writer *w, md_bar_batch *b, md_buf *out, md_error *err)
{
    md_write_result res;
    md_write_result_init(&res, 0);
    /* items the parser already turned away (bad symbol, interval, time, number) count in
     * mdagent_ingest_rejected_total as the writer's rule rejections do */
    for (size_t i = 0; i < b->n_errors; i++)
        md_metric_add(MD_M_INGEST_REJECTED, 1, b->errors[i].code);
    int rc;
    if (b->quotes) {
        md_write req = {.origin = MD_WRITE_INGEST, .quotes = b->quotes, .n_quotes = b->n_quotes};
        rc = md_writer_write(w, &req, &res, err);
        for (size_t i = 0; rc == 0 && i < res.n_rejects; i++)
            md_batch_item_error(b, b->qindex[res.rejects[i].index],
                                md_rule_code(res.rejects[i].rule), "%s", res.rejects[i].msg);
    } else {
        /* the writer compacts series in place; remember each bar's input index first */
        size_t n = b->n_bars;
        size_t *idx = md_malloc((n ? n : 1) * sizeof *idx);
        if (n) memcpy(idx, b->index, n * sizeof *idx);
        md_write req = {.origin = MD_WRITE_INGEST, .series = b->series, .n_series = b->n_series};
        rc = md_writer_write(w, &req, &res, err);
        for (size_t i = 0; rc == 0 && i < res.n_rejects; i++)
            md_batch_item_error(b, idx[res.rejects[i].index], md_rule_code(res.rejects[i].rule),
                                "%s", res.rejects[i].msg);
        md_free(idx);
    }
    if (rc == 0) {
        if (b->n_errors) qsort(b->errors, b->n_errors, sizeof *b->errors, cmp_err);
        md_buf_puts(out, "{\"accepted\":");
        md_buf_int(out, (int64_t)res.accepted);
        md_buf_puts(out, ",\"rejected\":");
        md_buf_int(out, (int64_t)b->n_errors);
        md_buf_puts(out, ",\"errors\":[");
        for (size_t i = 0; i < b->n_errors; i++) {
            if (i) md_buf_putc(out, ',');
            md_buf_puts(out, "{\"index\":");
            md_buf_int(out, (int64_t)b->errors[i].index);
            md_buf_puts(out, ",\"code\":");
            md_buf_json_str(out, b->errors[i].code);
            md_buf_puts(out, ",\"message\":");
            md_buf_json_str(out, b->errors[i].msg);
            md_buf_putc(out, '}');
        }
        md_buf_puts(out, "]}");
    }
    md_write_result_deinit(&res);
    return rc;
}
