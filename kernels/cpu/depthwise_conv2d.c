// Depthwise convolution on the CPU: weight [k][k][C], NHWC activations.
//
// This op dominates the supernet's CPU time. Channels are innermost, in
// blocks of DW_BLOCK (one vector register: 16 floats with AVX-512, 8 with
// AVX2). For k = 3, 5, 7 and stride 1, 2 (the supernet's) a window kernel
// specialized at compile time computes groups of 8 output pixels x 2 channel
// blocks (1 with AVX2) in register accumulators: the k weight vectors of a window row
// sit in registers, each source vector is loaded once per row and feeds every
// (pixel, tap) that reads it, and source columns outside the map are skipped
// per group and column, so borders take the same path with no per-element
// branches. A row's channels go in chunks sized so their weights and source
// window stay in L1. Other kernels and strides use precomputed tap lists
// (source and weight offsets) with clipped lists for border pixels.
//
// Forward and input gradient are the same correlation: the stride-1 input
// gradient correlates dout with the flipped kernel (pad k-1-pad); strided
// input gradients gather each input pixel's taps by residue class. Both sum
// with fmaf in the order of kernels/shared/depthwise_body.h (forward:
// ascending taps; input gradient: ascending output pixels), so they equal the
// bodies the CUDA backend runs bit for bit. The weight gradient keeps one
// register accumulator per (kx, block) (specialized for k = 3, 5, 7) and sums
// each tap in ascending (row, ox) order within each of DW_GRAD_CHUNKS fixed
// row ranges, then adds the ranges' partial sums in order: bit-identical for
// any thread count, and equal to the body summed over the same ranges.
// Rows (and row ranges) are handed to threads dynamically, so a thread slowed
// by another process on its core does less.
#include <string.h>

#include "cpu_ops.h"
#include "../shared/depthwise_body.h"

// Register tiling per vector ISA. AVX-512 has 32 registers of 16 floats:
// blocks of 16 channels, window groups of 8 pixels x 2 blocks (16
// accumulators plus up to 14 weight vectors). AVX2 has 16 registers of 8
// floats: blocks of 8 channels, groups of 8 pixels x 1 block (8 + 7 + 1
// source), weight-gradient lines of one block; wider tiles spill every
// accumulator to the stack (measured 10x slower on a Zen3).
#if defined(__AVX512F__)
enum { DW_BLOCK = 16, DW_WINDOW_BLOCKS = 2, DW_GRAD_BLOCKS = 2 };
#else
enum { DW_BLOCK = 8, DW_WINDOW_BLOCKS = 1, DW_GRAD_BLOCKS = 1 };
#endif

enum {
    DW_PIXELS = 4,       // pixels per register group
    DW_CHAINS = 8,       // independent accumulators that hide the FMA latency
    DW_MAX_KERNEL = 15,  // larger kernels take the per-element bodies
    DW_MAX_TAPS = DW_MAX_KERNEL * DW_MAX_KERNEL,
    DW_PARALLEL_MIN_MACS = 1 << 17,  // below this a parallel region costs more than it saves
    DW_GRAD_CHUNKS = DEPTHWISE_GRAD_CHUNKS,  // fixed row ranges of the weight gradient
};

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int max_int(int a, int b) { return a > b ? a : b; }

// The context a pass runs with: one thread when its multiply-adds are too
// few to pay for waking the others.
static OpContext pass_context(const OpContext* ctx, const ConvShape* s) {
    long macs = (long)s->batch * conv_out_h(s) * conv_out_w(s) * s->in_c * s->kernel * s->kernel;
    OpContext run = *ctx;
    if (macs < DW_PARALLEL_MIN_MACS || run.threads < 1) run.threads = 1;
    return run;
}

// A channel block as a GCC vector. Locals of this type live in registers:
// plain float accumulator arrays get left in memory by GCC's vectorizer once
// a loop nest grows. fma_block is fmaf lane by lane (exactly the bodies'
// arithmetic), which GCC emits as one vector FMA; load/store via memcpy are
// plain unaligned vector moves.
typedef float vblock __attribute__((vector_size(DW_BLOCK * sizeof(float))));
typedef float vhalf __attribute__((vector_size(DW_BLOCK / 2 * sizeof(float))));

static inline vblock load_block(const float* p) {
    vblock v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store_block(float* p, vblock v) { memcpy(p, &v, sizeof v); }
static inline vblock fma_block(vblock a, vblock b, vblock c) {
    vblock r;
    for (int i = 0; i < DW_BLOCK; i++) r[i] = fmaf(a[i], b[i], c[i]);
    return r;
}
static inline vhalf load_half(const float* p) {
    vhalf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store_half(float* p, vhalf v) { memcpy(p, &v, sizeof v); }
static inline vhalf fma_half(vhalf a, vhalf b, vhalf c) {
    vhalf r;
    for (int i = 0; i < DW_BLOCK / 2; i++) r[i] = fmaf(a[i], b[i], c[i]);
    return r;
}

size_t depthwise_conv2d_scratch_floats(const OpContext* ctx, const ConvShape* s) {
    // One weight-gradient partial sum per chunk of rows (not per thread).
    return (size_t)DW_GRAD_CHUNKS * s->kernel * s->kernel * s->in_c;
}

// ---- correlation: the forward and the input gradient -------------------------

// out[o][c] = sum over taps of src[o * stride - pad + (ky, kx)][c] * w(ky, kx)[c]
// for an out_h x out_w map read from a src_h x src_w one; the forward with
// w(ky, kx) = weight[ky][kx], the stride-1 input gradient with the flipped
// weight[k-1-ky][k-1-kx].
typedef struct Correlation {
    int src_h, src_w, out_h, out_w, channels, k, stride, pad, flip;
} Correlation;

// The taps of one window as offsets (in floats) from a base pixel, in the
// order they are summed.
typedef struct Taps {
    int count;
    long src[DW_MAX_TAPS];
    long weight[DW_MAX_TAPS];
} Taps;

// Taps (ky, kx) in [ky0, ky1) x [kx0, kx1), ascending; the base pixel is the
// first tap's, (ky0, kx0).
static void correlation_taps(const Correlation* g, int ky0, int ky1, int kx0, int kx1, Taps* t) {
    int k = g->k;
    t->count = 0;
    for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++) {
            int wy = g->flip ? k - 1 - ky : ky, wx = g->flip ? k - 1 - kx : kx;
            t->src[t->count] = ((long)(ky - ky0) * g->src_w + (kx - kx0)) * g->channels;
            t->weight[t->count] = (long)(wy * k + wx) * g->channels;
            t->count++;
        }
}

// DW_PIXELS pixels (out_step / src_step floats apart), channel blocks
// [0, blocks): the accumulators of a block stay in registers over all taps.
__attribute__((noinline)) static void accumulate_group(float* out, long out_step,
                                                       const float* base, long src_step,
                                                       const float* weight, const Taps* t,
                                                       int blocks) {
    for (int b = 0; b < blocks; b++) {
        long c0 = (long)b * DW_BLOCK;
        vblock acc[DW_PIXELS] = {0};
        for (int i = 0; i < t->count; i++) {
            const float* src = base + t->src[i] + c0;
            vblock w = load_block(weight + t->weight[i] + c0);
            #pragma GCC unroll 16
            for (int j = 0; j < DW_PIXELS; j++)
                acc[j] = fma_block(load_block(src + j * src_step), w, acc[j]);
        }
        #pragma GCC unroll 16
        for (int j = 0; j < DW_PIXELS; j++) store_block(out + j * out_step + c0, acc[j]);
    }
}

// `nb` consecutive channel blocks of one pixel from c0: nb independent chains.
__attribute__((always_inline)) static inline void accumulate_pixel_blocks(
    float* out, const float* base, const float* weight, const Taps* t, long c0, const int nb) {
    vblock acc[DW_CHAINS] = {0};
    for (int i = 0; i < t->count; i++) {
        const float* src = base + t->src[i] + c0;
        const float* w = weight + t->weight[i] + c0;
        #pragma GCC unroll 16
        for (int q = 0; q < nb; q++)
            acc[q] = fma_block(load_block(src + q * DW_BLOCK), load_block(w + q * DW_BLOCK), acc[q]);
    }
    #pragma GCC unroll 16
    for (int q = 0; q < nb; q++) store_block(out + c0 + q * DW_BLOCK, acc[q]);
}

// Channels [c_begin, channels) of one pixel: as many blocks at a time as
// there are (up to DW_CHAINS chains), then a half block and single channels.
__attribute__((noinline)) static void accumulate_pixel(float* out, const float* base,
                                                       const float* weight, const Taps* t,
                                                       int c_begin, int channels) {
    long c0 = c_begin;
    for (; c0 + DW_CHAINS * DW_BLOCK <= channels; c0 += DW_CHAINS * DW_BLOCK)
        accumulate_pixel_blocks(out, base, weight, t, c0, DW_CHAINS);
    if (c0 + 4 * DW_BLOCK <= channels) {
        accumulate_pixel_blocks(out, base, weight, t, c0, 4);
        c0 += 4 * DW_BLOCK;
    }
    if (c0 + 2 * DW_BLOCK <= channels) {
        accumulate_pixel_blocks(out, base, weight, t, c0, 2);
        c0 += 2 * DW_BLOCK;
    }
    if (c0 + DW_BLOCK <= channels) {
        accumulate_pixel_blocks(out, base, weight, t, c0, 1);
        c0 += DW_BLOCK;
    }
    if (c0 + DW_BLOCK / 2 <= channels) {
        vhalf acc = {0};
        for (int i = 0; i < t->count; i++)
            acc = fma_half(load_half(base + t->src[i] + c0), load_half(weight + t->weight[i] + c0),
                           acc);
        store_half(out + c0, acc);
        c0 += DW_BLOCK / 2;
    }
    for (; c0 < channels; c0++) {
        float acc = 0.0f;
        for (int i = 0; i < t->count; i++)
            acc = fmaf(base[t->src[i] + c0], weight[t->weight[i] + c0], acc);
        out[c0] = acc;
    }
}

// Output columns [*lo, *hi) whose windows lie inside the source row.
static void interior_columns(const Correlation* g, int* lo, int* hi) {
    int last_start = g->src_w - g->k + g->pad;  // largest o * stride with a valid window
    *lo = g->pad <= 0 ? 0 : min_int((g->pad + g->stride - 1) / g->stride, g->out_w);
    *hi = last_start < 0 ? 0 : min_int(last_start / g->stride + 1, g->out_w);
    if (*hi < *lo) *hi = *lo;
}

// ---- the specialized window kernels (k = 3, 5, 7; stride 1, 2) ----------------

// A window row job: output row `out_row` from source rows [iy0 + ky0, +rows)
// (`src_rows` points at the first, column 0); weight (ky0 + r, kx) is at
// w0 + r * w_row + kx * w_tap (negative steps for the flipped kernel).
typedef struct WindowRow {
    float* out_row;
    const float* src_rows;
    const float* w0;
    long src_row_step, w_row, w_tap;
    int src_w, out_w, channels, pad, rows;
    int prefetch_rows;  // source rows after the window that the next output row reads
} WindowRow;

enum { WINDOW_MAX_K = 7, WINDOW_BLOCKS = DW_WINDOW_BLOCKS, WINDOW_PIXELS = 8 };

// px output pixels from column ox, channel blocks c0 .. c0 + nb: the k weight
// vectors of each window row sit in registers, each source vector is loaded
// once per row and feeds every (pixel, kx) that reads it, and columns outside
// the source are skipped (per group and column, never per element), so
// border pixels take the same path. Each pixel sums its taps in ascending
// (ky, kx) order, like the body. k, stride, px, nb are constants.
__attribute__((always_inline)) static inline void window_group(const WindowRow* a, int ox,
                                                               long c0, const int k,
                                                               const int stride, const int px,
                                                               const int nb) {
    int ix0 = ox * stride - a->pad;
    vblock acc[WINDOW_BLOCKS][WINDOW_PIXELS];
    #pragma GCC unroll 2
    for (int q = 0; q < nb; q++)
        #pragma GCC unroll 8
        for (int j = 0; j < px; j++) acc[q][j] = (vblock){0};
    for (int r = 0; r < a->rows; r++) {
        const float* src = a->src_rows + r * a->src_row_step + c0;
        const float* w_line = a->w0 + r * a->w_row + c0;
        vblock w[WINDOW_MAX_K][WINDOW_BLOCKS];
        #pragma GCC unroll 8
        for (int kx = 0; kx < k; kx++)
            #pragma GCC unroll 2
            for (int q = 0; q < nb; q++) w[kx][q] = load_block(w_line + kx * a->w_tap + q * DW_BLOCK);
        #pragma GCC unroll 32
        for (int p = 0; p < (px - 1) * stride + k; p++) {
            int ix = ix0 + p;
            if (ix < 0 || ix >= a->src_w) continue;
            #pragma GCC unroll 2
            for (int q = 0; q < nb; q++) {
                vblock x = load_block(src + (long)ix * a->channels + q * DW_BLOCK);
                #pragma GCC unroll 8
                for (int kx = 0; kx < k; kx++) {
                    int t = p - kx;  // pixel t / stride reads x through tap kx
                    if (t >= 0 && t % stride == 0 && t / stride < px)
                        acc[q][t / stride] = fma_block(x, w[kx][q], acc[q][t / stride]);
                }
            }
        }
    }
    float* out = a->out_row + (long)ox * a->channels + c0;
    #pragma GCC unroll 2
    for (int q = 0; q < nb; q++)
        #pragma GCC unroll 8
        for (int j = 0; j < px; j++)
            store_block(out + (long)j * a->channels + q * DW_BLOCK, acc[q][j]);
}

// `blocks` channel blocks from channel c0 of the px-pixel group at ox, in
// pairs.
__attribute__((always_inline)) static inline void window_group_blocks(
    const WindowRow* a, int ox, long c0, int blocks, const int k, const int stride,
    const int px) {
    // k = 3 does too little arithmetic per byte to hide memory latency: start
    // loading the source columns that this group's successor row will read.
    int ix0 = max_int(0, ox * stride - a->pad), ix1 = min_int(a->src_w, ix0 + px * stride);
    for (int r = 0; k <= 3 && r < a->prefetch_rows; r++) {
        const float* next = a->src_rows + (a->rows + r) * a->src_row_step + c0;
        for (int ix = ix0; ix < ix1; ix++)
            for (int b = 0; b < blocks; b++)
                __builtin_prefetch(next + (long)ix * a->channels + (long)b * DW_BLOCK);
    }
    int b = 0;
    for (; b + WINDOW_BLOCKS <= blocks; b += WINDOW_BLOCKS)
        window_group(a, ox, c0 + (long)b * DW_BLOCK, k, stride, px, WINDOW_BLOCKS);
    if (b < blocks) window_group(a, ox, c0 + (long)b * DW_BLOCK, k, stride, px, 1);
}

// `blocks` channel blocks from channel c0 of a whole output row (out_w >= 4),
// group by group: groups of 8 pixels, then the rest as one group of exactly
// 7, 6 or 4 pixels (the supernet's widths 28, 14, 7, 4 leave no other), or
// else one group of 4 ending at the row's end, overlapping pixels that are
// recomputed identically.
__attribute__((always_inline)) static inline void window_blocks(const WindowRow* a, long c0,
                                                                int blocks, const int k,
                                                                const int stride) {
    int out_w = a->out_w, ox = 0;
    for (; ox + WINDOW_PIXELS <= out_w; ox += WINDOW_PIXELS)
        window_group_blocks(a, ox, c0, blocks, k, stride, WINDOW_PIXELS);
    switch (out_w - ox) {
    case 0: break;
    case 7: window_group_blocks(a, ox, c0, blocks, k, stride, 7); break;
    case 6: window_group_blocks(a, ox, c0, blocks, k, stride, 6); break;
    case 5: window_group_blocks(a, ox, c0, blocks, k, stride, 4); ox += 4;  // fall through
    default: window_group_blocks(a, out_w - 4, c0, blocks, k, stride, 4);
    }
}

// A whole output row (out_w >= 4, channels >= DW_BLOCK). The channels go in
// chunks small enough that a chunk's weights and source window stay in L1
// while its groups sweep the row (8 blocks for k = 3, block pairs for k = 7);
// channels past the last whole block are covered by one more block ending at
// the last channel (its overlap with the previous block is recomputed
// identically).
__attribute__((always_inline)) static inline void window_row(const WindowRow* a, const int k,
                                                             const int stride) {
    enum { L1_FLOATS = 6144 };  // 24 KB: half of a 48 KB L1, the rest streams through
    int window_floats = k * ((WINDOW_PIXELS - 1) * stride + k) + k * k;  // per channel
    int chunk = L1_FLOATS / window_floats / DW_BLOCK / WINDOW_BLOCKS * WINDOW_BLOCKS;
    if (chunk < WINDOW_BLOCKS) chunk = WINDOW_BLOCKS;
    int blocks = a->channels / DW_BLOCK;
    for (int b0 = 0; b0 < blocks; b0 += chunk)
        window_blocks(a, (long)b0 * DW_BLOCK, min_int(chunk, blocks - b0), k, stride);
    if (blocks * DW_BLOCK < a->channels)
        window_blocks(a, a->channels - DW_BLOCK, 1, k, stride);
}

typedef void (*WindowRowFn)(const WindowRow* a);

#define WINDOW_ROW(K, S)                                                                 \
    __attribute__((noinline)) static void window_row_k##K##_s##S(const WindowRow* a) { \
        window_row(a, K, S);                                                             \
    }
WINDOW_ROW(3, 1)
WINDOW_ROW(5, 1)
WINDOW_ROW(7, 1)
WINDOW_ROW(3, 2)
WINDOW_ROW(5, 2)
WINDOW_ROW(7, 2)
#undef WINDOW_ROW

// The specialized row kernel of (k, stride), or NULL.
static WindowRowFn window_row_fn(int k, int stride) {
    static const WindowRowFn by_k[2][3] = {
        {window_row_k3_s1, window_row_k5_s1, window_row_k7_s1},
        {window_row_k3_s2, window_row_k5_s2, window_row_k7_s2},
    };
    if (stride < 1 || stride > 2 || k < 3 || k > 7 || k % 2 == 0) return NULL;
    return by_k[stride - 1][(k - 3) / 2];
}

// ---- correlation rows ------------------------------------------------------------

// Channels [c_begin, channels) of one output pixel whose window may be
// clipped by the source's borders.
static void correlate_pixel(const Correlation* g, float* out_row, const float* src_img,
                            const float* weight, int iy0, int ky0, int ky1, int ox, int c_begin) {
    int k = g->k, channels = g->channels;
    int ix0 = ox * g->stride - g->pad;
    int kx0 = max_int(0, -ix0), kx1 = min_int(k, g->src_w - ix0);
    float* out = out_row + (long)ox * channels;
    if (kx0 >= kx1) {
        memset(out + c_begin, 0, (size_t)(channels - c_begin) * sizeof(float));
        return;
    }
    Taps taps;
    correlation_taps(g, ky0, ky1, kx0, kx1, &taps);
    const float* base = src_img + ((long)(iy0 + ky0) * g->src_w + ix0 + kx0) * channels;
    accumulate_pixel(out, base, weight, &taps, c_begin, channels);
}

// One output row: the specialized window kernel when there is one, else
// border pixels one by one and the interior [lo, hi) in groups.
static void correlate_row(const Correlation* g, float* out_row, const float* src_img,
                          const float* weight, int oy, const Taps* interior, int lo, int hi) {
    int k = g->k, channels = g->channels, stride = g->stride;
    int iy0 = oy * stride - g->pad;
    int ky0 = max_int(0, -iy0), ky1 = min_int(k, g->src_h - iy0);
    if (ky0 >= ky1) {  // the window lies in the padding
        memset(out_row, 0, (size_t)g->out_w * channels * sizeof(float));
        return;
    }
    int blocks = channels / DW_BLOCK;
    WindowRowFn window =
        g->out_w >= WINDOW_PIXELS / 2 && channels >= DW_BLOCK ? window_row_fn(k, stride) : NULL;
    if (window) {
        int wy = g->flip ? k - 1 - ky0 : ky0, wx = g->flip ? k - 1 : 0;
        WindowRow a = {
            .out_row = out_row,
            .src_rows = src_img + (long)(iy0 + ky0) * g->src_w * channels,
            .w0 = weight + (long)(wy * k + wx) * channels,
            .src_row_step = (long)g->src_w * channels,
            .w_row = (g->flip ? -k : k) * (long)channels,
            .w_tap = g->flip ? -(long)channels : channels,
            .src_w = g->src_w,
            .out_w = g->out_w,
            .channels = channels,
            .pad = g->pad,
            .rows = ky1 - ky0,
            .prefetch_rows = max_int(0, min_int(stride, g->src_h - (iy0 + ky1))),
        };
        window(&a);
        return;
    }
    for (int ox = 0; ox < g->out_w;) {
        int ix0 = ox * stride - g->pad;
        if (ox >= lo && ox + DW_PIXELS <= hi) {
            const float* base = src_img + ((long)(iy0 + ky0) * g->src_w + ix0) * channels;
            float* out = out_row + (long)ox * channels;
            long src_step = (long)stride * channels;
            accumulate_group(out, channels, base, src_step, weight, interior, blocks);
            if (blocks * DW_BLOCK < channels)
                for (int j = 0; j < DW_PIXELS; j++)
                    accumulate_pixel(out + j * channels, base + j * src_step, weight, interior,
                                     blocks * DW_BLOCK, channels);
            ox += DW_PIXELS;
            continue;
        }
        correlate_pixel(g, out_row, src_img, weight, iy0, ky0, ky1, ox, 0);
        ox++;
    }
}

static void correlate(const OpContext* ctx, const Correlation* g, int batch, float* out,
                      const float* src, const float* weight) {
    int lo, hi;
    interior_columns(g, &lo, &hi);
    long rows = (long)batch * g->out_h;
    long src_image = (long)g->src_h * g->src_w * g->channels;
    long out_row_floats = (long)g->out_w * g->channels;
    #pragma omp parallel num_threads(ctx->threads)
    {
        Taps interior;
        int last_ky0 = -1, last_ky1 = -1;
        // Rows are independent: hand them out dynamically, so a thread slowed
        // by another process on its core does less.
        #pragma omp for schedule(dynamic, 4)
        for (long row = 0; row < rows; row++) {
            int n = (int)(row / g->out_h), oy = (int)(row % g->out_h);
            int iy0 = oy * g->stride - g->pad;
            int ky0 = max_int(0, -iy0), ky1 = min_int(g->k, g->src_h - iy0);
            if (ky0 != last_ky0 || ky1 != last_ky1) {  // rows share lists away from borders
                correlation_taps(g, ky0, ky1, 0, g->k, &interior);
                last_ky0 = ky0;
                last_ky1 = ky1;
            }
            correlate_row(g, out + row * out_row_floats, src + n * src_image, weight, oy,
                          &interior, lo, hi);
        }
    }
}

// ---- strided input gradient: gather by residue class ---------------------------

// The taps kt in [0, k) through which output positions o in [0, out) read
// input position i: t - kt divisible by stride, with t = i + pad. Returns
// their count; the taps are *first, *first + stride, ...
static inline int gather_tap_range(int i, int pad, int stride, int k, int out, int* first) {
    int t = i + pad;
    int lo = max_int(0, t - (out - 1) * stride);
    int hi = min_int(k - 1, t);
    if (lo > hi) return 0;
    int f = lo + (t - lo) % stride;
    *first = f;
    return f > hi ? 0 : (hi - f) / stride + 1;
}

// The taps of input pixel (iy, ix) in descending (ky, kx) order, that is in
// ascending output pixel order, as offsets from its lowest output pixel
// (*oy_base, *ox_base).
static void gather_taps(const ConvShape* s, int out_h, int out_w, int iy, int ix, Taps* t,
                        int* oy_base, int* ox_base) {
    int k = s->kernel, stride = s->stride, channels = s->in_c;
    int fy = 0, fx = 0;
    int ny = gather_tap_range(iy, s->pad, stride, k, out_h, &fy);
    int nx = gather_tap_range(ix, s->pad, stride, k, out_w, &fx);
    t->count = 0;
    if (ny == 0 || nx == 0) return;
    int ky_last = fy + (ny - 1) * stride, kx_last = fx + (nx - 1) * stride;
    *oy_base = (iy + s->pad - ky_last) / stride;
    *ox_base = (ix + s->pad - kx_last) / stride;
    for (int a = ny - 1; a >= 0; a--)
        for (int b = nx - 1; b >= 0; b--) {
            int ky = fy + a * stride, kx = fx + b * stride;
            int dy = (iy + s->pad - ky) / stride - *oy_base;
            int dx = (ix + s->pad - kx) / stride - *ox_base;
            t->src[t->count] = ((long)dy * out_w + dx) * channels;
            t->weight[t->count] = (long)(ky * k + kx) * channels;
            t->count++;
        }
}

// Input column ix gets every tap of its residue class exactly when
// k - stride <= ix + pad <= out_w * stride - 1: full columns form an interval.
static inline int gather_column_full(const ConvShape* s, int out_w, int ix) {
    int t = ix + s->pad;
    return t >= s->kernel - s->stride && t <= out_w * s->stride - 1;
}

static void strided_input_grad_row(const ConvShape* s, int out_h, int out_w, float* din_row,
                                   const float* dout_img, const float* weight, int iy) {
    int channels = s->in_c, stride = s->stride, blocks = channels / DW_BLOCK;
    int group = DW_PIXELS * stride;  // DW_PIXELS pixels of each residue class
    Taps taps;
    int oy_base = 0, ox_base = 0;
    for (int ix = 0; ix < s->in_w;) {
        if (ix + group <= s->in_w && gather_column_full(s, out_w, ix) &&
            gather_column_full(s, out_w, ix + group - 1)) {
            // Pixel ix + r + j * stride reads output column ox_base(r) + j.
            for (int r = 0; r < stride; r++) {
                gather_taps(s, out_h, out_w, iy, ix + r, &taps, &oy_base, &ox_base);
                const float* base = dout_img + ((long)oy_base * out_w + ox_base) * channels;
                float* out = din_row + (long)(ix + r) * channels;
                long out_step = (long)stride * channels;
                if (taps.count == 0) {
                    for (int j = 0; j < DW_PIXELS; j++)
                        memset(out + j * out_step, 0, (size_t)channels * sizeof(float));
                    continue;
                }
                accumulate_group(out, out_step, base, channels, weight, &taps, blocks);
                if (blocks * DW_BLOCK < channels)
                    for (int j = 0; j < DW_PIXELS; j++)
                        accumulate_pixel(out + j * out_step, base + (long)j * channels, weight,
                                         &taps, blocks * DW_BLOCK, channels);
            }
            ix += group;
            continue;
        }
        gather_taps(s, out_h, out_w, iy, ix, &taps, &oy_base, &ox_base);
        float* out = din_row + (long)ix * channels;
        if (taps.count == 0)
            memset(out, 0, (size_t)channels * sizeof(float));
        else
            accumulate_pixel(out, dout_img + ((long)oy_base * out_w + ox_base) * channels, weight,
                             &taps, 0, channels);
        ix++;
    }
}

// ---- per-element fallback for kernels larger than DW_MAX_KERNEL ----------------

static void forward_by_elements(const OpContext* ctx, const ConvShape* s, float* out,
                                const float* in, const float* weight) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s), channels = s->in_c;
    long rows = (long)s->batch * out_h;
    #pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (long row = 0; row < rows; row++)
        for (int ox = 0; ox < out_w; ox++)
            for (int c = 0; c < channels; c++)
                out[(row * out_w + ox) * channels + c] = depthwise_forward_element(
                    s, in, weight, (int)(row / out_h), (int)(row % out_h), ox, c);
}

static void input_grad_by_elements(const OpContext* ctx, const ConvShape* s, float* din,
                                   const float* dout, const float* weight) {
    int channels = s->in_c;
    long rows = (long)s->batch * s->in_h;
    #pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (long row = 0; row < rows; row++)
        for (int ix = 0; ix < s->in_w; ix++)
            for (int c = 0; c < channels; c++)
                din[(row * s->in_w + ix) * channels + c] = depthwise_input_grad_element(
                    s, dout, weight, (int)(row / s->in_h), (int)(row % s->in_h), ix, c);
}

// ---- entry points: forward and input gradient ------------------------------------

void depthwise_conv2d_forward_cpu(const OpContext* caller, const ConvShape* s, float* out,
                                  const float* in, const float* weight) {
    OpContext run = pass_context(caller, s);
    const OpContext* ctx = &run;
    if (s->kernel > DW_MAX_KERNEL) {
        forward_by_elements(ctx, s, out, in, weight);
        return;
    }
    Correlation g = {s->in_h, s->in_w, conv_out_h(s), conv_out_w(s), s->in_c,
                     s->kernel, s->stride, s->pad, 0};
    correlate(ctx, &g, s->batch, out, in, weight);
}

static void input_grad(const OpContext* ctx, const ConvShape* s, float* din, const float* dout,
                       const float* weight) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    if (s->kernel > DW_MAX_KERNEL) {
        input_grad_by_elements(ctx, s, din, dout, weight);
    } else if (s->stride == 1) {
        // din = dout correlated with the flipped kernel, padded k - 1 - pad.
        Correlation g = {out_h, out_w, s->in_h, s->in_w, s->in_c,
                         s->kernel, 1, s->kernel - 1 - s->pad, 1};
        correlate(ctx, &g, s->batch, din, dout, weight);
    } else {
        long rows = (long)s->batch * s->in_h, out_image = (long)out_h * out_w * s->in_c;
        #pragma omp parallel for num_threads(ctx->threads) schedule(dynamic, 4)
        for (long row = 0; row < rows; row++)
            strided_input_grad_row(s, out_h, out_w, din + row * s->in_w * s->in_c,
                                   dout + (row / s->in_h) * out_image, weight,
                                   (int)(row % s->in_h));
    }
}

// ---- weight gradient ----------------------------------------------------------

// partial[kx][c0 .. c0 + nb blocks) += sum over ox of dout_row[ox] *
// in_line[ox * stride - pad + kx], every kx at once: k * nb independent
// register chains, each tap summed in ascending ox. Only lanes from
// `keep_from` on are stored (the ragged last block overlaps the previous
// one; its other lanes are computed and dropped). k and nb are constants.
__attribute__((always_inline)) static inline void weight_grad_line(
    const ConvShape* s, int out_w, float* partial, const float* dout_row, const float* in_line,
    long c0, int keep_from, const int k, const int nb) {
    enum { MAX_K = 7, MAX_NB = 2 };
    long channels = s->in_c;
    vblock acc[MAX_K][MAX_NB];
    #pragma GCC unroll 8
    for (int kx = 0; kx < k; kx++)
        #pragma GCC unroll 2
        for (int q = 0; q < nb; q++)
            acc[kx][q] = load_block(partial + kx * channels + c0 + q * DW_BLOCK);
    for (int ox = 0; ox < out_w; ox++) {
        int ix0 = ox * s->stride - s->pad;
        vblock d[MAX_NB];
        #pragma GCC unroll 2
        for (int q = 0; q < nb; q++) d[q] = load_block(dout_row + ox * channels + c0 + q * DW_BLOCK);
        if (ix0 >= 0 && ix0 + k <= s->in_w) {
            const float* x = in_line + ix0 * channels + c0;
            #pragma GCC unroll 8
            for (int kx = 0; kx < k; kx++)
                #pragma GCC unroll 2
                for (int q = 0; q < nb; q++)
                    acc[kx][q] = fma_block(d[q], load_block(x + kx * channels + q * DW_BLOCK),
                                           acc[kx][q]);
        } else {
            #pragma GCC unroll 8
            for (int kx = 0; kx < k; kx++) {
                if (ix0 + kx < 0 || ix0 + kx >= s->in_w) continue;  // per pixel and tap
                const float* x = in_line + (ix0 + kx) * channels + c0;
                #pragma GCC unroll 2
                for (int q = 0; q < nb; q++)
                    acc[kx][q] = fma_block(d[q], load_block(x + q * DW_BLOCK), acc[kx][q]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int kx = 0; kx < k; kx++)
        #pragma GCC unroll 2
        for (int q = 0; q < nb; q++) {
            float* p = partial + kx * channels + c0 + q * DW_BLOCK;
            if (keep_from == 0) {
                store_block(p, acc[kx][q]);
            } else {
                for (int c = keep_from; c < DW_BLOCK; c++) p[c] = acc[kx][q][c];
            }
        }
}

// Channels [c_begin, channels), any k: one tap at a time, same order.
static void weight_grad_line_generic(const ConvShape* s, int out_w, float* partial,
                                     const float* dout_row, const float* in_line, int c_begin) {
    int k = s->kernel, channels = s->in_c, stride = s->stride;
    for (int c0 = c_begin; c0 < channels; c0 += DW_BLOCK) {
        int width = min_int(DW_BLOCK, channels - c0);
        for (int kx = 0; kx < k; kx++) {
            float acc[DW_BLOCK];
            float* p = partial + (long)kx * channels + c0;
            for (int c = 0; c < width; c++) acc[c] = p[c];
            for (int ox = 0; ox < out_w; ox++) {
                int ix = ox * stride - s->pad + kx;
                if (ix < 0 || ix >= s->in_w) continue;
                const float* d = dout_row + (long)ox * channels + c0;
                const float* x = in_line + (long)ix * channels + c0;
                for (int c = 0; c < width; c++) acc[c] = fmaf(d[c], x[c], acc[c]);
            }
            for (int c = 0; c < width; c++) p[c] = acc[c];
        }
    }
}

// One (row, ky) pair, every kx and channel, for a constant k (channels >=
// DW_BLOCK): block pairs (AVX-512) or single blocks, then the ragged end.
__attribute__((always_inline)) static inline void weight_grad_line_all(
    const ConvShape* s, int out_w, float* partial, const float* dout_row, const float* in_line,
    const int k) {
    int channels = s->in_c, blocks = channels / DW_BLOCK, b = 0;
    for (; DW_GRAD_BLOCKS == 2 && b + 2 <= blocks; b += 2)
        weight_grad_line(s, out_w, partial, dout_row, in_line, (long)b * DW_BLOCK, 0, k, 2);
    for (; b < blocks; b++)
        weight_grad_line(s, out_w, partial, dout_row, in_line, (long)b * DW_BLOCK, 0, k, 1);
    int ragged = channels - blocks * DW_BLOCK;
    if (ragged)
        weight_grad_line(s, out_w, partial, dout_row, in_line, channels - DW_BLOCK,
                         DW_BLOCK - ragged, k, 1);
}

// Out of line per k so each specialization keeps its chains in registers.
#define WEIGHT_GRAD_LINE_K(K)                                                                   \
    __attribute__((noinline)) static void weight_grad_line_k##K(                                \
        const ConvShape* s, int out_w, float* partial, const float* dout_row,                   \
        const float* in_line) {                                                                 \
        weight_grad_line_all(s, out_w, partial, dout_row, in_line, K);                          \
    }
WEIGHT_GRAD_LINE_K(3)
WEIGHT_GRAD_LINE_K(5)
WEIGHT_GRAD_LINE_K(7)
#undef WEIGHT_GRAD_LINE_K

static void weight_grad_rows(const ConvShape* s, int out_h, int out_w, float* partial,
                             const float* dout, const float* in, long row_begin, long row_end) {
    int k = s->kernel, channels = s->in_c;
    for (long row = row_begin; row < row_end; row++) {
        int n = (int)(row / out_h), oy = (int)(row % out_h);
        int iy0 = oy * s->stride - s->pad;
        const float* dout_row = dout + row * out_w * channels;
        for (int ky = max_int(0, -iy0); ky < min_int(k, s->in_h - iy0); ky++) {
            const float* in_line = in + (((long)n * s->in_h + iy0 + ky) * s->in_w) * channels;
            float* p = partial + (long)ky * k * channels;
            if (channels < DW_BLOCK) {
                weight_grad_line_generic(s, out_w, p, dout_row, in_line, 0);
                continue;
            }
            switch (k) {
            case 3: weight_grad_line_k3(s, out_w, p, dout_row, in_line); break;
            case 5: weight_grad_line_k5(s, out_w, p, dout_row, in_line); break;
            case 7: weight_grad_line_k7(s, out_w, p, dout_row, in_line); break;
            default: weight_grad_line_generic(s, out_w, p, dout_row, in_line, 0);
            }
        }
    }
}

// dweight[i] += partials[0][i] + partials[1][i] + ... (in chunk order).
static void reduce_partials(const OpContext* ctx, float* dweight, const float* partials,
                            long size) {
    #pragma omp parallel for num_threads(ctx->threads) schedule(static) if (size > 4096)
    for (long i = 0; i < size; i++) {
        float sum = partials[i];
        for (int c = 1; c < DW_GRAD_CHUNKS; c++) sum += partials[c * size + i];
        dweight[i] += sum;
    }
}

// The output rows are cut into DW_GRAD_CHUNKS fixed ranges, each summed into
// its own partial (any thread may take any chunk), then the partials are
// added in chunk order: bit-identical for any thread count.
static void weight_grad(const OpContext* ctx, const ConvShape* s, float* dweight,
                        const float* dout, const float* in, float* scratch) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    long size = (long)s->kernel * s->kernel * s->in_c, rows = (long)s->batch * out_h;
    #pragma omp parallel for num_threads(ctx->threads) schedule(dynamic, 1)
    for (int c = 0; c < DW_GRAD_CHUNKS; c++) {
        float* partial = scratch + c * size;
        memset(partial, 0, (size_t)size * sizeof(float));
        weight_grad_rows(s, out_h, out_w, partial, dout, in, depthwise_grad_chunk_begin(rows, c),
                         depthwise_grad_chunk_begin(rows, c + 1));
    }
    reduce_partials(ctx, dweight, scratch, size);
}

void depthwise_conv2d_backward_cpu(const OpContext* caller, const ConvShape* s, float* din,
                                   float* dweight, const float* dout, const float* in,
                                   const float* weight, float* scratch) {
    OpContext run = pass_context(caller, s);
    if (din) input_grad(&run, s, din, dout, weight);
    if (dweight) weight_grad(&run, s, dweight, dout, in, scratch);
}
