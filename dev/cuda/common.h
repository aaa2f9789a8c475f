// Helpers of the dev/cuda kernel experiments (as in llm.c's dev/cuda): error
// checks that exit (these are standalone tools, not library code), random
// inputs, validation against a CPU reference and event-timed benchmarks.
// Kernels are launched with LAUNCH_KERNEL (kernels/cuda/launch.h), so the
// tools also build under the CUDA emulator of tests/cuda_emu; compile with
// -I. from the repository root.
//
// Environment:
//   DEV_CUDA_REPEATS=N  every benchmark_kernel call times N runs (a positive
//                       integer) instead of the count the tool asks for;
//                       DEV_CUDA_REPEATS=1 makes the timings a formality (the
//                       emulator runs each tool's validation this way).
#ifndef HWNAS_DEV_CUDA_COMMON_H
#define HWNAS_DEV_CUDA_COMMON_H

#include <cuda_runtime.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/launch.h"

static void cuda_check_or_exit(cudaError_t e, const char* file, int line) {
    if (e != cudaSuccess) {
        fprintf(stderr, "[CUDA ERROR] at %s:%d: %s\n", file, line, cudaGetErrorString(e));
        exit(EXIT_FAILURE);
    }
}
#define cudaCheck(call) cuda_check_or_exit((call), __FILE__, __LINE__)

static inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

// Blocks of a grid-stride loop over n items as kernels/cuda launches them
// (cuda_grid_for in kernels/cuda/cuda_common.h): one thread per item, but at
// most 32 blocks per SM.
static inline int grid_stride_blocks(size_t n, int block) {
    static int sm_count = 0;
    if (sm_count == 0) {
        int device;
        cudaCheck(cudaGetDevice(&device));
        cudaCheck(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
    }
    size_t blocks = (n + (size_t)block - 1) / (size_t)block, cap = (size_t)sm_count * 32;
    return (int)(blocks == 0 ? 1 : (blocks < cap ? blocks : cap));
}

#define GRID_STRIDE_LOOP(i, n)                                                     \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n); \
         i += (size_t)blockDim.x * gridDim.x)

// Uniform in [lo, hi), from a fixed xorshift stream (reproducible runs).
static float* make_random_floats(size_t n, unsigned long long seed, float lo, float hi) {
    float* v = (float*)malloc(n * sizeof(float));
    unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
    return v;
}

static float* to_device(const float* host, size_t n) {
    float* d;
    cudaCheck(cudaMalloc(&d, n * sizeof(float)));
    cudaCheck(cudaMemcpy(d, host, n * sizeof(float), cudaMemcpyHostToDevice));
    return d;
}

// Fills a device buffer with NaNs (all bits set) before a kernel writes it,
// so elements a kernel skips fail validation.
static inline void poison(float* device, size_t n) {
    cudaCheck(cudaMemset(device, 0xff, n * sizeof(float)));
}

// Compares a device result with the CPU reference: |got - want| <= atol +
// rtol * |want|. Prints the largest absolute error and the worst element
// (relative to its tolerance); exits on a mismatch.
static void validate_result(const float* device_result, const float* reference, const char* name,
                            size_t n, float atol, float rtol) {
    float* got = (float*)malloc(n * sizeof(float));
    cudaCheck(cudaMemcpy(got, device_result, n * sizeof(float), cudaMemcpyDeviceToHost));
    size_t bad = 0, worst = 0;
    double worst_ratio = 0.0, max_err = 0.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)reference[i]);
        if (!(err <= max_err)) max_err = err;
        double tol = atol + rtol * fabs((double)reference[i]);
        if (!(err <= tol)) bad++;  // NaN counts as bad
        double ratio = tol > 0.0 ? err / tol : (err == 0.0 ? 0.0 : INFINITY);
        if (!(ratio <= worst_ratio)) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    printf("  %-28s max abs err %.3g, worst err/tol %.3f at %zu (got %.9g want %.9g)\n", name,
           max_err, worst_ratio, worst, got[worst], reference[worst]);
    free(got);
    if (bad) {
        printf("  %s: %zu of %zu elements out of tolerance\n", name, bad, n);
        exit(EXIT_FAILURE);
    }
}

static inline int compare_floats(const void* a, const void* b) {
    float x = *(const float*)a, y = *(const float*)b;
    return (x > y) - (x < y);
}

// The number of timed runs of a benchmark: DEV_CUDA_REPEATS when set (see
// the top of this file), else the tool's own count. A malformed value exits
// rather than silently timing another count than the one asked for.
static int benchmark_repeats(int requested) {
    const char* text = getenv("DEV_CUDA_REPEATS");
    if (!text || !*text) return requested;
    char* end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || errno || v < 1 || v > 1000000) {  // 10^6: a sane bound for malloc
        fprintf(stderr, "DEV_CUDA_REPEATS=%s: expected an integer from 1 to 1000000\n", text);
        exit(EXIT_FAILURE);
    }
    return (int)v;
}

// Median milliseconds (cudaEvent) of `repeats` calls of kernel(args...)
// (or DEV_CUDA_REPEATS calls), after one warm-up; the L2 cache is flushed
// before each call so every run reads from memory as it would inside a
// training step. The median, not the mean: one preempted run does not move it.
template <class Kernel, class... Args>
static float benchmark_kernel(int repeats, Kernel kernel, Args... args) {
    repeats = benchmark_repeats(repeats);
    int device;
    cudaDeviceProp prop;
    cudaCheck(cudaGetDevice(&device));
    cudaCheck(cudaGetDeviceProperties(&prop, device));
    void* flush;
    cudaCheck(cudaMalloc(&flush, (size_t)prop.l2CacheSize));
    cudaEvent_t start, stop;
    cudaCheck(cudaEventCreate(&start));
    cudaCheck(cudaEventCreate(&stop));
    kernel(args...);
    float* runs = (float*)malloc((size_t)repeats * sizeof(float));
    for (int i = 0; i < repeats; i++) {
        cudaCheck(cudaMemset(flush, 0, (size_t)prop.l2CacheSize));
        cudaCheck(cudaEventRecord(start));
        kernel(args...);
        cudaCheck(cudaEventRecord(stop));
        cudaCheck(cudaEventSynchronize(stop));
        cudaCheck(cudaEventElapsedTime(&runs[i], start, stop));
    }
    cudaCheck(cudaGetLastError());
    cudaCheck(cudaEventDestroy(start));
    cudaCheck(cudaEventDestroy(stop));
    cudaCheck(cudaFree(flush));
    qsort(runs, (size_t)repeats, sizeof(float), compare_floats);
    float median = runs[repeats / 2];
    free(runs);
    return median;
}

// The device is optional at build time only: every tool starts with this.
static void require_device(const char* tool) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        printf("%s: no CUDA device found (%s): nothing was run\n", tool,
               e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        exit(77);
    }
}

#endif
