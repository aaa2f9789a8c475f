// The machine's measured FP32 FMA peak, the denominator of every "fraction of
// peak" in bench/: each of N OpenMP threads runs independent chains of vector
// FMAs that never touch memory, with the widest FMA the running CPU has
// (AVX-512, else AVX2+FMA; chosen at run time, not by the build machine).
// Prints one line: peak_fma isa=avx512 threads=2 gflops=372.1
//
// usage: peak_fma [threads]   (default: OpenMP's count)
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"

enum {
    CHAINS = 16,          // independent accumulators: covers 2 FMA ports x 4-cycle latency twice over
    ITERATIONS = 1 << 22, // per timed round and thread (about 0.1 s at 5 GHz)
    ROUNDS = 5,           // best of
};

// FLOPs done by one call: CHAINS x lanes x 2 per FMA x ITERATIONS.
__attribute__((target("avx512f"))) static float run_avx512(float seed) {
    __m512 acc[CHAINS];
    __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(seed * 1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(seed + (float)c);
    for (long i = 0; i < ITERATIONS; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
    __m512 sum = acc[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm512_add_ps(sum, acc[c]);
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) static float run_avx2(float seed) {
    __m256 acc[CHAINS];
    __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(seed * 1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(seed + (float)c);
    for (long i = 0; i < ITERATIONS; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
    __m256 sum = acc[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm256_add_ps(sum, acc[c]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[7];
}

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    if (threads < 1 || threads > 1024) {
        fprintf(stderr, "peak_fma: error: threads must be 1..1024, got '%s'\n", argv[1]);
        return 2;
    }
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        fprintf(stderr, "peak_fma: error: this CPU has neither AVX-512 nor AVX2+FMA\n");
        return 1;
    }
    int lanes = avx512 ? 16 : 8;
    double best = 1e30;
    volatile float sink = 0;  // a store the compiler must keep, and so the chains
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = clock_seconds();
        float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
        total += avx512 ? run_avx512((float)omp_get_thread_num()) : run_avx2((float)omp_get_thread_num());
        double dt = clock_seconds() - t0;
        sink += total;
        if (dt < best) best = dt;
    }
    double flops = (double)threads * ITERATIONS * CHAINS * lanes * 2.0;
    printf("peak_fma isa=%s threads=%d gflops=%.1f\n", avx512 ? "avx512" : "avx2", threads, flops / best * 1e-9);
    return 0;
}
