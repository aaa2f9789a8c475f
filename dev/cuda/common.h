// Helpers of the dev/cuda kernel experiments (as in llm.c's dev/cuda): error
// checks that exit (these are standalone tools, not library code), random
// inputs, validation against a CPU reference and event-timed benchmarks.
#ifndef HWNAS_DEV_CUDA_COMMON_H
#define HWNAS_DEV_CUDA_COMMON_H

#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void cuda_check_or_exit(cudaError_t e, const char* file, int line) {
    if (e != cudaSuccess) {
        fprintf(stderr, "[CUDA ERROR] at %s:%d: %s\n", file, line, cudaGetErrorString(e));
        exit(EXIT_FAILURE);
    }
}
#define cudaCheck(call) cuda_check_or_exit((call), __FILE__, __LINE__)

static inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

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

// Compares a device result with the CPU reference: |got - want| <= atol +
// rtol * |want|. Prints the worst element; exits on a mismatch.
static void validate_result(const float* device_result, const float* reference, const char* name,
                            size_t n, float atol, float rtol) {
    float* got = (float*)malloc(n * sizeof(float));
    cudaCheck(cudaMemcpy(got, device_result, n * sizeof(float), cudaMemcpyDeviceToHost));
    size_t bad = 0, worst = 0;
    double worst_ratio = 0.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)reference[i]);
        double tol = atol + rtol * fabs((double)reference[i]);
        if (!(err <= tol)) bad++;  // NaN counts as bad
        double ratio = tol > 0.0 ? err / tol : (err == 0.0 ? 0.0 : INFINITY);
        if (!(ratio <= worst_ratio)) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    printf("  %-28s worst err/tol %.3f at %zu (got %.7g want %.7g)\n", name, worst_ratio, worst,
           got[worst], reference[worst]);
    free(got);
    if (bad) {
        printf("  %s: %zu of %zu elements out of tolerance\n", name, bad, n);
        exit(EXIT_FAILURE);
    }
}

// Average milliseconds of `repeats` calls of kernel(args...), after one
// warm-up; the L2 cache is flushed before each call so every run reads from
// memory as it would inside a training step.
template <class Kernel, class... Args>
static float benchmark_kernel(int repeats, Kernel kernel, Args... args) {
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
    float total = 0.0f;
    for (int i = 0; i < repeats; i++) {
        cudaCheck(cudaMemset(flush, 0, (size_t)prop.l2CacheSize));
        cudaCheck(cudaEventRecord(start));
        kernel(args...);
        cudaCheck(cudaEventRecord(stop));
        cudaCheck(cudaEventSynchronize(stop));
        float ms = 0.0f;
        cudaCheck(cudaEventElapsedTime(&ms, start, stop));
        total += ms;
    }
    cudaCheck(cudaGetLastError());
    cudaCheck(cudaEventDestroy(start));
    cudaCheck(cudaEventDestroy(stop));
    cudaCheck(cudaFree(flush));
    return total / repeats;
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
