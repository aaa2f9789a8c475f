// Search spaces (configs/spaces/*.yaml): input shape, stem, searchable
// layers (output channels, stride, candidate operators), head, classes.
//
//   name: hurricane-fmnist
//   input: [28, 28, 1]            # H, W, C
//   classes: 10
//   block_act: relu6              # activation of mb/fused/sep blocks (h-swish for _hs)
//   stem: {out: 16, kernel: 3, stride: 1, act: relu}    # optional first: {op: mb_k3_e1, out: 16}
//   layers:
//     - {out: 24, stride: 1, ops: all}                  # "all" = the 32-operator pool
//     - {out: 24, stride: 1, ops: [mb_k3_e3, skip]}
//   head: {features: 192, act: relu}                    # features 0 = GAP right after the last layer
//
// Operators that cannot map a layer's shapes (skip where shapes differ, ...)
// are errors naming the file and line; with `ops: all` they are left out.
#ifndef HWNAS_SPACE_H
#define HWNAS_SPACE_H

#include <stdio.h>

#include "common/error.h"
#include "common/limits.h"
#include "kernels/ops.h"
#include "supernet/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPACE_MAX_LAYERS LIMIT_SPACE_LAYERS

typedef struct SpaceLayer {
    int out_c, stride;
    int n_ops;
    OpSpec ops[OP_POOL_SIZE];
    char names[OP_POOL_SIZE][OP_NAME_MAX];
    int in_h, in_w, in_c;  // derived: the layer's input shape
} SpaceLayer;

typedef struct Space {
    char name[64];
    char path[512];
    int in_h, in_w, in_c, classes;
    Activation block_act;
    struct {
        int out_c, kernel, stride;
        Activation act;
        int has_first;
        OpSpec first;
        int first_out_c;
    } stem;
    struct {
        int features;
        Activation act;
    } head;
    int n_layers;
    SpaceLayer layers[SPACE_MAX_LAYERS];
} Space;

int space_load(Space* s, const char* path, HwErr* err);
// Index of op name in layer l, or -1.
int space_op_index(const Space* s, int layer, const char* name);
// Writes the space as YAML, with a leading comment block (NULL: none) and
// extra lines per layer (NULL: none; e.g. the ranking table of a generated
// space), written after the layer's `ops`.
int space_write_with(const Space* s, const char* path, const char* comment,
                     void (*layer_extra)(FILE* fp, int layer, void* user), void* user, HwErr* err);
const char* activation_name(Activation a);
int activation_parse(const char* name, Activation* a);
// The one-architecture space of `ops` (one candidate per layer), so a subnet
// can be built, trained and evaluated without the rest of the supernet.
void space_restrict(const Space* s, const int* ops, Space* out);
// Number of architectures as log10 (spaces reach 32^16).
double space_log10_size(const Space* s);

#ifdef __cplusplus
}
#endif
#endif
