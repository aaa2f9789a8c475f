/*
Kernels for the channel ops of NHWC maps (channels innermost), with the index
maps of kernels/shared/channel_body.h (the ones the CPU backend uses): the
concat of a [rows][ca] and b [rows][cb] into [rows][ca+cb] and its backward,
the split; ShuffleNet's channel shuffle out[r][j*groups + g] =
in[r][g*(C/groups) + j]; and the residual add out = a + b. Data movement and
one float add: every version is bit-identical to the CPU reference
(tolerance 0). Validated, then benchmarked.

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/channel.cu -o channel

Run: ./channel [rows] [ca] [cb] [groups]   (the shuffle runs on ca + cb channels)

version 1: one thread per output element (a grid-stride loop beyond 32
    blocks per SM) through the shared index maps (what kernels/cuda/channel.cu
    runs)
version 2: concat and split move float4s when ca and cb are multiples of 4
    (a group of four never straddles a and b); the add moves float4s with a
    scalar tail; the shuffle takes one thread per (row, j), reading
    in[r][g*per + j] for every g (coalesced across j) and writing the
    `groups` contiguous outputs out[r][j*groups + g], one float2 when
    groups == 2 (ShuffleNetV2). Aligned pointers only; else version 1
*/
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "kernels/shared/channel_body.h"

// ---------------------------------------------------------------- CPU reference

static void concat_cpu(float* out, const float* a, const float* b, int rows, int ca, int cb) {
    for (size_t r = 0; r < (size_t)rows; r++) {
        memcpy(out + r * (ca + cb), a + r * ca, ca * sizeof(float));
        memcpy(out + r * (ca + cb) + ca, b + r * cb, cb * sizeof(float));
    }
}

static void split_cpu(float* da, float* db, const float* dout, int rows, int ca, int cb) {
    for (size_t r = 0; r < (size_t)rows; r++) {
        memcpy(da + r * ca, dout + r * (ca + cb), ca * sizeof(float));
        memcpy(db + r * cb, dout + r * (ca + cb) + ca, cb * sizeof(float));
    }
}

static void shuffle_cpu(float* out, const float* in, int rows, int channels, int groups) {
    for (size_t r = 0; r < (size_t)rows; r++)
        for (int c = 0; c < channels; c++)
            out[r * channels + c] = in[r * channels + channel_shuffle_source(c, channels, groups)];
}

// ---------------------------------------------------------------- version 1

__global__ void concat_kernel1(float* out, const float* a, const float* b, size_t n, int ca,
                               int cb) {
    GRID_STRIDE_LOOP(i, n) {
        size_t src;
        int from_b = concat_channels_source(i, ca, cb, &src);
        out[i] = from_b ? b[src] : a[src];
    }
}

// A NULL side is skipped.
__global__ void split_kernel1(float* da, float* db, const float* dout, size_t n, int ca, int cb) {
    GRID_STRIDE_LOOP(i, n) {
        size_t src;
        float* side = concat_channels_source(i, ca, cb, &src) ? db : da;
        if (side) side[src] = dout[i];
    }
}

__global__ void shuffle_kernel1(float* out, const float* in, size_t n, int channels, int groups) {
    GRID_STRIDE_LOOP(i, n) {
        size_t row = i / channels;
        int c = (int)(i - row * channels);
        out[i] = in[row * channels + channel_shuffle_source(c, channels, groups)];
    }
}

__global__ void add_kernel1(float* out, const float* a, const float* b, size_t n) {
    GRID_STRIDE_LOOP(i, n) out[i] = a[i] + b[i];
}

static void concat1(float* out, const float* a, const float* b, int rows, int ca, int cb) {
    size_t n = (size_t)rows * (ca + cb);
    LAUNCH_KERNEL(concat_kernel1, grid_stride_blocks(n, 256), 256, 0, 0, out, a, b, n, ca, cb);
    cudaCheck(cudaGetLastError());
}
static void split1(float* da, float* db, const float* dout, int rows, int ca, int cb) {
    size_t n = (size_t)rows * (ca + cb);
    LAUNCH_KERNEL(split_kernel1, grid_stride_blocks(n, 256), 256, 0, 0, da, db, dout, n, ca, cb);
    cudaCheck(cudaGetLastError());
}
static void shuffle1(float* out, const float* in, int rows, int channels, int groups) {
    size_t n = (size_t)rows * channels;
    LAUNCH_KERNEL(shuffle_kernel1, grid_stride_blocks(n, 256), 256, 0, 0, out, in, n, channels,
                  groups);
    cudaCheck(cudaGetLastError());
}
static void add1(float* out, const float* a, const float* b, size_t n) {
    LAUNCH_KERNEL(add_kernel1, grid_stride_blocks(n, 256), 256, 0, 0, out, a, b, n);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- version 2

// q counts float4s; element 4q and its three neighbours come from one side.
__global__ void concat_kernel2(float* out, const float* a, const float* b, size_t n4, int ca,
                               int cb) {
    GRID_STRIDE_LOOP(q, n4) {
        size_t src;
        int from_b = concat_channels_source(4 * q, ca, cb, &src);
        ((float4*)out)[q] = *(const float4*)((from_b ? b : a) + src);
    }
}

__global__ void split_kernel2(float* da, float* db, const float* dout, size_t n4, int ca, int cb) {
    GRID_STRIDE_LOOP(q, n4) {
        size_t src;
        float* side = concat_channels_source(4 * q, ca, cb, &src) ? db : da;
        if (side) *(float4*)(side + src) = ((const float4*)dout)[q];
    }
}

// channel_shuffle_source(j*groups + g) = g*per + j, read per input column j.
__global__ void shuffle_kernel2(float* out, const float* in, int rows, int channels, int groups) {
    int per = channels / groups;
    GRID_STRIDE_LOOP(t, (size_t)rows * per) {
        size_t r = t / per;
        int j = (int)(t - r * per);
        const float* x = in + r * channels + j;
        float* y = out + r * channels + (size_t)j * groups;
        if (groups == 2)
            *(float2*)y = make_float2(x[0], x[per]);
        else
            for (int g = 0; g < groups; g++) y[g] = x[(size_t)g * per];
    }
}

__global__ void add_kernel2(float* out, const float* a, const float* b, size_t n) {
    GRID_STRIDE_LOOP(q, n / 4) {
        float4 x = ((const float4*)a)[q], y = ((const float4*)b)[q];
        ((float4*)out)[q] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    }
    size_t t = n / 4 * 4 + (size_t)blockIdx.x * blockDim.x + threadIdx.x;  // the n % 4 tail
    if (t < n) out[t] = a[t] + b[t];
}

static bool aligned(const void* p, int bytes) { return (uintptr_t)p % (uintptr_t)bytes == 0; }

static void concat2(float* out, const float* a, const float* b, int rows, int ca, int cb) {
    if (ca % 4 || cb % 4 || !aligned(out, 16) || !aligned(a, 16) || !aligned(b, 16)) {
        concat1(out, a, b, rows, ca, cb);
        return;
    }
    size_t n4 = (size_t)rows * (ca + cb) / 4;
    LAUNCH_KERNEL(concat_kernel2, grid_stride_blocks(n4, 256), 256, 0, 0, out, a, b, n4, ca, cb);
    cudaCheck(cudaGetLastError());
}
static void split2(float* da, float* db, const float* dout, int rows, int ca, int cb) {
    if (ca % 4 || cb % 4 || !aligned(da, 16) || !aligned(db, 16) || !aligned(dout, 16)) {
        split1(da, db, dout, rows, ca, cb);
        return;
    }
    size_t n4 = (size_t)rows * (ca + cb) / 4;
    LAUNCH_KERNEL(split_kernel2, grid_stride_blocks(n4, 256), 256, 0, 0, da, db, dout, n4, ca, cb);
    cudaCheck(cudaGetLastError());
}
static void shuffle2(float* out, const float* in, int rows, int channels, int groups) {
    if (groups == 2 && !aligned(out, 8)) {
        shuffle1(out, in, rows, channels, groups);
        return;
    }
    size_t threads = (size_t)rows * (channels / groups);
    LAUNCH_KERNEL(shuffle_kernel2, grid_stride_blocks(threads, 256), 256, 0, 0, out, in, rows,
                  channels, groups);
    cudaCheck(cudaGetLastError());
}
static void add2(float* out, const float* a, const float* b, size_t n) {
    if (!aligned(out, 16) || !aligned(a, 16) || !aligned(b, 16)) {
        add1(out, a, b, n);
        return;
    }
    LAUNCH_KERNEL(add_kernel2, grid_stride_blocks(n / 4, 256), 256, 0, 0, out, a, b, n);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- main

typedef void (*ConcatFn)(float*, const float*, const float*, int, int, int);
typedef void (*SplitFn)(float*, float*, const float*, int, int, int);
typedef void (*ShuffleFn)(float*, const float*, int, int, int);
typedef void (*AddFn)(float*, const float*, const float*, size_t);
static const ConcatFn kConcat[] = {concat1, concat2};
static const SplitFn kSplit[] = {split1, split2};
static const ShuffleFn kShuffle[] = {shuffle1, shuffle2};
static const AddFn kAdd[] = {add1, add2};

struct Shape {
    int rows, ca, cb, groups;
};

// Device buffers: a [rows*ca], b [rows*cb], x and y [n] (dout, shuffle input,
// add inputs), out [n], da [rows*ca], db [rows*cb].
struct Buffers {
    float *a, *b, *x, *y, *out, *da, *db;
};

static Buffers make_buffers(Shape s, float** host) {  // host: a, b, x, y
    size_t na = (size_t)s.rows * s.ca, nb = (size_t)s.rows * s.cb, n = na + nb;
    host[0] = make_random_floats(na, 1, -1.0f, 1.0f);
    host[1] = make_random_floats(nb, 2, -1.0f, 1.0f);
    host[2] = make_random_floats(n, 3, -1.0f, 1.0f);
    host[3] = make_random_floats(n, 4, -1.0f, 1.0f);
    Buffers d;
    d.a = to_device(host[0], na);
    d.b = to_device(host[1], nb);
    d.x = to_device(host[2], n);
    d.y = to_device(host[3], n);
    cudaCheck(cudaMalloc(&d.out, n * sizeof(float)));
    cudaCheck(cudaMalloc(&d.da, na * sizeof(float)));
    cudaCheck(cudaMalloc(&d.db, nb * sizeof(float)));
    return d;
}

static void free_buffers(Buffers d, float** host) {
    float* dp[] = {d.a, d.b, d.x, d.y, d.out, d.da, d.db};
    for (int k = 0; k < 7; k++) cudaCheck(cudaFree(dp[k]));
    for (int k = 0; k < 4; k++) free(host[k]);
}

static void validate(Shape s) {
    int c = s.ca + s.cb;
    size_t na = (size_t)s.rows * s.ca, nb = (size_t)s.rows * s.cb, n = na + nb;
    printf("rows %d, ca %d, cb %d, groups %d (n %% 4 = %zu)\n", s.rows, s.ca, s.cb, s.groups,
           n % 4);
    float* h[4];
    Buffers d = make_buffers(s, h);
    float* ref = (float*)malloc(n * sizeof(float));
    float* ref_b = (float*)malloc(nb * sizeof(float));
    for (int v = 0; v < 2; v++) {
        char label[64];
        concat_cpu(ref, h[0], h[1], s.rows, s.ca, s.cb);
        poison(d.out, n);
        kConcat[v](d.out, d.a, d.b, s.rows, s.ca, s.cb);
        snprintf(label, sizeof label, "concat v%d", v + 1);
        validate_result(d.out, ref, label, n, 0.0f, 0.0f);
        split_cpu(ref, ref_b, h[2], s.rows, s.ca, s.cb);
        poison(d.da, na);
        poison(d.db, nb);
        kSplit[v](d.da, d.db, d.x, s.rows, s.ca, s.cb);
        snprintf(label, sizeof label, "split a v%d", v + 1);
        validate_result(d.da, ref, label, na, 0.0f, 0.0f);
        snprintf(label, sizeof label, "split b v%d", v + 1);
        validate_result(d.db, ref_b, label, nb, 0.0f, 0.0f);
        poison(d.da, na);
        kSplit[v](d.da, NULL, d.x, s.rows, s.ca, s.cb);
        snprintf(label, sizeof label, "split a only v%d", v + 1);
        validate_result(d.da, ref, label, na, 0.0f, 0.0f);
        shuffle_cpu(ref, h[2], s.rows, c, s.groups);
        poison(d.out, n);
        kShuffle[v](d.out, d.x, s.rows, c, s.groups);
        snprintf(label, sizeof label, "shuffle v%d", v + 1);
        validate_result(d.out, ref, label, n, 0.0f, 0.0f);
        for (size_t i = 0; i < n; i++) ref[i] = h[2][i] + h[3][i];
        poison(d.out, n);
        kAdd[v](d.out, d.x, d.y, n);
        snprintf(label, sizeof label, "add v%d", v + 1);
        validate_result(d.out, ref, label, n, 0.0f, 0.0f);
    }
    free_buffers(d, h);
    free(ref);
    free(ref_b);
}

int main(int argc, char** argv) {
    require_device("channel");
    Shape s;
    s.rows = argc > 1 ? atoi(argv[1]) : 64 * 28 * 28;
    s.ca = argc > 2 ? atoi(argv[2]) : 88;
    s.cb = argc > 3 ? atoi(argv[3]) : 88;
    s.groups = argc > 4 ? atoi(argv[4]) : 2;
    if (s.groups <= 0 || (s.ca + s.cb) % s.groups) {
        printf("groups %d must divide ca + cb = %d\n", s.groups, s.ca + s.cb);
        return EXIT_FAILURE;
    }
    Shape small[] = {{147, 7, 11, 2}, {5, 8, 4, 3}, {3, 58, 58, 4}};
    for (int k = 0; k < 3; k++) validate(small[k]);
    validate(s);
    printf("all results match\n\n");

    size_t n = (size_t)s.rows * (s.ca + s.cb);
    float* h[4];
    Buffers d = make_buffers(s, h);
    double mb = (double)n * sizeof(float) / 1e6;
    for (int v = 0; v < 2; v++) {
        float ms = benchmark_kernel(20, kConcat[v], d.out, d.a, d.b, s.rows, s.ca, s.cb);
        printf("concat   v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, 2 * mb / ms);
        ms = benchmark_kernel(20, kSplit[v], d.da, d.db, d.x, s.rows, s.ca, s.cb);
        printf("split    v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, 2 * mb / ms);
        ms = benchmark_kernel(20, kShuffle[v], d.out, d.x, s.rows, s.ca + s.cb, s.groups);
        printf("shuffle  v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, 2 * mb / ms);
        ms = benchmark_kernel(20, kAdd[v], d.out, d.x, d.y, n);
        printf("add      v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, 3 * mb / ms);
    }
    free_buffers(d, h);
    return 0;
}
