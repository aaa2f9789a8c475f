// Dense conv2d on the CPU: im2col of NHWC patches + gemm_f32 (oneDNN sgemm).
//
// The im2col matrix has one row per output pixel and k*k*in_c columns in
// [ky][kx][ci] order (kernels/shared/conv_body.h), which is one output
// channel of the OHWI weight, so out = col * W^T, dW += dout^T * col and
// din = col2im(dout * W). The matrix is never built for the whole batch: the
// output rows are cut into tiles (whole images, or bands of rows of one large
// image) of at most COL_TILE_FLOATS floats, each thread with its own tile
// buffer and single-threaded GEMMs (a threaded GEMM changes its blocking
// with the thread count, ours does not). The forward hands tiles out
// dynamically. The backward gives each thread a static share of work units
// (groups of images) and its own weight/bias-gradient partial sums, added in
// thread order afterwards; a unit owns its images' input gradient, so col2im
// scatter-adds without races. Forward output and input gradient go through
// the same GEMM calls whatever the thread count, so they are bit-identical for
// any ctx->threads; the weight and bias gradients are deterministic for a
// given thread count and agree within float32 rounding across counts.
// 1x1 stride-1 unpadded convs skip im2col: they are one GEMM (linear.c);
// one-input-channel convs (stems) too: direct loops (conv2d_stem.c).
#include <omp.h>
#include <string.h>

#include "conv2d_stem.h"
#include "cpu_ops.h"
#include "gemm.h"
#include "../shared/conv_body.h"

enum {
    COL_TILE_FLOATS = 1 << 19,        // 2 MB im2col tile per thread: fits in L2 + L3 slice
    TARGET_TILE_ROWS = 256,           // enough GEMM rows per tile to amortize a call
    PARALLEL_MIN_MACS = 1 << 18,      // below this a parallel region costs more than it saves
};

typedef struct ConvPlan {
    int out_h, out_w;
    long cols;            // k * k * in_c
    int images_per_unit;  // whole images per work unit
    int band_rows;        // output rows (oy) per tile when one image is split
    int units;
    long tile_rows;       // im2col rows of the largest tile
    int direct;           // 1x1, stride 1, pad 0: no im2col
} ConvPlan;

// The tiling depends only on the shape, never on the thread count, so each
// output element goes through the same GEMM call for any ctx->threads.
static ConvPlan conv_plan(const ConvShape* s) {
    ConvPlan p;
    p.out_h = conv_out_h(s);
    p.out_w = conv_out_w(s);
    p.cols = (long)s->kernel * s->kernel * s->in_c;
    p.direct = s->kernel == 1 && s->stride == 1 && s->pad == 0;
    long image_rows = (long)p.out_h * p.out_w;
    long image_floats = image_rows * p.cols;
    if (image_floats <= COL_TILE_FLOATS) {
        long by_budget = COL_TILE_FLOATS / (image_floats > 0 ? image_floats : 1);
        long by_rows = (TARGET_TILE_ROWS + image_rows - 1) / (image_rows > 0 ? image_rows : 1);
        long g = by_rows < by_budget ? by_rows : by_budget;
        if (g > s->batch) g = s->batch;
        p.images_per_unit = g < 1 ? 1 : (int)g;
        p.band_rows = p.out_h;
        p.tile_rows = (long)p.images_per_unit * image_rows;
    } else {
        long band = COL_TILE_FLOATS / ((long)p.out_w * p.cols);
        p.images_per_unit = 1;
        p.band_rows = band < 1 ? 1 : (int)band;
        p.tile_rows = (long)p.band_rows * p.out_w;
    }
    p.units = (s->batch + p.images_per_unit - 1) / p.images_per_unit;
    return p;
}

static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

// Threads for the im2col passes: one when the multiply-adds are too few to
// pay for waking the others.
static int pass_threads(const OpContext* ctx, const ConvShape* s, const ConvPlan* p) {
    long macs = (long)s->batch * p->out_h * p->out_w * s->out_c * p->cols;
    return macs < PARALLEL_MIN_MACS || ctx->threads < 1 ? 1 : ctx->threads;
}

// Per-thread scratch: im2col tile, weight-gradient and bias-gradient partials.
static long thread_scratch_floats(const ConvShape* s, const ConvPlan* p) {
    return p->tile_rows * p->cols + (long)s->out_c * p->cols + s->out_c;
}

size_t conv2d_scratch_floats(const OpContext* ctx, const ConvShape* s) {
    ConvPlan p = conv_plan(s);
    if (p.direct) return 0;
    if (conv2d_is_stem(s)) return conv2d_stem_scratch_floats(ctx, s);
    return (size_t)(ctx->threads < 1 ? 1 : ctx->threads) * (size_t)thread_scratch_floats(s, &p);
}

// A tile: output rows [row_begin, row_begin + rows) of the flattened batch.
typedef struct Tile {
    long row_begin, rows;
} Tile;

// Tile `index` of unit `unit`; returns 0 past the unit's last tile.
static int unit_tile(const ConvShape* s, const ConvPlan* p, int unit, int index, Tile* t) {
    long image_rows = (long)p->out_h * p->out_w;
    int first = unit * p->images_per_unit;
    if (p->band_rows == p->out_h) {  // whole images: one tile
        if (index > 0) return 0;
        int images = min_int(p->images_per_unit, s->batch - first);
        t->row_begin = first * image_rows;
        t->rows = images * image_rows;
        return 1;
    }
    int oy0 = index * p->band_rows;
    if (oy0 >= p->out_h) return 0;
    int oy1 = min_int(oy0 + p->band_rows, p->out_h);
    t->row_begin = first * image_rows + (long)oy0 * p->out_w;
    t->rows = (long)(oy1 - oy0) * p->out_w;
    return 1;
}

// col[r][(ky*k + kx)*in_c + ci] for the tile's rows; each (row, ky) is one
// contiguous run of the valid taps' pixels between zeros for the padding.
// Plain loops rather than memcpy/memset: runs are as short as 1 float (stem).
static void im2col_tile(const ConvShape* s, const ConvPlan* p, float* col, const float* in,
                        const Tile* t) {
    int k = s->kernel, in_c = s->in_c;
    long line = (long)k * in_c;  // floats of one ky
    for (long r = 0; r < t->rows; r++) {
        long row = t->row_begin + r;
        int ox = (int)(row % p->out_w), oy = (int)(row / p->out_w % p->out_h);
        int n = (int)(row / ((long)p->out_w * p->out_h));
        int iy0 = oy * s->stride - s->pad, ix0 = ox * s->stride - s->pad;
        long lo = (long)max_int(0, -ix0) * in_c, hi = (long)min_int(k, s->in_w - ix0) * in_c;
        float* dst = col + r * p->cols;
        for (int ky = 0; ky < k; ky++) {
            float* d = dst + ky * line;
            int iy = iy0 + ky;
            if (iy < 0 || iy >= s->in_h || hi <= lo) {
                for (long i = 0; i < line; i++) d[i] = 0.0f;
                continue;
            }
            // src[i] is tap i / in_c's channel i % in_c, valid for i in [lo, hi)
            const float* src = in + (((long)n * s->in_h + iy) * s->in_w) * in_c;
            long start = (long)ix0 * in_c;
            for (long i = 0; i < lo; i++) d[i] = 0.0f;
            for (long i = lo; i < hi; i++) d[i] = src[start + i];
            for (long i = hi; i < line; i++) d[i] = 0.0f;
        }
    }
}

// din += col2im(dcol) for the tile's rows, in scatter form: the tile's unit
// owns these input pixels, so no other thread writes them.
static void col2im_tile_add(const ConvShape* s, const ConvPlan* p, float* din, const float* dcol,
                            const Tile* t) {
    int k = s->kernel, in_c = s->in_c;
    for (long r = 0; r < t->rows; r++) {
        long row = t->row_begin + r;
        int ox = (int)(row % p->out_w), oy = (int)(row / p->out_w % p->out_h);
        int n = (int)(row / ((long)p->out_w * p->out_h));
        int iy0 = oy * s->stride - s->pad, ix0 = ox * s->stride - s->pad;
        int kx0 = max_int(0, -ix0), kx1 = min_int(k, s->in_w - ix0);
        const float* src_row = dcol + r * p->cols;
        for (int ky = max_int(0, -iy0); ky < min_int(k, s->in_h - iy0); ky++) {
            float* d = din + (((long)n * s->in_h + iy0 + ky) * s->in_w + ix0 + kx0) * in_c;
            const float* src = src_row + ((long)ky * k + kx0) * in_c;
            long len = (long)(kx1 - kx0) * in_c;
            for (long i = 0; i < len; i++) d[i] += src[i];
        }
    }
}

// out rows of the tile = col * W^T (+ bias).
static void forward_tile(const ConvShape* s, const ConvPlan* p, float* out, const float* in,
                         const float* weight, const float* bias, float* col, const Tile* t) {
    float* out_tile = out + t->row_begin * s->out_c;
    im2col_tile(s, p, col, in, t);
    float beta = 0.0f;
    if (bias) {
        for (long r = 0; r < t->rows; r++)
            memcpy(out_tile + r * s->out_c, bias, (size_t)s->out_c * sizeof(float));
        beta = 1.0f;
    }
    gemm_f32(0, 1, (int)t->rows, s->out_c, (int)p->cols, 1.0f, col, (int)p->cols, weight,
             (int)p->cols, beta, out_tile, s->out_c);
}

void conv2d_forward_cpu(const OpContext* ctx, const ConvShape* s, float* out, const float* in,
                        const float* weight, const float* bias, float* scratch) {
    ConvPlan p = conv_plan(s);
    if (p.direct) {
        linear_forward_cpu(ctx, out, in, weight, bias, s->batch * s->in_h * s->in_w, s->in_c,
                           s->out_c);
        return;
    }
    if (conv2d_is_stem(s)) {
        conv2d_stem_forward(ctx, s, out, in, weight, bias, scratch);
        return;
    }
    long per_thread = thread_scratch_floats(s, &p);
    int tiles_per_unit = (p.out_h + p.band_rows - 1) / p.band_rows;
    int tiles = p.units * tiles_per_unit;
    #pragma omp parallel num_threads(pass_threads(ctx, s, &p))
    {
        float* col = scratch + omp_get_thread_num() * per_thread;
        Tile t;
        // Tiles are independent: hand them out dynamically, so a thread slowed
        // by another process on its core does less.
        #pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < tiles; i++)
            if (unit_tile(s, &p, i / tiles_per_unit, i % tiles_per_unit, &t))
                forward_tile(s, &p, out, in, weight, bias, col, &t);
    }
}

// The gradients of one unit: its din images (overwritten), and this thread's
// dW / dbias partials (accumulated).
static void backward_unit(const ConvShape* s, const ConvPlan* p, float* din, float* dweight_part,
                          float* dbias_part, const float* dout, const float* in,
                          const float* weight, float* col, int unit) {
    int first = unit * p->images_per_unit;
    int images = min_int(p->images_per_unit, s->batch - first);
    long image_floats = (long)s->in_h * s->in_w * s->in_c;
    if (din) memset(din + first * image_floats, 0, (size_t)(images * image_floats) * sizeof(float));
    Tile t;
    for (int i = 0; unit_tile(s, p, unit, i, &t); i++) {
        const float* dout_tile = dout + t.row_begin * s->out_c;
        if (dweight_part) {  // dW[out_c][cols] += dout_tile^T * col
            im2col_tile(s, p, col, in, &t);
            gemm_f32(1, 0, s->out_c, (int)p->cols, (int)t.rows, 1.0f, dout_tile, s->out_c, col,
                     (int)p->cols, 1.0f, dweight_part, (int)p->cols);
        }
        if (dbias_part)
            for (long r = 0; r < t.rows; r++)
                for (int o = 0; o < s->out_c; o++) dbias_part[o] += dout_tile[r * s->out_c + o];
        if (din) {  // dcol[rows][cols] = dout_tile * W, reusing the col buffer
            gemm_f32(0, 0, (int)t.rows, (int)p->cols, s->out_c, 1.0f, dout_tile, s->out_c, weight,
                     (int)p->cols, 0.0f, col, (int)p->cols);
            col2im_tile_add(s, p, din, col, &t);
        }
    }
}

// grad[i] += partials[0][i] + partials[1][i] + ... in thread order.
static void add_partials(const OpContext* ctx, float* grad, const float* partials, long stride,
                         int count, long size) {
    #pragma omp parallel for num_threads(ctx->threads) schedule(static) if (size > 16384)
    for (long i = 0; i < size; i++) {
        float sum = grad[i];
        for (int t = 0; t < count; t++) sum += partials[t * stride + i];
        grad[i] = sum;
    }
}

void conv2d_backward_cpu(const OpContext* ctx, const ConvShape* s, float* din, float* dweight,
                         float* dbias, const float* dout, const float* in, const float* weight,
                         float* scratch) {
    ConvPlan p = conv_plan(s);
    if (p.direct) {
        linear_backward_cpu(ctx, din, dweight, dbias, dout, in, weight,
                            s->batch * s->in_h * s->in_w, s->in_c, s->out_c);
        return;
    }
    if (conv2d_is_stem(s)) {
        conv2d_stem_backward(ctx, s, din, dweight, dbias, dout, in, weight, scratch);
        return;
    }
    long per_thread = thread_scratch_floats(s, &p);
    long tile_floats = p.tile_rows * p.cols, dw_size = (long)s->out_c * p.cols;
    int used = 1;
    #pragma omp parallel num_threads(pass_threads(ctx, s, &p))
    {
        int t = omp_get_thread_num();
        #pragma omp single
        used = omp_get_num_threads();
        float* col = scratch + t * per_thread;
        float* dweight_part = dweight ? col + tile_floats : NULL;
        float* dbias_part = dbias ? col + tile_floats + dw_size : NULL;
        if (dweight_part) memset(dweight_part, 0, (size_t)dw_size * sizeof(float));
        if (dbias_part) memset(dbias_part, 0, (size_t)s->out_c * sizeof(float));
        #pragma omp for schedule(static)
        for (int u = 0; u < p.units; u++)
            backward_unit(s, &p, din, dweight_part, dbias_part, dout, in, weight, col, u);
    }
    if (dweight) add_partials(ctx, dweight, scratch + tile_floats, per_thread, used, dw_size);
    if (dbias) add_partials(ctx, dbias, scratch + tile_floats + dw_size, per_thread, used, s->out_c);
}
