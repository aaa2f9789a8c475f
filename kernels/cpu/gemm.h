// The CPU backend's one GEMM: row-major single-precision C = alpha * op(A) *
// op(B) + beta * C through oneDNN's dnnl_sgemm, always on the calling thread
// alone. Callers do the threading (fixed chunks, one GEMM each, inside their
// own OpenMP region) so that results do not depend on the thread count.
#ifndef HWNAS_CPU_GEMM_H
#define HWNAS_CPU_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

// C[m][n] = alpha * op(A)[m][k] * op(B)[k][n] + beta * C, all row-major;
// op(A) is A (m x k, leading dimension lda) or, when trans_a, A^T with A
// k x m; likewise B. beta == 0 does not read C; k == 0 gives C = beta * C.
// Single-threaded whether or not the caller is inside an OpenMP parallel
// region (see gemm.c). A failure of oneDNN (out of memory) is reported on
// stderr and aborts.
void gemm_f32(int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
              const float* b, int ldb, float beta, float* c, int ldc);

#ifdef __cplusplus
}
#endif
#endif
