// Label-smoothed softmax cross-entropy bodies shared by the CPU and CUDA
// backends. With q = (1 - s) * onehot(label) + s / classes, a row's max m and
// log_sum = log(sum_k exp(x_k - m)) (so log-sum-exp = m + log_sum):
//   loss = -sum_k q_k log p_k,   log p_k = (x_k - m) - log_sum
//        = (1 - s) * (m - x_label) + (s / classes) * sum_k (m - x_k) + log_sum
//   d loss / d x_k = p_k - q_k.
// Why m and log_sum rather than the log-sum-exp itself: for logits ~100 the
// float log-sum-exp carries an absolute error of ~1e-5, which exp() turns into
// a relative error of p; (x_k - m) is exact and log_sum is small. Every
// (m - x_k) is >= 0, so the smoothing sum has no cancellation.
#ifndef HWNAS_LOSS_BODY_H
#define HWNAS_LOSS_BODY_H

#include "hostdevice.h"

// Row loss from its max, log_sum, its label's logit and sum_gap = sum_k (m - x_k).
HD_INLINE float cross_entropy_row_loss(float max, float log_sum, float x_label, double sum_gap,
                                       int classes, float smoothing) {
    double s = smoothing;
    double nll_label = (double)max - (double)x_label;
    return (float)((1.0 - s) * nll_label + s * sum_gap / classes + (double)log_sum);
}

// One logit's gradient, already divided by the batch (mean reduction).
HD_INLINE float cross_entropy_grad(float x, float max, float log_sum, int is_label, int classes,
                                   float smoothing, float inv_batch) {
    float q = smoothing / (float)classes + (is_label ? 1.0f - smoothing : 0.0f);
    return (expf((x - max) - log_sum) - q) * inv_batch;
}

HD_INLINE float cross_entropy_row_max(const float* row, int classes) {
    float max = row[0];
    for (int k = 1; k < classes; k++) max = row[k] > max ? row[k] : max;
    return max;
}

// log(sum_k exp(x_k - max)), summed in double (1000 classes); max subtracted
// first so large logits never overflow.
HD_INLINE float cross_entropy_row_log_sum(const float* row, int classes, float max) {
    double sum_exp = 0.0;
    for (int k = 0; k < classes; k++) sum_exp += (double)expf(row[k] - max);
    return (float)log(sum_exp);
}

// The whole row: returns its loss and, when drow is not NULL, writes its
// gradient (divided by the batch).
HD_INLINE float cross_entropy_row(const float* row, int label, int classes, float smoothing,
                                  float* drow, float inv_batch) {
    float max = cross_entropy_row_max(row, classes);
    float log_sum = cross_entropy_row_log_sum(row, classes, max);
    double sum_gap = 0.0;
    for (int k = 0; k < classes; k++) sum_gap += (double)max - (double)row[k];
    if (drow)
        for (int k = 0; k < classes; k++)
            drow[k] = cross_entropy_grad(row[k], max, log_sum, k == label, classes, smoothing,
                                         inv_batch);
    return cross_entropy_row_loss(max, log_sum, row[label], sum_gap, classes, smoothing);
}

// Rank of the label's logit in its row: how many logits beat it, counting a
// tie as a win for the lower index (torch.topk's CPU order). The label is in
// the top k when its rank is < k.
HD_INLINE int topk_label_rank(const float* row, int label, int classes) {
    float v = row[label];
    int rank = 0;
    for (int k = 0; k < classes; k++) rank += row[k] > v || (row[k] == v && k < label);
    return rank;
}

#endif
