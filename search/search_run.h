// One latency-constrained search over a trained supernet: evolution (and the
// random baseline with the same number of evaluations), writing search.csv,
// random.csv, pareto.csv and best.yaml into a directory. Resumable: a killed
// search is continued from its search.csv.
#ifndef HWNAS_SEARCH_RUN_H
#define HWNAS_SEARCH_RUN_H

#include "common/config.h"
#include "common/error.h"
#include "search/evolution.h"
#include "search/lut.h"
#include "supernet/arch.h"
#include "supernet/evaluate.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SearchJob {
    const Config* cfg;
    Supernet* sn;
    Evaluator* ev;          // validation split, BN recalibration per candidate
    const Lut* lut;
    double limit_ms;        // <= 0: no limit
    const int* pinned;      // NULL or per layer (two-stage search)
    const char* out_dir;
    const char* prefix;     // file name prefix, "" or e.g. "stage1-"
    int random_baseline;    // also run the random search with the same budget
    int quiet;
} SearchJob;

typedef struct SearchOutcome {
    Candidate best;
    int evaluated, rejected;
    double seconds;
    int has_random;
    Candidate random_best;
    int random_evaluated;
    double random_seconds;
} SearchOutcome;

int search_run(const SearchJob* job, SearchOutcome* out, HwErr* err);
// The random-search baseline alone: `budget` distinct legal architectures of
// job's space (pins respected), written to PREFIXrandom.csv; fills the
// random_* fields of out.
int search_random(const SearchJob* job, int budget, SearchOutcome* out, HwErr* err);

// Writes an architecture file for a candidate (latency, top1, flops, params).
int search_write_arch(const Supernet* sn, const Candidate* c, const char* path, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
