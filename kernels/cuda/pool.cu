// Global average pool and squeeze-excitation channel scaling. The per-(b, c)
// sums run over the pixels of one image in pixel order, one thread each:
// deterministic, and coalesced because neighbouring threads are neighbouring
// channels.
#include "kernels/cuda/cuda_common.h"

__global__ void global_avg_pool_forward_kernel(float* out, const float* in, int batch, int hw,
                                               int channels) {
    size_t n = (size_t)batch * (size_t)channels;
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t b = i / (size_t)channels, c = i - b * (size_t)channels;
        const float* src = in + b * (size_t)hw * (size_t)channels + c;
        double sum = 0.0;
        for (int p = 0; p < hw; p++) sum += (double)src[(size_t)p * channels];
        out[i] = (float)(sum * (1.0 / (double)hw));  // as the CPU rounds it
    }
}

__global__ void global_avg_pool_backward_kernel(float* din, const float* dout, int hw,
                                                int channels, size_t n) {
    float inv_hw = (float)(1.0 / hw);  // as the CPU rounds it
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / (size_t)channels, c = i - pixel * (size_t)channels;
        size_t b = pixel / (size_t)hw;
        din[i] = dout[b * (size_t)channels + c] * inv_hw;
    }
}

__global__ void channel_scale_forward_kernel(float* out, const float* in, const float* scale,
                                             int hw, int channels, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / (size_t)channels, c = i - pixel * (size_t)channels;
        size_t b = pixel / (size_t)hw;
        out[i] = in[i] * scale[b * (size_t)channels + c];
    }
}

__global__ void channel_scale_input_grad_kernel(float* din, const float* dout, const float* scale,
                                                int hw, int channels, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / (size_t)channels, c = i - pixel * (size_t)channels;
        size_t b = pixel / (size_t)hw;
        din[i] = dout[i] * scale[b * (size_t)channels + c];
    }
}

// dscale[b][c] = sum over pixels of dout * in (scale is an input of the op,
// so its gradient is overwritten).
__global__ void channel_scale_scale_grad_kernel(float* dscale, const float* dout, const float* in,
                                                int batch, int hw, int channels) {
    size_t n = (size_t)batch * (size_t)channels;
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t b = i / (size_t)channels, c = i - b * (size_t)channels;
        size_t base = b * (size_t)hw * (size_t)channels + c;
        double sum = 0.0;
        for (int p = 0; p < hw; p++) {
            size_t k = base + (size_t)p * channels;
            sum += (double)dout[k] * (double)in[k];
        }
        dscale[i] = (float)sum;
    }
}

void global_avg_pool_forward_cuda(const OpContext* ctx, float* out, const float* in, int batch,
                                  int hw, int channels) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)batch * (size_t)channels;
    if (!st || batch <= 0 || channels <= 0 || hw <= 0) return;
    LAUNCH_KERNEL(global_avg_pool_forward_kernel, cuda_grid_for(st, n, 128), 128, 0, st->compute,
                  out, in, batch, hw, channels);
    CUDA_CHECK_LAUNCH(st, "global_avg_pool_forward_kernel");
}

void global_avg_pool_backward_cuda(const OpContext* ctx, float* din, const float* dout,
                                   int batch, int hw, int channels) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)batch * (size_t)hw * (size_t)channels;
    if (!st || !din || n == 0 || batch <= 0 || hw <= 0 || channels <= 0) return;
    LAUNCH_KERNEL(global_avg_pool_backward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute,
                  din, dout, hw, channels, n);
    CUDA_CHECK_LAUNCH(st, "global_avg_pool_backward_kernel");
}

void channel_scale_forward_cuda(const OpContext* ctx, float* out, const float* in,
                                const float* scale, int batch, int hw, int channels) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)batch * (size_t)hw * (size_t)channels;
    if (!st || n == 0 || batch <= 0 || hw <= 0 || channels <= 0) return;
    LAUNCH_KERNEL(channel_scale_forward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, out,
                  in, scale, hw, channels, n);
    CUDA_CHECK_LAUNCH(st, "channel_scale_forward_kernel");
}

void channel_scale_backward_cuda(const OpContext* ctx, float* din, float* dscale,
                                 const float* dout, const float* in, const float* scale,
                                 int batch, int hw, int channels) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)batch * (size_t)hw * (size_t)channels;
    if (!st || n == 0 || batch <= 0 || hw <= 0 || channels <= 0) return;
    // dscale first: din may alias dout (it is the same shape), and the scale
    // gradient needs the untouched dout.
    if (dscale) {
        size_t m = (size_t)batch * (size_t)channels;
        LAUNCH_KERNEL(channel_scale_scale_grad_kernel, cuda_grid_for(st, m, 128), 128, 0,
                      st->compute, dscale, dout, in, batch, hw, channels);
        if (CUDA_CHECK_LAUNCH(st, "channel_scale_scale_grad_kernel")) return;
    }
    if (din) {
        LAUNCH_KERNEL(channel_scale_input_grad_kernel, cuda_grid_for(st, n, 256), 256, 0,
                      st->compute, din, dout, scale, hw, channels, n);
        CUDA_CHECK_LAUNCH(st, "channel_scale_input_grad_kernel");
    }
}
