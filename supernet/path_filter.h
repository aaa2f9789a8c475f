// SPOS's constrained sampling (train.sampling: flops | latency): a drawn
// path whose metric falls outside train.window is redrawn. One filter for
// every command that trains a supernet (`train`, `run`, `bench pipeline`).
// Latency comes from a predictor the caller plugs in (search/latency.h
// latency_model_predict), since latency tables live above supernet/.
#ifndef HWNAS_PATH_FILTER_H
#define HWNAS_PATH_FILTER_H

#include "common/config.h"
#include "common/error.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

// Predicted latency of `path` in ms; 0, or -1 when it cannot be predicted
// (the path is then rejected).
typedef int (*PathLatencyFn)(const void* model, const int* path, double* ms);

typedef struct PathFilter {
    Sampling sampling;       // SAMPLING_UNIFORM accepts every path
    float lo, hi;            // train.window: MFLOPs (2 x MACs) or ms
    const Supernet* sn;      // FLOPs of a path
    PathLatencyFn latency;   // SAMPLING_LATENCY
    const void* model;
} PathFilter;

// The filter of `train`'s sampling over sn. `latency`/`model` may be NULL
// unless train.sampling is latency, which is then an error (code 2) naming
// `source` (the config file): it needs `target` to be a latency table.
int path_filter_init(PathFilter* f, const TrainSection* train, const Supernet* sn, PathLatencyFn latency,
                     const void* model, const char* source, HwErr* err);
// Whether the path may be trained (always, for uniform sampling).
int path_filter_accepts(const PathFilter* f, const int* path);

#ifdef __cplusplus
}
#endif
#endif
