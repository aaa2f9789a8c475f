#include "search/latency_limit.h"

#include <stdlib.h>

#include "common/rng.h"
#include "search/latency.h"

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int latency_auto_limit(const Lut* lut, const Space* s, uint64_t seed, double* limit, HwErr* err) {
    enum { N = 1000 };
    double* v = malloc(N * sizeof(double));
    int ops[SPACE_MAX_LAYERS];
    if (!v) return hw_runtime(err, NULL, 0, "out of memory");
    for (int i = 0; i < N; i++) {
        Rng rng;
        rng_seed(&rng, seed, 77, (uint64_t)i, 0);
        for (int l = 0; l < s->n_layers; l++) ops[l] = (int)rng_below(&rng, (uint32_t)s->layers[l].n_ops);
        if (latency_predict(lut, s, ops, &v[i], err) < 0) {
            free(v);
            return -1;
        }
    }
    qsort(v, N, sizeof(double), compare_doubles);
    *limit = v[N * 2 / 5];
    free(v);
    return 0;
}
