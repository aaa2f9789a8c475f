// Pointwise (1x1) conv and linear through gemm_f32 (gemm.h, oneDNN): with
// NHWC activations a pointwise conv is the GEMM out[rows][out_f] =
// in[rows][in_f] * W^T, W [out_f][in_f] row-major, rows = N*H*W.
//
// Threading is ours, not the GEMM library's: every GEMM is cut into fixed
// chunks (rows of the output, or columns of the weight gradient) that are each
// one single-threaded gemm_f32 call, handed out to ctx->threads dynamically (a
// thread slowed by another process on its core does less). The chunks do not
// depend on the thread count or on who runs them, so every result is
// bit-identical for any ctx->threads (a threaded GEMM changes its blocking,
// and so the rounding, with the thread count), and no second team of threads
// competes with ours (gemm.c keeps oneDNN on the calling thread).
#include "cpu_ops.h"
#include "gemm.h"

enum {
    ROW_CHUNK = 2048,                // rows per GEMM of the forward and input gradient
    WEIGHT_GRAD_CHUNKS = 4,          // column chunks of the weight gradient (each rereads
                                     // the smaller operand, so few)
    PARALLEL_MIN_FLOATS = 1 << 16,   // below this one thread does it all
};

static int min_int(int a, int b) { return a < b ? a : b; }

static int pass_threads(const OpContext* ctx, int rows, int in_f, int out_f) {
    long floats = (long)rows * (in_f + out_f);
    return floats < PARALLEL_MIN_FLOATS || ctx->threads < 1 ? 1 : ctx->threads;
}

void linear_forward_cpu(const OpContext* ctx, float* out, const float* in, const float* weight,
                        const float* bias, int rows, int in_f, int out_f) {
    if (rows <= 0 || out_f <= 0) return;
    int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
    #pragma omp parallel for num_threads(pass_threads(ctx, rows, in_f, out_f)) schedule(dynamic, 1)
    for (int c = 0; c < chunks; c++) {
        int r0 = c * ROW_CHUNK, n = min_int(ROW_CHUNK, rows - r0);
        float* o = out + (long)r0 * out_f;
        float beta = 0.0f;
        if (bias) {  // the GEMM accumulates onto rows pre-filled with the bias
            for (int r = 0; r < n; r++)
                for (int j = 0; j < out_f; j++) o[(long)r * out_f + j] = bias[j];
            beta = 1.0f;
        }
        gemm_f32(0, 1, n, out_f, in_f, 1.0f, in + (long)r0 * in_f, in_f, weight, in_f, beta, o,
                 out_f);
    }
}

// din[rows][in_f] = dout[rows][out_f] * W[out_f][in_f], by row chunks.
static void input_grad(const OpContext* ctx, float* din, const float* dout, const float* weight,
                       int rows, int in_f, int out_f) {
    int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
    #pragma omp parallel for num_threads(pass_threads(ctx, rows, in_f, out_f)) schedule(dynamic, 1)
    for (int c = 0; c < chunks; c++) {
        int r0 = c * ROW_CHUNK, n = min_int(ROW_CHUNK, rows - r0);
        gemm_f32(0, 0, n, in_f, out_f, 1.0f, dout + (long)r0 * out_f, out_f, weight, in_f, 0.0f,
                 din + (long)r0 * in_f, in_f);
    }
}

// dW[out_f][in_f] += dout^T * in, a sum over all rows. Chunks split the larger
// of out_f / in_f (in multiples of 16 columns), so each chunk reads its share
// of the larger operand and all of the smaller one, and no partial sums are
// needed.
static void weight_grad(const OpContext* ctx, float* dweight, const float* dout, const float* in,
                        int rows, int in_f, int out_f) {
    int split_out = out_f >= in_f;
    int width = split_out ? out_f : in_f;
    int chunk = (width + WEIGHT_GRAD_CHUNKS * 16 - 1) / (WEIGHT_GRAD_CHUNKS * 16) * 16;
    int chunks = (width + chunk - 1) / chunk;
    #pragma omp parallel for num_threads(pass_threads(ctx, rows, in_f, out_f)) schedule(dynamic, 1)
    for (int c = 0; c < chunks; c++) {
        int j0 = c * chunk, n = min_int(chunk, width - j0);
        if (split_out)  // dW[j0 .. j0 + n][:] += dout[:, j0 .. j0 + n]^T * in
            gemm_f32(1, 0, n, in_f, rows, 1.0f, dout + j0, out_f, in, in_f, 1.0f,
                     dweight + (long)j0 * in_f, in_f);
        else  // dW[:][j0 .. j0 + n] += dout^T * in[:, j0 .. j0 + n]
            gemm_f32(1, 0, out_f, n, rows, 1.0f, dout, out_f, in + j0, in_f, 1.0f, dweight + j0,
                     in_f);
    }
}

// dbias[o] += sum over rows of dout[r][o], one channel block per task so each
// sum runs in row order whatever the thread count.
static void bias_grad(const OpContext* ctx, float* dbias, const float* dout, int rows,
                      int out_f) {
    enum { BLOCK = 16 };
    int blocks = (out_f + BLOCK - 1) / BLOCK;
    #pragma omp parallel for num_threads(pass_threads(ctx, rows, 0, out_f)) schedule(static)
    for (int b = 0; b < blocks; b++) {
        int o0 = b * BLOCK, width = min_int(BLOCK, out_f - o0);
        float sum[BLOCK] = {0};
        for (int r = 0; r < rows; r++) {
            const float* d = dout + (long)r * out_f + o0;
            for (int o = 0; o < width; o++) sum[o] += d[o];
        }
        for (int o = 0; o < width; o++) dbias[o0 + o] += sum[o];
    }
}

void linear_backward_cpu(const OpContext* ctx, float* din, float* dweight, float* dbias,
                         const float* dout, const float* in, const float* weight, int rows,
                         int in_f, int out_f) {
    if (rows <= 0) return;
    if (din) input_grad(ctx, din, dout, weight, rows, in_f, out_f);
    if (dweight) weight_grad(ctx, dweight, dout, in, rows, in_f, out_f);
    if (dbias) bias_grad(ctx, dbias, dout, rows, out_f);
}
