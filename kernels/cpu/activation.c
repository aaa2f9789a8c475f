// Elementwise activations (ReLU, ReLU6, h-swish, sigmoid, h-sigmoid).
//
// Speed: activation_apply switches on the kind per element, which keeps gcc
// from vectorizing a loop around it. Each entry point therefore dispatches
// once (ACTIVATION_DISPATCH) to a loop inlined with the kind as a constant,
// where the body folds to vector min/max/blend code. Sigmoid stays scalar:
// glibc's vector expf is only declared under -ffast-math.
#include "cpu_ops.h"
#include "../shared/activation_body.h"

enum {
    // Below this many elements a parallel region costs more than it saves.
    ACT_PARALLEL_MIN = 32768,
    // Thread ranges start on a multiple of 16 floats (a 64-byte line).
    ACT_RANGE_ALIGN = 16,
    // Elements per block of the backward's slope array (1 KiB).
    ACT_BLOCK = 256,
};

__attribute__((always_inline)) static inline void forward_loop(Activation act, float* out,
                                                               const float* in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = activation_apply(act, in[i]);
}

// din may alias dout: element i is read before it is written. The slopes
// act'(in) of a block go through a stack array first: inline, gcc
// if-converts dout * act'(in) into masked multiplies and masked reloads of
// dout, which took relu from 6 to 9 ms and h-swish from 5 to 10 ms on 14.4M
// floats (one thread); the values are the same either way.
__attribute__((always_inline)) static inline void backward_loop(Activation act, float* din,
                                                                const float* dout,
                                                                const float* in, size_t n) {
    float slope[ACT_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += ACT_BLOCK) {
        size_t m = n - i0 < ACT_BLOCK ? n - i0 : ACT_BLOCK;
        for (size_t i = 0; i < m; i++) slope[i] = activation_derivative(act, in[i0 + i]);
        for (size_t i = 0; i < m; i++) din[i0 + i] = dout[i0 + i] * slope[i];
    }
}

static void forward_range(Activation act, float* out, const float* in, size_t n) {
#define FORWARD(kind) forward_loop(kind, out, in, n)
    ACTIVATION_DISPATCH(act, FORWARD);
#undef FORWARD
}

static void backward_range(Activation act, float* din, const float* dout, const float* in,
                           size_t n) {
#define BACKWARD(kind) backward_loop(kind, din, dout, in, n)
    ACTIVATION_DISPATCH(act, BACKWARD);
#undef BACKWARD
}

// Splits n elements into `parts` ranges of whole 64-byte lines: part k is
// [*begin, *end).
static void range_of_part(size_t n, int parts, int k, size_t* begin, size_t* end) {
    size_t per = (n + (size_t)parts - 1) / (size_t)parts;
    per = (per + ACT_RANGE_ALIGN - 1) / ACT_RANGE_ALIGN * ACT_RANGE_ALIGN;
    size_t b = per * (size_t)k, e = b + per;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

static int activation_parts(const OpContext* ctx, size_t n) {
    return (n > ACT_PARALLEL_MIN && ctx->threads > 1) ? ctx->threads : 1;
}

void activation_forward_cpu(const OpContext* ctx, Activation act, float* out, const float* in,
                            size_t n) {
    int parts = activation_parts(ctx, n);
    #pragma omp parallel for num_threads(parts) schedule(static, 1) if (parts > 1)
    for (int k = 0; k < parts; k++) {
        size_t begin, end;
        range_of_part(n, parts, k, &begin, &end);
        forward_range(act, out + begin, in + begin, end - begin);
    }
}

void activation_backward_cpu(const OpContext* ctx, Activation act, float* din, const float* dout,
                             const float* in, size_t n) {
    if (!din) return;
    int parts = activation_parts(ctx, n);
    #pragma omp parallel for num_threads(parts) schedule(static, 1) if (parts > 1)
    for (int k = 0; k < parts; k++) {
        size_t begin, end;
        range_of_part(n, parts, k, &begin, &end);
        backward_range(act, din + begin, dout + begin, in + begin, end - begin);
    }
}
