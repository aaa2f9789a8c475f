// Training loops over the data loader: single-path uniform sampling for the
// supernet (each step one random operator per layer) or one fixed path
// (fine-tune / retrain of an architecture), with checkpoints, exact resume,
// Ctrl-C handling and a stop on non-finite loss.
#ifndef HWNAS_TRAINER_H
#define HWNAS_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "common/config.h"
#include "common/error.h"
#include "dist/comm.h"
#include "supernet/path_filter.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct TrainJob {
    const TrainSection* train;    // batch, schedule, optimizer, seed
    const DataSection* data;      // the training split
    const char* config_path;      // named in errors about the data (NULL or "": none)
    const char* run_dir;          // train.csv and the checkpoint go here
    const char* checkpoint_name;  // e.g. "supernet.ckpt"
    const char* csv_name;         // e.g. "train.csv"
    int resume;
    int epochs;                   // total epochs of this job
    float lr;                     // peak learning rate
    const int* fixed_path;        // NULL = uniform single-path sampling
    // SPOS-style constrained sampling (supernet/path_filter.h): paths it
    // rejects are redrawn (at most 500 times, then the last draw is used).
    // NULL = every path accepted.
    const PathFilter* filter;
    // Layers whose operator is fixed during sampling (stage 1/2 of the
    // two-stage search): pinned[l] >= 0 pins layer l; NULL = none.
    const int* pinned;
    volatile sig_atomic_t* interrupted;  // set by the SIGINT handler
    int quiet;
    // Data parallel (dist/comm.h): NULL or a single process trains alone.
    // With several ranks each reads its shard of every global batch of
    // size(ranks) x train.batch, gradients are averaged, and rank 0 alone
    // writes the log and the checkpoints.
    Comm* comm;
} TrainJob;

typedef struct TrainResult {
    double seconds;          // wall time of the steps run now
    double images_per_s;
    double final_loss;       // mean loss of the last logged window
    int64_t steps;           // steps run now
    int64_t unfiltered;      // steps whose 500 draws all missed the filter's window (the last was used)
    int interrupted;
} TrainResult;

// Returns 0 on success, -1 with err (code 1 on divergence / I/O, 2 on bad input).
int train_run(Supernet* sn, const TrainJob* job, TrainResult* result, HwErr* err);

// Learning rate at `step` of `total` steps: linear warm-up, then cosine or
// linear decay to 0 (or constant).
float lr_at(LrSchedule schedule, float peak, int64_t step, int64_t total, int64_t warmup_steps);

// One training pass of `path` over the selected input slot: forward, loss,
// top-1 count, the path's gradients zeroed then computed (queued on the
// backend; nothing waits).
void train_forward_backward(Supernet* sn, const int* path, int batch, float smoothing);
// Averages the path's gradients over comm's ranks (no-op for one process).
int train_average_path_grads(Supernet* sn, const int* path, Comm* comm, HwErr* err);

// The path of `step` under uniform sampling (deterministic in seed and step).
void sample_path(const Supernet* sn, uint64_t seed, uint64_t step, int attempt, const int* pinned, int* path);

#ifdef __cplusplus
}
#endif
#endif
