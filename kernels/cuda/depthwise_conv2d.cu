// Depthwise conv2d on the GPU (any odd kernel, 3/5/7 in practice; any
// stride), weight [k][k][C], NHWC, through the per-element bodies the CPU
// runs (kernels/shared/depthwise_body.h):
//   forward       one thread per output element;
//   input grad    one thread per input element, gathering from the output
//                 pixels that read it (no atomics);
//   weight grad   a deterministic block reduction (reduce.cuh) over output
//                 rows (n, oy) of the per-row body, accumulated into dweight.
// Neighbouring threads are neighbouring channels, so every access coalesces.
// dev/cuda/depthwise_conv2d.cu holds the kernel experiments.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/shared/depthwise_body.h"

__global__ void depthwise_forward_kernel(ConvShape s, int out_h, int out_w, float* out,
                                         const float* in, const float* weight, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / (size_t)s.in_c;
        int c = (int)(i - pixel * (size_t)s.in_c);
        int ox = (int)(pixel % (size_t)out_w);
        size_t rest = pixel / (size_t)out_w;
        int oy = (int)(rest % (size_t)out_h);
        int b = (int)(rest / (size_t)out_h);
        out[i] = depthwise_forward_element(&s, in, weight, b, oy, ox, c);
    }
}

__global__ void depthwise_input_grad_kernel(ConvShape s, float* din, const float* dout,
                                            const float* weight, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / (size_t)s.in_c;
        int c = (int)(i - pixel * (size_t)s.in_c);
        int ix = (int)(pixel % (size_t)s.in_w);
        size_t rest = pixel / (size_t)s.in_w;
        int iy = (int)(rest % (size_t)s.in_h);
        int b = (int)(rest / (size_t)s.in_h);
        din[i] = depthwise_input_grad_element(&s, dout, weight, b, iy, ix, c);
    }
}

// Column col = (ky * k + kx) * C + c of the weight gradient, row = one output
// row (n, oy) with all its pixels.
struct DepthwiseWeightGradTerm {
    ConvShape s;
    const float *dout, *in;
    __device__ double2 operator()(int row, int col) const {
        int tap = col / s.in_c, c = col - tap * s.in_c;
        ConvShape shape = s;
        float v = depthwise_weight_grad_rows(&shape, dout, in, tap / s.kernel, tap % s.kernel, c,
                                             row, (long)row + 1);
        return make_double2((double)v, 0.0);
    }
};

struct DepthwiseWeightGradFinish {  // dweight accumulates
    float* dweight;
    __device__ void operator()(int col, double2 sum) const { dweight[col] += (float)sum.x; }
};

void depthwise_conv2d_forward_cuda(const OpContext* ctx, const ConvShape* s, float* out,
                                   const float* in, const float* weight) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return;
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    size_t n = (size_t)s->batch * out_h * out_w * s->in_c;
    if (s->batch <= 0 || out_h <= 0 || out_w <= 0 || s->in_c <= 0) return;
    LAUNCH_KERNEL(depthwise_forward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, *s,
                  out_h, out_w, out, in, weight, n);
    CUDA_CHECK_LAUNCH(st, "depthwise_forward_kernel");
}

// The scratch argument (sized for the CPU) is not used: the reduction's
// partial sums live in the state's scratch.
void depthwise_conv2d_backward_cuda(const OpContext* ctx, const ConvShape* s, float* din,
                                    float* dweight, const float* dout, const float* in,
                                    const float* weight, float* scratch) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return;
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    if (s->batch <= 0 || out_h <= 0 || out_w <= 0 || s->in_c <= 0) return;
    if (din) {
        size_t n = (size_t)s->batch * s->in_h * s->in_w * s->in_c;
        LAUNCH_KERNEL(depthwise_input_grad_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute,
                      *s, din, dout, weight, n);
        if (CUDA_CHECK_LAUNCH(st, "depthwise_input_grad_kernel")) return;
    }
    if (dweight) {
        int rows = s->batch * out_h;
        int cols = s->kernel * s->kernel * s->in_c;
        // A row here is a whole output row (out_w pixels), so chunks may be
        // short: one row per row lane is already enough work.
        column_sums(st, DepthwiseWeightGradTerm{*s, dout, in}, DepthwiseWeightGradFinish{dweight},
                    rows, cols, REDUCE_TILE);
    }
}
