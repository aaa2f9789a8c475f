// Label-smoothed softmax cross-entropy (mean over the batch) and top-1/top-5
// counts. Rows are independent: each goes through the shared row bodies of
// kernels/shared/loss_body.h; the batch mean is summed in a fixed order.
#include "cpu_ops.h"
#include "../shared/loss_body.h"

enum {
    LOSS_PARALLEL_MIN = 32768,  // logits below which one thread is faster
    LOSS_MAX_RANGES = 64,
};

// Row losses are summed in double per contiguous range of rows, and the ranges
// in a fixed order, so the loss is bitwise reproducible for a thread count
// (an OpenMP reduction would combine threads in arrival order). Labels must be
// in [0, classes).
void cross_entropy_forward_backward_cpu(const OpContext* ctx, float* loss, float* dlogits,
                                        const float* logits, const int* labels, int batch,
                                        int classes, float smoothing) {
    int ranges = (long)batch * classes < LOSS_PARALLEL_MIN || ctx->threads < 1 ? 1 : ctx->threads;
    if (ranges > LOSS_MAX_RANGES) ranges = LOSS_MAX_RANGES;
    if (ranges > batch) ranges = batch;
    float inv_batch = 1.0f / (float)batch;
    double partial[LOSS_MAX_RANGES];
    #pragma omp parallel for num_threads(ranges) schedule(static, 1) if (ranges > 1)
    for (int t = 0; t < ranges; t++) {
        int b0 = (int)((long)batch * t / ranges), b1 = (int)((long)batch * (t + 1) / ranges);
        double sum = 0.0;
        for (int b = b0; b < b1; b++) {
            const float* row = logits + (size_t)b * classes;
            float* drow = dlogits ? dlogits + (size_t)b * classes : NULL;
            sum += cross_entropy_row(row, labels[b], classes, smoothing, drow, inv_batch);
        }
        partial[t] = sum;
    }
    double total = 0.0;
    for (int t = 0; t < ranges; t++) total += partial[t];
    *loss = (float)(total / batch);
}

void topk_correct_cpu(const OpContext* ctx, int* correct1, int* correct5, const float* logits,
                      const int* labels, int batch, int classes) {
    int top1 = 0, top5 = 0;
    for (int b = 0; b < batch; b++) {
        int rank = topk_label_rank(logits + (size_t)b * classes, labels[b], classes);
        top1 += rank < 1;
        top5 += rank < 5;
    }
    if (correct1) *correct1 = top1;
    if (correct5) *correct5 = top5;
}
