// The weights of one convolution node (dense, depthwise or 1x1) in ONNX's
// OIHW layout, with an eval-mode BatchNorm that follows it folded in:
//   w' = w * gamma / sqrt(var + eps),  b' = beta + (b - mean) * gamma / sqrt(var + eps).
#ifndef HWNAS_DEPLOY_CONV_WEIGHTS_H
#define HWNAS_DEPLOY_CONV_WEIGHTS_H

#include <stdint.h>

#include "supernet/block.h"

typedef struct ConvWeights {
    float* weight;      // OIHW
    float* bias;        // [O], zeros when the conv has none and no BN follows
    int64_t dims[4];    // O, I/group, kH, kW
    int group;
} ConvWeights;

// Reads node `conv` (NODE_CONV, NODE_DWCONV or NODE_LINEAR) of block b from
// its host parameters; bn (or NULL) is the BN node whose input is its output,
// with running mean/var from `running`. 0, or -1 when out of memory.
int conv_weights_make(ConvWeights* w, const Block* b, const Node* conv, const Node* bn, const float* params,
                      const float* running, float eps);
void conv_weights_free(ConvWeights* w);

#endif
