// The winner's latency checked by measurement, when the target is this CPU.
// The latency model is accurate to a few percent on average but a network at
// its tail can be 10% slower than predicted, and a winner is by construction
// close to the limit: so the best candidates of the final search (by
// validation top-1) are measured end to end at batch 1, and the first whose
// measured latency meets the limit wins.
#ifndef HWNAS_WINNER_CHECK_H
#define HWNAS_WINNER_CHECK_H

#include "common/error.h"
#include "kernels/ops.h"
#include "search/evolution.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WINNER_MAX_CHECKS 10
typedef struct LatencyCheck {
    int rank;  // 1 = the search's best by validation top-1
    double top1, predicted_ms, measured_ms;
} LatencyCheck;

typedef struct WinnerCheck {
    LatencyCheck checks[WINNER_MAX_CHECKS];  // best first, until one met the limit
    int n_checks;
} WinnerCheck;

// Latency of architecture `ops` of space s, end to end at batch 1 on this
// machine's CPU (median of 50 runs), with the weights in `weights` (NULL:
// freshly initialized; the latency does not depend on them). The check and
// the winner's final number both use it, so they time alike. 0 or -1 with err.
int winner_measure(const Space* s, const int* ops, const char* weights, const OpContext* ctx, double* ms,
                   HwErr* err);

// Reads the candidates of search.csv `csv` (space s), measures the legal
// ones (predicted <= limit_ms) best first and replaces *best with the first
// that meets the limit; when none does, *best stays (best by prediction) and
// a warning says so. 0 or -1 with err.
int winner_check_latency(const Space* s, const OpContext* ctx, const char* csv, double limit_ms, Candidate* best,
                         WinnerCheck* out, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
