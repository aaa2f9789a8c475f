// Internals shared by dataset.c (opening splits), sample.c (producing one
// augmented sample) and loader.c (scheduling samples into batches).
#ifndef HWNAS_DATA_DATASET_INTERNAL_H
#define HWNAS_DATA_DATASET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "data/idx.h"
#include "data/image_decode.h"
#include "data/imagefolder.h"
#include "data/loader.h"

enum { DATA_PATH_MAX = 4096 };

struct Dataset {
    DataSection cfg;
    DataSplit split;
    int is_idx;
    int count, classes;
    int size, channels;           // output samples are [size][size][channels]
    // idx: the split's images and labels
    IdxImages images;
    uint8_t* labels8;
    // imagefolder: the scanned list and the list index of each sample
    ImageList list;
    int* members;
    atomic_uchar* bad;            // [count]: 1 once the file was found corrupt
    atomic_int skipped;
    pthread_mutex_t skip_lock;    // one skip callback at a time
    DatasetSkipFn on_skip;
    void* on_skip_user;
};

// Per-thread decoding state (buffers reused from sample to sample).
typedef struct SampleWorker {
    ImageDecoder dec;
    char path[DATA_PATH_MAX];
} SampleWorker;

int sample_worker_init(SampleWorker* w, HwErr* err);
void sample_worker_free(SampleWorker* w);

// Produces sample `sample` of ds for (seed, epoch) into out [size][size][channels]
// and its label. A corrupt file is marked, reported and replaced by another
// sample drawn from (seed, epoch, sample, attempt). 0, or -1 when too many
// replacements in a row were corrupt.
int sample_load(Dataset* ds, SampleWorker* w, uint64_t seed, int epoch, int sample, int augment,
                float* out, int* label, HwErr* err);

#endif
