/* gen_bars.c - deterministic 1-minute OHLCV bars for the load benchmarks.
 *
 *   gen_bars [--symbols N] [--days D] [--seed S] [--prefix P]
 *            [--dir DIR]     one DIR/<SYMBOL>.csv per symbol: timestamp,open,high,low,close,volume
 *            [--file PATH]   one file with a symbol column: symbol,timestamp,open,...
 *            [--table PATH]  the same rows in the store's bars-table column order, no header:
 *                            symbol_id,interval,ts,open,high,low,close,volume,vwap,trades,
 *                            source,quality (vwap/trades/quality empty) - what `sqlite3 .import`
 *                            loads into a table of the same schema
 *            [--pgtable PATH] the same for the PostgreSQL bars table (`psql \copy ... CSV`):
 *                            symbol_id,iv,ts,open,...,quality with ts as "2014-01-02 14:30:00+00"
 *
 * Trading days are Monday to Friday from 2014-01-02, 390 bars a day from 14:30 UTC. Prices are
 * a random walk in whole cents (kept within a third and three times the first price) from a splitmix64 generator seeded with --seed, so the same
 * arguments always give the same bytes. Symbol ids in --table follow the order the agent
 * creates them (first symbol = 1); interval 0 is 1m, source 6 is csv. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

static char *put_uint(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_cents(char *p, int64_t c)
{
    p = put_uint(p, (uint64_t)(c / 100));
    *p++ = '.';
    *p++ = (char)('0' + (c / 10) % 10);
    *p++ = (char)('0' + c % 10);
    return p;
}

static char *put2(char *p, int v)
{
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_iso(char *p, int64_t ts)
{
    int y, m, d;
    civil_from_days(ts / 86400, &y, &m, &d);
    int s = (int)(ts % 86400);
    p = put2(p, y / 100);
    p = put2(p, y % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, s / 3600);
    *p++ = ':';
    p = put2(p, s / 60 % 60);
    *p++ = ':';
    p = put2(p, s % 60);
    *p++ = 'Z';
    return p;
}

typedef struct {
    FILE *f;
    char *buf;
    size_t n;
} out_t;

static void out_flush(out_t *o)
{
    if (o->f && o->n) {
        if (fwrite(o->buf, 1, o->n, o->f) != o->n) {
            perror("gen_bars: write");
            exit(1);
        }
    }
    o->n = 0;
}

#define OUT_BUF (1 << 20)

static void out_open(out_t *o, const char *path, const char *header)
{
    o->f = fopen(path, "w");
    if (!o->f) {
        perror(path);
        exit(1);
    }
    o->buf = malloc(OUT_BUF);
    o->n = 0;
    if (header) fputs(header, o->f);
}

static void out_close(out_t *o)
{
    if (!o->f) return;
    out_flush(o);
    fclose(o->f);
    free(o->buf);
    o->f = NULL;
}

int main(int argc, char **argv)
{
    int symbols = 20, days = 2609;
    uint64_t seed = 42;
    const char *dir = NULL, *file = NULL, *table = NULL, *pgtable = NULL, *prefix = "BENCH";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (strcmp(a, "--symbols") == 0)
            symbols = atoi(v);
        else if (strcmp(a, "--days") == 0)
            days = atoi(v);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (strcmp(a, "--file") == 0)
            file = v;
        else if (strcmp(a, "--table") == 0)
            table = v;
        else if (strcmp(a, "--pgtable") == 0)
            pgtable = v;
        else if (strcmp(a, "--prefix") == 0)
            prefix = v;
        else
            goto usage;
        i++;
    }
    if (symbols < 1 || symbols > 9999 || days < 1 || (!dir && !file && !table && !pgtable))
        goto usage;

    out_t one = {0}, tab = {0}, pgt = {0};
    if (file) out_open(&one, file, "symbol,timestamp,open,high,low,close,volume\n");
    if (table) out_open(&tab, table, NULL);
    if (pgtable) out_open(&pgt, pgtable, NULL);
    const int64_t day0 = days_from_civil(2014, 1, 2);
    uint64_t rows = 0;
    for (int s = 0; s < symbols; s++) {
        char sym[32];
        snprintf(sym, sizeof sym, "%s%02d", prefix, s);
        rng_state = seed * 1000003ULL + (uint64_t)s;
        out_t per = {0};
        if (dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.csv", dir, sym);
            out_open(&per, path, "timestamp,open,high,low,close,volume\n");
        }
        int64_t price = 2000 + (int64_t)(rnd() % 48000); /* 20.00 .. 500.00 */
        const int64_t start = price;
        int64_t day = day0;
        for (int dd = 0; dd < days; day++) {
            int64_t dow = (day + 4) % 7;        /* 1970-01-01 was a Thursday: 0 = Thursday */
            if (dow == 2 || dow == 3) continue; /* Saturday, Sunday */
            dd++;
            for (int m = 0; m < 390; m++) {
                int64_t ts = day * 86400 + 14 * 3600 + 30 * 60 + m * 60;
                int64_t open = price;
                /* move by up to +-0.2 % a minute */
                /* up to +-0.2 %, at least a cent, pulled back inside [start / 3, start * 3] */
                int64_t step = (int64_t)(rnd() % 401) - 200;
                if (open < start / 3 && step < 0) step = -step;
                if (open > start * 3 && step > 0) step = -step;
                int64_t move = open * step / 100000;
                if (move == 0) move = step > 0 ? 1 : step < 0 ? -1 : 0;
                int64_t close = open + move;
                if (close < 1) close = 1;
                int64_t hi =
                    (open > close ? open : close) + (int64_t)(rnd() % (uint64_t)(open / 500 + 2));
                int64_t lo =
                    (open < close ? open : close) - (int64_t)(rnd() % (uint64_t)(open / 500 + 2));
                if (lo < 1) lo = 1;
                uint64_t vol = 100 + rnd() % 50000;
                price = close;

                char line[256], *p = line;
                p = put_iso(p, ts);
                *p++ = ',';
                p = put_cents(p, open);
                *p++ = ',';
                p = put_cents(p, hi);
                *p++ = ',';
                p = put_cents(p, lo);
                *p++ = ',';
                p = put_cents(p, close);
                *p++ = ',';
                p = put_uint(p, vol);
                *p++ = '\n';
                size_t len = (size_t)(p - line);
                if (dir) {
                    memcpy(per.buf + per.n, line, len);
                    if ((per.n += len) > OUT_BUF - 256) out_flush(&per);
                }
                if (file) {
                    size_t sl = strlen(sym);
                    memcpy(one.buf + one.n, sym, sl);
                    one.buf[one.n + sl] = ',';
                    memcpy(one.buf + one.n + sl + 1, line, len);
                    if ((one.n += sl + 1 + len) > OUT_BUF - 256) out_flush(&one);
                }
                if (table) {
                    char *q = tab.buf + tab.n;
                    q = put_uint(q, (uint64_t)s + 1);
                    memcpy(q, ",0,", 3), q += 3;
                    q = put_uint(q, (uint64_t)ts);
                    *q++ = ',';
                    /* the prices and volume as in the CSV line, after its timestamp */
                    memcpy(q, line + 21, len - 22), q += len - 22;
                    memcpy(q, ",,,6,\n", 6), q += 6;
                    if ((tab.n = (size_t)(q - tab.buf)) > OUT_BUF - 256) out_flush(&tab);
                }
                if (pgtable) {
                    char *q = pgt.buf + pgt.n;
                    q = put_uint(q, (uint64_t)s + 1);
                    memcpy(q, ",0,", 3), q += 3;
                    memcpy(q, line, 19); /* 2014-01-02T14:30:00 */
                    q[10] = ' ';
                    q += 19;
                    memcpy(q, "+00,", 4), q += 4;
                    memcpy(q, line + 21, len - 22), q += len - 22;
                    memcpy(q, ",,,6,\n", 6), q += 6;
                    if ((pgt.n = (size_t)(q - pgt.buf)) > OUT_BUF - 256) out_flush(&pgt);
                }
                rows++;
            }
        }
        out_close(&per);
    }
    out_close(&one);
    out_close(&tab);
    out_close(&pgt);
    fprintf(stderr, "gen_bars: %llu rows, %d symbols, %d days\n", (unsigned long long)rows, symbols,
            days);
    return 0;
usage:
    fprintf(stderr, "usage: gen_bars [--symbols N] [--days D] [--seed S] [--prefix P] "
                    "[--dir DIR] [--file PATH] [--table PATH] [--pgtable PATH]\n");
    return 2;
}
