// ONNX export of a subnet: the stem, one operator per layer and the head of a
// path through a supernet, with their weights, as a standard ONNX model
// (default domain, opset 13..17, float32) that ONNX Runtime and onnx.checker
// accept: NCHW input "input" [N, C, H, W], output "logits" [N, classes].
// BatchNorm uses the running statistics (eval mode), folded into the
// convolution before it. The encoding is protobuf-c's, from the onnx.proto
// of Debian's python3-onnx.
#ifndef HWNAS_DEPLOY_ONNX_EXPORT_H
#define HWNAS_DEPLOY_ONNX_EXPORT_H

#include "common/error.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ONNX_OPSET_MIN 13
#define ONNX_OPSET_MAX 17       // the newest opset of the onnx.proto / checker Debian ships (onnx 1.12)
#define ONNX_OPSET_DEFAULT 17   // torch.onnx.export's default

typedef struct OnnxOptions {
    int opset;   // ONNX_OPSET_MIN..ONNX_OPSET_MAX
    int batch;   // fixed batch size, or 0 for a symbolic "batch" dimension
} OnnxOptions;

static inline OnnxOptions onnx_options_default(void) { return (OnnxOptions){ONNX_OPSET_DEFAULT, 0}; }

// Writes the model of `path` (one candidate index per layer) atomically.
int onnx_export_subnet(const Supernet* sn, const int* path, const OnnxOptions* opt, const char* file, HwErr* err);

// The same with the default options into WEIGHTS_FILE's name with its
// extension replaced by ".onnx" (run/best.safetensors -> run/best.onnx).
int onnx_export_beside(const Supernet* sn, const int* path, const char* weights_file, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
