// Latency in ONNX Runtime: the block models of a space with their manifest,
// and the timing of models (blocks or whole subnets) by tools/ort_time.js in
// onnxruntime-node. The node executable is $HWNAS_NODE or `node`; the script
// is $HWNAS_ORT_TIME or tools/ort_time.js beside the hwnas binary's folder
// (build/hwnas -> tools/ort_time.js).
#ifndef HWNAS_SRC_LATENCY_ORT_H
#define HWNAS_SRC_LATENCY_ORT_H

#include "common/error.h"
#include "search/lut.h"
#include "supernet/supernet.h"

typedef struct OrtTiming {
    int threads;  // intraOpNumThreads, >= 1
    int warmup;   // untimed runs
    int runs;     // timed runs (20th percentile, models interleaved)
    int chunk;    // models loaded and timed interleaved together; 0 = the script's 16
} OrtTiming;

// Writes DIR/manifest.csv (columns layer,op,key,file,input; see
// search/lut_csv.h) and one batch-1 model per distinct block key (blocks of
// different layers with the same key share one file). 0 or -1.
int ort_export_blocks(const Supernet* sn, const char* dir, HwErr* err);

// node tools/ort_time.js IN OUT with t's settings. 0 or -1 (exit 1, the
// script's own line on stderr before it).
int ort_time_csv(const char* in_csv, const char* out_csv, const OrtTiming* t, HwErr* err);

// "onnxruntime-node X.Y.Z" from the script, or -1.
int ort_version(char* out, size_t cap, HwErr* err);

// Exports the k subnets of paths (k x n_layers op indices) at batch 1 into
// DIR/subnet_NNN.onnx and times them in ONNX Runtime: ms[i]. 0 or -1.
int ort_time_subnets(const Supernet* sn, const int* paths, int k, const char* dir, const OrtTiming* t, double* ms,
                     HwErr* err);

// Fits lut's scale and offset_ms (network = scale * sum + offset) on `count`
// random subnets timed whole in ONNX Runtime, all interleaved (files under
// dir). A negative offset (the per-run cost that every block model pays and
// a whole subnet pays once) is taken off every entry instead: *per_entry_ms.
// The first SPEED_REF_PATHS subnets become the table's machine-speed
// reference (search/speed_reference.h) when count allows.
int ort_calibrate(const Supernet* sn, Lut* lut, int count, const char* dir, const OrtTiming* t, double* per_entry_ms,
                  HwErr* err);

#endif
