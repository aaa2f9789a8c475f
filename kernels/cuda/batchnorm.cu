// BatchNorm over rows = N*H*W per channel, NHWC, on the GPU, optionally fused
// with the activation that follows it: out = act(BN(in)). Plain BatchNorm
// is act = ACT_NONE, as on the CPU.
//
// The per-channel sums go through column_sums (reduce.cuh): double
// accumulation, warp-shuffle reductions and a second pass over the chunk
// partials in a fixed order, so results are bitwise reproducible (no
// atomics). Everything after the sums goes through the bodies the CPU runs
// (kernels/shared/batchnorm_body.h): the statistics use the same shifted sums
// (shift = the channel's first value), so both backends round alike.
//
// Fusion: the forward is the statistics reduction plus one elementwise
// kernel (normalize, activate, store); the backward is the gradient
// reduction plus one elementwise kernel (input gradient), both recomputing
// dy = dout * act'(BN(in)) from the saved statistics instead of storing it.
// The kernels are templates on the activation (ACTIVATION_DISPATCH picks the
// instance), so the per-element switch folds away.
#include <stdio.h>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/shared/batchnorm_body.h"

// (x - shift, (x - shift)^2) with shift = x[0][c].
struct MomentTerm {
    const float* in;
    int channels;
    __device__ double2 operator()(int r, int c) const {
        double v = (double)in[(size_t)r * channels + c] - (double)in[c];
        return make_double2(v, v * v);
    }
};

// Saves mean and 1/sqrt(var + eps); updates the running estimates.
struct MomentFinish {
    const float* in;
    float *save_mean, *save_rstd, *running_mean, *running_var;
    int rows;
    float momentum, eps;
    __device__ void operator()(int c, double2 sum) const {
        float mean, rstd, var_unbiased;
        batchnorm_stats_from_sums((double)in[c], sum.x, sum.y, rows, eps, &mean, &rstd,
                                  &var_unbiased);
        save_mean[c] = mean;
        save_rstd[c] = rstd;
        if (running_mean) {
            running_mean[c] = batchnorm_running_update(running_mean[c], mean, momentum);
            running_var[c] = batchnorm_running_update(running_var[c], var_unbiased, momentum);
        }
    }
};

// (dy, dy * (x - mean)) with dy = dout * act'(BN(x)) recomputed (dout itself
// for ACT_NONE, where gamma and beta are not read).
template <Activation A>
struct GradientTerm {
    const float *dout, *in, *gamma, *beta, *mean, *rstd;
    int channels;
    __device__ double2 operator()(int r, int c) const {
        size_t at = (size_t)r * channels + c;
        float x = in[at];
        double g = batchnorm_act_output_grad(A, dout[at], x, mean[c], rstd[c],
                                             gamma ? gamma[c] : 1.0f, beta ? beta[c] : 0.0f);
        return make_double2(g, g * ((double)x - (double)mean[c]));
    }
};

// dgamma/dbeta accumulate; the two per-channel means feed the input gradient.
struct GradientFinish {
    const float* rstd;
    float *dgamma, *dbeta, *mean_dy, *mean_dy_xhat;
    int rows;
    __device__ void operator()(int c, double2 sum) const {
        double sum_dy = sum.x;
        double sum_dy_xhat = sum.y * (double)rstd[c];
        if (dbeta) dbeta[c] += (float)sum_dy;
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        mean_dy[c] = (float)(sum_dy / rows);
        mean_dy_xhat[c] = (float)(sum_dy_xhat / rows);
    }
};

// The elementwise kernels walk the n = rows * channels elements with a
// grid-stride loop and track the channel of element i incrementally (one
// division per thread, not per element).
struct ChannelCursor {
    size_t i, stride;
    int c, c_step, channels;
    __device__ explicit ChannelCursor(int channels_) : channels(channels_) {
        i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
        stride = (size_t)blockDim.x * gridDim.x;
        c = (int)(i % (size_t)channels);
        c_step = (int)(stride % (size_t)channels);
    }
    __device__ void next() {
        i += stride;
        c += c_step;
        if (c >= channels) c -= channels;
    }
};

// out = act(BN(in)). Training passes the batch mean and rstd; inference the
// running mean and (rstd NULL) the running variance.
template <Activation A>
__global__ void batchnorm_act_normalize_kernel(float* out, const float* in, const float* gamma,
                                               const float* beta, const float* mean,
                                               const float* rstd, const float* var, float eps,
                                               size_t n, int channels) {
    for (ChannelCursor k(channels); k.i < n; k.next()) {
        int c = k.c;
        float r = rstd ? rstd[c] : batchnorm_rstd(var[c], eps);
        out[k.i] = batchnorm_act_normalize(A, in[k.i], mean[c], r, gamma ? gamma[c] : 1.0f,
                                           beta ? beta[c] : 0.0f);
    }
}

// din may alias dout: each element is read before it is written, by the same thread.
template <Activation A>
__global__ void batchnorm_act_input_grad_kernel(float* din, const float* dout, const float* in,
                                                const float* gamma, const float* beta,
                                                const float* mean, const float* rstd,
                                                const float* mean_dy, const float* mean_dy_xhat,
                                                size_t n, int channels) {
    for (ChannelCursor k(channels); k.i < n; k.next()) {
        int c = k.c;
        float x = in[k.i], g = gamma ? gamma[c] : 1.0f;
        float dy = batchnorm_act_output_grad(A, dout[k.i], x, mean[c], rstd[c], g,
                                             beta ? beta[c] : 0.0f);
        din[k.i] = batchnorm_input_grad(dy, x, mean[c], rstd[c], g, mean_dy[c], mean_dy_xhat[c]);
    }
}

// Queues the normalize kernel for `act` (see batchnorm_act_normalize_kernel).
static void launch_normalize(CudaState* st, Activation act, float* out, const float* in,
                             const float* gamma, const float* beta, const float* mean,
                             const float* rstd, const float* var, float eps, int rows,
                             int channels) {
    size_t n = (size_t)rows * channels;
    unsigned blocks = cuda_grid_for(st, n, 256);
#define LAUNCH(kind)                                                                          \
    LAUNCH_KERNEL(batchnorm_act_normalize_kernel<kind>, blocks, 256, 0, st->compute, out, in, \
                  gamma, beta, mean, rstd, var, eps, n, channels)
    ACTIVATION_DISPATCH(act, LAUNCH);
#undef LAUNCH
    CUDA_CHECK_LAUNCH(st, "batchnorm_act_normalize_kernel");
}

void batchnorm_act_forward_train_cuda(const OpContext* ctx, Activation act, float* out,
                                      const float* in, const float* gamma, const float* beta,
                                      float* save_mean, float* save_rstd, float* running_mean,
                                      float* running_var, int rows, int channels,
                                      float momentum, float eps) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || rows <= 0 || channels <= 0) return;
    MomentFinish finish = {in, save_mean, save_rstd, running_mean,
                           running_var, rows, momentum, eps};
    if (column_sums(st, MomentTerm{in, channels}, finish, rows, channels)) return;
    launch_normalize(st, act, out, in, gamma, beta, save_mean, save_rstd, NULL, eps, rows,
                     channels);
}

void batchnorm_act_forward_infer_cuda(const OpContext* ctx, Activation act, float* out,
                                      const float* in, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var,
                                      int rows, int channels, float eps) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || rows <= 0 || channels <= 0) return;
    launch_normalize(st, act, out, in, gamma, beta, running_mean, NULL, running_var, eps, rows,
                     channels);
}

// The sums of pass 1 for activation A; 0 or -1 (error recorded).
template <Activation A>
static int gradient_sums(CudaState* st, const float* dout, const float* in, const float* gamma,
                         const float* beta, const float* mean, const float* rstd,
                         const GradientFinish& finish, int rows, int channels) {
    GradientTerm<A> term = {dout, in, gamma, beta, mean, rstd, channels};
    return column_sums(st, term, finish, rows, channels);
}

// The scratch argument (sized for the CPU) is not used: the partial sums live
// in the state's reduction scratch, the two means in its channel buffer.
void batchnorm_act_backward_cuda(const OpContext* ctx, Activation act, float* din,
                                 float* dgamma, float* dbeta, const float* dout,
                                 const float* in, const float* gamma, const float* beta,
                                 const float* save_mean, const float* save_rstd, int rows,
                                 int channels, float* scratch) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || rows <= 0 || channels <= 0) return;
    if ((size_t)channels * 2 > st->channel_buf_floats) {
        char msg[96];
        snprintf(msg, sizeof msg, "%d channels exceed the channel buffer", channels);
        cuda_record_error(st, __FILE__, __LINE__, "batchnorm_act_backward", msg);
        return;
    }
    float* mean_dy = st->channel_buf;
    float* mean_dy_xhat = st->channel_buf + channels;
    GradientFinish finish = {save_rstd, dgamma, dbeta, mean_dy, mean_dy_xhat, rows};
    int failed = 0;
#define SUMS(kind)                                                                        \
    failed = gradient_sums<kind>(st, dout, in, gamma, beta, save_mean, save_rstd, finish, \
                                 rows, channels)
    ACTIVATION_DISPATCH(act, SUMS);
#undef SUMS
    if (failed || !din) return;
    size_t n = (size_t)rows * channels;
    unsigned blocks = cuda_grid_for(st, n, 256);
#define LAUNCH(kind)                                                                             \
    LAUNCH_KERNEL(batchnorm_act_input_grad_kernel<kind>, blocks, 256, 0, st->compute, din, dout, \
                  in, gamma, beta, save_mean, save_rstd, mean_dy, mean_dy_xhat, n, channels)
    ACTIVATION_DISPATCH(act, LAUNCH);
#undef LAUNCH
    CUDA_CHECK_LAUNCH(st, "batchnorm_act_input_grad_kernel");
}
