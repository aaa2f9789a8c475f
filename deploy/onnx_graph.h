// A small builder of ONNX models over the protobuf-c messages generated from
// Debian's onnx.proto (build/gen/onnx.pb-c.h): nodes, attributes, float32 and
// int64 initializers, the graph's input and output, and the serialization.
// Every message and string lives in the builder's pool and is freed with it.
// An allocation failure only sets a flag, so the callers stay straight-line
// code; onnx_graph_write reports it.
#ifndef HWNAS_DEPLOY_ONNX_GRAPH_H
#define HWNAS_DEPLOY_ONNX_GRAPH_H

#include <stdint.h>

#include "common/error.h"
#include "onnx.pb-c.h"

typedef struct OnnxGraph {
    int opset;
    void** pool;        // every allocation, freed by onnx_graph_destroy
    size_t pool_n, pool_cap;
    Onnx__NodeProto** nodes;
    size_t node_n, node_cap;
    Onnx__TensorProto** inits;
    size_t init_n, init_cap;
    Onnx__ValueInfoProto *input, *output;
    int failed;         // an allocation failed
} OnnxGraph;

void onnx_graph_init(OnnxGraph* g, int opset);
void onnx_graph_destroy(OnnxGraph* g);

// A string in the pool (printf style); "" after a failed allocation.
const char* onnx_name(OnnxGraph* g, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A node of the default domain; NULL after a failed allocation (the attr
// functions accept NULL and do nothing).
Onnx__NodeProto* onnx_node(OnnxGraph* g, const char* op_type, const char* name, int n_in,
                           const char* const* in, int n_out, const char* const* out);
void onnx_attr_int(OnnxGraph* g, Onnx__NodeProto* n, const char* name, int64_t v);
void onnx_attr_float(OnnxGraph* g, Onnx__NodeProto* n, const char* name, float v);
void onnx_attr_ints(OnnxGraph* g, Onnx__NodeProto* n, const char* name, const int64_t* v, int count);

// Initializers (data copied, stored as little-endian raw_data); return `name`.
const char* onnx_init_f32(OnnxGraph* g, const char* name, const int64_t* dims, int ndims, const float* data);
const char* onnx_init_i64(OnnxGraph* g, const char* name, const int64_t* dims, int ndims, const int64_t* data);

// The graph's float32 input and output; a dim < 1 is the symbolic "batch".
void onnx_graph_io(OnnxGraph* g, const char* in_name, const int64_t* in_dims, int in_ndims,
                   const char* out_name, const int64_t* out_dims, int out_ndims);

// Serializes the model (IR version of the proto, the default domain at
// g->opset) and writes it atomically.
int onnx_graph_write(OnnxGraph* g, const char* graph_name, const char* path, HwErr* err);

#endif
