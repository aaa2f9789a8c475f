// Scoring a path with inherited supernet weights: BatchNorm recalibration on a
// fixed subset of training images, then top-1/top-5 on a validation split.
#ifndef HWNAS_EVALUATE_H
#define HWNAS_EVALUATE_H

#include "common/config.h"
#include "common/error.h"
#include "common/progress.h"
#include "data/loader.h"
#include "supernet/batch_feed.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Evaluator {
    Supernet* sn;
    Dataset* recal_set;
    Dataset* val_set;
    DataLoader* recal;
    DataLoader* val;
    BatchFeed feed;     // batches of `batch` through the supernet's two input slots
    int batch;
    int recal_images;   // 0 = keep the running statistics as they are
    int val_images;     // 0 = the whole split
    int exact;          // exact average (1) or SPOS's moving average (0)
    Progress* progress; // NULL, or told the images evaluated of an accuracy pass (a long test split)
} Evaluator;

typedef struct EvalOptions {
    const DataSection* data;
    DataSplit split;        // SPLIT_VALID (search) or SPLIT_TEST (final numbers)
    int recal_images;       // BN recalibration images, 0 = keep the running statistics
    int val_images;         // 0 = the whole split
    BnMode bn_mode;         // search.bn_mode
    uint64_t seed;          // the recalibration subset (search.seed)
} EvalOptions;

// sn must outlive the evaluator (evaluator_destroy frees its batch buffers
// through sn's backend).
Evaluator* evaluator_create(Supernet* sn, const EvalOptions* opt, HwErr* err);
void evaluator_destroy(Evaluator* ev);

// Resets and recomputes the BN statistics of the path's blocks over
// recal_images training images (train-mode forward, no gradient).
int evaluator_recalibrate(Evaluator* ev, const int* path, HwErr* err);
// Top-1/top-5 of the path in eval mode.
int evaluator_accuracy(Evaluator* ev, const int* path, double* top1, double* top5, int* count, HwErr* err);
// The number of images an accuracy pass evaluates.
int evaluator_images(const Evaluator* ev);
// Both, as the search scores a candidate.
int evaluator_score(Evaluator* ev, const int* path, double* top1, double* top5, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
