// Channel concat/split, ShuffleNet channel shuffle and the residual add, with
// the index maps the CPU uses (kernels/shared/channel_body.h). One thread per
// output element, channel innermost, so neighbouring threads touch
// neighbouring addresses.
#include <stdio.h>

#include "kernels/cuda/cuda_common.h"
#include "kernels/shared/channel_body.h"

__global__ void channel_concat_forward_kernel(float* out, const float* a, const float* b,
                                              size_t n, int ca, int cb) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t src;
        int from_b = channel_concat_source(i, ca, cb, &src);
        out[i] = from_b ? b[src] : a[src];
    }
}

// The split: the same map read the other way; a NULL side is skipped.
__global__ void channel_concat_backward_kernel(float* da, float* db, const float* dout, size_t n,
                                               int ca, int cb) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t src;
        int to_b = channel_concat_source(i, ca, cb, &src);
        float* side = to_b ? db : da;
        if (side) side[src] = dout[i];
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

void channel_concat_forward_cuda(const OpContext* ctx, float* out, const float* a,
                                 const float* b, int rows, int ca, int cb) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)rows * (size_t)(ca + cb);
    if (!st || rows <= 0 || n == 0) return;
    LAUNCH_KERNEL(channel_concat_forward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute,
                  out, a, b, n, ca, cb);
    CUDA_CHECK_LAUNCH(st, "channel_concat_forward_kernel");
}

void channel_concat_backward_cuda(const OpContext* ctx, float* da, float* db, const float* dout,
                                  int rows, int ca, int cb) {
    CudaState* st = cuda_op_state(ctx);
    size_t n = (size_t)rows * (size_t)(ca + cb);
    if (!st || rows <= 0 || n == 0 || (!da && !db)) return;
    LAUNCH_KERNEL(channel_concat_backward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute,
                  da, db, dout, n, ca, cb);
    CUDA_CHECK_LAUNCH(st, "channel_concat_backward_kernel");
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
