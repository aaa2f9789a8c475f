// Channel concat and split, ShuffleNet channel shuffle and the residual add, NHWC.
// All are pure data movement (or one add) along the contiguous channel axis.
#include <stdint.h>
#include <string.h>

#include "cpu_ops.h"
#include "../shared/channel_body.h"

enum { CHANNEL_PARALLEL_MIN = 32768 };  // elements below which one thread is faster

static int channel_threads(const OpContext* ctx, int64_t elements) {
    return elements < CHANNEL_PARALLEL_MIN || ctx->threads < 1 ? 1 : ctx->threads;
}

// Its backward is split_channels_cpu.
void concat_channels_cpu(const OpContext* ctx, float* out, const float* a, const float* b,
                         int rows, int ca, int cb) {
    int threads = channel_threads(ctx, (int64_t)rows * (ca + cb));
    size_t width = (size_t)ca + cb;
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int r = 0; r < rows; r++) {
        memcpy(out + r * width, a + (size_t)r * ca, (size_t)ca * sizeof(float));
        memcpy(out + r * width + ca, b + (size_t)r * cb, (size_t)cb * sizeof(float));
    }
}

// a gets the first ca channels, b the last cb; NULL skips one. Its backward
// is concat_channels_cpu.
void split_channels_cpu(const OpContext* ctx, float* a, float* b, const float* in, int rows,
                        int ca, int cb) {
    int threads = channel_threads(ctx, (int64_t)rows * (ca + cb));
    size_t width = (size_t)ca + cb;
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int r = 0; r < rows; r++) {
        if (a) memcpy(a + (size_t)r * ca, in + r * width, (size_t)ca * sizeof(float));
        if (b) memcpy(b + (size_t)r * cb, in + r * width + ca, (size_t)cb * sizeof(float));
    }
}

// out must not alias in. groups must divide channels.
void channel_shuffle_cpu(const OpContext* ctx, float* out, const float* in, int rows,
                         int channels, int groups) {
    int threads = channel_threads(ctx, (int64_t)rows * channels);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int r = 0; r < rows; r++) {
        const float* x = in + (size_t)r * channels;
        float* y = out + (size_t)r * channels;
        for (int c = 0; c < channels; c++) y[c] = x[channel_shuffle_source(c, channels, groups)];
    }
}

void add_cpu(const OpContext* ctx, float* out, const float* a, const float* b, size_t n) {
    int threads = channel_threads(ctx, (int64_t)n);
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
