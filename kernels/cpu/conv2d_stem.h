// The one-input-channel dense conv (grayscale stems) by direct loops instead
// of im2col + GEMM; conv2d.c hands such shapes here (conv2d_is_stem).
#ifndef HWNAS_CPU_CONV2D_STEM_H
#define HWNAS_CPU_CONV2D_STEM_H

#include <stddef.h>

#include "../ops.h"

enum { STEM_MAX_KERNEL = 7 };  // larger kernels keep the im2col path

// in_c == 1 and a kernel of at most STEM_MAX_KERNEL.
static inline int conv2d_is_stem(const ConvShape* s) {
    return s->in_c == 1 && s->kernel <= STEM_MAX_KERNEL;
}

// Scratch floats the two passes below need for ctx->threads.
size_t conv2d_stem_scratch_floats(const OpContext* ctx, const ConvShape* s);

// conv2d_forward / conv2d_backward of kernels/op_list.h for conv2d_is_stem
// shapes, with the same conventions (din overwritten, dweight and dbias
// accumulated, any of the three NULL).
void conv2d_stem_forward(const OpContext* ctx, const ConvShape* s, float* out, const float* in,
                         const float* weight, const float* bias, float* scratch);
void conv2d_stem_backward(const OpContext* ctx, const ConvShape* s, float* din, float* dweight,
                          float* dbias, const float* dout, const float* in, const float* weight,
                          float* scratch);

#endif
