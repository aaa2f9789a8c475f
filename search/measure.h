// Robust latency measurement, shared by `hwnas latency profile`, `latency
// check` and the final latency of `hwnas run`: many short groups of runs with
// the items compared interleaved round by round, the OpenMP team pinned, the
// 20th percentile of each item's runs, and a machine too busy to measure
// detected (search/timing_verdict.h) and retried, then refused.
#ifndef HWNAS_MEASURE_H
#define HWNAS_MEASURE_H

#include "common/error.h"
#include "search/timing_verdict.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

// One thing to time: run(sn, arg) is one inference.
typedef struct MeasureItem {
    void (*run)(Supernet* sn, void* arg);
    void* arg;
} MeasureItem;

// Runs per group: each round times every item MEASURE_GROUP times in a row
// after one untimed run (the previous item left the caches to itself).
enum { MEASURE_GROUP = 5 };
// Tries of a measurement judged busy before it is refused; a pause of
// MEASURE_PAUSE_MS x try between them lets a short burst of other work end.
enum { MEASURE_TRIES = 3, MEASURE_PAUSE_MS = 300 };
// HWNAS_LATENCY_ON_BUSY=warn makes every measurement behave as with force
// (for `hwnas run`, `search` and `space` with target cpu, which have no
// --force; and for test suites on loaded machines). Unset or any other value:
// a busy machine is refused.
#define MEASURE_ON_BUSY_ENV "HWNAS_LATENCY_ON_BUSY"
// Test hook, harmless in use: with HWNAS_TEST_LATENCY_BUSY=1 every
// measurement observes half of its threads' time taken by other processes,
// so the refusal and --force can be tested on any machine.
#define MEASURE_BUSY_ENV "HWNAS_TEST_LATENCY_BUSY"

typedef struct MeasureOptions {
    int warmup;  // untimed runs of each item first
    int runs;    // timed runs of each item, rounded up to whole groups
    int force;   // 1: a busy machine is measured anyway (the result says so); see MEASURE_ON_BUSY_ENV
} MeasureOptions;

typedef struct MeasureResult {
    int busy;       // 1: measured on a busy machine (only with force)
    int pinned;     // 1: the OpenMP team was pinned (CPU backend)
    int runs;       // timed runs per item
    int tries;      // measurements made (1 when the first was quiet)
    char why[200];  // the verdict of the last try
} MeasureResult;

// Times the n items on sn's backend: opt->warmup untimed runs of each, then
// rounds in which every item (starting one further each round, so none always
// follows the same one) gets an untimed run and MEASURE_GROUP timed ones.
// out[i] summarizes item i's runs (figure = 20th percentile). A try judged
// busy is repeated up to MEASURE_TRIES times; then, without opt->force, it is
// an error (code 1) saying why, else res->busy is set. Other errors: out of
// memory, the backend's timer failed. 0 or -1.
int measure_items(Supernet* sn, const MeasureOptions* opt, const MeasureItem* items, int n, TimingSummary* out,
                  MeasureResult* res, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
