// Channel concat and split, ShuffleNet channel shuffle and the residual add, with
// the index maps the CPU uses (kernels/shared/channel_body.h). One thread per
// output element, channel innermost, so neighbouring threads touch
// neighbouring addresses.
#include <stdio.h>

#include "kernels/cuda/cuda_common.h"
#include "kernels/shared/channel_body.h"

__global__ void concat_channels_kernel(float* out, const float* a, const float* b, size_t n,
                                       int ca, int cb) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t src;
        int from_b = concat_channels_source(i, ca, cb, &src);
        out[i] = from_b ? b[src] : a[src];
    }
}

// The concat's map read the other way; a NULL side is skipped.
__global__ void split_channels_kernel(float* a, float* b, const float* in, size_t n, int ca,
                                      int cb) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t dst;
        int to_b = concat_channels_source(i, ca, cb, &dst);
        float* side = to_b ? b : a;
        if (side) side[dst] = in[i];
    }
}

__global__ void channel_shuffle_kernel(float* out, const float* in, size_t n, int channels,
                                       int groups) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t row = i / (size_t)channels;
        int c = (int)(i - row * (size_t)channels);
        out[i] = in[row * (size_t)channels + (size_t)channel_shuffle_source(c, channels, groups)];
    }
}

// out may alias a or b: each element is read before it is written, by the same thread.
__global__ void add_kernel(float* out, const float* a, const float* b, size_t n) {
    CUDA_GRID_STRIDE_LOOP(i, n) out[i] = a[i] + b[i];
}

// Its backward is split_channels_cuda.
void concat_channels_cuda(const OpContext* ctx, float* out, const float* a, const float* b,
                          int rows, int ca, int cb) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)rows * (size_t)(ca + cb);
    if (!st || rows <= 0 || n == 0) return;
    LAUNCH_KERNEL(concat_channels_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, out,
                  a, b, n, ca, cb);
    CUDA_CHECK_LAUNCH(st, "concat_channels_kernel");
}

// Its backward is concat_channels_cuda.
void split_channels_cuda(const OpContext* ctx, float* a, float* b, const float* in, int rows,
                         int ca, int cb) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)rows * (size_t)(ca + cb);
    if (!st || rows <= 0 || n == 0 || (!a && !b)) return;
    LAUNCH_KERNEL(split_channels_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, a, b,
                  in, n, ca, cb);
    CUDA_CHECK_LAUNCH(st, "split_channels_kernel");
}

void channel_shuffle_cuda(const OpContext* ctx, float* out, const float* in, int rows,
                          int channels, int groups) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)rows * (size_t)channels;
    if (!st || rows <= 0 || channels <= 0) return;
    if (groups <= 0 || channels % groups != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "groups %d does not divide channels %d", groups, channels);
        cuda_record_error(st, __FILE__, __LINE__, "channel_shuffle", msg);
        return;
    }
    LAUNCH_KERNEL(channel_shuffle_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, out, in,
                  n, channels, groups);
    CUDA_CHECK_LAUNCH(st, "channel_shuffle_kernel");
}

void add_cuda(const OpContext* ctx, float* out, const float* a, const float* b, size_t n) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || n == 0) return;
    LAUNCH_KERNEL(add_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, out, a, b, n);
    CUDA_CHECK_LAUNCH(st, "add_kernel");
}
