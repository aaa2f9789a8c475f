/*
Kernels for the depthwise conv2d (NHWC, weight [k][k][C]): forward and weight
gradient versions, validated against a CPU reference, then benchmarked.

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/depthwise_conv2d.cu -o depthwise_conv2d

Run: ./depthwise_conv2d [kernel 3|5|7] [stride 1|2] [channels]

forward version 1: one thread per output element, the taps in (ky, kx) order
    with fmaf (what kernels/cuda/depthwise_conv2d.cu runs, through
    kernels/shared/depthwise_body.h)
forward version 2: one thread per 4 channels with float4 loads (C % 4 == 0);
    same fmaf order per channel, so bit-identical to version 1
weight grad version 1: one thread per weight element over all rows (no
    scratch; too few threads for small C)
weight grad version 2: rows split into chunks, block (32 channels, 32 row
    lanes) with a shuffle reduction, double partials, a second pass adding the
    chunks in order (what kernels/cuda/reduce.cuh does); deterministic
*/
#include "common.h"

struct Shape {
    int batch, h, w, c, k, stride, pad, out_h, out_w;
};

// ---------------------------------------------------------------- CPU reference

static void forward_cpu(const Shape& s, float* out, const float* in, const float* w) {
    for (int n = 0; n < s.batch; n++)
        for (int oy = 0; oy < s.out_h; oy++)
            for (int ox = 0; ox < s.out_w; ox++)
                for (int c = 0; c < s.c; c++) {
                    float acc = 0.0f;
                    for (int ky = 0; ky < s.k; ky++)
                        for (int kx = 0; kx < s.k; kx++) {
                            int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                            acc = fmaf(in[(((size_t)n * s.h + iy) * s.w + ix) * s.c + c],
                                       w[(ky * s.k + kx) * s.c + c], acc);
                        }
                    out[(((size_t)n * s.out_h + oy) * s.out_w + ox) * s.c + c] = acc;
                }
}

static void weight_grad_cpu(const Shape& s, float* dw, const float* dout, const float* in) {
    for (int t = 0; t < s.k * s.k; t++)
        for (int c = 0; c < s.c; c++) {
            int ky = t / s.k, kx = t % s.k;
            double acc = 0.0;
            for (int n = 0; n < s.batch; n++)
                for (int oy = 0; oy < s.out_h; oy++)
                    for (int ox = 0; ox < s.out_w; ox++) {
                        int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                        if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                        acc += (double)dout[(((size_t)n * s.out_h + oy) * s.out_w + ox) * s.c + c] *
                               in[(((size_t)n * s.h + iy) * s.w + ix) * s.c + c];
                    }
            dw[t * s.c + c] = (float)acc;
        }
}

// ---------------------------------------------------------------- forward kernels

__global__ void forward_kernel1(Shape s, float* out, const float* in, const float* w) {
    size_t n_out = (size_t)s.batch * s.out_h * s.out_w * s.c;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_out) return;
    int c = (int)(i % s.c);
    size_t pixel = i / s.c;
    int ox = (int)(pixel % s.out_w), oy = (int)(pixel / s.out_w % s.out_h);
    int n = (int)(pixel / ((size_t)s.out_w * s.out_h));
    float acc = 0.0f;
    for (int ky = 0; ky < s.k; ky++) {
        int iy = oy * s.stride - s.pad + ky;
        if (iy < 0 || iy >= s.h) continue;
        for (int kx = 0; kx < s.k; kx++) {
            int ix = ox * s.stride - s.pad + kx;
            if (ix < 0 || ix >= s.w) continue;
            acc = fmaf(in[(((size_t)n * s.h + iy) * s.w + ix) * s.c + c],
                       w[(ky * s.k + kx) * s.c + c], acc);
        }
    }
    out[i] = acc;
}

__global__ void forward_kernel2(Shape s, float* out, const float* in, const float* w) {
    int c4 = s.c / 4;
    size_t n_out = (size_t)s.batch * s.out_h * s.out_w * c4;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_out) return;
    int c = (int)(i % c4) * 4;
    size_t pixel = i / c4;
    int ox = (int)(pixel % s.out_w), oy = (int)(pixel / s.out_w % s.out_h);
    int n = (int)(pixel / ((size_t)s.out_w * s.out_h));
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int ky = 0; ky < s.k; ky++) {
        int iy = oy * s.stride - s.pad + ky;
        if (iy < 0 || iy >= s.h) continue;
        for (int kx = 0; kx < s.k; kx++) {
            int ix = ox * s.stride - s.pad + kx;
            if (ix < 0 || ix >= s.w) continue;
            float4 x = *(const float4*)(in + (((size_t)n * s.h + iy) * s.w + ix) * s.c + c);
            float4 v = *(const float4*)(w + (ky * s.k + kx) * s.c + c);
            acc.x = fmaf(x.x, v.x, acc.x);
            acc.y = fmaf(x.y, v.y, acc.y);
            acc.z = fmaf(x.z, v.z, acc.z);
            acc.w = fmaf(x.w, v.w, acc.w);
        }
    }
    *(float4*)(out + pixel * s.c + c) = acc;
}

static void forward1(const Shape& s, float* out, const float* in, const float* w) {
    size_t n = (size_t)s.batch * s.out_h * s.out_w * s.c;
    LAUNCH_KERNEL(forward_kernel1, ceil_div((long)n, 256), 256, 0, 0, s, out, in, w);
    cudaCheck(cudaGetLastError());
}

static void forward2(const Shape& s, float* out, const float* in, const float* w) {
    size_t n = (size_t)s.batch * s.out_h * s.out_w * (s.c / 4);
    LAUNCH_KERNEL(forward_kernel2, ceil_div((long)n, 256), 256, 0, 0, s, out, in, w);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- weight-gradient kernels

// The contribution of output row (n, oy) to tap (ky, kx), channel c.
__device__ float weight_grad_row(const Shape& s, const float* dout, const float* in, int row,
                                 int ky, int kx, int c) {
    int n = row / s.out_h, oy = row % s.out_h;
    int iy = oy * s.stride - s.pad + ky;
    if (iy < 0 || iy >= s.h) return 0.0f;
    float acc = 0.0f;
    for (int ox = 0; ox < s.out_w; ox++) {
        int ix = ox * s.stride - s.pad + kx;
        if (ix < 0 || ix >= s.w) continue;
        acc = fmaf(dout[((size_t)row * s.out_w + ox) * s.c + c],
                   in[(((size_t)n * s.h + iy) * s.w + ix) * s.c + c], acc);
    }
    return acc;
}

__global__ void weight_grad_kernel1(Shape s, float* dw, const float* dout, const float* in) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= s.k * s.k * s.c) return;
    int t = col / s.c, c = col % s.c;
    double acc = 0.0;
    for (int row = 0; row < s.batch * s.out_h; row++)
        acc += weight_grad_row(s, dout, in, row, t / s.k, t % s.k, c);
    dw[col] = (float)acc;
}

__global__ void __launch_bounds__(1024)
    weight_grad_partials_kernel2(Shape s, double* partial, const float* dout, const float* in,
                                 int rows_per_chunk) {
    __shared__ double tile[32][33];
    int cols = s.k * s.k * s.c, rows = s.batch * s.out_h;
    int col = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
    double acc = 0.0;
    if (col < cols) {
        int t = col / s.c, c = col % s.c;
        for (int r = r0 + threadIdx.y; r < r1; r += 32)
            acc += weight_grad_row(s, dout, in, r, t / s.k, t % s.k, c);
    }
    tile[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    double v = tile[threadIdx.x][threadIdx.y];
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    int out_col = blockIdx.x * 32 + threadIdx.y;
    if (threadIdx.x == 0 && out_col < cols) partial[(size_t)blockIdx.y * cols + out_col] = v;
}

__global__ void weight_grad_finish_kernel2(float* dw, const double* partial, int chunks, int cols) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    double sum = 0.0;
    for (int ch = 0; ch < chunks; ch++) sum += partial[(size_t)ch * cols + col];
    dw[col] = (float)sum;
}

static double* g_partial;  // scratch of version 2, allocated once in main

static void weight_grad1(const Shape& s, float* dw, const float* dout, const float* in) {
    int cols = s.k * s.k * s.c;
    LAUNCH_KERNEL(weight_grad_kernel1, ceil_div(cols, 128), 128, 0, 0, s, dw, dout, in);
    cudaCheck(cudaGetLastError());
}

static void weight_grad2(const Shape& s, float* dw, const float* dout, const float* in) {
    int cols = s.k * s.k * s.c, rows = s.batch * s.out_h;
    int chunks = ceil_div(rows, 32);
    if (chunks > 1024) chunks = 1024;
    int rows_per_chunk = ceil_div(rows, chunks);
    chunks = ceil_div(rows, rows_per_chunk);
    dim3 grid(ceil_div(cols, 32), chunks), block(32, 32);
    LAUNCH_KERNEL(weight_grad_partials_kernel2, grid, block, 0, 0, s, g_partial, dout, in,
                  rows_per_chunk);
    cudaCheck(cudaGetLastError());
    LAUNCH_KERNEL(weight_grad_finish_kernel2, ceil_div(cols, 256), 256, 0, 0, dw, g_partial, chunks,
                  cols);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- main

int main(int argc, char** argv) {
    require_device("depthwise_conv2d");
    Shape s;
    s.batch = 64;
    s.h = s.w = 28;
    s.k = argc > 1 ? atoi(argv[1]) : 3;
    s.stride = argc > 2 ? atoi(argv[2]) : 1;
    s.c = argc > 3 ? atoi(argv[3]) : 96;
    s.pad = s.k / 2;
    s.out_h = (s.h + 2 * s.pad - s.k) / s.stride + 1;
    s.out_w = (s.w + 2 * s.pad - s.k) / s.stride + 1;
    printf("depthwise conv2d: batch %d, %dx%dx%d, k %d, stride %d\n", s.batch, s.h, s.w, s.c, s.k,
           s.stride);
    size_t in_n = (size_t)s.batch * s.h * s.w * s.c;
    size_t out_n = (size_t)s.batch * s.out_h * s.out_w * s.c;
    size_t w_n = (size_t)s.k * s.k * s.c;
    float* in = make_random_floats(in_n, 1, -1.0f, 1.0f);
    float* w = make_random_floats(w_n, 2, -1.0f, 1.0f);
    float* dout = make_random_floats(out_n, 3, -1.0f, 1.0f);
    float* out_ref = (float*)malloc(out_n * sizeof(float));
    float* dw_ref = (float*)malloc(w_n * sizeof(float));
    forward_cpu(s, out_ref, in, w);
    weight_grad_cpu(s, dw_ref, dout, in);

    float *d_in = to_device(in, in_n), *d_w = to_device(w, w_n), *d_dout = to_device(dout, out_n);
    float *d_out, *d_dw;
    cudaCheck(cudaMalloc(&d_out, out_n * sizeof(float)));
    cudaCheck(cudaMalloc(&d_dw, w_n * sizeof(float)));
    cudaCheck(cudaMalloc(&g_partial, (size_t)1024 * w_n * sizeof(double)));

    // Forward: same fmaf order as the reference, so bit-identical.
    forward1(s, d_out, d_in, d_w);
    validate_result(d_out, out_ref, "forward v1", out_n, 0.0f, 0.0f);
    if (s.c % 4 == 0) {
        forward2(s, d_out, d_in, d_w);
        validate_result(d_out, out_ref, "forward v2", out_n, 0.0f, 0.0f);
    }
    // Weight gradient: sums of batch*out_h*out_w unit products, per-row float
    // partials then double; the reference sums in double.
    float atol = 1e-6f * (float)(s.batch * s.out_h * s.out_w);
    weight_grad1(s, d_dw, d_dout, d_in);
    validate_result(d_dw, dw_ref, "weight grad v1", w_n, atol, 1e-5f);
    weight_grad2(s, d_dw, d_dout, d_in);
    validate_result(d_dw, dw_ref, "weight grad v2", w_n, atol, 1e-5f);
    printf("all results match\n\n");

    int repeats = 50;
    double bytes = (double)(in_n + out_n + w_n) * sizeof(float);
    float ms = benchmark_kernel(repeats, forward1, s, d_out, (const float*)d_in, (const float*)d_w);
    printf("forward v1      %8.4f ms  %7.1f GB/s\n", ms, bytes / ms / 1e6);
    if (s.c % 4 == 0) {
        ms = benchmark_kernel(repeats, forward2, s, d_out, (const float*)d_in, (const float*)d_w);
        printf("forward v2      %8.4f ms  %7.1f GB/s\n", ms, bytes / ms / 1e6);
    }
    ms = benchmark_kernel(repeats, weight_grad1, s, d_dw, (const float*)d_dout, (const float*)d_in);
    printf("weight grad v1  %8.4f ms  %7.1f GB/s\n", ms, bytes / ms / 1e6);
    ms = benchmark_kernel(repeats, weight_grad2, s, d_dw, (const float*)d_dout, (const float*)d_in);
    printf("weight grad v2  %8.4f ms  %7.1f GB/s\n", ms, bytes / ms / 1e6);

    cudaCheck(cudaFree(d_in));
    cudaCheck(cudaFree(d_w));
    cudaCheck(cudaFree(d_dout));
    cudaCheck(cudaFree(d_out));
    cudaCheck(cudaFree(d_dw));
    cudaCheck(cudaFree(g_partial));
    free(in);
    free(w);
    free(dout);
    free(out_ref);
    free(dw_ref);
    return 0;
}
