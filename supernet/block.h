// A block is one operator instance (or the stem, or the head) compiled into a
// short list of op-library nodes over numbered slots (tensors). The supernet
// runs the blocks of a sampled path forward and backward; every operator of
// the pool is just a different builder of nodes, so one executor serves all.
//
// Slots hold NHWC tensors whose batch is set at run time; slot 0 is the
// block's input (owned by the previous block). Parameters and BN running
// statistics are described here and live in the supernet's flat buffers.
#ifndef HWNAS_BLOCK_H
#define HWNAS_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/ops.h"
#include "supernet/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BLOCK_MAX_NODES 48
#define BLOCK_MAX_SLOTS 48
#define BLOCK_MAX_PARAMS 40
#define PARAM_NAME_MAX 48

typedef enum NodeKind {
    NODE_CONV,      // dense conv, weight OHWI, optional bias
    NODE_DWCONV,    // depthwise conv, weight [k][k][c]
    NODE_LINEAR,    // 1x1 conv / fully connected over rows, optional bias
    NODE_BN,        // batch norm (affine) fused with activation `act`, running stats in buffers
    NODE_ACT,
    NODE_GAP,       // global average pool -> [1x1xC]
    NODE_SCALE,     // in * gate (in2 = [1x1xC] gate)
    NODE_ADD,       // in + in2
    NODE_CONCAT,    // channel concat of in, in2
    NODE_SPLIT,     // channel split of in into out (first c of out) and out2
    NODE_SHUFFLE,   // channel shuffle with `groups`
} NodeKind;

typedef struct Node {
    NodeKind kind;
    int in, in2;          // input slots (in2 = -1 when unused)
    int out, out2;        // output slots (out2 only for SPLIT)
    int kernel, stride, pad, groups;
    Activation act;
    int weight, bias;     // block parameter indices, -1 = none (BN: gamma, beta)
    int running;          // BN: index of its running mean; running var follows
    int stats;            // BN: float offset of saved mean/rstd in the block's stat area
} Node;

typedef struct SlotShape {
    int h, w, c;
} SlotShape;

typedef enum ParamLayout {
    LAYOUT_CONV_OHWI,     // exported as OIHW
    LAYOUT_DW_KKC,        // exported as [C][1][k][k]
    LAYOUT_LINEAR,        // [out][in]; exported as [out][in][1][1] when is_conv
    LAYOUT_VECTOR,        // bias, BN weight/bias
} ParamLayout;

typedef struct ParamDesc {
    char name[PARAM_NAME_MAX];  // relative, PyTorch style: "expand.conv.weight"
    ParamLayout layout;
    int dims[4];                // hwnas layout dims (unused trailing = 0)
    int is_conv;                // LINEAR used as a 1x1 conv (exported 4-D)
    size_t numel;
    size_t offset;              // floats from the block's first parameter
    int decay;                  // weight decay applies (conv/linear weights only)
} ParamDesc;

typedef struct Block {
    char op[OP_NAME_MAX];       // operator name ("stem"/"head" for fixed parts)
    Node nodes[BLOCK_MAX_NODES];
    int node_count;
    SlotShape slots[BLOCK_MAX_SLOTS];
    int slot_count;
    int output;                 // output slot
    ParamDesc params[BLOCK_MAX_PARAMS];
    int param_count;
    size_t param_floats;        // total parameter floats
    char running_names[BLOCK_MAX_PARAMS][PARAM_NAME_MAX];  // BN prefix per running pair
    int running_channels[BLOCK_MAX_PARAMS];
    int running_count;          // BN layers
    size_t running_floats;      // 2 * channels per BN
    size_t stat_floats;         // saved mean/rstd of every BN
    double macs;                // per image, conv + linear multiply-accumulates
} Block;

// Builders. Each returns 0, or -1 with a reason in *why.
int block_build_operator(Block* b, const OpSpec* op, int in_h, int in_w, int in_c, int out_c,
                         int stride, Activation default_act, const char** why);
// Stem: kxk conv (stride) + BN + act, then optionally a fixed first operator.
int block_build_stem(Block* b, int in_h, int in_w, int in_c, int out_c, int kernel, int stride,
                     Activation act, const OpSpec* first_op, int first_out_c, const char** why);
// Head: [1x1 conv to `features` + BN + act] (features 0 = none), GAP, linear+bias to classes.
int block_build_head(Block* b, int in_h, int in_w, int in_c, int features, Activation act,
                     int classes, const char** why);

static inline size_t slot_numel(const Block* b, int slot, int batch) {
    return (size_t)batch * b->slots[slot].h * b->slots[slot].w * b->slots[slot].c;
}
// Floats of all slots but the input, for `batch` images (the activation arena).
size_t block_activation_floats(const Block* b, int batch);
// Largest single slot, for `batch`.
size_t block_max_slot_floats(const Block* b, int batch);
// Scratch floats the block's ops need for `batch` (conv im2col, dw/BN partials).
size_t block_scratch_floats(const Block* b, const OpContext* ctx, int batch);

#ifdef __cplusplus
}
#endif
#endif
