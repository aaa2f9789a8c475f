// The op library: one interface, two backends (CPU in C, CUDA).
//
// Layout: activations are NHWC, float32. Why: a pointwise (1x1) conv is then a
// plain row-major GEMM [N*H*W, Cin] x [Cin, Cout] with no transposes; depthwise
// conv, BatchNorm, SE scaling and channel split/concat/shuffle all walk the
// contiguous channel axis, which vectorizes on AVX2 and coalesces on a GPU;
// and NHWC is the layout cuDNN's tensor-core convolutions prefer.
//
// Weight layouts (converted to PyTorch's OIHW only when exported):
//   dense conv2d      [out_c][k][k][in_c]   (OHWI: matches NHWC im2col rows)
//   depthwise conv2d  [k][k][c]              (channel innermost, like the data)
//   pointwise/linear  [out][in]              (same as PyTorch)
//
// Gradient convention, every backward:
//   - parameter gradients ACCUMULATE (+=): the caller zeroes them;
//   - input gradients are OVERWRITTEN; a NULL input-gradient pointer skips it.
//
// Every op takes an OpContext first. For the CUDA backend all pointers are
// device pointers and ops are asynchronous on ctx's stream.
#ifndef HWNAS_OPS_H
#define HWNAS_OPS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct OpContext {
    int threads;   // CPU: OpenMP threads for this op (>= 1)
    void* cuda;    // CUDA backend state (CudaState*), NULL on the CPU
} OpContext;

// Geometry of a dense or depthwise convolution (square kernel, symmetric pad).
typedef struct ConvShape {
    int batch, in_h, in_w, in_c;
    int out_c;   // equals in_c for depthwise
    int kernel, stride, pad;
} ConvShape;

static inline int conv_out_size(int in, int kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1;
}
static inline int conv_out_h(const ConvShape* s) { return conv_out_size(s->in_h, s->kernel, s->stride, s->pad); }
static inline int conv_out_w(const ConvShape* s) { return conv_out_size(s->in_w, s->kernel, s->stride, s->pad); }

typedef enum Activation {
    ACT_NONE = 0,
    ACT_RELU,
    ACT_RELU6,
    ACT_HSWISH,     // x * relu6(x + 3) / 6
    ACT_SIGMOID,
    ACT_HSIGMOID,   // relu6(x + 3) / 6
} Activation;

// Upload slots of Ops.upload_async: two batches in flight (double buffering).
#define OPS_UPLOAD_SLOTS 2

// A running backend timer (Ops.timer_begin / timer_end_ms). The CPU keeps its
// start here; CUDA keeps its two events in the backend state, so one timer
// runs per context at a time.
typedef struct OpTimer {
    double start_ms;
} OpTimer;

typedef struct SgdConfig {
    float lr, momentum, weight_decay;
    int nesterov;
} SgdConfig;

// Sizes of the scratch buffers some ops need (in floats), for ctx->threads.
// The caller allocates the maximum once; no op allocates in the step loop.
size_t conv2d_scratch_floats(const OpContext* ctx, const ConvShape* s);
size_t depthwise_conv2d_scratch_floats(const OpContext* ctx, const ConvShape* s);
size_t batchnorm_scratch_floats(const OpContext* ctx, int channels);

typedef struct Ops {
    const char* name;  // "cpu" or "cuda"

    // One slot per op of kernels/op_list.h, where each is documented.
#define OP(RET, NAME, PARAMS) RET(*NAME) PARAMS;
#include "op_list.h"
#undef OP
} Ops;

extern const Ops ops_cpu;

// The CUDA backend, or NULL when hwnas was built without CUDA.
const Ops* ops_cuda(void);

#ifdef __cplusplus
}
#endif
#endif
