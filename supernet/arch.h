// Architecture files: one operator per searchable layer of a space.
//
//   space: hurricane-fmnist
//   ops: [mb_k3_e6, skip, ...]
//   latency_ms: 1.234      # optional measured fields
//   top1: 0.9123
//   flops: 12.3e6
//   params: 0.5e6
#ifndef HWNAS_ARCH_H
#define HWNAS_ARCH_H

#include "common/error.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Arch {
    char space[64];
    int n_layers;
    int ops[SPACE_MAX_LAYERS];  // index into the layer's candidates
    double latency_ms, top1, flops, params;  // < 0 = unknown
} Arch;

// Reads an architecture and resolves its operators against `space`: a wrong
// space name, a wrong layer count or an operator that is not a candidate of
// its layer is an error with the file and line.
int arch_load(Arch* a, const char* path, const Space* space, HwErr* err);
int arch_write(const Arch* a, const Space* space, const char* path, HwErr* err);
void arch_init(Arch* a, const Space* space);

#ifdef __cplusplus
}
#endif
#endif
