/*
Kernels for global average pooling of NHWC maps, out[n][c] = mean over the
hw pixels p of in[n][p][c], its backward din[n][p][c] = dout[n][c] / hw, and
the squeeze-excitation channel scale out = in * scale[n][c] with its backward
din = dout * scale and the gate gradient dscale[n][c] = sum over p of
dout * in (overwritten). Sums are doubles rounded to float once, as
kernels/cpu/pool.c does; no atomics, so every version is deterministic.
Validated against a CPU reference, then benchmarked.

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/pool.cu -o pool

Run: ./pool [batch] [hw] [channels]

version 1: one thread per (n, c) looping over the hw pixels in order for the
    sums, one thread per element for the broadcasts, grid-stride loops (what
    kernels/cuda/pool.cu runs). Neighbouring threads are neighbouring
    channels, so loads coalesce; the sums run in the CPU's order, so results
    are bit-identical to it. Only batch * C threads for the sums: few when hw
    is large and C small (the early SE layers)
version 2: one block per image n and 32-channel tile: 32 channel lanes x 8
    pixel lanes, each warp reading 32 contiguous channels of one pixel; the 8
    pixel lanes' double partials added in lane order through shared memory
    (deterministic; another order than the CPU's, so within one float
    rounding). The broadcasts load scale or dout once per (n, c), and the SE
    backward computes din and dscale in one pass (dout read once, not twice)
*/
#include "common.h"

// ---------------------------------------------------------------- CPU reference

static void pool_forward_cpu(float* out, const float* in, int batch, int hw, int channels) {
    for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++) {
            double sum = 0.0;
            for (int p = 0; p < hw; p++) sum += in[((size_t)b * hw + p) * channels + c];
            out[(size_t)b * channels + c] = (float)(sum * (1.0 / hw));
        }
}

// Scale forward (dout = NULL) or backward (din and dscale from dout).
static void scale_cpu(float* out, float* dscale, const float* dout, const float* in,
                      const float* scale, int batch, int hw, int channels) {
    for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++) {
            float s = scale[(size_t)b * channels + c];
            double sum = 0.0;
            for (int p = 0; p < hw; p++) {
                size_t k = ((size_t)b * hw + p) * channels + c;
                if (!dout) {
                    out[k] = in[k] * s;
                    continue;
                }
                sum += (double)dout[k] * (double)in[k];
                out[k] = dout[k] * s;
            }
            if (dout) dscale[(size_t)b * channels + c] = (float)sum;
        }
}

// ---------------------------------------------------------------- version 1

__global__ void pool_forward_kernel1(float* out, const float* in, int batch, int hw, int channels) {
    GRID_STRIDE_LOOP(i, (size_t)batch * channels) {
        size_t b = i / channels, c = i - b * channels;
        const float* src = in + b * hw * channels + c;
        double sum = 0.0;
        for (int p = 0; p < hw; p++) sum += (double)src[(size_t)p * channels];
        out[i] = (float)(sum * (1.0 / (double)hw));
    }
}

__global__ void pool_backward_kernel1(float* din, const float* dout, int hw, int channels,
                                      size_t n) {
    float inv_hw = (float)(1.0 / hw);
    GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / channels, c = i - pixel * channels;
        din[i] = dout[pixel / hw * channels + c] * inv_hw;
    }
}

// out = a * scale[n][c]: the scale forward (a = in) and input gradient (a = dout).
__global__ void scale_kernel1(float* out, const float* a, const float* scale, int hw,
                              int channels, size_t n) {
    GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / channels, c = i - pixel * channels;
        out[i] = a[i] * scale[pixel / hw * channels + c];
    }
}

__global__ void scale_grad_kernel1(float* dscale, const float* dout, const float* in, int batch,
                                   int hw, int channels) {
    GRID_STRIDE_LOOP(i, (size_t)batch * channels) {
        size_t b = i / channels, c = i - b * channels;
        size_t base = b * hw * channels + c;
        double sum = 0.0;
        for (int p = 0; p < hw; p++) {
            size_t k = base + (size_t)p * channels;
            sum += (double)dout[k] * (double)in[k];
        }
        dscale[i] = (float)sum;
    }
}

// ---------------------------------------------------------------- version 2

// Block (32, 8) over image blockIdx.y, channel blockIdx.x * 32 + threadIdx.x:
// the pixel lanes' partials added in lane order; the total is in lane y = 0.
__device__ double add_pixel_lanes(double partial) {
    __shared__ double tile[8][32];
    tile[threadIdx.y][threadIdx.x] = partial;
    __syncthreads();
    double sum = 0.0;
    if (threadIdx.y == 0)
        for (int k = 0; k < 8; k++) sum += tile[k][threadIdx.x];
    return sum;
}

__global__ void pool_forward_kernel2(float* out, const float* in, int hw, int channels) {
    int b = blockIdx.y, c = blockIdx.x * 32 + threadIdx.x;
    double sum = 0.0;
    if (c < channels)
        for (int p = threadIdx.y; p < hw; p += 8)
            sum += (double)in[((size_t)b * hw + p) * channels + c];
    sum = add_pixel_lanes(sum);
    if (threadIdx.y == 0 && c < channels)
        out[(size_t)b * channels + c] = (float)(sum * (1.0 / (double)hw));
}

__global__ void pool_backward_kernel2(float* din, const float* dout, int hw, int channels) {
    int b = blockIdx.y, c = blockIdx.x * 32 + threadIdx.x;
    if (c >= channels) return;
    float g = dout[(size_t)b * channels + c] * (float)(1.0 / hw);
    for (int p = threadIdx.y; p < hw; p += 8) din[((size_t)b * hw + p) * channels + c] = g;
}

__global__ void scale_forward_kernel2(float* out, const float* in, const float* scale, int hw,
                                      int channels) {
    int b = blockIdx.y, c = blockIdx.x * 32 + threadIdx.x;
    if (c >= channels) return;
    float s = scale[(size_t)b * channels + c];
    for (int p = threadIdx.y; p < hw; p += 8) {
        size_t k = ((size_t)b * hw + p) * channels + c;
        out[k] = in[k] * s;
    }
}

// din may alias dout: each element is read before it is written, by the same thread.
__global__ void scale_backward_kernel2(float* din, float* dscale, const float* dout,
                                       const float* in, const float* scale, int hw, int channels) {
    int b = blockIdx.y, c = blockIdx.x * 32 + threadIdx.x;
    double sum = 0.0;
    if (c < channels) {
        float s = scale[(size_t)b * channels + c];
        for (int p = threadIdx.y; p < hw; p += 8) {
            size_t k = ((size_t)b * hw + p) * channels + c;
            float g = dout[k];
            if (dscale) sum += (double)g * (double)in[k];
            if (din) din[k] = g * s;
        }
    }
    sum = add_pixel_lanes(sum);
    if (dscale && threadIdx.y == 0 && c < channels) dscale[(size_t)b * channels + c] = (float)sum;
}

// ---------------------------------------------------------------- launchers

struct Shape {
    int batch, hw, channels;
    size_t n() const { return (size_t)batch * hw * channels; }
    size_t bc() const { return (size_t)batch * channels; }
    dim3 grid2() const { return dim3(ceil_div(channels, 32), batch); }
};

static void pool_forward1(Shape s, float* out, const float* in) {
    LAUNCH_KERNEL(pool_forward_kernel1, grid_stride_blocks(s.bc(), 128), 128, 0, 0, out, in,
                  s.batch, s.hw, s.channels);
    cudaCheck(cudaGetLastError());
}
static void pool_forward2(Shape s, float* out, const float* in) {
    LAUNCH_KERNEL(pool_forward_kernel2, s.grid2(), dim3(32, 8), 0, 0, out, in, s.hw, s.channels);
    cudaCheck(cudaGetLastError());
}
static void pool_backward1(Shape s, float* din, const float* dout) {
    LAUNCH_KERNEL(pool_backward_kernel1, grid_stride_blocks(s.n(), 256), 256, 0, 0, din, dout, s.hw,
                  s.channels, s.n());
    cudaCheck(cudaGetLastError());
}
static void pool_backward2(Shape s, float* din, const float* dout) {
    LAUNCH_KERNEL(pool_backward_kernel2, s.grid2(), dim3(32, 8), 0, 0, din, dout, s.hw, s.channels);
    cudaCheck(cudaGetLastError());
}
static void scale_forward1(Shape s, float* out, const float* in, const float* scale) {
    LAUNCH_KERNEL(scale_kernel1, grid_stride_blocks(s.n(), 256), 256, 0, 0, out, in, scale, s.hw,
                  s.channels, s.n());
    cudaCheck(cudaGetLastError());
}
static void scale_forward2(Shape s, float* out, const float* in, const float* scale) {
    LAUNCH_KERNEL(scale_forward_kernel2, s.grid2(), dim3(32, 8), 0, 0, out, in, scale, s.hw,
                  s.channels);
    cudaCheck(cudaGetLastError());
}
// As kernels/cuda/pool.cu: dscale first (din may alias dout), then din.
static void scale_backward1(Shape s, float* din, float* dscale, const float* dout,
                            const float* in, const float* scale) {
    LAUNCH_KERNEL(scale_grad_kernel1, grid_stride_blocks(s.bc(), 128), 128, 0, 0, dscale, dout, in,
                  s.batch, s.hw, s.channels);
    cudaCheck(cudaGetLastError());
    LAUNCH_KERNEL(scale_kernel1, grid_stride_blocks(s.n(), 256), 256, 0, 0, din, dout, scale, s.hw,
                  s.channels, s.n());
    cudaCheck(cudaGetLastError());
}
static void scale_backward2(Shape s, float* din, float* dscale, const float* dout,
                            const float* in, const float* scale) {
    LAUNCH_KERNEL(scale_backward_kernel2, s.grid2(), dim3(32, 8), 0, 0, din, dscale, dout, in,
                  scale, s.hw, s.channels);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- main

typedef void (*PoolFn)(Shape, float*, const float*);
typedef void (*ScaleFn)(Shape, float*, const float*, const float*);
typedef void (*ScaleBackFn)(Shape, float*, float*, const float*, const float*, const float*);
static const PoolFn kPoolForward[] = {pool_forward1, pool_forward2};
static const PoolFn kPoolBackward[] = {pool_backward1, pool_backward2};
static const ScaleFn kScaleForward[] = {scale_forward1, scale_forward2};
static const ScaleBackFn kScaleBackward[] = {scale_backward1, scale_backward2};

// Device buffers of one shape: in, dout, out [n]; pooled, scale, dscale
// [batch * channels].
struct Buffers {
    float *in, *dout, *out, *pooled, *scale, *dscale;
};

static Buffers make_buffers(Shape s, const float* in, const float* dout, const float* scale) {
    Buffers d;
    d.in = to_device(in, s.n());
    d.dout = to_device(dout, s.n());
    d.scale = to_device(scale, s.bc());
    cudaCheck(cudaMalloc(&d.out, s.n() * sizeof(float)));
    cudaCheck(cudaMalloc(&d.pooled, s.bc() * sizeof(float)));
    cudaCheck(cudaMalloc(&d.dscale, s.bc() * sizeof(float)));
    return d;
}

static void free_buffers(Buffers d) {
    float* dp[] = {d.in, d.dout, d.out, d.pooled, d.scale, d.dscale};
    for (int k = 0; k < 6; k++) cudaCheck(cudaFree(dp[k]));
}

// Tolerances: the broadcasts and products are one float operation on both
// sides: bit-identical (0). The sums: version 1 adds in the CPU's order
// (bit-identical); version 2 in another, and its double sum may round to the
// neighbouring float: atol 1e-10, rtol 2^-22 (two float ulps).
static void validate(Shape s) {
    printf("batch %d, hw %d, channels %d\n", s.batch, s.hw, s.channels);
    size_t n = s.n(), bc = s.bc();
    float* in = make_random_floats(n, 1, -1.0f, 1.0f);
    float* dout = make_random_floats(n, 2, -1.0f, 1.0f);
    float* scale = make_random_floats(bc, 3, 0.0f, 1.0f);
    float* ref = (float*)malloc(n * sizeof(float));
    float* ref_bc = (float*)malloc(bc * sizeof(float));
    Buffers d = make_buffers(s, in, dout, scale);
    float sum_rtol[] = {0.0f, 1.0f / (1 << 22)}, sum_atol[] = {0.0f, 1e-10f};
    for (int v = 0; v < 2; v++) {
        char label[64];
        pool_forward_cpu(ref_bc, in, s.batch, s.hw, s.channels);
        poison(d.pooled, bc);
        kPoolForward[v](s, d.pooled, d.in);
        snprintf(label, sizeof label, "pool forward v%d", v + 1);
        validate_result(d.pooled, ref_bc, label, bc, sum_atol[v], sum_rtol[v]);
        float inv_hw = (float)(1.0 / s.hw);
        for (size_t i = 0; i < n; i++)  // dout [batch][channels]: the first bc floats of dout
            ref[i] = dout[i / ((size_t)s.hw * s.channels) * s.channels + i % s.channels] * inv_hw;
        poison(d.out, n);
        kPoolBackward[v](s, d.out, d.dout);
        snprintf(label, sizeof label, "pool backward v%d", v + 1);
        validate_result(d.out, ref, label, n, 0.0f, 0.0f);
        scale_cpu(ref, NULL, NULL, in, scale, s.batch, s.hw, s.channels);
        poison(d.out, n);
        kScaleForward[v](s, d.out, d.in, d.scale);
        snprintf(label, sizeof label, "scale forward v%d", v + 1);
        validate_result(d.out, ref, label, n, 0.0f, 0.0f);
        scale_cpu(ref, ref_bc, dout, in, scale, s.batch, s.hw, s.channels);
        poison(d.out, n);
        poison(d.dscale, bc);
        kScaleBackward[v](s, d.out, d.dscale, d.dout, d.in, d.scale);
        snprintf(label, sizeof label, "scale backward din v%d", v + 1);
        validate_result(d.out, ref, label, n, 0.0f, 0.0f);
        snprintf(label, sizeof label, "scale backward dscale v%d", v + 1);
        validate_result(d.dscale, ref_bc, label, bc, sum_atol[v], sum_rtol[v]);
    }
    free_buffers(d);
    free(in);
    free(dout);
    free(scale);
    free(ref);
    free(ref_bc);
}

int main(int argc, char** argv) {
    require_device("pool");
    Shape s;
    s.batch = argc > 1 ? atoi(argv[1]) : 128;
    s.hw = argc > 2 ? atoi(argv[2]) : 28 * 28;
    s.channels = argc > 3 ? atoi(argv[3]) : 120;
    Shape small[] = {{3, 7 * 7, 19}, {2, 1, 7}, {1, 13 * 13, 45}};
    for (int k = 0; k < 3; k++) validate(small[k]);
    validate(s);
    printf("all results match\n\n");

    // GB/s of the bytes each op must move at least (the fused SE backward's
    // for both versions of it: dout and in read once, din written).
    size_t n = s.n(), bc = s.bc();
    float* in = make_random_floats(n, 1, -1.0f, 1.0f);
    float* scale = make_random_floats(bc, 3, 0.0f, 1.0f);
    Buffers d = make_buffers(s, in, in, scale);  // in doubles as dout
    double mb = (double)n * sizeof(float) / 1e6;
    for (int v = 0; v < 2; v++) {
        float ms = benchmark_kernel(20, kPoolForward[v], s, d.pooled, d.in);
        printf("pool forward    v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, mb / ms);
        ms = benchmark_kernel(20, kPoolBackward[v], s, d.out, d.dout);
        printf("pool backward   v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, mb / ms);
        ms = benchmark_kernel(20, kScaleForward[v], s, d.out, d.in, d.scale);
        printf("scale forward   v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, 2 * mb / ms);
        ms = benchmark_kernel(20, kScaleBackward[v], s, d.out, d.dscale, d.dout, d.in, d.scale);
        printf("scale backward  v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, 3 * mb / ms);
    }
    free_buffers(d);
    free(in);
    free(scale);
    return 0;
}
