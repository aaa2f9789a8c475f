// Architecture search over a weight-sharing supernet: SPOS evolutionary search
// under a latency limit, the uniform random-search baseline, and the Pareto
// front of accuracy against latency.
//
// An architecture is one operator index per searchable layer. The search only
// sees the SearchProblem callbacks (a cheap latency prediction and an
// expensive evaluation with inherited weights), so it does not depend on the
// supernet code and is tested on synthetic problems.
//
// Evolution, exactly as SPOS src/Search/search.py (defaults 50/10/20/25/25/0.1):
//
//   population  random legal candidates (uniform op per free layer)
//   repeat iterations times:
//       top-k = best `parents` by top1 over (previous top-k + last population)
//       `mutations` children: parent uniform from top-k, each free layer
//           redrawn uniformly with probability mutation_prob
//       `crossovers` children: two parents uniform from top-k (may be the
//           same one), each free layer taken from either with probability 1/2
//       (each child kind gets at most 10x its count in draws)
//       random fill until the new population has `population` candidates
//   best = best top1 over every evaluated candidate (the last population
//       counts although it never enters a top-k)
//
// A draw is kept only when it is legal: never evaluated before in this run
// (the memo; a hit counts as a duplicate), with a predicted latency <=
// latency_limit_ms when that limit is set, and with every cost (parameters,
// MFLOPs, peak activation KB: the `costs` callback) <= its cost_limit when
// that limit is set. A draw that breaks any constraint counts as rejected,
// under the first one it breaks (latency, then the costs in SearchCost
// order); the checks happen before any evaluation and draw no random
// numbers, so the Rng streams are the same whatever the limits. With the
// defaults that is 50 + 20 * 50 = 1050 evaluations.
//
// Determinism: every random choice comes from Rng streams keyed by
// (seed, iteration, kind), so the same problem and seed give the same
// SearchResult. That is what makes resuming work: pass the candidates of the
// interrupted run as `prior`, and the rerun replays them from the memo (no
// evaluate or on_evaluated call) until it reaches new ground.
//
// Ordering of candidates everywhere (top-k, best): higher top1 first, then
// lower latency, then evaluated earlier.
#ifndef HWNAS_EVOLUTION_H
#define HWNAS_EVOLUTION_H

#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEARCH_MAX_LAYERS LIMIT_SPACE_LAYERS  // = SPACE_MAX_LAYERS (supernet/space.h)
// A random-draw phase gives up after this many draws in a row that were
// duplicates or over the limit (a tiny or nearly infeasible space).
#define SEARCH_MAX_FUTILE_DRAWS 100000

// Resources beside latency that a search can be limited by. The search
// only compares numbers: what they mean is the caller's (search_run.c
// computes them from the supernet).
typedef enum SearchCost {
    COST_PARAMS,    // parameters of the path (count)
    COST_MFLOPS,    // 2 x multiply-accumulates per image, in millions
    COST_PEAK_KB,   // peak activation memory at batch 1, KiB of float32
    SEARCH_COST_COUNT
} SearchCost;

// "params", "mflops", "peak_kb" (the search.csv column and config key stems).
const char* search_cost_name(SearchCost c);

typedef struct Candidate {
    int ops[SEARCH_MAX_LAYERS];  // layers >= n_layers are 0
    double latency_ms;           // predicted
    double cost[SEARCH_COST_COUNT];  // 0 when the problem has no costs callback
    double top1, top5;           // fitness (validation accuracy with inherited weights)
    int generation;              // -1 random init / random fill, 0.. for the iteration that produced it
    char origin[12];             // "random", "mutation", "crossover", "fill"
} Candidate;

typedef struct SearchProblem {
    int n_layers;             // 1..SEARCH_MAX_LAYERS
    const int* n_ops;         // choices per layer, >= 1
    const int* pinned;        // NULL or per layer: >= 0 fixes that layer's op (two-stage search), -1 free
    double latency_limit_ms;  // <= 0: no limit
    double (*latency)(void* user, const int* ops);  // predicted latency, cheap
    // Limits on the costs, <= 0: none. A limit needs the costs callback.
    double cost_limit[SEARCH_COST_COUNT];
    // Optional, cheap: fills cost[0..SEARCH_COST_COUNT) of an architecture
    // (finite values >= 0). NULL: every cost is 0.
    void (*costs)(void* user, const int* ops, double* cost);
    // Expensive; 0, or -1 with err set (the search stops and returns it).
    int (*evaluate)(void* user, const int* ops, double* top1, double* top5, HwErr* err);
    void* user;
    // Called once per NEW evaluated candidate, in evaluation order (the caller
    // appends it to search.csv); may be NULL; -1 stops the search.
    int (*on_evaluated)(void* user, const Candidate* c, HwErr* err);
    // Optional: previously evaluated candidates (e.g. read back from
    // search.csv after a kill); they are put in the memo first, so re-running
    // the deterministic algorithm replays them without calling evaluate again.
    // Their ops must be in range; an architecture may appear only once.
    const Candidate* prior;
    int prior_count;
    // Progress (generation -1 after the initial population, then 0..; the best
    // so far; evaluated count), may be NULL.
    void (*on_generation)(void* user, int generation, const Candidate* best, int evaluated);
} SearchProblem;

typedef struct EvolutionConfig {
    int population;        // 50
    int parents;           // 10 (top-k)
    int iterations;        // 20
    int mutations;         // 25
    int crossovers;        // 25
    double mutation_prob;  // 0.1
    uint64_t seed;
    int max_evaluations;  // 0 = no cap (random search uses the evolution's count)
} EvolutionConfig;

typedef struct SearchResult {
    Candidate* evaluated;  // every evaluated candidate, in order (malloc'd)
    int count;
    int best;        // index of the best top1 (ties: lower latency, then earlier)
    int rejected;    // draws rejected by any constraint before evaluation (the sum of the next two)
    int rejected_latency;                  // of them, over the latency limit
    int rejected_cost[SEARCH_COST_COUNT];  // within the latency limit, over this cost's limit (first broken)
    int duplicates;  // draws that hit the memo
} SearchResult;

// The SPOS defaults above with the given seed.
EvolutionConfig evolution_default_config(uint64_t seed);

// 0, or -1 with err set (bad problem or config: code 2; no legal initial
// candidate in SEARCH_MAX_FUTILE_DRAWS draws: code 2, naming the limits; a
// failing callback: its error). On error *out is empty (count 0).
int evolution_search(const SearchProblem* p, const EvolutionConfig* cfg, SearchResult* out, HwErr* err);
// Uniform random legal candidates until `budget` distinct ones are evaluated
// (same memo/limit rules; fewer when the space runs out).
int random_search(const SearchProblem* p, int budget, uint64_t seed, SearchResult* out, HwErr* err);
void search_result_free(SearchResult* r);

// Indices of the Pareto front (maximize top1, minimize latency) over `count`
// candidates, sorted by latency (top1 then strictly increases). A candidate
// is left out when another is at least as fast and at least as accurate; of
// identical points only the earliest is kept. out_indices needs room for
// `count`. Returns the front's size.
int pareto_front(const Candidate* c, int count, int* out_indices);

#ifdef __cplusplus
}
#endif
#endif
