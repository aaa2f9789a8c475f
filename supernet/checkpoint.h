// Supernet/subnet training checkpoints: versioned, CRC-32 checksummed, written
// atomically (temporary file, fsync, rename, fsync of the directory).
//
// Layout (little-endian): "HWNASCK\0", u32 version, u64 step, u32 epoch,
// u32 batch_in_epoch, u64 param_floats, u64 running_floats, u32 n_blocks,
// u32 config_bytes, config text (the resolved config YAML), params, momentum,
// running statistics, i64 bn_batches[n_blocks], u32 crc32 of all before it.
#ifndef HWNAS_CHECKPOINT_H
#define HWNAS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CHECKPOINT_VERSION 1

// Test hook, harmless in use: with HWNAS_TEST_CHECKPOINT_PAUSE_MS=N (1..10000)
// checkpoint_save sleeps N ms after the whole file is written to its
// temporary name and before the rename, so a test can land a kill -9
// exactly there. Unset, empty or not a positive number: no pause. It never
// changes what is written, only when the rename happens.
#define CHECKPOINT_PAUSE_ENV "HWNAS_TEST_CHECKPOINT_PAUSE_MS"
#define CHECKPOINT_PAUSE_MAX_MS 10000

typedef struct TrainState {
    uint64_t step;          // optimizer steps done
    uint32_t epoch;         // epoch of the next step
    uint32_t batch_in_epoch;
} TrainState;

// CRC-32 (zlib's) of `bytes` bytes, any size (zlib alone stops at 4 GiB).
uint32_t checkpoint_crc32(const void* data, size_t bytes);

int checkpoint_save(const char* path, const Supernet* sn, const TrainState* st, const char* config_text,
                    HwErr* err);
// Loads weights, momentum, BN statistics and state into sn (whose space must
// match). config_text (may be NULL) receives a malloc'd copy of the saved config.
// A state no training run can reach (step beyond INT64_MAX, batch_in_epoch
// above the step, step not epoch x B + batch_in_epoch for any B) is an error.
int checkpoint_load(const char* path, Supernet* sn, TrainState* st, char** config_text, HwErr* err);
// Checks a loaded state against the run that resumes it: epoch at most
// `epochs` (and batch 0 there), batch_in_epoch below `batches` per epoch and
// step = epoch x batches + batch_in_epoch. batches 0: not known yet, only the
// epochs are checked. Returns 0 or -1 with err (code 2) naming `path`.
int checkpoint_check_state(const char* path, const TrainState* st, int epochs, int batches, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
