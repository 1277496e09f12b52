/* bench_indicators - points per second of the indicator kernels on one core.
 * usage: bench_indicators [points] [repeats] */
#include "analytics/indicators.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    double *c = malloc(n * sizeof *c), *h = malloc(n * sizeof *h), *l = malloc(n * sizeof *l),
           *v = malloc(n * sizeof *v), *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2),
           *o3 = malloc(n * sizeof *o3);
    unsigned s = 42;
    double p = 100;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p *= 1 + ((double)(s >> 8) / 16777216.0 - 0.5) * 0.01;
        c[i] = p, h[i] = p * 1.001, l[i] = p * 0.999, v[i] = 1000 + (s >> 22);
    }
    struct {
        const char *name;
        int kind;
    } k[] = {{"sma:20", 0},       {"ema:20", 1},      {"rsi:14", 2},
             {"macd:12:26:9", 3}, {"bbands:20:2", 4}, {"atr:14", 5},
             {"stoch:14:3:3", 6}, {"obv", 7},         {"vwap", 8}};
    printf("%-14s %14s\n", "indicator", "Mpoints/s");
    double sink = 0;
    for (size_t t = 0; t < sizeof k / sizeof k[0]; t++) {
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            int64_t t0 = md_mono_ns();
            switch (k[t].kind) {
            case 0: md_ind_sma(c, n, 20, o1); break;
            case 1: md_ind_ema(c, n, 20, o1); break;
            case 2: md_ind_rsi(c, n, 14, o1); break;
            case 3: md_ind_macd(c, n, 12, 26, 9, o1, o2, o3); break;
            case 4: md_ind_bbands(c, n, 20, 2, o1, o2, o3); break;
            case 5: md_ind_atr(h, l, c, n, 14, o1); break;
            case 6: md_ind_stoch(h, l, c, n, 14, 3, 3, o1, o2); break;
            case 7: md_ind_obv(c, v, n, o1); break;
            case 8: md_ind_vwap(h, l, c, v, n, o1); break;
            }
            double secs = (double)(md_mono_ns() - t0) / 1e9;
            if (secs < best) best = secs;
            sink += o1[n - 1];
        }
        printf("%-14s %14.1f\n", k[t].name, (double)n / best / 1e6);
    }
    fprintf(stderr, "(checksum %g)\n", sink);
    return 0;
}
