// SGD with momentum / Nesterov / weight decay: one fused elementwise pass per
// tensor, through the body the CPU runs (kernels/shared/sgd_body.h).
#include "kernels/cuda/cuda_common.h"
#include "kernels/shared/sgd_body.h"

__global__ void sgd_update_kernel(float* param, float* momentum_buf, const float* grad, size_t n,
                                  float lr, float momentum, float weight_decay, int nesterov) {
    CUDA_GRID_STRIDE_LOOP(i, n) {
        // momentum == 0 never touches the buffer (it may be NULL then).
        float* buf = momentum_buf ? momentum_buf + i : NULL;
        sgd_update_element(param + i, buf, grad[i], lr, momentum, weight_decay, nesterov);
    }
}

void sgd_update_cuda(const OpContext* ctx, float* param, float* momentum_buf, const float* grad,
                     size_t n, const SgdConfig* cfg, int apply_weight_decay) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || n == 0) return;
    float weight_decay = apply_weight_decay ? cfg->weight_decay : 0.0f;
    LAUNCH_KERNEL(sgd_update_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, param,
                  momentum_buf, grad, n, cfg->lr, cfg->momentum, weight_decay, cfg->nesterov);
    CUDA_CHECK_LAUNCH(st, "sgd_update_kernel");
}
