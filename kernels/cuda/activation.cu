// Elementwise activations on the GPU, through the bodies the CPU runs
// (kernels/shared/activation_body.h).
#include "kernels/cuda/cuda_common.h"
#include "kernels/shared/activation_body.h"

__global__ void activation_forward_kernel(Activation act, float* out, const float* in, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) out[i] = activation_apply(act, in[i]);
}

// din may alias dout: each element is read before it is written, by the same thread.
__global__ void activation_backward_kernel(Activation act, float* din, const float* dout,
                                           const float* in, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) din[i] = dout[i] * activation_derivative(act, in[i]);
}

void activation_forward_cuda(const OpContext* ctx, Activation act, float* out, const float* in,
                             size_t n) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || n == 0) return;
    LAUNCH_KERNEL(activation_forward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, act,
                  out, in, n);
    CUDA_CHECK_LAUNCH(st, "activation_forward_kernel");
}

void activation_backward_cuda(const OpContext* ctx, Activation act, float* din,
                              const float* dout, const float* in, size_t n) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || n == 0 || !din) return;
    LAUNCH_KERNEL(activation_backward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, act,
                  din, dout, in, n);
    CUDA_CHECK_LAUNCH(st, "activation_backward_kernel");
}
