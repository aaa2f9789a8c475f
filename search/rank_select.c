// Stratified selection over predicted latency. Uniform random architectures
// cluster around the middle of the latency range (a sum of many layers), so a
// plain random sample would rank mostly look-alike networks; evenly spaced
// latency targets from the fastest to the slowest cover the whole range.
#include "search/rank_select.h"

#include <math.h>
#include <stdlib.h>

#include "common/rng.h"
#include "search/latency.h"

int rank_pick_same_ops(const Space* s, const int* a, const int* b) {
    for (int l = 0; l < s->n_layers; l++)
        if (a[l] != b[l]) return 0;
    return 1;
}

// The per-layer fastest (slowest = 0) or slowest (1) operators.
static int extreme_ops(const Space* s, const Lut* lut, int slowest, int* ops, HwErr* err) {
    for (int l = 0; l < s->n_layers; l++) {
        double best = 0;
        ops[l] = 0;
        for (int o = 0; o < s->layers[l].n_ops; o++) {
            double ms;
            if (latency_of_layer_op(lut, s, l, o, &ms, err) < 0) return -1;
            if (o == 0 || (slowest ? ms > best : ms < best)) best = ms, ops[l] = o;
        }
    }
    return 0;
}

// pool[0] fastest, pool[1] slowest, then the random draws; latency filled.
static int draw_pool(const Space* s, const Lut* lut, uint64_t seed, RankPick* pool, int count, HwErr* err) {
    if (extreme_ops(s, lut, 0, pool[0].ops, err) < 0 || extreme_ops(s, lut, 1, pool[1].ops, err) < 0) return -1;
    Rng rng;
    rng_seed(&rng, seed, 0x52414e4bu /* "RANK" */, 0, 0);
    for (int i = 2; i < count; i++)
        for (int l = 0; l < s->n_layers; l++) pool[i].ops[l] = (int)rng_below(&rng, (uint32_t)s->layers[l].n_ops);
    for (int i = 0; i < count; i++)
        if (latency_predict(lut, s, pool[i].ops, &pool[i].latency_ms, err) < 0) return -1;
    return 0;
}

// The index of the pool entry nearest to `target` that is not among the
// first `taken` picks; -1 when none is left.
static int nearest_unpicked(const Space* s, const RankPick* pool, int count, const RankPick* picks, int taken,
                            double target) {
    int best = -1;
    for (int i = 0; i < count; i++) {
        int used = 0;
        for (int p = 0; p < taken && !used; p++) used = rank_pick_same_ops(s, pool[i].ops, picks[p].ops);
        if (used) continue;
        if (best < 0 || fabs(pool[i].latency_ms - target) < fabs(pool[best].latency_ms - target)) best = i;
    }
    return best;
}

int rank_select_stratified(const Space* s, const Lut* lut, int n, uint64_t seed, RankPick* picks, HwErr* err) {
    if (n < 1 || n > RANK_SELECT_MAX)
        return hw_bad_input(err, NULL, 0, "subnets %d, expected 1..%d", n, RANK_SELECT_MAX);
    const int count = RANK_SELECT_POOL + 2;
    RankPick* pool = calloc((size_t)count, sizeof(RankPick));
    if (!pool) return hw_runtime(err, NULL, 0, "out of memory");
    int rc = draw_pool(s, lut, seed, pool, count, err);
    double lo = rc == 0 ? pool[0].latency_ms : 0, hi = rc == 0 ? pool[1].latency_ms : 0;
    for (int k = 0; rc == 0 && k < n; k++) {
        double target = n == 1 ? (lo + hi) / 2 : lo + (hi - lo) * k / (n - 1);
        int i = nearest_unpicked(s, pool, count, picks, k, target);
        if (i < 0) {
            rc = hw_bad_input(err, NULL, 0, "space %s: %d subnets asked for, but %d random draws give only %d "
                                             "distinct architectures: expected a smaller number",
                              s->name, n, RANK_SELECT_POOL, k);
            break;
        }
        picks[k] = pool[i];
    }
    free(pool);
    return rc;
}
