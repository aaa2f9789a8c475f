#include "search/winner_check.h"

#include <stdio.h>
#include <stdlib.h>

#include "search/latency.h"
#include "search/search_csv.h"
#include "search/search_run.h"
#include "supernet/safetensors.h"
#include "supernet/supernet.h"

int winner_measure(const Space* s, const int* ops, const char* weights, const OpContext* ctx, double* ms,
                   HwErr* err) {
    Space one;
    space_restrict(s, ops, &one);
    int zeros[SPACE_MAX_LAYERS] = {0};
    Supernet* net = supernet_create(&one, &ops_cpu, ctx, 1, err);
    if (!net) return -1;
    int rc = supernet_init_params(net, 1, err);
    if (rc == 0 && weights) rc = safetensors_read_subnet(net, zeros, weights, err);
    if (rc == 0) {
        ProfileOptions opt = {5, 50, 1, 1, 0};
        rc = latency_measure_path(net, zeros, &opt, ms, err);
    }
    supernet_destroy(net);
    return rc;
}

static int by_top1_then_latency(const void* a, const void* b) {
    const Candidate *x = a, *y = b;
    if (x->top1 != y->top1) return x->top1 < y->top1 ? 1 : -1;
    return (x->latency_ms > y->latency_ms) - (x->latency_ms < y->latency_ms);
}

int winner_check_latency(const Space* s, const OpContext* ctx, const char* csv, double limit_ms, Candidate* best,
                         WinnerCheck* out, HwErr* err) {
    out->n_checks = 0;
    Candidate* c = NULL;
    int n = 0, legal = 0;
    if (search_read_candidates(csv, s, &c, &n, err) < 0) return -1;
    for (int i = 0; i < n; i++)
        if (c[i].latency_ms <= limit_ms) c[legal++] = c[i];
    qsort(c, (size_t)legal, sizeof *c, by_top1_then_latency);
    int chosen = -1;
    for (int i = 0; i < legal && i < WINNER_MAX_CHECKS && chosen < 0; i++) {
        LatencyCheck* k = &out->checks[out->n_checks++];
        *k = (LatencyCheck){i + 1, c[i].top1, c[i].latency_ms, -1};
        if (winner_measure(s, c[i].ops, NULL, ctx, &k->measured_ms, err) < 0) {
            free(c);
            return -1;
        }
        if (k->measured_ms <= limit_ms) chosen = i;
    }
    if (chosen >= 0) *best = c[chosen];
    else if (legal > 0)
        fprintf(stderr, "hwnas run: warning: none of the %d best candidates measures under %.3f ms; keeping the "
                        "best by prediction\n", out->n_checks, limit_ms);
    free(c);
    return 0;
}
