// Latency of architectures: prediction from a target (LUT sum, or the
// analytic roofline), measurement of every (operator, layer) of a space on
// this machine (`hwnas latency profile`), and the check of predictions
// against end-to-end measurements (`hwnas latency check`).
//
// Prediction = stem + sum over layers + head. `skip` has its own entry when
// the table has one, else it counts as 0 ms (an identity costs nothing in
// hwnas's executor, and published tables have no skip entries).
#ifndef HWNAS_LATENCY_H
#define HWNAS_LATENCY_H

#include "common/error.h"
#include "search/check_stats.h"
#include "search/lut.h"
#include "supernet/space.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

// Keys of the stem, of operator `op` of layer `layer`, and of the head.
int latency_stem_key(const Space* s, char* out, size_t cap);
int latency_layer_key(const Space* s, int layer, int op, char* out, size_t cap);
int latency_head_key(const Space* s, char* out, size_t cap);

// Predicted ms of an architecture (ops = index per layer). A missing entry is
// an error naming the key and the target file.
int latency_predict(const Lut* lut, const Space* s, const int* ops, double* ms, HwErr* err);
// A table and the space its paths index: the latency predictor of
// train.sampling latency (a PathLatencyFn of supernet/path_filter.h, with
// the LatencyModel as `model`). A missing entry rejects the path.
typedef struct LatencyModel {
    const Lut* lut;
    const Space* space;
} LatencyModel;
int latency_model_predict(const void* model, const int* path, double* ms);
// Predicted ms of one layer's operator (for ranking), or of the stem/head.
int latency_of_layer_op(const Lut* lut, const Space* s, int layer, int op, double* ms, HwErr* err);

// Every timing goes through search/measure.h: groups of 5 runs, the items
// compared interleaved round by round, the 20th percentile, the OpenMP team
// pinned, and a machine too busy to measure refused (or, with force, measured
// with a warning on stderr).
typedef struct ProfileOptions {
    int warmup;       // untimed runs of each item first
    int runs;         // timed runs of each item (>= 30), rounded up to groups of 5
    int batch;        // 1 by default
    int quiet;        // no progress line
    int force;        // measure on a busy machine anyway (warn instead of refusing)
} ProfileOptions;

// Times the stem, every (layer, operator) block and the head of sn's space
// with the supernet's own inference path (eval mode) into a new measured LUT:
// the blocks of one layer interleaved, entry mean = 20th percentile of the
// runs, std = their standard deviation; threads, batch, timing and pinned set.
Lut* latency_profile(Supernet* sn, const ProfileOptions* opt, HwErr* err);

// ms of the whole network of `path` (end to end, eval mode; 20th percentile
// of opt->runs runs). Errors: out of memory, backend failure, machine too
// busy (unless opt->force). 0 or -1.
int latency_measure_path(Supernet* sn, const int* path, const ProfileOptions* opt, double* ms, HwErr* err);

// How runs are timed on sn's backend, for a target's notes: CUDA events with
// the L2 cache flushed before every timed run; CPU wall time, warm caches.
const char* latency_timing_note(const Supernet* sn);

// Subnets measured together (interleaved) in a check.
enum { CHECK_GROUP = 10 };

// A group of a check, before it is timed: random subnets i0 .. i0 + n - 1
// (seed) into paths with the table's predictions in pred, then the ref_n
// reference networks `ref` after them, so that they are timed interleaved.
// Both checks (hwnas's engine and ONNX Runtime) draw the same subnets.
int latency_check_group_paths(Supernet* sn, const Lut* lut, uint64_t seed, int i0, int n, const int* ref, int ref_n,
                              int* paths, double* pred, HwErr* err);

// Measures `samples` random subnets end to end, CHECK_GROUP at a time
// interleaved (with the table's reference networks), and compares with the
// target. A reference that does not fit sn's space is an error (code 2).
// csv (may be NULL) receives
// "ops,predicted_ms,measured_ms,error_pct,raw_predicted_ms,speed" rows.
int latency_check(Supernet* sn, const Lut* lut, int samples, uint64_t seed, const ProfileOptions* opt,
                  const char* csv, CheckResult* out, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
