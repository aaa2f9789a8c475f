// Index-level bodies of the dense convolution's im2col / col2im, shared by the
// CPU (C) and CUDA backends so the CPU tests exercise the lines a GPU runs.
//
// The im2col matrix of a group of output pixels has one row per output pixel
// (n, oy, ox), flattened over the batch as row = (n * out_h + oy) * out_w + ox,
// and kernel * kernel * in_c columns in [ky][kx][ci] order, the same order as
// one output channel of an OHWI weight. So forward is col * W^T and the input
// gradient is col2im(dout * W).
#ifndef HWNAS_CONV_BODY_H
#define HWNAS_CONV_BODY_H

#include "../ops.h"
#include "hostdevice.h"

// conv_out_size of ops.h, callable from device code.
HD_INLINE int conv_body_out_size(int in, int kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1;
}

// The input pixel that im2col row `row` reads at tap (ky, kx), as the offset
// in floats of its first channel in the NHWC input; -1 in the zero padding.
HD_INLINE long conv_im2col_pixel(const ConvShape* s, int out_h, int out_w, long row, int ky,
                                 int kx) {
    int ox = (int)(row % out_w);
    long rest = row / out_w;
    int oy = (int)(rest % out_h);
    int n = (int)(rest / out_h);
    int iy = oy * s->stride - s->pad + ky;
    int ix = ox * s->stride - s->pad + kx;
    if (iy < 0 || iy >= s->in_h || ix < 0 || ix >= s->in_w) return -1;
    return (((long)n * s->in_h + iy) * s->in_w + ix) * s->in_c;
}

// col[row][col] of the im2col matrix of the whole batch.
HD_INLINE float conv_im2col_element(const ConvShape* s, int out_h, int out_w, const float* in,
                                    long row, int col) {
    int ci = col % s->in_c;
    int tap = col / s->in_c;
    long pixel = conv_im2col_pixel(s, out_h, out_w, row, tap / s->kernel, tap % s->kernel);
    return pixel < 0 ? 0.0f : in[pixel + ci];
}

// The im2col row (output pixel) that reads input pixel (n, iy, ix) at tap
// (ky, kx), or -1 when no output pixel does (stride skips it, or it would lie
// outside the output).
HD_INLINE long conv_col2im_row(const ConvShape* s, int out_h, int out_w, int n, int iy, int ix,
                               int ky, int kx) {
    int ty = iy + s->pad - ky, tx = ix + s->pad - kx;
    if (ty < 0 || tx < 0 || ty % s->stride != 0 || tx % s->stride != 0) return -1;
    int oy = ty / s->stride, ox = tx / s->stride;
    if (oy >= out_h || ox >= out_w) return -1;
    return ((long)n * out_h + oy) * out_w + ox;
}

// One input-gradient element din[n][iy][ix][ci] in gather form (no atomics):
// the sum over taps, in ascending (ky, kx) order, of the dcol entries of the
// output pixels that read it. dcol holds rows [row_begin, row_end) of the
// batch's column gradient (dcol[row - row_begin][col]); rows outside it add
// nothing, so a caller that tiles the rows sums the tiles' results.
HD_INLINE float conv_col2im_element(const ConvShape* s, int out_h, int out_w, const float* dcol,
                                    long row_begin, long row_end, int n, int iy, int ix, int ci) {
    int k = s->kernel;
    long cols = (long)k * k * s->in_c;
    float sum = 0.0f;
    for (int ky = 0; ky < k; ky++) {
        for (int kx = 0; kx < k; kx++) {
            long row = conv_col2im_row(s, out_h, out_w, n, iy, ix, ky, kx);
            if (row < row_begin || row >= row_end) continue;  // also skips -1
            sum += dcol[(row - row_begin) * cols + (long)(ky * k + kx) * s->in_c + ci];
        }
    }
    return sum;
}

#endif
