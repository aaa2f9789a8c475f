// SGD with momentum / Nesterov / weight decay (torch.optim.SGD, dampening 0).
// The caller calls it only for tensors that received a gradient this step,
// which leaves the others (weights and momentum) untouched, as torch skips a
// parameter whose .grad is None.
#include "cpu_ops.h"
#include "../shared/sgd_body.h"

enum { SGD_PARALLEL_MIN = 32768 };  // elements below which one thread is faster

void sgd_update_cpu(const OpContext* ctx, float* param, float* momentum_buf, const float* grad,
                    size_t n, const SgdConfig* cfg, int apply_weight_decay) {
    int threads = n < SGD_PARALLEL_MIN || ctx->threads < 1 ? 1 : ctx->threads;
    float lr = cfg->lr, momentum = cfg->momentum;
    float weight_decay = apply_weight_decay ? cfg->weight_decay : 0.0f;
    int nesterov = cfg->nesterov;
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t i = 0; i < n; i++)
        sgd_update_element(&param[i], momentum_buf ? &momentum_buf[i] : NULL, grad[i], lr,
                           momentum, weight_decay, nesterov);
}
