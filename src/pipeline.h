// The whole hwnas pipeline (`hwnas run`) and its variants for the
// training-time benchmark (`hwnas bench pipeline`).
#ifndef HWNAS_PIPELINE_H
#define HWNAS_PIPELINE_H

#include "common/config.h"
#include "common/error.h"
#include "search/evolution.h"
#include "search/winner_check.h"

typedef enum PipelineMode {
    PIPE_TWO_STAGE,   // HURRICANE: hardware-specific space, two-stage training and search
    PIPE_SPOS_HW,     // SPOS over the same hardware-specific space
    PIPE_SPOS_POOL,   // plain SPOS: the full operator pool, every layer searchable
} PipelineMode;

typedef struct PipelineResult {
    double seconds_profile, seconds_space, seconds_train, seconds_search, seconds_finetune;
    int train_resumed;           // seconds_train counts only this process: training began in an earlier one
    double limit_ms;
    int evaluated;
    Candidate best;              // top1 = validation accuracy with inherited weights
    double test_top1, test_top5;
    double measured_ms;          // end to end on this machine (-1 when the target is not this CPU)
    double flops, params;
    double peak_kb;              // peak activation memory at batch 1 (supernet/peak_memory.h)
    double cost_limit[SEARCH_COST_COUNT];  // search.max_params, max_mflops, max_peak_kb (0 = none)
    int has_random;
    Candidate random_best;
    int random_evaluated;
    // The final search's best candidates measured end to end on this machine
    // (target cpu), best first, until one meets the limit.
    LatencyCheck checks[WINNER_MAX_CHECKS];
    int n_checks;
} PipelineResult;

typedef struct PipelineOptions {
    PipelineMode mode;
    int quick;            // profile the target briefly (the config is the caller's: pipeline_quick_config)
    int random_baseline;  // run the random search with the same budget
    int finetune;         // extract + fine-tune + test the winner
    int report;           // write report.md and the plots
} PipelineOptions;

// Shrinks a config to the `--quick` settings (same steps, minutes not hours).
// Commands apply it right after loading the file, before --set, so the
// user's overrides win.
void pipeline_quick_config(Config* cfg);
int pipeline_run(const Config* cfg, const char* run_dir, const PipelineOptions* opt, PipelineResult* res,
                 HwErr* err);

#endif
