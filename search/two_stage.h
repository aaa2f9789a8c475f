// The two-stage method (HURRICANE): the network is split at layer t. Stage 1
// trains and searches the last layers t+1..n while layers 1..t wait; stage 2
// fixes the last layers to stage 1's best and trains and searches layers
// 1..t. Training a smaller sub-space per stage is where the method saves
// time over training the whole space at once (SPOS).
//
// This file only plans: it says which layer is pinned to which operator in
// each phase (-1 = searchable). The caller trains and searches with the pins.
#ifndef HWNAS_TWO_STAGE_H
#define HWNAS_TWO_STAGE_H

#include "common/error.h"
#include "search/lut.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct TwoStageOptions {
    int split;         // t; outside 1..n-1 (0 = default): n/2
    int uniform_fill;  // 1: layers 1..t sampled uniformly while stage 1 trains; 0: fixed to their fastest op
} TwoStageOptions;

typedef struct StagePlan {
    int n_layers;
    int split;                            // t: stage 1 searches layers t+1..n (0-based: t..n-1)
    int fastest[SPACE_MAX_LAYERS];        // per layer < t: its fastest operator on the target
    int stage1_train[SPACE_MAX_LAYERS];   // pins while stage 1 trains
    int stage1_search[SPACE_MAX_LAYERS];  // pins while stage 1 searches
} StagePlan;

// Plans stage 1 of space s on target lut. Layers 1..t are fixed to their
// fastest operator on the target while stage 1 searches, so stage 1 has the
// most latency room for the layers it searches. An operator the target has no
// entry for is never the fastest (a layer with no entry at all keeps its
// first operator).
void two_stage_plan(const Space* s, const Lut* lut, const TwoStageOptions* opt, StagePlan* plan);

// Stage 2's pins (trained and searched alike): layers t+1..n fixed to stage
// 1's best, layers 1..t searchable.
void two_stage_stage2_pins(const StagePlan* plan, const int* stage1_best, int* pins);

#ifdef __cplusplus
}
#endif
#endif
