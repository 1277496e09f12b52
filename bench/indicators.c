/* bench_indicators - points per second of every indicator kernel of analytics/indicators.def
 * (default parameters) on one core.
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
           *v = malloc(n * sizeof *v);
    int64_t *ts = malloc(n * sizeof *ts);
    double *o[MD_IND_MAX_OUTPUTS];
    for (int k = 0; k < MD_IND_MAX_OUTPUTS; k++) o[k] = malloc(n * sizeof(double));
    unsigned s = 42;
    double p = 100;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p *= 1 + ((double)(s >> 8) / 16777216.0 - 0.5) * 0.01;
        c[i] = p, h[i] = p * 1.001, l[i] = p * 0.999, v[i] = 1000 + (s >> 22);
        ts[i] = (int64_t)i * 60;
    }
    md_ind_cols in = {h, l, c, v, ts};
    size_t nd;
    const md_ind_def *defs = md_ind_defs(&nd);
    printf("%-16s %14s\n", "indicator", "Mpoints/s");
    double sink = 0;
    for (size_t t = 0; t < nd; t++) {
        md_ind_spec spec;
        md_error err;
        if (md_ind_parse(defs[t].name, &spec, 1, &err) != 1) {
            fprintf(stderr, "%s: %s\n", defs[t].name, err.msg);
            return 1;
        }
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            int64_t t0 = md_mono_ns();
            md_ind_compute(&spec, MD_IV_1M, &in, n, o);
            double secs = (double)(md_mono_ns() - t0) / 1e9;
            if (secs < best) best = secs;
            sink += o[0][n - 1];
        }
        printf("%-16s %14.1f\n", spec.name, (double)n / best / 1e6);
    }
    fprintf(stderr, "(checksum %g)\n", sink);
    return 0;
}
