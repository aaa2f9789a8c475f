// BatchNorm over rows = N*H*W per channel, NHWC, optionally fused with the
// activation that follows it: out = act(BN(in)). Plain BatchNorm is
// act = ACT_NONE (the compiler drops the activation code for it).
//
// Determinism: the per-channel reductions walk rows: the rows are split into
// T contiguous ranges, each range sums its channels (vectorized along the
// contiguous channel axis) in double into its own partial slot, and the slots
// are added in the fixed order 0..T-1. T depends only on ctx->threads and the
// shape, and OpenMP's actual team size does not change the split, so results
// are bitwise reproducible for a given thread count. Double accumulation
// keeps 100k-row sums (batch 128 x 28x28) exact to float precision.
//
// Speed: these ops are memory-bound passes over tensors of up to ~14M floats.
//   - The forward is two passes over the data (statistics; then normalize,
//     activate and store), the backward two (sums of dy and dy * xhat; then
//     the input gradient), where dy = dout * act'(y) is recomputed from `in`
//     and the saved statistics inside both passes and never stored (only one
//     row's act'(y) passes through a stack array, see row_slopes).
//   - Every inner loop runs along the channels of one row, with the
//     per-channel values it needs (mean, rstd, gamma or 1, beta or 0, ...)
//     first copied into stack arrays, one chunk of channels at a time, so the
//     loop has no NULL tests and no aliasing doubts about them.
//   - The activation's switch is hoisted out of the loops: ACTIVATION_DISPATCH
//     picks one loop per activation kind, inlined with the kind as a
//     constant, so gcc vectorizes each (sigmoid's expf stays scalar).
#include <stdint.h>

#include "cpu_ops.h"
#include "../shared/batchnorm_body.h"

enum {
    BN_MAX_THREADS = 64,
    // The forward has no scratch argument: its partial sums live on the
    // stack (64 KiB), one chunk of channels at a time.
    BN_STACK_DOUBLES = 8192,
    // Below this many elements a parallel region costs more than it saves.
    BN_PARALLEL_MIN = 32768,
    // Channels per chunk of the per-channel coefficient arrays (12 KiB).
    BN_COEF_CHUNK = 512,
};

// The per-channel values of one chunk of channels, as the inner loops read
// them. gamma = 1 and beta = 0 when non-affine.
typedef struct ChannelCoefs {
    float mean[BN_COEF_CHUNK], rstd[BN_COEF_CHUNK];
    float gamma[BN_COEF_CHUNK], beta[BN_COEF_CHUNK];
    float mean_dy[BN_COEF_CHUNK], mean_dy_xhat[BN_COEF_CHUNK];  // backward only
    float slope[BN_COEF_CHUNK];  // backward: act'(y) of the current row (see row_slopes)
} ChannelCoefs;

// Row ranges (work items) for this call; deterministic in (threads, shape).
static int bn_ranges(const OpContext* ctx, int rows, int channels) {
    int t = ctx->threads < 1 ? 1 : ctx->threads;
    if (t > BN_MAX_THREADS) t = BN_MAX_THREADS;
    if ((int64_t)rows * channels < BN_PARALLEL_MIN) t = 1;
    if (t > rows) t = rows;
    return t < 1 ? 1 : t;
}

static int range_begin(int rows, int ranges, int t) {
    return (int)((int64_t)rows * t / ranges);
}

static int chunk_width(int channels, int c0, int chunk) {
    return channels - c0 < chunk ? channels - c0 : chunk;
}

// Copies channels [c0, c0 + width) of the statistics and affine parameters.
// rstd NULL: inference, the rstd comes from the running variance `var`.
static void load_coefs(ChannelCoefs* k, const float* mean, const float* rstd, const float* var,
                       float eps, const float* gamma, const float* beta, int c0, int width) {
    for (int c = 0; c < width; c++) {
        k->mean[c] = mean[c0 + c];
        k->rstd[c] = rstd ? rstd[c0 + c] : batchnorm_rstd(var[c0 + c], eps);
        k->gamma[c] = gamma ? gamma[c0 + c] : 1.0f;
        k->beta[c] = beta ? beta[c0 + c] : 0.0f;
    }
}

// ---------------------------------------------------------------- statistics

// sum (x - shift) and sum (x - shift)^2 over rows [r0, r1) of channels
// [c0, c0 + width); shift is the channel's first value (see batchnorm_body.h).
static void moment_sums(const float* in, int channels, int r0, int r1, int c0, int width,
                        double* restrict sum, double* restrict sum_sq) {
    const float* shift = in + c0;
    for (int c = 0; c < width; c++) sum[c] = sum_sq[c] = 0.0;
    for (int r = r0; r < r1; r++) {
        const float* x = in + (size_t)r * channels + c0;
        for (int c = 0; c < width; c++) {
            double v = (double)x[c] - (double)shift[c];
            sum[c] += v;
            sum_sq[c] += v * v;
        }
    }
}

// Batch statistics into save_mean/save_rstd, and the running estimates.
static void batch_statistics(int ranges, const float* in, float* save_mean, float* save_rstd,
                             float* running_mean, float* running_var, int rows, int channels,
                             float momentum, float eps) {
    double partial[BN_STACK_DOUBLES];  // [ranges][2][width] of one chunk
    int chunk = BN_STACK_DOUBLES / (2 * ranges);
    for (int c0 = 0; c0 < channels; c0 += chunk) {
        int width = chunk_width(channels, c0, chunk);
        #pragma omp parallel for num_threads(ranges) schedule(static, 1) if (ranges > 1)
        for (int t = 0; t < ranges; t++) {
            double* a = partial + (size_t)t * 2 * width;
            moment_sums(in, channels, range_begin(rows, ranges, t),
                        range_begin(rows, ranges, t + 1), c0, width, a, a + width);
        }
        for (int t = 1; t < ranges; t++)
            for (int c = 0; c < 2 * width; c++) partial[c] += partial[(size_t)t * 2 * width + c];
        for (int c = 0; c < width; c++) {
            float var_unbiased;
            batchnorm_stats_from_sums(in[c0 + c], partial[c], partial[width + c], rows, eps,
                                      &save_mean[c0 + c], &save_rstd[c0 + c], &var_unbiased);
            if (running_mean) {
                running_mean[c0 + c] =
                    batchnorm_running_update(running_mean[c0 + c], save_mean[c0 + c], momentum);
                running_var[c0 + c] =
                    batchnorm_running_update(running_var[c0 + c], var_unbiased, momentum);
            }
        }
    }
}

// ---------------------------------------------------------------- normalize

// out = act(BN(in)) over rows [r0, r1) of channels [c0, c0 + width).
__attribute__((always_inline)) static inline void normalize_rows(Activation act,
                                                                 const ChannelCoefs* k,
                                                                 float* out, const float* in,
                                                                 int channels, int r0, int r1,
                                                                 int c0, int width) {
    for (int r = r0; r < r1; r++) {
        const float* x = in + (size_t)r * channels + c0;
        float* y = out + (size_t)r * channels + c0;
        for (int c = 0; c < width; c++)
            y[c] = batchnorm_act_normalize(act, x[c], k->mean[c], k->rstd[c], k->gamma[c],
                                           k->beta[c]);
    }
}

// The store pass of both forwards: training passes the batch mean and rstd,
// inference the running mean and (rstd NULL) the running variance.
static void normalize_pass(int ranges, Activation act, float* out, const float* in,
                           const float* gamma, const float* beta, const float* mean,
                           const float* rstd, const float* var, float eps, int rows,
                           int channels) {
    #pragma omp parallel for num_threads(ranges) schedule(static, 1) if (ranges > 1)
    for (int t = 0; t < ranges; t++) {
        int r0 = range_begin(rows, ranges, t), r1 = range_begin(rows, ranges, t + 1);
        ChannelCoefs k;
        for (int c0 = 0; c0 < channels; c0 += BN_COEF_CHUNK) {
            int width = chunk_width(channels, c0, BN_COEF_CHUNK);
            load_coefs(&k, mean, rstd, var, eps, gamma, beta, c0, width);
#define NORMALIZE(kind) normalize_rows(kind, &k, out, in, channels, r0, r1, c0, width)
            ACTIVATION_DISPATCH(act, NORMALIZE);
#undef NORMALIZE
        }
    }
}

// ---------------------------------------------------------------- backward

// act'(y) of one row's channels [0, width) into k->slope, y = BN(x)
// recomputed. Why a separate loop through a row-sized stack array rather
// than dy = dout * act'(y) inline: gcc if-converts that product into masked
// multiplies and masked reloads of dout, which made the relu and h-swish
// backward ~1.6x slower than relu6's (or plain BatchNorm's) on 14M-element
// tensors; a product with a slope loaded from L1 stays one plain multiply.
// The values are the same either way (bit for bit).
__attribute__((always_inline)) static inline void row_slopes(Activation act, ChannelCoefs* k,
                                                             const float* x, int width) {
    for (int c = 0; c < width; c++)
        k->slope[c] = batchnorm_act_slope(act, x[c], k->mean[c], k->rstd[c], k->gamma[c],
                                          k->beta[c]);
}

// dy of one element: dout * act'(y) from the row's slopes, or dout itself.
__attribute__((always_inline)) static inline float row_output_grad(Activation act,
                                                                   const ChannelCoefs* k,
                                                                   float dout, int c) {
    return act == ACT_NONE ? dout : dout * k->slope[c];
}

// sum dy and sum dy * (x - mean) over rows [r0, r1) of channels
// [c0, c0 + width), with dy = dout * act'(BN(x)) recomputed.
__attribute__((always_inline)) static inline void gradient_sums(
    Activation act, ChannelCoefs* k, const float* dout, const float* in, int channels, int r0,
    int r1, int c0, int width, double* restrict sum_dy, double* restrict sum_dy_xc) {
    for (int c = 0; c < width; c++) sum_dy[c] = sum_dy_xc[c] = 0.0;
    for (int r = r0; r < r1; r++) {
        const float* x = in + (size_t)r * channels + c0;
        const float* g = dout + (size_t)r * channels + c0;
        if (act != ACT_NONE) row_slopes(act, k, x, width);
        for (int c = 0; c < width; c++) {
            double dy = row_output_grad(act, k, g[c], c);
            sum_dy[c] += dy;
            sum_dy_xc[c] += dy * ((double)x[c] - (double)k->mean[c]);
        }
    }
}

// din over rows [r0, r1) of channels [c0, c0 + width). din may alias dout:
// each element is read before it is written.
__attribute__((always_inline)) static inline void input_grad_rows(
    Activation act, ChannelCoefs* k, float* din, const float* dout, const float* in,
    int channels, int r0, int r1, int c0, int width) {
    for (int r = r0; r < r1; r++) {
        size_t at = (size_t)r * channels + c0;
        const float *x = in + at, *g = dout + at;
        float* dx = din + at;
        if (act != ACT_NONE) row_slopes(act, k, x, width);
        for (int c = 0; c < width; c++)
            dx[c] = batchnorm_input_grad(row_output_grad(act, k, g[c], c), x[c], k->mean[c],
                                         k->rstd[c], k->gamma[c], k->mean_dy[c],
                                         k->mean_dy_xhat[c]);
    }
}

// Pass 1 of the backward: partial[t] = [sum dy | sum dy*(x-mean)] over the
// rows of range t, all channels; then the ranges are added in order 0..T-1
// into partial[0].
static void gradient_sums_pass(int ranges, Activation act, const float* dout, const float* in,
                               const float* gamma, const float* beta, const float* save_mean,
                               const float* save_rstd, int rows, int channels, double* partial) {
    #pragma omp parallel for num_threads(ranges) schedule(static, 1) if (ranges > 1)
    for (int t = 0; t < ranges; t++) {
        int r0 = range_begin(rows, ranges, t), r1 = range_begin(rows, ranges, t + 1);
        double* sum_dy = partial + (size_t)t * 2 * channels;
        double* sum_dy_xc = sum_dy + channels;
        ChannelCoefs k;
        for (int c0 = 0; c0 < channels; c0 += BN_COEF_CHUNK) {
            int width = chunk_width(channels, c0, BN_COEF_CHUNK);
            load_coefs(&k, save_mean, save_rstd, NULL, 0.0f, gamma, beta, c0, width);
#define SUMS(kind) \
    gradient_sums(kind, &k, dout, in, channels, r0, r1, c0, width, sum_dy + c0, sum_dy_xc + c0)
            ACTIVATION_DISPATCH(act, SUMS);
#undef SUMS
        }
    }
    for (int t = 1; t < ranges; t++) {
        const double* a = partial + (size_t)t * 2 * channels;
        for (int c = 0; c < 2 * channels; c++) partial[c] += a[c];
    }
}

// Pass 2 of the backward: din from dout, in and the per-channel means.
static void input_grad_pass(int ranges, Activation act, float* din, const float* dout,
                            const float* in, const float* gamma, const float* beta,
                            const float* save_mean, const float* save_rstd,
                            const float* mean_dy, const float* mean_dy_xhat, int rows,
                            int channels) {
    #pragma omp parallel for num_threads(ranges) schedule(static, 1) if (ranges > 1)
    for (int t = 0; t < ranges; t++) {
        int r0 = range_begin(rows, ranges, t), r1 = range_begin(rows, ranges, t + 1);
        ChannelCoefs k;
        for (int c0 = 0; c0 < channels; c0 += BN_COEF_CHUNK) {
            int width = chunk_width(channels, c0, BN_COEF_CHUNK);
            load_coefs(&k, save_mean, save_rstd, NULL, 0.0f, gamma, beta, c0, width);
            for (int c = 0; c < width; c++) {
                k.mean_dy[c] = mean_dy[c0 + c];
                k.mean_dy_xhat[c] = mean_dy_xhat[c0 + c];
            }
#define INPUT_GRAD(kind) input_grad_rows(kind, &k, din, dout, in, channels, r0, r1, c0, width)
            ACTIVATION_DISPATCH(act, INPUT_GRAD);
#undef INPUT_GRAD
        }
    }
}

// ---------------------------------------------------------------- entry points

size_t batchnorm_scratch_floats(const OpContext* ctx, int channels) {
    int t = ctx->threads < 1 ? 1 : ctx->threads;
    if (t > BN_MAX_THREADS) t = BN_MAX_THREADS;
    // [t][2][channels] doubles of partial sums, 2*channels float coefficients,
    // and one float of slack to align the doubles.
    return (size_t)t * channels * 4 + (size_t)channels * 2 + 2;
}

void batchnorm_act_forward_train_cpu(const OpContext* ctx, Activation act, float* out,
                                     const float* in, const float* gamma, const float* beta,
                                     float* save_mean, float* save_rstd, float* running_mean,
                                     float* running_var, int rows, int channels, float momentum,
                                     float eps) {
    if (rows <= 0 || channels <= 0) return;
    int ranges = bn_ranges(ctx, rows, channels);
    batch_statistics(ranges, in, save_mean, save_rstd, running_mean, running_var, rows, channels,
                     momentum, eps);
    normalize_pass(ranges, act, out, in, gamma, beta, save_mean, save_rstd, NULL, eps, rows,
                   channels);
}

void batchnorm_act_forward_infer_cpu(const OpContext* ctx, Activation act, float* out,
                                     const float* in, const float* gamma, const float* beta,
                                     const float* running_mean, const float* running_var,
                                     int rows, int channels, float eps) {
    if (rows <= 0 || channels <= 0) return;
    normalize_pass(bn_ranges(ctx, rows, channels), act, out, in, gamma, beta, running_mean, NULL,
                   running_var, eps, rows, channels);
}

void batchnorm_act_backward_cpu(const OpContext* ctx, Activation act, float* din, float* dgamma,
                                float* dbeta, const float* dout, const float* in,
                                const float* gamma, const float* beta, const float* save_mean,
                                const float* save_rstd, int rows, int channels, float* scratch) {
    if (rows <= 0 || channels <= 0) return;
    int ranges = bn_ranges(ctx, rows, channels);
    // The caller's float buffer may start at any float; doubles need 8 bytes.
    double* partial = (double*)(((uintptr_t)scratch + 7) & ~(uintptr_t)7);
    float* mean_dy = (float*)(partial + (size_t)ranges * 2 * channels);
    float* mean_dy_xhat = mean_dy + channels;
    gradient_sums_pass(ranges, act, dout, in, gamma, beta, save_mean, save_rstd, rows, channels,
                       partial);
    for (int c = 0; c < channels; c++) {
        double sum_dy = partial[c];
        double sum_dy_xhat = partial[channels + c] * (double)save_rstd[c];
        if (dbeta) dbeta[c] += (float)sum_dy;
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        mean_dy[c] = (float)(sum_dy / rows);
        mean_dy_xhat[c] = (float)(sum_dy_xhat / rows);
    }
    if (!din) return;
    input_grad_pass(ranges, act, din, dout, in, gamma, beta, save_mean, save_rstd, mean_dy,
                    mean_dy_xhat, rows, channels);
}
