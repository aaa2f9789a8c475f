// Architecture files: one operator per searchable layer of a space.
//
//   space: hurricane-fmnist
//   space_file: space.yaml   # optional: the space's file, beside this one
//   ops: [mb_k3_e6, skip, ...]
//   latency_ms: 1.234      # optional measured fields
//   top1: 0.9123
//   flops: 12.3e6
//   params: 0.5e6
//   peak_kb: 24.5          # peak activation memory at batch 1 (KiB, float32)
#ifndef HWNAS_ARCH_H
#define HWNAS_ARCH_H

#include "common/error.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Arch {
    char space[64];
    char space_file[64];        // "" or a file name (no directory) beside the architecture file
    int n_layers;
    int ops[SPACE_MAX_LAYERS];  // index into the layer's candidates
    double latency_ms, top1, flops, params, peak_kb;  // < 0 = unknown
} Arch;

// Reads an architecture and resolves its operators against `space`: a wrong
// space name, a wrong layer count or an operator that is not a candidate of
// its layer is an error with the file and line.
int arch_load(Arch* a, const char* path, const Space* space, HwErr* err);
int arch_write(const Arch* a, const Space* space, const char* path, HwErr* err);
void arch_init(Arch* a, const Space* space);

// The space file an architecture file names (`space_file:`), as a path
// beside it: 1 with out; 0 when it names none or the file is absent (left to
// arch_load to report); -1 with err (file and line)
// when the name is not a plain file name: an architecture file may come from
// anywhere, and must not make a command open a file elsewhere.
int arch_space_file(const char* arch_path, char* out, size_t cap, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
