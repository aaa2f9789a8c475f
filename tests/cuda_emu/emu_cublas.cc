// cuda-emu's cuBLAS: handles and SGEMM as a test oracle. Arguments are
// checked when the call is made, with the statuses cuBLAS documents; the
// arithmetic runs later as work on the handle's stream, after checking that
// every matrix region it touches lies inside one device allocation (a stray
// operand becomes a sticky cudaErrorIllegalAddress, as on a GPU).
//
// Numerics: each element of op(A) op(B) is one float accumulator fed by
// fmaf in k order; then alpha * sum (+ beta * C unless beta is 0: C is not
// read then, so NaN or garbage there cannot leak). The math mode changes the
// inputs, so accidental reduced precision shows in results: TF32 mode rounds
// A and B to TF32, the deprecated TENSOR_OP mode to half (FAST_16F).
#include <cublas_v2.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <unordered_set>

#include "emu_internal.h"

struct cublasContext {
    cudaStream_t stream = 0;  // the legacy default stream until cublasSetStream
    cublasMath_t math = CUBLAS_DEFAULT_MATH;
    cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

namespace {

// The live handles, so that a destroyed or made-up handle is refused instead
// of being read (the registry a library handle needs; guarded by ApiLock).
std::unordered_set<const cublasContext*>& live_handles() {
    static std::unordered_set<const cublasContext*> handles;
    return handles;
}

bool handle_live(cublasHandle_t h) { return h && live_handles().count(h) != 0; }

// How the inputs are rounded before they are multiplied.
enum class InputRounding { kNone, kTf32, kHalf };

InputRounding rounding_of(cublasMath_t math) {
    int base = (int)math & ~(int)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base == CUBLAS_TF32_TENSOR_OP_MATH) return InputRounding::kTf32;
    if (base == CUBLAS_TENSOR_OP_MATH) return InputRounding::kHalf;
    return InputRounding::kNone;
}

// Keeps `bits` mantissa bits of a finite float, rounding to nearest even;
// infinities and NaN pass unchanged (the bit trick would turn a NaN with
// only low payload bits into infinity).
float round_mantissa(float x, int bits) {
    if (!isfinite(x)) return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    int drop = 23 - bits;
    uint32_t half = (1u << (drop - 1)) - 1u;
    uint32_t lsb = (u >> drop) & 1u;
    u += half + lsb;
    u &= ~((1u << drop) - 1u);
    memcpy(&x, &u, sizeof u);
    return x;
}

// TF32: 8 exponent bits like fp32, 10 mantissa bits.
float round_to_tf32(float x) { return round_mantissa(x, 10); }

// IEEE half: 10 mantissa bits, largest finite 65504, subnormals below 2^-14
// in steps of 2^-24.
float round_to_half(float x) {
    if (!isfinite(x)) return x;
    float a = fabsf(x);
    if (a < 0x1p-14f) return nearbyintf(x * 0x1p24f) * 0x1p-24f;  // exact scaling, RNE
    float r = round_mantissa(x, 10);
    if (fabsf(r) > 65504.0f) return copysignf(INFINITY, x);
    return r;
}

float round_input(float x, InputRounding r) {
    switch (r) {
        case InputRounding::kTf32: return round_to_tf32(x);
        case InputRounding::kHalf: return round_to_half(x);
        case InputRounding::kNone: break;
    }
    return x;
}

bool op_valid(cublasOperation_t op) {
    return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

// One (possibly batched) SGEMM, everything captured by value at call time.
struct Gemm {
    const char* name;
    bool trans_a, trans_b;
    int m, n, k;
    float alpha, beta;
    const float* a;
    int lda;
    long long stride_a;
    const float* b;
    int ldb;
    long long stride_b;
    float* c;
    int ldc;
    long long stride_c;
    int batch;
    InputRounding rounding;

    // A and B are read only when there is a product to add.
    bool reads_ab() const { return alpha != 0.0f && k > 0; }
    float op_a(const float* a0, int i, int l) const {
        return trans_a ? a0[(size_t)i * lda + l] : a0[(size_t)l * lda + i];
    }
    float op_b(const float* b0, int l, int j) const {
        return trans_b ? b0[(size_t)l * ldb + j] : b0[(size_t)j * ldb + l];
    }
};

// Bytes from the first element of a column-major rows x cols matrix with
// leading dimension ld to the end of its last element.
size_t matrix_bytes(int rows, int cols, int ld) {
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * sizeof(float);
}

// Faults (and returns false) unless [p, p + bytes) is inside one allocation.
bool operand_ok(const Gemm& g, const char* operand, int index, const float* p, size_t bytes) {
    if (cuda_emu::device_range_ok(p, bytes)) return true;
    char which[48] = "";
    if (g.batch > 1) snprintf(which, sizeof which, " of matrix %d of the batch", index);
    cuda_emu::fault(cudaErrorIllegalAddress, "%s: %s (%zu bytes at %p%s) %s", g.name, operand,
                    bytes, (const void*)p, which, cuda_emu::describe_address(p, bytes).c_str());
    return false;
}

bool gemm_regions_ok(const Gemm& g) {
    size_t a_bytes = g.trans_a ? matrix_bytes(g.k, g.m, g.lda) : matrix_bytes(g.m, g.k, g.lda);
    size_t b_bytes = g.trans_b ? matrix_bytes(g.n, g.k, g.ldb) : matrix_bytes(g.k, g.n, g.ldb);
    for (int i = 0; i < g.batch; i++) {
        if (g.reads_ab()) {
            if (!operand_ok(g, "A", i, g.a + i * g.stride_a, a_bytes)) return false;
            if (!operand_ok(g, "B", i, g.b + i * g.stride_b, b_bytes)) return false;
        }
        if (!operand_ok(g, "C", i, g.c + i * g.stride_c, matrix_bytes(g.m, g.n, g.ldc)))
            return false;
    }
    return true;
}

// Element (row, col) of op(A) op(B) for batch matrix i: one float
// accumulator, fmaf in k order, inputs rounded as the math mode says.
float gemm_dot(const Gemm& g, int i, int row, int col) {
    const float* a = g.a + i * g.stride_a;
    const float* b = g.b + i * g.stride_b;
    float acc = 0.0f;
    for (int l = 0; l < g.k; l++)
        acc = fmaf(round_input(g.op_a(a, row, l), g.rounding),
                   round_input(g.op_b(b, l, col), g.rounding), acc);
    return acc;
}

// The stream work: every matrix checked first, then the products.
void gemm_execute(const Gemm& g) {
    if (!gemm_regions_ok(g)) return;
    for (int i = 0; i < g.batch; i++) {
        float* c = g.c + i * g.stride_c;
        for (int col = 0; col < g.n; col++)
            for (int row = 0; row < g.m; row++) {
                float* out = &c[(size_t)col * g.ldc + row];
                // beta == 0: C is output only, never read.
                float old = g.beta == 0.0f ? 0.0f : *out;
                if (!g.reads_ab()) {
                    *out = g.beta == 0.0f ? 0.0f : g.beta * old;
                    continue;
                }
                float product = g.alpha * gemm_dot(g, i, row, col);
                *out = g.beta == 0.0f ? product : product + g.beta * old;
            }
    }
}

// The checks cuBLAS documents for GEMM, in call order; CUBLAS_STATUS_SUCCESS
// when the call may go ahead.
cublasStatus_t gemm_check(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                          int m, int n, int k, const float* alpha, int lda, int ldb,
                          const float* beta, int ldc, int batch) {
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!op_valid(transa) || !op_valid(transb)) return CUBLAS_STATUS_INVALID_VALUE;
    if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    int a_rows = transa == CUBLAS_OP_N ? m : k;
    int b_rows = transb == CUBLAS_OP_N ? k : n;
    if (lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

// Checks, quick returns, then queues the work on the handle's stream.
cublasStatus_t gemm_submit(cublasHandle_t handle, Gemm g, const float* alpha, const float* beta,
                           cublasOperation_t transa, cublasOperation_t transb) {
    cublasStatus_t st = gemm_check(handle, transa, transb, g.m, g.n, g.k, alpha, g.lda, g.ldb, beta,
                                   g.ldc, g.batch);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    g.alpha = *alpha;  // host pointer mode: the values as of the call
    g.beta = *beta;
    if (g.m == 0 || g.n == 0 || g.batch == 0) return CUBLAS_STATUS_SUCCESS;
    if (!g.reads_ab() && g.beta == 1.0f) return CUBLAS_STATUS_SUCCESS;  // C stays as it is
    if (!g.c) return CUBLAS_STATUS_INVALID_VALUE;
    if (g.reads_ab() && (!g.a || !g.b)) return CUBLAS_STATUS_INVALID_VALUE;
    g.trans_a = transa != CUBLAS_OP_N;
    g.trans_b = transb != CUBLAS_OP_N;
    g.rounding = rounding_of(handle->math);
    cudaError_t e = cuda_emu::enqueue_work(handle->stream, g.name, [g]() { gemm_execute(g); });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

// ---------------------------------------------------------------- handles

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
    cuda_emu::ApiLock lock;
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = nullptr;
    // A context cannot be made on a device that has faulted.
    if (cuda_emu::sticky_error() != cudaSuccess) return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasContext* h = new cublasContext();
    live_handles().insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    // Work already queued captured what it needs, so it may outlive the handle.
    live_handles().erase(handle);
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion(cublasHandle_t handle, int* version) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!version) return CUBLAS_STATUS_INVALID_VALUE;
    *version = CUBLAS_VERSION;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    // A destroyed stream is a dangling handle on a GPU; refuse it here rather
    // than fail at the next GEMM.
    if (!cuda_emu::stream_valid(stream)) return CUBLAS_STATUS_INVALID_VALUE;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    int base = (int)mode & ~(int)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base < CUBLAS_DEFAULT_MATH || base > CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->math;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == CUBLAS_POINTER_MODE_DEVICE) return CUBLAS_STATUS_NOT_SUPPORTED;  // not emulated
    if (mode != CUBLAS_POINTER_MODE_HOST) return CUBLAS_STATUS_INVALID_VALUE;
    handle->pointer_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetPointerMode(cublasHandle_t handle, cublasPointerMode_t* mode) {
    cuda_emu::ApiLock lock;
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = handle->pointer_mode;
    return CUBLAS_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- GEMM

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
    cuda_emu::ApiLock lock;
    Gemm g = {};
    g.name = "cublasSgemm";
    g.m = m, g.n = n, g.k = k;
    g.a = A, g.lda = lda, g.b = B, g.ldb = ldb, g.c = C, g.ldc = ldc;
    g.batch = 1;
    return gemm_submit(handle, g, alpha, beta, transa, transb);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda,
                                         long long int strideA, const float* B, int ldb,
                                         long long int strideB, const float* beta, float* C,
                                         int ldc, long long int strideC, int batchCount) {
    cuda_emu::ApiLock lock;
    Gemm g = {};
    g.name = "cublasSgemmStridedBatched";
    g.m = m, g.n = n, g.k = k;
    g.a = A, g.lda = lda, g.stride_a = strideA;
    g.b = B, g.ldb = ldb, g.stride_b = strideB;
    g.c = C, g.ldc = ldc, g.stride_c = strideC;
    g.batch = batchCount;
    return gemm_submit(handle, g, alpha, beta, transa, transb);
}

// ---------------------------------------------------------------- status text

const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "the cuBLAS handle is not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "a cuBLAS resource allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "an argument has an invalid value";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "the device lacks a required feature";
        case CUBLAS_STATUS_MAPPING_ERROR: return "a GPU memory access failed";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal cuBLAS operation failed";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "the requested functionality is not supported";
        case CUBLAS_STATUS_LICENSE_ERROR: return "a license check failed";
    }
    return "unknown cuBLAS status";
}
