// Datasets (Fashion-MNIST IDX in memory, ImageNet-style folders as file
// lists) and the batch loader that decodes and augments them, optionally on
// worker threads, into float NHWC batches [batch][H][W][C].
//
// Determinism: the sample order of an epoch and every sample's crop, flip and
// jitter depend only on (seed, epoch, sample index), never on the worker count
// or timing; a corrupt file is replaced by a sample drawn from
// (seed, epoch, sample index, attempt), so batches stay full and identical.
//
// Threads: a DataLoader is driven from one thread (loader_start_epoch,
// loader_next); its workers are internal. Several loaders may share a Dataset.
// Memory: batch buffers are allocated in loader_create; decoders keep and
// grow their buffers to the largest image seen (stb_image, used for non-JPEG
// files, allocates its own result per image).
#ifndef HWNAS_DATA_LOADER_H
#define HWNAS_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

// VALID = the last `holdout` training samples (search validation); TRAIN = the rest.
// For imagefolder data, whose file list is sorted by class, "first N" (limit)
// and "last N" (holdout) are taken in a fixed pseudo-random order of the files
// (independent of the run seed) so both splits cover every class.
typedef enum { SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST } DataSplit;
typedef struct Dataset Dataset;

// idx: the whole split in memory as uint8; imagefolder: the file list (ROOT/train
// minus holdout for TRAIN, its holdout for VALID, ROOT/val for TEST).
Dataset* dataset_open(const DataSection* cfg, DataSplit split, HwErr* err);
// Same, caching imagefolder file lists in cache_dir/imagefolder-{train,val}.txt
// (NULL = memory only). The cache is reused while the class directories are unchanged.
Dataset* dataset_open_cached(const DataSection* cfg, DataSplit split, const char* cache_dir, HwErr* err);
int dataset_size(const Dataset* ds);
int dataset_classes(const Dataset* ds);
int dataset_skipped(const Dataset* ds);   // corrupt files met so far
int dataset_label(const Dataset* ds, int i);
void dataset_close(Dataset* ds);

// Called (from a worker thread, one call at a time) the first time a file turns
// out to be corrupt, truncated or not an image; it is then skipped for good.
typedef void (*DatasetSkipFn)(void* user, const char* path, const char* why);
void dataset_set_skip_callback(Dataset* ds, DatasetSkipFn fn, void* user);

typedef struct LoaderOptions {
    int batch; int augment; int shuffle; uint64_t seed;
    int workers;             // decoding/augmentation threads (0 = decode in the caller's thread)
    int rank, world;         // shard for data parallel: rank r takes every world-th batch slot
    int drop_last;           // training drops the last partial batch
    int prefetch;            // ready batches queued ahead (bounded), default 2
    void* (*alloc_pinned)(size_t bytes); void (*free_pinned)(void* p);  // optional, for CUDA (NULL = malloc)
} LoaderOptions;
typedef struct DataLoader DataLoader;

DataLoader* loader_create(Dataset* ds, const LoaderOptions* opt, HwErr* err);
// Batches this rank reads per epoch. With drop_last every rank gets the same
// number (full global batches / world); without it, rank r reads global
// batches r, r + world, ... including the last partial one.
int loader_batches_per_epoch(const DataLoader* l);
// The shape of every sample loader_next writes: [size][size][channels]
// (data.input_size, data.channels), so callers can check their buffers.
void loader_sample_shape(const DataLoader* l, int* size, int* channels);
// Deterministic order and augmentation for (seed, epoch): the sample permutation and every sample's random crop/flip depend only on (seed, epoch, sample index), never on worker count or timing. first_batch > 0 resumes mid-epoch exactly.
void loader_start_epoch(DataLoader* l, int epoch, int first_batch);
// Copies the next batch into images [batch][H][W][C] and labels; returns the number of samples (0 at the end of the epoch, -1 on error).
int loader_next(DataLoader* l, float* images, int* labels, HwErr* err);
void loader_destroy(DataLoader* l);

#ifdef __cplusplus
}
#endif
#endif
