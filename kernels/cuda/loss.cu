// Label-smoothed softmax cross-entropy and top-1/top-5 counts on the GPU.
// One block per row: block-wide max, sum of exponentials and sum of
// (max - x_k) in double with fixed-order shuffle trees, then the row bodies
// the CPU runs (kernels/shared/loss_body.h). Row losses are summed for the
// batch mean by a single block in a fixed order, so the loss is bitwise
// reproducible. dev/cuda/loss.cu holds the kernel experiments.
#include <stdio.h>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/shared/loss_body.h"

#define LOSS_THREADS 256

// A label outside [0, classes) gives the row a NaN loss (so the mean shows
// it) and a gradient with no one-hot term.
__global__ void cross_entropy_rows_kernel(float* row_loss, float* dlogits, const float* logits,
                                          const int* labels, int classes, float smoothing,
                                          float inv_batch) {
    __shared__ double shared_d[32];
    __shared__ float shared_f[32];
    size_t b = blockIdx.x;
    const float* row = logits + b * (size_t)classes;
    float max = -INFINITY;
    for (int k = threadIdx.x; k < classes; k += blockDim.x) max = fmaxf(max, row[k]);
    max = block_max(max, shared_f);
    double sum_exp = 0.0;
    for (int k = threadIdx.x; k < classes; k += blockDim.x) sum_exp += (double)expf(row[k] - max);
    float log_sum = (float)log(block_sum(sum_exp, shared_d));
    double sum_gap = 0.0;
    for (int k = threadIdx.x; k < classes; k += blockDim.x) sum_gap += (double)max - (double)row[k];
    sum_gap = block_sum(sum_gap, shared_d);
    int label = labels[b];
    if (dlogits) {
        float* drow = dlogits + b * (size_t)classes;
        for (int k = threadIdx.x; k < classes; k += blockDim.x)
            drow[k] = cross_entropy_grad(row[k], max, log_sum, k == label, classes, smoothing,
                                         inv_batch);
    }
    if (threadIdx.x == 0)
        row_loss[b] = (label >= 0 && label < classes)
                          ? cross_entropy_row_loss(max, log_sum, row[label], sum_gap, classes,
                                                   smoothing)
                          : NAN;
}

// *loss = mean of the row losses (double sum, fixed order).
__global__ void cross_entropy_mean_kernel(float* loss, const float* row_loss, int batch) {
    __shared__ double shared_d[32];
    double sum = 0.0;
    for (int b = threadIdx.x; b < batch; b += blockDim.x) sum += (double)row_loss[b];
    sum = block_sum(sum, shared_d);
    if (threadIdx.x == 0) *loss = (float)(sum / batch);
}

// Rank of the label's logit (ties go to the lower index, as topk_label_rank);
// rows with an out-of-range label count as wrong.
__global__ void topk_correct_kernel(int* correct1, int* correct5, const float* logits,
                                    const int* labels, int classes) {
    __shared__ int shared_i[32];
    size_t b = blockIdx.x;
    const float* row = logits + b * (size_t)classes;
    int label = labels[b];
    if (label < 0 || label >= classes) return;  // whole block: label is uniform
    float v = row[label];
    int rank = 0;
    for (int k = threadIdx.x; k < classes; k += blockDim.x)
        rank += row[k] > v || (row[k] == v && k < label);
    rank = block_sum_int(rank, shared_i);
    // Integer atomics: the total does not depend on the order.
    if (threadIdx.x == 0) {
        if (correct1 && rank < 1) atomicAdd(correct1, 1);
        if (correct5 && rank < 5) atomicAdd(correct5, 1);
    }
}

void cross_entropy_forward_backward_cuda(const OpContext* ctx, float* loss, float* dlogits,
                                         const float* logits, const int* labels, int batch,
                                         int classes, float smoothing) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || batch <= 0 || classes <= 0) return;
    if ((size_t)batch > st->channel_buf_floats) {
        char msg[96];
        snprintf(msg, sizeof msg, "batch %d exceeds the row-loss buffer", batch);
        cuda_record_error(st, __FILE__, __LINE__, "cross_entropy", msg);
        return;
    }
    float* row_loss = st->channel_buf;
    LAUNCH_KERNEL(cross_entropy_rows_kernel, batch, LOSS_THREADS, 0, st->compute, row_loss, dlogits,
                  logits, labels, classes, smoothing, 1.0f / (float)batch);
    if (CUDA_CHECK_LAUNCH(st, "cross_entropy_rows_kernel")) return;
    LAUNCH_KERNEL(cross_entropy_mean_kernel, 1, LOSS_THREADS, 0, st->compute, loss, row_loss,
                  batch);
    CUDA_CHECK_LAUNCH(st, "cross_entropy_mean_kernel");
}

void topk_correct_cuda(const OpContext* ctx, int* correct1, int* correct5, const float* logits,
                       const int* labels, int batch, int classes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || (!correct1 && !correct5)) return;
    if (correct1 && CUDA_CHECK(st, cudaMemsetAsync(correct1, 0, sizeof(int), st->compute))) return;
    if (correct5 && CUDA_CHECK(st, cudaMemsetAsync(correct5, 0, sizeof(int), st->compute))) return;
    if (batch <= 0 || classes <= 0) return;
    LAUNCH_KERNEL(topk_correct_kernel, batch, 128, 0, st->compute, correct1, correct5, logits,
                  labels, classes);
    CUDA_CHECK_LAUNCH(st, "topk_correct_kernel");
}
