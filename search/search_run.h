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
#include "search/search_csv.h"
#include "supernet/arch.h"
#include "supernet/evaluate.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SearchJob {
    const SearchSection* search;  // evolution settings, seed, and the cost limits (max_params, ...)
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
    int evaluated, rejected;  // rejected: by any constraint, split below
    int rejected_latency, rejected_cost[SEARCH_COST_COUNT];
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

// The operator names of a space as search_csv.h wants them. It points into
// itself and into the space: fill it in place (search_names_of), never copy
// it, and keep the space alive while it is used.
typedef struct SpaceNames {
    SearchNames names;
    int n_ops[SPACE_MAX_LAYERS];
    const char* const* row_ptrs[SPACE_MAX_LAYERS];
    const char* rows[SPACE_MAX_LAYERS][OP_POOL_SIZE];
} SpaceNames;
void search_names_of(const Space* s, SpaceNames* out);
// Every candidate of a search.csv (or random.csv) of space s: a malloc'd
// array in *c (free() it), *count rows. Errors as search_csv_read.
int search_read_candidates(const char* path, const Space* s, Candidate** c, int* count, HwErr* err);

// Writes an architecture file for a candidate (latency, top1, flops, params, peak_kb).
int search_write_arch(const Supernet* sn, const Candidate* c, const char* path, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
