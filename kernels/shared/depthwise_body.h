// Index-level bodies of the depthwise convolution, shared by the CPU (C) and
// CUDA backends so the CPU tests exercise the lines a GPU runs.
//
// Layouts (kernels/ops.h): activations NHWC with C = s->in_c channels, weight
// [k][k][C]. Every body accumulates with fmaf in a fixed order (stated per
// body); the CPU backend's vectorized loops use the same order, so its forward
// and input gradient equal these bodies bit for bit (and a GPU kernel built on
// them can be compared with the CPU exactly).
#ifndef HWNAS_DEPTHWISE_BODY_H
#define HWNAS_DEPTHWISE_BODY_H

#include "../ops.h"
#include "conv_body.h"
#include "hostdevice.h"

// One output element out[n][oy][ox][c], in ascending (ky, kx) order.
HD_INLINE float depthwise_forward_element(const ConvShape* s, const float* in,
                                          const float* weight, int n, int oy, int ox, int c) {
    int k = s->kernel, channels = s->in_c;
    int iy0 = oy * s->stride - s->pad, ix0 = ox * s->stride - s->pad;
    float acc = 0.0f;
    for (int ky = 0; ky < k; ky++) {
        int iy = iy0 + ky;
        if (iy < 0 || iy >= s->in_h) continue;
        for (int kx = 0; kx < k; kx++) {
            int ix = ix0 + kx;
            if (ix < 0 || ix >= s->in_w) continue;
            long at = (((long)n * s->in_h + iy) * s->in_w + ix) * channels + c;
            acc = fmaf(in[at], weight[(ky * k + kx) * channels + c], acc);
        }
    }
    return acc;
}

// One input-gradient element din[n][iy][ix][c], gathered from the output
// pixels that read it (no atomics): the sum over taps (ky, kx) with
// oy = (iy + pad - ky) / stride and ox likewise exact and inside the output,
// in descending tap order, which is ascending (oy, ox) order.
HD_INLINE float depthwise_input_grad_element(const ConvShape* s, const float* dout,
                                             const float* weight, int n, int iy, int ix, int c) {
    int k = s->kernel, channels = s->in_c, stride = s->stride;
    int out_h = conv_body_out_size(s->in_h, k, stride, s->pad);
    int out_w = conv_body_out_size(s->in_w, k, stride, s->pad);
    float acc = 0.0f;
    for (int ky = k - 1; ky >= 0; ky--) {
        int ty = iy + s->pad - ky;
        if (ty < 0 || ty % stride != 0 || ty / stride >= out_h) continue;
        for (int kx = k - 1; kx >= 0; kx--) {
            int tx = ix + s->pad - kx;
            if (tx < 0 || tx % stride != 0 || tx / stride >= out_w) continue;
            long at = (((long)n * out_h + ty / stride) * out_w + tx / stride) * channels + c;
            acc = fmaf(dout[at], weight[(ky * k + kx) * channels + c], acc);
        }
    }
    return acc;
}

// The CPU backend sums the weight gradient over this many fixed ranges of
// output rows (range i = [depthwise_grad_chunk_begin(rows, i), .._begin(rows,
// i + 1))), each from zero, then adds the ranges' sums in order, so its result
// does not depend on the thread count. A backend that does the same with
// depthwise_weight_grad_rows reproduces it bit for bit.
#define DEPTHWISE_GRAD_CHUNKS 16

HD_INLINE long depthwise_grad_chunk_begin(long rows, int chunk) {
    return rows * chunk / DEPTHWISE_GRAD_CHUNKS;
}

// The weight gradient of tap (ky, kx), channel c, summed over the output rows
// row = n * out_h + oy in [row_begin, row_end) and all their pixels, in
// ascending (row, ox) order. A GPU splits the rows over blocks and adds the
// partial sums; the whole range gives dweight[ky][kx][c] in one call.
HD_INLINE float depthwise_weight_grad_rows(const ConvShape* s, const float* dout, const float* in,
                                           int ky, int kx, int c, long row_begin, long row_end) {
    int k = s->kernel, channels = s->in_c, stride = s->stride;
    int out_h = conv_body_out_size(s->in_h, k, stride, s->pad);
    int out_w = conv_body_out_size(s->in_w, k, stride, s->pad);
    float acc = 0.0f;
    for (long row = row_begin; row < row_end; row++) {
        int n = (int)(row / out_h), oy = (int)(row % out_h);
        int iy = oy * stride - s->pad + ky;
        if (iy < 0 || iy >= s->in_h) continue;
        for (int ox = 0; ox < out_w; ox++) {
            int ix = ox * stride - s->pad + kx;
            if (ix < 0 || ix >= s->in_w) continue;
            long at_out = (row * out_w + ox) * channels + c;
            long at_in = (((long)n * s->in_h + iy) * s->in_w + ix) * channels + c;
            acc = fmaf(dout[at_out], in[at_in], acc);
        }
    }
    return acc;
}

#endif
