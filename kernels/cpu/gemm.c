// gemm_f32 (gemm.h) over oneDNN's dnnl_sgemm, kept single-threaded.
//
// Why single-threaded: every caller cuts its GEMM into fixed chunks inside its
// own `omp parallel`, so results are bit-identical for any thread count; a
// GEMM that threads itself would change its blocking, and so its rounding,
// with the thread count, and its team would compete with ours for the cores.
//
// oneDNN (the OpenMP build Debian ships) runs a GEMM on one thread only when
// omp_in_parallel() is true, i.e. inside an *active* region (more than one
// thread). Our callers open a one-thread region when a pass is too small to
// share, and such a region is inactive: there oneDNN takes
// omp_get_max_threads() (all cores) and opens a nested team of its own
// (checked with a breakpoint on GOMP_parallel: num_threads=2 on this 2-core
// machine; libgomp's max-active-levels of 1 allows it, as the outer region is
// not active). So outside an active region the call runs in a one-thread
// region of ours whose task sets its own thread count to 1 first
// (omp_set_num_threads changes only the calling task's setting, which ends
// with that region): then oneDNN asks for one thread and opens no team.
//
// Failures: dnnl_sgemm checks its arguments (our callers pass shapes they
// have validated) and may fail to allocate its packing buffers. It may have
// accumulated part of the product into C by then (k blocks, beta scaling),
// so no retry or fallback could produce a correct C; and the op interface has
// no error path (a kernel cannot fail once its scratch is allocated). Any
// failure is therefore reported on stderr with the call's shape and the
// process aborts, as for any other broken invariant.
#include "gemm.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static dnnl_status_t dnnl_call(int trans_a, int trans_b, int m, int n, int k, float alpha,
                               const float* a, int lda, const float* b, int ldb, float beta,
                               float* c, int ldc) {
    return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                      beta, c, ldc);
}

// C = beta * C, the whole product when k == 0 (oneDNN 2.6 returns without
// touching C there, where BLAS scales it); beta == 0 writes zeros.
static void scale_c(int m, int n, float beta, float* c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float* cij = c + (long)i * ldc + j;
            *cij = beta == 0.0f ? 0.0f : beta * *cij;
        }
}

void gemm_f32(int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
              const float* b, int ldb, float beta, float* c, int ldc) {
    if (m == 0 || n == 0) return;  // nothing to write (negative sizes reach oneDNN's check)
    if (k == 0 && m > 0 && n > 0) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    dnnl_status_t status = dnnl_runtime_error;
    if (omp_in_parallel()) {
        status = dnnl_call(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
        #pragma omp parallel num_threads(1)
        {
            omp_set_num_threads(1);  // this region's task only: oneDNN then uses one thread
            status = dnnl_call(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }
    if (status == dnnl_success) return;
    fprintf(stderr,
            "hwnas: internal error: dnnl_sgemm failed (%s) for trans %d%d, m %d, n %d, k %d, "
            "lda %d, ldb %d, ldc %d\n",
            dnnl_status2str(status), trans_a, trans_b, m, n, k, lda, ldb, ldc);
    abort();
}
