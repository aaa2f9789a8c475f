/*
Kernels for the elementwise activations (ReLU, ReLU6, h-swish, sigmoid,
h-sigmoid): forward out = act(in), backward din = dout * act'(in), through
kernels/shared/activation_body.h (the lines the CPU backend runs), and the
fused BatchNorm-apply + activation out = act(BN(in)) through
kernels/shared/batchnorm_body.h. Validated against a CPU reference built from
the same bodies, then benchmarked.

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/activation.cu -o activation

Run: ./activation [rows] [channels]

version 1: one thread per element (a grid-stride loop beyond 32 blocks per
    SM), the kind switched per element at run time (what
    kernels/cuda/activation.cu runs)
version 2: float4 loads and stores in a grid-stride loop, the kind a template
    parameter (ACTIVATION_DISPATCH folds the switch away), a scalar tail for
    n % 4; 16-byte aligned pointers only, else version 1. Same body, so
    bit-identical to version 1 (checked with tolerance 0)
version 3 (forward): out = act(BN(in)) in one pass from the per-channel mean,
    rstd, gamma and beta, the channel tracked incrementally (what
    kernels/cuda/batchnorm.cu's batchnorm_act_normalize_kernel runs); timed
    against BN apply then version 1 in place: the tensor is read and written
    once instead of twice
*/
#include <stdint.h>

#include "common.h"
#include "kernels/shared/batchnorm_body.h"  // and activation_body.h

static const Activation kActs[] = {ACT_RELU, ACT_RELU6, ACT_HSWISH, ACT_SIGMOID, ACT_HSIGMOID};
static const char* kActNames[] = {"relu", "relu6", "hswish", "sigmoid", "hsigmoid"};

struct Bn {
    const float *mean, *rstd, *gamma, *beta;  // [channels]
};

// ---------------------------------------------------------------- CPU reference

static void forward_cpu(Activation act, float* out, const float* in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = activation_apply(act, in[i]);
}

static void backward_cpu(Activation act, float* din, const float* dout, const float* in, size_t n) {
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * activation_derivative(act, in[i]);
}

static void bn_act_cpu(Activation act, float* out, const float* in, Bn bn, int rows, int channels) {
    for (size_t r = 0; r < (size_t)rows; r++)
        for (int c = 0; c < channels; c++) {
            size_t i = r * channels + c;
            out[i] = batchnorm_act_normalize(act, in[i], bn.mean[c], bn.rstd[c], bn.gamma[c],
                                             bn.beta[c]);
        }
}

// ---------------------------------------------------------------- version 1

__global__ void forward_kernel1(Activation act, float* out, const float* in, size_t n) {
    GRID_STRIDE_LOOP(i, n) out[i] = activation_apply(act, in[i]);
}

__global__ void backward_kernel1(Activation act, float* din, const float* dout, const float* in,
                                 size_t n) {
    GRID_STRIDE_LOOP(i, n) din[i] = dout[i] * activation_derivative(act, in[i]);
}

static void forward1(Activation act, float* out, const float* in, size_t n) {
    LAUNCH_KERNEL(forward_kernel1, grid_stride_blocks(n, 256), 256, 0, 0, act, out, in, n);
    cudaCheck(cudaGetLastError());
}

static void backward1(Activation act, float* din, const float* dout, const float* in, size_t n) {
    LAUNCH_KERNEL(backward_kernel1, grid_stride_blocks(n, 256), 256, 0, 0, act, din, dout, in, n);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- version 2

// The n % 4 tail (at most 3 elements) goes to the first threads of the grid.
template <Activation A>
__global__ void forward_kernel2(float* out, const float* in, size_t n) {
    GRID_STRIDE_LOOP(i, n / 4) {
        float4 x = ((const float4*)in)[i];
        ((float4*)out)[i] = make_float4(activation_apply(A, x.x), activation_apply(A, x.y),
                                        activation_apply(A, x.z), activation_apply(A, x.w));
    }
    size_t t = n / 4 * 4 + (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n) out[t] = activation_apply(A, in[t]);
}

template <Activation A>
__global__ void backward_kernel2(float* din, const float* dout, const float* in, size_t n) {
    GRID_STRIDE_LOOP(i, n / 4) {
        float4 x = ((const float4*)in)[i], g = ((const float4*)dout)[i];
        ((float4*)din)[i] =
            make_float4(g.x * activation_derivative(A, x.x), g.y * activation_derivative(A, x.y),
                        g.z * activation_derivative(A, x.z), g.w * activation_derivative(A, x.w));
    }
    size_t t = n / 4 * 4 + (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n) din[t] = dout[t] * activation_derivative(A, in[t]);
}

static bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

static void forward2(Activation act, float* out, const float* in, size_t n) {
    if (!aligned16(out) || !aligned16(in)) {
        forward1(act, out, in, n);
        return;
    }
    int blocks = grid_stride_blocks(n / 4, 256);
#define LAUNCH(kind) LAUNCH_KERNEL(forward_kernel2<kind>, blocks, 256, 0, 0, out, in, n)
    ACTIVATION_DISPATCH(act, LAUNCH);
#undef LAUNCH
    cudaCheck(cudaGetLastError());
}

static void backward2(Activation act, float* din, const float* dout, const float* in, size_t n) {
    if (!aligned16(din) || !aligned16(dout) || !aligned16(in)) {
        backward1(act, din, dout, in, n);
        return;
    }
    int blocks = grid_stride_blocks(n / 4, 256);
#define LAUNCH(kind) LAUNCH_KERNEL(backward_kernel2<kind>, blocks, 256, 0, 0, din, dout, in, n)
    ACTIVATION_DISPATCH(act, LAUNCH);
#undef LAUNCH
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- version 3

template <Activation A>
__global__ void bn_act_kernel3(float* out, const float* in, Bn bn, size_t n, int channels) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t stride = (size_t)blockDim.x * gridDim.x;
    int c = (int)(i % channels), c_step = (int)(stride % channels);
    for (; i < n; i += stride) {
        out[i] = batchnorm_act_normalize(A, in[i], bn.mean[c], bn.rstd[c], bn.gamma[c], bn.beta[c]);
        c += c_step;
        if (c >= channels) c -= channels;
    }
}

static void bn_act3(Activation act, float* out, const float* in, Bn bn, int rows, int channels) {
    size_t n = (size_t)rows * channels;
    int blocks = grid_stride_blocks(n, 256);
#define LAUNCH(kind) \
    LAUNCH_KERNEL(bn_act_kernel3<kind>, blocks, 256, 0, 0, out, in, bn, n, channels)
    ACTIVATION_DISPATCH(act, LAUNCH);
#undef LAUNCH
    cudaCheck(cudaGetLastError());
}

// The unfused baseline: BN apply (version 3 with ACT_NONE), then version 1 in place.
static void bn_then_act(Activation act, float* out, const float* in, Bn bn, int rows,
                        int channels) {
    bn_act3(ACT_NONE, out, in, bn, rows, channels);
    forward1(act, out, out, (size_t)rows * channels);
}

// ---------------------------------------------------------------- main

struct Buffers {
    float *in, *dout, *out, *din, *bn;  // bn: mean, rstd, gamma, beta, [channels] each
    Bn params(int channels) const {
        return {bn, bn + channels, bn + 2 * channels, bn + 3 * channels};
    }
};

static Buffers make_inputs(int rows, int channels, Buffers* host) {
    size_t n = (size_t)rows * channels;
    host->in = make_random_floats(n, 1, -8.0f, 8.0f);
    const float kinks[] = {-3.0f, 0.0f, 3.0f, 6.0f};  // the derivatives' conventions
    for (size_t i = 0; i < n; i += 97) host->in[i] = kinks[i / 97 % 4];
    host->dout = make_random_floats(n, 2, -1.0f, 1.0f);
    host->bn = make_random_floats(4 * (size_t)channels, 3, 0.5f, 2.0f);  // rstd, gamma > 0
    for (int c = 0; c < channels; c++) host->bn[c] -= 1.25f;               // mean
    for (int c = 0; c < channels; c++) host->bn[3 * channels + c] -= 1.25f;  // beta
    Buffers d = {to_device(host->in, n), to_device(host->dout, n), NULL, NULL,
                 to_device(host->bn, 4 * (size_t)channels)};
    cudaCheck(cudaMalloc(&d.out, n * sizeof(float)));
    cudaCheck(cudaMalloc(&d.din, n * sizeof(float)));
    host->out = (float*)malloc(n * sizeof(float));
    host->din = (float*)malloc(n * sizeof(float));
    return d;
}

static void free_buffers(Buffers d, Buffers h) {
    float* dp[] = {d.in, d.dout, d.out, d.din, d.bn};
    float* hp[] = {h.in, h.dout, h.out, h.din, h.bn};
    for (int k = 0; k < 5; k++) {
        cudaCheck(cudaFree(dp[k]));
        free(hp[k]);
    }
}

// Tolerances: exact is expected for relu, relu6 and h-sigmoid, but nvcc
// contracts a*b + c into an FMA (h-swish' = x/3 + 0.5, BN's (x-m)*r*g + b)
// where the host compiler does not, and CUDA's expf is within 2 ulp of
// glibc's: 1e-6 absolute + 1e-6 relative, as tests/gpu_parity.cc's kElement.
static void validate(int rows, int channels) {
    size_t n = (size_t)rows * channels;
    printf("rows %d, channels %d (n %% 4 = %zu)\n", rows, channels, n % 4);
    Buffers h, d = make_inputs(rows, channels, &h);
    for (int a = 0; a < 5; a++) {
        char label[64];
        Activation act = kActs[a];
        forward_cpu(act, h.out, h.in, n);
        backward_cpu(act, h.din, h.dout, h.in, n);
        poison(d.out, n);
        forward1(act, d.out, d.in, n);
        snprintf(label, sizeof label, "%s forward v1", kActNames[a]);
        validate_result(d.out, h.out, label, n, 1e-6f, 1e-6f);
        poison(d.din, n);
        backward1(act, d.din, d.dout, d.in, n);
        snprintf(label, sizeof label, "%s backward v1", kActNames[a]);
        validate_result(d.din, h.din, label, n, 1e-6f, 1e-6f);
        // Version 2 against version 1's results, bit for bit.
        cudaCheck(cudaMemcpy(h.out, d.out, n * sizeof(float), cudaMemcpyDeviceToHost));
        cudaCheck(cudaMemcpy(h.din, d.din, n * sizeof(float), cudaMemcpyDeviceToHost));
        poison(d.out, n);
        forward2(act, d.out, d.in, n);
        snprintf(label, sizeof label, "%s forward v2 = v1", kActNames[a]);
        validate_result(d.out, h.out, label, n, 0.0f, 0.0f);
        poison(d.din, n);
        backward2(act, d.din, d.dout, d.in, n);
        snprintf(label, sizeof label, "%s backward v2 = v1", kActNames[a]);
        validate_result(d.din, h.din, label, n, 0.0f, 0.0f);
        bn_act_cpu(act, h.out, h.in, h.params(channels), rows, channels);
        poison(d.out, n);
        bn_act3(act, d.out, d.in, d.params(channels), rows, channels);
        snprintf(label, sizeof label, "%s bn+act v3", kActNames[a]);
        validate_result(d.out, h.out, label, n, 1e-6f, 1e-6f);
    }
    free_buffers(d, h);
}

int main(int argc, char** argv) {
    require_device("activation");
    int rows = argc > 1 ? atoi(argv[1]) : 64 * 56 * 56;
    int channels = argc > 2 ? atoi(argv[2]) : 72;
    validate(3 * 7 * 7, 19);
    validate(1, 5);
    validate(rows, channels);
    printf("all results match\n\n");

    size_t n = (size_t)rows * channels;
    Buffers h, d = make_inputs(rows, channels, &h);
    Bn bn = d.params(channels);
    double mb = (double)n * sizeof(float) / 1e6;  // MB of one tensor
    for (int a = 0; a < 5; a++) {
        Activation act = kActs[a];
        float ms = benchmark_kernel(20, forward1, act, d.out, d.in, n);
        printf("%-8s forward  v1  %8.4f ms  %7.1f GB/s\n", kActNames[a], ms, 2 * mb / ms);
        ms = benchmark_kernel(20, forward2, act, d.out, d.in, n);
        printf("%-8s forward  v2  %8.4f ms  %7.1f GB/s\n", kActNames[a], ms, 2 * mb / ms);
        ms = benchmark_kernel(20, backward1, act, d.din, d.dout, d.in, n);
        printf("%-8s backward v1  %8.4f ms  %7.1f GB/s\n", kActNames[a], ms, 3 * mb / ms);
        ms = benchmark_kernel(20, backward2, act, d.din, d.dout, d.in, n);
        printf("%-8s backward v2  %8.4f ms  %7.1f GB/s\n", kActNames[a], ms, 3 * mb / ms);
        // GB/s of the fused op's own traffic (read once, write once) for both.
        ms = benchmark_kernel(20, bn_then_act, act, d.out, d.in, bn, rows, channels);
        printf("%-8s bn, act     %8.4f ms  %7.1f GB/s\n", kActNames[a], ms, 2 * mb / ms);
        ms = benchmark_kernel(20, bn_act3, act, d.out, d.in, bn, rows, channels);
        printf("%-8s bn+act v3   %8.4f ms  %7.1f GB/s\n", kActNames[a], ms, 2 * mb / ms);
    }
    free_buffers(d, h);
    return 0;
}
