// One block of a supernet (the stem, one (layer, operator) or the head) as a
// model of its own, for timing it in a deployment runtime
// (`hwnas latency export-blocks`, `latency profile --runtime onnxruntime`):
// input "input" [batch, C, H, W] of the block's input shape, output "output"
// ([batch, C, H, W], or [batch, classes] for the head), the block's nodes
// exactly as `hwnas export` writes them inside a whole subnet.
#ifndef HWNAS_DEPLOY_ONNX_BLOCKS_H
#define HWNAS_DEPLOY_ONNX_BLOCKS_H

#include "common/error.h"
#include "deploy/onnx_export.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

// Block `block` run at `position` (0 stem, 1..n layers, n+1 head), with the
// supernet's current weights (random after supernet_init_params: latency does
// not depend on their values, and He-normal weights keep activations clear of
// denormals). opt->batch must be >= 1 (a block model has a fixed shape).
int onnx_export_block(const Supernet* sn, int position, int block, const OnnxOptions* opt, const char* file,
                      HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
