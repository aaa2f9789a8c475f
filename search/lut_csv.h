// Latency tables for any device: the block list of a space (what
// `hwnas latency export-blocks` writes one model for) and the import of
// per-block timings measured by any runtime as a CSV
// (`hwnas latency import --format csv`).
//
// CSV: a header line, then one row per block; columns in any order, no
// quoting, fields without commas:
//   layer   "stem", "head", or the layer index 0..n-1       (required)
//   op      the operator name; "stem" / "head" for those    (required)
//   ms      the block's latency in ms, finite, >= 0         (required)
//   std     ms, >= 0                                         (optional, default 0)
//   n       timed runs                                       (optional, default 0)
//   key     the table key; when present it must be the space's key for (layer, op)
//   other columns (file, input, ...) are ignored.
// Every block of the space needs exactly one row. Layers whose blocks have
// the same key (same operator and shapes) become one entry: the mean of
// their rows.
#ifndef HWNAS_LUT_CSV_H
#define HWNAS_LUT_CSV_H

#include "common/error.h"
#include "search/lut.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct BlockRow {
    int position;              // 0 stem, 1..n layers, n+1 head (supernet positions)
    int layer;                 // layer index, -1 stem, n_layers head
    int op;                    // operator index in the layer (0 for stem/head)
    char layer_name[16];       // "stem", "head" or the index
    char op_name[LUT_OP_MAX];  // operator name, "stem", "head"
    char key[LUT_KEY_MAX];
    int in_h, in_w, in_c;      // the block's input
} BlockRow;

// Rows of every block of s in supernet order: stem, layers, head. *rows is
// freed with free(). 0 or -1.
int lut_csv_rows(const Space* s, BlockRow** rows, int* n, HwErr* err);

// The measured table of `path` for space s (method imported; device,
// source, etc. left for the caller). Errors (code 2) name the file and line.
Lut* lut_csv_import(const Space* s, const char* path, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
