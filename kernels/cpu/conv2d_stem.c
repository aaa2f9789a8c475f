// The one-input-channel dense conv (a grayscale stem) without im2col: its
// im2col GEMM has K = kernel * kernel (9), far too short for a GEMM to run
// well. Here every output pixel is bias + sum over taps of x_tap * w[:, tap],
// a loop over output channels (NHWC: contiguous) that the compiler
// vectorizes; the weight is used transposed, [tap][out_c], so that each tap's
// weights are contiguous too.
//
// Determinism as in conv2d.c: the forward and the input gradient compute each
// element by the same loop whatever the thread count (taps in ky, kx order,
// zero-padding taps skipped), so they are bit-identical for any ctx->threads;
// the weight and bias gradients are per-thread partial sums over a static
// share of images, added in thread order afterwards (deterministic for a
// given thread count).
#include <omp.h>
#include <string.h>

#include "conv2d_stem.h"

enum {
    PARALLEL_MIN_MACS = 1 << 18,  // below this a parallel region costs more than it saves
    IMAGES_PER_UNIT = 4,          // backward work unit: a few whole images
};

static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

static int stem_threads(const OpContext* ctx, const ConvShape* s) {
    long macs = (long)s->batch * conv_out_h(s) * conv_out_w(s) * s->out_c * s->kernel * s->kernel;
    return macs < PARALLEL_MIN_MACS || ctx->threads < 1 ? 1 : ctx->threads;
}

// Scratch: the transposed weight, then per thread a [tap][out_c] weight-
// gradient partial and an out_c bias-gradient partial.
static long taps_floats(const ConvShape* s) { return (long)s->kernel * s->kernel * s->out_c; }
static long thread_floats(const ConvShape* s) { return taps_floats(s) + s->out_c; }

size_t conv2d_stem_scratch_floats(const OpContext* ctx, const ConvShape* s) {
    long threads = ctx->threads < 1 ? 1 : ctx->threads;
    return (size_t)(taps_floats(s) + threads * thread_floats(s));
}

// wt[tap][o] = w[o][tap] (OHWI with in_c == 1 is [out_c][k * k]).
static void transpose_weight(const ConvShape* s, float* wt, const float* weight) {
    int taps = s->kernel * s->kernel;
    for (int t = 0; t < taps; t++)
        for (int o = 0; o < s->out_c; o++) wt[(long)t * s->out_c + o] = weight[(long)o * taps + t];
}

// The valid taps of output pixel (oy, ox): rows [ky0, ky1), columns [kx0, kx1).
typedef struct TapRange {
    int iy0, ix0, ky0, ky1, kx0, kx1;
} TapRange;

static TapRange tap_range(const ConvShape* s, int oy, int ox) {
    TapRange r;
    r.iy0 = oy * s->stride - s->pad;
    r.ix0 = ox * s->stride - s->pad;
    r.ky0 = max_int(0, -r.iy0);
    r.ky1 = min_int(s->kernel, s->in_h - r.iy0);
    r.kx0 = max_int(0, -r.ix0);
    r.kx1 = min_int(s->kernel, s->in_w - r.ix0);
    return r;
}

// out[o] of one output pixel of image `image` (already offset to the image).
static void forward_pixel(const ConvShape* s, float* restrict out, const float* image,
                          const float* restrict wt, const float* bias, int oy, int ox) {
    int out_c = s->out_c;
    for (int o = 0; o < out_c; o++) out[o] = bias ? bias[o] : 0.0f;
    TapRange r = tap_range(s, oy, ox);
    for (int ky = r.ky0; ky < r.ky1; ky++)
        for (int kx = r.kx0; kx < r.kx1; kx++) {
            float x = image[(long)(r.iy0 + ky) * s->in_w + r.ix0 + kx];
            const float* w = wt + (long)(ky * s->kernel + kx) * out_c;
            for (int o = 0; o < out_c; o++) out[o] += x * w[o];
        }
}

void conv2d_stem_forward(const OpContext* ctx, const ConvShape* s, float* out, const float* in,
                         const float* weight, const float* bias, float* scratch) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    float* wt = scratch;
    transpose_weight(s, wt, weight);
    long image_in = (long)s->in_h * s->in_w;
    // One task per output row of one image: independent, handed out
    // dynamically so a thread slowed by another process does less.
    #pragma omp parallel for num_threads(stem_threads(ctx, s)) schedule(dynamic, 4)
    for (long row = 0; row < (long)s->batch * out_h; row++) {
        int n = (int)(row / out_h), oy = (int)(row % out_h);
        float* o = out + row * out_w * s->out_c;
        for (int ox = 0; ox < out_w; ox++)
            forward_pixel(s, o + (long)ox * s->out_c, in + n * image_in, wt, bias, oy, ox);
    }
}

// One output pixel's share of the gradients: din taps (this unit's image),
// and this thread's [tap][out_c] weight and bias partials.
static void backward_pixel(const ConvShape* s, float* din_image, float* restrict dwt,
                           float* restrict dbias, const float* restrict dout, const float* image,
                           const float* restrict weight, int oy, int ox) {
    int out_c = s->out_c, taps = s->kernel * s->kernel;
    TapRange r = tap_range(s, oy, ox);
    if (dbias)
        for (int o = 0; o < out_c; o++) dbias[o] += dout[o];
    for (int ky = r.ky0; dwt && ky < r.ky1; ky++)
        for (int kx = r.kx0; kx < r.kx1; kx++) {
            float x = image[(long)(r.iy0 + ky) * s->in_w + r.ix0 + kx];
            float* d = dwt + (long)(ky * s->kernel + kx) * out_c;
            for (int o = 0; o < out_c; o++) d[o] += x * dout[o];
        }
    if (!din_image) return;
    // g[t] = sum over o (in o order) of dout[o] * w[o][t]: the loop over t
    // reads rows of the OHWI weight and vectorizes.
    float g[STEM_MAX_KERNEL * STEM_MAX_KERNEL] = {0};
    for (int o = 0; o < out_c; o++) {
        const float* w = weight + (long)o * taps;
        for (int t = 0; t < taps; t++) g[t] += dout[o] * w[t];
    }
    for (int ky = r.ky0; ky < r.ky1; ky++)
        for (int kx = r.kx0; kx < r.kx1; kx++)
            din_image[(long)(r.iy0 + ky) * s->in_w + r.ix0 + kx] += g[ky * s->kernel + kx];
}

// The images of one unit: din overwritten, partials accumulated.
static void backward_unit(const ConvShape* s, float* din, float* dwt, float* dbias,
                          const float* dout, const float* in, const float* weight, int unit) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    long image_in = (long)s->in_h * s->in_w;
    int first = unit * IMAGES_PER_UNIT, last = min_int(first + IMAGES_PER_UNIT, s->batch);
    for (int n = first; n < last; n++) {
        float* din_image = din ? din + n * image_in : NULL;
        if (din_image) memset(din_image, 0, (size_t)image_in * sizeof(float));
        const float* d = dout + (long)n * out_h * out_w * s->out_c;
        for (int oy = 0; oy < out_h; oy++)
            for (int ox = 0; ox < out_w; ox++)
                backward_pixel(s, din_image, dwt, dbias, d + ((long)oy * out_w + ox) * s->out_c,
                               in + n * image_in, weight, oy, ox);
    }
}

// dweight[o][t] += sum over threads (in order) of partial[t][o]; dbias alike.
static void add_partials(const ConvShape* s, float* dweight, float* dbias, const float* parts,
                         int count) {
    int taps = s->kernel * s->kernel;
    long stride = thread_floats(s);
    for (int o = 0; dweight && o < s->out_c; o++)
        for (int t = 0; t < taps; t++) {
            float sum = dweight[(long)o * taps + t];
            for (int p = 0; p < count; p++) sum += parts[p * stride + (long)t * s->out_c + o];
            dweight[(long)o * taps + t] = sum;
        }
    for (int o = 0; dbias && o < s->out_c; o++) {
        float sum = dbias[o];
        for (int p = 0; p < count; p++) sum += parts[p * stride + taps_floats(s) + o];
        dbias[o] = sum;
    }
}

void conv2d_stem_backward(const OpContext* ctx, const ConvShape* s, float* din, float* dweight,
                          float* dbias, const float* dout, const float* in, const float* weight,
                          float* scratch) {
    float* parts = scratch + taps_floats(s);
    int units = (s->batch + IMAGES_PER_UNIT - 1) / IMAGES_PER_UNIT, used = 1;
    #pragma omp parallel num_threads(stem_threads(ctx, s))
    {
        #pragma omp single
        used = omp_get_num_threads();
        float* dwt = dweight ? parts + omp_get_thread_num() * thread_floats(s) : NULL;
        float* db = dbias ? parts + omp_get_thread_num() * thread_floats(s) + taps_floats(s) : NULL;
        if (dwt) memset(dwt, 0, (size_t)taps_floats(s) * sizeof(float));
        if (db) memset(db, 0, (size_t)s->out_c * sizeof(float));
        #pragma omp for schedule(static)
        for (int u = 0; u < units; u++) backward_unit(s, din, dwt, db, dout, in, weight, u);
    }
    add_partials(s, dweight, dbias, parts, used);
}
