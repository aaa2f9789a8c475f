// Shared by every kernels/cuda/*.cu file: the CudaState layout, error checking
// of CUDA/cuBLAS/cuDNN calls, launch-size helpers (launches themselves are
// spelled LAUNCH_KERNEL, kernels/cuda/launch.h) and the per-family entry
// points gathered by ops_cuda.cu. CUDA C++ only (nvcc); C code sees
// cuda_context.h.
#ifndef HWNAS_CUDA_COMMON_H
#define HWNAS_CUDA_COMMON_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/cuda/cuda_context.h"
#include "kernels/cuda/launch.h"
#include "kernels/ops.h"

// cuDNN workspace: convolution algorithms needing more are not considered.
#define CUDA_CUDNN_WORKSPACE_BYTES ((size_t)64 << 20)
// Partial sums of the deterministic reductions (reduce.cuh), in doubles.
#define CUDA_REDUCE_SCRATCH_DOUBLES ((size_t)8 << 20)
// Per-channel intermediates (BatchNorm backward means), in floats.
#define CUDA_CHANNEL_BUF_FLOATS ((size_t)1 << 20)

struct ConvPlanCache;  // conv2d.cu

struct CudaState {
    int device;
    int sm_count;
    cudaStream_t compute;  // every op runs here, in order
    cudaStream_t copy;     // async batch uploads only
    cublasHandle_t cublas;
    cudnnHandle_t cudnn;   // NULL when cuDNN could not start (direct kernels then)
    void* cudnn_workspace;
    size_t cudnn_workspace_bytes;
    double* reduce_scratch;
    size_t reduce_scratch_doubles;
    float* channel_buf;
    size_t channel_buf_floats;
    cudaEvent_t upload_ready[CUDA_UPLOAD_SLOTS];
    cudaEvent_t upload_released[CUDA_UPLOAD_SLOTS];
    cudaEvent_t timer_begin, timer_end;  // Ops.timer_begin / timer_end_ms
    int l2_bytes;                        // the device's L2 cache size
    void* l2_flush;                      // Ops.flush_cache's buffer, made at its first call
    size_t l2_flush_bytes;
    unsigned l2_flushes;                 // flushes so far (the fill byte changes each time)
    struct ConvPlanCache* conv_plans;
    int direct_conv;  // testing: skip cuDNN
    int failed;
    char error[768];
};

// Records the first error (sticky) and prints it once; always returns -1.
int cuda_record_error(CudaState* st, const char* file, int line, const char* call,
                      const char* message);

// Status checks for the three libraries; 0 on success, else records and -1.
// A failed CUDA runtime call also clears the runtime's per-thread last error,
// so a later launch check does not report it a second time.
static inline int cuda_check_status(CudaState* st, cudaError_t e, const char* file, int line,
                                    const char* call) {
    if (e == cudaSuccess) return 0;
    (void)cudaGetLastError();
    return cuda_record_error(st, file, line, call, cudaGetErrorString(e));
}
static inline int cuda_check_status(CudaState* st, cublasStatus_t e, const char* file, int line,
                                    const char* call) {
    if (e == CUBLAS_STATUS_SUCCESS) return 0;
    return cuda_record_error(st, file, line, call, cublasGetStatusString(e));
}
static inline int cuda_check_status(CudaState* st, cudnnStatus_t e, const char* file, int line,
                                    const char* call) {
    if (e == CUDNN_STATUS_SUCCESS) return 0;
    return cuda_record_error(st, file, line, call, cudnnGetErrorString(e));
}

// CUDA_CHECK(st, call): evaluates a CUDA, cuBLAS or cuDNN call; 0 or -1.
#define CUDA_CHECK(st, call) cuda_check_status((st), (call), __FILE__, __LINE__, #call)
// After every kernel launch: catches bad launch configurations at once
// (faults inside kernels surface at the next synchronize).
#define CUDA_CHECK_LAUNCH(st, name) \
    cuda_check_status((st), cudaGetLastError(), __FILE__, __LINE__, "launch of " name)

// The state of an op call, or NULL when there is none or it has failed (the
// op then does nothing; synchronize reports the recorded error).
static inline CudaState* cuda_op_state(const OpContext* ctx) {
    CudaState* st = ctx ? (CudaState*)ctx->cuda : NULL;
    return (st && !st->failed) ? st : NULL;
}

// Blocks for a grid-stride loop over n items: enough to fill the GPU, capped
// so the grid size always fits an int.
static inline unsigned cuda_grid_for(const CudaState* st, size_t n, int block) {
    size_t blocks = (n + (size_t)block - 1) / (size_t)block;
    size_t cap = (size_t)(st->sm_count > 0 ? st->sm_count : 1) * 32;
    if (blocks > cap) blocks = cap;
    return (unsigned)(blocks ? blocks : 1);
}

#define CUDA_GRID_STRIDE_LOOP(i, n)                                                \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n); \
         i += (size_t)blockDim.x * gridDim.x)

// conv2d.cu owns the cuDNN plan cache.
void conv2d_plans_destroy(CudaState* st);

// ---- entry points: name_cuda for every op of kernels/op_list.h (documented
// there), gathered in ops_cuda.cu; each family lives in its own .cu file.
#define OP(RET, NAME, PARAMS) RET NAME##_cuda PARAMS;
#include "kernels/op_list.h"
#undef OP

// linear.cu, shared with conv2d.cu.
// dbias[c] += sum over rows of dout[r][c].
void bias_grad_accumulate_cuda(CudaState* st, float* dbias, const float* dout, int rows,
                               int channels);
// out[r][c] += bias[c].
void bias_add_cuda(CudaState* st, float* out, const float* bias, int rows, int channels);

#endif
