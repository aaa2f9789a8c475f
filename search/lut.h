// Latency targets: a lookup table (LUT) of measured or imported operator
// latencies keyed by operator and shape, or an analytic roofline model.
//
// File format (YAML):
//
//   device: "Intel Xeon, 2 threads"   # free text
//   unit: ms                          # only ms
//   method: measured                  # measured | imported | analytic
//   source: hwnas latency profile     # tool or original file
//   date: "2024-05-01"                # optional
//   hwnas_version: "0.1"              # optional
//   runtime: "onnxruntime-node 1.x"   # optional: what ran the blocks ("" = hwnas)
//   threads: 2                        # optional, 0 = not stated
//   batch: 1                          # optional, 0 = not stated
//   timing: q20-rounds                # optional: how entries were timed (below)
//   pinned: true                      # optional: threads pinned to CPUs while timed
//   notes: free text                  # optional
//   peak_gflops: 50                   # analytic only (required there)
//   bandwidth_gbs: 20                 # analytic only (required there)
//   overhead_ms: 0.01                 # analytic only, per operator, default 0
//   scale: 1.08                       # optional: network = scale * sum + offset_ms
//   offset_ms: 0.02                   # optional, default 0
//   reference_ops: "a b c; d e f"     # optional: networks for the machine's speed
//   reference_ms: 4.21                # (both or neither, below)
//   entries:                          # required unless analytic
//     mb_k5_e6-in:14x14x48-out:7x7x96-s:2: {mean: 0.412, std: 0.006, n: 50}
//
// Entry values: `mean` (ms, required, finite, >= 0), `std` (ms, default 0),
// `n` (sample count, default 0 = not stated).
//
// `timing`: `median` = the median of runs timed one item after another (the
// tables of hwnas before `timing` existed); `q20-rounds` = the 20th percentile
// of runs in groups of 5, the items of a layer interleaved round by round
// (search/measure.h). Absent: not stated (imported tables, older files). A
// check compares like with like only when both sides time the same way.
//
// `reference_ops` / `reference_ms`: networks of the profiled space (operator
// names, one per layer, space-separated; networks separated by ';') timed
// with the calibration, and their total time then. `latency check` times
// them again beside every group of subnets, so a machine that runs faster or
// slower now than when the table was made (a VM host's clock, thermal state)
// is measured and reported apart from the table's own error.
//
// Key grammar (every key is exactly what the builders below produce):
//
//   block:  OP-in:HxWxC-out:HxWxC-s:S     e.g. mb_k5_e6-in:14x14x48-out:7x7x96-s:2
//   stem:   stem-in:HxWxC-out:HxWxC       e.g. stem-in:28x28x1-out:28x28x16
//   head:   head-in:HxWxC-out:N           e.g. head-in:7x7x96-out:10 (N classes)
//
// OP is an operator name of [a-z0-9_] (mb_k3_e6_se, sep_k5, skip, ...) other
// than `stem` and `head`; H, W, C, S, N are decimal integers >= 1 without
// leading zeros. The stem is everything before the first searchable layer,
// the head everything after the last one (convs, pooling, classifier).
#ifndef HWNAS_LUT_H
#define HWNAS_LUT_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LUT_KEY_MAX 128  // longest key, NUL included
#define LUT_OP_MAX 32    // longest operator name, NUL included
#define LUT_REF_OPS_MAX 8192  // longest reference_ops, NUL included

typedef enum LutMethod { LUT_MEASURED, LUT_IMPORTED, LUT_ANALYTIC } LutMethod;
typedef enum LutTiming { LUT_TIMING_UNSTATED, LUT_TIMING_MEDIAN, LUT_TIMING_Q20_ROUNDS } LutTiming;

// The calibration scales a table may hold: a network timed end to end at
// 1/1000 or 1000 times the sum of its operators is a broken measurement.
#define LUT_SCALE_MIN 1e-3
#define LUT_SCALE_MAX 1e3

typedef struct LutEntry {
    char* key;
    double mean;  // ms
    double std;   // ms
    int n;        // samples, 0 = not stated
} LutEntry;

typedef struct Lut {
    char path[512];           // file read from, "" when built in memory
    char device[256];
    LutMethod method;
    char source[512];
    char date[64];            // optional fields: "" / 0 = absent
    char hwnas_version[64];
    char runtime[128];        // runtime that timed the entries, "" = hwnas's engine / not stated
    int threads;
    int batch;
    LutTiming timing;
    int pinned;               // 1 / 0, -1 = not stated
    char notes[2048];
    double peak_gflops;       // analytic model (method analytic)
    double bandwidth_gbs;
    double overhead_ms;
    // Whole-network correction measured by `hwnas latency profile`: a network
    // takes scale * (sum of its entries) + offset_ms (defaults 1 and 0),
    // scale within [LUT_SCALE_MIN, LUT_SCALE_MAX] (the loader refuses others).
    double scale;
    double offset_ms;
    // Machine-speed reference (see the format above): "" / 0 = none.
    char reference_ops[LUT_REF_OPS_MAX];
    double reference_ms;
    int count;                // entries, in file / insertion order
    LutEntry* entries;
    // private: capacity and the open-addressing hash index over keys
    int cap;
    int* slots;
    size_t slot_cap;
} Lut;

// An empty table (method measured, unit ms); NULL when out of memory.
Lut* lut_new(void);
void lut_free(Lut* lut);
const char* lut_method_name(LutMethod m);
// "median", "q20-rounds", or "" for LUT_TIMING_UNSTATED.
const char* lut_timing_name(LutTiming t);

// Reads a target file. Errors name the file and line (err->code 2): unknown or
// missing top-level keys, unit other than ms, unknown method, an entry that is
// not a mapping, a missing mean, a negative / non-numeric / non-finite value,
// a key outside the grammar, duplicate keys. NULL on error.
Lut* lut_load(const char* path, HwErr* err);
// Writes the table atomically (temporary file, fsync, rename). 0 or -1.
int lut_write(const Lut* lut, const char* path, HwErr* err);

// The calibration line measured = scale * sum + offset, least squares over
// n networks from their sums of entries x and measured times y (sx, sy, sxx,
// sxy). Through the origin when the slope is outside [LUT_SCALE_MIN,
// LUT_SCALE_MAX] (a few networks of nearly the same sum give any slope) or,
// unless negative_offset_ok, when the offset is negative. -1 with err when
// even that slope is out of range: the timings are unusable.
int lut_fit_calibration(double sx, double sy, double sxx, double sxy, double n, int negative_offset_ok,
                        double* scale, double* offset, HwErr* err);

// Appends an entry. Errors: key outside the grammar, key already present,
// mean or std negative or not finite. 0 or -1.
int lut_add(Lut* lut, const char* key, double mean_ms, double std_ms, int n, HwErr* err);
// The entry for key, NULL if absent. O(1) (hash index).
const LutEntry* lut_find(const Lut* lut, const char* key);
// The mean for key; a missing key is an error naming the key and the file.
int lut_lookup(const Lut* lut, const char* key, double* ms, HwErr* err);

// Roofline estimate of one operator for method analytic:
// max(flops / peak, bytes / bandwidth) + overhead_ms, in ms. Returns a
// negative value when the table is not analytic.
double lut_analytic_ms(const Lut* lut, double flops, double bytes);

// Key builders: write the canonical key into out; 0, or -1 when a number is
// < 1, the operator name is invalid, or the key does not fit in cap.
int lut_block_key(char* out, size_t cap, const char* op, int ih, int iw, int ic, int oh, int ow,
                  int oc, int stride);
int lut_stem_key(char* out, size_t cap, int ih, int iw, int ic, int oh, int ow, int oc);
int lut_head_key(char* out, size_t cap, int ih, int iw, int ic, int classes);

// A key taken apart. For LUT_KEY_STEM op is "stem", stride 0; for
// LUT_KEY_HEAD op is "head", out_c = classes, out_h = out_w = 1, stride 0.
typedef enum LutKeyKind { LUT_KEY_BLOCK, LUT_KEY_STEM, LUT_KEY_HEAD } LutKeyKind;
typedef struct LutKey {
    LutKeyKind kind;
    char op[LUT_OP_MAX];
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;
    int stride;
} LutKey;
// 0 when key follows the grammar exactly (then *out is filled), else -1.
int lut_parse_key(const char* key, LutKey* out);

#ifdef __cplusplus
}
#endif
#endif
