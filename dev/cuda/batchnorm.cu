/*
Kernels for the BatchNorm per-channel reductions over rows = N*H*W (NHWC): the
training statistics (shifted sums of x and x^2, shift = the channel's first
value, as kernels/shared/batchnorm_body.h expects) and the backward sums
(dy and dy * (x - mean)). Validated against a CPU double reference, then
benchmarked. All versions are deterministic (no atomics).

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/batchnorm.cu -o batchnorm

Run: ./batchnorm [rows] [channels]

version 1: one thread per channel over all rows (coalesced across channels,
    but only C threads: the GPU idles for small C)
version 2: rows split into chunks; block (32 channels, 32 row lanes); the 32
    partials of a channel transposed through shared memory and reduced by one
    warp with shuffles; double partials per chunk; a second pass adds the
    chunks in order (what kernels/cuda/reduce.cuh does)
version 3: one block (32 channels, 32 row lanes) per channel group over all
    rows, same in-block reduction, no second pass and no scratch (few blocks:
    wins only when rows are few)
*/
#include "common.h"

// Two sums per channel: kind 0 = moments (x - shift, (x - shift)^2),
// kind 1 = gradient (dy, dy * (x - mean)).
struct Input {
    const float *x, *dy, *mean;
    int rows, channels, kind;
};

__host__ __device__ inline void term(const Input& in, int r, int c, double* a, double* b) {
    size_t at = (size_t)r * in.channels + c;
    if (in.kind == 0) {
        double v = (double)in.x[at] - (double)in.x[c];
        *a = v;
        *b = v * v;
    } else {
        double g = in.dy[at];
        *a = g;
        *b = g * ((double)in.x[at] - (double)in.mean[c]);
    }
}

static void sums_cpu(const Input& in, float* out) {  // out[2][channels]
    for (int c = 0; c < in.channels; c++) {
        double sa = 0.0, sb = 0.0;
        for (int r = 0; r < in.rows; r++) {
            double a, b;
            term(in, r, c, &a, &b);
            sa += a;
            sb += b;
        }
        out[c] = (float)sa;
        out[in.channels + c] = (float)sb;
    }
}

// ---------------------------------------------------------------- version 1

__global__ void sums_kernel1(Input in, float* out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= in.channels) return;
    double sa = 0.0, sb = 0.0;
    for (int r = 0; r < in.rows; r++) {
        double a, b;
        term(in, r, c, &a, &b);
        sa += a;
        sb += b;
    }
    out[c] = (float)sa;
    out[in.channels + c] = (float)sb;
}

static void sums1(Input in, float* out) {
    LAUNCH_KERNEL(sums_kernel1, ceil_div(in.channels, 64), 64, 0, 0, in, out);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- versions 2 and 3

__device__ inline double warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Block (32, 32) over rows [r0, r1) of 32 channels; the sums of channel
// blockIdx.x*32 + threadIdx.y end in lane 0 of warp threadIdx.y.
__device__ void block_sums(const Input& in, int r0, int r1, double* a_out, double* b_out) {
    __shared__ double tile_a[32][33], tile_b[32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    double sa = 0.0, sb = 0.0;
    if (c < in.channels)
        for (int r = r0 + threadIdx.y; r < r1; r += 32) {
            double a, b;
            term(in, r, c, &a, &b);
            sa += a;
            sb += b;
        }
    tile_a[threadIdx.y][threadIdx.x] = sa;
    tile_b[threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    *a_out = warp_sum(tile_a[threadIdx.x][threadIdx.y]);
    *b_out = warp_sum(tile_b[threadIdx.x][threadIdx.y]);
}

__global__ void __launch_bounds__(1024)
    partials_kernel2(Input in, double* partial, int rows_per_chunk) {
    int r0 = blockIdx.y * rows_per_chunk, r1 = min(in.rows, r0 + rows_per_chunk);
    double a, b;
    block_sums(in, r0, r1, &a, &b);
    int c = blockIdx.x * 32 + threadIdx.y;
    if (threadIdx.x == 0 && c < in.channels) {
        double* p = partial + (size_t)blockIdx.y * 2 * in.channels;
        p[c] = a;
        p[in.channels + c] = b;
    }
}

__global__ void finish_kernel2(const double* partial, int chunks, int channels, float* out) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= 2 * channels) return;
    double s = 0.0;
    for (int ch = 0; ch < chunks; ch++) s += partial[(size_t)ch * 2 * channels + i];
    out[i] = (float)s;
}

static double* g_partial;  // scratch of version 2: up to 1024 chunks
static const int kMinChunk = 256;  // rows per chunk at least

static void sums2(Input in, float* out) {
    int chunks = ceil_div(in.rows, kMinChunk);
    if (chunks > 1024) chunks = 1024;
    int rows_per_chunk = ceil_div(in.rows, chunks);
    chunks = ceil_div(in.rows, rows_per_chunk);
    dim3 grid(ceil_div(in.channels, 32), chunks), block(32, 32);
    LAUNCH_KERNEL(partials_kernel2, grid, block, 0, 0, in, g_partial, rows_per_chunk);
    cudaCheck(cudaGetLastError());
    LAUNCH_KERNEL(finish_kernel2, ceil_div(2 * in.channels, 256), 256, 0, 0, g_partial, chunks,
                  in.channels, out);
    cudaCheck(cudaGetLastError());
}

__global__ void __launch_bounds__(1024) sums_kernel3(Input in, float* out) {
    double a, b;
    block_sums(in, 0, in.rows, &a, &b);
    int c = blockIdx.x * 32 + threadIdx.y;
    if (threadIdx.x == 0 && c < in.channels) {
        out[c] = (float)a;
        out[in.channels + c] = (float)b;
    }
}

static void sums3(Input in, float* out) {
    LAUNCH_KERNEL(sums_kernel3, ceil_div(in.channels, 32), dim3(32, 32), 0, 0, in, out);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- main

int main(int argc, char** argv) {
    require_device("batchnorm");
    int rows = argc > 1 ? atoi(argv[1]) : 128 * 28 * 28;
    int channels = argc > 2 ? atoi(argv[2]) : 96;
    printf("batchnorm sums: rows %d, channels %d\n", rows, channels);
    size_t n = (size_t)rows * channels;
    // Inputs with a large mean: the shifted sums must stay accurate.
    float* x = make_random_floats(n, 1, 99.0f, 101.0f);
    float* dy = make_random_floats(n, 2, -1.0f, 1.0f);
    float* mean = make_random_floats(channels, 3, 99.9f, 100.1f);
    float* ref = (float*)malloc(2 * (size_t)channels * sizeof(float));
    float *d_x = to_device(x, n), *d_dy = to_device(dy, n), *d_mean = to_device(mean, channels);
    float* d_out;
    cudaCheck(cudaMalloc(&d_out, 2 * channels * sizeof(float)));
    cudaCheck(cudaMalloc(&g_partial, (size_t)1024 * 2 * channels * sizeof(double)));

    typedef void (*SumsFn)(Input, float*);
    SumsFn versions[] = {sums1, sums2, sums3};
    const char* names[] = {"v1", "v2", "v3"};
    const char* kinds[] = {"moments", "gradient"};
    for (int kind = 0; kind < 2; kind++) {
        Input in = {x, dy, mean, rows, channels, kind};
        sums_cpu(in, ref);
        Input d_in = {d_x, d_dy, d_mean, rows, channels, kind};
        // Double sums on both sides, rounded to float once: equal up to the
        // float rounding of nearly equal doubles.
        for (int v = 0; v < 3; v++) {
            char label[64];
            snprintf(label, sizeof label, "%s %s", kinds[kind], names[v]);
            versions[v](d_in, d_out);
            validate_result(d_out, ref, label, 2 * channels, 1e-6f, 1e-6f);
        }
    }
    printf("all results match\n\n");

    double bytes = (double)n * sizeof(float) * 2;
    for (int kind = 0; kind < 2; kind++)
        for (int v = 0; v < 3; v++) {
            Input d_in = {d_x, d_dy, d_mean, rows, channels, kind};
            float ms = benchmark_kernel(20, versions[v], d_in, d_out);
            printf("%-8s %s  %8.4f ms  %7.1f GB/s\n", kinds[kind], names[v], ms, bytes / ms / 1e6);
        }

    cudaCheck(cudaFree(d_x));
    cudaCheck(cudaFree(d_dy));
    cudaCheck(cudaFree(d_mean));
    cudaCheck(cudaFree(d_out));
    cudaCheck(cudaFree(g_partial));
    free(x);
    free(dy);
    free(mean);
    free(ref);
    return 0;
}
