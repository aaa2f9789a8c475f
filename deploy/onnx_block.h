// One block (stem, operator or head) of a subnet as ONNX nodes: its node list
// (supernet/block.h) translated one node at a time, NHWC slots becoming NCHW
// values, each BatchNorm folded into the convolution before it, the classifier
// as Flatten + Gemm, as torch.onnx.export writes a PyTorch model.
#ifndef HWNAS_DEPLOY_ONNX_BLOCK_H
#define HWNAS_DEPLOY_ONNX_BLOCK_H

#include "common/error.h"
#include "deploy/onnx_graph.h"
#include "supernet/block.h"

// BatchNorm epsilon of hwnas's forward (supernet/supernet.c) and PyTorch's.
#define ONNX_BN_EPS 1e-5f

typedef struct BlockEmit {
    OnnxGraph* g;
    const Block* b;
    const float* params;    // host copy of the block's parameters
    const float* running;   // host copy of its BN running mean/var
    const char* label;      // value and node name prefix: "stem", "layers.3", "head"
    const char* param_prefix;  // initializer name prefix: "" or "layers.3."
    const char* input;      // name of the value in slot 0
    const char* output;     // name for the output slot, or NULL for "<label>/<slot>"
} BlockEmit;

// Appends the block's nodes; *out_name receives the name of its output value.
// -1 with err on an unsupported node pattern or when out of memory.
int onnx_emit_block(const BlockEmit* e, const char** out_name, HwErr* err);

#endif
