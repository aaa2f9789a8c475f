// Converts published latency lookup tables into hwnas latency targets
// (method: imported). Formats:
//
//   proxyless  ProxylessNAS mobile_trim.yaml: {count, mean, var (ms^2)};
//              `expand` is the expansion RATIO.
//   ofa        Once-for-All note10 *_lookup_table.yaml, and the Dynamic-OFA
//              Jetson *_lookup_table.json files (same key grammar, JSON is
//              read by the YAML reader): {count, mean, std}; `expand` is the
//              MID channel count, keys end in -se:0|1-hs:0|1.
//
// Mapping to our keys (search/lut.h):
//   expanded_conv with ratio 2..8, kernel 3/5/7    -> mb_k{K}_e{R}[_se][_hs]-in:..-out:..-s:S
//   Conv + the ratio-1 block that follows it         -> stem-in:(Conv in)-out:(block out)
//   Conv_1 [+ AvgPool2D + Conv_2] + Logits           -> head-in:(Conv_1 in)-out:(classes)
// Merged entries sum the means and the variances (std = sqrt of the summed
// variances, n = the smallest count). Everything else (a ratio above
// LIMIT_MB_EXPAND or not whole, a kernel other than 3/5/7, a lone ratio-1
// block, unknown layers) has no counterpart among our operators and is
// listed in the report, never dropped silently.
#ifndef HWNAS_LUT_IMPORT_H
#define HWNAS_LUT_IMPORT_H

#include "common/error.h"
#include "search/lut.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct LutUnmatched {
    char* key;           // the source key
    int line;            // its line in the source file
    const char* reason;  // why it has no counterpart (static text)
} LutUnmatched;

typedef struct LutImportReport {
    int source_entries;   // entries in the source file
    int imported;         // entries of the resulting target
    int merged;           // source entries folded into stem and head entries
    int unmatched_count;  // source entries with no counterpart
    LutUnmatched* unmatched;
} LutImportReport;

// Reads `path` in `format` ("proxyless" or "ofa") into a new target (*out,
// free with lut_free). rep may be NULL; otherwise free it with
// lut_import_report_free. Errors (code 2): unknown format, unreadable file,
// malformed values; keys without counterpart are not errors. 0 or -1.
int lut_import(const char* format, const char* path, Lut** out, LutImportReport* rep, HwErr* err);
void lut_import_report_free(LutImportReport* rep);

#ifdef __cplusplus
}
#endif
#endif
