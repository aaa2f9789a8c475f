// Pointwise (1x1) conv and linear through cuBLAS, plus the bias kernels dense
// conv2d shares.
//
// cuBLAS is column-major; our matrices are row-major. A row-major [r][c]
// buffer read column-major is its transpose [c][r] with leading dimension c,
// so each product below is written for the transposes:
//   forward   out = in W^T        <=>  out^T [out_f x rows] = W [out_f x in_f] in^T
//   input     din = dout W        <=>  din^T [in_f x rows]  = W^T dout^T
//   weight    dW += dout^T in     <=>  dW^T  [in_f x out_f] += in^T dout
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/reduce.cuh"

__global__ void bias_add_kernel(float* out, const float* bias, size_t n, int channels) {
    CUDA_GRID_STRIDE_LOOP(i, n) out[i] += bias[i % (size_t)channels];
}

void bias_add_cuda(CudaState* st, float* out, const float* bias, int rows, int channels) {
    size_t n = (size_t)rows * (size_t)channels;
    if (!bias || n == 0) return;
    LAUNCH_KERNEL(bias_add_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, out, bias, n,
                  channels);
    CUDA_CHECK_LAUNCH(st, "bias_add_kernel");
}

struct RowValue {  // term: dout[r][c]
    const float* x;
    int cols;
    __device__ double2 operator()(int r, int c) const {
        return make_double2((double)x[(size_t)r * cols + c], 0.0);
    }
};
struct AccumulateFloat {  // finish: out[c] += sum, rounded like the CPU backend
    float* out;
    __device__ void operator()(int c, double2 sum) const { out[c] += (float)sum.x; }
};

void bias_grad_accumulate_cuda(CudaState* st, float* dbias, const float* dout, int rows,
                               int channels) {
    if (!dbias) return;
    column_sums(st, RowValue{dout, channels}, AccumulateFloat{dbias}, rows, channels);
}

void linear_forward_cuda(const OpContext* ctx, float* out, const float* in, const float* weight,
                         const float* bias, int rows, int in_f, int out_f) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || rows <= 0 || out_f <= 0) return;
    if (in_f <= 0) {  // an empty product is zero
        size_t bytes = (size_t)rows * out_f * sizeof(float);
        if (CUDA_CHECK(st, cudaMemsetAsync(out, 0, bytes, st->compute))) return;
        bias_add_cuda(st, out, bias, rows, out_f);
        return;
    }
    const float one = 1.0f, zero = 0.0f;
    if (CUDA_CHECK(st, cublasSgemm(st->cublas, CUBLAS_OP_T, CUBLAS_OP_N, out_f, rows, in_f, &one,
                                   weight, in_f, in, in_f, &zero, out, out_f)))
        return;
    bias_add_cuda(st, out, bias, rows, out_f);
}

void linear_backward_cuda(const OpContext* ctx, float* din, float* dweight, float* dbias,
                          const float* dout, const float* in, const float* weight, int rows,
                          int in_f, int out_f) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || rows <= 0 || in_f <= 0) return;
    const float one = 1.0f, zero = 0.0f;
    if (out_f <= 0) {
        size_t bytes = (size_t)rows * in_f * sizeof(float);
        if (din) CUDA_CHECK(st, cudaMemsetAsync(din, 0, bytes, st->compute));
        return;
    }
    if (din && CUDA_CHECK(st, cublasSgemm(st->cublas, CUBLAS_OP_N, CUBLAS_OP_N, in_f, rows, out_f,
                                          &one, weight, in_f, dout, out_f, &zero, din, in_f)))
        return;
    if (dweight && CUDA_CHECK(st, cublasSgemm(st->cublas, CUBLAS_OP_N, CUBLAS_OP_T, in_f, out_f,
                                              rows, &one, in, in_f, dout, out_f, &one, dweight,
                                              in_f)))
        return;
    bias_grad_accumulate_cuda(st, dbias, dout, rows, out_f);
}
