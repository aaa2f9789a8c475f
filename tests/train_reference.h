// Plain synchronous references for the double-buffered batch feeding of
// supernet/trainer.c and supernet/evaluate.c, shared by test_batch_feed.cc
// (CPU) and gpu_parity.cc (CUDA): the same loops, with every batch read into
// ordinary memory and uploaded by ops->upload just before the step that
// reads it, as the trainer and evaluator did before they overlapped uploads.
// Also a small synthetic IDX data set, so the tests need no downloaded data.
#ifndef HWNAS_TRAIN_REFERENCE_H
#define HWNAS_TRAIN_REFERENCE_H

#include <string>
#include <vector>

#include "common/config.h"
#include "data/loader.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "test_data_util.h"

// Writes `train` + `test` random 28x28 grey images with labels 0..9 as
// Fashion-MNIST's four IDX files (gzip) into dir. false on an I/O error.
bool write_synthetic_idx(const std::string& dir, int train, int test);

// Defaults, data from dir (as written above: the last 256 training images
// are the holdout), batch 64, 2 threads, loader threads `workers`.
void synthetic_config(Config* cfg, const std::string& dir, int workers);

// Trains sn as train_run does with uniform path sampling, for `epochs` from
// the start at peak learning rate lr; returns the loss of every step (a test
// failure and fewer losses on error).
std::vector<float> reference_train(Supernet* sn, const Config& cfg, int epochs, float lr);

// What evaluator_recalibrate then evaluator_accuracy compute for `path`.
struct ReferenceScore {
    double top1 = 0, top5 = 0;
    int count = 0;
};
ReferenceScore reference_score(Supernet* sn, const Config& cfg, DataSplit split, int recal_images,
                               int val_images, const int* path);

// Loss column of a train.csv, as written ("%.6f"), one per step.
std::vector<std::string> csv_losses(const std::string& csv_path);
// A loss as train.csv writes it.
std::string csv_loss(float loss);

// Synthetic data, its config and tests/spaces/fmnist-small.yaml, for one
// backend: net() gives a freshly initialised supernet on `ops`.
struct FeedSetup {
    TempDir data;
    Config cfg;
    Space space;
    const Ops* ops;
    OpContext ctx;
    FeedSetup(const Ops* backend, const OpContext& context, int workers);
    Supernet* net();
};

// train_run (overlapped uploads) against reference_train for 2 epochs: the
// same losses in train.csv, bit-identical weights, momentum and BN statistics.
void expect_trainer_matches_reference(FeedSetup& s);
// evaluator_recalibrate + evaluator_accuracy against reference_score, with
// limits that cut a batch: the same counts and BN statistics.
void expect_evaluator_matches_reference(FeedSetup& s);

#endif
