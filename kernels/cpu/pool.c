// Global average pooling and squeeze-excitation channel scaling, NHWC.
//
// Both reductions (the pool, and the SE gate's gradient) sum over the hw
// positions of one image per channel: work items are (image, channel chunk)
// pairs, each summing in double on a stack chunk so a 112x112 map stays exact
// to float precision, and needing no scratch.
#include <stdint.h>

#include "cpu_ops.h"

enum {
    POOL_CHUNK = 512,           // channels per work item (4 KiB of doubles)
    POOL_PARALLEL_MIN = 32768,  // elements below which one thread is faster
};

static int pool_threads(const OpContext* ctx, int64_t elements) {
    return elements < POOL_PARALLEL_MIN || ctx->threads < 1 ? 1 : ctx->threads;
}

void global_avg_pool_forward_cpu(const OpContext* ctx, float* out, const float* in, int batch,
                                 int hw, int channels) {
    int chunks = (channels + POOL_CHUNK - 1) / POOL_CHUNK;
    int threads = pool_threads(ctx, (int64_t)batch * hw * channels);
    double inv_hw = 1.0 / hw;
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int item = 0; item < batch * chunks; item++) {
        int b = item / chunks, c0 = (item % chunks) * POOL_CHUNK;
        int width = channels - c0 < POOL_CHUNK ? channels - c0 : POOL_CHUNK;
        double acc[POOL_CHUNK];
        for (int c = 0; c < width; c++) acc[c] = 0.0;
        for (int p = 0; p < hw; p++) {
            const float* x = in + ((size_t)b * hw + p) * channels + c0;
            for (int c = 0; c < width; c++) acc[c] += x[c];
        }
        float* y = out + (size_t)b * channels + c0;
        for (int c = 0; c < width; c++) y[c] = (float)(acc[c] * inv_hw);
    }
}

void global_avg_pool_backward_cpu(const OpContext* ctx, float* din, const float* dout, int batch,
                                  int hw, int channels) {
    int threads = pool_threads(ctx, (int64_t)batch * hw * channels);
    float inv_hw = (float)(1.0 / hw);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < (int64_t)batch * hw; row++) {
        const float* g = dout + (size_t)(row / hw) * channels;
        float* dx = din + (size_t)row * channels;
        for (int c = 0; c < channels; c++) dx[c] = g[c] * inv_hw;
    }
}

void channel_scale_forward_cpu(const OpContext* ctx, float* out, const float* in,
                               const float* scale, int batch, int hw, int channels) {
    int threads = pool_threads(ctx, (int64_t)batch * hw * channels);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < (int64_t)batch * hw; row++) {
        const float* s = scale + (size_t)(row / hw) * channels;
        const float* x = in + (size_t)row * channels;
        float* y = out + (size_t)row * channels;
        for (int c = 0; c < channels; c++) y[c] = x[c] * s[c];
    }
}

// dscale[b][c] = sum_p dout*in is OVERWRITTEN (the scale is an activation, the
// SE branch's output); din = dout * scale. Either may be NULL. din may alias
// dout: each element is read before it is written.
void channel_scale_backward_cpu(const OpContext* ctx, float* din, float* dscale,
                                const float* dout, const float* in, const float* scale, int batch,
                                int hw, int channels) {
    int chunks = (channels + POOL_CHUNK - 1) / POOL_CHUNK;
    int threads = pool_threads(ctx, (int64_t)batch * hw * channels);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int item = 0; item < batch * chunks; item++) {
        int b = item / chunks, c0 = (item % chunks) * POOL_CHUNK;
        int width = channels - c0 < POOL_CHUNK ? channels - c0 : POOL_CHUNK;
        const float* s = scale + (size_t)b * channels + c0;
        double acc[POOL_CHUNK];
        for (int c = 0; c < width; c++) acc[c] = 0.0;
        for (int p = 0; p < hw; p++) {
            size_t base = ((size_t)b * hw + p) * channels + c0;
            const float* g = dout + base;
            const float* x = in + base;
            if (dscale)
                for (int c = 0; c < width; c++) acc[c] += (double)g[c] * (double)x[c];
            if (din)
                for (int c = 0; c < width; c++) din[base + c] = g[c] * s[c];
        }
        if (dscale)
            for (int c = 0; c < width; c++) dscale[(size_t)b * channels + c0 + c] = (float)acc[c];
    }
}
