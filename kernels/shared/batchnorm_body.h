// Index-level BatchNorm bodies shared by the CPU (C) and CUDA backends. The
// per-channel reductions (sums over rows) are backend-specific; everything
// after them goes through these functions so both backends round alike.
#ifndef HWNAS_BATCHNORM_BODY_H
#define HWNAS_BATCHNORM_BODY_H

#include "activation_body.h"
#include "hostdevice.h"

// Batch statistics of one channel from its double sums over `rows` values of
// (x - shift). Any shift gives the same statistics; a shift near the mean (the
// CPU uses the channel's first value) keeps sum_sq/rows - m*m free of
// cancellation when |mean| >> std. The variance is the biased one (it
// normalizes); `var_unbiased` feeds the running estimate as in
// torch.nn.BatchNorm2d. One row has no unbiased variance (PyTorch refuses to
// train on it); we report the biased one (0) rather than inf so a running
// estimate is never poisoned.
HD_INLINE void batchnorm_stats_from_sums(double shift, double sum, double sum_sq, int rows,
                                         float eps, float* mean, float* rstd,
                                         float* var_unbiased) {
    double m = sum / rows;
    double var = sum_sq / rows - m * m;
    if (var < 0.0) var = 0.0;  // rounding can make a constant channel slightly negative
    *mean = (float)(shift + m);
    *rstd = (float)(1.0 / sqrt(var + (double)eps));
    *var_unbiased = (float)(rows > 1 ? var * rows / (rows - 1) : var);
}

// running = (1 - momentum) * running + momentum * batch, PyTorch's convention.
HD_INLINE float batchnorm_running_update(float running, float batch, float momentum) {
    return (1.0f - momentum) * running + momentum * batch;
}

// 1/sqrt(var + eps) of a running variance, for inference.
HD_INLINE float batchnorm_rstd(float var, float eps) {
    return 1.0f / sqrtf(var + eps);
}

// One element's output. gamma = 1 and beta = 0 when non-affine.
HD_INLINE float batchnorm_normalize(float x, float mean, float rstd, float gamma, float beta) {
    return (x - mean) * rstd * gamma + beta;
}

// One element's input gradient, training mode. With xhat = (x - mean) * rstd
// and per-channel means over rows mean_dy = sum(dy)/rows and
// mean_dy_xhat = sum(dy * xhat)/rows:
//   din = gamma * rstd * (dy - mean_dy - xhat * mean_dy_xhat).
HD_INLINE float batchnorm_input_grad(float dy, float x, float mean, float rstd, float gamma,
                                     float mean_dy, float mean_dy_xhat) {
    float xhat = (x - mean) * rstd;
    return gamma * rstd * (dy - mean_dy - xhat * mean_dy_xhat);
}

// The fused BatchNorm + activation (out = act(BN(x))). Only `out` is stored;
// the backward recomputes y = BN(x) from the saved statistics with the same
// body, so it gets the very float the forward activated, and the fused
// gradient agrees with the separate activation backward even at the kinks.

// One element's output: act(batchnorm_normalize(...)).
HD_INLINE float batchnorm_act_normalize(Activation act, float x, float mean, float rstd,
                                        float gamma, float beta) {
    return activation_apply(act, batchnorm_normalize(x, mean, rstd, gamma, beta));
}

// act'(y) at y = BN(x): the slope both backward passes (the sums and the
// input gradient) recompute on the fly, dy = dout * slope.
HD_INLINE float batchnorm_act_slope(Activation act, float x, float mean, float rstd, float gamma,
                                    float beta) {
    return activation_derivative(act, batchnorm_normalize(x, mean, rstd, gamma, beta));
}

// dy = dout * act'(y), the gradient at the BatchNorm output. ACT_NONE skips
// the recomputation: dy = dout (= dout * 1).
HD_INLINE float batchnorm_act_output_grad(Activation act, float dout, float x, float mean,
                                          float rstd, float gamma, float beta) {
    if (act == ACT_NONE) return dout;
    return dout * batchnorm_act_slope(act, x, mean, rstd, gamma, beta);
}

#endif
