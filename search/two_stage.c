#include "search/two_stage.h"

#include <math.h>

#include "search/latency.h"

static int fastest_op(const Space* s, const Lut* lut, int layer) {
    double best = INFINITY, ms;
    int op = 0;
    for (int o = 0; o < s->layers[layer].n_ops; o++) {
        HwErr missing = {0};  // an operator without an entry is simply not a candidate
        if (latency_of_layer_op(lut, s, layer, o, &ms, &missing) == 0 && ms < best) best = ms, op = o;
    }
    return op;
}

void two_stage_plan(const Space* s, const Lut* lut, const TwoStageOptions* opt, StagePlan* plan) {
    int n = s->n_layers;
    int t = opt->split > 0 && opt->split < n ? opt->split : n / 2;
    plan->n_layers = n;
    plan->split = t;
    for (int l = 0; l < n; l++) {
        plan->fastest[l] = l < t ? fastest_op(s, lut, l) : -1;
        plan->stage1_search[l] = l < t ? plan->fastest[l] : -1;
        plan->stage1_train[l] = l < t && !opt->uniform_fill ? plan->fastest[l] : -1;
    }
}

void two_stage_stage2_pins(const StagePlan* plan, const int* stage1_best, int* pins) {
    for (int l = 0; l < plan->n_layers; l++) pins[l] = l < plan->split ? -1 : stage1_best[l];
}
